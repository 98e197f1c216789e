/* test-api-cinder.c: the Cinder v3 read API under /volume, over HTTP, on
 * the fake driver: version discovery without a token, the volume list
 * (summary, detail, filters, pages), a volume with its attachment, and
 * bad input (the fixture: lib/nlx-api-fixture.h).  Keystone's project
 * check is tests/functional/test-openstack-client's. */
#include "config.h"

#include <glib/gstdio.h>

#include "lib/nlx-api-fixture.h"
#include "lib/nlx-test-client.h"
#include "lib/nlx-test-daemon.h"

#define TOKEN "s3cret-t0ken"
/* Over the Unix socket (or the static token) any project is the
 * caller's. */
#define VOLUMES "/volume/v3/nlxtest-project/volumes"

/* @body validated against tempest's Cinder response schema @name
 * (tempest.lib.api_schema.response.volume.@module), when Debian's
 * python3-tempest is installed.  Formats are not checked: a volume's id
 * is its name, not a UUID (docs/api.md). */
static void
validate_with_tempest (Fixture *f,
                       const char *module,
                       const char *name,
                       JsonNode *body)
{
  static const char script[] =
    "import importlib, json, sys\n"
    "try:\n"
    "    import jsonschema\n"
    "    m = importlib.import_module("
    "'tempest.lib.api_schema.response.volume.' + sys.argv[2])\n"
    "except ImportError:\n"
    "    sys.exit(77)\n"
    "schema = getattr(m, sys.argv[3])['response_body']\n"
    "jsonschema.Draft4Validator(schema).validate(json.load(open(sys.argv[1])))\n";
  g_autofree char *file = g_build_filename (f->dir, "body.json", NULL);
  g_autofree char *text = json_to_string (body, TRUE);
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  int status;

  if (!g_file_test ("/usr/bin/python3", G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_message ("no /usr/bin/python3: tempest's schema not checked");
      return;
    }
  g_assert_true (g_file_set_contents (file, text, -1, &error));
  g_assert_true (g_spawn_sync (NULL, (char *[]) { "/usr/bin/python3", "-c",
                                 (char *) script, file, (char *) module,
                                 (char *) name, NULL },
                               NULL, 0, NULL, NULL, NULL, &err, &status,
                               &error));
  g_assert_no_error (error);
  if (WIFEXITED (status) && WEXITSTATUS (status) == 77)
    {
      g_test_message ("python3-tempest or jsonschema missing: tempest's "
                      "schema not checked");
      return;
    }
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("tempest's %s.%s refuses %s:\n%s", module, name, text, err);
}

/* Discovery works before a token, as keystoneauth needs; nothing else. */
static void
test_cinder_versions (Fixture *f,
                      gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *base = g_strdup_printf ("http://127.0.0.1:%u",
                                           f->daemon.tcp_port);
  g_autofree char *href = g_strconcat (base, "/volume/v3/", NULL);
  g_autoptr(SoupSession) session = soup_session_new ();
  const struct {
    const char *path;
    guint status;
  } discovery[] = {
    /* Cinder answers 300 Multiple Choices at its root. */
    { "/volume", 300 }, { "/volume/", 300 },
    { "/volume/v3", 200 }, { "/volume/v3/", 200 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (discovery); i++)
    {
      g_autoptr(JsonNode) reply = NULL;
      JsonArray *versions;
      JsonObject *version;
      JsonArray *links;
      gboolean self = FALSE;

      g_assert_cmpint (nlx_test_call_full (session, base, "GET",
                                           discovery[i].path, NULL, NULL,
                                           NULL, &reply, NULL),
                       ==, discovery[i].status);
      versions = json_object_get_array_member (json_node_get_object (reply),
                                               "versions");
      g_assert_cmpuint (json_array_get_length (versions), ==, 1);
      version = json_array_get_object_element (versions, 0);
      g_assert_cmpstr (json_object_get_string_member (version, "id"), ==,
                       "v3.0");
      g_assert_cmpstr (json_object_get_string_member (version, "status"), ==,
                       "CURRENT");
      g_assert_cmpstr (json_object_get_string_member (version, "min_version"),
                       ==, "3.0");
      g_assert_cmpstr (json_object_get_string_member (version, "version"),
                       ==, "3.0");
      links = json_object_get_array_member (version, "links");
      for (guint l = 0; l < json_array_get_length (links); l++)
        {
          JsonObject *link = json_array_get_object_element (links, l);

          if (g_str_equal (json_object_get_string_member (link, "rel"),
                           "self"))
            {
              g_assert_cmpstr (json_object_get_string_member (link, "href"),
                               ==, href);
              self = TRUE;
            }
        }
      g_assert_true (self);
      validate_with_tempest (f, "versions",
                             discovery[i].status == 300
                               ? "list_versions"
                               : "volume_api_version_details", reply);
    }
  /* Nova's version list is still the root's. */
  g_assert_cmpint (nlx_test_call_full (session, base, "GET", "/", NULL, NULL,
                                       NULL, NULL, NULL), ==, 200);
  /* The volumes are not public. */
  g_assert_cmpint (nlx_test_call_full (session, base, "GET", VOLUMES, NULL,
                                       NULL, NULL, NULL, NULL), ==, 401);
  g_assert_cmpint (nlx_test_call_full (session, base, "GET",
                                       VOLUMES "/detail", NULL, NULL, NULL,
                                       NULL, NULL), ==, 401);
  g_assert_cmpint (nlx_test_call_full (session, base, "GET",
                                       "/volume/v3/nlxtest-project", NULL,
                                       NULL, NULL, NULL, NULL), ==, 401);
  g_assert_cmpint (nlx_test_call_full (session, base, "GET", VOLUMES "/x",
                                       NULL, "X-Auth-Token", TOKEN, NULL, NULL),
                   ==, 404);
}

static void
create_volume (Fixture *f,
               const char *name,
               const char *size)
{
  g_autofree char *body =
    g_strdup_printf ("{\"volume\": {\"display_name\": \"%s\", %s}}", name,
                     size);

  g_assert_cmpint (nlx_test_call (f->session, "POST", "/v2.1/os-volumes",
                                  body, NULL), ==, 200);
}

static JsonArray *
volumes_of (JsonNode *reply)
{
  return json_object_get_array_member (json_node_get_object (reply),
                                       "volumes");
}

/* The ids of a list's page, comma-separated. */
static char *
list_ids (Fixture *f,
          const char *path,
          JsonNode **out)
{
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(GStrvBuilder) ids = g_strv_builder_new ();
  g_auto(GStrv) strv = NULL;
  JsonArray *volumes;

  g_assert_cmpint (nlx_test_call (f->session, "GET", path, NULL, &reply), ==,
                   200);
  volumes = volumes_of (reply);
  for (guint i = 0; i < json_array_get_length (volumes); i++)
    g_strv_builder_add (ids, json_object_get_string_member (
                          json_array_get_object_element (volumes, i), "id"));
  strv = g_strv_builder_end (ids);
  if (out != NULL)
    *out = g_steal_pointer (&reply);
  return g_strjoinv (",", strv);
}

static JsonObject *
find_volume (JsonNode *reply,
             const char *id)
{
  JsonArray *volumes = volumes_of (reply);

  for (guint i = 0; i < json_array_get_length (volumes); i++)
    {
      JsonObject *volume = json_array_get_object_element (volumes, i);

      if (g_str_equal (json_object_get_string_member (volume, "id"), id))
        return volume;
    }
  g_error ("no volume %s in the list", id);
  return NULL;
}

static void
test_cinder_volumes (Fixture *f,
                     gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *server = NULL;
  g_autofree char *attach_path = NULL;
  g_autofree char *ids = NULL;
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(JsonNode) attachment_reply = NULL;
  JsonObject *volume, *attachment, *link;
  JsonArray *attachments;
  g_autoptr(GList) members = NULL;

  ids = list_ids (f, VOLUMES, NULL);
  g_assert_cmpstr (ids, ==, "");
  g_clear_pointer (&ids, g_free);
  /* 16 MiB and 2 GiB: Cinder's size is whole GiB, rounded up. */
  create_volume (f, "nlxtest-cin-small", "\"size_mb\": 16");
  create_volume (f, "nlxtest-cin-big", "\"size\": 2");
  server = nlx_test_create (f->session, "nlxtest-cin-server", "test-image",
                            NULL);
  nlx_test_wait_for_status (f->session, server, "ACTIVE");
  attach_path = g_strconcat ("/v2.1/servers/", server,
                             "/os-volume_attachments", NULL);
  g_assert_cmpint (nlx_test_call (f->session, "POST", attach_path,
                                  "{\"volumeAttachment\": {\"volumeId\": "
                                  "\"nlxtest-cin-small\"}}", NULL), ==, 200);

  /* The summary: id, name and links only. */
  g_assert_cmpint (nlx_test_call (f->session, "GET", VOLUMES, NULL, &reply),
                   ==, 200);
  validate_with_tempest (f, "volumes", "list_volumes_no_detail", reply);
  g_assert_cmpuint (json_array_get_length (volumes_of (reply)), ==, 2);
  volume = find_volume (reply, "nlxtest-cin-small");
  members = json_object_get_members (volume);
  g_assert_cmpuint (g_list_length (members), ==, 3);
  g_assert_cmpstr (json_object_get_string_member (volume, "name"), ==,
                   "nlxtest-cin-small");
  link = json_array_get_object_element (
    json_object_get_array_member (volume, "links"), 0);
  g_assert_cmpstr (json_object_get_string_member (link, "rel"), ==, "self");
  g_assert_true (g_str_has_suffix (json_object_get_string_member (link, "href"),
                                   VOLUMES "/nlxtest-cin-small"));
  g_clear_pointer (&reply, json_node_unref);

  /* The detail, as tempest's schema has Cinder's. */
  g_assert_cmpint (nlx_test_call (f->session, "GET", VOLUMES "/detail", NULL,
                                  &reply), ==, 200);
  validate_with_tempest (f, "volumes", "list_volumes_with_detail", reply);
  volume = find_volume (reply, "nlxtest-cin-big");
  g_assert_cmpstr (json_object_get_string_member (volume, "status"), ==,
                   "available");
  g_assert_cmpint (json_object_get_int_member (volume, "size"), ==, 2);
  g_assert_cmpuint (json_array_get_length (
                      json_object_get_array_member (volume, "attachments")),
                    ==, 0);
  volume = find_volume (reply, "nlxtest-cin-small");
  g_assert_cmpstr (json_object_get_string_member (volume, "status"), ==,
                   "in-use");
  g_assert_cmpint (json_object_get_int_member (volume, "size"), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (volume, "bootable"), ==,
                   "false");
  g_assert_false (json_object_get_boolean_member (volume, "multiattach"));
  g_assert_cmpstr (json_object_get_string_member (
                     json_object_get_object_member (volume, "metadata"),
                     "nova_lxc:size_bytes"), ==, "16777216");
  g_clear_pointer (&reply, json_node_unref);

  /* One volume: its attachment is the one Nova shows, with the same
   * attachment_id as Nova's at 2.89. */
  g_assert_cmpint (nlx_test_call (f->session, "GET",
                                  VOLUMES "/nlxtest-cin-small", NULL, &reply),
                   ==, 200);
  validate_with_tempest (f, "volumes", "show_volume", reply);
  volume = nlx_test_object_at (reply, "volume");
  attachments = json_object_get_array_member (volume, "attachments");
  g_assert_cmpuint (json_array_get_length (attachments), ==, 1);
  attachment = json_array_get_object_element (attachments, 0);
  g_assert_cmpstr (json_object_get_string_member (attachment, "server_id"), ==,
                   server);
  g_assert_cmpstr (json_object_get_string_member (attachment, "volume_id"), ==,
                   "nlxtest-cin-small");
  g_assert_cmpstr (json_object_get_string_member (attachment, "device"), !=,
                   NULL);
  {
    g_autofree char *path = g_strconcat (attach_path, "/nlxtest-cin-small",
                                         NULL);

    g_assert_cmpint (nlx_test_call_full (f->session, "http://localhost", "GET",
                                         path, NULL, "OpenStack-API-Version",
                                         "compute 2.89", &attachment_reply,
                                         NULL), ==, 200);
    g_assert_cmpstr (json_object_get_string_member (attachment,
                                                    "attachment_id"), ==,
                     json_object_get_string_member (
                       nlx_test_object_at (attachment_reply,
                                           "volumeAttachment"),
                       "attachment_id"));
    g_assert_cmpstr (json_object_get_string_member (attachment, "device"), ==,
                     json_object_get_string_member (
                       nlx_test_object_at (attachment_reply,
                                           "volumeAttachment"),
                       "device"));
  }
  g_clear_pointer (&reply, json_node_unref);

  /* Filters, and pages newest first. */
  ids = list_ids (f, VOLUMES "/detail?name=nlxtest-cin-big", NULL);
  g_assert_cmpstr (ids, ==, "nlxtest-cin-big");
  g_clear_pointer (&ids, g_free);
  ids = list_ids (f, VOLUMES "?name=nlxtest-none", NULL);
  g_assert_cmpstr (ids, ==, "");
  g_clear_pointer (&ids, g_free);
  ids = list_ids (f, VOLUMES "?status=in-use", NULL);
  g_assert_cmpstr (ids, ==, "nlxtest-cin-small");
  g_clear_pointer (&ids, g_free);
  ids = list_ids (f, VOLUMES "?status=available", NULL);
  g_assert_cmpstr (ids, ==, "nlxtest-cin-big");
  g_clear_pointer (&ids, g_free);
  ids = list_ids (f, VOLUMES "?all_tenants=1", NULL);
  g_assert_cmpuint (strlen (ids), >, 0);
  g_clear_pointer (&ids, g_free);
  {
    g_autofree char *first = list_ids (f, VOLUMES "?limit=1", &reply);
    g_autofree char *second = NULL;
    g_autofree char *path = NULL;
    const char *next;

    g_assert_cmpuint (strlen (first), >, 0);
    next = json_object_get_string_member (
      json_array_get_object_element (
        json_object_get_array_member (json_node_get_object (reply),
                                      "volumes_links"), 0), "href");
    g_assert_nonnull (strstr (next, "marker="));
    path = g_strconcat (VOLUMES "?limit=1&marker=", first, NULL);
    g_clear_pointer (&reply, json_node_unref);
    second = list_ids (f, path, &reply);
    g_assert_cmpuint (strlen (second), >, 0);
    g_assert_cmpstr (first, !=, second);
    g_clear_pointer (&reply, json_node_unref);
    g_free (path);
    path = g_strconcat (VOLUMES "?marker=", second, NULL);
    ids = list_ids (f, path, &reply);
    g_assert_cmpstr (ids, ==, "");
    /* Not a full page: no next link. */
    g_assert_false (json_object_has_member (json_node_get_object (reply),
                                            "volumes_links"));
    g_clear_pointer (&reply, json_node_unref);
    g_clear_pointer (&ids, g_free);
  }

  /* Detached: available again, as the stock client sees it after
   * `server remove volume`. */
  {
    g_autofree char *path = g_strconcat (attach_path, "/nlxtest-cin-small",
                                         NULL);

    g_assert_cmpint (nlx_test_call (f->session, "DELETE", path, NULL, NULL),
                     ==, 202);
  }
  g_assert_cmpint (nlx_test_call (f->session, "GET",
                                  VOLUMES "/nlxtest-cin-small", NULL, &reply),
                   ==, 200);
  volume = nlx_test_object_at (reply, "volume");
  g_assert_cmpstr (json_object_get_string_member (volume, "status"), ==,
                   "available");
  g_assert_cmpuint (json_array_get_length (
                      json_object_get_array_member (volume, "attachments")),
                    ==, 0);
  g_clear_pointer (&reply, json_node_unref);
  nlx_test_delete_and_wait (f->session, server);
}

/* Bad input: a clear error, and nothing changes. */
static void
test_cinder_bad_input (Fixture *f,
                       gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *ids = NULL;
  g_autoptr(JsonNode) reply = NULL;

  create_volume (f, "nlxtest-cin-vol", "\"size_mb\": 8");
  /* An unknown id, or one no volume could have, is not found: the stock
   * client then searches the list by name. */
  /* The one zone (openstackclient's `availability zone list` asks). */
  g_assert_cmpint (nlx_test_call (f->session, "GET",
                                  "/volume/v3/nlxtest-project/"
                                  "os-availability-zone", NULL, &reply),
                   ==, 200);
  g_assert_cmpstr (json_object_get_string_member (
                     json_array_get_object_element (
                       json_object_get_array_member (
                         json_node_get_object (reply),
                         "availabilityZoneInfo"), 0), "zoneName"), ==,
                   "nova");
  g_clear_pointer (&reply, json_node_unref);
  nlx_test_expect_fault (f->session, "GET", VOLUMES "/nlxtest-none", NULL,
                         404, "itemNotFound");
  nlx_test_expect_fault (f->session, "GET", VOLUMES "/no%20such%20volume",
                         NULL, 404, "itemNotFound");
  nlx_test_expect_fault (f->session, "GET", VOLUMES "?limit=x", NULL, 400,
                         "badRequest");
  nlx_test_expect_fault (f->session, "GET", VOLUMES "?limit=-1", NULL, 400,
                         "badRequest");
  nlx_test_expect_fault (f->session, "GET", VOLUMES "/detail?marker=nlxtest-none",
                         NULL, 400, "badRequest");
  /* A filter this API cannot apply is refused, not ignored. */
  nlx_test_expect_fault (f->session, "GET", VOLUMES "?bootable=true", NULL,
                         400, "badRequest");
  nlx_test_expect_fault (f->session, "GET", VOLUMES "?sort=name:asc", NULL,
                         400, "badRequest");
  /* Read-only. */
  nlx_test_expect_fault (f->session, "POST", VOLUMES,
                         "{\"volume\": {\"size\": 1}}", 405, "badMethod");
  nlx_test_expect_fault (f->session, "DELETE", VOLUMES "/nlxtest-cin-vol",
                         NULL, 405, "badMethod");
  nlx_test_expect_fault (f->session, "POST", "/volume", "{}", 405,
                         "badMethod");
  nlx_test_expect_fault (f->session, "GET", "/volume/v2/x/volumes", NULL, 404,
                         "itemNotFound");
  nlx_test_expect_fault (f->session, "GET",
                         "/volume/v3/nlxtest-project/snapshots", NULL, 404,
                         "itemNotFound");
  ids = list_ids (f, VOLUMES, NULL);
  g_assert_cmpstr (ids, ==, "nlxtest-cin-vol");
  g_assert_cmpint (nlx_test_call (f->session, "GET",
                                  "/v2.1/os-volumes/nlxtest-cin-vol", NULL,
                                  &reply), ==, 200);
}

/* With one endpoint for every service, openstacksdk asks the compute
 * endpoint + /volumes: the caller's project's volumes, as Cinder's. */
static void
test_cinder_compute_alias (Fixture *f,
                           gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *ids = NULL;
  g_autoptr(JsonNode) reply = NULL;
  JsonObject *volume;

  create_volume (f, "nlxtest-cin-vol", "\"size_mb\": 8");
  g_assert_cmpint (nlx_test_call (f->session, "GET",
                                  "/v2.1/volumes/nlxtest-cin-vol", NULL,
                                  &reply), ==, 200);
  validate_with_tempest (f, "volumes", "show_volume", reply);
  volume = nlx_test_object_at (reply, "volume");
  g_assert_cmpstr (json_object_get_string_member (volume, "status"), ==,
                   "available");
  ids = list_ids (f, "/v2.1/volumes?name=nlxtest-cin-vol", NULL);
  g_assert_cmpstr (ids, ==, "nlxtest-cin-vol");
  g_clear_pointer (&ids, g_free);
  ids = list_ids (f, "/v2.1/volumes/detail", NULL);
  g_assert_cmpstr (ids, ==, "nlxtest-cin-vol");
  nlx_test_expect_fault (f->session, "GET", "/v2.1/volumes/nlxtest-none",
                         NULL, 404, "itemNotFound");
  nlx_test_expect_fault (f->session, "DELETE", "/v2.1/volumes/nlxtest-cin-vol",
                         NULL, 405, "badMethod");
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_summary ("The Cinder v3 read API under /volume, over HTTP, on the "
                  "fake driver: discovery, list, show, bad input.");
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR);

#define ADD(path, func, config) \
  g_test_add (path, Fixture, config, fixture_set_up, func, fixture_tear_down)
  ADD ("/nlx/api/cinder/versions", test_cinder_versions,
       "[api]\nlisten = 127.0.0.1:0\nauth_token = " TOKEN "\n");
  ADD ("/nlx/api/cinder/volumes", test_cinder_volumes, NULL);
  ADD ("/nlx/api/cinder/bad-input", test_cinder_bad_input, NULL);
  ADD ("/nlx/api/cinder/compute-alias", test_cinder_compute_alias, NULL);
#undef ADD

  return g_test_run ();
}
