/* fuzz-json.c: the strict JSON reader every document, record, file and
 * request body goes through (nlx_json_parse)
 *
 * What it accepts must be one JSON value whose written form reads back
 * as the same value; what it refuses must say why. */
#include "config.h"

#include "nlx-fuzz.h"
#include "nlx-json.h"

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
