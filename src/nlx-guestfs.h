/* nlx-guestfs.h: libguestfs appliances over untrusted disks */
#pragma once

#include <glib.h>
#include <guestfs.h>

G_BEGIN_DECLS

guestfs_h *nlx_guestfs_launch (const char *path,
                               const char *format,
                               GError **error);
const char *nlx_guestfs_last_error (guestfs_h *g);
void nlx_guestfs_close (guestfs_h *g);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (guestfs_h, nlx_guestfs_close)

G_END_DECLS
