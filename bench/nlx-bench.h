/* nlx-bench.h: what the benchmarks share */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

double nlx_bench_percentile (GArray *samples,
                             guint p);

G_END_DECLS
