/* nlx-store.c: durable instance records
 *
 * One JSON file per instance, <dir>/<uuid>.json, replaced atomically
 * (temporary file, fsync, rename, fsync of the directory): a crash at any
 * moment leaves the old record or the new one, never a torn one.
 *
 * The writes (the fsyncs take milliseconds, tens on a slow disk) run in
 * one writer thread per store, so the daemon's main loop keeps serving
 * while they wait for the disk, and they are committed in groups: what is
 * asked for while one round of writes is on its way to disk waits for
 * the next round, which writes it all at once.  A round writes the other
 * files of the state first (the address allocations: each its temporary
 * file, fsync, rename, then one fsync per directory), then every record
 * changed (each its temporary file, fsync and rename, or its unlink),
 * then fsyncs the records' directory once for all of them.  Only then
 * does it answer the callers of that round, so nothing is acknowledged
 * before it is on disk.  Twenty creates at once cost about one round's
 * worth of directory fsyncs, not twenty.
 *
 * Within a round a record is written once, as the last change asked for
 * it has it (two saves of a record, or a save and a delete, in one round
 * are one write: the later includes the earlier), so changes to one
 * record still reach the disk in the order asked, and a delete is never
 * undone by an earlier save.  A record that fails to write fails only
 * the callers who changed it; a failed fsync of the directory fails the
 * whole round.  The callers hear in their main contexts, in the order
 * they asked.
 *
 * A save of a record the disk already holds as it is (no change since
 * the last durable write, none on its way) writes nothing. */
#include "config.h"

#include <errno.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "common/nlx-error.h"
#include "common/nlx-file.h"
#include "common/nlx-json.h"
#include "compute/nlx-store.h"

/* One caller waiting for a round. */
typedef struct {
  char *uuid;                   /* the record it changed, or NULL */
  char *file_path;              /* the other file it changed, or NULL */
  GTask *task;                  /* the asynchronous caller, or NULL */
  /* A synchronous caller waits for done, under the store's lock. */
  gboolean done;
  GError *error;
} Waiter;

/* What a round does to one record: the last change asked for wins. */
typedef struct {
  char *data;                   /* the record's text; NULL to delete it */
  char *digest;                 /* of data */
  char *file_path;              /* written first, or the record is not */
  GError *error;                /* in the writer: how it went */
  gboolean changed;             /* in the writer: renamed or unlinked */
} Change;

typedef struct {
  char *data;
  GError *error;                /* in the writer: how it went */
  gboolean changed;             /* in the writer: renamed */
} FileChange;

/* What one round writes. */
typedef struct {
  GHashTable *records;          /* uuid -> Change */
  GPtrArray *record_order;      /* uuids, as first asked */
  GHashTable *files;            /* path -> FileChange */
  GPtrArray *file_order;        /* paths, as first asked */
  GPtrArray *waiters;           /* Waiter, in the order asked */
} Round;

struct _NlxStore {
  char *dir;
  GThread *writer;
  GMutex lock;
  GCond changed;
  Round *next;                  /* collecting what is asked for */
  Round *writing;               /* the round on its way to disk */
  /* uuid -> digest of the text on disk, as far as a round made durable
   * or the loader read; dropped when a write of the record fails. */
  GHashTable *durable;
  gboolean stopping;
  gboolean held;                /* tests: a disk that does not answer yet */
  NlxStoreStats stats;
};

static void
change_free (Change *change)
{
  g_free (change->data);
  g_free (change->digest);
  g_free (change->file_path);
  g_clear_error (&change->error);
  g_free (change);
}

static void
file_change_free (FileChange *change)
{
  g_free (change->data);
  g_clear_error (&change->error);
  g_free (change);
}

static void
waiter_free (Waiter *waiter)
{
  g_free (waiter->uuid);
  g_free (waiter->file_path);
  g_clear_object (&waiter->task);
  g_clear_error (&waiter->error);
  g_free (waiter);
}

static Round *
round_new (void)
{
  Round *round = g_new0 (Round, 1);

  round->records = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                          (GDestroyNotify) change_free);
  round->record_order = g_ptr_array_new ();
  round->files = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                        (GDestroyNotify) file_change_free);
  round->file_order = g_ptr_array_new ();
  round->waiters = g_ptr_array_new ();
  return round;
}

/* The waiters are freed by whoever waits (sync) or once answered. */
static void
round_free (Round *round)
{
  g_ptr_array_unref (round->record_order);
  g_ptr_array_unref (round->file_order);
  g_hash_table_unref (round->records);
  g_hash_table_unref (round->files);
  g_ptr_array_unref (round->waiters);
  g_free (round);
}

static gboolean
round_is_empty (Round *round)
{
  return round->waiters->len == 0;
}

static char *
digest_of (const char *data)
{
  return g_compute_checksum_for_string (G_CHECKSUM_SHA256, data, -1);
}

static char *
record_path (NlxStore *store,
             const char *uuid)
{
  g_autofree char *file = g_strdup_printf ("%s.json", uuid);

  return g_build_filename (store->dir, file, NULL);
}

/* How many temporary files a round holds open at once: a round of a
 * thousand records (a restart) must not run out of descriptors. */
#define CHUNK 64

/* One file a round replaces or removes. */
typedef struct {
  char *path;                   /* the file it replaces */
  const char *data;             /* its new text; NULL to remove it */
  GError **error;               /* where its failure goes */
  gboolean *changed;            /* set once renamed or unlinked */
  FileChange *file;             /* a record's file, durable first */
  char *tmp;
  int fd;
} Item;

/* Every temporary file written, then every one fsynced: on ext4 the
 * first fsync commits the journal for them all, and the others find
 * little left to do. */
static void
write_temporaries (Item *items,
                   guint n)
{
  for (guint i = 0; i < n; i++)
    if (items[i].data != NULL && *items[i].error == NULL)
      items[i].fd = nlx_file_write_temporary (items[i].path, items[i].data,
                                              -1, 0600, &items[i].tmp,
                                              items[i].error);
  for (guint i = 0; i < n; i++)
    if (items[i].fd >= 0 &&
        !nlx_file_sync_temporary (items[i].tmp, items[i].fd, TRUE,
                                  items[i].error))
      g_clear_pointer (&items[i].tmp, g_free);
  for (guint i = 0; i < n; i++)
    items[i].fd = -1;
}

static void
rename_item (Item *item)
{
  if (*item->error == NULL && item->file != NULL && item->file->error != NULL)
    *item->error = g_error_copy (item->file->error);
  if (*item->error != NULL)
    {
      /* The record only if the file that goes with it is on disk. */
      if (item->tmp != NULL)
        g_unlink (item->tmp);
      return;
    }
  if (item->data != NULL)
    {
      if (nlx_file_rename_temporary (item->tmp, item->path, item->error))
        *item->changed = TRUE;
      return;
    }
  if (g_unlink (item->path) == 0)
    *item->changed = TRUE;
  /* Deleting what is not there succeeds. */
  else if (errno != ENOENT)
    g_set_error (item->error, G_FILE_ERROR, g_file_error_from_errno (errno),
                 _("Cannot delete instance record %s: %s"), item->path,
                 g_strerror (errno));
}

/* The directories of the files renamed, each synced once; a failure
 * fails the files renamed in it. */
static void
sync_file_dirs (Item *items,
                guint n)
{
  g_autoptr(GHashTable) dirs = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                      g_free, NULL);

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *dir = g_path_get_dirname (items[i].path);
      g_autoptr(GError) error = NULL;

      if (!*items[i].changed || g_hash_table_contains (dirs, dir))
        continue;
      if (nlx_file_sync_dir (dir, &error))
        {
          g_hash_table_add (dirs, g_steal_pointer (&dir));
          continue;
        }
      for (guint j = i; j < n; j++)
        {
          g_autofree char *its_dir = g_path_get_dirname (items[j].path);

          if (*items[j].changed && g_str_equal (its_dir, dir))
            {
              *items[j].changed = FALSE;
              g_clear_error (items[j].error);
              *items[j].error = g_error_copy (error);
            }
        }
    }
}

/* In the writer thread, without the lock: everything @round holds, and
 * each change's error.  The other files first (the address
 * allocations), durable before any record is renamed; then the records,
 * each its temporary file, fsync and rename, or its unlink; then one
 * fsync of the records' directory for them all.  Returns how many
 * records were written. */
static guint
write_round (NlxStore *store,
             Round *round)
{
  guint files = round->file_order->len;
  guint n = files + round->record_order->len;
  g_autofree Item *items = g_new0 (Item, n);
  g_autoptr(GError) sync_error = NULL;
  guint changed = 0;

  for (guint i = 0; i < files; i++)
    {
      const char *path = round->file_order->pdata[i];
      FileChange *change = g_hash_table_lookup (round->files, path);

      items[i] = (Item) { g_strdup (path), change->data, &change->error,
                          &change->changed, NULL, NULL, -1 };
    }
  for (guint i = files; i < n; i++)
    {
      const char *uuid = round->record_order->pdata[i - files];
      Change *change = g_hash_table_lookup (round->records, uuid);

      items[i] = (Item) { record_path (store, uuid), change->data,
                          &change->error, &change->changed,
                          change->file_path
                            ? g_hash_table_lookup (round->files,
                                                   change->file_path)
                            : NULL,
                          NULL, -1 };
    }

  /* The files ride in the first chunk with the records. */
  for (guint start = 0; start < n;)
    {
      guint end = MIN (n, MAX (start, files) + CHUNK);

      write_temporaries (items + start, end - start);
      if (start == 0)
        {
          for (guint i = 0; i < files; i++)
            rename_item (&items[i]);
          sync_file_dirs (items, files);
        }
      for (guint i = MAX (start, files); i < end; i++)
        {
          rename_item (&items[i]);
          changed += *items[i].changed;
        }
      start = end;
    }

  /* One fsync of the directory makes every rename and unlink of the
   * round durable; without it none may be acknowledged. */
  if (changed > 0 && !nlx_file_sync_dir (store->dir, &sync_error))
    for (guint i = files; i < n; i++)
      if (*items[i].changed && *items[i].error == NULL)
        *items[i].error = g_error_copy (sync_error);
  for (guint i = 0; i < n; i++)
    {
      g_free (items[i].path);
      g_free (items[i].tmp);
    }
  return changed;
}

/* The error @waiter's change met in @round, if any. */
static GError *
waiter_error (Round *round,
              Waiter *waiter)
{
  if (waiter->file_path != NULL)
    {
      FileChange *file = g_hash_table_lookup (round->files, waiter->file_path);

      if (file->error != NULL)
        return g_error_copy (file->error);
    }
  if (waiter->uuid != NULL)
    {
      Change *change = g_hash_table_lookup (round->records, waiter->uuid);

      if (change->error != NULL)
        return g_error_copy (change->error);
    }
  return NULL;
}

static gpointer
writer (gpointer data)
{
  NlxStore *store = data;

  g_mutex_lock (&store->lock);
  for (;;)
    {
      Round *round;
      guint written;

      if (store->held && store->stopping)
        store->held = FALSE;
      if (store->held || round_is_empty (store->next))
        {
          if (store->stopping && !store->held)
            break;
          g_cond_wait (&store->changed, &store->lock);
          continue;
        }
      /* What is asked for from now on waits for the next round. */
      round = store->writing = store->next;
      store->next = round_new ();
      g_mutex_unlock (&store->lock);

      written = write_round (store, round);

      g_mutex_lock (&store->lock);
      store->stats.rounds++;
      store->stats.records_written += written;
      store->stats.files_written += round->file_order->len;
      for (guint i = 0; i < round->record_order->len; i++)
        {
          const char *uuid = round->record_order->pdata[i];
          Change *change = g_hash_table_lookup (round->records, uuid);

          if (change->error != NULL || change->data == NULL)
            g_hash_table_remove (store->durable, uuid);
          else
            g_hash_table_insert (store->durable, g_strdup (uuid),
                                 g_strdup (change->digest));
        }
      g_mutex_unlock (&store->lock);

      /* Handed back in the callers' main contexts, in the order asked
       * (GTask queues each at the same priority), before the round is
       * over, so that a flush finds them queued. */
      for (guint i = 0; i < round->waiters->len; i++)
        {
          Waiter *waiter = round->waiters->pdata[i];
          GError *error = waiter_error (round, waiter);

          if (waiter->task == NULL)
            {
              waiter->error = error;
              continue;
            }
          if (error == NULL)
            g_task_return_boolean (waiter->task, TRUE);
          else
            g_task_return_error (waiter->task, error);
          waiter_free (waiter);
          round->waiters->pdata[i] = NULL;
        }

      g_mutex_lock (&store->lock);
      for (guint i = 0; i < round->waiters->len; i++)
        if (round->waiters->pdata[i] != NULL)
          ((Waiter *) round->waiters->pdata[i])->done = TRUE;
      store->writing = NULL;
      round_free (round);
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
  store->next = round_new ();
  store->durable = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                          g_free);
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
  while (!round_is_empty (store->next) || store->writing != NULL)
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
  round_free (store->next);
  g_hash_table_unref (store->durable);
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
 * not answered yet; what is asked for queues up, for one round.
 * nlx_store_free() releases it; nlx_store_flush() waits for it to be
 * released.
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

/* How many saves and deletes are queued or being written (each caller's
 * counts, however many are written together). */
guint
nlx_store_count_pending (NlxStore *store)
{
  guint count;

  g_mutex_lock (&store->lock);
  count = store->next->waiters->len +
          (store->writing != NULL ? store->writing->waiters->len : 0);
  g_mutex_unlock (&store->lock);
  return count;
}

/**
 * nlx_store_get_stats:
 *
 * How much the store has written: rounds, records written (or
 * unlinked), other files written and saves that found the record on
 * disk already.  For benchmarks and tests.
 */
void
nlx_store_get_stats (NlxStore *store,
                     NlxStoreStats *stats)
{
  g_mutex_lock (&store->lock);
  *stats = store->stats;
  g_mutex_unlock (&store->lock);
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

static char *
record_text_unchecked (const NlxRecord *record)
{
  g_autoptr(JsonNode) node = nlx_record_to_node (record);

  return json_to_string (node, TRUE);
}

/* The record's text, if nlx_store_load_all() would read back the same
 * record: a record the daemon cannot read makes its server vanish at the
 * next start while its container runs on. */
static char *
record_text (const NlxRecord *record,
             GError **error)
{
  g_autofree char *data = record_text_unchecked (record);
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

/* Under the lock: whether a change of @uuid is asked for and not yet
 * answered. */
static gboolean
is_pending (NlxStore *store,
            const char *uuid)
{
  return g_hash_table_contains (store->next->records, uuid) ||
         (store->writing != NULL &&
          g_hash_table_contains (store->writing->records, uuid));
}

/**
 * nlx_store_is_saved:
 *
 * Whether the disk holds @record as it is, durably, with no change of
 * it on its way: saving it again would write the same bytes.
 */
gboolean
nlx_store_is_saved (NlxStore *store,
                    const NlxRecord *record)
{
  g_autofree char *data = record_text_unchecked (record);
  g_autofree char *digest = digest_of (data);
  const char *uuid = record->instance->uuid;
  gboolean saved;

  g_mutex_lock (&store->lock);
  saved = !is_pending (store, uuid) &&
          g_strcmp0 (g_hash_table_lookup (store->durable, uuid), digest) == 0;
  g_mutex_unlock (&store->lock);
  return saved;
}

/* Adds a caller to the next round: @uuid's record becomes @data (NULL:
 * deleted), @file_path becomes @file_data; either may be NULL.  Takes
 * @waiter. */
static void
push (NlxStore *store,
      Waiter *waiter,
      char *data,
      const char *file_data)
{
  Round *round;

  g_mutex_lock (&store->lock);
  round = store->next;
  if (waiter->file_path != NULL)
    {
      FileChange *file = g_hash_table_lookup (round->files, waiter->file_path);

      if (file == NULL)
        {
          char *key = g_strdup (waiter->file_path);

          file = g_new0 (FileChange, 1);
          g_hash_table_insert (round->files, key, file);
          g_ptr_array_add (round->file_order, key);
        }
      g_free (file->data);
      file->data = g_strdup (file_data);
    }
  if (waiter->uuid != NULL)
    {
      Change *change = g_hash_table_lookup (round->records, waiter->uuid);

      if (change == NULL)
        {
          char *key = g_strdup (waiter->uuid);

          change = g_new0 (Change, 1);
          g_hash_table_insert (round->records, key, change);
          g_ptr_array_add (round->record_order, key);
        }
      g_free (change->data);
      g_free (change->digest);
      change->data = data;
      change->digest = data ? digest_of (data) : NULL;
      /* The earlier change's file still goes first. */
      if (waiter->file_path != NULL)
        {
          g_free (change->file_path);
          change->file_path = g_strdup (waiter->file_path);
        }
    }
  else
    g_free (data);
  g_ptr_array_add (round->waiters, waiter);
  g_cond_broadcast (&store->changed);
  g_mutex_unlock (&store->lock);
}

static Waiter *
waiter_new (const char *uuid,
            const char *file_path,
            GTask *task)
{
  Waiter *waiter = g_new0 (Waiter, 1);

  waiter->uuid = g_strdup (uuid);
  waiter->file_path = g_strdup (file_path);
  waiter->task = task;
  return waiter;
}

/* Queues a synchronous @waiter and waits until its round is written. */
static gboolean
run (NlxStore *store,
     Waiter *waiter,
     char *data,
     GError **error)
{
  gboolean ok;

  push (store, waiter, data, NULL);
  g_mutex_lock (&store->lock);
  while (!waiter->done)
    g_cond_wait (&store->changed, &store->lock);
  g_mutex_unlock (&store->lock);
  ok = waiter->error == NULL;
  if (!ok)
    g_propagate_error (error, g_steal_pointer (&waiter->error));
  waiter_free (waiter);
  return ok;
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
  return run (store, waiter_new (record->instance->uuid, NULL, NULL), data,
              error);
}

/**
 * nlx_store_save_async:
 * @callback: called in the thread-default main context once the record
 *   is on disk, or could not be written
 *
 * Saves the record as it is now (it may change or go as soon as this
 * returns), in the writer thread, in the next round of writes: together
 * with whatever else is asked for meanwhile, and after every save and
 * delete asked for before.  nlx_store_save_finish() says how it went.
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

  g_task_set_source_tag (task, nlx_store_save_async);
  if (text == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  push (store, waiter_new (record->instance->uuid, path,
                           g_steal_pointer (&task)),
        text, data);
}

/**
 * nlx_store_write_file_async:
 * @path: another file of the state (the address allocations)
 * @data: its text
 *
 * Replaces @path with @data durably (0600), in the next round of writes,
 * before its records.  Finish with nlx_store_save_finish().
 */
void
nlx_store_write_file_async (NlxStore *store,
                            const char *path,
                            const char *data,
                            GAsyncReadyCallback callback,
                            gpointer user_data)
{
  GTask *task = g_task_new (NULL, NULL, callback, user_data);

  g_task_set_source_tag (task, nlx_store_write_file_async);
  push (store, waiter_new (NULL, path, task), NULL, data);
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
  return run (store, waiter_new (uuid, NULL, NULL), NULL, error);
}

/**
 * nlx_store_delete_async:
 *
 * Deletes the record of @uuid in the next round of writes, so that no
 * save asked for before brings it back.
 */
void
nlx_store_delete_async (NlxStore *store,
                        const char *uuid,
                        GAsyncReadyCallback callback,
                        gpointer user_data)
{
  GTask *task = g_task_new (NULL, NULL, callback, user_data);

  g_task_set_source_tag (task, nlx_store_delete_async);
  push (store, waiter_new (uuid, NULL, task), NULL, NULL);
}

gboolean
nlx_store_delete_finish (NlxStore *store G_GNUC_UNUSED,
                         GAsyncResult *result,
                         GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* For the loader (nlx-store-load.c). */
const char *
nlx_store_get_dir (NlxStore *store)
{
  return store->dir;
}

/**
 * nlx_store_note_on_disk:
 * @data: the text of @uuid's record as the loader read it
 *
 * For the loader: the disk holds @data for @uuid, so a save of the same
 * text writes nothing (nlx_store_is_saved()).
 */
void
nlx_store_note_on_disk (NlxStore *store,
                        const char *uuid,
                        const char *data)
{
  g_mutex_lock (&store->lock);
  g_hash_table_insert (store->durable, g_strdup (uuid), digest_of (data));
  g_mutex_unlock (&store->lock);
}
