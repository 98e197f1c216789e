/* nlx-lxc-cpuset.h: host CPU lists, and which CPUs an instance is pinned to */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

GArray *nlx_lxc_cpuset_parse (const char *text,
                              guint ncpus,
                              GError **error);
char *nlx_lxc_cpuset_format (const GArray *cpus);
char *nlx_lxc_cpuset_choose (const GArray *allowed,
                             const double *load,
                             guint ncpus,
                             guint vcpus);

G_END_DECLS
