/* nlx-api-servers.c: /servers/{id}: the server view, showing, updating
 * and deleting one server, and the answer to a change once it is saved
 * (listing is nlx-api-server-list.c, creating nlx-api-server-create.c) */
#include "config.h"

#include <sys/socket.h>

#include <glib/gi18n-lib.h>

#include "api/nlx-api-keystone.h"
#include "api/nlx-api-private.h"

static void
add_server_brief (JsonBuilder *builder,
                  NlxApiRequest *request,
                  const NlxRecord *record)
{
  json_builder_begin_object (builder);
  nlx_api_add_string (builder, "id", record->instance->uuid);
  nlx_api_add_string (builder, "name", record->instance->name);
  nlx_api_add_links (builder, request, "servers", record->instance->uuid);
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

/* Nova 2.3+ says whether an attached volume goes with the server. */
static void
add_volume_attached (JsonBuilder *builder,
                     NlxApiRequest *request,
                     const char *volume_id)
{
  json_builder_begin_object (builder);
  nlx_api_add_string (builder, "id", volume_id);
  if (nlx_api_has (request, NLX_API_SERVER_EXTENDED_ATTRS))
    {
      json_builder_set_member_name (builder, "delete_on_termination");
      json_builder_add_boolean_value (builder, FALSE);
    }
  json_builder_end_object (builder);
}

/* Nova's form: a network's addresses, under the network's name (here
 * the bridge's).  @extended adds the address's type and MAC, as Nova's
 * server show and list detail do; /ips and the 2.1 update answer have
 * only version and addr. */
void
nlx_api_add_network (JsonBuilder *builder,
                     const NlxVif *vif,
                     gboolean extended)
{
  json_builder_set_member_name (builder, vif->bridge);
  json_builder_begin_array (builder);
  json_builder_begin_object (builder);
  nlx_api_add_int (builder, "version", 4);
  nlx_api_add_string (builder, "addr", vif->address);
  if (extended)
    {
      nlx_api_add_string (builder, "OS-EXT-IPS:type", "fixed");
      nlx_api_add_string (builder, "OS-EXT-IPS-MAC:mac_addr", vif->mac);
    }
  json_builder_end_object (builder);
  json_builder_end_array (builder);
}

void
nlx_api_add_addresses (JsonBuilder *builder,
                       const NlxInstance *instance,
                       gboolean extended)
{
  json_builder_set_member_name (builder, "addresses");
  json_builder_begin_object (builder);
  if (instance->vif != NULL)
    nlx_api_add_network (builder, instance->vif, extended);
  json_builder_end_object (builder);
}

static void
add_null (JsonBuilder *builder,
          const char *name)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_null_value (builder);
}

static void
add_nullable_string (JsonBuilder *builder,
                     const char *name,
                     const char *value)
{
  json_builder_set_member_name (builder, name);
  if (value != NULL)
    json_builder_add_string_value (builder, value);
  else
    json_builder_add_null_value (builder);
}

/* Nova 2.47+: the flavor the server was made with, itself; its extra
 * specs (nova_lxc:privileged among them) as Nova's default policy shows
 * them, to every reader of the server. */
static void
add_embedded_flavor (JsonBuilder *builder,
                     const NlxFlavor *flavor)
{
  json_builder_set_member_name (builder, "flavor");
  json_builder_begin_object (builder);
  nlx_api_add_string (builder, "original_name", flavor->name);
  nlx_api_add_int (builder, "vcpus", flavor->vcpus);
  nlx_api_add_int (builder, "ram", flavor->memory_mb);
  nlx_api_add_int (builder, "disk", flavor->root_gb);
  nlx_api_add_int (builder, "ephemeral", 0);
  nlx_api_add_int (builder, "swap", 0);
  json_builder_set_member_name (builder, "extra_specs");
  json_builder_begin_object (builder);
  nlx_api_add_flavor_extra_specs (builder, flavor);
  json_builder_end_object (builder);
  json_builder_end_object (builder);
}

/* The statuses Nova shows "progress" in (its views' _progress_statuses,
 * of which nova-lxc has these). */
static gboolean
shows_progress (const char *status)
{
  return g_str_equal (status, "ACTIVE") || g_str_equal (status, "BUILD") ||
         g_str_equal (status, "REBUILD");
}

/* Which of Nova's server views: show and list detail, or the answer to
 * an update or a rebuild before 2.75 (Nova's show without the
 * extensions' fields; a rebuild's has key_name from 2.54 and user_data
 * from 2.57), or a rebuild's from 2.75 (show's, with user_data for
 * OS-EXT-SRV-ATTR:user_data). */
typedef enum {
  VIEW_SHOW,
  VIEW_LIST,
  VIEW_UPDATE,
  VIEW_REBUILD,
} ServerView;

/* The server as Nova shows it at the request's microversion; what
 * changes when is in nlx-api-microversions.c. */
static void
add_server (JsonBuilder *builder,
            NlxApiRequest *request,
            const NlxRecord *record,
            ServerView view)
{
  const NlxInstance *instance = record->instance;
  /* One with no place here has no host, as Nova shows it (hostId ""). */
  const char *host = record->unplaced ? NULL
                                      : nlx_manager_get_host (request->api->manager);
  g_autofree char *domain = nlx_instance_domain_name (instance);
  g_autofree char *hostid = host ? host_id (record, host) : g_strdup ("");
  const char *status = nlx_record_status (record);
  gboolean full = view == VIEW_SHOW || view == VIEW_LIST ||
                  (view == VIEW_REBUILD &&
                   nlx_api_has (request, NLX_API_FULL_SERVER_ANSWERS));
  /* Nova's os-extended-server-attributes and host_status policies:
   * admins only. */
  gboolean admin = nlx_api_caller_is_admin (request);
  GHashTableIter iter;
  gpointer key, value;

  json_builder_begin_object (builder);
  nlx_api_add_string (builder, "id", instance->uuid);
  nlx_api_add_string (builder, "name", instance->name);
  nlx_api_add_string (builder, "status", status);
  nlx_api_add_time (builder, "created", instance->created_at);
  nlx_api_add_time (builder, "updated", record->updated_at);
  if (nlx_api_has (request, NLX_API_SERVER_FLAVOR_EMBEDDED))
    add_embedded_flavor (builder, &instance->flavor);
  else
    nlx_api_add_ref (builder, request, "flavor", "flavors",
                     instance->flavor.name);
  /* Booted from a volume without an image, Nova shows "". */
  if (instance->image_ref != NULL)
    nlx_api_add_ref (builder, request, "image", "images", instance->image_ref);
  else
    nlx_api_add_string (builder, "image", "");
  json_builder_set_member_name (builder, "metadata");
  json_builder_begin_object (builder);
  g_hash_table_iter_init (&iter, instance->metadata);
  while (g_hash_table_iter_next (&iter, &key, &value))
    nlx_api_add_string (builder, key, value);
  json_builder_end_object (builder);
  nlx_api_add_string (builder, "hostId", hostid);
  /* Nova shows both in every view of a server, "" when unset. */
  nlx_api_add_string (builder, "accessIPv4",
                      instance->access_ipv4 ? instance->access_ipv4 : "");
  nlx_api_add_string (builder, "accessIPv6",
                      instance->access_ipv6 ? instance->access_ipv6 : "");
  nlx_api_add_addresses (builder, instance, full);
  nlx_api_add_string (builder, "user_id", instance->user_id);
  nlx_api_add_string (builder, "tenant_id", instance->project_id);
  if (shows_progress (status))
    nlx_api_add_int (builder, "progress",
                     record->vm_state == NLX_VM_STATE_BUILDING ? 0 : 100);
  nlx_api_add_links (builder, request, "servers", instance->uuid);
  if (record->vm_state == NLX_VM_STATE_ERROR && record->fault != NULL)
    {
      json_builder_set_member_name (builder, "fault");
      json_builder_begin_object (builder);
      nlx_api_add_int (builder, "code", 500);
      nlx_api_add_string (builder, "message", record->fault);
      nlx_api_add_time (builder, "created", record->updated_at);
      json_builder_end_object (builder);
    }
  if (full || (view == VIEW_REBUILD &&
               nlx_api_has (request, NLX_API_REBUILD_KEY_NAME)))
    nlx_api_add_string (builder, "key_name", instance->key_name);
  if (view == VIEW_REBUILD && nlx_api_has (request, NLX_API_REBUILD_USER_DATA))
    add_nullable_string (builder, "user_data", instance->user_data);
  if (full)
    {
      /* Nova 2.1 shows it as a string: "True", or "" without one. */
      nlx_api_add_string (builder, "config_drive",
                          instance->config_drive ? "True" : "");
      nlx_api_add_string (builder, "OS-EXT-STS:vm_state",
                          nlx_vm_state_to_string (record->vm_state));
      nlx_api_add_string (builder, "OS-EXT-STS:task_state",
                          nlx_task_state_to_string (record->task_state));
      nlx_api_add_int (builder, "OS-EXT-STS:power_state", record->power_state);
      json_builder_set_member_name (builder,
                                    "os-extended-volumes:volumes_attached");
      json_builder_begin_array (builder);
      if (instance->root_volume != NULL)
        add_volume_attached (builder, request, instance->root_volume);
      for (guint i = 0; i < instance->volumes->len; i++)
        add_volume_attached (builder, request,
                             ((const NlxVolumeAttachment *)
                              instance->volumes->pdata[i])->volume_id);
      json_builder_end_array (builder);
      /* Nova's availability zone extension: the one zone. */
      nlx_api_add_string (builder, "OS-EXT-AZ:availability_zone",
                          NLX_API_AVAILABILITY_ZONE);
      /* Nova shows the groups of the server's ports: every port here is
       * in the one group, "default"; a server made with no network has
       * no port, and Nova then shows no security_groups at all. */
      if (!instance->no_network)
        {
          json_builder_set_member_name (builder, "security_groups");
          json_builder_begin_array (builder);
          json_builder_begin_object (builder);
          nlx_api_add_string (builder, "name", "default");
          json_builder_end_object (builder);
          json_builder_end_array (builder);
        }
    }
  if (full && admin)
    {
      nlx_api_add_string (builder, "OS-EXT-SRV-ATTR:instance_name", domain);
      nlx_api_add_string (builder, "OS-EXT-SRV-ATTR:host", host);
      nlx_api_add_string (builder, "OS-EXT-SRV-ATTR:hypervisor_hostname",
                          host);
    }
  /* 2.3's attributes, admins' only; 2.90 shows the host name to all. */
  if (full && nlx_api_has (request, NLX_API_SERVER_EXTENDED_ATTRS) &&
      (admin || nlx_api_has (request, NLX_API_HOSTNAME)))
    {
      g_autofree char *made = NULL;

      nlx_api_add_string (builder, "OS-EXT-SRV-ATTR:hostname",
                          nlx_instance_hostname (instance, &made));
    }
  if (full && admin && nlx_api_has (request, NLX_API_SERVER_EXTENDED_ATTRS))
    {
      /* nova-lxc keeps no reservation id with the server, boots no
       * kernel or ramdisk of the image's and has no root device node:
       * Nova's "none" for each. */
      add_null (builder, "OS-EXT-SRV-ATTR:reservation_id");
      nlx_api_add_int (builder, "OS-EXT-SRV-ATTR:launch_index", 0);
      add_null (builder, "OS-EXT-SRV-ATTR:kernel_id");
      add_null (builder, "OS-EXT-SRV-ATTR:ramdisk_id");
      add_null (builder, "OS-EXT-SRV-ATTR:root_device_name");
      if (view != VIEW_REBUILD)
        add_nullable_string (builder, "OS-EXT-SRV-ATTR:user_data",
                             instance->user_data);
    }
  if (full && admin && nlx_api_has (request, NLX_API_SERVER_HOST_STATUS))
    /* The server's host is this one, which is answering. */
    nlx_api_add_string (builder, "host_status", host ? "UP" : "");
  if (nlx_api_has (request, NLX_API_SERVER_LOCKED))
    {
      json_builder_set_member_name (builder, "locked");
      json_builder_add_boolean_value (builder, instance->locked_by != NULL);
    }
  if (nlx_api_has (request, NLX_API_LOCKED_REASON))
    add_nullable_string (builder, "locked_reason", instance->locked_reason);
  if (nlx_api_has (request, NLX_API_SERVER_DESCRIPTION))
    add_nullable_string (builder, "description", instance->description);
  if (nlx_api_has (request, NLX_API_SERVER_TAGS))
    {
      json_builder_set_member_name (builder, "tags");
      json_builder_begin_array (builder);
      for (guint i = 0; i < instance->tags->len; i++)
        json_builder_add_string_value (builder, instance->tags->pdata[i]);
      json_builder_end_array (builder);
    }
  /* nova-lxc verifies no image signatures and has no server groups. */
  if (nlx_api_has (request, NLX_API_TRUSTED_CERTS))
    add_null (builder, "trusted_image_certificates");
  if (view != VIEW_LIST && nlx_api_has (request, NLX_API_SERVER_GROUPS))
    {
      json_builder_set_member_name (builder, "server_groups");
      json_builder_begin_array (builder);
      json_builder_end_array (builder);
    }
  /* Nova's pin to the zone asked for at create; nova-lxc has one zone
   * and keeps no pin. */
  if (nlx_api_has (request, NLX_API_PINNED_AVAILABILITY_ZONE))
    add_null (builder, "pinned_availability_zone");
  json_builder_end_object (builder);
}

static void
respond_server (NlxApiRequest *request,
                guint status,
                const NlxRecord *record,
                ServerView view)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "server");
  add_server (builder, request, record, view);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  nlx_api_respond (request, status, body);
}

/* A server as a list shows it, as JSON text (the list keeps it, and
 * splices it into its answer): with @detail as show does (less what
 * Nova's list leaves out), else its id, name and links.  What it depends
 * on besides @record is the request's microversion, whether the caller
 * is an admin, and request->base: nlx-api-server-list.c keys what it
 * keeps by these, so a new dependency here goes into that key too. */
char *
nlx_api_listed_server_to_data (NlxApiRequest *request,
                               const NlxRecord *record,
                               gboolean detail,
                               gsize *length)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) node = NULL;
  char *data;

  if (detail)
    add_server (builder, request, record, VIEW_LIST);
  else
    add_server_brief (builder, request, record);
  node = json_builder_get_root (builder);
  data = json_to_string (node, FALSE);
  *length = strlen (data);
  return data;
}

/* A change the manager answers once it is saved; the manager is kept
 * here, not through the API, which may be gone by then (at a stop). */
struct _NlxApiChange {
  NlxApiRequest *request;
  NlxManager *manager;
  char *uuid;
  guint status;                 /* the answer when it worked */
  NlxApiAnswer answer;
};

NlxApiChange *
nlx_api_change_new (NlxApiRequest *request,
                    const char *uuid,
                    guint status,
                    NlxApiAnswer answer)
{
  NlxApiChange *change = g_new0 (NlxApiChange, 1);

  change->request = nlx_api_request_keep (request);
  change->manager = request->api->manager;
  change->uuid = g_strdup (uuid);
  change->status = status;
  change->answer = answer;
  return change;
}

static void
change_free (NlxApiChange *change)
{
  soup_server_message_unpause (change->request->msg);
  nlx_api_request_free (change->request);
  g_free (change->uuid);
  g_free (change);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NlxApiChange, change_free)

void
nlx_api_changed (GObject *source G_GNUC_UNUSED,
                 GAsyncResult *result,
                 gpointer data)
{
  g_autoptr(NlxApiChange) change = data;
  g_autoptr(GError) error = NULL;
  const NlxRecord *record = NULL;

  if (!nlx_manager_change_finish (change->manager, result, &error) ||
      (change->answer != NLX_API_ANSWER_EMPTY &&
       (record = nlx_manager_lookup (change->manager, change->uuid,
                                     &error)) == NULL))
    nlx_api_respond_error (change->request, error);
  else if (change->answer == NLX_API_ANSWER_REBUILT)
    respond_server (change->request, change->status, record, VIEW_REBUILD);
  else if (change->answer == NLX_API_ANSWER_UPDATED)
    /* Before 2.75 Nova answers an update with the server without its
     * extensions' fields; from 2.75, as a show. */
    respond_server (change->request, change->status, record,
                    nlx_api_has (change->request, NLX_API_FULL_SERVER_ANSWERS)
                    ? VIEW_SHOW : VIEW_UPDATE);
  else
    nlx_api_respond (change->request, change->status, NULL);
}

/* GET /servers/{uuid} */
void
nlx_api_show_server (NlxApiRequest *request,
                     const char *method G_GNUC_UNUSED,
                     const char * const *ids)
{
  g_autoptr(GError) error = NULL;
  const NlxRecord *record = nlx_manager_lookup (request->api->manager, ids[0],
                                                &error);

  if (record == NULL)
    nlx_api_respond_error (request, error);
  else
    respond_server (request, 200, record, VIEW_SHOW);
}

/* A "description" in @object, as Nova takes it from 2.19 (create,
 * update, rebuild): a string of at most 255 printable characters, "" or
 * null.  Sets *@given when there is one, to it (NULL for null); answers
 * 400 itself, to a "description" before 2.19 too, as Nova's schema
 * refuses an unknown member. */
gboolean
nlx_api_read_description (NlxApiRequest *request,
                          JsonObject *object,
                          gboolean *given,
                          const char **description)
{
  JsonNode *node = json_object_get_member (object, "description");

  *given = FALSE;
  *description = NULL;
  if (node == NULL)
    return TRUE;
  if (!nlx_api_has (request, NLX_API_SERVER_DESCRIPTION))
    {
      nlx_api_respond_fault (request, 400,
                             _("Additional properties are not allowed "
                               "(“description” was unexpected): it needs "
                               "microversion 2.19 or later"));
      return FALSE;
    }
  if (!JSON_NODE_HOLDS_NULL (node) &&
      (!JSON_NODE_HOLDS_VALUE (node) ||
       json_node_get_value_type (node) != G_TYPE_STRING ||
       !nlx_description_is_valid (json_node_get_string (node))))
    {
      g_autofree char *message =
        g_strdup_printf (_("Invalid input for field/attribute description: "
                           "give a string of at most %d printable "
                           "characters, or null"), NLX_DESCRIPTION_MAX);

      nlx_api_respond_fault (request, 400, message);
      return FALSE;
    }
  *given = TRUE;
  if (!JSON_NODE_HOLDS_NULL (node))
    *description = json_node_get_string (node);
  return TRUE;
}

/* Nova's accessIPv4 and accessIPv6 in @object (create, update,
 * rebuild): each one address of its family, as Nova's request schema
 * ("" too is refused there: an address, or leave the member out).  Sets
 * *@ipv4 and *@ipv6 to them, or NULL where absent; answers 400 itself. */
gboolean
nlx_api_read_access_ips (NlxApiRequest *request,
                         JsonObject *object,
                         const char **ipv4,
                         const char **ipv6)
{
  static const struct {
    const char *key;
    int family;
    const char *example;
  } fields[] = {
    { "accessIPv4", AF_INET, "192.0.2.10" },
    { "accessIPv6", AF_INET6, "2001:db8::10" },
  };
  const char **values[] = { ipv4, ipv6 };

  *ipv4 = NULL;
  *ipv6 = NULL;
  for (gsize i = 0; i < G_N_ELEMENTS (fields); i++)
    {
      JsonNode *node = json_object_get_member (object, fields[i].key);

      if (node == NULL)
        continue;
      if (!JSON_NODE_HOLDS_VALUE (node) ||
          json_node_get_value_type (node) != G_TYPE_STRING ||
          !nlx_access_ip_is_valid (json_node_get_string (node),
                                   fields[i].family))
        {
          g_autofree char *message =
            g_strdup_printf (_("Invalid input for field/attribute %s: give "
                               "one %s address, e.g. %s"), fields[i].key,
                             fields[i].family == AF_INET ? "IPv4" : "IPv6",
                             fields[i].example);

          nlx_api_respond_fault (request, 400, message);
          return FALSE;
        }
      *values[i] = json_node_get_string (node);
    }
  return TRUE;
}

/* Nova's check_instance_lock: a locked server refuses what changes it
 * to all but admins, with 409.  Answers itself. */
gboolean
nlx_api_check_unlocked (NlxApiRequest *request,
                        const NlxRecord *record)
{
  g_autofree char *message = NULL;

  if (record->instance->locked_by == NULL ||
      nlx_api_caller_is_admin (request))
    return TRUE;
  message = g_strdup_printf (_("Instance %s is locked: ask whoever locked "
                               "it to unlock it, or an admin"),
                             record->instance->uuid);
  nlx_api_respond_fault (request, 409, message);
  return FALSE;
}

/* PUT /servers/{uuid}: the name, (2.19+) the description and (2.90+)
 * the host name. */
void
nlx_api_update_server (NlxApiRequest *request,
                       const char *method G_GNUC_UNUSED,
                       const char * const *ids)
{
  static const char * const known[] = {
    "name", "description", "hostname", "accessIPv4", "accessIPv6", NULL
  };
  const char *uuid = ids[0];
  JsonObject *server = nlx_api_read_body (request, "server");
  const char *name = NULL, *description, *hostname = NULL;
  const char *access_ipv4 = NULL, *access_ipv6 = NULL;
  g_autofree char *hostname_kept = NULL;
  gboolean set_description;

  /* Nothing to change ({"server": {}}) is no error: Nova answers with
   * the server as it is. */
  if (server == NULL || !nlx_api_check_members (request, server, known) ||
      !nlx_api_read_description (request, server, &set_description,
                                 &description) ||
      !nlx_api_read_access_ips (request, server, &access_ipv4,
                                &access_ipv6) ||
      (json_object_has_member (server, "name") &&
       (name = nlx_api_get_string_member (request, server, "name")) == NULL))
    return;
  if (json_object_has_member (server, "hostname"))
    {
      if (!nlx_api_has (request, NLX_API_HOSTNAME))
        {
          nlx_api_respond_fault (request, 400,
                                 _("Additional properties are not allowed "
                                   "(“hostname” was unexpected): it needs "
                                   "microversion 2.90 or later"));
          return;
        }
      if ((hostname = nlx_api_get_string_member (request, server,
                                                 "hostname")) == NULL ||
          !nlx_api_check_hostname (request, hostname, &hostname_kept))
        return;
    }
  nlx_manager_update_async (request->api->manager, uuid, name,
                            set_description, description, hostname_kept,
                            access_ipv4, access_ipv6, nlx_api_changed,
                            nlx_api_change_new (request, uuid, 200,
                                                NLX_API_ANSWER_UPDATED));
}

/* DELETE /servers/{uuid} */
void
nlx_api_delete_server (NlxApiRequest *request,
                       const char *method G_GNUC_UNUSED,
                       const char * const *ids)
{
  g_autoptr(GError) error = NULL;
  const NlxRecord *record = nlx_manager_lookup (request->api->manager, ids[0],
                                                &error);

  if (record == NULL)
    {
      nlx_api_respond_error (request, error);
      return;
    }
  if (!nlx_api_check_unlocked (request, record))
    return;
  nlx_manager_act_async (request->api->manager, ids[0], NLX_ACTION_DELETE,
                         nlx_api_changed, nlx_api_change_new (request, ids[0],
                                                              204, NLX_API_ANSWER_EMPTY));
}

/* GET /servers/{uuid}/os-server-password: the password a guest posts
 * to the metadata service, encrypted with its key pair, as Nova keeps
 * it.  nova-lxc's metadata service takes none (a container's root is
 * reached with its key pair or the console), so it is always "", as
 * Nova's for a server that posted none. */
void
nlx_api_show_server_password (NlxApiRequest *request,
                              const char *method G_GNUC_UNUSED,
                              const char * const *ids)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonBuilder) builder = NULL;
  g_autoptr(JsonNode) body = NULL;

  if (nlx_manager_lookup (request->api->manager, ids[0], &error) == NULL)
    {
      nlx_api_respond_error (request, error);
      return;
    }
  builder = json_builder_new_immutable ();
  json_builder_begin_object (builder);
  nlx_api_add_string (builder, "password", "");
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  nlx_api_respond (request, 200, body);
}

/* DELETE /servers/{uuid}/os-server-password: there is none to clear. */
void
nlx_api_clear_server_password (NlxApiRequest *request,
                               const char *method G_GNUC_UNUSED,
                               const char * const *ids)
{
  g_autoptr(GError) error = NULL;

  if (nlx_manager_lookup (request->api->manager, ids[0], &error) == NULL)
    nlx_api_respond_error (request, error);
  else
    nlx_api_respond (request, 204, NULL);
}
