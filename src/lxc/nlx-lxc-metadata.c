/* nlx-lxc-metadata.c: what an instance's libvirt domain keeps about
 * itself: its nova-lxc metadata, and XPath over the domain's XML. */

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
