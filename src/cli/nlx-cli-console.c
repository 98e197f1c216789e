/* nlx-cli-console.c: nova-lxc's console-log and its interactive console,
 * a websocket to the server's serial console */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <glib/gi18n-lib.h>
#include <glib-unix.h>

#include "cli/nlx-cli.h"
#include "common/nlx-console-text.h"

gboolean
nlx_cli_cmd_console_log (NlxClient *client,
                         char **args,
                         GError **error)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) body = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *id = NULL;
  g_autofree char *path = NULL;
  JsonNode *output;

  id = nlx_cli_resolve_server (client, args[0], NULL, error);
  if (id == NULL)
    return FALSE;
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "os-getConsoleOutput");
  json_builder_begin_object (builder);
  if (nlx_cli_opt.length_set)
    {
      /* The API counts as Nova does, pieces split at newlines: a log
       * ends with one, whose empty piece is one of them.  N lines are
       * N + 1 pieces. */
      json_builder_set_member_name (builder, "length");
      json_builder_add_int_value (builder, nlx_cli_opt.length > 0
                                             ? (gint64) nlx_cli_opt.length + 1
                                             : (gint64) nlx_cli_opt.length);
    }
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);

  path = nlx_cli_server_path (id, "/action");
  root = nlx_client_call (client, "POST", path, body, error);
  if (root == NULL)
    return FALSE;
  output = nlx_cli_get_member (root, "output", JSON_NODE_VALUE, error);
  if (output == NULL)
    return FALSE;
  if (nlx_cli_opt.json)
    nlx_cli_print_json (root);
  else if (json_node_get_string (output) != NULL)
    {
      /* The daemon neutralised it already; an older or foreign one may
       * not have, and the terminal is ours.  No newline added. */
      g_autofree char *text =
        nlx_console_text_for_display (json_node_get_string (output), -1);

      nlx_cli_write_stdout (text);
    }
  return TRUE;
}

/* Ctrl+], as virsh console and telnet leave. */
#define CONSOLE_ESCAPE 0x1d
/* With input from a pipe: how long the console must stay quiet after the
 * input's end before the command ends, so the answer to the last line is
 * printed. */
#define CONSOLE_LINGER_MS 1000

typedef struct {
  GMainLoop *loop;
  SoupWebsocketConnection *ws;
  GError *error;
  gboolean interactive;         /* stdin is a terminal, in raw mode */
  gboolean input_done;
  guint stdin_source;
  guint linger_source;
  gboolean closed_by_server;
} NlxConsole;

/* The terminal as it was, restored on every way out. */
static struct termios saved_termios;
static gboolean termios_saved;

static void
restore_terminal (void)
{
  if (termios_saved)
    {
      tcsetattr (STDIN_FILENO, TCSAFLUSH, &saved_termios);
      termios_saved = FALSE;
    }
}

static gboolean
make_terminal_raw (GError **error)
{
  struct termios raw;

  if (tcgetattr (STDIN_FILENO, &saved_termios) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, NLX_CLI_ERROR, NLX_CLI_ERROR_FAILED,
                   _("Cannot read the terminal's settings: %s"),
                   g_strerror (saved_errno));
      return FALSE;
    }
  raw = saved_termios;
  /* Every key goes to the server, Ctrl+C included: its shell decides. */
  cfmakeraw (&raw);
  termios_saved = TRUE;
  if (tcsetattr (STDIN_FILENO, TCSAFLUSH, &raw) != 0)
    {
      int saved_errno = errno;

      restore_terminal ();
      g_set_error (error, NLX_CLI_ERROR, NLX_CLI_ERROR_FAILED,
                   _("Cannot put the terminal in raw mode: %s"),
                   g_strerror (saved_errno));
      return FALSE;
    }
  return TRUE;
}

static void
write_all (int fd,
           const char *data,
           gsize length)
{
  while (length > 0)
    {
      ssize_t n = write (fd, data, length);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return;
      data += n;
      length -= n;
    }
}

static void
console_quit (NlxConsole *console)
{
  g_main_loop_quit (console->loop);
}

static gboolean
console_linger_done (gpointer data)
{
  NlxConsole *console = data;

  console->linger_source = 0;
  console_quit (console);
  return G_SOURCE_REMOVE;
}

/* After piped input ended: wait for the console to go quiet. */
static void
console_linger (NlxConsole *console)
{
  if (console->linger_source != 0)
    g_source_remove (console->linger_source);
  console->linger_source = g_timeout_add (CONSOLE_LINGER_MS,
                                          console_linger_done, console);
}

static void
console_message (SoupWebsocketConnection *ws G_GNUC_UNUSED,
                 gint type G_GNUC_UNUSED,
                 GBytes *message,
                 gpointer data)
{
  NlxConsole *console = data;
  gsize length;
  const char *bytes = g_bytes_get_data (message, &length);

  write_all (STDOUT_FILENO, bytes, length);
  if (console->input_done)
    console_linger (console);
}

static void
console_closed (SoupWebsocketConnection *ws G_GNUC_UNUSED,
                gpointer data)
{
  NlxConsole *console = data;

  console->closed_by_server = TRUE;
  console_quit (console);
}

static gboolean
console_stdin (int fd,
               GIOCondition condition G_GNUC_UNUSED,
               gpointer data)
{
  NlxConsole *console = data;
  char buffer[4096];
  ssize_t n = read (fd, buffer, sizeof buffer);
  const char *escape;

  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return G_SOURCE_CONTINUE;
  if (n <= 0)
    {
      console->stdin_source = 0;
      console->input_done = TRUE;
      if (console->interactive)
        console_quit (console);
      else
        console_linger (console);
      return G_SOURCE_REMOVE;
    }
  escape = console->interactive ? memchr (buffer, CONSOLE_ESCAPE, n) : NULL;
  if (escape != NULL)
    n = escape - buffer;
  if (n > 0)
    soup_websocket_connection_send_binary (console->ws, buffer, n);
  if (escape != NULL)
    {
      console->stdin_source = 0;
      console_quit (console);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
console_signal (gpointer data)
{
  console_quit (data);
  return G_SOURCE_CONTINUE;
}

typedef struct {
  GMainLoop *loop;
  SoupWebsocketConnection *ws;
  GError *error;
} ConsoleConnect;

static void
console_connected (GObject *source,
                   GAsyncResult *result,
                   gpointer data)
{
  ConsoleConnect *connect = data;

  connect->ws = soup_session_websocket_connect_finish (SOUP_SESSION (source),
                                                       result, &connect->error);
  g_main_loop_quit (connect->loop);
}

/* Asks for a console URL and opens it, over the same socket or host the
 * API was reached on. */
static SoupWebsocketConnection *
console_open (NlxClient *client,
              const char *id,
              GError **error)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) body = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(SoupMessage) message = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autofree char *path = nlx_cli_server_path (id, "/remote-consoles");
  ConsoleConnect connect = { 0 };
  JsonObject *console;
  const char *url;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "remote_console");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "protocol");
  json_builder_add_string_value (builder, "serial");
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, "serial");
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  root = nlx_client_call (client, "POST", path, body, error);
  if (root == NULL || (console = nlx_cli_get_object (root, "remote_console", error)) == NULL)
    return NULL;
  url = json_object_get_string_member_with_default (console, "url", NULL);
  if (url == NULL || (message = soup_message_new ("GET", url)) == NULL)
    {
      g_set_error (error, NLX_CLI_ERROR, NLX_CLI_ERROR_BAD_REPLY,
                   _("The compute service answered no usable console URL"));
      return NULL;
    }
  /* The session's I/O timeout would end a console left idle. */
  nlx_client_set_timeout (client, 0);
  loop = g_main_loop_new (NULL, FALSE);
  connect.loop = loop;
  soup_session_websocket_connect_async (client->session, message, NULL, NULL,
                                        G_PRIORITY_DEFAULT, NULL,
                                        console_connected, &connect);
  g_main_loop_run (loop);
  if (connect.ws == NULL)
    {
      g_set_error (error, NLX_CLI_ERROR, NLX_CLI_ERROR_FAILED,
                   _("Cannot open the console of server %s: %s (HTTP %u)"),
                   id, connect.error->message,
                   soup_message_get_status (message));
      g_clear_error (&connect.error);
      return NULL;
    }
  return connect.ws;
}

gboolean
nlx_cli_cmd_console (NlxClient *client,
                     char **args,
                     GError **error)
{
  g_autofree char *id = nlx_cli_resolve_server (client, args[0], NULL, error);
  g_autoptr(GMainLoop) loop = NULL;
  NlxConsole console = { 0 };
  guint signals[3];
  const int signal_numbers[] = { SIGINT, SIGTERM, SIGHUP };

  if (id == NULL)
    return FALSE;
  console.ws = console_open (client, id, error);
  if (console.ws == NULL)
    return FALSE;
  loop = g_main_loop_new (NULL, FALSE);
  console.loop = loop;
  console.interactive = isatty (STDIN_FILENO);
  if (console.interactive && !make_terminal_raw (error))
    {
      soup_websocket_connection_close (console.ws, SOUP_WEBSOCKET_CLOSE_NORMAL,
                                       NULL);
      g_object_unref (console.ws);
      return FALSE;
    }
  if (console.interactive)
    {
      /* In raw mode a newline does not return the carriage. */
      g_autofree char *note =
        g_strdup_printf (_("Connected to server %s (escape character is ^])"),
                         args[0]);

      fprintf (stderr, "%s\r\n", note);
    }
  for (guint i = 0; i < G_N_ELEMENTS (signals); i++)
    signals[i] = g_unix_signal_add (signal_numbers[i], console_signal, &console);
  g_signal_connect (console.ws, "message", G_CALLBACK (console_message), &console);
  g_signal_connect (console.ws, "closed", G_CALLBACK (console_closed), &console);
  console.stdin_source = g_unix_fd_add (STDIN_FILENO, G_IO_IN | G_IO_HUP | G_IO_ERR,
                                        console_stdin, &console);

  g_main_loop_run (loop);

  restore_terminal ();
  for (guint i = 0; i < G_N_ELEMENTS (signals); i++)
    g_source_remove (signals[i]);
  if (console.stdin_source != 0)
    g_source_remove (console.stdin_source);
  if (console.linger_source != 0)
    g_source_remove (console.linger_source);
  g_signal_handlers_disconnect_by_data (console.ws, &console);
  if (console.closed_by_server && console.interactive)
    fprintf (stderr, "\n%s\n", _("The console was closed by the server."));
  else if (console.interactive)
    fputc ('\n', stderr);
  if (soup_websocket_connection_get_state (console.ws) == SOUP_WEBSOCKET_STATE_OPEN)
    {
      /* A clean close, so the daemon detaches at once. */
      soup_websocket_connection_close (console.ws, SOUP_WEBSOCKET_CLOSE_NORMAL,
                                       NULL);
      for (guint i = 0; i < 50 && soup_websocket_connection_get_state (console.ws) !=
                                  SOUP_WEBSOCKET_STATE_CLOSED; i++)
        g_main_context_iteration (NULL, TRUE);
    }
  g_object_unref (console.ws);
  return TRUE;
}
