/* test-api-microversions-resources.c: the Compute API on the fake driver,
 * over HTTP: every resource but servers, as Nova shapes it at each
 * microversion from 2.1 to 2.96: key pairs, flavors, limits, hypervisors,
 * services, aggregates, availability zones, volumes, volume attachments
 * and the image proxy.  Bodies are checked field by field here, and
 * against tempest's own response schemas (Debian's python3-tempest, as
 * its service clients pick them per version) when it is installed. */
#include "config.h"

#include <string.h>

#include "lib/nlx-api-fixture.h"
#include "lib/nlx-test-client.h"
#include "lib/nlx-test-tools.h"

#define KEY_ED25519 \
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEOhR3s2cPaL1vcn6LMdlHkjYQk/O4Zpd6TzNR0Sj0w/ alice@example"

/* A flavor with extra specs, to see them in the body from 2.61. */
#define CONFIG \
  "[flavor t.special]\nvcpus = 1\nmemory_mb = 64\nroot_gb = 0\n" \
  "privileged = true\npids = 100\n" \
  "[flavor m1.tiny]\nvcpus = 1\nmemory_mb = 64\nroot_gb = 0\n"

/* One request at one microversion (NULL: none asked, 2.1), as user
 * @user (NULL: the default identity, the admin). */
static guint
call_at (Fixture *f,
         const char *version,
         const char *user,
         const char *method,
         const char *path,
         const char *body,
         JsonNode **reply)
{
  g_autofree char *header = NULL;

  /* One header per request: the version, or the user. */
  g_assert_true (version == NULL || user == NULL);
  if (version != NULL)
    header = g_strconcat ("compute ", version, NULL);
  return nlx_test_call_full (f->session, "http://localhost", method, path,
                             body,
                             version ? "OpenStack-API-Version"
                                     : user ? "X-User-Id" : NULL,
                             version ? header : user, reply, NULL);
}

static JsonNode *
get_at (Fixture *f,
        const char *version,
        const char *path)
{
  JsonNode *reply = NULL;

  if (call_at (f, version, NULL, "GET", path, NULL, &reply) != 200)
    g_error ("GET %s at %s did not answer 200", path, version);
  return reply;
}

static void
expect_fault_at (Fixture *f,
                 const char *version,
                 const char *method,
                 const char *path,
                 const char *body,
                 guint status,
                 const char *text)
{
  g_autoptr(JsonNode) reply = NULL;
  JsonObject *fault;
  const char *message;
  GList *members;

  g_assert_cmpuint (call_at (f, version, NULL, method, path, body, &reply), ==,
                    status);
  members = json_object_get_members (json_node_get_object (reply));
  fault = json_object_get_object_member (json_node_get_object (reply),
                                         members->data);
  g_list_free (members);
  message = json_object_get_string_member (fault, "message");
  if (text != NULL && strstr (message, text) == NULL)
    g_error ("fault “%s” does not say “%s”", message, text);
}

/* ---- key pairs ---------------------------------------------------------- */

/* An import of KEY_ED25519 as NAME, with more members. */
#define IMPORT \
  "{\"keypair\": {\"name\": \"%s\", \"public_key\": \"" KEY_ED25519 "\"%s}}"

static void
test_keypairs (Fixture *f,
               gconstpointer data G_GNUC_UNUSED)
{
  g_autoptr(JsonNode) reply = NULL;
  JsonObject *keypair;
  JsonArray *list;
  g_autofree char *body = NULL;
  const char *href;

  /* 2.1: 200 without a type; a type is no field of its body yet. */
  body = g_strdup_printf (IMPORT, "k-21", "");
  g_assert_cmpuint (call_at (f, "2.1", NULL, "POST", "/v2.1/os-keypairs", body,
                             &reply), ==, 200);
  g_assert_false (json_object_has_member (nlx_test_object_at (reply, "keypair"),
                                          "type"));
  g_free (body);
  body = g_strdup_printf (IMPORT, "k-x", ", \"type\": \"ssh\"");
  expect_fault_at (f, "2.1", "POST", "/v2.1/os-keypairs", body, 400,
                   "“type” was unexpected");

  /* 2.2: 201 with the type; an OpenSSH key is no x509 certificate
   * (x509 key pairs: test-api-keypairs). */
  g_clear_pointer (&reply, json_node_unref);
  g_free (body);
  body = g_strdup_printf (IMPORT, "k-22", ", \"type\": \"ssh\"");
  g_assert_cmpuint (call_at (f, "2.2", NULL, "POST", "/v2.1/os-keypairs", body,
                             &reply), ==, 201);
  keypair = nlx_test_object_at (reply, "keypair");
  g_assert_cmpstr (json_object_get_string_member (keypair, "type"), ==, "ssh");
  g_free (body);
  body = g_strdup_printf (IMPORT, "k-x509", ", \"type\": \"x509\"");
  expect_fault_at (f, "2.2", "POST", "/v2.1/os-keypairs", body, 400,
                   "one PEM certificate");
  g_clear_pointer (&reply, json_node_unref);
  reply = get_at (f, "2.2", "/v2.1/os-keypairs/k-21");
  g_assert_cmpstr (json_object_get_string_member (nlx_test_object_at (reply, "keypair"),
                                                  "type"), ==, "ssh");
  g_clear_pointer (&reply, json_node_unref);
  reply = get_at (f, "2.2", "/v2.1/os-keypairs");
  list = json_object_get_array_member (json_node_get_object (reply), "keypairs");
  g_assert_cmpuint (json_array_get_length (list), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (
                     nlx_test_object_at (json_array_get_element (list, 0), "keypair"),
                     "type"), ==, "ssh");

  /* Names: "@" and "." only from 2.92, as Nova's. */
  g_free (body);
  body = g_strdup_printf (IMPORT, "a@b.c", "");
  expect_fault_at (f, "2.91", "POST", "/v2.1/os-keypairs", body, 400,
                   "before microversion 2.92");
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpuint (call_at (f, "2.92", NULL, "POST", "/v2.1/os-keypairs", body,
                             &reply), ==, 201);
  /* 2.92: no generated key pairs. */
  expect_fault_at (f, "2.92", "POST", "/v2.1/os-keypairs",
                   "{\"keypair\": {\"name\": \"gen\"}}", 400, "public_key");

  /* Per user: bob sees none of the admin's, and his own only. */
  g_clear_pointer (&reply, json_node_unref);
  g_free (body);
  body = g_strdup_printf (IMPORT, "k-21", "");
  g_assert_cmpuint (call_at (f, NULL, "bob", "POST", "/v2.1/os-keypairs", body,
                             &reply), ==, 200);
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpuint (call_at (f, NULL, "bob", "GET", "/v2.1/os-keypairs", NULL,
                             &reply), ==, 200);
  list = json_object_get_array_member (json_node_get_object (reply), "keypairs");
  g_assert_cmpuint (json_array_get_length (list), ==, 1);
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpuint (call_at (f, NULL, "bob", "GET", "/v2.1/os-keypairs/k-22",
                             NULL, &reply), ==, 404);

  /* 2.10: an admin names the user; before, ?user_id= is not read. */
  g_clear_pointer (&reply, json_node_unref);
  reply = get_at (f, "2.10", "/v2.1/os-keypairs?user_id=bob");
  list = json_object_get_array_member (json_node_get_object (reply), "keypairs");
  g_assert_cmpuint (json_array_get_length (list), ==, 1);
  g_clear_pointer (&reply, json_node_unref);
  reply = get_at (f, "2.9", "/v2.1/os-keypairs?user_id=bob");
  list = json_object_get_array_member (json_node_get_object (reply), "keypairs");
  g_assert_cmpuint (json_array_get_length (list), ==, 3);
  g_clear_pointer (&reply, json_node_unref);
  reply = get_at (f, "2.10", "/v2.1/os-keypairs/k-21?user_id=bob");
  g_assert_cmpstr (json_object_get_string_member (nlx_test_object_at (reply, "keypair"),
                                                  "user_id"), ==, "bob");

  /* 2.35: pages, by name, with the next page's link; 2.34 ignores it. */
  g_clear_pointer (&reply, json_node_unref);
  reply = get_at (f, "2.35", "/v2.1/os-keypairs?limit=1");
  list = json_object_get_array_member (json_node_get_object (reply), "keypairs");
  g_assert_cmpuint (json_array_get_length (list), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (
                     nlx_test_object_at (json_array_get_element (list, 0), "keypair"),
                     "name"), ==, "a@b.c");
  href = json_object_get_string_member (
    json_array_get_object_element (
      json_object_get_array_member (json_node_get_object (reply),
                                    "keypairs_links"), 0), "href");
  g_assert_nonnull (strstr (href, "/v2.1/os-keypairs?"));
  g_assert_nonnull (strstr (href, "marker=a%40b.c"));
  g_clear_pointer (&reply, json_node_unref);
  reply = get_at (f, "2.35", "/v2.1/os-keypairs?limit=5&marker=a%40b.c");
  list = json_object_get_array_member (json_node_get_object (reply), "keypairs");
  g_assert_cmpuint (json_array_get_length (list), ==, 2);
  g_assert_false (json_object_has_member (json_node_get_object (reply),
                                          "keypairs_links"));
  g_clear_pointer (&reply, json_node_unref);
  reply = get_at (f, "2.34", "/v2.1/os-keypairs?limit=1");
  list = json_object_get_array_member (json_node_get_object (reply), "keypairs");
  g_assert_cmpuint (json_array_get_length (list), ==, 3);
  expect_fault_at (f, "2.35", "GET", "/v2.1/os-keypairs?marker=none", NULL, 400,
                   "Marker none");
  expect_fault_at (f, "2.35", "GET", "/v2.1/os-keypairs?limit=-1", NULL, 400,
                   "Invalid limit");

  /* Delete: 202 at 2.1, 204 from 2.2. */
  g_assert_cmpuint (call_at (f, "2.1", NULL, "DELETE", "/v2.1/os-keypairs/k-21",
                             NULL, NULL), ==, 202);
  g_assert_cmpuint (call_at (f, "2.2", NULL, "DELETE", "/v2.1/os-keypairs/k-22",
                             NULL, NULL), ==, 204);
  g_assert_cmpuint (call_at (f, "2.96", NULL, "DELETE", "/v2.1/os-keypairs/a@b.c",
                             NULL, NULL), ==, 204);
}

/* POST /os-keypairs at every version: never a 405 (the issue saw one). */
static void
test_keypair_post_everywhere (Fixture *f,
                              gconstpointer data G_GNUC_UNUSED)
{
  for (guint minor = 1; minor <= 96; minor++)
    {
      g_autofree char *version = g_strdup_printf ("2.%u", minor);
      g_autofree char *body = g_strdup_printf (
        "{\"keypair\": {\"name\": \"k%u\", \"public_key\": \"" KEY_ED25519
        "\"}}", minor);
      g_autofree char *path = g_strdup_printf ("/v2.1/os-keypairs/k%u", minor);

      g_assert_cmpuint (call_at (f, version, NULL, "POST", "/v2.1/os-keypairs",
                                 body, NULL), ==, minor >= 2 ? 201 : 200);
      g_assert_cmpuint (call_at (f, version, NULL, "DELETE", path, NULL, NULL),
                        ==, minor >= 2 ? 204 : 202);
    }
}

/* ---- flavors and limits ------------------------------------------------- */

static void
test_flavors_and_limits (Fixture *f,
                         gconstpointer data G_GNUC_UNUSED)
{
  g_autoptr(JsonNode) reply = NULL;
  JsonObject *flavor, *absolute, *specs;

  reply = get_at (f, "2.54", "/v2.1/flavors/t.special");
  flavor = nlx_test_object_at (reply, "flavor");
  g_assert_false (json_object_has_member (flavor, "description"));
  g_clear_pointer (&reply, json_node_unref);
  reply = get_at (f, "2.55", "/v2.1/flavors");
  flavor = json_array_get_object_element (
    json_object_get_array_member (json_node_get_object (reply), "flavors"), 0);
  g_assert_true (json_object_has_member (flavor, "description"));
  g_assert_true (json_object_get_null_member (flavor, "description"));
  g_assert_false (json_object_has_member (flavor, "extra_specs"));

  g_clear_pointer (&reply, json_node_unref);
  reply = get_at (f, "2.60", "/v2.1/flavors/detail");
  flavor = json_array_get_object_element (
    json_object_get_array_member (json_node_get_object (reply), "flavors"), 0);
  g_assert_false (json_object_has_member (flavor, "extra_specs"));
  g_clear_pointer (&reply, json_node_unref);
  reply = get_at (f, "2.61", "/v2.1/flavors/t.special");
  flavor = nlx_test_object_at (reply, "flavor");
  specs = json_object_get_object_member (flavor, "extra_specs");
  g_assert_cmpstr (json_object_get_string_member (specs, "nova_lxc:privileged"),
                   ==, "true");
  g_assert_cmpstr (json_object_get_string_member (specs, "nova_lxc:pids"), ==,
                   "100");
  /* The extension fields at every version. */
  g_assert_true (json_object_get_boolean_member (flavor,
                                                 "os-flavor-access:is_public"));
  g_assert_cmpint (json_object_get_int_member (flavor, "OS-FLV-EXT-DATA:ephemeral"),
                   ==, 0);
  g_assert_cmpfloat (json_object_get_double_member (flavor, "rxtx_factor"), ==,
                     1.0);
  /* swap: "" until 2.74, 0 from 2.75. */
  g_assert_cmpstr (json_object_get_string_member (flavor, "swap"), ==, "");
  g_clear_pointer (&reply, json_node_unref);
  reply = get_at (f, "2.75", "/v2.1/flavors/t.special");
  g_assert_cmpint (json_object_get_int_member (nlx_test_object_at (reply, "flavor"),
                                               "swap"), ==, 0);

  /* Limits: what goes in 2.36, 2.39 and 2.57. */
  g_clear_pointer (&reply, json_node_unref);
  reply = get_at (f, "2.35", "/v2.1/limits");
  absolute = json_object_get_object_member (nlx_test_object_at (reply, "limits"),
                                            "absolute");
  g_assert_true (json_object_has_member (absolute, "maxSecurityGroups"));
  g_assert_true (json_object_has_member (absolute, "maxTotalFloatingIps"));
  g_assert_true (json_object_has_member (absolute, "maxImageMeta"));
  g_assert_true (json_object_has_member (absolute, "maxPersonality"));
  g_clear_pointer (&reply, json_node_unref);
  reply = get_at (f, "2.36", "/v2.1/limits");
  absolute = json_object_get_object_member (nlx_test_object_at (reply, "limits"),
                                            "absolute");
  g_assert_false (json_object_has_member (absolute, "maxSecurityGroups"));
  g_assert_false (json_object_has_member (absolute, "maxSecurityGroupRules"));
  g_assert_false (json_object_has_member (absolute, "totalSecurityGroupsUsed"));
  g_assert_false (json_object_has_member (absolute, "maxTotalFloatingIps"));
  g_assert_false (json_object_has_member (absolute, "totalFloatingIpsUsed"));
  g_assert_true (json_object_has_member (absolute, "maxImageMeta"));
  g_clear_pointer (&reply, json_node_unref);
  reply = get_at (f, "2.39", "/v2.1/limits");
  absolute = json_object_get_object_member (nlx_test_object_at (reply, "limits"),
                                            "absolute");
  g_assert_false (json_object_has_member (absolute, "maxImageMeta"));
  g_assert_true (json_object_has_member (absolute, "maxPersonality"));
  g_clear_pointer (&reply, json_node_unref);
  reply = get_at (f, "2.57", "/v2.1/limits");
  absolute = json_object_get_object_member (nlx_test_object_at (reply, "limits"),
                                            "absolute");
  g_assert_false (json_object_has_member (absolute, "maxPersonality"));
  g_assert_false (json_object_has_member (absolute, "maxPersonalitySize"));
  g_assert_true (json_object_has_member (absolute, "maxServerMeta"));
}

/* ---- hypervisors and services ------------------------------------------ */

static char *
hypervisor_id_at (Fixture *f,
                  const char *version)
{
  g_autoptr(JsonNode) reply = get_at (f, version, "/v2.1/os-hypervisors");
  JsonObject *hypervisor = json_array_get_object_element (
    json_object_get_array_member (json_node_get_object (reply), "hypervisors"),
    0);

  return g_strdup (json_object_get_string_member (hypervisor, "id"));
}

static void
test_hypervisors (Fixture *f,
                  gconstpointer data G_GNUC_UNUSED)
{
  g_autoptr(JsonNode) reply = NULL;
  g_autofree char *id = NULL;
  g_autofree char *again = NULL;
  g_autofree char *path = NULL;
  g_autofree char *server = NULL;
  JsonObject *hypervisor, *service;
  JsonNode *cpu_info;

  /* cpu_info: a string until 2.27, an object from 2.28. */
  reply = get_at (f, "2.27", "/v2.1/os-hypervisors/1");
  cpu_info = json_object_get_member (nlx_test_object_at (reply, "hypervisor"),
                                     "cpu_info");
  g_assert_true (JSON_NODE_HOLDS_VALUE (cpu_info));
  g_clear_pointer (&reply, json_node_unref);
  reply = get_at (f, "2.28", "/v2.1/os-hypervisors/detail");
  hypervisor = json_array_get_object_element (
    json_object_get_array_member (json_node_get_object (reply), "hypervisors"), 0);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (json_object_get_member (hypervisor,
                                                                 "cpu_info")));
  g_assert_cmpint (json_object_get_int_member (hypervisor, "id"), ==, 1);

  /* 2.33: paging. */
  g_clear_pointer (&reply, json_node_unref);
  reply = get_at (f, "2.33", "/v2.1/os-hypervisors?limit=1");
  g_assert_nonnull (strstr (json_object_get_string_member (
                              json_array_get_object_element (
                                json_object_get_array_member (json_node_get_object (reply),
                                                              "hypervisors_links"), 0),
                              "href"), "marker=1"));
  g_clear_pointer (&reply, json_node_unref);
  reply = get_at (f, "2.33", "/v2.1/os-hypervisors?marker=1");
  g_assert_cmpuint (json_array_get_length (
                      json_object_get_array_member (json_node_get_object (reply),
                                                    "hypervisors")), ==, 0);
  expect_fault_at (f, "2.33", "GET", "/v2.1/os-hypervisors?marker=7", NULL, 400,
                   "marker [7] not found");

  /* 2.53: a UUID, the same across a restart; show by it, and the
   * pattern and with_servers queries in place of /search and /servers. */
  id = hypervisor_id_at (f, "2.53");
  g_assert_true (g_uuid_string_is_valid (id));
  nlx_test_daemon_stop (&f->daemon);
  nlx_test_daemon_start (&f->daemon, f->config_text);
  g_assert_no_error (f->daemon.start_error);
  again = hypervisor_id_at (f, "2.96");
  g_assert_cmpstr (again, ==, id);
  path = g_strconcat ("/v2.1/os-hypervisors/", id, NULL);
  g_clear_pointer (&reply, json_node_unref);
  reply = get_at (f, "2.53", path);
  hypervisor = nlx_test_object_at (reply, "hypervisor");
  service = json_object_get_object_member (hypervisor, "service");
  g_assert_true (g_uuid_string_is_valid (json_object_get_string_member (service,
                                                                        "id")));
  g_assert_true (json_object_has_member (hypervisor, "vcpus"));
  expect_fault_at (f, "2.53", "GET", "/v2.1/os-hypervisors/1", NULL, 400,
                   "Invalid uuid");
  expect_fault_at (f, "2.53", "GET",
                   "/v2.1/os-hypervisors/00000000-0000-4000-8000-000000000000",
                   NULL, 404, "could not be found");
  expect_fault_at (f, "2.52", "GET", path, NULL, 404, "could not be found");
  expect_fault_at (f, "2.53", "GET", "/v2.1/os-hypervisors/x/search", NULL, 404,
                   NULL);
  expect_fault_at (f, "2.53", "GET",
                   "/v2.1/os-hypervisors?hypervisor_hostname_pattern=no-such-host",
                   NULL, 404, "No hypervisor matching");
  expect_fault_at (f, "2.53", "GET",
                   "/v2.1/os-hypervisors?hypervisor_hostname_pattern=a&limit=1",
                   NULL, 400, "Paging");
  expect_fault_at (f, "2.53", "GET", "/v2.1/os-hypervisors?with_servers=maybe",
                   NULL, 400, "with_servers");
  server = nlx_test_create (f->session, "nlxtest-hv", "test-image", NULL);
  nlx_test_wait_for_status (f->session, server, "ACTIVE");
  g_clear_pointer (&reply, json_node_unref);
  reply = get_at (f, "2.53", "/v2.1/os-hypervisors/detail?with_servers=true");
  hypervisor = json_array_get_object_element (
    json_object_get_array_member (json_node_get_object (reply), "hypervisors"), 0);
  g_assert_cmpstr (json_object_get_string_member (
                     json_array_get_object_element (
                       json_object_get_array_member (hypervisor, "servers"), 0),
                     "uuid"), ==, server);
  nlx_test_delete_and_wait (f->session, server);
  /* No servers: none listed until 2.74, an empty list from 2.75. */
  g_clear_pointer (&reply, json_node_unref);
  reply = get_at (f, "2.74", "/v2.1/os-hypervisors?with_servers=1");
  hypervisor = json_array_get_object_element (
    json_object_get_array_member (json_node_get_object (reply), "hypervisors"), 0);
  g_assert_false (json_object_has_member (hypervisor, "servers"));
  g_clear_pointer (&reply, json_node_unref);
  reply = get_at (f, "2.75", "/v2.1/os-hypervisors?with_servers=1");
  hypervisor = json_array_get_object_element (
    json_object_get_array_member (json_node_get_object (reply), "hypervisors"), 0);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (hypervisor,
                                                                         "servers")),
                    ==, 0);

  /* 2.88: no usage, uptime in its place; statistics gone. */
  g_clear_pointer (&reply, json_node_unref);
  reply = get_at (f, "2.88", path);
  hypervisor = nlx_test_object_at (reply, "hypervisor");
  g_assert_false (json_object_has_member (hypervisor, "vcpus"));
  g_assert_false (json_object_has_member (hypervisor, "cpu_info"));
  g_assert_false (json_object_has_member (hypervisor, "running_vms"));
  g_assert_nonnull (strstr (json_object_get_string_member (hypervisor, "uptime"),
                           "load average:"));
  g_assert_cmpstr (json_object_get_string_member (hypervisor, "hypervisor_type"),
                   !=, NULL);
  expect_fault_at (f, "2.88", "GET", "/v2.1/os-hypervisors/statistics", NULL,
                   404, "2.87");

  /* Services: forced_down from 2.11, the UUID from 2.53. */
  g_clear_pointer (&reply, json_node_unref);
  reply = get_at (f, "2.10", "/v2.1/os-services");
  service = json_array_get_object_element (
    json_object_get_array_member (json_node_get_object (reply), "services"), 0);
  g_assert_false (json_object_has_member (service, "forced_down"));
  g_assert_cmpint (json_object_get_int_member (service, "id"), ==, 1);
  g_clear_pointer (&reply, json_node_unref);
  reply = get_at (f, "2.11", "/v2.1/os-services");
  service = json_array_get_object_element (
    json_object_get_array_member (json_node_get_object (reply), "services"), 0);
  g_assert_false (json_object_get_boolean_member (service, "forced_down"));
  g_clear_pointer (&reply, json_node_unref);
  reply = get_at (f, "2.53", "/v2.1/os-services");
  service = json_array_get_object_element (
    json_object_get_array_member (json_node_get_object (reply), "services"), 0);
  g_assert_true (g_uuid_string_is_valid (json_object_get_string_member (service,
                                                                        "id")));
}

/* ---- volumes, attachments and images ------------------------------------ */

static void
test_volumes_and_images (Fixture *f,
                         gconstpointer data G_GNUC_UNUSED)
{
  g_autoptr(JsonNode) reply = NULL;
  g_autofree char *server = nlx_test_create (f->session, "nlxtest-vm", "test-image",
                                             NULL);
  g_autofree char *attachments = g_strconcat ("/v2.1/servers/", server,
                                              "/os-volume_attachments", NULL);
  g_autofree char *one = g_strconcat (attachments, "/nlxtest-vol", NULL);
  g_autofree char *image = NULL;
  g_autofree char *image_path = NULL;
  JsonObject *attachment, *volume, *metadata;

  g_assert_cmpuint (call_at (f, NULL, NULL, "POST", "/v2.1/os-volumes",
                             "{\"volume\": {\"display_name\": \"nlxtest-vol\", "
                             "\"size_mb\": 8}}", NULL), ==, 200);
  nlx_test_wait_for_status (f->session, server, "ACTIVE");
  /* What nova-lxc does not keep is refused, not dropped. */
  expect_fault_at (f, "2.49", "POST", attachments,
                   "{\"volumeAttachment\": {\"volumeId\": \"nlxtest-vol\", "
                   "\"tag\": \"t\"}}", 400, "Tagged");
  expect_fault_at (f, "2.79", "POST", attachments,
                   "{\"volumeAttachment\": {\"volumeId\": \"nlxtest-vol\", "
                   "\"delete_on_termination\": true}}", 400,
                   "delete_on_termination");
  g_assert_cmpuint (call_at (f, "2.96", NULL, "POST", attachments,
                             "{\"volumeAttachment\": {\"volumeId\": \"nlxtest-vol\", "
                             "\"mount_path\": \"/data\", "
                             "\"delete_on_termination\": false}}", &reply), ==, 200);
  /* The create's answer keeps "id" at 2.89, as Nova's. */
  attachment = nlx_test_object_at (reply, "volumeAttachment");
  g_assert_cmpstr (json_object_get_string_member (attachment, "id"), ==,
                   "nlxtest-vol");
  g_assert_true (json_object_get_null_member (attachment, "tag"));
  g_assert_false (json_object_get_boolean_member (attachment,
                                                  "delete_on_termination"));
  g_assert_false (json_object_has_member (attachment, "mount_path"));

  g_clear_pointer (&reply, json_node_unref);
  reply = get_at (f, "2.1", one);
  attachment = nlx_test_object_at (reply, "volumeAttachment");
  g_assert_cmpuint (json_object_get_size (attachment), ==, 4);
  g_clear_pointer (&reply, json_node_unref);
  reply = get_at (f, "2.70", one);
  attachment = nlx_test_object_at (reply, "volumeAttachment");
  g_assert_true (json_object_has_member (attachment, "tag"));
  g_assert_false (json_object_has_member (attachment, "delete_on_termination"));
  g_clear_pointer (&reply, json_node_unref);
  reply = get_at (f, "2.89", one);
  attachment = nlx_test_object_at (reply, "volumeAttachment");
  g_assert_false (json_object_has_member (attachment, "id"));
  g_assert_true (g_uuid_string_is_valid (json_object_get_string_member (attachment,
                                                                        "attachment_id")));
  g_assert_true (g_uuid_string_is_valid (json_object_get_string_member (attachment,
                                                                        "bdm_uuid")));
  g_assert_false (json_object_get_boolean_member (attachment,
                                                  "delete_on_termination"));

  /* nova-lxc's figures are in the volume's metadata, strings. */
  g_clear_pointer (&reply, json_node_unref);
  reply = get_at (f, "2.35", "/v2.1/os-volumes/nlxtest-vol");
  volume = nlx_test_object_at (reply, "volume");
  g_assert_false (json_object_has_member (volume, "size_bytes"));
  g_assert_false (json_object_has_member (volume, "filesystem"));
  metadata = json_object_get_object_member (volume, "metadata");
  g_assert_cmpstr (json_object_get_string_member (metadata, "nova_lxc:size_bytes"),
                   ==, "8388608");
  g_assert_cmpstr (json_object_get_string_member (metadata, "nova_lxc:mount_path"),
                   ==, "/data");

  /* The image proxy: the store's figures in the metadata too. */
  image = nlx_test_create_image (f->session, server,
                                 "{\"createImage\": {\"name\": \"nlxtest-snap\"}}");
  image_path = g_strconcat ("/v2.1/images/", image, NULL);
  g_clear_pointer (&reply, json_node_unref);
  reply = get_at (f, "2.35", image_path);
  {
    JsonObject *shown = nlx_test_object_at (reply, "image");
    GList *members = json_object_get_members (shown);

    for (GList *l = members; l != NULL; l = l->next)
      g_assert_false (g_str_has_prefix (l->data, "nova_lxc:"));
    g_list_free (members);
    metadata = json_object_get_object_member (shown, "metadata");
    g_assert_true (json_object_has_member (metadata, "nova_lxc:checksum"));
    g_assert_true (json_object_has_member (metadata, "nova_lxc:format"));
  }
  g_assert_cmpuint (call_at (f, NULL, NULL, "DELETE", one, NULL, NULL), ==, 202);
  g_assert_cmpuint (call_at (f, NULL, NULL, "DELETE", image_path, NULL, NULL),
                    ==, 204);
  nlx_test_delete_and_wait (f->session, server);
  g_assert_cmpuint (call_at (f, NULL, NULL, "DELETE", "/v2.1/os-volumes/nlxtest-vol",
                             NULL, NULL), ==, 202);
}

/* ---- tempest's schemas --------------------------------------------------- */

/* Reads [{client, var, attr, version, status, path, body}] and validates
 * each body as tempest.lib's service client @client does at @version
 * (its schema_versions_info, or its module's @var); prints what fails. */
static const char validator[] =
  "import importlib, json, sys\n"
  "from tempest.lib.common import rest_client\n"
  "from tempest.lib.services.compute import base_compute_client as base\n"
  "class Resp(dict):\n"
  "    def __init__(self, status):\n"
  "        super().__init__(); self.status = status\n"
  "failed = 0\n"
  "for case in json.load(sys.stdin):\n"
  "    module = importlib.import_module('tempest.lib.services.compute.' + case['client'])\n"
  "    if case['var']:\n"
  "        schemas = getattr(module, case['var'])\n"
  "    else:\n"
  "        cls = [v for v in vars(module).values() if isinstance(v, type)\n"
  "               and 'schema_versions_info' in vars(v)][0]\n"
  "        base.COMPUTE_MICROVERSION = case['version']\n"
  "        schemas = base.BaseComputeClient.get_schema(None, cls.schema_versions_info)\n"
  "    try:\n"
  "        rest_client.RestClient.validate_response(getattr(schemas, case['attr']),\n"
  "                                                 Resp(case['status']), case['body'])\n"
  "    except Exception as e:\n"
  "        failed += 1\n"
  "        print('%s %s: %s' % (case['version'], case['path'], e))\n"
  "print('%d failed' % failed)\n"
  "sys.exit(1 if failed else 0)\n";

typedef struct {
  const char *path;             /* %s: the hypervisor id, the server, ... */
  const char *client;
  const char *var;              /* NULL: the client's schema_versions_info */
  const char *attr;
  guint until;                  /* the last minor tempest 33's schema fits;
                                 * beyond, the shape is checked above */
} SchemaCase;

static const SchemaCase schema_cases[] = {
  { "/v2.1/flavors", "flavors_client", NULL, "list_flavors", 96 },
  { "/v2.1/flavors/detail", "flavors_client", NULL, "list_flavors_details", 96 },
  { "/v2.1/flavors/t.special", "flavors_client", NULL,
    "create_update_get_flavor_details", 96 },
  { "/v2.1/limits", "limits_client", NULL, "get_limit", 96 },
  { "/v2.1/os-keypairs", "keypairs_client", NULL, "list_keypairs", 96 },
  { "/v2.1/os-keypairs/nlxtest-key", "keypairs_client", NULL, "get_keypair",
    96 },
  /* tempest 33 has no schema of 2.88's hypervisors. */
  { "/v2.1/os-hypervisors", "hypervisor_client", NULL,
    "list_search_hypervisors", 87 },
  { "/v2.1/os-hypervisors/detail", "hypervisor_client", NULL,
    "list_hypervisors_detail", 87 },
  { "/v2.1/os-hypervisors/{hypervisor}", "hypervisor_client", NULL,
    "get_hypervisor", 87 },
  { "/v2.1/os-hypervisors/statistics", "hypervisor_client", NULL,
    "get_hypervisor_statistics", 87 },
  { "/v2.1/os-hypervisors/{hypervisor}/uptime", "hypervisor_client", NULL,
    "get_hypervisor_uptime", 87 },
  { "/v2.1/os-services", "services_client", NULL, "list_services", 96 },
  { "/v2.1/os-aggregates", "aggregates_client", NULL, "list_aggregates", 96 },
  { "/v2.1/os-availability-zone", "availability_zone_client", "schema",
    "list_availability_zone_list", 96 },
  { "/v2.1/os-availability-zone/detail", "availability_zone_client", "schema",
    "list_availability_zone_list_detail", 96 },
  { "/v2.1/os-volumes/detail", "volumes_client", "schema", "list_volumes",
    35 },
  { "/v2.1/os-volumes/nlxtest-vol", "volumes_client", "schema",
    "create_get_volume", 35 },
  /* nor of 2.89's attachments */
  { "/v2.1/servers/{server}/os-volume_attachments", "servers_client", NULL,
    "list_volume_attachments", 88 },
  { "/v2.1/servers/{server}/os-volume_attachments/nlxtest-vol",
    "servers_client", NULL, "show_volume_attachment", 88 },
  { "/v2.1/images/detail", "images_client", "schema", "list_images_details",
    35 },
  { "/v2.1/images/{image}", "images_client", "schema", "get_image", 35 },
};

/* The versions where something of these resources changes, each side. */
static const guint schema_minors[] = {
  1, 2, 9, 10, 11, 27, 28, 32, 33, 35, 36, 38, 39, 40, 41, 52, 53, 54, 55,
  56, 57, 60, 61, 69, 70, 74, 75, 78, 79, 87, 88, 89, 91, 92, 96
};

static void
add_case (JsonBuilder *builder,
          const char *client,
          const char *var,
          const char *attr,
          const char *version,
          guint status,
          const char *path,
          JsonNode *body)
{
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "client");
  json_builder_add_string_value (builder, client);
  json_builder_set_member_name (builder, "var");
  if (var != NULL)
    json_builder_add_string_value (builder, var);
  else
    json_builder_add_null_value (builder);
  json_builder_set_member_name (builder, "attr");
  json_builder_add_string_value (builder, attr);
  json_builder_set_member_name (builder, "version");
  json_builder_add_string_value (builder, version);
  json_builder_set_member_name (builder, "status");
  json_builder_add_int_value (builder, status);
  json_builder_set_member_name (builder, "path");
  json_builder_add_string_value (builder, path);
  json_builder_set_member_name (builder, "body");
  if (body != NULL)
    json_builder_add_value (builder, json_node_copy (body));
  else
    json_builder_add_null_value (builder);
  json_builder_end_object (builder);
}

static char *
fill_path (const char *pattern,
           const char *hypervisor,
           const char *server,
           const char *image)
{
  g_autoptr(GString) path = g_string_new (pattern);

  g_string_replace (path, "{hypervisor}", hypervisor, 0);
  g_string_replace (path, "{server}", server, 0);
  g_string_replace (path, "{image}", image, 0);
  return g_string_free (g_steal_pointer (&path), FALSE);
}

static void
test_tempest_schemas (Fixture *f,
                      gconstpointer data G_GNUC_UNUSED)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) cases = NULL;
  g_autofree char *input = NULL;
  g_autofree char *server = NULL;
  g_autofree char *attachments = NULL;
  g_autofree char *image = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) python = NULL;
  const char *argv[] = { "/usr/bin/python3", "-c", validator, NULL };
  guint checked = 0;

  if (!g_file_test ("/usr/lib/python3/dist-packages/tempest/lib/api_schema",
                    G_FILE_TEST_IS_DIR))
    {
      g_test_skip ("tempest (python3-tempest) is not installed");
      return;
    }
  server = nlx_test_create (f->session, "nlxtest-schema", "test-image", NULL);
  attachments = g_strconcat ("/v2.1/servers/", server, "/os-volume_attachments",
                             NULL);
  g_assert_cmpuint (call_at (f, NULL, NULL, "POST", "/v2.1/os-volumes",
                             "{\"volume\": {\"display_name\": \"nlxtest-vol\", "
                             "\"size_mb\": 8}}", NULL), ==, 200);
  g_assert_cmpuint (call_at (f, NULL, NULL, "POST", "/v2.1/os-keypairs",
                             "{\"keypair\": {\"name\": \"nlxtest-key\", "
                             "\"public_key\": \"" KEY_ED25519 "\"}}", NULL), ==,
                    200);
  nlx_test_wait_for_status (f->session, server, "ACTIVE");
  g_assert_cmpuint (call_at (f, NULL, NULL, "POST", attachments,
                             "{\"volumeAttachment\": {\"volumeId\": \"nlxtest-vol\", "
                             "\"mount_path\": \"/data\"}}", NULL), ==, 200);
  image = nlx_test_create_image (f->session, server,
                                 "{\"createImage\": {\"name\": \"nlxtest-img\"}}");

  json_builder_begin_array (builder);
  for (gsize v = 0; v < G_N_ELEMENTS (schema_minors); v++)
    {
      g_autofree char *version = g_strdup_printf ("2.%u", schema_minors[v]);
      g_autofree char *hypervisor = NULL;
      g_autofree char *key_body = g_strdup_printf (
        "{\"keypair\": {\"name\": \"nlxtest-k%u\", \"public_key\": \""
        KEY_ED25519 "\"}}", schema_minors[v]);
      g_autofree char *key_path = g_strdup_printf ("/v2.1/os-keypairs/nlxtest-k%u",
                                                   schema_minors[v]);
      g_autoptr(JsonNode) created = NULL;
      guint status;

      {
        g_autoptr(JsonNode) list = get_at (f, version, "/v2.1/os-hypervisors");
        JsonNode *id = json_object_get_member (
          json_array_get_object_element (
            json_object_get_array_member (json_node_get_object (list),
                                          "hypervisors"), 0), "id");

        hypervisor = json_node_get_value_type (id) == G_TYPE_STRING
          ? g_strdup (json_node_get_string (id))
          : g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (id));
      }
      for (gsize c = 0; c < G_N_ELEMENTS (schema_cases); c++)
        {
          const SchemaCase *sc = &schema_cases[c];
          g_autofree char *path = NULL;
          g_autoptr(JsonNode) reply = NULL;

          if (schema_minors[v] > sc->until)
            continue;
          path = fill_path (sc->path, hypervisor, server, image);
          status = call_at (f, version, NULL, "GET", path, NULL, &reply);
          add_case (builder, sc->client, sc->var, sc->attr, version, status,
                    path, reply);
          checked++;
        }
      /* The create and the delete of a key pair: status and body. */
      status = call_at (f, version, NULL, "POST", "/v2.1/os-keypairs", key_body,
                        &created);
      add_case (builder, "keypairs_client", NULL, "create_keypair", version,
                status, "POST /v2.1/os-keypairs", created);
      status = call_at (f, version, NULL, "DELETE", key_path, NULL, NULL);
      add_case (builder, "keypairs_client", NULL, "delete_keypair", version,
                status, key_path, NULL);
      checked += 2;
    }
  json_builder_end_array (builder);
  cases = json_builder_get_root (builder);
  input = json_to_string (cases, FALSE);

  python = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDIN_PIPE |
                              G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                              G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (python, input, NULL, &out, &err, &error);
  g_assert_no_error (error);
  if (strstr (err, "No module named") != NULL)
    {
      g_test_skip (err);
      goto cleanup;
    }
  g_test_message ("%u bodies checked against tempest's schemas", checked);
  if (!g_subprocess_get_successful (python))
    g_error ("bodies tempest's schemas refuse:\n%s%s", out, err);

cleanup:
  g_assert_cmpuint (call_at (f, NULL, NULL, "DELETE",
                             "/v2.1/os-keypairs/nlxtest-key", NULL, NULL), ==, 202);
  {
    g_autofree char *one = g_strconcat (attachments, "/nlxtest-vol", NULL);
    g_autofree char *image_path = g_strconcat ("/v2.1/images/", image, NULL);

    g_assert_cmpuint (call_at (f, NULL, NULL, "DELETE", one, NULL, NULL), ==,
                      202);
    g_assert_cmpuint (call_at (f, NULL, NULL, "DELETE", image_path, NULL, NULL),
                      ==, 204);
  }
  nlx_test_delete_and_wait (f->session, server);
  g_assert_cmpuint (call_at (f, NULL, NULL, "DELETE",
                             "/v2.1/os-volumes/nlxtest-vol", NULL, NULL), ==, 202);
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_summary ("The Compute API on the fake driver: key pairs, flavors, "
                  "limits, hypervisors, services, volumes, attachments and "
                  "images as Nova shapes them at each microversion, and "
                  "against tempest's response schemas.");
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR);
#define ADD(path, func) \
  g_test_add (path, Fixture, CONFIG, fixture_set_up, func, fixture_tear_down)
  ADD ("/nlx/api/microversions/keypairs", test_keypairs);
  ADD ("/nlx/api/microversions/keypair-post-everywhere",
       test_keypair_post_everywhere);
  ADD ("/nlx/api/microversions/flavors-and-limits", test_flavors_and_limits);
  ADD ("/nlx/api/microversions/hypervisors-and-services", test_hypervisors);
  ADD ("/nlx/api/microversions/volumes-and-images", test_volumes_and_images);
  ADD ("/nlx/api/microversions/tempest-schemas", test_tempest_schemas);
  return g_test_run ();
}
