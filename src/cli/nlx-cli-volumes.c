/* nlx-cli-volumes.c: nova-lxc's volume commands, and the volumes row of
 * a server's show */
#include "config.h"

#include <string.h>
#include <glib/gi18n-lib.h>

#include "cli/nlx-cli.h"
#include "common/nlx-json.h"

static char *
volume_path (const char *volume_id)
{
  g_autofree char *escaped = g_uri_escape_string (volume_id, NULL, FALSE);

  return g_strconcat ("/os-volumes/", escaped, NULL);
}

static char *
attachment_path (const char *server_id,
                 const char *volume_id)
{
  g_autofree char *escaped = g_uri_escape_string (volume_id, NULL, FALSE);
  g_autofree char *suffix = g_strconcat ("/os-volume_attachments/", escaped,
                                         NULL);

  return nlx_cli_server_path (server_id, suffix);
}

/* A size for people, in the largest binary unit it fills: 16 MiB,
 * 1.5 GiB. */
static char *
format_size (guint64 bytes)
{
  static const char * const units[] = {
    "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"
  };
  guint64 scale = 1;
  guint unit = 0;

  while (unit + 1 < G_N_ELEMENTS (units) && bytes / 1024 >= scale)
    {
      scale *= 1024;
      unit++;
    }
  if (bytes % scale == 0)
    return g_strdup_printf ("%" G_GUINT64_FORMAT " %s", bytes / scale,
                            units[unit]);
  return g_strdup_printf ("%.1f %s", (double) bytes / (double) scale,
                          units[unit]);
}

/* What the API keeps under a volume's "metadata" because Nova's volume
 * has no field for it (nova_lxc:size_bytes, nova_lxc:filesystem,
 * nova_lxc:mount_path; docs/api.md), or NULL. */
static const char *
volume_metadata (JsonObject *volume,
                 const char *key)
{
  JsonNode *node = json_object_get_member (volume, "metadata");

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;
  return nlx_json_get_string (json_node_get_object (node), key);
}

/* Where @volume_id is mounted in the server it is attached to: Nova's
 * attachment has no field for it, the volume's metadata has. */
static char *
attachment_mount_path (NlxClient *client,
                       const char *volume_id)
{
  g_autofree char *path = volume_path (volume_id);
  g_autoptr(JsonNode) root = nlx_client_call (client, "GET", path, NULL, NULL);
  JsonNode *volume;

  /* Only a detail: without it the row still says the device. */
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root) ||
      (volume = json_object_get_member (json_node_get_object (root),
                                        "volume")) == NULL ||
      !JSON_NODE_HOLDS_OBJECT (volume))
    return NULL;
  return g_strdup (volume_metadata (json_node_get_object (volume),
                                    "nova_lxc:mount_path"));
}

static char *
volume_size (JsonObject *volume)
{
  const char *bytes = volume_metadata (volume, "nova_lxc:size_bytes");
  JsonNode *gib = json_object_get_member (volume, "size");
  guint64 value;

  if (bytes != NULL &&
      g_ascii_string_to_unsigned (bytes, 10, 0, G_MAXUINT64, &value, NULL))
    return format_size (value);
  /* Nova's own field, rounded up to GiB. */
  if (gib != NULL && JSON_NODE_HOLDS_VALUE (gib) &&
      json_node_get_value_type (gib) == G_TYPE_INT64)
    return g_strdup_printf ("%" G_GINT64_FORMAT " GiB",
                            json_node_get_int (gib));
  return g_strdup ("-");
}

/* The "Attached to" cell: one line per attachment, "SERVER on DEVICE". */
static char *
volume_attached_to (JsonObject *volume)
{
  JsonNode *node = json_object_get_member (volume, "attachments");
  g_autoptr(GString) text = g_string_new (NULL);
  JsonArray *array;

  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    return g_strdup ("-");
  array = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *element = json_array_get_element (array, i);
      g_autofree char *server = NULL;
      g_autofree char *device = NULL;

      if (!JSON_NODE_HOLDS_OBJECT (element))
        continue;
      server = nlx_cli_display_member (json_node_get_object (element),
                                       "serverId");
      device = nlx_cli_display_member (json_node_get_object (element),
                                       "device");
      if (text->len > 0)
        g_string_append_c (text, '\n');
      g_string_append_printf (text, _("%s on %s"), server, device);
    }
  if (text->len == 0)
    return g_strdup ("-");
  return g_string_free (g_steal_pointer (&text), FALSE);
}

static gboolean
print_volume_answer (JsonNode *root,
                     GError **error)
{
  JsonObject *volume = nlx_cli_get_object (root, "volume", error);

  if (volume == NULL)
    return FALSE;
  if (nlx_cli_opt.json)
    nlx_cli_print_json (root);
  else
    nlx_cli_print_properties (volume);
  return TRUE;
}

/* One line of show's "volumes" row: "data /dev/vdb at /data". */
static char *
describe_attachment (NlxClient *client,
                     const char *volume_id,
                     JsonObject *attachment)
{
  const char *device = attachment ? nlx_json_get_string (attachment, "device") : NULL;
  g_autofree char *mount_path = device != NULL ? attachment_mount_path (client,
                                                                        volume_id)
                                               : NULL;

  if (device != NULL && mount_path != NULL)
    return g_strdup_printf (_("%s %s at %s"), volume_id, device, mount_path);
  if (device != NULL)
    return g_strdup_printf ("%s %s", volume_id, device);
  return g_strdup (volume_id);
}

/**
 * nlx_cli_describe_server_volumes:
 * @server: the server's GET answer's "server"
 * @row_out: (out) (nullable): the "volumes" row of show, one line per
 *   volume; NULL when the answer says nothing of volumes
 *
 * The server's answer lists only the volumes' ids, so their devices and
 * mount paths take one more request, made only when there is a volume.
 */
gboolean
nlx_cli_describe_server_volumes (NlxClient *client,
                                 const char *id,
                                 JsonObject *server,
                                 char **row_out,
                                 GError **error)
{
  JsonNode *attached = json_object_get_member (
    server, "os-extended-volumes:volumes_attached");
  g_autoptr(GError) local_error = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GString) text = g_string_new (NULL);
  g_autofree char *path = NULL;
  JsonArray *ids;
  JsonArray *attachments = NULL;

  *row_out = NULL;
  if (attached == NULL || !JSON_NODE_HOLDS_ARRAY (attached))
    return TRUE;
  ids = json_node_get_array (attached);
  if (json_array_get_length (ids) == 0)
    {
      *row_out = g_strdup ("-");
      return TRUE;
    }

  path = nlx_cli_server_path (id, "/os-volume_attachments");
  root = nlx_client_call (client, "GET", path, NULL, &local_error);
  if (root != NULL)
    {
      JsonNode *node = nlx_cli_get_member (root, "volumeAttachments",
                                           JSON_NODE_ARRAY, error);

      if (node == NULL)
        return FALSE;
      attachments = json_node_get_array (node);
    }
  else if (!g_error_matches (local_error, NLX_CLI_ERROR,
                             NLX_CLI_ERROR_NOT_FOUND))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  /* Else the server went meanwhile: its ids are still worth showing. */

  for (guint i = 0; i < json_array_get_length (ids); i++)
    {
      JsonNode *element = json_array_get_element (ids, i);
      JsonObject *attachment = NULL;
      g_autofree char *line = NULL;
      const char *volume_id;

      if (!JSON_NODE_HOLDS_OBJECT (element) ||
          (volume_id = nlx_json_get_string (json_node_get_object (element),
                                   "id")) == NULL)
        continue;
      for (guint j = 0; attachments != NULL &&
           j < json_array_get_length (attachments); j++)
        {
          JsonNode *candidate = json_array_get_element (attachments, j);

          if (JSON_NODE_HOLDS_OBJECT (candidate) &&
              g_strcmp0 (nlx_json_get_string (json_node_get_object (candidate),
                                     "volumeId"), volume_id) == 0)
            attachment = json_node_get_object (candidate);
        }
      line = describe_attachment (client, volume_id, attachment);
      if (text->len > 0)
        g_string_append_c (text, '\n');
      g_string_append (text, line);
    }
  *row_out = text->len > 0 ? g_string_free (g_steal_pointer (&text), FALSE)
                           : g_strdup ("-");
  return TRUE;
}

/* volume-create's SIZE: a whole number of GiB as in Nova, or of MiB or
 * GiB with the suffix M or G; returns MiB. */
static gboolean
parse_size (const char *text,
            guint64 *mib,
            GError **error)
{
  g_autofree char *number = g_strdup (text);
  gsize len = strlen (number);
  guint64 unit = 1024;
  guint64 value;

  if (len > 0 && (number[len - 1] == 'G' || number[len - 1] == 'g'))
    number[--len] = '\0';
  else if (len > 0 && (number[len - 1] == 'M' || number[len - 1] == 'm'))
    {
      number[--len] = '\0';
      unit = 1;
    }
  /* The bound only keeps the arithmetic whole; the daemon has the real
   * limit and says it. */
  if (!g_ascii_string_to_unsigned (number, 10, 1, G_MAXUINT32 / unit, &value,
                                   NULL))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("SIZE wants a whole number of GiB greater than 0, "
                     "optionally with the suffix M (MiB) or G (GiB), such as "
                     "16M, 512M or 2G; got “%s”"), text);
      return FALSE;
    }
  *mib = value * unit;
  return TRUE;
}

gboolean
nlx_cli_check_volume_create (char **args,
                             GError **error)
{
  if (!nlx_cli_check_volume_id ("NAME", args[0], error) ||
      !parse_size (args[1], &nlx_cli_opt.arg_size_mib, error))
    return FALSE;
  if (nlx_cli_opt.from_dir != NULL &&
      (*nlx_cli_opt.from_dir == '\0' ||
       !g_utf8_validate (nlx_cli_opt.from_dir, -1, NULL)))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("--from-dir wants the path of a directory, in UTF-8"));
      return FALSE;
    }
  if (nlx_cli_opt.from_dir != NULL && nlx_cli_opt.url != NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   _("--from-dir names a directory of the compute host, so "
                     "the API takes it only over the Unix socket; run "
                     "nova-lxc on that host without --url"));
      return FALSE;
    }
  return TRUE;
}

/* For commands whose first argument is a volume. */
gboolean
nlx_cli_check_volume_first (char **args,
                            GError **error)
{
  return nlx_cli_check_volume_id ("VOLUME", args[0], error);
}

/* For commands of a server and a volume. */
gboolean
nlx_cli_check_volume_second (char **args,
                             GError **error)
{
  return nlx_cli_check_volume_id ("VOLUME", args[1], error);
}

gboolean
nlx_cli_cmd_volume_create (NlxClient *client,
                           char **args,
                           GError **error)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) body = NULL;
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "volume");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "display_name");
  json_builder_add_string_value (builder, args[0]);
  /* Nova's "size" when it is whole GiB, so any Nova-like API takes it. */
  if (nlx_cli_opt.arg_size_mib % 1024 == 0)
    {
      json_builder_set_member_name (builder, "size");
      json_builder_add_int_value (builder,
                                  (gint64) (nlx_cli_opt.arg_size_mib / 1024));
    }
  else
    {
      json_builder_set_member_name (builder, "size_mb");
      json_builder_add_int_value (builder, (gint64) nlx_cli_opt.arg_size_mib);
    }
  if (nlx_cli_opt.fs != NULL)
    {
      json_builder_set_member_name (builder, "filesystem");
      json_builder_add_string_value (builder, nlx_cli_opt.fs);
    }
  if (nlx_cli_opt.from_dir != NULL)
    {
      /* The daemon reads it on this host, but from its own directory. */
      g_autofree char *absolute =
        g_canonicalize_filename (nlx_cli_opt.from_dir, NULL);

      json_builder_set_member_name (builder, "from_dir");
      json_builder_add_string_value (builder, absolute);
    }
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);

  root = nlx_client_call (client, "POST", "/os-volumes", body, error);
  return root != NULL && print_volume_answer (root, error);
}

gboolean
nlx_cli_cmd_volume_list (NlxClient *client,
                         char **args G_GNUC_UNUSED,
                         GError **error)
{
  const char *headers[] = {
    _("ID"), _("Status"), _("Size"), _("Filesystem"), _("Type"),
    _("Attached to"), NULL
  };
  g_autoptr(JsonNode) root = nlx_client_call (client, "GET",
                                              "/os-volumes/detail", NULL,
                                              error);
  g_autoptr(GPtrArray) rows = nlx_cli_rows_new ();
  JsonNode *volumes;
  JsonArray *array;

  if (root == NULL)
    return FALSE;
  volumes = nlx_cli_get_member (root, "volumes", JSON_NODE_ARRAY, error);
  if (volumes == NULL)
    return FALSE;
  if (nlx_cli_opt.json)
    {
      nlx_cli_print_json (root);
      return TRUE;
    }
  array = json_node_get_array (volumes);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      JsonObject *volume;
      char **row;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      volume = json_node_get_object (node);
      row = g_new0 (char *, 7);
      row[0] = nlx_cli_display_member (volume, "id");
      row[1] = nlx_cli_display_member (volume, "status");
      row[2] = volume_size (volume);
      row[3] = g_strdup (volume_metadata (volume, "nova_lxc:filesystem") != NULL
                         ? volume_metadata (volume, "nova_lxc:filesystem")
                         : "-");
      row[4] = nlx_cli_display_member (volume, "volumeType");
      row[5] = volume_attached_to (volume);
      g_ptr_array_add (rows, row);
    }
  nlx_cli_print_table (headers, rows);
  return TRUE;
}

gboolean
nlx_cli_cmd_volume_show (NlxClient *client,
                         char **args,
                         GError **error)
{
  g_autofree char *path = volume_path (args[0]);
  g_autoptr(JsonNode) root = nlx_client_call (client, "GET", path, NULL,
                                              error);

  return root != NULL && print_volume_answer (root, error);
}

gboolean
nlx_cli_cmd_volume_delete (NlxClient *client,
                           char **args,
                           GError **error)
{
  g_autofree char *path = volume_path (args[0]);
  g_autofree char *note = g_strdup_printf (
    _("Request to delete volume %s has been accepted."), args[0]);

  return nlx_cli_call_delete (client, path, note, error);
}

gboolean
nlx_cli_cmd_volume_attach (NlxClient *client,
                           char **args,
                           GError **error)
{
  g_autofree char *id = nlx_cli_resolve_server (client, args[0], NULL, error);
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) body = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *path = NULL;
  JsonObject *attachment;

  if (id == NULL)
    return FALSE;
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "volumeAttachment");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "volumeId");
  json_builder_add_string_value (builder, args[1]);
  if (nlx_cli_opt.device != NULL)
    {
      json_builder_set_member_name (builder, "device");
      json_builder_add_string_value (builder, nlx_cli_opt.device);
    }
  if (nlx_cli_opt.mount != NULL)
    {
      json_builder_set_member_name (builder, "mount_path");
      json_builder_add_string_value (builder, nlx_cli_opt.mount);
    }
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);

  path = nlx_cli_server_path (id, "/os-volume_attachments");
  root = nlx_client_call (client, "POST", path, body, error);
  if (root == NULL)
    return FALSE;
  attachment = nlx_cli_get_object (root, "volumeAttachment", error);
  if (attachment == NULL)
    return FALSE;
  if (nlx_cli_opt.json)
    nlx_cli_print_json (root);
  else
    {
      /* Nova's attachment has no mount path: the volume's metadata has
       * it, and this view shows it beside the device. */
      g_autofree char *mount_path =
        attachment_mount_path (client, nlx_json_get_string (attachment,
                                                            "volumeId"));
      g_autoptr(JsonObject) view = json_object_new ();
      g_autoptr(GList) names = json_object_get_members (attachment);

      /* The answer is immutable: the view is a copy. */
      for (GList *l = names; l != NULL; l = l->next)
        json_object_set_member (view, l->data,
                                json_node_copy (json_object_get_member (
                                  attachment, l->data)));
      if (mount_path != NULL)
        json_object_set_string_member (view, "mount_path", mount_path);
      nlx_cli_print_properties (view);
    }
  return TRUE;
}

gboolean
nlx_cli_cmd_volume_detach (NlxClient *client,
                           char **args,
                           GError **error)
{
  g_autofree char *id = nlx_cli_resolve_server (client, args[0], NULL, error);
  g_autofree char *path = NULL;
  g_autofree char *note = NULL;

  if (id == NULL)
    return FALSE;
  path = attachment_path (id, args[1]);
  /* The API answers once the volume is detached. */
  note = g_strdup_printf (_("Volume %s has been detached from server %s."),
                          args[1], args[0]);
  return nlx_cli_call_delete (client, path, note, error);
}

gboolean
nlx_cli_cmd_volume_attachments (NlxClient *client,
                                char **args,
                                GError **error)
{
  const char *headers[] = {
    _("Volume"), _("Device"), _("Mount path"), NULL
  };
  g_autofree char *id = nlx_cli_resolve_server (client, args[0], NULL, error);
  g_autofree char *path = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GPtrArray) rows = nlx_cli_rows_new ();
  JsonNode *attachments;
  JsonArray *array;

  if (id == NULL)
    return FALSE;
  path = nlx_cli_server_path (id, "/os-volume_attachments");
  root = nlx_client_call (client, "GET", path, NULL, error);
  if (root == NULL)
    return FALSE;
  attachments = nlx_cli_get_member (root, "volumeAttachments", JSON_NODE_ARRAY,
                                    error);
  if (attachments == NULL)
    return FALSE;
  if (nlx_cli_opt.json)
    {
      nlx_cli_print_json (root);
      return TRUE;
    }
  array = json_node_get_array (attachments);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      JsonObject *attachment;
      char **row;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      attachment = json_node_get_object (node);
      row = g_new0 (char *, 4);
      row[0] = nlx_cli_display_member (attachment, "volumeId");
      row[1] = nlx_cli_display_member (attachment, "device");
      row[2] = attachment_mount_path (client,
                                      nlx_json_get_string (attachment,
                                                           "volumeId"));
      if (row[2] == NULL)
        row[2] = g_strdup ("-");
      g_ptr_array_add (rows, row);
    }
  nlx_cli_print_table (headers, rows);
  return TRUE;
}
