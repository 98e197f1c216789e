/* test-api-microversions-actions.c: the Compute API on the fake driver:
 * server create bodies and server actions at each microversion where
 * Nova changed them, at 2.1 and at the highest served (the fixture:
 * lib/nlx-api-fixture.h).  Bodies are checked against tempest's own
 * response schemas where Debian's python3-tempest is installed. */
#include "config.h"

#include <glib/gstdio.h>

#include "common/nlx-json.h"

#include "lib/nlx-api-fixture.h"
#include "lib/nlx-test-client.h"
#include "lib/nlx-test-daemon.h"
#include "lib/nlx-test-tools.h"

#define PYTHON "/usr/bin/python3"

/* Validates @body (NULL: no body) with @status against tempest 33's
 * schema @schema of tempest.lib.api_schema.response.compute.@module, as
 * tempest's own clients do.  Where tempest is not installed, says so and
 * checks nothing. */
static void
assert_tempest_schema (const char *module,
                       const char *schema,
                       guint status,
                       JsonNode *body)
{
  static const char script[] =
    "import json, sys\n"
    "try:\n"
    "    import importlib, jsonschema\n"
    "    m = importlib.import_module("
    "'tempest.lib.api_schema.response.compute.' + sys.argv[1])\n"
    "except ImportError:\n"
    "    sys.exit(77)\n"
    "s = getattr(m, sys.argv[2])\n"
    "assert int(sys.argv[3]) in s['status_code'], 'status ' + sys.argv[3]\n"
    "text = sys.stdin.read()\n"
    "body = json.loads(text) if text else None\n"
    "if 'response_body' in s:\n"
    "    jsonschema.Draft4Validator(s['response_body'], "
    "format_checker=jsonschema.draft4_format_checker).validate(body)\n"
    "elif body is not None:\n"
    "    sys.exit('the schema has no body, the answer has one')\n";
  g_autofree char *text = body ? json_to_string (body, FALSE) : g_strdup ("");
  g_autofree char *code = g_strdup_printf ("%u", status);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GSubprocess) python = NULL;
  g_autoptr(GError) error = NULL;

  if (!g_file_test (PYTHON, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_message ("no %s: %s.%s not checked", PYTHON, module, schema);
      return;
    }
  python = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                             G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                             G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                             PYTHON, "-c", script, module, schema, code, NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (python, text, NULL, &out, &err, &error);
  g_assert_no_error (error);
  if (g_subprocess_get_exit_status (python) == 77)
    {
      g_test_message ("no tempest: %s.%s not checked", module, schema);
      return;
    }
  if (g_subprocess_get_exit_status (python) != 0)
    g_error ("%s.%s does not hold for %u %s:\n%s", module, schema, status,
             text, err);
}

/* One request at @version ("2.N"), whatever the session asks for. */
static guint
call_at (Fixture *f,
         const char *version,
         const char *method,
         const char *path,
         const char *body,
         JsonNode **reply,
         SoupMessageHeaders **headers)
{
  g_autofree char *value = g_strconcat ("compute ", version, NULL);

  g_test_message ("%s %s at %s: %.300s", method, path, version,
                  body ? body : "");
  return nlx_test_call_full (f->session, "http://localhost", method, path,
                             body, "OpenStack-API-Version", value, reply,
                             headers);
}

/* A fault of @status at @version whose message holds @text. */
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
  g_autoptr(GList) members = NULL;
  JsonObject *fault;
  const char *message;

  g_assert_cmpuint (call_at (f, version, method, path, body, &reply, NULL),
                    ==, status);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (reply));
  members = json_object_get_members (json_node_get_object (reply));
  g_assert_cmpuint (g_list_length (members), ==, 1);
  fault = json_object_get_object_member (json_node_get_object (reply),
                                         members->data);
  g_assert_cmpint (json_object_get_int_member (fault, "code"), ==, status);
  message = json_object_get_string_member (fault, "message");
  if (strstr (message, text) == NULL)
    g_error ("fault “%s” does not say “%s”", message, text);
}

/* Creates a server at @version with @extra members; returns its id. */
static char *
create_at (Fixture *f,
           const char *version,
           const char *name,
           const char *extra)
{
  g_autofree char *body = g_strdup_printf (
    "{\"server\": {\"name\": \"%s\", \"flavorRef\": \"m1.tiny\", "
    "\"imageRef\": \"test-image\"%s}}", name, extra ? extra : "");
  g_autoptr(JsonNode) reply = NULL;

  g_assert_cmpuint (call_at (f, version, "POST", "/v2.1/servers", body,
                             &reply, NULL), ==, 202);
  /* Tempest's create schema without adminPass (nova-lxc's tempest.conf
   * says enable_instance_password = false), at every version. */
  assert_tempest_schema ("v2_1.servers", "create_server", 202, reply);
  return g_strdup (json_object_get_string_member (
                     nlx_test_object_at (reply, "server"), "id"));
}

static JsonObject *
record_of (Fixture *f,
           const char *id,
           JsonNode **root)
{
  g_autofree char *path = g_strdup_printf ("%s/state/records/%s.json", f->dir,
                                           id);
  g_autoptr(GError) error = NULL;

  *root = nlx_json_parse_file (path, &error);
  g_assert_no_error (error);
  return nlx_test_object_at (*root, "instance");
}

/* networks: optional, and a list alone, before 2.37; required from
 * 2.37, where "auto" and "none" (a server with no network) are taken. */
static void
test_create_networks (Fixture *f,
                      gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *old = NULL;
  g_autofree char *plain = NULL;
  g_autofree char *auto_id = NULL;
  g_autofree char *none = NULL;
  g_autoptr(JsonNode) record = NULL;
  g_autoptr(JsonNode) shown = NULL;
  g_autofree char *path = NULL;
  JsonObject *instance, *addresses;
  guint before;

  old = create_at (f, "2.1", "nlxtest-old", NULL);
  plain = create_at (f, "2.36", "nlxtest-plain", ", \"networks\": []");
  before = server_count (f);
  expect_fault_at (f, "2.1", "POST", "/v2.1/servers",
                   CREATE_BODY (", \"networks\": \"auto\""), 400,
                   "networks");
  expect_fault_at (f, "2.36", "POST", "/v2.1/servers",
                   CREATE_BODY (", \"networks\": \"none\""), 400,
                   "networks");
  expect_fault_at (f, "2.37", "POST", "/v2.1/servers", CREATE_BODY (""),
                   400, "“networks” is a required property");
  expect_fault_at (f, "latest", "POST", "/v2.1/servers", CREATE_BODY (""),
                   400, "“networks” is a required property");
  expect_fault_at (f, "2.37", "POST", "/v2.1/servers",
                   CREATE_BODY (", \"networks\": \"some\""), 400,
                   "\"auto\", \"none\"");
  expect_fault_at (f, "2.37", "POST", "/v2.1/servers",
                   CREATE_BODY (", \"networks\": [{\"uuid\": \"nlxtest-nonet\"}]"),
                   400, "Network nlxtest-nonet could not be found");
  g_assert_cmpuint (server_count (f), ==, before);

  auto_id = create_at (f, "2.37", "nlxtest-auto", ", \"networks\": \"auto\"");
  none = create_at (f, "2.96", "nlxtest-none", ", \"networks\": \"none\"");
  nlx_test_wait_for_status (f->session, auto_id, "ACTIVE");
  nlx_test_wait_for_status (f->session, none, "ACTIVE");

  /* "auto" is the one network here, as a 2.1 create without networks. */
  shown = nlx_test_show (f->session, auto_id);
  addresses = json_object_get_object_member (
    nlx_test_object_at (shown, "server"), "addresses");
  g_assert_cmpuint (json_object_get_size (addresses), ==, 1);
  g_clear_pointer (&shown, json_node_unref);
  shown = nlx_test_show (f->session, old);
  g_assert_cmpuint (json_object_get_size (json_object_get_object_member (
                      nlx_test_object_at (shown, "server"), "addresses")), ==, 1);

  /* "none": no address, no interface, kept in the record. */
  g_clear_pointer (&shown, json_node_unref);
  shown = nlx_test_show (f->session, none);
  addresses = json_object_get_object_member (
    nlx_test_object_at (shown, "server"), "addresses");
  g_assert_cmpuint (json_object_get_size (addresses), ==, 0);
  instance = record_of (f, none, &record);
  g_assert_true (json_object_get_boolean_member (instance, "no_network"));
  g_assert_false (json_object_has_member (instance, "vif"));

  /* A rebuild keeps it without a network. */
  path = g_strconcat ("/v2.1/servers/", none, "/action", NULL);
  nlx_test_act_and_wait (f->session, none,
                         "{\"rebuild\": {\"imageRef\": \"test-image\"}}",
                         "rebuilding", "ACTIVE");
  g_clear_pointer (&record, json_node_unref);
  instance = record_of (f, none, &record);
  g_assert_true (json_object_get_boolean_member (instance, "no_network"));
  g_assert_false (json_object_has_member (instance, "vif"));

  nlx_test_delete_and_wait (f->session, old);
  nlx_test_delete_and_wait (f->session, plain);
  nlx_test_delete_and_wait (f->session, auto_id);
  nlx_test_delete_and_wait (f->session, none);
}

/* Fields that come and go: hostname (2.90; a FQDN at 2.94),
 * host/hypervisor_hostname (2.74), personality (gone at 2.57),
 * adminPass (taken, not answered). */
static void
test_create_fields (Fixture *f,
                    gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *probe = create_at (f, "2.1", "nlxtest-probe",
                                      ", \"adminPass\": \"nlxtest-secret\"");
  g_autofree char *named = NULL;
  g_autofree char *placed = NULL;
  g_autofree char *host_body = NULL;
  g_autofree char *node_body = NULL;
  g_autoptr(JsonNode) shown = NULL;
  g_autoptr(JsonNode) record = NULL;
  const char *host;
  guint before;

  shown = nlx_test_show (f->session, probe);
  host = json_object_get_string_member (nlx_test_object_at (shown, "server"),
                                        "OS-EXT-SRV-ATTR:host");
  g_assert_nonnull (host);
  before = server_count (f);

  /* hostname */
  expect_fault_at (f, "2.1", "POST", "/v2.1/servers",
                   CREATE_BODY (", \"hostname\": \"nlxtest-h\""), 400,
                   "“hostname” was unexpected at microversion 2.1");
  expect_fault_at (f, "2.89", "POST", "/v2.1/servers",
                   CREATE_BODY (", \"networks\": \"auto\", "
                                "\"hostname\": \"nlxtest-h\""), 400,
                   "“hostname” was unexpected at microversion 2.89");
  expect_fault_at (f, "2.90", "POST", "/v2.1/servers",
                   CREATE_BODY (", \"networks\": \"auto\", "
                                "\"hostname\": \"web.example.com\""), 400,
                   "is not a host name");
  expect_fault_at (f, "2.94", "POST", "/v2.1/servers",
                   CREATE_BODY (", \"networks\": \"auto\", "
                                "\"hostname\": \"web.example.com\""), 400,
                   "one DNS label");
  expect_fault_at (f, "2.94", "POST", "/v2.1/servers",
                   CREATE_BODY (", \"networks\": \"auto\", "
                                "\"hostname\": \"web/1\""), 400,
                   "is not a host name");

  /* host and hypervisor_hostname */
  host_body = g_strdup_printf (CREATE_BODY (", \"networks\": \"auto\", "
                                            "\"host\": \"%s\""), host);
  node_body = g_strdup_printf (CREATE_BODY (", \"networks\": \"auto\", "
                                            "\"hypervisor_hostname\": \"%s\""),
                               host);
  expect_fault_at (f, "2.73", "POST", "/v2.1/servers", host_body, 400,
                   "“host” was unexpected");
  expect_fault_at (f, "2.73", "POST", "/v2.1/servers", node_body, 400,
                   "“hypervisor_hostname” was unexpected");
  expect_fault_at (f, "2.74", "POST", "/v2.1/servers",
                   CREATE_BODY (", \"networks\": \"auto\", "
                                "\"host\": \"nlxtest-elsewhere\""), 400,
                   "Compute host nlxtest-elsewhere could not be found");
  expect_fault_at (f, "2.96", "POST", "/v2.1/servers",
                   CREATE_BODY (", \"networks\": \"auto\", "
                                "\"hypervisor_hostname\": \"nlxtest-elsewhere\""),
                   400, "could not be found");

  /* personality: refused with its reason, then not in the schema */
  expect_fault_at (f, "2.56", "POST", "/v2.1/servers",
                   CREATE_BODY (", \"networks\": \"auto\", \"personality\": "
                                "[{\"path\": \"/etc/x\", \"contents\": \"eA==\"}]"),
                   400, "injects no files");
  expect_fault_at (f, "2.57", "POST", "/v2.1/servers",
                   CREATE_BODY (", \"networks\": \"auto\", \"personality\": "
                                "[{\"path\": \"/etc/x\", \"contents\": \"eA==\"}]"),
                   400, "“personality” was unexpected");
  expect_fault_at (f, "2.1", "POST", "/v2.1/servers",
                   CREATE_BODY (", \"adminPass\": 7"), 400, "adminPass");
  g_assert_cmpuint (server_count (f), ==, before);

  named = create_at (f, "2.90", "nlxtest-named",
                     ", \"networks\": \"auto\", \"hostname\": \"NLXTest-1\"");
  g_assert_cmpstr (json_object_get_string_member (
                     record_of (f, named, &record), "hostname"), ==,
                   "nlxtest-1");
  g_free (host_body);
  host_body = g_strdup_printf (", \"networks\": \"auto\", \"host\": \"%s\", "
                               "\"hypervisor_hostname\": \"%s\"", host, host);
  placed = create_at (f, "2.74", "nlxtest-placed", host_body);

  nlx_test_delete_and_wait (f->session, probe);
  nlx_test_delete_and_wait (f->session, named);
  nlx_test_delete_and_wait (f->session, placed);
}

/* createImage: Location and no body before 2.45, {"image_id"} and no
 * Location from 2.45, each as tempest's schema for the version. */
static void
test_create_image (Fixture *f,
                   gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *id = nlx_test_create (f->session, "nlxtest-snap",
                                         "test-image", NULL);
  g_autofree char *action = g_strconcat ("/v2.1/servers/", id, "/action",
                                         NULL);
  static const struct {
    const char *version;
    gboolean body;
  } cases[] = {
    { "2.1", FALSE }, { "2.44", FALSE }, { "2.45", TRUE }, { "2.96", TRUE },
  };

  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *body =
        g_strdup_printf ("{\"createImage\": {\"name\": \"nlxtest-snap-%zu\"}}",
                         i);
      g_autoptr(JsonNode) reply = NULL;
      g_autoptr(SoupMessageHeaders) headers = NULL;
      g_autofree char *image_path = NULL;
      const char *location;
      const char *image_id;

      g_assert_cmpuint (call_at (f, cases[i].version, "POST", action, body,
                                 &reply, &headers), ==, 202);
      location = soup_message_headers_get_one (headers, "Location");
      if (cases[i].body)
        {
          g_assert_null (location);
          g_assert_nonnull (reply);
          assert_tempest_schema ("v2_45.images", "create_image", 202, reply);
          image_id = json_object_get_string_member (json_node_get_object (reply),
                                                    "image_id");
        }
      else
        {
          g_assert_null (reply);
          g_assert_nonnull (location);
          g_assert_true (g_str_has_prefix (location,
                                           "http://localhost/v2.1/images/"));
          assert_tempest_schema ("v2_1.images", "create_image", 202, NULL);
          image_id = location + strlen ("http://localhost/v2.1/images/");
        }
      g_assert_true (g_uuid_string_is_valid (image_id));
      image_path = g_strconcat ("/v2.1/images/", image_id, NULL);
      g_assert_cmpuint (nlx_test_call (f->session, "DELETE", image_path, NULL,
                                       NULL), ==, 204);
    }
  nlx_test_delete_and_wait (f->session, id);
}

/* The names of @server's active backups of @type, oldest first, as
 * tempest's test_create_backup lists them through Glance. */
static char *
backups_of (Fixture *f,
            const char *server,
            const char *type)
{
  g_autofree char *path = g_strdup_printf (
    "/image/v2/images?status=active&sort_key=created_at&sort_dir=asc&"
    "image_type=backup&backup_type=%s&instance_uuid=%s", type, server);
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(GString) names = g_string_new (NULL);
  JsonArray *images;

  g_assert_cmpuint (nlx_test_call (f->session, "GET", path, NULL, &reply), ==,
                    200);
  images = json_object_get_array_member (json_node_get_object (reply),
                                         "images");
  for (guint i = 0; i < json_array_get_length (images); i++)
    {
      JsonObject *image = json_array_get_object_element (images, i);

      g_assert_cmpstr (json_object_get_string_member (image, "image_type"),
                       ==, "backup");
      g_string_append_printf (names, "%s%s", i > 0 ? " " : "",
                              json_object_get_string_member (image, "name"));
    }
  return g_string_free (g_steal_pointer (&names), FALSE);
}

/* createBackup at @version; returns the new image's id (NULL when the
 * 2.1 answer names none, as for rotation 0). */
static char *
backup_at (Fixture *f,
           const char *version,
           const char *action,
           const char *name,
           const char *type,
           const char *rotation)
{
  g_autofree char *body = g_strdup_printf (
    "{\"createBackup\": {\"name\": \"%s\", \"backup_type\": \"%s\", "
    "\"rotation\": %s, \"metadata\": {\"nlxtest-key\": \"v\"}}}", name, type,
    rotation);
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(SoupMessageHeaders) headers = NULL;
  const char *location;

  g_assert_cmpuint (call_at (f, version, "POST", action, body, &reply,
                             &headers), ==, 202);
  location = soup_message_headers_get_one (headers, "Location");
  if (g_str_equal (version, "2.1"))
    {
      g_assert_null (reply);
      assert_tempest_schema ("v2_1.servers", "create_backup", 202, NULL);
      if (location == NULL)
        return NULL;
      g_assert_true (g_str_has_prefix (location,
                                       "http://localhost/v2.1/images/"));
      return g_strdup (location + strlen ("http://localhost/v2.1/images/"));
    }
  g_assert_null (location);
  assert_tempest_schema ("v2_45.servers", "create_backup", 202, reply);
  return g_strdup (json_object_get_string_member (json_node_get_object (reply),
                                                  "image_id"));
}

/* createBackup: Nova's schema, createImage's answers per version, the
 * image marked as Glance marks a backup, and the rotation: the newest
 * `rotation` backups of the type kept, 0 keeps none, one a server boots
 * from is kept whatever the rotation. */
static void
test_create_backup (Fixture *f,
                    gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *id = nlx_test_create (f->session, "nlxtest-backed",
                                         "test-image", NULL);
  g_autofree char *failed = nlx_test_create (
    f->session, "nlxtest-failed", "test-image",
    ", \"metadata\": {\"fake_spawn_error\": \"nlxtest-no\"}");
  g_autofree char *action = g_strconcat ("/v2.1/servers/", id, "/action",
                                         NULL);
  g_autofree char *failed_action = g_strconcat ("/v2.1/servers/", failed,
                                                "/action", NULL);
  static const struct {
    const char *body;
    const char *text;
  } bad[] = {
    { "{\"createBackup\": null}", "must be a JSON object" },
    { "{\"createBackup\": {\"backup_type\": \"daily\", \"rotation\": 1}}",
      "“name” is a required property" },
    { "{\"createBackup\": {\"name\": \"nlxtest-b\", \"rotation\": 1}}",
      "“backup_type” is a required property" },
    { "{\"createBackup\": {\"name\": \"nlxtest-b\", \"backup_type\": 7, "
      "\"rotation\": 1}}", "“backup_type” must be a string" },
    { "{\"createBackup\": {\"name\": \"nlxtest-b\", \"backup_type\": "
      "\"daily\"}}", "“rotation” is required" },
    { "{\"createBackup\": {\"name\": \"nlxtest-b\", \"backup_type\": "
      "\"daily\", \"rotation\": -1}}", "“rotation” is required" },
    { "{\"createBackup\": {\"name\": \"nlxtest-b\", \"backup_type\": "
      "\"daily\", \"rotation\": \"two\"}}", "“rotation” is required" },
    { "{\"createBackup\": {\"name\": \"nlxtest-b\", \"backup_type\": "
      "\"daily\", \"rotation\": 1.5}}", "“rotation” is required" },
    { "{\"createBackup\": {\"name\": \"nlxtest-b\", \"backup_type\": "
      "\"daily\", \"rotation\": 1, \"metadata\": {\"k\": 1}}}",
      "must be a string" },
    { "{\"createBackup\": {\"name\": \"nlxtest-b\", \"backup_type\": "
      "\"daily\", \"rotation\": 1, \"size\": 1}}", "“size” was unexpected" },
    { "{\"createBackup\": {\"name\": \"../x\", \"backup_type\": "
      "\"daily\", \"rotation\": 1}}", "An image name must be" },
  };
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;
  g_autofree char *third = NULL;
  g_autofree char *weekly = NULL;
  g_autofree char *gone = NULL;
  g_autofree char *names = NULL;
  g_autofree char *first_path = NULL;
  g_autofree char *booted = NULL;
  g_autoptr(JsonNode) image = NULL;
  JsonObject *properties;

  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  nlx_test_wait_for_status (f->session, failed, "ERROR");

  /* Bad input is refused and makes no image. */
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    expect_fault_at (f, i % 2 ? "2.1" : "2.96", "POST", action, bad[i].body,
                     400, bad[i].text);
  expect_fault_at (f, "2.96", "POST", failed_action,
                   "{\"createBackup\": {\"name\": \"nlxtest-b\", "
                   "\"backup_type\": \"daily\", \"rotation\": 1}}", 409,
                   "createBackup");
  names = backups_of (f, id, "daily");
  g_assert_cmpstr (names, ==, "");
  g_clear_pointer (&names, g_free);

  /* Two kept of two, a string of digits as Nova takes it. */
  first = backup_at (f, "2.1", action, "nlxtest-backup-1", "daily", "2");
  g_assert_true (g_uuid_string_is_valid (first));
  second = backup_at (f, "2.45", action, "nlxtest-backup-2", "daily", "\"2\"");
  g_assert_true (g_uuid_string_is_valid (second));
  names = backups_of (f, id, "daily");
  g_assert_cmpstr (names, ==, "nlxtest-backup-1 nlxtest-backup-2");
  g_clear_pointer (&names, g_free);

  first_path = g_strconcat ("/image/v2/images/", first, NULL);
  g_assert_cmpuint (nlx_test_call (f->session, "GET", first_path, NULL,
                                   &image), ==, 200);
  properties = json_node_get_object (image);
  g_assert_cmpstr (json_object_get_string_member (properties, "backup_type"),
                   ==, "daily");
  g_assert_cmpstr (json_object_get_string_member (properties, "instance_uuid"),
                   ==, id);
  g_assert_cmpstr (json_object_get_string_member (properties, "nlxtest-key"),
                   ==, "v");
  g_assert_cmpstr (json_object_get_string_member (properties, "visibility"),
                   ==, "private");

  /* A taken name: 409, and nothing rotated out. */
  expect_fault_at (f, "2.96", "POST", action,
                   "{\"createBackup\": {\"name\": \"nlxtest-backup-2\", "
                   "\"backup_type\": \"daily\", \"rotation\": 1}}", 409,
                   "nlxtest-backup-2");
  names = backups_of (f, id, "daily");
  g_assert_cmpstr (names, ==, "nlxtest-backup-1 nlxtest-backup-2");
  g_clear_pointer (&names, g_free);

  /* The third rotates the first out; another type is another rotation. */
  third = backup_at (f, "2.96", action, "nlxtest-backup-3", "daily", "2");
  g_assert_cmpuint (nlx_test_call (f->session, "GET", first_path, NULL, NULL),
                    ==, 404);
  names = backups_of (f, id, "daily");
  g_assert_cmpstr (names, ==, "nlxtest-backup-2 nlxtest-backup-3");
  g_clear_pointer (&names, g_free);
  weekly = backup_at (f, "2.1", action, "nlxtest-weekly-1", "weekly", "1");
  names = backups_of (f, id, "daily");
  g_assert_cmpstr (names, ==, "nlxtest-backup-2 nlxtest-backup-3");
  g_clear_pointer (&names, g_free);

  /* A server boots from the weekly backup: rotation 0 deletes every
   * weekly backup, the new one too, but keeps that one; at 2.1 the
   * answer names no image. */
  booted = nlx_test_create (f->session, "nlxtest-from-backup", weekly, NULL);
  nlx_test_wait_for_status (f->session, booted, "ACTIVE");
  gone = backup_at (f, "2.1", action, "nlxtest-weekly-2", "weekly", "0");
  g_assert_null (gone);
  names = backups_of (f, id, "weekly");
  g_assert_cmpstr (names, ==, "nlxtest-weekly-1");
  g_clear_pointer (&names, g_free);
  nlx_test_delete_and_wait (f->session, booted);
  g_free (gone);
  gone = backup_at (f, "2.45", action, "nlxtest-weekly-3", "weekly", "0");
  g_assert_true (g_uuid_string_is_valid (gone));
  names = backups_of (f, id, "weekly");
  g_assert_cmpstr (names, ==, "");
  g_clear_pointer (&names, g_free);

  /* The action history names it as Nova does. */
  {
    g_autofree char *actions = g_strconcat ("/v2.1/servers/", id,
                                            "/os-instance-actions", NULL);
    g_autoptr(JsonNode) history = NULL;
    g_autofree char *text = NULL;

    g_assert_cmpuint (nlx_test_call (f->session, "GET", actions, NULL,
                                     &history), ==, 200);
    text = json_to_string (history, FALSE);
    g_assert_nonnull (strstr (text, "\"action\":\"createBackup\""));
  }

  g_free (gone);
  gone = backup_at (f, "2.96", action, "nlxtest-backup-4", "daily", "0");
  names = backups_of (f, id, "daily");
  g_assert_cmpstr (names, ==, "");
  nlx_test_delete_and_wait (f->session, id);
  nlx_test_delete_and_wait (f->session, failed);
}

/* rebuild: key_name from 2.54, user_data from 2.57, hostname from 2.90;
 * adminPass taken and never answered; from 2.75 the answer is the
 * server as show has it. */
static void
test_rebuild (Fixture *f,
              gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *id = nlx_test_create (f->session, "nlxtest-rebuilt",
                                         "test-image", NULL);
  g_autofree char *action = g_strconcat ("/v2.1/servers/", id, "/action",
                                         NULL);
  g_autofree char *path = g_strconcat ("/v2.1/servers/", id, NULL);
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(JsonNode) latest = NULL;
  g_autoptr(JsonNode) shown = NULL;
  g_autoptr(JsonNode) record = NULL;
  g_autoptr(GList) members = NULL;
  JsonObject *server, *show;

  g_assert_cmpuint (nlx_test_call (f->session, "POST", "/v2.1/os-keypairs",
                                   "{\"keypair\": {\"name\": \"nlxtest-k\"}}",
                                   NULL), ==, 200);
  nlx_test_wait_for_status (f->session, id, "ACTIVE");

  expect_fault_at (f, "2.53", "POST", action,
                   "{\"rebuild\": {\"imageRef\": \"test-image\", "
                   "\"key_name\": \"nlxtest-k\"}}", 400,
                   "“key_name” was unexpected at microversion 2.53");
  expect_fault_at (f, "2.56", "POST", action,
                   "{\"rebuild\": {\"imageRef\": \"test-image\", "
                   "\"user_data\": \"YQ==\"}}", 400,
                   "“user_data” was unexpected at microversion 2.56");
  expect_fault_at (f, "2.89", "POST", action,
                   "{\"rebuild\": {\"imageRef\": \"test-image\", "
                   "\"hostname\": \"nlxtest-r\"}}", 400,
                   "“hostname” was unexpected at microversion 2.89");
  expect_fault_at (f, "2.57", "POST", action,
                   "{\"rebuild\": {\"imageRef\": \"test-image\", "
                   "\"personality\": []}}", 400,
                   "“personality” was unexpected");
  expect_fault_at (f, "2.1", "POST", action,
                   "{\"rebuild\": {\"imageRef\": \"test-image\", "
                   "\"preserve_ephemeral\": \"perhaps\"}}", 400,
                   "preserve_ephemeral");
  expect_fault_at (f, "2.1", "POST", action,
                   "{\"rebuild\": {\"imageRef\": \"test-image\", "
                   "\"OS-DCF:diskConfig\": \"SOMETIMES\"}}", 400,
                   "OS-DCF:diskConfig");

  /* As tempest's test_rebuild_server sends it, at 2.1. */
  g_assert_cmpuint (call_at (f, "2.1", "POST", action,
                             "{\"rebuild\": {\"imageRef\": \"test-image\", "
                             "\"name\": \"nlxtest-rebuilt-2\", "
                             "\"metadata\": {\"rebuild\": \"server\"}, "
                             "\"adminPass\": \"rebuildPassw0rd\", "
                             "\"preserve_ephemeral\": false, "
                             "\"OS-DCF:diskConfig\": \"MANUAL\"}}",
                             &reply, NULL), ==, 202);
  server = nlx_test_object_at (reply, "server");
  g_assert_cmpstr (json_object_get_string_member (server, "id"), ==, id);
  g_assert_cmpstr (json_object_get_string_member (server, "name"), ==,
                   "nlxtest-rebuilt-2");
  g_assert_false (json_object_has_member (server, "adminPass"));
  nlx_test_wait_for_status (f->session, id, "ACTIVE");

  /* At the highest version, with what 2.54, 2.57 and 2.90 add: the whole
   * server as show has it (show is seen after, so only the state may
   * differ). */
  g_assert_cmpuint (call_at (f, "latest", "POST", action,
                             "{\"rebuild\": {\"imageRef\": \"test-image\", "
                             "\"key_name\": \"nlxtest-k\", "
                             "\"user_data\": \"YQ==\", "
                             "\"hostname\": \"nlxtest-r\"}}",
                             &latest, NULL), ==, 202);
  server = nlx_test_object_at (latest, "server");
  g_assert_false (json_object_has_member (server, "adminPass"));
  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  g_assert_cmpuint (call_at (f, "latest", "GET", path, NULL, &shown, NULL),
                    ==, 200);
  show = nlx_test_object_at (shown, "server");
  /* Show's members but for user_data, which a rebuild names as
   * "user_data" and show as "OS-EXT-SRV-ATTR:user_data" (tempest's
   * 2.75 rebuild schema). */
  members = json_object_get_members (show);
  for (GList *l = members; l != NULL; l = l->next)
    if (!g_str_equal (l->data, "progress") &&
        !g_str_equal (l->data, "OS-EXT-SRV-ATTR:user_data"))
      g_assert_true (json_object_has_member (server, l->data));
  g_clear_pointer (&members, g_list_free);
  members = json_object_get_members (server);
  for (GList *l = members; l != NULL; l = l->next)
    if (!g_str_equal (l->data, "progress") &&
        !g_str_equal (l->data, "user_data"))
      g_assert_true (json_object_has_member (show, l->data));
  g_assert_true (json_object_has_member (server, "user_data"));
  g_assert_false (json_object_has_member (server, "OS-EXT-SRV-ATTR:user_data"));
  g_assert_cmpstr (json_object_get_string_member (server, "key_name"), ==,
                   "nlxtest-k");
  g_assert_cmpstr (json_object_get_string_member (
                     record_of (f, id, &record), "hostname"), ==, "nlxtest-r");

  nlx_test_delete_and_wait (f->session, id);
  g_assert_cmpuint (nlx_test_call (f->session, "DELETE",
                                   "/v2.1/os-keypairs/nlxtest-k", NULL, NULL),
                    ==, 202);
}

/* Actions on a server in the wrong state are 409, as Nova's
 * InstanceInvalidState; restore is 409 (nothing is soft-deleted here);
 * forceDelete deletes; the plain actions answer 202 with no body, as
 * tempest's server_actions_common_schema. */
static void
test_action_states (Fixture *f,
                    gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *id = nlx_test_create (f->session, "nlxtest-states",
                                         "test-image", NULL);
  g_autofree char *action = g_strconcat ("/v2.1/servers/", id, "/action",
                                         NULL);
  g_autofree char *path = g_strconcat ("/v2.1/servers/", id, NULL);
  static const char * const versions[] = { "2.1", "2.96" };

  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  for (gsize i = 0; i < G_N_ELEMENTS (versions); i++)
    {
      const char *version = versions[i];
      g_autoptr(JsonNode) reply = NULL;
      g_autoptr(JsonNode) console = NULL;

      expect_fault_at (f, version, "POST", action, "{\"restore\": null}", 409,
                       "Cannot 'restore' instance");
      expect_fault_at (f, version, "POST", action, "{\"os-start\": null}",
                       409, "");
      expect_fault_at (f, version, "POST", action, "{\"unpause\": null}",
                       409, "");
      expect_fault_at (f, version, "POST", action,
                       "{\"reboot\": {\"type\": \"GENTLE\"}}", 400, "SOFT");
      expect_fault_at (f, version, "POST", action,
                       "{\"nlxtest-dance\": null}", 400, "not supported");

      g_assert_cmpuint (call_at (f, version, "POST", action,
                                 "{\"os-getConsoleOutput\": {\"length\": 5}}",
                                 &console, NULL), ==, 200);
      assert_tempest_schema ("v2_1.servers", "get_console_output", 200,
                             console);

      g_assert_cmpuint (call_at (f, version, "POST", action,
                                 "{\"pause\": null}", &reply, NULL), ==, 202);
      g_assert_null (reply);
      assert_tempest_schema ("v2_1.servers", "server_actions_common_schema",
                             202, NULL);
      nlx_test_wait_for_status (f->session, id, "PAUSED");
      expect_fault_at (f, version, "POST", action, "{\"pause\": null}", 409,
                       "");
      g_assert_cmpuint (call_at (f, version, "POST", action,
                                 "{\"unpause\": null}", &reply, NULL), ==, 202);
      nlx_test_wait_for_status (f->session, id, "ACTIVE");
      g_assert_cmpuint (call_at (f, version, "POST", action,
                                 "{\"os-stop\": null}", &reply, NULL), ==, 202);
      g_assert_null (reply);
      nlx_test_wait_for_status (f->session, id, "SHUTOFF");
      expect_fault_at (f, version, "POST", action, "{\"os-stop\": null}", 409,
                       "");
      expect_fault_at (f, version, "POST", action, "{\"pause\": null}", 409,
                       "");
      g_assert_cmpuint (call_at (f, version, "POST", action,
                                 "{\"os-start\": null}", &reply, NULL), ==, 202);
      nlx_test_wait_for_status (f->session, id, "ACTIVE");
      g_assert_cmpuint (call_at (f, version, "POST", action,
                                 "{\"reboot\": {\"type\": \"soft\"}}", &reply,
                                 NULL), ==, 202);
      g_assert_null (reply);
      nlx_test_wait_for_status (f->session, id, "ACTIVE");
    }

  expect_fault_at (f, "2.1", "POST", action, "{\"forceDelete\": {\"x\": 1}}",
                   400, "takes no arguments");
  {
    g_autoptr(JsonNode) reply = NULL;
    gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

    g_assert_cmpuint (call_at (f, "2.96", "POST", action,
                               "{\"forceDelete\": null}", &reply, NULL),
                      ==, 202);
    g_assert_null (reply);
    while (nlx_test_call (f->session, "GET", path, NULL, NULL) != 404)
      {
        g_assert_cmpint (g_get_monotonic_time (), <, deadline);
        g_usleep (20 * 1000);
      }
  }
}

/* The server's locked and locked_reason at @version (2.73+ for the
 * reason; NULL when null or absent). */
static gboolean
locked_at (Fixture *f,
           const char *version,
           const char *path,
           char **reason)
{
  g_autoptr(JsonNode) reply = NULL;
  JsonObject *server;
  JsonNode *node;

  g_assert_cmpuint (call_at (f, version, "GET", path, NULL, &reply, NULL), ==,
                    200);
  server = nlx_test_object_at (reply, "server");
  node = json_object_get_member (server, "locked_reason");
  if (reason != NULL)
    *reason = node && !JSON_NODE_HOLDS_NULL (node)
              ? g_strdup (json_node_get_string (node)) : NULL;
  return json_object_get_boolean_member (server, "locked");
}

/* How many servers ?@query lists at 2.73. */
static guint
count_listed (Fixture *f,
              const char *query)
{
  g_autofree char *path = g_strconcat ("/v2.1/servers?", query, NULL);
  g_autoptr(JsonNode) reply = NULL;

  g_assert_cmpuint (call_at (f, "2.73", "GET", path, NULL, &reply, NULL), ==,
                    200);
  return json_array_get_length (
           json_object_get_array_member (json_node_get_object (reply),
                                         "servers"));
}

/* lock and unlock, as Nova's lock_server: 202 with no body; locked (2.9+)
 * and locked_reason (2.73+) shown from the record and kept across a
 * restart; the reason only from 2.73, checked there; the ?locked= list
 * filter (2.73+).  The Unix socket's caller is an admin, whom a lock
 * does not stop (the non-admin side: tests/test-api-keystone). */
static void
test_lock (Fixture *f,
           gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *id = nlx_test_create (f->session, "nlxtest-lock",
                                         "test-image", NULL);
  g_autofree char *action = g_strconcat ("/v2.1/servers/", id, "/action",
                                         NULL);
  g_autofree char *path = g_strconcat ("/v2.1/servers/", id, NULL);
  g_autofree char *reason = NULL;
  g_autoptr(JsonNode) reply = NULL;

  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  g_assert_false (locked_at (f, "2.73", path, &reason));
  g_assert_null (reason);

  /* 2.1: null body; any value is taken, a reason ignored. */
  g_assert_cmpuint (call_at (f, "2.1", "POST", action, "{\"lock\": null}",
                             &reply, NULL), ==, 202);
  g_assert_null (reply);
  assert_tempest_schema ("v2_1.servers", "server_actions_common_schema", 202,
                         NULL);
  g_assert_true (locked_at (f, "2.9", path, NULL));
  g_assert_cmpuint (call_at (f, "2.72", "POST", action,
                             "{\"lock\": {\"locked_reason\": \"ignored\"}}",
                             &reply, NULL), ==, 202);
  g_assert_true (locked_at (f, "2.73", path, &reason));
  g_assert_null (reason);
  g_assert_cmpuint (count_listed (f, "locked=true"), ==, 1);
  g_assert_cmpuint (count_listed (f, "locked=false"), ==, 0);
  expect_fault_at (f, "2.73", "GET", "/v2.1/servers?locked=maybe", NULL, 400,
                   "locked");

  /* An admin (the socket's caller) may still act on a locked server. */
  g_assert_cmpuint (call_at (f, "2.1", "POST", action, "{\"pause\": null}",
                             &reply, NULL), ==, 202);
  nlx_test_wait_for_status (f->session, id, "PAUSED");
  g_assert_cmpuint (call_at (f, "2.1", "POST", action, "{\"unpause\": null}",
                             &reply, NULL), ==, 202);
  nlx_test_wait_for_status (f->session, id, "ACTIVE");

  /* Unlock: any value; then no lock, no reason. */
  g_assert_cmpuint (call_at (f, "2.1", "POST", action, "{\"unlock\": null}",
                             &reply, NULL), ==, 202);
  g_assert_null (reply);
  g_assert_false (locked_at (f, "2.96", path, &reason));
  g_assert_null (reason);
  g_assert_cmpuint (count_listed (f, "locked=0"), ==, 1);
  g_assert_cmpuint (count_listed (f, "locked=TRUE"), ==, 0);

  /* 2.73: the reason is checked and kept; a bad body changes nothing. */
  expect_fault_at (f, "2.73", "POST", action,
                   "{\"lock\": {\"locked_reason\": \"\"}}", 400,
                   "locked_reason");
  expect_fault_at (f, "2.73", "POST", action,
                   "{\"lock\": {\"locked_reason\": 7}}", 400,
                   "locked_reason");
  expect_fault_at (f, "2.73", "POST", action,
                   "{\"lock\": {\"why\": \"x\"}}", 400, "why");
  expect_fault_at (f, "2.73", "POST", action, "{\"lock\": 5}", 400, "lock");
  g_assert_false (locked_at (f, "2.73", path, NULL));
  g_assert_cmpuint (call_at (f, "2.73", "POST", action,
                             "{\"lock\": {\"locked_reason\": \"nlxtest "
                             "maintenance\"}}", &reply, NULL), ==, 202);
  g_assert_true (locked_at (f, "2.73", path, &reason));
  g_assert_cmpstr (reason, ==, "nlxtest maintenance");
  g_clear_pointer (&reason, g_free);

  /* Kept on disk. */
  nlx_test_daemon_stop (&f->daemon);
  nlx_test_daemon_start (&f->daemon, f->config_text);
  g_assert_no_error (f->daemon.start_error);
  g_assert_true (locked_at (f, "2.73", path, &reason));
  g_assert_cmpstr (reason, ==, "nlxtest maintenance");
  g_clear_pointer (&reason, g_free);

  /* Before 2.9 no lock is shown; an admin deletes a locked server. */
  g_assert_cmpuint (call_at (f, "2.8", "GET", path, NULL, &reply, NULL), ==,
                    200);
  g_assert_false (json_object_has_member (nlx_test_object_at (reply, "server"),
                                          "locked"));
  g_clear_pointer (&reply, json_node_unref);
  nlx_test_delete_and_wait (f->session, id);
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_summary ("The Compute API on the fake driver: server create bodies "
                  "and server actions at each microversion where Nova "
                  "changed them.");
  /* Failed operations are logged as warnings, and some tests fail them
   * on purpose. */
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/nlx/api/microversions/create-networks", test_create_networks);
  ADD ("/nlx/api/microversions/create-fields", test_create_fields);
  ADD ("/nlx/api/microversions/create-image", test_create_image);
  ADD ("/nlx/api/microversions/create-backup", test_create_backup);
  ADD ("/nlx/api/microversions/rebuild", test_rebuild);
  ADD ("/nlx/api/microversions/action-states", test_action_states);
  ADD ("/nlx/api/microversions/lock", test_lock);
#undef ADD

  return g_test_run ();
}
