/* nlx-test-tools.h: running the host's filesystem tools in tests */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

char *nlx_test_find_tool (const char *name);
void nlx_test_run_tool (const char *name,
                        ...) G_GNUC_NULL_TERMINATED;

G_END_DECLS
