/* nlx-listener.h: accepting the API's connections, with limits */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

typedef struct _NlxListener NlxListener;

/**
 * NlxListenerLimits:
 * @max_connections: connections held at once on one listening socket;
 *   more are closed as they arrive
 * @request_timeout_s: seconds a connection may take to send one whole
 *   request (headers and body), counted from its accept
 * @max_body: request body bytes kept; a larger body is discarded as it
 *   arrives, and the connection is dropped once it sends more than
 *   @max_body + 1 MiB
 */
typedef struct {
  guint max_connections;
  guint request_timeout_s;
  gsize max_body;
} NlxListenerLimits;

NlxListener *nlx_listener_new (SoupServer *server,
                               const NlxListenerLimits *limits);
gboolean nlx_listener_add_socket (NlxListener *listener,
                                  GSocket *socket,
                                  GError **error);
guint nlx_listener_count_connections (NlxListener *listener);
GSocket *nlx_listener_get_socket (NlxListener *listener,
                                  SoupServerMessage *msg);
void nlx_listener_free (NlxListener *listener);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NlxListener, nlx_listener_free)

G_END_DECLS
