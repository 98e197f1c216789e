/* test-proc: what an instance reads of the host, from inside real
 * containers: lxcfs's /proc (memory, CPUs, uptime as its flavor and its
 * own boot give them), a boot_id of each boot's own, and a snapshot that
 * leaves the machine's identity behind.  The fixture is in
 * lib/nlx-compute-fixture.c. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <libvirt/libvirt.h>

#include "lib/nlx-compute-fixture.h"
#include "lib/nlx-test-client.h"
#include "lib/nlx-test-tools.h"

#define LXCFS "/var/lib/lxcfs"
/* The functional tests' m1.tiny */
#define TINY_MB 128
#define TINY_VCPUS 1

static gboolean
lxcfs_answers (void)
{
  return g_file_test (LXCFS "/proc/meminfo", G_FILE_TEST_IS_REGULAR);
}

static char *
in_container_output (Fixture *f,
                     const char *uuid,
                     const char *script)
{
  g_autofree char *output = NULL;

  g_assert_cmpint (in_container (f, uuid, script, &output), ==, 0);
  return g_strdup (g_strstrip (output));
}

/* The exit status of @script in the container, its output only logged. */
static int
in_container_rc (Fixture *f,
                 const char *uuid,
                 const char *script)
{
  g_autofree char *output = NULL;

  return in_container (f, uuid, script, &output);
}

static guint64
in_container_number (Fixture *f,
                     const char *uuid,
                     const char *script)
{
  g_autofree char *output = in_container_output (f, uuid, script);
  guint64 value = 0;
  g_autoptr(GError) error = NULL;

  g_ascii_string_to_unsigned (output, 10, 0, G_MAXUINT64, &value, &error);
  g_assert_no_error (error);
  return value;
}

static char *
host_boot_id (void)
{
  g_autofree char *text = NULL;

  g_assert_true (g_file_get_contents ("/proc/sys/kernel/random/boot_id",
                                      &text, NULL, NULL));
  return g_strdup (g_strstrip (text));
}

static guint64
host_mem_total_kib (void)
{
  g_autofree char *text = NULL;
  const char *line;

  g_assert_true (g_file_get_contents ("/proc/meminfo", &text, NULL, NULL));
  line = strstr (text, "MemTotal:");
  g_assert_nonnull (line);
  return g_ascii_strtoull (line + strlen ("MemTotal:"), NULL, 10);
}

/* vcpus are a CFS quota of vcpus periods (see "Limits: pids, CPU,
 * disk"), which lxcfs --enable-cfs turns into the CPUs it shows. */
static void
assert_cpu_quota (Fixture *f,
                  const char *uuid,
                  guint vcpus)
{
  g_autoptr(virDomain) dom = virDomainLookupByUUIDString (f->conn, uuid);
  virTypedParameterPtr params = NULL;
  int n = 0;
  char *type = NULL;
  long long quota = -1;
  unsigned long long period = 0;

  g_assert_nonnull (dom);
  type = virDomainGetSchedulerType (dom, &n);
  free (type);
  params = g_new0 (virTypedParameter, n);
  g_assert_cmpint (virDomainGetSchedulerParametersFlags (dom, params, &n,
                                                         VIR_DOMAIN_AFFECT_LIVE),
                   ==, 0);
  g_assert_cmpint (virTypedParamsGetLLong (params, n,
                                           VIR_DOMAIN_SCHEDULER_VCPU_QUOTA,
                                           &quota), ==, 1);
  g_assert_cmpint (virTypedParamsGetULLong (params, n,
                                            VIR_DOMAIN_SCHEDULER_VCPU_PERIOD,
                                            &period), ==, 1);
  g_free (params);
  g_assert_cmpint (quota, ==, (long long) (vcpus * period));
}

/* What the instance reads of memory, CPUs and uptime. */
static void
assert_flavor_view (Fixture *f,
                    const char *id)
{
  g_autofree char *seek = NULL;

  assert_cpu_quota (f, id, TINY_VCPUS);
  /* What procps's free shows as total (busybox's free asks sysinfo(2),
   * which no file changes: see docs/architecture.md) */
  g_assert_cmpuint (in_container_number (f, id, "awk '/^MemTotal:/ {print $2}' "
                                                "/proc/meminfo"),
                    ==, TINY_MB * 1024);
  /* procps 4 reads it again after a seek to 0, which libvirt's own FUSE
   * /proc/meminfo refuses */
  seek = in_container_output (f, id, "nlxtest-probe reread /proc/meminfo | "
                                     "awk '/^MemTotal:/ {print $2}'");
  g_assert_cmpuint (g_ascii_strtoull (seek, NULL, 10), ==, TINY_MB * 1024);
  g_assert_cmpuint (in_container_number (f, id, "grep -c ^processor /proc/cpuinfo"),
                    ==, TINY_VCPUS);
  g_assert_cmpuint (in_container_number (f, id, "grep -c '^cpu[0-9]' /proc/stat"),
                    ==, TINY_VCPUS);
  g_assert_cmpstr (in_container_output (f, id, "cat /sys/devices/system/cpu/online"),
                   ==, "0");
  /* glibc's count (getconf, Python's os.cpu_count()), from the above */
  g_assert_cmpuint (in_container_number (f, id, "nlxtest-probe nprocs"), ==,
                    TINY_VCPUS);
}

/* What the instance reads without lxcfs: libvirt's own /proc/meminfo,
 * and the host's CPUs. */
static void
assert_host_view (Fixture *f,
                  const char *id)
{
  long host_cpus = sysconf (_SC_NPROCESSORS_ONLN);

  assert_cpu_quota (f, id, TINY_VCPUS);
  /* libvirt's own /proc/meminfo has the limit but cannot seek */
  g_assert_cmpint (in_container_rc (f, id, "nlxtest-probe reread /proc/meminfo"), ==, 3);
  g_assert_cmpuint (in_container_number (f, id, "grep -c ^processor /proc/cpuinfo"),
                    ==, host_cpus);
  g_assert_cmpuint (in_container_number (f, id, "grep -c '^cpu[0-9]' /proc/stat"),
                    ==, host_cpus);
  g_assert_cmpuint (host_mem_total_kib (), !=, TINY_MB * 1024);
}

static guint64
uptime_of (Fixture *f,
           const char *id)
{
  return in_container_number (f, id, "cut -d. -f1 /proc/uptime");
}

/* Memory, CPUs and uptime are the flavor's and the boot's, after a
 * start, a hard reboot and a reboot from inside; with [lxc] lxcfs off
 * the host's show again. */
static void
test_lxcfs (Fixture *f)
{
  g_autofree char *id = NULL;
  g_autofree char *text = NULL;
  g_autofree char *config = NULL;
  guint64 before;
  guint64 after;
  guint controller;
  long host_cpus = sysconf (_SC_NPROCESSORS_ONLN);
  g_autoptr(GError) error = NULL;

  if (!lxcfs_answers ())
    {
      nlx_test_host_unusable ("lxcfs does not answer at " LXCFS
                              ": tools/lxcfs-service start (tools/setup-host "
                              "does it)");
      return;
    }
  if (host_cpus <= TINY_VCPUS)
    g_test_message ("this host has %ld CPU(s): the CPU checks cannot tell "
                    "the host from the flavor", host_cpus);
  id = boot (f, "nlxtest-proc");
  assert_flavor_view (f, id);

  /* Uptime counts from the instance's boot: it grows, a hard reboot
   * takes it back to (almost) zero, and the host's is never behind. */
  g_usleep (3 * G_USEC_PER_SEC);
  before = uptime_of (f, id);
  g_assert_cmpuint (before, >=, 2);
  nlx_test_act_and_wait (f->session, id, "{\"reboot\": {\"type\": \"HARD\"}}",
                         "rebooting_hard", "ACTIVE");
  after = uptime_of (f, id);
  g_assert_cmpuint (after, <, before);
  assert_flavor_view (f, id);

  /* A reboot from inside: libvirt makes a new container by itself. */
  g_usleep (6 * G_USEC_PER_SEC);
  before = uptime_of (f, id);
  g_assert_cmpuint (before, >=, 5);
  controller = domain_id (f, id);
  g_assert_cmpint (in_container_rc (f, id, "(sleep 0.5; reboot) >/dev/null 2>&1 &"), ==, 0);
  wait_restarted (f, id, controller, 30);
  /* The daemon mounts after the new init has started. */
  g_usleep (G_USEC_PER_SEC);
  g_assert_cmpuint (uptime_of (f, id), <, before);
  assert_flavor_view (f, id);

  /* The control: with [lxc] lxcfs off, the next boot reads the host's
   * numbers. */
  daemon_stop (f, SIGTERM);
  g_file_get_contents (f->config, &config, NULL, &error);
  g_assert_no_error (error);
  text = g_strconcat (config, "[lxc]\nlxcfs = false\n", NULL);
  g_file_set_contents (f->config, text, -1, &error);
  g_assert_no_error (error);
  daemon_start (f);
  nlx_test_act_and_wait (f->session, id, "{\"reboot\": {\"type\": \"HARD\"}}",
                         "rebooting_hard", "ACTIVE");
  assert_host_view (f, id);
  delete_and_check (f, id);
}

/* An lxcfs of the case's own, at @mountpoint: killed with the case
 * (PR_SET_PDEATHSIG), and, on SIGTERM, it unmounts itself. */
static void
lxcfs_child_setup (G_GNUC_UNUSED gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

static GSubprocess *
own_lxcfs_start (Fixture *f,
                 const char *mountpoint)
{
  g_autofree char *pidfile = g_build_filename (f->dir, "lxcfs.pid", NULL);
  g_autofree char *meminfo = g_build_filename (mountpoint, "proc", "meminfo",
                                               NULL);
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                               G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_autoptr(GError) error = NULL;
  GSubprocess *lxcfs;
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  g_subprocess_launcher_set_child_setup (launcher, lxcfs_child_setup, NULL,
                                         NULL);
  lxcfs = g_subprocess_launcher_spawn (launcher, &error, "lxcfs",
                                       "--foreground", "--enable-cfs", "-p",
                                       pidfile, mountpoint, NULL);
  g_assert_no_error (error);
  while (!g_file_test (meminfo, G_FILE_TEST_IS_REGULAR))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (20 * 1000);
    }
  return lxcfs;
}

/* An lxcfs that crashes and is started again, at the same place, while
 * the daemon runs: a boot meanwhile reads what it would without lxcfs
 * (no file that fails to read), and the first boot after sees the flavor's
 * again, from the new lxcfs (the daemon keeps lxcfs's files open
 * between boots, and must let go of a dead one's). */
static void
test_lxcfs_restarted (Fixture *f)
{
  g_autofree char *mountpoint = g_build_filename (f->dir, "lxcfs", NULL);
  g_autofree char *lxcfs_path = g_find_program_in_path ("lxcfs");
  g_autofree char *config = NULL;
  g_autofree char *text = NULL;
  g_autofree char *id = NULL;
  g_autoptr(GSubprocess) lxcfs = NULL;
  g_autoptr(GError) error = NULL;

  if (lxcfs_path == NULL)
    {
      nlx_test_host_unusable ("no lxcfs: apt-get install lxcfs (tools/"
                              "setup-host does it)");
      return;
    }
  g_assert_cmpint (g_mkdir (mountpoint, 0755), ==, 0);
  lxcfs = own_lxcfs_start (f, mountpoint);
  daemon_stop (f, SIGTERM);
  g_file_get_contents (f->config, &config, NULL, &error);
  g_assert_no_error (error);
  text = g_strdup_printf ("%s[lxc]\nlxcfs_path = %s\n", config, mountpoint);
  g_file_set_contents (f->config, text, -1, &error);
  g_assert_no_error (error);
  daemon_start (f);
  id = boot (f, "nlxtest-lxcfs-restarted");
  assert_flavor_view (f, id);

  /* It crashes: its mount stays, and answers ENOTCONN. */
  g_subprocess_send_signal (lxcfs, SIGKILL);
  g_subprocess_wait (lxcfs, NULL, NULL);
  g_clear_object (&lxcfs);
  nlx_test_act_and_wait (f->session, id, "{\"reboot\": {\"type\": \"HARD\"}}",
                         "rebooting_hard", "ACTIVE");
  assert_host_view (f, id);

  /* Started again where it was. */
  g_assert_cmpint (umount2 (mountpoint, MNT_DETACH), ==, 0);
  lxcfs = own_lxcfs_start (f, mountpoint);
  nlx_test_act_and_wait (f->session, id, "{\"reboot\": {\"type\": \"HARD\"}}",
                         "rebooting_hard", "ACTIVE");
  assert_flavor_view (f, id);
  delete_and_check (f, id);
  g_subprocess_send_signal (lxcfs, SIGTERM);
  g_subprocess_wait (lxcfs, NULL, NULL);
  if (umount2 (mountpoint, MNT_DETACH) != 0)
    g_assert_cmpint (errno, ==, EINVAL);
}

/* Each boot has a boot_id of its own, never the host's. */
static void
test_boot_id (Fixture *f)
{
  g_autofree char *host = host_boot_id ();
  g_autofree char *id = boot (f, "nlxtest-bootid");
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;
  g_autofree char *third = NULL;
  g_autofree char *write = NULL;

  first = in_container_output (f, id, "cat /proc/sys/kernel/random/boot_id");
  g_assert_true (g_uuid_string_is_valid (first));
  g_assert_cmpstr (first, !=, host);
  /* Read-only, even to the instance's root. */
  g_assert_cmpint (in_container_rc (f, id, "echo x > /proc/sys/kernel/random/boot_id"), !=, 0);
  g_assert_cmpint (in_container_rc (f, id, "umount /proc/sys/kernel/random/boot_id"), !=, 0);
  nlx_test_act_and_wait (f->session, id, "{\"reboot\": {\"type\": \"HARD\"}}",
                         "rebooting_hard", "ACTIVE");
  second = in_container_output (f, id, "cat /proc/sys/kernel/random/boot_id");
  g_assert_true (g_uuid_string_is_valid (second));
  g_assert_cmpstr (second, !=, host);
  g_assert_cmpstr (second, !=, first);
  nlx_test_act_and_wait (f->session, id, "{\"os-stop\": null}", "powering-off",
                         "SHUTOFF");
  nlx_test_act_and_wait (f->session, id, "{\"os-start\": null}", "powering-on",
                         "ACTIVE");
  third = in_container_output (f, id, "cat /proc/sys/kernel/random/boot_id");
  g_assert_cmpstr (third, !=, second);
  g_assert_cmpstr (third, !=, host);
  delete_and_check (f, id);
}

/* A snapshot is an image for new machines: machine-id emptied (the file
 * kept, so that systemd makes a new one at first boot) and SSH host keys
 * gone, as virt-sysprep leaves them.  The source keeps its own. */
static void
test_snapshot_identity (Fixture *f)
{
  g_autofree char *a = boot (f, "nlxtest-ident-a");
  g_autofree char *b = NULL;
  g_autofree char *image = NULL;
  g_autofree char *image_path = NULL;

  assert_in_container (f, a, "mkdir -p /etc/ssh /var/lib/dbus && "
                             "echo 0123456789abcdef0123456789abcdef > /etc/machine-id && "
                             "cp /etc/machine-id /var/lib/dbus/machine-id && "
                             "echo secret > /etc/ssh/ssh_host_rsa_key && "
                             "echo public > /etc/ssh/ssh_host_rsa_key.pub && "
                             "echo keep > /etc/ssh/sshd_config", 0, NULL);
  image = nlx_test_create_image (f->session, a, "{\"createImage\": "
                                 "{\"name\": \"nlxtest-ident\"}}");
  image_path = g_strconcat ("/v2.1/images/", image, NULL);
  /* The source is untouched. */
  assert_in_container (f, a, "cat /etc/machine-id /etc/ssh/ssh_host_rsa_key", 0,
                       "0123456789abcdef0123456789abcdef\nsecret");

  b = boot_image (f, "nlxtest-ident-b", "nlxtest-ident");
  assert_in_container (f, b, "test -f /etc/machine-id && ! test -s /etc/machine-id",
                       0, NULL);
  assert_in_container (f, b, "stat -c %a /etc/machine-id", 0, "644");
  assert_in_container (f, b, "test -s /var/lib/dbus/machine-id", 1, NULL);
  assert_in_container (f, b, "ls /etc/ssh", 0, "sshd_config");
  delete_and_check (f, a);
  delete_and_check (f, b);
  g_assert_cmpint (nlx_test_call (f->session, "DELETE", image_path, NULL, NULL),
                   ==, 204);
}

/* ---- what tools inside show: nproc, free, df, uptime, loadavg ----------- */

static char *
boot_with (Fixture *f,
           const char *name,
           const char *image,
           const char *flavor)
{
  g_autofree char *body = g_strdup_printf (
    "{\"server\": {\"name\": \"%s\", \"flavorRef\": \"%s\", "
    "\"imageRef\": \"%s\"}}", name, flavor, image);
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

/* The CPUs the domain is pinned to (<vcpu cpuset=...>), or "" for none. */
static char *
pinned_cpus (Fixture *f,
             const char *uuid)
{
  g_autoptr(virDomain) dom = virDomainLookupByUUIDString (f->conn, uuid);
  g_autofree char *xml = NULL;
  g_autoptr(GRegex) regex = g_regex_new ("<vcpu[^>]* cpuset='([^']*)'", 0, 0,
                                         NULL);
  g_autoptr(GMatchInfo) match = NULL;

  g_assert_nonnull (dom);
  xml = virDomainGetXMLDesc (dom, 0);
  g_assert_nonnull (xml);
  if (!g_regex_match (regex, xml, 0, &match))
    return g_strdup ("");
  return g_match_info_fetch (match, 1);
}

/* The 4th field of /proc/loadavg, "running/total": the total tasks. */
static guint64
loadavg_tasks (const char *loadavg)
{
  const char *slash = strchr (loadavg, '/');

  g_assert_nonnull (slash);
  return g_ascii_strtoull (slash + 1, NULL, 10);
}

static guint64
host_loadavg_tasks (void)
{
  g_autofree char *text = NULL;

  g_assert_true (g_file_get_contents ("/proc/loadavg", &text, NULL, NULL));
  return loadavg_tasks (text);
}

/* busybox's tools in 1-vcpu servers: nproc is the flavor's vcpus, as each
 * is pinned to one CPU of its own (the least used: two of them take
 * different CPUs, across a daemon restart), while a flavor with as many vcpus as the host has CPUs
 * stays unpinned; df / is the root disk of root_gb; /proc/loadavg counts
 * the server's own tasks.  Each against the host's. */
static void
test_busybox_tools (Fixture *f)
{
  long host_cpus = sysconf (_SC_NPROCESSORS_ONLN);
  g_autofree char *a = NULL;
  g_autofree char *b = NULL;
  g_autofree char *duo = NULL;
  g_autofree char *quota = NULL;
  g_autofree char *pin_a = NULL;
  g_autofree char *pin_b = NULL;
  g_autofree char *pin_duo = NULL;
  g_autofree char *loadavg = NULL;
  g_autofree char *free_out = NULL;
  g_autofree char *uptime_out = NULL;
  guint64 size_kib;

  if (!lxcfs_answers ())
    {
      nlx_test_host_unusable ("lxcfs does not answer at " LXCFS
                              ": tools/lxcfs-service start (tools/setup-host "
                              "does it)");
      return;
    }
  if (host_cpus < 2)
    {
      nlx_test_skip ("this host has 1 CPU: nproc cannot tell it from a "
                     "flavor's");
      return;
    }
  a = boot (f, "nlxtest-nproc-a");
  /* A new daemon finds a's pin in its domain, and spreads b away from it. */
  daemon_stop (f, SIGTERM);
  daemon_start (f);
  b = boot (f, "nlxtest-nproc-b");
  /* The control: the host, and so an unpinned server, has more. */
  g_assert_cmpint (host_cpus, >, TINY_VCPUS);
  g_assert_cmpuint (in_container_number (f, a, "nproc"), ==, TINY_VCPUS);
  g_assert_cmpuint (in_container_number (f, b, "nproc"), ==, TINY_VCPUS);
  pin_a = pinned_cpus (f, a);
  pin_b = pinned_cpus (f, b);
  g_test_message ("1-vcpu servers pinned to CPU %s and CPU %s", pin_a, pin_b);
  g_assert_cmpstr (pin_a, !=, "");
  g_assert_cmpstr (pin_a, !=, pin_b);
  /* lxcfs's view agrees with the pin, whichever CPU it is. */
  g_assert_cmpuint (in_container_number (f, b, "grep -c ^processor /proc/cpuinfo"),
                    ==, TINY_VCPUS);
  g_assert_cmpuint (in_container_number (f, b, "grep -c '^cpu[0-9]' /proc/stat"),
                    ==, TINY_VCPUS);
  g_assert_cmpuint (in_container_number (f, b, "nlxtest-probe nprocs"), ==,
                    TINY_VCPUS);
  /* Pinned across a hard reboot (the domain keeps its definition). */
  nlx_test_act_and_wait (f->session, a, "{\"reboot\": {\"type\": \"HARD\"}}",
                         "rebooting_hard", "ACTIVE");
  g_assert_cmpuint (in_container_number (f, a, "nproc"), ==, TINY_VCPUS);

  /* As many vcpus as the host has CPUs (2 here): unpinned, all of them. */
  if (host_cpus == 2)
    {
      duo = boot_with (f, "nlxtest-nproc-duo", IMAGE, "m1.duo");
      pin_duo = pinned_cpus (f, duo);
      g_assert_cmpstr (pin_duo, ==, "");
      g_assert_cmpuint (in_container_number (f, duo, "nproc"), ==, 2);
      delete_and_check (f, duo);
    }

  /* /proc/loadavg: the server's own few tasks, not the host's. */
  loadavg = in_container_output (f, a, "cat /proc/loadavg");
  g_assert_cmpuint (loadavg_tasks (loadavg), <, 50);
  g_assert_cmpuint (loadavg_tasks (loadavg), <, host_loadavg_tasks ());

  /* busybox's free and uptime ask sysinfo(2), which lxcfs does not
   * change: they show the host's (docs/architecture.md). */
  free_out = in_container_output (f, a, "free -k | awk '/^Mem:/ {print $2}'");
  uptime_out = in_container_output (f, a, "uptime");
  g_test_message ("busybox free's total: %s KiB (the host's); uptime: %s",
                  free_out, uptime_out);

  /* df /: the root disk of root_gb 1 (ext4 keeps a little), against the
   * host's filesystem without one. */
  quota = boot_with (f, "nlxtest-df", IMAGE, "m1.quota");
  size_kib = in_container_number (f, quota, "df -k / | awk 'NR == 2 {print $2}'");
  g_test_message ("df / of root_gb 1: %" G_GUINT64_FORMAT " KiB", size_kib);
  g_assert_cmpuint (size_kib, >, 900 * 1024);
  g_assert_cmpuint (size_kib, <=, 1024 * 1024);
  size_kib = in_container_number (f, a, "df -k / | awk 'NR == 2 {print $2}'");
  g_assert_cmpuint (size_kib, >, 2 * 1024 * 1024);

  delete_and_check (f, a);
  delete_and_check (f, b);
  delete_and_check (f, quota);
}

/* What the host's shell prints for @command, stripped. */
static char *
host_shell (const char *command)
{
  const char * const argv[] = { "sh", "-c", command, NULL };
  char *out = host_output (argv);

  return g_strstrip (out);
}

/* Debian's coreutils and procps: nproc, free, uptime and df show the
 * flavor and the server's boot; the host's differ. */
static void
test_debian_tools (Fixture *f)
{
  long host_cpus = sysconf (_SC_NPROCESSORS_ONLN);
  g_autofree char *id = NULL;
  g_autofree char *nproc = NULL;
  g_autofree char *total = NULL;
  g_autofree char *host_total = NULL;
  g_autofree char *since = NULL;
  g_autofree char *host_since = NULL;
  g_autofree char *uptime = NULL;
  g_autofree char *size = NULL;
  g_autofree char *loadavg = NULL;

  if (!lxcfs_answers ())
    {
      nlx_test_host_unusable ("lxcfs does not answer at " LXCFS
                              ": tools/lxcfs-service start (tools/setup-host "
                              "does it)");
      return;
    }
  /* root_gb 1, so df / has the root disk's size. */
  id = boot_with (f, "nlxtest-debian-tools", DEBIAN_IMAGE, "m1.quota");

  nproc = in_init_cgroups (f, id, "nproc");
  if (host_cpus > TINY_VCPUS)
    g_assert_cmpstr (nproc, ==, "1");
  /* procps 4's free: the flavor's 128 MiB, not the host's. */
  total = in_init_cgroups (f, id, "free -m | awk '/^Mem:/ {print $2}'");
  g_assert_cmpstr (total, ==, "128");
  host_total = host_shell ("free -m | awk '/^Mem:/ {print $2}'");
  g_assert_cmpstr (host_total, !=, total);
  /* uptime from lxcfs's /proc/uptime: up since the server's boot, well
   * after the host's. */
  since = in_init_cgroups (f, id, "uptime -s");
  host_since = host_shell ("uptime -s");
  uptime = in_init_cgroups (f, id, "uptime");
  g_test_message ("uptime inside: %s (since %s; the host since %s)", uptime,
                  since, host_since);
  g_assert_cmpint (strlen (since), ==, strlen ("2026-12-02 21:00:00"));
  g_assert_cmpstr (since, >, host_since);
  /* df / of the root disk, GNU's this time. */
  size = in_init_cgroups (f, id, "df -k --output=size / | tail -n 1");
  g_assert_cmpuint (g_ascii_strtoull (size, NULL, 10), >, 900 * 1024);
  g_assert_cmpuint (g_ascii_strtoull (size, NULL, 10), <=, 1024 * 1024);
  loadavg = in_init_cgroups (f, id, "cat /proc/loadavg");
  g_assert_cmpuint (loadavg_tasks (loadavg), <, host_loadavg_tasks ());
  delete_and_check (f, id);
}

int
main (int argc,
      char **argv)
{
  static const Case cases[] = {
    { "/nlx/compute/proc/lxcfs", test_lxcfs },
    { "/nlx/compute/proc/lxcfs-restarted", test_lxcfs_restarted },
    { "/nlx/compute/proc/boot-id", test_boot_id },
    { "/nlx/compute/proc/busybox-tools", test_busybox_tools },
    { "/nlx/compute/proc/debian-tools", test_debian_tools,
      "NLX_TEST_DEBIAN_ROOT" },
    { "/nlx/compute/images/snapshot-identity", test_snapshot_identity },
  };

  return run_cases (&argc, &argv,
                    "What an instance reads of the host from inside a real "
                    "container: lxcfs's /proc, boot id, CPUs and tools.",
                    cases, G_N_ELEMENTS (cases));
}
