/* test-api-driver.c: the Compute API and the manager, over HTTP, on the
 * fake driver: the driver API's create (docs/api.md, "The driver API"):
 * Nova's uuid, the flavor inline, the interface Neutron allocated, only
 * over the Unix socket, and every refusal making nothing.
 *
 * The interface's bridge must exist.  Run as root, the test moves itself
 * into a network namespace of its own before anything starts, and makes
 * its bridges there: they go with the process, whatever happens, and the
 * host's interfaces are never touched.  Without root the cases that need
 * one are skipped. */
#include "config.h"

#include <sched.h>
#include <unistd.h>

#include "lib/nlx-api-fixture.h"
#include "model/nlx-metadata.h"
#include "model/nlx-record.h"
#include "lib/nlx-test-client.h"
#include "lib/nlx-test-tools.h"

#define OWN_BRIDGE "nlxtestown0"
#define BRIDGE "nlxtestfor0"
#define VETH "nlxtestveth0"
#define UUID "8d3c2a1e-4b5f-4c6d-9e7f-0a1b2c3d4e5f"
#define CONFIG \
  "[network]\nbridge = " OWN_BRIDGE "\n" \
  "[api]\nlisten = 127.0.0.1:0\nauth_token = s3cret-t0ken\n"

static gboolean have_bridges;

/* An instance's key as Nova has it (key_name and key_data). */
#define KEY \
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEOhR3s2cPaL1vcn6LMdlHkjYQk/O4Zpd6TzNR0Sj0w/ alice@example"
#define DRIVER_KEY \
  "\"key_name\": \"nova-key\", \"key_data\": \"" KEY "\\n\""

#define FLAVOR \
  "\"flavor\": {\"name\": \"nova-custom\", \"vcpus\": 1, \"ram\": 64, " \
  "\"disk\": 1, \"extra_specs\": {\"nova_lxc:pids\": \"200\", " \
  "\"hw:cpu_policy\": \"dedicated\"}}"
#define VIF \
  "\"vif\": {\"bridge\": \"" BRIDGE "\", \"mac\": \"FA:16:3E:12:34:56\", " \
  "\"address\": \"192.0.2.10\", \"prefix\": 24, \"gateway\": \"192.0.2.1\"}"
#define DRIVER_BODY(driver, extra) \
  "{\"server\": {\"name\": \"nlxtest-nova\", \"imageRef\": \"test-image\", " \
  "\"networks\": \"none\"" extra ", \"nova_lxc:driver\": {" driver "}}}"

static void
set_up (Fixture *f,
        gconstpointer data)
{
  fixture_set_up (f, data);
  nlx_test_session_set_version (f->session, "2.96");
}

/* The daemon's allocations file, as text ("" when there is none yet). */
static char *
allocations (Fixture *f)
{
  g_autofree char *path = g_build_filename (f->dir, "state", "network",
                                            "addresses.json", NULL);
  char *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return g_strdup ("");
  return text;
}

/* A delete's address is released once the record is gone, and the pool
 * is written off the main loop after that: the 404 may come first.  Waits
 * for the file to lose @uuid (at most a minute), then checks it has. */
static void
assert_released (Fixture *f,
                 const char *uuid)
{
  g_autofree char *text = allocations (f);

  for (guint i = 0; i < 3000 && strstr (text, uuid) != NULL; i++)
    {
      g_usleep (20 * 1000);
      g_free (text);
      text = allocations (f);
    }
  g_assert_null (strstr (text, uuid));
}

/* POSTs @body, expects @status with @pattern in the fault's message, and
 * that nothing was made: no server, no allocation. */
static void
expect_refused (Fixture *f,
                const char *body,
                guint status,
                const char *pattern)
{
  g_autoptr(JsonNode) reply = NULL;
  g_autofree char *before = allocations (f);
  g_autofree char *after = NULL;
  guint servers = server_count (f);
  const char *name = status == 409 ? "conflictingRequest"
                     : status == 403 ? "forbidden" : "badRequest";
  const char *message;

  g_test_message ("POST /v2.1/servers %s", body);
  g_assert_cmpint (nlx_test_call (f->session, "POST", "/v2.1/servers", body,
                                  &reply), ==, status);
  message = json_object_get_string_member (nlx_test_object_at (reply, name),
                                           "message");
  if (!g_pattern_match_simple (pattern, message))
    g_error ("“%s” does not match “%s”", message, pattern);
  g_assert_cmpuint (server_count (f), ==, servers);
  after = allocations (f);
  g_assert_cmpstr (after, ==, before);
}

/* Over TCP "nova_lxc:driver" is refused whoever asks, the token's holder
 * too, before anything else is read. */
static void
test_driver_tcp (Fixture *f,
                 gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *base = g_strdup_printf ("http://127.0.0.1:%u",
                                           f->daemon.tcp_port);
  g_autoptr(SoupSession) tcp = NULL;
  g_autoptr(JsonNode) reply = NULL;
  const char *message;

  g_assert_cmpuint (f->daemon.tcp_port, >, 0);
  tcp = soup_session_new ();
  nlx_test_session_set_version (tcp, "2.96");
  g_assert_cmpint (nlx_test_call_full (tcp, base, "POST", "/v2.1/servers",
                                       DRIVER_BODY ("\"uuid\": \"" UUID "\", "
                                                    FLAVOR ", " VIF, ""),
                                       "X-Auth-Token", "s3cret-t0ken", &reply,
                                       NULL), ==, 403);
  message = json_object_get_string_member (
    nlx_test_object_at (reply, "forbidden"), "message");
  g_assert_nonnull (strstr (message, "nova_lxc:driver"));
  g_assert_nonnull (strstr (message, "Unix socket"));
  g_assert_cmpuint (server_count (f), ==, 0);
}

/* What the contract refuses, each with 400 (or 409) and nothing made. */
static void
test_driver_refused (Fixture *f,
                     gconstpointer data G_GNUC_UNUSED)
{
  static const struct {
    const char *driver;
    const char *extra;
    const char *pattern;
  } cases[] = {
    { "\"uuid\": \"" UUID "\", " FLAVOR, ", \"flavorRef\": \"m1.tiny\"",
      "*leave out “flavorRef”*" },
    { "\"uuid\": \"not-a-uuid\", " FLAVOR, "", "*not a UUID*" },
    { FLAVOR, "", "*“uuid” is a required property*" },
    { "\"uuid\": \"" UUID "\", " FLAVOR, ", \"max_count\": 2",
      "*one server*" },
    { "\"uuid\": \"" UUID "\", " FLAVOR ", \"nlxtest\": 1", "",
      "*nlxtest*" },
    { "\"uuid\": \"" UUID "\"", "", "*flavor” is a required property*" },
    { "\"uuid\": \"" UUID "\", \"flavor\": {\"name\": \"x\", \"vcpus\": 0, "
      "\"ram\": 64, \"disk\": 1}", "", "*flavor.vcpus*from 1*" },
    { "\"uuid\": \"" UUID "\", \"flavor\": {\"name\": \"x\", \"vcpus\": 1, "
      "\"disk\": 1}", "", "*flavor.ram” is a required property*" },
    { "\"uuid\": \"" UUID "\", \"flavor\": {\"name\": \"x\", \"vcpus\": 1, "
      "\"ram\": 64, \"disk\": -1}", "", "*flavor.disk*from 0*" },
    { "\"uuid\": \"" UUID "\", \"flavor\": {\"name\": \"\", \"vcpus\": 1, "
      "\"ram\": 64, \"disk\": 1}", "", "*flavor name*" },
    { "\"uuid\": \"" UUID "\", \"flavor\": {\"name\": \"x\", \"vcpus\": 1, "
      "\"ram\": 64, \"disk\": 1, \"swap\": 0}", "", "*swap*" },
    { "\"uuid\": \"" UUID "\", \"flavor\": {\"name\": \"x\", \"vcpus\": 1, "
      "\"ram\": 64, \"disk\": 1, \"extra_specs\": {\"nova_lxc:pids\": "
      "\"0\"}}", "", "*nova_lxc:pids*from 1*" },
    { "\"uuid\": \"" UUID "\", \"flavor\": {\"name\": \"x\", \"vcpus\": 1, "
      "\"ram\": 64, \"disk\": 1, \"extra_specs\": {\"quota:cpu_shares\": "
      "\"1\"}}", "", "*quota:cpu_shares*from 2*" },
    { "\"uuid\": \"" UUID "\", \"flavor\": {\"name\": \"x\", \"vcpus\": 1, "
      "\"ram\": 64, \"disk\": 1, \"extra_specs\": {\"nova_lxc:seccomp\": "
      "\"off\"}}", "", "*nova_lxc:seccomp*" },
    { "\"uuid\": \"" UUID "\", \"flavor\": {\"name\": \"x\", \"vcpus\": 1, "
      "\"ram\": 64, \"disk\": 1, \"extra_specs\": {\"nova_lxc:privileged\": "
      "\"maybe\"}}", "", "*“true” or “false”*" },
    { "\"uuid\": \"" UUID "\", \"flavor\": {\"name\": \"x\", \"vcpus\": 1, "
      "\"ram\": 64, \"disk\": 1, \"extra_specs\": {\"nova_lxc:pidz\": "
      "\"10\"}}", "", "*nova_lxc:pidz*not one nova-lxc knows*" },
    { "\"uuid\": \"" UUID "\", \"flavor\": {\"name\": \"x\", \"vcpus\": 1, "
      "\"ram\": 64, \"disk\": 1, \"extra_specs\": {\"hw:mem_page_size\": "
      "2048}}", "", "*must be a string*" },
    { "\"uuid\": \"" UUID "\", " FLAVOR ", \"vif\": {\"bridge\": \"" BRIDGE
      "\", \"mac\": \"01:00:5e:00:00:01\", \"address\": \"192.0.2.10\", "
      "\"prefix\": 24, \"gateway\": null}", "", "*01:00:5e:00:00:01*unicast*" },
    { "\"uuid\": \"" UUID "\", " FLAVOR ", \"vif\": {\"bridge\": \"" BRIDGE
      "\", \"mac\": \"00:00:00:00:00:00\", \"address\": \"192.0.2.10\", "
      "\"prefix\": 24}", "", "*not all zero*" },
    { "\"uuid\": \"" UUID "\", " FLAVOR ", \"vif\": {\"bridge\": \"" BRIDGE
      "\", \"mac\": \"fa:16:3e:zz:00:01\", \"address\": \"192.0.2.10\", "
      "\"prefix\": 24}", "", "*fa:16:3e:zz:00:01*" },
    { "\"uuid\": \"" UUID "\", " FLAVOR ", \"vif\": {\"bridge\": \"" BRIDGE
      "\", \"mac\": \"fa:16:3e:00:00:01\", \"address\": \"192.0.2.300\", "
      "\"prefix\": 24}", "", "*192.0.2.300*IPv4*" },
    { "\"uuid\": \"" UUID "\", " FLAVOR ", \"vif\": {\"bridge\": \"" BRIDGE
      "\", \"mac\": \"fa:16:3e:00:00:01\", \"address\": \"192.0.2.10\", "
      "\"prefix\": 31}", "", "*vif.prefix*8 to 30*" },
    { "\"uuid\": \"" UUID "\", " FLAVOR ", \"vif\": {\"bridge\": \"" BRIDGE
      "\", \"mac\": \"fa:16:3e:00:00:01\", \"address\": \"192.0.2.10\", "
      "\"prefix\": 24, \"gateway\": \"198.51.100.1\"}", "",
      "*192.0.2.10/24*host address*" },
    { "\"uuid\": \"" UUID "\", " FLAVOR ", \"vif\": {\"bridge\": \"" BRIDGE
      "\", \"mac\": \"fa:16:3e:00:00:01\", \"address\": \"192.0.2.0\", "
      "\"prefix\": 24}", "", "*192.0.2.0/24*host address*" },
    { "\"uuid\": \"" UUID "\", " FLAVOR ", \"vif\": {\"bridge\": \"bad/name\", "
      "\"mac\": \"fa:16:3e:00:00:01\", \"address\": \"192.0.2.10\", "
      "\"prefix\": 24}", "", "*bad/name*not a bridge name*" },
    /* The bridge must exist; the daemon's own is its pool's. */
    { "\"uuid\": \"" UUID "\", " FLAVOR ", \"vif\": {\"bridge\": "
      "\"nlxtestnone0\", \"mac\": \"fa:16:3e:00:00:01\", \"address\": "
      "\"192.0.2.10\", \"prefix\": 24}", "",
      "*Bridge nlxtestnone0 does not exist*" },
    { "\"uuid\": \"" UUID "\", " FLAVOR ", \"vif\": {\"bridge\": \""
      OWN_BRIDGE "\", \"mac\": \"fa:16:3e:00:00:01\", \"address\": "
      "\"192.0.2.10\", \"prefix\": 24}", "",
      "*Bridge " OWN_BRIDGE " is this daemon's own*" },
    /* The instance's key: checked as a key pair's import checks it. */
    { "\"uuid\": \"" UUID "\", " FLAVOR ", \"key_name\": \"nova-key\", "
      "\"key_data\": \"ssh-ed25519 AAAAnot-base64 alice@example\"", "",
      "*nova_lxc:driver.key_data”: Keypair data is invalid*base64*" },
    { "\"uuid\": \"" UUID "\", " FLAVOR ", \"key_name\": \"nova-key\", "
      "\"key_data\": \"ssh-dss AAAAB3NzaC1kc3MAAACBAP\"", "",
      "*key_data”*key type “ssh-dss”*" },
    { "\"uuid\": \"" UUID "\", " FLAVOR ", \"key_name\": \"nova-key\", "
      "\"key_data\": \"" KEY "\\n" KEY "\"", "",
      "*key_data”*one OpenSSH line*" },
    { "\"uuid\": \"" UUID "\", " FLAVOR ", \"key_name\": \"nova-key\", "
      "\"key_data\": 7", "", "*key_data*string*" },
    { "\"uuid\": \"" UUID "\", " FLAVOR ", \"key_data\": \"" KEY "\"", "",
      "*give both or neither*" },
    { "\"uuid\": \"" UUID "\", " FLAVOR ", \"key_name\": \"nova-key\"", "",
      "*give both or neither*" },
    { "\"uuid\": \"" UUID "\", " FLAVOR ", \"key_name\": \"bad/key\", "
      "\"key_data\": \"" KEY "\"", "",
      "*nova_lxc:driver.key_name”: *key pair name*" },
    { "\"uuid\": \"" UUID "\", " FLAVOR ", " DRIVER_KEY,
      ", \"key_name\": \"nova-key\"", "*leave out the server's “key_name”*" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *body =
        g_strdup_printf ("{\"server\": {\"name\": \"nlxtest-nova\", "
                         "\"imageRef\": \"test-image\", \"networks\": "
                         "\"none\"%s, \"nova_lxc:driver\": {%s}}}",
                         cases[i].extra, cases[i].driver);

      expect_refused (f, body, 400, cases[i].pattern);
    }
  if (have_bridges)
    expect_refused (f, DRIVER_BODY ("\"uuid\": \"" UUID "\", " FLAVOR ", "
                                    "\"vif\": {\"bridge\": \"" VETH "\", "
                                    "\"mac\": \"fa:16:3e:00:00:01\", "
                                    "\"address\": \"192.0.2.10\", "
                                    "\"prefix\": 24}", ""),
                    400, "*" VETH " is a veth device, not a bridge*");
}

/* The server as Nova asked for it: its id is Nova's uuid, the flavor
 * shows as Nova shows an instance's (2.47+), its one address is the
 * given one on the given bridge, none of the daemon's pool is held, and
 * all of it survives a restart (the record holds the flavor no [flavor]
 * section names).  A second create of the uuid is 409; delete releases
 * nothing. */
static void
test_driver_create (Fixture *f,
                    gconstpointer data G_GNUC_UNUSED)
{
  g_autoptr(JsonNode) reply = NULL;
  g_autofree char *before = NULL;
  g_autofree char *text = NULL;
  JsonObject *server, *flavor, *specs, *addresses, *address;
  JsonArray *list;

  if (!have_bridges)
    {
      g_test_skip ("needs root, for a network namespace with a bridge");
      return;
    }
  before = allocations (f);
  g_assert_cmpint (nlx_test_call (f->session, "POST", "/v2.1/servers",
                                  DRIVER_BODY ("\"uuid\": \"" UUID "\", "
                                               FLAVOR ", " VIF ", "
                                               "\"project_id\": "
                                               "\"nlxtest-project\", "
                                               "\"user_id\": \"nlxtest-user\"",
                                               ""), &reply), ==, 202);
  g_assert_cmpstr (json_object_get_string_member (
                     nlx_test_object_at (reply, "server"), "id"), ==, UUID);
  nlx_test_wait_for_status (f->session, UUID, "ACTIVE");
  expect_refused (f, DRIVER_BODY ("\"uuid\": \"" UUID "\", " FLAVOR ", " VIF,
                                  ""), 409, "*" UUID " already exists*");

  for (guint round = 0; round < 2; round++)
    {
      g_clear_pointer (&reply, json_node_unref);
      reply = nlx_test_show (f->session, UUID);
      server = nlx_test_object_at (reply, "server");
      g_assert_cmpstr (json_object_get_string_member (server, "tenant_id"), ==,
                       "nlxtest-project");
      g_assert_cmpstr (json_object_get_string_member (server, "user_id"), ==,
                       "nlxtest-user");
      flavor = json_object_get_object_member (server, "flavor");
      g_assert_cmpstr (json_object_get_string_member (flavor,
                                                      "original_name"), ==,
                       "nova-custom");
      g_assert_cmpint (json_object_get_int_member (flavor, "vcpus"), ==, 1);
      g_assert_cmpint (json_object_get_int_member (flavor, "ram"), ==, 64);
      g_assert_cmpint (json_object_get_int_member (flavor, "disk"), ==, 1);
      specs = json_object_get_object_member (flavor, "extra_specs");
      g_assert_cmpstr (json_object_get_string_member (specs, "nova_lxc:pids"),
                       ==, "200");
      /* Nova's other specs mean nothing here, and are not kept. */
      g_assert_false (json_object_has_member (specs, "hw:cpu_policy"));
      addresses = json_object_get_object_member (server, "addresses");
      g_assert_cmpuint (json_object_get_size (addresses), ==, 1);
      list = json_object_get_array_member (addresses, BRIDGE);
      g_assert_cmpuint (json_array_get_length (list), ==, 1);
      address = json_array_get_object_element (list, 0);
      g_assert_cmpstr (json_object_get_string_member (address, "addr"), ==,
                       "192.0.2.10");
      g_assert_cmpstr (json_object_get_string_member (
                         address, "OS-EXT-IPS-MAC:mac_addr"), ==,
                       "fa:16:3e:12:34:56");
      /* The pool holds nothing for it, before and after the restart
       * (which rebuilds the pool from the records). */
      g_clear_pointer (&text, g_free);
      text = allocations (f);
      g_assert_null (strstr (text, UUID));
      g_assert_null (strstr (text, "192.0.2.10"));
      if (round == 0)
        {
          nlx_test_daemon_stop (&f->daemon);
          nlx_test_daemon_start (&f->daemon, f->config_text);
          g_assert_no_error (f->daemon.start_error);
          nlx_test_wait_for_status (f->session, UUID, "ACTIVE");
        }
    }

  nlx_test_delete_and_wait (f->session, UUID);
  assert_released (f, UUID);
}

/* vif null: no network, and nothing of the pool; no vif: the daemon's
 * own allocation, as "networks" says; a gateway may be null (no default
 * route). */
static void
test_driver_no_network (Fixture *f,
                        gconstpointer data G_GNUC_UNUSED)
{
  g_autoptr(JsonNode) reply = NULL;
  g_autofree char *text = NULL;
  const char *other = "0b1d4f6e-5a3c-4e8f-9d2a-7c6b5e4f3a21";

  g_assert_cmpint (nlx_test_call (f->session, "POST", "/v2.1/servers",
                                  DRIVER_BODY ("\"uuid\": \"" UUID "\", "
                                               FLAVOR ", \"vif\": null", ""),
                                  &reply), ==, 202);
  nlx_test_wait_for_status (f->session, UUID, "ACTIVE");
  g_clear_pointer (&reply, json_node_unref);
  reply = nlx_test_show (f->session, UUID);
  g_assert_cmpuint (json_object_get_size (json_object_get_object_member (
                      nlx_test_object_at (reply, "server"), "addresses")),
                    ==, 0);
  text = allocations (f);
  g_assert_null (strstr (text, UUID));
  nlx_test_delete_and_wait (f->session, UUID);

  /* No "vif" at all: "networks" decides, and "auto" is the daemon's own
   * allocation on its own bridge, released by delete. */
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (nlx_test_call (f->session, "POST", "/v2.1/servers",
                                  "{\"server\": {\"name\": \"nlxtest-nova\", "
                                  "\"imageRef\": \"test-image\", \"networks\": "
                                  "\"auto\", \"nova_lxc:driver\": {\"uuid\": \""
                                  UUID "\", " FLAVOR "}}}", &reply), ==, 202);
  nlx_test_wait_for_status (f->session, UUID, "ACTIVE");
  g_clear_pointer (&reply, json_node_unref);
  reply = nlx_test_show (f->session, UUID);
  g_assert_true (json_object_has_member (json_object_get_object_member (
                   nlx_test_object_at (reply, "server"), "addresses"),
                   OWN_BRIDGE));
  g_clear_pointer (&text, g_free);
  text = allocations (f);
  g_assert_nonnull (strstr (text, UUID));
  nlx_test_delete_and_wait (f->session, UUID);
  assert_released (f, UUID);

  if (!have_bridges)
    return;
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (nlx_test_call (f->session, "POST", "/v2.1/servers",
                                  "{\"server\": {\"name\": \"nlxtest-nova\", "
                                  "\"imageRef\": \"test-image\", \"networks\": "
                                  "\"none\", \"nova_lxc:driver\": {\"uuid\": "
                                  "\"0B1D4F6E-5A3C-4E8F-9D2A-7C6B5E4F3A21\", "
                                  FLAVOR ", \"vif\": {\"bridge\": \"" BRIDGE
                                  "\", \"mac\": \"fa:16:3e:00:00:02\", "
                                  "\"address\": \"10.9.8.7\", \"prefix\": 8, "
                                  "\"gateway\": null}}}}", &reply), ==, 202);
  /* Nova's uuids are lower case; the record's is canonical. */
  g_assert_cmpstr (json_object_get_string_member (
                     nlx_test_object_at (reply, "server"), "id"), ==, other);
  nlx_test_wait_for_status (f->session, other, "ACTIVE");
  nlx_test_delete_and_wait (f->session, other);
}

/* Runs @argv, which must succeed. */
static gboolean
run (const char * const *argv)
{
  int status;

  return g_spawn_sync (NULL, (char **) argv, NULL,
                       G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL,
                       NULL, NULL, NULL, &status, NULL) &&
         g_spawn_check_wait_status (status, NULL);
}

/* A network namespace of the test's own, with its loopback up (the TCP
 * listener), a bridge and an interface that is not one. */
/* Nova's instance's key (key_name, key_data) without a key pair of the
 * daemon's: kept on the record, shown as the server's key_name, and given
 * to the instance by the metadata service and config drive as a key
 * pair's is (both read nlx_metadata_lookup() on the record's instance);
 * the key is stored without the blanks around it. */
static void
test_driver_key (Fixture *f,
                 gconstpointer data G_GNUC_UNUSED)
{
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(JsonParser) file = json_parser_new ();
  g_autoptr(NlxRecord) record = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *path = g_build_filename (f->dir, "state", "records",
                                            UUID ".json", NULL);
  g_autofree char *keys = NULL;
  JsonObject *meta, *public_keys;
  const char *type;

  g_assert_cmpint (nlx_test_call (f->session, "POST", "/v2.1/servers",
                                  DRIVER_BODY ("\"uuid\": \"" UUID "\", "
                                               FLAVOR ", " DRIVER_KEY, ""),
                                  &reply), ==, 202);
  nlx_test_wait_for_status (f->session, UUID, "ACTIVE");
  g_clear_pointer (&reply, json_node_unref);
  reply = nlx_test_show (f->session, UUID);
  g_assert_cmpstr (json_object_get_string_member (
                     nlx_test_object_at (reply, "server"), "key_name"), ==,
                   "nova-key");

  json_parser_load_from_file (file, path, &error);
  g_assert_no_error (error);
  record = nlx_record_new_from_node (json_parser_get_root (file), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (record->instance->key_name, ==, "nova-key");
  g_assert_cmpstr (record->instance->key_data, ==, KEY);

  body = nlx_metadata_lookup (record->instance,
                              "/openstack/latest/meta_data.json", &type,
                              &error);
  g_assert_no_error (error);
  json_parser_load_from_data (parser, g_bytes_get_data (body, NULL),
                              g_bytes_get_size (body), &error);
  g_assert_no_error (error);
  meta = json_node_get_object (json_parser_get_root (parser));
  public_keys = json_object_get_object_member (meta, "public_keys");
  g_assert_cmpuint (json_object_get_size (public_keys), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (public_keys, "nova-key"),
                   ==, KEY);
  g_clear_pointer (&body, g_bytes_unref);
  body = nlx_metadata_lookup (record->instance,
                              "/latest/meta-data/public-keys/0/openssh-key",
                              &type, &error);
  g_assert_no_error (error);
  keys = g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
  g_assert_cmpstr (keys, ==, KEY);

  nlx_test_delete_and_wait (f->session, UUID);
}

static gboolean
make_bridges (void)
{
  const char *lo[] = { "ip", "link", "set", "lo", "up", NULL };
  const char *bridge[] = {
    "ip", "link", "add", BRIDGE, "type", "bridge", NULL
  };
  /* No dummy: Debian's cloud kernels lack its module. */
  const char *veth[] = {
    "ip", "link", "add", VETH, "type", "veth", "peer", "name",
    "nlxtestveth1", NULL
  };

  if (geteuid () != 0 || unshare (CLONE_NEWNET) != 0)
    return FALSE;
  return run (lo) && run (bridge) && run (veth);
}

int
main (int argc,
      char **argv)
{
  /* Before any thread: unshare(CLONE_NEWNET) moves this thread only. */
  have_bridges = make_bridges ();
  g_test_init (&argc, &argv, NULL);
  g_test_summary ("The Compute API and the manager, over HTTP, on the fake "
                  "driver: the driver API's create (Nova's uuid, an inline "
                  "flavor, a given interface), only over the Unix socket.");
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR);

#define ADD(path, func, config) \
  g_test_add (path, Fixture, config, set_up, func, fixture_tear_down)
  ADD ("/nlx/api/driver/tcp", test_driver_tcp, CONFIG);
  ADD ("/nlx/api/driver/refused", test_driver_refused, CONFIG);
  /* Its servers outlive the daemon's restart, as a hypervisor's do. */
  ADD ("/nlx/api/driver/create", test_driver_create,
       CONFIG "[fake]\nshared = driver-create\n");
  ADD ("/nlx/api/driver/no-network", test_driver_no_network, CONFIG);
  ADD ("/nlx/api/driver/key", test_driver_key, CONFIG);
#undef ADD

  return g_test_run ();
}
