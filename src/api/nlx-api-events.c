/* nlx-api-events.c: GET /v2.1/os-nova-lxc-events, the Nova driver's
 * lifecycle events: a long-lived chunked answer, one JSON object per
 * line, for every power state change the manager records
 * (nlx_manager_watch_power_states()), so that nova-compute hears of a
 * server that stopped by itself without polling every server.
 *
 * Driver-only: the Unix socket (the compute host's own interface); over
 * TCP it is 403.  Bounded twice: at most [api] max_event_streams streams
 * (more are 503), and a reader that falls more than EVENTS_MAX_QUEUED
 * bytes behind is cut off rather than queued for without end.  A stream
 * holds one of the socket's [api] max_connections for as long as it is
 * open; the listener's request timeout is over once its request is read
 * (nlx-listener.c), so it does not cut a stream that is being answered. */
#include "config.h"

#include <errno.h>
#include <sys/socket.h>
#include <glib/gi18n-lib.h>

#include "api/nlx-api-private.h"

/* Bytes given to libsoup and not yet sent, beyond the socket buffer,
 * before the reader is dropped: some 500 events. */
#define EVENTS_MAX_QUEUED (64 * 1024)
/* The socket's own send buffer for a stream: small, so that a reader
 * that stops reading shows in EVENTS_MAX_QUEUED soon, not after
 * hundreds of KiB held by the kernel. */
#define EVENTS_SEND_BUFFER (16 * 1024)

typedef struct _NlxApiEvents NlxApiEvents;

typedef struct {
  NlxApiEvents *events;
  SoupServerMessage *msg;
  GSource *hangup;              /* the reader closing its end */
  guint64 queued;
  gboolean dropped;
} Stream;

struct _NlxApiEvents {
  NlxApi *api;
  GPtrArray *streams;           /* Stream, owned */
};

static void
stream_free (Stream *stream)
{
  if (stream->hangup != NULL)
    {
      g_source_destroy (stream->hangup);
      g_source_unref (stream->hangup);
    }
  g_signal_handlers_disconnect_by_data (stream->msg, stream);
  g_object_unref (stream->msg);
  g_free (stream);
}

/* Ends the answer without its last chunk and closes the connection:
 * once the socket is shut down, the byte appended only makes libsoup
 * write, fail and end the message (its "finished" frees the stream). */
static void
stream_cut (Stream *stream)
{
  GSocket *socket = nlx_listener_get_socket (stream->events->api->listener,
                                             stream->msg);

  if (stream->dropped)
    return;
  stream->dropped = TRUE;
  if (socket != NULL)
    g_socket_shutdown (socket, TRUE, TRUE, NULL);
  soup_message_body_append (soup_server_message_get_response_body (stream->msg),
                            SOUP_MEMORY_STATIC, "", 1);
  soup_server_message_unpause (stream->msg);
}

static void
stream_send (Stream *stream,
             const char *line)
{
  gsize length = strlen (line);

  if (stream->dropped)
    return;
  if (stream->queued + length > EVENTS_MAX_QUEUED)
    {
      g_warning (_("Dropping an event stream whose reader is more than "
                   "%u bytes behind; it must read its events as they come, "
                   "then connect again"), EVENTS_MAX_QUEUED);
      stream_cut (stream);
      return;
    }
  stream->queued += length;
  soup_message_body_append (soup_server_message_get_response_body (stream->msg),
                            SOUP_MEMORY_COPY, line, length);
  soup_server_message_unpause (stream->msg);
}

static void
on_stream_wrote (SoupServerMessage *msg G_GNUC_UNUSED,
                 guint size,
                 gpointer data)
{
  Stream *stream = data;

  stream->queued -= MIN (stream->queued, size);
}

static void
on_stream_finished (SoupServerMessage *msg G_GNUC_UNUSED,
                    gpointer data)
{
  Stream *stream = data;

  g_info ("An event stream ended");
  /* Frees it. */
  g_ptr_array_remove (stream->events->streams, stream);
}

/* Nothing is read once the request is: bytes that come are dropped, and
 * the end of them means the reader has gone, which libsoup would notice
 * only at the next event, maybe hours later. */
static gboolean
on_stream_hangup (GSocket *socket,
                  GIOCondition condition G_GNUC_UNUSED,
                  gpointer data)
{
  Stream *stream = data;
  char buffer[1024];
  gssize got = recv (g_socket_get_fd (socket), buffer, sizeof buffer,
                     MSG_DONTWAIT);

  if (got > 0 || (got < 0 && (errno == EAGAIN || errno == EINTR)))
    return G_SOURCE_CONTINUE;
  g_clear_pointer (&stream->hangup, g_source_unref);
  stream_cut (stream);
  return G_SOURCE_REMOVE;
}

static const char *
event_name (NlxPowerState before,
            NlxPowerState after)
{
  if (after == NLX_POWER_STATE_RUNNING)
    return before == NLX_POWER_STATE_PAUSED ? "resumed" : "started";
  if (after == NLX_POWER_STATE_PAUSED)
    return "paused";
  /* Shut down, crashed, gone: power_state says which. */
  return "stopped";
}

static char *
event_line (const char *uuid,
            const char *event,
            NlxPowerState state)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *time = nlx_time_to_string (now);
  g_autofree char *text = NULL;

  json_builder_begin_object (builder);
  if (uuid != NULL)
    {
      nlx_api_add_string (builder, "uuid", uuid);
      nlx_api_add_string (builder, "event", event);
      nlx_api_add_int (builder, "power_state", state);
    }
  else
    nlx_api_add_string (builder, "event", event);
  nlx_api_add_string (builder, "time", time);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  text = json_to_string (root, FALSE);
  return g_strconcat (text, "\n", NULL);
}

/**
 * nlx_api_publish_power_change:
 * @api: the API
 * @uuid: the server
 * @before: its power state as last told
 * @after: its power state now
 *
 * Sends the event to every open stream: the manager's watcher
 * (nlx_manager_watch_power_states()).  Main context only.
 */
void
nlx_api_publish_power_change (NlxApi *api,
                              const char *uuid,
                              NlxPowerState before,
                              NlxPowerState after)
{
  NlxApiEvents *events = api->events;
  g_autofree char *line = NULL;
  g_autoptr(GPtrArray) streams = NULL;

  if (events == NULL || events->streams->len == 0)
    return;
  line = event_line (uuid, event_name (before, after), after);
  /* A stream cut here may end (and leave the array) at once. */
  streams = g_ptr_array_sized_new (events->streams->len);
  for (guint i = 0; i < events->streams->len; i++)
    g_ptr_array_add (streams, events->streams->pdata[i]);
  for (guint i = 0; i < streams->len; i++)
    stream_send (streams->pdata[i], line);
}

static void
on_power_change (const char *uuid,
                 NlxPowerState before,
                 NlxPowerState after,
                 gpointer data)
{
  nlx_api_publish_power_change (data, uuid, before, after);
}

/* GET /v2.1/os-nova-lxc-events */
void
nlx_api_stream_events (NlxApiRequest *request,
                       const char *method G_GNUC_UNUSED,
                       const char * const *ids G_GNUC_UNUSED)
{
  NlxApiEvents *events = request->api->events;
  guint max = request->api->config->api_max_event_streams;
  GSocket *socket = nlx_listener_get_socket (request->api->listener,
                                             request->msg);
  g_autofree char *hello = NULL;
  Stream *stream;

  if (!nlx_api_require_unix_socket (request, _("The event stream")))
    return;
  if (events->streams->len >= max)
    {
      g_autofree char *message =
        g_strdup_printf (_("Too many event streams: %u are open ([api] "
                           "max_event_streams); close one, or raise the "
                           "limit"), max);

      nlx_api_respond_fault (request, 503, message);
      return;
    }

  stream = g_new0 (Stream, 1);
  stream->events = events;
  stream->msg = g_object_ref (request->msg);
  g_ptr_array_add (events->streams, stream);
  nlx_api_respond_stream (request, "application/x-ndjson");
  g_signal_connect (request->msg, "wrote-body-data",
                    G_CALLBACK (on_stream_wrote), stream);
  g_signal_connect (request->msg, "finished",
                    G_CALLBACK (on_stream_finished), stream);
  if (socket != NULL)
    {
      int size = EVENTS_SEND_BUFFER;

      if (setsockopt (g_socket_get_fd (socket), SOL_SOCKET, SO_SNDBUF, &size,
                      sizeof size) != 0)
        g_debug ("Cannot shrink an event stream's send buffer: %s",
                 g_strerror (errno));
      stream->hangup = g_socket_create_source (socket,
                                               G_IO_IN | G_IO_HUP | G_IO_ERR,
                                               NULL);
      g_source_set_callback (stream->hangup, G_SOURCE_FUNC (on_stream_hangup),
                             stream, NULL);
      g_source_attach (stream->hangup, g_main_context_get_thread_default ());
    }
  g_info ("An event stream started (%u open)", events->streams->len);
  hello = event_line (NULL, "hello", NLX_POWER_STATE_NOSTATE);
  stream_send (stream, hello);
}

void
nlx_api_serve_events (NlxApi *api)
{
  api->events = g_new0 (NlxApiEvents, 1);
  api->events->api = api;
  api->events->streams = g_ptr_array_new_with_free_func (
    (GDestroyNotify) stream_free);
  nlx_manager_watch_power_states (api->manager, on_power_change, api);
}

/* Before the server goes: no event reaches a stream any more, and the
 * server's disconnect ends their connections. */
void
nlx_api_close_events (NlxApi *api)
{
  if (api->events == NULL)
    return;
  nlx_manager_watch_power_states (api->manager, NULL, NULL);
  g_ptr_array_unref (api->events->streams);
  g_clear_pointer (&api->events, g_free);
}
