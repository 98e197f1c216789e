/* nlx-lxc-domain.c: instance -> libvirt LXC domain XML
 *
 * A pure function of its inputs (no connection, clock or filesystem), so
 * it is golden-tested byte for byte. */
#include "config.h"

#include <glib/gi18n-lib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "common/nlx-autoptr.h"
#include "common/nlx-error.h"
#include "common/nlx-idmap.h"
#include "lxc/nlx-lxc-domain.h"

static xmlNodePtr
add_text (xmlNodePtr parent,
          xmlNsPtr ns,
          const char *name,
          const char *text)
{
  /* xmlNewTextChild escapes; xmlNewChild would not. */
  return xmlNewTextChild (parent, ns, BAD_CAST name, BAD_CAST text);
}

static xmlNodePtr
add_uint (xmlNodePtr parent,
          xmlNsPtr ns,
          const char *name,
          guint64 value)
{
  char text[G_ASCII_DTOSTR_BUF_SIZE];

  g_snprintf (text, sizeof text, "%" G_GUINT64_FORMAT, value);
  return add_text (parent, ns, name, text);
}

static void
add_prop (xmlNodePtr node,
          const char *name,
          const char *value)
{
  xmlNewProp (node, BAD_CAST name, BAD_CAST value);
}

/* Nova's instance metadata block, field for field, so operators and tools
 * that read Nova's domains read ours. */
static void
add_nova_metadata (xmlNodePtr metadata,
                   const NlxInstance *instance)
{
  xmlNodePtr nova = xmlNewChild (metadata, NULL, BAD_CAST "instance", NULL);
  xmlNsPtr ns = xmlNewNs (nova, BAD_CAST NLX_NOVA_XMLNS,
                          BAD_CAST NLX_NOVA_XMLNS_PREFIX);
  g_autofree char *created = NULL;
  xmlNodePtr node;
  xmlNodePtr owner;

  xmlSetNs (nova, ns);
  add_text (nova, ns, "name", instance->name);
  created = g_date_time_format (instance->created_at, "%Y-%m-%d %H:%M:%S");
  add_text (nova, ns, "creationTime", created);

  node = xmlNewChild (nova, ns, BAD_CAST "flavor", NULL);
  add_prop (node, "name", instance->flavor.name);
  add_uint (node, ns, "memory", instance->flavor.memory_mb);
  add_uint (node, ns, "disk", instance->flavor.root_gb);
  add_uint (node, ns, "swap", 0);
  add_uint (node, ns, "ephemeral", 0);
  add_uint (node, ns, "vcpus", instance->flavor.vcpus);

  owner = xmlNewChild (nova, ns, BAD_CAST "owner", NULL);
  node = add_text (owner, ns, "user", instance->user_id);
  add_prop (node, "uuid", instance->user_id);
  node = add_text (owner, ns, "project", instance->project_id);
  add_prop (node, "uuid", instance->project_id);

  node = xmlNewChild (nova, ns, BAD_CAST "root", NULL);
  if (instance->root_volume != NULL)
    {
      add_prop (node, "type", "volume");
      add_prop (node, "uuid", instance->root_volume);
    }
  else
    {
      add_prop (node, "type", "image");
      add_prop (node, "uuid", instance->image_ref);
    }
}

/* virDomainSetMetadata() takes the element without its namespace, which
 * it adds itself; the domain XML needs it. */
static void
add_nlx_metadata (xmlNodePtr parent,
                  const NlxLxcMetadata *metadata,
                  gboolean with_namespace)
{
  xmlNodePtr nlx = xmlNewChild (parent, NULL, BAD_CAST "instance", NULL);
  xmlNsPtr ns = NULL;
  xmlNodePtr node;

  if (with_namespace)
    {
      ns = xmlNewNs (nlx, BAD_CAST NLX_LXC_XMLNS, BAD_CAST NLX_LXC_XMLNS_PREFIX);
      xmlSetNs (nlx, ns);
    }
  if (metadata->shutdown_signal != NULL)
    {
      node = xmlNewChild (nlx, ns, BAD_CAST "shutdown", NULL);
      add_prop (node, "signal", metadata->shutdown_signal);
    }
  if (metadata->privileged)
    xmlNewChild (nlx, ns, BAD_CAST "privileged", NULL);
  if (metadata->root_volume != NULL || metadata->root_image != NULL)
    {
      node = xmlNewChild (nlx, ns, BAD_CAST "root", NULL);
      if (metadata->root_volume != NULL)
        add_prop (node, "volume", metadata->root_volume);
      else
        add_prop (node, "image", metadata->root_image);
    }
  for (guint i = 0; metadata->volumes && i < metadata->volumes->len; i++)
    {
      const NlxVolumeAttachment *attachment = metadata->volumes->pdata[i];

      node = xmlNewChild (nlx, ns, BAD_CAST "volume", NULL);
      add_prop (node, "id", attachment->volume_id);
      add_prop (node, "device", attachment->device);
      if (attachment->mount_path != NULL)
        add_prop (node, "mount", attachment->mount_path);
    }
  if (metadata->pids != 0)
    {
      char text[16];

      g_snprintf (text, sizeof text, "%u", metadata->pids);
      node = xmlNewChild (nlx, ns, BAD_CAST "limits", NULL);
      add_prop (node, "pids", text);
    }
  if (metadata->vif != NULL)
    {
      char prefix[16];

      g_snprintf (prefix, sizeof prefix, "%u", metadata->vif->prefix);
      node = xmlNewChild (nlx, ns, BAD_CAST "vif", NULL);
      add_prop (node, "bridge", metadata->vif->bridge);
      add_prop (node, "mac", metadata->vif->mac);
      add_prop (node, "address", metadata->vif->address);
      add_prop (node, "prefix", prefix);
      /* None for a driver-given network without one (no default route). */
      if (metadata->vif->gateway != NULL)
        add_prop (node, "gateway", metadata->vif->gateway);
    }
}

static char *
dump (xmlDocPtr doc,
      xmlNodePtr node)
{
  g_autoptr(xmlBuffer) buffer = xmlBufferCreate ();

  xmlNodeDump (buffer, doc, node, 0, 1);
  return g_strndup ((const char *) xmlBufferContent (buffer),
                    xmlBufferLength (buffer));
}

NlxLxcMetadata *
nlx_lxc_metadata_new (void)
{
  NlxLxcMetadata *metadata = g_new0 (NlxLxcMetadata, 1);

  metadata->volumes =
    g_ptr_array_new_with_free_func ((GDestroyNotify) nlx_volume_attachment_free);
  return metadata;
}

void
nlx_lxc_metadata_free (NlxLxcMetadata *metadata)
{
  if (metadata == NULL)
    return;
  g_free (metadata->shutdown_signal);
  g_free (metadata->root_volume);
  g_free (metadata->root_image);
  g_ptr_array_unref (metadata->volumes);
  nlx_vif_free (metadata->vif);
  g_free (metadata);
}

/**
 * nlx_lxc_metadata_to_xml:
 * @metadata: what to keep
 *
 * Returns: (transfer full): the element virDomainSetMetadata() takes for
 * %NLX_LXC_XMLNS: without a namespace of its own
 */
char *
nlx_lxc_metadata_to_xml (const NlxLxcMetadata *metadata)
{
  g_autoptr(xmlDoc) doc = xmlNewDoc (BAD_CAST "1.0");
  xmlNodePtr root = xmlNewDocNode (doc, NULL, BAD_CAST "metadata", NULL);

  xmlDocSetRootElement (doc, root);
  add_nlx_metadata (root, metadata, FALSE);
  return dump (doc, root->children);
}

static char *
get_prop (xmlNodePtr node,
          const char *name)
{
  xmlChar *value = xmlGetProp (node, BAD_CAST name);
  char *result = g_strdup ((const char *) value);

  xmlFree (value);
  return result;
}

/**
 * nlx_lxc_metadata_parse:
 * @xml: (nullable): the element virDomainGetMetadata() returned, or %NULL
 *   when the domain has none
 * @error: return location for a #NLX_DRIVER_ERROR_FAILED
 *
 * libvirt hands the element back without its namespace, so elements are
 * matched by name only.
 *
 * Returns: (transfer full): the metadata, or %NULL if @xml is malformed
 */
NlxLxcMetadata *
nlx_lxc_metadata_parse (const char *xml,
                        GError **error)
{
  g_autoptr(NlxLxcMetadata) metadata = nlx_lxc_metadata_new ();
  g_autoptr(xmlDoc) doc = NULL;
  xmlNodePtr root;

  if (xml == NULL)
    return g_steal_pointer (&metadata);
  doc = xmlReadMemory (xml, strlen (xml), NULL, NULL,
                       XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  root = doc ? xmlDocGetRootElement (doc) : NULL;
  if (root == NULL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("The domain's nova-lxc metadata is not XML; see "
                     "virsh metadata DOMAIN %s"), NLX_LXC_XMLNS);
      return NULL;
    }
  for (xmlNodePtr node = root->children; node != NULL; node = node->next)
    {
      const char *name = (const char *) node->name;

      if (node->type != XML_ELEMENT_NODE)
        continue;
      if (g_str_equal (name, "privileged"))
        metadata->privileged = TRUE;
      else if (g_str_equal (name, "shutdown"))
        metadata->shutdown_signal = get_prop (node, "signal");
      else if (g_str_equal (name, "root"))
        {
          metadata->root_volume = get_prop (node, "volume");
          metadata->root_image = get_prop (node, "image");
        }
      else if (g_str_equal (name, "volume"))
        {
          NlxVolumeAttachment *attachment = g_new0 (NlxVolumeAttachment, 1);

          attachment->volume_id = get_prop (node, "id");
          attachment->device = get_prop (node, "device");
          attachment->mount_path = get_prop (node, "mount");
          g_ptr_array_add (metadata->volumes, attachment);
          if (attachment->volume_id == NULL || attachment->device == NULL)
            {
              g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                           _("A volume in the domain's nova-lxc metadata "
                             "lacks its id or device"));
              return NULL;
            }
        }
      else if (g_str_equal (name, "limits"))
        {
          g_autofree char *pids = get_prop (node, "pids");
          guint64 value = 0;

          if (pids != NULL &&
              !g_ascii_string_to_unsigned (pids, 10, 1, NLX_FLAVOR_PIDS_MAX,
                                           &value, NULL))
            {
              g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                           _("The pids limit in the domain's nova-lxc "
                             "metadata is not a number from 1 to %u: “%s”"),
                           NLX_FLAVOR_PIDS_MAX, pids);
              return NULL;
            }
          metadata->pids = (guint) value;
        }
      else if (g_str_equal (name, "vif") && metadata->vif == NULL)
        {
          g_autofree char *prefix = get_prop (node, "prefix");

          metadata->vif = g_new0 (NlxVif, 1);
          metadata->vif->bridge = get_prop (node, "bridge");
          metadata->vif->mac = get_prop (node, "mac");
          metadata->vif->address = get_prop (node, "address");
          metadata->vif->gateway = get_prop (node, "gateway");
          metadata->vif->prefix = prefix ? (guint) g_ascii_strtoull (prefix,
                                                                      NULL, 10)
                                         : 0;
          if (metadata->vif->bridge == NULL || metadata->vif->prefix == 0)
            {
              g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                           _("The network interface in the domain's nova-lxc "
                             "metadata lacks its bridge or prefix"));
              return NULL;
            }
        }
    }
  return g_steal_pointer (&metadata);
}

static void
add_disk (xmlNodePtr devices,
          const char *device,
          const char *source)
{
  xmlNodePtr node = xmlNewChild (devices, NULL, BAD_CAST "disk", NULL);
  xmlNodePtr child;

  add_prop (node, "type", "block");
  add_prop (node, "device", "disk");
  child = xmlNewChild (node, NULL, BAD_CAST "source", NULL);
  add_prop (child, "dev", source);
  child = xmlNewChild (node, NULL, BAD_CAST "target", NULL);
  /* libvirt makes the node /dev/TARGET inside the container. */
  add_prop (child, "dev", device + strlen ("/dev/"));
  xmlNewChild (node, NULL, BAD_CAST "readonly", NULL);
}

/**
 * nlx_lxc_disk_xml:
 * @device: the device path inside the instance, /dev/vdX
 * @source: the host block device
 *
 * Returns: (transfer full): a read-only block disk, as the domain XML and
 * virDomainAttachDeviceFlags() have it
 */
char *
nlx_lxc_disk_xml (const char *device,
                  const char *source)
{
  g_autoptr(xmlDoc) doc = xmlNewDoc (BAD_CAST "1.0");
  xmlNodePtr root = xmlNewDocNode (doc, NULL, BAD_CAST "devices", NULL);

  xmlDocSetRootElement (doc, root);
  add_disk (root, device, source);
  return dump (doc, root->children);
}

/**
 * nlx_lxc_veth_name:
 * @uuid: the instance's uuid
 *
 * The host end of the instance's veth pair: "nlx-" and the eight hex
 * digits of its domain name, so `ip link` and `bridge link` show whose it
 * is, within the kernel's 15 characters.
 *
 * Returns: (transfer full): the interface name
 */
char *
nlx_lxc_veth_name (const char *uuid)
{
  return g_strdup_printf ("nlx-%.8s", uuid);
}

/* The veth's host end joins the bridge; libvirt moves the other end into
 * the container as eth0 and gives it the address and default route. */
static void
add_interface (xmlNodePtr devices,
               const NlxInstance *instance)
{
  const NlxVif *vif = instance->vif;
  xmlNodePtr node = xmlNewChild (devices, NULL, BAD_CAST "interface", NULL);
  g_autofree char *veth = nlx_lxc_veth_name (instance->uuid);
  xmlNodePtr child;
  char prefix[16];

  add_prop (node, "type", "bridge");
  child = xmlNewChild (node, NULL, BAD_CAST "mac", NULL);
  add_prop (child, "address", vif->mac);
  child = xmlNewChild (node, NULL, BAD_CAST "source", NULL);
  add_prop (child, "bridge", vif->bridge);
  child = xmlNewChild (node, NULL, BAD_CAST "ip", NULL);
  add_prop (child, "address", vif->address);
  add_prop (child, "family", "ipv4");
  g_snprintf (prefix, sizeof prefix, "%u", vif->prefix);
  add_prop (child, "prefix", prefix);
  /* A driver-given network may have no gateway: no default route. */
  if (vif->gateway != NULL)
    {
      child = xmlNewChild (node, NULL, BAD_CAST "route", NULL);
      add_prop (child, "family", "ipv4");
      add_prop (child, "address", "0.0.0.0");
      add_prop (child, "prefix", "0");
      add_prop (child, "gateway", vif->gateway);
    }
  child = xmlNewChild (node, NULL, BAD_CAST "target", NULL);
  add_prop (child, "dev", veth);
  child = xmlNewChild (node, NULL, BAD_CAST "guest", NULL);
  add_prop (child, "dev", "eth0");
}

/* Capabilities root inside an instance does without, on top of those
 * libvirt drops itself: no modules, raw I/O, clock or device nodes, and no
 * mounts (a privileged instance has no user namespace to stop them), so
 * that only the daemon's checked mounts ever put a filesystem in front of
 * the kernel; no reading of files by handle (open_by_handle_at, the
 * "shocker" escape) or past directory permissions, and no kernel log or
 * kernel addresses (dmesg, /proc/kallsyms), which a privileged instance
 * would otherwise share with the host.  CAP_SYS_ADMIN is dropped by
 * nova-lxc-init when it runs (it needs it to load the seccomp filter
 * without no_new_privs), else here.  Not sys_boot: libvirt keeps it
 * whatever the XML says, so that init can reboot the container, and in a
 * pid namespace of its own reboot(2) only ends that namespace. */
static void
add_dropped_capabilities (xmlNodePtr features,
                          gboolean sandboxed)
{
  static const char * const dropped[] = {
    "dac_read_search", "mknod", "sys_admin", "sys_module", "sys_rawio",
    "sys_time", "syslog",
  };
  xmlNodePtr node = xmlNewChild (features, NULL, BAD_CAST "capabilities", NULL);

  add_prop (node, "policy", "default");
  for (gsize i = 0; i < G_N_ELEMENTS (dropped); i++)
    if (!sandboxed || !g_str_equal (dropped[i], "sys_admin"))
      add_prop (xmlNewChild (node, NULL, BAD_CAST dropped[i], NULL), "state",
                "off");
}

/* nova-lxc-init runs first, from a read-only mount, and execs init with
 * init's own path as argv[0].  It sets the host name: libvirt sets the
 * domain's name (instance-XXXXXXXX), and only a process with
 * CAP_SYS_ADMIN in the container can change it, which the image's init
 * no longer has.  Its arguments are its own: init sees only those after
 * "--".  Without it (tests only: the driver always has it) the host name
 * stays the domain's.
 *
 * Every init gets product_name as a VM's DMI would have it: cloud-init
 * (ds-identify and its OpenStack datasource) reads it from PID 1's
 * environment when there is no DMI, as in a container.  libvirt passes
 * it beside its own (PATH, container=lxc-libvirt, ...), and
 * nova-lxc-init passes its whole environment on to init. */
static void
add_init (xmlNodePtr os,
          const NlxLxcDomainSpec *spec,
          const char *init)
{
  xmlNodePtr node;

  if (spec->sandbox_dir == NULL)
    add_text (os, NULL, "init", init);
  else
    {
      add_text (os, NULL, "init",
                NLX_LXC_SANDBOX_MOUNT "/" NLX_LXC_SANDBOX_PROGRAM);
      if (spec->seccomp)
        add_text (os, NULL, "initarg", "--seccomp");
      if (spec->hostname != NULL)
        {
          add_text (os, NULL, "initarg", "--hostname");
          add_text (os, NULL, "initarg", spec->hostname);
        }
      add_text (os, NULL, "initarg", "--");
      add_text (os, NULL, "initarg", init);
    }
  node = add_text (os, NULL, "initenv", NLX_LXC_PRODUCT_NAME);
  add_prop (node, "name", "product_name");
}

/* A tmpfs libvirt mounts inside the container (mode 1777, nosuid,
 * nodev), as a VM's init finds them already mounted or mounts them
 * itself: systemd needs /run, /run/lock and /dev/shm, and cannot mount
 * them without sys_admin, so without these it exits at once.  Pages
 * written there count against the instance's memory limit. */
static void
add_ram_filesystem (xmlNodePtr devices,
                    const char *dir,
                    guint64 size_kib)
{
  xmlNodePtr node = xmlNewChild (devices, NULL, BAD_CAST "filesystem", NULL);
  xmlNodePtr child;
  char text[G_ASCII_DTOSTR_BUF_SIZE];

  add_prop (node, "type", "ram");
  add_prop (node, "accessmode", "passthrough");
  child = xmlNewChild (node, NULL, BAD_CAST "source", NULL);
  g_snprintf (text, sizeof text, "%" G_GUINT64_FORMAT, size_kib);
  add_prop (child, "usage", text);
  add_prop (child, "units", "KiB");
  child = xmlNewChild (node, NULL, BAD_CAST "target", NULL);
  add_prop (child, "dir", dir);
}

static void
add_idmap (xmlNodePtr idmap,
           const char *kind,
           GArray *map)
{
  for (guint i = 0; i < map->len; i++)
    {
      const NlxIdMapRange *range = &g_array_index (map, NlxIdMapRange, i);
      xmlNodePtr node = xmlNewChild (idmap, NULL, BAD_CAST kind, NULL);
      char text[16];

      g_snprintf (text, sizeof text, "%u", range->start);
      add_prop (node, "start", text);
      g_snprintf (text, sizeof text, "%u", range->target);
      add_prop (node, "target", text);
      g_snprintf (text, sizeof text, "%u", range->count);
      add_prop (node, "count", text);
    }
}

/* A container's vcpus are only a number unless the scheduler holds it
 * to them: a CFS quota of one period per vcpu caps the instance at that
 * many CPUs' worth of time however many processes it runs, and shares
 * weigh instances against each other when the host is busy (the
 * flavor's quota:cpu_shares, else Nova's old 1024 per vcpu). */
static void
add_cputune (xmlNodePtr domain,
             const NlxFlavor *flavor)
{
  xmlNodePtr node = xmlNewChild (domain, NULL, BAD_CAST "cputune", NULL);
  guint64 shares = flavor->cpu_shares != 0
                     ? flavor->cpu_shares
                     : MIN ((guint64) flavor->vcpus * NLX_LXC_CPU_SHARES_PER_VCPU,
                            NLX_FLAVOR_CPU_SHARES_MAX);

  add_uint (node, NULL, "shares", shares);
  add_uint (node, NULL, "period", NLX_LXC_CPU_PERIOD_US);
  add_uint (node, NULL, "quota",
            (guint64) flavor->vcpus * NLX_LXC_CPU_PERIOD_US);
}

/**
 * nlx_lxc_domain_spec_metadata:
 * @spec: what a domain is built from
 *
 * Returns: the metadata nlx_lxc_domain_build() keeps in @spec's domain,
 *   borrowing every field from @spec: valid while @spec is, and not
 *   to be freed
 */
NlxLxcMetadata
nlx_lxc_domain_spec_metadata (const NlxLxcDomainSpec *spec)
{
  return (NlxLxcMetadata) {
    .shutdown_signal = (char *) spec->shutdown_signal,
    .root_volume = spec->instance->root_volume,
    .root_image = (char *) spec->root_image,
    .privileged = spec->uid_map == NULL,
    .volumes = spec->instance->volumes,
    .vif = spec->instance->vif,
    .pids = spec->pids,
  };
}

/**
 * nlx_lxc_domain_build:
 * @spec: what to build
 * @error: return location for a #NLX_DRIVER_ERROR_INVALID_ARGUMENT
 *
 * The domain is an LXC container with its own user namespace (unless
 * the spec has no id maps: a privileged instance) and network namespace
 * (a veth on the instance's bridge, or loopback only), dangerous
 * capabilities dropped, nova-lxc-init in front of init when the spec has
 * a sandbox directory (see src/lxc/nova-lxc-init.c), which sets the host
 * name, the config drive read-only at cloud-init's seed directory,
 * read-only disks for attached volumes, one PTY console, the root tree mounted at / and
 * Nova's metadata.  Its CPU time is capped at its vcpus (see
 * add_cputune()).  Every string from the user is escaped.
 *
 * Returns: (transfer full): the domain XML, or %NULL if a path is
 *   relative or the host name invalid
 */
char *
nlx_lxc_domain_build (const NlxLxcDomainSpec *spec,
                      GError **error)
{
  NlxLxcMetadata metadata = nlx_lxc_domain_spec_metadata (spec);
  const NlxInstance *instance = spec->instance;
  const char *init = spec->init_path ? spec->init_path : NLX_LXC_DEFAULT_INIT;
  g_autofree char *name = nlx_instance_domain_name (instance);
  xmlDocPtr doc;
  xmlNodePtr domain, node, devices, child;
  xmlChar *xml = NULL;
  int size = 0;
  guint64 memory_kib;
  char *result;

  if (spec->root_dir == NULL || !g_path_is_absolute (spec->root_dir))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("The root filesystem must be an absolute path, got “%s”"),
                   spec->root_dir ? spec->root_dir : "");
      return NULL;
    }
  if (spec->sandbox_dir != NULL && !g_path_is_absolute (spec->sandbox_dir))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("The sandbox directory must be an absolute path, got "
                     "“%s”"), spec->sandbox_dir);
      return NULL;
    }
  if (spec->config_drive_dir != NULL &&
      !g_path_is_absolute (spec->config_drive_dir))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("The config drive must be an absolute path, got “%s”"),
                   spec->config_drive_dir);
      return NULL;
    }
  if (spec->hostname != NULL && !nlx_hostname_is_valid (spec->hostname))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("The host name must be one DNS label of lower-case "
                     "letters, digits and “-”, got “%s”"), spec->hostname);
      return NULL;
    }
  if (!g_path_is_absolute (init))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("The image property %s must be an absolute path inside "
                     "the image, got “%s”"), "os_init_path", init);
      return NULL;
    }

  doc = xmlNewDoc (BAD_CAST "1.0");
  domain = xmlNewDocNode (doc, NULL, BAD_CAST "domain", NULL);
  xmlDocSetRootElement (doc, domain);
  add_prop (domain, "type", "lxc");

  add_text (domain, NULL, "name", name);
  add_text (domain, NULL, "uuid", instance->uuid);
  node = xmlNewChild (domain, NULL, BAD_CAST "metadata", NULL);
  add_nova_metadata (node, instance);
  add_nlx_metadata (node, &metadata, TRUE);

  node = add_uint (domain, NULL, "memory",
                   (guint64) instance->flavor.memory_mb * 1024);
  add_prop (node, "unit", "KiB");
  node = add_uint (domain, NULL, "vcpu", instance->flavor.vcpus);
  if (spec->cpuset != NULL)
    add_prop (node, "cpuset", spec->cpuset);
  add_cputune (domain, &instance->flavor);

  node = xmlNewChild (domain, NULL, BAD_CAST "os", NULL);
  add_text (node, NULL, "type", "exe");
  add_init (node, spec, init);

  if (spec->uid_map != NULL)
    {
      node = xmlNewChild (domain, NULL, BAD_CAST "idmap", NULL);
      add_idmap (node, "uid", spec->uid_map);
      add_idmap (node, "gid", spec->gid_map);
    }

  node = xmlNewChild (domain, NULL, BAD_CAST "features", NULL);
  xmlNewChild (node, NULL, BAD_CAST "privnet", NULL);
  add_dropped_capabilities (node, spec->sandbox_dir != NULL);

  node = xmlNewChild (domain, NULL, BAD_CAST "clock", NULL);
  add_prop (node, "offset", "utc");
  add_text (domain, NULL, "on_poweroff", "destroy");
  add_text (domain, NULL, "on_reboot", "restart");
  add_text (domain, NULL, "on_crash", "destroy");

  devices = xmlNewChild (domain, NULL, BAD_CAST "devices", NULL);
  node = xmlNewChild (devices, NULL, BAD_CAST "filesystem", NULL);
  add_prop (node, "type", "mount");
  add_prop (node, "accessmode", "passthrough");
  child = xmlNewChild (node, NULL, BAD_CAST "source", NULL);
  add_prop (child, "dir", spec->root_dir);
  child = xmlNewChild (node, NULL, BAD_CAST "target", NULL);
  add_prop (child, "dir", "/");
  /* Debian's sizes: /run a tenth of memory (RUNSIZE), /run/lock 5 MiB;
   * /dev/shm half of memory, as the kernel's tmpfs default.  /run comes
   * first: /run/lock is made inside it. */
  memory_kib = (guint64) instance->flavor.memory_mb * 1024;
  add_ram_filesystem (devices, "/run", MAX (memory_kib / 10, 8192));
  add_ram_filesystem (devices, "/run/lock", 5120);
  add_ram_filesystem (devices, "/dev/shm", memory_kib / 2);
  if (spec->sandbox_dir != NULL)
    {
      node = xmlNewChild (devices, NULL, BAD_CAST "filesystem", NULL);
      add_prop (node, "type", "mount");
      add_prop (node, "accessmode", "passthrough");
      child = xmlNewChild (node, NULL, BAD_CAST "source", NULL);
      add_prop (child, "dir", spec->sandbox_dir);
      child = xmlNewChild (node, NULL, BAD_CAST "target", NULL);
      add_prop (child, "dir", NLX_LXC_SANDBOX_MOUNT);
      xmlNewChild (node, NULL, BAD_CAST "readonly", NULL);
    }
  if (spec->config_drive_dir != NULL)
    {
      /* Read-only: root inside reads it (the files are the host's, mode
       * 0644) but can neither change it nor, without CAP_SYS_ADMIN,
       * remount it writable.  libvirt makes the mount point in the
       * instance's root. */
      node = xmlNewChild (devices, NULL, BAD_CAST "filesystem", NULL);
      add_prop (node, "type", "mount");
      add_prop (node, "accessmode", "passthrough");
      child = xmlNewChild (node, NULL, BAD_CAST "source", NULL);
      add_prop (child, "dir", spec->config_drive_dir);
      child = xmlNewChild (node, NULL, BAD_CAST "target", NULL);
      add_prop (child, "dir", NLX_LXC_CONFIG_DRIVE_MOUNT);
      xmlNewChild (node, NULL, BAD_CAST "readonly", NULL);
    }

  for (guint i = 0; spec->disk_sources && i < instance->volumes->len; i++)
    add_disk (devices,
              ((const NlxVolumeAttachment *) instance->volumes->pdata[i])->device,
              spec->disk_sources[i]);
  if (instance->vif != NULL)
    add_interface (devices, instance);

  node = xmlNewChild (devices, NULL, BAD_CAST "console", NULL);
  add_prop (node, "type", "pty");
  child = xmlNewChild (node, NULL, BAD_CAST "target", NULL);
  add_prop (child, "type", "lxc");
  add_prop (child, "port", "0");

  xmlDocDumpFormatMemoryEnc (doc, &xml, &size, "UTF-8", 1);
  xmlFreeDoc (doc);
  result = g_strndup ((const char *) xml, size);
  xmlFree (xml);
  return result;
}
