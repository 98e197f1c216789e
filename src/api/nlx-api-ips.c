/* nlx-api-ips.c: /servers/{id}/ips[/{network}], a server's addresses */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "api/nlx-api-private.h"

/* A server's addresses: all of them, or those on @network if not NULL;
 * as Nova's ips API, only version and addr (tempest's list_addresses
 * schema allows no more). */
static void
respond_ips (NlxApiRequest *request,
             const char *uuid,
             const char *network)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;
  g_autoptr(GError) error = NULL;
  const NlxRecord *record;
  const NlxVif *vif;

  record = nlx_manager_lookup (request->api->manager, uuid, &error);
  if (record == NULL)
    {
      nlx_api_respond_error (request, error);
      return;
    }
  vif = record->instance->vif;
  json_builder_begin_object (builder);
  if (network == NULL)
    nlx_api_add_addresses (builder, record->instance, FALSE);
  else if (vif != NULL && g_str_equal (network, vif->bridge))
    nlx_api_add_network (builder, vif, FALSE);
  else
    {
      g_autofree char *message =
        g_strdup_printf (_("Server %s has no address on network %s; see "
                           "GET /v2.1/servers/%s/ips"), uuid, network, uuid);
      nlx_api_respond_fault (request, 404, message);
      return;
    }
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  nlx_api_respond (request, 200, body);
}

/* GET /servers/{uuid}/ips */
void
nlx_api_list_ips (NlxApiRequest *request,
                  const char *method G_GNUC_UNUSED,
                  const char * const *ids)
{
  respond_ips (request, ids[0], NULL);
}

/* GET /servers/{uuid}/ips/{network} */
void
nlx_api_show_ips (NlxApiRequest *request,
                  const char *method G_GNUC_UNUSED,
                  const char * const *ids)
{
  respond_ips (request, ids[0], ids[1]);
}
