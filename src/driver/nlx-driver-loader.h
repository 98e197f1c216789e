/* nlx-driver-loader.h: finds and checks driver plugins */
#pragma once

#include "driver/nlx-driver.h"

G_BEGIN_DECLS

/* Colon-separated directories searched before any other. */
#define NLX_DRIVER_PATH_ENV "NOVA_LXC_DRIVER_PATH"

char **nlx_driver_loader_search_path (void);
const NlxDriver *nlx_driver_load (const char *name,
                                  GError **error);

G_END_DECLS
