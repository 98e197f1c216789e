/* nlx-instance-action.c: one entry of an instance's action history */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "common/nlx-error.h"
#include "common/nlx-json.h"
#include "model/nlx-instance-action.h"

/**
 * nlx_instance_action_new:
 *
 * An action asked for now, whose event starts now.
 */
NlxInstanceAction *
nlx_instance_action_new (const char *action,
                         const char *request_id,
                         const char *user_id,
                         const char *project_id,
                         const char *event,
                         const char *host)
{
  NlxInstanceAction *self = g_new0 (NlxInstanceAction, 1);

  self->action = g_strdup (action);
  self->request_id = g_strdup (request_id);
  self->user_id = g_strdup (user_id);
  self->project_id = g_strdup (project_id);
  self->event = g_strdup (event);
  self->host = g_strdup (host);
  self->start_time = g_date_time_new_now_utc ();
  self->updated_at = g_date_time_ref (self->start_time);
  self->event_start = g_date_time_ref (self->start_time);
  return self;
}

void
nlx_instance_action_free (NlxInstanceAction *action)
{
  if (action == NULL)
    return;
  g_free (action->action);
  g_free (action->request_id);
  g_free (action->user_id);
  g_free (action->project_id);
  g_free (action->message);
  g_free (action->event);
  g_free (action->result);
  g_free (action->traceback);
  g_free (action->host);
  g_clear_pointer (&action->start_time, g_date_time_unref);
  g_clear_pointer (&action->updated_at, g_date_time_unref);
  g_clear_pointer (&action->event_start, g_date_time_unref);
  g_clear_pointer (&action->finish_time, g_date_time_unref);
  g_free (action);
}

/**
 * nlx_instance_action_finish:
 * @why: (nullable): what went wrong, when not @ok
 *
 * Its event ended now, with Nova's result; a failure marks the action
 * "Error", as Nova's compute manager does.
 */
void
nlx_instance_action_finish (NlxInstanceAction *action,
                            gboolean ok,
                            const char *why)
{
  g_clear_pointer (&action->finish_time, g_date_time_unref);
  action->finish_time = g_date_time_new_now_utc ();
  g_date_time_unref (action->updated_at);
  action->updated_at = g_date_time_ref (action->finish_time);
  g_free (action->result);
  action->result = g_strdup (ok ? "Success" : "Error");
  g_clear_pointer (&action->traceback, g_free);
  if (!ok)
    {
      /* It quotes whatever failed, which need not be UTF-8; JSON must. */
      action->traceback = why ? g_utf8_make_valid (why, -1) : NULL;
      g_free (action->message);
      action->message = g_strdup ("Error");
    }
}

static void
add_string (JsonBuilder *builder,
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
add_time (JsonBuilder *builder,
          const char *name,
          GDateTime *time)
{
  g_autofree char *text = time ? g_date_time_format_iso8601 (time) : NULL;

  add_string (builder, name, text);
}

JsonNode *
nlx_instance_action_to_node (const NlxInstanceAction *action)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();

  json_builder_begin_object (builder);
  add_string (builder, "action", action->action);
  add_string (builder, "request_id", action->request_id);
  add_string (builder, "user_id", action->user_id);
  add_string (builder, "project_id", action->project_id);
  add_time (builder, "start_time", action->start_time);
  add_time (builder, "updated_at", action->updated_at);
  add_string (builder, "message", action->message);
  add_string (builder, "event", action->event);
  add_time (builder, "event_start", action->event_start);
  add_time (builder, "finish_time", action->finish_time);
  add_string (builder, "result", action->result);
  add_string (builder, "traceback", action->traceback);
  add_string (builder, "host", action->host);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

/* Member @name as a string; FALSE when it is neither a string nor (if
 * @nullable) null or absent. */
static gboolean
read_string (JsonObject *object,
             const char *name,
             gboolean nullable,
             char **out)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return nullable;
  if (!JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return FALSE;
  *out = g_strdup (json_node_get_string (node));
  return TRUE;
}

static gboolean
read_time (JsonObject *object,
           const char *name,
           gboolean nullable,
           GDateTime **out)
{
  g_autofree char *text = NULL;
  g_autoptr(GTimeZone) utc = g_time_zone_new_utc ();

  if (!read_string (object, name, nullable, &text))
    return FALSE;
  if (text == NULL)
    return TRUE;
  *out = g_date_time_new_from_iso8601 (text, utc);
  return *out != NULL;
}

/**
 * nlx_instance_action_new_from_node:
 *
 * Reads what nlx_instance_action_to_node() wrote; a damaged one is
 * refused, naming the member.
 *
 * Returns: (transfer full): the action, or %NULL with a #NLX_MODEL_ERROR
 */
NlxInstanceAction *
nlx_instance_action_new_from_node (JsonNode *node,
                                   GError **error)
{
  g_autoptr(NlxInstanceAction) action = g_new0 (NlxInstanceAction, 1);
  JsonObject *object;
  const char *wrong = NULL;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("An instance action must be a JSON object"));
      return NULL;
    }
  object = json_node_get_object (node);
  if (!read_string (object, "action", FALSE, &action->action))
    wrong = "action";
  else if (!read_string (object, "request_id", FALSE, &action->request_id))
    wrong = "request_id";
  else if (!read_string (object, "user_id", FALSE, &action->user_id))
    wrong = "user_id";
  else if (!read_string (object, "project_id", FALSE, &action->project_id))
    wrong = "project_id";
  else if (!read_time (object, "start_time", FALSE, &action->start_time))
    wrong = "start_time";
  else if (!read_time (object, "updated_at", FALSE, &action->updated_at))
    wrong = "updated_at";
  else if (!read_string (object, "message", TRUE, &action->message))
    wrong = "message";
  else if (!read_string (object, "event", FALSE, &action->event))
    wrong = "event";
  else if (!read_time (object, "event_start", FALSE, &action->event_start))
    wrong = "event_start";
  else if (!read_time (object, "finish_time", TRUE, &action->finish_time))
    wrong = "finish_time";
  else if (!read_string (object, "result", TRUE, &action->result))
    wrong = "result";
  else if (!read_string (object, "traceback", TRUE, &action->traceback))
    wrong = "traceback";
  else if (!read_string (object, "host", FALSE, &action->host))
    wrong = "host";
  if (wrong != NULL)
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("An instance action has an unknown value or the wrong "
                     "type in “%s”"), wrong);
      return NULL;
    }
  return g_steal_pointer (&action);
}

/* ---- deleted servers' histories ---------------------------------------- */

void
nlx_deleted_server_free (NlxDeletedServer *server)
{
  if (server == NULL)
    return;
  g_free (server->uuid);
  g_free (server->project_id);
  g_free (server->user_id);
  g_clear_pointer (&server->deleted_at, g_date_time_unref);
  g_clear_pointer (&server->actions, g_ptr_array_unref);
  g_free (server->text);
  g_free (server);
}

static char *
deleted_server_to_text (const NlxDeletedServer *server)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (builder);
  add_string (builder, "uuid", server->uuid);
  add_string (builder, "project_id", server->project_id);
  add_string (builder, "user_id", server->user_id);
  add_time (builder, "deleted_at", server->deleted_at);
  json_builder_set_member_name (builder, "actions");
  json_builder_begin_array (builder);
  for (guint a = 0; a < server->actions->len; a++)
    json_builder_add_value (builder,
                            nlx_instance_action_to_node (server->actions->pdata[a]));
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  return json_to_string (root, FALSE);
}

/**
 * nlx_deleted_servers_to_data:
 * @servers: (element-type NlxDeletedServer): oldest deletion first
 *
 * Each server's text is made once and kept (@text): the file is
 * written whole at every delete, and building the JSON of a thousand
 * deleted servers each time (on the daemon's main loop) made a delete
 * take ~80 ms longer at the end of a thousand deletes; joining kept
 * texts takes well under one.
 *
 * Returns: (transfer full): the text nlx_deleted_servers_load() reads
 */
char *
nlx_deleted_servers_to_data (GPtrArray *servers)
{
  GString *data = g_string_new ("{\"deleted_servers\":[");

  for (guint i = 0; i < servers->len; i++)
    {
      NlxDeletedServer *server = servers->pdata[i];

      if (server->text == NULL)
        server->text = deleted_server_to_text (server);
      if (i > 0)
        g_string_append_c (data, ',');
      g_string_append (data, server->text);
    }
  g_string_append (data, "]}");
  return g_string_free (data, FALSE);
}

static NlxDeletedServer *
read_deleted_server (JsonNode *node,
                     GError **error)
{
  g_autoptr(NlxDeletedServer) server = g_new0 (NlxDeletedServer, 1);
  JsonObject *object;
  JsonNode *actions;

  server->actions =
    g_ptr_array_new_with_free_func ((GDestroyNotify) nlx_instance_action_free);
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("a deleted server must be a JSON object"));
      return NULL;
    }
  object = json_node_get_object (node);
  actions = json_object_get_member (object, "actions");
  if (!read_string (object, "uuid", FALSE, &server->uuid) ||
      !g_uuid_string_is_valid (server->uuid) ||
      !read_string (object, "project_id", TRUE, &server->project_id) ||
      !read_string (object, "user_id", TRUE, &server->user_id) ||
      !read_time (object, "deleted_at", FALSE, &server->deleted_at) ||
      actions == NULL || !JSON_NODE_HOLDS_ARRAY (actions))
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("a deleted server lacks its uuid, deleted_at or actions, "
                     "or has one of the wrong type"));
      return NULL;
    }
  for (guint i = 0; i < json_array_get_length (json_node_get_array (actions)); i++)
    {
      NlxInstanceAction *action =
        nlx_instance_action_new_from_node (
          json_array_get_element (json_node_get_array (actions), i), error);

      if (action == NULL)
        return NULL;
      g_ptr_array_add (server->actions, action);
    }
  return g_steal_pointer (&server);
}

/**
 * nlx_deleted_servers_load:
 * @path: the file nlx_deleted_servers_to_data() wrote; missing means none
 *
 * Returns: (transfer full) (element-type NlxDeletedServer): as written,
 *   or %NULL with an error naming @path
 */
GPtrArray *
nlx_deleted_servers_load (const char *path,
                          GError **error)
{
  g_autoptr(GPtrArray) servers =
    g_ptr_array_new_with_free_func ((GDestroyNotify) nlx_deleted_server_free);
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GError) local_error = NULL;
  JsonNode *list = NULL;

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    return g_steal_pointer (&servers);
  root = nlx_json_parse_file (path, &local_error);
  if (root != NULL && JSON_NODE_HOLDS_OBJECT (root))
    list = json_object_get_member (json_node_get_object (root),
                                   "deleted_servers");
  if (list != NULL && JSON_NODE_HOLDS_ARRAY (list))
    {
      JsonArray *array = json_node_get_array (list);

      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          NlxDeletedServer *server =
            read_deleted_server (json_array_get_element (array, i),
                                 &local_error);

          if (server == NULL)
            break;
          g_ptr_array_add (servers, server);
        }
    }
  else if (local_error == NULL)
    g_set_error (&local_error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                 _("it is not an object with a “deleted_servers” list"));
  if (local_error != NULL)
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("Cannot read the deleted servers' actions in %s: %s"),
                   path, local_error->message);
      return NULL;
    }
  return g_steal_pointer (&servers);
}
