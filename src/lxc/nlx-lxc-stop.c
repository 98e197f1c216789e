/* nlx-lxc-stop.c: knowing and making a container stop without asking
 * libvirtd in a loop: a start's watch on the run it waits for (the
 * controller's pidfd and libvirt's STOPPED event), and stopping a
 * domain at once by killing its init and controller through pidfds,
 * then waiting for STOPPED rather than virDomainDestroy()'s polling. */

#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>
#include <glib/gi18n-lib.h>

#include "common/nlx-file.h"
#include "lxc/nlx-lxc-driver-private.h"
#include "lxc/nlx-lxc-error.h"


/* A pidfd of @pid (a pid, or a domain's id: (guint) -1 when it has
 * none), or -1. */
int
nlx_lxc_open_pidfd (guint pid)
{
#ifdef SYS_pidfd_open
  return pid > 0 && pid <= G_MAXINT ? (int) syscall (SYS_pidfd_open, (pid_t) pid, 0)
                                    : -1;
#else
  return -1;
#endif
}

/* Watches the run @dom (a handle looked up during it, whose id is its
 * controller) of @uuid is in. */
void
nlx_lxc_run_watch_begin (NlxLxcRunWatch *watch,
                         NlxDriverState *state,
                         virDomainPtr dom,
                         const char *uuid)
{
  watch->state = state;
  nlx_lxc_stop_waiter_add (state, &watch->waiter, uuid);
  watch->events = nlx_lxc_events_registered (state);
  /* -1 when it has exited already: run_watch_ended() asks libvirt. */
  watch->controller = nlx_lxc_open_pidfd (virDomainGetID (dom));
  watch->settled = FALSE;
  watch->ended = 0;
}

void
nlx_lxc_run_watch_end (NlxLxcRunWatch *watch)
{
  nlx_lxc_stop_waiter_remove (watch->state, &watch->waiter);
  if (watch->controller >= 0)
    close (watch->controller);
  watch->controller = -1;
}

/* Sleeps up to @timeout_us, less when the run ends, and says whether
 * it has ended (-1: libvirtd cannot say, as virDomainIsActive()).  One
 * libvirt call at most, once the controller has gone, when no event
 * came: a guest's reboot restarts the domain with a new controller and
 * no STOPPED event. */
int
nlx_lxc_run_watch_ended (NlxLxcRunWatch *watch,
                         virDomainPtr dom,
                         gint64 timeout_us)
{
  int active;

  if (watch->waiter.stopped)
    return 1;
  if (watch->controller >= 0)
    {
      struct pollfd pfd = { .fd = watch->controller, .events = POLLIN };
      struct timespec timeout = { timeout_us / G_USEC_PER_SEC,
                                  (timeout_us % G_USEC_PER_SEC) * 1000 };

      if (ppoll (&pfd, 1, &timeout, NULL) <= 0 ||
          watch->waiter.stopped)
        return watch->waiter.stopped;
      close (watch->controller);
      watch->controller = -1;
    }
  else if (watch->settled)
    {
      g_usleep (timeout_us);
      return watch->waiter.stopped ? 1 : watch->ended;
    }
  /* The controller has exited: the event follows, once libvirtd has
   * read its monitor's end. */
  watch->settled = TRUE;
  if (watch->events &&
      nlx_lxc_stop_waiter_wait (watch->state, &watch->waiter,
                                g_get_monotonic_time () + NLX_LXC_STOPPED_EVENT_TIMEOUT_US))
    return 1;
  active = virDomainIsActive (dom);
  watch->ended = active < 0 ? -1 : !active;
  return watch->ended;
}

/* A pidfd of @pid when it is what @expect says it is (see
 * is_controller_of() and is_child_of()): -1 otherwise.
 * Checked after the pidfd is taken, so the pidfd is of the process
 * checked, or of none (pid reused only once it has gone). */
static int
open_pidfd_if (guint pid,
               gboolean (*expect) (guint pid, gconstpointer data),
               gconstpointer data)
{
  int fd = nlx_lxc_open_pidfd (pid);

  if (fd >= 0 && !expect (pid, data))
    {
      close (fd);
      return -1;
    }
  return fd;
}

/* Whether @pid is the libvirt_lxc controller of domain @data (its
 * command line: libvirt_lxc --name NAME ...). */
static gboolean
is_controller_of (guint pid,
                  gconstpointer data)
{
  g_autofree char *path = g_strdup_printf ("/proc/%u/cmdline", pid);
  g_autofree char *cmdline = NULL;
  gsize length;

  if (!nlx_file_get_contents (path, &cmdline, &length, NULL))
    return FALSE;
  for (gsize at = 0; at + 1 < length; at += strlen (cmdline + at) + 1)
    if (g_str_equal (cmdline + at, "--name") &&
        at + strlen (cmdline + at) + 1 < length)
      return g_str_has_suffix (cmdline, "libvirt_lxc") &&
             g_str_equal (cmdline + at + strlen (cmdline + at) + 1,
                          (const char *) data);
  return FALSE;
}

/* Whether @pid's parent is the controller @data. */
static gboolean
is_child_of (guint pid,
             gconstpointer data)
{
  g_autofree char *path = g_strdup_printf ("/proc/%u/status", pid);
  g_autofree char *status = NULL;
  const char *ppid;

  return nlx_file_get_contents (path, &status, NULL, NULL) &&
         (ppid = strstr (status, "\nPPid:")) != NULL &&
         g_ascii_strtoull (ppid + strlen ("\nPPid:"), NULL, 10) ==
           GPOINTER_TO_UINT (data);
}

static gboolean
pidfd_signal (int pidfd,
              int signum)
{
#ifdef SYS_pidfd_send_signal
  return pidfd >= 0 &&
         syscall (SYS_pidfd_send_signal, pidfd, signum, NULL, 0) == 0;
#else
  return FALSE;
#endif
}

/* What socket @fd is of the Unix socket whose path ends with @suffix:
 * 1 the listening socket itself, 0 a connection accepted on it, -1
 * neither. */
static int
unix_socket_on (int fd,
                const char *suffix)
{
  struct sockaddr_un address = { 0 };
  socklen_t length = sizeof address;
  int listening = 0;
  socklen_t size = sizeof listening;

  if (getsockname (fd, (struct sockaddr *) &address, &length) != 0 ||
      address.sun_family != AF_UNIX ||
      length <= offsetof (struct sockaddr_un, sun_path) ||
      !g_str_has_suffix (address.sun_path, suffix) ||
      getsockopt (fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size) != 0)
    return -1;
  return listening ? 1 : 0;
}

/* The end of the path of domain @name's monitor socket, NAME.sock in
 * libvirt's state directory. */
static char *
monitor_socket (const char *name)
{
  return g_strconcat ("/", name, ".sock", NULL);
}

/* Copies of @controller's sockets (pidfd_getfd(), root may), so that
 * libvirtd's connection to it stays open after it has died: an array
 * of descriptors, maybe empty.  With @monitor_of, only the connections
 * accepted on domain @monitor_of's monitor socket: libvirtd's own.
 * *@complete (optional) says whether every socket the controller has
 * could be looked at: not when the kernel or the daemon's privileges
 * allow no copy. */
static GArray *
hold_sockets (int controller,
              guint pid,
              const char *monitor_of,
              gboolean *complete)
{
  g_autofree char *dir_path = g_strdup_printf ("/proc/%u/fd", pid);
  g_autofree char *monitor = monitor_of ? monitor_socket (monitor_of) : NULL;
  g_autoptr(GDir) dir = g_dir_open (dir_path, 0, NULL);
  GArray *held = g_array_new (FALSE, FALSE, sizeof (int));
  gboolean all = dir != NULL;
  const char *name;

#ifdef SYS_pidfd_getfd
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir_path, name, NULL);
      g_autofree char *target = g_file_read_link (path, NULL);
      int fd;

      if (target == NULL || !g_str_has_prefix (target, "socket:"))
        continue;
      fd = (int) syscall (SYS_pidfd_getfd, controller, atoi (name), 0);
      if (fd < 0)
        {
          /* EBADF: closed since the listing. */
          all = all && errno == EBADF;
          continue;
        }
      if (monitor != NULL && unix_socket_on (fd, monitor) != 0)
        close (fd);
      else
        g_array_append_val (held, fd);
    }
#else
  all = FALSE;
#endif
  if (complete != NULL)
    *complete = all;
  return held;
}

static void
release_sockets (GArray *held)
{
  for (guint i = 0; i < held->len; i++)
    close (g_array_index (held, int, i));
  g_array_unref (held);
}

/**
 * nlx_lxc_hold_monitor:
 * @dom: a running domain, looked up during its current run
 * @controller: (out): a pidfd of its libvirt_lxc controller
 *
 * A copy of the controller's end of libvirtd's monitor connection: while
 * it is open, libvirtd does not see the controller go, so it neither
 * reports the domain stopped nor restarts it after its guest's reboot.
 *
 * Returns: the copy, or -1 (*@controller then -1 too)
 */
int
nlx_lxc_hold_monitor (virDomainPtr dom,
                      int *controller)
{
  guint id = virDomainGetID (dom);
  const char *name = virDomainGetName (dom);
  g_autoptr(GArray) sockets = NULL;
  int fd = -1;

  *controller = -1;
  if (id == (guint) -1 || name == NULL ||
      (*controller = open_pidfd_if (id, is_controller_of, name)) < 0)
    return -1;
  sockets = hold_sockets (*controller, id, name, NULL);
  /* One connection: libvirtd's.  More would be a libvirt this code does
   * not know; none, a controller gone meanwhile. */
  if (sockets->len == 1)
    fd = g_array_index (sockets, int, 0);
  else
    for (guint i = 0; i < sockets->len; i++)
      close (g_array_index (sockets, int, i));
  if (fd < 0)
    {
      close (*controller);
      *controller = -1;
    }
  return fd;
}

/* Whether @sockets, copied from domain @name's controller (*@complete
 * from hold_sockets()), show libvirtd connected to it: 1 a connection
 * accepted on its monitor socket, or one waiting there to be (the
 * listening socket polls readable), 0 neither, -1 not all could be
 * looked at. */
static int
holds_monitor (GArray *sockets,
               gboolean complete,
               const char *name)
{
  g_autofree char *monitor = monitor_socket (name);

  for (guint i = 0; i < sockets->len; i++)
    {
      int fd = g_array_index (sockets, int, i);
      struct pollfd pfd = { .fd = fd, .events = POLLIN };

      switch (unix_socket_on (fd, monitor))
        {
        case 0:
          return 1;
        case 1:
          /* Readable: a connection waits to be accepted (libvirtd's,
           * with the controller slow to take it). */
          if (poll (&pfd, 1, 0) == 1)
            return 1;
          break;
        default:
          break;
        }
    }
  return complete ? 0 : -1;
}

/**
 * nlx_lxc_monitor_connected:
 * @dom: a running domain, looked up during its current run
 *
 * Whether libvirtd is still connected to @dom's libvirt_lxc controller.
 * libvirtd learns the pid of the container's init, and later its end,
 * only over that connection, and connects only as it starts the
 * controller (or itself): once the controller holds none, it never
 * will.  libvirt 9.0's monitor (virLXCMonitorNew()) starts reading
 * before it knows the controller's messages, so the init pid, sent the
 * moment libvirtd connects, can arrive too soon: libvirtd then closes
 * the connection without noticing, as if nothing were wrong.
 *
 * Returns: 1 when the controller holds a connection on its monitor
 * socket or has one waiting to be accepted there, 0 when neither, -1
 * when there is no controller to look at (not running, or not what the
 * handle's id says) or its sockets cannot be looked at
 */
int
nlx_lxc_monitor_connected (virDomainPtr dom)
{
  guint id = virDomainGetID (dom);
  const char *name = virDomainGetName (dom);
  GArray *sockets;
  gboolean complete;
  int controller;
  int connected;

  if (id == (guint) -1 || name == NULL ||
      (controller = open_pidfd_if (id, is_controller_of, name)) < 0)
    return -1;
  sockets = hold_sockets (controller, id, NULL, &complete);
  connected = holds_monitor (sockets, complete, name);
  release_sockets (sockets);
  close (controller);
  return connected;
}

/* Kills @dom's container and then its libvirt_lxc controller, for
 * nlx_lxc_stop_now(): whether both are gone.  Told of init's end, the
 * controller tells libvirtd and exits; libvirtd, seeing its connection
 * end, SIGTERMs what is still in the container's cgroup (the
 * controller, still exiting) and sleeps 200 ms before it looks again
 * and sends STOPPED (virCgroupKillPainfully()).  So the controller is
 * stopped (SIGSTOP) before init is killed, and killed once init has
 * gone (an init of a PID namespace exits last, once every process in
 * it has), while copies of its sockets keep libvirtd's connection open
 * until it has wholly exited: libvirtd then finds the cgroup empty.
 * Killing them is what libvirt's destroy does too.  The console is read
 * once the controller is stopped and before it dies: its end hangs the
 * host's side of the PTY up, which throws away what the console thread
 * had not read yet (under load, a boot's first lines).  *@heard says
 * whether libvirtd was still connected to the controller, and so will
 * send STOPPED (see nlx_lxc_monitor_connected()), or may have been:
 * sockets that cannot be looked at count as connected. */
static gboolean
kill_container (NlxDriverState *state,
                virDomainPtr dom,
                const char *uuid,
                gboolean *heard)
{
  guint id = virDomainGetID (dom);
  const char *name = virDomainGetName (dom);
  int controller = -1;
  int init = -1;
  pid_t init_pid;
  gboolean gone = FALSE;

  /* The handle's id is its controller's pid as of the lookup: checked,
   * since a domain that rebooted since has another. */
  if (id == (guint) -1 || name == NULL ||
      (controller = open_pidfd_if (id, is_controller_of, name)) < 0)
    return FALSE;
  init_pid = nlx_lxc_init_pid (dom);
  if (init_pid > 0)
    init = open_pidfd_if ((guint) init_pid, is_child_of, GUINT_TO_POINTER (id));
  if (init >= 0 && pidfd_signal (controller, SIGSTOP))
    {
      struct pollfd pfd = { .fd = init, .events = POLLIN };
      gboolean complete;
      GArray *sockets = hold_sockets (controller, id, NULL, &complete);
      int timeout_ms = (int) (NLX_LXC_STOPPED_EVENT_TIMEOUT_US / 1000);

      *heard = holds_monitor (sockets, complete, name) != 0;

      nlx_lxc_flush_console (state, dom, uuid);
      if (pidfd_signal (init, SIGKILL))
        gone = poll (&pfd, 1, timeout_ms) == 1;
      /* Stopped, it must not stay: killed whatever became of init (a
       * task stuck in the kernel), and destroy does the rest. */
      if (!pidfd_signal (controller, SIGKILL))
        gone = FALSE;
      pfd.fd = controller;
      if (gone)
        poll (&pfd, 1, timeout_ms);
      release_sockets (sockets);
    }
  if (init >= 0)
    close (init);
  close (controller);
  return gone;
}

/* Stops the domain now.  libvirt's destroy sends SIGTERM and waits
 * before SIGKILL, and polls the container's cgroup every 200 ms:
 * killing init and the controller (kill_container()) takes the
 * container down in about 15 ms, and libvirtd's STOPPED event, waited
 * for, says when libvirt agrees.  virDomainDestroy() is the fallback
 * when either does not come.  A frozen container is thawed first, or
 * the kill would wait too. */
gboolean
nlx_lxc_stop_now (NlxDriverState *state,
                  virDomainPtr dom,
                  const char *uuid,
                  GError **error)
{
  int domain_state = VIR_DOMAIN_NOSTATE;
  NlxLxcStopWaiter waiter;
  gboolean stopped = FALSE;
  gboolean killed = FALSE;
  gboolean heard = TRUE;
  gint64 start = g_get_monotonic_time ();

  nlx_lxc_expect_stop (state, uuid);
  if (virDomainGetState (dom, &domain_state, NULL, 0) == 0 &&
      domain_state == VIR_DOMAIN_PAUSED)
    virDomainResume (dom);
  /* Before the kill, so that its event cannot come first. */
  nlx_lxc_stop_waiter_add (state, &waiter, uuid);
  /* Not heard by libvirtd, the end is not either: straight to destroy. */
  if (nlx_lxc_events_registered (state) &&
      (killed = kill_container (state, dom, uuid, &heard)) && heard)
    stopped = nlx_lxc_stop_waiter_wait (state, &waiter,
                                        g_get_monotonic_time () +
                                        NLX_LXC_STOPPED_EVENT_TIMEOUT_US);
  else
    virDomainSendProcessSignal (dom, 1, VIR_DOMAIN_PROCESS_SIGNAL_KILL, 0);
  nlx_lxc_stop_waiter_remove (state, &waiter);
  g_debug ("Instance %s: %s, %s after %.3f s", uuid,
           killed ? "killed" : "not killed here",
           stopped ? "libvirt said it stopped" : "destroying it",
           (g_get_monotonic_time () - start) / 1e6);

  if (!stopped && virDomainDestroy (dom) < 0)
    {
      g_autoptr(GError) local_error = NULL;

      /* Keep libvirt's reason before the next call resets it; failing
       * because init's death already stopped the domain is success. */
      nlx_lxc_error_from_libvirt (&local_error);
      if (virDomainIsActive (dom) != 0)
        {
          g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                      _("Cannot stop instance %s: "), uuid);
          return FALSE;
        }
    }
  /* Its console log is complete when this returns. */
  nlx_lxc_wait_released (state, uuid);
  return TRUE;
}
