/* nlx-image-store.h: images imported once per host, stored by content */
#pragma once

#include <glib.h>

/* What an image name may be (nlx_image_name_is_valid()) is the model's. */
#include "model/nlx-image.h"

G_BEGIN_DECLS

/**
 * NlxStoredImageFormat:
 * @NLX_STORED_IMAGE_FORMAT_TAR: a root tarball, not compressed
 * @NLX_STORED_IMAGE_FORMAT_TAR_GZ: a root tarball compressed with gzip
 * @NLX_STORED_IMAGE_FORMAT_TAR_XZ: a root tarball compressed with xz
 * @NLX_STORED_IMAGE_FORMAT_TAR_ZST: a root tarball compressed with zstd
 * @NLX_STORED_IMAGE_FORMAT_RAW: a raw disk image
 * @NLX_STORED_IMAGE_FORMAT_QCOW2: a qcow2 disk image
 *
 * What an image was imported from, as found from its content (never from
 * its file name).
 */
typedef enum {
  NLX_STORED_IMAGE_FORMAT_TAR,
  NLX_STORED_IMAGE_FORMAT_TAR_GZ,
  NLX_STORED_IMAGE_FORMAT_TAR_XZ,
  NLX_STORED_IMAGE_FORMAT_TAR_ZST,
  NLX_STORED_IMAGE_FORMAT_RAW,
  NLX_STORED_IMAGE_FORMAT_QCOW2,
} NlxStoredImageFormat;

const char *nlx_stored_image_format_to_string (NlxStoredImageFormat format);
gboolean nlx_stored_image_format_from_string (const char *text,
                                              NlxStoredImageFormat *format);

/**
 * NlxStoredImage:
 * @id: the image's id: the SHA-256 of what was imported, 64 lowercase
 *   hexadecimal digits
 * @name: its name, unique in the store
 * @checksum: the SHA-256 of what was imported, in hexadecimal (the same
 *   as @id: the store is addressed by content)
 * @format: what was imported
 * @size_bytes: the size of the imported file
 * @tree_size_bytes: the bytes of the extracted root tree: regular files
 *   (a file with several hard links once) and symbolic links, apparent
 *   sizes, not counting directories
 * @created_at: when the import finished, UTC
 * @properties: (element-type utf8 utf8): string properties, like Glance's
 *   image properties (e.g. %NLX_IMAGE_PROP_INIT_PATH); never %NULL
 *
 * The record of an image in the store.
 */
typedef struct {
  char *id;
  char *name;
  char *checksum;
  NlxStoredImageFormat format;
  guint64 size_bytes;
  guint64 tree_size_bytes;
  GDateTime *created_at;
  GHashTable *properties;
} NlxStoredImage;

void nlx_stored_image_free (NlxStoredImage *image);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NlxStoredImage, nlx_stored_image_free)

typedef struct _NlxImageStore NlxImageStore;

void nlx_image_store_set_not_found (GError **error,
                                    const char *id_or_name);
NlxImageStore *nlx_image_store_open (const char *dir,
                                     GError **error);
void nlx_image_store_free (NlxImageStore *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NlxImageStore, nlx_image_store_free)

const char *nlx_image_store_get_dir (NlxImageStore *store);

NlxStoredImage *nlx_image_store_import (NlxImageStore *store,
                                        const char *file,
                                        const char *name,
                                        GHashTable *properties,
                                        GError **error);
GPtrArray *nlx_image_store_list (NlxImageStore *store,
                                 GError **error);
NlxStoredImage *nlx_image_store_lookup (NlxImageStore *store,
                                        const char *id_or_name,
                                        GError **error);
gboolean nlx_image_store_delete (NlxImageStore *store,
                                 const char *id_or_name,
                                 GError **error);
char *nlx_image_store_get_rootfs (NlxImageStore *store,
                                  const NlxStoredImage *image);

/* Root tarballs named in nova-lxc.conf (nlx-image-config.c). */
gboolean nlx_image_store_import_config (NlxImageStore *store,
                                        const char *name,
                                        const char *file,
                                        gboolean drop_earlier,
                                        gboolean *imported,
                                        GError **error);
GPtrArray *nlx_image_store_list_configs (NlxImageStore *store);
void nlx_image_store_forget_config (NlxImageStore *store,
                                    const char *name);
char *nlx_image_store_get_config_rootfs (NlxImageStore *store,
                                         const char *name,
                                         const char *file,
                                         gboolean *changed,
                                         GError **error);

G_END_DECLS
