/* nlx-driver.h: the compute driver interface, shaped like Nova's
 * nova.virt.driver.ComputeDriver */
#pragma once

#include <glib.h>

#include "common/nlx-error.h"
#include "model/nlx-image.h"
#include "model/nlx-instance.h"
#include "model/nlx-power-state.h"

G_BEGIN_DECLS

/* Bumped whenever NlxDriver or what it is passed (NlxInstance) changes
 * shape; the loader refuses a plugin built against another version
 * instead of calling through a wrong table. */
#define NLX_DRIVER_ABI_VERSION 8

#define NLX_SNAPSHOT_FILE "root.tar"

/* The one symbol every plugin exports: const NlxDriver *nlx_driver_get (void) */
#define NLX_DRIVER_ENTRY_POINT "nlx_driver_get"

/**
 * NlxDriverCapability:
 *
 * What a driver can do beyond the operations every driver must have.
 * A flag is set exactly when the matching operations are filled in; the
 * loader checks that.
 */
typedef enum {
  NLX_DRIVER_CAP_PAUSE = 1 << 0,          /* pause, unpause */
  NLX_DRIVER_CAP_CONSOLE_OUTPUT = 1 << 1, /* get_console_output */
  NLX_DRIVER_CAP_VOLUMES = 1 << 2,        /* attach_volume, detach_volume */
  NLX_DRIVER_CAP_SNAPSHOT = 1 << 3,       /* snapshot */
  /* No operation: the driver's firewall routes instances' requests to
   * 169.254.169.254:80 to [network] metadata_port on the bridge's
   * gateway, where the compute daemon then serves the metadata service
   * (nlx-metadata-service.c); a driver without it gets no service. */
  NLX_DRIVER_CAP_METADATA_SERVICE = 1 << 4,
} NlxDriverCapability;

typedef enum {
  NLX_REBOOT_SOFT,
  NLX_REBOOT_HARD,
} NlxRebootType;

/**
 * NlxInstanceInfo:
 * @state: the power state
 * @max_mem_kib: memory limit
 * @mem_kib: memory in use
 * @num_cpu: virtual CPUs
 * @cpu_time_ns: CPU time used
 */
typedef struct {
  NlxPowerState state;
  guint64 max_mem_kib;
  guint64 mem_kib;
  guint num_cpu;
  guint64 cpu_time_ns;
} NlxInstanceInfo;

/**
 * NlxHostResources:
 *
 * What get_available_resource reports, with Nova's field names.
 * @hypervisor_version is encoded as libvirt does: major * 1000000 +
 * minor * 1000 + release.  A driver's @vcpus_used counts the active
 * instances it made (the lxc driver: those under its instances_path),
 * never other domains of the host; the compute daemon, which knows its
 * own records, counts exactly theirs.
 */
typedef struct {
  guint vcpus;
  guint vcpus_used;
  guint64 memory_mb;
  guint64 memory_mb_used;
  guint64 local_gb;
  guint64 local_gb_used;
  char *hypervisor_type;
  guint64 hypervisor_version;
  char *hypervisor_hostname;
} NlxHostResources;

void nlx_host_resources_free (NlxHostResources *resources);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NlxHostResources, nlx_host_resources_free)

/**
 * NlxDriverEventFunc:
 * @uuid: (nullable): the instance whose state may have changed, or %NULL
 *   when any instance's may have (the hypervisor connection was lost)
 * @user_data: what was passed to watch_events
 *
 * Told that something happened; the receiver asks get_info for the truth,
 * so a late or duplicated event does no harm.  Called from a thread of the
 * driver's, never the caller's.
 */
typedef void (*NlxDriverEventFunc) (const char *uuid,
                                    gpointer user_data);

/* Each plugin defines its own state behind this name. */
typedef struct _NlxDriverState NlxDriverState;

/**
 * NlxDriver:
 * @abi_version: %NLX_DRIVER_ABI_VERSION
 * @name: the plugin's name, as in `compute_driver = NAME`
 * @capabilities: optional operations this driver has
 *
 * A driver is this table, filled in with designated initializers and
 * returned by the plugin's nlx_driver_get().  Instances are named by uuid
 * in every operation but spawn.  Every fallible operation sets a
 * #NLX_DRIVER_ERROR; callers never call through the table directly but
 * through nlx_virt_*(), which reports operations left %NULL as
 * %NLX_DRIVER_ERROR_NOT_SUPPORTED.
 *
 * Concurrency: operations may be called from several threads at once.
 * The actions that change an instance (spawn, destroy, reboot, power_off,
 * power_on, pause, unpause, attach_volume, detach_volume, snapshot) are
 * never two at once on the same instance.  The reads (get_info,
 * get_console_output, get_fault, get_vif, get_available_resource,
 * list_instances) and console_attach may run at any time, beside an
 * action on the same instance too: once started, the manager makes
 * every call in one pool of worker threads, and asks get_info (a sync),
 * get_console_output, get_available_resource and console_attach there
 * whenever a caller does, while an action on that instance runs; so a
 * driver answers them from state that an action in progress leaves
 * consistent.  (Its start-up calls, the reconcile included, come from
 * the caller's thread before any worker runs.)  cleanup_host runs
 * alone: the manager waits for every call it started before the driver
 * is closed (nlx_manager_stop()), and starts none after.
 *
 * Required: init_host, cleanup_host, list_instances, spawn, destroy,
 * reboot, power_off, power_on, get_info, get_available_resource.
 */
typedef struct {
  guint abi_version;
  const char *name;
  NlxDriverCapability capabilities;

  /* Connects to the hypervisor and checks it can run instances.
   * @config may be %NULL: every setting then has its default. */
  NlxDriverState *(*init_host) (GKeyFile *config,
                                GError **error);
  void (*cleanup_host) (NlxDriverState *state);

  /* uuids of this driver's instances, running or not */
  char **(*list_instances) (NlxDriverState *state,
                            GError **error);
  /* Creates and starts the instance, with its root filesystem from
   * @image or from instance->root_volume (then @image only lends its
   * properties and may be %NULL) and instance->volumes attached; returns
   * once its init runs. */
  gboolean (*spawn) (NlxDriverState *state,
                     const NlxInstance *instance,
                     const NlxImage *image,
                     GError **error);
  /* Stops and removes the instance and everything it owns on the host.
   * Succeeds when the instance is already gone. */
  gboolean (*destroy) (NlxDriverState *state,
                       const char *uuid,
                       GError **error);
  gboolean (*reboot) (NlxDriverState *state,
                      const char *uuid,
                      NlxRebootType type,
                      GError **error);
  /* Asks the instance to shut down, waits up to @timeout_s seconds, then
   * stops it; 0 stops it at once. */
  gboolean (*power_off) (NlxDriverState *state,
                         const char *uuid,
                         guint timeout_s,
                         GError **error);
  gboolean (*power_on) (NlxDriverState *state,
                        const char *uuid,
                        GError **error);
  gboolean (*pause) (NlxDriverState *state,
                     const char *uuid,
                     GError **error);
  gboolean (*unpause) (NlxDriverState *state,
                       const char *uuid,
                       GError **error);
  gboolean (*get_info) (NlxDriverState *state,
                        const char *uuid,
                        NlxInstanceInfo *info,
                        GError **error);
  /* At most the last @max_bytes of the instance's console. */
  char *(*get_console_output) (NlxDriverState *state,
                               const char *uuid,
                               gsize max_bytes,
                               GError **error);
  /* Attaches a volume to a running or stopped instance, for good: it
   * stays through reboots and power cycles until detach_volume.  A
   * failed attach leaves nothing behind. */
  gboolean (*attach_volume) (NlxDriverState *state,
                             const char *uuid,
                             const NlxVolumeAttachment *attachment,
                             GError **error);
  /* Undoes whatever part of an attach exists, so it also cleans up after
   * an attach that was interrupted; succeeds when nothing is attached. */
  gboolean (*detach_volume) (NlxDriverState *state,
                             const char *uuid,
                             const NlxVolumeAttachment *attachment,
                             GError **error);
  /* Writes the instance's root filesystem, as the instance sees it (its
   * own uids, without attached volumes), as an uncompressed tarball named
   * %NLX_SNAPSHOT_FILE into the empty directory @image_dir.  A running
   * instance is frozen while its root is read, so the tarball is
   * consistent; a paused or stopped one is read as it is. */
  gboolean (*snapshot) (NlxDriverState *state,
                        const char *uuid,
                        const char *image_dir,
                        GError **error);
  NlxHostResources *(*get_available_resource) (NlxDriverState *state,
                                               GError **error);
  /* Optional: report lifecycle changes (an init that exits, a domain
   * paused by hand) as they happen, until cleanup_host or until called
   * again with a %NULL @func.  That call stops them: once it returns, no
   * call of the earlier @func is running or will be made, so its
   * @user_data may be freed.  Without it the caller only finds out by
   * polling get_info. */
  void (*watch_events) (NlxDriverState *state,
                        NlxDriverEventFunc func,
                        gpointer user_data);
  /* Optional: claims for this process alone, until cleanup_host, what
   * the driver's instances use on the host beyond the caller's state (the
   * lxc driver: instances_path and the bridge), so that a second compute
   * daemon is refused before it touches them.  Only the compute daemon
   * calls it; a tool acting by hand beside it does not. */
  gboolean (*lock_host) (NlxDriverState *state,
                         GError **error);
  /* Optional: the network interface the instance was spawned with, as
   * the hypervisor keeps it (the lxc driver: the domain's metadata), or
   * %NULL without an error when it has none.  The compute daemon
   * rebuilds its address allocations from it, so that an address a
   * running instance holds is never handed out again. */
  NlxVif *(*get_vif) (NlxDriverState *state,
                      const char *uuid,
                      GError **error);
  /* Optional: why a stopped instance stopped, when it was its own
   * failure rather than a stop anyone asked for or a guest's poweroff
   * (the lxc driver: its init exited during boot, with init's last
   * console lines), or %NULL without an error.  Asked after get_info
   * reported the instance not running; a start, stop or destroy forgets
   * it.  The compute daemon puts the instance in ERROR with it as the
   * fault. */
  char *(*get_fault) (NlxDriverState *state,
                      const char *uuid,
                      GError **error);
  /* Optional (ABI 7): attaches to the running instance's serial console.
   * Returns one end of a connected AF_UNIX stream socket, close-on-exec
   * and blocking, that the caller owns: what the console prints from now
   * on can be read from it, and what is written to it is typed on the
   * console.  Any number of callers may be attached at once; each gets
   * all output, and the console log still gets it too (attaching never
   * steals output from the log or from another caller).  A caller that
   * does not read loses what its socket cannot hold rather than stall
   * the console.
   *
   * Concurrency: may be called from any thread, at the same time as any
   * other operation, on the same instance too; the returned descriptor
   * is the caller's alone and no driver lock is held while it is used.
   * The caller detaches by closing it; the driver closes its own end
   * when the console goes away (the instance stops, reboots or is
   * destroyed), so the caller reads end of file; nothing of the
   * attachment (descriptor, thread) outlives both ends being closed.
   * Fails with NOT_FOUND, or INVALID_STATE when the instance is not
   * running; -1 then. */
  int (*console_attach) (NlxDriverState *state,
                         const char *uuid,
                         GError **error);
  /* Optional (ABI 8): the power state of every instance the hypervisor
   * has, in one go, as get_info would say it (a stopped one's console
   * read to its end, for get_fault): uuid in lower case ->
   * GINT_TO_POINTER (NlxPowerState + 1), NOSTATE for one that could not
   * be asked.  The periodic sync asks it
   * rather than get_info for each of thousands of instances. */
  GHashTable *(*get_power_states) (NlxDriverState *state,
                                   GError **error);
} NlxDriver;

G_END_DECLS
