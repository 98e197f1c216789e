/* nlx-bench-scale.h: what the two files of bench-scale share: its
 * limits, the run's state (Scale), and the host side's functions. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define EXIT_SKIP 77
#define EXIT_USAGE 2
#define URI "lxc:///"
#define IMAGE "nlxscale"
#define FLAVOR "m1.nano"
/* 2046 addresses: N is capped by the bridge's ports well before. */
#define CIDR "198.19.224.0/21"
/* Measured in issue 17: 5.3-6 MiB per instance all told; with room. */
#define MIB_PER_SERVER 8
#define HEADROOM_MIB 1024
/* A Linux bridge takes at most BR_MAX_PORTS (1024) ports, and the daemon
 * puts every server on its one bridge. */
#define BRIDGE_PORTS 1024
/* Two ptys a server (its console and the controller's), fds the daemon
 * and libvirtd may hold a server, tasks a server runs (the controller's
 * threads, init, the console shell), with room. */
#define PTYS_PER_SERVER 2
#define FDS_PER_SERVER 2
#define TASKS_PER_SERVER 10
#define SPARE_FDS 256
#define DAEMON_START_TIMEOUT_S 60
#define DAEMON_STOP_TIMEOUT_S 60
#define ACTIVE_TIMEOUT_S 600
#define GONE_TIMEOUT_S 600
#define REQUEST_TIMEOUT_S 300
/* Targets of issue 17. */
#define BOOT_GROWTH_TARGET 2.0
#define DETAIL_P50_TARGET_MS 50.0
#define DELETES_PER_S_TARGET 10.0
#define RSS_TARGET_MIB 64.0
#define DESTROY_P50_TARGET_S 0.1
/* Deletes made one at a time, with N running and with few, at most. */
#define ALONE_DELETES 10

#ifndef NLX_ABS_TOP_SRCDIR
#define NLX_ABS_TOP_SRCDIR NLX_ABS_TOP_BUILDDIR
#endif
#define MKROOTFS NLX_ABS_TOP_SRCDIR "/tools/mkrootfs"

typedef struct {
  char *tmp_dir;
  char *config_path;
  char *socket_path;
  char *log_path;
  char *root;
  char *libvirt_root;           /* libvirt alone's */
  char *instances;
  char *bridge;
  const char *cidr;             /* --cidr: the servers' network */
  char *tag;                    /* in the servers' names */
  guint count;                  /* --count: the daemon's
                                 * max_instances_per_host */
  GPid daemon;
  guint names;
  GMutex lock;                  /* ids and live */
  GPtrArray *ids;               /* every id the daemon gave, in order */
  GHashTable *live;             /* those not yet seen gone */
  /* Deletes one at a time: their 404 is polled for more often. */
  gboolean alone;
  struct _virConnect *conn;     /* libvirt alone's */
  guint libvirt_names;
} Scale;

typedef struct {
  int domains;
  int dirs;
  int mounts;
  int loops;
  int veths;
} Left;

/* bench-scale-host.c */
int proc_status_field (GPid pid,
                       const char *field);
int process_fds (GPid pid);
double process_cpu_ms (GPid pid,
                       gboolean children);
double host_cpu_ms (void);
GPid libvirtd_pid (void);
gint64 mount_objects (void);
double controller_mounts (Scale *scale);
int libvirtd_mounts (void);
gboolean host_fits (guint n,
                    const char *cidr);
gboolean write_config (Scale *scale,
                       GError **error);
gboolean daemon_alive (Scale *scale);
void daemon_stop (Scale *scale);
void print_log_tail (Scale *scale,
                     guint lines);
gboolean is_our_id (Scale *scale,
                    const char *uuid);
int our_domains (Scale *scale,
                 gboolean remove);
void measure_left (Scale *scale,
                   Left *left);
gboolean left_nothing (const Left *left);
gboolean remove_leftovers (Scale *scale);

G_END_DECLS
