/* nlx-api-volumes.c: /os-volumes: list, create, show and delete volumes */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "api/nlx-api-keystone.h"
#include "api/nlx-api-private.h"

/* ---- volumes ------------------------------------------------------------ */

/* Shared with the Cinder API (nlx-api-cinder.c): the size in whole GiB,
 * rounded up, as Nova's and Cinder's volumes count it (nova-lxc's have
 * bytes). */
gint64
nlx_api_volume_size_gib (const NlxVolumeInfo *info)
{
  const guint64 gib = 1024 * 1024 * 1024;

  return (info->size_bytes + gib - 1) / gib;
}

/* Shared with the Cinder API: who uses the volume (NULL: nobody), its
 * attachment in @attachment, and the status both APIs give for it. */
const NlxRecord *
nlx_api_volume_user (NlxApiRequest *request,
                     const NlxVolumeInfo *info,
                     NlxVolumeAttachment *attachment,
                     const char **status)
{
  const NlxRecord *user =
    nlx_manager_find_volume_user (request->api->manager, info->id, attachment);

  *status = user != NULL ? "in-use" : "available";
  return user;
}

/* Shared with the Cinder API: what neither Nova's nor Cinder's volume has
 * a field for goes where both take any key, "metadata", as strings
 * (Cinder's metadata values are): the exact size, the filesystem, and
 * where the volume is mounted in the server it is attached to
 * (docs/api.md).  @attachment is NULL when it is not attached. */
void
nlx_api_add_volume_metadata (JsonBuilder *builder,
                             const NlxVolumeInfo *info,
                             const NlxVolumeAttachment *attachment)
{
  g_autofree char *bytes = g_strdup_printf ("%" G_GUINT64_FORMAT,
                                            info->size_bytes);

  json_builder_set_member_name (builder, "metadata");
  json_builder_begin_object (builder);
  nlx_api_add_string (builder, NLX_API_VOLUME_SIZE_BYTES_KEY, bytes);
  if (info->fstype != NULL)
    nlx_api_add_string (builder, NLX_API_VOLUME_FILESYSTEM_KEY, info->fstype);
  if (info->owner != NULL)
    nlx_api_add_string (builder, NLX_API_VOLUME_PROJECT_KEY, info->owner);
  if (attachment != NULL && attachment->mount_path != NULL)
    nlx_api_add_string (builder, NLX_API_VOLUME_MOUNT_PATH_KEY,
                        attachment->mount_path);
  json_builder_end_object (builder);
}

static void
add_volume (JsonBuilder *builder,
            NlxApiRequest *request,
            const NlxVolumeInfo *info)
{
  NlxVolumeAttachment attachment;
  const char *status;
  const NlxRecord *user = nlx_api_volume_user (request, info, &attachment,
                                               &status);

  json_builder_begin_object (builder);
  nlx_api_add_string (builder, "id", info->id);
  nlx_api_add_string (builder, "displayName", info->id);
  nlx_api_add_string (builder, "displayDescription", NULL);
  nlx_api_add_string (builder, "status", status);
  nlx_api_add_int (builder, "size", nlx_api_volume_size_gib (info));
  nlx_api_add_string (builder, "availabilityZone", "nova");
  nlx_api_add_time (builder, "createdAt", info->created_at);
  nlx_api_add_string (builder, "volumeType", info->is_block ? "block" : "file");
  nlx_api_add_string (builder, "snapshotId", NULL);
  nlx_api_add_volume_metadata (builder, info,
                               user != NULL ? &attachment : NULL);
  json_builder_set_member_name (builder, "attachments");
  json_builder_begin_array (builder);
  if (user != NULL)
    {
      json_builder_begin_object (builder);
      nlx_api_add_string (builder, "id", info->id);
      nlx_api_add_string (builder, "volumeId", info->id);
      nlx_api_add_string (builder, "serverId", user->instance->uuid);
      nlx_api_add_string (builder, "device", attachment.device);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);
}

static void
respond_volume (NlxApiRequest *request,
                const NlxVolumeInfo *info)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "volume");
  add_volume (builder, request, info);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  nlx_api_respond (request, 200, body);
}

static void
volumes_listed (GObject *source G_GNUC_UNUSED,
                GAsyncResult *result,
                gpointer data)
{
  g_autoptr(NlxApiRequest) request = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) volumes =
    nlx_manager_list_volumes_finish (request->api->manager, result, &error);

  if (volumes == NULL)
    nlx_api_respond_error (request, error);
  else
    {
      g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
      g_autoptr(JsonNode) body = NULL;

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "volumes");
      json_builder_begin_array (builder);
      for (guint i = 0; i < volumes->len; i++)
        if (nlx_api_may_see_volume (request,
                                    ((NlxVolumeInfo *) volumes->pdata[i])->owner))
          add_volume (builder, request, volumes->pdata[i]);
      json_builder_end_array (builder);
      json_builder_end_object (builder);
      body = json_builder_get_root (builder);
      nlx_api_respond (request, 200, body);
    }
  soup_server_message_unpause (request->msg);
}

static void
volume_created (GObject *source G_GNUC_UNUSED,
                GAsyncResult *result,
                gpointer data)
{
  g_autoptr(NlxApiRequest) request = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(NlxVolumeInfo) info =
    nlx_manager_create_volume_finish (request->api->manager, result, &error);

  if (info == NULL)
    nlx_api_respond_error (request, error);
  else
    respond_volume (request, info);
  soup_server_message_unpause (request->msg);
}

/* A size in GiB as Nova has it, or nova-lxc's size_mb; answers 400. */
static gboolean
read_size (NlxApiRequest *request,
           JsonObject *volume,
           guint64 *size_bytes)
{
  gboolean in_gib = json_object_has_member (volume, "size");
  JsonNode *node = json_object_get_member (volume, in_gib ? "size" : "size_mb");
  gint64 value = 0;

  if (node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
      json_node_get_value_type (node) == G_TYPE_INT64)
    value = json_node_get_int (node);
  if (value <= 0 || value > (in_gib ? 1024 : 1024 * 1024) ||
      (json_object_has_member (volume, "size") &&
       json_object_has_member (volume, "size_mb")))
    {
      nlx_api_respond_fault (request, 400,
                             _("A volume needs exactly one of “size” (whole "
                               "GiB, 1 to 1024) or “size_mb” (whole MiB, 1 to "
                               "1048576)"));
      return FALSE;
    }
  *size_bytes = (guint64) value * (in_gib ? 1024 * 1024 * 1024 : 1024 * 1024);
  return TRUE;
}

/* POST /os-volumes with "block_device" (driver-only, docs/api.md "The
 * driver API"): the volume is a host block device that the caller (a
 * Nova driver, after os-brick connected it) names by path.  Nothing of
 * a made volume applies to it. */
static void
link_block_device (NlxApiRequest *request,
                   JsonObject *volume,
                   const char *id)
{
  static const char * const made_only[] = {
    "size", "size_mb", "filesystem", "from_dir", NULL
  };
  const char *device;

  if (!nlx_api_require_unix_socket (request, _("“block_device”")) ||
      (device = nlx_api_get_string_member (request, volume,
                                           "block_device")) == NULL)
    return;
  for (guint i = 0; made_only[i] != NULL; i++)
    if (json_object_has_member (volume, made_only[i]))
      {
        g_autofree char *message =
          g_strdup_printf (_("A volume given as “block_device” is that "
                             "device as it is: leave out “%s”"),
                           made_only[i]);

        nlx_api_respond_fault (request, 400, message);
        return;
      }
  /* A symbolic link holds no owner (user extended attributes are for
   * files): the volume is the operator's, and saying otherwise would be
   * a lie the next listing contradicts. */
  if (soup_message_headers_get_one (
        soup_server_message_get_request_headers (request->msg),
        "X-Project-Id") != NULL)
    {
      nlx_api_respond_fault (request, 400,
                             _("A volume given as “block_device” is the "
                               "operator's and cannot be given to a "
                               "project: leave out X-Project-Id"));
      return;
    }
  nlx_manager_link_volume_async (request->api->manager, id, device,
                                 volume_created,
                                 nlx_api_request_keep (request));
}

/* POST /os-volumes */
void
nlx_api_create_volume (NlxApiRequest *request,
                       const char *method G_GNUC_UNUSED,
                       const char * const *ids G_GNUC_UNUSED)
{
  static const char * const known[] = {
    "display_name", "display_description", "size", "size_mb", "filesystem",
    "from_dir", "volume_type", "availability_zone", "metadata",
    /* driver-only: link_block_device() */
    "block_device", NULL
  };
  JsonObject *volume = nlx_api_read_body (request, "volume");
  const NlxApiIdentity *caller = nlx_api_get_caller (request);
  const char *id, *fstype, *from_dir, *owner;
  guint64 size_bytes;

  if (volume == NULL || !nlx_api_check_members (request, volume, known) ||
      (id = nlx_api_get_string_member (request, volume,
                                       "display_name")) == NULL)
    return;
  if (json_object_has_member (volume, "block_device"))
    {
      link_block_device (request, volume, id);
      return;
    }
  if (!read_size (request, volume, &size_bytes) ||
      !nlx_api_get_optional_string (request, volume, "filesystem", &fstype) ||
      !nlx_api_get_optional_string (request, volume, "from_dir", &from_dir))
    return;
  /* A host path is a local administrator's to name. */
  if (from_dir != NULL &&
      !nlx_api_require_unix_socket (request, _("“from_dir”")))
    return;
  /* The volume is the caller's project's, as Cinder's.  Without Keystone
   * the caller is the operator, who may give it to a project by naming
   * one in X-Project-Id; without that header it is the operator's. */
  if (caller != NULL)
    owner = caller->project_id;
  else
    owner = soup_message_headers_get_one (
      soup_server_message_get_request_headers (request->msg), "X-Project-Id");
  if (owner != NULL && !nlx_volume_owner_is_valid (owner))
    {
      nlx_api_respond_fault (request, 400,
                             _("X-Project-Id must be a project id: 1 to 64 "
                               "letters, digits, “-” or “_”"));
      return;
    }
  nlx_manager_create_volume_async (request->api->manager, id, size_bytes,
                                   fstype, from_dir, owner, volume_created,
                                   nlx_api_request_keep (request));
}

/* GET /os-volumes and GET /os-volumes/detail, which are the same list */
void
nlx_api_list_volumes (NlxApiRequest *request,
                      const char *method G_GNUC_UNUSED,
                      const char * const *ids G_GNUC_UNUSED)
{
  nlx_manager_list_volumes_async (request->api->manager, volumes_listed,
                                  nlx_api_request_keep (request));
}

/* GET /os-volumes/{id} */
void
nlx_api_show_volume (NlxApiRequest *request,
                     const char *method G_GNUC_UNUSED,
                     const char * const *ids)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NlxVolumeInfo) info = NULL;

  /* Another project's volume does not exist, as far as a member can
   * tell: word for word an unknown id's 404. */
  if (!nlx_api_check_volume_ref (request, ids[0]))
    return;
  info = nlx_manager_get_volume (request->api->manager, ids[0], &error);
  if (info == NULL)
    nlx_api_respond_error (request, error);
  else
    respond_volume (request, info);
}

/* DELETE /os-volumes/{id} */
void
nlx_api_delete_volume (NlxApiRequest *request,
                       const char *method G_GNUC_UNUSED,
                       const char * const *ids)
{
  g_autoptr(GError) error = NULL;

  if (!nlx_api_check_volume_ref (request, ids[0]))
    return;
  if (nlx_manager_delete_volume (request->api->manager, ids[0], &error))
    nlx_api_respond (request, 202, NULL);
  else
    nlx_api_respond_error (request, error);
}
