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
 * What an image is comes from its content, never from its file name.  A
 * root tarball (plain, gzip, xz or zstd) is extracted with libarchive's
 * secure flags (nlx-archive.c).  A raw or qcow2 disk image is read only by
 * libguestfs's appliance (nlx-guestfs.c): it finds the Linux root by
 * inspection, mounts it and the other filesystems inspection reports
 * read-only inside its own VM, and streams the tree out as a tar, which
 * is then extracted like any root tarball.  The host's kernel never mounts
 * an untrusted disk image.
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
 * logged. */
#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <fts.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/nlx-archive.h"
#include "host/nlx-blkid.h"
#include "common/nlx-error.h"
#include "common/nlx-file.h"
#include "host/nlx-guestfs.h"
#include "storage/nlx-image-store.h"
#include "common/nlx-json.h"

#define CHECKSUM_LENGTH 64
/* Where a store written before records were separate kept one. */
#define LEGACY_RECORD_FILE "image.json"
#define RECORDS_DIR "records"
#define RECORD_SUFFIX ".json"
/* Long enough for a path such as os_init_path. */
#define NLX_IMAGE_PROPERTY_MAX 4096
#define ROOTFS_DIR "rootfs"
#define IMPORT_PREFIX ".import-"
#define DELETE_PREFIX ".delete-"
#define READ_CHUNK (1024 * 1024)
/* Enough of a file's start to tell a qcow2 header or a compressor. */
#define HEAD_SIZE 512

#define QCOW2_MAGIC "QFI\xfb"
/* qcow2 version 3 incompatible feature: the data lives in another file. */
#define QCOW2_INCOMPAT_DATA_FILE (G_GUINT64_CONSTANT (1) << 2)

struct _NlxImageStore {
  char *dir;
  char *records; /* DIR/records */
};

typedef struct archive NlxArchive;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NlxArchive, archive_free)

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

static gboolean
is_disk_format (NlxStoredImageFormat format)
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

static GHashTable *
new_properties (void)
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

static char *
record_path (NlxImageStore *store,
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
  g_autofree char *path = record_path (store, id);
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
        g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_NOT_FOUND,
                     _("No image with id %s; nova-lxc image-list shows the "
                       "images"), id);
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
  image->properties = new_properties ();
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
static gboolean
write_record (NlxImageStore *store,
              const NlxStoredImage *image,
              GError **error)
{
  g_autoptr(JsonNode) node = record_to_node (image);
  g_autofree char *data = json_to_string (node, TRUE);
  g_autofree char *path = record_path (store, image->id);
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
static int
lock_store (NlxImageStore *store,
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
  g_autofree char *target = record_path (store, checksum);
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
static gboolean
move_tree_out (NlxImageStore *store,
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
static gboolean
empty_trash (char *trash,
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
static gboolean
has_tree (NlxImageStore *store,
          const char *checksum)
{
  g_autofree char *rootfs = g_build_filename (store->dir, checksum, ROOTFS_DIR,
                                              NULL);
  struct stat st;

  return lstat (rootfs, &st) == 0 && S_ISDIR (st.st_mode);
}

/* The checksums of the trees records use, or %NULL when a record cannot
 * be read (it may use any of them). */
static GHashTable *
used_trees (NlxImageStore *store,
            const char *except_id)
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
  int lock = lock_store (store, &error);
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
          has_tree (store, image->checksum))
        continue;
      path = record_path (store, id);
      g_message (_("Removing image %s (%s), whose tree is missing: an import "
                   "or delete was interrupted"), image->name, id);
      if (g_unlink (path) != 0)
        g_warning (_("Cannot remove %s: %s"), path, g_strerror (errno));
    }
  g_clear_pointer (&dir, g_dir_close);

  /* A tree no record uses is not removed: no crash leaves one, so it
   * was made or unrecorded by hand, and an instance may still run on it. */
  used = used_trees (store, NULL);
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
static NlxStoredImage *
find_by_name (NlxImageStore *store,
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
  image = find_by_name (store, id_or_name, &local_error);
  if (image == NULL && local_error == NULL)
    g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_NOT_FOUND,
                 _("No image named “%s”; nova-lxc image-list shows the "
                   "images"), id_or_name);
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
  path = record_path (store, image->id);
  lock = lock_store (store, error);
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
  used = used_trees (store, image->id);
  if (used == NULL)
    g_warning (_("Image %s is deleted; its tree %s is kept, since an image "
                 "record that cannot be read may use it"), image->id,
               image->checksum);
  else if (!g_hash_table_contains (used, image->checksum) &&
           !move_tree_out (store, image->checksum, &trash, &fd, error))
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
        empty_trash (trash, fd, NULL);
      return FALSE;
    }
  sync_dir (store->records);
  close (lock);
  /* Outside the lock: a big tree takes a while, and imports wait. */
  ok = empty_trash (trash, fd, error);
  if (!ok)
    g_prefix_error (error, _("Image “%s” is deleted, but: "), image->name);
  return ok;
}

/* ---- import: the source file ---------------------------------------------- */

/* What identifies a file's content without reading it: if none of this
 * changed, nothing wrote to it. */
typedef struct {
  dev_t dev;
  ino_t ino;
  off_t size;
  struct timespec mtime;
  struct timespec ctime;
} FileStamp;

static void
stamp_from_stat (FileStamp *stamp,
                 const struct stat *st)
{
  stamp->dev = st->st_dev;
  stamp->ino = st->st_ino;
  stamp->size = st->st_size;
  stamp->mtime = st->st_mtim;
  stamp->ctime = st->st_ctim;
}

static gboolean
stamps_equal (const FileStamp *a,
              const FileStamp *b)
{
  return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
         a->mtime.tv_sec == b->mtime.tv_sec &&
         a->mtime.tv_nsec == b->mtime.tv_nsec &&
         a->ctime.tv_sec == b->ctime.tv_sec &&
         a->ctime.tv_nsec == b->ctime.tv_nsec;
}

static int
open_source (const char *file,
             FileStamp *stamp,
             GError **error)
{
  struct stat st;
  int fd;

  /* O_NONBLOCK: opening a FIFO must not hang; it is refused below. */
  fd = open (file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, NLX_DRIVER_ERROR,
                   saved_errno == ENOENT || saved_errno == EACCES ||
                   saved_errno == ENOTDIR
                     ? NLX_DRIVER_ERROR_INVALID_ARGUMENT
                     : NLX_DRIVER_ERROR_FAILED,
                   _("Cannot open image file %s: %s"), file,
                   g_strerror (saved_errno));
      return -1;
    }
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      close (fd);
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Cannot import %s: it is not a regular file; give a root "
                     "tarball or a disk image file"), file);
      return -1;
    }
  stamp_from_stat (stamp, &st);
  return fd;
}

static gssize
read_at (int fd,
         void *buf,
         gsize len,
         goffset offset)
{
  gsize done = 0;

  while (done < len)
    {
      gssize n = pread (fd, (char *) buf + done, len - done, offset + done);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return -1;
      if (n == 0)
        break;
      done += n;
    }
  return done;
}

/* The SHA-256 of everything @fd holds, in hexadecimal. */
static char *
checksum_file (int fd,
               const char *file,
               GError **error)
{
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree guchar *buf = g_malloc (READ_CHUNK);
  goffset offset = 0;
  gssize n;

  while ((n = read_at (fd, buf, READ_CHUNK, offset)) > 0)
    {
      g_checksum_update (checksum, buf, n);
      offset += n;
    }
  if (n < 0)
    {
      int saved_errno = errno;

      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot read image file %s: %s"), file,
                   g_strerror (saved_errno));
      return NULL;
    }
  return g_strdup (g_checksum_get_string (checksum));
}

/* ---- import: what the file is --------------------------------------------- */

static guint32
be32 (const guchar *p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) |
         ((guint32) p[2] << 8) | (guint32) p[3];
}

static guint64
be64 (const guchar *p)
{
  return ((guint64) be32 (p) << 32) | be32 (p + 4);
}

/* qemu would open whatever file a qcow2 image names as its backing or
 * data file: a host file could end up in the image.  Only self-contained,
 * unencrypted images are taken. */
static gboolean
check_qcow2 (const guchar *head,
             gsize len,
             const char *file,
             GError **error)
{
  guint32 version = len >= 8 ? be32 (head + 4) : 0;

  if (len < 72 || (version != 2 && version != 3) ||
      (version == 3 && len < 104))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Cannot import %s: it starts like a qcow2 image but its "
                     "header is truncated or of an unknown version; check it "
                     "with qemu-img check"), file);
      return FALSE;
    }
  if (be64 (head + 8) != 0)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Cannot import qcow2 image %s: it has a backing file; "
                     "make a self-contained copy with qemu-img convert -O "
                     "qcow2 and import that"), file);
      return FALSE;
    }
  if (version == 3 && (be64 (head + 72) & QCOW2_INCOMPAT_DATA_FILE))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Cannot import qcow2 image %s: its data lives in an "
                     "external data file; make a self-contained copy with "
                     "qemu-img convert -O qcow2 and import that"), file);
      return FALSE;
    }
  if (be32 (head + 32) != 0)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Cannot import qcow2 image %s: it is encrypted; decrypt "
                     "it with qemu-img convert and import the result"), file);
      return FALSE;
    }
  return TRUE;
}

/* The compressor whose magic @head starts with, if nova-lxc reads it. */
static const char *
compressor_name (const guchar *head,
                 gsize len)
{
  if (len >= 2 && head[0] == 0x1f && head[1] == 0x8b)
    return "gzip";
  if (len >= 6 && memcmp (head, "\xfd" "7zXZ\0", 6) == 0)
    return "xz";
  if (len >= 4 && memcmp (head, "\x28\xb5\x2f\xfd", 4) == 0)
    return "zstd";
  return NULL;
}

typedef enum {
  TAR_NO,
  TAR_YES,
  /* A tar archive without a single member. */
  TAR_EMPTY,
} TarProbe;

/* Whether @fd holds a tar archive with at least one member libarchive
 * can read, plain or compressed with one of gzip, xz and zstd.  Disk
 * images often start with a block of zeros, which libarchive reads as
 * the end of an empty archive: that is not a tarball. */
static TarProbe
probe_tarball (int fd,
               NlxStoredImageFormat *format,
               char **problem)
{
  g_autoptr(NlxArchive) a = archive_read_new ();
  struct archive_entry *entry;
  int rc;

  archive_read_support_filter_gzip (a);
  archive_read_support_filter_xz (a);
  archive_read_support_filter_zstd (a);
  archive_read_support_format_tar (a);
  if (lseek (fd, 0, SEEK_SET) != 0 ||
      archive_read_open_fd (a, fd, 64 * 1024) != ARCHIVE_OK)
    {
      *problem = g_strdup (archive_error_string (a));
      return TAR_NO;
    }
  rc = archive_read_next_header (a, &entry);
  if (rc == ARCHIVE_EOF)
    return TAR_EMPTY;
  if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
    {
      *problem = g_strdup (archive_error_string (a));
      return TAR_NO;
    }
  /* Filters are numbered from the format's side; the last reads the
   * file itself. */
  if (archive_filter_count (a) > 2)
    {
      *problem = g_strdup (_("it is compressed more than once"));
      return TAR_NO;
    }
  switch (archive_filter_code (a, 0))
    {
    case ARCHIVE_FILTER_NONE:
      *format = NLX_STORED_IMAGE_FORMAT_TAR;
      break;
    case ARCHIVE_FILTER_GZIP:
      *format = NLX_STORED_IMAGE_FORMAT_TAR_GZ;
      break;
    case ARCHIVE_FILTER_XZ:
      *format = NLX_STORED_IMAGE_FORMAT_TAR_XZ;
      break;
    case ARCHIVE_FILTER_ZSTD:
      *format = NLX_STORED_IMAGE_FORMAT_TAR_ZST;
      break;
    default:
      *problem = g_strdup (archive_filter_name (a, 0));
      return TAR_NO;
    }
  return TAR_YES;
}

/* Whether libblkid finds a partition table or a filesystem on @fd, by
 * reading signatures: nothing is mounted. */
static gboolean
has_disk_signature (int fd,
                    const char *file,
                    gboolean *found,
                    GError **error)
{
  g_autoptr(GError) local_error = NULL;
  NlxBlkidFound what;

  if (!nlx_blkid_probe (fd, &what, NULL, NULL, &local_error))
    {
      if (g_error_matches (local_error, NLX_BLKID_ERROR, NLX_BLKID_ERROR_OPEN))
        g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                     _("Cannot read image file %s to identify it"), file);
      else
        g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                     _("Cannot read image file %s to identify it (libblkid "
                       "failed)"), file);
      return FALSE;
    }
  /* Several signatures: the appliance's inspection sorts them out. */
  *found = what != NLX_BLKID_FOUND_NOTHING;
  return TRUE;
}

static gboolean
detect_format (int fd,
               const char *file,
               NlxStoredImageFormat *format,
               GError **error)
{
  guchar head[HEAD_SIZE];
  g_autofree char *problem = NULL;
  const char *compressor;
  gboolean disk = FALSE;
  gssize len = read_at (fd, head, sizeof head, 0);
  TarProbe tar;

  if (len < 0)
    {
      int saved_errno = errno;

      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot read image file %s: %s"), file,
                   g_strerror (saved_errno));
      return FALSE;
    }
  if (len == 0)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Cannot import %s: the file is empty"), file);
      return FALSE;
    }
  if (len >= 4 && memcmp (head, QCOW2_MAGIC, 4) == 0)
    {
      if (!check_qcow2 (head, len, file, error))
        return FALSE;
      *format = NLX_STORED_IMAGE_FORMAT_QCOW2;
      return TRUE;
    }

  tar = probe_tarball (fd, format, &problem);
  if (tar == TAR_YES)
    return TRUE;
  compressor = compressor_name (head, len);
  if (compressor != NULL)
    {
      if (tar == TAR_EMPTY)
        g_set_error (error, NLX_DRIVER_ERROR,
                     NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                     _("Cannot import %s: it is an empty tar archive "
                       "(compressed with %s); a root tarball holds a root "
                       "filesystem"), file, compressor);
      else
        g_set_error (error, NLX_DRIVER_ERROR,
                     NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                     _("Cannot import %s: it is compressed with %s but does "
                       "not hold a tar archive nova-lxc can read (%s); make "
                       "a root tarball with tar and import that"), file,
                     compressor, problem != NULL ? problem : _("unknown"));
      return FALSE;
    }

  if (!has_disk_signature (fd, file, &disk, error))
    return FALSE;
  if (disk)
    {
      *format = NLX_STORED_IMAGE_FORMAT_RAW;
      return TRUE;
    }
  if (tar == TAR_EMPTY)
    g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                 _("Cannot import %s: it is an empty tar archive, or a disk "
                   "image holding nothing but zeros; give a root tarball or "
                   "a disk image with a Linux root filesystem"), file);
  else
    g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                 _("Cannot import %s: it is neither a root tarball (tar, "
                   "plain or compressed with gzip, xz or zstd) nor a disk "
                   "image (qcow2, or raw with a partition table or a "
                   "filesystem nova-lxc recognises)"), file);
  return FALSE;
}

/* ---- import: disk images, through libguestfs ------------------------------ */

/* Writes the Linux root tree of disk image @file to the tar @tar_path,
 * in the nova-lxc-guestfs helper (nlx-guestfs.c says why). */
static gboolean
copy_out_disk (const char *file,
               NlxStoredImageFormat format,
               const char *tar_path,
               GError **error)
{
  return nlx_guestfs_copy_out (file,
                               nlx_stored_image_format_to_string (format),
                               tar_path, error);
}

/* ---- import: the work directory ------------------------------------------- */

/* DIR/.import-XXXXXX, locked, removed on free unless it was committed. */
typedef struct {
  char *path;
  int fd;
} WorkDir;

static void
work_dir_free (WorkDir *work)
{
  g_autoptr(GError) error = NULL;

  if (work == NULL)
    return;
  if (work->path != NULL && !nlx_file_remove_tree (work->path, &error))
    g_warning (_("Cannot remove an interrupted image import: %s"),
               error->message);
  if (work->fd >= 0)
    close (work->fd);
  g_free (work->path);
  g_free (work);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (WorkDir, work_dir_free)

static WorkDir *
work_dir_new (NlxImageStore *store,
              GError **error)
{
  g_autoptr(WorkDir) work = g_new0 (WorkDir, 1);
  struct stat st;
  int saved_errno;

  work->fd = -1;
  /* Another open of the store may take a fresh, unlocked directory for a
   * leftover and remove it before it is locked; then make another. */
  for (guint attempt = 0; attempt < 8; attempt++)
    {
      g_clear_pointer (&work->path, g_free);
      if (work->fd >= 0)
        close (work->fd);
      work->path = g_build_filename (store->dir, IMPORT_PREFIX "XXXXXX", NULL);
      if (g_mkdtemp_full (work->path, 0700) == NULL)
        break;
      work->fd = open (work->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                                   O_CLOEXEC);
      if (work->fd < 0 || flock (work->fd, LOCK_EX) != 0 ||
          fstat (work->fd, &st) != 0)
        break;
      if (st.st_nlink > 0)
        return g_steal_pointer (&work);
      errno = EAGAIN;
    }
  saved_errno = errno;
  g_warning (_("Cannot make a directory in the image store %s: %s"),
             store->dir, g_strerror (saved_errno));
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
               _("Cannot make a directory in the image store: %s"),
               g_strerror (saved_errno));
  return NULL;
}

static gboolean
make_dir (const char *path,
          mode_t mode,
          GError **error)
{
  /* chmod(): mkdir() would let the umask take bits away. */
  if (g_mkdir (path, mode) != 0 || g_chmod (path, mode) != 0)
    {
      int saved_errno = errno;

      g_warning (_("Cannot make directory %s: %s"), path,
                 g_strerror (saved_errno));
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot make a directory in the image store: %s"),
                   g_strerror (saved_errno));
      return FALSE;
    }
  return TRUE;
}

typedef struct {
  dev_t dev;
  ino_t ino;
} InodeKey;

static guint
inode_hash (gconstpointer key)
{
  const InodeKey *k = key;

  return (guint) (k->ino ^ (k->ino >> 32)) ^ (guint) k->dev;
}

static gboolean
inode_equal (gconstpointer a,
             gconstpointer b)
{
  const InodeKey *ka = a;
  const InodeKey *kb = b;

  return ka->dev == kb->dev && ka->ino == kb->ino;
}

/* The apparent size of the files and symbolic links under @root, a file
 * with several hard links counted once. */
static gboolean
tree_size (const char *root,
           guint64 *size,
           GError **error)
{
  char *paths[] = { (char *) root, NULL };
  g_autoptr(GHashTable) seen = g_hash_table_new_full (inode_hash, inode_equal,
                                                      g_free, NULL);
  FTS *fts = fts_open (paths, FTS_PHYSICAL | FTS_XDEV | FTS_NOCHDIR, NULL);
  FTSENT *entry;
  int saved_errno = fts == NULL ? errno : 0;

  *size = 0;
  while (saved_errno == 0)
    {
      errno = 0;
      entry = fts_read (fts);
      if (entry == NULL)
        {
          /* The end of the walk, or an error. */
          saved_errno = errno;
          break;
        }
      switch (entry->fts_info)
        {
        case FTS_F:
          if (entry->fts_statp->st_nlink > 1)
            {
              InodeKey *key = g_new (InodeKey, 1);

              key->dev = entry->fts_statp->st_dev;
              key->ino = entry->fts_statp->st_ino;
              if (!g_hash_table_add (seen, key))
                break;
            }
          *size += entry->fts_statp->st_size;
          break;
        case FTS_SL:
        case FTS_SLNONE:
          *size += entry->fts_statp->st_size;
          break;
        case FTS_DNR:
        case FTS_ERR:
        case FTS_NS:
          saved_errno = entry->fts_errno;
          break;
        default:
          break;
        }
    }
  if (fts != NULL)
    fts_close (fts);
  if (saved_errno != 0)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot measure the extracted tree %s: %s"), root,
                   g_strerror (saved_errno));
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_properties (GHashTable *properties,
                  GError **error)
{
  GHashTableIter iter;
  gpointer key;
  gpointer value;

  if (properties == NULL)
    return TRUE;
  g_hash_table_iter_init (&iter, properties);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (!nlx_json_text_is_valid (key, NLX_IMAGE_PROPERTY_MAX) ||
        !nlx_json_text_is_valid (value, NLX_IMAGE_PROPERTY_MAX))
      {
        g_set_error (error, NLX_DRIVER_ERROR,
                     NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                     _("Image properties must have names and values of 1 "
                       "to %d characters of UTF-8 text without control "
                       "characters"), NLX_IMAGE_PROPERTY_MAX);
        return FALSE;
      }
  return TRUE;
}

static void
set_name_taken (GError **error,
                const NlxStoredImage *existing)
{
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_EXISTS,
               _("An image named “%s” already exists (id %s); choose another "
                 "name, or delete that image first"), existing->name,
               existing->id);
}

/* Refuses @name if an image of the store has it. */
static gboolean
check_name_free (NlxImageStore *store,
                 const char *name,
                 GError **error)
{
  g_autoptr(NlxStoredImage) existing = NULL;
  g_autoptr(GError) local_error = NULL;

  existing = find_by_name (store, name, &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (existing != NULL)
    {
      set_name_taken (error, existing);
      return FALSE;
    }
  return TRUE;
}

/* The size of the stored tree of @image->checksum: another image's record
 * of it says, or the tree is measured. */
static gboolean
shared_tree_size (NlxImageStore *store,
                  NlxStoredImage *image,
                  GError **error)
{
  g_autoptr(GPtrArray) images = nlx_image_store_list (store, NULL);
  g_autofree char *rootfs = NULL;

  for (guint i = 0; images != NULL && i < images->len; i++)
    {
      const NlxStoredImage *other = images->pdata[i];

      if (g_str_equal (other->checksum, image->checksum))
        {
          image->tree_size_bytes = other->tree_size_bytes;
          return TRUE;
        }
    }
  rootfs = nlx_image_store_get_rootfs (store, image);
  return tree_size (rootfs, &image->tree_size_bytes, error);
}

typedef enum {
  COMMIT_DONE,
  COMMIT_FAILED,
  COMMIT_NEEDS_TREE, /* the tree it meant to share was deleted meanwhile */
} CommitResult;

/* Records @image, its name still free, with its tree: the one the store
 * holds, or else @work's, renamed into place as DIR/<checksum>.  The
 * record is written before a new tree is put in place: a crash between
 * the two leaves a record without a tree, which opening the store removes
 * (nothing could use it), never a tree that only looks unused. */
static CommitResult
commit (NlxImageStore *store,
        WorkDir *work,
        NlxStoredImage *image,
        GError **error)
{
  g_autofree char *target = g_build_filename (store->dir, image->checksum,
                                              NULL);
  int lock = lock_store (store, error);
  CommitResult result = COMMIT_DONE;

  if (lock < 0)
    return COMMIT_FAILED;
  if (!check_name_free (store, image->name, error))
    result = COMMIT_FAILED;
  else if (has_tree (store, image->checksum))
    {
      /* Extracted for nothing when another import of the same content
       * came first: @work goes when it is freed. */
      if ((work == NULL && !shared_tree_size (store, image, error)) ||
          !write_record (store, image, error))
        result = COMMIT_FAILED;
    }
  else if (work == NULL)
    result = COMMIT_NEEDS_TREE;
  else if (!write_record (store, image, error))
    result = COMMIT_FAILED;
  else if (rename (work->path, target) != 0)
    {
      int saved_errno = errno;
      g_autofree char *record = record_path (store, image->id);

      g_unlink (record);
      g_warning (_("Cannot put image tree %s in place as %s: %s"), work->path,
                 target, g_strerror (saved_errno));
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot put image “%s” in place: %s"), image->name,
                   g_strerror (saved_errno));
      result = COMMIT_FAILED;
    }
  else
    {
      g_clear_pointer (&work->path, g_free);
      /* The rename itself must outlive a crash. */
      if (fsync (lock) != 0)
        g_debug ("Cannot sync image store %s: %s", store->dir,
                 g_strerror (errno));
    }
  close (lock);
  return result;
}

/* Extracts @file into a new work directory, as it was checksummed. */
static WorkDir *
extract (NlxImageStore *store,
         int fd,
         const FileStamp *stamp,
         const char *file,
         NlxStoredImage *image,
         GError **error)
{
  g_autoptr(WorkDir) work = work_dir_new (store, error);
  g_autofree char *rootfs = NULL;
  FileStamp now;
  struct stat st;

  if (work == NULL)
    return NULL;
  rootfs = g_build_filename (work->path, ROOTFS_DIR, NULL);
  if (!make_dir (rootfs, 0755, error))
    return NULL;

  if (is_disk_format (image->format))
    {
      g_autofree char *tar = g_build_filename (work->path, "image.tar", NULL);
      g_autofree char *absolute = g_canonicalize_filename (file, NULL);
      g_autoptr(GError) local_error = NULL;

      if (!copy_out_disk (absolute, image->format, tar, error))
        return NULL;
      if (!nlx_archive_extract (tar, rootfs, &local_error))
        {
          g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                      _("Cannot import disk image %s: "),
                                      file);
          return NULL;
        }
      g_unlink (tar);
    }
  else if (!nlx_archive_extract (file, rootfs, error))
    return NULL;

  /* What was extracted must be what was checksummed. */
  if (fstat (fd, &st) != 0)
    memset (&st, 0, sizeof st);
  stamp_from_stat (&now, &st);
  if (!stamps_equal (stamp, &now) || stat (file, &st) != 0 ||
      st.st_dev != stamp->dev || st.st_ino != stamp->ino)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Cannot import %s: the file changed while it was being "
                     "imported; import it again once nothing writes to it"),
                   file);
      return NULL;
    }

  if (!tree_size (rootfs, &image->tree_size_bytes, error))
    return NULL;
  /* The tree reaches the disk before the record that vouches for it. */
  if (syncfs (work->fd) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot write image “%s” to disk: %s"), image->name,
                   g_strerror (saved_errno));
      return NULL;
    }
  if (g_chmod (work->path, 0755) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot make image “%s” readable: %s"), image->name,
                   g_strerror (saved_errno));
      return NULL;
    }
  return g_steal_pointer (&work);
}

static NlxStoredImage *
import_from (NlxImageStore *store,
             int fd,
             const FileStamp *stamp,
             const char *file,
             const char *name,
             GHashTable *properties,
             GError **error)
{
  g_autoptr(NlxStoredImage) image = g_new0 (NlxStoredImage, 1);
  gboolean share;

  if (!check_name_free (store, name, error) ||
      !detect_format (fd, file, &image->format, error))
    return NULL;
  image->checksum = checksum_file (fd, file, error);
  if (image->checksum == NULL)
    return NULL;
  image->id = g_uuid_string_random ();
  image->name = g_strdup (name);
  image->size_bytes = stamp->size;
  image->properties = new_properties ();
  if (properties != NULL)
    {
      GHashTableIter iter;
      gpointer key;
      gpointer value;

      g_hash_table_iter_init (&iter, properties);
      while (g_hash_table_iter_next (&iter, &key, &value))
        g_hash_table_replace (image->properties, g_strdup (key),
                              g_strdup (value));
    }

  /* Content the store holds is not extracted again: the new image
   * shares its tree.  If that tree goes before the commit (its last
   * image deleted meanwhile), extract after all. */
  share = has_tree (store, image->checksum);
  for (;;)
    {
      g_autoptr(WorkDir) work = NULL;

      if (!share &&
          (work = extract (store, fd, stamp, file, image, error)) == NULL)
        return NULL;
      g_clear_pointer (&image->created_at, g_date_time_unref);
      image->created_at = g_date_time_new_now_utc ();
      switch (commit (store, work, image, error))
        {
        case COMMIT_DONE:
          return g_steal_pointer (&image);
        case COMMIT_FAILED:
          return NULL;
        case COMMIT_NEEDS_TREE:
          share = FALSE;
          break;
        }
    }
}

/**
 * nlx_image_store_import:
 * @store: the store
 * @file: a root tarball (tar, plain or compressed with gzip, xz or zstd)
 *   or a disk image (raw or qcow2) holding a Linux root filesystem; it
 *   must not change while it is imported
 * @name: the new image's name (see nlx_image_name_is_valid())
 * @properties: (nullable) (element-type utf8 utf8): string properties to
 *   record with the image, copied
 * @error: return location for a #NLX_DRIVER_ERROR: INVALID_ARGUMENT for a
 *   bad name, property or file (the message says what is wrong with it),
 *   EXISTS when @name is taken, FAILED when the host cannot do it
 *
 * Imports @file as a new image with an id of its own: its root tree is
 * extracted into the store once, to be shared read-only by the instances
 * that use it, and by every image of the same content (a file the store
 * already holds is not extracted again).  The
 * format comes from the content.  A tarball is extracted with libarchive,
 * refusing members that would land outside the tree (absolute paths,
 * "..", writes through symbolic links); a disk image is read only through
 * libguestfs's appliance, which finds its Linux root by inspection: no
 * disk image is mounted by the host's kernel.  That launch takes seconds
 * (tens of seconds without KVM), so callers do not import from a main
 * loop.  A qcow2 image must be self-contained: no backing or external
 * data file, no encryption.
 *
 * The image appears whole or not at all; on failure nothing is left in
 * the store.
 *
 * Returns: (transfer full): the new image's record, or %NULL
 */
NlxStoredImage *
nlx_image_store_import (NlxImageStore *store,
                        const char *file,
                        const char *name,
                        GHashTable *properties,
                        GError **error)
{
  NlxStoredImage *image;
  FileStamp stamp;
  int fd;

  if (!nlx_image_name_is_valid (name))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Image name “%s” is not valid: use 1 to %d letters, "
                     "digits, '.', '_' and '-', starting with a letter or "
                     "digit (64 hexadecimal digits or a UUID would read as "
                     "an image id)"), name != NULL ? name : "",
                   NLX_IMAGE_NAME_MAX);
      return NULL;
    }
  if (!check_properties (properties, error))
    return NULL;
  fd = open_source (file, &stamp, error);
  if (fd < 0)
    return NULL;
  image = import_from (store, fd, &stamp, file, name, properties, error);
  close (fd);
  return image;
}
