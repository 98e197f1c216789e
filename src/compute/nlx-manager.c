/* nlx-manager.c: instance records, states and operations on one host
 *
 * Like Nova's compute manager.  Records live in the main thread and
 * change only there; every driver call that can block runs in a worker
 * thread and hands its result back to the main context.  An instance has
 * at most one operation at a time (its task state says which), and its
 * record is saved durably before the operation starts and after it ends,
 * so a restart finds out what was interrupted and reconciles it with the
 * driver: the store says what was asked, the driver what runs. */
#include "config.h"

#include <errno.h>
#include <sys/random.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>

#include "common/nlx-file.h"
#include "model/nlx-image.h"
#include "storage/nlx-image-store.h"
#include "common/nlx-json.h"
#include "model/nlx-keypair.h"
#include "common/nlx-lock.h"
#include "compute/nlx-manager.h"
#include "host/nlx-network.h"
#include "compute/nlx-store.h"
#include "storage/nlx-volume.h"

/* Workers run driver operations; a soft reboot can hold one for minutes,
 * so allow many. */
#define MAX_WORKERS 64

typedef struct {
  NlxRecord *record;
  /* Bumped whenever an operation starts or ends, so that a power state
   * read before then is not applied afterwards. */
  guint64 generation;
  /* A delete asked for while another operation ran. */
  gboolean delete_pending;
  /* The hypervisor went away during the last operation, so how it ended
   * is unknown: the task state stays until the hypervisor answers and
   * says what runs (reconcile_awaiting()). */
  gboolean awaiting_hypervisor;
  /* The record in memory is newer than on disk: a save after an
   * operation failed, and is retried. */
  gboolean unsaved;
  /* Which entry of this uuid, for saves that finish after it is gone. */
  guint64 serial;
  /* A change a caller asked for is being saved (commit()), and until it
   * is, nothing else changes the record: other asked changes wait in
   * @waiting (GTask, each with a Call), finished operations in @deferred
   * (Job), and syncs leave it alone.  So a failed save puts back exactly
   * the record as it was before that change. */
  gboolean committing;
  GQueue waiting;
  GQueue deferred;
  /* Created, and not saved yet: nobody sees it. */
  gboolean creating;
  /* Deleted, its record on its way off the disk (forget()): nothing
   * changes or saves it any more; it goes, and its address with it,
   * once the record is gone. */
  gboolean forgetting;
  /* While committing: the record as it was before the change, which
   * readers see until the change is saved (it may yet be undone). */
  NlxRecord *shown;
  /* The name of the image a snapshot in progress makes, so that a
   * createImage retried meanwhile hears which. */
  char *snapshot_name;
} Entry;

struct _NlxManager {
  const NlxConfig *config;
  NlxVirt *virt;
  NlxVolumeSettings *volumes;
  NlxLock *volumes_lock;        /* one daemon hands out these volumes */
  NlxImageStore *images;
  NlxNetworkSettings *network;
  NlxIpam *ipam;                /* addresses, held from create to delete */
  NlxStore *store;
  NlxKeypairs *keypairs;        /* every user's, written by the store */
  GMainContext *context;
  GHashTable *entries;          /* uuid -> Entry */
  /* uuids of records that could not be read: their servers are left
   * alone and keep their addresses */
  GHashTable *quarantined;
  GThreadPool *workers;
  guint running;                /* operations in workers */
  GSource *sync_source;
  GSource *retry_source;
  GSource *save_source;         /* retries records that could not be saved */
  guint64 next_serial;
  /* The address file is older than the allocations in memory. */
  gboolean addresses_unsaved;
  GHashTable *images_deleting;  /* ids of the images a worker deletes */
  /* Whether the last driver call reached the hypervisor; while not, new
   * operations are refused rather than failed half-way. */
  gboolean available;
  char *host;
  /* Remote console tokens: token -> ConsoleToken; main thread only */
  GHashTable *console_tokens;
  /* The host's size, as the driver last reported it (at start, and at
   * each read of the hypervisor statistics): what claims are held
   * against. */
  guint host_vcpus;
  guint64 host_memory_mb;
  guint64 host_local_gb;
  /* Keeps the manager alive while events are queued to the main context. */
  gatomicrefcount refs;
  gboolean closed;
};

typedef enum {
  JOB_SPAWN,
  JOB_ACTION,
  JOB_SYNC,
  JOB_VOLUME,
  JOB_REBUILD,
  JOB_SNAPSHOT,
} JobKind;

typedef struct {
  char *uuid;
  guint64 generation;
  NlxInstanceInfo info;
  char *fault;                  /* the driver's, when it stopped by failing */
  GError *error;
} SyncResult;

static gboolean
is_unavailable (const GError *error)
{
  return g_error_matches (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_UNAVAILABLE);
}

typedef struct {
  NlxManager *manager;
  JobKind kind;
  char *uuid;
  NlxAction action;
  NlxInstance *instance;        /* JOB_SPAWN, JOB_REBUILD: a copy */
  NlxImage *image;              /* JOB_SPAWN, JOB_REBUILD */
  gboolean stop_after;          /* JOB_REBUILD: it was SHUTOFF */
  GPtrArray *sync;              /* JOB_SYNC: SyncResult */
  NlxVolumeAttachment *attachment; /* JOB_VOLUME: a copy for the worker */
  gboolean attach;              /* JOB_VOLUME: or detach */
  char *image_name;             /* JOB_SNAPSHOT: the new image's */
  GHashTable *properties;       /* JOB_SNAPSHOT: the new image's */
  NlxStoredImage *stored;       /* JOB_SNAPSHOT: the new image */
  GTask *task;                  /* JOB_VOLUME, JOB_SNAPSHOT: the caller */
  /* The caller answered once the job's task state is saved, before the
   * job runs (JOB_ACTION, JOB_REBUILD) */
  GTask *answer;
  /* JOB_VOLUME: a detach undoing an attachment whose record could not be
   * saved, and why */
  GError *undo_cause;
  guint64 generation;
  /* what the worker found */
  gboolean ok;
  GError *error;
  NlxInstanceInfo info;
  gboolean have_info;
  GError *info_error;           /* why there is no info */
  char *fault;                  /* the driver's, when it stopped by failing */
} Job;

/* A change a caller asked for, run when no other change to its record
 * is being saved (Entry.committing): the GTask's data. */
typedef struct _Call Call;
struct _Call {
  void (*run) (NlxManager *manager,
               GTask *task);
  char *uuid;
  char *name;
  char *volume_id;
  char *device;
  char *mount_path;
  NlxAction action;
  NlxInstance *instance;
  NlxImage *image;
  GHashTable *metadata;
};

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
  g_free (call);
}

static GTask *
call_new (void (*run) (NlxManager *manager,
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
sync_result_free (SyncResult *result)
{
  g_free (result->uuid);
  g_free (result->fault);
  g_clear_error (&result->error);
  g_free (result);
}

static void
job_free (Job *job)
{
  g_free (job->uuid);
  nlx_instance_free (job->instance);
  nlx_image_free (job->image);
  g_clear_pointer (&job->sync, g_ptr_array_unref);
  nlx_volume_attachment_free (job->attachment);
  g_free (job->image_name);
  g_clear_pointer (&job->properties, g_hash_table_unref);
  nlx_stored_image_free (job->stored);
  g_clear_object (&job->task);
  g_clear_object (&job->answer);
  g_clear_error (&job->error);
  g_clear_error (&job->info_error);
  g_clear_error (&job->undo_cause);
  g_free (job->fault);
  g_free (job);
}

static void job_free (Job *job);
static void fail_stopping (GTask *task);
static void set_host_size (NlxManager *manager,
                           const NlxHostResources *resources);
static void manager_unref (NlxManager *manager);

/* Its queues are empty unless the manager stops with them full. */
static void
entry_free (Entry *entry)
{
  GTask *task;
  Job *job;

  while ((task = g_queue_pop_head (&entry->waiting)) != NULL)
    {
      fail_stopping (task);
      g_object_unref (task);
    }
  while ((job = g_queue_pop_head (&entry->deferred)) != NULL)
    {
      NlxManager *manager = job->manager;

      job_free (job);
      manager_unref (manager);
    }
  nlx_record_free (entry->shown);
  nlx_record_free (entry->record);
  g_free (entry->snapshot_name);
  g_free (entry);
}

static Entry *
entry_new (NlxManager *manager,
           NlxRecord *record)
{
  Entry *entry = g_new0 (Entry, 1);

  entry->record = record;
  entry->serial = ++manager->next_serial;
  g_queue_init (&entry->waiting);
  g_queue_init (&entry->deferred);
  return entry;
}

static NlxManager *
manager_ref (NlxManager *manager)
{
  g_atomic_ref_count_inc (&manager->refs);
  return manager;
}

static void
manager_unref (NlxManager *manager)
{
  if (!g_atomic_ref_count_dec (&manager->refs))
    return;
  g_free (manager->host);
  g_clear_pointer (&manager->console_tokens, g_hash_table_unref);
  g_clear_pointer (&manager->quarantined, g_hash_table_unref);
  g_clear_pointer (&manager->images_deleting, g_hash_table_unref);
  nlx_lock_release (manager->volumes_lock);
  nlx_volume_settings_free (manager->volumes);
  nlx_image_store_free (manager->images);
  nlx_ipam_free (manager->ipam);
  nlx_network_settings_free (manager->network);
  nlx_keypairs_free (manager->keypairs);
  g_free (manager);
}

/* ---- records ---------------------------------------------------------- */

static void
touch (NlxRecord *record)
{
  g_clear_pointer (&record->updated_at, g_date_time_unref);
  record->updated_at = g_date_time_new_now_utc ();
}

static gboolean retry_saves (gpointer data);
static void console_token_free (gpointer data);
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
  /* commit(): the record as before the change, what to do next */
  JsonNode *before;
  void (*done) (NlxManager *manager,
                Entry *entry,
                GError *error,
                gpointer data);
  gpointer data;
} Save;

static void
save_free (Save *save)
{
  manager_unref (save->manager);
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

  save->manager = manager_ref (manager);
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

static void
saved (GObject *source,
       GAsyncResult *result,
       gpointer data)
{
  g_autoptr(Save) save = data;
  NlxManager *manager = save->manager;
  g_autoptr(GError) error = NULL;
  Entry *entry = lookup_serial (manager, save->uuid, save->serial);

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
addresses_saved (GObject *source,
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
  manager_unref (manager);
}

/* Writes the address allocations as memory has them, in order with the
 * records' saves and deletes. */
static void
save_addresses (NlxManager *manager)
{
  g_autofree char *data = nlx_ipam_to_data (manager->ipam);

  nlx_store_write_file_async (manager->store,
                              nlx_ipam_get_path (manager->ipam), data,
                              addresses_saved, manager_ref (manager));
}

/* Saves what an operation's end, a sync or a restart changed: it has
 * happened on the host, so memory keeps it, and a failed save is retried
 * every second until it works.  The record on disk meanwhile is older,
 * and a restart reconciles it with what runs. */
static void
save (NlxManager *manager,
      Entry *entry)
{
  touch (entry->record);
  nlx_store_save_async (manager->store, entry->record, saved,
                        save_new (manager, entry));
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
committed (GObject *source,
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
      g_clear_pointer (&entry->shown, nlx_record_free);
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
static void
commit_full (NlxManager *manager,
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
  if (before != NULL)
    entry->shown = nlx_record_new_from_node (before, NULL);
  touch (entry->record);
  nlx_store_save_with_file_async (manager->store, entry->record,
                                  addresses ? nlx_ipam_get_path (manager->ipam)
                                            : NULL,
                                  file_data, committed, save);
}

static void
commit (NlxManager *manager,
        Entry *entry,
        JsonNode *before,
        void (*done) (NlxManager *manager,
                      Entry *entry,
                      GError *error,
                      gpointer data),
        gpointer data)
{
  commit_full (manager, entry, before, FALSE, done, data);
}

/* A commit() whose caller waits on @data, a GTask, and nothing else. */
static void
answer_committed (NlxManager *manager,
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

static void
set_fault (NlxRecord *record,
           const char *message)
{
  g_free (record->fault);
  record->fault = g_strdup (message);
}

static NlxVmState
vm_state_for (NlxPowerState power_state)
{
  switch (power_state)
    {
    case NLX_POWER_STATE_RUNNING:
      return NLX_VM_STATE_ACTIVE;
    case NLX_POWER_STATE_PAUSED:
      return NLX_VM_STATE_PAUSED;
    default:
      return NLX_VM_STATE_STOPPED;
    }
}

/* Brings an idle record in line with what the driver says runs, as Nova's
 * _sync_power_states does.  ERROR stays until someone acts on it. */
static gboolean
apply_power_state (NlxRecord *record,
                   NlxPowerState power_state)
{
  NlxVmState vm_state = vm_state_for (power_state);
  gboolean changed = record->power_state != power_state;

  record->power_state = power_state;
  if (record->vm_state != NLX_VM_STATE_ERROR &&
      record->vm_state != NLX_VM_STATE_BUILDING &&
      record->vm_state != vm_state)
    {
      g_message ("Instance %s is %s on the hypervisor; it was %s",
                 record->instance->uuid, nlx_power_state_to_string (power_state),
                 nlx_vm_state_to_string (record->vm_state));
      record->vm_state = vm_state;
      changed = TRUE;
    }
  return changed;
}

static Entry *
find (NlxManager *manager,
      const char *uuid,
      GError **error)
{
  Entry *entry = NULL;

  if (uuid != NULL && g_uuid_string_is_valid (uuid))
    {
      g_autofree char *lower = g_ascii_strdown (uuid, -1);

      entry = g_hash_table_lookup (manager->entries, lower);
    }
  /* Not there until its record is. */
  if (entry != NULL && entry->creating)
    entry = NULL;
  if (entry == NULL)
    g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_NOT_FOUND,
                 _("Instance %s could not be found."), uuid ? uuid : "");
  return entry;
}

/* ---- workers ---------------------------------------------------------- */

static gboolean job_done (gpointer data);

/* Attaches a timeout to the manager's context, never the global default
 * one: libvirt's event loop iterates that from its own thread. */
static GSource *
add_timeout (NlxManager *manager,
             guint seconds,
             GSourceFunc func)
{
  GSource *source = g_timeout_source_new_seconds (seconds);

  g_source_set_callback (source, func, manager, NULL);
  g_source_attach (source, manager->context);
  return source;
}

/* Runs @func in the manager's main context, always later.  Not
 * g_main_context_invoke(), which calls it at once, in the calling thread,
 * when nobody owns the context (as before the main loop starts). */
static void
defer (NlxManager *manager,
       GSourceFunc func,
       gpointer data)
{
  GSource *source = g_idle_source_new ();

  g_source_set_callback (source, func, data, NULL);
  g_source_attach (source, manager->context);
  g_source_unref (source);
}

static gboolean
run_action (NlxManager *manager,
            Job *job,
            GError **error)
{
  switch (job->action)
    {
    case NLX_ACTION_REBOOT_SOFT:
      return nlx_virt_reboot (manager->virt, job->uuid, NLX_REBOOT_SOFT, error);
    case NLX_ACTION_REBOOT_HARD:
      return nlx_virt_reboot (manager->virt, job->uuid, NLX_REBOOT_HARD, error);
    case NLX_ACTION_STOP:
      return nlx_virt_power_off (manager->virt, job->uuid,
                                 manager->config->shutdown_timeout_s, error);
    case NLX_ACTION_START:
      return nlx_virt_power_on (manager->virt, job->uuid, error);
    case NLX_ACTION_PAUSE:
      return nlx_virt_pause (manager->virt, job->uuid, error);
    case NLX_ACTION_UNPAUSE:
      return nlx_virt_unpause (manager->virt, job->uuid, error);
    case NLX_ACTION_DELETE:
      return nlx_virt_destroy (manager->virt, job->uuid, error);
    default:
      g_assert_not_reached ();
    }
}

/* Nova's default rebuild: the old root goes, a new one is spawned with
 * the same identity, address and volumes. */
static gboolean
rebuild (NlxManager *manager,
         Job *job,
         GError **error)
{
  return nlx_virt_destroy (manager->virt, job->uuid, error) &&
         nlx_virt_spawn (manager->virt, job->instance, job->image, error) &&
         (!job->stop_after ||
          nlx_virt_power_off (manager->virt, job->uuid, 0, error));
}

/* Whether @c can be part of a path in a message: messages quote paths
 * with “” or end them with ":", "," or a space. */
static gboolean
is_path_char (char c)
{
  return c != '\0' && !g_ascii_isspace (c) && strchr ("\"'“”:,;()", c) == NULL;
}

/* Image operations' messages reach API clients, for whom a path inside
 * the daemon's state or instances says nothing and shows the host's
 * layout.  The caller logs the whole message first; then each such path
 * in @error is replaced by what it is. */
static void
hide_internal_paths (NlxManager *manager,
                     GError *error)
{
  g_autofree char *snapshots = g_build_filename (manager->config->state_path,
                                                 "snapshots", NULL);
  g_autofree char *instances = g_key_file_get_string (manager->config->keyfile,
                                                      "DEFAULT",
                                                      "instances_path", NULL);
  /* The most particular first: the store and snapshots lie in the state. */
  const struct {
    const char *prefix;
    const char *label;
  } places[] = {
    { snapshots, _("the snapshot") },
    { nlx_image_store_get_dir (manager->images), _("the image store") },
    { manager->config->state_path, _("the compute service's state") },
    { instances != NULL && *instances != '\0' ? instances
                                              : NLX_STATE_DIR "/instances",
      _("the instance's files") },
  };
  g_autoptr(GString) text = NULL;
  const char *p;

  if (error == NULL)
    return;
  text = g_string_new (NULL);
  p = error->message;
  while (*p != '\0')
    {
      gboolean replaced = FALSE;

      for (guint i = 0; i < G_N_ELEMENTS (places) && !replaced; i++)
        {
          gsize length = strlen (places[i].prefix);

          if (length > 1 && strncmp (p, places[i].prefix, length) == 0 &&
              (p[length] == '/' || !is_path_char (p[length])) &&
              (p == error->message || !is_path_char (p[-1])))
            {
              g_string_append (text, places[i].label);
              for (p += length; is_path_char (*p); p++)
                ;
              replaced = TRUE;
            }
        }
      if (!replaced)
        g_string_append_c (text, *p++);
    }
  g_free (error->message);
  error->message = g_string_free (g_steal_pointer (&text), FALSE);
}

/* The driver writes the root as a tarball, which the store imports like
 * any other: the same checks, and stored by its checksum. */
static gboolean
snapshot (NlxManager *manager,
          Job *job,
          GError **error)
{
  g_autofree char *dir = g_build_filename (manager->config->state_path,
                                           "snapshots", job->uuid, NULL);
  g_autofree char *tarball = g_build_filename (dir, NLX_SNAPSHOT_FILE, NULL);
  g_autoptr(GError) local_error = NULL;
  gboolean ok;

  if (!nlx_file_remove_tree (dir, error))
    return FALSE;
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot create %s for a snapshot: %s"), dir,
                   g_strerror (saved_errno));
      return FALSE;
    }
  ok = nlx_virt_snapshot (manager->virt, job->uuid, dir, error) &&
       (job->stored = nlx_image_store_import (manager->images, tarball,
                                              job->image_name, job->properties,
                                              error)) != NULL;
  /* Left over, it is removed at the next start. */
  if (!nlx_file_remove_tree (dir, &local_error))
    g_warning ("Instance %s: %s", job->uuid, local_error->message);
  return ok;
}

/* Why an instance that does not run stopped, when the driver says it
 * failed by itself (an init that exited during boot); asked right after
 * get_info, so that both describe the same stop. */
static char *
fault_of (NlxManager *manager,
          const char *uuid,
          const NlxInstanceInfo *info)
{
  g_autoptr(GError) error = NULL;
  char *fault = NULL;

  if (info->state == NLX_POWER_STATE_RUNNING ||
      info->state == NLX_POWER_STATE_PAUSED)
    return NULL;
  if (!nlx_virt_get_fault (manager->virt, uuid, &fault, &error))
    g_debug ("Instance %s: cannot tell why it stopped: %s", uuid,
             error->message);
  return fault;
}

static void
work (gpointer data,
      gpointer pool_data)
{
  Job *job = data;
  NlxManager *manager = job->manager;

  switch (job->kind)
    {
    case JOB_SPAWN:
      job->ok = nlx_virt_spawn (manager->virt, job->instance, job->image,
                                &job->error);
      break;
    case JOB_ACTION:
      job->ok = run_action (manager, job, &job->error);
      break;
    case JOB_SYNC:
      job->ok = TRUE;
      for (guint i = 0; job->ok && i < job->sync->len; i++)
        {
          SyncResult *result = job->sync->pdata[i];

          if (!nlx_virt_get_info (manager->virt, result->uuid, &result->info,
                                  &result->error))
            {
              if (is_unavailable (result->error))
                {
                  job->ok = FALSE;
                  job->error = g_error_copy (result->error);
                }
            }
          else
            result->fault = fault_of (manager, result->uuid, &result->info);
        }
      /* With nothing to ask about, still find out whether the hypervisor
       * answers. */
      if (job->sync->len == 0)
        {
          g_auto(GStrv) uuids = nlx_virt_list_instances (manager->virt,
                                                         &job->error);
          job->ok = uuids != NULL;
        }
      break;
    case JOB_VOLUME:
      job->ok = job->attach
                  ? nlx_virt_attach_volume (manager->virt, job->uuid,
                                            job->attachment, &job->error)
                  : nlx_virt_detach_volume (manager->virt, job->uuid,
                                            job->attachment, &job->error);
      break;
    case JOB_REBUILD:
      job->ok = rebuild (manager, job, &job->error);
      break;
    case JOB_SNAPSHOT:
      job->ok = snapshot (manager, job, &job->error);
      break;
    }
  /* What the instance is now, whether the operation worked or not. */
  if (job->kind != JOB_SYNC &&
      !(job->kind == JOB_ACTION && job->action == NLX_ACTION_DELETE && job->ok))
    job->have_info = nlx_virt_get_info (manager->virt, job->uuid, &job->info,
                                        &job->info_error);
  if (job->have_info)
    job->fault = fault_of (manager, job->uuid, &job->info);
  defer (manager, job_done, job);
}

static void
fail_stopping (GTask *task)
{
  g_task_return_new_error (task, NLX_DRIVER_ERROR,
                           NLX_DRIVER_ERROR_UNAVAILABLE,
                           _("The compute service is stopping"));
}

/* Once the manager stops, a job whose task state was saved does not run:
 * the next start reconciles it as interrupted. */
static void
queue (NlxManager *manager,
       Job *job)
{
  if (manager->closed)
    {
      if (job->task != NULL)
        fail_stopping (job->task);
      job_free (job);
      return;
    }
  job->manager = manager_ref (manager);
  if (job->kind != JOB_SYNC)
    manager->running++;
  g_thread_pool_push (manager->workers, job, NULL);
}

/* commit() is done for a change that starts @data, a Job: it runs once
 * the record says so on disk, or its callers hear why not. */
static void
job_committed (NlxManager *manager,
               Entry *entry,
               GError *error,
               gpointer data)
{
  Job *job = data;

  if (error == NULL && entry == NULL)
    error = g_error_new (NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_NOT_FOUND,
                         _("The server was deleted meanwhile"));
  else if (error != NULL)
    error = g_error_copy (error);
  if (error != NULL)
    {
      if (job->answer != NULL)
        g_task_return_error (job->answer, g_error_copy (error));
      if (job->task != NULL)
        g_task_return_error (job->task, g_error_copy (error));
      g_error_free (error);
      job_free (job);
      return;
    }
  if (job->answer != NULL)
    g_task_return_boolean (job->answer, TRUE);
  g_clear_object (&job->answer);
  queue (manager, job);
}

static const NlxTaskState task_for_action[] = {
  [NLX_ACTION_REBOOT_SOFT] = NLX_TASK_STATE_REBOOTING,
  [NLX_ACTION_REBOOT_HARD] = NLX_TASK_STATE_REBOOTING_HARD,
  [NLX_ACTION_STOP] = NLX_TASK_STATE_POWERING_OFF,
  [NLX_ACTION_START] = NLX_TASK_STATE_POWERING_ON,
  [NLX_ACTION_PAUSE] = NLX_TASK_STATE_PAUSING,
  [NLX_ACTION_UNPAUSE] = NLX_TASK_STATE_UNPAUSING,
  [NLX_ACTION_DELETE] = NLX_TASK_STATE_DELETING,
};

/* Starts @action once its task state is saved.  @task is %NULL when
 * nobody waits for the answer (a restart, a delete that waited for
 * another operation): the action then runs even if the save failed, and
 * the save is retried.  Otherwise @task hears once the task state is
 * saved, and the action runs only then. */
static void
start_action (NlxManager *manager,
              Entry *entry,
              NlxAction action,
              GTask *task)
{
  g_autoptr(JsonNode) before = nlx_record_to_node (entry->record);
  Job *job = g_new0 (Job, 1);

  job->kind = JOB_ACTION;
  job->uuid = g_strdup (entry->record->instance->uuid);
  job->action = action;
  entry->record->task_state = task_for_action[action];
  entry->generation++;
  if (task == NULL)
    {
      save (manager, entry);
      queue (manager, job);
      return;
    }
  job->answer = g_object_ref (task);
  commit (manager, entry, before, job_committed, job);
}

/* Drops @uuid's entry from memory; the changes waiting for it run, and
 * find it gone. */
static void
remove_entry (NlxManager *manager,
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
forgotten (GObject *source,
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
      save_addresses (manager);
    }
  /* Gone from the API with its address, as one step. */
  remove_entry (manager, forget->uuid);
  manager_unref (manager);
  g_free (forget->uuid);
  g_free (forget);
}

/* Drops a deleted instance's record, then its address and its entry: a
 * crash in between leaves an address without a record, which the next
 * start releases.  The delete reaches the disk after every save of the
 * record asked for before, so none of them brings it back, and none is
 * asked for after (Entry.forgetting). */
static void
forget (NlxManager *manager,
        const char *uuid)
{
  Forget *forget = g_new0 (Forget, 1);

  Entry *entry = g_hash_table_lookup (manager->entries, uuid);

  forget->manager = manager_ref (manager);
  forget->uuid = g_strdup (uuid);
  entry->forgetting = TRUE;
  nlx_store_delete_async (manager->store, uuid, forgotten, forget);
}

static gboolean retry_sync (gpointer data);

static void
note_availability (NlxManager *manager,
                   gboolean available)
{
  if (available && !manager->available)
    g_message ("The hypervisor answers again");
  else if (!available && manager->available)
    g_warning ("The hypervisor cannot be reached; refusing new operations "
               "until it answers");
  manager->available = available;
  /* Look again soon rather than at the next periodic sync. */
  if (!available && manager->retry_source == NULL)
    manager->retry_source = add_timeout (manager, 1, retry_sync);
}

/* Whether the hypervisor went away while @job ran, so that nobody knows
 * how it ended: it failed for that reason, or it succeeded but the
 * instance could not be read back.  libvirtd restarting in the middle of
 * a stop did the latter, and the instance was running all along. */
static gboolean
lost_hypervisor (const Job *job)
{
  return is_unavailable (job->error) ||
         (!job->have_info && is_unavailable (job->info_error));
}

/* Whether @job starts the instance's init, so that an init exiting
 * during the boot it began is the operation's failure. */
static gboolean
starts_instance (const Job *job)
{
  switch (job->kind)
    {
    case JOB_SPAWN:
    case JOB_REBUILD:
      return TRUE;
    case JOB_ACTION:
      return job->action == NLX_ACTION_START ||
             job->action == NLX_ACTION_REBOOT_SOFT ||
             job->action == NLX_ACTION_REBOOT_HARD;
    default:
      return FALSE;
    }
}

/* What a finished operation leaves the record as. */
static void
finish_operation (NlxManager *manager,
                  Entry *entry,
                  Job *job)
{
  NlxRecord *record = entry->record;
  const char *uuid = record->instance->uuid;

  if (job->have_info)
    record->power_state = job->info.state;

  /* A build that failed is a failed build whatever the cause; anything
   * else waits, task state and all, for the hypervisor to say what runs,
   * which is never an ERROR of our making. */
  if (lost_hypervisor (job) && (job->ok || job->kind != JOB_SPAWN))
    {
      g_warning ("Instance %s: the hypervisor went away during %s (%s); its "
                 "state is taken from the hypervisor once it answers", uuid,
                 nlx_task_state_to_string (record->task_state),
                 job->error ? job->error->message : job->info_error->message);
      entry->awaiting_hypervisor = TRUE;
      return;
    }

  if (job->ok)
    {
      g_info ("Instance %s: %s done", uuid,
              nlx_task_state_to_string (record->task_state));
      g_clear_pointer (&record->fault, g_free);
      record->vm_state = job->have_info ? vm_state_for (job->info.state)
                                        : NLX_VM_STATE_ERROR;
      if (!job->have_info)
        set_fault (record, _("The instance disappeared from the hypervisor "
                             "right after the operation"));
      else if (job->fault != NULL && starts_instance (job))
        {
          /* The operation started it, but it did not stay up: as a VM
           * whose guest crashed while booting, the server is in ERROR
           * with the reason. */
          g_warning ("Instance %s: %s", uuid, job->fault);
          record->vm_state = NLX_VM_STATE_ERROR;
          set_fault (record, job->fault);
        }
    }
  else if (g_error_matches (job->error, NLX_DRIVER_ERROR,
                            NLX_DRIVER_ERROR_INVALID_STATE) && job->have_info &&
           job->kind != JOB_SPAWN)
    {
      /* Someone changed it under us (virsh, or init exiting): take what
       * runs. */
      g_message ("Instance %s: %s", uuid, job->error->message);
      record->vm_state = vm_state_for (job->info.state);
    }
  else
    {
      g_warning ("Instance %s: %s failed: %s", uuid,
                 nlx_task_state_to_string (record->task_state),
                 job->error->message);
      record->vm_state = NLX_VM_STATE_ERROR;
      set_fault (record, job->error->message);
      /* As Nova aborts the claim of a build that failed: the driver
       * undid what it made, and the room is free for others. */
      if (job->kind == JOB_SPAWN)
        record->unplaced = TRUE;
    }
  record->task_state = NLX_TASK_STATE_NONE;
}

/* Drops the attachment of volume @id from the instance. */
static void
remove_volume (NlxInstance *instance,
               const char *id)
{
  NlxVolumeAttachment *attachment = nlx_instance_find_volume (instance, id);

  if (attachment != NULL)
    g_ptr_array_remove (instance->volumes, attachment);
}

/* A volume that could not be attached or detached leaves the instance as
 * it was: the driver undid its part, so only the caller hears of it. */
static void
finish_volume (NlxManager *manager,
               Entry *entry,
               Job *job)
{
  NlxRecord *record = entry->record;

  if (job->have_info)
    apply_power_state (record, job->info.state);
  if (job->ok != job->attach)
    remove_volume (record->instance, job->attachment->volume_id);
  g_clear_pointer (&record->pending_volume, g_free);
  record->task_state = NLX_TASK_STATE_NONE;
  if (job->ok)
    g_info ("Instance %s: volume %s %s", record->instance->uuid,
            job->attachment->volume_id, job->attach ? "attached" : "detached");
  else
    g_warning ("Instance %s: volume %s not %s: %s", record->instance->uuid,
               job->attachment->volume_id,
               job->attach ? "attached" : "detached", job->error->message);
}

/* Tells the caller of an attach or detach how it ended, once the record
 * says so. */
static void
answer_volume (Job *job)
{
  if (job->undo_cause != NULL)
    {
      if (job->ok)
        g_task_return_new_error (job->task, NLX_DRIVER_ERROR,
                                 NLX_DRIVER_ERROR_FAILED,
                                 _("Volume %s was not attached: %s; it was "
                                   "detached again"),
                                 job->attachment->volume_id,
                                 job->undo_cause->message);
      else
        g_task_return_new_error (job->task, NLX_DRIVER_ERROR,
                                 NLX_DRIVER_ERROR_FAILED,
                                 _("Volume %s was attached but %s, and "
                                   "detaching it again failed too: %s"),
                                 job->attachment->volume_id,
                                 job->undo_cause->message, job->error->message);
    }
  else if (job->ok)
    g_task_return_pointer (job->task,
                           nlx_volume_attachment_new (job->attachment->volume_id,
                                                      job->attachment->device,
                                                      job->attachment->mount_path),
                           (GDestroyNotify) nlx_volume_attachment_free);
  else
    g_task_return_error (job->task, g_steal_pointer (&job->error));
}

/* An attachment made whose record cannot say so (a restart would undo it
 * behind the caller's back) is undone now: the record is put back as on
 * disk, attaching with the volume pending, and a worker detaches it. */
static void
undo_attachment (NlxManager *manager,
                 Entry *entry,
                 Job *job,
                 GError *cause)
{
  Job *undo = g_new0 (Job, 1);

  /* commit() has put the record back. */
  g_warning ("Instance %s: volume %s was attached, but %s; detaching it "
             "again", job->uuid, job->attachment->volume_id, cause->message);
  entry->generation++;
  undo->kind = JOB_VOLUME;
  undo->uuid = g_strdup (job->uuid);
  undo->attach = FALSE;
  undo->attachment = nlx_volume_attachment_new (job->attachment->volume_id,
                                                job->attachment->device,
                                                job->attachment->mount_path);
  undo->task = g_steal_pointer (&job->task);
  undo->undo_cause = cause;
  queue (manager, undo);
}

/* A failed snapshot leaves the instance as it was, as in Nova: only the
 * caller hears of it. */
static void
finish_snapshot (NlxManager *manager,
                 Entry *entry,
                 Job *job)
{
  NlxRecord *record = entry->record;

  if (job->have_info)
    apply_power_state (record, job->info.state);
  record->task_state = NLX_TASK_STATE_NONE;
  g_clear_pointer (&entry->snapshot_name, g_free);
  if (job->ok)
    {
      g_info ("Instance %s: snapshot is image %s (%s)", record->instance->uuid,
              job->stored->id, job->stored->name);
      g_task_return_pointer (job->task, g_steal_pointer (&job->stored),
                             (GDestroyNotify) nlx_stored_image_free);
    }
  else
    {
      g_warning ("Instance %s: snapshot failed: %s", record->instance->uuid,
                 job->error->message);
      hide_internal_paths (manager, job->error);
      g_task_return_error (job->task, g_steal_pointer (&job->error));
    }
}

/* The hypervisor answers again after going away during an operation on
 * @entry: the record takes what runs, or the interrupted (or since asked)
 * delete runs again. */
static void
reconcile_awaiting (NlxManager *manager,
                    Entry *entry,
                    SyncResult *result)
{
  NlxRecord *record = entry->record;
  const char *uuid = record->instance->uuid;

  if (result->error != NULL &&
      !g_error_matches (result->error, NLX_DRIVER_ERROR,
                        NLX_DRIVER_ERROR_NOT_FOUND))
    {
      g_debug ("Instance %s still not reconciled: %s", uuid,
               result->error->message);
      return;
    }
  entry->awaiting_hypervisor = FALSE;
  if (record->task_state == NLX_TASK_STATE_DELETING)
    {
      g_message ("Instance %s: the hypervisor answers again; deleting it",
                 uuid);
      entry->delete_pending = FALSE;
      start_action (manager, entry, NLX_ACTION_DELETE, NULL);
      return;
    }
  entry->generation++;
  if (result->error == NULL)
    {
      g_message ("Instance %s: %s was cut short by the hypervisor going "
                 "away; it is %s", uuid,
                 nlx_task_state_to_string (record->task_state),
                 nlx_power_state_to_string (result->info.state));
      record->power_state = result->info.state;
      record->vm_state = vm_state_for (result->info.state);
      g_clear_pointer (&record->fault, g_free);
    }
  else
    {
      g_warning ("Instance %s is gone from the hypervisor", uuid);
      record->vm_state = NLX_VM_STATE_ERROR;
      record->power_state = NLX_POWER_STATE_NOSTATE;
      set_fault (record, _("The instance is gone from the hypervisor; "
                           "delete it"));
    }
  record->task_state = NLX_TASK_STATE_NONE;
  save (manager, entry);
}

static void
apply_sync (NlxManager *manager,
            GPtrArray *results)
{
  for (guint i = 0; i < results->len; i++)
    {
      SyncResult *result = results->pdata[i];
      Entry *entry = g_hash_table_lookup (manager->entries, result->uuid);

      /* A record being committed changes only when that is done (a
       * later sync sees it). */
      if (entry == NULL || entry->generation != result->generation ||
          entry->committing || entry->forgetting)
        continue;
      if (entry->awaiting_hypervisor)
        {
          reconcile_awaiting (manager, entry, result);
          continue;
        }
      if (entry->record->task_state != NLX_TASK_STATE_NONE)
        continue;
      if (result->error == NULL && result->fault != NULL &&
          entry->record->vm_state == NLX_VM_STATE_ACTIVE)
        {
          /* It was started and stopped by failing (an init that exited
           * during boot), not by a guest's poweroff. */
          g_warning ("Instance %s: %s", result->uuid, result->fault);
          entry->record->vm_state = NLX_VM_STATE_ERROR;
          entry->record->power_state = result->info.state;
          set_fault (entry->record, result->fault);
          save (manager, entry);
        }
      else if (result->error == NULL)
        {
          if (apply_power_state (entry->record, result->info.state))
            save (manager, entry);
        }
      else if (!g_error_matches (result->error, NLX_DRIVER_ERROR,
                                 NLX_DRIVER_ERROR_NOT_FOUND))
        g_debug ("Instance %s not synchronised: %s", result->uuid,
                 result->error->message);
      else if (entry->record->vm_state != NLX_VM_STATE_ERROR)
        {
          g_warning ("Instance %s is gone from the hypervisor",
                     result->uuid);
          entry->record->vm_state = NLX_VM_STATE_ERROR;
          entry->record->power_state = NLX_POWER_STATE_NOSTATE;
          set_fault (entry->record, _("The instance is gone from the "
                                      "hypervisor; delete it"));
          save (manager, entry);
        }
    }
}

/* What is left of an operation's end once its record is as it should
 * be: a delete waiting for it starts, the record is saved (unless
 * @saved), a volume's caller hears. */
static void
end_job (NlxManager *manager,
         Entry *entry,
         Job *job,
         gboolean saved)
{
  /* Waiting for the hypervisor, a delete would only fail again;
   * reconcile_awaiting() runs it. */
  if (entry->delete_pending && !entry->awaiting_hypervisor)
    {
      entry->delete_pending = FALSE;
      start_action (manager, entry, NLX_ACTION_DELETE, NULL);
    }
  else if (!saved)
    save (manager, entry);
  if (job->kind == JOB_VOLUME)
    answer_volume (job);
}

/* The attachment's record is saved, or cannot be, in which case the
 * attachment is undone (a restart would undo it behind the caller's
 * back). */
static void
attachment_committed (NlxManager *manager,
                      Entry *entry,
                      GError *error,
                      gpointer data)
{
  Job *job = data;

  if (entry == NULL)
    {
      /* Only a delete removes an entry, and it waits for this. */
      if (job->task != NULL)
        g_task_return_new_error (job->task, NLX_DRIVER_ERROR,
                                 NLX_DRIVER_ERROR_NOT_FOUND,
                                 _("The server was deleted meanwhile"));
    }
  else if (error != NULL)
    undo_attachment (manager, entry, job, g_error_copy (error));
  else
    end_job (manager, entry, job, TRUE);
  job_free (job);
  manager_unref (manager);
}

/* Returns whether it took @job (and its reference to the manager). */
static gboolean
apply_job (NlxManager *manager,
           Job *job)
{
  Entry *entry;

  note_availability (manager, !is_unavailable (job->error) &&
                              !is_unavailable (job->info_error));
  if (job->kind == JOB_SYNC)
    {
      if (job->ok)
        apply_sync (manager, job->sync);
      return FALSE;
    }

  entry = g_hash_table_lookup (manager->entries, job->uuid);
  g_assert (entry != NULL);
  /* Its end changes the record, which waits for the change being saved. */
  if (entry->committing)
    {
      g_queue_push_tail (&entry->deferred, job);
      return TRUE;
    }
  manager->running--;
  entry->generation++;

  if (job->kind == JOB_ACTION && job->action == NLX_ACTION_DELETE && job->ok)
    {
      g_info ("Instance %s deleted", job->uuid);
      forget (manager, job->uuid);
      return FALSE;
    }
  if (job->kind == JOB_VOLUME)
    {
      /* A new attachment is acknowledged only once saved: the record on
       * disk still has it pending, which a restart undoes.  A detach is
       * safe either way: a restart finishes a pending one. */
      g_autoptr(JsonNode) before = NULL;

      if (job->attach && job->ok && !entry->delete_pending)
        before = nlx_record_to_node (entry->record);
      finish_volume (manager, entry, job);
      if (before != NULL)
        {
          commit (manager, entry, before, attachment_committed, job);
          return TRUE;
        }
    }
  else if (job->kind == JOB_SNAPSHOT)
    finish_snapshot (manager, entry, job);
  else
    finish_operation (manager, entry, job);
  end_job (manager, entry, job, FALSE);
  return FALSE;
}

static gboolean
job_done (gpointer data)
{
  Job *job = data;
  NlxManager *manager = job->manager;

  if (!manager->closed)
    {
      if (apply_job (manager, job))
        return G_SOURCE_REMOVE;
    }
  else if (job->task != NULL)
    fail_stopping (job->task);
  job_free (job);
  manager_unref (manager);
  return G_SOURCE_REMOVE;
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
          job_done (job);
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
static void
start_call (NlxManager *manager,
            GTask *task)
{
  Call *call = g_task_get_task_data (task);
  Entry *entry = NULL;

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

/* ---- synchronisation -------------------------------------------------- */

/* Asks the driver about the idle instances in @uuids (all idle ones when
 * %NULL) and applies what it says, unless an operation has begun or ended
 * since. */
static void
sync_instances (NlxManager *manager,
                const char *uuid)
{
  Job *job = g_new0 (Job, 1);
  GHashTableIter iter;
  Entry *entry;

  job->kind = JOB_SYNC;
  job->sync = g_ptr_array_new_with_free_func ((GDestroyNotify) sync_result_free);
  g_hash_table_iter_init (&iter, manager->entries);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &entry))
    {
      SyncResult *result;

      /* An unplaced one has nothing on the hypervisor to ask about. */
      if ((entry->record->task_state != NLX_TASK_STATE_NONE &&
           !entry->awaiting_hypervisor) || entry->record->unplaced ||
          (uuid != NULL && !g_str_equal (uuid, entry->record->instance->uuid)))
        continue;
      result = g_new0 (SyncResult, 1);
      result->uuid = g_strdup (entry->record->instance->uuid);
      result->generation = entry->generation;
      g_ptr_array_add (job->sync, result);
    }
  queue (manager, job);
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
      save (manager, entry);
  if (manager->addresses_unsaved)
    save_addresses (manager);
  return G_SOURCE_REMOVE;
}

static gboolean
periodic_sync (gpointer data)
{
  sync_instances (data, NULL);
  return G_SOURCE_CONTINUE;
}

static gboolean
retry_sync (gpointer data)
{
  NlxManager *manager = data;

  g_clear_pointer (&manager->retry_source, g_source_unref);
  sync_instances (manager, NULL);
  return G_SOURCE_REMOVE;
}

typedef struct {
  NlxManager *manager;
  char *uuid;
} Event;

static gboolean
handle_event (gpointer data)
{
  Event *event = data;

  if (!event->manager->closed)
    sync_instances (event->manager, event->uuid);
  manager_unref (event->manager);
  g_free (event->uuid);
  g_free (event);
  return G_SOURCE_REMOVE;
}

/* From a driver thread. */
static void
on_driver_event (const char *uuid,
                 gpointer user_data)
{
  Event *event = g_new0 (Event, 1);

  event->manager = manager_ref (user_data);
  event->uuid = g_strdup (uuid);
  defer (event->manager, handle_event, event);
}

/* ---- start-up --------------------------------------------------------- */

/* An attach or detach a crash interrupted is rolled back to detached:
 * the driver's detach undoes whatever part of it exists. */
static void
undo_volume (NlxManager *manager,
             NlxRecord *record)
{
  const char *uuid = record->instance->uuid;
  NlxVolumeAttachment *attachment;
  g_autoptr(GError) error = NULL;

  attachment = nlx_instance_find_volume (record->instance,
                                         record->pending_volume);
  if (attachment == NULL)
    return;
  g_message ("Instance %s: undoing the attachment of volume %s, which a "
             "restart interrupted", uuid, attachment->volume_id);
  if (nlx_virt_detach_volume (manager->virt, uuid, attachment, &error))
    remove_volume (record->instance, attachment->volume_id);
  else
    g_warning ("Instance %s: %s", uuid, error->message);
  g_clear_pointer (&record->pending_volume, g_free);
}

/* The allocations, rebuilt from what the records and the running
 * domains on this daemon's bridge say, in case the file lost some
 * (deleted, restored from an old backup): an address a server has must
 * never be handed out again.  What runs comes last, so it wins over a
 * record. */
static void
rebuild_addresses (NlxManager *manager,
                   char **domains)
{
  GHashTableIter iter;
  Entry *entry;

  g_hash_table_iter_init (&iter, manager->entries);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &entry))
    {
      const NlxInstance *instance = entry->record->instance;
      g_autoptr(GError) error = NULL;

      if (instance->vif == NULL ||
          g_strcmp0 (nlx_ipam_lookup (manager->ipam, instance->uuid),
                     instance->vif->address) == 0)
        continue;
      if (nlx_ipam_reserve (manager->ipam, instance->uuid,
                            instance->vif->address, &error))
        g_message ("Instance %s: address %s, which its record has, is "
                   "allocated to it again", instance->uuid,
                   instance->vif->address);
      else
        g_warning ("Instance %s: %s", instance->uuid, error->message);
    }
  for (guint i = 0; domains[i] != NULL; i++)
    {
      g_autoptr(NlxVif) vif = NULL;
      g_autoptr(GError) error = NULL;

      if (!nlx_virt_get_vif (manager->virt, domains[i], &vif, &error))
        {
          g_warning ("Instance %s: cannot read its interface from the "
                     "hypervisor: %s", domains[i], error->message);
          continue;
        }
      /* Another bridge is another allocator's (another daemon's). */
      if (vif == NULL ||
          g_strcmp0 (vif->bridge, manager->network->bridge) != 0 ||
          g_strcmp0 (nlx_ipam_lookup (manager->ipam, domains[i]),
                     vif->address) == 0)
        continue;
      if (nlx_ipam_reserve (manager->ipam, domains[i], vif->address, &error))
        g_message ("Instance %s: address %s, which its domain has, is "
                   "allocated to it again", domains[i], vif->address);
      else
        g_warning ("Instance %s: %s", domains[i], error->message);
    }
}

/* An address whose instance has no record was allocated by a create or
 * kept by a delete that a crash interrupted, unless a domain still has
 * it or its record is quarantined. */
static gboolean
release_orphan_addresses (NlxManager *manager,
                          char **domains,
                          GError **error)
{
  g_auto(GStrv) holders = nlx_ipam_list (manager->ipam);

  for (guint i = 0; holders[i] != NULL; i++)
    {
      if (g_hash_table_contains (manager->entries, holders[i]) ||
          g_hash_table_contains (manager->quarantined, holders[i]) ||
          g_strv_contains ((const char * const *) domains, holders[i]))
        continue;
      g_message ("Releasing address %s of instance %s, which has no record",
                 nlx_ipam_lookup (manager->ipam, holders[i]), holders[i]);
      if (!nlx_ipam_release (manager->ipam, holders[i], error))
        return FALSE;
    }
  return TRUE;
}

/* How many foreign domains the start-up line names before "and N more". */
#define FOREIGN_NAMED_MAX 5

/* Domains the driver lists but no record here owns: another service's on
 * the same host, or stale ones.  One line for all of them, not one each
 * at every start: a host shared with many of them would drown the log. */
static void
log_foreign (NlxManager *manager,
             char **domains)
{
  g_autoptr(GString) named = g_string_new (NULL);
  guint count = 0;

  for (guint i = 0; domains[i] != NULL; i++)
    if (!g_hash_table_contains (manager->entries, domains[i]) &&
        !g_hash_table_contains (manager->quarantined, domains[i]))
      {
        if (count < FOREIGN_NAMED_MAX)
          g_string_append_printf (named, "%s%s", count > 0 ? ", " : "",
                                  domains[i]);
        count++;
      }
  if (count == 0)
    return;
  if (count > FOREIGN_NAMED_MAX)
    g_string_append_printf (named, " and %u more", count - FOREIGN_NAMED_MAX);
  /* Logs stay untranslated, as the manager's others. */
  if (count == 1)
    g_message ("1 instance on the hypervisor has no record here, so it is "
               "not this service's: %s; it is left alone (nova-lxc-virt "
               "destroy removes a stale one)", named->str);
  else
    g_message ("%u instances on the hypervisor have no record here, so they "
               "are not this service's: %s; they are left alone "
               "(nova-lxc-virt destroy removes stale ones)", count,
               named->str);
}

/* Finishes or rolls back what a crash interrupted, as Nova's init_host
 * does, so that every instance ends ACTIVE, SHUTOFF, PAUSED, ERROR or
 * gone, as the driver sees it. */
static gboolean
reconcile (NlxManager *manager,
           GError **error)
{
  g_auto(GStrv) running = nlx_virt_list_instances (manager->virt, error);
  GHashTableIter iter;
  Entry *entry;

  if (running == NULL)
    return FALSE;
  g_hash_table_iter_init (&iter, manager->entries);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &entry))
    {
      NlxRecord *record = entry->record;
      const char *uuid = record->instance->uuid;
      NlxInstanceInfo info;
      g_autoptr(GError) local_error = NULL;

      if (record->task_state == NLX_TASK_STATE_DELETING)
        {
          g_message ("Instance %s: finishing the delete a restart interrupted",
                     uuid);
          start_action (manager, entry, NLX_ACTION_DELETE, NULL);
          continue;
        }
      if ((record->task_state == NLX_TASK_STATE_SPAWNING ||
           record->vm_state == NLX_VM_STATE_BUILDING) &&
          g_strv_contains ((const char * const *) running, uuid) &&
          nlx_virt_get_info (manager->virt, uuid, &info, NULL) &&
          (info.state == NLX_POWER_STATE_RUNNING ||
           info.state == NLX_POWER_STATE_PAUSED))
        {
          /* The record may be stale (the end of the build could not be
           * saved), and what runs may hold work: never destroy it on the
           * strength of the record alone. */
          g_warning ("Instance %s: its build was interrupted, or its end "
                     "was not saved, but its domain runs; leaving it alone "
                     "in ERROR", uuid);
          record->task_state = NLX_TASK_STATE_NONE;
          record->vm_state = NLX_VM_STATE_ERROR;
          record->power_state = info.state;
          set_fault (record, _("The build was interrupted by a restart of "
                               "the compute service, or its end could not be "
                               "saved, but the server's container runs and "
                               "was left alone; reboot it (hard) to make it "
                               "ACTIVE, or delete it"));
          save (manager, entry);
          continue;
        }
      if (record->task_state == NLX_TASK_STATE_SPAWNING ||
          record->vm_state == NLX_VM_STATE_BUILDING)
        {
          /* A half-built instance that does not run cannot be trusted;
           * remove what exists and keep the record in ERROR for its
           * owner to see. */
          g_message ("Instance %s: its build was interrupted; cleaning up",
                     uuid);
          if (!nlx_virt_destroy (manager->virt, uuid, &local_error))
            g_warning ("Instance %s: %s", uuid, local_error->message);
          g_clear_error (&local_error);
          record->task_state = NLX_TASK_STATE_NONE;
          record->vm_state = NLX_VM_STATE_ERROR;
          record->power_state = NLX_POWER_STATE_NOSTATE;
          record->unplaced = TRUE;
          set_fault (record, _("The build was interrupted by a restart of "
                               "the compute service; delete the server and "
                               "create it again"));
          save (manager, entry);
          continue;
        }

      if (record->task_state == NLX_TASK_STATE_ATTACHING_VOLUME ||
          record->task_state == NLX_TASK_STATE_DETACHING_VOLUME)
        undo_volume (manager, record);
      /* A snapshot freezes a running instance; thaw what it left. */
      if (record->task_state == NLX_TASK_STATE_IMAGE_SNAPSHOT &&
          record->vm_state == NLX_VM_STATE_ACTIVE &&
          nlx_virt_get_info (manager->virt, uuid, &info, NULL) &&
          info.state == NLX_POWER_STATE_PAUSED &&
          !nlx_virt_unpause (manager->virt, uuid, &local_error))
        {
          g_warning ("Instance %s: cannot thaw it after an interrupted "
                     "snapshot: %s", uuid, local_error->message);
          g_clear_error (&local_error);
        }
      if (record->task_state != NLX_TASK_STATE_NONE)
        g_message ("Instance %s: %s was interrupted by a restart; taking the "
                   "hypervisor's state", uuid,
                   nlx_task_state_to_string (record->task_state));
      record->task_state = NLX_TASK_STATE_NONE;
      if (g_strv_contains ((const char * const *) running, uuid) &&
          nlx_virt_get_info (manager->virt, uuid, &info, &local_error))
        apply_power_state (record, info.state);
      else if (record->vm_state != NLX_VM_STATE_ERROR)
        {
          g_warning ("Instance %s is not on the hypervisor%s%s", uuid,
                     local_error ? ": " : "",
                     local_error ? local_error->message : "");
          record->vm_state = NLX_VM_STATE_ERROR;
          record->power_state = NLX_POWER_STATE_NOSTATE;
          set_fault (record, _("The instance is gone from the hypervisor; "
                               "delete it"));
        }
      save (manager, entry);
    }

  rebuild_addresses (manager, running);
  for (guint i = 0; running[i] != NULL; i++)
    if (g_hash_table_contains (manager->quarantined, running[i]))
      g_warning ("Instance %s: its record cannot be read and is in "
                 "quarantine; its domain is left alone and keeps address %s",
                 running[i], nlx_ipam_lookup (manager->ipam, running[i])
                               ? nlx_ipam_lookup (manager->ipam, running[i])
                               : "none");
  log_foreign (manager, running);
  return release_orphan_addresses (manager, running, error);
}

/**
 * nlx_manager_lock_state:
 * @config: the host's configuration
 * @error: return location for an error naming the pid of the daemon that
 *   holds the lock
 *
 * Takes the lock of `state_path` (created, 0700, if missing) that one
 * compute daemon holds for its whole life.  Call it before anything reads
 * or writes there (before the driver opens and the manager loads the
 * records), and release it last.
 *
 * Returns: (transfer full): the lock
 */
NlxLock *
nlx_manager_lock_state (const NlxConfig *config,
                        GError **error)
{
  g_autofree char *what = g_strdup_printf (_("state_path %s"),
                                           config->state_path);

  return nlx_lock_acquire_dir (config->state_path, 0700, what, error);
}

/**
 * nlx_manager_new:
 * @config: the host's configuration; must outlive the manager
 * @virt: the driver; must outlive the manager
 * @error: return location for an error from the store or the driver
 *
 * Locks the volume directory and what the driver uses on the host
 * (nlx_virt_lock_host()), loads the records under `state_path/records`,
 * reconciles them with the driver and starts watching it.  The caller
 * holds nlx_manager_lock_state().  Results of operations are applied
 * in the thread-default main context of the caller, which must not be the
 * global default context: libvirt's default event loop (the lxc driver
 * runs it) iterates that one from a thread of its own.
 *
 * Returns: (transfer full): the manager
 */
NlxManager *
nlx_manager_new (const NlxConfig *config,
                 NlxVirt *virt,
                 GError **error)
{
  /* Not "instances", the lxc driver's default instances_path there. */
  g_autofree char *dir = g_build_filename (config->state_path, "records", NULL);
  g_autoptr(NlxManager) manager = g_new0 (NlxManager, 1);
  g_autoptr(GPtrArray) records = NULL;
  g_autoptr(GPtrArray) quarantined = NULL;

  g_atomic_ref_count_init (&manager->refs);
  manager->config = config;
  manager->virt = virt;
  manager->context = g_main_context_ref_thread_default ();
  manager->host = g_strdup (g_get_host_name ());
  manager->available = TRUE;
  manager->console_tokens = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                   g_free, console_token_free);
  manager->entries = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                            (GDestroyNotify) entry_free);
  manager->quarantined = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                g_free, NULL);
  manager->images_deleting = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                    g_free, NULL);
  manager->workers = g_thread_pool_new (work, NULL, MAX_WORKERS, FALSE, NULL);
  manager->volumes = nlx_volume_settings_new (config->keyfile, error);
  if (manager->volumes == NULL)
    return NULL;
  /* Before anything is read: a second daemon on the same volumes or the
   * same instances would hand them out twice or reconcile the other's. */
  {
    g_autofree char *what = g_strdup_printf (_("the volume directory %s"),
                                             manager->volumes->dir);

    manager->volumes_lock = nlx_lock_acquire_dir (manager->volumes->dir, 0700,
                                                  what, error);
    if (manager->volumes_lock == NULL || !nlx_virt_lock_host (virt, error))
      return NULL;
  }
  {
    g_autofree char *images = g_build_filename (config->state_path, "images",
                                                NULL);

    manager->images = nlx_image_store_open (images, error);
    if (manager->images == NULL)
      return NULL;
  }
  manager->network = nlx_network_settings_new (config->keyfile, error);
  if (manager->network == NULL)
    return NULL;
  manager->ipam = nlx_ipam_open (manager->network,
                                 manager->network->addresses_path, error);
  if (manager->ipam == NULL)
    return NULL;

  manager->store = nlx_store_open (dir, error);
  if (manager->store == NULL)
    return NULL;
  {
    g_autofree char *keypairs = g_build_filename (config->state_path,
                                                  "keypairs.json", NULL);

    manager->keypairs = nlx_keypairs_load (keypairs, error);
    if (manager->keypairs == NULL)
      return NULL;
  }
  records = nlx_store_load_all (manager->store, &quarantined, error);
  if (records == NULL)
    return NULL;
  for (guint i = 0; i < quarantined->len; i++)
    g_hash_table_add (manager->quarantined,
                      g_steal_pointer (&quarantined->pdata[i]));
  for (guint i = 0; i < records->len; i++)
    {
      Entry *entry = entry_new (manager, g_steal_pointer (&records->pdata[i]));

      g_hash_table_replace (manager->entries, entry->record->instance->uuid,
                            entry);
    }
  g_ptr_array_set_free_func (records, NULL);

  /* What snapshots a stop interrupted left. */
  {
    g_autofree char *snapshots = g_build_filename (config->state_path,
                                                   "snapshots", NULL);

    if (!nlx_file_remove_tree (snapshots, error))
      return NULL;
  }
  if (!reconcile (manager, error))
    return NULL;
  {
    g_autoptr(NlxHostResources) resources =
      nlx_virt_get_available_resource (virt, error);

    if (resources == NULL)
      {
        g_prefix_error (error, _("Cannot read the host's size, which "
                                 "instances' claims are held against: "));
        return NULL;
      }
    set_host_size (manager, resources);
  }
  /* From now on the address file is written by the store's writer, in
   * order with the records, off the main loop (save_addresses()). */
  nlx_ipam_set_deferred (manager->ipam, TRUE);
  nlx_virt_watch_events (virt, on_driver_event, manager);
  manager->sync_source = add_timeout (manager, config->sync_interval_s,
                                      periodic_sync);
  return g_steal_pointer (&manager);
}

/**
 * nlx_manager_stop:
 *
 * Stops what the manager does on its own: the periodic sync, the
 * driver's events, the workers (waiting for running operations, so call
 * it once nothing new can start).  Then the driver may be closed, and the
 * manager freed after it: an event arriving between the manager's free
 * and the driver's close would otherwise reach freed memory.  Calling it
 * twice does nothing more.
 */
void
nlx_manager_stop (NlxManager *manager)
{
  if (manager->closed)
    return;
  manager->closed = TRUE;
  /* First, and returning only once no event is being delivered. */
  nlx_virt_unwatch_events (manager->virt);
  if (manager->sync_source != NULL)
    g_source_destroy (manager->sync_source);
  g_clear_pointer (&manager->sync_source, g_source_unref);
  if (manager->retry_source != NULL)
    g_source_destroy (manager->retry_source);
  g_clear_pointer (&manager->retry_source, g_source_unref);
  if (manager->save_source != NULL)
    g_source_destroy (manager->save_source);
  g_clear_pointer (&manager->save_source, g_source_unref);
  g_thread_pool_free (manager->workers, FALSE, TRUE);
  manager->workers = NULL;
  /* Deliver what the workers, events and saves handed back, so they are
   * freed; a save's end can ask for another. */
  for (gboolean more = TRUE; more; )
    {
      /* NULL when nlx_manager_new() failed before opening it. */
      if (manager->store != NULL)
        nlx_store_flush (manager->store);
      more = FALSE;
      while (g_main_context_iteration (manager->context, FALSE))
        more = TRUE;
    }
}

/**
 * nlx_manager_free:
 *
 * Stops the manager (nlx_manager_stop()) if that was not done, then frees
 * it.  The order is nlx_manager_stop(), nlx_virt_close(), then this.
 */
void
nlx_manager_free (NlxManager *manager)
{
  if (manager == NULL)
    return;
  nlx_manager_stop (manager);
  nlx_store_free (manager->store);
  g_hash_table_unref (manager->entries);
  g_main_context_unref (manager->context);
  manager_unref (manager);
}

/* Operations running in workers now: what a stop would interrupt. */
guint
nlx_manager_count_running_operations (NlxManager *manager)
{
  return manager->running;
}

/* The store of instance records (tests hold its writes). */
NlxStore *
nlx_manager_get_store (NlxManager *manager)
{
  return manager->store;
}

/* The host name instances show as their host. */
const char *
nlx_manager_get_host (NlxManager *manager)
{
  return manager->host;
}

/* ---- claims ----------------------------------------------------------- */

/* Nova's fault for an instance the scheduler found no room for. */
#define NO_VALID_HOST_FAULT \
  "No valid host was found. There are not enough hosts available."

/* The whole GiB of a flavor's disk that an instance claims (Nova's
 * root_gb; nova-lxc flavors have no ephemeral disk or swap). */
static guint64
claimed_disk_gb (const NlxFlavor *flavor)
{
  return flavor->root_gb;
}

/**
 * nlx_manager_get_claims:
 * @claims: (out): what this service's instances hold
 *
 * Adds up the flavors of every instance that holds host resources, as
 * Nova's resource tracker does: whatever its power state (a stopped
 * server keeps its place), including one being created, and not one that
 * is unplaced (no room at create, or a failed spawn).  Main thread only.
 */
void
nlx_manager_get_claims (NlxManager *manager,
                        NlxClaims *claims)
{
  GHashTableIter iter;
  Entry *entry;

  memset (claims, 0, sizeof *claims);
  g_hash_table_iter_init (&iter, manager->entries);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &entry))
    {
      const NlxFlavor *flavor = &entry->record->instance->flavor;

      if (entry->record->unplaced)
        continue;
      claims->instances++;
      claims->vcpus += flavor->vcpus;
      claims->memory_mb += flavor->memory_mb;
      claims->disk_gb += claimed_disk_gb (flavor);
    }
}

/* How much of one resource instances may claim, as Placement counts it:
 * (total - reserved) * allocation_ratio, rounded down. */
static guint64
capacity (guint64 total,
          guint64 reserved,
          double ratio)
{
  if (reserved >= total)
    return 0;
  return (guint64) ((double) (total - reserved) * ratio);
}

/* The host's disk held back, in whole GiB, as Nova rounds
 * reserved_host_disk_mb for Placement. */
static guint64
reserved_disk_gb (const NlxConfig *config)
{
  return ((guint64) config->reserved_host_disk_mb + 1023) / 1024;
}

/* Whether @flavor fits beside every claim held now.  Claims are only
 * taken and counted on the main thread, and a new instance's entry is in
 * the table before run_create() returns, so two creates racing for the
 * last room cannot both fit.  @why says what is short, for the log. */
static gboolean
fits (NlxManager *manager,
      const NlxFlavor *flavor,
      char **why)
{
  const NlxConfig *config = manager->config;
  NlxClaims used;
  guint64 vcpus_cap = capacity (manager->host_vcpus,
                                config->reserved_host_cpus,
                                config->cpu_allocation_ratio);
  guint64 memory_cap = capacity (manager->host_memory_mb,
                                 config->reserved_host_memory_mb,
                                 config->ram_allocation_ratio);
  guint64 disk_cap = capacity (manager->host_local_gb,
                               reserved_disk_gb (config),
                               config->disk_allocation_ratio);

  nlx_manager_get_claims (manager, &used);
  if (used.vcpus + flavor->vcpus > vcpus_cap)
    *why = g_strdup_printf ("it needs %u vcpus, %" G_GUINT64_FORMAT " of %"
                            G_GUINT64_FORMAT " are free ([compute] "
                            "cpu_allocation_ratio %g)", flavor->vcpus,
                            vcpus_cap - MIN (used.vcpus, vcpus_cap), vcpus_cap,
                            config->cpu_allocation_ratio);
  else if (used.memory_mb + flavor->memory_mb > memory_cap)
    *why = g_strdup_printf ("it needs %u MiB of memory, %" G_GUINT64_FORMAT
                            " of %" G_GUINT64_FORMAT " MiB are free "
                            "([compute] ram_allocation_ratio %g)",
                            flavor->memory_mb,
                            memory_cap - MIN (used.memory_mb, memory_cap),
                            memory_cap, config->ram_allocation_ratio);
  else if (used.disk_gb + claimed_disk_gb (flavor) > disk_cap)
    *why = g_strdup_printf ("it needs %" G_GUINT64_FORMAT " GiB of disk, %"
                            G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " GiB "
                            "are free ([compute] disk_allocation_ratio %g)",
                            claimed_disk_gb (flavor),
                            disk_cap - MIN (used.disk_gb, disk_cap), disk_cap,
                            config->disk_allocation_ratio);
  else
    return TRUE;
  return FALSE;
}

/* Takes the host's size from what the driver reported. */
static void
set_host_size (NlxManager *manager,
               const NlxHostResources *resources)
{
  manager->host_vcpus = resources->vcpus;
  manager->host_memory_mb = resources->memory_mb;
  manager->host_local_gb = resources->local_gb;
}

/* ---- what callers ask ------------------------------------------------- */

static gboolean
check_available (NlxManager *manager,
                 GError **error)
{
  if (manager->available)
    return TRUE;
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_UNAVAILABLE,
               _("The hypervisor cannot be reached right now (is libvirtd "
                 "restarting?); try again in a few seconds"));
  return FALSE;
}

static int
compare_created (gconstpointer a,
                 gconstpointer b)
{
  const NlxRecord *ra = *(const NlxRecord * const *) a;
  const NlxRecord *rb = *(const NlxRecord * const *) b;
  int order = g_date_time_compare (rb->instance->created_at,
                                   ra->instance->created_at);

  return order != 0 ? order : g_strcmp0 (ra->instance->uuid, rb->instance->uuid);
}

/**
 * nlx_manager_list:
 *
 * Returns: (transfer container) (element-type NlxRecord): every record,
 *   newest first as Nova lists them; valid until the main loop runs
 */
GPtrArray *
nlx_manager_list (NlxManager *manager)
{
  GPtrArray *records = g_ptr_array_sized_new (g_hash_table_size (manager->entries));
  GHashTableIter iter;
  Entry *entry;

  g_hash_table_iter_init (&iter, manager->entries);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &entry))
    if (!entry->creating)
      g_ptr_array_add (records, entry->shown ? entry->shown : entry->record);
  g_ptr_array_sort (records, compare_created);
  return records;
}

const NlxRecord *
nlx_manager_lookup (NlxManager *manager,
                    const char *uuid,
                    GError **error)
{
  Entry *entry = find (manager, uuid, error);

  /* Not a change that is not saved yet, which may be undone. */
  if (entry != NULL && entry->shown != NULL)
    return entry->shown;
  return entry ? entry->record : NULL;
}

static NlxImage *
resolve_image (NlxManager *manager,
               const char *ref,
               GError **error)
{
  const NlxConfigImage *known = nlx_config_find_image (manager->config, ref);
  g_autoptr(NlxStoredImage) stored = NULL;
  g_autoptr(NlxImage) image = NULL;

  if (known == NULL)
    stored = nlx_image_store_lookup (manager->images, ref, NULL);
  if (stored != NULL &&
      g_hash_table_contains (manager->images_deleting, stored->id))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_STATE,
                   _("Image %s is being deleted"), stored->name);
      return NULL;
    }
  if (stored != NULL)
    {
      g_autofree char *rootfs = nlx_image_store_get_rootfs (manager->images,
                                                           stored);
      GHashTableIter iter;
      gpointer key, value;

      image = nlx_image_new_from_path (stored->name, rootfs, error);
      if (image == NULL)
        return NULL;
      g_hash_table_iter_init (&iter, stored->properties);
      while (g_hash_table_iter_next (&iter, &key, &value))
        nlx_image_set_property (image, key, value);
      return g_steal_pointer (&image);
    }
  if (known == NULL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Image %s could not be found; see the image list for "
                     "what this host can boot"), ref);
      return NULL;
    }
  image = nlx_image_new_from_path (known->name, known->path, error);
  if (image == NULL)
    return NULL;
  if (known->init_path != NULL)
    nlx_image_set_property (image, NLX_IMAGE_PROP_INIT_PATH, known->init_path);
  if (known->shutdown_signal != NULL)
    nlx_image_set_property (image, NLX_IMAGE_PROP_SHUTDOWN_SIGNAL,
                            known->shutdown_signal);
  return g_steal_pointer (&image);
}

static NlxInstance *
copy_instance (const NlxInstance *instance)
{
  g_autoptr(JsonNode) node = nlx_instance_to_node (instance);

  return nlx_instance_new_from_node (node, NULL);
}

/**
 * nlx_manager_find_volume_user:
 * @id: a volume id
 * @attachment: (out caller-allocates) (optional): its attachment, the
 *   root volume's included (see nlx_instance_find_attachment()); it
 *   points into the record
 *
 * Returns: (transfer none) (nullable): the record of the instance using
 * volume @id, attached or as its root, if any
 */
const NlxRecord *
nlx_manager_find_volume_user (NlxManager *manager,
                              const char *id,
                              NlxVolumeAttachment *attachment)
{
  GHashTableIter iter;
  Entry *entry;

  g_hash_table_iter_init (&iter, manager->entries);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &entry))
    {
      NlxVolumeAttachment root;
      const NlxVolumeAttachment *found =
        nlx_instance_find_attachment (entry->record->instance, id, &root);

      if (found != NULL)
        {
          if (attachment != NULL)
            *attachment = *found;
          return entry->record;
        }
    }
  return NULL;
}

/* Volume @id exists, may be used, and no instance uses it. */
static gboolean
check_volume_free (NlxManager *manager,
                   const char *id,
                   GError **error)
{
  const NlxRecord *user = nlx_manager_find_volume_user (manager, id, NULL);
  int fd;

  if (user != NULL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_STATE,
                   _("Volume %s is in use by server %s; a volume can be "
                     "attached to one server at a time (multiattach is not "
                     "supported)"), id, user->instance->uuid);
      return FALSE;
    }
  fd = nlx_volume_open (manager->volumes, id, NULL, error);
  if (fd < 0)
    return FALSE;
  close (fd);
  return TRUE;
}

static gboolean
check_volumes_free (NlxManager *manager,
                    const NlxInstance *instance,
                    GError **error)
{
  if (instance->root_volume != NULL &&
      !check_volume_free (manager, instance->root_volume, error))
    return FALSE;
  for (guint i = 0; i < instance->volumes->len; i++)
    {
      const NlxVolumeAttachment *attachment = instance->volumes->pdata[i];

      if (g_strcmp0 (attachment->volume_id, instance->root_volume) == 0)
        {
          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                       _("Volume %s cannot be both the root and an attached "
                         "volume"), attachment->volume_id);
          return FALSE;
        }
      if (!check_volume_free (manager, attachment->volume_id, error))
        return FALSE;
    }
  return TRUE;
}

/* Allocates the instance's address and describes its interface, as
 * Nova's network API does before a spawn. */
static gboolean
give_address (NlxManager *manager,
              NlxInstance *instance,
              GError **error)
{
  g_autofree char *address = nlx_ipam_allocate (manager->ipam, instance->uuid,
                                                error);
  g_autofree char *mac = NULL;

  if (address == NULL)
    return FALSE;
  mac = nlx_network_mac_for (address);
  nlx_vif_free (instance->vif);
  instance->vif = nlx_vif_new (manager->network->bridge, mac, address,
                               manager->network->prefix,
                               manager->network->gateway);
  return TRUE;
}

/* The new record is on disk, or cannot be. */
static void
created (NlxManager *manager,
         Entry *entry,
         GError *error,
         gpointer data)
{
  g_autoptr(GTask) task = data;
  Call *call = g_task_get_task_data (task);
  Job *job;

  if (error != NULL)
    {
      /* Nobody saw it: it goes as if it never came. */
      if (entry != NULL)
        {
          remove_entry (manager, call->uuid);
          nlx_ipam_release (manager->ipam, call->uuid, NULL);
          save_addresses (manager);
        }
      g_task_return_error (task, g_error_copy (error));
      return;
    }
  entry->creating = FALSE;
  if (entry->record->unplaced)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  g_info ("Instance %s: spawning \"%s\" from %s %s",
          entry->record->instance->uuid, entry->record->instance->name,
          call->image ? "image" : "volume",
          call->image ? call->image->id
                      : entry->record->instance->root_volume);
  job = g_new0 (Job, 1);
  job->kind = JOB_SPAWN;
  job->uuid = g_strdup (entry->record->instance->uuid);
  job->instance = copy_instance (entry->record->instance);
  job->image = g_steal_pointer (&call->image);
  queue (manager, job);
  g_task_return_boolean (task, TRUE);
}

static void
run_create (NlxManager *manager,
            GTask *task)
{
  Call *call = g_task_get_task_data (task);
  g_autoptr(NlxInstance) instance = g_steal_pointer (&call->instance);
  GError *error = NULL;
  g_autofree char *why = NULL;
  gboolean unplaced = FALSE;
  Entry *entry;

  if (instance->image_ref != NULL &&
      (call->image = resolve_image (manager, instance->image_ref,
                                    &error)) == NULL)
    ;
  else if (!check_available (manager, &error) ||
           !check_volumes_free (manager, instance, &error))
    ;
  else if (g_hash_table_contains (manager->entries, instance->uuid) ||
           g_hash_table_contains (manager->quarantined, instance->uuid))
    g_set_error (&error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_EXISTS,
                 _("Instance %s already exists"), instance->uuid);
  else if (!fits (manager, &instance->flavor, &why))
    {
      /* As Nova: the create is accepted, and the server goes to ERROR
       * with the scheduler's fault, holding nothing (no address, no
       * claim); nothing is made on the host.  A caller sees what Nova
       * shows when no host has room. */
      g_message ("Instance %s: no room on this host for flavor %s: %s",
                 instance->uuid, instance->flavor.name, why);
      unplaced = TRUE;
    }
  else
    give_address (manager, instance, &error);
  if (error != NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  /* As Nova: without one asked for, the host name comes from the name. */
  if (instance->hostname == NULL)
    instance->hostname = nlx_hostname_from_name (instance->name,
                                                 instance->uuid);

  entry = entry_new (manager, nlx_record_new (g_steal_pointer (&instance)));
  entry->record->task_state = NLX_TASK_STATE_SPAWNING;
  if (unplaced)
    {
      entry->record->unplaced = TRUE;
      entry->record->task_state = NLX_TASK_STATE_NONE;
      entry->record->vm_state = NLX_VM_STATE_ERROR;
      set_fault (entry->record, NO_VALID_HOST_FAULT);
    }
  entry->creating = TRUE;
  g_hash_table_replace (manager->entries, entry->record->instance->uuid, entry);
  /* Durable before anything exists on the host: a crash from here on is
   * found and cleaned up at the next start. */
  commit_full (manager, entry, NULL, TRUE, created, g_object_ref (task));
}

/**
 * nlx_manager_create_async:
 * @instance: (transfer full): what to build; its image_ref must name a
 *   configured image, unless it boots from a root volume; its volumes
 *   must exist and be free
 *
 * Records the instance as BUILD and, once that is on disk, spawns it in
 * a worker and finishes.  Errors: #NLX_DRIVER_ERROR_INVALID_ARGUMENT for
 * an unknown image, #NLX_DRIVER_ERROR_NOT_FOUND for an unknown volume,
 * #NLX_DRIVER_ERROR_INVALID_STATE for a volume in use,
 * #NLX_DRIVER_ERROR_EXISTS for a uuid in use, #NLX_DRIVER_ERROR_FAILED
 * when the record cannot be saved.
 */
void
nlx_manager_create_async (NlxManager *manager,
                          NlxInstance *instance,
                          GAsyncReadyCallback callback,
                          gpointer user_data)
{
  Call *call;
  g_autoptr(GTask) task = call_new (run_create, instance->uuid,
                                    nlx_manager_create_async, callback,
                                    user_data, &call);

  call->instance = instance;
  run_create (manager, task);
}

/**
 * nlx_manager_create_finish:
 *
 * Returns: (transfer none): the new record, valid until the main loop
 *   runs again
 */
const NlxRecord *
nlx_manager_create_finish (NlxManager *manager,
                           GAsyncResult *result,
                           GError **error)
{
  Call *call = g_task_get_task_data (G_TASK (result));

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return NULL;
  return nlx_manager_lookup (manager, call->uuid, error);
}

static void
run_rename (NlxManager *manager,
            GTask *task)
{
  Call *call = g_task_get_task_data (task);
  GError *error = NULL;
  Entry *entry = find (manager, call->uuid, &error);
  g_autoptr(JsonNode) before = NULL;

  if (entry == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  /* The rule the record loader applies, or the server would be lost at
   * the next start. */
  if (!nlx_json_text_is_valid (call->name, NLX_INSTANCE_NAME_MAX))
    {
      g_task_return_new_error (task, NLX_DRIVER_ERROR,
                               NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                               _("A server name must be 1 to %d printable "
                                 "characters (no control characters)"),
                               NLX_INSTANCE_NAME_MAX);
      return;
    }
  before = nlx_record_to_node (entry->record);
  g_free (entry->record->instance->name);
  entry->record->instance->name = g_strdup (call->name);
  commit (manager, entry, before, answer_committed, g_object_ref (task));
}

/**
 * nlx_manager_rename_async:
 *
 * Renames the server; finishes once that is on disk.
 */
void
nlx_manager_rename_async (NlxManager *manager,
                          const char *uuid,
                          const char *name,
                          GAsyncReadyCallback callback,
                          gpointer user_data)
{
  Call *call;
  g_autoptr(GTask) task = call_new (run_rename, uuid, nlx_manager_rename_async,
                                    callback, user_data, &call);

  call->name = g_strdup (name);
  start_call (manager, task);
}

/* The finish of every change whose answer is only whether it is saved:
 * rename, act, rebuild. */
gboolean
nlx_manager_change_finish (NlxManager *manager,
                           GAsyncResult *result,
                           GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static const char *
action_name (NlxAction action)
{
  static const char * const names[] = {
    [NLX_ACTION_REBOOT_SOFT] = "reboot",
    [NLX_ACTION_REBOOT_HARD] = "reboot",
    [NLX_ACTION_STOP] = "stop",
    [NLX_ACTION_START] = "start",
    [NLX_ACTION_PAUSE] = "pause",
    [NLX_ACTION_UNPAUSE] = "unpause",
    [NLX_ACTION_DELETE] = "delete",
  };
  return names[action];
}

#define VM(state) (1u << NLX_VM_STATE_##state)

/* The vm_states (a mask of VM()) each action starts from, as Nova's
 * check_instance_state lists them. */
static guint
allowed_from (NlxAction action)
{
  switch (action)
    {
    case NLX_ACTION_REBOOT_SOFT:
    case NLX_ACTION_PAUSE:
      return VM (ACTIVE);
    case NLX_ACTION_REBOOT_HARD:
      return VM (ACTIVE) | VM (STOPPED) | VM (PAUSED) | VM (ERROR);
    case NLX_ACTION_STOP:
      return VM (ACTIVE) | VM (PAUSED) | VM (ERROR);
    case NLX_ACTION_START:
      /* ERROR too, so that a server whose init exited during boot can be
       * tried again once what it needed is fixed (a volume, the
       * network); a start that boots clears the fault. */
      return VM (STOPPED) | VM (ERROR);
    case NLX_ACTION_UNPAUSE:
      return VM (PAUSED);
    case NLX_ACTION_DELETE:
      return ~0u;
    default:
      g_assert_not_reached ();
    }
}

/* Whether @record is idle and in one of the vm_states @allowed for what
 * @what names. */
static gboolean
check_idle (const NlxRecord *record,
            guint allowed,
            const char *what,
            GError **error)
{
  if (record->task_state != NLX_TASK_STATE_NONE)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_STATE,
                   _("Cannot '%s' instance %s while it is in task_state %s; "
                     "wait until it is done"), what, record->instance->uuid,
                   nlx_task_state_to_string (record->task_state));
      return FALSE;
    }
  if (!(allowed & (1u << record->vm_state)))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_STATE,
                   _("Cannot '%s' instance %s while it is in vm_state %s"),
                   what, record->instance->uuid,
                   nlx_vm_state_to_string (record->vm_state));
      return FALSE;
    }
  /* Nova's InstanceNotReady for an instance with no host: it holds no
   * room here, so nothing but a delete may run it. */
  if (record->unplaced && allowed != allowed_from (NLX_ACTION_DELETE))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_STATE,
                   _("Instance %s is not ready: it has no place on this "
                     "host (%s); delete it"), record->instance->uuid,
                   record->fault ? record->fault : NO_VALID_HOST_FAULT);
      return FALSE;
    }
  return TRUE;
}

/* A delete asked for during another operation is saved: it runs once
 * that operation ends (apply_job() waits for this). */
static void
delete_committed (NlxManager *manager,
                  Entry *entry,
                  GError *error,
                  gpointer data)
{
  if (error == NULL && entry != NULL)
    entry->delete_pending = TRUE;
  answer_committed (manager, entry, error, data);
}

static void
run_act (NlxManager *manager,
         GTask *task)
{
  Call *call = g_task_get_task_data (task);
  NlxAction action = call->action;
  GError *error = NULL;
  Entry *entry = find (manager, call->uuid, &error);
  NlxRecord *record;

  if (entry == NULL || !check_available (manager, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  record = entry->record;
  /* Known now, so the caller gets 501 rather than a server in ERROR. */
  if ((action == NLX_ACTION_PAUSE || action == NLX_ACTION_UNPAUSE) &&
      !nlx_virt_has_capability (manager->virt, NLX_DRIVER_CAP_PAUSE))
    {
      g_task_return_new_error (task, NLX_DRIVER_ERROR,
                               NLX_DRIVER_ERROR_NOT_SUPPORTED,
                               _("This host's driver cannot pause instances"));
      return;
    }

  if (action == NLX_ACTION_DELETE && record->task_state != NLX_TASK_STATE_NONE)
    {
      g_autoptr(JsonNode) before = NULL;

      /* As in Nova, delete wins over whatever runs, once it ends. */
      if (record->task_state == NLX_TASK_STATE_DELETING)
        {
          g_task_return_boolean (task, TRUE);
          return;
        }
      before = nlx_record_to_node (record);
      record->task_state = NLX_TASK_STATE_DELETING;
      commit (manager, entry, before, delete_committed, g_object_ref (task));
      return;
    }
  if (!check_idle (record, allowed_from (action), action_name (action),
                   &error))
    {
      g_task_return_error (task, error);
      return;
    }
  g_info ("Instance %s: %s", record->instance->uuid, action_name (action));
  start_action (manager, entry, action, task);
}

/**
 * nlx_manager_act_async:
 *
 * Starts @action in a worker once the task state it shows until it ends
 * is on disk, and finishes then (nlx_manager_change_finish()).  A delete
 * asked for while another operation runs waits for it.  Errors:
 * #NLX_DRIVER_ERROR_NOT_FOUND, #NLX_DRIVER_ERROR_INVALID_STATE when the
 * instance is in the wrong state or busy, #NLX_DRIVER_ERROR_FAILED when
 * its record cannot be saved.
 */
void
nlx_manager_act_async (NlxManager *manager,
                       const char *uuid,
                       NlxAction action,
                       GAsyncReadyCallback callback,
                       gpointer user_data)
{
  Call *call;
  g_autoptr(GTask) task = call_new (run_act, uuid, nlx_manager_act_async,
                                    callback, user_data, &call);

  call->action = action;
  start_call (manager, task);
}

/* Entry @uuid, when the hypervisor answers and the entry is idle and in
 * one of the vm_states @allowed for what @what names. */
static Entry *
find_idle (NlxManager *manager,
           const char *uuid,
           guint allowed,
           const char *what,
           GError **error)
{
  Entry *entry = find (manager, uuid, error);

  if (entry == NULL || !check_available (manager, error) ||
      !check_idle (entry->record, allowed, what, error))
    return NULL;
  return entry;
}

/**
 * rebuild_now:
 * @instance: (transfer full): the instance as it is to be: the uuid of an
 *   existing one, with the image (and name and metadata) to rebuild with
 * @error: #NLX_DRIVER_ERROR_NOT_FOUND, #NLX_DRIVER_ERROR_INVALID_STATE
 *   when not ACTIVE, SHUTOFF or ERROR or busy, or
 *   #NLX_DRIVER_ERROR_INVALID_ARGUMENT for an unknown image or a server
 *   booted from a volume
 *
 * Replaces the instance's root with a new one from @instance's image, as
 * Nova's rebuild does, keeping its id, address and volume attachments
 * (whatever @instance says of those).  What was SHUTOFF ends SHUTOFF.
 */
static gboolean
rebuild_now (NlxManager *manager,
             NlxInstance *instance,
             GTask *task,
             GError **error)
{
  g_autoptr(NlxInstance) owned = instance;
  g_autoptr(NlxImage) image = NULL;
  Entry *entry = find_idle (manager, instance->uuid,
                            VM (ACTIVE) | VM (STOPPED) | VM (ERROR), "rebuild",
                            error);
  NlxRecord *record;
  NlxInstance *current;
  g_autoptr(JsonNode) before = NULL;
  gboolean stop_after;
  Job *job;

  if (entry == NULL)
    return FALSE;
  record = entry->record;
  current = record->instance;
  if (current->root_volume != NULL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Server %s boots from volume %s; rebuild gives a server "
                     "a new root from an image, so it cannot rebuild this "
                     "one"), current->uuid, current->root_volume);
      return FALSE;
    }
  if (instance->image_ref == NULL || instance->root_volume != NULL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("A rebuild needs the image to rebuild server %s with"),
                   current->uuid);
      return FALSE;
    }
  image = resolve_image (manager, instance->image_ref, error);
  if (image == NULL)
    return FALSE;

  /* Only what rebuild may change comes from the caller. */
  g_ptr_array_unref (instance->volumes);
  instance->volumes = g_ptr_array_ref (current->volumes);
  nlx_vif_free (instance->vif);
  instance->vif = current->vif ? nlx_vif_new (current->vif->bridge,
                                              current->vif->mac,
                                              current->vif->address,
                                              current->vif->prefix,
                                              current->vif->gateway)
                               : NULL;
  instance->flavor.privileged = current->flavor.privileged;
  instance->flavor.pids = current->flavor.pids;
  instance->flavor.cpu_shares = current->flavor.cpu_shares;
  instance->flavor.seccomp_unconfined = current->flavor.seccomp_unconfined;
  instance->config_drive = current->config_drive;
  if (instance->hostname == NULL)
    instance->hostname = g_strdup (current->hostname);
  g_date_time_unref (instance->created_at);
  instance->created_at = g_date_time_ref (current->created_at);

  before = nlx_record_to_node (record);
  stop_after = record->vm_state == NLX_VM_STATE_STOPPED;
  /* The table's key is the record's uuid string: key it anew. */
  g_hash_table_steal (manager->entries, current->uuid);
  record->instance = g_steal_pointer (&owned);
  g_hash_table_insert (manager->entries, record->instance->uuid, entry);
  nlx_instance_free (current);
  record->task_state = NLX_TASK_STATE_REBUILDING;
  entry->generation++;
  g_info ("Instance %s: rebuilding from image %s", record->instance->uuid,
          image->id);
  job = g_new0 (Job, 1);
  job->kind = JOB_REBUILD;
  job->uuid = g_strdup (record->instance->uuid);
  job->stop_after = stop_after;
  job->image = g_steal_pointer (&image);
  job->instance = copy_instance (record->instance);
  job->answer = g_object_ref (task);
  commit (manager, entry, before, job_committed, job);
  return TRUE;
}

static void
run_rebuild (NlxManager *manager,
             GTask *task)
{
  Call *call = g_task_get_task_data (task);
  GError *error = NULL;

  if (!rebuild_now (manager, g_steal_pointer (&call->instance), task, &error))
    g_task_return_error (task, error);
}

/**
 * nlx_manager_rebuild_async:
 *
 * rebuild_now(), once no other change to the record is being
 * saved; finishes (nlx_manager_change_finish()) once the rebuild's task
 * state is on disk.
 */
void
nlx_manager_rebuild_async (NlxManager *manager,
                           NlxInstance *instance,
                           GAsyncReadyCallback callback,
                           gpointer user_data)
{
  Call *call;
  g_autoptr(GTask) task = call_new (run_rebuild, instance->uuid,
                                    nlx_manager_rebuild_async, callback,
                                    user_data, &call);

  call->instance = instance;
  start_call (manager, task);
}

/**
 * nlx_manager_create_image_async:
 * @name: the new image's name (see nlx_image_name_is_valid())
 * @metadata: (nullable) (element-type utf8 utf8): properties to add to
 *   those of the server's image
 *
 * Snapshots an idle ACTIVE, SHUTOFF or PAUSED instance's root into a new
 * image of the store, as Nova's createImage does, while the instance
 * shows task_state image_snapshot.  Finishes when the image is stored.
 */
static void
run_create_image (NlxManager *manager,
                  GTask *task)
{
  Call *call = g_task_get_task_data (task);
  const char *uuid = call->uuid;
  const char *name = call->name;
  GHashTable *metadata = call->metadata;
  g_autoptr(GError) error = NULL;
  g_autoptr(NlxStoredImage) taken = NULL;
  Entry *entry = find_idle (manager, uuid,
                            VM (ACTIVE) | VM (STOPPED) | VM (PAUSED),
                            "createImage", &error);
  g_autoptr(NlxImage) source = NULL;
  g_autoptr(JsonNode) before = NULL;
  NlxRecord *record;
  Job *job;

  /* A client whose answer was lost retries: tell it, in its terms, that
   * its snapshot is still being made, or is made. */
  if (entry == NULL && g_error_matches (error, NLX_DRIVER_ERROR,
                                        NLX_DRIVER_ERROR_INVALID_STATE) &&
      (entry = find (manager, uuid, NULL)) != NULL &&
      entry->record->task_state == NLX_TASK_STATE_IMAGE_SNAPSHOT &&
      entry->snapshot_name != NULL)
    {
      g_clear_error (&error);
      uuid = entry->record->instance->uuid;
      if (g_strcmp0 (entry->snapshot_name, name) == 0)
        g_set_error (&error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_STATE,
                     _("Server %s is still being snapshotted as image “%s” "
                       "(asked for earlier); the image is listed in "
                       "/v2.1/images once it is stored. Wait for that "
                       "rather than asking again"), uuid, name);
      else
        g_set_error (&error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_STATE,
                     _("Server %s is being snapshotted as image “%s”; one "
                       "snapshot at a time: ask for “%s” again once that "
                       "image is listed in /v2.1/images"), uuid,
                     entry->snapshot_name, name);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (entry != NULL &&
      !nlx_virt_has_capability (manager->virt, NLX_DRIVER_CAP_SNAPSHOT))
    g_set_error (&error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_NOT_SUPPORTED,
                 _("This host's driver cannot snapshot instances"));
  else if (entry != NULL && !nlx_image_name_is_valid (name))
    g_set_error (&error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                 _("An image name must be 1 to %d letters, digits, “.”, “_” "
                   "or “-”, starting with a letter or digit, and not read as "
                   "an image id (64 hexadecimal digits or a UUID), got "
                   "“%s”"), NLX_IMAGE_NAME_MAX, name);
  else if (entry != NULL &&
           (taken = nlx_image_store_lookup (manager->images, name, NULL)) != NULL &&
           g_strcmp0 (g_hash_table_lookup (taken->properties, "instance_uuid"),
                      uuid) == 0)
    g_set_error (&error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_EXISTS,
                 _("Image “%s” (id %s) is already a snapshot of server %s, "
                   "perhaps made by an earlier createImage whose answer was "
                   "lost; use that image, or choose another name for a new "
                   "snapshot"), name, taken->id, uuid);
  else if (entry != NULL &&
           (taken != NULL || nlx_config_find_image (manager->config, name) != NULL))
    g_set_error (&error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_EXISTS,
                 _("An image named “%s” exists; choose another name"), name);
  if (entry == NULL || error != NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  record = entry->record;
  job = g_new0 (Job, 1);
  job->kind = JOB_SNAPSHOT;
  job->uuid = g_strdup (uuid);
  job->image_name = g_strdup (name);
  job->properties = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                           g_free);
  /* The new image boots as the old one did. */
  if (record->instance->image_ref != NULL)
    source = resolve_image (manager, record->instance->image_ref, NULL);
  if (source != NULL)
    {
      const char *keys[] = { NLX_IMAGE_PROP_INIT_PATH,
                             NLX_IMAGE_PROP_SHUTDOWN_SIGNAL };

      for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
        if (nlx_image_get_property (source, keys[i]) != NULL)
          g_hash_table_insert (job->properties, g_strdup (keys[i]),
                               g_strdup (nlx_image_get_property (source,
                                                                 keys[i])));
    }
  if (metadata != NULL)
    {
      GHashTableIter iter;
      gpointer key, value;

      g_hash_table_iter_init (&iter, metadata);
      while (g_hash_table_iter_next (&iter, &key, &value))
        g_hash_table_insert (job->properties, g_strdup (key), g_strdup (value));
    }
  g_hash_table_insert (job->properties, g_strdup ("image_type"),
                       g_strdup ("snapshot"));
  g_hash_table_insert (job->properties, g_strdup ("instance_uuid"),
                       g_strdup (uuid));
  job->task = g_object_ref (task);

  before = nlx_record_to_node (record);
  record->task_state = NLX_TASK_STATE_IMAGE_SNAPSHOT;
  entry->generation++;
  /* Read only while the task state says a snapshot runs (a failed save
   * puts that back), so it needs no clearing here. */
  g_free (entry->snapshot_name);
  entry->snapshot_name = g_strdup (name);
  g_info ("Instance %s: snapshot as image %s", uuid, name);
  commit (manager, entry, before, job_committed, job);
}

void
nlx_manager_create_image_async (NlxManager *manager,
                                const char *uuid,
                                const char *name,
                                GHashTable *metadata,
                                GAsyncReadyCallback callback,
                                gpointer user_data)
{
  Call *call;
  g_autoptr(GTask) task = call_new (run_create_image, uuid,
                                    nlx_manager_create_image_async, callback,
                                    user_data, &call);

  call->name = g_strdup (name);
  call->metadata = metadata ? g_hash_table_ref (metadata) : NULL;
  start_call (manager, task);
}

NlxStoredImage *
nlx_manager_create_image_finish (NlxManager *manager,
                                 GAsyncResult *result,
                                 GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- quick reads, off the main thread all the same ---------------------- */

typedef struct {
  NlxManager *manager;
  char *uuid;
  gsize max_bytes;
} ConsoleRequest;

static void
console_request_free (ConsoleRequest *request)
{
  manager_unref (request->manager);
  g_free (request->uuid);
  g_free (request);
}

static void
read_console (GTask *task,
              gpointer source,
              gpointer data,
              GCancellable *cancellable)
{
  ConsoleRequest *request = data;
  GError *error = NULL;
  char *output = nlx_virt_get_console_output (request->manager->virt,
                                              request->uuid,
                                              request->max_bytes, &error);

  if (output == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, output, g_free);
}

/**
 * nlx_manager_get_console_output_async:
 *
 * Reads the end of an instance's console log.  An instance still being
 * built has none yet (#NLX_DRIVER_ERROR_INVALID_STATE).
 */
void
nlx_manager_get_console_output_async (NlxManager *manager,
                                      const char *uuid,
                                      gsize max_bytes,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);
  GError *error = NULL;
  Entry *entry = find (manager, uuid, &error);
  ConsoleRequest *request;

  if (entry != NULL && (entry->record->vm_state == NLX_VM_STATE_BUILDING ||
                        entry->record->task_state == NLX_TASK_STATE_DELETING))
    g_set_error (&error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_STATE,
                 _("Instance %s is not ready: it is %s"), uuid,
                 nlx_record_status (entry->record));
  if (error != NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  request = g_new0 (ConsoleRequest, 1);
  request->manager = manager_ref (manager);
  request->uuid = g_strdup (entry->record->instance->uuid);
  request->max_bytes = max_bytes;
  g_task_set_task_data (task, request, (GDestroyNotify) console_request_free);
  g_task_run_in_thread (task, read_console);
}

char *
nlx_manager_get_console_output_finish (NlxManager *manager,
                                       GAsyncResult *result,
                                       GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- remote consoles ---------------------------------------------------- */

/* At most this many unused console URLs per server: a caller asking in a
 * loop cannot grow the table without bound within a token's life. */
#define CONSOLE_TOKENS_PER_SERVER 16

typedef struct {
  char *uuid;
  gint64 expires_at;            /* monotonic µs */
} ConsoleToken;

static void
console_token_free (gpointer data)
{
  ConsoleToken *token = data;

  g_free (token->uuid);
  g_free (token);
}

/* Whether the console of @entry may be used now: as Nova, only an
 * ACTIVE server not being deleted has one. */
static gboolean
console_ready_check (Entry *entry,
                     GError **error)
{
  if (entry->record->vm_state == NLX_VM_STATE_ACTIVE &&
      entry->record->task_state != NLX_TASK_STATE_DELETING)
    return TRUE;
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_STATE,
               _("Instance %s is not ready: it is %s; its console can be "
                 "used once it is ACTIVE"), entry->record->instance->uuid,
               nlx_record_status (entry->record));
  return FALSE;
}

/* Drops expired tokens, and the oldest of @uuid's beyond the cap. */
static void
prune_console_tokens (NlxManager *manager,
                      const char *uuid)
{
  gint64 now = g_get_monotonic_time ();
  GHashTableIter iter;
  ConsoleToken *token;
  guint count = 0;

  g_hash_table_iter_init (&iter, manager->console_tokens);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &token))
    if (token->expires_at <= now)
      g_hash_table_iter_remove (&iter);
  g_hash_table_iter_init (&iter, manager->console_tokens);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &token))
    if (g_str_equal (token->uuid, uuid))
      count++;
  for (; count >= CONSOLE_TOKENS_PER_SERVER; count--)
    {
      const char *oldest = NULL;
      gint64 oldest_expiry = G_MAXINT64;
      const char *key;

      g_hash_table_iter_init (&iter, manager->console_tokens);
      while (g_hash_table_iter_next (&iter, (gpointer *) &key, (gpointer *) &token))
        if (g_str_equal (token->uuid, uuid) && token->expires_at < oldest_expiry)
          {
            oldest = key;
            oldest_expiry = token->expires_at;
          }
      if (oldest == NULL)
        break;
      g_hash_table_remove (manager->console_tokens, oldest);
    }
}

/**
 * nlx_manager_create_console_token:
 * @uuid: the server's
 * @error: NOT_FOUND, INVALID_STATE (not ACTIVE), FAILED
 *
 * A new token for @uuid's serial console, as Nova's console auth tokens:
 * 128 random bits, usable once, for `[console] token_ttl` seconds.
 * Main thread only.
 *
 * Returns: (transfer full): the token, or %NULL
 */
char *
nlx_manager_create_console_token (NlxManager *manager,
                                  const char *uuid,
                                  GError **error)
{
  Entry *entry = find (manager, uuid, error);
  guint8 bytes[16];
  GString *text;
  ConsoleToken *token;

  if (entry == NULL || !console_ready_check (entry, error))
    return NULL;
  if (getrandom (bytes, sizeof bytes, 0) != sizeof bytes)
    {
      int saved_errno = errno;

      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot make a console token: %s"),
                   g_strerror (saved_errno));
      return NULL;
    }
  text = g_string_sized_new (2 * sizeof bytes);
  for (gsize i = 0; i < sizeof bytes; i++)
    g_string_append_printf (text, "%02x", bytes[i]);
  prune_console_tokens (manager, entry->record->instance->uuid);
  token = g_new0 (ConsoleToken, 1);
  token->uuid = g_strdup (entry->record->instance->uuid);
  token->expires_at = g_get_monotonic_time () +
                      (gint64) manager->config->console_token_ttl_s *
                      G_USEC_PER_SEC;
  g_hash_table_replace (manager->console_tokens, g_strdup (text->str), token);
  return g_string_free (text, FALSE);
}

/**
 * nlx_manager_take_console_token:
 * @token: what the caller presented
 * @error: NOT_AUTHORIZED-like #NLX_DRIVER_ERROR_NOT_FOUND when the token
 *   is unknown, used or expired; INVALID_STATE when the server is no
 *   longer ACTIVE
 *
 * Uses up @token, valid or not.  Main thread only.
 *
 * Returns: (transfer full): the uuid of the server it is for, or %NULL
 */
char *
nlx_manager_take_console_token (NlxManager *manager,
                                const char *token,
                                GError **error)
{
  g_autofree char *key = NULL;
  ConsoleToken *found = NULL;
  g_autofree char *uuid = NULL;
  gboolean expired;
  Entry *entry;

  if (token == NULL ||
      !g_hash_table_steal_extended (manager->console_tokens, token,
                                    (gpointer *) &key, (gpointer *) &found))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_NOT_FOUND,
                   _("The console token is invalid, used or expired; ask "
                     "for a new console URL"));
      return NULL;
    }
  expired = found->expires_at <= g_get_monotonic_time ();
  uuid = g_steal_pointer (&found->uuid);
  console_token_free (found);
  if (expired)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_NOT_FOUND,
                   _("The console token is invalid, used or expired; ask "
                     "for a new console URL"));
      return NULL;
    }
  entry = find (manager, uuid, error);
  if (entry == NULL || !console_ready_check (entry, error))
    return NULL;
  return g_steal_pointer (&uuid);
}

static void
attach_console (GTask *task,
                gpointer source,
                gpointer data,
                GCancellable *cancellable)
{
  ConsoleRequest *request = data;
  GError *error = NULL;
  int fd = nlx_virt_console_attach (request->manager->virt, request->uuid,
                                    &error);

  if (fd < 0)
    g_task_return_error (task, error);
  else
    g_task_return_int (task, fd);
}

/**
 * nlx_manager_console_attach_async:
 *
 * Attaches to @uuid's serial console (NlxDriver.console_attach) in a
 * worker thread, since the driver may wait on the hypervisor.
 */
void
nlx_manager_console_attach_async (NlxManager *manager,
                                  const char *uuid,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);
  GError *error = NULL;
  Entry *entry = find (manager, uuid, &error);
  ConsoleRequest *request;

  if (entry == NULL || !console_ready_check (entry, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  request = g_new0 (ConsoleRequest, 1);
  request->manager = manager_ref (manager);
  request->uuid = g_strdup (entry->record->instance->uuid);
  g_task_set_task_data (task, request, (GDestroyNotify) console_request_free);
  g_task_run_in_thread (task, attach_console);
}

/**
 * nlx_manager_console_attach_finish:
 *
 * Returns: a socket the caller owns (see NlxDriver.console_attach), or -1
 */
int
nlx_manager_console_attach_finish (NlxManager *manager,
                                   GAsyncResult *result,
                                   GError **error)
{
  GError *local_error = NULL;
  gssize fd = g_task_propagate_int (G_TASK (result), &local_error);

  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return -1;
    }
  return (int) fd;
}

static void
read_resources (GTask *task,
                gpointer source,
                gpointer data,
                GCancellable *cancellable)
{
  NlxManager *manager = data;
  GError *error = NULL;
  NlxHostResources *resources =
    nlx_virt_get_available_resource (manager->virt, &error);

  if (resources == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, resources,
                           (GDestroyNotify) nlx_host_resources_free);
}

/**
 * nlx_manager_get_resources_async:
 *
 * Reads the host's size from the driver, in a worker; finishing fills
 * in what this service's instances claim of it.
 */
void
nlx_manager_get_resources_async (NlxManager *manager,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);

  g_task_set_task_data (task, manager_ref (manager),
                        (GDestroyNotify) manager_unref);
  g_task_run_in_thread (task, read_resources);
}

NlxHostResources *
nlx_manager_get_resources_finish (NlxManager *manager,
                                  GAsyncResult *result,
                                  GError **error)
{
  NlxHostResources *resources = g_task_propagate_pointer (G_TASK (result),
                                                          error);
  NlxClaims claims;

  if (resources == NULL)
    return NULL;
  /* Used is what this service's flavors claim, plus what is reserved for
   * the host, as Nova's compute node shows it; not what the driver
   * measures, which other processes of the host share. */
  set_host_size (manager, resources);
  nlx_manager_get_claims (manager, &claims);
  resources->vcpus_used = claims.vcpus;
  resources->memory_mb_used = (guint64) manager->config->reserved_host_memory_mb +
                              claims.memory_mb;
  resources->local_gb_used = reserved_disk_gb (manager->config) +
                             claims.disk_gb;
  return resources;
}

/* ---- volumes -------------------------------------------------------------- */

/* Whether volume operations may start on the instance now. */
static gboolean
check_volume_change (NlxManager *manager,
                     Entry *entry,
                     GError **error)
{
  NlxRecord *record = entry->record;

  if (!check_available (manager, error))
    return FALSE;
  if (!nlx_virt_has_capability (manager->virt, NLX_DRIVER_CAP_VOLUMES))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_NOT_SUPPORTED,
                   _("This host's driver cannot attach volumes"));
      return FALSE;
    }
  if (record->task_state != NLX_TASK_STATE_NONE)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_STATE,
                   _("Cannot change the volumes of instance %s while it is "
                     "in task_state %s; wait until it is done"),
                   record->instance->uuid,
                   nlx_task_state_to_string (record->task_state));
      return FALSE;
    }
  if (record->vm_state != NLX_VM_STATE_ACTIVE &&
      record->vm_state != NLX_VM_STATE_STOPPED &&
      record->vm_state != NLX_VM_STATE_PAUSED)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_STATE,
                   _("Cannot change the volumes of instance %s while it is "
                     "in vm_state %s"), record->instance->uuid,
                   nlx_vm_state_to_string (record->vm_state));
      return FALSE;
    }
  return TRUE;
}

/* Starts the attach or detach once the record says so on disk, with
 * the attachment (already in the record when attaching) pending; @before
 * is the record as it was before, put back if that cannot be saved. */
static void
start_volume_job (NlxManager *manager,
                  Entry *entry,
                  JsonNode *before,
                  const NlxVolumeAttachment *attachment,
                  gboolean attach,
                  GTask *task)
{
  NlxRecord *record = entry->record;
  Job *job = g_new0 (Job, 1);

  /* Copied first: @attachment may be the record's, which a failed save
   * replaces. */
  job->kind = JOB_VOLUME;
  job->uuid = g_strdup (record->instance->uuid);
  job->attach = attach;
  job->attachment = nlx_volume_attachment_new (attachment->volume_id,
                                               attachment->device,
                                               attachment->mount_path);
  job->task = g_object_ref (task);

  record->task_state = attach ? NLX_TASK_STATE_ATTACHING_VOLUME
                              : NLX_TASK_STATE_DETACHING_VOLUME;
  record->pending_volume = g_strdup (attachment->volume_id);
  entry->generation++;
  commit (manager, entry, before, job_committed, job);
}

/**
 * nlx_manager_attach_volume_async:
 * @device: (nullable): /dev/vdb to /dev/vdz, or %NULL for the first free
 * @mount_path: (nullable): where to mount the volume's filesystem inside
 *   the instance, or %NULL for the device only
 *
 * Attaches volume @volume_id to an idle ACTIVE, SHUTOFF or PAUSED
 * instance.  The record holds the attachment from now on, marked
 * pending until the driver is done, so that no other instance can take
 * the volume meanwhile and a restart can undo a half-made attachment.
 */
static void
run_attach_volume (NlxManager *manager,
                   GTask *task)
{
  Call *call = g_task_get_task_data (task);
  const char *uuid = call->uuid;
  const char *volume_id = call->volume_id;
  const char *device = call->device;
  const char *mount_path = call->mount_path;
  g_autoptr(NlxVolumeAttachment) attachment = NULL;
  g_autoptr(JsonNode) before = NULL;
  g_autofree char *free_device = NULL;
  GError *error = NULL;
  Entry *entry = find (manager, uuid, &error);
  NlxInstance *instance;

  if (entry == NULL || !check_volume_change (manager, entry, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  instance = entry->record->instance;
  if (device == NULL)
    device = free_device = nlx_instance_next_device (instance);
  attachment = nlx_volume_attachment_new (volume_id, device, mount_path);
  if (device == NULL)
    g_set_error (&error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_STATE,
                 _("Instance %s has no free device left; detach a volume "
                   "first"), uuid);
  else if (nlx_volume_attachment_check (attachment, &error) &&
           nlx_instance_find_device (instance, device) != NULL)
    g_set_error (&error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_STATE,
                 _("Device %s of instance %s is taken; choose another or "
                   "leave it out"), device, uuid);
  else if (error == NULL)
    check_volume_free (manager, volume_id, &error);
  if (error != NULL)
    {
      g_task_return_error (task, error);
      return;
    }

  g_info ("Instance %s: attaching volume %s at %s%s%s", instance->uuid,
          volume_id, device, mount_path ? ", mounted at " : "",
          mount_path ? mount_path : "");
  before = nlx_record_to_node (entry->record);
  g_ptr_array_add (instance->volumes,
                   nlx_volume_attachment_new (volume_id, device, mount_path));
  start_volume_job (manager, entry, before, attachment, TRUE, task);
}

void
nlx_manager_attach_volume_async (NlxManager *manager,
                                 const char *uuid,
                                 const char *volume_id,
                                 const char *device,
                                 const char *mount_path,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data)
{
  Call *call;
  g_autoptr(GTask) task = call_new (run_attach_volume, uuid,
                                    nlx_manager_attach_volume_async, callback,
                                    user_data, &call);

  call->volume_id = g_strdup (volume_id);
  call->device = g_strdup (device);
  call->mount_path = g_strdup (mount_path);
  start_call (manager, task);
}

/**
 * nlx_manager_attach_volume_finish:
 *
 * Returns: (transfer full): the attachment made
 */
NlxVolumeAttachment *
nlx_manager_attach_volume_finish (NlxManager *manager,
                                  GAsyncResult *result,
                                  GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * nlx_manager_detach_volume_async:
 *
 * Detaches volume @volume_id: unmounted, its device node gone from the
 * instance, its loop device freed.  #NLX_DRIVER_ERROR_NOT_FOUND when it
 * is not attached to the instance, #NLX_DRIVER_ERROR_INVALID_STATE when
 * it is the instance's root volume.
 */
static void
run_detach_volume (NlxManager *manager,
                   GTask *task)
{
  Call *call = g_task_get_task_data (task);
  const char *uuid = call->uuid;
  const char *volume_id = call->volume_id;
  g_autoptr(JsonNode) before = NULL;
  GError *error = NULL;
  Entry *entry = find (manager, uuid, &error);
  const NlxVolumeAttachment *attachment = NULL;

  if (entry != NULL)
    attachment = nlx_instance_find_volume (entry->record->instance, volume_id);
  /* Nova refuses to detach a root device volume too: the instance's root
   * would go from under it.  It is attached, so not 404. */
  if (entry != NULL && volume_id != NULL &&
      g_strcmp0 (entry->record->instance->root_volume, volume_id) == 0)
    g_set_error (&error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_STATE,
                 _("Volume %s is the root filesystem of server %s and cannot "
                   "be detached; deleting the server releases it"),
                 volume_id, entry->record->instance->uuid);
  else if (entry != NULL && attachment == NULL)
    g_set_error (&error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_NOT_FOUND,
                 _("Volume %s is not attached to server %s"),
                 volume_id ? volume_id : "", uuid);
  if (error == NULL)
    check_volume_change (manager, entry, &error);
  if (error != NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  g_info ("Instance %s: detaching volume %s", uuid, volume_id);
  before = nlx_record_to_node (entry->record);
  start_volume_job (manager, entry, before, attachment, FALSE, task);
}

void
nlx_manager_detach_volume_async (NlxManager *manager,
                                 const char *uuid,
                                 const char *volume_id,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data)
{
  Call *call;
  g_autoptr(GTask) task = call_new (run_detach_volume, uuid,
                                    nlx_manager_detach_volume_async, callback,
                                    user_data, &call);

  call->volume_id = g_strdup (volume_id);
  start_call (manager, task);
}

gboolean
nlx_manager_detach_volume_finish (NlxManager *manager,
                                  GAsyncResult *result,
                                  GError **error)
{
  g_autoptr(NlxVolumeAttachment) attachment =
    g_task_propagate_pointer (G_TASK (result), error);

  return attachment != NULL;
}

static void
list_volumes (GTask *task,
              gpointer source,
              gpointer data,
              GCancellable *cancellable)
{
  NlxManager *manager = data;
  GError *error = NULL;
  GPtrArray *volumes = nlx_volume_list (manager->volumes, &error);

  if (volumes == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, volumes, (GDestroyNotify) g_ptr_array_unref);
}

/**
 * nlx_manager_list_volumes_async:
 *
 * Lists the volume directory, probing each volume, in a worker.
 */
void
nlx_manager_list_volumes_async (NlxManager *manager,
                                GAsyncReadyCallback callback,
                                gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);

  g_task_set_task_data (task, manager_ref (manager),
                        (GDestroyNotify) manager_unref);
  g_task_run_in_thread (task, list_volumes);
}

/**
 * nlx_manager_list_volumes_finish:
 *
 * Returns: (transfer full) (element-type NlxVolumeInfo): the volumes
 */
GPtrArray *
nlx_manager_list_volumes_finish (NlxManager *manager,
                                 GAsyncResult *result,
                                 GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

typedef struct {
  NlxManager *manager;
  char *id;
  guint64 size_bytes;
  char *fstype;
  char *from_dir;
} VolumeRequest;

static void
volume_request_free (VolumeRequest *request)
{
  manager_unref (request->manager);
  g_free (request->id);
  g_free (request->fstype);
  g_free (request->from_dir);
  g_free (request);
}

static void
create_volume (GTask *task,
               gpointer source,
               gpointer data,
               GCancellable *cancellable)
{
  VolumeRequest *request = data;
  NlxVolumeSettings *settings = request->manager->volumes;
  GError *error = NULL;
  NlxVolumeInfo *info = NULL;

  if (nlx_volume_create (settings, request->id, request->size_bytes,
                         request->fstype, request->from_dir, &error))
    info = nlx_volume_info (settings, request->id, &error);
  if (info == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, info, (GDestroyNotify) nlx_volume_info_free);
}

/**
 * nlx_manager_create_volume_async:
 * @fstype: (nullable): ext4 (the default) or xfs
 * @from_dir: (nullable): a host directory whose tree fills the new
 *   filesystem
 *
 * Makes a file-backed volume in the volume directory, in a worker.
 */
void
nlx_manager_create_volume_async (NlxManager *manager,
                                 const char *id,
                                 guint64 size_bytes,
                                 const char *fstype,
                                 const char *from_dir,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);
  VolumeRequest *request = g_new0 (VolumeRequest, 1);

  request->manager = manager_ref (manager);
  request->id = g_strdup (id);
  request->size_bytes = size_bytes;
  request->fstype = g_strdup (fstype);
  request->from_dir = g_strdup (from_dir);
  g_task_set_task_data (task, request, (GDestroyNotify) volume_request_free);
  g_task_run_in_thread (task, create_volume);
}

NlxVolumeInfo *
nlx_manager_create_volume_finish (NlxManager *manager,
                                  GAsyncResult *result,
                                  GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* Probes one volume: quick enough for the main thread. */
NlxVolumeInfo *
nlx_manager_get_volume (NlxManager *manager,
                        const char *id,
                        GError **error)
{
  return nlx_volume_info (manager->volumes, id, error);
}

/**
 * nlx_manager_delete_volume:
 * @error: #NLX_DRIVER_ERROR_INVALID_STATE while an instance uses it
 *
 * Removes the volume's entry (a symlink's target is left alone).
 */
gboolean
nlx_manager_delete_volume (NlxManager *manager,
                           const char *id,
                           GError **error)
{
  const NlxRecord *user = nlx_manager_find_volume_user (manager, id, NULL);

  if (user != NULL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_STATE,
                   _("Volume %s is in use by server %s; detach it or delete "
                     "the server first"), id, user->instance->uuid);
      return FALSE;
    }
  if (!nlx_volume_delete (manager->volumes, id, error))
    return FALSE;
  g_info ("Volume %s deleted", id);
  return TRUE;
}

/* ---- the image store ---------------------------------------------------- */

/**
 * nlx_manager_get_image_store:
 *
 * Returns: (transfer none): the images imported on this host, beside the
 * ones nova-lxc.conf names
 */
NlxImageStore *
nlx_manager_get_image_store (NlxManager *manager)
{
  return manager->images;
}

typedef struct {
  NlxManager *manager;
  char *file;
  char *name;
  GHashTable *properties;
} ImportRequest;

static void
import_request_free (ImportRequest *request)
{
  manager_unref (request->manager);
  g_free (request->file);
  g_free (request->name);
  g_clear_pointer (&request->properties, g_hash_table_unref);
  g_free (request);
}

static void
import_image (GTask *task,
              gpointer source,
              gpointer data,
              GCancellable *cancellable)
{
  ImportRequest *request = data;
  GError *error = NULL;
  NlxStoredImage *image = nlx_image_store_import (request->manager->images,
                                                  request->file, request->name,
                                                  request->properties, &error);

  if (image == NULL)
    {
      g_warning ("Import of %s as image %s failed: %s", request->file,
                 request->name, error->message);
      hide_internal_paths (request->manager, error);
      g_task_return_error (task, error);
    }
  else
    g_task_return_pointer (task, image, (GDestroyNotify) nlx_stored_image_free);
}

/**
 * nlx_manager_import_image_async:
 * @file: a root tarball or a raw or qcow2 disk image on this host
 * @properties: (nullable): image properties, e.g. os_shutdown_signal
 *
 * Imports an image into the store in a worker: a disk image takes tens
 * of seconds in libguestfs's appliance.
 */
void
nlx_manager_import_image_async (NlxManager *manager,
                                const char *file,
                                const char *name,
                                GHashTable *properties,
                                GAsyncReadyCallback callback,
                                gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);
  ImportRequest *request = g_new0 (ImportRequest, 1);

  request->manager = manager_ref (manager);
  request->file = g_strdup (file);
  request->name = g_strdup (name);
  request->properties = properties ? g_hash_table_ref (properties) : NULL;
  g_task_set_task_data (task, request, (GDestroyNotify) import_request_free);
  g_task_run_in_thread (task, import_image);
}

NlxStoredImage *
nlx_manager_import_image_finish (NlxManager *manager,
                                 GAsyncResult *result,
                                 GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

typedef struct {
  NlxManager *manager;
  char *id;
  char *name;
  GTask *caller;
} ImageDelete;

static void
image_delete_free (ImageDelete *request)
{
  manager_unref (request->manager);
  g_free (request->id);
  g_free (request->name);
  g_clear_object (&request->caller);
  g_free (request);
}

static void
delete_image_in_thread (GTask *task,
                        gpointer source,
                        gpointer data,
                        GCancellable *cancellable)
{
  ImageDelete *request = data;
  GError *error = NULL;

  if (nlx_image_store_delete (request->manager->images, request->id, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

/* Back in the main context: the image may be resolved again (or not). */
static void
image_deleted (GObject *source,
               GAsyncResult *result,
               gpointer data)
{
  ImageDelete *request = g_task_get_task_data (G_TASK (result));
  NlxManager *manager = request->manager;
  g_autoptr(GError) error = NULL;

  g_hash_table_remove (manager->images_deleting, request->id);
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      g_warning ("Delete of image %s (%s) failed: %s", request->name,
                 request->id, error->message);
      hide_internal_paths (manager, error);
      g_task_return_error (request->caller, g_steal_pointer (&error));
      return;
    }
  g_info ("Image %s (%s) deleted", request->name, request->id);
  g_task_return_boolean (request->caller, TRUE);
}

/**
 * nlx_manager_delete_image_async:
 *
 * Deletes an image of the store, in a worker: its record's unlink is
 * fsynced and its tree, which can be large, removed off the main loop.
 * Until it is done no server can be created or rebuilt from it.  Errors:
 * #NLX_DRIVER_ERROR_INVALID_STATE while a server uses it or it is being
 * deleted, #NLX_DRIVER_ERROR_NOT_FOUND.  Finish with
 * nlx_manager_change_finish().
 */
void
nlx_manager_delete_image_async (NlxManager *manager,
                                const char *ref,
                                GAsyncReadyCallback callback,
                                gpointer user_data)
{
  g_autoptr(GTask) caller = g_task_new (NULL, NULL, callback, user_data);
  g_autoptr(GTask) task = NULL;
  GError *error = NULL;
  g_autoptr(NlxStoredImage) image = nlx_image_store_lookup (manager->images,
                                                           ref, &error);
  ImageDelete *request;
  GHashTableIter iter;
  Entry *entry;

  g_task_set_source_tag (caller, nlx_manager_delete_image_async);
  if (image != NULL && g_hash_table_contains (manager->images_deleting,
                                              image->id))
    g_set_error (&error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_STATE,
                 _("Image %s is being deleted"), image->name);
  g_hash_table_iter_init (&iter, manager->entries);
  while (image != NULL && error == NULL &&
         g_hash_table_iter_next (&iter, NULL, (gpointer *) &entry))
    {
      const char *used = entry->record->instance->image_ref;

      if (g_strcmp0 (used, image->id) == 0 || g_strcmp0 (used, image->name) == 0)
        g_set_error (&error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_STATE,
                     _("Image %s is in use by server %s; delete the server "
                       "first"), image->name, entry->record->instance->uuid);
    }
  if (error != NULL)
    {
      g_task_return_error (caller, error);
      return;
    }
  g_hash_table_add (manager->images_deleting, g_strdup (image->id));
  request = g_new0 (ImageDelete, 1);
  request->manager = manager_ref (manager);
  request->id = g_strdup (image->id);
  request->name = g_strdup (image->name);
  request->caller = g_steal_pointer (&caller);
  task = g_task_new (NULL, NULL, image_deleted, NULL);
  g_task_set_task_data (task, request, (GDestroyNotify) image_delete_free);
  g_task_run_in_thread (task, delete_image_in_thread);
}

/* ---- key pairs ---------------------------------------------------------- */

/* A change to the key pairs on its way to disk.  Memory has it already,
 * so a second create of the same name is refused at once; a failed
 * write takes it back out. */
typedef struct {
  NlxManager *manager;
  GTask *task;                  /* NULL for a rewrite after a failure */
  char *user_id;
  char *added;                  /* the name of the key pair added */
  NlxKeypair *removed;          /* the key pair deleted */
} KeypairChange;

static void
keypair_change_free (KeypairChange *change)
{
  g_clear_object (&change->task);
  g_free (change->user_id);
  g_free (change->added);
  nlx_keypair_free (change->removed);
  manager_unref (change->manager);
  g_free (change);
}

static void write_keypairs (NlxManager *manager,
                            KeypairChange *change);

static void
keypairs_written (GObject *source,
                  GAsyncResult *result,
                  gpointer data)
{
  KeypairChange *change = data;
  NlxManager *manager = change->manager;
  g_autoptr(GError) error = NULL;

  if (nlx_store_save_finish (manager->store, result, &error))
    {
      if (change->task != NULL)
        g_task_return_boolean (change->task, TRUE);
      keypair_change_free (change);
      return;
    }
  g_warning (_("Cannot save the key pairs in %s: %s"),
             nlx_keypairs_get_path (manager->keypairs), error->message);
  if (change->task != NULL)
    {
      if (change->added != NULL)
        nlx_keypair_free (nlx_keypairs_remove (manager->keypairs,
                                               change->user_id,
                                               change->added));
      if (change->removed != NULL)
        nlx_keypairs_add (manager->keypairs, g_steal_pointer (&change->removed),
                          NULL);
      g_task_return_new_error (change->task, NLX_DRIVER_ERROR,
                               NLX_DRIVER_ERROR_FAILED,
                               _("Cannot save the key pairs in %s: %s; "
                                 "nothing was changed"),
                               nlx_keypairs_get_path (manager->keypairs),
                               error->message);
      /* Later changes were written with this one in them: write what
       * memory now holds, once, without retrying forever. */
      if (!manager->closed)
        {
          KeypairChange *rewrite = g_new0 (KeypairChange, 1);

          rewrite->manager = manager_ref (manager);
          write_keypairs (manager, rewrite);
        }
    }
  keypair_change_free (change);
}

/* Writes the key pairs as memory has them, off the main loop and in
 * order with the records. */
static void
write_keypairs (NlxManager *manager,
                KeypairChange *change)
{
  g_autofree char *data = nlx_keypairs_to_data (manager->keypairs);

  nlx_store_write_file_async (manager->store,
                              nlx_keypairs_get_path (manager->keypairs), data,
                              keypairs_written, change);
}

/**
 * nlx_manager_find_keypair:
 *
 * Returns: (transfer none) (nullable): @user_id's key pair @name, valid
 *   until the main loop runs again
 */
const NlxKeypair *
nlx_manager_find_keypair (NlxManager *manager,
                          const char *user_id,
                          const char *name)
{
  return nlx_keypairs_lookup (manager->keypairs, user_id, name);
}

/**
 * nlx_manager_list_keypairs:
 *
 * Returns: (transfer container) (element-type NlxKeypair): @user_id's key
 *   pairs by name, valid until the main loop runs again
 */
GPtrArray *
nlx_manager_list_keypairs (NlxManager *manager,
                           const char *user_id)
{
  return nlx_keypairs_list (manager->keypairs, user_id);
}

/**
 * nlx_manager_add_keypair_async:
 * @keypair: (transfer full): a key pair made by nlx_keypair_new()
 *
 * Keeps @keypair and finishes once it is on disk.  Errors:
 * #NLX_DRIVER_ERROR_EXISTS when its user has one of that name,
 * #NLX_DRIVER_ERROR_FAILED when it cannot be saved (then it is not kept).
 */
void
nlx_manager_add_keypair_async (NlxManager *manager,
                               NlxKeypair *keypair,
                               GAsyncReadyCallback callback,
                               gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);
  g_autofree char *user_id = g_strdup (keypair->user_id);
  g_autofree char *name = g_strdup (keypair->name);
  GError *error = NULL;
  const NlxKeypair *kept;
  KeypairChange *change;

  g_task_set_source_tag (task, nlx_manager_add_keypair_async);
  kept = nlx_keypairs_add (manager->keypairs, keypair, &error);
  if (kept == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  g_task_set_task_data (task, nlx_keypair_copy (kept),
                        (GDestroyNotify) nlx_keypair_free);
  change = g_new0 (KeypairChange, 1);
  change->manager = manager_ref (manager);
  change->task = g_steal_pointer (&task);
  change->user_id = g_steal_pointer (&user_id);
  change->added = g_steal_pointer (&name);
  write_keypairs (manager, change);
}

/**
 * nlx_manager_add_keypair_finish:
 *
 * Returns: (transfer full): the key pair as kept (with its id), or %NULL
 */
NlxKeypair *
nlx_manager_add_keypair_finish (NlxManager *manager,
                                GAsyncResult *result,
                                GError **error)
{
  if (!g_task_propagate_boolean (G_TASK (result), error))
    return NULL;
  return nlx_keypair_copy (g_task_get_task_data (G_TASK (result)));
}

/**
 * nlx_manager_delete_keypair_async:
 *
 * Deletes @user_id's key pair @name and finishes once that is on disk.
 * Servers created with it keep their copy of the public key, as in Nova.
 * Errors: #NLX_DRIVER_ERROR_NOT_FOUND, #NLX_DRIVER_ERROR_FAILED.
 */
void
nlx_manager_delete_keypair_async (NlxManager *manager,
                                  const char *user_id,
                                  const char *name,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);
  NlxKeypair *removed;
  KeypairChange *change;

  g_task_set_source_tag (task, nlx_manager_delete_keypair_async);
  removed = nlx_keypairs_remove (manager->keypairs, user_id, name);
  if (removed == NULL)
    {
      g_task_return_new_error (task, NLX_DRIVER_ERROR,
                               NLX_DRIVER_ERROR_NOT_FOUND,
                               _("Keypair %s not found for user %s"), name,
                               user_id);
      return;
    }
  change = g_new0 (KeypairChange, 1);
  change->manager = manager_ref (manager);
  change->task = g_steal_pointer (&task);
  change->user_id = g_strdup (user_id);
  change->removed = removed;
  write_keypairs (manager, change);
}

gboolean
nlx_manager_delete_keypair_finish (NlxManager *manager,
                                   GAsyncResult *result,
                                   GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}
