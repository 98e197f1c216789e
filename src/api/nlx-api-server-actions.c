/* nlx-api-server-actions.c: POST /servers/{id}/action: start, stop,
 * reboot, pause, rebuild, createImage, os-getConsoleOutput and the rest */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "api/nlx-api-keystone.h"
#include "api/nlx-api-private.h"
#include "common/nlx-console-text.h"

/* ---- server actions --------------------------------------------------- */

/* The last @lines pieces of @text split at newlines, as Nova's
 * _tail_log: a final newline leaves an empty last piece, so "a\nb\n"
 * gives "b\n" for 2 and "" for 1 (tempest counts the pieces); all of it
 * when @lines is negative. */
static const char *
last_lines (const char *text,
            gint64 lines)
{
  const char *end = text + strlen (text);
  const char *p = end;

  if (lines < 0)
    return text;
  if (lines == 0)
    return end;
  for (; p > text; p--)
    if (p[-1] == '\n' && --lines == 0)
      return p;
  return text;
}

typedef struct {
  NlxApiRequest *request;
  gint64 lines;
} ConsoleCall;

static void
console_ready (GObject *source G_GNUC_UNUSED,
               GAsyncResult *result,
               gpointer data)
{
  ConsoleCall *call = data;
  g_autoptr(NlxApiRequest) request = call->request;
  g_autoptr(GError) error = NULL;
  g_autofree char *output =
    nlx_manager_get_console_output_finish (request->api->manager, result,
                                           &error);

  if (output == NULL)
    nlx_api_respond_error (request, error);
  else
    {
      g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
      g_autoptr(JsonNode) body = NULL;

      /* JSON strings must be UTF-8, and what a tenant printed must not
       * drive the terminal it is shown on: the log keeps the raw bytes. */
      g_autofree char *text = nlx_console_text_for_display (output, -1);

      json_builder_begin_object (builder);
      nlx_api_add_string (builder, "output", last_lines (text, call->lines));
      json_builder_end_object (builder);
      body = json_builder_get_root (builder);
      nlx_api_respond (request, 200, body);
    }
  soup_server_message_unpause (request->msg);
  g_free (call);
}

/* os-getConsoleOutput's length: lines from the end; absent, null or -1
 * for all, and Nova also takes it as a string of digits. */
static gboolean
read_length (NlxApiRequest *request,
             JsonNode *args,
             gint64 *lines)
{
  JsonNode *length = NULL;

  *lines = -1;
  if (args != NULL && !JSON_NODE_HOLDS_NULL (args))
    {
      if (!nlx_api_require_object (request, args, "os-getConsoleOutput"))
        return FALSE;
      length = json_object_get_member (json_node_get_object (args), "length");
    }
  if (length == NULL || JSON_NODE_HOLDS_NULL (length) ||
      nlx_api_read_whole_number (length, -1, G_MAXINT32, lines))
    return TRUE;
  nlx_api_respond_fault (request, 400,
                         _("“length” must be a whole number of lines "
                           "from -1 (all) to 2147483647, in JSON or as "
                           "a string of decimal digits"));
  return FALSE;
}

static void
get_console_output (NlxApiRequest *request,
                    const char *uuid,
                    JsonNode *args)
{
  ConsoleCall *call;
  gint64 lines;

  if (!read_length (request, args, &lines))
    return;
  call = g_new0 (ConsoleCall, 1);
  call->lines = lines;
  call->request = nlx_api_request_keep (request);
  nlx_manager_get_console_output_async (request->api->manager, uuid,
                                        G_MAXSIZE, console_ready, call);
}

/* createImage's and createBackup's answer; @location: whether a 2.1
 * answer names the image (not for a backup rotation 0 has deleted). */
static void
image_made (NlxApiRequest *request,
            GAsyncResult *result,
            gboolean location)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NlxStoredImage) image =
    nlx_manager_create_image_finish (request->api->manager, result, &error);

  if (image == NULL)
    nlx_api_respond_error (request, error);
  else if (nlx_api_has (request, NLX_API_CREATE_IMAGE_BODY))
    {
      g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
      g_autoptr(JsonNode) body = NULL;

      /* 2.45: the image's id in the body, and no Location. */
      json_builder_begin_object (builder);
      nlx_api_add_string (builder, "image_id", image->id);
      json_builder_end_object (builder);
      body = json_builder_get_root (builder);
      nlx_api_respond (request, 202, body);
    }
  else
    {
      g_autofree char *url = g_strdup_printf ("%s/v2.1/images/%s",
                                              request->base, image->id);

      /* 2.1: no body; Location says where the image is. */
      if (location)
        soup_message_headers_replace (
          soup_server_message_get_response_headers (request->msg),
          "Location", url);
      nlx_api_respond (request, 202, NULL);
    }
  soup_server_message_unpause (request->msg);
}

static void
image_created (GObject *source G_GNUC_UNUSED,
               GAsyncResult *result,
               gpointer data)
{
  g_autoptr(NlxApiRequest) request = data;

  image_made (request, result, TRUE);
}

/* createImage: answered when the image is in the store, so the image it
 * names can be booted at once. */
static void
create_image (NlxApiRequest *request,
              const char *uuid,
              JsonNode *args)
{
  static const char * const known[] = { "name", "metadata", NULL };
  g_autoptr(GHashTable) metadata = g_hash_table_new_full (g_str_hash,
                                                          g_str_equal,
                                                          g_free, g_free);
  JsonObject *object;
  const char *name;

  if (!nlx_api_require_object (request, args, "createImage"))
    return;
  object = json_node_get_object (args);
  if (!nlx_api_check_members (request, object, known) ||
      (name = nlx_api_get_string_member (request, object, "name")) == NULL ||
      !nlx_api_read_string_map (request, object, "metadata", metadata))
    return;
  nlx_manager_create_image_async (request->api->manager, uuid, name, metadata,
                                  image_created,
                                  nlx_api_request_keep (request));
}

typedef struct {
  NlxApiRequest *request;
  gint64 rotation;
} BackupCall;

static void
backup_created (GObject *source G_GNUC_UNUSED,
                GAsyncResult *result,
                gpointer data)
{
  BackupCall *call = data;
  g_autoptr(NlxApiRequest) request = call->request;

  /* As Nova: with rotation 0 the new backup is gone, and not named. */
  image_made (request, result, call->rotation > 0);
  g_free (call);
}

/* createBackup: a snapshot marked as a backup of its backup_type, then
 * Nova's rotation (the compute layer's); answered as createImage, once
 * the rotation is done. */
static void
create_backup (NlxApiRequest *request,
               const char *uuid,
               JsonNode *args)
{
  static const char * const known[] = { "name", "backup_type", "rotation",
                                        "metadata", NULL };
  g_autoptr(GHashTable) metadata = g_hash_table_new_full (g_str_hash,
                                                          g_str_equal,
                                                          g_free, g_free);
  JsonObject *object;
  JsonNode *rotation;
  const char *name, *type;
  BackupCall *call;
  gint64 keep;

  if (!nlx_api_require_object (request, args, "createBackup"))
    return;
  object = json_node_get_object (args);
  if (!nlx_api_check_members (request, object, known) ||
      (name = nlx_api_get_string_member (request, object, "name")) == NULL ||
      (type = nlx_api_get_string_member (request, object,
                                         "backup_type")) == NULL ||
      !nlx_api_read_string_map (request, object, "metadata", metadata))
    return;
  rotation = json_object_get_member (object, "rotation");
  if (rotation == NULL ||
      !nlx_api_read_whole_number (rotation, 0, G_MAXINT32, &keep))
    {
      nlx_api_respond_fault (request, 400,
                             _("“rotation” is required: how many backups "
                               "of this backup_type to keep, a whole "
                               "number from 0, in JSON or as a string of "
                               "decimal digits"));
      return;
    }
  call = g_new0 (BackupCall, 1);
  call->request = nlx_api_request_keep (request);
  call->rotation = keep;
  nlx_manager_create_backup_async (request->api->manager, uuid, name, type,
                                   keep, metadata, backup_created, call);
}

/* Members of Nova's rebuild body that exist only from (or up to) some
 * microversion; elsewhere Nova's schema has no such property and
 * answers 400.  Answers 400 itself. */
static gboolean
check_rebuild_versions (NlxApiRequest *request,
                        JsonObject *object)
{
  static const NlxApiVersionedMember members[] = {
    { "key_name", NLX_API_REBUILD_KEY_NAME },
    { "user_data", NLX_API_REBUILD_USER_DATA },
    { "personality", NLX_API_PERSONALITY },
    { "trusted_image_certificates", NLX_API_TRUSTED_CERTS },
    { "hostname", NLX_API_HOSTNAME },
  };

  return nlx_api_check_versioned_members (request, object, "rebuild",
                                          members, G_N_ELEMENTS (members));
}

/* What Nova's rebuild takes that nova-lxc cannot honour, each refused
 * with its reason.  (adminPass is taken and sets nothing, as Nova with
 * its libvirt driver's defaults; preserve_ephemeral has nothing to keep
 * here, as a container has no ephemeral disk; OS-DCF:diskConfig means
 * nothing to a root that is never resized.)  Answers 400 itself. */
static gboolean
check_rebuild_refused (NlxApiRequest *request,
                       JsonObject *object)
{
  static const struct {
    const char *key;
    const char *why;
  } refused[] = {
    { "personality", N_("nova-lxc injects no files (“personality”): send "
                        "them in “user_data”") },
    { "trusted_image_certificates", N_("nova-lxc verifies no image "
                                       "signatures: leave out "
                                       "“trusted_image_certificates”") },
  };
  const char *admin_pass, *disk_config;
  JsonNode *node;

  for (gsize i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      node = json_object_get_member (object, refused[i].key);
      if (node != NULL && !JSON_NODE_HOLDS_NULL (node))
        {
          nlx_api_respond_fault (request, 400, _(refused[i].why));
          return FALSE;
        }
    }
  if (!nlx_api_get_optional_string (request, object, "adminPass",
                                    &admin_pass) ||
      !nlx_api_get_optional_string (request, object, "OS-DCF:diskConfig",
                                    &disk_config))
    return FALSE;
  if (disk_config != NULL && !g_str_equal (disk_config, "AUTO") &&
      !g_str_equal (disk_config, "MANUAL"))
    {
      nlx_api_respond_fault (request, 400,
                             _("Invalid input for field/attribute "
                               "OS-DCF:diskConfig: it must be “AUTO” or "
                               "“MANUAL”"));
      return FALSE;
    }
  node = json_object_get_member (object, "preserve_ephemeral");
  if (node != NULL &&
      (!JSON_NODE_HOLDS_VALUE (node) ||
       json_node_get_value_type (node) != G_TYPE_BOOLEAN))
    {
      nlx_api_respond_fault (request, 400,
                             _("Invalid input for field/attribute "
                               "preserve_ephemeral: it must be true or "
                               "false"));
      return FALSE;
    }
  return TRUE;
}

/* rebuild: the server as it is, with the new image and, if given, name
 * and metadata, checked as a new server would be.  Answered as update
 * answers (nlx_api_changed()): Nova's update view before 2.75, the
 * whole server as show has it from 2.75; no adminPass, as Nova with
 * [api] enable_instance_password false, since nova-lxc sets none. */
static void
rebuild_server (NlxApiRequest *request,
                const NlxRecord *record,
                JsonNode *args)
{
  static const char * const known[] = {
    "imageRef", "name", "metadata", "user_data", "key_name", "hostname",
    "adminPass", "preserve_ephemeral", "OS-DCF:diskConfig",
    /* kept and shown, as Nova's: nlx_api_read_access_ips() */
    "accessIPv4", "accessIPv6",
    /* refused by check_rebuild_refused() or check_rebuild_versions() */
    "personality", "trusted_image_certificates", "description", NULL
  };
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GError) error = NULL;
  NlxInstance *instance;
  JsonObject *object, *wanted;
  const char *image_ref, *name, *user_data, *key_name, *hostname;
  const char *description, *access_ipv4, *access_ipv6;
  gboolean description_given;
  g_autofree char *user_data_kept = NULL;
  g_autofree char *hostname_kept = NULL;
  const NlxKeypair *keypair = NULL;
  JsonNode *metadata;
  g_autofree char *uuid = g_strdup (record->instance->uuid);

  if (!nlx_api_require_object (request, args, "rebuild"))
    return;
  object = json_node_get_object (args);
  if (!nlx_api_check_members (request, object, known) ||
      !check_rebuild_versions (request, object) ||
      !check_rebuild_refused (request, object) ||
      (image_ref = nlx_api_get_string_member (request, object,
                                              "imageRef")) == NULL ||
      !nlx_api_check_image_ref (request, image_ref) ||
      !nlx_api_read_access_ips (request, object, &access_ipv4,
                                &access_ipv6) ||
      !nlx_api_get_optional_string (request, object, "user_data", &user_data) ||
      !nlx_api_check_user_data (request, user_data, &user_data_kept) ||
      !nlx_api_get_optional_string (request, object, "hostname", &hostname) ||
      !nlx_api_check_hostname (request, hostname, &hostname_kept) ||
      !nlx_api_get_optional_string (request, object, "key_name", &key_name) ||
      (key_name != NULL &&
       (keypair = nlx_api_find_key_name (request, key_name)) == NULL))
    return;
  node = nlx_instance_to_node (record->instance);
  wanted = json_node_get_object (node);
  json_object_set_string_member (wanted, "image_ref", image_ref);
  if (json_object_has_member (object, "name"))
    {
      if ((name = nlx_api_get_string_member (request, object, "name")) == NULL)
        return;
      json_object_set_string_member (wanted, "name", name);
    }
  metadata = json_object_get_member (object, "metadata");
  if (metadata != NULL)
    json_object_set_member (wanted, "metadata", json_node_copy (metadata));
  /* As Nova 2.54 and 2.57: given, they replace the server's; null takes
   * them away; left out, they stay. */
  if (json_object_has_member (object, "user_data"))
    {
      json_object_remove_member (wanted, "user_data");
      if (user_data_kept != NULL)
        json_object_set_string_member (wanted, "user_data", user_data_kept);
    }
  if (json_object_has_member (object, "key_name"))
    {
      json_object_remove_member (wanted, "key_name");
      json_object_remove_member (wanted, "key_data");
      if (keypair != NULL)
        {
          json_object_set_string_member (wanted, "key_name", keypair->name);
          json_object_set_string_member (wanted, "key_data",
                                         keypair->public_key);
        }
    }
  if (hostname_kept != NULL)
    json_object_set_string_member (wanted, "hostname", hostname_kept);
  /* As Nova: given, they replace the server's; left out, they stay. */
  if (access_ipv4 != NULL)
    json_object_set_string_member (wanted, "access_ipv4", access_ipv4);
  if (access_ipv6 != NULL)
    json_object_set_string_member (wanted, "access_ipv6", access_ipv6);
  /* 2.19: given, it replaces the server's; null takes it away. */
  if (!nlx_api_read_description (request, object, &description_given,
                                 &description))
    return;
  if (description_given)
    {
      json_object_remove_member (wanted, "description");
      if (description != NULL)
        json_object_set_string_member (wanted, "description", description);
    }

  instance = nlx_instance_new_from_node (node, &error);
  if (instance == NULL)
    {
      nlx_api_respond_error (request, error);
      return;
    }
  nlx_manager_rebuild_async (request->api->manager, instance, nlx_api_changed,
                             nlx_api_change_new (request, uuid, 202,
                                                 NLX_API_ANSWER_REBUILT));
}

/* lock and unlock, as Nova's lock_server: 202 with no body.  The lock
 * says who locked (the server's own project: "owner"; another's, or the
 * operator without a token: "admin"); unlocking someone else's lock
 * (Nova's unlock_override) needs the admin role. */
static void
lock_server (NlxApiRequest *request,
             const NlxRecord *record,
             gboolean lock,
             JsonNode *args)
{
  const NlxApiIdentity *caller = nlx_api_get_caller (request);
  const char *expected =
    caller != NULL && g_strcmp0 (caller->project_id,
                                 record->instance->project_id) == 0
    ? NLX_LOCKED_BY_OWNER : NLX_LOCKED_BY_ADMIN;
  const char *reason = NULL;
  g_autofree char *uuid = g_strdup (record->instance->uuid);

  /* Before 2.73 Nova takes any value and reads none of it; from 2.73,
   * null or {"locked_reason": "..."}; unlock's value is never read. */
  if (lock && nlx_api_has (request, NLX_API_LOCKED_REASON) &&
      args != NULL && !JSON_NODE_HOLDS_NULL (args))
    {
      static const char * const known[] = { "locked_reason", NULL };
      JsonObject *object;
      JsonNode *node;

      if (!nlx_api_require_object (request, args, "lock"))
        return;
      object = json_node_get_object (args);
      if (!nlx_api_check_members (request, object, known))
        return;
      node = json_object_get_member (object, "locked_reason");
      if (node != NULL)
        {
          if (!JSON_NODE_HOLDS_VALUE (node) ||
              json_node_get_value_type (node) != G_TYPE_STRING ||
              !nlx_json_text_is_valid (json_node_get_string (node),
                                       NLX_LOCKED_REASON_MAX))
            {
              g_autofree char *message =
                g_strdup_printf (_("Invalid input for field/attribute "
                                   "locked_reason: give a string of 1 to %d "
                                   "printable characters"),
                                 NLX_LOCKED_REASON_MAX);

              nlx_api_respond_fault (request, 400, message);
              return;
            }
          reason = json_node_get_string (node);
        }
    }
  if (!lock && record->instance->locked_by != NULL &&
      !g_str_equal (record->instance->locked_by, expected) &&
      !nlx_api_caller_is_admin (request))
    {
      nlx_api_respond_fault (request, 403,
                             _("Policy doesn't allow "
                               "os_compute_api:os-lock-server:unlock:"
                               "unlock_override to be performed: an admin "
                               "locked this server, and only an admin may "
                               "unlock it"));
      return;
    }
  nlx_manager_lock_async (request->api->manager, uuid,
                          lock ? expected : NULL, reason, nlx_api_changed,
                          nlx_api_change_new (request, uuid, 202,
                                              NLX_API_ANSWER_EMPTY));
}

/* The actions Nova's check_instance_lock guards (of those nova-lxc
 * has): refused to non-admins while the server is locked. */
static const char * const lockable_actions[] = {
  "reboot", "os-stop", "os-start", "pause", "unpause", "rebuild",
  "forceDelete", "restore", NULL
};

/* POST /servers/{uuid}/action */
void
nlx_api_server_action (NlxApiRequest *request,
                       const char *method G_GNUC_UNUSED,
                       const char * const *ids)
{
  const char *uuid = ids[0];
  g_autoptr(GError) error = NULL;
  g_autoptr(GList) members = NULL;
  JsonObject *root;
  const char *name;
  JsonNode *args;
  NlxAction action;
  const NlxRecord *record = nlx_manager_lookup (request->api->manager, uuid,
                                               &error);

  if (record == NULL)
    {
      nlx_api_respond_error (request, error);
      return;
    }
  root = nlx_api_parse_body (request);
  if (root == NULL)
    return;
  if (json_object_get_size (root) != 1)
    {
      nlx_api_respond_fault (request, 400,
                             _("An action body must be a JSON object "
                               "with exactly one member naming the "
                               "action, e.g. {\"os-stop\": null}"));
      return;
    }
  members = json_object_get_members (root);
  name = members->data;
  args = json_object_get_member (root, name);

  if (g_strv_contains (lockable_actions, name) &&
      !nlx_api_check_unlocked (request, record))
    return;
  if (g_str_equal (name, "lock") || g_str_equal (name, "unlock"))
    {
      lock_server (request, record, g_str_equal (name, "lock"), args);
      return;
    }
  if (g_str_equal (name, "os-getConsoleOutput"))
    {
      get_console_output (request, uuid, args);
      return;
    }
  if (g_str_equal (name, "os-getSerialConsole"))
    {
      nlx_api_get_serial_console (request, uuid, args);
      return;
    }
  if (g_str_equal (name, "createImage"))
    {
      create_image (request, uuid, args);
      return;
    }
  if (g_str_equal (name, "createBackup"))
    {
      create_backup (request, uuid, args);
      return;
    }
  if (g_str_equal (name, "rebuild"))
    {
      rebuild_server (request, record, args);
      return;
    }
  /* Nova restores only a soft-deleted server, and answers 409 for any
   * other; nova-lxc deletes at once (Nova's default
   * reclaim_instance_interval 0), so no server is ever soft-deleted. */
  if (g_str_equal (name, "restore"))
    {
      g_autofree char *message =
        g_strdup_printf (_("Cannot 'restore' instance %s while it is in "
                           "vm_state %s: nova-lxc deletes servers at once, "
                           "so none is ever soft-deleted"), uuid,
                         nlx_vm_state_to_string (record->vm_state));

      nlx_api_respond_fault (request, 409, message);
      return;
    }
  /* Nova's forceDelete deletes a server in any state, as DELETE does
   * (here, every delete is at once); the action answers 202. */
  if (g_str_equal (name, "forceDelete"))
    {
      if (args != NULL && !JSON_NODE_HOLDS_NULL (args))
        {
          nlx_api_respond_fault (request, 400,
                                 _("“forceDelete” takes no arguments: send "
                                   "{\"forceDelete\": null}"));
          return;
        }
      nlx_manager_act_async (request->api->manager, uuid, NLX_ACTION_DELETE,
                             nlx_api_changed,
                             nlx_api_change_new (request, uuid, 202,
                                                 NLX_API_ANSWER_EMPTY));
      return;
    }
  if (g_str_equal (name, "reboot"))
    {
      const char *type;

      if (!nlx_api_require_object (request, args, "reboot") ||
          (type = nlx_api_get_string_member (request,
                                             json_node_get_object (args),
                                             "type")) == NULL)
        return;
      if (g_ascii_strcasecmp (type, "SOFT") == 0)
        action = NLX_ACTION_REBOOT_SOFT;
      else if (g_ascii_strcasecmp (type, "HARD") == 0)
        action = NLX_ACTION_REBOOT_HARD;
      else
        {
          nlx_api_respond_fault (request, 400,
                                 _("Reboot “type” must be SOFT or HARD"));
          return;
        }
    }
  else if (g_str_equal (name, "os-stop"))
    action = NLX_ACTION_STOP;
  else if (g_str_equal (name, "os-start"))
    action = NLX_ACTION_START;
  else if (g_str_equal (name, "pause"))
    action = NLX_ACTION_PAUSE;
  else if (g_str_equal (name, "unpause"))
    action = NLX_ACTION_UNPAUSE;
  else
    {
      g_autofree char *message =
        g_strdup_printf (_("Action “%s” is not supported here; the actions "
                           "are reboot, os-stop, os-start, pause, unpause, "
                           "rebuild, createImage, createBackup, "
                           "os-getConsoleOutput, os-getSerialConsole, "
                           "forceDelete, restore, lock and unlock"),
                         name);
      nlx_api_respond_fault (request, 400, message);
      return;
    }

  nlx_manager_act_async (request->api->manager, uuid, action, nlx_api_changed,
                         nlx_api_change_new (request, uuid, 202,
                                                 NLX_API_ANSWER_EMPTY));
}
