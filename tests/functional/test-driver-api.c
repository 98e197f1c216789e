/* test-driver-api.c: the driver API's create (docs/api.md, "The driver
 * API") on real libvirt LXC: a server with the uuid, flavor and
 * interface a Nova driver gives, on a bridge the daemon does not own.
 *
 * The bridge is the case's own, made here under the name the compute
 * fixture gives a neighbour daemon's bridge (nlxn<6 hex>), which its
 * teardown removes with its nftables tables even when the case fails.
 * The interface's subnet is TEST-NET-1 (192.0.2.0/24, RFC 5737): the
 * host has no address on that bridge, so no route of the host changes
 * and no packet leaves it. */
#include "config.h"

#include <string.h>

#include "lib/nlx-compute-fixture.h"
#include "lib/nlx-test-client.h"
#include "lib/nlx-test-tools.h"

#define MAC "fa:16:3e:5a:6b:7c"
#define ADDRESS "192.0.2.10"
#define GATEWAY "192.0.2.1"

/* Whether `nft list chain bridge nova_lxc_BRIDGE port_VETH` succeeds, and
 * what it prints. */
static gboolean
port_rules (const char *bridge,
            const char *veth,
            char **out)
{
  g_autofree char *table = g_strconcat ("nova_lxc_", bridge, NULL);
  g_autofree char *chain = g_strconcat ("port_", veth, NULL);
  const char *argv[] = {
    "nft", "list", "chain", "bridge", table, chain, NULL
  };
  int status;

  return g_spawn_sync (NULL, (char **) argv, NULL,
                       G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL, NULL,
                       NULL, out, NULL, &status, NULL) &&
         g_spawn_check_wait_status (status, NULL);
}

/* Nova's uuid is the server's and its domain's; the container's eth0 has
 * the given MAC and address and a default route by the given gateway;
 * its veth is a port of the given bridge (not the daemon's) with port
 * rules for that MAC and address; the inline flavor shows as Nova's;
 * delete removes the domain and the rules and leaves the bridge. */
static void
test_driver_vif (Fixture *f)
{
  g_autofree char *uuid = g_uuid_string_random ();
  g_autofree char *bridge = neighbour_bridge (f);
  g_autofree char *veth = g_strdup_printf ("nlx-%.8s", uuid);
  g_autofree char *port = g_strdup_printf ("/sys/class/net/%s/brif/%s",
                                           bridge, veth);
  g_autofree char *own_port = g_strdup_printf ("/sys/class/net/%s/brif/%s",
                                               f->bridge, veth);
  g_autofree char *bridge_path = g_build_filename ("/sys/class/net", bridge,
                                                   "bridge", NULL);
  g_autofree char *body = NULL;
  g_autofree char *rules = NULL;
  g_autofree char *addresses_text = NULL;
  g_autoptr(JsonNode) reply = NULL;
  JsonObject *server, *flavor, *addresses;

  nlx_test_run_command ((const char * const []) {
    "ip", "link", "add", bridge, "type", "bridge", NULL });
  nlx_test_run_command ((const char * const []) {
    "ip", "link", "set", bridge, "up", NULL });
  nlx_test_session_set_version (f->session, "2.96");

  body = g_strdup_printf (
    "{\"server\": {\"name\": \"nlxtest-driver\", \"imageRef\": \"" IMAGE "\", "
    "\"networks\": \"none\", \"nova_lxc:driver\": {\"uuid\": \"%s\", "
    "\"flavor\": {\"name\": \"nlxtest-nova-flavor\", \"vcpus\": 1, "
    "\"ram\": 128, \"disk\": 0, \"extra_specs\": {\"hw:cpu_policy\": "
    "\"shared\"}}, \"vif\": {\"bridge\": \"%s\", \"mac\": \"" MAC "\", "
    "\"address\": \"" ADDRESS "\", \"prefix\": 24, \"gateway\": \"" GATEWAY
    "\"}, \"project_id\": \"nlxtest-project\", \"user_id\": "
    "\"nlxtest-user\"}}}", uuid, bridge);
  g_assert_cmpint (nlx_test_call (f->session, "POST", "/v2.1/servers", body,
                                  &reply), ==, 202);
  g_assert_cmpstr (json_object_get_string_member (
                     nlx_test_object_at (reply, "server"), "id"), ==, uuid);
  nlx_test_wait_for_status (f->session, uuid, "ACTIVE");
  g_assert_cmpint (domain_running (f, uuid), ==, 1);

  assert_in_container (f, uuid, "ip -4 -o addr show dev eth0 | "
                                "awk '{ print $4 }'", 0, ADDRESS "/24");
  assert_in_container (f, uuid, "cat /sys/class/net/eth0/address", 0, MAC);
  assert_in_container (f, uuid, "ip route | grep ^default | cut -d' ' -f1-5",
                       0, "default via " GATEWAY " dev eth0");

  g_assert_true (g_file_test (port, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (own_port, G_FILE_TEST_EXISTS));
  /* Someone else's bridge gets no address of the daemon's (its own gets
   * the gateway's): the host's routes stay as they were. */
  addresses_text = host_output ((const char * const []) {
    "ip", "-4", "-o", "addr", "show", "dev", bridge, NULL });
  g_assert_cmpstr (addresses_text, ==, "");
  g_assert_true (port_rules (bridge, veth, &rules));
  g_assert_nonnull (strstr (rules, MAC));
  g_assert_nonnull (strstr (rules, ADDRESS));

  g_clear_pointer (&reply, json_node_unref);
  reply = nlx_test_show (f->session, uuid);
  server = nlx_test_object_at (reply, "server");
  flavor = json_object_get_object_member (server, "flavor");
  g_assert_cmpstr (json_object_get_string_member (flavor, "original_name"),
                   ==, "nlxtest-nova-flavor");
  g_assert_cmpint (json_object_get_int_member (flavor, "ram"), ==, 128);
  addresses = json_object_get_object_member (server, "addresses");
  g_assert_true (json_object_has_member (addresses, bridge));
  g_assert_cmpstr (json_object_get_string_member (server, "tenant_id"), ==,
                   "nlxtest-project");

  delete_and_check (f, uuid);
  g_assert_false (g_file_test (port, G_FILE_TEST_EXISTS));
  g_clear_pointer (&rules, g_free);
  g_assert_false (port_rules (bridge, veth, &rules));
  /* The bridge is not the daemon's to remove. */
  g_assert_true (g_file_test (bridge_path, G_FILE_TEST_IS_DIR));
}

int
main (int argc,
      char **argv)
{
  static const Case cases[] = {
    { "/nlx/driver-api/vif", test_driver_vif },
  };

  return run_cases (&argc, &argv,
                    "The driver API's create on real libvirt LXC: Nova's "
                    "uuid, an inline flavor and an interface on a bridge "
                    "the daemon does not own.",
                    cases, G_N_ELEMENTS (cases));
}
