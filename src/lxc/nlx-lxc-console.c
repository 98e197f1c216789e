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
 * start until it closes (nlx-lxc-console-thread.c) and reads it as output
 * arrives, before the container's end can take it away. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <glib-unix.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/nlx-error.h"
#include "common/nlx-file.h"
#include "lxc/nlx-lxc-console.h"

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

/* How long typed input may wait for room in the PTY before it is
 * dropped. */
#define INPUT_WAIT_MS 100

/* How much of what this reader read it keeps for
 * nlx_lxc_console_last_words(). */
#define RECENT_MAX 4096

struct _NlxLxcConsole {
  int pty_fd;
  int log_fd;
  /* Attached clients' sockets (ints), owned: each gets what is read
   * from now on and types into the PTY. */
  GArray *subscribers;
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
  console->subscribers = g_array_new (FALSE, FALSE, sizeof (int));

  /* The path comes from libvirt's XML, but it is opened as root: accept
   * nothing but a PTY. */
  if (!g_str_has_prefix (pty_path, "/dev/pts/"))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Console path %s is not a PTY; not reading it"),
                   pty_path);
      return NULL;
    }
  /* Read-write: attached clients type into it (nlx_lxc_console_input()),
   * through this one descriptor, so there is still one reader. */
  console->pty_fd = g_open (pty_path,
                            O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC, 0);
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

static void
drop_subscriber (NlxLxcConsole *console,
                 guint index)
{
  close (g_array_index (console->subscribers, int, index));
  g_array_remove_index (console->subscribers, index);
}

/* Gives @data to every attached client without waiting: a client that
 * does not keep up loses what its socket cannot hold rather than stall
 * the console, the log and the other clients.  One that has gone is
 * dropped. */
static void
fan_out (NlxLxcConsole *console,
         const char *data,
         gsize length)
{
  for (guint i = console->subscribers->len; i-- > 0;)
    {
      int fd = g_array_index (console->subscribers, int, i);
      ssize_t n;

      do
        n = send (fd, data, length, MSG_DONTWAIT | MSG_NOSIGNAL);
      while (n < 0 && errno == EINTR);
      if (n < 0 && errno != EAGAIN)
        drop_subscriber (console, i);
    }
}

/**
 * nlx_lxc_console_attach:
 * @console: a console reader
 * @fd: (transfer full): a connected stream socket
 *
 * From now on, what the console prints is also sent on @fd, and what
 * arrives on @fd is typed on the console once the owner of @console
 * calls nlx_lxc_console_input() for it.  @fd is closed when the client
 * goes away or the console closes.
 */
void
nlx_lxc_console_attach (NlxLxcConsole *console,
                        int fd)
{
  g_unix_set_fd_nonblocking (fd, TRUE, NULL);
  g_array_append_val (console->subscribers, fd);
}

/**
 * nlx_lxc_console_get_subscribers:
 * @console: a console reader
 * @n_fds: (out): how many
 *
 * Returns: (transfer none): the attached clients' sockets, to poll for
 *   input; valid until the next call on @console
 */
const int *
nlx_lxc_console_get_subscribers (NlxLxcConsole *console,
                                 guint *n_fds)
{
  *n_fds = console->subscribers->len;
  return (const int *) console->subscribers->data;
}

/**
 * nlx_lxc_console_input:
 * @console: a console reader
 * @fd: an attached client's socket that polled readable
 *
 * Types what the client sent into the console.  A client that closed its
 * end (or whose socket failed) is detached and @fd closed.  Input the
 * PTY cannot take within a short wait is dropped, as on a serial line:
 * the console is never blocked by one client.
 *
 * Returns: %FALSE when the client was detached
 */
gboolean
nlx_lxc_console_input (NlxLxcConsole *console,
                       int fd)
{
  char buffer[4096];
  ssize_t n;
  guint index;

  for (index = 0; index < console->subscribers->len; index++)
    if (g_array_index (console->subscribers, int, index) == fd)
      break;
  if (index == console->subscribers->len)
    return FALSE;
  do
    n = recv (fd, buffer, sizeof buffer, MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n < 0 && errno == EAGAIN)
    return TRUE;
  if (n <= 0)
    {
      drop_subscriber (console, index);
      return FALSE;
    }
  for (ssize_t done = 0; done < n;)
    {
      ssize_t w = write (console->pty_fd, buffer + done, n - done);

      if (w > 0)
        done += w;
      else if (w < 0 && errno == EAGAIN)
        {
          struct pollfd pfd = { .fd = console->pty_fd, .events = POLLOUT };

          if (poll (&pfd, 1, INPUT_WAIT_MS) <= 0)
            break;
        }
      else if (w < 0 && errno == EINTR)
        continue;
      else
        break;
    }
  return TRUE;
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
      fan_out (console, buffer, n);
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
  /* Attached clients read end of file: the console has gone. */
  for (guint i = 0; i < console->subscribers->len; i++)
    close (g_array_index (console->subscribers, int, i));
  g_array_unref (console->subscribers);
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
