/* test-api-images.c: the Compute API and the manager, over HTTP, on the
 * fake driver: images: imported, listed, and snapshotted from servers, and
 * servers rebuilt from them (the fixture: lib/nlx-api-fixture.h). */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <sys/inotify.h>
#include <unistd.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>

#include "lib/nlx-api-fixture.h"
#include "lib/nlx-test-client.h"
#include "lib/nlx-test-daemon.h"
#include "lib/nlx-test-tools.h"

/* Images imported into the store are listed beside the configured ones,
 * boot servers, and cannot be deleted under them. */
static void
test_images (Fixture *f,
             gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *tree = g_build_filename (f->dir, "tree", NULL);
  g_autofree char *tarball = g_build_filename (f->dir, "root.tar.gz", NULL);
  g_autofree char *body = NULL;
  g_autofree char *path = NULL;
  g_autofree char *server = NULL;
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(JsonNode) again = NULL;
  g_autoptr(JsonNode) missing = NULL;
  g_autoptr(JsonNode) list = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *image;
  const char *id;
  int status;

  g_assert_cmpint (g_mkdir_with_parents (tree, 0755), ==, 0);
  g_assert_true (g_spawn_sync (NULL, (char *[]) { "sh", "-c",
                                 "mkdir -p \"$0\"/sbin \"$0\"/etc && "
                                 "echo test > \"$0\"/etc/hostname && "
                                 "tar -C \"$0\" -czf \"$1\" .", tree, tarball, NULL },
                               NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
                               &status, &error));
  g_assert_no_error (error);
  g_assert_cmpint (status, ==, 0);

  body = g_strdup_printf ("{\"image\": {\"name\": \"nlxtest-tarball\", \"file\": \"%s\", "
                          "\"properties\": {\"os_shutdown_signal\": \"SIGUSR2\"}}}",
                          tarball);
  g_assert_cmpint (nlx_test_call (f->session, "POST", "/v2.1/images", body, &reply),
                   ==, 200);
  image = nlx_test_object_at (reply, "image");
  id = json_object_get_string_member (image, "id");
  g_assert_true (g_uuid_string_is_valid (id));
  g_assert_cmpstr (json_object_get_string_member (
                     json_object_get_object_member (image, "metadata"),
                     "nova_lxc:format"), ==,
                   "tar.gz");
  g_assert_cmpstr (json_object_get_string_member (
                     json_object_get_object_member (image, "metadata"),
                     "os_shutdown_signal"), ==, "SIGUSR2");
  /* The same name again, and a file that is no image, are refused. */
  nlx_test_expect_fault (f->session, "POST", "/v2.1/images", body, 409,
                         "conflictingRequest");
  /* The same content under another name is an image of its own. */
  g_free (body);
  body = g_strdup_printf ("{\"image\": {\"name\": \"nlxtest-again\", \"file\": \"%s\"}}",
                          tarball);
  g_assert_cmpint (nlx_test_call (f->session, "POST", "/v2.1/images", body, &again),
                   ==, 200);
  g_assert_cmpstr (json_object_get_string_member (nlx_test_object_at (again, "image"),
                                                  "id"), !=, id);
  g_assert_cmpstr (json_object_get_string_member (
                     json_object_get_object_member (
                       nlx_test_object_at (again, "image"), "metadata"),
                     "nova_lxc:checksum"), ==,
                   json_object_get_string_member (
                     json_object_get_object_member (image, "metadata"),
                     "nova_lxc:checksum"));
  g_assert_cmpint (nlx_test_call (f->session, "DELETE", "/v2.1/images/nlxtest-again",
                                  NULL, NULL), ==, 204);
  /* No answer shows a path inside the daemon's state, even one the
   * caller named. */
  g_assert_cmpint (nlx_test_call (f->session, "GET", "/v2.1/images/nlxtest-absent",
                                  NULL, &missing), ==, 404);
  assert_no_state_path (f, missing);
  g_clear_pointer (&missing, json_node_unref);
  g_free (body);
  body = g_strdup_printf ("{\"image\": {\"name\": \"nlxtest-state\", \"file\": "
                          "\"%s/state/network/addresses.json\"}}", f->dir);
  g_assert_cmpint (nlx_test_call (f->session, "POST", "/v2.1/images", body, &missing),
                   ==, 400);
  assert_no_state_path (f, missing);
  g_assert_nonnull (strstr (json_object_get_string_member (
                              nlx_test_object_at (missing, "badRequest"), "message"),
                            "the compute service's state"));
  nlx_test_expect_fault (f->session, "POST", "/v2.1/images",
                         "{\"image\": {\"name\": \"nlxtest-junk\", \"file\": \"/etc/hostname\"}}",
                         400, "badRequest");

  g_assert_cmpint (nlx_test_call (f->session, "GET", "/v2.1/images/detail", NULL,
                                  &list), ==, 200);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (
                      json_node_get_object (list), "images")), ==, 2);
  path = g_strconcat ("/v2.1/images/", id, NULL);
  g_assert_cmpint (nlx_test_call (f->session, "GET", path, NULL, NULL), ==, 200);
  g_assert_cmpint (nlx_test_call (f->session, "GET", "/v2.1/images/nlxtest-tarball",
                                  NULL, NULL), ==, 200);

  server = nlx_test_create (f->session, "nlxtest-from-store", "nlxtest-tarball", NULL);
  nlx_test_wait_for_status (f->session, server, "ACTIVE");
  nlx_test_expect_fault (f->session, "DELETE", path, NULL, 409, "conflictingRequest");
  nlx_test_delete_and_wait (f->session, server);
  g_assert_cmpint (nlx_test_call (f->session, "DELETE", path, NULL, NULL), ==, 204);
  nlx_test_expect_fault (f->session, "GET", path, NULL, 404, "itemNotFound");
  nlx_test_expect_fault (f->session, "DELETE", "/v2.1/images/test-image", NULL, 405,
                         "badMethod");
}

typedef struct {
  Fixture *f;
  const char *action;
  guint status;
  JsonNode *reply;
} SnapshotCall;

static gpointer
snapshot_call (gpointer data)
{
  SnapshotCall *call = data;
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (call->f->socket);
  g_autoptr(SoupSession) session =
    soup_session_new_with_options ("remote-connectable", address, NULL);

  /* From 2.45 the answer names the image in its body. */
  nlx_test_session_set_version (session, "2.45");
  call->status = nlx_test_call (session, "POST", call->action,
                                "{\"createImage\": {\"name\": \"nlxtest-retry\"}}",
                                &call->reply);
  return NULL;
}

/* A client whose createImage answer was lost asks again: while the first
 * runs, and once it is done.  Each answer is 409 saying, in the
 * tenant's terms, which image of which server and what to do, and names
 * nothing of the daemon's files. */
static void
test_snapshot_retry (Fixture *f,
                     gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *server = nlx_test_create (f->session, "nlxtest-retry",
                                             "test-image", NULL);
  g_autofree char *action = g_strdup_printf ("/v2.1/servers/%s/action", server);
  SnapshotCall call = { f, action };
  g_autoptr(JsonNode) busy = NULL;
  g_autoptr(JsonNode) other = NULL;
  g_autoptr(JsonNode) done = NULL;
  const char *message;
  const char *image_id;
  GThread *thread;
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  nlx_test_wait_for_status (f->session, server, "ACTIVE");
  thread = g_thread_new ("snapshot", snapshot_call, &call);
  for (;;)
    {
      g_autoptr(JsonNode) shown = nlx_test_show (f->session, server);
      JsonObject *object = nlx_test_object_at (shown, "server");

      if (!json_object_get_null_member (object, "OS-EXT-STS:task_state") &&
          g_strcmp0 (json_object_get_string_member (object,
                                                    "OS-EXT-STS:task_state"),
                     "image_snapshot") == 0)
        break;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (10 * 1000);
    }

  g_assert_cmpint (nlx_test_call (f->session, "POST", action,
                                  "{\"createImage\": {\"name\": \"nlxtest-retry\"}}",
                                  &busy), ==, 409);
  nlx_test_assert_fault (busy, "conflictingRequest", 409);
  assert_no_state_path (f, busy);
  message = json_object_get_string_member (nlx_test_object_at (busy, "conflictingRequest"),
                                           "message");
  g_assert_nonnull (strstr (message, "still being snapshotted as image "
                                     "“nlxtest-retry”"));
  g_assert_nonnull (strstr (message, server));
  g_assert_null (strstr (message, "task_state"));

  g_assert_cmpint (nlx_test_call (f->session, "POST", action,
                                  "{\"createImage\": {\"name\": \"nlxtest-other\"}}",
                                  &other), ==, 409);
  assert_no_state_path (f, other);
  message = json_object_get_string_member (nlx_test_object_at (other, "conflictingRequest"),
                                           "message");
  g_assert_nonnull (strstr (message, "“nlxtest-retry”"));
  g_assert_nonnull (strstr (message, "“nlxtest-other” again"));

  g_thread_join (thread);
  g_assert_cmpuint (call.status, ==, 202);
  image_id = json_object_get_string_member (json_node_get_object (call.reply),
                                            "image_id");
  g_assert_cmpint (nlx_test_call (f->session, "POST", action,
                                  "{\"createImage\": {\"name\": \"nlxtest-retry\"}}",
                                  &done), ==, 409);
  nlx_test_assert_fault (done, "conflictingRequest", 409);
  assert_no_state_path (f, done);
  message = json_object_get_string_member (nlx_test_object_at (done, "conflictingRequest"),
                                           "message");
  g_assert_nonnull (strstr (message, "already a snapshot of server"));
  g_assert_nonnull (strstr (message, image_id));
  g_assert_nonnull (strstr (message, server));

  json_node_unref (call.reply);
  nlx_test_delete_and_wait (f->session, server);
}

/* Snapshots and rebuilds through the API, with Nova's shapes and
 * refusals; what they do to real roots is tests/functional/test-compute's. */
static void
test_snapshot_rebuild (Fixture *f,
                       gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *server = nlx_test_create (f->session, "nlxtest-snap",
                                             "test-image",
                                             ", \"metadata\": {\"a\": \"1\"}");
  g_autofree char *action = g_strdup_printf ("/v2.1/servers/%s/action", server);
  g_autofree char *image_id = NULL;
  g_autofree char *image_path = NULL;
  g_autofree char *second = NULL;
  g_autofree char *repeat_id = NULL;
  g_autofree char *repeat_path = NULL;
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(JsonNode) repeat = NULL;
  g_autoptr(JsonNode) refused = NULL;
  g_autoptr(JsonNode) shown = NULL;
  g_autoptr(JsonNode) before = NULL;
  JsonObject *image, *metadata, *after;
  g_autofree char *status = NULL;

  nlx_test_wait_for_status (f->session, server, "ACTIVE");
  image_id = nlx_test_create_image (f->session, server, "{\"createImage\": {\"name\": "
                           "\"nlxtest-snap-1\", \"metadata\": {\"k\": \"v\"}}}");
  image_path = g_strconcat ("/v2.1/images/", image_id, NULL);
  g_assert_cmpint (nlx_test_call (f->session, "GET", image_path, NULL, &reply),
                   ==, 200);
  image = nlx_test_object_at (reply, "image");
  g_assert_cmpstr (json_object_get_string_member (image, "name"), ==,
                   "nlxtest-snap-1");
  g_assert_cmpstr (json_object_get_string_member (image, "status"), ==, "ACTIVE");
  metadata = json_object_get_object_member (image, "metadata");
  g_assert_cmpstr (json_object_get_string_member (metadata, "image_type"), ==,
                   "snapshot");
  g_assert_cmpstr (json_object_get_string_member (metadata, "instance_uuid"), ==,
                   server);
  g_assert_cmpstr (json_object_get_string_member (metadata, "k"), ==, "v");
  /* It boots as its source did. */
  g_assert_cmpstr (json_object_get_string_member (metadata, "os_shutdown_signal"),
                   ==, "SIGUSR2");
  g_assert_cmpstr (nlx_test_status_of (f->session, server), ==, "ACTIVE");

  /* Again, unchanged: Nova takes any number of snapshots, each an image
   * of its own, which here share one stored tree. */
  repeat_id = nlx_test_create_image (f->session, server, "{\"createImage\": {\"name\": "
                                     "\"nlxtest-snap-again\"}}");
  g_assert_cmpstr (repeat_id, !=, image_id);
  repeat_path = g_strconcat ("/v2.1/images/", repeat_id, NULL);
  g_assert_cmpint (nlx_test_call (f->session, "GET", repeat_path, NULL, &repeat),
                   ==, 200);
  g_assert_cmpstr (json_object_get_string_member (
                     json_object_get_object_member (
                       nlx_test_object_at (repeat, "image"), "metadata"),
                     "nova_lxc:checksum"), ==,
                   json_object_get_string_member (
                     json_object_get_object_member (image, "metadata"),
                     "nova_lxc:checksum"));
  g_assert_cmpstr (json_object_get_string_member (nlx_test_object_at (repeat, "image"),
                                                  "name"), ==, "nlxtest-snap-again");

  /* Refusals change nothing, and name no path of the daemon's. */
  g_assert_cmpint (nlx_test_call (f->session, "POST", action,
                                  "{\"createImage\": {\"name\": \"nlxtest-snap-1\"}}",
                                  &refused), ==, 409);
  nlx_test_assert_fault (refused, "conflictingRequest", 409);
  assert_no_state_path (f, refused);
  nlx_test_expect_fault (f->session, "POST", action,
                         "{\"createImage\": {\"name\": \"../x\"}}", 400,
                         "badRequest");
  nlx_test_expect_fault (f->session, "POST", action,
                         "{\"createImage\": {}}", 400, "badRequest");
  nlx_test_expect_fault (f->session, "POST", action,
                         "{\"createImage\": {\"name\": \"x\", \"size\": 1}}",
                         400, "badRequest");
  nlx_test_expect_fault (f->session, "POST",
                         "/v2.1/servers/7e57d000-0000-4000-8000-000000000000/action",
                         "{\"createImage\": {\"name\": \"nlxtest-nobody\"}}",
                         404, "itemNotFound");
  nlx_test_expect_fault (f->session, "POST", action,
                         "{\"rebuild\": {\"imageRef\": \"no-such-image\"}}",
                         400, "badRequest");
  nlx_test_expect_fault (f->session, "POST", action,
                         "{\"rebuild\": {\"imageRef\": \"test-image\", "
                         "\"name\": \"\"}}", 400, "badRequest");
  nlx_test_expect_fault (f->session, "POST", action,
                         "{\"rebuild\": {\"imageRef\": \"test-image\", "
                         "\"accessIPv4\": \"192.0.2.999\"}}", 400, "badRequest");
  nlx_test_expect_fault (f->session, "POST", action, "{\"rebuild\": {}}", 400,
                         "badRequest");

  /* Rebuild from the snapshot: same id and address, new image, name and
   * metadata, REBUILD while it runs. */
  before = nlx_test_show (f->session, server);
  g_assert_cmpint (nlx_test_call (f->session, "POST", action,
                                  "{\"rebuild\": {\"imageRef\": \"nlxtest-snap-1\", "
                                  "\"name\": \"nlxtest-rebuilt\", "
                                  "\"metadata\": {\"b\": \"2\"}}}", &shown), ==, 202);
  g_assert_cmpstr (json_object_get_string_member (nlx_test_object_at (shown, "server"),
                                                  "status"), ==, "REBUILD");
  /* The 2.1 answer has no OS-EXT-STS:* (Nova's rebuild answer is the
   * server without its extensions' fields before 2.75). */
  g_assert_false (json_object_has_member (nlx_test_object_at (shown, "server"),
                                          "OS-EXT-STS:task_state"));
  nlx_test_wait_for_status (f->session, server, "ACTIVE");
  g_clear_pointer (&shown, json_node_unref);
  shown = nlx_test_show (f->session, server);
  after = nlx_test_object_at (shown, "server");
  g_assert_cmpstr (json_object_get_string_member (after, "name"), ==,
                   "nlxtest-rebuilt");
  g_assert_cmpstr (json_object_get_string_member (
                     json_object_get_object_member (after, "image"), "id"), ==,
                   "nlxtest-snap-1");
  g_assert_false (json_object_has_member (json_object_get_object_member (after,
                                                                         "metadata"),
                                          "a"));
  g_assert_true (json_node_equal (json_object_get_member (after, "addresses"),
                                  json_object_get_member (nlx_test_object_at (before,
                                                                              "server"),
                                                          "addresses")));
  g_assert_cmpstr (json_object_get_string_member (after, "created"), ==,
                   json_object_get_string_member (nlx_test_object_at (before, "server"),
                                                  "created"));
  /* The image is in use now; the old one is not. */
  nlx_test_expect_fault (f->session, "DELETE", image_path, NULL, 409,
                         "conflictingRequest");

  /* A stopped server is rebuilt stopped. */
  nlx_test_act_and_wait (f->session, server, "{\"os-stop\": null}",
                         "powering-off", "SHUTOFF");
  second = nlx_test_create_image (f->session, server, "{\"createImage\": {\"name\": "
                         "\"nlxtest-snap-2\"}}");
  g_assert_cmpstr (second, !=, image_id);
  g_assert_cmpint (nlx_test_act (f->session, server,
                                 "{\"rebuild\": {\"imageRef\": \"test-image\"}}"),
                   ==, 202);
  nlx_test_wait_for_status (f->session, server, "SHUTOFF");
  status = nlx_test_status_of (f->session, server);
  g_assert_cmpstr (status, ==, "SHUTOFF");

  nlx_test_delete_and_wait (f->session, server);

  /* Both snapshots of the same root survive a restart; deleting one
   * leaves the other whole: it still boots. */
  nlx_test_daemon_stop (&f->daemon);
  nlx_test_daemon_start (&f->daemon, f->config_text);
  g_assert_no_error (f->daemon.start_error);
  g_assert_cmpint (nlx_test_call (f->session, "GET", image_path, NULL, NULL), ==, 200);
  g_assert_cmpint (nlx_test_call (f->session, "DELETE", image_path, NULL, NULL),
                   ==, 204);
  g_free (server);
  server = nlx_test_create (f->session, "nlxtest-snap-boot", "nlxtest-snap-again", NULL);
  nlx_test_wait_for_status (f->session, server, "ACTIVE");
  nlx_test_delete_and_wait (f->session, server);
  g_assert_cmpint (nlx_test_call (f->session, "DELETE", repeat_path, NULL, NULL),
                   ==, 204);
  nlx_test_expect_fault (f->session, "GET", repeat_path, NULL, 404, "itemNotFound");
  g_clear_pointer (&image_path, g_free);
  image_path = g_strconcat ("/v2.1/images/", second, NULL);
  g_assert_cmpint (nlx_test_call (f->session, "DELETE", image_path, NULL, NULL),
                   ==, 204);
}

/* Makes @tarball hold a root whose /etc/hostname says @text, as a new
 * file renamed into place (a new inode, as an operator's update). */
static void
make_config_tarball (Fixture *f,
                     const char *tarball,
                     const char *text)
{
  g_autofree char *tree = g_build_filename (f->dir, "conf-tree", NULL);
  g_autoptr(GError) error = NULL;
  int status;

  g_assert_true (g_spawn_sync (NULL, (char *[]) { "sh", "-c",
                                 "rm -rf \"$0\" && mkdir -p \"$0\"/sbin \"$0\"/etc && "
                                 "echo \"$2\" > \"$0\"/etc/hostname && "
                                 "tar -C \"$0\" -cf \"$1.new\" . && mv \"$1.new\" \"$1\"",
                                 tree, (char *) tarball, (char *) text, NULL },
                               NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
                               &status, &error));
  g_assert_no_error (error);
  g_assert_cmpint (status, ==, 0);
}

static gint
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return g_strcmp0 (*(char * const *) a, *(char * const *) b);
}

/* The hostnames of the trees the image store holds, sorted. */
static char *
stored_trees (Fixture *f)
{
  g_autofree char *store = g_build_filename (f->dir, "state", "images", NULL);
  g_autoptr(GDir) dir = g_dir_open (store, 0, NULL);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *hostname = g_build_filename (store, name, "rootfs", "etc",
                                                    "hostname", NULL);
      char *text = NULL;

      if (strlen (name) == 64 && g_file_get_contents (hostname, &text, NULL, NULL))
        g_ptr_array_add (names, g_strstrip (text));
    }
  g_ptr_array_sort (names, compare_strings);
  g_ptr_array_add (names, NULL);
  return g_strjoinv (",", (char **) names->pdata);
}

static void
restart_with (Fixture *f,
              const char *config_text)
{
  nlx_test_daemon_stop (&f->daemon);
  g_free (f->config_text);
  f->config_text = g_strdup (config_text);
  nlx_test_daemon_start (&f->daemon, f->config_text);
  g_assert_no_error (f->daemon.start_error);
}

/* A tarball named in the configuration is imported into the store once,
 * at start: the store holds one tree for it, servers and later starts do
 * not open it; a changed tarball is imported at the next start, and its
 * earlier content is kept while a server made from the image is left;
 * once its section is gone, its tree goes too. */
static void
test_config_tarball (Fixture *f,
                     gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *tarball = g_build_filename (f->dir, "conf.tar", NULL);
  g_autofree char *config = NULL;
  g_autofree char *base = NULL;
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;
  g_autofree char *third = NULL;
  g_autofree char *trees = NULL;
  char events[4096];
  int inotify;

  base = g_strdup (f->config_text);
  make_config_tarball (f, tarball, "one");
  config = g_strdup_printf ("%s[image nlxtest-conf]\npath = %s\n", f->config_text,
                            tarball);
  restart_with (f, config);
  trees = stored_trees (f);
  g_assert_cmpstr (trees, ==, "one");

  /* From now on nothing may open it: not a spawn, not a restart. */
  inotify = inotify_init1 (IN_NONBLOCK | IN_CLOEXEC);
  g_assert_cmpint (inotify, >=, 0);
  g_assert_cmpint (inotify_add_watch (inotify, tarball, IN_OPEN | IN_ACCESS), >=, 0);
  first = nlx_test_create (f->session, "nlxtest-conf-1", "nlxtest-conf", NULL);
  nlx_test_wait_for_status (f->session, first, "ACTIVE");
  second = nlx_test_create (f->session, "nlxtest-conf-2", "nlxtest-conf", NULL);
  nlx_test_wait_for_status (f->session, second, "ACTIVE");
  restart_with (f, config);
  g_assert_cmpint (read (inotify, events, sizeof events), ==, -1);
  g_assert_cmpint (errno, ==, EAGAIN);
  close (inotify);
  g_free (trees);
  trees = stored_trees (f);
  g_assert_cmpstr (trees, ==, "one");

  /* Changed: imported at the next start; "one" stays while servers made
   * from the image may run on it. */
  make_config_tarball (f, tarball, "two");
  restart_with (f, config);
  g_free (trees);
  trees = stored_trees (f);
  g_assert_cmpstr (trees, ==, "one,two");
  third = nlx_test_create (f->session, "nlxtest-conf-3", "nlxtest-conf", NULL);
  nlx_test_wait_for_status (f->session, third, "ACTIVE");
  nlx_test_delete_and_wait (f->session, first);
  nlx_test_delete_and_wait (f->session, second);
  nlx_test_delete_and_wait (f->session, third);
  restart_with (f, config);
  g_free (trees);
  trees = stored_trees (f);
  g_assert_cmpstr (trees, ==, "two");

  /* A tarball gone is refused with its name, and changes nothing. */
  g_assert_cmpint (g_unlink (tarball), ==, 0);
  nlx_test_expect_fault (f->session, "POST", "/v2.1/servers",
                         "{\"server\": {\"name\": \"x\", \"flavorRef\": \"m1.tiny\", "
                         "\"imageRef\": \"nlxtest-conf\"}}", 400, "badRequest");
  g_free (trees);
  trees = stored_trees (f);
  g_assert_cmpstr (trees, ==, "two");

  /* Its section gone, with no server left: so is what it stored. */
  restart_with (f, base);
  g_free (trees);
  trees = stored_trees (f);
  g_assert_cmpstr (trees, ==, "");
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_summary ("The Compute API and the manager, over HTTP, on the fake "
                  "driver: images: imported, listed, and snapshotted from "
                  "servers, and servers rebuilt from them.");
  /* Failed operations are logged as warnings, and some tests fail them
   * on purpose. */
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR);

#define ADD(path, func, config) \
  g_test_add (path, Fixture, config, fixture_set_up, func, fixture_tear_down)
  ADD ("/nlx/api/images", test_images, NULL);
  ADD ("/nlx/api/images/config-tarball", test_config_tarball, NULL);
  ADD ("/nlx/api/servers/snapshot-rebuild", test_snapshot_rebuild, NULL);
  /* The snapshot takes long enough to be asked for again meanwhile. */
  ADD ("/nlx/api/servers/snapshot-retry", test_snapshot_retry,
       "[fake]\ndelay_ms = 1500\n");
#undef ADD

  return g_test_run ();
}
