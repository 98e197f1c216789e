/* nlx-cli-keypairs.c: nova-lxc's key pair commands */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "cli/nlx-cli.h"
#include "common/nlx-file.h"
#include "common/nlx-json.h"
#include "model/nlx-keypair.h"

static char *
keypair_path (const char *name)
{
  g_autofree char *escaped = g_uri_escape_string (name, NULL, FALSE);

  return g_strconcat ("/os-keypairs/", escaped, NULL);
}

gboolean
nlx_cli_check_keypair_add (char **args,
                           GError **error)
{
  g_autofree char *data = NULL;
  g_autoptr(GError) local_error = NULL;

  if (!nlx_keypair_name_is_valid (args[0]))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("keypair-add: “%s” is no key pair name; a name is 1 to "
                     "%d letters, digits, spaces, “_”, “-”, “.” and “@”"),
                   args[0], NLX_KEYPAIR_NAME_MAX);
      return FALSE;
    }
  if (nlx_cli_opt.pub_key == NULL)
    return TRUE;
  if (!nlx_file_get_contents (nlx_cli_opt.pub_key, &data, NULL, &local_error))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("--pub-key: %s"), local_error->message);
      return FALSE;
    }
  /* The API checks the key itself and says what is wrong with it. */
  nlx_cli_opt.arg_public_key = g_strstrip (g_steal_pointer (&data));
  return TRUE;
}

gboolean
nlx_cli_cmd_keypair_add (NlxClient *client,
                         char **args,
                         GError **error)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;
  g_autoptr(JsonNode) root = NULL;
  JsonObject *keypair;
  const char *private_key;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "keypair");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, args[0]);
  if (nlx_cli_opt.arg_public_key != NULL)
    {
      json_builder_set_member_name (builder, "public_key");
      json_builder_add_string_value (builder, nlx_cli_opt.arg_public_key);
    }
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);

  root = nlx_client_call (client, "POST", "/os-keypairs", body, error);
  if (root == NULL ||
      (keypair = nlx_cli_get_object (root, "keypair", error)) == NULL)
    return FALSE;
  if (nlx_cli_opt.json)
    {
      nlx_cli_print_json (root);
      return TRUE;
    }
  /* As the nova client: a generated key pair prints its private key
   * alone, ready for "> key.pem"; the service keeps no copy. */
  private_key = nlx_json_get_string (keypair, "private_key");
  if (private_key != NULL)
    {
      nlx_cli_write_stdout (private_key);
      if (!g_str_has_suffix (private_key, "\n"))
        nlx_cli_write_stdout ("\n");
      return TRUE;
    }
  nlx_cli_print_properties (keypair);
  return TRUE;
}

gboolean
nlx_cli_cmd_keypair_list (NlxClient *client,
                          char **args G_GNUC_UNUSED,
                          GError **error)
{
  const char *headers[] = { _("Name"), _("Fingerprint"), NULL };
  g_autoptr(JsonNode) root = nlx_client_call (client, "GET", "/os-keypairs",
                                              NULL, error);
  g_autoptr(GPtrArray) rows = nlx_cli_rows_new ();
  JsonNode *keypairs;
  JsonArray *array;

  if (root == NULL ||
      (keypairs = nlx_cli_get_member (root, "keypairs", JSON_NODE_ARRAY, error)) == NULL)
    return FALSE;
  if (nlx_cli_opt.json)
    {
      nlx_cli_print_json (root);
      return TRUE;
    }
  array = json_node_get_array (keypairs);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      JsonNode *inner;
      char **row;

      /* Nova's list wraps each one: [{"keypair": {...}}]. */
      if (!JSON_NODE_HOLDS_OBJECT (node) ||
          (inner = json_object_get_member (json_node_get_object (node),
                                           "keypair")) == NULL ||
          !JSON_NODE_HOLDS_OBJECT (inner))
        continue;
      row = g_new0 (char *, 3);
      row[0] = nlx_cli_display_member (json_node_get_object (inner), "name");
      row[1] = nlx_cli_display_member (json_node_get_object (inner),
                                       "fingerprint");
      g_ptr_array_add (rows, row);
    }
  nlx_cli_print_table (headers, rows);
  return TRUE;
}

gboolean
nlx_cli_cmd_keypair_show (NlxClient *client,
                          char **args,
                          GError **error)
{
  g_autofree char *path = keypair_path (args[0]);
  g_autoptr(JsonNode) root = nlx_client_call (client, "GET", path, NULL,
                                              error);
  JsonObject *keypair;

  if (root == NULL ||
      (keypair = nlx_cli_get_object (root, "keypair", error)) == NULL)
    return FALSE;
  if (nlx_cli_opt.json)
    nlx_cli_print_json (root);
  else
    nlx_cli_print_properties (keypair);
  return TRUE;
}

gboolean
nlx_cli_cmd_keypair_delete (NlxClient *client,
                            char **args,
                            GError **error)
{
  g_autofree char *path = keypair_path (args[0]);
  g_autofree char *note = g_strdup_printf (_("Key pair %s has been deleted."),
                                           args[0]);

  return nlx_cli_call_delete (client, path, note, error);
}
