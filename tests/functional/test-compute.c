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

#include <signal.h>
#include <sys/wait.h>
#include <glib/gstdio.h>
#include <gio/gunixsocketaddress.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "nlx-file.h"
#include "nlx-test-client.h"

#define IMAGE "nlxtest-busybox"
#define BROKEN_IMAGE "nlxtest-broken"
#define START_TIMEOUT_US (20 * G_USEC_PER_SEC)

typedef struct {
  char *dir;
  char *config;
  char *socket;
  SoupSession *session;
  virConnectPtr conn;
  gboolean usable;
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
    "[image " IMAGE "]\npath = %s\nos_shutdown_signal = SIGUSR2\n"
    "[image " BROKEN_IMAGE "]\npath = %s\nos_init_path = /no/such/init\n",
    f->dir, f->dir, f->socket, root, root);

  g_file_set_contents (f->config, text, -1, &error);
  g_assert_no_error (error);
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
      g_autofree char *mkrootfs = g_build_filename (g_getenv ("NLX_TOP_SRCDIR"),
                                                    "tools", "mkrootfs", NULL);
      g_autofree char *root = NULL;

      f->dir = g_dir_make_tmp ("nlx-test-compute-XXXXXX", &error);
      g_assert_no_error (error);
      g_setenv ("NLX_TEST_DIR", f->dir, TRUE);
      root = g_build_filename (f->dir, "root", NULL);
      run_command ((const char * const []) { mkrootfs, root, NULL });
    }
  f->config = g_build_filename (f->dir, "nova-lxc.conf", NULL);
  f->socket = g_build_filename (f->dir, "compute.sock", NULL);
  if (!g_test_subprocess ())
    write_config (f);
  address = g_unix_socket_address_new (f->socket);
  f->session = soup_session_new_with_options ("remote-connectable", address,
                                              "timeout", 120, NULL);
}

/* Removes the domain of every instance the daemon has a record of. */
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

      if (!g_uuid_string_is_valid (uuid))
        continue;
      dom = virDomainLookupByUUIDString (f->conn, uuid);
      if (dom == NULL)
        continue;
      g_test_message ("removing domain %s left by the case", uuid);
      if (virDomainIsActive (dom) == 1)
        virDomainDestroy (dom);
      virDomainUndefine (dom);
    }
}

static void
fixture_teardown (Fixture *f,
                  gconstpointer data)
{
  if (f->usable && !g_test_subprocess ())
    {
      g_autoptr(GError) error = NULL;

      daemon_stop (f, SIGKILL);
      /* A fresh connection: libvirtd may have restarted since setup. */
      g_clear_pointer (&f->conn, virConnectClose);
      f->conn = virConnectOpen ("lxc:///");
      g_assert_nonnull (f->conn);
      remove_recorded_domains (f);
      nlx_file_remove_tree (f->dir, &error);
      g_assert_no_error (error);
    }
  g_clear_object (&f->session);
  g_clear_pointer (&f->conn, virConnectClose);
  g_free (f->dir);
  g_free (f->config);
  g_free (f->socket);
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
  g_test_trap_subprocess (NULL, 600 * G_USEC_PER_SEC,
                          G_TEST_SUBPROCESS_INHERIT_STDERR);
  if (!g_test_trap_has_passed ())
    {
      g_autofree char *log = g_build_filename (f->dir, "daemon.log", NULL);
      g_autofree char *text = NULL;

      if (g_file_get_contents (log, &text, NULL, NULL))
        g_test_message ("daemon log:\n%s", text);
      g_test_fail_printf ("%s failed; its messages are above",
                          g_test_get_path ());
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
boot (Fixture *f,
      const char *name)
{
  char *id = nlx_test_create (f->session, name, IMAGE, NULL);

  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  g_assert_cmpint (domain_running (f, id), ==, 1);
  return id;
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

/* ---- crash recovery ------------------------------------------------------ */

/* After a restart: nothing in a task state, and each server ACTIVE,
 * SHUTOFF, PAUSED or ERROR as libvirt has it, or gone with nothing left. */
static void
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
      return;
    }
  server = nlx_test_object_at (reply, "server");
  status = json_object_get_string_member (server, "status");
  g_test_message ("server %s came back %s", id, status);
  if (g_str_equal (status, "ACTIVE"))
    g_assert_cmpint (running, ==, 1);
  else if (g_str_equal (status, "SHUTOFF"))
    g_assert_cmpint (running, ==, 0);
  else if (g_str_equal (status, "PAUSED"))
    g_assert_cmpint (domain_state (f, id), ==, VIR_DOMAIN_PAUSED);
  else if (g_str_equal (status, "ERROR"))
    {
      /* Only an interrupted build ends in ERROR, cleaned up. */
      g_assert_cmpint (running, ==, -1);
      g_assert_false (instance_dir_exists (f, id));
    }
  else
    g_error ("server %s came back %s", id, status);
}

static void
test_crash_recovery (Fixture *f)
{
  g_autofree char *rebooting = boot (f, "nlxtest-crash-reboot");
  g_autofree char *deleting = boot (f, "nlxtest-crash-delete");
  g_autofree char *stopping = boot (f, "nlxtest-crash-stop");
  g_autofree char *spawning = NULL;
  g_autofree char *path = g_strconcat ("/v2.1/servers/", deleting, NULL);
  const char *ids[4];

  /* Four operations in flight, then kill -9. */
  g_assert_cmpint (nlx_test_act (f->session, rebooting,
                                 "{\"reboot\": {\"type\": \"SOFT\"}}"), ==, 202);
  g_assert_cmpint (nlx_test_act (f->session, stopping, "{\"os-stop\": null}"),
                   ==, 202);
  g_assert_cmpint (nlx_test_call (f->session, "DELETE", path, NULL, NULL), ==, 204);
  spawning = nlx_test_create (f->session, "nlxtest-crash-spawn", IMAGE, NULL);
  g_usleep (100 * 1000);
  daemon_stop (f, SIGKILL);

  daemon_start (f);
  ids[0] = rebooting;
  ids[1] = deleting;
  ids[2] = stopping;
  ids[3] = spawning;
  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    {
      /* An interrupted delete is finished in the background. */
      if (ids[i] == deleting)
        {
          gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;

          while (nlx_test_call (f->session, "GET", path, NULL, NULL) != 404)
            {
              g_assert_cmpint (g_get_monotonic_time (), <, deadline);
              g_usleep (50 * 1000);
            }
        }
      check_consistent (f, ids[i]);
    }

  /* Whatever state they came back in, they still work and delete clean. */
  delete_and_check (f, rebooting);
  delete_and_check (f, stopping);
  delete_and_check (f, spawning);
}

/* ---- libvirtd restart ---------------------------------------------------- */

static void
libvirtd (const char *command)
{
  g_autofree char *script = g_build_filename (g_getenv ("NLX_TOP_SRCDIR"),
                                              "tools", "libvirtd-service", NULL);

  run_command ((const char * const []) { script, command, NULL });
}

static void
test_libvirtd_restart (Fixture *f)
{
  g_autofree char *id = boot (f, "nlxtest-libvirtd");
  g_autofree char *action = g_strconcat ("/v2.1/servers/", id, "/action", NULL);
  gint64 deadline;
  guint status;

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

  libvirtd ("start");
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
  delete_and_check (f, id);
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
