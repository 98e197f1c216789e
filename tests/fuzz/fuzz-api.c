/* fuzz-api.c: Compute API request bodies, through the daemon's own HTTP
 * server
 *
 * Why a whole daemon in-process rather than an entry point into
 * nlx-api.c: the handlers read their bodies from a SoupServerMessage,
 * which only libsoup's server can make, and what matters is what a
 * client meets: the route, the handler, the manager's checks, the fake
 * driver's work and the answer on the wire.  So the harness runs the API
 * and the manager on the fake driver (delay 0) in a thread, as
 * tests/test-api-*.c do, and sends each input through a real libsoup
 * client over the Unix socket.  The first byte of an input picks the
 * request, the rest is its body:
 *
 *   0  POST /servers                                 (create, bdm v2, metadata)
 *   1  POST /servers/FIXTURE/action                  (every action)
 *   2  PUT  /servers/FIXTURE                         (rename)
 *   3  POST /servers/FIXTURE/os-volume_attachments   (attach)
 *   4  POST /images                                  (import)
 *
 * Every answer must be below 500 and its body, if any, exactly one JSON
 * value.  After each input the harness puts things back as they were:
 * it waits until no task runs, deletes what the input created, detaches
 * and restarts the fixture server (or makes a new one), so that inputs
 * do not depend on each other.
 *
 * An import names a file on the host: the harness sends only imports of
 * relative paths without "..", which name files in its scratch directory
 * (its working directory), so the fuzzer cannot make it read the host's
 * files. */
#include "config.h"

#include <unistd.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>

#include "api/nlx-api.h"
#include "nlx-fuzz.h"

#define BASE "http://localhost"
#define FIXTURE_BODY \
  "{\"server\": {\"name\": \"fixture\", \"imageRef\": \"test-image\", " \
  "\"flavorRef\": \"m1.tiny\"}}"
#define VOLUME "fuzzvol"

typedef struct {
  char *config_text;
  GMainLoop *loop;
  GMutex lock;
  GCond ready;
  gboolean started;
  char *start_error;
} Daemon;

static Daemon daemon_state;
static SoupSession *session;
static char *fixture;

static gpointer
serve (gpointer data)
{
  Daemon *d = data;
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(NlxConfig) config = NULL;
  g_autoptr(NlxVirt) virt = NULL;
  g_autoptr(NlxManager) manager = NULL;
  g_autoptr(NlxApi) api = NULL;
  g_autoptr(GError) error = NULL;

  g_main_context_push_thread_default (context);
  config = nlx_config_new_from_data (d->config_text, &error);
  if (config != NULL)
    virt = nlx_virt_open (config->compute_driver, config->keyfile, &error);
  if (virt != NULL)
    manager = nlx_manager_new (config, virt, &error);
  if (manager != NULL)
    api = nlx_api_new (config, manager, &error);

  g_mutex_lock (&d->lock);
  d->loop = g_main_loop_new (context, FALSE);
  d->start_error = error ? g_strdup (error->message) : NULL;
  d->started = TRUE;
  g_cond_signal (&d->ready);
  g_mutex_unlock (&d->lock);

  /* Runs as long as the process: libFuzzer ends it with exit(). */
  if (api != NULL)
    g_main_loop_run (d->loop);
  return NULL;
}

/* One request; the status, and the body in *reply when it is JSON. */
static guint
call (const char *method,
      const char *path,
      const char *body,
      gsize length,
      JsonNode **reply)
{
  g_autofree char *url = g_strconcat (BASE, path, NULL);
  g_autoptr(SoupMessage) msg = soup_message_new (method, url);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *again = NULL;
  const char *data;
  gsize size;
  guint status;

  if (msg == NULL)
    nlx_fuzz_fail ("cannot make a request for %s", url);
  if (body != NULL)
    {
      g_autoptr(GBytes) request = g_bytes_new (body, length);

      soup_message_set_request_body_from_bytes (msg, "application/json",
                                                request);
    }
  bytes = soup_session_send_and_read (session, msg, NULL, &error);
  if (bytes == NULL)
    nlx_fuzz_fail ("%s %s: no answer: %s", method, path, error->message);
  status = soup_message_get_status (msg);
  data = g_bytes_get_data (bytes, &size);
  if (status >= 500)
    nlx_fuzz_fail ("%s %s answered %u: %.*s", method, path, status,
                   (int) size, data);
  if (reply != NULL)
    *reply = NULL;
  if (size == 0)
    return status;

  /* Exactly one JSON value: what the API writes is json-glib's compact
   * form, so parsing and writing it again must give the same bytes (two
   * bodies written back to back would not). */
  if (!json_parser_load_from_data (parser, data, (gssize) size, &error) ||
      json_parser_get_root (parser) == NULL)
    nlx_fuzz_fail ("%s %s answered %u with a body that is not JSON: %.*s",
                   method, path, status, (int) size, data);
  again = json_to_string (json_parser_get_root (parser), FALSE);
  if (strlen (again) != size || memcmp (again, data, size) != 0)
    nlx_fuzz_fail ("%s %s answered %u with more than one JSON value: %.*s",
                   method, path, status, (int) size, data);
  if (reply != NULL)
    *reply = json_node_copy (json_parser_get_root (parser));
  return status;
}

static guint
call_text (const char *method,
           const char *path,
           const char *body,
           JsonNode **reply)
{
  return call (method, path, body, body ? strlen (body) : 0, reply);
}

static JsonArray *
array_at (JsonNode *node,
          const char *member)
{
  JsonObject *object = node && JSON_NODE_HOLDS_OBJECT (node)
                         ? json_node_get_object (node) : NULL;

  if (object == NULL || !json_object_has_member (object, member))
    nlx_fuzz_fail ("an answer has no “%s”", member);
  return json_object_get_array_member (object, member);
}

static const char *
string_at (JsonObject *object,
           const char *member)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return NULL;
  return json_node_get_string (node);
}

/* Waits until no server has a task, and gives the final list. */
static JsonNode *
settled_servers (void)
{
  for (guint tries = 0; tries < 10000; tries++)
    {
      g_autoptr(JsonNode) list = NULL;
      JsonArray *servers;
      gboolean busy = FALSE;

      call_text ("GET", "/v2.1/servers/detail", NULL, &list);
      servers = array_at (list, "servers");
      for (guint i = 0; i < json_array_get_length (servers); i++)
        if (string_at (json_array_get_object_element (servers, i),
                       "OS-EXT-STS:task_state") != NULL)
          busy = TRUE;
      if (!busy)
        return g_steal_pointer (&list);
      g_usleep (1000);
    }
  nlx_fuzz_fail ("servers are still busy after 10 s");
}

static void
delete_server (const char *id)
{
  g_autofree char *path = g_strconcat ("/v2.1/servers/", id, NULL);

  call_text ("DELETE", path, NULL, NULL);
  for (guint tries = 0; tries < 10000; tries++)
    {
      g_autoptr(JsonNode) reply = NULL;

      if (call_text ("GET", path, NULL, &reply) == 404)
        return;
      g_usleep (1000);
    }
  nlx_fuzz_fail ("server %s is still there 10 s after its delete", id);
}

static void
create_fixture (void)
{
  g_autoptr(JsonNode) reply = NULL;
  JsonObject *object;

  if (call_text ("POST", "/v2.1/servers", FIXTURE_BODY, &reply) != 202)
    nlx_fuzz_fail ("cannot create the fixture server");
  object = json_node_get_object (reply);
  object = json_object_get_object_member (object, "server");
  g_free (fixture);
  fixture = g_strdup (json_object_get_string_member (object, "id"));
}

/* Back to one ACTIVE fixture server on test-image, with no volume, and
 * no stored image. */
static void
restore (void)
{
  g_autoptr(JsonNode) list = settled_servers ();
  g_autoptr(JsonNode) images = NULL;
  JsonArray *servers = array_at (list, "servers");
  JsonArray *array;
  gboolean fixture_ok = FALSE;

  for (guint i = 0; i < json_array_get_length (servers); i++)
    {
      JsonObject *server = json_array_get_object_element (servers, i);
      const char *id = string_at (server, "id");
      const char *status = string_at (server, "status");
      JsonNode *image = json_object_get_member (server, "image");
      JsonArray *volumes =
        json_object_get_array_member (server,
                                      "os-extended-volumes:volumes_attached");
      g_autofree char *action = NULL;
      gboolean on_test_image =
        image != NULL && JSON_NODE_HOLDS_OBJECT (image) &&
        g_strcmp0 (string_at (json_node_get_object (image), "id"),
                   "test-image") == 0;

      if (g_strcmp0 (id, fixture) != 0 || !on_test_image ||
          json_array_get_length (volumes) > 0 ||
          g_strcmp0 (status, "ERROR") == 0)
        {
          delete_server (id);
          continue;
        }
      fixture_ok = TRUE;
      action = g_strdup_printf ("/v2.1/servers/%s/action", id);
      if (g_strcmp0 (status, "SHUTOFF") == 0)
        call_text ("POST", action, "{\"os-start\": null}", NULL);
      else if (g_strcmp0 (status, "PAUSED") == 0)
        call_text ("POST", action, "{\"unpause\": null}", NULL);
    }

  call_text ("GET", "/v2.1/images/detail", NULL, &images);
  array = array_at (images, "images");
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      const char *id = string_at (json_array_get_object_element (array, i),
                                  "id");
      g_autofree char *path = g_strconcat ("/v2.1/images/", id, NULL);

      if (g_strcmp0 (id, "test-image") != 0)
        call_text ("DELETE", path, NULL, NULL);
    }

  if (!fixture_ok)
    create_fixture ();
  g_clear_pointer (&list, json_node_unref);
  list = settled_servers ();
}

/* Only files in the scratch directory may be imported (see above). */
static gboolean
import_is_contained (const char *body,
                     gsize length)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonNode *root, *image, *file;
  const char *path;
  g_auto(GStrv) parts = NULL;

  if (!json_parser_load_from_data (parser, body, (gssize) length, NULL) ||
      (root = json_parser_get_root (parser)) == NULL ||
      !JSON_NODE_HOLDS_OBJECT (root) ||
      (image = json_object_get_member (json_node_get_object (root),
                                       "image")) == NULL ||
      !JSON_NODE_HOLDS_OBJECT (image) ||
      (file = json_object_get_member (json_node_get_object (image),
                                      "file")) == NULL ||
      !JSON_NODE_HOLDS_VALUE (file) ||
      json_node_get_value_type (file) != G_TYPE_STRING)
    return TRUE;
  path = json_node_get_string (file);
  if (g_path_is_absolute (path) || strchr (path, '~') != NULL)
    return FALSE;
  parts = g_strsplit (path, "/", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    if (g_str_equal (parts[i], ".."))
      return FALSE;
  return TRUE;
}

static void
start (void)
{
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) reply = NULL;
  const char *dir = nlx_fuzz_scratch_dir ();
  g_autofree char *socket = g_build_filename (dir, "compute.sock", NULL);
  g_autofree char *image = g_build_filename (dir, "image", NULL);
  g_autofree char *init = g_build_filename (image, "init", NULL);
  g_autofree char *volumes = g_build_filename (dir, "volumes", NULL);
  g_autofree char *tarball = NULL;
  g_autofree char *command = NULL;
  Daemon *d = &daemon_state;

  if (g_mkdir (image, 0755) != 0 || g_mkdir (volumes, 0700) != 0 ||
      !g_file_set_contents (init, "#!/bin/sh\n", -1, &error))
    nlx_fuzz_fail ("cannot set up %s", dir);
  /* Files an import may name: a root tarball, an empty file, junk. */
  if (chdir (dir) != 0)
    nlx_fuzz_fail ("cannot enter %s", dir);
  command = g_strdup_printf ("tar -C %s -cf root.tar .", image);
  if (system (command) != 0 ||
      !g_file_set_contents ("empty", "", 0, &error) ||
      !g_file_set_contents ("junk", "not a tarball\n", -1, &error))
    nlx_fuzz_fail ("cannot make the files to import");
  tarball = g_build_filename (dir, "root.tar", NULL);

  d->config_text = g_strdup_printf (
    "[DEFAULT]\ncompute_driver = fake\nstate_path = %s/state\n"
    "[api]\nsocket = %s\n"
    "[fake]\ndelay_ms = 0\n"
    "[volumes]\npath = %s\nallowed_roots = %s\n"
    "[image test-image]\npath = %s\nos_shutdown_signal = SIGUSR2\n",
    dir, socket, volumes, volumes, image);
  g_mutex_init (&d->lock);
  g_cond_init (&d->ready);
  g_thread_unref (g_thread_new ("daemon", serve, d));
  g_mutex_lock (&d->lock);
  while (!d->started)
    g_cond_wait (&d->ready, &d->lock);
  g_mutex_unlock (&d->lock);
  if (d->start_error != NULL)
    nlx_fuzz_fail ("the daemon did not start: %s", d->start_error);

  address = g_unix_socket_address_new (socket);
  session = soup_session_new_with_options ("remote-connectable", address,
                                           "timeout", 30, NULL);
  if (call_text ("POST", "/v2.1/os-volumes",
                 "{\"volume\": {\"display_name\": \"" VOLUME "\", "
                 "\"size_mb\": 8}}", &reply) != 200)
    nlx_fuzz_fail ("cannot create the volume " VOLUME);
  create_fixture ();
  restore ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t size)
{
  static gboolean started;
  const char *body = (const char *) data + 1;
  gsize length = size - 1;
  g_autofree char *path = NULL;
  const char *method = "POST";

  if (!started)
    {
      nlx_fuzz_init ();
      start ();
      started = TRUE;
    }
  if (size < 1)
    return 0;

  switch (data[0] % 5)
    {
    case 0:
      path = g_strdup ("/v2.1/servers");
      break;
    case 1:
      path = g_strdup_printf ("/v2.1/servers/%s/action", fixture);
      break;
    case 2:
      method = "PUT";
      path = g_strdup_printf ("/v2.1/servers/%s", fixture);
      break;
    case 3:
      path = g_strdup_printf ("/v2.1/servers/%s/os-volume_attachments",
                              fixture);
      break;
    default:
      if (!import_is_contained (body, length))
        return -1;              /* not added to the corpus */
      path = g_strdup ("/v2.1/images");
      break;
    }
  call (method, path, body, length, NULL);
  restore ();
  return 0;
}
