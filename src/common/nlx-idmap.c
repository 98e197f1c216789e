/* nlx-idmap.c: user namespace id maps
 *
 * A map is a list of START:TARGET:COUNT ranges, separated by commas, as
 * in Nova's [libvirt] uid_maps: ids START to START+COUNT-1 inside an
 * instance are host ids TARGET to TARGET+COUNT-1.  A map must give the
 * instance a root (id 0 inside) and must not map it to the host's root,
 * and no two ranges may overlap on either side, as the kernel demands. */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "common/nlx-error.h"
#include "common/nlx-idmap.h"

static gboolean
parse_id (const char *text,
          guint64 max,
          guint64 *value)
{
  char *end = NULL;

  if (!g_ascii_isdigit (*text))
    return FALSE;
  *value = g_ascii_strtoull (text, &end, 10);
  return end != text && *end == '\0' && *value <= max;
}

static gboolean
overlaps (guint64 a,
          guint64 a_count,
          guint64 b,
          guint64 b_count)
{
  return a < b + b_count && b < a + a_count;
}

/**
 * nlx_idmap_parse:
 * @text: START:TARGET:COUNT[,START:TARGET:COUNT...]
 * @key: the configuration key it comes from, for the message
 * @error: return location for a #NLX_CONFIG_ERROR_INVALID
 *
 * Returns: (transfer full) (element-type NlxIdMapRange): the ranges, or
 * %NULL if @text is malformed, overlaps itself, leaves id 0 unmapped or
 * maps it to the host's root
 */
GArray *
nlx_idmap_parse (const char *text,
                 const char *key,
                 GError **error)
{
  g_autoptr(GArray) map = g_array_new (FALSE, FALSE, sizeof (NlxIdMapRange));
  g_auto(GStrv) ranges = g_strsplit (text ? text : "", ",", -1);
  const char *problem = NULL;
  g_autofree char *root_problem = NULL;
  guint32 root;

  for (guint i = 0; ranges[i] != NULL && problem == NULL; i++)
    {
      g_auto(GStrv) fields = g_strsplit (g_strstrip (ranges[i]), ":", -1);
      guint64 start, target, count;
      NlxIdMapRange range;

      if (g_strv_length (fields) != 3 ||
          !parse_id (fields[0], G_MAXUINT32, &start) ||
          !parse_id (fields[1], G_MAXUINT32, &target) ||
          !parse_id (fields[2], G_MAXUINT32, &count) || count == 0 ||
          start + count - 1 > G_MAXUINT32 || target + count - 1 > G_MAXUINT32)
        {
          problem = _("each range must be START:TARGET:COUNT, whole numbers "
                      "with COUNT at least 1, within 32-bit ids");
          break;
        }
      for (guint j = 0; j < map->len; j++)
        {
          const NlxIdMapRange *other = &g_array_index (map, NlxIdMapRange, j);

          if (overlaps (start, count, other->start, other->count) ||
              overlaps (target, count, other->target, other->count))
            problem = _("two ranges overlap");
        }
      range.start = (guint32) start;
      range.target = (guint32) target;
      range.count = (guint32) count;
      g_array_append_val (map, range);
    }
  if (problem == NULL && map->len > NLX_IDMAP_MAX_RANGES)
    problem = _("it has more ranges than the kernel takes");
  if (problem == NULL && !nlx_idmap_to_host (map, 0, &root))
    problem = _("it must map id 0, the instance's root");
  if (problem == NULL && root == 0)
    problem = root_problem =
      g_strdup_printf (_("it maps the instance's root to the host's root; "
                         "use an unprivileged range such as %s"),
                       NLX_IDMAP_DEFAULT);
  if (problem != NULL)
    {
      g_set_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID,
                   _("%s = “%s” is not a usable id map: %s"), key,
                   text ? text : "", problem);
      return NULL;
    }
  return g_steal_pointer (&map);
}

/**
 * nlx_idmap_to_host:
 * @map: (element-type NlxIdMapRange) (nullable): a map, or %NULL for a
 *   privileged instance, whose ids are the host's
 * @id: an id inside the instance
 * @host_id: (out): the host id it is
 *
 * Returns: whether @map maps @id
 */
gboolean
nlx_idmap_to_host (GArray *map,
                   guint32 id,
                   guint32 *host_id)
{
  if (map == NULL)
    {
      *host_id = id;
      return TRUE;
    }
  for (guint i = 0; i < map->len; i++)
    {
      const NlxIdMapRange *range = &g_array_index (map, NlxIdMapRange, i);

      if (id >= range->start && (guint64) id < (guint64) range->start + range->count)
        {
          *host_id = range->target + (id - range->start);
          return TRUE;
        }
    }
  return FALSE;
}

/**
 * nlx_idmap_from_host:
 * @map: (element-type NlxIdMapRange) (nullable): a map, or %NULL for a
 *   privileged instance, whose ids are the host's
 * @host_id: a host id
 * @id: (out): the id inside the instance it is
 *
 * The inverse of nlx_idmap_to_host().
 *
 * Returns: whether @host_id is the image of an id in @map; one that is
 * not shows inside the instance as %NLX_IDMAP_OVERFLOW_ID
 */
gboolean
nlx_idmap_from_host (GArray *map,
                     guint32 host_id,
                     guint32 *id)
{
  if (map == NULL)
    {
      *id = host_id;
      return TRUE;
    }
  for (guint i = 0; i < map->len; i++)
    {
      const NlxIdMapRange *range = &g_array_index (map, NlxIdMapRange, i);

      if (host_id >= range->target &&
          (guint64) host_id < (guint64) range->target + range->count)
        {
          *id = range->start + (host_id - range->target);
          return TRUE;
        }
    }
  return FALSE;
}

/**
 * nlx_idmap_to_kernel:
 * @map: (element-type NlxIdMapRange): a map
 *
 * Returns: (transfer full): the map as /proc/PID/uid_map takes it
 */
char *
nlx_idmap_to_kernel (GArray *map)
{
  GString *text = g_string_new (NULL);

  for (guint i = 0; i < map->len; i++)
    {
      const NlxIdMapRange *range = &g_array_index (map, NlxIdMapRange, i);

      g_string_append_printf (text, "%u %u %u\n", range->start, range->target,
                              range->count);
    }
  return g_string_free (text, FALSE);
}

/**
 * nlx_idmap_to_string:
 * @map: (element-type NlxIdMapRange): a map
 *
 * Returns: (transfer full): the map as nlx_idmap_parse() reads it
 */
char *
nlx_idmap_to_string (GArray *map)
{
  GString *text = g_string_new (NULL);

  for (guint i = 0; i < map->len; i++)
    {
      const NlxIdMapRange *range = &g_array_index (map, NlxIdMapRange, i);

      g_string_append_printf (text, "%s%u:%u:%u", i > 0 ? "," : "",
                              range->start, range->target, range->count);
    }
  return g_string_free (text, FALSE);
}
