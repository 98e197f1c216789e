/* nlx-store.c: durable instance records
 *
 * One JSON file per instance, <dir>/<uuid>.json, replaced atomically
 * (temporary file, fsync, rename): a crash at any moment leaves the old
 * record or the new one, never a torn one. */
#include "config.h"

#include <errno.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "nlx-error.h"
#include "nlx-file.h"
#include "nlx-store.h"

struct _NlxStore {
  char *dir;
};

/**
 * nlx_store_open:
 * @dir: the records' directory, created (0700) if missing
 * @error: return location for a #G_FILE_ERROR
 */
NlxStore *
nlx_store_open (const char *dir,
                GError **error)
{
  NlxStore *store;

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   _("Cannot create the record directory %s: %s"), dir,
                   g_strerror (saved_errno));
      return NULL;
    }
  store = g_new0 (NlxStore, 1);
  store->dir = g_strdup (dir);
  return store;
}

void
nlx_store_free (NlxStore *store)
{
  if (store == NULL)
    return;
  g_free (store->dir);
  g_free (store);
}

static char *
record_path (NlxStore *store,
             const char *uuid)
{
  g_autofree char *file = g_strdup_printf ("%s.json", uuid);

  return g_build_filename (store->dir, file, NULL);
}

gboolean
nlx_store_save (NlxStore *store,
                const NlxRecord *record,
                GError **error)
{
  g_autoptr(JsonNode) node = nlx_record_to_node (record);
  g_autofree char *data = json_to_string (node, TRUE);
  g_autofree char *path = record_path (store, record->instance->uuid);

  return nlx_file_set_contents_full (path, data, -1,
                                   G_FILE_SET_CONTENTS_CONSISTENT |
                                   G_FILE_SET_CONTENTS_DURABLE,
                                   0600, error);
}

/* Deleting what is not there succeeds. */
gboolean
nlx_store_delete (NlxStore *store,
                  const char *uuid,
                  GError **error)
{
  g_autofree char *path = record_path (store, uuid);

  if (g_unlink (path) != 0 && errno != ENOENT)
    {
      int saved_errno = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   _("Cannot delete instance record %s: %s"), path,
                   g_strerror (saved_errno));
      return FALSE;
    }
  return TRUE;
}

/**
 * nlx_store_load_all:
 * @store: the store
 * @error: return location for a #G_FILE_ERROR
 *
 * A record that cannot be read is left where it is, with a warning
 * naming it, so one bad file neither stops the host nor is lost.
 *
 * Returns: (transfer full) (element-type NlxRecord): every readable record
 */
GPtrArray *
nlx_store_load_all (NlxStore *store,
                    GError **error)
{
  g_autoptr(GPtrArray) records = g_ptr_array_new_with_free_func (
    (GDestroyNotify) nlx_record_free);
  g_autoptr(GDir) dir = g_dir_open (store->dir, 0, error);
  const char *name;

  if (dir == NULL)
    return NULL;
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (store->dir, name, NULL);
      g_autoptr(JsonParser) parser = json_parser_new_immutable ();
      g_autoptr(GError) local_error = NULL;
      g_autofree char *data = NULL;
      gsize length;
      NlxRecord *record = NULL;

      /* Temporary files of an interrupted save end in a random suffix. */
      if (!g_str_has_suffix (name, ".json"))
        continue;
      /* Not json_parser_load_from_file(): its descriptor is not
       * close-on-exec. */
      if (nlx_file_get_contents (path, &data, &length, &local_error) &&
          json_parser_load_from_data (parser, data, length, &local_error))
        record = nlx_record_new_from_node (json_parser_get_root (parser),
                                           &local_error);
      if (record == NULL)
        {
          g_warning (_("Ignoring unreadable instance record %s: %s"), path,
                     local_error->message);
          continue;
        }
      g_ptr_array_add (records, record);
    }
  return g_steal_pointer (&records);
}
