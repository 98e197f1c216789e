/* nlx-lxc-domain.c: instance -> libvirt LXC domain XML
 *
 * A pure function of its inputs (no connection, clock or filesystem), so
 * it is golden-tested byte for byte. */
#include "config.h"

#include <glib/gi18n-lib.h>
#include <libxml/tree.h>

#include "nlx-error.h"
#include "nlx-lxc-domain.h"

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
  add_prop (node, "type", "image");
  add_prop (node, "uuid", instance->image_ref);
}

static void
add_nlx_metadata (xmlNodePtr metadata,
                  const char *shutdown_signal)
{
  xmlNodePtr nlx = xmlNewChild (metadata, NULL, BAD_CAST "instance", NULL);
  xmlNsPtr ns = xmlNewNs (nlx, BAD_CAST NLX_LXC_XMLNS,
                          BAD_CAST NLX_LXC_XMLNS_PREFIX);
  xmlNodePtr node;

  xmlSetNs (nlx, ns);
  node = xmlNewChild (nlx, ns, BAD_CAST "shutdown", NULL);
  add_prop (node, "signal", shutdown_signal);
}

/**
 * nlx_lxc_domain_build:
 * @spec: what to build
 * @error: return location for a #NLX_DRIVER_ERROR_INVALID_ARGUMENT
 *
 * The domain is an LXC container with its own network namespace
 * (privnet: loopback only until networking is configured), one PTY
 * console, the root tree mounted at / and Nova's metadata.  Every string
 * from the user is escaped.
 *
 * Returns: (transfer full): the domain XML, or %NULL if a path is relative
 */
char *
nlx_lxc_domain_build (const NlxLxcDomainSpec *spec,
                      GError **error)
{
  const NlxInstance *instance = spec->instance;
  const char *init = spec->init_path ? spec->init_path : NLX_LXC_DEFAULT_INIT;
  g_autofree char *name = nlx_instance_domain_name (instance);
  xmlDocPtr doc;
  xmlNodePtr domain, node, devices, child;
  xmlChar *xml = NULL;
  int size = 0;
  char *result;

  if (spec->root_dir == NULL || !g_path_is_absolute (spec->root_dir))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("The root filesystem must be an absolute path, got “%s”"),
                   spec->root_dir ? spec->root_dir : "");
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
  if (spec->shutdown_signal != NULL)
    add_nlx_metadata (node, spec->shutdown_signal);

  node = add_uint (domain, NULL, "memory",
                   (guint64) instance->flavor.memory_mb * 1024);
  add_prop (node, "unit", "KiB");
  add_uint (domain, NULL, "vcpu", instance->flavor.vcpus);

  node = xmlNewChild (domain, NULL, BAD_CAST "os", NULL);
  add_text (node, NULL, "type", "exe");
  add_text (node, NULL, "init", init);

  node = xmlNewChild (domain, NULL, BAD_CAST "features", NULL);
  xmlNewChild (node, NULL, BAD_CAST "privnet", NULL);

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
