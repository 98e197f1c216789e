/* test-compute.c: tempest-style tests of nova-lxc-compute on real libvirt LXC
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
 * The case that stops libvirtd runs only with NLX_TEST_LIBVIRTD_RESTART=1,
 * as tests/functional/test-libvirtd-restart does after every other test
 * that needs libvirt. */
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

#define IMAGE "nlxtest-busybox"
#define BROKEN_IMAGE "nlxtest-broken"
/* The busybox root with a "shutdown" signal its init ignores (SIGHUP
 * rereads inittab), so a stop waits shutdown_timeout, then kills it. */
#define DEAF_IMAGE "nlxtest-deaf"
#define START_TIMEOUT_US (20 * G_USEC_PER_SEC)

typedef struct {
  char *dir;
  char *config;
  char *socket;
  SoupSession *session;
  virConnectPtr conn;
  gboolean usable;
  gboolean verify_fsck;
  /* The instances' bridge, nlxc<6 hex>, and its /24 of 198.18.0.0/15
   * (RFC 2544's range for network tests): "198.18.N" */
  char *bridge;
  char *subnet;
} Fixture;

typedef void (*CaseFunc) (Fixture *f);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (virDomain, virDomainFree)

static void
ignore_libvirt_error (void *opaque,
                      virErrorPtr err)
{
}

static void
run_command (const char * const *argv)
{
  g_autoptr(GError) error = NULL;
  int status;

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                NULL, NULL, &status, &error);
  g_assert_no_error (error);
  g_spawn_check_wait_status (status, &error);
  g_assert_no_error (error);
}

/* ---- the daemon -------------------------------------------------------- */

static char *
pid_file (Fixture *f)
{
  return g_build_filename (f->dir, "daemon.pid", NULL);
}

static GPid
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

static void
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
static void
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

static void
write_config (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *root = g_build_filename (f->dir, "root", NULL);
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
    "[flavor m1.privileged]\nvcpus = 1\nmemory_mb = 128\nroot_gb = 0\n"
    "privileged = true\n"
    "[image " IMAGE "]\npath = %s\nos_shutdown_signal = SIGUSR2\n"
    "[image " BROKEN_IMAGE "]\npath = %s\nos_init_path = /no/such/init\n"
    "[image " DEAF_IMAGE "]\npath = %s\nos_shutdown_signal = SIGHUP\n"
    "[volumes]\npath = %s/volumes\n%s"
    "[network]\nbridge = %s\ncidr = %s.0/24\n",
    f->dir, f->dir, f->socket, root, root, root, f->dir,
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
  run_command ((const char * const []) { "cp", probe, probe_copy, NULL });
  g_assert_cmpint (g_chmod (probe_copy, 04755), ==, 0);
}

static void
fixture_setup (Fixture *f,
               gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketAddress) address = NULL;

  virSetErrorFunc (NULL, ignore_libvirt_error);
  f->conn = virConnectOpen ("lxc:///");
  if (f->conn == NULL)
    {
      const char *reason = "no usable libvirt LXC at lxc:///";

      if (g_getenv ("NLX_TEST_REQUIRE_LIBVIRT") != NULL)
        g_error ("%s", reason);
      g_test_skip (reason);
      return;
    }
  f->usable = TRUE;
  if (g_test_subprocess ())
    f->dir = g_strdup (g_getenv ("NLX_TEST_DIR"));
  else
    {
      guint32 r = g_random_int ();
      g_autofree char *text = g_strdup_printf ("%u", r);

      g_setenv ("NLX_TEST_NET_RANDOM", text, TRUE);
      g_autofree char *mkrootfs = g_build_filename (g_getenv ("NLX_TOP_SRCDIR"),
                                                    "tools", "mkrootfs", NULL);
      g_autofree char *root = NULL;

      f->dir = g_dir_make_tmp ("nlx-test-compute-XXXXXX", &error);
      g_assert_no_error (error);
      /* Instances' root, an unprivileged uid, must reach their roots. */
      g_assert_cmpint (g_chmod (f->dir, 0711), ==, 0);
      g_setenv ("NLX_TEST_DIR", f->dir, TRUE);
      root = g_build_filename (f->dir, "root", NULL);
      run_command ((const char * const []) { mkrootfs, root, NULL });
      add_agent (root);
    }
  f->config = g_build_filename (f->dir, "nova-lxc.conf", NULL);
  f->socket = g_build_filename (f->dir, "compute.sock", NULL);
  {
    guint32 r = (guint32) g_ascii_strtoull (g_getenv ("NLX_TEST_NET_RANDOM"),
                                            NULL, 10);

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
 * daemon has a record of. */
static void
remove_recorded_domains (Fixture *f)
{
  g_autofree char *records = g_build_filename (f->dir, "state", "records", NULL);
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
      instance = g_build_filename (f->dir, "instances", uuid, NULL);
      nlx_lxc_volume_umount_root (instance, NULL);
      nlx_lxc_volume_release_all (uuid, NULL);
    }
}

static gboolean
bridge_exists (Fixture *f)
{
  g_autofree char *path = g_build_filename ("/sys/class/net", f->bridge, NULL);

  return g_file_test (path, G_FILE_TEST_EXISTS);
}

static void libvirtd (const char *command);

static void
fixture_teardown (Fixture *f,
                  gconstpointer data)
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
      remove_recorded_domains (f);
      if (bridge_exists (f))
        run_command ((const char * const []) { "ip", "link", "del", f->bridge,
                                               NULL });
      /* The daemon's lock of the case's bridge, which nothing else
       * removes (see nova-lxc-compute(8)). */
      {
        g_autofree char *name = g_strdup_printf ("bridge-%s.lock", f->bridge);
        g_autofree char *lock = g_build_filename (NLX_RUN_DIR, name, NULL);

        g_unlink (lock);
      }
      nlx_file_remove_tree (f->dir, &error);
      g_assert_no_error (error);
    }
  g_clear_object (&f->session);
  g_clear_pointer (&f->conn, virConnectClose);
  g_free (f->dir);
  g_free (f->config);
  g_free (f->socket);
  g_free (f->bridge);
  g_free (f->subnet);
}

static void
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
  if (!nlx_test_trap_body (600))
    {
      g_autofree char *log = g_build_filename (f->dir, "daemon.log", NULL);
      g_autofree char *text = NULL;

      if (g_file_get_contents (log, &text, NULL, NULL))
        g_test_message ("daemon log:\n%s", text);
    }
}

/* ---- what libvirt says -------------------------------------------------- */

/* 1 running, 0 defined but not running, -1 no domain. */
static int
domain_running (Fixture *f,
                const char *uuid)
{
  g_autoptr(virDomain) dom = virDomainLookupByUUIDString (f->conn, uuid);

  return dom == NULL ? -1 : virDomainIsActive (dom);
}

static int
domain_state (Fixture *f,
              const char *uuid)
{
  g_autoptr(virDomain) dom = virDomainLookupByUUIDString (f->conn, uuid);
  int state = -1;

  if (dom != NULL)
    virDomainGetState (dom, &state, NULL, 0);
  return state;
}

static gboolean
instance_dir_exists (Fixture *f,
                     const char *uuid)
{
  g_autofree char *dir = g_build_filename (f->dir, "instances", uuid, NULL);

  return g_file_test (dir, G_FILE_TEST_EXISTS);
}

static const char *
member_string (JsonNode *reply,
               const char *member)
{
  return json_object_get_string_member (nlx_test_object_at (reply, "server"),
                                        member);
}

/* Deletes a server and checks the host holds nothing of it any more. */
static void
delete_and_check (Fixture *f,
                  const char *id)
{
  nlx_test_delete_and_wait (f->session, id);
  g_assert_cmpint (domain_running (f, id), ==, -1);
  g_assert_false (instance_dir_exists (f, id));
}

static char *
boot_image (Fixture *f,
            const char *name,
            const char *image)
{
  char *id = nlx_test_create (f->session, name, image, NULL);

  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  g_assert_cmpint (domain_running (f, id), ==, 1);
  return id;
}

static char *
boot (Fixture *f,
      const char *name)
{
  return boot_image (f, name, IMAGE);
}

static char *
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

/* ---- api/compute/servers ------------------------------------------------- */

static void
test_create_list_show_delete (Fixture *f)
{
  g_autofree char *id = nlx_test_create (f->session, "nlxtest-server", IMAGE,
                                         ", \"metadata\": {\"purpose\": \"test\"}");
  g_autofree char *domain = g_strdup_printf ("instance-%.8s", id);
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(JsonNode) list = NULL;
  g_autoptr(virDomain) dom = NULL;
  g_autofree char *xml = NULL;
  JsonArray *servers;

  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  reply = nlx_test_show (f->session, id);
  g_assert_cmpstr (member_string (reply, "OS-EXT-SRV-ATTR:instance_name"), ==,
                   domain);
  g_assert_cmpint (json_object_get_int_member (nlx_test_object_at (reply, "server"),
                                               "OS-EXT-STS:power_state"), ==, 1);

  /* What an operator sees in virsh matches. */
  dom = virDomainLookupByName (f->conn, domain);
  g_assert_nonnull (dom);
  g_assert_cmpint (virDomainIsActive (dom), ==, 1);
  xml = virDomainGetXMLDesc (dom, 0);
  g_assert_nonnull (strstr (xml, "nlxtest-server"));
  g_assert_true (instance_dir_exists (f, id));

  g_assert_cmpint (nlx_test_call (f->session, "GET", "/v2.1/servers/detail",
                                  NULL, &list), ==, 200);
  servers = json_object_get_array_member (json_node_get_object (list), "servers");
  g_assert_cmpuint (json_array_get_length (servers), ==, 1);

  delete_and_check (f, id);
}

/* The controller's pid, new for every boot; a cached virDomainPtr would
 * keep answering the old one. */
static unsigned int
domain_id (Fixture *f,
           const char *uuid)
{
  g_autoptr(virDomain) dom = virDomainLookupByUUIDString (f->conn, uuid);

  g_assert_nonnull (dom);
  return virDomainGetID (dom);
}

static void
test_reboot (Fixture *f)
{
  g_autofree char *id = boot (f, "nlxtest-reboot");
  unsigned int first_id = domain_id (f, id);
  unsigned int second_id;

  nlx_test_act_and_wait (f->session, id, "{\"reboot\": {\"type\": \"SOFT\"}}",
                         "rebooting", "ACTIVE");
  second_id = domain_id (f, id);
  g_assert_cmpuint (second_id, !=, first_id);
  g_assert_cmpint (domain_running (f, id), ==, 1);

  nlx_test_act_and_wait (f->session, id, "{\"reboot\": {\"type\": \"HARD\"}}",
                         "rebooting_hard", "ACTIVE");
  g_assert_cmpuint (domain_id (f, id), !=, second_id);
  g_assert_cmpint (domain_running (f, id), ==, 1);
  delete_and_check (f, id);
}

static void
test_stop_start (Fixture *f)
{
  g_autofree char *id = boot (f, "nlxtest-stop-start");

  nlx_test_act_and_wait (f->session, id, "{\"os-stop\": null}", "powering-off",
                         "SHUTOFF");
  g_assert_cmpint (domain_running (f, id), ==, 0);
  nlx_test_act_and_wait (f->session, id, "{\"os-start\": null}", "powering-on",
                         "ACTIVE");
  g_assert_cmpint (domain_running (f, id), ==, 1);
  delete_and_check (f, id);
}

static void
test_pause_unpause (Fixture *f)
{
  g_autofree char *id = boot (f, "nlxtest-pause");

  nlx_test_act_and_wait (f->session, id, "{\"pause\": null}", "pausing",
                         "PAUSED");
  g_assert_cmpint (domain_state (f, id), ==, VIR_DOMAIN_PAUSED);
  nlx_test_act_and_wait (f->session, id, "{\"unpause\": null}", "unpausing",
                         "ACTIVE");
  g_assert_cmpint (domain_state (f, id), ==, VIR_DOMAIN_RUNNING);
  delete_and_check (f, id);
}

static void
test_console_output (Fixture *f)
{
  g_autofree char *id = boot (f, "nlxtest-console");
  g_autofree char *running = NULL;
  g_autofree char *stopped = NULL;
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  /* mkrootfs's inittab greets on the console. */
  for (;;)
    {
      g_free (running);
      running = console (f, id);
      if (strstr (running, "nova-lxc demo instance booted") != NULL)
        break;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (100 * 1000);
    }
  nlx_test_act_and_wait (f->session, id, "{\"os-stop\": null}", NULL, "SHUTOFF");
  stopped = console (f, id);
  g_assert_nonnull (strstr (stopped, "nova-lxc demo instance booted"));
  delete_and_check (f, id);
}

/* An instance whose init exits shows SHUTOFF through libvirt's lifecycle
 * event: the periodic sync is an hour away. */
static void
test_init_exit_event (Fixture *f)
{
  g_autofree char *id = boot (f, "nlxtest-event");
  g_autoptr(virDomain) dom = virDomainLookupByUUIDString (f->conn, id);

  /* busybox init powers off on SIGUSR2. */
  g_assert_cmpint (virDomainSendProcessSignal (dom, 1, SIGUSR2, 0), ==, 0);
  nlx_test_wait_for_status (f->session, id, "SHUTOFF");
  g_assert_cmpint (domain_running (f, id), ==, 0);
  delete_and_check (f, id);
}

static void
test_delete_in_each_state (Fixture *f)
{
  g_autofree char *active = boot (f, "nlxtest-del-active");
  g_autofree char *stopped = boot (f, "nlxtest-del-stopped");
  g_autofree char *paused = boot (f, "nlxtest-del-paused");
  g_autofree char *error = nlx_test_create (f->session, "nlxtest-del-error",
                                            BROKEN_IMAGE, NULL);
  g_autofree char *building = NULL;
  g_autoptr(JsonNode) reply = NULL;

  nlx_test_act_and_wait (f->session, stopped, "{\"os-stop\": null}", NULL,
                         "SHUTOFF");
  nlx_test_act_and_wait (f->session, paused, "{\"pause\": null}", NULL, "PAUSED");
  nlx_test_wait_for_status (f->session, error, "ERROR");
  reply = nlx_test_show (f->session, error);
  g_assert_nonnull (strstr (json_object_get_string_member (
                              json_object_get_object_member (nlx_test_object_at (reply, "server"),
                                                             "fault"), "message"),
                            "/no/such/init"));
  /* A failed build leaves nothing on the host. */
  g_assert_cmpint (domain_running (f, error), ==, -1);
  g_assert_false (instance_dir_exists (f, error));

  building = nlx_test_create (f->session, "nlxtest-del-building", IMAGE, NULL);
  delete_and_check (f, building);
  delete_and_check (f, active);
  delete_and_check (f, stopped);
  delete_and_check (f, paused);
  delete_and_check (f, error);
}

/* ---- negative ------------------------------------------------------------ */

static void
test_negative (Fixture *f)
{
  g_autofree char *id = boot (f, "nlxtest-negative");
  g_autofree char *action = g_strconcat ("/v2.1/servers/", id, "/action", NULL);
  g_autoptr(JsonNode) list = NULL;
  guint first, second;

  nlx_test_expect_fault (f->session, "POST", "/v2.1/servers",
                         "{\"server\": {\"name\": \"nlxtest-x\", \"flavorRef\": \"m1.nope\", "
                         "\"imageRef\": \"" IMAGE "\"}}", 400, "badRequest");
  nlx_test_expect_fault (f->session, "POST", "/v2.1/servers",
                         "{\"server\": {\"name\": \"nlxtest-x\", \"flavorRef\": \"m1.tiny\", "
                         "\"imageRef\": \"nlxtest-nope\"}}", 400, "badRequest");
  nlx_test_expect_fault (f->session, "POST", "/v2.1/servers", "{\"server\": {",
                         400, "badRequest");
  nlx_test_expect_fault (f->session, "GET",
                         "/v2.1/servers/7e57c000-0000-4000-8000-000000000000",
                         NULL, 404, "itemNotFound");
  nlx_test_expect_fault (f->session, "POST",
                         "/v2.1/servers/7e57c000-0000-4000-8000-000000000000/action",
                         "{\"os-stop\": null}", 404, "itemNotFound");
  nlx_test_expect_fault (f->session, "POST", action, "{\"unpause\": null}", 409,
                         "conflictingRequest");
  nlx_test_expect_fault (f->session, "POST", action, "{\"os-start\": null}", 409,
                         "conflictingRequest");

  /* Two conflicting actions at once: the second is refused while the
   * first runs. */
  first = nlx_test_act (f->session, id, "{\"reboot\": {\"type\": \"SOFT\"}}");
  second = nlx_test_act (f->session, id, "{\"os-stop\": null}");
  g_assert_cmpuint (first, ==, 202);
  g_assert_cmpuint (second, ==, 409);
  nlx_test_wait_for_status (f->session, id, "ACTIVE");

  /* None of the refused requests made a server. */
  g_assert_cmpint (nlx_test_call (f->session, "GET", "/v2.1/servers", NULL,
                                  &list), ==, 200);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (json_node_get_object (list),
                                                                         "servers")), ==, 1);
  delete_and_check (f, id);
}

/* ---- one daemon per instances_path and bridge ------------------------------ */

/* Runs a second daemon on @config_text until it exits (it must, within
 * 30 s); returns its exit status, with its messages in @err. */
static int
second_daemon (Fixture *f,
               const char *config_text,
               char **err)
{
  g_autofree char *program = g_build_filename (g_getenv ("NLX_TOP_BUILDDIR"),
                                               "src", "nova-lxc-compute", NULL);
  g_autofree char *config = g_build_filename (f->dir, "second.conf", NULL);
  g_autofree char *log = g_build_filename (f->dir, "second.log", NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *timeout = g_find_program_in_path ("timeout");
  const char *argv[] = { timeout, "30", program, "--config", config, NULL };
  int status;

  g_assert_nonnull (timeout);
  g_assert_true (g_file_set_contents (config, config_text, -1, NULL));
  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL,
                NULL, NULL, err, &status, &error);
  g_assert_no_error (error);
  g_printerr ("second daemon said: %s\n", *err);
  g_assert_true (WIFEXITED (status));
  return WEXITSTATUS (status);
}

/* A second daemon with a state of its own but this one's instances_path,
 * or its bridge, is refused, naming this one's pid: it would take this
 * one's instance directories for leftovers, or hand out its addresses. */
static void
test_one_daemon (Fixture *f)
{
  g_autofree char *id = boot (f, "nlxtest-one-daemon");
  g_autofree char *config = NULL;
  g_autofree char *pid = g_strdup_printf ("(pid %d)", (int) daemon_pid (f));
  g_autofree char *err = NULL;
  g_autofree char *other = g_build_filename (f->dir, "other", NULL);
  g_autofree char *text = NULL;

  g_assert_true (g_file_get_contents (f->config, &config, NULL, NULL));
  /* Instances' root, an unprivileged uid, must reach instances_path. */
  g_assert_cmpint (g_mkdir (other, 0711), ==, 0);
  text = g_strdup_printf ("%s[DEFAULT]\nstate_path = %s/state\n"
                          "[api]\nsocket = %s/sock\n"
                          "[volumes]\npath = %s/volumes\n",
                          config, other, other, other);
  g_assert_cmpint (second_daemon (f, text, &err), ==, 1);
  g_assert_nonnull (strstr (err, pid));
  g_assert_nonnull (strstr (err, "instances_path"));
  g_clear_pointer (&err, g_free);
  g_free (text);
  text = g_strdup_printf ("%s[DEFAULT]\nstate_path = %s/state\n"
                          "instances_path = %s/instances\n"
                          "[api]\nsocket = %s/sock\n"
                          "[volumes]\npath = %s/volumes\n",
                          config, other, other, other, other);
  g_assert_cmpint (second_daemon (f, text, &err), ==, 1);
  g_assert_nonnull (strstr (err, pid));
  g_assert_nonnull (strstr (err, "bridge"));

  /* The first one's server is untouched. */
  g_assert_cmpint (domain_running (f, id), ==, 1);
  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  delete_and_check (f, id);
}

/* ---- api/compute/volumes ------------------------------------------------- */

static char *
volumes_dir (Fixture *f)
{
  return g_build_filename (f->dir, "volumes", NULL);
}

/* A directory for a volume's filesystem: a text file, a setuid-root
 * probe, and a device node standing for /dev/null. */
static char *
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
  run_command ((const char * const []) { "cp", source, probe, NULL });
  g_assert_cmpint (g_chmod (probe, 04755), ==, 0);
  run_command ((const char * const []) { "mknod", node, "c", "1", "3", NULL });
  return g_steal_pointer (&tree);
}

static void
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
  g_assert_cmpstr (json_object_get_string_member (volume, "filesystem"), ==,
                   "ext4");
}

static guint
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

static guint
detach (Fixture *f,
        const char *server,
        const char *volume)
{
  g_autofree char *path = g_strconcat ("/v2.1/servers/", server,
                                       "/os-volume_attachments/", volume, NULL);

  return nlx_test_call (f->session, "DELETE", path, NULL, NULL);
}

static pid_t
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
static int
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

static void
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

static guint
loop_devices_of (const char *uuid)
{
  g_autofree char *prefix = nlx_lxc_volume_loop_name (uuid, NULL);
  g_autoptr(GPtrArray) loops = nlx_loop_find_prefix (prefix);

  return loops->len;
}

/* What a mounted, attached volume must give the instance, and refuse. */
static void
check_volume_inside (Fixture *f,
                     const char *id)
{
  assert_in_container (f, id, "cat /data/hello.txt", 0, "hello from a volume");
  /* Read-only all the way down. */
  assert_in_container (f, id, "echo x > /data/new", 1, NULL);
  assert_in_container (f, id, "dd if=/dev/zero of=/dev/vdb bs=512 count=1", 1,
                       NULL);
  assert_in_container (f, id, "dd if=/dev/vdb of=/dev/null bs=512 count=1", 0,
                       NULL);
  assert_in_container (f, id, "mkdir -p /tmp/m && mount -t ext4 -o ro "
                       "/dev/vdb /tmp/m", 1, NULL);
  /* A setuid-root program elevates from the image root, but the volume's
   * copy of it cannot (noexec, and nosuid besides). */
  assert_in_container (f, id, "nlxtest-probe as 65534 /bin/nlxtest-probe euid",
                       0, "0");
  assert_in_container (f, id, "nlxtest-probe as 65534 /data/nlxtest-probe euid",
                       1, NULL);
  assert_in_container (f, id, "grep ' /data ' /proc/mounts | "
                       "grep -q ' ro,nosuid,nodev,noexec'", 0, NULL);
  /* nodev: the volume's char 1:3 node does not open; /dev/null does. */
  assert_in_container (f, id, "echo x > /dev/null", 0, NULL);
  assert_in_container (f, id, "echo x > /data/null", 1, NULL);
}

/* ---- crash recovery ------------------------------------------------------ */

static const char *
task_state_of (JsonNode *reply)
{
  JsonObject *server = nlx_test_object_at (reply, "server");

  return json_object_get_string_member_with_default (server,
                                                     "OS-EXT-STS:task_state",
                                                     NULL);
}

/* The task state @uuid's record on disk holds, which is what a restart
 * finds; NULL for none or no record. */
static char *
task_on_disk (Fixture *f,
              const char *uuid)
{
  g_autofree char *name = g_strconcat (uuid, ".json", NULL);
  g_autofree char *path = g_build_filename (f->dir, "state", "records", name,
                                            NULL);
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonNode *root;

  if (!json_parser_load_from_file (parser, path, NULL) ||
      (root = json_parser_get_root (parser)) == NULL ||
      !JSON_NODE_HOLDS_OBJECT (root))
    return NULL;
  return g_strdup (json_object_get_string_member_with_default (json_node_get_object (root),
                                                               "task_state",
                                                               NULL));
}

/* Whether the driver has got somewhere with the operation on @uuid, as
 * the host shows it. */
typedef gboolean (*MidwayFunc) (Fixture *f,
                                const char *uuid,
                                gconstpointer data);

static gboolean
is_defined (Fixture *f, const char *uuid, gconstpointer data)
{
  return domain_running (f, uuid) >= 0;
}

static gboolean
is_paused (Fixture *f, const char *uuid, gconstpointer data)
{
  return domain_state (f, uuid) == VIR_DOMAIN_PAUSED;
}

static gboolean
is_not_running (Fixture *f, const char *uuid, gconstpointer data)
{
  return domain_running (f, uuid) != 1;
}

static guint loop_devices_of (const char *uuid);

static gboolean
has_loop_device (Fixture *f, const char *uuid, gconstpointer data)
{
  return loop_devices_of (uuid) > 0;
}

/* The domain with id *@data (the controller's pid) is gone. */
static gboolean
is_not_domain (Fixture *f, const char *uuid, gconstpointer data)
{
  g_autoptr(virDomain) dom = virDomainLookupByUUIDString (f->conn, uuid);

  return dom == NULL || virDomainIsActive (dom) != 1 ||
         virDomainGetID (dom) != *(const unsigned int *) data;
}

/* A signal sent and being waited for: a moment is enough. */
static gboolean
after_a_moment (Fixture *f, const char *uuid, gconstpointer data)
{
  g_usleep (300 * 1000);
  return TRUE;
}

/* Kills the daemon with SIGKILL while @uuid's operation is in flight:
 * waits for its record on disk to show @task and for the host to show
 * the driver midway (@midway), freezes the daemon (SIGSTOP) so that
 * nothing more is written, checks the record again and only then kills
 * it.  What a restart finds is therefore exactly an interrupted @task.
 * Requests sent asynchronously get sent meanwhile. */
static void
kill_during (Fixture *f,
             const char *uuid,
             const char *task,
             MidwayFunc midway,
             gconstpointer data)
{
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  g_autofree char *on_disk = NULL;
  gboolean seen = FALSE;

  for (;;)
    {
      g_autofree char *now = NULL;

      g_main_context_iteration (NULL, FALSE);
      if (!seen)
        {
          now = task_on_disk (f, uuid);
          seen = g_strcmp0 (now, task) == 0;
        }
      if (seen && midway (f, uuid, data))
        break;
      if (g_get_monotonic_time () > deadline)
        g_error ("server %s never showed task %s on disk with its operation "
                 "midway (its record shows %s)", uuid, task,
                 now ? now : "no task");
      g_usleep (200);
    }
  g_assert_cmpint (kill (daemon_pid (f), SIGSTOP), ==, 0);
  on_disk = task_on_disk (f, uuid);
  if (g_strcmp0 (on_disk, task) != 0)
    g_error ("%s of server %s ended before the kill, so this case proves "
             "nothing", task, uuid);
  g_test_message ("killing the daemon during %s of %s", task, uuid);
  daemon_stop (f, SIGKILL);
  daemon_start (f);
}

/* Sends a request without waiting for its answer, which a killed daemon
 * never gives. */
static void
send_async (Fixture *f,
            const char *path,
            const char *json)
{
  g_autofree char *url = g_strconcat ("http://localhost", path, NULL);
  g_autoptr(GBytes) body = g_bytes_new (json, strlen (json));
  g_autoptr(SoupMessage) msg = soup_message_new ("POST", url);

  soup_message_set_request_body_from_bytes (msg, "application/json", body);
  soup_session_send_async (f->session, msg, G_PRIORITY_DEFAULT, NULL, NULL,
                           NULL);
}

/* After a restart: no task, and the server ACTIVE, SHUTOFF or PAUSED as
 * libvirt has it, ERROR only when libvirt has no domain, or gone with
 * nothing left.  Returns the status ("DELETED" when gone). */
static char *
check_consistent (Fixture *f,
                  const char *id)
{
  g_autofree char *path = g_strconcat ("/v2.1/servers/", id, NULL);
  g_autoptr(JsonNode) reply = NULL;
  JsonObject *server;
  const char *status;
  int running = domain_running (f, id);

  if (nlx_test_call (f->session, "GET", path, NULL, &reply) == 404)
    {
      g_assert_cmpint (running, ==, -1);
      g_assert_false (instance_dir_exists (f, id));
      return g_strdup ("DELETED");
    }
  server = nlx_test_object_at (reply, "server");
  status = json_object_get_string_member (server, "status");
  g_test_message ("server %s came back %s", id, status);
  g_assert_null (task_state_of (reply));
  if (g_str_equal (status, "ACTIVE"))
    g_assert_cmpint (domain_state (f, id), ==, VIR_DOMAIN_RUNNING);
  else if (g_str_equal (status, "SHUTOFF"))
    g_assert_cmpint (running, ==, 0);
  else if (g_str_equal (status, "PAUSED"))
    g_assert_cmpint (domain_state (f, id), ==, VIR_DOMAIN_PAUSED);
  else if (g_str_equal (status, "ERROR"))
    {
      const char *fault = json_object_get_string_member (
        json_object_get_object_member (server, "fault"), "message");

      /* Only an interrupted build ends in ERROR: cleaned up, or, when
       * its domain runs, left alone and said so (a running domain is
       * never destroyed on the strength of a record alone). */
      if (running == 1)
        g_assert_nonnull (strstr (fault, "left alone"));
      else
        g_assert_cmpint (running, ==, -1);
    }
  else
    g_error ("server %s came back %s", id, status);
  return g_strdup (status);
}

static void
wait_deleted (Fixture *f,
              const char *id)
{
  g_autofree char *path = g_strconcat ("/v2.1/servers/", id, NULL);
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;

  while (nlx_test_call (f->session, "GET", path, NULL, NULL) != 404)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (50 * 1000);
    }
}

/* kill -9 of the daemon in the middle of each kind of operation, each
 * checked to be in flight at the kill, then what the restart makes of
 * it, as Nova's init_host would. */
static void
test_crash_recovery (Fixture *f)
{
  g_autofree char *tree = volume_tree (f, "tree");
  g_autofree char *deaf = boot_image (f, "nlxtest-crash-deaf", DEAF_IMAGE);
  g_autofree char *plain = boot (f, "nlxtest-crash-plain");
  g_autofree char *doomed = boot (f, "nlxtest-crash-delete");
  g_autofree char *plain_path = g_strconcat ("/v2.1/servers/", plain, NULL);
  g_autofree char *plain_action = g_strconcat (plain_path, "/action", NULL);
  g_autofree char *attachments = g_strconcat (plain_path,
                                              "/os-volume_attachments", NULL);
  g_autofree char *doomed_path = g_strconcat ("/v2.1/servers/", doomed, NULL);
  g_autofree char *spawning = NULL;
  g_autofree char *big = NULL;
  g_autofree char *status = NULL;
  g_autofree char *xml = NULL;
  g_autoptr(JsonNode) list = NULL;
  g_autoptr(virDomain) dom = NULL;
  unsigned int plain_id;
  int fd;

  /* spawn: a build cut short is ERROR, cleaned up unless its container
   * already runs (check_consistent()). */
  spawning = nlx_test_create (f->session, "nlxtest-crash-spawn", IMAGE, NULL);
  kill_during (f, spawning, "spawning", is_defined, NULL);
  status = check_consistent (f, spawning);
  g_assert_cmpstr (status, ==, "ERROR");
  if (domain_running (f, spawning) == -1)
    g_assert_false (instance_dir_exists (f, spawning));
  g_clear_pointer (&status, g_free);

  /* reboot, stop: init ignores the signal, so each waits its timeout;
   * the restart takes what runs. */
  g_assert_cmpint (nlx_test_act (f->session, deaf,
                                 "{\"reboot\": {\"type\": \"SOFT\"}}"), ==, 202);
  kill_during (f, deaf, "rebooting", after_a_moment, NULL);
  status = check_consistent (f, deaf);
  g_assert_cmpstr (status, ==, "ACTIVE");
  g_clear_pointer (&status, g_free);
  g_assert_cmpint (nlx_test_act (f->session, deaf, "{\"os-stop\": null}"), ==,
                   202);
  kill_during (f, deaf, "powering-off", after_a_moment, NULL);
  status = check_consistent (f, deaf);
  g_assert_cmpstr (status, ==, "ACTIVE");
  g_clear_pointer (&status, g_free);

  /* attach: rolled back to detached, with nothing of it left. */
  create_volume (f, "nlxtest-crash-vol", tree);
  send_async (f, attachments, "{\"volumeAttachment\": {\"volumeId\": "
              "\"nlxtest-crash-vol\", \"device\": \"/dev/vdb\", "
              "\"mount_path\": \"/data\"}}");
  kill_during (f, plain, "attaching_volume", has_loop_device, NULL);
  status = check_consistent (f, plain);
  g_assert_cmpstr (status, ==, "ACTIVE");
  g_clear_pointer (&status, g_free);
  g_assert_cmpint (nlx_test_call (f->session, "GET", attachments, NULL, &list),
                   ==, 200);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (json_node_get_object (list),
                                                                         "volumeAttachments")),
                    ==, 0);
  g_assert_cmpuint (loop_devices_of (plain), ==, 0);
  dom = virDomainLookupByUUIDString (f->conn, plain);
  xml = virDomainGetXMLDesc (dom, VIR_DOMAIN_XML_INACTIVE);
  g_assert_null (strstr (xml, "dev='vdb'"));
  assert_in_container (f, plain, "grep -q ' /data ' /proc/mounts", 1, NULL);

  /* snapshot: a running server is frozen during it; the restart thaws
   * it.  128 MiB in its root make the walk last. */
  big = g_strdup_printf ("/proc/%d/root/root/nlxtest-big", init_of (f, plain));
  fd = g_open (big, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, 128 * 1024 * 1024), ==, 0);
  close (fd);
  send_async (f, plain_action, "{\"createImage\": {\"name\": "
              "\"nlxtest-crash-snap\"}}");
  kill_during (f, plain, "image_snapshot", is_paused, NULL);
  status = check_consistent (f, plain);
  g_assert_cmpstr (status, ==, "ACTIVE");
  g_clear_pointer (&status, g_free);

  /* rebuild: whatever the kill left, the record says what libvirt has
   * (ERROR only without a domain), and it deletes clean. */
  plain_id = domain_id (f, plain);
  g_assert_cmpint (nlx_test_act (f->session, plain,
                                 "{\"rebuild\": {\"imageRef\": \"" IMAGE "\"}}"),
                   ==, 202);
  kill_during (f, plain, "rebuilding", is_not_domain, &plain_id);
  status = check_consistent (f, plain);
  g_clear_pointer (&status, g_free);

  /* delete: finished after the restart. */
  g_assert_cmpint (nlx_test_call (f->session, "DELETE", doomed_path, NULL, NULL),
                   ==, 204);
  kill_during (f, doomed, "deleting", is_not_running, NULL);
  wait_deleted (f, doomed);
  status = check_consistent (f, doomed);
  g_assert_cmpstr (status, ==, "DELETED");

  /* Whatever state they came back in, they still work and delete clean. */
  g_assert_cmpint (attach (f, deaf, "nlxtest-crash-vol",
                           ", \"device\": \"/dev/vdb\", \"mount_path\": \"/data\"",
                           NULL), ==, 200);
  assert_in_container (f, deaf, "cat /data/hello.txt", 0, "hello from a volume");
  delete_and_check (f, deaf);
  delete_and_check (f, plain);
  delete_and_check (f, spawning);
  g_assert_cmpuint (loop_devices_of (deaf), ==, 0);
  g_assert_cmpuint (loop_devices_of (plain), ==, 0);
}

static void
test_volume_attach_detach (Fixture *f)
{
  g_autofree char *tree = volume_tree (f, "tree");
  g_autofree char *id = NULL;
  g_autofree char *other = NULL;
  g_autofree char *list_path = NULL;
  g_autofree char *vol_path = g_strconcat ("/v2.1/os-volumes/", "nlxtest-data",
                                           NULL);
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(JsonNode) list = NULL;
  g_autoptr(virDomain) dom = NULL;
  g_autofree char *xml = NULL;
  g_autofree char *mountinfo = NULL;
  JsonArray *attachments;

  create_volume (f, "nlxtest-data", tree);
  id = boot (f, "nlxtest-volume");
  other = boot (f, "nlxtest-volume-other");

  g_assert_cmpint (attach (f, id, "nlxtest-data",
                           ", \"device\": \"/dev/vdb\", \"mount_path\": \"/data\"",
                           &reply), ==, 200);
  g_assert_cmpstr (json_object_get_string_member (
                     nlx_test_object_at (reply, "volumeAttachment"), "device"),
                   ==, "/dev/vdb");
  list_path = g_strconcat ("/v2.1/servers/", id, "/os-volume_attachments", NULL);
  g_assert_cmpint (nlx_test_call (f->session, "GET", list_path, NULL, &list),
                   ==, 200);
  attachments = json_object_get_array_member (json_node_get_object (list),
                                              "volumeAttachments");
  g_assert_cmpuint (json_array_get_length (attachments), ==, 1);
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (nlx_test_call (f->session, "GET", vol_path, NULL, &reply),
                   ==, 200);
  g_assert_cmpstr (json_object_get_string_member (
                     nlx_test_object_at (reply, "volume"), "status"), ==,
                   "in-use");

  /* virsh shows a read-only disk over a loop device. */
  dom = virDomainLookupByUUIDString (f->conn, id);
  xml = virDomainGetXMLDesc (dom, VIR_DOMAIN_XML_INACTIVE);
  g_assert_nonnull (strstr (xml, "dev='vdb'"));
  g_assert_nonnull (strstr (xml, "<readonly/>"));
  g_assert_nonnull (strstr (xml, "/dev/loop"));
  g_assert_cmpuint (loop_devices_of (id), ==, 1);
  /* The mount is the container's alone. */
  g_assert_true (g_file_get_contents ("/proc/self/mountinfo", &mountinfo, NULL,
                                      NULL));
  g_assert_null (strstr (mountinfo, " /data "));

  check_volume_inside (f, id);

  /* One server at a time, and not deleted under it. */
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (attach (f, other, "nlxtest-data", NULL, &reply), ==, 409);
  nlx_test_assert_fault (reply, "conflictingRequest", 409);
  g_assert_cmpuint (loop_devices_of (other), ==, 0);
  nlx_test_expect_fault (f->session, "DELETE", vol_path, NULL, 409,
                         "conflictingRequest");

  /* It comes back after every kind of restart. */
  nlx_test_act_and_wait (f->session, id, "{\"reboot\": {\"type\": \"SOFT\"}}",
                         "rebooting", "ACTIVE");
  assert_in_container (f, id, "cat /data/hello.txt", 0, "hello from a volume");
  nlx_test_act_and_wait (f->session, id, "{\"reboot\": {\"type\": \"HARD\"}}",
                         "rebooting_hard", "ACTIVE");
  assert_in_container (f, id, "cat /data/hello.txt", 0, "hello from a volume");
  nlx_test_act_and_wait (f->session, id, "{\"os-stop\": null}", "powering-off",
                         "SHUTOFF");
  nlx_test_act_and_wait (f->session, id, "{\"os-start\": null}", "powering-on",
                         "ACTIVE");
  check_volume_inside (f, id);

  /* Detach leaves no mount, node or loop device. */
  g_assert_cmpint (detach (f, id, "nlxtest-data"), ==, 202);
  assert_in_container (f, id, "grep -q ' /data ' /proc/mounts", 1, NULL);
  assert_in_container (f, id, "test -e /dev/vdb", 1, NULL);
  g_assert_cmpuint (loop_devices_of (id), ==, 0);
  g_clear_pointer (&xml, g_free);
  xml = virDomainGetXMLDesc (dom, VIR_DOMAIN_XML_INACTIVE);
  g_assert_null (strstr (xml, "dev='vdb'"));
  g_assert_cmpint (detach (f, id, "nlxtest-data"), ==, 404);

  /* Free again: another server takes it; deleting that one releases it. */
  g_assert_cmpint (attach (f, other, "nlxtest-data", NULL, NULL), ==, 200);
  g_assert_cmpuint (loop_devices_of (other), ==, 1);
  delete_and_check (f, other);
  g_assert_cmpuint (loop_devices_of (other), ==, 0);
  g_assert_cmpint (nlx_test_call (f->session, "DELETE", vol_path, NULL, NULL),
                   ==, 202);
  delete_and_check (f, id);
}

/* Attaches (mounted at /data) and detaches at once, checking each
 * answer: libvirt must already know the container's init. */
static void
attach_detach_now (Fixture *f,
                   const char *id,
                   const char *volume,
                   const char *when)
{
  g_autoptr(JsonNode) reply = NULL;
  g_autofree char *path = g_strconcat ("/v2.1/servers/", id,
                                       "/os-volume_attachments/", volume, NULL);
  guint status;

  status = attach (f, id, volume,
                   ", \"device\": \"/dev/vdb\", \"mount_path\": \"/data\"",
                   &reply);
  if (status != 200)
    g_error ("attach right after %s answered %u: %s", when, status,
             reply ? json_to_string (reply, FALSE) : "");
  g_clear_pointer (&reply, json_node_unref);
  status = nlx_test_call (f->session, "DELETE", path, NULL, &reply);
  if (status != 202)
    g_error ("detach right after %s answered %u: %s", when, status,
             reply ? json_to_string (reply, FALSE) : "");
  g_assert_cmpuint (loop_devices_of (id), ==, 0);
}

/* Detaches a volume attached before the server (re)started, at once. */
static void
detach_now (Fixture *f,
            const char *id,
            const char *volume,
            const char *when)
{
  g_autoptr(JsonNode) reply = NULL;
  g_autofree char *path = g_strconcat ("/v2.1/servers/", id,
                                       "/os-volume_attachments/", volume, NULL);
  guint status = nlx_test_call (f->session, "DELETE", path, NULL, &reply);

  if (status != 202)
    g_error ("detach right after %s answered %u: %s", when, status,
             reply ? json_to_string (reply, FALSE) : "");
}

/* Servers that stop and start over and over, as bench-soak's do: each
 * stop is cleaned up in libvirtd's one event loop thread, which also
 * delivers the init pids of containers that start meanwhile. */
#define NOISE_SERVERS 4
typedef struct {
  Fixture *f;
  char *ids[NOISE_SERVERS];
  gint stop;
} Noise;

static gpointer
noise_thread (gpointer data)
{
  Noise *noise = data;
  g_autoptr(GSocketAddress) address =
    g_unix_socket_address_new (noise->f->socket);
  g_autoptr(SoupSession) session =
    soup_session_new_with_options ("remote-connectable", address,
                                   "timeout", 120, NULL);

  while (!g_atomic_int_get (&noise->stop))
    for (guint i = 0; i < NOISE_SERVERS; i++)
      {
        g_autofree char *status = nlx_test_status_of (session, noise->ids[i]);

        if (g_str_equal (status, "ACTIVE"))
          nlx_test_act (session, noise->ids[i], "{\"os-stop\": null}");
        else if (g_str_equal (status, "SHUTOFF"))
          nlx_test_act (session, noise->ids[i], "{\"os-start\": null}");
        g_usleep (20 * 1000);
      }
  return NULL;
}

/* ACTIVE means the container can take volumes: libvirt learns the pid
 * of a new init from its controller a moment after init runs (up to
 * seconds while other containers stop), and until then its attach
 * refused with 409 and its detach failed with 500 ("Kernel does not
 * provide mount namespace": it tried the previous boot's init).  Rounds
 * of restarts while other servers stop and start, since it is a race. */
#define QUICK_SERVERS 2
#define QUICK_ROUNDS 6
static void
test_volume_right_after_start (Fixture *f)
{
  char *ids[QUICK_SERVERS];
  char *volumes[QUICK_SERVERS];
  Noise noise = { f };
  GThread *thread;

  for (guint i = 0; i < NOISE_SERVERS; i++)
    noise.ids[i] = nlx_test_create (f->session, "nlxtest-noise", IMAGE, NULL);
  for (guint i = 0; i < QUICK_SERVERS; i++)
    {
      g_autofree char *name = g_strdup_printf ("tree%u", i);
      g_autofree char *tree = volume_tree (f, name);

      volumes[i] = g_strdup_printf ("nlxtest-quick%u", i);
      create_volume (f, volumes[i], tree);
      ids[i] = nlx_test_create (f->session, volumes[i], IMAGE, NULL);
    }
  for (guint i = 0; i < NOISE_SERVERS; i++)
    nlx_test_wait_for_status (f->session, noise.ids[i], "ACTIVE");
  thread = g_thread_new ("noise", noise_thread, &noise);
  for (guint i = 0; i < QUICK_SERVERS; i++)
    {
      nlx_test_wait_for_status (f->session, ids[i], "ACTIVE");
      attach_detach_now (f, ids[i], volumes[i], "spawn");
    }
  for (guint round = 0; round < QUICK_ROUNDS; round++)
    {
      for (guint i = 0; i < QUICK_SERVERS; i++)
        g_assert_cmpint (nlx_test_act (f->session, ids[i],
                                       "{\"reboot\": {\"type\": \"HARD\"}}"),
                         ==, 202);
      for (guint i = 0; i < QUICK_SERVERS; i++)
        {
          nlx_test_wait_for_status (f->session, ids[i], "ACTIVE");
          attach_detach_now (f, ids[i], volumes[i], "a hard reboot");
        }
      /* Attached before: the reboot mounts it again, detach undoes it. */
      for (guint i = 0; i < QUICK_SERVERS; i++)
        {
          g_assert_cmpint (attach (f, ids[i], volumes[i],
                                   ", \"device\": \"/dev/vdb\", "
                                   "\"mount_path\": \"/data\"", NULL), ==, 200);
          g_assert_cmpint (nlx_test_act (f->session, ids[i],
                                         "{\"reboot\": {\"type\": \"HARD\"}}"),
                           ==, 202);
        }
      for (guint i = 0; i < QUICK_SERVERS; i++)
        {
          nlx_test_wait_for_status (f->session, ids[i], "ACTIVE");
          detach_now (f, ids[i], volumes[i], "a hard reboot");
          g_assert_cmpuint (loop_devices_of (ids[i]), ==, 0);
        }
      /* As bench-soak's cycle: attached, stopped and started, then
       * detached and attached at once. */
      for (guint i = 0; i < QUICK_SERVERS; i++)
        {
          g_assert_cmpint (attach (f, ids[i], volumes[i],
                                   ", \"device\": \"/dev/vdb\", "
                                   "\"mount_path\": \"/data\"", NULL), ==, 200);
          nlx_test_act_and_wait (f->session, ids[i], "{\"os-stop\": null}",
                                 "powering-off", "SHUTOFF");
          g_assert_cmpint (nlx_test_act (f->session, ids[i],
                                         "{\"os-start\": null}"), ==, 202);
        }
      for (guint i = 0; i < QUICK_SERVERS; i++)
        {
          nlx_test_wait_for_status (f->session, ids[i], "ACTIVE");
          detach_now (f, ids[i], volumes[i], "a start");
          attach_detach_now (f, ids[i], volumes[i], "a start");
        }
    }
  g_atomic_int_set (&noise.stop, 1);
  g_thread_join (thread);
  for (guint i = 0; i < QUICK_SERVERS; i++)
    {
      delete_and_check (f, ids[i]);
      g_free (ids[i]);
      g_free (volumes[i]);
    }
  for (guint i = 0; i < NOISE_SERVERS; i++)
    {
      /* A delete waits for a stop or start still running. */
      delete_and_check (f, noise.ids[i]);
      g_free (noise.ids[i]);
    }
}

/* busybox reboot run inside: init restarts the container itself and
 * libvirt starts it again, with no operation of the daemon's; the
 * daemon must mount the volume again in the new container. */
static void
test_volume_guest_reboot (Fixture *f)
{
  g_autofree char *tree = volume_tree (f, "tree");
  g_autofree char *id = NULL;
  g_autofree char *list_path = NULL;
  unsigned int first_id;
  gint64 deadline;

  create_volume (f, "nlxtest-reboot-data", tree);
  id = boot (f, "nlxtest-guest-reboot");
  g_assert_cmpint (attach (f, id, "nlxtest-reboot-data",
                           ", \"device\": \"/dev/vdb\", \"mount_path\": \"/data\"",
                           NULL), ==, 200);
  assert_in_container (f, id, "cat /data/hello.txt", 0, "hello from a volume");

  first_id = domain_id (f, id);
  /* In the background, so the agent reports before init goes down. */
  assert_in_container (f, id, "(sleep 0.5; reboot) >/dev/null 2>&1 &", 0, NULL);
  deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  while (domain_running (f, id) != 1 || domain_id (f, id) == first_id)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (50 * 1000);
    }

  /* The daemon only hears of it through libvirt's event, after the new
   * init may already run: give it a few seconds. */
  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  for (;;)
    {
      g_autofree char *output = NULL;

      if (in_container (f, id, "test -f /data/hello.txt", &output) == 0)
        break;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (100 * 1000);
    }
  assert_in_container (f, id, "cat /data/hello.txt", 0, "hello from a volume");
  assert_in_container (f, id, "grep ' /data ' /proc/mounts | "
                       "grep -q ' ro,nosuid,nodev,noexec'", 0, NULL);
  /* Once, not stacked on a mount the daemon made at the same time. */
  assert_in_container (f, id, "grep -c ' /data ' /proc/mounts", 0, "1");
  list_path = g_strconcat ("/v2.1/servers/", id, "/os-volume_attachments", NULL);
  g_assert_cmpint (nlx_test_call (f->session, "GET", list_path, NULL, NULL),
                   ==, 200);

  /* A reboot through the API after it mounts it once too. */
  nlx_test_act_and_wait (f->session, id, "{\"reboot\": {\"type\": \"HARD\"}}",
                         "rebooting_hard", "ACTIVE");
  assert_in_container (f, id, "grep -c ' /data ' /proc/mounts", 0, "1");
  delete_and_check (f, id);
}

static void
write_volume (Fixture *f,
              const char *id,
              const char * const *mkfs)
{
  g_autofree char *dir = volumes_dir (f);
  g_autofree char *path = g_build_filename (dir, id, NULL);
  g_autoptr(GStrvBuilder) argv = g_strv_builder_new ();
  g_auto(GStrv) args = NULL;
  int fd;

  g_mkdir_with_parents (dir, 0700);
  fd = g_open (path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, 320 * 1024 * 1024), ==, 0);
  close (fd);
  if (mkfs == NULL)
    return;
  g_strv_builder_addv (argv, (const char **) mkfs);
  g_strv_builder_add (argv, path);
  args = g_strv_builder_end (argv);
  run_command ((const char * const *) args);
}

/* Every refusal is clear and leaves the server as it was. */
static void
test_volume_refused (Fixture *f)
{
  static const struct {
    const char *volume;
    const char *extra;
    guint status;
  } refused[] = {
    { "nlxtest-btrfs", ", \"mount_path\": \"/data\"", 400 },
    { "nlxtest-vfat", ", \"mount_path\": \"/data\"", 400 },
    { "nlxtest-empty", ", \"mount_path\": \"/data\"", 400 },
    { "nlxtest-two", ", \"mount_path\": \"/data\"", 400 },
    { "nlxtest-broken", ", \"mount_path\": \"/data\"", 400 },
    { "nlxtest-escape", NULL, 400 },
    { "../volumes/nlxtest-empty", NULL, 400 },
    { "a/b", NULL, 400 },
    { "nlxtest-missing", NULL, 404 },
    { "nlxtest-empty", ", \"device\": \"/dev/sda\"", 400 },
    { "nlxtest-empty", ", \"mount_path\": \"/proc/x\"", 400 },
    { "nlxtest-empty", ", \"mount_path\": \"/a/../b\"", 400 },
  };
  g_autofree char *id = boot (f, "nlxtest-refused");
  g_autofree char *dir = volumes_dir (f);
  g_autofree char *escape = g_build_filename (dir, "nlxtest-escape", NULL);
  g_autofree char *outside = g_build_filename (f->dir, "outside", NULL);
  g_autofree char *two = g_build_filename (dir, "nlxtest-two", NULL);
  g_autofree char *xfs = g_build_filename (f->dir, "xfs-head", NULL);
  g_autofree char *broken = g_build_filename (dir, "nlxtest-broken", NULL);
  g_autoptr(virDomain) dom = virDomainLookupByUUIDString (f->conn, id);
  g_autofree char *xml_before = virDomainGetXMLDesc (dom, VIR_DOMAIN_XML_INACTIVE);

  write_volume (f, "nlxtest-btrfs", (const char * const []) { "mkfs.btrfs", "-q", NULL });
  write_volume (f, "nlxtest-vfat", (const char * const []) { "mkfs.vfat", NULL });
  write_volume (f, "nlxtest-empty", NULL);
  /* ext4 with an XFS superblock in front: two signatures. */
  write_volume (f, "nlxtest-two", (const char * const []) { "mkfs.ext4", "-q", NULL });
  run_command ((const char * const []) { "truncate", "-s", "320M", xfs, NULL });
  run_command ((const char * const []) { "mkfs.xfs", "-q", xfs, NULL });
  {
    g_autofree char *of = g_strconcat ("of=", two, NULL);
    g_autofree char *in = g_strconcat ("if=", xfs, NULL);

    run_command ((const char * const []) { "dd", in, of, "bs=512", "count=1",
                                           "conv=notrunc", "status=none", NULL });
  }
  /* ext4 whose superblock magic is gone. */
  write_volume (f, "nlxtest-broken", (const char * const []) { "mkfs.ext4", "-q", NULL });
  {
    g_autofree char *of = g_strconcat ("of=", broken, NULL);

    run_command ((const char * const []) { "dd", "if=/dev/zero", of, "bs=1",
                                           "seek=1080", "count=2", "conv=notrunc",
                                           "status=none", NULL });
  }
  /* A symlink out of the volume directory. */
  run_command ((const char * const []) { "touch", outside, NULL });
  g_assert_cmpint (symlink (outside, escape), ==, 0);

  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_autoptr(JsonNode) reply = NULL;
      g_autofree char *xml = NULL;
      JsonObject *fault;

      g_test_message ("attaching %s%s", refused[i].volume,
                      refused[i].extra ? refused[i].extra : "");
      g_assert_cmpint (attach (f, id, refused[i].volume, refused[i].extra,
                               &reply), ==, refused[i].status);
      fault = nlx_test_object_at (reply, refused[i].status == 404 ? "itemNotFound"
                                                                   : "badRequest");
      g_test_message ("  -> %s", json_object_get_string_member (fault, "message"));
      g_assert_cmpstr (nlx_test_status_of (f->session, id), ==, "ACTIVE");
      g_assert_cmpuint (loop_devices_of (id), ==, 0);
      xml = virDomainGetXMLDesc (dom, VIR_DOMAIN_XML_INACTIVE);
      g_assert_cmpstr (xml, ==, xml_before);
    }
  /* The same empty device is fine without a mount. */
  g_assert_cmpint (attach (f, id, "nlxtest-empty", NULL, NULL), ==, 200);
  assert_in_container (f, id, "test -b /dev/vdb", 0, NULL);
  g_assert_cmpint (detach (f, id, "nlxtest-btrfs"), ==, 404);
  nlx_test_expect_fault (f->session, "POST",
                         "/v2.1/servers/7e57c0de-0000-4000-8000-000000000000/os-volume_attachments",
                         "{\"volumeAttachment\": {\"volumeId\": \"nlxtest-vfat\"}}",
                         404, "itemNotFound");
  delete_and_check (f, id);
  g_assert_cmpuint (loop_devices_of (id), ==, 0);
}

static char *
file_checksum (const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *data = NULL;
  gsize length;

  g_file_get_contents (path, &data, &length, &error);
  g_assert_no_error (error);
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, (guchar *) data, length);
}

/* A dirty journal is not replayed: the volume's bytes stay the same. */
static void
test_volume_dirty_journal (Fixture *f)
{
  g_autofree char *tree = volume_tree (f, "tree");
  g_autofree char *dir = volumes_dir (f);
  g_autofree char *path = g_build_filename (dir, "nlxtest-dirty", NULL);
  g_autofree char *cmds = g_build_filename (f->dir, "debugfs.cmds", NULL);
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *id = NULL;
  g_autofree char *dumpe2fs = NULL;
  g_autoptr(GError) error = NULL;

  create_volume (f, "nlxtest-dirty", tree);
  /* debugfs writes a journal transaction without mounting anything. */
  g_file_set_contents (cmds, "jo\njw -b 333 /dev/null\njc\n", -1, &error);
  g_assert_no_error (error);
  run_command ((const char * const []) { "debugfs", "-w", "-f", cmds, path, NULL });
  g_spawn_sync (NULL, (char *[]) { "dumpe2fs", "-h", path, NULL }, NULL,
                G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                &dumpe2fs, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (dumpe2fs, "needs_recovery"));
  before = file_checksum (path);

  id = boot (f, "nlxtest-dirty");
  g_assert_cmpint (attach (f, id, "nlxtest-dirty",
                           ", \"mount_path\": \"/data\"", NULL), ==, 200);
  assert_in_container (f, id, "cat /data/hello.txt", 0, "hello from a volume");
  g_assert_cmpint (detach (f, id, "nlxtest-dirty"), ==, 202);
  after = file_checksum (path);
  g_assert_cmpstr (before, ==, after);
  delete_and_check (f, id);
}

/* The root from a volume, read-only underneath, and a data volume
 * mounted from the start. */
static void
test_boot_from_volume (Fixture *f)
{
  g_autofree char *root_tree = g_build_filename (f->dir, "root", NULL);
  g_autofree char *tree = volume_tree (f, "tree");
  g_autofree char *dir = volumes_dir (f);
  g_autofree char *root_path = g_build_filename (dir, "nlxtest-root", NULL);
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *id = NULL;
  g_autofree char *upper = NULL;
  g_autofree char *attachments = NULL;
  g_autofree char *root_attachment = NULL;
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(JsonNode) listed = NULL;
  JsonArray *list;

  create_volume (f, "nlxtest-root", root_tree);
  create_volume (f, "nlxtest-data", tree);
  before = file_checksum (root_path);

  id = nlx_test_create (f->session, "nlxtest-bfv", IMAGE,
                        ", \"block_device_mapping_v2\": ["
                        "{\"boot_index\": 0, \"uuid\": \"nlxtest-root\", "
                        "\"source_type\": \"volume\", \"destination_type\": \"volume\"},"
                        "{\"uuid\": \"nlxtest-data\", \"source_type\": \"volume\", "
                        "\"destination_type\": \"volume\", \"mount_path\": \"/data\"}]");
  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  reply = nlx_test_show (f->session, id);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (
                      nlx_test_object_at (reply, "server"),
                      "os-extended-volumes:volumes_attached")), ==, 2);
  assert_in_container (f, id, "cat /data/hello.txt", 0, "hello from a volume");
  assert_in_container (f, id, "test -b /dev/vdb", 0, NULL);
  /* Writes land in the instance's upper layer, never on the volume. */
  assert_in_container (f, id, "echo changed > /etc/nlxtest && cat /etc/nlxtest",
                       0, "changed");
  upper = g_build_filename (f->dir, "instances", id, "upper", "etc", "nlxtest",
                            NULL);
  g_assert_true (g_file_test (upper, G_FILE_TEST_EXISTS));
  nlx_test_act_and_wait (f->session, id, "{\"reboot\": {\"type\": \"HARD\"}}",
                         "rebooting_hard", "ACTIVE");
  assert_in_container (f, id, "cat /etc/nlxtest /data/hello.txt", 0,
                       "changed\nhello from a volume");
  nlx_test_expect_fault (f->session, "DELETE", "/v2.1/os-volumes/nlxtest-root",
                         NULL, 409, "conflictingRequest");
  /* The root volume is an attachment at "/", first, and is not
   * detached: 409, and the server keeps running on it. */
  attachments = g_strconcat ("/v2.1/servers/", id, "/os-volume_attachments",
                             NULL);
  g_assert_cmpint (nlx_test_call (f->session, "GET", attachments, NULL, &listed),
                   ==, 200);
  list = json_object_get_array_member (json_node_get_object (listed),
                                       "volumeAttachments");
  g_assert_cmpuint (json_array_get_length (list), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (list, 0),
                                                  "volumeId"), ==, "nlxtest-root");
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (list, 0),
                                                  "device"), ==, "/");
  root_attachment = g_strconcat (attachments, "/nlxtest-root", NULL);
  nlx_test_expect_fault (f->session, "DELETE", root_attachment, NULL, 409,
                         "conflictingRequest");
  assert_in_container (f, id, "cat /etc/nlxtest", 0, "changed");
  delete_and_check (f, id);
  g_assert_cmpuint (loop_devices_of (id), ==, 0);
  after = file_checksum (root_path);
  g_assert_cmpstr (before, ==, after);
}

/* kill -9 while an attach runs: after the restart the attachment is
 * either whole or gone, never half made. */
static void
test_volume_crash (Fixture *f)
{
  g_autofree char *tree = volume_tree (f, "tree");
  g_autofree char *id = NULL;
  g_autofree char *list_path = NULL;
  g_autoptr(JsonNode) list = NULL;
  g_autoptr(virDomain) dom = NULL;
  g_autofree char *xml = NULL;
  g_autofree char *path = NULL;
  SoupMessage *msg;
  guint attached;

  create_volume (f, "nlxtest-crash", tree);
  id = boot (f, "nlxtest-crash");
  path = g_strconcat ("/v2.1/servers/", id, "/os-volume_attachments", NULL);
  {
    g_autofree char *url = g_strconcat ("http://localhost", path, NULL);
    g_autoptr(GBytes) body = g_bytes_new_static (
      "{\"volumeAttachment\": {\"volumeId\": \"nlxtest-crash\", "
      "\"mount_path\": \"/data\"}}", strlen ("{\"volumeAttachment\": "
      "{\"volumeId\": \"nlxtest-crash\", \"mount_path\": \"/data\"}}"));

    msg = soup_message_new ("POST", url);
    soup_message_set_request_body_from_bytes (msg, "application/json", body);
    soup_session_send_async (f->session, msg, G_PRIORITY_DEFAULT, NULL, NULL,
                             NULL);
  }
  /* Let the request reach the daemon, then kill it mid-attach. */
  for (int i = 0; i < 5; i++)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (10 * 1000);
    }
  daemon_stop (f, SIGKILL);
  g_object_unref (msg);
  daemon_start (f);

  list_path = g_strconcat ("/v2.1/servers/", id, "/os-volume_attachments", NULL);
  g_assert_cmpint (nlx_test_call (f->session, "GET", list_path, NULL, &list),
                   ==, 200);
  attached = json_array_get_length (json_object_get_array_member (
                                      json_node_get_object (list),
                                      "volumeAttachments"));
  dom = virDomainLookupByUUIDString (f->conn, id);
  xml = virDomainGetXMLDesc (dom, VIR_DOMAIN_XML_INACTIVE);
  g_test_message ("after the crash the volume is %s",
                  attached ? "attached" : "detached");
  g_assert_cmpuint (loop_devices_of (id), ==, attached);
  g_assert_cmpint (strstr (xml, "dev='vdb'") != NULL, ==, attached);
  if (attached)
    assert_in_container (f, id, "cat /data/hello.txt", 0, "hello from a volume");
  else
    g_assert_cmpint (attach (f, id, "nlxtest-crash", NULL, NULL), ==, 200);
  delete_and_check (f, id);
  g_assert_cmpuint (loop_devices_of (id), ==, 0);
}

/* [volumes] verify = fsck: a damaged filesystem is refused before the
 * kernel sees it, a sound one is mounted. */
static void
test_volume_fsck (Fixture *f)
{
  g_autofree char *tree = volume_tree (f, "tree");
  g_autofree char *dir = volumes_dir (f);
  g_autofree char *bad = g_build_filename (dir, "nlxtest-bad", NULL);
  g_autofree char *block = NULL;
  g_autofree char *freeb = NULL;
  g_autofree char *id = NULL;
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(GError) error = NULL;
  const char *message;

  daemon_stop (f, SIGTERM);
  f->verify_fsck = TRUE;
  write_config (f);
  daemon_start (f);

  create_volume (f, "nlxtest-good", tree);
  create_volume (f, "nlxtest-bad", tree);
  /* Mark a block in use by hello.txt free: the kind of damage the kernel
   * would only find while reading. */
  g_spawn_sync (NULL, (char *[]) { "debugfs", "-R", "bmap hello.txt 0", bad, NULL },
                NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL, NULL,
                NULL, &block, NULL, NULL, &error);
  g_assert_no_error (error);
  freeb = g_strdup_printf ("freeb %s", g_strstrip (block));
  run_command ((const char * const []) { "debugfs", "-w", "-R", freeb, bad, NULL });

  id = boot (f, "nlxtest-fsck");
  g_assert_cmpint (attach (f, id, "nlxtest-bad", ", \"mount_path\": \"/data\"",
                           &reply), ==, 400);
  message = json_object_get_string_member (nlx_test_object_at (reply, "badRequest"),
                                           "message");
  g_test_message ("refused: %s", message);
  g_assert_nonnull (strstr (message, "nlxtest-bad"));
  g_assert_cmpuint (loop_devices_of (id), ==, 0);
  g_assert_cmpint (attach (f, id, "nlxtest-good", ", \"mount_path\": \"/data\"",
                           NULL), ==, 200);
  assert_in_container (f, id, "cat /data/hello.txt", 0, "hello from a volume");
  delete_and_check (f, id);
}

/* ---- secure by default ---------------------------------------------------- */

/* The host uid of a process. */
static guint
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

/* ---- libvirtd restart ---------------------------------------------------- */

/* ---- networking ------------------------------------------------------- */

/* The server's one fixed address on the case's bridge, with its MAC. */
static char *
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

static gboolean
bridge_has_port (Fixture *f,
                 const char *id)
{
  g_autofree char *path = g_strdup_printf ("/sys/class/net/%s/brif/nlx-%.8s",
                                           f->bridge, id);

  return g_file_test (path, G_FILE_TEST_EXISTS);
}

/* Pings are bounded (two echoes, two seconds each) and stay on the
 * case's own bridge. */
static void
assert_reaches (Fixture *f,
                const char *from,
                const char *address)
{
  g_autofree char *script = g_strdup_printf ("ping -c 2 -W 2 %s", address);

  assert_in_container (f, from, script, 0, NULL);
}

/* Two servers get their own addresses from the configured subnet, are
 * configured with them inside by libvirt, and reach each other and the
 * bridge; a power cycle keeps the address; a delete releases it. */
static void
test_network (Fixture *f)
{
  g_autofree char *a = boot (f, "nlxtest-net-a");
  g_autofree char *b = boot (f, "nlxtest-net-b");
  g_autofree char *gateway = g_strdup_printf ("%s.1", f->subnet);
  g_autofree char *mac_a = NULL;
  g_autofree char *address_a = address_of (f, a, &mac_a);
  g_autofree char *address_b = address_of (f, b, NULL);
  g_autofree char *expect_a = g_strdup_printf ("%s.2", f->subnet);
  g_autofree char *expect_b = g_strdup_printf ("%s.3", f->subnet);
  g_autofree char *shown = NULL;
  g_autofree char *c = NULL;
  g_autofree char *address_c = NULL;

  g_assert_cmpstr (address_a, ==, expect_a);
  g_assert_cmpstr (address_b, ==, expect_b);
  g_assert_true (bridge_has_port (f, a));
  g_assert_true (bridge_has_port (f, b));

  shown = g_strdup_printf ("%s/24", address_a);
  assert_in_container (f, a, "ip -4 -o addr show dev eth0 | "
                             "awk '{ print $4 }'", 0, shown);
  assert_in_container (f, a, "cat /sys/class/net/eth0/address", 0, mac_a);
  g_clear_pointer (&shown, g_free);
  shown = g_strdup_printf ("default via %s dev eth0", gateway);
  assert_in_container (f, a, "ip route | grep ^default | cut -d' ' -f1-5", 0,
                       shown);
  assert_reaches (f, a, gateway);
  assert_reaches (f, a, address_b);
  assert_reaches (f, b, address_a);

  /* Stopped, its veth is gone; started again, it has the same address. */
  nlx_test_act_and_wait (f->session, a, "{\"os-stop\": null}", "powering-off",
                         "SHUTOFF");
  g_assert_false (bridge_has_port (f, a));
  nlx_test_act_and_wait (f->session, a, "{\"os-start\": null}", "powering-on",
                         "ACTIVE");
  g_clear_pointer (&address_a, g_free);
  address_a = address_of (f, a, NULL);
  g_assert_cmpstr (address_a, ==, expect_a);
  assert_reaches (f, b, address_a);

  /* Deleted, its port and address are released; the next server may
   * have the address, and B keeps its own. */
  delete_and_check (f, a);
  g_assert_false (bridge_has_port (f, a));
  c = boot (f, "nlxtest-net-c");
  address_c = address_of (f, c, NULL);
  g_assert_cmpstr (address_c, ==, expect_a);
  g_clear_pointer (&address_b, g_free);
  address_b = address_of (f, b, NULL);
  g_assert_cmpstr (address_b, ==, expect_b);
  assert_reaches (f, c, address_b);
  delete_and_check (f, b);
  delete_and_check (f, c);
}

/* ---- snapshot and rebuild ----------------------------------------------- */

static void
rebuild_and_wait (Fixture *f,
                  const char *id,
                  const char *image)
{
  g_autofree char *body = g_strdup_printf ("{\"rebuild\": {\"imageRef\": "
                                           "\"%s\"}}", image);

  g_assert_cmpint (nlx_test_act (f->session, id, body), ==, 202);
  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  g_assert_cmpint (domain_running (f, id), ==, 1);
}

/* A snapshot holds the instance's changes (with its own ids, not the
 * host's) and not its volumes, and leaves it running; a server boots
 * from it; rebuild gives a new root and keeps id, address and volumes. */
static void
test_snapshot_rebuild (Fixture *f)
{
  g_autofree char *tree = volume_tree (f, "tree");
  g_autofree char *a = NULL;
  g_autofree char *b = NULL;
  g_autofree char *image = NULL;
  g_autofree char *image_path = NULL;
  g_autofree char *address = NULL;
  g_autofree char *again = NULL;
  g_autofree char *address_b = NULL;
  g_autofree char *repeat = NULL;
  g_autofree char *repeat_path = NULL;
  g_autofree char *status = NULL;
  g_autoptr(JsonNode) first = NULL;
  g_autoptr(JsonNode) second = NULL;

  create_volume (f, "nlxtest-snapdata", tree);
  a = boot (f, "nlxtest-snap-a");
  address = address_of (f, a, NULL);
  g_assert_cmpint (attach (f, a, "nlxtest-snapdata",
                           ", \"mount_path\": \"/data\"", NULL), ==, 200);
  assert_in_container (f, a, "echo snap > /root/marker && "
                             "chown 5:6 /root/marker && rm /bin/vi", 0, NULL);

  image = nlx_test_create_image (f->session, a, "{\"createImage\": "
                                 "{\"name\": \"nlxtest-snap\"}}");
  image_path = g_strconcat ("/v2.1/images/", image, NULL);
  /* Thawed again, and idle. */
  g_assert_cmpint (domain_state (f, a), ==, VIR_DOMAIN_RUNNING);
  status = nlx_test_status_of (f->session, a);
  g_assert_cmpstr (status, ==, "ACTIVE");
  assert_in_container (f, a, "cat /data/hello.txt", 0, "hello from a volume");

  /* Again, unchanged: an image of its own on the same stored tree (this
   * was refused with 409 as content already imported).  Deleting it
   * leaves the first whole: b boots from it below. */
  repeat = nlx_test_create_image (f->session, a, "{\"createImage\": "
                                  "{\"name\": \"nlxtest-snap-again\"}}");
  g_assert_cmpstr (repeat, !=, image);
  repeat_path = g_strconcat ("/v2.1/images/", repeat, NULL);
  g_assert_cmpint (nlx_test_call (f->session, "GET", image_path, NULL, &first),
                   ==, 200);
  g_assert_cmpint (nlx_test_call (f->session, "GET", repeat_path, NULL, &second),
                   ==, 200);
  g_assert_cmpstr (json_object_get_string_member (nlx_test_object_at (second, "image"),
                                                  "nova_lxc:checksum"), ==,
                   json_object_get_string_member (nlx_test_object_at (first, "image"),
                                                  "nova_lxc:checksum"));
  g_assert_cmpint (nlx_test_call (f->session, "DELETE", repeat_path, NULL, NULL),
                   ==, 204);

  b = boot_image (f, "nlxtest-snap-b", "nlxtest-snap");
  assert_in_container (f, b, "cat /root/marker", 0, "snap");
  assert_in_container (f, b, "stat -c %u:%g /root/marker /bin/busybox", 0,
                       "5:6\n0:0");
  assert_in_container (f, b, "test -e /bin/vi", 1, NULL);
  assert_in_container (f, b, "test -e /data/hello.txt", 1, NULL);
  nlx_test_expect_fault (f->session, "DELETE", image_path, NULL, 409,
                         "conflictingRequest");

  /* A new root from the original image: the changes are gone, the
   * server is the same one with the same address and volume. */
  rebuild_and_wait (f, a, IMAGE);
  assert_in_container (f, a, "test -e /root/marker", 1, NULL);
  assert_in_container (f, a, "test -e /bin/vi", 0, NULL);
  assert_in_container (f, a, "cat /data/hello.txt", 0, "hello from a volume");
  again = address_of (f, a, NULL);
  g_assert_cmpstr (again, ==, address);
  address_b = address_of (f, b, NULL);
  assert_reaches (f, a, address_b);
  /* And from the snapshot: they are back. */
  rebuild_and_wait (f, a, "nlxtest-snap");
  assert_in_container (f, a, "cat /root/marker", 0, "snap");
  assert_in_container (f, a, "cat /data/hello.txt", 0, "hello from a volume");

  delete_and_check (f, a);
  delete_and_check (f, b);
  g_assert_cmpint (nlx_test_call (f->session, "DELETE", image_path, NULL, NULL),
                   ==, 204);
}

static void
libvirtd (const char *command)
{
  g_autofree char *script = g_build_filename (g_getenv ("NLX_TOP_SRCDIR"),
                                              "tools", "libvirtd-service", NULL);

  run_command ((const char * const []) { script, command, NULL });
}

/* Waits for @id to be @wanted with no task, failing at once on ERROR:
 * a server libvirt runs must never be shown broken. */
static void
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

/* Restarts the daemon with shutdown_timeout @seconds. */
static void
set_shutdown_timeout (Fixture *f,
                      guint seconds)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  g_autofree char *wanted = g_strdup_printf ("shutdown_timeout = %u\n", seconds);
  g_auto(GStrv) parts = NULL;

  g_file_get_contents (f->config, &text, NULL, &error);
  g_assert_no_error (error);
  parts = g_strsplit (text, "shutdown_timeout = 20\n", 2);
  g_assert_cmpuint (g_strv_length (parts), ==, 2);
  g_free (text);
  text = g_strjoin (wanted, parts[0], parts[1], NULL);
  g_file_set_contents (f->config, text, -1, &error);
  g_assert_no_error (error);
  daemon_stop (f, SIGTERM);
  daemon_start (f);
}

static void
stop_in_flight (Fixture *f,
                const char *id)
{
  g_autoptr(JsonNode) reply = NULL;

  g_assert_cmpint (nlx_test_act (f->session, id, "{\"os-stop\": null}"), ==,
                   202);
  reply = nlx_test_show (f->session, id);
  g_assert_cmpstr (task_state_of (reply), ==, "powering-off");
}

static void
sleep_until (gint64 when)
{
  gint64 now = g_get_monotonic_time ();

  if (when > now)
    g_usleep (when - now);
}

/* libvirtd restarts under two stops in flight, each waiting for an init
 * that ignores its signal until shutdown_timeout (T = 14 s) runs out:
 * "late" runs out after libvirtd is back and so finishes the stop on the
 * new connection; "early" runs out while libvirtd is away, so its stop
 * fails half-way and the server must then take what libvirt reports once
 * it answers (still running), never ERROR. */
static void
test_libvirtd_restart (Fixture *f)
{
  const gint64 T = 14 * G_USEC_PER_SEC;
  g_autofree char *id = NULL;
  g_autofree char *early = NULL;
  g_autofree char *late = NULL;
  g_autofree char *action = NULL;
  gint64 t0;
  gint64 deadline;
  guint status;

  set_shutdown_timeout (f, T / G_USEC_PER_SEC);
  id = boot (f, "nlxtest-libvirtd");
  early = boot_image (f, "nlxtest-libvirtd-early", DEAF_IMAGE);
  late = boot_image (f, "nlxtest-libvirtd-late", DEAF_IMAGE);
  action = g_strconcat ("/v2.1/servers/", id, "/action", NULL);

  t0 = g_get_monotonic_time ();
  stop_in_flight (f, early);
  sleep_until (t0 + 6 * G_USEC_PER_SEC);
  stop_in_flight (f, late);
  g_assert_cmpint (domain_running (f, early), ==, 1);
  g_assert_cmpint (domain_running (f, late), ==, 1);

  libvirtd ("stop");
  /* New operations are refused with 503 once the daemon has noticed;
   * reads still answer from the records. */
  deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  while ((status = nlx_test_act (f->session, id, "{\"pause\": null}")) != 503)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (200 * 1000);
    }
  nlx_test_expect_fault (f->session, "POST", action, "{\"os-stop\": null}",
                         503, "serviceUnavailable");
  g_assert_cmpint (nlx_test_call (f->session, "GET", "/v2.1/servers/detail",
                                  NULL, NULL), ==, 200);

  /* early's stop has given up by now; how it ended is unknown until
   * libvirt answers, so it still shows its task. */
  sleep_until (t0 + T + 1 * G_USEC_PER_SEC);
  {
    g_autoptr(JsonNode) reply = nlx_test_show (f->session, early);

    g_assert_cmpstr (json_object_get_string_member (nlx_test_object_at (reply, "server"),
                                                    "status"), ==, "ACTIVE");
    g_assert_cmpstr (task_state_of (reply), ==, "powering-off");
  }

  libvirtd ("start");
  /* late's timeout must still be ahead, or this case proves nothing. */
  g_assert_cmpint (g_get_monotonic_time (), <, t0 + 6 * G_USEC_PER_SEC + T);
  g_clear_pointer (&f->conn, virConnectClose);
  f->conn = virConnectOpen ("lxc:///");
  g_assert_nonnull (f->conn);
  /* Back once the daemon has reconnected; the instance ran on. */
  deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  while ((status = nlx_test_act (f->session, id, "{\"os-stop\": null}")) == 503)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (200 * 1000);
    }
  g_assert_cmpuint (status, ==, 202);
  nlx_test_wait_for_status (f->session, id, "SHUTOFF");
  g_assert_cmpint (domain_running (f, id), ==, 0);

  /* Each stop in flight ends as libvirt has it, never ERROR. */
  wait_settled (f, early, "ACTIVE");
  g_assert_cmpint (domain_running (f, early), ==, 1);
  wait_settled (f, late, "SHUTOFF");
  g_assert_cmpint (domain_running (f, late), ==, 0);
  delete_and_check (f, id);
  delete_and_check (f, early);
  delete_and_check (f, late);
}

int
main (int argc,
      char **argv)
{
  static const struct {
    const char *path;
    CaseFunc body;
  } cases[] = {
    { "/nlx/compute/servers/create-list-show-delete", test_create_list_show_delete },
    { "/nlx/compute/servers/reboot", test_reboot },
    { "/nlx/compute/servers/stop-start", test_stop_start },
    { "/nlx/compute/servers/pause-unpause", test_pause_unpause },
    { "/nlx/compute/servers/console-output", test_console_output },
    { "/nlx/compute/servers/init-exit-event", test_init_exit_event },
    { "/nlx/compute/servers/delete-in-each-state", test_delete_in_each_state },
    { "/nlx/compute/servers/negative", test_negative },
    { "/nlx/compute/crash-recovery", test_crash_recovery },
    { "/nlx/compute/one-daemon", test_one_daemon },
    { "/nlx/compute/secure/unprivileged-root", test_unprivileged_root },
    { "/nlx/compute/secure/privileged-flavor", test_privileged_flavor },
    { "/nlx/compute/network", test_network },
    { "/nlx/compute/images/snapshot-rebuild", test_snapshot_rebuild },
    { "/nlx/compute/volumes/attach-detach", test_volume_attach_detach },
    { "/nlx/compute/volumes/guest-reboot", test_volume_guest_reboot },
    { "/nlx/compute/volumes/right-after-start", test_volume_right_after_start },
    { "/nlx/compute/volumes/refused", test_volume_refused },
    { "/nlx/compute/volumes/dirty-journal", test_volume_dirty_journal },
    { "/nlx/compute/volumes/boot-from-volume", test_boot_from_volume },
    { "/nlx/compute/volumes/crash", test_volume_crash },
    { "/nlx/compute/volumes/fsck", test_volume_fsck },
  };

  g_test_init (&argc, &argv, NULL);
  /* Writing to a stopped libvirtd must fail, not kill the test. */
  signal (SIGPIPE, SIG_IGN);
  if (g_strcmp0 (g_getenv ("NLX_TEST_LIBVIRTD_RESTART"), "1") == 0)
    g_test_add ("/nlx/compute/libvirtd-restart", Fixture, test_libvirtd_restart,
                fixture_setup, run_case, fixture_teardown);
  else
    for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
      g_test_add (cases[i].path, Fixture, cases[i].body, fixture_setup,
                  run_case, fixture_teardown);
  return g_test_run ();
}
