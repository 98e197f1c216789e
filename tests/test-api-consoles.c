/* test-api-consoles.c: the Compute API and the manager, over HTTP, on the
 * fake driver: remote consoles: asked for, served over a WebSocket, and
 * expired (the fixture: lib/nlx-api-fixture.h). */
#include "config.h"

#include "lib/nlx-api-fixture.h"
#include "lib/nlx-test-client.h"
#include "lib/nlx-test-tools.h"

/* ---- remote consoles ---------------------------------------------------- */

#define TCP_TOKEN_CONFIG "[api]\nlisten = 127.0.0.1:0\nauth_token = s3cret-t0ken\n"

/* A console URL of @id's, asked for with @body at @what ("remote-consoles"
 * or "action"), answered 200 with Nova's shape. */
static char *
console_url_of (SoupSession *session,
                const char *base,
                const char *id,
                gboolean legacy)
{
  g_autofree char *path = g_strdup_printf ("/v2.1/servers/%s/%s", id,
                                           legacy ? "action" : "remote-consoles");
  g_autoptr(JsonNode) reply = NULL;
  JsonObject *console;

  g_assert_cmpint (nlx_test_call_full (session, base, "POST", path,
                                       legacy
                                         ? "{\"os-getSerialConsole\": {\"type\": \"serial\"}}"
                                         : "{\"remote_console\": {\"protocol\": \"serial\", "
                                           "\"type\": \"serial\"}}",
                                       "X-Auth-Token", "s3cret-t0ken", &reply, NULL),
                   ==, 200);
  console = nlx_test_object_at (reply, legacy ? "console" : "remote_console");
  g_assert_cmpuint (json_object_get_size (console), ==, legacy ? 2 : 3);
  if (!legacy)
    g_assert_cmpstr (json_object_get_string_member (console, "protocol"), ==, "serial");
  g_assert_cmpstr (json_object_get_string_member (console, "type"), ==, "serial");
  return g_strdup (json_object_get_string_member (console, "url"));
}

static void
test_remote_console_requests (Fixture *f,
                              gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *id = nlx_test_create (f->session, "console-1", "test-image", NULL);
  g_autofree char *path = g_strdup_printf ("/v2.1/servers/%s/remote-consoles", id);
  g_autofree char *action = g_strdup_printf ("/v2.1/servers/%s/action", id);
  g_autofree char *url = NULL;
  g_autofree char *legacy = NULL;
  g_autofree char *tcp_base = g_strdup_printf ("http://127.0.0.1:%u", f->daemon.tcp_port);
  g_autofree char *tcp_url = NULL;
  g_autofree char *tcp_prefix = NULL;
  g_autoptr(SoupSession) tcp = soup_session_new ();
  static const char * const bad[] = {
    "{\"remote_console\": {\"protocol\": \"vnc\", \"type\": \"novnc\"}}",
    "{\"remote_console\": {\"protocol\": \"serial\", \"type\": \"novnc\"}}",
    "{\"remote_console\": {\"protocol\": \"telnet\", \"type\": \"serial\"}}",
    "{\"remote_console\": {\"protocol\": \"serial\"}}",
    "{\"remote_console\": {\"protocol\": \"serial\", \"type\": \"serial\", \"x\": 1}}",
    "{\"remote_console\": {\"protocol\": 1, \"type\": \"serial\"}}",
    "{\"remote_console\": \"serial\"}",
    "{\"console\": {\"protocol\": \"serial\", \"type\": \"serial\"}}",
    "{}",
    "[]",
  };
  static const char * const bad_actions[] = {
    "{\"os-getSerialConsole\": {\"type\": \"novnc\"}}",
    "{\"os-getSerialConsole\": {}}",
    "{\"os-getSerialConsole\": null}",
    "{\"os-getSerialConsole\": {\"type\": \"serial\", \"port\": 1}}",
  };

  /* Remote consoles came in 2.6; before, a serial console is the
   * os-getSerialConsole action. */
  nlx_test_expect_fault (f->session, "POST", path,
                         "{\"remote_console\": {\"protocol\": \"serial\", \"type\": \"serial\"}}",
                         404, "itemNotFound");
  nlx_test_session_set_version (f->session, "2.6");
  nlx_test_session_set_version (tcp, "2.6");

  /* Building: not ready. */
  nlx_test_expect_fault (f->session, "POST", path,
                         "{\"remote_console\": {\"protocol\": \"serial\", \"type\": \"serial\"}}",
                         409, "conflictingRequest");
  nlx_test_wait_for_status (f->session, id, "ACTIVE");

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    nlx_test_expect_fault (f->session, "POST", path, bad[i], 400, "badRequest");
  for (guint i = 0; i < G_N_ELEMENTS (bad_actions); i++)
    nlx_test_expect_fault (f->session, "POST", action, bad_actions[i], 400, "badRequest");
  nlx_test_expect_fault (f->session, "GET", path, NULL, 405, "badMethod");
  nlx_test_expect_fault (f->session, "POST",
                         "/v2.1/servers/6f1b0c1e-0000-4000-8000-000000000000/remote-consoles",
                         "{\"remote_console\": {\"protocol\": \"serial\", \"type\": \"serial\"}}",
                         404, "itemNotFound");

  /* Over the Unix socket the URL names localhost, over TCP what the
   * caller reached; each token is new. */
  url = console_url_of (f->session, "http://localhost", id, FALSE);
  legacy = console_url_of (f->session, "http://localhost", id, TRUE);
  g_assert_true (g_str_has_prefix (url, "ws://localhost/serial-console?token="));
  g_assert_true (g_str_has_prefix (legacy, "ws://localhost/serial-console?token="));
  g_assert_cmpstr (url, !=, legacy);
  g_assert_cmpuint (strlen (strchr (url, '=') + 1), >=, 32);
  tcp_url = console_url_of (tcp, tcp_base, id, FALSE);
  tcp_prefix = g_strdup_printf ("ws://127.0.0.1:%u/serial-console?token=", f->daemon.tcp_port);
  g_assert_true (g_str_has_prefix (tcp_url, tcp_prefix));

  /* Stopped: no console. */
  nlx_test_act_and_wait (f->session, id, "{\"os-stop\": null}", "powering-off", "SHUTOFF");
  nlx_test_expect_fault (f->session, "POST", path,
                         "{\"remote_console\": {\"protocol\": \"serial\", \"type\": \"serial\"}}",
                         409, "conflictingRequest");
  nlx_test_expect_fault (f->session, "POST", action,
                         "{\"os-getSerialConsole\": {\"type\": \"serial\"}}",
                         409, "conflictingRequest");
  nlx_test_delete_and_wait (f->session, id);
}

/* A console over TCP, where the token in the URL is the only credential:
 * what is typed comes back (the fake echoes), reaches the console log
 * with its escape sequence made visible, and the token works once. */
static void
test_remote_console_websocket (Fixture *f,
                               gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *id = nlx_test_create (f->session, "console-2", "test-image", NULL);
  g_autofree char *tcp_base = g_strdup_printf ("http://127.0.0.1:%u", f->daemon.tcp_port);
  g_autoptr(SoupSession) tcp = soup_session_new ();
  g_autoptr(SoupWebsocketConnection) ws = NULL;
  g_autoptr(SoupWebsocketConnection) again = NULL;
  g_autoptr(SoupWebsocketConnection) second = NULL;
  g_autoptr(JsonNode) console = NULL;
  g_autofree char *url = NULL;
  g_autofree char *echoed = NULL;
  g_autofree char *wrong = NULL;
  g_autofree char *plain = NULL;
  g_autofree char *other = NULL;
  g_autofree char *tail = NULL;
  g_autofree char *action = g_strdup_printf ("/v2.1/servers/%s/action", id);
  const char *output;
  guint status = 0;

  nlx_test_session_set_version (tcp, "2.6");
  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  url = console_url_of (tcp, tcp_base, id, FALSE);

  /* A wrong token is refused before any upgrade. */
  wrong = g_strdup_printf ("ws://127.0.0.1:%u/serial-console?token=0123", f->daemon.tcp_port);
  g_assert_null (nlx_test_ws_connect (tcp, wrong, &status));
  g_assert_cmpuint (status, ==, 401);
  tail = g_strdup_printf ("ws://127.0.0.1:%u/serial-console", f->daemon.tcp_port);
  g_assert_null (nlx_test_ws_connect (tcp, tail, &status));
  g_assert_cmpuint (status, ==, 401);
  /* A plain GET is no console and does not use the token up. */
  plain = g_strconcat ("http", url + strlen ("ws"), NULL);
  g_assert_cmpint (nlx_test_call_full (tcp, plain, "GET", "", NULL, NULL, NULL,
                                       NULL, NULL), ==, 400);

  ws = nlx_test_ws_connect (tcp, url, &status);
  g_assert_nonnull (ws);
  g_assert_cmpuint (status, ==, 101);
  soup_websocket_connection_send_text (ws, "\x1b[31mnlx-api-marker\n");
  echoed = nlx_test_ws_read_until (ws, "nlx-api-marker\n", 5);
  g_assert_cmpstr (echoed, ==, "\x1b[31mnlx-api-marker\n");

  /* Used once. */
  again = nlx_test_ws_connect (tcp, url, &status);
  g_assert_null (again);
  g_assert_cmpuint (status, ==, 401);

  /* The console log has it, neutralised for display. */
  g_assert_cmpint (nlx_test_call_full (tcp, tcp_base, "POST", action,
                                       "{\"os-getConsoleOutput\": {}}",
                                       "X-Auth-Token", "s3cret-t0ken", &console, NULL), ==, 200);
  output = json_object_get_string_member (json_node_get_object (console), "output");
  g_assert_nonnull (strstr (output, "^[[31mnlx-api-marker\n"));
  g_assert_null (strchr (output, 0x1b));

  /* Closing detaches; deleting the server closes a console still open. */
  soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  g_assert_true (nlx_test_ws_wait_closed (ws, 5));
  other = console_url_of (tcp, tcp_base, id, TRUE);
  second = nlx_test_ws_connect (tcp, other, &status);
  g_assert_nonnull (second);
  nlx_test_delete_and_wait (f->session, id);
  g_assert_true (nlx_test_ws_wait_closed (second, 5));
  /* Nothing held: the WebSockets' connections are gone too. */
  g_clear_object (&tcp);
  wait_for_connections (f, 0);
}

static void
test_remote_console_expiry (Fixture *f,
                            gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *id = nlx_test_create (f->session, "console-3", "test-image", NULL);
  g_autoptr(SoupWebsocketConnection) ws = NULL;
  g_autofree char *url = NULL;
  guint status = 0;

  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  url = console_url_of (f->session, "http://localhost", id, TRUE);
  g_usleep (1500 * 1000);
  ws = nlx_test_ws_connect (f->session, url, &status);
  g_assert_null (ws);
  g_assert_cmpuint (status, ==, 401);
  nlx_test_delete_and_wait (f->session, id);
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_summary ("The Compute API and the manager, over HTTP, on the fake "
                  "driver: remote consoles: asked for, served over a "
                  "WebSocket, and expired.");
  /* Failed operations are logged as warnings, and some tests fail them
   * on purpose. */
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR);

#define ADD(path, func, config) \
  g_test_add (path, Fixture, config, fixture_set_up, func, fixture_tear_down)
  ADD ("/nlx/api/console/requests", test_remote_console_requests, TCP_TOKEN_CONFIG);
  ADD ("/nlx/api/console/websocket", test_remote_console_websocket, TCP_TOKEN_CONFIG);
  ADD ("/nlx/api/console/expiry", test_remote_console_expiry,
       "[console]\ntoken_ttl = 1\n");
#undef ADD

  return g_test_run ();
}
