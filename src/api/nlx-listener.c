/* nlx-listener.c: accepting the API's connections, with limits
 *
 * libsoup 3.2.3 (Debian 12's) never closes a connection whose client goes
 * away before sending a request: after an answer on a kept-alive
 * connection, or before the first one.  The fd stays in CLOSE-WAIT for
 * the daemon's life (fixed upstream in 3.3.0), so any client, even one
 * without the token, could exhaust the daemon's fds.  Nor does libsoup
 * cap connections or time out a client that sends nothing.
 *
 * So the daemon accepts connections itself, in the daemon's main context:
 *  - a connection is handed to libsoup only once its client has sent the
 *    whole header block of its request, so libsoup always sees a request
 *    started, and on that path it closes the connection when it ends;
 *    a request line or headers too large for libsoup, which would only
 *    reset the connection, are answered 414 or 431 here;
 *  - every answer says "Connection: close": one request per connection,
 *    so libsoup never waits between requests, where the bug is;
 *  - a connection that has not sent a whole request within
 *    request_timeout_s of its accept is closed, as is any connection past
 *    max_connections on its listening socket;
 *  - a request body is kept up to max_body bytes; past that it is
 *    dropped as it arrives (the API answers 413), and past max_body and a
 *    1 MiB allowance the connection is closed. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <json-glib/json-glib.h>
#include <glib/gi18n-lib.h>
#include <gio/gunixsocketaddress.h>

#include "api/nlx-listener.h"

/* Seconds between checks of the connections' deadlines and ends. */
#define SWEEP_INTERVAL_S 1
/* Body bytes read and dropped beyond the limit before closing, so a
 * client slightly over it still reads its 413. */
#define BODY_ALLOWANCE (1024 * 1024)
/* A request line or header block libsoup would refuse with a reset (its
 * limit is 64 KiB) is answered 414 or 431 by the listener instead. */
#define MAX_REQUEST_LINE 8192
#define MAX_HEADERS (64 * 1024 - 1)
/* Seconds a refused client may go on sending before it is cut off. */
#define DRAIN_S 2
/* How often a connection whose headers are incomplete is looked at. */
#define RECHECK_INTERVAL_MS 50
/* Connections accepted in one go, so one busy port cannot starve the
 * rest of the main loop. */
#define ACCEPT_BURST 64
/* At most one log line per this many seconds about refused connections. */
#define REFUSAL_LOG_INTERVAL_S 10

typedef struct _Port Port;

struct _NlxListener {
  SoupServer *server;
  NlxListenerLimits limits;
  GMainContext *context;
  GPtrArray *ports;             /* Port, owned */
  GHashTable *conns;            /* Conn set, owned */
  GHashTable *by_remote;        /* GSocketAddress → Conn, once handed over */
  GSource *sweep;
};

struct _Port {
  NlxListener *listener;
  GSocket *socket;
  GSource *source;              /* accepting; NULL while paused */
  GSource *resume;              /* while paused after EMFILE */
  char *name;                   /* for logs */
  guint count;
  gint64 last_refusal_log;
};

typedef enum {
  CONN_WAITING,                 /* accepted, headers not all here: ours */
  CONN_REFUSED,                 /* answered by us, draining: ours */
  CONN_READING,                 /* libsoup's, reading the request */
  CONN_HANDLED,                 /* request read: the handler's, no deadline */
} ConnState;

typedef struct {
  Port *port;
  ConnState state;
  GSocket *socket;
  GSource *wait;                /* ours: readable, or a recheck timer */
  GSocketConnection *stream;    /* once handed over */
  GSocketAddress *remote;       /* the key of by_remote */
  gint64 deadline;              /* monotonic µs; not for CONN_HANDLED */
} Conn;

/* What a request's body has cost so far, kept on its message. */
typedef struct {
  gsize max_body;
  guint64 received;
  GIOStream *stream;            /* to close when the body is too large */
} BodyCount;

#define BODY_COUNT_KEY "nlx-body-count"

static void
conn_free (Conn *conn)
{
  if (conn->wait != NULL)
    {
      g_source_destroy (conn->wait);
      g_source_unref (conn->wait);
    }
  if (conn->stream == NULL && conn->socket != NULL)
    g_socket_close (conn->socket, NULL);
  g_clear_object (&conn->stream);
  g_clear_object (&conn->socket);
  g_clear_object (&conn->remote);
  conn->port->count--;
  g_free (conn);
}

static void
conn_drop (NlxListener *listener,
           Conn *conn)
{
  if (conn->remote != NULL)
    g_hash_table_remove (listener->by_remote, conn->remote);
  g_hash_table_remove (listener->conns, conn);
}

/* ---- handing a connection to libsoup ---------------------------------- */

static void
hand_over (NlxListener *listener,
           Conn *conn)
{
  g_autoptr(GSocketAddress) local = NULL;
  g_autoptr(GError) error = NULL;

  local = g_socket_get_local_address (conn->socket, NULL);
  conn->remote = g_socket_get_remote_address (conn->socket, NULL);
  /* An unbound Unix client has no name; any distinct object will do as
   * the key. */
  if (conn->remote == NULL)
    conn->remote = g_unix_socket_address_new_with_type (
      "", 0, G_UNIX_SOCKET_ADDRESS_ANONYMOUS);
  if (local == NULL)
    local = g_object_ref (conn->remote);
  conn->stream = g_socket_connection_factory_create_connection (conn->socket);
  conn->state = CONN_READING;
  g_hash_table_insert (listener->by_remote, conn->remote, conn);
  if (!soup_server_accept_iostream (listener->server, G_IO_STREAM (conn->stream),
                                    local, conn->remote, &error))
    {
      g_debug ("Cannot serve a connection on %s: %s", conn->port->name,
               error->message);
      g_io_stream_close (G_IO_STREAM (conn->stream), NULL, NULL);
      conn_drop (listener, conn);
    }
}

static void wait_readable (Conn *conn);

/* Past its answer, a refused client's bytes are read and dropped until
 * it stops or the deadline: closing with unread data would send a reset,
 * which can make the client lose the answer. */
static gboolean
on_drain (GSocket *socket,
          GIOCondition condition G_GNUC_UNUSED,
          gpointer data)
{
  Conn *conn = data;
  char buffer[4096];
  gssize got = recv (g_socket_get_fd (socket), buffer, sizeof buffer,
                     MSG_DONTWAIT);

  if (got > 0 || (got < 0 && (errno == EAGAIN || errno == EINTR)))
    return G_SOURCE_CONTINUE;
  g_clear_pointer (&conn->wait, g_source_unref);
  conn_drop (conn->port->listener, conn);
  return G_SOURCE_REMOVE;
}

/* Answers a request libsoup would only reset, in Nova's fault shape. */
static void
refuse (Conn *conn,
        guint status,
        const char *reason,
        const char *message)
{
  g_autofree char *body = NULL;
  g_autofree char *answer = NULL;
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "badRequest");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "code");
  json_builder_add_int_value (builder, status);
  json_builder_set_member_name (builder, "message");
  json_builder_add_string_value (builder, message);
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  body = json_to_string (root, FALSE);
  answer = g_strdup_printf ("HTTP/1.1 %u %s\r\nContent-Type: application/json\r\n"
                            "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                            status, reason, strlen (body), body);
  g_info ("Refused a request on %s: %s", conn->port->name, message);
  /* A few hundred bytes into an empty send buffer: never a short write
   * in practice, and a client that cannot take them loses nothing. */
  if (send (g_socket_get_fd (conn->socket), answer, strlen (answer),
            MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
    g_debug ("Cannot answer on %s: %s", conn->port->name, g_strerror (errno));
  shutdown (g_socket_get_fd (conn->socket), SHUT_WR);
  conn->state = CONN_REFUSED;
  conn->deadline = MIN (conn->deadline,
                        g_get_monotonic_time () + DRAIN_S * G_USEC_PER_SEC);
  conn->wait = g_socket_create_source (conn->socket,
                                       G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
  g_source_set_callback (conn->wait, G_SOURCE_FUNC (on_drain), conn, NULL);
  g_source_attach (conn->wait, conn->port->listener->context);
}

static gboolean
on_recheck (gpointer data)
{
  Conn *conn = data;

  g_clear_pointer (&conn->wait, g_source_unref);
  wait_readable (conn);
  return G_SOURCE_REMOVE;
}

/* Hands the connection over once its request's headers are all there:
 * libsoup then never waits on a slow client, and what it would only
 * reset (a request line or headers over its limit) gets an answer.  The
 * bytes are only peeked at, so libsoup reads them all itself. */
static gboolean
on_readable (GSocket *socket,
             GIOCondition condition G_GNUC_UNUSED,
             gpointer data)
{
  Conn *conn = data;
  NlxListener *listener = conn->port->listener;
  g_autofree char *head = g_malloc (MAX_HEADERS + 1);
  gssize got = recv (g_socket_get_fd (socket), head, MAX_HEADERS + 1,
                     MSG_PEEK | MSG_DONTWAIT);
  const char *line_end;

  if (got < 0 && (errno == EAGAIN || errno == EINTR))
    return G_SOURCE_CONTINUE;
  g_clear_pointer (&conn->wait, g_source_unref);
  if (got <= 0)
    {
      conn_drop (listener, conn);
      return G_SOURCE_REMOVE;
    }
  line_end = memchr (head, '\n', (gsize) got);
  if (g_strstr_len (head, got, "\r\n\r\n") != NULL ||
      g_strstr_len (head, got, "\n\n") != NULL)
    hand_over (listener, conn);
  else if (line_end == NULL && got > MAX_REQUEST_LINE)
    refuse (conn, 414, "URI Too Long",
            _("The request line is longer than 8192 bytes; send a shorter "
              "URL"));
  else if (got > MAX_HEADERS)
    refuse (conn, 431, "Request Header Fields Too Large",
            _("The request headers are larger than 65536 bytes; send "
              "fewer or shorter headers"));
  else
    {
      /* The rest is on its way: the bytes already here keep the socket
       * readable, so look again in a while rather than at once. */
      conn->wait = g_timeout_source_new (RECHECK_INTERVAL_MS);
      g_source_set_callback (conn->wait, on_recheck, conn, NULL);
      g_source_attach (conn->wait, listener->context);
    }
  return G_SOURCE_REMOVE;
}

static void
wait_readable (Conn *conn)
{
  conn->wait = g_socket_create_source (conn->socket,
                                       G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
  g_source_set_callback (conn->wait, G_SOURCE_FUNC (on_readable), conn, NULL);
  g_source_attach (conn->wait, conn->port->listener->context);
}

/* ---- accepting -------------------------------------------------------- */

static void port_start (Port *port);

static gboolean
port_resume (gpointer data)
{
  Port *port = data;

  g_clear_pointer (&port->resume, g_source_unref);
  port_start (port);
  return G_SOURCE_REMOVE;
}

/* Out of fds: accepting again at once would spin, so wait a second. */
static void
port_pause (Port *port)
{
  g_source_destroy (port->source);
  g_clear_pointer (&port->source, g_source_unref);
  port->resume = g_timeout_source_new_seconds (1);
  g_source_set_callback (port->resume, port_resume, port, NULL);
  g_source_attach (port->resume, port->listener->context);
}

/* Whether to log a refusal now: at most one line per interval. */
static gboolean
refusal_loggable (Port *port)
{
  gint64 now = g_get_monotonic_time ();

  if (port->last_refusal_log != 0 &&
      now - port->last_refusal_log < REFUSAL_LOG_INTERVAL_S * G_USEC_PER_SEC)
    return FALSE;
  port->last_refusal_log = now;
  return TRUE;
}

static gboolean
on_incoming (GSocket *socket,
             GIOCondition condition G_GNUC_UNUSED,
             gpointer data)
{
  Port *port = data;
  NlxListener *listener = port->listener;

  for (guint i = 0; i < ACCEPT_BURST; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GSocket) accepted = g_socket_accept (socket, NULL, &error);
      Conn *conn;

      if (accepted == NULL)
        {
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            break;
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_OPEN_FILES))
            {
              if (refusal_loggable (port))
                g_warning (_("Cannot accept connections on %s: %s; lower "
                             "[api] max_connections or raise the daemon's "
                             "open file limit"), port->name, error->message);
              port_pause (port);
              return G_SOURCE_REMOVE;
            }
          g_debug ("Accepting on %s failed: %s", port->name, error->message);
          break;
        }
      if (port->count >= listener->limits.max_connections)
        {
          if (refusal_loggable (port))
            g_warning (_("Refusing connections on %s: %u are open already "
                         "([api] max_connections)"), port->name,
                       listener->limits.max_connections);
          g_socket_close (accepted, NULL);
          continue;
        }

      conn = g_new0 (Conn, 1);
      conn->port = port;
      conn->state = CONN_WAITING;
      conn->socket = g_steal_pointer (&accepted);
      conn->deadline = g_get_monotonic_time () +
                       listener->limits.request_timeout_s * G_USEC_PER_SEC;
      port->count++;
      g_hash_table_add (listener->conns, conn);
      wait_readable (conn);
    }
  return G_SOURCE_CONTINUE;
}

static void
port_start (Port *port)
{
  port->source = g_socket_create_source (port->socket, G_IO_IN, NULL);
  g_source_set_callback (port->source, G_SOURCE_FUNC (on_incoming), port, NULL);
  g_source_attach (port->source, port->listener->context);
}

static void
port_free (Port *port)
{
  if (port->source != NULL)
    {
      g_source_destroy (port->source);
      g_source_unref (port->source);
    }
  if (port->resume != NULL)
    {
      g_source_destroy (port->resume);
      g_source_unref (port->resume);
    }
  g_socket_close (port->socket, NULL);
  g_object_unref (port->socket);
  g_free (port->name);
  g_free (port);
}

/* ---- deadlines and ends ----------------------------------------------- */

static gboolean
sweep (gpointer data)
{
  NlxListener *listener = data;
  gint64 now = g_get_monotonic_time ();
  GHashTableIter iter;
  Conn *conn;
  g_autoptr(GPtrArray) done = g_ptr_array_new ();

  g_hash_table_iter_init (&iter, listener->conns);
  while (g_hash_table_iter_next (&iter, (gpointer *) &conn, NULL))
    {
      if (conn->stream != NULL &&
          g_io_stream_is_closed (G_IO_STREAM (conn->stream)))
        g_ptr_array_add (done, conn);      /* libsoup is done with it */
      else if (conn->state != CONN_HANDLED && now >= conn->deadline)
        {
          /* Closing under libsoup is safe: the request has started, so
           * its read fails on the closed socket and libsoup ends the
           * connection as for any broken client. */
          g_debug ("Closing a connection on %s that sent no whole request "
                   "in %u s", conn->port->name,
                   listener->limits.request_timeout_s);
          if (conn->stream != NULL)
            g_io_stream_close (G_IO_STREAM (conn->stream), NULL, NULL);
          g_ptr_array_add (done, conn);
        }
    }
  for (guint i = 0; i < done->len; i++)
    conn_drop (listener, done->pdata[i]);
  return G_SOURCE_CONTINUE;
}

/* ---- the server's signals --------------------------------------------- */

static Conn *
conn_of (NlxListener *listener,
         SoupServerMessage *msg)
{
  GSocketAddress *remote = soup_server_message_get_remote_address (msg);

  return remote != NULL ? g_hash_table_lookup (listener->by_remote, remote)
                        : NULL;
}

static void
body_count_free (gpointer data)
{
  BodyCount *count = data;

  g_clear_object (&count->stream);
  g_free (count);
}

static void
on_got_chunk (SoupServerMessage *msg,
              GBytes *chunk,
              gpointer data G_GNUC_UNUSED)
{
  BodyCount *count = g_object_get_data (G_OBJECT (msg), BODY_COUNT_KEY);

  if (count == NULL)
    return;
  count->received += g_bytes_get_size (chunk);
  if (count->received <= count->max_body)
    return;
  /* Keep no more: the API answers 413 on seeing the body over the limit. */
  soup_message_body_set_accumulate (soup_server_message_get_request_body (msg),
                                    FALSE);
  if (count->received > count->max_body + BODY_ALLOWANCE &&
      count->stream != NULL && !g_io_stream_is_closed (count->stream))
    g_io_stream_close (count->stream, NULL, NULL);
}

static void
on_request_started (SoupServer *server G_GNUC_UNUSED,
                    SoupServerMessage *msg,
                    gpointer data)
{
  NlxListener *listener = data;
  Conn *conn = conn_of (listener, msg);
  BodyCount *count = g_new0 (BodyCount, 1);

  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "Connection", "close");
  count->max_body = listener->limits.max_body;
  if (conn != NULL && conn->stream != NULL)
    count->stream = g_object_ref (G_IO_STREAM (conn->stream));
  g_object_set_data_full (G_OBJECT (msg), BODY_COUNT_KEY, count,
                          body_count_free);
  g_signal_connect (msg, "got-chunk", G_CALLBACK (on_got_chunk), NULL);
}

static void
on_request_read (SoupServer *server G_GNUC_UNUSED,
                 SoupServerMessage *msg,
                 gpointer data)
{
  Conn *conn = conn_of (data, msg);

  if (conn != NULL)
    conn->state = CONN_HANDLED;
}

/* Every answer says "Connection: close", so once its request ends libsoup
 * closes the connection: count it out now rather than at the next sweep,
 * so a fast client is not refused for connections already over. */
static void
on_request_ended (SoupServer *server G_GNUC_UNUSED,
                  SoupServerMessage *msg,
                  gpointer data)
{
  NlxListener *listener = data;
  Conn *conn = conn_of (listener, msg);

  if (conn != NULL)
    conn_drop (listener, conn);
}

/* ---- the object ------------------------------------------------------- */

/**
 * nlx_listener_new:
 * @server: the server to hand connections to; must outlive the listener
 * @limits: the limits
 *
 * Accepts connections for @server in the thread-default main context.
 *
 * Returns: (transfer full): a listener with no socket yet
 */
NlxListener *
nlx_listener_new (SoupServer *server,
                  const NlxListenerLimits *limits)
{
  NlxListener *listener = g_new0 (NlxListener, 1);

  listener->server = server;
  listener->limits = *limits;
  listener->context = g_main_context_ref_thread_default ();
  listener->ports = g_ptr_array_new_with_free_func ((GDestroyNotify) port_free);
  listener->conns = g_hash_table_new_full (NULL, NULL,
                                           (GDestroyNotify) conn_free, NULL);
  listener->by_remote = g_hash_table_new (NULL, NULL);
  g_signal_connect (server, "request-started",
                    G_CALLBACK (on_request_started), listener);
  g_signal_connect (server, "request-read",
                    G_CALLBACK (on_request_read), listener);
  g_signal_connect (server, "request-finished",
                    G_CALLBACK (on_request_ended), listener);
  g_signal_connect (server, "request-aborted",
                    G_CALLBACK (on_request_ended), listener);
  listener->sweep = g_timeout_source_new_seconds (SWEEP_INTERVAL_S);
  g_source_set_callback (listener->sweep, sweep, listener, NULL);
  g_source_attach (listener->sweep, listener->context);
  return listener;
}

/**
 * nlx_listener_add_socket:
 * @listener: a listener
 * @socket: a socket already listening
 * @error: return location for an error
 *
 * Accepts connections on @socket from now on, and closes it when the
 * listener is freed.
 *
 * Returns: %TRUE, or %FALSE with @error set
 */
gboolean
nlx_listener_add_socket (NlxListener *listener,
                         GSocket *socket,
                         GError **error)
{
  g_autoptr(GSocketAddress) address = g_socket_get_local_address (socket,
                                                                 error);
  Port *port;

  if (address == NULL)
    return FALSE;
  port = g_new0 (Port, 1);
  port->listener = listener;
  port->socket = g_object_ref (socket);
  if (G_IS_UNIX_SOCKET_ADDRESS (address))
    port->name = g_strdup (g_unix_socket_address_get_path (
                             G_UNIX_SOCKET_ADDRESS (address)));
  else
    port->name = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (address));
  g_socket_set_blocking (socket, FALSE);
  g_ptr_array_add (listener->ports, port);
  port_start (port);
  return TRUE;
}

/**
 * nlx_listener_get_socket:
 * @listener: a listener
 * @msg: a message being served
 *
 * libsoup has no socket for a connection handed over as a stream
 * (soup_server_message_get_socket() is %NULL then); streamed answers
 * need it, to notice a reader that has gone and to cut off one that
 * falls behind (shutting it down makes libsoup's next write fail and
 * end the message, which ends the connection).
 *
 * Returns: (transfer none) (nullable): the socket of @msg's connection
 */
GSocket *
nlx_listener_get_socket (NlxListener *listener,
                         SoupServerMessage *msg)
{
  Conn *conn = conn_of (listener, msg);

  return conn != NULL ? conn->socket : NULL;
}

/* Connections held now, on every socket: accepted and not yet ended. */
guint
nlx_listener_count_connections (NlxListener *listener)
{
  return g_hash_table_size (listener->conns);
}

/* The listening sockets and the connections still waiting for their
 * first bytes are closed; connections libsoup serves end with the
 * server. */
void
nlx_listener_free (NlxListener *listener)
{
  if (listener == NULL)
    return;
  g_signal_handlers_disconnect_by_data (listener->server, listener);
  g_source_destroy (listener->sweep);
  g_source_unref (listener->sweep);
  g_hash_table_destroy (listener->by_remote);
  g_hash_table_destroy (listener->conns);
  g_ptr_array_free (listener->ports, TRUE);
  g_main_context_unref (listener->context);
  g_free (listener);
}
