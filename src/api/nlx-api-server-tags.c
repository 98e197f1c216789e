/* nlx-api-server-tags.c: /servers/{id}/tags[/{tag}] (2.26+): a server's
 * tags, as Nova's server tags API: list, replace all, delete all, and one
 * tag's check, add and delete.  The manager saves each change in the
 * server's record (nlx_manager_update_tags_async()) before it is
 * answered. */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "api/nlx-api-private.h"

static void
respond_tags (NlxApiRequest *request,
              const NlxInstance *instance)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "tags");
  json_builder_begin_array (builder);
  for (guint i = 0; i < instance->tags->len; i++)
    json_builder_add_string_value (builder, instance->tags->pdata[i]);
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  nlx_api_respond (request, 200, body);
}

/* Answers 400 itself, as Nova's schema for a tag. */
static gboolean
check_tag (NlxApiRequest *request,
           const char *tag)
{
  g_autofree char *shown = NULL;
  g_autofree char *message = NULL;

  if (nlx_tag_is_valid (tag))
    return TRUE;
  shown = g_utf8_make_valid (tag, MIN (strlen (tag), 80));
  message = g_strdup_printf (_("Invalid tag “%s”: a tag is 1 to %d "
                               "printable characters without “/” or “,”"),
                             shown, NLX_TAG_MAX);
  nlx_api_respond_fault (request, 400, message);
  return FALSE;
}

/**
 * nlx_api_read_tags:
 * @object: the object that may hold @member
 * @member: the member: "tags"
 * @tags: (out) (transfer full) (nullable): the tags, without repeats, or
 *   %NULL when @object has no @member
 *
 * Reads a list of tags as Nova takes it at create (2.52+) and in the tags
 * API: at most %NLX_TAGS_MAX, each nlx_tag_is_valid().  Answers 400
 * itself.
 */
gboolean
nlx_api_read_tags (NlxApiRequest *request,
                   JsonObject *object,
                   const char *member,
                   GPtrArray **tags)
{
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func (g_free);
  JsonNode *node = json_object_get_member (object, member);
  JsonArray *array;

  *tags = NULL;
  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (node) ||
      json_array_get_length (array = json_node_get_array (node)) >
      NLX_TAGS_MAX)
    {
      g_autofree char *message =
        g_strdup_printf (_("Invalid input for field/attribute %s: give a list "
                           "of at most %d tags"), member, NLX_TAGS_MAX);

      nlx_api_respond_fault (request, 400, message);
      return FALSE;
    }
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *element = json_array_get_element (array, i);
      const char *tag;

      if (!JSON_NODE_HOLDS_VALUE (element) ||
          json_node_get_value_type (element) != G_TYPE_STRING)
        {
          g_autofree char *message =
            g_strdup_printf (_("Invalid input for field/attribute %s: every "
                               "tag must be a string"), member);

          nlx_api_respond_fault (request, 400, message);
          return FALSE;
        }
      tag = json_node_get_string (element);
      if (!check_tag (request, tag))
        return FALSE;
      if (!g_ptr_array_find_with_equal_func (list, tag, g_str_equal, NULL))
        g_ptr_array_add (list, g_strdup (tag));
    }
  *tags = g_steal_pointer (&list);
  return TRUE;
}

/* A change waiting to be saved. */
typedef enum {
  ANSWER_TAGS,                  /* 200 with the server's tags */
  ANSWER_NONE,                  /* 204 */
  ANSWER_CREATED,               /* 201 with Location */
  ANSWER_EXISTED,               /* 204 with Location */
} Answer;

typedef struct {
  NlxApiRequest *request;
  NlxManager *manager;
  char *uuid;
  char *tag;
  Answer answer;
} TagsChange;

static void
tags_change_free (TagsChange *change)
{
  soup_server_message_unpause (change->request->msg);
  nlx_api_request_free (change->request);
  g_free (change->uuid);
  g_free (change->tag);
  g_free (change);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TagsChange, tags_change_free)

static void
tags_changed (GObject *source G_GNUC_UNUSED,
              GAsyncResult *result,
              gpointer data)
{
  g_autoptr(TagsChange) change = data;
  g_autoptr(GError) error = NULL;
  const NlxRecord *record = NULL;

  if (!nlx_manager_change_finish (change->manager, result, &error) ||
      (record = nlx_manager_lookup (change->manager, change->uuid,
                                    &error)) == NULL)
    {
      nlx_api_respond_error (change->request, error);
      return;
    }
  if (change->answer == ANSWER_CREATED || change->answer == ANSWER_EXISTED)
    {
      g_autofree char *tag = g_uri_escape_string (change->tag, NULL, FALSE);
      g_autofree char *location =
        g_strdup_printf ("%s/v2.1/servers/%s/tags/%s", change->request->base,
                         change->uuid, tag);

      soup_message_headers_replace (
        soup_server_message_get_response_headers (change->request->msg),
        "Location", location);
    }
  switch (change->answer)
    {
    case ANSWER_TAGS:
      respond_tags (change->request, record->instance);
      break;
    case ANSWER_CREATED:
      nlx_api_respond (change->request, 201, NULL);
      break;
    case ANSWER_NONE:
    case ANSWER_EXISTED:
    default:
      nlx_api_respond (change->request, 204, NULL);
      break;
    }
}

static void
change_tags (NlxApiRequest *request,
             const char *uuid,
             GPtrArray *tags,
             const char *tag,
             gboolean remove,
             Answer answer)
{
  TagsChange *change = g_new0 (TagsChange, 1);

  change->request = nlx_api_request_keep (request);
  change->manager = request->api->manager;
  change->uuid = g_strdup (uuid);
  change->tag = g_strdup (tag);
  change->answer = answer;
  nlx_manager_update_tags_async (request->api->manager, uuid, tags, tag,
                                 remove, tags_changed, change);
}

/* GET /servers/{uuid}/tags */
void
nlx_api_list_server_tags (NlxApiRequest *request,
                          const char *method G_GNUC_UNUSED,
                          const char * const *ids)
{
  g_autoptr(GError) error = NULL;
  const NlxRecord *record = nlx_manager_lookup (request->api->manager, ids[0],
                                                &error);

  if (record == NULL)
    nlx_api_respond_error (request, error);
  else
    respond_tags (request, record->instance);
}

/* PUT /servers/{uuid}/tags: {"tags": [...]} replaces them all. */
void
nlx_api_replace_server_tags (NlxApiRequest *request,
                             const char *method G_GNUC_UNUSED,
                             const char * const *ids)
{
  static const char * const known[] = { "tags", NULL };
  g_autoptr(GPtrArray) tags = NULL;
  JsonObject *root = nlx_api_parse_body (request);

  if (root == NULL || !nlx_api_check_members (request, root, known) ||
      !nlx_api_read_tags (request, root, "tags", &tags))
    return;
  if (tags == NULL)
    {
      nlx_api_respond_fault (request, 400,
                             _("The request body must be {\"tags\": [...]}, "
                               "a list of tags"));
      return;
    }
  change_tags (request, ids[0], tags, NULL, FALSE, ANSWER_TAGS);
}

/* DELETE /servers/{uuid}/tags */
void
nlx_api_delete_server_tags (NlxApiRequest *request,
                            const char *method G_GNUC_UNUSED,
                            const char * const *ids)
{
  g_autoptr(GPtrArray) none = g_ptr_array_new ();

  change_tags (request, ids[0], none, NULL, FALSE, ANSWER_NONE);
}

/* GET /servers/{uuid}/tags/{tag}: 204 if it has it, else 404. */
void
nlx_api_check_server_tag (NlxApiRequest *request,
                          const char *method G_GNUC_UNUSED,
                          const char * const *ids)
{
  g_autoptr(GError) error = NULL;
  const NlxRecord *record = nlx_manager_lookup (request->api->manager, ids[0],
                                                &error);

  if (record == NULL)
    nlx_api_respond_error (request, error);
  else if (nlx_instance_has_tag (record->instance, ids[1]))
    nlx_api_respond (request, 204, NULL);
  else
    {
      g_autofree char *shown = g_utf8_make_valid (ids[1],
                                                  MIN (strlen (ids[1]), 80));
      g_autofree char *message =
        g_strdup_printf (_("Tag '%s' is not found on server %s; see GET "
                           "/v2.1/servers/%s/tags"), shown, ids[0], ids[0]);

      nlx_api_respond_fault (request, 404, message);
    }
}

/* PUT /servers/{uuid}/tags/{tag}: 201 when added, 204 when it was
 * there; Location says where, in both. */
void
nlx_api_add_server_tag (NlxApiRequest *request,
                        const char *method G_GNUC_UNUSED,
                        const char * const *ids)
{
  g_autoptr(GError) error = NULL;
  const NlxRecord *record;

  if (!check_tag (request, ids[1]))
    return;
  record = nlx_manager_lookup (request->api->manager, ids[0], &error);
  if (record == NULL)
    {
      nlx_api_respond_error (request, error);
      return;
    }
  change_tags (request, ids[0], NULL, ids[1], FALSE,
               nlx_instance_has_tag (record->instance, ids[1])
               ? ANSWER_EXISTED : ANSWER_CREATED);
}

/* DELETE /servers/{uuid}/tags/{tag} */
void
nlx_api_delete_server_tag (NlxApiRequest *request,
                           const char *method G_GNUC_UNUSED,
                           const char * const *ids)
{
  change_tags (request, ids[0], NULL, ids[1], TRUE, ANSWER_NONE);
}
