/* nlx-image-store.c: images imported once per host, trees stored by content
 *
 * The store is a directory.  A root tree lives in DIR/<sha256>/rootfs,
 * keyed by the SHA-256 of the file it was extracted from, so the same
 * bytes are extracted and stored once.  An image is a record,
 * DIR/records/<id>.json: its own id (a random UUID), name, properties and
 * the checksum of its tree.  Any number of images may share one tree: a
 * second snapshot of an unchanged server, or an import of bytes already
 * stored, is an image of its own with its own id and name, as in Nova and
 * Glance.  A tree goes when the last image using it is deleted.  Stores
 * written before records were separate kept DIR/<sha256>/image.json, an
 * image whose id was its checksum; opening the store moves such a record
 * to DIR/records, keeping its id, and the tree stays where it is (running
 * instances' overlays use it).
 *
 * An import extracts in DIR/.import-XXXXXX and renames it into place as
 * DIR/<sha256> when everything is there, so a tree appears whole or not
 * at all; any failure removes the directory.  Deleting renames the tree
 * to DIR/.delete-XXXXXX first, so it disappears whole too.  Whoever works
 * in such a dot-directory holds a flock(2) on it; one nobody holds is
 * what a crash left, and opening the store removes it.  Records and trees
 * change together under a flock on DIR itself, taken only for the final
 * checks, the rename and the record, so imports run side by side, in
 * threads or processes.  A record is written before its new tree is put
 * in place, and a tree taken out before its last record goes, so a crash
 * between the two leaves a record without a tree, which opening the store
 * removes; a tree without a record is only ever made by hand, and is
 * kept with a warning (an instance may run on it).
 *
 * No message a caller gets names a path inside the store: callers show
 * them to API clients.  Where a path matters to the operator, it is
 * logged.
 *
 * Tarballs named in nova-lxc.conf are stored the same way, tied to their
 * names by config records, DIR/config/ (nlx-image-config.c); a tree a
 * config record names counts as used here, as one an image record names.
 *
 * Importing (nlx-image-import.c) shares this file's records, lock and
 * names through nlx-image-store-private.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/nlx-error.h"
#include "common/nlx-file.h"
#include "common/nlx-json.h"
#include "storage/nlx-image-store-private.h"
#include "storage/nlx-image-store.h"

/* Where a store written before records were separate kept one. */
#define LEGACY_RECORD_FILE "image.json"
#define RECORDS_DIR "records"
#define RECORD_SUFFIX ".json"
#define DELETE_PREFIX ".delete-"

/* ---- formats, names, records ---------------------------------------------- */

static const char * const format_names[] = {
  [NLX_STORED_IMAGE_FORMAT_TAR] = "tar",
  [NLX_STORED_IMAGE_FORMAT_TAR_GZ] = "tar.gz",
  [NLX_STORED_IMAGE_FORMAT_TAR_XZ] = "tar.xz",
  [NLX_STORED_IMAGE_FORMAT_TAR_ZST] = "tar.zst",
  [NLX_STORED_IMAGE_FORMAT_RAW] = "raw",
  [NLX_STORED_IMAGE_FORMAT_QCOW2] = "qcow2",
};

/**
 * nlx_stored_image_format_to_string:
 * @format: a format
 *
 * Returns: (transfer none): its name: "tar", "tar.gz", "tar.xz",
 *   "tar.zst", "raw" or "qcow2"
 */
const char *
nlx_stored_image_format_to_string (NlxStoredImageFormat format)
{
  g_return_val_if_fail ((guint) format < G_N_ELEMENTS (format_names), NULL);
  return format_names[format];
}

/**
 * nlx_stored_image_format_from_string:
 * @text: a format's name, as nlx_stored_image_format_to_string() gives it
 * @format: (out): the format
 *
 * Returns: whether @text names a format
 */
gboolean
nlx_stored_image_format_from_string (const char *text,
                                     NlxStoredImageFormat *format)
{
  for (guint i = 0; i < G_N_ELEMENTS (format_names); i++)
    if (g_strcmp0 (text, format_names[i]) == 0)
      {
        *format = i;
        return TRUE;
      }
  return FALSE;
}

gboolean
nlx_stored_image_format_is_disk (NlxStoredImageFormat format)
{
  return format == NLX_STORED_IMAGE_FORMAT_RAW ||
         format == NLX_STORED_IMAGE_FORMAT_QCOW2;
}

/* Whether @text is an image id: a lowercase UUID, or a checksum (the id
 * of an image imported before records were separate from trees). */
static gboolean
is_id (const char *text)
{
  if (nlx_image_checksum_is_valid (text))
    return TRUE;
  if (text == NULL || !g_uuid_string_is_valid (text))
    return FALSE;
  for (const char *p = text; *p != '\0'; p++)
    if (g_ascii_isupper (*p))
      return FALSE;
  return TRUE;
}

void
nlx_stored_image_free (NlxStoredImage *image)
{
  if (image == NULL)
    return;
  g_free (image->id);
  g_free (image->name);
  g_free (image->checksum);
  g_clear_pointer (&image->created_at, g_date_time_unref);
  g_clear_pointer (&image->properties, g_hash_table_unref);
  g_free (image);
}

GHashTable *
nlx_image_store_new_properties (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

static JsonNode *
record_to_node (const NlxStoredImage *image)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autofree char *created_at = g_date_time_format_iso8601 (image->created_at);
  g_autoptr(GList) keys = g_hash_table_get_keys (image->properties);

  keys = g_list_sort (keys, (GCompareFunc) strcmp);
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "id");
  json_builder_add_string_value (builder, image->id);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, image->name);
  json_builder_set_member_name (builder, "checksum");
  json_builder_add_string_value (builder, image->checksum);
  json_builder_set_member_name (builder, "format");
  json_builder_add_string_value (builder,
                                 nlx_stored_image_format_to_string (image->format));
  json_builder_set_member_name (builder, "size_bytes");
  json_builder_add_int_value (builder, (gint64) image->size_bytes);
  json_builder_set_member_name (builder, "tree_size_bytes");
  json_builder_add_int_value (builder, (gint64) image->tree_size_bytes);
  json_builder_set_member_name (builder, "created_at");
  json_builder_add_string_value (builder, created_at);
  json_builder_set_member_name (builder, "properties");
  json_builder_begin_object (builder);
  for (GList *l = keys; l != NULL; l = l->next)
    {
      json_builder_set_member_name (builder, l->data);
      json_builder_add_string_value (builder,
                                     g_hash_table_lookup (image->properties,
                                                          l->data));
    }
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

static gboolean
get_size (JsonObject *object,
          const char *member,
          guint64 *size)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64 ||
      json_node_get_int (node) < 0)
    return FALSE;
  *size = (guint64) json_node_get_int (node);
  return TRUE;
}

char *
nlx_image_store_record_path (NlxImageStore *store,
                             const char *id)
{
  g_autofree char *file = g_strconcat (id, RECORD_SUFFIX, NULL);

  return g_build_filename (store->records, file, NULL);
}

static void
set_damaged (GError **error,
             const char *id,
             const char *path,
             const char *problem,
             gboolean quiet)
{
  if (!quiet)
    g_warning (_("Image record %s is damaged: %s"), path, problem);
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
               _("The record of image %s is damaged (%s); the compute "
                 "service's log names its file"), id, problem);
}

/* Reads DIR/records/@id.json; the record must be that of @id.  Unless
 * @quiet, a record that exists but cannot be read is logged with its
 * path, which @error never names. */
static NlxStoredImage *
read_record (NlxImageStore *store,
             const char *id,
             gboolean quiet,
             GError **error)
{
  g_autofree char *path = nlx_image_store_record_path (store, id);
  g_autoptr(NlxStoredImage) image = g_new0 (NlxStoredImage, 1);
  g_autoptr(GError) local_error = NULL;
  g_autofree char *problem = NULL;
  const char *member = NULL;
  g_autoptr(JsonNode) root = NULL;
  JsonObject *object;
  JsonNode *properties;

  if ((root = nlx_json_parse_file (path, &local_error)) == NULL)
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        nlx_image_store_set_not_found (error, id);
      else if (local_error->domain == G_FILE_ERROR)
        {
          if (!quiet)
            g_warning (_("Cannot read image record %s: %s"), path,
                       local_error->message);
          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                       _("Cannot read the record of image %s; the compute "
                         "service's log says why"), id);
        }
      else
        set_damaged (error, id, path, local_error->message, quiet);
      return NULL;
    }
  if (!JSON_NODE_HOLDS_OBJECT (root))
    {
      set_damaged (error, id, path, _("it is not a JSON object"), quiet);
      return NULL;
    }
  object = json_node_get_object (root);
  image->id = g_strdup (nlx_json_get_string (object, "id"));
  image->name = g_strdup (nlx_json_get_string (object, "name"));
  image->checksum = g_strdup (nlx_json_get_string (object, "checksum"));
  image->properties = nlx_image_store_new_properties ();
  properties = json_object_get_member (object, "properties");

  if (g_strcmp0 (image->id, id) != 0)
    member = "id";
  else if (!nlx_image_name_is_valid_for_record (image->name))
    member = "name";
  else if (!nlx_image_checksum_is_valid (image->checksum))
    member = "checksum";
  else if (!nlx_stored_image_format_from_string (nlx_json_get_string (object, "format"),
                                                 &image->format))
    member = "format";
  else if (!get_size (object, "size_bytes", &image->size_bytes))
    member = "size_bytes";
  else if (!get_size (object, "tree_size_bytes", &image->tree_size_bytes))
    member = "tree_size_bytes";
  else if (nlx_json_get_string (object, "created_at") == NULL ||
           (image->created_at = g_date_time_new_from_iso8601 (
              nlx_json_get_string (object, "created_at"), NULL)) == NULL)
    member = "created_at";
  else if (properties == NULL || !JSON_NODE_HOLDS_OBJECT (properties))
    member = "properties";
  else
    {
      JsonObject *props = json_node_get_object (properties);
      g_autoptr(GList) members = json_object_get_members (props);

      for (GList *l = members; l != NULL && member == NULL; l = l->next)
        {
          const char *value = nlx_json_get_string (props, l->data);

          if (value == NULL)
            member = "properties";
          else
            g_hash_table_replace (image->properties, g_strdup (l->data),
                                  g_strdup (value));
        }
    }
  if (member != NULL)
    {
      problem = g_strdup_printf (_("its member “%s” is missing or wrong"),
                                 member);
      set_damaged (error, id, path, problem, quiet);
      return NULL;
    }
  return g_steal_pointer (&image);
}

/* Writes @image's record, replacing it atomically and durably. */
gboolean
nlx_image_store_write_record (NlxImageStore *store,
                              const NlxStoredImage *image,
                              GError **error)
{
  g_autoptr(JsonNode) node = record_to_node (image);
  g_autofree char *data = json_to_string (node, TRUE);
  g_autofree char *path = nlx_image_store_record_path (store, image->id);
  g_autoptr(GError) local_error = NULL;

  if (!nlx_file_set_contents_full (path, data, -1,
                                   G_FILE_SET_CONTENTS_CONSISTENT |
                                   G_FILE_SET_CONTENTS_DURABLE,
                                   0644, &local_error))
    {
      g_warning (_("Cannot write image record %s: %s"), path,
                 local_error->message);
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot save the record of image “%s”; the compute "
                     "service's log says why"), image->name);
      return FALSE;
    }
  return TRUE;
}

/* ---- the store ------------------------------------------------------------ */

static gboolean
is_work_dir_name (const char *name)
{
  return g_str_has_prefix (name, IMPORT_PREFIX) ||
         g_str_has_prefix (name, DELETE_PREFIX);
}

/* Removes what a crashed import or delete left: a work directory nobody
 * holds a lock on. */
static void
remove_leftovers (const char *dir)
{
  g_autoptr(GDir) entries = g_dir_open (dir, 0, NULL);
  const char *name;

  if (entries == NULL)
    return;
  while ((name = g_dir_read_name (entries)) != NULL)
    {
      g_autofree char *path = NULL;
      g_autoptr(GError) error = NULL;
      int fd;

      if (!is_work_dir_name (name))
        continue;
      path = g_build_filename (dir, name, NULL);
      fd = open (path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0)
        continue;
      /* Held: an import or a delete is running right now. */
      if (flock (fd, LOCK_EX | LOCK_NB) == 0 &&
          !nlx_file_remove_tree (path, &error))
        g_warning (_("Cannot remove %s, left by an interrupted image import "
                     "or delete: %s"), path, error->message);
      close (fd);
    }
}

/* An exclusive flock on the store directory, released by close(). */
int
nlx_image_store_lock (NlxImageStore *store,
                      GError **error)
{
  int fd = open (store->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (fd < 0 || flock (fd, LOCK_EX) != 0)
    {
      int saved_errno = errno;

      if (fd >= 0)
        close (fd);
      g_warning (_("Cannot lock the image store %s: %s"), store->dir,
                 g_strerror (saved_errno));
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot lock the image store: %s"),
                   g_strerror (saved_errno));
      return -1;
    }
  return fd;
}

/* After a rename or an unlink that is done: a failure means a crash may
 * undo it, which the next open copes with, so it is only said. */
static void
sync_dir (const char *path)
{
  g_autoptr(GError) error = NULL;

  if (!nlx_file_sync_dir (path, &error))
    g_warning ("%s", error->message);
}

/* The id a file of DIR/records is the record of, or %NULL for anything
 * else (a temporary of an interrupted write among them). */
static char *
record_id (const char *file)
{
  g_autofree char *id = NULL;

  if (!g_str_has_suffix (file, RECORD_SUFFIX))
    return NULL;
  id = g_strndup (file, strlen (file) - strlen (RECORD_SUFFIX));
  return is_id (id) ? g_steal_pointer (&id) : NULL;
}

/* Moves the record of an image of the old layout, DIR/<sha256>/image.json,
 * to DIR/records/<sha256>.json: the image keeps its id, so the servers
 * booted from it still find it, and its tree stays where it is. */
static void
migrate_legacy (NlxImageStore *store,
                const char *checksum)
{
  g_autofree char *legacy = g_build_filename (store->dir, checksum,
                                              LEGACY_RECORD_FILE, NULL);
  g_autofree char *tree = g_build_filename (store->dir, checksum, NULL);
  g_autofree char *target = nlx_image_store_record_path (store, checksum);
  g_autofree char *data = NULL;
  gsize length;
  g_autoptr(GError) error = NULL;

  if (!g_file_test (legacy, G_FILE_TEST_IS_REGULAR))
    return;
  /* A crash after the copy and before the unlink leaves both. */
  if (!g_file_test (target, G_FILE_TEST_EXISTS) &&
      (!nlx_file_get_contents (legacy, &data, &length, &error) ||
       !nlx_file_set_contents_full (target, data, length,
                                    G_FILE_SET_CONTENTS_CONSISTENT |
                                    G_FILE_SET_CONTENTS_DURABLE, 0644, &error)))
    {
      g_warning (_("Cannot move image record %s to %s: %s"), legacy,
                 store->records, error->message);
      return;
    }
  if (g_unlink (legacy) != 0)
    g_warning (_("Cannot remove %s, now kept in %s: %s"), legacy,
               store->records, g_strerror (errno));
  sync_dir (tree);
  g_message (_("Image %s: its record is now kept apart from its tree"),
             checksum);
}

/* Takes the tree of @checksum out of the store, whole (a rename), into
 * *@trash, held by *@fd; the caller holds the store's lock.  A tree
 * already gone gives *@trash %NULL. */
gboolean
nlx_image_store_move_tree_out (NlxImageStore *store,
               const char *checksum,
               char **trash,
               int *fd,
               GError **error)
{
  g_autofree char *path = g_build_filename (store->dir, checksum, NULL);
  int rc = -1;

  *trash = NULL;
  /* The lock on the tree's directory travels with it: no one else
   * removes it as a leftover while this removes it. */
  *fd = open (path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (*fd >= 0 && flock (*fd, LOCK_EX) == 0)
    {
      do
        {
          g_free (*trash);
          *trash = g_strdup_printf ("%s/" DELETE_PREFIX "%08x%08x", store->dir,
                                    g_random_int (), g_random_int ());
        }
      while ((rc = renameat2 (AT_FDCWD, path, AT_FDCWD, *trash,
                              RENAME_NOREPLACE)) != 0 && errno == EEXIST);
    }
  if (*fd < 0 || rc != 0)
    {
      int saved_errno = errno;

      if (*fd >= 0)
        close (*fd);
      *fd = -1;
      g_clear_pointer (trash, g_free);
      if (saved_errno == ENOENT)
        return TRUE;
      g_warning (_("Cannot remove image tree %s: %s"), path,
                 g_strerror (saved_errno));
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot remove an image's files: %s"),
                   g_strerror (saved_errno));
      return FALSE;
    }
  sync_dir (store->dir);
  return TRUE;
}

/* Removes what move_tree_out() took out; needs no lock. */
gboolean
nlx_image_store_empty_trash (char *trash,
             int fd,
             GError **error)
{
  g_autoptr(GError) local_error = NULL;
  gboolean ok = TRUE;

  if (trash == NULL)
    return TRUE;
  if (!nlx_file_remove_tree (trash, &local_error))
    {
      g_warning (_("Cannot remove image tree %s: %s"), trash,
                 local_error->message);
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("The image's files are not all removed; the compute "
                     "service's log says which"));
      ok = FALSE;
    }
  close (fd);
  g_free (trash);
  return ok;
}

/* Whether the store holds the tree of @checksum. */
gboolean
nlx_image_store_has_tree (NlxImageStore *store,
                          const char *checksum)
{
  g_autofree char *rootfs = g_build_filename (store->dir, checksum, ROOTFS_DIR,
                                              NULL);
  struct stat st;

  return lstat (rootfs, &st) == 0 && S_ISDIR (st.st_mode);
}

/* The checksums of the trees records use (images' but @except_id's,
 * config images' but @except_config's), or %NULL when a record cannot
 * be read (it may use any of them). */
GHashTable *
nlx_image_store_used_trees (NlxImageStore *store,
                            const char *except_id,
                            const char *except_config)
{
  g_autoptr(GHashTable) used = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                      g_free, NULL);
  g_autoptr(GDir) dir = g_dir_open (store->records, 0, NULL);
  const char *file;

  if (dir == NULL)
    return NULL;
  while ((file = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *id = record_id (file);
      g_autoptr(NlxStoredImage) image = NULL;
      g_autoptr(GError) error = NULL;

      if (id == NULL || g_strcmp0 (id, except_id) == 0)
        continue;
      image = read_record (store, id, TRUE, &error);
      if (image == NULL)
        return NULL;
      g_hash_table_add (used, g_steal_pointer (&image->checksum));
    }
  if (!nlx_image_store_add_config_trees (store, used, except_config))
    return NULL;
  return g_steal_pointer (&used);
}

/* Under the store's lock: moves old records, removes temporaries of
 * interrupted record writes, and removes trees no record uses, which a
 * crash between a tree's rename and its record's write (or the reverse,
 * in a delete) leaves. */
static void
tidy (NlxImageStore *store)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) used = NULL;
  g_autoptr(GDir) dir = NULL;
  int lock = nlx_image_store_lock (store, &error);
  const char *name;

  if (lock < 0)
    return;
  dir = g_dir_open (store->dir, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    if (nlx_image_checksum_is_valid (name))
      migrate_legacy (store, name);
  g_clear_pointer (&dir, g_dir_close);

  dir = g_dir_open (store->records, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *stem = g_strndup (name, strcspn (name, "."));

      /* g_file_set_contents() writes ID.json.XXXXXX, then renames. */
      if (is_id (stem) && g_str_has_prefix (name + strlen (stem),
                                            RECORD_SUFFIX ".") &&
          g_str_has_suffix (name, RECORD_SUFFIX) == FALSE)
        {
          g_autofree char *path = g_build_filename (store->records, name,
                                                    NULL);

          if (g_unlink (path) != 0)
            g_warning (_("Cannot remove %s, left by an interrupted write: "
                         "%s"), path, g_strerror (errno));
        }
    }
  g_clear_pointer (&dir, g_dir_close);

  /* A record whose tree is missing is what a crash between the two left
   * (an import not finished, a delete not finished): nothing could boot
   * from it. */
  dir = g_dir_open (store->records, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *id = record_id (name);
      g_autoptr(NlxStoredImage) image = NULL;
      g_autofree char *path = NULL;

      if (id == NULL ||
          (image = read_record (store, id, TRUE, NULL)) == NULL ||
          nlx_image_store_has_tree (store, image->checksum))
        continue;
      path = nlx_image_store_record_path (store, id);
      g_message (_("Removing image %s (%s), whose tree is missing: an import "
                   "or delete was interrupted"), image->name, id);
      if (g_unlink (path) != 0)
        g_warning (_("Cannot remove %s: %s"), path, g_strerror (errno));
    }
  g_clear_pointer (&dir, g_dir_close);

  /* A tree no record uses is not removed: no crash leaves one, so it
   * was made or unrecorded by hand, and an instance may still run on it. */
  used = nlx_image_store_used_trees (store, NULL, NULL);
  dir = used != NULL ? g_dir_open (store->dir, 0, NULL) : NULL;
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *legacy = NULL;

      if (!nlx_image_checksum_is_valid (name) ||
          g_hash_table_contains (used, name))
        continue;
      legacy = g_build_filename (store->dir, name, LEGACY_RECORD_FILE, NULL);
      if (!g_file_test (legacy, G_FILE_TEST_EXISTS))
        g_warning (_("Image tree %s/%s is used by no image; it is kept, "
                     "remove it once no instance runs on it"), store->dir,
                   name);
    }
  close (lock);
}

/**
 * nlx_image_store_open:
 * @dir: the store's directory, e.g. state_path/images; created (0700) if
 *   missing
 * @error: return location for a #NLX_DRIVER_ERROR (FAILED)
 *
 * Opens the store at @dir, resolved to a path without symbolic links
 * (extraction refuses to write through any).  What an interrupted import
 * or delete left behind is removed, and records of the old layout are
 * moved (see the top of nlx-image-store.c).
 *
 * Returns: (transfer full): the store, or %NULL
 */
NlxImageStore *
nlx_image_store_open (const char *dir,
                      GError **error)
{
  g_autoptr(NlxImageStore) store = NULL;
  struct stat st;
  char *real;

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot create the image store %s: %s"), dir,
                   g_strerror (saved_errno));
      return NULL;
    }
  real = realpath (dir, NULL);
  if (real == NULL || stat (real, &st) != 0 || !S_ISDIR (st.st_mode))
    {
      int saved_errno = real == NULL ? errno : ENOTDIR;

      free (real);
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot open the image store %s: %s"), dir,
                   g_strerror (saved_errno));
      return NULL;
    }
  store = g_new0 (NlxImageStore, 1);
  /* realpath() memory belongs to libc's allocator, not GLib's. */
  store->dir = g_strdup (real);
  free (real);
  store->records = g_build_filename (store->dir, RECORDS_DIR, NULL);
  if (g_mkdir (store->records, 0700) != 0 && errno != EEXIST)
    {
      int saved_errno = errno;

      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot create the image store's records %s: %s"),
                   store->records, g_strerror (saved_errno));
      return NULL;
    }
  /* Made by the first config image's record. */
  store->configs = g_build_filename (store->dir, CONFIG_DIR, NULL);
  remove_leftovers (store->dir);
  tidy (store);
  return g_steal_pointer (&store);
}

void
nlx_image_store_free (NlxImageStore *store)
{
  if (store == NULL)
    return;
  g_free (store->dir);
  g_free (store->records);
  g_free (store->configs);
  g_free (store);
}

/**
 * nlx_image_store_get_dir:
 * @store: the store
 *
 * Returns: (transfer none): the store's directory, without symbolic links
 */
const char *
nlx_image_store_get_dir (NlxImageStore *store)
{
  return store->dir;
}

/**
 * nlx_image_store_get_rootfs:
 * @store: the store
 * @image: an image of @store
 *
 * Returns: (transfer full): the directory holding @image's root tree,
 *   which nothing may change: instances, and images of the same content,
 *   share it
 */
char *
nlx_image_store_get_rootfs (NlxImageStore *store,
                            const NlxStoredImage *image)
{
  return g_build_filename (store->dir, image->checksum, ROOTFS_DIR, NULL);
}

static int
compare_by_name (gconstpointer a,
                 gconstpointer b)
{
  const NlxStoredImage *ia = *(NlxStoredImage * const *) a;
  const NlxStoredImage *ib = *(NlxStoredImage * const *) b;
  int by_name = strcmp (ia->name, ib->name);

  return by_name != 0 ? by_name : strcmp (ia->id, ib->id);
}

/**
 * nlx_image_store_list:
 * @store: the store
 * @error: return location for a #NLX_DRIVER_ERROR (FAILED)
 *
 * A record that cannot be read is skipped with a warning naming it, so
 * one damaged image neither hides the others nor is lost.
 *
 * Returns: (transfer full) (element-type NlxStoredImage): the images,
 *   sorted by name, or %NULL
 */
GPtrArray *
nlx_image_store_list (NlxImageStore *store,
                      GError **error)
{
  g_autoptr(GPtrArray) images = g_ptr_array_new_with_free_func (
    (GDestroyNotify) nlx_stored_image_free);
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GDir) dir = g_dir_open (store->records, 0, &local_error);
  const char *file;

  if (dir == NULL)
    {
      g_warning (_("Cannot list the image store: %s"), local_error->message);
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot list the image store; the compute service's "
                     "log says why"));
      return NULL;
    }
  while ((file = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *id = record_id (file);
      NlxStoredImage *image;

      if (id == NULL)
        continue;
      /* read_record() logs why, naming the file. */
      image = read_record (store, id, FALSE, NULL);
      if (image == NULL)
        continue;
      g_ptr_array_add (images, image);
    }
  g_ptr_array_sort (images, compare_by_name);
  return g_steal_pointer (&images);
}

/* The image named @name, or %NULL with no error if there is none. */
NlxStoredImage *
nlx_image_store_find_by_name (NlxImageStore *store,
                              const char *name,
                              GError **error)
{
  g_autoptr(GPtrArray) images = nlx_image_store_list (store, error);

  if (images == NULL)
    return NULL;
  for (guint i = 0; i < images->len; i++)
    {
      NlxStoredImage *image = images->pdata[i];

      if (g_str_equal (image->name, name))
        return g_ptr_array_steal_index (images, i);
    }
  return NULL;
}

/**
 * nlx_image_store_set_not_found:
 *
 * Sets the error of a lookup of @id_or_name that found nothing, also for
 * callers that hide an image (another project's): both read the same.
 */
void
nlx_image_store_set_not_found (GError **error,
                               const char *id_or_name)
{
  if (is_id (id_or_name))
    g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_NOT_FOUND,
                 _("No image with id %s; nova-lxc image-list shows the "
                   "images"), id_or_name);
  else
    g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_NOT_FOUND,
                 _("No image named “%s”; nova-lxc image-list shows the "
                   "images"), id_or_name);
}

/**
 * nlx_image_store_lookup:
 * @store: the store
 * @id_or_name: an image's id or its name
 * @error: return location for a #NLX_DRIVER_ERROR: NOT_FOUND,
 *   INVALID_ARGUMENT when @id_or_name can be neither, FAILED
 *
 * Returns: (transfer full): the image's record, or %NULL
 */
NlxStoredImage *
nlx_image_store_lookup (NlxImageStore *store,
                        const char *id_or_name,
                        GError **error)
{
  g_autoptr(GError) local_error = NULL;
  NlxStoredImage *image;

  if (is_id (id_or_name))
    return read_record (store, id_or_name, FALSE, error);
  if (!nlx_image_name_is_valid_for_record (id_or_name))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("“%s” is neither an image id nor an image name; "
                     "nova-lxc image-list shows the images"),
                   id_or_name != NULL ? id_or_name : "");
      return NULL;
    }
  image = nlx_image_store_find_by_name (store, id_or_name, &local_error);
  if (image == NULL && local_error == NULL)
    nlx_image_store_set_not_found (error, id_or_name);
  else if (image == NULL)
    g_propagate_error (error, g_steal_pointer (&local_error));
  return image;
}

/**
 * nlx_image_store_delete:
 * @store: the store
 * @id_or_name: an image's id or its name
 * @error: return location for a #NLX_DRIVER_ERROR: NOT_FOUND,
 *   INVALID_ARGUMENT, FAILED
 *
 * Removes the image's record and, when no other image shares it, its
 * tree: it leaves the store at once and whole (a rename), then its files
 * are removed without following symbolic links or crossing into mounted
 * filesystems.  Whether an instance still uses the image is the caller's
 * check.
 *
 * Returns: %TRUE if the image is gone
 */
gboolean
nlx_image_store_delete (NlxImageStore *store,
                        const char *id_or_name,
                        GError **error)
{
  g_autoptr(NlxStoredImage) image = nlx_image_store_lookup (store, id_or_name,
                                                            error);
  g_autofree char *path = NULL;
  g_autoptr(GHashTable) used = NULL;
  char *trash = NULL;
  gboolean ok = TRUE;
  int fd = -1;
  int lock;

  if (image == NULL)
    return FALSE;
  path = nlx_image_store_record_path (store, image->id);
  lock = nlx_image_store_lock (store, error);
  if (lock < 0)
    return FALSE;
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      close (lock);
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_NOT_FOUND,
                   _("No image “%s”; it was deleted meanwhile"), id_or_name);
      return FALSE;
    }
  /* The last image of its content takes the tree with it, out of the
   * store before the record goes: a crash between the two leaves a
   * record without a tree, which the next open removes.  When another
   * record cannot be read, it may use the tree: keep it. */
  used = nlx_image_store_used_trees (store, image->id, NULL);
  if (used == NULL)
    g_warning (_("Image %s is deleted; its tree %s is kept, since an image "
                 "record that cannot be read may use it"), image->id,
               image->checksum);
  else if (!g_hash_table_contains (used, image->checksum) &&
           !nlx_image_store_move_tree_out (store, image->checksum, &trash, &fd, error))
    {
      close (lock);
      return FALSE;
    }
  if (g_unlink (path) != 0)
    {
      int saved_errno = errno;

      /* Back in place, if it was taken out: the image stays whole. */
      if (trash != NULL)
        {
          g_autofree char *tree = g_build_filename (store->dir,
                                                    image->checksum, NULL);

          if (rename (trash, tree) == 0)
            {
              close (fd);
              g_clear_pointer (&trash, g_free);
            }
        }
      close (lock);
      g_warning (_("Cannot remove image record %s: %s"), path,
                 g_strerror (saved_errno));
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot delete image “%s”: %s"), image->name,
                   g_strerror (saved_errno));
      /* A tree that could not be put back is gone with the record at the
       * next open. */
      if (trash != NULL)
        nlx_image_store_empty_trash (trash, fd, NULL);
      return FALSE;
    }
  sync_dir (store->records);
  close (lock);
  /* Outside the lock: a big tree takes a while, and imports wait. */
  ok = nlx_image_store_empty_trash (trash, fd, error);
  if (!ok)
    g_prefix_error (error, _("Image “%s” is deleted, but: "), image->name);
  return ok;
}
