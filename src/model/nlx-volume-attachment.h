/* nlx-volume-attachment.h: a volume attached to an instance, and what a
 * volume id may be */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A volume id is a plain file name: [A-Za-z0-9][A-Za-z0-9._-]*, at most
 * this long (and never "." or ".."). */
#define NLX_VOLUME_ID_MAX 64

#define NLX_MOUNT_PATH_MAX 255

/**
 * NlxVolumeAttachment:
 * @volume_id: the volume, named by id only (see nlx_volume_id_is_valid())
 * @device: device path inside the instance, /dev/vdb to /dev/vdz
 * @mount_path: (nullable): where to mount its filesystem inside the
 *   instance, or %NULL to pass the block device only
 */
typedef struct {
  char *volume_id;
  char *device;
  char *mount_path;
} NlxVolumeAttachment;

gboolean nlx_volume_id_is_valid (const char *id);

NlxVolumeAttachment *nlx_volume_attachment_new (const char *volume_id,
                                                const char *device,
                                                const char *mount_path);
void nlx_volume_attachment_free (NlxVolumeAttachment *attachment);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NlxVolumeAttachment, nlx_volume_attachment_free)
gboolean nlx_volume_attachment_check (const NlxVolumeAttachment *attachment,
                                      GError **error);

G_END_DECLS
