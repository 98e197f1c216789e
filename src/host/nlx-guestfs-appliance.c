/* nlx-guestfs-appliance.c: libguestfs's appliance over untrusted disks
 *
 * Whatever nova-lxc must read from a disk it does not trust (a volume to
 * check, a disk image to import) is read by libguestfs's appliance, a
 * throwaway VM with the disk as a read-only drive: a hostile filesystem
 * meets that VM's kernel, never the host's.
 *
 * This runs only in the nova-lxc-guestfs helper (nova-lxc-guestfs.c),
 * never in the daemon: libguestfs 1.48 waits for its subprocesses with
 * select(), whose fd_set holds descriptors below 1024 only (glibc's
 * fortified FD_SET aborts the process on a higher one), and a daemon
 * with many connections open hands out higher numbers.  The helper
 * starts with three. */
#include "config.h"

#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <guestfs.h>
#include <string.h>
#include <unistd.h>

#include "common/nlx-error.h"
#include "host/nlx-guestfs-appliance.h"

/* The appliance's only drive. */
#define APPLIANCE_DEVICE "/dev/sda"

/* Set once a launch with KVM failed, so later launches go straight to
 * TCG. */
static gint kvm_failed;

/* Whether the CPU offers hardware virtualization (VMX or SVM among the
 * flags of /proc/cpuinfo).  A /dev/kvm without it is no KVM an ordinary
 * kernel boots under: seen here, kvm_pvm (pagetable-based virtual
 * machines, for guests built for it), on which the appliance's Debian
 * kernel spins for ever instead of failing, so the fallback to TCG
 * never came. */
static gboolean
cpu_virtualizes (void)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;

  if (!g_file_get_contents ("/proc/cpuinfo", &text, NULL, NULL))
    return FALSE;
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) words = NULL;

      if (!g_str_has_prefix (lines[i], "flags"))
        continue;
      words = g_strsplit_set (lines[i], " \t", -1);
      return g_strv_contains ((const char * const *) words, "vmx") ||
             g_strv_contains ((const char * const *) words, "svm");
    }
  return FALSE;
}

static gboolean
kvm_usable (void)
{
  int fd;

  if (g_atomic_int_get (&kvm_failed) || !cpu_virtualizes ())
    return FALSE;
  fd = open ("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return FALSE;
  close (fd);
  return TRUE;
}

static void
nlx_guestfs_close (guestfs_h *g)
{
  if (g != NULL)
    guestfs_close (g);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (guestfs_h, nlx_guestfs_close)

/**
 * nlx_guestfs_appliance_get_kvm_failed:
 *
 * Returns: whether a launch with KVM failed in this process (or the
 *   caller said one had, with nlx_guestfs_appliance_set_kvm_failed())
 */
gboolean
nlx_guestfs_appliance_get_kvm_failed (void)
{
  return g_atomic_int_get (&kvm_failed);
}

/**
 * nlx_guestfs_appliance_set_kvm_failed:
 *
 * Makes later launches go straight to TCG: the daemon remembers a KVM
 * failure across helper processes and passes it on.
 */
void
nlx_guestfs_appliance_set_kvm_failed (void)
{
  g_atomic_int_set (&kvm_failed, TRUE);
}

/**
 * nlx_guestfs_last_error:
 * @g: a handle
 *
 * Returns: (transfer none): the message of the last failed call on @g,
 *   never %NULL
 */
static const char *
nlx_guestfs_last_error (guestfs_h *g)
{
  const char *message = guestfs_last_error (g);

  return message != NULL ? message : _("unknown libguestfs error");
}

static guestfs_h *
launch_once (const char *path,
             const char *format,
             gboolean tcg,
             GError **error)
{
  g_autoptr(guestfs_h) g = guestfs_create ();

  if (g == NULL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot create a libguestfs handle; run "
                     "libguestfs-test-tool(1) to see why"));
      return NULL;
    }
  /* Errors are read with guestfs_last_error(), not printed. */
  guestfs_set_error_handler (g, NULL, NULL);
  if (tcg)
    {
      char *tcg_settings[] = { (char *) "force_tcg", NULL };

      if (g_getenv ("LIBGUESTFS_BACKEND") == NULL &&
          guestfs_set_backend (g, "direct") != 0)
        {
          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                       _("Cannot select libguestfs's direct backend: %s"),
                       nlx_guestfs_last_error (g));
          return NULL;
        }
      if (guestfs_set_backend_settings (g, tcg_settings) != 0)
        {
          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                       _("Cannot make libguestfs use TCG: %s"),
                       nlx_guestfs_last_error (g));
          return NULL;
        }
    }
  /* An explicit format: qemu must not guess it from the content. */
  if (guestfs_add_drive_opts (g, path,
                              GUESTFS_ADD_DRIVE_OPTS_READONLY, 1,
                              GUESTFS_ADD_DRIVE_OPTS_FORMAT, format,
                              -1) != 0)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot give %s to libguestfs: %s"), path,
                   nlx_guestfs_last_error (g));
      return NULL;
    }
  if (guestfs_launch (g) != 0)
    {
      /* The rest of libguestfs's message is advice on debugging it. */
      const char *message = nlx_guestfs_last_error (g);
      g_autofree char *first_line = g_strndup (message,
                                               strcspn (message, "\n"));

      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot start libguestfs's appliance: %s; run "
                     "libguestfs-test-tool(1) to see why"), first_line);
      return NULL;
    }
  return g_steal_pointer (&g);
}

/**
 * nlx_guestfs_launch:
 * @path: a disk image or block device
 * @format: its format as qemu names it ("raw", "qcow2")
 * @error: return location for a #NLX_DRIVER_ERROR (FAILED)
 *
 * Starts libguestfs's appliance with @path as its only drive, read-only
 * (writes land in a throwaway overlay), known to the appliance as
 * /dev/sda.  Without a usable KVM (none, or a launch with it failed
 * before: nested KVM can exist and still make qemu abort at once), the
 * appliance runs under TCG (direct backend, force_tcg), unless
 * LIBGUESTFS_BACKEND_SETTINGS says otherwise.  That takes seconds to tens
 * of seconds; callers launch only when they must.
 *
 * Returns: (transfer full): a launched handle, or %NULL
 */
static guestfs_h *
nlx_guestfs_launch (const char *path,
                    const char *format,
                    GError **error)
{
  g_autoptr(GError) local_error = NULL;
  gboolean configured = g_getenv ("LIBGUESTFS_BACKEND_SETTINGS") != NULL;
  gboolean tcg = !configured && !kvm_usable ();
  guestfs_h *g;

  g = launch_once (path, format, tcg, &local_error);
  if (g == NULL && !tcg && !configured)
    {
      g_debug ("libguestfs failed with KVM, trying TCG: %s",
               local_error->message);
      g_atomic_int_set (&kvm_failed, TRUE);
      g_clear_error (&local_error);
      g = launch_once (path, format, TRUE, &local_error);
    }
  if (g == NULL)
    g_propagate_error (error, g_steal_pointer (&local_error));
  return g;
}

/* ---- volume check: fsck ------------------------------------------------------ */

static const char *
fsck_status_text (int status)
{
  if (status & 8)
    return _("the checker itself failed");
  if (status & 4)
    return _("errors were found that fsck cannot repair");
  if (status & 3)
    return _("errors were found (fsck would repair them)");
  return _("the checker reported a problem");
}

/* Without e2fsck's forceno option (libguestfs 1.48 has none), fsck -a
 * would skip a filesystem marked clean, and an image can mark itself
 * clean whatever its state; a mount count past the maximum makes e2fsck
 * check it in full.  Both writes, and any repair fsck -a makes, land in
 * the appliance's throwaway overlay, never in the volume; a repair still
 * fails the check. */
static gboolean
check_ext (guestfs_h *g,
           const char *fstype,
           const char *id,
           GError **error)
{
#ifdef GUESTFS_E2FSCK_FORCENO
  /* e2fsck -f -n: nothing changes, any error fails the call. */
  if (guestfs_e2fsck (g, APPLIANCE_DEVICE, GUESTFS_E2FSCK_FORCENO, 1,
                      -1) != 0)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Volume “%s” failed its filesystem check (e2fsck -fn): "
                     "%s"), id, nlx_guestfs_last_error (g));
      return FALSE;
    }
  return TRUE;
#else
  int status;

  if (guestfs_tune2fs (g, APPLIANCE_DEVICE,
                       GUESTFS_TUNE2FS_MAXMOUNTCOUNT, 1,
                       GUESTFS_TUNE2FS_MOUNTCOUNT, 2,
                       -1) != 0)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Volume “%s” failed its filesystem check (tune2fs cannot "
                     "read its superblock): %s"), id, nlx_guestfs_last_error (g));
      return FALSE;
    }
  status = guestfs_fsck (g, fstype, APPLIANCE_DEVICE);
  if (status == -1)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Volume “%s” failed its filesystem check (fsck): %s"),
                   id, nlx_guestfs_last_error (g));
      return FALSE;
    }
  if (status != 0)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Volume “%s” failed its filesystem check: fsck -t %s "
                     "exited with status %d: %s; check it with e2fsck -fn "
                     "and repair it before attaching it"), id, fstype,
                   status, fsck_status_text (status));
      return FALSE;
    }
  return TRUE;
#endif
}

static gboolean
check_xfs (guestfs_h *g,
           const char *id,
           GError **error)
{
  struct guestfs_xfs_repair_argv args = {
    .bitmask = GUESTFS_XFS_REPAIR_NOMODIFY_BITMASK,
    .nomodify = 1,
  };
  char *xfs_feature[] = { (char *) "xfs", NULL };
  int status;

  /* Debian ships xfs support for the appliance separately. */
  if (guestfs_feature_available (g, xfs_feature) != 1)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot check xfs volume “%s”: libguestfs's appliance "
                     "has no xfs support (on Debian, install "
                     "libguestfs-xfs)"), id);
      return FALSE;
    }
  status = guestfs_xfs_repair_argv (g, APPLIANCE_DEVICE, &args);
  if (status == -1)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Volume “%s” failed its filesystem check (xfs_repair "
                     "-n): %s"), id, nlx_guestfs_last_error (g));
      return FALSE;
    }
  if (status != 0)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Volume “%s” failed its filesystem check: xfs_repair -n "
                     "found corruption or a dirty log (status %d); check and "
                     "repair it with xfs_repair before attaching it"),
                   id, status);
      return FALSE;
    }
  return TRUE;
}

/**
 * nlx_guestfs_appliance_fsck:
 * @path: the volume's canonical path, as nlx_volume_open() resolved it
 *   (the daemon's nlx_volume_fsck() runs this in the helper)
 * @fstype: its filesystem type, as nlx_volume_probe() found it
 * @id: the volume's id, for messages
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Checks the filesystem in full inside libguestfs's appliance, with the
 * volume as a read-only drive: the host's kernel never parses it.  ext2,
 * ext3 and ext4 get a forced e2fsck, xfs gets xfs_repair -n; any error
 * found fails with %NLX_DRIVER_ERROR_INVALID_ARGUMENT.  Without a usable
 * KVM the appliance runs under TCG (direct backend, force_tcg) unless
 * LIBGUESTFS_BACKEND_SETTINGS is set; that takes seconds, so callers
 * check only before a volume's first mount.
 *
 * Returns: %TRUE if the filesystem is clean
 */
gboolean
nlx_guestfs_appliance_fsck (const char *path,
                            const char *fstype,
                            const char *id,
                            GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(guestfs_h) g = NULL;
  g_autofree char *seen = NULL;

  g = nlx_guestfs_launch (path, "raw", &local_error);
  if (g == NULL)
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                  _("Cannot check volume “%s”: "), id);
      return FALSE;
    }

  /* What the appliance sees must be what libblkid saw on the host. */
  seen = guestfs_vfs_type (g, APPLIANCE_DEVICE);
  if (seen == NULL || !g_str_equal (seen, fstype))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Volume “%s” failed its filesystem check: the host "
                     "found %s on it, libguestfs's appliance %s"), id, fstype,
                   seen != NULL && *seen != '\0' ? seen : _("nothing"));
      return FALSE;
    }

  if (g_str_equal (fstype, "ext2") || g_str_equal (fstype, "ext3") ||
      g_str_equal (fstype, "ext4"))
    {
      if (!check_ext (g, fstype, id, error))
        return FALSE;
    }
  else if (g_str_equal (fstype, "xfs"))
    {
      if (!check_xfs (g, id, error))
        return FALSE;
    }
  else
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_NOT_SUPPORTED,
                   _("Volume “%s” holds a %s filesystem, which nova-lxc "
                     "cannot check; set [volumes] verify = none or remove %s "
                     "from [volumes] filesystem_whitelist"), id, fstype,
                   fstype);
      return FALSE;
    }

  if (guestfs_shutdown (g) != 0)
    g_debug ("libguestfs appliance did not shut down cleanly: %s",
             nlx_guestfs_last_error (g));
  return TRUE;
}

/* ---- disk image import: the root tree out as a tar -------------------------- */

static int
compare_mountpoints (gconstpointer a,
                     gconstpointer b)
{
  const char *ma = *(const char * const *) a;
  const char *mb = *(const char * const *) b;
  gsize la = strlen (ma);
  gsize lb = strlen (mb);

  /* Shortest first: "/" before "/usr" before "/usr/local". */
  if (la != lb)
    return la < lb ? -1 : 1;
  return strcmp (ma, mb);
}

/* The one Linux root inspection finds on the appliance's disk. */
static char *
find_linux_root (guestfs_h *g,
                 const char *file,
                 GError **error)
{
  g_auto(GStrv) roots = guestfs_inspect_os (g);
  g_autoptr(GPtrArray) linux_roots = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) others = g_ptr_array_new_with_free_func (g_free);

  if (roots == NULL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Cannot import disk image %s: libguestfs cannot inspect "
                     "it: %s"), file, nlx_guestfs_last_error (g));
      return NULL;
    }
  for (guint i = 0; roots[i] != NULL; i++)
    {
      g_autofree char *type = guestfs_inspect_get_type (g, roots[i]);

      if (g_strcmp0 (type, "linux") == 0)
        g_ptr_array_add (linux_roots, g_strdup (roots[i]));
      else
        g_ptr_array_add (others, g_strdup_printf ("%s on %s",
                                                  type != NULL ? type : "?",
                                                  roots[i]));
    }
  if (linux_roots->len == 0)
    {
      g_autofree char *found = NULL;

      g_ptr_array_add (others, NULL);
      found = g_strjoinv (", ", (char **) others->pdata);
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Cannot import disk image %s: no Linux root filesystem "
                     "found (libguestfs's inspection found %s); import a "
                     "disk image of a Linux system, with /etc, /bin and "
                     "/etc/fstab or /etc/hosts on its root filesystem"),
                   file, *found != '\0' ? found : _("no operating system"));
      return NULL;
    }
  if (linux_roots->len > 1)
    {
      g_autofree char *found = NULL;

      g_ptr_array_add (linux_roots, NULL);
      found = g_strjoinv (", ", (char **) linux_roots->pdata);
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Cannot import disk image %s: it holds several Linux "
                     "root filesystems (%s) and nova-lxc cannot tell which "
                     "one to import; make a disk image with one"), file,
                   found);
      return NULL;
    }
  return g_strdup (linux_roots->pdata[0]);
}

/* Mounts @root and the filesystems its fstab mounts below it, read-only
 * in the appliance.  One of those that will not mount is left out, as
 * virt-tar-out does: the root filesystem is what matters. */
static gboolean
mount_root (guestfs_h *g,
            const char *root,
            const char *file,
            GError **error)
{
  g_auto(GStrv) pairs = guestfs_inspect_get_mountpoints (g, root);
  g_autoptr(GPtrArray) mountpoints = g_ptr_array_new ();
  g_autoptr(GHashTable) devices = g_hash_table_new (g_str_hash, g_str_equal);

  if (pairs == NULL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Cannot import disk image %s: libguestfs cannot tell "
                     "where its filesystems mount: %s"), file,
                   nlx_guestfs_last_error (g));
      return FALSE;
    }
  for (guint i = 0; pairs[i] != NULL && pairs[i + 1] != NULL; i += 2)
    {
      g_ptr_array_add (mountpoints, pairs[i]);
      g_hash_table_insert (devices, pairs[i], pairs[i + 1]);
    }
  g_ptr_array_sort (mountpoints, compare_mountpoints);

  for (guint i = 0; i < mountpoints->len; i++)
    {
      const char *mountpoint = mountpoints->pdata[i];
      const char *device = g_hash_table_lookup (devices, mountpoint);

      if (guestfs_mount_ro (g, device, mountpoint) == 0)
        continue;
      if (!g_str_equal (mountpoint, "/"))
        {
          g_debug ("Leaving %s (%s) out of disk image %s: %s", mountpoint,
                   device, file, nlx_guestfs_last_error (g));
          continue;
        }
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Cannot import disk image %s: its root filesystem (%s) "
                     "does not mount: %s"), file, device,
                   nlx_guestfs_last_error (g));
      return FALSE;
    }
  return TRUE;
}

/**
 * nlx_guestfs_appliance_copy_out:
 * @file: a disk image
 * @format: its format as qemu names it ("raw", "qcow2")
 * @tar_path: where to write the tar
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Writes the Linux root tree of disk image @file to the tar @tar_path:
 * the one Linux root inspection finds, with the filesystems its fstab
 * mounts below it, numeric owners and extended attributes.  The image
 * store's import runs this in the helper.
 *
 * Returns: %TRUE if the tar was written
 */
gboolean
nlx_guestfs_appliance_copy_out (const char *file,
                                const char *format,
                                const char *tar_path,
                                GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(guestfs_h) g = NULL;
  g_autofree char *root = NULL;

  g = nlx_guestfs_launch (file, format, &local_error);
  if (g == NULL)
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                  _("Cannot import disk image %s: "), file);
      return FALSE;
    }
  root = find_linux_root (g, file, error);
  if (root == NULL || !mount_root (g, root, file, error))
    return FALSE;
  /* Numeric owners: the appliance's user names are not the image's. */
  if (guestfs_tar_out_opts (g, "/", tar_path,
                            GUESTFS_TAR_OUT_OPTS_NUMERICOWNER, 1,
                            GUESTFS_TAR_OUT_OPTS_XATTRS, 1,
                            -1) != 0)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot copy the root filesystem out of disk image %s: "
                     "%s"), file, nlx_guestfs_last_error (g));
      return FALSE;
    }
  if (guestfs_umount_all (g) != 0 || guestfs_shutdown (g) != 0)
    g_debug ("libguestfs appliance did not shut down cleanly: %s",
             nlx_guestfs_last_error (g));
  return TRUE;
}
