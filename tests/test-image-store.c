/* test-image-store.c: importing root tarballs into the image store,
 * listing, looking up and deleting images, and refusing bad ones
 *
 * Each case runs in a subprocess over a temporary directory its parent
 * made, so the parent removes the directory even when the case fails.
 * Tarballs are written here with libarchive, so no tool is needed.  Every
 * refusal is checked to leave the store exactly as it was.  Disk images
 * need libguestfs's appliance, which is slow: they are in
 * functional/test-image-import.c. */
#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/nlx-error.h"
#include "common/nlx-file.h"
#include "lib/nlx-test-tools.h"
#include "storage/nlx-image-store.h"

typedef struct {
  char *dir;
  char *store_dir;
  char *other;
} Fixture;

typedef void (*CaseFunc) (Fixture *f);

/* ---- helpers ----------------------------------------------------------- */

/* A tarball member: 'f' file, 'd' directory, 'l' symbolic link to
 * @data, 'h' hard link to @data. */
typedef struct {
  const char *name;
  char type;
  const char *data;
  guint mode;
  guint uid;
} Member;

static const Member rootfs_members[] = {
  { "./", 'd', NULL, 0755, 0 },
  { "./etc/", 'd', NULL, 0755, 0 },
  { "./etc/os-release", 'f', "ID=nlxtest\nNAME=\"nlx test\"\n", 0644, 0 },
  { "./etc/hosts", 'f', "127.0.0.1 localhost\n", 0644, 0 },
  { "./bin/", 'd', NULL, 0755, 0 },
  { "./bin/sh", 'f', "#!nlxtest shell\n", 0755, 0 },
  { "./bin/ash", 'l', "sh", 0777, 0 },
  { "./home/", 'd', NULL, 0750, 1234 },
  { "./home/notes", 'f', "owned by 1234\n", 0600, 1234 },
  { "./etc/hosts.again", 'h', "etc/hosts", 0644, 0 },
};

/* What tree_size_bytes must be for rootfs_members: files, the link's
 * target, the hard-linked file once. */
static guint64
rootfs_tree_size (void)
{
  guint64 size = 0;

  for (guint i = 0; i < G_N_ELEMENTS (rootfs_members); i++)
    if (rootfs_members[i].type == 'f' || rootfs_members[i].type == 'l')
      size += strlen (rootfs_members[i].data);
  return size;
}

/* Writes a tar archive of @members to @path, compressed with @filter
 * (an ARCHIVE_FILTER_* code); @tag, if not NULL, adds a file so that
 * archives of the same members can differ. */
static void
write_tarball (const char *path,
               int filter,
               const Member *members,
               gsize n_members,
               const char *tag)
{
  struct archive *a = archive_write_new ();

  g_assert_cmpint (archive_write_set_format_pax_restricted (a), ==,
                   ARCHIVE_OK);
  if (filter != ARCHIVE_FILTER_NONE)
    g_assert_cmpint (archive_write_add_filter (a, filter), >=, ARCHIVE_WARN);
  g_assert_cmpint (archive_write_open_filename (a, path), ==, ARCHIVE_OK);
  for (gsize i = 0; i <= n_members; i++)
    {
      struct archive_entry *entry = archive_entry_new ();
      const Member *m = i < n_members ? &members[i] : NULL;
      Member tag_member = { "tag", 'f', tag, 0644, 0 };

      if (m == NULL)
        {
          if (tag == NULL)
            {
              archive_entry_free (entry);
              break;
            }
          m = &tag_member;
        }
      archive_entry_set_pathname (entry, m->name);
      archive_entry_set_perm (entry, m->mode);
      archive_entry_set_uid (entry, m->uid);
      archive_entry_set_gid (entry, m->uid);
      archive_entry_set_mtime (entry, 1700000000, 0);
      switch (m->type)
        {
        case 'f':
          archive_entry_set_filetype (entry, AE_IFREG);
          archive_entry_set_size (entry, strlen (m->data));
          break;
        case 'd':
          archive_entry_set_filetype (entry, AE_IFDIR);
          break;
        case 'l':
          archive_entry_set_filetype (entry, AE_IFLNK);
          archive_entry_set_symlink (entry, m->data);
          break;
        case 'h':
          archive_entry_set_filetype (entry, AE_IFREG);
          archive_entry_set_hardlink (entry, m->data);
          break;
        default:
          g_assert_not_reached ();
        }
      g_assert_cmpint (archive_write_header (a, entry), ==, ARCHIVE_OK);
      if (m->type == 'f')
        g_assert_cmpint (archive_write_data (a, m->data, strlen (m->data)),
                         ==, (la_ssize_t) strlen (m->data));
      archive_entry_free (entry);
    }
  g_assert_cmpint (archive_write_close (a), ==, ARCHIVE_OK);
  archive_write_free (a);
}

static char *
make_rootfs_tarball (Fixture *f,
                     const char *file,
                     int filter,
                     const char *tag)
{
  char *path = nlx_test_path (f->other, file);

  write_tarball (path, filter, rootfs_members,
                 G_N_ELEMENTS (rootfs_members), tag);
  return path;
}

static void
assert_file (const char *dir,
             const char *name,
             const char *contents,
             guint mode,
             guint uid)
{
  g_autofree char *path = nlx_test_path (dir, name);
  g_autofree char *actual = NULL;
  struct stat st;

  g_assert_cmpint (lstat (path, &st), ==, 0);
  g_assert_true (S_ISREG (st.st_mode));
  g_assert_cmpuint (st.st_mode & 07777, ==, mode);
  if (geteuid () == 0)
    g_assert_cmpuint (st.st_uid, ==, uid);
  g_assert_true (g_file_get_contents (path, &actual, NULL, NULL));
  g_assert_cmpstr (actual, ==, contents);
}

static void
add_tree (GPtrArray *entries,
          const char *root,
          const char *rel)
{
  g_autofree char *path = nlx_test_path (root, rel);
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir == NULL)
    return;
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *entry_rel = g_build_filename (rel, name, NULL);
      g_autofree char *entry_path = nlx_test_path (root, entry_rel);
      struct stat st;

      g_assert_cmpint (lstat (entry_path, &st), ==, 0);
      g_ptr_array_add (entries, g_strdup_printf ("%s:%o", entry_rel,
                                                 st.st_mode));
      if (S_ISDIR (st.st_mode))
        add_tree (entries, root, entry_rel);
    }
}

/* Everything under @dir, sorted, one "path:mode" per line. */
static char *
snapshot (const char *dir)
{
  g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func (g_free);

  add_tree (entries, dir, ".");
  g_ptr_array_sort (entries, nlx_test_compare_strings);
  g_ptr_array_add (entries, NULL);
  return g_strjoinv ("\n", (char **) entries->pdata);
}

static NlxImageStore *
open_store (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  NlxImageStore *store = nlx_image_store_open (f->store_dir, &error);

  g_assert_no_error (error);
  g_assert_nonnull (store);
  return store;
}

/* Importing @file as @name fails with @code and a message matching
 * @pattern, and leaves the store as it was. */
static void
assert_refused (NlxImageStore *store,
                const char *file,
                const char *name,
                GHashTable *properties,
                gint code,
                const char *pattern)
{
  const char *dir = nlx_image_store_get_dir (store);
  g_autofree char *before = snapshot (dir);
  g_autofree char *after = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(NlxStoredImage) image = NULL;

  image = nlx_image_store_import (store, file, name, properties, &error);
  g_assert_null (image);
  g_assert_error (error, NLX_DRIVER_ERROR, code);
  if (!g_pattern_match_simple (pattern, error->message))
    g_error ("importing %s: “%s” does not match “%s”", file, error->message,
             pattern);
  g_test_message ("refused as expected: %s", error->message);
  after = snapshot (dir);
  g_assert_cmpstr (after, ==, before);
}

static NlxStoredImage *
import_ok (NlxImageStore *store,
           const char *file,
           const char *name,
           GHashTable *properties)
{
  g_autoptr(GError) error = NULL;
  NlxStoredImage *image = nlx_image_store_import (store, file, name,
                                                  properties, &error);

  g_assert_no_error (error);
  g_assert_nonnull (image);
  return image;
}

/* ---- fixture ----------------------------------------------------------- */

static void
fixture_setup (Fixture *f,
               gconstpointer data G_GNUC_UNUSED)
{
  f->dir = nlx_test_case_dir ("nlxtest-image-store-XXXXXX");
  f->store_dir = nlx_test_path (f->dir, "images");
  f->other = nlx_test_path (f->dir, "other");
  if (g_test_subprocess ())
    g_assert_cmpint (g_mkdir (f->other, 0700), ==, 0);
}

static void
fixture_teardown (Fixture *f,
                  gconstpointer data G_GNUC_UNUSED)
{
  nlx_test_case_dir_remove (f->dir);
  g_free (f->dir);
  g_free (f->store_dir);
  g_free (f->other);
}

static void
run_case (Fixture *f,
          gconstpointer data)
{
  CaseFunc body = (CaseFunc) data;

  NLX_TEST_RUN_BODY (body, f, 60);
}

/* ---- cases ------------------------------------------------------------- */

static void
test_names (void)
{
  static const char * const valid[] = {
    "a", "Z", "7", "debian-12", "ubuntu_22.04.3", "a.-_b",
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    /* 64 hexadecimal digits, but not all lowercase: not an id */
    "ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789",
  };
  static const char * const invalid[] = {
    "", ".", "..", ".hidden", "-x", "_x", "a/b", "../a", "a b", "a\n",
    "é", "a:b",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    /* UUIDs, in either case: they read as ids */
    "0b5cbd0e-8818-4d34-94c6-b8f82340fca0",
    "0B5CBD0E-8818-4D34-94C6-B8F82340FCA0",
  };

  for (guint i = 0; i < G_N_ELEMENTS (valid); i++)
    if (!nlx_image_name_is_valid (valid[i]))
      g_error ("“%s” should be a valid name", valid[i]);
  for (guint i = 0; i < G_N_ELEMENTS (invalid); i++)
    if (nlx_image_name_is_valid (invalid[i]))
      g_error ("“%s” should not be a valid name", invalid[i]);
  g_assert_false (nlx_image_name_is_valid (NULL));
}

static void
test_formats (void)
{
  static const char * const names[] = {
    "tar", "tar.gz", "tar.xz", "tar.zst", "raw", "qcow2",
  };
  NlxStoredImageFormat format;

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_assert_true (nlx_stored_image_format_from_string (names[i], &format));
      g_assert_cmpuint (format, ==, i);
      g_assert_cmpstr (nlx_stored_image_format_to_string (format), ==,
                       names[i]);
    }
  g_assert_false (nlx_stored_image_format_from_string ("tar.bz2", &format));
  g_assert_false (nlx_stored_image_format_from_string (NULL, &format));
}

/* Opening makes the directory, private, and removes leftovers of
 * interrupted imports, but not those of imports still running. */
static void
case_open (Fixture *f)
{
  g_autofree char *nested = g_build_filename (f->dir, "a", "b", "images",
                                              NULL);
  g_autofree char *link = nlx_test_path (f->dir, "link");
  g_autofree char *stale = NULL;
  g_autofree char *stale_file = NULL;
  g_autofree char *stale_delete = NULL;
  g_autofree char *busy = NULL;
  g_autofree char *unrelated = NULL;
  g_autoptr(NlxImageStore) store = NULL;
  g_autoptr(GPtrArray) images = NULL;
  g_autoptr(GError) error = NULL;
  struct stat st;
  int fd;

  store = nlx_image_store_open (nested, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (nlx_image_store_get_dir (store), ==, nested);
  g_assert_cmpint (stat (nested, &st), ==, 0);
  g_assert_cmpuint (st.st_mode & 0777, ==, 0700);
  images = nlx_image_store_list (store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (images->len, ==, 0);
  g_clear_pointer (&store, nlx_image_store_free);

  /* The store's path is kept without symbolic links. */
  g_assert_cmpint (symlink (nested, link), ==, 0);
  store = nlx_image_store_open (link, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (nlx_image_store_get_dir (store), ==, nested);
  g_clear_pointer (&store, nlx_image_store_free);

  stale = g_build_filename (nested, ".import-abc123", "rootfs", "etc", NULL);
  g_assert_cmpint (g_mkdir_with_parents (stale, 0755), ==, 0);
  stale_file = nlx_test_path (stale, "passwd");
  g_assert_true (g_file_set_contents (stale_file, "x", -1, NULL));
  stale_delete = g_build_filename (nested, ".delete-xyz", "rootfs", NULL);
  g_assert_cmpint (g_mkdir_with_parents (stale_delete, 0755), ==, 0);
  busy = nlx_test_path (nested, ".import-busy");
  g_assert_cmpint (g_mkdir (busy, 0700), ==, 0);
  unrelated = nlx_test_path (nested, "README");
  g_assert_true (g_file_set_contents (unrelated, "x", -1, NULL));
  fd = open (busy, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (flock (fd, LOCK_EX), ==, 0);

  store = nlx_image_store_open (nested, &error);
  g_assert_no_error (error);
  close (fd);
  g_clear_pointer (&stale, g_free);
  stale = nlx_test_path (nested, ".import-abc123");
  g_assert_false (g_file_test (stale, G_FILE_TEST_EXISTS));
  g_clear_pointer (&stale_delete, g_free);
  stale_delete = nlx_test_path (nested, ".delete-xyz");
  g_assert_false (g_file_test (stale_delete, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (busy, G_FILE_TEST_IS_DIR));
  g_assert_true (g_file_test (unrelated, G_FILE_TEST_IS_REGULAR));
}

/* Every compression nova-lxc reads; found from the content, whatever
 * the file is called. */
static void
case_import_formats (Fixture *f)
{
  static const struct {
    int filter;
    const char *format;
    const char *name;
  } formats[] = {
    { ARCHIVE_FILTER_XZ, "tar.xz", "d-xz" },
    { ARCHIVE_FILTER_NONE, "tar", "c-plain" },
    { ARCHIVE_FILTER_ZSTD, "tar.zst", "b-zstd" },
    { ARCHIVE_FILTER_GZIP, "tar.gz", "a-gzip" },
  };
  g_autoptr(NlxImageStore) store = open_store (f);
  g_autoptr(GPtrArray) images = NULL;
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (formats); i++)
    {
      /* A misleading name: the content decides. */
      g_autofree char *file_name = g_strdup_printf ("image-%u.img", i);
      g_autofree char *file = make_rootfs_tarball (f, file_name,
                                                   formats[i].filter, NULL);
      g_autofree char *checksum = nlx_test_file_checksum (file);
      g_autoptr(GHashTable) properties = g_hash_table_new (g_str_hash,
                                                           g_str_equal);
      g_autoptr(GDateTime) before = g_date_time_new_now_utc ();
      g_autoptr(GDateTime) after = NULL;
      g_autoptr(NlxStoredImage) image = NULL;
      g_autoptr(NlxStoredImage) by_name = NULL;
      g_autoptr(NlxStoredImage) by_id = NULL;
      g_autofree char *rootfs = NULL;
      g_autofree char *record = NULL;
      g_autofree char *link_target = NULL;
      g_autofree char *path = NULL;
      struct stat st;
      struct stat st2;

      g_hash_table_insert (properties, (char *) "os_init_path",
                           (char *) "/bin/sh");
      g_hash_table_insert (properties, (char *) "os_distro",
                           (char *) "nlxtest");
      image = import_ok (store, file, formats[i].name, properties);
      after = g_date_time_new_now_utc ();
      g_test_message ("%s: %s", formats[i].format, image->id);

      /* An id of its own; the tree is keyed by the content. */
      g_assert_true (g_uuid_string_is_valid (image->id));
      g_assert_cmpstr (image->checksum, ==, checksum);
      g_assert_cmpstr (image->name, ==, formats[i].name);
      g_assert_cmpstr (nlx_stored_image_format_to_string (image->format), ==,
                       formats[i].format);
      g_assert_cmpint (stat (file, &st), ==, 0);
      g_assert_cmpuint (image->size_bytes, ==, st.st_size);
      g_assert_cmpuint (image->tree_size_bytes, ==, rootfs_tree_size ());
      g_assert_cmpint (g_date_time_compare (image->created_at, before), >=, 0);
      g_assert_cmpint (g_date_time_compare (image->created_at, after), <=, 0);
      g_assert_cmpuint (g_hash_table_size (image->properties), ==, 2);
      g_assert_cmpstr (g_hash_table_lookup (image->properties,
                                            "os_init_path"), ==, "/bin/sh");

      /* The tree, with modes, owners and links. */
      rootfs = nlx_image_store_get_rootfs (store, image);
      path = g_build_filename (f->store_dir, checksum, "rootfs", NULL);
      g_assert_cmpstr (rootfs, ==, path);
      g_assert_cmpint (stat (rootfs, &st), ==, 0);
      g_assert_cmpuint (st.st_mode & 07777, ==, 0755);
      assert_file (rootfs, "etc/os-release", rootfs_members[2].data, 0644, 0);
      assert_file (rootfs, "bin/sh", rootfs_members[5].data, 0755, 0);
      assert_file (rootfs, "home/notes", rootfs_members[8].data, 0600, 1234);
      g_clear_pointer (&path, g_free);
      path = nlx_test_path (rootfs, "bin/ash");
      link_target = g_file_read_link (path, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (link_target, ==, "sh");
      g_clear_pointer (&path, g_free);
      path = nlx_test_path (rootfs, "etc/hosts");
      g_assert_cmpint (lstat (path, &st), ==, 0);
      g_clear_pointer (&path, g_free);
      path = nlx_test_path (rootfs, "etc/hosts.again");
      g_assert_cmpint (lstat (path, &st2), ==, 0);
      g_assert_cmpuint (st.st_ino, ==, st2.st_ino);
      record = g_strdup_printf ("%s/records/%s.json", f->store_dir, image->id);
      g_assert_true (g_file_test (record, G_FILE_TEST_IS_REGULAR));
      g_clear_pointer (&record, g_free);
      record = g_build_filename (f->store_dir, checksum, "image.json", NULL);
      g_assert_false (g_file_test (record, G_FILE_TEST_EXISTS));

      /* The record reads back the same, by name and by id. */
      by_name = nlx_image_store_lookup (store, formats[i].name, &error);
      g_assert_no_error (error);
      by_id = nlx_image_store_lookup (store, image->id, &error);
      g_assert_no_error (error);
      for (guint j = 0; j < 2; j++)
        {
          NlxStoredImage *back = j == 0 ? by_name : by_id;

          g_assert_cmpstr (back->id, ==, image->id);
          g_assert_cmpstr (back->name, ==, image->name);
          g_assert_cmpstr (back->checksum, ==, image->checksum);
          g_assert_cmpuint (back->format, ==, image->format);
          g_assert_cmpuint (back->size_bytes, ==, image->size_bytes);
          g_assert_cmpuint (back->tree_size_bytes, ==,
                            image->tree_size_bytes);
          g_assert_true (g_date_time_equal (back->created_at,
                                            image->created_at));
          g_assert_cmpstr (g_hash_table_lookup (back->properties,
                                                "os_distro"), ==, "nlxtest");
        }
    }

  /* Sorted by name, not by import order or id. */
  images = nlx_image_store_list (store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (images->len, ==, 4);
  g_assert_cmpstr (((NlxStoredImage *) images->pdata[0])->name, ==, "a-gzip");
  g_assert_cmpstr (((NlxStoredImage *) images->pdata[1])->name, ==, "b-zstd");
  g_assert_cmpstr (((NlxStoredImage *) images->pdata[2])->name, ==,
                   "c-plain");
  g_assert_cmpstr (((NlxStoredImage *) images->pdata[3])->name, ==, "d-xz");

  /* Another store over the same directory sees the same images. */
  g_clear_pointer (&store, nlx_image_store_free);
  g_clear_pointer (&images, g_ptr_array_unref);
  store = open_store (f);
  images = nlx_image_store_list (store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (images->len, ==, 4);
}

/* Number of entries of @dir whose name is 64 hexadecimal digits: trees. */
static guint
count_trees (const char *dir)
{
  g_autoptr(GDir) entries = g_dir_open (dir, 0, NULL);
  const char *name;
  guint count = 0;

  g_assert_nonnull (entries);
  while ((name = g_dir_read_name (entries)) != NULL)
    if (strlen (name) == 64 && strspn (name, "0123456789abcdef") == 64)
      count++;
  return count;
}

/* A name is taken once; content any number of times, each import an
 * image of its own sharing one tree, which goes with the last of them. */
static void
case_duplicate (Fixture *f)
{
  g_autoptr(NlxImageStore) store = open_store (f);
  g_autofree char *file = make_rootfs_tarball (f, "one.tar.gz",
                                               ARCHIVE_FILTER_GZIP, NULL);
  g_autofree char *copy = nlx_test_path (f->other, "copy.tar.gz");
  g_autofree char *other = make_rootfs_tarball (f, "other.tar.gz",
                                                ARCHIVE_FILTER_GZIP, "other");
  g_autofree char *contents = NULL;
  g_autofree char *rootfs = NULL;
  g_autofree char *marker = NULL;
  g_autoptr(NlxStoredImage) image = NULL;
  g_autoptr(NlxStoredImage) same = NULL;
  g_autoptr(NlxStoredImage) again = NULL;
  g_autoptr(NlxStoredImage) second = NULL;
  g_autoptr(NlxStoredImage) found = NULL;
  g_autoptr(GPtrArray) images = NULL;
  g_autoptr(GError) error = NULL;
  struct stat st;
  gsize len;

  image = import_ok (store, file, "one", NULL);
  g_assert_cmpuint (g_hash_table_size (image->properties), ==, 0);
  rootfs = nlx_image_store_get_rootfs (store, image);
  /* Shared, not extracted again: a file only this tree has stays. */
  marker = nlx_test_path (rootfs, "nlxtest-marker");
  g_assert_true (g_file_set_contents (marker, "x", -1, NULL));

  /* The same bytes, from another file, under another name. */
  g_assert_true (g_file_get_contents (file, &contents, &len, NULL));
  g_assert_true (g_file_set_contents (copy, contents, len, NULL));
  same = import_ok (store, copy, "two", NULL);
  g_assert_cmpstr (same->id, !=, image->id);
  g_assert_cmpstr (same->checksum, ==, image->checksum);
  g_assert_cmpuint (same->tree_size_bytes, ==, image->tree_size_bytes);
  g_assert_cmpstr (same->name, ==, "two");
  /* And the very same file a third time. */
  again = import_ok (store, file, "three", NULL);
  g_assert_cmpstr (again->id, !=, same->id);
  g_assert_cmpuint (count_trees (f->store_dir), ==, 1);
  g_assert_true (g_file_test (marker, G_FILE_TEST_IS_REGULAR));
  g_clear_pointer (&rootfs, g_free);
  rootfs = nlx_image_store_get_rootfs (store, same);
  g_assert_true (g_str_has_prefix (marker, rootfs));

  /* The same name, other bytes; the same name and bytes. */
  assert_refused (store, other, "one", NULL, NLX_DRIVER_ERROR_EXISTS,
                  "*image named “one” already exists*");
  assert_refused (store, file, "two", NULL, NLX_DRIVER_ERROR_EXISTS,
                  "*image named “two” already exists*");
  second = import_ok (store, other, "four", NULL);
  g_assert_cmpstr (second->checksum, !=, image->checksum);
  g_assert_cmpuint (count_trees (f->store_dir), ==, 2);

  /* They survive a restart, each with its own id. */
  g_clear_pointer (&store, nlx_image_store_free);
  store = open_store (f);
  images = nlx_image_store_list (store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (images->len, ==, 4);
  found = nlx_image_store_lookup (store, same->id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (found->name, ==, "two");

  /* The tree stays while any image of it does. */
  g_assert_true (nlx_image_store_delete (store, "one", &error));
  g_assert_no_error (error);
  g_assert_true (nlx_image_store_delete (store, again->id, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_test (marker, G_FILE_TEST_IS_REGULAR));
  g_assert_cmpint (stat (rootfs, &st), ==, 0);
  g_assert_true (nlx_image_store_delete (store, "two", &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (rootfs, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (count_trees (f->store_dir), ==, 1);
}

/* A store of the old layout (DIR/<sha256>/image.json beside rootfs/,
 * the checksum as id) opens with its images unchanged: same ids, same
 * trees, so servers booted from them still find them.  What a crash
 * leaves is tidied at open: a record whose tree is missing (an import or
 * a delete cut short) and the temporary of a record's write; a tree no
 * record uses, which no crash leaves, is kept with a warning. */
static void
case_legacy_layout (Fixture *f)
{
  g_autofree char *file = make_rootfs_tarball (f, "old.tar",
                                               ARCHIVE_FILTER_NONE, NULL);
  g_autofree char *checksum = nlx_test_file_checksum (file);
  g_autofree char *tree = NULL;
  g_autofree char *rootfs = NULL;
  g_autofree char *legacy = NULL;
  g_autofree char *record = NULL;
  g_autofree char *orphan = NULL;
  g_autofree char *temporary = NULL;
  g_autofree char *unfinished = NULL;
  g_autofree char *text = NULL;
  g_autofree char *got = NULL;
  g_autoptr(NlxImageStore) store = NULL;
  g_autoptr(NlxStoredImage) image = NULL;
  g_autoptr(NlxStoredImage) shared = NULL;
  g_autoptr(GError) error = NULL;

  tree = nlx_test_path (f->store_dir, checksum);
  rootfs = g_build_filename (tree, "rootfs", "etc", NULL);
  g_assert_cmpint (g_mkdir_with_parents (rootfs, 0755), ==, 0);
  g_clear_pointer (&rootfs, g_free);
  rootfs = nlx_test_path (tree, "rootfs");
  legacy = nlx_test_path (tree, "image.json");
  text = g_strdup_printf ("{\"id\": \"%s\", \"name\": \"old\", \"checksum\": "
                          "\"%s\", \"format\": \"tar\", \"size_bytes\": 10240, "
                          "\"tree_size_bytes\": 7, \"created_at\": "
                          "\"2026-01-02T03:04:05Z\", \"properties\": "
                          "{\"os_init_path\": \"/bin/sh\"}}", checksum,
                          checksum);
  g_assert_true (g_file_set_contents (legacy, text, -1, NULL));
  orphan = g_build_filename (f->store_dir,
                             "00000000000000000000000000000000"
                             "000000000000000000000000000000aa",
                             "rootfs", NULL);
  g_assert_cmpint (g_mkdir_with_parents (orphan, 0755), ==, 0);

  g_test_expect_message ("nova-lxc", G_LOG_LEVEL_MESSAGE,
                         "Image *: its record is now kept apart from its tree");
  g_test_expect_message ("nova-lxc", G_LOG_LEVEL_WARNING,
                         "Image tree */000000*aa is used by no image; it is "
                         "kept*");
  store = open_store (f);
  g_test_assert_expected_messages ();
  g_assert_false (g_file_test (legacy, G_FILE_TEST_EXISTS));
  record = g_strdup_printf ("%s/records/%s.json", f->store_dir, checksum);
  g_assert_true (g_file_test (record, G_FILE_TEST_IS_REGULAR));
  g_assert_true (g_file_test (orphan, G_FILE_TEST_IS_DIR));
  g_clear_pointer (&orphan, g_free);
  orphan = g_build_filename (f->store_dir,
                             "00000000000000000000000000000000"
                             "000000000000000000000000000000aa", NULL);
  g_assert_true (nlx_file_remove_tree (orphan, NULL));

  /* A record without its tree, and a temporary of a record's write. */
  temporary = g_build_filename (f->store_dir, "records",
                                "0b5cbd0e-8818-4d34-94c6-b8f82340fca0.json.AB12CD",
                                NULL);
  g_assert_true (g_file_set_contents (temporary, "{", -1, NULL));
  g_clear_pointer (&text, g_free);
  text = g_strdup_printf ("{\"id\": \"0b5cbd0e-8818-4d34-94c6-b8f82340fca0\", "
                          "\"name\": \"cut-short\", \"checksum\": \"%064d\", "
                          "\"format\": \"tar\", \"size_bytes\": 1, "
                          "\"tree_size_bytes\": 1, \"created_at\": "
                          "\"2026-01-02T03:04:05Z\", \"properties\": {}}", 7);
  g_clear_pointer (&unfinished, g_free);
  unfinished = g_build_filename (f->store_dir, "records",
                                 "0b5cbd0e-8818-4d34-94c6-b8f82340fca0.json",
                                 NULL);
  g_assert_true (g_file_set_contents (unfinished, text, -1, NULL));
  image = nlx_image_store_lookup (store, checksum, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (image->name, ==, "old");
  got = nlx_image_store_get_rootfs (store, image);
  g_assert_cmpstr (got, ==, rootfs);

  /* The same content imported now shares the old tree. */
  shared = import_ok (store, file, "new", NULL);
  g_assert_cmpstr (shared->checksum, ==, checksum);
  g_assert_cmpuint (shared->tree_size_bytes, ==, 7);
  g_clear_pointer (&store, nlx_image_store_free);

  /* Opening again removes those two and changes nothing else. */
  g_test_expect_message ("nova-lxc", G_LOG_LEVEL_MESSAGE,
                         "Removing image cut-short (*), whose tree is missing*");
  store = open_store (f);
  g_test_assert_expected_messages ();
  g_assert_false (g_file_test (temporary, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (unfinished, G_FILE_TEST_EXISTS));
  g_clear_pointer (&image, nlx_stored_image_free);
  image = nlx_image_store_lookup (store, "new", &error);
  g_assert_no_error (error);
  g_assert_true (g_file_test (rootfs, G_FILE_TEST_IS_DIR));
  g_assert_true (nlx_image_store_delete (store, checksum, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_test (rootfs, G_FILE_TEST_IS_DIR));
  g_assert_true (nlx_image_store_delete (store, "new", &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (tree, G_FILE_TEST_EXISTS));
}

static void
case_refuse_arguments (Fixture *f)
{
  g_autoptr(NlxImageStore) store = open_store (f);
  g_autofree char *file = make_rootfs_tarball (f, "root.tar",
                                               ARCHIVE_FILTER_NONE, NULL);
  g_autofree char *missing = nlx_test_path (f->other, "missing.tar");
  g_autofree char *fifo = nlx_test_path (f->other, "fifo");
  g_autoptr(GHashTable) bad_value = g_hash_table_new (g_str_hash,
                                                      g_str_equal);
  g_autoptr(GHashTable) empty_key = g_hash_table_new (g_str_hash,
                                                      g_str_equal);
  g_autoptr(NlxStoredImage) image = NULL;
  static const char * const bad_names[] = {
    "", ".x", "a/b", "../x", "with space",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad_names); i++)
    assert_refused (store, file, bad_names[i], NULL,
                    NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                    "Image name “*” is not valid: use 1 to 64 letters*");
  assert_refused (store, file, NULL, NULL, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                  "Image name “” is not valid*");

  g_hash_table_insert (bad_value, (char *) "key", (char *) "\xff\xfe");
  assert_refused (store, file, "good", bad_value,
                  NLX_DRIVER_ERROR_INVALID_ARGUMENT, "Image properties*UTF-8*");
  g_hash_table_insert (empty_key, (char *) "", (char *) "value");
  assert_refused (store, file, "good", empty_key,
                  NLX_DRIVER_ERROR_INVALID_ARGUMENT, "Image properties*");

  assert_refused (store, missing, "good", NULL,
                  NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                  "Cannot open image file *missing.tar: *");
  assert_refused (store, f->other, "good", NULL,
                  NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                  "*is not a regular file*");
  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  assert_refused (store, fifo, "good", NULL,
                  NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                  "*is not a regular file*");

  image = import_ok (store, file, "good", NULL);
  g_assert_cmpstr (nlx_stored_image_format_to_string (image->format), ==,
                   "tar");
}

/* Members that would land outside the tree: refused, nothing written
 * anywhere. */
static void
case_refuse_hostile (Fixture *f)
{
  g_autoptr(NlxImageStore) store = open_store (f);
  g_autofree char *outside = nlx_test_path (f->dir, "outside");
  g_autofree char *outside_file = nlx_test_path (outside, "evil");
  g_autofree char *absolute = nlx_test_path (outside, "absolute");
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  const Member dotdot[] = {
    { "etc/", 'd', NULL, 0755, 0 },
    { "etc/../../outside/evil", 'f', "evil\n", 0644, 0 },
  };
  const Member leading_dotdot[] = {
    { "../outside/evil", 'f', "evil\n", 0644, 0 },
  };
  const Member absolute_path[] = {
    { "etc/", 'd', NULL, 0755, 0 },
    { absolute, 'f', "evil\n", 0644, 0 },
  };
  /* A link the archive plants, then a member written through it. */
  const Member through_symlink[] = {
    { "etc/", 'd', NULL, 0755, 0 },
    { "etc/escape", 'l', outside, 0777, 0 },
    { "etc/escape/evil", 'f', "evil\n", 0644, 0 },
  };
  const Member through_relative_symlink[] = {
    { "up", 'l', "../../..", 0777, 0 },
    { "up/outside/evil", 'f', "evil\n", 0644, 0 },
  };
  const Member hardlink_outside[] = {
    { "passwd", 'h', "../../../outside/target", 0644, 0 },
  };
  const Member hardlink_absolute[] = {
    { "passwd", 'h', "/etc/passwd", 0644, 0 },
  };
  /* Found by the archive fuzzer: it was refused as the host's fault. */
  const Member below_a_file[] = {
    { "etc", 'f', "not a directory\n", 0644, 0 },
    { "etc/passwd", 'f', "evil\n", 0644, 0 },
  };
  /* Found by the archive fuzzer: link(2) to a directory is EPERM, which
   * read as the host's fault. */
  const Member hardlink_to_dir[] = {
    { "etc/", 'd', NULL, 0755, 0 },
    { "x", 'h', "etc", 0644, 0 },
  };
  const struct {
    const char *file;
    const Member *members;
    gsize n_members;
    const char *pattern;
  } cases[] = {
    { "dotdot.tar", dotdot, G_N_ELEMENTS (dotdot), "*points outside it*" },
    { "leading-dotdot.tar", leading_dotdot, G_N_ELEMENTS (leading_dotdot),
      "*points outside it*" },
    { "absolute.tar", absolute_path, G_N_ELEMENTS (absolute_path),
      "*points outside it*" },
    { "symlink.tar.gz", through_symlink, G_N_ELEMENTS (through_symlink),
      "*cannot be extracted safely*symlink*" },
    { "relative-symlink.tar", through_relative_symlink,
      G_N_ELEMENTS (through_relative_symlink),
      "*cannot be extracted safely*symlink*" },
    { "hardlink.tar", hardlink_outside, G_N_ELEMENTS (hardlink_outside),
      "*points outside it (“passwd”, a hard link to "
      "“../../../outside/target”)*" },
    { "hardlink-absolute.tar", hardlink_absolute,
      G_N_ELEMENTS (hardlink_absolute),
      "*points outside it (“passwd”, a hard link to “/etc/passwd”)*" },
    { "below-a-file.tar", below_a_file, G_N_ELEMENTS (below_a_file),
      "*cannot be extracted safely*etc/passwd*" },
    { "hardlink-to-dir.tar", hardlink_to_dir, G_N_ELEMENTS (hardlink_to_dir),
      "*a hard link to a directory (“x” to “etc”)*" },
  };

  g_assert_cmpint (g_mkdir (outside, 0755), ==, 0);
  before = snapshot (outside);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *file = nlx_test_path (f->other, cases[i].file);

      write_tarball (file, g_str_has_suffix (file, ".gz")
                             ? ARCHIVE_FILTER_GZIP : ARCHIVE_FILTER_NONE,
                     cases[i].members, cases[i].n_members, NULL);
      assert_refused (store, file, "hostile", NULL,
                      NLX_DRIVER_ERROR_INVALID_ARGUMENT, cases[i].pattern);
      g_assert_false (g_file_test (outside_file, G_FILE_TEST_EXISTS));
      g_assert_false (g_file_test (absolute, G_FILE_TEST_EXISTS));
    }
  after = snapshot (outside);
  g_assert_cmpstr (after, ==, before);
}

static void
truncate_file (const char *from,
               const char *to,
               gsize keep)
{
  g_autofree char *contents = NULL;
  gsize len;

  g_assert_true (g_file_get_contents (from, &contents, &len, NULL));
  g_assert_cmpuint (keep, <, len);
  g_assert_true (g_file_set_contents (to, contents, keep, NULL));
}

static void
case_refuse_truncated (Fixture *f)
{
  g_autoptr(NlxImageStore) store = open_store (f);
  g_autofree char *big = g_strnfill (200 * 1024, 'x');
  g_autofree char *random_data = NULL;
  const Member members[] = {
    { "etc/", 'd', NULL, 0755, 0 },
    { "etc/big", 'f', big, 0644, 0 },
    { "etc/random", 'f', NULL, 0644, 0 },
    { "etc/after", 'f', "after\n", 0644, 0 },
  };
  Member with_random[G_N_ELEMENTS (members)];
  g_autofree char *tar = nlx_test_path (f->other, "whole.tar");
  g_autofree char *tar_cut = nlx_test_path (f->other, "cut.tar");
  g_autofree char *gz = nlx_test_path (f->other, "whole.tar.gz");
  g_autofree char *gz_cut = nlx_test_path (f->other, "cut.tar.gz");
  g_autoptr(GRand) rand = g_rand_new_with_seed (42);
  g_autoptr(NlxStoredImage) image = NULL;
  GString *noise = g_string_new (NULL);
  struct stat st;

  /* Random text, so that compression keeps the archive big enough to
   * cut in the middle of a member. */
  for (guint i = 0; i < 64 * 1024; i++)
    g_string_append_c (noise, 'a' + g_rand_int_range (rand, 0, 26));
  random_data = g_string_free (noise, FALSE);
  memcpy (with_random, members, sizeof members);
  with_random[2].data = random_data;

  write_tarball (tar, ARCHIVE_FILTER_NONE, with_random,
                 G_N_ELEMENTS (with_random), NULL);
  write_tarball (gz, ARCHIVE_FILTER_GZIP, with_random,
                 G_N_ELEMENTS (with_random), NULL);
  /* In the middle of etc/big's data. */
  truncate_file (tar, tar_cut, 100 * 1024);
  g_assert_cmpint (stat (gz, &st), ==, 0);
  truncate_file (gz, gz_cut, st.st_size / 2);

  assert_refused (store, tar_cut, "cut", NULL,
                  NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                  "Cannot extract root tarball *cut.tar: *runcated*");
  assert_refused (store, gz_cut, "cut", NULL,
                  NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                  "Cannot extract root tarball *cut.tar.gz: *");
  /* The whole one is fine. */
  image = import_ok (store, gz, "whole", NULL);
  g_assert_cmpuint (image->tree_size_bytes, ==,
                    200 * 1024 + 64 * 1024 + strlen ("after\n"));
}

/* Files that are neither root tarballs nor disk images are refused at
 * once, without starting libguestfs's appliance. */
static void
case_refuse_junk (Fixture *f)
{
  g_autoptr(NlxImageStore) store = open_store (f);
  g_autoptr(GRand) rand = g_rand_new_with_seed (20240501);
  g_autofree guchar *noise = g_malloc (256 * 1024);
  g_autofree char *random_file = nlx_test_path (f->other, "random.img");
  g_autofree char *text = nlx_test_path (f->other, "notes.txt");
  g_autofree char *empty = nlx_test_path (f->other, "empty.tar");
  g_autofree char *zeros = nlx_test_path (f->other, "zeros.img");
  g_autofree char *empty_tar = nlx_test_path (f->other, "nothing.tar.gz");
  g_autofree char *not_tar_gz = nlx_test_path (f->other, "not-tar.gz");
  g_autofree char *bzip2 = nlx_test_path (f->other, "root.tar.bz2");
  g_autofree char *backed = nlx_test_path (f->other, "backed.qcow2");
  g_autofree char *bad_qcow2 = nlx_test_path (f->other, "bad.qcow2");
  g_autofree char *zero_block = g_malloc0 (1024 * 1024);
  guchar qcow2[512] = { 'Q', 'F', 'I', 0xfb, 0, 0, 0, 3 };
  gint64 start = g_get_monotonic_time ();
  struct archive *a;

  for (guint i = 0; i < 256 * 1024; i++)
    noise[i] = g_rand_int_range (rand, 0, 256);
  g_assert_true (g_file_set_contents (random_file, (char *) noise,
                                      256 * 1024, NULL));
  assert_refused (store, random_file, "junk", NULL,
                  NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                  "Cannot import *random.img: it is neither a root tarball "
                  "(tar, plain or compressed with gzip, xz or zstd) nor a "
                  "disk image*");

  g_assert_true (g_file_set_contents (text, "Just some notes.\nNothing "
                                      "to see here.\n", -1, NULL));
  assert_refused (store, text, "junk", NULL,
                  NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                  "*notes.txt: it is neither a root tarball*");

  g_assert_true (g_file_set_contents (empty, "", 0, NULL));
  assert_refused (store, empty, "junk", NULL,
                  NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                  "*empty.tar: the file is empty");

  /* An empty raw disk, or an empty tar archive: the same bytes. */
  g_assert_true (g_file_set_contents (zeros, zero_block, 1024 * 1024, NULL));
  assert_refused (store, zeros, "junk", NULL,
                  NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                  "*zeros.img: it is an empty tar archive, or a disk image "
                  "holding nothing but zeros*");
  write_tarball (empty_tar, ARCHIVE_FILTER_GZIP, NULL, 0, NULL);
  assert_refused (store, empty_tar, "junk", NULL,
                  NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                  "*nothing.tar.gz: it is an empty tar archive (compressed "
                  "with gzip)*");

  /* gzip, but of something else than a tar archive. */
  a = archive_write_new ();
  g_assert_cmpint (archive_write_set_format_raw (a), ==, ARCHIVE_OK);
  g_assert_cmpint (archive_write_add_filter_gzip (a), ==, ARCHIVE_OK);
  g_assert_cmpint (archive_write_open_filename (a, not_tar_gz), ==,
                   ARCHIVE_OK);
  {
    struct archive_entry *entry = archive_entry_new ();

    archive_entry_set_pathname (entry, "x");
    archive_entry_set_filetype (entry, AE_IFREG);
    archive_entry_set_size (entry, 4096);
    g_assert_cmpint (archive_write_header (a, entry), ==, ARCHIVE_OK);
    g_assert_cmpint (archive_write_data (a, noise, 4096), ==, 4096);
    archive_entry_free (entry);
  }
  g_assert_cmpint (archive_write_close (a), ==, ARCHIVE_OK);
  archive_write_free (a);
  assert_refused (store, not_tar_gz, "junk", NULL,
                  NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                  "*not-tar.gz: it is compressed with gzip but does not hold "
                  "a tar archive nova-lxc can read*");

  /* A compressor nova-lxc does not take. */
  a = archive_write_new ();
  if (archive_write_add_filter_bzip2 (a) == ARCHIVE_OK)
    {
      archive_write_free (a);
      write_tarball (bzip2, ARCHIVE_FILTER_BZIP2, rootfs_members,
                     G_N_ELEMENTS (rootfs_members), NULL);
      assert_refused (store, bzip2, "junk", NULL,
                      NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                      "*root.tar.bz2: it is neither a root tarball*");
    }
  else
    archive_write_free (a);

  /* A qcow2 image naming a backing file: qemu would read a host file. */
  qcow2[15] = 104;            /* backing_file_offset */
  qcow2[19] = 11;             /* backing_file_size */
  memcpy (qcow2 + 104, "/etc/shadow", 11);
  g_assert_true (g_file_set_contents (backed, (char *) qcow2, sizeof qcow2,
                                      NULL));
  assert_refused (store, backed, "junk", NULL,
                  NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                  "*backed.qcow2: it has a backing file*");
  /* One with an external data file. */
  qcow2[15] = 0;
  qcow2[19] = 0;
  qcow2[79] = 1 << 2;         /* incompatible_features: external data */
  g_assert_true (g_file_set_contents (bad_qcow2, (char *) qcow2, sizeof qcow2,
                                      NULL));
  assert_refused (store, bad_qcow2, "junk", NULL,
                  NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                  "*bad.qcow2: its data lives in an external data file*");
  /* One that is nothing but the magic. */
  g_assert_true (g_file_set_contents (bad_qcow2, "QFI\xfb", 4, NULL));
  assert_refused (store, bad_qcow2, "junk", NULL,
                  NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                  "*bad.qcow2: it starts like a qcow2 image but its header "
                  "is truncated*");

  /* No appliance was started for any of these. */
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
}

static void
case_delete (Fixture *f)
{
  g_autoptr(NlxImageStore) store = open_store (f);
  g_autofree char *outside = nlx_test_path (f->dir, "outside");
  g_autofree char *precious = nlx_test_path (outside, "precious");
  g_autofree char *empty = snapshot (f->store_dir);
  g_autofree char *file = NULL;
  g_autofree char *other = NULL;
  g_autofree char *rootfs = NULL;
  g_autofree char *after = NULL;
  g_autoptr(NlxStoredImage) image = NULL;
  g_autoptr(NlxStoredImage) second = NULL;
  g_autoptr(NlxStoredImage) gone = NULL;
  g_autoptr(GPtrArray) images = NULL;
  g_autoptr(GError) error = NULL;
  /* Links out of the tree, which deleting must not follow. */
  const Member members[] = {
    { "etc/", 'd', NULL, 0755, 0 },
    { "etc/hosts", 'f', "127.0.0.1 localhost\n", 0644, 0 },
    { "outside", 'l', outside, 0777, 0 },
    { "etc/precious", 'l', precious, 0777, 0 },
  };

  g_assert_cmpint (g_mkdir (outside, 0755), ==, 0);
  g_assert_true (g_file_set_contents (precious, "keep me\n", -1, NULL));
  file = nlx_test_path (f->other, "links.tar");
  write_tarball (file, ARCHIVE_FILTER_NONE, members, G_N_ELEMENTS (members),
                 NULL);
  other = make_rootfs_tarball (f, "other.tar.xz", ARCHIVE_FILTER_XZ, NULL);

  image = import_ok (store, file, "links", NULL);
  second = import_ok (store, other, "other", NULL);
  rootfs = nlx_image_store_get_rootfs (store, image);

  g_assert_true (nlx_image_store_delete (store, "links", &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (rootfs, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (precious, G_FILE_TEST_IS_REGULAR));
  gone = nlx_image_store_lookup (store, "links", &error);
  g_assert_null (gone);
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_NOT_FOUND);
  g_clear_error (&error);
  gone = nlx_image_store_lookup (store, image->id, &error);
  g_assert_null (gone);
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_assert_false (nlx_image_store_delete (store, "links", &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (nlx_image_store_delete (store, image->id, &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (nlx_image_store_delete (store, "../other", &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  images = nlx_image_store_list (store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (images->len, ==, 1);
  g_assert_cmpstr (((NlxStoredImage *) images->pdata[0])->name, ==, "other");

  /* By id; then the store is as it was before any import. */
  g_assert_true (nlx_image_store_delete (store, second->id, &error));
  g_assert_no_error (error);
  after = snapshot (f->store_dir);
  g_assert_cmpstr (after, ==, empty);

  /* A deleted image can be imported again. */
  g_clear_pointer (&image, nlx_stored_image_free);
  image = import_ok (store, file, "links", NULL);
}

/* A damaged record hides its image only, with a warning naming its file
 * (never in the error, which callers show to API clients); its tree is
 * kept, since that record may use it. */
static void
case_damaged_record (Fixture *f)
{
  g_autoptr(NlxImageStore) store = open_store (f);
  g_autofree char *one = make_rootfs_tarball (f, "one.tar", ARCHIVE_FILTER_NONE,
                                              "one");
  g_autofree char *two = make_rootfs_tarball (f, "two.tar", ARCHIVE_FILTER_NONE,
                                              "two");
  g_autoptr(NlxStoredImage) first = import_ok (store, one, "one", NULL);
  g_autoptr(NlxStoredImage) second = import_ok (store, two, "two", NULL);
  g_autoptr(NlxStoredImage) found = NULL;
  g_autoptr(NlxStoredImage) third = NULL;
  g_autofree char *record = g_strdup_printf ("%s/records/%s.json",
                                             f->store_dir, second->id);
  g_autofree char *rootfs = nlx_image_store_get_rootfs (store, second);
  g_autoptr(GPtrArray) images = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (g_file_set_contents (record, "{\"id\": 1}", -1, NULL));
  g_test_expect_message ("nova-lxc", G_LOG_LEVEL_WARNING,
                         "Image record */records/*.json is damaged*");
  images = nlx_image_store_list (store, &error);
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  g_assert_cmpuint (images->len, ==, 1);
  g_assert_cmpstr (((NlxStoredImage *) images->pdata[0])->name, ==, "one");

  g_test_expect_message ("nova-lxc", G_LOG_LEVEL_WARNING,
                         "Image record */records/*.json is damaged*");
  found = nlx_image_store_lookup (store, second->id, &error);
  g_test_assert_expected_messages ();
  g_assert_null (found);
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED);
  g_assert_null (strstr (error->message, f->store_dir));
  g_assert_nonnull (strstr (error->message, second->id));
  g_clear_error (&error);

  /* Deleting the last readable image, and opening again, keep its tree. */
  g_clear_pointer (&store, nlx_image_store_free);
  store = open_store (f);
  g_assert_true (g_file_test (rootfs, G_FILE_TEST_IS_DIR));
  /* Names are checked before and at the commit, and the size of the
   * shared tree is looked up among the records: three reads. */
  for (guint i = 0; i < 3; i++)
    g_test_expect_message ("nova-lxc", G_LOG_LEVEL_WARNING,
                           "Image record */records/*.json is damaged*");
  third = import_ok (store, two, "three", NULL);
  g_test_assert_expected_messages ();
  g_test_expect_message ("nova-lxc", G_LOG_LEVEL_WARNING,
                         "Image * is deleted; its tree * is kept*");
  g_assert_true (nlx_image_store_delete (store, third->id, &error));
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  g_assert_true (g_file_test (rootfs, G_FILE_TEST_IS_DIR));
}

/* Whether anything opened or read the file @inotify watches since. */
static gboolean
was_read (int inotify)
{
  char events[4096];

  if (read (inotify, events, sizeof events) > 0)
    return TRUE;
  g_assert_cmpint (errno, ==, EAGAIN);
  return FALSE;
}

/* @path becomes a new file (a new inode) holding the root tagged @tag. */
static void
replace_tarball (Fixture *f,
                 const char *path,
                 const char *tag)
{
  g_autofree char *fresh = make_rootfs_tarball (f, "fresh.tar",
                                                ARCHIVE_FILTER_NONE, tag);

  g_assert_cmpint (g_rename (fresh, path), ==, 0);
}

/* A tarball named in the configuration is stored once by content, shared
 * with an imported image of the same bytes; importing it again while it
 * is unchanged, and finding its tree, never open it; a changed one is
 * imported again, its earlier tree kept until the caller says no server
 * can use it; a broken one is refused and keeps what is stored. */
static void
case_config_tarball (Fixture *f)
{
  g_autoptr(NlxImageStore) store = open_store (f);
  g_autofree char *path = make_rootfs_tarball (f, "conf.tar",
                                               ARCHIVE_FILTER_NONE, "a");
  g_autoptr(NlxStoredImage) same = NULL;
  g_autoptr(GPtrArray) configs = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *rootfs = NULL;
  g_autofree char *first = NULL;
  gboolean imported = FALSE;
  gboolean changed = TRUE;
  int inotify;

  g_assert_true (nlx_image_store_import_config (store, "conf", path, TRUE,
                                                &imported, &error));
  g_assert_no_error (error);
  g_assert_true (imported);
  g_assert_cmpuint (count_trees (f->store_dir), ==, 1);
  /* The same bytes imported through the API share the tree. */
  same = import_ok (store, path, "same", NULL);
  g_assert_cmpuint (count_trees (f->store_dir), ==, 1);

  inotify = inotify_init1 (IN_NONBLOCK | IN_CLOEXEC);
  g_assert_cmpint (inotify, >=, 0);
  g_assert_cmpint (inotify_add_watch (inotify, path, IN_OPEN | IN_ACCESS), >=, 0);
  g_clear_pointer (&store, nlx_image_store_free);
  store = open_store (f);
  g_assert_true (nlx_image_store_import_config (store, "conf", path, TRUE,
                                                &imported, &error));
  g_assert_false (imported);
  first = nlx_image_store_get_config_rootfs (store, "conf", path, &changed,
                                             &error);
  g_assert_no_error (error);
  g_assert_false (changed);
  g_assert_null (strstr (first, path));
  assert_file (first, "tag", "a", 0644, 0);
  g_assert_false (was_read (inotify));
  close (inotify);
  /* Deleting the imported image leaves the tree the config uses. */
  g_assert_true (nlx_image_store_delete (store, same->id, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_test (first, G_FILE_TEST_IS_DIR));

  /* Changed: servers keep the old tree until it is imported again. */
  replace_tarball (f, path, "b");
  rootfs = nlx_image_store_get_config_rootfs (store, "conf", path, &changed,
                                              &error);
  g_assert_true (changed);
  g_assert_cmpstr (rootfs, ==, first);
  g_clear_pointer (&rootfs, g_free);
  g_assert_true (nlx_image_store_import_config (store, "conf", path, FALSE,
                                                &imported, &error));
  g_assert_true (imported);
  g_assert_cmpuint (count_trees (f->store_dir), ==, 2);
  rootfs = nlx_image_store_get_config_rootfs (store, "conf", path, &changed,
                                              &error);
  g_assert_false (changed);
  assert_file (rootfs, "tag", "b", 0644, 0);
  /* No server left on the old one: it goes. */
  g_assert_true (nlx_image_store_import_config (store, "conf", path, TRUE,
                                                &imported, &error));
  g_assert_false (imported);
  g_assert_cmpuint (count_trees (f->store_dir), ==, 1);
  g_assert_false (g_file_test (first, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (rootfs, G_FILE_TEST_IS_DIR));

  /* Broken: refused, the image cannot boot, its tree stays. */
  g_assert_true (g_file_set_contents (path, "not a tarball", -1, NULL));
  g_assert_false (nlx_image_store_import_config (store, "conf", path, TRUE,
                                                 NULL, &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_clear_pointer (&rootfs, g_free);
  rootfs = nlx_image_store_get_config_rootfs (store, "conf", path, &changed,
                                              &error);
  g_assert_null (rootfs);
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_cmpuint (count_trees (f->store_dir), ==, 1);

  /* Gone from the configuration: its record and tree go. */
  configs = nlx_image_store_list_configs (store);
  g_assert_cmpuint (configs->len, ==, 1);
  g_assert_cmpstr (configs->pdata[0], ==, "conf");
  g_clear_pointer (&configs, g_ptr_array_unref);
  nlx_image_store_forget_config (store, "conf");
  g_assert_cmpuint (count_trees (f->store_dir), ==, 0);
  configs = nlx_image_store_list_configs (store);
  g_assert_cmpuint (configs->len, ==, 0);
}

int
main (int argc,
      char **argv)
{
  static const struct {
    const char *path;
    CaseFunc body;
  } cases[] = {
    { "/nlx/image-store/open", case_open },
    { "/nlx/image-store/import/formats", case_import_formats },
    { "/nlx/image-store/import/duplicate", case_duplicate },
    { "/nlx/image-store/legacy-layout", case_legacy_layout },
    { "/nlx/image-store/refuse/arguments", case_refuse_arguments },
    { "/nlx/image-store/refuse/hostile", case_refuse_hostile },
    { "/nlx/image-store/refuse/truncated", case_refuse_truncated },
    { "/nlx/image-store/refuse/junk", case_refuse_junk },
    { "/nlx/image-store/delete", case_delete },
    { "/nlx/image-store/damaged-record", case_damaged_record },
    { "/nlx/image-store/config-tarball", case_config_tarball },
  };

  g_test_init (&argc, &argv, NULL);
  g_test_summary ("Importing root tarballs into the image store, listing, "
                  "looking up, deleting, and refusing bad ones.");
  g_test_add_func ("/nlx/image-store/names", test_names);
  g_test_add_func ("/nlx/image-store/formats", test_formats);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    g_test_add (cases[i].path, Fixture, cases[i].body, fixture_setup,
                run_case, fixture_teardown);
  return g_test_run ();
}
