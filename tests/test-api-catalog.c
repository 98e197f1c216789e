/* test-api-catalog.c: the Compute API and the manager, over HTTP, on the
 * fake driver: the read-only resources the stock clients ask for besides
 * servers: flavors and their extra specs, limits, availability zones,
 * services and hypervisors (the fixture: lib/nlx-api-fixture.h). */
#include "config.h"

#include "lib/nlx-api-fixture.h"
#include "lib/nlx-test-client.h"
#include "lib/nlx-test-tools.h"

/* A flavor with every extra spec nova-lxc.conf can give one. */
#define SPECIAL_CONFIG \
  "[flavor t.special]\nvcpus = 1\nmemory_mb = 64\nroot_gb = 0\n" \
  "privileged = true\npids = 100\ncpu_shares = 2048\nseccomp = unconfined\n" \
  "[flavor t.plain]\nvcpus = 1\nmemory_mb = 64\nroot_gb = 0\n"

static guint
count_flavors (Fixture *f,
               const char *path)
{
  g_autoptr(JsonNode) reply = NULL;

  g_assert_cmpint (nlx_test_call (f->session, "GET", path, NULL, &reply), ==,
                   200);
  return json_array_get_length (json_object_get_array_member (json_node_get_object (reply),
                                                              "flavors"));
}

/* Flavor bodies have Nova 2.1's fields and no others (extra specs are
 * 2.61's), and ?is_public= is read as Nova reads it. */
static void
test_flavors (Fixture *f,
              gconstpointer data G_GNUC_UNUSED)
{
  g_autoptr(JsonNode) reply = NULL;
  JsonObject *flavor;
  JsonArray *links;

  g_assert_cmpint (nlx_test_call (f->session, "GET", "/v2.1/flavors/t.special",
                                  NULL, &reply), ==, 200);
  flavor = nlx_test_object_at (reply, "flavor");
  g_assert_cmpstr (json_object_get_string_member (flavor, "id"), ==, "t.special");
  g_assert_cmpint (json_object_get_int_member (flavor, "ram"), ==, 64);
  g_assert_cmpint (json_object_get_int_member (flavor, "OS-FLV-EXT-DATA:ephemeral"),
                   ==, 0);
  g_assert_cmpstr (json_object_get_string_member (flavor, "swap"), ==, "");
  g_assert_cmpfloat (json_object_get_double_member (flavor, "rxtx_factor"), ==,
                     1.0);
  g_assert_true (json_object_get_boolean_member (flavor,
                                                 "os-flavor-access:is_public"));
  g_assert_false (json_object_get_boolean_member (flavor,
                                                  "OS-FLV-DISABLED:disabled"));
  g_assert_false (json_object_has_member (flavor, "extra_specs"));
  links = json_object_get_array_member (flavor, "links");
  g_assert_cmpuint (json_array_get_length (links), >, 0);
  g_assert_cmpuint (json_object_get_size (flavor), ==, 11);

  /* Flavors of nova-lxc.conf replace the defaults; all are public. */
  g_assert_cmpuint (count_flavors (f, "/v2.1/flavors/detail"), ==, 2);
  g_assert_cmpuint (count_flavors (f, "/v2.1/flavors/detail?is_public=True"),
                    ==, 2);
  g_assert_cmpuint (count_flavors (f, "/v2.1/flavors?is_public=none"), ==, 2);
  g_assert_cmpuint (count_flavors (f, "/v2.1/flavors?is_public=false"), ==, 0);
  g_assert_cmpuint (count_flavors (f, "/v2.1/flavors/detail?is_public=0"), ==,
                    0);
  nlx_test_expect_fault (f->session, "GET", "/v2.1/flavors?is_public=maybe",
                         NULL, 400, "badRequest");
  nlx_test_expect_fault (f->session, "GET",
                         "/v2.1/flavors/detail?is_public=", NULL, 400,
                         "badRequest");
}

/* What nova-lxc.conf gives a flavor shows as its extra specs; a flavor
 * without any has {}. */
static void
test_extra_specs (Fixture *f,
                  gconstpointer data G_GNUC_UNUSED)
{
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(JsonNode) plain = NULL;
  g_autoptr(JsonNode) one = NULL;
  JsonObject *specs;

  g_assert_cmpint (nlx_test_call (f->session, "GET",
                                  "/v2.1/flavors/t.special/os-extra_specs",
                                  NULL, &reply), ==, 200);
  g_assert_cmpuint (json_object_get_size (json_node_get_object (reply)), ==, 1);
  specs = nlx_test_object_at (reply, "extra_specs");
  g_assert_cmpuint (json_object_get_size (specs), ==, 4);
  g_assert_cmpstr (json_object_get_string_member (specs, "nova_lxc:privileged"),
                   ==, "true");
  g_assert_cmpstr (json_object_get_string_member (specs, "nova_lxc:pids"),
                   ==, "100");
  g_assert_cmpstr (json_object_get_string_member (specs, "quota:cpu_shares"),
                   ==, "2048");
  g_assert_cmpstr (json_object_get_string_member (specs, "nova_lxc:seccomp"),
                   ==, "unconfined");

  g_assert_cmpint (nlx_test_call (f->session, "GET",
                                  "/v2.1/flavors/t.plain/os-extra_specs",
                                  NULL, &plain), ==, 200);
  g_assert_cmpuint (json_object_get_size (nlx_test_object_at (plain,
                                                              "extra_specs")),
                    ==, 0);

  g_assert_cmpint (nlx_test_call (f->session, "GET",
                                  "/v2.1/flavors/t.special/os-extra_specs/"
                                  "nova_lxc%3Apids", NULL, &one), ==, 200);
  g_assert_cmpuint (json_object_get_size (json_node_get_object (one)), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (one),
                                                  "nova_lxc:pids"), ==, "100");

  nlx_test_expect_fault (f->session, "GET",
                         "/v2.1/flavors/t.plain/os-extra_specs/nova_lxc:pids",
                         NULL, 404, "itemNotFound");
  nlx_test_expect_fault (f->session, "GET",
                         "/v2.1/flavors/nlxtest-none/os-extra_specs", NULL,
                         404, "itemNotFound");
  nlx_test_expect_fault (f->session, "GET",
                         "/v2.1/flavors/nlxtest-none/os-extra_specs/x", NULL,
                         404, "itemNotFound");
  /* Read-only: nova-lxc.conf says what a flavor is. */
  nlx_test_expect_fault (f->session, "POST",
                         "/v2.1/flavors/t.plain/os-extra_specs",
                         "{\"extra_specs\": {\"a\": \"b\"}}", 405, "badMethod");
  nlx_test_expect_fault (f->session, "DELETE",
                         "/v2.1/flavors/t.special/os-extra_specs/nova_lxc:pids",
                         NULL, 405, "badMethod");
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (nlx_test_call (f->session, "GET",
                                  "/v2.1/flavors/t.special/os-extra_specs",
                                  NULL, &reply), ==, 200);
  g_assert_cmpuint (json_object_get_size (nlx_test_object_at (reply,
                                                              "extra_specs")),
                    ==, 4);
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_summary ("The Compute API and the manager, over HTTP, on the fake "
                  "driver: flavors and their extra specs, limits, "
                  "availability zones, services and hypervisors.");
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR);

#define ADD(path, func, config) \
  g_test_add (path, Fixture, config, fixture_set_up, func, fixture_tear_down)
  ADD ("/nlx/api/flavors/bodies", test_flavors, SPECIAL_CONFIG);
  ADD ("/nlx/api/flavors/extra-specs", test_extra_specs, SPECIAL_CONFIG);
#undef ADD

  return g_test_run ();
}
