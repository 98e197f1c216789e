/* test-security.c: what a hostile root inside a container cannot do to
 * the host or to other tenants, each tried from inside a real container,
 * with a control that shows the attempt works where nothing blocks it.
 * The fixture is in nlx-compute-fixture.c. */
#include "config.h"

#include <fcntl.h>
#include <stdlib.h>
#include <signal.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <glib/gstdio.h>
#include <gio/gunixsocketaddress.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "nlx-file.h"
#include "nlx-lxc-volume.h"
#include "nlx-mount.h"
#include "nlx-test-client.h"
#include "nlx-test-tools.h"
#include "nlx-compute-fixture.h"

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
  JsonObject *specs;

  g_assert_cmpint (nlx_test_call (f->session, "GET", "/v2.1/flavors/m1.privileged",
                                  NULL, &flavor), ==, 200);
  specs = json_object_get_object_member (nlx_test_object_at (flavor, "flavor"),
                                         "extra_specs");
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
  reply = nlx_test_show (f->session, id);
  g_assert_true (json_object_get_boolean_member (nlx_test_object_at (reply, "server"),
                                                 "nova_lxc:privileged"));
  dom = virDomainLookupByUUIDString (f->conn, id);
  xml = virDomainGetXMLDesc (dom, 0);
  g_assert_null (strstr (xml, "<idmap>"));
  g_assert_nonnull (strstr (xml, "<nlx:privileged/>"));
  g_assert_cmpuint (host_uid (init_of (f, id)), ==, 0);
  /* Still without the capabilities every instance drops. */
  check_no_host_powers (f, id, FALSE);
  delete_and_check (f, id);
}

/* ---- root_gb: the writable layer's own filesystem ------------------------ */

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

int
main (int argc,
      char **argv)
{
  static const Case cases[] = {
    { "/nlx/compute/secure/unprivileged-root", test_unprivileged_root },
    { "/nlx/compute/secure/privileged-flavor", test_privileged_flavor },
    { "/nlx/compute/secure/root-gb", test_root_gb },
  };

  return run_cases (&argc, &argv, cases, G_N_ELEMENTS (cases));
}
