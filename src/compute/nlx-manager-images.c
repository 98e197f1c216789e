/* nlx-manager-images.c: images: resolving an image reference, snapshots
 * (createImage), and the image store's import and delete */
#include "config.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>

#include "compute/nlx-manager-private.h"
#include "host/nlx-archive.h"

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

/* A backup's rotation: the caller hears of its backup once the backups
 * rotated out are deleted, or failed to be. */
typedef struct {
  GTask *task;
  NlxStoredImage *stored;
  guint pending;
} Rotation;

static void
rotation_done (Rotation *rotation)
{
  g_task_return_pointer (rotation->task, rotation->stored,
                         (GDestroyNotify) nlx_stored_image_free);
  g_object_unref (rotation->task);
  g_free (rotation);
}

static void
rotated_out (GObject *source G_GNUC_UNUSED,
             GAsyncResult *result,
             gpointer data)
{
  Rotation *rotation = data;
  g_autoptr(GError) error = NULL;

  /* Nova logs a backup it cannot delete and goes on: the store refuses
   * one a server still boots from, and the backup is then kept. */
  if (!nlx_manager_change_finish (NULL, result, &error))
    g_warning ("Backup rotation: an old backup is kept: %s", error->message);
  if (--rotation->pending == 0)
    rotation_done (rotation);
}

static gint
newest_first (gconstpointer a,
              gconstpointer b)
{
  const NlxStoredImage *x = *(NlxStoredImage * const *) a;
  const NlxStoredImage *y = *(NlxStoredImage * const *) b;
  gint order = g_date_time_compare (y->created_at, x->created_at);

  return order != 0 ? order : g_strcmp0 (y->id, x->id);
}

/* Nova's _rotate_backups: of the server's backups of this backup type,
 * the newest @job->rotation are kept (the new one among them) and the
 * rest deleted; rotation 0 deletes them all, the new one too.  Then the
 * caller hears of the new backup. */
static void
rotate_backups (NlxManager *manager,
                Job *job)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) images = nlx_image_store_list (manager->images, &error);
  g_autoptr(GPtrArray) backups = g_ptr_array_new ();
  Rotation *rotation = g_new0 (Rotation, 1);

  rotation->task = g_object_ref (job->task);
  rotation->stored = g_steal_pointer (&job->stored);
  rotation->pending = 1;
  if (images == NULL)
    g_warning ("Instance %s: no backup rotation: %s", job->uuid,
               error->message);
  for (guint i = 0; images != NULL && i < images->len; i++)
    {
      NlxStoredImage *image = images->pdata[i];

      if (g_strcmp0 (g_hash_table_lookup (image->properties, "image_type"),
                     "backup") == 0 &&
          g_strcmp0 (g_hash_table_lookup (image->properties, "backup_type"),
                     job->backup_type) == 0 &&
          g_strcmp0 (g_hash_table_lookup (image->properties, "instance_uuid"),
                     job->uuid) == 0 &&
          !g_hash_table_contains (manager->images_deleting, image->id))
        g_ptr_array_add (backups, image);
    }
  g_ptr_array_sort (backups, newest_first);
  for (guint i = job->rotation; i < backups->len; i++)
    {
      NlxStoredImage *image = backups->pdata[i];

      g_info ("Instance %s: backup rotation (%" G_GINT64_FORMAT " kept) "
              "deletes image %s (%s)", job->uuid, job->rotation, image->id,
              image->name);
      rotation->pending++;
      nlx_manager_delete_image_async (manager, image->id, rotated_out,
                                      rotation);
    }
  if (--rotation->pending == 0)
    rotation_done (rotation);
}

/* A failed snapshot leaves the instance as it was, as in Nova: only the
 * caller hears of it (Job.finish). */
static gboolean
finish_snapshot (NlxManager *manager,
                 Entry *entry,
                 Job *job)
{
  NlxRecord *record = entry->record;

  if (job->have_info)
    nlx_manager_apply_power_state (record, job->info.state);
  record->task_state = NLX_TASK_STATE_NONE;
  g_clear_pointer (&entry->snapshot_name, g_free);
  if (job->ok)
    {
      g_info ("Instance %s: snapshot is image %s (%s)", record->instance->uuid,
              job->stored->id, job->stored->name);
      if (job->backup_type != NULL)
        rotate_backups (manager, job);
      else
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
  return FALSE;
}

NlxImage *
nlx_manager_resolve_image (NlxManager *manager,
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
  /* A tarball boots from the tree imported at start: never extracted
   * per server (nlx_manager_import_config_images()). */
  if (image != NULL && image->format == NLX_IMAGE_FORMAT_TARBALL)
    {
      gboolean changed = FALSE;
      g_autofree char *rootfs =
        nlx_image_store_get_config_rootfs (manager->images, known->name,
                                           known->path, &changed, error);

      g_clear_pointer (&image, nlx_image_free);
      if (rootfs == NULL)
        return NULL;
      if (changed)
        g_warning ("Image %s: %s changed since the compute service imported "
                   "it at start; servers boot what was imported until "
                   "nova-lxc-compute is restarted", known->name, known->path);
      image = nlx_image_new_from_path (known->name, rootfs, error);
    }
  if (image == NULL)
    return NULL;
  if (known->init_path != NULL)
    nlx_image_set_property (image, NLX_IMAGE_PROP_INIT_PATH, known->init_path);
  if (known->shutdown_signal != NULL)
    nlx_image_set_property (image, NLX_IMAGE_PROP_SHUTDOWN_SIGNAL,
                            known->shutdown_signal);
  return g_steal_pointer (&image);
}

/* Whether a server made from image @name may be left (a quarantined
 * record may be of one). */
static gboolean
image_name_in_use (NlxManager *manager,
                   const char *name)
{
  GHashTableIter iter;
  Entry *entry;

  if (g_hash_table_size (manager->quarantined) > 0)
    return TRUE;
  g_hash_table_iter_init (&iter, manager->entries);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &entry))
    if (g_strcmp0 (entry->record->instance->image_ref, name) == 0)
      return TRUE;
  return FALSE;
}

/**
 * nlx_manager_import_config_images:
 *
 * At start, after the records are read: puts each root tarball the
 * configuration names into the image store by content
 * (nlx_image_store_import_config()), so servers boot from the stored tree
 * and no spawn reads the tarball.  An unchanged tarball is not read; a
 * changed one is read again, and its earlier content is removed once no
 * server made from the image is left, as is the record of a section gone
 * from the configuration.  A tarball that cannot be imported is logged,
 * and servers are refused from its image, not the daemon.
 */
void
nlx_manager_import_config_images (NlxManager *manager)
{
  g_autoptr(GPtrArray) stored = NULL;

  for (guint i = 0; i < manager->config->images->len; i++)
    {
      const NlxConfigImage *known = manager->config->images->pdata[i];
      g_autoptr(GError) error = NULL;
      gboolean imported = FALSE;
      gint64 began = g_get_monotonic_time ();

      if (!g_file_test (known->path, G_FILE_TEST_IS_REGULAR))
        continue;
      if (!nlx_image_store_import_config (manager->images, known->name,
                                          known->path,
                                          !image_name_in_use (manager,
                                                              known->name),
                                          &imported, &error))
        g_warning ("Image %s: cannot import %s; no server can be made from "
                   "it until it is fixed and the compute service restarted: "
                   "%s", known->name, known->path, error->message);
      else if (imported)
        g_message ("Image %s: imported %s into the image store in %.1f s",
                   known->name, known->path,
                   (g_get_monotonic_time () - began) / 1e6);
    }
  stored = nlx_image_store_list_configs (manager->images);
  for (guint i = 0; i < stored->len; i++)
    {
      const char *name = stored->pdata[i];

      if (nlx_config_find_image (manager->config, name) == NULL &&
          !image_name_in_use (manager, name))
        nlx_image_store_forget_config (manager->images, name);
    }
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
  Entry *entry = nlx_manager_find_idle (manager, uuid,
                                        VM (ACTIVE) | VM (STOPPED) |
                                        VM (PAUSED),
                                        call->backup_type != NULL
                                          ? "createBackup" : "createImage",
                                        &error);
  g_autoptr(NlxImage) source = NULL;
  g_autoptr(JsonNode) before = NULL;
  NlxRecord *record;
  Job *job;

  /* A client whose answer was lost retries: tell it, in its terms, that
   * its snapshot is still being made, or is made. */
  if (entry == NULL && g_error_matches (error, NLX_DRIVER_ERROR,
                                        NLX_DRIVER_ERROR_INVALID_STATE) &&
      (entry = nlx_manager_find (manager, uuid, NULL)) != NULL &&
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
                   "perhaps made by an earlier %s whose answer was lost; "
                   "use that image, or choose another name for a new "
                   "snapshot (image names are unique on this host)"), name,
                 taken->id, uuid,
                 call->backup_type != NULL ? "createBackup" : "createImage");
  else if (entry != NULL &&
           (taken != NULL || nlx_config_find_image (manager->config, name) != NULL))
    g_set_error (&error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_EXISTS,
                 _("An image named “%s” exists; choose another name (image "
                   "names are unique on this host: give each backup its "
                   "own, e.g. with its date)"), name);
  if (entry == NULL || error != NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  record = entry->record;
  job = g_new0 (Job, 1);
  job->kind = JOB_SNAPSHOT;
  job->run = snapshot;
  job->finish = finish_snapshot;
  job->uuid = g_strdup (uuid);
  job->image_name = g_strdup (name);
  job->properties = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                           g_free);
  /* The new image boots as the old one did. */
  if (record->instance->image_ref != NULL)
    source = nlx_manager_resolve_image (manager, record->instance->image_ref,
                                        NULL);
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
  /* Glance's marks of a backup, by which its rotation finds it. */
  g_hash_table_insert (job->properties, g_strdup ("image_type"),
                       g_strdup (call->backup_type != NULL ? "backup"
                                                           : "snapshot"));
  if (call->backup_type != NULL)
    {
      g_hash_table_insert (job->properties, g_strdup ("backup_type"),
                           g_strdup (call->backup_type));
      job->backup_type = g_strdup (call->backup_type);
      job->rotation = call->rotation;
    }
  g_hash_table_insert (job->properties, g_strdup ("instance_uuid"),
                       g_strdup (uuid));
  /* A snapshot holds the server's data: its project's only, as Glance
   * makes a snapshot. */
  if (record->instance->project_id != NULL)
    {
      g_hash_table_insert (job->properties, g_strdup (NLX_IMAGE_PROP_OWNER),
                           g_strdup (record->instance->project_id));
      g_hash_table_insert (job->properties,
                           g_strdup (NLX_IMAGE_PROP_VISIBILITY),
                           g_strdup ("private"));
    }
  job->task = g_object_ref (task);

  before = nlx_record_to_node (record);
  record->task_state = NLX_TASK_STATE_IMAGE_SNAPSHOT;
  entry->generation++;
  /* Read only while the task state says a snapshot runs (a failed save
   * puts that back), so it needs no clearing here. */
  g_free (entry->snapshot_name);
  entry->snapshot_name = g_strdup (name);
  g_info ("Instance %s: snapshot as image %s", uuid, name);
  nlx_manager_action_begin_job (manager, entry, task, job);
  nlx_manager_commit (manager, entry, before, nlx_manager_job_committed, job);
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
  g_autoptr(GTask) task = nlx_manager_call_new (run_create_image, uuid,
                                                nlx_manager_create_image_async,
                                                callback, user_data, &call);

  call->name = g_strdup (name);
  call->metadata = metadata ? g_hash_table_ref (metadata) : NULL;
  nlx_manager_start_call (manager, task);
}

/**
 * nlx_manager_create_backup_async:
 * @backup_type: e.g. "daily"; any string
 * @rotation: how many of the server's backups of @backup_type to keep,
 *   the new one included (0 deletes them all)
 *
 * Nova's createBackup: a snapshot as nlx_manager_create_image_async()
 * makes, whose image has image_type "backup" and @backup_type; once it
 * is stored, the server's older backups of @backup_type beyond the
 * newest @rotation are deleted (one a server boots from is kept, and
 * logged).  Finishes when that is done, with
 * nlx_manager_create_image_finish(): the new image (which rotation 0
 * has deleted).
 */
void
nlx_manager_create_backup_async (NlxManager *manager,
                                 const char *uuid,
                                 const char *name,
                                 const char *backup_type,
                                 gint64 rotation,
                                 GHashTable *metadata,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data)
{
  Call *call;
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (backup_type != NULL && rotation >= 0);
  task = nlx_manager_call_new (run_create_image, uuid,
                               nlx_manager_create_image_async, callback,
                               user_data, &call);
  call->name = g_strdup (name);
  call->backup_type = g_strdup (backup_type);
  call->rotation = rotation;
  call->metadata = metadata ? g_hash_table_ref (metadata) : NULL;
  nlx_manager_start_call (manager, task);
}

NlxStoredImage *
nlx_manager_create_image_finish (NlxManager *manager G_GNUC_UNUSED,
                                 GAsyncResult *result,
                                 GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

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
  char *file;
  char *name;
  GHashTable *properties;
} ImportRequest;

static void
import_request_free (ImportRequest *request)
{
  g_free (request->file);
  g_free (request->name);
  g_clear_pointer (&request->properties, g_hash_table_unref);
  g_free (request);
}

/* Once started it runs to its end: nlx_image_store_import() takes no
 * GCancellable, so a stop waits for it (seconds for a root tarball, tens
 * of seconds for a disk image in libguestfs's appliance). */
static gpointer
import_image (NlxManager *manager,
              gpointer data,
              GCancellable *cancellable G_GNUC_UNUSED,
              GError **error)
{
  ImportRequest *request = data;
  NlxStoredImage *image = nlx_image_store_import (manager->images,
                                                  request->file, request->name,
                                                  request->properties, error);

  if (image == NULL)
    {
      g_warning ("Import of %s as image %s failed: %s", request->file,
                 request->name, (*error)->message);
      hide_internal_paths (manager, *error);
    }
  return image;
}

/**
 * nlx_manager_import_image_async:
 * @file: a root tarball or a raw or qcow2 disk image on this host
 * @properties: (nullable): image properties, e.g. os_shutdown_signal
 *
 * Imports an image into the store in a worker: a disk image takes tens
 * of seconds in libguestfs's appliance.  One asked for and not started
 * when the manager stops does not start; one that runs is waited for.
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

  request->file = g_strdup (file);
  request->name = g_strdup (name);
  request->properties = properties ? g_hash_table_ref (properties) : NULL;
  g_task_set_task_data (task, request, (GDestroyNotify) import_request_free);
  nlx_manager_run_task_in_worker (manager, task, import_image,
                                  (GDestroyNotify) nlx_stored_image_free,
                                  manager->stopping);
}

NlxStoredImage *
nlx_manager_import_image_finish (NlxManager *manager G_GNUC_UNUSED,
                                 GAsyncResult *result,
                                 GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

typedef struct {
  char *id;
  char *name;
  GTask *caller;
  GError *error;
} ImageDelete;

static void
image_delete_free (ImageDelete *request)
{
  g_free (request->id);
  g_free (request->name);
  g_clear_object (&request->caller);
  g_clear_error (&request->error);
  g_free (request);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ImageDelete, image_delete_free)

static void
delete_image_in_thread (NlxManager *manager,
                        gpointer data,
                        GCancellable *cancellable G_GNUC_UNUSED)
{
  ImageDelete *request = data;

  nlx_image_store_delete (manager->images, request->id, &request->error);
}

/* Back in the main context: the image may be resolved again (or not). */
static void
image_deleted (NlxManager *manager,
               gpointer data,
               GCancellable *cancellable G_GNUC_UNUSED)
{
  g_autoptr(ImageDelete) request = data;

  g_hash_table_remove (manager->images_deleting, request->id);
  if (request->error != NULL)
    {
      g_warning ("Delete of image %s (%s) failed: %s", request->name,
                 request->id, request->error->message);
      hide_internal_paths (manager, request->error);
    }
  else
    g_info ("Image %s (%s) deleted", request->name, request->id);
  if (manager->closed || request->error != NULL)
    nlx_manager_return_task (manager, request->caller, NULL, NULL,
                             g_steal_pointer (&request->error));
  else
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
  /* Its tree going away under a download would end it with files left
   * out, and the downloader could not tell. */
  if (image != NULL && error == NULL &&
      g_hash_table_contains (manager->images_exporting, image->id))
    g_set_error (&error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_STATE,
                 _("Image %s is being downloaded; delete it once the "
                   "download ends"), image->name);
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
  request->id = g_strdup (image->id);
  request->name = g_strdup (image->name);
  request->caller = g_object_ref (caller);
  if (!nlx_manager_run_in_worker (manager, delete_image_in_thread,
                                  image_deleted, request, NULL))
    {
      g_hash_table_remove (manager->images_deleting, image->id);
      image_delete_free (request);
      nlx_manager_fail_stopping (caller);
    }
}

/* ---- downloads ------------------------------------------------------- */

typedef struct {
  char *hold;                   /* the stored image's id, or NULL */
  char *name;
  char *rootfs;
  int socket;                   /* the writing end; the worker's */
  GTask *caller;
  GError *error;
} ImageExport;

static void
image_export_free (ImageExport *export)
{
  g_free (export->hold);
  g_free (export->name);
  g_free (export->rootfs);
  if (export->socket >= 0)
    close (export->socket);
  g_clear_object (&export->caller);
  g_clear_error (&export->error);
  g_free (export);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ImageExport, image_export_free)

static void
export_image_in_thread (NlxManager *manager G_GNUC_UNUSED,
                        gpointer data,
                        GCancellable *cancellable G_GNUC_UNUSED)
{
  ImageExport *export = data;

  nlx_archive_write_tree_to_socket (export->rootfs, export->socket,
                                    NLX_ARCHIVE_WRITE_XATTRS, &export->error);
  /* The reader sees the end now, not once the main loop gets to it. */
  close (export->socket);
  export->socket = -1;
}

static void
image_exported (NlxManager *manager,
                gpointer data,
                GCancellable *cancellable G_GNUC_UNUSED)
{
  g_autoptr(ImageExport) export = data;

  if (export->hold != NULL)
    {
      guint readers = GPOINTER_TO_UINT (g_hash_table_lookup (
                                          manager->images_exporting,
                                          export->hold));

      if (readers > 1)
        g_hash_table_insert (manager->images_exporting,
                             g_strdup (export->hold),
                             GUINT_TO_POINTER (readers - 1));
      else
        g_hash_table_remove (manager->images_exporting, export->hold);
    }
  if (export->error != NULL)
    {
      /* A reader that left (EPIPE) is no fault of the image. */
      g_info ("Download of image %s ended early: %s", export->name,
              export->error->message);
      hide_internal_paths (manager, export->error);
    }
  if (manager->closed || export->error != NULL)
    nlx_manager_return_task (manager, export->caller, NULL, NULL,
                             g_steal_pointer (&export->error));
  else
    g_task_return_boolean (export->caller, TRUE);
}

/**
 * nlx_manager_export_image:
 * @ref: an image's id or name, stored or configured
 * @callback: called once the tarball is all written, or failed
 * @error: #NLX_DRIVER_ERROR_NOT_FOUND, #NLX_DRIVER_ERROR_INVALID_STATE
 *   while it is being deleted, #NLX_DRIVER_ERROR_FAILED
 *
 * Writes a tarball of the image's root tree (what
 * nlx_manager_import_image_async() takes back: owners as the tree has
 * them, devices, extended attributes) in a worker, into the socket
 * returned, which the caller reads and closes.  The worker writes as the
 * caller reads, so nothing holds the whole tarball; a caller that closes
 * its end early stops the worker (and @callback gets an error).  Until
 * @callback runs, the image cannot be deleted (INVALID_STATE).
 *
 * Returns: the reading end of a stream socket (close-on-exec), or -1
 */
int
nlx_manager_export_image (NlxManager *manager,
                          const char *ref,
                          GAsyncReadyCallback callback,
                          gpointer user_data,
                          GError **error)
{
  g_autoptr(NlxImage) image = nlx_manager_resolve_image (manager, ref, error);
  g_autoptr(NlxStoredImage) stored = NULL;
  g_autoptr(ImageExport) export = NULL;
  int pair[2];
  guint readers;

  if (image == NULL)
    {
      /* resolve_image() says INVALID_ARGUMENT, for a boot's 400. */
      if (error != NULL && g_error_matches (*error, NLX_DRIVER_ERROR,
                                            NLX_DRIVER_ERROR_INVALID_ARGUMENT))
        (*error)->code = NLX_DRIVER_ERROR_NOT_FOUND;
      return -1;
    }
  if (image->format != NLX_IMAGE_FORMAT_DIRECTORY)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Image %s has no root tree to download"), ref);
      return -1;
    }
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot download image %s: %s; raise the daemon's open "
                     "file limit"), ref, g_strerror (errno));
      return -1;
    }
  if (nlx_config_find_image (manager->config, ref) == NULL)
    stored = nlx_image_store_lookup (manager->images, ref, NULL);
  export = g_new0 (ImageExport, 1);
  export->hold = stored != NULL ? g_strdup (stored->id) : NULL;
  export->name = g_strdup (image->id);
  export->rootfs = g_strdup (image->path);
  export->socket = pair[1];
  export->caller = g_task_new (NULL, NULL, callback, user_data);
  g_task_set_source_tag (export->caller, nlx_manager_export_image);
  if (export->hold != NULL)
    {
      readers = GPOINTER_TO_UINT (g_hash_table_lookup (
                                    manager->images_exporting, export->hold));
      g_hash_table_insert (manager->images_exporting,
                           g_strdup (export->hold),
                           GUINT_TO_POINTER (readers + 1));
    }
  if (!nlx_manager_run_in_worker (manager, export_image_in_thread,
                                  image_exported, export, NULL))
    {
      if (export->hold != NULL)
        g_hash_table_remove (manager->images_exporting, export->hold);
      close (pair[0]);
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_UNAVAILABLE,
                   _("The compute service is stopping"));
      return -1;
    }
  g_steal_pointer (&export);
  return pair[0];
}

gboolean
nlx_manager_export_image_finish (NlxManager *manager G_GNUC_UNUSED,
                                 GAsyncResult *result,
                                 GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}
