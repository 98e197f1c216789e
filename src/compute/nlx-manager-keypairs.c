/* nlx-manager-keypairs.c: key pairs, kept in memory and written by the
 * store in order with the records */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "compute/nlx-manager-private.h"

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
  nlx_manager_unref (change->manager);
  g_free (change);
}

static void write_keypairs (NlxManager *manager,
                            KeypairChange *change);

static void
keypairs_written (GObject *source G_GNUC_UNUSED,
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

          rewrite->manager = nlx_manager_ref (manager);
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
  change->manager = nlx_manager_ref (manager);
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
nlx_manager_add_keypair_finish (NlxManager *manager G_GNUC_UNUSED,
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
  change->manager = nlx_manager_ref (manager);
  change->task = g_steal_pointer (&task);
  change->user_id = g_strdup (user_id);
  change->removed = removed;
  write_keypairs (manager, change);
}

gboolean
nlx_manager_delete_keypair_finish (NlxManager *manager G_GNUC_UNUSED,
                                   GAsyncResult *result,
                                   GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}
