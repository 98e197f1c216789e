/* nlx-cli-servers.c: nova-lxc's server commands (boot, list, show,
 * delete, rebuild, reboot and the actions of the command table), and
 * finding a server by ID or name for every command that names one */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "cli/nlx-cli.h"
#include "common/nlx-file.h"
#include "common/nlx-json.h"
#include "model/nlx-instance.h"

#define POLL_INTERVAL_US (G_USEC_PER_SEC / 2)

char *
nlx_cli_server_path (const char *id,
                     const char *suffix)
{
  g_autofree char *escaped = g_uri_escape_string (id, NULL, FALSE);

  return g_strconcat ("/servers/", escaped, suffix, NULL);
}

/* GET /servers/ID, checked to hold a server object. */
static JsonNode *
get_server (NlxClient *client,
            const char *id,
            GError **error)
{
  g_autofree char *path = nlx_cli_server_path (id, "");
  g_autoptr(JsonNode) root = nlx_client_call (client, "GET", path, NULL,
                                              error);

  if (root == NULL || nlx_cli_get_member (root, "server", JSON_NODE_OBJECT,
                                          error) == NULL)
    return NULL;
  return g_steal_pointer (&root);
}

/* The id of the one server named NAME. */
static char *
find_server_by_name (NlxClient *client,
                     const char *name,
                     GError **error)
{
  g_autoptr(JsonNode) root = nlx_client_call (client, "GET", "/servers",
                                              NULL, error);
  g_autoptr(GPtrArray) ids = g_ptr_array_new ();
  JsonNode *servers;
  JsonArray *array;

  if (root == NULL)
    return NULL;
  servers = nlx_cli_get_member (root, "servers", JSON_NODE_ARRAY, error);
  if (servers == NULL)
    return NULL;
  array = json_node_get_array (servers);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      JsonObject *server;
      const char *id;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      server = json_node_get_object (node);
      id = nlx_json_get_string (server, "id");
      if (id != NULL && g_strcmp0 (nlx_json_get_string (server, "name"), name) == 0)
        g_ptr_array_add (ids, (gpointer) id);
    }

  if (ids->len == 0)
    {
      g_set_error (error, NLX_CLI_ERROR, NLX_CLI_ERROR_NOT_FOUND,
                   _("No server named “%s” (HTTP 404)"), name);
      return NULL;
    }
  if (ids->len > 1)
    {
      g_autofree char *list = NULL;

      g_ptr_array_add (ids, NULL);
      list = g_strjoinv (", ", (GStrv) ids->pdata);
      g_set_error (error, NLX_CLI_ERROR, NLX_CLI_ERROR_AMBIGUOUS,
                   _("More than one server is named “%s”; name the one you "
                     "mean by its ID: %s"), name, list);
      return NULL;
    }
  return g_strdup (g_ptr_array_index (ids, 0));
}

/**
 * nlx_cli_resolve_server:
 * @ref: a server's id or name, as the user gave it
 * @server_out: (out) (optional) (nullable): the server's GET answer when
 *   it was fetched on the way
 *
 * A uuid is looked up as an id first; a name, or a uuid no server has as
 * id, is matched against the names of all servers.
 *
 * Returns: the server's id
 */
char *
nlx_cli_resolve_server (NlxClient *client,
                        const char *ref,
                        JsonNode **server_out,
                        GError **error)
{
  g_autoptr(GError) by_id_error = NULL;
  g_autoptr(GError) by_name_error = NULL;
  char *id;

  if (g_uuid_string_is_valid (ref))
    {
      g_autofree char *lower = g_ascii_strdown (ref, -1);
      g_autoptr(JsonNode) root = get_server (client, lower, &by_id_error);

      if (root != NULL)
        {
          if (server_out != NULL)
            *server_out = g_steal_pointer (&root);
          return g_steal_pointer (&lower);
        }
      if (!g_error_matches (by_id_error, NLX_CLI_ERROR,
                            NLX_CLI_ERROR_NOT_FOUND))
        {
          g_propagate_error (error, g_steal_pointer (&by_id_error));
          return NULL;
        }
    }

  id = find_server_by_name (client, ref, &by_name_error);
  if (id == NULL)
    {
      /* For a uuid, the API's own "not found" says it best. */
      if (by_id_error != NULL &&
          g_error_matches (by_name_error, NLX_CLI_ERROR,
                           NLX_CLI_ERROR_NOT_FOUND))
        g_propagate_error (error, g_steal_pointer (&by_id_error));
      else
        g_propagate_error (error, g_steal_pointer (&by_name_error));
      return NULL;
    }
  return id;
}

/* Reports on standard error how the server stands, when it changed. */
static void
report_progress (const char *label,
                 JsonObject *server,
                 char **last)
{
  const char *task = nlx_json_get_string (server, "OS-EXT-STS:task_state");
  g_autofree char *status = nlx_cli_display_member (server, "status");
  g_autofree char *power = nlx_cli_power_state_name (
    json_object_get_member (server, "OS-EXT-STS:power_state"));
  g_autofree char *line = g_strdup_printf (
    _("Server %s: status %s, task state %s, power state %s"),
    label, status, task ? task : "-", power);

  if (g_strcmp0 (line, *last) != 0)
    {
      g_printerr ("nova-lxc: %s\n", line);
      g_free (*last);
      *last = g_steal_pointer (&line);
    }
}

/* Polls while the server's string MEMBER is VALUE, such as status BUILD;
 * returns its last GET answer. */
static JsonNode *
wait_while (NlxClient *client,
            const char *id,
            const char *label,
            const char *member,
            const char *value,
            GError **error)
{
  g_autofree char *last = NULL;

  for (;;)
    {
      g_autoptr(JsonNode) root = get_server (client, id, error);
      JsonObject *server;

      if (root == NULL)
        return NULL;
      server = json_node_get_object (
        json_object_get_member (json_node_get_object (root), "server"));
      report_progress (label, server, &last);
      if (g_strcmp0 (nlx_json_get_string (server, member), value) != 0)
        return g_steal_pointer (&root);
      g_usleep (POLL_INTERVAL_US);
    }
}

/* Polls until the server is gone; fails when it stops being deleted. */
static gboolean
wait_for_deletion (NlxClient *client,
                   const char *id,
                   const char *label,
                   GError **error)
{
  g_autofree char *last = NULL;

  for (;;)
    {
      g_autoptr(GError) local_error = NULL;
      g_autoptr(JsonNode) root = get_server (client, id, &local_error);
      JsonObject *server;
      JsonNode *fault;
      const char *message = NULL;

      if (root == NULL)
        {
          if (g_error_matches (local_error, NLX_CLI_ERROR,
                               NLX_CLI_ERROR_NOT_FOUND))
            return TRUE;
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      server = json_node_get_object (
        json_object_get_member (json_node_get_object (root), "server"));
      report_progress (label, server, &last);
      if (g_strcmp0 (nlx_json_get_string (server, "OS-EXT-STS:task_state"),
                     "deleting") == 0)
        {
          g_usleep (POLL_INTERVAL_US);
          continue;
        }

      /* The API keeps "deleting" until the server is gone, so a server
       * still there without it was not deleted. */
      fault = json_object_get_member (server, "fault");
      if (fault != NULL && JSON_NODE_HOLDS_OBJECT (fault))
        message = nlx_json_get_string (json_node_get_object (fault), "message");
      if (message != NULL)
        g_set_error (error, NLX_CLI_ERROR, NLX_CLI_ERROR_FAILED,
                     _("Deleting server %s failed: %s"), label, message);
      else
        g_set_error (error, NLX_CLI_ERROR, NLX_CLI_ERROR_FAILED,
                     _("Server %s is still there (status %s) but no longer "
                       "being deleted; see the nova-lxc-compute log"),
                     label, nlx_json_get_string (server, "status"));
      return FALSE;
    }
}

/* Fails when a server waited for went into ERROR, with its fault. */
static gboolean
check_not_error (JsonObject *server,
                 const char *label,
                 const char *id,
                 GError **error)
{
  JsonNode *fault;
  const char *message = NULL;

  if (g_strcmp0 (nlx_json_get_string (server, "status"), "ERROR") != 0)
    return TRUE;
  fault = json_object_get_member (server, "fault");
  if (fault != NULL && JSON_NODE_HOLDS_OBJECT (fault))
    message = nlx_json_get_string (json_node_get_object (fault), "message");
  if (message != NULL)
    g_set_error (error, NLX_CLI_ERROR, NLX_CLI_ERROR_FAILED,
                 _("Server %s (%s) went into ERROR: %s"), label, id,
                 message);
  else
    g_set_error (error, NLX_CLI_ERROR, NLX_CLI_ERROR_FAILED,
                 _("Server %s (%s) went into ERROR with no fault "
                   "message; see the nova-lxc-compute log"), label, id);
  return FALSE;
}

/* The KEY=VALUE items of --meta or --metadata, checked by check_meta, as
 * members of the object being built. */
void
nlx_cli_add_key_values (JsonBuilder *builder,
                        char **items)
{
  for (guint i = 0; items != NULL && items[i] != NULL; i++)
    {
      g_auto(GStrv) kv = g_strsplit (items[i], "=", 2);

      json_builder_set_member_name (builder, kv[0]);
      json_builder_add_string_value (builder, kv[1]);
    }
}

/* Nova's block_device_mapping_v2 for --boot-volume and --volume. */
static void
add_block_devices (JsonBuilder *builder)
{
  json_builder_set_member_name (builder, "block_device_mapping_v2");
  json_builder_begin_array (builder);
  if (nlx_cli_opt.boot_volume != NULL)
    {
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "boot_index");
      json_builder_add_int_value (builder, 0);
      json_builder_set_member_name (builder, "uuid");
      json_builder_add_string_value (builder, nlx_cli_opt.boot_volume);
      json_builder_set_member_name (builder, "source_type");
      json_builder_add_string_value (builder, "volume");
      json_builder_set_member_name (builder, "destination_type");
      json_builder_add_string_value (builder, "volume");
      json_builder_end_object (builder);
    }
  for (guint i = 0;
       nlx_cli_opt.volumes != NULL && i < nlx_cli_opt.volumes->len; i++)
    {
      const NlxCliVolume *volume = g_ptr_array_index (nlx_cli_opt.volumes, i);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "uuid");
      json_builder_add_string_value (builder, volume->volume_id);
      json_builder_set_member_name (builder, "source_type");
      json_builder_add_string_value (builder, "volume");
      json_builder_set_member_name (builder, "destination_type");
      json_builder_add_string_value (builder, "volume");
      if (volume->device != NULL)
        {
          json_builder_set_member_name (builder, "device_name");
          json_builder_add_string_value (builder, volume->device);
        }
      if (volume->mount_path != NULL)
        {
          json_builder_set_member_name (builder, "mount_path");
          json_builder_add_string_value (builder, volume->mount_path);
        }
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
}

/* --key-name and --user-data, which boot and rebuild share. */
static void
add_boot_config (JsonBuilder *builder)
{
  if (nlx_cli_opt.key_name != NULL)
    {
      json_builder_set_member_name (builder, "key_name");
      json_builder_add_string_value (builder, nlx_cli_opt.key_name);
    }
  if (nlx_cli_opt.arg_user_data != NULL)
    {
      json_builder_set_member_name (builder, "user_data");
      json_builder_add_string_value (builder, nlx_cli_opt.arg_user_data);
    }
}

/* --user-data FILE, read and encoded before anything is sent. */
static gboolean
read_user_data (GError **error)
{
  g_autofree char *data = NULL;
  gsize length;
  g_autoptr(GError) local_error = NULL;

  if (nlx_cli_opt.user_data == NULL)
    return TRUE;
  if (!nlx_file_get_contents (nlx_cli_opt.user_data, &data, &length,
                              &local_error))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("--user-data: %s"), local_error->message);
      return FALSE;
    }
  /* Base64 makes 4 characters of every 3 bytes, and Nova takes 65535. */
  if (length > NLX_USER_DATA_MAX / 4 * 3)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("--user-data: %s has %zu bytes; user "
                     "data can be at most %d bytes (65535 once "
                     "base64-encoded); compress it (cloud-init reads gzip) "
                     "or fetch the rest from the server"),
                   nlx_cli_opt.user_data, length, NLX_USER_DATA_MAX / 4 * 3);
      return FALSE;
    }
  nlx_cli_opt.arg_user_data = g_base64_encode ((const guchar *) data, length);
  return TRUE;
}

static gboolean
check_boot_config (GError **error)
{
  if (nlx_cli_opt.key_name != NULL && *nlx_cli_opt.key_name == '\0')
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("--key-name wants a key pair's name (see "
                     "keypair-list)"));
      return FALSE;
    }
  if (nlx_cli_opt.hostname != NULL && *nlx_cli_opt.hostname == '\0')
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("--hostname wants a host name; leave it out to have "
                     "one made from the server's name"));
      return FALSE;
    }
  return read_user_data (error);
}

gboolean
nlx_cli_check_boot (char **args G_GNUC_UNUSED,
                    GError **error)
{
  g_autoptr(GHashTable) ids = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GHashTable) devices = g_hash_table_new (g_str_hash, g_str_equal);

  if (nlx_cli_opt.flavor == NULL || *nlx_cli_opt.flavor == '\0')
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   _("“boot” needs --flavor (see flavor-list)"));
      return FALSE;
    }
  if ((nlx_cli_opt.image == NULL || *nlx_cli_opt.image == '\0') &&
      nlx_cli_opt.boot_volume == NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   _("“boot” needs --image (see image-list), or --boot-volume "
                     "to boot from a volume (see volume-list)"));
      return FALSE;
    }
  if (nlx_cli_opt.image != NULL && *nlx_cli_opt.image == '\0')
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("--image wants an image ID (see image-list); leave it "
                     "out to boot from --boot-volume alone"));
      return FALSE;
    }
  if (!check_boot_config (error))
    return FALSE;
  if (nlx_cli_opt.boot_volume != NULL)
    g_hash_table_add (ids, nlx_cli_opt.boot_volume);
  for (guint i = 0;
       nlx_cli_opt.volumes != NULL && i < nlx_cli_opt.volumes->len; i++)
    {
      const NlxCliVolume *volume = g_ptr_array_index (nlx_cli_opt.volumes, i);

      if (!g_hash_table_add (ids, volume->volume_id))
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       _("Volume “%s” is given twice; a volume is attached "
                         "to a server once, by --volume or as "
                         "--boot-volume"), volume->volume_id);
          return FALSE;
        }
      if (volume->device != NULL &&
          !g_hash_table_add (devices, volume->device))
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       _("--volume gives the device %s twice; give each "
                         "volume its own, or leave it out"), volume->device);
          return FALSE;
        }
    }
  return TRUE;
}

gboolean
nlx_cli_check_rebuild (char **args G_GNUC_UNUSED,
                       GError **error)
{
  if (nlx_cli_opt.name != NULL && *nlx_cli_opt.name == '\0')
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("--name wants the server's new name; leave it out to "
                     "keep the name"));
      return FALSE;
    }
  return check_boot_config (error);
}

gboolean
nlx_cli_cmd_boot (NlxClient *client,
                  char **args,
                  GError **error)
{
  const char *name = args[0];
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) body = NULL;
  g_autoptr(JsonNode) created = NULL;
  g_autoptr(JsonNode) root = NULL;
  JsonNode *id_node;
  const char *id;
  JsonObject *server;
  const char *status;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "server");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, name);
  json_builder_set_member_name (builder, "flavorRef");
  json_builder_add_string_value (builder, nlx_cli_opt.flavor);
  if (nlx_cli_opt.image != NULL)
    {
      json_builder_set_member_name (builder, "imageRef");
      json_builder_add_string_value (builder, nlx_cli_opt.image);
    }
  if (nlx_cli_opt.boot_volume != NULL || nlx_cli_opt.volumes != NULL)
    add_block_devices (builder);
  if (nlx_cli_opt.meta != NULL)
    {
      json_builder_set_member_name (builder, "metadata");
      json_builder_begin_object (builder);
      nlx_cli_add_key_values (builder, nlx_cli_opt.meta);
      json_builder_end_object (builder);
    }
  add_boot_config (builder);
  /* hostname is Nova 2.90's, where a create also names its networks:
   * "auto" is what leaving them out means before 2.37. */
  if (nlx_cli_opt.hostname != NULL)
    {
      json_builder_set_member_name (builder, "hostname");
      json_builder_add_string_value (builder, nlx_cli_opt.hostname);
      json_builder_set_member_name (builder, "networks");
      json_builder_add_string_value (builder, "auto");
    }
  if (nlx_cli_opt.config_drive)
    {
      json_builder_set_member_name (builder, "config_drive");
      json_builder_add_boolean_value (builder, TRUE);
    }
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);

  client->version = nlx_cli_opt.hostname != NULL ? "2.90" : NULL;
  created = nlx_client_call (client, "POST", "/servers", body, error);
  client->version = NULL;
  if (created == NULL)
    return FALSE;
  id_node = nlx_cli_get_member (created, "server", JSON_NODE_OBJECT, error);
  if (id_node == NULL)
    return FALSE;
  id = nlx_json_get_string (json_node_get_object (id_node), "id");
  if (id == NULL)
    {
      g_set_error (error, NLX_CLI_ERROR, NLX_CLI_ERROR_BAD_REPLY,
                   _("The API's answer lacks “%s” or it has the wrong type; "
                     "is this nova-lxc-compute, and as new as this "
                     "program?"), "server.id");
      return FALSE;
    }

  root = nlx_cli_opt.wait
           ? wait_while (client, id, name, "status", "BUILD", error)
           : get_server (client, id, error);
  if (root == NULL)
    return FALSE;
  /* Printed even on ERROR: the caller needs the id to clean up. */
  nlx_cli_print_server (root);
  if (!nlx_cli_opt.wait)
    return TRUE;

  server = json_node_get_object (
    json_object_get_member (json_node_get_object (root), "server"));
  if (!check_not_error (server, name, id, error))
    return FALSE;
  status = nlx_json_get_string (server, "status");
  if (g_strcmp0 (status, "ACTIVE") != 0)
    {
      g_set_error (error, NLX_CLI_ERROR, NLX_CLI_ERROR_FAILED,
                   _("Server %s (%s) ended in status %s instead of ACTIVE"),
                   name, id, status ? status : "-");
      return FALSE;
    }
  return TRUE;
}

gboolean
nlx_cli_cmd_list (NlxClient *client,
                  char **args G_GNUC_UNUSED,
                  GError **error)
{
  const char *headers[] = {
    _("ID"), _("Name"), _("Status"), _("Task State"), _("Power State"),
    _("Networks"), NULL
  };
  g_autoptr(JsonNode) root = nlx_client_call (client, "GET",
                                              "/servers/detail", NULL,
                                              error);
  g_autoptr(GPtrArray) rows = nlx_cli_rows_new ();
  JsonNode *servers;
  JsonArray *array;

  if (root == NULL)
    return FALSE;
  servers = nlx_cli_get_member (root, "servers", JSON_NODE_ARRAY, error);
  if (servers == NULL)
    return FALSE;
  if (nlx_cli_opt.json)
    {
      nlx_cli_print_json (root);
      return TRUE;
    }
  array = json_node_get_array (servers);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      JsonObject *server;
      char **row;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      server = json_node_get_object (node);
      row = g_new0 (char *, 7);
      row[0] = nlx_cli_display_member (server, "id");
      row[1] = nlx_cli_display_member (server, "name");
      row[2] = nlx_cli_display_member (server, "status");
      row[3] = nlx_cli_display_member (server, "OS-EXT-STS:task_state");
      row[4] = nlx_cli_power_state_name (json_object_get_member (
        server, "OS-EXT-STS:power_state"));
      row[5] = nlx_cli_list_networks (server);
      g_ptr_array_add (rows, row);
    }
  nlx_cli_print_table (headers, rows);
  return TRUE;
}

gboolean
nlx_cli_cmd_show (NlxClient *client,
                  char **args,
                  GError **error)
{
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *id = nlx_cli_resolve_server (client, args[0], &root, error);
  g_autofree char *volumes = NULL;
  JsonObject *server;

  if (id == NULL)
    return FALSE;
  if (root == NULL)
    root = get_server (client, id, error);
  if (root == NULL)
    return FALSE;
  if (nlx_cli_opt.json)
    {
      nlx_cli_print_json (root);
      return TRUE;
    }
  server = json_node_get_object (
    json_object_get_member (json_node_get_object (root), "server"));
  if (!nlx_cli_describe_server_volumes (client, id, server, &volumes, error))
    return FALSE;
  /* The answer is ours to change; the row sorts in with the others. */
  if (volumes != NULL)
    json_object_set_string_member (server, "volumes", volumes);
  nlx_cli_print_server_properties (server);
  return TRUE;
}

gboolean
nlx_cli_cmd_delete (NlxClient *client,
                    char **args,
                    GError **error)
{
  const char *label = args[0];
  g_autofree char *id = nlx_cli_resolve_server (client, label, NULL, error);
  g_autofree char *path = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *note = NULL;

  if (id == NULL)
    return FALSE;
  path = nlx_cli_server_path (id, "");
  root = nlx_client_call (client, "DELETE", path, NULL, error);
  if (root == NULL)
    return FALSE;
  if (nlx_cli_opt.json)
    nlx_cli_print_json (root);
  note = g_strdup_printf (_("Request to delete server %s has been "
                            "accepted."), label);
  nlx_cli_print_note (note);
  if (!nlx_cli_opt.wait)
    return TRUE;
  if (!wait_for_deletion (client, id, label, error))
    return FALSE;
  g_clear_pointer (&note, g_free);
  note = g_strdup_printf (_("Server %s has been deleted."), label);
  nlx_cli_print_note (note);
  return TRUE;
}

/* POSTs an action to the server with the id ID; returns the answer. */
JsonNode *
nlx_cli_post_action (NlxClient *client,
                     const char *id,
                     JsonNode *body,
                     GError **error)
{
  g_autofree char *path = nlx_cli_server_path (id, "/action");

  return nlx_client_call (client, "POST", path, body, error);
}

/* POSTs an action, answered 202 with no body, to the server REF names. */
static gboolean
run_action (NlxClient *client,
            const char *ref,
            JsonNode *body,
            GError **error)
{
  g_autofree char *id = nlx_cli_resolve_server (client, ref, NULL, error);
  g_autoptr(JsonNode) root = NULL;

  if (id == NULL)
    return FALSE;
  root = nlx_cli_post_action (client, id, body, error);
  if (root == NULL)
    return FALSE;
  if (nlx_cli_opt.json)
    nlx_cli_print_json (root);
  return TRUE;
}

/* {"ACTION": null} */
static JsonNode *
action_body (const char *action)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, action);
  json_builder_add_null_value (builder);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

gboolean
nlx_cli_cmd_reboot (NlxClient *client,
                    char **args,
                    GError **error)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) body = NULL;
  g_autofree char *note = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "reboot");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, nlx_cli_opt.hard ? "HARD" : "SOFT");
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  if (!run_action (client, args[0], body, error))
    return FALSE;
  if (nlx_cli_opt.hard)
    note = g_strdup_printf (_("Request to hard-reboot server %s has been "
                              "accepted."), args[0]);
  else
    note = g_strdup_printf (_("Request to reboot server %s has been "
                              "accepted."), args[0]);
  nlx_cli_print_note (note);
  return TRUE;
}

/* A command of the table that is a server action and nothing else:
 * stop, start, pause, unpause. */
gboolean
nlx_cli_run_server_action (NlxClient *client,
                           const NlxCliServerAction *action,
                           const char *ref,
                           GError **error)
{
  g_autoptr(JsonNode) body = action_body (action->action);
  g_autofree char *note = NULL;

  if (!run_action (client, ref, body, error))
    return FALSE;
  /* The formats are the N_() literals of the command table, each with
   * the one %s; -Wformat-nonliteral cannot see that. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
  note = g_strdup_printf (_(action->note), ref);
#pragma GCC diagnostic pop
  nlx_cli_print_note (note);
  return TRUE;
}

gboolean
nlx_cli_cmd_rebuild (NlxClient *client,
                     char **args,
                     GError **error)
{
  const char *label = args[0];
  g_autofree char *id = nlx_cli_resolve_server (client, label, NULL, error);
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) body = NULL;
  g_autoptr(JsonNode) root = NULL;
  JsonObject *server;
  const char *status;

  if (id == NULL)
    return FALSE;
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "rebuild");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "imageRef");
  json_builder_add_string_value (builder, args[1]);
  if (nlx_cli_opt.name != NULL)
    {
      json_builder_set_member_name (builder, "name");
      json_builder_add_string_value (builder, nlx_cli_opt.name);
    }
  /* As in Nova, given metadata replaces the server's; none keeps it. */
  if (nlx_cli_opt.meta != NULL || nlx_cli_opt.metadata != NULL)
    {
      json_builder_set_member_name (builder, "metadata");
      json_builder_begin_object (builder);
      nlx_cli_add_key_values (builder, nlx_cli_opt.meta);
      nlx_cli_add_key_values (builder, nlx_cli_opt.metadata);
      json_builder_end_object (builder);
    }
  add_boot_config (builder);
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);

  /* A rebuild takes key_name from 2.54 and user_data from 2.57. */
  if (nlx_cli_opt.key_name != NULL || nlx_cli_opt.arg_user_data != NULL)
    client->version = "2.57";
  root = nlx_cli_post_action (client, id, body, error);
  client->version = NULL;
  if (root == NULL ||
      nlx_cli_get_member (root, "server", JSON_NODE_OBJECT, error) == NULL)
    return FALSE;
  if (nlx_cli_opt.wait)
    {
      g_clear_pointer (&root, json_node_unref);
      root = wait_while (client, id, label, "OS-EXT-STS:task_state",
                         "rebuilding", error);
      if (root == NULL)
        return FALSE;
    }
  /* Printed even on ERROR, as boot does. */
  nlx_cli_print_server (root);
  if (!nlx_cli_opt.wait)
    return TRUE;

  server = json_node_get_object (
    json_object_get_member (json_node_get_object (root), "server"));
  if (!check_not_error (server, label, id, error))
    return FALSE;
  status = nlx_json_get_string (server, "status");
  if (g_strcmp0 (status, "ACTIVE") != 0 && g_strcmp0 (status, "SHUTOFF") != 0)
    {
      g_set_error (error, NLX_CLI_ERROR, NLX_CLI_ERROR_FAILED,
                   _("Server %s (%s) ended in status %s instead of ACTIVE "
                     "or SHUTOFF"), label, id, status ? status : "-");
      return FALSE;
    }
  return TRUE;
}
