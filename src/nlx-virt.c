/* nlx-virt.c: a loaded, initialised compute driver */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "nlx-driver-loader.h"
#include "nlx-virt.h"

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

const NlxDriver *
nlx_virt_get_driver (NlxVirt *virt)
{
  return virt->driver;
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
  return virt->driver->destroy (virt->state, uuid, error);
}

gboolean
nlx_virt_reboot (NlxVirt *virt,
                 const char *uuid,
                 NlxRebootType type,
                 GError **error)
{
  return virt->driver->reboot (virt->state, uuid, type, error);
}

gboolean
nlx_virt_power_off (NlxVirt *virt,
                    const char *uuid,
                    guint timeout_s,
                    GError **error)
{
  return virt->driver->power_off (virt->state, uuid, timeout_s, error);
}

gboolean
nlx_virt_power_on (NlxVirt *virt,
                   const char *uuid,
                   GError **error)
{
  return virt->driver->power_on (virt->state, uuid, error);
}

gboolean
nlx_virt_pause (NlxVirt *virt,
                const char *uuid,
                GError **error)
{
  if (virt->driver->pause == NULL)
    return not_supported (error, _("The %s driver cannot pause instances"),
                          virt->driver->name);
  return virt->driver->pause (virt->state, uuid, error);
}

gboolean
nlx_virt_unpause (NlxVirt *virt,
                  const char *uuid,
                  GError **error)
{
  if (virt->driver->unpause == NULL)
    return not_supported (error, _("The %s driver cannot unpause instances"),
                          virt->driver->name);
  return virt->driver->unpause (virt->state, uuid, error);
}

gboolean
nlx_virt_get_info (NlxVirt *virt,
                   const char *uuid,
                   NlxInstanceInfo *info,
                   GError **error)
{
  return virt->driver->get_info (virt->state, uuid, info, error);
}

char *
nlx_virt_get_console_output (NlxVirt *virt,
                             const char *uuid,
                             gsize max_bytes,
                             GError **error)
{
  if (virt->driver->get_console_output == NULL)
    {
      not_supported (error, _("The %s driver cannot show console output"),
                          virt->driver->name);
      return NULL;
    }
  return virt->driver->get_console_output (virt->state, uuid, max_bytes,
                                           error);
}

gboolean
nlx_virt_attach_volume (NlxVirt *virt,
                        const char *uuid,
                        const NlxVolumeAttachment *attachment,
                        GError **error)
{
  if (virt->driver->attach_volume == NULL)
    return not_supported (error, _("The %s driver cannot attach volumes"),
                          virt->driver->name);
  return virt->driver->attach_volume (virt->state, uuid, attachment, error);
}

gboolean
nlx_virt_detach_volume (NlxVirt *virt,
                        const char *uuid,
                        const char *volume_id,
                        GError **error)
{
  if (virt->driver->detach_volume == NULL)
    return not_supported (error, _("The %s driver cannot detach volumes"),
                          virt->driver->name);
  return virt->driver->detach_volume (virt->state, uuid, volume_id, error);
}

gboolean
nlx_virt_snapshot (NlxVirt *virt,
                   const char *uuid,
                   const char *image_dir,
                   GError **error)
{
  if (virt->driver->snapshot == NULL)
    return not_supported (error, _("The %s driver cannot snapshot instances"),
                          virt->driver->name);
  return virt->driver->snapshot (virt->state, uuid, image_dir, error);
}

NlxHostResources *
nlx_virt_get_available_resource (NlxVirt *virt,
                                 GError **error)
{
  return virt->driver->get_available_resource (virt->state, error);
}
