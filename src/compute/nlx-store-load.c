/* nlx-store-load.c: reading the instance records at start, and setting
 * aside those that cannot be read (the writing is in nlx-store.c) */
#include "config.h"

#include <errno.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "common/nlx-error.h"
#include "common/nlx-file.h"
#include "common/nlx-json.h"
#include "compute/nlx-store.h"

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
  const char *records = nlx_store_get_dir (store);
  g_autofree char *dir = g_build_filename (records, QUARANTINE, NULL);
  g_autofree char *from = g_build_filename (records, name, NULL);
  g_autofree char *to = g_build_filename (dir, name, NULL);
  g_autofree char *why = NULL;
  g_autoptr(GError) error = NULL;

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
  /* Both ends of the move, or a crash could bring the record back. */
  if (!nlx_file_sync_dir (dir, &error) ||
      !nlx_file_sync_dir (records, &error))
    g_warning ("%s", error->message);
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
  const char *records_dir = nlx_store_get_dir (store);
  g_autofree char *quarantine_dir = g_build_filename (records_dir, QUARANTINE,
                                                      NULL);
  g_autoptr(GDir) dir = NULL;
  const char *name;

  nlx_file_remove_save_temporaries (records_dir);
  dir = g_dir_open (records_dir, 0, error);
  if (dir == NULL)
    return NULL;
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (records_dir, name, NULL);
      g_autoptr(JsonNode) root = NULL;
      g_autoptr(GError) local_error = NULL;
      g_autofree char *data = NULL;
      gsize length;
      NlxRecord *record = NULL;
      char *uuid;

      if (!g_str_has_suffix (name, ".json"))
        continue;
      if (!nlx_file_get_contents (path, &data, &length, &local_error))
        ;
      else if ((root = nlx_json_parse (data, length, &local_error)) == NULL)
        g_prefix_error (&local_error, _("%s is not valid JSON: "), path);
      else
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
      /* What the disk holds: a save of the record as it is writes
       * nothing (the start-up reconciliation saves every record). */
      nlx_store_note_on_disk (store, uuid, data);
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
