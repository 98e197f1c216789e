/* fuzz-config.c: nova-lxc.conf(5), as the daemon reads it at start: the
 * file (nlx_config_new_from_data), then the sections other parts read
 * from its keyfile ([network], [volumes], [lxc] id maps) */
#include "config.h"

#include "model/nlx-config.h"
#include "nlx-fuzz.h"
#include "common/nlx-idmap.h"
#include "host/nlx-network.h"
#include "storage/nlx-volume.h"

static void
check_idmap (GKeyFile *keyfile,
             const char *key)
{
  g_autofree char *text = nlx_config_get_string (keyfile, "lxc", key,
                                                 NLX_IDMAP_DEFAULT);
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) map = nlx_idmap_parse (text, key, &error);

  if (map == NULL && error == NULL)
    nlx_fuzz_fail ("[lxc] %s refused without a message", key);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t size)
{
  static gboolean initialized;
  g_autofree char *text = nlx_fuzz_strndup (data, size);
  g_autoptr(GError) error = NULL;
  g_autoptr(NlxConfig) config = NULL;
  g_autoptr(NlxNetworkSettings) network = NULL;
  g_autoptr(NlxVolumeSettings) volumes = NULL;

  if (!initialized)
    {
      nlx_fuzz_init ();
      initialized = TRUE;
    }
  config = nlx_config_new_from_data (text, &error);
  if (config == NULL)
    {
      if (error == NULL)
        nlx_fuzz_fail ("refused without a message");
      return 0;
    }
  if (config->compute_driver == NULL || config->state_path == NULL ||
      config->api_socket == NULL || config->flavors->len == 0)
    nlx_fuzz_fail ("accepted without a driver, state path, socket or flavor");
  for (guint i = 0; i < config->flavors->len; i++)
    {
      const NlxFlavor *flavor = config->flavors->pdata[i];

      if (nlx_config_find_flavor (config, flavor->name) == NULL)
        nlx_fuzz_fail ("flavor %u cannot be found by its name", i);
    }
  for (guint i = 0; i < config->images->len; i++)
    {
      const NlxConfigImage *image = config->images->pdata[i];

      if (nlx_config_find_image (config, image->name) == NULL)
        nlx_fuzz_fail ("image %u cannot be found by its name", i);
    }

  network = nlx_network_settings_new (config->keyfile, &error);
  if (network == NULL && error == NULL)
    nlx_fuzz_fail ("[network] refused without a message");
  if (network != NULL && nlx_network_settings_capacity (network) == 0)
    nlx_fuzz_fail ("[network] accepted with no address to hand out");
  g_clear_error (&error);
  volumes = nlx_volume_settings_new (config->keyfile, &error);
  if (volumes == NULL && error == NULL)
    nlx_fuzz_fail ("[volumes] refused without a message");
  check_idmap (config->keyfile, "uid_maps");
  check_idmap (config->keyfile, "gid_maps");
  return 0;
}
