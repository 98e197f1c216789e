/* nlx-lxc-spawn.c: making an instance (checks, directory, root, config
 * drive, CPU pinning, domain) and removing it again: spawn and
 * destroy. */

#include "config.h"

#include <errno.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <libvirt/virterror.h>

#include "common/nlx-file.h"
#include "host/nlx-archive.h"
#include "host/nlx-network-filter.h"
#include "lxc/nlx-lxc-cgroup.h"
#include "lxc/nlx-lxc-cpuset.h"
#include "lxc/nlx-lxc-disk.h"
#include "lxc/nlx-lxc-driver-private.h"
#include "lxc/nlx-lxc-error.h"
#include "model/nlx-metadata.h"

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

  if (shutdown_signal != NULL && nlx_lxc_parse_signal (shutdown_signal) < 0)
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
image_tree (const char *dir,
            const NlxImage *image)
{
  if (image->format == NLX_IMAGE_FORMAT_DIRECTORY)
    return g_strdup (image->path);
  return g_build_filename (dir, "image", NULL);
}

/* image_tree(), made. */
static char *
root_image (const char *dir,
            const NlxImage *image,
            GError **error)
{
  g_autofree char *tree = image_tree (dir, image);

  if (image->format == NLX_IMAGE_FORMAT_DIRECTORY)
    return g_steal_pointer (&tree);
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
  g_autofree char *dir = nlx_lxc_instance_dir (state, uuid);
  g_autofree char *domain = g_strdup_printf ("instance-%.8s", uuid);
  g_autoptr(GError) local_error = NULL;

  /* Its console is closed before its log goes: nothing stays held. */
  nlx_lxc_expect_stop (state, uuid);
  nlx_lxc_wait_released (state, uuid);
  /* An empty group left behind costs nothing; a busy one is reused by
   * the next start of the same domain. */
  if (!nlx_lxc_cgroup_remove_pids (domain, &local_error))
    g_warning ("%s", local_error->message);
  return nlx_lxc_mounts_withdraw (state, uuid, error) &&
         nlx_lxc_volume_umount_root (dir, error) &&
         nlx_lxc_volume_release_all (uuid, error) &&
         remove_instance_dir (dir, error);
}

/* The root tree at @dir/rootfs: an overlay over the root volume, or
 * over the image's tree (image_tree()). */
static gboolean
spawn_root (NlxDriverState *state,
            const NlxInstance *instance,
            const NlxImage *image,
            const char *dir,
            const char *init,
            const NlxLxcIdmap *idmap,
            GError **error)
{
  g_autofree char *root = NULL;
  g_autofree char *tree = NULL;
  g_autofree char *what = NULL;

  /* Closed before anything of the instance is written into it; then
   * the writable layer's own filesystem: the overlay's upper directory
   * is made on it. */
  if (!nlx_lxc_instance_dir_make (dir, idmap, error) ||
      (instance->flavor.root_gb > 0 &&
       !nlx_lxc_disk_create (dir, instance->flavor.root_gb, error)) ||
      !nlx_lxc_disk_mount (instance->uuid, dir, error))
    return FALSE;
  if (instance->root_volume == NULL)
    {
      tree = root_image (dir, image, error);
      root = tree ? nlx_lxc_overlay_root (dir, tree, idmap, error) : NULL;
      return root != NULL &&
             nlx_lxc_mounts_publish_root (state, instance->uuid, error);
    }
  root = nlx_lxc_volume_mount_root (state->volumes, instance->uuid,
                                    instance->root_volume, dir, idmap, error);
  what = g_strdup_printf (_("Root volume %s"), instance->root_volume);
  return root != NULL && check_init (root, init, what, error) &&
         nlx_lxc_mounts_publish_root (state, instance->uuid, error);
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

  *ncpus = nlx_lxc_host_cpus ();
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
  g_autofree char *cpuset = xml ? nlx_lxc_xpath_string (xml, "string(/domain/vcpu/@cpuset)")
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

      if (nlx_lxc_is_mine (state, doms[i], uuid) &&
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

/* ---- defining ---------------------------------------------------------- */

/* A domain being defined in a thread of its own while the spawn mounts
 * its root: virDomainDefineXML() takes about 2 ms, most of it libvirtd
 * writing its file and syncing it, and the XML names only paths, which
 * need not exist yet. */
typedef struct {
  virConnectPtr conn;
  char *xml;
  virDomainPtr dom;
  GError *error;
} Define;

static gpointer
define_run (gpointer data)
{
  Define *define = data;

  define->dom = virDomainDefineXML (define->conn, define->xml);
  if (define->dom == NULL)
    nlx_lxc_error_from_libvirt (&define->error);
  return define;
}

/* Builds the domain XML of @spec's instance, pinned to CPUs chosen now
 * (*@pin, recorded in state->pins at once, so that spawns at once
 * spread rather than all take the least loaded CPU), and starts its
 * definition: the thread for define_finish(), or %NULL. */
static GThread *
define_start (NlxDriverState *state,
              virConnectPtr conn,
              NlxLxcDomainSpec *spec,
              char **pin,
              GError **error)
{
  const char *uuid = spec->instance->uuid;
  g_autofree char *xml = NULL;
  Define *define;

  g_mutex_lock (&state->pin_lock);
  *pin = choose_pin (state, conn, spec->instance->flavor.vcpus);
  if (state->pins != NULL && *pin != NULL)
    {
      GArray *cpus = nlx_lxc_cpuset_parse (*pin, nlx_lxc_host_cpus (), NULL);

      if (cpus != NULL)
        g_hash_table_replace (state->pins, g_strdup (uuid), cpus);
    }
  g_mutex_unlock (&state->pin_lock);
  if (*pin != NULL)
    spec->cpuset = *pin;
  xml = nlx_lxc_domain_build (spec, error);
  if (xml == NULL)
    return NULL;
  define = g_new0 (Define, 1);
  define->conn = conn;
  virConnectRef (conn);
  define->xml = g_steal_pointer (&xml);
  return g_thread_new ("nlx-define", define_run, define);
}

/* Waits for define_start()'s thread: the domain, or %NULL. */
static virDomainPtr
define_finish (GThread *thread,
               const char *uuid,
               GError **error)
{
  Define *define = g_thread_join (thread);
  virDomainPtr dom = define->dom;

  if (dom == NULL)
    g_propagate_prefixed_error (error, define->error,
                                _("Cannot define instance %s: "), uuid);
  virConnectClose (define->conn);
  g_free (define->xml);
  g_free (define);
  return dom;
}

gboolean
nlx_lxc_driver_spawn (NlxDriverState *state,
                      const NlxInstance *instance,
                      const NlxImage *image,
                      GError **error)
{
  const char *init = NULL;
  const char *signal = NULL;
  g_autofree char *name = nlx_instance_domain_name (instance);
  g_autofree char *dir = nlx_lxc_instance_dir (state, instance->uuid);
  g_autofree char *root = g_build_filename (dir, "rootfs", NULL);
  g_autofree char *tree = NULL;
  g_autofree char *pin = NULL;
  g_autoptr(GPtrArray) disks = g_ptr_array_new_with_free_func (g_free);
  const NlxLxcIdmap *idmap = instance->flavor.privileged ? NULL : &state->idmap;
  g_autoptr(virConnect) conn = NULL;
  g_autoptr(virDomain) dom = NULL;
  g_autofree char *hostname_storage = NULL;
  g_autofree char *config_drive = NULL;
  GThread *port_rules = NULL;
  GThread *define = NULL;
  gboolean made;
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
  conn = nlx_lxc_connection (state, error);
  if (conn == NULL ||
      !check_not_defined (conn, instance, name, error) ||
      (image != NULL && !check_image (image, init, signal,
                                      instance->root_volume == NULL, error)))
    return FALSE;

  /* nft makes the port rules while the root is made and the domain
   * defined: nlx_lxc_start_instance() waits for it. */
  if (instance->vif != NULL)
    port_rules = nlx_lxc_port_rules_start (instance->uuid, instance->vif);

  /* The domain names only paths, all of them known now but the loop
   * devices of volumes: without volumes, it is defined while the root
   * is made. */
  if (instance->root_volume == NULL)
    tree = image_tree (dir, image);
  if (instance->config_drive || state->force_config_drive)
    config_drive = config_drive_path (state, instance->uuid);
  spec.instance = instance;
  spec.root_dir = root;
  spec.init_path = init;
  spec.sandbox_dir = state->sandbox_dir;
  spec.seccomp = !instance->flavor.seccomp_unconfined;
  spec.shutdown_signal = signal;
  spec.root_image = tree;
  spec.pids = instance->flavor.pids ? instance->flavor.pids : state->pids_limit;
  spec.cpuset = state->cpuset;
  spec.hostname = nlx_instance_hostname (instance, &hostname_storage);
  spec.config_drive_dir = config_drive;
  if (idmap != NULL)
    {
      spec.uid_map = state->uid_map;
      spec.gid_map = state->gid_map;
    }
  made = instance->volumes->len > 0 ||
         (define = define_start (state, conn, &spec, &pin, error)) != NULL;

  /* No domain had this uuid, so whatever an earlier crash left is stale
   * and ours to clear. */
  made = made && release_instance (state, instance->uuid, error) &&
         spawn_root (state, instance, image, dir, init, idmap, error);

  /* Written at each spawn, a rebuild's too: what it holds is the
   * instance as it is now, as Nova's drive is made at each boot from
   * scratch. */
  if (made && config_drive != NULL)
    {
      g_autoptr(GError) local_error = NULL;

      if (!nlx_metadata_write_config_drive (instance, config_drive,
                                            &local_error))
        {
          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                       _("Cannot make the config drive of instance %s: %s"),
                       instance->uuid, local_error->message);
          made = FALSE;
        }
    }
  for (guint i = 0; made && define == NULL && i < instance->volumes->len; i++)
    {
      gboolean created;
      char *loop = nlx_lxc_volume_setup (state->volumes, instance->uuid,
                                         instance->volumes->pdata[i],
                                         &created, error);
      if (loop == NULL)
        made = FALSE;
      else
        g_ptr_array_add (disks, loop);
    }
  if (made && define == NULL)
    {
      spec.disk_sources = (const char * const *) disks->pdata;
      made = (define = define_start (state, conn, &spec, &pin, error)) != NULL;
    }
  /* Waited for whatever happened: a domain defined is undone below. */
  if (define != NULL)
    dom = define_finish (define, instance->uuid, made ? error : NULL);
  /* The metadata just defined is the spec's: not asked of libvirtd. */
  if (made && dom != NULL)
    {
      NlxLxcMetadata metadata = nlx_lxc_domain_spec_metadata (&spec);

      if (nlx_lxc_start_instance (state, dom, instance->uuid, &metadata,
                                  g_steal_pointer (&port_rules), error))
        return TRUE;
    }

  /* Undo everything: no domain, no port rules, no mounts, no loop
   * devices, no directory. */
  if (port_rules != NULL)
    nlx_lxc_port_rules_finish (port_rules, NULL);
  if (dom != NULL)
    {
      if (virDomainIsActive (dom) == 1)
        nlx_lxc_stop_now (state, dom, instance->uuid, NULL);
      virDomainUndefine (dom);
    }
  forget_pin (state, instance->uuid);
  if (instance->vif != NULL)
    {
      g_autofree char *veth = nlx_lxc_veth_name (instance->uuid);

      nlx_network_filter_remove_port (instance->vif->bridge, veth, NULL);
    }
  nlx_lxc_remove_lease (state, instance->uuid);
  release_instance (state, instance->uuid, NULL);
  return FALSE;
}

gboolean
nlx_lxc_driver_destroy (NlxDriverState *state,
                        const char *uuid,
                        GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(virDomain) dom = nlx_lxc_lookup (state, uuid, &local_error);
  g_autofree char *bridge = NULL;
  gboolean released;

  if (dom == NULL &&
      !g_error_matches (local_error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_NOT_FOUND))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  g_clear_error (&local_error);
  if (dom != NULL)
    {
      g_autoptr(NlxLxcMetadata) metadata = nlx_lxc_read_metadata (dom, NULL);

      /* Its own bridge: the configuration may have changed since. */
      if (metadata != NULL && metadata->vif != NULL)
        bridge = g_strdup (metadata->vif->bridge);
      if (virDomainIsActive (dom) == 1 && !nlx_lxc_stop_now (state, dom, uuid, error))
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
   * is made for it.  The container is gone, so no frame can meet the
   * missing rules. */
  if (bridge != NULL)
    {
      g_autofree char *veth = nlx_lxc_veth_name (uuid);

      if (!nlx_network_filter_remove_port (bridge, veth, &local_error))
        {
          g_warning ("Instance %s is deleted, but its port rules stay: %s",
                     uuid, local_error->message);
          g_clear_error (&local_error);
        }
    }
  nlx_lxc_remove_lease (state, uuid);
  forget_pin (state, uuid);
  released = release_instance (state, uuid, error);
  if (!released)
    return FALSE;
  /* And any group a start racing with an earlier deletion made again. */
  nlx_lxc_prune_pids_groups_after_destroy (state);
  return TRUE;
}
