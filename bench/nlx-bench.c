/* nlx-bench.c: what the benchmarks share */
#include "config.h"

#include "nlx-bench.h"

static int
compare_doubles (gconstpointer a,
                 gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

/**
 * nlx_bench_percentile:
 * @samples: (element-type double): at least one
 * @p: 1 to 100
 *
 * By nearest rank, so every figure printed is a time actually measured.
 */
double
nlx_bench_percentile (GArray *samples,
                      guint p)
{
  g_autoptr(GArray) sorted = g_array_copy (samples);
  guint rank = (p * sorted->len + 99) / 100;

  g_array_sort (sorted, compare_doubles);
  return g_array_index (sorted, double, CLAMP (rank, 1, sorted->len) - 1);
}
