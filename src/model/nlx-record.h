/* nlx-record.h: an instance as the compute host tracks it */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "model/nlx-instance.h"
#include "model/nlx-instance-action.h"
#include "model/nlx-power-state.h"

G_BEGIN_DECLS

/* Nova's vm_states, by the names Nova's API shows. */
typedef enum {
  NLX_VM_STATE_BUILDING,
  NLX_VM_STATE_ACTIVE,
  NLX_VM_STATE_STOPPED,
  NLX_VM_STATE_PAUSED,
  NLX_VM_STATE_ERROR,
  NLX_VM_STATE_DELETED,
} NlxVmState;

/* Nova's task_states for the operations nova-lxc has; NONE is idle. */
typedef enum {
  NLX_TASK_STATE_NONE,
  NLX_TASK_STATE_SPAWNING,
  NLX_TASK_STATE_REBOOTING,
  NLX_TASK_STATE_REBOOTING_HARD,
  NLX_TASK_STATE_POWERING_OFF,
  NLX_TASK_STATE_POWERING_ON,
  NLX_TASK_STATE_PAUSING,
  NLX_TASK_STATE_UNPAUSING,
  NLX_TASK_STATE_DELETING,
  NLX_TASK_STATE_ATTACHING_VOLUME,
  NLX_TASK_STATE_DETACHING_VOLUME,
  NLX_TASK_STATE_REBUILDING,
  NLX_TASK_STATE_IMAGE_SNAPSHOT,
} NlxTaskState;

/**
 * NlxRecord:
 * @instance: what was asked
 * @vm_state: where the instance is
 * @task_state: what is being done to it, if anything
 * @power_state: what the driver last said
 * @fault: (nullable): why it is in ERROR
 * @updated_at: last change, UTC
 * @pending_volume: (nullable): the volume being attached or detached; a
 *   restart that finds it undoes the attachment
 * @unplaced: it holds none of the host's resources, as a Nova instance
 *   whose host is None: there was no room for it at create, or its spawn
 *   failed; only a delete is left for it
 * @actions: (element-type NlxInstanceAction): its action history
 *   (os-instance-actions), oldest first, at most
 *   %NLX_RECORD_ACTIONS_MAX: it goes with the record
 * @generation: a number no other record object had, new at each change
 *   (nlx_record_changed()): what the API keys the views of a server it
 *   keeps for the next list by; not stored
 *
 * The manager's record of one instance, stored durably: the store is the
 * truth about what was asked, libvirt about what runs.
 */
typedef struct {
  NlxInstance *instance;
  NlxVmState vm_state;
  NlxTaskState task_state;
  NlxPowerState power_state;
  char *fault;
  GDateTime *updated_at;
  char *pending_volume;
  gboolean unplaced;
  GPtrArray *actions;
  guint64 generation;
} NlxRecord;

/* The most actions a record keeps: the oldest go first, so that a
 * server acted on for months does not grow without end. */
#define NLX_RECORD_ACTIONS_MAX 100

NlxRecord *nlx_record_new (NlxInstance *instance);
void nlx_record_free (NlxRecord *record);
void nlx_record_changed (NlxRecord *record);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NlxRecord, nlx_record_free)

const char *nlx_record_status (const NlxRecord *record);

const char *nlx_vm_state_to_string (NlxVmState state);
const char *nlx_task_state_to_string (NlxTaskState state);

JsonNode *nlx_record_to_node (const NlxRecord *record);
NlxRecord *nlx_record_new_from_node (JsonNode *node,
                                     GError **error);
NlxRecord *nlx_record_copy (const NlxRecord *record);

G_END_DECLS
