/* test-api-microversions-servers.c: the Compute API on the fake driver:
 * the server body (show, list, list detail, update answer) as Nova shapes
 * it at each microversion, checked against tempest's own response schemas
 * (lib/check-server-schema.py); a server's description (2.19+) and tags
 * (2.26+); and what the server list's query takes at which version (the
 * fixture: lib/nlx-api-fixture.h). */
#include "config.h"

#include "lib/nlx-api-fixture.h"
#include "lib/nlx-test-client.h"
#include "lib/nlx-test-daemon.h"
#include "lib/nlx-test-tools.h"

/* @method @path with @body at microversion @version; the status. */
static guint
call_at (Fixture *f,
         const char *version,
         const char *method,
         const char *path,
         const char *body,
         JsonNode **reply)
{
  g_autofree char *value = g_strconcat ("compute ", version, NULL);

  g_test_message ("%s %s at %s %s", method, path, version, body ? body : "");
  return nlx_test_call_full (f->session, "http://localhost", method, path,
                             body, "OpenStack-API-Version", value, reply,
                             NULL);
}

static JsonObject *
server_of (JsonNode *reply)
{
  return nlx_test_object_at (reply, "server");
}

/* Whether tempest's schemas could be loaded; FALSE once the helper said
 * it cannot (no tempest or jsonschema): the rest is still checked. */
static gboolean have_schemas = TRUE;

/* Fails the test unless @body validates against tempest's @schema at
 * @version, as tempest's servers client checks it. */
static void
assert_schema (const char *version,
               const char *schema,
               JsonNode *body)
{
  g_autofree char *script = g_test_build_filename (G_TEST_DIST, "lib",
                                                   "check-server-schema.py",
                                                   NULL);
  g_autofree char *text = json_to_string (body, FALSE);
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  if (!have_schemas)
    return;
  process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                              G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                              G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                              "/usr/bin/python3", script, version, schema,
                              NULL);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_communicate_utf8 (process, text, NULL, &out,
                                                &err, &error));
  g_assert_no_error (error);
  if (g_subprocess_get_exit_status (process) == 77)
    {
      g_test_message ("tempest's schemas are not checked: %s", err);
      have_schemas = FALSE;
      return;
    }
  if (g_subprocess_get_exit_status (process) != 0)
    g_error ("%s at %s does not validate: %s\n%s", schema, version, err, text);
}

/* The microversions where tempest's servers client changes schema, and
 * the newest served. */
static const char * const schema_versions[] = {
  "2.1", "2.3", "2.6", "2.8", "2.9", "2.16", "2.19", "2.26", "2.45", "2.47",
  "2.48", "2.51", "2.54", "2.57", "2.58", "2.62", "2.63", "2.70", "2.71",
  "2.73", "2.75", "2.79", "2.96", NULL
};

static void
check_bodies_at (Fixture *f,
                 const char *version,
                 const char *active,
                 const char *stopped)
{
  g_autofree char *active_path = g_strconcat ("/v2.1/servers/", active, NULL);
  g_autofree char *stopped_path = g_strconcat ("/v2.1/servers/", stopped,
                                               NULL);
  g_autoptr(JsonNode) show = NULL;
  g_autoptr(JsonNode) shut = NULL;
  g_autoptr(JsonNode) list = NULL;
  g_autoptr(JsonNode) detail = NULL;
  g_autoptr(JsonNode) updated = NULL;

  g_assert_cmpint (call_at (f, version, "GET", active_path, NULL, &show), ==,
                   200);
  assert_schema (version, "get_server", show);
  g_assert_cmpint (call_at (f, version, "GET", stopped_path, NULL, &shut), ==,
                   200);
  assert_schema (version, "get_server", shut);
  g_assert_cmpint (call_at (f, version, "GET", "/v2.1/servers", NULL, &list),
                   ==, 200);
  assert_schema (version, "list_servers", list);
  g_assert_cmpint (call_at (f, version, "GET", "/v2.1/servers/detail", NULL,
                            &detail), ==, 200);
  assert_schema (version, "list_servers_detail", detail);
  g_assert_cmpint (call_at (f, version, "PUT", active_path,
                            "{\"server\": {\"name\": \"nlxtest-active\"}}",
                            &updated), ==, 200);
  assert_schema (version, "update_server", updated);

  /* Every view has both access addresses; show and detail the zone and
   * the default security group; the update answer before 2.75 neither. */
  g_assert_true (json_object_has_member (server_of (updated), "accessIPv4"));
  g_assert_true (json_object_has_member (server_of (updated), "accessIPv6"));
  g_assert_cmpstr (json_object_get_string_member (server_of (show),
                                                  "OS-EXT-AZ:availability_zone"),
                   ==, "nova");
  g_assert_cmpstr (json_object_get_string_member (
                     json_array_get_object_element (
                       json_object_get_array_member (server_of (show),
                                                     "security_groups"), 0),
                     "name"), ==, "default");
  g_assert_cmpstr (json_object_get_string_member (
                     json_array_get_object_element (
                       json_object_get_array_member (
                         json_node_get_object (detail), "servers"), 0),
                     "OS-EXT-AZ:availability_zone"), ==, "nova");
  if (!json_object_has_member (server_of (updated), "OS-EXT-STS:vm_state"))
    {
      g_assert_false (json_object_has_member (server_of (updated),
                                              "OS-EXT-AZ:availability_zone"));
      g_assert_false (json_object_has_member (server_of (updated),
                                              "security_groups"));
    }

  /* Nova shows progress in ACTIVE, BUILD and the like, never SHUTOFF. */
  g_assert_true (json_object_has_member (server_of (show), "progress"));
  g_assert_false (json_object_has_member (server_of (shut), "progress"));
  /* An extension key of nova-lxc's where Nova's schema allows none is
   * never in the body (privileged is in the flavor's extra specs). */
  g_assert_false (json_object_has_member (server_of (show),
                                          "nova_lxc:privileged"));
}

static void
test_bodies (Fixture *f,
             gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *active = nlx_test_create (f->session, "nlxtest-active",
                                             "test-image", NULL);
  g_autofree char *stopped = nlx_test_create (f->session, "nlxtest-stopped",
                                              "test-image", NULL);
  g_autofree char *active_path = g_strconcat ("/v2.1/servers/", active, NULL);
  g_autofree char *ips_path = g_strconcat (active_path, "/ips", NULL);
  g_autofree char *text = NULL;
  g_autoptr(JsonNode) reply = NULL;
  JsonObject *server, *address;
  JsonArray *network;
  GList *networks;

  nlx_test_wait_for_status (f->session, active, "ACTIVE");
  nlx_test_wait_for_status (f->session, stopped, "ACTIVE");
  nlx_test_act_and_wait (f->session, stopped, "{\"os-stop\": null}", NULL,
                         "SHUTOFF");

  for (guint i = 0; schema_versions[i] != NULL; i++)
    check_bodies_at (f, schema_versions[i], active, stopped);

  /* 2.1: the show's addresses have type and MAC; /ips and the update
   * answer only version and addr; no field of a later version. */
  g_assert_cmpint (call_at (f, "2.1", "GET", active_path, NULL, &reply), ==,
                   200);
  server = server_of (reply);
  networks = json_object_get_members (json_object_get_object_member (server,
                                                                     "addresses"));
  g_assert_nonnull (networks);
  network = json_object_get_array_member (json_object_get_object_member (server,
                                                                         "addresses"),
                                          networks->data);
  address = json_array_get_object_element (network, 0);
  g_assert_cmpstr (json_object_get_string_member (address, "OS-EXT-IPS:type"),
                   ==, "fixed");
  g_assert_true (json_object_has_member (address, "OS-EXT-IPS-MAC:mac_addr"));
  g_list_free (networks);
  for (const char * const *later = (const char * const[]) {
         "locked", "description", "tags", "host_status",
         "OS-EXT-SRV-ATTR:hostname", "trusted_image_certificates",
         "server_groups", "locked_reason", "pinned_availability_zone", NULL
       }; *later != NULL; later++)
    g_assert_false (json_object_has_member (server, *later));
  g_assert_true (json_object_has_member (server, "OS-EXT-SRV-ATTR:host"));
  g_assert_true (json_object_has_member (
                   json_object_get_object_member (server, "flavor"), "id"));
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (call_at (f, "2.1", "GET", ips_path, NULL, &reply), ==, 200);
  text = json_to_string (reply, FALSE);
  g_assert_null (strstr (text, "OS-EXT-IPS"));
  g_clear_pointer (&text, g_free);
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (call_at (f, "2.1", "PUT", active_path,
                            "{\"server\": {\"name\": \"nlxtest-active\"}}",
                            &reply), ==, 200);
  g_assert_false (json_object_has_member (server_of (reply),
                                          "OS-EXT-STS:vm_state"));
  text = json_to_string (reply, FALSE);
  g_assert_null (strstr (text, "OS-EXT-IPS"));
  g_clear_pointer (&text, g_free);
  g_clear_pointer (&reply, json_node_unref);

  /* 2.3: the extended attributes (the socket's caller is an admin). */
  g_assert_cmpint (call_at (f, "2.3", "GET", active_path, NULL, &reply), ==,
                   200);
  g_assert_cmpstr (json_object_get_string_member (server_of (reply),
                                                  "OS-EXT-SRV-ATTR:hostname"),
                   ==, "nlxtest-active");
  g_assert_cmpint (json_object_get_int_member (server_of (reply),
                                               "OS-EXT-SRV-ATTR:launch_index"),
                   ==, 0);
  g_clear_pointer (&reply, json_node_unref);

  /* 2.47: the flavor itself; 2.71: server groups in show, not detail;
   * 2.75: the update answers the whole server; 2.96: the pinned zone. */
  g_assert_cmpint (call_at (f, "2.96", "GET", active_path, NULL, &reply), ==,
                   200);
  server = server_of (reply);
  g_assert_cmpstr (json_object_get_string_member (
                     json_object_get_object_member (server, "flavor"),
                     "original_name"), ==, "m1.tiny");
  g_assert_false (json_object_get_boolean_member (server, "locked"));
  g_assert_true (json_object_get_null_member (server, "locked_reason"));
  g_assert_true (json_object_get_null_member (server,
                                              "pinned_availability_zone"));
  g_assert_cmpuint (json_array_get_length (
                      json_object_get_array_member (server, "server_groups")),
                    ==, 0);
  g_assert_cmpstr (json_object_get_string_member (server, "host_status"), ==,
                   "UP");
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (call_at (f, "2.96", "GET", "/v2.1/servers/detail", NULL,
                            &reply), ==, 200);
  g_assert_false (json_object_has_member (
                    json_array_get_object_element (
                      json_object_get_array_member (json_node_get_object (reply),
                                                    "servers"), 0),
                    "server_groups"));
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (call_at (f, "2.74", "PUT", active_path,
                            "{\"server\": {\"name\": \"nlxtest-active\"}}",
                            &reply), ==, 200);
  g_assert_false (json_object_has_member (server_of (reply),
                                          "OS-EXT-STS:vm_state"));
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (call_at (f, "2.75", "PUT", active_path,
                            "{\"server\": {\"name\": \"nlxtest-active\"}}",
                            &reply), ==, 200);
  g_assert_cmpstr (json_object_get_string_member (server_of (reply),
                                                  "OS-EXT-STS:vm_state"), ==,
                   "active");

  nlx_test_delete_and_wait (f->session, active);
  nlx_test_delete_and_wait (f->session, stopped);
}

static const char *
access_ip (JsonNode *reply,
           const char *key)
{
  return json_object_get_string_member (server_of (reply), key);
}

/* accessIPv4 and accessIPv6, as Nova: taken at create, update and
 * rebuild, shown in every view ("" when unset), kept across a restart;
 * what is not an address of its family is 400 and changes nothing. An
 * update with nothing in it answers the server. */
static void
test_access_ips (Fixture *f,
                 gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *id = nlx_test_create (f->session, "nlxtest-access",
                                         "test-image",
                                         ", \"accessIPv4\": \"192.0.2.7\", "
                                         "\"accessIPv6\": \"2001:db8::7\"");
  g_autofree char *plain = nlx_test_create (f->session, "nlxtest-plain",
                                            "test-image", NULL);
  g_autofree char *path = g_strconcat ("/v2.1/servers/", id, NULL);
  g_autofree char *plain_path = g_strconcat ("/v2.1/servers/", plain, NULL);
  g_autofree char *action = g_strconcat (path, "/action", NULL);
  g_autoptr(JsonNode) reply = NULL;
  static const char * const bad[] = {
    "{\"server\": {\"accessIPv4\": \"2001:db8::1\"}}",
    "{\"server\": {\"accessIPv4\": \"192.0.2.300\"}}",
    "{\"server\": {\"accessIPv4\": \"\"}}",
    "{\"server\": {\"accessIPv6\": \"192.0.2.1\"}}",
    "{\"server\": {\"accessIPv6\": 6}}",
    NULL
  };

  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  nlx_test_wait_for_status (f->session, plain, "ACTIVE");
  g_assert_cmpint (call_at (f, "2.1", "GET", path, NULL, &reply), ==, 200);
  assert_schema ("2.1", "get_server", reply);
  g_assert_cmpstr (access_ip (reply, "accessIPv4"), ==, "192.0.2.7");
  g_assert_cmpstr (access_ip (reply, "accessIPv6"), ==, "2001:db8::7");
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (call_at (f, "2.1", "GET", plain_path, NULL, &reply), ==,
                   200);
  g_assert_cmpstr (access_ip (reply, "accessIPv4"), ==, "");
  g_assert_cmpstr (access_ip (reply, "accessIPv6"), ==, "");
  g_clear_pointer (&reply, json_node_unref);

  /* Create refuses what is not an address, as Nova's schema. */
  g_assert_cmpint (call_at (f, "2.1", "POST", "/v2.1/servers",
                            CREATE_BODY (", \"accessIPv4\": \"nowhere\""),
                            &reply), ==, 400);
  g_clear_pointer (&reply, json_node_unref);

  /* Update: each one changed alone; bad ones change nothing. */
  g_assert_cmpint (call_at (f, "2.1", "PUT", path,
                            "{\"server\": {\"accessIPv4\": \"198.51.100.1\"}}",
                            &reply), ==, 200);
  assert_schema ("2.1", "update_server", reply);
  g_assert_cmpstr (access_ip (reply, "accessIPv4"), ==, "198.51.100.1");
  g_assert_cmpstr (access_ip (reply, "accessIPv6"), ==, "2001:db8::7");
  g_clear_pointer (&reply, json_node_unref);
  for (guint i = 0; bad[i] != NULL; i++)
    {
      g_assert_cmpint (call_at (f, "2.1", "PUT", path, bad[i], &reply), ==,
                       400);
      g_clear_pointer (&reply, json_node_unref);
    }

  /* Nothing to change: 200 with the server, as Nova. */
  g_assert_cmpint (call_at (f, "2.1", "PUT", path, "{\"server\": {}}",
                            &reply), ==, 200);
  assert_schema ("2.1", "update_server", reply);
  g_assert_cmpstr (json_object_get_string_member (server_of (reply), "name"),
                   ==, "nlxtest-access");
  g_assert_cmpstr (access_ip (reply, "accessIPv4"), ==, "198.51.100.1");
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (call_at (f, "2.96", "PUT", path, "{\"server\": {}}",
                            &reply), ==, 200);
  assert_schema ("2.96", "update_server", reply);
  g_clear_pointer (&reply, json_node_unref);

  /* Kept and shown in canonical form, as Nova (tempest's
   * test_verify_server_details). */
  g_assert_cmpint (call_at (f, "2.1", "PUT", path,
                            "{\"server\": {\"accessIPv6\": "
                            "\"0000:0000:0000:0000:0000:babe:220.12.22.2\"}}",
                            &reply), ==, 200);
  g_assert_cmpstr (access_ip (reply, "accessIPv6"), ==, "::babe:dc0c:1602");
  g_clear_pointer (&reply, json_node_unref);

  /* Rebuild: given, they replace the server's; left out, they stay. */
  g_assert_cmpint (call_at (f, "2.1", "POST", action,
                            "{\"rebuild\": {\"imageRef\": \"test-image\", "
                            "\"accessIPv6\": \"2001:db8::8\"}}", &reply), ==,
                   202);
  g_assert_cmpstr (access_ip (reply, "accessIPv4"), ==, "198.51.100.1");
  g_assert_cmpstr (access_ip (reply, "accessIPv6"), ==, "2001:db8::8");
  g_clear_pointer (&reply, json_node_unref);
  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  g_assert_cmpint (call_at (f, "2.1", "POST", action,
                            "{\"rebuild\": {\"imageRef\": \"test-image\", "
                            "\"accessIPv4\": \"::1\"}}", &reply), ==, 400);
  g_clear_pointer (&reply, json_node_unref);

  /* Kept on disk: a restarted daemon shows them. */
  nlx_test_daemon_stop (&f->daemon);
  nlx_test_daemon_start (&f->daemon, f->config_text);
  g_assert_no_error (f->daemon.start_error);
  g_assert_cmpint (call_at (f, "2.1", "GET", path, NULL, &reply), ==, 200);
  g_assert_cmpstr (access_ip (reply, "accessIPv4"), ==, "198.51.100.1");
  g_assert_cmpstr (access_ip (reply, "accessIPv6"), ==, "2001:db8::8");

  nlx_test_delete_and_wait (f->session, id);
  nlx_test_delete_and_wait (f->session, plain);
}

static const char *
description_at (Fixture *f,
                const char *version,
                const char *path,
                JsonNode **reply)
{
  g_clear_pointer (reply, json_node_unref);
  g_assert_cmpint (call_at (f, version, "GET", path, NULL, reply), ==, 200);
  return json_object_get_string_member (server_of (*reply), "description");
}

static void
test_description (Fixture *f,
                  gconstpointer data G_GNUC_UNUSED)
{
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(JsonNode) shown = NULL;
  g_autofree char *id = NULL;
  g_autofree char *path = NULL;
  g_autofree char *action = NULL;
  g_autofree char *too_long = NULL;
  g_autofree char *body = NULL;
  g_autofree char *longest = g_strnfill (255, 'd');

  /* Before 2.19 "description" is unknown to create and update. */
  nlx_test_expect_fault (f->session, "POST", "/v2.1/servers",
                         CREATE_BODY (", \"description\": \"d\""), 400,
                         "badRequest");
  g_assert_cmpint (call_at (f, "2.19", "POST", "/v2.1/servers",
                            "{\"server\": {\"name\": \"nlxtest-described\", "
                            "\"flavorRef\": \"m1.tiny\", \"imageRef\": "
                            "\"test-image\", \"description\": \"first\"}}",
                            &reply), ==, 202);
  id = g_strdup (json_object_get_string_member (server_of (reply), "id"));
  path = g_strconcat ("/v2.1/servers/", id, NULL);
  action = g_strconcat (path, "/action", NULL);
  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  g_assert_cmpstr (description_at (f, "2.19", path, &shown), ==, "first");

  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (call_at (f, "2.19", "PUT", path,
                            "{\"server\": {\"description\": \"second\"}}",
                            &reply), ==, 200);
  g_assert_cmpstr (json_object_get_string_member (server_of (reply),
                                                  "description"), ==, "second");
  assert_schema ("2.19", "update_server", reply);
  /* The name stays when only the description changes. */
  g_assert_cmpstr (json_object_get_string_member (server_of (reply), "name"),
                   ==, "nlxtest-described");

  /* Bad input changes nothing. */
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (call_at (f, "2.18", "PUT", path,
                            "{\"server\": {\"description\": \"x\"}}", &reply),
                   ==, 400);
  too_long = g_strnfill (256, 'd');
  body = g_strdup_printf ("{\"server\": {\"description\": \"%s\"}}", too_long);
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (call_at (f, "2.19", "PUT", path, body, &reply), ==, 400);
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (call_at (f, "2.19", "PUT", path,
                            "{\"server\": {\"description\": 5}}", &reply), ==,
                   400);
  g_assert_cmpstr (description_at (f, "2.19", path, &shown), ==, "second");

  g_free (body);
  body = g_strdup_printf ("{\"server\": {\"description\": \"%s\"}}", longest);
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (call_at (f, "2.19", "PUT", path, body, &reply), ==, 200);
  g_assert_cmpstr (description_at (f, "2.19", path, &shown), ==, longest);
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (call_at (f, "2.19", "PUT", path,
                            "{\"server\": {\"description\": \"\"}}", &reply),
                   ==, 200);
  g_assert_cmpstr (description_at (f, "2.19", path, &shown), ==, "");
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (call_at (f, "2.19", "PUT", path,
                            "{\"server\": {\"description\": null}}", &reply),
                   ==, 200);
  g_assert_null (description_at (f, "2.19", path, &shown));
  g_assert_true (json_object_get_null_member (server_of (shown),
                                              "description"));

  /* Rebuild takes one too; a rebuild without keeps it. */
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (call_at (f, "2.19", "POST", action,
                            "{\"rebuild\": {\"imageRef\": \"test-image\", "
                            "\"description\": \"rebuilt\"}}", &reply), ==, 202);
  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  g_assert_cmpstr (description_at (f, "2.19", path, &shown), ==, "rebuilt");
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (call_at (f, "2.18", "POST", action,
                            "{\"rebuild\": {\"imageRef\": \"test-image\", "
                            "\"description\": \"x\"}}", &reply), ==, 400);
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (call_at (f, "2.19", "POST", action,
                            "{\"rebuild\": {\"imageRef\": \"test-image\"}}",
                            &reply), ==, 202);
  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  g_assert_cmpstr (description_at (f, "2.19", path, &shown), ==, "rebuilt");

  /* 2.90: the update takes a host name too. */
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (call_at (f, "2.89", "PUT", path,
                            "{\"server\": {\"hostname\": \"other\"}}", &reply),
                   ==, 400);
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (call_at (f, "2.90", "PUT", path,
                            "{\"server\": {\"hostname\": \"-bad\"}}", &reply),
                   ==, 400);
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (call_at (f, "2.90", "PUT", path,
                            "{\"server\": {\"hostname\": \"Other-Host\"}}",
                            &reply), ==, 200);
  g_assert_cmpstr (json_object_get_string_member (server_of (reply),
                                                  "OS-EXT-SRV-ATTR:hostname"),
                   ==, "other-host");
  assert_schema ("2.90", "update_server", reply);

  /* It is kept with the server's record, across a restart. */
  nlx_test_daemon_stop (&f->daemon);
  nlx_test_daemon_start (&f->daemon, f->config_text);
  g_assert_cmpstr (description_at (f, "2.19", path, &shown), ==, "rebuilt");
  g_clear_pointer (&shown, json_node_unref);
  g_assert_cmpint (call_at (f, "2.90", "GET", path, NULL, &shown), ==, 200);
  g_assert_cmpstr (json_object_get_string_member (server_of (shown),
                                                  "OS-EXT-SRV-ATTR:hostname"),
                   ==, "other-host");
  nlx_test_delete_and_wait (f->session, id);
}

/* The server's tags as "a,b", at 2.26 from GET .../tags. */
static char *
tags_of (Fixture *f,
         const char *path)
{
  g_autofree char *tags_path = g_strconcat (path, "/tags", NULL);
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(GString) text = g_string_new (NULL);
  JsonArray *tags;

  g_assert_cmpint (call_at (f, "2.26", "GET", tags_path, NULL, &reply), ==,
                   200);
  assert_schema ("2.26", "list_tags", reply);
  tags = json_object_get_array_member (json_node_get_object (reply), "tags");
  for (guint i = 0; i < json_array_get_length (tags); i++)
    g_string_append_printf (text, "%s%s", i ? "," : "",
                            json_array_get_string_element (tags, i));
  return g_string_free (g_steal_pointer (&text), FALSE);
}

/* The names of the servers GET /servers?@query lists at 2.26, sorted,
 * as "a,b". */
static char *
listed (Fixture *f,
        const char *query)
{
  g_autofree char *path = g_strconcat ("/v2.1/servers?", query, NULL);
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  JsonArray *servers;

  g_assert_cmpint (call_at (f, "2.26", "GET", path, NULL, &reply), ==, 200);
  servers = json_object_get_array_member (json_node_get_object (reply),
                                          "servers");
  for (guint i = 0; i < json_array_get_length (servers); i++)
    g_ptr_array_add (names, (gpointer) json_object_get_string_member (
                       json_array_get_object_element (servers, i), "name"));
  g_ptr_array_sort (names, nlx_test_compare_strings);
  g_ptr_array_add (names, NULL);
  return g_strjoinv (",", (char **) names->pdata);
}

static void
test_tags (Fixture *f,
           gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *a = nlx_test_create (f->session, "nlxtest-a", "test-image",
                                        NULL);
  g_autofree char *a_path = g_strconcat ("/v2.1/servers/", a, NULL);
  g_autofree char *tags_path = g_strconcat (a_path, "/tags", NULL);
  g_autofree char *tag_x = g_strconcat (tags_path, "/x", NULL);
  g_autofree char *b = NULL;
  g_autofree char *b_path = NULL;
  g_autofree char *text = NULL;
  g_autofree char *tag_60 = g_strnfill (60, 't');
  g_autofree char *tag_61 = g_strnfill (61, 't');
  g_autofree char *path = NULL;
  g_autoptr(GString) fifty = g_string_new ("{\"tags\": [");
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(SoupMessageHeaders) headers = NULL;
  JsonArray *tags;

  nlx_test_wait_for_status (f->session, a, "ACTIVE");
  /* The path is 2.26's. */
  g_assert_cmpint (call_at (f, "2.25", "GET", tags_path, NULL, &reply), ==,
                   404);

  /* One tag: 201 when added, 204 when there; Location in both. */
  g_assert_cmpint (nlx_test_call_full (f->session, "http://localhost", "PUT",
                                       tag_x, NULL, "OpenStack-API-Version",
                                       "compute 2.26", NULL, &headers), ==, 201);
  g_assert_true (g_str_has_suffix (soup_message_headers_get_one (headers,
                                                                 "Location"),
                                   "/tags/x"));
  g_clear_pointer (&headers, soup_message_headers_unref);
  g_assert_cmpint (nlx_test_call_full (f->session, "http://localhost", "PUT",
                                       tag_x, NULL, "OpenStack-API-Version",
                                       "compute 2.26", NULL, &headers), ==, 204);
  g_assert_nonnull (soup_message_headers_get_one (headers, "Location"));
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (call_at (f, "2.26", "GET", tag_x, NULL, &reply), ==, 204);
  path = g_strconcat (tags_path, "/zz", NULL);
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (call_at (f, "2.26", "GET", path, NULL, &reply), ==, 404);
  text = tags_of (f, a_path);
  g_assert_cmpstr (text, ==, "x");

  /* Replace them all; the server shows them from 2.26. */
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (call_at (f, "2.26", "PUT", tags_path,
                            "{\"tags\": [\"x\", \"y\", \"y\"]}", &reply), ==,
                   200);
  assert_schema ("2.26", "update_all_tags", reply);
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (call_at (f, "2.26", "GET", a_path, NULL, &reply), ==, 200);
  tags = json_object_get_array_member (server_of (reply), "tags");
  g_assert_cmpuint (json_array_get_length (tags), ==, 2);
  assert_schema ("2.26", "get_server", reply);

  /* Bad tags: 400, and nothing changes. */
  g_free (path);
  path = g_strconcat (tags_path, "/a,b", NULL);
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (call_at (f, "2.26", "PUT", path, NULL, &reply), ==, 400);
  g_free (path);
  path = g_strconcat (tags_path, "/", tag_61, NULL);
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (call_at (f, "2.26", "PUT", path, NULL, &reply), ==, 400);
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (call_at (f, "2.26", "PUT", tags_path,
                            "{\"tags\": [\"ok\", \"no/slash\"]}", &reply), ==,
                   400);
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (call_at (f, "2.26", "PUT", tags_path, "{\"tags\": \"x\"}",
                            &reply), ==, 400);
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (call_at (f, "2.26", "PUT", tags_path, "{\"other\": []}",
                            &reply), ==, 400);
  for (guint i = 0; i < 51; i++)
    g_string_append_printf (fifty, "%s\"t%u\"", i ? ", " : "", i);
  g_string_append (fifty, "]}");
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (call_at (f, "2.26", "PUT", tags_path, fifty->str, &reply),
                   ==, 400);
  g_free (text);
  text = tags_of (f, a_path);
  g_assert_cmpstr (text, ==, "x,y");

  /* Fifty is Nova's most: the 51st is 400. */
  g_string_truncate (fifty, fifty->len - strlen (", \"t50\"]}"));
  g_string_append (fifty, "]}");
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (call_at (f, "2.26", "PUT", tags_path, fifty->str, &reply),
                   ==, 200);
  g_free (path);
  path = g_strconcat (tags_path, "/", tag_60, NULL);
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (call_at (f, "2.26", "PUT", path, NULL, &reply), ==, 400);
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (call_at (f, "2.26", "DELETE", tags_path, NULL, &reply), ==,
                   204);
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (call_at (f, "2.26", "PUT", path, NULL, &reply), ==, 201);
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (call_at (f, "2.26", "DELETE", path, NULL, &reply), ==, 204);
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (call_at (f, "2.26", "DELETE", path, NULL, &reply), ==, 404);
  g_free (text);
  text = tags_of (f, a_path);
  g_assert_cmpstr (text, ==, "");

  /* Tags at create: 2.52's. */
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (call_at (f, "2.51", "POST", "/v2.1/servers",
                            "{\"server\": {\"name\": \"nlxtest-b\", "
                            "\"flavorRef\": \"m1.tiny\", \"imageRef\": "
                            "\"test-image\", \"networks\": [], "
                            "\"tags\": [\"x\"]}}", &reply), ==, 400);
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (call_at (f, "2.52", "POST", "/v2.1/servers",
                            "{\"server\": {\"name\": \"nlxtest-b\", "
                            "\"flavorRef\": \"m1.tiny\", \"imageRef\": "
                            "\"test-image\", \"networks\": [], "
                            "\"tags\": [\"x\", \"y\"]}}", &reply), ==, 202);
  b = g_strdup (json_object_get_string_member (server_of (reply), "id"));
  b_path = g_strconcat ("/v2.1/servers/", b, NULL);
  nlx_test_wait_for_status (f->session, b, "ACTIVE");
  g_free (text);
  text = tags_of (f, b_path);
  g_assert_cmpstr (text, ==, "x,y");
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (call_at (f, "2.26", "PUT", tag_x, NULL, &reply), ==, 201);

  /* The list's tag filters: a has x; b has x and y. */
  g_free (text);
  text = listed (f, "tags=x,y");
  g_assert_cmpstr (text, ==, "nlxtest-b");
  g_free (text);
  text = listed (f, "tags-any=y,z");
  g_assert_cmpstr (text, ==, "nlxtest-b");
  g_free (text);
  text = listed (f, "not-tags=x,y");
  g_assert_cmpstr (text, ==, "nlxtest-a");
  g_free (text);
  text = listed (f, "not-tags-any=y");
  g_assert_cmpstr (text, ==, "nlxtest-a");
  g_free (text);
  text = listed (f, "tags=x");
  g_assert_cmpstr (text, ==, "nlxtest-a,nlxtest-b");

  /* Kept with the server's record, across a restart. */
  nlx_test_daemon_stop (&f->daemon);
  nlx_test_daemon_start (&f->daemon, f->config_text);
  g_free (text);
  text = tags_of (f, b_path);
  g_assert_cmpstr (text, ==, "x,y");
  g_free (text);
  text = tags_of (f, a_path);
  g_assert_cmpstr (text, ==, "x");

  nlx_test_delete_and_wait (f->session, a);
  nlx_test_delete_and_wait (f->session, b);
}

static guint
list_status (Fixture *f,
             const char *version,
             const char *query,
             guint *count)
{
  g_autofree char *path = g_strconcat ("/v2.1/servers/detail?", query, NULL);
  g_autoptr(JsonNode) reply = NULL;
  guint status = call_at (f, version, "GET", path, NULL, &reply);

  if (status == 200)
    *count = json_array_get_length (
      json_object_get_array_member (json_node_get_object (reply), "servers"));
  return status;
}

static void
test_list_query (Fixture *f,
                 gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *id = nlx_test_create (f->session, "nlxtest-listed",
                                         "test-image", NULL);
  guint count = 0;

  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  /* 2.38: a status Nova does not know is 400; before, it matches none. */
  g_assert_cmpint (list_status (f, "2.37", "status=BOGUS", &count), ==, 200);
  g_assert_cmpuint (count, ==, 0);
  g_assert_cmpint (list_status (f, "2.38", "status=BOGUS", &count), ==, 400);
  g_assert_cmpint (list_status (f, "2.38", "status=active", &count), ==, 200);
  g_assert_cmpuint (count, ==, 1);

  /* 2.75: an unknown parameter is 400; before, ignored. */
  g_assert_cmpint (list_status (f, "2.74", "bogus=1", &count), ==, 200);
  g_assert_cmpuint (count, ==, 1);
  g_assert_cmpint (list_status (f, "2.75", "bogus=1", &count), ==, 400);
  g_assert_cmpint (list_status (f, "2.75", "sort_key=display_name", &count),
                   ==, 200);
  /* 2.25 does not know the tag filters: ignored. */
  g_assert_cmpint (list_status (f, "2.25", "tags=nope", &count), ==, 200);
  g_assert_cmpuint (count, ==, 1);
  /* Joined tables' filters are 400 at every version. */
  g_assert_cmpint (list_status (f, "2.1", "metadata=x", &count), ==, 400);
  g_assert_cmpint (list_status (f, "2.1", "_private=x", &count), ==, 400);

  /* 2.66: changes-before (updated at or before). */
  g_assert_cmpint (list_status (f, "2.66",
                                "changes-before=2000-01-01T00:00:00Z",
                                &count), ==, 200);
  g_assert_cmpuint (count, ==, 0);
  g_assert_cmpint (list_status (f, "2.66",
                                "changes-before=9000-01-01T00:00:00Z",
                                &count), ==, 200);
  g_assert_cmpuint (count, ==, 1);
  g_assert_cmpint (list_status (f, "2.65",
                                "changes-before=2000-01-01T00:00:00Z",
                                &count), ==, 200);
  g_assert_cmpuint (count, ==, 1);
  g_assert_cmpint (list_status (f, "2.66", "changes-before=yesterday",
                                &count), ==, 400);
  g_assert_cmpint (list_status (f, "2.66",
                                "changes-since=2001-01-01T00:00:00Z&"
                                "changes-before=2000-01-01T00:00:00Z",
                                &count), ==, 400);
  nlx_test_delete_and_wait (f->session, id);
}

/* The versions where the list's server body changes, for the list
 * test: each keeps its own view of a server (nlx-api-server-list.c). */
static const char * const list_versions[] = {
  "2.1", "2.3", "2.9", "2.16", "2.19", "2.26", "2.47", "2.73", "2.90",
  "2.96", NULL
};

/* @id's entry in GET @path's "servers" at @version, from @base. */
static JsonNode *
listed_server (Fixture *f,
               const char *base,
               const char *version,
               const char *path,
               const char *id)
{
  g_autofree char *value = g_strconcat ("compute ", version, NULL);
  g_autoptr(JsonNode) reply = NULL;
  JsonArray *servers;

  g_assert_cmpint (nlx_test_call_full (f->session, base, "GET", path, NULL,
                                       "OpenStack-API-Version", value, &reply,
                                       NULL), ==, 200);
  servers = json_object_get_array_member (json_node_get_object (reply),
                                          "servers");
  for (guint i = 0; i < json_array_get_length (servers); i++)
    {
      JsonObject *server = json_array_get_object_element (servers, i);

      if (g_str_equal (json_object_get_string_member (server, "id"), id))
        return json_node_copy (json_array_get_element (servers, i));
    }
  g_error ("%s at %s does not list %s", path, version, id);
}

/* @id's list detail entry at @version from @base equals its show but
 * server_groups (which Nova's list leaves out). */
static void
assert_listed_as_shown (Fixture *f,
                        const char *base,
                        const char *version,
                        const char *id)
{
  g_autofree char *path = g_strconcat ("/v2.1/servers/", id, NULL);
  g_autofree char *value = g_strconcat ("compute ", version, NULL);
  g_autoptr(JsonNode) show = NULL;
  g_autoptr(JsonNode) detail = NULL;
  g_autoptr(JsonNode) brief = NULL;
  JsonObject *server;

  g_assert_cmpint (nlx_test_call_full (f->session, base, "GET", path, NULL,
                                       "OpenStack-API-Version", value, &show,
                                       NULL), ==, 200);
  server = server_of (show);
  json_object_remove_member (server, "server_groups");
  detail = listed_server (f, base, version, "/v2.1/servers/detail", id);
  if (!json_node_equal (json_object_get_member (json_node_get_object (show),
                                                "server"), detail))
    {
      g_autofree char *shown = json_to_string (
        json_object_get_member (json_node_get_object (show), "server"), FALSE);
      g_autofree char *listed_text = json_to_string (detail, FALSE);

      g_error ("At %s from %s, the detail list shows\n%s\nand show\n%s",
               version, base, listed_text, shown);
    }
  brief = listed_server (f, base, version, "/v2.1/servers", id);
  g_assert_cmpstr (json_object_get_string_member (
                     json_node_get_object (brief), "name"), ==,
                   json_object_get_string_member (server, "name"));
  g_assert_true (json_node_equal (
    json_object_get_member (json_node_get_object (brief), "links"),
    json_object_get_member (server, "links")));
}

/* Lists the detail at @kept's two versions, whose views the list then
 * keeps (three a server), so that the next assert_lists_as_shown() finds
 * them kept from before a change. */
static void
keep_views (Fixture *f,
            const char *id,
            const char * const kept[2])
{
  for (guint k = 0; k < 2; k++)
    json_node_unref (listed_server (f, "http://localhost", kept[k],
                                    "/v2.1/servers/detail", id));
}

/* Lists show each server as show does, right after any change: first
 * at the versions of @kept (the views kept from before the change, which
 * must not be shown again), then at every version and from two base
 * URLs, twice (the second from what the first kept). */
static void
assert_lists_as_shown (Fixture *f,
                       const char *id,
                       const char * const kept[2])
{
  static const char * const bases[] = {
    "http://localhost", "http://api.nlxtest.invalid:8774", NULL
  };

  for (guint k = 0; k < 2; k++)
    assert_listed_as_shown (f, "http://localhost", kept[k], id);
  /* Each base right after the other: the second must not get the
   * first's links. */
  for (guint round = 0; round < 2; round++)
    for (guint v = 0; list_versions[v] != NULL; v++)
      for (guint b = 0; bases[b] != NULL; b++)
        assert_listed_as_shown (f, bases[b], list_versions[v], id);
}

static void
test_list_after_changes (Fixture *f,
                         gconstpointer data G_GNUC_UNUSED)
{
  /* Per change, the two versions whose views are kept across it. */
  static const char * const kept[][2] = {
    { "2.1", "2.96" }, { "2.3", "2.73" }, { "2.26", "2.47" },
    { "2.73", "2.90" }, { "2.19", "2.96" }, { "2.1", "2.9" },
  };
  g_autofree char *id = nlx_test_create (f->session, "nlxtest-list",
                                         "test-image", NULL);
  g_autofree char *other = nlx_test_create (f->session, "nlxtest-other",
                                            "test-image", NULL);
  g_autofree char *path = g_strconcat ("/v2.1/servers/", id, NULL);
  g_autofree char *metadata_path = g_strconcat (path, "/metadata", NULL);
  g_autofree char *tag_path = g_strconcat (path, "/tags/nlxtest-tag", NULL);
  g_autofree char *action_path = g_strconcat (path, "/action", NULL);
  g_autoptr(JsonNode) reply = NULL;

  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  nlx_test_wait_for_status (f->session, other, "ACTIVE");
  assert_lists_as_shown (f, id, kept[0]);

  keep_views (f, id, kept[0]);
  g_assert_cmpint (call_at (f, "2.1", "PUT", path,
                            "{\"server\": {\"name\": \"nlxtest-renamed\"}}",
                            NULL), ==, 200);
  assert_lists_as_shown (f, id, kept[0]);
  keep_views (f, id, kept[1]);
  g_assert_cmpint (call_at (f, "2.1", "PUT", metadata_path,
                            "{\"metadata\": {\"nlxtest\": \"one\"}}", NULL),
                   ==, 200);
  assert_lists_as_shown (f, id, kept[1]);
  keep_views (f, id, kept[2]);
  g_assert_cmpint (call_at (f, "2.26", "PUT", tag_path, NULL, NULL), ==, 201);
  assert_lists_as_shown (f, id, kept[2]);
  keep_views (f, id, kept[3]);
  g_assert_cmpint (call_at (f, "2.73", "POST", action_path,
                            "{\"lock\": {\"locked_reason\": \"nlxtest\"}}",
                            NULL), ==, 202);
  assert_lists_as_shown (f, id, kept[3]);
  keep_views (f, id, kept[4]);
  g_assert_cmpint (call_at (f, "2.19", "PUT", path,
                            "{\"server\": {\"description\": \"nlxtest\"}}",
                            NULL), ==, 200);
  assert_lists_as_shown (f, id, kept[4]);
  g_assert_cmpint (call_at (f, "2.1", "POST", action_path,
                            "{\"unlock\": null}", NULL), ==, 202);
  keep_views (f, id, kept[5]);
  nlx_test_act_and_wait (f->session, id, "{\"os-stop\": null}", NULL,
                         "SHUTOFF");
  assert_lists_as_shown (f, id, kept[5]);
  /* The other server's views were kept all along and are still right. */
  assert_lists_as_shown (f, other, kept[0]);
  nlx_test_delete_and_wait (f->session, id);
  nlx_test_delete_and_wait (f->session, other);
  g_assert_cmpint (call_at (f, "2.1", "GET", "/v2.1/servers/detail", NULL,
                            &reply), ==, 200);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (
                      json_node_get_object (reply), "servers")), ==, 0);
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_summary ("The Compute API on the fake driver: the server body at "
                  "each microversion against tempest's schemas, server "
                  "description and tags, and the list query by version.");
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR);
  g_test_add ("/nlx/api/mv-servers/bodies", Fixture, NULL, fixture_set_up,
              test_bodies, fixture_tear_down);
  g_test_add ("/nlx/api/mv-servers/access-ips", Fixture, NULL,
              fixture_set_up, test_access_ips, fixture_tear_down);
  g_test_add ("/nlx/api/mv-servers/description", Fixture, NULL,
              fixture_set_up, test_description, fixture_tear_down);
  g_test_add ("/nlx/api/mv-servers/tags", Fixture, NULL, fixture_set_up,
              test_tags, fixture_tear_down);
  g_test_add ("/nlx/api/mv-servers/list-query", Fixture, NULL,
              fixture_set_up, test_list_query, fixture_tear_down);
  g_test_add ("/nlx/api/mv-servers/list-after-changes", Fixture, NULL,
              fixture_set_up, test_list_after_changes, fixture_tear_down);
  return g_test_run ();
}
