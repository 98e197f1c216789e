/* nlx-lxc-proc.h: what an instance reads of the host in /proc: lxcfs's
 * view of its own cgroups, and a boot_id of each boot's own */
#pragma once

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* Debian's lxcfs package mounts it there. */
#define NLX_LXC_LXCFS_DEFAULT_PATH "/var/lib/lxcfs"
/* In the instance's directory: the boot_id its current boot reads. */
#define NLX_LXC_BOOT_ID_FILE "boot_id"

gboolean nlx_lxc_lxcfs_check (const char *lxcfs_path,
                              GError **error);

void nlx_lxc_proc_view_mount (const char *dir,
                              const char *lxcfs_path,
                              pid_t init,
                              const char *uuid);

G_END_DECLS
