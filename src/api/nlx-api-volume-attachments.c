/* nlx-api-volume-attachments.c:
 * /servers/{id}/os-volume_attachments[/{volume_id}] */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "api/nlx-api-keystone.h"
#include "api/nlx-api-private.h"

/* ---- volume attachments ------------------------------------------------- */

/* The id Nova gives (2.89+) to the Cinder attachment of @volume_id to
 * server @uuid, and the Cinder API (nlx-api-cinder.c) to the same
 * attachment: nova-lxc keeps no attachment record, so it is derived from
 * the two and stays the same while the volume is attached there. */
char *
nlx_api_attachment_id (const char *uuid,
                       const char *volume_id)
{
  g_autofree char *text = g_strdup_printf ("attachment %s %s", uuid,
                                           volume_id);

  return nlx_api_name_uuid (text);
}

/* An attachment as Nova's show and list give it at @request's version:
 * "tag" from 2.70 (nova-lxc takes none), "delete_on_termination" from
 * 2.79 (a server's delete leaves its volumes), and from 2.89 the Cinder
 * attachment's and the block device mapping's UUIDs in place of "id";
 * nova-lxc has neither record, so both are derived from the server and
 * the volume and stay the same for as long as the volume is attached
 * there.  Where it is mounted is not part of Nova's attachment: the
 * volume's metadata has it (nova_lxc:mount_path in /os-volumes). */
static void
add_attachment (JsonBuilder *builder,
                NlxApiRequest *request,
                const char *uuid,
                const NlxVolumeAttachment *attachment,
                gboolean created)
{
  json_builder_begin_object (builder);
  /* Nova's create answer kept "id" at 2.89 (its view of the create was
   * not changed with the others). */
  if (created || !nlx_api_has (request, NLX_API_ATTACHMENT_IDS))
    nlx_api_add_string (builder, "id", attachment->volume_id);
  nlx_api_add_string (builder, "volumeId", attachment->volume_id);
  nlx_api_add_string (builder, "serverId", uuid);
  nlx_api_add_string (builder, "device", attachment->device);
  if (nlx_api_has (request, NLX_API_ATTACHMENT_TAG))
    nlx_api_add_string (builder, "tag", NULL);
  if (nlx_api_has (request, NLX_API_ATTACHMENT_DELETE_ON_TERMINATION))
    {
      json_builder_set_member_name (builder, "delete_on_termination");
      json_builder_add_boolean_value (builder, FALSE);
    }
  if (!created && nlx_api_has (request, NLX_API_ATTACHMENT_IDS))
    {
      g_autofree char *bdm_text =
        g_strdup_printf ("bdm %s %s", uuid, attachment->volume_id);
      g_autofree char *attachment_id =
        nlx_api_attachment_id (uuid, attachment->volume_id);
      g_autofree char *bdm_uuid = nlx_api_name_uuid (bdm_text);

      nlx_api_add_string (builder, "attachment_id", attachment_id);
      nlx_api_add_string (builder, "bdm_uuid", bdm_uuid);
    }
  json_builder_end_object (builder);
}

static void
respond_attachment (NlxApiRequest *request,
                    const char *uuid,
                    const NlxVolumeAttachment *attachment,
                    gboolean created)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "volumeAttachment");
  add_attachment (builder, request, uuid, attachment, created);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  nlx_api_respond (request, 200, body);
}

typedef struct {
  NlxApiRequest *request;
  char *uuid;
} VolumeCall;

static VolumeCall *
volume_call_new (NlxApiRequest *request,
                 const char *uuid)
{
  VolumeCall *call = g_new0 (VolumeCall, 1);

  call->request = nlx_api_request_keep (request);
  call->uuid = g_strdup (uuid);
  return call;
}

static void
volume_call_free (VolumeCall *call)
{
  soup_server_message_unpause (call->request->msg);
  nlx_api_request_free (call->request);
  g_free (call->uuid);
  g_free (call);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VolumeCall, volume_call_free)

static void
attached (GObject *source G_GNUC_UNUSED,
          GAsyncResult *result,
          gpointer data)
{
  g_autoptr(VolumeCall) call = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(NlxVolumeAttachment) attachment =
    nlx_manager_attach_volume_finish (call->request->api->manager, result,
                                      &error);

  if (attachment == NULL)
    nlx_api_respond_error (call->request, error);
  else
    respond_attachment (call->request, call->uuid, attachment, TRUE);
}

static void
detached (GObject *source G_GNUC_UNUSED,
          GAsyncResult *result,
          gpointer data)
{
  g_autoptr(VolumeCall) call = data;
  g_autoptr(GError) error = NULL;

  if (!nlx_manager_detach_volume_finish (call->request->api->manager, result,
                                         &error))
    nlx_api_respond_error (call->request, error);
  else
    nlx_api_respond (call->request, 202, NULL);
}

/* The server @uuid names, or NULL once the request is answered. */
static const NlxRecord *
lookup_server (NlxApiRequest *request,
               const char *uuid)
{
  g_autoptr(GError) error = NULL;
  const NlxRecord *record = nlx_manager_lookup (request->api->manager, uuid,
                                                &error);

  if (record == NULL)
    nlx_api_respond_error (request, error);
  return record;
}

/* GET /servers/{uuid}/os-volume_attachments */
void
nlx_api_list_attachments (NlxApiRequest *request,
                          const char *method G_GNUC_UNUSED,
                          const char * const *ids)
{
  const NlxRecord *record = lookup_server (request, ids[0]);
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;
  NlxVolumeAttachment root;

  if (record == NULL)
    return;
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "volumeAttachments");
  json_builder_begin_array (builder);
  /* The root volume first, as in volumes_attached. */
  if (record->instance->root_volume != NULL)
    add_attachment (builder, request, record->instance->uuid,
                    nlx_instance_find_attachment (
                      record->instance, record->instance->root_volume,
                      &root), FALSE);
  for (guint i = 0; i < record->instance->volumes->len; i++)
    add_attachment (builder, request, record->instance->uuid,
                    record->instance->volumes->pdata[i], FALSE);
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  nlx_api_respond (request, 200, body);
}

/* POST /servers/{uuid}/os-volume_attachments */
void
nlx_api_attach_volume (NlxApiRequest *request,
                       const char *method G_GNUC_UNUSED,
                       const char * const *ids)
{
  static const char * const known[] = {
    "volumeId", "device", "mount_path", "tag", "delete_on_termination", NULL
  };
  const NlxRecord *record = lookup_server (request, ids[0]);
  const char *uuid;
  JsonObject *body;
  const char *volume_id, *device, *mount_path;
  JsonNode *tag, *delete_on_termination;

  /* Nova's check_instance_lock: a locked server's volumes stay. */
  if (record == NULL || !nlx_api_check_unlocked (request, record))
    return;
  uuid = record->instance->uuid;
  body = nlx_api_read_body (request, "volumeAttachment");
  if (body == NULL || !nlx_api_check_members (request, body, known) ||
      (volume_id = nlx_api_get_string_member (request, body,
                                              "volumeId")) == NULL ||
      !nlx_api_get_optional_string (request, body, "device", &device) ||
      !nlx_api_get_optional_string (request, body, "mount_path", &mount_path))
    return;
  /* Nova takes both, and a driver that cannot tag devices refuses a
   * tag; nova-lxc keeps neither, so it refuses what it would drop. */
  tag = json_object_get_member (body, "tag");
  if (tag != NULL && !JSON_NODE_HOLDS_NULL (tag))
    {
      nlx_api_respond_fault (request, 400,
                             _("Tagged volume attachment is not supported by "
                               "this compute: leave “tag” out"));
      return;
    }
  delete_on_termination = json_object_get_member (body,
                                                  "delete_on_termination");
  if (delete_on_termination != NULL &&
      (!JSON_NODE_HOLDS_VALUE (delete_on_termination) ||
       json_node_get_value_type (delete_on_termination) != G_TYPE_BOOLEAN ||
       json_node_get_boolean (delete_on_termination)))
    {
      nlx_api_respond_fault (request, 400,
                             _("“delete_on_termination”: nova-lxc keeps a "
                               "server's volumes when it is deleted, so only "
                               "false is taken; delete the volume with DELETE "
                               "/os-volumes/{id} afterwards"));
      return;
    }
  /* Another project's volume is an unknown one (Cinder's policy). */
  if (!nlx_api_check_volume_ref (request, volume_id))
    return;
  nlx_manager_attach_volume_async (request->api->manager, uuid, volume_id,
                                   device, mount_path, attached,
                                   volume_call_new (request, uuid));
}

/* GET /servers/{uuid}/os-volume_attachments/{volume_id} */
void
nlx_api_show_attachment (NlxApiRequest *request,
                         const char *method G_GNUC_UNUSED,
                         const char * const *ids)
{
  const NlxRecord *record = lookup_server (request, ids[0]);
  const char *volume_id = ids[1];
  const NlxVolumeAttachment *attachment;
  NlxVolumeAttachment root;

  if (record == NULL)
    return;
  attachment = nlx_instance_find_attachment (record->instance, volume_id,
                                             &root);
  if (attachment == NULL)
    {
      g_autofree char *message =
        g_strdup_printf (_("Volume %s is not attached to server %s"),
                         volume_id, record->instance->uuid);
      nlx_api_respond_fault (request, 404, message);
    }
  else
    respond_attachment (request, record->instance->uuid, attachment, FALSE);
}

/* DELETE /servers/{uuid}/os-volume_attachments/{volume_id} */
void
nlx_api_detach_volume (NlxApiRequest *request,
                       const char *method G_GNUC_UNUSED,
                       const char * const *ids)
{
  const NlxRecord *record = lookup_server (request, ids[0]);

  if (record == NULL || !nlx_api_check_unlocked (request, record))
    return;
  nlx_manager_detach_volume_async (request->api->manager,
                                   record->instance->uuid, ids[1], detached,
                                   volume_call_new (request,
                                                    record->instance->uuid));
}
