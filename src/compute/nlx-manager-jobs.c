/* nlx-manager-jobs.c: the manager's one worker mechanism: every driver
 * call as work in its pool (nlx_manager_run_in_worker()), the result
 * applied back in the main context; and the runner of operations on
 * records (Job), which knows them only by Job.run, .finish and .answer_caller */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "compute/nlx-manager-private.h"

void
nlx_manager_job_free (Job *job)
{
  g_free (job->uuid);
  nlx_instance_free (job->instance);
  nlx_image_free (job->image);
  nlx_volume_attachment_free (job->attachment);
  g_free (job->image_name);
  g_clear_pointer (&job->properties, g_hash_table_unref);
  nlx_stored_image_free (job->stored);
  g_free (job->backup_type);
  g_clear_object (&job->task);
  g_clear_object (&job->answer);
  g_clear_error (&job->error);
  g_clear_error (&job->info_error);
  g_clear_error (&job->undo_cause);
  nlx_record_free (job->before_end);
  g_free (job->fault);
  g_free (job);
}

/* Attaches a timeout to the manager's context, never the global default
 * one: libvirt's event loop iterates that from its own thread. */
GSource *
nlx_manager_add_timeout (NlxManager *manager,
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
void
nlx_manager_defer (NlxManager *manager,
                   GSourceFunc func,
                   gpointer data)
{
  GSource *source = g_idle_source_new ();

  g_source_set_callback (source, func, data, NULL);
  g_source_attach (source, manager->context);
  g_source_unref (source);
}

/* Why an instance that does not run stopped, when the driver says it
 * failed by itself (an init that exited during boot); asked right after
 * get_info, so that both describe the same stop. */
char *
nlx_manager_fault_of (NlxManager *manager,
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

/* ---- the one worker mechanism ---------------------------------------- */

typedef struct {
  NlxManager *manager;
  NlxManagerWorkFunc run;
  NlxManagerWorkFunc done;
  gpointer data;
  GCancellable *cancellable;
} Work;

static gboolean
work_done (gpointer data)
{
  Work *work = data;
  NlxManager *manager = work->manager;

  manager->calls--;
  work->done (manager, work->data, work->cancellable);
  g_clear_object (&work->cancellable);
  g_free (work);
  nlx_manager_unref (manager);
  return G_SOURCE_REMOVE;
}

/* The pool's function (manager->workers). */
void
nlx_manager_work (gpointer data,
                  gpointer pool_data G_GNUC_UNUSED)
{
  Work *work = data;

  work->run (work->manager, work->data, work->cancellable);
  nlx_manager_defer (work->manager, work_done, work);
}

/**
 * nlx_manager_run_in_worker:
 * @run: called in a worker thread: the only place that calls the driver
 *   (or a long storage call)
 * @done: called next in the manager's main context, always (also once the
 *   manager stops: it checks manager->closed); takes @data
 * @cancellable: (nullable): handed to both; nlx_manager_stop() cancels
 *   manager->stopping
 *
 * Runs a piece of work in the manager's pool.  Every call into the
 * driver goes through here, so nlx_manager_stop(), which waits for the
 * pool, returns only once none is running: then the driver may close.
 *
 * Returns: %FALSE, and @data is still the caller's, once the manager
 * stops
 */
gboolean
nlx_manager_run_in_worker (NlxManager *manager,
                           NlxManagerWorkFunc run,
                           NlxManagerWorkFunc done,
                           gpointer data,
                           GCancellable *cancellable)
{
  Work *work;

  if (manager->closed)
    return FALSE;
  work = g_new0 (Work, 1);
  work->manager = nlx_manager_ref (manager);
  work->run = run;
  work->done = done;
  work->data = data;
  work->cancellable = cancellable ? g_object_ref (cancellable) : NULL;
  manager->calls++;
  g_thread_pool_push (manager->workers, work, NULL);
  return TRUE;
}

/**
 * nlx_manager_return_task:
 * @result: (transfer full) (nullable): what @task returns, unless @error
 * @error: (transfer full) (nullable):
 *
 * Answers a caller in the main context.  Once the manager stops its
 * callers may be gone (the daemon frees the API first), so @task is kept
 * for nlx_manager_free(), which fails it where no callback runs any
 * more, and @result is freed.
 */
void
nlx_manager_return_task (NlxManager *manager,
                         GTask *task,
                         gpointer result,
                         GDestroyNotify result_free,
                         GError *error)
{
  if (manager->closed)
    {
      if (result != NULL && result_free != NULL)
        result_free (result);
      g_clear_error (&error);
      g_queue_push_tail (&manager->unanswered, g_object_ref (task));
      return;
    }
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, result, result_free);
}

typedef struct {
  GTask *task;
  NlxManagerTaskFunc func;
  GDestroyNotify result_free;
  gpointer result;
  GError *error;
} TaskWork;

static void
task_run (NlxManager *manager,
          gpointer data,
          GCancellable *cancellable)
{
  TaskWork *work = data;

  /* Queued before the stop, and not started by then. */
  if (g_cancellable_is_cancelled (cancellable))
    g_set_error (&work->error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_UNAVAILABLE,
                 _("The compute service is stopping"));
  else
    work->result = work->func (manager, g_task_get_task_data (work->task),
                               cancellable, &work->error);
  g_assert ((work->result == NULL) != (work->error == NULL));
}

static void
task_done (NlxManager *manager,
           gpointer data,
           GCancellable *cancellable G_GNUC_UNUSED)
{
  TaskWork *work = data;

  nlx_manager_return_task (manager, work->task,
                           g_steal_pointer (&work->result), work->result_free,
                           g_steal_pointer (&work->error));
  g_object_unref (work->task);
  g_free (work);
}

/**
 * nlx_manager_run_task_in_worker:
 * @task: the caller's; its task data is @func's
 * @func: called in a worker; what it returns @task returns
 * @cancellable: (nullable): manager->stopping for work that need not
 *   start once the manager stops
 *
 * The asynchronous calls that touch no record (console, host size,
 * volumes, images) on the manager's one worker mechanism
 * (nlx_manager_run_in_worker()).
 */
void
nlx_manager_run_task_in_worker (NlxManager *manager,
                                GTask *task,
                                NlxManagerTaskFunc func,
                                GDestroyNotify result_free,
                                GCancellable *cancellable)
{
  TaskWork *work = g_new0 (TaskWork, 1);

  work->task = g_object_ref (task);
  work->func = func;
  work->result_free = result_free;
  if (!nlx_manager_run_in_worker (manager, task_run, task_done, work,
                                  cancellable))
    {
      nlx_manager_fail_stopping (task);
      g_object_unref (work->task);
      g_free (work);
    }
}

/* ---- operations on records -------------------------------------------- */

static void
job_run (NlxManager *manager,
         gpointer data,
         GCancellable *cancellable G_GNUC_UNUSED)
{
  Job *job = data;

  job->ok = job->run (manager, job, &job->error);
  /* What the instance is now, whether the operation worked or not. */
  if (!(job->deletes && job->ok))
    job->have_info = nlx_virt_get_info (manager->virt, job->uuid, &job->info,
                                        &job->info_error);
  if (job->have_info)
    job->fault = nlx_manager_fault_of (manager, job->uuid, &job->info);
}

static void
job_finished (NlxManager *manager G_GNUC_UNUSED,
              gpointer data,
              GCancellable *cancellable G_GNUC_UNUSED)
{
  nlx_manager_job_done (data);
}

void
nlx_manager_fail_stopping (GTask *task)
{
  g_task_return_new_error (task, NLX_DRIVER_ERROR,
                           NLX_DRIVER_ERROR_UNAVAILABLE,
                           _("The compute service is stopping"));
}

/* Once the manager stops, a job whose task state was saved does not run:
 * the next start reconciles it as interrupted. */
void
nlx_manager_queue (NlxManager *manager,
                   Job *job)
{
  if (manager->closed)
    {
      if (job->task != NULL)
        nlx_manager_return_task (manager, job->task, NULL, NULL, NULL);
      nlx_manager_job_free (job);
      return;
    }
  job->manager = nlx_manager_ref (manager);
  manager->running++;
  nlx_manager_run_in_worker (manager, job_run, job_finished, job, NULL);
}

/* nlx_manager_commit() is done for a change that starts @data, a Job: it
 * runs once the record says so on disk, or its callers hear why not. */
void
nlx_manager_job_committed (NlxManager *manager,
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
      nlx_manager_job_free (job);
      return;
    }
  if (job->answer != NULL)
    g_task_return_boolean (job->answer, TRUE);
  g_clear_object (&job->answer);
  nlx_manager_queue (manager, job);
}

void
nlx_manager_note_availability (NlxManager *manager,
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
    manager->retry_source = nlx_manager_add_timeout (manager, 1,
                                                     nlx_manager_retry_sync);
}

/* Whether the hypervisor went away while @job ran, so that nobody knows
 * how it ended: it failed for that reason, or it succeeded but the
 * instance could not be read back.  libvirtd restarting in the middle of
 * a stop did the latter, and the instance was running all along. */
gboolean
nlx_manager_lost_hypervisor (const Job *job)
{
  return nlx_manager_is_unavailable (job->error) ||
         (!job->have_info && nlx_manager_is_unavailable (job->info_error));
}

/* What is left of an operation's end once its record is as it should
 * be: a delete waiting for it starts, the record is saved (unless
 * @saved), a volume's caller hears. */
void
nlx_manager_end_job (NlxManager *manager,
                     Entry *entry,
                     Job *job,
                     gboolean saved)
{
  /* Waiting for the hypervisor, a delete would only fail again;
   * reconcile_awaiting() runs it. */
  if (entry->delete_pending && !entry->awaiting_hypervisor)
    {
      entry->delete_pending = FALSE;
      nlx_manager_start_action (manager, entry, NLX_ACTION_DELETE, NULL);
    }
  else if (job->before_end != NULL && !saved)
    nlx_manager_save_end (manager, entry, g_steal_pointer (&job->before_end));
  else if (!saved)
    nlx_manager_save (manager, entry);
  if (job->answer_caller != NULL)
    job->answer_caller (job);
}

/* Returns whether it took @job (and its reference to the manager). */
static gboolean
apply_job (NlxManager *manager,
           Job *job)
{
  Entry *entry;

  nlx_manager_note_availability (manager,
                                 !nlx_manager_is_unavailable (job->error) &&
                                 !nlx_manager_is_unavailable (job->info_error));

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

  if (job->deletes && job->ok)
    {
      g_info ("Instance %s deleted", job->uuid);
      /* Its history outlives it (2.21), written before its record goes. */
      nlx_manager_keep_deleted (manager, entry, job);
      nlx_manager_forget (manager, job->uuid);
      return FALSE;
    }
  /* A build's end is shown once saved: a restart that found the build
   * on disk would take it for one it interrupted. */
  if (entry->record->task_state == NLX_TASK_STATE_SPAWNING ||
      entry->record->vm_state == NLX_VM_STATE_BUILDING)
    job->before_end = nlx_record_copy (entry->record);
  nlx_manager_action_end_job (manager, entry, job);
  if (job->finish (manager, entry, job))
    return TRUE;
  nlx_manager_end_job (manager, entry, job, FALSE);
  return FALSE;
}

gboolean
nlx_manager_job_done (gpointer data)
{
  Job *job = data;
  NlxManager *manager = job->manager;

  if (!manager->closed)
    {
      if (apply_job (manager, job))
        return G_SOURCE_REMOVE;
    }
  else if (job->task != NULL)
    nlx_manager_return_task (manager, job->task, NULL, NULL, NULL);
  nlx_manager_job_free (job);
  nlx_manager_unref (manager);
  return G_SOURCE_REMOVE;
}
