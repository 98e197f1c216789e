/* nlx-lxc-host.c: the host as the lxc driver holds it: one daemon per
 * instances_path and bridge, the bridge's firewall and DHCP leases and
 * the limits of instances that ran meanwhile brought in line at start,
 * and the resources it reports. */

#include "config.h"

#include <errno.h>
#include <unistd.h>
#include <glib/gi18n-lib.h>
#include <libvirt/virterror.h>
#include <sys/statvfs.h>

#include "host/nlx-network-filter.h"
#include "host/nlx-network.h"
#include "lxc/nlx-lxc-cgroup.h"
#include "lxc/nlx-lxc-driver-private.h"
#include "lxc/nlx-lxc-error.h"

/* The host's CPUs are numbered below this. */
guint
nlx_lxc_host_cpus (void)
{
  long conf = sysconf (_SC_NPROCESSORS_CONF);

  return conf > 0 ? (guint) conf : 1;
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

void
nlx_lxc_prune_pids_groups (NlxDriverState *state)
{
  g_autoptr(virConnect) conn = nlx_lxc_connection (state, NULL);

  if (conn != NULL)
    nlx_lxc_cgroup_prune_pids (domain_exists, conn);
}

/* How long after one a destroy does not look again for the pids groups
 * of domains gone (see below). */
#define PRUNE_AFTER_DESTROY_INTERVAL_S 60

/* What a destroy does for the pids groups a start racing with an
 * earlier deletion made again (a guest's own reboot applying limits to
 * a domain being deleted): the look reads every group's cgroup.procs,
 * one per instance, so doing it at every destroy made each cost grow
 * with the instances running (about 12 ms at 300, on this machine
 * kind, of a delete that should take 50).  Such groups are empty and
 * cost nothing, and the next start of the same domain reuses one, so
 * a look a minute, by whichever destroy comes first, and one at each
 * start of the daemon, is enough. */
void
nlx_lxc_prune_pids_groups_after_destroy (NlxDriverState *state)
{
  gint now = (gint) (g_get_monotonic_time () / G_USEC_PER_SEC) + 1;
  gint last = g_atomic_int_get (&state->pids_pruned_at);

  if (last != 0 && now - last < PRUNE_AFTER_DESTROY_INTERVAL_S)
    return;
  /* One destroy looks; the others at the same moment go on. */
  if (g_atomic_int_compare_and_exchange (&state->pids_pruned_at, last, now))
    nlx_lxc_prune_pids_groups (state);
}

/* The domains @flags select, for a start-up walk; 0 with a warning
 * that says which instances went unseen (@which) when libvirt cannot
 * list them: the daemon starts all the same. */
static int
list_domains (NlxDriverState *state,
              unsigned int flags,
              const char *which,
              virDomainPtr **doms)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(virConnect) conn = nlx_lxc_connection (state, &error);
  int n = -1;

  *doms = NULL;
  if (conn != NULL &&
      (n = virConnectListAllDomains (conn, doms, flags)) < 0)
    nlx_lxc_error_from_libvirt (&error);
  if (n >= 0)
    return n;
  g_warning ("Cannot list instances %s: %s", which, error->message);
  return 0;
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
  virDomainPtr *doms = NULL;
  int n;

  nlx_lxc_prune_pids_groups (state);
  n = list_domains (state, VIR_CONNECT_LIST_DOMAINS_ACTIVE,
                    "to apply their limits", &doms);
  for (int i = 0; i < n; i++)
    {
      char uuid[VIR_UUID_STRING_BUFLEN];
      g_autoptr(NlxLxcMetadata) metadata = NULL;

      if (nlx_lxc_is_mine (state, doms[i], uuid) &&
          ((metadata = nlx_lxc_read_metadata (doms[i], &error)) == NULL ||
           !nlx_lxc_apply_limits (state, doms[i], uuid, metadata, &error)))
        {
          g_warning ("%s", error->message);
          g_clear_error (&error);
        }
      virDomainFree (doms[i]);
    }
  free (doms);
}

/* Instances whose guest rebooted while no daemon ran.  libvirt starts
 * such a container again by itself, but the restart gate had withdrawn
 * its root from libvirtd's namespace and no daemon put it back
 * (nlx_lxc_gate_restart()), so libvirt left the domain shut off, as
 * failed to start.  The gate's mark says that is why: each is started
 * now, as its guest asked, before the manager reads what runs.  A
 * guest's own power-off leaves a domain shut off as shut down, and
 * stays so. */
static void
restart_failed_reboots (NlxDriverState *state)
{
  g_autoptr(GError) error = NULL;
  virDomainPtr *doms = NULL;
  int n;

  n = list_domains (state, VIR_CONNECT_LIST_DOMAINS_SHUTOFF,
                    "whose reboot failed while no daemon ran", &doms);
  for (int i = 0; i < n; i++)
    {
      char uuid[VIR_UUID_STRING_BUFLEN];
      int domain_state = 0;
      int reason = 0;

      /* The mark first: a file's test, where libvirtd is asked once a
       * domain and every instance shut off would be asked. */
      if (nlx_lxc_is_mine (state, doms[i], uuid) &&
          nlx_lxc_mounts_was_gated (state, uuid) &&
          virDomainGetState (doms[i], &domain_state, &reason, 0) == 0 &&
          domain_state == VIR_DOMAIN_SHUTOFF &&
          reason == VIR_DOMAIN_SHUTOFF_FAILED)
        {
          g_message ("Instance %s rebooted itself while no daemon ran, and "
                     "libvirt could not start it again without its root; "
                     "starting it", uuid);
          if (!nlx_lxc_start_instance (state, doms[i], uuid, NULL, NULL,
                                       &error))
            {
              g_warning ("Instance %s stays shut off: %s", uuid,
                         error->message);
              g_clear_error (&error);
            }
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
  g_autoptr(virConnect) conn = nlx_lxc_connection (state, error);
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

      if (nlx_lxc_is_ours (doms[i], uuid) &&
          (metadata = nlx_lxc_read_metadata (doms[i], &local_error)) != NULL)
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
gboolean
nlx_lxc_driver_lock_host (NlxDriverState *state,
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
  if (!nlx_address_bridge_name_is_valid (state->bridge))
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
  restart_failed_reboots (state);
  return TRUE;
}

NlxHostResources *
nlx_lxc_driver_get_available_resource (NlxDriverState *state,
                                       GError **error)
{
  g_autoptr(NlxHostResources) res = g_new0 (NlxHostResources, 1);
  g_autoptr(virConnect) conn = nlx_lxc_connection (state, error);
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

      if (nlx_lxc_is_mine (state, doms[i], uuid) &&
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
