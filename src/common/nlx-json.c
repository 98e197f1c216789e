/* nlx-json.c: strict JSON in, and the one check for text fields
 *
 * json-glib 1.6 reads far more than JSON: single quotes, comments, hex
 * and leading-zero numbers, integers past 64 bits (silently wrapped),
 * trailing values ("x"{...} parses as "x" and leaks the object), no
 * value at all (success with no root), \u0000 (which cuts the string
 * short) and lone UTF-16 surrogates (which it turns into bytes that are
 * not UTF-8 and that it then refuses to read back); it also recurses
 * once per nesting level, so a deep document overflows the stack.
 * Every document nova-lxc reads (requests, answers, records, the address
 * file, instance documents) is therefore checked against RFC 8259 here
 * first, without recursion past NLX_JSON_MAX_DEPTH, and only then handed
 * to json-glib, which builds the same tree it would for any JSON. */
#include "config.h"

#include <math.h>
#include <string.h>

#include <glib/gi18n-lib.h>

#include "common/nlx-error.h"
#include "common/nlx-file.h"
#include "common/nlx-json.h"

typedef struct {
  const char *data;
  gsize length;
  gsize pos;
  GError **error;
} Scanner;

static gboolean scan_value (Scanner *s, guint depth);

G_GNUC_PRINTF (2, 3)
static gboolean
fail (Scanner *s,
      const char *format,
      ...)
{
  va_list args;
  g_autofree char *what = NULL;

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (s->error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
               _("at byte %zu: %s"), s->pos, what);
  return FALSE;
}

static gboolean
at_end (Scanner *s)
{
  return s->pos >= s->length;
}

static void
skip_space (Scanner *s)
{
  while (!at_end (s) && (s->data[s->pos] == ' ' || s->data[s->pos] == '\t' ||
                         s->data[s->pos] == '\n' || s->data[s->pos] == '\r'))
    s->pos++;
}

static gboolean
read_hex4 (Scanner *s,
           gunichar *out)
{
  gunichar value = 0;

  for (guint i = 0; i < 4; i++, s->pos++)
    {
      int digit = at_end (s) ? -1 : g_ascii_xdigit_value (s->data[s->pos]);

      if (digit < 0)
        return fail (s, _("\\u must be followed by four hexadecimal digits"));
      value = value * 16 + (gunichar) digit;
    }
  *out = value;
  return TRUE;
}

/* A string from its opening quote; its text, unescaped, into @out when
 * not NULL. */
static gboolean
scan_string (Scanner *s,
             GString *out)
{
  s->pos++;
  for (;;)
    {
      guchar c;

      if (at_end (s))
        return fail (s, _("a string is not closed"));
      c = (guchar) s->data[s->pos];
      if (c == '"')
        {
          s->pos++;
          return TRUE;
        }
      if (c < 0x20)
        return fail (s, _("a string holds a raw control character (0x%02x); "
                          "JSON needs it escaped"), c);
      if (c != '\\')
        {
          if (out != NULL)
            g_string_append_c (out, (char) c);
          s->pos++;
          continue;
        }

      s->pos++;
      if (at_end (s))
        return fail (s, _("a string is not closed"));
      c = (guchar) s->data[s->pos++];
      switch (c)
        {
        case '"': case '\\': case '/':
          break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case 'n': c = '\n'; break;
        case 'r': c = '\r'; break;
        case 't': c = '\t'; break;
        case 'u':
          {
            gunichar u, low;

            if (!read_hex4 (s, &u))
              return FALSE;
            if (u == 0)
              return fail (s, _("a string holds \\u0000, which would cut it "
                                "short; it is not accepted"));
            if (u >= 0xdc00 && u <= 0xdfff)
              return fail (s, _("a string holds a lone UTF-16 surrogate "
                                "(\\u%04x), which is not a character"), u);
            if (u >= 0xd800 && u <= 0xdbff)
              {
                if (s->length - s->pos < 2 || s->data[s->pos] != '\\' ||
                    s->data[s->pos + 1] != 'u')
                  return fail (s, _("a string holds a lone UTF-16 surrogate "
                                    "(\\u%04x), which is not a character"), u);
                s->pos += 2;
                if (!read_hex4 (s, &low))
                  return FALSE;
                if (low < 0xdc00 || low > 0xdfff)
                  return fail (s, _("a string holds a lone UTF-16 surrogate "
                                    "(\\u%04x), which is not a character"), u);
                u = 0x10000 + ((u - 0xd800) << 10) + (low - 0xdc00);
              }
            if (out != NULL)
              g_string_append_unichar (out, u);
            continue;
          }
        default:
          s->pos--;
          return fail (s, _("“\\%c” is not a JSON escape"),
                       g_ascii_isprint (c) ? c : '?');
        }
      if (out != NULL)
        g_string_append_c (out, (char) c);
    }
}

static gboolean
scan_digits (Scanner *s)
{
  gsize start = s->pos;

  while (!at_end (s) && g_ascii_isdigit (s->data[s->pos]))
    s->pos++;
  if (s->pos == start)
    return fail (s, _("a number is cut short; it needs a digit here"));
  return TRUE;
}

/* Whole numbers must fit 64 bits and others a double: json-glib would
 * wrap the one and make infinity of the other without a word. */
static gboolean
scan_number (Scanner *s)
{
  gsize start = s->pos;
  gboolean whole = TRUE;
  g_autofree char *text = NULL;

  if (s->data[s->pos] == '-')
    s->pos++;
  if (!at_end (s) && s->data[s->pos] == '0')
    {
      s->pos++;
      if (!at_end (s) && g_ascii_isdigit (s->data[s->pos]))
        return fail (s, _("a number may not start with 0"));
    }
  else if (!scan_digits (s))
    return FALSE;
  if (!at_end (s) && s->data[s->pos] == '.')
    {
      whole = FALSE;
      s->pos++;
      if (!scan_digits (s))
        return FALSE;
    }
  if (!at_end (s) && (s->data[s->pos] == 'e' || s->data[s->pos] == 'E'))
    {
      whole = FALSE;
      s->pos++;
      if (!at_end (s) && (s->data[s->pos] == '+' || s->data[s->pos] == '-'))
        s->pos++;
      if (!scan_digits (s))
        return FALSE;
    }

  text = g_strndup (s->data + start, s->pos - start);
  if (whole ? !g_ascii_string_to_signed (text, 10, G_MININT64, G_MAXINT64,
                                         NULL, NULL)
            : !isfinite (g_ascii_strtod (text, NULL)))
    {
      s->pos = start;
      return fail (s, _("the number %.40s is out of range"), text);
    }
  return TRUE;
}

static gboolean
scan_literal (Scanner *s)
{
  static const char * const literals[] = { "true", "false", "null" };

  for (guint i = 0; i < G_N_ELEMENTS (literals); i++)
    {
      gsize n = strlen (literals[i]);

      if (s->length - s->pos >= n &&
          memcmp (s->data + s->pos, literals[i], n) == 0)
        {
          s->pos += n;
          return TRUE;
        }
    }
  return fail (s, _("a value must be a string, a number, an object, an "
                    "array, true, false or null"));
}

static gboolean
scan_array (Scanner *s,
            guint depth)
{
  s->pos++;
  skip_space (s);
  if (!at_end (s) && s->data[s->pos] == ']')
    {
      s->pos++;
      return TRUE;
    }
  for (;;)
    {
      if (!scan_value (s, depth))
        return FALSE;
      skip_space (s);
      if (at_end (s))
        return fail (s, _("an array is not closed"));
      if (s->data[s->pos] == ']')
        {
          s->pos++;
          return TRUE;
        }
      if (s->data[s->pos] != ',')
        return fail (s, _("expected “,” or “]” in an array"));
      s->pos++;
    }
}

/* Duplicate member names are refused: json-glib would keep the last one
 * silently, and a check could then pass on a value that is not used. */
static gboolean
scan_object (Scanner *s,
             guint depth)
{
  g_autoptr(GHashTable) names = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                       g_free, NULL);

  s->pos++;
  skip_space (s);
  if (!at_end (s) && s->data[s->pos] == '}')
    {
      s->pos++;
      return TRUE;
    }
  for (;;)
    {
      g_autoptr(GString) name = g_string_new (NULL);
      gsize name_pos;

      skip_space (s);
      if (at_end (s) || s->data[s->pos] != '"')
        return fail (s, _("expected a member name in double quotes"));
      name_pos = s->pos;
      if (!scan_string (s, name))
        return FALSE;
      if (g_hash_table_contains (names, name->str))
        {
          g_autofree char *shown = g_strescape (name->str, NULL);

          s->pos = name_pos;
          return fail (s, _("the member name “%.64s” appears twice in one "
                            "object"), shown);
        }
      g_hash_table_add (names, g_string_free (g_steal_pointer (&name), FALSE));
      skip_space (s);
      if (at_end (s) || s->data[s->pos] != ':')
        return fail (s, _("expected “:” after a member name"));
      s->pos++;
      if (!scan_value (s, depth))
        return FALSE;
      skip_space (s);
      if (at_end (s))
        return fail (s, _("an object is not closed"));
      if (s->data[s->pos] == '}')
        {
          s->pos++;
          return TRUE;
        }
      if (s->data[s->pos] != ',')
        return fail (s, _("expected “,” or “}” in an object"));
      s->pos++;
    }
}

static gboolean
scan_value (Scanner *s,
            guint depth)
{
  char c;

  skip_space (s);
  if (at_end (s))
    return fail (s, _("the document ends where a value should be"));
  c = s->data[s->pos];
  if (c == '{' || c == '[')
    {
      if (depth >= NLX_JSON_MAX_DEPTH)
        return fail (s, _("objects and arrays nest deeper than %d levels"),
                     NLX_JSON_MAX_DEPTH);
      return c == '{' ? scan_object (s, depth + 1) : scan_array (s, depth + 1);
    }
  if (c == '"')
    return scan_string (s, NULL);
  if (c == '-' || g_ascii_isdigit (c))
    return scan_number (s);
  return scan_literal (s);
}

/* Exactly one JSON value, with nothing but white space around it. */
static gboolean
check_document (const char *data,
                gsize length,
                GError **error)
{
  Scanner s = { .data = data, .length = length, .error = error };
  const char *end = NULL;

  /* Also refuses a NUL byte, which json-glib would read as the end. */
  if (!g_utf8_validate_len (data, length, &end))
    {
      s.pos = end - data;
      return fail (&s, _("the text is not UTF-8"));
    }
  skip_space (&s);
  if (at_end (&s))
    {
      if (length == 0)
        g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                     _("it is empty; a JSON value is needed"));
      else
        g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                     _("it holds only white space; a JSON value is needed"));
      return FALSE;
    }
  if (!scan_value (&s, 0))
    return FALSE;
  skip_space (&s);
  if (!at_end (&s))
    return fail (&s, _("more follows the JSON value; one value is expected"));
  return TRUE;
}

/**
 * nlx_json_parse:
 * @data: (array length=length) (nullable): the text
 * @length: its length, or -1 when it is nul-terminated
 * @error: return location for a #NLX_MODEL_ERROR naming the byte where
 *   the text stops being one strict JSON value
 *
 * Reads one JSON value as RFC 8259 defines it, refusing in addition
 * `\u0000`, lone UTF-16 surrogates, duplicate member names, numbers
 * json-glib cannot hold, and nesting deeper than %NLX_JSON_MAX_DEPTH.
 * No text, or only white space, is an error too: there is always a root.
 *
 * Returns: (transfer full): the value, never %NULL on success
 */
JsonNode *
nlx_json_parse (const char *data,
                gssize length,
                GError **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) local_error = NULL;
  JsonNode *root;

  if (data == NULL)
    length = 0;
  else if (length < 0)
    length = strlen (data);
  if (!check_document (data ? data : "", length, error))
    return NULL;
  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, data, length, &local_error) ||
      (root = json_parser_steal_root (parser)) == NULL)
    {
      /* Only if json-glib and RFC 8259 disagree. */
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("json-glib cannot read it: %s"),
                   local_error ? local_error->message : _("no value"));
      return NULL;
    }
  return root;
}

/**
 * nlx_json_parse_file:
 * @path: a file
 * @error: return location for a #G_FILE_ERROR when the file cannot be
 *   read, or a #NLX_MODEL_ERROR naming the file when it is not strict JSON
 *
 * Returns: (transfer full): nlx_json_parse() of the file's contents
 */
JsonNode *
nlx_json_parse_file (const char *path,
                     GError **error)
{
  g_autofree char *data = NULL;
  gsize length;
  JsonNode *root;

  if (!nlx_file_get_contents (path, &data, &length, error))
    return NULL;
  root = nlx_json_parse (data, length, error);
  if (root == NULL)
    g_prefix_error (error, _("%s is not valid JSON: "), path);
  return root;
}

/**
 * nlx_json_get_string:
 * @object: a JSON object
 * @member: a member name
 *
 * Returns: (transfer none) (nullable): @member's string, or %NULL when it
 *   is absent, null or not a string
 */
const char *
nlx_json_get_string (JsonObject *object,
                     const char *member)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

/**
 * nlx_json_text_is_valid:
 * @text: (nullable): a string a user gave
 * @max_chars: the most characters it may have
 *
 * The one check for text that users give and records keep (names,
 * metadata keys and values, image properties): what it accepts is
 * written and read back unchanged by every nova-lxc JSON reader.
 *
 * Returns: whether @text is 1 to @max_chars characters of UTF-8 (so no
 *   UTF-16 surrogates) without control characters (so no NUL, newline,
 *   escape or C1 control)
 */
gboolean
nlx_json_text_is_valid (const char *text,
                        gsize max_chars)
{
  gsize n = 0;

  if (text == NULL || *text == '\0' || !g_utf8_validate (text, -1, NULL))
    return FALSE;
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p), n++)
    if (n >= max_chars || g_unichar_iscntrl (g_utf8_get_char (p)))
      return FALSE;
  return TRUE;
}
