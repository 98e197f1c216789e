/* fuzz-idmap.c: id maps ([lxc] uid_maps and gid_maps, nlx_idmap_parse)
 *
 * A map that parses must print as something that parses to the same
 * map, and translate ids both ways consistently. */
#include "config.h"

#include "nlx-fuzz.h"
#include "common/nlx-idmap.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t size)
{
  static gboolean initialized;
  g_autofree char *text = nlx_fuzz_strndup (data, size);
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) map = NULL;
  g_autoptr(GArray) again = NULL;
  g_autofree char *printed = NULL;
  g_autofree char *printed_again = NULL;
  g_autofree char *kernel = NULL;

  if (!initialized)
    {
      nlx_fuzz_init ();
      initialized = TRUE;
    }
  map = nlx_idmap_parse (text, "[lxc] uid_maps", &error);
  if (map == NULL)
    {
      /* Configuration values are UTF-8 (GKeyFile insists), and so must
       * be what is said about them. */
      if (error == NULL ||
          (g_utf8_validate (text, -1, NULL) &&
           !g_utf8_validate (error->message, -1, NULL)))
        nlx_fuzz_fail ("refused without a readable message");
      return 0;
    }
  if (map->len == 0 || map->len > NLX_IDMAP_MAX_RANGES)
    nlx_fuzz_fail ("accepted %u ranges", map->len);

  printed = nlx_idmap_to_string (map);
  kernel = nlx_idmap_to_kernel (map);
  again = nlx_idmap_parse (printed, "printed", &error);
  if (again == NULL)
    nlx_fuzz_fail ("cannot parse its own “%s”: %s", printed, error->message);
  printed_again = nlx_idmap_to_string (again);
  if (!g_str_equal (printed, printed_again))
    nlx_fuzz_fail ("“%s” parsed as “%s”", printed, printed_again);

  for (guint i = 0; i < map->len; i++)
    {
      const NlxIdMapRange *range = &g_array_index (map, NlxIdMapRange, i);
      guint32 probes[] = { range->start, range->start + (range->count - 1) };

      for (guint j = 0; j < G_N_ELEMENTS (probes); j++)
        {
          guint32 host, back;

          if (!nlx_idmap_to_host (map, probes[j], &host) ||
              !nlx_idmap_from_host (map, host, &back) || back != probes[j])
            nlx_fuzz_fail ("id %u does not map there and back", probes[j]);
        }
    }
  if (!nlx_idmap_to_host (map, 0, &(guint32){ 0 }))
    nlx_fuzz_fail ("accepted a map without root");
  return 0;
}
