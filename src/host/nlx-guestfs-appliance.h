/* nlx-guestfs-appliance.h: the work done in libguestfs's appliance, in
 * the nova-lxc-guestfs helper only (see nlx-guestfs.h for the callers'
 * side) */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

gboolean nlx_guestfs_appliance_fsck (const char *path,
                                     const char *fstype,
                                     const char *id,
                                     GError **error);
gboolean nlx_guestfs_appliance_copy_out (const char *file,
                                         const char *format,
                                         const char *tar_path,
                                         GError **error);
gboolean nlx_guestfs_appliance_get_kvm_failed (void);
void nlx_guestfs_appliance_set_kvm_failed (void);

G_END_DECLS
