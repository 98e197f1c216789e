/* test-volume.c: volume ids, roots, probing, making and deleting volumes
 *
 * Each case runs in a subprocess over a temporary directory its parent
 * made, so the parent removes the directory even when the case fails.
 * Filesystem images are sparse files made with the host's mkfs tools;
 * a case whose tool is missing is skipped, naming it.  Nothing is mounted
 * and the slow libguestfs check is left to the functional tests. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <linux/loop.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/nlx-error.h"
#include "common/nlx-file.h"
#include "host/nlx-guestfs.h"
#include "lib/nlx-test-tools.h"
#include "storage/nlx-volume.h"

#define MIB (1024 * 1024)

typedef struct {
  char *dir;
  char *volumes;
  char *other;
  NlxVolumeSettings *settings;
  gboolean usable;
} Fixture;

typedef void (*CaseFunc) (Fixture *f);

/* ---- helpers ----------------------------------------------------------- */

/* A sparse file of @size bytes: zeros until something writes to it. */
static char *
make_file (const char *dir,
           const char *name,
           gsize size)
{
  char *path = nlx_test_path (dir, name);
  int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, size), ==, 0);
  close (fd);
  return path;
}

static void
write_at (const char *path,
          goffset offset,
          const void *data,
          gsize len)
{
  int fd = open (path, O_WRONLY | O_CLOEXEC);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (pwrite (fd, data, len, offset), ==, (gssize) len);
  close (fd);
}

static NlxVolumeSettings *
settings_from (const char *data)
{
  g_autoptr(GKeyFile) keyfile = g_key_file_new ();
  g_autoptr(GError) error = NULL;
  NlxVolumeSettings *settings;

  g_assert_true (g_key_file_load_from_data (keyfile, data, -1,
                                            G_KEY_FILE_NONE, &error));
  settings = nlx_volume_settings_new (keyfile, &error);
  g_assert_no_error (error);
  return settings;
}

static NlxVolumeSettings *
settings_with_roots (Fixture *f,
                     const char *roots)
{
  g_autofree char *data = g_strdup_printf ("[volumes]\npath = %s\n"
                                           "allowed_roots = %s\n",
                                           f->volumes, roots);

  return settings_from (data);
}

/* Opens and probes volume @id; the error is the probe's or the open's. */
static char *
probe (const NlxVolumeSettings *settings,
       const char *id,
       GError **error)
{
  int fd = nlx_volume_open (settings, id, NULL, error);
  char *fstype;

  if (fd < 0)
    return NULL;
  fstype = nlx_volume_probe (settings, fd, id, error);
  g_assert_cmpint (fcntl (fd, F_GETFD), !=, -1);
  close (fd);
  return fstype;
}

static void
assert_probe_refused (const NlxVolumeSettings *settings,
                      const char *id,
                      const char *message)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *fstype = probe (settings, id, &error);

  g_assert_null (fstype);
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  if (!g_pattern_match_simple (message, error->message))
    g_error ("probe of %s: “%s” does not match “%s”", id, error->message,
             message);
}

/* A small tree with a file, a directory, a symbolic link and an
 * executable, to fill volumes from. */
static char *
make_tree (Fixture *f)
{
  char *tree = nlx_test_path (f->other, "tree");
  g_autofree char *sub = nlx_test_path (tree, "etc");
  g_autofree char *hello = nlx_test_path (tree, "hello");
  g_autofree char *hostname = nlx_test_path (sub, "hostname");
  g_autofree char *run = nlx_test_path (tree, "run.sh");
  g_autofree char *link = nlx_test_path (tree, "greeting");

  g_assert_cmpint (g_mkdir_with_parents (sub, 0755), ==, 0);
  g_assert_true (g_file_set_contents (hello, "hello, volume\n", -1, NULL));
  g_assert_true (g_file_set_contents (hostname, "vm1\n", -1, NULL));
  g_assert_true (g_file_set_contents (run, "#!/bin/sh\n", -1, NULL));
  g_assert_cmpint (g_chmod (run, 0755), ==, 0);
  g_assert_cmpint (symlink ("hello", link), ==, 0);
  return tree;
}

/* ---- fixture ----------------------------------------------------------- */

static void
fixture_setup (Fixture *f,
               gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *settings = NULL;

  f->dir = nlx_test_case_dir ("nlxtest-volume-XXXXXX");
  f->volumes = nlx_test_path (f->dir, "volumes");
  f->other = nlx_test_path (f->dir, "other");
  if (g_test_subprocess ())
    {
      g_assert_cmpint (g_mkdir (f->volumes, 0700), ==, 0);
      g_assert_cmpint (g_mkdir (f->other, 0700), ==, 0);
      settings = g_strdup_printf ("[volumes]\npath = %s\n", f->volumes);
      f->settings = settings_from (settings);
    }
}

static void
fixture_teardown (Fixture *f,
                  gconstpointer data G_GNUC_UNUSED)
{
  nlx_test_case_dir_remove (f->dir);
  nlx_volume_settings_free (f->settings);
  g_free (f->dir);
  g_free (f->volumes);
  g_free (f->other);
}

typedef struct {
  const char *path;
  CaseFunc body;
  const char *tools[3];
  /* (nullable): why the case cannot run here, or NULL */
  char *(*missing) (void);
} Case;

static void
run_case (Fixture *f,
          gconstpointer data)
{
  const Case *c = data;

  /* The parent checked what the case needs before its subprocess. */
  if (g_test_subprocess ())
    {
      NLX_TEST_RUN_BODY (c->body, f, 60);
      return;
    }
  for (guint i = 0; i < G_N_ELEMENTS (c->tools) && c->tools[i] != NULL; i++)
    {
      g_autofree char *tool = nlx_test_find_tool (c->tools[i]);

      if (tool == NULL)
        {
          g_autofree char *reason = g_strdup_printf ("%s is not installed",
                                                     c->tools[i]);

          g_test_skip (reason);
          return;
        }
    }
  if (c->missing != NULL)
    {
      g_autofree char *reason = c->missing ();

      if (reason != NULL)
        {
          g_test_skip (reason);
          return;
        }
    }
  NLX_TEST_RUN_BODY (c->body, f, 60);
}

/* ---- ids and settings: no files needed --------------------------------- */

static void
test_id (void)
{
  static const char * const good[] = {
    "a", "0", "vol1", "A.b_c-d", "data-2024.img", "x..", "a-",
    "0123456789012345678901234567890123456789012345678901234567890123",
  };
  static const char * const bad[] = {
    "", ".", "..", ".hidden", "-rf", "_a", "a/b", "../x", "/etc", "a b",
    " a", "a\n", "a:b", "ä", "a*",
    "01234567890123456789012345678901234567890123456789012345678901234",
  };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    if (!nlx_volume_id_is_valid (good[i]))
      g_error ("“%s” should be a valid volume id", good[i]);
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    if (nlx_volume_id_is_valid (bad[i]))
      g_error ("“%s” should not be a valid volume id", bad[i]);
  g_assert_false (nlx_volume_id_is_valid (NULL));
}

static void
make_settings (gconstpointer data)
{
  g_autoptr(NlxVolumeSettings) settings =
    nlx_volume_settings_new ((GKeyFile *) data, NULL);

  g_assert_nonnull (settings);
}

/* Each root is made canonical; the fuzzer found that the path realpath()
 * resolved replaced the cleaned one without freeing it. */
static void
test_settings_no_leak (void)
{
  g_autoptr(GKeyFile) keyfile = g_key_file_new ();
  const char *tmp = g_get_tmp_dir ();
  g_autofree char *roots = g_strdup_printf ("%s//;/nlx-test-no-such-dir/", tmp);

  g_key_file_set_string (keyfile, "volumes", "path", tmp);
  g_key_file_set_string (keyfile, "volumes", "allowed_roots", roots);
  nlx_test_assert_no_leak ("nlx_volume_settings_new", make_settings, keyfile);
}

static void
test_settings_defaults (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NlxVolumeSettings) settings = nlx_volume_settings_new (NULL,
                                                                   &error);
  static const char * const whitelist[] = {
    NLX_VOLUME_DEFAULT_WHITELIST, NULL
  };
  g_autofree char *expected = g_canonicalize_filename (NLX_STATE_DIR "/volumes",
                                                       "/");

  g_assert_no_error (error);
  /* Resolved only if it exists on the machine running the test. */
  if (!g_file_test (expected, G_FILE_TEST_EXISTS))
    g_assert_cmpstr (settings->dir, ==, expected);
  g_assert_true (g_str_has_suffix (settings->dir, "/volumes"));
  g_assert_cmpuint (g_strv_length (settings->allowed_roots), ==, 1);
  g_assert_cmpstr (settings->allowed_roots[0], ==, settings->dir);
  g_assert_true (g_strv_equal ((const char * const *) settings->whitelist,
                               whitelist));
  g_assert_false (settings->verify_fsck);
  g_assert_false (settings->allow_hard_links);
  g_clear_pointer (&settings, nlx_volume_settings_free);

  /* The directory follows [DEFAULT] state_path. */
  settings = settings_from ("[DEFAULT]\nstate_path = /nonexistent/nlx//\n");
  g_assert_cmpstr (settings->dir, ==, "/nonexistent/nlx/volumes");
  g_assert_cmpstr (settings->allowed_roots[0], ==, "/nonexistent/nlx/volumes");
}

static void
test_settings_values (void)
{
  g_autoptr(NlxVolumeSettings) settings = settings_from (
    "[volumes]\n"
    "path = /nonexistent/vols/\n"
    "allowed_roots = /nonexistent/vols, /nonexistent/a/../b/ ;/dev/dm-*\n"
    "filesystem_whitelist = xfs\n"
    "verify = fsck\n"
    "allow_hard_links = TRUE\n");
  static const char * const roots[] = {
    "/nonexistent/vols", "/nonexistent/b", "/dev/dm-*", NULL
  };
  static const char * const whitelist[] = { "xfs", NULL };

  g_assert_cmpstr (settings->dir, ==, "/nonexistent/vols");
  g_assert_true (g_strv_equal ((const char * const *) settings->allowed_roots,
                               roots));
  g_assert_true (g_strv_equal ((const char * const *) settings->whitelist,
                               whitelist));
  g_assert_true (settings->verify_fsck);
  g_assert_true (settings->allow_hard_links);
}

static void
test_settings_invalid (void)
{
  static const struct {
    const char *data;
    const char *message;
  } cases[] = {
    { "[volumes]\nverify = always\n",
      "*[volumes] verify*none*fsck*always*" },
    { "[volumes]\nverify = FSCK\n", "*[volumes] verify*" },
    { "[volumes]\nallow_hard_links = sometimes\n",
      "*[volumes] allow_hard_links*true or false*sometimes*" },
    { "[volumes]\npath = volumes\n", "*[volumes] path*absolute*volumes*" },
    { "[volumes]\nallowed_roots = /srv, srv/vols\n",
      "*[volumes] allowed_roots*absolute*srv/vols*" },
    { "[DEFAULT]\nstate_path = state\n", "*[DEFAULT] state_path*absolute*" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GKeyFile) keyfile = g_key_file_new ();
      g_autoptr(GError) error = NULL;
      g_autoptr(NlxVolumeSettings) settings = NULL;

      g_assert_true (g_key_file_load_from_data (keyfile, cases[i].data, -1,
                                                G_KEY_FILE_NONE, NULL));
      settings = nlx_volume_settings_new (keyfile, &error);
      g_assert_null (settings);
      g_assert_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID);
      if (!g_pattern_match_simple (cases[i].message, error->message))
        g_error ("“%s” does not match “%s”", error->message,
                 cases[i].message);
    }
}

/* ---- open ---------------------------------------------------------------- */

/* Existing paths are resolved, so a link to the directory compares
 * equal to the directory itself. */
static void
case_settings_resolved (Fixture *f)
{
  g_autofree char *link = nlx_test_path (f->dir, "link");
  g_autofree char *data = g_strdup_printf ("[volumes]\npath = %s\n"
                                           "allowed_roots = %s/, %s/x/..\n",
                                           link, link, f->other);
  g_autoptr(NlxVolumeSettings) settings = NULL;
  g_autofree char *real_volumes = realpath (f->volumes, NULL);
  g_autofree char *real_other = realpath (f->other, NULL);

  g_assert_cmpint (symlink (f->volumes, link), ==, 0);
  settings = settings_from (data);
  g_assert_cmpstr (settings->dir, ==, real_volumes);
  g_assert_cmpstr (settings->allowed_roots[0], ==, real_volumes);
  g_assert_cmpstr (settings->allowed_roots[1], ==, real_other);
}

static void
assert_open_refused (const NlxVolumeSettings *settings,
                     const char *id,
                     int code,
                     const char *message)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *resolved = NULL;

  g_assert_cmpint (nlx_volume_open (settings, id, &resolved, &error), ==, -1);
  g_assert_error (error, NLX_DRIVER_ERROR, code);
  g_assert_null (resolved);
  if (!g_pattern_match_simple (message, error->message))
    g_error ("open of %s: “%s” does not match “%s”", id, error->message,
             message);
}

static void
assert_opens (const NlxVolumeSettings *settings,
              const char *id,
              const char *expected)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *resolved = NULL;
  g_autofree char *real = realpath (expected, NULL);
  int fd = nlx_volume_open (settings, id, &resolved, &error);
  int flags;

  g_assert_no_error (error);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpstr (resolved, ==, real);
  flags = fcntl (fd, F_GETFL);
  g_assert_cmpint (flags & O_ACCMODE, ==, O_RDONLY);
  g_assert_cmpint (flags & O_NONBLOCK, ==, 0);
  g_assert_cmpint (fcntl (fd, F_GETFD) & FD_CLOEXEC, ==, FD_CLOEXEC);
  close (fd);
}

static void
case_open (Fixture *f)
{
  g_autofree char *image = make_file (f->volumes, "disk1", MIB);
  g_autofree char *outside = make_file (f->other, "secret.img", MIB);
  g_autofree char *link = NULL;
  g_autofree char *adir = nlx_test_path (f->volumes, "adir");
  g_autofree char *fifo = nlx_test_path (f->volumes, "fifo");

  assert_opens (f->settings, "disk1", image);
  assert_open_refused (f->settings, "nosuch", NLX_DRIVER_ERROR_NOT_FOUND,
                       "No volume “nosuch” in *volumes; *volume-list*");
  assert_open_refused (f->settings, "../other/secret.img",
                       NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                       "*not a plain name*");

  /* Within the roots, a link is fine; out of them, it is refused. */
  link = nlx_test_path (f->volumes, "alias");
  g_assert_cmpint (symlink ("disk1", link), ==, 0);
  assert_opens (f->settings, "alias", image);
  g_free (link);
  link = nlx_test_path (f->volumes, "passwd");
  g_assert_cmpint (symlink ("/etc/passwd", link), ==, 0);
  assert_open_refused (f->settings, "passwd",
                       NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                       "*resolves to /etc/passwd, outside the allowed roots*"
                       "allowed_roots*");
  g_free (link);
  link = nlx_test_path (f->volumes, "escape");
  g_assert_cmpint (symlink (outside, link), ==, 0);
  assert_open_refused (f->settings, "escape",
                       NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                       "*resolves to */other/secret.img, outside*");
  g_free (link);
  link = nlx_test_path (f->volumes, "dangling");
  g_assert_cmpint (symlink ("nowhere", link), ==, 0);
  assert_open_refused (f->settings, "dangling", NLX_DRIVER_ERROR_NOT_FOUND,
                       "*does not exist*");

  /* Neither a directory nor a FIFO (opening which would block). */
  g_assert_cmpint (g_mkdir (adir, 0700), ==, 0);
  assert_open_refused (f->settings, "adir", NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                       "*neither a regular file nor a block device*");
  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  assert_open_refused (f->settings, "fifo", NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                       "*neither a regular file nor a block device*");
}

static void
case_open_glob (Fixture *f)
{
  g_autofree char *roots = g_strdup_printf ("%s, %s/*.img", f->volumes,
                                            f->other);
  g_autoptr(NlxVolumeSettings) settings = settings_with_roots (f, roots);
  g_autofree char *sub = nlx_test_path (f->other, "sub");
  g_autofree char *image = make_file (f->other, "a.img", MIB);
  g_autofree char *raw = make_file (f->other, "b.raw", MIB);
  g_autofree char *deep = NULL;
  g_autofree char *link = NULL;

  g_assert_cmpint (g_mkdir (sub, 0700), ==, 0);
  deep = make_file (sub, "c.img", MIB);

  link = nlx_test_path (f->volumes, "a");
  g_assert_cmpint (symlink (image, link), ==, 0);
  assert_opens (settings, "a", image);
  /* The default settings do not allow it. */
  assert_open_refused (f->settings, "a", NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                       "*outside the allowed roots*");
  g_free (link);
  link = nlx_test_path (f->volumes, "b");
  g_assert_cmpint (symlink (raw, link), ==, 0);
  assert_open_refused (settings, "b", NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                       "*outside the allowed roots*");
  /* '*' does not match '/'. */
  g_free (link);
  link = nlx_test_path (f->volumes, "c");
  g_assert_cmpint (symlink (deep, link), ==, 0);
  assert_open_refused (settings, "c", NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                       "*outside the allowed roots*");
}

/* A prefix of a root's name is not under the root. */
static void
case_open_prefix (Fixture *f)
{
  g_autofree char *sibling = g_strconcat (f->volumes, "2", NULL);
  g_autofree char *image = NULL;
  g_autofree char *link = nlx_test_path (f->volumes, "sib");

  g_assert_cmpint (g_mkdir (sibling, 0700), ==, 0);
  image = make_file (sibling, "x", MIB);
  g_assert_cmpint (symlink (image, link), ==, 0);
  assert_open_refused (f->settings, "sib", NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                       "*outside the allowed roots*");
}

/* The first block device the host has mounted. */
static char *
mounted_block_device (void)
{
  g_autofree char *mounts = NULL;
  g_auto(GStrv) lines = NULL;

  if (!g_file_get_contents ("/proc/self/mounts", &mounts, NULL, NULL))
    return NULL;
  lines = g_strsplit (mounts, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) fields = g_strsplit (lines[i], " ", 2);
      struct stat st;

      if (g_str_has_prefix (fields[0], "/dev/") &&
          stat (fields[0], &st) == 0 && S_ISBLK (st.st_mode))
        return realpath (fields[0], NULL);
    }
  return NULL;
}

static char *
missing_mounted_device (void)
{
  g_autofree char *device = mounted_block_device ();
  int fd;

  if (geteuid () != 0)
    return g_strdup ("only root may open the host's block devices");
  if (device == NULL)
    return g_strdup ("the host has no block device mounted");
  /* A sandbox may keep even root away from the host's disks. */
  fd = open (device, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return g_strdup_printf ("cannot open %s here: %s", device,
                            g_strerror (errno));
  close (fd);
  return NULL;
}

/* O_EXCL refuses what the host holds. */
static void
case_open_in_use (Fixture *f)
{
  g_autofree char *device = mounted_block_device ();
  g_autofree char *roots = NULL;
  g_autofree char *link = nlx_test_path (f->volumes, "hostdisk");
  g_autoptr(NlxVolumeSettings) settings = NULL;

  g_assert_nonnull (device);
  roots = g_strdup_printf ("%s, %s", f->volumes, device);
  settings = settings_with_roots (f, roots);
  g_assert_cmpint (symlink (device, link), ==, 0);
  assert_open_refused (settings, "hostdisk",
                       NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                       "*in use by the host*");
}

static char *
missing_loop_device (void)
{
  g_autofree char *losetup = nlx_test_find_tool ("losetup");

  if (geteuid () != 0)
    return g_strdup ("only root can make a loop device");
  if (losetup == NULL)
    return g_strdup ("losetup is not installed");
  return NULL;
}

/* A block device volume opened while a descriptor of an earlier open is
 * still held (as a loop device bound to it holds it): the exclusive
 * claim is the check at open, never kept, or every later open of the
 * volume (the mount after an attach, the next start) found the device
 * busy.  A claim someone else holds is still refused. */
static void
case_open_block_twice (Fixture *f)
{
  g_autofree char *image = make_file (f->other, "disk.img", MIB);
  g_autofree char *link = nlx_test_path (f->volumes, "blockdisk");
  g_autofree char *roots = g_strdup_printf ("%s, /dev/loop*", f->volumes);
  g_autoptr(NlxVolumeSettings) settings = settings_with_roots (f, roots);
  g_autoptr(GError) error = NULL;
  g_autofree char *device = NULL;
  const char *argv[] = { "losetup", "--find", "--show", image, NULL };
  struct loop_info64 info;
  int hold, first, second, claim;

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                &device, NULL, NULL, &error);
  g_assert_no_error (error);
  g_strstrip (device);
  /* Goes with this process, whatever ends it. */
  hold = open (device, O_RDONLY | O_CLOEXEC);
  g_assert_cmpint (hold, >=, 0);
  g_assert_cmpint (ioctl (hold, LOOP_GET_STATUS64, &info), ==, 0);
  info.lo_flags |= LO_FLAGS_AUTOCLEAR;
  g_assert_cmpint (ioctl (hold, LOOP_SET_STATUS64, &info), ==, 0);
  g_assert_cmpint (symlink (device, link), ==, 0);

  first = nlx_volume_open (settings, "blockdisk", NULL, &error);
  g_assert_no_error (error);
  second = nlx_volume_open (settings, "blockdisk", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (second, >=, 0);
  close (second);
  close (first);

  claim = open (device, O_RDONLY | O_EXCL | O_CLOEXEC);
  g_assert_cmpint (claim, >=, 0);
  assert_open_refused (settings, "blockdisk",
                       NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                       "*in use by the host*");
  close (claim);
  close (hold);
}

/* A hard link in the volume directory to a file elsewhere: every check
 * of paths sees the volume directory, yet the file is the other one.
 * Refused unless the operator allows hard links. */
static void
case_open_hard_link (Fixture *f)
{
  g_autofree char *outside = make_file (f->other, "secret.img", MIB);
  g_autofree char *entry = nlx_test_path (f->volumes, "linked");
  g_autofree char *data = g_strdup_printf ("[volumes]\npath = %s\n"
                                           "allow_hard_links = true\n",
                                           f->volumes);
  g_autoptr(NlxVolumeSettings) allowing = settings_from (data);
  g_autofree char *single = make_file (f->volumes, "single", MIB);

  g_assert_cmpint (link (outside, entry), ==, 0);
  assert_open_refused (f->settings, "linked",
                       NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                       "*has 2 hard links*outside the allowed roots*"
                       "allow_hard_links = true*");
  g_assert_true (allowing->allow_hard_links);
  assert_opens (allowing, "linked", entry);
  /* One name: fine either way. */
  assert_opens (f->settings, "single", single);
}

/* Entries that cannot be resolved are the operator's to fix: 400, not
 * a failure of the host. */
static void
case_open_unresolvable (Fixture *f)
{
  g_autofree char *loop = nlx_test_path (f->volumes, "loop");
  g_autofree char *a = nlx_test_path (f->volumes, "loop-a");
  g_autofree char *b = nlx_test_path (f->volumes, "loop-b");
  g_autofree char *through = nlx_test_path (f->volumes, "through-file");

  g_assert_cmpint (symlink ("loop", loop), ==, 0);
  g_assert_cmpint (symlink ("loop-b", a), ==, 0);
  g_assert_cmpint (symlink ("loop-a", b), ==, 0);
  g_assert_cmpint (symlink ("/etc/passwd/x", through), ==, 0);
  assert_open_refused (f->settings, "loop", NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                       "*cannot be resolved*loop of symbolic links*");
  assert_open_refused (f->settings, "loop-a",
                       NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                       "*cannot be resolved*");
  assert_open_refused (f->settings, "through-file",
                       NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                       "*cannot be resolved*");
}

static char *
missing_host_disk (void)
{
  g_autofree char *device = mounted_block_device ();

  if (geteuid () != 0)
    return g_strdup ("only root may open the host's block devices");
  if (device == NULL)
    return g_strdup ("the host has no block device mounted");
  return NULL;
}

/* The host's own disk under a careless allowed_roots: refused as the
 * request's fault whether the kernel says it is busy (O_EXCL) or, in a
 * sandbox, keeps every process away from it (EPERM). */
static void
case_open_host_disk (Fixture *f)
{
  g_autofree char *device = mounted_block_device ();
  g_autofree char *roots = g_strdup_printf ("%s, %s", f->volumes, device);
  g_autoptr(NlxVolumeSettings) settings = settings_with_roots (f, roots);
  g_autofree char *link = nlx_test_path (f->volumes, "rootdisk");

  g_assert_cmpint (symlink (device, link), ==, 0);
  assert_open_refused (settings, "rootdisk",
                       NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                       "*is block device*cannot be given to a server*");
}

/* ---- create -------------------------------------------------------------- */

static void
case_create_ext4 (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *tree = make_tree (f);
  g_autofree char *fstype = NULL;
  g_autofree char *image = nlx_test_path (f->volumes, "data");
  g_autofree char *debugfs = nlx_test_find_tool ("debugfs");
  g_autofree char *names = NULL;
  g_autofree char *big = NULL;
  g_autofree char *junk = NULL;
  struct stat st;

  g_assert_true (nlx_volume_create (f->settings, "data", 16 * MIB, NULL, tree,
                                    &error));
  g_assert_no_error (error);
  g_assert_cmpint (stat (image, &st), ==, 0);
  g_assert_cmpint (st.st_size, ==, 16 * MIB);
  fstype = probe (f->settings, "data", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (fstype, ==, "ext4");

  /* The tree is in the image, read without mounting it. */
  if (debugfs != NULL)
    {
      const char *argv[] = { debugfs, "-R", "cat /etc/hostname", image, NULL };
      g_autofree char *out = NULL;
      int status;

      g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL,
                                   G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                                   &out, NULL, &status, &error));
      g_assert_no_error (error);
      g_assert_cmpstr (out, ==, "vm1\n");
    }

  /* Refusals change nothing and leave no temporary file. */
  g_assert_false (nlx_volume_create (f->settings, "data", 16 * MIB, "ext4",
                                     NULL, &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_EXISTS);
  g_clear_error (&error);
  g_assert_false (nlx_volume_create (f->settings, "fat", 16 * MIB, "vfat",
                                     NULL, &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "ext4 or xfs"));
  g_clear_error (&error);
  g_assert_false (nlx_volume_create (f->settings, "tiny", 4096, NULL, NULL,
                                     &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (nlx_volume_create (f->settings, "huge",
                                     G_GUINT64_CONSTANT (2) << 40, NULL, NULL,
                                     &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (nlx_volume_create (f->settings, "small-xfs", 16 * MIB, "xfs",
                                     NULL, &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "300 MiB"));
  g_clear_error (&error);
  g_assert_false (nlx_volume_create (f->settings, "../x", 16 * MIB, NULL,
                                     NULL, &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (nlx_volume_create (f->settings, "rel", 16 * MIB, NULL,
                                     "other/tree", &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (nlx_volume_create (f->settings, "gone", 16 * MIB, NULL,
                                     "/nonexistent/tree", &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* mkfs itself fails: the tree does not fit. */
  big = nlx_test_path (tree, "big");
  junk = g_malloc (4 * MIB);
  memset (junk, 'x', 4 * MIB);
  g_assert_true (g_file_set_contents (big, junk, 4 * MIB, NULL));
  g_assert_false (nlx_volume_create (f->settings, "full", 2 * MIB, NULL, tree,
                                     &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "mkfs.ext4"));
  g_clear_error (&error);

  names = nlx_test_list_dir (f->volumes);
  g_assert_cmpstr (names, ==, "data");
}

/* The volume directory is made on first use. */
static void
case_create_dir (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = nlx_test_path (f->dir, "new/volumes");
  g_autofree char *data = g_strdup_printf ("[volumes]\npath = %s\n", dir);
  g_autoptr(NlxVolumeSettings) settings = settings_from (data);
  g_autoptr(GPtrArray) volumes = nlx_volume_list (settings, &error);
  struct stat st;

  g_assert_no_error (error);
  g_assert_cmpuint (volumes->len, ==, 0);
  g_assert_true (nlx_volume_create (settings, "v", MIB, "ext4", NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (stat (dir, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0700);
}

static void
case_create_xfs (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *tree = make_tree (f);
  g_autofree char *fstype = NULL;
  g_autofree char *xfs_db = nlx_test_find_tool ("xfs_db");
  g_autofree char *names = NULL;
  g_autofree char *spaced = NULL;
  g_autofree char *sticky = NULL;

  g_assert_true (nlx_volume_create (f->settings, "a-long-volume-name",
                                    300 * MIB, "xfs", tree, &error));
  g_assert_no_error (error);
  fstype = probe (f->settings, "a-long-volume-name", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (fstype, ==, "xfs");

  if (xfs_db != NULL)
    {
      g_autofree char *image = nlx_test_path (f->volumes, "a-long-volume-name");
      const char *argv[] = {
        xfs_db, "-r", "-c", "label", "-c", "ls /", "-c", "ls /etc", image, NULL
      };
      g_autofree char *out = NULL;
      int status;

      g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL,
                                   G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                                   &out, NULL, &status, &error));
      g_assert_no_error (error);
      g_assert_nonnull (strstr (out, "label = \"a-long-volum\""));
      g_assert_nonnull (strstr (out, " hello (good)"));
      g_assert_nonnull (strstr (out, " greeting (good)"));
      g_assert_nonnull (strstr (out, " run.sh (good)"));
      g_assert_nonnull (strstr (out, " hostname (good)"));
    }

  /* What a prototype file cannot say is refused, leaving nothing. */
  spaced = nlx_test_path (tree, "two words");
  g_assert_true (g_file_set_contents (spaced, "", -1, NULL));
  g_assert_false (nlx_volume_create (f->settings, "spaced", 300 * MIB, "xfs",
                                     tree, &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "two words"));
  g_clear_error (&error);
  g_assert_cmpint (g_unlink (spaced), ==, 0);
  sticky = nlx_test_path (tree, "tmp");
  g_assert_cmpint (g_mkdir (sticky, 01777), ==, 0);
  g_assert_cmpint (g_chmod (sticky, 01777), ==, 0);
  g_assert_false (nlx_volume_create (f->settings, "sticky", 300 * MIB, "xfs",
                                     tree, &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "sticky"));
  g_clear_error (&error);

  names = nlx_test_list_dir (f->volumes);
  g_assert_cmpstr (names, ==, "a-long-volume-name");
}

/* ---- probe --------------------------------------------------------------- */

static void
case_probe_nothing (Fixture *f)
{
  g_free (make_file (f->volumes, "zero", 4 * MIB));
  assert_probe_refused (f->settings, "zero",
                        "Volume “zero” has no filesystem libblkid recognises*"
                        "ext4, ext3, ext2, xfs*");
}

static void
case_probe_damaged (Fixture *f)
{
  g_autofree char *image = make_file (f->volumes, "broken", 16 * MIB);
  static const char zero[2] = { 0, 0 };

  nlx_test_run_tool ("mkfs.ext4", "-q", "-F", image, NULL);
  /* The superblock is at 1024, its magic number 56 bytes in. */
  write_at (image, 1024 + 56, zero, sizeof zero);
  assert_probe_refused (f->settings, "broken", "*no filesystem*");
}

static void
case_probe_not_whitelisted (Fixture *f)
{
  g_autofree char *image = make_file (f->volumes, "plain", 16 * MIB);
  g_autofree char *data = g_strdup_printf (
    "[volumes]\npath = %s\nfilesystem_whitelist = xfs\n", f->volumes);
  g_autoptr(NlxVolumeSettings) xfs_only = settings_from (data);

  nlx_test_run_tool ("mkfs.ext4", "-q", "-F", image, NULL);
  assert_probe_refused (xfs_only, "plain",
                        "*holds a ext4 filesystem, which is not whitelisted "
                        "(xfs)*[volumes] filesystem_whitelist*");
}

static void
case_probe_vfat (Fixture *f)
{
  g_autofree char *image = make_file (f->volumes, "fat", 16 * MIB);

  nlx_test_run_tool ("mkfs.vfat", image, NULL);
  assert_probe_refused (f->settings, "fat",
                        "*holds a vfat filesystem, which is not whitelisted*"
                        "filesystem_whitelist*");
}

static void
case_probe_btrfs (Fixture *f)
{
  g_autofree char *image = make_file (f->volumes, "butter", 114 * MIB);

  nlx_test_run_tool ("mkfs.btrfs", "-q", image, NULL);
  assert_probe_refused (f->settings, "butter",
                        "*holds a btrfs filesystem, which is not "
                        "whitelisted*");
}

/* An xfs superblock over the start of an ext4 image: both signatures
 * are valid, and which one a kernel sees depends on who probes first. */
static void
case_probe_ambiguous (Fixture *f)
{
  g_autofree char *image = make_file (f->volumes, "both", 16 * MIB);
  g_autofree char *xfs = make_file (f->other, "xfs.img", 300 * MIB);
  g_autofree char *head = NULL;
  gsize len;
  int fd;

  nlx_test_run_tool ("mkfs.ext4", "-q", "-F", image, NULL);
  nlx_test_run_tool ("mkfs.xfs", "-q", xfs, NULL);
  head = g_malloc (512);
  fd = open (xfs, O_RDONLY | O_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  len = read (fd, head, 512);
  g_assert_cmpuint (len, ==, 512);
  close (fd);
  write_at (image, 0, head, 512);
  assert_probe_refused (f->settings, "both",
                        "*several filesystem signatures*ambiguous*wipefs*");
}

/* An iso9660 volume descriptor inside a 1 MiB ext4: libblkid's safe
 * probe stops at the first signature on a device this small (it would
 * call it ext4), but a kernel asked for iso9660 would read the other. */
static void
case_probe_tiny_polyglot (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *image = make_file (f->volumes, "tiny", MIB);
  g_autofree char *plain = make_file (f->volumes, "tiny-plain", MIB);
  g_autofree char *fstype = NULL;
  guint8 descriptor[2048] = { 0 };
  guint8 terminator[2048] = { 0 };

  nlx_test_run_tool ("mkfs.ext4", "-q", "-F", image, NULL);
  nlx_test_run_tool ("mkfs.ext4", "-q", "-F", plain, NULL);
  /* A primary volume descriptor at 32 KiB, then the set terminator. */
  descriptor[0] = 1;
  memcpy (descriptor + 1, "CD001", 5);
  descriptor[6] = 1;
  memset (descriptor + 8, ' ', 64);
  memcpy (descriptor + 40, "NLXTEST", 7);
  terminator[0] = 255;
  memcpy (terminator + 1, "CD001", 5);
  terminator[6] = 1;
  write_at (image, 32768, descriptor, sizeof descriptor);
  write_at (image, 32768 + 2048, terminator, sizeof terminator);

  assert_probe_refused (f->settings, "tiny",
                        "*several filesystem signatures (ext4, iso9660)*"
                        "ambiguous*");
  /* The same size with one signature is fine. */
  fstype = probe (f->settings, "tiny-plain", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (fstype, ==, "ext4");
}

/* An MBR with one partition, written by hand: no tool needed. */
static void
case_probe_partitioned (Fixture *f)
{
  g_autofree char *image = make_file (f->volumes, "disk", 4 * MIB);
  guint8 entry[16] = { 0 };
  static const guint8 signature[2] = { 0x55, 0xaa };
  guint32 start = GUINT32_TO_LE (2048);
  guint32 sectors = GUINT32_TO_LE (4 * MIB / 512 - 2048);

  entry[4] = 0x83;
  memcpy (entry + 8, &start, 4);
  memcpy (entry + 12, &sectors, 4);
  write_at (image, 446, entry, sizeof entry);
  write_at (image, 510, signature, sizeof signature);
  assert_probe_refused (f->settings, "disk", "*partitioned disk (dos*");
}

static void
case_probe_ok (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *image = make_file (f->volumes, "fine", 16 * MIB);
  g_autofree char *fstype = NULL;

  nlx_test_run_tool ("mkfs.ext4", "-q", "-F", "-t", "ext3", image, NULL);
  fstype = probe (f->settings, "fine", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (fstype, ==, "ext3");
}

/* ---- list and delete ----------------------------------------------------- */

static void
case_list_delete (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *roots = g_strdup_printf ("%s, %s", f->volumes, f->other);
  g_autoptr(NlxVolumeSettings) settings = settings_with_roots (f, roots);
  g_autoptr(GPtrArray) volumes = NULL;
  g_autofree char *target = make_file (f->other, "target.img", 2 * MIB);
  g_autofree char *link = nlx_test_path (f->volumes, "c-link");
  g_autofree char *escape = nlx_test_path (f->volumes, "escape");
  g_autofree char *adir = nlx_test_path (f->volumes, "adir");
  g_autoptr(NlxVolumeInfo) info = NULL;
  NlxVolumeInfo *v;
  GDateTime *now = g_date_time_new_now_utc ();

  g_free (make_file (f->volumes, "a-zero", MIB));
  g_assert_true (nlx_volume_create (settings, "b-ext4", 8 * MIB, NULL, NULL,
                                    &error));
  g_assert_no_error (error);
  g_assert_cmpint (symlink (target, link), ==, 0);
  /* Not ids, so not volumes: skipped without a word. */
  g_free (make_file (f->volumes, ".b-ext4.AbC123", MIB));
  g_free (make_file (f->volumes, "two words", MIB));
  /* Ids that do not open: skipped with a warning. */
  g_assert_cmpint (symlink ("/etc/passwd", escape), ==, 0);
  g_assert_cmpint (g_mkdir (adir, 0700), ==, 0);

  g_test_expect_message ("nova-lxc", G_LOG_LEVEL_WARNING,
                         "*Ignoring volume adir*neither a regular file*");
  g_test_expect_message ("nova-lxc", G_LOG_LEVEL_WARNING,
                         "*Ignoring volume escape*outside the allowed roots*");
  volumes = nlx_volume_list (settings, &error);
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  g_assert_cmpuint (volumes->len, ==, 3);

  v = volumes->pdata[0];
  g_assert_cmpstr (v->id, ==, "a-zero");
  g_assert_cmpuint (v->size_bytes, ==, MIB);
  g_assert_null (v->fstype);
  g_assert_false (v->is_block);
  g_assert_nonnull (v->created_at);
  g_assert_cmpint (g_date_time_difference (now, v->created_at), <,
                   60 * G_TIME_SPAN_SECOND);
  v = volumes->pdata[1];
  g_assert_cmpstr (v->id, ==, "b-ext4");
  g_assert_cmpuint (v->size_bytes, ==, 8 * MIB);
  g_assert_cmpstr (v->fstype, ==, "ext4");
  v = volumes->pdata[2];
  g_assert_cmpstr (v->id, ==, "c-link");
  g_assert_cmpuint (v->size_bytes, ==, 2 * MIB);
  g_date_time_unref (now);

  info = nlx_volume_info (settings, "nosuch", &error);
  g_assert_null (info);
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* Deleting a link leaves what it points to. */
  g_assert_true (nlx_volume_delete (settings, "c-link", &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (link, G_FILE_TEST_IS_SYMLINK));
  g_assert_true (g_file_test (target, G_FILE_TEST_IS_REGULAR));
  /* Even one that escapes the roots. */
  g_assert_true (nlx_volume_delete (settings, "escape", &error));
  g_assert_no_error (error);
  g_assert_true (g_file_test ("/etc/passwd", G_FILE_TEST_IS_REGULAR));
  g_assert_true (nlx_volume_delete (settings, "b-ext4", &error));
  g_assert_no_error (error);

  g_assert_false (nlx_volume_delete (settings, "b-ext4", &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (nlx_volume_delete (settings, "../other/target.img", &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (nlx_volume_delete (settings, "adir", &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  g_clear_pointer (&volumes, g_ptr_array_unref);
  g_test_expect_message ("nova-lxc", G_LOG_LEVEL_WARNING, "*adir*");
  volumes = nlx_volume_list (settings, &error);
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  g_assert_cmpuint (volumes->len, ==, 1);
}

/* ---- fsck through the libguestfs helper --------------------------------- */

/* No appliance starts here (libguestfs refuses a missing drive before
 * launching): what is tested is how the helper's answer, or its lack,
 * becomes the caller's error. */
static void
case_fsck_helper (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *missing = nlx_test_path (f->dir, "missing.img");
  g_autofree char *no_helper = nlx_test_path (f->dir, "no-such-helper");
  g_autofree char *expected = NULL;

  /* The helper's own error, domain, code and message intact. */
  g_assert_false (nlx_volume_fsck (missing, "ext4", "nlxtest-vol", &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED);
  expected = g_strdup_printf ("Cannot check volume “nlxtest-vol”: Cannot "
                              "give %s to libguestfs: %s: No such file or "
                              "directory", missing, missing);
  g_assert_cmpstr (error->message, ==, expected);
  g_clear_error (&error);

  /* A helper that cannot run, or dies without an answer, says so. */
  g_setenv (NLX_GUESTFS_HELPER_ENV, no_helper, TRUE);
  g_assert_false (nlx_volume_fsck (missing, "ext4", "nlxtest-vol", &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED);
  if (!g_pattern_match_simple ("Cannot check volume “nlxtest-vol”: Cannot "
                               "run the libguestfs helper */no-such-helper: "
                               "*; reinstall nova-lxc", error->message))
    g_error ("unexpected message: %s", error->message);
  g_clear_error (&error);
  g_setenv (NLX_GUESTFS_HELPER_ENV, "/bin/false", TRUE);
  g_assert_false (nlx_volume_fsck (missing, "ext4", "nlxtest-vol", &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED);
  g_assert_cmpstr (error->message, ==, "Cannot check volume “nlxtest-vol”: "
                   "The libguestfs helper /bin/false gave no answer (Child "
                   "process exited with code 1); its messages are on the "
                   "daemon's standard error");
  g_clear_error (&error);
  /* The helper inherits nothing but its standard streams, not even a
   * descriptor left open across exec: libguestfs's select() needs low
   * numbers. */
  {
    g_autofree char *script = nlx_test_path (f->dir, "list-fds");
    g_autofree char *list = nlx_test_path (f->dir, "fds");
    g_autofree char *text = g_strdup_printf ("#!/bin/sh\n"
                                             "ls /proc/$$/fd > %s\n"
                                             "exit 1\n", list);
    g_autofree char *fds = NULL;
    g_auto(GStrv) lines = NULL;
    int inheritable = open ("/dev/null", O_RDONLY);

    g_assert_cmpint (inheritable, >=, 0);
    g_assert_cmpint (dup2 (inheritable, 1000), ==, 1000);
    close (inheritable);
    g_assert_true (g_file_set_contents (script, text, -1, NULL));
    g_assert_cmpint (chmod (script, 0700), ==, 0);
    g_setenv (NLX_GUESTFS_HELPER_ENV, script, TRUE);
    g_assert_false (nlx_volume_fsck (missing, "ext4", "nlxtest-vol", &error));
    g_clear_error (&error);
    close (1000);
    g_assert_true (g_file_get_contents (list, &fds, NULL, NULL));
    lines = g_strsplit (g_strstrip (fds), "\n", -1);
    g_assert_true (g_strv_contains ((const char * const *) lines, "0"));
    g_assert_true (g_strv_contains ((const char * const *) lines, "1"));
    g_assert_true (g_strv_contains ((const char * const *) lines, "2"));
    /* Besides those, only what the shell opened for itself. */
    g_assert_false (g_strv_contains ((const char * const *) lines, "1000"));
  }
  /* Exit 0 with no answer is no answer either. */
  g_setenv (NLX_GUESTFS_HELPER_ENV, "/bin/true", TRUE);
  g_assert_false (nlx_volume_fsck (missing, "ext4", "nlxtest-vol", &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "gave no answer (its answer is "
                            "not one)"));
  g_unsetenv (NLX_GUESTFS_HELPER_ENV);
}

int
main (int argc,
      char **argv)
{
  static const Case cases[] = {
    { "/nlx/volume/settings/resolved", case_settings_resolved, { NULL } },
    { "/nlx/volume/open/basic", case_open, { NULL } },
    { "/nlx/volume/open/glob", case_open_glob, { NULL } },
    { "/nlx/volume/open/prefix", case_open_prefix, { NULL } },
    { "/nlx/volume/open/in-use", case_open_in_use, { NULL },
      missing_mounted_device },
    { "/nlx/volume/open/block-twice", case_open_block_twice, { NULL },
      missing_loop_device },
    { "/nlx/volume/open/hard-link", case_open_hard_link, { NULL } },
    { "/nlx/volume/open/unresolvable", case_open_unresolvable, { NULL } },
    { "/nlx/volume/open/host-disk", case_open_host_disk, { NULL },
      missing_host_disk },
    { "/nlx/volume/create/ext4", case_create_ext4, { "mkfs.ext4" } },
    { "/nlx/volume/create/dir", case_create_dir, { "mkfs.ext4" } },
    { "/nlx/volume/create/xfs", case_create_xfs, { "mkfs.xfs" } },
    { "/nlx/volume/probe/nothing", case_probe_nothing, { NULL } },
    { "/nlx/volume/probe/damaged", case_probe_damaged, { "mkfs.ext4" } },
    { "/nlx/volume/probe/not-whitelisted", case_probe_not_whitelisted,
      { "mkfs.ext4" } },
    { "/nlx/volume/probe/vfat", case_probe_vfat, { "mkfs.vfat" } },
    { "/nlx/volume/probe/btrfs", case_probe_btrfs, { "mkfs.btrfs" } },
    { "/nlx/volume/probe/ambiguous", case_probe_ambiguous,
      { "mkfs.ext4", "mkfs.xfs" } },
    { "/nlx/volume/probe/tiny-polyglot", case_probe_tiny_polyglot,
      { "mkfs.ext4" } },
    { "/nlx/volume/probe/partitioned", case_probe_partitioned, { "sfdisk" } },
    { "/nlx/volume/probe/ok", case_probe_ok, { "mkfs.ext4" } },
    { "/nlx/volume/list-delete", case_list_delete, { "mkfs.ext4" } },
    { "/nlx/volume/fsck/helper", case_fsck_helper, { NULL } },
  };

  g_test_init (&argc, &argv, NULL);
  g_test_summary ("Volume ids, roots, probing, making and deleting volumes.");
  g_test_add_func ("/nlx/volume/id", test_id);
  g_test_add_func ("/nlx/volume/settings/defaults", test_settings_defaults);
  g_test_add_func ("/nlx/volume/settings/values", test_settings_values);
  g_test_add_func ("/nlx/volume/settings/invalid", test_settings_invalid);
  g_test_add_func ("/nlx/volume/settings/no-leak", test_settings_no_leak);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    g_test_add (cases[i].path, Fixture, &cases[i], fixture_setup, run_case,
                fixture_teardown);
  return g_test_run ();
}
