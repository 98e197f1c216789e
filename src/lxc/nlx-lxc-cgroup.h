/* nlx-lxc-cgroup.h: the pids limit libvirt's LXC driver does not set */
#pragma once

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* [lxc] pids_limit: enough for a full system container (systemd, a few
 * daemons, a thread-happy application server), far below pid_max. */
#define NLX_LXC_DEFAULT_PIDS_LIMIT 2048
/* The cgroup v1 pids group every instance's group sits in, whose own
 * pids.max is [lxc] pids_host_max: all instances together. */
#define NLX_LXC_PIDS_GROUP "nova-lxc"

guint nlx_lxc_cgroup_default_pids_host_max (void);
gboolean nlx_lxc_cgroup_init_pids (guint host_max,
                                   GError **error);
gboolean nlx_lxc_cgroup_limit_pids (const char *domain,
                                    pid_t controller,
                                    pid_t init,
                                    guint limit,
                                    GError **error);
gboolean nlx_lxc_cgroup_remove_pids (const char *domain,
                                     GError **error);
char *nlx_lxc_cgroup_pids_dir (pid_t pid);

typedef gboolean (*NlxLxcDomainExists) (const char *domain,
                                        gpointer user_data);
void nlx_lxc_cgroup_prune_pids (NlxLxcDomainExists exists,
                                gpointer user_data);

G_END_DECLS
