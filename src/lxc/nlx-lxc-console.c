/* nlx-lxc-console.c: an instance's console log, drained from its PTY
 *
 * libvirt's LXC driver only offers PTY consoles and ignores a console's
 * <log> element, so nobody records what a container prints.  The host
 * side of the PTY buffers about 16 KiB; past that the container's writes
 * to /dev/console block.  Whoever needs the output drains the PTY into
 * console.log in the instance directory, as Nova does for LXC: before it
 * reads the log, and while an instance shuts down.  The PTY vanishes
 * when the container exits, and the kernel discards what it holds unread
 * when the controller closes its side (the hangup flushes it), so the
 * driver holds each running instance's PTY open from right after its
 * start until it closes (nlx-lxc-driver.c) and reads it as output
 * arrives, before the container's end can take it away. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "nlx-error.h"
#include "nlx-file.h"
#include "nlx-lxc-console.h"

static gboolean
set_io_error (GError **error,
              const char *path,
              int saved_errno)
{
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
               _("Cannot record console output in %s: %s"), path,
               g_strerror (saved_errno));
  return FALSE;
}

/* Keeps the newest half once the log outgrows its cap, so a chatty
 * instance cannot fill the host's disk. */
static gboolean
trim_log (const char *log_path,
          GError **error)
{
  g_autofree char *contents = NULL;
  gsize length;
  gsize keep = NLX_LXC_CONSOLE_LOG_MAX / 2;

  if (!nlx_file_get_contents (log_path, &contents, &length, error))
    return FALSE;
  if (length <= keep)
    return TRUE;
  return nlx_file_set_contents_full (log_path, contents + length - keep, keep,
                                     G_FILE_SET_CONTENTS_CONSISTENT, 0600,
                                     error);
}

/* How much of what this reader read it keeps for
 * nlx_lxc_console_last_words(). */
#define RECENT_MAX 4096

struct _NlxLxcConsole {
  int pty_fd;
  int log_fd;
  char *log_path;
  /* The end of what was read since the PTY was opened: one boot's. */
  char recent[RECENT_MAX];
  gsize recent_length;
};

static void
keep_recent (NlxLxcConsole *console,
             const char *data,
             gsize length)
{
  if (length >= RECENT_MAX)
    {
      memcpy (console->recent, data + length - RECENT_MAX, RECENT_MAX);
      console->recent_length = RECENT_MAX;
      return;
    }
  if (console->recent_length + length > RECENT_MAX)
    {
      gsize drop = console->recent_length + length - RECENT_MAX;

      memmove (console->recent, console->recent + drop,
               console->recent_length - drop);
      console->recent_length -= drop;
    }
  memcpy (console->recent + console->recent_length, data, length);
  console->recent_length += length;
}

static gboolean
open_log (NlxLxcConsole *console,
          GError **error)
{
  console->log_fd = g_open (console->log_path,
                            O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (console->log_fd < 0)
    return set_io_error (error, console->log_path, errno);
  return TRUE;
}

/* A reader holds the log open for as long as the instance runs, so it
 * trims as it goes; trimming replaces the file, which is opened again. */
static gboolean
trim_if_full (NlxLxcConsole *console,
              GError **error)
{
  off_t size = lseek (console->log_fd, 0, SEEK_END);

  if (size <= NLX_LXC_CONSOLE_LOG_MAX)
    return TRUE;
  close (console->log_fd);
  console->log_fd = -1;
  if (!trim_log (console->log_path, error))
    {
      open_log (console, NULL);
      return FALSE;
    }
  return open_log (console, error);
}

/**
 * nlx_lxc_console_open:
 * @pty_path: the host side of the instance's console, from its live XML
 * @log_path: the console log to append to
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Returns: (transfer full): a reader of the console, or %NULL
 */
NlxLxcConsole *
nlx_lxc_console_open (const char *pty_path,
                      const char *log_path,
                      GError **error)
{
  g_autoptr(NlxLxcConsole) console = g_new0 (NlxLxcConsole, 1);

  console->pty_fd = -1;
  console->log_fd = -1;
  console->log_path = g_strdup (log_path);

  /* The path comes from libvirt's XML, but it is opened as root: accept
   * nothing but a PTY. */
  if (!g_str_has_prefix (pty_path, "/dev/pts/"))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Console path %s is not a PTY; not reading it"),
                   pty_path);
      return NULL;
    }
  console->pty_fd = g_open (pty_path,
                            O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC, 0);
  if (console->pty_fd < 0)
    {
      set_io_error (error, pty_path, errno);
      return NULL;
    }
  if (!open_log (console, error))
    return NULL;
  return g_steal_pointer (&console);
}

/**
 * nlx_lxc_console_get_fd:
 * @console: a console reader
 *
 * Returns: the PTY's descriptor, to poll for input; it stays owned by
 *   @console
 */
int
nlx_lxc_console_get_fd (NlxLxcConsole *console)
{
  return console->pty_fd;
}

/**
 * nlx_lxc_console_read:
 * @console: a console reader
 * @closed: (out) (optional): set when the PTY has closed: the container
 *   side has gone and everything it wrote was read
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Appends to the log whatever the console holds now, without waiting.
 */
gboolean
nlx_lxc_console_read (NlxLxcConsole *console,
                      gboolean *closed,
                      GError **error)
{
  char buffer[16384];

  if (closed != NULL)
    *closed = FALSE;
  for (;;)
    {
      ssize_t n = read (console->pty_fd, buffer, sizeof buffer);

      if (n < 0 && errno == EINTR)
        continue;
      /* EAGAIN: drained.  EIO (or end of file): the controller, which
       * holds the other side, has gone, and the hangup discarded what
       * was not read by then. */
      if (n < 0 && errno == EAGAIN)
        return TRUE;
      if (n <= 0)
        {
          if (closed != NULL)
            *closed = TRUE;
          return TRUE;
        }
      keep_recent (console, buffer, n);
      if (console->log_fd < 0 && !open_log (console, error))
        return FALSE;
      if (write (console->log_fd, buffer, n) != n)
        return set_io_error (error, console->log_path, errno);
      if (!trim_if_full (console, error))
        return FALSE;
    }
}

/* Whether @c (a Unicode character) is safe to show: no control
 * characters but newlines, and no format characters (bidirectional
 * overrides can make text read as something else). */
static gboolean
is_shown (gunichar c)
{
  return c == '\n' ||
         !(g_unichar_iscntrl (c) || g_unichar_type (c) == G_UNICODE_FORMAT);
}

/**
 * nlx_lxc_console_last_words:
 * @data: console output
 * @length: its length
 * @max_lines: at most this many of its last non-empty lines
 * @max_bytes: at most this many bytes of them
 *
 * The end of @data made fit to show where it was not meant to go (a
 * fault message, a terminal): escape sequences removed, carriage returns
 * made line ends, other control characters and bytes that are not UTF-8
 * replaced by U+FFFD, trailing blank lines dropped; cut at a line or at
 * a character, never inside one.
 *
 * Returns: (transfer full): the last lines; "" when there are none
 */
char *
nlx_lxc_console_last_words (const char *data,
                            gsize length,
                            guint max_lines,
                            gsize max_bytes)
{
  g_autofree char *valid = g_utf8_make_valid (data, length);
  g_autoptr(GString) clean = g_string_new (NULL);
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);
  g_auto(GStrv) split = NULL;
  g_autoptr(GString) result = g_string_new (NULL);
  const char *p = valid;

  while (*p != '\0')
    {
      gunichar c = g_utf8_get_char (p);
      const char *next = g_utf8_next_char (p);

      if (c == 0x1b && (next[0] == '[' || next[0] == ']'))
        {
          /* CSI (colours, cursor moves) up to its final byte; OSC (window
           * titles) up to BEL or ST. */
          gboolean osc = next[0] == ']';

          p = next + 1;
          while (*p != '\0')
            {
              if (!osc && (guchar) *p >= 0x40 && (guchar) *p <= 0x7e)
                {
                  p++;
                  break;
                }
              if (osc && *p == '\a')
                {
                  p++;
                  break;
                }
              if (osc && p[0] == 0x1b && p[1] == '\\')
                {
                  p += 2;
                  break;
                }
              p++;
            }
          continue;
        }
      if (c == '\r')
        {
          /* "\r\n" is one line end; a lone "\r" rewrote the line, which
           * is kept as a line of its own. */
          if (*next != '\n')
            g_string_append_c (clean, '\n');
        }
      else if (c == '\t')
        g_string_append_c (clean, ' ');
      else if (is_shown (c))
        g_string_append_len (clean, p, next - p);
      else
        g_string_append_unichar (clean, 0xfffd);
      p = next;
    }

  split = g_strsplit (clean->str, "\n", -1);
  for (guint i = 0; split[i] != NULL; i++)
    if (*g_strchomp (split[i]) != '\0')
      g_ptr_array_add (lines, g_strdup (split[i]));

  /* From the end, as many whole lines as fit; the last line alone is cut
   * to its end when it is too long by itself. */
  for (guint taken = 0; taken < max_lines && taken < lines->len; taken++)
    {
      const char *line = lines->pdata[lines->len - 1 - taken];
      gsize needed = strlen (line) + (result->len > 0 ? 1 : 0);

      if (result->len + needed > max_bytes)
        {
          if (result->len == 0)
            {
              const char *start = line + strlen (line) - max_bytes;

              while (start > line && (*start & 0xc0) == 0x80)
                start++;
              g_string_assign (result, start);
            }
          break;
        }
      if (result->len > 0)
        g_string_prepend_c (result, '\n');
      g_string_prepend (result, line);
    }
  return g_string_free (g_steal_pointer (&result), FALSE);
}

/**
 * nlx_lxc_console_get_last_words:
 * @console: a console reader
 * @max_lines: at most this many lines
 * @max_bytes: at most this many bytes
 *
 * nlx_lxc_console_last_words() of what @console read since it was opened.
 */
char *
nlx_lxc_console_get_last_words (NlxLxcConsole *console,
                                guint max_lines,
                                gsize max_bytes)
{
  return nlx_lxc_console_last_words (console->recent, console->recent_length,
                                     max_lines, max_bytes);
}

void
nlx_lxc_console_close (NlxLxcConsole *console)
{
  if (console == NULL)
    return;
  if (console->log_fd >= 0)
    close (console->log_fd);
  if (console->pty_fd >= 0)
    close (console->pty_fd);
  g_free (console->log_path);
  g_free (console);
}

/**
 * nlx_lxc_console_tail:
 * @log_path: the console log
 * @max_bytes: at most this much of its end
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * When the cut falls inside a line and a whole line follows, the partial
 * line is dropped.  Bytes
 * that are not UTF-8 are replaced, so the result can go into JSON.
 *
 * Returns: (transfer full): the end of the log; "" if nothing was logged
 */
char *
nlx_lxc_console_tail (const char *log_path,
                      gsize max_bytes,
                      GError **error)
{
  g_autofree char *contents = NULL;
  g_autoptr(GError) local_error = NULL;
  const char *start;
  gsize length;

  if (!nlx_file_get_contents (log_path, &contents, &length, &local_error))
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return g_strdup ("");
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot read console log: %s"), local_error->message);
      return NULL;
    }

  start = contents;
  if (length > max_bytes)
    {
      const char *newline;

      start = contents + length - max_bytes;
      newline = memchr (start, '\n', max_bytes);
      if (newline != NULL && start[-1] != '\n')
        start = newline + 1;
    }
  return g_utf8_make_valid (start, contents + length - start);
}
