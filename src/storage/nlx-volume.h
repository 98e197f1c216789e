/* nlx-volume.h: volumes named by id, resolved under the operator's roots,
 * probed and checked before anything mounts them */
#pragma once

#include <glib.h>

/* What a volume id may be (nlx_volume_id_is_valid()) is the model's. */
#include "model/nlx-volume-attachment.h"

G_BEGIN_DECLS

#define NLX_VOLUME_DEFAULT_WHITELIST "ext4", "ext3", "ext2", "xfs"

/**
 * NlxVolumeSettings:
 * @dir: the volume directory; each entry is a volume whose id is its name
 * @allowed_roots: what an entry may resolve to after symlinks: a path
 *   under one of these directories, or matching one of them as an
 *   fnmatch(3) pattern (e.g. /dev/dm-*)
 * @whitelist: filesystem types that may be mounted
 * @verify_fsck: check a filesystem with libguestfs before its first mount
 * @allow_hard_links: accept a volume whose file has other names
 *
 * The [volumes] section of nova-lxc.conf(5).
 */
typedef struct {
  char *dir;
  char **allowed_roots;
  char **whitelist;
  gboolean verify_fsck;
  gboolean allow_hard_links;
} NlxVolumeSettings;

NlxVolumeSettings *nlx_volume_settings_new (GKeyFile *keyfile,
                                            GError **error);
void nlx_volume_settings_free (NlxVolumeSettings *settings);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NlxVolumeSettings, nlx_volume_settings_free)

int nlx_volume_open_full (const NlxVolumeSettings *settings,
                          const char *id,
                          gboolean writable,
                          char **resolved,
                          GError **error);
int nlx_volume_open (const NlxVolumeSettings *settings,
                     const char *id,
                     char **resolved,
                     GError **error);

char *nlx_volume_probe (const NlxVolumeSettings *settings,
                        int fd,
                        const char *id,
                        GError **error);

gboolean nlx_volume_fsck (const char *path,
                          const char *fstype,
                          const char *id,
                          GError **error);

/**
 * NlxVolumeInfo:
 * @id: the volume's id
 * @size_bytes: its size
 * @is_block: whether it is a block device rather than a file
 * @fstype: (nullable): the filesystem type libblkid finds on it, if it
 *   finds exactly one
 * @created_at: when its entry was made (the entry's change time), UTC
 * @owner: (nullable): the project the volume was made for
 *   (#NLX_VOLUME_OWNER_XATTR), or %NULL for a volume the operator
 *   provisioned outside the API
 */
typedef struct {
  char *id;
  guint64 size_bytes;
  gboolean is_block;
  char *fstype;
  GDateTime *created_at;
  char *owner;
} NlxVolumeInfo;

/* The extended attribute on a volume's file that names its owner
 * project.  It lives and dies with the file: a volume removed by hand
 * takes its owner along, so a later volume of the same name can never
 * inherit it, and a copy made without xattrs is the operator's again. */
#define NLX_VOLUME_OWNER_XATTR "user.nova-lxc.owner"
/* Keystone's project ids are 32 hex digits; its column takes 64. */
#define NLX_VOLUME_OWNER_MAX 64

gboolean nlx_volume_owner_is_valid (const char *owner);
void nlx_volume_set_not_found (const NlxVolumeSettings *settings,
                               const char *id,
                               GError **error);

void nlx_volume_info_free (NlxVolumeInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NlxVolumeInfo, nlx_volume_info_free)

NlxVolumeInfo *nlx_volume_info (const NlxVolumeSettings *settings,
                                const char *id,
                                GError **error);
GPtrArray *nlx_volume_list (const NlxVolumeSettings *settings,
                            GError **error);
gboolean nlx_volume_create (const NlxVolumeSettings *settings,
                            const char *id,
                            guint64 size_bytes,
                            const char *fstype,
                            const char *from_dir,
                            GError **error);
gboolean nlx_volume_create_full (const NlxVolumeSettings *settings,
                                 const char *id,
                                 guint64 size_bytes,
                                 const char *fstype,
                                 const char *from_dir,
                                 const char *owner,
                                 GError **error);
gboolean nlx_volume_link_block_device (const NlxVolumeSettings *settings,
                                       const char *id,
                                       const char *device,
                                       GError **error);
gboolean nlx_volume_delete (const NlxVolumeSettings *settings,
                            const char *id,
                            GError **error);

G_END_DECLS
