/* nlx-loop.c: loop devices: attach a file (read-only or writable) under
 * a name, find them again by name, prefix or backing file, detach */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/nlx-error.h"
#include "host/nlx-mount-private.h"
#include "host/nlx-mount.h"

/* A racing process may take the free device we were given. */
#define LOOP_ATTACH_TRIES 16
/* How long a new /dev/loopN may take to appear. */
#define LOOP_NODE_WAIT_USEC (5 * G_USEC_PER_SEC)

/* ---- loop devices ------------------------------------------------------ */

static gboolean
loop_name_is_valid (const char *name,
                    GError **error)
{
  if (name == NULL || name[0] == '\0' || strlen (name) > NLX_LOOP_NAME_MAX)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("A loop device name must have 1 to %d bytes: “%s”"),
                   NLX_LOOP_NAME_MAX, name ? name : "");
      return FALSE;
    }
  return TRUE;
}

/* Opens @device, waiting for devtmpfs to create its node. */
static int
open_new_loop_device (const char *device,
                      GError **error)
{
  gint64 deadline = g_get_monotonic_time () + LOOP_NODE_WAIT_USEC;
  int fd;

  while ((fd = open (device, O_RDWR | O_CLOEXEC)) < 0)
    {
      int saved_errno = errno;

      if (saved_errno == EINTR)
        continue;
      if (saved_errno != ENOENT || g_get_monotonic_time () > deadline)
        {
          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                       _("Cannot open loop device %s: %s"), device,
                       g_strerror (saved_errno));
          return -1;
        }
      g_usleep (10 * 1000);
    }
  return fd;
}

/* Binds a free loop device to @fd as @config says (its fd and name are
 * filled in here) and returns it; with @keep_fd, the device's open
 * descriptor is left there, which an autoclear device needs to stay
 * bound until something else (a mount) holds it. */
static char *
loop_configure (int fd,
                const char *name,
                struct loop_config *config,
                int *keep_fd,
                GError **error)
{
  int control;

  if (!loop_name_is_valid (name, error))
    return NULL;
  config->fd = fd;
  memset (config->info.lo_file_name, 0, sizeof config->info.lo_file_name);
  memcpy (config->info.lo_file_name, name, strlen (name));

  control = open ("/dev/loop-control", O_RDWR | O_CLOEXEC);
  if (control < 0)
    {
      int saved_errno = errno;

      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot open /dev/loop-control: %s"),
                   g_strerror (saved_errno));
      return NULL;
    }
  for (int attempt = 0; attempt < LOOP_ATTACH_TRIES; attempt++)
    {
      g_autofree char *device = NULL;
      int number = ioctl (control, LOOP_CTL_GET_FREE);
      int loop_fd;
      int rc;

      if (number < 0)
        {
          int saved_errno = errno;

          close (control);
          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                       _("Cannot get a free loop device: %s"),
                       g_strerror (saved_errno));
          return NULL;
        }
      device = g_strdup_printf ("/dev/loop%d", number);
      loop_fd = open_new_loop_device (device, error);
      if (loop_fd < 0)
        {
          close (control);
          return NULL;
        }
      do
        rc = ioctl (loop_fd, LOOP_CONFIGURE, config);
      while (rc < 0 && errno == EINTR);
      if (rc == 0)
        {
          close (control);
          if (keep_fd != NULL)
            *keep_fd = loop_fd;
          else
            close_fd (&loop_fd);
          return g_steal_pointer (&device);
        }
      close_fd (&loop_fd);
      if (errno != EBUSY)
        {
          int saved_errno = errno;

          close (control);
          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                       _("Cannot bind loop device %s for %s: %s"), device,
                       name, g_strerror (saved_errno));
          return NULL;
        }
    }
  close (control);
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
               _("Cannot bind a loop device for %s: every free device was "
                 "taken by another process %d times in a row"), name,
               LOOP_ATTACH_TRIES);
  return NULL;
}

/**
 * nlx_loop_attach:
 * @fd: the volume, a file or block device open for reading
 * @name: the name the loop device carries (its lo_file_name), 1 to
 *   %NLX_LOOP_NAME_MAX bytes, by which nlx_loop_find() finds it again
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Binds a free loop device to @fd, read-only, without partition scanning
 * or direct I/O, in one LOOP_CONFIGURE.  The device stays bound until
 * nlx_loop_detach(), also after this process exits (no autoclear), so
 * that it can be found again after a crash.
 *
 * Returns: (transfer full): the device, e.g. "/dev/loop3"; its node
 *   exists when this returns
 */
char *
nlx_loop_attach (int fd,
                 const char *name,
                 GError **error)
{
  struct loop_config config;

  memset (&config, 0, sizeof config);
  config.info.lo_flags = LO_FLAGS_READ_ONLY;
  return loop_configure (fd, name, &config, NULL, error);
}

/**
 * nlx_loop_attach_full:
 * @fd: the volume, a file or block device open for reading (and for
 *   writing without %NLX_LOOP_READ_ONLY)
 * @name: the name the loop device carries, as for nlx_loop_attach()
 * @flags: #NlxLoopFlags
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Binds a free loop device to @fd without partition scanning, in one
 * LOOP_CONFIGURE.  With %NLX_LOOP_READ_ONLY the loop driver's read-only
 * flag is set.  Without it the block device is made read-only instead
 * (BLKROSET: write(2) fails with EPERM, no filesystem mounts it
 * read-write), and the loop driver refuses LOOP_CHANGE_FD on it, which
 * it allows on read-only loop devices only.  %NLX_LOOP_DIRECT_IO asks
 * for direct I/O, which the kernel drops where the backing store cannot
 * do it.  The device stays bound until nlx_loop_detach(), also after
 * this process exits (no autoclear), so that it can be found again
 * after a crash.
 *
 * Returns: (transfer full): the device, e.g. "/dev/loop3"
 */
char *
nlx_loop_attach_full (int fd,
                      const char *name,
                      NlxLoopFlags flags,
                      GError **error)
{
  struct loop_config config;
  char *device;
  int loop_fd = -1;
  int read_only = 1;

  memset (&config, 0, sizeof config);
  if (flags & NLX_LOOP_READ_ONLY)
    config.info.lo_flags |= LO_FLAGS_READ_ONLY;
  if (flags & NLX_LOOP_DIRECT_IO)
    config.info.lo_flags |= LO_FLAGS_DIRECT_IO;
  device = loop_configure (fd, name, &config, &loop_fd, error);
  if (device == NULL)
    return NULL;
  if (!(flags & NLX_LOOP_READ_ONLY) &&
      ioctl (loop_fd, BLKROSET, &read_only) != 0)
    {
      int saved_errno = errno;

      ioctl (loop_fd, LOOP_CLR_FD, 0);
      close_fd (&loop_fd);
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot make loop device %s for %s read-only: %s"),
                   device, name, g_strerror (saved_errno));
      g_free (device);
      return NULL;
    }
  close_fd (&loop_fd);
  return device;
}

/**
 * nlx_loop_check:
 * @device: a bound loop device, e.g. "/dev/loop3"
 * @backing: what it must read: the stat of the file or block device the
 *   caller opened itself
 * @flags: the #NlxLoopFlags it was made with (%NLX_LOOP_READ_ONLY only
 *   is compared)
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * A loop device's name is no proof of what it reads: whoever holds a
 * descriptor of a loop device can free it and bind it again to a file
 * of their own under any name.  This checks what the kernel says the
 * device reads (LOOP_GET_STATUS64): the same inode as @backing (for a
 * block device, the same device number), from offset 0 with no size
 * limit, with the read-only flag as @flags says.
 *
 * Returns: %TRUE if @device reads exactly @backing
 */
gboolean
nlx_loop_check (const char *device,
                const struct stat *backing,
                NlxLoopFlags flags,
                GError **error)
{
  struct loop_info64 info;
  gboolean read_only;
  gboolean same;
  int fd;

  fd = open (device, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0 || ioctl (fd, LOOP_GET_STATUS64, &info) != 0)
    {
      int saved_errno = errno;

      if (fd >= 0)
        close (fd);
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot read what loop device %s reads: %s"), device,
                   g_strerror (saved_errno));
      return FALSE;
    }
  close (fd);
  info.lo_file_name[LO_NAME_SIZE - 1] = '\0';
  if (S_ISBLK (backing->st_mode))
    same = info.lo_rdevice == (guint64) backing->st_rdev;
  else
    same = info.lo_device == (guint64) backing->st_dev &&
           info.lo_inode == (guint64) backing->st_ino;
  read_only = (info.lo_flags & LO_FLAGS_READ_ONLY) != 0;
  if (!same || info.lo_offset != 0 || info.lo_sizelimit != 0 ||
      read_only != ((flags & NLX_LOOP_READ_ONLY) != 0))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Loop device %s, named “%s”, does not read what its "
                     "name says (it reads inode %llu of "
                     "device %u:%u from offset %llu"
                     "%s): it was rebound by someone else, so nova-lxc "
                     "will not use it; an operator should find who holds "
                     "it (losetup -l) and free it"), device,
                   (const char *) info.lo_file_name,
                   (unsigned long long) info.lo_inode,
                   major (info.lo_device), minor (info.lo_device),
                   (unsigned long long) info.lo_offset,
                   read_only ? _(", read-only") : "");
      return FALSE;
    }
  return TRUE;
}

/**
 * nlx_loop_attach_writable:
 * @fd: a regular file open for reading and writing
 * @name: the name the loop device carries, as for nlx_loop_attach()
 * @loop_fd: (out): the loop device, open; the caller closes it
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Binds a free loop device to @fd, writable, with 4 KiB blocks and
 * direct I/O (the filesystem on it caches; the file underneath need
 * not), and autoclear: the device unbinds itself at its last close, so
 * once what uses it (a mount) is gone, or this process dies before
 * anything does, nothing is left behind.  Keep @loop_fd open until
 * the device is in use.
 *
 * Returns: (transfer full): the device, e.g. "/dev/loop3"
 */
char *
nlx_loop_attach_writable (int fd,
                          const char *name,
                          int *loop_fd,
                          GError **error)
{
  struct loop_config config;

  char *device;
  int writable = 0;

  memset (&config, 0, sizeof config);
  config.block_size = 4096;
  config.info.lo_flags = LO_FLAGS_AUTOCLEAR | LO_FLAGS_DIRECT_IO;
  device = loop_configure (fd, name, &config, loop_fd, error);
  /* A block device's own read-only flag (BLKROSET) outlives the binding
   * that set it: a free loop device last used read-only that way would
   * refuse a writable mount (EACCES). */
  if (device != NULL && ioctl (*loop_fd, BLKROSET, &writable) != 0)
    {
      int saved_errno = errno;

      close_fd (loop_fd);
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot make loop device %s for %s writable: %s"),
                   device, name, g_strerror (saved_errno));
      g_clear_pointer (&device, g_free);
    }
  return device;
}

/* The next bound loop device of /sys/block (only those have
 * /sys/block/loopN/loop) whose status can be read, with its status in
 * *@info; %NULL at the end.  One freed meanwhile is skipped. */
static char *
next_bound_loop (GDir *dir,
                 struct loop_info64 *info)
{
  const char *entry;

  while ((entry = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *bound = NULL;
      g_autofree char *device = NULL;
      int fd;
      int rc;

      if (!g_str_has_prefix (entry, "loop"))
        continue;
      bound = g_build_filename ("/sys/block", entry, "loop", NULL);
      if (!g_file_test (bound, G_FILE_TEST_IS_DIR))
        continue;
      device = g_build_filename ("/dev", entry, NULL);
      fd = open (device, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
      if (fd < 0)
        continue;
      rc = ioctl (fd, LOOP_GET_STATUS64, info);
      close (fd);
      if (rc == 0)
        return g_steal_pointer (&device);
    }
  return NULL;
}

/**
 * nlx_loop_find_backing:
 * @fd: an open file
 *
 * Finds a bound loop device over the file @fd is open on, by the device
 * and inode number the kernel reports for its backing file (never by
 * name or path, which whoever binds a loop device chooses).
 *
 * Returns: (transfer full) (nullable): the first such device, or %NULL
 */
char *
nlx_loop_find_backing (int fd)
{
  g_autoptr(GDir) dir = g_dir_open ("/sys/block", 0, NULL);
  struct stat file;
  struct loop_info64 info;
  char *device;

  if (dir == NULL || fstat (fd, &file) != 0)
    return NULL;
  while ((device = next_bound_loop (dir, &info)) != NULL)
    {
      if (info.lo_device == (guint64) file.st_dev &&
          info.lo_inode == (guint64) file.st_ino)
        return device;
      g_free (device);
    }
  return NULL;
}

/* The names of bound loop devices: only those have /sys/block/loopN/loop. */
static GPtrArray *
find_loops (const char *name,
            gboolean prefix)
{
  g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GDir) dir = g_dir_open ("/sys/block", 0, NULL);
  struct loop_info64 info;
  char *device;

  /* An empty name would match every device, the operator's too. */
  if (dir == NULL || name == NULL || name[0] == '\0')
    return g_steal_pointer (&found);
  while ((device = next_bound_loop (dir, &info)) != NULL)
    {
      info.lo_file_name[LO_NAME_SIZE - 1] = '\0';
      if (info.lo_file_name[0] != '\0' &&
          (prefix ? g_str_has_prefix ((char *) info.lo_file_name, name)
                  : strcmp ((char *) info.lo_file_name, name) == 0))
        g_ptr_array_add (found, device);
      else
        g_free (device);
    }
  return g_steal_pointer (&found);
}

/**
 * nlx_loop_find:
 * @name: a name given to nlx_loop_attach()
 *
 * Returns: (transfer full) (nullable): the bound loop device named
 *   @name, or %NULL if there is none
 */
char *
nlx_loop_find (const char *name)
{
  g_autoptr(GPtrArray) found = find_loops (name, FALSE);

  if (found->len == 0)
    return NULL;
  if (found->len > 1)
    g_warning (_("%u loop devices are named %s; using %s"), found->len, name,
               (char *) found->pdata[0]);
  return g_strdup (found->pdata[0]);
}

/**
 * nlx_loop_find_prefix:
 * @prefix: the start of names given to nlx_loop_attach(); an empty one
 *   finds nothing, never every device
 *
 * Returns: (transfer full) (element-type utf8): the bound loop devices
 *   whose name starts with @prefix, possibly none
 */
GPtrArray *
nlx_loop_find_prefix (const char *prefix)
{
  return find_loops (prefix, TRUE);
}

/**
 * nlx_loop_detach:
 * @device: a loop device, e.g. "/dev/loop3"
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Unbinds @device.  A device that is free already, or gone, is no error.
 *
 * A device still open somewhere (mounted in a container that is still
 * running, or held by a process) cannot be unbound at once; it is marked
 * to unbind itself at its last close and this succeeds: a detach never
 * leaves a loop device behind forever, and the caller cannot do better
 * than wait.  Until then nlx_loop_find() still finds it.  (Since Linux
 * 5.19 LOOP_CLR_FD does exactly that itself; older kernels answer EBUSY
 * and LO_FLAGS_AUTOCLEAR is set here.)
 */
gboolean
nlx_loop_detach (const char *device,
                 GError **error)
{
  struct loop_info64 info;
  struct stat st;
  int fd;

  fd = open (device, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    {
      int saved_errno = errno;

      if (saved_errno == ENOENT || saved_errno == ENXIO ||
          saved_errno == ENODEV)
        return TRUE;
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot open loop device %s: %s"), device,
                   g_strerror (saved_errno));
      return FALSE;
    }
  if (fstat (fd, &st) != 0 || !S_ISBLK (st.st_mode))
    {
      close (fd);
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("%s is not a loop device"), device);
      return FALSE;
    }
  /* A block device's read-only flag (BLKROSET, which device loops of
   * volumes carry) outlives the binding: clear it, or whoever binds the
   * device next gets a read-only one.  Nobody can open it for writing
   * meanwhile but host root: a server's devices cgroup grants `r`. */
  {
    int writable = 0;

    ioctl (fd, BLKROSET, &writable);
  }
  if (ioctl (fd, LOOP_CLR_FD, 0) == 0 || errno == ENXIO)
    {
      close (fd);
      return TRUE;
    }
  if (errno == EBUSY)
    {
      if (ioctl (fd, LOOP_GET_STATUS64, &info) < 0)
        {
          int saved_errno = errno;

          close (fd);
          if (saved_errno == ENXIO)
            return TRUE;
          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                       _("Cannot read the state of loop device %s: %s"),
                       device, g_strerror (saved_errno));
          return FALSE;
        }
      info.lo_flags |= LO_FLAGS_AUTOCLEAR;
      if (ioctl (fd, LOOP_SET_STATUS64, &info) == 0 || errno == ENXIO)
        {
          close (fd);
          g_debug ("Loop device %s is busy; it will be freed at its last "
                   "close", device);
          return TRUE;
        }
    }
  {
    int saved_errno = errno;

    close (fd);
    g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                 _("Cannot free loop device %s: %s"), device,
                 g_strerror (saved_errno));
  }
  return FALSE;
}
