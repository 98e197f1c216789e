/* nlx-guestfs.h: libguestfs's appliance, run in the nova-lxc-guestfs
 * helper */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Where nlx_guestfs_helper_path() looks first (tests point it at a
 * helper that misbehaves). */
#define NLX_GUESTFS_HELPER_ENV "NOVA_LXC_GUESTFS_HELPER"

/* What the helper writes on its stdout, one serialized GVariant: success;
 * the error's domain, code and message; the log messages it had
 * (GLogLevelFlags, text); whether a launch with KVM failed. */
#define NLX_GUESTFS_RESULT_TYPE "(bsisa(is)b)"

char *nlx_guestfs_helper_path (void);
gboolean nlx_guestfs_fsck (const char *path,
                           const char *fstype,
                           const char *id,
                           GError **error);
gboolean nlx_guestfs_copy_out (const char *file,
                               const char *format,
                               const char *tar_path,
                               GError **error);

G_END_DECLS
