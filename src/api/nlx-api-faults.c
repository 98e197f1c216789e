/* nlx-api-faults.c: the one table from a GError's domain and code to the
 * HTTP status the API answers with, and each status's fault name
 *
 * Every answer made from a GError (the Compute API's fault bodies, the
 * console WebSocket's refusals, the metadata service) takes its status
 * from nlx_api_status_for_error(), so a domain or code is mapped here and
 * nowhere else.  docs/hacking.md, "Errors", says why each row is what it
 * is; a new domain or code gets its row, and its case in
 * tests/test-api-daemon.c (/nlx/api/faults/table), in the same change. */
#include "config.h"

#include <gio/gio.h>
#include <glib/gi18n-lib.h>

#include "api/nlx-api-faults.h"
#include "common/nlx-error.h"
#include "model/nlx-metadata.h"

/* Every code of the domain: for GLib's own, whose codes all mean the
 * same thing to the caller. */
#define ANY_CODE (-1)

typedef struct {
  GQuark (*domain) (void);      /* a function: quarks are not constants */
  int code;
  guint status;
} FaultRow;

static const FaultRow fault_table[] = {
  /* What a driver, the manager or the storage layer says. */
  { nlx_driver_error_quark, NLX_DRIVER_ERROR_FAILED, 500 },
  { nlx_driver_error_quark, NLX_DRIVER_ERROR_NOT_FOUND, 404 },
  { nlx_driver_error_quark, NLX_DRIVER_ERROR_EXISTS, 409 },
  { nlx_driver_error_quark, NLX_DRIVER_ERROR_INVALID_STATE, 409 },
  { nlx_driver_error_quark, NLX_DRIVER_ERROR_NOT_SUPPORTED, 501 },
  { nlx_driver_error_quark, NLX_DRIVER_ERROR_INVALID_ARGUMENT, 400 },
  { nlx_driver_error_quark, NLX_DRIVER_ERROR_UNAVAILABLE, 503 },
  /* A document the caller sent that the model refuses (a server, a key
   * pair, a body that is not strict JSON). */
  { nlx_model_error_quark, NLX_MODEL_ERROR_INVALID, 400 },
  /* A metadata path the instance asked for that does not exist is the
   * caller's thing; content that cannot be made is ours. */
  { nlx_metadata_error_quark, NLX_METADATA_ERROR_NOT_FOUND, 404 },
  { nlx_metadata_error_quark, NLX_METADATA_ERROR_FAILED, 500 },
  /* The operator's configuration, never the caller's input: no request
   * carries configuration, so a value that cannot be used is the
   * service's fault. */
  { nlx_config_error_quark, NLX_CONFIG_ERROR_INVALID, 500 },
  /* The driver plugin; only at start, listed so nothing is unknown. */
  { nlx_plugin_error_quark, NLX_PLUGIN_ERROR_NOT_FOUND, 500 },
  { nlx_plugin_error_quark, NLX_PLUGIN_ERROR_INVALID, 500 },
  /* The host's own files and sockets (records, snapshots, the state
   * directory): a missing one is a host path, not the caller's thing,
   * whose absence the storage layer reports as NLX_DRIVER_ERROR_NOT_FOUND
   * itself. */
  { g_file_error_quark, ANY_CODE, 500 },
  { g_io_error_quark, ANY_CODE, 500 },
};

/**
 * nlx_api_status_for_error:
 * @error: what failed
 *
 * Looks @error's domain and code up in the table.  One the table does not
 * know is answered 500 and logged, so the missing row is noticed.
 *
 * Returns: the HTTP status to answer with
 */
guint
nlx_api_status_for_error (const GError *error)
{
  for (gsize i = 0; i < G_N_ELEMENTS (fault_table); i++)
    if (error->domain == fault_table[i].domain () &&
        (fault_table[i].code == ANY_CODE ||
         error->code == fault_table[i].code))
      return fault_table[i].status;
  g_warning (_("No HTTP status is known for error domain %s, code %d "
               "(“%s”); answering 500.  Add a row for it to the table in "
               "src/api/nlx-api-faults.c"),
             g_quark_to_string (error->domain), error->code, error->message);
  return 500;
}

/**
 * nlx_api_fault_name:
 * @status: an HTTP status of an error
 *
 * Returns: the member that holds Nova's fault body for @status, e.g.
 *   "itemNotFound"; "computeFault" for any status without a name of its
 *   own
 */
const char *
nlx_api_fault_name (guint status)
{
  switch (status)
    {
    case 400: return "badRequest";
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 404: return "itemNotFound";
    case 405: return "badMethod";
    case 406: return "notAcceptable";
    case 409: return "conflictingRequest";
    case 413: return "overLimit";
    case 415: return "badMediaType";
    case 501: return "notImplemented";
    case 503: return "serviceUnavailable";
    default: return "computeFault";
    }
}
