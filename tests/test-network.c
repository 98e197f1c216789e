/* test-network.c: [network] settings, MAC addresses and the address
 * allocator; nothing here touches the host's network */
#include "config.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/nlx-error.h"
#include "common/nlx-file.h"
#include "host/nlx-dhcp.h"
#include "host/nlx-network-filter.h"
#include "host/nlx-network.h"

#define UUID_A "7e57d000-0000-4000-8000-00000000000a"
#define UUID_B "7e57d000-0000-4000-8000-00000000000b"
#define UUID_C "7e57d000-0000-4000-8000-00000000000c"

static GKeyFile *
keyfile_from (const char *data)
{
  g_autoptr(GKeyFile) keyfile = g_key_file_new ();
  g_autoptr(GError) error = NULL;

  g_key_file_load_from_data (keyfile, data, -1, G_KEY_FILE_NONE, &error);
  g_assert_no_error (error);
  return g_steal_pointer (&keyfile);
}

static NlxNetworkSettings *
settings_from (const char *data)
{
  g_autoptr(GKeyFile) keyfile = keyfile_from (data);
  g_autoptr(GError) error = NULL;
  NlxNetworkSettings *settings = nlx_network_settings_new (keyfile, &error);

  g_assert_no_error (error);
  g_assert_nonnull (settings);
  return settings;
}

/* A private directory, and the allocator's file in it. */
typedef struct {
  char *dir;
  char *path;
} Scratch;

static void
scratch_init (Scratch *s)
{
  g_autoptr(GError) error = NULL;

  s->dir = g_dir_make_tmp ("nlx-test-network-XXXXXX", &error);
  g_assert_no_error (error);
  s->path = g_build_filename (s->dir, "network", "addresses.json", NULL);
}

static void
scratch_clear (Scratch *s)
{
  g_autoptr(GError) error = NULL;

  nlx_file_remove_tree (s->dir, &error);
  g_assert_no_error (error);
  g_free (s->dir);
  g_free (s->path);
}

static NlxIpam *
open_ipam (const NlxNetworkSettings *settings,
           const char *path)
{
  g_autoptr(GError) error = NULL;
  NlxIpam *ipam = nlx_ipam_open (settings, path, &error);

  g_assert_no_error (error);
  g_assert_nonnull (ipam);
  return ipam;
}

static void
assert_allocates (NlxIpam *ipam,
                  const char *uuid,
                  const char *expected)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *address = nlx_ipam_allocate (ipam, uuid, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (address, ==, expected);
  g_assert_cmpstr (nlx_ipam_lookup (ipam, uuid), ==, expected);
}

/* ---- settings ------------------------------------------------------------ */

static void
test_defaults (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NlxNetworkSettings) settings = nlx_network_settings_new (NULL,
                                                                     &error);
  g_autoptr(NlxNetworkSettings) empty = NULL;
  g_autofree char *expected_path = g_build_filename (NLX_STATE_DIR, "network",
                                                     "addresses.json", NULL);

  g_assert_no_error (error);
  g_assert_cmpstr (settings->bridge, ==, "nlxbr0");
  g_assert_cmpstr (settings->cidr, ==, "10.251.0.0/24");
  g_assert_cmpuint (settings->prefix, ==, 24);
  g_assert_cmpstr (settings->gateway, ==, "10.251.0.1");
  g_assert_cmpstr (settings->range_start, ==, "10.251.0.1");
  g_assert_cmpstr (settings->range_end, ==, "10.251.0.254");
  g_assert_cmphex (settings->network_addr, ==, 0x0afb0000);
  g_assert_cmphex (settings->gateway_addr, ==, 0x0afb0001);
  g_assert_cmpuint (nlx_network_settings_capacity (settings), ==, 253);
  g_assert_cmpstr (settings->addresses_path, ==, expected_path);
  g_assert_cmpuint (settings->metadata_port, ==, 8775);
  g_assert_true (settings->dhcp);

  /* Empty values mean the default, as everywhere in the configuration. */
  empty = settings_from ("[network]\nbridge=\ncidr= \ngateway=\n"
                         "[DEFAULT]\nstate_path=/srv/nlx\n");
  g_assert_cmpstr (empty->bridge, ==, "nlxbr0");
  g_assert_cmpstr (empty->cidr, ==, "10.251.0.0/24");
  g_assert_cmpstr (empty->addresses_path, ==,
                   "/srv/nlx/network/addresses.json");
}

static void
test_custom (void)
{
  g_autoptr(NlxNetworkSettings) settings = settings_from (
    "[network]\nbridge=br-inst.0_a\ncidr=192.168.64.0/20\n"
    "gateway=192.168.79.254\nrange_start=192.168.70.0\n"
    "range_end=192.168.79.254\nmetadata_port=0\ndhcp=false\n");
  g_autoptr(NlxNetworkSettings) longest = settings_from (
    "[network]\nbridge=abcdefghijklmno\n");

  g_assert_cmpstr (settings->bridge, ==, "br-inst.0_a");
  g_assert_cmpstr (settings->cidr, ==, "192.168.64.0/20");
  g_assert_cmpuint (settings->prefix, ==, 20);
  g_assert_cmpstr (settings->gateway, ==, "192.168.79.254");
  g_assert_cmpuint (settings->metadata_port, ==, 0);
  g_assert_false (settings->dhcp);
  g_assert_true (longest->dhcp);
  g_assert_cmpstr (settings->range_start, ==, "192.168.70.0");
  g_assert_cmpstr (settings->range_end, ==, "192.168.79.254");
  /* 70.0 to 79.254 is 10 * 256 - 1 addresses, less the gateway. */
  g_assert_cmpuint (nlx_network_settings_capacity (settings), ==, 2558);
  g_assert_cmpstr (longest->bridge, ==, "abcdefghijklmno");
}

/* Address arithmetic where it can go wrong: the smallest and largest
 * subnets, and the first and last addresses. */
static void
test_edges (void)
{
  static const struct {
    const char *config;
    const char *gateway;
    const char *start;
    const char *end;
    guint capacity;
  } cases[] = {
    { "cidr=10.0.0.0/30", "10.0.0.1", "10.0.0.1", "10.0.0.2", 1 },
    { "cidr=10.0.0.4/30", "10.0.0.5", "10.0.0.5", "10.0.0.6", 1 },
    { "cidr=10.0.0.0/30\ngateway=10.0.0.2", "10.0.0.2", "10.0.0.1",
      "10.0.0.2", 1 },
    { "cidr=10.0.0.0/29", "10.0.0.1", "10.0.0.1", "10.0.0.6", 5 },
    { "cidr=10.251.0.0/24", "10.251.0.1", "10.251.0.1", "10.251.0.254", 253 },
    { "cidr=10.0.0.0/8", "10.0.0.1", "10.0.0.1", "10.255.255.254",
      16777213 },
    { "cidr=255.255.255.248/30", "255.255.255.249", "255.255.255.249",
      "255.255.255.250", 1 },
    { "cidr=0.0.0.0/30", "0.0.0.1", "0.0.0.1", "0.0.0.2", 1 },
    /* A range beside the gateway does not lose an address to it. */
    { "cidr=10.0.0.0/24\nrange_start=10.0.0.100\nrange_end=10.0.0.109",
      "10.0.0.1", "10.0.0.100", "10.0.0.109", 10 },
    { "cidr=10.0.0.0/24\nrange_start=10.0.0.7\nrange_end=10.0.0.7",
      "10.0.0.1", "10.0.0.7", "10.0.0.7", 1 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *data = g_strdup_printf ("[network]\n%s\n",
                                               cases[i].config);
      g_autoptr(NlxNetworkSettings) settings = settings_from (data);

      g_test_message ("%s", cases[i].config);
      g_assert_cmpstr (settings->gateway, ==, cases[i].gateway);
      g_assert_cmpstr (settings->range_start, ==, cases[i].start);
      g_assert_cmpstr (settings->range_end, ==, cases[i].end);
      g_assert_cmpuint (nlx_network_settings_capacity (settings), ==,
                        cases[i].capacity);
    }
}

static void
test_bad_values (void)
{
  static const struct {
    const char *config;
    const char *key;        /* the message must name it */
    const char *allowed;    /* and say what is allowed */
  } cases[] = {
    { "[network]\nbridge=abcdefghijklmnop", "bridge", "1 to 15" },
    { "[network]\nbridge=br 0", "bridge", "letters, digits" },
    { "[network]\nbridge=br/0", "bridge", "letters, digits" },
    { "[network]\nbridge=br:0", "bridge", "letters, digits" },
    { "[network]\nbridge=-br", "bridge", "not starting with '-'" },
    { "[network]\nbridge=.", "bridge", "“..”" },
    { "[network]\nbridge=..", "bridge", "“..”" },
    { "[network]\nbridge=brü", "bridge", "letters, digits" },
    { "[network]\ndhcp=yes", "dhcp", "true or false" },
    { "[network]\nmetadata_port=65536", "metadata_port", "from 0 to 65535" },
    { "[network]\nmetadata_port=-1", "metadata_port", "from 0 to 65535" },
    { "[network]\nmetadata_port=http", "metadata_port", "from 0 to 65535" },
    { "[network]\ncidr=10.251.0.0", "cidr", "ADDRESS/PREFIX" },
    { "[network]\ncidr=10.251.0.0/", "cidr", "from 8 to 30" },
    { "[network]\ncidr=10.251.0.0/31", "cidr", "from 8 to 30" },
    { "[network]\ncidr=10.251.0.0/32", "cidr", "from 8 to 30" },
    { "[network]\ncidr=10.0.0.0/7", "cidr", "from 8 to 30" },
    { "[network]\ncidr=10.0.0.0/0", "cidr", "from 8 to 30" },
    { "[network]\ncidr=10.0.0.0/24x", "cidr", "from 8 to 30" },
    { "[network]\ncidr=10.0.0.0/-24", "cidr", "from 8 to 30" },
    { "[network]\ncidr=10.0.0/24", "cidr", "ADDRESS/PREFIX" },
    { "[network]\ncidr=10.0.0.256/24", "cidr", "ADDRESS/PREFIX" },
    { "[network]\ncidr=010.0.0.0/24", "cidr", "ADDRESS/PREFIX" },
    { "[network]\ncidr=fd00::/64", "cidr", "ADDRESS/PREFIX" },
    { "[network]\ncidr=nonsense", "cidr", "ADDRESS/PREFIX" },
    { "[network]\ncidr=10.251.0.1/24", "cidr", "did you mean 10.251.0.0/24" },
    { "[network]\ncidr=10.251.0.4/29", "cidr", "did you mean 10.251.0.0/29" },
    { "[network]\ngateway=10.251.0.0", "gateway",
      "from 10.251.0.1 to 10.251.0.254" },
    { "[network]\ngateway=10.251.0.255", "gateway",
      "from 10.251.0.1 to 10.251.0.254" },
    { "[network]\ngateway=10.251.1.1", "gateway",
      "from 10.251.0.1 to 10.251.0.254" },
    { "[network]\ngateway=gw", "gateway", "IPv4 host address" },
    { "[network]\nrange_start=10.251.0.0", "range_start",
      "from 10.251.0.1 to 10.251.0.254" },
    { "[network]\nrange_start=10.250.0.9", "range_start",
      "IPv4 host address" },
    { "[network]\nrange_end=10.251.0.255", "range_end",
      "from 10.251.0.1 to 10.251.0.254" },
    { "[network]\nrange_end=10.251.0.300", "range_end",
      "IPv4 host address" },
    { "[network]\nrange_start=10.251.0.9\nrange_end=10.251.0.8",
      "range_start", "must not come after range_end" },
    { "[network]\nrange_start=10.251.0.1\nrange_end=10.251.0.1",
      "range_end", "no address to hand out" },
    { "[network]\ncidr=10.0.0.0/30\nrange_start=10.0.0.2\n"
      "range_end=10.0.0.2\ngateway=10.0.0.2", "range_start",
      "no address to hand out" },
    { "[DEFAULT]\nstate_path=relative/dir", "state_path", "absolute path" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GKeyFile) keyfile = keyfile_from (cases[i].config);
      g_autoptr(GError) error = NULL;
      g_autoptr(NlxNetworkSettings) settings = NULL;
      g_autofree char *section = NULL;

      g_test_message ("%s", cases[i].config);
      settings = nlx_network_settings_new (keyfile, &error);
      g_assert_null (settings);
      g_assert_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID);
      section = g_str_equal (cases[i].key, "state_path") ?
                g_strdup ("[DEFAULT]") : g_strdup ("[network]");
      g_assert_nonnull (strstr (error->message, section));
      g_assert_nonnull (strstr (error->message, cases[i].key));
      if (strstr (error->message, cases[i].allowed) == NULL)
        g_error ("“%s” does not say “%s”", error->message, cases[i].allowed);
    }
}

static void
test_bridge_names (void)
{
  g_assert_true (nlx_address_bridge_name_is_valid ("nlxbr0"));
  g_assert_true (nlx_address_bridge_name_is_valid ("a"));
  g_assert_true (nlx_address_bridge_name_is_valid ("br.100"));
  g_assert_true (nlx_address_bridge_name_is_valid ("...x"));
  g_assert_false (nlx_address_bridge_name_is_valid (NULL));
  g_assert_false (nlx_address_bridge_name_is_valid (""));
  g_assert_false (nlx_address_bridge_name_is_valid ("0123456789abcdef"));
  g_assert_false (nlx_address_bridge_name_is_valid ("br\n"));
}

/* ---- MAC addresses ------------------------------------------------------- */

static void
test_mac (void)
{
  g_autofree char *a = nlx_address_mac_for ("10.251.0.2");
  g_autofree char *wide = nlx_address_mac_for ("10.171.205.239");
  g_autofree char *bad = nlx_address_mac_for ("10.251.0.256");
  g_autofree char *empty = nlx_address_mac_for ("");

  g_assert_cmpstr (a, ==, "fa:16:3e:fb:00:02");
  /* The last three bytes, whatever the prefix: unique in a /8. */
  g_assert_cmpstr (wide, ==, "fa:16:3e:ab:cd:ef");
  g_assert_null (bad);
  g_assert_null (empty);
}

/* ---- the allocator ------------------------------------------------------- */

static void
test_allocate (void)
{
  g_autoptr(NlxNetworkSettings) settings = settings_from (
    "[network]\ncidr=10.9.8.0/24\n");
  g_autoptr(NlxIpam) ipam = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *again = NULL;
  g_auto(GStrv) list = NULL;
  Scratch s;

  scratch_init (&s);
  ipam = open_ipam (settings, s.path);
  g_assert_null (nlx_ipam_lookup (ipam, UUID_A));

  /* The lowest free address, never the gateway. */
  assert_allocates (ipam, UUID_A, "10.9.8.2");
  assert_allocates (ipam, UUID_B, "10.9.8.3");
  assert_allocates (ipam, UUID_C, "10.9.8.4");
  /* Idempotent. */
  again = nlx_ipam_allocate (ipam, UUID_A, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (again, ==, "10.9.8.2");

  list = nlx_ipam_list (ipam);
  g_assert_cmpuint (g_strv_length (list), ==, 3);
  g_assert_cmpstr (list[0], ==, UUID_A);
  g_assert_cmpstr (list[2], ==, UUID_C);

  /* The freed lowest address is the next one handed out. */
  g_assert_true (nlx_ipam_release (ipam, UUID_A, &error));
  g_assert_no_error (error);
  g_assert_null (nlx_ipam_lookup (ipam, UUID_A));
  assert_allocates (ipam, "7e57d000-0000-4000-8000-0000000000dd", "10.9.8.2");
  /* A released instance comes back at the lowest free one, not its old. */
  assert_allocates (ipam, UUID_A, "10.9.8.5");

  /* Releasing what holds nothing is fine, twice. */
  g_assert_true (nlx_ipam_release (ipam, "7e57d000-0000-4000-8000-0000000000ee",
                                   &error));
  g_assert_true (nlx_ipam_release (ipam, UUID_B, &error));
  g_assert_true (nlx_ipam_release (ipam, UUID_B, &error));
  g_assert_no_error (error);

  g_assert_null (nlx_ipam_allocate (ipam, "", &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);

  scratch_clear (&s);
}

static void
test_exhaustion (void)
{
  g_autoptr(NlxNetworkSettings) small = settings_from (
    "[network]\ncidr=10.9.8.0/30\n");
  g_autoptr(NlxNetworkSettings) full = settings_from (
    "[network]\ncidr=10.9.8.0/24\n");
  g_autoptr(NlxIpam) ipam = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *address = NULL;
  g_autofree char *contents = NULL;
  Scratch s;

  /* A /30 has exactly one address for instances. */
  scratch_init (&s);
  ipam = open_ipam (small, s.path);
  assert_allocates (ipam, UUID_A, "10.9.8.2");
  address = nlx_ipam_allocate (ipam, UUID_B, &error);
  g_assert_null (address);
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_STATE);
  g_assert_cmpstr (error->message, ==,
                   "No free address in 10.9.8.0/30; delete servers or widen "
                   "[network] cidr");
  g_clear_error (&error);
  /* A failure records nothing. */
  g_assert_null (nlx_ipam_lookup (ipam, UUID_B));
  g_assert_true (g_file_get_contents (s.path, &contents, NULL, NULL));
  g_assert_null (strstr (contents, UUID_B));
  g_assert_true (nlx_ipam_release (ipam, UUID_A, &error));
  assert_allocates (ipam, UUID_B, "10.9.8.2");
  g_clear_pointer (&ipam, nlx_ipam_free);
  scratch_clear (&s);

  /* A /24 has 253, all distinct, from .2 to .254. */
  scratch_init (&s);
  ipam = open_ipam (full, s.path);
  {
    g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash,
                                                        g_str_equal, g_free,
                                                        NULL);

    for (guint i = 0; i < 253; i++)
      {
        g_autofree char *uuid = g_strdup_printf (
          "7e57d000-0000-4000-8000-%012u", i);
        g_autofree char *expected = g_strdup_printf ("10.9.8.%u", i + 2);
        char *got = nlx_ipam_allocate (ipam, uuid, &error);

        g_assert_no_error (error);
        g_assert_cmpstr (got, ==, expected);
        g_assert_true (g_hash_table_add (seen, got));
      }
    g_assert_null (nlx_ipam_allocate (ipam, UUID_A, &error));
    g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_STATE);
  }
  scratch_clear (&s);
}

static void
test_persistence (void)
{
  g_autoptr(NlxNetworkSettings) settings = settings_from (
    "[network]\ncidr=10.9.8.0/24\n");
  g_autoptr(NlxIpam) ipam = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) dir = NULL;
  g_autofree char *network_dir = NULL;
  g_auto(GStrv) list = NULL;
  GStatBuf st;
  Scratch s;

  scratch_init (&s);
  ipam = open_ipam (settings, s.path);
  /* Nothing is written before the first allocation. */
  g_assert_false (g_file_test (s.path, G_FILE_TEST_EXISTS));
  assert_allocates (ipam, UUID_A, "10.9.8.2");
  assert_allocates (ipam, UUID_B, "10.9.8.3");
  assert_allocates (ipam, UUID_C, "10.9.8.4");
  g_assert_true (nlx_ipam_release (ipam, UUID_B, &error));
  g_clear_pointer (&ipam, nlx_ipam_free);

  g_assert_cmpint (g_stat (s.path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  /* No temporary file is left beside it. */
  network_dir = g_path_get_dirname (s.path);
  dir = g_dir_open (network_dir, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_dir_read_name (dir), ==, "addresses.json");
  g_assert_null (g_dir_read_name (dir));

  ipam = open_ipam (settings, s.path);
  g_assert_cmpstr (nlx_ipam_lookup (ipam, UUID_A), ==, "10.9.8.2");
  g_assert_null (nlx_ipam_lookup (ipam, UUID_B));
  g_assert_cmpstr (nlx_ipam_lookup (ipam, UUID_C), ==, "10.9.8.4");
  list = nlx_ipam_list (ipam);
  g_assert_cmpuint (g_strv_length (list), ==, 2);
  /* The hole is filled first, and the survivors are not handed out. */
  assert_allocates (ipam, UUID_B, "10.9.8.3");
  assert_allocates (ipam, "7e57d000-0000-4000-8000-0000000000dd", "10.9.8.5");
  g_clear_pointer (&ipam, nlx_ipam_free);

  scratch_clear (&s);
}

static void
write_state (Scratch *s,
             const char *contents)
{
  g_autofree char *dir = g_path_get_dirname (s->path);
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_file_set_contents (s->path, contents, -1, &error);
  g_assert_no_error (error);
}

static void
test_corrupt (void)
{
  static const struct {
    const char *contents;
    const char *problem;
  } cases[] = {
    { "{\"version\": 1, \"allocations\": {", "" },
    { "", "empty" },
    { " \n", "white space" },
    { "[]", "not a JSON object" },
    { "{\"allocations\": {}}", "“version”" },
    { "{\"version\": 2, \"allocations\": {}}", "“version”" },
    { "{\"version\": 1}", "“allocations”" },
    { "{\"version\": 1, \"allocations\": []}", "“allocations”" },
    { "{\"version\": 1, \"allocations\": {\"" UUID_A "\": \"10.9.8\"}}",
      UUID_A },
    { "{\"version\": 1, \"allocations\": {\"" UUID_A "\": 167380994}}",
      UUID_A },
    { "{\"version\": 1, \"allocations\": {\"\": \"10.9.8.2\"}}",
      "not an IPv4 address" },
    { "{\"version\": 1, \"allocations\": {\"" UUID_A "\": \"10.9.8.2\", \""
      UUID_B "\": \"10.9.8.2\"}}", "both hold 10.9.8.2" },
    /* json-glib kept the last of the two and lost an address. */
    { "{\"version\": 1, \"allocations\": {\"" UUID_A "\": \"10.9.8.2\", \""
      UUID_A "\": \"10.9.8.3\"}}", "appears twice" },
  };
  g_autoptr(NlxNetworkSettings) settings = settings_from (
    "[network]\ncidr=10.9.8.0/24\n");

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(NlxIpam) ipam = NULL;
      g_autofree char *after = NULL;
      Scratch s;

      g_test_message ("%s", cases[i].contents);
      scratch_init (&s);
      write_state (&s, cases[i].contents);
      ipam = nlx_ipam_open (settings, s.path, &error);
      g_assert_null (ipam);
      g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED);
      g_assert_nonnull (strstr (error->message, s.path));
      g_assert_nonnull (strstr (error->message, "damaged"));
      g_assert_nonnull (strstr (error->message, "move it aside"));
      g_assert_nonnull (strstr (error->message, cases[i].problem));
      /* Never replaced: the operator may still repair it. */
      g_assert_true (g_file_get_contents (s.path, &after, NULL, NULL));
      g_assert_cmpstr (after, ==, cases[i].contents);
      scratch_clear (&s);
    }
}

/* A changed subnet keeps the addresses servers hold, with a warning. */
static void
test_cidr_changed (void)
{
  g_autoptr(NlxNetworkSettings) old_net = settings_from (
    "[network]\ncidr=10.9.8.0/24\n");
  g_autoptr(NlxNetworkSettings) new_net = settings_from (
    "[network]\ncidr=10.9.8.0/29\ngateway=10.9.8.3\n");
  g_autoptr(NlxIpam) ipam = NULL;
  g_autoptr(GError) error = NULL;
  Scratch s;

  scratch_init (&s);
  ipam = open_ipam (old_net, s.path);
  assert_allocates (ipam, UUID_A, "10.9.8.2");
  assert_allocates (ipam, UUID_B, "10.9.8.3");
  for (guint i = 4; i <= 100; i++)
    {
      g_autofree char *uuid = g_strdup_printf (
        "7e57d000-0000-4000-8000-%012u", i);
      g_autofree char *expected = g_strdup_printf ("10.9.8.%u", i);

      assert_allocates (ipam, uuid, expected);
    }
  g_assert_true (nlx_ipam_release (
    ipam, "7e57d000-0000-4000-8000-000000000006", &error));
  g_clear_pointer (&ipam, nlx_ipam_free);

  /* Warned about, in address order: the one that is now the gateway, and
   * those that are not host addresses of 10.9.8.0/29 (its broadcast
   * address .7, and .8 and above). */
  g_test_expect_message ("nova-lxc", G_LOG_LEVEL_WARNING,
                         "*" UUID_B "*10.9.8.3*now [network] gateway*");
  for (guint i = 7; i <= 100; i++)
    {
      g_autofree char *pattern = g_strdup_printf (
        "*10.9.8.%u, which is not a host address of [network] cidr "
        "10.9.8.0/29*", i);

      g_test_expect_message ("nova-lxc", G_LOG_LEVEL_WARNING, pattern);
    }
  ipam = open_ipam (new_net, s.path);
  g_test_assert_expected_messages ();

  /* Kept: */
  g_assert_cmpstr (nlx_ipam_lookup (ipam, UUID_A), ==, "10.9.8.2");
  g_assert_cmpstr (nlx_ipam_lookup (ipam, UUID_B), ==, "10.9.8.3");
  g_assert_cmpstr (nlx_ipam_lookup (
    ipam, "7e57d000-0000-4000-8000-000000000100"), ==, "10.9.8.100");
  /* New ones come from the new subnet's free addresses: .1 and .6 (.3 is
   * the gateway, .2, .4 and .5 are held). */
  assert_allocates (ipam, UUID_C, "10.9.8.1");
  assert_allocates (ipam, "7e57d000-0000-4000-8000-0000000000ee", "10.9.8.6");
  g_assert_null (nlx_ipam_allocate (
    ipam, "7e57d000-0000-4000-8000-0000000000ff", &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_STATE);
  g_clear_error (&error);
  /* Releasing an old address works, and it is not handed out again. */
  g_assert_true (nlx_ipam_release (
    ipam, "7e57d000-0000-4000-8000-000000000100", &error));
  g_assert_no_error (error);
  g_assert_null (nlx_ipam_lookup (
    ipam, "7e57d000-0000-4000-8000-000000000100"));
  g_assert_null (nlx_ipam_allocate (
    ipam, "7e57d000-0000-4000-8000-0000000000ff", &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_STATE);

  g_clear_pointer (&ipam, nlx_ipam_free);
  scratch_clear (&s);
}

/* A change that cannot be saved is undone, so that memory never says
 * something the file does not. */
static void
test_save_fails (void)
{
  g_autoptr(NlxNetworkSettings) settings = settings_from (
    "[network]\ncidr=10.9.8.0/24\n");
  g_autoptr(NlxIpam) ipam = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *address = NULL;
  Scratch s;

  scratch_init (&s);
  ipam = open_ipam (settings, s.path);
  assert_allocates (ipam, UUID_A, "10.9.8.2");
  /* A directory where the file goes: no rename can replace it, even for
   * root (whom permissions would not stop). */
  dir = g_build_filename (s.path, "blocker", NULL);
  g_assert_cmpint (g_unlink (s.path), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);

  address = nlx_ipam_allocate (ipam, UUID_B, &error);
  g_assert_null (address);
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, s.path));
  g_clear_error (&error);
  g_assert_null (nlx_ipam_lookup (ipam, UUID_B));

  g_assert_false (nlx_ipam_release (ipam, UUID_A, &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_cmpstr (nlx_ipam_lookup (ipam, UUID_A), ==, "10.9.8.2");

  g_assert_cmpint (g_rmdir (dir), ==, 0);
  g_assert_cmpint (g_rmdir (s.path), ==, 0);
  assert_allocates (ipam, UUID_B, "10.9.8.3");
  scratch_clear (&s);
}

/* ---- the firewall's scripts (pure; nft -c checks them when it can) ----- */

/* Lets nft(8) parse and check @script against the kernel without
 * committing it, when nft exists and we may (root). */
static void
check_with_nft (const char *script)
{
  g_autofree char *nft = g_find_program_in_path ("nft");
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;

  if (nft == NULL && g_file_test ("/usr/sbin/nft", G_FILE_TEST_IS_EXECUTABLE))
    nft = g_strdup ("/usr/sbin/nft");
  if (nft == NULL || geteuid () != 0)
    {
      g_test_message ("nft -c not run: no nft, or not root");
      return;
    }
  process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                              G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                              nft, "-c", "-f", "-", NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, script, NULL, NULL, &err, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (err, ==, "");
  g_assert_true (g_subprocess_get_successful (process));
}

static void
test_filter_sync_script (void)
{
  const NlxNetworkPort ports[] = {
    { "nlx-7e57d000", "FA:16:3E:00:00:02", "10.251.0.2" },
  };
  g_autoptr(GError) error = NULL;
  g_autofree char *script = nlx_network_filter_sync_script ("nlx-br.0", FALSE, TRUE,
                                                            NULL, ports, 1,
                                                            &error);
  g_autofree char *open_script = NULL;
  g_autofree char *empty = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (script, ==,
    "add table bridge nova_lxc_nlx-br.0\n"
    "delete table bridge nova_lxc_nlx-br.0\n"
    "add table inet nova_lxc_nlx-br.0\n"
    "delete table inet nova_lxc_nlx-br.0\n"
    "add table bridge nova_lxc_nlx-br.0\n"
    "add map bridge nova_lxc_nlx-br.0 ports { type ifname : verdict ; }\n"
    "add chain bridge nova_lxc_nlx-br.0 prerouting { type filter hook prerouting priority filter ; policy accept ; }\n"
    "flush chain bridge nova_lxc_nlx-br.0 prerouting\n"
    "add rule bridge nova_lxc_nlx-br.0 prerouting iifname vmap @ports\n"
    "add chain bridge nova_lxc_nlx-br.0 input { type filter hook input priority filter ; policy accept ; }\n"
    "flush chain bridge nova_lxc_nlx-br.0 input\n"
    "add rule bridge nova_lxc_nlx-br.0 input iifname vmap @ports\n"
    "add chain bridge nova_lxc_nlx-br.0 port_nlx-7e57d000\n"
    "flush chain bridge nova_lxc_nlx-br.0 port_nlx-7e57d000\n"
    "add rule bridge nova_lxc_nlx-br.0 port_nlx-7e57d000 ether saddr != fa:16:3e:00:00:02 drop\n"
    "add rule bridge nova_lxc_nlx-br.0 port_nlx-7e57d000 arp saddr ether != fa:16:3e:00:00:02 drop\n"
    "add rule bridge nova_lxc_nlx-br.0 port_nlx-7e57d000 arp saddr ip != 10.251.0.2 drop\n"
    "add rule bridge nova_lxc_nlx-br.0 port_nlx-7e57d000 ether type arp accept\n"
    "add rule bridge nova_lxc_nlx-br.0 port_nlx-7e57d000 ip saddr 0.0.0.0 ip daddr 255.255.255.255 udp sport 68 udp dport 67 accept\n"
    "add rule bridge nova_lxc_nlx-br.0 port_nlx-7e57d000 ip saddr != 10.251.0.2 drop\n"
    "add rule bridge nova_lxc_nlx-br.0 port_nlx-7e57d000 ether type ip accept\n"
    "add rule bridge nova_lxc_nlx-br.0 port_nlx-7e57d000 drop\n"
    "add element bridge nova_lxc_nlx-br.0 ports { \"nlx-7e57d000\" : jump port_nlx-7e57d000 }\n"
    "add table inet nova_lxc_nlx-br.0\n"
    "add chain inet nova_lxc_nlx-br.0 input { type filter hook input priority filter ; policy accept ; }\n"
    "flush chain inet nova_lxc_nlx-br.0 input\n"
    "add rule inet nova_lxc_nlx-br.0 input iifname != \"nlx-br.0\" accept\n"
    "add rule inet nova_lxc_nlx-br.0 input ct state established,related accept\n"
    "add rule inet nova_lxc_nlx-br.0 input icmp type echo-request accept\n"
    "add rule inet nova_lxc_nlx-br.0 input udp sport 68 udp dport 67 accept comment \"DHCP ([network] dhcp)\"\n"
    "add rule inet nova_lxc_nlx-br.0 input drop comment \"[network] host_access = false\"\n");
  check_with_nft (script);

  open_script = nlx_network_filter_sync_script ("nlxbr0", TRUE, FALSE, NULL,
                                                NULL, 0, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (open_script, "input accept comment \"[network] host_access = true\"\n"));
  g_assert_null (strstr (open_script, " drop"));
  g_assert_null (strstr (open_script, "add element"));
  /* [network] dhcp = false: no DHCP server, nothing for udp 67. */
  g_assert_null (strstr (open_script, "dport 67"));
  check_with_nft (open_script);

  empty = nlx_network_filter_remove_script ("nlxbr0", "nlx-7e57d000", &error);
  g_assert_no_error (error);
  check_with_nft (empty);
}

/* The metadata service: 169.254.169.254:80 from the bridge goes to the
 * daemon's port on the gateway, which is accepted from the bridge and
 * dropped from anywhere else before anything else accepts it. */
static void
test_filter_metadata_script (void)
{
  const NlxNetworkMetadata metadata = { "10.251.0.1", 8775 };
  const NlxNetworkMetadata bad[] = {
    { "10.251.0", 8775 }, { "10.251.0.1; flush ruleset", 8775 },
    { NULL, 8775 }, { "10.251.0.1", 0 }, { "10.251.0.1", 65536 },
  };
  g_autoptr(GError) error = NULL;
  g_autofree char *script = nlx_network_filter_sync_script ("nlxbr0", FALSE,
                                                            FALSE, &metadata, NULL, 0,
                                                            &error);
  const char *drop, *others, *accept, *closed;

  g_assert_no_error (error);
  drop = strstr (script, "add rule inet nova_lxc_nlxbr0 input iifname != \"nlxbr0\" ip daddr 10.251.0.1 tcp dport 8775 drop");
  others = strstr (script, "add rule inet nova_lxc_nlxbr0 input iifname != \"nlxbr0\" accept\n");
  accept = strstr (script, "add rule inet nova_lxc_nlxbr0 input ip daddr 10.251.0.1 tcp dport 8775 accept");
  closed = strstr (script, "input drop comment \"[network] host_access = false\"");
  g_assert_nonnull (drop);
  g_assert_nonnull (others);
  g_assert_nonnull (accept);
  g_assert_nonnull (closed);
  g_assert_true (drop < others && others < accept && accept < closed);
  g_assert_nonnull (strstr (script, "add chain inet nova_lxc_nlxbr0 metadata { type nat hook prerouting priority dstnat ; policy accept ; }\n"));
  g_assert_nonnull (strstr (script, "add rule inet nova_lxc_nlxbr0 metadata iifname \"nlxbr0\" ip daddr 169.254.169.254 tcp dport 80 dnat ip to 10.251.0.1:8775"));
  check_with_nft (script);

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) bad_error = NULL;
      g_autofree char *refused = nlx_network_filter_sync_script ("nlxbr0",
                                                                 FALSE, FALSE,
                                                                 &bad[i],
                                                                 NULL, 0,
                                                                 &bad_error);

      g_assert_null (refused);
      g_assert_error (bad_error, NLX_DRIVER_ERROR,
                      NLX_DRIVER_ERROR_INVALID_ARGUMENT);
    }
}

/* What goes into a script is checked first: it is nft syntax, and a
 * quote or a newline would be a command of its own. */
static void
test_filter_refuses (void)
{
  static const NlxNetworkPort bad_ports[] = {
    { "nlx-1\"; flush ruleset", "fa:16:3e:00:00:02", "10.251.0.2" },
    { "nlx-1\nflush", "fa:16:3e:00:00:02", "10.251.0.2" },
    { "", "fa:16:3e:00:00:02", "10.251.0.2" },
    { "nlx-0123456789abc", "fa:16:3e:00:00:02", "10.251.0.2" },
    { "nlx-1", "fa:16:3e:00:00", "10.251.0.2" },
    { "nlx-1", "fa:16:3e:00:00:0g", "10.251.0.2" },
    { "nlx-1", "fa:16:3e:00:00:02 accept", "10.251.0.2" },
    { "nlx-1", "fa:16:3e:00:00:02", "10.251.0" },
    { "nlx-1", "fa:16:3e:00:00:02", "10.251.0.2 accept" },
    { "nlx-1", NULL, "10.251.0.2" },
  };
  const NlxNetworkPort good = { "nlx-1", "fa:16:3e:00:00:02", "10.251.0.2" };

  for (gsize i = 0; i < G_N_ELEMENTS (bad_ports); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *script = nlx_network_filter_add_script ("nlxbr0",
                                                               &bad_ports[i],
                                                               &error);

      g_assert_null (script);
      g_assert_error (error, NLX_DRIVER_ERROR,
                      NLX_DRIVER_ERROR_INVALID_ARGUMENT);
      g_clear_error (&error);
      script = nlx_network_filter_sync_script ("nlxbr0", FALSE, FALSE, NULL, &bad_ports[i],
                                               1, &error);
      g_assert_null (script);
      g_assert_error (error, NLX_DRIVER_ERROR,
                      NLX_DRIVER_ERROR_INVALID_ARGUMENT);
    }
  {
    g_autoptr(GError) error = NULL;
    g_autofree char *script = nlx_network_filter_add_script ("br\"0", &good,
                                                             &error);

    g_assert_null (script);
    g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
    g_clear_error (&error);
    script = nlx_network_filter_remove_script ("nlxbr0", "nlx 1", &error);
    g_assert_null (script);
    g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  }
}

/* dnsmasq's command line: DHCP only, on the bridge alone, static leases
 * from the hosts file, the gateway as router; and the hosts file. */
static void
test_dhcp_argv (void)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) argv = nlx_dhcp_argv ("/usr/sbin/dnsmasq", "nlxbr0",
                                      "10.251.0.0/20", "10.251.15.254",
                                      "/run/h", "/run/p", &error);
  g_autofree char *joined = NULL;
  g_autoptr(GHashTable) hosts = g_hash_table_new (g_str_hash, g_str_equal);
  g_autofree char *data = NULL;
  const char *bad[][3] = {
    { "br 0", "10.251.0.0/24", "10.251.0.1" },
    { "nlxbr0", "10.251.0.0", "10.251.0.1" },
    { "nlxbr0", "10.251.0.0/31", "10.251.0.1" },
    { "nlxbr0", "10.251.0.0/24", "10.251.0.1,8.8.8.8" },
    { "nlxbr0", NULL, "10.251.0.1" },
  };

  g_assert_no_error (error);
  joined = g_strjoinv (" ", argv);
  g_assert_cmpstr (joined, ==, "/usr/sbin/dnsmasq --keep-in-foreground "
                   "--conf-file=/dev/null --port=0 --bind-dynamic "
                   "--interface=nlxbr0 --except-interface=lo --no-resolv "
                   "--no-hosts --leasefile-ro --dhcp-authoritative "
                   "--quiet-dhcp --log-facility=- "
                   "--dhcp-range=10.251.0.0,static,255.255.240.0,86400 "
                   "--dhcp-option=option:router,10.251.15.254 "
                   "--dhcp-hostsfile=/run/h --pid-file=/run/p");
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) bad_error = NULL;
      g_auto(GStrv) refused = nlx_dhcp_argv ("dnsmasq", bad[i][0], bad[i][1],
                                             bad[i][2], "/run/h", "/run/p",
                                             &bad_error);

      g_assert_null (refused);
      g_assert_error (bad_error, NLX_DRIVER_ERROR,
                      NLX_DRIVER_ERROR_INVALID_ARGUMENT);
    }

  g_hash_table_insert (hosts, "u2", "fa:16:3e:00:00:03,10.251.0.3");
  g_hash_table_insert (hosts, "u1", "fa:16:3e:00:00:02,10.251.0.2");
  data = nlx_dhcp_hosts_data (hosts);
  g_assert_cmpstr (data, ==, "fa:16:3e:00:00:02,10.251.0.2\n"
                   "fa:16:3e:00:00:03,10.251.0.3\n");
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_summary ("[network] settings, MAC addresses and the address "
                  "allocator, without touching the host's network.");
  g_test_add_func ("/nlx/network/settings/defaults", test_defaults);
  g_test_add_func ("/nlx/network/settings/custom", test_custom);
  g_test_add_func ("/nlx/network/settings/edges", test_edges);
  g_test_add_func ("/nlx/network/settings/bad-values", test_bad_values);
  g_test_add_func ("/nlx/network/settings/bridge-names", test_bridge_names);
  g_test_add_func ("/nlx/network/mac", test_mac);
  g_test_add_func ("/nlx/network/dhcp/argv", test_dhcp_argv);
  g_test_add_func ("/nlx/network/filter/sync-script", test_filter_sync_script);
  g_test_add_func ("/nlx/network/filter/metadata-script",
                   test_filter_metadata_script);
  g_test_add_func ("/nlx/network/filter/refuses", test_filter_refuses);
  g_test_add_func ("/nlx/network/ipam/allocate", test_allocate);
  g_test_add_func ("/nlx/network/ipam/exhaustion", test_exhaustion);
  g_test_add_func ("/nlx/network/ipam/persistence", test_persistence);
  g_test_add_func ("/nlx/network/ipam/corrupt", test_corrupt);
  g_test_add_func ("/nlx/network/ipam/cidr-changed", test_cidr_changed);
  g_test_add_func ("/nlx/network/ipam/save-fails", test_save_fails);
  return g_test_run ();
}
