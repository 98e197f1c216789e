/* nlx-api.c: the Compute API (OpenStack v2.1 shapes) over HTTP
 *
 * Routes, JSON in and out, fault bodies, request ids and the token check,
 * on libsoup 3.  Everything here runs in the main thread and answers at
 * once, except reads that need the driver (console output, hypervisor
 * figures), whose messages are paused until a worker answers.  docs/api.md
 * describes what is served. */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <gio/gunixsocketaddress.h>
#include <libsoup/soup.h>

#include "api/nlx-api.h"
#include "common/nlx-console-text.h"
#include "common/nlx-error.h"
#include "common/nlx-json.h"
#include "api/nlx-listener.h"

#define API_VERSION "2.1"
/* The flavor extra spec of instances without a user namespace. */
#define NLX_API_PRIVILEGED_SPEC "nova_lxc:privileged"
#define NLX_API_PIDS_SPEC "nova_lxc:pids"
/* Nova's own name for the flavor's CPU weight. */
#define NLX_API_CPU_SHARES_SPEC "quota:cpu_shares"
/* The flavor extra spec of instances without the default seccomp filter. */
#define NLX_API_SECCOMP_SPEC "nova_lxc:seccomp"
/* As Nova's metadata items, and the instance document's. */
#define NLX_API_METADATA_ITEM_MAX 255

struct _NlxApi {
  const NlxConfig *config;
  NlxManager *manager;
  SoupServer *server;
  NlxListener *listener;
  GSocket *tcp_socket;          /* NULL without [api] listen */
  char *socket_path;            /* ours to remove */
  GHashTable *consoles;         /* ConsoleBridge set: open WebSockets */
};

/* One request, from its arrival to its answer. */
typedef struct {
  NlxApi *api;
  SoupServerMessage *msg;
  char *id;
  char *base;                   /* http://host[:port], for links */
  JsonNode *body;               /* the parsed request body, once read */
  gboolean answered;
} Request;

/* A copy of a request that outlives its handler, for answers that wait
 * on a worker; the message is paused until then. */
static Request *
request_keep (const Request *request)
{
  Request *kept = g_new0 (Request, 1);

  kept->api = request->api;
  kept->msg = g_object_ref (request->msg);
  kept->id = g_strdup (request->id);
  kept->base = g_strdup (request->base);
  soup_server_message_pause (kept->msg);
  return kept;
}

static void
request_free (Request *request)
{
  g_object_unref (request->msg);
  g_free (request->id);
  g_free (request->base);
  g_free (request);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Request, request_free)

/* ---- answers ---------------------------------------------------------- */

static void
log_answer (Request *request,
            guint status)
{
  GUri *uri = soup_server_message_get_uri (request->msg);
  const char *query = g_uri_get_query (uri);

  g_log (G_LOG_DOMAIN, status >= 500 ? G_LOG_LEVEL_WARNING : G_LOG_LEVEL_INFO,
         "[%s] %s %s%s%s %u", request->id,
         soup_server_message_get_method (request->msg), g_uri_get_path (uri),
         query ? "?" : "", query ? query : "", status);
}

static void
respond (Request *request,
         guint status,
         JsonNode *body)
{
  SoupMessageHeaders *headers =
    soup_server_message_get_response_headers (request->msg);

  /* A second answer would be appended to the first, and the client would
   * get two JSON documents back to back. */
  g_return_if_fail (!request->answered);
  request->answered = TRUE;
  if (body != NULL)
    {
      gsize length;
      char *data = json_to_string (body, FALSE);

      length = strlen (data);
      soup_server_message_set_response (request->msg, "application/json",
                                        SOUP_MEMORY_TAKE, data, length);
    }
  soup_server_message_set_status (request->msg, status, NULL);
  soup_message_headers_replace (headers, "X-Openstack-Request-Id", request->id);
  soup_message_headers_replace (headers, "X-Compute-Request-Id", request->id);
  soup_message_headers_replace (headers, "OpenStack-API-Version",
                                "compute " API_VERSION);
  soup_message_headers_replace (headers, "X-OpenStack-Nova-API-Version",
                                API_VERSION);
  soup_message_headers_replace (headers, "Vary",
                                "OpenStack-API-Version, X-OpenStack-Nova-API-Version");
  log_answer (request, status);
}

static void
respond_fault (Request *request,
               guint status,
               const char *message)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;
  /* Messages quote what the client sent (a path, a header), which need
   * not be UTF-8; the answer must be JSON all the same. */
  g_autofree char *text = g_utf8_make_valid (message, -1);
  const char *name;

  switch (status)
    {
    case 400: name = "badRequest"; break;
    case 401: name = "unauthorized"; break;
    case 403: name = "forbidden"; break;
    case 404: name = "itemNotFound"; break;
    case 405: name = "badMethod"; break;
    case 406: name = "notAcceptable"; break;
    case 409: name = "conflictingRequest"; break;
    case 413: name = "overLimit"; break;
    case 415: name = "badMediaType"; break;
    case 501: name = "notImplemented"; break;
    case 503: name = "serviceUnavailable"; break;
    default: name = "computeFault"; break;
    }
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, name);
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "code");
  json_builder_add_int_value (builder, status);
  json_builder_set_member_name (builder, "message");
  json_builder_add_string_value (builder, text);
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  g_log (G_LOG_DOMAIN, status >= 500 ? G_LOG_LEVEL_WARNING : G_LOG_LEVEL_INFO,
         "[%s] %s", request->id, text);
  respond (request, status, body);
}

static guint
status_for_error (const GError *error)
{
  if (error->domain == NLX_DRIVER_ERROR)
    switch ((NlxDriverError) error->code)
      {
      case NLX_DRIVER_ERROR_NOT_FOUND: return 404;
      case NLX_DRIVER_ERROR_EXISTS: return 409;
      case NLX_DRIVER_ERROR_INVALID_STATE: return 409;
      case NLX_DRIVER_ERROR_NOT_SUPPORTED: return 501;
      case NLX_DRIVER_ERROR_INVALID_ARGUMENT: return 400;
      case NLX_DRIVER_ERROR_UNAVAILABLE: return 503;
      case NLX_DRIVER_ERROR_FAILED: return 500;
      }
  if (error->domain == NLX_MODEL_ERROR)
    return 400;
  return 500;
}

static void
respond_error (Request *request,
               const GError *error)
{
  respond_fault (request, status_for_error (error), error->message);
}

/* ---- JSON out --------------------------------------------------------- */

static void
add_links (JsonBuilder *builder,
           Request *request,
           const char *collection,
           const char *id)
{
  g_autofree char *self = g_strdup_printf ("%s/v2.1/%s/%s", request->base,
                                           collection, id);
  g_autofree char *bookmark = g_strdup_printf ("%s/%s/%s", request->base,
                                               collection, id);

  json_builder_set_member_name (builder, "links");
  json_builder_begin_array (builder);
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "rel");
  json_builder_add_string_value (builder, "self");
  json_builder_set_member_name (builder, "href");
  json_builder_add_string_value (builder, self);
  json_builder_end_object (builder);
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "rel");
  json_builder_add_string_value (builder, "bookmark");
  json_builder_set_member_name (builder, "href");
  json_builder_add_string_value (builder, bookmark);
  json_builder_end_object (builder);
  json_builder_end_array (builder);
}

static void
add_string (JsonBuilder *builder,
            const char *name,
            const char *value)
{
  json_builder_set_member_name (builder, name);
  if (value != NULL)
    json_builder_add_string_value (builder, value);
  else
    json_builder_add_null_value (builder);
}

static void
add_int (JsonBuilder *builder,
         const char *name,
         gint64 value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_int_value (builder, value);
}

static void
add_time (JsonBuilder *builder,
          const char *name,
          GDateTime *time)
{
  g_autofree char *text = nlx_time_to_string (time);

  add_string (builder, name, text);
}

/* A reference to another resource: {"id": ..., "links": [...]}. */
static void
add_ref (JsonBuilder *builder,
         Request *request,
         const char *name,
         const char *collection,
         const char *id)
{
  json_builder_set_member_name (builder, name);
  json_builder_begin_object (builder);
  add_string (builder, "id", id);
  add_links (builder, request, collection, id);
  json_builder_end_object (builder);
}

static void
add_server_brief (JsonBuilder *builder,
                  Request *request,
                  const NlxRecord *record)
{
  json_builder_begin_object (builder);
  add_string (builder, "id", record->instance->uuid);
  add_string (builder, "name", record->instance->name);
  add_links (builder, request, "servers", record->instance->uuid);
  json_builder_end_object (builder);
}

/* Like Nova's utils.generate_hostid (which uses SHA-224): the same host
 * looks the same only to the same project. */
static char *
host_id (const NlxRecord *record,
         const char *host)
{
  g_autofree char *data = g_strconcat (record->instance->project_id, host, NULL);

  return g_compute_checksum_for_string (G_CHECKSUM_SHA256, data, -1);
}

static void
add_volume_attached (JsonBuilder *builder,
                     const char *volume_id)
{
  json_builder_begin_object (builder);
  add_string (builder, "id", volume_id);
  json_builder_set_member_name (builder, "delete_on_termination");
  json_builder_add_boolean_value (builder, FALSE);
  json_builder_end_object (builder);
}

/* Nova's form: a network's addresses, under the network's name (here
 * the bridge's). */
static void
add_network (JsonBuilder *builder,
             const NlxVif *vif)
{
  json_builder_set_member_name (builder, vif->bridge);
  json_builder_begin_array (builder);
  json_builder_begin_object (builder);
  add_int (builder, "version", 4);
  add_string (builder, "addr", vif->address);
  add_string (builder, "OS-EXT-IPS:type", "fixed");
  add_string (builder, "OS-EXT-IPS-MAC:mac_addr", vif->mac);
  json_builder_end_object (builder);
  json_builder_end_array (builder);
}

static void
add_addresses (JsonBuilder *builder,
               const NlxInstance *instance)
{
  json_builder_set_member_name (builder, "addresses");
  json_builder_begin_object (builder);
  if (instance->vif != NULL)
    add_network (builder, instance->vif);
  json_builder_end_object (builder);
}

static void
add_server (JsonBuilder *builder,
            Request *request,
            const NlxRecord *record)
{
  const NlxInstance *instance = record->instance;
  /* One with no place here has no host, as Nova shows it (hostId ""). */
  const char *host = record->unplaced ? NULL
                                      : nlx_manager_get_host (request->api->manager);
  g_autofree char *domain = nlx_instance_domain_name (instance);
  g_autofree char *hostid = host ? host_id (record, host) : g_strdup ("");
  GHashTableIter iter;
  gpointer key, value;

  json_builder_begin_object (builder);
  add_string (builder, "id", instance->uuid);
  add_string (builder, "name", instance->name);
  add_string (builder, "status", nlx_record_status (record));
  add_string (builder, "OS-EXT-STS:vm_state",
              nlx_vm_state_to_string (record->vm_state));
  add_string (builder, "OS-EXT-STS:task_state",
              nlx_task_state_to_string (record->task_state));
  add_int (builder, "OS-EXT-STS:power_state", record->power_state);
  add_string (builder, "OS-EXT-SRV-ATTR:instance_name", domain);
  add_string (builder, "OS-EXT-SRV-ATTR:host", host);
  add_string (builder, "OS-EXT-SRV-ATTR:hypervisor_hostname", host);
  add_time (builder, "created", instance->created_at);
  add_time (builder, "updated", record->updated_at);
  add_ref (builder, request, "flavor", "flavors", instance->flavor.name);
  json_builder_set_member_name (builder, "nova_lxc:privileged");
  json_builder_add_boolean_value (builder, instance->flavor.privileged);
  /* Booted from a volume without an image, Nova shows "". */
  if (instance->image_ref != NULL)
    add_ref (builder, request, "image", "images", instance->image_ref);
  else
    add_string (builder, "image", "");
  json_builder_set_member_name (builder, "metadata");
  json_builder_begin_object (builder);
  g_hash_table_iter_init (&iter, instance->metadata);
  while (g_hash_table_iter_next (&iter, &key, &value))
    add_string (builder, key, value);
  json_builder_end_object (builder);
  add_string (builder, "hostId", hostid);
  add_string (builder, "key_name", instance->key_name);
  /* Nova 2.1 shows it as a string: "True", or "" without one. */
  add_string (builder, "config_drive", instance->config_drive ? "True" : "");
  add_addresses (builder, instance);
  add_string (builder, "user_id", instance->user_id);
  add_string (builder, "tenant_id", instance->project_id);
  add_int (builder, "progress",
           record->vm_state == NLX_VM_STATE_BUILDING ? 0 : 100);
  add_links (builder, request, "servers", instance->uuid);
  json_builder_set_member_name (builder, "os-extended-volumes:volumes_attached");
  json_builder_begin_array (builder);
  if (instance->root_volume != NULL)
    add_volume_attached (builder, instance->root_volume);
  for (guint i = 0; i < instance->volumes->len; i++)
    add_volume_attached (builder,
                         ((const NlxVolumeAttachment *)
                          instance->volumes->pdata[i])->volume_id);
  json_builder_end_array (builder);
  if (record->vm_state == NLX_VM_STATE_ERROR && record->fault != NULL)
    {
      json_builder_set_member_name (builder, "fault");
      json_builder_begin_object (builder);
      add_int (builder, "code", 500);
      add_string (builder, "message", record->fault);
      add_time (builder, "created", record->updated_at);
      json_builder_end_object (builder);
    }
  json_builder_end_object (builder);
}

static void
respond_server (Request *request,
                guint status,
                const NlxRecord *record)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "server");
  add_server (builder, request, record);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  respond (request, status, body);
}

/* ---- JSON in ---------------------------------------------------------- */

static void
respond_too_large (Request *request)
{
  g_autofree char *message =
    g_strdup_printf (_("The request body is larger than %d bytes, the most "
                       "this service accepts"), NLX_API_MAX_BODY);

  respond_fault (request, 413, message);
}

/* The request body, which must be one JSON object (read strictly, see
 * nlx-json.c); it lives as long as @request.  Answers 400 itself. */
static JsonObject *
parse_body (Request *request)
{
  SoupMessageBody *body = soup_server_message_get_request_body (request->msg);
  g_autoptr(GError) error = NULL;
  g_autofree char *message = NULL;

  if (body->length > NLX_API_MAX_BODY)
    {
      respond_too_large (request);
      return NULL;
    }
  if (body->length == 0 || body->data == NULL)
    message = g_strdup (_("The request needs a JSON object as its body"));
  else if ((request->body = nlx_json_parse (body->data, body->length,
                                            &error)) == NULL)
    message = g_strdup_printf (_("The request body is not valid JSON: %s"),
                               error->message);
  else if (!JSON_NODE_HOLDS_OBJECT (request->body))
    message = g_strdup (_("The request body must be a JSON object"));
  if (message != NULL)
    {
      respond_fault (request, 400, message);
      return NULL;
    }
  return json_node_get_object (request->body);
}

/* The member @key (e.g. "server") of the body, which must be an object;
 * answers 400 itself. */
static JsonObject *
read_body (Request *request,
           const char *key)
{
  JsonObject *root = parse_body (request);
  JsonNode *member;
  g_autofree char *message = NULL;

  if (root == NULL)
    return NULL;
  member = json_object_get_member (root, key);
  if (member != NULL && JSON_NODE_HOLDS_OBJECT (member))
    return json_node_get_object (member);
  message = g_strdup_printf (_("The request body must be a JSON object with "
                               "a “%s” object"), key);
  respond_fault (request, 400, message);
  return NULL;
}

static gboolean
require_object (Request *request,
                JsonNode *node,
                const char *what)
{
  g_autofree char *message = NULL;

  if (JSON_NODE_HOLDS_OBJECT (node))
    return TRUE;
  message = g_strdup_printf (_("“%s” must be a JSON object"), what);
  respond_fault (request, 400, message);
  return FALSE;
}

/* A required string member; answers 400 when it is missing or not one. */
static const char *
get_string_member (Request *request,
                   JsonObject *object,
                   const char *key)
{
  JsonNode *node = json_object_get_member (object, key);
  g_autofree char *message = NULL;

  if (node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
      json_node_get_value_type (node) == G_TYPE_STRING)
    return json_node_get_string (node);
  if (node == NULL)
    message = g_strdup_printf (_("“%s” is a required property"), key);
  else
    message = g_strdup_printf (_("“%s” must be a string"), key);
  respond_fault (request, 400, message);
  return NULL;
}

/* Nova refuses properties it does not know (additionalProperties: false). */
static gboolean
check_members (Request *request,
               JsonObject *object,
               const char * const *known)
{
  g_autoptr(GList) members = json_object_get_members (object);

  for (GList *l = members; l != NULL; l = l->next)
    if (!g_strv_contains (known, l->data))
      {
        g_autofree char *message =
          g_strdup_printf (_("Additional properties are not allowed "
                             "(“%s” was unexpected)"), (char *) l->data);
        respond_fault (request, 400, message);
        return FALSE;
      }
  return TRUE;
}

/* ---- versions --------------------------------------------------------- */

static void
add_version (JsonBuilder *builder,
             Request *request)
{
  g_autofree char *href = g_strdup_printf ("%s/v2.1/", request->base);

  json_builder_begin_object (builder);
  add_string (builder, "id", "v2.1");
  add_string (builder, "status", "CURRENT");
  add_string (builder, "version", API_VERSION);
  add_string (builder, "min_version", API_VERSION);
  add_string (builder, "updated", "2013-07-23T11:33:21Z");
  json_builder_set_member_name (builder, "links");
  json_builder_begin_array (builder);
  json_builder_begin_object (builder);
  add_string (builder, "rel", "self");
  add_string (builder, "href", href);
  json_builder_end_object (builder);
  json_builder_end_array (builder);
  json_builder_end_object (builder);
}

static void
get_versions (Request *request,
              gboolean all)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;

  json_builder_begin_object (builder);
  if (all)
    {
      json_builder_set_member_name (builder, "versions");
      json_builder_begin_array (builder);
      add_version (builder, request);
      json_builder_end_array (builder);
    }
  else
    {
      json_builder_set_member_name (builder, "version");
      add_version (builder, request);
    }
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  respond (request, 200, body);
}

/* ---- servers ---------------------------------------------------------- */

static void
list_servers (Request *request,
              gboolean detail)
{
  g_autoptr(GPtrArray) records = nlx_manager_list (request->api->manager);
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "servers");
  json_builder_begin_array (builder);
  for (guint i = 0; i < records->len; i++)
    if (detail)
      add_server (builder, request, records->pdata[i]);
    else
      add_server_brief (builder, request, records->pdata[i]);
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  respond (request, 200, body);
}

/* The caller's identity as keystonemiddleware would pass it on. */
static const char *
identity (Request *request,
          const char *header)
{
  SoupMessageHeaders *headers =
    soup_server_message_get_request_headers (request->msg);
  const char *value = soup_message_headers_get_one (headers, header);

  return value != NULL && *value != '\0' ? value : "admin";
}

/* An optional string member; answers 400 when it is there but not a
 * string (null counts as absent). */
static gboolean
get_optional_string (Request *request,
                     JsonObject *object,
                     const char *key,
                     const char **value)
{
  JsonNode *node = json_object_get_member (object, key);

  *value = NULL;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  *value = get_string_member (request, object, key);
  return *value != NULL;
}

/* Nova's fields that take an integer or a string of one (pattern
 * ^-?[0-9]+$): a JSON whole number, or plain decimal digits in a string,
 * from @min to @max.  Leading zeros and "-0" are refused too: nothing
 * needs them, and " 0", "0x" and "-0" used to slip through. */
static gboolean
read_whole_number (JsonNode *node,
                   gint64 min,
                   gint64 max,
                   gint64 *out)
{
  gint64 value;

  if (!JSON_NODE_HOLDS_VALUE (node))
    return FALSE;
  if (json_node_get_value_type (node) == G_TYPE_INT64)
    value = json_node_get_int (node);
  else if (json_node_get_value_type (node) == G_TYPE_STRING)
    {
      const char *text = json_node_get_string (node);
      const char *digits = text[0] == '-' ? text + 1 : text;

      if (*digits == '\0' ||
          (*digits == '0' && (digits[1] != '\0' || digits != text)))
        return FALSE;
      for (const char *p = digits; *p != '\0'; p++)
        if (!g_ascii_isdigit (*p))
          return FALSE;
      if (!g_ascii_string_to_signed (text, 10, G_MININT64, G_MAXINT64, &value,
                                     NULL))
        return FALSE;
    }
  else
    return FALSE;
  if (value < min || value > max)
    return FALSE;
  *out = value;
  return TRUE;
}

/* Nova's block_device_mapping_v2, for volumes only: boot_index 0 is the
 * root volume, the others are attached.  Answers 400 itself. */
static gboolean
read_block_devices (Request *request,
                    JsonObject *server,
                    char **root_volume,
                    GPtrArray *volumes)
{
  static const char * const known[] = {
    "boot_index", "uuid", "source_type", "destination_type", "device_name",
    "mount_path", "delete_on_termination", "volume_id", NULL
  };
  JsonNode *node = json_object_get_member (server, "block_device_mapping_v2");
  JsonArray *array;
  NlxInstance view = { .volumes = volumes };

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (node))
    {
      respond_fault (request, 400,
                     _("“block_device_mapping_v2” must be a list"));
      return FALSE;
    }
  array = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *element = json_array_get_element (array, i);
      JsonObject *bdm;
      const char *id, *source, *destination, *device, *mount_path;
      g_autofree char *chosen = NULL;
      gint64 boot_index = -1;
      JsonNode *index;

      if (!require_object (request, element, "block_device_mapping_v2[]"))
        return FALSE;
      bdm = json_node_get_object (element);
      if (!check_members (request, bdm, known) ||
          !get_optional_string (request, bdm, "uuid", &id) ||
          !get_optional_string (request, bdm, "source_type", &source) ||
          !get_optional_string (request, bdm, "destination_type", &destination) ||
          !get_optional_string (request, bdm, "device_name", &device) ||
          !get_optional_string (request, bdm, "mount_path", &mount_path))
        return FALSE;
      /* It answers 400 itself: going on would answer a second time. */
      if (id == NULL && !get_optional_string (request, bdm, "volume_id", &id))
        return FALSE;
      index = json_object_get_member (bdm, "boot_index");
      if (index != NULL && !JSON_NODE_HOLDS_NULL (index) &&
          !read_whole_number (index, G_MININT32, G_MAXINT32, &boot_index))
        {
          respond_fault (request, 400,
                         _("“boot_index” must be a whole number, in JSON or "
                           "as a string of decimal digits, or null"));
          return FALSE;
        }

      if (id == NULL || g_strcmp0 (source, "volume") != 0 ||
          (destination != NULL && !g_str_equal (destination, "volume")))
        {
          respond_fault (request, 400,
                         _("Each block device mapping needs a volume id in "
                           "“uuid” and source_type “volume”; nova-lxc has "
                           "no other kind of block device"));
          return FALSE;
        }
      if (boot_index == 0)
        {
          if (*root_volume != NULL || mount_path != NULL || device != NULL)
            {
              respond_fault (request, 400,
                             _("Only one block device mapping can have "
                               "boot_index 0, and the root volume takes no "
                               "device_name or mount_path"));
              return FALSE;
            }
          *root_volume = g_strdup (id);
          continue;
        }
      /* The instance document checks devices, mount paths and repeats. */
      chosen = device ? g_strdup (device) : nlx_instance_next_device (&view);
      g_ptr_array_add (volumes, nlx_volume_attachment_new (id, chosen,
                                                           mount_path));
    }
  return TRUE;
}

/* Nova's user_data: base64 (format "base64", which Python decodes
 * leniently about line breaks) of at most 65535 characters.  Answers 400
 * itself.  *cleaned is the text without its line breaks (the same bytes
 * once decoded), as the instance document keeps it, which allows no
 * control characters; NULL for "", which holds nothing. */
static gboolean
check_user_data (Request *request,
                 const char *user_data,
                 char **cleaned)
{
  gsize length = user_data ? strlen (user_data) : 0;
  g_autoptr(GString) text = NULL;
  gsize padding = 0;

  *cleaned = NULL;
  if (user_data == NULL)
    return TRUE;
  if (length > NLX_USER_DATA_MAX)
    {
      g_autofree char *message =
        g_strdup_printf (_("Invalid input for field/attribute user_data: it "
                           "is %zu characters long, more "
                           "than the %d allowed"), length, NLX_USER_DATA_MAX);

      respond_fault (request, 400, message);
      return FALSE;
    }
  text = g_string_new (NULL);
  for (const char *p = user_data; *p != '\0'; p++)
    {
      if (*p == '\n' || *p == '\r')
        continue;
      if (*p == '=')
        padding++;
      else if (padding > 0 ||
               !(g_ascii_isalnum (*p) || *p == '+' || *p == '/'))
        {
          padding = 3;
          break;
        }
      g_string_append_c (text, *p);
    }
  if (padding > 2 || text->len % 4 != 0)
    {
      respond_fault (request, 400,
                     _("Invalid input for field/attribute user_data: it is "
                       "not base64; send the data base64-encoded (A–Z, a–z, "
                       "0–9, “+” and “/”, “=” padding at the end, line "
                       "breaks allowed)"));
      return FALSE;
    }
  if (text->len > 0)
    *cleaned = g_string_free (g_steal_pointer (&text), FALSE);
  return TRUE;
}

/* Nova's hostname (2.90): 2 to 63 letters, digits and "-", starting and
 * ending with a letter or digit.  Kept lower-case, as DNS compares host
 * names.  Answers 400 itself. */
static gboolean
check_hostname (Request *request,
                const char *hostname,
                char **lower)
{
  gsize length = hostname ? strlen (hostname) : 0;
  gboolean valid = length >= 2 && length <= NLX_HOSTNAME_MAX &&
                   g_ascii_isalnum (hostname[0]) &&
                   g_ascii_isalnum (hostname[length - 1]);

  *lower = NULL;
  if (hostname == NULL)
    return TRUE;
  for (gsize i = 0; valid && i < length; i++)
    valid = g_ascii_isalnum (hostname[i]) || hostname[i] == '-';
  if (!valid)
    {
      g_autofree char *shown = g_utf8_make_valid (hostname, MIN (length, 80));
      g_autofree char *message =
        g_strdup_printf (_("Invalid input for field/attribute hostname: "
                           "“%s” is not a host name; give 2 to %d letters, "
                           "digits and “-”, starting and ending with a "
                           "letter or digit"), shown, NLX_HOSTNAME_MAX);

      respond_fault (request, 400, message);
      return FALSE;
    }
  *lower = g_ascii_strdown (hostname, -1);
  return TRUE;
}

/* Nova's parameter_types.boolean: JSON true or false, or one of the
 * strings Nova takes for them.  Absent or null leaves *value alone.
 * Answers 400 itself. */
static gboolean
read_boolean (Request *request,
              JsonObject *object,
              const char *key,
              gboolean *value)
{
  static const char * const yes[] = {
    "True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes", NULL
  };
  static const char * const no[] = {
    "False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no", NULL
  };
  JsonNode *node = json_object_get_member (object, key);
  g_autofree char *message = NULL;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (JSON_NODE_HOLDS_VALUE (node) &&
      json_node_get_value_type (node) == G_TYPE_BOOLEAN)
    {
      *value = json_node_get_boolean (node);
      return TRUE;
    }
  if (JSON_NODE_HOLDS_VALUE (node) &&
      json_node_get_value_type (node) == G_TYPE_STRING)
    {
      const char *text = json_node_get_string (node);

      if (g_strv_contains (yes, text) || g_strv_contains (no, text))
        {
          *value = g_strv_contains (yes, text);
          return TRUE;
        }
    }
  message = g_strdup_printf (_("Invalid input for field/attribute %s: it "
                               "must be true or false (or \"true\", "
                               "\"false\", \"yes\", \"no\", \"1\", \"0\")"),
                             key);
  respond_fault (request, 400, message);
  return FALSE;
}

/* The caller's key pair @name, as Nova looks it up; answers 400 with
 * Nova's message itself when the caller has none of that name. */
static const NlxKeypair *
find_key_name (Request *request,
               const char *name)
{
  const NlxKeypair *keypair =
    nlx_manager_find_keypair (request->api->manager,
                              identity (request, "X-User-Id"), name);

  if (keypair == NULL)
    respond_fault (request, 400, _("Invalid key_name provided."));
  return keypair;
}

static NlxInstance *
instance_from_request (Request *request,
                       JsonObject *server,
                       GError **error)
{
  static const char * const known[] = {
    "name", "flavorRef", "imageRef", "metadata", "block_device_mapping_v2",
    "user_data", "key_name", "hostname", "config_drive", NULL
  };
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *uuid = g_uuid_string_random ();
  g_autofree char *root_volume = NULL;
  g_autoptr(GPtrArray) volumes =
    g_ptr_array_new_with_free_func ((GDestroyNotify) nlx_volume_attachment_free);
  const NlxFlavor *flavor;
  const char *name, *flavor_ref, *image_ref = NULL;
  const char *user_data, *key_name, *hostname;
  g_autofree char *user_data_kept = NULL;
  g_autofree char *hostname_kept = NULL;
  const NlxKeypair *keypair = NULL;
  gboolean config_drive = FALSE;
  JsonNode *metadata;

  if (!check_members (request, server, known) ||
      (name = get_string_member (request, server, "name")) == NULL ||
      (flavor_ref = get_string_member (request, server, "flavorRef")) == NULL ||
      !read_block_devices (request, server, &root_volume, volumes) ||
      !get_optional_string (request, server, "user_data", &user_data) ||
      !check_user_data (request, user_data, &user_data_kept) ||
      !get_optional_string (request, server, "hostname", &hostname) ||
      !check_hostname (request, hostname, &hostname_kept) ||
      !read_boolean (request, server, "config_drive", &config_drive) ||
      !get_optional_string (request, server, "key_name", &key_name) ||
      (key_name != NULL && (keypair = find_key_name (request,
                                                     key_name)) == NULL))
    return NULL;
  /* Booting from a volume, imageRef is optional (and may be ""). */
  if (root_volume == NULL || json_object_has_member (server, "imageRef"))
    {
      image_ref = get_string_member (request, server, "imageRef");
      if (image_ref == NULL)
        return NULL;
      if (root_volume != NULL && *image_ref == '\0')
        image_ref = NULL;
    }
  flavor = nlx_config_find_flavor (request->api->config, flavor_ref);
  if (flavor == NULL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Flavor %s could not be found; see the flavor list"),
                   flavor_ref);
      return NULL;
    }

  json_builder_begin_object (builder);
  add_string (builder, "uuid", uuid);
  add_string (builder, "name", name);
  json_builder_set_member_name (builder, "flavor");
  json_builder_begin_object (builder);
  add_string (builder, "name", flavor->name);
  add_int (builder, "vcpus", flavor->vcpus);
  add_int (builder, "memory_mb", flavor->memory_mb);
  add_int (builder, "root_gb", flavor->root_gb);
  if (flavor->privileged)
    {
      json_builder_set_member_name (builder, "privileged");
      json_builder_add_boolean_value (builder, TRUE);
    }
  if (flavor->pids != 0)
    add_int (builder, "pids", flavor->pids);
  if (flavor->cpu_shares != 0)
    add_int (builder, "cpu_shares", flavor->cpu_shares);
  if (flavor->seccomp_unconfined)
    add_string (builder, "seccomp", NLX_SECCOMP_UNCONFINED);
  json_builder_end_object (builder);
  if (image_ref != NULL)
    add_string (builder, "image_ref", image_ref);
  if (root_volume != NULL)
    add_string (builder, "root_volume", root_volume);
  json_builder_set_member_name (builder, "volumes");
  json_builder_begin_array (builder);
  for (guint i = 0; i < volumes->len; i++)
    {
      NlxVolumeAttachment *attachment = volumes->pdata[i];

      json_builder_begin_object (builder);
      add_string (builder, "volume_id", attachment->volume_id);
      add_string (builder, "device", attachment->device);
      if (attachment->mount_path != NULL)
        add_string (builder, "mount_path", attachment->mount_path);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  add_string (builder, "user_id", identity (request, "X-User-Id"));
  add_string (builder, "project_id", identity (request, "X-Project-Id"));
  metadata = json_object_get_member (server, "metadata");
  if (metadata != NULL)
    {
      json_builder_set_member_name (builder, "metadata");
      json_builder_add_value (builder, json_node_copy (metadata));
    }
  add_time (builder, "created_at", now);
  if (hostname_kept != NULL)
    add_string (builder, "hostname", hostname_kept);
  if (user_data_kept != NULL)
    add_string (builder, "user_data", user_data_kept);
  if (keypair != NULL)
    {
      /* A copy, as Nova's key_data: the server keeps it if the key pair
       * goes. */
      add_string (builder, "key_name", keypair->name);
      add_string (builder, "key_data", keypair->public_key);
    }
  if (config_drive)
    {
      json_builder_set_member_name (builder, "config_drive");
      json_builder_add_boolean_value (builder, TRUE);
    }
  json_builder_end_object (builder);
  node = json_builder_get_root (builder);
  return nlx_instance_new_from_node (node, error);
}

/* A change the manager answers once it is saved; the manager is kept
 * here, not through the API, which may be gone by then (at a stop). */
typedef struct {
  Request *request;
  NlxManager *manager;
  char *uuid;
  guint status;                 /* the answer when it worked */
  gboolean show;                /* with the server */
} Change;

static Change *
change_new (Request *request,
            const char *uuid,
            guint status,
            gboolean show)
{
  Change *change = g_new0 (Change, 1);

  change->request = request_keep (request);
  change->manager = request->api->manager;
  change->uuid = g_strdup (uuid);
  change->status = status;
  change->show = show;
  return change;
}

static void
change_free (Change *change)
{
  soup_server_message_unpause (change->request->msg);
  request_free (change->request);
  g_free (change->uuid);
  g_free (change);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Change, change_free)

static void
changed (GObject *source,
         GAsyncResult *result,
         gpointer data)
{
  g_autoptr(Change) change = data;
  g_autoptr(GError) error = NULL;
  const NlxRecord *record = NULL;

  if (!nlx_manager_change_finish (change->manager, result, &error) ||
      (change->show &&
       (record = nlx_manager_lookup (change->manager, change->uuid,
                                     &error)) == NULL))
    respond_error (change->request, error);
  else if (change->show)
    respond_server (change->request, change->status, record);
  else
    respond (change->request, change->status, NULL);
}

static void
server_created (GObject *source,
                GAsyncResult *result,
                gpointer data)
{
  g_autoptr(Change) change = data;
  g_autoptr(JsonBuilder) builder = NULL;
  g_autoptr(JsonNode) body = NULL;
  g_autoptr(GError) error = NULL;
  const NlxRecord *record = nlx_manager_create_finish (change->manager, result,
                                                      &error);

  if (record == NULL)
    {
      respond_error (change->request, error);
      return;
    }
  builder = json_builder_new_immutable ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "server");
  json_builder_begin_object (builder);
  add_string (builder, "id", record->instance->uuid);
  add_links (builder, change->request, "servers", record->instance->uuid);
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  respond (change->request, 202, body);
}

static void
create_server (Request *request)
{
  g_autoptr(GError) error = NULL;
  JsonObject *server = read_body (request, "server");
  NlxInstance *instance;

  if (server == NULL)
    return;
  instance = instance_from_request (request, server, &error);
  if (instance == NULL)
    {
      if (error != NULL)
        respond_error (request, error);
      return;
    }
  /* Answered once its record is on disk. */
  nlx_manager_create_async (request->api->manager, instance, server_created,
                            change_new (request, instance->uuid, 202, FALSE));
}

static void
update_server (Request *request,
               const char *uuid)
{
  static const char * const known[] = { "name", NULL };
  g_autoptr(GError) error = NULL;
  JsonObject *server = read_body (request, "server");
  const char *name;

  if (server == NULL || !check_members (request, server, known) ||
      (name = get_string_member (request, server, "name")) == NULL)
    return;
  nlx_manager_rename_async (request->api->manager, uuid, name, changed,
                            change_new (request, uuid, 200, TRUE));
}

/* ---- remote consoles ------------------------------------------------------ */

/* Where a console URL's WebSocket is served; the token in its query is
 * the credential, as in Nova's serial proxy. */
#define CONSOLE_PATH "/serial-console"
#define CONSOLE_UUID_KEY "nlx-console-uuid"
/* Typed input held for a console that does not take it yet; a client
 * sending more is cut off. */
#define CONSOLE_PENDING_MAX (256 * 1024)
#define CONSOLE_KEEPALIVE_S 30

/* The URL of a new console of @uuid: ws:// on the host and port the
 * caller reached (over the Unix socket, "localhost": the URL is then
 * opened over the same socket, as nova-lxc console does). */
static char *
console_url (Request *request,
             const char *uuid,
             GError **error)
{
  g_autofree char *token =
    nlx_manager_create_console_token (request->api->manager, uuid, error);

  if (token == NULL)
    return NULL;
  /* request->base is "http://host[:port]" */
  return g_strdup_printf ("ws%s" CONSOLE_PATH "?token=%s",
                          request->base + strlen ("http"), token);
}

static void
respond_console (Request *request,
                 const char *uuid,
                 const char *wrapper,
                 const char *protocol,
                 const char *type)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *url = console_url (request, uuid, &error);
  g_autoptr(JsonBuilder) builder = NULL;
  g_autoptr(JsonNode) body = NULL;

  if (url == NULL)
    {
      respond_error (request, error);
      return;
    }
  builder = json_builder_new_immutable ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, wrapper);
  json_builder_begin_object (builder);
  if (protocol != NULL)
    add_string (builder, "protocol", protocol);
  add_string (builder, "type", type);
  add_string (builder, "url", url);
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  respond (request, 200, body);
}

/* Nova's console protocols and types (remote_consoles schema, 2.8): a
 * value outside them is a bad request; one inside them but not serial
 * is a console this host does not have. */
static gboolean
check_console_choice (Request *request,
                      const char *member,
                      const char *value,
                      const char * const *known)
{
  g_autofree char *message = NULL;

  if (g_strv_contains (known, value))
    {
      if (g_str_equal (value, "serial"))
        return TRUE;
      message = g_strdup_printf (_("Unavailable console type %s: this host "
                                   "has serial consoles only (protocol "
                                   "and type “serial”)"), value);
    }
  else
    message = g_strdup_printf (_("Invalid input for field/attribute %s: "
                                 "“%s” is not one of the console %ss; use "
                                 "“serial”"), member, value, member);
  respond_fault (request, 400, message);
  return FALSE;
}

/* POST /servers/{id}/remote-consoles */
static void
create_remote_console (Request *request,
                       const char *uuid)
{
  static const char * const protocols[] = {
    "vnc", "spice", "rdp", "serial", "mks", NULL
  };
  static const char * const types[] = {
    "novnc", "xvpvnc", "rdp-html5", "spice-html5", "serial", "webmks", NULL
  };
  static const char * const top[] = { "remote_console", NULL };
  static const char * const inner[] = { "protocol", "type", NULL };
  g_autoptr(GError) error = NULL;
  JsonObject *root;
  JsonNode *console;
  JsonObject *object;
  const char *protocol;
  const char *type;

  if (nlx_manager_lookup (request->api->manager, uuid, &error) == NULL)
    {
      respond_error (request, error);
      return;
    }
  root = parse_body (request);
  if (root == NULL || !check_members (request, root, top))
    return;
  console = json_object_get_member (root, "remote_console");
  if (console == NULL)
    {
      respond_fault (request, 400, _("“remote_console” is a required "
                                     "property"));
      return;
    }
  if (!require_object (request, console, "remote_console"))
    return;
  object = json_node_get_object (console);
  if (!check_members (request, object, inner) ||
      (protocol = get_string_member (request, object, "protocol")) == NULL ||
      (type = get_string_member (request, object, "type")) == NULL ||
      !check_console_choice (request, "protocol", protocol, protocols) ||
      !check_console_choice (request, "type", type, types))
    return;
  respond_console (request, uuid, "remote_console", protocol, type);
}

/* The legacy action {"os-getSerialConsole": {"type": "serial"}} */
static void
get_serial_console (Request *request,
                    const char *uuid,
                    JsonNode *args)
{
  static const char * const types[] = { "serial", NULL };
  static const char * const inner[] = { "type", NULL };
  JsonObject *object;
  const char *type;

  if (!require_object (request, args, "os-getSerialConsole"))
    return;
  object = json_node_get_object (args);
  if (!check_members (request, object, inner) ||
      (type = get_string_member (request, object, "type")) == NULL ||
      !check_console_choice (request, "type", type, types))
    return;
  respond_console (request, uuid, "console", NULL, type);
}

/* One open console WebSocket and the driver's socket behind it. */
typedef struct {
  gatomicrefcount refs;
  NlxApi *api;
  SoupWebsocketConnection *ws;
  char *uuid;
  GSocket *socket;              /* NULL until attached */
  GSource *read_source;
  GSource *write_source;
  GByteArray *pending;          /* typed, not yet taken by the console */
  gboolean closed;
} ConsoleBridge;

static ConsoleBridge *
bridge_ref (ConsoleBridge *bridge)
{
  g_atomic_ref_count_inc (&bridge->refs);
  return bridge;
}

static void
bridge_unref (ConsoleBridge *bridge)
{
  if (!g_atomic_ref_count_dec (&bridge->refs))
    return;
  g_object_unref (bridge->ws);
  g_free (bridge->uuid);
  g_byte_array_unref (bridge->pending);
  g_free (bridge);
}

/* Detaches from the console (closing our socket is what the driver
 * sees) and forgets the WebSocket; safe to call more than once. */
static void
bridge_close (ConsoleBridge *bridge,
              gushort code,
              const char *reason)
{
  if (bridge->closed)
    return;
  bridge->closed = TRUE;
  g_signal_handlers_disconnect_by_data (bridge->ws, bridge);
  if (bridge->read_source != NULL)
    {
      g_source_destroy (bridge->read_source);
      g_clear_pointer (&bridge->read_source, g_source_unref);
    }
  if (bridge->write_source != NULL)
    {
      g_source_destroy (bridge->write_source);
      g_clear_pointer (&bridge->write_source, g_source_unref);
    }
  if (bridge->socket != NULL)
    {
      g_socket_close (bridge->socket, NULL);
      g_clear_object (&bridge->socket);
    }
  if (soup_websocket_connection_get_state (bridge->ws) ==
      SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (bridge->ws, code, reason);
  g_debug ("Console of instance %s detached", bridge->uuid);
  /* The set's reference. */
  g_hash_table_remove (bridge->api->consoles, bridge);
}

static gboolean bridge_writable (GSocket *socket,
                                 GIOCondition condition,
                                 gpointer data);

/* Writes what was typed as far as the socket takes it now; the rest
 * waits for it to be writable. */
static void
bridge_flush (ConsoleBridge *bridge)
{
  g_autoptr(GError) error = NULL;

  while (bridge->socket != NULL && bridge->pending->len > 0)
    {
      gssize n = g_socket_send_with_blocking (bridge->socket,
                                              (const char *) bridge->pending->data,
                                              bridge->pending->len, FALSE,
                                              NULL, &error);

      if (n > 0)
        {
          g_byte_array_remove_range (bridge->pending, 0, n);
          continue;
        }
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        {
          if (bridge->write_source == NULL)
            {
              bridge->write_source =
                g_socket_create_source (bridge->socket, G_IO_OUT, NULL);
              g_source_set_callback (bridge->write_source,
                                     (GSourceFunc) (GCallback) bridge_writable,
                                     bridge, NULL);
              g_source_attach (bridge->write_source,
                               g_main_context_get_thread_default ());
            }
          return;
        }
      bridge_close (bridge, SOUP_WEBSOCKET_CLOSE_GOING_AWAY,
                    "console closed");
      return;
    }
}

static gboolean
bridge_writable (GSocket *socket,
                 GIOCondition condition,
                 gpointer data)
{
  ConsoleBridge *bridge = data;

  g_clear_pointer (&bridge->write_source, g_source_unref);
  bridge_flush (bridge);
  return G_SOURCE_REMOVE;
}

/* Console output: to the client as binary frames, as Nova's serial
 * proxy sends them. */
static gboolean
bridge_readable (GSocket *socket,
                 GIOCondition condition,
                 gpointer data)
{
  ConsoleBridge *bridge = data;
  g_autoptr(GError) error = NULL;
  char buffer[16384];
  gssize n = g_socket_receive_with_blocking (socket, buffer, sizeof buffer,
                                             FALSE, NULL, &error);

  if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    return G_SOURCE_CONTINUE;
  if (n <= 0)
    {
      /* The console went away: the instance stopped or was deleted. */
      g_clear_pointer (&bridge->read_source, g_source_unref);
      bridge_close (bridge, SOUP_WEBSOCKET_CLOSE_NORMAL,
                    "the console closed: the server stopped");
      return G_SOURCE_REMOVE;
    }
  soup_websocket_connection_send_binary (bridge->ws, buffer, n);
  return G_SOURCE_CONTINUE;
}

static void
bridge_message (SoupWebsocketConnection *ws,
                gint type,
                GBytes *message,
                gpointer data)
{
  ConsoleBridge *bridge = data;
  gsize length;
  const guint8 *bytes = g_bytes_get_data (message, &length);

  if (bridge->pending->len + length > CONSOLE_PENDING_MAX)
    {
      bridge_close (bridge, SOUP_WEBSOCKET_CLOSE_TOO_BIG,
                    "the console does not take input this fast");
      return;
    }
  g_byte_array_append (bridge->pending, bytes, length);
  bridge_flush (bridge);
}

static void
bridge_closed (SoupWebsocketConnection *ws,
               gpointer data)
{
  bridge_close (data, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
}

static void
bridge_attached (GObject *source,
                 GAsyncResult *result,
                 gpointer data)
{
  ConsoleBridge *bridge = data;
  g_autoptr(GError) error = NULL;
  int fd = nlx_manager_console_attach_finish (bridge->api->manager, result,
                                              &error);

  if (fd >= 0 && bridge->closed)
    close (fd);
  else if (fd < 0)
    {
      g_message ("Console of instance %s: %s", bridge->uuid, error->message);
      bridge_close (bridge, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, error->message);
    }
  else if ((bridge->socket = g_socket_new_from_fd (fd, &error)) == NULL)
    {
      close (fd);
      bridge_close (bridge, SOUP_WEBSOCKET_CLOSE_SERVER_ERROR,
                    error->message);
    }
  else
    {
      g_socket_set_blocking (bridge->socket, FALSE);
      bridge->read_source = g_socket_create_source (bridge->socket,
                                                    G_IO_IN | G_IO_HUP |
                                                    G_IO_ERR, NULL);
      g_source_set_callback (bridge->read_source,
                             (GSourceFunc) (GCallback) bridge_readable,
                             bridge, NULL);
      g_source_attach (bridge->read_source,
                       g_main_context_get_thread_default ());
      g_debug ("Console of instance %s attached", bridge->uuid);
      bridge_flush (bridge);
    }
  bridge_unref (bridge);
}

/* Before the upgrade: the token is checked (and used up) here, so a
 * wrong one is refused with a status rather than a WebSocket closed at
 * once.  A request that is no WebSocket upgrade does not use it up. */
static void
check_console (SoupServer *server,
               SoupServerMessage *msg,
               const char *path,
               GHashTable *query,
               gpointer data)
{
  g_autofree char *request_uuid = g_uuid_string_random ();
  g_autofree char *id = g_strconcat ("req-", request_uuid, NULL);
  Request request = { .api = data, .msg = msg, .id = id };
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  g_autoptr(GError) error = NULL;
  const char *token = query != NULL ? g_hash_table_lookup (query, "token")
                                    : NULL;
  char *uuid;

  /* nlx-listener.c says "Connection: close" on every answer; a 101
   * must say "Upgrade" alone. */
  soup_message_headers_remove (soup_server_message_get_response_headers (msg),
                               "Connection");
  if (!g_str_equal (path, CONSOLE_PATH))
    respond_fault (&request, 404, _("The resource could not be found."));
  else if (!g_str_equal (soup_server_message_get_method (msg), "GET"))
    respond_fault (&request, 405, _("A console is opened with a WebSocket "
                                    "GET"));
  else if (!soup_message_headers_header_contains (headers, "Upgrade",
                                                  "websocket"))
    respond_fault (&request, 400, _("A console URL is opened with a "
                                    "WebSocket client, e.g. nova-lxc "
                                    "console"));
  else if ((uuid = nlx_manager_take_console_token (request.api->manager,
                                                   token, &error)) == NULL)
    respond_fault (&request,
                   g_error_matches (error, NLX_DRIVER_ERROR,
                                    NLX_DRIVER_ERROR_NOT_FOUND)
                     ? 401 : status_for_error (error),
                   error->message);
  else
    {
      g_object_set_data_full (G_OBJECT (msg), CONSOLE_UUID_KEY, uuid, g_free);
      return;
    }
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "Connection", "close");
}

/* After the upgrade: attaches to the console in a worker and bridges. */
static void
console_connected (SoupServer *server,
                   SoupServerMessage *msg,
                   const char *path,
                   SoupWebsocketConnection *ws,
                   gpointer data)
{
  NlxApi *api = data;
  const char *uuid = g_object_get_data (G_OBJECT (msg), CONSOLE_UUID_KEY);
  ConsoleBridge *bridge;

  if (uuid == NULL)
    {
      soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION,
                                       "no console token");
      return;
    }
  bridge = g_new0 (ConsoleBridge, 1);
  g_atomic_ref_count_init (&bridge->refs);
  bridge->api = api;
  bridge->ws = g_object_ref (ws);
  bridge->uuid = g_strdup (uuid);
  bridge->pending = g_byte_array_new ();
  g_hash_table_add (api->consoles, bridge);
  soup_websocket_connection_set_keepalive_interval (ws, CONSOLE_KEEPALIVE_S);
  g_signal_connect (ws, "message", G_CALLBACK (bridge_message), bridge);
  g_signal_connect (ws, "closed", G_CALLBACK (bridge_closed), bridge);
  nlx_manager_console_attach_async (api->manager, uuid, bridge_attached,
                                    bridge_ref (bridge));
}

/* ---- server actions --------------------------------------------------- */

/* The last @lines lines of @text; all of it when @lines is negative. */
static const char *
last_lines (const char *text,
            gint64 lines)
{
  const char *end = text + strlen (text);
  const char *p = end;

  if (lines < 0)
    return text;
  if (lines == 0)
    return end;
  /* A final newline ends the last line rather than starting another. */
  if (p > text && p[-1] == '\n')
    p--;
  for (; p > text; p--)
    if (p[-1] == '\n' && --lines == 0)
      return p;
  return text;
}

typedef struct {
  Request *request;
  gint64 lines;
} ConsoleCall;

static void
console_ready (GObject *source,
               GAsyncResult *result,
               gpointer data)
{
  ConsoleCall *call = data;
  g_autoptr(Request) request = call->request;
  g_autoptr(GError) error = NULL;
  g_autofree char *output =
    nlx_manager_get_console_output_finish (request->api->manager, result,
                                           &error);

  if (output == NULL)
    respond_error (request, error);
  else
    {
      g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
      g_autoptr(JsonNode) body = NULL;

      /* JSON strings must be UTF-8, and what a tenant printed must not
       * drive the terminal it is shown on: the log keeps the raw bytes. */
      g_autofree char *text = nlx_console_text_for_display (output, -1);

      json_builder_begin_object (builder);
      add_string (builder, "output", last_lines (text, call->lines));
      json_builder_end_object (builder);
      body = json_builder_get_root (builder);
      respond (request, 200, body);
    }
  soup_server_message_unpause (request->msg);
  g_free (call);
}

/* os-getConsoleOutput's length: lines from the end; absent, null or -1
 * for all, and Nova also takes it as a string of digits. */
static gboolean
read_length (Request *request,
             JsonNode *args,
             gint64 *lines)
{
  JsonNode *length = NULL;

  *lines = -1;
  if (args != NULL && !JSON_NODE_HOLDS_NULL (args))
    {
      if (!require_object (request, args, "os-getConsoleOutput"))
        return FALSE;
      length = json_object_get_member (json_node_get_object (args), "length");
    }
  if (length == NULL || JSON_NODE_HOLDS_NULL (length) ||
      read_whole_number (length, -1, G_MAXINT32, lines))
    return TRUE;
  respond_fault (request, 400, _("“length” must be a whole number of lines "
                                 "from -1 (all) to 2147483647, in JSON or as "
                                 "a string of decimal digits"));
  return FALSE;
}

static void
get_console_output (Request *request,
                    const char *uuid,
                    JsonNode *args)
{
  ConsoleCall *call;
  gint64 lines;

  if (!read_length (request, args, &lines))
    return;
  call = g_new0 (ConsoleCall, 1);
  call->lines = lines;
  call->request = request_keep (request);
  nlx_manager_get_console_output_async (request->api->manager, uuid,
                                        G_MAXSIZE, console_ready, call);
}

/* Member @member of @object, when present and not null: an object of
 * strings, copied into @map. */
static gboolean
read_string_map (Request *request,
                 JsonObject *object,
                 const char *member,
                 GHashTable *map)
{
  JsonNode *node = json_object_get_member (object, member);
  g_autoptr(GList) members = NULL;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!require_object (request, node, member))
    return FALSE;
  members = json_object_get_members (json_node_get_object (node));
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *value = get_string_member (request,
                                             json_node_get_object (node),
                                             l->data);
      if (value == NULL)
        return FALSE;
      if (!nlx_json_text_is_valid (l->data, NLX_API_METADATA_ITEM_MAX) ||
          !nlx_json_text_is_valid (value, NLX_API_METADATA_ITEM_MAX))
        {
          g_autofree char *message =
            g_strdup_printf (_("Each key and value of “%s” must be 1 to %d "
                               "characters without control characters"),
                             member, NLX_API_METADATA_ITEM_MAX);
          respond_fault (request, 400, message);
          return FALSE;
        }
      g_hash_table_insert (map, g_strdup (l->data), g_strdup (value));
    }
  return TRUE;
}

static void
image_created (GObject *source,
               GAsyncResult *result,
               gpointer data)
{
  g_autoptr(Request) request = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(NlxStoredImage) image =
    nlx_manager_create_image_finish (request->api->manager, result, &error);

  if (image == NULL)
    respond_error (request, error);
  else
    {
      g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
      g_autoptr(JsonNode) body = NULL;
      g_autofree char *location = g_strdup_printf ("%s/v2.1/images/%s",
                                                   request->base, image->id);

      /* 2.1 says where in Location; 2.45 also says it in the body. */
      soup_message_headers_replace (
        soup_server_message_get_response_headers (request->msg), "Location",
        location);
      json_builder_begin_object (builder);
      add_string (builder, "image_id", image->id);
      json_builder_end_object (builder);
      body = json_builder_get_root (builder);
      respond (request, 202, body);
    }
  soup_server_message_unpause (request->msg);
}

/* createImage: answered when the image is in the store, so the image it
 * names can be booted at once. */
static void
create_image (Request *request,
              const char *uuid,
              JsonNode *args)
{
  static const char * const known[] = { "name", "metadata", NULL };
  g_autoptr(GHashTable) metadata = g_hash_table_new_full (g_str_hash,
                                                          g_str_equal,
                                                          g_free, g_free);
  JsonObject *object;
  const char *name;

  if (!require_object (request, args, "createImage"))
    return;
  object = json_node_get_object (args);
  if (!check_members (request, object, known) ||
      (name = get_string_member (request, object, "name")) == NULL ||
      !read_string_map (request, object, "metadata", metadata))
    return;
  nlx_manager_create_image_async (request->api->manager, uuid, name, metadata,
                                  image_created, request_keep (request));
}

/* rebuild: the server as it is, with the new image and, if given, name
 * and metadata, checked as a new server would be. */
static void
rebuild_server (Request *request,
                const NlxRecord *record,
                JsonNode *args)
{
  static const char * const known[] = {
    "imageRef", "name", "metadata", "user_data", "key_name", "hostname", NULL
  };
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GError) error = NULL;
  NlxInstance *instance;
  JsonObject *object, *wanted;
  const char *image_ref, *name, *user_data, *key_name, *hostname;
  g_autofree char *user_data_kept = NULL;
  g_autofree char *hostname_kept = NULL;
  const NlxKeypair *keypair = NULL;
  JsonNode *metadata;
  g_autofree char *uuid = g_strdup (record->instance->uuid);

  if (!require_object (request, args, "rebuild"))
    return;
  object = json_node_get_object (args);
  if (!check_members (request, object, known) ||
      (image_ref = get_string_member (request, object, "imageRef")) == NULL ||
      !get_optional_string (request, object, "user_data", &user_data) ||
      !check_user_data (request, user_data, &user_data_kept) ||
      !get_optional_string (request, object, "hostname", &hostname) ||
      !check_hostname (request, hostname, &hostname_kept) ||
      !get_optional_string (request, object, "key_name", &key_name) ||
      (key_name != NULL && (keypair = find_key_name (request,
                                                     key_name)) == NULL))
    return;
  node = nlx_instance_to_node (record->instance);
  wanted = json_node_get_object (node);
  json_object_set_string_member (wanted, "image_ref", image_ref);
  if (json_object_has_member (object, "name"))
    {
      if ((name = get_string_member (request, object, "name")) == NULL)
        return;
      json_object_set_string_member (wanted, "name", name);
    }
  metadata = json_object_get_member (object, "metadata");
  if (metadata != NULL)
    json_object_set_member (wanted, "metadata", json_node_copy (metadata));
  /* As Nova 2.54 and 2.57: given, they replace the server's; null takes
   * them away; left out, they stay. */
  if (json_object_has_member (object, "user_data"))
    {
      json_object_remove_member (wanted, "user_data");
      if (user_data_kept != NULL)
        json_object_set_string_member (wanted, "user_data", user_data_kept);
    }
  if (json_object_has_member (object, "key_name"))
    {
      json_object_remove_member (wanted, "key_name");
      json_object_remove_member (wanted, "key_data");
      if (keypair != NULL)
        {
          json_object_set_string_member (wanted, "key_name", keypair->name);
          json_object_set_string_member (wanted, "key_data",
                                         keypair->public_key);
        }
    }
  if (hostname_kept != NULL)
    json_object_set_string_member (wanted, "hostname", hostname_kept);

  instance = nlx_instance_new_from_node (node, &error);
  if (instance == NULL)
    {
      respond_error (request, error);
      return;
    }
  nlx_manager_rebuild_async (request->api->manager, instance, changed,
                             change_new (request, uuid, 202, TRUE));
}

static void
server_action (Request *request,
               const char *uuid)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GList) members = NULL;
  JsonObject *root;
  const char *name;
  JsonNode *args;
  NlxAction action;
  const NlxRecord *record = nlx_manager_lookup (request->api->manager, uuid,
                                               &error);

  if (record == NULL)
    {
      respond_error (request, error);
      return;
    }
  root = parse_body (request);
  if (root == NULL)
    return;
  if (json_object_get_size (root) != 1)
    {
      respond_fault (request, 400, _("An action body must be a JSON object "
                                     "with exactly one member naming the "
                                     "action, e.g. {\"os-stop\": null}"));
      return;
    }
  members = json_object_get_members (root);
  name = members->data;
  args = json_object_get_member (root, name);

  if (g_str_equal (name, "os-getConsoleOutput"))
    {
      get_console_output (request, uuid, args);
      return;
    }
  if (g_str_equal (name, "os-getSerialConsole"))
    {
      get_serial_console (request, uuid, args);
      return;
    }
  if (g_str_equal (name, "createImage"))
    {
      create_image (request, uuid, args);
      return;
    }
  if (g_str_equal (name, "rebuild"))
    {
      rebuild_server (request, record, args);
      return;
    }
  if (g_str_equal (name, "reboot"))
    {
      const char *type;

      if (!require_object (request, args, "reboot") ||
          (type = get_string_member (request, json_node_get_object (args),
                                     "type")) == NULL)
        return;
      if (g_ascii_strcasecmp (type, "SOFT") == 0)
        action = NLX_ACTION_REBOOT_SOFT;
      else if (g_ascii_strcasecmp (type, "HARD") == 0)
        action = NLX_ACTION_REBOOT_HARD;
      else
        {
          respond_fault (request, 400, _("Reboot “type” must be SOFT or HARD"));
          return;
        }
    }
  else if (g_str_equal (name, "os-stop"))
    action = NLX_ACTION_STOP;
  else if (g_str_equal (name, "os-start"))
    action = NLX_ACTION_START;
  else if (g_str_equal (name, "pause"))
    action = NLX_ACTION_PAUSE;
  else if (g_str_equal (name, "unpause"))
    action = NLX_ACTION_UNPAUSE;
  else
    {
      g_autofree char *message =
        g_strdup_printf (_("Action “%s” is not supported here; the actions "
                           "are reboot, os-stop, os-start, pause, unpause, "
                           "rebuild, createImage, os-getConsoleOutput and "
                           "os-getSerialConsole"),
                         name);
      respond_fault (request, 400, message);
      return;
    }

  nlx_manager_act_async (request->api->manager, uuid, action, changed,
                         change_new (request, uuid, 202, FALSE));
}

/* ---- volume attachments ------------------------------------------------- */

static void
add_attachment (JsonBuilder *builder,
                const char *uuid,
                const NlxVolumeAttachment *attachment)
{
  json_builder_begin_object (builder);
  add_string (builder, "id", attachment->volume_id);
  add_string (builder, "volumeId", attachment->volume_id);
  add_string (builder, "serverId", uuid);
  add_string (builder, "device", attachment->device);
  add_string (builder, "mount_path", attachment->mount_path);
  json_builder_end_object (builder);
}

static void
respond_attachment (Request *request,
                    const char *uuid,
                    const NlxVolumeAttachment *attachment)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "volumeAttachment");
  add_attachment (builder, uuid, attachment);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  respond (request, 200, body);
}

typedef struct {
  Request *request;
  char *uuid;
} VolumeCall;

static VolumeCall *
volume_call_new (Request *request,
                 const char *uuid)
{
  VolumeCall *call = g_new0 (VolumeCall, 1);

  call->request = request_keep (request);
  call->uuid = g_strdup (uuid);
  return call;
}

static void
volume_call_free (VolumeCall *call)
{
  soup_server_message_unpause (call->request->msg);
  request_free (call->request);
  g_free (call->uuid);
  g_free (call);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VolumeCall, volume_call_free)

static void
attached (GObject *source,
          GAsyncResult *result,
          gpointer data)
{
  g_autoptr(VolumeCall) call = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(NlxVolumeAttachment) attachment =
    nlx_manager_attach_volume_finish (call->request->api->manager, result,
                                      &error);

  if (attachment == NULL)
    respond_error (call->request, error);
  else
    respond_attachment (call->request, call->uuid, attachment);
}

static void
detached (GObject *source,
          GAsyncResult *result,
          gpointer data)
{
  g_autoptr(VolumeCall) call = data;
  g_autoptr(GError) error = NULL;

  if (!nlx_manager_detach_volume_finish (call->request->api->manager, result,
                                         &error))
    respond_error (call->request, error);
  else
    respond (call->request, 202, NULL);
}

static void
attach_volume (Request *request,
               const char *uuid)
{
  static const char * const known[] = {
    "volumeId", "device", "mount_path", "tag", "delete_on_termination", NULL
  };
  JsonObject *body = read_body (request, "volumeAttachment");
  const char *volume_id, *device, *mount_path;

  if (body == NULL || !check_members (request, body, known) ||
      (volume_id = get_string_member (request, body, "volumeId")) == NULL ||
      !get_optional_string (request, body, "device", &device) ||
      !get_optional_string (request, body, "mount_path", &mount_path))
    return;
  nlx_manager_attach_volume_async (request->api->manager, uuid, volume_id,
                                   device, mount_path, attached,
                                   volume_call_new (request, uuid));
}

/* /servers/{uuid}/os-volume_attachments[/{volume_id}] */
static void
attachments_request (Request *request,
                     const char *method,
                     const char *uuid,
                     const char *volume_id)
{
  g_autoptr(GError) error = NULL;
  const NlxRecord *record = nlx_manager_lookup (request->api->manager, uuid,
                                                &error);
  const NlxVolumeAttachment *attachment = NULL;
  NlxVolumeAttachment root;

  if (record == NULL)
    {
      respond_error (request, error);
      return;
    }
  if (volume_id == NULL)
    {
      if (g_str_equal (method, "POST"))
        attach_volume (request, record->instance->uuid);
      else if (g_str_equal (method, "GET"))
        {
          g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
          g_autoptr(JsonNode) body = NULL;

          json_builder_begin_object (builder);
          json_builder_set_member_name (builder, "volumeAttachments");
          json_builder_begin_array (builder);
          /* The root volume first, as in volumes_attached. */
          if (record->instance->root_volume != NULL)
            add_attachment (builder, record->instance->uuid,
                            nlx_instance_find_attachment (
                              record->instance, record->instance->root_volume,
                              &root));
          for (guint i = 0; i < record->instance->volumes->len; i++)
            add_attachment (builder, record->instance->uuid,
                            record->instance->volumes->pdata[i]);
          json_builder_end_array (builder);
          json_builder_end_object (builder);
          body = json_builder_get_root (builder);
          respond (request, 200, body);
        }
      else
        respond_fault (request, 405, _("Volume attachments take GET or POST"));
      return;
    }

  if (g_str_equal (method, "DELETE"))
    nlx_manager_detach_volume_async (request->api->manager,
                                     record->instance->uuid, volume_id,
                                     detached,
                                     volume_call_new (request,
                                                      record->instance->uuid));
  else if (!g_str_equal (method, "GET"))
    respond_fault (request, 405, _("A volume attachment takes GET or DELETE"));
  else if ((attachment = nlx_instance_find_attachment (record->instance,
                                                       volume_id,
                                                       &root)) == NULL)
    {
      g_autofree char *message =
        g_strdup_printf (_("Volume %s is not attached to server %s"),
                         volume_id, record->instance->uuid);
      respond_fault (request, 404, message);
    }
  else
    respond_attachment (request, record->instance->uuid, attachment);
}

/* /servers/{uuid}/ips[/{network}] */
static void
ips_request (Request *request,
             const char *method,
             const char *uuid,
             const char *network)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;
  g_autoptr(GError) error = NULL;
  const NlxRecord *record;
  const NlxVif *vif;

  if (!g_str_equal (method, "GET"))
    {
      respond_fault (request, 405, _("Server addresses take GET"));
      return;
    }
  record = nlx_manager_lookup (request->api->manager, uuid, &error);
  if (record == NULL)
    {
      respond_error (request, error);
      return;
    }
  vif = record->instance->vif;
  json_builder_begin_object (builder);
  if (network == NULL)
    add_addresses (builder, record->instance);
  else if (vif != NULL && g_str_equal (network, vif->bridge))
    add_network (builder, vif);
  else
    {
      g_autofree char *message =
        g_strdup_printf (_("Server %s has no address on network %s; see "
                           "GET /v2.1/servers/%s/ips"), uuid, network, uuid);
      respond_fault (request, 404, message);
      return;
    }
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  respond (request, 200, body);
}

static void
server_request (Request *request,
                const char *method,
                const char *uuid,
                const char *sub)
{
  g_autoptr(GError) error = NULL;
  const NlxRecord *record;

  if (sub != NULL)
    {
      if (g_str_equal (sub, "os-volume_attachments"))
        attachments_request (request, method, uuid, NULL);
      else if (g_str_equal (sub, "ips"))
        ips_request (request, method, uuid, NULL);
      else if (g_str_equal (sub, "remote-consoles"))
        {
          if (g_str_equal (method, "POST"))
            create_remote_console (request, uuid);
          else
            respond_fault (request, 405, _("Remote consoles take POST"));
        }
      else if (!g_str_equal (sub, "action"))
        respond_fault (request, 404, _("The resource could not be found."));
      else if (!g_str_equal (method, "POST"))
        respond_fault (request, 405, _("Server actions take POST"));
      else
        server_action (request, uuid);
      return;
    }
  if (g_str_equal (method, "GET"))
    {
      record = nlx_manager_lookup (request->api->manager, uuid, &error);
      if (record == NULL)
        respond_error (request, error);
      else
        respond_server (request, 200, record);
    }
  else if (g_str_equal (method, "PUT"))
    update_server (request, uuid);
  else if (g_str_equal (method, "DELETE"))
    {
    nlx_manager_act_async (request->api->manager, uuid, NLX_ACTION_DELETE,
                           changed, change_new (request, uuid, 204, FALSE));
    }
  else
    respond_fault (request, 405, _("A server takes GET, PUT or DELETE"));
}

/* ---- flavors and images ----------------------------------------------- */

static void
add_flavor (JsonBuilder *builder,
            Request *request,
            const NlxFlavor *flavor,
            gboolean detail)
{
  json_builder_begin_object (builder);
  add_string (builder, "id", flavor->name);
  add_string (builder, "name", flavor->name);
  if (detail)
    {
      add_int (builder, "vcpus", flavor->vcpus);
      add_int (builder, "ram", flavor->memory_mb);
      add_int (builder, "disk", flavor->root_gb);
      add_int (builder, "OS-FLV-EXT-DATA:ephemeral", 0);
      add_string (builder, "swap", "");
      json_builder_set_member_name (builder, "rxtx_factor");
      json_builder_add_double_value (builder, 1.0);
      json_builder_set_member_name (builder, "os-flavor-access:is_public");
      json_builder_add_boolean_value (builder, TRUE);
      /* As Nova's flavor extra specs (shown from microversion 2.61). */
      json_builder_set_member_name (builder, "extra_specs");
      json_builder_begin_object (builder);
      if (flavor->privileged)
        add_string (builder, NLX_API_PRIVILEGED_SPEC, "true");
      if (flavor->pids != 0)
        {
          g_autofree char *text = g_strdup_printf ("%u", flavor->pids);

          add_string (builder, NLX_API_PIDS_SPEC, text);
        }
      if (flavor->cpu_shares != 0)
        {
          g_autofree char *text = g_strdup_printf ("%u", flavor->cpu_shares);

          add_string (builder, NLX_API_CPU_SHARES_SPEC, text);
        }
      if (flavor->seccomp_unconfined)
        add_string (builder, NLX_API_SECCOMP_SPEC, NLX_SECCOMP_UNCONFINED);
      json_builder_end_object (builder);
    }
  add_links (builder, request, "flavors", flavor->name);
  json_builder_end_object (builder);
}

static void
add_image (JsonBuilder *builder,
           Request *request,
           const NlxConfigImage *image,
           gboolean detail)
{
  json_builder_begin_object (builder);
  add_string (builder, "id", image->name);
  add_string (builder, "name", image->name);
  if (detail)
    {
      add_string (builder, "status", "ACTIVE");
      json_builder_set_member_name (builder, "metadata");
      json_builder_begin_object (builder);
      if (image->init_path != NULL)
        add_string (builder, "os_init_path", image->init_path);
      if (image->shutdown_signal != NULL)
        add_string (builder, "os_shutdown_signal", image->shutdown_signal);
      json_builder_end_object (builder);
    }
  add_links (builder, request, "images", image->name);
  json_builder_end_object (builder);
}

/* Flavors and images come from the configuration and are listed alike:
 * /COLLECTION, /COLLECTION/detail and /COLLECTION/{id}. */
static void
catalog_request (Request *request,
                 const char *collection,
                 const char *id)
{
  const NlxConfig *config = request->api->config;
  gboolean flavors = g_str_equal (collection, "flavors");
  GPtrArray *items = flavors ? config->flavors : config->images;
  gboolean detail = id != NULL;
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;
  gpointer item = NULL;

  if (id != NULL && !g_str_equal (id, "detail"))
    {
      item = flavors ? (gpointer) nlx_config_find_flavor (config, id)
                     : (gpointer) nlx_config_find_image (config, id);
      if (item == NULL)
        {
          g_autofree char *message =
            g_strdup_printf (flavors ? _("Flavor %s could not be found.")
                                     : _("Image %s could not be found."), id);
          respond_fault (request, 404, message);
          return;
        }
    }

  json_builder_begin_object (builder);
  if (item != NULL)
    {
      json_builder_set_member_name (builder, flavors ? "flavor" : "image");
      if (flavors)
        add_flavor (builder, request, item, TRUE);
      else
        add_image (builder, request, item, TRUE);
    }
  else
    {
      json_builder_set_member_name (builder, collection);
      json_builder_begin_array (builder);
      for (guint i = 0; i < items->len; i++)
        if (flavors)
          add_flavor (builder, request, items->pdata[i], detail);
        else
          add_image (builder, request, items->pdata[i], detail);
      json_builder_end_array (builder);
    }
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  respond (request, 200, body);
}

/* An image of the store: Nova's image fields, its content's checksum,
 * and its properties as metadata. */
static void
add_stored_image (JsonBuilder *builder,
                  Request *request,
                  const NlxStoredImage *image,
                  gboolean detail)
{
  json_builder_begin_object (builder);
  add_string (builder, "id", image->id);
  add_string (builder, "name", image->name);
  if (detail)
    {
      GHashTableIter iter;
      gpointer key, value;

      add_string (builder, "status", "ACTIVE");
      add_time (builder, "created", image->created_at);
      add_time (builder, "updated", image->created_at);
      add_int (builder, "minDisk", 0);
      add_int (builder, "minRam", 0);
      add_int (builder, "progress", 100);
      add_int (builder, "OS-EXT-IMG-SIZE:size", image->size_bytes);
      add_string (builder, "nova_lxc:format",
                  nlx_stored_image_format_to_string (image->format));
      /* Images with the same checksum share one stored tree. */
      add_string (builder, "nova_lxc:checksum", image->checksum);
      add_int (builder, "nova_lxc:tree_size", image->tree_size_bytes);
      json_builder_set_member_name (builder, "metadata");
      json_builder_begin_object (builder);
      g_hash_table_iter_init (&iter, image->properties);
      while (g_hash_table_iter_next (&iter, &key, &value))
        add_string (builder, key, value);
      json_builder_end_object (builder);
    }
  add_links (builder, request, "images", image->id);
  json_builder_end_object (builder);
}

static void
respond_stored_image (Request *request,
                      const NlxStoredImage *image)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "image");
  add_stored_image (builder, request, image, TRUE);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  respond (request, 200, body);
}

static void
image_imported (GObject *source,
                GAsyncResult *result,
                gpointer data)
{
  g_autoptr(Request) request = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(NlxStoredImage) image =
    nlx_manager_import_image_finish (request->api->manager, result, &error);

  if (image == NULL)
    respond_error (request, error);
  else
    respond_stored_image (request, image);
  soup_server_message_unpause (request->msg);
}

/* POST /images: nova-lxc's import of a file on the compute host, which
 * only a local administrator may name. */
static void
import_image (Request *request)
{
  static const char * const known[] = { "name", "file", "properties", NULL };
  g_autoptr(GHashTable) properties = g_hash_table_new_full (g_str_hash,
                                                            g_str_equal,
                                                            g_free, g_free);
  JsonObject *image = read_body (request, "image");
  GSocketAddress *local = soup_server_message_get_local_address (request->msg);
  const char *name, *file;

  if (image == NULL || !check_members (request, image, known) ||
      (name = get_string_member (request, image, "name")) == NULL ||
      (file = get_string_member (request, image, "file")) == NULL)
    return;
  if (local != NULL && G_IS_INET_SOCKET_ADDRESS (local))
    {
      respond_fault (request, 403,
                     _("An image import names a file on the compute host, so "
                       "it is only taken over the Unix socket"));
      return;
    }
  if (!read_string_map (request, image, "properties", properties))
    return;
  nlx_manager_import_image_async (request->api->manager, file, name, properties,
                                  image_imported, request_keep (request));
}

/* /images[/{id|detail}]: the configured images, then the store's. */
static void
images_request (Request *request,
                const char *method,
                const char *id)
{
  const NlxConfig *config = request->api->config;
  NlxImageStore *store = nlx_manager_get_image_store (request->api->manager);
  g_autoptr(GError) error = NULL;

  if (id == NULL && g_str_equal (method, "POST"))
    import_image (request);
  else if (id != NULL && !g_str_equal (id, "detail") &&
           nlx_config_find_image (config, id) == NULL)
    {
      if (g_str_equal (method, "DELETE"))
        {
          nlx_manager_delete_image_async (request->api->manager, id, changed,
                                          change_new (request, id, 204,
                                                      FALSE));
        }
      else if (g_str_equal (method, "GET"))
        {
          g_autoptr(NlxStoredImage) image = nlx_image_store_lookup (store, id,
                                                                   &error);
          if (image == NULL)
            respond_error (request, error);
          else
            respond_stored_image (request, image);
        }
      else
        respond_fault (request, 405, _("An image takes GET or DELETE"));
    }
  else if (!g_str_equal (method, "GET"))
    respond_fault (request, 405,
                   id != NULL && !g_str_equal (id, "detail")
                     ? _("Images configured in nova-lxc.conf are removed "
                         "there, not through the API")
                     : _("Images take GET or POST"));
  else if (id != NULL && !g_str_equal (id, "detail"))
    catalog_request (request, "images", id);
  else
    {
      g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
      g_autoptr(JsonNode) body = NULL;
      g_autoptr(GPtrArray) stored = nlx_image_store_list (store, &error);
      gboolean detail = id != NULL;

      if (stored == NULL)
        {
          respond_error (request, error);
          return;
        }
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "images");
      json_builder_begin_array (builder);
      for (guint i = 0; i < config->images->len; i++)
        add_image (builder, request, config->images->pdata[i], detail);
      for (guint i = 0; i < stored->len; i++)
        add_stored_image (builder, request, stored->pdata[i], detail);
      json_builder_end_array (builder);
      json_builder_end_object (builder);
      body = json_builder_get_root (builder);
      respond (request, 200, body);
    }
}

/* ---- hypervisors ------------------------------------------------------ */

typedef enum {
  HYPERVISORS_LIST,
  HYPERVISORS_DETAIL,
  HYPERVISORS_STATISTICS,
} HypervisorsView;

typedef struct {
  Request *request;
  HypervisorsView view;
} HypervisorsCall;

static void
add_usage (JsonBuilder *builder,
           const NlxHostResources *res,
           guint running)
{
  add_int (builder, "vcpus", res->vcpus);
  add_int (builder, "vcpus_used", res->vcpus_used);
  add_int (builder, "memory_mb", res->memory_mb);
  add_int (builder, "memory_mb_used", res->memory_mb_used);
  add_int (builder, "local_gb", res->local_gb);
  add_int (builder, "local_gb_used", res->local_gb_used);
  add_int (builder, "free_ram_mb", (gint64) res->memory_mb - (gint64) res->memory_mb_used);
  add_int (builder, "free_disk_gb", (gint64) res->local_gb - (gint64) res->local_gb_used);
  /* As Nova's: every instance that holds a place here, whatever its
   * power state. */
  add_int (builder, "running_vms", running);
  add_int (builder, "current_workload", 0);
  add_int (builder, "disk_available_least",
           (gint64) res->local_gb - (gint64) res->local_gb_used);
}

static void
hypervisors_ready (GObject *source,
                   GAsyncResult *result,
                   gpointer data)
{
  HypervisorsCall *call = data;
  g_autoptr(Request) request = call->request;
  NlxManager *manager = request->api->manager;
  g_autoptr(GError) error = NULL;
  g_autoptr(NlxHostResources) res =
    nlx_manager_get_resources_finish (manager, result, &error);
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;
  NlxClaims claims;
  guint running;

  nlx_manager_get_claims (manager, &claims);
  running = claims.instances;
  if (res == NULL)
    {
      respond_error (request, error);
      soup_server_message_unpause (request->msg);
      g_free (call);
      return;
    }

  json_builder_begin_object (builder);
  if (call->view == HYPERVISORS_STATISTICS)
    {
      json_builder_set_member_name (builder, "hypervisor_statistics");
      json_builder_begin_object (builder);
      add_int (builder, "count", 1);
      add_usage (builder, res, running);
      json_builder_end_object (builder);
    }
  else
    {
      json_builder_set_member_name (builder, "hypervisors");
      json_builder_begin_array (builder);
      json_builder_begin_object (builder);
      add_int (builder, "id", 1);
      add_string (builder, "hypervisor_hostname", res->hypervisor_hostname);
      add_string (builder, "state", "up");
      add_string (builder, "status", "enabled");
      if (call->view == HYPERVISORS_DETAIL)
        {
          add_string (builder, "hypervisor_type", res->hypervisor_type);
          add_int (builder, "hypervisor_version", res->hypervisor_version);
          add_usage (builder, res, running);
          add_string (builder, "host_ip", "127.0.0.1");
          json_builder_set_member_name (builder, "service");
          json_builder_begin_object (builder);
          add_string (builder, "host", nlx_manager_get_host (manager));
          add_int (builder, "id", 1);
          json_builder_end_object (builder);
        }
      json_builder_end_object (builder);
      json_builder_end_array (builder);
    }
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  respond (request, 200, body);
  soup_server_message_unpause (request->msg);
  g_free (call);
}

static void
hypervisors_request (Request *request,
                     const char *which)
{
  HypervisorsCall *call;
  HypervisorsView view;

  if (which == NULL)
    view = HYPERVISORS_LIST;
  else if (g_str_equal (which, "detail"))
    view = HYPERVISORS_DETAIL;
  else if (g_str_equal (which, "statistics"))
    view = HYPERVISORS_STATISTICS;
  else
    {
      respond_fault (request, 404, _("The resource could not be found."));
      return;
    }
  call = g_new0 (HypervisorsCall, 1);
  call->view = view;
  call->request = request_keep (request);
  nlx_manager_get_resources_async (request->api->manager, hypervisors_ready,
                                   call);
}

/* ---- routing ---------------------------------------------------------- */

/* ---- volumes ------------------------------------------------------------ */

static void
add_volume (JsonBuilder *builder,
            Request *request,
            const NlxVolumeInfo *info)
{
  NlxVolumeAttachment attachment;
  const NlxRecord *user =
    nlx_manager_find_volume_user (request->api->manager, info->id, &attachment);
  const guint64 gib = 1024 * 1024 * 1024;

  json_builder_begin_object (builder);
  add_string (builder, "id", info->id);
  add_string (builder, "displayName", info->id);
  add_string (builder, "displayDescription", NULL);
  add_string (builder, "status", user ? "in-use" : "available");
  add_int (builder, "size", (info->size_bytes + gib - 1) / gib);
  add_int (builder, "size_bytes", info->size_bytes);
  add_string (builder, "filesystem", info->fstype);
  add_string (builder, "availabilityZone", "nova");
  add_time (builder, "createdAt", info->created_at);
  add_string (builder, "volumeType", info->is_block ? "block" : "file");
  add_string (builder, "snapshotId", NULL);
  json_builder_set_member_name (builder, "metadata");
  json_builder_begin_object (builder);
  json_builder_end_object (builder);
  json_builder_set_member_name (builder, "attachments");
  json_builder_begin_array (builder);
  if (user != NULL)
    {
      json_builder_begin_object (builder);
      add_string (builder, "id", info->id);
      add_string (builder, "volumeId", info->id);
      add_string (builder, "serverId", user->instance->uuid);
      add_string (builder, "device", attachment.device);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);
}

static void
respond_volume (Request *request,
                const NlxVolumeInfo *info)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "volume");
  add_volume (builder, request, info);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  respond (request, 200, body);
}

static void
volumes_listed (GObject *source,
                GAsyncResult *result,
                gpointer data)
{
  g_autoptr(Request) request = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) volumes =
    nlx_manager_list_volumes_finish (request->api->manager, result, &error);

  if (volumes == NULL)
    respond_error (request, error);
  else
    {
      g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
      g_autoptr(JsonNode) body = NULL;

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "volumes");
      json_builder_begin_array (builder);
      for (guint i = 0; i < volumes->len; i++)
        add_volume (builder, request, volumes->pdata[i]);
      json_builder_end_array (builder);
      json_builder_end_object (builder);
      body = json_builder_get_root (builder);
      respond (request, 200, body);
    }
  soup_server_message_unpause (request->msg);
}

static void
volume_created (GObject *source,
                GAsyncResult *result,
                gpointer data)
{
  g_autoptr(Request) request = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(NlxVolumeInfo) info =
    nlx_manager_create_volume_finish (request->api->manager, result, &error);

  if (info == NULL)
    respond_error (request, error);
  else
    respond_volume (request, info);
  soup_server_message_unpause (request->msg);
}

/* A size in GiB as Nova has it, or nova-lxc's size_mb; answers 400. */
static gboolean
read_size (Request *request,
           JsonObject *volume,
           guint64 *size_bytes)
{
  gboolean in_gib = json_object_has_member (volume, "size");
  JsonNode *node = json_object_get_member (volume, in_gib ? "size" : "size_mb");
  gint64 value = 0;

  if (node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
      json_node_get_value_type (node) == G_TYPE_INT64)
    value = json_node_get_int (node);
  if (value <= 0 || value > (in_gib ? 1024 : 1024 * 1024) ||
      (json_object_has_member (volume, "size") &&
       json_object_has_member (volume, "size_mb")))
    {
      respond_fault (request, 400,
                     _("A volume needs exactly one of “size” (whole GiB, 1 "
                       "to 1024) or “size_mb” (whole MiB, 1 to 1048576)"));
      return FALSE;
    }
  *size_bytes = (guint64) value * (in_gib ? 1024 * 1024 * 1024 : 1024 * 1024);
  return TRUE;
}

static void
create_volume (Request *request)
{
  static const char * const known[] = {
    "display_name", "display_description", "size", "size_mb", "filesystem",
    "from_dir", "volume_type", "availability_zone", "metadata", NULL
  };
  JsonObject *volume = read_body (request, "volume");
  GSocketAddress *local = soup_server_message_get_local_address (request->msg);
  const char *id, *fstype, *from_dir;
  guint64 size_bytes;

  if (volume == NULL || !check_members (request, volume, known) ||
      (id = get_string_member (request, volume, "display_name")) == NULL ||
      !read_size (request, volume, &size_bytes) ||
      !get_optional_string (request, volume, "filesystem", &fstype) ||
      !get_optional_string (request, volume, "from_dir", &from_dir))
    return;
  /* A host path is a local administrator's to name. */
  if (from_dir != NULL && local != NULL && G_IS_INET_SOCKET_ADDRESS (local))
    {
      respond_fault (request, 403,
                     _("“from_dir” names a path on the compute host, so it "
                       "is only taken over the Unix socket"));
      return;
    }
  nlx_manager_create_volume_async (request->api->manager, id, size_bytes,
                                   fstype, from_dir, volume_created,
                                   request_keep (request));
}

/* /os-volumes[/{id|detail}] */
static void
volumes_request (Request *request,
                 const char *method,
                 const char *id)
{
  g_autoptr(GError) error = NULL;

  if (id == NULL || g_str_equal (id, "detail"))
    {
      if (g_str_equal (method, "GET"))
        nlx_manager_list_volumes_async (request->api->manager, volumes_listed,
                                        request_keep (request));
      else if (id == NULL && g_str_equal (method, "POST"))
        create_volume (request);
      else
        respond_fault (request, 405, _("Volumes take GET or POST"));
    }
  else if (g_str_equal (method, "GET"))
    {
      g_autoptr(NlxVolumeInfo) info = nlx_manager_get_volume (request->api->manager,
                                                              id, &error);
      if (info == NULL)
        respond_error (request, error);
      else
        respond_volume (request, info);
    }
  else if (g_str_equal (method, "DELETE"))
    {
      if (nlx_manager_delete_volume (request->api->manager, id, &error))
        respond (request, 202, NULL);
      else
        respond_error (request, error);
    }
  else
    respond_fault (request, 405, _("A volume takes GET or DELETE"));
}

/* ---- key pairs ------------------------------------------------------------ */

/* A key pair as Nova 2.1 shows it: in a list, name, public_key and
 * fingerprint; alone (@full), with its owner and database fields. */
static void
add_keypair (JsonBuilder *builder,
             const NlxKeypair *keypair,
             gboolean full)
{
  json_builder_begin_object (builder);
  add_string (builder, "name", keypair->name);
  add_string (builder, "public_key", keypair->public_key);
  add_string (builder, "fingerprint", keypair->fingerprint);
  if (full)
    {
      add_string (builder, "user_id", keypair->user_id);
      add_int (builder, "id", keypair->id);
      add_time (builder, "created_at", keypair->created_at);
      add_string (builder, "updated_at", NULL);
      add_string (builder, "deleted_at", NULL);
      json_builder_set_member_name (builder, "deleted");
      json_builder_add_boolean_value (builder, FALSE);
    }
  json_builder_end_object (builder);
}

/* One key pair create, from the request to the answer, which waits for
 * ssh-keygen (when generating) and for the disk. */
typedef struct {
  Request *request;
  NlxManager *manager;
  char *user_id;
  char *name;
  char *private_key;            /* generated: handed out once, then wiped */
} KeypairCall;

static void
keypair_call_free (KeypairCall *call)
{
  soup_server_message_unpause (call->request->msg);
  request_free (call->request);
  g_free (call->user_id);
  g_free (call->name);
  if (call->private_key != NULL)
    explicit_bzero (call->private_key, strlen (call->private_key));
  g_free (call->private_key);
  g_free (call);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KeypairCall, keypair_call_free)

static void
keypair_added (GObject *source,
               GAsyncResult *result,
               gpointer data)
{
  g_autoptr(KeypairCall) call = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(NlxKeypair) keypair =
    nlx_manager_add_keypair_finish (call->manager, result, &error);
  g_autoptr(JsonBuilder) builder = NULL;
  g_autoptr(JsonNode) body = NULL;

  if (keypair == NULL)
    {
      respond_error (call->request, error);
      return;
    }
  /* Nova 2.1: 200, with user_id, and the private key when generated. */
  builder = json_builder_new_immutable ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "keypair");
  json_builder_begin_object (builder);
  add_string (builder, "name", keypair->name);
  add_string (builder, "public_key", keypair->public_key);
  add_string (builder, "fingerprint", keypair->fingerprint);
  add_string (builder, "user_id", keypair->user_id);
  if (call->private_key != NULL)
    add_string (builder, "private_key", call->private_key);
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  respond (call->request, 200, body);
}

static void
keypair_generated (GObject *source,
                   GAsyncResult *result,
                   gpointer data)
{
  g_autoptr(KeypairCall) call = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *public_key = nlx_keypair_generate_finish (result,
                                                             &call->private_key,
                                                             &error);
  NlxKeypair *keypair = NULL;
  NlxManager *manager;

  if (public_key != NULL)
    keypair = nlx_keypair_new (call->user_id, call->name, public_key, &error);
  if (keypair == NULL)
    {
      respond_error (call->request, error);
      return;
    }
  manager = call->manager;
  nlx_manager_add_keypair_async (manager, keypair, keypair_added,
                                 g_steal_pointer (&call));
}

static void
create_keypair (Request *request)
{
  static const char * const known[] = { "name", "public_key", NULL };
  JsonObject *object = read_body (request, "keypair");
  const char *user_id = identity (request, "X-User-Id");
  const char *name, *public_key;
  g_autoptr(GError) error = NULL;
  KeypairCall *call;

  if (object == NULL || !check_members (request, object, known) ||
      (name = get_string_member (request, object, "name")) == NULL ||
      !get_optional_string (request, object, "public_key", &public_key))
    return;
  if (!nlx_keypair_check_name (name, &error))
    {
      respond_error (request, error);
      return;
    }
  /* Before ssh-keygen runs for nothing. */
  if (nlx_manager_find_keypair (request->api->manager, user_id, name) != NULL)
    {
      g_autofree char *message =
        g_strdup_printf (_("Key pair '%s' already exists."), name);

      respond_fault (request, 409, message);
      return;
    }

  call = g_new0 (KeypairCall, 1);
  call->request = request_keep (request);
  call->manager = request->api->manager;
  call->user_id = g_strdup (user_id);
  call->name = g_strdup (name);
  if (public_key == NULL)
    {
      nlx_keypair_generate_async (NULL, keypair_generated, call);
      return;
    }
  {
    NlxKeypair *keypair = nlx_keypair_new (user_id, name, public_key, &error);

    if (keypair == NULL)
      {
        respond_error (call->request, error);
        keypair_call_free (call);
        return;
      }
    nlx_manager_add_keypair_async (call->manager, keypair, keypair_added,
                                   call);
  }
}

static void
keypair_deleted (GObject *source,
                 GAsyncResult *result,
                 gpointer data)
{
  g_autoptr(KeypairCall) call = data;
  g_autoptr(GError) error = NULL;

  if (!nlx_manager_delete_keypair_finish (call->manager, result, &error))
    respond_error (call->request, error);
  else
    respond (call->request, 202, NULL);
}

static void
keypairs_request (Request *request,
                  const char *method,
                  const char *name)
{
  const char *user_id = identity (request, "X-User-Id");
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;
  const NlxKeypair *keypair;

  if (name == NULL)
    {
      if (g_str_equal (method, "POST"))
        create_keypair (request);
      else if (g_str_equal (method, "GET"))
        {
          g_autoptr(GPtrArray) keypairs =
            nlx_manager_list_keypairs (request->api->manager, user_id);

          json_builder_begin_object (builder);
          json_builder_set_member_name (builder, "keypairs");
          json_builder_begin_array (builder);
          for (guint i = 0; i < keypairs->len; i++)
            {
              json_builder_begin_object (builder);
              json_builder_set_member_name (builder, "keypair");
              add_keypair (builder, keypairs->pdata[i], FALSE);
              json_builder_end_object (builder);
            }
          json_builder_end_array (builder);
          json_builder_end_object (builder);
          body = json_builder_get_root (builder);
          respond (request, 200, body);
        }
      else
        respond_fault (request, 405, _("Key pairs take GET or POST"));
      return;
    }

  if (g_str_equal (method, "DELETE"))
    {
      KeypairCall *call = g_new0 (KeypairCall, 1);

      call->request = request_keep (request);
      call->manager = request->api->manager;
      /* Nova 2.1 answers 202 once it is gone. */
      nlx_manager_delete_keypair_async (call->manager, user_id, name,
                                        keypair_deleted, call);
      return;
    }
  if (!g_str_equal (method, "GET"))
    {
      respond_fault (request, 405, _("A key pair takes GET or DELETE"));
      return;
    }
  keypair = nlx_manager_find_keypair (request->api->manager, user_id, name);
  if (keypair == NULL)
    {
      g_autofree char *message =
        g_strdup_printf (_("Keypair %s not found for user %s"), name, user_id);

      respond_fault (request, 404, message);
      return;
    }
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "keypair");
  add_keypair (builder, keypair, TRUE);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  respond (request, 200, body);
}

/* Over TCP the caller must hold the token; the Unix socket's permissions
 * already say who may connect. */
static gboolean
authorized (Request *request)
{
  GSocketAddress *local = soup_server_message_get_local_address (request->msg);
  SoupMessageHeaders *headers =
    soup_server_message_get_request_headers (request->msg);
  const char *token = soup_message_headers_get_one (headers, "X-Auth-Token");
  const char *expected = request->api->config->api_token;
  gsize length;
  guint8 diff;

  if (local == NULL || !G_IS_INET_SOCKET_ADDRESS (local))
    return TRUE;
  if (token == NULL || expected == NULL || strlen (token) != strlen (expected))
    return FALSE;
  /* In constant time, so the answer does not tell how much matched. */
  length = strlen (expected);
  diff = 0;
  for (gsize i = 0; i < length; i++)
    diff |= (guint8) token[i] ^ (guint8) expected[i];
  return diff == 0;
}

/* Only 2.1 is served; "latest" and the minimum mean it too. */
static gboolean
version_acceptable (Request *request)
{
  SoupMessageHeaders *headers =
    soup_server_message_get_request_headers (request->msg);
  const char *nova = soup_message_headers_get_one (headers,
                                                   "X-OpenStack-Nova-API-Version");
  const char *generic = soup_message_headers_get_one (headers,
                                                      "OpenStack-API-Version");
  g_autofree char *wanted = NULL;

  if (generic != NULL)
    {
      g_autofree char *lower = g_strstrip (g_ascii_strdown (generic, -1));

      if (!g_str_has_prefix (lower, "compute "))
        return TRUE;
      wanted = g_strstrip (g_strdup (lower + strlen ("compute ")));
    }
  else if (nova != NULL)
    wanted = g_strstrip (g_ascii_strdown (nova, -1));
  return wanted == NULL || g_str_equal (wanted, API_VERSION) ||
         g_str_equal (wanted, "latest");
}

/* Every body is read as JSON; one labelled as anything else is refused
 * with 415, as nova.api.openstack.wsgi does.  No label, an empty one or
 * text/plain (the default of some clients) count as JSON there too. */
static gboolean
content_type_acceptable (Request *request,
                         char **refused)
{
  static const char * const accepted[] = {
    "application/json", "application/vnd.openstack.compute+json",
    "text/plain", NULL
  };
  SoupMessageHeaders *headers =
    soup_server_message_get_request_headers (request->msg);
  const char *value = soup_message_headers_get_one (headers, "Content-Type");
  g_autofree char *type = NULL;

  if (value == NULL)
    return TRUE;
  type = g_strstrip (g_ascii_strdown (value, strcspn (value, ";")));
  if (*type == '\0' || g_strv_contains (accepted, type))
    return TRUE;
  *refused = g_steal_pointer (&type);
  return FALSE;
}

static void
route (Request *request,
       const char *method,
       char **parts,
       guint n)
{
  const char *collection;

  /* parts[0] is "v2.1" */
  if (n == 1)
    {
      if (g_str_equal (method, "GET"))
        get_versions (request, FALSE);
      else
        respond_fault (request, 405, _("The version document takes GET"));
      return;
    }
  collection = parts[1];

  if (g_str_equal (collection, "servers"))
    {
      if (n == 2 && g_str_equal (method, "GET"))
        list_servers (request, FALSE);
      else if (n == 2 && g_str_equal (method, "POST"))
        create_server (request);
      else if (n == 2)
        respond_fault (request, 405, _("Servers take GET or POST"));
      else if (n == 3 && g_str_equal (parts[2], "detail"))
        {
          if (g_str_equal (method, "GET"))
            list_servers (request, TRUE);
          else
            respond_fault (request, 405, _("The server list takes GET"));
        }
      else if (n <= 4)
        server_request (request, method, parts[2], n == 4 ? parts[3] : NULL);
      else if (n == 5 && g_str_equal (parts[3], "os-volume_attachments"))
        attachments_request (request, method, parts[2], parts[4]);
      else if (n == 5 && g_str_equal (parts[3], "ips"))
        ips_request (request, method, parts[2], parts[4]);
      else
        respond_fault (request, 404, _("The resource could not be found."));
      return;
    }

  if (g_str_equal (collection, "os-volumes") && n <= 3)
    {
      volumes_request (request, method, n == 3 ? parts[2] : NULL);
      return;
    }
  if (g_str_equal (collection, "images") && n <= 3)
    {
      images_request (request, method, n == 3 ? parts[2] : NULL);
      return;
    }
  if (g_str_equal (collection, "os-keypairs") && n <= 3)
    {
      keypairs_request (request, method, n == 3 ? parts[2] : NULL);
      return;
    }
  if (!g_str_equal (method, "GET"))
    {
      respond_fault (request, 405, _("This resource is read-only; use GET"));
      return;
    }
  if (g_str_equal (collection, "flavors") && n <= 3)
    catalog_request (request, collection, n == 3 ? parts[2] : NULL);
  else if (g_str_equal (collection, "os-hypervisors") && n <= 3)
    hypervisors_request (request, n == 3 ? parts[2] : NULL);
  else
    respond_fault (request, 404, _("The resource could not be found."));
}

static char *
base_url (SoupServerMessage *msg)
{
  GUri *uri = soup_server_message_get_uri (msg);
  const char *host = g_uri_get_host (uri);
  int port = g_uri_get_port (uri);

  if (host == NULL || *host == '\0')
    host = "localhost";
  if (port > 0 && port != 80)
    return g_strdup_printf ("http://%s:%d", host, port);
  return g_strdup_printf ("http://%s", host);
}

/* Before the body is read: a TCP caller without the token, or a body
 * declared larger than the limit, is answered from the headers alone, and
 * the body is dropped as it arrives (nlx-listener.c closes a connection
 * that goes on sending far beyond the limit). */
static void
check_headers (SoupServer *server,
               SoupServerMessage *msg,
               const char *path,
               GHashTable *query,
               gpointer data)
{
  g_autofree char *uuid = g_uuid_string_random ();
  g_autofree char *id = g_strconcat ("req-", uuid, NULL);
  g_autofree char *base = base_url (msg);
  Request request = { .api = data, .msg = msg, .id = id, .base = base };
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);

  if (!authorized (&request))
    respond_fault (&request, 401, _("Authentication required: send the "
                                    "configured token in X-Auth-Token"));
  else if (soup_message_headers_get_encoding (headers) ==
             SOUP_ENCODING_CONTENT_LENGTH &&
           soup_message_headers_get_content_length (headers) > NLX_API_MAX_BODY)
    respond_too_large (&request);
  else
    return;
  soup_message_body_set_accumulate (soup_server_message_get_request_body (msg),
                                    FALSE);
}

static void
handle (SoupServer *server,
        SoupServerMessage *msg,
        const char *path,
        GHashTable *query,
        gpointer data)
{
  g_autofree char *uuid = g_uuid_string_random ();
  g_auto(GStrv) parts = NULL;
  g_autoptr(GStrvBuilder) kept = g_strv_builder_new ();
  Request request = {
    .api = data,
    .msg = msg,
    .id = g_strconcat ("req-", uuid, NULL),
    .base = base_url (msg),
  };
  const char *method = soup_server_message_get_method (msg);
  g_autofree char *media_type = NULL;
  gboolean bad_segment = FALSE;
  guint n;

  /* libsoup has decoded @path and refused any decoding that makes a new
   * ".." segment, and GLib has resolved dot segments (RFC 3986 5.2.4);
   * what is left must not climb either.  Empty segments ("//", a
   * trailing "/") do not count. */
  parts = g_strsplit (path, "/", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    if (g_str_equal (parts[i], ".") || g_str_equal (parts[i], ".."))
      bad_segment = TRUE;
    else if (*parts[i] != '\0')
      g_strv_builder_add (kept, parts[i]);
  g_clear_pointer (&parts, g_strfreev);
  parts = g_strv_builder_end (kept);
  n = g_strv_length (parts);

  /* check_headers() has refused a caller without the token already. */
  if (!version_acceptable (&request))
    {
      g_autofree char *message =
        g_strdup_printf (_("Version not supported: this service serves "
                           "compute API %s only"), API_VERSION);

      respond_fault (&request, 406, message);
    }
  else if (!content_type_acceptable (&request, &media_type))
    {
      g_autofree char *message =
        g_strdup_printf (_("Unsupported Content-Type “%s”: send the body as "
                           "application/json"), media_type);

      respond_fault (&request, 415, message);
    }
  else if (bad_segment)
    respond_fault (&request, 400, _("A request path may not have “.” or “..” "
                                    "segments, encoded or not"));
  else if (n == 0)
    {
      if (g_str_equal (method, "GET"))
        get_versions (&request, TRUE);
      else
        respond_fault (&request, 405, _("The version list takes GET"));
    }
  else if (!g_str_equal (parts[0], "v2.1"))
    respond_fault (&request, 404, _("The resource could not be found; the "
                                    "API lives under /v2.1"));
  else
    route (&request, method, parts, n);

  g_free (request.id);
  g_free (request.base);
  g_clear_pointer (&request.body, json_node_unref);
}

/* ---- listening -------------------------------------------------------- */

/* Refuses to take over a socket another daemon still serves; a socket
 * file nobody answers on is left from a crash and is removed. */
static gboolean
clear_stale_socket (const char *path,
                    GError **error)
{
  g_autoptr(GSocketClient) client = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GSocketConnection) connection = NULL;
  GStatBuf st;

  if (g_lstat (path, &st) != 0)
    return TRUE;
  if (!S_ISSOCK (st.st_mode))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                   _("%s exists and is not a socket; remove it or set "
                     "[api] socket to another path"), path);
      return FALSE;
    }
  client = g_socket_client_new ();
  address = g_unix_socket_address_new (path);
  connection = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (address),
                                        NULL, NULL);
  if (connection != NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE,
                   _("Another process serves %s; stop it first, or set "
                     "[api] socket to another path"), path);
      return FALSE;
    }
  g_unlink (path);
  return TRUE;
}

static gboolean
listen_unix (NlxApi *api,
             GError **error)
{
  const char *path = api->config->api_socket;
  const char *group_name = api->config->api_socket_group;
  g_autofree char *dir = g_path_get_dirname (path);
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  gid_t gid = (gid_t) -1;
  mode_t old_umask;
  gboolean bound;

  if (group_name != NULL)
    {
      struct group *group = getgrnam (group_name);

      if (group == NULL)
        {
          g_set_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID,
                       _("Configuration key [api] socket_group names “%s”, "
                         "which is not a group on this host"), group_name);
          return FALSE;
        }
      gid = group->gr_gid;
    }
  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _("Cannot create the socket directory %s: %s"), dir,
                   g_strerror (saved_errno));
      return FALSE;
    }
  if (!clear_stale_socket (path, error))
    return FALSE;

  socket = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                         G_SOCKET_PROTOCOL_DEFAULT, error);
  if (socket == NULL)
    return FALSE;
  address = g_unix_socket_address_new (path);
  /* Born 0660, so there is no moment when anyone else may connect. */
  old_umask = umask (0117);
  bound = g_socket_bind (socket, address, FALSE, error);
  umask (old_umask);
  /* GLib's default backlog of 10 makes a burst of clients fail to
   * connect: a Unix socket refuses rather than queues. */
  g_socket_set_listen_backlog (socket, SOMAXCONN);
  if (!bound || !g_socket_listen (socket, error))
    {
      g_prefix_error (error, _("Cannot listen on %s: "), path);
      return FALSE;
    }
  api->socket_path = g_strdup (path);
  if (gid != (gid_t) -1 && chown (path, (uid_t) -1, gid) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _("Cannot give %s to group %s: %s"), path, group_name,
                   g_strerror (saved_errno));
      return FALSE;
    }
  return nlx_listener_add_socket (api->listener, socket, error);
}

static gboolean
listen_tcp (NlxApi *api,
            GError **error)
{
  const char *listen = api->config->api_listen;
  g_autoptr(GSocketConnectable) connectable = NULL;
  g_autoptr(GSocketAddressEnumerator) addresses = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GError) local_error = NULL;

  connectable = g_network_address_parse (listen, 0, &local_error);
  if (connectable == NULL ||
      (g_network_address_get_port (G_NETWORK_ADDRESS (connectable)) == 0 &&
       !g_str_has_suffix (listen, ":0")))
    {
      g_set_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID,
                   _("Configuration key [api] listen must be HOST:PORT, e.g. "
                     "127.0.0.1:8774, got “%s”"), listen);
      return FALSE;
    }
  addresses = g_socket_connectable_enumerate (connectable);
  address = g_socket_address_enumerator_next (addresses, NULL, error);
  if (address == NULL)
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID,
                     _("Configuration key [api] listen: cannot resolve “%s”"),
                     listen);
      return FALSE;
    }
  /* Our own socket rather than soup_server_listen()'s, for the backlog. */
  socket = g_socket_new (g_socket_address_get_family (address),
                         G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, error);
  if (socket == NULL)
    return FALSE;
  g_socket_set_listen_backlog (socket, SOMAXCONN);
  if (!g_socket_bind (socket, address, TRUE, error) ||
      !g_socket_listen (socket, error))
    {
      g_prefix_error (error, _("Cannot listen on %s: "), listen);
      return FALSE;
    }
  api->tcp_socket = g_object_ref (socket);
  return nlx_listener_add_socket (api->listener, socket, error);
}

/**
 * nlx_api_new:
 * @config: the host's configuration; must outlive the API
 * @manager: must outlive the API
 * @error: return location for an error naming what cannot be listened on
 *
 * Serves the API on `[api] socket` and, when set, `[api] listen`.
 *
 * Returns: (transfer full): the API, serving from the thread-default main
 *   context
 */
NlxApi *
nlx_api_new (const NlxConfig *config,
             NlxManager *manager,
             GError **error)
{
  g_autoptr(NlxApi) api = g_new0 (NlxApi, 1);
  NlxListenerLimits limits = {
    .max_connections = config->api_max_connections,
    .request_timeout_s = config->api_request_timeout_s,
    .max_body = NLX_API_MAX_BODY,
  };

  api->config = config;
  api->manager = manager;
  api->server = soup_server_new ("server-header", "nova-lxc-compute ", NULL);
  soup_server_add_early_handler (api->server, NULL, check_headers, api, NULL);
  soup_server_add_handler (api->server, NULL, handle, api, NULL);
  api->consoles = g_hash_table_new_full (NULL, NULL,
                                         (GDestroyNotify) bridge_unref, NULL);
  /* No origin check: the token is the credential, not a browser
   * session. */
  soup_server_add_early_handler (api->server, CONSOLE_PATH, check_console,
                                 api, NULL);
  soup_server_add_websocket_handler (api->server, CONSOLE_PATH, NULL, NULL,
                                     console_connected, api, NULL);
  api->listener = nlx_listener_new (api->server, &limits);
  if (!listen_unix (api, error) ||
      (config->api_listen != NULL && !listen_tcp (api, error)))
    return NULL;
  return g_steal_pointer (&api);
}

void
nlx_api_free (NlxApi *api)
{
  if (api == NULL)
    return;
  if (api->consoles != NULL)
    {
      GHashTableIter iter;
      ConsoleBridge *bridge;
      g_autoptr(GPtrArray) open = g_ptr_array_new ();

      g_hash_table_iter_init (&iter, api->consoles);
      while (g_hash_table_iter_next (&iter, (gpointer *) &bridge, NULL))
        g_ptr_array_add (open, bridge);
      for (guint i = 0; i < open->len; i++)
        bridge_close (open->pdata[i], SOUP_WEBSOCKET_CLOSE_GOING_AWAY,
                      "the compute service stops");
      g_clear_pointer (&api->consoles, g_hash_table_unref);
    }
  g_clear_pointer (&api->listener, nlx_listener_free);
  if (api->server != NULL)
    {
      soup_server_disconnect (api->server);
      g_object_unref (api->server);
    }
  g_clear_object (&api->tcp_socket);
  if (api->socket_path != NULL)
    g_unlink (api->socket_path);
  g_free (api->socket_path);
  g_free (api);
}

/* The TCP port served on, or 0; useful when [api] listen asks for port 0. */
guint
nlx_api_get_tcp_port (NlxApi *api)
{
  g_autoptr(GSocketAddress) address = NULL;

  if (api->tcp_socket == NULL)
    return 0;
  address = g_socket_get_local_address (api->tcp_socket, NULL);
  if (address == NULL || !G_IS_INET_SOCKET_ADDRESS (address))
    return 0;
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (address));
}

/* Connections the API holds now, on every socket. */
guint
nlx_api_count_connections (NlxApi *api)
{
  return nlx_listener_count_connections (api->listener);
}
