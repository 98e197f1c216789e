/* nlx-lxc-volume.c: volumes of LXC instances on this host
 *
 * An instance must never hold a loop device the host mounts: the loop
 * driver takes LOOP_CHANGE_FD, LOOP_CLR_FD and LOOP_CONFIGURE from
 * anyone with a descriptor, read-only or not, so a tenant holding the
 * device could swap the file under a live host mount, or free it and
 * bind a file of its own under another attachment's name.  This kernel
 * has no device-mapper, and a dm-linear target spanning a whole device
 * would pass those ioctls through to the loop device anyway.  So each
 * attachment gets two loop devices:
 *
 * - the device loop, "nlx:UUID:vdX:dev", over the volume, is the one the
 *   instance gets at vdX.  It is bound without the loop driver's
 *   read-only flag (the block device is made read-only instead), and
 *   LOOP_CHANGE_FD is refused on such devices; the mount loop keeps it
 *   open, so LOOP_CLR_FD only marks it to be freed once that is gone
 *   and LOOP_CONFIGURE finds it busy.  Nothing the instance can do to
 *   it changes what it reads.
 * - the mount loop, "nlx:UUID:vdX", read-only over the device loop, is
 *   the one the host probes and mounts.  No instance has a node for it.
 *
 * A loop device found by its name is used only after LOOP_GET_STATUS64
 * says it reads what the daemon itself opened (the volume, or the
 * device loop); anything else is refused with the reason, never
 * mounted.  The names still let whatever an instance holds be found and
 * freed after a crash without any record.  A filesystem is only ever
 * mounted after libblkid has found exactly one whitelisted type on the
 * mount loop itself, the same bytes the kernel will read. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sys/stat.h>

#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "common/nlx-error.h"
#include "host/nlx-mount.h"
#include "lxc/nlx-lxc-disk.h"
#include "lxc/nlx-lxc-volume.h"

#define LOOP_NAME_PREFIX "nlx:"
#define DEVICE_LOOP_SUFFIX ":dev"
#define ROOT_DEVICE "root"

/**
 * nlx_lxc_volume_loop_name:
 * @uuid: the instance
 * @device: (nullable): the attachment's device (/dev/vdX), or %NULL for
 *   the prefix every loop device of the instance has
 *
 * Returns: (transfer full): the name of the attachment's mount loop
 *   (the device loop's adds ":dev")
 */
char *
nlx_lxc_volume_loop_name (const char *uuid,
                          const char *device)
{
  if (device == NULL)
    return g_strdup_printf (LOOP_NAME_PREFIX "%s:", uuid);
  if (g_str_has_prefix (device, "/dev/"))
    device += strlen ("/dev/");
  return g_strdup_printf (LOOP_NAME_PREFIX "%s:%s", uuid, device);
}

static char *
device_loop_name (const char *uuid,
                  const char *device)
{
  g_autofree char *name = nlx_lxc_volume_loop_name (uuid, device);

  return g_strconcat (name, DEVICE_LOOP_SUFFIX, NULL);
}

/* Probes the filesystem on @loop and returns its whitelisted type. */
static char *
probe (const NlxVolumeSettings *settings,
       const char *loop,
       const char *volume_id,
       GError **error)
{
  int fd = open (loop, O_RDONLY | O_CLOEXEC);
  char *fstype;

  if (fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot open %s to probe volume %s: %s"), loop,
                   volume_id, g_strerror (saved_errno));
      return NULL;
    }
  fstype = nlx_volume_probe (settings, fd, volume_id, error);
  close (fd);
  return fstype;
}

/* Opens volume @volume_id (for writing with @writable) and stats it. */
static int
open_volume (const NlxVolumeSettings *settings,
             const char *volume_id,
             gboolean writable,
             char **resolved,
             struct stat *st,
             GError **error)
{
  int fd = nlx_volume_open_full (settings, volume_id, writable, resolved,
                                 error);

  if (fd >= 0 && fstat (fd, st) != 0)
    {
      int saved_errno = errno;

      close (fd);
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot look up volume %s: %s"), volume_id,
                   g_strerror (saved_errno));
      return -1;
    }
  return fd;
}

/* The loop device named @name if it reads @backing; NULL without error
 * when there is none.  One that reads anything else is an error, logged
 * for the operator: it is neither used nor freed. */
static char *
find_checked (const char *name,
              const struct stat *backing,
              NlxLoopFlags flags,
              const char *volume_id,
              gboolean *refused,
              GError **error)
{
  g_autofree char *loop = nlx_loop_find (name);

  *refused = FALSE;
  if (loop == NULL || nlx_loop_check (loop, backing, flags, error))
    return g_steal_pointer (&loop);
  *refused = TRUE;
  g_prefix_error (error, _("Volume %s is not used: "), volume_id);
  g_warning ("%s", (*error)->message);
  return NULL;
}

/* Checks the filesystem on @loop: exactly one whitelisted type and, if
 * [volumes] verify says so, fsck of the volume at @resolved. */
static gboolean
check_filesystem (const NlxVolumeSettings *settings,
                  const char *loop,
                  const char *resolved,
                  const char *volume_id,
                  GError **error)
{
  g_autofree char *fstype = probe (settings, loop, volume_id, error);

  return fstype != NULL &&
         (!settings->verify_fsck ||
          nlx_volume_fsck (resolved, fstype, volume_id, error));
}

/* The root volume's loop device: read-only over the volume, made unless
 * one named @name reads it already.  No instance ever has a node for
 * it: the instance sees the overlay the host mounts over it. */
static char *
setup_root_loop (const NlxVolumeSettings *settings,
                 const char *name,
                 const char *volume_id,
                 GError **error)
{
  g_autofree char *resolved = NULL;
  g_autofree char *loop = NULL;
  gboolean refused;
  struct stat st;
  int fd;

  fd = open_volume (settings, volume_id, FALSE, &resolved, &st, error);
  if (fd < 0)
    return NULL;
  loop = find_checked (name, &st, NLX_LOOP_READ_ONLY, volume_id, &refused,
                       error);
  if (loop != NULL || refused)
    {
      close (fd);
      return g_steal_pointer (&loop);
    }
  loop = nlx_loop_attach (fd, name, error);
  close (fd);
  if (loop == NULL)
    return NULL;
  if (!check_filesystem (settings, loop, resolved, volume_id, error))
    {
      nlx_loop_detach (loop, NULL);
      return NULL;
    }
  return g_steal_pointer (&loop);
}

/* Finds the attachment's two loop devices, each checked against what it
 * must read; *device_loop and *mount_loop stay NULL for those missing.
 * @st is the volume's, as the daemon opened it. */
static gboolean
find_pair (const char *uuid,
           const NlxVolumeAttachment *attachment,
           const struct stat *st,
           char **device_loop,
           char **mount_loop,
           GError **error)
{
  g_autofree char *device_name = device_loop_name (uuid, attachment->device);
  g_autofree char *mount_name = nlx_lxc_volume_loop_name (uuid,
                                                          attachment->device);
  g_autofree char *device = NULL;
  g_autofree char *mount = NULL;
  struct stat node;
  gboolean refused;

  device = find_checked (device_name, st, 0, attachment->volume_id, &refused,
                         error);
  if (refused)
    return FALSE;
  if (device == NULL)
    {
      /* A mount loop must read the device loop: without one, it reads
       * something else. */
      mount = nlx_loop_find (mount_name);
      if (mount != NULL)
        {
          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                       _("Volume %s is not used: loop device %s is named "
                         "“%s” but there is no device loop under it; an "
                         "operator should find who holds it (losetup -l) "
                         "and free it"), attachment->volume_id, mount,
                       mount_name);
          g_warning ("%s", (*error)->message);
          return FALSE;
        }
      return TRUE;
    }
  if (stat (device, &node) != 0 || !S_ISBLK (node.st_mode))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot look up loop device %s of volume %s"), device,
                   attachment->volume_id);
      return FALSE;
    }
  mount = find_checked (mount_name, &node, NLX_LOOP_READ_ONLY,
                        attachment->volume_id, &refused, error);
  if (refused)
    return FALSE;
  *device_loop = g_steal_pointer (&device);
  *mount_loop = g_steal_pointer (&mount);
  return TRUE;
}

/* Makes what find_pair() did not find.  @fd is the volume, open for
 * writing (see the top of this file). */
static gboolean
make_pair (const char *uuid,
           const NlxVolumeAttachment *attachment,
           int fd,
           char **device_loop,
           char **mount_loop,
           GError **error)
{
  g_autofree char *device_name = device_loop_name (uuid, attachment->device);
  g_autofree char *mount_name = nlx_lxc_volume_loop_name (uuid,
                                                          attachment->device);
  int device_fd;

  if (*device_loop == NULL)
    {
      *device_loop = nlx_loop_attach_full (fd, device_name, 0, error);
      if (*device_loop == NULL)
        return FALSE;
    }
  if (*mount_loop != NULL)
    return TRUE;
  device_fd = open (*device_loop, O_RDONLY | O_CLOEXEC);
  if (device_fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot open loop device %s of volume %s: %s"),
                   *device_loop, attachment->volume_id,
                   g_strerror (saved_errno));
      return FALSE;
    }
  /* Direct I/O: the device loop's reads are cached once, not twice. */
  *mount_loop = nlx_loop_attach_full (device_fd, mount_name,
                                      NLX_LOOP_READ_ONLY | NLX_LOOP_DIRECT_IO,
                                      error);
  close (device_fd);
  return *mount_loop != NULL;
}

static void
detach_pair (char *device_loop,
             char *mount_loop)
{
  if (mount_loop != NULL)
    nlx_loop_detach (mount_loop, NULL);
  if (device_loop != NULL)
    nlx_loop_detach (device_loop, NULL);
}

/**
 * nlx_lxc_volume_setup:
 * @settings: the [volumes] settings
 * @uuid: the instance
 * @attachment: what to attach
 * @created: (out): whether the device loop was made now, rather than
 *   found (the instance's disk must then name the new one)
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Gives the attachment its two loop devices (see the top of this file),
 * or finds the ones it has, checking that they read the volume.  A
 * volume to be mounted is checked first: exactly one filesystem
 * signature, of a whitelisted type, and fsck in libguestfs's appliance
 * if [volumes] verify says so.  Nothing is left behind on failure.
 *
 * Returns: (transfer full): the device loop, the node the instance gets,
 *   e.g. /dev/loop3
 */
char *
nlx_lxc_volume_setup (const NlxVolumeSettings *settings,
                      const char *uuid,
                      const NlxVolumeAttachment *attachment,
                      gboolean *created,
                      GError **error)
{
  g_autofree char *resolved = NULL;
  g_autofree char *device_loop = NULL;
  g_autofree char *mount_loop = NULL;
  gboolean made_device;
  struct stat st;
  int fd;

  *created = FALSE;
  fd = open_volume (settings, attachment->volume_id, FALSE, &resolved, &st,
                    error);
  if (fd < 0)
    return NULL;
  if (!find_pair (uuid, attachment, &st, &device_loop, &mount_loop, error))
    {
      close (fd);
      return NULL;
    }
  if (device_loop != NULL && mount_loop != NULL)
    {
      close (fd);
      return g_steal_pointer (&device_loop);
    }
  made_device = device_loop == NULL;
  if (made_device)
    {
      close (fd);
      g_clear_pointer (&resolved, g_free);
      fd = open_volume (settings, attachment->volume_id, TRUE, &resolved, &st,
                        error);
      if (fd < 0)
        return NULL;
    }
  if (!make_pair (uuid, attachment, fd, &device_loop, &mount_loop, error) ||
      (attachment->mount_path != NULL &&
       !check_filesystem (settings, mount_loop, resolved,
                          attachment->volume_id, error)))
    {
      close (fd);
      detach_pair (device_loop, mount_loop);
      return NULL;
    }
  close (fd);
  *created = made_device;
  return g_steal_pointer (&device_loop);
}

/**
 * nlx_lxc_volume_mount:
 * @settings: the [volumes] settings
 * @uuid: the instance
 * @attachment: an attachment with a mount path
 * @init_pid: the instance's init, whose mount namespace gets the mount
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Finds the attachment's mount loop, checks that it still reads the
 * volume, probes it again, right before the kernel reads it, and mounts
 * it read-only, nosuid, nodev, noexec and without journal replay at the
 * attachment's mount path inside the instance only.  Does nothing when
 * something is mounted there already.
 */
gboolean
nlx_lxc_volume_mount (const NlxVolumeSettings *settings,
                      const char *uuid,
                      const NlxVolumeAttachment *attachment,
                      pid_t init_pid,
                      GError **error)
{
  g_autofree char *fstype = NULL;
  g_autofree char *device_loop = NULL;
  g_autofree char *mount_loop = NULL;
  struct stat st;
  gboolean ok;
  int fd;

  if (nlx_mount_is_in_namespace (init_pid, attachment->mount_path))
    return TRUE;
  fd = open_volume (settings, attachment->volume_id, FALSE, NULL, &st, error);
  if (fd < 0)
    return FALSE;
  close (fd);
  if (!find_pair (uuid, attachment, &st, &device_loop, &mount_loop, error))
    return FALSE;
  if (mount_loop == NULL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot mount volume %s in instance %s: its loop "
                     "device is gone"), attachment->volume_id, uuid);
      return FALSE;
    }
  fstype = probe (settings, mount_loop, attachment->volume_id, error);
  if (fstype == NULL)
    return FALSE;
  fd = nlx_mount_prepare (mount_loop, fstype, FALSE, error);
  if (fd < 0)
    return FALSE;
  ok = nlx_mount_into_namespace (fd, init_pid, attachment->mount_path, error);
  close (fd);
  if (!ok)
    g_prefix_error (error, _("Cannot mount volume %s at %s: "),
                    attachment->volume_id, attachment->mount_path);
  return ok;
}

/**
 * nlx_lxc_volume_release:
 * @uuid: the instance
 * @device: the attachment's device
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Frees the attachment's loop devices, the mount loop first (the device
 * loop is then freed as soon as the mount loop lets go of it); succeeds
 * when it has none.
 */
gboolean
nlx_lxc_volume_release (const char *uuid,
                        const char *device,
                        GError **error)
{
  g_autofree char *mount_name = nlx_lxc_volume_loop_name (uuid, device);
  g_autofree char *device_name = device_loop_name (uuid, device);
  g_autofree char *mount_loop = nlx_loop_find (mount_name);
  g_autofree char *device_loop = nlx_loop_find (device_name);

  return (mount_loop == NULL || nlx_loop_detach (mount_loop, error)) &&
         (device_loop == NULL || nlx_loop_detach (device_loop, error));
}

/**
 * nlx_lxc_volume_release_all:
 * @uuid: the instance
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Frees every loop device the instance has, its root volume's included.
 */
gboolean
nlx_lxc_volume_release_all (const char *uuid,
                            GError **error)
{
  g_autofree char *prefix = nlx_lxc_volume_loop_name (uuid, NULL);
  g_autoptr(GPtrArray) loops = nlx_loop_find_prefix (prefix);

  /* In any order: a device loop the mount loop still reads is only
   * marked, and freed when the mount loop goes. */
  for (guint i = 0; i < loops->len; i++)
    if (!nlx_loop_detach (loops->pdata[i], error))
      return FALSE;
  return TRUE;
}

static gboolean
make_dir (const char *path,
          int mode,
          GError **error)
{
  if (g_mkdir (path, mode) == 0 || errno == EEXIST)
    return TRUE;
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
               _("Cannot create directory %s: %s"), path, g_strerror (errno));
  return FALSE;
}

/**
 * nlx_lxc_instance_dir_make:
 * @dir: the instance's directory, instances_path/UUID
 * @idmap: (nullable): the instance's id maps; %NULL for a privileged one
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Makes @dir if missing and closes it to every host user but root, as
 * LXD does (CVE-2016-1582): mode 0100, owned by the instance's root (its
 * host uid and gid, or root's for a privileged instance), who must still
 * pass through it to reach its root filesystem while libvirt_lxc sets the
 * container up, but cannot name it from inside.  The root tree, its
 * overlay layers, a root volume and the console log all live under it,
 * so a host user who reads their paths in /proc/self/mountinfo reaches
 * none of them.  Done at every start, so directories made by an older
 * version are closed too.
 *
 * Returns: %FALSE if @dir cannot be made or given its owner and mode
 */
gboolean
nlx_lxc_instance_dir_make (const char *dir,
                           const NlxLxcIdmap *idmap,
                           GError **error)
{
  int fd;

  if (g_mkdir (dir, 0100) != 0 && errno != EEXIST)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot create directory %s: %s"), dir, g_strerror (errno));
      return FALSE;
    }
  fd = open (dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 ||
      fchown (fd, idmap ? idmap->root_uid : 0, idmap ? idmap->root_gid : 0) != 0 ||
      fchmod (fd, 0100) != 0)
    {
      int saved_errno = errno;

      if (fd >= 0)
        close (fd);
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot close instance directory %s to host users: %s"),
                   dir, g_strerror (saved_errno));
      return FALSE;
    }
  close (fd);
  return TRUE;
}

/* Mounts an overlay over @lower at DIR/rootfs, its writes in upper/
 * (owned by the instance's root) of the instance's root disk, DIR/disk,
 * mounted by nlx_lxc_disk_mount(), or of DIR when it has none. */
static char *
overlay (const char *dir,
         const char *lower,
         const NlxLxcIdmap *idmap,
         GError **error)
{
  g_autofree char *layer = NULL;
  g_autofree char *upper = NULL;
  g_autofree char *work = NULL;
  g_autofree char *rootfs = g_build_filename (dir, "rootfs", NULL);

  if (nlx_mount_is_mount_point (rootfs))
    return g_steal_pointer (&rootfs);
  layer = nlx_lxc_disk_layer (dir, error);
  if (layer == NULL)
    return NULL;
  upper = g_build_filename (layer, "upper", NULL);
  work = g_build_filename (layer, "work", NULL);
  if (!make_dir (upper, 0755, error) || !make_dir (work, 0700, error) ||
      !make_dir (rootfs, 0755, error))
    return NULL;
  /* The root directory of the merged tree is the upper one's. */
  if (idmap != NULL && lchown (upper, idmap->root_uid, idmap->root_gid) != 0)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot give %s to the instance's root: %s"), upper,
                   g_strerror (errno));
      return NULL;
    }
  if (!nlx_mount_overlay (lower, upper, work, rootfs, error))
    return NULL;
  return g_steal_pointer (&rootfs);
}

/**
 * nlx_lxc_overlay_root:
 * @dir: the instance's directory
 * @source: the read-only tree underneath, an image
 * @idmap: (nullable): the instance's id maps; %NULL for a privileged one
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Mounts an overlay at DIR/rootfs over @source whose writes go to
 * DIR/upper, or DIR/disk/upper on the instance's root disk (see
 * nlx_lxc_disk_mount(), which must have run), so any number of
 * instances share @source and spawning costs the same whatever its
 * size.  With @idmap, the lower layer is @source
 * mounted idmapped at DIR/lower: its files, owned by root on disk, show
 * as the instance's root, and no byte of the image changes.  What is
 * mounted already is kept.
 *
 * Returns: (transfer full): DIR/rootfs
 */
char *
nlx_lxc_overlay_root (const char *dir,
                      const char *source,
                      const NlxLxcIdmap *idmap,
                      GError **error)
{
  g_autofree char *lower = g_build_filename (dir, "lower", NULL);

  if (!nlx_lxc_instance_dir_make (dir, idmap, error))
    return NULL;
  if (idmap == NULL)
    return overlay (dir, source, NULL, error);
  if (!make_dir (lower, 0755, error) ||
      (!nlx_mount_is_mount_point (lower) &&
       !nlx_mount_idmapped (source, idmap->userns_fd, lower, error)))
    return NULL;
  return overlay (dir, lower, idmap, error);
}

/**
 * nlx_lxc_volume_mount_root:
 * @settings: the [volumes] settings
 * @uuid: the instance
 * @volume_id: the volume holding its root filesystem
 * @dir: the instance's directory
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Mounts the root volume read-only (checked like any mounted volume, and
 * idmapped with @idmap) at DIR/volume and an overlay over it as
 * nlx_lxc_overlay_root() does, so the volume itself is never written.  What is mounted already is kept, so this also restores
 * the root after a host reboot.
 *
 * Returns: (transfer full): DIR/rootfs
 */
char *
nlx_lxc_volume_mount_root (const NlxVolumeSettings *settings,
                           const char *uuid,
                           const char *volume_id,
                           const char *dir,
                           const NlxLxcIdmap *idmap,
                           GError **error)
{
  g_autofree char *name = nlx_lxc_volume_loop_name (uuid, ROOT_DEVICE);
  g_autofree char *lower = g_build_filename (dir, "volume", NULL);
  g_autofree char *loop = NULL;
  g_autofree char *fstype = NULL;
  char *rootfs;
  int fd;

  if (!nlx_lxc_instance_dir_make (dir, idmap, error) ||
      !make_dir (lower, 0755, error))
    return NULL;
  loop = setup_root_loop (settings, name, volume_id, error);
  if (loop == NULL)
    return NULL;
  if (!nlx_mount_is_mount_point (lower))
    {
      fstype = probe (settings, loop, volume_id, error);
      fd = fstype ? nlx_mount_prepare (loop, fstype, TRUE, error) : -1;
      if (fd < 0 ||
          (idmap != NULL && !nlx_mount_idmap (fd, idmap->userns_fd, error)) ||
          !nlx_mount_at (fd, lower, error))
        {
          if (fd >= 0)
            close (fd);
          nlx_loop_detach (loop, NULL);
          g_prefix_error (error, _("Cannot mount root volume %s: "), volume_id);
          return NULL;
        }
      close (fd);
    }
  rootfs = overlay (dir, lower, idmap, error);
  if (rootfs == NULL)
    {
      nlx_umount (lower, NULL);
      nlx_loop_detach (loop, NULL);
      g_prefix_error (error, _("Cannot mount the root of instance %s: "), uuid);
    }
  return rootfs;
}

/**
 * nlx_lxc_volume_umount_root:
 * @dir: the instance's directory
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Undoes nlx_lxc_overlay_root(), nlx_lxc_volume_mount_root() and
 * nlx_lxc_disk_mount(), but for the root volume's loop device (the root
 * disk's unbinds itself); succeeds when nothing is mounted.
 */
gboolean
nlx_lxc_volume_umount_root (const char *dir,
                            GError **error)
{
  g_autofree char *volume = g_build_filename (dir, "volume", NULL);
  g_autofree char *lower = g_build_filename (dir, "lower", NULL);
  g_autofree char *rootfs = g_build_filename (dir, "rootfs", NULL);

  return nlx_umount (rootfs, error) && nlx_lxc_disk_umount (dir, error) &&
         nlx_umount (volume, error) && nlx_umount (lower, error);
}
