/* nlx-lxc-disk.h: an instance's writable layer as a filesystem of its
 * flavor's root_gb */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* In the instance's directory: the sparse file holding the filesystem,
 * and where it is mounted (the overlay's upper/ and work/ are inside). */
#define NLX_LXC_DISK_FILE "disk.img"
#define NLX_LXC_DISK_DIR "disk"

gboolean nlx_lxc_disk_create (const char *dir,
                              guint root_gb,
                              GError **error);
gboolean nlx_lxc_disk_mount (const char *uuid,
                             const char *dir,
                             GError **error);
char *nlx_lxc_disk_layer (const char *dir,
                          GError **error);
gboolean nlx_lxc_disk_umount (const char *dir,
                              GError **error);

G_END_DECLS
