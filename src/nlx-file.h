/* nlx-file.h: file helpers shared by drivers, programs and tests */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

gboolean nlx_file_remove_tree (const char *path,
                               GError **error);
G_END_DECLS
