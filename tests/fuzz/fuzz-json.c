/* fuzz-json.c: the strict JSON reader every document, record, file and
 * request body goes through (nlx_json_parse)
 *
 * What it accepts must be one JSON value whose written form reads back
 * as the same value; what it refuses must say why. */
#include "config.h"

#include "nlx-fuzz.h"
#include "common/nlx-json.h"

/* json-glib 1.6.6 writes some doubles as JSON no reader takes (1e-8 as
 * "1e-08.0"); nova-lxc writes no doubles, so documents holding one are
 * only checked for being read. */
static gboolean
has_double (JsonNode *node)
{
  if (JSON_NODE_HOLDS_VALUE (node))
    return json_node_get_value_type (node) == G_TYPE_DOUBLE;
  if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);

      for (guint i = 0; i < json_array_get_length (array); i++)
        if (has_double (json_array_get_element (array, i)))
          return TRUE;
    }
  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      g_autoptr(GList) members = json_object_get_values (json_node_get_object (node));

      for (GList *l = members; l != NULL; l = l->next)
        if (has_double (l->data))
          return TRUE;
    }
  return FALSE;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t size)
{
  static gboolean initialized;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(JsonNode) again = NULL;
  g_autofree char *text = NULL;
  g_autofree char *text_again = NULL;

  if (!initialized)
    {
      nlx_fuzz_init ();
      initialized = TRUE;
    }
  root = nlx_json_parse ((const char *) data, (gssize) size, &error);
  if (root == NULL)
    {
      if (error == NULL || !g_utf8_validate (error->message, -1, NULL))
        nlx_fuzz_fail ("refused without a readable message");
      return 0;
    }
  if (has_double (root))
    return 0;
  text = json_to_string (root, FALSE);
  if (!g_utf8_validate (text, -1, NULL))
    nlx_fuzz_fail ("accepted what is not UTF-8: %s", text);
  again = nlx_json_parse (text, -1, &error);
  if (again == NULL)
    nlx_fuzz_fail ("cannot read its own output: %s\n%s", error->message, text);
  text_again = json_to_string (again, FALSE);
  if (!g_str_equal (text, text_again))
    nlx_fuzz_fail ("read back differently:\n%s\n%s", text, text_again);
  return 0;
}
