/* test-security.c: what a hostile root inside a container cannot do to
 * the host or to other tenants, each tried from inside a real container,
 * with a control that shows the attempt works where nothing blocks it.
 * The fixture is in nlx-compute-fixture.c. */
#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
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

int
main (int argc,
      char **argv)
{
  static const Case cases[] = {
    { "/nlx/compute/secure/unprivileged-root", test_unprivileged_root },
    { "/nlx/compute/secure/privileged-flavor", test_privileged_flavor },
  };

  return run_cases (&argc, &argv, cases, G_N_ELEMENTS (cases));
}
