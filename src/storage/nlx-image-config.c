/* nlx-image-config.c: root tarballs named in nova-lxc.conf, imported once
 *
 * An `[image NAME]` whose path is a root tarball is put into the image
 * store by content, as an imported image is: its tree DIR/<sha256>/rootfs
 * is shared with every image of the same content, and instances boot from
 * it as from a directory image, so a spawn never reads the tarball and no
 * longer grows with its size.  What ties the name to its tree is a config
 * record, DIR/config/<sha256 of NAME>.json: the tarball's path, the
 * stat(2) stamp it had when it was read (device, inode, size, mtime,
 * ctime), the checksum of its content, and the checksums of earlier
 * contents instances may still run on ("kept").  A config record is no
 * image of the API: the configuration lists config images.
 *
 * The configuration is read at start-up only, and so are these tarballs:
 * the daemon calls nlx_image_store_import_config() for each at start.  A
 * tarball whose stamp matches its record is not even opened; one that
 * changed is checksummed, and extracted unless the store holds its
 * content.  Its earlier content is kept while any server created from the
 * image may run on it, and removed at a later start once none is left
 * (the caller says so).  Trees referred to by config records count as
 * used for the store's own deletes. */
#include "config.h"

#include <errno.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/nlx-error.h"
#include "common/nlx-file.h"
#include "common/nlx-json.h"
#include "storage/nlx-image-store-private.h"
#include "storage/nlx-image-store.h"

typedef struct {
  char *name;
  char *path;
  char *checksum; /* NULL: the tarball could not be imported */
  NlxImageFileStamp stamp;
  GPtrArray *kept; /* earlier contents' checksums */
} ConfigRecord;

static void
config_record_free (ConfigRecord *record)
{
  if (record == NULL)
    return;
  g_free (record->name);
  g_free (record->path);
  g_free (record->checksum);
  g_clear_pointer (&record->kept, g_ptr_array_unref);
  g_free (record);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConfigRecord, config_record_free)

/* A name in the configuration may hold any character: its file is named
 * by its checksum. */
static char *
config_record_path (NlxImageStore *store,
                    const char *name)
{
  g_autofree char *key = g_compute_checksum_for_string (G_CHECKSUM_SHA256,
                                                        name, -1);
  g_autofree char *file = g_strconcat (key, ".json", NULL);

  return g_build_filename (store->configs, file, NULL);
}

static gboolean
get_int (JsonObject *object,
         const char *member,
         gint64 *value)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  *value = json_node_get_int (node);
  return TRUE;
}

/* The record of config image @name; %NULL with no error when there is
 * none. */
static ConfigRecord *
read_config_record_file (const char *path,
                         GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(JsonNode) root = nlx_json_parse_file (path, &local_error);
  g_autoptr(ConfigRecord) record = NULL;
  JsonObject *object;
  JsonNode *kept;
  gint64 v[7];
  const char *checksum;

  if (root == NULL &&
      g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    return NULL;
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    goto damaged;
  object = json_node_get_object (root);
  record = g_new0 (ConfigRecord, 1);
  record->kept = g_ptr_array_new_with_free_func (g_free);
  record->name = g_strdup (nlx_json_get_string (object, "name"));
  record->path = g_strdup (nlx_json_get_string (object, "path"));
  checksum = nlx_json_get_string (object, "checksum");
  kept = json_object_get_member (object, "kept");
  if (record->name == NULL || record->path == NULL ||
      (checksum != NULL && !nlx_image_checksum_is_valid (checksum)) ||
      !get_int (object, "dev", &v[0]) || !get_int (object, "ino", &v[1]) ||
      !get_int (object, "size", &v[2]) ||
      !get_int (object, "mtime_s", &v[3]) ||
      !get_int (object, "mtime_ns", &v[4]) ||
      !get_int (object, "ctime_s", &v[5]) ||
      !get_int (object, "ctime_ns", &v[6]) ||
      kept == NULL || !JSON_NODE_HOLDS_ARRAY (kept))
    goto damaged;
  record->checksum = g_strdup (checksum);
  record->stamp.dev = v[0];
  record->stamp.ino = v[1];
  record->stamp.size = v[2];
  record->stamp.mtime.tv_sec = v[3];
  record->stamp.mtime.tv_nsec = v[4];
  record->stamp.ctime.tv_sec = v[5];
  record->stamp.ctime.tv_nsec = v[6];
  for (guint i = 0; i < json_array_get_length (json_node_get_array (kept)); i++)
    {
      JsonNode *item = json_array_get_element (json_node_get_array (kept), i);
      const char *text = JSON_NODE_HOLDS_VALUE (item) &&
                         json_node_get_value_type (item) == G_TYPE_STRING
                           ? json_node_get_string (item) : NULL;

      if (!nlx_image_checksum_is_valid (text))
        goto damaged;
      g_ptr_array_add (record->kept, g_strdup (text));
    }
  return g_steal_pointer (&record);

damaged:
  g_warning (_("Config image record %s is damaged or unreadable: %s"), path,
             local_error != NULL ? local_error->message : _("a member is "
                                                            "missing or wrong"));
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
               _("The image store's record of a configured image is damaged; "
                 "the compute service's log names its file"));
  return NULL;
}

static ConfigRecord *
read_config_record (NlxImageStore *store,
                    const char *name,
                    GError **error)
{
  g_autofree char *path = config_record_path (store, name);

  return read_config_record_file (path, error);
}

static gboolean
write_config_record (NlxImageStore *store,
                     const ConfigRecord *record,
                     GError **error)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *data = NULL;
  g_autofree char *path = config_record_path (store, record->name);
  g_autoptr(GError) local_error = NULL;
  const struct {
    const char *member;
    gint64 value;
  } ints[] = {
    { "dev", (gint64) record->stamp.dev },
    { "ino", (gint64) record->stamp.ino },
    { "size", (gint64) record->stamp.size },
    { "mtime_s", (gint64) record->stamp.mtime.tv_sec },
    { "mtime_ns", (gint64) record->stamp.mtime.tv_nsec },
    { "ctime_s", (gint64) record->stamp.ctime.tv_sec },
    { "ctime_ns", (gint64) record->stamp.ctime.tv_nsec },
  };

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, record->name);
  json_builder_set_member_name (builder, "path");
  json_builder_add_string_value (builder, record->path);
  json_builder_set_member_name (builder, "checksum");
  if (record->checksum != NULL)
    json_builder_add_string_value (builder, record->checksum);
  else
    json_builder_add_null_value (builder);
  for (guint i = 0; i < G_N_ELEMENTS (ints); i++)
    {
      json_builder_set_member_name (builder, ints[i].member);
      json_builder_add_int_value (builder, ints[i].value);
    }
  json_builder_set_member_name (builder, "kept");
  json_builder_begin_array (builder);
  for (guint i = 0; i < record->kept->len; i++)
    json_builder_add_string_value (builder, record->kept->pdata[i]);
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  node = json_builder_get_root (builder);
  data = json_to_string (node, TRUE);
  if (g_mkdir (store->configs, 0700) != 0 && errno != EEXIST)
    g_set_error (&local_error, G_FILE_ERROR, g_file_error_from_errno (errno),
                 "%s", g_strerror (errno));
  if (local_error != NULL ||
      !nlx_file_set_contents_full (path, data, -1,
                                   G_FILE_SET_CONTENTS_CONSISTENT |
                                   G_FILE_SET_CONTENTS_DURABLE,
                                   0600, &local_error))
    {
      g_warning (_("Cannot write config image record %s: %s"), path,
                 local_error->message);
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot save the image store's record of image “%s”; "
                     "the compute service's log says why"), record->name);
      return FALSE;
    }
  return TRUE;
}

/* Moves @record's content, if any and other than @checksum, to its kept
 * ones: instances made from it may still run on it. */
static void
keep_current (ConfigRecord *record,
              const char *checksum)
{
  gboolean known = FALSE;

  if (record->checksum == NULL || g_strcmp0 (record->checksum, checksum) == 0)
    return;
  for (guint i = 0; i < record->kept->len; i++)
    known = known || g_str_equal (record->kept->pdata[i], record->checksum);
  if (!known)
    g_ptr_array_add (record->kept, g_steal_pointer (&record->checksum));
  g_clear_pointer (&record->checksum, g_free);
}

/**
 * nlx_image_store_add_config_trees:
 *
 * Adds to @used the checksums of the trees config records (all but
 * @except_config's kept ones) refer to.
 *
 * Returns: %FALSE if a record cannot be read (it may use any tree)
 */
gboolean
nlx_image_store_add_config_trees (NlxImageStore *store,
                                  GHashTable *used,
                                  const char *except_config)
{
  g_autoptr(GDir) dir = g_dir_open (store->configs, 0, NULL);
  const char *file;

  /* None yet: the store has no config image. */
  if (dir == NULL)
    return !g_file_test (store->configs, G_FILE_TEST_EXISTS);
  while ((file = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = NULL;
      g_autoptr(ConfigRecord) record = NULL;
      g_autoptr(GError) error = NULL;

      /* Temporaries of an interrupted write end in .json.XXXXXX. */
      if (!g_str_has_suffix (file, ".json"))
        continue;
      path = g_build_filename (store->configs, file, NULL);
      record = read_config_record_file (path, &error);
      if (record == NULL && error != NULL)
        return FALSE;
      if (record == NULL)
        continue;
      if (record->checksum != NULL)
        g_hash_table_add (used, g_strdup (record->checksum));
      if (g_strcmp0 (record->name, except_config) == 0)
        continue;
      for (guint i = 0; i < record->kept->len; i++)
        g_hash_table_add (used, g_strdup (record->kept->pdata[i]));
    }
  return TRUE;
}

typedef struct {
  ConfigRecord *record;
  const char *previous; /* the record's content before this import */
} ConfigCommit;

static gboolean
record_config (NlxImageStore *store,
               NlxStoredImage *image,
               gpointer data,
               gboolean undo,
               GError **error)
{
  ConfigCommit *commit = data;

  /* Back to what it was: nothing of the new content is recorded. */
  if (undo)
    {
      for (guint i = commit->record->kept->len; i-- > 0;)
        if (g_strcmp0 (commit->record->kept->pdata[i], commit->previous) == 0)
          g_ptr_array_remove_index (commit->record->kept, i);
      g_free (commit->record->checksum);
      commit->record->checksum = g_strdup (commit->previous);
      return write_config_record (store, commit->record, NULL);
    }
  keep_current (commit->record, image->checksum);
  g_free (commit->record->checksum);
  commit->record->checksum = g_strdup (image->checksum);
  return write_config_record (store, commit->record, error);
}

/* Removes the trees of @record's kept contents no other record uses. */
static void
drop_kept (NlxImageStore *store,
           ConfigRecord *record)
{
  g_autoptr(GPtrArray) trash = g_ptr_array_new ();
  g_autoptr(GArray) fds = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr(GHashTable) used = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) still = g_ptr_array_new_with_free_func (g_free);
  int lock;

  if (record->kept->len == 0 ||
      (lock = nlx_image_store_lock (store, &error)) < 0)
    return;
  used = nlx_image_store_used_trees (store, NULL, record->name);
  for (guint i = 0; i < record->kept->len; i++)
    {
      char *checksum = record->kept->pdata[i];
      char *path = NULL;
      int fd = -1;

      if (used == NULL || g_hash_table_contains (used, checksum))
        {
          /* Another image or config image uses it: it is theirs now. */
          if (used == NULL)
            g_ptr_array_add (still, g_strdup (checksum));
          continue;
        }
      if (!nlx_image_store_move_tree_out (store, checksum, &path, &fd, NULL))
        {
          g_ptr_array_add (still, g_strdup (checksum));
          continue;
        }
      g_message (_("Image %s: removing its earlier content %s, on which no "
                   "server runs any more"), record->name, checksum);
      if (path != NULL)
        {
          g_ptr_array_add (trash, path);
          g_array_append_val (fds, fd);
        }
    }
  g_ptr_array_set_size (record->kept, 0);
  for (guint i = 0; i < still->len; i++)
    g_ptr_array_add (record->kept, g_strdup (still->pdata[i]));
  if (!write_config_record (store, record, &error))
    g_warning ("%s", error->message);
  close (lock);
  /* Outside the lock: a big tree takes a while. */
  for (guint i = 0; i < trash->len; i++)
    nlx_image_store_empty_trash (trash->pdata[i], g_array_index (fds, int, i),
                                 NULL);
}

/* Records that @record's tarball is not usable now: servers are refused
 * until a start imports it; its content so far is kept. */
static void
record_failure (NlxImageStore *store,
                ConfigRecord *record)
{
  int lock = nlx_image_store_lock (store, NULL);

  if (lock < 0)
    return;
  keep_current (record, NULL);
  write_config_record (store, record, NULL);
  close (lock);
}

/**
 * nlx_image_store_import_config:
 * @store: the store
 * @name: the `[image NAME]` section's name
 * @file: its path, a root tarball
 * @drop_earlier: whether no server made from @name may still run on an
 *   earlier content of @file: then those are removed
 * @imported: (out) (optional): set to whether @file was read (it was new
 *   or changed since the last call)
 * @error: return location for a #NLX_DRIVER_ERROR: INVALID_ARGUMENT for a
 *   file that is no root tarball, FAILED
 *
 * Puts @file's content into the store for config image @name, unless its
 * stamp shows it unchanged since it was last put there: then @file is not
 * opened at all.  Content the store already holds (another image's) is
 * shared, not extracted again.  On failure, servers cannot be made from
 * @name until a later call succeeds; trees stay.
 *
 * Returns: whether @name can boot servers
 */
gboolean
nlx_image_store_import_config (NlxImageStore *store,
                               const char *name,
                               const char *file,
                               gboolean drop_earlier,
                               gboolean *imported,
                               GError **error)
{
  g_autoptr(ConfigRecord) record = NULL;
  g_autoptr(NlxStoredImage) image = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *previous = NULL;
  NlxImageFileStamp stamp;
  ConfigCommit commit;
  struct stat st;
  gboolean ok = FALSE;
  int fd = -1;

  if (imported != NULL)
    *imported = FALSE;
  record = read_config_record (store, name, &local_error);
  if (record == NULL && local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (record == NULL)
    {
      record = g_new0 (ConfigRecord, 1);
      record->name = g_strdup (name);
      record->kept = g_ptr_array_new_with_free_func (g_free);
    }
  /* stat(), not open(): an unchanged tarball is not read at all. */
  if (record->path != NULL && g_str_equal (record->path, file) &&
      record->checksum != NULL && stat (file, &st) == 0 &&
      (nlx_image_file_stamp_from_stat (&stamp, &st), TRUE) &&
      nlx_image_file_stamp_equal (&stamp, &record->stamp) &&
      nlx_image_store_has_tree (store, record->checksum))
    {
      if (drop_earlier)
        drop_kept (store, record);
      return TRUE;
    }

  if (imported != NULL)
    *imported = TRUE;
  g_free (record->path);
  record->path = g_strdup (file);
  image = g_new0 (NlxStoredImage, 1);
  image->name = g_strdup (name);
  image->properties = nlx_image_store_new_properties ();
  fd = nlx_image_store_open_source (file, &stamp, error);
  if (fd < 0)
    goto out;
  if (!nlx_image_store_detect_format (fd, file, &image->format, error))
    goto out;
  if (nlx_stored_image_format_is_disk (image->format))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Image %s: %s is a disk image; an [image] section's path "
                     "must be a root directory or a root tarball (import a "
                     "disk image with nova-lxc image-import)"), name, file);
      goto out;
    }
  image->checksum = nlx_image_store_checksum_file (fd, file, error);
  if (image->checksum == NULL)
    goto out;
  image->size_bytes = stamp.size;
  record->stamp = stamp;
  previous = g_strdup (record->checksum);
  commit.record = record;
  commit.previous = previous;
  ok = nlx_image_store_put_content (store, fd, &stamp, file, image,
                                    record_config, &commit, error);
  if (ok && drop_earlier)
    drop_kept (store, record);

out:
  if (fd >= 0)
    close (fd);
  if (!ok)
    record_failure (store, record);
  return ok;
}

/**
 * nlx_image_store_list_configs:
 *
 * Returns: (transfer full) (element-type utf8): the names of the config
 *   images the store holds records of (an unreadable record is skipped:
 *   it is kept)
 */
GPtrArray *
nlx_image_store_list_configs (NlxImageStore *store)
{
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GDir) dir = g_dir_open (store->configs, 0, NULL);
  const char *file;

  while (dir != NULL && (file = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = NULL;
      g_autoptr(ConfigRecord) record = NULL;

      if (!g_str_has_suffix (file, ".json"))
        continue;
      path = g_build_filename (store->configs, file, NULL);
      record = read_config_record_file (path, NULL);
      if (record != NULL)
        g_ptr_array_add (names, g_steal_pointer (&record->name));
    }
  return names;
}

/**
 * nlx_image_store_forget_config:
 *
 * For an `[image NAME]` section gone from the configuration, once no
 * server made from it is left: removes its record, and its trees no other
 * record uses.
 */
void
nlx_image_store_forget_config (NlxImageStore *store,
                               const char *name)
{
  g_autoptr(ConfigRecord) record = read_config_record (store, name, NULL);
  g_autofree char *path = config_record_path (store, name);

  if (record == NULL)
    return;
  /* Its content becomes a kept one on disk too, so drop_kept() sees no
   * current user in the record itself. */
  record_failure (store, record);
  drop_kept (store, record);
  /* A tree it could not remove stays named by the record. */
  if (record->kept->len > 0)
    return;
  if (g_unlink (path) != 0 && errno != ENOENT)
    g_warning (_("Cannot remove config image record %s: %s"), path,
               g_strerror (errno));
  else
    g_message (_("Image %s is no longer configured: its record in the image "
                 "store is removed"), name);
}

/**
 * nlx_image_store_get_config_rootfs:
 * @store: the store
 * @name: the `[image NAME]` section's name
 * @file: its path, a root tarball
 * @changed: (out): set to whether @file changed since it was imported
 *   (its stamp differs; it is not opened): the content imported is
 *   still what servers boot, until the next import
 * @error: return location for a #NLX_DRIVER_ERROR_INVALID_ARGUMENT
 *
 * Returns: (transfer full): the tree config image @name boots from, which
 *   nothing may change, or %NULL when it was not imported
 */
char *
nlx_image_store_get_config_rootfs (NlxImageStore *store,
                                   const char *name,
                                   const char *file,
                                   gboolean *changed,
                                   GError **error)
{
  g_autoptr(ConfigRecord) record = read_config_record (store, name, NULL);
  NlxImageFileStamp stamp;
  struct stat st;

  *changed = FALSE;
  if (record == NULL || record->checksum == NULL ||
      g_strcmp0 (record->path, file) != 0 ||
      !nlx_image_store_has_tree (store, record->checksum))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Image %s: its root tarball %s was not imported when the "
                     "compute service started (its log says why); fix the "
                     "file and restart nova-lxc-compute"), name, file);
      return NULL;
    }
  if (stat (file, &st) != 0)
    *changed = TRUE;
  else
    {
      nlx_image_file_stamp_from_stat (&stamp, &st);
      *changed = !nlx_image_file_stamp_equal (&stamp, &record->stamp);
    }
  return g_build_filename (store->dir, record->checksum, ROOTFS_DIR, NULL);
}
