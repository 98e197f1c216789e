/* nlx-api-instance-actions.c: /servers/{id}/os-instance-actions[/{request
 * id}], a server's action history as Nova shows it, so that a failed
 * operation can be traced to its request.  The manager records the
 * actions (nlx-manager-actions.c); here they take Nova's shape at each
 * microversion and its default policy: a member sees its project's
 * servers' actions (nlx-api.c's allowed() has answered 404 for others'),
 * their events from 2.51 on, and only an admin sees the traceback (and,
 * from 2.62, the host). */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "api/nlx-api-keystone.h"
#include "api/nlx-api-private.h"

/* The server whose actions are asked for: a live one, or (from 2.21) one
 * deleted whose history is still kept (nlx-manager-actions.c bounds it);
 * Nova's 404 otherwise.  nlx-api.c's allowed() has applied the policy to
 * either. */
typedef struct {
  const char *uuid;
  const char *project_id;
  GPtrArray *actions;
} Server;

static gboolean
find_server (NlxApiRequest *request,
             const char *uuid,
             Server *server)
{
  g_autoptr(GError) error = NULL;
  const NlxRecord *record = nlx_manager_lookup (request->api->manager, uuid,
                                                &error);
  const NlxDeletedServer *deleted = NULL;

  if (record != NULL)
    {
      server->uuid = record->instance->uuid;
      server->project_id = record->instance->project_id;
      server->actions = record->actions;
      return TRUE;
    }
  if (g_error_matches (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_NOT_FOUND) &&
      nlx_api_has (request, NLX_API_ACTIONS_OF_DELETED))
    deleted = nlx_manager_lookup_deleted (request->api->manager, uuid);
  if (deleted == NULL)
    {
      nlx_api_respond_error (request, error);
      return FALSE;
    }
  server->uuid = deleted->uuid;
  server->project_id = deleted->project_id;
  server->actions = deleted->actions;
  return TRUE;
}

static void
add_action (JsonBuilder *builder,
            NlxApiRequest *request,
            const Server *server,
            const NlxInstanceAction *action)
{
  nlx_api_add_string (builder, "action", action->action);
  nlx_api_add_string (builder, "instance_uuid", server->uuid);
  nlx_api_add_string (builder, "request_id", action->request_id);
  nlx_api_add_string (builder, "user_id", action->user_id);
  nlx_api_add_string (builder, "project_id", action->project_id);
  nlx_api_add_time (builder, "start_time", action->start_time);
  nlx_api_add_string (builder, "message", action->message);
  if (nlx_api_has (request, NLX_API_ACTIONS_PAGING))
    nlx_api_add_time (builder, "updated_at", action->updated_at);
}

/* ---- the list ---------------------------------------------------------- */

typedef struct {
  gint64 limit;                 /* -1: none */
  char *marker;
  GDateTime *changes_since;
  GDateTime *changes_before;
} ActionQuery;

static void
action_query_clear (ActionQuery *query)
{
  g_free (query->marker);
  g_clear_pointer (&query->changes_since, g_date_time_unref);
  g_clear_pointer (&query->changes_before, g_date_time_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (ActionQuery, action_query_clear)

/* 2.58's query: limit, marker, changes-since and (2.66) changes-before;
 * other parameters are ignored, as Nova's schema allows them.  Answers
 * 400 itself. */
static gboolean
read_query (NlxApiRequest *request,
            ActionQuery *query)
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
      else if (g_str_equal (k, "changes-since"))
        {
          if (!nlx_api_read_query_time (request, k, v, &query->changes_since))
            return FALSE;
        }
      else if (g_str_equal (k, "changes-before") &&
               nlx_api_has (request, NLX_API_CHANGES_BEFORE))
        {
          if (!nlx_api_read_query_time (request, k, v, &query->changes_before))
            return FALSE;
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
  return TRUE;
}

static gboolean
query_matches (const ActionQuery *query,
               const NlxInstanceAction *action)
{
  return (query->changes_since == NULL ||
          g_date_time_compare (action->updated_at, query->changes_since) >= 0) &&
         (query->changes_before == NULL ||
          g_date_time_compare (action->updated_at, query->changes_before) <= 0);
}

/* GET /servers/{uuid}/os-instance-actions: newest first, as Nova
 * (created_at desc). */
void
nlx_api_list_instance_actions (NlxApiRequest *request,
                               const char *method G_GNUC_UNUSED,
                               const char * const *ids)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;
  g_auto(ActionQuery) query = { 0 };
  Server server;
  GPtrArray *actions;
  guint start, shown = 0;
  const char *last = NULL;
  gboolean paging = nlx_api_has (request, NLX_API_ACTIONS_PAGING);

  query.limit = -1;
  if (paging && !read_query (request, &query))
    return;
  if (!find_server (request, ids[0], &server))
    return;
  actions = server.actions;
  start = actions->len;
  if (query.marker != NULL)
    {
      for (start = actions->len; start > 0; start--)
        if (g_str_equal (((NlxInstanceAction *)
                          actions->pdata[start - 1])->request_id,
                         query.marker))
          break;
      if (start == 0)
        {
          g_autofree char *message =
            g_strdup_printf (_("Marker %s could not be found."), query.marker);

          /* Nova's MarkerNotFound here is 400. */
          nlx_api_respond_fault (request, 400, message);
          return;
        }
      start--;
    }

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "instanceActions");
  json_builder_begin_array (builder);
  for (guint i = start; i > 0; i--)
    {
      const NlxInstanceAction *action = actions->pdata[i - 1];

      if (query.limit >= 0 && shown == query.limit)
        break;
      if (!query_matches (&query, action))
        continue;
      json_builder_begin_object (builder);
      add_action (builder, request, &server, action);
      json_builder_end_object (builder);
      last = action->request_id;
      shown++;
    }
  json_builder_end_array (builder);
  /* As Nova's view: a full page links to the next. */
  if (paging && query.limit > 0 && shown == query.limit)
    nlx_api_add_next_link (builder, request, "links", last);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  nlx_api_respond (request, 200, body);
}

/* ---- one action -------------------------------------------------------- */

/* Like Nova's utils.generate_hostid, and as nlx-api-servers.c's hostId:
 * the same host looks the same only to the same project. */
static char *
host_id (const char *project_id,
         const char *host)
{
  g_autofree char *data = NULL;

  if (host == NULL || *host == '\0')
    return g_strdup ("");
  data = g_strconcat (project_id, host, NULL);
  return g_compute_checksum_for_string (G_CHECKSUM_SHA256, data, -1);
}

static void
add_event (JsonBuilder *builder,
           NlxApiRequest *request,
           const Server *server,
           const NlxInstanceAction *action,
           gboolean admin)
{
  const char *project_id = *action->project_id != '\0'
                             ? action->project_id
                             : server->project_id;

  json_builder_begin_object (builder);
  nlx_api_add_string (builder, "event", action->event);
  nlx_api_add_time (builder, "start_time", action->event_start);
  if (action->finish_time != NULL)
    nlx_api_add_time (builder, "finish_time", action->finish_time);
  else
    nlx_api_add_string (builder, "finish_time", NULL);
  nlx_api_add_string (builder, "result", action->result);
  if (admin)
    nlx_api_add_string (builder, "traceback", action->traceback);
  if (admin && nlx_api_has (request, NLX_API_ACTION_EVENT_HOST))
    nlx_api_add_string (builder, "host", action->host);
  if (nlx_api_has (request, NLX_API_ACTION_EVENT_HOST))
    {
      g_autofree char *hostid = host_id (project_id ? project_id : "",
                                         action->host);

      nlx_api_add_string (builder, "hostId", hostid);
    }
  /* The fault's message, which Nova shows to owners too: no traceback. */
  if (nlx_api_has (request, NLX_API_ACTION_EVENT_DETAILS))
    nlx_api_add_string (builder, "details", action->traceback);
  json_builder_end_object (builder);
}

/* GET /servers/{uuid}/os-instance-actions/{request_id} */
void
nlx_api_show_instance_action (NlxApiRequest *request,
                              const char *method G_GNUC_UNUSED,
                              const char * const *ids)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;
  Server server;
  const NlxInstanceAction *action = NULL;
  gboolean admin = nlx_api_caller_is_admin (request);

  if (!find_server (request, ids[0], &server))
    return;
  /* Newest first: a request id is one action's (two only if a caller
   * sent the same one twice, and then the latest). */
  for (guint i = server.actions->len; i > 0 && action == NULL; i--)
    if (g_str_equal (((NlxInstanceAction *)
                      server.actions->pdata[i - 1])->request_id, ids[1]))
      action = server.actions->pdata[i - 1];
  if (action == NULL)
    {
      g_autofree char *message = g_strdup_printf (_("Action %s not found"),
                                                  ids[1]);

      nlx_api_respond_fault (request, 404, message);
      return;
    }
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "instanceAction");
  json_builder_begin_object (builder);
  add_action (builder, request, &server, action);
  /* Nova's policy: events for admins always, for the server's project
   * from 2.51 on. */
  if (admin || nlx_api_has (request, NLX_API_ACTION_EVENTS_FOR_OWNERS))
    {
      json_builder_set_member_name (builder, "events");
      json_builder_begin_array (builder);
      add_event (builder, request, &server, action, admin);
      json_builder_end_array (builder);
    }
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  nlx_api_respond (request, 200, body);
}
