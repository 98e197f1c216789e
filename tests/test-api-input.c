/* test-api-input.c: the Compute API and the manager, over HTTP, on the
 * fake driver: hostile input: malformed JSON, bad text and numbers,
 * content types, path traversal, and concurrent actions on one server (the
 * fixture: lib/nlx-api-fixture.h). */
#include "config.h"

#include <stdio.h>
#include <gio/gunixsocketaddress.h>

#include "common/nlx-json.h"
#include "lib/nlx-api-fixture.h"
#include "lib/nlx-test-client.h"
#include "lib/nlx-test-daemon.h"
#include "lib/nlx-test-tools.h"

/* ---- hostile input ------------------------------------------------------ */

/* A connection of its own to the daemon's socket, for requests that an
 * HTTP client library would tidy up (dot segments) or serialize. */
static GSocketConnection *
input_connect (Fixture *f)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (f->socket);
  g_autoptr(GError) error = NULL;
  GSocketConnection *connection =
    g_socket_client_connect (client, G_SOCKET_CONNECTABLE (address), NULL, &error);

  g_assert_no_error (error);
  return connection;
}

static void
input_send (GSocketConnection *connection,
          const char *method,
          const char *path,
          const char *body)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *request =
    g_strdup_printf ("%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     method, path, body ? strlen (body) : 0, body ? body : "");

  g_assert_true (g_output_stream_write_all (
    g_io_stream_get_output_stream (G_IO_STREAM (connection)), request,
    strlen (request), NULL, NULL, &error));
  g_assert_no_error (error);
}

/* The status of the one answer on @connection, which the daemon closes;
 * its body must be one strict JSON value, returned in @reply. */
static guint
input_finish (GSocketConnection *connection,
            JsonNode **reply)
{
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (connection));
  g_autoptr(GByteArray) answer = g_byte_array_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) body = NULL;
  char buffer[4096];
  gssize n;
  const char *end;
  guint status = 0;

  while ((n = g_input_stream_read (in, buffer, sizeof buffer, NULL, &error)) > 0)
    g_byte_array_append (answer, (guint8 *) buffer, n);
  g_assert_no_error (error);
  g_byte_array_append (answer, (guint8 *) "", 1);
  g_assert_cmpint (sscanf ((char *) answer->data, "HTTP/1.1 %u ", &status), ==, 1);
  end = strstr ((char *) answer->data, "\r\n\r\n");
  g_assert_nonnull (end);
  if (end[4] != '\0')
    {
      body = nlx_json_parse (end + 4, -1, &error);
      g_assert_no_error (error);
    }
  if (reply != NULL)
    *reply = g_steal_pointer (&body);
  return status;
}

static guint
input_call (Fixture *f,
          const char *method,
          const char *path,
          const char *body,
          JsonNode **reply)
{
  g_autoptr(GSocketConnection) connection = input_connect (f);

  input_send (connection, method, path, body);
  return input_finish (connection, reply);
}

static void
expect_input_fault (Fixture *f,
                  const char *method,
                  const char *path,
                  const char *body,
                  guint status,
                  const char *name)
{
  g_autoptr(JsonNode) reply = NULL;
  g_autofree char *head = g_strndup (body ? body : "", 80);
  g_autofree char *shown = g_strescape (head, NULL);

  g_test_message ("%s %s %s", method, path, shown);
  g_assert_cmpint (input_call (f, method, path, body, &reply), ==, status);
  nlx_test_assert_fault (reply, name, status);
}

/* Bodies that are not one JSON object: each is a 400 with one fault, the
 * daemon neither crashes nor logs a CRITICAL (fatal here), and nothing is
 * made. */
static void
test_malformed_json (Fixture *f,
                     gconstpointer data G_GNUC_UNUSED)
{
  static const char * const bodies[] = {
    " ", "\n\t\r\n  ",
    /* json-glib parses the first value and leaks the second. */
    "\"x\"" CREATE_BODY (""),
    CREATE_BODY ("") "{}",
    CREATE_BODY ("") " x",
    "{'server': {}}",
    "/* c */" CREATE_BODY (""),
    CREATE_BODY (", \"name\": \"y\""),
    CREATE_BODY (", \"metadata\": {\"k\": \"a\", \"k\": \"b\"}"),
    "{\"server\": {\"name\": \"x\xff\", \"flavorRef\": \"m1.tiny\", \"imageRef\": \"test-image\"}}",
    "{\"server\": {\"name\": \"x\xed\xa0\x80\", \"flavorRef\": \"m1.tiny\", \"imageRef\": \"test-image\"}}",
  };
  g_autofree char *id = nlx_test_create (f->session, "target", "test-image", NULL);
  g_autofree char *action = g_strconcat ("/v2.1/servers/", id, "/action", NULL);
  GString *deep = g_string_new (NULL);
  g_autofree char *nested = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (bodies); i++)
    {
      expect_input_fault (f, "POST", "/v2.1/servers", bodies[i], 400, "badRequest");
      expect_input_fault (f, "POST", action, bodies[i], 400, "badRequest");
    }
  /* json-glib recurses once per level (100,000 overflow its stack); the
   * body limit allows some 65,000 here, refused before json-glib sees them. */
  while (deep->len < NLX_API_MAX_BODY - 16)
    g_string_append_c (deep, '[');
  nested = g_string_free (deep, FALSE);
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(JsonNode) reply = NULL;

      g_assert_cmpint (input_call (f, "POST", i ? action : "/v2.1/servers", nested,
                                   &reply), ==, 400);
      nlx_test_assert_fault (reply, "badRequest", 400);
      g_assert_nonnull (strstr (json_object_get_string_member (
                                  nlx_test_object_at (reply, "badRequest"), "message"),
                                "deeper than"));
    }

  /* Numbers json-glib would wrap or make infinite. */
  expect_input_fault (f, "POST", "/v2.1/os-volumes",
                    "{\"volume\": {\"display_name\": \"nlxtest-v\", \"size\": 18446744073709551617}}",
                    400, "badRequest");
  expect_input_fault (f, "POST", "/v2.1/os-volumes",
                    "{\"volume\": {\"display_name\": \"nlxtest-v\", \"size_mb\": 1e999}}",
                    400, "badRequest");

  g_assert_cmpuint (server_count (f), ==, 1);
  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  nlx_test_delete_and_wait (f->session, id);
}

/* Text the record loader would refuse, or that would change on the way:
 * refused by every entry point that takes it, so no record is ever
 * written that the daemon cannot read back after a restart. */
static void
test_bad_text (Fixture *f,
               gconstpointer data G_GNUC_UNUSED)
{
  static const char * const texts[] = {
    "a\\u0000b",                /* json-glib cut the name short: "a" */
    "a\\ud800b",                /* lone surrogate: 202, then unreadable */
    "a\\udc00",
    "a\\u0007b",                /* a control character */
    "a\\nb",
    "a\\u001b[31mred",
    "a\\u0085b",                /* C1 control NEL */
  };
  g_autofree char *id = nlx_test_create (f->session, "keeper", "test-image",
                                         ", \"metadata\": {\"k\": \"v\"}");
  g_autofree char *path = g_strconcat ("/v2.1/servers/", id, NULL);
  g_autofree char *action = g_strconcat (path, "/action", NULL);
  g_autoptr(JsonNode) reply = NULL;
  JsonObject *server;

  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      g_autofree char *create_name = g_strdup_printf (
        "{\"server\": {\"name\": \"%s\", \"flavorRef\": \"m1.tiny\", "
        "\"imageRef\": \"test-image\"}}", texts[i]);
      g_autofree char *create_key = g_strdup_printf (
        CREATE_BODY (", \"metadata\": {\"%s\": \"v\"}"), texts[i]);
      g_autofree char *create_value = g_strdup_printf (
        CREATE_BODY (", \"metadata\": {\"k\": \"%s\"}"), texts[i]);
      g_autofree char *rename = g_strdup_printf ("{\"server\": {\"name\": \"%s\"}}",
                                                 texts[i]);
      g_autofree char *rebuild_name = g_strdup_printf (
        "{\"rebuild\": {\"imageRef\": \"test-image\", \"name\": \"%s\"}}", texts[i]);
      g_autofree char *rebuild_meta = g_strdup_printf (
        "{\"rebuild\": {\"imageRef\": \"test-image\", \"metadata\": {\"%s\": \"v\"}}}",
        texts[i]);
      g_autofree char *snapshot = g_strdup_printf (
        "{\"createImage\": {\"name\": \"nlxtest-snap\", \"metadata\": {\"k\": \"%s\"}}}",
        texts[i]);
      g_autofree char *snapshot_key = g_strdup_printf (
        "{\"createImage\": {\"name\": \"nlxtest-snap\", \"metadata\": {\"%s\": \"v\"}}}",
        texts[i]);
      g_autofree char *import = g_strdup_printf (
        "{\"image\": {\"name\": \"nlxtest-imp\", \"file\": \"/nonexistent\", "
        "\"properties\": {\"k\": \"%s\"}}}", texts[i]);

      expect_input_fault (f, "POST", "/v2.1/servers", create_name, 400, "badRequest");
      expect_input_fault (f, "POST", "/v2.1/servers", create_key, 400, "badRequest");
      expect_input_fault (f, "POST", "/v2.1/servers", create_value, 400, "badRequest");
      expect_input_fault (f, "PUT", path, rename, 400, "badRequest");
      expect_input_fault (f, "POST", action, rebuild_name, 400, "badRequest");
      expect_input_fault (f, "POST", action, rebuild_meta, 400, "badRequest");
      expect_input_fault (f, "POST", action, snapshot, 400, "badRequest");
      expect_input_fault (f, "POST", action, snapshot_key, 400, "badRequest");
      expect_input_fault (f, "POST", "/v2.1/images", import, 400, "badRequest");
    }
  /* Text that is fine goes through and comes back unchanged. */
  g_assert_cmpint (nlx_test_call (f->session, "PUT", path,
                                  "{\"server\": {\"name\": \"caf\\u00e9 \\ud83d\\ude00\"}}",
                                  NULL), ==, 200);

  /* Nothing changed, and the record reads back after a restart. */
  g_assert_cmpuint (server_count (f), ==, 1);
  nlx_test_daemon_stop (&f->daemon);
  nlx_test_daemon_start (&f->daemon, f->config_text);
  g_assert_no_error (f->daemon.start_error);
  reply = nlx_test_show (f->session, id);
  server = nlx_test_object_at (reply, "server");
  g_assert_cmpstr (json_object_get_string_member (server, "name"), ==,
                   "caf\xc3\xa9 \xf0\x9f\x98\x80");
  g_assert_cmpuint (json_object_get_size (json_object_get_object_member (server, "metadata")),
                    ==, 1);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (server,
                                                                                 "metadata"),
                                                  "k"), ==, "v");
  g_assert_cmpuint (server_count (f), ==, 1);
  nlx_test_delete_and_wait (f->session, id);
}

/* Numbers given as strings take Nova's decimal form only, and each bad
 * field gets one fault, not one per check that noticed. */
static void
test_bad_numbers (Fixture *f,
                  gconstpointer data G_GNUC_UNUSED)
{
  static const char * const lengths[] = {
    "\"0x10\"", "\" 5\"", "\"5 \"", "\"+5\"", "\"05\"", "\"-0\"", "\"\"", "\"-2\"",
    "\"99999999999999999999\"", "99999999999999999999", "-2", "1.5", "true",
    "\"2147483648\"", "2147483648", "[]",
  };
  static const char * const boot_indexes[] = {
    "\"0x\"", "\" 0\"", "\"-0\"", "\"00\"", "\"0 \"", "\"\"", "\"x\"", "0.0", "true",
    "[]", "{}", "\"99999999999999999999\"", "99999999999999999999",
  };
  g_autofree char *id = nlx_test_create (f->session, "numbers", "test-image", NULL);
  g_autofree char *action = g_strconcat ("/v2.1/servers/", id, "/action", NULL);
  g_autoptr(JsonNode) reply = NULL;

  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  for (guint i = 0; i < G_N_ELEMENTS (lengths); i++)
    {
      g_autofree char *body = g_strdup_printf ("{\"os-getConsoleOutput\": {\"length\": %s}}",
                                               lengths[i]);

      expect_input_fault (f, "POST", action, body, 400, "badRequest");
    }
  for (guint i = 0; i < 4; i++)
    {
      static const char * const good[] = { "\"-1\"", "-1", "\"10\"", "0" };
      g_autofree char *body = g_strdup_printf ("{\"os-getConsoleOutput\": {\"length\": %s}}",
                                               good[i]);

      g_assert_cmpint (input_call (f, "POST", action, body, NULL), ==, 200);
    }

  for (guint i = 0; i < G_N_ELEMENTS (boot_indexes); i++)
    {
      g_autofree char *body = g_strdup_printf (
        "{\"server\": {\"name\": \"x\", \"flavorRef\": \"m1.tiny\", "
        "\"block_device_mapping_v2\": [{\"boot_index\": %s, \"uuid\": \"nlxtest-vol\", "
        "\"source_type\": \"volume\", \"destination_type\": \"volume\"}]}}",
        boot_indexes[i]);

      expect_input_fault (f, "POST", "/v2.1/servers", body, 400, "badRequest");
    }
  /* This answered two fault bodies back to back: not JSON at all. */
  expect_input_fault (f, "POST", "/v2.1/servers",
                    CREATE_BODY (", \"block_device_mapping_v2\": [{\"volume_id\": 7, "
                                 "\"source_type\": \"volume\"}]"), 400, "badRequest");
  expect_input_fault (f, "POST", "/v2.1/servers",
                    CREATE_BODY (", \"block_device_mapping_v2\": [{\"volume_id\": null, "
                                 "\"source_type\": \"volume\"}]"), 400, "badRequest");
  g_assert_cmpuint (server_count (f), ==, 1);
  nlx_test_delete_and_wait (f->session, id);
}

/* Nova takes JSON, and a body labelled as anything else gets 415;
 * no label, or text/plain (what some clients send by default), is JSON. */
static void
test_content_type (Fixture *f,
                   gconstpointer data G_GNUC_UNUSED)
{
  static const struct {
    const char *type;
    guint status;
  } cases[] = {
    { "text/html", 415 },
    { "application/xml", 415 },
    { "application/x-www-form-urlencoded", 415 },
    { "multipart/form-data; boundary=x", 415 },
    { "application/jsonx", 415 },
    { "application/json", 202 },
    { "Application/JSON; charset=utf-8", 202 },
    { "application/vnd.openstack.compute+json", 202 },
    { "text/plain", 202 },
    { "", 202 },
    { NULL, 202 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GSocketConnection) connection = input_connect (f);
      g_autoptr(JsonNode) reply = NULL;
      g_autoptr(GError) error = NULL;
      const char *body = CREATE_BODY ("");
      g_autofree char *header = cases[i].type
        ? g_strdup_printf ("Content-Type: %s\r\n", cases[i].type) : g_strdup ("");
      g_autofree char *request =
        g_strdup_printf ("POST /v2.1/servers HTTP/1.1\r\nHost: localhost\r\n"
                         "Connection: close\r\n%sContent-Length: %zu\r\n\r\n%s",
                         header, strlen (body), body);

      g_test_message ("Content-Type: %s", cases[i].type ? cases[i].type : "(none)");
      g_assert_true (g_output_stream_write_all (
        g_io_stream_get_output_stream (G_IO_STREAM (connection)), request,
        strlen (request), NULL, NULL, &error));
      g_assert_cmpint (input_finish (connection, &reply), ==, cases[i].status);
      if (cases[i].status == 415)
        nlx_test_assert_fault (reply, "badMediaType", 415);
      else
        {
          const char *id = json_object_get_string_member (nlx_test_object_at (reply, "server"),
                                                          "id");

          nlx_test_wait_for_status (f->session, id, "ACTIVE");
          nlx_test_delete_and_wait (f->session, id);
        }
    }
  g_assert_cmpuint (server_count (f), ==, 0);
}

/* Paths that try to climb out of a collection name nothing outside the
 * API.  Dot segments, literal or encoded, are resolved as RFC 3986 says
 * before routing, so they can only name another API path; libsoup
 * decodes the path and refuses (400, without a body) a decoding that
 * makes a new ".." segment, a NUL or a bad escape; a "." or ".." segment
 * that is left is refused with a fault. */
static void
test_path_traversal (Fixture *f,
                     gconstpointer data G_GNUC_UNUSED)
{
  static const struct {
    const char *path;
    guint get, delete;
  } cases[] = {
    { "/v2.1/servers/../..", 200, 405 },        /* that is "/" */
    { "/v2.1/servers/../../etc/passwd", 404, 404 },
    { "/v2.1/servers/%2e%2e/%2e%2e", 200, 405 },
    { "/v2.1/servers/%2e", 200, 405 },          /* "/v2.1/servers/" */
    { "/v2.1/os-volumes/%2e%2e", 200, 405 },    /* "/v2.1/" */
    { "/v2.1/images/%2e%2e", 200, 405 },
    { "/v2.1/servers/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd", 400, 400 },
    { "/v2.1/servers/..%2f..%2f", 400, 400 },
    { "/v2.1/os-volumes/..%2F..%2Fetc%2Fpasswd", 400, 400 },
    { "/v2.1/images/..%2F..%2Fetc", 400, 400 },
    { "/v2.1/flavors/..%2Fm1.tiny", 400, 400 },
    { "/v2.1/servers/x/os-volume_attachments/..%2F..", 400, 400 },
    { "/v2.1/servers/%2e%2fx", 400, 400 },
    { "/v2.1/servers/x%2f%2e/y", 400, 400 },
    { "/v2.1/servers/%00", 400, 400 },
    { "/v2.1/servers/a%00b", 400, 400 },
    { "/v2.1/servers/%zz", 400, 400 },
    { "/v2.1/servers/%ff%fe", 404, 404 },
    { "/v2.1/os-volumes/%ff", 400, 400 },     /* not a volume id */
  };
  g_autofree char *id = nlx_test_create (f->session, "paths", "test-image", NULL);
  g_autofree char *climb = g_strdup_printf ("/v2.1/servers/%s%%2F..%%2F%s", id, id);

  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(JsonNode) got = NULL;
      g_autoptr(JsonNode) deleted = NULL;

      g_test_message ("GET and DELETE %s", cases[i].path);
      g_assert_cmpint (input_call (f, "GET", cases[i].path, NULL, &got), ==, cases[i].get);
      g_assert_cmpint (input_call (f, "DELETE", cases[i].path, NULL, &deleted), ==,
                       cases[i].delete);
      /* Ours come with a fault; libsoup's own 400s have no body. */
      if (cases[i].get >= 400 && got != NULL)
        nlx_test_assert_fault (got, cases[i].get == 400 ? "badRequest" : "itemNotFound",
                               cases[i].get);
    }
  g_assert_cmpint (input_call (f, "DELETE", climb, NULL, NULL), ==, 400);
  g_assert_cmpint (input_call (f, "POST", climb, "{\"os-stop\": null}", NULL), ==, 400);

  g_assert_cmpuint (server_count (f), ==, 1);
  nlx_test_delete_and_wait (f->session, id);
}

/* Many clients at once asking one server for things that exclude each
 * other: exactly one is taken, the others are told 409, and the daemon
 * goes on serving. */
static void
test_concurrent_actions (Fixture *f,
                         gconstpointer data G_GNUC_UNUSED)
{
  enum { CLIENTS = 100 };
  g_autofree char *id = nlx_test_create (f->session, "contended", "test-image", NULL);
  g_autofree char *action = g_strconcat ("/v2.1/servers/", id, "/action", NULL);
  GSocketConnection *connections[CLIENTS];
  guint accepted = 0, conflicts = 0;
  g_autofree char *status = NULL;

  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  for (guint i = 0; i < CLIENTS; i++)
    connections[i] = input_connect (f);
  for (guint i = 0; i < CLIENTS; i++)
    input_send (connections[i], "POST", action, "{\"os-stop\": null}");
  for (guint i = 0; i < CLIENTS; i++)
    {
      g_autoptr(JsonNode) reply = NULL;
      guint code = input_finish (connections[i], &reply);

      if (code == 202)
        accepted++;
      else
        {
          g_assert_cmpint (code, ==, 409);
          nlx_test_assert_fault (reply, "conflictingRequest", 409);
          conflicts++;
        }
      g_object_unref (connections[i]);
    }
  g_assert_cmpuint (accepted, ==, 1);
  g_assert_cmpuint (conflicts, ==, CLIENTS - 1);
  nlx_test_wait_for_status (f->session, id, "SHUTOFF");
  status = nlx_test_status_of (f->session, id);
  g_assert_cmpstr (status, ==, "SHUTOFF");
  nlx_test_delete_and_wait (f->session, id);
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_summary ("The Compute API and the manager, over HTTP, on the fake "
                  "driver: hostile input: malformed JSON, bad text and "
                  "numbers, content types, path traversal, and concurrent "
                  "actions on one server.");
  /* Failed operations are logged as warnings, and some tests fail them
   * on purpose. */
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR);

#define ADD(path, func, config) \
  g_test_add (path, Fixture, config, fixture_set_up, func, fixture_tear_down)
  ADD ("/nlx/api/input/malformed-json", test_malformed_json, NULL);
  ADD ("/nlx/api/input/bad-text", test_bad_text, NULL);
  ADD ("/nlx/api/input/bad-numbers", test_bad_numbers, NULL);
  ADD ("/nlx/api/input/content-type", test_content_type, NULL);
  ADD ("/nlx/api/input/path-traversal", test_path_traversal, NULL);
  ADD ("/nlx/api/input/concurrent-actions", test_concurrent_actions, NULL);
#undef ADD

  return g_test_run ();
}
