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

/* Three flavors of growing size, for the list's filters and pages. */
#define SIZES_CONFIG \
  "[flavor f.a]\nvcpus = 1\nmemory_mb = 64\nroot_gb = 0\n" \
  "[flavor f.b]\nvcpus = 1\nmemory_mb = 512\nroot_gb = 1\n" \
  "[flavor f.c]\nvcpus = 2\nmemory_mb = 2048\nroot_gb = 20\n"

/* The ids a flavor list answered, comma-separated; @next gets the path
 * and query of its flavors_links "next", or NULL if it has none. */
static char *
list_ids (Fixture *f,
          const char *path,
          char **next)
{
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(GString) ids = g_string_new (NULL);
  JsonObject *object;
  JsonArray *flavors;

  g_assert_cmpint (nlx_test_call (f->session, "GET", path, NULL, &reply), ==,
                   200);
  object = json_node_get_object (reply);
  flavors = json_object_get_array_member (object, "flavors");
  for (guint i = 0; i < json_array_get_length (flavors); i++)
    g_string_append_printf (ids, "%s%s", i > 0 ? "," : "",
                            json_object_get_string_member (json_array_get_object_element (flavors, i),
                                                           "id"));
  *next = NULL;
  if (json_object_has_member (object, "flavors_links"))
    {
      JsonObject *link =
        json_array_get_object_element (json_object_get_array_member (object,
                                                                     "flavors_links"),
                                       0);
      const char *href = json_object_get_string_member (link, "href");

      g_assert_cmpstr (json_object_get_string_member (link, "rel"), ==, "next");
      g_assert_true (g_str_has_prefix (href, "http://localhost/v2.1/"));
      *next = g_strdup (href + strlen ("http://localhost"));
    }
  return g_string_free (g_steal_pointer (&ids), FALSE);
}

/* minRam, minDisk, limit and marker, as Nova's flavor list reads them. */
static void
test_flavor_list_query (Fixture *f,
                        gconstpointer data G_GNUC_UNUSED)
{
  static const struct {
    const char *path;
    const char *ids;
    gboolean has_next;
  } cases[] = {
    { "/v2.1/flavors", "f.a,f.b,f.c", FALSE },
    { "/v2.1/flavors?minRam=512", "f.b,f.c", FALSE },
    { "/v2.1/flavors/detail?minDisk=20", "f.c", FALSE },
    { "/v2.1/flavors?minRam=64&minDisk=1", "f.b,f.c", FALSE },
    { "/v2.1/flavors?minRam=4096", "", FALSE },
    { "/v2.1/flavors?marker=f.a", "f.b,f.c", FALSE },
    { "/v2.1/flavors?marker=f.c", "", FALSE },
    { "/v2.1/flavors?limit=0", "", FALSE },
    { "/v2.1/flavors?limit=3", "f.a,f.b,f.c", TRUE },
    { "/v2.1/flavors?limit=9", "f.a,f.b,f.c", FALSE },
    /* Unknown keys are let through, as Nova 2.1 does. */
    { "/v2.1/flavors?sort_dir=asc&nlxtest=1", "f.a,f.b,f.c", FALSE },
  };
  static const char * const refused[] = {
    "/v2.1/flavors?minRam=abc", "/v2.1/flavors?minRam=-1",
    "/v2.1/flavors/detail?minDisk=1.5", "/v2.1/flavors?limit=x",
    "/v2.1/flavors?limit=-1", "/v2.1/flavors?marker=nlxtest-none",
  };
  g_autofree char *next = NULL;
  g_autofree char *next2 = NULL;
  g_autofree char *page = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *ids = NULL;
      g_autofree char *link = NULL;

      g_test_message ("%s", cases[i].path);
      ids = list_ids (f, cases[i].path, &link);
      g_assert_cmpstr (ids, ==, cases[i].ids);
      g_assert_cmpint (link != NULL, ==, cases[i].has_next);
    }
  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    nlx_test_expect_fault (f->session, "GET", refused[i], NULL, 400,
                           "badRequest");

  /* Pages: the next link keeps the query, with the last id as marker. */
  page = list_ids (f, "/v2.1/flavors/detail?limit=1&minRam=512", &next);
  g_assert_cmpstr (page, ==, "f.b");
  g_assert_nonnull (next);
  g_assert_true (g_str_has_prefix (next, "/v2.1/flavors/detail?"));
  g_assert_nonnull (strstr (next, "marker=f.b"));
  g_assert_nonnull (strstr (next, "minRam=512"));
  g_free (page);
  page = list_ids (f, next, &next2);
  g_assert_cmpstr (page, ==, "f.c");
  g_assert_nonnull (next2);
  g_free (page);
  g_clear_pointer (&next, g_free);
  page = list_ids (f, next2, &next);
  g_assert_cmpstr (page, ==, "");
  g_assert_null (next);
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

/* A fake host of 2 CPUs, 4608 MiB (512 reserved) and 30 GiB, with the
 * default ratios (cpu 4.0, ram and disk 1.0). */
#define HOST_CONFIG \
  "[fake]\nvcpus = 2\nmemory_mb = 4608\nlocal_gb = 30\n" \
  "[DEFAULT]\nreserved_host_memory_mb = 512\n" \
  "[flavor t.small]\nvcpus = 2\nmemory_mb = 256\nroot_gb = 1\n"

static JsonObject *
get_absolute (Fixture *f,
              const char *path,
              const char *project,
              JsonNode **reply)
{
  g_assert_cmpint (nlx_test_call_full (f->session, "http://localhost", "GET",
                                       path, NULL,
                                       project ? "X-Project-Id" : NULL,
                                       project, reply, NULL), ==, 200);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (nlx_test_object_at (*reply,
                                                                                            "limits"),
                                                                         "rate")),
                    ==, 0);
  return json_object_get_object_member (nlx_test_object_at (*reply, "limits"),
                                        "absolute");
}

/* The maxima are the host's capacity after the allocation ratios; the
 * usage is the caller's project's (or ?tenant_id='s) claims. */
static void
test_limits (Fixture *f,
             gconstpointer data G_GNUC_UNUSED)
{
  g_autoptr(JsonNode) created = NULL;
  g_autoptr(JsonNode) mine = NULL;
  g_autoptr(JsonNode) other = NULL;
  g_autoptr(JsonNode) asked = NULL;
  g_autoptr(JsonNode) after = NULL;
  g_autofree char *id = NULL;
  JsonObject *absolute;

  g_assert_cmpint (nlx_test_call_full (f->session, "http://localhost", "POST",
                                       "/v2.1/servers",
                                       "{\"server\": {\"name\": \"nlxtest-a\", "
                                       "\"flavorRef\": \"t.small\", "
                                       "\"imageRef\": \"test-image\"}}",
                                       "X-Project-Id", "nlxtest-project-a",
                                       &created, NULL), ==, 202);
  id = g_strdup (json_object_get_string_member (nlx_test_object_at (created,
                                                                    "server"),
                                                "id"));
  nlx_test_wait_for_status (f->session, id, "ACTIVE");

  absolute = get_absolute (f, "/v2.1/limits", "nlxtest-project-a", &mine);
  g_assert_cmpint (json_object_get_int_member (absolute, "maxTotalCores"), ==, 8);
  g_assert_cmpint (json_object_get_int_member (absolute, "maxTotalRAMSize"), ==,
                   4096);
  /* [filter_scheduler] max_instances_per_host's default */
  g_assert_cmpint (json_object_get_int_member (absolute, "maxTotalInstances"),
                   ==, 1000);
  g_assert_cmpint (json_object_get_int_member (absolute, "totalInstancesUsed"),
                   ==, 1);
  g_assert_cmpint (json_object_get_int_member (absolute, "totalCoresUsed"), ==, 2);
  g_assert_cmpint (json_object_get_int_member (absolute, "totalRAMUsed"), ==, 256);
  /* What nova-lxc does not offer cannot be had. */
  g_assert_cmpint (json_object_get_int_member (absolute, "maxPersonality"), ==, 0);
  g_assert_cmpint (json_object_get_int_member (absolute, "maxSecurityGroups"),
                   ==, 0);
  g_assert_cmpuint (json_object_get_size (absolute), ==, 19);

  /* Another project uses nothing of it. */
  absolute = get_absolute (f, "/v2.1/limits", "nlxtest-project-b", &other);
  g_assert_cmpint (json_object_get_int_member (absolute, "maxTotalCores"), ==, 8);
  g_assert_cmpint (json_object_get_int_member (absolute, "totalInstancesUsed"),
                   ==, 0);
  g_assert_cmpint (json_object_get_int_member (absolute, "totalRAMUsed"), ==, 0);
  absolute = get_absolute (f, "/v2.1/limits?tenant_id=nlxtest-project-a",
                           "nlxtest-project-b", &asked);
  g_assert_cmpint (json_object_get_int_member (absolute, "totalCoresUsed"), ==, 2);

  nlx_test_delete_and_wait (f->session, id);
  absolute = get_absolute (f, "/v2.1/limits", "nlxtest-project-a", &after);
  g_assert_cmpint (json_object_get_int_member (absolute, "totalInstancesUsed"),
                   ==, 0);
  nlx_test_expect_fault (f->session, "POST", "/v2.1/limits", "{}", 405,
                         "badMethod");
}

static JsonObject *
array_object (JsonNode *reply,
              const char *member,
              guint index)
{
  return json_array_get_object_element (json_object_get_array_member (json_node_get_object (reply),
                                                                      member),
                                        index);
}

static guint
array_length (JsonNode *reply,
              const char *member)
{
  return json_array_get_length (json_object_get_array_member (json_node_get_object (reply),
                                                              member));
}

/* One zone, "nova", with this host's compute service in its detail; one
 * service row; no aggregates. */
static void
test_zones_and_services (Fixture *f,
                         gconstpointer data G_GNUC_UNUSED)
{
  g_autoptr(JsonNode) zones = NULL;
  g_autoptr(JsonNode) detail = NULL;
  g_autoptr(JsonNode) services = NULL;
  g_autoptr(JsonNode) none = NULL;
  g_autoptr(JsonNode) aggregates = NULL;
  g_autoptr(JsonNode) hypervisors = NULL;
  JsonObject *zone, *service, *hosts, *compute;
  const char *host;

  /* The host's name, as the hypervisor's service tells it. */
  g_assert_cmpint (nlx_test_call (f->session, "GET", "/v2.1/os-hypervisors/1",
                                  NULL, &hypervisors), ==, 200);
  host = json_object_get_string_member (json_object_get_object_member (nlx_test_object_at (hypervisors,
                                                                                          "hypervisor"),
                                                                       "service"),
                                        "host");
  g_assert_nonnull (host);

  g_assert_cmpint (nlx_test_call (f->session, "GET", "/v2.1/os-availability-zone",
                                  NULL, &zones), ==, 200);
  g_assert_cmpuint (array_length (zones, "availabilityZoneInfo"), ==, 1);
  zone = array_object (zones, "availabilityZoneInfo", 0);
  g_assert_cmpstr (json_object_get_string_member (zone, "zoneName"), ==, "nova");
  g_assert_true (json_object_get_boolean_member (json_object_get_object_member (zone,
                                                                                "zoneState"),
                                                 "available"));
  g_assert_true (json_object_get_null_member (zone, "hosts"));

  g_assert_cmpint (nlx_test_call (f->session, "GET",
                                  "/v2.1/os-availability-zone/detail", NULL,
                                  &detail), ==, 200);
  zone = array_object (detail, "availabilityZoneInfo", 0);
  hosts = json_object_get_object_member (zone, "hosts");
  g_assert_cmpuint (json_object_get_size (hosts), ==, 1);
  compute = json_object_get_object_member (json_object_get_object_member (hosts,
                                                                          host),
                                           "nova-compute");
  g_assert_true (json_object_get_boolean_member (compute, "available"));
  g_assert_true (json_object_get_boolean_member (compute, "active"));
  g_assert_nonnull (json_object_get_string_member (compute, "updated_at"));

  g_assert_cmpint (nlx_test_call (f->session, "GET", "/v2.1/os-services", NULL,
                                  &services), ==, 200);
  g_assert_cmpuint (array_length (services, "services"), ==, 1);
  service = array_object (services, "services", 0);
  g_assert_cmpint (json_object_get_int_member (service, "id"), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (service, "binary"), ==,
                   "nova-compute");
  g_assert_cmpstr (json_object_get_string_member (service, "host"), ==, host);
  g_assert_cmpstr (json_object_get_string_member (service, "zone"), ==, "nova");
  g_assert_cmpstr (json_object_get_string_member (service, "status"), ==,
                   "enabled");
  g_assert_cmpstr (json_object_get_string_member (service, "state"), ==, "up");
  g_assert_nonnull (json_object_get_string_member (service, "updated_at"));
  g_assert_true (json_object_get_null_member (service, "disabled_reason"));
  g_assert_cmpuint (json_object_get_size (service), ==, 8);
  /* Filters, as Nova's: a row matches when each given one is its own. */
  g_assert_cmpint (nlx_test_call (f->session, "GET",
                                  "/v2.1/os-services?binary=nova-scheduler",
                                  NULL, &none), ==, 200);
  g_assert_cmpuint (array_length (none, "services"), ==, 0);
  g_clear_pointer (&none, json_node_unref);
  g_assert_cmpint (nlx_test_call (f->session, "GET",
                                  "/v2.1/os-services?host=nlxtest-elsewhere",
                                  NULL, &none), ==, 200);
  g_assert_cmpuint (array_length (none, "services"), ==, 0);

  g_assert_cmpint (nlx_test_call (f->session, "GET", "/v2.1/os-aggregates", NULL,
                                  &aggregates), ==, 200);
  g_assert_cmpuint (array_length (aggregates, "aggregates"), ==, 0);
  nlx_test_expect_fault (f->session, "POST", "/v2.1/os-aggregates",
                         "{\"aggregate\": {\"name\": \"x\"}}", 405, "badMethod");
  nlx_test_expect_fault (f->session, "PUT", "/v2.1/os-services", "{}", 405,
                         "badMethod");
}

/* The hypervisor the list numbers 1 is shown by that id, found by its
 * name, and lists the servers that hold a place on it. */
static void
test_hypervisors (Fixture *f,
                  gconstpointer data G_GNUC_UNUSED)
{
  g_autoptr(JsonNode) shown = NULL;
  g_autoptr(JsonNode) found = NULL;
  g_autoptr(JsonNode) empty = NULL;
  g_autoptr(JsonNode) servers = NULL;
  g_autoptr(JsonNode) uptime = NULL;
  g_autoptr(JsonNode) info = NULL;
  g_autofree char *search = NULL;
  g_autofree char *on_host = NULL;
  g_autofree char *id = NULL;
  g_autofree char *name = NULL;
  g_autofree char *part = NULL;
  JsonObject *hypervisor, *entry, *server;
  JsonArray *list;

  g_assert_cmpint (nlx_test_call (f->session, "GET", "/v2.1/os-hypervisors/1",
                                  NULL, &shown), ==, 200);
  hypervisor = nlx_test_object_at (shown, "hypervisor");
  g_assert_cmpint (json_object_get_int_member (hypervisor, "id"), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (hypervisor, "hypervisor_type"),
                   ==, "fake");
  g_assert_cmpint (json_object_get_int_member (hypervisor, "vcpus"), ==, 2);
  g_assert_cmpint (json_object_get_int_member (hypervisor, "memory_mb_used"), ==,
                   512);
  /* cpu_info is a JSON document in a string, as Nova 2.1's. */
  info = json_from_string (json_object_get_string_member (hypervisor, "cpu_info"),
                           NULL);
  g_assert_nonnull (info);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (info));
  g_assert_nonnull (json_object_get_string_member (json_node_get_object (info),
                                                   "arch"));
  name = g_strdup (json_object_get_string_member (hypervisor,
                                                  "hypervisor_hostname"));
  g_assert_cmpuint (strlen (name), >, 0);

  nlx_test_expect_fault (f->session, "GET", "/v2.1/os-hypervisors/2", NULL, 404,
                         "itemNotFound");
  nlx_test_expect_fault (f->session, "GET", "/v2.1/os-hypervisors/2/uptime",
                         NULL, 404, "itemNotFound");
  /* The host's uptime(1), in the shape openstackclient parses. */
  g_assert_cmpint (nlx_test_call (f->session, "GET",
                                  "/v2.1/os-hypervisors/1/uptime", NULL,
                                  &uptime), ==, 200);
  g_assert_true (g_regex_match_simple (
                   "^\\s*(.+)\\sup\\s+(.+),\\s+(.+)\\susers?,\\s+load average:\\s(.+)$",
                   json_object_get_string_member (nlx_test_object_at (uptime,
                                                                      "hypervisor"),
                                                  "uptime"), 0, 0));

  /* Found by any part of its name, as Nova's LIKE %pattern%. */
  part = g_strndup (name + strlen (name) / 2, 1 + (strlen (name) - 1) / 2);
  search = g_strdup_printf ("/v2.1/os-hypervisors/%s/search", part);
  g_assert_cmpint (nlx_test_call (f->session, "GET", search, NULL, &found), ==,
                   200);
  g_assert_cmpuint (array_length (found, "hypervisors"), ==, 1);
  entry = array_object (found, "hypervisors", 0);
  g_assert_cmpint (json_object_get_int_member (entry, "id"), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (entry, "hypervisor_hostname"),
                   ==, name);
  g_assert_false (json_object_has_member (entry, "vcpus"));
  nlx_test_expect_fault (f->session, "GET",
                         "/v2.1/os-hypervisors/nlxtest-nowhere/search", NULL,
                         404, "itemNotFound");
  nlx_test_expect_fault (f->session, "GET",
                         "/v2.1/os-hypervisors/nlxtest-nowhere/servers", NULL,
                         404, "itemNotFound");

  /* No servers: no member, as Nova 2.1. */
  on_host = g_strdup_printf ("/v2.1/os-hypervisors/%s/servers", name);
  g_assert_cmpint (nlx_test_call (f->session, "GET", on_host, NULL, &empty), ==,
                   200);
  g_assert_false (json_object_has_member (array_object (empty, "hypervisors", 0),
                                          "servers"));
  id = nlx_test_create_on_flavor (f->session, "nlxtest-on-host", "t.small",
                                  "test-image", NULL);
  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  g_assert_cmpint (nlx_test_call (f->session, "GET", on_host, NULL, &servers),
                   ==, 200);
  list = json_object_get_array_member (array_object (servers, "hypervisors", 0),
                                       "servers");
  g_assert_cmpuint (json_array_get_length (list), ==, 1);
  server = json_array_get_object_element (list, 0);
  g_assert_cmpstr (json_object_get_string_member (server, "uuid"), ==, id);
  g_assert_cmpstr (json_object_get_string_member (server, "name"), ==,
                   "nlxtest-on-host");
  nlx_test_delete_and_wait (f->session, id);
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
  ADD ("/nlx/api/flavors/list-query", test_flavor_list_query, SIZES_CONFIG);
  ADD ("/nlx/api/limits", test_limits, HOST_CONFIG);
  ADD ("/nlx/api/host/zones-and-services", test_zones_and_services, NULL);
  ADD ("/nlx/api/hypervisors/show-search-servers", test_hypervisors,
       HOST_CONFIG);
#undef ADD

  return g_test_run ();
}
