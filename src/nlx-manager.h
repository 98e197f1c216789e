/* nlx-manager.h: instance records, states and operations on one host */
#pragma once

#include <gio/gio.h>

#include "nlx-config.h"
#include "nlx-record.h"
#include "nlx-virt.h"

G_BEGIN_DECLS

typedef struct _NlxManager NlxManager;

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

NlxManager *nlx_manager_new (const NlxConfig *config,
                             NlxVirt *virt,
                             GError **error);
void nlx_manager_free (NlxManager *manager);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NlxManager, nlx_manager_free)

guint nlx_manager_count_running_operations (NlxManager *manager);
const char *nlx_manager_get_host (NlxManager *manager);

GPtrArray *nlx_manager_list (NlxManager *manager);
const NlxRecord *nlx_manager_lookup (NlxManager *manager,
                                     const char *uuid,
                                     GError **error);

const NlxRecord *nlx_manager_create (NlxManager *manager,
                                     NlxInstance *instance,
                                     GError **error);
gboolean nlx_manager_rename (NlxManager *manager,
                             const char *uuid,
                             const char *name,
                             GError **error);
gboolean nlx_manager_act (NlxManager *manager,
                          const char *uuid,
                          NlxAction action,
                          GError **error);

void nlx_manager_get_console_output_async (NlxManager *manager,
                                           const char *uuid,
                                           gsize max_bytes,
                                           GAsyncReadyCallback callback,
                                           gpointer user_data);
char *nlx_manager_get_console_output_finish (NlxManager *manager,
                                             GAsyncResult *result,
                                             GError **error);
void nlx_manager_get_resources_async (NlxManager *manager,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data);
NlxHostResources *nlx_manager_get_resources_finish (NlxManager *manager,
                                                    GAsyncResult *result,
                                                    GError **error);

G_END_DECLS
