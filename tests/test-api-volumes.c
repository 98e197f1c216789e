/* test-api-volumes.c: the Compute API and the manager, over HTTP, on the
 * fake driver: volumes: attached, as a root disk, and in a server's block
 * device mapping (the fixture: lib/nlx-api-fixture.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "host/nlx-mount.h"

#include "lib/nlx-api-fixture.h"
#include "lib/nlx-test-client.h"
#include "lib/nlx-test-tools.h"

static JsonObject *
volume_of (Fixture *f,
           const char *id,
           JsonNode **reply)
{
  g_autofree char *path = g_strconcat ("/v2.1/os-volumes/", id, NULL);

  g_assert_cmpint (nlx_test_call (f->session, "GET", path, NULL, reply), ==, 200);
  return nlx_test_object_at (*reply, "volume");
}

/* Volumes and attachments with Nova's shapes and refusals; the lxc
 * driver's side is tests/functional/test-volumes's. */
static void
test_volumes (Fixture *f,
              gconstpointer data G_GNUC_UNUSED)
{
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(JsonNode) shown = NULL;
  g_autofree char *id = nlx_test_create (f->session, "nlxtest-a", "test-image", NULL);
  g_autofree char *other = nlx_test_create (f->session, "nlxtest-b", "test-image", NULL);
  g_autofree char *attachments = g_strconcat ("/v2.1/servers/", id,
                                              "/os-volume_attachments", NULL);
  g_autofree char *other_attachments = g_strconcat ("/v2.1/servers/", other,
                                                    "/os-volume_attachments", NULL);
  g_autofree char *detach = g_strconcat (attachments, "/nlxtest-vol", NULL);
  const char *attach_body =
    "{\"volumeAttachment\": {\"volumeId\": \"nlxtest-vol\", \"mount_path\": \"/data\"}}";
  JsonObject *volume;
  JsonArray *list;

  g_assert_cmpint (nlx_test_call (f->session, "POST", "/v2.1/os-volumes",
                                  "{\"volume\": {\"display_name\": \"nlxtest-vol\", "
                                  "\"size_mb\": 8}}", &reply), ==, 200);
  volume = nlx_test_object_at (reply, "volume");
  g_assert_cmpstr (json_object_get_string_member (volume, "status"), ==, "available");
  /* What Nova's volume has no field for is in its metadata. */
  g_assert_false (json_object_has_member (volume, "filesystem"));
  g_assert_false (json_object_has_member (volume, "size_bytes"));
  g_assert_cmpstr (json_object_get_string_member (
                     json_object_get_object_member (volume, "metadata"),
                     "nova_lxc:filesystem"), ==, "ext4");
  g_assert_cmpstr (json_object_get_string_member (
                     json_object_get_object_member (volume, "metadata"),
                     "nova_lxc:size_bytes"), ==, "8388608");
  g_assert_cmpint (json_object_get_int_member (volume, "size"), ==, 1);
  nlx_test_expect_fault (f->session, "POST", "/v2.1/os-volumes",
                         "{\"volume\": {\"display_name\": \"nlxtest-vol\", \"size_mb\": 8}}",
                         409, "conflictingRequest");
  nlx_test_expect_fault (f->session, "POST", "/v2.1/os-volumes",
                         "{\"volume\": {\"display_name\": \"a/b\", \"size_mb\": 8}}",
                         400, "badRequest");
  nlx_test_expect_fault (f->session, "POST", "/v2.1/os-volumes",
                         "{\"volume\": {\"display_name\": \"x\", \"size_mb\": 0}}",
                         400, "badRequest");
  nlx_test_expect_fault (f->session, "POST", "/v2.1/os-volumes",
                         "{\"volume\": {\"display_name\": \"x\", \"size\": 1, "
                         "\"size_mb\": 8}}", 400, "badRequest");
  nlx_test_expect_fault (f->session, "GET", "/v2.1/os-volumes/nlxtest-none", NULL,
                         404, "itemNotFound");

  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  nlx_test_wait_for_status (f->session, other, "ACTIVE");
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (nlx_test_call (f->session, "POST", attachments, attach_body,
                                  &reply), ==, 200);
  g_assert_cmpstr (json_object_get_string_member (
                     nlx_test_object_at (reply, "volumeAttachment"), "device"),
                   ==, "/dev/vdb");
  /* The mount path is no field of Nova's attachment: the volume's
   * metadata has it. */
  g_assert_false (json_object_has_member (
                    nlx_test_object_at (reply, "volumeAttachment"), "mount_path"));
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (nlx_test_call (f->session, "GET", "/v2.1/os-volumes/nlxtest-vol",
                                  NULL, &reply), ==, 200);
  g_assert_cmpstr (json_object_get_string_member (
                     json_object_get_object_member (
                       nlx_test_object_at (reply, "volume"), "metadata"),
                     "nova_lxc:mount_path"), ==, "/data");
  /* One server at a time, once. */
  nlx_test_expect_fault (f->session, "POST", attachments, attach_body, 409,
                         "conflictingRequest");
  nlx_test_expect_fault (f->session, "POST", other_attachments, attach_body, 409,
                         "conflictingRequest");
  nlx_test_expect_fault (f->session, "POST", other_attachments,
                         "{\"volumeAttachment\": {\"volumeId\": \"nlxtest-none\"}}",
                         404, "itemNotFound");
  nlx_test_expect_fault (f->session, "POST", other_attachments,
                         "{\"volumeAttachment\": {\"volumeId\": \"../x\"}}",
                         400, "badRequest");
  nlx_test_expect_fault (f->session, "POST", other_attachments,
                         "{\"volumeAttachment\": {\"volumeId\": \"nlxtest-vol\", "
                         "\"device\": \"/dev/sda\"}}", 400, "badRequest");
  nlx_test_expect_fault (f->session, "POST",
                         "/v2.1/servers/7e57d000-0000-4000-8000-00000000dead/os-volume_attachments",
                         attach_body, 404, "itemNotFound");

  g_clear_pointer (&reply, json_node_unref);
  volume = volume_of (f, "nlxtest-vol", &reply);
  g_assert_cmpstr (json_object_get_string_member (volume, "status"), ==, "in-use");
  list = json_object_get_array_member (volume, "attachments");
  g_assert_cmpuint (json_array_get_length (list), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (list, 0),
                                                  "serverId"), ==, id);
  shown = nlx_test_show (f->session, id);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (
                      nlx_test_object_at (shown, "server"),
                      "os-extended-volumes:volumes_attached")), ==, 1);
  nlx_test_expect_fault (f->session, "DELETE", "/v2.1/os-volumes/nlxtest-vol", NULL,
                         409, "conflictingRequest");

  g_assert_cmpint (nlx_test_call (f->session, "DELETE", detach, NULL, NULL), ==, 202);
  nlx_test_expect_fault (f->session, "DELETE", detach, NULL, 404, "itemNotFound");
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (nlx_test_call (f->session, "GET", attachments, NULL, &reply), ==, 200);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (
                      json_node_get_object (reply), "volumeAttachments")), ==, 0);

  /* At boot, through Nova's block device mapping. */
  nlx_test_expect_fault (f->session, "POST", "/v2.1/servers",
                         "{\"server\": {\"name\": \"nlxtest-c\", \"flavorRef\": \"m1.tiny\", "
                         "\"imageRef\": \"test-image\", \"block_device_mapping_v2\": "
                         "[{\"uuid\": \"nlxtest-vol\", \"source_type\": \"image\"}]}}",
                         400, "badRequest");
  nlx_test_expect_fault (f->session, "POST", "/v2.1/servers",
                         "{\"server\": {\"name\": \"nlxtest-c\", \"flavorRef\": \"m1.tiny\", "
                         "\"imageRef\": \"test-image\", \"block_device_mapping_v2\": "
                         "[{\"uuid\": \"nlxtest-none\", \"source_type\": \"volume\"}]}}",
                         404, "itemNotFound");
  g_free (other);
  other = nlx_test_create (f->session, "nlxtest-c", "test-image",
                           ", \"block_device_mapping_v2\": [{\"uuid\": \"nlxtest-vol\", "
                           "\"source_type\": \"volume\", \"destination_type\": \"volume\", "
                           "\"mount_path\": \"/data\"}]");
  nlx_test_wait_for_status (f->session, other, "ACTIVE");
  g_clear_pointer (&reply, json_node_unref);
  volume = volume_of (f, "nlxtest-vol", &reply);
  g_assert_cmpstr (json_object_get_string_member (volume, "status"), ==, "in-use");
  nlx_test_delete_and_wait (f->session, other);
  g_clear_pointer (&reply, json_node_unref);
  volume = volume_of (f, "nlxtest-vol", &reply);
  g_assert_cmpstr (json_object_get_string_member (volume, "status"), ==, "available");

  g_assert_cmpint (nlx_test_call (f->session, "DELETE", "/v2.1/os-volumes/nlxtest-vol",
                                  NULL, NULL), ==, 202);
  nlx_test_expect_fault (f->session, "GET", "/v2.1/os-volumes/nlxtest-vol", NULL,
                         404, "itemNotFound");
}

static void
assert_root_attachment (JsonObject *attachment,
                        const char *server,
                        const char *volume)
{
  g_assert_cmpstr (json_object_get_string_member (attachment, "volumeId"), ==,
                   volume);
  g_assert_cmpstr (json_object_get_string_member (attachment, "serverId"), ==,
                   server);
  g_assert_cmpstr (json_object_get_string_member (attachment, "device"), ==, "/");
}

/* A root volume is described one way everywhere: attached at "/" in the
 * volume, in the server's attachments and in volumes_attached, and a
 * detach is refused because it is the root, not because it is absent. */
static void
test_root_volume (Fixture *f,
                  gconstpointer data G_GNUC_UNUSED)
{
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(JsonNode) shown = NULL;
  g_autofree char *id = NULL;
  g_autofree char *attachments = NULL;
  g_autofree char *root = NULL;
  g_autofree char *status = NULL;
  JsonObject *volume;
  JsonArray *list;

  g_assert_cmpint (nlx_test_call (f->session, "POST", "/v2.1/os-volumes",
                                  "{\"volume\": {\"display_name\": \"nlxtest-root\", "
                                  "\"size_mb\": 8}}", NULL), ==, 200);
  g_assert_cmpint (nlx_test_call (f->session, "POST", "/v2.1/os-volumes",
                                  "{\"volume\": {\"display_name\": \"nlxtest-data\", "
                                  "\"size_mb\": 8}}", NULL), ==, 200);
  id = nlx_test_create (f->session, "nlxtest-bfv", "test-image",
                        ", \"block_device_mapping_v2\": [{\"boot_index\": 0, "
                        "\"uuid\": \"nlxtest-root\", \"source_type\": \"volume\", "
                        "\"destination_type\": \"volume\"}, {\"uuid\": \"nlxtest-data\", "
                        "\"source_type\": \"volume\", \"destination_type\": \"volume\"}]");
  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  attachments = g_strconcat ("/v2.1/servers/", id, "/os-volume_attachments", NULL);
  root = g_strconcat (attachments, "/nlxtest-root", NULL);

  volume = volume_of (f, "nlxtest-root", &reply);
  g_assert_cmpstr (json_object_get_string_member (volume, "status"), ==, "in-use");
  list = json_object_get_array_member (volume, "attachments");
  g_assert_cmpuint (json_array_get_length (list), ==, 1);
  assert_root_attachment (json_array_get_object_element (list, 0), id,
                          "nlxtest-root");

  /* The server's own list has it, first, as volumes_attached does. */
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (nlx_test_call (f->session, "GET", attachments, NULL, &reply), ==, 200);
  list = json_object_get_array_member (json_node_get_object (reply),
                                       "volumeAttachments");
  g_assert_cmpuint (json_array_get_length (list), ==, 2);
  assert_root_attachment (json_array_get_object_element (list, 0), id,
                          "nlxtest-root");
  g_assert_false (json_object_has_member (json_array_get_object_element (list, 0),
                                          "mount_path"));
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (list, 1),
                                                  "volumeId"), ==, "nlxtest-data");
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (nlx_test_call (f->session, "GET", root, NULL, &reply), ==, 200);
  assert_root_attachment (nlx_test_object_at (reply, "volumeAttachment"), id,
                          "nlxtest-root");
  shown = nlx_test_show (f->session, id);
  list = json_object_get_array_member (nlx_test_object_at (shown, "server"),
                                       "os-extended-volumes:volumes_attached");
  g_assert_cmpuint (json_array_get_length (list), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (list, 0),
                                                  "id"), ==, "nlxtest-root");

  /* Attached, so not 404: refused, saying why, and nothing changes. */
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (nlx_test_call (f->session, "DELETE", root, NULL, &reply), ==, 409);
  nlx_test_assert_fault (reply, "conflictingRequest", 409);
  g_assert_nonnull (strstr (json_object_get_string_member (
                              nlx_test_object_at (reply, "conflictingRequest"),
                              "message"), "root filesystem"));
  status = nlx_test_status_of (f->session, id);
  g_assert_cmpstr (status, ==, "ACTIVE");
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (nlx_test_call (f->session, "GET", root, NULL, &reply), ==, 200);
  /* The other volume detaches as any does. */
  g_clear_pointer (&root, g_free);
  root = g_strconcat (attachments, "/nlxtest-data", NULL);
  g_assert_cmpint (nlx_test_call (f->session, "DELETE", root, NULL, NULL), ==, 202);

  nlx_test_delete_and_wait (f->session, id);
  g_clear_pointer (&reply, json_node_unref);
  volume = volume_of (f, "nlxtest-root", &reply);
  g_assert_cmpstr (json_object_get_string_member (volume, "status"), ==, "available");
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (volume,
                                                                         "attachments")),
                    ==, 0);
  g_assert_cmpint (nlx_test_call (f->session, "DELETE", "/v2.1/os-volumes/nlxtest-root",
                                  NULL, NULL), ==, 202);
  g_assert_cmpint (nlx_test_call (f->session, "DELETE", "/v2.1/os-volumes/nlxtest-data",
                                  NULL, NULL), ==, 202);
}

/* The body of an answer, which must be exactly one JSON value: json-glib
 * writes the API's bodies compactly, so parsing and writing one again
 * gives the same bytes, where two bodies back to back would not. */
static guint
call_single_body (Fixture *f,
                  const char *method,
                  const char *path,
                  const char *body,
                  JsonNode **reply)
{
  g_autofree char *url = g_strconcat ("http://localhost", path, NULL);
  g_autoptr(SoupMessage) msg = soup_message_new (method, url);
  g_autoptr(GBytes) request = g_bytes_new (body, strlen (body));
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *again = NULL;
  g_autofree char *text = NULL;

  soup_message_set_request_body_from_bytes (msg, "application/json", request);
  bytes = soup_session_send_and_read (f->session, msg, NULL, &error);
  g_assert_no_error (error);
  text = g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  if (!json_parser_load_from_data (parser, text, -1, NULL) ||
      json_parser_get_root (parser) == NULL)
    g_error ("%s %s: the answer is not JSON: %s", method, path, text);
  again = json_to_string (json_parser_get_root (parser), FALSE);
  if (!g_str_equal (again, text))
    g_error ("%s %s: the answer is not one JSON value: %s", method, path, text);
  *reply = json_node_copy (json_parser_get_root (parser));
  return soup_message_get_status (msg);
}

#define BDM_SERVER(bdm) \
  "{\"server\": {\"name\": \"nlxtest-bdm\", \"flavorRef\": \"m1.tiny\", " \
  "\"imageRef\": \"test-image\", \"block_device_mapping_v2\": [" bdm "]}}"

/* Found by the API fuzzer: a volume_id that was not a string answered two
 * fault bodies back to back, which no client can parse. */
static void
test_bdm_volume_id_type (Fixture *f,
                         gconstpointer data G_GNUC_UNUSED)
{
  static const char * const bodies[] = {
    BDM_SERVER ("{\"volume_id\": 7, \"source_type\": \"volume\"}"),
    BDM_SERVER ("{\"volume_id\": [], \"source_type\": \"volume\"}"),
    BDM_SERVER ("{\"volume_id\": {}, \"source_type\": \"volume\", "
                "\"boot_index\": 0}"),
  };

  for (guint i = 0; i < G_N_ELEMENTS (bodies); i++)
    {
      g_autoptr(JsonNode) reply = NULL;

      g_test_message ("POST %s", bodies[i]);
      g_assert_cmpint (call_single_body (f, "POST", "/v2.1/servers", bodies[i],
                                         &reply), ==, 400);
      nlx_test_assert_fault (reply, "badRequest", 400);
    }
}

/* boot_index as Nova's schema has it: an integer, or a string of one
 * (^-?[0-9]+$), or null; g_ascii_strtoll() took " 0", "0x" and "0abc"
 * as 0, and any other type as "not the root". */
static void
test_bdm_boot_index (Fixture *f,
                     gconstpointer data G_GNUC_UNUSED)
{
  static const char * const refused[] = {
    "\" 0\"", "\"0 \"", "\"0x\"", "\"0x10\"", "\"+0\"", "\"\"", "\"-\"",
    "\"0abc\"", "\"99999999999999999999\"", "true", "1.5", "{}", "[0]",
    /* Nova's pattern takes these; nothing needs them (nlx-api.c). */
    "\"-0\"", "\"00\"",
  };
  /* Taken: each makes nlxtest-none the root volume, which is missing. */
  static const char * const root[] = { "0", "\"0\"", "-0" };

  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_autofree char *body = g_strdup_printf (
        BDM_SERVER ("{\"uuid\": \"nlxtest-none\", \"source_type\": \"volume\", "
                    "\"boot_index\": %s}"), refused[i]);

      nlx_test_expect_fault (f->session, "POST", "/v2.1/servers", body, 400,
                             "badRequest");
    }
  for (guint i = 0; i < G_N_ELEMENTS (root); i++)
    {
      g_autofree char *body = g_strdup_printf (
        BDM_SERVER ("{\"uuid\": \"nlxtest-none\", \"source_type\": \"volume\", "
                    "\"boot_index\": %s}"), root[i]);
      g_autoptr(JsonNode) reply = NULL;
      JsonObject *fault;

      g_test_message ("POST %s", body);
      g_assert_cmpint (nlx_test_call (f->session, "POST", "/v2.1/servers", body,
                                      &reply), ==, 404);
      fault = nlx_test_object_at (reply, "itemNotFound");
      g_assert_nonnull (strstr (json_object_get_string_member (fault, "message"),
                                "nlxtest-none"));
    }
}

/* The owner project a volume's file records, or NULL. */
static char *
file_owner (Fixture *f,
            const char *id)
{
  g_autofree char *path = g_build_filename (f->dir, "state", "volumes", id,
                                            NULL);
  char value[128];
  ssize_t length = getxattr (path, "user.nova-lxc.owner", value,
                             sizeof value - 1);

  if (length < 0)
    {
      g_assert_cmpint (errno, ==, ENODATA);
      return NULL;
    }
  value[length] = '\0';
  return g_strdup (value);
}

/* Over the Unix socket the operator gives a volume to a project with
 * X-Project-Id; without it the volume is the operator's, as before.  The
 * socket itself sees and deletes every volume (Keystone's side is
 * tests/test-api-keystone's). */
static void
test_volume_owner (Fixture *f,
                   gconstpointer data G_GNUC_UNUSED)
{
  g_autoptr(JsonNode) reply = NULL;
  g_autofree char *owner = NULL;
  JsonObject *metadata;
  JsonArray *list;
  gboolean seen_given = FALSE, seen_own = FALSE;

  g_assert_cmpint (nlx_test_call_full (f->session, "http://localhost", "POST",
                                       "/v2.1/os-volumes",
                                       "{\"volume\": {\"display_name\": "
                                       "\"nlxtest-given\", \"size_mb\": 8}}",
                                       "X-Project-Id", "nlxtest-project",
                                       &reply, NULL), ==, 200);
  metadata = json_object_get_object_member (nlx_test_object_at (reply, "volume"),
                                            "metadata");
  g_assert_cmpstr (json_object_get_string_member (metadata,
                                                  "nova_lxc:project_id"),
                   ==, "nlxtest-project");
  owner = file_owner (f, "nlxtest-given");
  g_assert_cmpstr (owner, ==, "nlxtest-project");
  g_clear_pointer (&owner, g_free);

  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (nlx_test_call (f->session, "POST", "/v2.1/os-volumes",
                                  "{\"volume\": {\"display_name\": "
                                  "\"nlxtest-own\", \"size_mb\": 8}}",
                                  &reply), ==, 200);
  metadata = json_object_get_object_member (nlx_test_object_at (reply, "volume"),
                                            "metadata");
  g_assert_false (json_object_has_member (metadata, "nova_lxc:project_id"));
  g_assert_null (file_owner (f, "nlxtest-own"));

  /* A project id that is none is refused, and makes nothing. */
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (nlx_test_call_full (f->session, "http://localhost", "POST",
                                       "/v2.1/os-volumes",
                                       "{\"volume\": {\"display_name\": "
                                       "\"nlxtest-bad\", \"size_mb\": 8}}",
                                       "X-Project-Id", "a/../b", &reply, NULL),
                   ==, 400);
  nlx_test_expect_fault (f->session, "GET", "/v2.1/os-volumes/nlxtest-bad", NULL,
                         404, "itemNotFound");

  /* The operator sees both, whoever they belong to, as before. */
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (nlx_test_call (f->session, "GET", "/v2.1/os-volumes", NULL,
                                  &reply), ==, 200);
  list = json_object_get_array_member (json_node_get_object (reply), "volumes");
  for (guint i = 0; i < json_array_get_length (list); i++)
    {
      const char *id = json_object_get_string_member (
        json_array_get_object_element (list, i), "id");

      seen_given |= g_str_equal (id, "nlxtest-given");
      seen_own |= g_str_equal (id, "nlxtest-own");
    }
  g_assert_true (seen_given && seen_own);
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (nlx_test_call (f->session, "GET",
                                  "/v2.1/os-volumes/nlxtest-given", NULL,
                                  &reply), ==, 200);
  g_assert_cmpint (nlx_test_call (f->session, "DELETE",
                                  "/v2.1/os-volumes/nlxtest-given", NULL, NULL),
                   ==, 202);
  g_assert_cmpint (nlx_test_call (f->session, "DELETE",
                                  "/v2.1/os-volumes/nlxtest-own", NULL, NULL),
                   ==, 202);
  nlx_test_expect_fault (f->session, "GET", "/v2.1/os-volumes/nlxtest-given",
                         NULL, 404, "itemNotFound");
}

/* ---- the driver API: a host block device as a volume ------------------- */

#define BLOCK_DEVICE_CONFIG \
  "[api]\nlisten = 127.0.0.1:0\nauth_token = s3cret-t0ken\n" \
  "[volumes]\nallowed_roots = /dev/loop*\n"

/* Every name in the volume directory, hidden ones too (and the daemon's
 * lock file): a refused create must not add any. */
static guint
volume_dir_size (Fixture *f)
{
  g_autofree char *dir = g_build_filename (f->dir, "state", "volumes", NULL);
  g_autoptr(GDir) handle = g_dir_open (dir, 0, NULL);
  guint n = 0;

  if (handle == NULL)
    return 0;
  while (g_dir_read_name (handle) != NULL)
    n++;
  return n;
}

static void
expect_block_refused (Fixture *f,
                      const char *device,
                      const char *extra,
                      guint status,
                      const char *pattern)
{
  g_autofree char *body =
    g_strdup_printf ("{\"volume\": {\"display_name\": \"nlxtest-blk\", "
                     "\"block_device\": \"%s\"%s}}", device, extra);
  g_autoptr(JsonNode) reply = NULL;
  guint before = volume_dir_size (f);
  const char *message;

  g_test_message ("POST /v2.1/os-volumes %s", body);
  g_assert_cmpint (nlx_test_call (f->session, "POST", "/v2.1/os-volumes",
                                  body, &reply), ==, status);
  message = json_object_get_string_member (
    nlx_test_object_at (reply, status == 409 ? "conflictingRequest"
                                             : "badRequest"), "message");
  if (!g_pattern_match_simple (pattern, message))
    g_error ("“%s” does not match “%s”", message, pattern);
  g_assert_cmpuint (volume_dir_size (f), ==, before);
}

/* A loop device of the test's own, on an ext4 image in the fixture's
 * directory: autoclear and held open by @fd, so it goes when the test
 * process does, even when an assertion ends it. */
static char *
make_loop_device (Fixture *f,
                  int *fd)
{
  g_autofree char *image = g_build_filename (f->dir, "disk.img", NULL);
  g_autoptr(GError) error = NULL;
  const char *mkfs[] = { "mkfs.ext4", "-q", "-F", image, NULL };
  struct loop_info64 info;
  char *device;
  int image_fd;
  int status;

  image_fd = open (image, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  g_assert_cmpint (image_fd, >=, 0);
  g_assert_cmpint (ftruncate (image_fd, 16 * 1024 * 1024), ==, 0);
  close (image_fd);
  g_assert_true (g_spawn_sync (NULL, (char **) mkfs, NULL,
                               G_SPAWN_SEARCH_PATH |
                               G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
                               NULL, &status, &error));
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  image_fd = open (image, O_RDONLY | O_CLOEXEC);
  g_assert_cmpint (image_fd, >=, 0);
  device = nlx_loop_attach (image_fd, "nlxtest-block-device", &error);
  close (image_fd);
  g_assert_no_error (error);
  *fd = open (device, O_RDONLY | O_CLOEXEC);
  g_assert_cmpint (*fd, >=, 0);
  g_assert_cmpint (ioctl (*fd, LOOP_GET_STATUS64, &info), ==, 0);
  info.lo_flags |= LO_FLAGS_AUTOCLEAR;
  g_assert_cmpint (ioctl (*fd, LOOP_SET_STATUS64, &info), ==, 0);
  return device;
}

/* "block_device" (docs/api.md, "The driver API"): only over the Unix
 * socket, only a block device under allowed_roots, never with what only
 * a made volume has; a refusal makes nothing. */
static void
test_block_device_refused (Fixture *f,
                           gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *base = g_strdup_printf ("http://127.0.0.1:%u",
                                           f->daemon.tcp_port);
  g_autoptr(SoupSession) tcp = soup_session_new ();
  g_autoptr(JsonNode) reply = NULL;
  guint empty = volume_dir_size (f);

  /* Over TCP even the operator's token may not name a host device. */
  g_assert_cmpint (nlx_test_call_full (tcp, base, "POST", "/v2.1/os-volumes",
                                       "{\"volume\": {\"display_name\": "
                                       "\"nlxtest-blk\", \"block_device\": "
                                       "\"/dev/loop0\"}}",
                                       "X-Auth-Token", "s3cret-t0ken", &reply,
                                       NULL), ==, 403);
  nlx_test_assert_fault (reply, "forbidden", 403);
  g_assert_nonnull (strstr (json_object_get_string_member (
                              nlx_test_object_at (reply, "forbidden"),
                              "message"), "Unix socket"));
  g_assert_cmpuint (volume_dir_size (f), ==, empty);

  expect_block_refused (f, "dev/loop0", "", 400, "*absolute path*");
  expect_block_refused (f, "/dev/loop-nlxtest-missing", "", 400,
                        "*/dev/loop-nlxtest-missing*No such file*");
  /* A character device under the roots. */
  expect_block_refused (f, "/dev/loop-control", "", 400,
                        "*not a block device*");
  expect_block_refused (f, "/dev/null", "", 400,
                        "*outside the allowed roots*");
  expect_block_refused (f, "/dev/loop0", ", \"size\": 1", 400,
                        "*leave out “size”*");
  expect_block_refused (f, "/dev/loop0", ", \"filesystem\": \"ext4\"", 400,
                        "*leave out “filesystem”*");
  nlx_test_expect_fault (f->session, "GET", "/v2.1/os-volumes/nlxtest-blk",
                         NULL, 404, "itemNotFound");
}

/* A real block device (a loop device the test makes, root only) becomes
 * a "block" volume whose entry is a link to it; a second of the same id
 * is 409; DELETE removes the link and leaves the device. */
static void
test_block_device (Fixture *f,
                   gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *device = NULL;
  g_autofree char *body = NULL;
  g_autofree char *entry = NULL;
  g_autofree char *target = NULL;
  g_autoptr(JsonNode) reply = NULL;
  JsonObject *volume;
  struct stat st;
  int hold = -1;
  int claim;
  guint empty;

  if (geteuid () != 0)
    {
      g_test_skip ("only root can make a loop device");
      return;
    }
  device = make_loop_device (f, &hold);
  empty = volume_dir_size (f);
  /* Held exclusively (as a mount holds it): refused after the link was
   * made, which then goes. */
  claim = open (device, O_RDONLY | O_EXCL | O_CLOEXEC);
  g_assert_cmpint (claim, >=, 0);
  expect_block_refused (f, device, "", 400, "*in use by the host*");
  close (claim);
  body = g_strdup_printf ("{\"volume\": {\"display_name\": \"nlxtest-blk\", "
                          "\"block_device\": \"%s\"}}", device);
  g_assert_cmpint (nlx_test_call (f->session, "POST", "/v2.1/os-volumes", body,
                                  &reply), ==, 200);
  volume = nlx_test_object_at (reply, "volume");
  g_assert_cmpstr (json_object_get_string_member (volume, "id"), ==,
                   "nlxtest-blk");
  g_assert_cmpstr (json_object_get_string_member (volume, "volumeType"), ==,
                   "block");
  g_assert_cmpstr (json_object_get_string_member (
                     json_object_get_object_member (volume, "metadata"),
                     "nova_lxc:filesystem"), ==, "ext4");
  entry = g_build_filename (f->dir, "state", "volumes", "nlxtest-blk", NULL);
  target = g_file_read_link (entry, NULL);
  g_assert_cmpstr (target, ==, device);
  g_assert_cmpuint (volume_dir_size (f), ==, empty + 1);

  expect_block_refused (f, device, "", 409, "*already exists*");

  g_assert_cmpint (nlx_test_call (f->session, "DELETE",
                                  "/v2.1/os-volumes/nlxtest-blk", NULL, NULL),
                   ==, 202);
  g_assert_cmpint (lstat (entry, &st), ==, -1);
  g_assert_cmpint (stat (device, &st), ==, 0);
  g_assert_true (S_ISBLK (st.st_mode));
  g_assert_cmpuint (volume_dir_size (f), ==, empty);
  close (hold);
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_summary ("The Compute API and the manager, over HTTP, on the fake "
                  "driver: volumes: attached, as a root disk, and in a "
                  "server's block device mapping.");
  /* Failed operations are logged as warnings, and some tests fail them
   * on purpose. */
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR);

#define ADD(path, func, config) \
  g_test_add (path, Fixture, config, fixture_set_up, func, fixture_tear_down)
  ADD ("/nlx/api/volumes", test_volumes, NULL);
  ADD ("/nlx/api/volumes/root", test_root_volume, NULL);
  ADD ("/nlx/api/volumes/owner", test_volume_owner, NULL);
  ADD ("/nlx/api/volumes/block-device-refused", test_block_device_refused,
       BLOCK_DEVICE_CONFIG);
  ADD ("/nlx/api/volumes/block-device", test_block_device,
       BLOCK_DEVICE_CONFIG);
  ADD ("/nlx/api/servers/bdm-volume-id-type", test_bdm_volume_id_type, NULL);
  ADD ("/nlx/api/servers/bdm-boot-index", test_bdm_boot_index, NULL);
#undef ADD

  return g_test_run ();
}
