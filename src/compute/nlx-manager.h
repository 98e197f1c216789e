/* nlx-manager.h: instance records, states and operations on one host */
#pragma once

#include <gio/gio.h>

#include "common/nlx-lock.h"
#include "compute/nlx-store.h"
#include "driver/nlx-virt.h"
#include "model/nlx-config.h"
#include "model/nlx-keypair.h"
#include "model/nlx-record.h"
#include "storage/nlx-image-store.h"
#include "storage/nlx-volume.h"

G_BEGIN_DECLS

typedef struct _NlxManager NlxManager;

/**
 * NlxClaims:
 * @instances: instances that hold a place on the host
 * @vcpus: their flavors' vcpus
 * @memory_mb: their flavors' memory
 * @disk_gb: their flavors' root disks
 *
 * What this service's instances claim of the host (nlx_manager_get_claims()).
 */
typedef struct {
  guint instances;
  guint64 vcpus;
  guint64 memory_mb;
  guint64 disk_gb;
} NlxClaims;

/**
 * NlxAction:
 *
 * What a caller can ask of an existing instance.  Each runs in a worker
 * thread while the instance shows the matching task state.
 */
typedef enum {
  NLX_ACTION_REBOOT_SOFT,
  NLX_ACTION_REBOOT_HARD,
  NLX_ACTION_STOP,
  NLX_ACTION_START,
  NLX_ACTION_PAUSE,
  NLX_ACTION_UNPAUSE,
  NLX_ACTION_DELETE,
} NlxAction;

/**
 * NlxManagerPowerFunc:
 * @uuid: the server
 * @before: its power state as last told
 * @after: its power state now
 * @data: the watcher's
 *
 * Called in the manager's main context when a server's power state as
 * the manager records it changes, once per change.
 */
typedef void (*NlxManagerPowerFunc) (const char *uuid,
                                     NlxPowerState before,
                                     NlxPowerState after,
                                     gpointer data);

NlxLock *nlx_manager_lock_state (const NlxConfig *config,
                                 GError **error);
NlxManager *nlx_manager_new (const NlxConfig *config,
                             NlxVirt *virt,
                             GError **error);
void nlx_manager_stop (NlxManager *manager);
void nlx_manager_free (NlxManager *manager);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NlxManager, nlx_manager_free)

void nlx_manager_set_caller (NlxManager *manager,
                             const char *request_id,
                             const char *user_id,
                             const char *project_id);
guint nlx_manager_count_running_operations (NlxManager *manager);
const char *nlx_manager_get_host (NlxManager *manager);
NlxStore *nlx_manager_get_store (NlxManager *manager);

GPtrArray *nlx_manager_list (NlxManager *manager);
const NlxRecord *nlx_manager_lookup (NlxManager *manager,
                                     const char *uuid,
                                     GError **error);
const NlxDeletedServer *nlx_manager_lookup_deleted (NlxManager *manager,
                                                    const char *uuid);

void nlx_manager_create_async (NlxManager *manager,
                               NlxInstance *instance,
                               GAsyncReadyCallback callback,
                               gpointer user_data);
const NlxRecord *nlx_manager_create_finish (NlxManager *manager,
                                            GAsyncResult *result,
                                            GError **error);
void nlx_manager_create_many_async (NlxManager *manager,
                                    GPtrArray *instances,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data);
void nlx_manager_update_metadata_async (NlxManager *manager,
                                        const char *uuid,
                                        GHashTable *items,
                                        gboolean replace,
                                        const char *remove,
                                        GAsyncReadyCallback callback,
                                        gpointer user_data);
const char *nlx_manager_get_network_name (NlxManager *manager);
void nlx_manager_update_async (NlxManager *manager,
                               const char *uuid,
                               const char *name,
                               gboolean set_description,
                               const char *description,
                               const char *hostname,
                               const char *access_ipv4,
                               const char *access_ipv6,
                               GAsyncReadyCallback callback,
                               gpointer user_data);
void nlx_manager_lock_async (NlxManager *manager,
                             const char *uuid,
                             const char *locked_by,
                             const char *locked_reason,
                             GAsyncReadyCallback callback,
                             gpointer user_data);
void nlx_manager_update_tags_async (NlxManager *manager,
                                    const char *uuid,
                                    GPtrArray *tags,
                                    const char *tag,
                                    gboolean remove,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data);
void nlx_manager_act_async (NlxManager *manager,
                            const char *uuid,
                            NlxAction action,
                            GAsyncReadyCallback callback,
                            gpointer user_data);
void nlx_manager_rebuild_async (NlxManager *manager,
                                NlxInstance *instance,
                                GAsyncReadyCallback callback,
                                gpointer user_data);
gboolean nlx_manager_change_finish (NlxManager *manager,
                                    GAsyncResult *result,
                                    GError **error);
void nlx_manager_create_image_async (NlxManager *manager,
                                     const char *uuid,
                                     const char *name,
                                     GHashTable *metadata,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data);
void nlx_manager_create_backup_async (NlxManager *manager,
                                      const char *uuid,
                                      const char *name,
                                      const char *backup_type,
                                      gint64 rotation,
                                      GHashTable *metadata,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data);
NlxStoredImage *nlx_manager_create_image_finish (NlxManager *manager,
                                                 GAsyncResult *result,
                                                 GError **error);

void nlx_manager_get_console_output_async (NlxManager *manager,
                                           const char *uuid,
                                           gsize max_bytes,
                                           GAsyncReadyCallback callback,
                                           gpointer user_data);
char *nlx_manager_get_console_output_finish (NlxManager *manager,
                                             GAsyncResult *result,
                                             GError **error);
char *nlx_manager_create_console_token (NlxManager *manager,
                                        const char *uuid,
                                        GError **error);
char *nlx_manager_take_console_token (NlxManager *manager,
                                      const char *token,
                                      GError **error);
void nlx_manager_console_attach_async (NlxManager *manager,
                                       const char *uuid,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data);
int nlx_manager_console_attach_finish (NlxManager *manager,
                                       GAsyncResult *result,
                                       GError **error);
void nlx_manager_get_claims (NlxManager *manager,
                             NlxClaims *claims);
void nlx_manager_get_project_claims (NlxManager *manager,
                                     const char *project_id,
                                     NlxClaims *claims);
void nlx_manager_get_capacity (NlxManager *manager,
                               NlxClaims *capacity);
void nlx_manager_get_resources_async (NlxManager *manager,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data);
NlxHostResources *nlx_manager_get_resources_finish (NlxManager *manager,
                                                    GAsyncResult *result,
                                                    GError **error);

const NlxRecord *nlx_manager_find_volume_user (NlxManager *manager,
                                              const char *id,
                                              NlxVolumeAttachment *attachment);
void nlx_manager_attach_volume_async (NlxManager *manager,
                                      const char *uuid,
                                      const char *volume_id,
                                      const char *device,
                                      const char *mount_path,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data);
NlxVolumeAttachment *nlx_manager_attach_volume_finish (NlxManager *manager,
                                                       GAsyncResult *result,
                                                       GError **error);
void nlx_manager_detach_volume_async (NlxManager *manager,
                                      const char *uuid,
                                      const char *volume_id,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data);
gboolean nlx_manager_detach_volume_finish (NlxManager *manager,
                                           GAsyncResult *result,
                                           GError **error);
void nlx_manager_list_volumes_async (NlxManager *manager,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data);
GPtrArray *nlx_manager_list_volumes_finish (NlxManager *manager,
                                            GAsyncResult *result,
                                            GError **error);
void nlx_manager_create_volume_async (NlxManager *manager,
                                      const char *id,
                                      guint64 size_bytes,
                                      const char *fstype,
                                      const char *from_dir,
                                      const char *owner,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data);
void nlx_manager_link_volume_async (NlxManager *manager,
                                    const char *id,
                                    const char *device,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data);
NlxVolumeInfo *nlx_manager_create_volume_finish (NlxManager *manager,
                                                 GAsyncResult *result,
                                                 GError **error);
NlxVolumeInfo *nlx_manager_get_volume (NlxManager *manager,
                                       const char *id,
                                       GError **error);
void nlx_manager_set_volume_not_found (NlxManager *manager,
                                      const char *id,
                                      GError **error);
gboolean nlx_manager_delete_volume (NlxManager *manager,
                                    const char *id,
                                    GError **error);

NlxImageStore *nlx_manager_get_image_store (NlxManager *manager);
void nlx_manager_import_image_async (NlxManager *manager,
                                     const char *file,
                                     const char *name,
                                     GHashTable *properties,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data);
NlxStoredImage *nlx_manager_import_image_finish (NlxManager *manager,
                                                 GAsyncResult *result,
                                                 GError **error);
void nlx_manager_delete_image_async (NlxManager *manager,
                                     const char *ref,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data);
int nlx_manager_export_image (NlxManager *manager,
                              const char *ref,
                              GAsyncReadyCallback callback,
                              gpointer user_data,
                              GError **error);
gboolean nlx_manager_export_image_finish (NlxManager *manager,
                                          GAsyncResult *result,
                                          GError **error);
void nlx_manager_watch_power_states (NlxManager *manager,
                                     NlxManagerPowerFunc func,
                                     gpointer data);

const NlxKeypair *nlx_manager_find_keypair (NlxManager *manager,
                                            const char *user_id,
                                            const char *name);
GPtrArray *nlx_manager_list_keypairs (NlxManager *manager,
                                      const char *user_id);
void nlx_manager_add_keypair_async (NlxManager *manager,
                                    NlxKeypair *keypair,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data);
NlxKeypair *nlx_manager_add_keypair_finish (NlxManager *manager,
                                            GAsyncResult *result,
                                            GError **error);
void nlx_manager_delete_keypair_async (NlxManager *manager,
                                       const char *user_id,
                                       const char *name,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data);
gboolean nlx_manager_delete_keypair_finish (NlxManager *manager,
                                            GAsyncResult *result,
                                            GError **error);

G_END_DECLS
