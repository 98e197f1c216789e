/* nlx-config.c: the compute host's configuration
 *
 * A GKeyFile in Nova's style: [DEFAULT], [api], [libvirt], plus one
 * `[flavor NAME]` section per flavor and one `[image NAME]` per bootable
 * image.  A key nobody reads is warned about (a typo would otherwise be
 * silently ignored); a value that cannot be used stops start-up with an
 * error naming the key. */
#include "config.h"

#include <errno.h>
#include <glib/gi18n-lib.h>

#include "common/nlx-error.h"
#include "common/nlx-file.h"
#include "model/nlx-config.h"

#define FLAVOR_PREFIX "flavor "
#define IMAGE_PREFIX "image "

static const char * const default_keys[] = {
  "compute_driver", "instances_path", "state_path", "debug", "use_syslog",
  "sync_power_state_interval", "shutdown_timeout", "reserved_host_cpus",
  "reserved_host_memory_mb", "reserved_host_disk_mb", "deleted_actions_max",
  NULL
};
/* Nova's [console] token_ttl */
static const char * const console_keys[] = { "token_ttl", NULL };
static const char * const api_keys[] = {
  "socket", "socket_group", "listen", "auth_token", "max_connections",
  "request_timeout", "auth_strategy", "max_event_streams", NULL
};
/* With [api] auth_strategy = keystone: the daemon's own Keystone
 * credentials, under the names of Nova's keystonemiddleware section. */
static const char * const keystone_authtoken_keys[] = {
  "auth_url", "username", "password", "project_name", "user_domain_name",
  "project_domain_name", NULL
};
static const char * const libvirt_keys[] = {
  "connection_uri", "wait_soft_reboot_seconds", "connections", NULL
};
static const char * const volumes_keys[] = {
  "path", "allowed_roots", "filesystem_whitelist", "verify",
  "allow_hard_links", NULL
};
/* The fake driver's, for tests of the layers above the driver. */
static const char * const fake_keys[] = {
  "delay_ms", "foreign_instances", "shared", "event_interval_ms", "vcpus",
  "memory_mb", "local_gb", "hold_path", NULL
};
static const char * const flavor_keys[] = {
  "vcpus", "memory_mb", "root_gb", "privileged", "pids", "cpu_shares",
  "seccomp", NULL
};
static const char * const lxc_keys[] = {
  "uid_maps", "gid_maps", "pids_limit", "pids_host_max", "lxcfs",
  "lxcfs_path", NULL
};
/* Nova's [compute] section: the lxc driver reads cpu_shared_set, the
 * daemon the allocation ratios. */
static const char * const compute_keys[] = {
  "cpu_shared_set", "force_config_drive", "cpu_allocation_ratio",
  "ram_allocation_ratio", "disk_allocation_ratio", NULL
};
static const char * const network_keys[] = {
  "bridge", "cidr", "gateway", "range_start", "range_end", "host_access",
  "metadata_port", "dhcp", NULL
};
/* Nova's [filter_scheduler] max_instances_per_host (NumInstancesFilter):
 * this host is the only one, so the filter always applies. */
static const char * const filter_scheduler_keys[] = {
  "max_instances_per_host", NULL
};
static const char * const image_keys[] = {
  "path", "os_init_path", "os_shutdown_signal", NULL
};

/* Nova's classic flavors, small enough for containers. */
static const NlxFlavor default_flavors[] = {
  { (char *) "m1.nano", 1, 64, 0 },
  { (char *) "m1.tiny", 1, 512, 1 },
  { (char *) "m1.small", 1, 2048, 20 },
  { (char *) "m1.medium", 2, 4096, 40 },
  { (char *) "m1.large", 4, 8192, 80 },
};

static void
flavor_free (NlxFlavor *flavor)
{
  g_free (flavor->name);
  g_free (flavor);
}

static void
image_free (NlxConfigImage *image)
{
  g_free (image->name);
  g_free (image->path);
  g_free (image->init_path);
  g_free (image->shutdown_signal);
  g_free (image);
}

void
nlx_config_free (NlxConfig *config)
{
  if (config == NULL)
    return;
  g_clear_pointer (&config->keyfile, g_key_file_unref);
  g_free (config->compute_driver);
  g_free (config->state_path);
  g_free (config->api_socket);
  g_free (config->api_socket_group);
  g_free (config->api_listen);
  g_free (config->api_token);
  g_clear_pointer (&config->flavors, g_ptr_array_unref);
  g_clear_pointer (&config->images, g_ptr_array_unref);
  g_free (config);
}

static const char * const *
known_keys (const char *group)
{
  if (g_str_equal (group, "DEFAULT"))
    return default_keys;
  if (g_str_equal (group, "api"))
    return api_keys;
  if (g_str_equal (group, "keystone_authtoken"))
    return keystone_authtoken_keys;
  if (g_str_equal (group, "libvirt"))
    return libvirt_keys;
  if (g_str_equal (group, "console"))
    return console_keys;
  if (g_str_equal (group, "fake"))
    return fake_keys;
  if (g_str_equal (group, "volumes"))
    return volumes_keys;
  if (g_str_equal (group, "lxc"))
    return lxc_keys;
  if (g_str_equal (group, "compute"))
    return compute_keys;
  if (g_str_equal (group, "network"))
    return network_keys;
  if (g_str_equal (group, "filter_scheduler"))
    return filter_scheduler_keys;
  if (g_str_has_prefix (group, FLAVOR_PREFIX))
    return flavor_keys;
  if (g_str_has_prefix (group, IMAGE_PREFIX))
    return image_keys;
  return NULL;
}

static void
warn_unknown (GKeyFile *keyfile)
{
  g_auto(GStrv) groups = g_key_file_get_groups (keyfile, NULL);

  for (guint i = 0; groups[i] != NULL; i++)
    {
      const char * const *known = known_keys (groups[i]);
      g_auto(GStrv) keys = NULL;

      if (known == NULL)
        {
          g_warning (_("Configuration section [%s] is unknown and ignored"),
                     groups[i]);
          continue;
        }
      keys = g_key_file_get_keys (keyfile, groups[i], NULL, NULL);
      for (guint k = 0; keys[k] != NULL; k++)
        if (!g_strv_contains (known, keys[k]))
          g_warning (_("Configuration key [%s] %s is unknown and ignored; "
                       "check its spelling"), groups[i], keys[k]);
    }
}

/**
 * nlx_config_get_string:
 * @keyfile: (nullable): the configuration; %NULL reads as empty
 * @fallback: (nullable): the default
 *
 * An empty value means the default, as in Nova's configuration.
 *
 * Returns: (transfer full) (nullable): the value, stripped, or @fallback
 */
char *
nlx_config_get_string (GKeyFile *keyfile,
                       const char *group,
                       const char *key,
                       const char *fallback)
{
  char *value = NULL;

  if (keyfile != NULL)
    value = g_key_file_get_string (keyfile, group, key, NULL);
  if (value == NULL || *g_strstrip (value) == '\0')
    {
      g_free (value);
      return g_strdup (fallback);
    }
  return value;
}

/**
 * nlx_config_get_uint:
 * @keyfile: (nullable): the configuration
 * @value: (inout): set to the key's value; left as it is (the default)
 *   when the key is unset or empty
 * @error: return location for a #NLX_CONFIG_ERROR naming the key
 *
 * Returns: %FALSE if the value is not a whole number from @min to @max
 */
gboolean
nlx_config_get_uint (GKeyFile *keyfile,
                     const char *group,
                     const char *key,
                     guint min,
                     guint max,
                     guint *value,
                     GError **error)
{
  g_autofree char *text = nlx_config_get_string (keyfile, group, key, NULL);
  guint64 number;

  if (text == NULL)
    return TRUE;
  if (!g_ascii_string_to_unsigned (text, 10, min, max, &number, NULL))
    {
      g_set_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID,
                   _("Configuration key [%s] %s must be a whole number from "
                     "%u to %u, got “%s”"), group, key, min, max, text);
      return FALSE;
    }
  *value = (guint) number;
  return TRUE;
}

/**
 * nlx_config_get_ratio:
 * @keyfile: (nullable): the configuration
 * @value: (inout): set to the key's value; left as it is (the default)
 *   when the key is unset or empty
 * @error: return location for a #NLX_CONFIG_ERROR naming the key
 *
 * Reads an allocation ratio as Nova writes one ("16.0", "1.5"), in the C
 * locale whatever the daemon's.
 *
 * Returns: %FALSE if the value is not a number above 0 and at most
 *   %NLX_CONFIG_MAX_ALLOCATION_RATIO
 */
gboolean
nlx_config_get_ratio (GKeyFile *keyfile,
                      const char *group,
                      const char *key,
                      double *value,
                      GError **error)
{
  g_autofree char *text = nlx_config_get_string (keyfile, group, key, NULL);
  char *end = NULL;
  double number;

  if (text == NULL)
    return TRUE;
  errno = 0;
  number = g_ascii_strtod (text, &end);
  /* !(x > 0) also refuses NaN. */
  if (errno != 0 || end == text || *end != '\0' || !(number > 0) ||
      number > NLX_CONFIG_MAX_ALLOCATION_RATIO)
    {
      g_set_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID,
                   _("Configuration key [%s] %s must be a number above 0 and "
                     "at most %g, such as 1.5, got “%s”"), group, key,
                   NLX_CONFIG_MAX_ALLOCATION_RATIO, text);
      return FALSE;
    }
  *value = number;
  return TRUE;
}

/* Flavor sections must say every number: no default fits all flavors. */
static gboolean
get_required_uint (GKeyFile *keyfile,
                   const char *group,
                   const char *key,
                   guint min,
                   guint max,
                   guint *value,
                   GError **error)
{
  g_autofree char *text = nlx_config_get_string (keyfile, group, key, NULL);

  if (text == NULL)
    {
      g_set_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID,
                   _("Configuration key [%s] %s is missing"), group, key);
      return FALSE;
    }
  return nlx_config_get_uint (keyfile, group, key, min, max, value, error);
}

/**
 * nlx_config_get_boolean:
 * @keyfile: (nullable): the configuration
 * @group: the section
 * @key: the key; missing means %FALSE
 * @out: (out): its value
 * @error: return location for a #NLX_CONFIG_ERROR naming the key
 *
 * Reads "true"/"1" or "false"/"0" (case-insensitive for the words).
 */
gboolean
nlx_config_get_boolean (GKeyFile *keyfile,
                        const char *group,
                        const char *key,
                        gboolean *out,
                        GError **error)
{
  g_autofree char *text = nlx_config_get_string (keyfile, group, key, "false");

  if (g_ascii_strcasecmp (text, "true") == 0 || g_str_equal (text, "1"))
    *out = TRUE;
  else if (g_ascii_strcasecmp (text, "false") == 0 || g_str_equal (text, "0"))
    *out = FALSE;
  else
    {
      g_set_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID,
                   _("Configuration key [%s] %s must be true or false, got "
                     "“%s”"), group, key, text);
      return FALSE;
    }
  return TRUE;
}

static gboolean
read_flavor (NlxConfig *config,
             const char *group,
             GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *seccomp = NULL;
  NlxFlavor *flavor = g_new0 (NlxFlavor, 1);

  flavor->name = g_strstrip (g_strdup (group + strlen (FLAVOR_PREFIX)));
  g_ptr_array_add (config->flavors, flavor);
  if (*flavor->name == '\0')
    {
      g_set_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID,
                   _("Configuration section [%s] needs a flavor name, e.g. "
                     "[flavor m1.small]"), group);
      return FALSE;
    }
  if (!get_required_uint (config->keyfile, group, "vcpus", 1, NLX_FLAVOR_VCPUS_MAX,
                          &flavor->vcpus, error) ||
      !get_required_uint (config->keyfile, group, "memory_mb", 1,
                          NLX_FLAVOR_MEMORY_MB_MAX, &flavor->memory_mb, error) ||
      !get_required_uint (config->keyfile, group, "root_gb", 0,
                          NLX_FLAVOR_ROOT_GB_MAX, &flavor->root_gb, error) ||
      /* Optional: 0 leaves the host's defaults. */
      !nlx_config_get_uint (config->keyfile, group, "pids", 1,
                            NLX_FLAVOR_PIDS_MAX, &flavor->pids, error) ||
      !nlx_config_get_uint (config->keyfile, group, "cpu_shares",
                            NLX_FLAVOR_CPU_SHARES_MIN,
                            NLX_FLAVOR_CPU_SHARES_MAX, &flavor->cpu_shares,
                            error))
    return FALSE;
  /* The opt-out of the user namespace: root inside is root outside. */
  flavor->privileged = g_key_file_get_boolean (config->keyfile, group,
                                               "privileged", &local_error);
  if (local_error != NULL &&
      !g_error_matches (local_error, G_KEY_FILE_ERROR,
                        G_KEY_FILE_ERROR_KEY_NOT_FOUND))
    {
      g_set_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID,
                   _("[%s] privileged must be true or false"), group);
      return FALSE;
    }
  /* The opt-out of the default seccomp filter. */
  seccomp = nlx_config_get_string (config->keyfile, group, "seccomp",
                                   NLX_SECCOMP_DEFAULT);
  if (!g_str_equal (seccomp, NLX_SECCOMP_DEFAULT) &&
      !g_str_equal (seccomp, NLX_SECCOMP_UNCONFINED))
    {
      g_set_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID,
                   _("[%s] seccomp must be %s or %s, got “%s”"), group,
                   NLX_SECCOMP_DEFAULT, NLX_SECCOMP_UNCONFINED, seccomp);
      return FALSE;
    }
  flavor->seccomp_unconfined = g_str_equal (seccomp, NLX_SECCOMP_UNCONFINED);
  return TRUE;
}

static gboolean
read_image (NlxConfig *config,
            const char *group,
            GError **error)
{
  NlxConfigImage *image = g_new0 (NlxConfigImage, 1);

  image->name = g_strstrip (g_strdup (group + strlen (IMAGE_PREFIX)));
  image->path = nlx_config_get_string (config->keyfile, group, "path", NULL);
  image->init_path = nlx_config_get_string (config->keyfile, group,
                                            "os_init_path", NULL);
  image->shutdown_signal = nlx_config_get_string (config->keyfile, group,
                                                  "os_shutdown_signal", NULL);
  g_ptr_array_add (config->images, image);

  if (*image->name == '\0')
    {
      g_set_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID,
                   _("Configuration section [%s] needs an image name, e.g. "
                     "[image busybox]"), group);
      return FALSE;
    }
  if (image->path == NULL || !g_path_is_absolute (image->path))
    {
      g_set_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID,
                   _("Configuration key [%s] path must be the absolute path "
                     "of a root directory or root tarball"), group);
      return FALSE;
    }
  return TRUE;
}

static gboolean
read_api (NlxConfig *config,
          GError **error)
{
  g_autofree char *strategy = NULL;

  config->api_socket = nlx_config_get_string (config->keyfile, "api",
                                              "socket",
                                              NLX_RUN_DIR "/compute.sock");
  config->api_socket_group = nlx_config_get_string (config->keyfile, "api",
                                                    "socket_group", NULL);
  config->api_listen = nlx_config_get_string (config->keyfile, "api",
                                              "listen", NULL);
  config->api_token = nlx_config_get_string (config->keyfile, "api",
                                             "auth_token", NULL);

  config->api_max_connections = NLX_CONFIG_DEFAULT_MAX_CONNECTIONS;
  config->api_request_timeout_s = NLX_CONFIG_DEFAULT_REQUEST_TIMEOUT_S;
  if (!nlx_config_get_uint (config->keyfile, "api", "max_connections", 1,
                            NLX_CONFIG_MAX_CONNECTIONS,
                            &config->api_max_connections, error) ||
      !nlx_config_get_uint (config->keyfile, "api", "request_timeout", 1, 3600,
                            &config->api_request_timeout_s, error))
    return FALSE;
  config->api_max_event_streams = NLX_CONFIG_DEFAULT_MAX_EVENT_STREAMS;
  if (!nlx_config_get_uint (config->keyfile, "api", "max_event_streams", 1,
                            NLX_CONFIG_MAX_EVENT_STREAMS,
                            &config->api_max_event_streams, error))
    return FALSE;
  config->console_token_ttl_s = NLX_CONFIG_DEFAULT_CONSOLE_TOKEN_TTL_S;
  if (!nlx_config_get_uint (config->keyfile, "console", "token_ttl", 1, 86400,
                            &config->console_token_ttl_s, error))
    return FALSE;
  if (!g_path_is_absolute (config->api_socket))
    {
      g_set_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID,
                   _("Configuration key [api] socket must be an absolute "
                     "path, got “%s”"), config->api_socket);
      return FALSE;
    }
  strategy = nlx_config_get_string (config->keyfile, "api", "auth_strategy",
                                    "token");
  if (g_str_equal (strategy, "keystone"))
    {
      static const char * const required[] = {
        "auth_url", "username", "password", "project_name", NULL
      };

      for (guint i = 0; required[i] != NULL; i++)
        {
          g_autofree char *value =
            nlx_config_get_string (config->keyfile, "keystone_authtoken",
                                   required[i], NULL);

          if (value == NULL)
            {
              g_set_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID,
                           _("Configuration key [api] auth_strategy is "
                             "keystone but [keystone_authtoken] %s is not "
                             "set; set it, or use auth_strategy = token"),
                           required[i]);
              return FALSE;
            }
        }
      /* Keystone's tokens guard the TCP port: no shared token needed. */
      return TRUE;
    }
  if (!g_str_equal (strategy, "token"))
    {
      g_set_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID,
                   _("Configuration key [api] auth_strategy must be token "
                     "or keystone, got “%s”"), strategy);
      return FALSE;
    }
  /* Anyone who reaches a TCP port could drive every instance. */
  if (config->api_listen != NULL && config->api_token == NULL)
    {
      g_set_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID,
                   _("Configuration key [api] listen is set but [api] "
                     "auth_token is not; set a token, or remove listen to "
                     "serve the Unix socket only"));
      return FALSE;
    }
  return TRUE;
}

/* What instances may claim of the host, with Nova's names and defaults
 * (see nova-lxc.conf(5)). */
static gboolean
read_allocation (NlxConfig *config,
                 GError **error)
{
  config->cpu_allocation_ratio = NLX_CONFIG_DEFAULT_CPU_ALLOCATION_RATIO;
  config->ram_allocation_ratio = NLX_CONFIG_DEFAULT_RAM_ALLOCATION_RATIO;
  config->disk_allocation_ratio = NLX_CONFIG_DEFAULT_DISK_ALLOCATION_RATIO;
  config->reserved_host_cpus = 0;
  config->reserved_host_memory_mb = NLX_CONFIG_DEFAULT_RESERVED_HOST_MEMORY_MB;
  config->reserved_host_disk_mb = 0;
  config->max_instances_per_host = NLX_CONFIG_DEFAULT_MAX_INSTANCES_PER_HOST;
  return nlx_config_get_uint (config->keyfile, "filter_scheduler",
                              "max_instances_per_host", 1,
                              NLX_CONFIG_MAX_INSTANCES_PER_HOST,
                              &config->max_instances_per_host, error) &&
         nlx_config_get_ratio (config->keyfile, "compute",
                               "cpu_allocation_ratio",
                               &config->cpu_allocation_ratio, error) &&
         nlx_config_get_ratio (config->keyfile, "compute",
                               "ram_allocation_ratio",
                               &config->ram_allocation_ratio, error) &&
         nlx_config_get_ratio (config->keyfile, "compute",
                               "disk_allocation_ratio",
                               &config->disk_allocation_ratio, error) &&
         nlx_config_get_uint (config->keyfile, "DEFAULT", "reserved_host_cpus",
                              0, G_MAXINT, &config->reserved_host_cpus,
                              error) &&
         nlx_config_get_uint (config->keyfile, "DEFAULT",
                              "reserved_host_memory_mb", 0, G_MAXINT,
                              &config->reserved_host_memory_mb, error) &&
         nlx_config_get_uint (config->keyfile, "DEFAULT",
                              "reserved_host_disk_mb", 0, G_MAXINT,
                              &config->reserved_host_disk_mb, error);
}

static NlxConfig *
config_read (GKeyFile *keyfile,
             GError **error)
{
  g_autoptr(NlxConfig) config = g_new0 (NlxConfig, 1);
  g_auto(GStrv) groups = g_key_file_get_groups (keyfile, NULL);

  config->keyfile = g_key_file_ref (keyfile);
  config->flavors = g_ptr_array_new_with_free_func ((GDestroyNotify) flavor_free);
  config->images = g_ptr_array_new_with_free_func ((GDestroyNotify) image_free);
  warn_unknown (keyfile);

  config->compute_driver = nlx_config_get_string (keyfile, "DEFAULT",
                                                  "compute_driver", "lxc");
  config->state_path = nlx_config_get_string (keyfile, "DEFAULT",
                                              "state_path", NLX_STATE_DIR);
  config->sync_interval_s = NLX_CONFIG_DEFAULT_SYNC_INTERVAL_S;
  config->shutdown_timeout_s = NLX_CONFIG_DEFAULT_SHUTDOWN_TIMEOUT_S;
  config->deleted_actions_max = NLX_CONFIG_DEFAULT_DELETED_ACTIONS_MAX;
  if (!nlx_config_get_boolean (keyfile, "DEFAULT", "debug", &config->debug,
                               error) ||
      !nlx_config_get_boolean (keyfile, "DEFAULT", "use_syslog",
                               &config->use_syslog, error) ||
      !nlx_config_get_uint (keyfile, "DEFAULT", "sync_power_state_interval",
                            1, 3600, &config->sync_interval_s, error) ||
      !nlx_config_get_uint (keyfile, "DEFAULT", "shutdown_timeout", 0, 3600,
                            &config->shutdown_timeout_s, error) ||
      !nlx_config_get_uint (keyfile, "DEFAULT", "deleted_actions_max", 0,
                            100000, &config->deleted_actions_max, error) ||
      !read_api (config, error) ||
      !read_allocation (config, error))
    return NULL;

  for (guint i = 0; groups[i] != NULL; i++)
    if ((g_str_has_prefix (groups[i], FLAVOR_PREFIX) &&
         !read_flavor (config, groups[i], error)) ||
        (g_str_has_prefix (groups[i], IMAGE_PREFIX) &&
         !read_image (config, groups[i], error)))
      return NULL;

  if (config->flavors->len == 0)
    for (guint i = 0; i < G_N_ELEMENTS (default_flavors); i++)
      {
        NlxFlavor *flavor = g_memdup2 (&default_flavors[i], sizeof (NlxFlavor));

        flavor->name = g_strdup (default_flavors[i].name);
        g_ptr_array_add (config->flavors, flavor);
      }
  return g_steal_pointer (&config);
}

/**
 * nlx_config_load_keyfile:
 * @keyfile: an empty key file
 * @path: the configuration file
 * @error: return location for an error naming @path
 *
 * Reads @path into @keyfile; not g_key_file_load_from_file(), whose
 * descriptor is not close-on-exec.
 *
 * Returns: %TRUE on success
 */
gboolean
nlx_config_load_keyfile (GKeyFile *keyfile,
                         const char *path,
                         GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *data = NULL;
  gsize length;

  if (!nlx_file_get_contents (path, &data, &length, &local_error))
    {
      int errsv = errno;

      g_set_error (error, local_error->domain, local_error->code,
                   _("Cannot read configuration %s: %s"), path,
                   g_strerror (errsv));
      return FALSE;
    }
  if (!g_key_file_load_from_data (keyfile, data, length, G_KEY_FILE_NONE,
                                  error))
    {
      g_prefix_error (error, _("Cannot read configuration %s: "), path);
      return FALSE;
    }
  return TRUE;
}

/**
 * nlx_config_new_from_file:
 * @path: the configuration file
 * @error: return location for a #NLX_CONFIG_ERROR or #G_KEY_FILE_ERROR
 *
 * Returns: (transfer full): the configuration, or %NULL naming the file
 * and the key that is wrong
 */
NlxConfig *
nlx_config_new_from_file (const char *path,
                          GError **error)
{
  g_autoptr(GKeyFile) keyfile = g_key_file_new ();
  NlxConfig *config;

  if (!nlx_config_load_keyfile (keyfile, path, error))
    return NULL;
  config = config_read (keyfile, error);
  if (config == NULL)
    g_prefix_error (error, "%s: ", path);
  return config;
}

NlxConfig *
nlx_config_new_from_data (const char *data,
                          GError **error)
{
  g_autoptr(GKeyFile) keyfile = g_key_file_new ();

  if (!g_key_file_load_from_data (keyfile, data, -1, G_KEY_FILE_NONE, error))
    return NULL;
  return config_read (keyfile, error);
}

const NlxFlavor *
nlx_config_find_flavor (const NlxConfig *config,
                        const char *name)
{
  for (guint i = 0; i < config->flavors->len; i++)
    {
      const NlxFlavor *flavor = config->flavors->pdata[i];

      if (g_str_equal (flavor->name, name))
        return flavor;
    }
  return NULL;
}

const NlxConfigImage *
nlx_config_find_image (const NlxConfig *config,
                       const char *name)
{
  for (guint i = 0; i < config->images->len; i++)
    {
      const NlxConfigImage *image = config->images->pdata[i];

      if (g_str_equal (image->name, name))
        return image;
    }
  return NULL;
}
