/* test-compute.c: tempest-style tests of nova-lxc-compute on real libvirt
 * LXC: the server lifecycle, bad requests, one daemon per state, crash
 * recovery, networking, snapshot and rebuild.  The fixture is in
 * nlx-compute-fixture.c.
 *
 * The case that stops libvirtd runs only with NLX_TEST_LIBVIRTD_RESTART=1,
 * as tests/functional/test-libvirtd-restart does after every other test
 * that needs libvirt, and even then only when NLX_TEST_MAY_STOP_LIBVIRTD
 * is set (tools/check sets it): otherwise it is skipped, saying so. */
#include "config.h"

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
#include "lib/nlx-compute-fixture.h"
#include "lib/nlx-test-client.h"
#include "lib/nlx-test-tools.h"
#include "lxc/nlx-lxc-volume.h"

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

/* A serial console URL of @id's, from the Unix socket. */
static char *
console_url (Fixture *f,
             const char *id)
{
  g_autofree char *path = g_strconcat ("/v2.1/servers/", id, "/remote-consoles", NULL);
  g_autoptr(JsonNode) reply = NULL;

  g_assert_cmpint (nlx_test_call_full (f->session, "http://localhost", "POST",
                                       path,
                                       "{\"remote_console\": {\"protocol\": \"serial\", "
                                       "\"type\": \"serial\"}}",
                                       "OpenStack-API-Version", "compute 2.6",
                                       &reply, NULL), ==, 200);
  return g_strdup (json_object_get_string_member (nlx_test_object_at (reply, "remote_console"),
                                                  "url"));
}

/* The busybox image runs a shell on its console: a command typed over
 * the WebSocket runs, its output comes back, and the console log (read
 * by the same drainer) has it too; `nova-lxc console` from a pipe does
 * the same.  Closing detaches without leaving a descriptor behind, and
 * deleting the server closes a console still open. */
static void
test_serial_console (Fixture *f)
{
  g_autofree char *id = boot (f, "nlxtest-serial-console");
  g_autoptr(SoupWebsocketConnection) ws = NULL;
  g_autoptr(SoupWebsocketConnection) left_open = NULL;
  g_autofree char *url = NULL;
  g_autofree char *command = NULL;
  g_autofree char *marker = NULL;
  g_autofree char *received = NULL;
  g_autofree char *log = NULL;
  g_autofree char *cli_input = NULL;
  g_autofree char *cli_marker = NULL;
  g_autofree char *cli_out = NULL;
  g_autofree char *cli_err = NULL;
  g_autofree char *cli = g_build_filename (g_getenv ("NLX_TOP_BUILDDIR"), "src",
                                           "nova-lxc", NULL);
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  guint fds_before;
  guint status = 0;

  for (;;)
    {
      g_autofree char *output = console (f, id);

      if (strstr (output, "nova-lxc demo instance booted") != NULL)
        break;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (100 * 1000);
    }
  fds_before = nlx_test_count_fds_of (daemon_pid (f));

  /* The shell echoes the command line; only its output has "42". */
  command = g_strdup_printf ("echo nlx-%d-$((6*7))-marker\n", (int) getpid ());
  marker = g_strdup_printf ("nlx-%d-42-marker", (int) getpid ());
  url = console_url (f, id);
  g_assert_true (g_str_has_prefix (url, "ws://localhost/serial-console?token="));
  ws = nlx_test_ws_connect (f->session, url, &status);
  g_assert_nonnull (ws);
  g_assert_cmpuint (status, ==, 101);
  soup_websocket_connection_send_text (ws, "\n");
  soup_websocket_connection_send_text (ws, command);
  received = nlx_test_ws_read_until (ws, marker, 10);
  g_assert_nonnull (strstr (received, marker));

  /* Not stolen from the log. */
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  for (;;)
    {
      g_free (log);
      log = console (f, id);
      if (strstr (log, marker) != NULL)
        break;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (100 * 1000);
    }

  soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  g_assert_true (nlx_test_ws_wait_closed (ws, 5));

  /* The CLI, driven through a pipe. */
  cli_input = g_strdup_printf ("echo nlx-%d-$((7*8))-cli\n", (int) getpid ());
  cli_marker = g_strdup_printf ("nlx-%d-56-cli", (int) getpid ());
  process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                              G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                              G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                              cli, "--socket", f->socket, "console", id, NULL);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_communicate_utf8 (process, cli_input, NULL,
                                                &cli_out, &cli_err, &error));
  g_assert_no_error (error);
  if (strstr (cli_out, cli_marker) == NULL)
    g_test_message ("nova-lxc console printed:\n%s\nand on stderr:\n%s",
                    cli_out, cli_err);
  g_assert_nonnull (strstr (cli_out, cli_marker));
  g_assert_true (g_subprocess_get_successful (process));

  /* Every console descriptor and thread of the daemon's is gone. */
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (nlx_test_count_fds_of (daemon_pid (f)) > fds_before &&
         g_get_monotonic_time () < deadline)
    g_usleep (100 * 1000);
  g_assert_cmpuint (nlx_test_count_fds_of (daemon_pid (f)), <=, fds_before);

  g_clear_pointer (&url, g_free);
  url = console_url (f, id);
  left_open = nlx_test_ws_connect (f->session, url, &status);
  g_assert_nonnull (left_open);
  delete_and_check (f, id);
  g_assert_true (nlx_test_ws_wait_closed (left_open, 10));
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

/* The server's fault message, or NULL. */
static char *
fault_of (Fixture *f,
          const char *id)
{
  g_autoptr(JsonNode) reply = nlx_test_show (f->session, id);
  JsonObject *server = nlx_test_object_at (reply, "server");

  if (!json_object_has_member (server, "fault"))
    return NULL;
  return g_strdup (json_object_get_string_member (json_object_get_object_member (server,
                                                                                 "fault"),
                                                  "message"));
}

/* Waits until the server is in ERROR with a fault that says @needle. */
static char *
wait_for_fault (Fixture *f,
                const char *id,
                const char *needle)
{
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;

  for (;;)
    {
      g_autofree char *status = nlx_test_status_of (f->session, id);
      g_autofree char *fault = fault_of (f, id);

      if (g_str_equal (status, "ERROR") && fault != NULL &&
          strstr (fault, needle) != NULL)
        return g_steal_pointer (&fault);
      if (g_get_monotonic_time () > deadline)
        g_error ("server %s is %s with fault %s, not ERROR with %s", id,
                 status, fault ? fault : "(none)", needle);
      g_usleep (50 * 1000);
    }
}

/* An init that exits during boot: the server ends in ERROR with init's
 * last words as its fault and in its console log, not SHUTOFF with
 * nothing (init-exit-event is the control: a guest's poweroff right after
 * boot stays SHUTOFF).  The first boot's init dies before the start
 * returns, the second's once the server is ACTIVE; started again from
 * ERROR it boots, and the fault goes. */
static void
test_init_exit_at_boot (Fixture *f)
{
  g_autofree char *id = nlx_test_create (f->session, "nlxtest-dying",
                                         DYING_IMAGE, NULL);
  g_autoptr(JsonNode) reply = NULL;
  g_autofree char *output = NULL;
  g_autofree char *fault = NULL;

  fault = wait_for_fault (f, id, "nlxtest-last-words");
  g_test_message ("fault: %s", fault);
  g_assert_nonnull (strstr (fault, "during boot"));
  g_assert_nonnull (strstr (fault, "status 1"));
  reply = nlx_test_show (f->session, id);
  g_assert_cmpint (json_object_get_int_member (nlx_test_object_at (reply, "server"),
                                               "OS-EXT-STS:power_state"), ==, 4);
  /* The domain stays, for its log and another try. */
  g_assert_cmpint (domain_running (f, id), ==, 0);
  output = console (f, id);
  g_assert_nonnull (strstr (output, "nlxtest-last-words"));

  /* os-start from ERROR; this init dies a second in. */
  g_assert_cmpint (nlx_test_act (f->session, id, "{\"os-start\": null}"), ==, 202);
  g_free (fault);
  fault = wait_for_fault (f, id, "nlxtest-later-words");
  g_assert_nonnull (strstr (fault, "status 2"));
  g_assert_null (strstr (fault, "nlxtest-last-words"));
  g_free (output);
  output = console (f, id);
  g_assert_nonnull (strstr (output, "nlxtest-last-words"));
  g_assert_nonnull (strstr (output, "nlxtest-later-words"));

  /* A hard reboot from ERROR, and this one boots: ACTIVE, no fault. */
  nlx_test_act_and_wait (f->session, id, "{\"reboot\": {\"type\": \"HARD\"}}",
                         NULL, "ACTIVE");
  g_free (fault);
  fault = fault_of (f, id);
  g_assert_null (fault);
  g_assert_cmpint (domain_running (f, id), ==, 1);
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

/* ---- crash recovery ------------------------------------------------------ */

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
is_defined (Fixture *f, const char *uuid, gconstpointer data G_GNUC_UNUSED)
{
  return domain_running (f, uuid) >= 0;
}

static gboolean
is_paused (Fixture *f, const char *uuid, gconstpointer data G_GNUC_UNUSED)
{
  return domain_state (f, uuid) == VIR_DOMAIN_PAUSED;
}

static gboolean
is_not_running (Fixture *f, const char *uuid, gconstpointer data G_GNUC_UNUSED)
{
  return domain_running (f, uuid) != 1;
}

static gboolean
has_loop_device (Fixture *f G_GNUC_UNUSED,
                 const char *uuid,
                 gconstpointer data G_GNUC_UNUSED)
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
after_a_moment (Fixture *f G_GNUC_UNUSED,
                const char *uuid G_GNUC_UNUSED,
                gconstpointer data G_GNUC_UNUSED)
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

/* A guest that reboots itself while the daemon is down (killed, so no
 * stop of its own put its root back in libvirtd's namespace: see
 * nlx_lxc_gate_restart()): libvirt cannot start its container again
 * and leaves the domain shut off, as failed; the daemon, when it is
 * back, starts it, as the guest asked.  Before, it came back SHUTOFF. */
static void
test_guest_reboot_daemon_down (Fixture *f)
{
  g_autofree char *id = boot (f, "nlxtest-reboot-down");
  g_autofree char *status = NULL;
  g_autoptr(virDomain) dom = NULL;
  unsigned int controller = domain_id (f, id);
  int domain_state = 0;
  int reason = 0;
  gint64 deadline;

  daemon_stop (f, SIGKILL);
  /* busybox init reboots on SIGTERM: libvirt starts the container
   * again by itself, or tries. */
  g_assert_cmpint (kill (init_of (f, id), SIGTERM), ==, 0);
  deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (domain_running (f, id) != 0 &&
         (domain_running (f, id) != 1 || domain_id (f, id) == controller))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (100 * 1000);
    }
  dom = virDomainLookupByUUIDString (f->conn, id);
  g_assert_cmpint (virDomainGetState (dom, &domain_state, &reason, 0), ==, 0);
  /* Where libvirtd shares the daemon's mount namespace there is no gate
   * and the reboot needs no daemon; tools/libvirtd-service gives it one
   * of its own, as a hybrid cgroup host needs. */
  if (nlx_test_libvirtd_elsewhere () > 0)
    {
      g_assert_cmpint (domain_state, ==, VIR_DOMAIN_SHUTOFF);
      g_assert_cmpint (reason, ==, VIR_DOMAIN_SHUTOFF_FAILED);
    }
  else
    g_test_message ("libvirtd shares this test's mount namespace: no root "
                    "was withdrawn, and libvirt restarted the container");

  daemon_start (f);
  status = check_consistent (f, id);
  g_assert_cmpstr (status, ==, "ACTIVE");
  g_assert_cmpuint (domain_id (f, id), !=, controller);
  assert_in_container (f, id, "echo up", 0, "up");
  /* And its next reboot, with the daemon there, works as ever. */
  controller = domain_id (f, id);
  g_assert_cmpint (kill (init_of (f, id), SIGTERM), ==, 0);
  wait_restarted (f, id, controller, 60);
  wait_settled (f, id, "ACTIVE");
  assert_in_container (f, id, "echo up", 0, "up");
  delete_and_check (f, id);
}

/* ---- libvirtd restart ---------------------------------------------------- */

/* ---- networking ------------------------------------------------------- */

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

/* ---- a Debian root with systemd ------------------------------------------ */

/* procps's free works (libvirt's FUSE /proc/meminfo made it fail:
 * "Unable to create meminfo structure") and shows the flavor; boot_id is
 * the boot's own.  Returns the boot_id. */
static char *
assert_debian_proc_view (Fixture *f,
                         const char *uuid)
{
  g_autofree char *total = in_init_cgroups (f, uuid,
                                            "free -m | awk '/^Mem:/ {print $2}'");
  g_autofree char *host = NULL;
  char *boot_id;

  g_assert_cmpstr (total, ==, "128");
  g_assert_true (g_file_get_contents ("/proc/sys/kernel/random/boot_id", &host,
                                      NULL, NULL));
  boot_id = in_init_cgroups (f, uuid, "cat /proc/sys/kernel/random/boot_id");
  g_assert_true (g_uuid_string_is_valid (boot_id));
  g_assert_cmpstr (boot_id, !=, g_strstrip (host));
  return boot_id;
}

/* The lowest common denominator of a cloud image: Debian 12 with systemd
 * boots, reboots softly and stops on its shutdown signal (SIGRTMIN+4),
 * not by being killed.  tools/check builds the root (tools/debian-root). */
static void
test_debian_systemd (Fixture *f)
{
  g_autofree char *id = NULL;
  g_autofree char *boot_id = NULL;
  g_autofree char *again = NULL;
  g_autoptr(virDomain) dom = NULL;
  int state = -1;
  int reason = -1;

  id = boot_image (f, "nlxtest-debian", DEBIAN_IMAGE);
  assert_systemd_running (f, id);
  boot_id = assert_debian_proc_view (f, id);

  nlx_test_act_and_wait (f->session, id, "{\"reboot\": {\"type\": \"SOFT\"}}",
                         "rebooting", "ACTIVE");
  assert_systemd_running (f, id);
  again = assert_debian_proc_view (f, id);
  g_assert_cmpstr (again, !=, boot_id);

  nlx_test_act_and_wait (f->session, id, "{\"os-stop\": null}", "powering-off",
                         "SHUTOFF");
  dom = virDomainLookupByUUIDString (f->conn, id);
  g_assert_nonnull (dom);
  g_assert_cmpint (virDomainGetState (dom, &state, &reason, 0), ==, 0);
  g_assert_cmpint (state, ==, VIR_DOMAIN_SHUTOFF);
  /* Init ended by itself: had it ignored the signal, the stop would have
   * destroyed it after shutdown_timeout. */
  g_assert_cmpint (reason, ==, VIR_DOMAIN_SHUTOFF_SHUTDOWN);

  nlx_test_act_and_wait (f->session, id, "{\"os-start\": null}", "powering-on",
                         "ACTIVE");
  assert_systemd_running (f, id);
  delete_and_check (f, id);
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
  /* The store's checksum is in the image's metadata (docs/api.md). */
  g_assert_cmpstr (json_object_get_string_member (
                     json_object_get_object_member (
                       nlx_test_object_at (second, "image"), "metadata"),
                     "nova_lxc:checksum"), ==,
                   json_object_get_string_member (
                     json_object_get_object_member (
                       nlx_test_object_at (first, "image"), "metadata"),
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
  /* A guest's own reboot after libvirtd's restart: libvirtd starts the
   * new container from a root the daemon withdrew from its namespace,
   * so the daemon must put it back first.  (The new libvirtd has new
   * monitor connections, whose restart gates the daemon takes again.
   * Without that, the reboot still came back here: the daemon's
   * publish, on the controller's end, beat libvirtd's restart.) */
  {
    unsigned int before = domain_id (f, early);

    assert_in_container (f, early, "(sleep 0.5; reboot) >/dev/null 2>&1 &",
                         0, NULL);
    wait_restarted (f, early, before, 30);
    wait_settled (f, early, "ACTIVE");
    assert_in_container (f, early, "true", 0, NULL);
  }
  wait_settled (f, late, "SHUTOFF");
  g_assert_cmpint (domain_running (f, late), ==, 0);
  delete_and_check (f, id);
  delete_and_check (f, early);
  delete_and_check (f, late);
}

/* ---- config drive and host name (issue 14) ----------------------------- */

#define SEED "/var/lib/cloud/seed/config_drive"

/* Without a config drive the seed directory is not there; with [compute]
 * force_config_drive (the API cannot ask for one yet) every new server
 * has it read-only, with its own uuid and host name; rebuild writes it
 * again, delete takes it.  The host name inside is the server's name,
 * sanitised, with or without. */
static void
test_config_drive (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *plain = boot (f, "nlxtest Plain_Server.1");
  g_autofree char *with = NULL;
  g_autofree char *config = NULL;
  g_autofree char *forced = NULL;
  g_autofree char *meta = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *mounts = NULL;
  g_autofree char *drive = NULL;

  assert_in_container (f, plain, "hostname", 0, "nlxtest-plain-server-1");
  assert_in_container (f, plain, "cat /proc/sys/kernel/hostname", 0,
                       "nlxtest-plain-server-1");
  assert_in_container (f, plain, "test -e " SEED, 1, NULL);

  daemon_stop (f, SIGTERM);
  g_file_get_contents (f->config, &config, NULL, &error);
  g_assert_no_error (error);
  forced = g_strconcat (config, "[compute]\nforce_config_drive = true\n", NULL);
  g_file_set_contents (f->config, forced, -1, &error);
  g_assert_no_error (error);
  daemon_start (f);
  with = boot (f, "nlxtest Drive");

  assert_in_container (f, with, "hostname", 0, "nlxtest-drive");
  g_assert_cmpint (in_container (f, with,
                                 "cat " SEED "/openstack/latest/meta_data.json",
                                 &meta), ==, 0);
  expected = g_strdup_printf ("\"uuid\":\"%s\"", with);
  g_assert_nonnull (strstr (meta, expected));
  g_assert_nonnull (strstr (meta, "\"hostname\":\"nlxtest-drive\""));
  g_assert_nonnull (strstr (meta, "\"name\":\"nlxtest Drive\""));
  /* Root inside can neither change nor add to it. */
  assert_in_container (f, with,
                       "echo x > " SEED "/openstack/latest/meta_data.json", 1,
                       NULL);
  assert_in_container (f, with, "touch " SEED "/nlxtest-new", 1, NULL);
  assert_in_container (f, with, "mkdir " SEED "/openstack/nlxtest", 1, NULL);
  g_assert_cmpint (in_container (f, with, "grep ' " SEED " ' /proc/self/mountinfo",
                                 &mounts), ==, 0);
  g_assert_true (strstr (mounts, " ro,") != NULL || strstr (mounts, " ro ") != NULL);
  assert_in_container (f, with,
                       "grep -c nlxtest " SEED "/openstack/latest/meta_data.json",
                       0, "1");
  /* The server made before the option keeps what it had. */
  assert_in_container (f, plain, "test -e " SEED, 1, NULL);

  /* Rebuild writes it again from the record as it is now. */
  g_assert_cmpint (nlx_test_act (f->session, with,
                                 "{\"rebuild\": {\"imageRef\": \"" IMAGE
                                 "\", \"name\": \"nlxtest Rebuilt\"}}"),
                   ==, 202);
  nlx_test_wait_for_status (f->session, with, "ACTIVE");
  g_clear_pointer (&meta, g_free);
  g_assert_cmpint (in_container (f, with,
                                 "cat " SEED "/openstack/latest/meta_data.json",
                                 &meta), ==, 0);
  g_assert_nonnull (strstr (meta, "\"name\":\"nlxtest Rebuilt\""));
  g_assert_nonnull (strstr (meta, expected));

  drive = g_build_filename (f->dir, "instances", with, "config-drive", NULL);
  g_assert_true (g_file_test (drive, G_FILE_TEST_IS_DIR));
  delete_and_check (f, with);
  g_assert_false (g_file_test (drive, G_FILE_TEST_EXISTS));
  delete_and_check (f, plain);
}

int
main (int argc,
      char **argv)
{
  static const Case cases[] = {
    { "/nlx/compute/servers/create-list-show-delete", test_create_list_show_delete },
    { "/nlx/compute/servers/reboot", test_reboot },
    { "/nlx/compute/servers/stop-start", test_stop_start },
    { "/nlx/compute/servers/pause-unpause", test_pause_unpause },
    { "/nlx/compute/servers/console-output", test_console_output },
    { "/nlx/compute/servers/serial-console", test_serial_console },
    { "/nlx/compute/servers/init-exit-event", test_init_exit_event },
    { "/nlx/compute/servers/init-exit-at-boot", test_init_exit_at_boot },
    { "/nlx/compute/servers/delete-in-each-state", test_delete_in_each_state },
    { "/nlx/compute/servers/negative", test_negative },
    { "/nlx/compute/crash-recovery", test_crash_recovery },
    { "/nlx/compute/guest-reboot-daemon-down", test_guest_reboot_daemon_down },
    { "/nlx/compute/one-daemon", test_one_daemon },
    { "/nlx/compute/network", test_network },
    { "/nlx/compute/images/snapshot-rebuild", test_snapshot_rebuild },
    { "/nlx/compute/config-drive", test_config_drive },
    { "/nlx/compute/images/debian-systemd", test_debian_systemd,
      "NLX_TEST_DEBIAN_ROOT" },
  };
  static const Case restart[] = {
    /* Opt-in: `make check` on a developer's host must never stop their
     * libvirtd; tools/check, on a machine it owns, sets the variable. */
    { "/nlx/compute/libvirtd-restart", test_libvirtd_restart,
      "NLX_TEST_MAY_STOP_LIBVIRTD",
      "this case stops and starts the host's libvirtd; set "
      "NLX_TEST_MAY_STOP_LIBVIRTD=1 to allow that (tools/check does)" },
  };

  if (g_strcmp0 (g_getenv ("NLX_TEST_LIBVIRTD_RESTART"), "1") == 0)
    return run_cases (&argc, &argv,
                      "nova-lxc-compute across a restart of the host's "
                      "libvirtd (opt-in: NLX_TEST_MAY_STOP_LIBVIRTD).",
                      restart, G_N_ELEMENTS (restart));
  return run_cases (&argc, &argv,
                    "nova-lxc-compute on real libvirt LXC, tempest-style: "
                    "server lifecycle, bad requests, crash recovery, "
                    "networking, snapshot and rebuild.",
                    cases, G_N_ELEMENTS (cases));
}
