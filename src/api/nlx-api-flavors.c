/* nlx-api-flavors.c: /flavors: the flavors of nova-lxc.conf, listed and
 * shown */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "api/nlx-api-private.h"

/* ---- flavors ----------------------------------------------------------- */

/* A flavor's extra specs, as Nova keeps them: strings under namespaced
 * keys; a flavor of nova-lxc.conf has one only for what it sets.  Shown
 * through /os-extra_specs, and in the flavor's detailed body from
 * microversion 2.61. */
static void
add_extra_specs (JsonBuilder *builder,
                 const NlxFlavor *flavor)
{
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
    nlx_api_add_string (builder, NLX_API_SECCOMP_SPEC, NLX_SECCOMP_UNCONFINED);
}

/* The same, for the flavor a server embeds (2.47+, nlx-api-servers.c). */
void
nlx_api_add_flavor_extra_specs (JsonBuilder *builder,
                                const NlxFlavor *flavor)
{
  add_extra_specs (builder, flavor);
}

static void
add_flavor (JsonBuilder *builder,
            NlxApiRequest *request,
            const NlxFlavor *flavor,
            gboolean detail)
{
  json_builder_begin_object (builder);
  nlx_api_add_string (builder, "id", flavor->name);
  nlx_api_add_string (builder, "name", flavor->name);
  /* nova-lxc.conf gives a flavor no description: null, as Nova's for a
   * flavor created without one; in the short list too. */
  if (nlx_api_has (request, NLX_API_FLAVOR_DESCRIPTION))
    nlx_api_add_string (builder, "description", NULL);
  if (detail)
    {
      nlx_api_add_int (builder, "vcpus", flavor->vcpus);
      nlx_api_add_int (builder, "ram", flavor->memory_mb);
      nlx_api_add_int (builder, "disk", flavor->root_gb);
      /* nova-lxc flavors have no ephemeral disk and no swap; Nova shows
       * no swap as "" until 2.75, as 0 from then on. */
      nlx_api_add_int (builder, "OS-FLV-EXT-DATA:ephemeral", 0);
      if (nlx_api_has (request, NLX_API_FLAVOR_SWAP_NUMBER))
        nlx_api_add_int (builder, "swap", 0);
      else
        nlx_api_add_string (builder, "swap", "");
      json_builder_set_member_name (builder, "rxtx_factor");
      json_builder_add_double_value (builder, 1.0);
      /* Every flavor of nova-lxc.conf is public and usable. */
      json_builder_set_member_name (builder, "os-flavor-access:is_public");
      json_builder_add_boolean_value (builder, TRUE);
      json_builder_set_member_name (builder, "OS-FLV-DISABLED:disabled");
      json_builder_add_boolean_value (builder, FALSE);
      /* Nova's default policy lets any caller read a flavor's extra
       * specs (os_compute_api:os-flavor-extra-specs:index is
       * project-reader-or-admin), so every caller sees all of them, as
       * through /os-extra_specs. */
      if (nlx_api_has (request, NLX_API_FLAVOR_EXTRA_SPECS))
        {
          json_builder_set_member_name (builder, "extra_specs");
          json_builder_begin_object (builder);
          add_extra_specs (builder, flavor);
          json_builder_end_object (builder);
        }
    }
  nlx_api_add_links (builder, request, "flavors", flavor->name);
  json_builder_end_object (builder);
}

/* What a flavor list's query asks for, as Nova's flavor list reads it. */
typedef struct {
  GHashTable *form;             /* the decoded query, or NULL */
  gboolean want_public;
  gint64 min_ram;
  gint64 min_disk;
  gint64 limit;                 /* -1: no limit */
  const char *marker;           /* list after this flavor, or NULL */
} FlavorQuery;

static void
flavor_query_clear (FlavorQuery *query)
{
  g_clear_pointer (&query->form, g_hash_table_unref);
}

/* ?is_public= as Nova reads it: true (the default) lists the public
 * flavors, false the private ones, "none" both; anything else is a 400.
 * Every flavor here is public. */
static gboolean
read_is_public (const char *value,
                gboolean *want_public)
{
  g_autofree char *lower = g_ascii_strdown (value, -1);

  *want_public = TRUE;
  if (g_str_equal (lower, "none"))
    return TRUE;
  /* The spellings oslo's bool_from_string takes strictly. */
  if (g_str_equal (lower, "true") || g_str_equal (lower, "t") ||
      g_str_equal (lower, "1") || g_str_equal (lower, "on") ||
      g_str_equal (lower, "yes") || g_str_equal (lower, "y"))
    return TRUE;
  if (g_str_equal (lower, "false") || g_str_equal (lower, "f") ||
      g_str_equal (lower, "0") || g_str_equal (lower, "off") ||
      g_str_equal (lower, "no") || g_str_equal (lower, "n"))
    {
      *want_public = FALSE;
      return TRUE;
    }
  return FALSE;
}

/* A whole number of at least 0 given as @key, into @out; FALSE once it
 * has answered 400. */
static gboolean
read_count (NlxApiRequest *request,
            GHashTable *form,
            const char *key,
            gint64 *out)
{
  const char *value = g_hash_table_lookup (form, key);
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *message = NULL;

  if (value == NULL)
    return TRUE;
  node = json_node_init_string (json_node_alloc (), value);
  if (nlx_api_read_whole_number (node, 0, G_MAXINT32, out))
    return TRUE;
  message = g_strdup_printf (_("Invalid %s filter [%s]: give a whole number "
                               "of at least 0"), key, value);
  nlx_api_respond_fault (request, 400, message);
  return FALSE;
}

/* Reads ?is_public=, ?minRam=, ?minDisk=, ?limit= and ?marker=; FALSE
 * once a 400 has said what was wrong. */
static gboolean
read_flavor_query (NlxApiRequest *request,
                   FlavorQuery *query)
{
  const char *text = g_uri_get_query (soup_server_message_get_uri (request->msg));
  const char *is_public;

  query->want_public = TRUE;
  query->limit = -1;
  if (text == NULL)
    return TRUE;
  query->form = soup_form_decode (text);
  is_public = g_hash_table_lookup (query->form, "is_public");
  if (is_public != NULL && !read_is_public (is_public, &query->want_public))
    {
      g_autofree char *message =
        g_strdup_printf (_("Invalid is_public filter [%s]: use true, false "
                           "or none"), is_public);

      nlx_api_respond_fault (request, 400, message);
      return FALSE;
    }
  if (!read_count (request, query->form, "minRam", &query->min_ram) ||
      !read_count (request, query->form, "minDisk", &query->min_disk) ||
      !read_count (request, query->form, "limit", &query->limit))
    return FALSE;
  query->marker = g_hash_table_lookup (query->form, "marker");
  if (query->marker != NULL &&
      nlx_config_find_flavor (request->api->config, query->marker) == NULL)
    {
      g_autofree char *message =
        g_strdup_printf (_("marker [%s] not found"), query->marker);

      nlx_api_respond_fault (request, 400, message);
      return FALSE;
    }
  return TRUE;
}

static gboolean
flavor_wanted (const FlavorQuery *query,
               const NlxFlavor *flavor)
{
  /* No flavor is private, so is_public=false lists none. */
  return query->want_public && flavor->memory_mb >= query->min_ram &&
         flavor->root_gb >= query->min_disk;
}

static void
list_flavors (NlxApiRequest *request,
              gboolean detail)
{
  GPtrArray *flavors = request->api->config->flavors;
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;
  FlavorQuery query = { 0 };
  gboolean past_marker;
  const char *last = NULL;
  gint64 shown = 0;

  if (!read_flavor_query (request, &query))
    {
      flavor_query_clear (&query);
      return;
    }
  past_marker = query.marker == NULL;
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "flavors");
  json_builder_begin_array (builder);
  /* In nova-lxc.conf's order, which is the flavors' one order here. */
  for (guint i = 0; i < flavors->len; i++)
    {
      const NlxFlavor *flavor = flavors->pdata[i];

      if (!past_marker)
        {
          past_marker = g_str_equal (flavor->name, query.marker);
          continue;
        }
      if (!flavor_wanted (&query, flavor))
        continue;
      if (query.limit >= 0 && shown == query.limit)
        break;
      add_flavor (builder, request, flavor, detail);
      last = flavor->name;
      shown++;
    }
  json_builder_end_array (builder);
  if (query.limit > 0 && shown == query.limit)
    nlx_api_add_next_link (builder, request, "flavors_links", last);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  nlx_api_respond (request, 200, body);
  flavor_query_clear (&query);
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

/* The flavor @id names, or NULL once a 404 says it is none. */
static const NlxFlavor *
find_flavor (NlxApiRequest *request,
             const char *id)
{
  const NlxFlavor *flavor = nlx_config_find_flavor (request->api->config, id);

  if (flavor == NULL)
    {
      g_autofree char *message =
        g_strdup_printf (_("Flavor %s could not be found."), id);

      nlx_api_respond_fault (request, 404, message);
    }
  return flavor;
}

/* GET /flavors/{id} */
void
nlx_api_show_flavor (NlxApiRequest *request,
                     const char *method G_GNUC_UNUSED,
                     const char * const *ids)
{
  const NlxFlavor *flavor = find_flavor (request, ids[0]);
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;

  if (flavor == NULL)
    return;
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "flavor");
  add_flavor (builder, request, flavor, TRUE);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  nlx_api_respond (request, 200, body);
}

/* GET /flavors/{id}/os-extra_specs */
void
nlx_api_list_extra_specs (NlxApiRequest *request,
                          const char *method G_GNUC_UNUSED,
                          const char * const *ids)
{
  const NlxFlavor *flavor = find_flavor (request, ids[0]);
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;

  if (flavor == NULL)
    return;
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "extra_specs");
  json_builder_begin_object (builder);
  add_extra_specs (builder, flavor);
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  nlx_api_respond (request, 200, body);
}

/* GET /flavors/{id}/os-extra_specs/{key}: {"KEY": "VALUE"}, as Nova. */
void
nlx_api_show_extra_spec (NlxApiRequest *request,
                         const char *method G_GNUC_UNUSED,
                         const char * const *ids)
{
  const NlxFlavor *flavor = find_flavor (request, ids[0]);
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) specs = NULL;
  JsonNode *value;
  g_autoptr(JsonNode) body = NULL;

  if (flavor == NULL)
    return;
  json_builder_begin_object (builder);
  add_extra_specs (builder, flavor);
  json_builder_end_object (builder);
  specs = json_builder_get_root (builder);
  value = json_object_get_member (json_node_get_object (specs), ids[1]);
  if (value == NULL)
    {
      g_autofree char *message =
        g_strdup_printf (_("Flavor %s has no extra specs with key %s."),
                         flavor->name, ids[1]);

      nlx_api_respond_fault (request, 404, message);
      return;
    }
  body = json_node_init_object (json_node_alloc (), json_object_new ());
  json_object_set_member (json_node_get_object (body), ids[1],
                          json_node_copy (value));
  nlx_api_respond (request, 200, body);
}
