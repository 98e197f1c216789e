/* nlx-lxc-console-thread.c: the console thread, which holds every
 * running instance's console PTY open and reads it into the console log
 * as output arrives, and judges whether an init that stopped failed to
 * boot; attaching a client to a held console. */

#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib/gi18n-lib.h>

#include "lxc/nlx-lxc-console.h"
#include "lxc/nlx-lxc-driver-private.h"

/* How soon the console thread tries again to list the running
 * instances when libvirtd did not answer (it is restarting).  It lists
 * them only at start-up and after a reconnect; from then on libvirt's
 * lifecycle and reboot events say which PTY to hold (a start, a guest's
 * own reboot) or let go (a stop), so N idle instances cost nothing but
 * N open PTYs in one epoll set.  Listing them every second cost 145% of
 * a core at N = 880 (daemon, libvirtd and controllers together). */
#define CONSOLE_RESCAN_RETRY_US (1 * G_USEC_PER_SEC)

/* An init that exits this soon after a start the daemon made, without
 * anyone asking it to stop and not by powering off, failed to boot.
 * Inits that fail do so within a second or two (systemd that cannot
 * mount what it needs exits in well under a second; a Debian root boots
 * to running in about 1.6 s here), while a guest's own crash hours later
 * is not the start's fault and leaves the server SHUTOFF as in Nova.  Ten
 * seconds covers a slow boot on a loaded host with room to spare. */
#define BOOT_WINDOW_US (10 * G_USEC_PER_SEC)

/* How much of init's last output a boot failure's fault carries. */
#define LAST_WORDS_LINES 10
#define LAST_WORDS_BYTES 1024

/* How long an operation waits for the console thread to finish reading
 * a stopped instance's PTY: it closes as the container goes. */
#define CONSOLE_RELEASE_TIMEOUT_US (5 * G_USEC_PER_SEC)

/* How many consoles' events the thread takes at one turn. */
#define CONSOLE_EVENTS_MAX 64

/* The host side of the domain's console PTY, or %NULL. */
static char *
console_pty (virDomainPtr dom)
{
  g_autofree char *xml = virDomainGetXMLDesc (dom, 0);

  if (xml == NULL)
    return NULL;
  return nlx_lxc_xpath_string (xml, "string(/domain/devices/console[@type='pty']"
                            "/source/@path)");
}

/* Linux 6.15's PIDFD_GET_INFO, not in every C library's headers yet:
 * through a pidfd taken while the process lived, anyone (not only its
 * parent) learns how it ended. */
struct nlx_pidfd_info {
  guint64 mask;
  guint64 cgroupid;
  guint32 pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
  gint32 exit_code;
};
#define NLX_PIDFD_GET_INFO _IOWR (0xFF, 11, struct nlx_pidfd_info)
#define NLX_PIDFD_INFO_EXIT (1ULL << 3)


/* How the process behind @pidfd ended, as waitpid() reports it. */
static gboolean
exit_status (int pidfd,
             int *status)
{
  struct nlx_pidfd_info info = { .mask = NLX_PIDFD_INFO_EXIT };

  if (pidfd < 0 || ioctl (pidfd, NLX_PIDFD_GET_INFO, &info) != 0 ||
      !(info.mask & NLX_PIDFD_INFO_EXIT))
    return FALSE;
  *status = info.exit_code;
  return TRUE;
}

struct _NlxLxcHeld {
  char *key;                    /* "uuid id" */
  char *uuid;
  char *name;                   /* the domain's */
  NlxLxcConsole *console;
  int init_pidfd;               /* -1 when unknown */
  /* The restart gate (nlx_lxc_gate_restart()), or -1 both. */
  int monitor_fd;
  int controller_pidfd;
  int epoll_fd;                 /* state->console_epoll, which has both */
  gint64 opened_at;
  gint64 booted_at;             /* a start the daemon made, or 0 */
  gboolean stop_asked;          /* the daemon stops it */
};

/* In the console thread's epoll set, an event's data is the NlxLxcHeld
 * whose PTY has output or closed, or with this bit set, whose controller
 * ended (its pidfd). */
#define CONTROLLER_ENDED ((guint64) 1)

static gboolean
watch (NlxLxcHeld *held,
       int fd,
       guint64 tag)
{
  struct epoll_event event = {
    .events = EPOLLIN,
    .data.u64 = (guint64) (guintptr) held | tag,
  };

  return epoll_ctl (held->epoll_fd, EPOLL_CTL_ADD, fd, &event) == 0;
}

/* Before @fd is closed: a descriptor a child process still has a copy of
 * would otherwise stay in the set, and its events name a freed run. */
static void
unwatch (NlxLxcHeld *held,
         int fd)
{
  if (fd >= 0)
    epoll_ctl (held->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
}

/* Lets libvirtd see @held's controller end: closes the gate's copy of
 * its monitor connection.  Any thread may, with console_lock held; the
 * pidfd stays, the console thread's to close. */
static void
drop_monitor (NlxLxcHeld *held)
{
  if (held->monitor_fd >= 0)
    close (held->monitor_fd);
  held->monitor_fd = -1;
}

/* Closes @held's gate: libvirtd sees its controller's end, if it has
 * come.  Called by the console thread, or on a held run it no longer
 * polls. */
static void
close_gate (NlxLxcHeld *held)
{
  drop_monitor (held);
  unwatch (held, held->controller_pidfd);
  if (held->controller_pidfd >= 0)
    close (held->controller_pidfd);
  held->controller_pidfd = -1;
}

void
nlx_lxc_held_free (NlxLxcHeld *held)
{
  unwatch (held, nlx_lxc_console_get_fd (held->console));
  nlx_lxc_console_close (held->console);
  if (held->init_pidfd >= 0)
    close (held->init_pidfd);
  close_gate (held);
  g_free (held->key);
  g_free (held->uuid);
  g_free (held->name);
  g_free (held);
}

static char *
held_key (const char *uuid,
          guint id)
{
  return g_strdup_printf ("%s %u", uuid, id);
}

/* Called with console_lock held. */
static gboolean
is_held (NlxDriverState *state,
         const char *uuid)
{
  GHashTableIter iter;
  NlxLxcHeld *held;

  g_hash_table_iter_init (&iter, state->held);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &held))
    if (g_str_equal (held->uuid, uuid))
      return TRUE;
  return FALSE;
}

void
nlx_lxc_wake_console_thread (NlxDriverState *state)
{
  char byte = 0;

  if (write (state->wake[1], &byte, 1) < 0 && errno != EAGAIN)
    g_debug ("Cannot wake the console thread: %s", g_strerror (errno));
}

/* The scan was first to hold the console of a start of ours: it is a
 * start of ours all the same.  Called with console_lock held. */
static void
mark_booting (NlxLxcHeld *held)
{
  held->booted_at = g_get_monotonic_time ();
  held->stop_asked = FALSE;
}

/* Holds the PTY of @dom's current run open, unless it already is; a
 * @booting hold belongs to a start the daemon made, whose init may fail
 * (see judge()).  Best effort: failing to save console output must not
 * fail the operation that wanted it saved. */
gboolean
nlx_lxc_hold_console (NlxDriverState *state,
                      virDomainPtr dom,
                      const char *uuid,
                      gboolean booting)
{
  guint id = virDomainGetID (dom);
  g_autofree char *key = NULL;
  g_autofree char *pty = NULL;
  g_autofree char *log_path = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GMutexLocker) locker = NULL;
  NlxLxcHeld *held;

  if (id == (guint) -1)
    {
      g_debug ("Console of instance %s not held: it has no id", uuid);
      return FALSE;
    }
  key = held_key (uuid, id);
  g_mutex_lock (&state->console_lock);
  held = g_hash_table_lookup (state->held, key);
  if (held != NULL && booting)
    mark_booting (held);
  g_mutex_unlock (&state->console_lock);
  if (held != NULL)
    return TRUE;
  if ((pty = console_pty (dom)) == NULL)
    {
      g_debug ("Console of instance %s not held: its domain has no PTY",
               uuid);
      return FALSE;
    }

  log_path = nlx_lxc_console_log_path (state, uuid);
  locker = g_mutex_locker_new (&state->console_lock);
  held = g_hash_table_lookup (state->held, key);
  if (held != NULL)
    {
      /* The console thread's scan held it meanwhile. */
      if (booting)
        mark_booting (held);
      return TRUE;
    }
  held = g_new0 (NlxLxcHeld, 1);
  held->console = nlx_lxc_console_open (pty, log_path, &error);
  if (held->console == NULL)
    {
      g_debug ("Console of instance %s not saved: %s", uuid, error->message);
      g_free (held);
      return FALSE;
    }
  held->epoll_fd = state->console_epoll;
  if (!watch (held, nlx_lxc_console_get_fd (held->console), 0))
    {
      g_debug ("Console of instance %s not saved: cannot watch its PTY: %s",
               uuid, g_strerror (errno));
      nlx_lxc_console_close (held->console);
      g_free (held);
      return FALSE;
    }
  held->key = g_steal_pointer (&key);
  held->uuid = g_strdup (uuid);
  held->name = g_strdup (virDomainGetName (dom));
  held->init_pidfd = -1;
  held->monitor_fd = -1;
  held->controller_pidfd = -1;
  held->opened_at = g_get_monotonic_time ();
  held->booted_at = booting ? held->opened_at : 0;
  g_hash_table_insert (state->held, held->key, held);
  nlx_lxc_wake_console_thread (state);
  return TRUE;
}

/* Remembers how @dom's init (pid @pid) ends, for judge(). */
void
nlx_lxc_watch_init (NlxDriverState *state,
                    virDomainPtr dom,
                    const char *uuid,
                    pid_t pid)
{
  g_autofree char *key = held_key (uuid, virDomainGetID (dom));
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&state->console_lock);
  NlxLxcHeld *held = g_hash_table_lookup (state->held, key);

  if (held != NULL && held->init_pidfd < 0)
    held->init_pidfd = pid > 0 ? nlx_lxc_open_pidfd ((guint) pid) : -1;
}

/* Whether the other end of connected socket @fd has closed. */
static gboolean
peer_gone (int fd)
{
  struct pollfd pfd = { .fd = fd, .events = POLLRDHUP };

  return poll (&pfd, 1, 0) == 1 &&
         (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

/* The restart gate.  libvirtd needs an instance's root in its own mount
 * namespace only to start its container, but then every controller it
 * starts copies that namespace and reads its mount table, so a root left
 * there costs every later boot (docs/performance.md).  So the root is
 * withdrawn once the container runs, and put back before libvirtd can
 * start the container again by itself, which it does at once when the
 * guest reboots: the daemon holds a copy of the controller's end of
 * libvirtd's monitor connection, so that libvirtd sees the controller's
 * end only when the console thread, seeing it first (its pidfd), has
 * published the root again and closed the copy (release()).  Without a
 * gate the root stays where libvirtd can use it. */
void
nlx_lxc_gate_restart (NlxDriverState *state,
                      virDomainPtr dom,
                      const char *uuid)
{
  g_autofree char *key = held_key (uuid, virDomainGetID (dom));
  g_autoptr(GMutexLocker) locker = NULL;
  g_autoptr(GError) error = NULL;
  NlxLxcHeld *held;

  if (!nlx_lxc_mounts_separate (state))
    return;
  locker = g_mutex_locker_new (&state->console_lock);
  held = g_hash_table_lookup (state->held, key);
  /* A run the daemon stops gets none. */
  if (held == NULL || held->stop_asked)
    return;
  /* A libvirtd that restarted has a new connection: the old one's
   * copy gates nothing. */
  if (held->monitor_fd >= 0 && peer_gone (held->monitor_fd))
    drop_monitor (held);
  if (held->monitor_fd < 0)
    {
      int controller = -1;

      held->monitor_fd = nlx_lxc_hold_monitor (dom, &controller);
      /* The pidfd watched already, if any, stays: the console thread's. */
      if (held->controller_pidfd < 0 && controller >= 0 &&
          watch (held, controller, CONTROLLER_ENDED))
        held->controller_pidfd = controller;
      else if (controller >= 0)
        close (controller);
      /* Unseen, the controller's end would reach libvirtd only when
       * the PTY closes: no gate then. */
      if (held->controller_pidfd < 0)
        drop_monitor (held);
    }
  if (held->monitor_fd < 0)
    {
      g_debug ("Instance %s: no restart gate, its root stays in libvirtd's "
               "namespace", uuid);
      return;
    }
  /* Under console_lock, as release() publishes: never withdrawn after a
   * release has put it back.  Marked first, so that a daemon killed at
   * any moment after leaves the mark. */
  nlx_lxc_mounts_mark_gated (state, uuid);
  if (!nlx_lxc_mounts_withdraw (state, uuid, &error))
    g_warning ("Instance %s: %s", uuid, error->message);
  nlx_lxc_wake_console_thread (state);
}

/* The daemon is about to stop @uuid: its init's end is no failure, and
 * what failed before is history. */
void
nlx_lxc_expect_stop (NlxDriverState *state,
                     const char *uuid)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&state->console_lock);
  GHashTableIter iter;
  NlxLxcHeld *held;

  g_hash_table_remove (state->faults, uuid);
  g_hash_table_iter_init (&iter, state->held);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &held))
    if (g_str_equal (held->uuid, uuid))
      {
        held->stop_asked = TRUE;
        /* Its root is not wanted back, and libvirtd is to see the
         * controller go as soon as it does. */
        drop_monitor (held);
      }
}

/* Waits until @uuid's PTYs are read to their end and closed, so that its
 * console log is complete and its fault known; a stopped container's
 * PTY closes at once, so the wait is short. */
void
nlx_lxc_wait_released (NlxDriverState *state,
                       const char *uuid)
{
  gint64 deadline = g_get_monotonic_time () + CONSOLE_RELEASE_TIMEOUT_US;
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&state->console_lock);

  while (is_held (state, uuid) &&
         g_cond_wait_until (&state->released, &state->console_lock, deadline))
    ;
}

/* Reads what @uuid's console holds now, holding it first if the console
 * thread has not yet, so that the log is current. */
void
nlx_lxc_flush_console (NlxDriverState *state,
                       virDomainPtr dom,
                       const char *uuid)
{
  g_autoptr(GMutexLocker) locker = NULL;
  GHashTableIter iter;
  NlxLxcHeld *held;

  nlx_lxc_hold_console (state, dom, uuid, FALSE);
  locker = g_mutex_locker_new (&state->console_lock);
  g_hash_table_iter_init (&iter, state->held);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &held))
    if (g_str_equal (held->uuid, uuid))
      nlx_lxc_console_read (held->console, NULL, NULL);
}

/* Whether an init that ended with waitpid() @status failed, rather than
 * stopped as asked: a non-zero exit (systemd's "Exiting PID 1" is 255), or
 * a crash (SIGSEGV, SIGABRT...).  Exit status 0 is a clean end (systemd's
 * poweroff in a container without CAP_SYS_BOOT); SIGKILL is how pidfs
 * reports an init that called reboot(2) in its PID namespace (busybox
 * poweroff), and with SIGTERM, SIGINT and SIGHUP, what a stop from
 * outside (virsh destroy) or a reboot sends. */
static gboolean
is_failure (int status)
{
  if (WIFEXITED (status))
    return WEXITSTATUS (status) != 0;
  if (WIFSIGNALED (status))
    switch (WTERMSIG (status))
      {
      case SIGKILL:
      case SIGTERM:
      case SIGINT:
      case SIGHUP:
        return FALSE;
      default:
        return TRUE;
      }
  return TRUE;
}

/* Whether @held's init ended by failing to boot, and if so why: it
 * stopped within BOOT_WINDOW_US of a start the daemon made, nobody asked
 * it to, and its exit status says it failed (is_failure()).  Without its
 * exit status (kernels before 6.15, or an init gone before it could be
 * watched), an init that stopped within the window failed. */
static char *
judge (NlxLxcHeld *held)
{
  gint64 ran_us = g_get_monotonic_time () - held->booted_at;
  g_autofree char *words = NULL;
  g_autofree char *how = NULL;
  int status;

  if (held->booted_at == 0 || held->stop_asked || ran_us >= BOOT_WINDOW_US)
    {
      g_debug ("Instance %s stopped, not a boot failure: %s", held->uuid,
               held->booted_at == 0 ? "not a start of ours"
               : held->stop_asked ? "asked to" : "after its boot");
      return NULL;
    }
  if (exit_status (held->init_pidfd, &status))
    {
      if (!is_failure (status))
        {
          g_debug ("Instance %s stopped, not a boot failure: its init's "
                   "wait status is 0x%x", held->uuid, (unsigned) status);
          return NULL;
        }
      if (WIFEXITED (status))
        how = g_strdup_printf (_("Instance %s stopped during boot: its init "
                                 "exited with status %d %.1f s after it "
                                 "started."), held->uuid,
                               WEXITSTATUS (status), ran_us / 1e6);
      else
        how = g_strdup_printf (_("Instance %s stopped during boot: its init "
                                 "was killed by signal %d (%s) %.1f s after "
                                 "it started."), held->uuid,
                               WTERMSIG (status), g_strsignal (WTERMSIG (status)),
                               ran_us / 1e6);
    }
  else
    how = g_strdup_printf (_("Instance %s stopped during boot: its init "
                             "exited %.1f s after it started."), held->uuid,
                           ran_us / 1e6);
  words = nlx_lxc_console_get_last_words (held->console, LAST_WORDS_LINES,
                                          LAST_WORDS_BYTES);
  if (*words == '\0')
    return g_strdup_printf (_("%s It printed nothing on its console; "
                              "/var/log/libvirt/lxc/%s.log on the host may "
                              "say why."), how, held->name);
  return g_strdup_printf (_("%s Its last console lines:\n%s"), how, words);
}

/* Puts @held's root back where libvirtd restarts its container from
 * and closes its gate (nlx_lxc_gate_restart()), unless the daemon stops
 * it.  Called with console_lock held. */
static void
open_gate (NlxDriverState *state,
           NlxLxcHeld *held)
{
  g_autoptr(GError) error = NULL;

  if (held->monitor_fd >= 0 && !held->stop_asked &&
      !nlx_lxc_mounts_publish_root (state, held->uuid, &error))
    g_warning ("Instance %s: libvirt cannot start it again by itself (a "
               "reboot of its guest stops it instead): %s", held->uuid,
               error->message);
  close_gate (held);
}

/* open_gate() for every held run.  Called with console_lock held. */
static void
open_gates (NlxDriverState *state)
{
  GHashTableIter iter;
  NlxLxcHeld *held;

  g_hash_table_iter_init (&iter, state->held);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &held))
    open_gate (state, held);
}

/* Reads @held to its end, records whether its init failed to boot and
 * closes it.  Called by the console thread, with console_lock held;
 * returns the uuid to tell the watcher about when it failed. */
static char *
release (NlxDriverState *state,
         NlxLxcHeld *held)
{
  g_autofree char *fault = NULL;
  char *failed = NULL;

  nlx_lxc_console_read (held->console, NULL, NULL);
  /* libvirtd may start the container again as soon as the gate opens
   * (a guest's reboot): its root is back first. */
  open_gate (state, held);
  fault = judge (held);
  if (fault != NULL)
    {
      g_message ("%s", fault);
      failed = g_strdup (held->uuid);
      g_hash_table_replace (state->faults, g_strdup (held->uuid),
                            g_steal_pointer (&fault));
    }
  g_ptr_array_remove_fast (state->console_attached, held);
  g_hash_table_remove (state->held, held->key);
  g_cond_broadcast (&state->released);
  return failed;
}

/* Holds the PTY of every running instance of ours that is not held yet,
 * and releases what no longer runs but has not said so by closing (held
 * before @started, so not a start the listing missed). */
static gboolean
scan_consoles (NlxDriverState *state,
               gint64 started,
               GPtrArray *failed)
{
  g_autoptr(GHashTable) running = g_hash_table_new_full (g_str_hash,
                                                         g_str_equal,
                                                         g_free, NULL);
  g_autoptr(virConnect) conn = nlx_lxc_connection (state, NULL);
  g_autoptr(GPtrArray) stale = g_ptr_array_new ();
  virDomainPtr *doms = NULL;
  GHashTableIter iter;
  NlxLxcHeld *held;
  int n = -1;

  if (conn != NULL)
    n = virConnectListAllDomains (conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
  for (int i = 0; i < n; i++)
    {
      char uuid[VIR_UUID_STRING_BUFLEN];

      if (nlx_lxc_is_mine (state, doms[i], uuid))
        {
          g_hash_table_add (running, held_key (uuid, virDomainGetID (doms[i])));
          /* At the daemon's start and after libvirtd's: a new libvirtd
           * has a new monitor connection to gate. */
          if (nlx_lxc_hold_console (state, doms[i], uuid, FALSE))
            nlx_lxc_gate_restart (state, doms[i], uuid);
        }
      virDomainFree (doms[i]);
    }
  free (doms);
  if (n < 0)
    return FALSE;

  g_mutex_lock (&state->console_lock);
  g_hash_table_iter_init (&iter, state->held);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &held))
    if (held->opened_at < started &&
        !g_hash_table_contains (running, held->key))
      g_ptr_array_add (stale, held);
  for (guint i = 0; i < stale->len; i++)
    {
      char *uuid = release (state, stale->pdata[i]);

      if (uuid != NULL)
        g_ptr_array_add (failed, uuid);
    }
  g_mutex_unlock (&state->console_lock);
  return TRUE;
}

/* What a lifecycle or reboot event of @uuid, queued at @since, asks:
 * holds the PTY of its current run, if it runs, and releases the runs
 * held before @since that are over but have not said so by closing
 * (what scan_consoles() does for all, for one). */
static void
refresh_console (NlxDriverState *state,
                 const char *uuid,
                 gint64 since,
                 GPtrArray *failed)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(virDomain) dom = nlx_lxc_lookup (state, uuid, &error);
  g_autoptr(GPtrArray) stale = g_ptr_array_new ();
  g_autofree char *current = NULL;
  char mine[VIR_UUID_STRING_BUFLEN];
  GHashTableIter iter;
  NlxLxcHeld *held;

  if (dom == NULL &&
      !g_error_matches (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_NOT_FOUND))
    {
      /* libvirtd away: the rescan after the reconnect sees to it. */
      g_debug ("Console of instance %s not looked at: %s", uuid,
               error->message);
      return;
    }
  /* A handle's id is -1 when the domain was not running at lookup. */
  if (dom != NULL && virDomainGetID (dom) != (guint) -1 &&
      nlx_lxc_is_mine (state, dom, mine))
    {
      current = held_key (uuid, virDomainGetID (dom));
      nlx_lxc_hold_console (state, dom, uuid, FALSE);
    }
  g_mutex_lock (&state->console_lock);
  g_hash_table_iter_init (&iter, state->held);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &held))
    if (g_str_equal (held->uuid, uuid) && held->opened_at < since &&
        g_strcmp0 (held->key, current) != 0)
      g_ptr_array_add (stale, held);
  for (guint i = 0; i < stale->len; i++)
    {
      char *failed_uuid = release (state, stale->pdata[i]);

      if (failed_uuid != NULL)
        g_ptr_array_add (failed, failed_uuid);
    }
  g_mutex_unlock (&state->console_lock);
}

/* libvirt's event thread: a domain of @uuid started, stopped or was
 * restarted by its guest's reboot.  The console thread looks (it calls
 * libvirtd, which an event callback must not wait for). */
void
nlx_lxc_console_event (NlxDriverState *state,
                       const char *uuid)
{
  g_mutex_lock (&state->console_lock);
  if (state->console_pending != NULL)
    g_hash_table_replace (state->console_pending, g_strdup (uuid),
                          GINT_TO_POINTER (1));
  g_mutex_unlock (&state->console_lock);
  nlx_lxc_wake_console_thread (state);
}

/* Events were missed (libvirtd went away): the console thread lists
 * the running instances again once it can reconnect. */
void
nlx_lxc_console_rescan (NlxDriverState *state)
{
  g_mutex_lock (&state->console_lock);
  state->console_rescan = TRUE;
  g_mutex_unlock (&state->console_lock);
  nlx_lxc_wake_console_thread (state);
}

/* Keeps every running instance's console flowing into its log, as Nova's
 * console log does for QEMU, from one thread: each PTY is held open (one
 * reader per PTY, so no byte is read twice or lost) and read as soon as
 * output arrives, until it closes with the container.  The watcher is
 * told of an instance whose init failed to boot. */
gpointer
nlx_lxc_console_thread (gpointer data)
{
  NlxDriverState *state = data;
  g_autoptr(GArray) fds = g_array_new (FALSE, FALSE, sizeof (struct pollfd));
  g_autoptr(GPtrArray) polled = g_ptr_array_new ();
  g_autoptr(GPtrArray) ended = g_ptr_array_new ();
  gint64 retry_at = 0;

  g_mutex_lock (&state->console_lock);
  state->console_pending = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                  g_free, NULL);
  state->console_rescan = TRUE;
  while (!state->stopping)
    {
      g_autoptr(GPtrArray) failed = g_ptr_array_new_with_free_func (g_free);
      struct pollfd wake = { .fd = state->wake[0], .events = POLLIN };
      gint64 now = g_get_monotonic_time ();
      NlxLxcHeld *held;

      if (state->console_rescan && now >= retry_at)
        {
          gboolean listed;

          /* Asked for events before listing, so that nothing starts
           * unseen between the two. */
          state->console_rescan = FALSE;
          g_hash_table_remove_all (state->console_pending);
          g_mutex_unlock (&state->console_lock);
          nlx_lxc_events_registered (state);
          listed = scan_consoles (state, now, failed);
          g_mutex_lock (&state->console_lock);
          if (!listed)
            {
              state->console_rescan = TRUE;
              retry_at = g_get_monotonic_time () + CONSOLE_RESCAN_RETRY_US;
            }
        }
      else if (g_hash_table_size (state->console_pending) > 0)
        {
          g_autoptr(GHashTable) pending = state->console_pending;
          GHashTableIter pending_iter;
          const char *uuid;

          state->console_pending =
            g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
          g_mutex_unlock (&state->console_lock);
          g_hash_table_iter_init (&pending_iter, pending);
          while (g_hash_table_iter_next (&pending_iter, (gpointer *) &uuid,
                                         NULL))
            refresh_console (state, uuid, now, failed);
          g_mutex_lock (&state->console_lock);
        }
      else
        {
          struct pollfd watched = { .fd = state->console_epoll,
                                    .events = POLLIN };
          struct epoll_event events[CONSOLE_EVENTS_MAX];
          int timeout_ms = -1;
          int n;

          if (state->console_rescan)
            timeout_ms = (int) ((retry_at - now + 999) / 1000);
          g_array_set_size (fds, 0);
          g_ptr_array_set_size (polled, 0);
          g_array_append_val (fds, wake);
          g_array_append_val (fds, watched);
          /* Attached clients' input (console_attach); a run whose
           * clients have all gone leaves the list. */
          for (guint i = state->console_attached->len; i-- > 0;)
            {
              guint n_clients;
              const int *clients;

              held = state->console_attached->pdata[i];
              clients = nlx_lxc_console_get_subscribers (held->console,
                                                         &n_clients);
              if (n_clients == 0)
                g_ptr_array_remove_index_fast (state->console_attached, i);
              for (guint j = 0; j < n_clients; j++)
                {
                  struct pollfd client = { .fd = clients[j], .events = POLLIN };

                  g_array_append_val (fds, client);
                  g_ptr_array_add (polled, held);
                }
            }
          /* Only this thread removes from @held, so what it polls stays
           * valid while the lock is let go. */
          g_mutex_unlock (&state->console_lock);
          poll ((struct pollfd *) fds->data, fds->len, timeout_ms);
          g_mutex_lock (&state->console_lock);
          if (g_array_index (fds, struct pollfd, 0).revents != 0)
            {
              char buffer[64];

              while (read (state->wake[0], buffer, sizeof buffer) > 0)
                ;
            }
          /* Clients' input first: releasing a console below frees its
           * NlxLxcHeld, which later entries would still point to.  A client
           * socket closed meanwhile (by a fan-out in another thread) is
           * no longer attached, and nlx_lxc_console_input() says so. */
          for (guint i = 2; i < fds->len; i++)
            {
              struct pollfd *pfd = &g_array_index (fds, struct pollfd, i);

              held = polled->pdata[i - 2];
              if (pfd->revents != 0)
                nlx_lxc_console_input (held->console, pfd->fd);
            }
          /* A run is released once, whether its PTY closed or its
           * controller ended, or both.  Under the lock, so every run an
           * event names is still held; more events than fit wait for
           * the next turn (the set stays readable). */
          g_ptr_array_set_size (ended, 0);
          n = epoll_wait (state->console_epoll, events, G_N_ELEMENTS (events), 0);
          for (int i = 0; i < n; i++)
            {
              g_autoptr(GError) error = NULL;
              gboolean closed = FALSE;

              held = (NlxLxcHeld *) (guintptr) (events[i].data.u64 &
                                                ~CONTROLLER_ENDED);
              if (events[i].data.u64 & CONTROLLER_ENDED)
                closed = TRUE;
              else if (!nlx_lxc_console_read (held->console, &closed, &error))
                g_debug ("Console of instance %s not saved: %s", held->uuid,
                         error->message);
              if (closed && !g_ptr_array_find (ended, held, NULL))
                g_ptr_array_add (ended, held);
            }
          for (guint i = 0; i < ended->len; i++)
            {
              char *uuid = release (state, ended->pdata[i]);

              if (uuid != NULL)
                g_ptr_array_add (failed, uuid);
            }
        }
      if (failed->len > 0)
        {
          g_mutex_unlock (&state->console_lock);
          for (guint i = 0; i < failed->len; i++)
            nlx_lxc_deliver_event (state, failed->pdata[i]);
          g_mutex_lock (&state->console_lock);
        }
    }
  /* Events from now on are dropped: the driver is stopping.  Its gates
   * close with it, so libvirtd gets back the roots it would need to
   * restart a container by itself meanwhile. */
  g_clear_pointer (&state->console_pending, g_hash_table_unref);
  open_gates (state);
  g_mutex_unlock (&state->console_lock);
  return NULL;
}

/* Attaches a client to the held PTY of @uuid's current run, which the
 * console thread then pumps both ways (see nlx_lxc_console_attach()). */
int
nlx_lxc_driver_console_attach (NlxDriverState *state,
                               const char *uuid,
                               GError **error)
{
  g_autoptr(virDomain) dom = nlx_lxc_lookup (state, uuid, error);
  g_autofree char *key = NULL;
  g_autoptr(GMutexLocker) locker = NULL;
  NlxLxcHeld *held;
  int fds[2];

  if (dom == NULL)
    return -1;
  if (virDomainIsActive (dom) != 1)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_STATE,
                   _("Instance %s is not running; start it to use its "
                     "console"), uuid);
      return -1;
    }
  nlx_lxc_hold_console (state, dom, uuid, FALSE);
  key = held_key (uuid, virDomainGetID (dom));
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot attach to the console of instance %s: %s"),
                   uuid, g_strerror (saved_errno));
      return -1;
    }
  locker = g_mutex_locker_new (&state->console_lock);
  held = g_hash_table_lookup (state->held, key);
  if (held == NULL)
    {
      close (fds[0]);
      close (fds[1]);
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot attach to the console of instance %s: its "
                     "console PTY cannot be opened; see the daemon's log"),
                   uuid);
      return -1;
    }
  nlx_lxc_console_attach (held->console, fds[1]);
  if (!g_ptr_array_find (state->console_attached, held, NULL))
    g_ptr_array_add (state->console_attached, held);
  nlx_lxc_wake_console_thread (state);
  return fds[0];
}
