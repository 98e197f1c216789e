/* test-api-instance-actions.c: the Compute API on the fake driver: a
 * server's action history (/servers/{id}/os-instance-actions[/{request
 * id}]): each operation's action, named as Nova names it, with the request
 * id that began it, and its event's result; failures; Nova's shapes at
 * each microversion, checked against tempest's own response schemas when
 * Debian's python3-tempest is there; paging (2.58, 2.66); the history
 * surviving a restart, and its bound; deleted servers' histories (2.21)
 * and their bounds (the fixture: lib/nlx-api-fixture.h). */
#include "config.h"

#include "lib/nlx-api-fixture.h"
#include "lib/nlx-test-client.h"
#include "lib/nlx-test-daemon.h"
#include "lib/nlx-test-tools.h"
#include "model/nlx-record.h"

/* Checks @reply against tempest's schema @schema of module @module
 * (tempest.lib.api_schema.response.compute.@module), as tempest's
 * service clients check every answer; skipped without tempest. */
static void
validate (JsonNode *reply,
          const char *module,
          const char *schema)
{
  static int have_tempest = -1;
  g_autofree char *script = NULL;
  g_autofree char *body = json_to_string (reply, FALSE);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GSubprocess) python = NULL;
  g_autoptr(GError) error = NULL;

  if (have_tempest == -1)
    {
      const char *argv[] = { "/usr/bin/python3", "-c",
                             "import jsonschema, tempest.lib.common."
                             "jsonschema_validator", NULL };
      int status = 1;

      have_tempest = g_spawn_sync (NULL, (char **) argv, NULL,
                                   G_SPAWN_STDOUT_TO_DEV_NULL |
                                   G_SPAWN_STDERR_TO_DEV_NULL,
                                   NULL, NULL, NULL, NULL, &status, NULL) &&
                     status == 0;
      if (!have_tempest)
        g_test_message ("No python3-tempest: bodies are not checked against "
                        "tempest's schemas");
    }
  if (!have_tempest)
    return;
  /* Tempest 33 stops at 2.79; 2.84 adds the events' "details" (Nova's
   * api-ref), so "v2_84" is 2.79's schema with it. */
  script = g_strdup_printf (
    "import copy, json, sys\n"
    "from tempest.lib.common import jsonschema_validator as v\n"
    "from tempest.lib.api_schema.response.compute.%s import servers as s\n"
    "schema = copy.deepcopy(s.%s['response_body'])\n"
    "if %s:\n"
    "    e = schema['properties']['instanceAction']['properties']"
    "['events']['items']\n"
    "    e['properties']['details'] = {'type': ['string', 'null']}\n"
    "    e['required'].append('details')\n"
    "v.JSONSCHEMA_VALIDATOR(schema, format_checker=v.FORMAT_CHECKER)"
    ".validate(json.load(sys.stdin))\n",
    g_str_equal (module, "v2_84") ? "v2_79" : module, schema,
    g_str_equal (module, "v2_84") ? "True" : "False");
  python = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                             G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                             G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                             "/usr/bin/python3", "-c", script, NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (python, body, NULL, &out, &err, &error);
  g_assert_no_error (error);
  if (g_subprocess_get_exit_status (python) != 0)
    g_error ("tempest %s.%s refuses %s: %s", module, schema, body, err);
}

/* Sends a request at microversion @version (NULL: none, 2.1) and
 * returns its X-Openstack-Request-Id. */
static char *
call_as (Fixture *f,
         const char *version,
         const char *method,
         const char *path,
         const char *body,
         guint expected,
         JsonNode **reply)
{
  g_autoptr(SoupMessageHeaders) headers = NULL;
  g_autofree char *value = version ? g_strconcat ("compute ", version, NULL)
                                   : NULL;

  g_assert_cmpint (nlx_test_call_full (f->session, "http://localhost", method,
                                       path, body,
                                       version ? "OpenStack-API-Version" : NULL,
                                       value, reply, &headers), ==, expected);
  return g_strdup (soup_message_headers_get_one (headers,
                                                 "X-Openstack-Request-Id"));
}

/* Acts on @id with @body, waits for @after; returns the request id. */
static char *
act (Fixture *f,
     const char *id,
     const char *body,
     const char *after)
{
  g_autofree char *path = g_strconcat ("/v2.1/servers/", id, "/action", NULL);
  char *request_id = call_as (f, NULL, "POST", path, body, 202, NULL);

  nlx_test_wait_for_status (f->session, id, after);
  return request_id;
}

static char *
create (Fixture *f,
        const char *extra,
        char **request_id)
{
  g_autofree char *body =
    g_strdup_printf ("{\"server\": {\"name\": \"nlxtest-acts\", "
                     "\"flavorRef\": \"m1.tiny\", \"imageRef\": "
                     "\"test-image\"%s}}", extra ? extra : "");
  g_autoptr(JsonNode) reply = NULL;

  *request_id = call_as (f, NULL, "POST", "/v2.1/servers", body, 202, &reply);
  return g_strdup (json_object_get_string_member (nlx_test_object_at (reply,
                                                                      "server"),
                                                  "id"));
}

/* The actions' "action:request_id" newest first, as a list shows them. */
static char *
list_text (Fixture *f,
           const char *version,
           const char *id,
           const char *query)
{
  g_autofree char *path = g_strdup_printf ("/v2.1/servers/%s/os-instance-actions%s",
                                           id, query ? query : "");
  g_autoptr(JsonNode) reply = NULL;
  g_autofree char *request = call_as (f, version, "GET", path, NULL, 200,
                                      &reply);
  JsonArray *actions = json_object_get_array_member (json_node_get_object (reply),
                                                     "instanceActions");
  GString *text = g_string_new (NULL);

  for (guint i = 0; i < json_array_get_length (actions); i++)
    {
      JsonObject *action = json_array_get_object_element (actions, i);

      g_string_append_printf (text, "%s%s:%s", i ? " " : "",
                              json_object_get_string_member (action, "action"),
                              json_object_get_string_member (action,
                                                             "request_id"));
    }
  return g_string_free (text, FALSE);
}

static JsonNode *
show (Fixture *f,
      const char *version,
      const char *id,
      const char *request_id)
{
  g_autofree char *path = g_strdup_printf ("/v2.1/servers/%s/os-instance-actions/%s",
                                           id, request_id);
  JsonNode *reply = NULL;
  g_autofree char *request = call_as (f, version, "GET", path, NULL, 200,
                                      &reply);

  return reply;
}

static JsonObject *
first_event (JsonNode *reply)
{
  JsonObject *action = nlx_test_object_at (reply, "instanceAction");
  JsonArray *events = json_object_get_array_member (action, "events");

  g_assert_nonnull (events);
  g_assert_cmpuint (json_array_get_length (events), ==, 1);
  return json_array_get_object_element (events, 0);
}

static void
test_success (Fixture *f,
              gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *created = NULL;
  g_autofree char *id = create (f, NULL, &created);
  g_autofree char *stopped = NULL, *started = NULL, *rebooted = NULL;
  g_autofree char *paused = NULL, *unpaused = NULL, *expected = NULL;
  g_autofree char *text = NULL, *path = NULL, *image = NULL;
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(JsonNode) list = NULL;
  JsonObject *action, *event;
  const char *next;

  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  stopped = act (f, id, "{\"os-stop\": null}", "SHUTOFF");
  started = act (f, id, "{\"os-start\": null}", "ACTIVE");
  rebooted = act (f, id, "{\"reboot\": {\"type\": \"SOFT\"}}", "ACTIVE");
  paused = act (f, id, "{\"pause\": null}", "PAUSED");
  unpaused = act (f, id, "{\"unpause\": null}", "ACTIVE");
  image = nlx_test_create_image (f->session, id,
                                 "{\"createImage\": {\"name\": "
                                 "\"nlxtest-acts-snap\"}}");
  nlx_test_wait_for_status (f->session, id, "ACTIVE");

  /* Newest first, each with the request id its request was answered
   * with. */
  text = list_text (f, NULL, id, NULL);
  g_assert_true (g_str_has_prefix (text, "createImage:req-"));
  expected = g_strdup_printf ("unpause:%s pause:%s reboot:%s start:%s "
                              "stop:%s create:%s", unpaused, paused, rebooted,
                              started, stopped, created);
  g_assert_nonnull (strstr (text, expected));

  path = g_strdup_printf ("/v2.1/servers/%s/os-instance-actions", id);
  g_assert_cmpint (nlx_test_call (f->session, "GET", path, NULL, &list), ==, 200);
  validate (list, "v2_1", "list_instance_actions");
  action = json_array_get_object_element (
    json_object_get_array_member (json_node_get_object (list), "instanceActions"),
    0);
  g_assert_cmpstr (json_object_get_string_member (action, "instance_uuid"), ==, id);
  g_assert_true (json_object_get_null_member (action, "message"));
  g_assert_false (json_object_has_member (action, "updated_at"));

  /* 2.1, an admin (the Unix socket): the event, with its traceback. */
  reply = show (f, NULL, id, created);
  validate (reply, "v2_1", "show_instance_action");
  action = nlx_test_object_at (reply, "instanceAction");
  g_assert_cmpstr (json_object_get_string_member (action, "action"), ==, "create");
  g_assert_cmpstr (json_object_get_string_member (action, "request_id"), ==, created);
  event = first_event (reply);
  g_assert_cmpstr (json_object_get_string_member (event, "event"), ==,
                   "compute__do_build_and_run_instance");
  g_assert_cmpstr (json_object_get_string_member (event, "result"), ==, "Success");
  g_assert_false (json_object_get_null_member (event, "finish_time"));
  g_assert_true (json_object_get_null_member (event, "traceback"));
  g_assert_false (json_object_has_member (event, "hostId"));
  g_clear_pointer (&reply, json_node_unref);
  reply = show (f, NULL, id, stopped);
  g_assert_cmpstr (json_object_get_string_member (first_event (reply), "event"),
                   ==, "compute_stop_instance");

  /* Each microversion's shape, as tempest checks it. */
  g_clear_pointer (&reply, json_node_unref);
  reply = show (f, "2.51", id, rebooted);
  validate (reply, "v2_51", "show_instance_action");
  g_clear_pointer (&reply, json_node_unref);
  reply = show (f, "2.58", id, rebooted);
  validate (reply, "v2_58", "show_instance_action");
  g_assert_true (json_object_has_member (nlx_test_object_at (reply, "instanceAction"),
                                         "updated_at"));
  g_clear_pointer (&reply, json_node_unref);
  reply = show (f, "2.62", id, rebooted);
  validate (reply, "v2_62", "show_instance_action");
  event = first_event (reply);
  g_assert_cmpstr (json_object_get_string_member (event, "event"), ==,
                   "compute_reboot_instance");
  g_assert_nonnull (json_object_get_string_member (event, "host"));
  g_assert_cmpuint (strlen (json_object_get_string_member (event, "hostId")), >, 0);
  g_assert_false (json_object_has_member (event, "details"));
  g_clear_pointer (&reply, json_node_unref);
  reply = show (f, "2.84", id, rebooted);
  validate (reply, "v2_84", "show_instance_action");
  g_assert_true (json_object_get_null_member (first_event (reply), "details"));
  g_clear_pointer (&reply, json_node_unref);
  reply = show (f, "latest", id, rebooted);
  validate (reply, "v2_84", "show_instance_action");

  /* 2.58: pages, newest first, each full one linking to the next. */
  g_clear_pointer (&list, json_node_unref);
  g_free (call_as (f, "2.58", "GET", "/v2.1/servers/x", NULL, 404, NULL));
  {
    g_autofree char *query = g_strdup_printf ("%s?limit=2", path);
    g_autofree char *page2 = NULL;
    JsonArray *links;

    g_free (call_as (f, "2.58", "GET", query, NULL, 200, &list));
    g_assert_cmpuint (json_array_get_length (
      json_object_get_array_member (json_node_get_object (list),
                                    "instanceActions")), ==, 2);
    links = json_object_get_array_member (json_node_get_object (list), "links");
    g_assert_nonnull (links);
    next = json_object_get_string_member (json_array_get_object_element (links, 0),
                                          "href");
    g_assert_nonnull (strstr (next, "limit=2"));
    g_assert_nonnull (strstr (next, unpaused));
    page2 = g_strdup_printf ("?limit=2&marker=%s", unpaused);
    g_free (text);
    text = list_text (f, "2.58", id, page2);
    g_free (expected);
    expected = g_strdup_printf ("pause:%s reboot:%s", paused, rebooted);
    g_assert_cmpstr (text, ==, expected);
    g_free (page2);
    page2 = g_strdup_printf ("?marker=%s", stopped);
    g_free (text);
    text = list_text (f, "2.58", id, page2);
    g_free (expected);
    expected = g_strdup_printf ("create:%s", created);
    g_assert_cmpstr (text, ==, expected);
  }
  {
    g_autofree char *q = NULL;

    q = g_strdup_printf ("%s?marker=req-nlxtest-unknown", path);
    g_free (call_as (f, "2.58", "GET", q, NULL, 400, NULL));
    g_free (q);
    q = g_strdup_printf ("%s?limit=-1", path);
    g_free (call_as (f, "2.58", "GET", q, NULL, 400, NULL));
    g_free (q);
    q = g_strdup_printf ("%s?changes-since=yesterday", path);
    g_free (call_as (f, "2.58", "GET", q, NULL, 400, NULL));
    g_free (q);
    /* Before 2.58 the query is not read. */
    q = g_strdup_printf ("%s?limit=-1", path);
    g_free (call_as (f, "2.57", "GET", q, NULL, 200, NULL));
    g_free (q);
    q = g_strdup_printf ("%s?changes-since=2000-01-01T00:00:00Z"
                         "&changes-before=1999-01-01T00:00:00Z", path);
    g_free (call_as (f, "2.66", "GET", q, NULL, 400, NULL));
    /* changes-before only from 2.66 on */
    g_free (call_as (f, "2.65", "GET", q, NULL, 200, NULL));
  }
  g_free (text);
  text = list_text (f, "2.58", id, "?changes-since=2999-01-01T00:00:00Z");
  g_assert_cmpstr (text, ==, "");
  g_free (text);
  text = list_text (f, "2.66", id, "?changes-before=2000-01-01T00:00:00Z");
  g_assert_cmpstr (text, ==, "");
  g_free (text);
  text = list_text (f, "2.65", id, "?changes-before=2000-01-01T00:00:00Z");
  g_assert_cmpstr (text, !=, "");

  /* Unknown ones are 404, as Nova. */
  {
    g_autofree char *q = g_strdup_printf ("%s/req-nlxtest-unknown", path);

    nlx_test_expect_fault (f->session, "GET", q, NULL, 404, "itemNotFound");
    nlx_test_expect_fault (f->session, "GET",
                           "/v2.1/servers/00000000-0000-0000-0000-00000000abcd"
                           "/os-instance-actions", NULL, 404, "itemNotFound");
  }

  /* Its history goes with its record. */
  {
    g_autofree char *image_path = g_strconcat ("/v2.1/images/", image, NULL);

    g_assert_cmpint (nlx_test_call (f->session, "DELETE", image_path, NULL,
                                    NULL), ==, 204);
  }
  nlx_test_delete_and_wait (f->session, id);
  nlx_test_expect_fault (f->session, "GET", path, NULL, 404, "itemNotFound");
}

/* A failed operation is traced: its action says Error, its event why. */
static void
test_failure (Fixture *f,
              gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *created = NULL;
  g_autofree char *id = create (f, ", \"metadata\": {\"fake_spawn_error\": "
                                   "\"nlxtest-the-disk-is-on-fire\"}", &created);
  g_autofree char *booted = NULL;
  g_autofree char *dies = create (f, ", \"metadata\": {\"fake_boot_failure\": "
                                     "\"nlxtest-last-words\"}", &booted);
  g_autofree char *started = NULL;
  g_autoptr(JsonNode) reply = NULL;
  JsonObject *action, *event;

  nlx_test_wait_for_status (f->session, id, "ERROR");
  reply = show (f, "2.84", id, created);
  validate (reply, "v2_84", "show_instance_action");
  action = nlx_test_object_at (reply, "instanceAction");
  g_assert_cmpstr (json_object_get_string_member (action, "message"), ==, "Error");
  event = first_event (reply);
  g_assert_cmpstr (json_object_get_string_member (event, "result"), ==, "Error");
  g_assert_cmpstr (json_object_get_string_member (event, "traceback"), ==,
                   "nlxtest-the-disk-is-on-fire");
  g_assert_cmpstr (json_object_get_string_member (event, "details"), ==,
                   "nlxtest-the-disk-is-on-fire");
  g_clear_pointer (&reply, json_node_unref);
  reply = show (f, NULL, id, created);
  validate (reply, "v2_1", "show_instance_action");

  /* An init that exits during boot fails the create; a start that boots
   * succeeds. */
  nlx_test_wait_for_status (f->session, dies, "ERROR");
  g_clear_pointer (&reply, json_node_unref);
  reply = show (f, NULL, dies, booted);
  g_assert_cmpstr (json_object_get_string_member (nlx_test_object_at (reply,
                                                                      "instanceAction"),
                                                  "message"), ==, "Error");
  g_assert_nonnull (strstr (json_object_get_string_member (first_event (reply),
                                                           "traceback"),
                            "nlxtest-last-words"));
  started = act (f, dies, "{\"os-start\": null}", "ACTIVE");
  g_clear_pointer (&reply, json_node_unref);
  reply = show (f, NULL, dies, started);
  g_assert_true (json_object_get_null_member (nlx_test_object_at (reply,
                                                                  "instanceAction"),
                                              "message"));
  g_assert_cmpstr (json_object_get_string_member (first_event (reply), "result"),
                   ==, "Success");
  nlx_test_delete_and_wait (f->session, id);
  nlx_test_delete_and_wait (f->session, dies);
}

/* A copy of @object's members (json_node_copy() would share the object). */
static JsonObject *
copy_object (JsonObject *object)
{
  JsonObject *copy = json_object_new ();
  g_autoptr(GList) members = json_object_get_members (object);

  for (GList *l = members; l != NULL; l = l->next)
    json_object_set_member (copy, l->data,
                            json_node_copy (json_object_get_member (object,
                                                                    l->data)));
  return copy;
}

/* Waits until the action of @request_id on @id has ended; returns it. */
static JsonNode *
wait_for_end (Fixture *f,
              const char *id,
              const char *request_id)
{
  gint64 until = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

  while (g_get_monotonic_time () < until)
    {
      g_autoptr(JsonNode) reply = show (f, NULL, id, request_id);

      if (!json_object_get_null_member (first_event (reply), "finish_time"))
        return g_steal_pointer (&reply);
      g_usleep (20000);
    }
  g_error ("action %s of server %s did not end", request_id, id);
}

/* Volume attachments are actions too, with Nova's names. */
static void
test_volumes (Fixture *f,
              gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *created = NULL;
  g_autofree char *id = create (f, NULL, &created);
  g_autofree char *attachments = g_strconcat ("/v2.1/servers/", id,
                                              "/os-volume_attachments", NULL);
  g_autofree char *detach = g_strconcat (attachments, "/nlxtest-acts-vol", NULL);
  g_autofree char *attached = NULL, *detached = NULL;
  g_autofree char *text = NULL, *expected = NULL;
  g_autoptr(JsonNode) reply = NULL;

  g_assert_cmpint (nlx_test_call (f->session, "POST", "/v2.1/os-volumes",
                                  "{\"volume\": {\"display_name\": "
                                  "\"nlxtest-acts-vol\", \"size_mb\": 8}}",
                                  NULL), ==, 200);
  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  attached = call_as (f, NULL, "POST", attachments,
                      "{\"volumeAttachment\": {\"volumeId\": "
                      "\"nlxtest-acts-vol\", \"mount_path\": \"/data\"}}",
                      200, NULL);
  detached = call_as (f, NULL, "DELETE", detach, NULL, 202, NULL);
  reply = wait_for_end (f, id, detached);
  g_assert_cmpstr (json_object_get_string_member (first_event (reply), "event"),
                   ==, "compute_detach_volume");
  g_assert_cmpstr (json_object_get_string_member (first_event (reply), "result"),
                   ==, "Success");
  g_clear_pointer (&reply, json_node_unref);
  reply = show (f, NULL, id, attached);
  g_assert_cmpstr (json_object_get_string_member (first_event (reply), "event"),
                   ==, "compute_attach_volume");
  text = list_text (f, NULL, id, NULL);
  expected = g_strdup_printf ("detach_volume:%s attach_volume:%s create:%s",
                              detached, attached, created);
  g_assert_cmpstr (text, ==, expected);
  nlx_test_delete_and_wait (f->session, id);
  g_assert_cmpint (nlx_test_call (f->session, "DELETE",
                                  "/v2.1/os-volumes/nlxtest-acts-vol", NULL,
                                  NULL), ==, 202);
}

static char *
record_path (Fixture *f,
             const char *id)
{
  g_autofree char *file = g_strconcat (id, ".json", NULL);

  return g_build_filename (f->dir, "state", "records", file, NULL);
}

/* The history is in the record: a restart keeps it, and ends as Error
 * the action of an operation the stop cut short (here a reboot, as a
 * crash in the middle would leave the record). */
static void
test_restart (Fixture *f,
              gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *created = NULL;
  g_autofree char *id = create (f, NULL, &created);
  g_autofree char *file = record_path (f, id);
  g_autofree char *stopped = NULL, *before = NULL, *after = NULL;
  g_autofree char *text = NULL, *expected = NULL;
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *record, *cut;
  JsonArray *actions;

  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  stopped = act (f, id, "{\"os-stop\": null}", "SHUTOFF");
  before = list_text (f, NULL, id, NULL);
  nlx_test_daemon_stop (&f->daemon);

  g_assert_true (g_file_get_contents (file, &text, NULL, &error));
  g_assert_no_error (error);
  node = json_from_string (text, &error);
  g_assert_no_error (error);
  record = json_node_get_object (node);
  json_object_set_string_member (record, "task_state", "rebooting");
  actions = json_object_get_array_member (record, "actions");
  cut = copy_object (json_array_get_object_element (actions, 0));
  json_object_set_string_member (cut, "action", "reboot");
  json_object_set_string_member (cut, "event", "compute_reboot_instance");
  json_object_set_string_member (cut, "request_id", "req-nlxtest-cut-short");
  json_object_set_null_member (cut, "finish_time");
  json_object_set_null_member (cut, "result");
  json_array_add_object_element (actions, cut);
  g_free (text);
  text = json_to_string (node, FALSE);
  g_assert_true (g_file_set_contents (file, text, -1, &error));
  g_assert_no_error (error);

  nlx_test_daemon_start (&f->daemon, f->config_text);
  g_assert_no_error (f->daemon.start_error);
  after = list_text (f, NULL, id, NULL);
  expected = g_strconcat ("reboot:req-nlxtest-cut-short ", before, NULL);
  g_assert_cmpstr (after, ==, expected);
  reply = show (f, NULL, id, stopped);
  g_assert_cmpstr (json_object_get_string_member (first_event (reply), "result"),
                   ==, "Success");
  g_clear_pointer (&reply, json_node_unref);
  reply = show (f, NULL, id, "req-nlxtest-cut-short");
  g_assert_cmpstr (json_object_get_string_member (nlx_test_object_at (reply,
                                                                      "instanceAction"),
                                                  "message"), ==, "Error");
  g_assert_cmpstr (json_object_get_string_member (first_event (reply), "result"),
                   ==, "Error");
  g_assert_nonnull (strstr (json_object_get_string_member (first_event (reply),
                                                           "traceback"),
                            "Interrupted"));
  nlx_test_delete_and_wait (f->session, id);
}

/* A record keeps the last NLX_RECORD_ACTIONS_MAX actions: one written
 * with more (as by a long life) comes back with the newest, and a new
 * action drops the oldest. */
static void
test_bound (Fixture *f,
            gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *created = NULL;
  g_autofree char *id = create (f, NULL, &created);
  g_autofree char *file = record_path (f, id);
  g_autofree char *text = NULL, *stopped = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(JsonNode) list = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_strdup_printf ("/v2.1/servers/%s/os-instance-actions",
                                           id);
  JsonArray *actions, *shown;
  JsonObject *template;
  gsize length;

  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  nlx_test_daemon_stop (&f->daemon);
  g_assert_true (g_file_get_contents (file, &text, &length, &error));
  g_assert_no_error (error);
  node = json_from_string (text, &error);
  g_assert_no_error (error);
  actions = json_object_get_array_member (json_node_get_object (node), "actions");
  g_assert_cmpuint (json_array_get_length (actions), ==, 1);
  template = json_array_get_object_element (actions, 0);
  for (guint i = 0; i < NLX_RECORD_ACTIONS_MAX + 50; i++)
    {
      JsonObject *copy = copy_object (template);
      g_autofree char *request_id = g_strdup_printf ("req-nlxtest-%03u", i);

      json_object_set_string_member (copy, "action", "reboot");
      json_object_set_string_member (copy, "request_id", request_id);
      json_array_add_object_element (actions, copy);
    }
  g_free (text);
  text = json_to_string (node, FALSE);
  g_assert_true (g_file_set_contents (file, text, -1, &error));
  g_assert_no_error (error);
  nlx_test_daemon_start (&f->daemon, f->config_text);
  g_assert_no_error (f->daemon.start_error);

  g_assert_cmpint (nlx_test_call (f->session, "GET", path, NULL, &list), ==, 200);
  shown = json_object_get_array_member (json_node_get_object (list),
                                        "instanceActions");
  g_assert_cmpuint (json_array_get_length (shown), ==, NLX_RECORD_ACTIONS_MAX);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (shown, 0),
                                                  "request_id"), ==,
                   "req-nlxtest-149");
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (shown,
                                                                                 NLX_RECORD_ACTIONS_MAX - 1),
                                                  "request_id"), ==,
                   "req-nlxtest-050");

  /* One more: still the bound, the oldest gone.  (The fake driver forgot
   * the instance with the restart, so this stop fails: its action ends
   * as Error.) */
  {
    g_autofree char *action_path = g_strconcat ("/v2.1/servers/", id,
                                                "/action", NULL);
    g_autoptr(JsonNode) reply = NULL;

    stopped = call_as (f, NULL, "POST", action_path, "{\"os-stop\": null}",
                       202, NULL);
    reply = wait_for_end (f, id, stopped);
  }
  g_clear_pointer (&list, json_node_unref);
  g_assert_cmpint (nlx_test_call (f->session, "GET", path, NULL, &list), ==, 200);
  shown = json_object_get_array_member (json_node_get_object (list),
                                        "instanceActions");
  g_assert_cmpuint (json_array_get_length (shown), ==, NLX_RECORD_ACTIONS_MAX);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (shown, 0),
                                                  "request_id"), ==, stopped);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (shown,
                                                                                 NLX_RECORD_ACTIONS_MAX - 1),
                                                  "request_id"), ==,
                   "req-nlxtest-051");
  nlx_test_delete_and_wait (f->session, id);
  g_assert_false (g_file_test (file, G_FILE_TEST_EXISTS));
}


/* Deletes @id and waits until it is gone; returns the delete's request
 * id. */
static char *
delete_server (Fixture *f,
               const char *id)
{
  g_autofree char *path = g_strconcat ("/v2.1/servers/", id, NULL);
  char *request_id = call_as (f, NULL, "DELETE", path, NULL, 204, NULL);
  gint64 until = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

  while (nlx_test_call (f->session, "GET", path, NULL, NULL) != 404)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, until);
      g_usleep (20000);
    }
  return request_id;
}

/* The status of @id's action list at @version. */
static guint
list_status (Fixture *f,
             const char *version,
             const char *id)
{
  g_autofree char *path = g_strdup_printf ("/v2.1/servers/%s/os-instance-actions",
                                           id);
  g_autoptr(SoupMessageHeaders) headers = NULL;
  g_autofree char *value = g_strconcat ("compute ", version, NULL);

  return nlx_test_call_full (f->session, "http://localhost", "GET", path, NULL,
                             "OpenStack-API-Version", value, NULL, &headers);
}

static char *
deleted_path (Fixture *f)
{
  return g_build_filename (f->dir, "state", "deleted-actions.json", NULL);
}

/* 2.21: a deleted server's actions, its create and its delete (with its
 * event), as tempest's test_get_list_deleted_instance_actions wants
 * them; 404 before 2.21, and nothing else of the server shows; a restart
 * keeps them. */
static void
test_deleted (Fixture *f,
              gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *created = NULL;
  g_autofree char *id = create (f, NULL, &created);
  g_autofree char *deleted = NULL, *text = NULL, *expected = NULL;
  g_autofree char *path = g_strdup_printf ("/v2.1/servers/%s/os-instance-actions",
                                           id);
  g_autofree char *server_path = g_strconcat ("/v2.1/servers/", id, NULL);
  g_autofree char *file = deleted_path (f);
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(JsonNode) list = NULL;
  JsonObject *event;

  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  deleted = delete_server (f, id);

  expected = g_strdup_printf ("delete:%s create:%s", deleted, created);
  text = list_text (f, "2.21", id, NULL);
  g_assert_cmpstr (text, ==, expected);
  g_free (call_as (f, "2.21", "GET", path, NULL, 200, &list));
  validate (list, "v2_1", "list_instance_actions");
  reply = show (f, "2.21", id, deleted);
  validate (reply, "v2_1", "show_instance_action");
  event = first_event (reply);
  g_assert_cmpstr (json_object_get_string_member (event, "event"), ==,
                   "compute_terminate_instance");
  g_assert_cmpstr (json_object_get_string_member (event, "result"), ==,
                   "Success");
  g_assert_cmpstr (json_object_get_string_member (nlx_test_object_at (reply,
                                                                      "instanceAction"),
                                                  "instance_uuid"), ==, id);
  g_clear_pointer (&reply, json_node_unref);
  reply = show (f, "latest", id, created);
  validate (reply, "v2_84", "show_instance_action");

  /* Before 2.21 it is gone, as is every other path of it at any. */
  g_assert_cmpuint (list_status (f, "2.20", id), ==, 404);
  {
    g_autofree char *one = g_strconcat (path, "/", deleted, NULL);

    g_free (call_as (f, "2.20", "GET", one, NULL, 404, NULL));
  }
  g_free (call_as (f, "2.21", "GET", server_path, NULL, 404, NULL));
  g_free (call_as (f, "latest", "GET", server_path, NULL, 404, NULL));
  {
    g_autofree char *tags = g_strconcat (server_path, "/metadata", NULL);

    g_free (call_as (f, "latest", "GET", tags, NULL, 404, NULL));
  }

  /* A restart keeps them (they are in the state directory). */
  g_assert_true (g_file_test (file, G_FILE_TEST_EXISTS));
  nlx_test_daemon_stop (&f->daemon);
  nlx_test_daemon_start (&f->daemon, f->config_text);
  g_assert_no_error (f->daemon.start_error);
  g_free (text);
  text = list_text (f, "2.21", id, NULL);
  g_assert_cmpstr (text, ==, expected);
  g_assert_cmpuint (list_status (f, "2.20", id), ==, 404);
}

#define BOUND_CONFIG "[DEFAULT]\ndeleted_actions_max = 2\n"

/* Only the most recently deleted servers keep their history: beyond
 * [DEFAULT] deleted_actions_max the oldest deletion goes; one deleted
 * longer ago than the age bound (14 days) goes too, also across a
 * restart. */
static void
test_deleted_bound (Fixture *f,
                    gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *ids[3] = { NULL };
  g_autofree char *file = deleted_path (f);
  g_autofree char *text = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autoptr(GDateTime) old = g_date_time_add_days (now, -15);
  g_autofree char *old_text = g_date_time_format_iso8601 (old);
  JsonArray *servers;

  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    {
      g_autofree char *created = NULL;

      ids[i] = create (f, NULL, &created);
      nlx_test_wait_for_status (f->session, ids[i], "ACTIVE");
    }
  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    {
      g_autofree char *deleted = delete_server (f, ids[i]);

      g_assert_cmpuint (list_status (f, "2.21", ids[i]), ==, 200);
    }
  /* Three deleted, two kept: the first went. */
  g_assert_cmpuint (list_status (f, "2.21", ids[0]), ==, 404);
  g_assert_cmpuint (list_status (f, "2.21", ids[1]), ==, 200);
  g_assert_cmpuint (list_status (f, "2.21", ids[2]), ==, 200);

  /* The file holds the two, oldest first; one aged past the bound is
   * not kept at the next start. */
  nlx_test_daemon_stop (&f->daemon);
  g_assert_true (g_file_get_contents (file, &text, NULL, &error));
  g_assert_no_error (error);
  node = json_from_string (text, &error);
  g_assert_no_error (error);
  servers = json_object_get_array_member (json_node_get_object (node),
                                          "deleted_servers");
  g_assert_cmpuint (json_array_get_length (servers), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (servers, 0),
                                                  "uuid"), ==, ids[1]);
  json_object_set_string_member (json_array_get_object_element (servers, 0),
                                 "deleted_at", old_text);
  g_free (text);
  text = json_to_string (node, FALSE);
  g_assert_true (g_file_set_contents (file, text, -1, &error));
  g_assert_no_error (error);
  nlx_test_daemon_start (&f->daemon, f->config_text);
  g_assert_no_error (f->daemon.start_error);
  g_assert_cmpuint (list_status (f, "2.21", ids[0]), ==, 404);
  g_assert_cmpuint (list_status (f, "2.21", ids[1]), ==, 404);
  g_assert_cmpuint (list_status (f, "2.21", ids[2]), ==, 200);
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_summary ("The Compute API and the manager, over HTTP, on the fake "
                  "driver: a server's action history (os-instance-actions): "
                  "request ids, results, failures, microversions, paging, "
                  "restarts and the bound.");
  /* Failed operations are logged as warnings, and some tests fail them
   * on purpose. */
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/nlx/api/instance-actions/success", test_success);
  ADD ("/nlx/api/instance-actions/failure", test_failure);
  ADD ("/nlx/api/instance-actions/volumes", test_volumes);
  ADD ("/nlx/api/instance-actions/restart", test_restart);
  ADD ("/nlx/api/instance-actions/bound", test_bound);
  ADD ("/nlx/api/instance-actions/deleted", test_deleted);
  g_test_add ("/nlx/api/instance-actions/deleted-bound", Fixture, BOUND_CONFIG,
              fixture_set_up, test_deleted_bound, fixture_tear_down);
  return g_test_run ();
}
