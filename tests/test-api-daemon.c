/* test-api-daemon.c: the Compute API and the manager, over HTTP, on the
 * fake driver: the daemon itself: version documents, the catalog, one
 * daemon per state, start and stop, connections and their limits, the
 * faults table and routing (the fixture: lib/nlx-api-fixture.h). */
#include "config.h"

#include <signal.h>
#include <unistd.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>

#include "api/nlx-api-faults.h"
#include "api/nlx-api.h"
#include "lib/nlx-api-fixture.h"
#include "lib/nlx-test-client.h"
#include "lib/nlx-test-daemon.h"
#include "lib/nlx-test-tools.h"
#include "model/nlx-metadata.h"

static void
test_versions (Fixture *f,
               gconstpointer data G_GNUC_UNUSED)
{
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(JsonNode) version = NULL;
  g_autoptr(SoupMessageHeaders) headers = NULL;
  g_autoptr(SoupMessageHeaders) headers2 = NULL;
  JsonArray *versions;

  g_assert_cmpint (nlx_test_call (f->session, "GET", "/", NULL, &reply), ==, 200);
  versions = json_object_get_array_member (json_node_get_object (reply),
                                           "versions");
  /* Nova's list: the legacy v2.0 first, whose document (only) is
   * served too, so that every link can be followed. */
  g_assert_cmpuint (json_array_get_length (versions), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (versions, 0),
                                                  "id"), ==, "v2.0");
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (versions, 1),
                                                  "id"), ==, "v2.1");
  g_assert_cmpint (nlx_test_call (f->session, "GET", "/v2/", NULL, &version), ==, 200);
  g_assert_cmpstr (json_object_get_string_member (nlx_test_object_at (version, "version"),
                                                  "status"), ==, "SUPPORTED");
  g_clear_pointer (&version, json_node_unref);
  nlx_test_expect_fault (f->session, "GET", "/v2/servers", NULL, 404, "itemNotFound");

  g_assert_cmpint (nlx_test_call_full (f->session, "http://localhost", "GET", "/v2.1", NULL,
                              "OpenStack-API-Version", "compute 2.1",
                              &version, &headers), ==, 200);
  g_assert_cmpstr (json_object_get_string_member (nlx_test_object_at (version, "version"),
                                                  "status"), ==, "CURRENT");
  g_assert_cmpstr (soup_message_headers_get_one (headers, "OpenStack-API-Version"),
                   ==, "compute 2.1");
  g_assert_cmpstr (soup_message_headers_get_one (headers,
                                                 "X-OpenStack-Nova-API-Version"),
                   ==, "2.1");
  g_assert_true (g_str_has_prefix (soup_message_headers_get_one (headers,
                                                                 "X-Openstack-Request-Id"),
                                   "req-"));

  /* Every request has its own id. */
  g_assert_cmpint (nlx_test_call_full (f->session, "http://localhost", "GET", "/v2.1/", NULL,
                              "X-OpenStack-Nova-API-Version", "latest", NULL,
                              &headers2), ==, 200);
  g_assert_cmpstr (soup_message_headers_get_one (headers, "X-Openstack-Request-Id"),
                   !=, soup_message_headers_get_one (headers2, "X-Openstack-Request-Id"));

  nlx_test_expect_fault (f->session, "GET", "/v3/servers", NULL, 404, "itemNotFound");
  nlx_test_expect_fault (f->session, "DELETE", "/v2.1/flavors", NULL, 405, "badMethod");
}

/* The microversion a request gets, and the headers that say it. */
static guint
call_at (Fixture *f,
         const char *header,
         const char *value,
         const char *path,
         char **served,
         JsonNode **reply)
{
  g_autoptr(SoupMessageHeaders) headers = NULL;
  guint status = nlx_test_call_full (f->session, "http://localhost", "GET",
                                     path, NULL, header, value, reply,
                                     &headers);
  const char *generic = soup_message_headers_get_one (headers,
                                                      "OpenStack-API-Version");
  const char *nova = soup_message_headers_get_one (headers,
                                                   "X-OpenStack-Nova-API-Version");

  /* Both headers say the same, whichever the request used. */
  g_assert_nonnull (generic);
  g_assert_true (g_str_has_prefix (generic, "compute "));
  g_assert_cmpstr (generic + strlen ("compute "), ==, nova);
  if (served != NULL)
    *served = g_strdup (nova);
  return status;
}

static void
test_microversions (Fixture *f,
                    gconstpointer data G_GNUC_UNUSED)
{
  static const struct {
    const char *header;
    const char *value;
    guint status;
    const char *served;
  } cases[] = {
    { NULL, NULL, 200, "2.1" },
    { "OpenStack-API-Version", "compute 2.1", 200, "2.1" },
    { "OpenStack-API-Version", "compute 2.37", 200, "2.37" },
    { "OpenStack-API-Version", "COMPUTE  2.53 ", 200, "2.53" },
    { "OpenStack-API-Version", "volume 3.10, compute 2.60", 200, "2.60" },
    { "OpenStack-API-Version", "volume 3.10", 200, "2.1" },
    { "OpenStack-API-Version", "compute latest", 200, "2.96" },
    { "X-OpenStack-Nova-API-Version", "2.79", 200, "2.79" },
    { "X-OpenStack-Nova-API-Version", "latest", 200, "2.96" },
    { "OpenStack-API-Version", "compute 2.96", 200, "2.96" },
    { "OpenStack-API-Version", "compute 2.97", 406, NULL },
    { "OpenStack-API-Version", "compute 2.0", 406, NULL },
    { "OpenStack-API-Version", "compute 3.0", 400, NULL },
    { "OpenStack-API-Version", "compute 2.01", 400, NULL },
    { "OpenStack-API-Version", "compute 2.x", 400, NULL },
    { "OpenStack-API-Version", "compute 2.", 400, NULL },
    { "X-OpenStack-Nova-API-Version", "2.99999999999999999999", 400, NULL },
  };
  g_autoptr(JsonNode) version = NULL;
  JsonObject *document;

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(JsonNode) reply = NULL;
      g_autofree char *served = NULL;

      g_test_message ("%s: %s", cases[i].header, cases[i].value);
      g_assert_cmpuint (call_at (f, cases[i].header, cases[i].value,
                                 "/v2.1/flavors", &served, &reply),
                        ==, cases[i].status);
      if (cases[i].served != NULL)
        g_assert_cmpstr (served, ==, cases[i].served);
      else
        {
          nlx_test_assert_fault (reply,
                                 cases[i].status == 406 ? "notAcceptable"
                                                        : "badRequest",
                                 cases[i].status);
          /* The message says what is served. */
          g_assert_nonnull (strstr (json_object_get_string_member (nlx_test_object_at (reply,
                                                                                       cases[i].status == 406 ? "notAcceptable" : "badRequest"),
                                                                   "message"),
                                    "2.1 to 2.96"));
        }
    }

  /* The version document says the range. */
  g_assert_cmpuint (call_at (f, NULL, NULL, "/v2.1", NULL, &version), ==, 200);
  document = nlx_test_object_at (version, "version");
  g_assert_cmpstr (json_object_get_string_member (document, "min_version"),
                   ==, "2.1");
  g_assert_cmpstr (json_object_get_string_member (document, "version"),
                   ==, "2.96");

  /* Paths come and go with the version: the image and volume proxies
   * are gone in 2.36, remote consoles came in 2.6, hypervisor statistics
   * went in 2.88. */
  g_assert_cmpuint (call_at (f, "OpenStack-API-Version", "compute 2.35",
                             "/v2.1/images", NULL, NULL), ==, 200);
  g_assert_cmpuint (call_at (f, "OpenStack-API-Version", "compute 2.36",
                             "/v2.1/images", NULL, NULL), ==, 404);
  g_assert_cmpuint (call_at (f, "OpenStack-API-Version", "compute 2.36",
                             "/v2.1/os-volumes/detail", NULL, NULL), ==, 404);
  g_assert_cmpuint (call_at (f, "OpenStack-API-Version", "compute 2.87",
                             "/v2.1/os-hypervisors/statistics", NULL, NULL),
                    ==, 200);
  g_assert_cmpuint (call_at (f, "OpenStack-API-Version", "compute 2.88",
                             "/v2.1/os-hypervisors/statistics", NULL, NULL),
                    ==, 404);
}

static void
test_catalog (Fixture *f,
              gconstpointer data G_GNUC_UNUSED)
{
  g_autoptr(JsonNode) flavors = NULL;
  g_autoptr(JsonNode) flavor = NULL;
  g_autoptr(JsonNode) images = NULL;
  g_autoptr(JsonNode) stats = NULL;
  g_autoptr(JsonNode) hypervisors = NULL;
  JsonObject *object;

  g_assert_cmpint (nlx_test_call (f->session, "GET", "/v2.1/flavors/detail", NULL, &flavors), ==, 200);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (json_node_get_object (flavors),
                                                                         "flavors")), ==, 5);
  g_assert_cmpint (nlx_test_call (f->session, "GET", "/v2.1/flavors/m1.small", NULL, &flavor), ==, 200);
  object = nlx_test_object_at (flavor, "flavor");
  g_assert_cmpint (json_object_get_int_member (object, "ram"), ==, 2048);
  g_assert_cmpint (json_object_get_int_member (object, "disk"), ==, 20);
  g_assert_cmpint (json_object_get_int_member (object, "vcpus"), ==, 1);
  nlx_test_expect_fault (f->session, "GET", "/v2.1/flavors/m1.huge", NULL, 404, "itemNotFound");

  g_assert_cmpint (nlx_test_call (f->session, "GET", "/v2.1/images/test-image", NULL, &images), ==, 200);
  object = nlx_test_object_at (images, "image");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (object, "metadata"),
                                                  "os_shutdown_signal"), ==, "SIGUSR2");
  nlx_test_expect_fault (f->session, "GET", "/v2.1/images/nope", NULL, 404, "itemNotFound");

  g_assert_cmpint (nlx_test_call (f->session, "GET", "/v2.1/os-hypervisors/statistics", NULL,
                         &stats), ==, 200);
  object = nlx_test_object_at (stats, "hypervisor_statistics");
  g_assert_cmpint (json_object_get_int_member (object, "count"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (object, "vcpus"), >, 0);
  g_assert_cmpint (json_object_get_int_member (object, "running_vms"), ==, 0);
  g_assert_cmpint (nlx_test_call (f->session, "GET", "/v2.1/os-hypervisors/detail", NULL,
                         &hypervisors), ==, 200);
  object = json_array_get_object_element (json_object_get_array_member (json_node_get_object (hypervisors),
                                                                        "hypervisors"), 0);
  g_assert_cmpstr (json_object_get_string_member (object, "hypervisor_type"), ==, "fake");
}

/* ---- one daemon per state ------------------------------------------------ */

static void
on_exited (GObject *source G_GNUC_UNUSED,
           GAsyncResult *result G_GNUC_UNUSED,
           gpointer data)
{
  *(gboolean *) data = TRUE;
}

/* Runs the real daemon on @config_text; it must exit within 20 s (a
 * second daemon that does not is killed and fails the test), or, with
 * @socket, once it serves there, it is sent SIGTERM.  Freed memory is
 * filled with a pattern (MALLOC_PERTURB_), so that a use after free
 * shows.  Returns its exit status, or -1 when a signal killed it, with
 * what it printed in @err. */
static int
run_daemon (Fixture *f,
            const char *config_text,
            const char *socket,
            char **err)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
  g_autoptr(GSubprocess) daemon = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *conf = g_build_filename (f->dir, "second.conf", NULL);
  g_autofree char *log = g_build_filename (f->dir, "second.log", NULL);
  g_autofree char *binary = g_build_filename (g_getenv ("NLX_TOP_BUILDDIR"),
                                              "src", "nova-lxc-compute", NULL);
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  gboolean exited = FALSE;

  g_assert_nonnull (g_getenv ("NLX_TOP_BUILDDIR"));
  g_assert_true (g_file_set_contents (conf, config_text, -1, NULL));
  g_subprocess_launcher_set_stderr_file_path (launcher, log);
  g_subprocess_launcher_setenv (launcher, "MALLOC_PERTURB_", "165", TRUE);
  daemon = g_subprocess_launcher_spawn (launcher, &error, binary, "--config",
                                        conf, NULL);
  g_assert_no_error (error);
  g_main_context_push_thread_default (context);
  g_subprocess_wait_async (daemon, NULL, on_exited, &exited);
  if (socket != NULL)
    {
      g_autofree char *text = NULL;

      /* Serving, with events flowing for a while. */
      while (!exited && g_get_monotonic_time () < deadline &&
             (!g_file_get_contents (log, &text, NULL, NULL) ||
              strstr (text, "serving on") == NULL))
        {
          g_clear_pointer (&text, g_free);
          if (!g_main_context_iteration (context, FALSE))
            g_usleep (10 * 1000);
        }
      g_usleep (300 * 1000);
      g_subprocess_send_signal (daemon, SIGTERM);
    }
  while (!exited && g_get_monotonic_time () < deadline)
    if (!g_main_context_iteration (context, FALSE))
      g_usleep (10 * 1000);
  if (!exited)
    {
      g_subprocess_force_exit (daemon);
      while (!exited)
        g_main_context_iteration (context, TRUE);
    }
  g_main_context_pop_thread_default (context);
  g_assert_true (g_file_get_contents (log, err, NULL, NULL));
  g_test_message ("second daemon said: %s", *err);
  g_assert_true (exited);
  if (g_subprocess_get_if_signaled (daemon))
    g_test_message ("killed by signal %d", g_subprocess_get_term_sig (daemon));
  return g_subprocess_get_if_exited (daemon) ? g_subprocess_get_exit_status (daemon)
                                             : -1;
}

/* Stopping under a stream of lifecycle events: the driver's events stop
 * before it closes and before the manager they reach is freed.  The fake
 * driver sends one last event while it closes, as libvirt's thread may;
 * before, that event reached the freed manager.  The real daemon, and
 * then this test's own daemon, several times. */
static void
test_stop_under_events (Fixture *f,
                        gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *other_state = g_build_filename (f->dir, "other-state", NULL);
  g_autofree char *other_socket = g_build_filename (f->dir, "other.sock", NULL);
  g_autofree char *config = g_strdup_printf (
    "[DEFAULT]\ncompute_driver = fake\nstate_path = %s\n"
    "[api]\nsocket = %s\n[fake]\nevent_interval_ms = 1\n",
    other_state, other_socket);
  g_autofree char *id = NULL;

  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *err = NULL;

      g_assert_cmpint (run_daemon (f, config, other_socket, &err), ==, 0);
      g_assert_nonnull (strstr (err, "Stopped"));
      g_assert_null (strstr (err, "CRITICAL"));
    }

  id = nlx_test_create (f->session, "eventful", "test-image", NULL);
  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  for (guint i = 0; i < 5; i++)
    {
      nlx_test_daemon_stop (&f->daemon);
      nlx_test_daemon_start (&f->daemon, f->config_text);
      g_assert_no_error (f->daemon.start_error);
    }
  nlx_test_delete_and_wait (f->session, id);
}

/* Waits up to 10 s for @path to exist (or, with @gone, not to). */
static void
wait_for_file (const char *path,
               gboolean gone)
{
  for (guint i = 0; g_file_test (path, G_FILE_TEST_EXISTS) == gone; i++)
    {
      g_assert_cmpuint (i, <, 1000);
      g_usleep (10 * 1000);
    }
}

/* A read of the driver still running in a worker when the daemon stops:
 * the manager's stop waits for it, and only then does the driver close.
 * Before, console reads, console attaches and the host's size ran in
 * GTask threads nobody waited for, and the driver was freed under them
 * at shutdown; the fake driver aborts when it is closed under a read.
 * The read is held (the fake's hold_path) from before the stop until
 * half a second after the API is gone, when the driver used to close. */
static void
test_stop_waits_for_reads (Fixture *f,
                           gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *hold = g_build_filename (f->dir, "hold", NULL);
  g_autofree char *held = g_strconcat (hold, ".held", NULL);
  g_autofree char *config = g_strdup_printf ("%s[fake]\nhold_path = %s\n",
                                             f->config_text, hold);
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GSocketConnection) connection = NULL;
  static const char request[] = "GET /v2.1/os-hypervisors/statistics HTTP/1.1\r\n"
                                "Host: localhost\r\n\r\n";
  g_autoptr(GError) error = NULL;

  /* Restarted with the hook, which the daemon's start must not meet. */
  nlx_test_daemon_stop (&f->daemon);
  g_free (f->config_text);
  f->config_text = g_steal_pointer (&config);
  nlx_test_daemon_start (&f->daemon, f->config_text);
  g_assert_no_error (f->daemon.start_error);

  g_assert_true (g_file_set_contents (hold, "", 0, NULL));
  address = g_unix_socket_address_new (f->socket);
  connection = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (address),
                                        NULL, &error);
  g_assert_no_error (error);
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (connection)),
                             request, sizeof request - 1, NULL, NULL, &error);
  g_assert_no_error (error);
  wait_for_file (held, FALSE);

  nlx_test_daemon_quit (&f->daemon);
  /* The API goes first, its socket with it; the manager stops next. */
  wait_for_file (f->socket, TRUE);
  g_usleep (500 * 1000);
  g_assert_cmpint (g_unlink (hold), ==, 0);
  nlx_test_daemon_stop (&f->daemon);
}

/* A second daemon on the same state_path, started while the first one
 * builds a server, is refused before it reads anything, names the first
 * one's pid, and changes nothing: before the lock it reconciled the build
 * as one a crash interrupted and put the server in ERROR. */
static void
test_second_daemon (Fixture *f,
                    gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *id = nlx_test_create (f->session, "building", "test-image",
                                         NULL);
  g_autofree char *state = g_build_filename (f->dir, "state", NULL);
  g_autofree char *pid = g_strdup_printf ("(pid %ld)", (long) getpid ());
  g_autoptr(GHashTable) before = snapshot_tree (state);
  g_autoptr(GHashTable) after = NULL;
  g_autoptr(JsonNode) shown = nlx_test_show (f->session, id);
  g_autoptr(JsonNode) shown_after = NULL;
  g_autofree char *err = NULL;
  g_autofree char *other_state = NULL;
  g_autofree char *other_config = NULL;

  g_assert_cmpstr (json_object_get_string_member (nlx_test_object_at (shown, "server"),
                                                  "status"), ==, "BUILD");
  g_assert_cmpint (run_daemon (f, f->config_text, NULL, &err), ==, 1);
  g_assert_nonnull (strstr (err, pid));
  g_assert_nonnull (strstr (err, "state_path"));
  g_clear_pointer (&err, g_free);

  /* Its own state_path, but the same volume directory. */
  other_state = g_build_filename (f->dir, "other-state", NULL);
  other_config = g_strdup_printf ("%s\n[DEFAULT]\nstate_path = %s\n"
                                  "[api]\nsocket = %s/other.sock\n"
                                  "[volumes]\npath = %s/volumes\n",
                                  f->config_text, other_state, f->dir, state);
  g_assert_cmpint (run_daemon (f, other_config, NULL, &err), ==, 1);
  g_assert_nonnull (strstr (err, pid));
  g_assert_nonnull (strstr (err, "volume directory"));

  /* The first daemon's records and its server are as they were. */
  after = snapshot_tree (state);
  assert_same_tree (before, after);
  g_assert_true (g_hash_table_size (before) > 0);
  shown_after = nlx_test_show (f->session, id);
  g_assert_true (json_node_equal (shown, shown_after));
  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  nlx_test_delete_and_wait (f->session, id);
}

static void
test_tcp_token (Fixture *f,
                gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *base = g_strdup_printf ("http://127.0.0.1:%u", f->daemon.tcp_port);
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(SoupSession) unix_session = g_steal_pointer (&f->session);

  g_assert_cmpuint (f->daemon.tcp_port, >, 0);
  f->session = soup_session_new ();
  g_assert_cmpint (nlx_test_call_full (f->session, base, "GET", "/v2.1/servers", NULL, NULL, NULL,
                              &reply, NULL), ==, 401);
  nlx_test_assert_fault (reply, "unauthorized", 401);
  g_assert_cmpint (nlx_test_call_full (f->session, base, "GET", "/v2.1/servers", NULL,
                              "X-Auth-Token", "wrong-token", NULL, NULL), ==, 401);
  g_assert_cmpint (nlx_test_call_full (f->session, base, "GET", "/v2.1/servers", NULL,
                              "X-Auth-Token", "s3cret-t0ken", NULL, NULL), ==, 200);
  /* As Nova's: the version documents are for anyone, so clients can
   * read them before they authenticate; nothing beside them is. */
  g_assert_cmpint (nlx_test_call_full (f->session, base, "GET", "/", NULL, NULL, NULL,
                              NULL, NULL), ==, 200);
  g_assert_cmpint (nlx_test_call_full (f->session, base, "GET", "/v2.1", NULL, NULL, NULL,
                              NULL, NULL), ==, 200);
  g_assert_cmpint (nlx_test_call_full (f->session, base, "GET", "/v2.1/", NULL, NULL, NULL,
                              NULL, NULL), ==, 200);
  g_assert_cmpint (nlx_test_call_full (f->session, base, "GET", "/v2.1/flavors", NULL, NULL,
                              NULL, NULL, NULL), ==, 401);
  g_assert_cmpint (nlx_test_call_full (f->session, base, "GET", "/v2.1/nlxtest-nothing", NULL,
                              NULL, NULL, NULL, NULL), ==, 401);
  /* The Unix socket needs none. */
  g_clear_object (&f->session);
  f->session = g_steal_pointer (&unix_session);
  g_assert_cmpint (nlx_test_call (f->session, "GET", "/v2.1/servers", NULL, NULL), ==, 200);
}

/* ---- connections, byte by byte ---------------------------------------- */

/* A connection to the daemon's Unix socket, or its TCP port when
 * @tcp_port is not 0, with a timeout so a test cannot hang. */
static GSocket *
raw_connect (Fixture *f,
             guint tcp_port)
{
  return nlx_test_raw_connect (f->socket, tcp_port);
}

static gboolean
send_all (GSocket *socket,
          const char *data,
          gsize length,
          GError **error)
{
  while (length > 0)
    {
      gssize sent = g_socket_send (socket, data, length, NULL, error);

      if (sent < 0)
        return FALSE;
      data += sent;
      length -= (gsize) sent;
    }
  return TRUE;
}

/* Sends @request; returns whatever comes back until the daemon closes
 * the connection. */
static char *
raw_exchange (GSocket *socket,
              const char *request)
{
  g_autoptr(GError) error = NULL;
  GString *reply = g_string_new (NULL);
  char buffer[4096];
  gssize got;

  if (request != NULL)
    {
      send_all (socket, request, strlen (request), &error);
      g_assert_no_error (error);
    }
  while ((got = g_socket_receive (socket, buffer, sizeof buffer, NULL,
                                  &error)) > 0)
    g_string_append_len (reply, buffer, got);
  /* A reset after the answer is as good as an end. */
  if (error != NULL)
    g_assert_true (g_error_matches (error, G_IO_ERROR,
                                    G_IO_ERROR_CONNECTION_CLOSED) ||
                   g_error_matches (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE));
  return g_string_free (reply, FALSE);
}

static guint64
resident_kib (void)
{
  g_autofree char *status = NULL;
  const char *line;

  g_assert_true (g_file_get_contents ("/proc/self/status", &status, NULL, NULL));
  line = strstr (status, "VmRSS:");
  g_assert_nonnull (line);
  return g_ascii_strtoull (line + strlen ("VmRSS:"), NULL, 10);
}

#define KEEP_ALIVE_REQUEST \
  "GET /v2.1/flavors HTTP/1.1\r\nHost: localhost\r\n" \
  "X-Auth-Token: s3cret-t0ken\r\nConnection: keep-alive\r\n\r\n"

/* A client that keeps its connection open after every answer (as urllib3
 * and libsoup do) must not cost the daemon an fd per request, on either
 * listener: libsoup 3.2.3 kept every such connection in CLOSE-WAIT. */
static void
test_connections_keep_alive (Fixture *f,
                             gconstpointer data G_GNUC_UNUSED)
{
  guint ports[] = { 0, f->daemon.tcp_port };
  guint fds_before, fds_after;
  guint64 rss_before, rss_after;

  g_assert_cmpuint (f->daemon.tcp_port, >, 0);
  for (guint round = 0; round < 2; round++)
    {
      /* The first round warms up allocations that stay. */
      guint n = round == 0 ? 200 : 5000;

      fds_before = nlx_test_count_fds ();
      rss_before = resident_kib ();
      for (guint p = 0; p < G_N_ELEMENTS (ports); p++)
        for (guint i = 0; i < n; i++)
          {
            g_autoptr(GSocket) socket = raw_connect (f, ports[p]);
            g_autofree char *reply = raw_exchange (socket, KEEP_ALIVE_REQUEST);

            g_assert_true (g_str_has_prefix (reply, "HTTP/1.1 200"));
            g_assert_nonnull (strstr (reply, "\r\nConnection: close\r\n"));
            /* The client keeps its end open: only the daemon closes. */
          }
      wait_for_connections (f, 0);
      fds_after = nlx_test_count_fds ();
      rss_after = resident_kib ();
      g_test_message ("%u requests on each listener: fds %u -> %u, "
                      "RSS %" G_GUINT64_FORMAT " -> %" G_GUINT64_FORMAT " KiB",
                      n, fds_before, fds_after, rss_before, rss_after);
    }
  g_assert_cmpuint (fds_after, <=, fds_before + 2);
  g_assert_cmpuint (rss_after, <=, rss_before + 1024);
}

/* Idle and half-sent connections are held at most max_connections at a
 * time per listener and closed after request_timeout; the daemon goes on
 * serving meanwhile and afterwards. */
static void
test_connections_idle (Fixture *f,
                       gconstpointer data G_GNUC_UNUSED)
{
  g_autoptr(GPtrArray) held = g_ptr_array_new_with_free_func (g_object_unref);
  guint fds_before = nlx_test_count_fds ();
  guint closed = 0;

  for (guint i = 0; i < 500; i++)
    {
      GSocket *socket = raw_connect (f, i % 2 ? f->daemon.tcp_port : 0);

      /* Half of them start a request and never finish it (the send
       * fails on those the daemon has closed already). */
      if (i % 4 < 2)
        g_socket_send (socket, "GET /v2.1 HTTP/1.1\r\n", 20, NULL, NULL);
      g_ptr_array_add (held, socket);
    }
  /* 2 x max_connections = 2 x 50 are held; the rest are closed as the
   * daemon takes them from the backlog. */
  for (guint round = 0; round < 40 && closed < 400; round++)
    {
      g_usleep (50 * 1000);
      for (guint i = 0; i < held->len; i++)
        {
          char byte;
          g_autoptr(GError) error = NULL;
          gssize got;

          if (g_object_get_data (held->pdata[i], "closed") != NULL)
            continue;
          g_socket_set_timeout (held->pdata[i], 0);
          g_socket_set_blocking (held->pdata[i], FALSE);
          got = g_socket_receive (held->pdata[i], &byte, 1, NULL, &error);
          /* An end, or a reset for those that had sent something. */
          if (got == 0 ||
              (error != NULL &&
               !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)))
            {
              g_object_set_data (held->pdata[i], "closed", GINT_TO_POINTER (1));
              closed++;
            }
        }
    }
  g_assert_cmpuint (closed, ==, 400);
  g_assert_cmpuint (nlx_api_count_connections (f->daemon.api), ==, 100);

  /* All of them are closed once request_timeout (3 s) has passed... */
  wait_for_connections (f, 0);
  g_ptr_array_set_size (held, 0);
  g_assert_cmpuint (nlx_test_count_fds (), <=, fds_before + 2);
  /* ...and the daemon still answers. */
  g_assert_cmpint (nlx_test_call (f->session, "GET", "/v2.1/flavors", NULL, NULL),
                   ==, 200);
}

/* The token and the body's declared size are checked from the headers;
 * a body beyond the limit is never kept, and a client that goes on
 * sending is cut off. */
static void
test_connections_limits (Fixture *f,
                         gconstpointer data G_GNUC_UNUSED)
{
  g_autoptr(GSocket) socket = NULL;
  g_autofree char *reply = NULL;
  g_autofree char *chunk = g_malloc0 (64 * 1024);
  g_autoptr(GString) chunked = g_string_new (NULL);
  guint64 rss_before = resident_kib ();
  guint64 sent = 0;
  g_autoptr(GError) error = NULL;
  const char *head;

  /* A client that waits for 100-continue gets the refusal before it
   * sends any of its body. */
  socket = raw_connect (f, f->daemon.tcp_port);
  reply = raw_exchange (socket,
                        "POST /v2.1/servers HTTP/1.1\r\nHost: localhost\r\n"
                        "Content-Type: application/json\r\n"
                        "Content-Length: 104857600\r\n"
                        "Expect: 100-continue\r\n\r\n");
  g_assert_true (g_str_has_prefix (reply, "HTTP/1.1 401"));
  g_clear_object (&socket);
  g_clear_pointer (&reply, g_free);

  socket = raw_connect (f, 0);
  reply = raw_exchange (socket,
                        "POST /v2.1/servers HTTP/1.1\r\nHost: localhost\r\n"
                        "Content-Type: application/json\r\n"
                        "Content-Length: 104857600\r\n"
                        "Expect: 100-continue\r\n\r\n");
  g_assert_true (g_str_has_prefix (reply, "HTTP/1.1 413"));
  g_assert_nonnull (strstr (reply, "\"overLimit\""));
  g_clear_object (&socket);
  g_clear_pointer (&reply, g_free);

  /* One that just sends 100 MiB without the token is cut off after
   * about 1 MiB, and its bytes are not kept. */
  socket = raw_connect (f, f->daemon.tcp_port);
  head = "POST /v2.1/servers HTTP/1.1\r\nHost: localhost\r\n"
         "Content-Length: 104857600\r\n\r\n";
  send_all (socket, head, strlen (head), &error);
  g_assert_no_error (error);
  while (sent < 100 * 1024 * 1024 &&
         send_all (socket, chunk, 64 * 1024, &error))
    sent += 64 * 1024;
  g_assert_nonnull (error);
  g_test_message ("the daemon closed the connection after %" G_GUINT64_FORMAT
                  " body bytes", sent);
  g_assert_cmpuint (sent, <, 8 * 1024 * 1024);
  g_clear_error (&error);
  g_clear_object (&socket);

  /* A chunked body, which declares no size, is refused once it grows
   * past the limit. */
  g_string_append (chunked, "POST /v2.1/servers HTTP/1.1\r\nHost: localhost\r\n"
                            "Content-Type: application/json\r\n"
                            "Transfer-Encoding: chunked\r\n\r\n");
  for (guint i = 0; i < 3; i++)
    {
      g_string_append_printf (chunked, "%x\r\n", 40 * 1024);
      g_string_append_len (chunked, chunk, 40 * 1024);
      g_string_append (chunked, "\r\n");
    }
  g_string_append (chunked, "0\r\n\r\n");
  for (gsize i = 0; i < chunked->len; i++)
    if (chunked->str[i] == '\0')
      chunked->str[i] = ' ';
  socket = raw_connect (f, 0);
  reply = raw_exchange (socket, chunked->str);
  g_assert_true (g_str_has_prefix (reply, "HTTP/1.1 413"));
  g_clear_object (&socket);

  g_assert_cmpuint (resident_kib (), <, rss_before + 16 * 1024);
  wait_for_connections (f, 0);
}

/* What libsoup alone would reset or hold gets an answer, and the daemon
 * goes on serving. */
static void
test_connections_malformed (Fixture *f,
                            gconstpointer data G_GNUC_UNUSED)
{
  g_autoptr(GString) long_line = g_string_new ("GET /v2.1/");
  g_autoptr(GString) big_headers = g_string_new ("GET /v2.1 HTTP/1.1\r\n");
  struct {
    const char *request;
    const char *status;
  } cases[] = {
    { NULL, "HTTP/1.1 414 " },
    { NULL, "HTTP/1.1 431 " },
    { "garbage\r\n\r\n", "HTTP/1.0 400 " },
    { "GET /v2.1 HTTP/1.1\r\nHost: localhost\r\nContent-Length: x\r\n\r\n",
      "HTTP/1.1 400 " },
    { "GET /v2.1 HTTP/1.1\r\nHost: localhost\r\n"
      "Transfer-Encoding: gzip\r\n\r\n", "HTTP/1.1 501 " },
  };
  g_autoptr(GSocket) slow = NULL;
  g_autofree char *reply = NULL;

  for (guint i = 0; i < 1024 * 1024; i++)
    g_string_append_c (long_line, 'a');
  g_string_append (long_line, " HTTP/1.1\r\nHost: localhost\r\n\r\n");
  cases[0].request = long_line->str;
  for (guint i = 0; i < 2000; i++)
    g_string_append_printf (big_headers, "X-Filler-%u: %040u\r\n", i, i);
  g_string_append (big_headers, "\r\n");
  cases[1].request = big_headers->str;

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GSocket) socket = raw_connect (f, 0);
      g_autofree char *answer = raw_exchange (socket, cases[i].request);

      g_test_message ("case %u: %.40s", i, answer);
      g_assert_true (g_str_has_prefix (answer, cases[i].status));
    }

  /* Headers that arrive in pieces are waited for. */
  slow = raw_connect (f, 0);
  g_assert_true (send_all (slow, "GET /v2.1 HTTP/1.1\r\n", 20, NULL));
  g_usleep (200 * 1000);
  g_assert_true (send_all (slow, "Host: localhost\r\n", 17, NULL));
  g_usleep (200 * 1000);
  reply = raw_exchange (slow, "\r\n");
  g_assert_true (g_str_has_prefix (reply, "HTTP/1.1 200 "));

  wait_for_connections (f, 0);
  g_assert_cmpint (nlx_test_call (f->session, "GET", "/v2.1/flavors", NULL, NULL),
                   ==, 200);
}

static void
test_socket_mode (Fixture *f,
                  gconstpointer data G_GNUC_UNUSED)
{
  GStatBuf st;

  g_assert_cmpint (g_stat (f->socket, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0660);
}

/* The one table from GError to HTTP status (src/api/nlx-api-faults.c):
 * every row, with the fault name a body carries, and a domain it does
 * not know answered 500 and logged so the missing row is noticed. */
static void
test_fault_table (void)
{
  static const struct {
    GQuark (*domain) (void);
    int code;
    guint status;
    const char *name;
  } rows[] = {
    { nlx_driver_error_quark, NLX_DRIVER_ERROR_FAILED, 500, "computeFault" },
    { nlx_driver_error_quark, NLX_DRIVER_ERROR_NOT_FOUND, 404, "itemNotFound" },
    { nlx_driver_error_quark, NLX_DRIVER_ERROR_EXISTS, 409, "conflictingRequest" },
    { nlx_driver_error_quark, NLX_DRIVER_ERROR_INVALID_STATE, 409,
      "conflictingRequest" },
    { nlx_driver_error_quark, NLX_DRIVER_ERROR_NOT_SUPPORTED, 501,
      "notImplemented" },
    { nlx_driver_error_quark, NLX_DRIVER_ERROR_INVALID_ARGUMENT, 400,
      "badRequest" },
    { nlx_driver_error_quark, NLX_DRIVER_ERROR_UNAVAILABLE, 503,
      "serviceUnavailable" },
    { nlx_model_error_quark, NLX_MODEL_ERROR_INVALID, 400, "badRequest" },
    { nlx_metadata_error_quark, NLX_METADATA_ERROR_NOT_FOUND, 404,
      "itemNotFound" },
    { nlx_metadata_error_quark, NLX_METADATA_ERROR_FAILED, 500, "computeFault" },
    { nlx_config_error_quark, NLX_CONFIG_ERROR_INVALID, 500, "computeFault" },
    { nlx_plugin_error_quark, NLX_PLUGIN_ERROR_NOT_FOUND, 500, "computeFault" },
    { nlx_plugin_error_quark, NLX_PLUGIN_ERROR_INVALID, 500, "computeFault" },
    /* A host file or socket, never the caller's thing. */
    { g_file_error_quark, G_FILE_ERROR_NOENT, 500, "computeFault" },
    { g_file_error_quark, G_FILE_ERROR_NOSPC, 500, "computeFault" },
    { g_io_error_quark, G_IO_ERROR_NOT_FOUND, 500, "computeFault" },
    { g_io_error_quark, G_IO_ERROR_PERMISSION_DENIED, 500, "computeFault" },
  };
  g_autoptr(GError) unknown = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      g_autoptr(GError) error = g_error_new_literal (rows[i].domain (),
                                                     rows[i].code, "test");
      guint status = nlx_api_status_for_error (error);

      g_test_message ("%s %d", g_quark_to_string (error->domain), error->code);
      g_assert_cmpuint (status, ==, rows[i].status);
      g_assert_cmpstr (nlx_api_fault_name (status), ==, rows[i].name);
    }

  unknown = g_error_new_literal (g_quark_from_static_string ("nlx-test-unknown-error"),
                                 7, "test");
  g_test_expect_message ("nova-lxc", G_LOG_LEVEL_WARNING,
                         "*error domain nlx-test-unknown-error, code 7*");
  g_assert_cmpuint (nlx_api_status_for_error (unknown), ==, 500);
  g_test_assert_expected_messages ();
}

/* The routing table answers a path no row has with 404, and a method
 * the path's row does not take with 405 naming the methods it does in
 * Allow (as webob's and RFC 9110's 405 do); the first row that matches
 * decides, so /servers/detail is not taken for a server. */
#define MISSING_SERVER "6f1b0c1e-0000-4000-8000-00000000beef"

static void
test_routing (Fixture *f,
              gconstpointer data G_GNUC_UNUSED)
{
  static const struct {
    const char *method, *path;
    guint status;
    const char *allow;          /* NULL: none sent */
    const char *says;
  } cases[] = {
    { "POST", "/", 405, "GET", "version list takes GET" },
    { "PUT", "/v2.1", 405, "GET", "version document takes GET" },
    { "PATCH", "/v2.1/servers", 405, "GET, POST", "GET or POST" },
    { "DELETE", "/v2.1/servers/detail", 405, "GET", "server list takes GET" },
    { "POST", "/v2.1/servers/" MISSING_SERVER, 405, "GET, PUT, DELETE",
      "GET, PUT or DELETE" },
    { "GET", "/v2.1/servers/" MISSING_SERVER "/action", 405, "POST",
      "take POST" },
    /* The method before the server: as Nova's router does. */
    { "PUT", "/v2.1/servers/" MISSING_SERVER "/os-volume_attachments", 405,
      "GET, POST", "GET or POST" },
    { "POST", "/v2.1/servers/" MISSING_SERVER "/os-volume_attachments/v", 405,
      "GET, DELETE", "GET or DELETE" },
    { "POST", "/v2.1/os-volumes/detail", 405, "GET", "volume list takes GET" },
    { "PUT", "/v2.1/images/detail", 405, "GET", "image list takes GET" },
    { "DELETE", "/v2.1/flavors/m1.tiny", 405, "GET", "read-only" },
    { "POST", "/v2.1/os-hypervisors/statistics", 405, "GET", "read-only" },
    { "GET", "/v2.1/os-keypairs/nlxtest-missing-key", 404, NULL,
      "nlxtest-missing-key" },
    { "POST", "/v2.1/nlxtest-no-such-resource", 404, NULL, "not be found" },
    { "GET", "/v2.1/servers/" MISSING_SERVER "/nlxtest-no-such", 404, NULL,
      "not be found" },
    { "DELETE", "/v2.1/os-keypairs/a/b", 404, NULL, "not be found" },
    { "GET", "/v2.1/os-hypervisors/nlxtest-no-such", 404, NULL,
      "not be found" },
    { "GET", "/v2/servers", 404, NULL, "lives under /v2.1" },
    { "GET", "/v2.1/flavors", 200, NULL, NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(SoupMessageHeaders) headers = NULL;
      g_autoptr(JsonNode) reply = NULL;
      JsonObject *fault;

      g_test_message ("%s %s", cases[i].method, cases[i].path);
      g_assert_cmpint (nlx_test_call_full (f->session, "http://localhost",
                                           cases[i].method, cases[i].path,
                                           NULL, NULL, NULL, &reply, &headers),
                       ==, cases[i].status);
      g_assert_cmpstr (soup_message_headers_get_one (headers, "Allow"), ==,
                       cases[i].allow);
      if (cases[i].says == NULL)
        continue;
      nlx_test_assert_fault (reply, cases[i].status == 405 ? "badMethod"
                                                           : "itemNotFound",
                             cases[i].status);
      fault = nlx_test_object_at (reply, cases[i].status == 405 ? "badMethod"
                                                                : "itemNotFound");
      if (strstr (json_object_get_string_member (fault, "message"),
                  cases[i].says) == NULL)
        g_error ("fault “%s” does not say “%s”",
                 json_object_get_string_member (fault, "message"),
                 cases[i].says);
    }
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_summary ("The Compute API and the manager, over HTTP, on the fake "
                  "driver: the daemon itself: version documents, the catalog,"
                  " one daemon per state, start and stop, connections and "
                  "their limits, the faults table and routing.");
  /* Failed operations are logged as warnings, and some tests fail them
   * on purpose. */
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR);

#define ADD(path, func, config) \
  g_test_add (path, Fixture, config, fixture_set_up, func, fixture_tear_down)
  g_test_add_func ("/nlx/api/faults/table", test_fault_table);
  ADD ("/nlx/api/versions", test_versions, NULL);
  ADD ("/nlx/api/microversions", test_microversions, NULL);
  ADD ("/nlx/api/catalog", test_catalog, NULL);
  ADD ("/nlx/api/tcp-token", test_tcp_token,
       "[api]\nlisten = 127.0.0.1:0\nauth_token = s3cret-t0ken\n");
  ADD ("/nlx/api/socket-mode", test_socket_mode, NULL);
  ADD ("/nlx/api/connections/keep-alive", test_connections_keep_alive,
       "[api]\nlisten = 127.0.0.1:0\nauth_token = s3cret-t0ken\n");
  ADD ("/nlx/api/connections/idle", test_connections_idle,
       "[api]\nlisten = 127.0.0.1:0\nauth_token = s3cret-t0ken\n"
       "max_connections = 50\nrequest_timeout = 3\n");
  ADD ("/nlx/api/connections/malformed", test_connections_malformed, NULL);
  ADD ("/nlx/api/connections/limits", test_connections_limits,
       "[api]\nlisten = 127.0.0.1:0\nauth_token = s3cret-t0ken\n");
  ADD ("/nlx/api/stop-under-events", test_stop_under_events,
       "[fake]\nevent_interval_ms = 1\nshared = stop-under-events\n");
  ADD ("/nlx/api/stop-waits-for-reads", test_stop_waits_for_reads, NULL);
  /* Builds take long enough for a second daemon to start meanwhile. */
  ADD ("/nlx/api/second-daemon", test_second_daemon, "[fake]\ndelay_ms = 3000\n");
  ADD ("/nlx/api/routing", test_routing, NULL);
#undef ADD

  return g_test_run ();
}
