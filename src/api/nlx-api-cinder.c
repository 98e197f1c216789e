/* nlx-api-cinder.c: a Cinder v3 read API over nova-lxc's volumes (the
 * same ones /v2.1/os-volumes lists, nlx-api-volumes.c): version
 * discovery, the volume list (summary and detail) and a volume, in
 * Cinder's shapes at 3.0.
 *
 * Why: openstackclient's `server add volume` and `server remove volume`
 * look the volume up in the block-storage service before they ask Nova
 * (GET /v3/{project_id}/volumes/{id}, then the list by name); without
 * one in the catalog they fail before any compute request.  It lives
 * under /volume (as devstack serves Cinder), not at the root, which is
 * Nova's version list.  Writing (create, delete, attach) stays with the
 * Compute API: a Cinder client that tries gets 405.  A volume's id and
 * name are both nova-lxc's volume name.  docs/api.md has the differences
 * from Cinder. */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "api/nlx-api-keystone.h"
#include "api/nlx-api-private.h"

/* Cinder's osapi_max_limit: the most a page holds. */
#define CINDER_MAX_LIMIT 1000

/* ---- policy ------------------------------------------------------------- */

/* The project in the path must be the caller's own, as Cinder's policy
 * has it (a project-scoped token acts in its project); answers 403.
 * Without a Keystone identity (the static token, the Unix socket) any
 * project is the caller's. */
static gboolean
check_project (NlxApiRequest *request,
               const char *project_id)
{
  const NlxApiIdentity *caller = nlx_api_get_caller (request);
  g_autofree char *message = NULL;

  if (caller == NULL || g_strcmp0 (caller->project_id, project_id) == 0)
    return TRUE;
  message = g_strdup_printf (_("The project in the path (%s) is not the "
                               "project of your token: use the "
                               "block-storage endpoint of your catalog"),
                             project_id);
  nlx_api_respond_fault (request, 403, message);
  return FALSE;
}

/* ---- a volume ------------------------------------------------------------ */

static void
add_link (JsonBuilder *builder,
          const char *rel,
          const char *href)
{
  json_builder_begin_object (builder);
  nlx_api_add_string (builder, "href", href);
  nlx_api_add_string (builder, "rel", rel);
  json_builder_end_object (builder);
}

static void
add_volume_links (JsonBuilder *builder,
                  NlxApiRequest *request,
                  const char *project_id,
                  const char *id)
{
  g_autofree char *self =
    g_strdup_printf ("%s/volume/v3/%s/volumes/%s", request->base, project_id,
                     id);
  g_autofree char *bookmark =
    g_strdup_printf ("%s/volume/%s/volumes/%s", request->base, project_id, id);

  json_builder_set_member_name (builder, "links");
  json_builder_begin_array (builder);
  add_link (builder, "self", self);
  add_link (builder, "bookmark", bookmark);
  json_builder_end_array (builder);
}

static void
add_null (JsonBuilder *builder,
          const char *name)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_null_value (builder);
}

static void
add_boolean (JsonBuilder *builder,
             const char *name,
             gboolean value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_boolean_value (builder, value);
}

/* Cinder's volume at 3.0: the summary (id, name, links) or the detail. */
static void
add_volume (JsonBuilder *builder,
            NlxApiRequest *request,
            const char *project_id,
            const NlxVolumeInfo *info,
            gboolean detail)
{
  NlxVolumeAttachment attachment;
  const char *status;
  const NlxRecord *user = NULL;

  json_builder_begin_object (builder);
  nlx_api_add_string (builder, "id", info->id);
  nlx_api_add_string (builder, "name", info->id);
  add_volume_links (builder, request, project_id, info->id);
  if (!detail)
    {
      json_builder_end_object (builder);
      return;
    }
  user = nlx_api_volume_user (request, info, &attachment, &status);
  nlx_api_add_string (builder, "status", status);
  nlx_api_add_int (builder, "size", nlx_api_volume_size_gib (info));
  nlx_api_add_string (builder, "availability_zone", NLX_API_AVAILABILITY_ZONE);
  nlx_api_add_time (builder, "created_at", info->created_at);
  /* Nothing changes a volume after it is made but its attachment, which
   * has no time of its own here. */
  nlx_api_add_time (builder, "updated_at", info->created_at);
  add_null (builder, "description");
  /* The same type names as /os-volumes' volumeType. */
  nlx_api_add_string (builder, "volume_type", info->is_block ? "block" : "file");
  add_null (builder, "snapshot_id");
  add_null (builder, "source_volid");
  add_null (builder, "consistencygroup_id");
  add_null (builder, "migration_status");
  add_null (builder, "replication_status");
  /* Cinder's schema wants a string; nova-lxc does not record who made a
   * volume. */
  nlx_api_add_string (builder, "user_id", "");
  /* A string in Cinder's volume, not a boolean. */
  nlx_api_add_string (builder, "bootable", "false");
  add_boolean (builder, "encrypted", FALSE);
  add_boolean (builder, "multiattach", FALSE);
  nlx_api_add_volume_metadata (builder, info,
                               user != NULL ? &attachment : NULL);
  json_builder_set_member_name (builder, "attachments");
  json_builder_begin_array (builder);
  if (user != NULL)
    {
      g_autofree char *attachment_id =
        nlx_api_attachment_id (user->instance->uuid, info->id);

      json_builder_begin_object (builder);
      /* Cinder's legacy "id" of an attachment is its volume's. */
      nlx_api_add_string (builder, "id", info->id);
      nlx_api_add_string (builder, "attachment_id", attachment_id);
      nlx_api_add_string (builder, "volume_id", info->id);
      nlx_api_add_string (builder, "server_id", user->instance->uuid);
      nlx_api_add_string (builder, "device", attachment.device);
      add_null (builder, "host_name");
      add_null (builder, "attached_at");
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);
}

/* ---- the list ------------------------------------------------------------ */

typedef struct {
  gint64 limit;                 /* -1: no limit */
  char *marker;
  char *name;
  char *status;
} ListQuery;

static void
list_query_clear (ListQuery *query)
{
  g_free (query->marker);
  g_free (query->name);
  g_free (query->status);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (ListQuery, list_query_clear)

/* The query, or FALSE after answering 400.  A filter this API cannot
 * apply is refused rather than ignored: an ignored filter would answer
 * volumes that do not match it. */
static gboolean
read_list_query (NlxApiRequest *request,
                 ListQuery *query)
{
  const char *text = g_uri_get_query (soup_server_message_get_uri (request->msg));
  GUriParamsIter iter;
  g_autoptr(GError) error = NULL;
  char *key, *value;

  query->limit = -1;
  if (text == NULL)
    return TRUE;
  g_uri_params_iter_init (&iter, text, -1, "&", G_URI_PARAMS_NONE);
  while (g_uri_params_iter_next (&iter, &key, &value, &error))
    {
      g_autofree char *k = key;
      g_autofree char *v = value;
      g_autofree char *message = NULL;

      if (g_str_equal (k, "limit"))
        {
          g_autoptr(JsonNode) node = json_node_new (JSON_NODE_VALUE);

          json_node_set_string (node, v);
          if (!nlx_api_read_whole_number (node, 0, G_MAXINT32, &query->limit))
            {
              message = g_strdup_printf (_("limit must be a whole number, 0 "
                                           "or more, got “%s”"), v);
              nlx_api_respond_fault (request, 400, message);
              return FALSE;
            }
        }
      else if (g_str_equal (k, "marker"))
        {
          g_free (query->marker);
          query->marker = g_steal_pointer (&v);
        }
      else if (g_str_equal (k, "name"))
        {
          g_free (query->name);
          query->name = g_steal_pointer (&v);
        }
      else if (g_str_equal (k, "status"))
        {
          g_free (query->status);
          query->status = g_steal_pointer (&v);
        }
      /* Every visible volume is listed already; Cinder ignores it for a
       * member too. */
      else if (g_str_equal (k, "all_tenants") || g_str_equal (k, "all_projects"))
        ;
      else
        {
          message = g_strdup_printf (_("This volume service cannot filter or "
                                       "sort on “%s”; use name, status, "
                                       "limit or marker"), k);
          nlx_api_respond_fault (request, 400, message);
          return FALSE;
        }
    }
  if (error != NULL)
    {
      nlx_api_respond_fault (request, 400, _("The query string is malformed"));
      return FALSE;
    }
  if (query->limit > CINDER_MAX_LIMIT)
    query->limit = CINDER_MAX_LIMIT;
  return TRUE;
}

/* Cinder's default order: newest first, then by id. */
static int
compare_volumes (gconstpointer pa,
                 gconstpointer pb)
{
  const NlxVolumeInfo *a = *(NlxVolumeInfo * const *) pa;
  const NlxVolumeInfo *b = *(NlxVolumeInfo * const *) pb;
  int c = g_date_time_compare (b->created_at, a->created_at);

  return c != 0 ? c : g_strcmp0 (b->id, a->id);
}

typedef struct {
  NlxApiRequest *request;
  char *project_id;
  gboolean detail;
  ListQuery query;
} ListCall;

static void
list_call_free (ListCall *call)
{
  nlx_api_request_free (call->request);
  g_free (call->project_id);
  list_query_clear (&call->query);
  g_free (call);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ListCall, list_call_free)

static char *
next_link (ListCall *call,
           const char *marker)
{
  g_autoptr(GString) link =
    g_string_new (call->request->base);
  g_autofree char *escaped = g_uri_escape_string (marker, NULL, FALSE);

  g_string_append_printf (link, "/volume/v3/%s/volumes%s?", call->project_id,
                          call->detail ? "/detail" : "");
  if (call->query.name != NULL)
    {
      g_autofree char *name = g_uri_escape_string (call->query.name, NULL,
                                                   FALSE);

      g_string_append_printf (link, "name=%s&", name);
    }
  if (call->query.status != NULL)
    {
      g_autofree char *status = g_uri_escape_string (call->query.status, NULL,
                                                     FALSE);

      g_string_append_printf (link, "status=%s&", status);
    }
  g_string_append_printf (link, "limit=%" G_GINT64_FORMAT "&marker=%s",
                          call->query.limit, escaped);
  return g_string_free (g_steal_pointer (&link), FALSE);
}

static void
volumes_listed (GObject *source G_GNUC_UNUSED,
                GAsyncResult *result,
                gpointer data)
{
  g_autoptr(ListCall) call = data;
  NlxApiRequest *request = call->request;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) volumes =
    nlx_manager_list_volumes_finish (request->api->manager, result, &error);
  g_autoptr(GPtrArray) kept = g_ptr_array_new ();
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;
  guint start = 0;
  gint64 shown = 0;
  const NlxVolumeInfo *last = NULL;

  if (volumes == NULL)
    {
      nlx_api_respond_error (request, error);
      soup_server_message_unpause (request->msg);
      return;
    }
  g_ptr_array_sort (volumes, compare_volumes);
  for (guint i = 0; i < volumes->len; i++)
    {
      NlxVolumeInfo *info = volumes->pdata[i];
      const char *status = NULL;
      NlxVolumeAttachment attachment;

      if (!nlx_api_may_see_volume (request, info->owner) ||
          (call->query.name != NULL && g_strcmp0 (info->id,
                                                  call->query.name) != 0))
        continue;
      if (call->query.status != NULL)
        {
          nlx_api_volume_user (request, info, &attachment, &status);
          if (g_strcmp0 (status, call->query.status) != 0)
            continue;
        }
      g_ptr_array_add (kept, info);
    }
  if (call->query.marker != NULL)
    {
      gboolean found = FALSE;

      for (guint i = 0; i < kept->len && !found; i++)
        if (g_str_equal (((NlxVolumeInfo *) kept->pdata[i])->id,
                         call->query.marker))
          {
            start = i + 1;
            found = TRUE;
          }
      if (!found)
        {
          g_autofree char *message =
            g_strdup_printf (_("Marker %s could not be found: give the id "
                               "of the last volume of the previous page"),
                             call->query.marker);

          nlx_api_respond_fault (request, 400, message);
          soup_server_message_unpause (request->msg);
          return;
        }
    }
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "volumes");
  json_builder_begin_array (builder);
  for (guint i = start; i < kept->len &&
       (call->query.limit < 0 || shown < call->query.limit); i++, shown++)
    {
      last = kept->pdata[i];
      add_volume (builder, request, call->project_id, last, call->detail);
    }
  json_builder_end_array (builder);
  /* As Cinder: a full page links to the next, even when it is the last. */
  if (last != NULL && shown == call->query.limit)
    {
      g_autofree char *next = next_link (call, last->id);

      json_builder_set_member_name (builder, "volumes_links");
      json_builder_begin_array (builder);
      add_link (builder, "next", next);
      json_builder_end_array (builder);
    }
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  nlx_api_respond (request, 200, body);
  soup_server_message_unpause (request->msg);
}

static void
list_volumes (NlxApiRequest *request,
              const char *project_id,
              gboolean detail)
{
  g_auto(ListQuery) query = { 0 };
  ListCall *call;

  if (!check_project (request, project_id) ||
      !read_list_query (request, &query))
    return;
  call = g_new0 (ListCall, 1);
  call->request = nlx_api_request_keep (request);
  call->project_id = g_strdup (project_id);
  call->detail = detail;
  call->query = query;
  memset (&query, 0, sizeof query);
  nlx_manager_list_volumes_async (request->api->manager, volumes_listed, call);
}

/* GET /volume/v3/{project_id}/volumes */
void
nlx_api_cinder_list_volumes (NlxApiRequest *request,
                             const char *method G_GNUC_UNUSED,
                             const char * const *ids)
{
  list_volumes (request, ids[0], FALSE);
}

/* GET /volume/v3/{project_id}/volumes/detail */
void
nlx_api_cinder_list_volumes_detail (NlxApiRequest *request,
                                    const char *method G_GNUC_UNUSED,
                                    const char * const *ids)
{
  list_volumes (request, ids[0], TRUE);
}

/* GET /volume/v3/{project_id}/volumes/{id}.  Any id that names no
 * volume the caller may see is 404, as Cinder's: openstackclient asks
 * for a volume's name here first and searches the list on 404. */
void
nlx_api_cinder_show_volume (NlxApiRequest *request,
                            const char *method G_GNUC_UNUSED,
                            const char * const *ids)
{
  g_autoptr(NlxVolumeInfo) info = NULL;
  g_autoptr(JsonBuilder) builder = NULL;
  g_autoptr(JsonNode) body = NULL;

  if (!check_project (request, ids[0]))
    return;
  if (nlx_volume_id_is_valid (ids[1]))
    {
      g_autoptr(GError) error = NULL;

      info = nlx_manager_get_volume (request->api->manager, ids[1], &error);
      if (info == NULL &&
          !g_error_matches (error, NLX_DRIVER_ERROR,
                            NLX_DRIVER_ERROR_NOT_FOUND))
        {
          nlx_api_respond_error (request, error);
          return;
        }
    }
  if (info == NULL || !nlx_api_may_see_volume (request, info->owner))
    {
      g_autofree char *message =
        g_strdup_printf (_("Volume %s could not be found."), ids[1]);

      nlx_api_respond_fault (request, 404, message);
      return;
    }
  builder = json_builder_new_immutable ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "volume");
  add_volume (builder, request, ids[0], info, TRUE);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  nlx_api_respond (request, 200, body);
}

/* GET /volume/v3/{project_id}/os-availability-zone: the one zone, as
 * Cinder lists its zones (openstackclient's `availability zone list`
 * asks every service in the catalog). */
void
nlx_api_cinder_list_availability_zones (NlxApiRequest *request,
                                        const char *method G_GNUC_UNUSED,
                                        const char * const *ids)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;

  if (!check_project (request, ids[0]))
    return;
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "availabilityZoneInfo");
  json_builder_begin_array (builder);
  json_builder_begin_object (builder);
  nlx_api_add_string (builder, "zoneName", NLX_API_AVAILABILITY_ZONE);
  json_builder_set_member_name (builder, "zoneState");
  json_builder_begin_object (builder);
  add_boolean (builder, "available", TRUE);
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  nlx_api_respond (request, 200, body);
}

/* ---- at the compute endpoint ---------------------------------------------- */

/* With one endpoint for every service (--os-endpoint, the static
 * token), openstacksdk asks for a volume at the compute endpoint +
 * /volumes, without a project: these answer there as Cinder does for
 * the caller's project. */
static const char *
own_project (NlxApiRequest *request)
{
  return nlx_api_identity (request, "X-Project-Id");
}

/* GET /v2.1/volumes */
void
nlx_api_cinder_alias_list_volumes (NlxApiRequest *request,
                                   const char *method G_GNUC_UNUSED,
                                   const char * const *ids G_GNUC_UNUSED)
{
  list_volumes (request, own_project (request), FALSE);
}

/* GET /v2.1/volumes/detail */
void
nlx_api_cinder_alias_list_volumes_detail (NlxApiRequest *request,
                                          const char *method G_GNUC_UNUSED,
                                          const char * const *ids G_GNUC_UNUSED)
{
  list_volumes (request, own_project (request), TRUE);
}

/* GET /v2.1/volumes/{id} */
void
nlx_api_cinder_alias_show_volume (NlxApiRequest *request,
                                  const char *method,
                                  const char * const *ids)
{
  const char *both[] = { own_project (request), ids[0], NULL };

  nlx_api_cinder_show_volume (request, method, both);
}

/* ---- version discovery ---------------------------------------------------- */

/* Only 3.0: a later microversion would promise what Cinder added since
 * (groups, attachments API, ...), which this read API does not have;
 * clients that negotiate take 3.0. */
static void
respond_versions (NlxApiRequest *request,
                  guint status)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;
  g_autofree char *href = g_strconcat (request->base, "/volume/v3/", NULL);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "versions");
  json_builder_begin_array (builder);
  json_builder_begin_object (builder);
  nlx_api_add_string (builder, "id", "v3.0");
  nlx_api_add_string (builder, "status", "CURRENT");
  nlx_api_add_string (builder, "version", "3.0");
  nlx_api_add_string (builder, "min_version", "3.0");
  /* Cinder's date for v3.0. */
  nlx_api_add_string (builder, "updated", "2016-02-08T12:20:21Z");
  json_builder_set_member_name (builder, "links");
  json_builder_begin_array (builder);
  json_builder_begin_object (builder);
  nlx_api_add_string (builder, "rel", "describedby");
  nlx_api_add_string (builder, "type", "text/html");
  nlx_api_add_string (builder, "href", "https://docs.openstack.org/");
  json_builder_end_object (builder);
  add_link (builder, "self", href);
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "media-types");
  json_builder_begin_array (builder);
  json_builder_begin_object (builder);
  nlx_api_add_string (builder, "base", "application/json");
  nlx_api_add_string (builder, "type",
                      "application/vnd.openstack.volume+json;version=3");
  json_builder_end_object (builder);
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  nlx_api_respond (request, status, body);
}

/* GET /volume: Cinder answers 300 Multiple Choices at its root. */
void
nlx_api_cinder_choose_version (NlxApiRequest *request,
                               const char *method G_GNUC_UNUSED,
                               const char * const *ids G_GNUC_UNUSED)
{
  respond_versions (request, 300);
}

/* GET /volume/v3 */
void
nlx_api_cinder_show_version (NlxApiRequest *request,
                             const char *method G_GNUC_UNUSED,
                             const char * const *ids G_GNUC_UNUSED)
{
  respond_versions (request, 200);
}
