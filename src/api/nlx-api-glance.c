/* nlx-api-glance.c: a Glance v2 read API over the same images as
 * /v2.1/images (nlx-api-images.c): the configured images and the image
 * store's, listed, shown and deleted as the stock clients expect Glance
 * to (openstacksdk reads an image's "status" while it waits, novaclient
 * looks names up in /v2/images).
 *
 * It lives under /image (as devstack serves Glance), not at the root:
 * "/" is Nova's version list, and keystoneauth, discovering the image
 * endpoint, would take Nova's v2.1 for Glance's v2.  The host's images
 * are "public"; a snapshot is its server's project's, "private"
 * (nlx_api_may_see_image()); those of nova-lxc.conf are "protected"
 * (removed there, not through an API).  Ids are the
 * ones the Compute API uses (imageRef): a stored image's UUID, a
 * configured image's name.  docs/api.md has the differences from Glance. */
#include "config.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "api/nlx-api-keystone.h"
#include "api/nlx-api-private.h"

/* Glance's limit_param_default and api_limit_max. */
#define GLANCE_DEFAULT_LIMIT 25
#define GLANCE_MAX_LIMIT 1000

/* One image of the list: configured or stored. */
typedef struct {
  const NlxConfigImage *configured;
  const NlxStoredImage *stored;
  GDateTime *created;
} GlanceImage;

static void
glance_image_clear (gpointer data)
{
  GlanceImage *image = data;

  g_clear_pointer (&image->created, g_date_time_unref);
}

/* The fields of Glance's image schema: a store property of the same name
 * is not shown again as an extra property (its type could be wrong). */
static const char * const core_fields[] = {
  "id", "name", "status", "visibility", "protected", "os_hidden",
  "container_format", "disk_format", "size", "virtual_size", "checksum",
  "os_hash_algo", "os_hash_value", "min_disk", "min_ram", "created_at",
  "updated_at", "owner", "tags", "self", "file", "schema", "locations",
  "direct_url", NULL
};

static const char *
image_id (const GlanceImage *image)
{
  return image->stored != NULL ? image->stored->id : image->configured->name;
}

/* A configured image has no record: its tree's change time stands for
 * when it was registered. */
static GDateTime *
configured_created (const NlxConfigImage *image)
{
  GStatBuf st;

  if (image->path != NULL && g_stat (image->path, &st) == 0)
    return g_date_time_new_from_unix_utc (st.st_mtime);
  return g_date_time_new_from_unix_utc (0);
}

/* The string form of a core field, or NULL where Glance shows null. */
static const char *
core_string (const GlanceImage *image,
             const char *field)
{
  const NlxStoredImage *stored = image->stored;

  if (g_str_equal (field, "id"))
    return image_id (image);
  if (g_str_equal (field, "name"))
    return stored != NULL ? stored->name : image->configured->name;
  if (g_str_equal (field, "status"))
    return "active";
  if (g_str_equal (field, "visibility"))
    {
      const char *visibility = stored == NULL ? NULL :
        g_hash_table_lookup (stored->properties, NLX_IMAGE_PROP_VISIBILITY);

      return visibility != NULL ? visibility : "public";
    }
  if (stored == NULL)
    return NULL;
  if (g_str_equal (field, "owner"))
    return g_hash_table_lookup (stored->properties, NLX_IMAGE_PROP_OWNER);
  if (g_str_equal (field, "os_hash_algo"))
    return "sha256";
  if (g_str_equal (field, "os_hash_value"))
    return stored->checksum;
  /* A root tarball has no Glance format; disk images do. */
  if (g_str_equal (field, "disk_format"))
    return stored->format == NLX_STORED_IMAGE_FORMAT_RAW ? "raw"
         : stored->format == NLX_STORED_IMAGE_FORMAT_QCOW2 ? "qcow2" : NULL;
  if (g_str_equal (field, "container_format"))
    return core_string (image, "disk_format") != NULL ? "bare" : NULL;
  return NULL;
}

/* Extra properties (Glance's additionalProperties: strings). */
static GHashTable *
extra_properties (const GlanceImage *image)
{
  GHashTable *extra = g_hash_table_new_full (g_str_hash, g_str_equal,
                                             g_free, g_free);

  if (image->stored != NULL)
    {
      GHashTableIter iter;
      gpointer key, value;

      g_hash_table_iter_init (&iter, image->stored->properties);
      while (g_hash_table_iter_next (&iter, &key, &value))
        if (!g_strv_contains (core_fields, key))
          g_hash_table_insert (extra, g_strdup (key), g_strdup (value));
      g_hash_table_insert (extra, g_strdup ("nova_lxc:format"),
                           g_strdup (nlx_stored_image_format_to_string (
                                       image->stored->format)));
      g_hash_table_insert (extra, g_strdup ("nova_lxc:tree_size"),
                           g_strdup_printf ("%" G_GUINT64_FORMAT,
                                            image->stored->tree_size_bytes));
    }
  else
    {
      if (image->configured->init_path != NULL)
        g_hash_table_insert (extra, g_strdup (NLX_IMAGE_PROP_INIT_PATH),
                             g_strdup (image->configured->init_path));
      if (image->configured->shutdown_signal != NULL)
        g_hash_table_insert (extra, g_strdup (NLX_IMAGE_PROP_SHUTDOWN_SIGNAL),
                             g_strdup (image->configured->shutdown_signal));
    }
  return extra;
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

static void
add_image (JsonBuilder *builder,
           const GlanceImage *image)
{
  static const char * const strings[] = {
    "id", "name", "status", "visibility", "owner", "container_format",
    "disk_format", "os_hash_algo", "os_hash_value", NULL
  };
  const char *id = image_id (image);
  g_autoptr(GHashTable) extra = extra_properties (image);
  g_autofree char *self = g_strconcat ("/v2/images/", id, NULL);
  g_autofree char *file = g_strconcat (self, "/file", NULL);
  g_autofree char *created = nlx_time_to_string (image->created);
  GHashTableIter iter;
  gpointer key, value;

  json_builder_begin_object (builder);
  for (guint i = 0; strings[i] != NULL; i++)
    add_nullable_string (builder, strings[i], core_string (image, strings[i]));
  /* Glance's checksum is an MD5, which the store does not keep. */
  add_nullable_string (builder, "checksum", NULL);
  json_builder_set_member_name (builder, "protected");
  json_builder_add_boolean_value (builder, image->configured != NULL);
  json_builder_set_member_name (builder, "os_hidden");
  json_builder_add_boolean_value (builder, FALSE);
  json_builder_set_member_name (builder, "size");
  if (image->stored != NULL)
    json_builder_add_int_value (builder, image->stored->size_bytes);
  else
    json_builder_add_null_value (builder);
  add_nullable_string (builder, "virtual_size", NULL);
  nlx_api_add_int (builder, "min_disk", 0);
  nlx_api_add_int (builder, "min_ram", 0);
  nlx_api_add_string (builder, "created_at", created);
  nlx_api_add_string (builder, "updated_at", created);
  json_builder_set_member_name (builder, "tags");
  json_builder_begin_array (builder);
  json_builder_end_array (builder);
  /* Relative, as Glance writes them: the client adds its endpoint. */
  nlx_api_add_string (builder, "self", self);
  nlx_api_add_string (builder, "file", file);
  nlx_api_add_string (builder, "schema", "/v2/schemas/image");
  g_hash_table_iter_init (&iter, extra);
  while (g_hash_table_iter_next (&iter, &key, &value))
    nlx_api_add_string (builder, key, value);
  json_builder_end_object (builder);
}

/* Another project's private image does not exist, as far as a member
 * can tell. */
static gboolean
may_see (NlxApiRequest *request,
         const GlanceImage *image)
{
  return nlx_api_may_see_image (request, image->stored != NULL
                                           ? image->stored->properties
                                           : NULL);
}

/* ---- the image list ---------------------------------------------------- */

typedef enum { SORT_STRING, SORT_NUMBER, SORT_TIME } SortKind;

static const struct {
  const char *key;
  SortKind kind;
} sort_keys[] = {
  { "name", SORT_STRING }, { "id", SORT_STRING }, { "status", SORT_STRING },
  { "visibility", SORT_STRING }, { "owner", SORT_STRING },
  { "container_format", SORT_STRING }, { "disk_format", SORT_STRING },
  { "size", SORT_NUMBER }, { "min_disk", SORT_NUMBER },
  { "min_ram", SORT_NUMBER }, { "created_at", SORT_TIME },
  { "updated_at", SORT_TIME },
};

typedef struct {
  guint key;                    /* index in sort_keys */
  gboolean descending;
} SortBy;

typedef struct {
  gint64 limit;
  char *marker;
  GArray *sort;                 /* SortBy */
  GPtrArray *sort_key_params;   /* the old sort_key= form, kept apart */
  GPtrArray *sort_dir_params;
  gboolean new_sort;            /* sort= seen */
  GHashTable *filters;          /* field or property -> wanted value */
  gint64 size_min;
  gint64 size_max;
  gboolean none;                /* a filter no image can pass */
  GPtrArray *params;            /* key, value, ...: for the next link */
} ListQuery;

static void
list_query_clear (ListQuery *query)
{
  g_free (query->marker);
  g_clear_pointer (&query->sort, g_array_unref);
  g_clear_pointer (&query->sort_key_params, g_ptr_array_unref);
  g_clear_pointer (&query->sort_dir_params, g_ptr_array_unref);
  g_clear_pointer (&query->filters, g_hash_table_unref);
  g_clear_pointer (&query->params, g_ptr_array_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (ListQuery, list_query_clear)

static gboolean
find_sort_key (const char *name,
               guint *index)
{
  for (guint i = 0; i < G_N_ELEMENTS (sort_keys); i++)
    if (g_str_equal (sort_keys[i].key, name))
      {
        *index = i;
        return TRUE;
      }
  return FALSE;
}

static void
refuse_sort_key (NlxApiRequest *request,
                 const char *key)
{
  g_autoptr(GString) known = g_string_new (NULL);
  g_autofree char *message = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (sort_keys); i++)
    g_string_append_printf (known, "%s%s", i > 0 ? ", " : "",
                            sort_keys[i].key);
  message = g_strdup_printf (_("Invalid sort key: “%s”. It must be one of "
                               "the following: %s"), key, known->str);
  nlx_api_respond_fault (request, 400, message);
}

static gboolean
read_direction (NlxApiRequest *request,
                const char *text,
                gboolean *descending)
{
  g_autofree char *message = NULL;

  if (g_str_equal (text, "asc") || g_str_equal (text, "desc"))
    {
      *descending = g_str_equal (text, "desc");
      return TRUE;
    }
  message = g_strdup_printf (_("Invalid sort direction: “%s”: use asc or "
                               "desc"), text);
  nlx_api_respond_fault (request, 400, message);
  return FALSE;
}

/* sort=key[:dir],key[:dir] */
static gboolean
read_new_sort (NlxApiRequest *request,
               ListQuery *query,
               const char *text)
{
  g_auto(GStrv) items = g_strsplit (text, ",", -1);

  for (guint i = 0; items[i] != NULL; i++)
    {
      g_auto(GStrv) parts = g_strsplit (g_strstrip (items[i]), ":", 2);
      SortBy by = { 0, TRUE };

      if (!find_sort_key (parts[0], &by.key))
        {
          refuse_sort_key (request, parts[0]);
          return FALSE;
        }
      if (parts[1] != NULL && !read_direction (request, parts[1],
                                               &by.descending))
        return FALSE;
      g_array_append_val (query->sort, by);
    }
  return TRUE;
}

static gboolean
read_size (NlxApiRequest *request,
           const char *key,
           const char *text,
           gint64 *out)
{
  g_autoptr(JsonNode) node = json_node_new (JSON_NODE_VALUE);
  g_autofree char *message = NULL;

  json_node_set_string (node, text);
  if (nlx_api_read_whole_number (node, 0, G_MAXINT64, out))
    return TRUE;
  message = g_strdup_printf (_("%s must be a whole number of bytes, got "
                               "“%s”"), key, text);
  nlx_api_respond_fault (request, 400, message);
  return FALSE;
}

/* A boolean as Glance reads one (oslo's bool_from_string, strict):
 * openstacksdk sends Python's "True". */
static gboolean
read_boolean (const char *text,
              gboolean *value)
{
  static const char * const yes[] = { "1", "t", "true", "on", "y", "yes", NULL };
  static const char * const no[] = { "0", "f", "false", "off", "n", "no", NULL };
  g_autofree char *lower = g_ascii_strdown (text, -1);

  g_strstrip (lower);
  if (g_strv_contains (yes, lower))
    *value = TRUE;
  else if (g_strv_contains (no, lower))
    *value = FALSE;
  else
    return FALSE;
  return TRUE;
}

/* Glance's filters and paging, as far as the stock clients send them;
 * answers 400 itself. */
static gboolean
read_list_query (NlxApiRequest *request,
                 ListQuery *query)
{
  /* Filters on what Glance keeps but nova-lxc does not, refused rather
   * than ignored: an ignored filter would answer images that do not
   * match it. */
  static const char * const unsupported[] = {
    "created_at", "updated_at", "id", NULL
  };
  static const char * const statuses[] = {
    "queued", "saving", "active", "killed", "deleted", "uploading",
    "importing", "pending_delete", "deactivated", NULL
  };
  static const char * const visibilities[] = {
    "public", "private", "community", "shared", "all", NULL
  };
  GUri *uri = soup_server_message_get_uri (request->msg);
  const char *text = g_uri_get_query (uri);
  GUriParamsIter iter;
  g_autoptr(GError) error = NULL;
  char *key, *value;

  query->limit = GLANCE_DEFAULT_LIMIT;
  query->sort = g_array_new (FALSE, FALSE, sizeof (SortBy));
  query->sort_key_params = g_ptr_array_new_with_free_func (g_free);
  query->sort_dir_params = g_ptr_array_new_with_free_func (g_free);
  query->filters = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                          g_free);
  query->size_max = G_MAXINT64;
  query->params = g_ptr_array_new_with_free_func (g_free);
  if (text == NULL)
    return TRUE;
  g_uri_params_iter_init (&iter, text, -1, "&", G_URI_PARAMS_NONE);
  while (g_uri_params_iter_next (&iter, &key, &value, &error))
    {
      g_autofree char *k = key;
      g_autofree char *v = value;
      g_autofree char *message = NULL;

      if (!g_str_equal (k, "marker"))
        {
          g_ptr_array_add (query->params, g_strdup (k));
          g_ptr_array_add (query->params, g_strdup (v));
        }
      if (g_str_equal (k, "limit"))
        {
          if (!nlx_api_read_query_limit (request, v, &query->limit))
            return FALSE;
          query->limit = MIN (query->limit, GLANCE_MAX_LIMIT);
        }
      else if (g_str_equal (k, "marker"))
        {
          g_free (query->marker);
          query->marker = g_steal_pointer (&v);
        }
      else if (g_str_equal (k, "sort_key"))
        g_ptr_array_add (query->sort_key_params, g_steal_pointer (&v));
      else if (g_str_equal (k, "sort_dir"))
        g_ptr_array_add (query->sort_dir_params, g_steal_pointer (&v));
      else if (g_str_equal (k, "sort"))
        {
          query->new_sort = TRUE;
          if (!read_new_sort (request, query, v))
            return FALSE;
        }
      else if (g_str_equal (k, "status") && !g_strv_contains (statuses, v))
        {
          message = g_strdup_printf (_("Invalid status value: “%s”"), v);
          nlx_api_respond_fault (request, 400, message);
          return FALSE;
        }
      else if (g_str_equal (k, "visibility") &&
               !g_strv_contains (visibilities, v))
        {
          message = g_strdup_printf (_("Invalid visibility value: “%s”"), v);
          nlx_api_respond_fault (request, 400, message);
          return FALSE;
        }
      else if (g_str_equal (k, "visibility") && g_str_equal (v, "all"))
        ;
      else if (g_str_equal (k, "protected") || g_str_equal (k, "os_hidden"))
        {
          gboolean b;

          if (!read_boolean (v, &b))
            {
              message = g_strdup_printf (_("Invalid value for %s: “%s”: use "
                                           "true or false"), k, v);
              nlx_api_respond_fault (request, 400, message);
              return FALSE;
            }
          /* No image is hidden. */
          if (g_str_equal (k, "os_hidden") && b)
            query->none = TRUE;
          else if (g_str_equal (k, "protected"))
            g_hash_table_replace (query->filters, g_steal_pointer (&k),
                                  g_strdup (b ? "true" : "false"));
        }
      else if (g_str_equal (k, "size_min"))
        {
          if (!read_size (request, k, v, &query->size_min))
            return FALSE;
        }
      else if (g_str_equal (k, "size_max"))
        {
          if (!read_size (request, k, v, &query->size_max))
            return FALSE;
        }
      /* No image has a tag; every membership is the owner's own. */
      else if (g_str_equal (k, "tag"))
        query->none = TRUE;
      else if (g_str_equal (k, "member_status"))
        ;
      else if (g_strv_contains (unsupported, k))
        {
          message = g_strdup_printf (_("This image service cannot filter "
                                       "on %s; filter on name, status, "
                                       "visibility, owner, protected, "
                                       "size_min, size_max or a property"), k);
          nlx_api_respond_fault (request, 400, message);
          return FALSE;
        }
      else
        /* A core field (name, status, owner, disk_format, ...) or, as in
         * Glance, an extra property. */
        g_hash_table_replace (query->filters, g_steal_pointer (&k),
                              g_steal_pointer (&v));
    }
  if (error != NULL)
    {
      nlx_api_respond_fault (request, 400,
                             _("The query string is malformed"));
      return FALSE;
    }
  if (query->new_sort && (query->sort_key_params->len > 0 ||
                          query->sort_dir_params->len > 0))
    {
      nlx_api_respond_fault (request, 400,
                             _("The “sort” parameter cannot be combined "
                               "with sort_key or sort_dir"));
      return FALSE;
    }
  if (query->sort_dir_params->len > 1 &&
      query->sort_dir_params->len != query->sort_key_params->len)
    {
      nlx_api_respond_fault (request, 400,
                             _("Give one sort_dir, or one for each "
                               "sort_key"));
      return FALSE;
    }
  for (guint i = 0; i < query->sort_dir_params->len; i++)
    {
      gboolean descending;

      if (!read_direction (request, query->sort_dir_params->pdata[i],
                           &descending))
        return FALSE;
    }
  for (guint i = 0; i < query->sort_key_params->len; i++)
    {
      SortBy by = { 0, TRUE };
      GPtrArray *dirs = query->sort_dir_params;

      if (!find_sort_key (query->sort_key_params->pdata[i], &by.key))
        {
          refuse_sort_key (request, query->sort_key_params->pdata[i]);
          return FALSE;
        }
      if (dirs->len > 0)
        read_direction (request, dirs->pdata[dirs->len == 1 ? 0 : i],
                        &by.descending);
      g_array_append_val (query->sort, by);
    }
  return TRUE;
}

static gboolean
matches (const GlanceImage *image,
         const ListQuery *query)
{
  GHashTableIter iter;
  gpointer key, value;
  gint64 size = image->stored != NULL ? (gint64) image->stored->size_bytes : 0;

  if (query->none)
    return FALSE;
  if ((query->size_min > 0 || query->size_max < G_MAXINT64) &&
      (image->stored == NULL || size < query->size_min ||
       size > query->size_max))
    return FALSE;
  g_hash_table_iter_init (&iter, query->filters);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      const char *have;
      g_autoptr(GHashTable) extra = NULL;

      if (g_str_equal (key, "protected"))
        have = image->configured != NULL ? "true" : "false";
      else if (g_strv_contains (core_fields, key))
        have = core_string (image, key);
      else
        {
          extra = extra_properties (image);
          have = g_hash_table_lookup (extra, key);
        }
      if (g_strcmp0 (have, value) != 0)
        return FALSE;
    }
  return TRUE;
}

static int
compare_by (const GlanceImage *a,
            const GlanceImage *b,
            guint key)
{
  const char *name = sort_keys[key].key;

  switch (sort_keys[key].kind)
    {
    case SORT_TIME:
      return g_date_time_compare (a->created, b->created);
    case SORT_NUMBER:
      if (g_str_equal (name, "size"))
        {
          gint64 x = a->stored ? (gint64) a->stored->size_bytes : -1;
          gint64 y = b->stored ? (gint64) b->stored->size_bytes : -1;

          return (x > y) - (x < y);
        }
      return 0;                 /* min_disk, min_ram: 0 for every image */
    case SORT_STRING:
    default:
      return g_strcmp0 (core_string (a, name), core_string (b, name));
    }
}

static int
compare_images (gconstpointer pa,
                gconstpointer pb,
                gpointer data)
{
  const GlanceImage *a = pa, *b = pb;
  GArray *sort = data;

  for (guint i = 0; i < sort->len; i++)
    {
      const SortBy *by = &g_array_index (sort, SortBy, i);
      int c = compare_by (a, b, by->key);

      if (c != 0)
        return by->descending ? -c : c;
    }
  return 0;
}

/* The images in the order asked for, then Glance's own tie-breakers
 * (created_at, then id, descending), so pages do not overlap. */
static void
sort_images (GArray *images,
             GArray *sort)
{
  const char *tail[] = { "created_at", "id" };

  for (guint t = 0; t < G_N_ELEMENTS (tail); t++)
    {
      SortBy by = { 0, TRUE };
      gboolean have = FALSE;

      find_sort_key (tail[t], &by.key);
      for (guint i = 0; i < sort->len; i++)
        have |= g_array_index (sort, SortBy, i).key == by.key;
      if (!have)
        g_array_append_val (sort, by);
    }
  g_array_sort_with_data (images, compare_images, sort);
}

static char *
next_link (const ListQuery *query,
           const char *marker)
{
  g_autoptr(GString) link = g_string_new ("/v2/images?");

  for (guint i = 0; i + 1 < query->params->len; i += 2)
    {
      g_autofree char *k = g_uri_escape_string (query->params->pdata[i], NULL,
                                                FALSE);
      g_autofree char *v = g_uri_escape_string (query->params->pdata[i + 1],
                                                NULL, FALSE);

      g_string_append_printf (link, "%s=%s&", k, v);
    }
  g_string_append_printf (link, "marker=%s", marker);
  return g_string_free (g_steal_pointer (&link), FALSE);
}

/* Every image of the host: the configured ones, then the store's, in
 * @images (GlanceImage) pointing into @stored. */
static gboolean
collect_images (NlxApiRequest *request,
                GArray **images,
                GPtrArray **stored)
{
  const NlxConfig *config = request->api->config;
  NlxImageStore *store = nlx_manager_get_image_store (request->api->manager);
  g_autoptr(GError) error = NULL;

  *stored = nlx_image_store_list (store, &error);
  if (*stored == NULL)
    {
      nlx_api_respond_error (request, error);
      return FALSE;
    }
  *images = g_array_new (FALSE, TRUE, sizeof (GlanceImage));
  g_array_set_clear_func (*images, glance_image_clear);
  for (guint i = 0; i < config->images->len; i++)
    {
      GlanceImage image = { .configured = config->images->pdata[i] };

      image.created = configured_created (image.configured);
      g_array_append_val (*images, image);
    }
  for (guint i = 0; i < (*stored)->len; i++)
    {
      GlanceImage image = { .stored = (*stored)->pdata[i] };

      image.created = g_date_time_ref (image.stored->created_at);
      g_array_append_val (*images, image);
    }
  return TRUE;
}

/* GET /image/v2/images */
void
nlx_api_glance_list_images (NlxApiRequest *request,
                            const char *method G_GNUC_UNUSED,
                            const char * const *ids G_GNUC_UNUSED)
{
  g_auto(ListQuery) query = { 0 };
  g_autoptr(GArray) all = NULL;
  g_autoptr(GPtrArray) stored = NULL;
  g_autoptr(GPtrArray) kept = g_ptr_array_new ();
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;
  guint start = 0;
  gint64 shown = 0;
  const GlanceImage *last = NULL;

  if (!read_list_query (request, &query) ||
      !collect_images (request, &all, &stored))
    return;
  sort_images (all, query.sort);
  for (guint i = 0; i < all->len; i++)
    {
      GlanceImage *image = &g_array_index (all, GlanceImage, i);

      if (may_see (request, image) && matches (image, &query))
        g_ptr_array_add (kept, image);
    }
  if (query.marker != NULL)
    {
      gboolean found = FALSE;

      for (guint i = 0; i < kept->len && !found; i++)
        if (g_str_equal (image_id (kept->pdata[i]), query.marker))
          {
            start = i + 1;
            found = TRUE;
          }
      if (!found)
        {
          g_autofree char *message =
            g_strdup_printf (_("Invalid marker. Image %s could not be "
                               "found."), query.marker);

          nlx_api_respond_fault (request, 400, message);
          return;
        }
    }

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "images");
  json_builder_begin_array (builder);
  for (guint i = start; i < kept->len && shown < query.limit; i++, shown++)
    {
      last = kept->pdata[i];
      add_image (builder, last);
    }
  json_builder_end_array (builder);
  nlx_api_add_string (builder, "first", "/v2/images");
  nlx_api_add_string (builder, "schema", "/v2/schemas/images");
  /* As Glance: a full page has a next link, even when it is the last. */
  if (last != NULL && shown == query.limit)
    {
      g_autofree char *next = next_link (&query, image_id (last));

      nlx_api_add_string (builder, "next", next);
    }
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  nlx_api_respond (request, 200, body);
}

/* An image by its id, as Glance finds one (a stored image's name is not
 * its id), or NULL after answering 404. */
static gboolean
find_image (NlxApiRequest *request,
            const char *id,
            GlanceImage *image,
            NlxStoredImage **stored)
{
  NlxImageStore *store = nlx_manager_get_image_store (request->api->manager);
  g_autofree char *message = NULL;

  image->configured = nlx_config_find_image (request->api->config, id);
  if (image->configured != NULL)
    {
      image->created = configured_created (image->configured);
      return TRUE;
    }
  *stored = nlx_image_store_lookup (store, id, NULL);
  if (*stored != NULL && g_str_equal ((*stored)->id, id))
    {
      image->stored = *stored;
      if (may_see (request, image))
        {
          image->created = g_date_time_ref ((*stored)->created_at);
          return TRUE;
        }
      image->stored = NULL;
    }
  g_clear_pointer (stored, nlx_stored_image_free);
  message = g_strdup_printf (_("No image found with ID %s"), id);
  nlx_api_respond_fault (request, 404, message);
  return FALSE;
}

/* GET /image/v2/images/{id}: the image itself, not wrapped. */
void
nlx_api_glance_show_image (NlxApiRequest *request,
                           const char *method G_GNUC_UNUSED,
                           const char * const *ids)
{
  GlanceImage image = { 0 };
  g_autoptr(NlxStoredImage) stored = NULL;
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;

  if (!find_image (request, ids[0], &image, &stored))
    return;
  add_image (builder, &image);
  glance_image_clear (&image);
  body = json_builder_get_root (builder);
  nlx_api_respond (request, 200, body);
}

/* DELETE /image/v2/images/{id}: as the Compute API's image delete, with
 * Glance's answers: a configured image is protected (403). */
void
nlx_api_glance_delete_image (NlxApiRequest *request,
                             const char *method G_GNUC_UNUSED,
                             const char * const *ids)
{
  GlanceImage image = { 0 };
  g_autoptr(NlxStoredImage) stored = NULL;
  g_autofree char *message = NULL;

  if (!find_image (request, ids[0], &image, &stored))
    return;
  glance_image_clear (&image);
  if (image.configured != NULL)
    {
      message = g_strdup_printf (_("Image %s is protected and cannot be "
                                   "deleted: it is configured in "
                                   "nova-lxc.conf, and removed there"),
                                 ids[0]);
      nlx_api_respond_fault (request, 403, message);
      return;
    }
  if (!nlx_api_may_delete_image (request,
                                 g_hash_table_lookup (stored->properties,
                                                      NLX_IMAGE_PROP_OWNER)))
    {
      message = g_strdup_printf (_("You are not authorized to delete image "
                                   "%s: that needs the admin role, or the "
                                   "member role in the project that owns "
                                   "it"), ids[0]);
      nlx_api_respond_fault (request, 403, message);
      return;
    }
  nlx_manager_delete_image_async (request->api->manager, stored->id,
                                  nlx_api_changed,
                                  nlx_api_change_new (request, stored->id, 204,
                                                      NLX_API_ANSWER_EMPTY));
}

/* ---- image download ------------------------------------------------------ */

/* A download's bytes in flight, between what the manager's worker writes
 * into a socket pair and what libsoup has sent: reading stops above
 * HIGH and starts again below LOW, so a slow client slows the worker
 * (its send() blocks) instead of growing the daemon. */
#define DOWNLOAD_READ_SIZE (64 * 1024)
#define DOWNLOAD_HIGH (256 * 1024)
#define DOWNLOAD_LOW (64 * 1024)

typedef struct {
  guint refs;                   /* the message's side and the manager's */
  NlxApi *api;                  /* only while @msg is there */
  NlxManager *manager;
  SoupServerMessage *msg;       /* NULL once it finished */
  GSocket *socket;              /* the tarball's reading end */
  GSource *readable;            /* NULL while the client is behind, or at
                                 * the end */
  guint64 queued;               /* appended, not written yet */
  gboolean eof;
  gboolean written;             /* the worker is done... */
  gboolean failed;              /* ...and failed */
  char *id;
} Download;

static void
download_unref (Download *download)
{
  if (--download->refs > 0)
    return;
  g_clear_object (&download->socket);
  g_free (download->id);
  g_free (download);
}

static void download_read (Download *download);

/* Ends the answer so the client sees it cut short: no last chunk, the
 * connection closed.  Once the socket is shut down, the byte appended
 * only makes libsoup write, fail, and end the message. */
static void
download_abort (Download *download)
{
  GSocket *socket = nlx_listener_get_socket (download->api->listener,
                                             download->msg);
  SoupMessageBody *body = soup_server_message_get_response_body (download->msg);

  if (socket != NULL)
    g_socket_shutdown (socket, TRUE, TRUE, NULL);
  soup_message_body_append (body, SOUP_MEMORY_STATIC, "", 1);
  soup_server_message_unpause (download->msg);
}

static void
download_maybe_end (Download *download)
{
  if (download->msg == NULL || !download->eof || !download->written)
    return;
  if (download->failed)
    {
      g_warning ("Download of image %s failed; closing its connection "
                 "without the tarball's end", download->id);
      download_abort (download);
      return;
    }
  soup_message_body_complete (soup_server_message_get_response_body (
                                download->msg));
  soup_server_message_unpause (download->msg);
}

static void
download_stop_reading (Download *download)
{
  if (download->readable == NULL)
    return;
  g_source_destroy (download->readable);
  g_clear_pointer (&download->readable, g_source_unref);
}

static gboolean
on_download_readable (GSocket *socket,
                      GIOCondition condition G_GNUC_UNUSED,
                      gpointer data)
{
  Download *download = data;
  g_autofree char *buffer = g_malloc (DOWNLOAD_READ_SIZE);
  gssize got = recv (g_socket_get_fd (socket), buffer, DOWNLOAD_READ_SIZE,
                     MSG_DONTWAIT);

  if (got < 0 && (errno == EAGAIN || errno == EINTR))
    return G_SOURCE_CONTINUE;
  if (got <= 0)
    {
      download->eof = TRUE;
      download->failed |= got < 0;
      g_clear_pointer (&download->readable, g_source_unref);
      download_maybe_end (download);
      return G_SOURCE_REMOVE;
    }
  soup_message_body_append (soup_server_message_get_response_body (
                              download->msg),
                            SOUP_MEMORY_TAKE, g_steal_pointer (&buffer), got);
  download->queued += got;
  soup_server_message_unpause (download->msg);
  if (download->queued < DOWNLOAD_HIGH)
    return G_SOURCE_CONTINUE;
  g_clear_pointer (&download->readable, g_source_unref);
  return G_SOURCE_REMOVE;
}

static void
download_read (Download *download)
{
  if (download->readable != NULL || download->eof || download->msg == NULL)
    return;
  download->readable = g_socket_create_source (download->socket,
                                               G_IO_IN | G_IO_HUP | G_IO_ERR,
                                               NULL);
  g_source_set_callback (download->readable,
                         G_SOURCE_FUNC (on_download_readable), download, NULL);
  g_source_attach (download->readable, g_main_context_get_thread_default ());
}

static void
on_download_wrote (SoupServerMessage *msg G_GNUC_UNUSED,
                   guint size,
                   gpointer data)
{
  Download *download = data;

  download->queued -= MIN (download->queued, size);
  if (download->queued <= DOWNLOAD_LOW)
    download_read (download);
}

/* The client has it all, or left: a worker still writing then fails on
 * the closed socket and stops. */
static void
on_download_finished (SoupServerMessage *msg,
                      gpointer data)
{
  Download *download = data;

  g_signal_handlers_disconnect_by_data (msg, download);
  download_stop_reading (download);
  g_socket_close (download->socket, NULL);
  g_clear_object (&download->msg);
  download_unref (download);
}

static void
download_written (GObject *source G_GNUC_UNUSED,
                  GAsyncResult *result,
                  gpointer data)
{
  Download *download = data;
  g_autoptr(GError) error = NULL;

  download->written = TRUE;
  download->failed |= !nlx_manager_export_image_finish (download->manager,
                                                        result, &error);
  download_maybe_end (download);
  download_unref (download);
}

/* GET /image/v2/images/{id}/file: the image's root tree as a tarball
 * (application/octet-stream), which POST /v2.1/images imports back.
 * Anyone who may see the image may download it (Glance's default
 * download_image policy).  Streamed, chunked: the tarball is written
 * while it is sent, never held whole; an error after the answer has
 * started closes the connection before the last chunk, so the client
 * sees a cut answer, never a short tarball taken for whole. */
void
nlx_api_glance_download_image (NlxApiRequest *request,
                               const char *method G_GNUC_UNUSED,
                               const char * const *ids)
{
  GlanceImage image = { 0 };
  g_autoptr(NlxStoredImage) stored = NULL;
  g_autoptr(GError) error = NULL;
  Download *download;
  int fd;

  if (!find_image (request, ids[0], &image, &stored))
    return;
  glance_image_clear (&image);
  download = g_new0 (Download, 1);
  download->refs = 2;
  download->api = request->api;
  download->manager = request->api->manager;
  download->id = g_strdup (ids[0]);
  fd = nlx_manager_export_image (request->api->manager, ids[0],
                                 download_written, download, &error);
  if (fd < 0)
    {
      g_free (download->id);
      g_free (download);
      nlx_api_respond_error (request, error);
      return;
    }
  download->socket = g_socket_new_from_fd (fd, &error);
  if (download->socket == NULL)
    {
      close (fd);
      download->refs = 1;       /* the manager's, once the worker fails */
      nlx_api_respond_error (request, error);
      return;
    }
  download->msg = g_object_ref (request->msg);
  nlx_api_respond_stream (request, "application/octet-stream");
  g_signal_connect (request->msg, "wrote-body-data",
                    G_CALLBACK (on_download_wrote), download);
  g_signal_connect (request->msg, "finished",
                    G_CALLBACK (on_download_finished), download);
  download_read (download);
}

/* ---- version discovery -------------------------------------------------- */

static void
respond_versions (NlxApiRequest *request,
                  guint status)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;
  g_autofree char *href = g_strconcat (request->base, "/image/v2/", NULL);

  /* Only v2.0: a later minor would promise what Glance added since
   * (image import, stores), which this read API does not have. */
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "versions");
  json_builder_begin_array (builder);
  json_builder_begin_object (builder);
  nlx_api_add_string (builder, "id", "v2.0");
  nlx_api_add_string (builder, "status", "CURRENT");
  json_builder_set_member_name (builder, "links");
  json_builder_begin_array (builder);
  json_builder_begin_object (builder);
  nlx_api_add_string (builder, "rel", "self");
  nlx_api_add_string (builder, "href", href);
  json_builder_end_object (builder);
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  nlx_api_respond (request, status, body);
}

/* GET /image and /image/v2: Glance answers 300 Multiple Choices there. */
void
nlx_api_glance_choose_version (NlxApiRequest *request,
                               const char *method G_GNUC_UNUSED,
                               const char * const *ids G_GNUC_UNUSED)
{
  respond_versions (request, 300);
}

/* GET /image/versions */
void
nlx_api_glance_list_versions (NlxApiRequest *request,
                              const char *method G_GNUC_UNUSED,
                              const char * const *ids G_GNUC_UNUSED)
{
  respond_versions (request, 200);
}
