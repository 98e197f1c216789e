/* nlx-cli-client.c: nova-lxc's HTTP client of the compute API, over the
 * daemon's Unix socket or TCP, and the checks of its answers' shape */
#include "config.h"

#include <string.h>
#include <glib/gi18n-lib.h>
#include <gio/gunixsocketaddress.h>

#include "cli/nlx-cli.h"
#include "common/nlx-json.h"

/* The microversion this client reads and writes: remote consoles came in
 * 2.6, and the image and volume proxies it manages images and volumes
 * through are gone in 2.36. */
#define API_VERSION_HEADER "compute 2.6"

G_DEFINE_QUARK (nlx-cli-error-quark, nlx_cli_error)

void
nlx_client_free (NlxClient *client)
{
  g_clear_object (&client->session);
  g_free (client->base_url);
  g_free (client->socket_path);
  g_free (client->token);
  g_free (client);
}

/* A URL as given, without the trailing slash and without "/v2.1", so
 * both http://host:8774 and Nova's usual endpoint http://host:8774/v2.1
 * work. */
static char *
normalize_base_url (const char *url)
{
  g_autofree char *base = g_strdup (url);
  gsize len = strlen (base);

  while (len > 0 && base[len - 1] == '/')
    base[--len] = '\0';
  if (g_str_has_suffix (base, "/v2.1"))
    base[len - strlen ("/v2.1")] = '\0';
  return g_steal_pointer (&base);
}

NlxClient *
nlx_client_new (const char *socket_path,
                const char *url,
                const char *token)
{
  g_autoptr(NlxClient) client = g_new0 (NlxClient, 1);
  const char *user_agent = PACKAGE_NAME "/" PACKAGE_VERSION;

  if (url != NULL)
    {
      client->base_url = normalize_base_url (url);
      client->session = soup_session_new_with_options (
        "timeout", NLX_CLI_REQUEST_TIMEOUT_S, "user-agent", user_agent, NULL);
    }
  else
    {
      g_autoptr(GSocketAddress) address =
        g_unix_socket_address_new (socket_path);

      /* Over the socket the host part is ignored by the daemon. */
      client->base_url = g_strdup ("http://localhost");
      client->socket_path = g_strdup (socket_path);
      client->session = soup_session_new_with_options (
        "remote-connectable", address, "timeout", NLX_CLI_REQUEST_TIMEOUT_S,
        "user-agent", user_agent, NULL);
    }
  client->token = g_strdup (token);
  return g_steal_pointer (&client);
}

/* For the requests that are answered only once slow work is done. */
void
nlx_client_set_timeout (NlxClient *client,
                        guint seconds)
{
  g_object_set (client->session, "timeout", seconds, NULL);
}

/* Sends one request; fails only when the API cannot be reached. */
static GBytes *
nlx_client_send (NlxClient *client,
                 const char *method,
                 const char *path,
                 JsonNode *body,
                 SoupMessage **message_out,
                 GError **error)
{
  g_autofree char *url = g_strconcat (client->base_url, "/v2.1", path, NULL);
  g_autoptr(SoupMessage) message = soup_message_new (method, url);
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GBytes) reply = NULL;
  SoupMessageHeaders *headers;

  if (message == NULL)
    {
      g_set_error (error, NLX_CLI_ERROR, NLX_CLI_ERROR_UNREACHABLE,
                   _("Cannot make a request for %s; check --url"), url);
      return NULL;
    }
  headers = soup_message_get_request_headers (message);
  soup_message_headers_append (headers, "Accept", "application/json");
  if (client->version != NULL)
    {
      g_autofree char *wanted = g_strconcat ("compute ", client->version,
                                             NULL);

      soup_message_headers_append (headers, "OpenStack-API-Version", wanted);
    }
  else
    soup_message_headers_append (headers, "OpenStack-API-Version",
                                 API_VERSION_HEADER);
  if (client->token != NULL)
    soup_message_headers_append (headers, "X-Auth-Token", client->token);
  if (body != NULL)
    {
      g_autofree char *text = json_to_string (body, FALSE);
      gsize len = strlen (text);
      g_autoptr(GBytes) bytes = g_bytes_new_take (g_steal_pointer (&text),
                                                  len);

      soup_message_set_request_body_from_bytes (message, "application/json",
                                                bytes);
    }

  reply = soup_session_send_and_read (client->session, message, NULL,
                                      &local_error);
  if (reply == NULL)
    {
      if (client->socket_path != NULL)
        g_set_error (error, NLX_CLI_ERROR, NLX_CLI_ERROR_UNREACHABLE,
                     _("Cannot reach nova-lxc-compute on the socket %s: %s. "
                       "Is nova-lxc-compute running? Check the socket path "
                       "(--socket or NOVA_LXC_SOCKET, the daemon's [api] "
                       "socket) and that you may open it."),
                     client->socket_path, local_error->message);
      else
        g_set_error (error, NLX_CLI_ERROR, NLX_CLI_ERROR_UNREACHABLE,
                     _("Cannot reach nova-lxc-compute at %s: %s. "
                       "Is nova-lxc-compute running with [api] listen set, "
                       "and is --url right?"),
                     client->base_url, local_error->message);
      return NULL;
    }
  if (message_out != NULL)
    *message_out = g_steal_pointer (&message);
  return g_steal_pointer (&reply);
}

/* The message of a Nova fault body {"NAME": {"code": N, "message": S}},
 * or NULL. */
static const char *
fault_message (JsonNode *root)
{
  JsonObject *object;
  g_autoptr(GList) members = NULL;

  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return NULL;
  object = json_node_get_object (root);
  members = json_object_get_members (object);
  for (GList *l = members; l != NULL; l = l->next)
    {
      JsonNode *fault = json_object_get_member (object, l->data);
      JsonNode *message;

      if (!JSON_NODE_HOLDS_OBJECT (fault))
        continue;
      message = json_object_get_member (json_node_get_object (fault),
                                        "message");
      if (message != NULL && JSON_NODE_HOLDS_VALUE (message) &&
          json_node_get_value_type (message) == G_TYPE_STRING)
        return json_node_get_string (message);
    }
  return NULL;
}

/* No body at all (204, 202) is a null node; anything else must be one
 * JSON value: json-glib gives no root for a blank body, and the callers
 * would dereference it. */
static JsonNode *
parse_json (GBytes *bytes,
            GError **error)
{
  gsize len = 0;
  const char *data = g_bytes_get_data (bytes, &len);

  if (len == 0)
    return json_node_new (JSON_NODE_NULL);
  return nlx_json_parse (data, len, error);
}

/**
 * nlx_client_call:
 * @body: (nullable): the request body
 *
 * Sends one request and returns the answer's JSON (a null node when the
 * answer has no body).  An error status becomes an error carrying the
 * API's fault message; 404 has its own code so callers can tell "gone".
 */
JsonNode *
nlx_client_call (NlxClient *client,
                 const char *method,
                 const char *path,
                 JsonNode *body,
                 GError **error)
{
  g_autoptr(SoupMessage) message = NULL;
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GError) parse_error = NULL;
  guint status;

  reply = nlx_client_send (client, method, path, body, &message, error);
  if (reply == NULL)
    return NULL;
  status = soup_message_get_status (message);
  root = parse_json (reply, &parse_error);

  if (!SOUP_STATUS_IS_SUCCESSFUL (status))
    {
      const char *text = fault_message (root);
      int code = status == SOUP_STATUS_NOT_FOUND ? NLX_CLI_ERROR_NOT_FOUND
                                                 : NLX_CLI_ERROR_API;

      if (text != NULL && status == SOUP_STATUS_UNAUTHORIZED)
        g_set_error (error, NLX_CLI_ERROR, code,
                     _("%s (HTTP %u); give the token with --token or "
                       "NOVA_LXC_TOKEN"), text, status);
      else if (text != NULL)
        g_set_error (error, NLX_CLI_ERROR, code, _("%s (HTTP %u)"), text,
                     status);
      else
        g_set_error (error, NLX_CLI_ERROR, code,
                     _("nova-lxc-compute answered %s /v2.1%s with HTTP %u %s "
                       "and no fault message; see its log"),
                     method, path, status,
                     soup_message_get_reason_phrase (message));
      return NULL;
    }
  if (root == NULL)
    {
      g_set_error (error, NLX_CLI_ERROR, NLX_CLI_ERROR_BAD_REPLY,
                   _("nova-lxc-compute answered %s /v2.1%s with something "
                     "that is not JSON (%s); is that address really "
                     "nova-lxc-compute?"),
                   method, path, parse_error->message);
      return NULL;
    }
  return g_steal_pointer (&root);
}

/* Member NAME of ROOT, which must be of TYPE (the answers' fixed shapes). */
JsonNode *
nlx_cli_get_member (JsonNode *root,
                    const char *name,
                    JsonNodeType type,
                    GError **error)
{
  JsonNode *member = NULL;

  if (root != NULL && JSON_NODE_HOLDS_OBJECT (root))
    member = json_object_get_member (json_node_get_object (root), name);
  if (member == NULL || JSON_NODE_TYPE (member) != type)
    {
      g_set_error (error, NLX_CLI_ERROR, NLX_CLI_ERROR_BAD_REPLY,
                   _("The API's answer lacks “%s” or it has the wrong type; "
                     "is this nova-lxc-compute, and as new as this "
                     "program?"), name);
      return NULL;
    }
  return member;
}

/* The member MEMBER of ROOT, an object as the API promises. */
JsonObject *
nlx_cli_get_object (JsonNode *root,
                    const char *member,
                    GError **error)
{
  JsonNode *node = nlx_cli_get_member (root, member, JSON_NODE_OBJECT, error);

  return node != NULL ? json_node_get_object (node) : NULL;
}
