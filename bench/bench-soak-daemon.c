/* bench-soak-daemon.c: libvirt as the truth, and the daemon bench-soak
 * runs: its config, start, stop and kill, and libvirtd's restarts. */
#include "config.h"

#include <arpa/inet.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lxc/nlx-lxc-error.h"

#include "nlx-bench-soak.h"
#include "nlx-bench.h"

/* ---- libvirt, as the truth ---------------------------------------------- */

const char *const domain_state_names[] = {
  "libvirt unreachable", "no domain", "running", "shut off", "other"
};

/* A connection of its own each time: libvirtd may have restarted. */
DomainState
domain_state (const char *uuid)
{
  virConnectPtr conn = virConnectOpen (URI);
  virDomainPtr dom;
  DomainState result = DOMAIN_UNKNOWN;
  int state, reason;

  if (conn == NULL)
    return DOMAIN_UNKNOWN;
  dom = virDomainLookupByUUIDString (conn, uuid);
  if (dom == NULL)
    result = nlx_lxc_error_last_is (VIR_ERR_NO_DOMAIN) ? DOMAIN_NONE
                                                       : DOMAIN_UNKNOWN;
  else
    {
      if (virDomainGetState (dom, &state, &reason, 0) < 0)
        result = DOMAIN_UNKNOWN;
      else if (state == VIR_DOMAIN_RUNNING || state == VIR_DOMAIN_BLOCKED)
        result = DOMAIN_RUNNING;
      else if (state == VIR_DOMAIN_SHUTOFF || state == VIR_DOMAIN_SHUTDOWN)
        result = DOMAIN_SHUTOFF;
      else
        result = DOMAIN_OTHER;
      virDomainFree (dom);
    }
  virConnectClose (conn);
  return result;
}

/* Waits until libvirtd answers: someone else may be restarting it. */
gboolean
wait_libvirt (guint timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;

  while (g_get_monotonic_time () < deadline && !interrupted)
    {
      virConnectPtr conn = virConnectOpen (URI);

      if (conn != NULL)
        {
          virConnectClose (conn);
          return TRUE;
        }
      g_usleep (500 * 1000);
    }
  return FALSE;
}

/* ---- the daemon ---------------------------------------------------------- */

/* A free port on 127.0.0.1, asked of the kernel. */
guint
free_port (void)
{
  struct sockaddr_in addr = { .sin_family = AF_INET };
  socklen_t length = sizeof addr;
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  guint port = 0;

  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (fd >= 0 && bind (fd, (struct sockaddr *) &addr, sizeof addr) == 0 &&
      getsockname (fd, (struct sockaddr *) &addr, &length) == 0)
    port = ntohs (addr.sin_port);
  if (fd >= 0)
    close (fd);
  return port;
}

gboolean
write_config (Soak *soak,
              GError **error)
{
  g_autofree char *text = g_strdup_printf (
    "[DEFAULT]\n"
    "compute_driver = lxc\n"
    "state_path = %s/state\n"
    "instances_path = %s/instances\n"
    "shutdown_timeout = 20\n"
    "[api]\n"
    "socket = %s\n"
    "listen = 127.0.0.1:%u\n"
    "auth_token = %s\n"
    "[libvirt]\n"
    "wait_soft_reboot_seconds = 20\n"
    /* SERVERS 1-vcpu servers must fit a 2-CPU machine: the default
     * cpu_allocation_ratio (4.0) would refuse the ninth. */
    "[compute]\ncpu_allocation_ratio = 16.0\n"
    "[flavor " FLAVOR "]\nvcpus = 1\nmemory_mb = 64\nroot_gb = 0\n"
    "[image " IMAGE "]\npath = %s\nos_shutdown_signal = SIGUSR2\n"
    "[network]\nbridge = %s\ncidr = %s.0/24\n",
    soak->tmp_dir, soak->tmp_dir, soak->socket_path, soak->port, soak->token,
    soak->root, soak->bridge, soak->subnet);

  return g_file_set_contents_full (soak->config_path, text, -1,
                                   G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
}

gboolean
daemon_alive (Soak *soak,
              int *status)
{
  int ignored;

  if (soak->daemon == 0)
    return FALSE;
  if (waitpid (soak->daemon, status ? status : &ignored, WNOHANG) == 0)
    return TRUE;
  soak->daemon = 0;
  return FALSE;
}

void
print_log_tail (Soak *soak,
                guint lines)
{
  g_autofree char *text = NULL;
  gsize length;
  const char *start;

  if (!g_file_get_contents (soak->log_path, &text, &length, NULL) ||
      length == 0)
    return;
  start = text + length - 1;
  while (start > text && lines > 0)
    if (*--start == '\n')
      lines--;
  if (*start == '\n')
    start++;
  g_printerr ("bench-soak: the end of the daemon's log (%s):\n%s",
              soak->log_path, start);
}

guint
total_requests (Soak *soak)
{
  guint requests;

  g_mutex_lock (&soak->lock);
  requests = soak->counts.requests;
  g_mutex_unlock (&soak->lock);
  return requests;
}

/* Starts the daemon, appending to its log, and waits until it answers. */
gboolean
daemon_start (Soak *soak,
              GError **error)
{
  if (!nlx_bench_daemon_start (soak->config_path, soak->socket_path,
                               soak->log_path, TRUE, DAEMON_START_TIMEOUT_S,
                               &interrupted, &soak->daemon, error))
    return FALSE;
  soak->daemon_starts++;
  soak->requests_at_last_start = total_requests (soak);
  return TRUE;
}

void
daemon_stop (Soak *soak)
{
  gint64 deadline = g_get_monotonic_time () +
                    DAEMON_STOP_TIMEOUT_S * G_USEC_PER_SEC;

  if (!daemon_alive (soak, NULL))
    return;
  kill (soak->daemon, SIGTERM);
  while (g_get_monotonic_time () < deadline)
    {
      if (!daemon_alive (soak, NULL))
        return;
      g_usleep (20 * 1000);
    }
  g_printerr ("bench-soak: nova-lxc-compute %d did not stop within %d s of "
              "SIGTERM; killing it\n", soak->daemon, DAEMON_STOP_TIMEOUT_S);
  kill (soak->daemon, SIGKILL);
  waitpid (soak->daemon, NULL, 0);
  soak->daemon = 0;
}

/* SIGKILL at a random moment, then a fresh daemon on the same state. */
gboolean
daemon_kill_restart (Soak *soak,
                     GError **error)
{
  guint served = total_requests (soak) - soak->requests_at_last_start;

  window_open (soak, WINDOW_DAEMON, 0);
  note (soak, "SIGKILL to nova-lxc-compute %d (it answered %u requests)",
        soak->daemon, served);
  kill (soak->daemon, SIGKILL);
  waitpid (soak->daemon, NULL, 0);
  soak->daemon = 0;
  if (!daemon_start (soak, error))
    return FALSE;
  window_close (soak, WINDOW_DAEMON, G_USEC_PER_SEC);
  note (soak, "nova-lxc-compute %d answers again", soak->daemon);
  return TRUE;
}

static gboolean
run_libvirtd_service (const char *action,
                      GError **error)
{
  const char *argv[] = { "/bin/bash", LIBVIRTD_SERVICE, action, NULL };
  g_autofree char *out = NULL;
  int status;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL,
                     NULL, NULL, &out, NULL, &status, error) ||
      !g_spawn_check_wait_status (status, error))
    {
      g_prefix_error (error, "%s %s: ", LIBVIRTD_SERVICE, action);
      return FALSE;
    }
  return TRUE;
}

gboolean
libvirtd_restart (Soak *soak,
                  GError **error)
{
  window_open (soak, WINDOW_LIBVIRTD, 0);
  note (soak, "stopping libvirtd (tools/libvirtd-service stop)");
  if (!run_libvirtd_service ("stop", error))
    return FALSE;
  /* Down long enough for operations in flight to notice. */
  g_usleep (2 * G_USEC_PER_SEC);
  if (!run_libvirtd_service ("start", error))
    return FALSE;
  window_close (soak, WINDOW_LIBVIRTD, LIBVIRTD_GRACE_US);
  note (soak, "libvirtd answers again");
  return TRUE;
}

/* libvirtd's pid, or 0; another engineer's test may restart it too. */
GPid
libvirtd_pid (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc", 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = NULL;
      g_autofree char *comm = NULL;

      if (!g_ascii_isdigit (*name))
        continue;
      path = g_strdup_printf ("/proc/%s/comm", name);
      if (g_file_get_contents (path, &comm, NULL, NULL) &&
          g_str_equal (g_strchomp (comm), "libvirtd"))
        return (GPid) g_ascii_strtoll (name, NULL, 10);
    }
  return 0;
}
