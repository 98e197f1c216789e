/* test-config.c: reading the compute host's configuration */
#include "config.h"

#include "common/nlx-error.h"
#include "model/nlx-config.h"

static void
test_defaults (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NlxConfig) config = nlx_config_new_from_data ("", &error);
  const NlxFlavor *tiny;

  g_assert_no_error (error);
  g_assert_cmpstr (config->compute_driver, ==, "lxc");
  g_assert_cmpstr (config->state_path, ==, NLX_STATE_DIR);
  g_assert_cmpstr (config->api_socket, ==, NLX_RUN_DIR "/compute.sock");
  g_assert_null (config->api_listen);
  g_assert_false (config->debug);
  g_assert_cmpuint (config->images->len, ==, 0);

  /* Nova's classic flavors when the file declares none. */
  tiny = nlx_config_find_flavor (config, "m1.tiny");
  /* The seccomp filter is on unless a flavor says otherwise. */
  g_assert_false (tiny->seccomp_unconfined);
  g_assert_nonnull (tiny);
  g_assert_cmpuint (tiny->vcpus, ==, 1);
  g_assert_cmpuint (tiny->memory_mb, ==, 512);
  g_assert_cmpuint (tiny->root_gb, ==, 1);
  g_assert_null (nlx_config_find_flavor (config, "m1.huge"));

  /* Nova 26's initial allocation ratios and reserved_host_* defaults. */
  g_assert_cmpfloat (config->cpu_allocation_ratio, ==, 4.0);
  g_assert_cmpfloat (config->ram_allocation_ratio, ==, 1.0);
  g_assert_cmpfloat (config->disk_allocation_ratio, ==, 1.0);
  g_assert_cmpuint (config->reserved_host_cpus, ==, 0);
  g_assert_cmpuint (config->reserved_host_memory_mb, ==, 512);
  g_assert_cmpuint (config->reserved_host_disk_mb, ==, 0);
  g_assert_cmpuint (config->max_instances_per_host, ==, 1000);
}

/* Ratios as Nova writes them, read in the C locale. */
static void
test_allocation (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NlxConfig) config = nlx_config_new_from_data (
    "[DEFAULT]\nreserved_host_cpus = 1\nreserved_host_memory_mb = 0\n"
    "reserved_host_disk_mb = 2048\n"
    "[compute]\ncpu_allocation_ratio = 16.0\nram_allocation_ratio = 1.5\n"
    "disk_allocation_ratio = 0.9\n"
    "[filter_scheduler]\nmax_instances_per_host = 2000\n", &error);

  g_assert_no_error (error);
  g_assert_cmpfloat (config->cpu_allocation_ratio, ==, 16.0);
  g_assert_cmpfloat (config->ram_allocation_ratio, ==, 1.5);
  g_assert_cmpfloat (config->disk_allocation_ratio, ==, 0.9);
  g_assert_cmpuint (config->reserved_host_cpus, ==, 1);
  g_assert_cmpuint (config->reserved_host_memory_mb, ==, 0);
  g_assert_cmpuint (config->reserved_host_disk_mb, ==, 2048);
  g_assert_cmpuint (config->max_instances_per_host, ==, 2000);
}

static void
test_full (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NlxConfig) config = NULL;
  const NlxConfigImage *image;
  const NlxFlavor *flavor;

  config = nlx_config_new_from_data (
    "[DEFAULT]\n"
    "compute_driver = fake\n"
    "state_path = /srv/nlx-test\n"
    "debug = true\n"
    "[api]\n"
    "socket = /srv/nlx-test/api.sock\n"
    "listen = 127.0.0.1:8774\n"
    "auth_token = s3cret\n"
    "[flavor c1.big]\n"
    "vcpus = 8\n"
    "memory_mb = 16384\n"
    "root_gb = 0\n"
    "pids = 300\n"
    "cpu_shares = 4096\n"
    "seccomp = unconfined\n"
    "[image busybox]\n"
    "path = /srv/images/busybox.tar.gz\n"
    "os_shutdown_signal = SIGUSR2\n", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (config->compute_driver, ==, "fake");
  g_assert_cmpstr (config->state_path, ==, "/srv/nlx-test");
  g_assert_true (config->debug);
  g_assert_cmpstr (config->api_listen, ==, "127.0.0.1:8774");
  g_assert_cmpstr (config->api_token, ==, "s3cret");

  /* Declared flavors replace the defaults. */
  g_assert_cmpuint (config->flavors->len, ==, 1);
  flavor = nlx_config_find_flavor (config, "c1.big");
  g_assert_cmpuint (flavor->vcpus, ==, 8);
  g_assert_cmpuint (flavor->memory_mb, ==, 16384);
  g_assert_cmpuint (flavor->pids, ==, 300);
  g_assert_cmpuint (flavor->cpu_shares, ==, 4096);
  g_assert_true (flavor->seccomp_unconfined);
  g_assert_null (nlx_config_find_flavor (config, "m1.tiny"));

  image = nlx_config_find_image (config, "busybox");
  g_assert_cmpstr (image->path, ==, "/srv/images/busybox.tar.gz");
  g_assert_cmpstr (image->shutdown_signal, ==, "SIGUSR2");
  g_assert_null (image->init_path);
}

/* With Keystone tokens guarding TCP, no shared token is needed. */
static void
test_keystone (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NlxConfig) config =
    nlx_config_new_from_data ("[api]\nlisten = 127.0.0.1:8774\n"
                              "auth_strategy = keystone\n"
                              "[keystone_authtoken]\n"
                              "auth_url = http://127.0.0.1:5000/v3\n"
                              "username = nova\npassword = p\n"
                              "project_name = service\n", &error);

  g_assert_no_error (error);
  g_assert_nonnull (config);
  g_assert_null (config->api_token);
}

/* Every value that cannot be used stops start-up, naming the key. */
static void
test_invalid (void)
{
  static const struct {
    const char *data;
    const char *mentions;
  } cases[] = {
    { "[DEFAULT]\ndebug = maybe\n", "[DEFAULT] debug must be true or false" },
    { "[api]\nsocket = relative.sock\n", "[api] socket must be an absolute" },
    { "[api]\nlisten = 0.0.0.0:8774\n", "[api] auth_token is not" },
    { "[api]\nauth_strategy = noauth2\n",
      "[api] auth_strategy must be token or keystone, got “noauth2”" },
    { "[api]\nlisten = 127.0.0.1:8774\nauth_strategy = keystone\n"
      "[keystone_authtoken]\nauth_url = http://127.0.0.1:5000/v3\n"
      "username = nova\npassword = p\n",
      "[keystone_authtoken] project_name is not set" },
    { "[flavor m1.x]\nvcpus = 0\nmemory_mb = 64\nroot_gb = 0\n",
      "[flavor m1.x] vcpus must be a whole number from 1" },
    { "[flavor m1.x]\nvcpus = 1\nmemory_mb = lots\nroot_gb = 0\n",
      "[flavor m1.x] memory_mb must be a whole number" },
    { "[flavor m1.x]\nvcpus = 1\nmemory_mb = 64\n", "[flavor m1.x] root_gb is missing" },
    { "[flavor ]\nvcpus = 1\n", "needs a flavor name" },
    { "[flavor m1.x]\nvcpus = 1\nmemory_mb = 64\nroot_gb = 0\npids = 0\n",
      "[flavor m1.x] pids must be a whole number from 1 to 4194304" },
    { "[flavor m1.x]\nvcpus = 1\nmemory_mb = 64\nroot_gb = 0\ncpu_shares = 1\n",
      "[flavor m1.x] cpu_shares must be a whole number from 2 to 262144" },
    { "[flavor m1.x]\nvcpus = 1\nmemory_mb = 64\nroot_gb = 0\nseccomp = off\n",
      "[flavor m1.x] seccomp must be default or unconfined, got “off”" },
    { "[image busybox]\npath = busybox.tar\n", "[image busybox] path must be the absolute" },
    { "[image busybox]\n", "[image busybox] path must be the absolute" },
    { "[filter_scheduler]\nmax_instances_per_host = 0\n",
      "[filter_scheduler] max_instances_per_host must be a whole number from 1 to 100000" },
    { "[filter_scheduler]\nmax_instances_per_host = 100001\n",
      "[filter_scheduler] max_instances_per_host must be a whole number from 1 to 100000" },
    { "[compute]\ncpu_allocation_ratio = 0\n",
      "[compute] cpu_allocation_ratio must be a number above 0" },
    { "[compute]\nram_allocation_ratio = -1.5\n",
      "[compute] ram_allocation_ratio must be a number above 0" },
    { "[compute]\ndisk_allocation_ratio = 1,5\n",
      "[compute] disk_allocation_ratio must be a number above 0" },
    { "[compute]\ncpu_allocation_ratio = nan\n",
      "[compute] cpu_allocation_ratio must be a number above 0" },
    { "[compute]\ncpu_allocation_ratio = inf\n",
      "[compute] cpu_allocation_ratio must be a number above 0" },
    { "[compute]\nram_allocation_ratio = 1e9\n",
      "[compute] ram_allocation_ratio must be a number above 0" },
    { "[compute]\ncpu_allocation_ratio = 16x\n",
      "got “16x”" },
    { "[DEFAULT]\nreserved_host_memory_mb = -512\n",
      "[DEFAULT] reserved_host_memory_mb must be a whole number" },
    { "[DEFAULT]\nreserved_host_disk_mb = 1G\n",
      "[DEFAULT] reserved_host_disk_mb must be a whole number" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(NlxConfig) config = nlx_config_new_from_data (cases[i].data,
                                                              &error);

      g_assert_null (config);
      g_assert_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID);
      if (strstr (error->message, cases[i].mentions) == NULL)
        g_error ("case %u: “%s” does not mention “%s”", i, error->message,
                 cases[i].mentions);
    }
}

static void
test_unknown_keys_warn (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NlxConfig) config = NULL;

  g_test_expect_message ("nova-lxc", G_LOG_LEVEL_WARNING,
                         "*[DEFAULT] compute_drvier is unknown*");
  g_test_expect_message ("nova-lxc", G_LOG_LEVEL_WARNING,
                         "*section [nonsense] is unknown*");
  config = nlx_config_new_from_data ("[DEFAULT]\ncompute_drvier = lxc\n"
                                     "[nonsense]\nx = 1\n", &error);
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  g_assert_nonnull (config);
}

static void
test_missing_file (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NlxConfig) config = nlx_config_new_from_file ("/nonexistent/nlx.conf",
                                                          &error);

  g_assert_null (config);
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  g_assert_nonnull (strstr (error->message, "/nonexistent/nlx.conf"));
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_summary ("Reading the compute host's configuration.");
  g_test_add_func ("/nlx/config/defaults", test_defaults);
  g_test_add_func ("/nlx/config/full", test_full);
  g_test_add_func ("/nlx/config/allocation", test_allocation);
  g_test_add_func ("/nlx/config/keystone", test_keystone);
  g_test_add_func ("/nlx/config/invalid", test_invalid);
  g_test_add_func ("/nlx/config/unknown-keys-warn", test_unknown_keys_warn);
  g_test_add_func ("/nlx/config/missing-file", test_missing_file);
  return g_test_run ();
}
