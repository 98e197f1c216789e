/* nlx-api-host.c: what Nova tells of its hosts, for this one host:
 * /os-availability-zone, /os-services and /os-aggregates */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "api/nlx-api-private.h"

/* ---- ids -------------------------------------------------------------- */

/* A UUID named by @text: an RFC 9562 version 5 layout over SHA-1, so the
 * same text gives the same UUID on every run.  Free with g_free(). */
char *
nlx_api_name_uuid (const char *text)
{
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA1);
  guint8 digest[20];
  gsize length = sizeof digest;

  g_checksum_update (sum, (const guchar *) "nova-lxc ", -1);
  g_checksum_update (sum, (const guchar *) text, -1);
  g_checksum_get_digest (sum, digest, &length);
  digest[6] = (digest[6] & 0x0f) | 0x50;
  digest[8] = (digest[8] & 0x3f) | 0x80;
  return g_strdup_printf ("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
                          "%02x%02x%02x%02x%02x%02x",
                          digest[0], digest[1], digest[2], digest[3],
                          digest[4], digest[5], digest[6], digest[7],
                          digest[8], digest[9], digest[10], digest[11],
                          digest[12], digest[13], digest[14], digest[15]);
}

/* The UUID Nova gives from 2.53 to @what ("service", "hypervisor") of
 * this host: Nova keeps one per database row; nova-lxc has no rows, so it
 * derives it from the host's name, which keeps it the same across
 * restarts and differs from host to host.  Free with g_free(). */
char *
nlx_api_host_uuid (NlxApiRequest *request,
                   const char *what)
{
  g_autofree char *text =
    g_strdup_printf ("%s %s", what,
                     nlx_manager_get_host (request->api->manager));

  return nlx_api_name_uuid (text);
}

/* A query's boolean as Nova reads one strictly (oslo's
 * bool_from_string(strict=True)): absent leaves @value alone; anything
 * but its spellings is a 400, and FALSE once that is answered. */
gboolean
nlx_api_read_query_bool (NlxApiRequest *request,
                         GHashTable *form,
                         const char *key,
                         gboolean *value)
{
  static const char * const yes[] = { "1", "t", "true", "on", "y", "yes",
                                      NULL };
  static const char * const no[] = { "0", "f", "false", "off", "n", "no",
                                     NULL };
  const char *text = form != NULL ? g_hash_table_lookup (form, key) : NULL;
  g_autofree char *lower = NULL;
  g_autofree char *message = NULL;

  if (text == NULL)
    return TRUE;
  lower = g_strstrip (g_ascii_strdown (text, -1));
  if (g_strv_contains (yes, lower) || g_strv_contains (no, lower))
    {
      *value = g_strv_contains (yes, lower);
      return TRUE;
    }
  message = g_strdup_printf (_("Invalid input for query parameter %s: "
                               "“%s” is not a boolean; use true or false"),
                             key, text);
  nlx_api_respond_fault (request, 400, message);
  return FALSE;
}

/* ---- the compute service ---------------------------------------------- */

/* The one service row: this daemon's compute service.  It answers, so it
 * is up, and its heartbeat is now; Nova's updated_at is the time of the
 * service's last report. */
static void
add_service_state (JsonBuilder *builder)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();

  nlx_api_add_time (builder, "updated_at", now);
}

static const char *
query_value (GHashTable *form,
             const char *key)
{
  return form != NULL ? g_hash_table_lookup (form, key) : NULL;
}

/* GET /os-services: one nova-compute row; ?host= and ?binary= filter as
 * Nova's do (a row matches when each given one is its own). */
void
nlx_api_list_services (NlxApiRequest *request,
                       const char *method G_GNUC_UNUSED,
                       const char * const *ids G_GNUC_UNUSED)
{
  const char *host = nlx_manager_get_host (request->api->manager);
  const char *query = g_uri_get_query (soup_server_message_get_uri (request->msg));
  g_autoptr(GHashTable) form = query != NULL ? soup_form_decode (query) : NULL;
  const char *want_host = query_value (form, "host");
  const char *want_binary = query_value (form, "binary");
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "services");
  json_builder_begin_array (builder);
  if ((want_host == NULL || g_str_equal (want_host, host)) &&
      (want_binary == NULL || g_str_equal (want_binary, NLX_API_SERVICE_BINARY)))
    {
      json_builder_begin_object (builder);
      /* Nova's database id until 2.52, its UUID from 2.53. */
      if (nlx_api_has (request, NLX_API_UUID_IDS))
        {
          g_autofree char *uuid = nlx_api_host_uuid (request, "service");

          nlx_api_add_string (builder, "id", uuid);
        }
      else
        nlx_api_add_int (builder, "id", NLX_API_SERVICE_ID);
      nlx_api_add_string (builder, "binary", NLX_API_SERVICE_BINARY);
      nlx_api_add_string (builder, "host", host);
      nlx_api_add_string (builder, "zone", NLX_API_AVAILABILITY_ZONE);
      nlx_api_add_string (builder, "status", "enabled");
      nlx_api_add_string (builder, "state", "up");
      add_service_state (builder);
      json_builder_set_member_name (builder, "disabled_reason");
      json_builder_add_null_value (builder);
      /* This service answers, so it is not forced down; nova-lxc has no
       * PUT /os-services to force it. */
      if (nlx_api_has (request, NLX_API_SERVICE_FORCED_DOWN))
        {
          json_builder_set_member_name (builder, "forced_down");
          json_builder_add_boolean_value (builder, FALSE);
        }
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  nlx_api_respond (request, 200, body);
}

/* ---- availability zones ------------------------------------------------ */

static void
list_zones (NlxApiRequest *request,
            gboolean detail)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "availabilityZoneInfo");
  json_builder_begin_array (builder);
  json_builder_begin_object (builder);
  nlx_api_add_string (builder, "zoneName", NLX_API_AVAILABILITY_ZONE);
  json_builder_set_member_name (builder, "zoneState");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "available");
  json_builder_add_boolean_value (builder, TRUE);
  json_builder_end_object (builder);
  json_builder_set_member_name (builder, "hosts");
  if (detail)
    {
      /* {HOST: {SERVICE: {"available", "active", "updated_at"}}}, as
       * Nova's detail; Nova's internal zone (its conductor and
       * scheduler) has no counterpart here. */
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder,
                                    nlx_manager_get_host (request->api->manager));
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, NLX_API_SERVICE_BINARY);
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "available");
      json_builder_add_boolean_value (builder, TRUE);
      json_builder_set_member_name (builder, "active");
      json_builder_add_boolean_value (builder, TRUE);
      add_service_state (builder);
      json_builder_end_object (builder);
      json_builder_end_object (builder);
      json_builder_end_object (builder);
    }
  else
    json_builder_add_null_value (builder);
  json_builder_end_object (builder);
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  nlx_api_respond (request, 200, body);
}

/* GET /os-availability-zone */
void
nlx_api_list_availability_zones (NlxApiRequest *request,
                                 const char *method G_GNUC_UNUSED,
                                 const char * const *ids G_GNUC_UNUSED)
{
  list_zones (request, FALSE);
}

/* GET /os-availability-zone/detail */
void
nlx_api_list_availability_zones_detail (NlxApiRequest *request,
                                        const char *method G_GNUC_UNUSED,
                                        const char * const *ids G_GNUC_UNUSED)
{
  list_zones (request, TRUE);
}

/* ---- aggregates -------------------------------------------------------- */

/* GET /os-aggregates: one host needs no aggregates; the list is asked for
 * by openstackclient's hypervisor show.  Being empty, it has no entry
 * whose "uuid" (2.41+) could differ between versions. */
void
nlx_api_list_aggregates (NlxApiRequest *request,
                         const char *method G_GNUC_UNUSED,
                         const char * const *ids G_GNUC_UNUSED)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "aggregates");
  json_builder_begin_array (builder);
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  nlx_api_respond (request, 200, body);
}
