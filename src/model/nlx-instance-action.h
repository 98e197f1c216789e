/* nlx-instance-action.h: one entry of an instance's action history, as
 * Nova's os-instance-actions shows it */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/**
 * NlxInstanceAction:
 * @action: Nova's name of what was asked: "create", "reboot", ...
 * @request_id: the request that began it (X-Openstack-Request-Id)
 * @user_id: who asked
 * @project_id: the project it was asked in
 * @start_time: when it was asked, UTC
 * @updated_at: its last change (its event starting or ending), UTC
 * @message: (nullable): "Error" once it failed, as Nova
 * @event: its one event, Nova's compute manager's name for the work:
 *   "compute_reboot_instance", ...
 * @event_start: when the work began
 * @finish_time: (nullable): when the work ended, %NULL while it runs
 * @result: (nullable): "Success" or "Error" once it ended
 * @traceback: (nullable): why it failed (Nova's traceback; here the
 *   error)
 * @host: the compute host that did it
 *
 * An action as Nova records it (instance_actions and
 * instance_actions_events), with the one event every nova-lxc operation
 * has.  Kept in the instance's record (NlxRecord.actions).
 */
typedef struct {
  char *action;
  char *request_id;
  char *user_id;
  char *project_id;
  GDateTime *start_time;
  GDateTime *updated_at;
  char *message;
  char *event;
  GDateTime *event_start;
  GDateTime *finish_time;
  char *result;
  char *traceback;
  char *host;
} NlxInstanceAction;

NlxInstanceAction *nlx_instance_action_new (const char *action,
                                            const char *request_id,
                                            const char *user_id,
                                            const char *project_id,
                                            const char *event,
                                            const char *host);
void nlx_instance_action_free (NlxInstanceAction *action);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NlxInstanceAction, nlx_instance_action_free)

void nlx_instance_action_finish (NlxInstanceAction *action,
                                 gboolean ok,
                                 const char *why);

JsonNode *nlx_instance_action_to_node (const NlxInstanceAction *action);
NlxInstanceAction *nlx_instance_action_new_from_node (JsonNode *node,
                                                      GError **error);

/**
 * NlxDeletedServer:
 * @uuid: the deleted server's
 * @project_id: (nullable): its project (who may see its actions)
 * @user_id: (nullable): its owner
 * @deleted_at: when its delete finished, UTC
 * @actions: (element-type NlxInstanceAction): its history, oldest first
 * @text: (nullable): its JSON, as nlx_deleted_servers_to_data() wrote
 *   it the first time, and then reuses; nothing of a deleted server
 *   changes once it is in a list
 *
 * What outlives a deleted server, for 2.21's actions of deleted servers
 * (the manager keeps a bounded list of them).
 */
typedef struct {
  char *uuid;
  char *project_id;
  char *user_id;
  GDateTime *deleted_at;
  GPtrArray *actions;
  char *text;
} NlxDeletedServer;

void nlx_deleted_server_free (NlxDeletedServer *server);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NlxDeletedServer, nlx_deleted_server_free)

char *nlx_deleted_servers_to_data (GPtrArray *servers);
GPtrArray *nlx_deleted_servers_load (const char *path,
                                     GError **error);

G_END_DECLS
