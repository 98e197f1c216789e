/* nlx-archive.h: safe extraction of root filesystem tarballs */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

gboolean nlx_archive_extract (const char *archive_path,
                              const char *dest_dir,
                              GError **error);

G_END_DECLS
