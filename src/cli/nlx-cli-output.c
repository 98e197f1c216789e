/* nlx-cli-output.c: how nova-lxc prints the API's answers: boxed tables
 * and Property/Value rows for people, the JSON itself for --json */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <glib/gi18n-lib.h>

#include "cli/nlx-cli.h"
#include "common/nlx-json.h"

/* Nova's power state names, as the nova client prints them. */
char *
nlx_cli_power_state_name (JsonNode *node)
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

char *
nlx_cli_display_member (JsonObject *object,
                        const char *name)
{
  return display_value (json_object_get_member (object, name));
}

/* Written as bytes: g_print would convert to the locale's charset and
 * mangle JSON and console logs in a C locale. */
void
nlx_cli_write_stdout (const char *text)
{
  fwrite (text, 1, strlen (text), stdout);
}

void
nlx_cli_print_json (JsonNode *root)
{
  g_autofree char *text = NULL;

  if (root == NULL || JSON_NODE_HOLDS_NULL (root))
    return;
  text = json_to_string (root, TRUE);
  nlx_cli_write_stdout (text);
  nlx_cli_write_stdout ("\n");
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
 * nlx_cli_print_table:
 * @headers: the column titles, NULL-terminated
 * @rows: (element-type GStrv): one array of cells per row
 *
 * Prints a boxed table with aligned columns, as the nova client does.
 */
void
nlx_cli_print_table (const char * const *headers,
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
  nlx_cli_write_stdout (out->str);
}

GPtrArray *
nlx_cli_rows_new (void)
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
void
nlx_cli_print_properties (JsonObject *object)
{
  const char *headers[] = { _("Property"), _("Value"), NULL };
  g_autoptr(GPtrArray) rows = nlx_cli_rows_new ();
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
        row[1] = nlx_cli_power_state_name (value);
      else if ((g_str_equal (name, "flavor") || g_str_equal (name, "image")) &&
               JSON_NODE_HOLDS_OBJECT (value) &&
               nlx_json_get_string (json_node_get_object (value), "id") != NULL)
        row[1] = g_strdup (nlx_json_get_string (json_node_get_object (value), "id"));
      else if (g_str_equal (name, "image") &&
               (JSON_NODE_HOLDS_OBJECT (value) ||
                (JSON_NODE_HOLDS_VALUE (value) &&
                 json_node_get_value_type (value) == G_TYPE_STRING &&
                 *json_node_get_string (value) == '\0')))
        /* Booted from a volume: Nova answers "", and an image without an
         * id means the same. */
        row[1] = g_strdup ("-");
      else
        row[1] = display_value (value);
      g_ptr_array_add (rows, row);
    }
  nlx_cli_print_table (headers, rows);
}

/* One network's addresses in Nova's "addresses", joined by ", ". */
static char *
network_addresses (JsonNode *network)
{
  g_autoptr(GString) text = g_string_new (NULL);
  JsonArray *array;

  if (network == NULL || !JSON_NODE_HOLDS_ARRAY (network))
    return g_strdup ("-");
  array = json_node_get_array (network);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *element = json_array_get_element (array, i);
      const char *addr;

      if (!JSON_NODE_HOLDS_OBJECT (element) ||
          (addr = nlx_json_get_string (json_node_get_object (element), "addr")) == NULL)
        continue;
      if (text->len > 0)
        g_string_append (text, ", ");
      g_string_append (text, addr);
    }
  if (text->len == 0)
    return g_strdup ("-");
  return g_string_free (g_steal_pointer (&text), FALSE);
}

/* The server's "addresses" member as an object, or NULL. */
static JsonObject *
server_addresses (JsonObject *server)
{
  JsonNode *node = json_object_get_member (server, "addresses");

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;
  return json_node_get_object (node);
}

/* list's "Networks" cell, as the nova client has it:
 * "net=10.0.0.2, 10.0.0.3; net2=10.1.0.2". */
char *
nlx_cli_list_networks (JsonObject *server)
{
  JsonObject *addresses = server_addresses (server);
  g_autoptr(GList) names = NULL;
  g_autoptr(GString) text = g_string_new (NULL);

  if (addresses == NULL)
    return g_strdup ("-");
  names = g_list_sort (json_object_get_members (addresses), compare_strings);
  for (GList *l = names; l != NULL; l = l->next)
    {
      g_autofree char *list = network_addresses (
        json_object_get_member (addresses, l->data));

      if (text->len > 0)
        g_string_append (text, "; ");
      g_string_append_printf (text, "%s=%s", (const char *) l->data, list);
    }
  if (text->len == 0)
    return g_strdup ("-");
  return g_string_free (g_steal_pointer (&text), FALSE);
}

/* A server as Property/Value rows, with "addresses" shown as the nova
 * client does: a row "NETWORK network" per network, which sorts in with
 * the others.  The answer is ours to change. */
void
nlx_cli_print_server_properties (JsonObject *server)
{
  JsonObject *addresses = server_addresses (server);

  if (addresses != NULL)
    {
      g_autoptr(JsonObject) kept = json_object_ref (addresses);
      g_autoptr(GList) names = json_object_get_members (kept);

      json_object_remove_member (server, "addresses");
      for (GList *l = names; l != NULL; l = l->next)
        {
          /* Not translated: it reads as a property name, as in Nova. */
          g_autofree char *row = g_strdup_printf ("%s network",
                                                  (const char *) l->data);
          g_autofree char *list = network_addresses (
            json_object_get_member (kept, l->data));

          json_object_set_string_member (server, row, list);
        }
    }
  nlx_cli_print_properties (server);
}

void
nlx_cli_print_server (JsonNode *root)
{
  if (nlx_cli_opt.json)
    nlx_cli_print_json (root);
  else
    nlx_cli_print_server_properties (json_node_get_object (
      json_object_get_member (json_node_get_object (root), "server")));
}

/* Prints a plain message for people; scripts using --json get only JSON
 * on standard output. */
void
nlx_cli_print_note (const char *text)
{
  if (!nlx_cli_opt.json)
    {
      nlx_cli_write_stdout (text);
      nlx_cli_write_stdout ("\n");
    }
}

/* DELETEs PATH, then prints the answer (with --json) and NOTE. */
gboolean
nlx_cli_call_delete (NlxClient *client,
                     const char *path,
                     const char *note,
                     GError **error)
{
  g_autoptr(JsonNode) root = nlx_client_call (client, "DELETE", path, NULL,
                                              error);

  if (root == NULL)
    return FALSE;
  if (nlx_cli_opt.json)
    nlx_cli_print_json (root);
  nlx_cli_print_note (note);
  return TRUE;
}
