/* nlx-driver-broken.c: plugins the loader must refuse, and one with
 * nothing optional
 *
 * Built three times: as nlx-driver-nosymbol (exports no entry point);
 * with NLX_TEST_BAD_ABI, as nlx-driver-badabi (a table for another ABI);
 * with NLX_TEST_BARE, as nlx-driver-bare (the required operations only,
 * each of which fails, so that callers' handling of what a driver lacks
 * can be tested). */
#include "config.h"

#include <gmodule.h>

#include "driver/nlx-driver.h"

#ifdef NLX_TEST_BAD_ABI
static const NlxDriver badabi_driver = {
  .abi_version = NLX_DRIVER_ABI_VERSION + 1,
  .name = "badabi",
};

G_MODULE_EXPORT const NlxDriver *nlx_driver_get (void);

const NlxDriver *
nlx_driver_get (void)
{
  return &badabi_driver;
}
#elif defined (NLX_TEST_BARE)
static struct _NlxDriverState {
  int unused;
} bare_state;

static NlxDriverState *
bare_init_host (GKeyFile *config G_GNUC_UNUSED,
                GError **error G_GNUC_UNUSED)
{
  return &bare_state;
}

static void
bare_cleanup_host (NlxDriverState *state G_GNUC_UNUSED)
{
}

static char **
bare_list_instances (NlxDriverState *state G_GNUC_UNUSED,
                     GError **error G_GNUC_UNUSED)
{
  return g_new0 (char *, 1);
}

static gboolean
bare_fail (GError **error)
{
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_NOT_FOUND,
               "The bare test driver has no instances");
  return FALSE;
}

static gboolean
bare_spawn (NlxDriverState *state G_GNUC_UNUSED,
            const NlxInstance *instance G_GNUC_UNUSED,
            const NlxImage *image G_GNUC_UNUSED,
            GError **error)
{
  return bare_fail (error);
}

static gboolean
bare_act (NlxDriverState *state G_GNUC_UNUSED,
          const char *uuid G_GNUC_UNUSED,
          GError **error)
{
  return bare_fail (error);
}

static gboolean
bare_reboot (NlxDriverState *state G_GNUC_UNUSED,
             const char *uuid G_GNUC_UNUSED,
             NlxRebootType type G_GNUC_UNUSED,
             GError **error)
{
  return bare_fail (error);
}

static gboolean
bare_power_off (NlxDriverState *state G_GNUC_UNUSED,
                const char *uuid G_GNUC_UNUSED,
                guint timeout_s G_GNUC_UNUSED,
                GError **error)
{
  return bare_fail (error);
}

static gboolean
bare_get_info (NlxDriverState *state G_GNUC_UNUSED,
               const char *uuid G_GNUC_UNUSED,
               NlxInstanceInfo *info G_GNUC_UNUSED,
               GError **error)
{
  return bare_fail (error);
}

static NlxHostResources *
bare_get_available_resource (NlxDriverState *state G_GNUC_UNUSED,
                             GError **error)
{
  bare_fail (error);
  return NULL;
}

static const NlxDriver bare_driver = {
  .abi_version = NLX_DRIVER_ABI_VERSION,
  .name = "bare",
  .init_host = bare_init_host,
  .cleanup_host = bare_cleanup_host,
  .list_instances = bare_list_instances,
  .spawn = bare_spawn,
  .destroy = bare_act,
  .reboot = bare_reboot,
  .power_off = bare_power_off,
  .power_on = bare_act,
  .get_info = bare_get_info,
  .get_available_resource = bare_get_available_resource,
};

G_MODULE_EXPORT const NlxDriver *nlx_driver_get (void);

const NlxDriver *
nlx_driver_get (void)
{
  return &bare_driver;
}
#else
G_MODULE_EXPORT int nlx_driver_something_else (void);

int
nlx_driver_something_else (void)
{
  return 0;
}
#endif
