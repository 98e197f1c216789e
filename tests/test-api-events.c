/* test-api-events.c: GET /v2.1/os-nova-lxc-events, the Nova driver's
 * lifecycle event stream, over the Unix socket, on the fake driver: the
 * events of a server's life, streams outliving the request timeout, the
 * limits (streams, a slow reader, TCP) and fds coming back (the fixture:
 * lib/nlx-api-fixture.h). */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <gio/gunixsocketaddress.h>

#include "api/nlx-api.h"
#include "lib/nlx-api-fixture.h"
#include "lib/nlx-test-client.h"
#include "lib/nlx-test-daemon.h"
#include "lib/nlx-test-tools.h"

#define TOKEN "s3cret-t0ken"
#define EVENTS_REQUEST \
  "GET /v2.1/os-nova-lxc-events HTTP/1.1\r\nHost: localhost\r\n" \
  "X-Auth-Token: " TOKEN "\r\n\r\n"

/* A reader of one stream, decoding its chunks as they come. */
typedef struct {
  GSocket *socket;
  GString *raw;                 /* received, not decoded yet */
  GString *body;                /* decoded, lines not taken yet */
  char *head;                   /* the status line and headers */
  gboolean ended;
} Reader;

static void
reader_free (Reader *reader)
{
  g_clear_object (&reader->socket);
  g_string_free (reader->raw, TRUE);
  g_string_free (reader->body, TRUE);
  g_free (reader->head);
  g_free (reader);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Reader, reader_free)

/* Streams wait for events with their own timeouts (reader_fill()). */
static GSocket *
connect_to (Fixture *f,
            guint tcp_port)
{
  GSocket *socket = nlx_test_raw_connect (f->socket, tcp_port);

  g_socket_set_timeout (socket, 0);
  return socket;
}

/* Reads what is there within @timeout_ms; FALSE once the stream ended. */
static gboolean
reader_fill (Reader *reader,
             guint timeout_ms)
{
  char buffer[4096];
  g_autoptr(GError) error = NULL;
  gssize got;

  if (reader->ended)
    return FALSE;
  if (!g_socket_condition_timed_wait (reader->socket, G_IO_IN,
                                      (gint64) timeout_ms * 1000, NULL, NULL))
    return TRUE;
  got = g_socket_receive (reader->socket, buffer, sizeof buffer, NULL, &error);
  if (got <= 0)
    {
      reader->ended = TRUE;
      return FALSE;
    }
  g_string_append_len (reader->raw, buffer, got);
  return TRUE;
}

/* Moves whole chunks from raw to body. */
static void
reader_decode (Reader *reader)
{
  for (;;)
    {
      const char *end = strstr (reader->raw->str, "\r\n");
      guint64 size;
      gsize header;

      if (end == NULL)
        return;
      size = g_ascii_strtoull (reader->raw->str, NULL, 16);
      header = end - reader->raw->str + 2;
      if (reader->raw->len < header + size + 2)
        return;
      g_string_append_len (reader->body, reader->raw->str + header, size);
      g_string_erase (reader->raw, 0, header + size + 2);
    }
}

static Reader *
open_stream (Fixture *f,
             guint tcp_port)
{
  g_autoptr(Reader) reader = g_new0 (Reader, 1);
  g_autoptr(GError) error = NULL;
  const char *end;

  reader->raw = g_string_new (NULL);
  reader->body = g_string_new (NULL);
  reader->socket = connect_to (f, tcp_port);
  g_assert_cmpint (g_socket_send (reader->socket, EVENTS_REQUEST,
                                  strlen (EVENTS_REQUEST), NULL, &error), ==,
                   (gssize) strlen (EVENTS_REQUEST));
  while ((end = strstr (reader->raw->str, "\r\n\r\n")) == NULL)
    g_assert_true (reader_fill (reader, 5000));
  reader->head = g_strndup (reader->raw->str, end - reader->raw->str + 4);
  g_string_erase (reader->raw, 0, end - reader->raw->str + 4);
  return g_steal_pointer (&reader);
}

/* The next event line within @timeout_s, parsed; NULL if none. */
static JsonNode *
next_event (Reader *reader,
            guint timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;

  for (;;)
    {
      const char *newline;

      reader_decode (reader);
      newline = strchr (reader->body->str, '\n');
      if (newline != NULL)
        {
          g_autoptr(GError) error = NULL;
          g_autofree char *line = g_strndup (reader->body->str,
                                             newline - reader->body->str);
          JsonNode *node = json_from_string (line, &error);

          g_assert_no_error (error);
          g_test_message ("event: %s", line);
          g_string_erase (reader->body, 0, newline - reader->body->str + 1);
          return node;
        }
      if (g_get_monotonic_time () > deadline || !reader_fill (reader, 100))
        return NULL;
    }
}

/* The next event of @uuid (others' are skipped), as "event/power_state". */
static char *
next_event_of (Reader *reader,
               const char *uuid)
{
  for (;;)
    {
      g_autoptr(JsonNode) node = next_event (reader, 10);
      JsonObject *object;

      g_assert_nonnull (node);
      object = json_node_get_object (node);
      g_assert_true (json_object_has_member (object, "time"));
      if (g_strcmp0 (json_object_get_string_member_with_default (object, "uuid",
                                                                 NULL),
                     uuid) == 0)
        return g_strdup_printf ("%s/%" G_GINT64_FORMAT,
                                json_object_get_string_member (object, "event"),
                                json_object_get_int_member (object,
                                                            "power_state"));
    }
}

static void
expect_hello (Reader *reader)
{
  g_autoptr(JsonNode) hello = next_event (reader, 5);

  g_assert_true (g_str_has_prefix (reader->head, "HTTP/1.1 200"));
  g_assert_nonnull (strstr (reader->head, "Transfer-Encoding: chunked"));
  g_assert_nonnull (hello);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (hello),
                                                  "event"), ==, "hello");
}

static void
expect_event (Reader *reader,
              const char *uuid,
              const char *wanted)
{
  g_autofree char *event = next_event_of (reader, uuid);

  g_assert_cmpstr (event, ==, wanted);
}

/* A server's life as events, on two streams at once; a stream idle for
 * longer than the request timeout (2 s here) is still served. */
static void
test_events_lifecycle (Fixture *f,
                       gconstpointer data G_GNUC_UNUSED)
{
  g_autoptr(Reader) first = open_stream (f, 0);
  g_autoptr(Reader) second = open_stream (f, 0);
  g_autofree char *id = NULL;
  g_autoptr(JsonNode) none = NULL;

  expect_hello (first);
  expect_hello (second);
  g_assert_cmpuint (nlx_api_count_connections (f->daemon.api), ==, 2);

  id = nlx_test_create (f->session, "nlxtest-events", "test-image", NULL);
  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  expect_event (first, id, "started/1");
  nlx_test_act_and_wait (f->session, id, "{\"os-stop\": null}", NULL,
                         "SHUTOFF");
  expect_event (first, id, "stopped/4");

  /* Past request_timeout, the streams are still there. */
  g_usleep (3 * G_USEC_PER_SEC);
  nlx_test_act_and_wait (f->session, id, "{\"os-start\": null}", NULL,
                         "ACTIVE");
  expect_event (first, id, "started/1");
  nlx_test_act_and_wait (f->session, id, "{\"pause\": null}", NULL, "PAUSED");
  expect_event (first, id, "paused/3");
  nlx_test_act_and_wait (f->session, id, "{\"unpause\": null}", NULL,
                         "ACTIVE");
  expect_event (first, id, "resumed/1");
  /* A reboot ends where it began: no change to tell. */
  nlx_test_act_and_wait (f->session, id, "{\"reboot\": {\"type\": \"SOFT\"}}",
                         NULL, "ACTIVE");
  nlx_test_delete_and_wait (f->session, id);
  none = next_event (first, 1);
  g_assert_null (none);

  /* The second stream saw the same, in the same order. */
  expect_event (second, id, "started/1");
  expect_event (second, id, "stopped/4");
  expect_event (second, id, "started/1");
  expect_event (second, id, "paused/3");
  expect_event (second, id, "resumed/1");
}

static void
expect_refusal (Fixture *f,
                guint tcp_port,
                const char *status,
                const char *message)
{
  g_autoptr(Reader) reader = open_stream (f, tcp_port);

  g_assert_true (g_str_has_prefix (reader->head, status));
  while (reader_fill (reader, 5000))
    ;
  g_assert_nonnull (strstr (reader->raw->str, message));
}

typedef struct {
  NlxApi *api;
  guint count;
  gboolean done;
} Flood;

static gboolean
flood_cb (gpointer data)
{
  Flood *flood = data;

  for (guint i = 0; i < flood->count; i++)
    nlx_api_publish_power_change (flood->api,
                                  "00000000-0000-4000-8000-000000000001",
                                  i % 2 ? NLX_POWER_STATE_PAUSED
                                        : NLX_POWER_STATE_RUNNING,
                                  i % 2 ? NLX_POWER_STATE_RUNNING
                                        : NLX_POWER_STATE_PAUSED);
  g_atomic_int_set (&flood->done, TRUE);
  return G_SOURCE_REMOVE;
}

/* As the manager's watcher does, from the daemon's own thread. */
static void
publish_many (Fixture *f,
              guint count)
{
  Flood flood = { f->daemon.api, count, FALSE };

  g_main_context_invoke (g_main_loop_get_context (f->daemon.loop), flood_cb,
                         &flood);
  while (!g_atomic_int_get (&flood.done))
    g_usleep (10 * 1000);
}

/* At most max_event_streams (2 here) streams, more are 503; TCP is 403;
 * a reader that stops reading is dropped, one that reads keeps up; a
 * reader that leaves is noticed without an event; every fd comes back. */
static void
test_events_limits (Fixture *f,
                    gconstpointer data G_GNUC_UNUSED)
{
  guint fds_before = nlx_test_count_fds ();
  g_autoptr(Reader) slow = NULL;
  g_autoptr(Reader) fast = NULL;
  g_autoptr(Reader) idle = NULL;
  guint lines = 0;

  g_assert_cmpuint (f->daemon.tcp_port, >, 0);
  expect_refusal (f, f->daemon.tcp_port, "HTTP/1.1 403",
                  "only taken over the Unix socket");

  slow = open_stream (f, 0);
  fast = open_stream (f, 0);
  expect_hello (slow);
  expect_hello (fast);
  expect_refusal (f, 0, "HTTP/1.1 503", "Too many event streams: 2 are open");

  /* 3000 events of some 120 bytes, in batches as they would come: far
   * past what the slow reader's socket and queue hold; the fast one
   * reads each batch as it comes. */
  for (guint batch = 0; batch < 30; batch++)
    {
      publish_many (f, 100);
      for (guint i = 0; i < 100; i++)
        {
          g_autoptr(JsonNode) event = next_event (fast, 5);

          g_assert_nonnull (event);
          lines++;
        }
    }
  g_assert_cmpuint (lines, ==, 3000);
  g_assert_false (fast->ended);

  /* The slow one was cut off: its connection is gone from the daemon,
   * and what it reads now ends before the events do. */
  wait_for_connections (f, 1);
  while (reader_fill (slow, 5000))
    ;
  g_assert_true (slow->ended);
  g_clear_pointer (&slow, reader_free);

  /* A reader that leaves an idle stream frees its place at once. */
  idle = open_stream (f, 0);
  expect_hello (idle);
  wait_for_connections (f, 2);
  g_clear_pointer (&idle, reader_free);
  g_clear_pointer (&fast, reader_free);
  wait_for_connections (f, 0);
  g_assert_cmpuint (nlx_test_count_fds (), <=, fds_before + 2);
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_summary ("The Nova driver's event stream, over the Unix socket, "
                  "on the fake driver.");
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR);

#define ADD(path, func, config) \
  g_test_add (path, Fixture, config, fixture_set_up, func, fixture_tear_down)
  ADD ("/nlx/api/events/lifecycle", test_events_lifecycle,
       "[api]\nrequest_timeout = 2\n");
  ADD ("/nlx/api/events/limits", test_events_limits,
       "[api]\nlisten = 127.0.0.1:0\nauth_token = " TOKEN "\n"
       "max_event_streams = 2\n");
#undef ADD

  return g_test_run ();
}
