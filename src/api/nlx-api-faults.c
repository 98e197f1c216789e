/* nlx-api-faults.c: the one table from GError domain and code to HTTP
 * status */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "api/nlx-api-private.h"

guint
nlx_api_status_for_error (const GError *error)
{
  if (error->domain == NLX_DRIVER_ERROR)
    switch ((NlxDriverError) error->code)
      {
      case NLX_DRIVER_ERROR_NOT_FOUND: return 404;
      case NLX_DRIVER_ERROR_EXISTS: return 409;
      case NLX_DRIVER_ERROR_INVALID_STATE: return 409;
      case NLX_DRIVER_ERROR_NOT_SUPPORTED: return 501;
      case NLX_DRIVER_ERROR_INVALID_ARGUMENT: return 400;
      case NLX_DRIVER_ERROR_UNAVAILABLE: return 503;
      case NLX_DRIVER_ERROR_FAILED: return 500;
      }
  if (error->domain == NLX_MODEL_ERROR)
    return 400;
  return 500;
}
