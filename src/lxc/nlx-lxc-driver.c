/* nlx-lxc-driver.c: the compute driver on libvirt LXC: its NlxDriver
 * table, init_host and cleanup_host, and the operations that take a
 * few lines.
 *
 * Each instance is a persistent libvirt LXC domain named after its uuid
 * (nlx_instance_domain_name()) with a directory of its own under
 * instances_path holding its console log and its root: an overlay over a
 * directory image or a root volume, or a tarball image extracted.
 * libvirt is the truth about what runs: nothing here caches domain
 * state.
 *
 * The rest of the driver, as libvirt splits lxc_driver.c, lxc_process.c
 * and lxc_domain.c, with what the pieces share in
 * nlx-lxc-driver-private.h: the connection and its events
 * (nlx-lxc-conn.c), starting and stopping containers
 * (nlx-lxc-process.c), the console thread (nlx-lxc-console-thread.c),
 * the domain's metadata and disks (nlx-lxc-metadata.c), spawn and
 * destroy (nlx-lxc-spawn.c), volume attach and detach
 * (nlx-lxc-attach.c) and the host's locks, firewall and resources
 * (nlx-lxc-host.c). */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <glib-unix.h>
#include <gmodule.h>
#include <sys/epoll.h>
#include <sys/stat.h>

#include "common/nlx-idmap.h"
#include "host/nlx-archive.h"
#include "host/nlx-mount.h"
#include "host/nlx-network-filter.h"
#include "host/nlx-network.h"
#include "lxc/nlx-lxc-cgroup.h"
#include "lxc/nlx-lxc-console.h"
#include "lxc/nlx-lxc-cpuset.h"
#include "lxc/nlx-lxc-driver-private.h"
#include "lxc/nlx-lxc-error.h"
#include "lxc/nlx-lxc-limits.h"
#include "lxc/nlx-lxc-proc.h"
#include "model/nlx-config.h"

#define DEFAULT_URI "lxc:///"
#define DEFAULT_INSTANCES_PATH NLX_STATE_DIR "/instances"
/* Nova's [libvirt] wait_soft_reboot_seconds */
#define DEFAULT_SOFT_REBOOT_TIMEOUT_S 120
/* [libvirt] connections: 4 take 20 calls at once, as many as libvirtd's
 * default max_workers runs. */
#define DEFAULT_CONNECTIONS 4
#define MAX_CONNECTIONS 32

char *
nlx_lxc_instance_dir (NlxDriverState *state,
                      const char *uuid)
{
  return g_build_filename (state->instances_path, uuid, NULL);
}

char *
nlx_lxc_console_log_path (NlxDriverState *state,
                          const char *uuid)
{
  return g_build_filename (state->instances_path, uuid, "console.log", NULL);
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
  cpus = nlx_lxc_cpuset_parse (cpuset, nlx_lxc_host_cpus (), &local_error);
  if (cpus == NULL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("[compute] cpu_shared_set: %s"), local_error->message);
      return FALSE;
    }
  return TRUE;
}

/* What the host should hold: read with the rest of the configuration,
 * so that a bad value stops the start like any other. */
static gboolean
read_wanted (GKeyFile *config,
             const NlxNetworkSettings *network,
             NlxLxcLimitsWanted *wanted,
             GError **error)
{
  guint connections = NLX_CONFIG_DEFAULT_MAX_CONNECTIONS;
  guint64 addresses;

  wanted->instances = NLX_CONFIG_DEFAULT_MAX_INSTANCES_PER_HOST;
  if (!nlx_config_get_uint (config, "filter_scheduler",
                            "max_instances_per_host", 1,
                            NLX_CONFIG_MAX_INSTANCES_PER_HOST,
                            &wanted->instances, error) ||
      !nlx_config_get_uint (config, "api", "max_connections", 1,
                            NLX_CONFIG_MAX_CONNECTIONS, &connections, error))
    return FALSE;
  /* The Unix socket, the TCP port and the metadata service each hold
   * up to [api] max_connections. */
  wanted->api_connections = 3 * connections;
  /* The gateway is never handed out. */
  addresses = (guint64) network->range_end_addr - network->range_start_addr + 1;
  if (network->gateway_addr >= network->range_start_addr &&
      network->gateway_addr <= network->range_end_addr)
    addresses--;
  wanted->addresses = (guint) MIN (addresses, (guint64) G_MAXUINT);
  return TRUE;
}

/* Says once per limit what keeps the host from holding [filter_scheduler]
 * max_instances_per_host instances, and what to raise: not fatal, since
 * a host set up for fewer runs those well (nova-lxc-compute(8),
 * "LIMITS").  Once the host is known to be usable at all. */
static void
warn_host_limits (const NlxLxcLimitsWanted *wanted)
{
  NlxLxcHostLimits limits;
  g_autoptr(GPtrArray) warnings = NULL;
  g_autoptr(GError) error = NULL;
  guint allowed;

  if (!nlx_lxc_limits_read ("/proc", &limits, &error))
    {
      g_warning ("%s", error->message);
      return;
    }
  warnings = nlx_lxc_limits_check (&limits, wanted, &allowed);
  for (guint i = 0; i < warnings->len; i++)
    g_warning ("%s", (const char *) warnings->pdata[i]);
  if (allowed < wanted->instances)
    g_warning (_("This host's limits hold about %u instances, not the %u "
                 "of [filter_scheduler] max_instances_per_host: raise what "
                 "the warnings above name, or lower it"),
               allowed, wanted->instances);
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
  guint connections = DEFAULT_CONNECTIONS;
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
  int console_epoll = -1;
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
  NlxLxcLimitsWanted wanted;
  NlxDriverState *state;

  /* Before any child of the driver (nlx-network-filter.c). */
  nlx_network_filter_init ();
  if (!nlx_config_get_uint (config, "lxc", "pids_limit", 1,
                            NLX_FLAVOR_PIDS_MAX, &pids_limit, error) ||
      !nlx_config_get_uint (config, "lxc", "pids_host_max", 1,
                            NLX_FLAVOR_PIDS_MAX, &pids_host_max, error) ||
      !check_limits (pids_limit, pids_host_max, cpuset, error))
    return NULL;
  if (!nlx_config_get_uint (config, "libvirt", "wait_soft_reboot_seconds",
                            0, 3600, &timeout, error) ||
      !nlx_config_get_uint (config, "libvirt", "connections", 1,
                            MAX_CONNECTIONS, &connections, error) ||
      !nlx_config_get_boolean (config, "network", "host_access", &host_access,
                               error) ||
      !nlx_config_get_boolean (config, "compute", "force_config_drive",
                               &force_config_drive, error) ||
      (network = nlx_network_settings_new (config, error)) == NULL ||
      !read_wanted (config, network, &wanted, error) ||
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
  nlx_lxc_start_event_loop ();
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
      !g_unix_set_fd_nonblocking (wake[1], TRUE, &local_error) ||
      (console_epoll = epoll_create1 (EPOLL_CLOEXEC)) < 0)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot start reading consoles: %s"),
                   local_error != NULL ? local_error->message
                                       : g_strerror (errno));
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
  state->remounts = g_thread_pool_new_full (nlx_lxc_remount, state, g_free, 1, FALSE,
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
                                       (GDestroyNotify) nlx_lxc_held_free);
  state->faults = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         g_free);
  state->wake[0] = wake[0];
  state->wake[1] = wake[1];
  state->console_epoll = console_epoll;
  state->console_attached = g_ptr_array_new ();
  state->uri = g_steal_pointer (&uri);
  state->conn = g_steal_pointer (&conn);
  state->spares = g_ptr_array_new ();
  g_ptr_array_set_size (state->spares, connections - 1);
  nlx_lxc_open_spares (state);
  state->lifecycle_callback = -1;
  virConnectRegisterCloseCallback (state->conn, nlx_lxc_on_close, state, NULL);
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

      state->lxcfs = nlx_lxc_lxcfs_new (lxcfs_path);
      /* Said once here, and again at each start while it lasts. */
      if (!nlx_lxc_lxcfs_check (state->lxcfs, &lxcfs_error))
        g_warning ("%s", lxcfs_error->message);
    }
  nlx_lxc_mounts_init (state);
  warn_host_limits (&wanted);
  state->console_thread = g_thread_new ("consoles", nlx_lxc_console_thread, state);
  return state;
}

static void
lxc_cleanup_host (NlxDriverState *state)
{
  g_mutex_lock (&state->console_lock);
  state->stopping = TRUE;
  nlx_lxc_wake_console_thread (state);
  g_mutex_unlock (&state->console_lock);
  g_thread_join (state->console_thread);

  /* No new remounts, and the one running finishes before the
   * connection goes. */
  g_mutex_lock (&state->lock);
  state->remount_closed = TRUE;
  g_mutex_unlock (&state->lock);
  g_thread_pool_free (state->remounts, TRUE, TRUE);

  g_mutex_lock (&state->lock);
  nlx_lxc_drop_connection (state);
  g_mutex_unlock (&state->lock);
  g_ptr_array_unref (state->spares);
  /* An event libvirt was delivering as the callback went away. */
  g_mutex_lock (&state->event_lock);
  state->event_func = NULL;
  g_mutex_unlock (&state->event_lock);

  g_mutex_clear (&state->lock);
  g_mutex_clear (&state->event_lock);
  /* While instances_path is still ours. */
  nlx_lxc_mounts_cleanup (state);
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
  g_ptr_array_unref (state->console_attached);
  close (state->console_epoll);
  close (state->wake[0]);
  close (state->wake[1]);
  g_free (state->uri);
  g_free (state->instances_path);
  g_free (state->cpuset);
  g_clear_pointer (&state->pins, g_hash_table_unref);
  g_mutex_clear (&state->pin_lock);
  g_free (state->sandbox_dir);
  g_clear_pointer (&state->lxcfs, nlx_lxc_lxcfs_free);
  nlx_volume_settings_free (state->volumes);
  g_array_unref (state->uid_map);
  g_array_unref (state->gid_map);
  close (state->idmap.userns_fd);
  g_free (state);
}

/* The vif spawn wrote into the domain's metadata. */
static NlxVif *
lxc_get_vif (NlxDriverState *state,
             const char *uuid,
             GError **error)
{
  g_autoptr(virDomain) dom = nlx_lxc_lookup (state, uuid, error);
  g_autoptr(NlxLxcMetadata) metadata = NULL;

  if (dom == NULL)
    return NULL;
  metadata = nlx_lxc_read_metadata (dom, error);
  if (metadata == NULL || metadata->vif == NULL)
    return NULL;
  return g_steal_pointer (&metadata->vif);
}

static char **
lxc_list_instances (NlxDriverState *state,
                    GError **error)
{
  g_autoptr(GStrvBuilder) uuids = g_strv_builder_new ();
  g_autoptr(virConnect) conn = nlx_lxc_connection (state, error);
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

      if (nlx_lxc_is_ours (doms[i], uuid))
        g_strv_builder_add (uuids, uuid);
      virDomainFree (doms[i]);
    }
  free (doms);
  return g_strv_builder_end (uuids);
}

static gboolean
lxc_reboot (NlxDriverState *state,
            const char *uuid,
            NlxRebootType type,
            GError **error)
{
  g_autoptr(virDomain) dom = nlx_lxc_lookup (state, uuid, error);
  int domain_state;

  if (dom == NULL || !nlx_lxc_get_state (dom, uuid, &domain_state, error))
    return FALSE;

  if (type == NLX_REBOOT_SOFT)
    {
      g_autoptr(GError) local_error = NULL;

      if (!nlx_lxc_is_running (domain_state))
        {
          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_STATE,
                       _("Instance %s is not running, so it cannot reboot "
                         "softly; use a hard reboot"), uuid);
          return FALSE;
        }
      /* As Nova does: shut down and start again, and fall back to a hard
       * reboot when init does not shut down in time. */
      nlx_lxc_expect_stop (state, uuid);
      if (nlx_lxc_request_shutdown (dom, uuid, &local_error) &&
          nlx_lxc_wait_inactive (state, &dom, uuid, state->soft_reboot_timeout_s))
        return nlx_lxc_start_instance (state, dom, uuid, NULL, NULL, error);
      g_debug ("Soft reboot of instance %s fell back to hard: %s", uuid,
               local_error ? local_error->message : "timed out");
    }

  if (virDomainIsActive (dom) == 1 && !nlx_lxc_stop_now (state, dom, uuid, error))
    return FALSE;
  return nlx_lxc_start_instance (state, dom, uuid, NULL, NULL, error);
}

static gboolean
lxc_power_off (NlxDriverState *state,
               const char *uuid,
               guint timeout_s,
               GError **error)
{
  g_autoptr(virDomain) dom = nlx_lxc_lookup (state, uuid, error);
  g_autoptr(GError) local_error = NULL;
  int domain_state;

  if (dom == NULL || !nlx_lxc_get_state (dom, uuid, &domain_state, error))
    return FALSE;
  /* Stopped on purpose now, whatever stopped it before. */
  nlx_lxc_expect_stop (state, uuid);
  if (domain_state == VIR_DOMAIN_SHUTOFF)
    return TRUE;

  if (timeout_s > 0 && nlx_lxc_is_running (domain_state))
    {
      if (nlx_lxc_request_shutdown (dom, uuid, &local_error) &&
          nlx_lxc_wait_inactive (state, &dom, uuid, timeout_s))
        return TRUE;
      g_debug ("Instance %s did not power off within %u s, stopping it: %s",
               uuid, timeout_s,
               local_error ? local_error->message : "timed out");
    }
  return nlx_lxc_stop_now (state, dom, uuid, error);
}

static gboolean
lxc_power_on (NlxDriverState *state,
              const char *uuid,
              GError **error)
{
  g_autoptr(virDomain) dom = nlx_lxc_lookup (state, uuid, error);
  int domain_state;

  if (dom == NULL || !nlx_lxc_get_state (dom, uuid, &domain_state, error))
    return FALSE;
  if (nlx_lxc_is_running (domain_state))
    return TRUE;
  if (domain_state == VIR_DOMAIN_PAUSED)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_STATE,
                   _("Instance %s is paused; unpause it instead"), uuid);
      return FALSE;
    }
  return nlx_lxc_start_instance (state, dom, uuid, NULL, NULL, error);
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
  g_autoptr(virDomain) dom = nlx_lxc_lookup (state, uuid, error);
  g_autoptr(NlxLxcMetadata) metadata = NULL;
  g_autofree char *dir = nlx_lxc_instance_dir (state, uuid);
  g_autofree char *root = g_build_filename (dir, "rootfs", NULL);
  g_autofree char *tarball = g_build_filename (image_dir, NLX_SNAPSHOT_FILE,
                                               NULL);
  g_autoptr(GError) resume_error = NULL;
  gboolean frozen = FALSE;
  gboolean ok;
  int domain_state;

  if (dom == NULL || !nlx_lxc_get_state (dom, uuid, &domain_state, error) ||
      (metadata = nlx_lxc_read_metadata (dom, error)) == NULL)
    return FALSE;
  /* Stopped since a host reboot, it has no overlay until made again. */
  if (domain_state == VIR_DOMAIN_SHUTOFF &&
      !nlx_lxc_prepare_volumes (state, dom, uuid, metadata, error))
    return FALSE;
  if (nlx_lxc_is_running (domain_state))
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
  g_autoptr(virDomain) dom = nlx_lxc_lookup (state, uuid, error);
  int domain_state;

  if (dom == NULL || !nlx_lxc_get_state (dom, uuid, &domain_state, error))
    return FALSE;
  if (!nlx_lxc_is_running (domain_state))
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
  g_autoptr(virDomain) dom = nlx_lxc_lookup (state, uuid, error);
  int domain_state;

  if (dom == NULL || !nlx_lxc_get_state (dom, uuid, &domain_state, error))
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
  g_autoptr(virDomain) dom = nlx_lxc_lookup (state, uuid, error);
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
    nlx_lxc_wait_released (state, uuid);
  info->state = nlx_power_state_from_libvirt (vinfo.state);
  info->max_mem_kib = vinfo.maxMem;
  info->mem_kib = vinfo.memory;
  info->num_cpu = vinfo.nrVirtCpu;
  info->cpu_time_ns = vinfo.cpuTime;
  return TRUE;
}

/* virConnectListAllDomains(), its failure as an error. */
static int
list_domains (virConnectPtr conn,
              unsigned int flags,
              virDomainPtr **doms,
              GError **error)
{
  int n = virConnectListAllDomains (conn, doms, flags);

  if (n < 0)
    {
      nlx_lxc_error_from_libvirt (error);
      g_prefix_error (error, _("Cannot list libvirt's domains: "));
    }
  return n;
}

static GHashTable *
uuid_table_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

/* Adds the uuid of every domain libvirt lists with @flags to @set. */
static gboolean
list_uuids (virConnectPtr conn,
            unsigned int flags,
            GHashTable *set,
            GError **error)
{
  virDomainPtr *doms = NULL;
  int n = list_domains (conn, flags, &doms, error);

  if (n < 0)
    return FALSE;
  for (int i = 0; i < n; i++)
    {
      char uuid[VIR_UUID_STRING_BUFLEN];

      if (virDomainGetUUIDString (doms[i], uuid) == 0)
        g_hash_table_add (set, g_ascii_strdown (uuid, -1));
      virDomainFree (doms[i]);
    }
  free (doms);
  return TRUE;
}

/* Four calls whatever the number of domains (libvirt's LXC driver has
 * no virConnectGetAllDomainStats()): the running ones, the paused ones,
 * the stopped ones and all of them; one more for each in another state
 * (being shut down, crashed), which libvirt lists only as "other". */
static GHashTable *
lxc_get_power_states (NlxDriverState *state,
                      GError **error)
{
  g_autoptr(virConnect) conn = nlx_lxc_connection (state, error);
  g_autoptr(GHashTable) running = uuid_table_new ();
  g_autoptr(GHashTable) paused = uuid_table_new ();
  g_autoptr(GHashTable) shutoff = uuid_table_new ();
  g_autoptr(GHashTable) states = NULL;
  virDomainPtr *doms = NULL;
  int n;

  if (conn == NULL ||
      !list_uuids (conn, VIR_CONNECT_LIST_DOMAINS_RUNNING, running, error) ||
      !list_uuids (conn, VIR_CONNECT_LIST_DOMAINS_PAUSED, paused, error) ||
      !list_uuids (conn, VIR_CONNECT_LIST_DOMAINS_SHUTOFF, shutoff, error) ||
      (n = list_domains (conn, 0, &doms, error)) < 0)
    return NULL;
  states = uuid_table_new ();
  for (int i = 0; i < n; i++)
    {
      char uuid[VIR_UUID_STRING_BUFLEN];
      NlxPowerState power = NLX_POWER_STATE_NOSTATE;
      int domain_state;

      if (virDomainGetUUIDString (doms[i], uuid) == 0)
        {
          g_autofree char *key = g_ascii_strdown (uuid, -1);

          if (g_hash_table_contains (running, key))
            power = NLX_POWER_STATE_RUNNING;
          else if (g_hash_table_contains (paused, key))
            power = NLX_POWER_STATE_PAUSED;
          else if (g_hash_table_contains (shutoff, key))
            power = NLX_POWER_STATE_SHUTDOWN;
          else if (virDomainGetState (doms[i], &domain_state, NULL, 0) == 0)
            power = nlx_power_state_from_libvirt (domain_state);
          /* As get_info: a stopped one's console read to its end, for
           * get_fault. */
          if (power == NLX_POWER_STATE_SHUTDOWN ||
              power == NLX_POWER_STATE_CRASHED)
            nlx_lxc_wait_released (state, key);
          /* NOSTATE: it could not be asked (gone meanwhile). */
          g_hash_table_insert (states, g_steal_pointer (&key),
                               GINT_TO_POINTER (power + 1));
        }
      virDomainFree (doms[i]);
    }
  free (doms);
  return g_steal_pointer (&states);
}

static char *
lxc_get_console_output (NlxDriverState *state,
                        const char *uuid,
                        gsize max_bytes,
                        GError **error)
{
  g_autoptr(virDomain) dom = nlx_lxc_lookup (state, uuid, error);
  g_autofree char *log_path = NULL;

  if (dom == NULL)
    return NULL;
  /* Read to this moment, or to its end when it has stopped. */
  if (virDomainIsActive (dom) == 1)
    nlx_lxc_flush_console (state, dom, uuid);
  else
    nlx_lxc_wait_released (state, uuid);
  log_path = nlx_lxc_console_log_path (state, uuid);
  return nlx_lxc_console_tail (log_path, max_bytes, error);
}

static char *
lxc_get_fault (NlxDriverState *state,
               const char *uuid,
               GError **error G_GNUC_UNUSED)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&state->console_lock);

  return g_strdup (g_hash_table_lookup (state->faults, uuid));
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
  .spawn = nlx_lxc_driver_spawn,
  .destroy = nlx_lxc_driver_destroy,
  .reboot = lxc_reboot,
  .power_off = lxc_power_off,
  .power_on = lxc_power_on,
  .pause = lxc_pause,
  .unpause = lxc_unpause,
  .get_info = lxc_get_info,
  .get_console_output = lxc_get_console_output,
  .attach_volume = nlx_lxc_driver_attach_volume,
  .detach_volume = nlx_lxc_driver_detach_volume,
  .snapshot = lxc_snapshot,
  .get_available_resource = nlx_lxc_driver_get_available_resource,
  .watch_events = nlx_lxc_driver_watch_events,
  .get_fault = lxc_get_fault,
  .console_attach = nlx_lxc_driver_console_attach,
  .lock_host = nlx_lxc_driver_lock_host,
  .get_vif = lxc_get_vif,
  .get_power_states = lxc_get_power_states,
};

G_MODULE_EXPORT const NlxDriver *nlx_driver_get (void);

const NlxDriver *
nlx_driver_get (void)
{
  return &lxc_driver;
}
