/* nlx-instance.c: the instance model and its JSON form */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "nlx-error.h"
#include "nlx-instance.h"

#define NLX_METADATA_ITEM_MAX 255

void
nlx_instance_free (NlxInstance *instance)
{
  if (instance == NULL)
    return;
  g_free (instance->uuid);
  g_free (instance->name);
  g_free (instance->flavor.name);
  g_free (instance->image_ref);
  g_free (instance->user_id);
  g_free (instance->project_id);
  g_clear_pointer (&instance->metadata, g_hash_table_unref);
  g_clear_pointer (&instance->created_at, g_date_time_unref);
  g_free (instance);
}

/* Every reader below names the field by its dotted path, so a caller
 * reading the error knows exactly which part of the document to fix. */

static JsonNode *
member_get (JsonObject *object,
            const char *member,
            const char *path,
            gboolean required,
            GError **error)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL && required)
    g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                 _("Field “%s” is missing; add it to the instance document"),
                 path);
  return node;
}

static gboolean
text_is_printable (const char *text)
{
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    if (g_unichar_iscntrl (g_utf8_get_char (p)))
      return FALSE;
  return TRUE;
}

static char *
read_string (JsonObject *object,
             const char *member,
             const char *path,
             gboolean required,
             gsize max_length,
             GError **error)
{
  JsonNode *node;
  const char *value;

  node = member_get (object, member, path, required, error);
  if (node == NULL)
    return NULL;

  if (!JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("Field “%s” must be a string"), path);
      return NULL;
    }

  value = json_node_get_string (node);
  if (*value == '\0' || g_utf8_strlen (value, -1) > (glong) max_length ||
      !text_is_printable (value))
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("Field “%s” must be 1 to %" G_GSIZE_FORMAT
                     " printable characters"), path, max_length);
      return NULL;
    }
  return g_strdup (value);
}

static gboolean
read_uint (JsonObject *object,
           const char *member,
           const char *path,
           guint min,
           guint max,
           guint *out,
           GError **error)
{
  JsonNode *node;
  gint64 value;

  node = member_get (object, member, path, TRUE, error);
  if (node == NULL)
    return FALSE;

  if (!JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64 ||
      (value = json_node_get_int (node)) < min || value > max)
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("Field “%s” must be a whole number from %u to %u"),
                   path, min, max);
      return FALSE;
    }
  *out = (guint) value;
  return TRUE;
}

static JsonObject *
read_object (JsonObject *object,
             const char *member,
             const char *path,
             gboolean required,
             GError **error)
{
  JsonNode *node = member_get (object, member, path, required, error);

  if (node == NULL)
    return NULL;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("Field “%s” must be an object"), path);
      return NULL;
    }
  return json_node_get_object (node);
}

/* A misspelt optional field would otherwise be silently ignored. */
static gboolean
check_known_members (JsonObject *object,
                     const char *prefix,
                     const char * const *known,
                     GError **error)
{
  g_autoptr(GList) members = json_object_get_members (object);

  for (GList *l = members; l != NULL; l = l->next)
    if (!g_strv_contains (known, l->data))
      {
        g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                     _("Unknown field “%s%s”; check its spelling"),
                     prefix, (const char *) l->data);
        return FALSE;
      }
  return TRUE;
}

static gboolean
read_flavor (JsonObject *root,
             NlxFlavor *flavor,
             GError **error)
{
  static const char * const known[] = {
    "name", "vcpus", "memory_mb", "root_gb", NULL
  };
  JsonObject *object = read_object (root, "flavor", "flavor", TRUE, error);

  if (object == NULL || !check_known_members (object, "flavor.", known, error))
    return FALSE;

  flavor->name = read_string (object, "name", "flavor.name", TRUE,
                              NLX_INSTANCE_NAME_MAX, error);
  return flavor->name != NULL &&
         read_uint (object, "vcpus", "flavor.vcpus", 1, NLX_FLAVOR_VCPUS_MAX,
                    &flavor->vcpus, error) &&
         read_uint (object, "memory_mb", "flavor.memory_mb", 1,
                    NLX_FLAVOR_MEMORY_MB_MAX, &flavor->memory_mb, error) &&
         read_uint (object, "root_gb", "flavor.root_gb", 0,
                    NLX_FLAVOR_ROOT_GB_MAX, &flavor->root_gb, error);
}

static GHashTable *
read_metadata (JsonObject *root,
               GError **error)
{
  g_autoptr(GHashTable) metadata = NULL;
  g_autoptr(GList) members = NULL;
  JsonObject *object;

  metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  if (!json_object_has_member (root, "metadata"))
    return g_steal_pointer (&metadata);

  object = read_object (root, "metadata", "metadata", FALSE, error);
  if (object == NULL)
    return NULL;

  members = json_object_get_members (object);
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *key = l->data;
      g_autofree char *path = g_strdup_printf ("metadata.%s", key);
      char *value;

      if (*key == '\0' || g_utf8_strlen (key, -1) > NLX_METADATA_ITEM_MAX)
        {
          g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                       _("Metadata keys must be 1 to %d characters"),
                       NLX_METADATA_ITEM_MAX);
          return NULL;
        }
      value = read_string (object, key, path, TRUE, NLX_METADATA_ITEM_MAX,
                           error);
      if (value == NULL)
        return NULL;
      g_hash_table_insert (metadata, g_strdup (key), value);
    }
  return g_steal_pointer (&metadata);
}

static GDateTime *
read_created_at (JsonObject *root,
                 GError **error)
{
  g_autoptr(GTimeZone) utc = g_time_zone_new_utc ();
  g_autofree char *text = NULL;
  GDateTime *created;

  if (!json_object_has_member (root, "created_at"))
    return g_date_time_new_now_utc ();

  text = read_string (root, "created_at", "created_at", TRUE, 64, error);
  if (text == NULL)
    return NULL;

  created = g_date_time_new_from_iso8601 (text, utc);
  if (created == NULL)
    g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                 _("Field “created_at” must be an ISO 8601 time such as "
                   "2026-01-31T12:00:00Z"));
  return created;
}

/**
 * nlx_instance_new_from_node:
 * @node: a JSON object describing an instance
 * @error: return location for a #NLX_MODEL_ERROR naming the wrong field
 *
 * Returns: (transfer full): the instance, or %NULL if any field is
 * missing, of the wrong type, out of range or unknown.
 */
NlxInstance *
nlx_instance_new_from_node (JsonNode *node,
                            GError **error)
{
  static const char * const known[] = {
    "uuid", "name", "flavor", "image_ref", "user_id", "project_id",
    "metadata", "created_at", NULL
  };
  g_autoptr(NlxInstance) instance = g_new0 (NlxInstance, 1);
  g_autofree char *uuid = NULL;
  JsonObject *root;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("An instance document must be a JSON object"));
      return NULL;
    }
  root = json_node_get_object (node);
  if (!check_known_members (root, "", known, error))
    return NULL;

  uuid = read_string (root, "uuid", "uuid", TRUE, 36, error);
  if (uuid == NULL)
    return NULL;
  if (!g_uuid_string_is_valid (uuid))
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("Field “uuid” must be a UUID such as "
                     "0b7e1f0e-5b8a-4c8e-9d1e-2f3a4b5c6d7e, got “%s”"), uuid);
      return NULL;
    }
  instance->uuid = g_ascii_strdown (uuid, -1);

  if ((instance->name = read_string (root, "name", "name", TRUE,
                                     NLX_INSTANCE_NAME_MAX, error)) == NULL ||
      !read_flavor (root, &instance->flavor, error) ||
      (instance->image_ref = read_string (root, "image_ref", "image_ref", TRUE,
                                          NLX_INSTANCE_NAME_MAX, error)) == NULL ||
      (instance->user_id = read_string (root, "user_id", "user_id", TRUE,
                                        NLX_INSTANCE_NAME_MAX, error)) == NULL ||
      (instance->project_id = read_string (root, "project_id", "project_id",
                                           TRUE, NLX_INSTANCE_NAME_MAX,
                                           error)) == NULL ||
      (instance->metadata = read_metadata (root, error)) == NULL ||
      (instance->created_at = read_created_at (root, error)) == NULL)
    return NULL;

  return g_steal_pointer (&instance);
}

/**
 * nlx_instance_new_from_data:
 * @data: JSON text
 * @length: length of @data, or -1 if it is nul-terminated
 * @error: return location for a #NLX_MODEL_ERROR
 *
 * Returns: (transfer full): the instance, or %NULL if @data is not JSON
 * or not a valid instance document.
 */
NlxInstance *
nlx_instance_new_from_data (const char *data,
                            gssize length,
                            GError **error)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(GError) local_error = NULL;

  if (!json_parser_load_from_data (parser, data, length, &local_error))
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("The instance document is not valid JSON: %s"),
                   local_error->message);
      return NULL;
    }
  return nlx_instance_new_from_node (json_parser_get_root (parser), error);
}

NlxInstance *
nlx_instance_new_from_file (const char *path,
                            GError **error)
{
  g_autofree char *data = NULL;
  gsize length;
  NlxInstance *instance;

  if (!g_file_get_contents (path, &data, &length, error))
    return NULL;
  instance = nlx_instance_new_from_data (data, length, error);
  if (instance == NULL)
    g_prefix_error (error, "%s: ", path);
  return instance;
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return g_strcmp0 (*(const char * const *) a, *(const char * const *) b);
}

/**
 * nlx_instance_to_node:
 * @instance: an instance
 *
 * Metadata keys come out sorted so the document is stable.
 *
 * Returns: (transfer full): the JSON form read by
 * nlx_instance_new_from_node().
 */
JsonNode *
nlx_instance_to_node (const NlxInstance *instance)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autofree const char **keys = NULL;
  g_autofree char *created = NULL;
  guint n_keys;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "uuid");
  json_builder_add_string_value (builder, instance->uuid);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, instance->name);

  json_builder_set_member_name (builder, "flavor");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, instance->flavor.name);
  json_builder_set_member_name (builder, "vcpus");
  json_builder_add_int_value (builder, instance->flavor.vcpus);
  json_builder_set_member_name (builder, "memory_mb");
  json_builder_add_int_value (builder, instance->flavor.memory_mb);
  json_builder_set_member_name (builder, "root_gb");
  json_builder_add_int_value (builder, instance->flavor.root_gb);
  json_builder_end_object (builder);

  json_builder_set_member_name (builder, "image_ref");
  json_builder_add_string_value (builder, instance->image_ref);
  json_builder_set_member_name (builder, "user_id");
  json_builder_add_string_value (builder, instance->user_id);
  json_builder_set_member_name (builder, "project_id");
  json_builder_add_string_value (builder, instance->project_id);

  json_builder_set_member_name (builder, "metadata");
  json_builder_begin_object (builder);
  keys = (const char **) g_hash_table_get_keys_as_array (instance->metadata,
                                                        &n_keys);
  qsort (keys, n_keys, sizeof (char *), compare_strings);
  for (guint i = 0; i < n_keys; i++)
    {
      json_builder_set_member_name (builder, keys[i]);
      json_builder_add_string_value (builder,
                                     g_hash_table_lookup (instance->metadata,
                                                          keys[i]));
    }
  json_builder_end_object (builder);

  created = g_date_time_format (instance->created_at, "%Y-%m-%dT%H:%M:%SZ");
  json_builder_set_member_name (builder, "created_at");
  json_builder_add_string_value (builder, created);
  json_builder_end_object (builder);

  return json_builder_get_root (builder);
}

char *
nlx_instance_to_data (const NlxInstance *instance)
{
  g_autoptr(JsonNode) node = nlx_instance_to_node (instance);

  return json_to_string (node, TRUE);
}

/**
 * nlx_instance_domain_name:
 * @instance: an instance
 *
 * The libvirt domain name: "instance-" and the first eight hex digits of
 * the uuid, short enough to type in virsh and derived, never stored.
 *
 * Returns: (transfer full): the domain name
 */
char *
nlx_instance_domain_name (const NlxInstance *instance)
{
  return g_strdup_printf ("instance-%.8s", instance->uuid);
}
