/* test-console.c: the last words of a console, made fit for a fault */
#include "config.h"

#include <string.h>

#include "nlx-console-text.h"
#include "nlx-lxc-console.h"

static char *
words (const char *data,
       guint lines,
       gsize bytes)
{
  return nlx_lxc_console_last_words (data, strlen (data), lines, bytes);
}

static void
test_last_lines (void)
{
  g_autofree char *all = words ("one\ntwo\n\nthree\n\n", 10, 1024);
  g_autofree char *two = words ("one\ntwo\nthree\n", 2, 1024);
  g_autofree char *none = words ("\n\r\n  \n", 10, 1024);

  /* Blank lines do not count. */
  g_assert_cmpstr (all, ==, "one\ntwo\nthree");
  g_assert_cmpstr (two, ==, "two\nthree");
  g_assert_cmpstr (none, ==, "");
}

static void
test_bytes_bound (void)
{
  g_autofree char *whole = words ("aaaa\nbbbb\ncccc\n", 10, 9);
  g_autofree char *cut = words ("0123456789\n", 10, 4);
  /* "é" is two bytes: a cut never splits it. */
  g_autofree char *utf8 = words ("x\xc3\xa9\xc3\xa9", 10, 3);

  /* Whole lines from the end, as many as fit. */
  g_assert_cmpstr (whole, ==, "bbbb\ncccc");
  /* One line too long by itself keeps its end. */
  g_assert_cmpstr (cut, ==, "6789");
  g_assert_cmpstr (utf8, ==, "\xc3\xa9");
}

static void
test_neutralised (void)
{
  g_autofree char *colours = words ("\x1b[1;31mFAILED\x1b[0m to mount\r\n", 10, 1024);
  g_autofree char *title = words ("\x1b]0;pwned\x07" "after\n", 10, 1024);
  g_autofree char *controls = words ("bell\x07 nul-free\x01\x7f tab\tend\n", 10, 1024);
  g_autofree char *overwrite = words ("50%\r100%\n", 10, 1024);
  g_autofree char *invalid = words ("bad \xff byte\n", 10, 1024);
  g_autofree char *bidi = words ("abc\xe2\x80\xae" "def\n", 10, 1024);
  g_autofree char *c1 = words ("x\xc2\x9b" "31m\n", 10, 1024);

  g_assert_cmpstr (colours, ==, "FAILED to mount");
  g_assert_cmpstr (title, ==, "after");
  g_assert_cmpstr (controls, ==,
                   "bell\xef\xbf\xbd nul-free\xef\xbf\xbd\xef\xbf\xbd tab end");
  g_assert_cmpstr (overwrite, ==, "50%\n100%");
  g_assert_cmpstr (invalid, ==, "bad \xef\xbf\xbd byte");
  g_assert_cmpstr (bidi, ==, "abc\xef\xbf\xbd" "def");
  g_assert_cmpstr (c1, ==, "x\xef\xbf\xbd" "31m");
  g_assert_true (g_utf8_validate (colours, -1, NULL));
}

static char *
shown (const char *data,
       gssize length)
{
  return nlx_console_text_for_display (data, length);
}

static void
test_display (void)
{
  g_autofree char *colours = shown ("\x1b[1;31mFAILED\x1b[0m\r\n", -1);
  g_autofree char *title = shown ("\x1b]0;pwned\x07" "after\n", -1);
  g_autofree char *progress = shown ("50%\r100%\n", -1);
  g_autofree char *kept = shown ("tab\there\nnext\n", -1);
  g_autofree char *del = shown ("a\x7f" "b\x01", -1);
  g_autofree char *invalid = shown ("bad \xff byte", -1);
  g_autofree char *c1 = shown ("x\xc2\x9b" "31m", -1);
  g_autofree char *bidi = shown ("abc\xe2\x80\xae" "def", -1);
  g_autofree char *nul = shown ("a\0b\xff", 4);
  g_autofree char *text = shown ("caf\xc3\xa9 \xe2\x9c\x93", -1);

  g_assert_cmpstr (colours, ==, "^[[1;31mFAILED^[[0m\n");
  g_assert_cmpstr (title, ==, "^[]0;pwned^Gafter\n");
  g_assert_cmpstr (progress, ==, "50%\n100%\n");
  g_assert_cmpstr (kept, ==, "tab\there\nnext\n");
  g_assert_cmpstr (del, ==, "a^?b^A");
  g_assert_cmpstr (invalid, ==, "bad \xef\xbf\xbd byte");
  g_assert_cmpstr (c1, ==, "x\xef\xbf\xbd" "31m");
  g_assert_cmpstr (bidi, ==, "abc\xef\xbf\xbd" "def");
  g_assert_cmpstr (nul, ==, "a^@b\xef\xbf\xbd");
  g_assert_cmpstr (text, ==, "caf\xc3\xa9 \xe2\x9c\x93");
  g_assert_null (strchr (colours, 0x1b));
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/nlx/console/last-words/lines", test_last_lines);
  g_test_add_func ("/nlx/console/last-words/bytes", test_bytes_bound);
  g_test_add_func ("/nlx/console/last-words/neutralised", test_neutralised);
  g_test_add_func ("/nlx/console/display", test_display);
  return g_test_run ();
}
