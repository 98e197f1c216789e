/* nlx-test-tools.c: helpers the tests share: the host's filesystem tools,
 * what a functional test does on a host that cannot run it, test bodies
 * run in a subprocess, their scratch directories, and small file helpers */
#include "config.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <malloc.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "common/nlx-file.h"
#include "lib/nlx-test-tools.h"

/**
 * nlx_test_find_tool:
 * @name: a program, e.g. mkfs.ext4
 *
 * mkfs and friends live in /usr/sbin, which an unprivileged PATH may
 * lack.
 *
 * Returns: (transfer full) (nullable): its path, or %NULL if missing
 */
char *
nlx_test_find_tool (const char *name)
{
  static const char * const dirs[] = { "/usr/sbin", "/sbin", "/usr/bin" };
  char *path = g_find_program_in_path (name);

  for (guint i = 0; path == NULL && i < G_N_ELEMENTS (dirs); i++)
    {
      path = g_build_filename (dirs[i], name, NULL);
      if (!g_file_test (path, G_FILE_TEST_IS_EXECUTABLE))
        g_clear_pointer (&path, g_free);
    }
  return path;
}

/**
 * nlx_test_run_tool:
 * @name: a program found by nlx_test_find_tool()
 * @...: its arguments, then %NULL
 *
 * Runs it and fails the test, with what it printed on stderr, unless it
 * exits 0.
 */
void
nlx_test_run_tool (const char *name,
                   ...)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *tool = nlx_test_find_tool (name);
  g_autofree char *err = NULL;
  g_auto(GStrv) argv = NULL;
  const char *arg;
  va_list args;
  int status;

  g_assert_nonnull (tool);
  g_strv_builder_add (builder, tool);
  va_start (args, name);
  while ((arg = va_arg (args, const char *)) != NULL)
    g_strv_builder_add (builder, arg);
  va_end (args);
  argv = g_strv_builder_end (builder);

  g_spawn_sync (NULL, argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                NULL, &err, &status, &error);
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, &error))
    g_error ("%s failed: %s: %s", tool, error->message, err);
}

/* Where a body in nlx_test_trap_body()'s subprocess leaves why it
 * skipped: a skip there ends the subprocess as a failure would, and the
 * parent, which reports the case, cannot read the child's skip message. */
#define SKIP_FILE_ENV "NLX_TEST_SKIP_FILE"

/* Skips the case, or fails it when @required and NLX_TEST_REQUIRE_HOST
 * is set; from a body in a subprocess, hands both over to the parent. */
static void
skip_or_fail (gboolean required,
              const char *reason)
{
  const char *skip_file = g_getenv (SKIP_FILE_ENV);

  if (g_test_subprocess () && skip_file != NULL)
    {
      g_autofree char *text = g_strdup_printf ("%c%s", required ? 'R' : 'S',
                                               reason);

      g_file_set_contents (skip_file, text, -1, NULL);
      g_test_skip (reason);
    }
  else if (required && g_getenv (NLX_TEST_REQUIRE_HOST) != NULL)
    g_test_fail_printf ("%s (%s is set: this host must run every functional "
                        "test)", reason, NLX_TEST_REQUIRE_HOST);
  else if (required)
    g_test_skip_printf ("%s (set %s=1 to make this a failure)", reason,
                        NLX_TEST_REQUIRE_HOST);
  else
    g_test_skip (reason);
}

/**
 * nlx_test_host_unusable:
 * @format: printf()-style: what cannot be tested and what this host
 *   lacks (root, libvirt LXC, lxcfs, a program), e.g. "cannot test
 *   mounts: not root"
 *
 * What every functional test does when this host cannot run its case,
 * in its fixture or in a body that nlx_test_trap_body() runs: the case
 * is skipped with the reason, so that `make check` works on any
 * developer's host; but where NLX_TEST_REQUIRE_HOST is set (tools/check
 * sets it: a machine set up to run everything) the case fails with the
 * reason instead, so that a broken set-up cannot pass as a row of
 * skips.  A failure, not an abort, so that the other cases still run
 * and report.  The caller returns, leaving its fixture unusable, so
 * that body and teardown do nothing.
 */
void
nlx_test_host_unusable (const char *format,
                        ...)
{
  g_autofree char *reason = NULL;
  va_list args;

  va_start (args, format);
  reason = g_strdup_vprintf (format, args);
  va_end (args);
  skip_or_fail (TRUE, reason);
}

/**
 * nlx_test_skip:
 * @format: printf()-style: why the case cannot say anything here
 *
 * Skips the case for what no host set-up can change (e.g. one CPU),
 * also from a body in nlx_test_trap_body()'s subprocess, where a plain
 * g_test_skip() reads as a failure.  The caller returns.
 */
void
nlx_test_skip (const char *format,
               ...)
{
  g_autofree char *reason = NULL;
  va_list args;

  va_start (args, format);
  reason = g_strdup_vprintf (format, args);
  va_end (args);
  skip_or_fail (FALSE, reason);
}

/**
 * nlx_test_trap_body:
 * @timeout_s: how long the body may take
 *
 * Runs the current test again in a subprocess, where the caller runs its
 * body, and marks the test failed when the body failed, or skipped (or
 * failed) when the body called nlx_test_skip() or
 * nlx_test_host_unusable().  Not g_test_trap_assert_passed(), which would
 * abort before the caller's teardown removes what the body made.
 *
 * Returns: whether the body passed
 */
gboolean
nlx_test_trap_body (guint timeout_s)
{
  g_autofree char *skip_file = g_strdup_printf ("%s/nlxtest-skip-%d-%08x",
                                                g_get_tmp_dir (), getpid (),
                                                g_random_int ());
  g_autofree char *text = NULL;

  g_setenv (SKIP_FILE_ENV, skip_file, TRUE);
  g_test_trap_subprocess (NULL, (guint64) timeout_s * G_USEC_PER_SEC,
                          G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_unsetenv (SKIP_FILE_ENV);
  if (g_file_get_contents (skip_file, &text, NULL, NULL))
    {
      g_unlink (skip_file);
      skip_or_fail (text[0] == 'R', text + 1);
      return FALSE;
    }
  if (g_test_trap_has_passed ())
    return TRUE;
  g_test_fail_printf ("%s failed; its messages are above", g_test_get_path ());
  return FALSE;
}

/**
 * nlx_test_case_shared:
 * @name: an environment variable, e.g. "NLX_TEST_UUID"
 * @value: what the parent chose (a random name, a scratch directory)
 *
 * A value the parent chooses for a case and the subprocess that
 * nlx_test_trap_body() runs its body in must see the same: in the
 * parent, @value, handed over through @name; in the subprocess, what
 * the parent handed over (@value is ignored there).
 *
 * Returns: (transfer full): the value
 */
char *
nlx_test_case_shared (const char *name,
                      const char *value)
{
  const char *shared;

  if (!g_test_subprocess ())
    {
      g_setenv (name, value, TRUE);
      return g_strdup (value);
    }
  shared = g_getenv (name);
  g_assert_nonnull (shared);
  return g_strdup (shared);
}

/**
 * nlx_test_case_dir:
 * @template: for g_dir_make_tmp(), e.g. "nlxtest-volume-XXXXXX"
 *
 * The case's scratch directory: made in the parent, which removes it in
 * its teardown (nlx_test_case_dir_remove()), and handed through
 * NLX_TEST_DIR to the subprocess that nlx_test_trap_body() runs the
 * case's body in.
 *
 * Returns: (transfer full): its path
 */
char *
nlx_test_case_dir (const char *template)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL;

  if (!g_test_subprocess ())
    {
      dir = g_dir_make_tmp (template, &error);
      g_assert_no_error (error);
    }
  return nlx_test_case_shared ("NLX_TEST_DIR", dir);
}

/* Detaches what is still mounted at or below @dir in this process's
 * mount namespace, deepest first: the lxc driver's private mount of its
 * instances_path (nlx-lxc-mounts.c) stays while anything is mounted
 * below it, or after a daemon was killed. */
static void
umount_below (const char *dir)
{
  g_autofree char *real = realpath (dir, NULL);
  g_autofree char *text = NULL;
  g_autofree char *prefix = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(GPtrArray) points = g_ptr_array_new_with_free_func (g_free);

  if (real == NULL ||
      !g_file_get_contents ("/proc/self/mountinfo", &text, NULL, NULL))
    return;
  prefix = g_strconcat (real, "/", NULL);
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) fields = g_strsplit (lines[i], " ", 6);

      if (g_strv_length (fields) >= 5 &&
          (g_str_equal (fields[4], real) || g_str_has_prefix (fields[4], prefix)))
        g_ptr_array_add (points, g_strdup (fields[4]));
    }
  /* Reverse order of mounting: what was mounted on top goes first. */
  for (guint i = points->len; i > 0; i--)
    umount2 (points->pdata[i - 1], MNT_DETACH | UMOUNT_NOFOLLOW);
}

/**
 * nlx_test_case_dir_remove:
 * @dir: (nullable): from nlx_test_case_dir()
 *
 * Removes the case's scratch directory and all in it, from the parent
 * only: the subprocess's teardown runs before the parent is done.
 */
void
nlx_test_case_dir_remove (const char *dir)
{
  g_autoptr(GError) error = NULL;

  if (dir == NULL || g_test_subprocess ())
    return;
  umount_below (dir);
  nlx_file_remove_tree (dir, &error);
  g_assert_no_error (error);
}

/* @name in @dir. */
char *
nlx_test_path (const char *dir,
               const char *name)
{
  return g_build_filename (dir, name, NULL);
}

/* The SHA-256 of @path's contents, in hex; fails the test if it cannot
 * be read. */
char *
nlx_test_file_checksum (const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize length;

  g_file_get_contents (path, &contents, &length, &error);
  g_assert_no_error (error);
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, (guchar *) contents,
                                      length);
}

/* A comparator for sorting an array of strings (qsort,
 * g_ptr_array_sort): it gets pointers to the elements, so strcmp itself
 * would compare the pointers' bytes. */
int
nlx_test_compare_strings (gconstpointer a,
                          gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/* The names in @dir, sorted, joined with spaces: what a case compares
 * with what it expects to find there. */
char *
nlx_test_list_dir (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, nlx_test_compare_strings);
  g_ptr_array_add (names, NULL);
  return g_strjoinv (" ", (char **) names->pdata);
}

/* Runs @argv (looked up in PATH) and fails the test unless it exits 0. */
void
nlx_test_run_command (const char * const *argv)
{
  g_autoptr(GError) error = NULL;
  int status;

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                NULL, NULL, &status, &error);
  g_assert_no_error (error);
  g_spawn_check_wait_status (status, &error);
  g_assert_no_error (error);
}

/* Bytes the C library's allocator has handed out and not had back. */
gsize
nlx_test_heap_in_use (void)
{
  return mallinfo2 ().uordblks;
}

/* Fails if @run, called NLX_TEST_LEAK_ROUNDS times, leaves the heap
 * larger by more than NLX_TEST_LEAK_SLACK: a leak of even a few bytes a
 * call shows up, without ASan or valgrind.  A warm-up first, so that
 * caches filled once (GLib's slices, quarks) do not count. */
void
nlx_test_assert_no_leak (const char *what,
                         void (*run) (gconstpointer data),
                         gconstpointer data)
{
  gsize before, after;

  for (guint i = 0; i < NLX_TEST_LEAK_ROUNDS / 10; i++)
    run (data);
  before = nlx_test_heap_in_use ();
  for (guint i = 0; i < NLX_TEST_LEAK_ROUNDS; i++)
    run (data);
  after = nlx_test_heap_in_use ();
  if (after > before + NLX_TEST_LEAK_SLACK)
    g_error ("%s leaks: the heap grew by %" G_GSIZE_FORMAT " bytes in %d "
             "calls", what, after - before, NLX_TEST_LEAK_ROUNDS);
}

/* Descriptors process @pid holds now: a long-lived daemon's calls must
 * leave none open. */
guint
nlx_test_count_fds_of (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/fd", (int) pid);
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

/* Descriptors this process holds now. */
guint
nlx_test_count_fds (void)
{
  return nlx_test_count_fds_of (getpid ());
}

/* Whether an interface holds @address (IPv4, network order). */
static gboolean
address_in_use (guint32 address)
{
  struct ifaddrs *list = NULL;
  gboolean found = FALSE;

  if (getifaddrs (&list) != 0)
    return FALSE;
  for (struct ifaddrs *i = list; i != NULL && !found; i = i->ifa_next)
    if (i->ifa_addr != NULL && i->ifa_addr->sa_family == AF_INET)
      found = ((struct sockaddr_in *) i->ifa_addr)->sin_addr.s_addr == address;
  freeifaddrs (list);
  return found;
}

/* Claims /24 number @n for this process, host-wide, until it exits: a
 * socket bound to an abstract name, which a second bind refuses and the
 * kernel frees with the process, leaving no file behind.  Checking the
 * host's addresses alone leaves a window (from the draw until the daemon
 * puts the gateway on its bridge) in which a test of another program
 * draws the same /24: make -j runs two at once, and distcheck met it. */
static gboolean
claim_subnet (guint n)
{
  struct sockaddr_un address = { .sun_family = AF_UNIX };
  int length = g_snprintf (address.sun_path + 1, sizeof address.sun_path - 1,
                           "nova-lxc-test-net-%u", n);
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if (fd < 0)
    return TRUE;                /* no claim, as before: the checks remain */
  if (bind (fd, (struct sockaddr *) &address,
            offsetof (struct sockaddr_un, sun_path) + 1 + length) != 0)
    {
      close (fd);
      return FALSE;
    }
  /* Kept open on purpose: the claim is the open socket. */
  return TRUE;
}

/* A random number from which a test names its bridges (the low 24 bits,
 * as 6 hex digits) and its /24 of 198.18.0.0/15 (bit 24 and bits 16-23:
 * 198.{18,19}.N), drawn again while the host already has the compute
 * fixture's bridge of those digits (nlxc...) or the subnet's .1 in
 * either half, or another test process has claimed the /24
 * (claim_subnet()): tests running at once (make -j, several trees on one
 * host) would otherwise take one gateway twice, and the second daemon
 * could not serve its metadata service there. */
guint32
nlx_test_network_random (void)
{
  for (guint attempt = 0; ; attempt++)
    {
      guint32 r = g_random_int ();
      g_autofree char *bridge = g_strdup_printf ("nlxc%06x", r & 0xffffff);
      /* Both halves: test-metadata's neighbour daemon takes the same
       * /24 in the other half. */
      guint32 low = htonl ((198u << 24) | (18u << 16) |
                           (((r >> 16) & 0xff) << 8) | 1u);
      guint32 high = htonl ((198u << 24) | (19u << 16) |
                            (((r >> 16) & 0xff) << 8) | 1u);

      if (attempt == 100 ||
          (if_nametoindex (bridge) == 0 && !address_in_use (low) &&
           !address_in_use (high) && claim_subnet ((r >> 16) & 0xff)))
        return r;
    }
}

/* libvirtd's pid (its pid file's), when it runs in a mount namespace of
 * its own, else 0: tools/libvirtd-service gives it one on a hybrid
 * cgroup host, and the daemon then keeps instances' roots out of it. */
GPid
nlx_test_libvirtd_elsewhere (void)
{
  g_autofree char *text = NULL;
  g_autofree char *ns = NULL;
  g_autofree char *ours = NULL;
  GPid pid;

  if (!g_file_get_contents ("/run/libvirtd.pid", &text, NULL, NULL))
    return 0;
  pid = (GPid) g_ascii_strtoll (text, NULL, 10);
  ns = g_strdup_printf ("/proc/%d/ns/mnt", (int) pid);
  g_free (text);
  text = g_file_read_link (ns, NULL);
  ours = g_file_read_link ("/proc/self/ns/mnt", NULL);
  return text != NULL && ours != NULL && !g_str_equal (text, ours) ? pid : 0;
}
