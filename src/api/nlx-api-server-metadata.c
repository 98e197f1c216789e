/* nlx-api-server-metadata.c: /servers/{id}/metadata[/{key}]: a server's
 * metadata items, as Nova's server metadata API: list, merge (POST),
 * replace (PUT), and one item's show, set and delete.  The manager saves
 * each change in the server's record before it is answered. */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "api/nlx-api-private.h"

/* Nova's MetadataLimitExceeded, which it answers 403. */
void
nlx_api_respond_metadata_limit (NlxApiRequest *request)
{
  g_autofree char *message =
    g_strdup_printf (_("Maximum number of metadata items exceeds %d"),
                     NLX_API_METADATA_ITEMS_MAX);

  nlx_api_respond_fault (request, 403, message);
}

static void
respond_items (NlxApiRequest *request,
               const char *member,
               GHashTable *metadata,
               const char *only)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;
  GHashTableIter iter;
  gpointer key, value;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, member);
  json_builder_begin_object (builder);
  g_hash_table_iter_init (&iter, metadata);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (only == NULL || g_str_equal (only, key))
      nlx_api_add_string (builder, key, value);
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  nlx_api_respond (request, 200, body);
}

/* A change waiting to be saved; answered with what the server then
 * has. */
typedef struct {
  NlxApiRequest *request;
  NlxManager *manager;
  char *uuid;
  char *key;                    /* answer {"meta": {key}}, else "metadata" */
  gboolean deleted;             /* answer 204 */
} MetadataChange;

static void
metadata_change_free (MetadataChange *change)
{
  soup_server_message_unpause (change->request->msg);
  nlx_api_request_free (change->request);
  g_free (change->uuid);
  g_free (change->key);
  g_free (change);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MetadataChange, metadata_change_free)

static void
metadata_changed (GObject *source G_GNUC_UNUSED,
                  GAsyncResult *result,
                  gpointer data)
{
  g_autoptr(MetadataChange) change = data;
  g_autoptr(GError) error = NULL;
  const NlxRecord *record = NULL;

  if (!nlx_manager_change_finish (change->manager, result, &error) ||
      (record = nlx_manager_lookup (change->manager, change->uuid,
                                    &error)) == NULL)
    nlx_api_respond_error (change->request, error);
  else if (change->deleted)
    nlx_api_respond (change->request, 204, NULL);
  else if (change->key != NULL)
    respond_items (change->request, "meta", record->instance->metadata,
                   change->key);
  else
    respond_items (change->request, "metadata", record->instance->metadata,
                   NULL);
}

static void
change_metadata (NlxApiRequest *request,
                 const char *uuid,
                 GHashTable *items,
                 gboolean replace,
                 const char *key,
                 gboolean deleted)
{
  const NlxRecord *record = nlx_manager_lookup (request->api->manager, uuid,
                                                NULL);
  MetadataChange *change;

  /* Nova's check_instance_lock: a locked server's metadata stays. */
  if (record != NULL && !nlx_api_check_unlocked (request, record))
    return;
  change = g_new0 (MetadataChange, 1);
  change->request = nlx_api_request_keep (request);
  change->manager = request->api->manager;
  change->uuid = g_strdup (uuid);
  change->key = deleted ? NULL : g_strdup (key);
  change->deleted = deleted;
  nlx_manager_update_metadata_async (request->api->manager, uuid, items,
                                     replace, deleted ? key : NULL,
                                     metadata_changed, change);
}

/* The items of @member of the body, which must be an object of
 * strings; answers 400 itself. */
static GHashTable *
read_items (NlxApiRequest *request,
            const char *member)
{
  g_autoptr(GHashTable) items =
    g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  JsonObject *root = nlx_api_parse_body (request);
  JsonNode *node;

  if (root == NULL)
    return NULL;
  node = json_object_get_member (root, member);
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      g_autofree char *message =
        g_strdup_printf (_("The request body must be a JSON object with a "
                           "“%s” object"), member);

      nlx_api_respond_fault (request, 400, message);
      return NULL;
    }
  if (!nlx_api_read_string_map (request, root, member, items))
    return NULL;
  return g_steal_pointer (&items);
}

/* How many items the server would have with @items added (or, with
 * @replace, instead); the caller checks Nova's limit against it. */
static guint
count_after (const NlxRecord *record,
             GHashTable *items,
             gboolean replace)
{
  GHashTableIter iter;
  gpointer key;
  guint count = replace ? 0 : g_hash_table_size (record->instance->metadata);

  g_hash_table_iter_init (&iter, items);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (replace || !g_hash_table_contains (record->instance->metadata, key))
      count++;
  return count;
}

/* GET /servers/{uuid}/metadata */
void
nlx_api_list_server_metadata (NlxApiRequest *request,
                              const char *method G_GNUC_UNUSED,
                              const char * const *ids)
{
  g_autoptr(GError) error = NULL;
  const NlxRecord *record = nlx_manager_lookup (request->api->manager, ids[0],
                                                &error);

  if (record == NULL)
    nlx_api_respond_error (request, error);
  else
    respond_items (request, "metadata", record->instance->metadata, NULL);
}

/* POST /servers/{uuid}/metadata: adds and changes items;
 * PUT /servers/{uuid}/metadata: replaces them all. */
void
nlx_api_update_server_metadata (NlxApiRequest *request,
                                const char *method,
                                const char * const *ids)
{
  g_autoptr(GError) error = NULL;
  gboolean replace = g_str_equal (method, "PUT");
  const NlxRecord *record = nlx_manager_lookup (request->api->manager, ids[0],
                                                &error);
  g_autoptr(GHashTable) items = NULL;

  if (record == NULL)
    {
      nlx_api_respond_error (request, error);
      return;
    }
  items = read_items (request, "metadata");
  if (items == NULL)
    return;
  if (count_after (record, items, replace) > NLX_API_METADATA_ITEMS_MAX)
    {
      nlx_api_respond_metadata_limit (request);
      return;
    }
  change_metadata (request, ids[0], items, replace, NULL, FALSE);
}

/* GET /servers/{uuid}/metadata/{key} */
void
nlx_api_show_server_metadata_item (NlxApiRequest *request,
                                   const char *method G_GNUC_UNUSED,
                                   const char * const *ids)
{
  g_autoptr(GError) error = NULL;
  const NlxRecord *record = nlx_manager_lookup (request->api->manager, ids[0],
                                                &error);

  if (record == NULL)
    nlx_api_respond_error (request, error);
  else if (!g_hash_table_contains (record->instance->metadata, ids[1]))
    nlx_api_respond_fault (request, 404, _("Metadata item was not found"));
  else
    respond_items (request, "meta", record->instance->metadata, ids[1]);
}

/* PUT /servers/{uuid}/metadata/{key}: {"meta": {key: value}}, the one
 * item the path names. */
void
nlx_api_set_server_metadata_item (NlxApiRequest *request,
                                  const char *method G_GNUC_UNUSED,
                                  const char * const *ids)
{
  g_autoptr(GError) error = NULL;
  const NlxRecord *record = nlx_manager_lookup (request->api->manager, ids[0],
                                                &error);
  g_autoptr(GHashTable) items = NULL;

  if (record == NULL)
    {
      nlx_api_respond_error (request, error);
      return;
    }
  items = read_items (request, "meta");
  if (items == NULL)
    return;
  /* Nova's messages. */
  if (g_hash_table_size (items) > 1)
    {
      nlx_api_respond_fault (request, 400,
                             _("Request body contains too many items"));
      return;
    }
  if (!g_hash_table_contains (items, ids[1]))
    {
      nlx_api_respond_fault (request, 400, _("Request body and URI mismatch"));
      return;
    }
  if (count_after (record, items, FALSE) > NLX_API_METADATA_ITEMS_MAX)
    {
      nlx_api_respond_metadata_limit (request);
      return;
    }
  change_metadata (request, ids[0], items, FALSE, ids[1], FALSE);
}

/* DELETE /servers/{uuid}/metadata/{key} */
void
nlx_api_delete_server_metadata_item (NlxApiRequest *request,
                                     const char *method G_GNUC_UNUSED,
                                     const char * const *ids)
{
  change_metadata (request, ids[0], NULL, FALSE, ids[1], TRUE);
}
