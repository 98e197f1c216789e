/* test-security.c: what a hostile root inside a container cannot do to
 * the host or to other tenants, each tried from inside a real container,
 * with a control that shows the attempt works where nothing blocks it.
 * The fixture is in lib/nlx-compute-fixture.c. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <signal.h>
#include <unistd.h>
#include <sys/stat.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/keyctl.h>
#include <linux/seccomp.h>
#include <sys/klog.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <glib/gstdio.h>
#include <gio/gunixsocketaddress.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "common/nlx-file.h"
#include "host/nlx-mount.h"
#include "host/nlx-network-filter.h"
#include "lib/nlx-compute-fixture.h"
#include "lib/nlx-test-client.h"
#include "lib/nlx-test-tools.h"
#include "lxc/nlx-lxc-cgroup.h"
#include "lxc/nlx-lxc-volume.h"

/* ---- secure by default ---------------------------------------------------- */

/* An instance's init cannot load modules (no CAP_SYS_MODULE in its
 * bounding set, and, in its own user namespace, none that counts for the
 * host), nor do raw I/O, set the clock or make device nodes.  Checked on the host: this kernel has no module loader, so
 * init_module would fail for everyone. */
static void
check_no_host_powers (Fixture *f,
                      const char *id,
                      gboolean own_user_namespace)
{
  /* sys_module, sys_rawio, sys_time, mknod (<linux/capability.h>) */
  static const guint dropped[] = { 16, 17, 25, 27 };
  g_autofree char *status_path = g_strdup_printf ("/proc/%d/status",
                                                  (int) init_of (f, id));
  g_autofree char *ns_path = g_strdup_printf ("/proc/%d/ns/user",
                                              (int) init_of (f, id));
  g_autofree char *status = NULL;
  g_autofree char *ns = g_file_read_link (ns_path, NULL);
  g_autofree char *own_ns = g_file_read_link ("/proc/self/ns/user", NULL);
  const char *line;
  guint64 bounding;

  g_assert_true (g_file_get_contents (status_path, &status, NULL, NULL));
  line = strstr (status, "\nCapBnd:");
  g_assert_nonnull (line);
  bounding = g_ascii_strtoull (line + strlen ("\nCapBnd:"), NULL, 16);
  for (gsize i = 0; i < G_N_ELEMENTS (dropped); i++)
    g_assert_cmpuint (bounding & (G_GUINT64_CONSTANT (1) << dropped[i]), ==, 0);
  g_assert_nonnull (ns);
  g_assert_cmpint (g_strcmp0 (ns, own_ns) != 0, ==, own_user_namespace);
}

/* Root inside is an unprivileged uid outside, and holds none of the
 * powers over the host: no modules, no host sysctls, no mounts. */
static void
test_unprivileged_root (Fixture *f)
{
  g_autofree char *id = boot (f, "nlxtest-userns");
  g_autoptr(virDomain) dom = virDomainLookupByUUIDString (f->conn, id);
  g_autofree char *xml = virDomainGetXMLDesc (dom, 0);

  g_assert_nonnull (strstr (xml, "<idmap>"));
  g_assert_cmpuint (host_uid (init_of (f, id)), ==, 100000);
  /* Files of the image, root's on disk, are root's inside. */
  assert_in_container (f, id, "stat -c %u /bin/busybox", 0, "0");
  assert_in_container (f, id, "id -u", 0, "0");
  check_no_host_powers (f, id, TRUE);
  assert_in_container (f, id, "echo 1 > /proc/sys/kernel/panic", 1, NULL);
  assert_in_container (f, id, "echo 1 > /proc/sys/vm/drop_caches", 1, NULL);
  assert_in_container (f, id, "mkdir -p /tmp/m && mount -t tmpfs none /tmp/m",
                       1, NULL);
  assert_in_container (f, id, "mknod /tmp/sda b 8 0", 1, NULL);
  /* What it writes is owned by its unprivileged uid on the host. */
  assert_in_container (f, id, "echo x > /root/written", 0, NULL);
  {
    g_autofree char *written = g_build_filename (f->dir, "instances", id,
                                                 "upper", "root", "written",
                                                 NULL);
    GStatBuf st;

    g_assert_cmpint (g_stat (written, &st), ==, 0);
    g_assert_cmpuint (st.st_uid, ==, 100000);
  }
  delete_and_check (f, id);
}

/* A flavor may opt out: root inside is root on the host, and the API and
 * the domain XML say so. */
static void
test_privileged_flavor (Fixture *f)
{
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(JsonNode) flavor = NULL;
  g_autofree char *id = NULL;
  g_autoptr(virDomain) dom = NULL;
  g_autofree char *xml = NULL;
  g_autofree char *server_path = NULL;
  JsonObject *specs;

  g_assert_cmpint (nlx_test_call (f->session, "GET",
                                  "/v2.1/flavors/m1.privileged/os-extra_specs",
                                  NULL, &flavor), ==, 200);
  specs = nlx_test_object_at (flavor, "extra_specs");
  g_assert_cmpstr (json_object_get_string_member (specs, "nova_lxc:privileged"),
                   ==, "true");
  g_assert_cmpint (nlx_test_call (f->session, "POST", "/v2.1/servers",
                                  "{\"server\": {\"name\": \"nlxtest-privileged\", "
                                  "\"flavorRef\": \"m1.privileged\", "
                                  "\"imageRef\": \"" IMAGE "\"}}", &reply), ==, 202);
  id = g_strdup (json_object_get_string_member (nlx_test_object_at (reply, "server"),
                                                "id"));
  g_clear_pointer (&reply, json_node_unref);
  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  /* The server's embedded flavor (2.47+) says so in its extra specs. */
  server_path = g_strdup_printf ("/v2.1/servers/%s", id);
  g_assert_cmpint (nlx_test_call_full (f->session, "http://localhost", "GET",
                                       server_path, NULL,
                                       "OpenStack-API-Version", "compute 2.47",
                                       &reply, NULL), ==, 200);
  g_assert_cmpstr (json_object_get_string_member (
                     json_object_get_object_member (
                       json_object_get_object_member (
                         nlx_test_object_at (reply, "server"), "flavor"),
                       "extra_specs"),
                     "nova_lxc:privileged"), ==, "true");
  dom = virDomainLookupByUUIDString (f->conn, id);
  xml = virDomainGetXMLDesc (dom, 0);
  g_assert_null (strstr (xml, "<idmap>"));
  g_assert_nonnull (strstr (xml, "<nlx:privileged/>"));
  g_assert_cmpuint (host_uid (init_of (f, id)), ==, 0);
  /* Still without the capabilities every instance drops. */
  check_no_host_powers (f, id, FALSE);
  delete_and_check (f, id);
}

/* ---- servers of a given flavor, for the cases below --------------------- */

static char *
boot_flavor (Fixture *f,
             const char *name,
             const char *flavor)
{
  g_autofree char *body = g_strdup_printf (
    "{\"server\": {\"name\": \"%s\", \"flavorRef\": \"%s\", "
    "\"imageRef\": \"" IMAGE "\"}}", name, flavor);
  g_autoptr(JsonNode) reply = NULL;
  char *id;

  g_assert_cmpint (nlx_test_call (f->session, "POST", "/v2.1/servers", body,
                                  &reply), ==, 202);
  id = g_strdup (json_object_get_string_member (nlx_test_object_at (reply, "server"),
                                                "id"));
  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  g_assert_cmpint (domain_running (f, id), ==, 1);
  return id;
}

/* The size of / inside, in KiB, as df shows it. */
static guint64
root_size_kib (Fixture *f,
               const char *id)
{
  g_autofree char *output = NULL;
  g_auto(GStrv) fields = NULL;

  g_assert_cmpint (in_container (f, id, "df -k / | tail -n 1", &output), ==, 0);
  fields = g_strsplit_set (g_strstrip (output), " \t", -1);
  /* "overlay 1011316 24 994932 0% /": empty strings between spaces */
  for (guint i = 1, seen = 0; fields[i] != NULL; i++)
    if (fields[i][0] != '\0' && ++seen == 1)
      return g_ascii_strtoull (fields[i], NULL, 10);
  g_assert_not_reached ();
}

/* Bytes the host's filesystem holds for the instance's root disk. */
static guint64
disk_allocated (Fixture *f,
                const char *id)
{
  g_autofree char *path = g_build_filename (f->dir, "instances", id,
                                            "disk.img", NULL);
  struct stat st;

  g_assert_cmpint (lstat (path, &st), ==, 0);
  g_assert_true (S_ISREG (st.st_mode));
  g_assert_cmpuint (st.st_mode & 07777, ==, 0600);
  return (guint64) st.st_blocks * 512;
}

/* Mounts of the host's namespace at or below the instance's directory. */
static guint
mounts_of (Fixture *f,
           const char *id)
{
  g_autofree char *dir = g_build_filename (f->dir, "instances", id, NULL);
  g_autofree char *real = realpath (f->dir, NULL);
  g_autofree char *real_dir = g_build_filename (real, "instances", id, NULL);
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  guint found = 0;

  g_assert_true (g_file_get_contents ("/proc/self/mountinfo", &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) fields = g_strsplit (lines[i], " ", 6);

      if (g_strv_length (fields) >= 5 &&
          (g_str_has_prefix (fields[4], dir) ||
           g_str_has_prefix (fields[4], real_dir)))
        found++;
    }
  return found;
}

#define GIB_KIB (G_GUINT64_CONSTANT (1) << 20)
#define FILL "dd if=/dev/zero of=/root/fill bs=1M count=1200"

/* A flavor's root_gb bounds what the instance writes to its root: past
 * 1 GiB a write fails with ENOSPC inside, the host's file for it holds
 * no more, the instance runs on, and df / shows the size.  The root disk
 * survives stop/start, reboot and a daemon restart, a snapshot reads it,
 * rebuild makes it afresh, and delete leaves no loop device or mount.
 * Control: root_gb 0 writes past 1 GiB into the host's filesystem. */
static void
test_root_gb (Fixture *f)
{
  g_autofree char *id = NULL;
  g_autofree char *plain = NULL;
  g_autofree char *output = NULL;
  g_autofree char *image = NULL;
  g_autofree char *image_path = NULL;
  g_autofree char *from_snapshot = NULL;
  guint64 size;
  gint64 deadline;
  pid_t init;

  id = boot_flavor (f, "nlxtest-quota", "m1.quota");
  g_assert_cmpint (in_container (f, id, FILL, &output), !=, 0);
  g_assert_nonnull (strstr (output, "No space left on device"));
  g_assert_cmpuint (disk_allocated (f, id), <=, (G_GUINT64_CONSTANT (1) << 30));
  size = root_size_kib (f, id);
  g_assert_cmpuint (size, <=, GIB_KIB);
  g_assert_cmpuint (size, >, GIB_KIB * 9 / 10);
  /* Still running, and what it frees is free again, on the host too. */
  g_assert_cmpint (domain_running (f, id), ==, 1);
  assert_in_container (f, id, "rm /root/fill && sync && echo kept > /root/marker "
                              "&& cat /root/marker", 0, "kept");
  deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  while (disk_allocated (f, id) > (G_GUINT64_CONSTANT (256) << 20))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (100 * 1000);
    }
  /* Its own filesystem on one loop device the container never sees. */
  g_assert_cmpuint (loop_devices_of (id), ==, 1);
  assert_in_container (f, id, "ls /dev | grep -c loop", 1, "0");

  nlx_test_act_and_wait (f->session, id, "{\"os-stop\": null}", "powering-off",
                         "SHUTOFF");
  nlx_test_act_and_wait (f->session, id, "{\"os-start\": null}", "powering-on",
                         "ACTIVE");
  assert_in_container (f, id, "cat /root/marker", 0, "kept");
  g_assert_cmpuint (root_size_kib (f, id), ==, size);
  nlx_test_act_and_wait (f->session, id, "{\"reboot\": {\"type\": \"HARD\"}}",
                         "rebooting_hard", "ACTIVE");
  assert_in_container (f, id, "cat /root/marker", 0, "kept");
  /* A daemon that dies finds the root disk mounted and in use. */
  init = init_of (f, id);
  daemon_stop (f, SIGKILL);
  daemon_start (f);
  g_assert_cmpint (init_of (f, id), ==, init);
  g_assert_cmpuint (loop_devices_of (id), ==, 1);
  g_clear_pointer (&output, g_free);
  g_assert_cmpint (in_container (f, id, FILL, &output), !=, 0);
  g_assert_nonnull (strstr (output, "No space left on device"));
  assert_in_container (f, id, "rm /root/fill", 0, NULL);

  /* A snapshot reads the root disk; a server boots from it. */
  image = nlx_test_create_image (f->session, id, "{\"createImage\": "
                                 "{\"name\": \"nlxtest-quota-snap\"}}");
  image_path = g_strconcat ("/v2.1/images/", image, NULL);
  from_snapshot = boot_image (f, "nlxtest-quota-b", "nlxtest-quota-snap");
  assert_in_container (f, from_snapshot, "cat /root/marker", 0, "kept");
  delete_and_check (f, from_snapshot);
  g_assert_cmpint (nlx_test_call (f->session, "DELETE", image_path, NULL, NULL),
                   ==, 204);

  /* Rebuild: a new, empty root disk of the same size. */
  g_assert_cmpint (nlx_test_act (f->session, id, "{\"rebuild\": {\"imageRef\": \""
                                 IMAGE "\"}}"), ==, 202);
  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  assert_in_container (f, id, "test -e /root/marker", 1, NULL);
  g_assert_cmpuint (root_size_kib (f, id), ==, size);
  g_assert_cmpuint (loop_devices_of (id), ==, 1);

  delete_and_check (f, id);
  g_assert_cmpuint (loop_devices_of (id), ==, 0);
  g_assert_cmpuint (mounts_of (f, id), ==, 0);

  /* The control: without root_gb the same write lands on the host. */
  plain = boot (f, "nlxtest-quota-plain");
  g_assert_cmpuint (root_size_kib (f, plain), >, GIB_KIB * 2);
  assert_in_container (f, plain, FILL " && rm /root/fill", 0, NULL);
  g_assert_cmpuint (loop_devices_of (plain), ==, 0);
  delete_and_check (f, plain);
}

/* ---- limits: pids, CPU ------------------------------------------------- */

static guint64
read_number (const char *dir,
             const char *file)
{
  g_autofree char *path = g_build_filename (dir, file, NULL);
  g_autofree char *text = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  return g_ascii_strtoull (text, NULL, 10);
}

static void
assert_extra_spec (Fixture *f,
                   const char *flavor_id,
                   const char *spec,
                   const char *value)
{
  g_autofree char *path = g_strconcat ("/v2.1/flavors/", flavor_id,
                                       "/os-extra_specs", NULL);
  g_autoptr(JsonNode) flavor = NULL;
  JsonObject *specs;

  g_assert_cmpint (nlx_test_call (f->session, "GET", path, NULL, &flavor), ==,
                   200);
  specs = nlx_test_object_at (flavor, "extra_specs");
  g_assert_cmpstr (json_object_get_string_member (specs, spec), ==, value);
}

/* The instance's init sits in a pids group of its own, named after its
 * domain, with @limit; returns the group's directory. */
static char *
assert_pids_group (Fixture *f,
                   const char *id,
                   guint limit)
{
  char *dir = nlx_lxc_cgroup_pids_dir (init_of (f, id));
  g_autofree char *wanted = g_strdup_printf ("/" NLX_LXC_PIDS_GROUP
                                             "/instance-%.8s", id);

  g_assert_nonnull (dir);
  g_assert_true (g_str_has_suffix (dir, wanted));
  g_assert_cmpuint (read_number (dir, "pids.max"), ==, limit);
  return dir;
}

static guint
forks_in (Fixture *f,
          const char *id,
          guint wanted)
{
  g_autofree char *script = g_strdup_printf ("nlxtest-probe forks %u", wanted);
  g_autofree char *output = NULL;

  g_assert_cmpint (in_container (f, id, script, &output), ==, 0);
  return (guint) g_ascii_strtoull (output, NULL, 10);
}

/* A fork loop inside stops at the flavor's nova_lxc:pids, while another
 * server, with a higher limit, and the host fork on; the same loop in
 * that server gets past the first one's limit (the control). */
static void
test_pids_limit (Fixture *f)
{
  g_autofree char *low = boot_flavor (f, "nlxtest-pids-low", "m1.pids-low");
  g_autofree char *high = boot_flavor (f, "nlxtest-pids-high", "m1.pids-high");
  g_autofree char *low_dir = assert_pids_group (f, low, 64);
  g_autofree char *high_dir = assert_pids_group (f, high, 256);
  g_autofree char *output = NULL;
  guint held;

  assert_extra_spec (f, "m1.pids-low", "nova_lxc:pids", "64");

  /* The low server holds as many as it can for a while... */
  assert_in_container (f, low, "nlxtest-probe forks 500 5 > /tmp/held &", 0,
                       NULL);
  {
    gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

    while (read_number (low_dir, "pids.current") < 64)
      {
        g_assert_cmpint (g_get_monotonic_time (), <, deadline);
        g_usleep (50 * 1000);
      }
  }
  /* ...and meanwhile its neighbour and the host are not short of any. */
  g_assert_cmpuint (forks_in (f, high, 100), ==, 100);
  {
    g_autoptr(GError) error = NULL;
    int status;

    g_spawn_command_line_sync ("true", NULL, NULL, &status, &error);
    g_assert_no_error (error);
    g_assert_cmpint (status, ==, 0);
  }
  /* Its own agent cannot fork either until the probe lets go. */
  {
    gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

    while (read_number (low_dir, "pids.current") >= 32)
      {
        g_assert_cmpint (g_get_monotonic_time (), <, deadline);
        g_usleep (100 * 1000);
      }
  }
  g_assert_cmpint (in_container (f, low, "cat /tmp/held", &output), ==, 0);
  held = (guint) g_ascii_strtoull (output, NULL, 10);
  /* init, the agent, its shell and the probe take a few of the 64. */
  g_assert_cmpuint (held, <, 64);
  g_assert_cmpuint (held, >, 40);
  g_assert_cmpuint (read_number (low_dir, "pids.current"), <=, 64);
  /* The control: the same loop where the limit is higher. */
  g_assert_cmpuint (forks_in (f, high, 200), ==, 200);
  g_assert_cmpuint (forks_in (f, low, 200), <, 64);
  delete_and_check (f, low);
  delete_and_check (f, high);
  g_assert_false (g_file_test (low_dir, G_FILE_TEST_EXISTS));
}

/* The processes in cgroup directory @dir, but @skip. */
static GArray *
procs_in (const char *dir,
          pid_t skip)
{
  g_autofree char *path = g_build_filename (dir, "cgroup.procs", NULL);
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  GArray *pids = g_array_new (FALSE, FALSE, sizeof (pid_t));

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      pid_t pid = (pid_t) g_ascii_strtoll (lines[i], NULL, 10);

      if (pid > 0 && pid != skip)
        g_array_append_val (pids, pid);
    }
  return pids;
}

/* Moves every process of the instance back to the root pids group, as
 * if it had started while no daemon ran. */
static void
escape_pids_group (const char *dir)
{
  g_autoptr(GArray) pids = procs_in (dir, 0);

  for (guint i = 0; i < pids->len; i++)
    {
      g_autofree char *text = g_strdup_printf ("%d", (int) g_array_index (pids,
                                                                      pid_t, i));
      g_autoptr(GError) error = NULL;

      g_file_set_contents_full ("/sys/fs/cgroup/pids/cgroup.procs", text, -1,
                                G_FILE_SET_CONTENTS_NONE, 0644, &error);
    }
}

/* Each start makes new processes: the limit holds after a hard reboot,
 * after the instance rebooted itself, and, for an instance that ran
 * outside its group while no daemon did, once the daemon starts. */
static void
test_pids_limit_kept (Fixture *f)
{
  g_autofree char *id = boot_flavor (f, "nlxtest-pids-kept", "m1.pids-low");
  g_autofree char *dir = assert_pids_group (f, id, 64);
  g_autofree char *stale = NULL;
  guint controller;

  nlx_test_act_and_wait (f->session, id, "{\"reboot\": {\"type\": \"HARD\"}}",
                         "rebooting_hard", "ACTIVE");
  g_free (assert_pids_group (f, id, 64));
  g_assert_cmpuint (forks_in (f, id, 200), <, 64);

  /* busybox init reboots on SIGTERM: libvirt restarts the container by
   * itself, with a new controller. */
  controller = domain_id (f, id);
  kill (init_of (f, id), SIGTERM);
  {
    gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;

    for (;;)
      {
        if (domain_running (f, id) == 1 && domain_id (f, id) != controller)
          {
            g_autofree char *now = nlx_lxc_cgroup_pids_dir (init_of (f, id));

            if (now != NULL && strstr (now, "/" NLX_LXC_PIDS_GROUP "/") != NULL)
              break;
          }
        g_assert_cmpint (g_get_monotonic_time (), <, deadline);
        g_usleep (100 * 1000);
      }
  }
  g_free (assert_pids_group (f, id, 64));

  daemon_stop (f, SIGKILL);
  escape_pids_group (dir);
  /* A group of a domain that is gone, as a deletion racing with a start
   * can leave: the daemon's start removes it. */
  stale = g_strdup_printf ("/sys/fs/cgroup/pids/" NLX_LXC_PIDS_GROUP
                           "/instance-%08x", g_random_int ());
  g_assert_cmpint (g_mkdir (stale, 0755), ==, 0);
  {
    g_autofree char *escaped = nlx_lxc_cgroup_pids_dir (init_of (f, id));

    g_assert_null (strstr (escaped, "/" NLX_LXC_PIDS_GROUP "/"));
  }
  daemon_start (f);
  g_free (assert_pids_group (f, id, 64));
  if (g_file_test (stale, G_FILE_TEST_EXISTS))
    {
      g_rmdir (stale);
      g_error ("the daemon left the stale pids group %s", stale);
    }
  g_assert_cmpuint (forks_in (f, id, 200), <, 64);
  delete_and_check (f, id);
}

/* The host directory of @pid's group in cgroup v1 hierarchy
 * @controller (this host's layout; see docs/host-notes.md). */
static char *
v1_group_dir (pid_t pid,
              const char *controller)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/cgroup", (int) pid);
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  g_autofree char *suffix = g_strdup_printf (":%s:", controller);

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *at = strstr (lines[i], suffix);

      if (at != NULL)
        return g_build_filename ("/sys/fs/cgroup", controller,
                                 at + strlen (suffix), NULL);
    }
  g_error ("process %d is in no %s cgroup", (int) pid, controller);
  return NULL;
}

/* How many processes of the container (its freezer group @freezer, but
 * its controller) are outside pids group @pids_dir. */
static guint
outside_pids_group (const char *freezer,
                    pid_t controller,
                    const char *pids_dir)
{
  g_autoptr(GArray) pids = procs_in (freezer, controller);
  guint outside = 0;

  for (guint i = 0; i < pids->len; i++)
    {
      pid_t pid = g_array_index (pids, pid_t, i);
      g_autofree char *dir = nlx_lxc_cgroup_pids_dir (pid);

      if (dir != NULL && g_strcmp0 (dir, pids_dir) != 0)
        outside++;
    }
  return outside;
}

/* Whether, in a few looks 20 ms apart, one finds every process of the
 * container in @pids_dir.  An escaped relay of the fork loop always has
 * tens of processes outside (each lives 5 ms, forking its successor at
 * once); a look can still catch one that was on its way out at the
 * move, which the kernel does not move, before it is gone. */
static gboolean
all_in_pids_group (const char *freezer,
                   pid_t controller,
                   const char *pids_dir)
{
  for (guint look = 0; look < 10; look++)
    {
      if (outside_pids_group (freezer, controller, pids_dir) == 0)
        return TRUE;
      g_usleep (20 * 1000);
    }
  return FALSE;
}

/* A fork loop that never lets up, running outside its pids group (as
 * after a start while no daemon ran), is held to its limit again once
 * the daemon starts: its processes fork faster than they can be moved
 * one by one, so the daemon freezes the container for the move
 * (nlx-lxc-cgroup.c).  The control: outside the group, the same loop
 * holds more processes than the limit. */
static void
test_pids_limit_fork_loop (Fixture *f)
{
  g_autofree char *id = boot_flavor (f, "nlxtest-pids-loop", "m1.pids-low");
  g_autofree char *dir = assert_pids_group (f, id, 64);
  g_autofree char *freezer = v1_group_dir (init_of (f, id), "freezer");
  pid_t controller = (pid_t) domain_id (f, id);
  guint most = 0;
  gint64 deadline;

  daemon_stop (f, SIGKILL);
  escape_pids_group (dir);
  assert_in_container (f, id, "nlxtest-probe churn 8 60 >/dev/null 2>&1 &",
                       0, NULL);
  deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  while (most <= 64 && g_get_monotonic_time () < deadline)
    {
      g_autoptr(GArray) pids = procs_in (freezer, controller);

      most = MAX (most, pids->len);
      g_usleep (20 * 1000);
    }
  g_assert_cmpuint (most, >, 64);

  daemon_start (f);
  g_free (assert_pids_group (f, id, 64));
  {
    g_autofree char *log = g_build_filename (f->dir, "daemon.log", NULL);
    g_autofree char *text = NULL;
    g_autofree char *failed = g_strdup_printf ("Cannot limit the processes "
                                               "of instance %s", id);

    g_assert_true (g_file_get_contents (log, &text, NULL, NULL));
    g_assert_null (strstr (text, failed));
  }
  /* Every process in the group, and, once the children moved past the
   * limit have exited (5 ms each), kept to it, the loop still forking. */
  g_assert_true (all_in_pids_group (freezer, controller, dir));
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (read_number (dir, "pids.current") > 64)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (20 * 1000);
    }
  deadline = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < deadline)
    {
      g_autoptr(GArray) pids = procs_in (freezer, controller);

      g_assert_cmpuint (pids->len, <=, 64);
      g_usleep (20 * 1000);
    }
  g_assert_true (all_in_pids_group (freezer, controller, dir));
  delete_and_check (f, id);
}

static double
burn_in (Fixture *f,
         const char *id)
{
  g_autofree char *output = NULL;

  g_assert_cmpint (in_container (f, id, "nlxtest-probe burn 3 2", &output),
                   ==, 0);
  return g_ascii_strtod (output, NULL);
}

/* vcpus hold: the CFS quota of a 1-vcpu server is one CPU, and three
 * busy processes in it never get more than about one CPU's time; a
 * 2-vcpu flavor gets two, and each its shares.  The usage measured from
 * inside is an upper bound only: on a busy shared host the unlimited
 * control may get less than a CPU too, so the control is the quota the
 * kernel was given. */
static void
test_vcpus_enforced (Fixture *f)
{
  g_autofree char *one = boot_flavor (f, "nlxtest-vcpus-one", "m1.tiny");
  g_autofree char *two = boot_flavor (f, "nlxtest-vcpus-two", "m1.duo");
  g_autofree char *one_dir = v1_group_dir (init_of (f, one), "cpu");
  g_autofree char *two_dir = v1_group_dir (init_of (f, two), "cpu");
  double used;

  assert_extra_spec (f, "m1.duo", "quota:cpu_shares", "3000");
  g_assert_true (g_str_has_suffix (one_dir, ".libvirt-lxc"));
  g_assert_cmpuint (read_number (one_dir, "cpu.cfs_period_us"), ==, 100000);
  g_assert_cmpuint (read_number (one_dir, "cpu.cfs_quota_us"), ==, 100000);
  g_assert_cmpuint (read_number (one_dir, "cpu.shares"), ==, 1024);
  g_assert_cmpuint (read_number (two_dir, "cpu.cfs_quota_us"), ==, 200000);
  g_assert_cmpuint (read_number (two_dir, "cpu.shares"), ==, 3000);

  used = burn_in (f, one);
  g_assert_cmpfloat (used, <, 1.15);
  g_test_message ("3 busy processes for 2 s used %.2f CPUs with 1 vcpu and "
                  "%.2f with 2", used, burn_in (f, two));
  delete_and_check (f, one);
  delete_and_check (f, two);
}

/* [compute] cpu_shared_set pins every instance to those host CPUs. */
static void
test_cpu_shared_set (Fixture *f)
{
  g_autofree char *old = NULL;
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *cpus_path = NULL;
  g_autofree char *cpus = NULL;
  g_autofree char *status_path = NULL;
  g_autofree char *status = NULL;

  daemon_stop (f, SIGTERM);
  g_assert_true (g_file_get_contents (f->config, &old, NULL, NULL));
  text = g_strconcat (old, "[compute]\ncpu_shared_set = 0\n", NULL);
  g_file_set_contents (f->config, text, -1, &error);
  g_assert_no_error (error);
  daemon_start (f);

  id = boot (f, "nlxtest-cpuset");
  dir = v1_group_dir (init_of (f, id), "cpuset");
  cpus_path = g_build_filename (dir, "cpuset.cpus", NULL);
  g_assert_true (g_file_get_contents (cpus_path, &cpus, NULL, NULL));
  g_assert_cmpstr (g_strstrip (cpus), ==, "0");
  status_path = g_strdup_printf ("/proc/%d/status", (int) init_of (f, id));
  g_assert_true (g_file_get_contents (status_path, &status, NULL, NULL));
  g_assert_nonnull (strstr (status, "Cpus_allowed_list:\t0\n"));
  delete_and_check (f, id);
}

/* ---- namespaces: cgroups ------------------------------------------------ */

static void
check_cgroups_closed (Fixture *f,
                      const char *id,
                      const char *other_memory,
                      const char *other_freezer)
{
  g_autofree char *script = NULL;
  g_autofree char *status_path = g_strdup_printf ("/proc/%d/status",
                                                  (int) init_of (f, id));
  g_autofree char *status = NULL;
  const char *line;

  /* Its own cgroups are the root of its namespace... */
  assert_in_container (f, id, "! grep -v ':/$' /proc/self/cgroup", 0, NULL);
  assert_in_container (f, id, "cat /sys/fs/cgroup/memory/memory.limit_in_bytes",
                       0, "134217728");
  /* ...and nothing of the host's tree or another instance's shows. */
  assert_in_container (f, id, "ls /sys/fs/cgroup/memory/machine", 1, NULL);
  assert_in_container (f, id, "find /sys/fs/cgroup -name '*lxc*'", 0, "");
  script = g_strdup_printf ("cat /sys/fs/cgroup/memory%s/memory.usage_in_bytes",
                            other_memory);
  assert_in_container (f, id, script, 1, NULL);
  g_free (script);
  script = g_strdup_printf ("echo FROZEN > /sys/fs/cgroup/freezer%s/freezer.state",
                            other_freezer);
  assert_in_container (f, id, script, 1, NULL);
  /* Its own limits are the operator's. */
  assert_in_container (f, id, "echo 1073741824 > "
                       "/sys/fs/cgroup/memory/memory.limit_in_bytes", 1, NULL);
  assert_in_container (f, id, "mkdir -p /tmp/cg && "
                       "mount -t cgroup -o memory none /tmp/cg", 1, NULL);
  /* nova-lxc-init detached its own mount (the host's sandbox directory
   * holds it, so the mount was there) ... */
  assert_in_container (f, id, "ls -A /dev/.nova-lxc", 0, "");
  /* ...and kept CAP_SYS_ADMIN for itself only. */
  g_assert_true (g_file_get_contents (status_path, &status, NULL, NULL));
  line = strstr (status, "\nCapBnd:");
  g_assert_nonnull (line);
  g_assert_cmpuint (g_ascii_strtoull (line + strlen ("\nCapBnd:"), NULL, 16) &
                    (G_GUINT64_CONSTANT (1) << 21), ==, 0);
}

/* Every instance has a cgroup namespace rooted at its own cgroups, which
 * it sees read-only: root in an unprivileged and in a privileged server
 * can neither list nor read another server's cgroups, nor freeze it, nor
 * raise its own memory limit.  The control: the host reads the same
 * files. */
static void
test_cgroup_namespace (Fixture *f)
{
  g_autofree char *a = boot (f, "nlxtest-cgns-a");
  g_autofree char *b = boot (f, "nlxtest-cgns-b");
  g_autofree char *p = boot_flavor (f, "nlxtest-cgns-p", "m1.privileged");
  g_autofree char *b_memory = v1_group_dir (init_of (f, b), "memory");
  g_autofree char *b_freezer = v1_group_dir (init_of (f, b), "freezer");
  g_autofree char *p_memory = v1_group_dir (init_of (f, p), "memory");
  g_autofree char *a_ns = NULL;
  g_autofree char *own_ns = g_file_read_link ("/proc/self/ns/cgroup", NULL);
  g_autofree char *path = g_strdup_printf ("/proc/%d/ns/cgroup",
                                           (int) init_of (f, a));
  g_autofree char *text = NULL;
  const char *b_memory_rel = b_memory + strlen ("/sys/fs/cgroup/memory");
  const char *b_freezer_rel = b_freezer + strlen ("/sys/fs/cgroup/freezer");

  a_ns = g_file_read_link (path, NULL);
  g_assert_nonnull (a_ns);
  g_assert_cmpstr (a_ns, !=, own_ns);
  /* The control: from the host, B's cgroup files are there to read. */
  g_assert_true (g_str_has_prefix (b_memory_rel, "/machine/"));
  g_assert_cmpuint (read_number (b_memory, "memory.usage_in_bytes"), >, 0);

  check_cgroups_closed (f, a, b_memory_rel, b_freezer_rel);
  check_cgroups_closed (f, p, b_memory_rel, b_freezer_rel);

  {
    g_autofree char *freezer = g_build_filename (b_freezer, "freezer.state",
                                                 NULL);

    g_assert_true (g_file_get_contents (freezer, &text, NULL, NULL));
    g_assert_cmpstr (g_strstrip (text), ==, "THAWED");
  }
  g_assert_cmpuint (read_number (p_memory, "memory.limit_in_bytes"), ==,
                    134217728);
  delete_and_check (f, a);
  delete_and_check (f, b);
  delete_and_check (f, p);
}

/* ---- the network: port security and the host's services ------------------ */

static char *
bridge_table (Fixture *f)
{
  g_autofree char *table = g_strdup_printf ("nova_lxc_%s", f->bridge);

  return host_output ((const char * const []) { "nft", "list", "table",
                                                "bridge", table, NULL });
}

/* The host's neighbour entry for @address on the case's bridge has
 * @mac. */
#define assert_neighbour(f, address, mac) \
  assert_neighbour_at (f, address, mac, __LINE__)
static void
assert_neighbour_at (Fixture *f,
                     const char *address,
                     const char *mac,
                     int line)
{
  g_autofree char *out = host_output ((const char * const []) {
    "ip", "-4", "neigh", "show", address, "dev", f->bridge, NULL });
  const char *lladdr = strstr (out, "lladdr ");
  g_autofree char *found = lladdr ? g_strndup (lladdr + strlen ("lladdr "), 17)
                                  : NULL;

  if (g_strcmp0 (found, mac) != 0)
    g_error ("line %d: the host's neighbour entry for %s is “%s”, wanted %s",
             line, address, out, mac);
}

/* The bridge's fdb has @mac on @port. */
#define assert_fdb(f, mac, port) assert_fdb_at (f, mac, port, __LINE__)
static void
assert_fdb_at (Fixture *f,
               const char *mac,
               const char *port,
               int line)
{
  g_autofree char *out = host_output ((const char * const []) {
    "bridge", "fdb", "show", "br", f->bridge, NULL });
  g_auto(GStrv) lines = g_strsplit (out, "\n", -1);
  g_autofree char *found = NULL;

  for (guint i = 0; lines[i] != NULL && found == NULL; i++)
    {
      g_auto(GStrv) words = g_strsplit (lines[i], " ", -1);

      if (g_strv_length (words) >= 3 && g_ascii_strcasecmp (words[0], mac) == 0 &&
          g_str_equal (words[1], "dev"))
        found = g_strdup (words[2]);
    }
  if (g_strcmp0 (found, port) != 0)
    g_error ("line %d: the bridge has %s on %s, wanted %s; its fdb:\n%s",
             line, mac, found, port, out);
}

/* Starts @victim counting, for six seconds, the frames that only a
 * spoofer sends it (nlxtest-probe spoofed); the watch runs on after the
 * script that starts it ends. */
static void
watch_start (Fixture *f,
             const char *victim)
{
  assert_in_container (f, victim, "rm -f /tmp/spoofed /tmp/spoofed.new; "
                       "(nlxtest-probe spoofed eth0 6 >/tmp/spoofed.new 2>&1; "
                       "mv /tmp/spoofed.new /tmp/spoofed) </dev/null "
                       ">/dev/null 2>&1 &", 0, NULL);
  g_usleep (G_USEC_PER_SEC / 2);
}

static guint
watch_count (Fixture *f,
             const char *victim)
{
  g_autofree char *count = NULL;

  g_assert_cmpint (in_container (f, victim, "i=0; while [ ! -f /tmp/spoofed ] "
                                 "&& [ $i -lt 150 ]; do sleep 0.1; "
                                 "i=$((i+1)); done; cat /tmp/spoofed",
                                 &count), ==, 0);
  g_test_message ("spoofed frames that reached the victim: %s", count);
  return (guint) g_ascii_strtoull (count, NULL, 10);
}

/* A claims B's address: two gratuitous ARPs from A's own MAC with B's
 * address as the sender, as `arping -U` sends them; the host's entry for
 * B then has @expected_mac.  A is left with its own address only.
 * Returns how many of the frames reached B. */
static guint
spoof_address (Fixture *f,
               const char *a,
               const char *b,
               const char *b_address,
               const char *expected_mac)
{
  g_autofree char *attack = g_strdup_printf (
    "ip addr add %s/32 dev eth0 && arping -U -c 2 -I eth0 -s %s %s; "
    "ip addr del %s/32 dev eth0", b_address, b_address, b_address, b_address);
  g_autofree char *output = NULL;

  watch_start (f, b);
  in_container (f, a, attack, &output);
  assert_neighbour (f, b_address, expected_mac);
  assert_in_container (f, a, "! ip addr show eth0 | grep -q /32", 0, NULL);
  return watch_count (f, b);
}

/* A takes B's MAC and sends two ARP requests for the gateway from it;
 * the bridge then has B's MAC on @expected_port (checked at once: B's
 * own next frame moves it back).  A is left with its own MAC.  Returns
 * how many of the frames reached B. */
static guint
spoof_mac (Fixture *f,
           const char *a,
           const char *a_mac,
           const char *b,
           const char *b_mac,
           const char *expected_port)
{
  g_autofree char *attack = g_strdup_printf (
    "ip link set eth0 address %s && arping -c 2 -w 2 -I eth0 %s.1",
    b_mac, f->subnet);
  g_autofree char *restore = g_strdup_printf ("ip link set eth0 address %s",
                                              a_mac);
  g_autofree char *output = NULL;

  watch_start (f, b);
  in_container (f, a, attack, &output);
  assert_fdb (f, b_mac, expected_port);
  assert_in_container (f, a, restore, 0, NULL);
  return watch_count (f, b);
}

/* A sends one link-local frame (to the LLDP group) from B's MAC, which
 * the bridge learns before any netfilter hook: the bridge then has B's
 * MAC on @expected_port. */
static void
spoof_link_local (Fixture *f,
                  const char *a,
                  const char *b_mac,
                  const char *expected_port)
{
  g_autofree char *attack = g_strdup_printf ("nlxtest-probe lldp eth0 %s",
                                             b_mac);

  assert_in_container (f, a, attack, 0, NULL);
  assert_fdb (f, b_mac, expected_port);
}

/* Anti-spoofing: an instance sends only from its own MAC and address.
 * Root in A takes B's address and B's MAC: with the port rules none of
 * it reaches B or changes the host's neighbour or fdb entries of B; with
 * the case's bridge table removed (the control) all of it does; the
 * daemon's start makes the rules again, without the stale port. */
static void
test_port_security (Fixture *f)
{
  g_autofree char *a = boot (f, "nlxtest-spoof-a");
  g_autofree char *b = boot (f, "nlxtest-spoof-b");
  g_autofree char *a_mac = NULL, *b_mac = NULL;
  g_autofree char *a_address = address_of (f, a, &a_mac);
  g_autofree char *b_address = address_of (f, b, &b_mac);
  g_autofree char *a_veth = g_strdup_printf ("nlx-%.8s", a);
  g_autofree char *b_veth = g_strdup_printf ("nlx-%.8s", b);
  g_autofree char *table = g_strdup_printf ("nova_lxc_%s", f->bridge);
  g_autofree char *rules = bridge_table (f);
  g_autoptr(GError) error = NULL;

  /* Operators see each port's rules. */
  g_assert_nonnull (strstr (rules, a_veth));
  g_assert_nonnull (strstr (rules, b_veth));
  g_assert_nonnull (strstr (rules, b_mac));
  g_assert_nonnull (strstr (rules, b_address));
  assert_reaches (f, a, b_address);

  host_learns (f, b_address);
  assert_neighbour (f, b_address, b_mac);
  assert_fdb (f, b_mac, b_veth);
  g_assert_cmpuint (spoof_address (f, a, b, b_address, b_mac), ==, 0);
  g_assert_cmpuint (spoof_mac (f, a, a_mac, b, b_mac, b_veth), ==, 0);
  spoof_link_local (f, a, b_mac, b_veth);
  assert_reaches (f, a, b_address);

  /* The control: the daemon stopped, its bridge table replaced by one
   * that knows a port of no instance.  The same attack now reaches B
   * and takes over B's entries on the host. */
  daemon_stop (f, SIGTERM);
  nlx_test_run_command ((const char * const []) { "nft", "delete", "table", "bridge",
                                         table, NULL });
  nlx_test_run_command ((const char * const []) { "ip", "link", "set", f->bridge, "type",
                                         "bridge", "no_linklocal_learn", "0",
                                         NULL });
  {
    NlxNetworkPort stale = { "nlx-0badc0de", "fa:16:3e:00:00:01",
                             "192.0.2.1" };

    g_assert_true (nlx_network_filter_add_port (f->bridge, &stale, &error));
    g_assert_no_error (error);
  }
  host_learns (f, b_address);
  assert_neighbour (f, b_address, b_mac);
  g_assert_cmpuint (spoof_address (f, a, b, b_address, a_mac), >, 0);
  g_assert_cmpuint (spoof_mac (f, a, a_mac, b, b_mac, a_veth), >, 0);
  host_learns (f, b_address);
  assert_fdb (f, b_mac, b_veth);
  spoof_link_local (f, a, b_mac, a_veth);

  /* The daemon's start makes the rules of the instances that exist. */
  daemon_start (f);
  g_clear_pointer (&rules, g_free);
  rules = bridge_table (f);
  g_assert_nonnull (strstr (rules, a_veth));
  g_assert_nonnull (strstr (rules, b_veth));
  g_assert_null (strstr (rules, "nlx-0badc0de"));
  host_learns (f, b_address);
  g_assert_cmpuint (spoof_address (f, a, b, b_address, b_mac), ==, 0);
  g_assert_cmpuint (spoof_mac (f, a, a_mac, b, b_mac, b_veth), ==, 0);
  spoof_link_local (f, a, b_mac, b_veth);
  assert_reaches (f, a, b_address);

  /* libvirt's own restart of A (busybox reboot inside) makes a veth of
   * the same name, which A's rules already match: no event to catch. */
  {
    unsigned int first_id = domain_id (f, a);

    assert_in_container (f, a, "(sleep 0.5; reboot) >/dev/null 2>&1 &", 0,
                         NULL);
    wait_restarted (f, a, first_id, 30);
    nlx_test_wait_for_status (f->session, a, "ACTIVE");
    assert_reaches (f, a, b_address);
    host_learns (f, b_address);
    g_assert_cmpuint (spoof_address (f, a, b, b_address, b_mac), ==, 0);
  }

  /* A deleted instance's rules go with it. */
  delete_and_check (f, a);
  g_clear_pointer (&rules, g_free);
  rules = bridge_table (f);
  g_assert_null (strstr (rules, a_veth));
  g_assert_nonnull (strstr (rules, b_veth));
  delete_and_check (f, b);
}

typedef struct {
  GSocket *socket;
  gint accepted;
  gint stop;
} Listener;

/* Accepts, greets and closes every connection until told to stop. */
static gpointer
listen_on_host (gpointer data)
{
  Listener *listener = data;

  while (!g_atomic_int_get (&listener->stop))
    {
      g_autoptr(GSocket) peer = NULL;

      if (!g_socket_condition_timed_wait (listener->socket, G_IO_IN,
                                          100 * 1000, NULL, NULL))
        continue;
      peer = g_socket_accept (listener->socket, NULL, NULL);
      if (peer == NULL)
        continue;
      g_atomic_int_inc (&listener->accepted);
      g_socket_send (peer, "nlxtest-hello\n", 14, NULL, NULL);
      g_socket_close (peer, NULL);
    }
  return NULL;
}

/* Instances reach no service of the host by default: a listener on the
 * host's 0.0.0.0 does not answer A through the bridge's gateway
 * address, while A still reaches B; with [network] host_access = true
 * (the control) it does. */
static void
test_host_access (Fixture *f)
{
  g_autofree char *a = boot (f, "nlxtest-hostnet-a");
  g_autofree char *b = boot (f, "nlxtest-hostnet-b");
  g_autofree char *b_address = address_of (f, b, NULL);
  g_autofree char *gateway = g_strdup_printf ("%s.1", f->subnet);
  g_autofree char *table = g_strdup_printf ("nova_lxc_%s", f->bridge);
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) any = g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) bind_address = g_inet_socket_address_new (any, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autofree char *connect = NULL;
  g_autofree char *output = NULL;
  g_autofree char *rules = NULL;
  Listener listener = { NULL, 0, 0 };
  GThread *thread;

  listener.socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                  G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_socket_bind (listener.socket, bind_address, TRUE, &error);
  g_assert_no_error (error);
  g_socket_listen (listener.socket, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (listener.socket, &error);
  g_assert_no_error (error);
  thread = g_thread_new ("listener", listen_on_host, &listener);
  connect = g_strdup_printf ("nc -w 2 %s %u </dev/null", gateway,
                             g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));

  rules = host_output ((const char * const []) { "nft", "list", "table",
                                                 "inet", table, NULL });
  g_assert_nonnull (strstr (rules, "host_access = false"));
  g_assert_cmpint (in_container (f, a, connect, &output), !=, 0);
  g_assert_null (strstr (output ? output : "", "nlxtest-hello"));
  g_assert_cmpint (g_atomic_int_get (&listener.accepted), ==, 0);
  assert_reaches (f, a, b_address);
  assert_reaches (f, a, gateway);

  /* The operator's switch opens the host. */
  daemon_stop (f, SIGTERM);
  {
    g_autofree char *config = NULL;
    g_autofree char *opened = NULL;

    g_assert_true (g_file_get_contents (f->config, &config, NULL, NULL));
    /* [network] is the configuration's last section. */
    opened = g_strconcat (config, "host_access = true\n", NULL);
    g_file_set_contents (f->config, opened, -1, &error);
    g_assert_no_error (error);
  }
  daemon_start (f);
  g_clear_pointer (&output, g_free);
  g_assert_cmpint (in_container (f, a, connect, &output), ==, 0);
  g_assert_nonnull (strstr (output, "nlxtest-hello"));
  g_assert_cmpint (g_atomic_int_get (&listener.accepted), ==, 1);
  assert_reaches (f, a, b_address);

  g_atomic_int_set (&listener.stop, 1);
  g_thread_join (thread);
  g_socket_close (listener.socket, NULL);
  g_clear_object (&listener.socket);
  delete_and_check (f, a);
  delete_and_check (f, b);
}

/* ---- system calls, capabilities, keyrings, instance directories ---------- */

/* Runs nlxtest-probe on the host (as the test, root) and returns what it
 * printed. */
static char *
probe_on_host (const char * const *args)
{
  g_autofree char *probe = g_build_filename (g_getenv ("NLX_TOP_BUILDDIR"),
                                             "tests", "functional",
                                             "nlxtest-probe", NULL);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  char *output = NULL;
  int status;

  g_ptr_array_add (argv, probe);
  for (gsize i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_STDERR_TO_DEV_NULL,
                NULL, NULL, &output, NULL, &status, &error);
  g_assert_no_error (error);
  g_test_message ("on the host: %s %s -> %d %s", args[0],
                  args[1] ? args[1] : "", status, output);
  if (!g_spawn_check_wait_status (status, NULL))
    g_clear_pointer (&output, g_free);
  return output;
}

/* "NAME ERRNO" lines of nlxtest-probe syscalls, as NAME -> ERRNO. */
static GHashTable *
parse_syscalls (const char *output)
{
  GHashTable *table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                             g_free);
  g_auto(GStrv) lines = g_strsplit (output, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) words = g_strsplit (lines[i], " ", 2);

      if (words[0] != NULL && words[1] != NULL)
        g_hash_table_insert (table, g_strdup (words[0]), g_strdup (words[1]));
    }
  return table;
}

static GHashTable *
syscalls_in (Fixture *f,
             const char *id)
{
  g_autofree char *output = NULL;

  g_assert_cmpint (in_container (f, id, "nlxtest-probe syscalls", &output), ==, 0);
  return parse_syscalls (output);
}

/* The default seccomp denylist with each call's number on the x86 ABIs,
 * from the kernel's syscall tables (x32: the x86-64 number or its own,
 * with __X32_SYSCALL_BIT), not from libseccomp, which nova-lxc-init
 * itself uses: the test checks its names resolve on every ABI. */
#define X32 0x40000000
static const struct {
  const char *name;
  int x86_64, i386, x32;
} denied_calls[] = {
  { "kexec_load", 246, 283, X32 + 528 },
  { "kexec_file_load", 320, -1, X32 + 320 },
  { "open_by_handle_at", 304, 342, X32 + 304 },
  { "init_module", 175, 128, X32 + 175 },
  { "finit_module", 313, 350, X32 + 313 },
  { "delete_module", 176, 129, X32 + 176 },
  { "keyctl", 250, 288, X32 + 250 },
  { "add_key", 248, 286, X32 + 248 },
  { "request_key", 249, 287, X32 + 249 },
  { "userfaultfd", 323, 374, X32 + 323 },
};

/* The seccomp filter @pid runs under, as the kernel holds it (classic
 * BPF, PTRACE_SECCOMP_GET_FILTER, for root on the host only), or NULL
 * when it has none.  @pid is stopped for the moment of the read. */
static GArray *
seccomp_filter_of (pid_t pid)
{
  GArray *program = NULL;
  int status;
  long count;

  g_assert_cmpint (ptrace (PTRACE_SEIZE, pid, NULL, NULL), ==, 0);
  g_assert_cmpint (ptrace (PTRACE_INTERRUPT, pid, NULL, NULL), ==, 0);
  g_assert_cmpint (waitpid (pid, &status, __WALL), ==, pid);
  count = ptrace (PTRACE_SECCOMP_GET_FILTER, pid, (void *) 0, NULL);
  if (count > 0)
    {
      program = g_array_sized_new (FALSE, TRUE, sizeof (struct sock_filter),
                                   count);
      g_array_set_size (program, count);
      g_assert_cmpint (ptrace (PTRACE_SECCOMP_GET_FILTER, pid, (void *) 0,
                               program->data), ==, count);
    }
  else
    /* The kernel's answer for a task not in filter mode. */
    g_assert_cmpint (errno, ==, EINVAL);
  g_assert_cmpint (ptrace (PTRACE_DETACH, pid, NULL, NULL), ==, 0);
  return program;
}

/* What @program answers for call @nr of ABI @arch: a classic BPF
 * interpreter for what seccomp filters use.  Anything else fails the test
 * rather than guess. */
static guint32
filter_verdict (GArray *program,
                guint32 arch,
                int nr)
{
  struct seccomp_data data = { .nr = nr, .arch = arch };
  guint32 a = 0, x = 0, mem[BPF_MEMWORDS] = { 0 };

  for (guint pc = 0; pc < program->len; pc++)
    {
      const struct sock_filter *in = &g_array_index (program, struct sock_filter,
                                                     pc);

      switch (in->code)
        {
        case BPF_LD | BPF_W | BPF_ABS:
          g_assert_cmpuint (in->k + 4, <=, sizeof data);
          memcpy (&a, (const char *) &data + in->k, 4);
          break;
        case BPF_LD | BPF_IMM: a = in->k; break;
        case BPF_LDX | BPF_IMM: x = in->k; break;
        case BPF_LD | BPF_MEM: a = mem[in->k % BPF_MEMWORDS]; break;
        case BPF_LDX | BPF_MEM: x = mem[in->k % BPF_MEMWORDS]; break;
        case BPF_ST: mem[in->k % BPF_MEMWORDS] = a; break;
        case BPF_STX: mem[in->k % BPF_MEMWORDS] = x; break;
        case BPF_ALU | BPF_AND | BPF_K: a &= in->k; break;
        case BPF_ALU | BPF_OR | BPF_K: a |= in->k; break;
        case BPF_MISC | BPF_TAX: x = a; break;
        case BPF_MISC | BPF_TXA: a = x; break;
        case BPF_JMP | BPF_JA: pc += in->k; break;
        case BPF_JMP | BPF_JEQ | BPF_K: pc += a == in->k ? in->jt : in->jf; break;
        case BPF_JMP | BPF_JGT | BPF_K: pc += a > in->k ? in->jt : in->jf; break;
        case BPF_JMP | BPF_JGE | BPF_K: pc += a >= in->k ? in->jt : in->jf; break;
        case BPF_JMP | BPF_JSET | BPF_K: pc += (a & in->k) ? in->jt : in->jf; break;
        case BPF_RET | BPF_K: return in->k;
        case BPF_RET | BPF_A: return a;
        default:
          g_error ("seccomp filter: opcode 0x%x at %u not understood", in->code, pc);
        }
    }
  g_error ("seccomp filter: ran off its end");
}

/* Every call of the denylist fails with ENOSYS inside an instance, on
 * every x86 ABI, while other calls and the guest's init are untouched;
 * in an instance whose flavor says seccomp = unconfined the same calls
 * reach the kernel, which answers otherwise. */
static void
test_seccomp (Fixture *f)
{
  g_autofree char *confined = boot (f, "nlxtest-seccomp");
  g_autofree char *unconfined = boot_flavor (f, "nlxtest-unconfined",
                                             "m1.unconfined");
  g_autofree char *host_output = probe_on_host ((const char * const []) {
                                                  "syscalls", NULL });
  g_autoptr(GHashTable) host = parse_syscalls (host_output);
  g_autoptr(GHashTable) inside = syscalls_in (f, confined);
  g_autoptr(GHashTable) control = syscalls_in (f, unconfined);
  g_autoptr(GArray) filter = NULL;
  g_autoptr(GArray) no_filter = NULL;
  g_autoptr(JsonNode) flavor = NULL;
  guint told_apart = 0;

  /* The operator's switch, as the API shows it. */
  g_assert_cmpint (nlx_test_call (f->session, "GET",
                                  "/v2.1/flavors/m1.unconfined/os-extra_specs",
                                  NULL, &flavor), ==, 200);
  g_assert_cmpstr (json_object_get_string_member (nlx_test_object_at (flavor,
                                                                      "extra_specs"),
                                                  "nova_lxc:seccomp"), ==,
                   "unconfined");

  for (gsize i = 0; i < G_N_ELEMENTS (denied_calls); i++)
    {
      const char *name = denied_calls[i].name;

      g_assert_cmpstr (g_hash_table_lookup (inside, name), ==, "ENOSYS");
      g_assert_nonnull (g_hash_table_lookup (host, name));
      if (g_str_equal (g_hash_table_lookup (host, name), "ENOSYS"))
        {
          /* The kernel lacks it: only the filter's verdict tells. */
          g_test_message ("%s: not in this kernel", name);
          continue;
        }
      g_assert_cmpstr (g_hash_table_lookup (control, name), !=, "ENOSYS");
      told_apart++;
    }
  /* The keyring calls, userfaultfd and open_by_handle_at are in every
   * kernel that runs containers. */
  g_assert_cmpuint (told_apart, >=, 5);

  /* Without no_new_privs, so setuid programs inside still work. */
  assert_in_container (f, confined,
                       "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status "
                       "| tr -s '\\t' ' '", 0, "NoNewPrivs: 0\nSeccomp: 2");
  assert_in_container (f, unconfined,
                       "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status "
                       "| tr -s '\\t' ' '", 0, "NoNewPrivs: 0\nSeccomp: 0");
  /* The guest's view: its own init is pid 1 (busybox rewrites its own
   * argv, so its name and program tell). */
  assert_in_container (f, confined, "cat /proc/1/comm; readlink /proc/1/exe",
                       0, "init\n/bin/busybox");

  filter = seccomp_filter_of (init_of (f, confined));
  g_assert_nonnull (filter);
  for (gsize i = 0; i < G_N_ELEMENTS (denied_calls); i++)
    {
      g_assert_cmphex (filter_verdict (filter, AUDIT_ARCH_X86_64,
                                       denied_calls[i].x86_64), ==,
                       SECCOMP_RET_ERRNO | ENOSYS);
      g_assert_cmphex (filter_verdict (filter, AUDIT_ARCH_X86_64,
                                       denied_calls[i].x32), ==,
                       SECCOMP_RET_ERRNO | ENOSYS);
      if (denied_calls[i].i386 >= 0)
        g_assert_cmphex (filter_verdict (filter, AUDIT_ARCH_I386,
                                         denied_calls[i].i386), ==,
                         SECCOMP_RET_ERRNO | ENOSYS);
    }
  /* getpid, on both ABIs, passes; an ABI the filter does not know dies. */
  g_assert_cmphex (filter_verdict (filter, AUDIT_ARCH_X86_64, 39), ==,
                   SECCOMP_RET_ALLOW);
  g_assert_cmphex (filter_verdict (filter, AUDIT_ARCH_I386, 20), ==,
                   SECCOMP_RET_ALLOW);
  g_assert_cmphex (filter_verdict (filter, AUDIT_ARCH_AARCH64, 172)
                   & SECCOMP_RET_ACTION_FULL, <=, SECCOMP_RET_KILL_THREAD);
  no_filter = seccomp_filter_of (init_of (f, unconfined));
  g_assert_null (no_filter);

  delete_and_check (f, confined);
  delete_and_check (f, unconfined);
}

static guint64
bounding_set_of (const char *status)
{
  const char *line = strstr (status, "\nCapBnd:");

  g_assert_nonnull (line);
  return g_ascii_strtoull (line + strlen ("\nCapBnd:"), NULL, 16);
}

static gboolean
read_sysctl_is (const char *path,
                const char *value)
{
  g_autofree char *text = NULL;

  return g_file_get_contents (path, &text, NULL, NULL) &&
         g_str_equal (g_strstrip (text), value);
}

/* A privileged instance (no user namespace) has neither
 * CAP_DAC_READ_SEARCH, CAP_SYSLOG nor CAP_SYS_ADMIN: it cannot read the
 * host's kernel log or kernel addresses, nor open files by handle, and
 * the keyring calls fail; host root, the control, can do all of it. */
static void
test_privileged_confined (Fixture *f)
{
  /* dac_read_search, sys_admin, syslog (<linux/capability.h>) */
  static const guint dropped[] = { 2, 21, 34 };
  g_autofree char *id = boot_flavor (f, "nlxtest-priv-confined", "m1.privileged");
  g_autofree char *status_path = g_strdup_printf ("/proc/%d/status",
                                                  (int) init_of (f, id));
  g_autofree char *status = NULL;
  g_autofree char *own_status = NULL;
  g_autofree char *inside = NULL;
  g_autofree char *kallsyms = NULL;
  g_autoptr(GHashTable) calls = NULL;
  guint64 bounding, own_bounding;

  g_assert_cmpuint (host_uid (init_of (f, id)), ==, 0);
  g_assert_true (g_file_get_contents (status_path, &status, NULL, NULL));
  g_assert_true (g_file_get_contents ("/proc/self/status", &own_status, NULL, NULL));
  g_assert_cmpint (in_container (f, id, "grep CapBnd /proc/self/status", &inside),
                   ==, 0);
  bounding = bounding_set_of (status);
  own_bounding = bounding_set_of (own_status);
  for (gsize i = 0; i < G_N_ELEMENTS (dropped); i++)
    {
      guint64 bit = G_GUINT64_CONSTANT (1) << dropped[i];

      g_assert_cmpuint (bounding & bit, ==, 0);
      g_assert_cmpuint (g_ascii_strtoull (strchr (inside, ':') + 1, NULL, 16) & bit,
                        ==, 0);
      g_assert_cmpuint (own_bounding & bit, !=, 0);
    }

  /* The kernel log: the host's root reads it, the instance's does not
   * (with dmesg_restrict = 0 the kernel lets everyone read it). */
  if (read_sysctl_is ("/proc/sys/kernel/dmesg_restrict", "1"))
    {
      g_assert_cmpint (klogctl (10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0), >, 0);
      assert_in_container (f, id, "dmesg >/dev/null", 1, NULL);
    }
  else
    g_test_message ("kernel.dmesg_restrict is 0: everyone reads the kernel log");

  /* Kernel addresses: zeros without CAP_SYSLOG. */
  g_assert_true (g_file_get_contents ("/proc/kallsyms", &kallsyms, NULL, NULL));
  if (!g_str_has_prefix (kallsyms, "0000000000000000"))
    assert_in_container (f, id, "head -c 16 /proc/kallsyms", 0, "0000000000000000");
  else
    g_test_message ("kernel.kptr_restrict hides kernel addresses from root too");

  calls = syscalls_in (f, id);
  g_assert_cmpstr (g_hash_table_lookup (calls, "keyctl"), ==, "ENOSYS");
  g_assert_cmpstr (g_hash_table_lookup (calls, "open_by_handle_at"), ==, "ENOSYS");
  delete_and_check (f, id);
}

/* Privileged instances, even without the seccomp filter, do not share a
 * session keyring with each other or with host root (libvirtd's children
 * did: a key host root kept in its session was theirs to read).  Root's
 * user keyring (@u) stays shared: the kernel keys it by uid and user
 * namespace, and they have no user namespace of their own. */
static void
test_privileged_keyring (Fixture *f)
{
  g_autofree char *a = boot_flavor (f, "nlxtest-keyring-a",
                                    "m1.privileged-unconfined");
  g_autofree char *b = boot_flavor (f, "nlxtest-keyring-b",
                                    "m1.privileged-unconfined");
  g_autofree char *description = g_strdup_printf ("nlxtest-%s", a);
  g_autofree char *script = g_strdup_printf ("nlxtest-probe find-key %s",
                                             description);
  g_autofree char *own_session = NULL;
  g_autofree char *found = NULL;
  g_autofree char *in_a = NULL;
  g_autofree char *in_b = NULL;
  g_auto(GStrv) words_a = NULL;
  g_auto(GStrv) words_b = NULL;
  long user_session, session, key;

  /* Host root's user session keyring: the session of every root process
   * that has none of its own, libvirtd's here. */
  key = syscall (SYS_add_key, "user", description, "secret", (size_t) 6,
                 KEY_SPEC_USER_SESSION_KEYRING);
  g_assert_cmpint (key, >, 0);
  /* Gone in ten minutes even if this test dies before it removes it. */
  syscall (SYS_keyctl, KEYCTL_SET_TIMEOUT, key, 600);
  user_session = syscall (SYS_keyctl, KEYCTL_GET_KEYRING_ID,
                          KEY_SPEC_USER_SESSION_KEYRING, 0);
  session = syscall (SYS_keyctl, KEYCTL_GET_KEYRING_ID,
                     KEY_SPEC_SESSION_KEYRING, 0);

  g_assert_cmpint (in_container (f, a, "nlxtest-probe keyring", &in_a), ==, 0);
  g_assert_cmpint (in_container (f, b, "nlxtest-probe keyring", &in_b), ==, 0);
  words_a = g_strsplit_set (in_a, " \n", -1);
  words_b = g_strsplit_set (in_b, " \n", -1);
  g_assert_cmpstr (words_a[0], ==, "session");
  g_assert_cmpstr (words_b[0], ==, "session");
  /* A new anonymous session keyring each, shared with nobody. */
  g_assert_cmpstr (words_a[2], ==, "_ses");
  g_assert_cmpstr (words_a[1], !=, words_b[1]);
  g_assert_cmpint (g_ascii_strtoll (words_a[1], NULL, 10), !=, user_session);
  g_assert_cmpint (g_ascii_strtoll (words_a[1], NULL, 10), !=, session);
  assert_in_container (f, a, script, 0, "ENOKEY");

  /* The control: a host process of root's session finds the key. */
  if (session == user_session)
    {
      found = probe_on_host ((const char * const []) { "find-key", description,
                                                       NULL });
      g_assert_cmpint (g_ascii_strtoll (found, NULL, 10), ==, key);
    }
  else
    g_test_message ("this test runs in a session keyring of its own");

  syscall (SYS_keyctl, KEYCTL_INVALIDATE, key);
  delete_and_check (f, a);
  delete_and_check (f, b);
}

/* A host user (65534) who reads an instance's paths in its own
 * /proc/self/mountinfo cannot read the files inside; root can, and the
 * instance runs as before. */
static void
check_closed_to_host_users (Fixture *f,
                            const char *id,
                            guint owner)
{
  g_autofree char *dir = g_build_filename (f->dir, "instances", id, NULL);
  g_autofree char *rootfs = g_build_filename (dir, "rootfs", NULL);
  g_autofree char *mountinfo = NULL;
  GStatBuf st;
  const char * const files[] = { "rootfs/nlxtest-secret",
                                 "upper/nlxtest-secret" };

  g_autofree char *readable = NULL;

  /* The probe's "as" works: 65534 reads what is open to it. */
  readable = probe_on_host ((const char * const []) {
                              "as", "65534", "/bin/cat", "/etc/passwd", NULL });
  g_assert_nonnull (readable);
  g_assert_true (g_file_get_contents ("/proc/self/mountinfo", &mountinfo, NULL,
                                      NULL));
  g_assert_nonnull (strstr (mountinfo, rootfs));
  assert_in_container (f, id, "echo nlxtest-secret >/nlxtest-secret && "
                       "chmod 0644 /nlxtest-secret", 0, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *path = g_build_filename (dir, files[i], NULL);
      g_autofree char *as_root = NULL;
      g_autofree char *as_nobody = NULL;

      g_assert_true (g_file_get_contents (path, &as_root, NULL, NULL));
      g_assert_cmpstr (as_root, ==, "nlxtest-secret\n");
      as_nobody = probe_on_host ((const char * const []) {
                                   "as", "65534", "/bin/cat", path, NULL });
      g_assert_null (as_nobody);
    }
  /* As LXD does: only the instance's root may pass, root reads all. */
  g_assert_cmpint (g_stat (dir, &st), ==, 0);
  g_assert_cmpuint (st.st_mode & 07777, ==, 0100);
  g_assert_cmpuint (st.st_uid, ==, owner);
  assert_in_container (f, id, "cat /nlxtest-secret", 0, "nlxtest-secret");
}

static void
test_instance_dirs (Fixture *f)
{
  g_autofree char *unprivileged = boot (f, "nlxtest-closed");
  g_autofree char *privileged = boot_flavor (f, "nlxtest-closed-privileged",
                                             "m1.privileged");

  check_closed_to_host_users (f, unprivileged, 100000);
  check_closed_to_host_users (f, privileged, 0);
  delete_and_check (f, unprivileged);
  delete_and_check (f, privileged);
}

/* ---- end of system calls, capabilities, keyrings, instance directories -- */

int
main (int argc,
      char **argv)
{
  static const Case cases[] = {
    { "/nlx/compute/secure/unprivileged-root", test_unprivileged_root },
    { "/nlx/compute/secure/privileged-flavor", test_privileged_flavor },
    { "/nlx/compute/secure/root-gb", test_root_gb },
    { "/nlx/compute/secure/pids-limit", test_pids_limit },
    { "/nlx/compute/secure/pids-limit-kept", test_pids_limit_kept },
    { "/nlx/compute/secure/pids-limit-fork-loop", test_pids_limit_fork_loop },
    { "/nlx/compute/secure/vcpus-enforced", test_vcpus_enforced },
    { "/nlx/compute/secure/cpu-shared-set", test_cpu_shared_set },
    { "/nlx/compute/secure/cgroup-namespace", test_cgroup_namespace },
    { "/nlx/compute/secure/port-security", test_port_security },
    { "/nlx/compute/secure/host-access", test_host_access },
    { "/nlx/compute/secure/seccomp", test_seccomp },
    { "/nlx/compute/secure/privileged-confined", test_privileged_confined },
    { "/nlx/compute/secure/privileged-keyring", test_privileged_keyring },
    { "/nlx/compute/secure/instance-dirs", test_instance_dirs },
  };

  return run_cases (&argc, &argv,
                    "What a hostile root inside a real container cannot do "
                    "to the host or to other tenants.",
                    cases, G_N_ELEMENTS (cases));
}
