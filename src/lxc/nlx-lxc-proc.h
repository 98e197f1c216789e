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

typedef struct _NlxLxcLxcfs NlxLxcLxcfs;

NlxLxcLxcfs *nlx_lxc_lxcfs_new (const char *path);
void nlx_lxc_lxcfs_free (NlxLxcLxcfs *lxcfs);
gboolean nlx_lxc_lxcfs_check (NlxLxcLxcfs *lxcfs,
                              GError **error);

void nlx_lxc_proc_view_mount (const char *dir,
                              NlxLxcLxcfs *lxcfs,
                              pid_t init,
                              const char *uuid);

G_END_DECLS
