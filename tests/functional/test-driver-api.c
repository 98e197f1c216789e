/* test-driver-api.c: the driver API's create (docs/api.md, "The driver
 * API") on real libvirt LXC: a server with the uuid, flavor and
 * interface a Nova driver gives, on a bridge the daemon does not own.
 *
 * The vif case's bridge is its own, made here under the name the compute
 * fixture gives a neighbour daemon's bridge (nlxn<6 hex>), which its
 * teardown removes with its nftables tables even when the case fails.
 * The interface's subnet is TEST-NET-1 (192.0.2.0/24, RFC 5737): the
 * host has no address on that bridge, so no route of the host changes
 * and no packet leaves it. */
#include "config.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <linux/loop.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* A loop device over an ext4 image holding hello.txt, made with
 * losetup(8) as an operator (or os-brick) would, writable as attach
 * needs; autoclear and held open by *fd, so it goes with the case's
 * process and the daemon's last use, even when an assertion ends it. */
static char *
make_block_device (Fixture *f,
                   int *fd)
{
  g_autofree char *image = g_build_filename (f->dir, "blk.img", NULL);
  g_autofree char *tree = g_build_filename (f->dir, "blk-tree", NULL);
  g_autofree char *hello = g_build_filename (tree, "hello.txt", NULL);
  g_autoptr(GError) error = NULL;
  struct loop_info64 info;
  char *device;
  int image_fd;

  g_assert_cmpint (g_mkdir (tree, 0755), ==, 0);
  g_file_set_contents (hello, "hello from a device\n", -1, &error);
  g_assert_no_error (error);
  image_fd = open (image, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  g_assert_cmpint (image_fd, >=, 0);
  g_assert_cmpint (ftruncate (image_fd, 16 * 1024 * 1024), ==, 0);
  close (image_fd);
  nlx_test_run_command ((const char * const []) {
    "mkfs.ext4", "-q", "-F", "-d", tree, image, NULL });
  device = g_strstrip (host_output ((const char * const []) {
    "losetup", "--find", "--show", image, NULL }));
  *fd = open (device, O_RDONLY | O_CLOEXEC);
  g_assert_cmpint (*fd, >=, 0);
  g_assert_cmpint (ioctl (*fd, LOOP_GET_STATUS64, &info), ==, 0);
  info.lo_flags |= LO_FLAGS_AUTOCLEAR;
  g_assert_cmpint (ioctl (*fd, LOOP_SET_STATUS64, &info), ==, 0);
  return device;
}

/* A volume given as a host block device (under allowed_roots) is a
 * link to it, attached read-only as any volume, mounted where asked;
 * DELETE removes the link and leaves the device. */
static void
test_block_device (Fixture *f)
{
  g_autofree char *device = NULL;
  g_autofree char *body = NULL;
  g_autofree char *entry = NULL;
  g_autofree char *roots = NULL;
  g_autofree char *config = NULL;
  g_autofree char *id = NULL;
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *volume;
  struct stat st;
  int hold = -1;

  /* The roots: the volume directory and the loop devices. */
  daemon_stop (f, SIGTERM);
  g_file_get_contents (f->config, &config, NULL, &error);
  g_assert_no_error (error);
  roots = g_strdup_printf ("%s[volumes]\nallowed_roots = %s/volumes, "
                           "/dev/loop*\n", config, f->dir);
  g_file_set_contents (f->config, roots, -1, &error);
  g_assert_no_error (error);
  daemon_start (f);

  device = make_block_device (f, &hold);
  body = g_strdup_printf ("{\"volume\": {\"display_name\": "
                          "\"nlxtest-drv-blk\", \"block_device\": \"%s\"}}",
                          device);
  g_assert_cmpint (nlx_test_call (f->session, "POST", "/v2.1/os-volumes", body,
                                  &reply), ==, 200);
  volume = nlx_test_object_at (reply, "volume");
  g_assert_cmpstr (json_object_get_string_member (volume, "volumeType"), ==,
                   "block");
  entry = g_build_filename (f->dir, "volumes", "nlxtest-drv-blk", NULL);
  g_assert_cmpint (lstat (entry, &st), ==, 0);
  g_assert_true (S_ISLNK (st.st_mode));

  id = boot (f, "nlxtest-drv-blk-user");
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (attach (f, id, "nlxtest-drv-blk",
                           ", \"device\": \"/dev/vdb\", "
                           "\"mount_path\": \"/data\"", &reply), ==, 200);
  assert_in_container (f, id, "cat /data/hello.txt", 0,
                       "hello from a device");
  /* Read-only, as every volume. */
  assert_in_container (f, id, "touch /data/nlxtest 2>/dev/null", 1, NULL);
  g_assert_cmpint (detach (f, id, "nlxtest-drv-blk"), ==, 202);
  assert_in_container (f, id, "grep -q ' /data ' /proc/mounts", 1, NULL);

  g_assert_cmpint (nlx_test_call (f->session, "DELETE",
                                  "/v2.1/os-volumes/nlxtest-drv-blk", NULL,
                                  NULL), ==, 202);
  g_assert_cmpint (lstat (entry, &st), ==, -1);
  g_assert_cmpint (stat (device, &st), ==, 0);
  g_assert_true (S_ISBLK (st.st_mode));
  delete_and_check (f, id);
  close (hold);
}

int
main (int argc,
      char **argv)
{
  static const Case cases[] = {
    { "/nlx/driver-api/vif", test_driver_vif },
    { "/nlx/driver-api/block-device", test_block_device },
  };

  return run_cases (&argc, &argv,
                    "The driver API's create on real libvirt LXC: Nova's "
                    "uuid, an inline flavor and an interface on a bridge "
                    "the daemon does not own.",
                    cases, G_N_ELEMENTS (cases));
}
