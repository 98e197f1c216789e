/* nlx-api-servers.c: /servers: the server view, listing, showing,
 * updating and deleting one server, and the answer to a change once it
 * is saved (creating is nlx-api-server-create.c) */
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

/* ---- servers ---------------------------------------------------------- */

/* What a server list asks for: Nova's paging and the filters nova-lxc
 * can apply (Nova's others are ignored; unknown parameters too before
 * 2.75, as Nova ignores them, and 400 from 2.75). */
/* Nova's default [api] max_limit. */
#define LIST_MAX_LIMIT 1000

typedef struct {
  gint64 limit;
  char *marker;
  GRegex *name;
  GPtrArray *statuses;          /* char *, any of them */
  char *image;
  char *flavor;
  GDateTime *changes_since;
  GDateTime *changes_before;
  GStrv tags;                   /* has all of these */
  GStrv tags_any;               /* has one of these at least */
  GStrv not_tags;               /* has not all of these */
  GStrv not_tags_any;           /* has none of these */
  int locked;                   /* 2.73: 1 locked, 0 not, -1 either */
  const char *sort_key;         /* the first sort_key; NULL: created_at */
  gboolean ascending;           /* the first sort_dir: "asc" */
  gboolean sort_dir_set;
} ListQuery;

static void
list_query_clear (ListQuery *query)
{
  g_free (query->marker);
  g_clear_pointer (&query->name, g_regex_unref);
  g_clear_pointer (&query->statuses, g_ptr_array_unref);
  g_free (query->image);
  g_free (query->flavor);
  g_clear_pointer (&query->changes_since, g_date_time_unref);
  g_clear_pointer (&query->changes_before, g_date_time_unref);
  g_strfreev (query->tags);
  g_strfreev (query->tags_any);
  g_strfreev (query->not_tags);
  g_strfreev (query->not_tags_any);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (ListQuery, list_query_clear)

/* The sort keys nova-lxc sorts by (Nova's others are 400 here): the
 * static name of @key, or NULL. */
static const char *
list_sort_key (const char *key)
{
  static const char * const keys[] = {
    "created_at", "updated_at", "display_name", "uuid", "hostname",
    "user_id", "project_id", NULL
  };

  for (gsize i = 0; keys[i] != NULL; i++)
    if (g_str_equal (key, keys[i]))
      return keys[i];
  return NULL;
}

/* Orders two records by @query's sort key and direction; the uuid
 * breaks ties, so that a marker pages stably. */
static int
compare_records (gconstpointer a,
                 gconstpointer b,
                 gpointer data)
{
  const ListQuery *query = data;
  const NlxRecord *x = *(const NlxRecord * const *) a;
  const NlxRecord *y = *(const NlxRecord * const *) b;
  const char *key = query->sort_key != NULL ? query->sort_key : "created_at";
  g_autofree char *made_x = NULL;
  g_autofree char *made_y = NULL;
  int order;

  if (g_str_equal (key, "created_at"))
    order = g_date_time_compare (x->instance->created_at,
                                 y->instance->created_at);
  else if (g_str_equal (key, "updated_at"))
    order = g_date_time_compare (x->updated_at, y->updated_at);
  else if (g_str_equal (key, "display_name"))
    order = g_strcmp0 (x->instance->name, y->instance->name);
  else if (g_str_equal (key, "hostname"))
    order = g_strcmp0 (nlx_instance_hostname (x->instance, &made_x),
                             nlx_instance_hostname (y->instance, &made_y));
  else if (g_str_equal (key, "user_id"))
    order = g_strcmp0 (x->instance->user_id, y->instance->user_id);
  else if (g_str_equal (key, "project_id"))
    order = g_strcmp0 (x->instance->project_id, y->instance->project_id);
  else
    order = 0;
  if (order == 0)
    order = g_strcmp0 (x->instance->uuid, y->instance->uuid);
  return query->ascending ? order : -order;
}

/* The query parameters Nova's server list knows at every version (its
 * index_query schema); from 2.75 any other is 400. */
static const char * const list_parameters[] = {
  "user_id", "project_id", "tenant_id", "launch_index", "image_ref", "image",
  "kernel_id", "ramdisk_id", "hostname", "key_name", "power_state",
  "vm_state", "task_state", "host", "node", "flavor", "reservation_id",
  "launched_at", "terminated_at", "availability_zone", "name",
  "display_name", "description", "display_description", "locked_by", "uuid",
  "root_device_name", "config_drive", "access_ip_v4", "access_ip_v6",
  "auto_disk_config", "progress", "sort_key", "sort_dir", "all_tenants",
  "soft_deleted", "deleted", "status", "changes-since", "ip", "ip6",
  "created_at", "limit", "marker", NULL
};

/* Nova refuses these at every version: filters on joined tables, and
 * "_" names. */
static const char * const list_refused[] = {
  "block_device_mapping", "services", "metadata", "system_metadata",
  "info_cache", "security_groups", "pci_devices", NULL
};

/* The statuses Nova's status filter knows (common._STATE_MAP's). */
static const char * const list_statuses[] = {
  "ACTIVE", "BUILD", "DELETED", "ERROR", "HARD_REBOOT", "MIGRATING",
  "PASSWORD", "PAUSED", "REBOOT", "REBUILD", "RESCUE", "RESIZE",
  "REVERT_RESIZE", "SHELVED", "SHELVED_OFFLOADED", "SHUTOFF",
  "SOFT_DELETED", "SUSPENDED", "UNKNOWN", "VERIFY_RESIZE", NULL
};

static gboolean
list_parameter_is_known (NlxApiRequest *request,
                         const char *key)
{
  if (g_strv_contains (list_parameters, key))
    return TRUE;
  if (nlx_api_has (request, NLX_API_SERVER_TAGS) &&
      (g_str_equal (key, "tags") || g_str_equal (key, "tags-any") ||
       g_str_equal (key, "not-tags") || g_str_equal (key, "not-tags-any")))
    return TRUE;
  if (nlx_api_has (request, NLX_API_CHANGES_BEFORE) &&
      g_str_equal (key, "changes-before"))
    return TRUE;
  /* 2.73's "locked" filter came with locked_reason. */
  return nlx_api_has (request, NLX_API_LOCKED_REASON) &&
         g_str_equal (key, "locked");
}

/* An ISO 8601 time of @key's, or 400. */
static gboolean
read_list_time (NlxApiRequest *request,
                const char *key,
                const char *value,
                GDateTime **time)
{
  g_autoptr(GTimeZone) utc = g_time_zone_new_utc ();

  g_clear_pointer (time, g_date_time_unref);
  *time = g_date_time_new_from_iso8601 (value, utc);
  if (*time == NULL)
    {
      g_autofree char *message =
        g_strdup_printf (_("Invalid input for query parameters %s: give a "
                           "time as ISO 8601, e.g. 2026-01-31T12:00:00Z"),
                         key);

      nlx_api_respond_fault (request, 400, message);
      return FALSE;
    }
  return TRUE;
}

/* The id at the end of an id or a link to one, as Nova takes both. */
static char *
last_segment (const char *value)
{
  const char *slash = strrchr (value, '/');

  return g_strdup (slash ? slash + 1 : value);
}

/* Answers 400 itself, with Nova's messages. */
static gboolean
read_list_query (NlxApiRequest *request,
                 ListQuery *query)
{
  GUri *uri = soup_server_message_get_uri (request->msg);
  const char *text = g_uri_get_query (uri);
  GUriParamsIter iter;
  g_autoptr(GError) error = NULL;
  char *key, *value;

  query->limit = LIST_MAX_LIMIT;
  query->locked = -1;
  query->statuses = g_ptr_array_new_with_free_func (g_free);
  if (text == NULL)
    return TRUE;
  g_uri_params_iter_init (&iter, text, -1, "&", G_URI_PARAMS_NONE);
  while (g_uri_params_iter_next (&iter, &key, &value, &error))
    {
      g_autofree char *k = key;
      g_autofree char *v = value;
      GStrv *tags_filter = NULL;

      if (g_strv_contains (list_refused, k) || k[0] == '_')
        {
          g_autofree char *shown = g_utf8_make_valid (k, MIN (strlen (k), 80));
          g_autofree char *message =
            g_strdup_printf (_("Invalid filter field: %s."), shown);

          nlx_api_respond_fault (request, 400, message);
          return FALSE;
        }
      if (!list_parameter_is_known (request, k))
        {
          g_autofree char *shown = g_utf8_make_valid (k, MIN (strlen (k), 80));
          g_autofree char *message =
            g_strdup_printf (_("Additional properties are not allowed (“%s” "
                               "was unexpected): see the server list's "
                               "query parameters in Nova's API reference"),
                             shown);

          /* Before 2.75 Nova ignores what it does not know. */
          if (!nlx_api_has (request, NLX_API_STRICT_LIST_QUERY))
            continue;
          nlx_api_respond_fault (request, 400, message);
          return FALSE;
        }
      if (g_str_equal (k, "limit"))
        {
          g_autoptr(JsonNode) node = json_node_new (JSON_NODE_VALUE);

          json_node_set_string (node, v);
          if (!nlx_api_read_whole_number (node, 0, G_MAXINT32, &query->limit))
            {
              nlx_api_respond_fault (request, 400,
                                     _("limit param must be an integer "
                                       "of 0 or more"));
              return FALSE;
            }
        }
      else if (g_str_equal (k, "marker"))
        {
          g_free (query->marker);
          query->marker = g_steal_pointer (&v);
        }
      else if (g_str_equal (k, "sort_key") && query->sort_key == NULL)
        {
          if ((query->sort_key = list_sort_key (v)) == NULL)
            {
              g_autofree char *message =
                g_strdup_printf (_("sort_key “%s” is not one nova-lxc sorts "
                                   "by; use created_at, updated_at, "
                                   "display_name, uuid, hostname, "
                                   "user_id or project_id"), v);

              nlx_api_respond_fault (request, 400, message);
              return FALSE;
            }
        }
      else if (g_str_equal (k, "sort_dir") && !query->sort_dir_set)
        {
          if (!g_str_equal (v, "asc") && !g_str_equal (v, "desc"))
            {
              nlx_api_respond_fault (request, 400,
                                     _("sort_dir must be “asc” or “desc”"));
              return FALSE;
            }
          query->ascending = g_str_equal (v, "asc");
          query->sort_dir_set = TRUE;
        }
      else if (g_str_equal (k, "name"))
        {
          g_clear_pointer (&query->name, g_regex_unref);
          /* Nova's: a regular expression found anywhere in the name. */
          query->name = g_regex_new (v, G_REGEX_OPTIMIZE, 0, NULL);
          if (query->name == NULL)
            {
              nlx_api_respond_fault (request, 400,
                                     _("Invalid filter field: name: it is not "
                                       "a regular expression"));
              return FALSE;
            }
        }
      else if (g_str_equal (k, "status"))
        {
          g_autofree char *upper = g_ascii_strup (v, -1);

          /* 2.38: a status Nova does not know is 400 (before, it
           * matches no server). */
          if (!g_strv_contains (list_statuses, upper) &&
              nlx_api_has (request, NLX_API_STRICT_STATUS_FILTER))
            {
              nlx_api_respond_fault (request, 400, _("Invalid status value"));
              return FALSE;
            }
          g_ptr_array_add (query->statuses, g_steal_pointer (&v));
        }
      else if (g_str_equal (k, "image"))
        {
          g_free (query->image);
          query->image = last_segment (v);
        }
      else if (g_str_equal (k, "flavor"))
        {
          g_free (query->flavor);
          query->flavor = last_segment (v);
        }
      else if (g_str_equal (k, "changes-since"))
        {
          if (!read_list_time (request, k, v, &query->changes_since))
            return FALSE;
        }
      else if (g_str_equal (k, "changes-before"))
        {
          if (!read_list_time (request, k, v, &query->changes_before))
            return FALSE;
        }
      else if (g_str_equal (k, "locked"))
        {
          /* Nova's strict boolean strings. */
          static const char * const yes[] = { "1", "t", "true", "on", "y",
                                              "yes", NULL };
          static const char * const no[] = { "0", "f", "false", "off", "n",
                                             "no", NULL };
          g_autofree char *lower = g_ascii_strdown (v, -1);

          if (g_strv_contains (yes, lower))
            query->locked = 1;
          else if (g_strv_contains (no, lower))
            query->locked = 0;
          else
            {
              nlx_api_respond_fault (request, 400,
                                     _("Invalid filter field: locked: give "
                                       "true or false"));
              return FALSE;
            }
        }
      else if (g_str_equal (k, "tags"))
        tags_filter = &query->tags;
      else if (g_str_equal (k, "tags-any"))
        tags_filter = &query->tags_any;
      else if (g_str_equal (k, "not-tags"))
        tags_filter = &query->not_tags;
      else if (g_str_equal (k, "not-tags-any"))
        tags_filter = &query->not_tags_any;
      if (tags_filter != NULL)
        {
          g_strfreev (*tags_filter);
          *tags_filter = g_strsplit (v, ",", -1);
        }
    }
  if (error != NULL)
    {
      nlx_api_respond_fault (request, 400, _("The query string is malformed"));
      return FALSE;
    }
  if (query->changes_since != NULL && query->changes_before != NULL &&
      g_date_time_compare (query->changes_before, query->changes_since) < 0)
    {
      nlx_api_respond_fault (request, 400,
                             _("The value of changes-since must be less than "
                               "or equal to changes-before."));
      return FALSE;
    }
  /* Nova's [api] max_limit: a longer list comes in pages. */
  query->limit = MIN (query->limit, LIST_MAX_LIMIT);
  return TRUE;
}

/* How many of @tags @instance has. */
static guint
count_tags (const NlxInstance *instance,
            const GStrv tags)
{
  guint n = 0;

  for (guint i = 0; tags[i] != NULL; i++)
    if (nlx_instance_has_tag (instance, tags[i]))
      n++;
  return n;
}

static gboolean
list_query_matches (const ListQuery *query,
                    const NlxRecord *record)
{
  const NlxInstance *instance = record->instance;

  if (query->name != NULL &&
      !g_regex_match (query->name, instance->name, 0, NULL))
    return FALSE;
  if (query->statuses->len > 0)
    {
      gboolean any = FALSE;

      for (guint i = 0; i < query->statuses->len && !any; i++)
        any = g_ascii_strcasecmp (query->statuses->pdata[i],
                                  nlx_record_status (record)) == 0;
      if (!any)
        return FALSE;
    }
  if (query->image != NULL &&
      g_strcmp0 (query->image, instance->image_ref) != 0)
    return FALSE;
  if (query->flavor != NULL &&
      g_strcmp0 (query->flavor, instance->flavor.name) != 0)
    return FALSE;
  if (query->changes_since != NULL &&
      g_date_time_compare (record->updated_at, query->changes_since) < 0)
    return FALSE;
  if (query->changes_before != NULL &&
      g_date_time_compare (record->updated_at, query->changes_before) > 0)
    return FALSE;
  if (query->locked >= 0 &&
      (instance->locked_by != NULL) != (query->locked == 1))
    return FALSE;
  /* Nova's tag filters, each a list separated by commas. */
  if (query->tags != NULL &&
      count_tags (instance, query->tags) != g_strv_length (query->tags))
    return FALSE;
  if (query->tags_any != NULL && count_tags (instance, query->tags_any) == 0)
    return FALSE;
  if (query->not_tags != NULL &&
      count_tags (instance, query->not_tags) == g_strv_length (query->not_tags))
    return FALSE;
  if (query->not_tags_any != NULL &&
      count_tags (instance, query->not_tags_any) > 0)
    return FALSE;
  return TRUE;
}

/* Newest first, as Nova's default sort (created_at desc), or by the
 * first sort_key and sort_dir. */
static void
list_servers (NlxApiRequest *request,
              gboolean detail)
{
  g_autoptr(GPtrArray) records = nlx_manager_list (request->api->manager);
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;
  g_auto(ListQuery) query = { 0 };
  guint start = 0, shown = 0;
  const char *last = NULL;
  gboolean more = FALSE;

  const char *project_id;

  /* Keystone mode: the caller's project only, unless an admin asks for
   * all_tenants (nlx-api-keystone.c); paging and filters apply to what
   * the caller may see. */
  if (!nlx_api_list_scope (request, &project_id) ||
      !read_list_query (request, &query))
    return;
  for (guint i = records->len; project_id != NULL && i-- > 0;)
    if (g_strcmp0 (((const NlxRecord *) records->pdata[i])->instance->project_id,
                   project_id) != 0)
      g_ptr_array_remove_index (records, i);
  g_ptr_array_sort_with_data (records, compare_records, &query);
  if (query.marker != NULL)
    {
      /* Nova's marker is a server the caller can see; the page starts
       * after it. */
      while (start < records->len &&
             g_ascii_strcasecmp (((const NlxRecord *)
                                  records->pdata[start])->instance->uuid,
                                 query.marker) != 0)
        start++;
      if (start == records->len)
        {
          g_autofree char *shown_marker =
            g_utf8_make_valid (query.marker, MIN (strlen (query.marker), 80));
          g_autofree char *message =
            g_strdup_printf (_("marker [%s] not found"), shown_marker);

          nlx_api_respond_fault (request, 400, message);
          return;
        }
      start++;
    }
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "servers");
  json_builder_begin_array (builder);
  for (guint i = start; i < records->len; i++)
    {
      const NlxRecord *record = records->pdata[i];

      if (!list_query_matches (&query, record))
        continue;
      if (shown == query.limit)
        {
          more = TRUE;
          break;
        }
      if (detail)
        add_server (builder, request, record, VIEW_LIST);
      else
        add_server_brief (builder, request, record);
      last = record->instance->uuid;
      shown++;
    }
  json_builder_end_array (builder);
  if (more && last != NULL)
    nlx_api_add_next_link (builder, request, "servers_links", last);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  nlx_api_respond (request, 200, body);
}

/* GET /servers */
void
nlx_api_list_servers (NlxApiRequest *request,
                      const char *method G_GNUC_UNUSED,
                      const char * const *ids G_GNUC_UNUSED)
{
  list_servers (request, FALSE);
}

/* GET /servers/detail */
void
nlx_api_list_servers_detail (NlxApiRequest *request,
                             const char *method G_GNUC_UNUSED,
                             const char * const *ids G_GNUC_UNUSED)
{
  list_servers (request, TRUE);
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
