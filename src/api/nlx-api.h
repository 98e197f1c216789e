/* nlx-api.h: the Compute API (OpenStack v2.1 shapes) over HTTP */
#pragma once

#include "compute/nlx-manager.h"
#include "model/nlx-config.h"

G_BEGIN_DECLS

typedef struct _NlxApi NlxApi;

/* Requests with a larger body are refused: Nova's default
 * (oslo.middleware's max_request_body_size), room for 64 KiB of
 * user_data and the rest of a server. */
#define NLX_API_MAX_BODY (112 * 1024)

NlxApi *nlx_api_new (const NlxConfig *config,
                     NlxManager *manager,
                     GError **error);
void nlx_api_free (NlxApi *api);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NlxApi, nlx_api_free)

guint nlx_api_get_tcp_port (NlxApi *api);
guint nlx_api_count_connections (NlxApi *api);
void nlx_api_publish_power_change (NlxApi *api,
                                   const char *uuid,
                                   NlxPowerState before,
                                   NlxPowerState after);

G_END_DECLS
