/* nlx-lxc-conn.c: the lxc driver's libvirt connection, kept across
 * libvirtd restarts, and the lifecycle and reboot events it delivers to
 * the driver's watcher; which domains are ours. */

#include "config.h"

#include <glib/gi18n-lib.h>
#include <libvirt/virterror.h>

#include "lxc/nlx-lxc-driver-private.h"
#include "lxc/nlx-lxc-error.h"

/* Tells the watcher, unless events were stopped meanwhile. */
void
nlx_lxc_deliver_event (NlxDriverState *state,
                       const char *uuid)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&state->event_lock);

  if (state->event_func != NULL)
    state->event_func (uuid, state->event_data);
}

/* Ours are the domains named exactly as nlx_instance_domain_name() names
 * them: "instance-" and the first eight digits of their own uuid. */
gboolean
nlx_lxc_is_ours (virDomainPtr dom,
                 char uuid[VIR_UUID_STRING_BUFLEN])
{
  const char *name = virDomainGetName (dom);

  return name != NULL && virDomainGetUUIDString (dom, uuid) == 0 &&
         g_str_has_prefix (name, "instance-") &&
         strlen (name) == strlen ("instance-") + 8 &&
         strncmp (name + strlen ("instance-"), uuid, 8) == 0;
}

/* Ours, and this daemon's: its directory is under this instances_path.
 * Other compute daemons on the host (another instances_path) have
 * domains named the same way; their reboots and consoles are theirs. */
gboolean
nlx_lxc_is_mine (NlxDriverState *state,
                 virDomainPtr dom,
                 char uuid[VIR_UUID_STRING_BUFLEN])
{
  g_autofree char *dir = NULL;

  if (!nlx_lxc_is_ours (dom, uuid))
    return FALSE;
  dir = nlx_lxc_instance_dir (state, uuid);
  return g_file_test (dir, G_FILE_TEST_IS_DIR);
}

/* A domain of @uuid stopped: wakes the operations waiting for it. */
static void
note_stopped (NlxDriverState *state,
              const char *uuid)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&state->stop_lock);

  for (NlxLxcStopWaiter *waiter = state->stop_waiters; waiter != NULL;
       waiter = waiter->next)
    if (g_str_equal (waiter->uuid, uuid))
      waiter->stopped = TRUE;
  g_cond_broadcast (&state->stop_cond);
}

/* Runs in libvirt's event thread, so it makes no call to libvirtd (the
 * name and uuid are the handle's own): what needs one is handed to the
 * console thread. */
static int
on_lifecycle (virConnectPtr conn G_GNUC_UNUSED,
              virDomainPtr dom,
              int event,
              int detail G_GNUC_UNUSED,
              void *opaque)
{
  NlxDriverState *state = opaque;
  char uuid[VIR_UUID_STRING_BUFLEN];

  if (!nlx_lxc_is_ours (dom, uuid))
    return 0;
  if (event == VIR_DOMAIN_EVENT_STOPPED)
    note_stopped (state, uuid);
  /* Another daemon's domains (another instances_path) are named alike:
   * their consoles are theirs, and looking would cost a call each. */
  if ((event == VIR_DOMAIN_EVENT_STARTED || event == VIR_DOMAIN_EVENT_STOPPED) &&
      nlx_lxc_is_mine (state, dom, uuid))
    nlx_lxc_console_event (state, uuid);
  nlx_lxc_deliver_event (state, uuid);
  return 0;
}

/* libvirt's LXC driver restarts a container whose init rebooted (busybox
 * reboot, systemctl reboot) by itself: a new controller and a new init in
 * a new mount namespace, announced only by a REBOOT event (no STOPPED or
 * STARTED lifecycle event).  The volumes the daemon mounted in the old
 * namespace are gone, so a worker mounts them again (nlx_lxc_remount()). */
static void
on_reboot (virConnectPtr conn G_GNUC_UNUSED,
           virDomainPtr dom,
           void *opaque)
{
  NlxDriverState *state = opaque;
  char uuid[VIR_UUID_STRING_BUFLEN];
  gboolean watched;

  if (!nlx_lxc_is_mine (state, dom, uuid))
    return;
  /* The new run's console, and the old one's end. */
  nlx_lxc_console_event (state, uuid);
  /* Set up by the driver that watches (the daemon's), not by every
   * driver open on this instances_path (a test's second one). */
  g_mutex_lock (&state->event_lock);
  watched = state->event_func != NULL;
  g_mutex_unlock (&state->event_lock);
  g_mutex_lock (&state->lock);
  if (watched && !state->remount_closed)
    g_thread_pool_push (state->remounts, g_strdup (uuid), NULL);
  g_mutex_unlock (&state->lock);
  nlx_lxc_deliver_event (state, uuid);
}

void
nlx_lxc_on_close (virConnectPtr conn G_GNUC_UNUSED,
                  int reason,
                  void *opaque)
{
  NlxDriverState *state = opaque;

  g_message ("Lost the connection to libvirt (reason %d); reconnecting on "
             "the next operation", reason);
  /* Events are missed until then: the console thread reconnects and
   * lists what runs. */
  nlx_lxc_console_rescan (state);
  nlx_lxc_deliver_event (state, NULL);
}

/* Called with state->lock held.  Whether or not anyone watches (the
 * console thread and stop waits need the events too). */
static void
register_lifecycle (NlxDriverState *state)
{
  if (state->lifecycle_callback >= 0 || state->reboot_callback >= 0)
    return;
  state->lifecycle_callback =
    virConnectDomainEventRegisterAny (state->conn, NULL,
                                      VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                      VIR_DOMAIN_EVENT_CALLBACK (on_lifecycle),
                                      state, NULL);
  if (state->lifecycle_callback < 0)
    {
      g_autoptr(GError) error = NULL;

      nlx_lxc_error_from_libvirt (&error);
      g_warning ("Cannot watch libvirt's lifecycle events, so state changes "
                 "are only seen by polling: %s", error->message);
    }
  state->reboot_callback =
    virConnectDomainEventRegisterAny (state->conn, NULL,
                                      VIR_DOMAIN_EVENT_ID_REBOOT,
                                      VIR_DOMAIN_EVENT_CALLBACK (on_reboot),
                                      state, NULL);
  if (state->reboot_callback < 0)
    {
      g_autoptr(GError) error = NULL;

      nlx_lxc_error_from_libvirt (&error);
      g_warning ("Cannot watch libvirt's reboot events, so volumes are not "
                 "mounted again when an instance reboots itself: %s",
                 error->message);
    }
}

/* Called with state->lock held. */
void
nlx_lxc_drop_connection (NlxDriverState *state)
{
  if (state->conn == NULL)
    return;
  if (state->lifecycle_callback >= 0)
    virConnectDomainEventDeregisterAny (state->conn, state->lifecycle_callback);
  state->lifecycle_callback = -1;
  if (state->reboot_callback >= 0)
    virConnectDomainEventDeregisterAny (state->conn, state->reboot_callback);
  state->reboot_callback = -1;
  virConnectUnregisterCloseCallback (state->conn, nlx_lxc_on_close);
  virConnectClose (state->conn);
  state->conn = NULL;
  /* Gone with libvirtd as well; opened again with the main one. */
  for (guint i = 0; i < state->spares->len; i++)
    g_clear_pointer (&state->spares->pdata[i], virConnectClose);
}

/* Opens the spare connections that are not open, with the main one, so
 * that the daemon holds as many as it will use from the start.  One that
 * cannot be opened now is tried again at its turn.  Called with
 * state->lock held. */
void
nlx_lxc_open_spares (NlxDriverState *state)
{
  for (guint i = 0; i < state->spares->len; i++)
    if (state->spares->pdata[i] == NULL)
      state->spares->pdata[i] = virConnectOpen (state->uri);
}

/* Called with state->lock held. */
static gboolean
reconnect (NlxDriverState *state,
           GError **error)
{
  state->conn = virConnectOpen (state->uri);
  if (state->conn == NULL)
    {
      g_autoptr(GError) local_error = NULL;

      nlx_lxc_error_from_libvirt (&local_error);
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_UNAVAILABLE,
                   _("Cannot connect to libvirt at %s (is libvirtd running? "
                     "set [libvirt] connection_uri): %s"), state->uri,
                   local_error->message);
      return FALSE;
    }
  virConnectRegisterCloseCallback (state->conn, nlx_lxc_on_close, state, NULL);
  register_lifecycle (state);
  nlx_lxc_open_spares (state);
  return TRUE;
}

/* A reference to a live connection, the next in turn, reconnecting when
 * libvirtd has gone away since the last operation.  The main connection
 * is checked at every turn: it carries the events, and its loss is what
 * says libvirtd went away. */
virConnectPtr
nlx_lxc_connection (NlxDriverState *state,
                    GError **error)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&state->lock);
  guint turn = state->next_connection++ % (state->spares->len + 1);
  virConnectPtr *conn = &state->conn;

  if (state->conn != NULL && virConnectIsAlive (state->conn) != 1)
    nlx_lxc_drop_connection (state);
  if (state->conn == NULL && !reconnect (state, error))
    return NULL;
  if (turn > 0)
    {
      virConnectPtr *spare = (virConnectPtr *) &state->spares->pdata[turn - 1];

      if (*spare != NULL && virConnectIsAlive (*spare) != 1)
        g_clear_pointer (spare, virConnectClose);
      if (*spare == NULL && (*spare = virConnectOpen (state->uri)) == NULL)
        {
          /* The main connection answers: the operation goes there. */
          g_autoptr(GError) local_error = NULL;

          nlx_lxc_error_from_libvirt (&local_error);
          g_debug ("Cannot open another connection to libvirt at %s: %s",
                   state->uri, local_error->message);
        }
      else
        conn = spare;
    }
  virConnectRef (*conn);
  return *conn;
}

virDomainPtr
nlx_lxc_lookup (NlxDriverState *state,
                const char *uuid,
                GError **error)
{
  g_autoptr(virConnect) conn = nlx_lxc_connection (state, error);
  virDomainPtr dom;

  if (conn == NULL)
    return NULL;
  /* nlx_virt_*() hands drivers valid, lower-case uuids. */
  dom = virDomainLookupByUUIDString (conn, uuid);
  if (dom == NULL)
    {
      if (nlx_lxc_error_last_is (VIR_ERR_NO_DOMAIN))
        g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_NOT_FOUND,
                     _("No instance %s on this host"), uuid);
      else
        {
          nlx_lxc_error_from_libvirt (error);
          g_prefix_error (error, _("Cannot look up instance %s: "), uuid);
        }
    }
  return dom;
}

gboolean
nlx_lxc_get_state (virDomainPtr dom,
                   const char *uuid,
                   int *domain_state,
                   GError **error)
{
  if (virDomainGetState (dom, domain_state, NULL, 0) < 0)
    {
      nlx_lxc_error_from_libvirt (error);
      g_prefix_error (error, _("Cannot read the state of instance %s: "), uuid);
      return FALSE;
    }
  return TRUE;
}

/* BLOCKED is a running domain whose CPUs idle (nlx_power_state_from_libvirt). */
gboolean
nlx_lxc_is_running (int domain_state)
{
  return domain_state == VIR_DOMAIN_RUNNING || domain_state == VIR_DOMAIN_BLOCKED;
}

static gpointer
run_event_loop (gpointer data G_GNUC_UNUSED)
{
  for (;;)
    if (virEventRunDefaultImpl () < 0)
      {
        g_autoptr(GError) error = NULL;

        nlx_lxc_error_from_libvirt (&error);
        g_warning ("libvirt's event loop failed: %s", error->message);
        g_usleep (G_USEC_PER_SEC);
      }
  return NULL;
}

/* libvirt delivers events, and notices a dead nlx_lxc_connection, only while an
 * event loop runs.  Its default loop is process-wide and cannot be
 * stopped, so one thread runs it for the life of the process. */
void
nlx_lxc_start_event_loop (void)
{
  static gsize started = 0;

  if (g_once_init_enter (&started))
    {
      if (virEventRegisterDefaultImpl () == 0)
        g_thread_unref (g_thread_new ("libvirt-events", run_event_loop, NULL));
      else
        g_warning ("Cannot start libvirt's event loop; lifecycle events and "
                   "libvirtd restarts are noticed late");
      g_once_init_leave (&started, 1);
    }
}

void
nlx_lxc_driver_watch_events (NlxDriverState *state,
                             NlxDriverEventFunc func,
                             gpointer user_data)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&state->lock);

  if (func == NULL)
    {
      /* libvirt's callbacks stay (the console thread and stop waits
       * need them); the event lock waits out a delivery in progress,
       * and none reaches the watcher after it. */
      g_mutex_lock (&state->event_lock);
      state->event_func = NULL;
      state->event_data = NULL;
      g_mutex_unlock (&state->event_lock);
      return;
    }
  g_return_if_fail (state->event_func == NULL);
  g_mutex_lock (&state->event_lock);
  state->event_func = func;
  state->event_data = user_data;
  g_mutex_unlock (&state->event_lock);
  if (state->conn != NULL)
    register_lifecycle (state);
}

/* Whether libvirt tells this daemon when domains stop, registering for
 * its events first when the connection does not yet. */
gboolean
nlx_lxc_events_registered (NlxDriverState *state)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&state->lock);

  if (state->conn != NULL)
    register_lifecycle (state);
  return state->conn != NULL && state->lifecycle_callback >= 0;
}

/* From now on @waiter learns when a domain of @uuid stops; added before
 * what stops it is done, so the event cannot come first.  @uuid must
 * outlive it. */
void
nlx_lxc_stop_waiter_add (NlxDriverState *state,
                         NlxLxcStopWaiter *waiter,
                         const char *uuid)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&state->stop_lock);

  waiter->uuid = uuid;
  waiter->stopped = FALSE;
  waiter->next = state->stop_waiters;
  state->stop_waiters = waiter;
}

void
nlx_lxc_stop_waiter_remove (NlxDriverState *state,
                            NlxLxcStopWaiter *waiter)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&state->stop_lock);

  for (NlxLxcStopWaiter **link = &state->stop_waiters; *link != NULL;
       link = &(*link)->next)
    if (*link == waiter)
      {
        *link = waiter->next;
        break;
      }
}

/* Waits until libvirt says @waiter's domain stopped or the monotonic
 * time @deadline passes; returns whether it stopped. */
gboolean
nlx_lxc_stop_waiter_wait (NlxDriverState *state,
                          NlxLxcStopWaiter *waiter,
                          gint64 deadline)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&state->stop_lock);

  while (!waiter->stopped &&
         g_cond_wait_until (&state->stop_cond, &state->stop_lock, deadline))
    ;
  return waiter->stopped;
}
