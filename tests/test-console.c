/* test-console.c: the last words of a console, made fit for a fault */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "common/nlx-file.h"

#include "common/nlx-console-text.h"
#include "lxc/nlx-lxc-console.h"

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

/* Reads what @fd holds within a second, up to @length bytes. */
static char *
read_some (int fd,
           gsize length)
{
  g_autofree char *buffer = g_malloc0 (length + 1);
  gsize got = 0;
  gint64 deadline = g_get_monotonic_time () + G_USEC_PER_SEC;

  while (got < length && g_get_monotonic_time () < deadline)
    {
      struct pollfd pfd = { .fd = fd, .events = POLLIN };
      ssize_t n;

      if (poll (&pfd, 1, 100) <= 0)
        continue;
      n = read (fd, buffer + got, length - got);
      if (n <= 0)
        break;
      got += n;
    }
  return g_steal_pointer (&buffer);
}

/* A console with clients attached, on a PTY of our own standing in for
 * libvirt's: each client gets all output, the log too, and what a
 * client types reaches the other side. */
static void
test_fan_out (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("nlx-test-console-XXXXXX", &error);
  g_autofree char *log_path = g_build_filename (dir, "console.log", NULL);
  g_autoptr(NlxLxcConsole) console = NULL;
  g_autofree char *log = NULL;
  g_autofree char *one = NULL;
  g_autofree char *two = NULL;
  g_autofree char *typed = NULL;
  struct termios raw;
  gboolean closed = TRUE;
  int master;
  int a[2], b[2];
  guint n_clients;
  char byte;

  g_assert_no_error (error);
  master = posix_openpt (O_RDWR | O_NOCTTY | O_CLOEXEC);
  g_assert_cmpint (master, >=, 0);
  g_assert_cmpint (grantpt (master), ==, 0);
  g_assert_cmpint (unlockpt (master), ==, 0);
  /* As libvirt_lxc sets its console: no echo, no newline translation. */
  g_assert_cmpint (tcgetattr (master, &raw), ==, 0);
  cfmakeraw (&raw);
  g_assert_cmpint (tcsetattr (master, TCSANOW, &raw), ==, 0);

  console = nlx_lxc_console_open (ptsname (master), log_path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, a), ==, 0);
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, b), ==, 0);
  nlx_lxc_console_attach (console, a[1]);
  nlx_lxc_console_attach (console, b[1]);

  g_assert_cmpint (write (master, "hello\n", 6), ==, 6);
  g_usleep (100000);
  g_assert_true (nlx_lxc_console_read (console, &closed, &error));
  g_assert_no_error (error);
  g_assert_false (closed);
  one = read_some (a[0], 6);
  two = read_some (b[0], 6);
  g_assert_cmpstr (one, ==, "hello\n");
  g_assert_cmpstr (two, ==, "hello\n");
  g_assert_true (nlx_file_get_contents (log_path, &log, NULL, &error));
  g_assert_cmpstr (log, ==, "hello\n");

  /* Input goes to the console, not to the other client. */
  g_assert_cmpint (write (a[0], "typed", 5), ==, 5);
  g_assert_true (nlx_lxc_console_input (console, a[1]));
  typed = read_some (master, 5);
  g_assert_cmpstr (typed, ==, "typed");
  g_assert_cmpint (recv (b[0], &byte, 1, MSG_DONTWAIT), ==, -1);
  g_assert_cmpint (errno, ==, EAGAIN);

  /* A client that closes is detached. */
  close (a[0]);
  g_assert_false (nlx_lxc_console_input (console, a[1]));
  nlx_lxc_console_get_subscribers (console, &n_clients);
  g_assert_cmpuint (n_clients, ==, 1);

  /* The console going away ends the other client's stream. */
  g_clear_pointer (&console, nlx_lxc_console_close);
  g_assert_cmpint (read (b[0], &byte, 1), ==, 0);
  close (b[0]);
  close (master);
  g_unlink (log_path);
  g_rmdir (dir);
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
  g_test_summary ("A console's last words, made fit for a fault.");
  g_test_add_func ("/nlx/console/last-words/lines", test_last_lines);
  g_test_add_func ("/nlx/console/last-words/bytes", test_bytes_bound);
  g_test_add_func ("/nlx/console/last-words/neutralised", test_neutralised);
  g_test_add_func ("/nlx/console/display", test_display);
  g_test_add_func ("/nlx/console/fan-out", test_fan_out);
  return g_test_run ();
}
