/* nlx-console-text.h: console output made safe to show on a terminal */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

char *nlx_console_text_for_display (const char *data,
                                    gssize length);

G_END_DECLS
