/* nlx-api-keypairs.c: /os-keypairs: import, generate, list, show and
 * delete key pairs */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "api/nlx-api-private.h"

/* ---- key pairs ------------------------------------------------------------ */

/* A key pair as Nova 2.1 shows it: in a list, name, public_key and
 * fingerprint; alone (@full), with its owner and database fields. */
static void
add_keypair (JsonBuilder *builder,
             const NlxKeypair *keypair,
             gboolean full)
{
  json_builder_begin_object (builder);
  nlx_api_add_string (builder, "name", keypair->name);
  nlx_api_add_string (builder, "public_key", keypair->public_key);
  nlx_api_add_string (builder, "fingerprint", keypair->fingerprint);
  if (full)
    {
      nlx_api_add_string (builder, "user_id", keypair->user_id);
      nlx_api_add_int (builder, "id", keypair->id);
      nlx_api_add_time (builder, "created_at", keypair->created_at);
      nlx_api_add_string (builder, "updated_at", NULL);
      nlx_api_add_string (builder, "deleted_at", NULL);
      json_builder_set_member_name (builder, "deleted");
      json_builder_add_boolean_value (builder, FALSE);
    }
  json_builder_end_object (builder);
}

/* One key pair create, from the request to the answer, which waits for
 * ssh-keygen (when generating) and for the disk. */
typedef struct {
  NlxApiRequest *request;
  NlxManager *manager;
  char *user_id;
  char *name;
  char *private_key;            /* generated: handed out once, then wiped */
} KeypairCall;

static void
keypair_call_free (KeypairCall *call)
{
  soup_server_message_unpause (call->request->msg);
  nlx_api_request_free (call->request);
  g_free (call->user_id);
  g_free (call->name);
  if (call->private_key != NULL)
    explicit_bzero (call->private_key, strlen (call->private_key));
  g_free (call->private_key);
  g_free (call);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KeypairCall, keypair_call_free)

static void
keypair_added (GObject *source G_GNUC_UNUSED,
               GAsyncResult *result,
               gpointer data)
{
  g_autoptr(KeypairCall) call = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(NlxKeypair) keypair =
    nlx_manager_add_keypair_finish (call->manager, result, &error);
  g_autoptr(JsonBuilder) builder = NULL;
  g_autoptr(JsonNode) body = NULL;

  if (keypair == NULL)
    {
      nlx_api_respond_error (call->request, error);
      return;
    }
  /* Nova 2.1: 200, with user_id, and the private key when generated. */
  builder = json_builder_new_immutable ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "keypair");
  json_builder_begin_object (builder);
  nlx_api_add_string (builder, "name", keypair->name);
  nlx_api_add_string (builder, "public_key", keypair->public_key);
  nlx_api_add_string (builder, "fingerprint", keypair->fingerprint);
  nlx_api_add_string (builder, "user_id", keypair->user_id);
  if (call->private_key != NULL)
    nlx_api_add_string (builder, "private_key", call->private_key);
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  nlx_api_respond (call->request, 200, body);
}

static void
keypair_generated (GObject *source G_GNUC_UNUSED,
                   GAsyncResult *result,
                   gpointer data)
{
  g_autoptr(KeypairCall) call = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *public_key = nlx_keypair_generate_finish (result,
                                                             &call->private_key,
                                                             &error);
  NlxKeypair *keypair = NULL;
  NlxManager *manager;

  if (public_key != NULL)
    keypair = nlx_keypair_new (call->user_id, call->name, public_key, &error);
  if (keypair == NULL)
    {
      nlx_api_respond_error (call->request, error);
      return;
    }
  manager = call->manager;
  nlx_manager_add_keypair_async (manager, keypair, keypair_added,
                                 g_steal_pointer (&call));
}

/* POST /os-keypairs: import a public key, or generate a pair */
void
nlx_api_create_keypair (NlxApiRequest *request,
                        const char *method G_GNUC_UNUSED,
                        const char * const *ids G_GNUC_UNUSED)
{
  static const char * const known[] = { "name", "public_key", NULL };
  JsonObject *object = nlx_api_read_body (request, "keypair");
  const char *user_id = nlx_api_identity (request, "X-User-Id");
  const char *name, *public_key;
  g_autoptr(GError) error = NULL;
  KeypairCall *call;

  if (object == NULL || !nlx_api_check_members (request, object, known) ||
      (name = nlx_api_get_string_member (request, object, "name")) == NULL ||
      !nlx_api_get_optional_string (request, object, "public_key", &public_key))
    return;
  if (!nlx_keypair_check_name (name, &error))
    {
      nlx_api_respond_error (request, error);
      return;
    }
  /* Before ssh-keygen runs for nothing. */
  if (nlx_manager_find_keypair (request->api->manager, user_id, name) != NULL)
    {
      g_autofree char *message =
        g_strdup_printf (_("Key pair '%s' already exists."), name);

      nlx_api_respond_fault (request, 409, message);
      return;
    }

  call = g_new0 (KeypairCall, 1);
  call->request = nlx_api_request_keep (request);
  call->manager = request->api->manager;
  call->user_id = g_strdup (user_id);
  call->name = g_strdup (name);
  if (public_key == NULL)
    {
      nlx_keypair_generate_async (NULL, keypair_generated, call);
      return;
    }
  {
    NlxKeypair *keypair = nlx_keypair_new (user_id, name, public_key, &error);

    if (keypair == NULL)
      {
        nlx_api_respond_error (call->request, error);
        keypair_call_free (call);
        return;
      }
    nlx_manager_add_keypair_async (call->manager, keypair, keypair_added,
                                   call);
  }
}

static void
keypair_deleted (GObject *source G_GNUC_UNUSED,
                 GAsyncResult *result,
                 gpointer data)
{
  g_autoptr(KeypairCall) call = data;
  g_autoptr(GError) error = NULL;

  if (!nlx_manager_delete_keypair_finish (call->manager, result, &error))
    nlx_api_respond_error (call->request, error);
  else
    nlx_api_respond (call->request, 202, NULL);
}

/* GET /os-keypairs: the caller's */
void
nlx_api_list_keypairs (NlxApiRequest *request,
                       const char *method G_GNUC_UNUSED,
                       const char * const *ids G_GNUC_UNUSED)
{
  const char *user_id = nlx_api_identity (request, "X-User-Id");
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;
  g_autoptr(GPtrArray) keypairs =
    nlx_manager_list_keypairs (request->api->manager, user_id);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "keypairs");
  json_builder_begin_array (builder);
  for (guint i = 0; i < keypairs->len; i++)
    {
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "keypair");
      add_keypair (builder, keypairs->pdata[i], FALSE);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  nlx_api_respond (request, 200, body);
}

/* GET /os-keypairs/{name} */
void
nlx_api_show_keypair (NlxApiRequest *request,
                      const char *method G_GNUC_UNUSED,
                      const char * const *ids)
{
  const char *user_id = nlx_api_identity (request, "X-User-Id");
  const char *name = ids[0];
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;
  const NlxKeypair *keypair =
    nlx_manager_find_keypair (request->api->manager, user_id, name);

  if (keypair == NULL)
    {
      g_autofree char *message =
        g_strdup_printf (_("Keypair %s not found for user %s"), name, user_id);

      nlx_api_respond_fault (request, 404, message);
      return;
    }
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "keypair");
  add_keypair (builder, keypair, TRUE);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  nlx_api_respond (request, 200, body);
}

/* DELETE /os-keypairs/{name} */
void
nlx_api_delete_keypair (NlxApiRequest *request,
                        const char *method G_GNUC_UNUSED,
                        const char * const *ids)
{
  const char *user_id = nlx_api_identity (request, "X-User-Id");
  KeypairCall *call = g_new0 (KeypairCall, 1);

  call->request = nlx_api_request_keep (request);
  call->manager = request->api->manager;
  /* Nova 2.1 answers 202 once it is gone. */
  nlx_manager_delete_keypair_async (call->manager, user_id, ids[0],
                                    keypair_deleted, call);
}
