/* nlx-lxc-cpuset.c: host CPU lists, and which CPUs an instance is pinned to
 *
 * nproc (GNU and busybox) counts the CPUs sched_getaffinity() allows,
 * which no /proc file changes; so an instance with fewer vcpus than the
 * host has CPUs is pinned to that many, as LXD pins limits.cpu=N.  Pure
 * functions: the driver gathers the load, these choose. */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "common/nlx-error.h"
#include "lxc/nlx-lxc-cpuset.h"

static int
compare_uint (gconstpointer a,
              gconstpointer b)
{
  guint x = *(const guint *) a, y = *(const guint *) b;

  return x < y ? -1 : x > y;
}

/**
 * nlx_lxc_cpuset_parse:
 * @text: a CPU list in libvirt's and the kernel's syntax ("0-3,^2,6";
 *   the kernel's files have no "^")
 * @ncpus: CPUs are numbered below this
 * @error: return location for a #NLX_DRIVER_ERROR_INVALID_ARGUMENT
 *
 * Returns: (transfer full) (element-type guint): the CPUs, ascending and
 *   each once, or %NULL when @text is not such a list, names a CPU of
 *   @ncpus or above, or leaves none
 */
GArray *
nlx_lxc_cpuset_parse (const char *text,
                      guint ncpus,
                      GError **error)
{
  g_autoptr(GArray) cpus = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autofree gboolean *in = g_new0 (gboolean, MAX (ncpus, 1));
  g_auto(GStrv) items = g_strsplit (text, ",", -1);

  for (guint i = 0; items[i] != NULL; i++)
    {
      const char *item = g_strstrip (items[i]);
      gboolean exclude = *item == '^';
      g_auto(GStrv) range = NULL;
      guint64 first = 0, last = 0;

      if (exclude)
        item++;
      range = g_strsplit (item, "-", 2);
      if (!g_ascii_string_to_unsigned (range[0], 10, 0, G_MAXINT, &first, NULL) ||
          (range[1] != NULL &&
           !g_ascii_string_to_unsigned (range[1], 10, first, G_MAXINT, &last,
                                        NULL)) ||
          (exclude && range[1] != NULL))
        {
          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                       _("“%s” is not a CPU list such as 0-3,^2,6"), text);
          return NULL;
        }
      if (range[1] == NULL)
        last = first;
      if (last >= ncpus)
        {
          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                       _("CPU list “%s” names CPU %llu, but "
                         "this host's CPUs are 0 to %u"), text,
                       (unsigned long long) last, ncpus - 1);
          return NULL;
        }
      for (guint64 cpu = first; cpu <= last; cpu++)
        in[cpu] = !exclude;
    }
  for (guint cpu = 0; cpu < ncpus; cpu++)
    if (in[cpu])
      g_array_append_val (cpus, cpu);
  if (cpus->len == 0)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("CPU list “%s” leaves no CPU"), text);
      return NULL;
    }
  return g_steal_pointer (&cpus);
}

/**
 * nlx_lxc_cpuset_format:
 * @cpus: (element-type guint): CPUs, ascending
 *
 * Returns: (transfer full): @cpus as libvirt's cpuset, ranges joined
 *   ("0-2,5")
 */
char *
nlx_lxc_cpuset_format (const GArray *cpus)
{
  GString *text = g_string_new (NULL);

  for (guint i = 0; i < cpus->len;)
    {
      guint first = g_array_index (cpus, guint, i);
      guint j = i;

      while (j + 1 < cpus->len && g_array_index (cpus, guint, j + 1) ==
             g_array_index (cpus, guint, j) + 1)
        j++;
      if (text->len > 0)
        g_string_append_c (text, ',');
      if (j == i)
        g_string_append_printf (text, "%u", first);
      else
        g_string_append_printf (text, "%u-%u", first,
                                g_array_index (cpus, guint, j));
      i = j + 1;
    }
  return g_string_free (text, FALSE);
}

/**
 * nlx_lxc_cpuset_choose:
 * @allowed: (element-type guint): the CPUs instances may run on,
 *   ascending
 * @load: for each CPU below @ncpus, the vcpus of other instances pinned
 *   to it
 * @vcpus: the new instance's vcpus
 *
 * Picks @vcpus CPUs of @allowed, the least loaded first (the lower
 * number on a tie), so instances spread over the host.
 *
 * Returns: (transfer full) (nullable): the cpuset to pin to, or %NULL
 *   when @vcpus is not fewer than @allowed has: the instance may then use
 *   all of them and stays unpinned
 */
char *
nlx_lxc_cpuset_choose (const GArray *allowed,
                       const double *load,
                       guint ncpus,
                       guint vcpus)
{
  g_autoptr(GArray) chosen = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autofree gboolean *taken = NULL;

  if (vcpus >= allowed->len)
    return NULL;
  taken = g_new0 (gboolean, allowed->len);
  while (chosen->len < vcpus)
    {
      guint best = G_MAXUINT;

      for (guint i = 0; i < allowed->len; i++)
        {
          guint cpu = g_array_index (allowed, guint, i);

          if (!taken[i] && cpu < ncpus &&
              (best == G_MAXUINT ||
               load[cpu] < load[g_array_index (allowed, guint, best)]))
            best = i;
        }
      if (best == G_MAXUINT)
        return NULL;
      taken[best] = TRUE;
      g_array_append_val (chosen, g_array_index (allowed, guint, best));
    }
  g_array_sort (chosen, compare_uint);
  return nlx_lxc_cpuset_format (chosen);
}
