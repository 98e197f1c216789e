/* nlx-lxc-console.h: an instance's console log, drained from its PTY */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The log keeps at most this much; older output is dropped first. */
#define NLX_LXC_CONSOLE_LOG_MAX (1024 * 1024)

gboolean nlx_lxc_console_drain (const char *pty_path,
                                const char *log_path,
                                GError **error);
char *nlx_lxc_console_tail (const char *log_path,
                            gsize max_bytes,
                            GError **error);

G_END_DECLS
