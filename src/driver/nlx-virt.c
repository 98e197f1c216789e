/* nlx-virt.c: a loaded, initialised compute driver */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "driver/nlx-driver-loader.h"
#include "driver/nlx-virt.h"

struct _NlxVirt {
  const NlxDriver *driver;
  NlxDriverState *state;
};

void
nlx_host_resources_free (NlxHostResources *resources)
{
  if (resources == NULL)
    return;
  g_free (resources->hypervisor_type);
  g_free (resources->hypervisor_hostname);
  g_free (resources);
}

/**
 * nlx_virt_open:
 * @driver_name: plugin name, e.g. "lxc" or "fake"
 * @config: (nullable): the host's configuration
 * @error: return location for a #NLX_PLUGIN_ERROR or #NLX_DRIVER_ERROR
 *
 * Loads the plugin and runs its init_host.
 *
 * Returns: (transfer full): the driver, ready for operations
 */
NlxVirt *
nlx_virt_open (const char *driver_name,
               GKeyFile *config,
               GError **error)
{
  const NlxDriver *driver = nlx_driver_load (driver_name, error);
  NlxDriverState *state;
  NlxVirt *virt;

  if (driver == NULL)
    return NULL;
  state = driver->init_host (config, error);
  if (state == NULL)
    return NULL;

  virt = g_new0 (NlxVirt, 1);
  virt->driver = driver;
  virt->state = state;
  return virt;
}

void
nlx_virt_close (NlxVirt *virt)
{
  if (virt == NULL)
    return;
  virt->driver->cleanup_host (virt->state);
  g_free (virt);
}

/* Drivers see one spelling of a uuid (lower case), so a directory or
 * record named after it is found however the caller typed it. */
static gboolean
canonical_uuid (const char *uuid,
                char out[37],
                GError **error)
{
  if (uuid == NULL || !g_uuid_string_is_valid (uuid))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("“%s” is not an instance uuid"), uuid ? uuid : "");
      return FALSE;
    }
  for (guint i = 0; i < 37; i++)
    out[i] = g_ascii_tolower (uuid[i]);
  return TRUE;
}

static gboolean G_GNUC_PRINTF (2, 3)
not_supported (GError **error,
               const char *format,
               ...)
{
  va_list args;

  va_start (args, format);
  g_propagate_error (error, g_error_new_valist (NLX_DRIVER_ERROR,
                                                NLX_DRIVER_ERROR_NOT_SUPPORTED,
                                                format, args));
  va_end (args);
  return FALSE;
}

char **
nlx_virt_list_instances (NlxVirt *virt,
                         GError **error)
{
  return virt->driver->list_instances (virt->state, error);
}

gboolean
nlx_virt_spawn (NlxVirt *virt,
                const NlxInstance *instance,
                const NlxImage *image,
                GError **error)
{
  return virt->driver->spawn (virt->state, instance, image, error);
}

gboolean
nlx_virt_destroy (NlxVirt *virt,
                  const char *uuid,
                  GError **error)
{
  char id[37];

  if (!canonical_uuid (uuid, id, error))
    return FALSE;
  return virt->driver->destroy (virt->state, id, error);
}

gboolean
nlx_virt_reboot (NlxVirt *virt,
                 const char *uuid,
                 NlxRebootType type,
                 GError **error)
{
  char id[37];

  if (!canonical_uuid (uuid, id, error))
    return FALSE;
  return virt->driver->reboot (virt->state, id, type, error);
}

gboolean
nlx_virt_power_off (NlxVirt *virt,
                    const char *uuid,
                    guint timeout_s,
                    GError **error)
{
  char id[37];

  if (!canonical_uuid (uuid, id, error))
    return FALSE;
  return virt->driver->power_off (virt->state, id, timeout_s, error);
}

gboolean
nlx_virt_power_on (NlxVirt *virt,
                   const char *uuid,
                   GError **error)
{
  char id[37];

  if (!canonical_uuid (uuid, id, error))
    return FALSE;
  return virt->driver->power_on (virt->state, id, error);
}

gboolean
nlx_virt_pause (NlxVirt *virt,
                const char *uuid,
                GError **error)
{
  char id[37];

  if (!canonical_uuid (uuid, id, error))
    return FALSE;
  if (virt->driver->pause == NULL)
    return not_supported (error, _("The %s driver cannot pause instances"),
                          virt->driver->name);
  return virt->driver->pause (virt->state, id, error);
}

gboolean
nlx_virt_unpause (NlxVirt *virt,
                  const char *uuid,
                  GError **error)
{
  char id[37];

  if (!canonical_uuid (uuid, id, error))
    return FALSE;
  if (virt->driver->unpause == NULL)
    return not_supported (error, _("The %s driver cannot unpause instances"),
                          virt->driver->name);
  return virt->driver->unpause (virt->state, id, error);
}

/**
 * nlx_virt_get_power_states:
 *
 * Returns: (transfer full): every instance's power state in one go (see
 *   NlxDriver.get_power_states), or %NULL with an error,
 *   %NLX_DRIVER_ERROR_NOT_SUPPORTED when the driver cannot (get_info
 *   then tells each)
 */
GHashTable *
nlx_virt_get_power_states (NlxVirt *virt,
                           GError **error)
{
  if (virt->driver->get_power_states == NULL)
    {
      not_supported (error, _("The %s driver cannot list power states"),
                     virt->driver->name);
      return NULL;
    }
  return virt->driver->get_power_states (virt->state, error);
}

gboolean
nlx_virt_get_info (NlxVirt *virt,
                   const char *uuid,
                   NlxInstanceInfo *info,
                   GError **error)
{
  char id[37];

  if (!canonical_uuid (uuid, id, error))
    return FALSE;
  return virt->driver->get_info (virt->state, id, info, error);
}

char *
nlx_virt_get_console_output (NlxVirt *virt,
                             const char *uuid,
                             gsize max_bytes,
                             GError **error)
{
  char id[37];

  if (!canonical_uuid (uuid, id, error))
    return NULL;
  if (virt->driver->get_console_output == NULL)
    {
      not_supported (error, _("The %s driver cannot show console output"),
                     virt->driver->name);
      return NULL;
    }
  return virt->driver->get_console_output (virt->state, id, max_bytes,
                                           error);
}

gboolean
nlx_virt_attach_volume (NlxVirt *virt,
                        const char *uuid,
                        const NlxVolumeAttachment *attachment,
                        GError **error)
{
  char id[37];

  if (!canonical_uuid (uuid, id, error))
    return FALSE;
  if (virt->driver->attach_volume == NULL)
    return not_supported (error, _("The %s driver cannot attach volumes"),
                          virt->driver->name);
  return virt->driver->attach_volume (virt->state, id, attachment, error);
}

gboolean
nlx_virt_detach_volume (NlxVirt *virt,
                        const char *uuid,
                        const NlxVolumeAttachment *attachment,
                        GError **error)
{
  char id[37];

  if (!canonical_uuid (uuid, id, error))
    return FALSE;
  if (virt->driver->detach_volume == NULL)
    return not_supported (error, _("The %s driver cannot detach volumes"),
                          virt->driver->name);
  return virt->driver->detach_volume (virt->state, id, attachment, error);
}

gboolean
nlx_virt_snapshot (NlxVirt *virt,
                   const char *uuid,
                   const char *image_dir,
                   GError **error)
{
  char id[37];

  if (!canonical_uuid (uuid, id, error))
    return FALSE;
  if (virt->driver->snapshot == NULL)
    return not_supported (error, _("The %s driver cannot snapshot instances"),
                          virt->driver->name);
  return virt->driver->snapshot (virt->state, id, image_dir, error);
}

NlxHostResources *
nlx_virt_get_available_resource (NlxVirt *virt,
                                 GError **error)
{
  return virt->driver->get_available_resource (virt->state, error);
}

/**
 * nlx_virt_watch_events:
 * @virt: the driver
 * @func: called, from a driver thread, with the uuid of an instance whose
 *   state may have changed
 * @user_data: for @func
 *
 * Returns: whether the driver reports events; when it does not, callers
 *   have to poll.
 */
gboolean
nlx_virt_watch_events (NlxVirt *virt,
                       NlxDriverEventFunc func,
                       gpointer user_data)
{
  if (virt->driver->watch_events == NULL)
    return FALSE;
  virt->driver->watch_events (virt->state, func, user_data);
  return TRUE;
}

/**
 * nlx_virt_unwatch_events:
 *
 * Stops the events nlx_virt_watch_events() asked for; once it returns no
 * call of that function runs or will run, so its data may be freed.
 */
void
nlx_virt_unwatch_events (NlxVirt *virt)
{
  if (virt->driver->watch_events != NULL)
    virt->driver->watch_events (virt->state, NULL, NULL);
}

/**
 * nlx_virt_lock_host:
 *
 * Claims what the driver's instances use on the host for this process
 * alone (see the driver's lock_host); a driver without such things
 * succeeds.
 */
gboolean
nlx_virt_lock_host (NlxVirt *virt,
                    GError **error)
{
  if (virt->driver->lock_host == NULL)
    return TRUE;
  return virt->driver->lock_host (virt->state, error);
}

/**
 * nlx_virt_get_vif:
 * @vif: (out) (transfer full) (nullable): the instance's interface as the
 *   hypervisor keeps it, or %NULL when it has none or the driver keeps
 *   none
 *
 * Returns: %FALSE with an error when the driver could not tell
 */
gboolean
nlx_virt_get_vif (NlxVirt *virt,
                  const char *uuid,
                  NlxVif **vif,
                  GError **error)
{
  char canonical[37];
  GError *local_error = NULL;

  *vif = NULL;
  if (!canonical_uuid (uuid, canonical, error))
    return FALSE;
  if (virt->driver->get_vif == NULL)
    return TRUE;
  *vif = virt->driver->get_vif (virt->state, canonical, &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return FALSE;
    }
  return TRUE;
}

/**
 * nlx_virt_get_fault:
 * @fault: (out) (transfer full) (nullable): why the stopped instance
 *   failed, as the driver saw it (see NlxDriver.get_fault), or %NULL when
 *   it did not fail or the driver cannot tell
 *
 * Returns: %FALSE with an error when the driver could not tell
 */
gboolean
nlx_virt_get_fault (NlxVirt *virt,
                    const char *uuid,
                    char **fault,
                    GError **error)
{
  char canonical[37];
  GError *local_error = NULL;

  *fault = NULL;
  if (!canonical_uuid (uuid, canonical, error))
    return FALSE;
  if (virt->driver->get_fault == NULL)
    return TRUE;
  *fault = virt->driver->get_fault (virt->state, canonical, &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return FALSE;
    }
  return TRUE;
}

/**
 * nlx_virt_console_attach:
 *
 * Attaches to the instance's serial console (see
 * NlxDriver.console_attach).
 *
 * Returns: a socket the caller owns, or -1
 */
int
nlx_virt_console_attach (NlxVirt *virt,
                         const char *uuid,
                         GError **error)
{
  char canonical[37];

  if (!canonical_uuid (uuid, canonical, error))
    return -1;
  if (virt->driver->console_attach == NULL)
    {
      not_supported (error, _("The %s driver has no interactive console"),
                     virt->driver->name);
      return -1;
    }
  return virt->driver->console_attach (virt->state, canonical, error);
}

/* Whether the driver has the optional operations of @capability. */
gboolean
nlx_virt_has_capability (NlxVirt *virt,
                         NlxDriverCapability capability)
{
  return (virt->driver->capabilities & capability) == capability;
}
