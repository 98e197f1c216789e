/* test-store.c: instance records and their durable store */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "common/nlx-error.h"
#include "common/nlx-file.h"
#include "common/nlx-json.h"
#include "compute/nlx-store.h"

static NlxRecord *
make_record (const char *uuid)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *json = g_strdup_printf (
    "{\"uuid\": \"%s\", \"name\": \"r\", \"flavor\": {\"name\": \"f\","
    " \"vcpus\": 1, \"memory_mb\": 64, \"root_gb\": 0}, \"image_ref\": \"i\","
    " \"user_id\": \"u\", \"project_id\": \"p\"}", uuid);
  NlxInstance *instance = nlx_instance_new_from_data (json, -1, &error);

  g_assert_no_error (error);
  return nlx_record_new (instance);
}

static void
test_status (void)
{
  static const struct {
    NlxVmState vm;
    NlxTaskState task;
    const char *status;
  } cases[] = {
    { NLX_VM_STATE_BUILDING, NLX_TASK_STATE_SPAWNING, "BUILD" },
    { NLX_VM_STATE_ACTIVE, NLX_TASK_STATE_NONE, "ACTIVE" },
    { NLX_VM_STATE_ACTIVE, NLX_TASK_STATE_REBOOTING, "REBOOT" },
    { NLX_VM_STATE_ACTIVE, NLX_TASK_STATE_REBOOTING_HARD, "HARD_REBOOT" },
    { NLX_VM_STATE_ACTIVE, NLX_TASK_STATE_POWERING_OFF, "ACTIVE" },
    { NLX_VM_STATE_ACTIVE, NLX_TASK_STATE_DELETING, "ACTIVE" },
    { NLX_VM_STATE_STOPPED, NLX_TASK_STATE_NONE, "SHUTOFF" },
    { NLX_VM_STATE_STOPPED, NLX_TASK_STATE_POWERING_ON, "SHUTOFF" },
    { NLX_VM_STATE_PAUSED, NLX_TASK_STATE_NONE, "PAUSED" },
    { NLX_VM_STATE_ERROR, NLX_TASK_STATE_NONE, "ERROR" },
    { NLX_VM_STATE_DELETED, NLX_TASK_STATE_NONE, "DELETED" },
  };
  g_autoptr(NlxRecord) record = make_record ("7e57d000-0000-4000-8000-00000000000a");

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      record->vm_state = cases[i].vm;
      record->task_state = cases[i].task;
      g_assert_cmpstr (nlx_record_status (record), ==, cases[i].status);
    }
}

static void
test_round_trip (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("nlx-test-store-XXXXXX", &error);
  g_autoptr(NlxStore) store = nlx_store_open (dir, &error);
  g_autoptr(NlxRecord) a = make_record ("7e57d000-0000-4000-8000-00000000000a");
  g_autoptr(NlxRecord) b = make_record ("7e57d000-0000-4000-8000-00000000000b");
  g_autoptr(GPtrArray) loaded = NULL;

  g_assert_no_error (error);
  a->vm_state = NLX_VM_STATE_ERROR;
  a->power_state = NLX_POWER_STATE_SHUTDOWN;
  a->fault = g_strdup ("spawn failed: no init");
  b->vm_state = NLX_VM_STATE_ACTIVE;
  b->task_state = NLX_TASK_STATE_REBOOTING_HARD;
  g_assert_true (nlx_store_save (store, a, &error));
  g_assert_true (nlx_store_save (store, b, &error));
  /* Saving again replaces. */
  b->power_state = NLX_POWER_STATE_RUNNING;
  g_assert_true (nlx_store_save (store, b, &error));
  g_assert_no_error (error);

  loaded = nlx_store_load_all (store, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (loaded->len, ==, 2);
  for (guint i = 0; i < loaded->len; i++)
    {
      NlxRecord *r = loaded->pdata[i];
      NlxRecord *original = g_str_equal (r->instance->uuid, a->instance->uuid) ? a : b;

      g_assert_cmpint (r->vm_state, ==, original->vm_state);
      g_assert_cmpint (r->task_state, ==, original->task_state);
      g_assert_cmpint (r->power_state, ==, original->power_state);
      g_assert_cmpstr (r->fault, ==, original->fault);
      g_assert_true (g_date_time_equal (r->updated_at, original->updated_at));
    }

  g_assert_true (nlx_store_delete (store, a->instance->uuid, &error));
  g_assert_true (nlx_store_delete (store, a->instance->uuid, &error));
  g_assert_no_error (error);
  g_clear_pointer (&loaded, g_ptr_array_unref);
  loaded = nlx_store_load_all (store, NULL, &error);
  g_assert_cmpuint (loaded->len, ==, 1);

  nlx_file_remove_tree (dir, &error);
  g_assert_no_error (error);
}

/* One unreadable record must neither stop the host nor be lost: it is
 * moved into quarantine with its reason, and reported, then and at every
 * later load; temporaries of interrupted saves are removed. */
static void
test_unreadable (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("nlx-test-store-XXXXXX", &error);
  g_autoptr(NlxStore) store = nlx_store_open (dir, &error);
  g_autoptr(NlxRecord) good = make_record ("7e57d000-0000-4000-8000-00000000000c");
  g_autoptr(NlxRecord) other = make_record ("7e57d000-0000-4000-8000-00000000000f");
  g_autofree char *bad = g_build_filename (dir, "7e57d000-0000-4000-8000-00000000000d.json", NULL);
  g_autofree char *moved = g_build_filename (dir, "quarantine",
                                             "7e57d000-0000-4000-8000-00000000000d.json", NULL);
  g_autofree char *reason = g_strconcat (moved, ".reason", NULL);
  g_autofree char *tmp = g_build_filename (dir, "7e57d000-0000-4000-8000-00000000000e.json.AB12CD", NULL);
  g_autofree char *misnamed = g_build_filename (dir, "7e57d000-0000-4000-8000-0000000000aa.json", NULL);
  g_autofree char *other_path = g_build_filename (dir, "7e57d000-0000-4000-8000-00000000000f.json", NULL);
  g_autofree char *contents = NULL;
  g_autoptr(GPtrArray) loaded = NULL;
  g_autoptr(GPtrArray) quarantined = NULL;

  g_assert_true (nlx_store_save (store, good, &error));
  g_assert_true (g_file_set_contents (bad, "{\"instance\": {\"uuid\": 3}}", -1, NULL));
  g_assert_true (g_file_set_contents (tmp, "{half", -1, NULL));
  /* A record under another instance's name. */
  g_assert_true (nlx_store_save (store, other, &error));
  g_assert_cmpint (g_rename (other_path, misnamed), ==, 0);

  g_test_expect_message ("nova-lxc", G_LOG_LEVEL_MESSAGE,
                         "*Removed*00000000000e.json.AB12CD*");
  g_test_expect_message ("nova-lxc", G_LOG_LEVEL_WARNING,
                         "*Unreadable instance record*0000000000*.json*moved to*quarantine*");
  g_test_expect_message ("nova-lxc", G_LOG_LEVEL_WARNING,
                         "*Unreadable instance record*0000000000*.json*moved to*quarantine*");
  loaded = nlx_store_load_all (store, &quarantined, &error);
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  g_assert_cmpuint (loaded->len, ==, 1);
  g_assert_cmpuint (quarantined->len, ==, 2);
  g_assert_true (g_ptr_array_find_with_equal_func (quarantined,
                                                   "7e57d000-0000-4000-8000-00000000000d",
                                                   g_str_equal, NULL));
  g_assert_false (g_file_test (bad, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (tmp, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_get_contents (moved, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "{\"instance\": {\"uuid\": 3}}");
  g_assert_true (g_file_test (reason, G_FILE_TEST_IS_REGULAR));

  /* Still reported at the next load, without a new warning. */
  g_clear_pointer (&loaded, g_ptr_array_unref);
  g_clear_pointer (&quarantined, g_ptr_array_unref);
  loaded = nlx_store_load_all (store, &quarantined, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (loaded->len, ==, 1);
  g_assert_cmpuint (quarantined->len, ==, 2);

  nlx_file_remove_tree (dir, &error);
  g_assert_no_error (error);
}

/* The API checks what users give, but the store is the last line: a record
 * the loader would refuse (its server would vanish at the next start) is
 * not written at all. */
static void
test_refuses_unreadable (void)
{
  static const char * const names[] = {
    "a\x01" "b",                /* a control character */
    "a\xed\xa0\x80" "b",       /* what json-glib makes of "a\ud800b" */
    "a\xff",
  };
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("nlx-test-store-XXXXXX", &error);
  g_autoptr(NlxStore) store = nlx_store_open (dir, &error);
  g_autoptr(NlxRecord) record = make_record ("7e57d000-0000-4000-8000-00000000000f");
  g_autofree char *path = g_build_filename (dir, "7e57d000-0000-4000-8000-00000000000f.json",
                                            NULL);
  g_autoptr(GPtrArray) loaded = NULL;

  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_free (record->instance->name);
      record->instance->name = g_strdup (names[i]);
      g_assert_false (nlx_store_save (store, record, &error));
      g_assert_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID);
      g_assert_nonnull (strstr (error->message, "not saved"));
      g_clear_error (&error);
      g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
    }
  g_free (record->instance->name);
  record->instance->name = g_strdup ("r");
  g_hash_table_insert (record->instance->metadata, g_strdup ("a\nb"), g_strdup ("v"));
  g_assert_false (nlx_store_save (store, record, &error));
  g_assert_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));

  /* A fault quotes whatever failed, bytes and all: it is kept readable. */
  g_hash_table_remove_all (record->instance->metadata);
  record->fault = g_strdup ("cannot open /srv/\xff\x01: No such file");
  g_assert_true (nlx_store_save (store, record, &error));
  g_assert_no_error (error);
  loaded = nlx_store_load_all (store, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (loaded->len, ==, 1);
  g_assert_true (g_utf8_validate (((NlxRecord *) loaded->pdata[0])->fault, -1, NULL));

  nlx_file_remove_tree (dir, &error);
  g_assert_no_error (error);
}

/* Found by the record fuzzer: a member of the wrong type made json-glib
 * log a CRITICAL (and abort under G_DEBUG=fatal-criticals), and a power
 * state no libvirt state maps to was taken as it was.  Each must be
 * refused with a message naming the member. */
/* ---- the writer thread ----------------------------------------------------- */

typedef struct {
  NlxStore *store;
  GArray *order;                /* indices, as the callbacks ran */
  guint index;
  gboolean delete;
  GError *error;
} Written;

static void
written (GObject *source G_GNUC_UNUSED,
         GAsyncResult *result,
         gpointer data)
{
  Written *w = data;

  if (w->delete)
    nlx_store_delete_finish (w->store, result, &w->error);
  else
    nlx_store_save_finish (w->store, result, &w->error);
  g_array_append_val (w->order, w->index);
}

static char *
name_on_disk (const char *dir,
              const char *uuid)
{
  g_autofree char *file = g_strdup_printf ("%s.json", uuid);
  g_autofree char *path = g_build_filename (dir, file, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(NlxRecord) record = NULL;

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    return NULL;
  node = nlx_json_parse_file (path, &error);
  g_assert_no_error (error);
  record = nlx_record_new_from_node (node, &error);
  g_assert_no_error (error);
  return g_strdup (record->instance->name);
}

/* Saves and deletes, asked for while the disk has not answered yet
 * (the writer held), reach it in the order asked and report in that
 * order: two quick saves of a record land in order, and a delete is not
 * undone by an earlier save finishing late.  The callbacks run in the
 * caller's main context; nothing is written before the writer goes on. */
static void
test_writer_order (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("nlx-test-store-XXXXXX", &error);
  g_autoptr(NlxStore) store = nlx_store_open (dir, &error);
  g_autoptr(NlxRecord) a = make_record ("7e57d000-0000-4000-8000-0000000000a1");
  g_autoptr(NlxRecord) b = make_record ("7e57d000-0000-4000-8000-0000000000b1");
  g_autoptr(GArray) order = g_array_new (FALSE, FALSE, sizeof (guint));
  Written w[7];
  g_autofree char *a_name = NULL;
  g_autofree char *b_name = NULL;
  g_autoptr(GDir) listing = NULL;
  const char *entry;

  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (w); i++)
    w[i] = (Written) { store, order, i, FALSE, NULL };

  nlx_store_hold (store, TRUE);
#define SAVE(i, record, text) \
  g_free ((record)->instance->name); \
  (record)->instance->name = g_strdup (text); \
  nlx_store_save_async (store, (record), written, &w[i])
  SAVE (0, a, "a-first");
  SAVE (1, b, "b-first");
  SAVE (2, a, "a-second");
  w[3].delete = TRUE;
  nlx_store_delete_async (store, a->instance->uuid, written, &w[3]);
  SAVE (4, b, "b-second");
  SAVE (5, b, "b-third");
#undef SAVE
  /* The record may change as soon as it is handed over. */
  g_free (b->instance->name);
  b->instance->name = g_strdup ("b-never-saved");
  w[6].delete = TRUE;
  nlx_store_delete_async (store, "7e57d000-0000-4000-8000-0000000000c1",
                          written, &w[6]);

  /* Held: nothing on disk, nothing reported. */
  g_assert_cmpuint (nlx_store_count_pending (store), ==, G_N_ELEMENTS (w));
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (order->len, ==, 0);
  listing = g_dir_open (dir, 0, &error);
  g_assert_no_error (error);
  g_assert_null (g_dir_read_name (listing));

  nlx_store_hold (store, FALSE);
  while (order->len < G_N_ELEMENTS (w))
    g_main_context_iteration (NULL, TRUE);
  for (guint i = 0; i < G_N_ELEMENTS (w); i++)
    {
      g_assert_no_error (w[i].error);
      g_assert_cmpuint (g_array_index (order, guint, i), ==, i);
    }
  nlx_store_flush (store);
  g_assert_cmpuint (nlx_store_count_pending (store), ==, 0);

  a_name = name_on_disk (dir, a->instance->uuid);
  b_name = name_on_disk (dir, b->instance->uuid);
  g_assert_null (a_name);
  g_assert_cmpstr (b_name, ==, "b-third");
  /* No temporaries left either. */
  g_clear_pointer (&listing, g_dir_close);
  listing = g_dir_open (dir, 0, &error);
  while ((entry = g_dir_read_name (listing)) != NULL)
    g_assert_cmpstr (entry, ==, "7e57d000-0000-4000-8000-0000000000b1.json");

  nlx_file_remove_tree (dir, &error);
  g_assert_no_error (error);
}

/* A save that fails in the writer reports the error to its caller and
 * leaves the record on disk as it was; the saves after it still run. */
static void
test_writer_failure (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("nlx-test-store-XXXXXX", &error);
  g_autofree char *records = g_build_filename (dir, "records", NULL);
  g_autofree char *aside = g_build_filename (dir, "aside", NULL);
  g_autoptr(NlxStore) store = nlx_store_open (records, &error);
  g_autoptr(NlxRecord) a = make_record ("7e57d000-0000-4000-8000-0000000000a2");
  g_autoptr(GArray) order = g_array_new (FALSE, FALSE, sizeof (guint));
  Written w[2];
  g_autofree char *a_name = NULL;

  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (w); i++)
    w[i] = (Written) { store, order, i, FALSE, NULL };
  g_assert_true (nlx_store_save (store, a, &error));

  /* The records directory replaced by a file: every write fails. */
  nlx_store_hold (store, TRUE);
  g_free (a->instance->name);
  a->instance->name = g_strdup ("unsaved");
  nlx_store_save_async (store, a, written, &w[0]);
  g_assert_cmpint (g_rename (records, aside), ==, 0);
  g_assert_true (g_file_set_contents (records, "not a directory", -1, NULL));
  nlx_store_hold (store, FALSE);
  while (order->len < 1)
    g_main_context_iteration (NULL, TRUE);
  g_assert_nonnull (w[0].error);
  g_assert_cmpint (g_unlink (records), ==, 0);
  g_assert_cmpint (g_rename (aside, records), ==, 0);
  a_name = name_on_disk (records, a->instance->uuid);
  g_assert_cmpstr (a_name, ==, "r");

  g_free (a->instance->name);
  a->instance->name = g_strdup ("saved");
  nlx_store_save_async (store, a, written, &w[1]);
  while (order->len < 2)
    g_main_context_iteration (NULL, TRUE);
  g_assert_no_error (w[1].error);
  g_free (a_name);
  a_name = name_on_disk (records, a->instance->uuid);
  g_assert_cmpstr (a_name, ==, "saved");
  g_clear_error (&w[0].error);

  nlx_file_remove_tree (dir, &error);
  g_assert_no_error (error);
}

/* ---- group commit ---------------------------------------------------------- */

typedef struct {
  NlxStore *store;
  const char *dir;
  const char *uuid;             /* the record to look at when answered */
  guint answered;
  GError *error;
  char *name_then;              /* the record on disk when answered */
  guint64 rounds_then;          /* rounds finished when answered */
} Seen;

static void
seen (GObject *source G_GNUC_UNUSED,
      GAsyncResult *result,
      gpointer data)
{
  Seen *s = data;
  NlxStoreStats stats;

  nlx_store_save_finish (s->store, result, &s->error);
  nlx_store_get_stats (s->store, &stats);
  s->rounds_then = stats.rounds;
  if (s->uuid != NULL)
    s->name_then = name_on_disk (s->dir, s->uuid);
  s->answered++;
}

static void
seen_clear (Seen *s)
{
  g_clear_error (&s->error);
  g_clear_pointer (&s->name_then, g_free);
}

static void
rename_record (NlxRecord *record,
               const char *name)
{
  g_free (record->instance->name);
  record->instance->name = g_strdup (name);
}

/* Changes asked for while the disk is busy are written in one round:
 * two records changed, one of them twice, are two writes and one round,
 * and every caller is answered only once its change is on disk (what
 * its callback finds there) and the round is done. */
static void
test_group_commit (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("nlx-test-store-XXXXXX", &error);
  g_autoptr(NlxStore) store = nlx_store_open (dir, &error);
  g_autoptr(NlxRecord) a = make_record ("7e57d000-0000-4000-8000-0000000000a3");
  g_autoptr(NlxRecord) b = make_record ("7e57d000-0000-4000-8000-0000000000b3");
  Seen s[3];
  NlxStoreStats before, after;

  g_assert_no_error (error);
  s[0] = (Seen) { store, dir, a->instance->uuid };
  s[1] = (Seen) { store, dir, b->instance->uuid };
  s[2] = (Seen) { store, dir, a->instance->uuid };
  nlx_store_get_stats (store, &before);

  nlx_store_hold (store, TRUE);
  rename_record (a, "a-first");
  nlx_store_save_async (store, a, seen, &s[0]);
  rename_record (b, "b-only");
  nlx_store_save_async (store, b, seen, &s[1]);
  rename_record (a, "a-second");
  nlx_store_save_async (store, a, seen, &s[2]);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  for (guint i = 0; i < G_N_ELEMENTS (s); i++)
    g_assert_cmpuint (s[i].answered, ==, 0);
  g_assert_null (name_on_disk (dir, a->instance->uuid));

  nlx_store_hold (store, FALSE);
  while (s[0].answered + s[1].answered + s[2].answered < G_N_ELEMENTS (s))
    g_main_context_iteration (NULL, TRUE);
  nlx_store_get_stats (store, &after);
  g_assert_cmpuint (after.rounds - before.rounds, ==, 1);
  g_assert_cmpuint (after.records_written - before.records_written, ==, 2);
  for (guint i = 0; i < G_N_ELEMENTS (s); i++)
    {
      g_assert_no_error (s[i].error);
      g_assert_cmpuint (s[i].answered, ==, 1);
      g_assert_cmpuint (s[i].rounds_then, ==, after.rounds);
    }
  /* The first change of a is in the second, which was on disk when its
   * caller heard. */
  g_assert_cmpstr (s[0].name_then, ==, "a-second");
  g_assert_cmpstr (s[1].name_then, ==, "b-only");
  g_assert_cmpstr (s[2].name_then, ==, "a-second");

  /* Saved as it is: saving it again would write the same bytes (once
   * the round is over). */
  nlx_store_flush (store);
  g_assert_true (nlx_store_is_saved (store, a));
  g_assert_true (nlx_store_is_saved (store, b));
  rename_record (b, "b-changed");
  g_assert_false (nlx_store_is_saved (store, b));
  /* Not while a change of it is on its way. */
  nlx_store_hold (store, TRUE);
  rename_record (b, "b-only");
  nlx_store_save_async (store, b, seen, &s[1]);
  g_assert_false (nlx_store_is_saved (store, b));
  nlx_store_hold (store, FALSE);
  while (s[1].answered < 2)
    g_main_context_iteration (NULL, TRUE);
  nlx_store_flush (store);
  g_assert_true (nlx_store_is_saved (store, b));
  /* And what the loader read is what the disk holds. */
  {
    g_autoptr(NlxStore) again = nlx_store_open (dir, &error);
    g_autoptr(GPtrArray) loaded = nlx_store_load_all (again, NULL, &error);

    g_assert_no_error (error);
    g_assert_cmpuint (loaded->len, ==, 2);
    for (guint i = 0; i < loaded->len; i++)
      g_assert_true (nlx_store_is_saved (again, loaded->pdata[i]));
  }

  for (guint i = 0; i < G_N_ELEMENTS (s); i++)
    seen_clear (&s[i]);
  nlx_file_remove_tree (dir, &error);
  g_assert_no_error (error);
}

/* In one round, a record that cannot be written fails its own callers,
 * all of them, and leaves its file as it was; the other records of the
 * round are written and their callers hear success.  A file of the state
 * that cannot be written fails the records saved with it, and only
 * them. */
static void
test_group_failure (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("nlx-test-store-XXXXXX", &error);
  g_autofree char *records = g_build_filename (dir, "records", NULL);
  g_autoptr(NlxStore) store = nlx_store_open (records, &error);
  g_autoptr(NlxRecord) a = make_record ("7e57d000-0000-4000-8000-0000000000a4");
  g_autoptr(NlxRecord) b = make_record ("7e57d000-0000-4000-8000-0000000000b4");
  g_autoptr(NlxRecord) c = make_record ("7e57d000-0000-4000-8000-0000000000c4");
  g_autofree char *b_path = g_build_filename (records,
    "7e57d000-0000-4000-8000-0000000000b4.json", NULL);
  g_autofree char *blocker = g_build_filename (b_path, "blocker", NULL);
  g_autofree char *no_dir = g_build_filename (dir, "missing", "addresses.json",
                                              NULL);
  g_autofree char *good_file = g_build_filename (dir, "addresses.json", NULL);
  g_autofree char *contents = NULL;
  Seen s[6];

  g_assert_no_error (error);
  g_assert_true (nlx_store_save (store, a, &error));
  /* b's name on disk is a directory that is not empty: its rename fails. */
  g_assert_cmpint (g_mkdir (b_path, 0700), ==, 0);
  g_assert_true (g_file_set_contents (blocker, "", -1, NULL));
  for (guint i = 0; i < G_N_ELEMENTS (s); i++)
    s[i] = (Seen) { store, records, NULL };

  nlx_store_hold (store, TRUE);
  rename_record (a, "a-new");
  nlx_store_save_async (store, a, seen, &s[0]);
  rename_record (b, "b-first");
  nlx_store_save_async (store, b, seen, &s[1]);
  rename_record (b, "b-second");
  nlx_store_save_async (store, b, seen, &s[2]);
  /* c goes with a file that cannot be written; the file alone fails. */
  nlx_store_save_with_file_async (store, c, no_dir, "{}", seen, &s[3]);
  nlx_store_write_file_async (store, no_dir, "{}", seen, &s[4]);
  nlx_store_write_file_async (store, good_file, "{\"ok\": 1}", seen, &s[5]);
  nlx_store_hold (store, FALSE);
  while (s[0].answered + s[1].answered + s[2].answered + s[3].answered +
         s[4].answered + s[5].answered < G_N_ELEMENTS (s))
    g_main_context_iteration (NULL, TRUE);

  g_assert_no_error (s[0].error);
  g_assert_nonnull (s[1].error);
  g_assert_nonnull (s[2].error);
  g_assert_nonnull (s[3].error);
  g_assert_nonnull (s[4].error);
  g_assert_no_error (s[5].error);
  {
    g_autofree char *a_name = name_on_disk (records, a->instance->uuid);

    g_assert_cmpstr (a_name, ==, "a-new");
  }
  g_assert_true (g_file_test (blocker, G_FILE_TEST_IS_REGULAR));
  g_assert_null (name_on_disk (records, c->instance->uuid));
  g_assert_true (g_file_get_contents (good_file, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "{\"ok\": 1}");
  nlx_store_flush (store);
  g_assert_false (nlx_store_is_saved (store, b));
  g_assert_false (nlx_store_is_saved (store, c));
  g_assert_true (nlx_store_is_saved (store, a));

  /* Once b's name is free, b is written like any other. */
  g_assert_true (nlx_file_remove_tree (b_path, &error));
  g_assert_true (nlx_store_save (store, b, &error));
  g_assert_no_error (error);
  {
    g_autofree char *b_name = name_on_disk (records, b->instance->uuid);

    g_assert_cmpstr (b_name, ==, "b-second");
  }

  for (guint i = 0; i < G_N_ELEMENTS (s); i++)
    seen_clear (&s[i]);
  nlx_file_remove_tree (dir, &error);
  g_assert_no_error (error);
}

static void
test_wrong_types (void)
{
  static const struct {
    const char *member;
    const char *value;
  } cases[] = {
    { "fault", "{}" },
    { "fault", "[\"x\"]" },
    { "pending_volume", "[1]" },
    { "updated_at", "{}" },
    { "updated_at", "7" },
    { "vm_state", "[]" },
    { "vm_state", "3" },
    { "task_state", "{}" },
    { "task_state", "true" },
    { "power_state", "{}" },
    { "power_state", "\"1\"" },
    { "power_state", "1.5" },
    { "power_state", "99" },
    { "power_state", "-1" },
    { "power_state", "2" },
  };
  g_autoptr(NlxRecord) good = make_record ("7e57d000-0000-4000-8000-00000000000f");
  g_autoptr(JsonNode) node = nlx_record_to_node (good);
  g_autofree char *text = json_to_string (node, FALSE);
  g_autoptr(NlxRecord) again = NULL;
  g_autoptr(GError) error = NULL;

  /* The record as written loads, so each case below fails for its one
   * changed member. */
  again = nlx_record_new_from_node (node, &error);
  g_assert_no_error (error);
  g_assert_nonnull (again);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      /* Parsed afresh: json_node_copy() shares the object. */
      g_autoptr(JsonNode) copy = json_from_string (text, NULL);
      g_autoptr(JsonNode) value = json_from_string (cases[i].value, NULL);
      g_autoptr(NlxRecord) record = NULL;
      g_autoptr(GError) local_error = NULL;

      json_object_set_member (json_node_get_object (copy), cases[i].member,
                              g_steal_pointer (&value));
      record = nlx_record_new_from_node (copy, &local_error);
      if (record != NULL)
        g_error ("%s = %s was accepted", cases[i].member, cases[i].value);
      g_assert_error (local_error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID);
      if (strstr (local_error->message, cases[i].member) == NULL)
        g_error ("%s = %s: “%s” does not name the member", cases[i].member,
                 cases[i].value, local_error->message);
    }
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_summary ("Instance records and their durable store.");
  g_test_add_func ("/nlx/record/status", test_status);
  g_test_add_func ("/nlx/store/round-trip", test_round_trip);
  g_test_add_func ("/nlx/store/unreadable", test_unreadable);
  g_test_add_func ("/nlx/store/refuses-unreadable", test_refuses_unreadable);
  g_test_add_func ("/nlx/store/writer-order", test_writer_order);
  g_test_add_func ("/nlx/store/writer-failure", test_writer_failure);
  g_test_add_func ("/nlx/store/group-commit", test_group_commit);
  g_test_add_func ("/nlx/store/group-failure", test_group_failure);
  g_test_add_func ("/nlx/record/wrong-types", test_wrong_types);
  return g_test_run ();
}
