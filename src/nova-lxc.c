/* nova-lxc: command-line client of the nova-lxc compute API
 *
 * Speaks the HTTP API of nova-lxc-compute (docs/api.md) over its Unix
 * socket, or over TCP with a token, and prints tables for people or the
 * API's JSON for scripts. */
#include "config.h"

#include <locale.h>
#include <stdio.h>
#include <glib/gi18n-lib.h>
#include <gio/gunixsocketaddress.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#define DEFAULT_SOCKET NLX_RUN_DIR "/compute.sock"
#define API_VERSION_HEADER "compute 2.1"
/* Long enough for any answer of the API, whose slow work runs after it
 * has answered; short enough that a hung daemon does not hang scripts. */
#define REQUEST_TIMEOUT_S 60
#define POLL_INTERVAL_US (G_USEC_PER_SEC / 2)

/* ---- errors ---------------------------------------------------------- */

/**
 * NlxCliError:
 * @NLX_CLI_ERROR_UNREACHABLE: the API could not be reached
 * @NLX_CLI_ERROR_NOT_FOUND: the API answered 404, or no server has the name
 * @NLX_CLI_ERROR_API: the API answered with another error status
 * @NLX_CLI_ERROR_BAD_REPLY: the answer is not what the API promises
 * @NLX_CLI_ERROR_AMBIGUOUS: more than one server has the name
 * @NLX_CLI_ERROR_FAILED: the server ended in the wrong state
 */
typedef enum {
  NLX_CLI_ERROR_UNREACHABLE,
  NLX_CLI_ERROR_NOT_FOUND,
  NLX_CLI_ERROR_API,
  NLX_CLI_ERROR_BAD_REPLY,
  NLX_CLI_ERROR_AMBIGUOUS,
  NLX_CLI_ERROR_FAILED,
} NlxCliError;

#define NLX_CLI_ERROR (nlx_cli_error_quark ())
static GQuark nlx_cli_error_quark (void);
G_DEFINE_QUARK (nlx-cli-error-quark, nlx_cli_error)

/* ---- options --------------------------------------------------------- */

static char *opt_socket = NULL;
static char *opt_url = NULL;
static char *opt_token = NULL;
static gboolean opt_json = FALSE;
static char *opt_flavor = NULL;
static char *opt_image = NULL;
static char **opt_meta = NULL;
static gboolean opt_wait = FALSE;
static gboolean opt_hard = FALSE;
static gboolean opt_length_set = FALSE;
static guint64 opt_length = 0;

static gboolean
parse_length (const char *option_name,
              const char *value,
              gpointer data,
              GError **error)
{
  if (!g_ascii_string_to_unsigned (value, 10, 0, G_MAXINT, &opt_length,
                                   NULL))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("--length wants a number of lines, 0 or more; got “%s”"),
                   value);
      return FALSE;
    }
  opt_length_set = TRUE;
  return TRUE;
}

static const GOptionEntry entries[] = {
  { "socket", 's', 0, G_OPTION_ARG_FILENAME, &opt_socket,
    N_("Unix socket of nova-lxc-compute (default: $NOVA_LXC_SOCKET, else "
       DEFAULT_SOCKET ")"), N_("PATH") },
  { "url", 'u', 0, G_OPTION_ARG_STRING, &opt_url,
    N_("Reach the API over TCP instead, e.g. http://127.0.0.1:8774"),
    N_("URL") },
  { "token", 't', 0, G_OPTION_ARG_STRING, &opt_token,
    N_("Token sent in X-Auth-Token (default: $NOVA_LXC_TOKEN)"),
    N_("TOKEN") },
  { "json", 'j', 0, G_OPTION_ARG_NONE, &opt_json,
    N_("Print the API's JSON answer instead of a table"), NULL },
  { "flavor", 'f', 0, G_OPTION_ARG_STRING, &opt_flavor,
    N_("boot: the flavor (see flavor-list)"), N_("FLAVOR") },
  { "image", 'i', 0, G_OPTION_ARG_STRING, &opt_image,
    N_("boot: the image (see image-list)"), N_("IMAGE") },
  { "meta", 'm', 0, G_OPTION_ARG_STRING_ARRAY, &opt_meta,
    N_("boot: a metadata item; may be repeated"), N_("KEY=VALUE") },
  { "wait", 'w', 0, G_OPTION_ARG_NONE, &opt_wait,
    N_("boot, delete: wait until the server is ACTIVE or ERROR, or gone"),
    NULL },
  { "hard", 0, 0, G_OPTION_ARG_NONE, &opt_hard,
    N_("reboot: stop the server at once instead of asking its init"), NULL },
  { "length", 'n', 0, G_OPTION_ARG_CALLBACK, parse_length,
    N_("console-log: how many lines from the end (default: all)"),
    N_("LINES") },
  { NULL }
};

static const char summary[] = N_(
  "Commands:\n"
  "  boot NAME --flavor F --image I [--meta K=V ...] [--wait]\n"
  "                          create a server\n"
  "  list                    the servers\n"
  "  show SERVER             a server's details\n"
  "  delete [--wait] SERVER  remove a server\n"
  "  reboot [--hard] SERVER\n"
  "  stop SERVER\n"
  "  start SERVER\n"
  "  pause SERVER\n"
  "  unpause SERVER\n"
  "  console-log [--length N] SERVER\n"
  "  flavor-list             the flavors servers can be booted with\n"
  "  image-list              the images servers can be booted from\n"
  "  hypervisor-stats        what this host has and uses\n"
  "\n"
  "SERVER is a server's ID or, when no other server has it, its name.");

/* ---- the API client -------------------------------------------------- */

typedef struct {
  SoupSession *session;
  char *base_url;   /* ends before "/v2.1" */
  char *socket_path; /* NULL over TCP */
  char *token;
} NlxClient;

static void
nlx_client_free (NlxClient *client)
{
  g_clear_object (&client->session);
  g_free (client->base_url);
  g_free (client->socket_path);
  g_free (client->token);
  g_free (client);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NlxClient, nlx_client_free)

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

static NlxClient *
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
        "timeout", REQUEST_TIMEOUT_S, "user-agent", user_agent, NULL);
    }
  else
    {
      g_autoptr(GSocketAddress) address =
        g_unix_socket_address_new (socket_path);

      /* Over the socket the host part is ignored by the daemon. */
      client->base_url = g_strdup ("http://localhost");
      client->socket_path = g_strdup (socket_path);
      client->session = soup_session_new_with_options (
        "remote-connectable", address, "timeout", REQUEST_TIMEOUT_S,
        "user-agent", user_agent, NULL);
    }
  client->token = g_strdup (token);
  return g_steal_pointer (&client);
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

static JsonNode *
parse_json (GBytes *bytes,
            GError **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  gsize len = 0;
  const char *data = g_bytes_get_data (bytes, &len);

  if (len == 0)
    return json_node_new (JSON_NODE_NULL);
  if (!json_parser_load_from_data (parser, data, len, error))
    return NULL;
  return json_node_copy (json_parser_get_root (parser));
}

/**
 * nlx_client_call:
 * @body: (nullable): the request body
 *
 * Sends one request and returns the answer's JSON (a null node when the
 * answer has no body).  An error status becomes an error carrying the
 * API's fault message; 404 has its own code so callers can tell "gone".
 */
static JsonNode *
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

/* ---- reading answers ------------------------------------------------- */

/* Member NAME of ROOT, which must be of TYPE (the answers' fixed shapes). */
static JsonNode *
get_member (JsonNode *root,
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

/* A string member of OBJECT, or NULL when it is absent, null or no
 * string. */
static const char *
get_string (JsonObject *object,
            const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

/* Nova's power state names, as the nova client prints them. */
static char *
power_state_name (JsonNode *node)
{
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64)
    return g_strdup ("-");
  switch (json_node_get_int (node))
    {
    case 0:
      return g_strdup (_("NOSTATE"));
    case 1:
      return g_strdup (_("Running"));
    case 3:
      return g_strdup (_("Paused"));
    case 4:
      return g_strdup (_("Shutdown"));
    case 6:
      return g_strdup (_("Crashed"));
    case 7:
      return g_strdup (_("Suspended"));
    default:
      return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (node));
    }
}

/* How a value reads in a table: null as "-", scalars as themselves,
 * objects and arrays as compact JSON. */
static char *
display_value (JsonNode *node)
{
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return g_strdup ("-");
  if (JSON_NODE_HOLDS_VALUE (node))
    {
      GType type = json_node_get_value_type (node);

      if (type == G_TYPE_STRING)
        return g_strdup (json_node_get_string (node));
      if (type == G_TYPE_INT64)
        return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (node));
      if (type == G_TYPE_DOUBLE)
        {
          char buf[G_ASCII_DTOSTR_BUF_SIZE];

          g_ascii_dtostr (buf, sizeof buf, json_node_get_double (node));
          /* 1.0 stays a float to the eye, as Python prints it. */
          if (strspn (buf, "-0123456789") == strlen (buf))
            return g_strconcat (buf, ".0", NULL);
          return g_strdup (buf);
        }
      if (type == G_TYPE_BOOLEAN)
        return g_strdup (json_node_get_boolean (node) ? "True" : "False");
    }
  return json_to_string (node, FALSE);
}

static char *
display_member (JsonObject *object,
                const char *name)
{
  return display_value (json_object_get_member (object, name));
}

/* ---- output ---------------------------------------------------------- */

/* Written as bytes: g_print would convert to the locale's charset and
 * mangle JSON and console logs in a C locale. */
static void
write_stdout (const char *text)
{
  fwrite (text, 1, strlen (text), stdout);
}

static void
print_json (JsonNode *root)
{
  g_autofree char *text = NULL;

  if (root == NULL || JSON_NODE_HOLDS_NULL (root))
    return;
  text = json_to_string (root, TRUE);
  write_stdout (text);
  write_stdout ("\n");
}

/* Columns a string takes on a terminal. */
static gsize
text_width (const char *text)
{
  gsize width = 0;

  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (g_unichar_iszerowidth (c))
        continue;
      width += g_unichar_iswide (c) ? 2 : 1;
    }
  return width;
}

static void
print_rule (GString *out,
            const gsize *widths,
            guint n_columns)
{
  g_string_append_c (out, '+');
  for (guint c = 0; c < n_columns; c++)
    {
      for (gsize i = 0; i < widths[c] + 2; i++)
        g_string_append_c (out, '-');
      g_string_append_c (out, '+');
    }
  g_string_append_c (out, '\n');
}

/* One row; a cell holding newlines takes several lines. */
static void
print_row (GString *out,
           const gsize *widths,
           guint n_columns,
           char **cells)
{
  g_autofree GStrv *lines = g_new0 (GStrv, n_columns);
  guint height = 1;

  for (guint c = 0; c < n_columns; c++)
    {
      lines[c] = g_strsplit (cells[c], "\n", -1);
      height = MAX (height, g_strv_length (lines[c]));
    }
  for (guint row = 0; row < height; row++)
    {
      g_string_append_c (out, '|');
      for (guint c = 0; c < n_columns; c++)
        {
          const char *line = row < g_strv_length (lines[c]) ? lines[c][row]
                                                            : "";

          g_string_append_printf (out, " %s%*s |", line,
                                  (int) (widths[c] - text_width (line)), "");
        }
      g_string_append_c (out, '\n');
    }
  for (guint c = 0; c < n_columns; c++)
    g_strfreev (lines[c]);
}

/**
 * print_table:
 * @headers: the column titles, NULL-terminated
 * @rows: (element-type GStrv): one array of cells per row
 *
 * Prints a boxed table with aligned columns, as the nova client does.
 */
static void
print_table (const char * const *headers,
             GPtrArray *rows)
{
  guint n_columns = g_strv_length ((GStrv) headers);
  g_autofree gsize *widths = g_new0 (gsize, n_columns);
  g_autoptr(GString) out = g_string_new (NULL);

  for (guint c = 0; c < n_columns; c++)
    widths[c] = text_width (headers[c]);
  for (guint r = 0; r < rows->len; r++)
    {
      char **cells = g_ptr_array_index (rows, r);

      for (guint c = 0; c < n_columns; c++)
        {
          g_auto(GStrv) lines = g_strsplit (cells[c], "\n", -1);

          for (guint i = 0; lines[i] != NULL; i++)
            widths[c] = MAX (widths[c], text_width (lines[i]));
        }
    }

  print_rule (out, widths, n_columns);
  print_row (out, widths, n_columns, (GStrv) headers);
  print_rule (out, widths, n_columns);
  for (guint r = 0; r < rows->len; r++)
    print_row (out, widths, n_columns, g_ptr_array_index (rows, r));
  print_rule (out, widths, n_columns);
  write_stdout (out->str);
}

static GPtrArray *
rows_new (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return g_strcmp0 (a, b);
}

/* An object as Property/Value rows, sorted by property, links left out. */
static void
print_properties (JsonObject *object)
{
  const char *headers[] = { _("Property"), _("Value"), NULL };
  g_autoptr(GPtrArray) rows = rows_new ();
  g_autoptr(GList) names = json_object_get_members (object);

  names = g_list_sort (names, compare_strings);
  for (GList *l = names; l != NULL; l = l->next)
    {
      const char *name = l->data;
      JsonNode *value = json_object_get_member (object, name);
      char **row = g_new0 (char *, 3);

      if (g_str_equal (name, "links"))
        {
          g_free (row);
          continue;
        }
      row[0] = g_strdup (name);
      if (g_str_equal (name, "OS-EXT-STS:power_state"))
        row[1] = power_state_name (value);
      else if ((g_str_equal (name, "flavor") || g_str_equal (name, "image")) &&
               JSON_NODE_HOLDS_OBJECT (value) &&
               get_string (json_node_get_object (value), "id") != NULL)
        row[1] = g_strdup (get_string (json_node_get_object (value), "id"));
      else
        row[1] = display_value (value);
      g_ptr_array_add (rows, row);
    }
  print_table (headers, rows);
}

static void
print_server (JsonNode *root)
{
  if (opt_json)
    print_json (root);
  else
    print_properties (json_node_get_object (
      json_object_get_member (json_node_get_object (root), "server")));
}

/* Prints a plain message for people; scripts using --json get only JSON
 * on standard output. */
static void
print_note (const char *text)
{
  if (!opt_json)
    {
      write_stdout (text);
      write_stdout ("\n");
    }
}

/* ---- servers --------------------------------------------------------- */

static char *
server_path (const char *id,
             const char *suffix)
{
  g_autofree char *escaped = g_uri_escape_string (id, NULL, FALSE);

  return g_strconcat ("/servers/", escaped, suffix, NULL);
}

/* GET /servers/ID, checked to hold a server object. */
static JsonNode *
get_server (NlxClient *client,
            const char *id,
            GError **error)
{
  g_autofree char *path = server_path (id, "");
  g_autoptr(JsonNode) root = nlx_client_call (client, "GET", path, NULL,
                                              error);

  if (root == NULL || get_member (root, "server", JSON_NODE_OBJECT,
                                  error) == NULL)
    return NULL;
  return g_steal_pointer (&root);
}

/* The id of the one server named NAME. */
static char *
find_server_by_name (NlxClient *client,
                     const char *name,
                     GError **error)
{
  g_autoptr(JsonNode) root = nlx_client_call (client, "GET", "/servers",
                                              NULL, error);
  g_autoptr(GPtrArray) ids = g_ptr_array_new ();
  JsonNode *servers;
  JsonArray *array;

  if (root == NULL)
    return NULL;
  servers = get_member (root, "servers", JSON_NODE_ARRAY, error);
  if (servers == NULL)
    return NULL;
  array = json_node_get_array (servers);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      JsonObject *server;
      const char *id;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      server = json_node_get_object (node);
      id = get_string (server, "id");
      if (id != NULL && g_strcmp0 (get_string (server, "name"), name) == 0)
        g_ptr_array_add (ids, (gpointer) id);
    }

  if (ids->len == 0)
    {
      g_set_error (error, NLX_CLI_ERROR, NLX_CLI_ERROR_NOT_FOUND,
                   _("No server named “%s” (HTTP 404)"), name);
      return NULL;
    }
  if (ids->len > 1)
    {
      g_autofree char *list = NULL;

      g_ptr_array_add (ids, NULL);
      list = g_strjoinv (", ", (GStrv) ids->pdata);
      g_set_error (error, NLX_CLI_ERROR, NLX_CLI_ERROR_AMBIGUOUS,
                   _("More than one server is named “%s”; name the one you "
                     "mean by its ID: %s"), name, list);
      return NULL;
    }
  return g_strdup (g_ptr_array_index (ids, 0));
}

/**
 * resolve_server:
 * @ref: a server's id or name, as the user gave it
 * @server_out: (out) (optional) (nullable): the server's GET answer when
 *   it was fetched on the way
 *
 * A uuid is looked up as an id first; a name, or a uuid no server has as
 * id, is matched against the names of all servers.
 *
 * Returns: the server's id
 */
static char *
resolve_server (NlxClient *client,
                const char *ref,
                JsonNode **server_out,
                GError **error)
{
  g_autoptr(GError) by_id_error = NULL;
  g_autoptr(GError) by_name_error = NULL;
  char *id;

  if (g_uuid_string_is_valid (ref))
    {
      g_autofree char *lower = g_ascii_strdown (ref, -1);
      g_autoptr(JsonNode) root = get_server (client, lower, &by_id_error);

      if (root != NULL)
        {
          if (server_out != NULL)
            *server_out = g_steal_pointer (&root);
          return g_steal_pointer (&lower);
        }
      if (!g_error_matches (by_id_error, NLX_CLI_ERROR,
                            NLX_CLI_ERROR_NOT_FOUND))
        {
          g_propagate_error (error, g_steal_pointer (&by_id_error));
          return NULL;
        }
    }

  id = find_server_by_name (client, ref, &by_name_error);
  if (id == NULL)
    {
      /* For a uuid, the API's own "not found" says it best. */
      if (by_id_error != NULL &&
          g_error_matches (by_name_error, NLX_CLI_ERROR,
                           NLX_CLI_ERROR_NOT_FOUND))
        g_propagate_error (error, g_steal_pointer (&by_id_error));
      else
        g_propagate_error (error, g_steal_pointer (&by_name_error));
      return NULL;
    }
  return id;
}

/* Reports on standard error how the server stands, when it changed. */
static void
report_progress (const char *label,
                 JsonObject *server,
                 char **last)
{
  const char *task = get_string (server, "OS-EXT-STS:task_state");
  g_autofree char *status = display_member (server, "status");
  g_autofree char *power = power_state_name (
    json_object_get_member (server, "OS-EXT-STS:power_state"));
  g_autofree char *line = g_strdup_printf (
    _("Server %s: status %s, task state %s, power state %s"),
    label, status, task ? task : "-", power);

  if (g_strcmp0 (line, *last) != 0)
    {
      g_printerr ("nova-lxc: %s\n", line);
      g_free (*last);
      *last = g_steal_pointer (&line);
    }
}

/* Polls until the server has left BUILD; returns its last GET answer. */
static JsonNode *
wait_for_build (NlxClient *client,
                const char *id,
                const char *label,
                GError **error)
{
  g_autofree char *last = NULL;

  for (;;)
    {
      g_autoptr(JsonNode) root = get_server (client, id, error);
      JsonObject *server;

      if (root == NULL)
        return NULL;
      server = json_node_get_object (
        json_object_get_member (json_node_get_object (root), "server"));
      report_progress (label, server, &last);
      if (g_strcmp0 (get_string (server, "status"), "BUILD") != 0)
        return g_steal_pointer (&root);
      g_usleep (POLL_INTERVAL_US);
    }
}

/* Polls until the server is gone; fails when it stops being deleted. */
static gboolean
wait_for_deletion (NlxClient *client,
                   const char *id,
                   const char *label,
                   GError **error)
{
  g_autofree char *last = NULL;

  for (;;)
    {
      g_autoptr(GError) local_error = NULL;
      g_autoptr(JsonNode) root = get_server (client, id, &local_error);
      JsonObject *server;
      JsonNode *fault;
      const char *message = NULL;

      if (root == NULL)
        {
          if (g_error_matches (local_error, NLX_CLI_ERROR,
                               NLX_CLI_ERROR_NOT_FOUND))
            return TRUE;
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      server = json_node_get_object (
        json_object_get_member (json_node_get_object (root), "server"));
      report_progress (label, server, &last);
      if (g_strcmp0 (get_string (server, "OS-EXT-STS:task_state"),
                     "deleting") == 0)
        {
          g_usleep (POLL_INTERVAL_US);
          continue;
        }

      /* The API keeps "deleting" until the server is gone, so a server
       * still there without it was not deleted. */
      fault = json_object_get_member (server, "fault");
      if (fault != NULL && JSON_NODE_HOLDS_OBJECT (fault))
        message = get_string (json_node_get_object (fault), "message");
      if (message != NULL)
        g_set_error (error, NLX_CLI_ERROR, NLX_CLI_ERROR_FAILED,
                     _("Deleting server %s failed: %s"), label, message);
      else
        g_set_error (error, NLX_CLI_ERROR, NLX_CLI_ERROR_FAILED,
                     _("Server %s is still there (status %s) but no longer "
                       "being deleted; see the nova-lxc-compute log"),
                     label, get_string (server, "status"));
      return FALSE;
    }
}

/* ---- commands -------------------------------------------------------- */

static gboolean
cmd_boot (NlxClient *client,
          char **args,
          GError **error)
{
  const char *name = args[0];
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) body = NULL;
  g_autoptr(JsonNode) created = NULL;
  g_autoptr(JsonNode) root = NULL;
  JsonNode *id_node;
  const char *id;
  JsonObject *server;
  const char *status;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "server");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, name);
  json_builder_set_member_name (builder, "flavorRef");
  json_builder_add_string_value (builder, opt_flavor);
  json_builder_set_member_name (builder, "imageRef");
  json_builder_add_string_value (builder, opt_image);
  if (opt_meta != NULL)
    {
      json_builder_set_member_name (builder, "metadata");
      json_builder_begin_object (builder);
      for (guint i = 0; opt_meta[i] != NULL; i++)
        {
          g_auto(GStrv) kv = g_strsplit (opt_meta[i], "=", 2);

          json_builder_set_member_name (builder, kv[0]);
          json_builder_add_string_value (builder, kv[1]);
        }
      json_builder_end_object (builder);
    }
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);

  created = nlx_client_call (client, "POST", "/servers", body, error);
  if (created == NULL)
    return FALSE;
  id_node = get_member (created, "server", JSON_NODE_OBJECT, error);
  if (id_node == NULL)
    return FALSE;
  id = get_string (json_node_get_object (id_node), "id");
  if (id == NULL)
    {
      g_set_error (error, NLX_CLI_ERROR, NLX_CLI_ERROR_BAD_REPLY,
                   _("The API's answer lacks “%s” or it has the wrong type; "
                     "is this nova-lxc-compute, and as new as this "
                     "program?"), "server.id");
      return FALSE;
    }

  root = opt_wait ? wait_for_build (client, id, name, error)
                  : get_server (client, id, error);
  if (root == NULL)
    return FALSE;
  /* Printed even on ERROR: the caller needs the id to clean up. */
  print_server (root);
  if (!opt_wait)
    return TRUE;

  server = json_node_get_object (
    json_object_get_member (json_node_get_object (root), "server"));
  status = get_string (server, "status");
  if (g_strcmp0 (status, "ERROR") == 0)
    {
      JsonNode *fault = json_object_get_member (server, "fault");
      const char *message = NULL;

      if (fault != NULL && JSON_NODE_HOLDS_OBJECT (fault))
        message = get_string (json_node_get_object (fault), "message");
      if (message != NULL)
        g_set_error (error, NLX_CLI_ERROR, NLX_CLI_ERROR_FAILED,
                     _("Server %s (%s) went into ERROR: %s"), name, id,
                     message);
      else
        g_set_error (error, NLX_CLI_ERROR, NLX_CLI_ERROR_FAILED,
                     _("Server %s (%s) went into ERROR with no fault "
                       "message; see the nova-lxc-compute log"), name, id);
      return FALSE;
    }
  if (g_strcmp0 (status, "ACTIVE") != 0)
    {
      g_set_error (error, NLX_CLI_ERROR, NLX_CLI_ERROR_FAILED,
                   _("Server %s (%s) ended in status %s instead of ACTIVE"),
                   name, id, status ? status : "-");
      return FALSE;
    }
  return TRUE;
}

static gboolean
cmd_list (NlxClient *client,
          char **args,
          GError **error)
{
  const char *headers[] = {
    _("ID"), _("Name"), _("Status"), _("Task State"), _("Power State"), NULL
  };
  g_autoptr(JsonNode) root = nlx_client_call (client, "GET",
                                              "/servers/detail", NULL,
                                              error);
  g_autoptr(GPtrArray) rows = rows_new ();
  JsonNode *servers;
  JsonArray *array;

  if (root == NULL)
    return FALSE;
  servers = get_member (root, "servers", JSON_NODE_ARRAY, error);
  if (servers == NULL)
    return FALSE;
  if (opt_json)
    {
      print_json (root);
      return TRUE;
    }
  array = json_node_get_array (servers);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      JsonObject *server;
      char **row;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      server = json_node_get_object (node);
      row = g_new0 (char *, 6);
      row[0] = display_member (server, "id");
      row[1] = display_member (server, "name");
      row[2] = display_member (server, "status");
      row[3] = display_member (server, "OS-EXT-STS:task_state");
      row[4] = power_state_name (json_object_get_member (
        server, "OS-EXT-STS:power_state"));
      g_ptr_array_add (rows, row);
    }
  print_table (headers, rows);
  return TRUE;
}

static gboolean
cmd_show (NlxClient *client,
          char **args,
          GError **error)
{
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *id = resolve_server (client, args[0], &root, error);

  if (id == NULL)
    return FALSE;
  if (root == NULL)
    root = get_server (client, id, error);
  if (root == NULL)
    return FALSE;
  print_server (root);
  return TRUE;
}

static gboolean
cmd_delete (NlxClient *client,
            char **args,
            GError **error)
{
  const char *label = args[0];
  g_autofree char *id = resolve_server (client, label, NULL, error);
  g_autofree char *path = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *note = NULL;

  if (id == NULL)
    return FALSE;
  path = server_path (id, "");
  root = nlx_client_call (client, "DELETE", path, NULL, error);
  if (root == NULL)
    return FALSE;
  if (opt_json)
    print_json (root);
  note = g_strdup_printf (_("Request to delete server %s has been "
                            "accepted."), label);
  print_note (note);
  if (!opt_wait)
    return TRUE;
  if (!wait_for_deletion (client, id, label, error))
    return FALSE;
  g_clear_pointer (&note, g_free);
  note = g_strdup_printf (_("Server %s has been deleted."), label);
  print_note (note);
  return TRUE;
}

/* POSTs an action, answered 202 with no body, to the server REF names. */
static gboolean
run_action (NlxClient *client,
            const char *ref,
            JsonNode *body,
            GError **error)
{
  g_autofree char *id = resolve_server (client, ref, NULL, error);
  g_autofree char *path = NULL;
  g_autoptr(JsonNode) root = NULL;

  if (id == NULL)
    return FALSE;
  path = server_path (id, "/action");
  root = nlx_client_call (client, "POST", path, body, error);
  if (root == NULL)
    return FALSE;
  if (opt_json)
    print_json (root);
  return TRUE;
}

/* {"ACTION": null} */
static JsonNode *
action_body (const char *action)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, action);
  json_builder_add_null_value (builder);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

static gboolean
cmd_reboot (NlxClient *client,
            char **args,
            GError **error)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) body = NULL;
  g_autofree char *note = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "reboot");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, opt_hard ? "HARD" : "SOFT");
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  if (!run_action (client, args[0], body, error))
    return FALSE;
  if (opt_hard)
    note = g_strdup_printf (_("Request to hard-reboot server %s has been "
                              "accepted."), args[0]);
  else
    note = g_strdup_printf (_("Request to reboot server %s has been "
                              "accepted."), args[0]);
  print_note (note);
  return TRUE;
}

static gboolean
cmd_stop (NlxClient *client,
          char **args,
          GError **error)
{
  g_autoptr(JsonNode) body = action_body ("os-stop");

  g_autofree char *note = NULL;

  if (!run_action (client, args[0], body, error))
    return FALSE;
  note = g_strdup_printf (_("Request to stop server %s has been accepted."), args[0]);
  print_note (note);
  return TRUE;
}

static gboolean
cmd_start (NlxClient *client,
           char **args,
           GError **error)
{
  g_autoptr(JsonNode) body = action_body ("os-start");

  g_autofree char *note = NULL;

  if (!run_action (client, args[0], body, error))
    return FALSE;
  note = g_strdup_printf (_("Request to start server %s has been accepted."), args[0]);
  print_note (note);
  return TRUE;
}

static gboolean
cmd_pause (NlxClient *client,
           char **args,
           GError **error)
{
  g_autoptr(JsonNode) body = action_body ("pause");

  g_autofree char *note = NULL;

  if (!run_action (client, args[0], body, error))
    return FALSE;
  note = g_strdup_printf (_("Request to pause server %s has been accepted."), args[0]);
  print_note (note);
  return TRUE;
}

static gboolean
cmd_unpause (NlxClient *client,
             char **args,
             GError **error)
{
  g_autoptr(JsonNode) body = action_body ("unpause");

  g_autofree char *note = NULL;

  if (!run_action (client, args[0], body, error))
    return FALSE;
  note = g_strdup_printf (_("Request to unpause server %s has been accepted."), args[0]);
  print_note (note);
  return TRUE;
}

static gboolean
cmd_console_log (NlxClient *client,
                 char **args,
                 GError **error)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) body = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *id = NULL;
  g_autofree char *path = NULL;
  JsonNode *output;

  id = resolve_server (client, args[0], NULL, error);
  if (id == NULL)
    return FALSE;
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "os-getConsoleOutput");
  json_builder_begin_object (builder);
  if (opt_length_set)
    {
      json_builder_set_member_name (builder, "length");
      json_builder_add_int_value (builder, (gint64) opt_length);
    }
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);

  path = server_path (id, "/action");
  root = nlx_client_call (client, "POST", path, body, error);
  if (root == NULL)
    return FALSE;
  output = get_member (root, "output", JSON_NODE_VALUE, error);
  if (output == NULL)
    return FALSE;
  if (opt_json)
    print_json (root);
  else if (json_node_get_string (output) != NULL)
    /* As the console wrote it: no newline added. */
    write_stdout (json_node_get_string (output));
  return TRUE;
}

static gboolean
cmd_flavor_list (NlxClient *client,
                 char **args,
                 GError **error)
{
  const char *headers[] = {
    _("ID"), _("Name"), _("Memory_MB"), _("Disk"), _("Ephemeral"),
    _("Swap"), _("VCPUs"), _("RXTX_Factor"), _("Is_Public"), NULL
  };
  static const char * const members[] = {
    "id", "name", "ram", "disk", "OS-FLV-EXT-DATA:ephemeral", "swap",
    "vcpus", "rxtx_factor", "os-flavor-access:is_public"
  };
  g_autoptr(JsonNode) root = nlx_client_call (client, "GET",
                                              "/flavors/detail", NULL,
                                              error);
  g_autoptr(GPtrArray) rows = rows_new ();
  JsonNode *flavors;
  JsonArray *array;

  if (root == NULL)
    return FALSE;
  flavors = get_member (root, "flavors", JSON_NODE_ARRAY, error);
  if (flavors == NULL)
    return FALSE;
  if (opt_json)
    {
      print_json (root);
      return TRUE;
    }
  array = json_node_get_array (flavors);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      char **row;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      row = g_new0 (char *, G_N_ELEMENTS (members) + 1);
      for (guint c = 0; c < G_N_ELEMENTS (members); c++)
        row[c] = display_member (json_node_get_object (node), members[c]);
      g_ptr_array_add (rows, row);
    }
  print_table (headers, rows);
  return TRUE;
}

static gboolean
cmd_image_list (NlxClient *client,
                char **args,
                GError **error)
{
  const char *headers[] = { _("ID"), _("Name"), _("Status"), NULL };
  g_autoptr(JsonNode) root = nlx_client_call (client, "GET",
                                              "/images/detail", NULL,
                                              error);
  g_autoptr(GPtrArray) rows = rows_new ();
  JsonNode *images;
  JsonArray *array;

  if (root == NULL)
    return FALSE;
  images = get_member (root, "images", JSON_NODE_ARRAY, error);
  if (images == NULL)
    return FALSE;
  if (opt_json)
    {
      print_json (root);
      return TRUE;
    }
  array = json_node_get_array (images);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      JsonObject *image;
      char **row;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      image = json_node_get_object (node);
      row = g_new0 (char *, 4);
      row[0] = display_member (image, "id");
      row[1] = display_member (image, "name");
      row[2] = display_member (image, "status");
      g_ptr_array_add (rows, row);
    }
  print_table (headers, rows);
  return TRUE;
}

static gboolean
cmd_hypervisor_stats (NlxClient *client,
                      char **args,
                      GError **error)
{
  g_autoptr(JsonNode) root = nlx_client_call (client, "GET",
                                              "/os-hypervisors/statistics",
                                              NULL, error);
  JsonNode *stats;

  if (root == NULL)
    return FALSE;
  stats = get_member (root, "hypervisor_statistics", JSON_NODE_OBJECT,
                      error);
  if (stats == NULL)
    return FALSE;
  if (opt_json)
    print_json (root);
  else
    print_properties (json_node_get_object (stats));
  return TRUE;
}

/* ---- usage ----------------------------------------------------------- */

/* Options that belong to one or two commands. */
typedef enum {
  OPT_FLAVOR = 1 << 0,
  OPT_IMAGE = 1 << 1,
  OPT_META = 1 << 2,
  OPT_WAIT = 1 << 3,
  OPT_HARD = 1 << 4,
  OPT_LENGTH = 1 << 5,
} NlxCommandOption;

typedef gboolean (*NlxCommandFunc) (NlxClient *client,
                                    char **args,
                                    GError **error);

typedef struct {
  const char *name;
  guint n_args;
  guint options;
  NlxCommandFunc run;
} NlxCommand;

static const NlxCommand commands[] = {
  { "boot", 1, OPT_FLAVOR | OPT_IMAGE | OPT_META | OPT_WAIT, cmd_boot },
  { "list", 0, 0, cmd_list },
  { "show", 1, 0, cmd_show },
  { "delete", 1, OPT_WAIT, cmd_delete },
  { "reboot", 1, OPT_HARD, cmd_reboot },
  { "stop", 1, 0, cmd_stop },
  { "start", 1, 0, cmd_start },
  { "pause", 1, 0, cmd_pause },
  { "unpause", 1, 0, cmd_unpause },
  { "console-log", 1, OPT_LENGTH, cmd_console_log },
  { "flavor-list", 0, 0, cmd_flavor_list },
  { "image-list", 0, 0, cmd_image_list },
  { "hypervisor-stats", 0, 0, cmd_hypervisor_stats },
};

static gboolean
check_meta (GError **error)
{
  g_autoptr(GHashTable) keys = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                      g_free, NULL);

  for (guint i = 0; opt_meta != NULL && opt_meta[i] != NULL; i++)
    {
      const char *item = opt_meta[i];
      const char *eq = strchr (item, '=');
      g_autofree char *key = NULL;

      if (eq == NULL || eq == item)
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       _("--meta wants KEY=VALUE with a non-empty KEY; "
                         "got “%s”"), item);
          return FALSE;
        }
      key = g_strndup (item, eq - item);
      if (g_hash_table_contains (keys, key))
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       _("--meta gives the key “%s” twice"), key);
          return FALSE;
        }
      g_hash_table_add (keys, g_steal_pointer (&key));
    }
  return TRUE;
}

static gboolean
check_url (const char *url,
           GError **error)
{
  g_autoptr(GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  const char *scheme = uri ? g_uri_get_scheme (uri) : NULL;

  if (uri == NULL ||
      (g_ascii_strcasecmp (scheme, "http") != 0 &&
       g_ascii_strcasecmp (scheme, "https") != 0) ||
      g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0' ||
      g_uri_get_query (uri) != NULL || g_uri_get_fragment (uri) != NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("--url wants an http:// or https:// URL such as "
                     "http://127.0.0.1:8774; got “%s”"), url);
      return FALSE;
    }
  return TRUE;
}

/* Whether the arguments make a command, checked before any connection so
 * a typo costs nothing. */
static const NlxCommand *
check_usage (int argc,
             char **argv,
             GError **error)
{
  const NlxCommand *command = NULL;
  struct {
    guint option;
    gboolean given;
    const char *name;
  } given[] = {
    { OPT_FLAVOR, opt_flavor != NULL, "flavor" },
    { OPT_IMAGE, opt_image != NULL, "image" },
    { OPT_META, opt_meta != NULL, "meta" },
    { OPT_WAIT, opt_wait, "wait" },
    { OPT_HARD, opt_hard, "hard" },
    { OPT_LENGTH, opt_length_set, "length" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_str_equal (commands[i].name, argv[1]))
      command = &commands[i];
  if (command == NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   _("Unknown command “%s”; see --help"), argv[1]);
      return NULL;
    }
  if ((guint) argc - 2 != command->n_args)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   _("Wrong arguments for “%s”; see --help"), command->name);
      return NULL;
    }
  for (int i = 2; i < argc; i++)
    if (*argv[i] == '\0' || !g_utf8_validate (argv[i], -1, NULL))
      {
        g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                     _("“%s” needs a non-empty name or ID in UTF-8"),
                     command->name);
        return NULL;
      }
  for (guint i = 0; i < G_N_ELEMENTS (given); i++)
    if (given[i].given && !(command->options & given[i].option))
      {
        g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                     _("“%s” does not take --%s; see --help"),
                     command->name, given[i].name);
        return NULL;
      }
  if (g_str_equal (command->name, "boot") &&
      (opt_flavor == NULL || *opt_flavor == '\0' ||
       opt_image == NULL || *opt_image == '\0'))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   _("“boot” needs --flavor and --image (see flavor-list and "
                     "image-list)"));
      return NULL;
    }
  if (!check_meta (error))
    return NULL;
  if (opt_url != NULL && opt_socket != NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   _("--url and --socket exclude each other: --url reaches "
                     "the API over TCP, --socket over a Unix socket"));
      return NULL;
    }
  if (opt_url != NULL && !check_url (opt_url, error))
    return NULL;
  if (opt_socket != NULL && *opt_socket == '\0')
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("--socket wants the path of nova-lxc-compute's socket"));
      return NULL;
    }
  return command;
}

/* An environment variable, NULL when unset or empty. */
static const char *
getenv_nonempty (const char *name)
{
  const char *value = g_getenv (name);

  return value != NULL && *value != '\0' ? value : NULL;
}

int
main (int argc,
      char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(NlxClient) client = NULL;
  const NlxCommand *command;
  const char *socket_path;
  const char *token;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, NLX_LOCALE_DIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  context = g_option_context_new (_("COMMAND [ARGUMENTS] - manage servers "
                                    "of nova-lxc-compute"));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_description (context, _(summary));
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("nova-lxc: %s\n", error->message);
      return 2;
    }
  if (argc < 2)
    {
      g_printerr (_("nova-lxc: no command given; see --help\n"));
      return 2;
    }
  command = check_usage (argc, argv, &error);
  if (command == NULL)
    {
      g_printerr ("nova-lxc: %s\n", error->message);
      return 2;
    }

  socket_path = opt_socket;
  if (socket_path == NULL)
    socket_path = getenv_nonempty ("NOVA_LXC_SOCKET");
  if (socket_path == NULL)
    socket_path = DEFAULT_SOCKET;
  token = opt_token ? opt_token : getenv_nonempty ("NOVA_LXC_TOKEN");
  client = nlx_client_new (socket_path, opt_url, token);

  if (!command->run (client, argv + 2, &error))
    {
      g_printerr ("nova-lxc: %s\n", error->message);
      return 1;
    }
  return 0;
}
