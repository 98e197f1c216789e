/* test-mount.c: read-only loop devices and host-made mounts, on the real
 * kernel
 *
 * Every case runs its body in a subprocess; the parent's teardown then
 * unmounts what is left under the case's temporary directory, frees the
 * loop devices the case named and removes the directory, even when an
 * assertion killed the body.  Processes standing for containers (a
 * process in a mount namespace of its own) die with the body
 * (PR_SET_PDEATHSIG), and their namespace with them.  Objects carry names
 * no operator uses: loop devices named "nlxtest:*", directories
 * nlxtest-mount-*.
 *
 * They need root, loop devices and e2fsprogs; without them the cases are
 * skipped with the reason, unless NLX_TEST_REQUIRE_HOST is set
 * (tools/check sets it), when they fail. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <glib/gstdio.h>

#include "common/nlx-error.h"
#include "common/nlx-file.h"
#include "host/nlx-mount.h"
#include "lib/nlx-test-tools.h"
#include "lxc/nlx-lxc-disk.h"

#define IMAGE_SIZE (16 * 1024 * 1024)
#define PAYLOAD "nlxtest payload\n"

typedef struct {
  char *dir;      /* private: images, mount points, whatever a case adds */
  char *prefix;   /* of the names of this case's loop devices */
  gboolean usable;
} Fixture;

typedef void (*CaseFunc) (Fixture *f);

static char *
missing_requirement (void)
{
  static const char * const programs[] = { "mkfs.ext4", "debugfs",
                                           "dumpe2fs", "tune2fs",
                                           "mkfs.ext2" };

  if (geteuid () != 0)
    return g_strdup ("not root");
  if (!g_file_test ("/dev/loop-control", G_FILE_TEST_EXISTS))
    return g_strdup ("no /dev/loop-control");
  for (guint i = 0; i < G_N_ELEMENTS (programs); i++)
    {
      g_autofree char *path = g_find_program_in_path (programs[i]);

      if (path == NULL)
        return g_strdup_printf ("no %s (e2fsprogs)", programs[i]);
    }
  return NULL;
}

static void
fixture_setup (Fixture *f,
               gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *missing = missing_requirement ();
  g_autofree char *prefix = NULL;

  if (missing != NULL)
    {
      nlx_test_host_unusable ("cannot test mounts: %s", missing);
      return;
    }
  f->usable = TRUE;
  /* The parent makes them; the body in its subprocess uses the same. */
  f->dir = nlx_test_case_dir ("nlxtest-mount-XXXXXX");
  if (!g_test_subprocess ())
    prefix = g_strdup_printf ("nlxtest:%08x:", g_random_int ());
  f->prefix = nlx_test_case_shared ("NLX_TEST_LOOP_PREFIX", prefix);
}

/* Mount points of this process's namespace under @dir, deepest first. */
static GPtrArray *
mounts_under (const char *dir)
{
  g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *contents = NULL;
  g_autofree char *prefix = g_strconcat (dir, "/", NULL);
  g_auto(GStrv) lines = NULL;

  g_assert_true (g_file_get_contents ("/proc/self/mountinfo", &contents,
                                      NULL, NULL));
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) fields = g_strsplit (lines[i], " ", 6);
      g_autofree char *mount_point = NULL;

      if (g_strv_length (fields) < 5)
        continue;
      /* g_strcompress() undoes mountinfo's octal escapes (\040...) */
      mount_point = g_strcompress (fields[4]);
      if (g_str_has_prefix (mount_point, prefix) ||
          strcmp (mount_point, dir) == 0)
        g_ptr_array_insert (found, 0, g_steal_pointer (&mount_point));
    }
  return g_steal_pointer (&found);
}

static void
fixture_teardown (Fixture *f,
                  gconstpointer data G_GNUC_UNUSED)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) mounts = NULL;
  g_autoptr(GPtrArray) loops = NULL;
  gint64 deadline;

  if (!f->usable || g_test_subprocess ())
    goto out;

  /* Mounts stack, so unmount until nothing is left. */
  for (int round = 0; round < 8; round++)
    {
      g_clear_pointer (&mounts, g_ptr_array_unref);
      mounts = mounts_under (f->dir);
      if (mounts->len == 0)
        break;
      for (guint i = 0; i < mounts->len; i++)
        umount2 (mounts->pdata[i], MNT_DETACH | UMOUNT_NOFOLLOW);
    }
  g_assert_cmpuint (mounts->len, ==, 0);

  /* A lazily released mount lets its loop device go a moment later. */
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  do
    {
      g_clear_pointer (&loops, g_ptr_array_unref);
      loops = nlx_loop_find_prefix (f->prefix);
      for (guint i = 0; i < loops->len; i++)
        {
          g_assert_true (nlx_loop_detach (loops->pdata[i], &error));
          g_assert_no_error (error);
        }
      if (loops->len > 0)
        g_usleep (50 * 1000);
    }
  while (loops->len > 0 && g_get_monotonic_time () < deadline);
  g_clear_pointer (&loops, g_ptr_array_unref);
  loops = nlx_loop_find_prefix (f->prefix);
  g_assert_cmpuint (loops->len, ==, 0);

  nlx_test_case_dir_remove (f->dir);

out:
  g_free (f->dir);
  g_free (f->prefix);
}

static void
run_case (Fixture *f,
          gconstpointer data)
{
  CaseFunc body = (CaseFunc) data;

  if (!f->usable)
    return;
  NLX_TEST_RUN_BODY (body, f, 120);
}

/* ---- helpers ----------------------------------------------------------- */

static char *
run_command (const char * const *argv)
{
  g_autoptr(GError) error = NULL;
  char *out = NULL;
  int status;

  g_spawn_sync (NULL, (char **) argv, NULL,
                G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                &out, NULL, &status, &error);
  g_assert_no_error (error);
  g_spawn_check_wait_status (status, &error);
  g_assert_no_error (error);
  return out;
}

static char *
make_dir (Fixture *f,
          const char *name)
{
  char *path = nlx_test_path (f->dir, name);

  g_assert_cmpint (g_mkdir_with_parents (path, 0755), ==, 0);
  return path;
}

static void
write_file (const char *path,
            const char *contents)
{
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
}

/* A 16 MiB file, all zeros. */
static char *
make_blank_image (Fixture *f,
                  const char *name)
{
  char *image = nlx_test_path (f->dir, name);
  int fd = open (image, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, IMAGE_SIZE), ==, 0);
  close (fd);
  return image;
}

/* An ext4 image holding "file" with PAYLOAD. */
static char *
make_ext4_image (Fixture *f,
                 const char *name)
{
  g_autofree char *content_name = g_strconcat (name, ".d", NULL);
  g_autofree char *content = make_dir (f, content_name);
  g_autofree char *file = g_build_filename (content, "file", NULL);
  char *image = make_blank_image (f, name);

  write_file (file, PAYLOAD);
  g_free (run_command ((const char * const []) {
    "mkfs.ext4", "-q", "-F", "-d", content, image, NULL }));
  return image;
}

static char *
loop_name (Fixture *f,
           const char *what)
{
  return g_strconcat (f->prefix, what, NULL);
}

static char *
attach (Fixture *f,
        const char *image,
        const char *what)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *name = loop_name (f, what);
  /* Writable, so that only nlx_loop_attach() makes the device read-only
   * (the kernel would for a read-only descriptor). */
  int fd = open (image, O_RDWR | O_CLOEXEC);
  char *device;

  g_assert_cmpint (fd, >=, 0);
  device = nlx_loop_attach (fd, name, &error);
  close (fd);
  g_assert_no_error (error);
  g_assert_nonnull (device);
  g_assert_true (g_str_has_prefix (device, "/dev/loop"));
  return device;
}

static void
detach (const char *device)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (nlx_loop_detach (device, &error));
  g_assert_no_error (error);
}

static int
prepare (const char *device)
{
  g_autoptr(GError) error = NULL;
  int fd = nlx_mount_prepare (device, "ext4", FALSE, &error);

  g_assert_no_error (error);
  g_assert_cmpint (fd, >=, 0);
  return fd;
}

/* A stand-in for a container: a process in a mount namespace of its own,
 * whose mounts are private unless @private_mounts is FALSE (then they
 * stay peers of the host's shared mounts).  It dies with the test. */
static pid_t
start_namespace (gboolean private_mounts)
{
  pid_t parent = getpid ();
  int fds[2];
  pid_t pid;
  char c;

  g_assert_cmpint (pipe2 (fds, O_CLOEXEC), ==, 0);
  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      close (fds[0]);
      if (prctl (PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid () != parent ||
          unshare (CLONE_NEWNS) != 0 ||
          (private_mounts &&
           mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) ||
          write (fds[1], "x", 1) != 1)
        _exit (1);
      for (;;)
        pause ();
    }
  close (fds[1]);
  g_assert_cmpint (read (fds[0], &c, 1), ==, 1);
  close (fds[0]);
  return pid;
}

static void
stop_namespace (pid_t pid)
{
  int status;

  g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
}

/* The mountinfo line of the topmost mount at @path for @pid, or NULL. */
static char *
mountinfo_line (pid_t pid,
                const char *path)
{
  g_autofree char *file = g_strdup_printf ("/proc/%d/mountinfo", (int) pid);
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;
  char *line = NULL;

  g_assert_true (g_file_get_contents (file, &contents, NULL, NULL));
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) fields = g_strsplit (lines[i], " ", 6);
      g_autofree char *mount_point = NULL;

      if (g_strv_length (fields) < 6)
        continue;
      mount_point = g_strcompress (fields[4]);
      if (strcmp (mount_point, path) == 0)
        {
          g_free (line);
          line = g_strdup (lines[i]);  /* the topmost one wins */
        }
    }
  return line;
}

/* The per-mount options of the mount at @path for @pid, or NULL. */
static char *
mount_options (pid_t pid,
               const char *path)
{
  g_autofree char *line = mountinfo_line (pid, path);
  g_auto(GStrv) fields = line ? g_strsplit (line, " ", 7) : NULL;

  return fields != NULL && g_strv_length (fields) >= 6 ? g_strdup (fields[5])
                                                       : NULL;
}

/* The filesystem's own options of that mount: the fields after " - "
 * and the type and source. */
static char *
super_options (pid_t pid,
               const char *path)
{
  g_autofree char *line = mountinfo_line (pid, path);
  const char *rest = line ? strstr (line, " - ") : NULL;
  g_auto(GStrv) super = rest ? g_strsplit (rest + 3, " ", 3) : NULL;

  return super != NULL && g_strv_length (super) == 3 ? g_strdup (super[2])
                                                     : NULL;
}

static gboolean
has_option (const char *options,
            const char *option)
{
  g_auto(GStrv) list = g_strsplit (options, ",", -1);

  return g_strv_contains ((const char * const *) list, option);
}

static gboolean
mountinfo_mentions (pid_t pid,
                    const char *text)
{
  g_autofree char *file = g_strdup_printf ("/proc/%d/mountinfo", (int) pid);
  g_autofree char *contents = NULL;

  g_assert_true (g_file_get_contents (file, &contents, NULL, NULL));
  return strstr (contents, text) != NULL;
}

static void
assert_file_contents (const char *path,
                      const char *expected)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;

  g_file_get_contents (path, &contents, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (contents, ==, expected);
}

/* ---- cases ------------------------------------------------------------- */

static void
case_loop_read_only (Fixture *f)
{
  g_autofree char *image = make_ext4_image (f, "image");
  g_autofree char *name = loop_name (f, "ro");
  g_autofree char *device = attach (f, image, "ro");
  g_autofree char *found = NULL;
  g_autoptr(GPtrArray) all = NULL;
  char block[512] = { 0 };
  int read_only = 0;
  int fd;

  /* The kernel refuses writes, at open or at write. */
  fd = open (device, O_RDONLY | O_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ioctl (fd, BLKROGET, &read_only), ==, 0);
  g_assert_cmpint (read_only, ==, 1);
  close (fd);
  fd = open (device, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    g_assert_true (errno == EROFS || errno == EACCES || errno == EPERM);
  else
    {
      g_assert_cmpint (pwrite (fd, block, sizeof block, 0), ==, -1);
      g_assert_true (errno == EPERM || errno == EROFS);
      close (fd);
    }

  found = nlx_loop_find (name);
  g_assert_cmpstr (found, ==, device);
  all = nlx_loop_find_prefix (f->prefix);
  g_assert_cmpuint (all->len, ==, 1);
  g_assert_cmpstr (all->pdata[0], ==, device);
  g_clear_pointer (&found, g_free);
  found = nlx_loop_find ("nlxtest:no-such-name");
  g_assert_null (found);
  g_clear_pointer (&all, g_ptr_array_unref);
  all = nlx_loop_find_prefix ("");
  g_assert_cmpuint (all->len, ==, 0);

  detach (device);
  found = nlx_loop_find (name);
  g_assert_null (found);
  g_clear_pointer (&all, g_ptr_array_unref);
  all = nlx_loop_find_prefix (f->prefix);
  g_assert_cmpuint (all->len, ==, 0);
  /* Detaching what is free already is no error. */
  detach (device);
}

static void
case_namespace (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *image = make_ext4_image (f, "image");
  g_autofree char *device = attach (f, image, "ns");
  g_autofree char *target = nlx_test_path (f->dir, "mnt/sub dir");
  g_autofree char *in_child = NULL;
  g_autofree char *file = NULL;
  g_autofree char *new_file = NULL;
  g_autofree char *host_file = g_build_filename (target, "file", NULL);
  g_autofree char *options = NULL;
  pid_t child = start_namespace (TRUE);
  int fd = prepare (device);

  g_assert_true (nlx_mount_into_namespace (fd, child, target, &error));
  g_assert_no_error (error);
  close (fd);

  /* Seen by the container, through its own root ... */
  in_child = g_strdup_printf ("/proc/%d/root%s", (int) child, target);
  file = g_build_filename (in_child, "file", NULL);
  assert_file_contents (file, PAYLOAD);
  g_assert_true (nlx_mount_is_in_namespace (child, target));
  options = mount_options (child, target);
  g_assert_nonnull (options);
  g_assert_true (has_option (options, "ro"));
  g_assert_true (has_option (options, "nosuid"));
  g_assert_true (has_option (options, "nodev"));
  g_assert_true (has_option (options, "noexec"));
  new_file = g_build_filename (in_child, "new", NULL);
  g_assert_cmpint (open (new_file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600), ==,
                   -1);
  g_assert_cmpint (errno, ==, EROFS);

  /* ... never by the host, where the directory stays empty. */
  g_assert_false (nlx_mount_is_in_namespace (getpid (), target));
  g_assert_false (mountinfo_mentions (getpid (), f->dir));
  g_assert_true (g_file_test (target, G_FILE_TEST_IS_DIR));
  g_assert_false (g_file_test (host_file, G_FILE_TEST_EXISTS));

  /* Several at once, in one process entering the container. */
  {
    g_autofree char *second = nlx_test_path (f->dir, "mnt/second");
    g_autofree char *third = nlx_test_path (f->dir, "mnt/third/deeper");
    NlxMountTarget more[] = { { prepare (device), second, FALSE },
                              { prepare (device), third, FALSE } };

    g_assert_true (nlx_mount_all_into_namespace (more, G_N_ELEMENTS (more),
                                                 child, &error));
    g_assert_no_error (error);
    for (guint i = 0; i < G_N_ELEMENTS (more); i++)
      {
        close (more[i].mount_fd);
        g_assert_true (nlx_mount_is_in_namespace (child, more[i].path));
        g_assert_true (nlx_umount_in_namespace (child, more[i].path, &error));
        g_assert_no_error (error);
      }
    g_assert_true (nlx_mount_is_in_namespace (child, target));
  }

  g_assert_true (nlx_umount_in_namespace (child, target, &error));
  g_assert_no_error (error);
  g_assert_false (nlx_mount_is_in_namespace (child, target));
  g_assert_false (g_file_test (file, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (in_child, G_FILE_TEST_IS_DIR));
  /* Unmounting what is not mounted, or where nothing is, is no error. */
  g_assert_true (nlx_umount_in_namespace (child, target, &error));
  g_assert_no_error (error);
  g_clear_pointer (&target, g_free);
  target = nlx_test_path (f->dir, "no/such/dir");
  g_assert_true (nlx_umount_in_namespace (child, target, &error));
  g_assert_no_error (error);

  stop_namespace (child);
  /* Nor is a container that is gone. */
  g_assert_true (nlx_umount_in_namespace (child, target, &error));
  g_assert_no_error (error);
  detach (device);
}

/* A symbolic link or a file in the path, planted by the container, is
 * refused and nothing is mounted or created through it. */
static void
case_namespace_bad_paths (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *image = make_ext4_image (f, "image");
  g_autofree char *device = attach (f, image, "badpath");
  g_autofree char *outside = make_dir (f, "outside");
  g_autofree char *link = nlx_test_path (f->dir, "link");
  g_autofree char *through_link = g_build_filename (link, "x", NULL);
  g_autofree char *created = g_build_filename (outside, "x", NULL);
  g_autofree char *plain = nlx_test_path (f->dir, "plain");
  g_autofree char *through_file = g_build_filename (plain, "x", NULL);
  pid_t child = start_namespace (TRUE);
  int fd = prepare (device);

  g_assert_cmpint (symlink (outside, link), ==, 0);
  write_file (plain, "not a directory\n");

  g_assert_false (nlx_mount_into_namespace (fd, child, through_link, &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "symbolic link"));
  g_clear_error (&error);
  g_assert_false (g_file_test (created, G_FILE_TEST_EXISTS));
  /* The final component a link: refused too. */
  g_assert_false (nlx_mount_into_namespace (fd, child, link, &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  g_assert_false (nlx_mount_into_namespace (fd, child, through_file, &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "not a directory"));
  g_clear_error (&error);

  /* Several at once: a bad one refuses them all, before any is
   * mounted, and names itself. */
  {
    g_autofree char *good = nlx_test_path (f->dir, "good");
    int other = prepare (device);
    NlxMountTarget both[] = { { other, good, FALSE },
                              { fd, through_link, FALSE } };

    g_assert_false (nlx_mount_all_into_namespace (both, G_N_ELEMENTS (both),
                                                  child, &error));
    g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull (strstr (error->message, through_link));
    g_clear_error (&error);
    g_assert_false (nlx_mount_is_in_namespace (child, good));
    close (other);
  }

  g_assert_false (mountinfo_mentions (child, f->dir));
  g_assert_false (mountinfo_mentions (getpid (), f->dir));

  /* Undoing any of these finds nothing of ours to unmount, and says so
   * without an error: an attach refused for its path must be undone in
   * full.  A dangling link as the last component is no mount either. */
  {
    g_autofree char *dangling = nlx_test_path (f->dir, "dangling");
    const char *undone[] = { through_link, link, through_file, dangling };

    g_assert_cmpint (symlink ("/nlxtest-nowhere", dangling), ==, 0);
    for (guint i = 0; i < G_N_ELEMENTS (undone); i++)
      {
        g_test_message ("unmounting %s", undone[i]);
        g_assert_true (nlx_umount_in_namespace (child, undone[i], &error));
        g_assert_no_error (error);
      }
  }

  close (fd);
  stop_namespace (child);
  detach (device);
}

/* A container whose mounts are peers of the host's would hand the mount
 * back to the host: refused. */
static void
case_namespace_shared_refused (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *image = make_ext4_image (f, "image");
  g_autofree char *device = attach (f, image, "shared");
  g_autofree char *shared = make_dir (f, "shared");
  g_autofree char *target = g_build_filename (shared, "mnt", NULL);
  pid_t child;
  int fd;

  g_assert_cmpint (mount ("nlxtest", shared, "tmpfs", MS_NODEV | MS_NOSUID,
                          "size=1m"), ==, 0);
  g_assert_cmpint (mount (NULL, shared, NULL, MS_SHARED, NULL), ==, 0);
  child = start_namespace (FALSE);
  fd = prepare (device);

  g_assert_false (nlx_mount_into_namespace (fd, child, target, &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "propagates to the host"));
  g_clear_error (&error);
  g_assert_false (nlx_mount_is_in_namespace (child, target));
  g_assert_false (nlx_mount_is_in_namespace (getpid (), target));

  close (fd);
  stop_namespace (child);
  g_assert_true (nlx_umount (shared, &error));
  g_assert_no_error (error);
  detach (device);
}

/* An ext4 image whose journal needs recovery mounts read-only without
 * replay, and the image is not changed by a bit. */
static void
case_dirty_journal (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *image = make_ext4_image (f, "image");
  g_autofree char *pattern = nlx_test_path (f->dir, "pattern");
  g_autofree char *commands = nlx_test_path (f->dir, "debugfs-commands");
  g_autofree char *free_out = NULL;
  g_autofree char *journal_commands = NULL;
  g_autofree char *header = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *device = NULL;
  g_autofree char *target = make_dir (f, "mnt dir");
  g_autofree char *file = g_build_filename (target, "file", NULL);
  g_autofree char *options = NULL;
  g_autofree char *after_root = NULL;
  g_autofree char *root_name = loop_name (f, "dirty-root");
  g_autofree char *found = NULL;
  gint64 deadline;
  const char *number;
  guint64 block;
  int fd;

  /* A committed transaction in the journal, not yet written to its
   * place: debugfs writes one (journal_open, journal_write,
   * journal_close) and sets needs_recovery, as a crash would leave it.
   * Its block is a free one, filled with a pattern. */
  free_out = run_command ((const char * const []) {
    "debugfs", "-R", "ffb 1 2000", image, NULL });
  number = strstr (free_out, "Free blocks found: ");
  g_assert_nonnull (number);
  block = g_ascii_strtoull (number + strlen ("Free blocks found: "), NULL,
                            10);
  g_assert_cmpuint (block, >, 0);
  {
    g_autofree char *data = g_strnfill (4096, 'N');

    write_file (pattern, data);
  }
  journal_commands = g_strdup_printf ("jo\njw -b %" G_GUINT64_FORMAT " %s\n"
                                      "jc\n", block, pattern);
  write_file (commands, journal_commands);
  g_free (run_command ((const char * const []) {
    "debugfs", "-w", "-f", commands, image, NULL }));
  header = run_command ((const char * const []) {
    "dumpe2fs", "-h", image, NULL });
  g_assert_nonnull (strstr (header, "needs_recovery"));

  before = nlx_test_file_checksum (image);
  device = attach (f, image, "dirty");

  /* Without noload the kernel would have to replay, which it cannot on
   * a read-only device: it refuses. */
  g_assert_cmpint (mount (device, target, "ext4", MS_RDONLY, NULL), ==, -1);
  g_assert_cmpint (errno, ==, EROFS);

  fd = prepare (device);
  g_assert_true (nlx_mount_at (fd, target, &error));
  g_assert_no_error (error);
  close (fd);
  assert_file_contents (file, PAYLOAD);
  g_assert_true (nlx_mount_is_in_namespace (getpid (), target));
  g_assert_true (nlx_mount_is_mount_point (target));
  /* A file inside it is no mount point. */
  g_assert_false (nlx_mount_is_mount_point (file));
  options = mount_options (getpid (), target);
  g_assert_true (has_option (options, "ro"));
  g_assert_true (has_option (options, "noexec"));

  g_assert_true (nlx_umount (target, &error));
  g_assert_no_error (error);
  g_assert_false (nlx_mount_is_in_namespace (getpid (), target));
  g_assert_false (nlx_mount_is_mount_point (target));
  g_assert_true (nlx_umount (target, &error));
  g_assert_no_error (error);
  detach (device);

  after = nlx_test_file_checksum (image);
  g_assert_cmpstr (after, ==, before);

  /* A root filesystem keeps exec and suid, never devices. */
  g_free (device);
  device = attach (f, image, "dirty-root");
  fd = nlx_mount_prepare (device, "ext4", TRUE, &error);
  g_assert_no_error (error);
  g_assert_true (nlx_mount_at (fd, target, &error));
  g_assert_no_error (error);
  close (fd);
  g_free (options);
  options = mount_options (getpid (), target);
  g_assert_true (has_option (options, "ro"));
  g_assert_true (has_option (options, "nodev"));
  g_assert_false (has_option (options, "noexec"));
  g_assert_false (has_option (options, "nosuid"));
  /* Detaching a mounted device succeeds; it frees itself once
   * unmounted. */
  detach (device);
  found = nlx_loop_find (root_name);
  g_assert_cmpstr (found, ==, device);
  g_assert_true (nlx_umount (target, &error));
  g_assert_no_error (error);
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (found != NULL && g_get_monotonic_time () < deadline)
    {
      g_usleep (10 * 1000);
      g_free (found);
      found = nlx_loop_find (root_name);
    }
  g_assert_null (found);
  after_root = nlx_test_file_checksum (image);
  g_assert_cmpstr (after_root, ==, before);
}

/* The error behaviour ext2/3/4 would have on the mount at @target of
 * @device: "errors=..." from /proc/fs/ext4/<dev>/options (which lists
 * every option), else from the superblock options in mountinfo. */
static char *
errors_behaviour (const char *device,
                  const char *target)
{
  g_autofree char *real = realpath (device, NULL);
  g_autofree char *name = g_path_get_basename (real);
  g_autofree char *file = g_build_filename ("/proc/fs/ext4", name, "options",
                                            NULL);
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;

  if (g_file_get_contents (file, &contents, NULL, NULL))
    lines = g_strsplit (contents, "\n", -1);
  else
    {
      g_autofree char *mountinfo = NULL;

      g_assert_true (g_file_get_contents ("/proc/self/mountinfo", &mountinfo,
                                          NULL, NULL));
      lines = g_strsplit (mountinfo, "\n", -1);
      for (guint i = 0; lines[i] != NULL; i++)
        {
          g_auto(GStrv) fields = g_strsplit (lines[i], " ", -1);
          guint n = g_strv_length (fields);
          g_autofree char *mount_point = n > 4 ? g_strcompress (fields[4])
                                               : NULL;

          if (mount_point != NULL && strcmp (mount_point, target) == 0)
            {
              g_auto(GStrv) options = g_strsplit (fields[n - 1], ",", -1);

              g_strfreev (lines);
              lines = g_steal_pointer (&options);
              break;
            }
        }
    }
  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], "errors="))
      return g_strdup (lines[i]);
  return NULL;
}

/* An image that asks for errors=panic, in its superblock (tune2fs -e)
 * or in its default mount options (tune2fs -E mount_opts=): the kernel
 * would panic the host at the first error it meets, even read-only.
 * Mounted by nlx_mount_prepare() it gets errors=remount-ro; mounted
 * without that option (the control) it gets what it asked for. */
static void
case_errors_panic_overridden (Fixture *f)
{
  static const struct {
    const char *name;
    const char *mkfs;
    const char *fstype;
    const char *tune[3];
  } images[] = {
    { "e-panic", "mkfs.ext4", "ext4", { "-e", "panic", NULL } },
    { "opts-panic", "mkfs.ext4", "ext4", { "-E", "mount_opts=errors=panic",
                                           NULL } },
    { "ext2-panic", "mkfs.ext2", "ext2", { "-e", "panic", NULL } },
  };

  for (guint i = 0; i < G_N_ELEMENTS (images); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *image = make_blank_image (f, images[i].name);
      g_autofree char *target = nlx_test_path (f->dir, images[i].name);
      g_autofree char *mnt = g_strconcat (target, "-mnt", NULL);
      g_autofree char *device = NULL;
      g_autofree char *control = NULL;
      g_autofree char *ours = NULL;
      int fd;

      g_assert_cmpint (g_mkdir (mnt, 0755), ==, 0);
      g_free (run_command ((const char * const []) {
        images[i].mkfs, "-q", "-F", image, NULL }));
      g_free (run_command ((const char * const []) {
        "tune2fs", images[i].tune[0], images[i].tune[1], image, NULL }));
      device = attach (f, image, images[i].name);

      /* The control: the image's own choice holds without the option. */
      g_assert_cmpint (mount (device, mnt, images[i].fstype, MS_RDONLY,
                              strcmp (images[i].fstype, "ext2") == 0
                              ? NULL : "noload"), ==, 0);
      control = errors_behaviour (device, mnt);
      g_test_message ("%s mounted plainly: %s", images[i].name, control);
      g_assert_cmpstr (control, ==, "errors=panic");
      g_assert_true (nlx_umount (mnt, &error));
      g_assert_no_error (error);

      fd = nlx_mount_prepare (device, images[i].fstype, FALSE, &error);
      g_assert_no_error (error);
      g_assert_cmpint (fd, >=, 0);
      g_assert_true (nlx_mount_at (fd, mnt, &error));
      g_assert_no_error (error);
      close (fd);
      ours = errors_behaviour (device, mnt);
      g_test_message ("%s mounted by nova-lxc: %s", images[i].name, ours);
      g_assert_cmpstr (ours, ==, "errors=remount-ro");
      g_assert_true (nlx_umount (mnt, &error));
      g_assert_no_error (error);
      detach (device);
    }
}

static void
case_overlay (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *lower = make_dir (f, "lower");
  g_autofree char *upper = make_dir (f, "upper");
  g_autofree char *work = make_dir (f, "work");
  g_autofree char *target = make_dir (f, "rootfs");
  g_autofree char *bad = make_dir (f, "a:b");
  g_autofree char *lower_file = g_build_filename (lower, "file", NULL);
  g_autofree char *through = g_build_filename (target, "file", NULL);
  g_autofree char *new_file = g_build_filename (target, "new", NULL);
  g_autofree char *in_upper = g_build_filename (upper, "new", NULL);
  g_autofree char *in_lower = g_build_filename (lower, "new", NULL);
  g_autofree char *comma = g_strconcat (lower, ",upperdir=/", NULL);
  g_autofree char *options = NULL;
  g_autofree char *layers = NULL;

  write_file (lower_file, PAYLOAD);
  g_assert_true (nlx_mount_overlay (lower, upper, work, target, &error));
  g_assert_no_error (error);
  assert_file_contents (through, PAYLOAD);
  write_file (new_file, "written\n");
  assert_file_contents (in_upper, "written\n");
  g_assert_false (g_file_test (in_lower, G_FILE_TEST_EXISTS));
  options = mount_options (getpid (), target);
  g_assert_nonnull (options);
  g_assert_true (has_option (options, "nodev"));
  /* Short in every mount table that reads them: relative to the mount
   * point's directory. */
  layers = super_options (getpid (), target);
  g_assert_nonnull (layers);
  g_assert_true (has_option (layers, "lowerdir=lower"));
  g_assert_true (has_option (layers, "upperdir=upper"));
  g_assert_true (has_option (layers, "workdir=work"));
  g_assert_true (nlx_umount (target, &error));
  g_assert_no_error (error);
  g_assert_false (nlx_mount_is_in_namespace (getpid (), target));
  g_assert_false (g_file_test (new_file, G_FILE_TEST_EXISTS));

  /* Separators the kernel would read are refused before it sees them. */
  g_assert_false (nlx_mount_overlay (bad, upper, work, target, &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (nlx_mount_overlay (comma, upper, work, target, &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (nlx_mount_overlay (lower, "upper", work, target, &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  /* The kernel's own refusal carries its words: work and upper on
   * different filesystems. */
  g_assert_false (nlx_mount_overlay (lower, upper, "/proc", target, &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  g_test_message ("overlay refused: %s", error->message);
  g_assert_nonnull (strstr (error->message, "overlayfs: "));
  g_clear_error (&error);
  g_assert_false (mountinfo_mentions (getpid (), f->dir));
}

/* The mountinfo lines of this process's namespace that this case could
 * have made: a mount point under its directory, or a source that is one
 * of its loop devices.  Anything else on the host may mount meanwhile. */
static char *
own_mounts (Fixture *f)
{
  g_autoptr(GPtrArray) loops = nlx_loop_find_prefix (f->prefix);
  g_autoptr(GString) own = g_string_new (NULL);
  g_autofree char *contents = NULL;
  g_autofree char *prefix = g_strconcat (f->dir, "/", NULL);
  g_auto(GStrv) lines = NULL;

  g_assert_true (g_file_get_contents ("/proc/self/mountinfo", &contents,
                                      NULL, NULL));
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) fields = g_strsplit (lines[i], " ", 6);
      const char *separator = strstr (lines[i], " - ");
      g_auto(GStrv) tail = NULL;
      g_autofree char *mount_point = NULL;
      g_autofree char *source = NULL;
      gboolean ours;

      if (g_strv_length (fields) < 5 || separator == NULL)
        continue;
      /* g_strcompress() undoes mountinfo's octal escapes (\040...) */
      mount_point = g_strcompress (fields[4]);
      /* " - fstype source options" */
      tail = g_strsplit (separator + 3, " ", 3);
      if (g_strv_length (tail) >= 2)
        source = g_strcompress (tail[1]);
      ours = g_str_has_prefix (mount_point, prefix) ||
             g_str_equal (mount_point, f->dir);
      for (guint j = 0; !ours && source != NULL && j < loops->len; j++)
        ours = g_str_equal (source, loops->pdata[j]);
      if (ours)
        g_string_append_printf (own, "%s\n", lines[i]);
    }
  return g_string_free (g_steal_pointer (&own), FALSE);
}

static void
case_bad_input (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *blank = make_blank_image (f, "blank");
  g_autofree char *image = make_ext4_image (f, "image");
  g_autofree char *blank_device = attach (f, blank, "blank");
  g_autofree char *device = attach (f, image, "good");
  g_autofree char *image_colon = g_strconcat (image, ": ", NULL);
  g_autofree char *long_name = g_strnfill (100, 'x');
  g_autofree char *long_full = loop_name (f, long_name);
  g_autofree char *dotdot = nlx_test_path (f->dir, "a/../b");
  g_autofree char *created = nlx_test_path (f->dir, "a");
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autoptr(GPtrArray) loops = NULL;
  const char *bad_paths[] = { "relative/path", "/", "", dotdot, "/tmp/./x" };
  int fd;

  before = own_mounts (f);

  /* No filesystem: the kernel says so, in its words. */
  g_assert_cmpint (nlx_mount_prepare (blank_device, "ext4", FALSE, &error),
                   ==, -1);
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  g_test_message ("no filesystem: %s", error->message);
  g_assert_nonnull (strstr (error->message, "The kernel refused to mount"));
  /* From the kernel log: ext4 prints it rather than logging it in the
   * filesystem context. */
  g_assert_nonnull (strstr (error->message, "EXT4-fs ("));
  g_clear_error (&error);
  /* A filesystem without a device, or none at all, is refused. */
  g_assert_cmpint (nlx_mount_prepare (device, "tmpfs", FALSE, &error), ==,
                   -1);
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_cmpint (nlx_mount_prepare (device, "nlxtest-nosuchfs", FALSE,
                                      &error), ==, -1);
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  /* Not a block device: the kernel's message names it. */
  g_assert_cmpint (nlx_mount_prepare (image, "ext4", FALSE, &error), ==, -1);
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  g_test_message ("not a block device: %s", error->message);
  /* From the filesystem context: "<source>: Can't lookup blockdev" */
  g_assert_nonnull (strstr (error->message, image_colon));
  g_clear_error (&error);

  after = own_mounts (f);
  g_assert_cmpstr (after, ==, before);

  /* Bad paths are refused before anything is entered or created. */
  fd = prepare (device);
  for (guint i = 0; i < G_N_ELEMENTS (bad_paths); i++)
    {
      g_assert_false (nlx_mount_into_namespace (fd, getpid (), bad_paths[i],
                                                &error));
      g_assert_error (error, NLX_DRIVER_ERROR,
                      NLX_DRIVER_ERROR_INVALID_ARGUMENT);
      g_clear_error (&error);
      g_assert_false (nlx_umount_in_namespace (getpid (), bad_paths[i],
                                               &error));
      g_assert_error (error, NLX_DRIVER_ERROR,
                      NLX_DRIVER_ERROR_INVALID_ARGUMENT);
      g_clear_error (&error);
    }
  g_assert_false (g_file_test (created, G_FILE_TEST_EXISTS));
  g_assert_false (nlx_mount_at (fd, "relative", &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  close (fd);

  /* Names the kernel cannot hold are refused, not cut. */
  fd = open (image, O_RDONLY | O_CLOEXEC);
  g_assert_null (nlx_loop_attach (fd, long_full, &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (nlx_loop_attach (fd, "", &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  close (fd);
  loops = nlx_loop_find_prefix (f->prefix);
  g_assert_cmpuint (loops->len, ==, 2);

  g_assert_false (nlx_loop_detach (image, &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  detach (blank_device);
  detach (device);
}

/* Waits for the kernel to unbind the autoclear loop device over
 * @image (its release is not always done when close() returns). */
static void
assert_no_loop_over (const char *image)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  int fd = open (image, O_RDONLY | O_CLOEXEC);

  g_assert_cmpint (fd, >=, 0);
  for (;;)
    {
      g_autofree char *loop = nlx_loop_find_backing (fd);

      if (loop == NULL)
        break;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (10 * 1000);
    }
  close (fd);
}

/* A root disk (nlx-lxc-disk.c): an ext4 of root_gb in a sparse file,
 * mounted through a writable autoclear loop device that is found by
 * what it is bound to, never by name.  The layer is refused while the
 * disk is not mounted; a loop device still bound to the file is refused
 * rather than the filesystem mounted twice; the device goes with the
 * mount, or with its descriptor when nothing mounted it; a free device
 * left read-only by BLKROSET is made writable. */
static void
case_root_disk (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_build_filename (f->dir, "instance", NULL);
  g_autofree char *image = g_build_filename (dir, "disk.img", NULL);
  g_autofree char *target = g_build_filename (dir, "disk", NULL);
  g_autofree char *fill = g_build_filename (target, "fill", NULL);
  g_autofree char *layer = NULL;
  g_autofree char *loop = NULL;
  g_autofree char *name = loop_name (f, "disk");
  g_autofree char *device = NULL;
  g_autofree char *expected = NULL;
  const char *uuid = "7e57d15c-0000-4000-8000-000000000000";
  struct stat st;
  int read_only = 1;
  int number;
  int control;
  int loop_fd;
  int fd;

  g_assert_true (nlx_lxc_disk_create (dir, 1, &error));
  g_assert_no_error (error);
  g_assert_cmpint (lstat (image, &st), ==, 0);
  g_assert_cmpuint (st.st_mode & 07777, ==, 0600);
  g_assert_cmpint (st.st_size, ==, 1 << 30);
  g_assert_cmpint (st.st_blocks * 512, <, 4 << 20);
  g_assert_false (nlx_lxc_disk_create (dir, 1, &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_null (nlx_lxc_disk_layer (dir, &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED);
  g_clear_error (&error);
  /* Larger than ext4's largest file (16 TiB): refused, nothing left. */
  {
    g_autofree char *big_dir = g_build_filename (f->dir, "big", NULL);
    g_autofree char *big = g_build_filename (big_dir, "disk.img", NULL);
    struct statfs fs;

    g_assert_cmpint (statfs (f->dir, &fs), ==, 0);
    if (fs.f_type == 0xEF53)
      {
        g_assert_false (nlx_lxc_disk_create (big_dir, 1048576, &error));
        g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED);
        g_assert_nonnull (strstr (error->message, "1048576 GiB"));
        g_clear_error (&error);
        g_assert_false (g_file_test (big, G_FILE_TEST_EXISTS));
      }
  }

  /* Mounted, again (a no-op), and full at 1 GiB. */
  g_assert_true (nlx_lxc_disk_mount (uuid, dir, &error));
  g_assert_true (nlx_lxc_disk_mount (uuid, dir, &error));
  g_assert_no_error (error);
  layer = nlx_lxc_disk_layer (dir, &error);
  g_assert_cmpstr (layer, ==, target);
  fd = open (fill, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (fallocate (fd, 0, 0, (off_t) 1200 << 20), ==, -1);
  g_assert_cmpint (errno, ==, ENOSPC);
  g_assert_cmpint (fallocate (fd, 0, 0, (off_t) 8 << 20), ==, 0);
  close (fd);

  /* Something holds the device after the unmount: no second mount. */
  fd = open (image, O_RDONLY | O_CLOEXEC);
  loop = nlx_loop_find_backing (fd);
  close (fd);
  g_assert_nonnull (loop);
  loop_fd = open (loop, O_RDONLY | O_CLOEXEC);
  g_assert_cmpint (loop_fd, >=, 0);
  g_assert_true (nlx_lxc_disk_umount (dir, &error));
  g_assert_false (nlx_lxc_disk_mount (uuid, dir, &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED);
  g_clear_error (&error);
  close (loop_fd);
  assert_no_loop_over (image);

  /* Bound and never mounted: gone with its descriptor. */
  fd = open (image, O_RDWR | O_CLOEXEC);
  device = nlx_loop_attach_writable (fd, name, &loop_fd, &error);
  g_assert_no_error (error);
  close (fd);
  close (loop_fd);
  assert_no_loop_over (image);
  g_clear_pointer (&device, g_free);

  /* The next free device, made read-only while unbound. */
  control = open ("/dev/loop-control", O_RDWR | O_CLOEXEC);
  g_assert_cmpint (control, >=, 0);
  number = ioctl (control, LOOP_CTL_GET_FREE);
  close (control);
  g_assert_cmpint (number, >=, 0);
  expected = g_strdup_printf ("/dev/loop%d", number);
  loop_fd = open (expected, O_RDONLY | O_CLOEXEC);
  g_assert_cmpint (loop_fd, >=, 0);
  g_assert_cmpint (ioctl (loop_fd, BLKROSET, &read_only), ==, 0);
  close (loop_fd);
  fd = open (image, O_RDWR | O_CLOEXEC);
  device = nlx_loop_attach_writable (fd, name, &loop_fd, &error);
  g_assert_no_error (error);
  close (fd);
  if (g_strcmp0 (device, expected) != 0)
    g_test_message ("another process took %s; the read-only device is not "
                    "checked", expected);
  g_assert_cmpint (ioctl (loop_fd, BLKROGET, &read_only), ==, 0);
  g_assert_cmpint (read_only, ==, 0);
  close (loop_fd);
  assert_no_loop_over (image);
  if (g_strcmp0 (device, expected) != 0)
    {
      /* Leave nothing read-only behind for whoever takes it next. */
      read_only = 0;
      loop_fd = open (expected, O_RDONLY | O_CLOEXEC);
      if (loop_fd >= 0)
        {
          ioctl (loop_fd, BLKROSET, &read_only);
          close (loop_fd);
        }
    }

  /* Mounted again, then unmounted: the device goes with the mount. */
  g_assert_true (nlx_lxc_disk_mount (uuid, dir, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_test (fill, G_FILE_TEST_IS_REGULAR));
  g_assert_true (nlx_lxc_disk_umount (dir, &error));
  g_assert_true (nlx_lxc_disk_umount (dir, &error));
  g_assert_no_error (error);
  assert_no_loop_over (image);
}

int
main (int argc,
      char **argv)
{
  static const struct {
    const char *path;
    CaseFunc body;
  } cases[] = {
    { "/nlx/mount/loop-read-only", case_loop_read_only },
    { "/nlx/mount/namespace", case_namespace },
    { "/nlx/mount/namespace-bad-paths", case_namespace_bad_paths },
    { "/nlx/mount/namespace-shared-refused", case_namespace_shared_refused },
    { "/nlx/mount/dirty-journal", case_dirty_journal },
    { "/nlx/mount/errors-panic-overridden", case_errors_panic_overridden },
    { "/nlx/mount/overlay", case_overlay },
    { "/nlx/mount/bad-input", case_bad_input },
    { "/nlx/mount/root-disk", case_root_disk },
  };

  g_test_init (&argc, &argv, NULL);
  g_test_summary ("Read-only loop devices and host-made mounts on the real "
                  "kernel (needs root, loop devices and e2fsprogs).");
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    g_test_add (cases[i].path, Fixture, cases[i].body, fixture_setup,
                run_case, fixture_teardown);
  return g_test_run ();
}
