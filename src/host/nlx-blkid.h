/* nlx-blkid.h: what is on a block device or image file, by libblkid */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * NlxBlkidError:
 * @NLX_BLKID_ERROR_OPEN: libblkid cannot take the descriptor
 * @NLX_BLKID_ERROR_READ: libblkid failed while reading it
 *
 * Why a probe failed.  Callers word the message for what they probe (a
 * volume, an image file): these never reach an API client as they are.
 */
typedef enum {
  NLX_BLKID_ERROR_OPEN,
  NLX_BLKID_ERROR_READ,
} NlxBlkidError;

#define NLX_BLKID_ERROR (nlx_blkid_error_quark ())
GQuark nlx_blkid_error_quark (void);

/**
 * NlxBlkidFound:
 * @NLX_BLKID_FOUND_NOTHING: no signature libblkid knows
 * @NLX_BLKID_FOUND_ONE: one: a filesystem, a partition table, or a
 *   filesystem covered by a partition table
 * @NLX_BLKID_FOUND_SEVERAL: several signatures that contradict each
 *   other (blkid_do_safeprobe()'s -2)
 */
typedef enum {
  NLX_BLKID_FOUND_NOTHING,
  NLX_BLKID_FOUND_ONE,
  NLX_BLKID_FOUND_SEVERAL,
} NlxBlkidFound;

gboolean nlx_blkid_probe (int fd,
                          NlxBlkidFound *found,
                          char **type,
                          char **pttype,
                          GError **error);
GPtrArray *nlx_blkid_list_filesystems (int fd,
                                       GError **error);

G_END_DECLS
