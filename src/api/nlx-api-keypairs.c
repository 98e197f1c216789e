/* nlx-api-keypairs.c: /os-keypairs: import, generate, list, show and
 * delete key pairs */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "api/nlx-api-keystone.h"
#include "api/nlx-api-private.h"

/* ---- key pairs ------------------------------------------------------------ */

/* A key pair as Nova shows it: in a list, name, public_key and
 * fingerprint; alone (@full), with its owner and database fields; from
 * 2.2 with its type in both. */
static void
add_keypair (JsonBuilder *builder,
             NlxApiRequest *request,
             const NlxKeypair *keypair,
             gboolean full)
{
  json_builder_begin_object (builder);
  nlx_api_add_string (builder, "name", keypair->name);
  nlx_api_add_string (builder, "public_key", keypair->public_key);
  nlx_api_add_string (builder, "fingerprint", keypair->fingerprint);
  if (nlx_api_has (request, NLX_API_KEYPAIR_TYPE))
    nlx_api_add_string (builder, "type",
                        nlx_keypair_type_to_string (keypair->type));
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
 * ssh-keygen or openssl (when generating) and for the disk. */
typedef struct {
  NlxApiRequest *request;
  NlxManager *manager;
  char *user_id;
  char *name;
  NlxKeypairType type;
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
  /* Nova: with user_id, and the private key when generated; 200 at 2.1,
   * 201 with the type from 2.2. */
  builder = json_builder_new_immutable ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "keypair");
  json_builder_begin_object (builder);
  nlx_api_add_string (builder, "name", keypair->name);
  nlx_api_add_string (builder, "public_key", keypair->public_key);
  nlx_api_add_string (builder, "fingerprint", keypair->fingerprint);
  nlx_api_add_string (builder, "user_id", keypair->user_id);
  if (nlx_api_has (call->request, NLX_API_KEYPAIR_TYPE))
    nlx_api_add_string (builder, "type",
                        nlx_keypair_type_to_string (keypair->type));
  if (call->private_key != NULL)
    nlx_api_add_string (builder, "private_key", call->private_key);
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  nlx_api_respond (call->request,
                   nlx_api_has (call->request, NLX_API_KEYPAIR_TYPE) ? 201
                                                                       : 200,
                   body);
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
    keypair = nlx_keypair_new (call->user_id, call->name, call->type,
                               public_key, &error);
  if (keypair == NULL)
    {
      nlx_api_respond_error (call->request, error);
      return;
    }
  manager = call->manager;
  nlx_manager_add_keypair_async (manager, keypair, keypair_added,
                                 g_steal_pointer (&call));
}

/* The user whose key pairs a request is about: the caller, or from 2.10
 * the one ?user_id= (or a create's "user_id") names, which only an admin
 * may name when it is not the caller (Nova's default policy).  NULL once
 * a 403 has said so. */
static const char *
keypair_owner (NlxApiRequest *request,
               const char *wanted)
{
  const char *caller = nlx_api_identity (request, "X-User-Id");

  if (wanted == NULL || !nlx_api_has (request, NLX_API_KEYPAIR_USER_ID) ||
      g_str_equal (wanted, caller))
    return caller;
  if (!nlx_api_caller_is_admin (request))
    {
      nlx_api_respond_fault (request, 403,
                             _("Policy does not allow another user's key "
                               "pairs: “user_id” needs the admin role; leave "
                               "it out for your own"));
      return NULL;
    }
  return wanted;
}

static const char *
query_value (NlxApiRequest *request,
             GHashTable **form,
             const char *key)
{
  const char *query = g_uri_get_query (soup_server_message_get_uri (request->msg));

  if (*form == NULL && query != NULL)
    *form = soup_form_decode (query);
  return *form != NULL ? g_hash_table_lookup (*form, key) : NULL;
}

/* Nova's key pair names: before 2.92 letters, digits, spaces, "_" and
 * "-" only; 2.92 added "@" and "." (which nlx_keypair_check_name()
 * allows at every version). */
static gboolean
check_name (NlxApiRequest *request,
            const char *name)
{
  g_autoptr(GError) error = NULL;

  if (!nlx_keypair_check_name (name, &error))
    {
      nlx_api_respond_error (request, error);
      return FALSE;
    }
  if (!nlx_api_has (request, NLX_API_KEYPAIR_IMPORT_ONLY) &&
      name[strspn (name, "abcdefghijklmnopqrstuvwxyz"
                         "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_- ")] != '\0')
    {
      g_autofree char *message =
        g_strdup_printf (_("Keypair data is invalid: before microversion "
                           "2.92 a key pair name is letters, digits, spaces, "
                           "“_” and “-”, got “%s”; ask for 2.92 or later for "
                           "“@” and “.”"), name);

      nlx_api_respond_fault (request, 400, message);
      return FALSE;
    }
  return TRUE;
}

/* POST /os-keypairs: import a public key, or (before 2.92) generate a
 * pair */
void
nlx_api_create_keypair (NlxApiRequest *request,
                        const char *method G_GNUC_UNUSED,
                        const char * const *ids G_GNUC_UNUSED)
{
  static const char * const known_2_1[] = { "name", "public_key", NULL };
  static const char * const known_2_2[] = {
    "name", "public_key", "type", NULL
  };
  static const char * const known_2_10[] = {
    "name", "public_key", "type", "user_id", NULL
  };
  const char * const *known =
    nlx_api_has (request, NLX_API_KEYPAIR_USER_ID) ? known_2_10
    : nlx_api_has (request, NLX_API_KEYPAIR_TYPE) ? known_2_2 : known_2_1;
  JsonObject *object = nlx_api_read_body (request, "keypair");
  const char *user_id;
  const char *name, *public_key, *type = NULL, *wanted_user = NULL;
  NlxKeypairType keypair_type = NLX_KEYPAIR_TYPE_SSH;
  g_autoptr(GError) error = NULL;
  KeypairCall *call;

  if (object == NULL || !nlx_api_check_members (request, object, known) ||
      (name = nlx_api_get_string_member (request, object, "name")) == NULL ||
      !nlx_api_get_optional_string (request, object, "public_key",
                                    &public_key) ||
      !nlx_api_get_optional_string (request, object, "type", &type) ||
      !nlx_api_get_optional_string (request, object, "user_id", &wanted_user))
    return;
  if (!check_name (request, name))
    return;
  /* Nova's words for a type its schema does not know. */
  if (type != NULL && !nlx_keypair_type_from_string (type, &keypair_type))
    {
      g_autofree char *message =
        g_strdup_printf (_("Invalid input for field/attribute type. Value: "
                           "%s. '%s' is not one of ['ssh', 'x509']"),
                         type, type);

      nlx_api_respond_fault (request, 400, message);
      return;
    }
  if (public_key == NULL && nlx_api_has (request, NLX_API_KEYPAIR_IMPORT_ONLY))
    {
      nlx_api_respond_fault (request, 400,
                             _("Invalid input for field/attribute keypair: "
                               "'public_key' is a required property from "
                               "microversion 2.92; generate the key pair "
                               "(ssh-keygen, or openssl req -x509 for "
                               "x509) and import its public half"));
      return;
    }
  if ((user_id = keypair_owner (request, wanted_user)) == NULL)
    return;
  /* Before ssh-keygen or openssl runs for nothing. */
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
  call->type = keypair_type;
  if (public_key == NULL)
    {
      nlx_keypair_generate_async (keypair_type, user_id, NULL,
                                  keypair_generated, call);
      return;
    }
  {
    NlxKeypair *keypair = nlx_keypair_new (user_id, name, keypair_type,
                                           public_key, &error);

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
    /* Nova: 202 at 2.1, 204 from 2.2. */
    nlx_api_respond (call->request,
                     nlx_api_has (call->request, NLX_API_KEYPAIR_TYPE) ? 204
                                                                         : 202,
                     NULL);
}

/* ?limit= (2.35+): a whole number of at least 0, or -1 without one;
 * FALSE once a 400 has said what was wrong. */
static gboolean
read_limit (NlxApiRequest *request,
            const char *text,
            gint64 *limit)
{
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *message = NULL;

  *limit = -1;
  if (text == NULL)
    return TRUE;
  node = json_node_init_string (json_node_alloc (), text);
  if (nlx_api_read_whole_number (node, 0, G_MAXINT32, limit))
    return TRUE;
  message = g_strdup_printf (_("Invalid limit [%s]: give a whole number of "
                               "at least 0"), text);
  nlx_api_respond_fault (request, 400, message);
  return FALSE;
}

/* GET /os-keypairs: the caller's (from 2.10 an admin may name another
 * user), by name; from 2.35 a page of them. */
void
nlx_api_list_keypairs (NlxApiRequest *request,
                       const char *method G_GNUC_UNUSED,
                       const char * const *ids G_GNUC_UNUSED)
{
  g_autoptr(GHashTable) form = NULL;
  const char *user_id =
    keypair_owner (request, query_value (request, &form, "user_id"));
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;
  g_autoptr(GPtrArray) keypairs = NULL;
  const char *marker = NULL;
  const char *last = NULL;
  gint64 limit = -1, shown = 0;
  guint start = 0;

  if (user_id == NULL)
    return;
  keypairs = nlx_manager_list_keypairs (request->api->manager, user_id);
  if (nlx_api_has (request, NLX_API_KEYPAIR_PAGING))
    {
      if (!read_limit (request, query_value (request, &form, "limit"),
                       &limit))
        return;
      marker = query_value (request, &form, "marker");
    }
  if (marker != NULL)
    {
      for (start = 0; start < keypairs->len; start++)
        if (g_str_equal (((NlxKeypair *) keypairs->pdata[start])->name,
                         marker))
          break;
      if (start == keypairs->len)
        {
          g_autofree char *message =
            g_strdup_printf (_("Marker %s could not be found."), marker);

          nlx_api_respond_fault (request, 400, message);
          return;
        }
      start++;
    }

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "keypairs");
  json_builder_begin_array (builder);
  for (guint i = start; i < keypairs->len; i++)
    {
      const NlxKeypair *keypair = keypairs->pdata[i];

      if (limit >= 0 && shown == limit)
        break;
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "keypair");
      add_keypair (builder, request, keypair, FALSE);
      json_builder_end_object (builder);
      last = keypair->name;
      shown++;
    }
  json_builder_end_array (builder);
  /* As Nova's: a link whenever a limit filled the page. */
  if (limit > 0 && shown == limit)
    nlx_api_add_next_link (builder, request, "keypairs_links", last);
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
  g_autoptr(GHashTable) form = NULL;
  const char *user_id =
    keypair_owner (request, query_value (request, &form, "user_id"));
  const char *name = ids[0];
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;
  const NlxKeypair *keypair;

  if (user_id == NULL)
    return;
  keypair = nlx_manager_find_keypair (request->api->manager, user_id, name);
  if (keypair == NULL)
    {
      g_autofree char *message =
        g_strdup_printf (_("Keypair %s not found for user %s"), name, user_id);

      nlx_api_respond_fault (request, 404, message);
      return;
    }
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "keypair");
  add_keypair (builder, request, keypair, TRUE);
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
  g_autoptr(GHashTable) form = NULL;
  const char *user_id =
    keypair_owner (request, query_value (request, &form, "user_id"));
  KeypairCall *call;

  if (user_id == NULL)
    return;
  call = g_new0 (KeypairCall, 1);
  call->request = nlx_api_request_keep (request);
  call->manager = request->api->manager;
  nlx_manager_delete_keypair_async (call->manager, user_id, ids[0],
                                    keypair_deleted, call);
}
