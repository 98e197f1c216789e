/* test-json.c: the strict JSON reader and the text check */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "common/nlx-error.h"
#include "common/nlx-json.h"

static void
assert_refused (const char *data,
                gssize length,
                const char *reason)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = nlx_json_parse (data, length, &error);

  g_autofree char *head = g_strndup (data ? data : "", 60);
  g_autofree char *shown = g_strescape (head, NULL);

  g_test_message ("refusing %s", shown);
  g_assert_null (node);
  g_assert_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID);
  if (strstr (error->message, reason) == NULL)
    g_error ("“%s” does not say “%s”", error->message, reason);
}

static JsonNode *
assert_read (const char *data)
{
  g_autoptr(GError) error = NULL;
  JsonNode *node = nlx_json_parse (data, -1, &error);

  g_autofree char *head = g_strndup (data, 60);
  g_autofree char *shown = g_strescape (head, NULL);

  g_test_message ("reading %s", shown);
  g_assert_no_error (error);
  g_assert_nonnull (node);
  return node;
}

/* json-glib gives no root for these and reports success. */
static void
test_no_root (void)
{
  assert_refused ("", 0, "empty");
  assert_refused (NULL, 0, "empty");
  assert_refused ("   \n\t\r ", -1, "white space");
}

static void
test_one_value (void)
{
  /* json-glib reads the first and leaks the second. */
  assert_refused ("\"x\"{\"a\": 1}", -1, "more follows");
  assert_refused ("{\"a\": 1}{\"b\": 2}", -1, "more follows");
  assert_refused ("{\"a\": 1} x", -1, "more follows");
  assert_refused ("{\"a\": 1}\0", 9, "not UTF-8");
  g_autoptr(JsonNode) padded = assert_read (" \n{\"a\": 1}\r\n\t ");
}

static void
test_not_json (void)
{
  assert_refused ("{'a': 1}", -1, "member name");
  assert_refused ("{a: 1}", -1, "member name");
  assert_refused ("/* c */ {}", -1, "a value must be");
  assert_refused ("\xef\xbb\xbf{}", -1, "a value must be");
  assert_refused ("{\"a\": 0x10}", -1, "expected “,” or “}”");
  assert_refused ("{\"a\": 01}", -1, "may not start with 0");
  assert_refused ("{\"a\": -}", -1, "needs a digit");
  assert_refused ("{\"a\": 1.}", -1, "needs a digit");
  assert_refused ("{\"a\": 1e}", -1, "needs a digit");
  assert_refused ("{\"a\": NaN}", -1, "a value must be");
  assert_refused ("{\"a\": Infinity}", -1, "a value must be");
  assert_refused ("{\"a\": tru}", -1, "a value must be");
  assert_refused ("{\"a\": 1,}", -1, "member name");
  assert_refused ("[1,]", -1, "a value must be");
  assert_refused ("[1 2]", -1, "expected “,” or “]”");
  assert_refused ("{\"a\" 1}", -1, "expected “:”");
  assert_refused ("{\"a\": 1", -1, "not closed");
  assert_refused ("[1", -1, "not closed");
  assert_refused ("\"abc", -1, "not closed");
  assert_refused ("\"a\\qb\"", -1, "not a JSON escape");
  assert_refused ("\"a\\u12\"", -1, "four hexadecimal digits");
  assert_refused ("\"a\tb\"", -1, "raw control character");
  assert_refused ("\"a\x01" "b\"", -1, "raw control character");
}

static void
test_strings (void)
{
  g_autoptr(JsonNode) pair = assert_read ("\"a\\ud83d\\ude00b\\u00e9\\/\\n\"");

  g_assert_cmpstr (json_node_get_string (pair), ==, "a\xf0\x9f\x98\x80" "b\xc3\xa9/\n");
  /* json-glib cuts the string at \u0000 without a word. */
  assert_refused ("{\"a\": \"x\\u0000y\"}", -1, "\\u0000");
  /* json-glib turns these into bytes that are not UTF-8. */
  assert_refused ("{\"a\": \"a\\ud800b\"}", -1, "surrogate");
  assert_refused ("{\"a\": \"a\\udc00b\"}", -1, "surrogate");
  assert_refused ("{\"a\": \"\\ud800\\u0041\"}", -1, "surrogate");
  assert_refused ("{\"a\": \"\\ud800\"}", -1, "surrogate");
  assert_refused ("{\"a\": \"a\xff" "b\"}", -1, "not UTF-8");
  assert_refused ("{\"a\": \"a\xed\xa0\x80" "b\"}", -1, "not UTF-8");
  assert_refused ("{\"a\": \"a\xc0\xaf\"}", -1, "not UTF-8");
}

static void
test_numbers (void)
{
  g_autoptr(JsonNode) min = assert_read ("[-9223372036854775808, 9223372036854775807, "
                                         "-0, 0, 1.5e3, -2E-2, 1e308]");
  JsonArray *array = json_node_get_array (min);

  g_assert_cmpint (json_array_get_int_element (array, 0), ==, G_MININT64);
  g_assert_cmpint (json_array_get_int_element (array, 1), ==, G_MAXINT64);
  g_assert_cmpint (json_array_get_int_element (array, 2), ==, 0);
  g_assert_cmpfloat (json_array_get_double_element (array, 4), ==, 1500.0);
  /* json-glib wraps these silently. */
  assert_refused ("[9223372036854775808]", -1, "out of range");
  assert_refused ("[-9223372036854775809]", -1, "out of range");
  assert_refused ("{\"length\": 99999999999999999999}", -1, "out of range");
  assert_refused ("[1e999]", -1, "out of range");
  assert_refused ("[-1e999]", -1, "out of range");
}

static void
test_duplicates (void)
{
  g_autoptr(JsonNode) apart = assert_read ("{\"a\": {\"a\": 1}, \"b\": [{\"a\": 1}, {\"a\": 2}]}");

  assert_refused ("{\"a\": 1, \"a\": 2}", -1, "appears twice");
  /* The same name spelt two ways is still the same name. */
  assert_refused ("{\"a\": 1, \"\\u0061\": 2}", -1, "appears twice");
  assert_refused ("{\"x\": {\"k\": 1, \"k\": 1}}", -1, "appears twice");
}

/* json-glib recurses per level and a deep document overflows its stack. */
static void
test_depth (void)
{
  GString *deep = g_string_new (NULL);
  g_autofree char *text = NULL;
  g_autofree char *limit = NULL;
  g_autoptr(JsonNode) ok = NULL;

  for (guint i = 0; i < 100000; i++)
    g_string_append (deep, "[{\"a\":");
  text = g_string_free (deep, FALSE);
  assert_refused (text, -1, "nest deeper");

  deep = g_string_new (NULL);
  for (guint i = 0; i < NLX_JSON_MAX_DEPTH; i++)
    g_string_append_c (deep, '[');
  for (guint i = 0; i < NLX_JSON_MAX_DEPTH; i++)
    g_string_append_c (deep, ']');
  limit = g_string_free (deep, FALSE);
  ok = assert_read (limit);
  limit[NLX_JSON_MAX_DEPTH] = '\0';
  g_free (text);
  text = g_strconcat (limit, "[]", limit, NULL);
  memset (text + NLX_JSON_MAX_DEPTH + 2, ']', NLX_JSON_MAX_DEPTH);
  assert_refused (text, -1, "nest deeper");
}

static void
test_file (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("nlx-test-json-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "blank.json", NULL);
  g_autoptr(JsonNode) node = NULL;

  g_assert_no_error (error);
  g_assert_true (g_file_set_contents (path, "  \n", -1, &error));
  node = nlx_json_parse_file (path, &error);
  g_assert_null (node);
  g_assert_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, path));
  g_clear_error (&error);
  g_assert_cmpint (g_unlink (path), ==, 0);
  node = nlx_json_parse_file (path, &error);
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

static void
test_text (void)
{
  g_assert_true (nlx_json_text_is_valid ("web-1", 255));
  g_assert_true (nlx_json_text_is_valid ("caf\xc3\xa9 \xf0\x9f\x98\x80", 6));
  g_assert_false (nlx_json_text_is_valid ("caf\xc3\xa9 \xf0\x9f\x98\x80", 5));
  g_assert_false (nlx_json_text_is_valid (NULL, 255));
  g_assert_false (nlx_json_text_is_valid ("", 255));
  g_assert_false (nlx_json_text_is_valid ("a\nb", 255));
  g_assert_false (nlx_json_text_is_valid ("a\x1b[31m", 255));
  g_assert_false (nlx_json_text_is_valid ("a\x7f", 255));
  g_assert_false (nlx_json_text_is_valid ("a\xc2\x85", 255));      /* NEL, C1 */
  g_assert_false (nlx_json_text_is_valid ("a\xed\xa0\x80" "b", 255)); /* surrogate */
  g_assert_false (nlx_json_text_is_valid ("a\xff", 255));
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_summary ("The strict JSON reader and the text check.");
  g_test_add_func ("/nlx/json/no-root", test_no_root);
  g_test_add_func ("/nlx/json/one-value", test_one_value);
  g_test_add_func ("/nlx/json/not-json", test_not_json);
  g_test_add_func ("/nlx/json/strings", test_strings);
  g_test_add_func ("/nlx/json/numbers", test_numbers);
  g_test_add_func ("/nlx/json/duplicates", test_duplicates);
  g_test_add_func ("/nlx/json/depth", test_depth);
  g_test_add_func ("/nlx/json/file", test_file);
  g_test_add_func ("/nlx/json/text", test_text);
  return g_test_run ();
}
