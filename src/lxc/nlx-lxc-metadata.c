/* nlx-lxc-metadata.c: what an instance's libvirt domain keeps about
 * itself: its nova-lxc metadata and its disks. */

#include "config.h"

#include <glib/gi18n-lib.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>

#include "common/nlx-autoptr.h"
#include "lxc/nlx-lxc-driver-private.h"
#include "lxc/nlx-lxc-error.h"

char *
nlx_lxc_xpath_string (const char *xml,
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

/* The domain's nova-lxc metadata, as it is now (live when running). */
NlxLxcMetadata *
nlx_lxc_read_metadata (virDomainPtr dom,
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

unsigned int
nlx_lxc_live_and_config (virDomainPtr dom)
{
  return VIR_DOMAIN_AFFECT_CONFIG |
         (virDomainIsActive (dom) == 1 ? VIR_DOMAIN_AFFECT_LIVE : 0);
}

gboolean
nlx_lxc_write_metadata (virDomainPtr dom,
                        const NlxLxcMetadata *metadata,
                        GError **error)
{
  g_autofree char *xml = nlx_lxc_metadata_to_xml (metadata);

  if (virDomainSetMetadata (dom, VIR_DOMAIN_METADATA_ELEMENT, xml,
                            NLX_LXC_XMLNS_PREFIX, NLX_LXC_XMLNS,
                            nlx_lxc_live_and_config (dom)) < 0)
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
gboolean
nlx_lxc_has_disk (virDomainPtr dom,
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
  found = nlx_lxc_xpath_string (xml, expression);
  return found != NULL;
}

gboolean
nlx_lxc_change_disk (virDomainPtr dom,
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
       * caller can retry, not a failure (see nlx_lxc_libvirt_knows_init()). */
      if ((flags & VIR_DOMAIN_AFFECT_LIVE) && virDomainIsActive (dom) == 1 &&
          nlx_lxc_libvirt_knows_init (dom, nlx_lxc_init_pid (dom), NULL) == 0)
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
