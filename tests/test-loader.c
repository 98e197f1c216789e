/* test-loader.c: finding, checking and calling driver plugins */
#include "config.h"

#include "driver/nlx-driver-loader.h"
#include "driver/nlx-virt.h"

static void
test_found (void)
{
  g_autoptr(GError) error = NULL;
  const NlxDriver *driver = nlx_driver_load ("fake", &error);

  g_assert_no_error (error);
  g_assert_nonnull (driver);
  g_assert_cmpstr (driver->name, ==, "fake");
  g_assert_cmpuint (driver->abi_version, ==, NLX_DRIVER_ABI_VERSION);
}

static void
test_search_path (void)
{
  g_auto(GStrv) dirs = NULL;

  g_setenv (NLX_DRIVER_PATH_ENV, "/nlx-test/a:/nlx-test/b", TRUE);
  dirs = nlx_driver_loader_search_path ();
  g_assert_cmpstr (dirs[0], ==, "/nlx-test/a");
  g_assert_cmpstr (dirs[1], ==, "/nlx-test/b");
  /* This test runs from the build tree, so that comes next. */
  g_assert_cmpstr (dirs[2], ==, NLX_ABS_TOP_BUILDDIR "/src/.libs");
  g_assert_cmpstr (dirs[3], ==, NLX_DRIVER_DIR);
  g_assert_null (dirs[4]);
}

static void
test_missing (void)
{
  g_autoptr(GError) error = NULL;
  const NlxDriver *driver;

  g_setenv (NLX_DRIVER_PATH_ENV, "/nlx-test/nowhere", TRUE);
  driver = nlx_driver_load ("nosuch", &error);
  g_assert_null (driver);
  g_assert_error (error, NLX_PLUGIN_ERROR, NLX_PLUGIN_ERROR_NOT_FOUND);
  /* The message names the file, every place looked in and the way out. */
  g_assert_nonnull (strstr (error->message, "nlx-driver-nosuch.so"));
  g_assert_nonnull (strstr (error->message, "/nlx-test/nowhere"));
  g_assert_nonnull (strstr (error->message, NLX_DRIVER_DIR));
  g_assert_nonnull (strstr (error->message, NLX_DRIVER_PATH_ENV));
}

static void
test_bad_name (void)
{
  static const char *names[] = { "../lxc", "/tmp/x", "", "LXC", "lxc.so" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autoptr(GError) error = NULL;

      g_assert_null (nlx_driver_load (names[i], &error));
      g_assert_error (error, NLX_PLUGIN_ERROR, NLX_PLUGIN_ERROR_NOT_FOUND);
      g_assert_nonnull (strstr (error->message, "is not a driver name"));
    }
}

static void
test_wrong_symbol (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_test_build_filename (G_TEST_BUILT, ".libs", NULL);

  g_setenv (NLX_DRIVER_PATH_ENV, dir, TRUE);
  g_assert_null (nlx_driver_load ("nosymbol", &error));
  g_assert_error (error, NLX_PLUGIN_ERROR, NLX_PLUGIN_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "does not export nlx_driver_get()"));
}

static void
test_wrong_abi (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_test_build_filename (G_TEST_BUILT, ".libs", NULL);

  g_setenv (NLX_DRIVER_PATH_ENV, dir, TRUE);
  g_assert_null (nlx_driver_load ("badabi", &error));
  g_assert_error (error, NLX_PLUGIN_ERROR, NLX_PLUGIN_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "rebuild and reinstall"));
}

/* What a driver lacks is reported, never silently done. */
static void
test_not_supported (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_test_build_filename (G_TEST_BUILT, ".libs", NULL);
  g_autoptr(NlxVirt) fake = NULL;
  g_autoptr(NlxVirt) bare = NULL;
  const char *uuid = "7e57d000-0000-4000-8000-000000000004";

  fake = nlx_virt_open ("fake", NULL, &error);
  g_assert_no_error (error);
  g_assert_true (nlx_virt_has_capability (fake, NLX_DRIVER_CAP_PAUSE |
                                                NLX_DRIVER_CAP_VOLUMES |
                                                NLX_DRIVER_CAP_SNAPSHOT));

  g_setenv (NLX_DRIVER_PATH_ENV, dir, TRUE);
  bare = nlx_virt_open ("bare", NULL, &error);
  g_unsetenv (NLX_DRIVER_PATH_ENV);
  g_assert_no_error (error);
  g_assert_false (nlx_virt_has_capability (bare, NLX_DRIVER_CAP_SNAPSHOT));
  g_assert_false (nlx_virt_has_capability (bare, NLX_DRIVER_CAP_PAUSE));
  g_assert_false (nlx_virt_snapshot (bare, uuid, "/nlx-test/img", &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_NOT_SUPPORTED);
  g_clear_error (&error);
  g_assert_false (nlx_virt_pause (bare, uuid, &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_NOT_SUPPORTED);
}

/* The fake keeps the lxc driver's rules, so callers tested on it meet
 * the same errors in production. */
static void
test_fake_rules (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NlxVirt) virt = nlx_virt_open ("fake", NULL, &error);
  g_autoptr(NlxInstance) instance = NULL;
  g_autoptr(NlxImage) image = NULL;
  g_auto(GStrv) uuids = NULL;
  NlxInstanceInfo info;

  g_assert_no_error (error);
  instance = nlx_instance_new_from_data (
    "{\"uuid\": \"7e57d000-0000-4000-8000-000000000003\", \"name\": \"n\","
    " \"flavor\": {\"name\": \"f\", \"vcpus\": 2, \"memory_mb\": 64,"
    " \"root_gb\": 0}, \"image_ref\": \"i\", \"user_id\": \"u\","
    " \"project_id\": \"p\"}", -1, &error);
  g_assert_no_error (error);
  image = nlx_image_new_from_path ("i", "/", &error);
  g_assert_no_error (error);

  g_assert_true (nlx_virt_spawn (virt, instance, image, &error));
  g_assert_false (nlx_virt_spawn (virt, instance, image, &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_EXISTS);
  g_clear_error (&error);

  uuids = nlx_virt_list_instances (virt, &error);
  g_assert_cmpstrv (uuids, ((const char * const []) { instance->uuid, NULL }));

  g_assert_true (nlx_virt_power_off (virt, instance->uuid, 0, &error));
  g_assert_false (nlx_virt_pause (virt, instance->uuid, &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_STATE);
  g_clear_error (&error);
  g_assert_true (nlx_virt_get_info (virt, instance->uuid, &info, &error));
  g_assert_cmpint (info.state, ==, NLX_POWER_STATE_SHUTDOWN);

  g_assert_false (nlx_virt_get_info (virt, "7e57d000-0000-4000-8000-00000000ffff",
                                     &info, &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* Every driver gets valid, lower-case uuids from nlx_virt_*(). */
  g_assert_true (nlx_virt_get_info (virt, "7E57D000-0000-4000-8000-000000000003",
                                    &info, &error));
  g_assert_no_error (error);
  g_assert_false (nlx_virt_destroy (virt, "../etc", &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (nlx_virt_pause (virt, NULL, &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  g_assert_true (nlx_virt_destroy (virt, instance->uuid, &error));
  g_assert_true (nlx_virt_destroy (virt, instance->uuid, &error));
  g_assert_no_error (error);
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_summary ("Finding, checking and calling driver plugins.");
  g_test_add_func ("/nlx/loader/found", test_found);
  g_test_add_func ("/nlx/loader/search-path", test_search_path);
  g_test_add_func ("/nlx/loader/missing", test_missing);
  g_test_add_func ("/nlx/loader/bad-name", test_bad_name);
  g_test_add_func ("/nlx/loader/wrong-symbol", test_wrong_symbol);
  g_test_add_func ("/nlx/loader/wrong-abi", test_wrong_abi);
  g_test_add_func ("/nlx/virt/not-supported", test_not_supported);
  g_test_add_func ("/nlx/virt/fake-rules", test_fake_rules);
  return g_test_run ();
}
