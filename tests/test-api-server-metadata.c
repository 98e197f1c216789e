/* test-api-server-metadata.c: the Compute API on the fake driver: a
 * server's metadata items (/servers/{id}/metadata[/{key}]) with Nova's
 * semantics, limits and errors (the fixture: lib/nlx-api-fixture.h). */
#include "config.h"

#include "lib/nlx-api-fixture.h"
#include "lib/nlx-test-client.h"
#include "lib/nlx-test-daemon.h"
#include "lib/nlx-test-tools.h"

/* The items @path answers under @member, as "k=v,k=v" sorted by key. */
static char *
items_at (Fixture *f,
          const char *path,
          const char *member)
{
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(GList) keys = NULL;
  g_autoptr(GString) text = g_string_new (NULL);
  JsonObject *items;

  g_assert_cmpint (nlx_test_call (f->session, "GET", path, NULL, &reply), ==, 200);
  items = nlx_test_object_at (reply, member);
  keys = g_list_sort (json_object_get_members (items), (GCompareFunc) g_strcmp0);
  for (GList *l = keys; l != NULL; l = l->next)
    g_string_append_printf (text, "%s%s=%s", text->len ? "," : "",
                            (char *) l->data,
                            json_object_get_string_member (items, l->data));
  return g_string_free (g_steal_pointer (&text), FALSE);
}

static char *
items_of_reply (JsonNode *reply,
                const char *member)
{
  g_autoptr(GList) keys = NULL;
  GString *text = g_string_new (NULL);
  JsonObject *items = nlx_test_object_at (reply, member);

  keys = g_list_sort (json_object_get_members (items), (GCompareFunc) g_strcmp0);
  for (GList *l = keys; l != NULL; l = l->next)
    g_string_append_printf (text, "%s%s=%s", text->len ? "," : "",
                            (char *) l->data,
                            json_object_get_string_member (items, l->data));
  return g_string_free (text, FALSE);
}

static void
expect_items (Fixture *f,
              const char *method,
              const char *path,
              const char *body,
              const char *member,
              const char *expected)
{
  g_autoptr(JsonNode) reply = NULL;
  g_autofree char *items = NULL;

  g_assert_cmpint (nlx_test_call (f->session, method, path, body, &reply), ==, 200);
  items = items_of_reply (reply, member);
  g_assert_cmpstr (items, ==, expected);
}

static char *
many_items (guint count)
{
  GString *body = g_string_new ("{\"metadata\": {");

  for (guint i = 0; i < count; i++)
    g_string_append_printf (body, "%s\"k%u\": \"v\"", i ? ", " : "", i);
  g_string_append (body, "}}");
  return g_string_free (body, FALSE);
}

static void
test_metadata (Fixture *f,
               gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *id = nlx_test_create (f->session, "meta", "test-image",
                                         ", \"metadata\": {\"a\": \"1\"}");
  g_autofree char *path = g_strconcat ("/v2.1/servers/", id, "/metadata", NULL);
  g_autofree char *item_c = g_strconcat (path, "/c", NULL);
  g_autofree char *item_d = g_strconcat (path, "/d", NULL);
  g_autofree char *item_a = g_strconcat (path, "/a", NULL);
  g_autofree char *item_k0 = g_strconcat (path, "/k0", NULL);
  g_autofree char *items = NULL;
  g_autofree char *too_many = many_items (129);
  g_autofree char *most = many_items (128);
  g_autoptr(JsonNode) server = NULL;
  g_autoptr(JsonNode) reply = NULL;
  static const char * const bad_items[] = {
    "{\"meta\": {\"e\": \"4\"}}",                /* not the path's key */
    "{\"meta\": {\"d\": \"1\", \"e\": \"2\"}}",  /* more than one */
    "{\"meta\": {\"d\": 5}}",
    "{\"meta\": {\"d\": \"\"}}",
    "{\"metadata\": {\"d\": \"4\"}}",
    "{\"meta\": []}",
    "[]",
  };

  /* Nova's task_state=None: not while it is being built. */
  nlx_test_expect_fault (f->session, "POST", path, "{\"metadata\": {\"b\": \"2\"}}",
                         409, "conflictingRequest");
  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  items = items_at (f, path, "metadata");
  g_assert_cmpstr (items, ==, "a=1");

  /* POST merges, PUT replaces; each answers all the items. */
  expect_items (f, "POST", path, "{\"metadata\": {\"b\": \"2\", \"a\": \"one\"}}",
                "metadata", "a=one,b=2");
  expect_items (f, "PUT", path, "{\"metadata\": {\"c\": \"3\"}}", "metadata", "c=3");
  expect_items (f, "GET", item_c, NULL, "meta", "c=3");
  nlx_test_expect_fault (f->session, "GET", item_a, NULL, 404, "itemNotFound");
  expect_items (f, "PUT", item_d, "{\"meta\": {\"d\": \"4\"}}", "meta", "d=4");
  expect_items (f, "PUT", item_d, "{\"meta\": {\"d\": \"four\"}}", "meta", "d=four");

  /* Bad requests change nothing. */
  for (gsize i = 0; i < G_N_ELEMENTS (bad_items); i++)
    nlx_test_expect_fault (f->session, "PUT", item_d, bad_items[i], 400, "badRequest");
  nlx_test_expect_fault (f->session, "POST", path, "{\"metadata\": {\"x\": 1}}",
                         400, "badRequest");
  nlx_test_expect_fault (f->session, "PUT", path, "{\"meta\": {}}", 400, "badRequest");
  nlx_test_expect_fault (f->session, "PUT", path, too_many, 403, "forbidden");
  g_clear_pointer (&items, g_free);
  items = items_at (f, path, "metadata");
  g_assert_cmpstr (items, ==, "c=3,d=four");

  /* The server shows what was saved. */
  server = nlx_test_show (f->session, id);
  g_assert_cmpstr (json_object_get_string_member (
                     json_object_get_object_member (nlx_test_object_at (server, "server"),
                                                    "metadata"), "d"), ==, "four");

  g_assert_cmpint (nlx_test_call (f->session, "DELETE", item_d, NULL, NULL), ==, 204);
  nlx_test_expect_fault (f->session, "DELETE", item_d, NULL, 404, "itemNotFound");
  g_clear_pointer (&items, g_free);
  items = items_at (f, path, "metadata");
  g_assert_cmpstr (items, ==, "c=3");

  /* Nova's limit (its default metadata_items quota, 128) counts the
   * items the server would have. */
  g_assert_cmpint (nlx_test_call (f->session, "PUT", path, most, &reply), ==, 200);
  nlx_test_expect_fault (f->session, "PUT", item_d, "{\"meta\": {\"d\": \"x\"}}",
                         403, "forbidden");
  expect_items (f, "PUT", item_k0, "{\"meta\": {\"k0\": \"x\"}}", "meta", "k0=x");

  nlx_test_expect_fault (f->session, "GET",
                         "/v2.1/servers/9f2d1c1e-0000-4000-8000-000000000000/metadata",
                         NULL, 404, "itemNotFound");
  nlx_test_expect_fault (f->session, "DELETE",
                         "/v2.1/servers/9f2d1c1e-0000-4000-8000-000000000000/metadata/a",
                         NULL, 404, "itemNotFound");
  nlx_test_expect_fault (f->session, "PATCH", path, NULL, 405, "badMethod");
  nlx_test_delete_and_wait (f->session, id);
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_summary ("The Compute API on the fake driver: a server's metadata "
                  "items, with Nova's semantics, limits and errors.");
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR);
  g_test_add ("/nlx/api/server-metadata", Fixture, NULL, fixture_set_up,
              test_metadata, fixture_tear_down);
  return g_test_run ();
}
