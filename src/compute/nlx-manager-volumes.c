/* nlx-manager-volumes.c: volumes: attach and detach, and the volume
 * directory's list, create, show and delete */
#include "config.h"

#include <unistd.h>

#include <glib/gi18n-lib.h>

#include "compute/nlx-manager-private.h"

/* Drops the attachment of volume @id from the instance. */
void
nlx_manager_remove_volume (NlxInstance *instance,
                           const char *id)
{
  NlxVolumeAttachment *attachment = nlx_instance_find_volume (instance, id);

  if (attachment != NULL)
    g_ptr_array_remove (instance->volumes, attachment);
}

/* A volume that could not be attached or detached leaves the instance as
 * it was: the driver undid its part, so only the caller hears of it. */
static void
finish_volume (NlxManager *manager G_GNUC_UNUSED,
               Entry *entry,
               Job *job)
{
  NlxRecord *record = entry->record;

  if (job->have_info)
    nlx_manager_apply_power_state (record, job->info.state);
  if (job->ok != job->attach)
    nlx_manager_remove_volume (record->instance, job->attachment->volume_id);
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

static gboolean
run_volume (NlxManager *manager,
            Job *job,
            GError **error)
{
  return job->attach
           ? nlx_virt_attach_volume (manager->virt, job->uuid, job->attachment,
                                     error)
           : nlx_virt_detach_volume (manager->virt, job->uuid, job->attachment,
                                     error);
}

static gboolean volume_finished (NlxManager *manager,
                                 Entry *entry,
                                 Job *job);

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

  /* nlx_manager_commit() has put the record back. */
  g_warning ("Instance %s: volume %s was attached, but %s; detaching it "
             "again", job->uuid, job->attachment->volume_id, cause->message);
  entry->generation++;
  undo->kind = JOB_VOLUME;
  undo->run = run_volume;
  undo->finish = volume_finished;
  undo->answer_caller = answer_volume;
  undo->uuid = g_strdup (job->uuid);
  undo->attach = FALSE;
  undo->attachment = nlx_volume_attachment_new (job->attachment->volume_id,
                                                job->attachment->device,
                                                job->attachment->mount_path);
  undo->task = g_steal_pointer (&job->task);
  undo->undo_cause = cause;
  nlx_manager_queue (manager, undo);
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
    nlx_manager_end_job (manager, entry, job, TRUE);
  nlx_manager_job_free (job);
  nlx_manager_unref (manager);
}

/* Job.finish of an attach or detach. */
static gboolean
volume_finished (NlxManager *manager,
                 Entry *entry,
                 Job *job)
{
  /* A new attachment is acknowledged only once saved: the record on disk
   * still has it pending, which a restart undoes.  A detach is safe
   * either way: a restart finishes a pending one. */
  g_autoptr(JsonNode) before = NULL;

  if (job->attach && job->ok && !entry->delete_pending)
    before = nlx_record_to_node (entry->record);
  finish_volume (manager, entry, job);
  if (before == NULL)
    return FALSE;
  nlx_manager_commit (manager, entry, before, attachment_committed, job);
  return TRUE;
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

gboolean
nlx_manager_check_volumes_free (NlxManager *manager,
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

/* Whether volume operations may start on the instance now. */
static gboolean
check_volume_change (NlxManager *manager,
                     Entry *entry,
                     GError **error)
{
  NlxRecord *record = entry->record;

  if (!nlx_manager_check_available (manager, error))
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
  job->run = run_volume;
  job->finish = volume_finished;
  job->answer_caller = answer_volume;
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
  nlx_manager_action_begin_job (manager, entry, task, job);
  nlx_manager_commit (manager, entry, before, nlx_manager_job_committed, job);
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
  Entry *entry = nlx_manager_find (manager, uuid, &error);
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
  g_autoptr(GTask) task = nlx_manager_call_new (run_attach_volume, uuid,
                                                nlx_manager_attach_volume_async,
                                                callback, user_data, &call);

  call->volume_id = g_strdup (volume_id);
  call->device = g_strdup (device);
  call->mount_path = g_strdup (mount_path);
  nlx_manager_start_call (manager, task);
}

/**
 * nlx_manager_attach_volume_finish:
 *
 * Returns: (transfer full): the attachment made
 */
NlxVolumeAttachment *
nlx_manager_attach_volume_finish (NlxManager *manager G_GNUC_UNUSED,
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
  Entry *entry = nlx_manager_find (manager, uuid, &error);
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
  g_autoptr(GTask) task = nlx_manager_call_new (run_detach_volume, uuid,
                                                nlx_manager_detach_volume_async,
                                                callback, user_data, &call);

  call->volume_id = g_strdup (volume_id);
  nlx_manager_start_call (manager, task);
}

gboolean
nlx_manager_detach_volume_finish (NlxManager *manager G_GNUC_UNUSED,
                                  GAsyncResult *result,
                                  GError **error)
{
  g_autoptr(NlxVolumeAttachment) attachment =
    g_task_propagate_pointer (G_TASK (result), error);

  return attachment != NULL;
}

static gpointer
list_volumes (NlxManager *manager,
              gpointer data G_GNUC_UNUSED,
              GCancellable *cancellable G_GNUC_UNUSED,
              GError **error)
{
  return nlx_volume_list (manager->volumes, error);
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

  nlx_manager_run_task_in_worker (manager, task, list_volumes,
                                  (GDestroyNotify) g_ptr_array_unref, NULL);
}

/**
 * nlx_manager_list_volumes_finish:
 *
 * Returns: (transfer full) (element-type NlxVolumeInfo): the volumes
 */
GPtrArray *
nlx_manager_list_volumes_finish (NlxManager *manager G_GNUC_UNUSED,
                                 GAsyncResult *result,
                                 GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

typedef struct {
  char *id;
  guint64 size_bytes;
  char *fstype;
  char *from_dir;
  char *owner;
  char *device;                 /* a host block device to link instead */
} VolumeRequest;

static void
volume_request_free (VolumeRequest *request)
{
  g_free (request->id);
  g_free (request->fstype);
  g_free (request->from_dir);
  g_free (request->owner);
  g_free (request->device);
  g_free (request);
}

static gpointer
create_volume (NlxManager *manager,
               gpointer data,
               GCancellable *cancellable G_GNUC_UNUSED,
               GError **error)
{
  VolumeRequest *request = data;
  NlxVolumeSettings *settings = manager->volumes;

  if (request->device != NULL
      ? !nlx_volume_link_block_device (settings, request->id, request->device,
                                       error)
      : !nlx_volume_create_full (settings, request->id, request->size_bytes,
                                 request->fstype, request->from_dir,
                                 request->owner, error))
    return NULL;
  return nlx_volume_info (settings, request->id, error);
}

/**
 * nlx_manager_create_volume_async:
 * @fstype: (nullable): ext4 (the default) or xfs
 * @from_dir: (nullable): a host directory whose tree fills the new
 *   filesystem
 * @owner: (nullable): the project it belongs to (NlxVolumeInfo's
 *   owner), or %NULL for the operator's
 *
 * Makes a file-backed volume in the volume directory, in a worker.
 */
void
nlx_manager_create_volume_async (NlxManager *manager,
                                 const char *id,
                                 guint64 size_bytes,
                                 const char *fstype,
                                 const char *from_dir,
                                 const char *owner,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);
  VolumeRequest *request = g_new0 (VolumeRequest, 1);

  request->id = g_strdup (id);
  request->size_bytes = size_bytes;
  request->fstype = g_strdup (fstype);
  request->from_dir = g_strdup (from_dir);
  request->owner = g_strdup (owner);
  g_task_set_task_data (task, request, (GDestroyNotify) volume_request_free);
  nlx_manager_run_task_in_worker (manager, task, create_volume,
                                  (GDestroyNotify) nlx_volume_info_free,
                                  NULL);
}

/**
 * nlx_manager_link_volume_async:
 * @device: the absolute path of a host block device under [volumes]
 *   allowed_roots
 *
 * Makes volume @id a symbolic link to @device (see
 * nlx_volume_link_block_device()), in a worker since opening a device
 * can wait on its transport; finish with
 * nlx_manager_create_volume_finish().  The volume is the operator's:
 * a link holds no owner.
 */
void
nlx_manager_link_volume_async (NlxManager *manager,
                               const char *id,
                               const char *device,
                               GAsyncReadyCallback callback,
                               gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);
  VolumeRequest *request = g_new0 (VolumeRequest, 1);

  request->id = g_strdup (id);
  request->device = g_strdup (device);
  g_task_set_task_data (task, request, (GDestroyNotify) volume_request_free);
  nlx_manager_run_task_in_worker (manager, task, create_volume,
                                  (GDestroyNotify) nlx_volume_info_free,
                                  NULL);
}

NlxVolumeInfo *
nlx_manager_create_volume_finish (NlxManager *manager G_GNUC_UNUSED,
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

/* The error of an unknown volume @id, word for word, for a caller that
 * hides one. */
void
nlx_manager_set_volume_not_found (NlxManager *manager,
                                  const char *id,
                                  GError **error)
{
  nlx_volume_set_not_found (manager->volumes, id, error);
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
