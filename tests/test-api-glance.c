/* test-api-glance.c: the Glance v2 read API under /image, over HTTP, on
 * the fake driver: version discovery, the image list's filters, sorting
 * and pages, show, delete, and bad input (the fixture:
 * lib/nlx-api-fixture.h). */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>

#include "common/nlx-file.h"
#include "host/nlx-archive.h"
#include "lib/nlx-api-fixture.h"
#include "lib/nlx-test-client.h"
#include "lib/nlx-test-daemon.h"
#include "lib/nlx-test-tools.h"

#define TOKEN "s3cret-t0ken"

static JsonArray *
images_of (JsonNode *reply)
{
  return json_object_get_array_member (json_node_get_object (reply), "images");
}

/* The names of a list's page, comma-separated. */
static char *
names_of (JsonNode *reply)
{
  JsonArray *images = images_of (reply);
  g_autoptr(GStrvBuilder) names = g_strv_builder_new ();
  g_auto(GStrv) strv = NULL;

  for (guint i = 0; i < json_array_get_length (images); i++)
    g_strv_builder_add (names, json_object_get_string_member (
                          json_array_get_object_element (images, i), "name"));
  strv = g_strv_builder_end (names);
  return g_strjoinv (",", strv);
}

static char *
list_names (Fixture *f,
            const char *query)
{
  g_autofree char *path = g_strconcat ("/image/v2/images", query, NULL);
  g_autoptr(JsonNode) reply = NULL;

  g_assert_cmpint (nlx_test_call (f->session, "GET", path, NULL, &reply), ==,
                   200);
  return names_of (reply);
}

/* Glance's own image schema, as python3-glanceclient ships it, when it
 * is installed: the daemon does not depend on it.  Two changes, said in
 * docs/api.md: os_hash_value may be 128 characters, as in Glance's
 * server-side schema (glanceclient's copy says 32, too short for
 * Glance's default sha512), and a configured image's id is its name. */
static void
validate_with_glance_schema (Fixture *f,
                             JsonNode *image,
                             gboolean configured)
{
  static const char script[] =
    "import json, sys\n"
    "try:\n"
    "    import jsonschema\n"
    "    from glanceclient.v2 import image_schema\n"
    "except ImportError:\n"
    "    sys.exit(77)\n"
    "schema = json.loads(json.dumps(image_schema._BASE_SCHEMA))\n"
    "schema['properties']['os_hash_value']['maxLength'] = 128\n"
    "if sys.argv[2] == 'configured':\n"
    "    del schema['properties']['id']['pattern']\n"
    "jsonschema.Draft4Validator(schema).validate(json.load(open(sys.argv[1])))\n";
  g_autofree char *file = g_build_filename (f->dir, "image.json", NULL);
  g_autofree char *text = json_to_string (image, TRUE);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  int status;

  if (!g_file_test ("/usr/bin/python3", G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_message ("no /usr/bin/python3: Glance's schema not checked");
      return;
    }
  g_assert_true (g_file_set_contents (file, text, -1, &error));
  g_assert_true (g_spawn_sync (NULL, (char *[]) { "/usr/bin/python3", "-c",
                                 (char *) script, file,
                                 configured ? "configured" : "stored", NULL },
                               NULL, 0, NULL, NULL, &out, &err, &status,
                               &error));
  g_assert_no_error (error);
  if (WIFEXITED (status) && WEXITSTATUS (status) == 77)
    {
      g_test_message ("python3-glanceclient or jsonschema missing: "
                      "Glance's schema not checked");
      return;
    }
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("Glance's schema refuses %s:\n%s", text, err);
}

/* Discovery works before a token, as keystoneauth needs; nothing else. */
static void
test_glance_versions (Fixture *f,
                      gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *base = g_strdup_printf ("http://127.0.0.1:%u",
                                           f->daemon.tcp_port);
  g_autofree char *href = g_strconcat (base, "/image/v2/", NULL);
  g_autoptr(SoupSession) session = soup_session_new ();
  const char *discovery[] = { "/image", "/image/", "/image/v2", "/image/v2/" };

  for (guint i = 0; i < G_N_ELEMENTS (discovery); i++)
    {
      g_autoptr(JsonNode) reply = NULL;
      JsonObject *version;
      JsonObject *link;

      /* Glance answers 300 Multiple Choices there. */
      g_assert_cmpint (nlx_test_call_full (session, base, "GET", discovery[i],
                                           NULL, NULL, NULL, &reply, NULL),
                       ==, 300);
      version = json_array_get_object_element (
        json_object_get_array_member (json_node_get_object (reply),
                                      "versions"), 0);
      g_assert_cmpstr (json_object_get_string_member (version, "id"), ==,
                       "v2.0");
      g_assert_cmpstr (json_object_get_string_member (version, "status"), ==,
                       "CURRENT");
      link = json_array_get_object_element (
        json_object_get_array_member (version, "links"), 0);
      g_assert_cmpstr (json_object_get_string_member (link, "href"), ==, href);
    }
  g_assert_cmpint (nlx_test_call_full (session, base, "GET", "/image/versions",
                                       NULL, NULL, NULL, NULL, NULL), ==, 200);
  /* Nova's version list is still the root's. */
  g_assert_cmpint (nlx_test_call_full (session, base, "GET", "/", NULL, NULL,
                                       NULL, NULL, NULL), ==, 200);
  g_assert_cmpint (nlx_test_call_full (session, base, "GET", "/image/v2/images",
                                       NULL, NULL, NULL, NULL, NULL), ==, 401);
  g_assert_cmpint (nlx_test_call_full (session, base, "GET",
                                       "/image/v2/images/test-image", NULL,
                                       NULL, NULL, NULL, NULL), ==, 401);
  g_assert_cmpint (nlx_test_call_full (session, base, "GET", "/image/v2x",
                                       NULL, NULL, NULL, NULL, NULL), ==, 401);
  g_assert_cmpint (nlx_test_call_full (session, base, "GET", "/image/v2/images",
                                       NULL, "X-Auth-Token", TOKEN, NULL, NULL),
                   ==, 200);
}

/* The configured image and snapshots, as Glance shows them. */
static void
test_glance_images (Fixture *f,
                    gconstpointer data G_GNUC_UNUSED)
{
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(JsonNode) again = NULL;
  g_autoptr(JsonNode) shown = NULL;
  g_autofree char *server = NULL;
  char *ids[3] = { NULL };
  g_autofree char *names = NULL;
  g_autofree char *path = NULL;
  g_autofree char *alias = NULL;
  JsonObject *image;
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  const char *next;

  g_assert_cmpint (nlx_test_call (f->session, "GET", "/image/v2/images", NULL,
                                  &reply), ==, 200);
  g_assert_cmpuint (json_array_get_length (images_of (reply)), ==, 1);
  image = json_array_get_object_element (images_of (reply), 0);
  g_assert_cmpstr (json_object_get_string_member (image, "id"), ==,
                   "test-image");
  g_assert_cmpstr (json_object_get_string_member (image, "status"), ==,
                   "active");
  g_assert_cmpstr (json_object_get_string_member (image, "visibility"), ==,
                   "public");
  g_assert_true (json_object_get_boolean_member (image, "protected"));
  g_assert_cmpstr (json_object_get_string_member (image, "self"), ==,
                   "/v2/images/test-image");
  g_assert_cmpstr (json_object_get_string_member (image, "schema"), ==,
                   "/v2/schemas/image");
  g_assert_cmpstr (json_object_get_string_member (image, "os_shutdown_signal"),
                   ==, "SIGUSR2");
  g_assert_false (json_object_has_member (json_node_get_object (reply),
                                          "next"));
  validate_with_glance_schema (f, json_array_get_element (images_of (reply), 0),
                               TRUE);
  g_clear_pointer (&reply, json_node_unref);

  /* Three snapshots: createImage answers their ids at 2.45. */
  nlx_test_session_set_version (f->session, "2.45");
  server = nlx_test_create (f->session, "nlxtest-glance", "test-image", NULL);
  nlx_test_wait_for_status (f->session, server, "ACTIVE");
  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    {
      g_autofree char *body =
        g_strdup_printf ("{\"createImage\": {\"name\": \"nlxtest-snap%u\", "
                         "\"metadata\": {\"owner\": \"someone-else\"}}}", i);

      ids[i] = nlx_test_create_image (f->session, server, body);
      nlx_test_wait_for_status (f->session, server, "ACTIVE");
    }

  /* Show: by id, not by name, as Glance. */
  path = g_strconcat ("/image/v2/images/", ids[1], NULL);
  g_assert_cmpint (nlx_test_call (f->session, "GET", path, NULL, &shown), ==,
                   200);
  image = json_node_get_object (shown);
  g_assert_cmpstr (json_object_get_string_member (image, "id"), ==, ids[1]);
  g_assert_cmpstr (json_object_get_string_member (image, "name"), ==,
                   "nlxtest-snap1");
  g_assert_false (json_object_get_boolean_member (image, "protected"));
  g_assert_cmpstr (json_object_get_string_member (image, "os_hash_algo"), ==,
                   "sha256");
  g_assert_cmpuint (strlen (json_object_get_string_member (image,
                                                           "os_hash_value")),
                    ==, 64);
  g_assert_cmpint (json_object_get_int_member (image, "size"), >, 0);
  /* The server's project owns its snapshots, whatever the metadata said. */
  g_assert_cmpstr (json_object_get_string_member (image, "owner"), ==,
                   "admin");
  g_assert_cmpstr (json_object_get_string_member (image, "visibility"), ==,
                   "private");
  g_assert_false (json_object_has_member (image, "properties"));
  g_assert_cmpstr (json_object_get_string_member (image, "image_type"), ==,
                   "snapshot");
  g_assert_cmpstr (json_object_get_string_member (image, "instance_uuid"), ==,
                   server);
  validate_with_glance_schema (f, shown, FALSE);
  nlx_test_expect_fault (f->session, "GET", "/image/v2/images/nlxtest-snap1",
                         NULL, 404, "itemNotFound");
  nlx_test_expect_fault (f->session, "GET",
                         "/image/v2/images/00000000-0000-4000-8000-000000000000",
                         NULL, 404, "itemNotFound");

  /* Pages of two, following next, cover every image once. */
  next = "/v2/images?limit=2";
  for (guint page = 0; next != NULL; page++)
    {
      g_autofree char *url = g_strconcat ("/image", next, NULL);
      JsonArray *images;

      g_assert_cmpuint (page, <, 3);
      g_clear_pointer (&reply, json_node_unref);
      g_assert_cmpint (nlx_test_call (f->session, "GET", url, NULL, &reply),
                       ==, 200);
      images = images_of (reply);
      for (guint i = 0; i < json_array_get_length (images); i++)
        g_assert_true (g_hash_table_add (seen, (gpointer) g_intern_string (
                                           json_object_get_string_member (
                                             json_array_get_object_element (images, i),
                                             "id"))));
      next = json_object_get_string_member_with_default (
        json_node_get_object (reply), "next", NULL);
      if (next != NULL)
        g_assert_cmpuint (json_array_get_length (images), ==, 2);
    }
  g_assert_cmpuint (g_hash_table_size (seen), ==, 4);

  /* Sorting, both forms. */
  names = list_names (f, "?sort=name:asc");
  g_assert_cmpstr (names, ==, "nlxtest-snap0,nlxtest-snap1,nlxtest-snap2,test-image");
  g_free (names);
  names = list_names (f, "?sort_key=name&sort_dir=desc");
  g_assert_cmpstr (names, ==, "test-image,nlxtest-snap2,nlxtest-snap1,nlxtest-snap0");
  g_free (names);
  path = g_strdup_printf ("?sort=name:asc&limit=1&marker=%s", ids[0]);
  names = list_names (f, path);
  g_assert_cmpstr (names, ==, "nlxtest-snap1");
  g_free (names);
  g_clear_pointer (&path, g_free);

  /* Filters: core fields, extra properties. */
  names = list_names (f, "?name=nlxtest-snap2");
  g_assert_cmpstr (names, ==, "nlxtest-snap2");
  g_free (names);
  names = list_names (f, "?image_type=snapshot&sort=name:asc");
  g_assert_cmpstr (names, ==, "nlxtest-snap0,nlxtest-snap1,nlxtest-snap2");
  g_free (names);
  names = list_names (f, "?protected=true");
  g_assert_cmpstr (names, ==, "test-image");
  g_free (names);
  /* openstacksdk sends Python's spelling, which Glance takes. */
  names = list_names (f, "?protected=False&sort=name:asc");
  g_assert_cmpstr (names, ==, "nlxtest-snap0,nlxtest-snap1,nlxtest-snap2");
  g_free (names);
  names = list_names (f, "?os_hidden=True");
  g_assert_cmpstr (names, ==, "");
  g_free (names);
  names = list_names (f, "?status=queued");
  g_assert_cmpstr (names, ==, "");
  g_free (names);
  /* A snapshot is its server's project's. */
  names = list_names (f, "?visibility=private&sort=name:asc");
  g_assert_cmpstr (names, ==, "nlxtest-snap0,nlxtest-snap1,nlxtest-snap2");
  g_free (names);
  names = list_names (f, "?visibility=public");
  g_assert_cmpstr (names, ==, "test-image");
  g_free (names);
  names = list_names (f, "?visibility=shared");
  g_assert_cmpstr (names, ==, "");
  g_free (names);
  names = list_names (f, "?visibility=public&status=active&os_hidden=false&limit=1000");
  g_assert_cmpuint (strlen (names), >, 0);
  g_free (names);
  names = list_names (f, "?tag=x");
  g_assert_cmpstr (names, ==, "");
  g_free (names);
  names = list_names (f, "?size_min=1&sort=name:asc");
  g_assert_cmpstr (names, ==, "nlxtest-snap0,nlxtest-snap1,nlxtest-snap2");
  g_free (names);

  /* Bad input: 400, and a path that is not the API's. */
  {
    const char *bad[] = {
      "?marker=nlxtest-nothing", "?limit=x", "?limit=-1", "?status=bogus",
      "?visibility=bogus", "?sort_key=bogus", "?sort_dir=up",
      "?sort=name:up", "?sort=bogus", "?sort=name&sort_key=id",
      "?sort_key=name&sort_key=id&sort_dir=asc&sort_dir=desc&sort_dir=asc",
      "?created_at=gt:2020-01-01T00:00:00Z", "?protected=maybe",
      "?size_max=big",
    };

    for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
      {
        g_autofree char *url = g_strconcat ("/image/v2/images", bad[i], NULL);

        nlx_test_expect_fault (f->session, "GET", url, NULL, 400,
                               "badRequest");
      }
  }
  nlx_test_expect_fault (f->session, "POST", "/image/v2/images", "{}", 405,
                         "badMethod");
  nlx_test_expect_fault (f->session, "PATCH", "/image/v2/images/test-image",
                         "{}", 405, "badMethod");
  nlx_test_expect_fault (f->session, "GET", "/image/v3/images", NULL, 404,
                         "itemNotFound");

  /* novaclient's path when one endpoint serves every service. */
  alias = g_strconcat ("/v2.1/v2/images/", ids[2], NULL);
  g_assert_cmpint (nlx_test_call (f->session, "GET",
                                  "/v2.1/v2/images?name=nlxtest-snap2", NULL,
                                  &again), ==, 200);
  g_assert_cmpuint (json_array_get_length (images_of (again)), ==, 1);
  g_assert_cmpint (nlx_test_call (f->session, "GET", alias, NULL, NULL), ==,
                   200);

  /* Delete: the configured image is protected; one in use is not taken
   * from under its server; then it goes. */
  nlx_test_expect_fault (f->session, "DELETE", "/image/v2/images/test-image",
                         NULL, 403, "forbidden");
  g_assert_cmpint (nlx_test_call (f->session, "GET",
                                  "/image/v2/images/test-image", NULL, NULL),
                   ==, 200);
  path = g_strconcat ("/image/v2/images/", ids[0], NULL);
  {
    g_autofree char *body =
      g_strdup_printf ("{\"rebuild\": {\"imageRef\": \"%s\"}}", ids[0]);

    g_assert_cmpint (nlx_test_act (f->session, server, body), ==, 202);
    nlx_test_wait_for_status (f->session, server, "ACTIVE");
  }
  nlx_test_expect_fault (f->session, "DELETE", path, NULL, 409,
                         "conflictingRequest");
  g_assert_cmpint (nlx_test_call (f->session, "DELETE", alias, NULL, NULL),
                   ==, 204);
  nlx_test_expect_fault (f->session, "GET", alias, NULL, 404, "itemNotFound");
  nlx_test_expect_fault (f->session, "DELETE", alias, NULL, 404,
                         "itemNotFound");
  nlx_test_delete_and_wait (f->session, server);
  g_assert_cmpint (nlx_test_call (f->session, "DELETE", path, NULL, NULL), ==,
                   204);
  names = list_names (f, "?sort=name:asc");
  g_assert_cmpstr (names, ==, "nlxtest-snap1,test-image");
  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    g_free (ids[i]);
}


/* ---- GET /image/v2/images/{id}/file ------------------------------------ */

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/* What a tree holds, one line per member, in name order: type, mode,
 * owner, device, size, a link's target, a checksum of the content, the
 * extended attributes, and which members are one file (hard links). */
static void
describe_tree (GString *out,
               GHashTable *inodes,
               const char *top,
               const char *member)
{
  g_autofree char *path = member ? g_build_filename (top, member, NULL)
                                 : g_strdup (top);
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);
  for (guint i = 0; i < names->len; i++)
    {
      g_autofree char *child = member ? g_build_filename (member,
                                                          names->pdata[i], NULL)
                                      : g_strdup (names->pdata[i]);
      g_autofree char *full = g_build_filename (top, child, NULL);
      g_autofree char *ino = NULL;
      char xattrs[4096];
      ssize_t length;
      struct stat st;

      g_assert_cmpint (lstat (full, &st), ==, 0);
      g_string_append_printf (out, "%s %o %u:%u", child, st.st_mode,
                              st.st_uid, st.st_gid);
      if (S_ISCHR (st.st_mode) || S_ISBLK (st.st_mode))
        g_string_append_printf (out, " dev %u,%u", major (st.st_rdev),
                                minor (st.st_rdev));
      if (S_ISLNK (st.st_mode))
        {
          g_autofree char *target = g_file_read_link (full, NULL);

          g_string_append_printf (out, " -> %s", target);
        }
      if (S_ISREG (st.st_mode))
        {
          g_autofree char *data = NULL;
          gsize size;
          g_autofree char *sum = NULL;

          g_assert_true (g_file_get_contents (full, &data, &size, NULL));
          sum = g_compute_checksum_for_data (G_CHECKSUM_SHA256,
                                             (const guchar *) data, size);
          g_string_append_printf (out, " %zu %s mtime %ld", size, sum,
                                  (long) st.st_mtime);
          if (st.st_nlink > 1)
            {
              const char *first;

              ino = g_strdup_printf ("%lu", (unsigned long) st.st_ino);
              first = g_hash_table_lookup (inodes, ino);
              if (first != NULL)
                g_string_append_printf (out, " same as %s", first);
              else
                g_hash_table_insert (inodes, g_steal_pointer (&ino),
                                     g_strdup (child));
            }
        }
      length = llistxattr (full, xattrs, sizeof xattrs);
      g_assert_cmpint (length, >=, 0);
      for (ssize_t at = 0; at < length; at += strlen (xattrs + at) + 1)
        {
          guchar value[256];
          ssize_t n = lgetxattr (full, xattrs + at, value, sizeof value);

          g_assert_cmpint (n, >=, 0);
          g_string_append_printf (out, " %s=", xattrs + at);
          for (ssize_t b = 0; b < n; b++)
            g_string_append_printf (out, "%02x", value[b]);
        }
      g_string_append_c (out, '\n');
      if (S_ISDIR (st.st_mode))
        describe_tree (out, inodes, top, child);
    }
}

static char *
tree_description (const char *top)
{
  GString *out = g_string_new (NULL);
  g_autoptr(GHashTable) inodes = g_hash_table_new_full (g_str_hash,
                                                        g_str_equal,
                                                        g_free, g_free);

  describe_tree (out, inodes, top, NULL);
  return g_string_free (out, FALSE);
}

static void
run_shell (const char *script,
           const char *arg0,
           const char *arg1)
{
  g_autoptr(GError) error = NULL;
  int status;

  g_assert_true (g_spawn_sync (NULL, (char *[]) { "sh", "-ec", (char *) script,
                                 (char *) arg0, (char *) arg1, NULL },
                               NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL,
                               NULL, &status, &error));
  g_assert_no_error (error);
  g_assert_cmpint (status, ==, 0);
}

/* Downloads @path into @file; returns the status and the headers. */
static guint
download (Fixture *f,
          const char *path,
          const char *file,
          SoupMessageHeaders **headers)
{
  g_autofree char *url = g_strconcat ("http://localhost", path, NULL);
  g_autoptr(SoupMessage) msg = soup_message_new ("GET", url);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;

  bytes = soup_session_send_and_read (f->session, msg, NULL, &error);
  g_assert_no_error (error);
  if (file != NULL)
    g_assert_true (g_file_set_contents (file, g_bytes_get_data (bytes, NULL),
                                        g_bytes_get_size (bytes), NULL));
  if (headers != NULL)
    *headers = soup_message_headers_ref (soup_message_get_response_headers (msg));
  return soup_message_get_status (msg);
}

static char *
import (Fixture *f,
        const char *name,
        const char *file)
{
  g_autofree char *body = g_strdup_printf ("{\"image\": {\"name\": \"%s\", "
                                           "\"file\": \"%s\"}}", name, file);
  g_autoptr(JsonNode) reply = NULL;

  /* The image proxy is gone from 2.36: ask at 2.1 whatever the session's. */
  g_assert_cmpint (nlx_test_call_full (f->session, "http://localhost", "POST",
                                       "/v2.1/images", body,
                                       "OpenStack-API-Version", "compute 2.1",
                                       &reply, NULL), ==, 200);
  return g_strdup (json_object_get_string_member (nlx_test_object_at (reply,
                                                                      "image"),
                                                  "id"));
}

static char *
stored_rootfs (Fixture *f,
               const char *id)
{
  NlxImageStore *store = nlx_manager_get_image_store (f->daemon.manager);
  g_autoptr(NlxStoredImage) image = nlx_image_store_lookup (store, id, NULL);

  g_assert_nonnull (image);
  return nlx_image_store_get_rootfs (store, image);
}

/* A store image downloaded and imported back under another name is the
 * same tree: owners, modes, devices, links, extended attributes; and a
 * configured directory image is served too. */
static void
test_glance_download (Fixture *f,
                      gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *tree = g_build_filename (f->dir, "rt-tree", NULL);
  g_autofree char *tarball = g_build_filename (f->dir, "rt.tar", NULL);
  g_autofree char *fetched = g_build_filename (f->dir, "rt-fetched.tar", NULL);
  g_autofree char *extracted = g_build_filename (f->dir, "rt-extracted", NULL);
  g_autofree char *image_dir = g_build_filename (f->dir, "image", NULL);
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;
  g_autofree char *path = NULL;
  g_autofree char *alias = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *root1 = NULL;
  g_autofree char *root2 = NULL;
  g_autoptr(SoupMessageHeaders) headers = NULL;
  g_autoptr(GError) error = NULL;

  if (geteuid () != 0)
    {
      g_test_skip ("owners and devices need root");
      return;
    }
  /* Everything a root tree may hold that a careless writer loses. */
  run_shell ("mkdir -p \"$0\"/etc \"$0\"/bin \"$0\"/dev \"$0\"/var/empty\n"
             "echo nlxtest > \"$0\"/etc/hostname\n"
             "printf 'x%.0s' $(seq 1 70000) > \"$0\"/bin/big\n"
             "chown 1234:4321 \"$0\"/bin/big\n"
             "chmod 4755 \"$0\"/bin/big\n"
             "ln \"$0\"/bin/big \"$0\"/bin/big-link\n"
             "ln -s ../etc/hostname \"$0\"/bin/name\n"
             "mknod \"$0\"/dev/null c 1 3\n"
             "mkfifo \"$0\"/dev/fifo\n"
             "chmod 700 \"$0\"/var/empty\n"
             "chown 33:33 \"$0\"/var/empty\n"
             "setfattr -n user.nlxtest -v kept \"$0\"/etc/hostname\n"
             "setfattr -n security.capability "
             "-v 0x0100000200200000000000000000000000000000 \"$0\"/bin/big\n"
             "tar --xattrs --xattrs-include='*' -C \"$0\" -cf \"$1\" .",
             tree, tarball);
  first = import (f, "nlxtest-rt1", tarball);

  path = g_strconcat ("/image/v2/images/", first, "/file", NULL);
  g_assert_cmpuint (download (f, path, fetched, &headers), ==, 200);
  g_assert_cmpstr (soup_message_headers_get_content_type (headers, NULL), ==,
                   "application/octet-stream");
  g_assert_cmpint (soup_message_headers_get_encoding (headers), ==,
                   SOUP_ENCODING_CHUNKED);
  second = import (f, "nlxtest-rt2", fetched);

  root1 = stored_rootfs (f, first);
  root2 = stored_rootfs (f, second);
  before = tree_description (root1);
  after = tree_description (root2);
  g_test_message ("tree:\n%s", before);
  g_assert_nonnull (strstr (before, "user.nlxtest=6b657074"));
  g_assert_nonnull (strstr (before, "security.capability=01000002"));
  g_assert_nonnull (strstr (before, "bin/big 104755 1234:4321"));
  g_assert_nonnull (strstr (before, "dev 1,3"));
  g_assert_cmpstr (before, ==, after);

  /* What the Nova driver's snapshot() does: createImage of a server,
   * then the download, imported back (as Glance would give it to
   * another host) under another name. */
  {
    g_autofree char *server = NULL;
    g_autofree char *snapshot = NULL;
    g_autofree char *copy = NULL;
    g_autofree char *snap_path = NULL;
    g_autofree char *snap_root = NULL;
    g_autofree char *copy_root = NULL;
    g_autofree char *snap_tree = NULL;
    g_autofree char *copy_tree = NULL;

    nlx_test_session_set_version (f->session, "2.45");
    server = nlx_test_create (f->session, "nlxtest-rt-server", "test-image",
                              NULL);
    nlx_test_wait_for_status (f->session, server, "ACTIVE");
    snapshot = nlx_test_create_image (f->session, server,
                                      "{\"createImage\": {\"name\": "
                                      "\"nlxtest-rt-snap\"}}");
    nlx_test_wait_for_status (f->session, server, "ACTIVE");
    snap_path = g_strconcat ("/image/v2/images/", snapshot, "/file", NULL);
    g_assert_cmpuint (download (f, snap_path, fetched, NULL), ==, 200);
    copy = import (f, "nlxtest-rt-copy", fetched);
    snap_root = stored_rootfs (f, snapshot);
    copy_root = stored_rootfs (f, copy);
    snap_tree = tree_description (snap_root);
    copy_tree = tree_description (copy_root);
    g_assert_nonnull (strstr (snap_tree, "etc/nlx-fake-snapshot"));
    g_assert_cmpstr (snap_tree, ==, copy_tree);
    nlx_test_delete_and_wait (f->session, server);
  }

  /* The same at the compute endpoint's alias. */
  alias = g_strconcat ("/v2.1/v2/images/", second, "/file", NULL);
  g_assert_cmpuint (download (f, alias, NULL, NULL), ==, 200);

  /* A configured directory image, by its name. */
  run_shell ("echo configured > \"$0\"/motd", image_dir, NULL);
  g_assert_cmpuint (download (f, "/image/v2/images/test-image/file", fetched,
                              NULL), ==, 200);
  g_assert_cmpint (g_mkdir (extracted, 0755), ==, 0);
  g_assert_true (nlx_archive_extract (fetched, extracted, &error));
  g_assert_no_error (error);
  g_free (before);
  g_free (after);
  before = tree_description (image_dir);
  after = tree_description (extracted);
  g_assert_cmpstr (before, ==, after);

  nlx_test_expect_fault (f->session, "GET",
                         "/image/v2/images/nlxtest-absent/file", NULL, 404,
                         "itemNotFound");
  /* By id only, as show: a stored image's name is not its id. */
  nlx_test_expect_fault (f->session, "GET",
                         "/image/v2/images/nlxtest-rt1/file", NULL, 404,
                         "itemNotFound");
  nlx_test_expect_fault (f->session, "PUT", path, "{}", 405, "badMethod");
}

static GSocket *
unix_connect (Fixture *f)
{
  return nlx_test_raw_connect (f->socket, 0);
}

/* A client that does not read holds the worker (the socket pair fills)
 * and the daemon's memory stays bounded; deleting the image meanwhile is
 * 409, since the download would lose files; the daemon keeps serving; a
 * client that leaves ends it all and frees every fd. */
static void
test_glance_download_slow (Fixture *f,
                           gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *tree = g_build_filename (f->dir, "big-tree", NULL);
  g_autofree char *tarball = g_build_filename (f->dir, "big.tar", NULL);
  g_autofree char *id = NULL;
  g_autofree char *request = NULL;
  g_autofree char *path = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GError) error = NULL;
  guint fds_before;
  char head[512];
  gssize got;
  guint64 total = 0;
  char buffer[65536];

  run_shell ("mkdir -p \"$0\"/data && "
             "head -c 16777216 /dev/urandom > \"$0\"/data/blob && "
             "tar -C \"$0\" -cf \"$1\" .", tree, tarball);
  id = import (f, "nlxtest-big", tarball);
  g_assert_cmpint (g_unlink (tarball), ==, 0);
  fds_before = nlx_test_count_fds ();

  socket = unix_connect (f);
  request = g_strdup_printf ("GET /image/v2/images/%s/file HTTP/1.1\r\n"
                             "Host: localhost\r\n\r\n", id);
  g_assert_cmpint (g_socket_send (socket, request, strlen (request), NULL,
                                  &error), ==, (gssize) strlen (request));
  got = g_socket_receive (socket, head, sizeof head - 1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (got, >, 0);
  head[got] = '\0';
  g_assert_true (g_str_has_prefix (head, "HTTP/1.1 200"));
  g_usleep (500 * 1000);

  path = g_strconcat ("/v2.1/images/", id, NULL);
  nlx_test_expect_fault (f->session, "DELETE", path, NULL, 409,
                         "conflictingRequest");
  g_assert_cmpint (nlx_test_call (f->session, "GET", "/v2.1/flavors", NULL,
                                  NULL), ==, 200);

  /* Now read it all: 16 MiB and the tar's framing, then the end. */
  while ((got = g_socket_receive (socket, buffer, sizeof buffer, NULL,
                                  &error)) > 0)
    total += got;
  g_assert_no_error (error);
  g_assert_cmpuint (total, >, 16 * 1024 * 1024);
  g_clear_object (&socket);
  wait_for_connections (f, 0);

  /* A client that leaves half-way stops the worker: the image can go. */
  socket = unix_connect (f);
  g_assert_cmpint (g_socket_send (socket, request, strlen (request), NULL,
                                  &error), ==, (gssize) strlen (request));
  got = g_socket_receive (socket, head, sizeof head - 1, NULL, &error);
  g_assert_cmpint (got, >, 0);
  g_clear_object (&socket);
  wait_for_connections (f, 0);
  for (guint i = 0; i < 100; i++)
    {
      g_autoptr(JsonNode) reply = NULL;

      if (nlx_test_call (f->session, "DELETE", path, NULL, &reply) == 204)
        break;
      g_usleep (50 * 1000);
    }
  nlx_test_expect_fault (f->session, "GET", path, NULL, 404, "itemNotFound");
  g_assert_cmpuint (nlx_test_count_fds (), <=, fds_before + 2);
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_summary ("The Glance v2 read API under /image, over HTTP, on the "
                  "fake driver: discovery, list, show, delete, bad input.");
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR);

#define ADD(path, func, config) \
  g_test_add (path, Fixture, config, fixture_set_up, func, fixture_tear_down)
  ADD ("/nlx/api/glance/versions", test_glance_versions,
       "[api]\nlisten = 127.0.0.1:0\nauth_token = " TOKEN "\n");
  ADD ("/nlx/api/glance/images", test_glance_images, NULL);
  ADD ("/nlx/api/glance/download", test_glance_download, NULL);
  ADD ("/nlx/api/glance/download-slow", test_glance_download_slow, NULL);
#undef ADD

  return g_test_run ();
}
