/* nlx-blkid.c: what is on a block device or image file, by libblkid
 *
 * Signatures only: superblocks and partition tables are read from the
 * descriptor the caller opened, and nothing is mounted. */
#include "config.h"

#include <blkid.h>
#include <glib/gi18n-lib.h>

#include "common/nlx-autoptr.h"
#include "host/nlx-blkid.h"

G_DEFINE_QUARK (nlx-blkid-error-quark, nlx_blkid_error)

static NlxBlkidProbe *
probe_new (int fd,
           GError **error)
{
  g_autoptr(NlxBlkidProbe) probe = blkid_new_probe ();

  if (probe == NULL || blkid_probe_set_device (probe, fd, 0, 0) != 0)
    {
      g_set_error_literal (error, NLX_BLKID_ERROR, NLX_BLKID_ERROR_OPEN,
                           _("libblkid cannot read the file"));
      return NULL;
    }
  return g_steal_pointer (&probe);
}

/**
 * nlx_blkid_probe:
 * @fd: a block device or an image file, opened for reading; it stays open
 * @found: (out): what libblkid's safe probe found
 * @type: (out) (optional) (nullable): the filesystem type, e.g. "ext4",
 *   when @found is %NLX_BLKID_FOUND_ONE and a filesystem was found
 * @pttype: (out) (optional) (nullable): the partition table type, e.g.
 *   "gpt", when @found is %NLX_BLKID_FOUND_ONE and one was found
 * @error: return location for a #NLX_BLKID_ERROR
 *
 * Looks for filesystem superblocks and partition tables on @fd with
 * blkid_do_safeprobe().  On a device of 1,440 KiB or less the safe probe
 * stops at the first filesystem signature; nlx_blkid_list_filesystems()
 * counts them all.
 */
gboolean
nlx_blkid_probe (int fd,
                 NlxBlkidFound *found,
                 char **type,
                 char **pttype,
                 GError **error)
{
  g_autoptr(NlxBlkidProbe) probe = probe_new (fd, error);
  const char *value;
  int rc;

  if (type != NULL)
    *type = NULL;
  if (pttype != NULL)
    *pttype = NULL;
  if (probe == NULL)
    return FALSE;
  blkid_probe_enable_superblocks (probe, 1);
  blkid_probe_set_superblocks_flags (probe, BLKID_SUBLKS_TYPE);
  blkid_probe_enable_partitions (probe, 1);
  blkid_probe_set_partitions_flags (probe, BLKID_PARTS_MAGIC);

  rc = blkid_do_safeprobe (probe);
  if (rc == -2)
    {
      *found = NLX_BLKID_FOUND_SEVERAL;
      return TRUE;
    }
  if (rc < 0)
    {
      g_set_error_literal (error, NLX_BLKID_ERROR, NLX_BLKID_ERROR_READ,
                           _("libblkid failed reading the file"));
      return FALSE;
    }
  if (rc == 1)
    {
      *found = NLX_BLKID_FOUND_NOTHING;
      return TRUE;
    }
  *found = NLX_BLKID_FOUND_ONE;
  value = NULL;
  if (type != NULL &&
      blkid_probe_lookup_value (probe, "TYPE", &value, NULL) == 0)
    *type = g_strdup (value);
  value = NULL;
  if (pttype != NULL &&
      blkid_probe_lookup_value (probe, "PTTYPE", &value, NULL) == 0)
    *pttype = g_strdup (value);
  return TRUE;
}

/**
 * nlx_blkid_list_filesystems:
 * @fd: a block device or an image file, opened for reading; it stays open
 * @error: return location for a #NLX_BLKID_ERROR
 *
 * Every filesystem signature libblkid finds on @fd, one by one.
 * blkid_do_safeprobe() is meant to refuse a device carrying two, but on
 * a device of 1,440 KiB or less (a "floppy" to libblkid) it returns the
 * first it finds without looking further: a 1 MiB ext4 image carrying an
 * iso9660 descriptor passed as ext4.  Walking every signature ourselves
 * holds the one-signature rule at any size.
 *
 * Returns: (transfer full) (element-type utf8): the filesystem types, in
 *   the order libblkid finds them, or %NULL on error
 */
GPtrArray *
nlx_blkid_list_filesystems (int fd,
                            GError **error)
{
  g_autoptr(NlxBlkidProbe) probe = probe_new (fd, error);
  g_autoptr(GPtrArray) types = g_ptr_array_new_with_free_func (g_free);
  int rc;

  if (probe == NULL)
    return NULL;
  blkid_probe_enable_partitions (probe, 0);
  blkid_probe_enable_superblocks (probe, 1);
  blkid_probe_set_superblocks_flags (probe, BLKID_SUBLKS_TYPE);
  while ((rc = blkid_do_probe (probe)) == 0)
    {
      const char *type = NULL;

      if (blkid_probe_lookup_value (probe, "TYPE", &type, NULL) == 0 &&
          type != NULL)
        g_ptr_array_add (types, g_strdup (type));
    }
  if (rc < 0)
    {
      g_set_error_literal (error, NLX_BLKID_ERROR, NLX_BLKID_ERROR_READ,
                           _("libblkid failed reading the file"));
      return NULL;
    }
  return g_steal_pointer (&types);
}
