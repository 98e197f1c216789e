/* nlx-manager-servers.c: the servers' lifecycle: create (one or
 * several), rename, metadata, the actions (reboot, stop, start, pause,
 * unpause, delete) and rebuild */
#include "config.h"

#include <sys/socket.h>

#include <glib/gi18n-lib.h>

#include "compute/nlx-manager-private.h"

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

static gboolean finish_operation (NlxManager *manager,
                                  Entry *entry,
                                  Job *job);

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
void
nlx_manager_start_action (NlxManager *manager,
                          Entry *entry,
                          NlxAction action,
                          GTask *task)
{
  g_autoptr(JsonNode) before = nlx_record_to_node (entry->record);
  Job *job = g_new0 (Job, 1);

  job->kind = JOB_ACTION;
  job->run = run_action;
  job->finish = finish_operation;
  job->deletes = action == NLX_ACTION_DELETE;
  job->uuid = g_strdup (entry->record->instance->uuid);
  job->action = action;
  entry->record->task_state = task_for_action[action];
  entry->generation++;
  nlx_manager_action_begin_job (manager, entry, task, job);
  if (task == NULL)
    {
      nlx_manager_save (manager, entry);
      nlx_manager_queue (manager, job);
      return;
    }
  job->answer = g_object_ref (task);
  nlx_manager_commit (manager, entry, before, nlx_manager_job_committed, job);
}

/* Whether @job starts the instance's init, so that an init exiting
 * during the boot it began is the operation's failure. */
gboolean
nlx_manager_job_starts_instance (const Job *job)
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

/* What a finished operation leaves the record as (Job.finish). */
static gboolean
finish_operation (NlxManager *manager G_GNUC_UNUSED,
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
  if (nlx_manager_lost_hypervisor (job) && (job->ok || job->kind != JOB_SPAWN))
    {
      g_warning ("Instance %s: the hypervisor went away during %s (%s); its "
                 "state is taken from the hypervisor once it answers", uuid,
                 nlx_task_state_to_string (record->task_state),
                 job->error ? job->error->message : job->info_error->message);
      entry->awaiting_hypervisor = TRUE;
      return FALSE;
    }

  if (job->ok)
    {
      g_info ("Instance %s: %s done", uuid,
              nlx_task_state_to_string (record->task_state));
      g_clear_pointer (&record->fault, g_free);
      record->vm_state = job->have_info
                           ? nlx_manager_vm_state_for (job->info.state)
                           : NLX_VM_STATE_ERROR;
      if (!job->have_info)
        nlx_manager_set_fault (record, _("The instance disappeared from the "
                                         "hypervisor right after the "
                                         "operation"));
      else if (job->fault != NULL &&
               nlx_manager_job_starts_instance (job))
        {
          /* The operation started it, but it did not stay up: as a VM
           * whose guest crashed while booting, the server is in ERROR
           * with the reason. */
          g_warning ("Instance %s: %s", uuid, job->fault);
          record->vm_state = NLX_VM_STATE_ERROR;
          nlx_manager_set_fault (record, job->fault);
        }
    }
  else if (g_error_matches (job->error, NLX_DRIVER_ERROR,
                            NLX_DRIVER_ERROR_INVALID_STATE) && job->have_info &&
           job->kind != JOB_SPAWN)
    {
      /* Someone changed it under us (virsh, or init exiting): take what
       * runs. */
      g_message ("Instance %s: %s", uuid, job->error->message);
      record->vm_state = nlx_manager_vm_state_for (job->info.state);
    }
  else
    {
      g_warning ("Instance %s: %s failed: %s", uuid,
                 nlx_task_state_to_string (record->task_state),
                 job->error->message);
      record->vm_state = NLX_VM_STATE_ERROR;
      nlx_manager_set_fault (record, job->error->message);
      /* As Nova aborts the claim of a build that failed: the driver
       * undid what it made, and the room is free for others. */
      if (job->kind == JOB_SPAWN)
        record->unplaced = TRUE;
    }
  record->task_state = NLX_TASK_STATE_NONE;
  return FALSE;
}

/* Nova's fault for an instance the scheduler found no room for. */
#define NO_VALID_HOST_FAULT \
  "No valid host was found. There are not enough hosts available."

static NlxInstance *
copy_instance (const NlxInstance *instance)
{
  g_autoptr(JsonNode) node = nlx_instance_to_node (instance);

  return nlx_instance_new_from_node (node, NULL);
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
  mac = nlx_address_mac_for (address);
  nlx_vif_free (instance->vif);
  instance->vif = nlx_vif_new (manager->network->bridge, mac, address,
                               manager->network->prefix,
                               manager->network->gateway);
  return TRUE;
}

/* An interface the caller gave (a Nova driver's, docs/api.md "The
 * driver API") instead of the daemon's allocation: on a bridge that
 * exists and is not the daemon's own, whose addresses the daemon's pool
 * hands out and would hand out again.  Nothing of the pool is held for
 * it, so nothing is released when the server goes. */
static gboolean
check_given_vif (NlxManager *manager,
                 const NlxVif *vif,
                 GError **error)
{
  if (g_strcmp0 (vif->bridge, manager->network->bridge) == 0)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Bridge %s is this daemon's own, whose addresses it "
                     "allocates itself: give another bridge, or no "
                     "interface to have the daemon allocate one"),
                   vif->bridge);
      return FALSE;
    }
  return nlx_network_check_bridge (vif->bridge, error);
}

static gboolean
spawn (NlxManager *manager,
       Job *job,
       GError **error)
{
  return nlx_virt_spawn (manager->virt, job->instance, job->image, error);
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
          nlx_manager_remove_entry (manager, call->uuid);
          nlx_ipam_release (manager->ipam, call->uuid, NULL);
          nlx_manager_save_addresses (manager);
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
  job->run = spawn;
  job->finish = finish_operation;
  job->uuid = g_strdup (entry->record->instance->uuid);
  job->instance = copy_instance (entry->record->instance);
  job->image = g_steal_pointer (&call->image);
  nlx_manager_queue (manager, job);
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
      (call->image = nlx_manager_resolve_image (manager, instance->image_ref,
                                                &error)) == NULL)
    ;
  else if (!nlx_manager_check_available (manager, &error) ||
           !nlx_manager_check_volumes_free (manager, instance, &error))
    ;
  else if (g_hash_table_contains (manager->entries, instance->uuid) ||
           g_hash_table_contains (manager->quarantined, instance->uuid))
    g_set_error (&error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_EXISTS,
                 _("Instance %s already exists"), instance->uuid);
  else if (instance->vif != NULL &&
           !check_given_vif (manager, instance->vif, &error))
    ;
  else if (call->no_room ||
           !nlx_manager_fits (manager, &instance->flavor, 1, &why))
    {
      if (why == NULL)
        why = g_strdup ("the servers of its request do not all fit");
      /* As Nova: the create is accepted, and the server goes to ERROR
       * with the scheduler's fault, holding nothing (no address, no
       * claim); nothing is made on the host.  A caller sees what Nova
       * shows when no host has room. */
      g_message ("Instance %s: no room on this host for flavor %s: %s",
                 instance->uuid, instance->flavor.name, why);
      unplaced = TRUE;
    }
  /* Nova's networks "none": a server with loopback alone; a given
   * interface is used as it is. */
  else if (!instance->no_network && instance->vif == NULL)
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

  entry = nlx_manager_entry_new (manager,
                                 nlx_record_new (g_steal_pointer (&instance)));
  entry->record->task_state = NLX_TASK_STATE_SPAWNING;
  if (unplaced)
    {
      entry->record->unplaced = TRUE;
      entry->record->task_state = NLX_TASK_STATE_NONE;
      entry->record->vm_state = NLX_VM_STATE_ERROR;
      nlx_manager_set_fault (entry->record, NO_VALID_HOST_FAULT);
    }
  entry->creating = TRUE;
  nlx_manager_action_begin_create (manager, entry, task);
  g_hash_table_replace (manager->entries, entry->record->instance->uuid, entry);
  /* Durable before anything exists on the host: a crash from here on is
   * found and cleaned up at the next start. */
  nlx_manager_commit_full (manager, entry, NULL, TRUE, created,
                           g_object_ref (task));
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
  g_autoptr(GTask) task = nlx_manager_call_new (run_create, instance->uuid,
                                                nlx_manager_create_async,
                                                callback, user_data, &call);

  call->instance = instance;
  nlx_manager_note_caller (manager, call);
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
run_update (NlxManager *manager,
            GTask *task)
{
  Call *call = g_task_get_task_data (task);
  GError *error = NULL;
  Entry *entry = nlx_manager_find (manager, call->uuid, &error);
  g_autoptr(JsonNode) before = NULL;
  NlxInstance *instance;

  if (entry == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  /* The rules the record loader applies, or the server would be lost at
   * the next start. */
  if (call->name != NULL &&
      !nlx_json_text_is_valid (call->name, NLX_INSTANCE_NAME_MAX))
    {
      g_task_return_new_error (task, NLX_DRIVER_ERROR,
                               NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                               _("A server name must be 1 to %d printable "
                                 "characters (no control characters)"),
                               NLX_INSTANCE_NAME_MAX);
      return;
    }
  if (call->description != NULL &&
      !nlx_description_is_valid (call->description))
    {
      g_task_return_new_error (task, NLX_DRIVER_ERROR,
                               NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                               _("A server description must be at most %d "
                                 "printable characters (no control "
                                 "characters)"), NLX_DESCRIPTION_MAX);
      return;
    }
  if (call->hostname != NULL && !nlx_hostname_is_valid (call->hostname))
    {
      g_task_return_new_error (task, NLX_DRIVER_ERROR,
                               NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                               _("A host name must be 1 to %d lower-case "
                                 "letters, digits and “-”"), NLX_HOSTNAME_MAX);
      return;
    }
  if ((call->access_ipv4 != NULL && call->access_ipv4[0] != '\0' &&
       !nlx_access_ip_is_valid (call->access_ipv4, AF_INET)) ||
      (call->access_ipv6 != NULL && call->access_ipv6[0] != '\0' &&
       !nlx_access_ip_is_valid (call->access_ipv6, AF_INET6)))
    {
      g_task_return_new_error (task, NLX_DRIVER_ERROR,
                               NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                               _("An access address must be one IPv4 "
                                 "(accessIPv4) or IPv6 (accessIPv6) address, "
                                 "or “” for none"));
      return;
    }
  before = nlx_record_to_node (entry->record);
  instance = entry->record->instance;
  /* "" takes it away: the record keeps no empty address; others are
   * kept in canonical form, as Nova keeps them. */
  if (call->access_ipv4 != NULL)
    {
      g_free (instance->access_ipv4);
      instance->access_ipv4 = call->access_ipv4[0] != '\0'
                              ? nlx_access_ip_normalize (call->access_ipv4,
                                                         AF_INET)
                              : NULL;
    }
  if (call->access_ipv6 != NULL)
    {
      g_free (instance->access_ipv6);
      instance->access_ipv6 = call->access_ipv6[0] != '\0'
                              ? nlx_access_ip_normalize (call->access_ipv6,
                                                         AF_INET6)
                              : NULL;
    }
  if (call->hostname != NULL)
    {
      /* What the metadata service and config drive say from now on; the
       * running instance keeps its name until it asks again, as Nova's. */
      g_free (instance->hostname);
      instance->hostname = g_strdup (call->hostname);
    }
  if (call->name != NULL)
    {
      g_free (instance->name);
      instance->name = g_strdup (call->name);
    }
  if (call->set_description)
    {
      g_free (instance->description);
      instance->description = g_strdup (call->description);
    }
  nlx_manager_commit (manager, entry, before, nlx_manager_answer_committed,
                      g_object_ref (task));
}

/**
 * nlx_manager_update_async:
 * @name: (nullable): the new name, or %NULL to keep it
 * @set_description: whether to change the description
 * @description: (nullable): the new description (%NULL: none)
 * @hostname: (nullable): the new host name (nlx_hostname_is_valid()), or
 *   %NULL to keep it
 * @access_ipv4: (nullable): the new accessIPv4 (nlx_access_ip_is_valid()),
 *   "" to take it away, or %NULL to keep it
 * @access_ipv6: (nullable): the same for accessIPv6
 *
 * Renames the server and/or changes its description and host name, as
 * Nova's server update; finishes (nlx_manager_change_finish()) once that is on disk.
 * Errors: #NLX_DRIVER_ERROR_NOT_FOUND, #NLX_DRIVER_ERROR_INVALID_ARGUMENT
 * for a name or description a record cannot hold.
 */
void
nlx_manager_update_async (NlxManager *manager,
                          const char *uuid,
                          const char *name,
                          gboolean set_description,
                          const char *description,
                          const char *hostname,
                          const char *access_ipv4,
                          const char *access_ipv6,
                          GAsyncReadyCallback callback,
                          gpointer user_data)
{
  Call *call;
  g_autoptr(GTask) task = nlx_manager_call_new (run_update, uuid,
                                                nlx_manager_update_async,
                                                callback, user_data, &call);

  call->name = g_strdup (name);
  call->set_description = set_description;
  call->description = g_strdup (description);
  call->hostname = g_strdup (hostname);
  call->access_ipv4 = g_strdup (access_ipv4);
  call->access_ipv6 = g_strdup (access_ipv6);
  nlx_manager_start_call (manager, task);
}

static void
run_lock (NlxManager *manager,
          GTask *task)
{
  Call *call = g_task_get_task_data (task);
  GError *error = NULL;
  Entry *entry = nlx_manager_find (manager, call->uuid, &error);
  g_autoptr(JsonNode) before = NULL;
  NlxInstance *instance;

  if (entry == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  if (call->locked_reason != NULL &&
      !nlx_json_text_is_valid (call->locked_reason, NLX_LOCKED_REASON_MAX))
    {
      g_task_return_new_error (task, NLX_DRIVER_ERROR,
                               NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                               _("A lock reason must be 1 to %d printable "
                                 "characters (no control characters)"),
                               NLX_LOCKED_REASON_MAX);
      return;
    }
  before = nlx_record_to_node (entry->record);
  instance = entry->record->instance;
  g_free (instance->locked_by);
  instance->locked_by = g_strdup (call->locked_by);
  g_free (instance->locked_reason);
  instance->locked_reason = call->locked_by != NULL
                            ? g_strdup (call->locked_reason) : NULL;
  nlx_manager_commit (manager, entry, before, nlx_manager_answer_committed,
                      g_object_ref (task));
}

/**
 * nlx_manager_lock_async:
 * @locked_by: (nullable): %NLX_LOCKED_BY_OWNER or %NLX_LOCKED_BY_ADMIN to
 *   lock the server, %NULL to unlock it
 * @locked_reason: (nullable): why (locking only)
 *
 * Locks or unlocks the server, as Nova's lock and unlock: locking a
 * locked server again replaces who and why; unlocking an unlocked one
 * is no error.  Who may act on a locked server is the API's policy, not
 * the manager's.  Finishes (nlx_manager_change_finish()) once that is
 * on disk.  Errors: #NLX_DRIVER_ERROR_NOT_FOUND,
 * #NLX_DRIVER_ERROR_INVALID_ARGUMENT for a reason a record cannot hold.
 */
void
nlx_manager_lock_async (NlxManager *manager,
                        const char *uuid,
                        const char *locked_by,
                        const char *locked_reason,
                        GAsyncReadyCallback callback,
                        gpointer user_data)
{
  Call *call;
  g_autoptr(GTask) task = nlx_manager_call_new (run_lock, uuid,
                                                nlx_manager_lock_async,
                                                callback, user_data, &call);

  g_return_if_fail (locked_by == NULL ||
                    g_str_equal (locked_by, NLX_LOCKED_BY_OWNER) ||
                    g_str_equal (locked_by, NLX_LOCKED_BY_ADMIN));
  call->locked_by = g_strdup (locked_by);
  call->locked_reason = g_strdup (locked_reason);
  nlx_manager_start_call (manager, task);
}

/* The finish of every change whose answer is only whether it is saved:
 * rename, act, rebuild. */
gboolean
nlx_manager_change_finish (NlxManager *manager G_GNUC_UNUSED,
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
  nlx_manager_answer_committed (manager, entry, error, data);
}

static void
run_act (NlxManager *manager,
         GTask *task)
{
  Call *call = g_task_get_task_data (task);
  NlxAction action = call->action;
  GError *error = NULL;
  Entry *entry = nlx_manager_find (manager, call->uuid, &error);
  NlxRecord *record;

  if (entry == NULL || !nlx_manager_check_available (manager, &error))
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
      nlx_manager_action_begin_delete (manager, entry, task);
      nlx_manager_commit (manager, entry, before, delete_committed,
                          g_object_ref (task));
      return;
    }
  if (!check_idle (record, allowed_from (action), action_name (action),
                   &error))
    {
      g_task_return_error (task, error);
      return;
    }
  g_info ("Instance %s: %s", record->instance->uuid, action_name (action));
  nlx_manager_start_action (manager, entry, action, task);
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
  g_autoptr(GTask) task = nlx_manager_call_new (run_act, uuid,
                                                nlx_manager_act_async,
                                                callback, user_data, &call);

  call->action = action;
  nlx_manager_start_call (manager, task);
}

/* Entry @uuid, when the hypervisor answers and the entry is idle and in
 * one of the vm_states @allowed for what @what names. */
Entry *
nlx_manager_find_idle (NlxManager *manager,
                       const char *uuid,
                       guint allowed,
                       const char *what,
                       GError **error)
{
  Entry *entry = nlx_manager_find (manager, uuid, error);

  if (entry == NULL || !nlx_manager_check_available (manager, error) ||
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
  Entry *entry = nlx_manager_find_idle (manager, instance->uuid,
                                        VM (ACTIVE) | VM (STOPPED) |
                                        VM (ERROR), "rebuild", error);
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
  image = nlx_manager_resolve_image (manager, instance->image_ref, error);
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
  instance->no_network = current->no_network;
  /* The lock is not the rebuild's to change (nlx_manager_lock_async()):
   * one taken or lifted while the rebuild waited stands. */
  g_free (instance->locked_by);
  instance->locked_by = g_strdup (current->locked_by);
  g_free (instance->locked_reason);
  instance->locked_reason = g_strdup (current->locked_reason);
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
  job->run = rebuild;
  job->finish = finish_operation;
  job->uuid = g_strdup (record->instance->uuid);
  job->stop_after = stop_after;
  job->image = g_steal_pointer (&image);
  job->instance = copy_instance (record->instance);
  job->answer = g_object_ref (task);
  nlx_manager_action_begin_job (manager, entry, task, job);
  nlx_manager_commit (manager, entry, before, nlx_manager_job_committed, job);
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
  g_autoptr(GTask) task = nlx_manager_call_new (run_rebuild, instance->uuid,
                                                nlx_manager_rebuild_async,
                                                callback, user_data, &call);

  call->instance = instance;
  nlx_manager_start_call (manager, task);
}

/* ---- several servers in one request ---------------------------------- */

typedef struct {
  NlxManager *manager;
  GPtrArray *instances;         /* NlxInstance; NULL once handed over */
  guint next;
  gboolean no_room;
  NlxCaller *caller;            /* who asked, for each create */
} Many;

static void
many_free (Many *many)
{
  nlx_manager_caller_free (many->caller);
  g_ptr_array_unref (many->instances);
  g_free (many);
}

static void create_next (GTask *task);

static void
many_created (GObject *source G_GNUC_UNUSED,
              GAsyncResult *result,
              gpointer data)
{
  g_autoptr(GTask) task = data;
  GError *error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    g_task_return_error (task, error);
  else
    create_next (task);
}

/* One after the other, so that the records are on disk in the order of
 * their names. */
static void
create_next (GTask *task)
{
  Many *many = g_task_get_task_data (task);
  g_autoptr(GTask) one = NULL;
  NlxInstance *instance;
  Call *call;

  if (many->next == many->instances->len)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  instance = g_steal_pointer (&many->instances->pdata[many->next++]);
  one = nlx_manager_call_new (run_create, instance->uuid,
                              nlx_manager_create_many_async, many_created,
                              g_object_ref (task), &call);
  call->instance = instance;
  call->no_room = many->no_room;
  /* Each create is an action of the one request. */
  call->caller = nlx_manager_caller_copy (many->caller);
  run_create (many->manager, one);
}

/**
 * nlx_manager_create_many_async:
 * @instances: (transfer container) (element-type NlxInstance): what to
 *   build, each as nlx_manager_create_async() takes it, all of one flavor
 *
 * Creates several servers of one request, in order.  As Nova's scheduler
 * places a request's servers together or not at all: when they do not
 * all fit on the host, every one is accepted and goes to ERROR with the
 * scheduler's fault, holding nothing.  Finishes (nlx_manager_change_finish())
 * once every record is on disk, or at the first error, as
 * nlx_manager_create_async(); the servers made before it stay.
 */
void
nlx_manager_create_many_async (NlxManager *manager,
                               GPtrArray *instances,
                               GAsyncReadyCallback callback,
                               gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);
  Many *many = g_new0 (Many, 1);
  g_autofree char *why = NULL;

  g_return_if_fail (instances->len > 0);
  g_task_set_source_tag (task, nlx_manager_create_many_async);
  many->manager = manager;
  many->instances = instances;
  many->caller = nlx_manager_caller_copy (manager->caller);
  g_task_set_task_data (task, many, (GDestroyNotify) many_free);
  if (manager->available)
    {
      /* Flavors are a few thousand vcpus or MiB at most: the products
       * fit in 64 bits, and a sum past the host's size does not fit. */
      const NlxFlavor *flavor = &((NlxInstance *) instances->pdata[0])->flavor;
      guint64 count = instances->len;
      NlxFlavor all = *flavor;

      if (flavor->vcpus * count > G_MAXUINT ||
          flavor->memory_mb * count > G_MAXUINT ||
          flavor->root_gb * count > G_MAXUINT)
        many->no_room = TRUE;
      else
        {
          all.vcpus = flavor->vcpus * count;
          all.memory_mb = flavor->memory_mb * count;
          all.root_gb = flavor->root_gb * count;
          many->no_room = !nlx_manager_fits (manager, &all, instances->len,
                                             &why);
        }
      if (many->no_room)
        g_message ("No room on this host for %u servers of flavor %s%s%s",
                   instances->len, flavor->name, why ? ": " : "",
                   why ? why : "");
    }
  create_next (task);
}

/* ---- metadata -------------------------------------------------------- */

static void
run_update_metadata (NlxManager *manager,
                     GTask *task)
{
  Call *call = g_task_get_task_data (task);
  GError *error = NULL;
  Entry *entry = nlx_manager_find (manager, call->uuid, &error);
  g_autoptr(JsonNode) before = NULL;
  GHashTable *metadata;

  if (entry == NULL ||
      !check_idle (entry->record, VM (ACTIVE) | VM (PAUSED) | VM (STOPPED),
                   "update_metadata", &error))
    {
      g_task_return_error (task, error);
      return;
    }
  metadata = entry->record->instance->metadata;
  if (call->name != NULL && !g_hash_table_contains (metadata, call->name))
    {
      g_task_return_new_error (task, NLX_DRIVER_ERROR,
                               NLX_DRIVER_ERROR_NOT_FOUND,
                               _("Metadata item was not found"));
      return;
    }
  before = nlx_record_to_node (entry->record);
  if (call->replace)
    g_hash_table_remove_all (metadata);
  if (call->name != NULL)
    g_hash_table_remove (metadata, call->name);
  if (call->metadata != NULL)
    {
      GHashTableIter iter;
      gpointer key, value;

      g_hash_table_iter_init (&iter, call->metadata);
      while (g_hash_table_iter_next (&iter, &key, &value))
        g_hash_table_replace (metadata, g_strdup (key), g_strdup (value));
    }
  nlx_manager_commit (manager, entry, before, nlx_manager_answer_committed,
                      g_object_ref (task));
}

/**
 * nlx_manager_update_metadata_async:
 * @items: (nullable) (element-type utf8 utf8): items to set
 * @replace: whether @items replace all the server's metadata
 * @remove: (nullable): a key to remove, which must be there
 *
 * Changes the server's metadata as Nova's server metadata API does;
 * finishes (nlx_manager_change_finish()) once that is on disk.  The
 * caller checks the items' form and number.  Errors:
 * #NLX_DRIVER_ERROR_NOT_FOUND for no such server or no @remove key,
 * #NLX_DRIVER_ERROR_INVALID_STATE unless it is idle and ACTIVE, PAUSED
 * or SHUTOFF.
 */
void
nlx_manager_update_metadata_async (NlxManager *manager,
                                   const char *uuid,
                                   GHashTable *items,
                                   gboolean replace,
                                   const char *remove,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data)
{
  Call *call;
  g_autoptr(GTask) task =
    nlx_manager_call_new (run_update_metadata, uuid,
                          nlx_manager_update_metadata_async, callback,
                          user_data, &call);

  call->metadata = items ? g_hash_table_ref (items) : NULL;
  call->replace = replace;
  call->name = g_strdup (remove);
  nlx_manager_start_call (manager, task);
}

/* ---- tags ------------------------------------------------------------ */

static void
run_update_tags (NlxManager *manager,
                 GTask *task)
{
  Call *call = g_task_get_task_data (task);
  GError *error = NULL;
  Entry *entry = nlx_manager_find (manager, call->uuid, &error);
  g_autoptr(JsonNode) before = NULL;
  GPtrArray *tags;
  guint index;

  /* Nova's tags API wants an idle server in a steady state (409). */
  if (entry == NULL ||
      !check_idle (entry->record, VM (ACTIVE) | VM (PAUSED) | VM (STOPPED),
                   "update tags", &error))
    {
      g_task_return_error (task, error);
      return;
    }
  tags = entry->record->instance->tags;
  if (call->tag != NULL && call->remove &&
      !g_ptr_array_find_with_equal_func (tags, call->tag, g_str_equal, &index))
    {
      g_task_return_new_error (task, NLX_DRIVER_ERROR,
                               NLX_DRIVER_ERROR_NOT_FOUND,
                               _("Tag '%s' is not found on server %s"),
                               call->tag, call->uuid);
      return;
    }
  if (call->tag != NULL && !call->remove &&
      !g_ptr_array_find_with_equal_func (tags, call->tag, g_str_equal, NULL) &&
      tags->len >= NLX_TAGS_MAX)
    {
      g_task_return_new_error (task, NLX_DRIVER_ERROR,
                               NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                               _("The number of tags exceeded the per-server "
                                 "limit %d; delete one first"), NLX_TAGS_MAX);
      return;
    }
  before = nlx_record_to_node (entry->record);
  if (call->replace)
    {
      g_ptr_array_set_size (tags, 0);
      for (guint i = 0; call->tags != NULL && i < call->tags->len; i++)
        if (!g_ptr_array_find_with_equal_func (tags, call->tags->pdata[i],
                                               g_str_equal, NULL))
          g_ptr_array_add (tags, g_strdup (call->tags->pdata[i]));
    }
  else if (call->remove)
    g_ptr_array_remove_index (tags, index);
  else if (!g_ptr_array_find_with_equal_func (tags, call->tag, g_str_equal,
                                              NULL))
    g_ptr_array_add (tags, g_strdup (call->tag));
  nlx_manager_commit (manager, entry, before, nlx_manager_answer_committed,
                      g_object_ref (task));
}

/**
 * nlx_manager_update_tags_async:
 * @tags: (nullable) (element-type utf8): replace all the tags with these
 * @tag: (nullable): else the one tag to add (kept once) or remove
 * @remove: remove @tag rather than add it
 *
 * Changes the server's tags as Nova's server tags API does; finishes
 * (nlx_manager_change_finish()) once that is on disk.  The caller checks
 * each tag's form (nlx_tag_is_valid()) and the number in @tags.
 * Errors: #NLX_DRIVER_ERROR_NOT_FOUND for no such server or no @tag to
 * remove, #NLX_DRIVER_ERROR_INVALID_ARGUMENT for a tag beyond
 * %NLX_TAGS_MAX, #NLX_DRIVER_ERROR_INVALID_STATE unless it is idle and
 * ACTIVE, PAUSED or SHUTOFF.
 */
void
nlx_manager_update_tags_async (NlxManager *manager,
                               const char *uuid,
                               GPtrArray *tags,
                               const char *tag,
                               gboolean remove,
                               GAsyncReadyCallback callback,
                               gpointer user_data)
{
  Call *call;
  g_autoptr(GTask) task =
    nlx_manager_call_new (run_update_tags, uuid,
                          nlx_manager_update_tags_async, callback, user_data,
                          &call);

  g_return_if_fail ((tags != NULL) != (tag != NULL));
  call->replace = tags != NULL;
  call->tags = tags ? g_ptr_array_ref (tags) : NULL;
  call->tag = g_strdup (tag);
  call->remove = remove;
  nlx_manager_start_call (manager, task);
}

/* The name of the one network servers join, as their addresses show it
 * (the bridge's). */
const char *
nlx_manager_get_network_name (NlxManager *manager)
{
  return manager->network->bridge;
}
