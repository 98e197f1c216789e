/* nlx-virt.h: a loaded, initialised compute driver */
#pragma once

#include "driver/nlx-driver.h"

G_BEGIN_DECLS

typedef struct _NlxVirt NlxVirt;

NlxVirt *nlx_virt_open (const char *driver_name,
                        GKeyFile *config,
                        GError **error);
void nlx_virt_close (NlxVirt *virt);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NlxVirt, nlx_virt_close)

char **nlx_virt_list_instances (NlxVirt *virt,
                                GError **error);
gboolean nlx_virt_spawn (NlxVirt *virt,
                         const NlxInstance *instance,
                         const NlxImage *image,
                         GError **error);
gboolean nlx_virt_destroy (NlxVirt *virt,
                           const char *uuid,
                           GError **error);
gboolean nlx_virt_reboot (NlxVirt *virt,
                          const char *uuid,
                          NlxRebootType type,
                          GError **error);
gboolean nlx_virt_power_off (NlxVirt *virt,
                             const char *uuid,
                             guint timeout_s,
                             GError **error);
gboolean nlx_virt_power_on (NlxVirt *virt,
                            const char *uuid,
                            GError **error);
gboolean nlx_virt_pause (NlxVirt *virt,
                         const char *uuid,
                         GError **error);
gboolean nlx_virt_unpause (NlxVirt *virt,
                           const char *uuid,
                           GError **error);
GHashTable *nlx_virt_get_power_states (NlxVirt *virt,
                                       GError **error);
gboolean nlx_virt_get_info (NlxVirt *virt,
                            const char *uuid,
                            NlxInstanceInfo *info,
                            GError **error);
char *nlx_virt_get_console_output (NlxVirt *virt,
                                   const char *uuid,
                                   gsize max_bytes,
                                   GError **error);
gboolean nlx_virt_attach_volume (NlxVirt *virt,
                                 const char *uuid,
                                 const NlxVolumeAttachment *attachment,
                                 GError **error);
gboolean nlx_virt_detach_volume (NlxVirt *virt,
                                 const char *uuid,
                                 const NlxVolumeAttachment *attachment,
                                 GError **error);
gboolean nlx_virt_snapshot (NlxVirt *virt,
                            const char *uuid,
                            const char *image_dir,
                            GError **error);
NlxHostResources *nlx_virt_get_available_resource (NlxVirt *virt,
                                                   GError **error);
gboolean nlx_virt_watch_events (NlxVirt *virt,
                                NlxDriverEventFunc func,
                                gpointer user_data);
void nlx_virt_unwatch_events (NlxVirt *virt);
gboolean nlx_virt_lock_host (NlxVirt *virt,
                             GError **error);
gboolean nlx_virt_get_vif (NlxVirt *virt,
                           const char *uuid,
                           NlxVif **vif,
                           GError **error);
gboolean nlx_virt_get_fault (NlxVirt *virt,
                             const char *uuid,
                             char **fault,
                             GError **error);
int nlx_virt_console_attach (NlxVirt *virt,
                             const char *uuid,
                             GError **error);
gboolean nlx_virt_has_capability (NlxVirt *virt,
                                  NlxDriverCapability capability);

G_END_DECLS
