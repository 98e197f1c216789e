/* test-api-servers.c: the Compute API and the manager, over HTTP, on the
 * fake driver: servers: their lifecycle, conflicts, failures and restarts,
 * foreign instances, and the claims that decide what fits on the host (the
 * fixture: lib/nlx-api-fixture.h). */
#include "config.h"

#include <gio/gunixsocketaddress.h>

#include "lib/nlx-api-fixture.h"
#include "lib/nlx-test-client.h"
#include "lib/nlx-test-daemon.h"
#include "lib/nlx-test-tools.h"

static void
test_lifecycle (Fixture *f,
                gconstpointer data G_GNUC_UNUSED)
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
                         "{\"os-getConsoleOutput\": {\"length\": 2}}", &console),
                   ==, 200);
  /* As Nova's: the last 2 pieces split at newlines, the last line and
   * the empty piece after its newline. */
  g_assert_true (g_str_has_prefix (json_object_get_string_member (json_node_get_object (console),
                                                                  "output"),
                                   "fake instance"));
  g_assert_true (g_str_has_suffix (json_object_get_string_member (json_node_get_object (console),
                                                                  "output"),
                                   "booted\n"));
  g_assert_cmpstr (strchr (json_object_get_string_member (json_node_get_object (console),
                                                          "output"), '\n'), ==, "\n");

  /* No guest posts a password here: Nova's answer for none. */
  {
    g_autofree char *password_path = g_strconcat (path, "/os-server-password",
                                                  NULL);
    g_autoptr(JsonNode) password = NULL;

    g_assert_cmpint (nlx_test_call (f->session, "GET", password_path, NULL,
                                    &password), ==, 200);
    g_assert_cmpstr (json_object_get_string_member (json_node_get_object (password),
                                                    "password"), ==, "");
    g_assert_cmpint (nlx_test_call (f->session, "DELETE", password_path, NULL,
                                    NULL), ==, 204);
    nlx_test_expect_fault (f->session, "GET",
                           "/v2.1/servers/9f2d1c1e-0000-4000-8000-000000000000/os-server-password",
                           NULL, 404, "itemNotFound");
  }
  nlx_test_delete_and_wait (f->session, id);
}

static void
test_conflicts (Fixture *f,
                gconstpointer data G_GNUC_UNUSED)
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
                            gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *id = nlx_test_create (f->session, "short-lived", "test-image", NULL);
  g_autoptr(JsonNode) reply = nlx_test_show (f->session, id);

  g_assert_cmpstr (json_object_get_string_member (nlx_test_object_at (reply, "server"),
                                                  "status"), ==, "BUILD");
  nlx_test_delete_and_wait (f->session, id);
}

static void
test_delete_in_each_state (Fixture *f,
                           gconstpointer data G_GNUC_UNUSED)
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
                    gconstpointer data G_GNUC_UNUSED)
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

/* An init that exits during boot leaves the server in ERROR with init's
 * last words as the fault, not SHUTOFF as a guest's poweroff does; a
 * start that boots clears it. */
static void
test_boot_failure (Fixture *f,
                   gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *id = nlx_test_create (f->session, "nlxtest-dies", "test-image",
                                ", \"metadata\": {\"fake_boot_failure\": "
                                "\"nlxtest-last-words\"}");
  g_autofree char *action = g_strconcat ("/v2.1/servers/", id, "/action", NULL);
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(JsonNode) console = NULL;
  JsonObject *server, *fault;

  nlx_test_wait_for_status (f->session, id, "ERROR");
  reply = nlx_test_show (f->session, id);
  server = nlx_test_object_at (reply, "server");
  g_assert_cmpstr (json_object_get_string_member (server, "OS-EXT-STS:vm_state"),
                   ==, "error");
  g_assert_cmpint (json_object_get_int_member (server, "OS-EXT-STS:power_state"),
                   ==, 4);
  fault = json_object_get_object_member (server, "fault");
  g_assert_nonnull (fault);
  g_assert_nonnull (strstr (json_object_get_string_member (fault, "message"),
                            "during boot"));
  g_assert_nonnull (strstr (json_object_get_string_member (fault, "message"),
                            "nlxtest-last-words"));
  g_assert_cmpint (nlx_test_call (f->session, "POST", action,
                                  "{\"os-getConsoleOutput\": {}}", &console),
                   ==, 200);
  g_assert_nonnull (strstr (json_object_get_string_member (json_node_get_object (console),
                                                           "output"),
                            "nlxtest-last-words"));

  /* Tried again, it boots: ACTIVE, and the fault is gone. */
  nlx_test_act_and_wait (f->session, id, "{\"os-start\": null}", "powering-on",
                         "ACTIVE");
  g_clear_pointer (&reply, json_node_unref);
  reply = nlx_test_show (f->session, id);
  g_assert_false (json_object_has_member (nlx_test_object_at (reply, "server"),
                                          "fault"));
  /* A stop it was asked for is no failure. */
  nlx_test_act_and_wait (f->session, id, "{\"os-stop\": null}", NULL, "SHUTOFF");
  nlx_test_delete_and_wait (f->session, id);
}

static void
test_bad_requests (Fixture *f,
                   gconstpointer data G_GNUC_UNUSED)
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
  nlx_test_expect_fault (f->session, "POST", "/v2.1/servers", big, 413, "overLimit");

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

/* What openstackclient and novaclient send at 2.1 (min_count, max_count,
 * networks [], availability_zone, security_groups, OS-DCF:diskConfig,
 * the image as a block device mapping) is taken; what nova-lxc cannot
 * honour is refused with Nova's 400, and makes nothing. */
static void
test_create_fields (Fixture *f,
                    gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *id = nlx_test_create (f->session, "clientish", "test-image",
    ", \"min_count\": 1, \"max_count\": 1, \"networks\": [], "
    "\"availability_zone\": \"nova\", \"OS-DCF:diskConfig\": \"AUTO\", "
    "\"security_groups\": [{\"name\": \"default\"}], "
    "\"block_device_mapping_v2\": [{\"uuid\": \"test-image\", "
    "\"source_type\": \"image\", \"destination_type\": \"local\", "
    "\"boot_index\": 0, \"delete_on_termination\": true}]");
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(JsonNode) shown = NULL;
  g_autoptr(GList) networks = NULL;
  g_autofree char *one_network = NULL;
  g_autofree char *wrong_network = NULL;
  JsonObject *server;
  static const char * const refused[] = {
    CREATE_BODY (", \"min_count\": 3, \"max_count\": 2"),
    CREATE_BODY (", \"min_count\": 0"),
    CREATE_BODY (", \"max_count\": \"two\""),
    CREATE_BODY (", \"availability_zone\": \"elsewhere\""),
    CREATE_BODY (", \"networks\": \"auto\""),
    CREATE_BODY (", \"networks\": [{\"port\": \"9f2d1c1e-0000-4000-8000-000000000000\"}]"),
    CREATE_BODY (", \"networks\": [{\"uuid\": \"nonet\"}]"),
    CREATE_BODY (", \"networks\": [{\"uuid\": \"a\"}, {\"uuid\": \"b\"}]"),
    CREATE_BODY (", \"security_groups\": [{\"name\": \"web\"}]"),
    CREATE_BODY (", \"OS-DCF:diskConfig\": \"SOMETIMES\""),
    CREATE_BODY (", \"adminPass\": 7"),
    CREATE_BODY (", \"personality\": [{\"path\": \"/etc/x\", \"contents\": \"eA==\"}]"),
    CREATE_BODY (", \"block_device_mapping\": [{\"volume_id\": \"v\"}]"),
    CREATE_BODY (", \"block_device_mapping_v2\": [{\"uuid\": \"v\", \"source_type\": \"volume\", "
                 "\"volume_size\": 1}]"),
    CREATE_BODY (", \"block_device_mapping_v2\": [{\"uuid\": \"v\", \"source_type\": \"volume\", "
                 "\"delete_on_termination\": true}]"),
    CREATE_BODY (", \"block_device_mapping_v2\": [{\"uuid\": \"other-image\", \"source_type\": "
                 "\"image\", \"destination_type\": \"local\", \"boot_index\": 0}]"),
    CREATE_BODY (", \"no_such_field\": 1"),
  };

  /* Nova's create answer, and the image given both ways. */
  g_assert_cmpint (nlx_test_call (f->session, "POST", "/v2.1/servers",
                                  CREATE_BODY (", \"return_reservation_id\": true"),
                                  &reply), ==, 202);
  g_assert_true (g_regex_match_simple ("^r-[a-z0-9]{8}$",
                                       json_object_get_string_member (json_node_get_object (reply),
                                                                      "reservation_id"),
                                       0, 0));
  g_assert_false (json_object_has_member (json_node_get_object (reply), "server"));
  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  shown = nlx_test_show (f->session, id);
  server = nlx_test_object_at (shown, "server");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (server, "image"),
                                                  "id"), ==, "test-image");
  networks = json_object_get_members (json_object_get_object_member (server, "addresses"));
  g_assert_cmpuint (g_list_length (networks), ==, 1);
  one_network = g_strdup_printf (CREATE_BODY (", \"networks\": [{\"uuid\": \"%s\"}]"),
                                 (char *) networks->data);

  for (gsize i = 0; i < G_N_ELEMENTS (refused); i++)
    nlx_test_expect_fault (f->session, "POST", "/v2.1/servers", refused[i], 400,
                           "badRequest");
  nlx_test_expect_fault (f->session, "POST", "/v2.1/servers",
                         CREATE_BODY (", \"max_count\": 101"), 403, "forbidden");
  nlx_test_expect_fault (f->session, "POST", "/v2.1/servers",
                         "{\"server\": {\"name\": \"x\", \"flavorRef\": \"m1.tiny\", "
                         "\"imageRef\": \"test-image\"}, \"os:scheduler_hints\": "
                         "{\"same_host\": \"x\"}}", 400, "badRequest");
  /* The server of the reservation, and this one: none of the others. */
  g_assert_cmpuint (server_count (f), ==, 2);

  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (nlx_test_call (f->session, "POST", "/v2.1/servers", one_network, &reply),
                   ==, 202);
  server = nlx_test_object_at (reply, "server");
  g_assert_cmpstr (json_object_get_string_member (server, "OS-DCF:diskConfig"), ==, "MANUAL");
  g_assert_true (json_object_has_member (server, "links"));
  g_assert_cmpuint (server_count (f), ==, 3);
  (void) wrong_network;
}

/* max_count > 1 makes that many servers, named NAME-1, NAME-2 ...; when
 * they do not all fit, all are refused a place, as Nova's scheduler
 * does. */
static void
test_create_many (Fixture *f,
                  gconstpointer data G_GNUC_UNUSED)
{
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(JsonNode) list = NULL;
  g_autoptr(GHashTable) names = g_hash_table_new (g_str_hash, g_str_equal);
  JsonArray *servers;

  g_assert_cmpint (nlx_test_call (f->session, "POST", "/v2.1/servers",
                                  "{\"server\": {\"name\": \"many\", \"flavorRef\": \"c.mem\", "
                                  "\"imageRef\": \"test-image\", \"min_count\": \"2\", "
                                  "\"max_count\": 2}}", &reply), ==, 202);
  g_assert_true (json_object_has_member (nlx_test_object_at (reply, "server"), "id"));
  g_assert_cmpint (nlx_test_call (f->session, "GET", "/v2.1/servers/detail", NULL, &list), ==, 200);
  servers = json_object_get_array_member (json_node_get_object (list), "servers");
  g_assert_cmpuint (json_array_get_length (servers), ==, 2);
  for (guint i = 0; i < 2; i++)
    {
      JsonObject *server = json_array_get_object_element (servers, i);

      g_hash_table_add (names, (gpointer) json_object_get_string_member (server, "name"));
      /* Two of 4096 MiB in 4096 free: neither gets a place. */
      g_assert_cmpstr (json_object_get_string_member (server, "status"), ==, "ERROR");
    }
  g_assert_true (g_hash_table_contains (names, "many-1"));
  g_assert_true (g_hash_table_contains (names, "many-2"));

  /* Two that fit both get one. */
  g_clear_pointer (&reply, json_node_unref);
  g_clear_pointer (&list, json_node_unref);
  g_assert_cmpint (nlx_test_call (f->session, "POST", "/v2.1/servers",
                                  "{\"server\": {\"name\": \"pair\", \"flavorRef\": \"c.disk\", "
                                  "\"imageRef\": \"test-image\", \"max_count\": 2}}", &reply),
                   ==, 202);
  g_assert_cmpint (nlx_test_call (f->session, "GET", "/v2.1/servers/detail", NULL, &list), ==, 200);
  servers = json_object_get_array_member (json_node_get_object (list), "servers");
  g_assert_cmpuint (json_array_get_length (servers), ==, 4);
  for (guint i = 0; i < 4; i++)
    {
      JsonObject *server = json_array_get_object_element (servers, i);
      const char *name = json_object_get_string_member (server, "name");

      if (g_str_has_prefix (name, "pair-"))
        nlx_test_wait_for_status (f->session,
                                  json_object_get_string_member (server, "id"), "ACTIVE");
    }
}

/* The ids a list answers, in its order, and its next link (or NULL)
 * from "/v2.1" on. */
static GPtrArray *
list_ids (Fixture *f,
          const char *path,
          char **next)
{
  g_autoptr(JsonNode) list = NULL;
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);
  JsonObject *root;
  JsonArray *servers;

  g_assert_cmpint (nlx_test_call (f->session, "GET", path, NULL, &list), ==, 200);
  root = json_node_get_object (list);
  servers = json_object_get_array_member (root, "servers");
  for (guint i = 0; i < json_array_get_length (servers); i++)
    g_ptr_array_add (ids, g_strdup (json_object_get_string_member (
      json_array_get_object_element (servers, i), "id")));
  if (next != NULL)
    {
      *next = NULL;
      if (json_object_has_member (root, "servers_links"))
        {
          JsonObject *link = json_array_get_object_element (
            json_object_get_array_member (root, "servers_links"), 0);
          const char *href = json_object_get_string_member (link, "href");

          g_assert_cmpstr (json_object_get_string_member (link, "rel"), ==, "next");
          g_assert_nonnull (strstr (href, "/v2.1/"));
          *next = g_strdup (strstr (href, "/v2.1/"));
        }
    }
  return ids;
}

static guint
count_listed (Fixture *f,
              const char *path)
{
  g_autoptr(GPtrArray) ids = list_ids (f, path, NULL);

  return ids->len;
}

/* Nova's paging (limit, marker, servers_links "next") and filters (name
 * as a regular expression, status, image, flavor, changes-since), newest
 * first. */
static void
test_list_paging_and_filters (Fixture *f,
                              gconstpointer data G_GNUC_UNUSED)
{
  const char *names[] = { "alpha", "beta", "gamma" };
  char *ids[3];
  g_autoptr(GPtrArray) page = NULL;
  g_autoptr(GPtrArray) rest = NULL;
  g_autofree char *next = NULL;
  g_autofree char *last = NULL;
  g_autofree char *path = NULL;
  static const char * const bad[] = {
    "/v2.1/servers?limit=-1", "/v2.1/servers?limit=lots",
    "/v2.1/servers?marker=9f2d1c1e-0000-4000-8000-000000000000",
    "/v2.1/servers/detail?marker=nope", "/v2.1/servers?name=(unclosed",
    "/v2.1/servers?changes-since=yesterday",
    "/v2.1/servers?sort_key=colour", "/v2.1/servers?sort_dir=up",
  };

  for (guint i = 0; i < 3; i++)
    {
      ids[i] = nlx_test_create (f->session, names[i], "test-image", NULL);
      nlx_test_wait_for_status (f->session, ids[i], "ACTIVE");
      /* Distinct creation times (records keep whole seconds), for the
       * order. */
      if (i < 2)
        g_usleep (1100000);
    }
  nlx_test_act_and_wait (f->session, ids[1], "{\"os-stop\": null}", NULL, "SHUTOFF");

  /* Page by page, newest first, to the end. */
  page = list_ids (f, "/v2.1/servers?limit=2", &next);
  g_assert_cmpuint (page->len, ==, 2);
  g_assert_cmpstr (page->pdata[0], ==, ids[2]);
  g_assert_cmpstr (page->pdata[1], ==, ids[1]);
  g_assert_nonnull (next);
  g_assert_nonnull (strstr (next, "limit=2"));
  rest = list_ids (f, next, &last);
  g_assert_cmpuint (rest->len, ==, 1);
  g_assert_cmpstr (rest->pdata[0], ==, ids[0]);
  g_assert_null (last);
  g_clear_pointer (&page, g_ptr_array_unref);
  page = list_ids (f, "/v2.1/servers/detail?limit=3", &last);
  g_assert_cmpuint (page->len, ==, 3);
  g_assert_null (last);
  g_assert_cmpuint (count_listed (f, "/v2.1/servers?limit=0"), ==, 0);
  path = g_strdup_printf ("/v2.1/servers/detail?marker=%s", ids[1]);
  g_assert_cmpuint (count_listed (f, path), ==, 1);

  g_assert_cmpuint (count_listed (f, "/v2.1/servers?name=mm"), ==, 1);
  g_assert_cmpuint (count_listed (f, "/v2.1/servers?name=%5Ea"), ==, 1);
  g_assert_cmpuint (count_listed (f, "/v2.1/servers/detail?name=a%24"), ==, 3);
  g_assert_cmpuint (count_listed (f, "/v2.1/servers?status=SHUTOFF"), ==, 1);
  g_assert_cmpuint (count_listed (f, "/v2.1/servers?status=active"), ==, 2);
  g_assert_cmpuint (count_listed (f, "/v2.1/servers?status=ACTIVE&status=SHUTOFF"), ==, 3);
  g_assert_cmpuint (count_listed (f, "/v2.1/servers?status=ACTIVE&name=beta"), ==, 0);
  g_assert_cmpuint (count_listed (f, "/v2.1/servers?flavor=m1.tiny"), ==, 3);
  g_assert_cmpuint (count_listed (f, "/v2.1/servers?flavor=m1.small"), ==, 0);
  g_assert_cmpuint (count_listed (f, "/v2.1/servers?image=test-image"), ==, 3);
  g_assert_cmpuint (count_listed (f, "/v2.1/servers?image=http%3A%2F%2Fh%2Fimages%2Ftest-image"),
                    ==, 3);
  g_assert_cmpuint (count_listed (f, "/v2.1/servers?image=other"), ==, 0);
  g_assert_cmpuint (count_listed (f, "/v2.1/servers?changes-since=2000-01-01T00:00:00Z"), ==, 3);
  g_assert_cmpuint (count_listed (f, "/v2.1/servers?changes-since=2999-01-01T00:00:00Z"), ==, 0);
  /* Sorted as asked, and paged in that order; the first sort_key and
   * sort_dir count, as Nova's first. */
  g_clear_pointer (&page, g_ptr_array_unref);
  g_clear_pointer (&rest, g_ptr_array_unref);
  g_clear_pointer (&next, g_free);
  page = list_ids (f, "/v2.1/servers?sort_key=display_name&sort_dir=asc&limit=2",
                   &next);
  g_assert_cmpuint (page->len, ==, 2);
  g_assert_cmpstr (page->pdata[0], ==, ids[0]);
  g_assert_cmpstr (page->pdata[1], ==, ids[1]);
  g_assert_nonnull (next);
  rest = list_ids (f, next, NULL);
  g_assert_cmpuint (rest->len, ==, 1);
  g_assert_cmpstr (rest->pdata[0], ==, ids[2]);
  g_clear_pointer (&page, g_ptr_array_unref);
  page = list_ids (f, "/v2.1/servers?sort_key=display_name", NULL);
  g_assert_cmpstr (page->pdata[0], ==, ids[2]);
  g_clear_pointer (&page, g_ptr_array_unref);
  page = list_ids (f, "/v2.1/servers?sort_key=created_at&sort_dir=asc", NULL);
  g_assert_cmpstr (page->pdata[0], ==, ids[0]);
  /* Filters Nova has and nova-lxc does not apply are ignored, as Nova's
   * unknown ones are at 2.1. */
  g_assert_cmpuint (count_listed (f, "/v2.1/servers?colour=red"), ==, 3);

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    nlx_test_expect_fault (f->session, "GET", bad[i], NULL, 400, "badRequest");
  for (guint i = 0; i < 3; i++)
    {
      nlx_test_delete_and_wait (f->session, ids[i]);
      g_free (ids[i]);
    }
}

/* Records outlive the daemon; an instance the driver no longer has (the
 * fake driver forgets everything) comes back in ERROR, not ACTIVE. */
static void
test_restart (Fixture *f,
              gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *id = nlx_test_create (f->session, "survivor", "test-image", NULL);
  g_autoptr(JsonNode) reply = NULL;
  JsonObject *server;

  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  nlx_test_daemon_stop (&f->daemon);
  nlx_test_daemon_start (&f->daemon, f->config_text);
  g_assert_no_error (f->daemon.start_error);

  reply = nlx_test_show (f->session, id);
  server = nlx_test_object_at (reply, "server");
  g_assert_cmpstr (json_object_get_string_member (server, "name"), ==, "survivor");
  g_assert_cmpstr (json_object_get_string_member (server, "status"), ==, "ERROR");
  g_assert_nonnull (json_object_get_object_member (server, "fault"));
  nlx_test_delete_and_wait (f->session, id);
}

typedef struct {
  GMutex lock;
  GPtrArray *lines;
} LogCapture;

static void
capture_message (const char *domain,
                 GLogLevelFlags level,
                 const char *message,
                 gpointer data)
{
  LogCapture *capture = data;

  g_mutex_lock (&capture->lock);
  g_ptr_array_add (capture->lines, g_strdup (message));
  g_mutex_unlock (&capture->lock);
  g_log_default_handler (domain, level, message, NULL);
}

static gint64
statistic (Fixture *f,
           const char *member)
{
  g_autoptr(JsonNode) stats = NULL;

  g_assert_cmpint (nlx_test_call (f->session, "GET", "/v2.1/os-hypervisors/statistics",
                                  NULL, &stats), ==, 200);
  return json_object_get_int_member (nlx_test_object_at (stats, "hypervisor_statistics"),
                                     member);
}

/* The fake host also runs instances no record here owns ([fake]
 * foreign_instances = 4, 3 vcpus each): the statistics count only this
 * service's, and a start says so in one line, not one per instance. */
static void
test_foreign_instances (Fixture *f,
                        gconstpointer data G_GNUC_UNUSED)
{
  LogCapture capture = { .lines = g_ptr_array_new_with_free_func (g_free) };
  g_autofree char *small = NULL;
  g_autofree char *medium = NULL;
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(JsonNode) detail = NULL;
  JsonObject *hypervisor;
  guint handler;
  guint lines = 0;

  g_mutex_init (&capture.lock);
  handler = g_log_set_handler ("nova-lxc", G_LOG_LEVEL_MESSAGE, capture_message,
                               &capture);
  nlx_test_daemon_stop (&f->daemon);
  nlx_test_daemon_start (&f->daemon, f->config_text);
  g_log_remove_handler ("nova-lxc", handler);
  g_assert_no_error (f->daemon.start_error);
  for (guint i = 0; i < capture.lines->len; i++)
    if (strstr (capture.lines->pdata[i], "no record here") != NULL)
      {
        lines++;
        g_assert_nonnull (strstr (capture.lines->pdata[i], "4 instances"));
      }
  g_assert_cmpuint (lines, ==, 1);
  g_ptr_array_unref (capture.lines);
  g_mutex_clear (&capture.lock);

  g_assert_cmpint (statistic (f, "vcpus_used"), ==, 0);
  small = nlx_test_create (f->session, "nlxtest-small", "test-image", NULL);
  g_assert_cmpint (nlx_test_call (f->session, "POST", "/v2.1/servers",
                                  "{\"server\": {\"name\": \"nlxtest-medium\", "
                                  "\"flavorRef\": \"m1.medium\", \"imageRef\": "
                                  "\"test-image\"}}", &reply), ==, 202);
  medium = g_strdup (json_object_get_string_member (nlx_test_object_at (reply, "server"),
                                                    "id"));
  nlx_test_wait_for_status (f->session, small, "ACTIVE");
  nlx_test_wait_for_status (f->session, medium, "ACTIVE");
  /* m1.tiny has 1 vcpu, m1.medium 2. */
  g_assert_cmpint (statistic (f, "vcpus_used"), ==, 3);
  g_assert_cmpint (statistic (f, "running_vms"), ==, 2);
  g_assert_cmpint (nlx_test_call (f->session, "GET", "/v2.1/os-hypervisors/detail",
                                  NULL, &detail), ==, 200);
  hypervisor = json_array_get_object_element (json_object_get_array_member (
                 json_node_get_object (detail), "hypervisors"), 0);
  g_assert_cmpint (json_object_get_int_member (hypervisor, "vcpus_used"), ==, 3);

  /* Paused or stopped, a server keeps its claim, as in Nova. */
  nlx_test_act_and_wait (f->session, medium, "{\"pause\": null}", "pausing", "PAUSED");
  g_assert_cmpint (statistic (f, "vcpus_used"), ==, 3);
  nlx_test_act_and_wait (f->session, small, "{\"os-stop\": null}", "powering-off",
                         "SHUTOFF");
  g_assert_cmpint (statistic (f, "vcpus_used"), ==, 3);

  nlx_test_delete_and_wait (f->session, small);
  nlx_test_delete_and_wait (f->session, medium);
  g_assert_cmpint (statistic (f, "vcpus_used"), ==, 0);
}

/* ---- claims: what fits on the host -------------------------------------- */

/* A fake host of 2 CPUs, 4608 MiB (512 reserved) and 30 GiB, ratios 1.0,
 * and one flavor short of each resource in turn. */
#define CLAIMS_CONFIG \
  "[fake]\nvcpus = 2\nmemory_mb = 4608\nlocal_gb = 30\n" \
  "[DEFAULT]\nreserved_host_memory_mb = 512\n" \
  "[flavor c.cpu]\nvcpus = 2\nmemory_mb = 64\nroot_gb = 0\n" \
  "[flavor c.mem]\nvcpus = 1\nmemory_mb = 4096\nroot_gb = 0\n" \
  "[flavor c.disk]\nvcpus = 1\nmemory_mb = 64\nroot_gb = 30\n"

static char *
create_with_flavor (Fixture *f,
                    const char *name,
                    const char *flavor,
                    const char *extra)
{
  return nlx_test_create_on_flavor (f->session, name, flavor, "test-image",
                                    extra);
}

/* The server went to ERROR with Nova's scheduling fault and holds no
 * host, as Nova shows a server no host had room for. */
static void
assert_no_valid_host (Fixture *f,
                      const char *id)
{
  g_autoptr(JsonNode) reply = NULL;
  JsonObject *server, *fault;

  nlx_test_wait_for_status (f->session, id, "ERROR");
  reply = nlx_test_show (f->session, id);
  server = nlx_test_object_at (reply, "server");
  fault = json_object_get_object_member (server, "fault");
  g_assert_nonnull (fault);
  g_assert_cmpint (json_object_get_int_member (fault, "code"), ==, 500);
  g_assert_cmpstr (json_object_get_string_member (fault, "message"), ==,
                   "No valid host was found. There are not enough hosts "
                   "available.");
  g_assert_null (json_object_get_string_member (server, "OS-EXT-SRV-ATTR:host"));
  g_assert_cmpstr (json_object_get_string_member (server, "hostId"), ==, "");
  g_assert_cmpstr (json_object_get_string_member (server, "OS-EXT-STS:task_state"),
                   ==, NULL);
  /* Nothing was made for it: no address either. */
  g_assert_cmpuint (json_object_get_size (json_object_get_object_member (server,
                                                                         "addresses")),
                    ==, 0);
}

/* What fits is built, what does not is refused as Nova refuses it, for
 * each of vcpus, memory and disk; the statistics count the flavors'
 * claims (a stopped server keeps its place) plus what is reserved, and a
 * delete gives the room back. */
static void
test_claims (Fixture *f,
             gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *cpu = NULL;
  g_autofree char *cpu2 = NULL;
  g_autofree char *disk = NULL;
  g_autofree char *disk2 = NULL;
  g_autofree char *mem = NULL;
  g_autoptr(JsonNode) detail = NULL;
  JsonObject *hypervisor;

  g_assert_cmpint (statistic (f, "vcpus"), ==, 2);
  g_assert_cmpint (statistic (f, "vcpus_used"), ==, 0);
  g_assert_cmpint (statistic (f, "memory_mb"), ==, 4608);
  g_assert_cmpint (statistic (f, "memory_mb_used"), ==, 512);
  g_assert_cmpint (statistic (f, "free_ram_mb"), ==, 4096);
  g_assert_cmpint (statistic (f, "local_gb"), ==, 30);
  g_assert_cmpint (statistic (f, "local_gb_used"), ==, 0);
  g_assert_cmpint (statistic (f, "running_vms"), ==, 0);

  /* Fits: both CPUs. */
  cpu = create_with_flavor (f, "nlxtest-cpu", "c.cpu", NULL);
  nlx_test_wait_for_status (f->session, cpu, "ACTIVE");
  g_assert_cmpint (statistic (f, "vcpus_used"), ==, 2);
  g_assert_cmpint (statistic (f, "memory_mb_used"), ==, 512 + 64);
  g_assert_cmpint (statistic (f, "running_vms"), ==, 1);
  g_assert_cmpint (nlx_test_call (f->session, "GET", "/v2.1/os-hypervisors/detail",
                                  NULL, &detail), ==, 200);
  hypervisor = json_array_get_object_element (json_object_get_array_member (
                 json_node_get_object (detail), "hypervisors"), 0);
  g_assert_cmpint (json_object_get_int_member (hypervisor, "vcpus_used"), ==, 2);
  g_assert_cmpint (json_object_get_int_member (hypervisor, "memory_mb_used"), ==, 576);
  g_assert_cmpint (json_object_get_int_member (hypervisor, "running_vms"), ==, 1);

  /* vcpus short: accepted, then ERROR with Nova's fault; nothing held. */
  cpu2 = create_with_flavor (f, "nlxtest-cpu2", "c.cpu", NULL);
  assert_no_valid_host (f, cpu2);
  g_assert_cmpint (statistic (f, "vcpus_used"), ==, 2);
  g_assert_cmpint (statistic (f, "running_vms"), ==, 1);
  /* It has no place to run in: only a delete is left (409 as Nova's
   * InstanceNotReady). */
  g_assert_cmpint (nlx_test_act (f->session, cpu2, "{\"os-start\": null}"), ==, 409);
  g_assert_cmpint (nlx_test_act (f->session, cpu2,
                                 "{\"reboot\": {\"type\": \"HARD\"}}"), ==, 409);

  /* A stopped server keeps its place, as in Nova. */
  nlx_test_act_and_wait (f->session, cpu, "{\"os-stop\": null}", "powering-off",
                         "SHUTOFF");
  g_assert_cmpint (statistic (f, "vcpus_used"), ==, 2);
  disk = create_with_flavor (f, "nlxtest-disk", "c.disk", NULL);
  assert_no_valid_host (f, disk);

  /* A delete gives the room back; an unplaced server's delete changes
   * nothing. */
  nlx_test_delete_and_wait (f->session, cpu);
  nlx_test_delete_and_wait (f->session, cpu2);
  nlx_test_delete_and_wait (f->session, disk);
  g_assert_cmpint (statistic (f, "vcpus_used"), ==, 0);
  g_assert_cmpint (statistic (f, "memory_mb_used"), ==, 512);
  g_assert_cmpint (statistic (f, "running_vms"), ==, 0);

  /* The whole disk fits; a second one does not (disk short, vcpus not). */
  disk = create_with_flavor (f, "nlxtest-disk", "c.disk", NULL);
  nlx_test_wait_for_status (f->session, disk, "ACTIVE");
  g_assert_cmpint (statistic (f, "local_gb_used"), ==, 30);
  g_assert_cmpint (statistic (f, "free_disk_gb"), ==, 0);
  disk2 = create_with_flavor (f, "nlxtest-disk2", "c.disk", NULL);
  assert_no_valid_host (f, disk2);

  /* Memory short: 64 + 4096 MiB above 4608 - 512 (vcpus and disk fit). */
  mem = create_with_flavor (f, "nlxtest-mem", "c.mem", NULL);
  assert_no_valid_host (f, mem);
  g_assert_cmpint (statistic (f, "vcpus_used"), ==, 1);
  g_assert_cmpint (statistic (f, "memory_mb_used"), ==, 512 + 64);

  /* Claims and their absence survive a restart. */
  nlx_test_daemon_stop (&f->daemon);
  nlx_test_daemon_start (&f->daemon, f->config_text);
  g_assert_no_error (f->daemon.start_error);
  g_assert_cmpint (statistic (f, "vcpus_used"), ==, 1);
  g_assert_cmpint (statistic (f, "local_gb_used"), ==, 30);
  g_assert_cmpint (statistic (f, "running_vms"), ==, 1);
  assert_no_valid_host (f, mem);

  nlx_test_delete_and_wait (f->session, mem);
  nlx_test_delete_and_wait (f->session, disk2);
  nlx_test_delete_and_wait (f->session, disk);
  /* With the disk free again, the memory flavor fits. */
  g_clear_pointer (&mem, g_free);
  mem = create_with_flavor (f, "nlxtest-mem", "c.mem", NULL);
  nlx_test_wait_for_status (f->session, mem, "ACTIVE");
  g_assert_cmpint (statistic (f, "memory_mb_used"), ==, 512 + 4096);
  nlx_test_delete_and_wait (f->session, mem);
}

/* Allocation ratios of 2 double what fits of each resource: the same
 * flavors that filled the host above fit twice, and a third is refused. */
static void
test_claims_ratios (Fixture *f,
                    gconstpointer data G_GNUC_UNUSED)
{
  const char *flavors[] = { "c.cpu", "c.mem", "c.disk" };

  for (guint i = 0; i < G_N_ELEMENTS (flavors); i++)
    {
      g_autofree char *first = create_with_flavor (f, "nlxtest-1", flavors[i], NULL);
      g_autofree char *second = create_with_flavor (f, "nlxtest-2", flavors[i], NULL);
      g_autofree char *third = NULL;

      nlx_test_wait_for_status (f->session, first, "ACTIVE");
      nlx_test_wait_for_status (f->session, second, "ACTIVE");
      /* c.mem twice holds 2 of the 4 vcpus, c.disk twice 2: a third of
       * each is short of its own resource only. */
      third = create_with_flavor (f, "nlxtest-3", flavors[i], NULL);
      assert_no_valid_host (f, third);
      nlx_test_delete_and_wait (f->session, first);
      nlx_test_delete_and_wait (f->session, second);
      nlx_test_delete_and_wait (f->session, third);
    }
  g_assert_cmpint (statistic (f, "vcpus_used"), ==, 0);
  /* The statistics show the host's size, not the ceiling. */
  g_assert_cmpint (statistic (f, "vcpus"), ==, 2);
}

/* [filter_scheduler] max_instances_per_host counts servers whatever
 * their flavors, as Nova's NumInstancesFilter: the third of two places
 * is refused as a full host is, a pair of which only one fits gets
 * none, /limits shows the count, and a delete gives a place back. */
static void
test_claims_count (Fixture *f,
                   gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *first = create_with_flavor (f, "nlxtest-1", "c.disk", NULL);
  g_autofree char *second = NULL;
  g_autofree char *third = NULL;
  g_autofree char *fourth = NULL;
  g_autoptr(JsonNode) limits = NULL;
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(JsonNode) list = NULL;
  JsonObject *absolute;
  JsonArray *servers;

  nlx_test_wait_for_status (f->session, first, "ACTIVE");
  g_assert_cmpint (nlx_test_call (f->session, "GET", "/v2.1/limits", NULL,
                                  &limits), ==, 200);
  absolute = json_object_get_object_member (nlx_test_object_at (limits,
                                                                "limits"),
                                            "absolute");
  g_assert_cmpint (json_object_get_int_member (absolute, "maxTotalInstances"),
                   ==, 2);

  /* One place left: a pair does not fit, and takes neither. */
  g_assert_cmpint (nlx_test_call (f->session, "POST", "/v2.1/servers",
                                  "{\"server\": {\"name\": \"nlxtest-pair\", "
                                  "\"flavorRef\": \"c.disk\", "
                                  "\"imageRef\": \"test-image\", "
                                  "\"max_count\": 2}}", &reply), ==, 202);
  g_assert_cmpint (nlx_test_call (f->session, "GET", "/v2.1/servers/detail",
                                  NULL, &list), ==, 200);
  servers = json_object_get_array_member (json_node_get_object (list),
                                          "servers");
  g_assert_cmpuint (json_array_get_length (servers), ==, 3);
  for (guint i = 0; i < 3; i++)
    {
      JsonObject *server = json_array_get_object_element (servers, i);
      const char *id = json_object_get_string_member (server, "id");

      if (g_str_has_prefix (json_object_get_string_member (server, "name"),
                            "nlxtest-pair-"))
        {
          assert_no_valid_host (f, id);
          nlx_test_delete_and_wait (f->session, id);
        }
    }

  second = create_with_flavor (f, "nlxtest-2", "c.disk", NULL);
  nlx_test_wait_for_status (f->session, second, "ACTIVE");
  /* The host has room for the flavor, not for a third server. */
  third = create_with_flavor (f, "nlxtest-3", "c.disk", NULL);
  assert_no_valid_host (f, third);
  nlx_test_delete_and_wait (f->session, third);

  nlx_test_delete_and_wait (f->session, first);
  fourth = create_with_flavor (f, "nlxtest-4", "c.disk", NULL);
  nlx_test_wait_for_status (f->session, fourth, "ACTIVE");
  nlx_test_delete_and_wait (f->session, second);
  nlx_test_delete_and_wait (f->session, fourth);
}

typedef struct {
  Fixture *f;
  const char *name;
  char *id;
  GMutex *lock;
  GCond *cond;
  guint *waiting;
} Racer;

/* Each racer has its own connection; all post at once. */
static gpointer
race_create (gpointer data)
{
  Racer *racer = data;
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (racer->f->socket);
  g_autoptr(SoupSession) session =
    soup_session_new_with_options ("remote-connectable", address, NULL);
  g_autofree char *body = g_strdup_printf (
    "{\"server\": {\"name\": \"%s\", \"flavorRef\": \"c.cpu\", "
    "\"imageRef\": \"test-image\"}}", racer->name);
  g_autoptr(JsonNode) reply = NULL;

  g_mutex_lock (racer->lock);
  if (--*racer->waiting == 0)
    g_cond_broadcast (racer->cond);
  while (*racer->waiting > 0)
    g_cond_wait (racer->cond, racer->lock);
  g_mutex_unlock (racer->lock);
  g_assert_cmpint (nlx_test_call (session, "POST", "/v2.1/servers", body,
                                  &reply), ==, 202);
  racer->id = g_strdup (json_object_get_string_member (nlx_test_object_at (reply, "server"),
                                                       "id"));
  return NULL;
}

/* Creates racing for the last room: exactly one wins, every time; a
 * failed spawn gives its room back. */
static void
test_claims_race (Fixture *f,
                  gconstpointer data G_GNUC_UNUSED)
{
  GMutex lock;
  GCond cond;

  g_mutex_init (&lock);
  g_cond_init (&cond);
  for (guint round = 0; round < 5; round++)
    {
      Racer racers[4] = { 0 };
      guint waiting = G_N_ELEMENTS (racers);
      GThread *threads[G_N_ELEMENTS (racers)];
      guint active = 0, refused = 0;

      for (guint i = 0; i < G_N_ELEMENTS (racers); i++)
        {
          racers[i] = (Racer) { f, "nlxtest-racer", NULL, &lock, &cond, &waiting };
          threads[i] = g_thread_new ("racer", race_create, &racers[i]);
        }
      for (guint i = 0; i < G_N_ELEMENTS (racers); i++)
        g_thread_join (threads[i]);
      for (guint i = 0; i < G_N_ELEMENTS (racers); i++)
        {
          g_autofree char *status = NULL;

          while (g_str_equal ((status = nlx_test_status_of (f->session,
                                                            racers[i].id)),
                              "BUILD"))
            {
              g_free (status);
              g_usleep (20 * 1000);
            }
          if (g_str_equal (status, "ACTIVE"))
            active++;
          else
            {
              assert_no_valid_host (f, racers[i].id);
              refused++;
            }
        }
      g_assert_cmpuint (active, ==, 1);
      g_assert_cmpuint (refused, ==, G_N_ELEMENTS (racers) - 1);
      g_assert_cmpint (statistic (f, "vcpus_used"), ==, 2);
      for (guint i = 0; i < G_N_ELEMENTS (racers); i++)
        {
          nlx_test_delete_and_wait (f->session, racers[i].id);
          g_free (racers[i].id);
        }
      g_assert_cmpint (statistic (f, "vcpus_used"), ==, 0);
    }
  g_mutex_clear (&lock);
  g_cond_clear (&cond);

  /* A spawn that fails gives the room back at once. */
  {
    g_autofree char *doomed = create_with_flavor (f, "nlxtest-doomed", "c.cpu",
                                                  ", \"metadata\": {\"fake_spawn_error\": "
                                                  "\"the disk is on fire\"}");
    g_autofree char *next = NULL;

    nlx_test_wait_for_status (f->session, doomed, "ERROR");
    g_assert_cmpint (statistic (f, "vcpus_used"), ==, 0);
    g_assert_cmpint (statistic (f, "running_vms"), ==, 0);
    next = create_with_flavor (f, "nlxtest-next", "c.cpu", NULL);
    nlx_test_wait_for_status (f->session, next, "ACTIVE");
    nlx_test_delete_and_wait (f->session, doomed);
    nlx_test_delete_and_wait (f->session, next);
  }
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_summary ("The Compute API and the manager, over HTTP, on the fake "
                  "driver: servers: their lifecycle, conflicts, failures and "
                  "restarts, foreign instances, and the claims that decide "
                  "what fits on the host.");
  /* Failed operations are logged as warnings, and some tests fail them
   * on purpose. */
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR);

#define ADD(path, func, config) \
  g_test_add (path, Fixture, config, fixture_set_up, func, fixture_tear_down)
  ADD ("/nlx/api/servers/lifecycle", test_lifecycle, NULL);
  ADD ("/nlx/api/servers/conflicts", test_conflicts, NULL);
  ADD ("/nlx/api/servers/delete-while-building", test_delete_while_building, NULL);
  ADD ("/nlx/api/servers/delete-in-each-state", test_delete_in_each_state, NULL);
  ADD ("/nlx/api/servers/spawn-failure", test_spawn_failure, NULL);
  ADD ("/nlx/api/servers/boot-failure", test_boot_failure, NULL);
  ADD ("/nlx/api/servers/bad-requests", test_bad_requests, NULL);
  ADD ("/nlx/api/servers/restart", test_restart, NULL);
  ADD ("/nlx/api/servers/create-fields", test_create_fields, NULL);
  ADD ("/nlx/api/servers/list-paging-and-filters", test_list_paging_and_filters, NULL);
  ADD ("/nlx/api/claims/fit-and-refuse", test_claims,
       CLAIMS_CONFIG "[compute]\ncpu_allocation_ratio = 1.0\n");
  ADD ("/nlx/api/claims/ratios", test_claims_ratios,
       CLAIMS_CONFIG "[compute]\ncpu_allocation_ratio = 2.0\n"
       "ram_allocation_ratio = 2.0\ndisk_allocation_ratio = 2.0\n");
  /* c.disk takes the whole disk: a ratio of 3 lets three fit by size. */
  ADD ("/nlx/api/claims/count", test_claims_count,
       CLAIMS_CONFIG "[compute]\ndisk_allocation_ratio = 3.0\n"
       "[filter_scheduler]\nmax_instances_per_host = 2\n");
  ADD ("/nlx/api/claims/race", test_claims_race,
       CLAIMS_CONFIG "[compute]\ncpu_allocation_ratio = 1.0\n");
  ADD ("/nlx/api/servers/create-many", test_create_many,
       CLAIMS_CONFIG "[compute]\nram_allocation_ratio = 1.0\n"
       "disk_allocation_ratio = 2.0\n");
  ADD ("/nlx/api/hypervisors/foreign-instances", test_foreign_instances,
       "[fake]\nforeign_instances = 4\n");
#undef ADD

  return g_test_run ();
}
