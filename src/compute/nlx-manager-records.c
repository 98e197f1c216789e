/* nlx-manager-records.c: saving instance records, and one change at a time
 * per record: a change a caller asks for is on disk before it is
 * acknowledged, and others wait for it (Entry.committing) */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "compute/nlx-manager-private.h"

static void
call_free (Call *call)
{
  g_free (call->uuid);
  g_free (call->name);
  g_free (call->volume_id);
  g_free (call->device);
  g_free (call->mount_path);
  nlx_instance_free (call->instance);
  nlx_image_free (call->image);
  g_clear_pointer (&call->metadata, g_hash_table_unref);
  g_free (call->backup_type);
  nlx_manager_caller_free (call->caller);
  g_free (call->description);
  g_free (call->hostname);
  g_free (call->access_ipv4);
  g_free (call->access_ipv6);
  g_free (call->locked_by);
  g_free (call->locked_reason);
  g_clear_pointer (&call->tags, g_ptr_array_unref);
  g_free (call->tag);
  g_free (call);
}

GTask *
nlx_manager_call_new (void (*run) (NlxManager *manager,
                                   GTask *task),
                      const char *uuid,
                      gpointer source_tag,
                      GAsyncReadyCallback callback,
                      gpointer user_data,
                      Call **call)
{
  GTask *task = g_task_new (NULL, NULL, callback, user_data);

  *call = g_new0 (Call, 1);
  (*call)->run = run;
  (*call)->uuid = g_strdup (uuid);
  g_task_set_source_tag (task, source_tag);
  g_task_set_task_data (task, *call, (GDestroyNotify) call_free);
  return task;
}

static void
touch (NlxRecord *record)
{
  g_clear_pointer (&record->updated_at, g_date_time_unref);
  record->updated_at = g_date_time_new_now_utc ();
  nlx_record_changed (record);
}

static gboolean retry_saves (gpointer data);

static void announce_power_state (NlxManager *manager,
                                  Entry *entry);

static void resume (NlxManager *manager,
                    const char *uuid);

/* The entry of @uuid, if it is still the one numbered @serial. */
static Entry *
lookup_serial (NlxManager *manager,
               const char *uuid,
               guint64 serial)
{
  Entry *entry = g_hash_table_lookup (manager->entries, uuid);

  return entry != NULL && entry->serial == serial ? entry : NULL;
}

/* A save on its way to disk (nlx-store.c writes them in a thread of its
 * own, in order: the main loop serves other requests meanwhile). */
typedef struct {
  NlxManager *manager;
  char *uuid;
  guint64 serial;
  /* nlx_manager_commit(): the record as before the change, what to do next */
  JsonNode *before;
  /* Readers do not see the change until it lands (Entry.hiding). */
  gboolean hides;
  void (*done) (NlxManager *manager,
                Entry *entry,
                GError *error,
                gpointer data);
  gpointer data;
} Save;

static void
save_free (Save *save)
{
  nlx_manager_unref (save->manager);
  g_free (save->uuid);
  g_clear_pointer (&save->before, json_node_unref);
  g_free (save);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Save, save_free)

static Save *
save_new (NlxManager *manager,
          Entry *entry)
{
  Save *save = g_new0 (Save, 1);

  save->manager = nlx_manager_ref (manager);
  save->uuid = g_strdup (entry->record->instance->uuid);
  save->serial = entry->serial;
  return save;
}

static void
arm_retry (NlxManager *manager)
{
  if (manager->save_source == NULL && !manager->closed)
    {
      manager->save_source = g_timeout_source_new_seconds (1);
      g_source_set_callback (manager->save_source, retry_saves, manager, NULL);
      g_source_attach (manager->save_source, manager->context);
    }
}

/* A save that hid its change from readers (Entry.hiding) is done, or
 * failed: once none is left, they see the record as memory has it. */
static void
unhide (Entry *entry)
{
  g_assert (entry->hiding > 0);
  if (--entry->hiding == 0)
    g_clear_pointer (&entry->shown, nlx_record_free);
}

static void
saved (GObject *source G_GNUC_UNUSED,
       GAsyncResult *result,
       gpointer data)
{
  g_autoptr(Save) save = data;
  NlxManager *manager = save->manager;
  g_autoptr(GError) error = NULL;
  Entry *entry = lookup_serial (manager, save->uuid, save->serial);

  if (entry != NULL && save->hides)
    {
      unhide (entry);
      announce_power_state (manager, entry);
    }
  /* In order, so the last one to finish says how the disk stands. */
  if (nlx_store_save_finish (manager->store, result, &error))
    {
      if (entry != NULL && entry->unsaved)
        g_message ("Instance %s: its record is saved again", save->uuid);
      if (entry != NULL)
        entry->unsaved = FALSE;
      return;
    }
  if (entry == NULL)
    return;
  if (!entry->unsaved)
    g_warning ("Instance %s: cannot save its record: %s; make room on the "
               "filesystem of state_path or repair it; retrying",
               save->uuid, error->message);
  entry->unsaved = TRUE;
  arm_retry (manager);
}

static void
addresses_saved (GObject *source G_GNUC_UNUSED,
                 GAsyncResult *result,
                 gpointer data)
{
  NlxManager *manager = data;
  g_autoptr(GError) error = NULL;

  if (nlx_store_save_finish (manager->store, result, &error))
    {
      manager->addresses_unsaved = FALSE;
    }
  else
    {
      if (!manager->addresses_unsaved)
        g_warning ("Cannot save the address allocations: %s; retrying (the "
                   "servers' records keep their addresses, and the next start "
                   "rebuilds the file from them)", error->message);
      manager->addresses_unsaved = TRUE;
      arm_retry (manager);
    }
  nlx_manager_unref (manager);
}

/* Writes the address allocations as memory has them, in order with the
 * records' saves and deletes. */
void
nlx_manager_save_addresses (NlxManager *manager)
{
  g_autofree char *data = nlx_ipam_to_data (manager->ipam);

  nlx_store_write_file_async (manager->store,
                              nlx_ipam_get_path (manager->ipam), data,
                              addresses_saved, nlx_manager_ref (manager));
}

/* Saves what an operation's end, a sync or a restart changed: it has
 * happened on the host, so memory keeps it, and a failed save is retried
 * every second until it works.  The record on disk meanwhile is older,
 * and a restart reconciles it with what runs.  A record the disk holds
 * as it is already (a restart that found everything as recorded) is
 * neither touched nor written again. */
/* The one place every recorded power state passes (an operation's end,
 * a sync, a driver event, a restart's reconciling all save): the watcher
 * hears each change once, in the order they were recorded. */
static void
announce_power_state (NlxManager *manager,
                      Entry *entry)
{
  NlxPowerState before = entry->announced_power_state;
  NlxPowerState after = entry->record->power_state;

  if (before == after || entry->creating || entry->forgetting)
    return;
  entry->announced_power_state = after;
  if (manager->power_watch != NULL)
    manager->power_watch (entry->record->instance->uuid, before, after,
                          manager->power_watch_data);
}

/**
 * nlx_manager_watch_power_states:
 * @func: (nullable): called on every change from now on; %NULL to stop
 * @data: for @func
 *
 * One watcher at a time (the API's event streams).
 */
void
nlx_manager_watch_power_states (NlxManager *manager,
                                NlxManagerPowerFunc func,
                                gpointer data)
{
  manager->power_watch = func;
  manager->power_watch_data = data;
}

void
nlx_manager_save (NlxManager *manager,
                  Entry *entry)
{
  announce_power_state (manager, entry);
  if (nlx_store_is_saved (manager->store, entry->record))
    {
      entry->unsaved = FALSE;
      return;
    }
  touch (entry->record);
  nlx_store_save_async (manager->store, entry->record, saved,
                        save_new (manager, entry));
}

/* Saves an operation's end (a build's: apply_job()) as
 * nlx_manager_save() does, but readers see @before (transfer full: the
 * record as it was before the end) until the save lands, and the
 * watcher hears of the new power state only then: the API shows no end
 * that a restart would not find.  Before, a build shown ACTIVE whose end
 * a crash kept off the disk came back from the restart in ERROR.  A save
 * that fails shows the end all the same: it has happened, and is saved
 * once the disk allows. */
void
nlx_manager_save_end (NlxManager *manager,
                      Entry *entry,
                      NlxRecord *before)
{
  Save *save;

  if (entry->shown == NULL)
    entry->shown = before;
  else
    nlx_record_free (before);
  entry->hiding++;
  save = save_new (manager, entry);
  save->hides = TRUE;
  touch (entry->record);
  nlx_store_save_async (manager->store, entry->record, saved, save);
}

/* Puts back the record as @before has it, keyed anew (the table's key is
 * the record's own uuid string). */
static void
restore (NlxManager *manager,
         Entry *entry,
         JsonNode *before)
{
  g_autoptr(GError) error = NULL;
  NlxRecord *old = nlx_record_new_from_node (before, &error);

  /* It was written by nlx_record_to_node() a moment ago. */
  g_return_if_fail (old != NULL);
  g_hash_table_steal (manager->entries, entry->record->instance->uuid);
  nlx_record_free (entry->record);
  entry->record = old;
  g_hash_table_insert (manager->entries, old->instance->uuid, entry);
}

static void
committed (GObject *source G_GNUC_UNUSED,
           GAsyncResult *result,
           gpointer data)
{
  g_autoptr(Save) save = data;
  NlxManager *manager = save->manager;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GError) error = NULL;
  Entry *entry = lookup_serial (manager, save->uuid, save->serial);

  if (!nlx_store_save_finish (manager->store, result, &local_error))
    g_set_error (&error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                 _("Cannot save the record of server %s, so nothing "
                   "was changed: %s; make room on the filesystem of "
                   "state_path or repair it, then try again"),
                 save->uuid, local_error->message);
  /* Nothing else changed the record meanwhile (see Entry). */
  if (entry != NULL)
    {
      entry->committing = FALSE;
      unhide (entry);
      if (error == NULL)
        entry->unsaved = FALSE;
      else if (save->before != NULL)
        restore (manager, entry, save->before);
    }
  save->done (manager, entry, error, save->data);
  resume (manager, save->uuid);
}

/* Saves a change a caller asked for before it is acknowledged, in the
 * store's writer thread; @done runs in the main loop once it is on disk,
 * with @error %NULL, or when it cannot be saved, with the record back as
 * @before has it (as before the change), so that nothing changed, in
 * memory or on disk, and the caller gets the error.  Until then nothing
 * else changes the record.  @before is %NULL for a new record, which
 * @done removes if it cannot be saved.  With @addresses, the address
 * allocations are written first, and the record only if they could be. */
void
nlx_manager_commit_full (NlxManager *manager,
                         Entry *entry,
                         JsonNode *before,
                         gboolean addresses,
                         void (*done) (NlxManager *manager,
                                       Entry *entry,
                                       GError *error,
                                       gpointer data),
                         gpointer data)
{
  Save *save = save_new (manager, entry);
  g_autofree char *file_data = addresses ? nlx_ipam_to_data (manager->ipam)
                                         : NULL;

  g_assert (!entry->committing);
  save->before = before ? json_node_ref (before) : NULL;
  save->done = done;
  save->data = data;
  entry->committing = TRUE;
  if (before != NULL && entry->shown == NULL)
    entry->shown = nlx_record_new_from_node (before, NULL);
  entry->hiding++;
  announce_power_state (manager, entry);
  touch (entry->record);
  nlx_store_save_with_file_async (manager->store, entry->record,
                                  addresses ? nlx_ipam_get_path (manager->ipam)
                                            : NULL,
                                  file_data, committed, save);
}

void
nlx_manager_commit (NlxManager *manager,
                    Entry *entry,
                    JsonNode *before,
                    void (*done) (NlxManager *manager,
                                  Entry *entry,
                                  GError *error,
                                  gpointer data),
                    gpointer data)
{
  nlx_manager_commit_full (manager, entry, before, FALSE, done, data);
}

/* A nlx_manager_commit() whose caller waits on @data, a GTask, and
 * nothing else. */
void
nlx_manager_answer_committed (NlxManager *manager G_GNUC_UNUSED,
                              Entry *entry,
                              GError *error,
                              gpointer data)
{
  g_autoptr(GTask) task = data;

  if (error != NULL)
    g_task_return_error (task, g_error_copy (error));
  else if (entry == NULL)
    g_task_return_new_error (task, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_NOT_FOUND,
                             _("The server was deleted meanwhile"));
  else
    g_task_return_boolean (task, TRUE);
}

/* Drops @uuid's entry from memory; the changes waiting for it run, and
 * find it gone. */
void
nlx_manager_remove_entry (NlxManager *manager,
                          const char *uuid)
{
  Entry *entry = g_hash_table_lookup (manager->entries, uuid);
  GQueue waiting = G_QUEUE_INIT;
  GTask *task;

  if (entry != NULL)
    {
      waiting = entry->waiting;
      g_queue_init (&entry->waiting);
    }
  g_hash_table_remove (manager->entries, uuid);
  while ((task = g_queue_pop_head (&waiting)) != NULL)
    {
      Call *call = g_task_get_task_data (task);

      call->run (manager, task);
      g_object_unref (task);
    }
}

typedef struct {
  NlxManager *manager;
  char *uuid;
} Forget;

static void
forgotten (GObject *source G_GNUC_UNUSED,
           GAsyncResult *result,
           gpointer data)
{
  Forget *forget = data;
  NlxManager *manager = forget->manager;
  g_autoptr(GError) error = NULL;

  if (!nlx_store_delete_finish (manager->store, result, &error))
    g_warning ("Instance %s: %s", forget->uuid, error->message);
  else if (nlx_ipam_lookup (manager->ipam, forget->uuid) != NULL)
    {
      nlx_ipam_release (manager->ipam, forget->uuid, NULL);
      nlx_manager_save_addresses (manager);
    }
  /* Gone from the API with its address, as one step. */
  nlx_manager_remove_entry (manager, forget->uuid);
  nlx_manager_unref (manager);
  g_free (forget->uuid);
  g_free (forget);
}

/* Drops a deleted instance's record, then its address and its entry: a
 * crash in between leaves an address without a record, which the next
 * start releases.  The delete reaches the disk after every save of the
 * record asked for before, so none of them brings it back, and none is
 * asked for after (Entry.forgetting). */
void
nlx_manager_forget (NlxManager *manager,
                    const char *uuid)
{
  Forget *forget = g_new0 (Forget, 1);

  Entry *entry = g_hash_table_lookup (manager->entries, uuid);

  forget->manager = nlx_manager_ref (manager);
  forget->uuid = g_strdup (uuid);
  entry->forgetting = TRUE;
  nlx_store_delete_async (manager->store, uuid, forgotten, forget);
}

/* The change being saved on @uuid's record is done: what waited for it
 * runs, in order, until one of them starts saving a change again. */
static void
resume (NlxManager *manager,
        const char *uuid)
{
  g_autofree char *key = g_strdup (uuid);
  Entry *entry;

  while ((entry = g_hash_table_lookup (manager->entries, key)) != NULL &&
         !entry->committing && !entry->forgetting)
    {
      Job *job = g_queue_pop_head (&entry->deferred);
      GTask *task;

      if (job != NULL)
        {
          nlx_manager_job_done (job);
          continue;
        }
      task = g_queue_pop_head (&entry->waiting);
      if (task == NULL)
        break;
      ((Call *) g_task_get_task_data (task))->run (manager, task);
      g_object_unref (task);
    }
}

/* Runs the change @task asks for now, or once the change being saved on
 * its record is done. */
void
nlx_manager_start_call (NlxManager *manager,
                        GTask *task)
{
  Call *call = g_task_get_task_data (task);
  Entry *entry = NULL;

  nlx_manager_note_caller (manager, call);
  if (call->uuid != NULL && g_uuid_string_is_valid (call->uuid))
    {
      g_autofree char *lower = g_ascii_strdown (call->uuid, -1);

      entry = g_hash_table_lookup (manager->entries, lower);
    }
  if (entry != NULL && (entry->committing || entry->forgetting ||
                        entry->deferred.length > 0 ||
                        entry->waiting.length > 0))
    {
      g_queue_push_tail (&entry->waiting, g_object_ref (task));
      return;
    }
  call->run (manager, task);
}

static gboolean
retry_saves (gpointer data)
{
  NlxManager *manager = data;
  GHashTableIter iter;
  Entry *entry;

  /* A failure arms this again. */
  g_clear_pointer (&manager->save_source, g_source_unref);
  g_hash_table_iter_init (&iter, manager->entries);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &entry))
    if (entry->unsaved && !entry->committing && !entry->forgetting)
      nlx_manager_save (manager, entry);
  if (manager->addresses_unsaved)
    nlx_manager_save_addresses (manager);
  return G_SOURCE_REMOVE;
}
