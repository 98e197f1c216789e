/* test-security.c: what a hostile root inside a container cannot do to
 * the host or to other tenants, each tried from inside a real container,
 * with a control that shows the attempt works where nothing blocks it.
 * The fixture is in nlx-compute-fixture.c. */
#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <sys/wait.h>
#include <glib/gstdio.h>
#include <gio/gunixsocketaddress.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "nlx-file.h"
#include "nlx-lxc-volume.h"
#include "nlx-mount.h"
#include "nlx-network-filter.h"
#include "nlx-test-client.h"
#include "nlx-test-tools.h"
#include "nlx-compute-fixture.h"

/* ---- secure by default ---------------------------------------------------- */

/* An instance's init cannot load modules (no CAP_SYS_MODULE in its
 * bounding set, and, in its own user namespace, none that counts for the
 * host), nor do raw I/O, set the clock or make device nodes.  Checked on the host: this kernel has no module loader, so
 * init_module would fail for everyone. */
static void
check_no_host_powers (Fixture *f,
                      const char *id,
                      gboolean own_user_namespace)
{
  /* sys_module, sys_rawio, sys_time, mknod (<linux/capability.h>) */
  static const guint dropped[] = { 16, 17, 25, 27 };
  g_autofree char *status_path = g_strdup_printf ("/proc/%d/status",
                                                  (int) init_of (f, id));
  g_autofree char *ns_path = g_strdup_printf ("/proc/%d/ns/user",
                                              (int) init_of (f, id));
  g_autofree char *status = NULL;
  g_autofree char *ns = g_file_read_link (ns_path, NULL);
  g_autofree char *own_ns = g_file_read_link ("/proc/self/ns/user", NULL);
  const char *line;
  guint64 bounding;

  g_assert_true (g_file_get_contents (status_path, &status, NULL, NULL));
  line = strstr (status, "\nCapBnd:");
  g_assert_nonnull (line);
  bounding = g_ascii_strtoull (line + strlen ("\nCapBnd:"), NULL, 16);
  for (gsize i = 0; i < G_N_ELEMENTS (dropped); i++)
    g_assert_cmpuint (bounding & (G_GUINT64_CONSTANT (1) << dropped[i]), ==, 0);
  g_assert_nonnull (ns);
  g_assert_cmpint (g_strcmp0 (ns, own_ns) != 0, ==, own_user_namespace);
}

/* Root inside is an unprivileged uid outside, and holds none of the
 * powers over the host: no modules, no host sysctls, no mounts. */
static void
test_unprivileged_root (Fixture *f)
{
  g_autofree char *id = boot (f, "nlxtest-userns");
  g_autoptr(virDomain) dom = virDomainLookupByUUIDString (f->conn, id);
  g_autofree char *xml = virDomainGetXMLDesc (dom, 0);

  g_assert_nonnull (strstr (xml, "<idmap>"));
  g_assert_cmpuint (host_uid (init_of (f, id)), ==, 100000);
  /* Files of the image, root's on disk, are root's inside. */
  assert_in_container (f, id, "stat -c %u /bin/busybox", 0, "0");
  assert_in_container (f, id, "id -u", 0, "0");
  check_no_host_powers (f, id, TRUE);
  assert_in_container (f, id, "echo 1 > /proc/sys/kernel/panic", 1, NULL);
  assert_in_container (f, id, "echo 1 > /proc/sys/vm/drop_caches", 1, NULL);
  assert_in_container (f, id, "mkdir -p /tmp/m && mount -t tmpfs none /tmp/m",
                       1, NULL);
  assert_in_container (f, id, "mknod /tmp/sda b 8 0", 1, NULL);
  /* What it writes is owned by its unprivileged uid on the host. */
  assert_in_container (f, id, "echo x > /root/written", 0, NULL);
  {
    g_autofree char *written = g_build_filename (f->dir, "instances", id,
                                                 "upper", "root", "written",
                                                 NULL);
    GStatBuf st;

    g_assert_cmpint (g_stat (written, &st), ==, 0);
    g_assert_cmpuint (st.st_uid, ==, 100000);
  }
  delete_and_check (f, id);
}

/* A flavor may opt out: root inside is root on the host, and the API and
 * the domain XML say so. */
static void
test_privileged_flavor (Fixture *f)
{
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(JsonNode) flavor = NULL;
  g_autofree char *id = NULL;
  g_autoptr(virDomain) dom = NULL;
  g_autofree char *xml = NULL;
  JsonObject *specs;

  g_assert_cmpint (nlx_test_call (f->session, "GET", "/v2.1/flavors/m1.privileged",
                                  NULL, &flavor), ==, 200);
  specs = json_object_get_object_member (nlx_test_object_at (flavor, "flavor"),
                                         "extra_specs");
  g_assert_cmpstr (json_object_get_string_member (specs, "nova_lxc:privileged"),
                   ==, "true");
  g_assert_cmpint (nlx_test_call (f->session, "POST", "/v2.1/servers",
                                  "{\"server\": {\"name\": \"nlxtest-privileged\", "
                                  "\"flavorRef\": \"m1.privileged\", "
                                  "\"imageRef\": \"" IMAGE "\"}}", &reply), ==, 202);
  id = g_strdup (json_object_get_string_member (nlx_test_object_at (reply, "server"),
                                                "id"));
  g_clear_pointer (&reply, json_node_unref);
  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  reply = nlx_test_show (f->session, id);
  g_assert_true (json_object_get_boolean_member (nlx_test_object_at (reply, "server"),
                                                 "nova_lxc:privileged"));
  dom = virDomainLookupByUUIDString (f->conn, id);
  xml = virDomainGetXMLDesc (dom, 0);
  g_assert_null (strstr (xml, "<idmap>"));
  g_assert_nonnull (strstr (xml, "<nlx:privileged/>"));
  g_assert_cmpuint (host_uid (init_of (f, id)), ==, 0);
  /* Still without the capabilities every instance drops. */
  check_no_host_powers (f, id, FALSE);
  delete_and_check (f, id);
}

/* ---- the network: port security and the host's services ------------------ */

/* What a host command prints; it must succeed. */
static char *
host_output (const char * const *argv)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  int status;

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                &out, NULL, &status, &error);
  g_assert_no_error (error);
  g_spawn_check_wait_status (status, &error);
  g_assert_no_error (error);
  return g_steal_pointer (&out);
}

static char *
bridge_table (Fixture *f)
{
  g_autofree char *table = g_strdup_printf ("nova_lxc_%s", f->bridge);

  return host_output ((const char * const []) { "nft", "list", "table",
                                                "bridge", table, NULL });
}

/* The host's neighbour entry for @address on the case's bridge has
 * @mac. */
#define assert_neighbour(f, address, mac) \
  assert_neighbour_at (f, address, mac, __LINE__)
static void
assert_neighbour_at (Fixture *f,
                     const char *address,
                     const char *mac,
                     int line)
{
  g_autofree char *out = host_output ((const char * const []) {
    "ip", "-4", "neigh", "show", address, "dev", f->bridge, NULL });
  const char *lladdr = strstr (out, "lladdr ");
  g_autofree char *found = lladdr ? g_strndup (lladdr + strlen ("lladdr "), 17)
                                  : NULL;

  if (g_strcmp0 (found, mac) != 0)
    g_error ("line %d: the host's neighbour entry for %s is “%s”, wanted %s",
             line, address, out, mac);
}

/* The bridge's fdb has @mac on @port. */
#define assert_fdb(f, mac, port) assert_fdb_at (f, mac, port, __LINE__)
static void
assert_fdb_at (Fixture *f,
               const char *mac,
               const char *port,
               int line)
{
  g_autofree char *out = host_output ((const char * const []) {
    "bridge", "fdb", "show", "br", f->bridge, NULL });
  g_auto(GStrv) lines = g_strsplit (out, "\n", -1);
  g_autofree char *found = NULL;

  for (guint i = 0; lines[i] != NULL && found == NULL; i++)
    {
      g_auto(GStrv) words = g_strsplit (lines[i], " ", -1);

      if (g_strv_length (words) >= 3 && g_ascii_strcasecmp (words[0], mac) == 0 &&
          g_str_equal (words[1], "dev"))
        found = g_strdup (words[2]);
    }
  if (g_strcmp0 (found, port) != 0)
    g_error ("line %d: the bridge has %s on %s, wanted %s; its fdb:\n%s",
             line, mac, found, port, out);
}

/* Starts @victim counting, for six seconds, the frames that only a
 * spoofer sends it (nlxtest-probe spoofed); the watch runs on after the
 * script that starts it ends. */
static void
watch_start (Fixture *f,
             const char *victim)
{
  assert_in_container (f, victim, "rm -f /tmp/spoofed /tmp/spoofed.new; "
                       "(nlxtest-probe spoofed eth0 6 >/tmp/spoofed.new 2>&1; "
                       "mv /tmp/spoofed.new /tmp/spoofed) </dev/null "
                       ">/dev/null 2>&1 &", 0, NULL);
  g_usleep (G_USEC_PER_SEC / 2);
}

static guint
watch_count (Fixture *f,
             const char *victim)
{
  g_autofree char *count = NULL;

  g_assert_cmpint (in_container (f, victim, "i=0; while [ ! -f /tmp/spoofed ] "
                                 "&& [ $i -lt 150 ]; do sleep 0.1; "
                                 "i=$((i+1)); done; cat /tmp/spoofed",
                                 &count), ==, 0);
  g_test_message ("spoofed frames that reached the victim: %s", count);
  return (guint) g_ascii_strtoull (count, NULL, 10);
}

/* A claims B's address: two gratuitous ARPs from A's own MAC with B's
 * address as the sender, as `arping -U` sends them; the host's entry for
 * B then has @expected_mac.  A is left with its own address only.
 * Returns how many of the frames reached B. */
static guint
spoof_address (Fixture *f,
               const char *a,
               const char *b,
               const char *b_address,
               const char *expected_mac)
{
  g_autofree char *attack = g_strdup_printf (
    "ip addr add %s/32 dev eth0 && arping -U -c 2 -I eth0 -s %s %s; "
    "ip addr del %s/32 dev eth0", b_address, b_address, b_address, b_address);
  g_autofree char *output = NULL;

  watch_start (f, b);
  in_container (f, a, attack, &output);
  assert_neighbour (f, b_address, expected_mac);
  assert_in_container (f, a, "! ip addr show eth0 | grep -q /32", 0, NULL);
  return watch_count (f, b);
}

/* A takes B's MAC and sends two ARP requests for the gateway from it;
 * the bridge then has B's MAC on @expected_port (checked at once: B's
 * own next frame moves it back).  A is left with its own MAC.  Returns
 * how many of the frames reached B. */
static guint
spoof_mac (Fixture *f,
           const char *a,
           const char *a_mac,
           const char *b,
           const char *b_mac,
           const char *expected_port)
{
  g_autofree char *attack = g_strdup_printf (
    "ip link set eth0 address %s && arping -c 2 -w 2 -I eth0 %s.1",
    b_mac, f->subnet);
  g_autofree char *restore = g_strdup_printf ("ip link set eth0 address %s",
                                              a_mac);
  g_autofree char *output = NULL;

  watch_start (f, b);
  in_container (f, a, attack, &output);
  assert_fdb (f, b_mac, expected_port);
  assert_in_container (f, a, restore, 0, NULL);
  return watch_count (f, b);
}

/* A sends one link-local frame (to the LLDP group) from B's MAC, which
 * the bridge learns before any netfilter hook: the bridge then has B's
 * MAC on @expected_port. */
static void
spoof_link_local (Fixture *f,
                  const char *a,
                  const char *b_mac,
                  const char *expected_port)
{
  g_autofree char *attack = g_strdup_printf ("nlxtest-probe lldp eth0 %s",
                                             b_mac);

  assert_in_container (f, a, attack, 0, NULL);
  assert_fdb (f, b_mac, expected_port);
}

/* The host learns B's MAC on B's port (a ping from the host: replies
 * to the host's own traffic pass the host firewall), then waits out the
 * neighbour table's locktime, so that an update would be taken. */
static void
host_learns (Fixture *f,
             const char *b_address)
{
  /* An entry a control left pointing at A would send the ping there. */
  run_command ((const char * const []) { "ip", "-4", "neigh", "flush", "to",
                                         b_address, "dev", f->bridge, NULL });
  run_command ((const char * const []) { "busybox", "ping", "-c", "1", "-W",
                                         "2", b_address, NULL });
  g_usleep (G_USEC_PER_SEC * 3 / 2);
}

/* Anti-spoofing: an instance sends only from its own MAC and address.
 * Root in A takes B's address and B's MAC: with the port rules none of
 * it reaches B or changes the host's neighbour or fdb entries of B; with
 * the case's bridge table removed (the control) all of it does; the
 * daemon's start makes the rules again, without the stale port. */
static void
test_port_security (Fixture *f)
{
  g_autofree char *a = boot (f, "nlxtest-spoof-a");
  g_autofree char *b = boot (f, "nlxtest-spoof-b");
  g_autofree char *a_mac = NULL, *b_mac = NULL;
  g_autofree char *a_address = address_of (f, a, &a_mac);
  g_autofree char *b_address = address_of (f, b, &b_mac);
  g_autofree char *a_veth = g_strdup_printf ("nlx-%.8s", a);
  g_autofree char *b_veth = g_strdup_printf ("nlx-%.8s", b);
  g_autofree char *table = g_strdup_printf ("nova_lxc_%s", f->bridge);
  g_autofree char *rules = bridge_table (f);
  g_autoptr(GError) error = NULL;

  /* Operators see each port's rules. */
  g_assert_nonnull (strstr (rules, a_veth));
  g_assert_nonnull (strstr (rules, b_veth));
  g_assert_nonnull (strstr (rules, b_mac));
  g_assert_nonnull (strstr (rules, b_address));
  assert_reaches (f, a, b_address);

  host_learns (f, b_address);
  assert_neighbour (f, b_address, b_mac);
  assert_fdb (f, b_mac, b_veth);
  g_assert_cmpuint (spoof_address (f, a, b, b_address, b_mac), ==, 0);
  g_assert_cmpuint (spoof_mac (f, a, a_mac, b, b_mac, b_veth), ==, 0);
  spoof_link_local (f, a, b_mac, b_veth);
  assert_reaches (f, a, b_address);

  /* The control: the daemon stopped, its bridge table replaced by one
   * that knows a port of no instance.  The same attack now reaches B
   * and takes over B's entries on the host. */
  daemon_stop (f, SIGTERM);
  run_command ((const char * const []) { "nft", "delete", "table", "bridge",
                                         table, NULL });
  run_command ((const char * const []) { "ip", "link", "set", f->bridge, "type",
                                         "bridge", "no_linklocal_learn", "0",
                                         NULL });
  {
    NlxNetworkPort stale = { "nlx-0badc0de", "fa:16:3e:00:00:01",
                             "192.0.2.1" };

    g_assert_true (nlx_network_filter_add_port (f->bridge, &stale, &error));
    g_assert_no_error (error);
  }
  host_learns (f, b_address);
  assert_neighbour (f, b_address, b_mac);
  g_assert_cmpuint (spoof_address (f, a, b, b_address, a_mac), >, 0);
  g_assert_cmpuint (spoof_mac (f, a, a_mac, b, b_mac, a_veth), >, 0);
  host_learns (f, b_address);
  assert_fdb (f, b_mac, b_veth);
  spoof_link_local (f, a, b_mac, a_veth);

  /* The daemon's start makes the rules of the instances that exist. */
  daemon_start (f);
  g_clear_pointer (&rules, g_free);
  rules = bridge_table (f);
  g_assert_nonnull (strstr (rules, a_veth));
  g_assert_nonnull (strstr (rules, b_veth));
  g_assert_null (strstr (rules, "nlx-0badc0de"));
  host_learns (f, b_address);
  g_assert_cmpuint (spoof_address (f, a, b, b_address, b_mac), ==, 0);
  g_assert_cmpuint (spoof_mac (f, a, a_mac, b, b_mac, b_veth), ==, 0);
  spoof_link_local (f, a, b_mac, b_veth);
  assert_reaches (f, a, b_address);

  /* libvirt's own restart of A (busybox reboot inside) makes a veth of
   * the same name, which A's rules already match: no event to catch. */
  {
    unsigned int first_id = domain_id (f, a);
    gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

    assert_in_container (f, a, "(sleep 0.5; reboot) >/dev/null 2>&1 &", 0,
                         NULL);
    while (domain_running (f, a) != 1 || domain_id (f, a) == first_id)
      {
        g_assert_cmpint (g_get_monotonic_time (), <, deadline);
        g_usleep (50 * 1000);
      }
    nlx_test_wait_for_status (f->session, a, "ACTIVE");
    assert_reaches (f, a, b_address);
    host_learns (f, b_address);
    g_assert_cmpuint (spoof_address (f, a, b, b_address, b_mac), ==, 0);
  }

  /* A deleted instance's rules go with it. */
  delete_and_check (f, a);
  g_clear_pointer (&rules, g_free);
  rules = bridge_table (f);
  g_assert_null (strstr (rules, a_veth));
  g_assert_nonnull (strstr (rules, b_veth));
  delete_and_check (f, b);
}

typedef struct {
  GSocket *socket;
  gint accepted;
  gint stop;
} Listener;

/* Accepts, greets and closes every connection until told to stop. */
static gpointer
listen_on_host (gpointer data)
{
  Listener *listener = data;

  while (!g_atomic_int_get (&listener->stop))
    {
      g_autoptr(GSocket) peer = NULL;

      if (!g_socket_condition_timed_wait (listener->socket, G_IO_IN,
                                          100 * 1000, NULL, NULL))
        continue;
      peer = g_socket_accept (listener->socket, NULL, NULL);
      if (peer == NULL)
        continue;
      g_atomic_int_inc (&listener->accepted);
      g_socket_send (peer, "nlxtest-hello\n", 14, NULL, NULL);
      g_socket_close (peer, NULL);
    }
  return NULL;
}

/* Instances reach no service of the host by default: a listener on the
 * host's 0.0.0.0 does not answer A through the bridge's gateway
 * address, while A still reaches B; with [network] host_access = true
 * (the control) it does. */
static void
test_host_access (Fixture *f)
{
  g_autofree char *a = boot (f, "nlxtest-hostnet-a");
  g_autofree char *b = boot (f, "nlxtest-hostnet-b");
  g_autofree char *b_address = address_of (f, b, NULL);
  g_autofree char *gateway = g_strdup_printf ("%s.1", f->subnet);
  g_autofree char *table = g_strdup_printf ("nova_lxc_%s", f->bridge);
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) any = g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) bind_address = g_inet_socket_address_new (any, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autofree char *connect = NULL;
  g_autofree char *output = NULL;
  g_autofree char *rules = NULL;
  Listener listener = { NULL, 0, 0 };
  GThread *thread;

  listener.socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                  G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_socket_bind (listener.socket, bind_address, TRUE, &error);
  g_assert_no_error (error);
  g_socket_listen (listener.socket, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (listener.socket, &error);
  g_assert_no_error (error);
  thread = g_thread_new ("listener", listen_on_host, &listener);
  connect = g_strdup_printf ("nc -w 2 %s %u </dev/null", gateway,
                             g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));

  rules = host_output ((const char * const []) { "nft", "list", "table",
                                                 "inet", table, NULL });
  g_assert_nonnull (strstr (rules, "host_access = false"));
  g_assert_cmpint (in_container (f, a, connect, &output), !=, 0);
  g_assert_null (strstr (output ? output : "", "nlxtest-hello"));
  g_assert_cmpint (g_atomic_int_get (&listener.accepted), ==, 0);
  assert_reaches (f, a, b_address);
  assert_reaches (f, a, gateway);

  /* The operator's switch opens the host. */
  daemon_stop (f, SIGTERM);
  {
    g_autofree char *config = NULL;
    g_autofree char *opened = NULL;

    g_assert_true (g_file_get_contents (f->config, &config, NULL, NULL));
    /* [network] is the configuration's last section. */
    opened = g_strconcat (config, "host_access = true\n", NULL);
    g_file_set_contents (f->config, opened, -1, &error);
    g_assert_no_error (error);
  }
  daemon_start (f);
  g_clear_pointer (&output, g_free);
  g_assert_cmpint (in_container (f, a, connect, &output), ==, 0);
  g_assert_nonnull (strstr (output, "nlxtest-hello"));
  g_assert_cmpint (g_atomic_int_get (&listener.accepted), ==, 1);
  assert_reaches (f, a, b_address);

  g_atomic_int_set (&listener.stop, 1);
  g_thread_join (thread);
  g_socket_close (listener.socket, NULL);
  g_clear_object (&listener.socket);
  delete_and_check (f, a);
  delete_and_check (f, b);
}

int
main (int argc,
      char **argv)
{
  static const Case cases[] = {
    { "/nlx/compute/secure/unprivileged-root", test_unprivileged_root },
    { "/nlx/compute/secure/privileged-flavor", test_privileged_flavor },
    { "/nlx/compute/secure/port-security", test_port_security },
    { "/nlx/compute/secure/host-access", test_host_access },
  };

  return run_cases (&argc, &argv, cases, G_N_ELEMENTS (cases));
}
