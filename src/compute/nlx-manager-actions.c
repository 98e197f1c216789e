/* nlx-manager-actions.c: each instance's action history, Nova's
 * instance actions (os-instance-actions): what was asked of it, by which
 * request and whom, and how the work it began ended.
 *
 * An action is recorded where the manager starts an operation, in the
 * same change of the record as its task state (so a start that cannot
 * be saved leaves no action either), and ends where the operation's end
 * is applied (apply_job()).  It lives in the instance's record, so it
 * survives a restart; a record keeps at most NLX_RECORD_ACTIONS_MAX, the
 * oldest dropped first.  When a delete ends, the history moves to the
 * deleted servers' list (2.21's actions of deleted servers), which is
 * bounded: a daemon runs for months, and deletes never stop. */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "compute/nlx-manager-private.h"

/* Nova's compute manager's names for the work of each operation (the
 * events of its actions, wrap_instance_event). */
#define EVENT_BUILD "compute__do_build_and_run_instance"
#define EVENT_DELETE "compute_terminate_instance"

/* How long a deleted server's history is kept: long enough to trace a
 * delete (or what went before it) after a weekend or a holiday week,
 * short enough that the file stays small; as an operator's daily or
 * weekly `nova-manage db archive_deleted_rows --before` would. */
#define DELETED_MAX_AGE_DAYS 14
/* And in all, at most this many actions per deleted server kept on
 * average: a record may hold NLX_RECORD_ACTIONS_MAX, but most hold a
 * create and a delete; this keeps the file (rewritten at each delete)
 * a few MB at worst. */
#define DELETED_ACTIONS_PER_SERVER 10
#define DELETED_FILE "deleted-actions.json"

void
nlx_manager_caller_free (NlxCaller *caller)
{
  if (caller == NULL)
    return;
  g_free (caller->request_id);
  g_free (caller->user_id);
  g_free (caller->project_id);
  g_free (caller);
}

/* Returns: (nullable): a copy of @caller */
NlxCaller *
nlx_manager_caller_copy (const NlxCaller *caller)
{
  NlxCaller *copy;

  if (caller == NULL)
    return NULL;
  copy = g_new0 (NlxCaller, 1);
  copy->request_id = g_strdup (caller->request_id);
  copy->user_id = g_strdup (caller->user_id);
  copy->project_id = g_strdup (caller->project_id);
  return copy;
}

/**
 * nlx_manager_set_caller:
 * @request_id: (nullable): the request being handled; %NULL once it is
 * @user_id: (nullable): who sent it
 * @project_id: (nullable): in which project
 *
 * Says who asks for the operations started from now until the next call
 * (the API sets it around each handler, in the main thread): each
 * operation's action records them.  Operations started with none set (a
 * restart finishing a delete) get a request id of their own and the
 * instance's owner.
 */
void
nlx_manager_set_caller (NlxManager *manager,
                        const char *request_id,
                        const char *user_id,
                        const char *project_id)
{
  NlxCaller caller = { (char *) request_id, (char *) user_id,
                       (char *) project_id };

  g_clear_pointer (&manager->caller, nlx_manager_caller_free);
  if (request_id != NULL)
    manager->caller = nlx_manager_caller_copy (&caller);
}

/* Keeps, in @call, who asked for it: it may run later (after another
 * change of its record is saved), when the API has moved on. */
void
nlx_manager_note_caller (NlxManager *manager,
                         Call *call)
{
  if (call->caller == NULL)
    call->caller = nlx_manager_caller_copy (manager->caller);
}

/* Nova's action and event names of what @job does. */
static void
job_names (const Job *job,
           const char **action,
           const char **event)
{
  static const struct {
    const char *action;
    const char *event;
  } actions[] = {
    [NLX_ACTION_REBOOT_SOFT] = { "reboot", "compute_reboot_instance" },
    [NLX_ACTION_REBOOT_HARD] = { "reboot", "compute_reboot_instance" },
    [NLX_ACTION_STOP] = { "stop", "compute_stop_instance" },
    [NLX_ACTION_START] = { "start", "compute_start_instance" },
    [NLX_ACTION_PAUSE] = { "pause", "compute_pause_instance" },
    [NLX_ACTION_UNPAUSE] = { "unpause", "compute_unpause_instance" },
    [NLX_ACTION_DELETE] = { "delete", EVENT_DELETE },
  };

  switch (job->kind)
    {
    case JOB_SPAWN:
      *action = "create";
      *event = EVENT_BUILD;
      break;
    case JOB_ACTION:
      g_assert (job->action < G_N_ELEMENTS (actions));
      *action = actions[job->action].action;
      *event = actions[job->action].event;
      break;
    case JOB_VOLUME:
      *action = job->attach ? "attach_volume" : "detach_volume";
      *event = job->attach ? "compute_attach_volume" : "compute_detach_volume";
      break;
    case JOB_REBUILD:
      *action = "rebuild";
      *event = "compute_rebuild_instance";
      break;
    case JOB_SNAPSHOT:
      /* As Nova's instance actions name the two. */
      *action = job->backup_type != NULL ? "createBackup" : "createImage";
      *event = job->backup_type != NULL ? "compute_backup_instance"
                                        : "compute_snapshot_instance";
      break;
    default:
      g_assert_not_reached ();
    }
}

/* The newest action of @record whose event @event has not ended. */
static NlxInstanceAction *
find_running (NlxRecord *record,
              const char *event)
{
  for (guint i = record->actions->len; i > 0; i--)
    {
      NlxInstanceAction *action = record->actions->pdata[i - 1];

      if (action->finish_time == NULL && g_str_equal (action->event, event))
        return action;
    }
  return NULL;
}

/**
 * nlx_manager_action_begin:
 * @task: (nullable): the caller's, a Call's task (nlx_manager_call_new()),
 *   whose caller the action names; %NULL when nobody asked now
 * @action: Nova's name of the action
 * @event: Nova's name of its work
 *
 * Records that @action starts on @entry's record, unless the same work
 * already runs there unfinished (a delete that waited for another
 * operation, and starts now): that is the same action.  Call it with the
 * change that starts the work, before it is saved.
 *
 * Returns: (transfer none): the action
 */
NlxInstanceAction *
nlx_manager_action_begin (NlxManager *manager,
                          Entry *entry,
                          GTask *task,
                          const char *action,
                          const char *event)
{
  NlxRecord *record = entry->record;
  const NlxCaller *caller = task ? ((Call *) g_task_get_task_data (task))->caller
                                 : NULL;
  NlxInstanceAction *started = find_running (record, event);
  g_autofree char *own_id = NULL;
  const char *user_id, *project_id;

  if (started != NULL)
    return started;
  if (caller == NULL)
    {
      /* As Nova's periodic tasks: a request id of its own. */
      g_autofree char *uuid = g_uuid_string_random ();

      own_id = g_strconcat ("req-", uuid, NULL);
    }
  user_id = caller && caller->user_id ? caller->user_id
                                      : record->instance->user_id;
  project_id = caller && caller->project_id ? caller->project_id
                                            : record->instance->project_id;
  started = nlx_instance_action_new (action,
                                     caller ? caller->request_id : own_id,
                                     user_id ? user_id : "",
                                     project_id ? project_id : "",
                                     event, manager->host);
  /* Bounded: the oldest go first. */
  while (record->actions->len >= NLX_RECORD_ACTIONS_MAX)
    g_ptr_array_remove_index (record->actions, 0);
  g_ptr_array_add (record->actions, started);
  return started;
}

/* Records the action @job starts (nlx_manager_action_begin()). */
void
nlx_manager_action_begin_job (NlxManager *manager,
                              Entry *entry,
                              GTask *task,
                              const Job *job)
{
  const char *action, *event;

  job_names (job, &action, &event);
  nlx_manager_action_begin (manager, entry, task, action, event);
}

/* The create of @entry's record, which starts or (without room for it)
 * fails at once, with its fault. */
void
nlx_manager_action_begin_create (NlxManager *manager,
                                 Entry *entry,
                                 GTask *task)
{
  NlxInstanceAction *action =
    nlx_manager_action_begin (manager, entry, task, "create", EVENT_BUILD);

  if (entry->record->unplaced)
    nlx_instance_action_finish (action, FALSE, entry->record->fault);
}

/* A delete asked for while another operation runs: it is asked now,
 * and its work begins once that operation ends. */
void
nlx_manager_action_begin_delete (NlxManager *manager,
                                 Entry *entry,
                                 GTask *task)
{
  nlx_manager_action_begin (manager, entry, task, "delete", EVENT_DELETE);
}

/**
 * nlx_manager_action_end_job:
 *
 * Records how @job ended on its action, before Job.finish applies it to
 * the record: it failed when the driver said so, or when it started the
 * instance and the instance did not stay up (which Job.finish makes an
 * ERROR).
 */
void
nlx_manager_action_end_job (NlxManager *manager G_GNUC_UNUSED,
                            Entry *entry,
                            const Job *job)
{
  const char *name, *event;
  NlxInstanceAction *action;
  gboolean crashed = job->have_info && job->fault != NULL &&
                     nlx_manager_job_starts_instance (job);

  job_names (job, &name, &event);
  action = find_running (entry->record, event);
  /* None: the job undoes another's change, which nobody asked for. */
  if (action == NULL)
    return;
  if (job->ok && !crashed)
    nlx_instance_action_finish (action, TRUE, NULL);
  else
    nlx_instance_action_finish (action, FALSE,
                                job->error ? job->error->message : job->fault);
}

/**
 * nlx_manager_action_end_interrupted:
 * @deleting: the record's delete runs again now, and its action with it
 *
 * At start: the operations a stop or crash of the service cut short
 * ended without their results; their actions say so, rather than run
 * for ever.
 */
void
nlx_manager_action_end_interrupted (Entry *entry,
                                    gboolean deleting)
{
  GPtrArray *actions = entry->record->actions;

  for (guint i = 0; i < actions->len; i++)
    {
      NlxInstanceAction *action = actions->pdata[i];

      if (action->finish_time != NULL ||
          (deleting && g_str_equal (action->event, EVENT_DELETE)))
        continue;
      nlx_instance_action_finish (action, FALSE,
                                  _("Interrupted by a restart of the compute "
                                    "service"));
    }
}

/* ---- deleted servers' histories ---------------------------------------- */

static gboolean
deleted_expired (const NlxDeletedServer *server,
                 GDateTime *now)
{
  return g_date_time_difference (now, server->deleted_at) >
         (GTimeSpan) DELETED_MAX_AGE_DAYS * G_TIME_SPAN_DAY;
}

/* Drops the oldest deletions beyond the bounds: [DEFAULT]
 * deleted_actions_max servers, DELETED_ACTIONS_PER_SERVER times that
 * many actions, none older than DELETED_MAX_AGE_DAYS. */
static void
prune_deleted (NlxManager *manager)
{
  GPtrArray *deleted = manager->deleted;
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  guint max = manager->config->deleted_actions_max;
  guint64 actions = 0;
  guint drop = 0;

  for (guint i = 0; i < deleted->len; i++)
    actions += ((NlxDeletedServer *) deleted->pdata[i])->actions->len;
  while (drop < deleted->len &&
         (deleted->len - drop > max ||
          actions > (guint64) max * DELETED_ACTIONS_PER_SERVER ||
          deleted_expired (deleted->pdata[drop], now)))
    actions -= ((NlxDeletedServer *) deleted->pdata[drop++])->actions->len;
  if (drop > 0)
    g_ptr_array_remove_range (deleted, 0, drop);
}

/* At start: the list as the last run left it.  It is history only: a
 * file that cannot be read is reported and replaced at the next delete,
 * rather than keep the service from starting. */
void
nlx_manager_load_deleted (NlxManager *manager)
{
  g_autoptr(GError) error = NULL;

  manager->deleted_path = g_build_filename (manager->config->state_path,
                                            DELETED_FILE, NULL);
  manager->deleted = nlx_deleted_servers_load (manager->deleted_path, &error);
  if (manager->deleted == NULL)
    {
      g_warning (_("%s; the deleted servers' actions kept so far are not "
                   "shown, and the file is replaced at the next delete"),
                 error->message);
      manager->deleted =
        g_ptr_array_new_with_free_func ((GDestroyNotify) nlx_deleted_server_free);
    }
  prune_deleted (manager);
}

static void
deleted_written (GObject *source G_GNUC_UNUSED,
                 GAsyncResult *result,
                 gpointer data)
{
  NlxManager *manager = data;
  g_autoptr(GError) error = NULL;

  /* Memory keeps them; the next delete writes the file again. */
  if (!nlx_store_save_finish (manager->store, result, &error))
    g_warning (_("Cannot save the deleted servers' actions in %s: %s; make "
                 "room on the filesystem of state_path or repair it"),
               manager->deleted_path, error->message);
  nlx_manager_unref (manager);
}

/**
 * nlx_manager_keep_deleted:
 * @job: the delete, which worked
 *
 * @entry's delete ended: its action ends, and its history (with what
 * Nova's policy asks of it: the server's project and user) joins the
 * deleted servers' list, which is written, off the main loop and in
 * order with the records, before the record's own delete (so a crash in
 * between leaves both, and the delete run again at start replaces it).
 */
void
nlx_manager_keep_deleted (NlxManager *manager,
                          Entry *entry,
                          const Job *job)
{
  NlxRecord *record = entry->record;
  NlxDeletedServer *server;
  g_autofree char *data = NULL;

  nlx_manager_action_end_job (manager, entry, job);
  if (manager->config->deleted_actions_max == 0 && manager->deleted->len == 0)
    return;
  for (guint i = 0; i < manager->deleted->len; i++)
    if (g_str_equal (((NlxDeletedServer *) manager->deleted->pdata[i])->uuid,
                     record->instance->uuid))
      g_ptr_array_remove_index (manager->deleted, i--);
  server = g_new0 (NlxDeletedServer, 1);
  server->uuid = g_strdup (record->instance->uuid);
  server->project_id = g_strdup (record->instance->project_id);
  server->user_id = g_strdup (record->instance->user_id);
  server->deleted_at = g_date_time_new_now_utc ();
  /* The record goes: its actions move. */
  server->actions = g_steal_pointer (&record->actions);
  record->actions =
    g_ptr_array_new_with_free_func ((GDestroyNotify) nlx_instance_action_free);
  g_ptr_array_add (manager->deleted, server);
  prune_deleted (manager);
  data = nlx_deleted_servers_to_data (manager->deleted);
  nlx_store_write_file_async (manager->store, manager->deleted_path, data,
                              deleted_written, nlx_manager_ref (manager));
}

/**
 * nlx_manager_lookup_deleted:
 *
 * Returns: (transfer none) (nullable): the kept history of deleted server
 *   @uuid (any case), valid until the main loop runs again; %NULL when
 *   it is not kept (never deleted here, or dropped by the bounds)
 */
const NlxDeletedServer *
nlx_manager_lookup_deleted (NlxManager *manager,
                            const char *uuid)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();

  if (uuid == NULL || manager->deleted == NULL)
    return NULL;
  /* Newest first: a lookup is mostly of a server just deleted. */
  for (guint i = manager->deleted->len; i > 0; i--)
    {
      const NlxDeletedServer *server = manager->deleted->pdata[i - 1];

      if (g_ascii_strcasecmp (server->uuid, uuid) == 0)
        return deleted_expired (server, now) ? NULL : server;
    }
  return NULL;
}
