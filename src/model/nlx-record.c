/* nlx-record.c: an instance as the compute host tracks it */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "common/nlx-error.h"
#include "model/nlx-record.h"

static const char * const vm_states[] = {
  [NLX_VM_STATE_BUILDING] = "building",
  [NLX_VM_STATE_ACTIVE] = "active",
  [NLX_VM_STATE_STOPPED] = "stopped",
  [NLX_VM_STATE_PAUSED] = "paused",
  [NLX_VM_STATE_ERROR] = "error",
  [NLX_VM_STATE_DELETED] = "deleted",
};

static const char * const task_states[] = {
  [NLX_TASK_STATE_NONE] = NULL,
  [NLX_TASK_STATE_SPAWNING] = "spawning",
  [NLX_TASK_STATE_REBOOTING] = "rebooting",
  [NLX_TASK_STATE_REBOOTING_HARD] = "rebooting_hard",
  [NLX_TASK_STATE_POWERING_OFF] = "powering-off",
  [NLX_TASK_STATE_POWERING_ON] = "powering-on",
  [NLX_TASK_STATE_PAUSING] = "pausing",
  [NLX_TASK_STATE_UNPAUSING] = "unpausing",
  [NLX_TASK_STATE_DELETING] = "deleting",
  [NLX_TASK_STATE_ATTACHING_VOLUME] = "attaching_volume",
  [NLX_TASK_STATE_DETACHING_VOLUME] = "detaching_volume",
  [NLX_TASK_STATE_REBUILDING] = "rebuilding",
  [NLX_TASK_STATE_IMAGE_SNAPSHOT] = "image_snapshot",
};

/* The last generation handed out, to any record of this process. */
static guint64 last_generation;

/**
 * nlx_record_changed:
 *
 * Gives @record a generation no record had before: whatever was made of
 * it before (the API's cached views of it) is out of date.  Every change
 * of a record goes through this, as it is saved (and a new record,
 * read or made, gets its own).
 */
void
nlx_record_changed (NlxRecord *record)
{
  /* Whichever thread makes or changes a record. */
  record->generation = __atomic_add_fetch (&last_generation, 1,
                                           __ATOMIC_RELAXED);
}

NlxRecord *
nlx_record_new (NlxInstance *instance)
{
  NlxRecord *record = g_new0 (NlxRecord, 1);

  record->instance = instance;
  record->vm_state = NLX_VM_STATE_BUILDING;
  record->task_state = NLX_TASK_STATE_NONE;
  record->power_state = NLX_POWER_STATE_NOSTATE;
  record->updated_at = g_date_time_new_now_utc ();
  record->actions =
    g_ptr_array_new_with_free_func ((GDestroyNotify) nlx_instance_action_free);
  nlx_record_changed (record);
  return record;
}

void
nlx_record_free (NlxRecord *record)
{
  if (record == NULL)
    return;
  nlx_instance_free (record->instance);
  g_free (record->fault);
  g_free (record->pending_volume);
  g_clear_pointer (&record->updated_at, g_date_time_unref);
  g_clear_pointer (&record->actions, g_ptr_array_unref);
  g_free (record);
}

const char *
nlx_vm_state_to_string (NlxVmState state)
{
  return vm_states[state];
}

/* Returns: (nullable): Nova's name, %NULL when idle */
const char *
nlx_task_state_to_string (NlxTaskState state)
{
  return task_states[state];
}

/**
 * nlx_record_status:
 *
 * The API status, from vm_state and task_state as Nova's state map
 * derives it.
 */
const char *
nlx_record_status (const NlxRecord *record)
{
  switch (record->vm_state)
    {
    case NLX_VM_STATE_BUILDING:
      return "BUILD";
    case NLX_VM_STATE_ACTIVE:
      if (record->task_state == NLX_TASK_STATE_REBOOTING)
        return "REBOOT";
      if (record->task_state == NLX_TASK_STATE_REBOOTING_HARD)
        return "HARD_REBOOT";
      if (record->task_state == NLX_TASK_STATE_REBUILDING)
        return "REBUILD";
      return "ACTIVE";
    case NLX_VM_STATE_STOPPED:
      if (record->task_state == NLX_TASK_STATE_REBUILDING)
        return "REBUILD";
      return "SHUTOFF";
    case NLX_VM_STATE_PAUSED:
      return "PAUSED";
    case NLX_VM_STATE_ERROR:
      return "ERROR";
    case NLX_VM_STATE_DELETED:
    default:
      return "DELETED";
    }
}

JsonNode *
nlx_record_to_node (const NlxRecord *record)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autofree char *updated = g_date_time_format_iso8601 (record->updated_at);
  const char *task = nlx_task_state_to_string (record->task_state);
  g_autofree char *fault = record->fault ? g_utf8_make_valid (record->fault, -1)
                                         : NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "instance");
  json_builder_add_value (builder, nlx_instance_to_node (record->instance));
  json_builder_set_member_name (builder, "vm_state");
  json_builder_add_string_value (builder,
                                 nlx_vm_state_to_string (record->vm_state));
  json_builder_set_member_name (builder, "task_state");
  if (task != NULL)
    json_builder_add_string_value (builder, task);
  else
    json_builder_add_null_value (builder);
  json_builder_set_member_name (builder, "power_state");
  json_builder_add_int_value (builder, record->power_state);
  json_builder_set_member_name (builder, "fault");
  /* A fault quotes whatever failed, which need not be UTF-8; JSON must. */
  if (record->fault != NULL)
    json_builder_add_string_value (builder, fault);
  else
    json_builder_add_null_value (builder);
  json_builder_set_member_name (builder, "updated_at");
  json_builder_add_string_value (builder, updated);
  if (record->pending_volume != NULL)
    {
      json_builder_set_member_name (builder, "pending_volume");
      json_builder_add_string_value (builder, record->pending_volume);
    }
  /* Only when set: records from before it were all placed. */
  if (record->unplaced)
    {
      json_builder_set_member_name (builder, "unplaced");
      json_builder_add_boolean_value (builder, TRUE);
    }
  json_builder_set_member_name (builder, "actions");
  json_builder_begin_array (builder);
  for (guint i = 0; i < record->actions->len; i++)
    json_builder_add_value (builder,
                            nlx_instance_action_to_node (record->actions->pdata[i]));
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

/* "actions": absent in records from before it (no history yet). */
static gboolean
read_actions (JsonObject *object,
              GPtrArray *actions,
              GError **error)
{
  JsonNode *node = json_object_get_member (object, "actions");
  JsonArray *array;
  guint n;

  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (node))
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("“actions” must be an array"));
      return FALSE;
    }
  array = json_node_get_array (node);
  n = json_array_get_length (array);
  /* A bound lowered since it was written: keep the newest. */
  for (guint i = n > NLX_RECORD_ACTIONS_MAX ? n - NLX_RECORD_ACTIONS_MAX : 0;
       i < n; i++)
    {
      NlxInstanceAction *action =
        nlx_instance_action_new_from_node (json_array_get_element (array, i),
                                           error);

      if (action == NULL)
        return FALSE;
      g_ptr_array_add (actions, action);
    }
  return TRUE;
}

static gboolean
lookup_state (const char * const *names,
              guint n_names,
              const char *name,
              guint *out)
{
  for (guint i = 0; i < n_names; i++)
    if (g_strcmp0 (names[i], name) == 0)
      {
        *out = i;
        return TRUE;
      }
  return FALSE;
}

/* Member @name of @object as a string: *value is NULL when it is absent
 * or null; FALSE when it is anything but a string. */
static gboolean
get_optional_string (JsonObject *object,
                     const char *name,
                     const char **value)
{
  JsonNode *node = json_object_get_member (object, name);

  *value = NULL;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return FALSE;
  *value = json_node_get_string (node);
  return TRUE;
}

/* power_state: absent is NOSTATE; otherwise a number Nova gives one. */
static gboolean
get_power_state (JsonObject *object,
                 NlxPowerState *state)
{
  static const NlxPowerState known[] = {
    NLX_POWER_STATE_NOSTATE, NLX_POWER_STATE_RUNNING, NLX_POWER_STATE_PAUSED,
    NLX_POWER_STATE_SHUTDOWN, NLX_POWER_STATE_CRASHED,
    NLX_POWER_STATE_SUSPENDED,
  };
  JsonNode *node = json_object_get_member (object, "power_state");
  gint64 value;

  *state = NLX_POWER_STATE_NOSTATE;
  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  value = json_node_get_int (node);
  for (guint i = 0; i < G_N_ELEMENTS (known); i++)
    if (value == known[i])
      {
        *state = known[i];
        return TRUE;
      }
  return FALSE;
}

/**
 * nlx_record_new_from_node:
 *
 * Reads what nlx_record_to_node() wrote.  Every member must have its
 * type and a known value; a damaged record is refused, naming the member.
 *
 * Returns: (transfer full): the record, or %NULL with a #NLX_MODEL_ERROR
 */
NlxRecord *
nlx_record_new_from_node (JsonNode *node,
                          GError **error)
{
  g_autoptr(NlxRecord) record = NULL;
  g_autoptr(GTimeZone) utc = g_time_zone_new_utc ();
  NlxInstance *instance;
  JsonObject *object;
  g_autoptr(GDateTime) updated_at = NULL;
  const char *vm_text, *task_text, *updated_text, *fault, *pending_volume;
  const char *wrong = NULL;
  guint vm_state, task_state;
  NlxPowerState power_state;
  g_autoptr(GError) local_error = NULL;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("An instance record must be a JSON object"));
      return NULL;
    }
  object = json_node_get_object (node);
  instance = nlx_instance_new_from_node (json_object_get_member (object,
                                                                 "instance"),
                                         error);
  if (instance == NULL)
    return NULL;
  record = nlx_record_new (instance);

  if (!get_optional_string (object, "vm_state", &vm_text) ||
      !lookup_state (vm_states, G_N_ELEMENTS (vm_states), vm_text, &vm_state))
    wrong = "vm_state";
  else if (!get_optional_string (object, "task_state", &task_text) ||
           !lookup_state (task_states, G_N_ELEMENTS (task_states), task_text,
                          &task_state))
    wrong = "task_state";
  else if (!get_optional_string (object, "updated_at", &updated_text) ||
           updated_text == NULL ||
           (updated_at = g_date_time_new_from_iso8601 (updated_text,
                                                       utc)) == NULL)
    wrong = "updated_at";
  else if (!get_power_state (object, &power_state))
    wrong = "power_state";
  else if (!get_optional_string (object, "fault", &fault))
    wrong = "fault";
  else if (!get_optional_string (object, "pending_volume", &pending_volume))
    wrong = "pending_volume";
  else if (json_object_has_member (object, "unplaced") &&
           json_node_get_value_type (json_object_get_member (object,
                                                             "unplaced")) !=
           G_TYPE_BOOLEAN)
    wrong = "unplaced";
  if (wrong != NULL)
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("Instance record %s has an unknown value or the wrong "
                     "type in “%s”"), instance->uuid, wrong);
      return NULL;
    }
  g_date_time_unref (record->updated_at);
  record->updated_at = g_steal_pointer (&updated_at);
  record->vm_state = vm_state;
  record->task_state = task_state;
  record->power_state = power_state;
  record->fault = g_strdup (fault);
  record->pending_volume = g_strdup (pending_volume);
  record->unplaced = json_object_get_boolean_member_with_default (object,
                                                                  "unplaced",
                                                                  FALSE);
  /* The history only tells what happened: a damaged one is dropped
   * rather than the server left alone. */
  if (!read_actions (object, record->actions, &local_error))
    {
      g_warning ("Instance record %s: its action history is damaged (%s); "
                 "it starts anew", instance->uuid, local_error->message);
      g_ptr_array_set_size (record->actions, 0);
    }
  return g_steal_pointer (&record);
}

/**
 * nlx_record_copy:
 *
 * Returns: (transfer full): a record like @record, with a generation of
 * its own
 */
NlxRecord *
nlx_record_copy (const NlxRecord *record)
{
  g_autoptr(JsonNode) node = nlx_record_to_node (record);
  NlxRecord *copy = nlx_record_new_from_node (node, NULL);

  /* nlx_record_to_node() wrote it a moment ago. */
  g_assert (copy != NULL);
  return copy;
}
