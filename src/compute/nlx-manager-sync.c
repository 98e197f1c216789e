/* nlx-manager-sync.c: what runs against what the records say: the
 * periodic sync, driver events, and reconciling at start-up what a
 * restart interrupted */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "compute/nlx-manager-private.h"

static void
sync_result_free (SyncResult *result)
{
  g_free (result->uuid);
  g_free (result->fault);
  g_clear_error (&result->error);
  g_free (result);
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
      nlx_manager_start_action (manager, entry, NLX_ACTION_DELETE, NULL);
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
      record->vm_state = nlx_manager_vm_state_for (result->info.state);
      g_clear_pointer (&record->fault, g_free);
    }
  else
    {
      g_warning ("Instance %s is gone from the hypervisor", uuid);
      record->vm_state = NLX_VM_STATE_ERROR;
      record->power_state = NLX_POWER_STATE_NOSTATE;
      nlx_manager_set_fault (record, _("The instance is gone from the "
                                       "hypervisor; delete it"));
    }
  record->task_state = NLX_TASK_STATE_NONE;
  nlx_manager_save (manager, entry);
}

void
nlx_manager_apply_sync (NlxManager *manager,
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
          nlx_manager_set_fault (entry->record, result->fault);
          nlx_manager_save (manager, entry);
        }
      else if (result->error == NULL)
        {
          if (nlx_manager_apply_power_state (entry->record, result->info.state))
            nlx_manager_save (manager, entry);
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
          nlx_manager_set_fault (entry->record,
                                 _("The instance is gone from the "
                                   "hypervisor; delete it"));
          nlx_manager_save (manager, entry);
        }
    }
}

typedef struct {
  GPtrArray *results;           /* SyncResult */
  gboolean ok;
  GError *error;
} Sync;

static void
sync_free (Sync *sync)
{
  g_ptr_array_unref (sync->results);
  g_clear_error (&sync->error);
  g_free (sync);
}

/* What the driver says of every instance in @sync, from one listing of
 * all their power states: FALSE when it cannot list them (then
 * get_info tells each). */
static gboolean
sync_from_power_states (NlxManager *manager,
                        Sync *sync)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) states = nlx_virt_get_power_states (manager->virt,
                                                            &error);

  if (states == NULL)
    {
      if (g_error_matches (error, NLX_DRIVER_ERROR,
                           NLX_DRIVER_ERROR_NOT_SUPPORTED))
        return FALSE;
      sync->ok = !nlx_manager_is_unavailable (error);
      if (!sync->ok)
        sync->error = g_steal_pointer (&error);
      else
        for (guint i = 0; i < sync->results->len; i++)
          {
            SyncResult *result = sync->results->pdata[i];

            result->error = g_error_copy (error);
          }
      return TRUE;
    }
  sync->ok = TRUE;
  for (guint i = 0; i < sync->results->len; i++)
    {
      SyncResult *result = sync->results->pdata[i];
      g_autofree char *key = g_ascii_strdown (result->uuid, -1);
      gpointer value = g_hash_table_lookup (states, key);

      if (value == NULL)
        {
          g_set_error (&result->error, NLX_DRIVER_ERROR,
                       NLX_DRIVER_ERROR_NOT_FOUND,
                       _("Instance %s is not on this host"), result->uuid);
          continue;
        }
      result->info.state = (NlxPowerState) (GPOINTER_TO_INT (value) - 1);
      if (result->info.state == NLX_POWER_STATE_NOSTATE)
        {
          g_set_error (&result->error, NLX_DRIVER_ERROR,
                       NLX_DRIVER_ERROR_FAILED,
                       _("The hypervisor could not say the state of "
                         "instance %s"), result->uuid);
          continue;
        }
      result->fault = nlx_manager_fault_of (manager, result->uuid,
                                            &result->info);
    }
  return TRUE;
}

/* In a worker: what the driver says of each instance. */
static void
sync_run (NlxManager *manager,
          gpointer data,
          GCancellable *cancellable G_GNUC_UNUSED)
{
  Sync *sync = data;

  /* A thousand instances asked one at a time cost the hypervisor
   * thousands of calls every interval. */
  if (sync->results->len > 1 && sync_from_power_states (manager, sync))
    return;
  sync->ok = TRUE;
  for (guint i = 0; sync->ok && i < sync->results->len; i++)
    {
      SyncResult *result = sync->results->pdata[i];

      if (!nlx_virt_get_info (manager->virt, result->uuid, &result->info,
                              &result->error))
        {
          if (nlx_manager_is_unavailable (result->error))
            {
              sync->ok = FALSE;
              sync->error = g_error_copy (result->error);
            }
        }
      else
        result->fault = nlx_manager_fault_of (manager, result->uuid,
                                              &result->info);
    }
  /* With nothing to ask about, still find out whether the hypervisor
   * answers. */
  if (sync->results->len == 0)
    {
      g_auto(GStrv) uuids = nlx_virt_list_instances (manager->virt,
                                                     &sync->error);
      sync->ok = uuids != NULL;
    }
}

static void
sync_done (NlxManager *manager,
           gpointer data,
           GCancellable *cancellable G_GNUC_UNUSED)
{
  Sync *sync = data;

  if (!manager->closed)
    {
      nlx_manager_note_availability (manager,
                                     !nlx_manager_is_unavailable (sync->error));
      if (sync->ok)
        nlx_manager_apply_sync (manager, sync->results);
    }
  sync_free (sync);
}

/* Whether @entry is idle and placed: an unplaced one has nothing on the
 * hypervisor to ask about, and one an operation holds is the operation's
 * to report. */
static gboolean
wants_sync (const Entry *entry)
{
  return (entry->record->task_state == NLX_TASK_STATE_NONE ||
          entry->awaiting_hypervisor) && !entry->record->unplaced;
}

static void
add_result (Sync *sync,
            const Entry *entry)
{
  SyncResult *result = g_new0 (SyncResult, 1);

  result->uuid = g_strdup (entry->record->instance->uuid);
  result->generation = entry->generation;
  g_ptr_array_add (sync->results, result);
}

/* Asks the driver about the idle instance @uuid (all idle ones when
 * %NULL) and applies what it says, unless an operation has begun or ended
 * since. */
static void
sync_instances (NlxManager *manager,
                const char *uuid)
{
  Sync *sync;
  Entry *entry;

  if (uuid != NULL)
    {
      /* An event about an instance an operation holds, or not here, is
       * dropped: the event itself came from the hypervisor, and asking
       * whether it answers listed every instance, so each boot cost
       * four listings of all N at N running (bench-scale). */
      entry = g_hash_table_lookup (manager->entries, uuid);
      if (entry == NULL || !wants_sync (entry))
        return;
    }
  sync = g_new0 (Sync, 1);
  sync->results =
    g_ptr_array_new_with_free_func ((GDestroyNotify) sync_result_free);
  if (uuid != NULL)
    add_result (sync, entry);
  else
    {
      GHashTableIter iter;

      g_hash_table_iter_init (&iter, manager->entries);
      while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &entry))
        if (wants_sync (entry))
          add_result (sync, entry);
    }
  if (!nlx_manager_run_in_worker (manager, sync_run, sync_done, sync, NULL))
    sync_free (sync);
}

gboolean
nlx_manager_periodic_sync (gpointer data)
{
  sync_instances (data, NULL);
  return G_SOURCE_CONTINUE;
}

gboolean
nlx_manager_retry_sync (gpointer data)
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
  nlx_manager_unref (event->manager);
  g_free (event->uuid);
  g_free (event);
  return G_SOURCE_REMOVE;
}

/* From a driver thread. */
void
nlx_manager_on_driver_event (const char *uuid,
                             gpointer user_data)
{
  Event *event = g_new0 (Event, 1);

  event->manager = nlx_manager_ref (user_data);
  event->uuid = g_strdup (uuid);
  nlx_manager_defer (event->manager, handle_event, event);
}

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
    nlx_manager_remove_volume (record->instance, attachment->volume_id);
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

      /* An interface on another bridge was given, not allocated (a Nova
       * driver's): the pool never held its address. */
      if (instance->vif == NULL ||
          g_strcmp0 (instance->vif->bridge, manager->network->bridge) != 0 ||
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
gboolean
nlx_manager_reconcile (NlxManager *manager,
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

      nlx_manager_action_end_interrupted (entry, record->task_state ==
                                                 NLX_TASK_STATE_DELETING);
      if (record->task_state == NLX_TASK_STATE_DELETING)
        {
          g_message ("Instance %s: finishing the delete a restart interrupted",
                     uuid);
          nlx_manager_start_action (manager, entry, NLX_ACTION_DELETE, NULL);
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
          nlx_manager_set_fault (record,
                                 _("The build was interrupted by a restart "
                                   "of the compute service, or its end could "
                                   "not be saved, but the server's container "
                                   "runs and was left alone; reboot it (hard) "
                                   "to make it ACTIVE, or delete it"));
          nlx_manager_save (manager, entry);
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
          nlx_manager_set_fault (record,
                                 _("The build was interrupted by a restart "
                                   "of the compute service; delete the "
                                   "server and create it again"));
          nlx_manager_save (manager, entry);
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
        nlx_manager_apply_power_state (record, info.state);
      else if (record->vm_state != NLX_VM_STATE_ERROR)
        {
          g_warning ("Instance %s is not on the hypervisor%s%s", uuid,
                     local_error ? ": " : "",
                     local_error ? local_error->message : "");
          record->vm_state = NLX_VM_STATE_ERROR;
          record->power_state = NLX_POWER_STATE_NOSTATE;
          nlx_manager_set_fault (record, _("The instance is gone from the "
                                           "hypervisor; delete it"));
        }
      nlx_manager_save (manager, entry);
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
