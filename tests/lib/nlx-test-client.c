/* nlx-test-client.c: talking to nova-lxc-compute in tests, over HTTP
 *
 * Each helper asserts what every caller would: a request that cannot be
 * sent, or an answer that is not JSON, fails the test. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "common/nlx-json.h"
#include "lib/nlx-test-client.h"

#define WAIT_TIMEOUT_US (60 * G_USEC_PER_SEC)

/* With NLX_TEST_SCHEMA_LOG=FILE, each exchange is appended to FILE as a
 * JSON line (method, path, query, request body, the microversion asked
 * for and the one answered, status, headers, body) for tests/lib/check-schemas.py, which validates
 * the bodies against tempest's response schemas.  One write(2) per line
 * on an O_APPEND descriptor, so programs sharing FILE do not interleave. */
static void
log_exchange (SoupMessage *msg,
              const char *method,
              const char *request_body,
              GBytes *bytes)
{
  const char *file = g_getenv ("NLX_TEST_SCHEMA_LOG");
  GUri *uri = soup_message_get_uri (msg);
  SoupMessageHeaders *asked = soup_message_get_request_headers (msg);
  SoupMessageHeaders *answered = soup_message_get_response_headers (msg);
  g_autoptr(JsonBuilder) builder = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;
  g_autofree char *json = NULL;
  g_autofree char *line = NULL;
  gsize length;
  SoupMessageHeadersIter iter;
  const char *name;
  const char *value;
  const char *version;
  int fd;

  if (file == NULL || *file == '\0')
    return;
  builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "program");
  json_builder_add_string_value (builder, g_get_prgname ());
  json_builder_set_member_name (builder, "test");
  json_builder_add_string_value (builder, g_test_get_path ());
  json_builder_set_member_name (builder, "method");
  json_builder_add_string_value (builder, method);
  json_builder_set_member_name (builder, "path");
  json_builder_add_string_value (builder, g_uri_get_path (uri));
  json_builder_set_member_name (builder, "query");
  json_builder_add_string_value (builder, g_uri_get_query (uri));
  /* What the request named, in either header; NULL when it named none. */
  version = soup_message_headers_get_one (asked, "OpenStack-API-Version");
  if (version == NULL)
    version = soup_message_headers_get_one (asked, "X-OpenStack-Nova-API-Version");
  json_builder_set_member_name (builder, "asked");
  json_builder_add_string_value (builder, version);
  json_builder_set_member_name (builder, "answered");
  json_builder_add_string_value (builder,
                                 soup_message_headers_get_one (answered,
                                                               "X-OpenStack-Nova-API-Version"));
  json_builder_set_member_name (builder, "status");
  json_builder_add_int_value (builder, soup_message_get_status (msg));
  /* Every header of the answer: some schemas check one (Location). */
  json_builder_set_member_name (builder, "headers");
  json_builder_begin_object (builder);
  soup_message_headers_iter_init (&iter, answered);
  while (soup_message_headers_iter_next (&iter, &name, &value))
    {
      json_builder_set_member_name (builder, name);
      json_builder_add_string_value (builder, value);
    }
  json_builder_end_object (builder);
  /* An action's name is in the request's body. */
  json_builder_set_member_name (builder, "request");
  json_builder_add_string_value (builder, request_body);
  /* The body as sent, text: the checker parses it as tempest would. */
  text = g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  json_builder_set_member_name (builder, "body");
  json_builder_add_string_value (builder, text);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json = json_to_string (root, FALSE);
  line = g_strconcat (json, "\n", NULL);
  length = strlen (line);
  fd = open (file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    g_error ("Cannot open the schema log %s (NLX_TEST_SCHEMA_LOG): %s", file,
             g_strerror (errno));
  if (write (fd, line, length) != (gssize) length)
    g_error ("Cannot write the schema log %s: %s", file, g_strerror (errno));
  close (fd);
}

/* Sends a request; returns the status and, in @reply, the JSON body. */
guint
nlx_test_call_full (SoupSession *session,
                    const char *base,
                    const char *method,
                    const char *path,
                    const char *body,
                    const char *header,
                    const char *value,
                    JsonNode **reply,
                    SoupMessageHeaders **response_headers)
{
  g_autofree char *url = g_strconcat (base, path, NULL);
  g_autoptr(SoupMessage) msg = soup_message_new (method, url);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_nonnull (msg);
  if (header != NULL)
    soup_message_headers_replace (soup_message_get_request_headers (msg),
                                  header, value);
  if (body != NULL)
    {
      g_autoptr(GBytes) data = g_bytes_new (body, strlen (body));

      soup_message_set_request_body_from_bytes (msg, "application/json", data);
    }
  bytes = soup_session_send_and_read (session, msg, NULL, &error);
  g_assert_no_error (error);
  log_exchange (msg, method, body, bytes);
  if (reply != NULL)
    {
      *reply = NULL;
      /* Strictly: two answers back to back must not pass for one. */
      if (g_bytes_get_size (bytes) > 0)
        {
          *reply = nlx_json_parse (g_bytes_get_data (bytes, NULL),
                                   g_bytes_get_size (bytes), &error);
          g_assert_no_error (error);
        }
    }
  if (response_headers != NULL)
    *response_headers = soup_message_headers_ref (soup_message_get_response_headers (msg));
  return soup_message_get_status (msg);
}

static void
ask_for_version (SoupSession *session G_GNUC_UNUSED,
                 SoupMessage *msg,
                 gpointer data)
{
  SoupMessageHeaders *headers = soup_message_get_request_headers (msg);

  if (soup_message_headers_get_one (headers, "OpenStack-API-Version") == NULL &&
      soup_message_headers_get_one (headers,
                                    "X-OpenStack-Nova-API-Version") == NULL)
    soup_message_headers_replace (headers, "OpenStack-API-Version", data);
}

static void
free_header (gpointer data,
             GClosure *closure G_GNUC_UNUSED)
{
  g_free (data);
}

/* From now on every request of @session that names no microversion asks
 * for compute @version ("2.N"). */
void
nlx_test_session_set_version (SoupSession *session,
                              const char *version)
{
  char *header = g_strconcat ("compute ", version, NULL);

  /* For nlx_test_create_on_flavor(), which must send networks from 2.37. */
  g_object_set_data_full (G_OBJECT (session), "nlx-test-version",
                          g_strdup (version), g_free);
  g_signal_connect_data (session, "request-queued",
                         G_CALLBACK (ask_for_version), header,
                         free_header, 0);
}

guint
nlx_test_call (SoupSession *session,
               const char *method,
               const char *path,
               const char *body,
               JsonNode **reply)
{
  return nlx_test_call_full (session, "http://localhost", method, path, body,
                             NULL, NULL,
                    reply, NULL);
}

JsonObject *
nlx_test_object_at (JsonNode *node,
                    const char *member)
{
  g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
  g_assert_true (json_object_has_member (json_node_get_object (node), member));
  return json_object_get_object_member (json_node_get_object (node), member);
}

/* The fault's name and message, checked against @status. */
void
nlx_test_assert_fault (JsonNode *reply,
                       const char *name,
                       guint status)
{
  JsonObject *fault = nlx_test_object_at (reply, name);

  g_assert_cmpint (json_object_get_int_member (fault, "code"), ==, status);
  g_assert_cmpstr (json_object_get_string_member (fault, "message"), !=, "");
}

void
nlx_test_expect_fault (SoupSession *session,
                       const char *method,
                       const char *path,
                       const char *body,
                       guint status,
                       const char *name)
{
  g_autoptr(JsonNode) reply = NULL;

  g_test_message ("%s %s %s", method, path, body ? body : "");
  g_assert_cmpint (nlx_test_call (session, method, path, body, &reply), ==, status);
  nlx_test_assert_fault (reply, name, status);
}

/* POSTs server @name of @image on @flavor, with @extra (nullable) JSON
 * members added; fails the test unless it is accepted.  Returns its id. */
char *
nlx_test_create_on_flavor (SoupSession *session,
                           const char *name,
                           const char *flavor,
                           const char *image,
                           const char *extra)
{
  const char *version = g_object_get_data (G_OBJECT (session),
                                            "nlx-test-version");
  /* Nova 2.37+ requires networks: "auto" is what no choice meant before. */
  gboolean needs_networks =
    version != NULL && (g_str_equal (version, "latest") ||
                        g_ascii_strtoull (version + strlen ("2."), NULL,
                                          10) >= 37) &&
    (extra == NULL || strstr (extra, "\"networks\"") == NULL);
  g_autofree char *body = g_strdup_printf (
    "{\"server\": {\"name\": \"%s\", \"flavorRef\": \"%s\", "
    "\"imageRef\": \"%s\"%s%s}}", name, flavor, image, extra ? extra : "",
    needs_networks ? ", \"networks\": \"auto\"" : "");
  g_autoptr(JsonNode) reply = NULL;

  g_assert_cmpint (nlx_test_call (session, "POST", "/v2.1/servers", body, &reply), ==, 202);
  return g_strdup (json_object_get_string_member (nlx_test_object_at (reply, "server"),
                                                  "id"));
}

/* nlx_test_create_on_flavor() on m1.tiny. */
char *
nlx_test_create (SoupSession *session,
                 const char *name,
                 const char *image,
                 const char *extra)
{
  return nlx_test_create_on_flavor (session, name, "m1.tiny", image, extra);
}

JsonNode *
nlx_test_show (SoupSession *session,
               const char *id)
{
  g_autofree char *path = g_strconcat ("/v2.1/servers/", id, NULL);
  JsonNode *reply = NULL;

  g_assert_cmpint (nlx_test_call (session, "GET", path, NULL, &reply), ==, 200);
  return reply;
}

char *
nlx_test_status_of (SoupSession *session,
                    const char *id)
{
  g_autoptr(JsonNode) reply = nlx_test_show (session, id);

  return g_strdup (json_object_get_string_member (nlx_test_object_at (reply, "server"),
                                                  "status"));
}

void
nlx_test_wait_for_status (SoupSession *session,
                          const char *id,
                          const char *wanted)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_TIMEOUT_US;

  for (;;)
    {
      g_autofree char *status = nlx_test_status_of (session, id);

      if (g_str_equal (status, wanted))
        return;
      if (g_get_monotonic_time () > deadline)
        g_error ("server %s is still %s, not %s", id, status, wanted);
      g_usleep (20 * 1000);
    }
}

guint
nlx_test_act (SoupSession *session,
              const char *id,
              const char *body)
{
  g_autofree char *path = g_strconcat ("/v2.1/servers/", id, "/action", NULL);

  return nlx_test_call (session, "POST", path, body, NULL);
}

/* Acts, checks the task state the action shows at once, and waits for
 * the status it should end in.  A quick action (a pause is a cgroup
 * freeze) may be over before the next request: then there is no task
 * state, and the status must already be @after. */
void
nlx_test_act_and_wait (SoupSession *session,
                       const char *id,
                       const char *body,
                       const char *task_state,
                       const char *after)
{
  g_assert_cmpint (nlx_test_act (session, id, body), ==, 202);
  if (task_state != NULL)
    {
      g_autoptr(JsonNode) reply = nlx_test_show (session, id);
      JsonObject *server = nlx_test_object_at (reply, "server");
      const char *shown = json_object_get_string_member (server,
                                                         "OS-EXT-STS:task_state");

      if (shown == NULL)
        g_assert_cmpstr (json_object_get_string_member (server, "status"),
                         ==, after);
      else
        g_assert_cmpstr (shown, ==, task_state);
    }
  nlx_test_wait_for_status (session, id, after);
}

void
nlx_test_delete_and_wait (SoupSession *session,
                          const char *id)
{
  g_autofree char *path = g_strconcat ("/v2.1/servers/", id, NULL);
  gint64 deadline = g_get_monotonic_time () + WAIT_TIMEOUT_US;

  g_assert_cmpint (nlx_test_call (session, "DELETE", path, NULL, NULL), ==, 204);
  while (nlx_test_call (session, "GET", path, NULL, NULL) != 404)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (20 * 1000);
    }
}

/* Sends createImage with @body, which answers once the image is stored
 * and names it as the session's microversion says: in Location and no
 * body before 2.45, {"image_id"} and no Location from 2.45.  Returns the
 * image's id. */
char *
nlx_test_create_image (SoupSession *session,
                       const char *server,
                       const char *body)
{
  g_autofree char *path = g_strdup_printf ("/v2.1/servers/%s/action", server);
  g_autoptr(SoupMessageHeaders) headers = NULL;
  g_autoptr(JsonNode) reply = NULL;
  const char *location;

  g_assert_cmpint (nlx_test_call_full (session, "http://localhost", "POST",
                                       path, body, NULL, NULL, &reply,
                                       &headers), ==, 202);
  location = soup_message_headers_get_one (headers, "Location");
  if (reply != NULL)
    {
      g_assert_null (location);
      return g_strdup (json_object_get_string_member (json_node_get_object (reply),
                                                      "image_id"));
    }
  g_assert_nonnull (location);
  g_assert_true (g_str_has_prefix (location, "http://localhost/v2.1/images/"));
  return g_strdup (location + strlen ("http://localhost/v2.1/images/"));
}

/* ---- WebSocket consoles ------------------------------------------------ */

typedef struct {
  gboolean done;
  SoupWebsocketConnection *ws;
  GError *error;
} WsConnect;

static void
ws_connected (GObject *source,
              GAsyncResult *result,
              gpointer data)
{
  WsConnect *connect = data;

  connect->ws = soup_session_websocket_connect_finish (SOUP_SESSION (source),
                                                       result, &connect->error);
  connect->done = TRUE;
}

/**
 * nlx_test_ws_connect:
 * @url: a console URL (ws://...)
 * @status: (out): the HTTP status of the handshake's answer
 *
 * Opens @url with @session (whose "remote-connectable", if any, decides
 * where it goes), iterating the thread-default main context.
 *
 * Returns: (transfer full) (nullable): the connection, or %NULL when the
 *   handshake was refused
 */
SoupWebsocketConnection *
nlx_test_ws_connect (SoupSession *session,
                     const char *url,
                     guint *status)
{
  g_autoptr(SoupMessage) msg = soup_message_new ("GET", url);
  WsConnect connect = { 0 };
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  g_assert_nonnull (msg);
  soup_session_websocket_connect_async (session, msg, NULL, NULL,
                                        G_PRIORITY_DEFAULT, NULL,
                                        ws_connected, &connect);
  while (!connect.done && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (connect.done);
  *status = soup_message_get_status (msg);
  g_clear_error (&connect.error);
  return connect.ws;
}

static void
ws_collect (SoupWebsocketConnection *ws G_GNUC_UNUSED,
            gint type G_GNUC_UNUSED,
            GBytes *message,
            gpointer data)
{
  gsize length;
  const char *bytes = g_bytes_get_data (message, &length);

  g_string_append_len (data, bytes, length);
}

/**
 * nlx_test_ws_read_until:
 * @ws: an open console
 * @wanted: text to wait for
 * @timeout_s: how long
 *
 * Returns: (transfer full): everything received until @wanted was, or
 *   until the timeout or the connection's end
 */
char *
nlx_test_ws_read_until (SoupWebsocketConnection *ws,
                        const char *wanted,
                        guint timeout_s)
{
  GString *received = g_string_new (NULL);
  gint64 deadline = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;
  gulong id = g_signal_connect (ws, "message", G_CALLBACK (ws_collect),
                                received);

  while (strstr (received->str, wanted) == NULL &&
         soup_websocket_connection_get_state (ws) == SOUP_WEBSOCKET_STATE_OPEN &&
         g_get_monotonic_time () < deadline)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (10000);
  g_signal_handler_disconnect (ws, id);
  return g_string_free (received, FALSE);
}

/**
 * nlx_test_ws_wait_closed:
 *
 * Returns: whether @ws was closed within @timeout_s
 */
gboolean
nlx_test_ws_wait_closed (SoupWebsocketConnection *ws,
                         guint timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;

  while (soup_websocket_connection_get_state (ws) != SOUP_WEBSOCKET_STATE_CLOSED &&
         g_get_monotonic_time () < deadline)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (10000);
  return soup_websocket_connection_get_state (ws) == SOUP_WEBSOCKET_STATE_CLOSED;
}

/**
 * nlx_test_raw_connect:
 * @socket_path: the daemon's Unix socket
 * @tcp_port: its TCP port, or 0 for the Unix socket
 *
 * A plain socket to the daemon, for tests that write and read HTTP byte
 * by byte (streams, partial requests), with a 10 s timeout so a test
 * cannot hang.
 *
 * Returns: (transfer full): the connected socket
 */
GSocket *
nlx_test_raw_connect (const char *socket_path,
                      guint tcp_port)
{
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;

  if (tcp_port != 0)
    {
      g_autoptr(GInetAddress) loopback =
        g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);

      address = g_inet_socket_address_new (loopback, tcp_port);
    }
  else
    address = g_unix_socket_address_new (socket_path);
  socket = g_socket_new (g_socket_address_get_family (address),
                         G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT,
                         &error);
  g_assert_no_error (error);
  g_socket_set_timeout (socket, 10);
  g_assert_true (g_socket_connect (socket, address, NULL, &error));
  g_assert_no_error (error);
  return g_steal_pointer (&socket);
}
