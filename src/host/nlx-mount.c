/* nlx-mount.c: read-only loop devices, and mounts made by the host and
 * placed in a container's mount namespace
 *
 * A volume reaches a container as a loop device whose block device is
 * read-only (see nlx-lxc-volume.c for why it carries no loop read-only
 * flag).  When its filesystem is to be mounted, the host mounts a
 * read-only loop device of its own over that one (read-only, without
 * journal replay) with the new mount API, which gives a mount that is
 * attached nowhere, and moves that mount into the container's mount
 * namespace, so that it never appears in the host's.
 *
 * The daemon is multi-threaded and setns (CLONE_NEWNS) needs a process
 * of one thread, so the work inside a container is done by a forked
 * child that only makes system calls: everything it needs (the path cut
 * into components, file descriptors) is prepared before fork(), and it
 * reports which step failed, with errno, through a pipe. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <glib-unix.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/nlx-error.h"
#include "common/nlx-file.h"
#include "common/nlx-idmap.h"
#include "host/nlx-mount.h"

/* Older C libraries lack the new mount API; the kernel numbers the new
 * system calls alike on every architecture. */
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_fsopen
#define SYS_fsopen 430
#endif
#ifndef SYS_fsconfig
#define SYS_fsconfig 431
#endif
#ifndef SYS_fsmount
#define SYS_fsmount 432
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef FSOPEN_CLOEXEC
#define FSOPEN_CLOEXEC 0x00000001
#endif
#ifndef FSMOUNT_CLOEXEC
#define FSMOUNT_CLOEXEC 0x00000001
#endif
#ifndef FSCONFIG_SET_FLAG
#define FSCONFIG_SET_FLAG 0
#define FSCONFIG_SET_STRING 1
#define FSCONFIG_CMD_CREATE 6
#endif
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#define MOUNT_ATTR_NOSUID 0x00000002
#define MOUNT_ATTR_NODEV 0x00000004
#define MOUNT_ATTR_NOEXEC 0x00000008
#endif
#ifndef MOUNT_ATTR_IDMAP
#define MOUNT_ATTR_IDMAP 0x00100000
#endif
#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#define MOVE_MOUNT_T_EMPTY_PATH 0x00000040
#endif
#ifndef UMOUNT_NOFOLLOW
#define UMOUNT_NOFOLLOW 0x00000008
#endif
#ifndef STATX_MNT_ID
#define STATX_MNT_ID 0x00001000U
#endif
#ifndef LOOP_CONFIGURE
#define LOOP_CONFIGURE 0x4C0A
#endif
#ifndef EUCLEAN
#define EUCLEAN 117
#endif

/* A racing process may take the free device we were given. */
#define LOOP_ATTACH_TRIES 16
/* How long a new /dev/loopN may take to appear. */
#define LOOP_NODE_WAIT_USEC (5 * G_USEC_PER_SEC)
/* A child stuck in a container's filesystem (a hung FUSE server) is
 * killed after this long rather than blocking the daemon's thread. */
#define CHILD_TIMEOUT_MSEC (30 * 1000)

static int
sys_fsopen (const char *fstype,
            unsigned int flags)
{
  return syscall (SYS_fsopen, fstype, flags);
}

static int
sys_fsconfig (int fsfd,
              unsigned int cmd,
              const char *key,
              const void *value,
              int aux)
{
  return syscall (SYS_fsconfig, fsfd, cmd, key, value, aux);
}

static int
sys_fsmount (int fsfd,
             unsigned int flags,
             unsigned int attr_flags)
{
  return syscall (SYS_fsmount, fsfd, flags, attr_flags);
}

static int
sys_move_mount (int from_dirfd,
                const char *from_path,
                int to_dirfd,
                const char *to_path,
                unsigned int flags)
{
  return syscall (SYS_move_mount, from_dirfd, from_path, to_dirfd, to_path,
                  flags);
}

/* As <linux/mount.h> has it, which glibc's <sys/mount.h> conflicts with. */
struct nlx_mount_attr {
  guint64 attr_set;
  guint64 attr_clr;
  guint64 propagation;
  guint64 userns_fd;
};

static int
sys_mount_setattr (int dirfd,
                   const char *path,
                   unsigned int flags,
                   struct nlx_mount_attr *attr)
{
  return syscall (SYS_mount_setattr, dirfd, path, flags, attr, sizeof *attr);
}

static int
sys_open_tree (int dirfd,
               const char *path,
               unsigned int flags)
{
  return syscall (SYS_open_tree, dirfd, path, flags);
}

static void
close_fd (int *fd)
{
  if (*fd >= 0)
    {
      int saved_errno = errno;

      close (*fd);
      errno = saved_errno;
      *fd = -1;
    }
}

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

/* ---- mounts made by the host ------------------------------------------- */

/* What the kernel logged into filesystem context @fsfd ("e ext4: ..."
 * lines, see fsopen(2)), without the severity letters, appended to
 * @messages. */
static void
read_fs_context (int fsfd,
                 GString *messages)
{
  char buf[1024];
  ssize_t n;

  while ((n = read (fsfd, buf, sizeof buf - 1)) > 0)
    {
      char *line = buf;

      buf[n] = '\0';
      g_strchomp (buf);
      if (line[0] != '\0' && line[1] == ' ')
        line += 2;
      if (line[0] == '\0')
        continue;
      if (messages->len > 0)
        g_string_append (messages, "; ");
      g_string_append (messages, line);
    }
}

/* Many filesystems (ext4's "Can't find ext4 filesystem", most of
 * overlayfs) print why they refuse to the kernel log rather than into the
 * filesystem context.  A kernel log reader from now on, or -1. */
static int
kmsg_open (void)
{
  int fd = open ("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

  if (fd >= 0 && lseek (fd, 0, SEEK_END) < 0)
    close_fd (&fd);
  return fd;
}

static gboolean
mentions_word (const char *text,
               const char *word)
{
  size_t len = strlen (word);

  for (const char *p = strstr (text, word); p != NULL;
       p = strstr (p + 1, word))
    if ((p == text || !g_ascii_isalnum (p[-1])) && !g_ascii_isalnum (p[len]))
      return TRUE;
  return FALSE;
}

/* Appends the kernel log's records since kmsg_open() that mention @word
 * (the device's kernel name, e.g. "loop3", or "overlayfs"). */
static void
read_kmsg (int kmsg_fd,
           const char *word,
           GString *messages)
{
  char buf[8192];
  ssize_t n;

  if (kmsg_fd < 0 || word == NULL)
    return;
  for (;;)
    {
      char *text;
      char *end;

      n = read (kmsg_fd, buf, sizeof buf - 1);
      if (n < 0 && errno == EPIPE)
        continue;  /* records lost to a full ring; read on */
      if (n <= 0)
        break;
      buf[n] = '\0';
      /* "priority,sequence,time,flags;text\n KEY=value..." */
      text = strchr (buf, ';');
      if (text == NULL)
        continue;
      text++;
      end = strchr (text, '\n');
      if (end != NULL)
        *end = '\0';
      if (text[0] == '\0' || !mentions_word (text, word))
        continue;
      if (messages->len > 0)
        g_string_append (messages, "; ");
      g_string_append (messages, text);
    }
}

/* The kernel's name of block device @device ("loop3" for /dev/loop3). */
static char *
kernel_device_name (const char *device)
{
  g_autofree char *real = realpath (device, NULL);

  return g_path_get_basename (real != NULL ? real : device);
}

/* An error for a failed step of making a filesystem, with the kernel's
 * own words when it left some in @fsfd or in its log about @word; a
 * filesystem the kernel finds bad is the request's fault, not the
 * host's. */
static void
set_fs_error (GError **error,
              int fsfd,
              int kmsg_fd,
              const char *word,
              int saved_errno,
              const char *source,
              const char *fstype)
{
  g_autoptr(GString) messages = g_string_new (NULL);
  g_autofree char *detail = NULL;

  if (fsfd >= 0)
    read_fs_context (fsfd, messages);
  read_kmsg (kmsg_fd, word, messages);
  if (messages->len > 0)
    detail = g_strdup_printf ("%s (%s)", messages->str,
                              g_strerror (saved_errno));
  else
    detail = g_strdup (g_strerror (saved_errno));
  if (saved_errno == EINVAL || saved_errno == ENOTBLK ||
      saved_errno == EUCLEAN || saved_errno == EBADMSG)
    g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                 _("The kernel refused to mount %s as %s: %s"), source,
                 fstype, detail);
  else
    g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                 _("Cannot mount %s as %s: %s"), source, fstype, detail);
}

static int
fs_open (const char *fstype,
         const char *source,
         GError **error)
{
  int fsfd = sys_fsopen (fstype, FSOPEN_CLOEXEC);

  if (fsfd < 0)
    {
      int saved_errno = errno;

      if (saved_errno == ENODEV)
        g_set_error (error, NLX_DRIVER_ERROR,
                     NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                     _("Cannot mount %s: this kernel has no filesystem of "
                       "type %s"), source, fstype);
      else
        set_fs_error (error, -1, -1, NULL, saved_errno, source, fstype);
    }
  return fsfd;
}

/* Whether /proc/filesystems lists @fstype as one kept on a block device
 * (no "nodev" mark); only such types may be mounted from a volume. */
static gboolean
fstype_is_on_block_device (const char *fstype)
{
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;

  if (!nlx_file_get_contents ("/proc/filesystems", &contents, NULL, NULL))
    return FALSE;
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *tab = strchr (lines[i], '\t');

      if (tab != NULL && strcmp (tab + 1, fstype) == 0)
        return tab == lines[i];
    }
  return FALSE;
}

/**
 * nlx_mount_prepare:
 * @device: a block device, normally a read-only loop device
 * @fstype: its filesystem type, as checked by the caller (e.g. "ext4")
 * @for_root: whether it is to be a container's root filesystem
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Mounts @device read-only, attached nowhere yet: place it with
 * nlx_mount_into_namespace() or nlx_mount_at(); closing the descriptor
 * unplaced unmounts it.  The filesystem is asked not to replay its
 * journal (ext3/ext4 "noload", xfs "norecovery"), so a dirty journal is
 * ignored rather than written, and the mount is nodev, and also nosuid
 * and noexec unless @for_root.  ext2, ext3 and ext4 are mounted with
 * errors=remount-ro whatever their superblock asks for (errors=panic
 * would let a corrupt image panic the host).  Only filesystem types that live on a
 * block device are accepted.
 *
 * A filesystem the kernel refuses gives %NLX_DRIVER_ERROR_INVALID_ARGUMENT
 * with the kernel's own message.
 *
 * Returns: a close-on-exec descriptor of the detached mount, or -1
 */
int
nlx_mount_prepare (const char *device,
                   const char *fstype,
                   gboolean for_root,
                   GError **error)
{
  unsigned int attrs = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV;
  g_autofree char *kernel_name = NULL;
  int kmsg_fd = -1;
  int fsfd;
  int mfd;

  if (fstype == NULL || fstype[0] == '\0' || strchr (fstype, '/') != NULL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Cannot mount %s: “%s” is not a filesystem type"),
                   device, fstype ? fstype : "");
      return -1;
    }
  if (!for_root)
    attrs |= MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC;

  fsfd = fs_open (fstype, device, error);
  if (fsfd < 0)
    return -1;
  /* Checked after fsopen(), which loads the filesystem's module. */
  if (!fstype_is_on_block_device (fstype))
    {
      close (fsfd);
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Cannot mount %s: %s is not a filesystem kept on a "
                     "block device"), device, fstype);
      return -1;
    }
  kernel_name = kernel_device_name (device);
  if (sys_fsconfig (fsfd, FSCONFIG_SET_STRING, "source", device, 0) < 0 ||
      sys_fsconfig (fsfd, FSCONFIG_SET_FLAG, "ro", NULL, 0) < 0)
    goto fail;
  /* The image's own error behaviour (tune2fs -e panic, or
   * errors=panic in its mount_opts) would otherwise stay in force, and
   * ext4 panics on an error even when mounted read-only: one bad block
   * the tenant wrote would take the host down.  An option given here
   * wins over both.  xfs has no such option: it shuts the filesystem
   * down, and only the host's own fs.xfs.panic_mask makes that a
   * panic. */
  if ((strcmp (fstype, "ext2") == 0 || strcmp (fstype, "ext3") == 0 ||
       strcmp (fstype, "ext4") == 0) &&
      sys_fsconfig (fsfd, FSCONFIG_SET_STRING, "errors", "remount-ro", 0) < 0)
    goto fail;
  /* ext2 has no journal, and the ext4 driver that serves it accepts
   * "noload" here only to refuse the mount at creation ("Mount
   * option(s) incompatible with ext2"): it gets none. */
  if (strcmp (fstype, "ext3") == 0 || strcmp (fstype, "ext4") == 0)
    {
      if (sys_fsconfig (fsfd, FSCONFIG_SET_FLAG, "noload", NULL, 0) < 0)
        goto fail;
    }
  else if (strcmp (fstype, "xfs") == 0)
    {
      if (sys_fsconfig (fsfd, FSCONFIG_SET_FLAG, "norecovery", NULL, 0) < 0)
        goto fail;
    }
  kmsg_fd = kmsg_open ();
  if (sys_fsconfig (fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
    goto fail;
  mfd = sys_fsmount (fsfd, FSMOUNT_CLOEXEC, attrs);
  if (mfd < 0)
    goto fail;
  close_fd (&kmsg_fd);
  close (fsfd);
  return mfd;

fail:
  {
    int saved_errno = errno;

    set_fs_error (error, fsfd, kmsg_fd, kernel_name, saved_errno, device,
                  fstype);
    close_fd (&kmsg_fd);
    close (fsfd);
  }
  return -1;
}

/* Opens directory @path of this namespace to mount on, refusing a
 * symbolic link in its place. */
static int
open_target (const char *path,
             GError **error)
{
  int fd;

  if (path == NULL || !g_path_is_absolute (path))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Cannot mount on “%s”: not an absolute path"),
                   path ? path : "");
      return -1;
    }
  fd = open (path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    {
      int saved_errno = errno;

      if (saved_errno == ELOOP || saved_errno == ENOTDIR)
        g_set_error (error, NLX_DRIVER_ERROR,
                     NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                     _("Cannot mount on %s: it is a symbolic link or not a "
                       "directory"), path);
      else
        g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                     _("Cannot mount on %s: %s"), path,
                     g_strerror (saved_errno));
    }
  return fd;
}

/**
 * nlx_mount_at:
 * @mount_fd: a detached mount from nlx_mount_prepare()
 * @path: an existing directory of the daemon's own mount namespace; not
 *   a symbolic link
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Attaches @mount_fd at @path, e.g. as the lower layer of a root
 * filesystem.  The caller still closes @mount_fd.
 */
gboolean
nlx_mount_at (int mount_fd,
              const char *path,
              GError **error)
{
  int target = open_target (path, error);

  if (target < 0)
    return FALSE;
  if (sys_move_mount (mount_fd, "", target, "",
                      MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
    {
      int saved_errno = errno;

      close (target);
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot mount on %s: %s"), path,
                   g_strerror (saved_errno));
      return FALSE;
    }
  close (target);
  return TRUE;
}

/**
 * nlx_mount_writable_ext4:
 * @device: a block device holding an ext4 the host made itself (an
 *   instance's writable layer), never one a tenant gave
 * @path: an existing directory of the daemon's own mount namespace; not
 *   a symbolic link
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Mounts @device read-write at @path, nodev and nosuid (the host never
 * runs or opens what is there: the instance sees it through its
 * overlay, whose own flags count), with errors=remount-ro whatever the
 * superblock says (an error must never panic the host), discard (space
 * the instance frees goes back to the host) and noinit_itable (the file
 * underneath is sparse, so its inode tables read as zeroes already and
 * need no background zeroing).
 */
gboolean
nlx_mount_writable_ext4 (const char *device,
                         const char *path,
                         GError **error)
{
  g_autofree char *kernel_name = kernel_device_name (device);
  int kmsg_fd = -1;
  int fsfd;
  int mfd = -1;
  gboolean ok;

  fsfd = fs_open ("ext4", device, error);
  if (fsfd < 0)
    return FALSE;
  kmsg_fd = kmsg_open ();
  if (sys_fsconfig (fsfd, FSCONFIG_SET_STRING, "source", device, 0) < 0 ||
      sys_fsconfig (fsfd, FSCONFIG_SET_STRING, "errors", "remount-ro", 0) < 0 ||
      sys_fsconfig (fsfd, FSCONFIG_SET_FLAG, "discard", NULL, 0) < 0 ||
      sys_fsconfig (fsfd, FSCONFIG_SET_FLAG, "noinit_itable", NULL, 0) < 0 ||
      sys_fsconfig (fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0 ||
      (mfd = sys_fsmount (fsfd, FSMOUNT_CLOEXEC,
                          MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID)) < 0)
    {
      set_fs_error (error, fsfd, kmsg_fd, kernel_name, errno, device, "ext4");
      ok = FALSE;
    }
  else
    ok = nlx_mount_at (mfd, path, error);
  close_fd (&mfd);
  close_fd (&kmsg_fd);
  close (fsfd);
  return ok;
}

static gboolean
overlay_value_is_valid (const char *what,
                        const char *value,
                        GError **error)
{
  /* ':' separates lower layers and '\' escapes it; ',' separates options
   * in every other way of giving them: none may reach the kernel. */
  if (value == NULL || !g_path_is_absolute (value) ||
      strpbrk (value, ",:\\") != NULL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Cannot use “%s” as the overlay's %s: it must be an "
                     "absolute path without “,”, “:” or “\\”"),
                   value ? value : "", what);
      return FALSE;
    }
  return TRUE;
}

/**
 * nlx_mount_overlay:
 * @lower: the read-only lower directory
 * @upper: the directory that receives writes
 * @work: overlayfs's work directory, on the filesystem of @upper
 * @target: the existing directory to mount the overlay on
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Mounts an overlay of @upper over @lower at @target, nodev.  Paths
 * holding ',', ':' or '\' are refused: overlayfs would read them as
 * separators.
 */
gboolean
nlx_mount_overlay (const char *lower,
                   const char *upper,
                   const char *work,
                   const char *target,
                   GError **error)
{
  int fsfd = -1;
  int mfd = -1;
  int kmsg_fd = -1;
  int target_fd;
  gboolean ok;

  if (!overlay_value_is_valid ("lower directory", lower, error) ||
      !overlay_value_is_valid ("upper directory", upper, error) ||
      !overlay_value_is_valid ("work directory", work, error))
    return FALSE;
  target_fd = open_target (target, error);
  if (target_fd < 0)
    return FALSE;
  fsfd = fs_open ("overlay", target, error);
  if (fsfd < 0)
    {
      close (target_fd);
      return FALSE;
    }
  kmsg_fd = kmsg_open ();
  if (sys_fsconfig (fsfd, FSCONFIG_SET_STRING, "lowerdir", lower, 0) < 0 ||
      sys_fsconfig (fsfd, FSCONFIG_SET_STRING, "upperdir", upper, 0) < 0 ||
      sys_fsconfig (fsfd, FSCONFIG_SET_STRING, "workdir", work, 0) < 0 ||
      sys_fsconfig (fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0 ||
      (mfd = sys_fsmount (fsfd, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV)) < 0)
    {
      set_fs_error (error, fsfd, kmsg_fd, "overlayfs", errno, target,
                    "overlay");
      ok = FALSE;
    }
  else if (sys_move_mount (mfd, "", target_fd, "",
                           MOVE_MOUNT_F_EMPTY_PATH |
                           MOVE_MOUNT_T_EMPTY_PATH) < 0)
    {
      int saved_errno = errno;

      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot mount the overlay on %s: %s"), target,
                   g_strerror (saved_errno));
      ok = FALSE;
    }
  else
    ok = TRUE;
  close_fd (&mfd);
  close_fd (&fsfd);
  close_fd (&kmsg_fd);
  close (target_fd);
  return ok;
}

/**
 * nlx_umount:
 * @path: a mount point of the daemon's mount namespace
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Unmounts @path, never following a symbolic link there.  Nothing
 * mounted (or no @path at all) is no error.  A busy mount is detached
 * lazily: it is gone from @path at once and the kernel lets it go when
 * its last user does.
 */
gboolean
nlx_umount (const char *path,
            GError **error)
{
  int rc = umount2 (path, UMOUNT_NOFOLLOW);

  if (rc < 0 && errno == EBUSY)
    rc = umount2 (path, UMOUNT_NOFOLLOW | MNT_DETACH);
  if (rc == 0 || errno == EINVAL || errno == ENOENT)
    return TRUE;
  {
    int saved_errno = errno;

    g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                 _("Cannot unmount %s: %s"), path, g_strerror (saved_errno));
  }
  return FALSE;
}

/* ---- mounts inside a container ----------------------------------------- */

/* Cuts an absolute path into its components; "/", "." and ".." are
 * refused so that the result names one place below the root. */
static char **
split_path (const char *path,
            GError **error)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) parts = NULL;
  guint n = 0;

  if (path == NULL || path[0] != '/')
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("The mount path “%s” is not an absolute path"),
                   path ? path : "");
      return NULL;
    }
  parts = g_strsplit (path, "/", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    {
      if (parts[i][0] == '\0')
        continue;
      if (strcmp (parts[i], ".") == 0 || strcmp (parts[i], "..") == 0)
        {
          g_set_error (error, NLX_DRIVER_ERROR,
                       NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                       _("The mount path %s must not contain “.” or “..”"),
                       path);
          return NULL;
        }
      g_strv_builder_add (builder, parts[i]);
      n++;
    }
  if (n == 0)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("The mount path %s is the container's root directory"),
                   path);
      return NULL;
    }
  return g_strv_builder_end (builder);
}

/* "/a/b" from the first @n components */
static char *
join_path (char **components,
           guint n)
{
  g_autoptr(GString) path = g_string_new (NULL);

  for (guint i = 0; i < n && components[i] != NULL; i++)
    g_string_append_printf (path, "/%s", components[i]);
  return g_string_free (g_steal_pointer (&path), FALSE);
}

typedef enum {
  STEP_READY,         /* the target is open; mnt_id is its mount */
  STEP_DONE,
  STEP_SETNS,
  STEP_CHROOT,
  STEP_MKDIR,
  STEP_OPEN,
  STEP_STATX,
  STEP_MOVE,
  STEP_UMOUNT,
} ChildStep;

/* What the child writes, one struct per write (less than PIPE_BUF, so
 * never torn). */
typedef struct {
  gint32 step;
  gint32 err;
  gint32 component;   /* the path component it failed on, or -1 */
  guint64 mnt_id;
} ChildReport;

typedef struct {
  pid_t pid;
  char **components;
  guint n_components;
  int ns_fd;
  int root_fd;
  int report_r, report_w;  /* child → parent */
  int go_r, go_w;          /* parent → child, for the mount: go on */
  pid_t child;
  /* The target is an existing regular file (a /proc entry), not a
   * directory made on the way. */
  gboolean file;
} NsJob;

static void
ns_job_clear (NsJob *job)
{
  g_clear_pointer (&job->components, g_strfreev);
  close_fd (&job->ns_fd);
  close_fd (&job->root_fd);
  close_fd (&job->report_r);
  close_fd (&job->report_w);
  close_fd (&job->go_r);
  close_fd (&job->go_w);
  if (job->child > 0)
    {
      int status;

      kill (job->child, SIGKILL);
      while (waitpid (job->child, &status, 0) < 0 && errno == EINTR)
        ;
      job->child = -1;
    }
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (NsJob, ns_job_clear)

/* Opens what the child needs to enter @pid's namespace and root.
 * *gone is set when @pid does not exist. */
static gboolean
ns_job_init (NsJob *job,
             pid_t pid,
             const char *path,
             gboolean *gone,
             GError **error)
{
  g_autofree char *ns = g_strdup_printf ("/proc/%d/ns/mnt", (int) pid);
  g_autofree char *root = g_strdup_printf ("/proc/%d/root", (int) pid);
  int fds[2];

  *job = (NsJob) { .pid = pid, .ns_fd = -1, .root_fd = -1,
                   .report_r = -1, .report_w = -1, .go_r = -1, .go_w = -1,
                   .child = -1 };
  *gone = FALSE;
  job->components = split_path (path, error);
  if (job->components == NULL)
    return FALSE;
  job->n_components = g_strv_length (job->components);
  if (pid <= 0)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("%d is not a process id"), (int) pid);
      return FALSE;
    }
  job->ns_fd = open (ns, O_RDONLY | O_CLOEXEC);
  if (job->ns_fd >= 0)
    job->root_fd = open (root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (job->ns_fd < 0 || job->root_fd < 0)
    {
      int saved_errno = errno;

      *gone = saved_errno == ENOENT || saved_errno == ESRCH;
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot open the mount namespace and root of process "
                     "%d: %s"), (int) pid, g_strerror (saved_errno));
      return FALSE;
    }
  if (pipe2 (fds, O_CLOEXEC) == 0)
    {
      job->report_r = fds[0];
      job->report_w = fds[1];
      /* A socket, so that saying go to a child killed meanwhile gives
       * EPIPE (MSG_NOSIGNAL) rather than SIGPIPE to the daemon. */
      if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0)
        {
          job->go_r = fds[0];
          job->go_w = fds[1];
          return TRUE;
        }
    }
  {
    int saved_errno = errno;

    g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                 _("Cannot create a pipe: %s"), g_strerror (saved_errno));
  }
  return FALSE;
}

/* ---- in the child: system calls only, no allocation, no locks ---- */

static void G_GNUC_NORETURN
child_exit (int report_fd,
            ChildStep step,
            int err,
            int component)
{
  ChildReport report = { .step = step, .err = err, .component = component };

  (void) !write (report_fd, &report, sizeof report);
  _exit (0);
}

/* Closes every descriptor above 2 but those in @keep (sorted here), so
 * that the child holds no other thread's pipe or device open. */
static void
child_close_others (int *keep,
                    int n_keep)
{
  unsigned int from = 3;

  for (int i = 1; i < n_keep; i++)
    for (int j = i; j > 0 && keep[j - 1] > keep[j]; j--)
      {
        int tmp = keep[j];

        keep[j] = keep[j - 1];
        keep[j - 1] = tmp;
      }
  for (int i = 0; i < n_keep; i++)
    {
      if (keep[i] < 0 || (unsigned int) keep[i] < from)
        continue;
      if ((unsigned int) keep[i] > from)
        syscall (SYS_close_range, from, (unsigned int) keep[i] - 1, 0);
      from = (unsigned int) keep[i] + 1;
    }
  syscall (SYS_close_range, from, ~0U, 0);
}

/* Enters the namespace and root of the job's process and walks to the
 * directory of component @n_walk - 1 (the root for 0), creating the
 * missing ones with @create.  No symbolic link is followed: O_NOFOLLOW
 * on every component, on top of the chroot.  Returns its descriptor. */
static int
child_enter_and_walk (const NsJob *job,
                      guint n_walk,
                      gboolean create)
{
  int dir;

  if (setns (job->ns_fd, CLONE_NEWNS) != 0)
    child_exit (job->report_w, STEP_SETNS, errno, -1);
  if (fchdir (job->root_fd) != 0 || chroot (".") != 0 || chdir ("/") != 0)
    child_exit (job->report_w, STEP_CHROOT, errno, -1);
  dir = open ("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0)
    child_exit (job->report_w, STEP_OPEN, errno, -1);
  umask (022);
  for (guint i = 0; i < n_walk; i++)
    {
      const char *name = job->components[i];
      int next;

      if (create && mkdirat (dir, name, 0755) != 0 && errno != EEXIST)
        child_exit (job->report_w, STEP_MKDIR, errno, i);
      next = openat (dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                                O_CLOEXEC);
      if (next < 0)
        {
          int err = errno;
          struct stat st;

          /* With O_DIRECTORY a symbolic link gives ENOTDIR. */
          if (err == ENOTDIR &&
              fstatat (dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
              S_ISLNK (st.st_mode))
            err = ELOOP;
          child_exit (job->report_w, STEP_OPEN, err, i);
        }
      close (dir);
      dir = next;
    }
  return dir;
}

static void G_GNUC_NORETURN
child_mount (const NsJob *job,
             int mount_fd)
{
  int keep[] = { job->ns_fd, job->root_fd, job->report_w, job->go_r,
                 mount_fd };
  ChildReport report = { .step = STEP_READY, .component = -1 };
  struct statx stx;
  char go;
  int dir;

  child_close_others (keep, G_N_ELEMENTS (keep));
  if (job->file)
    {
      int parent = child_enter_and_walk (job, job->n_components - 1, FALSE);
      struct stat st;

      /* O_PATH with O_NOFOLLOW opens a symbolic link itself, which the
       * check below refuses, as it refuses a directory or a device. */
      dir = openat (parent, job->components[job->n_components - 1],
                    O_PATH | O_NOFOLLOW | O_CLOEXEC);
      if (dir < 0)
        child_exit (job->report_w, STEP_OPEN, errno, job->n_components - 1);
      if (fstat (dir, &st) != 0)
        child_exit (job->report_w, STEP_OPEN, errno, job->n_components - 1);
      if (!S_ISREG (st.st_mode))
        child_exit (job->report_w, STEP_OPEN,
                    S_ISLNK (st.st_mode) ? ELOOP : EISDIR,
                    job->n_components - 1);
    }
  else
    dir = child_enter_and_walk (job, job->n_components, TRUE);
  if (syscall (SYS_statx, dir, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW,
               STATX_MNT_ID, &stx) != 0)
    child_exit (job->report_w, STEP_STATX, errno, -1);
  if (!(stx.stx_mask & STATX_MNT_ID))
    child_exit (job->report_w, STEP_STATX, ENOSYS, -1);
  report.mnt_id = stx.stx_mnt_id;
  if (write (job->report_w, &report, sizeof report) != sizeof report)
    _exit (1);
  /* The parent checks the mount we would land in, then says go; end of
   * file means no. */
  if (read (job->go_r, &go, 1) != 1)
    _exit (0);
  if (sys_move_mount (mount_fd, "", dir, "",
                      MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
    child_exit (job->report_w, STEP_MOVE, errno, -1);
  child_exit (job->report_w, STEP_DONE, 0, -1);
}

static void G_GNUC_NORETURN
child_umount (const NsJob *job)
{
  int keep[] = { job->ns_fd, job->root_fd, job->report_w };
  const char *last = job->components[job->n_components - 1];
  int dir;

  child_close_others (keep, G_N_ELEMENTS (keep));
  dir = child_enter_and_walk (job, job->n_components - 1, FALSE);
  if (fchdir (dir) != 0)
    child_exit (job->report_w, STEP_OPEN, errno, -1);
  if (umount2 (last, MNT_DETACH | UMOUNT_NOFOLLOW) != 0)
    child_exit (job->report_w, STEP_UMOUNT, errno, job->n_components - 1);
  child_exit (job->report_w, STEP_DONE, 0, -1);
}

/* ---- back in the parent ---- */

static gboolean
ns_job_fork (NsJob *job,
             int mount_fd,
             GError **error)
{
  job->child = fork ();
  if (job->child < 0)
    {
      int saved_errno = errno;

      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot start a process to enter the mount namespace of "
                     "process %d: %s"), (int) job->pid,
                   g_strerror (saved_errno));
      return FALSE;
    }
  if (job->child == 0)
    {
      if (mount_fd >= 0)
        child_mount (job, mount_fd);
      child_umount (job);
    }
  /* Only the child keeps its ends, so that either side sees the other
   * end at once if it dies. */
  close_fd (&job->report_w);
  close_fd (&job->go_r);
  return TRUE;
}

static gboolean
ns_job_read (NsJob *job,
             ChildReport *report,
             GError **error)
{
  struct pollfd pfd = { .fd = job->report_r, .events = POLLIN };
  ssize_t n;
  int rc;

  do
    rc = poll (&pfd, 1, CHILD_TIMEOUT_MSEC);
  while (rc < 0 && errno == EINTR);
  if (rc == 0)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("The mount namespace of process %d did not answer in "
                     "%d seconds (is a filesystem in it hung?)"),
                   (int) job->pid, CHILD_TIMEOUT_MSEC / 1000);
      return FALSE;
    }
  do
    n = read (job->report_r, report, sizeof *report);
  while (n < 0 && errno == EINTR);
  if (n != sizeof *report)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("The process entering the mount namespace of process "
                     "%d died without a word"), (int) job->pid);
      return FALSE;
    }
  return TRUE;
}

/* Turns the child's report of a failed step into an error. */
static void
set_child_error (GError **error,
                 const NsJob *job,
                 const ChildReport *report,
                 const char *path)
{
  int err = report->err;
  g_autofree char *where = report->component >= 0
    ? join_path (job->components, report->component + 1)
    : g_strdup (path);

  switch (report->step)
    {
    case STEP_SETNS:
    case STEP_CHROOT:
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot enter the mount namespace and root of process "
                     "%d: %s"), (int) job->pid, g_strerror (err));
      return;
    case STEP_MKDIR:
    case STEP_OPEN:
      if (err == ELOOP)
        g_set_error (error, NLX_DRIVER_ERROR,
                     NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                     _("Cannot use %s in the container of process %d: %s is "
                       "a symbolic link"), path, (int) job->pid, where);
      else if (err == EISDIR)
        g_set_error (error, NLX_DRIVER_ERROR,
                     NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                     _("Cannot use %s in the container of process %d: it is "
                       "not a regular file"), path, (int) job->pid);
      else if (err == ENOTDIR)
        g_set_error (error, NLX_DRIVER_ERROR,
                     NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                     _("Cannot use %s in the container of process %d: %s is "
                       "not a directory"), path, (int) job->pid, where);
      else
        g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                     report->step == STEP_MKDIR
                     ? _("Cannot create directory %s in the container of "
                         "process %d: %s")
                     : _("Cannot open directory %s in the container of "
                         "process %d: %s"),
                     where, (int) job->pid, g_strerror (err));
      return;
    case STEP_UMOUNT:
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot unmount %s in the container of process %d: %s"),
                   path, (int) job->pid, g_strerror (err));
      return;
    default:
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot mount on %s in the container of process %d: %s"),
                   path, (int) job->pid, g_strerror (err));
      return;
    }
}

/* The optional fields ("shared:N", "master:N", ...) of a mountinfo line,
 * if its mount id is @mnt_id (any id for G_MAXUINT64). */
static char **
mountinfo_optional_fields (const char *line,
                           guint64 mnt_id)
{
  g_auto(GStrv) fields = g_strsplit (line, " ", -1);
  g_autoptr(GStrvBuilder) builder = NULL;

  if (g_strv_length (fields) < 7)
    return NULL;
  if (mnt_id != G_MAXUINT64 &&
      g_ascii_strtoull (fields[0], NULL, 10) != mnt_id)
    return NULL;
  builder = g_strv_builder_new ();
  for (guint i = 6; fields[i] != NULL && strcmp (fields[i], "-") != 0; i++)
    g_strv_builder_add (builder, fields[i]);
  return g_strv_builder_end (builder);
}

static char **
read_mountinfo (pid_t pid,
                GError **error)
{
  g_autofree char *file = g_strdup_printf ("/proc/%d/mountinfo", (int) pid);
  g_autofree char *contents = NULL;

  if (!nlx_file_get_contents (file, &contents, NULL, error))
    return NULL;
  return g_strsplit (contents, "\n", -1);
}

/* A mount moved into a mount that is shared with a mount of the host
 * (the same peer group, or a host mount that is its slave) would be
 * copied into the host too.  Refuse that rather than leak. */
static gboolean
check_propagation (const NsJob *job,
                   guint64 mnt_id,
                   const char *path,
                   GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_auto(GStrv) theirs = read_mountinfo (job->pid, &local_error);
  g_auto(GStrv) ours = NULL;
  g_autofree char *group = NULL;
  gboolean found = FALSE;

  if (theirs == NULL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot read the mounts of process %d: %s"),
                   (int) job->pid, local_error->message);
      return FALSE;
    }
  for (guint i = 0; theirs[i] != NULL && !found; i++)
    {
      g_auto(GStrv) optional = mountinfo_optional_fields (theirs[i], mnt_id);

      if (optional == NULL)
        continue;
      found = TRUE;
      for (guint j = 0; optional[j] != NULL; j++)
        if (g_str_has_prefix (optional[j], "shared:"))
          group = g_strdup (optional[j] + strlen ("shared:"));
    }
  if (!found)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot mount on %s in the container of process %d: the "
                     "mount holding it is not among the container's mounts"),
                   path, (int) job->pid);
      return FALSE;
    }
  if (group == NULL)
    return TRUE;

  ours = read_mountinfo (getpid (), error);
  if (ours == NULL)
    return FALSE;
  for (guint i = 0; ours[i] != NULL; i++)
    {
      g_auto(GStrv) optional = mountinfo_optional_fields (ours[i],
                                                          G_MAXUINT64);

      for (guint j = 0; optional != NULL && optional[j] != NULL; j++)
        {
          const char *colon = strchr (optional[j], ':');

          if (colon != NULL && strcmp (colon + 1, group) == 0 &&
              (g_str_has_prefix (optional[j], "shared:") ||
               g_str_has_prefix (optional[j], "master:")))
            {
              g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                           _("Cannot mount on %s in the container of process "
                             "%d: its mount propagates to the host (peer "
                             "group %s), so the volume would appear on the "
                             "host too; the container's mounts must be "
                             "private or slaves of the host's"),
                           path, (int) job->pid, group);
              return FALSE;
            }
        }
    }
  return TRUE;
}

static gboolean mount_into_namespace (int mount_fd,
                                      pid_t pid,
                                      const char *path,
                                      gboolean file,
                                      GError **error);

/**
 * nlx_mount_into_namespace:
 * @mount_fd: a detached mount from nlx_mount_prepare()
 * @pid: a process of the container, normally its init
 * @path: an absolute path in the container, without "." or ".."
 *   components, and not "/"
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Attaches @mount_fd at @path inside the mount namespace and root
 * directory of @pid, creating the missing directories of @path there
 * (mode 0755, owned by the host's root).  The mount never appears in the
 * daemon's namespace: a target whose mount would propagate it back to
 * the host's is refused.  Symbolic links anywhere in @path are refused
 * (%NLX_DRIVER_ERROR_INVALID_ARGUMENT), so that the container cannot
 * steer the mount elsewhere; so are a bad @path and a component that is
 * not a directory.  Whatever is mounted at @path already stays, under the
 * new mount.  The caller still closes @mount_fd.
 */
gboolean
nlx_mount_into_namespace (int mount_fd,
                          pid_t pid,
                          const char *path,
                          GError **error)
{
  return mount_into_namespace (mount_fd, pid, path, FALSE, error);
}

/**
 * nlx_mount_file_into_namespace:
 * @mount_fd: a detached mount of a file, e.g. from nlx_mount_clone()
 * @pid: a process of the container, normally its init
 * @path: an absolute path in the container, without "." or ".."
 *   components: an existing regular file (a /proc entry)
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * As nlx_mount_into_namespace(), for a file: nothing is created (a
 * missing @path fails), and a @path that is a symbolic link, a directory
 * or anything but a regular file is refused
 * (%NLX_DRIVER_ERROR_INVALID_ARGUMENT).
 */
gboolean
nlx_mount_file_into_namespace (int mount_fd,
                               pid_t pid,
                               const char *path,
                               GError **error)
{
  return mount_into_namespace (mount_fd, pid, path, TRUE, error);
}

static gboolean
mount_into_namespace (int mount_fd,
                      pid_t pid,
                      const char *path,
                      gboolean file,
                      GError **error)
{
  g_auto(NsJob) job = { .ns_fd = -1, .root_fd = -1, .report_r = -1,
                        .report_w = -1, .go_r = -1, .go_w = -1,
                        .child = -1 };
  ChildReport report;
  gboolean gone;
  int status;

  if (mount_fd < 0)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Cannot mount on %s: no mount given"), path);
      return FALSE;
    }
  if (!ns_job_init (&job, pid, path, &gone, error))
    return FALSE;
  job.file = file;
  if (!ns_job_fork (&job, mount_fd, error) ||
      !ns_job_read (&job, &report, error))
    return FALSE;
  if (report.step != STEP_READY)
    {
      set_child_error (error, &job, &report, path);
      return FALSE;
    }
  if (!check_propagation (&job, report.mnt_id, path, error))
    return FALSE;
  if (send (job.go_w, "y", 1, MSG_NOSIGNAL) != 1)
    {
      int saved_errno = errno;

      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot mount on %s in the container of process %d: %s"),
                   path, (int) pid, g_strerror (saved_errno));
      return FALSE;
    }
  if (!ns_job_read (&job, &report, error))
    return FALSE;
  if (report.step != STEP_DONE)
    {
      set_child_error (error, &job, &report, path);
      return FALSE;
    }
  while (waitpid (job.child, &status, 0) < 0 && errno == EINTR)
    ;
  job.child = -1;
  return TRUE;
}

/**
 * nlx_umount_in_namespace:
 * @pid: a process of the container, normally its init
 * @path: an absolute path in the container, as given to
 *   nlx_mount_into_namespace()
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Detaches the mount at @path inside the mount namespace and root of
 * @pid; the kernel lets it go when the last file open in it is closed.
 * The directory stays.  Nothing mounted there, no @path, a symbolic
 * link or a file on the way to it (nothing can have been mounted through
 * one), or no process @pid any more (a stopped container took its mounts
 * with it) is no error.  Symbolic links in @path are not followed.
 */
gboolean
nlx_umount_in_namespace (pid_t pid,
                         const char *path,
                         GError **error)
{
  g_auto(NsJob) job = { .ns_fd = -1, .root_fd = -1, .report_r = -1,
                        .report_w = -1, .go_r = -1, .go_w = -1,
                        .child = -1 };
  g_autoptr(GError) local_error = NULL;
  ChildReport report;
  gboolean gone;
  int status;

  if (!ns_job_init (&job, pid, path, &gone, &local_error))
    {
      if (gone)
        return TRUE;
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (!ns_job_fork (&job, -1, error) || !ns_job_read (&job, &report, error))
    return FALSE;
  while (waitpid (job.child, &status, 0) < 0 && errno == EINTR)
    ;
  job.child = -1;
  if (report.step == STEP_DONE)
    return TRUE;
  if ((report.step == STEP_UMOUNT || report.step == STEP_OPEN) &&
      (report.err == EINVAL || report.err == ENOENT))
    return TRUE;
  /* A symbolic link or a file on the way: nlx_mount_into_namespace()
   * never mounts through one, so nothing of ours is there.  Refusing
   * would stop the undo of an attach that such a path made fail. */
  if (report.step == STEP_OPEN &&
      (report.err == ELOOP || report.err == ENOTDIR))
    return TRUE;
  set_child_error (error, &job, &report, path);
  return FALSE;
}

/* Undoes mountinfo's octal escapes (\040 for a space, \134 for '\'...). */
static char *
mountinfo_unescape (const char *field)
{
  GString *out = g_string_sized_new (strlen (field));

  for (const char *p = field; *p != '\0'; p++)
    {
      if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' &&
          p[2] >= '0' && p[2] <= '7' && p[3] >= '0' && p[3] <= '7')
        {
          g_string_append_c (out, (char) (((p[1] - '0') << 6) |
                                          ((p[2] - '0') << 3) |
                                          (p[3] - '0')));
          p += 3;
        }
      else
        g_string_append_c (out, *p);
    }
  return g_string_free (out, FALSE);
}

/**
 * nlx_mount_is_in_namespace:
 * @pid: a process; its mount namespace and root are looked at
 * @path: an absolute path as @pid sees it
 *
 * Returns: whether something is mounted at @path for @pid (%FALSE also
 *   when @pid does not exist or @path is not a clean absolute path)
 */
gboolean
nlx_mount_is_in_namespace (pid_t pid,
                           const char *path)
{
  g_auto(GStrv) components = NULL;
  g_auto(GStrv) lines = NULL;
  g_autofree char *wanted = NULL;

  if (path != NULL && strcmp (path, "/") == 0)
    wanted = g_strdup ("/");
  else if ((components = split_path (path, NULL)) != NULL)
    wanted = join_path (components, G_MAXUINT);
  else
    return FALSE;
  lines = read_mountinfo (pid, NULL);
  if (lines == NULL)
    return FALSE;
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) fields = g_strsplit (lines[i], " ", 6);
      g_autofree char *mount_point = NULL;

      if (g_strv_length (fields) < 6)
        continue;
      mount_point = mountinfo_unescape (fields[4]);
      if (strcmp (mount_point, wanted) == 0)
        return TRUE;
    }
  return FALSE;
}

/* ---- user namespaces and idmapped mounts ---------------------------------- */

static gboolean
write_map (pid_t pid,
           const char *file,
           const char *text,
           GError **error)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/%s", (int) pid, file);
  g_autoptr(GError) local_error = NULL;

  if (g_file_set_contents_full (path, text, -1, G_FILE_SET_CONTENTS_NONE, 0,
                                &local_error))
    return TRUE;
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
               _("Cannot write the user namespace's %s: %s"), file,
               local_error->message);
  return FALSE;
}

/**
 * nlx_userns_open:
 * @uid_map: (element-type NlxIdMapRange): uids inside -> host uids
 * @gid_map: (element-type NlxIdMapRange): gids inside -> host gids
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Makes a user namespace with these maps and nothing in it, as
 * mount_setattr(MOUNT_ATTR_IDMAP) wants one.  A forked child unshares it
 * and is gone before this returns; the namespace lives on through the fd.
 *
 * Returns: an fd of the namespace, or -1
 */
int
nlx_userns_open (GArray *uid_map,
                 GArray *gid_map,
                 GError **error)
{
  g_autofree char *uids = nlx_idmap_to_kernel (uid_map);
  g_autofree char *gids = nlx_idmap_to_kernel (gid_map);
  g_autofree char *ns_path = NULL;
  int ready[2], hold[2];
  gboolean ok = FALSE;
  char byte = 0;
  pid_t pid;
  int fd = -1;

  if (!g_unix_open_pipe (ready, FD_CLOEXEC, error))
    return -1;
  if (!g_unix_open_pipe (hold, FD_CLOEXEC, error))
    {
      close (ready[0]);
      close (ready[1]);
      return -1;
    }
  pid = fork ();
  if (pid == 0)
    {
      /* Only raw system calls here: another thread may hold a lock.
       * Without its copy of the write end, the read below ends when the
       * parent closes its own. */
      close (hold[1]);
      close (ready[0]);
      byte = unshare (CLONE_NEWUSER) == 0 ? 1 : 0;
      if (write (ready[1], &byte, 1) != 1)
        _exit (1);
      /* Until the parent has the namespace's fd. */
      while (read (hold[0], &byte, 1) < 0 && errno == EINTR)
        ;
      _exit (0);
    }
  close (ready[1]);
  close (hold[0]);
  if (pid < 0)
    g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                 _("Cannot fork to make a user namespace: %s"),
                 g_strerror (errno));
  else if (read (ready[0], &byte, 1) != 1 || byte != 1)
    g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                 _("Cannot make a user namespace (is "
                   "kernel.unprivileged_userns_clone or user.max_user_namespaces "
                   "zero?)"));
  else if (write_map (pid, "uid_map", uids, error) &&
           write_map (pid, "setgroups", "deny", error) &&
           write_map (pid, "gid_map", gids, error))
    {
      ns_path = g_strdup_printf ("/proc/%d/ns/user", (int) pid);
      fd = open (ns_path, O_RDONLY | O_CLOEXEC);
      ok = fd >= 0;
      if (!ok)
        g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                     _("Cannot open %s: %s"), ns_path, g_strerror (errno));
    }
  close (ready[0]);
  close (hold[1]);
  if (pid > 0)
    waitpid (pid, NULL, 0);
  return ok ? fd : -1;
}

/**
 * nlx_mount_idmap:
 * @mount_fd: a detached mount (from nlx_mount_prepare() or open_tree)
 * @userns_fd: a user namespace from nlx_userns_open()
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Makes the detached mount idmapped and read-only: a file owned by id N
 * on disk shows as the host id N maps to, so an image owned by root
 * serves an instance whose root is an unprivileged host uid, without
 * changing a byte of the image.
 */
gboolean
nlx_mount_idmap (int mount_fd,
                 int userns_fd,
                 GError **error)
{
  struct nlx_mount_attr attr = {
    .attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_RDONLY,
    .userns_fd = (guint64) userns_fd,
  };

  if (sys_mount_setattr (mount_fd, "", AT_EMPTY_PATH, &attr) == 0)
    return TRUE;
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
               _("Cannot make an idmapped mount: %s (the filesystem must "
                 "support idmapped mounts)"), g_strerror (errno));
  return FALSE;
}

/**
 * nlx_mount_idmapped:
 * @source: a host directory
 * @userns_fd: a user namespace from nlx_userns_open()
 * @target: an existing directory to mount on
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Mounts @source at @target read-only and idmapped (nlx_mount_idmap()),
 * without what is mounted below @source.
 */
gboolean
nlx_mount_idmapped (const char *source,
                    int userns_fd,
                    const char *target,
                    GError **error)
{
  int fd = sys_open_tree (AT_FDCWD, source, OPEN_TREE_CLONE | O_CLOEXEC);
  gboolean ok;

  if (fd < 0)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot open %s to mount it idmapped: %s"), source,
                   g_strerror (errno));
      return FALSE;
    }
  ok = nlx_mount_idmap (fd, userns_fd, error) && nlx_mount_at (fd, target, error);
  close (fd);
  return ok;
}

/**
 * nlx_mount_clone:
 * @source: a host file or directory, e.g. one of lxcfs's files
 * @read_only: whether the copy is read-only
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * A detached bind mount of @source (without what is mounted below it),
 * private, nosuid, nodev and noexec, for nlx_mount_into_namespace() or
 * nlx_mount_file_into_namespace().
 *
 * Returns: the mount's descriptor (close-on-exec), or -1
 */
int
nlx_mount_clone (const char *source,
                 gboolean read_only,
                 GError **error)
{
  /* A clone of a shared mount (the host's / is shared) joins its peer
   * group; private, nothing propagates between the copy and the host. */
  struct nlx_mount_attr attr = {
    .attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC |
                (read_only ? MOUNT_ATTR_RDONLY : 0),
    .propagation = MS_PRIVATE,
  };
  int fd = sys_open_tree (AT_FDCWD, source, OPEN_TREE_CLONE | O_CLOEXEC);

  if (fd < 0 || sys_mount_setattr (fd, "", AT_EMPTY_PATH, &attr) != 0)
    {
      int saved_errno = errno;

      if (fd >= 0)
        close (fd);
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot make a bind mount of %s: %s"), source,
                   g_strerror (saved_errno));
      return -1;
    }
  return fd;
}
