/* nlx-api-images.c: /images: the configured images and the image store's,
 * import and delete */
#include "config.h"

#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "api/nlx-api-keystone.h"
#include "api/nlx-api-private.h"

void
nlx_api_add_image (JsonBuilder *builder,
                   NlxApiRequest *request,
                   const NlxConfigImage *image,
                   gboolean detail)
{
  json_builder_begin_object (builder);
  nlx_api_add_string (builder, "id", image->name);
  nlx_api_add_string (builder, "name", image->name);
  if (detail)
    {
      GStatBuf st;
      g_autoptr(GDateTime) changed = NULL;

      /* Nova's image detail has these at every version: a directory of
       * nova-lxc.conf is whole and usable, needs nothing of a flavor,
       * and was last changed when its directory was (the epoch if it
       * cannot be read: the create will say what is wrong). */
      nlx_api_add_string (builder, "status", "ACTIVE");
      changed = g_date_time_new_from_unix_utc (
        image->path != NULL && g_stat (image->path, &st) == 0 ? st.st_mtime
                                                              : 0);
      nlx_api_add_time (builder, "created", changed);
      nlx_api_add_time (builder, "updated", changed);
      nlx_api_add_int (builder, "minDisk", 0);
      nlx_api_add_int (builder, "minRam", 0);
      nlx_api_add_int (builder, "progress", 100);
      json_builder_set_member_name (builder, "metadata");
      json_builder_begin_object (builder);
      if (image->init_path != NULL)
        nlx_api_add_string (builder, "os_init_path", image->init_path);
      if (image->shutdown_signal != NULL)
        nlx_api_add_string (builder, "os_shutdown_signal",
                            image->shutdown_signal);
      json_builder_end_object (builder);
    }
  nlx_api_add_links (builder, request, "images", image->name);
  json_builder_end_object (builder);
}

/* An image of the store: Nova's image fields, its content's checksum,
 * and its properties as metadata. */
static void
add_stored_image (JsonBuilder *builder,
                  NlxApiRequest *request,
                  const NlxStoredImage *image,
                  gboolean detail)
{
  json_builder_begin_object (builder);
  nlx_api_add_string (builder, "id", image->id);
  nlx_api_add_string (builder, "name", image->name);
  if (detail)
    {
      GHashTableIter iter;
      gpointer key, value;
      g_autofree char *tree_size = NULL;

      nlx_api_add_string (builder, "status", "ACTIVE");
      nlx_api_add_time (builder, "created", image->created_at);
      nlx_api_add_time (builder, "updated", image->created_at);
      nlx_api_add_int (builder, "minDisk", 0);
      nlx_api_add_int (builder, "minRam", 0);
      nlx_api_add_int (builder, "progress", 100);
      nlx_api_add_int (builder, "OS-EXT-IMG-SIZE:size", image->size_bytes);
      /* Nova's image has no field for what the store knows of the
       * content; its metadata takes any key, so they are there, as
       * strings beside the image's properties (docs/api.md).  Images
       * with the same checksum share one stored tree. */
      json_builder_set_member_name (builder, "metadata");
      json_builder_begin_object (builder);
      g_hash_table_iter_init (&iter, image->properties);
      while (g_hash_table_iter_next (&iter, &key, &value))
        if (!g_str_has_prefix (key, NLX_API_IMAGE_KEY_PREFIX))
          nlx_api_add_string (builder, key, value);
      nlx_api_add_string (builder, NLX_API_IMAGE_FORMAT_KEY,
                          nlx_stored_image_format_to_string (image->format));
      nlx_api_add_string (builder, NLX_API_IMAGE_CHECKSUM_KEY,
                          image->checksum);
      tree_size = g_strdup_printf ("%" G_GUINT64_FORMAT,
                                   (guint64) image->tree_size_bytes);
      nlx_api_add_string (builder, NLX_API_IMAGE_TREE_SIZE_KEY, tree_size);
      json_builder_end_object (builder);
    }
  nlx_api_add_links (builder, request, "images", image->id);
  json_builder_end_object (builder);
}

static void
respond_stored_image (NlxApiRequest *request,
                      const NlxStoredImage *image)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "image");
  add_stored_image (builder, request, image, TRUE);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  nlx_api_respond (request, 200, body);
}

static void
image_imported (GObject *source G_GNUC_UNUSED,
                GAsyncResult *result,
                gpointer data)
{
  g_autoptr(NlxApiRequest) request = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(NlxStoredImage) image =
    nlx_manager_import_image_finish (request->api->manager, result, &error);

  if (image == NULL)
    nlx_api_respond_error (request, error);
  else
    respond_stored_image (request, image);
  soup_server_message_unpause (request->msg);
}

/* POST /images: nova-lxc's import of a file on the compute host, which
 * only a local administrator may name. */
void
nlx_api_import_image (NlxApiRequest *request,
                      const char *method G_GNUC_UNUSED,
                      const char * const *ids G_GNUC_UNUSED)
{
  static const char * const known[] = { "name", "file", "properties", NULL };
  g_autoptr(GHashTable) properties = g_hash_table_new_full (g_str_hash,
                                                            g_str_equal,
                                                            g_free, g_free);
  JsonObject *image = nlx_api_read_body (request, "image");
  const char *name, *file;

  if (image == NULL || !nlx_api_check_members (request, image, known) ||
      (name = nlx_api_get_string_member (request, image, "name")) == NULL ||
      (file = nlx_api_get_string_member (request, image, "file")) == NULL ||
      !nlx_api_require_unix_socket (request, _("An image import (“file”)")))
    return;
  if (!nlx_api_read_string_map (request, image, "properties", properties))
    return;
  nlx_manager_import_image_async (request->api->manager, file, name, properties,
                                  image_imported,
                                  nlx_api_request_keep (request));
}

/* The 404 of an unknown image, word for word: a hidden image must not
 * answer otherwise. */
static void
respond_image_not_found (NlxApiRequest *request,
                         const char *id)
{
  g_autoptr(GError) error = NULL;

  nlx_image_store_set_not_found (&error, id);
  nlx_api_respond_error (request, error);
}

/* The configured images, then the store's a caller may see. */
static void
list_images (NlxApiRequest *request,
             gboolean detail)
{
  const NlxConfig *config = request->api->config;
  NlxImageStore *store = nlx_manager_get_image_store (request->api->manager);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;
  g_autoptr(GPtrArray) stored = nlx_image_store_list (store, &error);

  if (stored == NULL)
    {
      nlx_api_respond_error (request, error);
      return;
    }
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "images");
  json_builder_begin_array (builder);
  for (guint i = 0; i < config->images->len; i++)
    nlx_api_add_image (builder, request, config->images->pdata[i], detail);
  for (guint i = 0; i < stored->len; i++)
    if (nlx_api_may_see_image (request,
                               ((NlxStoredImage *) stored->pdata[i])->properties))
      add_stored_image (builder, request, stored->pdata[i], detail);
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  nlx_api_respond (request, 200, body);
}

/* GET /images */
void
nlx_api_list_images (NlxApiRequest *request,
                     const char *method G_GNUC_UNUSED,
                     const char * const *ids G_GNUC_UNUSED)
{
  list_images (request, FALSE);
}

/* GET /images/detail */
void
nlx_api_list_images_detail (NlxApiRequest *request,
                            const char *method G_GNUC_UNUSED,
                            const char * const *ids G_GNUC_UNUSED)
{
  list_images (request, TRUE);
}

/* GET /images/{id}: a configured image, or else the store's. */
void
nlx_api_show_image (NlxApiRequest *request,
                    const char *method G_GNUC_UNUSED,
                    const char * const *ids)
{
  const NlxConfigImage *configured =
    nlx_config_find_image (request->api->config, ids[0]);
  NlxImageStore *store = nlx_manager_get_image_store (request->api->manager);
  g_autoptr(NlxStoredImage) image = NULL;
  g_autoptr(GError) error = NULL;

  if (configured != NULL)
    {
      g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
      g_autoptr(JsonNode) body = NULL;

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "image");
      nlx_api_add_image (builder, request, configured, TRUE);
      json_builder_end_object (builder);
      body = json_builder_get_root (builder);
      nlx_api_respond (request, 200, body);
      return;
    }
  image = nlx_image_store_lookup (store, ids[0], &error);
  if (image == NULL)
    nlx_api_respond_error (request, error);
  else if (!nlx_api_may_see_image (request, image->properties))
    respond_image_not_found (request, ids[0]);
  else
    respond_stored_image (request, image);
}

/* DELETE /images/{id}: an image of the store; those of nova-lxc.conf are
 * not the API's to remove. */
void
nlx_api_delete_image (NlxApiRequest *request,
                      const char *method G_GNUC_UNUSED,
                      const char * const *ids)
{
  const char *id = ids[0];
  NlxImageStore *store = nlx_manager_get_image_store (request->api->manager);
  g_autoptr(NlxStoredImage) image = NULL;

  if (nlx_config_find_image (request->api->config, id) != NULL)
    {
      /* RFC 9110 15.5.6: a 405 lists what this resource does take. */
      soup_message_headers_replace (
        soup_server_message_get_response_headers (request->msg),
        "Allow", "GET");
      nlx_api_respond_fault (request, 405,
                             _("Images configured in nova-lxc.conf are "
                               "removed there, not through the API"));
      return;
    }
  image = nlx_image_store_lookup (store, id, NULL);
  /* Another project's private image does not exist, as far as a member
   * can tell; someone else's shared one is Glance's 403. */
  if (image != NULL && !nlx_api_may_see_image (request, image->properties))
    {
      respond_image_not_found (request, id);
      return;
    }
  if (image != NULL &&
      !nlx_api_may_delete_image (request,
                                 g_hash_table_lookup (image->properties,
                                                      NLX_IMAGE_PROP_OWNER)))
    {
      nlx_api_respond_fault (request, 403,
                             _("Deleting this image needs the admin role, or "
                               "the member role in the project that owns "
                               "it"));
      return;
    }
  nlx_manager_delete_image_async (request->api->manager, id, nlx_api_changed,
                                  nlx_api_change_new (request, id, 204,
                                                      NLX_API_ANSWER_EMPTY));
}
