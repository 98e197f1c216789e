/* nlx-api-faults.h: the one table from a GError's domain and code to the
 * HTTP status the API answers with, and each status's fault name */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

guint nlx_api_status_for_error (const GError *error);
const char *nlx_api_fault_name (guint status);

G_END_DECLS
