/* nlx-volume-check.c: what filesystem a volume holds, by libblkid, and
 * its full check by fsck inside libguestfs's appliance
 *
 * Both read the volume and never mount it: libblkid reads signatures
 * from the descriptor nlx_volume_open() returned, and fsck runs in the
 * nova-lxc-guestfs helper's throwaway VM, so a hostile image meets that
 * VM's kernel first, not the host's. */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "common/nlx-error.h"
#include "host/nlx-blkid.h"
#include "host/nlx-guestfs.h"
#include "storage/nlx-volume.h"

/* ---- probe --------------------------------------------------------------- */

/**
 * nlx_volume_probe:
 * @settings: the [volumes] settings
 * @fd: the volume, opened for reading; it stays open
 * @id: the volume's id, for messages
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Identifies the filesystem on @fd with libblkid, reading superblocks
 * and partition tables without mounting anything.  Refused, with
 * %NLX_DRIVER_ERROR_INVALID_ARGUMENT: no filesystem, several signatures
 * (a kernel could read it as either; counted one by one, at any size,
 * libblkid's safe probe not looking past the first on small devices), a
 * partition table, and a type not in [volumes] filesystem_whitelist.
 *
 * Returns: (transfer full): the filesystem type, e.g. "ext4", or %NULL
 */
char *
nlx_volume_probe (const NlxVolumeSettings *settings,
                  int fd,
                  const char *id,
                  GError **error)
{
  g_autofree char *allowed = g_strjoinv (", ", settings->whitelist);
  g_autoptr(GPtrArray) signatures = NULL;
  g_autofree char *type = NULL;
  g_autofree char *pttype = NULL;
  g_autoptr(GError) local_error = NULL;
  NlxBlkidFound found;

  if (!nlx_blkid_probe (fd, &found, &type, &pttype, &local_error))
    {
      if (g_error_matches (local_error, NLX_BLKID_ERROR, NLX_BLKID_ERROR_OPEN))
        g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                     _("Cannot read volume “%s” to identify its filesystem"),
                     id);
      else
        g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                     _("Cannot read volume “%s” to identify its filesystem "
                       "(libblkid failed)"), id);
      return NULL;
    }
  if (found == NLX_BLKID_FOUND_SEVERAL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Volume “%s” carries several filesystem signatures, so "
                     "a kernel could read it as either; it is refused as "
                     "ambiguous; wipefs(8) shows them"), id);
      return NULL;
    }
  if (type != NULL && pttype != NULL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Volume “%s” carries both a %s filesystem and a %s "
                     "partition table; it is refused as ambiguous; "
                     "wipefs(8) shows the signatures"), id, type, pttype);
      return NULL;
    }
  if (pttype != NULL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Volume “%s” is a partitioned disk (%s partition table), "
                     "not a filesystem; give one partition as the volume "
                     "instead"), id, pttype);
      return NULL;
    }
  if (type == NULL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Volume “%s” has no filesystem libblkid recognises (or "
                     "its superblock is damaged); only a whitelisted "
                     "filesystem can be mounted: %s"), id, allowed);
      return NULL;
    }
  signatures = nlx_blkid_list_filesystems (fd, NULL);
  if (signatures == NULL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot read volume “%s” to identify its filesystem "
                     "(libblkid failed)"), id);
      return NULL;
    }
  if (signatures->len > 1)
    {
      g_autofree char *found_types = NULL;

      g_ptr_array_add (signatures, NULL);
      found_types = g_strjoinv (", ", (char **) signatures->pdata);
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Volume “%s” carries several filesystem signatures (%s), "
                     "so a kernel could read it as either; it is refused as "
                     "ambiguous; wipefs(8) shows them"), id, found_types);
      return NULL;
    }
  if (!g_strv_contains ((const char * const *) settings->whitelist, type))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Volume “%s” holds a %s filesystem, which is not "
                     "whitelisted (%s); [volumes] filesystem_whitelist lists "
                     "what may be mounted"), id, type, allowed);
      return NULL;
    }
  return g_steal_pointer (&type);
}

/* ---- fsck in libguestfs's appliance --------------------------------------- */

/**
 * nlx_volume_fsck:
 * @path: the volume's canonical path, as nlx_volume_open() resolved it
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
 * check only before a volume's first mount.  libguestfs runs in the
 * nova-lxc-guestfs helper, never in this process (nlx-guestfs.c says
 * why).
 *
 * Returns: %TRUE if the filesystem is clean
 */
gboolean
nlx_volume_fsck (const char *path,
                 const char *fstype,
                 const char *id,
                 GError **error)
{
  return nlx_guestfs_fsck (path, fstype, id, error);
}
