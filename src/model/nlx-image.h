/* nlx-image.h: the image an instance's root filesystem comes from */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * NlxImageFormat:
 * @NLX_IMAGE_FORMAT_DIRECTORY: a root filesystem tree on the host
 * @NLX_IMAGE_FORMAT_TARBALL: a root filesystem archive (tar, compressed or not)
 */
typedef enum {
  NLX_IMAGE_FORMAT_DIRECTORY,
  NLX_IMAGE_FORMAT_TARBALL,
} NlxImageFormat;

/* An image name is a label: [A-Za-z0-9][A-Za-z0-9._-]*, at most this
 * long, and never 64 hexadecimal digits (that is what ids look like). */
#define NLX_IMAGE_NAME_MAX 64

/* Image properties the lxc driver reads, named like Glance's. */
#define NLX_IMAGE_PROP_INIT_PATH "os_init_path"
#define NLX_IMAGE_PROP_SHUTDOWN_SIGNAL "os_shutdown_signal"
/* Whose an image is, as Glance's fields: a snapshot is its server's
 * project's ("owner") and seen by that project only ("visibility"
 * "private"); an image without them is the host's, seen by every
 * project. */
#define NLX_IMAGE_PROP_OWNER "owner"
#define NLX_IMAGE_PROP_VISIBILITY "visibility"

/**
 * NlxImage:
 * @id: the reference the image was resolved from
 * @path: absolute path of the directory or archive
 * @format: what @path holds
 * @properties: string properties, like Glance's image properties
 */
typedef struct {
  char *id;
  char *path;
  NlxImageFormat format;
  GHashTable *properties;
} NlxImage;

NlxImage *nlx_image_new_from_path (const char *id,
                                   const char *path,
                                   GError **error);
void nlx_image_free (NlxImage *image);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NlxImage, nlx_image_free)

void nlx_image_set_property (NlxImage *image,
                             const char *key,
                             const char *value);
const char *nlx_image_get_property (const NlxImage *image,
                                    const char *key);

gboolean nlx_image_name_is_valid (const char *name);
gboolean nlx_image_name_is_valid_for_record (const char *name);
gboolean nlx_image_checksum_is_valid (const char *text);

G_END_DECLS
