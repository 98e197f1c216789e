/* test-image-import.c: importing raw and qcow2 disk images into the image
 * store, through libguestfs's appliance
 *
 * Each case builds a small ext4 disk image with mkfs.ext4 -d (nothing is
 * mounted on the host), imports it and checks the tree that comes out.
 * Every import starts the appliance once, which takes about half a minute
 * without KVM (boot, then inspection); the raw and qcow2 imports run side
 * by side, which also tests two imports into one store at once.  Each
 * case runs its body in a subprocess over a temporary directory its
 * parent made and removes, even when the body fails.
 *
 * They need root, mkfs.ext4, /bin/busybox (the image's shell) and a
 * libguestfs that can start its appliance.  Without them the cases are
 * skipped with the reason, unless NLX_TEST_REQUIRE_HOST is set
 * (tools/check sets it), when they fail.  Without qemu-img, only the raw
 * image is imported and the case is reported skipped, saying so.  One
 * more import runs with descriptors above 1024 in use (high-fds). */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/nlx-error.h"
#include "common/nlx-file.h"
#include "lib/nlx-test-tools.h"
#include "storage/nlx-image-store.h"

#define IMAGE_SIZE "64M"
#define BUSYBOX "/bin/busybox"
#define OS_RELEASE "ID=nlxtest\nNAME=\"nova-lxc test\"\nVERSION_ID=1\n"
#define INIT "#!/bin/sh\nexec /bin/sh\n"
#define NOTES "only for uid 1000\n"
/* Where a body that found the appliance unusable says why. */
#define SKIP_FILE "skip-reason"
/* Where a body says which part it could not run. */
#define PARTIAL_FILE "partial-reason"

typedef struct {
  char *dir;
  gboolean usable;
} Fixture;

typedef void (*CaseFunc) (Fixture *f);

typedef struct {
  const char *path;
  CaseFunc body;
} Case;

/* Once an appliance failed to start, later cases do not try again. */
static char *appliance_problem;

/* ---- helpers ----------------------------------------------------------- */

static void
write_file (const char *root,
            const char *name,
            const char *contents,
            mode_t mode,
            uid_t uid)
{
  g_autofree char *path = nlx_test_path (root, name);
  g_autofree char *dir = g_path_get_dirname (path);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_assert_true (g_file_set_contents (path, contents, -1, NULL));
  g_assert_cmpint (chmod (path, mode), ==, 0);
  g_assert_cmpint (lchown (path, uid, uid), ==, 0);
}

/* A tree that libguestfs's inspection takes for a Linux root: /etc with
 * os-release, hosts and fstab, /bin with a shell (busybox), /sbin/init. */
static char *
make_linux_tree (Fixture *f)
{
  char *tree = nlx_test_path (f->dir, "linux-tree");
  g_autofree char *busybox = NULL;
  g_autofree char *bin = nlx_test_path (tree, "bin");
  g_autofree char *sh = nlx_test_path (bin, "sh");
  g_autofree char *ash = nlx_test_path (bin, "ash");
  gsize len;

  write_file (tree, "etc/os-release", OS_RELEASE, 0644, 0);
  write_file (tree, "etc/hosts", "127.0.0.1 localhost\n", 0644, 0);
  write_file (tree, "etc/fstab", "# nothing but the root\n", 0644, 0);
  write_file (tree, "sbin/init", INIT, 0755, 0);
  write_file (tree, "home/user/notes", NOTES, 0640, 1000);
  g_assert_true (g_file_get_contents (BUSYBOX, &busybox, &len, NULL));
  g_assert_cmpint (g_mkdir_with_parents (bin, 0755), ==, 0);
  g_assert_true (g_file_set_contents (sh, busybox, len, NULL));
  g_assert_cmpint (chmod (sh, 0755), ==, 0);
  g_assert_cmpint (symlink ("sh", ash), ==, 0);
  return tree;
}

/* A raw disk image holding one ext4 filesystem made from @tree. */
static char *
make_ext4_image (Fixture *f,
                 const char *name,
                 const char *tree)
{
  char *image = nlx_test_path (f->dir, name);

  nlx_test_run_tool ("mkfs.ext4", "-q", "-F", "-t", "ext4", "-E", "root_owner=0:0",
            "-d", tree, image, IMAGE_SIZE, NULL);
  return image;
}

static NlxImageStore *
open_store (Fixture *f)
{
  g_autofree char *dir = nlx_test_path (f->dir, "images");
  g_autoptr(GError) error = NULL;
  NlxImageStore *store = nlx_image_store_open (dir, &error);

  g_assert_no_error (error);
  return store;
}

/* Whether @error says the appliance cannot start here: then the body
 * leaves the reason for its parent, which skips the case. */
static gboolean
appliance_unusable (Fixture *f,
                    const GError *error)
{
  g_autofree char *skip = NULL;

  if (error == NULL ||
      !g_error_matches (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED) ||
      (strstr (error->message, "libguestfs's appliance") == NULL &&
       strstr (error->message, "libguestfs handle") == NULL))
    return FALSE;
  skip = nlx_test_path (f->dir, SKIP_FILE);
  g_assert_true (g_file_set_contents (skip, error->message, -1, NULL));
  return TRUE;
}

static void
assert_file (const char *root,
             const char *name,
             const char *contents,
             guint mode,
             guint uid)
{
  g_autofree char *path = nlx_test_path (root, name);
  g_autofree char *actual = NULL;
  struct stat st;

  g_assert_cmpint (lstat (path, &st), ==, 0);
  g_assert_true (S_ISREG (st.st_mode));
  g_assert_cmpuint (st.st_mode & 07777, ==, mode);
  g_assert_cmpuint (st.st_uid, ==, uid);
  g_assert_cmpuint (st.st_gid, ==, uid);
  g_assert_true (g_file_get_contents (path, &actual, NULL, NULL));
  g_assert_cmpstr (actual, ==, contents);
}

/* Checks that @image, imported from disk image @file, holds the tree of
 * make_linux_tree(). */
static void
check_image (NlxImageStore *store,
             const NlxStoredImage *image,
             const char *file,
             const char *format)
{
  g_autoptr(NlxStoredImage) found = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *checksum = nlx_test_file_checksum (file);
  g_autofree char *rootfs = NULL;
  g_autofree char *sh = NULL;
  g_autofree char *sh_checksum = NULL;
  g_autofree char *busybox_checksum = nlx_test_file_checksum (BUSYBOX);
  g_autofree char *ash = NULL;
  g_autofree char *target = NULL;
  struct stat st;

  g_assert_true (g_uuid_string_is_valid (image->id));
  g_assert_cmpstr (image->checksum, ==, checksum);
  g_assert_cmpstr (nlx_stored_image_format_to_string (image->format), ==,
                   format);
  g_assert_cmpint (stat (file, &st), ==, 0);
  g_assert_cmpuint (image->size_bytes, ==, st.st_size);

  rootfs = nlx_image_store_get_rootfs (store, image);
  assert_file (rootfs, "etc/os-release", OS_RELEASE, 0644, 0);
  assert_file (rootfs, "sbin/init", INIT, 0755, 0);
  /* Owners come out as numbers, not through the appliance's names. */
  assert_file (rootfs, "home/user/notes", NOTES, 0640, 1000);
  sh = nlx_test_path (rootfs, "bin/sh");
  g_assert_cmpint (stat (sh, &st), ==, 0);
  g_assert_cmpuint (st.st_mode & 07777, ==, 0755);
  g_assert_cmpuint (image->tree_size_bytes, >, st.st_size);
  sh_checksum = nlx_test_file_checksum (sh);
  g_assert_cmpstr (sh_checksum, ==, busybox_checksum);
  ash = nlx_test_path (rootfs, "bin/ash");
  target = g_file_read_link (ash, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (target, ==, "sh");

  found = nlx_image_store_lookup (store, image->name, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (found->id, ==, image->id);
}

typedef struct {
  NlxImageStore *store;
  const char *file;
  const char *name;
  NlxStoredImage *image;
  GError *error;
  double seconds;
} Import;

static gpointer
import_thread (gpointer data)
{
  Import *import = data;
  gint64 start = g_get_monotonic_time ();

  import->image = nlx_image_store_import (import->store, import->file,
                                          import->name, NULL, &import->error);
  import->seconds = (g_get_monotonic_time () - start) /
                    (double) G_USEC_PER_SEC;
  return NULL;
}

/* ---- fixture ----------------------------------------------------------- */

static char *
missing_requirement (void)
{
  g_autofree char *mkfs = nlx_test_find_tool ("mkfs.ext4");

  if (geteuid () != 0)
    return g_strdup ("not root");
  if (mkfs == NULL)
    return g_strdup ("no mkfs.ext4 (e2fsprogs)");
  if (!g_file_test (BUSYBOX, G_FILE_TEST_IS_EXECUTABLE))
    return g_strdup ("no " BUSYBOX " to make the image's shell");
  if (appliance_problem != NULL)
    return g_strdup (appliance_problem);
  return NULL;
}

static void
skip_or_fail (const char *reason)
{
  nlx_test_host_unusable ("cannot import disk images: %s", reason);
}

static void
fixture_setup (Fixture *f,
               gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *missing = missing_requirement ();

  if (missing != NULL)
    {
      skip_or_fail (missing);
      return;
    }
  f->usable = TRUE;
  f->dir = nlx_test_case_dir ("nlxtest-image-import-XXXXXX");
}

static void
fixture_teardown (Fixture *f,
                  gconstpointer data G_GNUC_UNUSED)
{
  nlx_test_case_dir_remove (f->dir);
  g_free (f->dir);
}

static void
run_case (Fixture *f,
          gconstpointer data)
{
  const Case *c = data;
  g_autofree char *skip = NULL;
  g_autofree char *reason = NULL;

  if (!f->usable)
    return;
  if (!NLX_TEST_RUN_BODY (c->body, f, 300))
    return;
  skip = nlx_test_path (f->dir, SKIP_FILE);
  if (g_file_get_contents (skip, &reason, NULL, NULL))
    {
      appliance_problem = g_strdup (reason);
      skip_or_fail (reason);
      return;
    }
  /* What ran passed; what could not run is reported as skipped. */
  g_clear_pointer (&skip, g_free);
  skip = nlx_test_path (f->dir, PARTIAL_FILE);
  if (g_file_get_contents (skip, &reason, NULL, NULL))
    g_test_skip (reason);
}

/* ---- cases ------------------------------------------------------------- */

/* A raw image and a qcow2 copy, imported side by side into one store:
 * two appliances at once take little longer than one. */
static void
case_disk_images (Fixture *f)
{
  g_autoptr(NlxImageStore) store = open_store (f);
  g_autofree char *tree = make_linux_tree (f);
  g_autofree char *raw = make_ext4_image (f, "linux.img", tree);
  g_autofree char *qcow2 = nlx_test_path (f->dir, "linux.qcow2");
  g_autofree char *qemu_img = nlx_test_find_tool ("qemu-img");
  Import imports[] = {
    { store, raw, "linux-raw", NULL, NULL, 0 },
    { store, qcow2, "linux-qcow2", NULL, NULL, 0 },
  };
  GThread *threads[G_N_ELEMENTS (imports)] = { NULL };
  guint n = G_N_ELEMENTS (imports);
  gboolean unusable = FALSE;

  if (qemu_img != NULL)
    nlx_test_run_tool ("qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, qcow2,
              NULL);
  else
    {
      g_autofree char *partial = nlx_test_path (f->dir, PARTIAL_FILE);

      g_assert_true (g_file_set_contents (partial, "no qemu-img: the qcow2 "
                                          "import was not tested", -1, NULL));
      n = 1;
    }

  for (guint i = 0; i < n; i++)
    threads[i] = g_thread_new ("import", import_thread, &imports[i]);
  for (guint i = 0; i < n; i++)
    g_thread_join (threads[i]);
  for (guint i = 0; i < n; i++)
    if (appliance_unusable (f, imports[i].error))
      unusable = TRUE;
  for (guint i = 0; i < n && !unusable; i++)
    {
      g_assert_no_error (imports[i].error);
      g_test_message ("imported %s in %.1f s", imports[i].file,
                      imports[i].seconds);
      check_image (store, imports[i].image, imports[i].file,
                   i == 0 ? "raw" : "qcow2");
    }

  /* Nothing else in the store: the images' trees and the records
   * alone, no work left over. */
  if (!unusable)
    {
      g_autofree char *entries = nlx_test_list_dir (nlx_image_store_get_dir (store));
      g_autofree char *expected = NULL;
      const char *a = imports[0].image->checksum;
      const char *b = n > 1 ? imports[1].image->checksum : NULL;

      /* Sorted: hexadecimal digits come before "records". */
      if (b == NULL)
        expected = g_strjoin (" ", a, "records", NULL);
      else if (strcmp (a, b) < 0)
        expected = g_strjoin (" ", a, b, "records", NULL);
      else
        expected = g_strjoin (" ", b, a, "records", NULL);
      g_assert_cmpstr (entries, ==, expected);
    }

  for (guint i = 0; i < n; i++)
    {
      g_clear_pointer (&imports[i].image, nlx_stored_image_free);
      g_clear_error (&imports[i].error);
    }
}

/* A filesystem, but no operating system on it. */
static void
case_no_root (Fixture *f)
{
  g_autofree char *tree = nlx_test_path (f->dir, "data-tree");
  g_autofree char *image = NULL;
  g_autofree char *store_dir = NULL;
  g_autofree char *entries = NULL;
  g_autoptr(NlxImageStore) store = open_store (f);
  g_autoptr(NlxStoredImage) stored = NULL;
  g_autoptr(GError) error = NULL;

  write_file (tree, "data/file", "just data\n", 0644, 0);
  write_file (tree, "etc-not/hosts", "127.0.0.1 localhost\n", 0644, 0);
  image = make_ext4_image (f, "data.img", tree);

  stored = nlx_image_store_import (store, image, "data", NULL, &error);
  if (appliance_unusable (f, error))
    return;
  g_assert_null (stored);
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  g_test_message ("refused as expected: %s", error->message);
  if (!g_pattern_match_simple ("Cannot import disk image *data.img: no Linux "
                               "root filesystem found*", error->message))
    g_error ("unexpected message: %s", error->message);

  /* Nothing left but the (empty) directory of records. */
  store_dir = nlx_test_path (f->dir, "images");
  entries = nlx_test_list_dir (store_dir);
  g_assert_cmpstr (entries, ==, "records");
  g_clear_pointer (&store_dir, g_free);
  store_dir = g_build_filename (f->dir, "images", "records", NULL);
  g_clear_pointer (&entries, g_free);
  entries = nlx_test_list_dir (store_dir);
  g_assert_cmpstr (entries, ==, "");
}

/* With descriptors of 1024 and more in use, as in a daemon holding many
 * connections: libguestfs waits for its subprocesses with select(), and
 * glibc aborts on FD_SET of such a descriptor ("bit out of range 0 -
 * FD_SETSIZE on fd_set"), so libguestfs must not run in this process. */
static void
case_high_fds (Fixture *f)
{
  g_autoptr(NlxImageStore) store = open_store (f);
  g_autofree char *tree = make_linux_tree (f);
  g_autofree char *raw = make_ext4_image (f, "linux.img", tree);
  g_autoptr(NlxStoredImage) image = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) held = g_array_new (FALSE, FALSE, sizeof (int));
  struct rlimit limit;
  int next;

  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &limit), ==, 0);
  if (limit.rlim_cur < 4096)
    {
      limit.rlim_cur = 4096;
      if (limit.rlim_max < limit.rlim_cur)
        limit.rlim_max = limit.rlim_cur;
      g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &limit), ==, 0);
    }
  /* Every number up to 1024 taken: whatever opens next gets more. */
  while ((next = open ("/dev/null", O_RDONLY | O_CLOEXEC)) <= FD_SETSIZE)
    {
      g_assert_cmpint (next, >=, 0);
      g_array_append_val (held, next);
    }
  close (next);
  next = open ("/dev/null", O_RDONLY | O_CLOEXEC);
  g_assert_cmpint (next, >, FD_SETSIZE);
  close (next);

  image = nlx_image_store_import (store, raw, "linux-high-fds", NULL, &error);
  for (guint i = 0; i < held->len; i++)
    close (g_array_index (held, int, i));
  if (appliance_unusable (f, error))
    return;
  g_assert_no_error (error);
  check_image (store, image, raw, "raw");
}

int
main (int argc,
      char **argv)
{
  static const Case cases[] = {
    { "/nlx/image-import/raw-and-qcow2", case_disk_images },
    { "/nlx/image-import/no-linux-root", case_no_root },
    { "/nlx/image-import/high-fds", case_high_fds },
  };

  g_test_init (&argc, &argv, NULL);
  g_test_summary ("Importing raw and qcow2 disk images into the image store "
                  "through libguestfs's appliance (needs root).");
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    g_test_add (cases[i].path, Fixture, &cases[i], fixture_setup, run_case,
                fixture_teardown);
  return g_test_run ();
}
