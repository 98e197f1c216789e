/* nlx-cli-images.c: nova-lxc's image commands */
#include "config.h"

#include <string.h>
#include <glib/gi18n-lib.h>

#include "cli/nlx-cli.h"
#include "model/nlx-image.h"

/* createImage and image import answer once the image is stored, which
 * for a large root takes minutes. */
#define STORE_TIMEOUT_S (60 * 60)

static char *
image_path (const char *image)
{
  g_autofree char *escaped = g_uri_escape_string (image, NULL, FALSE);

  return g_strconcat ("/images/", escaped, NULL);
}

static gboolean
print_image_answer (JsonNode *root,
                    GError **error)
{
  JsonObject *image = nlx_cli_get_object (root, "image", error);

  if (image == NULL)
    return FALSE;
  if (nlx_cli_opt.json)
    nlx_cli_print_json (root);
  else
    nlx_cli_print_properties (image);
  return TRUE;
}

gboolean
nlx_cli_check_image_import (char **args G_GNUC_UNUSED,
                            GError **error)
{
  if (nlx_cli_opt.name == NULL || !nlx_image_name_is_valid (nlx_cli_opt.name))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("image-import needs --name NAME: up to %d letters, "
                     "digits, “.”, “_” and “-”, starting with a letter or "
                     "digit"), NLX_IMAGE_NAME_MAX);
      return FALSE;
    }
  for (guint i = 0;
       nlx_cli_opt.properties != NULL && nlx_cli_opt.properties[i] != NULL;
       i++)
    {
      const char *eq = strchr (nlx_cli_opt.properties[i], '=');

      if (eq == NULL || eq == nlx_cli_opt.properties[i])
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       _("--property wants KEY=VALUE with a non-empty KEY; "
                         "got “%s”"), nlx_cli_opt.properties[i]);
          return FALSE;
        }
    }
  if (nlx_cli_opt.url != NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("image-import names a file of the compute host, so it "
                     "works over the Unix socket only; leave out --url"));
      return FALSE;
    }
  return TRUE;
}

gboolean
nlx_cli_check_image_create (char **args,
                            GError **error)
{
  if (!nlx_image_name_is_valid (args[1]))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("image-create: NAME “%s” is no image name; a name is "
                     "up to %d letters, digits, “.”, “_” and “-”, starting "
                     "with a letter or digit"), args[1], NLX_IMAGE_NAME_MAX);
      return FALSE;
    }
  return TRUE;
}

gboolean
nlx_cli_cmd_image_list (NlxClient *client,
                        char **args G_GNUC_UNUSED,
                        GError **error)
{
  const char *headers[] = { _("ID"), _("Name"), _("Status"), NULL };
  g_autoptr(JsonNode) root = nlx_client_call (client, "GET",
                                              "/images/detail", NULL,
                                              error);
  g_autoptr(GPtrArray) rows = nlx_cli_rows_new ();
  JsonNode *images;
  JsonArray *array;

  if (root == NULL)
    return FALSE;
  images = nlx_cli_get_member (root, "images", JSON_NODE_ARRAY, error);
  if (images == NULL)
    return FALSE;
  if (nlx_cli_opt.json)
    {
      nlx_cli_print_json (root);
      return TRUE;
    }
  array = json_node_get_array (images);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      JsonObject *image;
      char **row;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      image = json_node_get_object (node);
      row = g_new0 (char *, 4);
      row[0] = nlx_cli_display_member (image, "id");
      row[1] = nlx_cli_display_member (image, "name");
      row[2] = nlx_cli_display_member (image, "status");
      g_ptr_array_add (rows, row);
    }
  nlx_cli_print_table (headers, rows);
  return TRUE;
}

gboolean
nlx_cli_cmd_image_import (NlxClient *client,
                          char **args,
                          GError **error)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;
  g_autoptr(JsonNode) root = NULL;
  /* The daemon reads it on this host, but from its own directory. */
  g_autofree char *file = g_canonicalize_filename (args[0], NULL);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "image");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, nlx_cli_opt.name);
  json_builder_set_member_name (builder, "file");
  json_builder_add_string_value (builder, file);
  json_builder_set_member_name (builder, "properties");
  json_builder_begin_object (builder);
  for (guint i = 0;
       nlx_cli_opt.properties != NULL && nlx_cli_opt.properties[i] != NULL;
       i++)
    {
      const char *eq = strchr (nlx_cli_opt.properties[i], '=');
      g_autofree char *key = g_strndup (nlx_cli_opt.properties[i],
                                        eq - nlx_cli_opt.properties[i]);

      json_builder_set_member_name (builder, key);
      json_builder_add_string_value (builder, eq + 1);
    }
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);

  nlx_client_set_timeout (client, STORE_TIMEOUT_S);
  root = nlx_client_call (client, "POST", "/images", body, error);
  return root != NULL && print_image_answer (root, error);
}

gboolean
nlx_cli_cmd_image_create (NlxClient *client,
                          char **args,
                          GError **error)
{
  g_autofree char *id = nlx_cli_resolve_server (client, args[0], NULL, error);
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) body = NULL;
  g_autoptr(JsonNode) created = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *path = NULL;
  JsonNode *image_id;

  if (id == NULL)
    return FALSE;
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "createImage");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, args[1]);
  if (nlx_cli_opt.metadata != NULL)
    {
      json_builder_set_member_name (builder, "metadata");
      json_builder_begin_object (builder);
      nlx_cli_add_key_values (builder, nlx_cli_opt.metadata);
      json_builder_end_object (builder);
    }
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);

  nlx_client_set_timeout (client, STORE_TIMEOUT_S);
  /* From 2.45 the answer names the image in its body (before, only in
   * Location). */
  client->version = "2.45";
  created = nlx_cli_post_action (client, id, body, error);
  client->version = NULL;
  nlx_client_set_timeout (client, NLX_CLI_REQUEST_TIMEOUT_S);
  if (created == NULL)
    return FALSE;
  image_id = nlx_cli_get_member (created, "image_id", JSON_NODE_VALUE, error);
  if (image_id == NULL)
    return FALSE;
  if (json_node_get_value_type (image_id) != G_TYPE_STRING)
    {
      g_set_error (error, NLX_CLI_ERROR, NLX_CLI_ERROR_BAD_REPLY,
                   _("The API's answer lacks “%s” or it has the wrong type; "
                     "is this nova-lxc-compute, and as new as this "
                     "program?"), "image_id");
      return FALSE;
    }

  /* The answer holds only the id; show the image as image-show does. */
  path = image_path (json_node_get_string (image_id));
  root = nlx_client_call (client, "GET", path, NULL, error);
  return root != NULL && print_image_answer (root, error);
}

gboolean
nlx_cli_cmd_image_show (NlxClient *client,
                        char **args,
                        GError **error)
{
  g_autofree char *path = image_path (args[0]);
  g_autoptr(JsonNode) root = nlx_client_call (client, "GET", path, NULL,
                                              error);

  return root != NULL && print_image_answer (root, error);
}

gboolean
nlx_cli_cmd_image_delete (NlxClient *client,
                          char **args,
                          GError **error)
{
  g_autofree char *path = image_path (args[0]);
  g_autofree char *note = g_strdup_printf (_("Image %s has been deleted."),
                                           args[0]);

  return nlx_cli_call_delete (client, path, note, error);
}
