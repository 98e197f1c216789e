/* nlx-config.h: the compute host's configuration */
#pragma once

#include <glib.h>

#include "model/nlx-instance.h"

G_BEGIN_DECLS

/**
 * NlxConfigImage:
 * @name: how callers refer to it (imageRef)
 * @path: a root directory or root tarball on this host
 * @init_path: (nullable): the image's os_init_path
 * @shutdown_signal: (nullable): the image's os_shutdown_signal
 *
 * A bootable image, declared in an `[image NAME]` section until the image
 * store exists.
 */
typedef struct {
  char *name;
  char *path;
  char *init_path;
  char *shutdown_signal;
} NlxConfigImage;

#define NLX_CONFIG_DEFAULT_SYNC_INTERVAL_S 10
/* [api] max_connections, per listening socket: both sockets full stay
 * well below FD_SETSIZE (1024), the systemd default open file limit. */
#define NLX_CONFIG_DEFAULT_MAX_CONNECTIONS 128
#define NLX_CONFIG_MAX_CONNECTIONS 400
#define NLX_CONFIG_DEFAULT_REQUEST_TIMEOUT_S 30
/* [api] max_event_streams: one per nova-compute reading this daemon, and
 * a few for tools; each holds a connection for as long as it reads. */
#define NLX_CONFIG_DEFAULT_MAX_EVENT_STREAMS 8
#define NLX_CONFIG_MAX_EVENT_STREAMS 64
/* Nova's [console] token_ttl default */
#define NLX_CONFIG_DEFAULT_CONSOLE_TOKEN_TTL_S 600
/* Nova's [DEFAULT] shutdown_timeout */
#define NLX_CONFIG_DEFAULT_SHUTDOWN_TIMEOUT_S 60
/* Nova 26's initial_{cpu,ram,disk}_allocation_ratio, what a new Nova
 * compute node starts with, and its reserved_host_* defaults. */
#define NLX_CONFIG_DEFAULT_CPU_ALLOCATION_RATIO 4.0
/* Deleted servers whose action history is kept (2.21+). */
#define NLX_CONFIG_DEFAULT_DELETED_ACTIONS_MAX 1000
#define NLX_CONFIG_DEFAULT_RAM_ALLOCATION_RATIO 1.0
#define NLX_CONFIG_DEFAULT_DISK_ALLOCATION_RATIO 1.0
#define NLX_CONFIG_DEFAULT_RESERVED_HOST_MEMORY_MB 512
/* Far beyond any use; keeps capacity arithmetic finite. */
#define NLX_CONFIG_MAX_ALLOCATION_RATIO 10000.0
/* [filter_scheduler] max_instances_per_host: the instances one host is
 * set up for (issue 17's target); the lxc driver checks at start that
 * the host's limits hold that many (nova-lxc-compute(8), "LIMITS"). */
#define NLX_CONFIG_DEFAULT_MAX_INSTANCES_PER_HOST 1000
#define NLX_CONFIG_MAX_INSTANCES_PER_HOST 100000

/**
 * NlxConfig:
 * @keyfile: the file as read; drivers read their own keys from it
 * @compute_driver: `[DEFAULT] compute_driver`
 * @state_path: `[DEFAULT] state_path`, where records live
 * @debug: `[DEFAULT] debug`
 * @use_syslog: `[DEFAULT] use_syslog`: log to syslog, not stderr
 * @sync_interval_s: `[DEFAULT] sync_power_state_interval`, seconds between
 *   checks of every instance against the hypervisor
 * @shutdown_timeout_s: `[DEFAULT] shutdown_timeout`, seconds os-stop waits
 *   for init to power off
 * @api_socket: `[api] socket`, the Unix socket path
 * @api_socket_group: (nullable): `[api] socket_group`, the group that may
 *   use the socket
 * @api_listen: (nullable): `[api] listen`, HOST:PORT for TCP
 * @api_token: (nullable): `[api] auth_token`, required with @api_listen
 * @api_max_connections: `[api] max_connections`, connections held at once
 *   on each of the socket and the TCP port
 * @api_request_timeout_s: `[api] request_timeout`, seconds a connection
 *   has to send one whole request
 * @api_max_event_streams: `[api] max_event_streams`, event streams
 *   (GET /v2.1/os-nova-lxc-events) held at once
 * @console_token_ttl_s: `[console] token_ttl`, seconds a remote console
 *   URL stays usable
 * @flavors: (element-type NlxFlavor): from `[flavor NAME]` sections, or a
 *   default set when there are none
 * @images: (element-type NlxConfigImage): from `[image NAME]` sections
 * @cpu_allocation_ratio: `[compute] cpu_allocation_ratio`, as Nova's:
 *   instances' vcpus may add up to the host's CPUs times this
 * @ram_allocation_ratio: `[compute] ram_allocation_ratio`
 * @disk_allocation_ratio: `[compute] disk_allocation_ratio`
 * @reserved_host_cpus: `[DEFAULT] reserved_host_cpus`, host CPUs no
 *   instance claims
 * @reserved_host_memory_mb: `[DEFAULT] reserved_host_memory_mb`
 * @reserved_host_disk_mb: `[DEFAULT] reserved_host_disk_mb`
 * @deleted_actions_max: `[DEFAULT] deleted_actions_max`, how many of the
 *   most recently deleted servers keep their action history
 * @max_instances_per_host: `[filter_scheduler] max_instances_per_host`,
 *   as Nova's NumInstancesFilter: instances that may hold a place on
 *   this host at once
 */
typedef struct {
  GKeyFile *keyfile;
  char *compute_driver;
  char *state_path;
  gboolean debug;
  gboolean use_syslog;
  guint sync_interval_s;
  guint shutdown_timeout_s;
  char *api_socket;
  char *api_socket_group;
  char *api_listen;
  char *api_token;
  guint api_max_connections;
  guint api_request_timeout_s;
  guint api_max_event_streams;
  guint console_token_ttl_s;
  GPtrArray *flavors;
  GPtrArray *images;
  double cpu_allocation_ratio;
  double ram_allocation_ratio;
  double disk_allocation_ratio;
  guint reserved_host_cpus;
  guint reserved_host_memory_mb;
  guint reserved_host_disk_mb;
  guint deleted_actions_max;
  guint max_instances_per_host;
} NlxConfig;

gboolean nlx_config_load_keyfile (GKeyFile *keyfile,
                                  const char *path,
                                  GError **error);
NlxConfig *nlx_config_new_from_file (const char *path,
                                     GError **error);
NlxConfig *nlx_config_new_from_data (const char *data,
                                     GError **error);
void nlx_config_free (NlxConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NlxConfig, nlx_config_free)

char *nlx_config_get_string (GKeyFile *keyfile,
                             const char *group,
                             const char *key,
                             const char *fallback);
gboolean nlx_config_get_uint (GKeyFile *keyfile,
                              const char *group,
                              const char *key,
                              guint min,
                              guint max,
                              guint *value,
                              GError **error);
gboolean nlx_config_get_ratio (GKeyFile *keyfile,
                               const char *group,
                               const char *key,
                               double *value,
                               GError **error);
gboolean nlx_config_get_boolean (GKeyFile *keyfile,
                                 const char *group,
                                 const char *key,
                                 gboolean *out,
                                 GError **error);

const NlxFlavor *nlx_config_find_flavor (const NlxConfig *config,
                                         const char *name);
const NlxConfigImage *nlx_config_find_image (const NlxConfig *config,
                                             const char *name);

G_END_DECLS
