/* nlx-api-server-list.c: GET /servers and /servers/detail: Nova's
 * paging, filters and sort order over the servers a caller may see */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "api/nlx-api-keystone.h"
#include "api/nlx-api-private.h"

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
          if (!nlx_api_read_query_limit (request, v, &query->limit))
            return FALSE;
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
          if (!nlx_api_read_query_time (request, k, v, &query->changes_since))
            return FALSE;
        }
      else if (g_str_equal (k, "changes-before"))
        {
          if (!nlx_api_read_query_time (request, k, v, &query->changes_before))
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

/* ---- the views lists keep ------------------------------------------- */

/* A server's JSON in a list is the same from one list to the next until
 * its record changes, and building it (a JsonNode tree, then its text)
 * was nearly all of a list's time: 1,000 servers took ~95 ms on the main
 * loop.  So a list keeps the text of each server it showed, keyed by all
 * the text depends on: the record's generation (new at every change, see
 * nlx_record_changed()), the microversion, the caller being an admin,
 * the detail or short view and the links' base; the host is the
 * daemon's own and does not change.  Three views per server, so that a
 * few kinds of client (e.g. detail at 2.1, detail at the latest version,
 * and the short list) do not evict each other; the table holds no more
 * servers than there are records, plus VIEWS_SLACK between sweeps. */
#define VIEW_SLOTS 3
#define VIEWS_SLACK 64

typedef struct {
  guint64 generation;           /* 0: an empty slot */
  guint microversion;
  gboolean admin;
  gboolean detail;
  char *base;
  char *data;
  gsize length;
} View;

typedef struct {
  View views[VIEW_SLOTS];       /* the most recently used first */
} ServerViews;

static void
view_clear (View *view)
{
  g_free (view->base);
  g_free (view->data);
  memset (view, 0, sizeof *view);
}

static void
server_views_free (ServerViews *views)
{
  for (guint i = 0; i < VIEW_SLOTS; i++)
    view_clear (&views->views[i]);
  g_free (views);
}

static gboolean
view_matches (const View *view,
              const NlxRecord *record,
              guint microversion,
              gboolean admin,
              gboolean detail,
              const char *base)
{
  return view->generation == record->generation &&
         view->microversion == microversion && view->admin == admin &&
         view->detail == detail && g_strcmp0 (view->base, base) == 0;
}

/* The text of @record's view for @request: the kept one, or made now
 * and kept. */
static const View *
lookup_view (NlxApiRequest *request,
             const NlxRecord *record,
             gboolean detail,
             gboolean admin)
{
  GHashTable *table = request->api->server_views;
  ServerViews *views = g_hash_table_lookup (table, record->instance->uuid);
  guint microversion = nlx_api_microversion (request);
  View found;

  if (views == NULL)
    {
      views = g_new0 (ServerViews, 1);
      g_hash_table_insert (table, g_strdup (record->instance->uuid), views);
    }
  for (guint i = 0; i < VIEW_SLOTS; i++)
    if (view_matches (&views->views[i], record, microversion, admin, detail,
                      request->base))
      {
        /* To the front: the least recently used goes first. */
        found = views->views[i];
        memmove (&views->views[1], &views->views[0], i * sizeof (View));
        views->views[0] = found;
        return &views->views[0];
      }
  view_clear (&views->views[VIEW_SLOTS - 1]);
  memmove (&views->views[1], &views->views[0],
           (VIEW_SLOTS - 1) * sizeof (View));
  views->views[0] = (View) {
    .generation = record->generation,
    .microversion = microversion,
    .admin = admin,
    .detail = detail,
    .base = g_strdup (request->base),
  };
  views->views[0].data = nlx_api_listed_server_to_data (request, record,
                                                        detail,
                                                        &views->views[0].length);
  return &views->views[0];
}

/* Drops the views of servers that are gone, once the table has grown
 * VIEWS_SLACK past @records (every record there is). */
static void
sweep_views (GHashTable *table,
             GPtrArray *records)
{
  g_autoptr(GHashTable) live = NULL;
  GHashTableIter iter;
  gpointer uuid;

  if (g_hash_table_size (table) <= records->len + VIEWS_SLACK)
    return;
  live = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < records->len; i++)
    g_hash_table_add (live,
                      ((const NlxRecord *) records->pdata[i])->instance->uuid);
  g_hash_table_iter_init (&iter, table);
  while (g_hash_table_iter_next (&iter, &uuid, NULL))
    if (!g_hash_table_contains (live, uuid))
      g_hash_table_iter_remove (&iter);
}

/* Answers with @shown, whose views are already JSON text: spliced into
 * the rest of the answer (the links to the next page), which is built
 * as any other answer is. */
static void
respond_list (NlxApiRequest *request,
              GPtrArray *shown,
              gsize length,
              const char *next_marker)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) rest = NULL;
  g_autofree char *rest_data = NULL;
  static const char prefix[] = "{\"servers\":[";
  GString *body;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "servers");
  json_builder_begin_array (builder);
  json_builder_end_array (builder);
  if (next_marker != NULL)
    nlx_api_add_next_link (builder, request, "servers_links", next_marker);
  json_builder_end_object (builder);
  rest = json_builder_get_root (builder);
  rest_data = json_to_string (rest, FALSE);
  /* {"servers":[] then the rest: the views go between the brackets. */
  g_assert (g_str_has_prefix (rest_data, prefix));
  body = g_string_sized_new (length + shown->len + strlen (rest_data) + 1);
  g_string_append_len (body, prefix, sizeof prefix - 1);
  for (guint i = 0; i < shown->len; i++)
    {
      const View *view = shown->pdata[i];

      if (i > 0)
        g_string_append_c (body, ',');
      g_string_append_len (body, view->data, view->length);
    }
  g_string_append (body, rest_data + sizeof prefix - 1);
  /* nlx_api_respond() sets the status and headers; the body is ours. */
  nlx_api_respond (request, 200, NULL);
  length = body->len;
  soup_server_message_set_response (request->msg, "application/json",
                                    SOUP_MEMORY_TAKE,
                                    g_string_free (body, FALSE), length);
}

/* Newest first, as Nova's default sort (created_at desc), or by the
 * first sort_key and sort_dir. */
static void
list_servers (NlxApiRequest *request,
              gboolean detail)
{
  g_autoptr(GPtrArray) records = nlx_manager_list (request->api->manager);
  g_autoptr(GPtrArray) shown = g_ptr_array_new ();
  g_auto(ListQuery) query = { 0 };
  guint start = 0;
  gsize length = 0;
  const char *last = NULL;
  gboolean more = FALSE;
  gboolean admin;
  const char *project_id;

  /* Keystone mode: the caller's project only, unless an admin asks for
   * all_tenants (nlx-api-keystone.c); paging and filters apply to what
   * the caller may see. */
  if (!nlx_api_list_scope (request, &project_id) ||
      !read_list_query (request, &query))
    return;
  if (request->api->server_views == NULL)
    request->api->server_views =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                             (GDestroyNotify) server_views_free);
  sweep_views (request->api->server_views, records);
  admin = nlx_api_caller_is_admin (request);
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
  for (guint i = start; i < records->len; i++)
    {
      const NlxRecord *record = records->pdata[i];
      const View *view;

      if (!list_query_matches (&query, record))
        continue;
      if (shown->len == query.limit)
        {
          more = TRUE;
          break;
        }
      view = lookup_view (request, record, detail, admin);
      g_ptr_array_add (shown, (gpointer) view);
      length += view->length;
      last = record->instance->uuid;
    }
  respond_list (request, shown, length, more ? last : NULL);
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
