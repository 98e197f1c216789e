/* nlx-metadata-service.c: http://169.254.169.254/ for the bridge's
 * instances, as Nova's metadata service
 *
 * The driver's firewall (nlx-network-filter.c) turns an instance's
 * connection to 169.254.169.254:80 into one to [network] metadata_port
 * on the bridge's gateway address, where this service listens, and
 * drops connections to that port arriving on any other interface.  The
 * bridge's port rules drop every packet an instance sends from an
 * address other than its own.  So the connection's source address is
 * the caller's identity: the instance whose interface is on this
 * daemon's bridge with that address.  Nothing the caller sends (a
 * header such as X-Forwarded-For or X-Instance-ID, the path, the Host)
 * is ever used to find the instance; Nova's proxy headers come from its
 * own Neutron proxy, which this service has no need of.
 *
 * The socket is bound to the gateway address with IP_FREEBIND: the
 * bridge and its address are made at the first instance's start, after
 * the daemon's.  Daemons on different bridges have different gateways
 * (their subnets would otherwise clash in the host's routes), so they
 * listen on different addresses; and each daemon's nat rule leads its
 * bridge to its own gateway only.
 *
 * Connections go through an NlxListener of their own, with the API's
 * limits, so an instance can hold at most max_connections of them, for
 * at most request_timeout seconds each, and never reaches the API's
 * handler. */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <glib/gi18n-lib.h>

#include "api/nlx-api-faults.h"
#include "api/nlx-metadata-service.h"
#include "model/nlx-metadata.h"

/* A GET has no body; anything beyond this is dropped as it arrives. */
#define MAX_BODY 4096

struct _NlxMetadataService {
  NlxManager *manager;
  char *bridge;
  char *gateway;
  SoupServer *server;
  NlxListener *listener;
  GSocket *socket;
};

/**
 * nlx_metadata_service_find_caller:
 * @records: (element-type NlxRecord): the daemon's instances
 * @bridge: the daemon's bridge
 * @address: the caller's source address, dotted
 *
 * Returns: (nullable) (transfer none): the record of the instance whose
 *   interface is on @bridge with @address, or %NULL
 */
const NlxRecord *
nlx_metadata_service_find_caller (GPtrArray *records,
                                  const char *bridge,
                                  const char *address)
{
  for (guint i = 0; i < records->len; i++)
    {
      const NlxRecord *record = records->pdata[i];
      const NlxVif *vif = record->instance->vif;

      if (vif != NULL && g_strcmp0 (vif->bridge, bridge) == 0 &&
          g_strcmp0 (vif->address, address) == 0)
        return record;
    }
  return NULL;
}

/* The dotted IPv4 address of @address, or NULL for anything else. */
static char *
ipv4_of (GSocketAddress *address)
{
  GInetAddress *inet;

  if (address == NULL || !G_IS_INET_SOCKET_ADDRESS (address))
    return NULL;
  inet = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (address));
  if (g_inet_address_get_family (inet) != G_SOCKET_FAMILY_IPV4)
    return NULL;
  return g_inet_address_to_string (inet);
}

static void
answer_text (SoupServerMessage *msg,
             guint status,
             const char *text)
{
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "text/plain; charset=utf-8",
                                    SOUP_MEMORY_COPY, text, strlen (text));
}

static void
handle (SoupServer *server G_GNUC_UNUSED,
        SoupServerMessage *msg,
        const char *path,
        GHashTable *query G_GNUC_UNUSED,
        gpointer data)
{
  NlxMetadataService *service = data;
  const char *method = soup_server_message_get_method (msg);
  g_autofree char *local = ipv4_of (soup_server_message_get_local_address (msg));
  g_autofree char *peer = ipv4_of (soup_server_message_get_remote_address (msg));
  g_autoptr(GPtrArray) records = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autoptr(GError) error = NULL;
  const char *content_type = NULL;
  const NlxRecord *record = NULL;

  if (!g_str_equal (method, "GET") && !g_str_equal (method, "HEAD"))
    {
      soup_message_headers_replace (
        soup_server_message_get_response_headers (msg), "Allow", "GET, HEAD");
      answer_text (msg, SOUP_STATUS_METHOD_NOT_ALLOWED,
                   "405 Method Not Allowed\n");
      return;
    }
  /* Only the source address the bridge's rules vouch for, on the
   * address the nat rule leads to; never the request's headers. */
  if (local != NULL && peer != NULL &&
      g_strcmp0 (local, service->gateway) == 0)
    {
      records = nlx_manager_list (service->manager);
      record = nlx_metadata_service_find_caller (records, service->bridge,
                                                 peer);
    }
  if (record == NULL)
    {
      g_info ("Metadata request for %s from %s, which is no instance on "
              "bridge %s: 404", path, peer ? peer : "?", service->bridge);
      answer_text (msg, SOUP_STATUS_NOT_FOUND, "404 Not Found\n");
      return;
    }
  body = nlx_metadata_lookup (record->instance, path, &content_type, &error);
  if (body == NULL)
    {
      if (nlx_api_status_for_error (error) == SOUP_STATUS_NOT_FOUND)
        answer_text (msg, SOUP_STATUS_NOT_FOUND, "404 Not Found\n");
      else
        {
          g_warning (_("Cannot answer instance %s's metadata request for "
                       "%s: %s"), record->instance->uuid, path,
                     error->message);
          answer_text (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR,
                       "500 Internal Server Error\n");
        }
      return;
    }
  g_debug ("Metadata request for %s from instance %s (%s)", path,
           record->instance->uuid, peer);
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, content_type, SOUP_MEMORY_COPY,
                                    g_bytes_get_data (body, NULL),
                                    g_bytes_get_size (body));
}

/* A TCP socket listening on @gateway:@port, which the host may not hold
 * yet (IP_FREEBIND). */
static GSocket *
listen_on (const char *gateway,
           guint port,
           GError **error)
{
  g_autoptr(GInetAddress) inet = g_inet_address_new_from_string (gateway);
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GSocket) socket = NULL;
  int one = 1;

  if (inet == NULL || g_inet_address_get_family (inet) != G_SOCKET_FAMILY_IPV4 ||
      port > 65535)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Cannot serve the metadata service on “%s” port %u: "
                     "not an IPv4 address and port; see [network] gateway "
                     "and metadata_port in nova-lxc.conf(5)"), gateway, port);
      return NULL;
    }
  address = g_inet_socket_address_new (inet, (guint16) port);
  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                         G_SOCKET_PROTOCOL_TCP, error);
  if (socket == NULL)
    return NULL;
  if (setsockopt (g_socket_get_fd (socket), IPPROTO_IP, IP_FREEBIND, &one,
                  sizeof one) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _("Cannot serve the metadata service on %s: IP_FREEBIND: "
                     "%s"), gateway, g_strerror (saved_errno));
      return NULL;
    }
  g_socket_set_listen_backlog (socket, SOMAXCONN);
  if (!g_socket_bind (socket, address, TRUE, error) ||
      !g_socket_listen (socket, error))
    {
      g_prefix_error (error, _("Cannot serve the metadata service on %s:%u "
                               "(is another daemon using [network] gateway "
                               "%s? set [network] metadata_port to another "
                               "port, or 0 for none): "), gateway, port,
                      gateway);
      return NULL;
    }
  return g_steal_pointer (&socket);
}

/**
 * nlx_metadata_service_new:
 * @manager: the daemon's instances; must outlive the service
 * @bridge: the bridge whose instances are served ([network] bridge)
 * @gateway: its address ([network] gateway), where to listen
 * @port: the port there ([network] metadata_port); 0 picks a free one
 *   (for tests)
 * @limits: connection limits, as the API's
 * @error: return location for an error
 *
 * Serves the metadata service from the thread-default main context.
 *
 * Returns: (transfer full): the service, or %NULL
 */
NlxMetadataService *
nlx_metadata_service_new (NlxManager *manager,
                          const char *bridge,
                          const char *gateway,
                          guint port,
                          const NlxListenerLimits *limits,
                          GError **error)
{
  g_autoptr(NlxMetadataService) service = g_new0 (NlxMetadataService, 1);
  NlxListenerLimits own = *limits;

  own.max_body = MIN (own.max_body, MAX_BODY);
  service->manager = manager;
  service->bridge = g_strdup (bridge);
  service->gateway = g_strdup (gateway);
  service->socket = listen_on (gateway, port, error);
  if (service->socket == NULL)
    return NULL;
  service->server = soup_server_new ("server-header", NULL, NULL);
  soup_server_add_handler (service->server, NULL, handle, service, NULL);
  service->listener = nlx_listener_new (service->server, &own);
  if (!nlx_listener_add_socket (service->listener, service->socket, error))
    return NULL;
  return g_steal_pointer (&service);
}

void
nlx_metadata_service_free (NlxMetadataService *service)
{
  if (service == NULL)
    return;
  g_clear_pointer (&service->listener, nlx_listener_free);
  if (service->server != NULL)
    {
      soup_server_disconnect (service->server);
      g_object_unref (service->server);
    }
  if (service->socket != NULL)
    g_socket_close (service->socket, NULL);
  g_clear_object (&service->socket);
  g_free (service->bridge);
  g_free (service->gateway);
  g_free (service);
}

/* The port listened on: [network] metadata_port, or the one picked. */
guint
nlx_metadata_service_get_port (NlxMetadataService *service)
{
  g_autoptr(GSocketAddress) address =
    g_socket_get_local_address (service->socket, NULL);

  if (address == NULL || !G_IS_INET_SOCKET_ADDRESS (address))
    return 0;
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (address));
}
