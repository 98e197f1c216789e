/* nlx-lxc-driver.c: the compute driver on libvirt LXC
 *
 * Each instance is a persistent libvirt LXC domain named after its uuid
 * (nlx_instance_domain_name()) with a directory of its own under
 * instances_path holding its console log and its root: an overlay over a
 * directory image or a root volume, or a tarball image extracted.
 * libvirt is the truth about what runs: nothing here caches domain
 * state. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <glib-unix.h>
#include <gmodule.h>
#include <libvirt/libvirt.h>
#include <libvirt/libvirt-lxc.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "host/nlx-archive.h"
#include "common/nlx-config.h"
#include "driver/nlx-driver.h"
#include "common/nlx-file.h"
#include "lxc/nlx-lxc-console.h"
#include "lxc/nlx-lxc-cpuset.h"
#include "lxc/nlx-lxc-disk.h"
#include "lxc/nlx-lxc-domain.h"
#include "lxc/nlx-lxc-error.h"
#include "lxc/nlx-lxc-proc.h"
#include "common/nlx-idmap.h"
#include "lxc/nlx-lxc-cgroup.h"
#include "lxc/nlx-lxc-volume.h"
#include "common/nlx-lock.h"
#include "model/nlx-metadata.h"
#include "host/nlx-mount.h"
#include "host/nlx-network.h"
#include "host/nlx-network-filter.h"
#include "host/nlx-dhcp.h"

#define DEFAULT_URI "lxc:///"
#define DEFAULT_INSTANCES_PATH NLX_STATE_DIR "/instances"
/* Nova's [libvirt] wait_soft_reboot_seconds */
#define DEFAULT_SOFT_REBOOT_TIMEOUT_S 120
#define INIT_START_TIMEOUT_US (30 * G_USEC_PER_SEC)
/* How long a start waits for libvirt to learn the pid of the new init
 * (see wait_init_known()), then after starting it once more, and a volume
 * change before it answers 409.  The first wait is as long as the start
 * itself may take: under tools/check's parallel load libvirt took over
 * 10 s, and a start retried then boots the tenant's init twice. */
#define INIT_KNOWN_TIMEOUT_US INIT_START_TIMEOUT_US
#define INIT_KNOWN_RETRY_TIMEOUT_US (20 * G_USEC_PER_SEC)
#define INIT_KNOWN_VOLUME_TIMEOUT_US (10 * G_USEC_PER_SEC)
#define POLL_INTERVAL_US (20 * 1000)

/* How often the console thread looks for running instances whose PTY it
 * does not hold yet: ones a guest's own reboot restarted, or that ran
 * before the daemon started.  Their output waits in the PTY meanwhile
 * (it holds about 17 KB, after which the container's writes block);
 * what is held is read as it arrives. */
#define CONSOLE_SCAN_INTERVAL_US (1 * G_USEC_PER_SEC)

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

struct _NlxDriverState {
  char *uri;
  char *instances_path;
  NlxVolumeSettings *volumes;
  /* [lxc] uid_maps and gid_maps, host-wide as in Nova, and a user
   * namespace with them for idmapped root filesystems. */
  GArray *uid_map;
  GArray *gid_map;
  NlxLxcIdmap idmap;
  guint soft_reboot_timeout_s;
  /* [lxc] pids_limit (an instance's, unless its flavor says) and
   * pids_host_max (all instances' together, and any flavor's most);
   * [compute] cpu_shared_set (nullable) */
  guint pids_limit;
  guint pids_host_max;
  char *cpuset;
  /* [compute] force_config_drive: every instance gets one, as Nova's */
  gboolean force_config_drive;
  /* The CPUs each of this daemon's pinned instances is pinned to (uuid
   * -> GArray of guint), read from libvirt once, then kept as spawns and
   * destroys change it; under pin_lock, which a spawn holds from
   * choosing its CPUs to defining its domain. */
  GMutex pin_lock;
  GHashTable *pins;
  /* The directory holding nova-lxc-init, mounted into every instance */
  char *sandbox_dir;
  /* [lxc] lxcfs_path, or NULL when [lxc] lxcfs is off. */
  char *lxcfs_path;

  /* The connection is replaced when libvirtd restarts, so operations take
   * their own reference through connection(). */
  GMutex lock;
  virConnectPtr conn;           /* NULL until reconnected */
  int lifecycle_callback;       /* -1 when none is registered */
  int reboot_callback;          /* -1 when none is registered */
  /* Held while an event is delivered, so that stopping events waits for
   * one in progress: libvirt's deregistration does not. */
  GMutex event_lock;
  NlxDriverEventFunc event_func;
  gpointer event_data;
  /* lock_host's: one compute daemon per instances_path and bridge */
  NlxLock *instances_lock;
  NlxLock *bridge_lock;
  char *bridge;                 /* [network] bridge */
  gboolean host_access;         /* [network] host_access */
  char *gateway;                /* [network] gateway */
  guint metadata_port;          /* [network] metadata_port; 0: none */
  gboolean dhcp_enabled;        /* [network] dhcp */
  char *cidr;                   /* [network] cidr */
  guint prefix;
  /* The bridge's DHCP server, from lock_host on when dhcp_enabled. */
  NlxDhcp *dhcp;

  /* Mounts volumes again in containers their own init rebooted (uuids);
   * pushes are refused once remount_closed is set, under @lock. */
  GThreadPool *remounts;
  gboolean remount_closed;
  /* Serialises mounting an instance's volumes, which is "mount what is
   * not mounted yet": a start and a reboot event must not both mount. */
  GMutex mount_lock;

  /* The console thread holds each running instance's PTY open, one
   * reader each (@held: "uuid id" -> Held, the id telling boots apart),
   * and keeps why instances failed during boot (@faults: uuid ->
   * message).  Both under @console_lock; only the thread removes from
   * @held.  @released is signalled when it does; @wake[1] wakes it. */
  GMutex console_lock;
  GThread *console_thread;
  GHashTable *held;
  GHashTable *faults;
  GCond released;
  int wake[2];
  gboolean stopping;
};

G_DEFINE_AUTOPTR_CLEANUP_FUNC (virConnect, virConnectClose)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (virDomain, virDomainFree)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (xmlDoc, xmlFreeDoc)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (xmlXPathContext, xmlXPathFreeContext)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (xmlXPathObject, xmlXPathFreeObject)

/* ---- small helpers ---------------------------------------------------- */

/* Removes an instance's directory, reporting failure as a driver error. */
static gboolean
remove_instance_dir (const char *dir,
                     GError **error)
{
  g_autoptr(GError) local_error = NULL;

  if (nlx_file_remove_tree (dir, &local_error))
    return TRUE;
  g_set_error_literal (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                       local_error->message);
  return FALSE;
}

static char *
instance_dir (NlxDriverState *state,
              const char *uuid)
{
  return g_build_filename (state->instances_path, uuid, NULL);
}

/* Beside the root and the console log, under the instance's directory
 * (closed to host users); its own files are the daemon's, mode 0644, so
 * that the instance's root reads them as "others" and cannot write
 * them. */
static char *
config_drive_path (NlxDriverState *state,
                   const char *uuid)
{
  return g_build_filename (state->instances_path, uuid, "config-drive", NULL);
}

static char *
console_log_path (NlxDriverState *state,
                  const char *uuid)
{
  return g_build_filename (state->instances_path, uuid, "console.log", NULL);
}

/* ---- the libvirt connection, kept across libvirtd restarts ------------ */

/* Tells the watcher, unless events were stopped meanwhile. */
static void
deliver_event (NlxDriverState *state,
               const char *uuid)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&state->event_lock);

  if (state->event_func != NULL)
    state->event_func (uuid, state->event_data);
}

/* Ours are the domains named exactly as nlx_instance_domain_name() names
 * them: "instance-" and the first eight digits of their own uuid. */
static gboolean
is_ours (virDomainPtr dom,
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
static gboolean
is_mine (NlxDriverState *state,
         virDomainPtr dom,
         char uuid[VIR_UUID_STRING_BUFLEN])
{
  g_autofree char *dir = NULL;

  if (!is_ours (dom, uuid))
    return FALSE;
  dir = instance_dir (state, uuid);
  return g_file_test (dir, G_FILE_TEST_IS_DIR);
}

static int
on_lifecycle (virConnectPtr conn,
              virDomainPtr dom,
              int event,
              int detail,
              void *opaque)
{
  NlxDriverState *state = opaque;
  char uuid[VIR_UUID_STRING_BUFLEN];

  if (!is_ours (dom, uuid))
    return 0;
  deliver_event (state, uuid);
  return 0;
}

/* libvirt's LXC driver restarts a container whose init rebooted (busybox
 * reboot, systemctl reboot) by itself: a new controller and a new init in
 * a new mount namespace, announced only by a REBOOT event (no STOPPED or
 * STARTED lifecycle event).  The volumes the daemon mounted in the old
 * namespace are gone, so a worker mounts them again (remount()). */
static void
on_reboot (virConnectPtr conn,
           virDomainPtr dom,
           void *opaque)
{
  NlxDriverState *state = opaque;
  char uuid[VIR_UUID_STRING_BUFLEN];

  if (!is_mine (state, dom, uuid))
    return;
  g_mutex_lock (&state->lock);
  if (!state->remount_closed)
    g_thread_pool_push (state->remounts, g_strdup (uuid), NULL);
  g_mutex_unlock (&state->lock);
  deliver_event (state, uuid);
}

static void
on_close (virConnectPtr conn,
          int reason,
          void *opaque)
{
  NlxDriverState *state = opaque;

  g_message ("Lost the connection to libvirt (reason %d); reconnecting on "
             "the next operation", reason);
  deliver_event (state, NULL);
}

static void
register_lifecycle (NlxDriverState *state)
{
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
static void
drop_connection (NlxDriverState *state)
{
  if (state->conn == NULL)
    return;
  if (state->lifecycle_callback >= 0)
    virConnectDomainEventDeregisterAny (state->conn, state->lifecycle_callback);
  state->lifecycle_callback = -1;
  if (state->reboot_callback >= 0)
    virConnectDomainEventDeregisterAny (state->conn, state->reboot_callback);
  state->reboot_callback = -1;
  virConnectUnregisterCloseCallback (state->conn, on_close);
  virConnectClose (state->conn);
  state->conn = NULL;
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
  virConnectRegisterCloseCallback (state->conn, on_close, state, NULL);
  if (state->event_func != NULL)
    register_lifecycle (state);
  return TRUE;
}

/* A reference to a live connection, reconnecting when libvirtd has gone
 * away since the last operation. */
static virConnectPtr
connection (NlxDriverState *state,
            GError **error)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&state->lock);

  if (state->conn != NULL && virConnectIsAlive (state->conn) != 1)
    drop_connection (state);
  if (state->conn == NULL && !reconnect (state, error))
    return NULL;
  virConnectRef (state->conn);
  return state->conn;
}

static virDomainPtr
lookup (NlxDriverState *state,
        const char *uuid,
        GError **error)
{
  g_autoptr(virConnect) conn = connection (state, error);
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

static gboolean
get_state (virDomainPtr dom,
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
static gboolean
is_running (int domain_state)
{
  return domain_state == VIR_DOMAIN_RUNNING || domain_state == VIR_DOMAIN_BLOCKED;
}

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
static pid_t
init_pid (virDomainPtr dom)
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
static int
libvirt_knows_init (virDomainPtr dom,
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

static void watch_init (NlxDriverState *state,
                        virDomainPtr dom,
                        const char *uuid,
                        pid_t pid);

/* Waits until the domain's init runs.  With @state, the console thread
 * is told the init's pid as soon as it exists (before it has exec'd:
 * the pid stays), so that it learns how even the quickest init ends. */
static gboolean
wait_for_init (NlxDriverState *state,
               virDomainPtr dom,
               const char *uuid,
               GError **error)
{
  gint64 deadline = g_get_monotonic_time () + INIT_START_TIMEOUT_US;
  guint controller = virDomainGetID (dom);
  g_autofree char *controller_exe = process_exe (controller);
  gboolean known = TRUE;
  pid_t init = 0;
  gboolean watched = FALSE;

  while (g_get_monotonic_time () < deadline)
    {
      /* -1 is libvirtd gone (restarting): init is watched through /proc,
       * which needs no libvirt. */
      if (virDomainIsActive (dom) == 0)
        {
          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                       _("Instance %s stopped while starting: its init "
                         "program exited or could not run. See "
                         "/var/log/libvirt/lxc/%s.log and the console log"),
                       uuid, virDomainGetName (dom));
          return FALSE;
        }
      /* Without /proc/PID/task/PID/children a running domain is all we
       * can know. */
      if (controller_exe == NULL ||
          init_has_started (controller, controller_exe, &known, &init) ||
          !known)
        {
          if (state != NULL && !watched && init != 0)
            watch_init (state, dom, uuid, init);
          return TRUE;
        }
      if (state != NULL && !watched && init != 0)
        {
          watch_init (state, dom, uuid, init);
          watched = TRUE;
        }
      g_usleep (1000);
    }
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
               _("Instance %s did not start its init program within %d s"),
               uuid, (int) (INIT_START_TIMEOUT_US / G_USEC_PER_SEC));
  return FALSE;
}

/* nova-lxc-init runs first and waits for the pids limit; the instance
 * is up once it has executed the image's init. */
static gboolean
wait_for_image_init (virDomainPtr dom,
                     const char *uuid,
                     GError **error)
{
  gint64 deadline = g_get_monotonic_time () + INIT_START_TIMEOUT_US;

  while (g_get_monotonic_time () < deadline)
    {
      pid_t pid = init_pid (dom);
      g_autofree char *exe = pid ? process_exe ((guint) pid) : NULL;

      if (virDomainIsActive (dom) == 0)
        {
          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                       _("Instance %s stopped while starting: %s or its "
                         "init program failed. See its console log and "
                         "/var/log/libvirt/lxc/%s.log"),
                       uuid, NLX_LXC_SANDBOX_PROGRAM, virDomainGetName (dom));
          return FALSE;
        }
      if (exe != NULL && !g_str_has_suffix (exe, "/" NLX_LXC_SANDBOX_PROGRAM))
        return TRUE;
      g_usleep (POLL_INTERVAL_US);
    }
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
               _("Instance %s did not start its init program within %d s"),
               uuid, (int) (INIT_START_TIMEOUT_US / G_USEC_PER_SEC));
  return FALSE;
}

static char *
xpath_string (const char *xml,
              const char *expression)
{
  g_autoptr(xmlDoc) doc = NULL;
  g_autoptr(xmlXPathContext) context = NULL;
  g_autoptr(xmlXPathObject) result = NULL;
  xmlChar *value;
  char *copy;

  doc = xmlReadMemory (xml, strlen (xml), NULL, NULL, XML_PARSE_NONET);
  if (doc == NULL)
    return NULL;
  context = xmlXPathNewContext (doc);
  result = xmlXPathEvalExpression (BAD_CAST expression, context);
  if (result == NULL)
    return NULL;
  value = xmlXPathCastToString (result);
  copy = (value != NULL && *value != '\0') ? g_strdup ((char *) value) : NULL;
  xmlFree (value);
  return copy;
}

/* The host side of the domain's console PTY, or %NULL. */
static char *
console_pty (virDomainPtr dom)
{
  g_autofree char *xml = virDomainGetXMLDesc (dom, 0);

  if (xml == NULL)
    return NULL;
  return xpath_string (xml, "string(/domain/devices/console[@type='pty']"
                            "/source/@path)");
}

/* ---- consoles: held open from the start, read as output arrives --------- */

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

/* A pidfd of @pid, or -1. */
static int
open_pidfd (pid_t pid)
{
#ifdef SYS_pidfd_open
  return pid > 0 ? (int) syscall (SYS_pidfd_open, pid, 0) : -1;
#else
  return -1;
#endif
}

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

typedef struct {
  char *key;                    /* "uuid id" */
  char *uuid;
  char *name;                   /* the domain's */
  NlxLxcConsole *console;
  int init_pidfd;               /* -1 when unknown */
  gint64 opened_at;
  gint64 booted_at;             /* a start the daemon made, or 0 */
  gboolean stop_asked;          /* the daemon stops it */
} Held;

static void
held_free (Held *held)
{
  nlx_lxc_console_close (held->console);
  if (held->init_pidfd >= 0)
    close (held->init_pidfd);
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
  Held *held;

  g_hash_table_iter_init (&iter, state->held);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &held))
    if (g_str_equal (held->uuid, uuid))
      return TRUE;
  return FALSE;
}

static void
wake_console_thread (NlxDriverState *state)
{
  char byte = 0;

  if (write (state->wake[1], &byte, 1) < 0 && errno != EAGAIN)
    g_debug ("Cannot wake the console thread: %s", g_strerror (errno));
}

/* The scan was first to hold the console of a start of ours: it is a
 * start of ours all the same.  Called with console_lock held. */
static void
mark_booting (Held *held)
{
  held->booted_at = g_get_monotonic_time ();
  held->stop_asked = FALSE;
}

/* Holds the PTY of @dom's current run open, unless it already is; a
 * @booting hold belongs to a start the daemon made, whose init may fail
 * (see judge()).  Best effort: failing to save console output must not
 * fail the operation that wanted it saved. */
static gboolean
hold_console (NlxDriverState *state,
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
  Held *held;

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

  log_path = console_log_path (state, uuid);
  locker = g_mutex_locker_new (&state->console_lock);
  held = g_hash_table_lookup (state->held, key);
  if (held != NULL)
    {
      /* The console thread's scan held it meanwhile. */
      if (booting)
        mark_booting (held);
      return TRUE;
    }
  held = g_new0 (Held, 1);
  held->console = nlx_lxc_console_open (pty, log_path, &error);
  if (held->console == NULL)
    {
      g_debug ("Console of instance %s not saved: %s", uuid, error->message);
      g_free (held);
      return FALSE;
    }
  held->key = g_steal_pointer (&key);
  held->uuid = g_strdup (uuid);
  held->name = g_strdup (virDomainGetName (dom));
  held->init_pidfd = -1;
  held->opened_at = g_get_monotonic_time ();
  held->booted_at = booting ? held->opened_at : 0;
  g_hash_table_insert (state->held, held->key, held);
  wake_console_thread (state);
  return TRUE;
}

/* Remembers how @dom's init (pid @pid) ends, for judge(). */
static void
watch_init (NlxDriverState *state,
            virDomainPtr dom,
            const char *uuid,
            pid_t pid)
{
  g_autofree char *key = held_key (uuid, virDomainGetID (dom));
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&state->console_lock);
  Held *held = g_hash_table_lookup (state->held, key);

  if (held != NULL && held->init_pidfd < 0)
    held->init_pidfd = open_pidfd (pid);
}

/* The daemon is about to stop @uuid: its init's end is no failure, and
 * what failed before is history. */
static void
expect_stop (NlxDriverState *state,
             const char *uuid)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&state->console_lock);
  GHashTableIter iter;
  Held *held;

  g_hash_table_remove (state->faults, uuid);
  g_hash_table_iter_init (&iter, state->held);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &held))
    if (g_str_equal (held->uuid, uuid))
      held->stop_asked = TRUE;
}

/* Waits until @uuid's PTYs are read to their end and closed, so that its
 * console log is complete and its fault known; a stopped container's
 * PTY closes at once, so the wait is short. */
static void
wait_released (NlxDriverState *state,
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
static void
flush_console (NlxDriverState *state,
               virDomainPtr dom,
               const char *uuid)
{
  g_autoptr(GMutexLocker) locker = NULL;
  GHashTableIter iter;
  Held *held;

  hold_console (state, dom, uuid, FALSE);
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
judge (Held *held)
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

/* Reads @held to its end, records whether its init failed to boot and
 * closes it.  Called by the console thread, with console_lock held;
 * returns the uuid to tell the watcher about when it failed. */
static char *
release (NlxDriverState *state,
         Held *held)
{
  g_autofree char *fault = NULL;
  char *failed = NULL;

  nlx_lxc_console_read (held->console, NULL, NULL);
  fault = judge (held);
  if (fault != NULL)
    {
      g_message ("%s", fault);
      failed = g_strdup (held->uuid);
      g_hash_table_replace (state->faults, g_strdup (held->uuid),
                            g_steal_pointer (&fault));
    }
  g_hash_table_remove (state->held, held->key);
  g_cond_broadcast (&state->released);
  return failed;
}

/* Holds the PTY of every running instance of ours that is not held yet,
 * and releases what no longer runs but has not said so by closing (held
 * before @started, so not a start the listing missed). */
static void
scan_consoles (NlxDriverState *state,
               gint64 started,
               GPtrArray *failed)
{
  g_autoptr(GHashTable) running = g_hash_table_new_full (g_str_hash,
                                                         g_str_equal,
                                                         g_free, NULL);
  g_autoptr(virConnect) conn = connection (state, NULL);
  g_autoptr(GPtrArray) stale = g_ptr_array_new ();
  virDomainPtr *doms = NULL;
  GHashTableIter iter;
  Held *held;
  int n = -1;

  if (conn != NULL)
    n = virConnectListAllDomains (conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
  for (int i = 0; i < n; i++)
    {
      char uuid[VIR_UUID_STRING_BUFLEN];

      if (is_mine (state, doms[i], uuid))
        {
          g_hash_table_add (running, held_key (uuid, virDomainGetID (doms[i])));
          hold_console (state, doms[i], uuid, FALSE);
        }
      virDomainFree (doms[i]);
    }
  free (doms);
  if (n < 0)
    return;

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
}

/* Keeps every running instance's console flowing into its log, as Nova's
 * console log does for QEMU, from one thread: each PTY is held open (one
 * reader per PTY, so no byte is read twice or lost) and read as soon as
 * output arrives, until it closes with the container.  The watcher is
 * told of an instance whose init failed to boot. */
static gpointer
console_thread (gpointer data)
{
  NlxDriverState *state = data;
  g_autoptr(GArray) fds = g_array_new (FALSE, FALSE, sizeof (struct pollfd));
  g_autoptr(GPtrArray) polled = g_ptr_array_new ();
  gint64 next_scan = 0;

  g_mutex_lock (&state->console_lock);
  while (!state->stopping)
    {
      g_autoptr(GPtrArray) failed = g_ptr_array_new_with_free_func (g_free);
      struct pollfd wake = { .fd = state->wake[0], .events = POLLIN };
      gint64 now = g_get_monotonic_time ();
      GHashTableIter iter;
      Held *held;

      if (now >= next_scan)
        {
          g_mutex_unlock (&state->console_lock);
          scan_consoles (state, now, failed);
          g_mutex_lock (&state->console_lock);
          next_scan = g_get_monotonic_time () + CONSOLE_SCAN_INTERVAL_US;
        }
      else
        {
          g_array_set_size (fds, 0);
          g_ptr_array_set_size (polled, 0);
          g_array_append_val (fds, wake);
          g_hash_table_iter_init (&iter, state->held);
          while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &held))
            {
              struct pollfd pfd = {
                .fd = nlx_lxc_console_get_fd (held->console),
                .events = POLLIN,
              };
              guint n_clients;
              const int *clients =
                nlx_lxc_console_get_subscribers (held->console, &n_clients);

              g_array_append_val (fds, pfd);
              g_ptr_array_add (polled, held);
              /* Attached clients' input (console_attach). */
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
          poll ((struct pollfd *) fds->data, fds->len,
                (int) ((next_scan - now + 999) / 1000));
          g_mutex_lock (&state->console_lock);
          if (g_array_index (fds, struct pollfd, 0).revents != 0)
            {
              char buffer[64];

              while (read (state->wake[0], buffer, sizeof buffer) > 0)
                ;
            }
          /* Clients' input first: releasing a console below frees its
           * Held, which later entries would still point to.  A client
           * socket closed meanwhile (by a fan-out in another thread) is
           * no longer attached, and nlx_lxc_console_input() says so. */
          for (guint i = 1; i < fds->len; i++)
            {
              struct pollfd *pfd = &g_array_index (fds, struct pollfd, i);

              held = polled->pdata[i - 1];
              if (pfd->revents != 0 &&
                  pfd->fd != nlx_lxc_console_get_fd (held->console))
                nlx_lxc_console_input (held->console, pfd->fd);
            }
          for (guint i = 1; i < fds->len; i++)
            {
              struct pollfd *pfd = &g_array_index (fds, struct pollfd, i);
              g_autoptr(GError) error = NULL;
              gboolean closed = FALSE;
              char *uuid;

              held = polled->pdata[i - 1];
              if (pfd->revents == 0 ||
                  pfd->fd != nlx_lxc_console_get_fd (held->console))
                continue;
              if (pfd->revents & POLLNVAL)
                closed = TRUE;
              else if (!nlx_lxc_console_read (held->console, &closed, &error))
                g_debug ("Console of instance %s not saved: %s", held->uuid,
                         error->message);
              if (closed && (uuid = release (state, held)) != NULL)
                g_ptr_array_add (failed, uuid);
            }
        }
      if (failed->len > 0)
        {
          g_mutex_unlock (&state->console_lock);
          for (guint i = 0; i < failed->len; i++)
            deliver_event (state, failed->pdata[i]);
          g_mutex_lock (&state->console_lock);
        }
    }
  g_mutex_unlock (&state->console_lock);
  return NULL;
}

/* Signal names init understands as "power off", as image properties
 * spell them ("SIGUSR2", "USR2", "SIGRTMIN+3").  libvirt's LXC driver
 * hands the number to kill() as it is, so the values are Linux's signal
 * numbers, and RTMIN means the C library's SIGRTMIN, as in systemd's
 * documentation and kill -l, not the kernel's. */
static int
parse_signal (const char *name)
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
/* The domain's nova-lxc metadata, as it is now (live when running). */
static NlxLxcMetadata *
read_metadata (virDomainPtr dom,
               GError **error)
{
  g_autofree char *xml = virDomainGetMetadata (dom, VIR_DOMAIN_METADATA_ELEMENT,
                                               NLX_LXC_XMLNS, 0);

  if (xml == NULL && !nlx_lxc_error_last_is (VIR_ERR_NO_DOMAIN_METADATA))
    {
      nlx_lxc_error_from_libvirt (error);
      g_prefix_error (error, _("Cannot read the metadata of domain %s: "),
                      virDomainGetName (dom));
      return NULL;
    }
  return nlx_lxc_metadata_parse (xml, error);
}

static gboolean
request_shutdown (virDomainPtr dom,
                  const char *uuid,
                  GError **error)
{
  g_autoptr(NlxLxcMetadata) metadata = read_metadata (dom, NULL);
  const char *name = metadata ? metadata->shutdown_signal : NULL;
  int rc;

  if (name != NULL && parse_signal (name) >= 0)
    rc = virDomainSendProcessSignal (dom, 1, parse_signal (name), 0);
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
  fresh = lookup (state, uuid, &error);
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
static gboolean
wait_inactive (NlxDriverState *state,
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
          wait_released (state, uuid);
          return TRUE;
        }
      if (g_get_monotonic_time () >= deadline)
        return FALSE;
      /* Not reconnecting 50 times a second while libvirtd is away. */
      if (active < 0)
        g_usleep (10 * POLL_INTERVAL_US);
    }
}

/* Stops the domain now.  libvirt's destroy sends SIGTERM and waits before
 * SIGKILL; killing init first takes the whole container down at once.
 * A frozen container is thawed first, or the kill would wait too. */
static gboolean
stop_now (NlxDriverState *state,
          virDomainPtr dom,
          const char *uuid,
          GError **error)
{
  int domain_state = VIR_DOMAIN_NOSTATE;

  expect_stop (state, uuid);
  if (virDomainGetState (dom, &domain_state, NULL, 0) == 0 &&
      domain_state == VIR_DOMAIN_PAUSED)
    virDomainResume (dom);
  virDomainSendProcessSignal (dom, 1, VIR_DOMAIN_PROCESS_SIGNAL_KILL, 0);

  if (virDomainDestroy (dom) < 0)
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
  wait_released (state, uuid);
  return TRUE;
}

/* ---- what the domain keeps about itself --------------------------------- */

static unsigned int
live_and_config (virDomainPtr dom)
{
  return VIR_DOMAIN_AFFECT_CONFIG |
         (virDomainIsActive (dom) == 1 ? VIR_DOMAIN_AFFECT_LIVE : 0);
}

static gboolean
write_metadata (virDomainPtr dom,
                const NlxLxcMetadata *metadata,
                GError **error)
{
  g_autofree char *xml = nlx_lxc_metadata_to_xml (metadata);

  if (virDomainSetMetadata (dom, VIR_DOMAIN_METADATA_ELEMENT, xml,
                            NLX_LXC_XMLNS_PREFIX, NLX_LXC_XMLNS,
                            live_and_config (dom)) < 0)
    {
      nlx_lxc_error_from_libvirt (error);
      g_prefix_error (error, _("Cannot save the metadata of domain %s: "),
                      virDomainGetName (dom));
      return FALSE;
    }
  return TRUE;
}

/* Whether the domain's definition (live, or persistent) has a disk at
 * /dev/DEVICE. */
static gboolean
has_disk (virDomainPtr dom,
          const char *device,
          unsigned int flags)
{
  g_autofree char *xml = virDomainGetXMLDesc (dom, flags);
  g_autofree char *expression = NULL;
  g_autofree char *found = NULL;

  if (xml == NULL)
    return FALSE;
  expression = g_strdup_printf ("string(/domain/devices/disk/target"
                                "[@dev='%s']/@dev)",
                                device + strlen ("/dev/"));
  found = xpath_string (xml, expression);
  return found != NULL;
}

static gboolean
change_disk (virDomainPtr dom,
             const char *device,
             const char *source,
             gboolean attach,
             unsigned int flags,
             GError **error)
{
  g_autofree char *xml = nlx_lxc_disk_xml (device, source);
  int rc = attach ? virDomainAttachDeviceFlags (dom, xml, flags)
                  : virDomainDetachDeviceFlags (dom, xml, flags);

  if (rc < 0)
    {
      nlx_lxc_error_from_libvirt (error);
      /* The container restarted (its own reboot) since the caller
       * checked, and libvirt does not know the new init yet: a race the
       * caller can retry, not a failure (see libvirt_knows_init()). */
      if ((flags & VIR_DOMAIN_AFFECT_LIVE) && virDomainIsActive (dom) == 1 &&
          libvirt_knows_init (dom, init_pid (dom), NULL) == 0)
        {
          g_autoptr(GError) cause = g_steal_pointer (error);
          char uuid[VIR_UUID_STRING_BUFLEN] = "";

          virDomainGetUUIDString (dom, uuid);
          if (attach)
            g_set_error (error, NLX_DRIVER_ERROR,
                         NLX_DRIVER_ERROR_INVALID_STATE,
                         _("Instance %s has just restarted and libvirt does "
                           "not know its new init yet, so %s cannot be "
                           "attached now; retry in a few seconds (libvirt "
                           "said: %s)"), uuid, device, cause->message);
          else
            g_set_error (error, NLX_DRIVER_ERROR,
                         NLX_DRIVER_ERROR_INVALID_STATE,
                         _("Instance %s has just restarted and libvirt does "
                           "not know its new init yet, so %s cannot be "
                           "detached now; retry in a few seconds (libvirt "
                           "said: %s)"), uuid, device, cause->message);
          return FALSE;
        }
      g_prefix_error (error, attach ? _("Cannot attach %s to domain %s: ")
                                    : _("Cannot detach %s from domain %s: "),
                      device, virDomainGetName (dom));
      return FALSE;
    }
  return TRUE;
}

/* Gives the root its overlay (and a root volume its mount) and every
 * attachment its loop device, making again what a host reboot took away
 * (a new loop device is written into the domain's definition). */
static gboolean
prepare_volumes (NlxDriverState *state,
                 virDomainPtr dom,
                 const char *uuid,
                 const NlxLxcMetadata *metadata,
                 GError **error)
{
  g_autofree char *dir = instance_dir (state, uuid);
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
      root == NULL)
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
      if (created && has_disk (dom, attachment->device, VIR_DOMAIN_XML_INACTIVE) &&
          !(change_disk (dom, attachment->device, loop, FALSE,
                         VIR_DOMAIN_AFFECT_CONFIG, error) &&
            change_disk (dom, attachment->device, loop, TRUE,
                         VIR_DOMAIN_AFFECT_CONFIG, error)))
        return FALSE;
    }
  return TRUE;
}

/* Holds a running instance to its pids limit, which libvirt cannot set
 * (see nlx-lxc-cgroup.c); domains defined before limits existed get the
 * host's default.  Needed after every start: each makes new processes. */
static gboolean
apply_limits (NlxDriverState *state,
              virDomainPtr dom,
              const char *uuid,
              const NlxLxcMetadata *metadata,
              GError **error)
{
  guint controller = virDomainGetID (dom);
  pid_t pid = init_pid (dom);

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
  pid_t pid = init_pid (dom);
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
 * domain *@dom (libvirt_knows_init()), so that its disks can be attached
 * and detached.  A libvirtd restart meanwhile is waited out: the domain
 * is looked up again on the new connection.  Fails with @code, saying
 * what to do, when the time runs out or the domain stops. */
static gboolean
wait_init_known (NlxDriverState *state,
                 virDomainPtr *dom,
                 const char *uuid,
                 gint64 timeout_us,
                 NlxDriverError code,
                 GError **error)
{
  gint64 start = g_get_monotonic_time ();
  gint64 deadline = start + timeout_us;
  g_autoptr(GError) last = NULL;

  for (;;)
    {
      int active = is_active (state, dom, uuid);
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
        known = libvirt_knows_init (*dom, init_pid (*dom), &last);
      if (known == 1)
        {
          gint64 waited = g_get_monotonic_time () - start;

          if (waited > 100 * 1000)
            g_debug ("Instance %s: libvirt knew its init after %" G_GINT64_FORMAT
                     " ms", uuid, waited / 1000);
          return TRUE;
        }
      if (g_get_monotonic_time () >= deadline)
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
  g_autofree char *dir = instance_dir (state, uuid);
  g_autoptr(GError) error = NULL;
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&state->mount_lock);
  pid_t pid = init_pid (dom);

  if (pid == 0)
    return;
  if (!nlx_lxc_boot_id_mount (dir, pid, &error))
    {
      g_warning ("Instance %s reads the host's boot_id: %s", uuid,
                 error->message);
      g_clear_error (&error);
    }
  if (state->lxcfs_path == NULL)
    return;
  if (!nlx_lxc_lxcfs_check (state->lxcfs_path, &error))
    g_warning ("Instance %s: %s", uuid, error->message);
  else if (!nlx_lxc_lxcfs_mount (state->lxcfs_path, pid, &error))
    g_warning ("Instance %s sees the host's memory, CPUs, uptime or load "
               "in /proc: %s", uuid, error->message);
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
 * (apply_limits()) before it executes the image's init: so the PTY is
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
  wait_released (state, uuid);
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
  *held = hold_console (state, dom, uuid, TRUE);
  return wait_for_init (state, dom, uuid, error);
}

/* The port security rules of @uuid's veth, keyed by the veth's name:
 * made before libvirt makes the veth, so that the instance's first frame
 * meets them (see nlx-network-filter.c).  Again at every start, since a
 * host reboot or an operator's flush may have taken them away. */
static gboolean
add_port_filter (const char *uuid,
                 const NlxVif *vif,
                 GError **error)
{
  g_autofree char *veth = nlx_lxc_veth_name (uuid);
  NlxNetworkPort port = { veth, vif->mac, vif->address };

  return nlx_network_filter_add_port (vif->bridge, &port, error);
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

static void
remove_lease (NlxDriverState *state,
              const char *uuid)
{
  g_autoptr(GError) local_error = NULL;

  if (state->dhcp != NULL &&
      !nlx_dhcp_remove_host (state->dhcp, uuid, &local_error))
    g_warning ("Instance %s is gone, but its DHCP lease stays: %s", uuid,
               local_error->message);
}

/* Starts a defined domain with its volumes and network: loop devices,
 * root mounts, the bridge and its port rules first (a host reboot takes
 * them all away), then init, then the mounts inside it. */
static gboolean
start_instance (NlxDriverState *state,
                virDomainPtr dom,
                const char *uuid,
                GError **error)
{
  g_autoptr(NlxLxcMetadata) metadata = read_metadata (dom, error);
  g_autoptr(virDomain) handle = NULL;
  g_autoptr(GError) local_error = NULL;
  gboolean started = FALSE;
  gboolean held = FALSE;

  if (metadata == NULL || !prepare_volumes (state, dom, uuid, metadata, error) ||
      (metadata->vif != NULL &&
       (!nlx_network_ensure_bridge (metadata->vif->bridge, metadata->vif->gateway,
                                    metadata->vif->prefix, error) ||
        !add_port_filter (uuid, metadata->vif, error) ||
        !set_lease (state, uuid, metadata->vif, error))))
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
      /* nova-lxc-init waits for the pids limit before it executes the
       * image's init, so what is mounted now is there from its first
       * instruction; each attempt is a new container. */
      mount_proc_view (state, dom, uuid);
      if (!apply_limits (state, dom, uuid, metadata, &local_error) ||
          !wait_for_image_init (dom, uuid, &local_error) ||
          !mount_volumes (state, dom, uuid, metadata, &local_error))
        break;
      if (wait_init_known (state, &handle, uuid,
                           attempt == 0 ? INIT_KNOWN_TIMEOUT_US
                                        : INIT_KNOWN_RETRY_TIMEOUT_US,
                           NLX_DRIVER_ERROR_FAILED, &local_error))
        return TRUE;
      if (attempt > 0 ||
          g_error_matches (local_error, NLX_DRIVER_ERROR,
                           NLX_DRIVER_ERROR_UNAVAILABLE) ||
          is_active (state, &handle, uuid) != 1)
        break;
      /* Seen under bench-soak: libvirtd closed its monitor connection to
       * the new controller as it started (the controller logs "End of
       * file while reading data"), so the init pid never reached it and
       * never would.  A second start gets a new controller. */
      g_message ("Instance %s: libvirt did not learn the pid of its new "
                 "init within %d s; starting it again", uuid,
                 (int) (INIT_KNOWN_TIMEOUT_US / G_USEC_PER_SEC));
      g_clear_error (&local_error);
      stop_now (state, dom, uuid, NULL);
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
      wait_released (state, uuid);
      if (!held)
        record_lost_boot (state, dom, uuid);
      return TRUE;
    }
  /* libvirtd gone: how the start ended is for the next look to say. */
  if (!g_error_matches (local_error, NLX_DRIVER_ERROR,
                        NLX_DRIVER_ERROR_UNAVAILABLE))
    stop_now (state, dom, uuid, NULL);
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
static void
remount (gpointer data,
         gpointer user_data)
{
  g_autofree char *uuid = data;
  NlxDriverState *state = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(virDomain) dom = NULL;
  g_autoptr(NlxLxcMetadata) metadata = NULL;

  /* Only this daemon's instances get here (on_reboot() asks is_mine()). */
  if (state->remount_closed)
    return;
  dom = lookup (state, uuid, &error);
  if (dom == NULL || (metadata = read_metadata (dom, &error)) == NULL)
    {
      g_warning ("Instance %s rebooted itself; its volumes are not mounted "
                 "again: %s", uuid, error->message);
      return;
    }
  if (virDomainIsActive (dom) != 1)
    return;
  /* Held before nova-lxc-init is let go, so no line of the new boot is
   * lost; a guest's own reboot is no start of ours (see judge()). */
  hold_console (state, dom, uuid, FALSE);
  if (wait_for_init (NULL, dom, uuid, &error))
    /* Before the limit lets the image's init run, as at start. */
    mount_proc_view (state, dom, uuid);
  if (error == NULL &&
      apply_limits (state, dom, uuid, metadata, &error) &&
      wait_for_image_init (dom, uuid, &error) &&
      mount_volumes (state, dom, uuid, metadata, &error))
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
  stop_now (state, dom, uuid, NULL);
}

/* libvirt_lxc sets up an unprivileged instance's root as the instance's
 * root user, an unprivileged host uid, which must therefore be able to
 * reach the instances directory. */
static gboolean
check_searchable (const char *path,
                  guint32 root_uid,
                  GError **error)
{
  g_autofree char *dir = g_strdup (path);

  while (TRUE)
    {
      GStatBuf st;
      char *parent;

      if (g_stat (dir, &st) == 0 && !(st.st_mode & S_IXOTH) &&
          st.st_uid != root_uid)
        {
          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                       _("Instances run as host uid %u, which cannot reach "
                         "instances_path %s: %s is not searchable by others; "
                         "chmod o+x it or choose another instances_path"),
                       root_uid, path, dir);
          return FALSE;
        }
      if (g_str_equal (dir, "/"))
        return TRUE;
      parent = g_path_get_dirname (dir);
      g_free (dir);
      dir = parent;
    }
}

/* nova-lxc-init's directory: the build tree's when the running program
 * lives there (as for driver plugins: tests use what was just built, an
 * installed program never does), else the installed one.  It is mounted
 * into every instance, and what it holds runs first in each, so it must
 * be root's and writable by root only. */
static char *
find_sandbox_dir (GError **error)
{
  g_autofree char *exe = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *dir = NULL;
  g_autofree char *program = NULL;
  GStatBuf dir_st, program_st;

  if (exe != NULL && g_str_has_prefix (exe, NLX_ABS_TOP_BUILDDIR "/"))
    dir = g_strdup (NLX_ABS_TOP_BUILDDIR "/src/sandbox");
  else
    dir = g_strdup (NLX_SANDBOX_DIR);
  program = g_build_filename (dir, NLX_LXC_SANDBOX_PROGRAM, NULL);
  if (g_lstat (dir, &dir_st) != 0 || !S_ISDIR (dir_st.st_mode) ||
      g_lstat (program, &program_st) != 0 || !S_ISREG (program_st.st_mode) ||
      !(program_st.st_mode & S_IXOTH))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Instances cannot be sandboxed: %s is missing or not an "
                     "executable file; reinstall nova-lxc"), program);
      return NULL;
    }
  if (dir_st.st_uid != 0 || program_st.st_uid != 0 ||
      (dir_st.st_mode & (S_IWGRP | S_IWOTH)) != 0 ||
      (program_st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Instances cannot be sandboxed: %s and %s must be "
                     "owned by root and writable by root only, since every "
                     "instance runs it first"), dir, program);
      return NULL;
    }
  return g_steal_pointer (&dir);
}

/* ---- the driver ------------------------------------------------------- */

static gpointer
run_event_loop (gpointer data)
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

/* libvirt delivers events, and notices a dead connection, only while an
 * event loop runs.  Its default loop is process-wide and cannot be
 * stopped, so one thread runs it for the life of the process. */
static void
start_event_loop (void)
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

/* The host's CPUs are numbered below this. */
static guint
host_cpus (void)
{
  long conf = sysconf (_SC_NPROCESSORS_CONF);

  return conf > 0 ? (guint) conf : 1;
}

/* The host's limits must make sense together; a cpu_shared_set is
 * libvirt's cpuset syntax ("0-3,^2,6") over CPUs this host has. */
static gboolean
check_limits (guint pids_limit,
              guint pids_host_max,
              const char *cpuset,
              GError **error)
{
  g_autoptr(GArray) cpus = NULL;
  g_autoptr(GError) local_error = NULL;

  if (pids_limit > pids_host_max)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("[lxc] pids_limit (%u) is above [lxc] pids_host_max "
                     "(%u), which holds all instances together; lower the "
                     "one or raise the other"), pids_limit, pids_host_max);
      return FALSE;
    }
  if (cpuset == NULL)
    return TRUE;
  cpus = nlx_lxc_cpuset_parse (cpuset, host_cpus (), &local_error);
  if (cpus == NULL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("[compute] cpu_shared_set: %s"), local_error->message);
      return FALSE;
    }
  return TRUE;
}

static NlxDriverState *
lxc_init_host (GKeyFile *config,
               GError **error)
{
  g_autofree char *uri = nlx_config_get_string (config, "libvirt",
                                                 "connection_uri", DEFAULT_URI);
  g_autofree char *path = nlx_config_get_string (config, "DEFAULT",
                                                  "instances_path",
                                                  DEFAULT_INSTANCES_PATH);
  g_autofree char *real_path = NULL;
  g_autofree char *capabilities = NULL;
  guint timeout = DEFAULT_SOFT_REBOOT_TIMEOUT_S;
  g_autoptr(virConnect) conn = NULL;
  g_autoptr(NlxVolumeSettings) volumes = NULL;
  g_autofree char *uid_text = nlx_config_get_string (config, "lxc", "uid_maps",
                                                     NLX_IDMAP_DEFAULT);
  g_autofree char *gid_text = nlx_config_get_string (config, "lxc", "gid_maps",
                                                     NLX_IDMAP_DEFAULT);
  g_autoptr(GArray) uid_map = NULL;
  g_autoptr(GArray) gid_map = NULL;
  g_autofree char *lxcfs = nlx_config_get_string (config, "lxc", "lxcfs",
                                                  "true");
  g_autofree char *lxcfs_path = nlx_config_get_string (config, "lxc",
                                                       "lxcfs_path",
                                                       NLX_LXC_LXCFS_DEFAULT_PATH);
  NlxLxcIdmap idmap = { -1, 0, 0 };
  int wake[2] = { -1, -1 };
  g_autoptr(GError) local_error = NULL;
  guint pids_limit = NLX_LXC_DEFAULT_PIDS_LIMIT;
  guint pids_host_max = nlx_lxc_cgroup_default_pids_host_max ();
  g_autofree char *cpuset = nlx_config_get_string (config, "compute",
                                                   "cpu_shared_set", NULL);
  gboolean host_access = FALSE;
  gboolean force_config_drive = FALSE;
  g_autoptr(NlxNetworkSettings) network = NULL;
  g_autofree char *sandbox_dir = NULL;
  const char *type;
  NlxDriverState *state;

  if (!nlx_config_get_uint (config, "lxc", "pids_limit", 1,
                            NLX_FLAVOR_PIDS_MAX, &pids_limit, error) ||
      !nlx_config_get_uint (config, "lxc", "pids_host_max", 1,
                            NLX_FLAVOR_PIDS_MAX, &pids_host_max, error) ||
      !check_limits (pids_limit, pids_host_max, cpuset, error))
    return NULL;
  if (!nlx_config_get_uint (config, "libvirt", "wait_soft_reboot_seconds",
                            0, 3600, &timeout, error) ||
      !nlx_config_get_boolean (config, "network", "host_access", &host_access,
                               error) ||
      !nlx_config_get_boolean (config, "compute", "force_config_drive",
                               &force_config_drive, error) ||
      (network = nlx_network_settings_new (config, error)) == NULL ||
      (volumes = nlx_volume_settings_new (config, error)) == NULL ||
      (uid_map = nlx_idmap_parse (uid_text, "[lxc] uid_maps", error)) == NULL ||
      (gid_map = nlx_idmap_parse (gid_text, "[lxc] gid_maps", error)) == NULL)
    return NULL;
  if (!g_str_equal (lxcfs, "true") && !g_str_equal (lxcfs, "false"))
    {
      g_set_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID,
                   _("Configuration key [lxc] lxcfs must be true or false, "
                     "got “%s”"), lxcfs);
      return NULL;
    }
  if (!g_path_is_absolute (lxcfs_path))
    {
      g_set_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID,
                   _("Configuration key [lxc] lxcfs_path must be an absolute "
                     "path, got “%s”"), lxcfs_path);
      return NULL;
    }
  nlx_idmap_to_host (uid_map, 0, &idmap.root_uid);
  nlx_idmap_to_host (gid_map, 0, &idmap.root_gid);

  nlx_lxc_error_silence_libvirt ();
  start_event_loop ();
  conn = virConnectOpen (uri);
  if (conn == NULL)
    {
      nlx_lxc_error_from_libvirt (error);
      g_prefix_error (error, _("Cannot connect to libvirt at %s (is libvirtd "
                               "running? set [libvirt] connection_uri): "), uri);
      return NULL;
    }

  type = virConnectGetType (conn);
  capabilities = virConnectGetCapabilities (conn);
  if (type == NULL || g_ascii_strcasecmp (type, "LXC") != 0 ||
      capabilities == NULL || strstr (capabilities, "<os_type>exe</os_type>") == NULL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_NOT_SUPPORTED,
                   _("libvirt at %s is a %s hypervisor that cannot run "
                     "containers; install libvirt-daemon-driver-lxc and set "
                     "[libvirt] connection_uri to lxc:///"), uri,
                   type ? type : "unknown");
      return NULL;
    }

  /* Archive extraction refuses paths through symbolic links, so keep
   * the real path. */
  if (g_mkdir_with_parents (path, 0711) != 0 ||
      (real_path = realpath (path, NULL)) == NULL)
    {
      int saved_errno = errno;

      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot use instances_path %s: %s"), path,
                   g_strerror (saved_errno));
      return NULL;
    }

  if (!check_searchable (real_path, idmap.root_uid, error) ||
      !nlx_lxc_cgroup_init_pids (pids_host_max, error))
    return NULL;
  sandbox_dir = find_sandbox_dir (error);
  if (sandbox_dir == NULL)
    return NULL;
  idmap.userns_fd = nlx_userns_open (uid_map, gid_map, error);
  if (idmap.userns_fd < 0)
    return NULL;
  if (!g_unix_open_pipe (wake, FD_CLOEXEC, &local_error) ||
      !g_unix_set_fd_nonblocking (wake[0], TRUE, &local_error) ||
      !g_unix_set_fd_nonblocking (wake[1], TRUE, &local_error))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot start reading consoles: %s"),
                   local_error->message);
      if (wake[0] >= 0)
        {
          close (wake[0]);
          close (wake[1]);
        }
      close (idmap.userns_fd);
      return NULL;
    }

  state = g_new0 (NlxDriverState, 1);
  g_mutex_init (&state->lock);
  g_mutex_init (&state->event_lock);
  g_mutex_init (&state->console_lock);
  g_mutex_init (&state->mount_lock);
  state->reboot_callback = -1;
  state->remounts = g_thread_pool_new_full (remount, state, g_free, 1, FALSE,
                                            NULL);
  state->bridge = nlx_config_get_string (config, "network", "bridge",
                                         NLX_NETWORK_DEFAULT_BRIDGE);
  state->host_access = host_access;
  state->force_config_drive = force_config_drive;
  state->gateway = g_strdup (network->gateway);
  state->metadata_port = network->metadata_port;
  state->dhcp_enabled = network->dhcp;
  state->cidr = g_strdup (network->cidr);
  state->prefix = network->prefix;

  g_cond_init (&state->released);
  state->held = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                       (GDestroyNotify) held_free);
  state->faults = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         g_free);
  state->wake[0] = wake[0];
  state->wake[1] = wake[1];
  state->uri = g_steal_pointer (&uri);
  state->conn = g_steal_pointer (&conn);
  state->lifecycle_callback = -1;
  virConnectRegisterCloseCallback (state->conn, on_close, state, NULL);
  state->instances_path = g_steal_pointer (&real_path);
  state->sandbox_dir = g_steal_pointer (&sandbox_dir);
  state->volumes = g_steal_pointer (&volumes);
  state->uid_map = g_steal_pointer (&uid_map);
  state->gid_map = g_steal_pointer (&gid_map);
  state->idmap = idmap;
  state->soft_reboot_timeout_s = timeout;
  state->pids_limit = pids_limit;
  state->pids_host_max = pids_host_max;
  state->cpuset = g_steal_pointer (&cpuset);
  g_mutex_init (&state->pin_lock);
  if (g_str_equal (lxcfs, "true"))
    {
      g_autoptr(GError) lxcfs_error = NULL;

      state->lxcfs_path = g_steal_pointer (&lxcfs_path);
      /* Said once here, and again at each start while it lasts. */
      if (!nlx_lxc_lxcfs_check (state->lxcfs_path, &lxcfs_error))
        g_warning ("%s", lxcfs_error->message);
    }
  state->console_thread = g_thread_new ("consoles", console_thread, state);
  return state;
}

static void
lxc_cleanup_host (NlxDriverState *state)
{
  g_mutex_lock (&state->console_lock);
  state->stopping = TRUE;
  wake_console_thread (state);
  g_mutex_unlock (&state->console_lock);
  g_thread_join (state->console_thread);

  /* No new remounts, and the one running finishes before the
   * connection goes. */
  g_mutex_lock (&state->lock);
  state->remount_closed = TRUE;
  g_mutex_unlock (&state->lock);
  g_thread_pool_free (state->remounts, TRUE, TRUE);

  g_mutex_lock (&state->lock);
  drop_connection (state);
  g_mutex_unlock (&state->lock);
  /* An event libvirt was delivering as the callback went away. */
  g_mutex_lock (&state->event_lock);
  state->event_func = NULL;
  g_mutex_unlock (&state->event_lock);

  g_mutex_clear (&state->lock);
  g_mutex_clear (&state->event_lock);
  g_clear_pointer (&state->instances_lock, nlx_lock_release);
  /* Before the bridge's lock: the next daemon on it starts its own. */
  g_clear_pointer (&state->dhcp, nlx_dhcp_stop);
  g_clear_pointer (&state->bridge_lock, nlx_lock_release);
  g_free (state->bridge);
  g_free (state->gateway);
  g_free (state->cidr);
  g_mutex_clear (&state->console_lock);
  g_mutex_clear (&state->mount_lock);
  g_cond_clear (&state->released);
  g_hash_table_unref (state->held);
  g_hash_table_unref (state->faults);
  close (state->wake[0]);
  close (state->wake[1]);
  g_free (state->uri);
  g_free (state->instances_path);
  g_free (state->cpuset);
  g_clear_pointer (&state->pins, g_hash_table_unref);
  g_mutex_clear (&state->pin_lock);
  g_free (state->sandbox_dir);
  g_free (state->lxcfs_path);
  nlx_volume_settings_free (state->volumes);
  g_array_unref (state->uid_map);
  g_array_unref (state->gid_map);
  close (state->idmap.userns_fd);
  g_free (state);
}

static void
lxc_watch_events (NlxDriverState *state,
                  NlxDriverEventFunc func,
                  gpointer user_data)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&state->lock);

  if (func == NULL)
    {
      /* Deregistered first, so libvirt starts no new delivery; then the
       * event lock waits out one in progress. */
      if (state->conn != NULL && state->lifecycle_callback >= 0)
        virConnectDomainEventDeregisterAny (state->conn,
                                            state->lifecycle_callback);
      state->lifecycle_callback = -1;
      if (state->conn != NULL && state->reboot_callback >= 0)
        virConnectDomainEventDeregisterAny (state->conn,
                                            state->reboot_callback);
      state->reboot_callback = -1;
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

/* Only "no such domain" counts as gone: an error keeps the group. */
static gboolean
domain_exists (const char *name,
               gpointer user_data)
{
  virConnectPtr conn = user_data;
  g_autoptr(virDomain) dom = virDomainLookupByName (conn, name);

  return dom != NULL || !nlx_lxc_error_last_is (VIR_ERR_NO_DOMAIN);
}

static void
prune_pids_groups (NlxDriverState *state)
{
  g_autoptr(virConnect) conn = connection (state, NULL);

  if (conn != NULL)
    nlx_lxc_cgroup_prune_pids (domain_exists, conn);
}

/* Instances that ran while no daemon did (started by libvirt, rebooted
 * by their init, or from before limits existed) get their limits now.
 * Only this daemon's: another daemon's instances have their directory
 * elsewhere.  A failure is logged, not fatal: the instance runs as it
 * did, and its next start applies the limits or says why not. */
static void
reconcile_limits (NlxDriverState *state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(virConnect) conn = connection (state, &error);
  virDomainPtr *doms = NULL;
  int n = -1;

  prune_pids_groups (state);
  if (conn != NULL &&
      (n = virConnectListAllDomains (conn, &doms,
                                     VIR_CONNECT_LIST_DOMAINS_ACTIVE)) < 0)
    nlx_lxc_error_from_libvirt (&error);
  if (n < 0)
    {
      g_warning ("Cannot list instances to apply their limits: %s",
                 error->message);
      return;
    }
  for (int i = 0; i < n; i++)
    {
      char uuid[VIR_UUID_STRING_BUFLEN];
      g_autoptr(NlxLxcMetadata) metadata = NULL;

      if (is_mine (state, doms[i], uuid) &&
          ((metadata = read_metadata (doms[i], &error)) == NULL ||
           !apply_limits (state, doms[i], uuid, metadata, &error)))
        {
          g_warning ("%s", error->message);
          g_clear_error (&error);
        }
      virDomainFree (doms[i]);
    }
  free (doms);
}

/* Makes the bridge's firewall that of the instances libvirt has on it
 * now: at start, holding the bridge's lock, so no other daemon edits
 * these tables.  Rules of instances deleted while the daemon was away
 * go; those of every defined instance, running or not, are made (a
 * stopped one gets them again at its start anyway). */
static gboolean
sync_port_filters (NlxDriverState *state,
                   GError **error)
{
  g_autoptr(virConnect) conn = connection (state, error);
  g_autoptr(GArray) ports = g_array_new (FALSE, FALSE, sizeof (NlxNetworkPort));
  g_autoptr(GPtrArray) owned = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) metadatas =
    g_ptr_array_new_with_free_func ((GDestroyNotify) nlx_lxc_metadata_free);
  g_autoptr(GHashTable) leases = g_hash_table_new_full (g_str_hash,
                                                        g_str_equal, g_free,
                                                        g_free);
  /* The daemon serves it (nlx-metadata-service.c); this driver declares
   * NLX_DRIVER_CAP_METADATA_SERVICE because it routes instances to it. */
  NlxNetworkMetadata service = { state->gateway, state->metadata_port };
  virDomainPtr *doms = NULL;
  int n;

  if (conn == NULL)
    return FALSE;
  n = virConnectListAllDomains (conn, &doms, 0);
  if (n < 0)
    {
      nlx_lxc_error_from_libvirt (error);
      g_prefix_error (error, _("Cannot list domains: "));
      return FALSE;
    }
  for (int i = 0; i < n; i++)
    {
      char uuid[VIR_UUID_STRING_BUFLEN];
      g_autoptr(GError) local_error = NULL;
      NlxLxcMetadata *metadata;

      if (is_ours (doms[i], uuid) &&
          (metadata = read_metadata (doms[i], &local_error)) != NULL)
        {
          g_ptr_array_add (metadatas, metadata);
          if (metadata->vif != NULL &&
              g_strcmp0 (metadata->vif->bridge, state->bridge) == 0)
            {
              char *veth = nlx_lxc_veth_name (uuid);
              NlxNetworkPort port = { veth, metadata->vif->mac,
                                      metadata->vif->address };

              g_ptr_array_add (owned, veth);
              g_array_append_val (ports, port);
              g_hash_table_insert (leases, g_strdup (uuid),
                                   g_strdup_printf ("%s,%s",
                                                    metadata->vif->mac,
                                                    metadata->vif->address));
            }
        }
      else if (local_error != NULL)
        g_warning ("Domain %s gets no port rules: %s",
                   virDomainGetName (doms[i]), local_error->message);
      virDomainFree (doms[i]);
    }
  free (doms);
  if (!nlx_network_protect_bridge (state->bridge, error) ||
      !nlx_network_filter_sync (state->bridge, state->host_access,
                                state->dhcp_enabled,
                                state->metadata_port != 0 ? &service : NULL,
                                (const NlxNetworkPort *) ports->data,
                                ports->len, error))
    return FALSE;
  /* DHCP is served from the daemon's start, with the leases of every
   * defined instance: the bridge is made now rather than at the first
   * instance's start, since dnsmasq binds to it. */
  if (state->dhcp_enabled && state->dhcp == NULL &&
      (!nlx_network_ensure_bridge (state->bridge, state->gateway,
                                   state->prefix, error) ||
       (state->dhcp = nlx_dhcp_start (state->bridge, state->cidr,
                                      state->gateway, NLX_RUN_DIR, leases,
                                      error)) == NULL))
    return FALSE;
  return TRUE;
}

/* One compute daemon per instances_path (two would each take the
 * other's instance directories for stale leftovers) and per bridge (two
 * allocators on one bridge hand out the same addresses).  The bridge's
 * lock lives in the run directory, since a bridge has no directory of
 * its own. */
static gboolean
lxc_lock_host (NlxDriverState *state,
               GError **error)
{
  g_autofree char *instances = g_strdup_printf (_("instances_path %s"),
                                                state->instances_path);
  g_autofree char *bridge = g_strdup_printf (_("bridge %s"), state->bridge);
  g_autofree char *file = g_strdup_printf ("bridge-%s.lock", state->bridge);
  g_autofree char *path = g_build_filename (NLX_RUN_DIR, file, NULL);

  g_return_val_if_fail (state->instances_lock == NULL, FALSE);
  state->instances_lock = nlx_lock_acquire_dir (state->instances_path, 0711,
                                                instances, error);
  if (state->instances_lock == NULL)
    return FALSE;
  if (g_mkdir_with_parents (NLX_RUN_DIR, 0755) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot create the run directory %s: %s"), NLX_RUN_DIR,
                   g_strerror (saved_errno));
      return FALSE;
    }
  if (!nlx_network_bridge_name_is_valid (state->bridge))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("[network] bridge “%s” is not a valid interface name"),
                   state->bridge);
      return FALSE;
    }
  state->bridge_lock = nlx_lock_acquire (path, bridge, error);
  if (state->bridge_lock == NULL || !sync_port_filters (state, error))
    return FALSE;
  reconcile_limits (state);
  return TRUE;
}

/* The vif spawn wrote into the domain's metadata. */
static NlxVif *
lxc_get_vif (NlxDriverState *state,
             const char *uuid,
             GError **error)
{
  g_autoptr(virDomain) dom = lookup (state, uuid, error);
  g_autoptr(NlxLxcMetadata) metadata = NULL;

  if (dom == NULL)
    return NULL;
  metadata = read_metadata (dom, error);
  if (metadata == NULL || metadata->vif == NULL)
    return NULL;
  return g_steal_pointer (&metadata->vif);
}

static char **
lxc_list_instances (NlxDriverState *state,
                    GError **error)
{
  g_autoptr(GStrvBuilder) uuids = g_strv_builder_new ();
  g_autoptr(virConnect) conn = connection (state, error);
  virDomainPtr *doms = NULL;
  int n;

  if (conn == NULL)
    return NULL;
  n = virConnectListAllDomains (conn, &doms, 0);
  if (n < 0)
    {
      nlx_lxc_error_from_libvirt (error);
      g_prefix_error (error, _("Cannot list instances: "));
      return NULL;
    }
  for (int i = 0; i < n; i++)
    {
      char uuid[VIR_UUID_STRING_BUFLEN];

      if (is_ours (doms[i], uuid))
        g_strv_builder_add (uuids, uuid);
      virDomainFree (doms[i]);
    }
  free (doms);
  return g_strv_builder_end (uuids);
}

/* Refuses to spawn when either the uuid or the derived domain name is
 * taken, before anything is created. */
static gboolean
check_not_defined (virConnectPtr conn,
                   const NlxInstance *instance,
                   const char *name,
                   GError **error)
{
  g_autoptr(virDomain) by_uuid = NULL;
  g_autoptr(virDomain) by_name = NULL;

  by_uuid = virDomainLookupByUUIDString (conn, instance->uuid);
  if (by_uuid == NULL && !nlx_lxc_error_last_is (VIR_ERR_NO_DOMAIN))
    {
      nlx_lxc_error_from_libvirt (error);
      g_prefix_error (error, _("Cannot look up instance %s: "), instance->uuid);
      return FALSE;
    }
  if (by_uuid != NULL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_EXISTS,
                   _("Instance %s already exists on this host; destroy it "
                     "first or use another uuid"), instance->uuid);
      return FALSE;
    }
  by_name = virDomainLookupByName (conn, name);
  if (by_name == NULL && !nlx_lxc_error_last_is (VIR_ERR_NO_DOMAIN))
    {
      nlx_lxc_error_from_libvirt (error);
      g_prefix_error (error, _("Cannot look up domain %s: "), name);
      return FALSE;
    }
  if (by_name != NULL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_EXISTS,
                   _("A libvirt domain named %s already exists, so instance "
                     "%s cannot have that name; use a uuid that starts "
                     "with other digits"), name, instance->uuid);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_init (const char *root,
            const char *init,
            const char *what,
            GError **error)
{
  g_autofree char *root_init = g_build_filename (root, init, NULL);
  GStatBuf st;

  if (g_lstat (root_init, &st) == 0)
    return TRUE;
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
               _("%s has no init program %s; add it or set the image "
                 "property %s"), what, init, NLX_IMAGE_PROP_INIT_PATH);
  return FALSE;
}

/* With @root_from_image unset, only the image's properties are used. */
static gboolean
check_image (const NlxImage *image,
             const char *init,
             const char *shutdown_signal,
             gboolean root_from_image,
             GError **error)
{
  g_autofree char *real_root = NULL;
  g_autofree char *what = NULL;
  GStatBuf st;

  if (shutdown_signal != NULL && parse_signal (shutdown_signal) < 0)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Image %s: %s “%s” is not a signal name; use e.g. "
                     "SIGPWR, SIGUSR2 or SIGRTMIN+3"), image->id,
                   NLX_IMAGE_PROP_SHUTDOWN_SIGNAL, shutdown_signal);
      return FALSE;
    }
  if (!root_from_image)
    return TRUE;
  if (g_stat (image->path, &st) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Image %s: cannot use root filesystem %s: %s"),
                   image->id, image->path, g_strerror (saved_errno));
      return FALSE;
    }
  if (image->format != NLX_IMAGE_FORMAT_DIRECTORY)
    return TRUE;

  /* Sharing the host's own root with a container would hand it the host,
   * however the path spells it. */
  real_root = realpath (image->path, NULL);
  if (real_root == NULL || g_str_equal (real_root, "/"))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Image %s: the host's / cannot be an instance's root "
                     "filesystem"), image->id);
      return FALSE;
    }
  what = g_strdup_printf (_("Image %s"), image->id);
  return check_init (image->path, init, what, error);
}

/* The tree an instance's root is an overlay over: a directory image
 * itself, or a tarball image extracted into the instance's directory. */
static char *
root_image (const char *dir,
            const NlxImage *image,
            GError **error)
{
  g_autofree char *tree = NULL;

  if (image->format == NLX_IMAGE_FORMAT_DIRECTORY)
    return g_strdup (image->path);
  tree = g_build_filename (dir, "image", NULL);
  if (g_mkdir_with_parents (tree, 0755) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot create directory %s: %s"), tree,
                   g_strerror (saved_errno));
      return NULL;
    }
  if (!nlx_archive_extract (image->path, tree, error))
    return NULL;
  return g_steal_pointer (&tree);
}

/* Everything an instance holds on the host but its domain: root mounts,
 * loop devices and its directory. */
static gboolean
release_instance (NlxDriverState *state,
                  const char *uuid,
                  GError **error)
{
  g_autofree char *dir = instance_dir (state, uuid);
  g_autofree char *domain = g_strdup_printf ("instance-%.8s", uuid);
  g_autoptr(GError) local_error = NULL;

  /* Its console is closed before its log goes: nothing stays held. */
  expect_stop (state, uuid);
  wait_released (state, uuid);
  /* An empty group left behind costs nothing; a busy one is reused by
   * the next start of the same domain. */
  if (!nlx_lxc_cgroup_remove_pids (domain, &local_error))
    g_warning ("%s", local_error->message);
  return nlx_lxc_volume_umount_root (dir, error) &&
         nlx_lxc_volume_release_all (uuid, error) &&
         remove_instance_dir (dir, error);
}

/* The root tree: an overlay over the root volume, or over the image's
 * tree, which *tree names. */
static char *
spawn_root (NlxDriverState *state,
            const NlxInstance *instance,
            const NlxImage *image,
            const char *init,
            const NlxLxcIdmap *idmap,
            char **tree,
            GError **error)
{
  g_autofree char *dir = instance_dir (state, instance->uuid);
  g_autofree char *root = NULL;
  g_autofree char *what = NULL;

  /* Closed before anything of the instance is written into it; then
   * the writable layer's own filesystem: the overlay's upper directory
   * is made on it. */
  if (!nlx_lxc_instance_dir_make (dir, idmap, error) ||
      (instance->flavor.root_gb > 0 &&
       !nlx_lxc_disk_create (dir, instance->flavor.root_gb, error)) ||
      !nlx_lxc_disk_mount (instance->uuid, dir, error))
    return NULL;
  if (instance->root_volume == NULL)
    {
      *tree = root_image (dir, image, error);
      return *tree ? nlx_lxc_overlay_root (dir, *tree, idmap, error) : NULL;
    }
  root = nlx_lxc_volume_mount_root (state->volumes, instance->uuid,
                                    instance->root_volume, dir, idmap, error);
  what = g_strdup_printf (_("Root volume %s"), instance->root_volume);
  if (root == NULL || !check_init (root, init, what, error))
    return NULL;
  return g_steal_pointer (&root);
}

/* ---- pinning ------------------------------------------------------------ */

/* The CPUs instances may run on: [compute] cpu_shared_set, else the
 * host's online CPUs. */
static GArray *
allowed_cpus (NlxDriverState *state,
              guint *ncpus)
{
  g_autofree char *online = NULL;
  GArray *cpus;

  *ncpus = host_cpus ();
  if (state->cpuset != NULL)
    return nlx_lxc_cpuset_parse (state->cpuset, *ncpus, NULL);
  if (g_file_get_contents ("/sys/devices/system/cpu/online", &online, NULL,
                           NULL) &&
      (cpus = nlx_lxc_cpuset_parse (g_strstrip (online), *ncpus, NULL)) != NULL)
    return cpus;
  online = g_strdup_printf ("0-%u", *ncpus - 1);
  return nlx_lxc_cpuset_parse (online, *ncpus, NULL);
}

/* The CPUs @dom is pinned to, or %NULL when it runs on all it may. */
static GArray *
domain_pin (virDomainPtr dom,
            guint ncpus,
            guint nallowed)
{
  g_autofree char *xml = virDomainGetXMLDesc (dom, VIR_DOMAIN_XML_INACTIVE);
  g_autofree char *cpuset = xml ? xpath_string (xml, "string(/domain/vcpu/@cpuset)")
                                : NULL;
  g_autoptr(GArray) cpus = cpuset ? nlx_lxc_cpuset_parse (cpuset, ncpus, NULL)
                                  : NULL;

  return cpus != NULL && cpus->len < nallowed ? g_steal_pointer (&cpus) : NULL;
}

/* state->pins, read from libvirt the first time; pin_lock held. */
static GHashTable *
get_pins (NlxDriverState *state,
          virConnectPtr conn,
          guint ncpus,
          guint nallowed)
{
  virDomainPtr *doms = NULL;
  int n;

  if (state->pins != NULL)
    return state->pins;
  state->pins = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                       (GDestroyNotify) g_array_unref);
  n = virConnectListAllDomains (conn, &doms, 0);
  for (int i = 0; i < n; i++)
    {
      char uuid[VIR_UUID_STRING_BUFLEN];
      GArray *cpus;

      if (is_mine (state, doms[i], uuid) &&
          (cpus = domain_pin (doms[i], ncpus, nallowed)) != NULL)
        g_hash_table_replace (state->pins, g_strdup (uuid), cpus);
      virDomainFree (doms[i]);
    }
  free (doms);
  return state->pins;
}

/* The CPUs a new instance of @vcpus is pinned to, so that nproc inside
 * shows its vcpus: the least loaded of those allowed, as LXD pins
 * limits.cpu=N.  %NULL (unpinned within cpu_shared_set, if any) when it
 * may use them all.  pin_lock held. */
static char *
choose_pin (NlxDriverState *state,
            virConnectPtr conn,
            guint vcpus)
{
  guint ncpus;
  g_autoptr(GArray) allowed = allowed_cpus (state, &ncpus);
  g_autofree double *load = NULL;
  GHashTable *pins;
  GHashTableIter iter;
  GArray *cpus;

  if (allowed == NULL || vcpus >= allowed->len)
    return NULL;
  pins = get_pins (state, conn, ncpus, allowed->len);
  load = g_new0 (double, ncpus);
  g_hash_table_iter_init (&iter, pins);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &cpus))
    for (guint i = 0; i < cpus->len; i++)
      if (g_array_index (cpus, guint, i) < ncpus)
        load[g_array_index (cpus, guint, i)] += 1;
  return nlx_lxc_cpuset_choose (allowed, load, ncpus, vcpus);
}

/* @uuid's domain is gone: its CPUs are free for the next spawns. */
static void
forget_pin (NlxDriverState *state,
            const char *uuid)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&state->pin_lock);

  if (state->pins != NULL)
    g_hash_table_remove (state->pins, uuid);
}

static gboolean
lxc_spawn (NlxDriverState *state,
           const NlxInstance *instance,
           const NlxImage *image,
           GError **error)
{
  const char *init = NULL;
  const char *signal = NULL;
  g_autofree char *name = nlx_instance_domain_name (instance);
  g_autofree char *root = NULL;
  g_autofree char *tree = NULL;
  g_autofree char *xml = NULL;
  g_autofree char *pin = NULL;
  g_autoptr(GPtrArray) disks = g_ptr_array_new_with_free_func (g_free);
  const NlxLxcIdmap *idmap = instance->flavor.privileged ? NULL : &state->idmap;
  g_autoptr(virConnect) conn = NULL;
  g_autoptr(virDomain) dom = NULL;
  g_autofree char *hostname_storage = NULL;
  g_autofree char *config_drive = NULL;
  NlxLxcDomainSpec spec = { 0 };

  if (image != NULL)
    {
      init = nlx_image_get_property (image, NLX_IMAGE_PROP_INIT_PATH);
      signal = nlx_image_get_property (image, NLX_IMAGE_PROP_SHUTDOWN_SIGNAL);
    }
  else if (instance->root_volume == NULL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Instance %s has neither an image nor a root volume"),
                   instance->uuid);
      return FALSE;
    }
  if (init == NULL)
    init = NLX_LXC_DEFAULT_INIT;
  if (instance->flavor.pids > state->pids_host_max)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Flavor %s asks for a pids limit of %u, above this "
                     "host's [lxc] pids_host_max of %u; lower its "
                     "nova_lxc:pids"), instance->flavor.name,
                   instance->flavor.pids, state->pids_host_max);
      return FALSE;
    }
  conn = connection (state, error);
  if (conn == NULL ||
      !check_not_defined (conn, instance, name, error) ||
      (image != NULL && !check_image (image, init, signal,
                                      instance->root_volume == NULL, error)))
    return FALSE;

  /* No domain has this uuid, so whatever an earlier crash left is stale
   * and ours to clear. */
  if (!release_instance (state, instance->uuid, error))
    return FALSE;

  root = spawn_root (state, instance, image, init, idmap, &tree, error);
  /* Written at each spawn, a rebuild's too: what it holds is the
   * instance as it is now, as Nova's drive is made at each boot from
   * scratch. */
  if (root != NULL &&
      (instance->config_drive || state->force_config_drive))
    {
      g_autoptr(GError) local_error = NULL;

      config_drive = config_drive_path (state, instance->uuid);
      if (!nlx_metadata_write_config_drive (instance, config_drive,
                                            &local_error))
        {
          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                       _("Cannot make the config drive of instance %s: %s"),
                       instance->uuid, local_error->message);
          g_clear_pointer (&root, g_free);
        }
    }
  for (guint i = 0; root != NULL && i < instance->volumes->len; i++)
    {
      gboolean created;
      char *loop = nlx_lxc_volume_setup (state->volumes, instance->uuid,
                                         instance->volumes->pdata[i],
                                         &created, error);
      if (loop == NULL)
        break;
      g_ptr_array_add (disks, loop);
    }
  /* From choosing the CPUs to defining the domain, so that spawns at
   * once spread rather than all take the least loaded CPU. */
  g_mutex_lock (&state->pin_lock);
  if (root != NULL && disks->len == instance->volumes->len)
    {
      pin = choose_pin (state, conn, instance->flavor.vcpus);
      spec.instance = instance;
      spec.root_dir = root;
      spec.init_path = init;
      spec.sandbox_dir = state->sandbox_dir;
      spec.seccomp = !instance->flavor.seccomp_unconfined;
      spec.shutdown_signal = signal;
      spec.disk_sources = (const char * const *) disks->pdata;
      spec.root_image = tree;
      spec.pids = instance->flavor.pids ? instance->flavor.pids
                                        : state->pids_limit;
      spec.cpuset = pin != NULL ? pin : state->cpuset;
      spec.hostname = nlx_instance_hostname (instance, &hostname_storage);
      spec.config_drive_dir = config_drive;
      if (idmap != NULL)
        {
          spec.uid_map = state->uid_map;
          spec.gid_map = state->gid_map;
        }
      xml = nlx_lxc_domain_build (&spec, error);
    }
  if (xml != NULL)
    {
      dom = virDomainDefineXML (conn, xml);
      if (dom == NULL)
        {
          nlx_lxc_error_from_libvirt (error);
          g_prefix_error (error, _("Cannot define instance %s: "),
                          instance->uuid);
        }
    }
  if (dom != NULL && state->pins != NULL && pin != NULL)
    {
      GArray *cpus = nlx_lxc_cpuset_parse (pin, host_cpus (), NULL);

      if (cpus != NULL)
        g_hash_table_replace (state->pins, g_strdup (instance->uuid), cpus);
    }
  g_mutex_unlock (&state->pin_lock);
  if (dom != NULL && start_instance (state, dom, instance->uuid, error))
    return TRUE;

  /* Undo everything: no domain, no port rules, no mounts, no loop
   * devices, no directory. */
  if (dom != NULL)
    {
      if (virDomainIsActive (dom) == 1)
        stop_now (state, dom, instance->uuid, NULL);
      virDomainUndefine (dom);
      forget_pin (state, instance->uuid);
      if (instance->vif != NULL)
        {
          g_autofree char *veth = nlx_lxc_veth_name (instance->uuid);

          nlx_network_filter_remove_port (instance->vif->bridge, veth, NULL);
        }
    }
  remove_lease (state, instance->uuid);
  release_instance (state, instance->uuid, NULL);
  return FALSE;
}

static gboolean
lxc_destroy (NlxDriverState *state,
             const char *uuid,
             GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(virDomain) dom = lookup (state, uuid, &local_error);
  g_autofree char *bridge = NULL;

  if (dom == NULL &&
      !g_error_matches (local_error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_NOT_FOUND))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  g_clear_error (&local_error);
  if (dom != NULL)
    {
      g_autoptr(NlxLxcMetadata) metadata = read_metadata (dom, NULL);

      /* Its own bridge: the configuration may have changed since. */
      if (metadata != NULL && metadata->vif != NULL)
        bridge = g_strdup (metadata->vif->bridge);
      if (virDomainIsActive (dom) == 1 && !stop_now (state, dom, uuid, error))
        return FALSE;
      if (virDomainUndefine (dom) < 0 &&
          !nlx_lxc_error_last_is (VIR_ERR_NO_DOMAIN))
        {
          nlx_lxc_error_from_libvirt (error);
          g_prefix_error (error, _("Cannot remove instance %s: "), uuid);
          return FALSE;
        }
    }
  /* Rules left behind would only match a veth of the same name, which
   * the next start of an instance of that name rewrites, and the
   * daemon's next start removes (as it does those of a domain that was
   * already gone here): a failure is worth a warning, not a failed
   * delete.  An instance without a vif has none to remove, and no table
   * is made for it. */
  if (bridge != NULL)
    {
      g_autofree char *veth = nlx_lxc_veth_name (uuid);

      if (!nlx_network_filter_remove_port (bridge, veth, &local_error))
        g_warning ("Instance %s is deleted, but its port rules stay: %s",
                   uuid, local_error->message);
    }
  remove_lease (state, uuid);
  forget_pin (state, uuid);
  if (!release_instance (state, uuid, error))
    return FALSE;
  /* And any group a start racing with an earlier deletion made again. */
  prune_pids_groups (state);
  return TRUE;
}

static gboolean
lxc_reboot (NlxDriverState *state,
            const char *uuid,
            NlxRebootType type,
            GError **error)
{
  g_autoptr(virDomain) dom = lookup (state, uuid, error);
  int domain_state;

  if (dom == NULL || !get_state (dom, uuid, &domain_state, error))
    return FALSE;

  if (type == NLX_REBOOT_SOFT)
    {
      g_autoptr(GError) local_error = NULL;

      if (!is_running (domain_state))
        {
          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_STATE,
                       _("Instance %s is not running, so it cannot reboot "
                         "softly; use a hard reboot"), uuid);
          return FALSE;
        }
      /* As Nova does: shut down and start again, and fall back to a hard
       * reboot when init does not shut down in time. */
      expect_stop (state, uuid);
      if (request_shutdown (dom, uuid, &local_error) &&
          wait_inactive (state, &dom, uuid, state->soft_reboot_timeout_s))
        return start_instance (state, dom, uuid, error);
      g_debug ("Soft reboot of instance %s fell back to hard: %s", uuid,
               local_error ? local_error->message : "timed out");
    }

  if (virDomainIsActive (dom) == 1 && !stop_now (state, dom, uuid, error))
    return FALSE;
  return start_instance (state, dom, uuid, error);
}

static gboolean
lxc_power_off (NlxDriverState *state,
               const char *uuid,
               guint timeout_s,
               GError **error)
{
  g_autoptr(virDomain) dom = lookup (state, uuid, error);
  g_autoptr(GError) local_error = NULL;
  int domain_state;

  if (dom == NULL || !get_state (dom, uuid, &domain_state, error))
    return FALSE;
  /* Stopped on purpose now, whatever stopped it before. */
  expect_stop (state, uuid);
  if (domain_state == VIR_DOMAIN_SHUTOFF)
    return TRUE;

  if (timeout_s > 0 && is_running (domain_state))
    {
      if (request_shutdown (dom, uuid, &local_error) &&
          wait_inactive (state, &dom, uuid, timeout_s))
        return TRUE;
      g_debug ("Instance %s did not power off within %u s, stopping it: %s",
               uuid, timeout_s,
               local_error ? local_error->message : "timed out");
    }
  return stop_now (state, dom, uuid, error);
}

static gboolean
lxc_power_on (NlxDriverState *state,
              const char *uuid,
              GError **error)
{
  g_autoptr(virDomain) dom = lookup (state, uuid, error);
  int domain_state;

  if (dom == NULL || !get_state (dom, uuid, &domain_state, error))
    return FALSE;
  if (is_running (domain_state))
    return TRUE;
  if (domain_state == VIR_DOMAIN_PAUSED)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_STATE,
                   _("Instance %s is paused; unpause it instead"), uuid);
      return FALSE;
    }
  return start_instance (state, dom, uuid, error);
}

/* The root is read from the host through the overlay mounted at
 * DIR/rootfs: the image and the instance's changes, without the volumes
 * mounted inside the instance's own mount namespace.  A running instance
 * is frozen meanwhile, so no write lands half-way through. */
static gboolean
lxc_snapshot (NlxDriverState *state,
              const char *uuid,
              const char *image_dir,
              GError **error)
{
  g_autoptr(virDomain) dom = lookup (state, uuid, error);
  g_autoptr(NlxLxcMetadata) metadata = NULL;
  g_autofree char *dir = instance_dir (state, uuid);
  g_autofree char *root = g_build_filename (dir, "rootfs", NULL);
  g_autofree char *tarball = g_build_filename (image_dir, NLX_SNAPSHOT_FILE,
                                               NULL);
  g_autoptr(GError) resume_error = NULL;
  gboolean frozen = FALSE;
  gboolean ok;
  int domain_state;

  if (dom == NULL || !get_state (dom, uuid, &domain_state, error) ||
      (metadata = read_metadata (dom, error)) == NULL)
    return FALSE;
  /* Stopped since a host reboot, it has no overlay until made again. */
  if (domain_state == VIR_DOMAIN_SHUTOFF &&
      !prepare_volumes (state, dom, uuid, metadata, error))
    return FALSE;
  if (is_running (domain_state))
    {
      if (virDomainSuspend (dom) < 0)
        {
          nlx_lxc_error_from_libvirt (error);
          g_prefix_error (error, _("Cannot freeze instance %s to snapshot "
                                   "it: "), uuid);
          return FALSE;
        }
      frozen = TRUE;
    }
  /* An image for new servers: the source's machine-id and SSH host keys
   * are its own. */
  ok = nlx_archive_write_tree_full (root, tarball,
                                    metadata->privileged ? NULL : state->uid_map,
                                    metadata->privileged ? NULL : state->gid_map,
                                    NLX_ARCHIVE_WRITE_RESET_IDENTITY, error);
  if (frozen && virDomainResume (dom) < 0)
    {
      nlx_lxc_error_from_libvirt (&resume_error);
      g_prefix_error (&resume_error, _("Instance %s stays frozen after its "
                                       "snapshot (virsh resume %s thaws it): "),
                      uuid, virDomainGetName (dom));
      if (ok)
        g_propagate_error (error, g_steal_pointer (&resume_error));
      else
        g_warning ("%s", resume_error->message);
      ok = FALSE;
    }
  return ok;
}

static gboolean
lxc_pause (NlxDriverState *state,
           const char *uuid,
           GError **error)
{
  g_autoptr(virDomain) dom = lookup (state, uuid, error);
  int domain_state;

  if (dom == NULL || !get_state (dom, uuid, &domain_state, error))
    return FALSE;
  if (!is_running (domain_state))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_STATE,
                   _("Instance %s is %s; only a running instance can be "
                     "paused"), uuid,
                   nlx_power_state_to_string (nlx_power_state_from_libvirt (domain_state)));
      return FALSE;
    }
  if (virDomainSuspend (dom) < 0)
    {
      nlx_lxc_error_from_libvirt (error);
      g_prefix_error (error, _("Cannot pause instance %s: "), uuid);
      return FALSE;
    }
  return TRUE;
}

static gboolean
lxc_unpause (NlxDriverState *state,
             const char *uuid,
             GError **error)
{
  g_autoptr(virDomain) dom = lookup (state, uuid, error);
  int domain_state;

  if (dom == NULL || !get_state (dom, uuid, &domain_state, error))
    return FALSE;
  if (domain_state != VIR_DOMAIN_PAUSED)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_STATE,
                   _("Instance %s is %s, not paused"), uuid,
                   nlx_power_state_to_string (nlx_power_state_from_libvirt (domain_state)));
      return FALSE;
    }
  if (virDomainResume (dom) < 0)
    {
      nlx_lxc_error_from_libvirt (error);
      g_prefix_error (error, _("Cannot unpause instance %s: "), uuid);
      return FALSE;
    }
  return TRUE;
}

static gboolean
lxc_get_info (NlxDriverState *state,
              const char *uuid,
              NlxInstanceInfo *info,
              GError **error)
{
  g_autoptr(virDomain) dom = lookup (state, uuid, error);
  virDomainInfo vinfo;

  if (dom == NULL)
    return FALSE;
  if (virDomainGetInfo (dom, &vinfo) < 0)
    {
      nlx_lxc_error_from_libvirt (error);
      g_prefix_error (error, _("Cannot read information on instance %s: "),
                      uuid);
      return FALSE;
    }
  /* A stopped instance's console is read to its end first, so that
   * get_fault, asked next, knows whether its init failed to boot. */
  if (vinfo.state == VIR_DOMAIN_SHUTOFF || vinfo.state == VIR_DOMAIN_CRASHED)
    wait_released (state, uuid);
  info->state = nlx_power_state_from_libvirt (vinfo.state);
  info->max_mem_kib = vinfo.maxMem;
  info->mem_kib = vinfo.memory;
  info->num_cpu = vinfo.nrVirtCpu;
  info->cpu_time_ns = vinfo.cpuTime;
  return TRUE;
}

static char *
lxc_get_console_output (NlxDriverState *state,
                        const char *uuid,
                        gsize max_bytes,
                        GError **error)
{
  g_autoptr(virDomain) dom = lookup (state, uuid, error);
  g_autofree char *log_path = NULL;

  if (dom == NULL)
    return NULL;
  /* Read to this moment, or to its end when it has stopped. */
  if (virDomainIsActive (dom) == 1)
    flush_console (state, dom, uuid);
  else
    wait_released (state, uuid);
  log_path = console_log_path (state, uuid);
  return nlx_lxc_console_tail (log_path, max_bytes, error);
}

/* Attaches a client to the held PTY of @uuid's current run, which the
 * console thread then pumps both ways (see nlx_lxc_console_attach()). */
static int
lxc_console_attach (NlxDriverState *state,
                    const char *uuid,
                    GError **error)
{
  g_autoptr(virDomain) dom = lookup (state, uuid, error);
  g_autofree char *key = NULL;
  g_autoptr(GMutexLocker) locker = NULL;
  Held *held;
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
  hold_console (state, dom, uuid, FALSE);
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
  wake_console_thread (state);
  return fds[0];
}

static char *
lxc_get_fault (NlxDriverState *state,
               const char *uuid,
               GError **error)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&state->console_lock);

  return g_strdup (g_hash_table_lookup (state->faults, uuid));
}

/* ---- volumes ----------------------------------------------------------- */

static gboolean undo_attachment (NlxDriverState *state,
                                 const char *uuid,
                                 const NlxVolumeAttachment *attachment,
                                 gboolean whatever_fails,
                                 GError **error);

static gboolean
lxc_attach_volume (NlxDriverState *state,
                   const char *uuid,
                   const NlxVolumeAttachment *attachment,
                   GError **error)
{
  g_autoptr(virDomain) dom = lookup (state, uuid, error);
  g_autoptr(NlxLxcMetadata) metadata = NULL;
  g_autofree char *loop = NULL;
  gboolean created;
  pid_t pid;

  if (dom == NULL || (metadata = read_metadata (dom, error)) == NULL)
    return FALSE;
  if (nlx_instance_find_volume (&(NlxInstance) { .volumes = metadata->volumes },
                                attachment->volume_id) != NULL ||
      nlx_instance_find_device (&(NlxInstance) { .volumes = metadata->volumes },
                                attachment->device) != NULL ||
      g_strcmp0 (metadata->root_volume, attachment->volume_id) == 0)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_EXISTS,
                   _("Instance %s already has volume %s or device %s; "
                     "detach it first"), uuid, attachment->volume_id,
                   attachment->device);
      return FALSE;
    }

  /* Nothing is made before libvirt can attach the disk. */
  if (virDomainIsActive (dom) == 1 &&
      !wait_init_known (state, &dom, uuid, INIT_KNOWN_VOLUME_TIMEOUT_US,
                        NLX_DRIVER_ERROR_INVALID_STATE, error))
    return FALSE;
  loop = nlx_lxc_volume_setup (state->volumes, uuid, attachment, &created,
                               error);
  if (loop == NULL)
    return FALSE;
  g_ptr_array_add (metadata->volumes,
                   nlx_volume_attachment_new (attachment->volume_id,
                                              attachment->device,
                                              attachment->mount_path));
  /* The disk first: a domain whose metadata names a volume always has
   * it, so a crash in between leaves what detach_volume undoes. */
  if (change_disk (dom, attachment->device, loop, TRUE, live_and_config (dom),
                   error) &&
      write_metadata (dom, metadata, error))
    {
      if (attachment->mount_path == NULL || virDomainIsActive (dom) != 1)
        return TRUE;
      pid = init_pid (dom);
      if (pid > 0 && nlx_lxc_volume_mount (state->volumes, uuid, attachment,
                                           pid, error))
        return TRUE;
      if (pid == 0)
        g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                     _("Cannot mount volume %s: the init of instance %s is "
                       "not running"), attachment->volume_id, uuid);
    }
  /* Every step of the undo is tried whatever the one before it did: a
   * rollback that stopped at a refused mount path left the disk in the
   * domain, the loop device bound and the volume listed as free. */
  undo_attachment (state, uuid, attachment, TRUE, NULL);
  return FALSE;
}

/* With @whatever_fails (a rollback), a failed step is logged and the
 * next one tried all the same; otherwise the first failure stops it, so
 * that a detach that cannot unmount leaves the attachment whole. */
static gboolean
undo_step (gboolean ok,
           gboolean whatever_fails,
           const char *uuid,
           GError **step_error,
           gboolean *failed,
           GError **error)
{
  if (ok)
    return TRUE;
  *failed = TRUE;
  if (!whatever_fails)
    {
      g_propagate_error (error, g_steal_pointer (step_error));
      return FALSE;
    }
  g_warning (_("Undoing a volume attachment of instance %s: %s"), uuid,
             *step_error != NULL ? (*step_error)->message : _("unknown error"));
  if (error != NULL && *error == NULL)
    g_propagate_error (error, g_steal_pointer (step_error));
  g_clear_error (step_error);
  return TRUE;
}

static gboolean
lxc_detach_volume (NlxDriverState *state,
                   const char *uuid,
                   const NlxVolumeAttachment *attachment,
                   GError **error)
{
  return undo_attachment (state, uuid, attachment, FALSE, error);
}

static gboolean
undo_attachment (NlxDriverState *state,
                 const char *uuid,
                 const NlxVolumeAttachment *attachment,
                 gboolean whatever_fails,
                 GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(virDomain) dom = lookup (state, uuid, &local_error);
  g_autoptr(NlxLxcMetadata) metadata = NULL;
  const NlxVolumeAttachment *kept = NULL;
  const char *mount_path = attachment->mount_path;
  gboolean failed = FALSE;
  gboolean active;

  if (dom == NULL)
    {
      if (!g_error_matches (local_error, NLX_DRIVER_ERROR,
                            NLX_DRIVER_ERROR_NOT_FOUND))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      return nlx_lxc_volume_release (uuid, attachment->device, error);
    }
  if ((metadata = read_metadata (dom, &local_error)) == NULL &&
      !undo_step (FALSE, whatever_fails, uuid, &local_error, &failed, error))
    return FALSE;
  if (metadata != NULL)
    kept = nlx_instance_find_volume (&(NlxInstance) { .volumes = metadata->volumes },
                                     attachment->volume_id);
  if (kept != NULL)
    mount_path = kept->mount_path;

  active = virDomainIsActive (dom) == 1;
  /* Nothing is undone before libvirt can detach the disk. */
  if (active &&
      !wait_init_known (state, &dom, uuid, INIT_KNOWN_VOLUME_TIMEOUT_US,
                        NLX_DRIVER_ERROR_INVALID_STATE, error))
    return FALSE;
  if (active && mount_path != NULL &&
      !undo_step (nlx_umount_in_namespace (init_pid (dom), mount_path,
                                           &local_error),
                  whatever_fails, uuid, &local_error, &failed, error))
    return FALSE;
  if (active && has_disk (dom, attachment->device, 0) &&
      !undo_step (change_disk (dom, attachment->device, "/dev/null", FALSE,
                               VIR_DOMAIN_AFFECT_LIVE, &local_error),
                  whatever_fails, uuid, &local_error, &failed, error))
    return FALSE;
  if (has_disk (dom, attachment->device, VIR_DOMAIN_XML_INACTIVE) &&
      !undo_step (change_disk (dom, attachment->device, "/dev/null", FALSE,
                               VIR_DOMAIN_AFFECT_CONFIG, &local_error),
                  whatever_fails, uuid, &local_error, &failed, error))
    return FALSE;
  if (kept != NULL)
    {
      g_ptr_array_remove (metadata->volumes, (gpointer) kept);
      if (!undo_step (write_metadata (dom, metadata, &local_error),
                      whatever_fails, uuid, &local_error, &failed, error))
        return FALSE;
    }
  if (!undo_step (nlx_lxc_volume_release (uuid, attachment->device,
                                          &local_error),
                  whatever_fails, uuid, &local_error, &failed, error))
    return FALSE;
  return !failed;
}

static NlxHostResources *
lxc_get_available_resource (NlxDriverState *state,
                            GError **error)
{
  g_autoptr(NlxHostResources) res = g_new0 (NlxHostResources, 1);
  g_autoptr(virConnect) conn = connection (state, error);
  virNodeMemoryStatsPtr stats = NULL;
  virDomainPtr *doms = NULL;
  unsigned long version = 0;
  virNodeInfo node;
  struct statvfs fs;
  int nparams = 0;
  int n;

  if (conn == NULL)
    return NULL;
  if (virNodeGetInfo (conn, &node) < 0 ||
      virConnectGetVersion (conn, &version) < 0 ||
      (res->hypervisor_hostname = virConnectGetHostname (conn)) == NULL ||
      virNodeGetMemoryStats (conn, VIR_NODE_MEMORY_STATS_ALL_CELLS,
                             NULL, &nparams, 0) < 0)
    {
      nlx_lxc_error_from_libvirt (error);
      g_prefix_error (error, _("Cannot read host resources: "));
      return NULL;
    }
  res->vcpus = node.cpus;
  res->memory_mb = node.memory / 1024;
  res->hypervisor_type = g_strdup ("lxc");
  res->hypervisor_version = version;

  /* As Nova counts it: memory neither free nor reclaimable cache. */
  stats = g_new0 (virNodeMemoryStats, nparams);
  if (virNodeGetMemoryStats (conn, VIR_NODE_MEMORY_STATS_ALL_CELLS,
                             stats, &nparams, 0) == 0)
    {
      guint64 total = node.memory;
      guint64 available = 0;

      /* virNodeGetInfo's memory can be a cgroup's view under LXC; the
       * node's memory statistics have the host's total. */
      for (int i = 0; i < nparams; i++)
        if (g_str_equal (stats[i].field, VIR_NODE_MEMORY_STATS_TOTAL))
          total = stats[i].value;
        else if (g_str_equal (stats[i].field, VIR_NODE_MEMORY_STATS_FREE) ||
                 g_str_equal (stats[i].field, VIR_NODE_MEMORY_STATS_BUFFERS) ||
                 g_str_equal (stats[i].field, VIR_NODE_MEMORY_STATS_CACHED))
          available += stats[i].value;
      res->memory_mb = total / 1024;
      res->memory_mb_used = (total - MIN (available, total)) / 1024;
    }
  g_free (stats);

  /* This driver's instances only: named as nova-lxc names them and with
   * their directory under this instances_path.  Other containers of the
   * host, and another compute service's, are not counted. */
  n = virConnectListAllDomains (conn, &doms,
                                VIR_CONNECT_LIST_DOMAINS_ACTIVE);
  for (int i = 0; i < n; i++)
    {
      char uuid[VIR_UUID_STRING_BUFLEN];
      virDomainInfo info;

      if (is_mine (state, doms[i], uuid) &&
          virDomainGetInfo (doms[i], &info) == 0)
        res->vcpus_used += info.nrVirtCpu;
      virDomainFree (doms[i]);
    }
  free (doms);

  if (statvfs (state->instances_path, &fs) == 0)
    {
      res->local_gb = (guint64) fs.f_blocks * fs.f_frsize / (1024 * 1024 * 1024);
      res->local_gb_used = (guint64) (fs.f_blocks - fs.f_bfree) * fs.f_frsize /
                           (1024 * 1024 * 1024);
    }
  return g_steal_pointer (&res);
}

static const NlxDriver lxc_driver = {
  .abi_version = NLX_DRIVER_ABI_VERSION,
  .name = "lxc",
  .capabilities = NLX_DRIVER_CAP_PAUSE | NLX_DRIVER_CAP_CONSOLE_OUTPUT |
                  NLX_DRIVER_CAP_VOLUMES | NLX_DRIVER_CAP_SNAPSHOT |
                  NLX_DRIVER_CAP_METADATA_SERVICE,
  .init_host = lxc_init_host,
  .cleanup_host = lxc_cleanup_host,
  .list_instances = lxc_list_instances,
  .spawn = lxc_spawn,
  .destroy = lxc_destroy,
  .reboot = lxc_reboot,
  .power_off = lxc_power_off,
  .power_on = lxc_power_on,
  .pause = lxc_pause,
  .unpause = lxc_unpause,
  .get_info = lxc_get_info,
  .get_console_output = lxc_get_console_output,
  .attach_volume = lxc_attach_volume,
  .detach_volume = lxc_detach_volume,
  .snapshot = lxc_snapshot,
  .get_available_resource = lxc_get_available_resource,
  .watch_events = lxc_watch_events,
  .get_fault = lxc_get_fault,
  .console_attach = lxc_console_attach,
  .lock_host = lxc_lock_host,
  .get_vif = lxc_get_vif,
};

G_MODULE_EXPORT const NlxDriver *nlx_driver_get (void);

const NlxDriver *
nlx_driver_get (void)
{
  return &lxc_driver;
}
