/* test-proc: what an instance reads of the host, from inside real
 * containers: lxcfs's /proc (memory, CPUs, uptime as its flavor and its
 * own boot give them), a boot_id of each boot's own, and a snapshot that
 * leaves the machine's identity behind.  The fixture is in
 * nlx-compute-fixture.c. */
#include "config.h"

#include <unistd.h>
#include <glib/gstdio.h>
#include <libvirt/libvirt.h>

#include "nlx-test-client.h"
#include "nlx-compute-fixture.h"

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
  gint64 deadline;
  long host_cpus = sysconf (_SC_NPROCESSORS_ONLN);
  g_autoptr(GError) error = NULL;

  if (!lxcfs_answers ())
    {
      g_test_skip ("lxcfs does not answer at " LXCFS ": tools/lxcfs-service "
                   "start (tools/setup-host does it)");
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
  deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  while (domain_running (f, id) != 1 || domain_id (f, id) == controller)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (100 * 1000);
    }
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
  assert_cpu_quota (f, id, TINY_VCPUS);
  /* libvirt's own /proc/meminfo has the limit but cannot seek */
  g_assert_cmpint (in_container_rc (f, id, "nlxtest-probe reread /proc/meminfo"), ==, 3);
  g_assert_cmpuint (in_container_number (f, id, "grep -c ^processor /proc/cpuinfo"),
                    ==, host_cpus);
  g_assert_cmpuint (in_container_number (f, id, "grep -c '^cpu[0-9]' /proc/stat"),
                    ==, host_cpus);
  g_assert_cmpuint (host_mem_total_kib (), !=, TINY_MB * 1024);
  delete_and_check (f, id);
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

int
main (int argc,
      char **argv)
{
  static const Case cases[] = {
    { "/nlx/compute/proc/lxcfs", test_lxcfs },
    { "/nlx/compute/proc/boot-id", test_boot_id },
    { "/nlx/compute/images/snapshot-identity", test_snapshot_identity },
  };

  return run_cases (&argc, &argv, cases, G_N_ELEMENTS (cases));
}
