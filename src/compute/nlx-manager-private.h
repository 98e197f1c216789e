/* nlx-manager-private.h: what the pieces of the compute manager share:
 * its state, an instance's entry, the jobs its workers run, the calls
 * that wait for a record, and what one piece does for the others.  Not
 * for the API, which uses nlx-manager.h. */
#pragma once

#include "common/nlx-file.h"
#include "common/nlx-json.h"
#include "common/nlx-lock.h"
#include "compute/nlx-manager.h"
#include "compute/nlx-store.h"
#include "host/nlx-network.h"
#include "model/nlx-image.h"
#include "model/nlx-keypair.h"
#include "storage/nlx-image-store.h"
#include "storage/nlx-volume.h"

G_BEGIN_DECLS

/* Who asks for an operation, for its action (nlx-manager-actions.c). */
typedef struct {
  char *request_id;
  char *user_id;
  char *project_id;
} NlxCaller;

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
  /* A change a caller asked for is being saved (nlx_manager_commit()),
   * and until it is, nothing else changes the record: other asked
   * changes wait in @waiting (GTask, each with a Call), finished
   * operations in @deferred (Job), and syncs leave it alone.  So a failed
   * save puts back exactly the record as it was before that change. */
  gboolean committing;
  GQueue waiting;
  GQueue deferred;
  /* Created, and not saved yet: nobody sees it. */
  gboolean creating;
  /* Deleted, its record on its way off the disk (nlx_manager_forget()): nothing
   * changes or saves it any more; it goes, and its address with it,
   * once the record is gone. */
  gboolean forgetting;
  /* While saves of changes readers must not see yet are on their way to
   * disk (@hiding of them): the record as it was before the first, which
   * readers see until the last has landed.  A commit's change may yet be
   * undone; a build's end not on disk yet would not be found by a
   * restart (nlx_manager_save_end()). */
  NlxRecord *shown;
  guint hiding;
  /* The name of the image a snapshot in progress makes, so that a
   * createImage retried meanwhile hears which. */
  char *snapshot_name;
  /* The power state the watcher last heard of (nlx_manager_save()). */
  NlxPowerState announced_power_state;
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
  /* Every call into the driver, and every long call of the storage
   * layer, runs here (nlx_manager_run_in_worker()), and
   * nlx_manager_stop() waits for all of them before the driver closes. */
  GThreadPool *workers;
  guint running;                /* operations on records in workers */
  guint calls;                  /* everything in workers (main thread) */
  /* Cancelled by nlx_manager_stop(): work given it that has not started
   * by then does not start. */
  GCancellable *stopping;
  /* Callers of work that ended once the manager stopped: nobody may be
   * there to hear (the API is gone), so nlx_manager_free() answers them,
   * where no callback runs any more. */
  GQueue unanswered;
  GSource *sync_source;
  GSource *retry_source;
  GSource *save_source;         /* retries records that could not be saved */
  guint64 next_serial;
  /* The address file is older than the allocations in memory. */
  gboolean addresses_unsaved;
  GHashTable *images_deleting;  /* ids of the images a worker deletes */
  /* id -> how many downloads read its tree (nlx_manager_export_image()):
   * deleting it meanwhile would cut them short */
  GHashTable *images_exporting;
  /* Told of every power state change (nlx_manager_watch_power_states()) */
  NlxManagerPowerFunc power_watch;
  gpointer power_watch_data;
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
  /* Who asks for what starts now (nlx_manager_set_caller()); main
   * thread only */
  NlxCaller *caller;
  /* The most recently deleted servers' histories (NlxDeletedServer),
   * oldest deletion first, bounded (nlx-manager-actions.c), and their
   * file under state_path */
  GPtrArray *deleted;
  char *deleted_path;
};

typedef struct _Job Job;

/* Which operation a Job is, for the files that make them (the job runner
 * knows only Job.run, .finish and .answer_caller). */
typedef enum {
  JOB_SPAWN,
  JOB_ACTION,
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

/* An operation on one record (at most one per record at a time): its
 * task state is saved, it runs in a worker, and the instance's state is
 * read back there; its end is applied to the record in the main context
 * (nlx-manager-jobs.c). */
struct _Job {
  NlxManager *manager;
  JobKind kind;
  /* In a worker: the driver's calls.  Returns whether they worked. */
  gboolean (*run) (NlxManager *manager,
                   Job *job,
                   GError **error);
  /* In the main context: what it leaves the record as.  Returns whether
   * it took @job (to end it once a save is done, nlx_manager_end_job()). */
  gboolean (*finish) (NlxManager *manager,
                      Entry *entry,
                      Job *job);
  /* Optional: tells the caller, once the record is saved or not. */
  void (*answer_caller) (Job *job);
  /* Once it worked the instance is gone (a delete): nothing is read
   * back, and the record goes. */
  gboolean deletes;
  char *uuid;
  NlxAction action;
  NlxInstance *instance;        /* JOB_SPAWN, JOB_REBUILD: a copy */
  NlxImage *image;              /* JOB_SPAWN, JOB_REBUILD */
  gboolean stop_after;          /* JOB_REBUILD: it was SHUTOFF */
  NlxVolumeAttachment *attachment; /* JOB_VOLUME: a copy for the worker */
  gboolean attach;              /* JOB_VOLUME: or detach */
  char *image_name;             /* JOB_SNAPSHOT: the new image's */
  GHashTable *properties;       /* JOB_SNAPSHOT: the new image's */
  NlxStoredImage *stored;       /* JOB_SNAPSHOT: the new image */
  char *backup_type;            /* JOB_SNAPSHOT: a createBackup's, or NULL */
  gint64 rotation;              /* JOB_SNAPSHOT of a backup: how many kept */
  GTask *task;                  /* JOB_VOLUME, JOB_SNAPSHOT: the caller */
  /* The caller answered once the job's task state is saved, before the
   * job runs (JOB_ACTION, JOB_REBUILD) */
  GTask *answer;
  /* The end of a build: the record as it was, which readers see until
   * the end is saved (nlx_manager_save_end()) */
  NlxRecord *before_end;
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
};

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
  char *backup_type;            /* createBackup: its type (else NULL) */
  gint64 rotation;              /* createBackup: how many backups to keep */
  gboolean no_room;             /* create: its request does not fit */
  gboolean replace;             /* metadata, tags: replaces, not merges */
  gboolean set_description;     /* update: change the description */
  char *description;            /* update: the new one (NULL: none) */
  char *hostname;               /* update: the new host name, or NULL */
  char *access_ipv4;            /* update: the new one ("": none), or NULL */
  char *access_ipv6;            /* update: the same, IPv6 */
  char *locked_by;              /* lock: who, or NULL to unlock */
  char *locked_reason;          /* lock: why (NULL: not said) */
  GPtrArray *tags;              /* tags: the new ones (replace) */
  char *tag;                    /* tags: the one to add, or to remove */
  gboolean remove;              /* tags: remove @tag (else add it) */
  NlxCaller *caller;            /* who asked (nlx_manager_note_caller()) */
};

#define VM(state) (1u << NLX_VM_STATE_##state)

/* nlx-manager.c */
gboolean nlx_manager_is_unavailable (const GError *error);
Entry *nlx_manager_entry_new (NlxManager *manager,
                              NlxRecord *record);
NlxManager *nlx_manager_ref (NlxManager *manager);
void nlx_manager_unref (NlxManager *manager);
void nlx_manager_set_fault (NlxRecord *record,
                            const char *message);
NlxVmState nlx_manager_vm_state_for (NlxPowerState power_state);
gboolean nlx_manager_apply_power_state (NlxRecord *record,
                                        NlxPowerState power_state);
Entry *nlx_manager_find (NlxManager *manager,
                         const char *uuid,
                         GError **error);
gboolean nlx_manager_fits (NlxManager *manager,
                           const NlxFlavor *flavor,
                           guint count,
                           char **why);
gboolean nlx_manager_check_available (NlxManager *manager,
                                      GError **error);

/* nlx-manager-records.c */
GTask *nlx_manager_call_new (void (*run) (NlxManager *manager,
                                          GTask *task),
                             const char *uuid,
                             gpointer source_tag,
                             GAsyncReadyCallback callback,
                             gpointer user_data,
                             Call **call);
void nlx_manager_save_addresses (NlxManager *manager);
void nlx_manager_save (NlxManager *manager,
                       Entry *entry);
void nlx_manager_save_end (NlxManager *manager,
                           Entry *entry,
                           NlxRecord *before);
void nlx_manager_commit_full (NlxManager *manager,
                              Entry *entry,
                              JsonNode *before,
                              gboolean addresses,
                              void (*done) (NlxManager *manager,
                                            Entry *entry,
                                            GError *error,
                                            gpointer data),
                              gpointer data);
void nlx_manager_commit (NlxManager *manager,
                         Entry *entry,
                         JsonNode *before,
                         void (*done) (NlxManager *manager,
                                       Entry *entry,
                                       GError *error,
                                       gpointer data),
                         gpointer data);
void nlx_manager_answer_committed (NlxManager *manager,
                                   Entry *entry,
                                   GError *error,
                                   gpointer data);
void nlx_manager_remove_entry (NlxManager *manager,
                               const char *uuid);
void nlx_manager_forget (NlxManager *manager,
                         const char *uuid);
void nlx_manager_start_call (NlxManager *manager,
                             GTask *task);

/* nlx-manager-jobs.c */
/* A worker's half of a piece of work, or its main context's half, which
 * takes @data. */
typedef void (*NlxManagerWorkFunc) (NlxManager *manager,
                                    gpointer data,
                                    GCancellable *cancellable);
/* What a caller's GTask waits for: runs in a worker; a result (which
 * @result_free frees) or %NULL and @error. */
typedef gpointer (*NlxManagerTaskFunc) (NlxManager *manager,
                                        gpointer task_data,
                                        GCancellable *cancellable,
                                        GError **error);
void nlx_manager_work (gpointer data,
                       gpointer pool_data);
gboolean nlx_manager_run_in_worker (NlxManager *manager,
                                    NlxManagerWorkFunc run,
                                    NlxManagerWorkFunc done,
                                    gpointer data,
                                    GCancellable *cancellable);
void nlx_manager_run_task_in_worker (NlxManager *manager,
                                     GTask *task,
                                     NlxManagerTaskFunc func,
                                     GDestroyNotify result_free,
                                     GCancellable *cancellable);
void nlx_manager_return_task (NlxManager *manager,
                              GTask *task,
                              gpointer result,
                              GDestroyNotify result_free,
                              GError *error);
void nlx_manager_note_availability (NlxManager *manager,
                                    gboolean available);
char *nlx_manager_fault_of (NlxManager *manager,
                            const char *uuid,
                            const NlxInstanceInfo *info);
void nlx_manager_job_free (Job *job);
GSource *nlx_manager_add_timeout (NlxManager *manager,
                                  guint seconds,
                                  GSourceFunc func);
void nlx_manager_defer (NlxManager *manager,
                        GSourceFunc func,
                        gpointer data);
void nlx_manager_fail_stopping (GTask *task);
void nlx_manager_queue (NlxManager *manager,
                        Job *job);
void nlx_manager_job_committed (NlxManager *manager,
                                Entry *entry,
                                GError *error,
                                gpointer data);
gboolean nlx_manager_lost_hypervisor (const Job *job);
void nlx_manager_end_job (NlxManager *manager,
                          Entry *entry,
                          Job *job,
                          gboolean saved);
gboolean nlx_manager_job_done (gpointer data);

/* nlx-manager-actions.c */
void nlx_manager_caller_free (NlxCaller *caller);
NlxCaller *nlx_manager_caller_copy (const NlxCaller *caller);
void nlx_manager_note_caller (NlxManager *manager,
                              Call *call);
NlxInstanceAction *nlx_manager_action_begin (NlxManager *manager,
                                             Entry *entry,
                                             GTask *task,
                                             const char *action,
                                             const char *event);
void nlx_manager_action_begin_job (NlxManager *manager,
                                   Entry *entry,
                                   GTask *task,
                                   const Job *job);
void nlx_manager_action_begin_create (NlxManager *manager,
                                      Entry *entry,
                                      GTask *task);
void nlx_manager_action_begin_delete (NlxManager *manager,
                                      Entry *entry,
                                      GTask *task);
void nlx_manager_action_end_job (NlxManager *manager,
                                 Entry *entry,
                                 const Job *job);
void nlx_manager_action_end_interrupted (Entry *entry,
                                         gboolean deleting);
void nlx_manager_load_deleted (NlxManager *manager);
void nlx_manager_keep_deleted (NlxManager *manager,
                               Entry *entry,
                               const Job *job);

/* nlx-manager-servers.c */
gboolean nlx_manager_job_starts_instance (const Job *job);
void nlx_manager_start_action (NlxManager *manager,
                               Entry *entry,
                               NlxAction action,
                               GTask *task);
Entry *nlx_manager_find_idle (NlxManager *manager,
                              const char *uuid,
                              guint allowed,
                              const char *what,
                              GError **error);

/* nlx-manager-volumes.c */
void nlx_manager_remove_volume (NlxInstance *instance,
                                const char *id);
gboolean nlx_manager_check_volumes_free (NlxManager *manager,
                                         const NlxInstance *instance,
                                         GError **error);

/* nlx-manager-images.c */
void nlx_manager_import_config_images (NlxManager *manager);
NlxImage *nlx_manager_resolve_image (NlxManager *manager,
                                     const char *ref,
                                     GError **error);

/* nlx-manager-consoles.c */
void nlx_manager_console_token_free (gpointer data);

/* nlx-manager-sync.c */
void nlx_manager_apply_sync (NlxManager *manager,
                             GPtrArray *results);
gboolean nlx_manager_periodic_sync (gpointer data);
gboolean nlx_manager_retry_sync (gpointer data);
void nlx_manager_on_driver_event (const char *uuid,
                                  gpointer user_data);
gboolean nlx_manager_reconcile (NlxManager *manager,
                                GError **error);

G_END_DECLS
