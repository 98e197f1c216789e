/* nlx-bench.h: what the benchmarks share */
#pragma once

#include <signal.h>
#include <glib.h>

G_BEGIN_DECLS

double nlx_bench_percentile (GArray *samples,
                             guint p);

gboolean nlx_bench_daemon_start (const char *config_path,
                                 const char *socket_path,
                                 const char *log_path,
                                 gboolean append,
                                 guint timeout_s,
                                 volatile sig_atomic_t *interrupted,
                                 GPid *pid,
                                 GError **error);

G_END_DECLS
