/* nlx-test-tools.h: helpers the tests share: the host's filesystem tools,
 * what a functional test does on a host that cannot run it, and test
 * bodies run in a subprocess */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

char *nlx_test_find_tool (const char *name);
void nlx_test_run_tool (const char *name,
                        ...) G_GNUC_NULL_TERMINATED;

#define NLX_TEST_REQUIRE_HOST "NLX_TEST_REQUIRE_HOST"
void nlx_test_host_unusable (const char *format,
                             ...) G_GNUC_PRINTF (1, 2);
void nlx_test_skip (const char *format,
                    ...) G_GNUC_PRINTF (1, 2);

gboolean nlx_test_trap_body (guint timeout_s);
char *nlx_test_case_dir (const char *template);

guint nlx_test_count_fds (void);
gsize nlx_test_heap_in_use (void);
#define NLX_TEST_LEAK_ROUNDS 20000
#define NLX_TEST_LEAK_SLACK (64 * 1024)
void nlx_test_assert_no_leak (const char *what,
                              void (*run) (gconstpointer data),
                              gconstpointer data);

G_END_DECLS
