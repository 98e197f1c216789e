/* nlx-metadata-service.h: http://169.254.169.254/ for the bridge's
 * instances */
#pragma once

#include "api/nlx-listener.h"
#include "compute/nlx-manager.h"

G_BEGIN_DECLS

typedef struct _NlxMetadataService NlxMetadataService;

NlxMetadataService *nlx_metadata_service_new (NlxManager *manager,
                                              const char *bridge,
                                              const char *gateway,
                                              guint port,
                                              const NlxListenerLimits *limits,
                                              GError **error);
void nlx_metadata_service_free (NlxMetadataService *service);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NlxMetadataService, nlx_metadata_service_free)

guint nlx_metadata_service_get_port (NlxMetadataService *service);

const NlxRecord *nlx_metadata_service_find_caller (GPtrArray *records,
                                                   const char *bridge,
                                                   const char *address);

G_END_DECLS
