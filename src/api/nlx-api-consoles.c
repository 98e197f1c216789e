/* nlx-api-consoles.c: remote consoles: /servers/{id}/remote-consoles,
 * os-getSerialConsole and the WebSocket that joins the serial console */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "api/nlx-api-private.h"

/* ---- remote consoles ------------------------------------------------------ */

/* Where a console URL's WebSocket is served; the token in its query is
 * the credential, as in Nova's serial proxy. */
#define CONSOLE_PATH "/serial-console"
#define CONSOLE_UUID_KEY "nlx-console-uuid"
/* Typed input held for a console that does not take it yet; a client
 * sending more is cut off. */
#define CONSOLE_PENDING_MAX (256 * 1024)
#define CONSOLE_KEEPALIVE_S 30

/* The URL of a new console of @uuid: ws:// on the host and port the
 * caller reached (over the Unix socket, "localhost": the URL is then
 * opened over the same socket, as nova-lxc console does). */
static char *
console_url (NlxApiRequest *request,
             const char *uuid,
             GError **error)
{
  g_autofree char *token =
    nlx_manager_create_console_token (request->api->manager, uuid, error);

  if (token == NULL)
    return NULL;
  /* request->base is "http://host[:port]" */
  return g_strdup_printf ("ws%s" CONSOLE_PATH "?token=%s",
                          request->base + strlen ("http"), token);
}

static void
respond_console (NlxApiRequest *request,
                 const char *uuid,
                 const char *wrapper,
                 const char *protocol,
                 const char *type)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *url = console_url (request, uuid, &error);
  g_autoptr(JsonBuilder) builder = NULL;
  g_autoptr(JsonNode) body = NULL;

  if (url == NULL)
    {
      nlx_api_respond_error (request, error);
      return;
    }
  builder = json_builder_new_immutable ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, wrapper);
  json_builder_begin_object (builder);
  if (protocol != NULL)
    nlx_api_add_string (builder, "protocol", protocol);
  nlx_api_add_string (builder, "type", type);
  nlx_api_add_string (builder, "url", url);
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  nlx_api_respond (request, 200, body);
}

/* Nova's console protocols and types (remote_consoles schema, 2.8): a
 * value outside them is a bad request; one inside them but not serial
 * is a console this host does not have. */
static gboolean
check_console_choice (NlxApiRequest *request,
                      const char *member,
                      const char *value,
                      const char * const *known)
{
  g_autofree char *message = NULL;

  if (g_strv_contains (known, value))
    {
      if (g_str_equal (value, "serial"))
        return TRUE;
      message = g_strdup_printf (_("Unavailable console type %s: this host "
                                   "has serial consoles only (protocol "
                                   "and type “serial”)"), value);
    }
  else
    message = g_strdup_printf (_("Invalid input for field/attribute %s: "
                                 "“%s” is not one of the console %ss; use "
                                 "“serial”"), member, value, member);
  nlx_api_respond_fault (request, 400, message);
  return FALSE;
}

/* POST /servers/{id}/remote-consoles */
void
nlx_api_create_remote_console (NlxApiRequest *request,
                               const char *method G_GNUC_UNUSED,
                               const char * const *ids)
{
  static const char * const protocols[] = {
    "vnc", "spice", "rdp", "serial", "mks", NULL
  };
  static const char * const types[] = {
    "novnc", "xvpvnc", "rdp-html5", "spice-html5", "serial", "webmks", NULL
  };
  static const char * const top[] = { "remote_console", NULL };
  static const char * const inner[] = { "protocol", "type", NULL };
  const char *uuid = ids[0];
  g_autoptr(GError) error = NULL;
  JsonObject *root;
  JsonNode *console;
  JsonObject *object;
  const char *protocol;
  const char *type;

  if (nlx_manager_lookup (request->api->manager, uuid, &error) == NULL)
    {
      nlx_api_respond_error (request, error);
      return;
    }
  root = nlx_api_parse_body (request);
  if (root == NULL || !nlx_api_check_members (request, root, top))
    return;
  console = json_object_get_member (root, "remote_console");
  if (console == NULL)
    {
      nlx_api_respond_fault (request, 400, _("“remote_console” is a required "
                                             "property"));
      return;
    }
  if (!nlx_api_require_object (request, console, "remote_console"))
    return;
  object = json_node_get_object (console);
  if (!nlx_api_check_members (request, object, inner) ||
      (protocol = nlx_api_get_string_member (request, object,
                                             "protocol")) == NULL ||
      (type = nlx_api_get_string_member (request, object, "type")) == NULL ||
      !check_console_choice (request, "protocol", protocol, protocols) ||
      !check_console_choice (request, "type", type, types))
    return;
  respond_console (request, uuid, "remote_console", protocol, type);
}

/* The legacy action {"os-getSerialConsole": {"type": "serial"}} */
void
nlx_api_get_serial_console (NlxApiRequest *request,
                            const char *uuid,
                            JsonNode *args)
{
  static const char * const types[] = { "serial", NULL };
  static const char * const inner[] = { "type", NULL };
  JsonObject *object;
  const char *type;

  if (!nlx_api_require_object (request, args, "os-getSerialConsole"))
    return;
  object = json_node_get_object (args);
  if (!nlx_api_check_members (request, object, inner) ||
      (type = nlx_api_get_string_member (request, object, "type")) == NULL ||
      !check_console_choice (request, "type", type, types))
    return;
  respond_console (request, uuid, "console", NULL, type);
}

/* One open console WebSocket and the driver's socket behind it. */
typedef struct {
  gatomicrefcount refs;
  NlxApi *api;
  SoupWebsocketConnection *ws;
  char *uuid;
  GSocket *socket;              /* NULL until attached */
  GSource *read_source;
  GSource *write_source;
  GByteArray *pending;          /* typed, not yet taken by the console */
  gboolean closed;
} ConsoleBridge;

static ConsoleBridge *
bridge_ref (ConsoleBridge *bridge)
{
  g_atomic_ref_count_inc (&bridge->refs);
  return bridge;
}

static void
bridge_unref (ConsoleBridge *bridge)
{
  if (!g_atomic_ref_count_dec (&bridge->refs))
    return;
  g_object_unref (bridge->ws);
  g_free (bridge->uuid);
  g_byte_array_unref (bridge->pending);
  g_free (bridge);
}

/* Detaches from the console (closing our socket is what the driver
 * sees) and forgets the WebSocket; safe to call more than once. */
static void
bridge_close (ConsoleBridge *bridge,
              gushort code,
              const char *reason)
{
  if (bridge->closed)
    return;
  bridge->closed = TRUE;
  g_signal_handlers_disconnect_by_data (bridge->ws, bridge);
  if (bridge->read_source != NULL)
    {
      g_source_destroy (bridge->read_source);
      g_clear_pointer (&bridge->read_source, g_source_unref);
    }
  if (bridge->write_source != NULL)
    {
      g_source_destroy (bridge->write_source);
      g_clear_pointer (&bridge->write_source, g_source_unref);
    }
  if (bridge->socket != NULL)
    {
      g_socket_close (bridge->socket, NULL);
      g_clear_object (&bridge->socket);
    }
  if (soup_websocket_connection_get_state (bridge->ws) ==
      SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (bridge->ws, code, reason);
  g_debug ("Console of instance %s detached", bridge->uuid);
  /* The set's reference. */
  g_hash_table_remove (bridge->api->consoles, bridge);
}

static gboolean bridge_writable (GSocket *socket,
                                 GIOCondition condition,
                                 gpointer data);

/* Writes what was typed as far as the socket takes it now; the rest
 * waits for it to be writable. */
static void
bridge_flush (ConsoleBridge *bridge)
{
  g_autoptr(GError) error = NULL;

  while (bridge->socket != NULL && bridge->pending->len > 0)
    {
      gssize n = g_socket_send_with_blocking (bridge->socket,
                                              (const char *) bridge->pending->data,
                                              bridge->pending->len, FALSE,
                                              NULL, &error);

      if (n > 0)
        {
          g_byte_array_remove_range (bridge->pending, 0, n);
          continue;
        }
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        {
          if (bridge->write_source == NULL)
            {
              bridge->write_source =
                g_socket_create_source (bridge->socket, G_IO_OUT, NULL);
              g_source_set_callback (bridge->write_source,
                                     (GSourceFunc) (GCallback) bridge_writable,
                                     bridge, NULL);
              g_source_attach (bridge->write_source,
                               g_main_context_get_thread_default ());
            }
          return;
        }
      bridge_close (bridge, SOUP_WEBSOCKET_CLOSE_GOING_AWAY,
                    "console closed");
      return;
    }
}

static gboolean
bridge_writable (GSocket *socket G_GNUC_UNUSED,
                 GIOCondition condition G_GNUC_UNUSED,
                 gpointer data)
{
  ConsoleBridge *bridge = data;

  g_clear_pointer (&bridge->write_source, g_source_unref);
  bridge_flush (bridge);
  return G_SOURCE_REMOVE;
}

/* Console output: to the client as binary frames, as Nova's serial
 * proxy sends them. */
static gboolean
bridge_readable (GSocket *socket,
                 GIOCondition condition G_GNUC_UNUSED,
                 gpointer data)
{
  ConsoleBridge *bridge = data;
  g_autoptr(GError) error = NULL;
  char buffer[16384];
  gssize n = g_socket_receive_with_blocking (socket, buffer, sizeof buffer,
                                             FALSE, NULL, &error);

  if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    return G_SOURCE_CONTINUE;
  if (n <= 0)
    {
      /* The console went away: the instance stopped or was deleted. */
      g_clear_pointer (&bridge->read_source, g_source_unref);
      bridge_close (bridge, SOUP_WEBSOCKET_CLOSE_NORMAL,
                    "the console closed: the server stopped");
      return G_SOURCE_REMOVE;
    }
  soup_websocket_connection_send_binary (bridge->ws, buffer, n);
  return G_SOURCE_CONTINUE;
}

static void
bridge_message (SoupWebsocketConnection *ws G_GNUC_UNUSED,
                gint type G_GNUC_UNUSED,
                GBytes *message,
                gpointer data)
{
  ConsoleBridge *bridge = data;
  gsize length;
  const guint8 *bytes = g_bytes_get_data (message, &length);

  if (bridge->pending->len + length > CONSOLE_PENDING_MAX)
    {
      bridge_close (bridge, SOUP_WEBSOCKET_CLOSE_TOO_BIG,
                    "the console does not take input this fast");
      return;
    }
  g_byte_array_append (bridge->pending, bytes, length);
  bridge_flush (bridge);
}

static void
bridge_closed (SoupWebsocketConnection *ws G_GNUC_UNUSED,
               gpointer data)
{
  bridge_close (data, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
}

static void
bridge_attached (GObject *source G_GNUC_UNUSED,
                 GAsyncResult *result,
                 gpointer data)
{
  ConsoleBridge *bridge = data;
  g_autoptr(GError) error = NULL;
  int fd = nlx_manager_console_attach_finish (bridge->api->manager, result,
                                              &error);

  if (fd >= 0 && bridge->closed)
    close (fd);
  else if (fd < 0)
    {
      g_message ("Console of instance %s: %s", bridge->uuid, error->message);
      bridge_close (bridge, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, error->message);
    }
  else if ((bridge->socket = g_socket_new_from_fd (fd, &error)) == NULL)
    {
      close (fd);
      bridge_close (bridge, SOUP_WEBSOCKET_CLOSE_SERVER_ERROR,
                    error->message);
    }
  else
    {
      g_socket_set_blocking (bridge->socket, FALSE);
      bridge->read_source = g_socket_create_source (bridge->socket,
                                                    G_IO_IN | G_IO_HUP |
                                                    G_IO_ERR, NULL);
      g_source_set_callback (bridge->read_source,
                             (GSourceFunc) (GCallback) bridge_readable,
                             bridge, NULL);
      g_source_attach (bridge->read_source,
                       g_main_context_get_thread_default ());
      g_debug ("Console of instance %s attached", bridge->uuid);
      bridge_flush (bridge);
    }
  bridge_unref (bridge);
}

/* Before the upgrade: the token is checked (and used up) here, so a
 * wrong one is refused with a status rather than a WebSocket closed at
 * once.  A request that is no WebSocket upgrade does not use it up. */
static void
check_console (SoupServer *server G_GNUC_UNUSED,
               SoupServerMessage *msg,
               const char *path,
               GHashTable *query,
               gpointer data)
{
  g_autofree char *request_uuid = g_uuid_string_random ();
  g_autofree char *id = g_strconcat ("req-", request_uuid, NULL);
  NlxApiRequest request = { .api = data, .msg = msg, .id = id };
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  g_autoptr(GError) error = NULL;
  const char *token = query != NULL ? g_hash_table_lookup (query, "token")
                                    : NULL;
  char *uuid;

  /* nlx-listener.c says "Connection: close" on every answer; a 101
   * must say "Upgrade" alone. */
  soup_message_headers_remove (soup_server_message_get_response_headers (msg),
                               "Connection");
  if (!g_str_equal (path, CONSOLE_PATH))
    nlx_api_respond_fault (&request, 404,
                           _("The resource could not be found."));
  else if (!g_str_equal (soup_server_message_get_method (msg), "GET"))
    nlx_api_respond_fault (&request, 405,
                           _("A console is opened with a WebSocket "
                             "GET"));
  else if (!soup_message_headers_header_contains (headers, "Upgrade",
                                                  "websocket"))
    nlx_api_respond_fault (&request, 400, _("A console URL is opened with a "
                                            "WebSocket client, e.g. nova-lxc "
                                            "console"));
  else if ((uuid = nlx_manager_take_console_token (request.api->manager,
                                                   token, &error)) == NULL)
    nlx_api_respond_fault (&request,
                           g_error_matches (error, NLX_DRIVER_ERROR,
                                            NLX_DRIVER_ERROR_NOT_FOUND)
                             ? 401 : nlx_api_status_for_error (error),
                           error->message);
  else
    {
      g_object_set_data_full (G_OBJECT (msg), CONSOLE_UUID_KEY, uuid, g_free);
      return;
    }
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "Connection", "close");
}

/* After the upgrade: attaches to the console in a worker and bridges. */
static void
console_connected (SoupServer *server G_GNUC_UNUSED,
                   SoupServerMessage *msg,
                   const char *path G_GNUC_UNUSED,
                   SoupWebsocketConnection *ws,
                   gpointer data)
{
  NlxApi *api = data;
  const char *uuid = g_object_get_data (G_OBJECT (msg), CONSOLE_UUID_KEY);
  ConsoleBridge *bridge;

  if (uuid == NULL)
    {
      soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION,
                                       "no console token");
      return;
    }
  bridge = g_new0 (ConsoleBridge, 1);
  g_atomic_ref_count_init (&bridge->refs);
  bridge->api = api;
  bridge->ws = g_object_ref (ws);
  bridge->uuid = g_strdup (uuid);
  bridge->pending = g_byte_array_new ();
  g_hash_table_add (api->consoles, bridge);
  soup_websocket_connection_set_keepalive_interval (ws, CONSOLE_KEEPALIVE_S);
  g_signal_connect (ws, "message", G_CALLBACK (bridge_message), bridge);
  g_signal_connect (ws, "closed", G_CALLBACK (bridge_closed), bridge);
  nlx_manager_console_attach_async (api->manager, uuid, bridge_attached,
                                    bridge_ref (bridge));
}

/* Serves the console WebSocket at CONSOLE_PATH on @api's server. */
void
nlx_api_serve_consoles (NlxApi *api)
{
  api->consoles = g_hash_table_new_full (NULL, NULL,
                                         (GDestroyNotify) bridge_unref, NULL);
  /* No origin check: the token is the credential, not a browser
   * session. */
  soup_server_add_early_handler (api->server, CONSOLE_PATH, check_console,
                                 api, NULL);
  soup_server_add_websocket_handler (api->server, CONSOLE_PATH, NULL, NULL,
                                     console_connected, api, NULL);
}

/* Closes every open console WebSocket: the service stops. */
void
nlx_api_close_consoles (NlxApi *api)
{
  if (api->consoles != NULL)
    {
      GHashTableIter iter;
      ConsoleBridge *bridge;
      g_autoptr(GPtrArray) open = g_ptr_array_new ();

      g_hash_table_iter_init (&iter, api->consoles);
      while (g_hash_table_iter_next (&iter, (gpointer *) &bridge, NULL))
        g_ptr_array_add (open, bridge);
      for (guint i = 0; i < open->len; i++)
        bridge_close (open->pdata[i], SOUP_WEBSOCKET_CLOSE_GOING_AWAY,
                      "the compute service stops");
      g_clear_pointer (&api->consoles, g_hash_table_unref);
    }
}
