/* nlx-api-flavors.c: /flavors, and the catalog listing that flavors and
 * the images configured in nova-lxc.conf share */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "api/nlx-api-private.h"

/* ---- flavors and images ----------------------------------------------- */

static void
add_flavor (JsonBuilder *builder,
            Request *request,
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

/* Flavors and images come from the configuration and are listed alike:
 * /COLLECTION, /COLLECTION/detail and /COLLECTION/{id}. */
void
nlx_api_catalog_request (Request *request,
                         const char *collection,
                         const char *id)
{
  const NlxConfig *config = request->api->config;
  gboolean flavors = g_str_equal (collection, "flavors");
  GPtrArray *items = flavors ? config->flavors : config->images;
  gboolean detail = id != NULL;
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;
  gpointer item = NULL;

  if (id != NULL && !g_str_equal (id, "detail"))
    {
      item = flavors ? (gpointer) nlx_config_find_flavor (config, id)
                     : (gpointer) nlx_config_find_image (config, id);
      if (item == NULL)
        {
          g_autofree char *message =
            g_strdup_printf (flavors ? _("Flavor %s could not be found.")
                                     : _("Image %s could not be found."), id);
          nlx_api_respond_fault (request, 404, message);
          return;
        }
    }

  json_builder_begin_object (builder);
  if (item != NULL)
    {
      json_builder_set_member_name (builder, flavors ? "flavor" : "image");
      if (flavors)
        add_flavor (builder, request, item, TRUE);
      else
        nlx_api_add_image (builder, request, item, TRUE);
    }
  else
    {
      json_builder_set_member_name (builder, collection);
      json_builder_begin_array (builder);
      for (guint i = 0; i < items->len; i++)
        if (flavors)
          add_flavor (builder, request, items->pdata[i], detail);
        else
          nlx_api_add_image (builder, request, items->pdata[i], detail);
      json_builder_end_array (builder);
    }
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  nlx_api_respond (request, 200, body);
}
