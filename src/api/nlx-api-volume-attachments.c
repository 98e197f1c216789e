/* nlx-api-volume-attachments.c:
 * /servers/{id}/os-volume_attachments[/{volume_id}] */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "api/nlx-api-private.h"

/* ---- volume attachments ------------------------------------------------- */

static void
add_attachment (JsonBuilder *builder,
                const char *uuid,
                const NlxVolumeAttachment *attachment)
{
  json_builder_begin_object (builder);
  nlx_api_add_string (builder, "id", attachment->volume_id);
  nlx_api_add_string (builder, "volumeId", attachment->volume_id);
  nlx_api_add_string (builder, "serverId", uuid);
  nlx_api_add_string (builder, "device", attachment->device);
  nlx_api_add_string (builder, "mount_path", attachment->mount_path);
  json_builder_end_object (builder);
}

static void
respond_attachment (Request *request,
                    const char *uuid,
                    const NlxVolumeAttachment *attachment)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "volumeAttachment");
  add_attachment (builder, uuid, attachment);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  nlx_api_respond (request, 200, body);
}

typedef struct {
  Request *request;
  char *uuid;
} VolumeCall;

static VolumeCall *
volume_call_new (Request *request,
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
attached (GObject *source,
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
    respond_attachment (call->request, call->uuid, attachment);
}

static void
detached (GObject *source,
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

static void
attach_volume (Request *request,
               const char *uuid)
{
  static const char * const known[] = {
    "volumeId", "device", "mount_path", "tag", "delete_on_termination", NULL
  };
  JsonObject *body = nlx_api_read_body (request, "volumeAttachment");
  const char *volume_id, *device, *mount_path;

  if (body == NULL || !nlx_api_check_members (request, body, known) ||
      (volume_id = nlx_api_get_string_member (request, body,
                                              "volumeId")) == NULL ||
      !nlx_api_get_optional_string (request, body, "device", &device) ||
      !nlx_api_get_optional_string (request, body, "mount_path", &mount_path))
    return;
  nlx_manager_attach_volume_async (request->api->manager, uuid, volume_id,
                                   device, mount_path, attached,
                                   volume_call_new (request, uuid));
}

/* /servers/{uuid}/os-volume_attachments[/{volume_id}] */
void
nlx_api_attachments_request (Request *request,
                             const char *method,
                             const char *uuid,
                             const char *volume_id)
{
  g_autoptr(GError) error = NULL;
  const NlxRecord *record = nlx_manager_lookup (request->api->manager, uuid,
                                                &error);
  const NlxVolumeAttachment *attachment = NULL;
  NlxVolumeAttachment root;

  if (record == NULL)
    {
      nlx_api_respond_error (request, error);
      return;
    }
  if (volume_id == NULL)
    {
      if (g_str_equal (method, "POST"))
        attach_volume (request, record->instance->uuid);
      else if (g_str_equal (method, "GET"))
        {
          g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
          g_autoptr(JsonNode) body = NULL;

          json_builder_begin_object (builder);
          json_builder_set_member_name (builder, "volumeAttachments");
          json_builder_begin_array (builder);
          /* The root volume first, as in volumes_attached. */
          if (record->instance->root_volume != NULL)
            add_attachment (builder, record->instance->uuid,
                            nlx_instance_find_attachment (
                              record->instance, record->instance->root_volume,
                              &root));
          for (guint i = 0; i < record->instance->volumes->len; i++)
            add_attachment (builder, record->instance->uuid,
                            record->instance->volumes->pdata[i]);
          json_builder_end_array (builder);
          json_builder_end_object (builder);
          body = json_builder_get_root (builder);
          nlx_api_respond (request, 200, body);
        }
      else
        nlx_api_respond_fault (request, 405,
                               _("Volume attachments take GET or POST"));
      return;
    }

  if (g_str_equal (method, "DELETE"))
    nlx_manager_detach_volume_async (request->api->manager,
                                     record->instance->uuid, volume_id,
                                     detached,
                                     volume_call_new (request,
                                                      record->instance->uuid));
  else if (!g_str_equal (method, "GET"))
    nlx_api_respond_fault (request, 405,
                           _("A volume attachment takes GET or DELETE"));
  else if ((attachment = nlx_instance_find_attachment (record->instance,
                                                       volume_id,
                                                       &root)) == NULL)
    {
      g_autofree char *message =
        g_strdup_printf (_("Volume %s is not attached to server %s"),
                         volume_id, record->instance->uuid);
      nlx_api_respond_fault (request, 404, message);
    }
  else
    respond_attachment (request, record->instance->uuid, attachment);
}
