/* nlx-api-versions.c: the version documents, / and /v2.1 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "api/nlx-api-private.h"

/* ---- versions --------------------------------------------------------- */

static void
add_version (JsonBuilder *builder,
             NlxApiRequest *request)
{
  g_autofree char *href = g_strdup_printf ("%s/v2.1/", request->base);
  g_autofree char *min = g_strdup_printf ("2.%u", NLX_API_MIN_MICROVERSION);
  g_autofree char *max = g_strdup_printf ("2.%u", NLX_API_MAX_MICROVERSION);

  json_builder_begin_object (builder);
  nlx_api_add_string (builder, "id", "v2.1");
  nlx_api_add_string (builder, "status", "CURRENT");
  nlx_api_add_string (builder, "version", max);
  nlx_api_add_string (builder, "min_version", min);
  nlx_api_add_string (builder, "updated", "2013-07-23T11:33:21Z");
  json_builder_set_member_name (builder, "links");
  json_builder_begin_array (builder);
  json_builder_begin_object (builder);
  nlx_api_add_string (builder, "rel", "self");
  nlx_api_add_string (builder, "href", href);
  json_builder_end_object (builder);
  json_builder_end_array (builder);
  json_builder_end_object (builder);
}

static void
respond_versions (NlxApiRequest *request,
                  gboolean all)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;

  json_builder_begin_object (builder);
  if (all)
    {
      json_builder_set_member_name (builder, "versions");
      json_builder_begin_array (builder);
      add_version (builder, request);
      json_builder_end_array (builder);
    }
  else
    {
      json_builder_set_member_name (builder, "version");
      add_version (builder, request);
    }
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  nlx_api_respond (request, 200, body);
}

/* GET / */
void
nlx_api_list_versions (NlxApiRequest *request,
                       const char *method G_GNUC_UNUSED,
                       const char * const *ids G_GNUC_UNUSED)
{
  respond_versions (request, TRUE);
}

/* GET /v2.1 */
void
nlx_api_show_version (NlxApiRequest *request,
                      const char *method G_GNUC_UNUSED,
                      const char * const *ids G_GNUC_UNUSED)
{
  respond_versions (request, FALSE);
}
