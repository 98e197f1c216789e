/* test-lxc-limits.c: reading the host's limits from a directory laid
 * out as /proc, and which of them hold how many instances */
#include "config.h"

#include <string.h>
#include <glib/gstdio.h>

#include "common/nlx-error.h"
#include "common/nlx-file.h"
#include "lxc/nlx-lxc-limits.h"

/* The kernel's and systemd's defaults, as on the build machines but
 * for the open files' soft limit. */
static const char default_limits[] =
  "Limit                     Soft Limit           Hard Limit           Units     \n"
  "Max processes             96363                96363                processes \n"
  "Max open files            1024                 524288               files     \n"
  "Max locked memory         8388608              8388608              bytes     \n";

typedef struct {
  char *dir;
} Fixture;

static void
put (Fixture *f,
     const char *name,
     const char *text)
{
  g_autofree char *path = g_build_filename (f->dir, name, NULL);
  g_autofree char *parent = g_path_get_dirname (path);
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (g_mkdir_with_parents (parent, 0755), ==, 0);
  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
}

static void
fixture_set_up (Fixture *f,
                gconstpointer data G_GNUC_UNUSED)
{
  g_autoptr(GError) error = NULL;

  f->dir = g_dir_make_tmp ("nlx-test-limits-XXXXXX", &error);
  g_assert_no_error (error);
  put (f, "self/limits", default_limits);
  put (f, "sys/kernel/pty/max", "4096\n");
  put (f, "sys/kernel/pty/reserve", "1024\n");
  put (f, "sys/fs/inotify/max_user_instances", "128\n");
  put (f, "sys/fs/inotify/max_user_watches", "192530\n");
  put (f, "sys/kernel/keys/maxkeys", "200\n");
  put (f, "sys/kernel/keys/maxbytes", "20000\n");
  put (f, "sys/kernel/pid_max", "32768\n");
  put (f, "sys/kernel/threads-max", "192726\n");
}

static void
fixture_tear_down (Fixture *f,
                   gconstpointer data G_GNUC_UNUSED)
{
  g_autoptr(GError) error = NULL;

  nlx_file_remove_tree (f->dir, &error);
  g_assert_no_error (error);
  g_free (f->dir);
}

static void
read_ok (Fixture *f,
         NlxLxcHostLimits *limits)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (nlx_lxc_limits_read (f->dir, limits, &error));
  g_assert_no_error (error);
}

static void
test_read (Fixture *f,
           gconstpointer data G_GNUC_UNUSED)
{
  NlxLxcHostLimits limits;
  g_autofree char *keys = g_build_filename (f->dir, "sys/kernel/keys", NULL);
  g_autofree char *maxkeys = g_build_filename (keys, "maxkeys", NULL);
  g_autofree char *maxbytes = g_build_filename (keys, "maxbytes", NULL);

  read_ok (f, &limits);
  g_assert_cmpuint (limits.open_files, ==, 1024);
  g_assert_cmpuint (limits.pty_max, ==, 4096);
  g_assert_cmpuint (limits.pty_reserve, ==, 1024);
  g_assert_cmpuint (limits.inotify_instances, ==, 128);
  g_assert_cmpuint (limits.inotify_watches, ==, 192530);
  g_assert_cmpuint (limits.keys_max, ==, 200);
  g_assert_cmpuint (limits.keys_bytes, ==, 20000);
  g_assert_cmpuint (limits.pid_max, ==, 32768);
  g_assert_cmpuint (limits.threads_max, ==, 192726);

  /* Unlimited files; a kernel without keys limits none. */
  put (f, "self/limits",
       "Limit                     Soft Limit           Hard Limit           Units     \n"
       "Max open files            unlimited            unlimited            files     \n");
  g_assert_cmpint (g_unlink (maxkeys), ==, 0);
  g_assert_cmpint (g_unlink (maxbytes), ==, 0);
  g_assert_cmpint (g_rmdir (keys), ==, 0);
  read_ok (f, &limits);
  g_assert_cmpuint (limits.open_files, ==, G_MAXUINT64);
  g_assert_cmpuint (limits.keys_max, ==, G_MAXUINT64);
  g_assert_cmpuint (limits.keys_bytes, ==, G_MAXUINT64);
  g_assert_cmpuint (limits.pty_max, ==, 4096);
}

static void
test_read_bad (Fixture *f,
               gconstpointer data G_GNUC_UNUSED)
{
  static const char * const bad[] = { "", "x", "12x", "-1", " \n" };
  NlxLxcHostLimits limits;

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;

      put (f, "sys/kernel/pty/max", bad[i]);
      g_assert_false (nlx_lxc_limits_read (f->dir, &limits, &error));
      g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED);
      g_assert_nonnull (strstr (error->message, "sys/kernel/pty/max"));
    }
  put (f, "sys/kernel/pty/max", "4096\n");
  put (f, "self/limits", "Max processes 1 1 processes\n");
  {
    g_autoptr(GError) error = NULL;

    g_assert_false (nlx_lxc_limits_read (f->dir, &limits, &error));
    g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED);
    g_assert_nonnull (strstr (error->message, "Max open files"));
  }
}

/* The one warning that names @what, or NULL. */
static const char *
warning_about (GPtrArray *warnings,
               const char *what)
{
  const char *found = NULL;

  for (guint i = 0; i < warnings->len; i++)
    if (strstr (warnings->pdata[i], what) != NULL)
      {
        g_assert_null (found);
        found = warnings->pdata[i];
      }
  return found;
}

/* The kernel's defaults hold a thousand busybox instances in PTYs, pids
 * and watches, but not in files, inotify instances, keys or a /24. */
static void
test_check_defaults (Fixture *f,
                     gconstpointer data G_GNUC_UNUSED)
{
  NlxLxcHostLimits limits;
  NlxLxcLimitsWanted wanted = { 1000, 253, 384 };
  g_autoptr(GPtrArray) warnings = NULL;
  const char *text;
  guint allowed = 0;

  read_ok (f, &limits);
  warnings = nlx_lxc_limits_check (&limits, &wanted, &allowed);

  /* 64 + 384 for the daemon, 5 per instance */
  text = warning_about (warnings, "LimitNOFILE=");
  g_assert_nonnull (text);
  g_assert_nonnull (strstr (text, "may open 1024 files, enough for about 115 "));
  g_assert_nonnull (strstr (text, "at least 5448 "));
  /* 32 for root, 5 per instance */
  text = warning_about (warnings, "fs.inotify.max_user_instances");
  g_assert_nonnull (text);
  g_assert_nonnull (strstr (text, "is 128, enough for about 19 "));
  g_assert_nonnull (strstr (text, "sysctl -w fs.inotify.max_user_instances=5032"));
  /* One warning for the key quota, which does not stop instances */
  text = warning_about (warnings, "kernel.keys.maxkeys");
  g_assert_nonnull (text);
  g_assert_nonnull (strstr (text, "keyrings of about 100 of the 1000"));
  g_assert_nonnull (strstr (text, "kernel.keys.maxkeys=1100 "
                                  "kernel.keys.maxbytes=20000"));
  text = warning_about (warnings, "[network] cidr");
  g_assert_nonnull (text);
  g_assert_nonnull (strstr (text, "leave 253 addresses"));
  g_assert_cmpuint (warnings->len, ==, 4);
  g_assert_null (warning_about (warnings, "kernel.pty.max"));
  g_assert_null (warning_about (warnings, "bridge"));
  /* The daemon's files, then inotify for systemd instances */
  g_assert_cmpuint (allowed, ==, 19);
}

/* Raised as nova-lxc-compute(8) says: nothing to warn about, up to the
 * bridge's ports. */
static void
test_check_raised (Fixture *f,
                   gconstpointer data G_GNUC_UNUSED)
{
  NlxLxcHostLimits limits;
  NlxLxcLimitsWanted wanted = { 1000, 1021, 384 };
  g_autoptr(GPtrArray) warnings = NULL;
  guint allowed = 0;

  put (f, "self/limits", "Max open files            65536                65536                files     \n");
  put (f, "sys/fs/inotify/max_user_instances", "8192\n");
  put (f, "sys/kernel/keys/maxkeys", "2000\n");
  put (f, "sys/kernel/keys/maxbytes", "50000\n");
  read_ok (f, &limits);
  warnings = nlx_lxc_limits_check (&limits, &wanted, &allowed);
  g_assert_cmpuint (warnings->len, ==, 0);
  g_assert_cmpuint (allowed, ==, 1021);

  /* Exactly what is needed holds; one less does not. */
  limits.pty_max = 64 + 1024 + 2 * 1000;
  g_clear_pointer (&warnings, g_ptr_array_unref);
  warnings = nlx_lxc_limits_check (&limits, &wanted, NULL);
  g_assert_cmpuint (warnings->len, ==, 0);
  limits.pty_max--;
  g_clear_pointer (&warnings, g_ptr_array_unref);
  warnings = nlx_lxc_limits_check (&limits, &wanted, &allowed);
  g_assert_cmpuint (warnings->len, ==, 1);
  g_assert_nonnull (strstr (warnings->pdata[0],
                            "sysctl -w kernel.pty.max=3088"));
  g_assert_cmpuint (allowed, ==, 999);
}

/* Two thousand: the PTYs of the kernel's default and one bridge's ports
 * run out first. */
static void
test_check_two_thousand (Fixture *f,
                         gconstpointer data G_GNUC_UNUSED)
{
  NlxLxcHostLimits limits;
  NlxLxcLimitsWanted wanted = { 2000, 4093, 384 };
  g_autoptr(GPtrArray) warnings = NULL;
  const char *text;
  guint allowed = 0;

  read_ok (f, &limits);
  limits.open_files = G_MAXUINT64;
  limits.inotify_instances = limits.keys_max = limits.keys_bytes = G_MAXUINT64;
  warnings = nlx_lxc_limits_check (&limits, &wanted, &allowed);
  text = warning_about (warnings, "kernel.pty.max");
  g_assert_nonnull (text);
  /* 4096 - 1024 reserved - 64 for the host, 2 each */
  g_assert_nonnull (strstr (text, "enough for about 1504 of the 2000"));
  g_assert_nonnull (strstr (text, "kernel.pty.max=5088"));
  text = warning_about (warnings, "Linux bridge");
  g_assert_nonnull (text);
  g_assert_nonnull (strstr (text, "at most 1023 ports"));
  g_assert_cmpuint (warnings->len, ==, 2);
  g_assert_cmpuint (allowed, ==, 1023);
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/nlx/lxc/limits/read", Fixture, NULL, fixture_set_up,
              test_read, fixture_tear_down);
  g_test_add ("/nlx/lxc/limits/read-bad", Fixture, NULL, fixture_set_up,
              test_read_bad, fixture_tear_down);
  g_test_add ("/nlx/lxc/limits/check-defaults", Fixture, NULL,
              fixture_set_up, test_check_defaults, fixture_tear_down);
  g_test_add ("/nlx/lxc/limits/check-raised", Fixture, NULL, fixture_set_up,
              test_check_raised, fixture_tear_down);
  g_test_add ("/nlx/lxc/limits/check-two-thousand", Fixture, NULL,
              fixture_set_up, test_check_two_thousand, fixture_tear_down);
  return g_test_run ();
}
