/* nlx-lock.c: one daemon per state directory, instances directory,
 * volume directory and bridge
 *
 * A second nova-lxc-compute on the same state reconciles the first one's
 * records as if they were its own (a build in progress looks like one a
 * crash interrupted) and rewrites them.  So each daemon holds an
 * exclusive flock(2) on a lock file for its whole life, taken before it
 * reads anything the lock guards.  flock, not fcntl locks: it belongs to
 * the open file, so no other descriptor of the process (closing a copy of
 * the file elsewhere) can drop it, and the kernel drops it when the
 * process dies, however it dies.  The holder writes its pid into the file
 * so that the one refused can say who holds it. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "common/nlx-error.h"
#include "common/nlx-lock.h"

struct _NlxLock {
  char *path;
  int fd;
};

/* The pid the holder wrote, or 0 when it has not written it yet. */
static long
read_holder (int fd)
{
  char buffer[32] = "";
  ssize_t n = pread (fd, buffer, sizeof buffer - 1, 0);
  char *end = NULL;
  long pid;

  if (n <= 0)
    return 0;
  buffer[n] = '\0';
  pid = strtol (buffer, &end, 10);
  return (end != buffer && pid > 0) ? pid : 0;
}

/**
 * nlx_lock_acquire:
 * @path: the lock file, created (0644) if missing
 * @what: what it guards, for the message, e.g. "state_path /var/lib/nova-lxc"
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Takes an exclusive lock on @path without waiting, and writes this
 * process's pid into it.  The descriptor is close-on-exec, so no program
 * the daemon runs (mkfs, qemu) can keep holding it after the daemon
 * died.  The file is never removed: removing it would let two processes
 * lock two different files of one name.
 *
 * Returns: (transfer full): the lock, held until nlx_lock_release(), or
 * %NULL with %NLX_DRIVER_ERROR_EXISTS naming the pid of the holder
 */
NlxLock *
nlx_lock_acquire (const char *path,
                  const char *what,
                  GError **error)
{
  g_autofree char *pid = NULL;
  NlxLock *lock;
  int fd;

  fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0644);
  if (fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot open the lock file %s of %s: %s"), path, what,
                   g_strerror (saved_errno));
      return NULL;
    }
  if (flock (fd, LOCK_EX | LOCK_NB) != 0)
    {
      int saved_errno = errno;
      long holder = saved_errno == EWOULDBLOCK ? read_holder (fd) : 0;

      close (fd);
      if (saved_errno != EWOULDBLOCK)
        g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                     _("Cannot lock %s of %s: %s"), path, what,
                     g_strerror (saved_errno));
      else if (holder > 0)
        g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_EXISTS,
                     _("Another nova-lxc-compute (pid %ld) is using %s (it "
                       "holds %s); two daemons on it would damage each "
                       "other's servers: stop that one first, or give this "
                       "one its own"), holder, what, path);
      else
        g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_EXISTS,
                     _("Another nova-lxc-compute is using %s (it holds %s, "
                       "and is still starting); two daemons on it would "
                       "damage each other's servers: stop that one first, "
                       "or give this one its own"), what, path);
      return NULL;
    }

  pid = g_strdup_printf ("%ld\n", (long) getpid ());
  if (ftruncate (fd, 0) != 0 ||
      pwrite (fd, pid, strlen (pid), 0) != (ssize_t) strlen (pid))
    {
      /* The lock holds all the same; only the message of the next one
       * refused is poorer. */
      g_debug ("Cannot write the pid into %s: %s", path, g_strerror (errno));
    }
  lock = g_new0 (NlxLock, 1);
  lock->path = g_strdup (path);
  lock->fd = fd;
  return lock;
}

/**
 * nlx_lock_acquire_dir:
 * @dir: a directory
 * @mode: its mode if it has to be created, with its parents
 *
 * nlx_lock_acquire() on @dir's %NLX_LOCK_FILE.
 */
NlxLock *
nlx_lock_acquire_dir (const char *dir,
                      int mode,
                      const char *what,
                      GError **error)
{
  g_autofree char *path = g_build_filename (dir, NLX_LOCK_FILE, NULL);

  if (g_mkdir_with_parents (dir, mode) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot create %s, %s: %s"), dir, what,
                   g_strerror (saved_errno));
      return NULL;
    }
  return nlx_lock_acquire (path, what, error);
}

void
nlx_lock_release (NlxLock *lock)
{
  if (lock == NULL)
    return;
  close (lock->fd);
  g_free (lock->path);
  g_free (lock);
}
