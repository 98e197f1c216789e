/* nlx-lxc-volume.c: volumes of LXC instances on this host
 *
 * Each attachment is a read-only loop device over the volume, named
 * "nlx:UUID:vdX" (the kernel keeps the name), so whatever an instance
 * holds can be found and released after a crash without any record.  A
 * filesystem is only ever mounted after libblkid has found exactly one
 * whitelisted type on the loop device itself, the same bytes the kernel
 * will read. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>

#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "nlx-error.h"
#include "nlx-lxc-disk.h"
#include "nlx-lxc-volume.h"
#include "nlx-mount.h"

#define LOOP_NAME_PREFIX "nlx:"
#define ROOT_DEVICE "root"

/**
 * nlx_lxc_volume_loop_name:
 * @uuid: the instance
 * @device: (nullable): the attachment's device (/dev/vdX), or %NULL for
 *   the prefix every loop device of the instance has
 *
 * Returns: (transfer full): the loop device's name
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

/* The loop device named @name, made read-only over volume @volume_id
 * unless it exists.  With @check, the filesystem on it must be
 * whitelisted and, if so configured, pass fsck. */
static char *
setup_loop (const NlxVolumeSettings *settings,
            const char *name,
            const char *volume_id,
            gboolean check,
            gboolean *created,
            GError **error)
{
  g_autofree char *resolved = NULL;
  g_autofree char *loop = nlx_loop_find (name);
  g_autofree char *fstype = NULL;
  int fd;

  *created = FALSE;
  if (loop != NULL)
    return g_steal_pointer (&loop);

  fd = nlx_volume_open (settings, volume_id, &resolved, error);
  if (fd < 0)
    return NULL;
  loop = nlx_loop_attach (fd, name, error);
  close (fd);
  if (loop == NULL)
    return NULL;

  if (check &&
      ((fstype = probe (settings, loop, volume_id, error)) == NULL ||
       (settings->verify_fsck &&
        !nlx_volume_fsck (resolved, fstype, volume_id, error))))
    {
      nlx_loop_detach (loop, NULL);
      return NULL;
    }
  *created = TRUE;
  return g_steal_pointer (&loop);
}

/**
 * nlx_lxc_volume_setup:
 * @settings: the [volumes] settings
 * @uuid: the instance
 * @attachment: what to attach
 * @created: (out): whether a loop device was made now, rather than found
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Gives the attachment its read-only loop device, or finds the one it
 * has.  A volume to be mounted is checked first: exactly one filesystem
 * signature, of a whitelisted type, and fsck in libguestfs's appliance if
 * [volumes] verify says so.  Nothing is left behind on failure.
 *
 * Returns: (transfer full): the loop device, e.g. /dev/loop3
 */
char *
nlx_lxc_volume_setup (const NlxVolumeSettings *settings,
                      const char *uuid,
                      const NlxVolumeAttachment *attachment,
                      gboolean *created,
                      GError **error)
{
  g_autofree char *name = nlx_lxc_volume_loop_name (uuid, attachment->device);

  return setup_loop (settings, name, attachment->volume_id,
                     attachment->mount_path != NULL, created, error);
}

/**
 * nlx_lxc_volume_mount:
 * @settings: the [volumes] settings
 * @loop: the attachment's loop device
 * @attachment: an attachment with a mount path
 * @init_pid: the instance's init, whose mount namespace gets the mount
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Probes @loop again, right before the kernel reads it, and mounts it
 * read-only, nosuid, nodev, noexec and without journal replay at the
 * attachment's mount path inside the instance only.  Does nothing when
 * something is mounted there already.
 */
gboolean
nlx_lxc_volume_mount (const NlxVolumeSettings *settings,
                      const char *loop,
                      const NlxVolumeAttachment *attachment,
                      pid_t init_pid,
                      GError **error)
{
  g_autofree char *fstype = NULL;
  gboolean ok;
  int fd;

  if (nlx_mount_is_in_namespace (init_pid, attachment->mount_path))
    return TRUE;
  fstype = probe (settings, loop, attachment->volume_id, error);
  if (fstype == NULL)
    return FALSE;
  fd = nlx_mount_prepare (loop, fstype, FALSE, error);
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
 * Frees the attachment's loop device; succeeds when it has none.
 */
gboolean
nlx_lxc_volume_release (const char *uuid,
                        const char *device,
                        GError **error)
{
  g_autofree char *name = nlx_lxc_volume_loop_name (uuid, device);
  g_autofree char *loop = nlx_loop_find (name);

  return loop == NULL || nlx_loop_detach (loop, error);
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

  if (nlx_mount_is_in_namespace (getpid (), rootfs))
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
      (!nlx_mount_is_in_namespace (getpid (), lower) &&
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
  gboolean created;
  int fd;

  if (!nlx_lxc_instance_dir_make (dir, idmap, error) ||
      !make_dir (lower, 0755, error))
    return NULL;
  loop = setup_loop (settings, name, volume_id, TRUE, &created, error);
  if (loop == NULL)
    return NULL;
  if (!nlx_mount_is_in_namespace (getpid (), lower))
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
