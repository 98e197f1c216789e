/* nlx-error.c: error domains shared by every layer of nova-lxc */
#include "config.h"

#include "common/nlx-error.h"

G_DEFINE_QUARK (nlx-driver-error-quark, nlx_driver_error)
G_DEFINE_QUARK (nlx-model-error-quark, nlx_model_error)
G_DEFINE_QUARK (nlx-plugin-error-quark, nlx_plugin_error)
G_DEFINE_QUARK (nlx-config-error-quark, nlx_config_error)
