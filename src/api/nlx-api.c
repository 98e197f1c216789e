/* nlx-api.c: the Compute API (OpenStack v2.1 shapes) over HTTP: its core
 *
 * The server and its sockets, the token check, request ids, answers and
 * fault bodies, and the routing table: every route is a row of routes[]
 * below and calls a handler in nlx-api-<resource>.c.  Everything here runs
 * in the main thread and answers at once, except reads that need the
 * driver (console output, hypervisor figures), whose messages are paused
 * until a worker answers.  docs/api.md describes what is served. */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <gio/gunixsocketaddress.h>
#include <libsoup/soup.h>

#include "api/nlx-api-keystone.h"
#include "api/nlx-api-private.h"
#include "api/nlx-listener.h"

/* A copy of a request that outlives its handler, for answers that wait
 * on a worker; the message is paused until then. */
NlxApiRequest *
nlx_api_request_keep (const NlxApiRequest *request)
{
  NlxApiRequest *kept = g_new0 (NlxApiRequest, 1);

  kept->api = request->api;
  kept->msg = g_object_ref (request->msg);
  kept->id = g_strdup (request->id);
  kept->base = g_strdup (request->base);
  kept->microversion = request->microversion;
  soup_server_message_pause (kept->msg);
  return kept;
}

void
nlx_api_request_free (NlxApiRequest *request)
{
  g_object_unref (request->msg);
  g_free (request->id);
  g_free (request->base);
  g_free (request);
}

/* ---- answers ---------------------------------------------------------- */

static void
log_answer (NlxApiRequest *request,
            guint status)
{
  GUri *uri = soup_server_message_get_uri (request->msg);
  const char *query = g_uri_get_query (uri);

  g_log (G_LOG_DOMAIN, status >= 500 ? G_LOG_LEVEL_WARNING : G_LOG_LEVEL_INFO,
         "[%s] %s %s%s%s %u", request->id,
         soup_server_message_get_method (request->msg), g_uri_get_path (uri),
         query ? "?" : "", query ? query : "", status);
}

void
nlx_api_respond (NlxApiRequest *request,
                 guint status,
                 JsonNode *body)
{
  SoupMessageHeaders *headers =
    soup_server_message_get_response_headers (request->msg);
  g_autofree char *version = NULL;
  g_autofree char *compute_version = NULL;

  /* A second answer would be appended to the first, and the client would
   * get two JSON documents back to back. */
  g_return_if_fail (!request->answered);
  request->answered = TRUE;
  if (body != NULL)
    {
      gsize length;
      char *data = json_to_string (body, FALSE);

      length = strlen (data);
      soup_server_message_set_response (request->msg, "application/json",
                                        SOUP_MEMORY_TAKE, data, length);
    }
  soup_server_message_set_status (request->msg, status, NULL);
  soup_message_headers_replace (headers, "X-Openstack-Request-Id", request->id);
  soup_message_headers_replace (headers, "X-Compute-Request-Id", request->id);
  version = g_strdup_printf ("2.%u", nlx_api_microversion (request));
  compute_version = g_strconcat ("compute ", version, NULL);
  soup_message_headers_replace (headers, "OpenStack-API-Version",
                                compute_version);
  soup_message_headers_replace (headers, "X-OpenStack-Nova-API-Version",
                                version);
  soup_message_headers_replace (headers, "Vary",
                                "OpenStack-API-Version, X-OpenStack-Nova-API-Version");
  log_answer (request, status);
}

/* A 200 whose body is written as it is made, in chunks, by the caller
 * (soup_message_body_append(), then soup_server_message_unpause()): an
 * image download, the event stream.  Chunks sent are not kept. */
void
nlx_api_respond_stream (NlxApiRequest *request,
                        const char *content_type)
{
  SoupMessageHeaders *headers =
    soup_server_message_get_response_headers (request->msg);

  nlx_api_respond (request, 200, NULL);
  soup_message_headers_set_encoding (headers, SOUP_ENCODING_CHUNKED);
  soup_message_headers_replace (headers, "Content-Type", content_type);
  soup_message_body_set_accumulate (soup_server_message_get_response_body (
                                      request->msg), FALSE);
}

void
nlx_api_respond_fault (NlxApiRequest *request,
                       guint status,
                       const char *message)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;
  /* Messages quote what the client sent (a path, a header), which need
   * not be UTF-8; the answer must be JSON all the same. */
  g_autofree char *text = g_utf8_make_valid (message, -1);
  const char *name = nlx_api_fault_name (status);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, name);
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "code");
  json_builder_add_int_value (builder, status);
  json_builder_set_member_name (builder, "message");
  json_builder_add_string_value (builder, text);
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  g_log (G_LOG_DOMAIN, status >= 500 ? G_LOG_LEVEL_WARNING : G_LOG_LEVEL_INFO,
         "[%s] %s", request->id, text);
  nlx_api_respond (request, status, body);
}


void
nlx_api_respond_error (NlxApiRequest *request,
                       const GError *error)
{
  nlx_api_respond_fault (request, nlx_api_status_for_error (error),
                         error->message);
}

/* The caller's identity as keystonemiddleware would pass it on. */
const char *
nlx_api_identity (NlxApiRequest *request,
                  const char *header)
{
  SoupMessageHeaders *headers =
    soup_server_message_get_request_headers (request->msg);
  const char *value = soup_message_headers_get_one (headers, header);
  const NlxApiIdentity *caller = nlx_api_get_caller (request);

  /* With Keystone the token says who calls, whatever the headers say. */
  if (caller != NULL && g_ascii_strcasecmp (header, "X-User-Id") == 0)
    return caller->user_id;
  if (caller != NULL && g_ascii_strcasecmp (header, "X-Project-Id") == 0)
    return caller->project_id;
  return value != NULL && *value != '\0' ? value : "admin";
}

/* Nova serves its version documents to anyone: clients read them to
 * learn what to ask for before they have a token.  @path is "/", "/v2"
 * or "/v2.1", with any number of slashes; or Glance's (nlx-api-glance.c):
 * "/image", "/image/versions" or "/image/v2"; or Cinder's
 * (nlx-api-cinder.c): "/volume" or "/volume/v3". */
static gboolean
public_path (const char *path)
{
  path += strspn (path, "/");
  if (g_str_has_prefix (path, "image") &&
      (path[5] == '\0' || path[5] == '/'))
    {
      path += strlen ("image");
      path += strspn (path, "/");
      if (g_str_has_prefix (path, "versions"))
        path += strlen ("versions");
      else if (g_str_has_prefix (path, "v2"))
        path += strlen ("v2");
      return path[strspn (path, "/")] == '\0';
    }
  /* Cinder's (nlx-api-cinder.c): "/volume" or "/volume/v3". */
  if (g_str_has_prefix (path, "volume") &&
      (path[6] == '\0' || path[6] == '/'))
    {
      path += strlen ("volume");
      path += strspn (path, "/");
      if (g_str_has_prefix (path, "v3"))
        path += strlen ("v3");
      return path[strspn (path, "/")] == '\0';
    }
  if (g_str_has_prefix (path, "v2.1"))
    path += strlen ("v2.1");
  else if (g_str_has_prefix (path, "v2"))
    path += strlen ("v2");
  return path[strspn (path, "/")] == '\0';
}

/* Whether the request came over TCP rather than the Unix socket: the one
 * test of it, for the token below and for what only the compute host's
 * own callers may ask (nlx_api_require_unix_socket()). */
gboolean
nlx_api_over_tcp (NlxApiRequest *request)
{
  GSocketAddress *local = soup_server_message_get_local_address (request->msg);

  return local != NULL && G_IS_INET_SOCKET_ADDRESS (local);
}

/**
 * nlx_api_require_unix_socket:
 * @what: what the caller asked for, as a sentence's subject (“An image
 *   import”, ““block_device””)
 *
 * What names the host's own files, devices or identities (a file to
 * import, a block device, the uuid and network of a Nova driver) is
 * taken only over the Unix socket, whose permissions say who may
 * connect: a tenant reaching the TCP listener, even with a token or an
 * admin's Keystone role, must not name them.  Answers 403 itself.
 *
 * Returns: %TRUE when the request came over the Unix socket
 */
gboolean
nlx_api_require_unix_socket (NlxApiRequest *request,
                             const char *what)
{
  g_autofree char *message = NULL;

  if (!nlx_api_over_tcp (request))
    return TRUE;
  message = g_strdup_printf (_("%s is the compute host's own interface, so "
                               "it is only taken over the Unix socket"),
                             what);
  nlx_api_respond_fault (request, 403, message);
  return FALSE;
}

/* Over TCP the caller must hold the token; the Unix socket's permissions
 * already say who may connect. */
static gboolean
authorized (NlxApiRequest *request)
{
  SoupMessageHeaders *headers =
    soup_server_message_get_request_headers (request->msg);
  const char *token = soup_message_headers_get_one (headers, "X-Auth-Token");
  const char *expected = request->api->config->api_token;
  gsize length;
  guint8 diff;

  if (!nlx_api_over_tcp (request))
    return TRUE;
  /* Keystone's answer comes later (handle()); a caller with no token at
   * all is refused before its body is read. */
  if (request->api->keystone != NULL)
    return token != NULL && *token != '\0';
  if (token == NULL || expected == NULL || strlen (token) != strlen (expected))
    return FALSE;
  /* In constant time, so the answer does not tell how much matched. */
  length = strlen (expected);
  diff = 0;
  for (gsize i = 0; i < length; i++)
    diff |= (guint8) token[i] ^ (guint8) expected[i];
  return diff == 0;
}

/* Every body is read as JSON; one labelled as anything else is refused
 * with 415, as nova.api.openstack.wsgi does.  No label, an empty one or
 * text/plain (the default of some clients) count as JSON there too. */
static gboolean
content_type_acceptable (NlxApiRequest *request,
                         char **refused)
{
  static const char * const accepted[] = {
    "application/json", "application/vnd.openstack.compute+json",
    "text/plain", NULL
  };
  SoupMessageHeaders *headers =
    soup_server_message_get_request_headers (request->msg);
  const char *value = soup_message_headers_get_one (headers, "Content-Type");
  g_autofree char *type = NULL;

  if (value == NULL)
    return TRUE;
  type = g_strstrip (g_ascii_strdown (value, strcspn (value, ";")));
  if (*type == '\0' || g_strv_contains (accepted, type))
    return TRUE;
  *refused = g_steal_pointer (&type);
  return FALSE;
}

/* ---- routing ---------------------------------------------------------- */

/* The most {id} segments a pattern may have. */
#define MAX_IDS 4

typedef struct {
  /* Segments to match one for one; "{id}" takes any one segment (which
   * the handler gets in ids[], in order) and a literal the same one. */
  const char *pattern;
  const char *method;
  NlxApiHandler handler;
  /* The 405's message for any other method (for N_()), on the first row
   * of a pattern only. */
  const char *refusal;
  /* The microversions that have the path (the same on every row of a
   * pattern); at any other the path is 404, as in Nova.  0 is
   * NLX_API_ALWAYS. */
  NlxApiFeature feature;
} Route;

/* The routing table: every path the API serves, a row for each method it
 * takes, and the file of its handler, as Nova's routes map a path and a
 * method to a controller's method.  The first row whose pattern matches
 * the path decides which pattern it is, so a literal ("detail") comes
 * before the {id} beside it; a path no row matches is 404 whatever the
 * method, and a method no row of its pattern has is 405, with the methods
 * of its rows in Allow, in table order.  The serial console's WebSocket
 * (/serial-console) is libsoup's own handler, added in
 * nlx-api-consoles.c.  A GError becomes a status through the one table in
 * nlx-api-faults.c. */
static const Route routes[] = {
  /* nlx-api-versions.c */
  { "/", "GET", nlx_api_list_versions, N_("The version list takes GET") },
  { "/v2", "GET", nlx_api_show_legacy_version,
    N_("The version document takes GET") },
  { "/v2.1", "GET", nlx_api_show_version,
    N_("The version document takes GET") },

  /* nlx-api-server-list.c, nlx-api-server-create.c, nlx-api-servers.c */
  { "/v2.1/servers", "GET", nlx_api_list_servers,
    N_("Servers take GET or POST") },
  { "/v2.1/servers", "POST", nlx_api_create_server },
  { "/v2.1/servers/detail", "GET", nlx_api_list_servers_detail,
    N_("The server list takes GET") },
  { "/v2.1/servers/{id}", "GET", nlx_api_show_server,
    N_("A server takes GET, PUT or DELETE") },
  { "/v2.1/servers/{id}", "PUT", nlx_api_update_server },
  { "/v2.1/servers/{id}", "DELETE", nlx_api_delete_server },
  /* nlx-api-server-actions.c; {"os-getSerialConsole": ...} goes on to
   * nlx-api-consoles.c */
  { "/v2.1/servers/{id}/action", "POST", nlx_api_server_action,
    N_("Server actions take POST") },
  /* nlx-api-consoles.c */
  { "/v2.1/servers/{id}/remote-consoles", "POST",
    nlx_api_create_remote_console, N_("Remote consoles take POST"),
    NLX_API_REMOTE_CONSOLES },
  /* nlx-api-volume-attachments.c */
  { "/v2.1/servers/{id}/os-volume_attachments", "GET",
    nlx_api_list_attachments, N_("Volume attachments take GET or POST") },
  { "/v2.1/servers/{id}/os-volume_attachments", "POST",
    nlx_api_attach_volume },
  { "/v2.1/servers/{id}/os-volume_attachments/{id}", "GET",
    nlx_api_show_attachment, N_("A volume attachment takes GET or DELETE") },
  { "/v2.1/servers/{id}/os-volume_attachments/{id}", "DELETE",
    nlx_api_detach_volume },
  /* nlx-api-server-metadata.c (issue 16: the server metadata API) */
  { "/v2.1/servers/{id}/metadata", "GET", nlx_api_list_server_metadata,
    N_("Server metadata takes GET, POST or PUT") },
  { "/v2.1/servers/{id}/metadata", "POST", nlx_api_update_server_metadata },
  { "/v2.1/servers/{id}/metadata", "PUT", nlx_api_update_server_metadata },
  { "/v2.1/servers/{id}/metadata/{id}", "GET",
    nlx_api_show_server_metadata_item,
    N_("A server metadata item takes GET, PUT or DELETE") },
  { "/v2.1/servers/{id}/metadata/{id}", "PUT",
    nlx_api_set_server_metadata_item },
  { "/v2.1/servers/{id}/metadata/{id}", "DELETE",
    nlx_api_delete_server_metadata_item },
  /* nlx-api-server-tags.c (issue 16: server tags, 2.26+) */
  { "/v2.1/servers/{id}/tags", "GET", nlx_api_list_server_tags,
    N_("Server tags take GET, PUT or DELETE"), NLX_API_SERVER_TAGS },
  { "/v2.1/servers/{id}/tags", "PUT", nlx_api_replace_server_tags, NULL,
    NLX_API_SERVER_TAGS },
  { "/v2.1/servers/{id}/tags", "DELETE", nlx_api_delete_server_tags, NULL,
    NLX_API_SERVER_TAGS },
  { "/v2.1/servers/{id}/tags/{id}", "GET", nlx_api_check_server_tag,
    N_("A server tag takes GET, PUT or DELETE"), NLX_API_SERVER_TAGS },
  { "/v2.1/servers/{id}/tags/{id}", "PUT", nlx_api_add_server_tag, NULL,
    NLX_API_SERVER_TAGS },
  { "/v2.1/servers/{id}/tags/{id}", "DELETE", nlx_api_delete_server_tag,
    NULL, NLX_API_SERVER_TAGS },
  /* nlx-api-servers.c: the guest's posted password, never any here */
  { "/v2.1/servers/{id}/os-server-password", "GET",
    nlx_api_show_server_password,
    N_("A server's password takes GET or DELETE") },
  { "/v2.1/servers/{id}/os-server-password", "DELETE",
    nlx_api_clear_server_password },
  /* nlx-api-ips.c */
  { "/v2.1/servers/{id}/ips", "GET", nlx_api_list_ips,
    N_("Server addresses take GET") },
  { "/v2.1/servers/{id}/ips/{id}", "GET", nlx_api_show_ips,
    N_("Server addresses take GET") },
  /* nlx-api-instance-actions.c (issue 16: a server's action history) */
  { "/v2.1/servers/{id}/os-instance-actions", "GET",
    nlx_api_list_instance_actions,
    N_("This resource is read-only; use GET") },
  { "/v2.1/servers/{id}/os-instance-actions/{id}", "GET",
    nlx_api_show_instance_action,
    N_("This resource is read-only; use GET") },

  /* nlx-api-volumes.c */
  { "/v2.1/os-volumes", "GET", nlx_api_list_volumes,
    N_("Volumes take GET or POST"),
    NLX_API_PROXIES },
  { "/v2.1/os-volumes", "POST", nlx_api_create_volume,
    NULL, NLX_API_PROXIES },
  { "/v2.1/os-volumes/detail", "GET", nlx_api_list_volumes,
    N_("The volume list takes GET"),
    NLX_API_PROXIES },
  { "/v2.1/os-volumes/{id}", "GET", nlx_api_show_volume,
    N_("A volume takes GET or DELETE"),
    NLX_API_PROXIES },
  { "/v2.1/os-volumes/{id}", "DELETE", nlx_api_delete_volume,
    NULL, NLX_API_PROXIES },

  /* nlx-api-images.c; DELETE of an image of nova-lxc.conf is refused
   * there */
  { "/v2.1/images", "GET", nlx_api_list_images,
    N_("Images take GET or POST"),
    NLX_API_PROXIES },
  { "/v2.1/images", "POST", nlx_api_import_image,
    NULL, NLX_API_PROXIES },
  { "/v2.1/images/detail", "GET", nlx_api_list_images_detail,
    N_("The image list takes GET"),
    NLX_API_PROXIES },
  { "/v2.1/images/{id}", "GET", nlx_api_show_image,
    N_("An image takes GET or DELETE"),
    NLX_API_PROXIES },
  { "/v2.1/images/{id}", "DELETE", nlx_api_delete_image,
    NULL, NLX_API_PROXIES },

  /* nlx-api-keypairs.c */
  { "/v2.1/os-keypairs", "GET", nlx_api_list_keypairs,
    N_("Key pairs take GET or POST") },
  { "/v2.1/os-keypairs", "POST", nlx_api_create_keypair },
  { "/v2.1/os-keypairs/{id}", "GET", nlx_api_show_keypair,
    N_("A key pair takes GET or DELETE") },
  { "/v2.1/os-keypairs/{id}", "DELETE", nlx_api_delete_keypair },

  /* nlx-api-flavors.c */
  { "/v2.1/flavors", "GET", nlx_api_list_flavors,
    N_("This resource is read-only; use GET") },
  { "/v2.1/flavors/detail", "GET", nlx_api_list_flavors_detail,
    N_("This resource is read-only; use GET") },
  { "/v2.1/flavors/{id}", "GET", nlx_api_show_flavor,
    N_("This resource is read-only; use GET") },
  { "/v2.1/flavors/{id}/os-extra_specs", "GET", nlx_api_list_extra_specs,
    N_("This resource is read-only; use GET") },
  { "/v2.1/flavors/{id}/os-extra_specs/{id}", "GET", nlx_api_show_extra_spec,
    N_("This resource is read-only; use GET") },

  /* nlx-api-hypervisors.c */
  { "/v2.1/os-hypervisors", "GET", nlx_api_list_hypervisors,
    N_("This resource is read-only; use GET") },
  { "/v2.1/os-hypervisors/detail", "GET", nlx_api_list_hypervisors_detail,
    N_("This resource is read-only; use GET") },
  { "/v2.1/os-hypervisors/statistics", "GET",
    nlx_api_get_hypervisor_statistics,
    N_("This resource is read-only; use GET"),
    NLX_API_HYPERVISOR_STATISTICS },

  /* issue 16: the read-only resources of the host the stock clients ask
   * for.  nlx-api-hypervisors.c, after its literals above */
  { "/v2.1/os-hypervisors/{id}", "GET", nlx_api_show_hypervisor,
    N_("This resource is read-only; use GET") },
  { "/v2.1/os-hypervisors/{id}/uptime", "GET", nlx_api_get_hypervisor_uptime,
    N_("This resource is read-only; use GET"),
    NLX_API_HYPERVISOR_STATISTICS },
  { "/v2.1/os-hypervisors/{id}/search", "GET", nlx_api_search_hypervisors,
    N_("This resource is read-only; use GET"),
    NLX_API_HYPERVISOR_SEARCH_PATHS },
  { "/v2.1/os-hypervisors/{id}/servers", "GET",
    nlx_api_list_hypervisor_servers,
    N_("This resource is read-only; use GET"),
    NLX_API_HYPERVISOR_SEARCH_PATHS },
  /* nlx-api-limits.c */
  { "/v2.1/limits", "GET", nlx_api_show_limits,
    N_("This resource is read-only; use GET") },
  /* nlx-api-host.c */
  { "/v2.1/os-availability-zone", "GET", nlx_api_list_availability_zones,
    N_("This resource is read-only; use GET") },
  { "/v2.1/os-availability-zone/detail", "GET",
    nlx_api_list_availability_zones_detail,
    N_("This resource is read-only; use GET") },
  { "/v2.1/os-services", "GET", nlx_api_list_services,
    N_("This resource is read-only; use GET") },
  { "/v2.1/os-aggregates", "GET", nlx_api_list_aggregates,
    N_("This resource is read-only; use GET") },

  /* issue 18: the Nova driver's lifecycle events, nlx-api-events.c: a
   * streamed answer, on the Unix socket only. */
  { "/v2.1/os-nova-lxc-events", "GET", nlx_api_stream_events,
    N_("The event stream takes GET") },

  /* issue 16: a Glance v2 read API, nlx-api-glance.c.  Under /image, the
   * catalog's image endpoint: "/" is Nova's version list, which
   * keystoneauth would take for Glance's.  The version documents need no
   * token (public_path()). */
  { "/image", "GET", nlx_api_glance_choose_version,
    N_("The version list takes GET") },
  { "/image/versions", "GET", nlx_api_glance_list_versions,
    N_("The version list takes GET") },
  { "/image/v2", "GET", nlx_api_glance_choose_version,
    N_("The version list takes GET") },
  { "/image/v2/images", "GET", nlx_api_glance_list_images,
    N_("This image API is read-only: images come from nova-lxc.conf, "
       "nova-lxc image-import or a server's createImage; use GET") },
  { "/image/v2/images/{id}", "GET", nlx_api_glance_show_image,
    N_("An image takes GET or DELETE") },
  { "/image/v2/images/{id}", "DELETE", nlx_api_glance_delete_image },
  /* The tarball of the image's tree: the Nova driver's snapshot()
   * uploads it to Glance. */
  { "/image/v2/images/{id}/file", "GET", nlx_api_glance_download_image,
    N_("An image's file takes GET: images are imported with POST "
       "/v2.1/images") },
  /* novaclient looks images up at its compute endpoint + /v2/images when
   * one endpoint is given for every service (--os-endpoint, the static
   * token), so `nova boot --image NAME` asks these. */
  { "/v2.1/v2/images", "GET", nlx_api_glance_list_images,
    N_("This image API is read-only: images come from nova-lxc.conf, "
       "nova-lxc image-import or a server's createImage; use GET") },
  { "/v2.1/v2/images/{id}", "GET", nlx_api_glance_show_image,
    N_("An image takes GET or DELETE") },
  { "/v2.1/v2/images/{id}", "DELETE", nlx_api_glance_delete_image },
  { "/v2.1/v2/images/{id}/file", "GET", nlx_api_glance_download_image,
    N_("An image's file takes GET: images are imported with POST "
       "/v2.1/images") },

  /* issue 16: a Cinder v3 read API, nlx-api-cinder.c, so that
   * openstackclient finds a volume before it asks Nova to attach it.
   * Under /volume, the catalog's block-storage endpoint being
   * /volume/v3/{project_id}; the version documents need no token
   * (public_path()). */
  { "/volume", "GET", nlx_api_cinder_choose_version,
    N_("The version list takes GET") },
  { "/volume/v3", "GET", nlx_api_cinder_show_version,
    N_("The version document takes GET") },
  { "/volume/v3/{id}/volumes", "GET", nlx_api_cinder_list_volumes,
    N_("This volume API is read-only: create volumes with POST "
       "/v2.1/os-volumes or nova-lxc volume-create; use GET") },
  { "/volume/v3/{id}/volumes/detail", "GET",
    nlx_api_cinder_list_volumes_detail,
    N_("The volume list takes GET") },
  { "/volume/v3/{id}/volumes/{id}", "GET", nlx_api_cinder_show_volume,
    N_("This volume API is read-only: attach and detach volumes through "
       "the server's os-volume_attachments, delete them with DELETE "
       "/v2.1/os-volumes/{id}; use GET") },
  { "/volume/v3/{id}/os-availability-zone", "GET",
    nlx_api_cinder_list_availability_zones,
    N_("This resource is read-only; use GET") },
  /* openstacksdk looks volumes up at its compute endpoint + /volumes
   * when one endpoint is given for every service (--os-endpoint, the
   * static token), so `openstack server add volume` asks these. */
  { "/v2.1/volumes", "GET", nlx_api_cinder_alias_list_volumes,
    N_("This volume API is read-only: create volumes with POST "
       "/v2.1/os-volumes or nova-lxc volume-create; use GET") },
  { "/v2.1/volumes/detail", "GET", nlx_api_cinder_alias_list_volumes_detail,
    N_("The volume list takes GET") },
  { "/v2.1/volumes/{id}", "GET", nlx_api_cinder_alias_show_volume,
    N_("This volume API is read-only: attach and detach volumes through "
       "the server's os-volume_attachments, delete them with DELETE "
       "/v2.1/os-volumes/{id}; use GET") },
};

/* Whether @parts (@n segments, none empty) is @pattern, keeping the
 * segments that stand for "{id}" in @ids. */
static gboolean
pattern_matches (const char *pattern,
                 char **parts,
                 guint n,
                 const char **ids)
{
  const char *p = pattern;
  guint captured = 0;

  for (guint i = 0; ; i++)
    {
      gsize length;

      while (*p == '/')
        p++;
      if (*p == '\0' || i == n)
        return *p == '\0' && i == n;
      length = strcspn (p, "/");
      if (length == strlen ("{id}") && strncmp (p, "{id}", length) == 0)
        {
          /* A row with more would never be served: fail loudly. */
          g_return_val_if_fail (captured < MAX_IDS, FALSE);
          ids[captured++] = parts[i];
        }
      else if (strlen (parts[i]) != length || strncmp (p, parts[i], length) != 0)
        return FALSE;
      p += length;
    }
}

/* 405 for a path whose pattern is routes[@first]'s: RFC 9110 15.5.6 has
 * the answer list, in Allow, the methods the path takes, which are those
 * of every row of the pattern. */
static void
refuse_method (NlxApiRequest *request,
               gsize first)
{
  SoupMessageHeaders *headers =
    soup_server_message_get_response_headers (request->msg);
  g_autoptr(GString) allow = g_string_new (NULL);

  for (gsize r = first; r < G_N_ELEMENTS (routes); r++)
    if (g_str_equal (routes[r].pattern, routes[first].pattern))
      g_string_append_printf (allow, "%s%s", allow->len > 0 ? ", " : "",
                              routes[r].method);
  soup_message_headers_replace (headers, "Allow", allow->str);
  if (routes[first].refusal != NULL)
    nlx_api_respond_fault (request, 405, _(routes[first].refusal));
  else
    {
      /* A row added without its message still gets a useful answer. */
      g_autofree char *message =
        g_strdup_printf (_("This resource takes %s only"), allow->str);

      nlx_api_respond_fault (request, 405, message);
    }
}

/* Nova's default policy on paths, before any handler runs (lists apply
 * it to their rows: nlx_api_list_scope()).  Admin-only: */
static const char * const admin_prefixes[] = {
  "/v2.1/os-hypervisors", "/v2.1/os-services", NULL
};

/* Answers 403 or 404 unless the caller may use @pattern's resource. */
static gboolean
allowed (NlxApiRequest *request,
         const char *pattern,
         const char * const *ids)
{
  for (gsize i = 0; admin_prefixes[i] != NULL; i++)
    if (g_str_has_prefix (pattern, admin_prefixes[i]))
      return nlx_api_require_admin (request);
  /* Another project's server does not exist, as far as a member can
   * tell: the same 404 as an unknown id.  A deleted server whose
   * history is kept is judged by its kept project too, and passes here
   * for its own project: its actions are shown from 2.21 (the handler
   * answers 404 before 2.21, and on every other path). */
  if (g_str_has_prefix (pattern, "/v2.1/servers/{id}") &&
      !nlx_api_may_see_server (request, ids[0]))
    {
      g_autofree char *message =
        g_strdup_printf (_("Instance %s could not be found."), ids[0]);

      nlx_api_respond_fault (request, 404, message);
      return FALSE;
    }
  return TRUE;
}

/* @parts are the path's @n segments, decoded, without empty ones. */
static void
route (NlxApiRequest *request,
       const char *method,
       char **parts,
       guint n)
{
  for (gsize first = 0; first < G_N_ELEMENTS (routes); first++)
    {
      const char *ids[MAX_IDS + 1] = { NULL };

      if (!nlx_api_has (request, routes[first].feature) ||
          !pattern_matches (routes[first].pattern, parts, n, ids))
        continue;
      for (gsize r = first; r < G_N_ELEMENTS (routes); r++)
        if (g_str_equal (routes[r].pattern, routes[first].pattern) &&
            g_str_equal (routes[r].method, method))
          {
            if (!allowed (request, routes[r].pattern, ids))
              return;
            /* Whatever the handler starts is this request's action
             * (os-instance-actions). */
            nlx_manager_set_caller (request->api->manager, request->id,
                                    nlx_api_identity (request, "X-User-Id"),
                                    nlx_api_identity (request,
                                                      "X-Project-Id"));
            routes[r].handler (request, method, ids);
            nlx_manager_set_caller (request->api->manager, NULL, NULL, NULL);
            return;
          }
      refuse_method (request, first);
      return;
    }
  if (n > 0 && g_str_equal (parts[0], "image"))
    nlx_api_respond_fault (request, 404,
                           _("The resource could not be found; the image "
                             "API lives under /image/v2"));
  else if (n > 0 && g_str_equal (parts[0], "volume"))
    nlx_api_respond_fault (request, 404,
                           _("The resource could not be found; the volume "
                             "API lives under /volume/v3/{project_id}"));
  else if (n > 0 && !g_str_equal (parts[0], "v2.1"))
    nlx_api_respond_fault (request, 404,
                           _("The resource could not be found; the "
                             "API lives under /v2.1"));
  else
    nlx_api_respond_fault (request, 404,
                           _("The resource could not be found."));
}

static char *
base_url (SoupServerMessage *msg)
{
  GUri *uri = soup_server_message_get_uri (msg);
  const char *host = g_uri_get_host (uri);
  int port = g_uri_get_port (uri);

  if (host == NULL || *host == '\0')
    host = "localhost";
  if (port > 0 && port != 80)
    return g_strdup_printf ("http://%s:%d", host, port);
  return g_strdup_printf ("http://%s", host);
}

/* 401, and where to get a token, as keystonemiddleware says it. */
static void
refuse_caller (NlxApiRequest *request,
               const char *message)
{
  SoupMessageHeaders *headers =
    soup_server_message_get_response_headers (request->msg);

  if (request->api->keystone != NULL)
    {
      g_autofree char *url =
        nlx_config_get_string (request->api->config->keyfile,
                               "keystone_authtoken", "auth_url", "");
      g_autofree char *value = g_strdup_printf ("Keystone uri=\"%s\"", url);

      soup_message_headers_replace (headers, "WWW-Authenticate", value);
    }
  nlx_api_respond_fault (request, 401, message);
}

/* Before the body is read: a TCP caller without the token, or a body
 * declared larger than the limit, is answered from the headers alone, and
 * the body is dropped as it arrives (nlx-listener.c closes a connection
 * that goes on sending far beyond the limit). */
static void
check_headers (SoupServer *server G_GNUC_UNUSED,
               SoupServerMessage *msg,
               const char *path,
               GHashTable *query G_GNUC_UNUSED,
               gpointer data)
{
  g_autofree char *uuid = g_uuid_string_random ();
  g_autofree char *id = g_strconcat ("req-", uuid, NULL);
  g_autofree char *base = base_url (msg);
  NlxApiRequest request = { .api = data, .msg = msg, .id = id, .base = base };
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);

  if (!public_path (path) && !authorized (&request))
    refuse_caller (&request,
                   request.api->keystone != NULL
                     ? _("Authentication required: send a Keystone token "
                         "in X-Auth-Token")
                     : _("Authentication required: send the configured "
                         "token in X-Auth-Token"));
  else if (soup_message_headers_get_encoding (headers) ==
             SOUP_ENCODING_CONTENT_LENGTH &&
           soup_message_headers_get_content_length (headers) > NLX_API_MAX_BODY)
    nlx_api_respond_too_large (&request);
  else
    return;
  soup_message_body_set_accumulate (soup_server_message_get_request_body (msg),
                                    FALSE);
}

/* The checks every authenticated request goes through, then its route.
 * @parts are the path's segments without empty ones; @bad_segment says
 * whether there was a "." or "..". */
static void
dispatch (NlxApiRequest *request,
          const char *method,
          char **parts,
          gboolean bad_segment)
{
  guint n = g_strv_length (parts);
  g_autofree char *media_type = NULL;

  /* A version that cannot be served is answered there. */
  if (!nlx_api_read_microversion (request))
    return;
  if (!content_type_acceptable (request, &media_type))
    {
      g_autofree char *message =
        g_strdup_printf (_("Unsupported Content-Type “%s”: send the body as "
                           "application/json"), media_type);

      nlx_api_respond_fault (request, 415, message);
    }
  else if (bad_segment)
    nlx_api_respond_fault (request, 400,
                           _("A request path may not have “.” or “..” "
                             "segments, encoded or not"));
  else
    route (request, method, parts, n);
  g_clear_pointer (&request->body, json_node_unref);
}

/* A request whose token Keystone is asked about, its message paused. */
typedef struct {
  NlxApi *api;
  SoupServerMessage *msg;
  char *id;
  char *base;
  char *method;
  GStrv parts;
  gboolean bad_segment;
} Pending;

static void
pending_free (Pending *pending)
{
  g_object_unref (pending->msg);
  g_free (pending->id);
  g_free (pending->base);
  g_free (pending->method);
  g_strfreev (pending->parts);
  g_free (pending);
}

static void
caller_identified (GObject *source G_GNUC_UNUSED,
                   GAsyncResult *result,
                   gpointer data)
{
  Pending *pending = data;
  g_autoptr(GError) error = NULL;
  NlxApiIdentity *identity = nlx_api_keystone_validate_finish (result, &error);
  NlxApiRequest request = {
    .api = pending->api,
    .msg = pending->msg,
    .id = pending->id,
    .base = pending->base,
  };

  /* The API is gone (nlx_api_free()): so is its server. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      pending_free (pending);
      return;
    }
  /* Before the handler runs: one that waits on a worker pauses the
   * message again, and I/O resumes only from the main loop. */
  soup_server_message_unpause (pending->msg);
  if (identity == NULL)
    {
      if (g_error_matches (error, NLX_API_KEYSTONE_ERROR,
                           NLX_API_KEYSTONE_ERROR_INVALID_TOKEN))
        refuse_caller (&request, error->message);
      else
        nlx_api_respond_fault (&request, 503, error->message);
    }
  else
    {
      nlx_api_set_caller (&request, identity);
      dispatch (&request, pending->method, pending->parts,
                pending->bad_segment);
    }
  pending_free (pending);
}

static void
handle (SoupServer *server G_GNUC_UNUSED,
        SoupServerMessage *msg,
        const char *path,
        GHashTable *query G_GNUC_UNUSED,
        gpointer data)
{
  g_autofree char *uuid = g_uuid_string_random ();
  g_auto(GStrv) parts = NULL;
  g_autoptr(GStrvBuilder) kept = g_strv_builder_new ();
  NlxApiRequest request = {
    .api = data,
    .msg = msg,
    .id = g_strconcat ("req-", uuid, NULL),
    .base = base_url (msg),
  };
  const char *method = soup_server_message_get_method (msg);
  gboolean bad_segment = FALSE;

  /* libsoup has decoded @path and refused any decoding that makes a new
   * ".." segment, and GLib has resolved dot segments (RFC 3986 5.2.4);
   * what is left must not climb either.  Empty segments ("//", a
   * trailing "/") do not count. */
  parts = g_strsplit (path, "/", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    if (g_str_equal (parts[i], ".") || g_str_equal (parts[i], ".."))
      bad_segment = TRUE;
    else if (*parts[i] != '\0')
      g_strv_builder_add (kept, parts[i]);
  g_clear_pointer (&parts, g_strfreev);
  parts = g_strv_builder_end (kept);

  /* check_headers() has refused a caller without a token already; a
   * Keystone token is checked now, without blocking: the message waits. */
  if (request.api->keystone != NULL && nlx_api_over_tcp (&request) &&
      !public_path (path))
    {
      Pending *pending = g_new0 (Pending, 1);
      SoupMessageHeaders *headers =
        soup_server_message_get_request_headers (msg);

      pending->api = request.api;
      pending->msg = g_object_ref (msg);
      pending->id = g_steal_pointer (&request.id);
      pending->base = g_steal_pointer (&request.base);
      pending->method = g_strdup (method);
      pending->parts = g_steal_pointer (&parts);
      pending->bad_segment = bad_segment;
      soup_server_message_pause (msg);
      nlx_api_keystone_validate_async (request.api->keystone,
                                       soup_message_headers_get_one (headers,
                                                                     "X-Auth-Token"),
                                       caller_identified, pending);
      return;
    }
  dispatch (&request, method, parts, bad_segment);
  g_free (request.id);
  g_free (request.base);
}

/* ---- listening -------------------------------------------------------- */

/* Refuses to take over a socket another daemon still serves; a socket
 * file nobody answers on is left from a crash and is removed. */
static gboolean
clear_stale_socket (const char *path,
                    GError **error)
{
  g_autoptr(GSocketClient) client = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GSocketConnection) connection = NULL;
  GStatBuf st;

  if (g_lstat (path, &st) != 0)
    return TRUE;
  if (!S_ISSOCK (st.st_mode))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                   _("%s exists and is not a socket; remove it or set "
                     "[api] socket to another path"), path);
      return FALSE;
    }
  client = g_socket_client_new ();
  address = g_unix_socket_address_new (path);
  connection = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (address),
                                        NULL, NULL);
  if (connection != NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE,
                   _("Another process serves %s; stop it first, or set "
                     "[api] socket to another path"), path);
      return FALSE;
    }
  g_unlink (path);
  return TRUE;
}

static gboolean
listen_unix (NlxApi *api,
             GError **error)
{
  const char *path = api->config->api_socket;
  const char *group_name = api->config->api_socket_group;
  g_autofree char *dir = g_path_get_dirname (path);
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  gid_t gid = (gid_t) -1;
  mode_t old_umask;
  gboolean bound;

  if (group_name != NULL)
    {
      struct group *group = getgrnam (group_name);

      if (group == NULL)
        {
          g_set_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID,
                       _("Configuration key [api] socket_group names “%s”, "
                         "which is not a group on this host"), group_name);
          return FALSE;
        }
      gid = group->gr_gid;
    }
  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _("Cannot create the socket directory %s: %s"), dir,
                   g_strerror (saved_errno));
      return FALSE;
    }
  if (!clear_stale_socket (path, error))
    return FALSE;

  socket = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                         G_SOCKET_PROTOCOL_DEFAULT, error);
  if (socket == NULL)
    return FALSE;
  address = g_unix_socket_address_new (path);
  /* Born 0660, so there is no moment when anyone else may connect. */
  old_umask = umask (0117);
  bound = g_socket_bind (socket, address, FALSE, error);
  umask (old_umask);
  /* GLib's default backlog of 10 makes a burst of clients fail to
   * connect: a Unix socket refuses rather than queues. */
  g_socket_set_listen_backlog (socket, SOMAXCONN);
  if (!bound || !g_socket_listen (socket, error))
    {
      g_prefix_error (error, _("Cannot listen on %s: "), path);
      return FALSE;
    }
  api->socket_path = g_strdup (path);
  if (gid != (gid_t) -1 && chown (path, (uid_t) -1, gid) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _("Cannot give %s to group %s: %s"), path, group_name,
                   g_strerror (saved_errno));
      return FALSE;
    }
  return nlx_listener_add_socket (api->listener, socket, error);
}

static gboolean
listen_tcp (NlxApi *api,
            GError **error)
{
  const char *listen = api->config->api_listen;
  g_autoptr(GSocketConnectable) connectable = NULL;
  g_autoptr(GSocketAddressEnumerator) addresses = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GError) local_error = NULL;

  connectable = g_network_address_parse (listen, 0, &local_error);
  if (connectable == NULL ||
      (g_network_address_get_port (G_NETWORK_ADDRESS (connectable)) == 0 &&
       !g_str_has_suffix (listen, ":0")))
    {
      g_set_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID,
                   _("Configuration key [api] listen must be HOST:PORT, e.g. "
                     "127.0.0.1:8774, got “%s”"), listen);
      return FALSE;
    }
  addresses = g_socket_connectable_enumerate (connectable);
  address = g_socket_address_enumerator_next (addresses, NULL, error);
  if (address == NULL)
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID,
                     _("Configuration key [api] listen: cannot resolve “%s”"),
                     listen);
      return FALSE;
    }
  /* Our own socket rather than soup_server_listen()'s, for the backlog. */
  socket = g_socket_new (g_socket_address_get_family (address),
                         G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, error);
  if (socket == NULL)
    return FALSE;
  g_socket_set_listen_backlog (socket, SOMAXCONN);
  if (!g_socket_bind (socket, address, TRUE, error) ||
      !g_socket_listen (socket, error))
    {
      g_prefix_error (error, _("Cannot listen on %s: "), listen);
      return FALSE;
    }
  api->tcp_socket = g_object_ref (socket);
  return nlx_listener_add_socket (api->listener, socket, error);
}

/**
 * nlx_api_new:
 * @config: the host's configuration; must outlive the API
 * @manager: must outlive the API
 * @error: return location for an error naming what cannot be listened on
 *
 * Serves the API on `[api] socket` and, when set, `[api] listen`.
 *
 * Returns: (transfer full): the API, serving from the thread-default main
 *   context
 */
NlxApi *
nlx_api_new (const NlxConfig *config,
             NlxManager *manager,
             GError **error)
{
  g_autoptr(NlxApi) api = g_new0 (NlxApi, 1);
  NlxListenerLimits limits = {
    .max_connections = config->api_max_connections,
    .request_timeout_s = config->api_request_timeout_s,
    .max_body = NLX_API_MAX_BODY,
  };

  api->config = config;
  api->manager = manager;
  {
    g_autofree char *strategy =
      nlx_config_get_string (config->keyfile, "api", "auth_strategy", "token");

    if (g_str_equal (strategy, "keystone"))
      api->keystone = nlx_api_keystone_new (config);
  }
  api->server = soup_server_new ("server-header", "nova-lxc-compute ", NULL);
  soup_server_add_early_handler (api->server, NULL, check_headers, api, NULL);
  soup_server_add_handler (api->server, NULL, handle, api, NULL);
  nlx_api_serve_consoles (api);
  nlx_api_serve_events (api);
  api->listener = nlx_listener_new (api->server, &limits);
  if (!listen_unix (api, error) ||
      (config->api_listen != NULL && !listen_tcp (api, error)))
    return NULL;
  return g_steal_pointer (&api);
}

void
nlx_api_free (NlxApi *api)
{
  if (api == NULL)
    return;
  nlx_api_close_consoles (api);
  nlx_api_close_events (api);
  g_clear_pointer (&api->listener, nlx_listener_free);
  if (api->server != NULL)
    {
      soup_server_disconnect (api->server);
      g_object_unref (api->server);
    }
  g_clear_object (&api->tcp_socket);
  g_clear_pointer (&api->keystone, nlx_api_keystone_free);
  g_clear_pointer (&api->server_views, g_hash_table_unref);
  if (api->socket_path != NULL)
    g_unlink (api->socket_path);
  g_free (api->socket_path);
  g_free (api);
}

/* The TCP port served on, or 0; useful when [api] listen asks for port 0. */
guint
nlx_api_get_tcp_port (NlxApi *api)
{
  g_autoptr(GSocketAddress) address = NULL;

  if (api->tcp_socket == NULL)
    return 0;
  address = g_socket_get_local_address (api->tcp_socket, NULL);
  if (address == NULL || !G_IS_INET_SOCKET_ADDRESS (address))
    return 0;
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (address));
}

/* Connections the API holds now, on every socket. */
guint
nlx_api_count_connections (NlxApi *api)
{
  return nlx_listener_count_connections (api->listener);
}

