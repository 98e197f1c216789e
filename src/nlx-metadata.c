/* nlx-metadata.c: TEMPORARY stand-in for helper "metadata"'s module:
 * the same API, only the two paths the metadata service's tests read. */
#include "config.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "nlx-metadata.h"

G_DEFINE_QUARK (nlx-metadata-error-quark, nlx_metadata_error)

GBytes *
nlx_metadata_lookup (const NlxInstance *instance,
                     const char *path,
                     const char **content_type,
                     GError **error)
{
  if (g_str_equal (path, "/openstack/latest/meta_data.json"))
    {
      g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
      g_autoptr(JsonNode) root = NULL;
      g_autofree char *storage = NULL;
      char *text;

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "uuid");
      json_builder_add_string_value (builder, instance->uuid);
      json_builder_set_member_name (builder, "name");
      json_builder_add_string_value (builder, instance->name);
      json_builder_set_member_name (builder, "hostname");
      json_builder_add_string_value (builder,
                                     nlx_instance_hostname (instance,
                                                            &storage));
      json_builder_end_object (builder);
      root = json_builder_get_root (builder);
      text = json_to_string (root, FALSE);
      *content_type = "application/json";
      return g_bytes_new_take (text, strlen (text));
    }
  if (g_str_equal (path, "/latest/meta-data/instance-id"))
    {
      *content_type = "text/plain";
      return g_bytes_new (instance->uuid, strlen (instance->uuid));
    }
  g_set_error (error, NLX_METADATA_ERROR, NLX_METADATA_ERROR_NOT_FOUND,
               "No metadata at %s", path);
  return NULL;
}

gboolean
nlx_metadata_write_config_drive (const NlxInstance *instance,
                                 const char *dir,
                                 GError **error)
{
  g_set_error (error, NLX_METADATA_ERROR, NLX_METADATA_ERROR_NOT_FOUND,
               "The stand-in writes no config drive");
  return FALSE;
}
