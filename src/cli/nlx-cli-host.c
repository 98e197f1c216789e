/* nlx-cli-host.c: nova-lxc's commands about the compute host: its
 * flavors and what it has and uses */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "cli/nlx-cli.h"

gboolean
nlx_cli_cmd_flavor_list (NlxClient *client,
                         char **args G_GNUC_UNUSED,
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
  g_autoptr(GPtrArray) rows = nlx_cli_rows_new ();
  JsonNode *flavors;
  JsonArray *array;

  if (root == NULL)
    return FALSE;
  flavors = nlx_cli_get_member (root, "flavors", JSON_NODE_ARRAY, error);
  if (flavors == NULL)
    return FALSE;
  if (nlx_cli_opt.json)
    {
      nlx_cli_print_json (root);
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
        row[c] = nlx_cli_display_member (json_node_get_object (node),
                                         members[c]);
      g_ptr_array_add (rows, row);
    }
  nlx_cli_print_table (headers, rows);
  return TRUE;
}

gboolean
nlx_cli_cmd_hypervisor_stats (NlxClient *client,
                              char **args G_GNUC_UNUSED,
                              GError **error)
{
  g_autoptr(JsonNode) root = nlx_client_call (client, "GET",
                                              "/os-hypervisors/statistics",
                                              NULL, error);
  JsonNode *stats;

  if (root == NULL)
    return FALSE;
  stats = nlx_cli_get_member (root, "hypervisor_statistics", JSON_NODE_OBJECT,
                              error);
  if (stats == NULL)
    return FALSE;
  if (nlx_cli_opt.json)
    nlx_cli_print_json (root);
  else
    nlx_cli_print_properties (json_node_get_object (stats));
  return TRUE;
}
