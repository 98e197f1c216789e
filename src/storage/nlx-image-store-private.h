/* nlx-image-store-private.h: what the image store's records and imports
 * share (nlx-image-store.c, nlx-image-import.c); not for other layers */
#pragma once

#include <glib.h>
#include <sys/stat.h>
#include <time.h>

#include "storage/nlx-image-store.h"

G_BEGIN_DECLS

#define ROOTFS_DIR "rootfs"
#define IMPORT_PREFIX ".import-"

#define CONFIG_DIR "config"

struct _NlxImageStore {
  char *dir;
  char *records; /* DIR/records */
  char *configs; /* DIR/config: config images (nlx-image-config.c) */
};

/* What identifies a file's content without reading it: if none of this
 * changed, nothing wrote to it. */
typedef struct {
  dev_t dev;
  ino_t ino;
  off_t size;
  struct timespec mtime;
  struct timespec ctime;
} NlxImageFileStamp;

void nlx_image_file_stamp_from_stat (NlxImageFileStamp *stamp,
                                     const struct stat *st);
gboolean nlx_image_file_stamp_equal (const NlxImageFileStamp *a,
                                     const NlxImageFileStamp *b);

/* Writes (or, with @undo, takes back) the record of @image, whose tree
 * is in the store, under the store's lock. */
typedef gboolean (*NlxImageStoreRecordFunc) (NlxImageStore *store,
                                             NlxStoredImage *image,
                                             gpointer data,
                                             gboolean undo,
                                             GError **error);

int nlx_image_store_open_source (const char *file,
                                 NlxImageFileStamp *stamp,
                                 GError **error);
gboolean nlx_image_store_detect_format (int fd,
                                        const char *file,
                                        NlxStoredImageFormat *format,
                                        GError **error);
char *nlx_image_store_checksum_file (int fd,
                                     const char *file,
                                     GError **error);
gboolean nlx_image_store_put_content (NlxImageStore *store,
                                      int fd,
                                      const NlxImageFileStamp *stamp,
                                      const char *file,
                                      NlxStoredImage *image,
                                      NlxImageStoreRecordFunc record,
                                      gpointer data,
                                      GError **error);
GHashTable *nlx_image_store_used_trees (NlxImageStore *store,
                                        const char *except_id,
                                        const char *except_config);
gboolean nlx_image_store_add_config_trees (NlxImageStore *store,
                                           GHashTable *used,
                                           const char *except_config);
gboolean nlx_image_store_move_tree_out (NlxImageStore *store,
                                        const char *checksum,
                                        char **trash,
                                        int *fd,
                                        GError **error);
gboolean nlx_image_store_empty_trash (char *trash,
                                      int fd,
                                      GError **error);

gboolean nlx_stored_image_format_is_disk (NlxStoredImageFormat format);
GHashTable *nlx_image_store_new_properties (void);
char *nlx_image_store_record_path (NlxImageStore *store,
                                   const char *id);
gboolean nlx_image_store_write_record (NlxImageStore *store,
                                       const NlxStoredImage *image,
                                       GError **error);
int nlx_image_store_lock (NlxImageStore *store,
                          GError **error);
gboolean nlx_image_store_has_tree (NlxImageStore *store,
                                   const char *checksum);
NlxStoredImage *nlx_image_store_find_by_name (NlxImageStore *store,
                                              const char *name,
                                              GError **error);

G_END_DECLS
