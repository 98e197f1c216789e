/* bench-soak-clients.c: the HTTP clients of bench-soak: their calls, the
 * request mix, and the workers that drive each server through its cycle. */
#include "config.h"

#include <string.h>
#include <unistd.h>
#include <gio/gunixsocketaddress.h>

#include "nlx-bench-soak.h"

/* ---- HTTP clients ------------------------------------------------------- */

Client *
client_new (Soak *soak,
            gboolean tcp)
{
  Client *client = g_new0 (Client, 1);

  client->soak = soak;
  client->tcp = tcp;
  if (tcp)
    {
      client->session = soup_session_new_with_options ("timeout",
                                                        REQUEST_TIMEOUT_S,
                                                        NULL);
      client->base = g_strdup_printf ("http://127.0.0.1:%u/v2.1", soak->port);
    }
  else
    {
      g_autoptr(GSocketAddress) address =
        g_unix_socket_address_new (soak->socket_path);

      client->session = soup_session_new_with_options (
        "remote-connectable", address, "timeout", REQUEST_TIMEOUT_S, NULL);
      client->base = g_strdup ("http://localhost/v2.1");
    }
  return client;
}

void
client_free (Client *client)
{
  g_clear_object (&client->session);
  g_free (client->base);
  g_free (client);
}

/* The message of a Nova fault body {"NAME": {"code": N, "message": S}}. */
char *
fault_message (JsonNode *node)
{
  JsonObject *root;
  g_autoptr(GList) members = NULL;
  JsonNode *inner;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return g_strdup ("(no fault body)");
  root = json_node_get_object (node);
  members = json_object_get_members (root);
  if (members == NULL)
    return g_strdup ("(empty body)");
  inner = json_object_get_member (root, members->data);
  if (!JSON_NODE_HOLDS_OBJECT (inner) ||
      !json_object_has_member (json_node_get_object (inner), "message"))
    return g_strdup ("(no message)");
  return g_strdup (json_object_get_string_member (json_node_get_object (inner),
                                                  "message"));
}

/* Sends one request; returns FALSE when there was no answer (counted).
 * Every 5xx is counted and kept with its time, to be judged against the
 * libvirtd outages at the end. */
gboolean
client_call (Client *client,
             CallKind kind,
             const char *method,
             const char *path,
             const char *body,
             guint *status_out,
             JsonNode **reply)
{
  Soak *soak = client->soak;
  g_autofree char *url = g_strconcat (client->base, path, NULL);
  g_autoptr(SoupMessage) msg = soup_message_new (method, url);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  SoupMessageHeaders *headers;
  guint status;
  gint64 now;

  if (msg == NULL)
    g_error ("bench-soak: bad URL %s", url);
  headers = soup_message_get_request_headers (msg);
  soup_message_headers_append (headers, "Accept", "application/json");
  if (client->tcp && kind != CALL_NO_TOKEN)
    soup_message_headers_append (headers, "X-Auth-Token", soak->token);
  if (body != NULL)
    {
      g_autoptr(GBytes) request = g_bytes_new (body, strlen (body));

      soup_message_set_request_body_from_bytes (msg, "application/json",
                                                request);
    }
  bytes = soup_session_send_and_read (client->session, msg, NULL, &error);
  now = g_get_monotonic_time ();
  if (bytes == NULL)
    {
      g_mutex_lock (&soak->lock);
      soak->counts.unanswered++;
      /* Outside a kill, the daemon dropped a connection it should have
       * answered. */
      if (!in_window_locked (soak, now - G_USEC_PER_SEC, 1u << WINDOW_DAEMON) &&
          !in_window_locked (soak, now, 1u << WINDOW_DAEMON))
        g_ptr_array_add (soak->problems,
                         g_strdup_printf ("[%.1f s] %s %s over %s got no "
                                          "answer outside a daemon restart: "
                                          "%s", since_start (soak, now),
                                          method, path,
                                          client->tcp ? "TCP" : "the Unix "
                                          "socket", error->message));
      g_mutex_unlock (&soak->lock);
      return FALSE;
    }
  status = soup_message_get_status (msg);
  if (status_out != NULL)
    *status_out = status;
  if (reply != NULL || status >= 500)
    {
      g_autoptr(JsonParser) parser = json_parser_new_immutable ();
      gsize size;
      const char *data = g_bytes_get_data (bytes, &size);

      gboolean parsed = size > 0 &&
                        json_parser_load_from_data (parser, data, size, NULL);

      if (status >= 500)
        {
          g_autofree char *message = fault_message (parsed ? json_parser_get_root (parser)
                                                           : NULL);
          g_autofree char *event = g_strdup_printf (
            "[%.1f s] %s %s over %s: %u %s", since_start (soak, now), method,
            path, client->tcp ? "TCP" : "Unix", status, message);

          g_mutex_lock (&soak->lock);
          soak->counts.answers_5xx++;
          g_ptr_array_add (soak->events_5xx, g_steal_pointer (&event));
          g_array_append_val (soak->times_5xx, now);
          soak->codes_5xx = g_realloc (soak->codes_5xx, soak->events_5xx->len);
          soak->codes_5xx[soak->events_5xx->len - 1] = status == 503;
          g_mutex_unlock (&soak->lock);
        }
      if (parsed && json_parser_get_root (parser) != NULL && reply != NULL)
        *reply = json_parser_steal_root (parser);
    }
  g_mutex_lock (&soak->lock);
  soak->counts.requests++;
  if (kind != CALL_GOOD)
    {
      soak->counts.bad_requests++;
      if (status < 400 || status >= 500 ||
          (kind == CALL_NO_TOKEN && status != 401))
        {
          soak->counts.bad_misanswered++;
          g_ptr_array_add (soak->problems,
                           g_strdup_printf ("[%.1f s] bad request %s %s over "
                                            "%s answered %u, not a 4xx",
                                            since_start (soak, now), method,
                                            path, client->tcp ? "TCP" : "Unix",
                                            status));
        }
    }
  g_mutex_unlock (&soak->lock);
  return TRUE;
}

const char *
string_member (JsonObject *object,
               const char *name)
{
  JsonNode *node;

  if (object == NULL || !json_object_has_member (object, name))
    return NULL;
  node = json_object_get_member (object, name);
  if (json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

/* @root's member @name when it holds a node of @type, else %NULL. */
static JsonNode *
member_of_type (JsonNode *root,
                const char *name,
                JsonNodeType type)
{
  JsonObject *object;
  JsonNode *member;

  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return NULL;
  object = json_node_get_object (root);
  member = json_object_get_member (object, name);
  return member != NULL && json_node_get_node_type (member) == type ? member
                                                                   : NULL;
}

JsonObject *
object_member (JsonNode *root,
               const char *name)
{
  JsonNode *member = member_of_type (root, name, JSON_NODE_OBJECT);

  return member ? json_node_get_object (member) : NULL;
}

JsonArray *
array_member (JsonNode *root,
              const char *name)
{
  JsonNode *member = member_of_type (root, name, JSON_NODE_ARRAY);

  return member ? json_node_get_array (member) : NULL;
}

/* ---- the request mix ------------------------------------------------------ */

static char *
random_server (Soak *soak)
{
  char *id = NULL;
  guint start = g_random_int_range (0, SERVERS);

  g_mutex_lock (&soak->lock);
  for (guint i = 0; i < SERVERS && id == NULL; i++)
    if (soak->slots[(start + i) % SERVERS].id != NULL)
      id = g_strdup (soak->slots[(start + i) % SERVERS].id);
  g_mutex_unlock (&soak->lock);
  return id;
}

/* A read that must be 200 (a server show may be 404: it was deleted). */
static void
mix_get (Client *client,
         const char *path,
         gboolean may_be_gone)
{
  guint status = 0;

  if (!client_call (client, CALL_GOOD, "GET", path, NULL, &status, NULL) ||
      status == SOUP_STATUS_OK || status >= 500 ||
      (may_be_gone && status == SOUP_STATUS_NOT_FOUND))
    return;
  g_mutex_lock (&client->soak->lock);
  client->soak->counts.unexpected++;
  g_ptr_array_add (client->soak->problems,
                   g_strdup_printf ("[%.1f s] GET %s over %s answered %u",
                                    since_start (client->soak,
                                                 g_get_monotonic_time ()),
                                    path, client->tcp ? "TCP" : "Unix",
                                    status));
  g_mutex_unlock (&client->soak->lock);
}

gpointer
mix_thread (gpointer data)
{
  MixArgs *args = data;
  Soak *soak = args->soak;
  g_autoptr(Client) client = client_new (soak, args->tcp);
  guint round = 0;

  for (;;)
    {
      g_autofree char *id = NULL;
      g_autofree char *path = NULL;
      gboolean stop, pause;

      g_mutex_lock (&soak->lock);
      stop = soak->stop_mix;
      pause = soak->pause_mix;
      g_mutex_unlock (&soak->lock);
      if (stop)
        break;
      if (pause)
        {
          g_usleep (100 * 1000);
          continue;
        }
      round++;
      switch (round % 4)
        {
        case 0:
          mix_get (client, "/servers/detail", FALSE);
          break;
        case 1:
          mix_get (client, "/flavors", FALSE);
          break;
        case 2:
          id = random_server (soak);
          path = g_strconcat ("/servers/", id ? id : "detail", NULL);
          mix_get (client, path, TRUE);
          break;
        default:
          mix_get (client, "/os-hypervisors", FALSE);
          break;
        }
      /* Now and then a bad request, which must get a 4xx. */
      if (round % 20 == 0)
        switch ((round / 20) % (args->tcp ? 5 : 4))
          {
          case 0:
            client_call (client, CALL_BAD, "GET",
                         "/servers/7e57d00d-0000-4000-8000-000000000000",
                         NULL, NULL, NULL);
            break;
          case 1:
            client_call (client, CALL_BAD, "POST", "/servers",
                         "{\"server\": {\"name\": ", NULL, NULL);
            break;
          case 2:
            g_clear_pointer (&id, g_free);
            id = random_server (soak);
            g_clear_pointer (&path, g_free);
            path = g_strdup_printf ("/servers/%s/action",
                                    id ? id : "7e57d00d");
            client_call (client, CALL_BAD, "POST", path,
                         "{\"nlx-soak-no-such-action\": null}", NULL, NULL);
            break;
          case 3:
            client_call (client, CALL_BAD, "PUT", "/flavors", "{}", NULL,
                         NULL);
            break;
          default:
            client_call (client, CALL_NO_TOKEN, "GET", "/servers", NULL,
                         NULL, NULL);
            break;
          }
      g_mutex_lock (&soak->lock);
      soak->mix_done[args->tcp]++;
      g_mutex_unlock (&soak->lock);
      g_usleep (MIX_INTERVAL_US);
    }
  return NULL;
}

/* ---- the servers ----------------------------------------------------------- */

void
server_view_clear (ServerView *view)
{
  g_clear_pointer (&view->status, g_free);
  g_clear_pointer (&view->task_state, g_free);
  g_clear_pointer (&view->fault, g_free);
}

/* FALSE when there was no usable answer. */
gboolean
server_get (Client *client,
            const char *id,
            ServerView *view)
{
  g_autofree char *path = g_strconcat ("/servers/", id, NULL);
  g_autoptr(JsonNode) reply = NULL;
  JsonObject *server;
  JsonObject *fault;
  guint status;

  if (!client_call (client, CALL_GOOD, "GET", path, NULL, &status, &reply))
    return FALSE;
  if (status == SOUP_STATUS_NOT_FOUND)
    {
      view->status = g_strdup ("");
      return TRUE;
    }
  server = object_member (reply, "server");
  if (status != SOUP_STATUS_OK || string_member (server, "status") == NULL)
    return FALSE;
  view->status = g_strdup (string_member (server, "status"));
  view->task_state = g_strdup (string_member (server, "OS-EXT-STS:task_state"));
  fault = json_object_has_member (server, "fault") &&
          JSON_NODE_HOLDS_OBJECT (json_object_get_member (server, "fault"))
          ? json_object_get_object_member (server, "fault") : NULL;
  view->fault = g_strdup (string_member (fault, "message"));
  return TRUE;
}

/* Whether the slot's volume is attached to its server: -1 when unknown. */
static int
volume_attached (Client *client,
                 Slot *slot)
{
  g_autofree char *path = g_strdup_printf ("/servers/%s/os-volume_attachments",
                                           slot->id);
  g_autoptr(JsonNode) reply = NULL;
  JsonArray *attachments;
  guint status;

  if (!client_call (client, CALL_GOOD, "GET", path, NULL, &status, &reply) ||
      status != SOUP_STATUS_OK ||
      (attachments = array_member (reply, "volumeAttachments")) == NULL)
    return -1;
  for (guint i = 0; i < json_array_get_length (attachments); i++)
    if (g_strcmp0 (string_member (json_array_get_object_element (attachments, i),
                                  "volumeId"), slot->volume) == 0)
      return 1;
  return 0;
}

/* The id of the server named @name, when the daemon has one. */
static char *
find_by_name (Client *client,
              const char *name)
{
  g_autoptr(JsonNode) reply = NULL;
  JsonArray *servers;
  guint status;

  if (!client_call (client, CALL_GOOD, "GET", "/servers", NULL, &status,
                    &reply) ||
      status != SOUP_STATUS_OK ||
      (servers = array_member (reply, "servers")) == NULL)
    return NULL;
  for (guint i = 0; i < json_array_get_length (servers); i++)
    {
      JsonObject *server = json_array_get_object_element (servers, i);

      if (g_strcmp0 (string_member (server, "name"), name) == 0)
        return g_strdup (string_member (server, "id"));
    }
  return NULL;
}

static void
count_op (Soak *soak,
          Op op,
          guint status)
{
  g_mutex_lock (&soak->lock);
  soak->counts.ops_sent[op]++;
  if (status >= 200 && status < 300)
    soak->counts.ops_ok[op]++;
  else if (status == SOUP_STATUS_CONFLICT && op == OP_SNAPSHOT)
    soak->counts.snapshot_conflicts++;
  else if (status == SOUP_STATUS_CONFLICT)
    soak->counts.conflicts++;
  g_mutex_unlock (&soak->lock);
}

static void
slot_set_id (Slot *slot,
             const char *id)
{
  Soak *soak = slot->soak;

  g_mutex_lock (&soak->lock);
  g_free (slot->id);
  slot->id = g_strdup (id);
  if (id != NULL && !g_hash_table_contains (soak->uuids, id))
    g_hash_table_insert (soak->uuids, g_strdup (id),
                         g_strdup_printf ("soak-%u-%u", slot->index,
                                          slot->generation));
  g_mutex_unlock (&soak->lock);
}

static gboolean
slot_create (Client *client,
             Slot *slot)
{
  g_autofree char *name = g_strdup_printf ("soak-%u-%u", slot->index,
                                           slot->generation);
  g_autofree char *body = g_strdup_printf (
    "{\"server\": {\"name\": \"%s\", \"flavorRef\": \"" FLAVOR "\", "
    "\"imageRef\": \"" IMAGE "\"}}", name);
  g_autoptr(JsonNode) reply = NULL;
  g_autofree char *found = NULL;
  const char *id;
  guint status = 0;

  if (!client_call (client, CALL_GOOD, "POST", "/servers", body, &status,
                    &reply))
    {
      /* The daemon may have made it before it died: names are unique. */
      while ((found = find_by_name (client, name)) == NULL &&
             !interrupted && !g_atomic_int_get (&slot->soak->stop_workers) &&
             client_call (client, CALL_GOOD, "GET", "",
                                          NULL, &status, NULL) == FALSE)
        g_usleep (POLL_INTERVAL_US);
      if (found == NULL)
        found = find_by_name (client, name);
      if (found != NULL)
        {
          count_op (slot->soak, OP_CREATE, SOUP_STATUS_ACCEPTED);
          slot_set_id (slot, found);
          return TRUE;
        }
      return FALSE;
    }
  count_op (slot->soak, OP_CREATE, status);
  id = string_member (object_member (reply, "server"), "id");
  if (status != SOUP_STATUS_ACCEPTED || id == NULL)
    {
      g_autofree char *message = fault_message (reply);

      if (status != SOUP_STATUS_SERVICE_UNAVAILABLE)
        problem (slot->soak, "creating %s answered %u: %s", name, status,
                 message);
      return FALSE;
    }
  slot_set_id (slot, id);
  return TRUE;
}

/* A server in ERROR: is libvirt of the same opinion? */
static void
judge_error (Client *client G_GNUC_UNUSED,
             Slot *slot,
             const ServerView *view)
{
  Soak *soak = slot->soak;
  DomainState state = domain_state (slot->id);
  gboolean false_error;

  /* An ERROR while libvirtd is down is judged once it is back. */
  if (state == DOMAIN_UNKNOWN && wait_libvirt (120))
    state = domain_state (slot->id);
  false_error = state == DOMAIN_RUNNING || state == DOMAIN_SHUTOFF;

  g_mutex_lock (&soak->lock);
  soak->counts.errors++;
  if (false_error)
    soak->counts.false_errors++;
  g_mutex_unlock (&soak->lock);
  if (false_error)
    problem (soak, "false ERROR: server %s (slot %u) is ERROR ('%s') while "
             "libvirt has its domain %s", slot->id, slot->index,
             view->fault ? view->fault : "no fault", domain_state_names[state]);
  else
    note (soak, "server %s (slot %u) is ERROR ('%s'); libvirt: %s",
          slot->id, slot->index, view->fault ? view->fault : "no fault",
          domain_state_names[state]);
}

/* Sends @op for the server in @view's state.  Returns whether the cycle
 * moves on (done, or it does not apply to this state). */
static gboolean
slot_operate (Client *client,
              Slot *slot,
              Op op,
              const ServerView *view)
{
  Soak *soak = slot->soak;
  g_autofree char *server_path = g_strconcat ("/servers/", slot->id, NULL);
  g_autofree char *action_path = g_strconcat (server_path, "/action", NULL);
  g_autofree char *body = NULL;
  g_autofree char *path = NULL;
  g_autoptr(JsonNode) reply = NULL;
  gboolean active = g_str_equal (view->status, "ACTIVE");
  gboolean shutoff = g_str_equal (view->status, "SHUTOFF");
  const char *method = "POST";
  gboolean started_first = FALSE;
  guint status = 0;
  int attached;

  switch (op)
    {
    case OP_ATTACH:
    case OP_DETACH:
      if (!active && !shutoff)
        return FALSE;
      attached = volume_attached (client, slot);
      if (attached < 0)
        return FALSE;
      if (attached == (op == OP_ATTACH))
        return TRUE;
      if (op == OP_ATTACH)
        {
          path = g_strconcat (server_path, "/os-volume_attachments", NULL);
          body = g_strdup_printf ("{\"volumeAttachment\": {\"volumeId\": "
                                  "\"%s\", \"mount_path\": \"/data\"}}",
                                  slot->volume);
        }
      else
        {
          path = g_strconcat (server_path, "/os-volume_attachments/",
                              slot->volume, NULL);
          method = "DELETE";
        }
      break;
    case OP_REBOOT:
    case OP_STOP:
      if (shutoff)
        {
          if (op == OP_STOP)
            return TRUE;
          /* Back up first, then the reboot. */
          op = OP_START;
          started_first = TRUE;
          body = g_strdup ("{\"os-start\": null}");
        }
      else if (!active)
        return FALSE;
      else
        body = g_strdup (op == OP_STOP ? "{\"os-stop\": null}"
                                       : "{\"reboot\": {\"type\": \"SOFT\"}}");
      path = g_strdup (action_path);
      break;
    case OP_START:
      if (active)
        return TRUE;
      if (!shutoff)
        return FALSE;
      path = g_strdup (action_path);
      body = g_strdup ("{\"os-start\": null}");
      break;
    case OP_SNAPSHOT:
      if (!active && !shutoff)
        return FALSE;
      path = g_strdup (action_path);
      body = g_strdup_printf ("{\"createImage\": {\"name\": "
                              "\"nlxsoak-%u-%u-%u\"}}", slot->index,
                              slot->generation, g_random_int ());
      break;
    case OP_DELETE:
      path = g_strdup (server_path);
      method = "DELETE";
      break;
    default:
      g_assert_not_reached ();
    }

  if (!client_call (client, CALL_GOOD, method, path, body, &status, &reply))
    return FALSE;
  count_op (soak, op, status);
  if (op == OP_SNAPSHOT && status == SOUP_STATUS_ACCEPTED)
    {
      const char *image = NULL;
      g_autofree char *image_path = NULL;
      guint deleted = 0;

      if (reply != NULL && JSON_NODE_HOLDS_OBJECT (reply))
        image = string_member (json_node_get_object (reply), "image_id");
      if (image == NULL)
        {
          problem (soak, "createImage of %s answered 202 without an image_id",
                   slot->id);
          return TRUE;
        }
      /* Kept until deleted, so the cleanup finds one a kill orphaned. */
      g_mutex_lock (&soak->lock);
      g_ptr_array_add (soak->snapshot_ids, g_strdup (image));
      g_mutex_unlock (&soak->lock);
      image_path = g_strconcat ("/images/", image, NULL);
      if (client_call (client, CALL_GOOD, "DELETE", image_path, NULL,
                       &deleted, NULL) &&
          (deleted == SOUP_STATUS_NO_CONTENT ||
           deleted == SOUP_STATUS_NOT_FOUND))
        {
          g_mutex_lock (&soak->lock);
          for (guint i = 0; i < soak->snapshot_ids->len; i++)
            if (g_str_equal (soak->snapshot_ids->pdata[i], image))
              g_ptr_array_remove_index_fast (soak->snapshot_ids, i);
          g_mutex_unlock (&soak->lock);
        }
      else if (deleted != 0 && deleted < 500)
        problem (soak, "DELETE %s answered %u", image_path, deleted);
      return TRUE;
    }
  if (status >= 200 && status < 300)
    return !started_first;
  if (status == SOUP_STATUS_NOT_FOUND && op == OP_DELETE)
    return TRUE;
  /* A tenant's answer never shows where the daemon keeps things. */
  if (status >= 400)
    {
      g_autofree char *message = fault_message (reply);

      if (strstr (message, soak->tmp_dir) != NULL)
        problem (soak, "%s %s (%s) answered %u naming a host path: %s",
                 method, path, op_names[op], status, message);
      else if (status == SOUP_STATUS_CONFLICT && op == OP_SNAPSHOT)
        note (soak, "createImage of %s: 409 %s", slot->id, message);
    }
  /* Busy (a retry after a lost answer finds the first still running):
   * counted, and the cycle goes on. */
  if (status == SOUP_STATUS_CONFLICT && op == OP_SNAPSHOT)
    return TRUE;
  if (status == SOUP_STATUS_CONFLICT || status == SOUP_STATUS_SERVICE_UNAVAILABLE)
    return FALSE;
  if (status < 500)
    {
      g_autofree char *message = fault_message (reply);

      problem (soak, "%s %s (%s, server %s) answered %u: %s", method, path,
               op_names[op], view->status, status, message);
    }
  /* A 5xx is kept by client_call; go on with the cycle. */
  return TRUE;
}

static const Op cycle[] = {
  OP_ATTACH, OP_REBOOT, OP_STOP, OP_START, OP_DETACH, OP_SNAPSHOT, OP_DELETE
};

gpointer
worker_thread (gpointer data)
{
  Slot *slot = data;
  Soak *soak = slot->soak;
  g_autoptr(Client) client = client_new (soak, FALSE);
  Phase seen = PHASE_WARMUP;
  guint refused = 0;
  gboolean deleting = FALSE;

  g_usleep (g_random_int_range (0, 3000) * 1000);

  while (!interrupted && !g_atomic_int_get (&soak->stop_workers))
    {
      g_auto(ServerView) view = { 0 };
      Phase phase = get_phase (soak);
      gboolean park;

      if (phase != seen)
        {
          g_mutex_lock (&soak->lock);
          slot->cycled = 0;
          slot->parked = FALSE;
          g_mutex_unlock (&soak->lock);
          seen = phase;
          /* Out of step with the others, so a kill finds them doing
           * different things. */
          if (phase == PHASE_SOAK)
            g_usleep (g_random_int_range (0, 3000) * 1000);
        }

      if (slot->id == NULL)
        {
          g_mutex_lock (&soak->lock);
          park = slot->parked;
          g_mutex_unlock (&soak->lock);
          if (park)
            {
              g_usleep (POLL_INTERVAL_US);
              continue;
            }
          if (!slot_create (client, slot))
            g_usleep (POLL_INTERVAL_US);
          deleting = FALSE;
          continue;
        }

      if (!server_get (client, slot->id, &view))
        {
          g_usleep (POLL_INTERVAL_US);
          continue;
        }
      if (*view.status == '\0')
        {
          if (!deleting)
            {
              g_mutex_lock (&soak->lock);
              soak->counts.vanished++;
              g_mutex_unlock (&soak->lock);
              problem (soak, "server %s (slot %u) vanished without a delete; "
                       "libvirt: %s", slot->id, slot->index,
                       domain_state_names[domain_state (slot->id)]);
            }
          slot_set_id (slot, NULL);
          slot->generation++;
          slot->step = 0;
          g_mutex_lock (&soak->lock);
          soak->counts.cycles++;
          slot->cycled++;
          /* Parks with a new, idle server. */
          g_mutex_unlock (&soak->lock);
          continue;
        }
      if (view.task_state != NULL || g_str_equal (view.status, "BUILD"))
        {
          g_usleep (POLL_INTERVAL_US);
          continue;
        }
      if (g_str_equal (view.status, "ERROR") && !deleting)
        {
          judge_error (client, slot, &view);
          slot->step = G_N_ELEMENTS (cycle) - 1;
        }

      g_mutex_lock (&soak->lock);
      park = (phase == PHASE_STOP ||
              (phase == PHASE_WARMUP && slot->cycled >= WARMUP_CYCLES)) &&
             !g_str_equal (view.status, "ERROR");
      slot->parked = park;
      g_mutex_unlock (&soak->lock);
      if (park)
        {
          g_usleep (POLL_INTERVAL_US);
          continue;
        }

      if (cycle[slot->step] == OP_DELETE)
        deleting = TRUE;
      if (slot_operate (client, slot, cycle[slot->step], &view))
        {
          refused = 0;
          if (slot->step + 1 < G_N_ELEMENTS (cycle))
            slot->step++;
          g_usleep (g_random_int_range (0, 500) * 1000);
        }
      else if (++refused >= 20)
        {
          /* A state the cycle does not expect (PAUSED, say): move on. */
          note (soak, "server %s (slot %u), %s: %s refused or not "
                "applicable 20 times; skipping it", slot->id,
                slot->index, view.status, op_names[cycle[slot->step]]);
          refused = 0;
          if (slot->step + 1 < G_N_ELEMENTS (cycle))
            slot->step++;
        }
      else
        g_usleep (POLL_INTERVAL_US);
    }
  return NULL;
}
