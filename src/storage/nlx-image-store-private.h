/* nlx-image-store-private.h: what the image store's records and imports
 * share (nlx-image-store.c, nlx-image-import.c); not for other layers */
#pragma once

#include <glib.h>

#include "storage/nlx-image-store.h"

G_BEGIN_DECLS

#define ROOTFS_DIR "rootfs"
#define IMPORT_PREFIX ".import-"

struct _NlxImageStore {
  char *dir;
  char *records; /* DIR/records */
};

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
