/* nlx-lxc-driver-private.h: what the pieces of the lxc driver plugin
 * share: its state, and what one piece does for the others.  Not for
 * the layers above, which reach the driver through its NlxDriver table
 * (nlx_driver_get()). */

#pragma once

#include <sys/types.h>
#include <glib.h>
#include <libvirt/libvirt.h>

#include "common/nlx-autoptr.h"
#include "common/nlx-lock.h"
#include "driver/nlx-driver.h"
#include "host/nlx-dhcp.h"
#include "lxc/nlx-lxc-domain.h"
#include "lxc/nlx-lxc-proc.h"
#include "lxc/nlx-lxc-volume.h"

G_BEGIN_DECLS

#define NLX_LXC_INIT_START_TIMEOUT_US (30 * G_USEC_PER_SEC)
/* How long a start waits for libvirt to learn the pid of the new init
 * (see nlx_lxc_wait_init_known()), then after starting it once more,
 * and a volume change before it answers 409.  The first wait is as long as the start
 * itself may take: under tools/check's parallel load libvirt took over
 * 10 s, and a start retried then boots the tenant's init twice. */
#define NLX_LXC_INIT_KNOWN_TIMEOUT_US NLX_LXC_INIT_START_TIMEOUT_US
#define NLX_LXC_INIT_KNOWN_RETRY_TIMEOUT_US (20 * G_USEC_PER_SEC)
#define NLX_LXC_INIT_KNOWN_VOLUME_TIMEOUT_US (10 * G_USEC_PER_SEC)
/* How long that wait sees libvirtd hold no connection to the domain's
 * controller (nlx_lxc_monitor_connected()) before it gives up: longer
 * than libvirtd takes to see a controller that exits (it reads the end
 * of the connection at once) and stop the domain (200 ms). */
#define NLX_LXC_MONITOR_LOST_US (G_USEC_PER_SEC)

/* How long a stop, or a start that saw the controller go, waits for
 * libvirt's STOPPED event before it asks libvirtd instead: the event
 * comes within milliseconds of the controller's exit, unless libvirtd
 * is overloaded or restarting. */
#define NLX_LXC_STOPPED_EVENT_TIMEOUT_US (5 * G_USEC_PER_SEC)

/* A running instance's console as the console thread holds it. */
typedef struct _NlxLxcHeld NlxLxcHeld;

struct _NlxDriverState {
  char *uri;
  char *instances_path;
  NlxVolumeSettings *volumes;
  /* [lxc] uid_maps and gid_maps, host-wide as in Nova, and a user
   * namespace with them for idmapped root filesystems. */
  GArray *uid_map;
  GArray *gid_map;
  NlxLxcIdmap idmap;
  guint soft_reboot_timeout_s;
  /* [lxc] pids_limit (an instance's, unless its flavor says) and
   * pids_host_max (all instances' together, and any flavor's most);
   * [compute] cpu_shared_set (nullable) */
  guint pids_limit;
  guint pids_host_max;
  char *cpuset;
  /* [compute] force_config_drive: every instance gets one, as Nova's */
  gboolean force_config_drive;
  /* The CPUs each of this daemon's pinned instances is pinned to (uuid
   * -> GArray of guint), read from libvirt once, then kept as spawns and
   * destroys change it; under pin_lock, which a spawn holds from
   * choosing its CPUs to defining its domain. */
  GMutex pin_lock;
  GHashTable *pins;
  /* The directory holding nova-lxc-init, mounted into every instance */
  char *sandbox_dir;
  /* What instances get of [lxc] lxcfs_path, or NULL when [lxc] lxcfs
   * is off. */
  NlxLxcLxcfs *lxcfs;

  /* The connection is replaced when libvirtd restarts, so operations take
   * their own reference through nlx_lxc_connection().  libvirtd runs
   * at most max_client_requests (5 by default) calls of one connection
   * at once, so operations take turns among @conn, which also carries
   * libvirt's events, and @spares ([libvirt] connections - 1 of them,
   * opened with it: at start and when it reconnects). */
  GMutex lock;
  virConnectPtr conn;           /* NULL until reconnected */
  GPtrArray *spares;            /* virConnectPtr, NULL until opened */
  guint next_connection;
  int lifecycle_callback;       /* -1 when none is registered */
  int reboot_callback;          /* -1 when none is registered */
  /* Held while an event is delivered, so that stopping events waits for
   * one in progress: libvirt's deregistration does not. */
  GMutex event_lock;
  NlxDriverEventFunc event_func;
  gpointer event_data;
  /* lock_host's: one compute daemon per instances_path and bridge */
  NlxLock *instances_lock;
  NlxLock *bridge_lock;
  /* instances_path is a private mount point (nlx-lxc-mounts.c) */
  gboolean private_mounts;
  char *bridge;                 /* [network] bridge */
  gboolean host_access;         /* [network] host_access */
  char *gateway;                /* [network] gateway */
  guint metadata_port;          /* [network] metadata_port; 0: none */
  gboolean dhcp_enabled;        /* [network] dhcp */
  char *cidr;                   /* [network] cidr */
  guint prefix;
  /* The bridge's DHCP server, from lock_host on when dhcp_enabled. */
  NlxDhcp *dhcp;

  /* Mounts volumes again in containers their own init rebooted (uuids);
   * pushes are refused once remount_closed is set, under @lock. */
  GThreadPool *remounts;
  gboolean remount_closed;
  /* Serialises mounting an instance's volumes, which is "mount what is
   * not mounted yet": a start and a reboot event must not both mount. */
  GMutex mount_lock;

  /* The console thread holds each running instance's PTY open, one
   * reader each (@held: "uuid id" -> NlxLxcHeld, the id telling boots apart),
   * and keeps why instances failed during boot (@faults: uuid ->
   * message).  Both under @console_lock; only the thread removes from
   * @held.  @released is signalled when it does; @wake[1] wakes it.
   * Each held run's PTY and controller pidfd are in the epoll set
   * @console_epoll from the moment they are held, so that output on one
   * console costs one wake-up whatever the number of instances; the few
   * runs with attached clients are in @console_attached (NlxLxcHeld),
   * whose sockets the thread polls beside it. */
  GMutex console_lock;
  GThread *console_thread;
  GHashTable *held;
  GHashTable *faults;
  GCond released;
  int wake[2];
  int console_epoll;
  GPtrArray *console_attached;
  gboolean stopping;
  /* What libvirt's events ask of the console thread, under
   * @console_lock: the uuids whose current run to hold or whose ended
   * runs to release (uuid -> nothing; the thread makes it at its start
   * and frees it at its end, events meanwhile are dropped), and whether
   * to list every domain once (at start-up and after a reconnect: events
   * missed while libvirtd was away). */
  GHashTable *console_pending;
  gboolean console_rescan;

  /* Operations waiting for a domain's STOPPED event (NlxLxcStopWaiter,
   * a list of the waiters' own stack frames) under @stop_lock, which
   * like @stop_cond needs no init in the zeroed state (GLib's futex
   * locks); @stop_cond is broadcast when one stops. */
  GMutex stop_lock;
  GCond stop_cond;
  struct _NlxLxcStopWaiter *stop_waiters;

  /* When a destroy last looked for empty pids groups of domains gone
   * (nlx_lxc_prune_pids_groups_after_destroy()), in seconds of the
   * monotonic clock; atomic.  0: never. */
  gint pids_pruned_at;
};

/* One operation's wait for a domain to stop (nlx_lxc_stop_waiter_add()). */
typedef struct _NlxLxcStopWaiter NlxLxcStopWaiter;
struct _NlxLxcStopWaiter {
  const char *uuid;
  gboolean stopped;             /* libvirt said so since it was added */
  NlxLxcStopWaiter *next;
};

/* A start's watch on one run of a domain, so that its wait for init
 * makes no libvirt call in its loop: the run is over when libvirt's
 * STOPPED event says so, or its libvirt_lxc controller (pid: the
 * domain's id) has exited and libvirt agrees. */
typedef struct {
  NlxDriverState *state;
  NlxLxcStopWaiter waiter;
  gboolean events;              /* libvirt's events arrive */
  int controller;               /* a pidfd, or -1 once gone or unknown */
  gboolean settled;             /* the controller went; libvirt said: */
  int ended;                    /* as nlx_lxc_run_watch_ended() */
} NlxLxcRunWatch;


/* nlx-lxc-driver.c */
char *nlx_lxc_instance_dir (NlxDriverState *state,
                            const char *uuid);
char *nlx_lxc_console_log_path (NlxDriverState *state,
                                const char *uuid);

/* nlx-lxc-mounts.c */
void nlx_lxc_mounts_init (NlxDriverState *state);
void nlx_lxc_mounts_cleanup (NlxDriverState *state);
gboolean nlx_lxc_mounts_separate (NlxDriverState *state);
gboolean nlx_lxc_mounts_publish_root (NlxDriverState *state,
                                      const char *uuid,
                                      GError **error);
gboolean nlx_lxc_mounts_withdraw (NlxDriverState *state,
                                  const char *uuid,
                                  GError **error);
void nlx_lxc_mounts_mark_gated (NlxDriverState *state,
                                const char *uuid);
gboolean nlx_lxc_mounts_was_gated (NlxDriverState *state,
                                   const char *uuid);
void nlx_lxc_mounts_trim_controller (NlxDriverState *state,
                                     virDomainPtr dom,
                                     const char *uuid);

/* nlx-lxc-conn.c */
void nlx_lxc_deliver_event (NlxDriverState *state,
                            const char *uuid);
gboolean nlx_lxc_is_ours (virDomainPtr dom,
                          char uuid[VIR_UUID_STRING_BUFLEN]);
gboolean nlx_lxc_is_mine (NlxDriverState *state,
                          virDomainPtr dom,
                          char uuid[VIR_UUID_STRING_BUFLEN]);
void nlx_lxc_on_close (virConnectPtr conn,
                       int reason,
                       void *opaque);
void nlx_lxc_drop_connection (NlxDriverState *state);
void nlx_lxc_open_spares (NlxDriverState *state);
virConnectPtr nlx_lxc_connection (NlxDriverState *state,
                                  GError **error);
virDomainPtr nlx_lxc_lookup (NlxDriverState *state,
                             const char *uuid,
                             GError **error);
gboolean nlx_lxc_get_state (virDomainPtr dom,
                            const char *uuid,
                            int *domain_state,
                            GError **error);
gboolean nlx_lxc_is_running (int domain_state);
void nlx_lxc_start_event_loop (void);
void nlx_lxc_driver_watch_events (NlxDriverState *state,
                                  NlxDriverEventFunc func,
                                  gpointer user_data);
gboolean nlx_lxc_events_registered (NlxDriverState *state);
void nlx_lxc_stop_waiter_add (NlxDriverState *state,
                              NlxLxcStopWaiter *waiter,
                              const char *uuid);
void nlx_lxc_stop_waiter_remove (NlxDriverState *state,
                                 NlxLxcStopWaiter *waiter);
gboolean nlx_lxc_stop_waiter_wait (NlxDriverState *state,
                                   NlxLxcStopWaiter *waiter,
                                   gint64 deadline);

/* nlx-lxc-process.c */
pid_t nlx_lxc_init_pid (virDomainPtr dom);
int nlx_lxc_libvirt_knows_init (virDomainPtr dom,
                                pid_t init,
                                GError **error);
int nlx_lxc_parse_signal (const char *name);
gboolean nlx_lxc_request_shutdown (virDomainPtr dom,
                                   const char *uuid,
                                   GError **error);
gboolean nlx_lxc_wait_inactive (NlxDriverState *state,
                                virDomainPtr *dom,
                                const char *uuid,
                                guint timeout_s);
gboolean nlx_lxc_prepare_volumes (NlxDriverState *state,
                                  virDomainPtr dom,
                                  const char *uuid,
                                  const NlxLxcMetadata *metadata,
                                  GError **error);
gboolean nlx_lxc_apply_limits (NlxDriverState *state,
                               virDomainPtr dom,
                               const char *uuid,
                               const NlxLxcMetadata *metadata,
                               GError **error);
gboolean nlx_lxc_wait_init_known (NlxDriverState *state,
                                  virDomainPtr *dom,
                                  const char *uuid,
                                  gint64 timeout_us,
                                  NlxDriverError code,
                                  GError **error);
void nlx_lxc_remove_lease (NlxDriverState *state,
                           const char *uuid);
GThread *nlx_lxc_port_rules_start (const char *uuid,
                                   const NlxVif *vif);
gboolean nlx_lxc_port_rules_finish (GThread *thread,
                                    GError **error);
gboolean nlx_lxc_start_instance (NlxDriverState *state,
                                 virDomainPtr dom,
                                 const char *uuid,
                                 const NlxLxcMetadata *known,
                                 GThread *port_rules,
                                 GError **error);
void nlx_lxc_remount (gpointer data,
                      gpointer user_data);

/* nlx-lxc-stop.c */
int nlx_lxc_open_pidfd (guint pid);
void nlx_lxc_run_watch_begin (NlxLxcRunWatch *watch,
                              NlxDriverState *state,
                              virDomainPtr dom,
                              const char *uuid);
void nlx_lxc_run_watch_end (NlxLxcRunWatch *watch);
int nlx_lxc_run_watch_ended (NlxLxcRunWatch *watch,
                             virDomainPtr dom,
                             gint64 timeout_us);
gboolean nlx_lxc_stop_now (NlxDriverState *state,
                           virDomainPtr dom,
                           const char *uuid,
                           GError **error);
int nlx_lxc_hold_monitor (virDomainPtr dom,
                          int *controller);
int nlx_lxc_monitor_connected (virDomainPtr dom);

/* nlx-lxc-console-thread.c */
void nlx_lxc_held_free (NlxLxcHeld *held);
void nlx_lxc_wake_console_thread (NlxDriverState *state);
gboolean nlx_lxc_hold_console (NlxDriverState *state,
                               virDomainPtr dom,
                               const char *uuid,
                               gboolean booting);
void nlx_lxc_watch_init (NlxDriverState *state,
                         virDomainPtr dom,
                         const char *uuid,
                         pid_t pid);
void nlx_lxc_expect_stop (NlxDriverState *state,
                          const char *uuid);
void nlx_lxc_gate_restart (NlxDriverState *state,
                           virDomainPtr dom,
                           const char *uuid);
void nlx_lxc_wait_released (NlxDriverState *state,
                            const char *uuid);
void nlx_lxc_flush_console (NlxDriverState *state,
                            virDomainPtr dom,
                            const char *uuid);
void nlx_lxc_console_event (NlxDriverState *state,
                            const char *uuid);
void nlx_lxc_console_rescan (NlxDriverState *state);
gpointer nlx_lxc_console_thread (gpointer data);
int nlx_lxc_driver_console_attach (NlxDriverState *state,
                                   const char *uuid,
                                   GError **error);

/* nlx-lxc-metadata.c */
char *nlx_lxc_xpath_string (const char *xml,
                            const char *expression);
NlxLxcMetadata *nlx_lxc_read_metadata (virDomainPtr dom,
                                       GError **error);
unsigned int nlx_lxc_live_and_config (virDomainPtr dom);
gboolean nlx_lxc_write_metadata (virDomainPtr dom,
                                 const NlxLxcMetadata *metadata,
                                 GError **error);

/* nlx-lxc-spawn.c */
gboolean nlx_lxc_driver_spawn (NlxDriverState *state,
                               const NlxInstance *instance,
                               const NlxImage *image,
                               GError **error);
gboolean nlx_lxc_driver_destroy (NlxDriverState *state,
                                 const char *uuid,
                                 GError **error);

/* nlx-lxc-attach.c */
gboolean nlx_lxc_driver_attach_volume (NlxDriverState *state,
                                       const char *uuid,
                                       const NlxVolumeAttachment *attachment,
                                       GError **error);
gboolean nlx_lxc_driver_detach_volume (NlxDriverState *state,
                                       const char *uuid,
                                       const NlxVolumeAttachment *attachment,
                                       GError **error);
gboolean nlx_lxc_has_disk (virDomainPtr dom,
                           const char *device,
                           unsigned int flags);
gboolean nlx_lxc_change_disk (virDomainPtr dom,
                              const char *device,
                              const char *source,
                              gboolean attach,
                              unsigned int flags,
                              GError **error);

/* nlx-lxc-host.c */
guint nlx_lxc_host_cpus (void);
void nlx_lxc_prune_pids_groups (NlxDriverState *state);
void nlx_lxc_prune_pids_groups_after_destroy (NlxDriverState *state);
gboolean nlx_lxc_driver_lock_host (NlxDriverState *state,
                                   GError **error);
NlxHostResources *nlx_lxc_driver_get_available_resource (NlxDriverState *state,
                                                         GError **error);

G_END_DECLS
