/* nlx-api-json.c: the API's JSON helpers: members written into answers,
 * and the request body read strictly, each refusal answered with 400 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "api/nlx-api-private.h"

/* ---- JSON out --------------------------------------------------------- */

void
nlx_api_add_links (JsonBuilder *builder,
                   NlxApiRequest *request,
                   const char *collection,
                   const char *id)
{
  g_autofree char *self = g_strdup_printf ("%s/v2.1/%s/%s", request->base,
                                           collection, id);
  g_autofree char *bookmark = g_strdup_printf ("%s/%s/%s", request->base,
                                               collection, id);

  json_builder_set_member_name (builder, "links");
  json_builder_begin_array (builder);
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "rel");
  json_builder_add_string_value (builder, "self");
  json_builder_set_member_name (builder, "href");
  json_builder_add_string_value (builder, self);
  json_builder_end_object (builder);
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "rel");
  json_builder_add_string_value (builder, "bookmark");
  json_builder_set_member_name (builder, "href");
  json_builder_add_string_value (builder, bookmark);
  json_builder_end_object (builder);
  json_builder_end_array (builder);
}

void
nlx_api_add_string (JsonBuilder *builder,
                    const char *name,
                    const char *value)
{
  json_builder_set_member_name (builder, name);
  if (value != NULL)
    json_builder_add_string_value (builder, value);
  else
    json_builder_add_null_value (builder);
}

void
nlx_api_add_int (JsonBuilder *builder,
                 const char *name,
                 gint64 value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_int_value (builder, value);
}

void
nlx_api_add_time (JsonBuilder *builder,
                  const char *name,
                  GDateTime *time)
{
  g_autofree char *text = nlx_time_to_string (time);

  nlx_api_add_string (builder, name, text);
}

/* A reference to another resource: {"id": ..., "links": [...]}. */
void
nlx_api_add_ref (JsonBuilder *builder,
                 NlxApiRequest *request,
                 const char *name,
                 const char *collection,
                 const char *id)
{
  json_builder_set_member_name (builder, name);
  json_builder_begin_object (builder);
  nlx_api_add_string (builder, "id", id);
  nlx_api_add_links (builder, request, collection, id);
  json_builder_end_object (builder);
}

/* ---- JSON in ---------------------------------------------------------- */

void
nlx_api_respond_too_large (NlxApiRequest *request)
{
  g_autofree char *message =
    g_strdup_printf (_("The request body is larger than %d bytes, the most "
                       "this service accepts"), NLX_API_MAX_BODY);

  nlx_api_respond_fault (request, 413, message);
}

/* The request body, which must be one JSON object (read strictly, see
 * nlx-json.c); it lives as long as @request.  Answers 400 itself. */
JsonObject *
nlx_api_parse_body (NlxApiRequest *request)
{
  SoupMessageBody *body = soup_server_message_get_request_body (request->msg);
  g_autoptr(GError) error = NULL;
  g_autofree char *message = NULL;

  if (body->length > NLX_API_MAX_BODY)
    {
      nlx_api_respond_too_large (request);
      return NULL;
    }
  if (body->length == 0 || body->data == NULL)
    message = g_strdup (_("The request needs a JSON object as its body"));
  else if ((request->body = nlx_json_parse (body->data, body->length,
                                            &error)) == NULL)
    message = g_strdup_printf (_("The request body is not valid JSON: %s"),
                               error->message);
  else if (!JSON_NODE_HOLDS_OBJECT (request->body))
    message = g_strdup (_("The request body must be a JSON object"));
  if (message != NULL)
    {
      nlx_api_respond_fault (request, 400, message);
      return NULL;
    }
  return json_node_get_object (request->body);
}

/* The member @key (e.g. "server") of the body, which must be an object;
 * answers 400 itself. */
JsonObject *
nlx_api_read_body (NlxApiRequest *request,
                   const char *key)
{
  JsonObject *root = nlx_api_parse_body (request);
  JsonNode *member;
  g_autofree char *message = NULL;

  if (root == NULL)
    return NULL;
  member = json_object_get_member (root, key);
  if (member != NULL && JSON_NODE_HOLDS_OBJECT (member))
    return json_node_get_object (member);
  message = g_strdup_printf (_("The request body must be a JSON object with "
                               "a “%s” object"), key);
  nlx_api_respond_fault (request, 400, message);
  return NULL;
}

gboolean
nlx_api_require_object (NlxApiRequest *request,
                        JsonNode *node,
                        const char *what)
{
  g_autofree char *message = NULL;

  if (JSON_NODE_HOLDS_OBJECT (node))
    return TRUE;
  message = g_strdup_printf (_("“%s” must be a JSON object"), what);
  nlx_api_respond_fault (request, 400, message);
  return FALSE;
}

/* A required string member; answers 400 when it is missing or not one. */
const char *
nlx_api_get_string_member (NlxApiRequest *request,
                           JsonObject *object,
                           const char *key)
{
  JsonNode *node = json_object_get_member (object, key);
  g_autofree char *message = NULL;

  if (node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
      json_node_get_value_type (node) == G_TYPE_STRING)
    return json_node_get_string (node);
  if (node == NULL)
    message = g_strdup_printf (_("“%s” is a required property"), key);
  else
    message = g_strdup_printf (_("“%s” must be a string"), key);
  nlx_api_respond_fault (request, 400, message);
  return NULL;
}

/* Nova refuses properties it does not know (additionalProperties: false). */
gboolean
nlx_api_check_members (NlxApiRequest *request,
                       JsonObject *object,
                       const char * const *known)
{
  g_autoptr(GList) members = json_object_get_members (object);

  for (GList *l = members; l != NULL; l = l->next)
    if (!g_strv_contains (known, l->data))
      {
        g_autofree char *message =
          g_strdup_printf (_("Additional properties are not allowed "
                             "(“%s” was unexpected)"), (char *) l->data);
        nlx_api_respond_fault (request, 400, message);
        return FALSE;
      }
  return TRUE;
}


/* An optional string member; answers 400 when it is there but not a
 * string (null counts as absent). */
gboolean
nlx_api_get_optional_string (NlxApiRequest *request,
                             JsonObject *object,
                             const char *key,
                             const char **value)
{
  JsonNode *node = json_object_get_member (object, key);

  *value = NULL;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  *value = nlx_api_get_string_member (request, object, key);
  return *value != NULL;
}

/* Nova's fields that take an integer or a string of one (pattern
 * ^-?[0-9]+$): a JSON whole number, or plain decimal digits in a string,
 * from @min to @max.  Leading zeros and "-0" are refused too: nothing
 * needs them, and " 0", "0x" and "-0" used to slip through. */
gboolean
nlx_api_read_whole_number (JsonNode *node,
                           gint64 min,
                           gint64 max,
                           gint64 *out)
{
  gint64 value;

  if (!JSON_NODE_HOLDS_VALUE (node))
    return FALSE;
  if (json_node_get_value_type (node) == G_TYPE_INT64)
    value = json_node_get_int (node);
  else if (json_node_get_value_type (node) == G_TYPE_STRING)
    {
      const char *text = json_node_get_string (node);
      const char *digits = text[0] == '-' ? text + 1 : text;

      if (*digits == '\0' ||
          (*digits == '0' && (digits[1] != '\0' || digits != text)))
        return FALSE;
      for (const char *p = digits; *p != '\0'; p++)
        if (!g_ascii_isdigit (*p))
          return FALSE;
      if (!g_ascii_string_to_signed (text, 10, G_MININT64, G_MAXINT64, &value,
                                     NULL))
        return FALSE;
    }
  else
    return FALSE;
  if (value < min || value > max)
    return FALSE;
  *out = value;
  return TRUE;
}

/* Member @member of @object, when present and not null: an object of
 * strings, copied into @map. */
gboolean
nlx_api_read_string_map (NlxApiRequest *request,
                         JsonObject *object,
                         const char *member,
                         GHashTable *map)
{
  JsonNode *node = json_object_get_member (object, member);
  g_autoptr(GList) members = NULL;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!nlx_api_require_object (request, node, member))
    return FALSE;
  members = json_object_get_members (json_node_get_object (node));
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *value =
        nlx_api_get_string_member (request, json_node_get_object (node),
                                   l->data);
      if (value == NULL)
        return FALSE;
      if (!nlx_json_text_is_valid (l->data, NLX_API_METADATA_ITEM_MAX) ||
          !nlx_json_text_is_valid (value, NLX_API_METADATA_ITEM_MAX))
        {
          g_autofree char *message =
            g_strdup_printf (_("Each key and value of “%s” must be 1 to %d "
                               "characters without control characters"),
                             member, NLX_API_METADATA_ITEM_MAX);
          nlx_api_respond_fault (request, 400, message);
          return FALSE;
        }
      g_hash_table_insert (map, g_strdup (l->data), g_strdup (value));
    }
  return TRUE;
}

/**
 * nlx_api_add_next_link:
 * @member: the list's links member, e.g. "servers_links"
 * @marker: the last item shown
 *
 * Nova's link to the next page of a list whose limit filled this one:
 * the request's own path and query (repeated parameters kept), with
 * @marker as "marker".
 */
void
nlx_api_add_next_link (JsonBuilder *builder,
                       NlxApiRequest *request,
                       const char *member,
                       const char *marker)
{
  GUri *uri = soup_server_message_get_uri (request->msg);
  const char *text = g_uri_get_query (uri);
  g_autoptr(GString) href = g_string_new (request->base);
  g_autofree char *escaped = g_uri_escape_string (marker, NULL, FALSE);
  GUriParamsIter iter;
  char *key, *value;

  g_string_append (href, g_uri_get_path (uri));
  g_string_append_c (href, '?');
  if (text != NULL)
    {
      g_uri_params_iter_init (&iter, text, -1, "&", G_URI_PARAMS_NONE);
      while (g_uri_params_iter_next (&iter, &key, &value, NULL))
        {
          if (!g_str_equal (key, "marker"))
            {
              g_autofree char *k = g_uri_escape_string (key, NULL, FALSE);
              g_autofree char *v = g_uri_escape_string (value, NULL, FALSE);

              g_string_append_printf (href, "%s=%s&", k, v);
            }
          g_free (key);
          g_free (value);
        }
    }
  g_string_append_printf (href, "marker=%s", escaped);
  json_builder_set_member_name (builder, member);
  json_builder_begin_array (builder);
  json_builder_begin_object (builder);
  nlx_api_add_string (builder, "rel", "next");
  nlx_api_add_string (builder, "href", href->str);
  json_builder_end_object (builder);
  json_builder_end_array (builder);
}

/* A query's limit, a whole number from 0 to G_MAXINT32, into @limit;
 * else 400. */
gboolean
nlx_api_read_query_limit (NlxApiRequest *request,
                          const char *value,
                          gint64 *limit)
{
  g_autoptr(JsonNode) node = json_node_new (JSON_NODE_VALUE);

  json_node_set_string (node, value);
  if (nlx_api_read_whole_number (node, 0, G_MAXINT32, limit))
    return TRUE;
  nlx_api_respond_fault (request, 400,
                         _("limit param must be an integer of 0 or more"));
  return FALSE;
}

/* The ISO 8601 time of query parameter @key (changes-since and the
 * like) into @time, replacing what was there; else 400. */
gboolean
nlx_api_read_query_time (NlxApiRequest *request,
                         const char *key,
                         const char *value,
                         GDateTime **time)
{
  g_autoptr(GTimeZone) utc = g_time_zone_new_utc ();

  g_clear_pointer (time, g_date_time_unref);
  *time = g_date_time_new_from_iso8601 (value, utc);
  if (*time == NULL)
    {
      g_autofree char *message =
        g_strdup_printf (_("Invalid input for query parameters %s: give a "
                           "time as ISO 8601, e.g. 2026-01-31T12:00:00Z"),
                         key);

      nlx_api_respond_fault (request, 400, message);
      return FALSE;
    }
  return TRUE;
}
