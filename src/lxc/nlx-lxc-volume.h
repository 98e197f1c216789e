/* nlx-lxc-volume.h: volumes of LXC instances on this host: loop
 * devices checked for what they read, filesystem checks and the mounts the daemon makes */
#pragma once

#include <sys/types.h>

#include "model/nlx-instance.h"
#include "storage/nlx-volume.h"

G_BEGIN_DECLS

char *nlx_lxc_volume_loop_name (const char *uuid,
                                const char *device);
char *nlx_lxc_volume_setup (const NlxVolumeSettings *settings,
                            const char *uuid,
                            const NlxVolumeAttachment *attachment,
                            gboolean *created,
                            GError **error);
gboolean nlx_lxc_volume_mount (const NlxVolumeSettings *settings,
                               const char *uuid,
                               const NlxVolumeAttachment *attachment,
                               pid_t init_pid,
                               GError **error);
gboolean nlx_lxc_volume_release (const char *uuid,
                                 const char *device,
                                 GError **error);
gboolean nlx_lxc_volume_release_all (const char *uuid,
                                     GError **error);
/**
 * NlxLxcIdmap:
 * @userns_fd: a user namespace with the instance's id maps
 * @root_uid: the host uid of the instance's root
 * @root_gid: the host gid of the instance's root
 *
 * How an unprivileged instance's root filesystem is owned; privileged
 * instances have none (%NULL).
 */
typedef struct {
  int userns_fd;
  guint32 root_uid;
  guint32 root_gid;
} NlxLxcIdmap;

gboolean nlx_lxc_instance_dir_make (const char *dir,
                                   const NlxLxcIdmap *idmap,
                                   GError **error);
char *nlx_lxc_overlay_root (const char *dir,
                            const char *source,
                            const NlxLxcIdmap *idmap,
                            GError **error);
char *nlx_lxc_volume_mount_root (const NlxVolumeSettings *settings,
                                 const char *uuid,
                                 const char *volume_id,
                                 const char *dir,
                                 const NlxLxcIdmap *idmap,
                                 GError **error);
gboolean nlx_lxc_volume_umount_root (const char *dir,
                                     GError **error);

G_END_DECLS
