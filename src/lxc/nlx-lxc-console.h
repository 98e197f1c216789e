/* nlx-lxc-console.h: an instance's console log, drained from its PTY */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The log keeps at most this much; older output is dropped first. */
#define NLX_LXC_CONSOLE_LOG_MAX (1024 * 1024)

typedef struct _NlxLxcConsole NlxLxcConsole;

NlxLxcConsole *nlx_lxc_console_open (const char *pty_path,
                                     const char *log_path,
                                     GError **error);
int nlx_lxc_console_get_fd (NlxLxcConsole *console);
gboolean nlx_lxc_console_read (NlxLxcConsole *console,
                               gboolean *closed,
                               GError **error);
void nlx_lxc_console_attach (NlxLxcConsole *console,
                             int fd);
const int *nlx_lxc_console_get_subscribers (NlxLxcConsole *console,
                                            guint *n_fds);
gboolean nlx_lxc_console_input (NlxLxcConsole *console,
                                int fd);
char *nlx_lxc_console_get_last_words (NlxLxcConsole *console,
                                      guint max_lines,
                                      gsize max_bytes);
void nlx_lxc_console_close (NlxLxcConsole *console);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NlxLxcConsole, nlx_lxc_console_close)

char *nlx_lxc_console_last_words (const char *data,
                                  gsize length,
                                  guint max_lines,
                                  gsize max_bytes);
char *nlx_lxc_console_tail (const char *log_path,
                            gsize max_bytes,
                            GError **error);

G_END_DECLS
