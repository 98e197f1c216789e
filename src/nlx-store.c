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
#include "nlx-json.h"
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

/* What @data reads back as, written again: the same text when the
 * loader takes the record as it is.  NULL when the loader refuses it. */
static char *
read_back (const char *data,
           GError **error)
{
  g_autoptr(JsonNode) node = nlx_json_parse (data, -1, error);
  g_autoptr(NlxRecord) record = NULL;
  g_autoptr(JsonNode) again = NULL;

  if (node == NULL ||
      (record = nlx_record_new_from_node (node, error)) == NULL)
    return NULL;
  again = nlx_record_to_node (record);
  return json_to_string (again, TRUE);
}

/**
 * nlx_store_save:
 * @error: return location for a #G_FILE_ERROR, or a #NLX_MODEL_ERROR when
 *   the record would not read back as it is
 *
 * Writes the record only if nlx_store_load_all() would read back the
 * same record: a record the daemon cannot read makes its server vanish
 * at the next start while its container runs on.
 */
gboolean
nlx_store_save (NlxStore *store,
                const NlxRecord *record,
                GError **error)
{
  g_autoptr(JsonNode) node = nlx_record_to_node (record);
  g_autofree char *data = json_to_string (node, TRUE);
  g_autofree char *path = record_path (store, record->instance->uuid);
  g_autoptr(GError) local_error = NULL;
  g_autofree char *again = read_back (data, &local_error);

  if (again == NULL || !g_str_equal (again, data))
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("Instance record %s was not saved: it would not read "
                     "back as it is (%s)"), record->instance->uuid,
                   local_error ? local_error->message
                               : _("it reads back different"));
      return FALSE;
    }
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

#define QUARANTINE "quarantine"

/* The uuid a record's file name gives, if any. */
static char *
uuid_of (const char *name)
{
  const char *end = strstr (name, ".json");
  g_autofree char *uuid = end ? g_strndup (name, end - name) : NULL;

  if (uuid == NULL || !g_uuid_string_is_valid (uuid))
    return NULL;
  return g_ascii_strdown (uuid, -1);
}

/* Moves an unreadable record aside, with the reason beside it, so that
 * the next start neither reads it again nor forgets it. */
static void
quarantine (NlxStore *store,
            const char *name,
            const char *reason)
{
  g_autofree char *dir = g_build_filename (store->dir, QUARANTINE, NULL);
  g_autofree char *from = g_build_filename (store->dir, name, NULL);
  g_autofree char *to = g_build_filename (dir, name, NULL);
  g_autofree char *why = NULL;

  for (guint n = 1; g_file_test (to, G_FILE_TEST_EXISTS) ||
                    g_file_test (to, G_FILE_TEST_IS_SYMLINK); n++)
    {
      g_autofree char *other = g_strdup_printf ("%s.%u", name, n);

      g_free (to);
      to = g_build_filename (dir, other, NULL);
    }
  if (g_mkdir_with_parents (dir, 0700) != 0 || g_rename (from, to) != 0)
    {
      g_warning (_("Unreadable instance record %s: %s; it cannot be moved to "
                   "%s (%s), so it stays, and its server is left alone"),
                 from, reason, dir, g_strerror (errno));
      return;
    }
  why = g_strconcat (to, ".reason", NULL);
  nlx_file_set_contents_full (why, reason, -1,
                              G_FILE_SET_CONTENTS_CONSISTENT, 0600, NULL);
  g_warning (_("Unreadable instance record %s: %s; moved to %s.  Its server "
               "is left alone and keeps its address: repair the record and "
               "move it back, or remove it once the server is gone"),
             from, reason, to);
}

/**
 * nlx_store_load_all:
 * @store: the store
 * @quarantined: (out) (optional) (transfer full) (element-type utf8): the
 *   uuids of the records that cannot be read, now or at an earlier start
 * @error: return location for a #G_FILE_ERROR
 *
 * A record that cannot be read is moved into `quarantine/` beside the
 * records, with a `.reason` file and a warning, so one bad file neither
 * stops the host nor is lost, and its uuid is reported so that the
 * caller neither forgets its server nor hands out its address.  The
 * temporary files of saves a kill interrupted are removed.
 *
 * Returns: (transfer full) (element-type NlxRecord): every readable record
 */
GPtrArray *
nlx_store_load_all (NlxStore *store,
                    GPtrArray **quarantined,
                    GError **error)
{
  g_autoptr(GPtrArray) records = g_ptr_array_new_with_free_func (
    (GDestroyNotify) nlx_record_free);
  g_autoptr(GPtrArray) bad = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *quarantine_dir = g_build_filename (store->dir, QUARANTINE,
                                                      NULL);
  g_autoptr(GDir) dir = NULL;
  const char *name;

  nlx_file_remove_save_temporaries (store->dir);
  dir = g_dir_open (store->dir, 0, error);
  if (dir == NULL)
    return NULL;
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (store->dir, name, NULL);
      g_autoptr(JsonNode) root = NULL;
      g_autoptr(GError) local_error = NULL;
      NlxRecord *record = NULL;
      char *uuid;

      if (!g_str_has_suffix (name, ".json"))
        continue;
      if ((root = nlx_json_parse_file (path, &local_error)) != NULL)
        record = nlx_record_new_from_node (root, &local_error);
      /* A record is found by the name of its file. */
      uuid = uuid_of (name);
      if (record != NULL && g_strcmp0 (uuid, record->instance->uuid) != 0)
        {
          g_set_error (&local_error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                       _("it holds instance %s, not the one its name says"),
                       record->instance->uuid);
          g_clear_pointer (&record, nlx_record_free);
        }
      if (record == NULL)
        {
          quarantine (store, name, local_error->message);
          if (uuid != NULL)
            g_ptr_array_add (bad, uuid);
          continue;
        }
      g_free (uuid);
      g_ptr_array_add (records, record);
    }

  /* Those of earlier starts, until someone deals with them. */
  g_clear_pointer (&dir, g_dir_close);
  dir = g_dir_open (quarantine_dir, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      char *uuid = g_str_has_suffix (name, ".reason") ? NULL : uuid_of (name);

      if (uuid != NULL && !g_ptr_array_find_with_equal_func (bad, uuid,
                                                             g_str_equal, NULL))
        g_ptr_array_add (bad, uuid);
      else
        g_free (uuid);
    }
  if (quarantined != NULL)
    *quarantined = g_steal_pointer (&bad);
  return g_steal_pointer (&records);
}
