/* nlx-metadata.h: what Nova's metadata service and config drive give an
 * instance */
#pragma once

#include <glib.h>

#include "model/nlx-instance.h"

G_BEGIN_DECLS

#define NLX_METADATA_ERROR (nlx_metadata_error_quark ())

/**
 * NlxMetadataError:
 * @NLX_METADATA_ERROR_NOT_FOUND: no metadata at that path (HTTP 404)
 * @NLX_METADATA_ERROR_FAILED: the content could not be made or written
 */
typedef enum {
  NLX_METADATA_ERROR_NOT_FOUND,
  NLX_METADATA_ERROR_FAILED,
} NlxMetadataError;

GQuark nlx_metadata_error_quark (void);

/* The longest request path looked up; longer ones are not found. */
#define NLX_METADATA_PATH_MAX 1024

/* The content types nlx_metadata_lookup() answers with. */
#define NLX_METADATA_TEXT "text/plain"
#define NLX_METADATA_JSON "application/json"

GBytes *nlx_metadata_lookup (const NlxInstance *instance,
                             const char *path,
                             const char **content_type,
                             GError **error);
gboolean nlx_metadata_write_config_drive (const NlxInstance *instance,
                                          const char *dir,
                                          GError **error);

G_END_DECLS
