/* test-api.c: the Compute API and the manager, over HTTP, on the fake driver
 *
 * The daemon's layers run in a thread of their own with the fake driver
 * (each change takes [fake] delay_ms, so operations can be seen in
 * progress); the tests talk to them over the Unix socket as any client
 * would. */
#include "config.h"

#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>

#include "nlx-api.h"
#include "nlx-file.h"
#include "nlx-network.h"
#include "nlx-test-client.h"

#define DELAY_MS 150

typedef struct {
  char *dir;
  char *socket;
  char *config_text;
  GThread *thread;
  GMainLoop *loop;
  GMutex lock;
  GCond ready;
  gboolean started;
  GError *start_error;
  guint tcp_port;
  SoupSession *session;
} Fixture;

/* ---- the daemon, in a thread ------------------------------------------ */

static gboolean
quit_loop (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

static gpointer
serve (gpointer data)
{
  Fixture *f = data;
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(NlxConfig) config = NULL;
  g_autoptr(NlxVirt) virt = NULL;
  g_autoptr(NlxManager) manager = NULL;
  g_autoptr(NlxApi) api = NULL;
  GError *error = NULL;

  g_main_context_push_thread_default (context);
  config = nlx_config_new_from_data (f->config_text, &error);
  if (config != NULL)
    virt = nlx_virt_open (config->compute_driver, config->keyfile, &error);
  if (virt != NULL)
    manager = nlx_manager_new (config, virt, &error);
  if (manager != NULL)
    api = nlx_api_new (config, manager, &error);

  g_mutex_lock (&f->lock);
  f->loop = g_main_loop_new (context, FALSE);
  f->start_error = error;
  f->tcp_port = api ? nlx_api_get_tcp_port (api) : 0;
  f->started = TRUE;
  g_cond_signal (&f->ready);
  g_mutex_unlock (&f->lock);

  if (api != NULL)
    g_main_loop_run (f->loop);
  g_clear_pointer (&api, nlx_api_free);
  g_clear_pointer (&manager, nlx_manager_free);
  g_clear_pointer (&virt, nlx_virt_close);
  g_main_context_pop_thread_default (context);
  return NULL;
}

static void
daemon_start (Fixture *f)
{
  f->started = FALSE;
  g_clear_error (&f->start_error);
  f->thread = g_thread_new ("daemon", serve, f);
  g_mutex_lock (&f->lock);
  while (!f->started)
    g_cond_wait (&f->ready, &f->lock);
  g_mutex_unlock (&f->lock);
}

static void
daemon_stop (Fixture *f)
{
  if (f->thread == NULL)
    return;
  g_main_context_invoke (g_main_loop_get_context (f->loop), quit_loop, f->loop);
  g_thread_join (f->thread);
  f->thread = NULL;
  g_clear_pointer (&f->loop, g_main_loop_unref);
}

static void
fixture_set_up (Fixture *f,
                gconstpointer extra_config)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  g_autofree char *image = NULL;

  f->dir = g_dir_make_tmp ("nlx-test-api-XXXXXX", &error);
  g_assert_no_error (error);
  f->socket = g_build_filename (f->dir, "compute.sock", NULL);
  image = g_build_filename (f->dir, "image", NULL);
  g_assert_cmpint (g_mkdir (image, 0755), ==, 0);
  f->config_text = g_strdup_printf (
    "[DEFAULT]\ncompute_driver = fake\nstate_path = %s/state\n"
    "[api]\nsocket = %s\n"
    "[fake]\ndelay_ms = %d\n"
    "[image test-image]\npath = %s\nos_shutdown_signal = SIGUSR2\n%s",
    f->dir, f->socket, DELAY_MS, image,
    extra_config ? (const char *) extra_config : "");
  g_mutex_init (&f->lock);
  g_cond_init (&f->ready);

  daemon_start (f);
  g_assert_no_error (f->start_error);

  address = g_unix_socket_address_new (f->socket);
  f->session = soup_session_new_with_options ("remote-connectable", address,
                                              NULL);
}

static void
fixture_tear_down (Fixture *f,
                   gconstpointer data)
{
  daemon_stop (f);
  g_clear_object (&f->session);
  g_clear_error (&f->start_error);
  g_assert_true (nlx_file_remove_tree (f->dir, NULL));
  g_mutex_clear (&f->lock);
  g_cond_clear (&f->ready);
  g_free (f->dir);
  g_free (f->socket);
  g_free (f->config_text);
}

/* ---- tests ------------------------------------------------------------ */

static void
test_versions (Fixture *f,
               gconstpointer data)
{
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(JsonNode) version = NULL;
  g_autoptr(SoupMessageHeaders) headers = NULL;
  g_autoptr(SoupMessageHeaders) headers2 = NULL;
  JsonArray *versions;

  g_assert_cmpint (nlx_test_call (f->session, "GET", "/", NULL, &reply), ==, 200);
  versions = json_object_get_array_member (json_node_get_object (reply),
                                           "versions");
  g_assert_cmpuint (json_array_get_length (versions), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (versions, 0),
                                                  "id"), ==, "v2.1");

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

  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (nlx_test_call_full (f->session, "http://localhost", "GET", "/v2.1/servers",
                              NULL, "OpenStack-API-Version", "compute 2.95",
                              &reply, NULL), ==, 406);
  nlx_test_assert_fault (reply, "notAcceptable", 406);
  nlx_test_expect_fault (f->session, "GET", "/v3/servers", NULL, 404, "itemNotFound");
  nlx_test_expect_fault (f->session, "DELETE", "/v2.1/flavors", NULL, 405, "badMethod");
}

static void
test_catalog (Fixture *f,
              gconstpointer data)
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

static void
test_lifecycle (Fixture *f,
                gconstpointer data)
{
  g_autofree char *id = nlx_test_create (f->session, "lifecycle", "test-image",
                                         ", \"metadata\": {\"role\": \"web\"}");
  g_autofree char *path = g_strconcat ("/v2.1/servers/", id, NULL);
  g_autofree char *action = g_strconcat (path, "/action", NULL);
  g_autofree char *domain = g_strdup_printf ("instance-%.8s", id);
  g_autofree char *status = NULL;
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(JsonNode) list = NULL;
  g_autoptr(JsonNode) console = NULL;
  g_autoptr(JsonNode) renamed = NULL;
  JsonObject *server;
  JsonArray *servers;

  /* BUILD at once, ACTIVE when the spawn is done. */
  reply = nlx_test_show (f->session, id);
  server = nlx_test_object_at (reply, "server");
  g_assert_cmpstr (json_object_get_string_member (server, "status"), ==, "BUILD");
  g_assert_cmpstr (json_object_get_string_member (server, "OS-EXT-STS:task_state"),
                   ==, "spawning");
  nlx_test_wait_for_status (f->session, id, "ACTIVE");

  g_clear_pointer (&reply, json_node_unref);
  reply = nlx_test_show (f->session, id);
  server = nlx_test_object_at (reply, "server");
  g_assert_cmpstr (json_object_get_string_member (server, "name"), ==, "lifecycle");
  g_assert_cmpstr (json_object_get_string_member (server, "OS-EXT-STS:vm_state"), ==, "active");
  g_assert_true (json_object_get_null_member (server, "OS-EXT-STS:task_state"));
  g_assert_cmpint (json_object_get_int_member (server, "OS-EXT-STS:power_state"), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (server, "OS-EXT-SRV-ATTR:instance_name"),
                   ==, domain);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (server, "flavor"),
                                                  "id"), ==, "m1.tiny");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (server, "image"),
                                                  "id"), ==, "test-image");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (server, "metadata"),
                                                  "role"), ==, "web");
  g_assert_true (json_object_has_member (server, "hostId"));
  g_assert_true (json_object_has_member (server, "addresses"));
  g_assert_true (json_object_has_member (server, "created"));
  g_assert_true (json_object_has_member (server, "updated"));
  g_assert_false (json_object_has_member (server, "fault"));

  g_assert_cmpint (nlx_test_call (f->session, "GET", "/v2.1/servers", NULL, &list), ==, 200);
  servers = json_object_get_array_member (json_node_get_object (list), "servers");
  g_assert_cmpuint (json_array_get_length (servers), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (servers, 0),
                                                  "id"), ==, id);

  g_assert_cmpint (nlx_test_call (f->session, "PUT", path, "{\"server\": {\"name\": \"renamed\"}}",
                         &renamed), ==, 200);
  g_assert_cmpstr (json_object_get_string_member (nlx_test_object_at (renamed, "server"),
                                                  "name"), ==, "renamed");

  nlx_test_act_and_wait (f->session, id, "{\"os-stop\": null}", "powering-off", "SHUTOFF");
  nlx_test_act_and_wait (f->session, id, "{\"os-start\": null}", "powering-on", "ACTIVE");
  nlx_test_act_and_wait (f->session, id, "{\"pause\": null}", "pausing", "PAUSED");
  nlx_test_act_and_wait (f->session, id, "{\"unpause\": null}", "unpausing", "ACTIVE");
  /* Rebooting shows in the status too, as Nova's state map has it. */
  g_assert_cmpint (nlx_test_act (f->session, id, "{\"reboot\": {\"type\": \"SOFT\"}}"), ==, 202);
  status = nlx_test_status_of (f->session, id);
  g_assert_cmpstr (status, ==, "REBOOT");
  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  g_assert_cmpint (nlx_test_act (f->session, id, "{\"reboot\": {\"type\": \"HARD\"}}"), ==, 202);
  g_free (status);
  status = nlx_test_status_of (f->session, id);
  g_assert_cmpstr (status, ==, "HARD_REBOOT");
  nlx_test_wait_for_status (f->session, id, "ACTIVE");

  g_assert_cmpint (nlx_test_call (f->session, "POST", action,
                         "{\"os-getConsoleOutput\": {\"length\": 1}}", &console),
                   ==, 200);
  g_assert_true (g_str_has_prefix (json_object_get_string_member (json_node_get_object (console),
                                                                  "output"),
                                   "fake instance"));
  nlx_test_delete_and_wait (f->session, id);
}

static void
test_conflicts (Fixture *f,
                gconstpointer data)
{
  g_autofree char *id = nlx_test_create (f->session, "conflicts", "test-image", NULL);

  /* Nothing but delete while it builds. */
  g_assert_cmpint (nlx_test_act (f->session, id, "{\"os-stop\": null}"), ==, 409);
  g_assert_cmpint (nlx_test_act (f->session, id, "{\"os-getConsoleOutput\": {}}"), ==, 409);
  nlx_test_wait_for_status (f->session, id, "ACTIVE");

  /* Wrong state. */
  g_assert_cmpint (nlx_test_act (f->session, id, "{\"unpause\": null}"), ==, 409);
  g_assert_cmpint (nlx_test_act (f->session, id, "{\"os-start\": null}"), ==, 409);

  /* One operation at a time. */
  g_assert_cmpint (nlx_test_act (f->session, id, "{\"reboot\": {\"type\": \"HARD\"}}"), ==, 202);
  g_assert_cmpint (nlx_test_act (f->session, id, "{\"reboot\": {\"type\": \"HARD\"}}"), ==, 409);
  g_assert_cmpint (nlx_test_act (f->session, id, "{\"pause\": null}"), ==, 409);
  nlx_test_wait_for_status (f->session, id, "ACTIVE");

  /* Stopped: console output still works. */
  nlx_test_act_and_wait (f->session, id, "{\"os-stop\": null}", NULL, "SHUTOFF");
  g_assert_cmpint (nlx_test_act (f->session, id, "{\"os-getConsoleOutput\": {\"length\": -1}}"), ==, 200);
  g_assert_cmpint (nlx_test_act (f->session, id, "{\"pause\": null}"), ==, 409);
  g_assert_cmpint (nlx_test_act (f->session, id, "{\"reboot\": {\"type\": \"SOFT\"}}"), ==, 409);
  nlx_test_delete_and_wait (f->session, id);
}

static void
test_delete_while_building (Fixture *f,
                            gconstpointer data)
{
  g_autofree char *id = nlx_test_create (f->session, "short-lived", "test-image", NULL);
  g_autoptr(JsonNode) reply = nlx_test_show (f->session, id);

  g_assert_cmpstr (json_object_get_string_member (nlx_test_object_at (reply, "server"),
                                                  "status"), ==, "BUILD");
  nlx_test_delete_and_wait (f->session, id);
}

static void
test_delete_in_each_state (Fixture *f,
                           gconstpointer data)
{
  g_autofree char *active = nlx_test_create (f->session, "active", "test-image", NULL);
  g_autofree char *stopped = nlx_test_create (f->session, "stopped", "test-image", NULL);
  g_autofree char *paused = nlx_test_create (f->session, "paused", "test-image", NULL);
  g_autofree char *failed = nlx_test_create (f->session, "failed", "test-image",
                                    ", \"metadata\": {\"fake_spawn_error\": \"no\"}");

  nlx_test_wait_for_status (f->session, active, "ACTIVE");
  nlx_test_wait_for_status (f->session, stopped, "ACTIVE");
  nlx_test_wait_for_status (f->session, paused, "ACTIVE");
  nlx_test_wait_for_status (f->session, failed, "ERROR");
  nlx_test_act_and_wait (f->session, stopped, "{\"os-stop\": null}", NULL, "SHUTOFF");
  nlx_test_act_and_wait (f->session, paused, "{\"pause\": null}", NULL, "PAUSED");
  nlx_test_delete_and_wait (f->session, active);
  nlx_test_delete_and_wait (f->session, stopped);
  nlx_test_delete_and_wait (f->session, paused);
  nlx_test_delete_and_wait (f->session, failed);
}

static void
test_spawn_failure (Fixture *f,
                    gconstpointer data)
{
  g_autofree char *id = nlx_test_create (f->session, "doomed", "test-image",
                                ", \"metadata\": {\"fake_spawn_error\": "
                                "\"the disk is on fire\"}");
  g_autoptr(JsonNode) reply = NULL;
  JsonObject *server, *fault;

  nlx_test_wait_for_status (f->session, id, "ERROR");
  reply = nlx_test_show (f->session, id);
  server = nlx_test_object_at (reply, "server");
  g_assert_cmpstr (json_object_get_string_member (server, "OS-EXT-STS:vm_state"),
                   ==, "error");
  fault = json_object_get_object_member (server, "fault");
  g_assert_nonnull (fault);
  g_assert_cmpstr (json_object_get_string_member (fault, "message"), ==,
                   "the disk is on fire");
  g_assert_cmpint (json_object_get_int_member (fault, "code"), ==, 500);
  g_assert_cmpint (nlx_test_act (f->session, id, "{\"pause\": null}"), ==, 409);
  nlx_test_delete_and_wait (f->session, id);
}

static void
test_bad_requests (Fixture *f,
                   gconstpointer data)
{
  g_autofree char *big = NULL;
  g_autofree char *id = nlx_test_create (f->session, "target", "test-image", NULL);
  g_autofree char *path = g_strconcat ("/v2.1/servers/", id, NULL);
  g_autofree char *action = g_strconcat (path, "/action", NULL);
  g_autoptr(JsonNode) list = NULL;
  GString *huge = g_string_new ("{\"server\": {\"name\": \"");

  nlx_test_expect_fault (f->session, "POST", "/v2.1/servers", "{\"server\": ", 400, "badRequest");
  nlx_test_expect_fault (f->session, "POST", "/v2.1/servers", "", 400, "badRequest");
  nlx_test_expect_fault (f->session, "POST", "/v2.1/servers", "[1, 2]", 400, "badRequest");
  nlx_test_expect_fault (f->session, "POST", "/v2.1/servers", "{\"server\": []}", 400, "badRequest");
  nlx_test_expect_fault (f->session, "POST", "/v2.1/servers",
                "{\"server\": {\"flavorRef\": \"m1.tiny\", \"imageRef\": \"test-image\"}}",
                400, "badRequest");
  nlx_test_expect_fault (f->session, "POST", "/v2.1/servers",
                "{\"server\": {\"name\": 7, \"flavorRef\": \"m1.tiny\", \"imageRef\": \"test-image\"}}",
                400, "badRequest");
  nlx_test_expect_fault (f->session, "POST", "/v2.1/servers",
                "{\"server\": {\"name\": \"\", \"flavorRef\": \"m1.tiny\", \"imageRef\": \"test-image\"}}",
                400, "badRequest");
  nlx_test_expect_fault (f->session, "POST", "/v2.1/servers",
                "{\"server\": {\"name\": \"x\", \"flavorRef\": \"m1.nope\", \"imageRef\": \"test-image\"}}",
                400, "badRequest");
  nlx_test_expect_fault (f->session, "POST", "/v2.1/servers",
                "{\"server\": {\"name\": \"x\", \"flavorRef\": \"m1.tiny\", \"imageRef\": \"nope\"}}",
                400, "badRequest");
  nlx_test_expect_fault (f->session, "POST", "/v2.1/servers",
                "{\"server\": {\"name\": \"x\", \"flavorRef\": \"m1.tiny\", \"imageRef\": \"test-image\", \"metadata\": {\"k\": 1}}}",
                400, "badRequest");
  nlx_test_expect_fault (f->session, "POST", "/v2.1/servers",
                "{\"server\": {\"name\": \"x\", \"flavorRef\": \"m1.tiny\", \"imageRef\": \"test-image\", \"metadata\": []}}",
                400, "badRequest");
  nlx_test_expect_fault (f->session, "POST", "/v2.1/servers",
                "{\"server\": {\"name\": \"x\", \"flavorRef\": \"m1.tiny\", \"imageRef\": \"test-image\", \"colour\": \"red\"}}",
                400, "badRequest");
  while (huge->len < NLX_API_MAX_BODY + 10)
    g_string_append (huge, "aaaaaaaaaaaaaaaa");
  g_string_append (huge, "\"}}");
  big = g_string_free (huge, FALSE);
  nlx_test_expect_fault (f->session, "POST", "/v2.1/servers", big, 400, "badRequest");

  nlx_test_expect_fault (f->session, "POST", action, "{\"explode\": null}", 400, "badRequest");
  nlx_test_expect_fault (f->session, "POST", action, "{\"reboot\": {\"type\": \"GENTLE\"}}", 400, "badRequest");
  nlx_test_expect_fault (f->session, "POST", action, "{\"reboot\": null}", 400, "badRequest");
  nlx_test_expect_fault (f->session, "POST", action, "{\"os-stop\": null, \"os-start\": null}", 400, "badRequest");
  nlx_test_expect_fault (f->session, "POST", action, "{\"os-getConsoleOutput\": {\"length\": \"lots\"}}",
                400, "badRequest");
  nlx_test_expect_fault (f->session, "PUT", path, "{\"server\": {\"name\": 3}}", 400,
                "badRequest");

  nlx_test_expect_fault (f->session, "GET", "/v2.1/servers/9f2d1c1e-0000-4000-8000-000000000000",
                NULL, 404, "itemNotFound");
  nlx_test_expect_fault (f->session, "GET", "/v2.1/servers/not-a-uuid", NULL, 404, "itemNotFound");
  nlx_test_expect_fault (f->session, "DELETE", "/v2.1/servers/9f2d1c1e-0000-4000-8000-000000000000",
                NULL, 404, "itemNotFound");
  nlx_test_expect_fault (f->session, "POST", "/v2.1/servers/9f2d1c1e-0000-4000-8000-000000000000/action",
                "{\"os-stop\": null}", 404, "itemNotFound");
  nlx_test_expect_fault (f->session, "PATCH", "/v2.1/servers", NULL, 405, "badMethod");

  /* None of it made a server. */
  g_assert_cmpint (nlx_test_call (f->session, "GET", "/v2.1/servers", NULL, &list), ==, 200);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (json_node_get_object (list),
                                                                         "servers")), ==, 1);
  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  nlx_test_delete_and_wait (f->session, id);
}

/* Records outlive the daemon; an instance the driver no longer has (the
 * fake driver forgets everything) comes back in ERROR, not ACTIVE. */
static void
test_restart (Fixture *f,
              gconstpointer data)
{
  g_autofree char *id = nlx_test_create (f->session, "survivor", "test-image", NULL);
  g_autoptr(JsonNode) reply = NULL;
  JsonObject *server;

  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  daemon_stop (f);
  daemon_start (f);
  g_assert_no_error (f->start_error);

  reply = nlx_test_show (f->session, id);
  server = nlx_test_object_at (reply, "server");
  g_assert_cmpstr (json_object_get_string_member (server, "name"), ==, "survivor");
  g_assert_cmpstr (json_object_get_string_member (server, "status"), ==, "ERROR");
  g_assert_nonnull (json_object_get_object_member (server, "fault"));
  nlx_test_delete_and_wait (f->session, id);
}

#define BRIDGE "nlxtestbr0"

/* The one address of @id's "addresses", checked against GET .../ips. */
static char *
address_of (Fixture *f,
            const char *id)
{
  g_autoptr(JsonNode) reply = nlx_test_show (f->session, id);
  g_autoptr(JsonNode) ips = NULL;
  g_autoptr(JsonNode) one = NULL;
  g_autofree char *path = g_strdup_printf ("/v2.1/servers/%s/ips", id);
  g_autofree char *network_path = g_strdup_printf ("/v2.1/servers/%s/ips/%s",
                                                   id, BRIDGE);
  JsonObject *addresses = json_object_get_object_member (
    nlx_test_object_at (reply, "server"), "addresses");
  JsonArray *list = json_object_get_array_member (addresses, BRIDGE);
  JsonObject *entry;
  g_autofree char *mac = NULL;
  guint a, b, c, d;

  g_assert_cmpuint (json_object_get_size (addresses), ==, 1);
  g_assert_cmpuint (json_array_get_length (list), ==, 1);
  entry = json_array_get_object_element (list, 0);
  g_assert_cmpint (json_object_get_int_member (entry, "version"), ==, 4);
  g_assert_cmpstr (json_object_get_string_member (entry, "OS-EXT-IPS:type"), ==,
                   "fixed");
  g_assert_cmpint (sscanf (json_object_get_string_member (entry, "addr"),
                           "%u.%u.%u.%u", &a, &b, &c, &d), ==, 4);
  mac = g_strdup_printf ("fa:16:3e:%02x:%02x:%02x", b, c, d);
  g_assert_cmpstr (json_object_get_string_member (entry, "OS-EXT-IPS-MAC:mac_addr"),
                   ==, mac);

  g_assert_cmpint (nlx_test_call (f->session, "GET", path, NULL, &ips), ==, 200);
  g_assert_true (json_node_equal (json_object_get_member (json_node_get_object (ips),
                                                          "addresses"),
                                  json_object_get_member (nlx_test_object_at (reply, "server"),
                                                          "addresses")));
  g_assert_cmpint (nlx_test_call (f->session, "GET", network_path, NULL, &one), ==, 200);
  g_assert_true (json_node_equal (json_object_get_member (json_node_get_object (one), BRIDGE),
                                  json_object_get_member (addresses, BRIDGE)));
  return g_strdup (json_object_get_string_member (entry, "addr"));
}

/* A /29 holds five addresses for instances: each server gets its own,
 * keeps it across a restart, and gives it back when deleted. */
static void
test_addresses (Fixture *f,
                gconstpointer data)
{
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                      g_free, NULL);
  g_autofree char *first_address = NULL;
  g_autofree char *again = NULL;
  g_autofree char *reused = NULL;
  g_autofree char *path = NULL;
  g_autofree char *records = g_build_filename (f->dir, "state", "records", NULL);
  for (guint i = 0; i < 5; i++)
    {
      g_autofree char *name = g_strdup_printf ("net-%u", i);
      char *id = nlx_test_create (f->session, name, "test-image", NULL);
      char *address = address_of (f, id);

      g_assert_true (g_str_has_prefix (address, "10.251.200."));
      g_assert_cmpstr (address, !=, "10.251.200.1");   /* the gateway */
      g_assert_false (g_hash_table_contains (seen, address));
      g_hash_table_add (seen, address);
      g_ptr_array_add (ids, id);
    }
  first_address = address_of (f, ids->pdata[0]);
  g_assert_cmpstr (first_address, ==, "10.251.200.2");

  /* Full: refused with the reason, and no record left behind. */
  nlx_test_expect_fault (f->session, "POST", "/v2.1/servers",
                         "{\"server\": {\"name\": \"one-too-many\", "
                         "\"flavorRef\": \"m1.tiny\", \"imageRef\": "
                         "\"test-image\"}}", 409, "conflictingRequest");
  {
    g_autoptr(GDir) dir = g_dir_open (records, 0, NULL);
    guint count = 0;

    while (g_dir_read_name (dir) != NULL)
      count++;
    g_assert_cmpuint (count, ==, ids->len);
  }

  path = g_strdup_printf ("/v2.1/servers/%s/ips/no-such-net",
                          (char *) ids->pdata[0]);
  nlx_test_expect_fault (f->session, "GET", path, NULL, 404, "itemNotFound");
  nlx_test_expect_fault (f->session, "POST", path, NULL, 405, "badMethod");

  for (guint i = 0; i < ids->len; i++)
    nlx_test_wait_for_status (f->session, ids->pdata[i], "ACTIVE");
  daemon_stop (f);
  daemon_start (f);
  g_assert_no_error (f->start_error);
  again = address_of (f, ids->pdata[0]);
  g_assert_cmpstr (again, ==, first_address);

  /* Deleted, its address is free again, and only then. */
  for (guint i = 0; i < ids->len; i++)
    nlx_test_delete_and_wait (f->session, ids->pdata[i]);
  g_ptr_array_set_size (ids, 0);

  /* An address a crash left without a record is released at start. */
  daemon_stop (f);
  {
    g_autoptr(NlxConfig) config = nlx_config_new_from_data (f->config_text, NULL);
    g_autoptr(NlxNetworkSettings) settings =
      nlx_network_settings_new (config->keyfile, NULL);
    g_autoptr(NlxIpam) ipam = nlx_ipam_open (settings, settings->addresses_path,
                                             NULL);
    g_autofree char *orphan = nlx_ipam_allocate (ipam, "7e57d000-0000-4000-8000-0000000000ff",
                                                 NULL);

    g_assert_cmpstr (orphan, ==, "10.251.200.2");
  }
  daemon_start (f);
  g_assert_no_error (f->start_error);
  g_ptr_array_add (ids, nlx_test_create (f->session, "net-again", "test-image",
                                         NULL));
  reused = address_of (f, ids->pdata[0]);
  g_assert_cmpstr (reused, ==, "10.251.200.2");
  nlx_test_wait_for_status (f->session, ids->pdata[0], "ACTIVE");
  nlx_test_delete_and_wait (f->session, ids->pdata[0]);
}

static void
test_tcp_token (Fixture *f,
                gconstpointer data)
{
  g_autofree char *base = g_strdup_printf ("http://127.0.0.1:%u", f->tcp_port);
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(SoupSession) unix_session = g_steal_pointer (&f->session);

  g_assert_cmpuint (f->tcp_port, >, 0);
  f->session = soup_session_new ();
  g_assert_cmpint (nlx_test_call_full (f->session, base, "GET", "/v2.1/servers", NULL, NULL, NULL,
                              &reply, NULL), ==, 401);
  nlx_test_assert_fault (reply, "unauthorized", 401);
  g_assert_cmpint (nlx_test_call_full (f->session, base, "GET", "/v2.1/servers", NULL,
                              "X-Auth-Token", "wrong-token", NULL, NULL), ==, 401);
  g_assert_cmpint (nlx_test_call_full (f->session, base, "GET", "/v2.1/servers", NULL,
                              "X-Auth-Token", "s3cret-t0ken", NULL, NULL), ==, 200);
  /* The Unix socket needs none. */
  g_clear_object (&f->session);
  f->session = g_steal_pointer (&unix_session);
  g_assert_cmpint (nlx_test_call (f->session, "GET", "/v2.1/servers", NULL, NULL), ==, 200);
}

static JsonObject *
volume_of (Fixture *f,
           const char *id,
           JsonNode **reply)
{
  g_autofree char *path = g_strconcat ("/v2.1/os-volumes/", id, NULL);

  g_assert_cmpint (nlx_test_call (f->session, "GET", path, NULL, reply), ==, 200);
  return nlx_test_object_at (*reply, "volume");
}

/* Volumes and attachments with Nova's shapes and refusals; the lxc
 * driver's side is tests/functional/test-compute's. */
static void
test_volumes (Fixture *f,
              gconstpointer data)
{
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(JsonNode) shown = NULL;
  g_autofree char *id = nlx_test_create (f->session, "nlxtest-a", "test-image", NULL);
  g_autofree char *other = nlx_test_create (f->session, "nlxtest-b", "test-image", NULL);
  g_autofree char *attachments = g_strconcat ("/v2.1/servers/", id,
                                              "/os-volume_attachments", NULL);
  g_autofree char *other_attachments = g_strconcat ("/v2.1/servers/", other,
                                                    "/os-volume_attachments", NULL);
  g_autofree char *detach = g_strconcat (attachments, "/nlxtest-vol", NULL);
  const char *attach_body =
    "{\"volumeAttachment\": {\"volumeId\": \"nlxtest-vol\", \"mount_path\": \"/data\"}}";
  JsonObject *volume;
  JsonArray *list;

  g_assert_cmpint (nlx_test_call (f->session, "POST", "/v2.1/os-volumes",
                                  "{\"volume\": {\"display_name\": \"nlxtest-vol\", "
                                  "\"size_mb\": 8}}", &reply), ==, 200);
  volume = nlx_test_object_at (reply, "volume");
  g_assert_cmpstr (json_object_get_string_member (volume, "status"), ==, "available");
  g_assert_cmpstr (json_object_get_string_member (volume, "filesystem"), ==, "ext4");
  g_assert_cmpint (json_object_get_int_member (volume, "size_bytes"), ==, 8 << 20);
  g_assert_cmpint (json_object_get_int_member (volume, "size"), ==, 1);
  nlx_test_expect_fault (f->session, "POST", "/v2.1/os-volumes",
                         "{\"volume\": {\"display_name\": \"nlxtest-vol\", \"size_mb\": 8}}",
                         409, "conflictingRequest");
  nlx_test_expect_fault (f->session, "POST", "/v2.1/os-volumes",
                         "{\"volume\": {\"display_name\": \"a/b\", \"size_mb\": 8}}",
                         400, "badRequest");
  nlx_test_expect_fault (f->session, "POST", "/v2.1/os-volumes",
                         "{\"volume\": {\"display_name\": \"x\", \"size_mb\": 0}}",
                         400, "badRequest");
  nlx_test_expect_fault (f->session, "POST", "/v2.1/os-volumes",
                         "{\"volume\": {\"display_name\": \"x\", \"size\": 1, "
                         "\"size_mb\": 8}}", 400, "badRequest");
  nlx_test_expect_fault (f->session, "GET", "/v2.1/os-volumes/nlxtest-none", NULL,
                         404, "itemNotFound");

  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  nlx_test_wait_for_status (f->session, other, "ACTIVE");
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (nlx_test_call (f->session, "POST", attachments, attach_body,
                                  &reply), ==, 200);
  g_assert_cmpstr (json_object_get_string_member (
                     nlx_test_object_at (reply, "volumeAttachment"), "device"),
                   ==, "/dev/vdb");
  g_assert_cmpstr (json_object_get_string_member (
                     nlx_test_object_at (reply, "volumeAttachment"), "mount_path"),
                   ==, "/data");
  /* One server at a time, once. */
  nlx_test_expect_fault (f->session, "POST", attachments, attach_body, 409,
                         "conflictingRequest");
  nlx_test_expect_fault (f->session, "POST", other_attachments, attach_body, 409,
                         "conflictingRequest");
  nlx_test_expect_fault (f->session, "POST", other_attachments,
                         "{\"volumeAttachment\": {\"volumeId\": \"nlxtest-none\"}}",
                         404, "itemNotFound");
  nlx_test_expect_fault (f->session, "POST", other_attachments,
                         "{\"volumeAttachment\": {\"volumeId\": \"../x\"}}",
                         400, "badRequest");
  nlx_test_expect_fault (f->session, "POST", other_attachments,
                         "{\"volumeAttachment\": {\"volumeId\": \"nlxtest-vol\", "
                         "\"device\": \"/dev/sda\"}}", 400, "badRequest");
  nlx_test_expect_fault (f->session, "POST",
                         "/v2.1/servers/7e57d000-0000-4000-8000-00000000dead/os-volume_attachments",
                         attach_body, 404, "itemNotFound");

  g_clear_pointer (&reply, json_node_unref);
  volume = volume_of (f, "nlxtest-vol", &reply);
  g_assert_cmpstr (json_object_get_string_member (volume, "status"), ==, "in-use");
  list = json_object_get_array_member (volume, "attachments");
  g_assert_cmpuint (json_array_get_length (list), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (list, 0),
                                                  "serverId"), ==, id);
  shown = nlx_test_show (f->session, id);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (
                      nlx_test_object_at (shown, "server"),
                      "os-extended-volumes:volumes_attached")), ==, 1);
  nlx_test_expect_fault (f->session, "DELETE", "/v2.1/os-volumes/nlxtest-vol", NULL,
                         409, "conflictingRequest");

  g_assert_cmpint (nlx_test_call (f->session, "DELETE", detach, NULL, NULL), ==, 202);
  nlx_test_expect_fault (f->session, "DELETE", detach, NULL, 404, "itemNotFound");
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (nlx_test_call (f->session, "GET", attachments, NULL, &reply), ==, 200);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (
                      json_node_get_object (reply), "volumeAttachments")), ==, 0);

  /* At boot, through Nova's block device mapping. */
  nlx_test_expect_fault (f->session, "POST", "/v2.1/servers",
                         "{\"server\": {\"name\": \"nlxtest-c\", \"flavorRef\": \"m1.tiny\", "
                         "\"imageRef\": \"test-image\", \"block_device_mapping_v2\": "
                         "[{\"uuid\": \"nlxtest-vol\", \"source_type\": \"image\"}]}}",
                         400, "badRequest");
  nlx_test_expect_fault (f->session, "POST", "/v2.1/servers",
                         "{\"server\": {\"name\": \"nlxtest-c\", \"flavorRef\": \"m1.tiny\", "
                         "\"imageRef\": \"test-image\", \"block_device_mapping_v2\": "
                         "[{\"uuid\": \"nlxtest-none\", \"source_type\": \"volume\"}]}}",
                         404, "itemNotFound");
  g_free (other);
  other = nlx_test_create (f->session, "nlxtest-c", "test-image",
                           ", \"block_device_mapping_v2\": [{\"uuid\": \"nlxtest-vol\", "
                           "\"source_type\": \"volume\", \"destination_type\": \"volume\", "
                           "\"mount_path\": \"/data\"}]");
  nlx_test_wait_for_status (f->session, other, "ACTIVE");
  g_clear_pointer (&reply, json_node_unref);
  volume = volume_of (f, "nlxtest-vol", &reply);
  g_assert_cmpstr (json_object_get_string_member (volume, "status"), ==, "in-use");
  nlx_test_delete_and_wait (f->session, other);
  g_clear_pointer (&reply, json_node_unref);
  volume = volume_of (f, "nlxtest-vol", &reply);
  g_assert_cmpstr (json_object_get_string_member (volume, "status"), ==, "available");

  g_assert_cmpint (nlx_test_call (f->session, "DELETE", "/v2.1/os-volumes/nlxtest-vol",
                                  NULL, NULL), ==, 202);
  nlx_test_expect_fault (f->session, "GET", "/v2.1/os-volumes/nlxtest-vol", NULL,
                         404, "itemNotFound");
}

/* The body of an answer, which must be exactly one JSON value: json-glib
 * writes the API's bodies compactly, so parsing and writing one again
 * gives the same bytes, where two bodies back to back would not. */
static guint
call_single_body (Fixture *f,
                  const char *method,
                  const char *path,
                  const char *body,
                  JsonNode **reply)
{
  g_autofree char *url = g_strconcat ("http://localhost", path, NULL);
  g_autoptr(SoupMessage) msg = soup_message_new (method, url);
  g_autoptr(GBytes) request = g_bytes_new (body, strlen (body));
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *again = NULL;
  g_autofree char *text = NULL;

  soup_message_set_request_body_from_bytes (msg, "application/json", request);
  bytes = soup_session_send_and_read (f->session, msg, NULL, &error);
  g_assert_no_error (error);
  text = g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  if (!json_parser_load_from_data (parser, text, -1, NULL) ||
      json_parser_get_root (parser) == NULL)
    g_error ("%s %s: the answer is not JSON: %s", method, path, text);
  again = json_to_string (json_parser_get_root (parser), FALSE);
  if (!g_str_equal (again, text))
    g_error ("%s %s: the answer is not one JSON value: %s", method, path, text);
  *reply = json_node_copy (json_parser_get_root (parser));
  return soup_message_get_status (msg);
}

#define BDM_SERVER(bdm) \
  "{\"server\": {\"name\": \"nlxtest-bdm\", \"flavorRef\": \"m1.tiny\", " \
  "\"imageRef\": \"test-image\", \"block_device_mapping_v2\": [" bdm "]}}"

/* Found by the API fuzzer: a volume_id that was not a string answered two
 * fault bodies back to back, which no client can parse. */
static void
test_bdm_volume_id_type (Fixture *f,
                         gconstpointer data)
{
  static const char * const bodies[] = {
    BDM_SERVER ("{\"volume_id\": 7, \"source_type\": \"volume\"}"),
    BDM_SERVER ("{\"volume_id\": [], \"source_type\": \"volume\"}"),
    BDM_SERVER ("{\"volume_id\": {}, \"source_type\": \"volume\", "
                "\"boot_index\": 0}"),
  };

  for (guint i = 0; i < G_N_ELEMENTS (bodies); i++)
    {
      g_autoptr(JsonNode) reply = NULL;

      g_test_message ("POST %s", bodies[i]);
      g_assert_cmpint (call_single_body (f, "POST", "/v2.1/servers", bodies[i],
                                         &reply), ==, 400);
      nlx_test_assert_fault (reply, "badRequest", 400);
    }
}

/* boot_index as Nova's schema has it: an integer, or a string of one
 * (^-?[0-9]+$), or null; g_ascii_strtoll() took " 0", "0x" and "0abc"
 * as 0, and any other type as "not the root". */
static void
test_bdm_boot_index (Fixture *f,
                     gconstpointer data)
{
  static const char * const refused[] = {
    "\" 0\"", "\"0 \"", "\"0x\"", "\"0x10\"", "\"+0\"", "\"\"", "\"-\"",
    "\"0abc\"", "\"99999999999999999999\"", "true", "1.5", "{}", "[0]",
  };
  /* Taken: each makes nlxtest-none the root volume, which is missing. */
  static const char * const root[] = { "0", "\"0\"", "\"-0\"", "-0" };

  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_autofree char *body = g_strdup_printf (
        BDM_SERVER ("{\"uuid\": \"nlxtest-none\", \"source_type\": \"volume\", "
                    "\"boot_index\": %s}"), refused[i]);

      nlx_test_expect_fault (f->session, "POST", "/v2.1/servers", body, 400,
                             "badRequest");
    }
  for (guint i = 0; i < G_N_ELEMENTS (root); i++)
    {
      g_autofree char *body = g_strdup_printf (
        BDM_SERVER ("{\"uuid\": \"nlxtest-none\", \"source_type\": \"volume\", "
                    "\"boot_index\": %s}"), root[i]);
      g_autoptr(JsonNode) reply = NULL;
      JsonObject *fault;

      g_test_message ("POST %s", body);
      g_assert_cmpint (nlx_test_call (f->session, "POST", "/v2.1/servers", body,
                                      &reply), ==, 404);
      fault = nlx_test_object_at (reply, "itemNotFound");
      g_assert_nonnull (strstr (json_object_get_string_member (fault, "message"),
                                "nlxtest-none"));
    }
}

/* Images imported into the store are listed beside the configured ones,
 * boot servers, and cannot be deleted under them. */
static void
test_images (Fixture *f,
             gconstpointer data)
{
  g_autofree char *tree = g_build_filename (f->dir, "tree", NULL);
  g_autofree char *tarball = g_build_filename (f->dir, "root.tar.gz", NULL);
  g_autofree char *body = NULL;
  g_autofree char *path = NULL;
  g_autofree char *server = NULL;
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(JsonNode) list = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *image;
  const char *id;
  int status;

  g_assert_cmpint (g_mkdir_with_parents (tree, 0755), ==, 0);
  g_assert_true (g_spawn_sync (NULL, (char *[]) { "sh", "-c",
                                 "mkdir -p \"$0\"/sbin \"$0\"/etc && "
                                 "echo test > \"$0\"/etc/hostname && "
                                 "tar -C \"$0\" -czf \"$1\" .", tree, tarball, NULL },
                               NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
                               &status, &error));
  g_assert_no_error (error);
  g_assert_cmpint (status, ==, 0);

  body = g_strdup_printf ("{\"image\": {\"name\": \"nlxtest-tarball\", \"file\": \"%s\", "
                          "\"properties\": {\"os_shutdown_signal\": \"SIGUSR2\"}}}",
                          tarball);
  g_assert_cmpint (nlx_test_call (f->session, "POST", "/v2.1/images", body, &reply),
                   ==, 200);
  image = nlx_test_object_at (reply, "image");
  id = json_object_get_string_member (image, "id");
  g_assert_cmpuint (strlen (id), ==, 64);
  g_assert_cmpstr (json_object_get_string_member (image, "nova_lxc:format"), ==,
                   "tar.gz");
  g_assert_cmpstr (json_object_get_string_member (
                     json_object_get_object_member (image, "metadata"),
                     "os_shutdown_signal"), ==, "SIGUSR2");
  /* The same name again, and a file that is no image, are refused. */
  nlx_test_expect_fault (f->session, "POST", "/v2.1/images", body, 409,
                         "conflictingRequest");
  nlx_test_expect_fault (f->session, "POST", "/v2.1/images",
                         "{\"image\": {\"name\": \"nlxtest-junk\", \"file\": \"/etc/hostname\"}}",
                         400, "badRequest");

  g_assert_cmpint (nlx_test_call (f->session, "GET", "/v2.1/images/detail", NULL,
                                  &list), ==, 200);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (
                      json_node_get_object (list), "images")), ==, 2);
  path = g_strconcat ("/v2.1/images/", id, NULL);
  g_assert_cmpint (nlx_test_call (f->session, "GET", path, NULL, NULL), ==, 200);
  g_assert_cmpint (nlx_test_call (f->session, "GET", "/v2.1/images/nlxtest-tarball",
                                  NULL, NULL), ==, 200);

  server = nlx_test_create (f->session, "nlxtest-from-store", "nlxtest-tarball", NULL);
  nlx_test_wait_for_status (f->session, server, "ACTIVE");
  nlx_test_expect_fault (f->session, "DELETE", path, NULL, 409, "conflictingRequest");
  nlx_test_delete_and_wait (f->session, server);
  g_assert_cmpint (nlx_test_call (f->session, "DELETE", path, NULL, NULL), ==, 204);
  nlx_test_expect_fault (f->session, "GET", path, NULL, 404, "itemNotFound");
  nlx_test_expect_fault (f->session, "DELETE", "/v2.1/images/test-image", NULL, 405,
                         "badMethod");
}

/* Snapshots and rebuilds through the API, with Nova's shapes and
 * refusals; what they do to real roots is tests/functional/test-compute's. */
static void
test_snapshot_rebuild (Fixture *f,
                       gconstpointer data)
{
  g_autofree char *server = nlx_test_create (f->session, "nlxtest-snap",
                                             "test-image",
                                             ", \"metadata\": {\"a\": \"1\"}");
  g_autofree char *action = g_strdup_printf ("/v2.1/servers/%s/action", server);
  g_autofree char *image_id = NULL;
  g_autofree char *image_path = NULL;
  g_autofree char *second = NULL;
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(JsonNode) shown = NULL;
  g_autoptr(JsonNode) before = NULL;
  JsonObject *image, *metadata, *after;
  g_autofree char *status = NULL;

  nlx_test_wait_for_status (f->session, server, "ACTIVE");
  image_id = nlx_test_create_image (f->session, server, "{\"createImage\": {\"name\": "
                           "\"nlxtest-snap-1\", \"metadata\": {\"k\": \"v\"}}}");
  image_path = g_strconcat ("/v2.1/images/", image_id, NULL);
  g_assert_cmpint (nlx_test_call (f->session, "GET", image_path, NULL, &reply),
                   ==, 200);
  image = nlx_test_object_at (reply, "image");
  g_assert_cmpstr (json_object_get_string_member (image, "name"), ==,
                   "nlxtest-snap-1");
  g_assert_cmpstr (json_object_get_string_member (image, "status"), ==, "ACTIVE");
  metadata = json_object_get_object_member (image, "metadata");
  g_assert_cmpstr (json_object_get_string_member (metadata, "image_type"), ==,
                   "snapshot");
  g_assert_cmpstr (json_object_get_string_member (metadata, "instance_uuid"), ==,
                   server);
  g_assert_cmpstr (json_object_get_string_member (metadata, "k"), ==, "v");
  /* It boots as its source did. */
  g_assert_cmpstr (json_object_get_string_member (metadata, "os_shutdown_signal"),
                   ==, "SIGUSR2");
  g_assert_cmpstr (nlx_test_status_of (f->session, server), ==, "ACTIVE");

  /* Refusals change nothing. */
  nlx_test_expect_fault (f->session, "POST", action,
                         "{\"createImage\": {\"name\": \"nlxtest-snap-1\"}}",
                         409, "conflictingRequest");
  nlx_test_expect_fault (f->session, "POST", action,
                         "{\"createImage\": {\"name\": \"../x\"}}", 400,
                         "badRequest");
  nlx_test_expect_fault (f->session, "POST", action,
                         "{\"createImage\": {}}", 400, "badRequest");
  nlx_test_expect_fault (f->session, "POST", action,
                         "{\"createImage\": {\"name\": \"x\", \"size\": 1}}",
                         400, "badRequest");
  nlx_test_expect_fault (f->session, "POST",
                         "/v2.1/servers/7e57d000-0000-4000-8000-000000000000/action",
                         "{\"createImage\": {\"name\": \"nlxtest-nobody\"}}",
                         404, "itemNotFound");
  nlx_test_expect_fault (f->session, "POST", action,
                         "{\"rebuild\": {\"imageRef\": \"no-such-image\"}}",
                         400, "badRequest");
  nlx_test_expect_fault (f->session, "POST", action,
                         "{\"rebuild\": {\"imageRef\": \"test-image\", "
                         "\"name\": \"\"}}", 400, "badRequest");
  nlx_test_expect_fault (f->session, "POST", action,
                         "{\"rebuild\": {\"imageRef\": \"test-image\", "
                         "\"adminPass\": \"x\"}}", 400, "badRequest");
  nlx_test_expect_fault (f->session, "POST", action, "{\"rebuild\": {}}", 400,
                         "badRequest");

  /* Rebuild from the snapshot: same id and address, new image, name and
   * metadata, REBUILD while it runs. */
  before = nlx_test_show (f->session, server);
  g_assert_cmpint (nlx_test_call (f->session, "POST", action,
                                  "{\"rebuild\": {\"imageRef\": \"nlxtest-snap-1\", "
                                  "\"name\": \"nlxtest-rebuilt\", "
                                  "\"metadata\": {\"b\": \"2\"}}}", &shown), ==, 202);
  g_assert_cmpstr (json_object_get_string_member (nlx_test_object_at (shown, "server"),
                                                  "status"), ==, "REBUILD");
  g_assert_cmpstr (json_object_get_string_member (nlx_test_object_at (shown, "server"),
                                                  "OS-EXT-STS:task_state"), ==,
                   "rebuilding");
  nlx_test_wait_for_status (f->session, server, "ACTIVE");
  g_clear_pointer (&shown, json_node_unref);
  shown = nlx_test_show (f->session, server);
  after = nlx_test_object_at (shown, "server");
  g_assert_cmpstr (json_object_get_string_member (after, "name"), ==,
                   "nlxtest-rebuilt");
  g_assert_cmpstr (json_object_get_string_member (
                     json_object_get_object_member (after, "image"), "id"), ==,
                   "nlxtest-snap-1");
  g_assert_false (json_object_has_member (json_object_get_object_member (after,
                                                                         "metadata"),
                                          "a"));
  g_assert_true (json_node_equal (json_object_get_member (after, "addresses"),
                                  json_object_get_member (nlx_test_object_at (before,
                                                                              "server"),
                                                          "addresses")));
  g_assert_cmpstr (json_object_get_string_member (after, "created"), ==,
                   json_object_get_string_member (nlx_test_object_at (before, "server"),
                                                  "created"));
  /* The image is in use now; the old one is not. */
  nlx_test_expect_fault (f->session, "DELETE", image_path, NULL, 409,
                         "conflictingRequest");

  /* A stopped server is rebuilt stopped. */
  nlx_test_act_and_wait (f->session, server, "{\"os-stop\": null}",
                         "powering-off", "SHUTOFF");
  second = nlx_test_create_image (f->session, server, "{\"createImage\": {\"name\": "
                         "\"nlxtest-snap-2\"}}");
  g_assert_cmpstr (second, !=, image_id);
  g_assert_cmpint (nlx_test_act (f->session, server,
                                 "{\"rebuild\": {\"imageRef\": \"test-image\"}}"),
                   ==, 202);
  nlx_test_wait_for_status (f->session, server, "SHUTOFF");
  status = nlx_test_status_of (f->session, server);
  g_assert_cmpstr (status, ==, "SHUTOFF");

  nlx_test_delete_and_wait (f->session, server);
  g_assert_cmpint (nlx_test_call (f->session, "DELETE", image_path, NULL, NULL),
                   ==, 204);
  g_clear_pointer (&image_path, g_free);
  image_path = g_strconcat ("/v2.1/images/", second, NULL);
  g_assert_cmpint (nlx_test_call (f->session, "DELETE", image_path, NULL, NULL),
                   ==, 204);
}

static void
test_socket_mode (Fixture *f,
                  gconstpointer data)
{
  GStatBuf st;

  g_assert_cmpint (g_stat (f->socket, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0660);
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* Failed operations are logged as warnings, and some tests fail them
   * on purpose. */
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR);

#define ADD(path, func, config) \
  g_test_add (path, Fixture, config, fixture_set_up, func, fixture_tear_down)
  ADD ("/nlx/api/versions", test_versions, NULL);
  ADD ("/nlx/api/catalog", test_catalog, NULL);
  ADD ("/nlx/api/servers/lifecycle", test_lifecycle, NULL);
  ADD ("/nlx/api/servers/conflicts", test_conflicts, NULL);
  ADD ("/nlx/api/servers/delete-while-building", test_delete_while_building, NULL);
  ADD ("/nlx/api/servers/delete-in-each-state", test_delete_in_each_state, NULL);
  ADD ("/nlx/api/servers/spawn-failure", test_spawn_failure, NULL);
  ADD ("/nlx/api/servers/bad-requests", test_bad_requests, NULL);
  ADD ("/nlx/api/servers/restart", test_restart, NULL);
  ADD ("/nlx/api/servers/addresses", test_addresses,
       "[network]\nbridge = " BRIDGE "\ncidr = 10.251.200.0/29\n");
  ADD ("/nlx/api/tcp-token", test_tcp_token,
       "[api]\nlisten = 127.0.0.1:0\nauth_token = s3cret-t0ken\n");
  ADD ("/nlx/api/socket-mode", test_socket_mode, NULL);
  ADD ("/nlx/api/volumes", test_volumes, NULL);
  ADD ("/nlx/api/servers/bdm-volume-id-type", test_bdm_volume_id_type, NULL);
  ADD ("/nlx/api/servers/bdm-boot-index", test_bdm_boot_index, NULL);
  ADD ("/nlx/api/images", test_images, NULL);
  ADD ("/nlx/api/servers/snapshot-rebuild", test_snapshot_rebuild, NULL);
#undef ADD

  return g_test_run ();
}
