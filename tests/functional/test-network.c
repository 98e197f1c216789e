/* test-network.c: the instances' bridge, on the real kernel
 *
 * Every case runs its body in a subprocess; the parent's teardown then
 * deletes the interfaces the case named, even when an assertion killed
 * the body.  Interfaces carry names no operator uses: nlxt<6 hex> for
 * bridges, nlxd<6 hex> for the interface that is not a bridge (and
 * nlxe<6 hex> for its veth peer, when the kernel has no dummy driver).
 * The subnet is a random /24 of 198.18.0.0/15, the range set aside for
 * network tests (RFC 2544); no packet is sent.  The filter case makes
 * the bridge's nftables table (nova_lxc_<bridge>) without the bridge;
 * the teardown deletes it too.
 *
 * The cases need root and ip(8) (iproute2), which checks the library's
 * work independently of its netlink code; without them they are skipped
 * with the reason, unless NLX_TEST_REQUIRE_HOST is set (tools/check
 * sets it), when they fail. */
#include "config.h"

#include <json-glib/json-glib.h>
#include <net/if.h>
#include <string.h>
#include <unistd.h>

#include "common/nlx-error.h"
#include "host/nlx-network-filter.h"
#include "host/nlx-network.h"
#include "lib/nlx-test-tools.h"

typedef struct {
  char *bridge;   /* a bridge's name, free at the start */
  char *other;    /* a name for an interface that is no bridge */
  char *peer;     /* its veth peer, if it has to be a veth */
  char *cidr;     /* 198.18.N.0/24 */
  char *gateway;  /* 198.18.N.1 */
  char *subnet;   /* 198.18.N */
  gboolean usable;
} Fixture;

typedef void (*CaseFunc) (Fixture *f);

static char *
missing_requirement (void)
{
  g_autofree char *ip = g_find_program_in_path ("ip");

  if (geteuid () != 0)
    return g_strdup ("not root");
  if (ip == NULL)
    return g_strdup ("no ip(8) (iproute2)");
  if (!g_file_test ("/sys/class/net", G_FILE_TEST_IS_DIR))
    return g_strdup ("no /sys/class/net");
  return NULL;
}

static void
fixture_setup (Fixture *f,
               gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *missing = missing_requirement ();
  g_autofree char *random = NULL;
  g_autofree char *shared = NULL;
  guint32 r;

  if (missing != NULL)
    {
      nlx_test_host_unusable ("cannot test the bridge: %s", missing);
      return;
    }
  f->usable = TRUE;
  /* The parent draws the names; the body in its subprocess uses them. */
  if (!g_test_subprocess ())
    random = g_strdup_printf ("%u", nlx_test_network_random ());
  shared = nlx_test_case_shared ("NLX_TEST_NET_RANDOM", random);
  r = (guint32) g_ascii_strtoull (shared, NULL, 10);
  f->bridge = g_strdup_printf ("nlxt%06x", r & 0xffffff);
  f->other = g_strdup_printf ("nlxd%06x", r & 0xffffff);
  f->peer = g_strdup_printf ("nlxe%06x", r & 0xffffff);
  f->subnet = g_strdup_printf ("198.%u.%u", 18 + ((r >> 24) & 1),
                               (r >> 16) & 0xff);
  f->cidr = g_strdup_printf ("%s.0/24", f->subnet);
  f->gateway = g_strdup_printf ("%s.1", f->subnet);
}

static gboolean
interface_exists (const char *name)
{
  g_autofree char *path = g_build_filename ("/sys/class/net", name, NULL);

  return g_file_test (path, G_FILE_TEST_EXISTS);
}

/* Runs ip(8) with @argv (no shell); returns its output, or NULL with
 * *@error_out set to its complaint. */
static char *
ip_try (const char * const *argv,
        char **error_out)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status;

  g_ptr_array_add (args, (char *) "ip");
  for (guint i = 0; argv[i] != NULL; i++)
    g_ptr_array_add (args, (char *) argv[i]);
  g_ptr_array_add (args, NULL);
  g_spawn_sync (NULL, (char **) args->pdata, NULL, G_SPAWN_SEARCH_PATH,
                NULL, NULL, &out, &err, &status, &error);
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    {
      if (error_out != NULL)
        *error_out = g_steal_pointer (&err);
      return NULL;
    }
  return g_steal_pointer (&out);
}

static char *
ip (const char * const *argv)
{
  g_autofree char *complaint = NULL;
  char *out = ip_try (argv, &complaint);

  if (out == NULL)
    {
      g_autofree char *command = g_strjoinv (" ", (char **) argv);

      g_error ("ip %s failed: %s", command, complaint);
    }
  return out;
}

#define IP(...) g_free (ip ((const char * const []) { __VA_ARGS__, NULL }))

static void
fixture_teardown (Fixture *f,
                  gconstpointer data G_GNUC_UNUSED)
{
  if (f->usable && !g_test_subprocess ())
    {
      const char *names[] = { f->bridge, f->other, f->peer };

      /* Deleting one end of a veth deletes the other: test each. */
      for (guint i = 0; i < G_N_ELEMENTS (names); i++)
        if (interface_exists (names[i]))
          {
            g_autofree char *complaint = NULL;
            g_autofree char *out = ip_try ((const char * const []) {
              "link", "del", "dev", names[i], NULL }, &complaint);

            if (out == NULL && interface_exists (names[i]))
              g_test_fail_printf ("cannot delete test interface %s: %s",
                                  names[i], complaint);
          }
      for (guint i = 0; i < G_N_ELEMENTS (names); i++)
        if (interface_exists (names[i]))
          g_test_fail_printf ("test interface %s is left behind", names[i]);
      {
        g_autoptr(GError) error = NULL;

        if (!nlx_network_filter_delete (f->bridge, &error))
          g_test_fail_printf ("cannot delete the test's nftables tables: %s",
                              error->message);
      }
    }
  g_free (f->bridge);
  g_free (f->other);
  g_free (f->peer);
  g_free (f->cidr);
  g_free (f->gateway);
  g_free (f->subnet);
}

static void
run_case (Fixture *f,
          gconstpointer data)
{
  CaseFunc body = (CaseFunc) data;

  if (!f->usable)
    return;
  NLX_TEST_RUN_BODY (body, f, 30);
}

/* ---- helpers ----------------------------------------------------------- */

static NlxNetworkSettings *
settings_for (Fixture *f,
              const char *bridge)
{
  g_autoptr(GKeyFile) keyfile = g_key_file_new ();
  g_autoptr(GError) error = NULL;
  NlxNetworkSettings *settings;

  g_key_file_set_string (keyfile, "network", "bridge", bridge);
  g_key_file_set_string (keyfile, "network", "cidr", f->cidr);
  settings = nlx_network_settings_new (keyfile, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (settings->gateway, ==, f->gateway);
  return settings;
}

static char *
sysfs (const char *name,
       const char *attribute)
{
  g_autofree char *path = g_build_filename ("/sys/class/net", name,
                                            attribute, NULL);
  g_autoptr(GError) error = NULL;
  char *contents = NULL;

  g_file_get_contents (path, &contents, NULL, &error);
  g_assert_no_error (error);
  return g_strstrip (contents);
}

static guint64
sysfs_number (const char *name,
              const char *attribute)
{
  g_autofree char *text = sysfs (name, attribute);

  return g_ascii_strtoull (text, NULL, 0);  /* flags are in hex, 0x... */
}

static gboolean
is_up (const char *name)
{
  return (sysfs_number (name, "flags") & IFF_UP) != 0;
}

static gboolean
is_bridge (const char *name)
{
  g_autofree char *path = g_build_filename ("/sys/class/net", name, "bridge",
                                            NULL);

  return g_file_test (path, G_FILE_TEST_IS_DIR);
}

/* The IPv4 addresses of @name, as "ADDRESS/PREFIX", from ip -j. */
static GPtrArray *
ipv4_addresses (const char *name)
{
  g_autofree char *out = ip ((const char * const []) {
    "-j", "-4", "addr", "show", "dev", name, NULL });
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  GPtrArray *found = g_ptr_array_new_with_free_func (g_free);
  JsonArray *links;

  json_parser_load_from_data (parser, out, -1, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_ARRAY (json_parser_get_root (parser)));
  links = json_node_get_array (json_parser_get_root (parser));
  for (guint i = 0; i < json_array_get_length (links); i++)
    {
      JsonObject *link = json_array_get_object_element (links, i);
      JsonArray *info;

      if (!json_object_has_member (link, "addr_info"))
        continue;
      info = json_object_get_array_member (link, "addr_info");
      for (guint k = 0; k < json_array_get_length (info); k++)
        {
          JsonObject *addr = json_array_get_object_element (info, k);

          g_assert_cmpstr (json_object_get_string_member (addr, "family"),
                           ==, "inet");
          g_ptr_array_add (found, g_strdup_printf (
            "%s/%" G_GINT64_FORMAT,
            json_object_get_string_member (addr, "local"),
            json_object_get_int_member (addr, "prefixlen")));
        }
    }
  return found;
}

static gboolean
has_address (GPtrArray *addresses,
             const char *address)
{
  for (guint i = 0; i < addresses->len; i++)
    if (g_str_equal (addresses->pdata[i], address))
      return TRUE;
  return FALSE;
}

static void
ensure (const NlxNetworkSettings *settings)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (nlx_network_ensure_bridge (settings->bridge, settings->gateway,
                                            settings->prefix, &error));
  g_assert_no_error (error);
}

/* ---- cases ------------------------------------------------------------- */

/* A missing bridge is created, addressed and brought up; doing it again
 * changes nothing. */
static void
case_create (Fixture *f)
{
  g_autoptr(NlxNetworkSettings) settings = settings_for (f, f->bridge);
  g_autofree char *gateway = g_strdup_printf ("%s/24", f->gateway);
  g_autoptr(GPtrArray) addresses = NULL;
  g_autoptr(GPtrArray) again = NULL;
  guint64 ifindex;

  g_assert_false (interface_exists (f->bridge));
  ensure (settings);

  g_assert_true (interface_exists (f->bridge));
  g_assert_true (is_bridge (f->bridge));
  g_assert_true (is_up (f->bridge));
  addresses = ipv4_addresses (f->bridge);
  g_assert_cmpuint (addresses->len, ==, 1);
  g_assert_cmpstr (addresses->pdata[0], ==, gateway);
  ifindex = sysfs_number (f->bridge, "ifindex");

  ensure (settings);
  ensure (settings);
  g_assert_cmpuint (sysfs_number (f->bridge, "ifindex"), ==, ifindex);
  g_assert_true (is_up (f->bridge));
  again = ipv4_addresses (f->bridge);
  g_assert_cmpuint (again->len, ==, 1);
  g_assert_cmpstr (again->pdata[0], ==, gateway);
}

/* An existing bridge gets what it lacks, and keeps the rest as the
 * operator set it. */
static void
case_existing (Fixture *f)
{
  g_autoptr(NlxNetworkSettings) settings = settings_for (f, f->bridge);
  g_autofree char *gateway = g_strdup_printf ("%s/24", f->gateway);
  g_autofree char *extra = g_strdup_printf ("%s.200/32", f->subnet);
  g_autoptr(GPtrArray) addresses = NULL;
  guint64 ifindex;

  IP ("link", "add", "name", f->bridge, "type", "bridge");
  IP ("link", "set", "dev", f->bridge, "mtu", "1400");
  IP ("addr", "add", extra, "dev", f->bridge);
  ifindex = sysfs_number (f->bridge, "ifindex");
  g_assert_false (is_up (f->bridge));

  ensure (settings);
  g_assert_cmpuint (sysfs_number (f->bridge, "ifindex"), ==, ifindex);
  g_assert_true (is_up (f->bridge));
  g_assert_cmpuint (sysfs_number (f->bridge, "mtu"), ==, 1400);
  addresses = ipv4_addresses (f->bridge);
  g_assert_cmpuint (addresses->len, ==, 2);
  g_assert_true (has_address (addresses, gateway));
  g_assert_true (has_address (addresses, extra));

  /* Already up and addressed: nothing to do, nothing done. */
  g_clear_pointer (&addresses, g_ptr_array_unref);
  ensure (settings);
  addresses = ipv4_addresses (f->bridge);
  g_assert_cmpuint (addresses->len, ==, 2);
}

/* A name taken by an interface that is not a bridge is refused, and the
 * interface is left alone. */
static void
case_not_a_bridge (Fixture *f)
{
  g_autoptr(NlxNetworkSettings) settings = settings_for (f, f->other);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) addresses = NULL;
  g_autofree char *complaint = NULL;
  g_autofree char *out = NULL;
  const char *kind = "dummy";

  out = ip_try ((const char * const []) {
    "link", "add", "name", f->other, "type", "dummy", NULL }, &complaint);
  if (out == NULL)
    {
      /* Kernels built without the dummy driver have veth: libvirt needs
       * it for every container. */
      g_test_message ("no dummy interfaces here (%s); using a veth",
                      g_strstrip (complaint));
      kind = "veth";
      IP ("link", "add", "name", f->other, "type", "veth", "peer", "name",
          f->peer);
    }
  g_assert_true (interface_exists (f->other));

  g_assert_false (nlx_network_ensure_bridge (settings->bridge,
                                             settings->gateway,
                                             settings->prefix, &error));
  g_assert_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, f->other));
  g_assert_nonnull (strstr (error->message, kind));
  g_assert_nonnull (strstr (error->message, "not a bridge"));
  g_assert_nonnull (strstr (error->message, "[network] bridge"));

  g_assert_true (interface_exists (f->other));
  g_assert_false (is_bridge (f->other));
  g_assert_false (is_up (f->other));
  addresses = ipv4_addresses (f->other);
  g_assert_cmpuint (addresses->len, ==, 0);
  /* And no bridge appeared under another name. */
  g_assert_false (interface_exists (f->bridge));
}

/* The gateway with another prefix is a disagreement for the operator to
 * settle, not something to paper over with a second address. */
static void
case_prefix_mismatch (Fixture *f)
{
  g_autoptr(NlxNetworkSettings) settings = settings_for (f, f->bridge);
  g_autofree char *wrong = g_strdup_printf ("%s/16", f->gateway);
  g_autoptr(GPtrArray) addresses = NULL;
  g_autoptr(GError) error = NULL;

  IP ("link", "add", "name", f->bridge, "type", "bridge");
  IP ("addr", "add", wrong, "dev", f->bridge);

  g_assert_false (nlx_network_ensure_bridge (settings->bridge,
                                             settings->gateway,
                                             settings->prefix, &error));
  g_assert_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "/16"));
  g_assert_nonnull (strstr (error->message, "prefix /24"));

  g_assert_false (is_up (f->bridge));
  addresses = ipv4_addresses (f->bridge);
  g_assert_cmpuint (addresses->len, ==, 1);
  g_assert_cmpstr (addresses->pdata[0], ==, wrong);
}

/* `nft list table bridge` of the case's bridge. */
static char *
bridge_table (Fixture *f)
{
  g_autofree char *table = nlx_network_filter_table_name (f->bridge);
  g_autofree char *out = NULL;
  g_autoptr(GError) error = NULL;
  int status;

  g_spawn_sync (NULL, (char *[]) { (char *) "nft", (char *) "list",
                                   (char *) "table", (char *) "bridge",
                                   table, NULL },
                NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, NULL, &status,
                &error);
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  return g_steal_pointer (&out);
}

static guint
occurrences (const char *text,
             const char *what)
{
  guint n = 0;

  for (const char *at = text; (at = strstr (at, what)) != NULL; at++)
    n++;
  return n;
}

/* Adds port @i of the case and checks the bridge table: the hooks' two
 * rules, once each, and the port's chain in the map. */
static void
add_port (Fixture *f,
          guint i)
{
  g_autofree char *veth = g_strdup_printf ("nlxtp%u", i);
  g_autofree char *mac = g_strdup_printf ("fa:16:3e:00:00:%02x", i);
  g_autofree char *address = g_strdup_printf ("%s.%u", f->subnet, 10 + i);
  g_autofree char *element = g_strdup_printf ("\"%s\" : jump port_%s", veth,
                                              veth);
  g_autofree char *listed = NULL;
  NlxNetworkPort port = { veth, mac, address };
  g_autoptr(GError) error = NULL;

  g_assert_true (nlx_network_filter_add_port (f->bridge, &port, &error));
  g_assert_no_error (error);
  listed = bridge_table (f);
  g_assert_cmpuint (occurrences (listed, "iifname vmap @ports"), ==, 2);
  g_assert_nonnull (strstr (listed, element));
}

/* A port's rules are added without declaring the bridge table again
 * (which costs the kernel an RCU grace period), yet a table that is
 * missing (none yet, or deleted) is made again by the add. */
static void
case_filter_skeleton (Fixture *f)
{
  g_autofree char *table = nlx_network_filter_table_name (f->bridge);
  const NlxNetworkPort port = { "nlxtp9", "fa:16:3e:00:00:09", "198.18.0.9" };
  g_autofree char *script = nlx_network_filter_add_script (f->bridge, &port,
                                                           NULL);
  g_autofree char *listed = NULL;

  g_assert_null (strstr (script, "hook"));
  g_assert_null (strstr (script, "prerouting"));
  /* No table yet. */
  add_port (f, 1);
  add_port (f, 2);
  nlx_test_run_command ((const char * const []) { "nft", "delete", "table",
                                                  "bridge", table, NULL });
  add_port (f, 3);
  /* The ports that were there went with the table. */
  listed = bridge_table (f);
  g_assert_null (strstr (listed, "\"nlxtp2\""));
}

int
main (int argc,
      char **argv)
{
  static const struct {
    const char *path;
    CaseFunc body;
  } cases[] = {
    { "/nlx/network/bridge/create", case_create },
    { "/nlx/network/bridge/existing", case_existing },
    { "/nlx/network/bridge/not-a-bridge", case_not_a_bridge },
    { "/nlx/network/bridge/prefix-mismatch", case_prefix_mismatch },
    { "/nlx/network/filter/skeleton", case_filter_skeleton },
  };

  g_test_init (&argc, &argv, NULL);
  g_test_summary ("The instances' bridge on the real kernel (needs root and "
                  "ip).");
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    g_test_add (cases[i].path, Fixture, cases[i].body, fixture_setup,
                run_case, fixture_teardown);
  return g_test_run ();
}
