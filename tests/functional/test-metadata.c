/* test-metadata.c: the metadata service, http://169.254.169.254/, asked
 * from inside real containers as root: each instance reads its own data
 * and nobody else's, whatever it claims in its request, whatever source
 * address it forges, from whichever daemon's bridge.  The fixture is in
 * nlx-compute-fixture.c. */
#include "config.h"

#include <signal.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <gio/gunixsocketaddress.h>

#include "host/nlx-network.h"
#include "lib/nlx-compute-fixture.h"
#include "lib/nlx-test-client.h"
#include "lib/nlx-test-tools.h"

#define METADATA_URL "http://169.254.169.254/openstack/latest/meta_data.json"
#define FETCH "timeout 10 wget -qO- " METADATA_URL
/* busybox nc keeps reading until the server closes, which it does after
 * one answer ("Connection: close"). */
#define RAW_REQUEST(request) \
  "printf '" request "' | timeout 10 nc 169.254.169.254 80"

/* What @script prints in @id, or NULL when it fails. */
static char *
fetch (Fixture *f,
       const char *id,
       const char *script)
{
  g_autofree char *output = NULL;

  if (in_container (f, id, script, &output) != 0)
    return NULL;
  return g_steal_pointer (&output);
}

/* @id reads its own uuid, and not @other's, from the service. */
static void
assert_reads_own (Fixture *f,
                  const char *id,
                  const char *other,
                  const char *script)
{
  g_autofree char *output = fetch (f, id, script);

  g_assert_nonnull (output);
  g_assert_nonnull (strstr (output, id));
  if (other != NULL)
    g_assert_null (strstr (output, other));
}

#define assert_prefix(text, prefix) \
  G_STMT_START { \
    if (!g_str_has_prefix (text, prefix)) \
      g_error ("line %d: wanted %s, got “%s”", __LINE__, prefix, text); \
  } G_STMT_END

/* Two servers on the project's bridge each read their own uuid, with
 * wget as cloud-init's datasources ask, and with requests naming the
 * other one in every header Nova's proxies use; only GET and HEAD are
 * answered; what the service has not is 404; the port is closed to
 * everything but the bridge; and a hundred requests leave the daemon
 * with no more descriptors than before. */
static void
test_own_identity (Fixture *f)
{
  g_autofree char *a = boot (f, "nlxtest-md-a");
  g_autofree char *b = boot (f, "nlxtest-md-b");
  g_autofree char *b_address = address_of (f, b, NULL);
  g_autofree char *headers = NULL;
  g_autofree char *raw = NULL;
  g_autofree char *output = NULL;
  g_autofree char *gateway = g_strdup_printf ("%s.1", f->subnet);
  g_autofree char *table = g_strdup_printf ("nova_lxc_%s", f->bridge);
  g_autofree char *rules = NULL;
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) direct = NULL;
  g_autoptr(GError) error = NULL;
  guint before;
  /* EC2's instance id: "i-" and the uuid's first eight hex digits. */
  g_autofree char *ec2_id = g_strdup_printf ("i-%.8s", a);

  assert_reads_own (f, a, b, FETCH);
  assert_reads_own (f, b, a, FETCH);
  assert_in_container (f, a, "timeout 10 wget -qO- "
                       "http://169.254.169.254/latest/meta-data/instance-id",
                       0, ec2_id);

  /* Claims to be B, in headers: still A's. */
  headers = g_strdup_printf ("timeout 10 wget -qO- --header 'X-Forwarded-For: %s' "
                             "--header 'X-Instance-ID: %s' "
                             "--header 'X-Instance-ID-Signature: 0' "
                             "--header 'X-Tenant-ID: 0' " METADATA_URL,
                             b_address, b);
  assert_reads_own (f, a, b, headers);
  raw = g_strdup_printf (RAW_REQUEST (
                           "GET /openstack/latest/meta_data.json HTTP/1.1\\r\\n"
                           "Host: 169.254.169.254\\r\\n"
                           "X-Forwarded-For: %s\\r\\nX-Real-IP: %s\\r\\n"
                           "Forwarded: for=%s\\r\\nX-Instance-ID: %s\\r\\n\\r\\n"),
                         b_address, b_address, b_address, b);
  assert_reads_own (f, a, b, raw);

  g_assert_cmpint (in_container (f, a, RAW_REQUEST (
    "POST /openstack/latest/meta_data.json HTTP/1.0\\r\\n"
    "Content-Length: 0\\r\\n\\r\\n"), &output), ==, 0);
  assert_prefix (output, "HTTP/1.0 405");
  g_assert_nonnull (strstr (output, "Allow: GET, HEAD"));
  g_clear_pointer (&output, g_free);
  g_assert_cmpint (in_container (f, a, RAW_REQUEST (
    "HEAD /openstack/latest/meta_data.json HTTP/1.0\\r\\n\\r\\n"), &output),
    ==, 0);
  assert_prefix (output, "HTTP/1.0 200");
  g_assert_null (strstr (output, a));
  g_clear_pointer (&output, g_free);
  g_assert_cmpint (in_container (f, a, RAW_REQUEST (
    "GET /openstack/no/such/thing HTTP/1.0\\r\\n\\r\\n"), &output), ==, 0);
  assert_prefix (output, "HTTP/1.0 404");

  /* Operators see the route to the service; the host itself (not an
   * instance, and not on the bridge) is not let in. */
  rules = host_output ((const char * const []) {
    "nft", "list", "table", "inet", table, NULL });
  g_assert_nonnull (strstr (rules, "169.254.169.254"));
  g_assert_nonnull (strstr (rules, "dnat ip to"));
  g_socket_client_set_timeout (client, 2);
  {
    g_autofree char *where = g_strdup_printf ("%s:%u", gateway,
                                              NLX_NETWORK_DEFAULT_METADATA_PORT);

    direct = g_socket_client_connect_to_host (client, where, 0, NULL, &error);
    g_assert_null (direct);
    g_assert_nonnull (error);
  }

  /* Nothing held per request. */
  before = nlx_test_count_fds_of (daemon_pid (f));
  assert_in_container (f, a, "i=0; while [ $i -lt 100 ]; do "
                       "wget -qO- " METADATA_URL " >/dev/null || exit 1; "
                       "i=$((i+1)); done", 0, NULL);
  {
    gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

    while (nlx_test_count_fds_of (daemon_pid (f)) > before)
      {
        g_assert_cmpint (g_get_monotonic_time (), <, deadline);
        g_usleep (100 * 1000);
      }
  }

  delete_and_check (f, a);
  /* A deleted server's address is no caller. */
  assert_reads_own (f, b, a, FETCH);
  delete_and_check (f, b);
}

/* A, as root, takes B's address, tells the host that it is B's (as
 * `arping -U` does) and asks the service from it.  Returns what it read,
 * or NULL; A is left with its own address and routes. */
static char *
spoofed_fetch (Fixture *f,
               const char *a,
               const char *b_address)
{
  g_autofree char *script = g_strdup_printf (
    "ip addr add %1$s/32 dev eth0 && "
    "ip route add 169.254.169.254/32 via %2$s.1 dev eth0 src %1$s && "
    "arping -U -c 2 -I eth0 -s %1$s %1$s >/dev/null; "
    FETCH "; rc=$?; "
    "ip route del 169.254.169.254/32; ip addr del %1$s/32 dev eth0; "
    "exit $rc", b_address, f->subnet);

  return fetch (f, a, script);
}

/* A forged source address gets nothing: the port rules drop A's packets
 * from B's address before they reach the service.  The control, with
 * the bridge table (the port rules) removed while the daemon runs: the
 * same forgery reads B's data, which shows that the port rules are what
 * the service's identification rests on. */
static void
test_spoofed_source (Fixture *f)
{
  g_autofree char *a = boot (f, "nlxtest-md-spoof-a");
  g_autofree char *b = boot (f, "nlxtest-md-spoof-b");
  g_autofree char *b_address = address_of (f, b, NULL);
  g_autofree char *table = g_strdup_printf ("nova_lxc_%s", f->bridge);
  g_autofree char *output = NULL;

  host_learns (f, b_address);
  output = spoofed_fetch (f, a, b_address);
  g_assert_true (output == NULL || strstr (output, b) == NULL);
  g_clear_pointer (&output, g_free);
  assert_reads_own (f, a, b, FETCH);

  /* The control. */
  nlx_test_run_command ((const char * const []) { "nft", "delete", "table", "bridge",
                                         table, NULL });
  host_learns (f, b_address);
  output = spoofed_fetch (f, a, b_address);
  g_assert_nonnull (output);
  g_assert_nonnull (strstr (output, b));
  g_clear_pointer (&output, g_free);

  /* The daemon's start makes the port rules again. */
  daemon_stop (f, SIGTERM);
  daemon_start (f);
  host_learns (f, b_address);
  output = spoofed_fetch (f, a, b_address);
  g_assert_true (output == NULL || strstr (output, b) == NULL);
  assert_reads_own (f, a, b, FETCH);
  assert_reads_own (f, b, a, FETCH);

  delete_and_check (f, a);
  delete_and_check (f, b);
}

/* busybox udhcpc as cloud-init's dhclient asks: three DISCOVERs a
 * second apart, then give up; its script prints what the lease says
 * (and configures nothing, so eth0 keeps the address libvirt gave). */
#define DHCP_ASK \
  "printf '#!/bin/sh\\n[ \"$1\" = bound ] && " \
  "echo \"offered $ip $subnet router=$router dns=$dns\"\\nexit 0\\n' " \
  "> /tmp/nlxtest-dhcp && chmod +x /tmp/nlxtest-dhcp && " \
  "timeout 15 udhcpc -i eth0 -n -q -f -t 3 -T 1 -s /tmp/nlxtest-dhcp"

/* What the daemon's dnsmasq on @bridge wrote as its pid, or 0. */
static GPid
dhcp_pid (const char *bridge)
{
  g_autofree char *path = g_strdup_printf (NLX_RUN_DIR "/dhcp-%s.pid", bridge);
  g_autofree char *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return 0;
  return (GPid) g_ascii_strtoll (text, NULL, 10);
}

/* Whether @pid is a dnsmasq that runs (not a zombie waiting for its
 * new parent to reap it). */
static gboolean
is_dnsmasq (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree char *stat = NULL;

  return pid > 0 && g_file_get_contents (path, &stat, NULL, NULL) &&
         strstr (stat, " (dnsmasq) ") != NULL &&
         strstr (stat, " (dnsmasq) Z ") == NULL;
}

/* @id asks for a lease and gets exactly its own address, the /24 and
 * the gateway as router, no DNS server, within a few seconds. */
static void
assert_own_lease (Fixture *f,
                  const char *id)
{
  g_autofree char *address = address_of (f, id, NULL);
  g_autofree char *wanted = g_strdup_printf (
    "offered %s 255.255.255.0 router=%s.1 dns=\n", address, f->subnet);
  g_autofree char *output = NULL;
  gint64 start = g_get_monotonic_time ();

  const char *lease;

  g_assert_cmpint (in_container (f, id, DHCP_ASK, &output), ==, 0);
  /* udhcpc's own messages come first; one lease, and that is all. */
  lease = strstr (output, "offered ");
  g_assert_nonnull (lease);
  g_assert_cmpstr (lease, ==, wanted);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
}

/* DHCP on the project's bridge, as Neutron's dnsmasq serves Nova's VMs:
 * each server gets its own static lease; a server that takes another's
 * MAC gets nothing (its port rules drop frames from any MAC but its
 * own); a deleted server's lease leaves the hosts file; the daemon's
 * dnsmasq goes with the daemon, and the next daemon serves again. */
static void
test_dhcp (Fixture *f)
{
  g_autofree char *a = boot (f, "nlxtest-dhcp-a");
  g_autofree char *b = boot (f, "nlxtest-dhcp-b");
  g_autofree char *a_mac = NULL;
  g_autofree char *a_address = address_of (f, a, &a_mac);
  g_autofree char *b_mac = NULL;
  g_autofree char *b_address = address_of (f, b, &b_mac);
  g_autofree char *hosts_path = g_strdup_printf (NLX_RUN_DIR "/dhcp-%s.hosts",
                                                 f->bridge);
  g_autofree char *hosts = NULL;
  g_autofree char *spoof = g_strdup_printf (
    "ip link set eth0 down && ip link set eth0 address %s && "
    "ip link set eth0 up && " DHCP_ASK "; rc=$?; "
    "ip link set eth0 down; ip link set eth0 address %s; ip link set eth0 up; "
    "ip route add default via %s.1 dev eth0; exit $rc",
    b_mac, a_mac, f->subnet);
  g_autofree char *output = NULL;
  GPid dnsmasq = dhcp_pid (f->bridge);

  g_assert_true (is_dnsmasq (dnsmasq));
  assert_own_lease (f, a);
  assert_own_lease (f, b);

  g_assert_cmpint (in_container (f, a, spoof, &output), !=, 0);
  g_assert_null (strstr (output ? output : "", b_address));
  assert_own_lease (f, a);

  g_assert_true (g_file_get_contents (hosts_path, &hosts, NULL, NULL));
  g_assert_nonnull (strstr (hosts, a_address));
  g_assert_nonnull (strstr (hosts, b_mac));
  delete_and_check (f, b);
  g_clear_pointer (&hosts, g_free);
  g_assert_true (g_file_get_contents (hosts_path, &hosts, NULL, NULL));
  g_assert_nonnull (strstr (hosts, a_address));
  g_assert_null (strstr (hosts, b_mac));
  g_assert_null (strstr (hosts, b_address));

  /* The daemon's dnsmasq stops with it; the next daemon's serves A. */
  daemon_stop (f, SIGTERM);
  g_assert_false (is_dnsmasq (dnsmasq));
  g_assert_cmpint (dhcp_pid (f->bridge), ==, 0);
  daemon_start (f);
  dnsmasq = dhcp_pid (f->bridge);
  g_assert_true (is_dnsmasq (dnsmasq));
  assert_own_lease (f, a);

  /* A daemon that is killed leaves its dnsmasq (PR_SET_PDEATHSIG does
   * not survive dnsmasq's change of user); the next daemon replaces it. */
  daemon_stop (f, SIGKILL);
  g_assert_true (is_dnsmasq (dnsmasq));
  daemon_start (f);
  g_assert_false (is_dnsmasq (dnsmasq));
  g_assert_cmpint (dhcp_pid (f->bridge), !=, dnsmasq);
  g_assert_true (is_dnsmasq (dhcp_pid (f->bridge)));
  assert_own_lease (f, a);
  delete_and_check (f, a);
}

/* Another compute daemon on the host with a bridge and subnet of its
 * own (the other half of 198.18.0.0/15), its own metadata service on
 * the same port, and the case's image.  The fixture's teardown removes
 * its domains, bridge, tables and lock should the case fail. */
static GSubprocess *
start_neighbour (Fixture *f,
                 const char *subnet,
                 SoupSession **session)
{
  g_autofree char *socket = g_build_filename (f->dir, "neighbour.sock", NULL);
  g_autofree char *root = g_build_filename (f->dir, "root", NULL);
  g_autofree char *bridge = neighbour_bridge (f);
  g_autofree char *text = g_strdup_printf (
    "[DEFAULT]\ncompute_driver = lxc\nstate_path = %s/n-state\n"
    "instances_path = %s/n-instances\nsync_power_state_interval = 3600\n"
    "[api]\nsocket = %s\n"
    "[volumes]\npath = %s/n-volumes\n"
    "[flavor m1.tiny]\nvcpus = 1\nmemory_mb = 128\nroot_gb = 0\n"
    "[image " IMAGE "]\npath = %s\nos_shutdown_signal = SIGUSR2\n"
    "[network]\nbridge = %s\ncidr = %s.0/24\n",
    f->dir, f->dir, socket, f->dir, root, bridge, subnet);
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (socket);
  GSubprocess *daemon = start_neighbour_daemon (f, text, socket);

  *session = soup_session_new_with_options ("remote-connectable", address,
                                            "timeout", 120, NULL);
  return daemon;
}

/* Two daemons on one host, on two bridges, each with its metadata
 * service on the same port: each instance reads its own data from its
 * own daemon, and the other daemon's service is closed to it, by the
 * address the DNAT leads to and directly. */
static void
test_other_daemon (Fixture *f)
{
  g_autofree char *a = boot (f, "nlxtest-md-home");
  /* The neighbour's subnet: the case's /24 in the other half of
   * 198.18.0.0/15. */
  g_autofree char *subnet = g_strdup_printf (
    "198.%s.%s", g_str_has_prefix (f->subnet, "198.18.") ? "19" : "18",
    f->subnet + strlen ("198.18."));
  g_autofree char *bridge = neighbour_bridge (f);
  g_autofree char *direct = g_strdup_printf (
    "printf 'GET /openstack/latest/meta_data.json HTTP/1.0\\r\\n\\r\\n' | "
    "timeout 5 nc %s.1 %u", f->subnet, NLX_NETWORK_DEFAULT_METADATA_PORT);
  g_autoptr(SoupSession) session = NULL;
  g_autoptr(GSubprocess) neighbour = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *c = NULL;
  g_autofree char *output = NULL;
  g_autofree char *addresses = NULL;

  neighbour = start_neighbour (f, subnet, &session);
  c = nlx_test_create (session, "nlxtest-md-away", IMAGE, NULL);
  nlx_test_wait_for_status (session, c, "ACTIVE");

  assert_reads_own (f, a, c, FETCH);
  assert_reads_own (f, c, a, FETCH);
  /* Each daemon's dnsmasq serves its own bridge beside the other's. */
  {
    g_autofree char *c_address = NULL;
    g_autofree char *a_address = address_of (f, a, NULL);
    g_autofree char *lease = NULL;
    g_autoptr(JsonNode) reply = nlx_test_show (session, c);
    JsonObject *c_addresses = json_object_get_object_member (
      nlx_test_object_at (reply, "server"), "addresses");
    JsonArray *list = json_object_get_array_member (c_addresses, bridge);

    c_address = g_strdup (json_object_get_string_member (
      json_array_get_object_element (list, 0), "addr"));
    g_assert_cmpint (in_container (f, c, DHCP_ASK, &lease), ==, 0);
    g_assert_nonnull (strstr (lease, c_address));
    g_assert_null (strstr (lease, a_address));
    assert_own_lease (f, a);
  }
  /* The case's daemon, asked straight at its gateway: closed to C. */
  g_assert_cmpint (in_container (f, c, direct, &output), !=, 0);
  g_assert_null (strstr (output ? output : "", a));
  /* Each bridge holds its own gateway, and no 169.254.169.254. */
  addresses = host_output ((const char * const []) {
    "ip", "-4", "addr", "show", "dev", bridge, NULL });
  g_assert_nonnull (strstr (addresses, subnet));
  g_assert_null (strstr (addresses, "169.254."));

  nlx_test_delete_and_wait (session, c);
  g_subprocess_send_signal (neighbour, SIGTERM);
  g_subprocess_wait (neighbour, NULL, &error);
  g_assert_no_error (error);
  delete_and_check (f, a);
}

int
main (int argc,
      char **argv)
{
  static const Case cases[] = {
    { "/nlx/compute/metadata/own-identity", test_own_identity },
    { "/nlx/compute/metadata/spoofed-source", test_spoofed_source },
    { "/nlx/compute/metadata/other-daemon", test_other_daemon },
    { "/nlx/compute/metadata/dhcp", test_dhcp },
  };

  return run_cases (&argc, &argv,
                    "The metadata service at 169.254.169.254, asked from "
                    "inside real containers: each instance reads only its "
                    "own data.",
                    cases, G_N_ELEMENTS (cases));
}
