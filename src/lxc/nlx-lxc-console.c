/* nlx-lxc-console.c: an instance's console log, drained from its PTY
 *
 * libvirt's LXC driver only offers PTY consoles and ignores a console's
 * <log> element, so nobody records what a container prints.  The host
 * side of the PTY buffers about 16 KiB; past that the container's writes
 * to /dev/console block.  Whoever needs the output drains the PTY into
 * console.log in the instance directory, as Nova does for LXC: before it
 * reads the log, and while an instance shuts down, because the PTY and
 * whatever it still holds vanish with the container. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include "nlx-error.h"
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

  if (!g_file_get_contents (log_path, &contents, &length, error))
    return FALSE;
  if (length <= keep)
    return TRUE;
  return g_file_set_contents_full (log_path, contents + length - keep, keep,
                                   G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
}

/**
 * nlx_lxc_console_drain:
 * @pty_path: the host side of the instance's console, from its live XML
 * @log_path: the console log to append to
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Appends whatever the console holds now, without waiting for more.
 */
gboolean
nlx_lxc_console_drain (const char *pty_path,
                       const char *log_path,
                       GError **error)
{
  char buffer[16384];
  int pty_fd, log_fd;
  gboolean ok = TRUE;
  off_t size;

  /* The path comes from libvirt's XML, but it is opened as root: accept
   * nothing but a PTY. */
  if (!g_str_has_prefix (pty_path, "/dev/pts/"))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Console path %s is not a PTY; not reading it"),
                   pty_path);
      return FALSE;
    }
  pty_fd = g_open (pty_path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC, 0);
  if (pty_fd < 0)
    return set_io_error (error, pty_path, errno);
  log_fd = g_open (log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (log_fd < 0)
    {
      int saved_errno = errno;

      close (pty_fd);
      return set_io_error (error, log_path, saved_errno);
    }

  for (;;)
    {
      ssize_t n = read (pty_fd, buffer, sizeof buffer);

      if (n < 0 && errno == EINTR)
        continue;
      /* EAGAIN: drained; EIO: the container side has gone. */
      if (n <= 0)
        break;
      if (write (log_fd, buffer, n) != n)
        {
          ok = set_io_error (error, log_path, errno);
          break;
        }
    }

  size = lseek (log_fd, 0, SEEK_END);
  close (log_fd);
  close (pty_fd);
  if (ok && size > NLX_LXC_CONSOLE_LOG_MAX)
    ok = trim_log (log_path, error);
  return ok;
}

/**
 * nlx_lxc_console_tail:
 * @log_path: the console log
 * @max_bytes: at most this much of its end
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * When the cut falls inside a line, the partial line is dropped.  Bytes
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

  if (!g_file_get_contents (log_path, &contents, &length, &local_error))
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
