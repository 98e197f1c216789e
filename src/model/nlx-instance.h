/* nlx-instance.h: what a caller asks an instance to be */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "model/nlx-volume-attachment.h"

G_BEGIN_DECLS

/**
 * NlxFlavor:
 * @name: the flavor's name, e.g. "m1.small"
 * @vcpus: virtual CPUs
 * @memory_mb: memory limit in MiB
 * @root_gb: root disk size in GiB, the limit of what the instance
 *   writes to its root (0: no limit of its own, as Nova's "the image's
 *   own size")
 */
/**
 * NlxFlavor:
 * @privileged: run without a user namespace (root inside is root on the
 *   host); an operator's opt-out, off by default
 * @pids: the most processes and threads the instance may hold at once
 *   (extra spec nova_lxc:pids), or 0 for the host's default
 * @cpu_shares: its CPU weight against other instances (extra spec
 *   quota:cpu_shares, as Nova's), or 0 for 1024 per vcpu
 * @seccomp_unconfined: run without the default seccomp filter (flavor
 *   extra spec nova_lxc:seccomp=unconfined); an operator's opt-out, off
 *   by default
 */
typedef struct {
  char *name;
  guint vcpus;
  guint memory_mb;
  guint root_gb;
  gboolean privileged;
  guint pids;
  guint cpu_shares;
  gboolean seccomp_unconfined;
} NlxFlavor;

/* The values of a flavor's seccomp setting (nova_lxc:seccomp). */
#define NLX_SECCOMP_DEFAULT "default"
#define NLX_SECCOMP_UNCONFINED "unconfined"

/**
 * NlxInstance:
 * @uuid: canonical lower-case uuid, the instance's identity
 * @name: display name chosen by the user
 * @flavor: resources
 * @image_ref: the image the root filesystem comes from
 * @user_id: owning user
 * @project_id: owning project
 * @metadata: string keys to string values
 * @created_at: creation time, UTC
 *
 * The driver-independent record of one instance, like Nova's Instance
 * object.  It says what was asked, not what runs.
 */
/**
 * NlxVif:
 * @bridge: the host bridge the instance's veth joins
 * @mac: its stable MAC address, lower-case "fa:16:3e:xx:xx:xx"
 * @address: its IPv4 address, dotted
 * @prefix: the subnet's prefix length
 * @gateway: (nullable): the default route's gateway, the bridge's own
 *   address on the daemon's bridge; %NULL (a driver-given interface,
 *   docs/api.md "The driver API") for no default route
 *
 * The instance's one network interface, as the compute service
 * allocated it (Nova's network_info, reduced to what a bridge needs).
 */
typedef struct {
  char *bridge;
  char *mac;
  char *address;
  guint prefix;
  char *gateway;
} NlxVif;

/**
 * NlxInstance:
 * @image_ref: (nullable): the image; only %NULL when @root_volume is set
 * @root_volume: (nullable): the volume holding the root filesystem
 * @volumes: (element-type NlxVolumeAttachment): the attached volumes
 * @vif: (nullable): its network interface; %NULL gives it a network
 *   namespace with loopback only
 * @hostname: (nullable): the host name the instance gives itself, as
 *   Nova's: asked for at create or made from @name by
 *   nlx_hostname_from_name(); %NULL only in records written before
 *   nova-lxc knew host names (nlx_instance_hostname() covers them)
 * @user_data: (nullable): the user data as the caller sent it, base64
 * @key_name: (nullable): the key pair the instance was created with
 * @key_data: (nullable): that key pair's public key, one OpenSSH line,
 *   copied at create as Nova does (deleting the key pair later does not
 *   take it from the instance)
 * @config_drive: whether the instance has a config drive
 * @no_network: whether it was made with no network (Nova's networks
 *   "none"): the compute service gives it no interface, so @vif stays
 *   %NULL
 * @description: (nullable): the user's description of the server, as
 *   Nova's (2.19+); may be "" (set empty), %NULL is "never set"
 * @tags: (element-type utf8): the server's tags, as Nova's (2.26+), in
 *   the order they were added; never %NULL
 * @access_ipv4: (nullable): the address the user says reaches the server
 *   (Nova's accessIPv4), as nlx_access_ip_is_valid(); only kept and shown,
 *   nothing routes it; %NULL when unset (Nova shows "")
 * @access_ipv6: (nullable): the same, IPv6 (Nova's accessIPv6)
 * @locked_by: (nullable): who locked the server, as Nova's: "owner" (its
 *   project) or "admin"; %NULL when it is not locked
 * @locked_reason: (nullable): why, as the locker said (Nova 2.73+); only
 *   set while @locked_by is
 */
typedef struct {
  char *uuid;
  char *name;
  NlxFlavor flavor;
  char *image_ref;
  char *root_volume;
  GPtrArray *volumes;
  NlxVif *vif;
  char *user_id;
  char *project_id;
  GHashTable *metadata;
  GDateTime *created_at;
  char *hostname;
  char *user_data;
  char *key_name;
  char *key_data;
  gboolean config_drive;
  gboolean no_network;
  char *description;
  GPtrArray *tags;
  char *access_ipv4;
  char *access_ipv6;
  char *locked_by;
  char *locked_reason;
} NlxInstance;

#define NLX_INSTANCE_NAME_MAX 255
#define NLX_FLAVOR_VCPUS_MAX 1024
#define NLX_FLAVOR_MEMORY_MB_MAX (16u * 1024 * 1024)
#define NLX_FLAVOR_ROOT_GB_MAX (1024u * 1024)
/* The kernel's PID_MAX_LIMIT (4 Mi): no pids limit can be higher. */
#define NLX_FLAVOR_PIDS_MAX (4u * 1024 * 1024)
/* cgroup v1 cpu.shares accepts 2 to 262144. */
#define NLX_FLAVOR_CPU_SHARES_MIN 2
#define NLX_FLAVOR_CPU_SHARES_MAX 262144

/* A host name is one DNS label, as Nova's sanitised display name. */
#define NLX_HOSTNAME_MAX 63
/* Nova's limit on user data: 65535 bytes of base64 text. */
#define NLX_USER_DATA_MAX 65535
#define NLX_KEY_NAME_MAX 255
/* The longest public key line kept (an RSA 16384 key is about 2.8 KiB). */
#define NLX_KEY_DATA_MAX 16384
/* Nova's limits on a server's description and tags. */
#define NLX_DESCRIPTION_MAX 255
#define NLX_TAG_MAX 60
#define NLX_TAGS_MAX 50
/* Nova's limit on locked_reason. */
#define NLX_LOCKED_REASON_MAX 255
/* The values of @locked_by. */
#define NLX_LOCKED_BY_OWNER "owner"
#define NLX_LOCKED_BY_ADMIN "admin"

/* How a root volume shows as an attachment: it has no device node inside
 * the instance (the host mounts it as the instance's root), so its device
 * and its mount path are both "/". */
#define NLX_ROOT_VOLUME_DEVICE "/"

NlxVif *nlx_vif_new (const char *bridge,
                     const char *mac,
                     const char *address,
                     guint prefix,
                     const char *gateway);
void nlx_vif_free (NlxVif *vif);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NlxVif, nlx_vif_free)

void nlx_instance_free (NlxInstance *instance);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NlxInstance, nlx_instance_free)

NlxInstance *nlx_instance_new_from_node (JsonNode *node,
                                         GError **error);
NlxInstance *nlx_instance_new_from_data (const char *data,
                                         gssize length,
                                         GError **error);
NlxInstance *nlx_instance_new_from_file (const char *path,
                                         GError **error);
JsonNode *nlx_instance_to_node (const NlxInstance *instance);
char *nlx_instance_to_data (const NlxInstance *instance);

char *nlx_time_to_string (GDateTime *time);

char *nlx_instance_domain_name (const NlxInstance *instance);
char *nlx_hostname_from_name (const char *name,
                              const char *uuid);
gboolean nlx_hostname_is_valid (const char *hostname);
gboolean nlx_description_is_valid (const char *description);
gboolean nlx_tag_is_valid (const char *tag);
gboolean nlx_access_ip_is_valid (const char *address,
                                 int family);
char *nlx_access_ip_normalize (const char *address,
                               int family);
gboolean nlx_instance_has_tag (const NlxInstance *instance,
                               const char *tag);
const char *nlx_instance_hostname (const NlxInstance *instance,
                                   char **storage);
NlxVolumeAttachment *nlx_instance_find_volume (const NlxInstance *instance,
                                               const char *volume_id);
NlxVolumeAttachment *nlx_instance_find_device (const NlxInstance *instance,
                                               const char *device);
const NlxVolumeAttachment *nlx_instance_find_attachment (const NlxInstance *instance,
                                                         const char *volume_id,
                                                         NlxVolumeAttachment *root);
char *nlx_instance_next_device (const NlxInstance *instance);

G_END_DECLS
