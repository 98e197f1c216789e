/* nlx-test-tools.h: helpers the tests share: the host's filesystem tools,
 * what a functional test does on a host that cannot run it, test bodies
 * run in a subprocess, their scratch directories, and small file helpers */
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
/* What a fixture's run_case does: in the subprocess nlx_test_trap_body()
 * starts, runs @body on @fixture (and is FALSE); in the parent, starts
 * that subprocess and is whether the body passed.  A macro, so that
 * @body keeps its own fixture type. */
#define NLX_TEST_RUN_BODY(body, fixture, timeout_s) \
  (g_test_subprocess () ? ((body) (fixture), FALSE) \
                        : nlx_test_trap_body (timeout_s))
char *nlx_test_case_shared (const char *name,
                            const char *value);
char *nlx_test_case_dir (const char *template);
guint32 nlx_test_network_random (void);
void nlx_test_case_dir_remove (const char *dir);

char *nlx_test_path (const char *dir,
                     const char *name);
char *nlx_test_file_checksum (const char *path);
int nlx_test_compare_strings (gconstpointer a,
                              gconstpointer b);
char *nlx_test_list_dir (const char *dir);
void nlx_test_run_command (const char * const *argv);
GPid nlx_test_libvirtd_elsewhere (void);

guint nlx_test_count_fds (void);
guint nlx_test_count_fds_of (GPid pid);
gsize nlx_test_heap_in_use (void);
#define NLX_TEST_LEAK_ROUNDS 20000
#define NLX_TEST_LEAK_SLACK (64 * 1024)
void nlx_test_assert_no_leak (const char *what,
                              void (*run) (gconstpointer data),
                              gconstpointer data);

G_END_DECLS
