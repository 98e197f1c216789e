/* test-lxc-driver.c: the lxc driver on a real libvirtd, real containers
 *
 * Every case runs its body in a subprocess; the parent's teardown then
 * destroys what the body made (domain, instance directory, root tree)
 * even when an assertion killed the body.  Objects carry names no
 * operator uses: uuids starting 7e57c, directories nlx-test-*.
 *
 * Each instance's init is a shell script that proves from inside that it
 * runs: it prints a boot line with a fresh random token on the console,
 * counts in /tmp/ticks (visible from the host through its overlay root) and
 * powers off on SIGUSR2, noting it in /tmp/poweroffs.  That file, not the
 * console, proves a graceful shutdown: libvirt_lxc may reap init before it
 * forwards init's last words.
 *
 * Without libvirtd the cases are skipped with the reason, unless
 * NLX_TEST_REQUIRE_HOST is set (tools/check sets it), when they fail. */
#include "config.h"

#include <glib/gstdio.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "common/nlx-file.h"
#include "driver/nlx-virt.h"
#include "lib/nlx-test-libvirt.h"
#include "lib/nlx-test-tools.h"
#include "model/nlx-config.h"

#define CONSOLE_MAX (64 * 1024)

static const char test_init[] =
  "#!/bin/sh\n"
  "echo \"nlx-test boot $(cat /proc/sys/kernel/random/uuid)\"\n"
  "trap 'echo \"nlx-test poweroff\"; echo x >> /tmp/poweroffs; exit 0' USR2\n"
  "i=0\n"
  "while :; do\n"
  "  i=$((i + 1))\n"
  "  echo \"$i\" > /tmp/ticks\n"
  /* A guest's own reboot, as many times as /tmp/reboots says, each
   * three seconds after the boot line, once the driver has set up the
   * new run (libvirt restarts the container). */
  "  n=$(cat /tmp/reboots 2>/dev/null)\n"
  "  if [ \"${n:-0}\" -gt 0 ] && [ \"$i\" -ge 30 ]; then\n"
  "    echo $((n - 1)) > /tmp/reboots; sync; reboot -f\n"
  "  fi\n"
  "  sleep 0.1\n"
  "done\n";

typedef struct {
  char *dir;      /* private: root/, instances/, whatever a case adds */
  char *root;
  char *uuid;
  char *foreign;  /* a non-nova domain a case may create */
  char *foreign_uuid; /* and one named as ours, but another service's */
  char *foreign_ours;
  char *second;   /* a second instance a case may spawn */
  NlxVirt *virt;
  virConnectPtr conn;  /* our own look from outside */
} Fixture;

typedef void (*CaseFunc) (Fixture *f);

/* A busybox root whose init is test_init. */
static void
make_root (const char *root)
{
  g_autofree char *mkrootfs = g_build_filename (g_getenv ("NLX_TOP_SRCDIR"),
                                                "tools", "mkrootfs", NULL);
  g_autofree char *init = g_build_filename (root, "sbin", "init", NULL);
  g_autoptr(GError) error = NULL;

  nlx_test_run_command ((const char * const []) { mkrootfs, root, NULL });
  /* init is a symlink to busybox: replace it, never write through it. */
  g_assert_cmpint (g_unlink (init), ==, 0);
  g_file_set_contents_full (init, test_init, -1, G_FILE_SET_CONTENTS_NONE,
                            0755, &error);
  g_assert_no_error (error);
}

static void
fixture_setup (Fixture *f,
               gconstpointer data G_GNUC_UNUSED)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GKeyFile) config = g_key_file_new ();
  g_autofree char *instances = NULL;
  g_autofree char *uuid = NULL;

  nlx_test_quiet_libvirt ();
  /* The parent makes everything; the body in its subprocess uses the
   * same. */
  f->dir = nlx_test_case_dir ("nlx-test-XXXXXX");
  if (!g_test_subprocess ())
    {
      g_autofree char *random = g_uuid_string_random ();

      /* Instances' root, an unprivileged uid, must reach their roots. */
      g_assert_cmpint (g_chmod (f->dir, 0711), ==, 0);
      uuid = g_strconcat ("7e57c", random + 5, NULL);
    }
  f->uuid = nlx_test_case_shared ("NLX_TEST_UUID", uuid);
  f->root = g_build_filename (f->dir, "root", NULL);
  f->foreign = g_strdup_printf ("nlxtest-foreign-%.8s", f->uuid + 5);
  f->foreign_uuid = g_strconcat ("7e57f", f->uuid + 5, NULL);
  f->foreign_ours = g_strdup_printf ("instance-%.8s", f->foreign_uuid);
  f->second = g_strconcat ("7e57e", f->uuid + 5, NULL);
  instances = g_build_filename (f->dir, "instances", NULL);
  g_key_file_set_string (config, "DEFAULT", "instances_path", instances);
  g_key_file_set_string (config, "libvirt", "wait_soft_reboot_seconds", "20");
  /* What the kernel's defaults hold: a thousand would be warned about,
   * which a test takes as fatal; test-lxc-limits tests the check. */
  g_key_file_set_string (config, "filter_scheduler", "max_instances_per_host",
                         "10");
  /* Without lxcfs the driver warns at every start, which a test takes
   * as fatal; test-proc is where the /proc view is tested. */
  if (!g_file_test ("/var/lib/lxcfs/proc/meminfo", G_FILE_TEST_IS_REGULAR))
    g_key_file_set_string (config, "lxc", "lxcfs", "false");

  f->virt = nlx_virt_open ("lxc", config, &error);
  if (f->virt == NULL)
    {
      nlx_test_host_unusable ("no usable libvirt LXC: %s", error->message);
      return;
    }
  f->conn = virConnectOpen ("lxc:///");
  g_assert_nonnull (f->conn);
  if (!g_test_subprocess ())
    make_root (f->root);
}

static void
fixture_teardown (Fixture *f,
                  gconstpointer data G_GNUC_UNUSED)
{
  if (f->virt != NULL && !g_test_subprocess ())
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(virDomain) foreign = virDomainLookupByName (f->conn, f->foreign);
      g_autoptr(virDomain) foreign_ours = virDomainLookupByUUIDString (
        f->conn, f->foreign_uuid);
      g_autofree char *instance_dir = g_build_filename (f->dir, "instances",
                                                        f->uuid, NULL);

      if (foreign != NULL)
        virDomainDestroy (foreign);
      if (foreign_ours != NULL)
        virDomainDestroy (foreign_ours);
      nlx_virt_destroy (f->virt, f->second, &error);
      g_assert_no_error (error);
      nlx_virt_destroy (f->virt, f->uuid, &error);
      g_assert_no_error (error);
      /* destroy removes the instance directory itself. */
      g_assert_false (g_file_test (instance_dir, G_FILE_TEST_EXISTS));
    }
  nlx_test_case_dir_remove (f->dir);
  g_clear_pointer (&f->virt, nlx_virt_close);
  g_clear_pointer (&f->conn, virConnectClose);
  g_free (f->dir);
  g_free (f->root);
  g_free (f->uuid);
  g_free (f->foreign);
  g_free (f->foreign_uuid);
  g_free (f->foreign_ours);
  g_free (f->second);
}

static void
run_case (Fixture *f,
          gconstpointer data)
{
  CaseFunc body = (CaseFunc) data;

  if (f->virt == NULL)
    return;
  NLX_TEST_RUN_BODY (body, f, 180);
}

/* ---- helpers ----------------------------------------------------------- */

static NlxInstance *
make_instance (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *json = NULL;
  NlxInstance *instance;

  json = g_strdup_printf (
    "{\"uuid\": \"%s\", \"name\": \"nlx-test <&> instance\","
    " \"flavor\": {\"name\": \"m1.nano\", \"vcpus\": 1, \"memory_mb\": 128,"
    " \"root_gb\": 0}, \"image_ref\": \"nlx-test-busybox\","
    " \"user_id\": \"nlx-test-user\", \"project_id\": \"nlx-test-project\"}",
    f->uuid);
  instance = nlx_instance_new_from_data (json, -1, &error);
  g_assert_no_error (error);
  return instance;
}

static NlxImage *
make_image (const char *path)
{
  g_autoptr(GError) error = NULL;
  NlxImage *image = nlx_image_new_from_path ("nlx-test-busybox", path, &error);

  g_assert_no_error (error);
  nlx_image_set_property (image, NLX_IMAGE_PROP_SHUTDOWN_SIGNAL, "SIGUSR2");
  return image;
}

static void
spawn (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NlxInstance) instance = make_instance (f);
  g_autoptr(NlxImage) image = make_image (f->root);

  g_assert_true (nlx_virt_spawn (f->virt, instance, image, &error));
  g_assert_no_error (error);
}

static NlxPowerState
power_state (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  NlxInstanceInfo info;

  g_assert_true (nlx_virt_get_info (f->virt, f->uuid, &info, &error));
  g_assert_no_error (error);
  return info.state;
}

/* What the periodic sync's listing of all instances says of the test's
 * instance: its power state + 1, or 0 when it is not there. */
static int
listed_state (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) states = nlx_virt_get_power_states (f->virt, &error);

  g_assert_no_error (error);
  g_assert_nonnull (states);
  return GPOINTER_TO_INT (g_hash_table_lookup (states, f->uuid));
}

/* libvirt's own view, from a separate connection. */
static int
libvirt_state (Fixture *f)
{
  g_autoptr(virDomain) dom = virDomainLookupByUUIDString (f->conn, f->uuid);
  int state = -1;

  if (dom == NULL)
    return -1;
  g_assert_cmpint (virDomainGetState (dom, &state, NULL, 0), ==, 0);
  return state;
}

static char *
console (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  char *log = nlx_virt_get_console_output (f->virt, f->uuid, CONSOLE_MAX,
                                           &error);

  g_assert_no_error (error);
  return log;
}

static guint
count (const char *haystack,
       const char *needle)
{
  guint n = 0;

  for (const char *p = strstr (haystack, needle); p; p = strstr (p + 1, needle))
    n++;
  return n;
}

/* The console once it shows @needle @n times (init prints as it boots,
 * a moment after the driver returns), or after 10 s as it is. */
static char *
console_when (Fixture *f,
              const char *needle,
              guint n)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  char *log = console (f);

  while (count (log, needle) < n && g_get_monotonic_time () < deadline)
    {
      g_usleep (20 * 1000);
      g_free (log);
      log = console (f);
    }
  return log;
}

/* /tmp/NAME inside the instance, seen from the host through its root, an
 * overlay that stays mounted until destroy. */
static char *
instance_file (Fixture *f,
               const char *name)
{
  return g_build_filename (f->dir, "instances", f->uuid, "rootfs", "tmp", name,
                           NULL);
}

/* How many times init powered off when asked. */
static guint
poweroffs (Fixture *f)
{
  g_autofree char *path = instance_file (f, "poweroffs");
  g_autofree char *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return 0;
  return count (text, "x");
}

static guint64
ticks (Fixture *f)
{
  g_autofree char *path = instance_file (f, "ticks");
  g_autofree char *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return 0;
  return g_ascii_strtoull (text, NULL, 10);
}

/* Forgets the count, so that assert_ticking (f, 0) waits for the next
 * boot of init rather than seeing the last one's. */
static void
reset_ticks (Fixture *f)
{
  g_autofree char *path = instance_file (f, "ticks");

  g_unlink (path);
}

/* Waits until the instance's counter moves past @after; the container's
 * own loop proves it runs. */
static void
assert_ticking (Fixture *f,
                guint64 after)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  guint64 now;

  /* Read once a round: init rewrites the file, empty for a moment. */
  while ((now = ticks (f)) <= after && g_get_monotonic_time () < deadline)
    g_usleep (20 * 1000);
  g_assert_cmpuint (now, >, after);
}

/* The host pid of the container's init: the only child of libvirt_lxc,
 * whose pid is the domain id. */
static guint64
init_pid (Fixture *f)
{
  g_autoptr(virDomain) dom = virDomainLookupByUUIDString (f->conn, f->uuid);
  g_autofree char *path = NULL;
  g_autofree char *children = NULL;
  guint id;

  g_assert_nonnull (dom);
  id = virDomainGetID (dom);
  path = g_strdup_printf ("/proc/%u/task/%u/children", id, id);
  g_assert_true (g_file_get_contents (path, &children, NULL, NULL));
  return g_ascii_strtoull (children, NULL, 10);
}

static gboolean
lists_uuid (Fixture *f,
            const char *uuid)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) uuids = nlx_virt_list_instances (f->virt, &error);

  g_assert_no_error (error);
  return g_strv_contains ((const char * const *) uuids, uuid);
}

static void
assert_nothing_left (Fixture *f)
{
  g_autofree char *dir = g_build_filename (f->dir, "instances", f->uuid, NULL);
  g_autoptr(virDomain) dom = virDomainLookupByUUIDString (f->conn, f->uuid);

  g_assert_null (dom);
  g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
}

/* How many mount points of @pid's mount namespace lie in @dir or below. */
static guint
mounts_below (pid_t pid,
              const char *dir)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/mountinfo", (int) pid);
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  guint n = 0;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) fields = g_strsplit (lines[i], " ", 6);

      if (g_strv_length (fields) >= 5 &&
          (g_str_equal (fields[4], dir) ||
           (g_str_has_prefix (fields[4], dir) && fields[4][strlen (dir)] == '/')))
        n++;
    }
  return n;
}

/* The pid of a running instance's libvirt_lxc controller. */
static pid_t
controller_of (Fixture *f,
               const char *uuid)
{
  g_autoptr(virDomain) dom = virDomainLookupByUUIDString (f->conn, uuid);
  guint id;

  g_assert_nonnull (dom);
  id = virDomainGetID (dom);
  g_assert_cmpuint (id, !=, (guint) -1);
  return (pid_t) id;
}

/* ---- cases -------------------------------------------------------------- */

static void
case_spawn_destroy (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *upper = NULL;
  g_autofree char *name = g_strdup_printf ("instance-%.8s", f->uuid);
  g_autoptr(virDomain) dom = NULL;
  g_autofree char *log = NULL;
  g_autofree char *xml = NULL;

  spawn (f);
  g_assert_cmpint (power_state (f), ==, NLX_POWER_STATE_RUNNING);
  g_assert_cmpint (listed_state (f), ==, NLX_POWER_STATE_RUNNING + 1);
  g_assert_true (lists_uuid (f, f->uuid));

  dom = virDomainLookupByUUIDString (f->conn, f->uuid);
  g_assert_nonnull (dom);
  g_assert_cmpstr (virDomainGetName (dom), ==, name);
  g_assert_cmpint (virDomainIsPersistent (dom), ==, 1);
  g_assert_cmpint (libvirt_state (f), ==, VIR_DOMAIN_RUNNING);
  xml = virDomainGetXMLDesc (dom, 0);
  g_assert_nonnull (strstr (xml, "<nova:name>nlx-test &lt;&amp;&gt; instance</nova:name>"));

  assert_ticking (f, 0);
  log = console_when (f, "nlx-test boot ", 1);
  g_assert_cmpuint (count (log, "nlx-test boot "), ==, 1);

  /* However the caller spells the uuid, everything goes. */
  upper = g_ascii_strup (f->uuid, -1);
  g_assert_true (nlx_virt_destroy (f->virt, upper, &error));
  g_assert_no_error (error);
  assert_nothing_left (f);
  g_assert_false (lists_uuid (f, f->uuid));
  g_assert_cmpint (listed_state (f), ==, 0);
  /* The image's own tree is never removed with an instance. */
  g_assert_true (g_file_test (f->root, G_FILE_TEST_IS_DIR));
  /* Destroying what is gone succeeds. */
  g_assert_true (nlx_virt_destroy (f->virt, f->uuid, &error));
  g_assert_no_error (error);
}

/* A thousand instances must not cost a million mounts: an instance's
 * mounts reach no controller started before it, a controller keeps no
 * copy of other instances' roots, and libvirtd's namespace holds a root
 * only while libvirt starts its container (docs/performance.md).
 * Before, the second instance's root showed in the first's controller,
 * and its lower layer in libvirtd's namespace; then every running
 * instance's root stayed in libvirtd's, where each start read it. */
static void
case_mounts_stay_home (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NlxInstance) second = make_instance (f);
  g_autoptr(NlxImage) image = make_image (f->root);
  g_autofree char *instances = g_build_filename (f->dir, "instances", NULL);
  g_autofree char *real = realpath (instances, NULL);
  g_autofree char *second_dir = g_build_filename (real, f->second, NULL);
  g_autofree char *second_root = g_build_filename (second_dir, "rootfs", NULL);
  g_autofree char *second_ticks = g_build_filename (second_root, "tmp", "ticks",
                                                    NULL);
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  pid_t libvirtd = nlx_test_libvirtd_elsewhere ();
  pid_t first;

  spawn (f);
  first = controller_of (f, f->uuid);
  g_free (second->uuid);
  second->uuid = g_strdup (f->second);
  g_assert_true (nlx_virt_spawn (f->virt, second, image, &error));
  g_assert_no_error (error);
  /* The second one runs on its root. */
  while (!g_file_test (second_ticks, G_FILE_TEST_EXISTS) &&
         g_get_monotonic_time () < deadline)
    g_usleep (20 * 1000);
  g_assert_true (g_file_test (second_ticks, G_FILE_TEST_EXISTS));

  /* Nothing of instances_path stays in either controller, not even its
   * own root: its container has its own copy. */
  g_assert_cmpuint (mounts_below (first, real), ==, 0);
  g_assert_cmpuint (mounts_below (controller_of (f, f->second), real), ==, 0);
  /* Running, it is libvirtd's no more (a guest's reboot puts it back
   * first: /nlx/lxc/console-guest-reboots). */
  if (libvirtd > 0)
    g_assert_cmpuint (mounts_below (libvirtd, second_dir), ==, 0);
  /* Nor stopped by the daemon; a start gives it to libvirtd for the
   * start only, and the new controller keeps no copy either. */
  g_assert_true (nlx_virt_power_off (f->virt, f->second, 0, &error));
  g_assert_no_error (error);
  if (libvirtd > 0)
    g_assert_cmpuint (mounts_below (libvirtd, second_dir), ==, 0);
  g_assert_true (nlx_virt_power_on (f->virt, f->second, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (mounts_below (controller_of (f, f->second), real), ==, 0);
  if (libvirtd > 0)
    g_assert_cmpuint (mounts_below (libvirtd, second_dir), ==, 0);

  g_assert_true (nlx_virt_destroy (f->virt, f->second, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (mounts_below (getpid (), second_dir), ==, 0);
  if (libvirtd > 0)
    g_assert_cmpuint (mounts_below (libvirtd, second_dir), ==, 0);
}

static void
case_spawn_tarball (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NlxInstance) instance = make_instance (f);
  g_autoptr(NlxImage) image = NULL;
  g_autofree char *tarball = g_build_filename (f->dir, "root.tar.gz", NULL);
  g_autofree char *rootfs = g_build_filename (f->dir, "instances", f->uuid,
                                              "rootfs", "sbin", "init", NULL);
  g_autofree char *log = NULL;

  nlx_test_run_command ((const char * const []) { "tar", "-C", f->root, "-czf",
                                         tarball, ".", NULL });
  image = make_image (tarball);
  g_assert_cmpint (image->format, ==, NLX_IMAGE_FORMAT_TARBALL);
  g_assert_true (nlx_virt_spawn (f->virt, instance, image, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_test (rootfs, G_FILE_TEST_IS_EXECUTABLE));
  g_assert_cmpint (power_state (f), ==, NLX_POWER_STATE_RUNNING);

  log = console_when (f, "nlx-test boot ", 1);
  g_assert_cmpuint (count (log, "nlx-test boot "), ==, 1);

  g_assert_true (nlx_virt_destroy (f->virt, f->uuid, &error));
  assert_nothing_left (f);
}

/* Reboots a running instance and checks that a new init booted, and
 * whether the old one was asked to power off (soft) or not (hard). */
static void
reboot_and_check (Fixture *f,
                  NlxRebootType type,
                  guint expected_poweroffs)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *log = NULL;
  guint64 pid_before;

  spawn (f);
  assert_ticking (f, 0);
  pid_before = init_pid (f);

  g_assert_true (nlx_virt_reboot (f->virt, f->uuid, type, &error));
  g_assert_no_error (error);
  g_assert_cmpint (power_state (f), ==, NLX_POWER_STATE_RUNNING);
  g_assert_cmpuint (init_pid (f), !=, pid_before);

  g_assert_cmpuint (poweroffs (f), ==, expected_poweroffs);
  log = console_when (f, "nlx-test boot ", 2);
  g_assert_cmpuint (count (log, "nlx-test boot "), ==, 2);
}

static void
case_reboot_soft (Fixture *f)
{
  /* Init was asked, not killed, then booted again with a new token. */
  reboot_and_check (f, NLX_REBOOT_SOFT, 1);
  assert_ticking (f, 0);
}

static void
case_reboot_hard (Fixture *f)
{
  g_autoptr(GError) error = NULL;

  reboot_and_check (f, NLX_REBOOT_HARD, 0);

  /* A hard reboot also starts a stopped instance, as Nova's does. */
  g_assert_true (nlx_virt_power_off (f->virt, f->uuid, 0, &error));
  g_assert_true (nlx_virt_reboot (f->virt, f->uuid, NLX_REBOOT_HARD, &error));
  g_assert_no_error (error);
  g_assert_cmpint (power_state (f), ==, NLX_POWER_STATE_RUNNING);
}

static void
case_power_off_on (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *log = NULL;
  guint64 stopped_at;

  spawn (f);
  assert_ticking (f, 0);

  /* Graceful: init gets the image's signal and exits by itself. */
  g_assert_true (nlx_virt_power_off (f->virt, f->uuid, 20, &error));
  g_assert_no_error (error);
  g_assert_cmpint (power_state (f), ==, NLX_POWER_STATE_SHUTDOWN);
  g_assert_cmpint (libvirt_state (f), ==, VIR_DOMAIN_SHUTOFF);
  g_assert_true (lists_uuid (f, f->uuid));
  g_assert_cmpuint (poweroffs (f), ==, 1);

  stopped_at = ticks (f);
  g_usleep (300 * 1000);
  g_assert_cmpuint (ticks (f), ==, stopped_at);

  /* Powering off what is off changes nothing. */
  g_assert_true (nlx_virt_power_off (f->virt, f->uuid, 20, &error));
  g_assert_no_error (error);
  g_assert_cmpint (listed_state (f), ==, NLX_POWER_STATE_SHUTDOWN + 1);

  reset_ticks (f);
  g_assert_true (nlx_virt_power_on (f->virt, f->uuid, &error));
  g_assert_no_error (error);
  g_assert_cmpint (power_state (f), ==, NLX_POWER_STATE_RUNNING);
  assert_ticking (f, 0);
  /* The second boot's line reached the log before the power is cut: a
   * line still on its way through libvirt_lxc's console relay when the
   * container is killed is lost, as a VM's last serial output. */
  log = console_when (f, "nlx-test boot ", 2);
  g_assert_cmpuint (count (log, "nlx-test boot "), ==, 2);
  g_clear_pointer (&log, g_free);

  /* No grace period: stopped at once, init never asked. */
  g_assert_true (nlx_virt_power_off (f->virt, f->uuid, 0, &error));
  g_assert_no_error (error);
  g_assert_cmpint (libvirt_state (f), ==, VIR_DOMAIN_SHUTOFF);
  g_assert_cmpuint (poweroffs (f), ==, 1);
  /* Both boots stay in the log of the stopped instance. */
  log = console (f);
  g_assert_cmpuint (count (log, "nlx-test boot "), ==, 2);
}

static void
case_pause (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  guint64 frozen_at;

  spawn (f);
  assert_ticking (f, 0);

  g_assert_true (nlx_virt_pause (f->virt, f->uuid, &error));
  g_assert_no_error (error);
  g_assert_cmpint (power_state (f), ==, NLX_POWER_STATE_PAUSED);
  g_assert_cmpint (libvirt_state (f), ==, VIR_DOMAIN_PAUSED);

  /* Frozen: the counter stands still from inside. */
  g_usleep (200 * 1000);
  frozen_at = ticks (f);
  g_usleep (500 * 1000);
  g_assert_cmpuint (ticks (f), ==, frozen_at);

  g_assert_false (nlx_virt_pause (f->virt, f->uuid, &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_STATE);
  g_clear_error (&error);

  g_assert_true (nlx_virt_unpause (f->virt, f->uuid, &error));
  g_assert_no_error (error);
  g_assert_cmpint (power_state (f), ==, NLX_POWER_STATE_RUNNING);
  assert_ticking (f, frozen_at);

  g_assert_false (nlx_virt_unpause (f->virt, f->uuid, &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_STATE);
  g_clear_error (&error);

  /* Destroying a paused instance works too. */
  g_assert_true (nlx_virt_pause (f->virt, f->uuid, &error));
  g_assert_true (nlx_virt_destroy (f->virt, f->uuid, &error));
  g_assert_no_error (error);
  assert_nothing_left (f);
}

static void
case_console_bounded (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *tail = NULL;
  g_autofree char *log = NULL;

  spawn (f);
  assert_ticking (f, 0);
  log = console_when (f, "nlx-test boot ", 1);
  g_assert_nonnull (strstr (log, "nlx-test boot "));

  tail = nlx_virt_get_console_output (f->virt, f->uuid, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (tail), <=, 10);

  /* The log outlives the running container. */
  g_assert_true (nlx_virt_power_off (f->virt, f->uuid, 0, &error));
  g_clear_pointer (&log, g_free);
  log = console (f);
  g_assert_nonnull (strstr (log, "nlx-test boot "));
}

static guint
domain_id (Fixture *f)
{
  g_autoptr(virDomain) dom = virDomainLookupByUUIDString (f->conn, f->uuid);

  return dom != NULL ? virDomainGetID (dom) : (guint) -1;
}

/* The console of a run the guest's own reboot started is held as soon
 * as libvirt's reboot event says so, with no one asking for it and no
 * periodic listing of the domains: the middle run of two reboots in a
 * row, gone before anyone reads the console, still has its boot line
 * in the log. */
static void
ignore_event (const char *uuid G_GNUC_UNUSED,
              gpointer user_data G_GNUC_UNUSED)
{
}

static void
case_console_guest_reboots (Fixture *f)
{
  g_autofree char *reboots = NULL;
  g_autofree char *log = NULL;
  g_autofree char *instances = NULL;
  g_autofree char *real = NULL;
  g_autofree char *dir = NULL;
  g_autoptr(GError) error = NULL;
  pid_t libvirtd = nlx_test_libvirtd_elsewhere ();
  guint ids[3];
  guint seen = 1;
  gint64 deadline;

  /* A watcher, as the daemon has: the driver then sets up each new run
   * (its pids limit lets nova-lxc-init go on). */
  nlx_virt_watch_events (f->virt, ignore_event, NULL);
  spawn (f);
  assert_ticking (f, 0);
  ids[0] = domain_id (f);
  /* libvirtd has not its root while it runs: each reboot below works
   * only because the daemon puts it back before libvirtd starts the new
   * container (nlx_lxc_gate_restart()). */
  instances = g_build_filename (f->dir, "instances", NULL);
  real = realpath (instances, NULL);
  dir = g_build_filename (real, f->uuid, NULL);
  if (libvirtd > 0)
    g_assert_cmpuint (mounts_below (libvirtd, dir), ==, 0);
  reboots = instance_file (f, "reboots");
  /* Written by the instance's root, an unprivileged uid on the host. */
  g_file_set_contents_full (reboots, "2\n", -1, G_FILE_SET_CONTENTS_NONE,
                            0666, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (reboots, 0666), ==, 0);
  /* Watched from outside, never through the driver, which would hold
   * the console as it reads it. */
  deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (seen < 3)
    {
      guint id = domain_id (f);
      g_autofree char *left = NULL;

      if (id != (guint) -1 && id != ids[seen - 1] &&
          g_file_get_contents (reboots, &left, NULL, NULL) &&
          g_ascii_strtoull (left, NULL, 10) == 2 - seen)
        ids[seen++] = id;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (20 * 1000);
    }
  g_assert_cmpuint (ids[1], !=, ids[2]);
  reset_ticks (f);
  assert_ticking (f, 0);
  g_assert_cmpint (libvirt_state (f), ==, VIR_DOMAIN_RUNNING);
  /* And once the new run is set up, libvirtd's again no more. */
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (libvirtd > 0 && mounts_below (libvirtd, dir) > 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (20 * 1000);
    }
  log = console_when (f, "nlx-test boot ", 3);
  g_test_message ("console:\n%s", log);
  g_assert_cmpuint (count (log, "nlx-test boot "), ==, 3);
  nlx_virt_unwatch_events (f->virt);
}

/* What steal_monitor() did to one start. */
typedef struct {
  const char *socket; /* the domain's monitor socket */
  gboolean first;    /* connected before libvirtd did, and so got INIT */
  pid_t controller;  /* the controller it did it to */
  int held;          /* its copy of the controller's end of libvirtd's
                      * connection, shut for reading, or -1 */
} Steal;

/* The peer's pid on Unix socket @fd. */
static pid_t
peer_pid (int fd)
{
  struct ucred cred = { 0 };
  socklen_t length = sizeof cred;

  return getsockopt (fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) == 0
         ? cred.pid : 0;
}

/* A copy of @controller's end of libvirtd's connection to its monitor
 * socket (one accepted on @monitor whose peer is not this process), or
 * -1 when it has none yet. */
static int
libvirtd_connection (pid_t controller,
                     int pidfd,
                     const char *monitor)
{
  g_autofree char *dir_path = g_strdup_printf ("/proc/%d/fd", (int) controller);
  g_autoptr(GDir) dir = g_dir_open (dir_path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      struct sockaddr_un address = { 0 };
      socklen_t length = sizeof address;
      int listening = 0;
      socklen_t size = sizeof listening;
      int fd = (int) syscall (SYS_pidfd_getfd, pidfd, atoi (name), 0);

      if (fd < 0)
        continue;
      if (getsockname (fd, (struct sockaddr *) &address, &length) == 0 &&
          address.sun_family == AF_UNIX &&
          g_str_has_suffix (address.sun_path, strrchr (monitor, '/')) &&
          getsockopt (fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size) == 0 &&
          !listening && peer_pid (fd) != getpid ())
        return fd;
      close (fd);
    }
  return -1;
}

/* Does to the next start of the domain what libvirt's monitor race does
 * (see nlx_lxc_monitor_connected()): libvirtd never gets the init pid,
 * and its controller then holds no connection of libvirtd's.  This
 * thread connects to the new controller's monitor socket before
 * libvirtd does, so the controller sends the init pid to it (a
 * controller sends it to its first client only), and goes.  Once the
 * controller has taken libvirtd's connection, it shuts the
 * controller's end for reading (the controller sees its end and closes
 * it) while keeping a copy, so that libvirtd's end stays open and
 * libvirtd notices nothing, as in the race. */
static gpointer
steal_monitor (gpointer data)
{
  Steal *steal = data;
  struct sockaddr_un address = { .sun_family = AF_UNIX };
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  struct pollfd pfd = { .fd = -1, .events = POLLIN };
  char message[256];
  int pidfd;

  g_strlcpy (address.sun_path, steal->socket, sizeof address.sun_path);
  while (pfd.fd < 0 && g_get_monotonic_time () < deadline)
    {
      pfd.fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      g_assert_cmpint (pfd.fd, >=, 0);
      if (connect (pfd.fd, (struct sockaddr *) &address, sizeof address) != 0)
        {
          close (pfd.fd);
          pfd.fd = -1;
          g_usleep (500);
        }
    }
  g_assert_cmpint (pfd.fd, >=, 0);
  steal->first = poll (&pfd, 1, 10 * 1000) == 1 &&
                 read (pfd.fd, message, sizeof message) > 0;
  steal->controller = peer_pid (pfd.fd);
  /* The controller takes one client at a time: libvirtd's waits for
   * this one to go. */
  close (pfd.fd);
  pidfd = steal->first ? (int) syscall (SYS_pidfd_open, steal->controller, 0)
                       : -1;
  while (pidfd >= 0 && steal->held < 0 && g_get_monotonic_time () < deadline)
    {
      steal->held = libvirtd_connection (steal->controller, pidfd,
                                         steal->socket);
      if (steal->held < 0)
        g_usleep (1000);
    }
  if (steal->held >= 0)
    g_assert_cmpint (shutdown (steal->held, SHUT_RD), ==, 0);
  if (pidfd >= 0)
    close (pidfd);
  return NULL;
}

/* Counts in *@data the driver's messages that it started an instance
 * again because libvirtd lost its controller. */
static void
count_restart (const char *domain,
               GLogLevelFlags level,
               const char *message,
               gpointer data)
{
  if (g_pattern_match_simple ("Instance * did not become ready (libvirtd "
                              "lost its connection to the controller of "
                              "instance * as it started*); starting it again",
                              message))
    g_atomic_int_inc ((int *) data);
  g_log_default_handler (domain, level, message, NULL);
}

/* A start whose libvirtd never learns the init pid, and has lost its
 * connection to the controller, is found out within about a second
 * (not after the 30 s wait for the init pid) and started again; the
 * instance then runs as any other. */
static void
case_monitor_lost (Fixture *f)
{
  /* libvirt's state directory, where libvirtd names the monitor. */
  g_autofree char *path = g_strdup_printf ("/run/libvirt/lxc/instance-%.8s"
                                           ".sock", f->uuid);
  Steal steal = { .socket = path, .controller = 0, .held = -1 };
  g_autoptr(GError) error = NULL;
  g_autofree char *log = NULL;
  int restarts = 0;
  guint handler;

  handler = g_log_set_handler (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                               count_restart, &restarts);
  for (guint attempt = 0; attempt < 5 && !steal.first; attempt++)
    {
      GThread *thread = g_thread_new ("nlx-test-steal", steal_monitor, &steal);

      spawn (f);
      g_thread_join (thread);
      if (steal.first)
        break;
      /* libvirtd connected first this time: nothing was done to it. */
      g_test_message ("attempt %u: libvirtd connected first", attempt);
      g_assert_cmpint (g_atomic_int_get (&restarts), ==, 0);
      g_assert_true (nlx_virt_destroy (f->virt, f->uuid, &error));
      g_assert_no_error (error);
    }
  g_log_remove_handler (G_LOG_DOMAIN, handler);
  if (!steal.first)
    {
      g_test_skip ("libvirtd connected to the monitor first every time");
      return;
    }
  g_assert_cmpint (steal.held, >=, 0);
  g_assert_cmpint (g_atomic_int_get (&restarts), ==, 1);
  /* A new controller, which libvirtd heard. */
  g_assert_cmpint (controller_of (f, f->uuid), !=, steal.controller);
  g_assert_cmpint (power_state (f), ==, NLX_POWER_STATE_RUNNING);
  log = console_when (f, "nlx-test boot ", 1);
  assert_ticking (f, 0);
  close (steal.held);
}

/* Starts a transient domain of 2 vcpus named @name on the test's root,
 * which teardown destroys; @uuid (or a random one) is its uuid. */
static void
start_foreign (Fixture *f,
               const char *name,
               const char *uuid)
{
  g_autofree char *random = g_uuid_string_random ();
  g_autofree char *xml = g_strdup_printf (
    "<domain type='lxc'><name>%s</name><uuid>%s</uuid>"
    "<memory unit='MiB'>64</memory><vcpu>2</vcpu><os><type>exe</type>"
    "<init>/sbin/init</init></os><features><privnet/></features><devices>"
    "<filesystem type='mount'><source dir='%s'/><target dir='/'/>"
    "</filesystem><console type='pty'/></devices></domain>", name,
    uuid != NULL ? uuid : random, f->root);
  g_autoptr(virDomain) dom = virDomainCreateXML (f->conn, xml, 0);

  g_assert_nonnull (dom);
}

static void
case_resources (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NlxHostResources) before = NULL;
  g_autoptr(NlxHostResources) after = NULL;

  before = nlx_virt_get_available_resource (f->virt, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (before->vcpus, ==, g_get_num_processors ());
  g_assert_cmpuint (before->memory_mb, >, 0);
  g_assert_cmpuint (before->memory_mb_used, >, 0);
  g_assert_cmpuint (before->memory_mb_used, <=, before->memory_mb);
  g_assert_cmpuint (before->local_gb, >, 0);
  g_assert_cmpuint (before->local_gb_used, <=, before->local_gb);
  g_assert_cmpstr (before->hypervisor_type, ==, "lxc");
  g_assert_cmpuint (before->hypervisor_version, >, 0);
  g_assert_cmpstr (before->hypervisor_hostname, !=, "");

  /* Only this driver's instances count: not a container nova-lxc did
   * not make, nor one named as nova-lxc names them but made by another
   * compute service (not under this instances_path); each has 2 vcpus.
   * Other tests' instances on the host are not counted either. */
  start_foreign (f, f->foreign, NULL);
  start_foreign (f, f->foreign_ours, f->foreign_uuid);
  g_clear_pointer (&before, nlx_host_resources_free);
  before = nlx_virt_get_available_resource (f->virt, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (before->vcpus_used, ==, 0);
  spawn (f);
  after = nlx_virt_get_available_resource (f->virt, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (after->vcpus_used, ==, 1);
}

/* A domain nova-lxc did not make is never listed, even when its name
 * looks like ours. */
static void
case_list_only_ours (Fixture *f)
{
  g_autofree char *random = g_uuid_string_random ();
  g_autofree char *xml = NULL;
  g_autoptr(virDomain) foreign = NULL;

  spawn (f);
  xml = g_strdup_printf (
    "<domain type='lxc'><name>%s</name><uuid>%s</uuid>"
    "<memory unit='MiB'>64</memory><os><type>exe</type><init>/sbin/init</init>"
    "</os><features><privnet/></features><devices><filesystem type='mount'>"
    "<source dir='%s'/><target dir='/'/></filesystem><console type='pty'/>"
    "</devices></domain>", f->foreign, random, f->root);
  foreign = virDomainCreateXML (f->conn, xml, 0);
  g_assert_nonnull (foreign);

  g_assert_true (lists_uuid (f, f->uuid));
  g_assert_false (lists_uuid (f, random));
}

static void
case_unknown_instance (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  NlxInstanceInfo info;
  char *log;

  g_assert_false (nlx_virt_get_info (f->virt, f->uuid, &info, &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, f->uuid));
  g_clear_error (&error);
  g_assert_false (nlx_virt_pause (f->virt, f->uuid, &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (nlx_virt_reboot (f->virt, f->uuid, NLX_REBOOT_HARD, &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_NOT_FOUND);
  g_clear_error (&error);
  log = nlx_virt_get_console_output (f->virt, f->uuid, 100, &error);
  g_assert_null (log);
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_assert_false (nlx_virt_power_on (f->virt, "not-a-uuid", &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (nlx_virt_destroy (f->virt, "../../etc", &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
}

static void
case_spawn_existing (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NlxInstance) instance = make_instance (f);
  g_autoptr(NlxImage) image = make_image (f->root);
  g_autofree char *log = NULL;

  spawn (f);
  assert_ticking (f, 0);
  g_assert_false (nlx_virt_spawn (f->virt, instance, image, &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_EXISTS);
  g_assert_nonnull (strstr (error->message, "already exists"));

  /* The existing instance is untouched: same boot, still running. */
  g_assert_cmpint (power_state (f), ==, NLX_POWER_STATE_RUNNING);
  log = console_when (f, "nlx-test boot ", 1);
  g_assert_cmpuint (count (log, "nlx-test boot "), ==, 1);
}

/* Bad images are refused before anything is created. */
static void
case_bad_images (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NlxInstance) instance = make_instance (f);
  g_autoptr(NlxImage) image = NULL;
  g_autofree char *missing = g_build_filename (f->dir, "no-such-root", NULL);
  g_autofree char *empty = g_build_filename (f->dir, "empty-root", NULL);
  g_autofree char *evil = g_build_filename (f->dir, "evil.tar", NULL);
  g_autofree char *escaped = g_build_filename (f->dir, "nlx-test-escape", NULL);
  g_autofree char *payload = g_build_filename (f->dir, "payload", NULL);
  g_autofree char *host_root = g_build_filename (f->dir, "host-root", NULL);

  /* With a config drive to write, too: nothing of it stays either. */
  instance->config_drive = TRUE;

  /* a root filesystem that does not exist */
  g_assert_null (nlx_image_new_from_path ("nlx-test", missing, &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, missing));
  g_clear_error (&error);

  /* a root with no init */
  g_assert_cmpint (g_mkdir (empty, 0755), ==, 0);
  image = make_image (empty);
  g_assert_false (nlx_virt_spawn (f->virt, instance, image, &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "has no init program /sbin/init"));
  g_clear_error (&error);
  assert_nothing_left (f);
  g_clear_pointer (&image, nlx_image_free);

  /* a shutdown signal that is no signal */
  image = make_image (f->root);
  nlx_image_set_property (image, NLX_IMAGE_PROP_SHUTDOWN_SIGNAL, "SIGBOGUS");
  g_assert_false (nlx_virt_spawn (f->virt, instance, image, &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "SIGBOGUS"));
  g_clear_error (&error);
  assert_nothing_left (f);
  g_clear_pointer (&image, nlx_image_free);

  /* the host's own root, plainly or through a symbolic link */
  image = make_image ("/");
  g_assert_false (nlx_virt_spawn (f->virt, instance, image, &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  assert_nothing_left (f);
  g_clear_pointer (&image, nlx_image_free);
  g_assert_cmpint (symlink ("/", host_root), ==, 0);
  image = make_image (host_root);
  g_assert_false (nlx_virt_spawn (f->virt, instance, image, &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "host's /"));
  g_clear_error (&error);
  assert_nothing_left (f);
  g_clear_pointer (&image, nlx_image_free);

  /* a tarball whose member climbs out of the root */
  g_assert_true (g_file_set_contents (payload, "x", -1, NULL));
  nlx_test_run_command ((const char * const []) {
    "tar", "-C", f->dir, "-P", "--transform", "s,^payload,../nlx-test-escape,",
    "-cf", evil, "payload", NULL });
  image = make_image (evil);
  g_assert_false (nlx_virt_spawn (f->virt, instance, image, &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "points outside"));
  g_clear_error (&error);
  g_assert_false (g_file_test (escaped, G_FILE_TEST_EXISTS));
  assert_nothing_left (f);
  g_clear_pointer (&image, nlx_image_free);

  /* not an archive at all */
  image = make_image (payload);
  g_assert_false (nlx_virt_spawn (f->virt, instance, image, &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  assert_nothing_left (f);
}

static void
case_pause_stopped (Fixture *f)
{
  g_autoptr(GError) error = NULL;

  spawn (f);
  g_assert_true (nlx_virt_power_off (f->virt, f->uuid, 0, &error));
  g_assert_no_error (error);

  g_assert_false (nlx_virt_pause (f->virt, f->uuid, &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_STATE);
  g_assert_nonnull (strstr (error->message, "only a running instance"));
  g_clear_error (&error);
  g_assert_false (nlx_virt_reboot (f->virt, f->uuid, NLX_REBOOT_SOFT, &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_STATE);
  g_clear_error (&error);

  /* Still stopped, still defined: the error changed nothing. */
  g_assert_cmpint (libvirt_state (f), ==, VIR_DOMAIN_SHUTOFF);
}

/* [lxc] lxcfs and lxcfs_path: a bad value stops the driver from
 * loading, naming the key; an lxcfs that does not answer is a warning. */
static void
case_lxcfs_config (Fixture *f)
{
  static const struct {
    const char *key;
    const char *value;
    const char *message;
  } bad[] = {
    { "lxcfs", "maybe", "Configuration key [lxc] lxcfs must be true or "
                        "false, got “maybe”" },
    { "lxcfs", "1", "Configuration key [lxc] lxcfs must be true or false, "
                    "got “1”" },
    { "lxcfs_path", "var/lib/lxcfs", "Configuration key [lxc] lxcfs_path "
                                     "must be an absolute path, got "
                                     "“var/lib/lxcfs”" },
  };
  g_autofree char *instances = g_build_filename (f->dir, "instances", NULL);
  g_autofree char *missing = g_build_filename (f->dir, "no-lxcfs", NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GKeyFile) config = g_key_file_new ();
      g_autoptr(GError) error = NULL;
      NlxVirt *virt;

      g_key_file_set_string (config, "DEFAULT", "instances_path", instances);
      g_key_file_set_string (config, "lxc", bad[i].key, bad[i].value);
      virt = nlx_virt_open ("lxc", config, &error);
      g_assert_null (virt);
      g_assert_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID);
      g_assert_cmpstr (error->message, ==, bad[i].message);
    }

  {
    g_autoptr(GKeyFile) config = g_key_file_new ();
    g_autoptr(GError) error = NULL;
    NlxVirt *virt;

    g_key_file_set_string (config, "DEFAULT", "instances_path", instances);
    g_key_file_set_string (config, "lxc", "lxcfs_path", missing);
    g_key_file_set_string (config, "filter_scheduler",
                           "max_instances_per_host", "10");
    g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                           "lxcfs does not answer at */no-lxcfs (nothing is "
                           "mounted there)*");
    virt = nlx_virt_open ("lxc", config, &error);
    g_test_assert_expected_messages ();
    g_assert_no_error (error);
    g_assert_nonnull (virt);
    nlx_virt_close (virt);
  }
}

/* What virt-admin prints, or %NULL when it fails. */
static char *
virt_admin (const char *const *argv)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *output = NULL;
  int status;

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH |
                G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &output, NULL,
                &status, &error);
  g_assert_no_error (error);
  return g_spawn_check_wait_status (status, NULL) ? g_steal_pointer (&output)
                                                   : NULL;
}

/* How many clients libvirtd itself counts from this process. */
static guint
libvirtd_clients_of_mine (void)
{
  static const char *const list[] = { "virt-admin", "client-list", "libvirtd",
                                      NULL };
  g_autofree char *clients = virt_admin (list);
  g_auto(GStrv) lines = NULL;
  g_autofree char *mine = g_strdup_printf ("unix_process_id: %d\n", getpid ());
  guint n = 0;

  g_assert_nonnull (clients);
  lines = g_strsplit (clients, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autofree char *id = g_strdup (g_strstrip (lines[i]));
      const char *info_argv[] = { "virt-admin", "client-info", "libvirtd",
                                  id, NULL };
      g_autofree char *info = NULL;
      char *end = id;

      if (!g_ascii_isdigit (*id))
        continue;
      while (g_ascii_isdigit (*end))
        end++;
      *end = '\0';
      /* %NULL: another process's client left meanwhile. */
      info = virt_admin (info_argv);
      if (info != NULL && strstr (info, mine) != NULL)
        n++;
    }
  return n;
}

/* [libvirt] connections: the driver holds that many connections, on
 * which operations take turns (libvirtd runs only 5 calls of one at
 * once), and closes them all with itself; a bad number is refused. */
static void
case_connections (Fixture *f)
{
  static const char *const bad[] = { "0", "33", "four" };
  g_autofree char *instances = g_build_filename (f->dir, "pooled", NULL);
  guint before = libvirtd_clients_of_mine ();

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GKeyFile) config = g_key_file_new ();
      g_autoptr(GError) error = NULL;
      g_autofree char *message =
        g_strdup_printf ("Configuration key [libvirt] connections must be a "
                         "whole number from 1 to 32, got “%s”", bad[i]);

      g_key_file_set_string (config, "DEFAULT", "instances_path", instances);
      g_key_file_set_string (config, "libvirt", "connections", bad[i]);
      g_assert_null (nlx_virt_open ("lxc", config, &error));
      g_assert_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID);
      g_assert_cmpstr (error->message, ==, message);
    }
  g_assert_cmpuint (libvirtd_clients_of_mine (), ==, before);

  {
    g_autoptr(GKeyFile) config = g_key_file_new ();
    g_autoptr(GError) error = NULL;
    NlxVirt *virt;

    g_key_file_set_string (config, "DEFAULT", "instances_path", instances);
    g_key_file_set_string (config, "libvirt", "connections", "3");
    g_key_file_set_string (config, "filter_scheduler",
                           "max_instances_per_host", "10");
    if (!g_file_test ("/var/lib/lxcfs/proc/meminfo", G_FILE_TEST_IS_REGULAR))
      g_key_file_set_string (config, "lxc", "lxcfs", "false");
    virt = nlx_virt_open ("lxc", config, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (libvirtd_clients_of_mine (), ==, before + 3);
    /* Five operations, three connections: never a fourth. */
    for (guint i = 0; i < 5; i++)
      {
        g_auto(GStrv) uuids = nlx_virt_list_instances (virt, &error);

        g_assert_no_error (error);
        g_assert_nonnull (uuids);
      }
    g_assert_cmpuint (libvirtd_clients_of_mine (), ==, before + 3);
    nlx_virt_close (virt);
  }
  /* libvirtd drops a client when it reads the close. */
  {
    gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

    while (libvirtd_clients_of_mine () != before)
      {
        g_assert_cmpint (g_get_monotonic_time (), <, deadline);
        g_usleep (20 * 1000);
      }
  }
}

/* ---- config drive and host name (issue 14) ---------------------------- */

/* An init that reports, once, what a tenant sees of the config drive,
 * its host name and init's environment, into /tmp/report (read from the
 * host through the overlay), then idles until powered off. */
static const char report_init[] =
  "#!/bin/sh\n"
  "d=/var/lib/cloud/seed/config_drive\n"
  "{\n"
  "  echo \"hostname=$(hostname)\"\n"
  "  echo \"kernel=$(cat /proc/sys/kernel/hostname)\"\n"
  "  echo \"uid=$(id -u)\"\n"
  "  if [ -e $d ]; then\n"
  "    echo \"meta=$(cat $d/openstack/latest/meta_data.json)\"\n"
  "    if echo x > $d/openstack/latest/meta_data.json; then echo write=ok;"
  "    else echo write=failed; fi\n"
  "    if touch $d/nlx-test-new; then echo create=ok; else echo create=failed; fi\n"
  "    grep \" $d \" /proc/self/mountinfo | sed 's/^/mount=/'\n"
  "  else\n"
  "    echo config-drive=absent\n"
  "  fi\n"
  "  tr '\\0' '\\n' < /proc/1/environ | sed 's/^/env=/'\n"
  "  echo \"cmdline=$(tr '\\0' ' ' < /proc/1/cmdline)\"\n"
  "} > /tmp/report.new 2>&1\n"
  "mv /tmp/report.new /tmp/report\n"
  "trap 'exit 0' USR2\n"
  "while :; do sleep 0.1; done\n";

/* The lines of /tmp/report once init wrote it. */
static GStrv
report (Fixture *f)
{
  g_autofree char *path = instance_file (f, "report");
  g_autofree char *text = NULL;
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (!g_file_get_contents (path, &text, NULL, NULL))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (20 * 1000);
    }
  g_test_message ("report: %s", text);
  return g_strsplit (text, "\n", -1);
}

static const char *
report_value (GStrv lines,
              const char *name)
{
  gsize length = strlen (name);

  for (char **line = lines; *line != NULL; line++)
    if (strncmp (*line, name, length) == 0 && (*line)[length] == '=')
      return *line + length + 1;
  return NULL;
}

static void
case_config_drive_hostname (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NlxInstance) instance = make_instance (f);
  g_autoptr(NlxImage) image = make_image (f->root);
  g_autofree char *init = g_build_filename (f->root, "sbin", "init", NULL);
  g_autofree char *drive = g_build_filename (f->dir, "instances", f->uuid,
                                             "config-drive", NULL);
  g_autofree char *meta_path = g_build_filename (drive, "openstack", "latest",
                                                 "meta_data.json", NULL);
  g_autofree char *expected_meta = NULL;
  g_auto(GStrv) lines = NULL;
  const char *mount;
  struct stat st;

  g_assert_cmpint (g_unlink (init), ==, 0);
  g_assert_true (g_file_set_contents_full (init, report_init, -1,
                                           G_FILE_SET_CONTENTS_NONE, 0755,
                                           &error));
  g_assert_no_error (error);
  instance->config_drive = TRUE;
  instance->hostname = g_strdup ("nlx-test-host-1");
  g_assert_true (nlx_virt_spawn (f->virt, instance, image, &error));
  g_assert_no_error (error);

  /* The host's files: the daemon's, readable by all, written by none
   * but it. */
  g_assert_cmpint (stat (meta_path, &st), ==, 0);
  g_assert_cmpuint (st.st_uid, ==, 0);
  g_assert_cmpuint (st.st_mode & 07777, ==, 0644);

  lines = report (f);
  /* The writes below are root's. */
  g_assert_cmpstr (report_value (lines, "uid"), ==, "0");
  g_assert_cmpstr (report_value (lines, "hostname"), ==, "nlx-test-host-1");
  g_assert_cmpstr (report_value (lines, "kernel"), ==, "nlx-test-host-1");
  expected_meta = g_strdup_printf ("\"uuid\":\"%s\"", f->uuid);
  g_assert_nonnull (report_value (lines, "meta"));
  g_assert_nonnull (strstr (report_value (lines, "meta"), expected_meta));
  g_assert_nonnull (strstr (report_value (lines, "meta"),
                            "\"hostname\":\"nlx-test-host-1\""));
  g_assert_cmpstr (report_value (lines, "write"), ==, "failed");
  g_assert_cmpstr (report_value (lines, "create"), ==, "failed");
  /* Read-only as a mount, not only by its files' modes. */
  mount = report_value (lines, "mount");
  g_assert_nonnull (mount);
  g_assert_true (strstr (mount, " ro,") != NULL || strstr (mount, " ro ") != NULL);
  /* cloud-init's marker beside libvirt's own; nothing of nova-lxc-init's. */
  g_assert_true (g_strv_contains ((const char * const *) lines,
                                  "env=product_name=OpenStack Nova"));
  g_assert_true (g_strv_contains ((const char * const *) lines,
                                  "env=container=lxc-libvirt"));
  g_assert_nonnull (report_value (lines, "env=PATH"));
  /* The script's interpreter and the script, nothing before "--". */
  g_assert_cmpstr (report_value (lines, "cmdline"), ==, "/bin/sh /sbin/init ");
  /* The drive did not change under the tenant's write. */
  g_assert_cmpint (stat (meta_path, &st), ==, 0);
  g_assert_cmpuint (st.st_size, >, 2);

  /* Deleting takes the drive with the instance's directory. */
  g_assert_true (nlx_virt_destroy (f->virt, f->uuid, &error));
  g_assert_no_error (error);
  assert_nothing_left (f);

  /* Without a config drive: no seed directory at all, the host name
   * still the instance's (here made from its name). */
  g_clear_pointer (&lines, g_strfreev);
  instance->config_drive = FALSE;
  g_clear_pointer (&instance->hostname, g_free);
  g_assert_true (nlx_virt_spawn (f->virt, instance, image, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (drive, G_FILE_TEST_EXISTS));
  lines = report (f);
  g_assert_cmpstr (report_value (lines, "config-drive"), ==, "absent");
  g_assert_null (report_value (lines, "meta"));
  g_assert_cmpstr (report_value (lines, "hostname"), ==, "nlx-test--instance");
  g_assert_cmpstr (report_value (lines, "kernel"), ==, "nlx-test--instance");
}

int
main (int argc,
      char **argv)
{
  static const struct {
    const char *path;
    CaseFunc body;
  } cases[] = {
    { "/nlx/lxc/spawn-destroy", case_spawn_destroy },
    { "/nlx/lxc/spawn-tarball", case_spawn_tarball },
    { "/nlx/lxc/mounts-stay-home", case_mounts_stay_home },
    { "/nlx/lxc/reboot-soft", case_reboot_soft },
    { "/nlx/lxc/reboot-hard", case_reboot_hard },
    { "/nlx/lxc/power-off-on", case_power_off_on },
    { "/nlx/lxc/pause", case_pause },
    { "/nlx/lxc/console-bounded", case_console_bounded },
    { "/nlx/lxc/console-guest-reboots", case_console_guest_reboots },
    { "/nlx/lxc/monitor-lost", case_monitor_lost },
    { "/nlx/lxc/resources", case_resources },
    { "/nlx/lxc/list-only-ours", case_list_only_ours },
    { "/nlx/lxc/config-drive-hostname", case_config_drive_hostname },
    { "/nlx/lxc/bad/unknown-instance", case_unknown_instance },
    { "/nlx/lxc/bad/spawn-existing", case_spawn_existing },
    { "/nlx/lxc/bad/images", case_bad_images },
    { "/nlx/lxc/bad/pause-stopped", case_pause_stopped },
    { "/nlx/lxc/bad/lxcfs-config", case_lxcfs_config },
    { "/nlx/lxc/connections", case_connections },
  };

  g_test_init (&argc, &argv, NULL);
  g_test_summary ("The lxc driver on the host's libvirtd, with real "
                  "containers (needs root and libvirt LXC).");
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    g_test_add (cases[i].path, Fixture, cases[i].body, fixture_setup,
                run_case, fixture_teardown);
  return g_test_run ();
}
