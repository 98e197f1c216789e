/* nlx-archive.h: safe extraction of root filesystem tarballs, and
 * tarballs of directory trees (instance snapshots) */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

gboolean nlx_archive_extract (const char *archive_path,
                              const char *dest_dir,
                              GError **error);
gboolean nlx_archive_write_tree (const char *dir,
                                 const char *tar_path,
                                 GArray *uid_map,
                                 GArray *gid_map,
                                 GError **error);

G_END_DECLS
