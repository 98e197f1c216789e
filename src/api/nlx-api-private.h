/* nlx-api-private.h: what the pieces of the Compute API share: the
 * request, the answers, the JSON helpers and each resource's handlers,
 * which the routing table in nlx-api.c calls */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "api/nlx-api-faults.h"
#include "api/nlx-api.h"
#include "api/nlx-listener.h"
#include "common/nlx-error.h"
#include "common/nlx-json.h"

G_BEGIN_DECLS

/* The microversions served, 2.MIN to 2.MAX (nlx-api-microversions.c). */
#define NLX_API_MIN_MICROVERSION 1
#define NLX_API_MAX_MICROVERSION 96
/* The flavor extra spec of instances without a user namespace. */
#define NLX_API_PRIVILEGED_SPEC "nova_lxc:privileged"
#define NLX_API_PIDS_SPEC "nova_lxc:pids"
/* Nova's own name for the flavor's CPU weight. */
#define NLX_API_CPU_SHARES_SPEC "quota:cpu_shares"
/* The flavor extra spec of instances without the default seccomp filter. */
#define NLX_API_SECCOMP_SPEC "nova_lxc:seccomp"
/* Where /os-volumes keeps what Nova's volume has no field for: its
 * "metadata", which takes any key. */
#define NLX_API_VOLUME_SIZE_BYTES_KEY "nova_lxc:size_bytes"
#define NLX_API_VOLUME_FILESYSTEM_KEY "nova_lxc:filesystem"
#define NLX_API_VOLUME_MOUNT_PATH_KEY "nova_lxc:mount_path"
#define NLX_API_VOLUME_PROJECT_KEY "nova_lxc:project_id"
/* Where the Nova image proxy keeps what the image store knows of an
 * image's content: its "metadata", which takes any key.  A property of
 * the image's own under the prefix is not shown (the store's wins). */
#define NLX_API_IMAGE_KEY_PREFIX "nova_lxc:"
#define NLX_API_IMAGE_FORMAT_KEY "nova_lxc:format"
#define NLX_API_IMAGE_CHECKSUM_KEY "nova_lxc:checksum"
#define NLX_API_IMAGE_TREE_SIZE_KEY "nova_lxc:tree_size"
/* The one availability zone, Nova's default_availability_zone. */
#define NLX_API_AVAILABILITY_ZONE "nova"
/* This daemon as a Nova service (os-services, hypervisors' service). */
#define NLX_API_SERVICE_BINARY "nova-compute"
#define NLX_API_SERVICE_ID 1
/* As Nova's metadata items, and the instance document's. */
#define NLX_API_METADATA_ITEM_MAX 255
/* Nova's default metadata_items quota: items a server may have. */
#define NLX_API_METADATA_ITEMS_MAX 128
/* The most servers one create may ask for (max_count); more is 403, as
 * Nova's quota answers. */
#define NLX_API_MAX_COUNT 100

struct _NlxApi {
  const NlxConfig *config;
  NlxManager *manager;
  SoupServer *server;
  NlxListener *listener;
  GSocket *tcp_socket;          /* NULL without [api] listen */
  char *socket_path;            /* ours to remove */
  GHashTable *consoles;         /* ConsoleBridge set: open WebSockets */
  /* [api] auth_strategy = keystone: nlx-api-keystone.c; else NULL */
  struct _NlxApiKeystone *keystone;
  /* uuid -> the views of that server lists showed, kept for the next
   * list until the record changes (nlx-api-server-list.c) */
  GHashTable *server_views;
  /* The open event streams (nlx-api-events.c) */
  struct _NlxApiEvents *events;
};

/* One request, from its arrival to its answer. */
typedef struct {
  NlxApi *api;
  SoupServerMessage *msg;
  char *id;
  char *base;                   /* http://host[:port], for links */
  JsonNode *body;               /* the parsed request body, once read */
  guint microversion;           /* 2.N as N; 0 until read */
  gboolean answered;
} NlxApiRequest;

/* The changes of Nova's API between microversions that touch what
 * nova-lxc offers; nlx-api-microversions.c has the one table of which
 * microversions have each, with the version it came (or went) in. */
typedef enum {
  NLX_API_ALWAYS,
  NLX_API_KEYPAIR_TYPE,              /* keypair "type" */
  NLX_API_SERVER_EXTENDED_ATTRS,     /* OS-EXT-SRV-ATTR:hostname and the rest */
  NLX_API_REMOTE_CONSOLES,           /* POST /servers/{id}/remote-consoles */
  NLX_API_SERVER_LOCKED,             /* server "locked" */
  NLX_API_KEYPAIR_USER_ID,           /* ?user_id= on key pairs, for admins */
  NLX_API_SERVICE_FORCED_DOWN,       /* os-services "forced_down" */
  NLX_API_SERVER_HOST_STATUS,        /* server "host_status" */
  NLX_API_SERVER_DESCRIPTION,        /* server "description" */
  NLX_API_ACTIONS_OF_DELETED,        /* instance actions of deleted servers */
  NLX_API_SERVER_TAGS,               /* server "tags", /servers/{id}/tags */
  NLX_API_HYPERVISOR_CPU_INFO_OBJECT, /* cpu_info an object, not a string */
  NLX_API_HYPERVISOR_PAGING,         /* os-hypervisors limit, marker */
  NLX_API_KEYPAIR_PAGING,            /* os-keypairs limit, marker */
  NLX_API_PROXIES,                   /* /images, /os-volumes, network limits
                                      * (gone in 2.36) */
  NLX_API_NETWORKS_REQUIRED,         /* create needs "networks" */
  NLX_API_STRICT_STATUS_FILTER,      /* unknown ?status= is 400 */
  NLX_API_LIMITS_IMAGE_META,         /* maxImageMeta (gone in 2.39) */
  NLX_API_AGGREGATE_UUID,            /* aggregate "uuid" */
  NLX_API_CREATE_IMAGE_BODY,         /* createImage answers {"image_id"} */
  NLX_API_SERVER_FLAVOR_EMBEDDED,    /* server "flavor" is the flavor itself */
  NLX_API_ACTION_EVENTS_FOR_OWNERS,  /* instance action events shown to
                                      * the server's project, not only to
                                      * admins (without traceback) */
  NLX_API_HYPERVISOR_SEARCH_PATHS,   /* /os-hypervisors/{h}/search, /servers
                                      * (gone in 2.53) */
  NLX_API_CREATE_TAGS,               /* "tags" at create */
  NLX_API_UUID_IDS,                  /* services and hypervisors by UUID */
  NLX_API_REBUILD_KEY_NAME,          /* rebuild "key_name" */
  NLX_API_FLAVOR_DESCRIPTION,        /* flavor "description" */
  NLX_API_PERSONALITY,               /* "personality" (gone in 2.57) */
  NLX_API_REBUILD_USER_DATA,         /* rebuild "user_data" */
  NLX_API_ACTIONS_PAGING,            /* instance actions paging,
                                      * updated_at */
  NLX_API_FLAVOR_EXTRA_SPECS,        /* flavor "extra_specs" */
  NLX_API_ACTION_EVENT_HOST,         /* instance action events host, hostId */
  NLX_API_TRUSTED_CERTS,             /* server "trusted_image_certificates" */
  NLX_API_CHANGES_BEFORE,            /* ?changes-before= */
  NLX_API_ATTACHMENT_TAG,            /* volume attachment "tag" */
  NLX_API_SERVER_GROUPS,             /* server "server_groups" */
  NLX_API_LOCKED_REASON,             /* server "locked_reason" */
  NLX_API_REQUESTED_DESTINATION,     /* "host", "hypervisor_hostname" at
                                      * create (admins) */
  NLX_API_FULL_SERVER_ANSWERS,       /* update and rebuild answer the whole
                                      * server; unknown list queries are 400 */
  NLX_API_STRICT_LIST_QUERY,         /* unknown server list parameters 400 */
  NLX_API_HYPERVISOR_EMPTY_SERVERS,  /* ?with_servers=true gives "servers"
                                      * even when there are none */
  NLX_API_FLAVOR_SWAP_NUMBER,        /* flavor "swap" 0, not "", when none */
  NLX_API_ATTACHMENT_DELETE_ON_TERMINATION, /* attachment
                                             * "delete_on_termination" */
  NLX_API_ACTION_EVENT_DETAILS,      /* instance action event "details" */
  NLX_API_HYPERVISOR_STATISTICS,     /* /os-hypervisors/statistics and
                                      * uptime (gone in 2.88) */
  NLX_API_HYPERVISOR_SLIM,           /* hypervisors without usage fields */
  NLX_API_ATTACHMENT_IDS,            /* attachment_id, bdm_uuid; no "id" */
  NLX_API_HOSTNAME,                  /* "hostname" at create and update */
  NLX_API_KEYPAIR_IMPORT_ONLY,       /* a key pair needs its public_key */
  NLX_API_FQDN_HOSTNAME,             /* "hostname" may be a FQDN */
  NLX_API_PINNED_AVAILABILITY_ZONE,  /* server "pinned_availability_zone" */
  NLX_API_N_FEATURES
} NlxApiFeature;

/* What a row of the routing table in nlx-api.c calls, for its one
 * method: @method is that method, @ids the path's segments that stood for
 * "{id}" in its pattern, in order, NULL-terminated. */
typedef void (*NlxApiHandler) (NlxApiRequest *request,
                               const char *method,
                               const char * const *ids);

/* A change the manager answers once it is saved (nlx-api-servers.c). */
typedef struct _NlxApiChange NlxApiChange;

/* What the answer to a change carries: nothing, or the server as Nova
 * answers an update or a rebuild (which differ from 2.54). */
typedef enum {
  NLX_API_ANSWER_EMPTY,
  NLX_API_ANSWER_UPDATED,
  NLX_API_ANSWER_REBUILT,
} NlxApiAnswer;

/* nlx-api.c */
NlxApiRequest *nlx_api_request_keep (const NlxApiRequest *request);
void nlx_api_request_free (NlxApiRequest *request);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NlxApiRequest, nlx_api_request_free)
void nlx_api_respond (NlxApiRequest *request,
                      guint status,
                      JsonNode *body);
void nlx_api_respond_stream (NlxApiRequest *request,
                             const char *content_type);
void nlx_api_respond_fault (NlxApiRequest *request,
                            guint status,
                            const char *message);
void nlx_api_respond_error (NlxApiRequest *request,
                            const GError *error);
const char *nlx_api_identity (NlxApiRequest *request,
                              const char *header);
gboolean nlx_api_over_tcp (NlxApiRequest *request);
gboolean nlx_api_require_unix_socket (NlxApiRequest *request,
                                      const char *what);

/* nlx-api-microversions.c */
/* A member of a request body that exists at @feature's versions only. */
typedef struct {
  const char *key;
  NlxApiFeature feature;
} NlxApiVersionedMember;

gboolean nlx_api_read_microversion (NlxApiRequest *request);
gboolean nlx_api_check_versioned_members (NlxApiRequest *request,
                                          JsonObject *object,
                                          const char *what,
                                          const NlxApiVersionedMember *members,
                                          gsize n_members);
guint nlx_api_microversion (const NlxApiRequest *request);
gboolean nlx_api_has (const NlxApiRequest *request,
                      NlxApiFeature feature);

/* nlx-api-json.c */
void nlx_api_add_links (JsonBuilder *builder,
                        NlxApiRequest *request,
                        const char *collection,
                        const char *id);
void nlx_api_add_string (JsonBuilder *builder,
                         const char *name,
                         const char *value);
void nlx_api_add_int (JsonBuilder *builder,
                      const char *name,
                      gint64 value);
void nlx_api_add_next_link (JsonBuilder *builder,
                            NlxApiRequest *request,
                            const char *member,
                            const char *marker);
gboolean nlx_api_read_query_limit (NlxApiRequest *request,
                                   const char *value,
                                   gint64 *limit);
gboolean nlx_api_read_query_time (NlxApiRequest *request,
                                  const char *key,
                                  const char *value,
                                  GDateTime **time);
void nlx_api_add_time (JsonBuilder *builder,
                       const char *name,
                       GDateTime *time);
void nlx_api_add_ref (JsonBuilder *builder,
                      NlxApiRequest *request,
                      const char *name,
                      const char *collection,
                      const char *id);
void nlx_api_respond_too_large (NlxApiRequest *request);
JsonObject *nlx_api_parse_body (NlxApiRequest *request);
JsonObject *nlx_api_read_body (NlxApiRequest *request,
                               const char *key);
gboolean nlx_api_require_object (NlxApiRequest *request,
                                 JsonNode *node,
                                 const char *what);
const char *nlx_api_get_string_member (NlxApiRequest *request,
                                       JsonObject *object,
                                       const char *key);
gboolean nlx_api_check_members (NlxApiRequest *request,
                                JsonObject *object,
                                const char * const *known);
gboolean nlx_api_get_optional_string (NlxApiRequest *request,
                                      JsonObject *object,
                                      const char *key,
                                      const char **value);
gboolean nlx_api_read_whole_number (JsonNode *node,
                                    gint64 min,
                                    gint64 max,
                                    gint64 *out);
gboolean nlx_api_read_string_map (NlxApiRequest *request,
                                  JsonObject *object,
                                  const char *member,
                                  GHashTable *map);

/* The handlers the rows of routes[] in nlx-api.c call, in its order;
 * each has NlxApiHandler's shape and does one operation. */

/* nlx-api-versions.c */
void nlx_api_list_versions (NlxApiRequest *request,
                            const char *method,
                            const char * const *ids);
void nlx_api_show_legacy_version (NlxApiRequest *request,
                                  const char *method,
                                  const char * const *ids);
void nlx_api_show_version (NlxApiRequest *request,
                           const char *method,
                           const char * const *ids);

/* nlx-api-servers.c */
void nlx_api_add_network (JsonBuilder *builder,
                          const NlxVif *vif,
                          gboolean extended);
void nlx_api_add_addresses (JsonBuilder *builder,
                            const NlxInstance *instance,
                            gboolean extended);
gboolean nlx_api_read_description (NlxApiRequest *request,
                                   JsonObject *object,
                                   gboolean *given,
                                   const char **description);
gboolean nlx_api_read_access_ips (NlxApiRequest *request,
                                  JsonObject *object,
                                  const char **ipv4,
                                  const char **ipv6);
gboolean nlx_api_check_unlocked (NlxApiRequest *request,
                                 const NlxRecord *record);
gboolean nlx_api_check_user_data (NlxApiRequest *request,
                                  const char *user_data,
                                  char **cleaned);
gboolean nlx_api_check_hostname (NlxApiRequest *request,
                                 const char *hostname,
                                 char **lower);
void nlx_api_respond_metadata_limit (NlxApiRequest *request);
const NlxKeypair *nlx_api_find_key_name (NlxApiRequest *request,
                                         const char *name);
NlxApiChange *nlx_api_change_new (NlxApiRequest *request,
                                  const char *uuid,
                                  guint status,
                                  NlxApiAnswer answer);
void nlx_api_changed (GObject *source,
                      GAsyncResult *result,
                      gpointer data);
char *nlx_api_listed_server_to_data (NlxApiRequest *request,
                                     const NlxRecord *record,
                                     gboolean detail,
                                     gsize *length);
void nlx_api_create_server (NlxApiRequest *request,
                            const char *method,
                            const char * const *ids);
void nlx_api_show_server (NlxApiRequest *request,
                          const char *method,
                          const char * const *ids);
void nlx_api_update_server (NlxApiRequest *request,
                            const char *method,
                            const char * const *ids);
void nlx_api_delete_server (NlxApiRequest *request,
                            const char *method,
                            const char * const *ids);
void nlx_api_show_server_password (NlxApiRequest *request,
                                   const char *method,
                                   const char * const *ids);
void nlx_api_clear_server_password (NlxApiRequest *request,
                                    const char *method,
                                    const char * const *ids);

/* nlx-api-server-list.c */
void nlx_api_list_servers (NlxApiRequest *request,
                           const char *method,
                           const char * const *ids);
void nlx_api_list_servers_detail (NlxApiRequest *request,
                                  const char *method,
                                  const char * const *ids);

/* nlx-api-server-actions.c */
void nlx_api_server_action (NlxApiRequest *request,
                            const char *method,
                            const char * const *ids);

/* nlx-api-consoles.c */
void nlx_api_create_remote_console (NlxApiRequest *request,
                                    const char *method,
                                    const char * const *ids);
void nlx_api_get_serial_console (NlxApiRequest *request,
                                 const char *uuid,
                                 JsonNode *args);
void nlx_api_serve_consoles (NlxApi *api);
void nlx_api_close_consoles (NlxApi *api);

/* nlx-api-events.c */
void nlx_api_stream_events (NlxApiRequest *request,
                            const char *method,
                            const char * const *ids);
void nlx_api_serve_events (NlxApi *api);
void nlx_api_close_events (NlxApi *api);

/* nlx-api-volume-attachments.c */
char *nlx_api_attachment_id (const char *uuid,
                             const char *volume_id);
void nlx_api_list_attachments (NlxApiRequest *request,
                               const char *method,
                               const char * const *ids);
void nlx_api_attach_volume (NlxApiRequest *request,
                            const char *method,
                            const char * const *ids);
void nlx_api_show_attachment (NlxApiRequest *request,
                              const char *method,
                              const char * const *ids);
void nlx_api_detach_volume (NlxApiRequest *request,
                            const char *method,
                            const char * const *ids);

/* nlx-api-server-metadata.c */
void nlx_api_list_server_metadata (NlxApiRequest *request,
                                   const char *method,
                                   const char * const *ids);
void nlx_api_update_server_metadata (NlxApiRequest *request,
                                     const char *method,
                                     const char * const *ids);
void nlx_api_show_server_metadata_item (NlxApiRequest *request,
                                        const char *method,
                                        const char * const *ids);
void nlx_api_set_server_metadata_item (NlxApiRequest *request,
                                       const char *method,
                                       const char * const *ids);
void nlx_api_delete_server_metadata_item (NlxApiRequest *request,
                                          const char *method,
                                          const char * const *ids);

/* nlx-api-server-tags.c */
gboolean nlx_api_read_tags (NlxApiRequest *request,
                            JsonObject *object,
                            const char *member,
                            GPtrArray **tags);
void nlx_api_list_server_tags (NlxApiRequest *request,
                               const char *method,
                               const char * const *ids);
void nlx_api_replace_server_tags (NlxApiRequest *request,
                                  const char *method,
                                  const char * const *ids);
void nlx_api_delete_server_tags (NlxApiRequest *request,
                                 const char *method,
                                 const char * const *ids);
void nlx_api_check_server_tag (NlxApiRequest *request,
                               const char *method,
                               const char * const *ids);
void nlx_api_add_server_tag (NlxApiRequest *request,
                             const char *method,
                             const char * const *ids);
void nlx_api_delete_server_tag (NlxApiRequest *request,
                                const char *method,
                                const char * const *ids);
/* nlx-api-ips.c */
void nlx_api_list_ips (NlxApiRequest *request,
                       const char *method,
                       const char * const *ids);
void nlx_api_show_ips (NlxApiRequest *request,
                       const char *method,
                       const char * const *ids);

/* nlx-api-volumes.c */
gint64 nlx_api_volume_size_gib (const NlxVolumeInfo *info);
const NlxRecord *nlx_api_volume_user (NlxApiRequest *request,
                                      const NlxVolumeInfo *info,
                                      NlxVolumeAttachment *attachment,
                                      const char **status);
void nlx_api_add_volume_metadata (JsonBuilder *builder,
                                  const NlxVolumeInfo *info,
                                  const NlxVolumeAttachment *attachment);
void nlx_api_list_volumes (NlxApiRequest *request,
                           const char *method,
                           const char * const *ids);
void nlx_api_create_volume (NlxApiRequest *request,
                            const char *method,
                            const char * const *ids);
void nlx_api_show_volume (NlxApiRequest *request,
                          const char *method,
                          const char * const *ids);
void nlx_api_delete_volume (NlxApiRequest *request,
                            const char *method,
                            const char * const *ids);

/* nlx-api-images.c */
void nlx_api_add_image (JsonBuilder *builder,
                        NlxApiRequest *request,
                        const NlxConfigImage *image,
                        gboolean detail);
void nlx_api_list_images (NlxApiRequest *request,
                          const char *method,
                          const char * const *ids);
void nlx_api_import_image (NlxApiRequest *request,
                           const char *method,
                           const char * const *ids);
void nlx_api_list_images_detail (NlxApiRequest *request,
                                 const char *method,
                                 const char * const *ids);
void nlx_api_show_image (NlxApiRequest *request,
                         const char *method,
                         const char * const *ids);
void nlx_api_delete_image (NlxApiRequest *request,
                           const char *method,
                           const char * const *ids);

/* nlx-api-keypairs.c */
void nlx_api_list_keypairs (NlxApiRequest *request,
                            const char *method,
                            const char * const *ids);
void nlx_api_create_keypair (NlxApiRequest *request,
                             const char *method,
                             const char * const *ids);
void nlx_api_show_keypair (NlxApiRequest *request,
                           const char *method,
                           const char * const *ids);
void nlx_api_delete_keypair (NlxApiRequest *request,
                             const char *method,
                             const char * const *ids);

/* nlx-api-flavors.c */
void nlx_api_list_flavors (NlxApiRequest *request,
                           const char *method,
                           const char * const *ids);
void nlx_api_list_flavors_detail (NlxApiRequest *request,
                                  const char *method,
                                  const char * const *ids);
void nlx_api_show_flavor (NlxApiRequest *request,
                          const char *method,
                          const char * const *ids);
void nlx_api_list_extra_specs (NlxApiRequest *request,
                               const char *method,
                               const char * const *ids);
void nlx_api_show_extra_spec (NlxApiRequest *request,
                              const char *method,
                              const char * const *ids);
void nlx_api_add_flavor_extra_specs (JsonBuilder *builder,
                                     const NlxFlavor *flavor);

/* nlx-api-hypervisors.c */
void nlx_api_list_hypervisors (NlxApiRequest *request,
                               const char *method,
                               const char * const *ids);
void nlx_api_list_hypervisors_detail (NlxApiRequest *request,
                                      const char *method,
                                      const char * const *ids);
void nlx_api_get_hypervisor_statistics (NlxApiRequest *request,
                                        const char *method,
                                        const char * const *ids);
void nlx_api_show_hypervisor (NlxApiRequest *request,
                              const char *method,
                              const char * const *ids);
void nlx_api_get_hypervisor_uptime (NlxApiRequest *request,
                                    const char *method,
                                    const char * const *ids);
void nlx_api_search_hypervisors (NlxApiRequest *request,
                                 const char *method,
                                 const char * const *ids);
void nlx_api_list_hypervisor_servers (NlxApiRequest *request,
                                      const char *method,
                                      const char * const *ids);

/* nlx-api-limits.c */
void nlx_api_show_limits (NlxApiRequest *request,
                          const char *method,
                          const char * const *ids);

/* nlx-api-host.c */
char *nlx_api_name_uuid (const char *text);
char *nlx_api_host_uuid (NlxApiRequest *request,
                         const char *what);
gboolean nlx_api_read_query_bool (NlxApiRequest *request,
                                  GHashTable *form,
                                  const char *key,
                                  gboolean *value);
void nlx_api_list_availability_zones (NlxApiRequest *request,
                                      const char *method,
                                      const char * const *ids);
void nlx_api_list_availability_zones_detail (NlxApiRequest *request,
                                             const char *method,
                                             const char * const *ids);
void nlx_api_list_services (NlxApiRequest *request,
                            const char *method,
                            const char * const *ids);
void nlx_api_list_aggregates (NlxApiRequest *request,
                              const char *method,
                              const char * const *ids);

/* nlx-api-instance-actions.c */
void nlx_api_list_instance_actions (NlxApiRequest *request,
                                    const char *method,
                                    const char * const *ids);
void nlx_api_show_instance_action (NlxApiRequest *request,
                                   const char *method,
                                   const char * const *ids);

/* nlx-api-glance.c (issue 16: a Glance v2 read API under /image) */
void nlx_api_glance_choose_version (NlxApiRequest *request,
                                    const char *method,
                                    const char * const *ids);
void nlx_api_glance_list_versions (NlxApiRequest *request,
                                   const char *method,
                                   const char * const *ids);
void nlx_api_glance_list_images (NlxApiRequest *request,
                                 const char *method,
                                 const char * const *ids);
void nlx_api_glance_show_image (NlxApiRequest *request,
                                const char *method,
                                const char * const *ids);
void nlx_api_glance_download_image (NlxApiRequest *request,
                                    const char *method,
                                    const char * const *ids);
void nlx_api_glance_delete_image (NlxApiRequest *request,
                                  const char *method,
                                  const char * const *ids);

/* nlx-api-cinder.c (a Cinder v3 read API under /volume) */
void nlx_api_cinder_choose_version (NlxApiRequest *request,
                                    const char *method,
                                    const char * const *ids);
void nlx_api_cinder_show_version (NlxApiRequest *request,
                                  const char *method,
                                  const char * const *ids);
void nlx_api_cinder_list_volumes (NlxApiRequest *request,
                                  const char *method,
                                  const char * const *ids);
void nlx_api_cinder_list_volumes_detail (NlxApiRequest *request,
                                         const char *method,
                                         const char * const *ids);
void nlx_api_cinder_show_volume (NlxApiRequest *request,
                                 const char *method,
                                 const char * const *ids);
void nlx_api_cinder_list_availability_zones (NlxApiRequest *request,
                                             const char *method,
                                             const char * const *ids);
void nlx_api_cinder_alias_list_volumes (NlxApiRequest *request,
                                        const char *method,
                                        const char * const *ids);
void nlx_api_cinder_alias_list_volumes_detail (NlxApiRequest *request,
                                               const char *method,
                                               const char * const *ids);
void nlx_api_cinder_alias_show_volume (NlxApiRequest *request,
                                       const char *method,
                                       const char * const *ids);

G_END_DECLS
