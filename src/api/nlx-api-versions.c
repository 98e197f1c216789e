/* nlx-api-versions.c: the version documents, /, /v2 and /v2.1 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "api/nlx-api-private.h"

/* ---- versions --------------------------------------------------------- */

/* The versions Nova lists, the old first: clients (and tempest) expect
 * v2.0 first.  v2.0 is Nova's legacy API without microversions, which
 * nova-lxc does not serve: only its version document, so that every
 * link of the list can be followed. */
typedef struct {
  const char *id;
  const char *path;
  const char *status;
  gboolean microversions;
  const char *updated;
  const char *media_type;
} Version;

static const Version versions[] = {
  { "v2.0", "v2", "SUPPORTED", FALSE, "2011-01-21T11:33:21Z",
    "application/vnd.openstack.compute+json;version=2" },
  { "v2.1", "v2.1", "CURRENT", TRUE, "2013-07-23T11:33:21Z",
    "application/vnd.openstack.compute+json;version=2.1" },
};

static void
add_version (JsonBuilder *builder,
             NlxApiRequest *request,
             const Version *version,
             gboolean detail)
{
  g_autofree char *href = g_strdup_printf ("%s/%s/", request->base,
                                           version->path);
  g_autofree char *min = g_strdup_printf ("2.%u", NLX_API_MIN_MICROVERSION);
  g_autofree char *max = g_strdup_printf ("2.%u", NLX_API_MAX_MICROVERSION);

  json_builder_begin_object (builder);
  nlx_api_add_string (builder, "id", version->id);
  nlx_api_add_string (builder, "status", version->status);
  nlx_api_add_string (builder, "version", version->microversions ? max : "");
  nlx_api_add_string (builder, "min_version",
                      version->microversions ? min : "");
  nlx_api_add_string (builder, "updated", version->updated);
  json_builder_set_member_name (builder, "links");
  json_builder_begin_array (builder);
  json_builder_begin_object (builder);
  nlx_api_add_string (builder, "rel", "self");
  nlx_api_add_string (builder, "href", href);
  json_builder_end_object (builder);
  if (detail)
    {
      json_builder_begin_object (builder);
      nlx_api_add_string (builder, "rel", "describedby");
      nlx_api_add_string (builder, "type", "text/html");
      nlx_api_add_string (builder, "href", "https://docs.openstack.org/");
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  /* Only a single version's document names its media type. */
  if (detail)
    {
      json_builder_set_member_name (builder, "media-types");
      json_builder_begin_array (builder);
      json_builder_begin_object (builder);
      nlx_api_add_string (builder, "base", "application/json");
      nlx_api_add_string (builder, "type", version->media_type);
      json_builder_end_object (builder);
      json_builder_end_array (builder);
    }
  json_builder_end_object (builder);
}

/* GET / */
void
nlx_api_list_versions (NlxApiRequest *request,
                       const char *method G_GNUC_UNUSED,
                       const char * const *ids G_GNUC_UNUSED)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "versions");
  json_builder_begin_array (builder);
  for (gsize i = 0; i < G_N_ELEMENTS (versions); i++)
    add_version (builder, request, &versions[i], FALSE);
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  nlx_api_respond (request, 200, body);
}

static void
respond_version (NlxApiRequest *request,
                 const Version *version)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "version");
  add_version (builder, request, version, TRUE);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  nlx_api_respond (request, 200, body);
}

/* GET /v2 */
void
nlx_api_show_legacy_version (NlxApiRequest *request,
                             const char *method G_GNUC_UNUSED,
                             const char * const *ids G_GNUC_UNUSED)
{
  respond_version (request, &versions[0]);
}

/* GET /v2.1 */
void
nlx_api_show_version (NlxApiRequest *request,
                      const char *method G_GNUC_UNUSED,
                      const char * const *ids G_GNUC_UNUSED)
{
  respond_version (request, &versions[1]);
}
