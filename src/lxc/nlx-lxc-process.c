/* nlx-lxc-process.c: starting and stopping an instance's container:
 * its volumes, limits and network before the start, the wait for its
 * init, the mounts inside it, the stop, and setting it all up again
 * after a reboot of its own (as libvirt's lxc_process.c). */

#include "config.h"

#include <errno.h>
#include <signal.h>
#include <unistd.h>
#include <glib/gi18n-lib.h>
#include <libvirt/libvirt-lxc.h>
#include <libvirt/virterror.h>
#include <sys/stat.h>

#include "common/nlx-file.h"
#include "host/nlx-network-filter.h"
#include "host/nlx-network.h"
#include "lxc/nlx-lxc-cgroup.h"
#include "lxc/nlx-lxc-disk.h"
#include "lxc/nlx-lxc-driver-private.h"
#include "lxc/nlx-lxc-error.h"
#include "lxc/nlx-lxc-proc.h"

#define POLL_INTERVAL_US (20 * 1000)
/* How often a start looks whether init has come, or executed the
 * image's: each look reads /proc twice (some 20 us), and nova-lxc-init
 * takes a millisecond or two. */
#define INIT_POLL_US 200

/* Like /proc/PID/exe but NULL when the process has gone. */
static char *
process_exe (guint pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%u/exe", pid);

  return g_file_read_link (path, NULL);
}

/* The container's init is the only child of the libvirt_lxc controller,
 * whose pid is the domain id.  It has really started once it no longer
 * runs the controller's binary, i.e. once it has exec'd init. */
static gboolean
init_has_started (guint controller,
                  const char *controller_exe,
                  gboolean *known,
                  pid_t *pid)
{
  g_autofree char *children_path = NULL;
  g_autofree char *children = NULL;
  g_autofree char *exe = NULL;
  guint64 init;

  children_path = g_strdup_printf ("/proc/%u/task/%u/children",
                                   controller, controller);
  *known = nlx_file_get_contents (children_path, &children, NULL, NULL);
  if (!*known)
    return FALSE;
  /* The first child is init; the controller has no other. */
  init = g_ascii_strtoull (children, NULL, 10);
  if (init == 0 || init > G_MAXINT)
    return FALSE;
  *pid = (pid_t) init;
  exe = process_exe ((guint) init);
  return exe != NULL && g_strcmp0 (exe, controller_exe) != 0;
}

/* The pid of a running domain's init, or 0. */
pid_t
nlx_lxc_init_pid (virDomainPtr dom)
{
  guint controller = virDomainGetID (dom);
  g_autofree char *path = g_strdup_printf ("/proc/%u/task/%u/children",
                                           controller, controller);
  g_autofree char *children = NULL;
  guint64 pid;

  if (controller == (guint) -1 ||
      !nlx_file_get_contents (path, &children, NULL, NULL))
    return 0;
  pid = g_ascii_strtoull (children, NULL, 10);
  return pid > 0 && pid <= G_MAXINT ? (pid_t) pid : 0;
}

/* Whether libvirt knows @init as @dom's init.  libvirt attaches and
 * detaches disks in the mount namespace of the init pid it keeps, which
 * the domain's libvirt_lxc controller reports over its monitor a moment
 * after init runs (seconds, under load): until then it is 0 for a domain
 * started for the first time (attach and detach fail with "Cannot attach
 * disk until init PID is known"), or the pid of the previous boot's init,
 * now gone, after a restart (they fail with "Kernel does not provide
 * mount namespace").  virDomainLxcOpenNamespace() hands back the
 * namespaces of the init libvirt knows: it knows @init once their mount
 * namespace is @init's.  1 yes, 0 not yet, -1 libvirt failed (@error). */
int
nlx_lxc_libvirt_knows_init (virDomainPtr dom,
                            pid_t init,
                            GError **error)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/ns/mnt", (int) init);
  int *fds = NULL;
  struct stat want;
  int known = 0;
  int n;

  if (init <= 0 || stat (path, &want) < 0)
    return 0;
  n = virDomainLxcOpenNamespace (dom, &fds, 0);
  if (n < 0)
    {
      /* "Init pid is not yet available" */
      if (nlx_lxc_error_last_is (VIR_ERR_OPERATION_INVALID))
        return 0;
      nlx_lxc_error_from_libvirt (error);
      return -1;
    }
  for (int i = 0; i < n; i++)
    {
      struct stat st;

      if (fstat (fds[i], &st) == 0 && st.st_dev == want.st_dev &&
          st.st_ino == want.st_ino)
        known = 1;
      close (fds[i]);
    }
  free (fds);
  return known;
}

/* Waits until the domain's init runs.  With @watch_init, the console
 * thread is told the init's pid as soon as it exists (before it has
 * exec'd: the pid stays), so that it learns how even the quickest init
 * ends.  No libvirt call in the loop (it made 64 k in 4 s for a batch
 * of 20): /proc says how far init is, the controller's pidfd and
 * libvirt's events whether the domain stopped (nlx-lxc-stop.c). */
static gboolean
wait_for_init (NlxDriverState *state,
               gboolean watch_init,
               virDomainPtr dom,
               const char *uuid,
               GError **error)
{
  gint64 deadline = g_get_monotonic_time () + NLX_LXC_INIT_START_TIMEOUT_US;
  guint controller = virDomainGetID (dom);
  g_autofree char *controller_exe = NULL;
  gboolean known = TRUE;
  pid_t init = 0;
  gboolean watched = FALSE;
  gboolean ok = FALSE;
  NlxLxcRunWatch watch;

  nlx_lxc_run_watch_begin (&watch, state, dom, uuid);
  controller_exe = process_exe (controller);
  while (g_get_monotonic_time () < deadline)
    {
      /* -1 is libvirtd gone (restarting): init is watched through /proc,
       * which needs no libvirt. */
      if (nlx_lxc_run_watch_ended (&watch, dom, 0) == 1)
        {
          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                       _("Instance %s stopped while starting: its init "
                         "program exited or could not run. See "
                         "/var/log/libvirt/lxc/%s.log and the console log"),
                       uuid, virDomainGetName (dom));
          goto out;
        }
      /* Without /proc/PID/task/PID/children a running domain is all we
       * can know. */
      if (controller_exe == NULL ||
          init_has_started (controller, controller_exe, &known, &init) ||
          !known)
        {
          if (watch_init && !watched && init != 0)
            nlx_lxc_watch_init (state, dom, uuid, init);
          ok = TRUE;
          goto out;
        }
      if (watch_init && !watched && init != 0)
        {
          nlx_lxc_watch_init (state, dom, uuid, init);
          watched = TRUE;
        }
      /* Sleeps on the controller's pidfd: its exit ends the sleep. */
      nlx_lxc_run_watch_ended (&watch, dom, INIT_POLL_US);
    }
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
               _("Instance %s did not start its init program within %d s"),
               uuid, (int) (NLX_LXC_INIT_START_TIMEOUT_US / G_USEC_PER_SEC));
out:
  nlx_lxc_run_watch_end (&watch);
  return ok;
}

/* nova-lxc-init runs first and waits for the pids limit; the instance
 * is up once it has executed the image's init.  As wait_for_init(), no
 * libvirt call in the loop. */
static gboolean
wait_for_image_init (NlxDriverState *state,
                     virDomainPtr dom,
                     const char *uuid,
                     GError **error)
{
  gint64 deadline = g_get_monotonic_time () + NLX_LXC_INIT_START_TIMEOUT_US;
  gboolean ok = FALSE;
  NlxLxcRunWatch watch;

  nlx_lxc_run_watch_begin (&watch, state, dom, uuid);
  while (g_get_monotonic_time () < deadline)
    {
      pid_t pid = nlx_lxc_init_pid (dom);
      g_autofree char *exe = pid ? process_exe ((guint) pid) : NULL;

      if (nlx_lxc_run_watch_ended (&watch, dom, 0) == 1)
        {
          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                       _("Instance %s stopped while starting: %s or its "
                         "init program failed. See its console log and "
                         "/var/log/libvirt/lxc/%s.log"),
                       uuid, NLX_LXC_SANDBOX_PROGRAM, virDomainGetName (dom));
          goto out;
        }
      if (exe != NULL && !g_str_has_suffix (exe, "/" NLX_LXC_SANDBOX_PROGRAM))
        {
          ok = TRUE;
          goto out;
        }
      /* INIT_POLL_US, not POLL_INTERVAL_US: the loop costs two reads of
       * /proc, and every moment here is one of the spawn's. */
      nlx_lxc_run_watch_ended (&watch, dom, INIT_POLL_US);
    }
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
               _("Instance %s did not start its init program within %d s"),
               uuid, (int) (NLX_LXC_INIT_START_TIMEOUT_US / G_USEC_PER_SEC));
out:
  nlx_lxc_run_watch_end (&watch);
  return ok;
}

/* Signal names init understands as "power off", as image properties
 * spell them ("SIGUSR2", "USR2", "SIGRTMIN+3").  libvirt's LXC driver
 * hands the number to kill() as it is, so the values are Linux's signal
 * numbers, and RTMIN means the C library's SIGRTMIN, as in systemd's
 * documentation and kill -l, not the kernel's. */
int
nlx_lxc_parse_signal (const char *name)
{
  static const struct {
    const char *name;
    int value;
  } signals[] = {
    { "HUP", VIR_DOMAIN_PROCESS_SIGNAL_HUP },
    { "INT", VIR_DOMAIN_PROCESS_SIGNAL_INT },
    { "QUIT", VIR_DOMAIN_PROCESS_SIGNAL_QUIT },
    { "USR1", VIR_DOMAIN_PROCESS_SIGNAL_USR1 },
    { "USR2", VIR_DOMAIN_PROCESS_SIGNAL_USR2 },
    { "TERM", VIR_DOMAIN_PROCESS_SIGNAL_TERM },
    { "PWR", VIR_DOMAIN_PROCESS_SIGNAL_PWR },
  };
  guint64 offset;

  if (g_str_has_prefix (name, "SIG"))
    name += 3;
  for (guint i = 0; i < G_N_ELEMENTS (signals); i++)
    if (g_str_equal (name, signals[i].name))
      return signals[i].value;
  if (g_str_has_prefix (name, "RTMIN+") &&
      g_ascii_string_to_unsigned (name + 6, 10, 0, SIGRTMAX - SIGRTMIN,
                                  &offset, NULL))
    return SIGRTMIN + (int) offset;
  return -1;
}

/* Asks init to power off: with the image's own signal when it has one,
 * else libvirt's way (initctl, then SIGTERM). */
gboolean
nlx_lxc_request_shutdown (virDomainPtr dom,
                          const char *uuid,
                          GError **error)
{
  g_autoptr(NlxLxcMetadata) metadata = nlx_lxc_read_metadata (dom, NULL);
  const char *name = metadata ? metadata->shutdown_signal : NULL;
  int rc;

  if (name != NULL && nlx_lxc_parse_signal (name) >= 0)
    rc = virDomainSendProcessSignal (dom, 1, nlx_lxc_parse_signal (name), 0);
  else
    rc = virDomainShutdownFlags (dom, 0);
  if (rc < 0)
    {
      nlx_lxc_error_from_libvirt (error);
      g_prefix_error (error, _("Cannot ask instance %s to shut down: "), uuid);
      return FALSE;
    }
  return TRUE;
}

/* Like virDomainIsActive(), but across a libvirtd restart: a handle of
 * the old connection answers -1 for ever, so the domain is looked up
 * again (reconnecting) and *@dom replaced.  -1 only while libvirtd cannot
 * be asked; a domain gone meanwhile is inactive. */
static int
is_active (NlxDriverState *state,
           virDomainPtr *dom,
           const char *uuid)
{
  g_autoptr(GError) error = NULL;
  virDomainPtr fresh;
  int active = virDomainIsActive (*dom);

  if (active >= 0)
    return active;
  fresh = nlx_lxc_lookup (state, uuid, &error);
  if (fresh == NULL)
    return g_error_matches (error, NLX_DRIVER_ERROR,
                            NLX_DRIVER_ERROR_NOT_FOUND) ? 0 : -1;
  virDomainFree (*dom);
  *dom = fresh;
  return virDomainIsActive (fresh);
}

/* Waits for the domain to stop, and rides out a libvirtd restart
 * meanwhile (see is_active()); the console thread saves what it prints
 * as it goes, to the end.  Returns whether it stopped in time. */
gboolean
nlx_lxc_wait_inactive (NlxDriverState *state,
                       virDomainPtr *dom,
                       const char *uuid,
                       guint timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;

  for (;;)
    {
      int active;

      g_usleep (POLL_INTERVAL_US);
      active = is_active (state, dom, uuid);
      if (active == 0)
        {
          nlx_lxc_wait_released (state, uuid);
          return TRUE;
        }
      if (g_get_monotonic_time () >= deadline)
        return FALSE;
      /* Not reconnecting 50 times a second while libvirtd is away. */
      if (active < 0)
        g_usleep (10 * POLL_INTERVAL_US);
    }
}

/* Gives the root its overlay (and a root volume its mount) and every
 * attachment its loop device, making again what a host reboot took away
 * (a new loop device is written into the domain's definition). */
gboolean
nlx_lxc_prepare_volumes (NlxDriverState *state,
                         virDomainPtr dom,
                         const char *uuid,
                         const NlxLxcMetadata *metadata,
                         GError **error)
{
  g_autofree char *dir = nlx_lxc_instance_dir (state, uuid);
  g_autofree char *root = NULL;

  const NlxLxcIdmap *idmap = metadata->privileged ? NULL : &state->idmap;

  /* At every start, so directories of an older version close too. */
  if (!nlx_lxc_instance_dir_make (dir, idmap, error) ||
      !nlx_lxc_disk_mount (uuid, dir, error))
    return FALSE;
  if (metadata->root_volume != NULL)
    root = nlx_lxc_volume_mount_root (state->volumes, uuid,
                                      metadata->root_volume, dir, idmap, error);
  else if (metadata->root_image != NULL)
    root = nlx_lxc_overlay_root (dir, metadata->root_image, idmap, error);
  if ((metadata->root_volume != NULL || metadata->root_image != NULL) &&
      (root == NULL || !nlx_lxc_mounts_publish_root (state, uuid, error)))
    return FALSE;
  for (guint i = 0; i < metadata->volumes->len; i++)
    {
      const NlxVolumeAttachment *attachment = metadata->volumes->pdata[i];
      g_autofree char *loop = NULL;
      gboolean created;

      loop = nlx_lxc_volume_setup (state->volumes, uuid, attachment, &created,
                                   error);
      if (loop == NULL)
        return FALSE;
      if (created && nlx_lxc_has_disk (dom, attachment->device, VIR_DOMAIN_XML_INACTIVE) &&
          !(nlx_lxc_change_disk (dom, attachment->device, loop, FALSE,
                         VIR_DOMAIN_AFFECT_CONFIG, error) &&
            nlx_lxc_change_disk (dom, attachment->device, loop, TRUE,
                         VIR_DOMAIN_AFFECT_CONFIG, error)))
        return FALSE;
    }
  return TRUE;
}

/* Holds a running instance to its pids limit, which libvirt cannot set
 * (see nlx-lxc-cgroup.c); domains defined before limits existed get the
 * host's default.  Needed after every start: each makes new processes. */
gboolean
nlx_lxc_apply_limits (NlxDriverState *state,
                      virDomainPtr dom,
                      const char *uuid,
                      const NlxLxcMetadata *metadata,
                      GError **error)
{
  guint controller = virDomainGetID (dom);
  pid_t pid = nlx_lxc_init_pid (dom);

  if (controller == (guint) -1 || pid == 0)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot limit the processes of instance %s: its init "
                     "is not running"), uuid);
      return FALSE;
    }
  if (!nlx_lxc_cgroup_limit_pids (virDomainGetName (dom), (pid_t) controller,
                                  pid, metadata->pids ? metadata->pids
                                                      : state->pids_limit,
                                  error))
    {
      g_prefix_error (error, _("Cannot limit the processes of instance %s: "),
                      uuid);
      return FALSE;
    }
  /* nova-lxc-init waits for this; SIGCONT, since it does nothing to a
   * process that does not wait for it, should the image's init run
   * already (nova-lxc-init gave up waiting). */
  if (kill (pid, SIGCONT) != 0 && errno != ESRCH)
    g_debug ("Instance %s: cannot wake its nova-lxc-init: %s", uuid,
             g_strerror (errno));
  return TRUE;
}

/* Mounts every attachment that has a mount path inside the running
 * instance. */
static gboolean
mount_volumes (NlxDriverState *state,
               virDomainPtr dom,
               const char *uuid,
               const NlxLxcMetadata *metadata,
               GError **error)
{
  pid_t pid = nlx_lxc_init_pid (dom);
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&state->mount_lock);

  for (guint i = 0; i < metadata->volumes->len; i++)
    {
      const NlxVolumeAttachment *attachment = metadata->volumes->pdata[i];

      if (attachment->mount_path == NULL)
        continue;
      if (pid == 0)
        {
          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                       _("Cannot mount volume %s in instance %s: its init "
                         "is not running"), attachment->volume_id, uuid);
          return FALSE;
        }
      if (!nlx_lxc_volume_mount (state->volumes, uuid, attachment, pid, error))
        return FALSE;
    }
  return TRUE;
}

/* Waits up to @timeout_us for libvirt to know the init of running
 * domain *@dom (nlx_lxc_libvirt_knows_init()), so that its disks can be
 * attached and detached.  A libvirtd restart meanwhile is waited out:
 * the domain is looked up again on the new connection.  Fails with @code, saying
 * what to do, when the time runs out, the domain stops, or libvirtd has
 * lost its connection to the controller and so will never know
 * (looked at every quarter of a second once the first has passed). */
gboolean
nlx_lxc_wait_init_known (NlxDriverState *state,
                         virDomainPtr *dom,
                         const char *uuid,
                         gint64 timeout_us,
                         NlxDriverError code,
                         GError **error)
{
  gint64 start = g_get_monotonic_time ();
  gint64 deadline = start + timeout_us;
  gint64 next_look = start + G_USEC_PER_SEC / 4;
  gint64 unheard_since = 0;
  g_autoptr(GError) last = NULL;

  for (;;)
    {
      int active = is_active (state, dom, uuid);
      gint64 now;
      int known;

      if (active == 0)
        {
          g_set_error (error, NLX_DRIVER_ERROR, code,
                       _("Instance %s stopped while starting: its init "
                         "program exited. See /var/log/libvirt/lxc/%s.log "
                         "and the console log"),
                       uuid, virDomainGetName (*dom));
          return FALSE;
        }
      g_clear_error (&last);
      if (active < 0)
        {
          /* libvirtd restarting: the outcome is for the next look. */
          g_set_error (&last, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_UNAVAILABLE,
                       _("libvirt does not answer"));
          known = -1;
        }
      else
        known = nlx_lxc_libvirt_knows_init (*dom, nlx_lxc_init_pid (*dom), &last);
      if (known == 1)
        {
          gint64 waited = g_get_monotonic_time () - start;

          if (waited > 100 * 1000)
            g_debug ("Instance %s: libvirt knew its init after %" G_GINT64_FORMAT
                     " ms", uuid, waited / 1000);
          return TRUE;
        }
      now = g_get_monotonic_time ();
      if (known == 0 && now >= next_look)
        {
          next_look = now + G_USEC_PER_SEC / 4;
          if (nlx_lxc_monitor_connected (*dom) != 0)
            unheard_since = 0;
          else if (unheard_since == 0)
            unheard_since = now;
          else if (now - unheard_since >= NLX_LXC_MONITOR_LOST_US)
            {
              g_set_error (error, NLX_DRIVER_ERROR, code,
                           _("libvirtd lost its connection to the controller "
                             "of instance %s as it started (a libvirt race), "
                             "so it will never learn the pid of its init and "
                             "cannot attach or detach its volumes: stop and "
                             "start the instance"), uuid);
              return FALSE;
            }
        }
      if (now >= deadline)
        break;
      g_usleep (5 * 1000);
    }
  if (last != NULL && g_error_matches (last, NLX_DRIVER_ERROR,
                                       NLX_DRIVER_ERROR_UNAVAILABLE))
    {
      g_prefix_error (&last, _("Cannot tell whether libvirt knows the init "
                               "of instance %s: "), uuid);
      g_propagate_error (error, g_steal_pointer (&last));
      return FALSE;
    }
  g_set_error (error, NLX_DRIVER_ERROR, code,
               _("Instance %s is still starting: libvirt has not learnt the "
                 "pid of its init within %d s, and cannot attach or detach "
                 "its volumes until it has; retry in a few seconds (if it "
                 "persists, see /var/log/libvirt/lxc/%s.log)%s%s"),
               uuid, (int) (timeout_us / G_USEC_PER_SEC),
               virDomainGetName (*dom), last ? ": " : "",
               last ? last->message : "");
  return FALSE;
}

/* Gives the boot just begun its own boot_id and lxcfs's /proc.  Neither
 * is worth refusing a boot for: a failure is logged and the instance
 * runs on, seeing the host's values there as it would without lxcfs. */
static void
mount_proc_view (NlxDriverState *state,
                 virDomainPtr dom,
                 const char *uuid)
{
  g_autofree char *dir = nlx_lxc_instance_dir (state, uuid);
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&state->mount_lock);
  pid_t pid = nlx_lxc_init_pid (dom);

  if (pid != 0)
    nlx_lxc_proc_view_mount (dir, state->lxcfs, pid, uuid);
}

/* Takes away what the running container no longer needs of the host's
 * mounts: its controller's copy of instances_path and, behind the
 * restart gate, its root in libvirtd's namespace. */
static void
release_host_mounts (NlxDriverState *state,
                     virDomainPtr dom,
                     const char *uuid)
{
  g_mutex_lock (&state->mount_lock);
  nlx_lxc_mounts_trim_controller (state, dom, uuid);
  g_mutex_unlock (&state->mount_lock);
  nlx_lxc_gate_restart (state, dom, uuid);
}

/* Sets up a container whose nova-lxc-init runs and waits for its pids
 * limit (nlx_lxc_apply_limits()), until the image's init runs with its
 * volumes mounted.  What the image's init must find from its first
 * instruction, the /proc view, comes before the limit lets it go; what
 * only the host cares about comes after, while nova-lxc-init sets up
 * the rest. */
static gboolean
set_up_container (NlxDriverState *state,
                  virDomainPtr dom,
                  const char *uuid,
                  const NlxLxcMetadata *metadata,
                  GError **error)
{
  mount_proc_view (state, dom, uuid);
  if (!nlx_lxc_apply_limits (state, dom, uuid, metadata, error))
    return FALSE;
  release_host_mounts (state, dom, uuid);
  return wait_for_image_init (state, dom, uuid, error) &&
         mount_volumes (state, dom, uuid, metadata, error);
}

/* Records that @uuid's init failed to boot when nothing read its console:
 * the container was gone before its PTY could be opened. */
static void
record_lost_boot (NlxDriverState *state,
                  virDomainPtr dom,
                  const char *uuid)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&state->console_lock);
  char *fault;

  fault = g_strdup_printf (_("Instance %s stopped during boot: its init "
                             "exited at once, before its console could be "
                             "read; /var/log/libvirt/lxc/%s.log on the host "
                             "may say why."), uuid, virDomainGetName (dom));
  g_message ("%s", fault);
  g_hash_table_replace (state->faults, g_strdup (uuid), fault);
}

/* Starts the domain with its console held from the first moment, and
 * waits until nova-lxc-init runs, which waits in turn for the pids limit
 * (nlx_lxc_apply_limits()) before it executes the image's init: so the PTY is
 * always held before the image's init can print.  *@started says
 * whether libvirt started it, *@held whether its console is held. */
static gboolean
start_domain (NlxDriverState *state,
              virDomainPtr dom,
              const char *uuid,
              gboolean *started,
              gboolean *held,
              GError **error)
{
  /* The previous run's console is read to its end first, so that the
   * log keeps the order of what was printed. */
  nlx_lxc_wait_released (state, uuid);
  g_mutex_lock (&state->console_lock);
  g_hash_table_remove (state->faults, uuid);
  g_mutex_unlock (&state->console_lock);
  *started = FALSE;
  *held = FALSE;
  if (virDomainCreate (dom) < 0)
    {
      nlx_lxc_error_from_libvirt (error);
      g_prefix_error (error, _("Cannot start instance %s: "), uuid);
      return FALSE;
    }
  *started = TRUE;
  *held = nlx_lxc_hold_console (state, dom, uuid, TRUE);
  return wait_for_init (state, TRUE, dom, uuid, error);
}

typedef struct {
  char *bridge;
  char *veth;
  char *mac;
  char *address;
  GError *error;
} PortRules;

static gpointer
port_rules_run (gpointer data)
{
  PortRules *rules = data;
  NlxNetworkPort port = { rules->veth, rules->mac, rules->address };

  nlx_network_filter_add_port (rules->bridge, &port, &rules->error);
  return rules;
}

/**
 * nlx_lxc_port_rules_start:
 *
 * Starts making the port security rules of @uuid's veth, keyed by the
 * veth's name, which must be in place before libvirt makes the veth, so
 * that the instance's first frame meets them (see
 * nlx-network-filter.c); again at every start, since a host reboot or
 * an operator's flush may have taken them away.  A thread of its own
 * runs the transaction (nlx-network-filter.c), while the caller goes
 * on; the thread goes to nlx_lxc_start_instance().
 *
 * Returns: (transfer full): the thread
 */
GThread *
nlx_lxc_port_rules_start (const char *uuid,
                          const NlxVif *vif)
{
  PortRules *rules = g_new0 (PortRules, 1);

  rules->bridge = g_strdup (vif->bridge);
  rules->veth = nlx_lxc_veth_name (uuid);
  rules->mac = g_strdup (vif->mac);
  rules->address = g_strdup (vif->address);
  return g_thread_new ("nlx-port-rules", port_rules_run, rules);
}

/**
 * nlx_lxc_port_rules_finish:
 * @thread: (transfer full): from nlx_lxc_port_rules_start()
 *
 * Waits for it: whether the rules are in place.
 */
gboolean
nlx_lxc_port_rules_finish (GThread *thread,
                           GError **error)
{
  PortRules *rules = g_thread_join (thread);
  gboolean made = rules->error == NULL;

  if (!made)
    g_propagate_error (error, rules->error);
  g_free (rules->bridge);
  g_free (rules->veth);
  g_free (rules->mac);
  g_free (rules->address);
  g_free (rules);
  return made;
}

/* The instance's static DHCP lease, when this daemon serves DHCP on its
 * bridge: again at every start, as the port rules. */
static gboolean
set_lease (NlxDriverState *state,
           const char *uuid,
           const NlxVif *vif,
           GError **error)
{
  if (state->dhcp == NULL || g_strcmp0 (vif->bridge, state->bridge) != 0)
    return TRUE;
  return nlx_dhcp_set_host (state->dhcp, uuid, vif->mac, vif->address, error);
}

/* The bridge the instance's veth joins, ready: the daemon's own is made
 * (and given its gateway address) if missing; another, which a Nova
 * driver named (docs/api.md "The driver API"), is someone else's and
 * must exist already; it only gets no_linklocal_learn, which the port
 * rules need on any bridge. */
static gboolean
ready_bridge (NlxDriverState *state,
              const NlxVif *vif,
              GError **error)
{
  if (g_strcmp0 (vif->bridge, state->bridge) == 0)
    return nlx_network_ensure_bridge (vif->bridge, vif->gateway, vif->prefix,
                                      error);
  return nlx_network_check_bridge (vif->bridge, error) &&
         nlx_network_protect_bridge (vif->bridge, error);
}

/* The bridge, the port rules (@rules, being made, or made now) and the
 * DHCP lease of @vif ready; the bridge is made while nft runs, which is
 * waited for whatever happens. */
static gboolean
ready_network (NlxDriverState *state,
               const char *uuid,
               const NlxVif *vif,
               GThread *rules,
               GError **error)
{
  gboolean ready;

  if (rules == NULL)
    rules = nlx_lxc_port_rules_start (uuid, vif);
  ready = ready_bridge (state, vif, error);
  if (!nlx_lxc_port_rules_finish (rules, ready ? error : NULL))
    ready = FALSE;
  return ready && set_lease (state, uuid, vif, error);
}

void
nlx_lxc_remove_lease (NlxDriverState *state,
                      const char *uuid)
{
  g_autoptr(GError) local_error = NULL;

  if (state->dhcp != NULL &&
      !nlx_dhcp_remove_host (state->dhcp, uuid, &local_error))
    g_warning ("Instance %s is gone, but its DHCP lease stays: %s", uuid,
               local_error->message);
}

/**
 * nlx_lxc_start_instance:
 * @known: (nullable): the domain's metadata, when the caller has just
 *   defined it; %NULL to read it from the domain
 * @port_rules: (transfer full) (nullable): the thread making the
 *   instance's port rules (nlx_lxc_port_rules_start(), for the vif of
 *   the domain's metadata), or %NULL to make them here
 *
 * Starts a defined domain with its volumes and network: loop devices,
 * root mounts, the bridge and its port rules first (a host reboot takes
 * them all away), then init, then the mounts inside it.  @port_rules is
 * waited for in any case.
 */
gboolean
nlx_lxc_start_instance (NlxDriverState *state,
                        virDomainPtr dom,
                        const char *uuid,
                        const NlxLxcMetadata *known,
                        GThread *port_rules,
                        GError **error)
{
  g_autoptr(NlxLxcMetadata) read = known ? NULL
                                         : nlx_lxc_read_metadata (dom, error);
  const NlxLxcMetadata *metadata = known ? known : read;
  g_autoptr(virDomain) handle = NULL;
  g_autoptr(GError) local_error = NULL;
  gboolean started = FALSE;
  gboolean held = FALSE;
  gboolean ready = metadata != NULL &&
                   nlx_lxc_prepare_volumes (state, dom, uuid, metadata, error);

  if (ready && metadata->vif != NULL)
    ready = ready_network (state, uuid, metadata->vif,
                           g_steal_pointer (&port_rules), error);
  if (port_rules != NULL)
    nlx_lxc_port_rules_finish (port_rules, NULL);
  if (!ready)
    return FALSE;
  if (!start_domain (state, dom, uuid, &started, &held, &local_error) &&
      (!started || virDomainIsActive (dom) != 0))
    {
      /* Not started, or its init never came: nothing failed to boot. */
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  /* Done only once libvirt can attach and detach disks: the API shows
   * the instance ACTIVE from then on. */
  handle = dom;
  virDomainRef (handle);
  for (guint attempt = 0; local_error == NULL; attempt++)
    {
      /* Each attempt is a new container. */
      if (!set_up_container (state, dom, uuid, metadata, &local_error))
        break;
      if (nlx_lxc_wait_init_known (state, &handle, uuid,
                           attempt == 0 ? NLX_LXC_INIT_KNOWN_TIMEOUT_US
                                        : NLX_LXC_INIT_KNOWN_RETRY_TIMEOUT_US,
                           NLX_DRIVER_ERROR_FAILED, &local_error))
        return TRUE;
      if (attempt > 0 ||
          g_error_matches (local_error, NLX_DRIVER_ERROR,
                           NLX_DRIVER_ERROR_UNAVAILABLE) ||
          is_active (state, &handle, uuid) != 1)
        break;
      /* Seen under bench-soak and bench-boot (0.1-0.4% of starts):
       * libvirtd closed its monitor connection to the new controller as
       * it started (see nlx_lxc_monitor_connected(); the controller logs
       * "End of file while reading data"), so the init pid never reached
       * it and never would.  A second start gets a new controller. */
      g_message ("Instance %s did not become ready (%s); starting it again",
                 uuid, local_error->message);
      g_clear_error (&local_error);
      nlx_lxc_stop_now (state, dom, uuid, NULL);
      /* The restart gate took the root from libvirtd's namespace, and a
       * stop of ours does not put it back. */
      if ((metadata->root_volume != NULL || metadata->root_image != NULL) &&
          !nlx_lxc_mounts_publish_root (state, uuid, &local_error))
        break;
      if (!start_domain (state, dom, uuid, &started, &held, &local_error))
        break;
    }
  if (started && virDomainIsActive (dom) == 0)
    {
      /* Its init (or nova-lxc-init) exited or could not run: the
       * instance was started and stopped by failing to boot, which is no
       * error of the start; get_fault says why, with init's last words.
       * The domain stays, for its console log and another try. */
      g_debug ("Instance %s stopped during boot: %s", uuid,
               local_error->message);
      nlx_lxc_wait_released (state, uuid);
      if (!held)
        record_lost_boot (state, dom, uuid);
      return TRUE;
    }
  /* libvirtd gone: how the start ended is for the next look to say. */
  if (!g_error_matches (local_error, NLX_DRIVER_ERROR,
                        NLX_DRIVER_ERROR_UNAVAILABLE))
    nlx_lxc_stop_now (state, dom, uuid, NULL);
  g_propagate_error (error, g_steal_pointer (&local_error));
  return FALSE;
}

/* The remount worker: applies @uuid's pids limit to, and mounts its
 * boot_id, /proc view and volumes in, the new container its init's
 * reboot made.  The domain is looked up again, since a handle's
 * id (the controller's pid) is the one from lookup time, and the mounts
 * go into the mount namespace of the new controller's child, the new
 * init, once it has exec'd (before that the container's root is not
 * set up, and a mount made there would be lost).  A volume that cannot
 * be mounted again stops the instance rather than leave it running
 * without what the API says it has; starting it mounts again or fails
 * with the reason. */
void
nlx_lxc_remount (gpointer data,
                 gpointer user_data)
{
  g_autofree char *uuid = data;
  NlxDriverState *state = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(virDomain) dom = NULL;
  g_autoptr(NlxLxcMetadata) metadata = NULL;

  /* Only this daemon's instances get here (on_reboot() in
   * nlx-lxc-conn.c asks nlx_lxc_is_mine()). */
  if (state->remount_closed)
    return;
  dom = nlx_lxc_lookup (state, uuid, &error);
  if (dom == NULL || (metadata = nlx_lxc_read_metadata (dom, &error)) == NULL)
    {
      g_warning ("Instance %s rebooted itself; its volumes are not mounted "
                 "again: %s", uuid, error->message);
      return;
    }
  if (virDomainIsActive (dom) != 1)
    return;
  /* Held before nova-lxc-init is let go, so no line of the new boot is
   * lost; a guest's own reboot is no start of ours (see judge() in
   * nlx-lxc-console-thread.c). */
  nlx_lxc_hold_console (state, dom, uuid, FALSE);
  if (wait_for_init (state, FALSE, dom, uuid, &error) &&
      set_up_container (state, dom, uuid, metadata, &error))
    {
      g_message ("Instance %s rebooted itself; its limits are applied and "
                 "its volumes mounted again", uuid);
      return;
    }
  /* Stopped meanwhile (by us or by itself): nothing to mount in. */
  if (virDomainIsActive (dom) != 1)
    return;
  g_warning ("Instance %s rebooted itself, but its limits or volumes "
             "cannot be set up again, so it is stopped (start it to try "
             "again): %s", uuid, error->message);
  nlx_lxc_stop_now (state, dom, uuid, NULL);
}
