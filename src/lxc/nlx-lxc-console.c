/* nlx-lxc-console.c: an instance's console log, drained from its PTY
 *
 * libvirt's LXC driver only offers PTY consoles and ignores a console's
 * <log> element, so nobody records what a container prints.  The host
 * side of the PTY buffers about 16 KiB; past that the container's writes
 * to /dev/console block.  Whoever needs the output drains the PTY into
 * console.log in the instance directory, as Nova does for LXC: before it
 * reads the log, and while an instance shuts down.  The PTY and whatever
 * it still holds vanish the moment the container exits, so a shutdown is
 * followed with the PTY held open, never by reopening it now and then. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <poll.h>
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

struct _NlxLxcConsole {
  int pty_fd;
  int log_fd;
  char *log_path;
};

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
  console->log_fd = g_open (log_path,
                            O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (console->log_fd < 0)
    {
      set_io_error (error, log_path, errno);
      return NULL;
    }
  return g_steal_pointer (&console);
}

/**
 * nlx_lxc_console_read:
 * @console: a console reader
 * @timeout_ms: how long to wait for output when there is none yet
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Appends to the log whatever the console holds, waiting up to
 * @timeout_ms for something to arrive.
 */
gboolean
nlx_lxc_console_read (NlxLxcConsole *console,
                      guint timeout_ms,
                      GError **error)
{
  struct pollfd pfd = { .fd = console->pty_fd, .events = POLLIN };
  char buffer[16384];

  if (timeout_ms > 0 && poll (&pfd, 1, timeout_ms) <= 0)
    return TRUE;

  for (;;)
    {
      ssize_t n = read (console->pty_fd, buffer, sizeof buffer);

      if (n < 0 && errno == EINTR)
        continue;
      /* EAGAIN: drained; EIO: the container side has gone. */
      if (n <= 0)
        return TRUE;
      if (write (console->log_fd, buffer, n) != n)
        return set_io_error (error, console->log_path, errno);
    }
}

void
nlx_lxc_console_close (NlxLxcConsole *console)
{
  g_autoptr(GError) error = NULL;
  off_t size = -1;

  if (console == NULL)
    return;
  if (console->log_fd >= 0)
    {
      size = lseek (console->log_fd, 0, SEEK_END);
      close (console->log_fd);
    }
  if (console->pty_fd >= 0)
    close (console->pty_fd);
  if (size > NLX_LXC_CONSOLE_LOG_MAX && !trim_log (console->log_path, &error))
    g_warning ("%s", error->message);
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
