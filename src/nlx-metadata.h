/* nlx-metadata.h: what an instance reads about itself (TEMPORARY
 * stand-in for helper "metadata"'s module, same API; replaced at merge) */
#pragma once

#include <glib.h>

#include "nlx-instance.h"

G_BEGIN_DECLS

#define NLX_METADATA_ERROR (nlx_metadata_error_quark ())
GQuark nlx_metadata_error_quark (void);

typedef enum {
  NLX_METADATA_ERROR_NOT_FOUND,
} NlxMetadataError;

GBytes *nlx_metadata_lookup (const NlxInstance *instance,
                             const char *path,
                             const char **content_type,
                             GError **error);
gboolean nlx_metadata_write_config_drive (const NlxInstance *instance,
                                          const char *dir,
                                          GError **error);

G_END_DECLS
