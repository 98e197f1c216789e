/* nlx-api-flavors.c: /flavors: the flavors of nova-lxc.conf, listed and
 * shown */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "api/nlx-api-private.h"

/* ---- flavors ----------------------------------------------------------- */

static void
add_flavor (JsonBuilder *builder,
            NlxApiRequest *request,
            const NlxFlavor *flavor,
            gboolean detail)
{
  json_builder_begin_object (builder);
  nlx_api_add_string (builder, "id", flavor->name);
  nlx_api_add_string (builder, "name", flavor->name);
  if (detail)
    {
      nlx_api_add_int (builder, "vcpus", flavor->vcpus);
      nlx_api_add_int (builder, "ram", flavor->memory_mb);
      nlx_api_add_int (builder, "disk", flavor->root_gb);
      nlx_api_add_int (builder, "OS-FLV-EXT-DATA:ephemeral", 0);
      nlx_api_add_string (builder, "swap", "");
      json_builder_set_member_name (builder, "rxtx_factor");
      json_builder_add_double_value (builder, 1.0);
      json_builder_set_member_name (builder, "os-flavor-access:is_public");
      json_builder_add_boolean_value (builder, TRUE);
      /* As Nova's flavor extra specs (shown from microversion 2.61). */
      json_builder_set_member_name (builder, "extra_specs");
      json_builder_begin_object (builder);
      if (flavor->privileged)
        nlx_api_add_string (builder, NLX_API_PRIVILEGED_SPEC, "true");
      if (flavor->pids != 0)
        {
          g_autofree char *text = g_strdup_printf ("%u", flavor->pids);

          nlx_api_add_string (builder, NLX_API_PIDS_SPEC, text);
        }
      if (flavor->cpu_shares != 0)
        {
          g_autofree char *text = g_strdup_printf ("%u", flavor->cpu_shares);

          nlx_api_add_string (builder, NLX_API_CPU_SHARES_SPEC, text);
        }
      if (flavor->seccomp_unconfined)
        nlx_api_add_string (builder, NLX_API_SECCOMP_SPEC,
                            NLX_SECCOMP_UNCONFINED);
      json_builder_end_object (builder);
    }
  nlx_api_add_links (builder, request, "flavors", flavor->name);
  json_builder_end_object (builder);
}

static void
list_flavors (NlxApiRequest *request,
              gboolean detail)
{
  GPtrArray *flavors = request->api->config->flavors;
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "flavors");
  json_builder_begin_array (builder);
  for (guint i = 0; i < flavors->len; i++)
    add_flavor (builder, request, flavors->pdata[i], detail);
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  nlx_api_respond (request, 200, body);
}

/* GET /flavors */
void
nlx_api_list_flavors (NlxApiRequest *request,
                      const char *method G_GNUC_UNUSED,
                      const char * const *ids G_GNUC_UNUSED)
{
  list_flavors (request, FALSE);
}

/* GET /flavors/detail */
void
nlx_api_list_flavors_detail (NlxApiRequest *request,
                             const char *method G_GNUC_UNUSED,
                             const char * const *ids G_GNUC_UNUSED)
{
  list_flavors (request, TRUE);
}

/* GET /flavors/{id} */
void
nlx_api_show_flavor (NlxApiRequest *request,
                     const char *method G_GNUC_UNUSED,
                     const char * const *ids)
{
  const NlxFlavor *flavor = nlx_config_find_flavor (request->api->config,
                                                    ids[0]);
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;

  if (flavor == NULL)
    {
      g_autofree char *message =
        g_strdup_printf (_("Flavor %s could not be found."), ids[0]);

      nlx_api_respond_fault (request, 404, message);
      return;
    }
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "flavor");
  add_flavor (builder, request, flavor, TRUE);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  nlx_api_respond (request, 200, body);
}
