/* nlx-lxc-limits.h: whether the host's kernel and process limits hold
 * the instances the daemon is set up for */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* What one instance costs, measured with the lxc driver on a 6.x kernel
 * (nova-lxc-compute(8), "LIMITS", says how). */
/* The daemon: the console's PTY, console.log and init's pidfd, and
 * while its root is withdrawn from libvirtd's namespace (the restart
 * gate, nlx-lxc-console-thread.c) a copy of the controller's monitor
 * connection and the controller's pidfd. */
#define NLX_LXC_FDS_PER_INSTANCE 5
/* One PTY on the host's devpts (the console libvirt_lxc hands out) and
 * one in the instance's own devpts instance. */
#define NLX_LXC_PTYS_PER_INSTANCE 2
/* A minimal Debian 12 with systemd: systemd's inotify instances and
 * watches, charged to root (the owner of the instance's user namespace)
 * in the host's namespace.  A busybox init uses none. */
#define NLX_LXC_INOTIFY_INSTANCES_PER_INSTANCE 5
#define NLX_LXC_INOTIFY_WATCHES_PER_INSTANCE 11
/* nova-lxc-init's session keyring: one key of 5 bytes charged to the
 * host uid the instance's root maps to, shared by instances whose
 * [lxc] uid_maps are the same. */
#define NLX_LXC_KEYS_PER_INSTANCE 1
#define NLX_LXC_KEY_BYTES_PER_INSTANCE 5
/* A busybox instance: libvirt_lxc's threads, init and a shell. */
#define NLX_LXC_TASKS_PER_INSTANCE 6
/* A Linux bridge numbers its ports in 10 bits and keeps port 0
 * (BR_MAX_PORTS in net/bridge/br_private.h): the next port is refused
 * with EXFULL.  Built into the kernel, no sysctl. */
#define NLX_LXC_BRIDGE_PORTS_MAX 1023

/**
 * NlxLxcHostLimits:
 * @open_files: the daemon's soft RLIMIT_NOFILE
 * @pty_max: kernel.pty.max
 * @pty_reserve: kernel.pty.reserve, PTYs only the host's devpts may use
 * @inotify_instances: fs.inotify.max_user_instances
 * @inotify_watches: fs.inotify.max_user_watches
 * @keys_max: kernel.keys.maxkeys, per host uid other than root
 * @keys_bytes: kernel.keys.maxbytes, per host uid other than root
 * @pid_max: kernel.pid_max
 * @threads_max: kernel.threads-max
 *
 * G_MAXUINT64 stands for unlimited.
 */
typedef struct {
  guint64 open_files;
  guint64 pty_max;
  guint64 pty_reserve;
  guint64 inotify_instances;
  guint64 inotify_watches;
  guint64 keys_max;
  guint64 keys_bytes;
  guint64 pid_max;
  guint64 threads_max;
} NlxLxcHostLimits;

/**
 * NlxLxcLimitsWanted:
 * @instances: `[filter_scheduler] max_instances_per_host`
 * @addresses: instance addresses the `[network]` range holds
 * @api_connections: connections the daemon may hold at once, all
 *   listening sockets together
 */
typedef struct {
  guint instances;
  guint addresses;
  guint api_connections;
} NlxLxcLimitsWanted;

gboolean nlx_lxc_limits_read (const char *proc_dir,
                              NlxLxcHostLimits *limits,
                              GError **error);
GPtrArray *nlx_lxc_limits_check (const NlxLxcHostLimits *limits,
                                 const NlxLxcLimitsWanted *wanted,
                                 guint *allowed);

G_END_DECLS
