/* nlx-lxc-disk.c: an instance's writable layer as a filesystem of its
 * flavor's root_gb
 *
 * Whatever an instance writes to its root lands in its overlay's upper
 * directory.  On instances_path's own filesystem that would be bounded
 * only by the host's free space, so an instance whose flavor has a
 * root_gb gets a filesystem of exactly that size for its upper and work
 * directories: an ext4 in a sparse file, DIR/disk.img, mounted through a
 * loop device at DIR/disk.  Writing past it fails with ENOSPC inside;
 * df / inside shows its size (overlayfs reports its upper filesystem);
 * the file never holds more than root_gb on the host, and space the
 * instance frees is given back (discard).
 *
 * Project quotas would cost no loop device, but need instances_path on
 * a filesystem mounted with prjquota, which hosts rarely have (the
 * build machines' ext4 is mounted noquota) and which cannot be turned
 * on at run time.
 *
 * The loop device is made at each mount and unbinds itself when the
 * mount goes (autoclear), so none outlives its instance's mount, even
 * after a crash of the daemon.  It is never given to the container, and
 * the file is root's, mode 0600: nobody but the host writes the
 * filesystem's metadata. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "common/nlx-error.h"
#include "host/nlx-mount.h"
#include "lxc/nlx-lxc-disk.h"
#include "lxc/nlx-lxc-volume.h"

#define LOOP_DEVICE_NAME "disk"

static char *
find_program (const char *name)
{
  char *path = g_find_program_in_path (name);

  if (path == NULL)
    path = g_build_filename ("/usr/sbin", name, NULL);
  return path;
}

/**
 * nlx_lxc_disk_create:
 * @dir: the instance's directory (made 0711 if missing)
 * @root_gb: the size, in GiB; more than 0
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Makes DIR/disk.img, a sparse file of @root_gb GiB with an empty ext4
 * on it: no reserved blocks (all of it is the instance's), 4 KiB blocks
 * as the loop device has, inode tables and journal left unwritten (they
 * read as zeroes), so it costs a few hundred KiB and tens of
 * milliseconds whatever its size.  An existing file is an error;
 * nothing is left behind on failure.
 */
gboolean
nlx_lxc_disk_create (const char *dir,
                     guint root_gb,
                     GError **error)
{
  g_autofree char *path = g_build_filename (dir, NLX_LXC_DISK_FILE, NULL);
  g_autofree char *mkfs = find_program ("mkfs.ext4");
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) local_error = NULL;
  const char *argv[] = {
    mkfs, "-q", "-F", "-t", "ext4", "-b", "4096", "-m", "0", "-L", "nlx-root",
    "-E", "lazy_itable_init=1,lazy_journal_init=1,nodiscard,root_owner=0:0",
    path, NULL
  };
  int status;
  int fd;

  g_return_val_if_fail (root_gb > 0, FALSE);
  if (g_mkdir (dir, 0711) != 0 && errno != EEXIST)
    {
      int saved_errno = errno;

      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot create directory %s: %s"), dir,
                   g_strerror (saved_errno));
      return FALSE;
    }
  fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0 || ftruncate (fd, (off_t) root_gb << 30) != 0)
    {
      int saved_errno = errno;

      if (fd >= 0)
        {
          close (fd);
          g_unlink (path);
        }
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot make the %u GiB root disk %s: %s"), root_gb,
                   path, g_strerror (saved_errno));
      return FALSE;
    }
  close (fd);

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_CLOEXEC_PIPES, NULL,
                     NULL, &out, &err, &status, &local_error) ||
      !g_spawn_check_wait_status (status, &local_error))
    {
      if (err != NULL)
        g_strstrip (err);
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot make a filesystem on the root disk %s with %s "
                     "(is e2fsprogs installed?): %s%s%s"), path, mkfs,
                   local_error->message, err && *err ? ": " : "",
                   err ? err : "");
      g_unlink (path);
      return FALSE;
    }
  return TRUE;
}

/* Whether DIR has a root disk; anything but a regular file there is an
 * error. */
static gboolean
has_disk (const char *path,
          gboolean *found,
          GError **error)
{
  GStatBuf st;

  *found = FALSE;
  if (g_lstat (path, &st) != 0)
    {
      int saved_errno = errno;

      if (saved_errno == ENOENT)
        return TRUE;
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot read the root disk %s: %s"), path,
                   g_strerror (saved_errno));
      return FALSE;
    }
  if (!S_ISREG (st.st_mode))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("The root disk %s is not a regular file; move it away "
                     "and rebuild the instance"), path);
      return FALSE;
    }
  *found = TRUE;
  return TRUE;
}

/**
 * nlx_lxc_disk_mount:
 * @uuid: the instance, whose name the loop device carries
 *   ("nlx:UUID:disk", so that releasing its loop devices finds it)
 * @dir: the instance's directory
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Mounts DIR/disk.img at DIR/disk through a new autoclear loop device,
 * unless it is mounted there already (a daemon restart keeps mounts) or
 * there is no such file (root_gb 0, or an instance made before root
 * disks existed: nothing to do).  A loop device still bound to the file
 * while nothing is mounted at DIR/disk (a lazy unmount whose last user
 * holds on) is refused rather than mounted twice, which would corrupt
 * it.
 */
gboolean
nlx_lxc_disk_mount (const char *uuid,
                    const char *dir,
                    GError **error)
{
  g_autofree char *path = g_build_filename (dir, NLX_LXC_DISK_FILE, NULL);
  g_autofree char *target = g_build_filename (dir, NLX_LXC_DISK_DIR, NULL);
  g_autofree char *name = nlx_lxc_volume_loop_name (uuid, LOOP_DEVICE_NAME);
  g_autofree char *busy = NULL;
  g_autofree char *loop = NULL;
  gboolean found;
  gboolean ok;
  int loop_fd = -1;
  int fd;

  if (!has_disk (path, &found, error))
    return FALSE;
  if (!found || nlx_mount_is_mount_point (target))
    return TRUE;
  if (g_mkdir (target, 0755) != 0 && errno != EEXIST)
    {
      int saved_errno = errno;

      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot create directory %s: %s"), target,
                   g_strerror (saved_errno));
      return FALSE;
    }
  fd = open (path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot open the root disk %s: %s"), path,
                   g_strerror (saved_errno));
      return FALSE;
    }
  busy = nlx_loop_find_backing (fd);
  if (busy != NULL)
    {
      close (fd);
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("The root disk of instance %s is still in use by %s "
                     "but not mounted at %s; stop what holds it (see "
                     "/proc/*/mountinfo) and try again"), uuid, busy, target);
      return FALSE;
    }
  loop = nlx_loop_attach_writable (fd, name, &loop_fd, error);
  close (fd);
  if (loop == NULL)
    return FALSE;
  ok = nlx_mount_writable_ext4 (loop, target, error);
  /* The mount holds the device now; without one it unbinds here. */
  close (loop_fd);
  if (!ok)
    g_prefix_error (error, _("Cannot mount the root disk of instance %s: "),
                    uuid);
  return ok;
}

/**
 * nlx_lxc_disk_layer:
 * @dir: the instance's directory
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Where the overlay's upper/ and work/ go: DIR/disk when the instance
 * has a root disk, which must be mounted (never a write into the bare
 * mount point on the host's filesystem, past the limit), else DIR.
 *
 * Returns: (transfer full): the directory, or %NULL
 */
char *
nlx_lxc_disk_layer (const char *dir,
                    GError **error)
{
  g_autofree char *path = g_build_filename (dir, NLX_LXC_DISK_FILE, NULL);
  g_autofree char *target = g_build_filename (dir, NLX_LXC_DISK_DIR, NULL);
  gboolean found;

  if (!has_disk (path, &found, error))
    return NULL;
  if (!found)
    return g_strdup (dir);
  if (!nlx_mount_is_mount_point (target))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("The root disk %s is not mounted at %s"), path, target);
      return NULL;
    }
  return g_steal_pointer (&target);
}

/**
 * nlx_lxc_disk_umount:
 * @dir: the instance's directory
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Unmounts DIR/disk (its loop device then unbinds itself); succeeds
 * when nothing is mounted.  The overlay over it goes first.
 */
gboolean
nlx_lxc_disk_umount (const char *dir,
                     GError **error)
{
  g_autofree char *target = g_build_filename (dir, NLX_LXC_DISK_DIR, NULL);

  return nlx_umount (target, error);
}
