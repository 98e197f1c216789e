/* nlx-file.h: file helpers shared by drivers, programs and tests */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

gboolean nlx_file_remove_tree (const char *path,
                               GError **error);
void nlx_file_remove_save_temporaries (const char *dir);

gboolean nlx_file_get_contents (const char *path,
                                char **contents,
                                gsize *length,
                                GError **error);
gboolean nlx_file_set_contents_full (const char *path,
                                     const char *contents,
                                     gssize length,
                                     GFileSetContentsFlags flags,
                                     int mode,
                                     GError **error);
int nlx_file_write_temporary (const char *path,
                              const char *contents,
                              gssize length,
                              int mode,
                              char **tmp,
                              GError **error);
gboolean nlx_file_sync_temporary (const char *tmp,
                                  int fd,
                                  gboolean do_fsync,
                                  GError **error);
gboolean nlx_file_rename_temporary (const char *tmp,
                                    const char *path,
                                    GError **error);
gboolean nlx_file_sync_dir (const char *dir,
                            GError **error);
G_END_DECLS
