/* nlx-api-limits.c: /limits: what a project may use of this host, and
 * what it uses */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "api/nlx-api-private.h"

/* Nova's "no limit". */
#define UNLIMITED -1

/* The project whose usage is shown: the caller's, or for the token holder
 * (the API's one caller class, Nova's admin) the one ?tenant_id= names,
 * as Nova lets an admin ask. */
static const char *
usage_project (NlxApiRequest *request,
               GHashTable *form)
{
  const char *tenant = form != NULL ? g_hash_table_lookup (form, "tenant_id")
                                    : NULL;

  if (tenant != NULL && *tenant != '\0')
    return tenant;
  return nlx_api_identity (request, "X-Project-Id");
}

/* GET /limits */
void
nlx_api_show_limits (NlxApiRequest *request,
                     const char *method G_GNUC_UNUSED,
                     const char * const *ids G_GNUC_UNUSED)
{
  NlxManager *manager = request->api->manager;
  const char *query = g_uri_get_query (soup_server_message_get_uri (request->msg));
  g_autoptr(GHashTable) form = query != NULL ? soup_form_decode (query) : NULL;
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;
  NlxClaims capacity, used;

  /* Nova's quotas are per project; here the one limit is the host: any
   * project may claim all of what the allocation ratios leave, which a
   * create is checked against. */
  nlx_manager_get_capacity (manager, &capacity);
  nlx_manager_get_project_claims (manager, usage_project (request, form),
                                  &used);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "limits");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "absolute");
  json_builder_begin_object (builder);
  /* [filter_scheduler] max_instances_per_host, which a create is
   * checked against with the flavors' size. */
  nlx_api_add_int (builder, "maxTotalInstances", capacity.instances);
  nlx_api_add_int (builder, "maxTotalCores", capacity.vcpus);
  nlx_api_add_int (builder, "maxTotalRAMSize", capacity.memory_mb);
  nlx_api_add_int (builder, "totalInstancesUsed", used.instances);
  nlx_api_add_int (builder, "totalCoresUsed", used.vcpus);
  nlx_api_add_int (builder, "totalRAMUsed", used.memory_mb);
  /* Metadata items and key pairs are not counted; each item's key and
   * value are limited in length (docs/api.md). */
  nlx_api_add_int (builder, "maxServerMeta", UNLIMITED);
  if (nlx_api_has (request, NLX_API_LIMITS_IMAGE_META))
    nlx_api_add_int (builder, "maxImageMeta", UNLIMITED);
  nlx_api_add_int (builder, "maxTotalKeypairs", UNLIMITED);
  /* What nova-lxc does not offer, none of which can be had: injected
   * files (a create with "personality" is refused), floating IPs,
   * security groups and server groups.  Each goes from the answer in
   * the microversion that took it out of Nova's. */
  if (nlx_api_has (request, NLX_API_PERSONALITY))
    {
      nlx_api_add_int (builder, "maxPersonality", 0);
      nlx_api_add_int (builder, "maxPersonalitySize", 0);
    }
  if (nlx_api_has (request, NLX_API_PROXIES))
    {
      nlx_api_add_int (builder, "maxTotalFloatingIps", 0);
      nlx_api_add_int (builder, "totalFloatingIpsUsed", 0);
      nlx_api_add_int (builder, "maxSecurityGroups", 0);
      nlx_api_add_int (builder, "maxSecurityGroupRules", 0);
      nlx_api_add_int (builder, "totalSecurityGroupsUsed", 0);
    }
  nlx_api_add_int (builder, "maxServerGroups", 0);
  nlx_api_add_int (builder, "maxServerGroupMembers", 0);
  nlx_api_add_int (builder, "totalServerGroupsUsed", 0);
  json_builder_end_object (builder);
  /* No rate limits, as Nova since Liberty. */
  json_builder_set_member_name (builder, "rate");
  json_builder_begin_array (builder);
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  nlx_api_respond (request, 200, body);
}
