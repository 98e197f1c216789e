/* nlx-error.h: error domains shared by every layer of nova-lxc */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * NlxDriverError:
 * @NLX_DRIVER_ERROR_FAILED: the operation failed; the message says why
 * @NLX_DRIVER_ERROR_NOT_FOUND: no such instance
 * @NLX_DRIVER_ERROR_EXISTS: an instance with that uuid or name exists
 * @NLX_DRIVER_ERROR_INVALID_STATE: the instance is in the wrong state
 * @NLX_DRIVER_ERROR_NOT_SUPPORTED: the driver cannot do this operation
 * @NLX_DRIVER_ERROR_INVALID_ARGUMENT: the request itself is wrong
 * @NLX_DRIVER_ERROR_UNAVAILABLE: the hypervisor cannot be reached now;
 *   trying again later may work
 *
 * Codes of driver operations.  The API layer maps them onto HTTP statuses
 * (500, 404, 409, 409, 501, 400, 503), so they must stay distinct.
 */
typedef enum {
  NLX_DRIVER_ERROR_FAILED,
  NLX_DRIVER_ERROR_NOT_FOUND,
  NLX_DRIVER_ERROR_EXISTS,
  NLX_DRIVER_ERROR_INVALID_STATE,
  NLX_DRIVER_ERROR_NOT_SUPPORTED,
  NLX_DRIVER_ERROR_INVALID_ARGUMENT,
  NLX_DRIVER_ERROR_UNAVAILABLE,
} NlxDriverError;

#define NLX_DRIVER_ERROR (nlx_driver_error_quark ())
GQuark nlx_driver_error_quark (void);

/**
 * NlxModelError:
 * @NLX_MODEL_ERROR_INVALID: a document is malformed or a field is wrong
 *
 * Codes for parsing instance and image documents.
 */
typedef enum {
  NLX_MODEL_ERROR_INVALID,
} NlxModelError;

#define NLX_MODEL_ERROR (nlx_model_error_quark ())
GQuark nlx_model_error_quark (void);

/**
 * NlxPluginError:
 * @NLX_PLUGIN_ERROR_NOT_FOUND: no plugin file of that name was found
 * @NLX_PLUGIN_ERROR_INVALID: the file is not a usable nova-lxc driver
 */
typedef enum {
  NLX_PLUGIN_ERROR_NOT_FOUND,
  NLX_PLUGIN_ERROR_INVALID,
} NlxPluginError;

#define NLX_PLUGIN_ERROR (nlx_plugin_error_quark ())
GQuark nlx_plugin_error_quark (void);

/**
 * NlxConfigError:
 * @NLX_CONFIG_ERROR_INVALID: a configuration value cannot be used; the
 *   message names the section and key
 */
typedef enum {
  NLX_CONFIG_ERROR_INVALID,
} NlxConfigError;

#define NLX_CONFIG_ERROR (nlx_config_error_quark ())
GQuark nlx_config_error_quark (void);

G_END_DECLS
