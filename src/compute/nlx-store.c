/* nlx-store.c: durable instance records
 *
 * One JSON file per instance, <dir>/<uuid>.json, replaced atomically
 * (temporary file, fsync, rename, fsync of the directory): a crash at any
 * moment leaves the old record or the new one, never a torn one.
 *
 * The writes (the fsyncs take milliseconds, tens on a slow disk) run in
 * one writer thread per store, so the daemon's main loop keeps serving
 * while they wait for the disk.  One thread, one queue: saves and
 * deletes reach the disk in the order they were asked for, so two quick
 * saves of a record land in order and a delete is never undone by an
 * earlier save finishing late.  The caller hears of each one, success or
 * failure, in its main context once it is on disk. */
#include "config.h"

#include <errno.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "common/nlx-error.h"
#include "common/nlx-file.h"
#include "common/nlx-json.h"
#include "compute/nlx-store.h"

typedef enum {
  OP_SAVE,
  OP_DELETE,
  OP_FILE,
} OpKind;

typedef struct {
  OpKind kind;
  char *uuid;
  char *data;                   /* OP_SAVE: the record's text */
  /* OP_FILE, and OP_SAVE before the record: another file of the state */
  char *file_path;
  char *file_data;
  GTask *task;                  /* the asynchronous caller, or NULL */
  /* A synchronous caller waits for done, under the store's lock. */
  gboolean done;
  GError *error;
} Op;

struct _NlxStore {
  char *dir;
  GThread *writer;
  GMutex lock;
  GCond changed;
  GQueue queue;                 /* Op, oldest first */
  Op *writing;                  /* the one on its way to disk */
  gboolean stopping;
  gboolean held;                /* tests: a disk that does not answer yet */
};

static void
op_free (Op *op)
{
  g_free (op->uuid);
  g_free (op->data);
  g_free (op->file_path);
  g_free (op->file_data);
  g_clear_object (&op->task);
  g_clear_error (&op->error);
  g_free (op);
}

static gboolean write_op (NlxStore *store,
                          Op *op,
                          GError **error);

static gpointer
writer (gpointer data)
{
  NlxStore *store = data;

  g_mutex_lock (&store->lock);
  for (;;)
    {
      Op *op = store->held ? NULL : g_queue_pop_head (&store->queue);
      GError *error = NULL;
      gboolean ok;

      if (op == NULL && store->held && store->stopping)
        store->held = FALSE;
      else if (op == NULL)
        {
          if (store->stopping)
            break;
          g_cond_wait (&store->changed, &store->lock);
        }
      if (op == NULL)
        continue;
      store->writing = op;
      g_mutex_unlock (&store->lock);

      ok = write_op (store, op, &error);
      /* Handed back in the caller's main context, in the order written:
       * GTask queues each at the same priority. */
      if (op->task != NULL)
        {
          if (ok)
            g_task_return_boolean (op->task, TRUE);
          else
            g_task_return_error (op->task, error);
        }

      g_mutex_lock (&store->lock);
      store->writing = NULL;
      if (op->task != NULL)
        op_free (op);
      else
        {
          op->error = error;
          op->done = TRUE;
        }
      g_cond_broadcast (&store->changed);
    }
  g_mutex_unlock (&store->lock);
  return NULL;
}

/**
 * nlx_store_open:
 * @dir: the records' directory, created (0700) if missing
 * @error: return location for a #G_FILE_ERROR
 */
NlxStore *
nlx_store_open (const char *dir,
                GError **error)
{
  NlxStore *store;

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   _("Cannot create the record directory %s: %s"), dir,
                   g_strerror (saved_errno));
      return NULL;
    }
  store = g_new0 (NlxStore, 1);
  store->dir = g_strdup (dir);
  g_mutex_init (&store->lock);
  g_cond_init (&store->changed);
  g_queue_init (&store->queue);
  store->writer = g_thread_new ("nlx-store", writer, store);
  return store;
}

/**
 * nlx_store_flush:
 *
 * Waits until every save and delete asked for so far is on disk (or has
 * failed).  Their callbacks still run in the callers' main contexts.
 */
void
nlx_store_flush (NlxStore *store)
{
  g_mutex_lock (&store->lock);
  while (store->queue.length > 0 || store->writing != NULL)
    g_cond_wait (&store->changed, &store->lock);
  g_mutex_unlock (&store->lock);
}

/* Writes what is queued, then stops the writer: nothing asked for is
 * dropped. */
void
nlx_store_free (NlxStore *store)
{
  if (store == NULL)
    return;
  g_mutex_lock (&store->lock);
  store->stopping = TRUE;
  g_cond_broadcast (&store->changed);
  g_mutex_unlock (&store->lock);
  g_thread_join (store->writer);
  g_mutex_clear (&store->lock);
  g_cond_clear (&store->changed);
  g_free (store->dir);
  g_free (store);
}

/**
 * nlx_store_hold:
 * @held: whether writes wait
 *
 * For tests: while held, the writer writes nothing, as a disk that has
 * not answered yet; what is asked for queues up.  nlx_store_free()
 * releases it; nlx_store_flush() waits for it to be released.
 */
void
nlx_store_hold (NlxStore *store,
                gboolean held)
{
  g_mutex_lock (&store->lock);
  store->held = held;
  g_cond_broadcast (&store->changed);
  g_mutex_unlock (&store->lock);
}

/* How many saves and deletes are queued or being written. */
guint
nlx_store_count_pending (NlxStore *store)
{
  guint count;

  g_mutex_lock (&store->lock);
  count = store->queue.length + (store->writing != NULL);
  g_mutex_unlock (&store->lock);
  return count;
}

static char *
record_path (NlxStore *store,
             const char *uuid)
{
  g_autofree char *file = g_strdup_printf ("%s.json", uuid);

  return g_build_filename (store->dir, file, NULL);
}

/* What @data reads back as, written again: the same text when the
 * loader takes the record as it is.  NULL when the loader refuses it. */
static char *
read_back (const char *data,
           GError **error)
{
  g_autoptr(JsonNode) node = nlx_json_parse (data, -1, error);
  g_autoptr(NlxRecord) record = NULL;
  g_autoptr(JsonNode) again = NULL;

  if (node == NULL ||
      (record = nlx_record_new_from_node (node, error)) == NULL)
    return NULL;
  again = nlx_record_to_node (record);
  return json_to_string (again, TRUE);
}

/* The record's text, if nlx_store_load_all() would read back the same
 * record: a record the daemon cannot read makes its server vanish at the
 * next start while its container runs on. */
static char *
record_text (const NlxRecord *record,
             GError **error)
{
  g_autoptr(JsonNode) node = nlx_record_to_node (record);
  g_autofree char *data = json_to_string (node, TRUE);
  g_autoptr(GError) local_error = NULL;
  g_autofree char *again = read_back (data, &local_error);

  if (again == NULL || !g_str_equal (again, data))
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("Instance record %s was not saved: it would not read "
                     "back as it is (%s)"), record->instance->uuid,
                   local_error ? local_error->message
                               : _("it reads back different"));
      return NULL;
    }
  return g_steal_pointer (&data);
}

/* In the writer thread. */
static gboolean
write_op (NlxStore *store,
          Op *op,
          GError **error)
{
  g_autofree char *path = NULL;

  if (op->file_path != NULL &&
      !nlx_file_set_contents_full (op->file_path, op->file_data, -1,
                                   G_FILE_SET_CONTENTS_CONSISTENT |
                                   G_FILE_SET_CONTENTS_DURABLE,
                                   0600, error))
    return FALSE;
  if (op->kind == OP_FILE)
    return TRUE;
  path = record_path (store, op->uuid);
  if (op->kind == OP_SAVE)
    return nlx_file_set_contents_full (path, op->data, -1,
                                       G_FILE_SET_CONTENTS_CONSISTENT |
                                       G_FILE_SET_CONTENTS_DURABLE,
                                       0600, error);

  if (g_unlink (path) != 0)
    {
      int saved_errno = errno;

      /* Deleting what is not there succeeds. */
      if (saved_errno == ENOENT)
        return TRUE;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   _("Cannot delete instance record %s: %s"), path,
                   g_strerror (saved_errno));
      return FALSE;
    }
  /* Or the record comes back after a crash, and with it the server. */
  return nlx_file_sync_dir (store->dir, error);
}

static void
push (NlxStore *store,
      Op *op)
{
  g_mutex_lock (&store->lock);
  g_queue_push_tail (&store->queue, op);
  g_cond_broadcast (&store->changed);
  g_mutex_unlock (&store->lock);
}

/* Queues @op and waits until it is written. */
static gboolean
run (NlxStore *store,
     Op *op,
     GError **error)
{
  gboolean ok;

  push (store, op);
  g_mutex_lock (&store->lock);
  while (!op->done)
    g_cond_wait (&store->changed, &store->lock);
  g_mutex_unlock (&store->lock);
  ok = op->error == NULL;
  if (!ok)
    g_propagate_error (error, g_steal_pointer (&op->error));
  op_free (op);
  return ok;
}

static Op *
op_new (OpKind kind,
        const char *uuid,
        char *data)
{
  Op *op = g_new0 (Op, 1);

  op->kind = kind;
  op->uuid = g_strdup (uuid);
  op->data = data;
  return op;
}

/**
 * nlx_store_save:
 * @error: return location for a #G_FILE_ERROR, or a #NLX_MODEL_ERROR when
 *   the record would not read back as it is
 *
 * nlx_store_save_async(), waiting for the disk: after everything asked
 * for before it.
 */
gboolean
nlx_store_save (NlxStore *store,
                const NlxRecord *record,
                GError **error)
{
  char *data = record_text (record, error);

  if (data == NULL)
    return FALSE;
  return run (store, op_new (OP_SAVE, record->instance->uuid, data), error);
}

/**
 * nlx_store_save_async:
 * @callback: called in the thread-default main context once the record
 *   is on disk, or could not be written
 *
 * Saves the record as it is now (it may change or go as soon as this
 * returns), after every save and delete asked for before, in the writer
 * thread.  nlx_store_save_finish() says how it went.
 */
void
nlx_store_save_async (NlxStore *store,
                      const NlxRecord *record,
                      GAsyncReadyCallback callback,
                      gpointer user_data)
{
  nlx_store_save_with_file_async (store, record, NULL, NULL, callback,
                                  user_data);
}

/**
 * nlx_store_save_with_file_async:
 * @path: (nullable): another file of the state, written durably before
 *   the record
 * @data: (nullable): its text
 *
 * nlx_store_save_async(), writing @data to @path first: the save fails
 * without writing the record if @path cannot be written.
 */
void
nlx_store_save_with_file_async (NlxStore *store,
                                const NlxRecord *record,
                                const char *path,
                                const char *data,
                                GAsyncReadyCallback callback,
                                gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);
  GError *error = NULL;
  char *text = record_text (record, &error);
  Op *op;

  g_task_set_source_tag (task, nlx_store_save_async);
  if (text == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  op = op_new (OP_SAVE, record->instance->uuid, text);
  op->file_path = g_strdup (path);
  op->file_data = g_strdup (data);
  op->task = g_steal_pointer (&task);
  push (store, op);
}

/**
 * nlx_store_write_file_async:
 * @path: another file of the state (the address allocations)
 * @data: its text
 *
 * Replaces @path with @data durably (0600), in order with the records'
 * saves and deletes.  Finish with nlx_store_save_finish().
 */
void
nlx_store_write_file_async (NlxStore *store,
                            const char *path,
                            const char *data,
                            GAsyncReadyCallback callback,
                            gpointer user_data)
{
  Op *op = op_new (OP_FILE, NULL, NULL);

  op->file_path = g_strdup (path);
  op->file_data = g_strdup (data);
  op->task = g_task_new (NULL, NULL, callback, user_data);
  g_task_set_source_tag (op->task, nlx_store_write_file_async);
  push (store, op);
}

/**
 * nlx_store_save_finish:
 * @error: as for nlx_store_save()
 */
gboolean
nlx_store_save_finish (NlxStore *store G_GNUC_UNUSED,
                       GAsyncResult *result,
                       GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* Deleting what is not there succeeds. */
gboolean
nlx_store_delete (NlxStore *store,
                  const char *uuid,
                  GError **error)
{
  return run (store, op_new (OP_DELETE, uuid, NULL), error);
}

/**
 * nlx_store_delete_async:
 *
 * Deletes the record of @uuid once everything asked for before is
 * written, so that no earlier save brings it back.
 */
void
nlx_store_delete_async (NlxStore *store,
                        const char *uuid,
                        GAsyncReadyCallback callback,
                        gpointer user_data)
{
  Op *op = op_new (OP_DELETE, uuid, NULL);

  op->task = g_task_new (NULL, NULL, callback, user_data);
  g_task_set_source_tag (op->task, nlx_store_delete_async);
  push (store, op);
}

gboolean
nlx_store_delete_finish (NlxStore *store G_GNUC_UNUSED,
                         GAsyncResult *result,
                         GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

#define QUARANTINE "quarantine"

/* The uuid a record's file name gives, if any. */
static char *
uuid_of (const char *name)
{
  const char *end = strstr (name, ".json");
  g_autofree char *uuid = end ? g_strndup (name, end - name) : NULL;

  if (uuid == NULL || !g_uuid_string_is_valid (uuid))
    return NULL;
  return g_ascii_strdown (uuid, -1);
}

/* Moves an unreadable record aside, with the reason beside it, so that
 * the next start neither reads it again nor forgets it. */
static void
quarantine (NlxStore *store,
            const char *name,
            const char *reason)
{
  g_autofree char *dir = g_build_filename (store->dir, QUARANTINE, NULL);
  g_autofree char *from = g_build_filename (store->dir, name, NULL);
  g_autofree char *to = g_build_filename (dir, name, NULL);
  g_autofree char *why = NULL;
  g_autoptr(GError) error = NULL;

  for (guint n = 1; g_file_test (to, G_FILE_TEST_EXISTS) ||
                    g_file_test (to, G_FILE_TEST_IS_SYMLINK); n++)
    {
      g_autofree char *other = g_strdup_printf ("%s.%u", name, n);

      g_free (to);
      to = g_build_filename (dir, other, NULL);
    }
  if (g_mkdir_with_parents (dir, 0700) != 0 || g_rename (from, to) != 0)
    {
      g_warning (_("Unreadable instance record %s: %s; it cannot be moved to "
                   "%s (%s), so it stays, and its server is left alone"),
                 from, reason, dir, g_strerror (errno));
      return;
    }
  why = g_strconcat (to, ".reason", NULL);
  nlx_file_set_contents_full (why, reason, -1,
                              G_FILE_SET_CONTENTS_CONSISTENT, 0600, NULL);
  /* Both ends of the move, or a crash could bring the record back. */
  if (!nlx_file_sync_dir (dir, &error) ||
      !nlx_file_sync_dir (store->dir, &error))
    g_warning ("%s", error->message);
  g_warning (_("Unreadable instance record %s: %s; moved to %s.  Its server "
               "is left alone and keeps its address: repair the record and "
               "move it back, or remove it once the server is gone"),
             from, reason, to);
}

/**
 * nlx_store_load_all:
 * @store: the store
 * @quarantined: (out) (optional) (transfer full) (element-type utf8): the
 *   uuids of the records that cannot be read, now or at an earlier start
 * @error: return location for a #G_FILE_ERROR
 *
 * A record that cannot be read is moved into `quarantine/` beside the
 * records, with a `.reason` file and a warning, so one bad file neither
 * stops the host nor is lost, and its uuid is reported so that the
 * caller neither forgets its server nor hands out its address.  The
 * temporary files of saves a kill interrupted are removed.
 *
 * Returns: (transfer full) (element-type NlxRecord): every readable record
 */
GPtrArray *
nlx_store_load_all (NlxStore *store,
                    GPtrArray **quarantined,
                    GError **error)
{
  g_autoptr(GPtrArray) records = g_ptr_array_new_with_free_func (
    (GDestroyNotify) nlx_record_free);
  g_autoptr(GPtrArray) bad = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *quarantine_dir = g_build_filename (store->dir, QUARANTINE,
                                                      NULL);
  g_autoptr(GDir) dir = NULL;
  const char *name;

  nlx_file_remove_save_temporaries (store->dir);
  dir = g_dir_open (store->dir, 0, error);
  if (dir == NULL)
    return NULL;
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (store->dir, name, NULL);
      g_autoptr(JsonNode) root = NULL;
      g_autoptr(GError) local_error = NULL;
      NlxRecord *record = NULL;
      char *uuid;

      if (!g_str_has_suffix (name, ".json"))
        continue;
      if ((root = nlx_json_parse_file (path, &local_error)) != NULL)
        record = nlx_record_new_from_node (root, &local_error);
      /* A record is found by the name of its file. */
      uuid = uuid_of (name);
      if (record != NULL && g_strcmp0 (uuid, record->instance->uuid) != 0)
        {
          g_set_error (&local_error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                       _("it holds instance %s, not the one its name says"),
                       record->instance->uuid);
          g_clear_pointer (&record, nlx_record_free);
        }
      if (record == NULL)
        {
          quarantine (store, name, local_error->message);
          if (uuid != NULL)
            g_ptr_array_add (bad, uuid);
          continue;
        }
      g_free (uuid);
      g_ptr_array_add (records, record);
    }

  /* Those of earlier starts, until someone deals with them. */
  g_clear_pointer (&dir, g_dir_close);
  dir = g_dir_open (quarantine_dir, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      char *uuid = g_str_has_suffix (name, ".reason") ? NULL : uuid_of (name);

      if (uuid != NULL && !g_ptr_array_find_with_equal_func (bad, uuid,
                                                             g_str_equal, NULL))
        g_ptr_array_add (bad, uuid);
      else
        g_free (uuid);
    }
  if (quarantined != NULL)
    *quarantined = g_steal_pointer (&bad);
  return g_steal_pointer (&records);
}
