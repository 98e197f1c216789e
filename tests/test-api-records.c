/* test-api-records.c: the Compute API and the manager, over HTTP, on the
 * fake driver: what the manager keeps of servers: records saved before a
 * change is acknowledged and off the main loop, addresses, reconciliation
 * and quarantine (the fixture: lib/nlx-api-fixture.h). */
#include "config.h"

#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>

#include "host/nlx-network.h"
#include "lib/nlx-api-fixture.h"
#include "lib/nlx-test-client.h"
#include "lib/nlx-test-daemon.h"
#include "lib/nlx-test-tools.h"

/* ---- saved before acknowledged -------------------------------------------- */

/* Makes every save of a record fail, as a full or broken filesystem
 * would, in a way root cannot bypass (chmod does not stop root): the
 * records directory moves aside and a file takes its name. */
static void
break_records (Fixture *f)
{
  g_autofree char *records = g_build_filename (f->dir, "state", "records", NULL);
  g_autofree char *aside = g_build_filename (f->dir, "records-aside", NULL);

  g_assert_cmpint (g_rename (records, aside), ==, 0);
  g_assert_true (g_file_set_contents (records, "not a directory", -1, NULL));
}

static void
repair_records (Fixture *f)
{
  g_autofree char *records = g_build_filename (f->dir, "state", "records", NULL);
  g_autofree char *aside = g_build_filename (f->dir, "records-aside", NULL);

  g_assert_cmpint (g_unlink (records), ==, 0);
  g_assert_cmpint (g_rename (aside, records), ==, 0);
}

/* With records that cannot be saved, every change a caller asks for is
 * refused with a 5xx that says why, and changes nothing, in memory or on
 * disk; before, rename answered 200, stop 202 and attach 200 while
 * nothing was saved.  The end of an operation that already ran is kept,
 * and saved once the disk allows. */
static void
test_save_failure (Fixture *f,
                   gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *id = nlx_test_create (f->session, "steadfast", "test-image",
                                         NULL);
  g_autofree char *path = g_strconcat ("/v2.1/servers/", id, NULL);
  g_autofree char *attachments = g_strconcat (path, "/os-volume_attachments",
                                              NULL);
  g_autofree char *action = g_strconcat (path, "/action", NULL);
  g_autofree char *aside = g_build_filename (f->dir, "records-aside", NULL);
  g_autofree char *record = NULL;
  g_autofree char *contents = NULL;
  g_autoptr(GHashTable) before = NULL;
  g_autoptr(GHashTable) after = NULL;
  g_autoptr(JsonNode) shown = NULL;
  g_autoptr(JsonNode) shown_after = NULL;
  g_autoptr(JsonNode) list = NULL;
  static const char * const actions[] = {
    "{\"os-stop\": null}",
    "{\"pause\": null}",
    "{\"reboot\": {\"type\": \"HARD\"}}",
    "{\"rebuild\": {\"imageRef\": \"test-image\"}}",
    "{\"createImage\": {\"name\": \"nlxtest-unsaved\"}}",
  };

  g_assert_cmpint (nlx_test_call (f->session, "POST", "/v2.1/os-volumes",
                                  "{\"volume\": {\"display_name\": \"nlxtest-vol\", "
                                  "\"size_mb\": 8}}", NULL), ==, 200);
  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  shown = nlx_test_show (f->session, id);
  break_records (f);
  before = snapshot_tree (aside);

  nlx_test_expect_fault (f->session, "PUT", path,
                         "{\"server\": {\"name\": \"renamed\"}}", 500,
                         "computeFault");
  for (guint i = 0; i < G_N_ELEMENTS (actions); i++)
    nlx_test_expect_fault (f->session, "POST", action, actions[i], 500,
                           "computeFault");
  nlx_test_expect_fault (f->session, "POST", attachments,
                         "{\"volumeAttachment\": {\"volumeId\": \"nlxtest-vol\"}}",
                         500, "computeFault");
  nlx_test_expect_fault (f->session, "DELETE", path, NULL, 500, "computeFault");
  nlx_test_expect_fault (f->session, "POST", "/v2.1/servers",
                         "{\"server\": {\"name\": \"newcomer\", \"flavorRef\": "
                         "\"m1.tiny\", \"imageRef\": \"test-image\"}}", 500,
                         "computeFault");

  /* Nothing changed: not the server the API shows, not the records. */
  shown_after = nlx_test_show (f->session, id);
  g_assert_true (json_node_equal (shown, shown_after));
  after = snapshot_tree (aside);
  assert_same_tree (before, after);
  g_assert_cmpint (nlx_test_call (f->session, "GET", "/v2.1/servers", NULL,
                                  &list), ==, 200);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (
                      json_node_get_object (list), "servers")), ==, 1);
  repair_records (f);

  /* An operation whose end cannot be saved: its outcome stays, and is
   * saved once the records can be written again. */
  g_assert_cmpint (nlx_test_act (f->session, id, "{\"os-stop\": null}"), ==, 202);
  break_records (f);
  nlx_test_wait_for_status (f->session, id, "SHUTOFF");
  repair_records (f);
  record = g_build_filename (f->dir, "state", "records", NULL);
  g_free (record);
  record = g_strdup_printf ("%s/state/records/%s.json", f->dir, id);
  for (guint i = 0; i < 100; i++)
    {
      g_clear_pointer (&contents, g_free);
      g_assert_true (g_file_get_contents (record, &contents, NULL, NULL));
      if (strstr (contents, "\"stopped\"") != NULL)
        break;
      g_usleep (50 * 1000);
    }
  g_assert_nonnull (strstr (contents, "\"stopped\""));
  g_assert_nonnull (strstr (contents, "\"task_state\" : null"));
  nlx_test_delete_and_wait (f->session, id);
}

/* A request made from a thread of its own, so that the test goes on
 * while the daemon has not answered it. */
typedef struct {
  char *socket;
  char *method;
  char *path;
  char *body;
  guint status;
  JsonNode *reply;
  gint done;
  GThread *thread;
} Pending;

static gpointer
pending_run (gpointer data)
{
  Pending *p = data;
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (p->socket);
  g_autoptr(SoupSession) session =
    soup_session_new_with_options ("remote-connectable", address, NULL);

  p->status = nlx_test_call (session, p->method, p->path, p->body, &p->reply);
  g_atomic_int_set (&p->done, TRUE);
  return NULL;
}

static Pending *
pending_start (Fixture *f,
               const char *method,
               const char *path,
               const char *body)
{
  Pending *p = g_new0 (Pending, 1);

  p->socket = g_strdup (f->socket);
  p->method = g_strdup (method);
  p->path = g_strdup (path);
  p->body = g_strdup (body);
  p->thread = g_thread_new ("request", pending_run, p);
  return p;
}

/* Its status, once answered. */
static guint
pending_finish (Pending *p)
{
  guint status;

  g_thread_join (p->thread);
  status = p->status;
  g_free (p->socket);
  g_free (p->method);
  g_free (p->path);
  g_free (p->body);
  g_clear_pointer (&p->reply, json_node_unref);
  g_free (p);
  return status;
}

/* Waits until the daemon's store has @count writes queued (the one being
 * written included). */
static void
wait_for_pending_writes (Fixture *f,
                         guint count)
{
  NlxStore *store = nlx_manager_get_store (f->daemon.manager);
  gint64 deadline = g_get_monotonic_time () + 30 * G_TIME_SPAN_SECOND;

  while (nlx_store_count_pending (store) < count &&
         g_get_monotonic_time () < deadline)
    g_usleep (5 * 1000);
  g_assert_cmpuint (nlx_store_count_pending (store), >=, count);
}

static const char *
name_of (JsonNode *server)
{
  return json_object_get_string_member (nlx_test_object_at (server, "server"),
                                        "name");
}

/* Saves run off the daemon's main loop: while one waits for the disk
 * (the store's writer held, as a disk that does not answer), the daemon
 * serves other requests, which see the server as saved, not the change
 * on its way; the change is answered only once saved.  Two changes to
 * one server land in the order asked; a save that then fails answers
 * 500 and changes nothing, nor does the change queued behind it. */
static void
test_saves_off_the_loop (Fixture *f,
                         gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *id = nlx_test_create (f->session, "patient", "test-image",
                                         NULL);
  g_autofree char *path = g_strconcat ("/v2.1/servers/", id, NULL);
  g_autofree char *action = g_strconcat (path, "/action", NULL);
  g_autofree char *record = g_strdup_printf ("%s/state/records/%s.json",
                                             f->dir, id);
  g_autofree char *aside = g_build_filename (f->dir, "records-aside", NULL);
  g_autofree char *contents = NULL;
  g_autoptr(JsonNode) shown = NULL;
  g_autoptr(JsonNode) list = NULL;
  g_autoptr(GHashTable) before = NULL;
  g_autoptr(GHashTable) after = NULL;
  NlxStore *store = nlx_manager_get_store (f->daemon.manager);
  Pending *first, *second, *stop;

  nlx_test_wait_for_status (f->session, id, "ACTIVE");

  /* Two renames and a stop while the disk does not answer. */
  nlx_store_flush (store);
  nlx_store_hold (store, TRUE);
  first = pending_start (f, "PUT", path, "{\"server\": {\"name\": \"first\"}}");
  wait_for_pending_writes (f, 1);
  second = pending_start (f, "PUT", path, "{\"server\": {\"name\": \"second\"}}");
  stop = pending_start (f, "POST", action, "{\"os-stop\": null}");
  /* Served meanwhile, and showing what is saved. */
  shown = nlx_test_show (f->session, id);
  g_assert_cmpstr (name_of (shown), ==, "patient");
  g_assert_cmpint (nlx_test_call (f->session, "GET", "/v2.1/servers/detail",
                                  NULL, &list), ==, 200);
  g_assert_false (g_atomic_int_get (&first->done));
  g_assert_true (g_file_get_contents (record, &contents, NULL, NULL));
  g_assert_nonnull (strstr (contents, "\"patient\""));
  nlx_store_hold (store, FALSE);
  g_assert_cmpuint (pending_finish (first), ==, 200);
  g_assert_cmpuint (pending_finish (second), ==, 200);
  g_assert_cmpuint (pending_finish (stop), ==, 202);
  nlx_test_wait_for_status (f->session, id, "SHUTOFF");
  g_clear_pointer (&shown, json_node_unref);
  shown = nlx_test_show (f->session, id);
  g_assert_cmpstr (name_of (shown), ==, "second");
  nlx_store_flush (store);
  g_clear_pointer (&contents, g_free);
  g_assert_true (g_file_get_contents (record, &contents, NULL, NULL));
  g_assert_nonnull (strstr (contents, "\"second\""));
  g_assert_nonnull (strstr (contents, "\"stopped\""));

  /* A save that fails, with a start queued behind it: both 500, and
   * nothing changed, in memory or on disk. */
  g_clear_pointer (&shown, json_node_unref);
  shown = nlx_test_show (f->session, id);
  nlx_store_hold (store, TRUE);
  first = pending_start (f, "PUT", path, "{\"server\": {\"name\": \"third\"}}");
  wait_for_pending_writes (f, 1);
  break_records (f);
  before = snapshot_tree (aside);
  second = pending_start (f, "POST", action, "{\"os-start\": null}");
  nlx_store_hold (store, FALSE);
  g_assert_cmpuint (pending_finish (first), ==, 500);
  g_assert_cmpuint (pending_finish (second), ==, 500);
  {
    g_autoptr(JsonNode) shown_after = nlx_test_show (f->session, id);

    g_assert_true (json_node_equal (shown, shown_after));
  }
  nlx_store_flush (store);
  after = snapshot_tree (aside);
  assert_same_tree (before, after);
  repair_records (f);

  /* And it works again once the disk does. */
  g_assert_cmpint (nlx_test_call (f->session, "PUT", path,
                                  "{\"server\": {\"name\": \"fourth\"}}",
                                  NULL), ==, 200);
  g_clear_pointer (&contents, g_free);
  g_assert_true (g_file_get_contents (record, &contents, NULL, NULL));
  g_assert_nonnull (strstr (contents, "\"fourth\""));

  /* The address allocations are written by the same writer, before the
   * new record: when they cannot be, the create answers 500 and leaves
   * no record. */
  {
    g_autofree char *network = g_build_filename (f->dir, "state", "network",
                                                 NULL);
    g_autofree char *network_aside = g_build_filename (f->dir, "network-aside",
                                                       NULL);
    g_autofree char *records = g_build_filename (f->dir, "state", "records",
                                                 NULL);
    g_autoptr(GHashTable) records_before = snapshot_tree (records);
    g_autoptr(GHashTable) records_after = NULL;
    g_autoptr(JsonNode) servers = NULL;

    g_assert_cmpint (g_rename (network, network_aside), ==, 0);
    g_assert_true (g_file_set_contents (network, "not a directory", -1, NULL));
    nlx_test_expect_fault (f->session, "POST", "/v2.1/servers",
                           "{\"server\": {\"name\": \"homeless\", "
                           "\"flavorRef\": \"m1.tiny\", \"imageRef\": "
                           "\"test-image\"}}", 500, "computeFault");
    nlx_store_flush (store);
    records_after = snapshot_tree (records);
    assert_same_tree (records_before, records_after);
    g_assert_cmpint (nlx_test_call (f->session, "GET", "/v2.1/servers", NULL,
                                    &servers), ==, 200);
    g_assert_cmpuint (json_array_get_length (json_object_get_array_member (
                        json_node_get_object (servers), "servers")), ==, 1);
    g_assert_cmpint (g_unlink (network), ==, 0);
    g_assert_cmpint (g_rename (network_aside, network), ==, 0);
  }
  nlx_test_delete_and_wait (f->session, id);
}

static const char *
status_of (JsonNode *server)
{
  return json_object_get_string_member (nlx_test_object_at (server, "server"),
                                        "status");
}

/* A build's end is shown only once it is on disk: while its save waits
 * for the disk (the store's writer held), GET shows the server in BUILD,
 * as its record on disk says, and ACTIVE once it landed; a rename asked
 * for meanwhile shows with it, once both have landed.  Before, GET
 * said ACTIVE at once, and a crash in between brought the server back
 * in ERROR ("its build was interrupted"), which test-compute's
 * guest-reboot-daemon-down met now and then.  The fake driver's spawn
 * takes [fake] delay_ms, long enough to hold the writer before it ends. */
static void
test_build_end_shown_once_saved (Fixture *f,
                                 gconstpointer data G_GNUC_UNUSED)
{
  NlxStore *store = nlx_manager_get_store (f->daemon.manager);
  g_autofree char *id = nlx_test_create (f->session, "nlxtest-durable",
                                         "test-image", NULL);
  g_autofree char *record = g_strdup_printf ("%s/state/records/%s.json",
                                             f->dir, id);
  g_autofree char *path = g_strconcat ("/v2.1/servers/", id, NULL);
  g_autofree char *contents = NULL;
  g_autoptr(JsonNode) shown = NULL;
  Pending *rename;

  nlx_store_flush (store);
  nlx_store_hold (store, TRUE);
  /* The build's end, queued behind the held writer, and a rename asked
   * for after it: both hidden until both land. */
  wait_for_pending_writes (f, 1);
  rename = pending_start (f, "PUT", path,
                          "{\"server\": {\"name\": \"nlxtest-renamed\"}}");
  wait_for_pending_writes (f, 2);
  shown = nlx_test_show (f->session, id);
  g_assert_cmpstr (status_of (shown), ==, "BUILD");
  g_assert_cmpstr (name_of (shown), ==, "nlxtest-durable");
  g_assert_true (g_file_get_contents (record, &contents, NULL, NULL));
  g_assert_nonnull (strstr (contents, "\"task_state\" : \"spawning\""));

  nlx_store_hold (store, FALSE);
  g_assert_cmpuint (pending_finish (rename), ==, 200);
  g_clear_pointer (&shown, json_node_unref);
  shown = nlx_test_show (f->session, id);
  g_assert_cmpstr (status_of (shown), ==, "ACTIVE");
  g_assert_cmpstr (name_of (shown), ==, "nlxtest-renamed");
  g_clear_pointer (&contents, g_free);
  g_assert_true (g_file_get_contents (record, &contents, NULL, NULL));
  g_assert_nonnull (strstr (contents, "\"vm_state\" : \"active\""));
  g_assert_nonnull (strstr (contents, "\"task_state\" : null"));
  g_assert_nonnull (strstr (contents, "\"nlxtest-renamed\""));
  nlx_test_delete_and_wait (f->session, id);
}

#define BRIDGE "nlxtestbr0"

/* The one address of @id's "addresses", checked against GET .../ips. */
static char *
address_of (Fixture *f,
            const char *id)
{
  g_autoptr(JsonNode) reply = nlx_test_show (f->session, id);
  g_autoptr(JsonNode) ips = NULL;
  g_autoptr(JsonNode) one = NULL;
  g_autoptr(JsonNode) one_plain = NULL;
  g_autofree char *plain_text = NULL;
  g_autofree char *path = g_strdup_printf ("/v2.1/servers/%s/ips", id);
  g_autofree char *network_path = g_strdup_printf ("/v2.1/servers/%s/ips/%s",
                                                   id, BRIDGE);
  JsonObject *addresses = json_object_get_object_member (
    nlx_test_object_at (reply, "server"), "addresses");
  JsonArray *list = json_object_get_array_member (addresses, BRIDGE);
  JsonObject *entry;
  g_autofree char *mac = NULL;
  guint a, b, c, d;

  g_assert_cmpuint (json_object_get_size (addresses), ==, 1);
  g_assert_cmpuint (json_array_get_length (list), ==, 1);
  entry = json_array_get_object_element (list, 0);
  g_assert_cmpint (json_object_get_int_member (entry, "version"), ==, 4);
  g_assert_cmpstr (json_object_get_string_member (entry, "OS-EXT-IPS:type"), ==,
                   "fixed");
  g_assert_cmpint (sscanf (json_object_get_string_member (entry, "addr"),
                           "%u.%u.%u.%u", &a, &b, &c, &d), ==, 4);
  mac = g_strdup_printf ("fa:16:3e:%02x:%02x:%02x", b, c, d);
  g_assert_cmpstr (json_object_get_string_member (entry, "OS-EXT-IPS-MAC:mac_addr"),
                   ==, mac);

  /* /ips has Nova's plain form: version and addr only (tempest's
   * list_addresses schema allows no more). */
  plain_text = g_strdup_printf ("{\"addresses\": {\"" BRIDGE "\": [{\"version\": 4, "
                                "\"addr\": \"%s\"}]}}",
                                json_object_get_string_member (entry, "addr"));
  one_plain = json_from_string (plain_text, NULL);
  g_assert_cmpint (nlx_test_call (f->session, "GET", path, NULL, &ips), ==, 200);
  g_assert_true (json_node_equal (json_object_get_member (json_node_get_object (ips),
                                                          "addresses"),
                                  json_object_get_member (json_node_get_object (one_plain),
                                                          "addresses")));
  g_assert_cmpint (nlx_test_call (f->session, "GET", network_path, NULL, &one), ==, 200);
  g_assert_true (json_node_equal (json_object_get_member (json_node_get_object (one), BRIDGE),
                                  json_object_get_member (json_object_get_object_member (
                                    json_node_get_object (one_plain), "addresses"),
                                                          BRIDGE)));
  return g_strdup (json_object_get_string_member (entry, "addr"));
}

/* The inode of each record in @dir: a save writes a new file and
 * renames it over the old one. */
static GHashTable *
record_inodes (const char *dir)
{
  GHashTable *inodes = g_hash_table_new_full (g_str_hash, g_str_equal,
                                              g_free, NULL);
  g_autoptr(GDir) handle = g_dir_open (dir, 0, NULL);
  const char *name;

  g_assert_nonnull (handle);
  while ((name = g_dir_read_name (handle)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      GStatBuf st;

      if (!g_str_has_suffix (name, ".json"))
        continue;
      g_assert_cmpint (g_stat (path, &st), ==, 0);
      g_hash_table_insert (inodes, g_strdup (name),
                           GSIZE_TO_POINTER ((gsize) st.st_ino));
    }
  return inodes;
}

/* A restart that finds every server as its record says writes no record
 * again (the reconciliation saves each one, and a save of what the disk
 * holds writes nothing); a change after it is written as ever. */
static void
test_unchanged_restart (Fixture *f,
                        gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *records = g_build_filename (f->dir, "state", "records", NULL);
  g_autofree char *a = nlx_test_create (f->session, "still-a", "test-image",
                                        NULL);
  g_autofree char *b = nlx_test_create (f->session, "still-b", "test-image",
                                        NULL);
  g_autofree char *path = g_strconcat ("/v2.1/servers/", a, NULL);
  g_autoptr(GHashTable) before = NULL;
  g_autoptr(GHashTable) after = NULL;
  g_autofree char *file_a = g_strconcat (a, ".json", NULL);
  g_autofree char *file_b = g_strconcat (b, ".json", NULL);

  nlx_test_wait_for_status (f->session, a, "ACTIVE");
  nlx_test_wait_for_status (f->session, b, "ACTIVE");
  nlx_store_flush (nlx_manager_get_store (f->daemon.manager));
  before = record_inodes (records);
  g_assert_cmpuint (g_hash_table_size (before), ==, 2);

  nlx_test_daemon_stop (&f->daemon);
  nlx_test_daemon_start (&f->daemon, f->config_text);
  g_assert_no_error (f->daemon.start_error);
  nlx_test_wait_for_status (f->session, a, "ACTIVE");
  nlx_store_flush (nlx_manager_get_store (f->daemon.manager));
  after = record_inodes (records);
  g_assert_true (g_hash_table_lookup (after, file_a) ==
                 g_hash_table_lookup (before, file_a));
  g_assert_true (g_hash_table_lookup (after, file_b) ==
                 g_hash_table_lookup (before, file_b));

  g_assert_cmpint (nlx_test_call (f->session, "PUT", path,
                                  "{\"server\": {\"name\": \"moved-a\"}}",
                                  NULL), ==, 200);
  g_clear_pointer (&after, g_hash_table_unref);
  after = record_inodes (records);
  g_assert_true (g_hash_table_lookup (after, file_a) !=
                 g_hash_table_lookup (before, file_a));
  g_assert_true (g_hash_table_lookup (after, file_b) ==
                 g_hash_table_lookup (before, file_b));
  nlx_test_delete_and_wait (f->session, a);
  nlx_test_delete_and_wait (f->session, b);
}

/* A /29 holds five addresses for instances: each server gets its own,
 * keeps it across a restart, and gives it back when deleted. */
static void
test_addresses (Fixture *f,
                gconstpointer data G_GNUC_UNUSED)
{
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                      g_free, NULL);
  g_autofree char *first_address = NULL;
  g_autofree char *again = NULL;
  g_autofree char *reused = NULL;
  g_autofree char *path = NULL;
  g_autofree char *records = g_build_filename (f->dir, "state", "records", NULL);
  for (guint i = 0; i < 5; i++)
    {
      g_autofree char *name = g_strdup_printf ("net-%u", i);
      char *id = nlx_test_create (f->session, name, "test-image", NULL);
      char *address = address_of (f, id);

      g_assert_true (g_str_has_prefix (address, "10.251.200."));
      g_assert_cmpstr (address, !=, "10.251.200.1");   /* the gateway */
      g_assert_false (g_hash_table_contains (seen, address));
      g_hash_table_add (seen, address);
      g_ptr_array_add (ids, id);
    }
  first_address = address_of (f, ids->pdata[0]);
  g_assert_cmpstr (first_address, ==, "10.251.200.2");

  /* Full: refused with the reason, and no record left behind. */
  nlx_test_expect_fault (f->session, "POST", "/v2.1/servers",
                         "{\"server\": {\"name\": \"one-too-many\", "
                         "\"flavorRef\": \"m1.tiny\", \"imageRef\": "
                         "\"test-image\"}}", 409, "conflictingRequest");
  {
    g_autoptr(GDir) dir = g_dir_open (records, 0, NULL);
    guint count = 0;

    while (g_dir_read_name (dir) != NULL)
      count++;
    g_assert_cmpuint (count, ==, ids->len);
  }

  path = g_strdup_printf ("/v2.1/servers/%s/ips/no-such-net",
                          (char *) ids->pdata[0]);
  nlx_test_expect_fault (f->session, "GET", path, NULL, 404, "itemNotFound");
  nlx_test_expect_fault (f->session, "POST", path, NULL, 405, "badMethod");

  for (guint i = 0; i < ids->len; i++)
    nlx_test_wait_for_status (f->session, ids->pdata[i], "ACTIVE");
  nlx_test_daemon_stop (&f->daemon);
  nlx_test_daemon_start (&f->daemon, f->config_text);
  g_assert_no_error (f->daemon.start_error);
  again = address_of (f, ids->pdata[0]);
  g_assert_cmpstr (again, ==, first_address);

  /* Deleted, its address is free again, and only then. */
  for (guint i = 0; i < ids->len; i++)
    nlx_test_delete_and_wait (f->session, ids->pdata[i]);
  g_ptr_array_set_size (ids, 0);

  /* An address a crash left without a record is released at start. */
  nlx_test_daemon_stop (&f->daemon);
  {
    g_autoptr(NlxConfig) config = nlx_config_new_from_data (f->config_text, NULL);
    g_autoptr(NlxNetworkSettings) settings =
      nlx_network_settings_new (config->keyfile, NULL);
    g_autoptr(NlxIpam) ipam = nlx_ipam_open (settings, settings->addresses_path,
                                             NULL);
    g_autofree char *orphan = nlx_ipam_allocate (ipam, "7e57d000-0000-4000-8000-0000000000ff",
                                                 NULL);

    g_assert_cmpstr (orphan, ==, "10.251.200.2");
  }
  nlx_test_daemon_start (&f->daemon, f->config_text);
  g_assert_no_error (f->daemon.start_error);
  g_ptr_array_add (ids, nlx_test_create (f->session, "net-again", "test-image",
                                         NULL));
  reused = address_of (f, ids->pdata[0]);
  g_assert_cmpstr (reused, ==, "10.251.200.2");
  nlx_test_wait_for_status (f->session, ids->pdata[0], "ACTIVE");
  nlx_test_delete_and_wait (f->session, ids->pdata[0]);
}

/* A deleted server leaves the API when its record has left the disk,
 * and its address with it: held while the record's delete waits for the
 * disk (the store's writer held), free as soon as the server answers
 * 404.  Before, the server answered 404 while its record was still on
 * disk and its address held, and the next server got another one. */
static void
test_delete_frees_address (Fixture *f,
                           gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *id = nlx_test_create (f->session, "leaving", "test-image",
                                         NULL);
  g_autofree char *path = g_strconcat ("/v2.1/servers/", id, NULL);
  g_autofree char *record = g_strdup_printf ("%s/state/records/%s.json",
                                             f->dir, id);
  g_autofree char *address = NULL;
  g_autofree char *next = NULL;
  g_autofree char *next_address = NULL;
  NlxStore *store = nlx_manager_get_store (f->daemon.manager);
  gint64 deadline;

  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  address = address_of (f, id);
  g_assert_cmpint (nlx_test_call (f->session, "DELETE", path, NULL, NULL), ==,
                   204);
  nlx_store_flush (store);
  /* The delete runs ([fake] delay_ms); its end queues the record's
   * removal, which waits. */
  nlx_store_hold (store, TRUE);
  wait_for_pending_writes (f, 1);
  g_assert_cmpint (nlx_test_call (f->session, "GET", path, NULL, NULL), ==,
                   200);
  g_assert_true (g_file_test (record, G_FILE_TEST_EXISTS));
  nlx_store_hold (store, FALSE);

  deadline = g_get_monotonic_time () + 30 * G_TIME_SPAN_SECOND;
  while (nlx_test_call (f->session, "GET", path, NULL, NULL) != 404)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (10 * 1000);
    }
  g_assert_false (g_file_test (record, G_FILE_TEST_EXISTS));
  next = nlx_test_create (f->session, "arriving", "test-image", NULL);
  next_address = address_of (f, next);
  g_assert_cmpstr (next_address, ==, address);
  nlx_test_wait_for_status (f->session, next, "ACTIVE");
  nlx_test_delete_and_wait (f->session, next);
}

/* ---- reconciliation and quarantine ---------------------------------------- */

/* Rewrites @id's record on disk with @member set to @value. */
static void
edit_record (Fixture *f,
             const char *id,
             const char *member,
             const char *value)
{
  g_autofree char *path = g_strdup_printf ("%s/state/records/%s.json", f->dir, id);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  g_assert_true (json_parser_load_from_file (parser, path, &error));
  json_object_set_string_member (json_node_get_object (json_parser_get_root (parser)),
                                 member, value);
  text = json_to_string (json_parser_get_root (parser), TRUE);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
}

/* A record that says "spawning" while the domain runs (the end of the
 * build could not be saved) leaves the domain alone: before, the restart
 * destroyed the running container on the strength of the record. */
static void
test_stale_build_record (Fixture *f,
                         gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *id = nlx_test_create (f->session, "kept", "test-image", NULL);
  g_autoptr(JsonNode) reply = NULL;
  JsonObject *server;

  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  nlx_test_daemon_stop (&f->daemon);
  edit_record (f, id, "vm_state", "building");
  edit_record (f, id, "task_state", "spawning");
  nlx_test_daemon_start (&f->daemon, f->config_text);
  g_assert_no_error (f->daemon.start_error);

  reply = nlx_test_show (f->session, id);
  server = nlx_test_object_at (reply, "server");
  g_assert_cmpstr (json_object_get_string_member (server, "status"), ==, "ERROR");
  /* Still running, and said so. */
  g_assert_cmpint (json_object_get_int_member (server, "OS-EXT-STS:power_state"), ==, 1);
  g_assert_nonnull (strstr (json_object_get_string_member (
                              json_object_get_object_member (server, "fault"),
                              "message"), "left alone"));
  /* A hard reboot makes it ACTIVE: the container was never removed. */
  nlx_test_act_and_wait (f->session, id, "{\"reboot\": {\"type\": \"HARD\"}}",
                         NULL, "ACTIVE");
  nlx_test_delete_and_wait (f->session, id);
}

/* An unreadable record is moved into quarantine, its server left running
 * and its address kept; addresses.json deleted is rebuilt from records
 * and running domains; temporaries of interrupted saves are removed.
 * Before, the next server got the address of the running orphan, and
 * with addresses.json gone that of a live server. */
static void
test_quarantine_and_addresses (Fixture *f,
                               gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *orphan = nlx_test_create (f->session, "orphan", "test-image", NULL);
  g_autofree char *kept = nlx_test_create (f->session, "kept", "test-image", NULL);
  g_autofree char *orphan_address = address_of (f, orphan);
  g_autofree char *kept_address = address_of (f, kept);
  g_autofree char *record = g_strdup_printf ("%s/state/records/%s.json", f->dir, orphan);
  g_autofree char *moved = g_strdup_printf ("%s/state/records/quarantine/%s.json",
                                            f->dir, orphan);
  g_autofree char *addresses = g_build_filename (f->dir, "state", "network",
                                                 "addresses.json", NULL);
  g_autofree char *tmp_record = g_strdup_printf ("%s/state/records/%s.json.Ab12Cd",
                                                 f->dir, kept);
  g_autofree char *tmp_addresses = g_strconcat (addresses, ".xY34zW", NULL);
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(JsonNode) list = NULL;
  g_autofree char *contents = NULL;

  nlx_test_wait_for_status (f->session, orphan, "ACTIVE");
  nlx_test_wait_for_status (f->session, kept, "ACTIVE");

  /* addresses.json lost: rebuilt from the records. */
  nlx_test_daemon_stop (&f->daemon);
  g_assert_cmpint (g_unlink (addresses), ==, 0);
  nlx_test_daemon_start (&f->daemon, f->config_text);
  g_assert_no_error (f->daemon.start_error);
  {
    char *id = nlx_test_create (f->session, "first-newcomer", "test-image", NULL);
    g_autofree char *address = address_of (f, id);

    g_ptr_array_add (ids, id);
    g_assert_cmpstr (address, !=, orphan_address);
    g_assert_cmpstr (address, !=, kept_address);
    nlx_test_wait_for_status (f->session, id, "ACTIVE");
  }

  /* A record damaged and addresses.json lost again: the running domain
   * still holds its address. */
  nlx_test_daemon_stop (&f->daemon);
  g_assert_true (g_file_set_contents (record, "{\"instance\": {\"uuid\": ", -1, NULL));
  g_assert_cmpint (g_unlink (addresses), ==, 0);
  g_assert_true (g_file_set_contents (tmp_record, "{", -1, NULL));
  g_assert_true (g_file_set_contents (tmp_addresses, "{", -1, NULL));
  nlx_test_daemon_start (&f->daemon, f->config_text);
  g_assert_no_error (f->daemon.start_error);

  /* Quarantined with its bytes, not forgotten; temporaries gone. */
  g_assert_false (g_file_test (record, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_get_contents (moved, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "{\"instance\": {\"uuid\": ");
  g_assert_false (g_file_test (tmp_record, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (tmp_addresses, G_FILE_TEST_EXISTS));
  g_assert_cmpint (nlx_test_call (f->session, "GET", "/v2.1/servers", NULL,
                                  &list), ==, 200);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (
                      json_node_get_object (list), "servers")), ==, 2);

  /* The kept server keeps its address, and no new server gets one a
   * running domain holds. */
  {
    g_autofree char *again = address_of (f, kept);

    g_assert_cmpstr (again, ==, kept_address);
  }
  for (guint i = 0; i < 1; i++)
    {
      g_autofree char *name = g_strdup_printf ("newcomer-%u", i);
      char *id = nlx_test_create (f->session, name, "test-image", NULL);
      g_autofree char *address = address_of (f, id);

      g_assert_cmpstr (address, !=, orphan_address);
      g_assert_cmpstr (address, !=, kept_address);
      for (guint j = 0; j < ids->len; j++)
        {
          g_autofree char *other = address_of (f, ids->pdata[j]);

          g_assert_cmpstr (address, !=, other);
        }
      g_ptr_array_add (ids, id);
      nlx_test_wait_for_status (f->session, id, "ACTIVE");
    }
  /* And the same at the next start, from the quarantine. */
  nlx_test_daemon_stop (&f->daemon);
  nlx_test_daemon_start (&f->daemon, f->config_text);
  g_assert_no_error (f->daemon.start_error);
  {
    g_autofree char *id = nlx_test_create (f->session, "late", "test-image", NULL);
    g_autofree char *address = address_of (f, id);

    g_ptr_array_add (ids, g_strdup (id));
    g_assert_cmpstr (address, !=, orphan_address);
  }

  g_ptr_array_add (ids, g_strdup (kept));
  for (guint i = 0; i < ids->len; i++)
    {
      nlx_test_wait_for_status (f->session, ids->pdata[i], "ACTIVE");
      nlx_test_delete_and_wait (f->session, ids->pdata[i]);
    }
  /* The orphan's domain, which the daemon left alone. */
  nlx_test_daemon_stop (&f->daemon);
  {
    g_autoptr(NlxConfig) config = nlx_config_new_from_data (f->config_text, NULL);
    g_autoptr(NlxVirt) virt = nlx_virt_open ("fake", config->keyfile, NULL);

    g_assert_true (nlx_virt_destroy (virt, orphan, NULL));
  }
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_summary ("The Compute API and the manager, over HTTP, on the fake "
                  "driver: what the manager keeps of servers: records saved "
                  "before a change is acknowledged and off the main loop, "
                  "addresses, reconciliation and quarantine.");
  /* Failed operations are logged as warnings, and some tests fail them
   * on purpose. */
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR);

#define ADD(path, func, config) \
  g_test_add (path, Fixture, config, fixture_set_up, func, fixture_tear_down)
  ADD ("/nlx/api/servers/save-failure", test_save_failure, NULL);
  ADD ("/nlx/api/servers/saves-off-the-loop", test_saves_off_the_loop, NULL);
  ADD ("/nlx/api/servers/build-end-shown-once-saved",
       test_build_end_shown_once_saved, "[fake]\ndelay_ms = 1000\n");
  ADD ("/nlx/api/servers/delete-frees-address", test_delete_frees_address,
       "[network]\nbridge = " BRIDGE "\ncidr = 10.251.200.0/29\n");
  ADD ("/nlx/api/servers/addresses", test_addresses,
       "[network]\nbridge = " BRIDGE "\ncidr = 10.251.200.0/29\n");
  ADD ("/nlx/api/servers/unchanged-restart", test_unchanged_restart,
       "[fake]\nshared = unchanged-restart\n");
  ADD ("/nlx/api/servers/stale-build-record", test_stale_build_record,
       "[fake]\nshared = stale-build-record\n");
  ADD ("/nlx/api/servers/quarantine-and-addresses", test_quarantine_and_addresses,
       "[fake]\nshared = quarantine-and-addresses\n"
       "[network]\nbridge = " BRIDGE "\ncidr = 10.251.200.0/29\n");
#undef ADD

  return g_test_run ();
}
