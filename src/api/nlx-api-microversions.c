/* nlx-api-microversions.c: which microversions the Compute API serves,
 * what a request asked for, and the one table of what changed when */
#include "config.h"

#include <glib/gi18n-lib.h>
#include <stdlib.h>

#include "api/nlx-api-private.h"

/* What each change of Nova's API is, the first microversion that has it
 * and the last one that does (NLX_API_MAX_MICROVERSION: still there).
 * Handlers ask nlx_api_has() about the change, never about a number, so
 * that this table is the only place that knows when things changed.
 * Only the changes to what nova-lxc offers are here; Nova's
 * api-ref/source/microversion_history says what the others are. */
static const struct {
  guint since;
  guint until;
} features[NLX_API_N_FEATURES] = {
  [NLX_API_ALWAYS] = { 1, NLX_API_MAX_MICROVERSION },
  [NLX_API_KEYPAIR_TYPE] = { 2, NLX_API_MAX_MICROVERSION },
  [NLX_API_SERVER_EXTENDED_ATTRS] = { 3, NLX_API_MAX_MICROVERSION },
  [NLX_API_REMOTE_CONSOLES] = { 6, NLX_API_MAX_MICROVERSION },
  [NLX_API_SERVER_LOCKED] = { 9, NLX_API_MAX_MICROVERSION },
  [NLX_API_KEYPAIR_USER_ID] = { 10, NLX_API_MAX_MICROVERSION },
  [NLX_API_SERVICE_FORCED_DOWN] = { 11, NLX_API_MAX_MICROVERSION },
  [NLX_API_SERVER_HOST_STATUS] = { 16, NLX_API_MAX_MICROVERSION },
  [NLX_API_SERVER_DESCRIPTION] = { 19, NLX_API_MAX_MICROVERSION },
  [NLX_API_ACTIONS_OF_DELETED] = { 21, NLX_API_MAX_MICROVERSION },
  [NLX_API_SERVER_TAGS] = { 26, NLX_API_MAX_MICROVERSION },
  [NLX_API_HYPERVISOR_CPU_INFO_OBJECT] = { 28, NLX_API_MAX_MICROVERSION },
  [NLX_API_HYPERVISOR_PAGING] = { 33, NLX_API_MAX_MICROVERSION },
  [NLX_API_KEYPAIR_PAGING] = { 35, NLX_API_MAX_MICROVERSION },
  [NLX_API_PROXIES] = { 1, 35 },
  [NLX_API_NETWORKS_REQUIRED] = { 37, NLX_API_MAX_MICROVERSION },
  [NLX_API_STRICT_STATUS_FILTER] = { 38, NLX_API_MAX_MICROVERSION },
  [NLX_API_LIMITS_IMAGE_META] = { 1, 38 },
  [NLX_API_AGGREGATE_UUID] = { 41, NLX_API_MAX_MICROVERSION },
  [NLX_API_CREATE_IMAGE_BODY] = { 45, NLX_API_MAX_MICROVERSION },
  [NLX_API_SERVER_FLAVOR_EMBEDDED] = { 47, NLX_API_MAX_MICROVERSION },
  [NLX_API_ACTION_EVENTS_FOR_OWNERS] = { 51, NLX_API_MAX_MICROVERSION },
  [NLX_API_HYPERVISOR_SEARCH_PATHS] = { 1, 52 },
  [NLX_API_CREATE_TAGS] = { 52, NLX_API_MAX_MICROVERSION },
  [NLX_API_UUID_IDS] = { 53, NLX_API_MAX_MICROVERSION },
  [NLX_API_REBUILD_KEY_NAME] = { 54, NLX_API_MAX_MICROVERSION },
  [NLX_API_FLAVOR_DESCRIPTION] = { 55, NLX_API_MAX_MICROVERSION },
  [NLX_API_PERSONALITY] = { 1, 56 },
  [NLX_API_REBUILD_USER_DATA] = { 57, NLX_API_MAX_MICROVERSION },
  [NLX_API_ACTIONS_PAGING] = { 58, NLX_API_MAX_MICROVERSION },
  [NLX_API_FLAVOR_EXTRA_SPECS] = { 61, NLX_API_MAX_MICROVERSION },
  [NLX_API_ACTION_EVENT_HOST] = { 62, NLX_API_MAX_MICROVERSION },
  [NLX_API_TRUSTED_CERTS] = { 63, NLX_API_MAX_MICROVERSION },
  [NLX_API_CHANGES_BEFORE] = { 66, NLX_API_MAX_MICROVERSION },
  [NLX_API_ATTACHMENT_TAG] = { 70, NLX_API_MAX_MICROVERSION },
  [NLX_API_SERVER_GROUPS] = { 71, NLX_API_MAX_MICROVERSION },
  [NLX_API_LOCKED_REASON] = { 73, NLX_API_MAX_MICROVERSION },
  [NLX_API_REQUESTED_DESTINATION] = { 74, NLX_API_MAX_MICROVERSION },
  [NLX_API_FULL_SERVER_ANSWERS] = { 75, NLX_API_MAX_MICROVERSION },
  [NLX_API_STRICT_LIST_QUERY] = { 75, NLX_API_MAX_MICROVERSION },
  [NLX_API_HYPERVISOR_EMPTY_SERVERS] = { 75, NLX_API_MAX_MICROVERSION },
  [NLX_API_FLAVOR_SWAP_NUMBER] = { 75, NLX_API_MAX_MICROVERSION },
  [NLX_API_ATTACHMENT_DELETE_ON_TERMINATION] = { 79,
                                                  NLX_API_MAX_MICROVERSION },
  [NLX_API_ACTION_EVENT_DETAILS] = { 84, NLX_API_MAX_MICROVERSION },
  [NLX_API_HYPERVISOR_STATISTICS] = { 1, 87 },
  [NLX_API_HYPERVISOR_SLIM] = { 88, NLX_API_MAX_MICROVERSION },
  [NLX_API_ATTACHMENT_IDS] = { 89, NLX_API_MAX_MICROVERSION },
  [NLX_API_HOSTNAME] = { 90, NLX_API_MAX_MICROVERSION },
  [NLX_API_KEYPAIR_IMPORT_ONLY] = { 92, NLX_API_MAX_MICROVERSION },
  [NLX_API_FQDN_HOSTNAME] = { 94, NLX_API_MAX_MICROVERSION },
  [NLX_API_PINNED_AVAILABILITY_ZONE] = { 96, NLX_API_MAX_MICROVERSION },
};

gboolean
nlx_api_has (const NlxApiRequest *request,
             NlxApiFeature feature)
{
  guint version = nlx_api_microversion (request);

  g_return_val_if_fail (feature < NLX_API_N_FEATURES, FALSE);
  /* Every row is filled in: a change added to the enum without its row
   * would otherwise be "never". */
  g_return_val_if_fail (features[feature].since != 0, FALSE);
  return version >= features[feature].since &&
         version <= features[feature].until;
}

guint
nlx_api_microversion (const NlxApiRequest *request)
{
  return request->microversion != 0 ? request->microversion
                                    : NLX_API_MIN_MICROVERSION;
}

/* "2.N" as N; FALSE for anything else (a major other than 2 included). */
static gboolean
parse_version (const char *text,
               guint *minor)
{
  char *end = NULL;
  guint64 value;

  if (!g_str_has_prefix (text, "2."))
    return FALSE;
  text += strlen ("2.");
  if (!g_ascii_isdigit (*text) || (text[0] == '0' && text[1] != '\0'))
    return FALSE;
  value = g_ascii_strtoull (text, &end, 10);
  if (*end != '\0' || value > G_MAXUINT)
    return FALSE;
  *minor = (guint) value;
  return TRUE;
}

/* The version the headers ask for, as Nova's APIVersionRequest reads
 * them: OpenStack-API-Version ("compute 2.N", among other services'
 * entries separated by commas) wins over the older
 * X-OpenStack-Nova-API-Version; neither means the minimum.  NULL when the
 * headers do not ask for a compute version. */
static char *
wanted_version (SoupMessageHeaders *headers)
{
  const char *generic = soup_message_headers_get_list (headers,
                                                       "OpenStack-API-Version");
  const char *nova = soup_message_headers_get_one (headers,
                                                   "X-OpenStack-Nova-API-Version");

  if (generic != NULL)
    {
      g_auto(GStrv) entries = g_strsplit (generic, ",", -1);

      for (guint i = 0; entries[i] != NULL; i++)
        {
          g_autofree char *entry = g_ascii_strdown (entries[i], -1);

          g_strstrip (entry);
          if (g_str_has_prefix (entry, "compute "))
            return g_strstrip (g_strdup (entry + strlen ("compute ")));
        }
    }
  if (nova != NULL)
    return g_strstrip (g_ascii_strdown (nova, -1));
  return NULL;
}

gboolean
nlx_api_read_microversion (NlxApiRequest *request)
{
  SoupMessageHeaders *headers =
    soup_server_message_get_request_headers (request->msg);
  g_autofree char *wanted = wanted_version (headers);
  guint minor = 0;

  request->microversion = NLX_API_MIN_MICROVERSION;
  if (wanted == NULL)
    return TRUE;
  if (g_str_equal (wanted, "latest"))
    {
      request->microversion = NLX_API_MAX_MICROVERSION;
      return TRUE;
    }
  if (!parse_version (wanted, &minor))
    {
      g_autofree char *message =
        g_strdup_printf (_("API version request “%s” is not valid: send "
                           "“2.N” (2.%u to 2.%u) or “latest” in "
                           "OpenStack-API-Version: compute VERSION"),
                         wanted, NLX_API_MIN_MICROVERSION,
                         NLX_API_MAX_MICROVERSION);

      nlx_api_respond_fault (request, 400, message);
      return FALSE;
    }
  if (minor < NLX_API_MIN_MICROVERSION || minor > NLX_API_MAX_MICROVERSION)
    {
      g_autofree char *message =
        g_strdup_printf (_("Version 2.%u is not supported by the API: this "
                           "service serves 2.%u to 2.%u; ask for one of "
                           "those or “latest”"),
                         minor, NLX_API_MIN_MICROVERSION,
                         NLX_API_MAX_MICROVERSION);

      nlx_api_respond_fault (request, 406, message);
      return FALSE;
    }
  request->microversion = minor;
  return TRUE;
}

/**
 * nlx_api_check_versioned_members:
 * @what: the body's name in the message ("server", "rebuild")
 * @members: (array length=n_members): members of @object that exist
 *   only at the microversions of their feature
 *
 * Elsewhere Nova's schema has no such property: 400 as its "Additional
 * properties" answer, naming the version asked for.  Answers itself.
 */
gboolean
nlx_api_check_versioned_members (NlxApiRequest *request,
                                 JsonObject *object,
                                 const char *what,
                                 const NlxApiVersionedMember *members,
                                 gsize n_members)
{
  for (gsize i = 0; i < n_members; i++)
    if (json_object_has_member (object, members[i].key) &&
        !nlx_api_has (request, members[i].feature))
      {
        g_autofree char *message =
          g_strdup_printf (_("Invalid input for field/attribute %s: "
                             "Additional properties are not allowed (“%s” "
                             "was unexpected at microversion 2.%u; see "
                             "docs/api.md for the versions that take it)"),
                           what, members[i].key,
                           nlx_api_microversion (request));

        nlx_api_respond_fault (request, 400, message);
        return FALSE;
      }
  return TRUE;
}
