/* nlx-bench-api.c: Compute API requests for the benchmarks that talk to a
 * daemon over its Unix socket */
#include "config.h"

#include <string.h>

#include "nlx-bench-api.h"

/* A request to the v2.1 API at @path, asking @version when not %NULL,
 * with @body (JSON) when not %NULL. */
SoupMessage *
nlx_bench_api_message (const char *method,
                       const char *path,
                       const char *version,
                       const char *body)
{
  g_autofree char *url = g_strconcat ("http://localhost/v2.1", path, NULL);
  SoupMessage *msg = soup_message_new (method, url);
  SoupMessageHeaders *headers = soup_message_get_request_headers (msg);

  soup_message_headers_append (headers, "Accept", "application/json");
  if (version != NULL)
    soup_message_headers_append (headers, "OpenStack-API-Version", version);
  if (body != NULL)
    {
      g_autoptr(GBytes) bytes = g_bytes_new (body, strlen (body));

      soup_message_set_request_body_from_bytes (msg, "application/json",
                                                bytes);
    }
  return msg;
}

/* Sends @msg (@method @path, for messages); *@status its answer's,
 * *@reply (when not %NULL) its parsed body, *@length its size.  Fails
 * only when there is no answer, or one that is not JSON. */
gboolean
nlx_bench_api_send (SoupSession *session,
                    SoupMessage *msg,
                    const char *method,
                    const char *path,
                    guint *status,
                    JsonNode **reply,
                    gsize *length,
                    GError **error)
{
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(JsonParser) parser = NULL;
  gsize size;
  const char *data;

  bytes = soup_session_send_and_read (session, msg, NULL, error);
  if (bytes == NULL)
    {
      g_prefix_error (error, "%s %s: ", method, path);
      return FALSE;
    }
  *status = soup_message_get_status (msg);
  data = g_bytes_get_data (bytes, &size);
  if (length != NULL)
    *length = size;
  if (reply == NULL || size == 0)
    return TRUE;
  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, data, size, error))
    {
      g_prefix_error (error, "%s %s answered %u with no JSON: ", method, path,
                      *status);
      return FALSE;
    }
  *reply = json_parser_steal_root (parser);
  return TRUE;
}

/* @root's @outer object's string @name, or NULL. */
const char *
nlx_bench_get_member (JsonNode *root,
                      const char *outer,
                      const char *name)
{
  JsonObject *object;
  JsonNode *node;

  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root) ||
      (node = json_object_get_member (json_node_get_object (root), outer)) == NULL ||
      !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;
  object = json_node_get_object (node);
  node = json_object_get_member (object, name);
  if (node == NULL || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

/* The message of a Nova fault body {"NAME": {"code": N, "message": S}}. */
const char *
nlx_bench_fault_message (JsonNode *root)
{
  g_autoptr(GList) members = NULL;
  const char *message;

  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return "(no fault body)";
  members = json_object_get_members (json_node_get_object (root));
  if (members == NULL)
    return "(empty fault body)";
  message = nlx_bench_get_member (root, members->data, "message");
  return message != NULL ? message : "(no message)";
}
