/* nlx-compute-fixture.c: what the tempest-style functional tests share
 *
 * Each case starts a private daemon with the lxc driver against the host's
 * libvirtd (its own socket, records, instance directories and busybox
 * image, all in a temporary directory) and drives it over HTTP only, as
 * tempest's api/compute tests drive Nova.  Cases run in a subprocess; the
 * parent then kills whatever daemon is left and removes every domain the
 * daemon's records name, so a failed case leaves nothing behind.  Servers
 * get random uuids from the daemon, hence domain names like an operator's,
 * but the driver refuses to take a name that exists, and teardown only
 * touches the uuids this case's daemon recorded.
 *
 * Tests share this fixture, so that cases about one subject sit in one
 * program and the programs run side by side under make -j. */
#include "config.h"

#include <sys/prctl.h>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
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

/* ---- the daemon -------------------------------------------------------- */

static char *
pid_file (Fixture *f)
{
  return g_build_filename (f->dir, "daemon.pid", NULL);
}

GPid
daemon_pid (Fixture *f)
{
  g_autofree char *path = pid_file (f);
  g_autofree char *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return 0;
  return (GPid) g_ascii_strtoll (text, NULL, 10);
}

static gboolean
socket_answers (Fixture *f)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (f->socket);
  g_autoptr(GSocketConnection) connection =
    g_socket_client_connect (client, G_SOCKET_CONNECTABLE (address), NULL, NULL);

  return connection != NULL;
}

void
daemon_start (Fixture *f)
{
  g_autofree char *program = g_build_filename (g_getenv ("NLX_TOP_BUILDDIR"),
                                               "src", "nova-lxc-compute", NULL);
  g_autofree char *log = g_build_filename (f->dir, "daemon.log", NULL);
  g_autofree char *path = pid_file (f);
  g_autofree char *pid_text = NULL;
  /* Not the case's stdout: the test harness waits for it to close. */
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
  g_autoptr(GSubprocess) daemon = NULL;
  g_autoptr(GError) error = NULL;
  gint64 deadline = g_get_monotonic_time () + START_TIMEOUT_US;

  g_subprocess_launcher_set_stderr_file_path (launcher, log);
  daemon = g_subprocess_launcher_spawn (launcher, &error, program, "--debug",
                                        "--config", f->config, NULL);
  g_assert_no_error (error);
  pid_text = g_strdup (g_subprocess_get_identifier (daemon));
  g_file_set_contents (path, pid_text, -1, &error);
  g_assert_no_error (error);

  while (!socket_answers (f))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("nova-lxc-compute did not answer; see %s", log);
      g_usleep (50 * 1000);
    }
}

/* Stops the daemon with @signal and reaps it. */
void
daemon_stop (Fixture *f,
             int signal)
{
  g_autofree char *path = pid_file (f);
  GPid pid = daemon_pid (f);

  if (pid <= 0)
    return;
  kill (pid, signal);
  waitpid (pid, NULL, 0);
  g_unlink (path);
}

/* ---- fixture ----------------------------------------------------------- */

void
write_config (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *root = g_build_filename (f->dir, "root", NULL);
  const char *debian = g_getenv ("NLX_TEST_DEBIAN_ROOT");
  g_autofree char *debian_image = debian == NULL ? g_strdup ("") :
    g_strdup_printf ("[image " DEBIAN_IMAGE "]\npath = %s\n"
                     "os_shutdown_signal = SIGRTMIN+4\n", debian);
  const char *cloud = g_getenv ("NLX_TEST_CLOUD_ROOT");
  /* CLOUD_SEEDED_IMAGE is made by the case that boots it (its seed
   * holds a key the case generates), in the fixture's directory. */
  g_autofree char *cloud_images = cloud == NULL ? g_strdup ("") :
    g_strdup_printf ("[image " CLOUD_IMAGE "]\npath = %s\n"
                     "os_shutdown_signal = SIGRTMIN+4\n"
                     "[image " CLOUD_SEEDED_IMAGE "]\npath = %s/"
                     CLOUD_SEEDED_IMAGE "\nos_shutdown_signal = SIGRTMIN+4\n",
                     cloud, f->dir);
  g_autofree char *text = g_strdup_printf (
    "[DEFAULT]\n"
    "compute_driver = lxc\n"
    "state_path = %s/state\n"
    "instances_path = %s/instances\n"
    /* Lifecycle events must do the work, not the periodic sync. */
    "sync_power_state_interval = 3600\n"
    "shutdown_timeout = 20\n"
    "[api]\nsocket = %s\n"
    "[libvirt]\nwait_soft_reboot_seconds = 20\n"
    "[flavor m1.tiny]\nvcpus = 1\nmemory_mb = 128\nroot_gb = 0\n"
    /* cloud-init is Python: more than m1.tiny's 128 MiB to be safe. */
    "[flavor m1.cloud]\nvcpus = 1\nmemory_mb = 512\nroot_gb = 0\n"
    "[flavor m1.privileged]\nvcpus = 1\nmemory_mb = 128\nroot_gb = 0\n"
    "privileged = true\n"
    /* A root disk of its own: writes beyond 1 GiB fail inside. */
    "[flavor m1.quota]\nvcpus = 1\nmemory_mb = 128\nroot_gb = 1\n"
    /* Limits (test-security): a low and a higher pids limit, two vcpus
     * with their own shares. */
    "[flavor m1.pids-low]\nvcpus = 1\nmemory_mb = 128\nroot_gb = 0\n"
    "pids = 64\n"
    "[flavor m1.pids-high]\nvcpus = 1\nmemory_mb = 128\nroot_gb = 0\n"
    "pids = 256\n"
    "[flavor m1.duo]\nvcpus = 2\nmemory_mb = 128\nroot_gb = 0\n"
    "cpu_shares = 3000\n"
    /* Without the default seccomp filter: the controls of its tests. */
    "[flavor m1.unconfined]\nvcpus = 1\nmemory_mb = 128\nroot_gb = 0\n"
    "seccomp = unconfined\n"
    "[flavor m1.privileged-unconfined]\nvcpus = 1\nmemory_mb = 128\n"
    "root_gb = 0\nprivileged = true\nseccomp = unconfined\n"
    "[image " IMAGE "]\npath = %s\nos_shutdown_signal = SIGUSR2\n"
    "[image " BROKEN_IMAGE "]\npath = %s\nos_init_path = /no/such/init\n"
    "[image " DEAF_IMAGE "]\npath = %s\nos_shutdown_signal = SIGHUP\n"
    "[image " DYING_IMAGE "]\npath = %s\nos_init_path = " DYING_INIT "\n"
    "os_shutdown_signal = SIGUSR2\n%s%s"
    "[volumes]\npath = %s/volumes\n%s"
    "[network]\nbridge = %s\ncidr = %s.0/24\n",
    f->dir, f->dir, f->socket, root, root, root, root, debian_image,
    cloud_images, f->dir,
    f->verify_fsck ? "verify = fsck\n" : "", f->bridge, f->subnet);

  g_file_set_contents (f->config, text, -1, &error);
  g_assert_no_error (error);
}

/* Lets the test run commands inside a container as its init's children
 * (its cgroup, its capabilities), which virsh lxc-enter-namespace does
 * not: the agent runs what appears as /dev/nlxtest.sh, /dev being a tmpfs
 * of each container's own. */
static void
add_agent (const char *root)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *agent = g_build_filename (root, "sbin", "nlxtest-agent", NULL);
  g_autofree char *inittab = g_build_filename (root, "etc", "inittab", NULL);
  g_autofree char *probe = g_build_filename (g_getenv ("NLX_TOP_BUILDDIR"),
                                             "tests", "functional",
                                             "nlxtest-probe", NULL);
  g_autofree char *probe_copy = g_build_filename (root, "bin", "nlxtest-probe",
                                                  NULL);
  g_autofree char *text = NULL;

  /* Files the host writes belong to an unmapped uid inside a user
   * namespace: -f, or busybox mv asks on the console. */
  g_file_set_contents (agent,
                       "exec </dev/null\n"
                       "while :; do\n"
                       "  if [ -f /dev/nlxtest.sh ]; then\n"
                       "    mv -f /dev/nlxtest.sh /dev/nlxtest.run\n"
                       "    sh /dev/nlxtest.run >/dev/nlxtest.out 2>&1\n"
                       "    echo $? >/dev/nlxtest.tmp\n"
                       "    mv -f /dev/nlxtest.tmp /dev/nlxtest.rc\n"
                       "  fi\n"
                       "  sleep 0.05\n"
                       "done\n", -1, &error);
  g_assert_no_error (error);
  g_file_get_contents (inittab, &text, NULL, &error);
  g_assert_no_error (error);
  text = g_strconcat (text, "::respawn:/bin/sh /sbin/nlxtest-agent\n", NULL);
  g_file_set_contents (inittab, text, -1, &error);
  g_assert_no_error (error);
  /* Setuid on the image root, where nothing forbids it: the control for
   * the nosuid check on volumes. */
  nlx_test_run_command ((const char * const []) { "cp", probe, probe_copy, NULL });
  g_assert_cmpint (g_chmod (probe_copy, 04755), ==, 0);
}

/* DYING_IMAGE's init: it fails its first boot as a broken init does
 * (last words, then exit 1), its second a second in (exit 2), once the
 * server is ACTIVE, and boots for real after that; the count lives in the
 * instance's own writable layer.  It waits a moment after its last words:
 * libvirt_lxc stops relaying the console once it reaps init, so a line
 * written just before the exit may never reach the host (see
 * architecture.md, "Console output"). */
static void
add_dying_init (const char *root)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *init = g_build_filename (root, DYING_INIT, NULL);

  g_file_set_contents (init,
                       "#!/bin/sh\n"
                       "n=$(cat /nlxtest-boots 2>/dev/null || echo 0)\n"
                       "echo $((n + 1)) >/nlxtest-boots\n"
                       "case $n in\n"
                       "0) echo nlxtest-last-words; sleep 0.5; exit 1 ;;\n"
                       "1) sleep 1; echo nlxtest-later-words; sleep 0.5; exit 2 ;;\n"
                       "esac\n"
                       "exec /sbin/init\n", -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (init, 0755), ==, 0);
}

void
fixture_setup (Fixture *f,
               gconstpointer data G_GNUC_UNUSED)
{
  g_autoptr(GSocketAddress) address = NULL;
  g_autofree char *random = NULL;
  g_autofree char *shared = NULL;

  nlx_test_quiet_libvirt ();
  f->conn = virConnectOpen ("lxc:///");
  if (f->conn == NULL)
    {
      nlx_test_host_unusable ("no usable libvirt LXC at lxc:///");
      return;
    }
  f->usable = TRUE;
  /* The parent makes the directory and draws the network's names; the
   * body in its subprocess uses the same. */
  f->dir = nlx_test_case_dir ("nlx-test-compute-XXXXXX");
  if (!g_test_subprocess ())
    {
      g_autofree char *mkrootfs = g_build_filename (g_getenv ("NLX_TOP_SRCDIR"),
                                                    "tools", "mkrootfs", NULL);
      g_autofree char *root = NULL;

      random = g_strdup_printf ("%u", nlx_test_network_random ());
      /* Instances' root, an unprivileged uid, must reach their roots. */
      g_assert_cmpint (g_chmod (f->dir, 0711), ==, 0);
      root = g_build_filename (f->dir, "root", NULL);
      nlx_test_run_command ((const char * const []) { mkrootfs, root, NULL });
      add_agent (root);
      add_dying_init (root);
    }
  f->config = g_build_filename (f->dir, "nova-lxc.conf", NULL);
  f->socket = g_build_filename (f->dir, "compute.sock", NULL);
  shared = nlx_test_case_shared ("NLX_TEST_NET_RANDOM", random);
  {
    guint32 r = (guint32) g_ascii_strtoull (shared, NULL, 10);

    f->bridge = g_strdup_printf ("nlxc%06x", r & 0xffffff);
    f->subnet = g_strdup_printf ("198.%u.%u", 18 + ((r >> 24) & 1),
                                 (r >> 16) & 0xff);
  }
  if (!g_test_subprocess ())
    write_config (f);
  address = g_unix_socket_address_new (f->socket);
  f->session = soup_session_new_with_options ("remote-connectable", address,
                                              "timeout", 120, NULL);
}

/* Removes the domain, root mounts and loop devices of every instance the
 * daemon whose state is @state has a record of, and instances in
 * @instances. */
static void
remove_recorded_domains (Fixture *f,
                         const char *state,
                         const char *instances)
{
  g_autofree char *records = g_build_filename (f->dir, state, "records", NULL);
  g_autoptr(GDir) dir = g_dir_open (records, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *uuid = g_strndup (name, strcspn (name, "."));
      g_autoptr(virDomain) dom = NULL;

      g_autofree char *instance = NULL;

      if (!g_uuid_string_is_valid (uuid))
        continue;
      dom = virDomainLookupByUUIDString (f->conn, uuid);
      if (dom != NULL)
        {
          g_test_message ("removing domain %s left by the case", uuid);
          if (virDomainIsActive (dom) == 1)
            virDomainDestroy (dom);
          virDomainUndefine (dom);
        }
      instance = g_build_filename (f->dir, instances, uuid, NULL);
      {
        g_autofree char *domain = g_strdup_printf ("instance-%.8s", uuid);

        nlx_lxc_cgroup_remove_pids (domain, NULL);
      }
      nlx_lxc_volume_umount_root (instance, NULL);
      nlx_lxc_volume_release_all (uuid, NULL);
    }
}

static gboolean
bridge_exists (const char *bridge)
{
  g_autofree char *path = g_build_filename ("/sys/class/net", bridge, NULL);

  return g_file_test (path, G_FILE_TEST_EXISTS);
}

/* The bridge name of a neighbour daemon a case runs beside its own
 * (nlxn for the case's nlxc): only locked, never made. */
char *
neighbour_bridge (Fixture *f)
{
  return g_strconcat ("nlxn", f->bridge + strlen ("nlxc"), NULL);
}

/* A neighbour daemon must not outlive a test that fails. */
static void
die_with_parent (gpointer data G_GNUC_UNUSED)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

/* Another compute daemon on the host, configured by @config_text, whose
 * API listens at @socket; killed if the test process dies, so a failing
 * case cannot leave it acting on other tests' instances.  Its log is in
 * @f's directory as neighbour.log.  Returns it once it answers. */
GSubprocess *
start_neighbour_daemon (Fixture *f,
                        const char *config_text,
                        const char *socket)
{
  g_autofree char *program = g_build_filename (g_getenv ("NLX_TOP_BUILDDIR"),
                                               "src", "nova-lxc-compute", NULL);
  g_autofree char *config = g_build_filename (f->dir, "neighbour.conf", NULL);
  g_autofree char *log = g_build_filename (f->dir, "neighbour.log", NULL);
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
  g_autoptr(GError) error = NULL;
  gint64 deadline = g_get_monotonic_time () + START_TIMEOUT_US;
  GSubprocess *daemon;

  g_assert_true (g_file_set_contents (config, config_text, -1, NULL));
  g_subprocess_launcher_set_stderr_file_path (launcher, log);
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  daemon = g_subprocess_launcher_spawn (launcher, &error, program, "--debug",
                                        "--config", config, NULL);
  g_assert_no_error (error);
  /* Up once it answers on its socket: the socket file appears before
   * the daemon has opened everything else, and a daemon that then
   * fails (its metadata service's address taken, say) leaves it. */
  for (;;)
    {
      g_autoptr(GSocketClient) client = g_socket_client_new ();
      g_autoptr(GSocketAddress) address = g_unix_socket_address_new (socket);
      g_autoptr(GSocketConnection) connection = NULL;
      g_autofree char *said = NULL;

      if (g_file_test (socket, G_FILE_TEST_EXISTS))
        connection = g_socket_client_connect (client,
                                              G_SOCKET_CONNECTABLE (address),
                                              NULL, NULL);
      if (connection != NULL)
        break;
      if (g_get_monotonic_time () > deadline)
        {
          g_file_get_contents (log, &said, NULL, NULL);
          g_error ("the neighbour daemon did not start: %s", said);
        }
      g_usleep (50 * 1000);
    }
  return daemon;
}

/* What @argv prints; it must succeed. */
char *
host_output (const char * const *argv)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  int status;

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                &out, NULL, &status, &error);
  g_assert_no_error (error);
  g_spawn_check_wait_status (status, &error);
  g_assert_no_error (error);
  return g_steal_pointer (&out);
}

/* The dnsmasq a daemon SIGKILLed above left serving @bridge (a daemon
 * stops its own when it stops cleanly; the next one on the bridge would
 * replace it), found by its pid file and its command line. */
static void
stop_dhcp (const char *bridge)
{
  g_autofree char *pid_path = g_strdup_printf (NLX_RUN_DIR "/dhcp-%s.pid",
                                               bridge);
  g_autofree char *hosts_path = g_strdup_printf (NLX_RUN_DIR "/dhcp-%s.hosts",
                                                 bridge);
  g_autofree char *want = g_strdup_printf ("--interface=%s", bridge);
  g_autofree char *text = NULL;
  g_autofree char *cmdline_path = NULL;
  g_autofree char *cmdline = NULL;
  gsize length = 0;
  gboolean serves = FALSE;
  gint64 pid = 0;

  if (g_file_get_contents (pid_path, &text, NULL, NULL) &&
      (pid = g_ascii_strtoll (text, NULL, 10)) > 1 &&
      (cmdline_path = g_strdup_printf ("/proc/%d/cmdline", (int) pid)) &&
      g_file_get_contents (cmdline_path, &cmdline, &length, NULL) &&
      g_str_has_suffix (cmdline, "dnsmasq"))
    for (gsize off = 0; off < length; off += strlen (cmdline + off) + 1)
      serves = serves || g_str_equal (cmdline + off, want);
  if (serves)
    {
      g_autofree char *stat_path = g_strdup_printf ("/proc/%d/stat", (int) pid);

      kill ((pid_t) pid, SIGKILL);
      /* Until it is gone or a zombie its new parent has yet to reap. */
      for (int i = 0; i < 100; i++)
        {
          g_autofree char *stat = NULL;

          if (!g_file_get_contents (stat_path, &stat, NULL, NULL) ||
              strstr (stat, ") Z ") != NULL)
            break;
          g_usleep (20 * 1000);
        }
    }
  g_unlink (pid_path);
  g_unlink (hosts_path);
}

void
fixture_teardown (Fixture *f,
                  gconstpointer data G_GNUC_UNUSED)
{
  if (f->usable && !g_test_subprocess ())
    {
      g_autoptr(GError) error = NULL;

      daemon_stop (f, SIGKILL);
      /* A case that failed while libvirtd was stopped must not leave it
       * so for everyone else (starting it is a no-op when it runs). */
      if (g_strcmp0 (g_getenv ("NLX_TEST_LIBVIRTD_RESTART"), "1") == 0)
        libvirtd ("start");
      /* A fresh connection: libvirtd may have restarted since setup. */
      g_clear_pointer (&f->conn, virConnectClose);
      f->conn = virConnectOpen ("lxc:///");
      g_assert_nonnull (f->conn);
      remove_recorded_domains (f, "state", "instances");
      /* A neighbour daemon's (n-state, as test-volumes and test-metadata
       * configure it), when it started servers. */
      remove_recorded_domains (f, "n-state", "n-instances");
      if (bridge_exists (f->bridge))
        nlx_test_run_command ((const char * const []) { "ip", "link", "del", f->bridge,
                                               NULL });
      /* A daemon leaves its bridge's firewall in place when it stops
       * (its instances may run on), and its lock of the bridge, which
       * nothing else removes (see nova-lxc-compute(8)): the case's go
       * with its bridge, and those of a neighbour daemon the case ran. */
      for (guint i = 0; i < 2; i++)
        {
          g_autofree char *bridge = i == 0 ? g_strdup (f->bridge)
                                           : neighbour_bridge (f);
          g_autofree char *name = g_strdup_printf ("bridge-%s.lock", bridge);
          g_autofree char *lock = g_build_filename (NLX_RUN_DIR, name, NULL);

          if (i == 1 && bridge_exists (bridge))
            nlx_test_run_command ((const char * const []) { "ip", "link", "del",
                                                   bridge, NULL });
          nlx_network_filter_delete (bridge, &error);
          g_assert_no_error (error);
          g_unlink (lock);
          stop_dhcp (bridge);
        }
      nlx_test_case_dir_remove (f->dir);
    }
  g_clear_object (&f->session);
  g_clear_pointer (&f->conn, virConnectClose);
  g_free (f->dir);
  g_free (f->config);
  g_free (f->socket);
  g_free (f->bridge);
  g_free (f->subnet);
}

void
run_case (Fixture *f,
          gconstpointer data)
{
  CaseFunc body = (CaseFunc) data;

  if (!f->usable)
    return;
  if (g_test_subprocess ())
    {
      daemon_start (f);
      body (f);
      daemon_stop (f, SIGTERM);
      return;
    }
  if (!nlx_test_trap_body (600) && g_test_failed ())
    {
      g_autofree char *log = g_build_filename (f->dir, "daemon.log", NULL);
      g_autofree char *text = NULL;

      if (g_file_get_contents (log, &text, NULL, NULL))
        g_test_message ("daemon log:\n%s", text);
    }
}

/* ---- what libvirt says -------------------------------------------------- */

/* 1 running, 0 defined but not running, -1 no domain. */
int
domain_running (Fixture *f,
                const char *uuid)
{
  g_autoptr(virDomain) dom = virDomainLookupByUUIDString (f->conn, uuid);

  return dom == NULL ? -1 : virDomainIsActive (dom);
}

int
domain_state (Fixture *f,
              const char *uuid)
{
  g_autoptr(virDomain) dom = virDomainLookupByUUIDString (f->conn, uuid);
  int state = -1;

  if (dom != NULL)
    virDomainGetState (dom, &state, NULL, 0);
  return state;
}

gboolean
instance_dir_exists (Fixture *f,
                     const char *uuid)
{
  g_autofree char *dir = g_build_filename (f->dir, "instances", uuid, NULL);

  return g_file_test (dir, G_FILE_TEST_EXISTS);
}

const char *
member_string (JsonNode *reply,
               const char *member)
{
  return json_object_get_string_member (nlx_test_object_at (reply, "server"),
                                        member);
}

/* Deletes a server and checks the host holds nothing of it any more. */
void
delete_and_check (Fixture *f,
                  const char *id)
{
  nlx_test_delete_and_wait (f->session, id);
  g_assert_cmpint (domain_running (f, id), ==, -1);
  g_assert_false (instance_dir_exists (f, id));
}

char *
boot_image (Fixture *f,
            const char *name,
            const char *image)
{
  char *id = nlx_test_create (f->session, name, image, NULL);

  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  g_assert_cmpint (domain_running (f, id), ==, 1);
  return id;
}

char *
boot (Fixture *f,
      const char *name)
{
  return boot_image (f, name, IMAGE);
}

char *
console (Fixture *f,
         const char *id)
{
  g_autofree char *path = g_strconcat ("/v2.1/servers/", id, "/action", NULL);
  g_autoptr(JsonNode) reply = NULL;

  g_assert_cmpint (nlx_test_call (f->session, "POST", path,
                                  "{\"os-getConsoleOutput\": {\"length\": 50}}",
                                  &reply), ==, 200);
  return g_strdup (json_object_get_string_member (json_node_get_object (reply),
                                                  "output"));
}

/* The controller's pid, new for every boot; a cached virDomainPtr would
 * keep answering the old one. */
unsigned int
domain_id (Fixture *f,
           const char *uuid)
{
  g_autoptr(virDomain) dom = virDomainLookupByUUIDString (f->conn, uuid);

  g_assert_nonnull (dom);
  return virDomainGetID (dom);
}

/* The host learns the MAC of the instance at @b_address on its port (a
 * ping from the host: replies to the host's own traffic pass the host
 * firewall), then waits out the neighbour table's locktime, so that a
 * forged update would be taken (test-security's port-security case,
 * test-metadata's spoofed callers). */
void
host_learns (Fixture *f,
             const char *b_address)
{
  /* An entry a control left pointing at A would send the ping there. */
  nlx_test_run_command ((const char * const []) { "ip", "-4", "neigh", "flush", "to",
                                         b_address, "dev", f->bridge, NULL });
  nlx_test_run_command ((const char * const []) { "busybox", "ping", "-c", "1", "-W",
                                         "2", b_address, NULL });
  g_usleep (G_USEC_PER_SEC * 3 / 2);
}

/* Waits until libvirt runs @uuid's domain again, as a new container (a
 * controller other than @old_id): a reboot from inside the instance
 * makes one without the daemon.  Fails the case after @timeout_s. */
void
wait_restarted (Fixture *f,
                const char *uuid,
                unsigned int old_id,
                guint timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;

  while (domain_running (f, uuid) != 1 || domain_id (f, uuid) == old_id)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (50 * 1000);
    }
}

char *
volumes_dir (Fixture *f)
{
  return g_build_filename (f->dir, "volumes", NULL);
}

/* A directory for a volume's filesystem: a text file, a setuid-root
 * probe, and a device node standing for /dev/null. */
char *
volume_tree (Fixture *f,
             const char *name)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *tree = g_build_filename (f->dir, name, NULL);
  g_autofree char *hello = g_build_filename (tree, "hello.txt", NULL);
  g_autofree char *probe = g_build_filename (tree, "nlxtest-probe", NULL);
  g_autofree char *node = g_build_filename (tree, "null", NULL);
  g_autofree char *source = g_build_filename (g_getenv ("NLX_TOP_BUILDDIR"),
                                              "tests", "functional",
                                              "nlxtest-probe", NULL);

  g_assert_cmpint (g_mkdir (tree, 0755), ==, 0);
  g_file_set_contents (hello, "hello from a volume\n", -1, &error);
  g_assert_no_error (error);
  nlx_test_run_command ((const char * const []) { "cp", source, probe, NULL });
  g_assert_cmpint (g_chmod (probe, 04755), ==, 0);
  nlx_test_run_command ((const char * const []) { "mknod", node, "c", "1", "3", NULL });
  return g_steal_pointer (&tree);
}

void
create_volume (Fixture *f,
               const char *id,
               const char *tree)
{
  g_autofree char *body = g_strdup_printf (
    "{\"volume\": {\"display_name\": \"%s\", \"size_mb\": 16%s%s%s}}", id,
    tree ? ", \"from_dir\": \"" : "", tree ? tree : "", tree ? "\"" : "");
  g_autoptr(JsonNode) reply = NULL;
  JsonObject *volume;

  g_assert_cmpint (nlx_test_call (f->session, "POST", "/v2.1/os-volumes", body,
                                  &reply), ==, 200);
  volume = nlx_test_object_at (reply, "volume");
  g_assert_cmpstr (json_object_get_string_member (volume, "status"), ==,
                   "available");
  /* nova-lxc's figures are in the volume's metadata (docs/api.md). */
  g_assert_cmpstr (json_object_get_string_member (
                     json_object_get_object_member (volume, "metadata"),
                     "nova_lxc:filesystem"), ==, "ext4");
}

guint
attach (Fixture *f,
        const char *server,
        const char *volume,
        const char *extra,
        JsonNode **reply)
{
  g_autofree char *path = g_strconcat ("/v2.1/servers/", server,
                                       "/os-volume_attachments", NULL);
  g_autofree char *body = g_strdup_printf (
    "{\"volumeAttachment\": {\"volumeId\": \"%s\"%s}}", volume,
    extra ? extra : "");

  return nlx_test_call (f->session, "POST", path, body, reply);
}

guint
detach (Fixture *f,
        const char *server,
        const char *volume)
{
  g_autofree char *path = g_strconcat ("/v2.1/servers/", server,
                                       "/os-volume_attachments/", volume, NULL);

  return nlx_test_call (f->session, "DELETE", path, NULL, NULL);
}

pid_t
init_of (Fixture *f,
         const char *uuid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%u/task/%u/children",
                                           domain_id (f, uuid),
                                           domain_id (f, uuid));
  g_autofree char *children = NULL;

  g_assert_true (g_file_get_contents (path, &children, NULL, NULL));
  return (pid_t) g_ascii_strtoll (children, NULL, 10);
}

/* Runs @script in the container through its agent; returns its exit
 * status and, in @output, what it printed. */
int
in_container (Fixture *f,
              const char *uuid,
              const char *script,
              char **output)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dev = g_strdup_printf ("/proc/%d/root/dev", init_of (f, uuid));
  g_autofree char *tmp = g_build_filename (dev, "nlxtest.new", NULL);
  g_autofree char *cmd = g_build_filename (dev, "nlxtest.sh", NULL);
  g_autofree char *rc_path = g_build_filename (dev, "nlxtest.rc", NULL);
  g_autofree char *out_path = g_build_filename (dev, "nlxtest.out", NULL);
  g_autofree char *rc = NULL;
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  g_file_set_contents (tmp, script, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_rename (tmp, cmd), ==, 0);
  while (!g_file_get_contents (rc_path, &rc, NULL, NULL))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (20 * 1000);
    }
  g_file_get_contents (out_path, output, NULL, NULL);
  g_test_message ("in %.8s: %s -> %s%s", uuid, script, g_strchomp (rc),
                  output && *output ? *output : "");
  g_unlink (rc_path);
  return (int) g_ascii_strtoll (rc, NULL, 10);
}

void
assert_in_container (Fixture *f,
                     const char *uuid,
                     const char *script,
                     int expected_rc,
                     const char *expected_output)
{
  g_autofree char *output = NULL;
  int rc = in_container (f, uuid, script, &output);

  if ((expected_rc == 0) != (rc == 0) ||
      (expected_output != NULL &&
       g_strcmp0 (g_strchomp (output), expected_output) != 0))
    g_error ("in the container, “%s” exited %d (wanted %s) and printed “%s”%s%s",
             script, rc, expected_rc == 0 ? "0" : "non-zero",
             output ? output : "", expected_output ? ", wanted " : "",
             expected_output ? expected_output : "");
}

guint
loop_devices_of (const char *uuid)
{
  g_autofree char *prefix = nlx_lxc_volume_loop_name (uuid, NULL);
  g_autoptr(GPtrArray) loops = nlx_loop_find_prefix (prefix);

  return loops->len;
}

const char *
task_state_of (JsonNode *reply)
{
  JsonObject *server = nlx_test_object_at (reply, "server");

  return json_object_get_string_member_with_default (server,
                                                     "OS-EXT-STS:task_state",
                                                     NULL);
}

/* The host uid of a process. */
guint
host_uid (pid_t pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", (int) pid);
  g_autofree char *status = NULL;
  const char *line;

  g_assert_true (g_file_get_contents (path, &status, NULL, NULL));
  line = strstr (status, "\nUid:");
  g_assert_nonnull (line);
  return (guint) g_ascii_strtoull (line + strlen ("\nUid:"), NULL, 10);
}

/* The server's one fixed address on the case's bridge, with its MAC. */
char *
address_of (Fixture *f,
            const char *id,
            char **mac)
{
  g_autoptr(JsonNode) reply = nlx_test_show (f->session, id);
  JsonObject *addresses = json_object_get_object_member (
    nlx_test_object_at (reply, "server"), "addresses");
  JsonArray *list = json_object_get_array_member (addresses, f->bridge);
  JsonObject *entry;

  g_assert_nonnull (list);
  g_assert_cmpuint (json_array_get_length (list), ==, 1);
  entry = json_array_get_object_element (list, 0);
  if (mac != NULL)
    *mac = g_strdup (json_object_get_string_member (entry,
                                                    "OS-EXT-IPS-MAC:mac_addr"));
  return g_strdup (json_object_get_string_member (entry, "addr"));
}

gboolean
bridge_has_port (Fixture *f,
                 const char *id)
{
  g_autofree char *path = g_strdup_printf ("/sys/class/net/%s/brif/nlx-%.8s",
                                           f->bridge, id);

  return g_file_test (path, G_FILE_TEST_EXISTS);
}

/* Pings are bounded (two echoes, two seconds each) and stay on the
 * case's own bridge. */
void
assert_reaches (Fixture *f,
                const char *from,
                const char *address)
{
  g_autofree char *script = g_strdup_printf ("ping -c 2 -W 2 %s", address);

  assert_in_container (f, from, script, 0, NULL);
}

void
libvirtd (const char *command)
{
  g_autofree char *script = g_build_filename (g_getenv ("NLX_TOP_SRCDIR"),
                                              "tools", "libvirtd-service", NULL);

  nlx_test_run_command ((const char * const []) { script, command, NULL });
}

/* Waits for @id to be @wanted with no task, failing at once on ERROR:
 * a server libvirt runs must never be shown broken. */
void
wait_settled (Fixture *f,
              const char *id,
              const char *wanted)
{
  gint64 deadline = g_get_monotonic_time () + 90 * G_USEC_PER_SEC;

  for (;;)
    {
      g_autoptr(JsonNode) reply = nlx_test_show (f->session, id);
      JsonObject *server = nlx_test_object_at (reply, "server");
      const char *status = json_object_get_string_member (server, "status");

      if (g_str_equal (status, "ERROR"))
        g_error ("server %s went to ERROR (libvirt: %s): %s", id,
                 domain_running (f, id) == 1 ? "running" : "not running",
                 json_object_has_member (server, "fault")
                   ? json_object_get_string_member (json_object_get_object_member (server, "fault"),
                                                    "message")
                   : "no fault");
      if (g_str_equal (status, wanted) && task_state_of (reply) == NULL)
        return;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (100 * 1000);
    }
}

/* Runs @command in the container's namespaces and in its init's memory
 * and CPU cgroups, which lxcfs answers from (nsenter alone keeps the
 * host's cgroups, and the image has no D-Bus for systemd-run --pipe);
 * joining its cpuset group gives the command the server's CPUs.  Returns
 * what it printed. */
char *
in_init_cgroups (Fixture *f,
                 const char *uuid,
                 const char *command)
{
  static const char script[] =
    "set -e\n"
    "pid=$1\n"
    "if [ -f /sys/fs/cgroup/cgroup.controllers ]; then\n"
    "  echo $$ > \"/sys/fs/cgroup$(sed -n 's/^0:://p' /proc/$pid/cgroup)/cgroup.procs\"\n"
    "else\n"
    "  for dir in $(awk -F: '$2 ~ /(^|,)(memory|cpu|cpuacct|cpuset)(,|$)/ "
    "{ print \"/sys/fs/cgroup/\" $2 $3 }' /proc/$pid/cgroup); do\n"
    "    echo $$ > \"$dir/cgroup.procs\"\n"
    "  done\n"
    "fi\n"
    "exec nsenter -t \"$pid\" -a /bin/sh -c \"$0\"\n";
  g_autofree char *pid = g_strdup_printf ("%d", init_of (f, uuid));
  const char * const argv[] = { "sh", "-c", script, command, pid, NULL };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  int status;

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                &out, &err, &status, &error);
  g_assert_no_error (error);
  g_test_message ("in %.8s: %s -> %s%s", uuid, command, out, err);
  g_spawn_check_wait_status (status, &error);
  g_assert_no_error (error);
  return g_strdup (g_strstrip (out));
}

/* ---- systemd inside ------------------------------------------------------ */

/* What systemd says of its boot once it is over ("running" when every
 * unit started), asked inside the container's namespaces.  Until systemd
 * has made /run/systemd/system, systemctl says "offline", and nothing
 * until its bus is up. */
static char *
systemd_state (Fixture *f,
               const char *uuid)
{
  g_autofree char *pid = g_strdup_printf ("%d", init_of (f, uuid));
  const char * const argv[] = {
    "nsenter", "-t", pid, "-a", "timeout", "60",
    "systemctl", "is-system-running", "--wait", NULL
  };
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;

  for (;;)
    {
      g_autofree char *out = NULL;
      g_autofree char *err = NULL;
      g_autoptr(GError) error = NULL;

      g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL,
                    NULL, &out, &err, NULL, &error);
      g_assert_no_error (error);
      g_strstrip (out);
      if ((*out != '\0' && !g_str_equal (out, "offline")) ||
          g_get_monotonic_time () > deadline)
        {
          g_test_message ("systemctl is-system-running in %.8s: %s %s", uuid,
                          out, err);
          return g_steal_pointer (&out);
        }
      g_usleep (100 * 1000);
    }
}

void
assert_systemd_running (Fixture *f,
                        const char *uuid)
{
  g_autofree char *state = systemd_state (f, uuid);

  if (!g_str_equal (state, "running"))
    {
      g_autofree char *pid = g_strdup_printf ("%d", init_of (f, uuid));
      const char * const argv[] = {
        "nsenter", "-t", pid, "-a", "systemctl", "--failed", "--no-pager", NULL
      };
      g_autofree char *failed = NULL;

      g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL,
                    NULL, &failed, NULL, NULL, NULL);
      g_error ("systemd in %s is %s, not running:\n%s", uuid, state,
               failed ? failed : "");
    }
}

/* ---- main ---------------------------------------------------------------- */

static void
skip_case (gconstpointer data)
{
  const Case *c = data;

  if (c->why != NULL)
    g_test_skip_printf ("%s is not set: %s", c->needs, c->why);
  else
    nlx_test_host_unusable ("%s is not set (tools/check sets what the "
                            "functional tests need)", c->needs);
}

int
run_cases (int *argc,
           char ***argv,
           const char *summary,
           const Case *cases,
           gsize n_cases)
{
  g_test_init (argc, argv, NULL);
  g_test_summary (summary);
  /* Writing to a stopped libvirtd must fail, not kill the test. */
  signal (SIGPIPE, SIG_IGN);
  for (gsize i = 0; i < n_cases; i++)
    if (cases[i].needs != NULL && g_getenv (cases[i].needs) == NULL)
      /* Skipped here: a skip in the case's subprocess reads as a failure. */
      g_test_add_data_func (cases[i].path, &cases[i], skip_case);
    else
      g_test_add (cases[i].path, Fixture, cases[i].body, fixture_setup,
                  run_case, fixture_teardown);
  return g_test_run ();
}
