/* fuzz-addresses.c: the address allocation file,
 * state_path/network/addresses.json (nlx_ipam_open)
 *
 * An allocator that opens must hold each address once, give every
 * server it lists its own address back, and hand out a new one that no
 * server holds. */
#include "config.h"

#include "common/nlx-error.h"
#include "nlx-fuzz.h"
#include "host/nlx-network.h"

#define NEW_UUID "ffffffff-0000-4000-8000-000000000000"

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t size)
{
  static NlxNetworkSettings *settings;
  static char *path;
  g_autoptr(GError) error = NULL;
  g_autoptr(NlxIpam) ipam = NULL;
  g_autoptr(GHashTable) seen = NULL;
  g_auto(GStrv) uuids = NULL;
  g_autofree char *address = NULL;

  if (settings == NULL)
    {
      g_autoptr(GKeyFile) keyfile = g_key_file_new ();
      g_autofree char *state = NULL;

      nlx_fuzz_init ();
      state = g_build_filename (nlx_fuzz_scratch_dir (), "state", NULL);
      /* A small subnet, so that a file can fill it. */
      g_key_file_set_string (keyfile, "DEFAULT", "state_path", state);
      g_key_file_set_string (keyfile, "network", "cidr", "10.251.0.0/28");
      settings = nlx_network_settings_new (keyfile, &error);
      if (settings == NULL)
        nlx_fuzz_fail ("%s", error->message);
      path = g_strdup (settings->addresses_path);
      /* nlx_ipam_open() makes it; the harness writes the file first. */
      g_autofree char *dir = g_path_get_dirname (path);
      if (g_mkdir_with_parents (dir, 0700) != 0)
        nlx_fuzz_fail ("cannot make %s", dir);
    }
  if (!g_file_set_contents (path, (const char *) data, (gssize) size, &error))
    nlx_fuzz_fail ("%s", error->message);

  ipam = nlx_ipam_open (settings, path, &error);
  if (ipam == NULL)
    {
      if (error == NULL)
        nlx_fuzz_fail ("refused without a message");
      return 0;
    }

  seen = g_hash_table_new (g_str_hash, g_str_equal);
  uuids = nlx_ipam_list (ipam);
  for (guint i = 0; uuids[i] != NULL; i++)
    {
      const char *held = nlx_ipam_lookup (ipam, uuids[i]);

      if (held == NULL)
        nlx_fuzz_fail ("server %s is listed but holds nothing", uuids[i]);
      if (!g_hash_table_add (seen, (gpointer) held))
        nlx_fuzz_fail ("address %s is held twice", held);
    }

  address = nlx_ipam_allocate (ipam, NEW_UUID, &error);
  if (address == NULL)
    {
      if (!g_error_matches (error, NLX_DRIVER_ERROR,
                            NLX_DRIVER_ERROR_INVALID_STATE) &&
          !g_error_matches (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_EXISTS))
        nlx_fuzz_fail ("allocation failed: %s", error->message);
      return 0;
    }
  if (g_hash_table_contains (seen, address) &&
      g_strcmp0 (nlx_ipam_lookup (ipam, NEW_UUID), address) != 0)
    nlx_fuzz_fail ("handed out %s, which another server holds", address);
  if (!nlx_ipam_release (ipam, NEW_UUID, &error))
    nlx_fuzz_fail ("release failed: %s", error->message);
  return 0;
}
