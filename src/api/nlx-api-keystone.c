/* nlx-api-keystone.c: [api] auth_strategy = keystone
 *
 * As Nova's keystonemiddleware: the daemon holds a token of its own
 * (POST /v3/auth/tokens with [keystone_authtoken]'s password, scoped to
 * its project) and asks Keystone about each caller's token with it
 * (GET /v3/auth/tokens, X-Subject-Token), without ever blocking the main
 * loop; a valid answer is kept until the token expires (or for
 * CACHE_SECONDS at most, so a revoked token stops working soon), in a
 * bounded cache.  Then Nova's default policy: a member sees and acts on
 * its own project's servers only, admin-only APIs need the admin role. */
#include "config.h"

#include <string.h>
#include <glib/gi18n-lib.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "api/nlx-api-keystone.h"

/* How long a validated token is believed without asking again:
 * keystonemiddleware's token_cache_time. */
#define CACHE_SECONDS 300
/* Tokens remembered at once; beyond that the cache starts over. */
#define CACHE_MAX 4096
/* A service token this close to its expiry is renewed first. */
#define SERVICE_MARGIN_SECONDS 60
/* Seconds a request to Keystone may take. */
#define KEYSTONE_TIMEOUT_S 10

#define CALLER_KEY "nlx-api-caller"

G_DEFINE_QUARK (nlx-api-keystone-error-quark, nlx_api_keystone_error)

struct _NlxApiKeystone {
  SoupSession *session;
  char *v3_url;                 /* ends in /v3, no trailing slash */
  char *username;
  char *password;
  char *project_name;
  char *user_domain_name;
  char *project_domain_name;
  char *service_token;          /* NULL until fetched */
  gint64 service_expires;
  GPtrArray *waiting;           /* GTask: wait for the service token; NULL
                                 * when none is being fetched */
  GHashTable *cache;            /* SHA-256 of a token -> NlxApiIdentity */
  GCancellable *cancellable;    /* cancelled when the API goes */
};

typedef struct {
  NlxApiKeystone *keystone;     /* not to be touched once cancelled */
  char *token;
  char *digest;
  gboolean retried;             /* after a refused service token */
} Validation;

static void
validation_free (Validation *validation)
{
  g_free (validation->token);
  g_free (validation->digest);
  g_free (validation);
}

void
nlx_api_identity_free (NlxApiIdentity *identity)
{
  if (identity == NULL)
    return;
  g_free (identity->user_id);
  g_free (identity->project_id);
  g_strfreev (identity->roles);
  g_free (identity);
}

static NlxApiIdentity *
identity_copy (const NlxApiIdentity *identity)
{
  NlxApiIdentity *copy = g_new0 (NlxApiIdentity, 1);

  copy->user_id = g_strdup (identity->user_id);
  copy->project_id = g_strdup (identity->project_id);
  copy->roles = g_strdupv (identity->roles);
  copy->expires = identity->expires;
  return copy;
}

/**
 * nlx_api_keystone_new:
 * @config: validated by nlx-config.c: the keys it needs are there
 *
 * Returns: (transfer full): a client for `[keystone_authtoken] auth_url`
 */
NlxApiKeystone *
nlx_api_keystone_new (const NlxConfig *config)
{
  NlxApiKeystone *keystone = g_new0 (NlxApiKeystone, 1);
  GKeyFile *keyfile = config->keyfile;
  g_autofree char *url =
    nlx_config_get_string (keyfile, "keystone_authtoken", "auth_url", "");
  gsize length = strlen (url);

  /* Nova's auth_url is Keystone's root or its /v3; both mean v3 here. */
  while (length > 0 && url[length - 1] == '/')
    url[--length] = '\0';
  keystone->v3_url = g_str_has_suffix (url, "/v3") ? g_strdup (url)
                                                   : g_strconcat (url, "/v3", NULL);
  keystone->username =
    nlx_config_get_string (keyfile, "keystone_authtoken", "username", "");
  keystone->password =
    nlx_config_get_string (keyfile, "keystone_authtoken", "password", "");
  keystone->project_name =
    nlx_config_get_string (keyfile, "keystone_authtoken", "project_name", "");
  keystone->user_domain_name =
    nlx_config_get_string (keyfile, "keystone_authtoken", "user_domain_name",
                           "Default");
  keystone->project_domain_name =
    nlx_config_get_string (keyfile, "keystone_authtoken",
                           "project_domain_name", "Default");
  keystone->session = soup_session_new_with_options ("timeout",
                                                     KEYSTONE_TIMEOUT_S,
                                                     "user-agent",
                                                     "nova-lxc-compute ",
                                                     NULL);
  keystone->cache = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                           (GDestroyNotify) nlx_api_identity_free);
  keystone->cancellable = g_cancellable_new ();
  return keystone;
}

static void
fail_waiting (GPtrArray *waiting,
              const GError *error)
{
  for (guint i = 0; i < waiting->len; i++)
    {
      GTask *task = waiting->pdata[i];

      g_task_return_error (task, g_error_copy (error));
      g_object_unref (task);
    }
  g_ptr_array_unref (waiting);
}

/* Callbacks still under way see their cancellable cancelled and do not
 * touch @keystone again. */
void
nlx_api_keystone_free (NlxApiKeystone *keystone)
{
  if (keystone == NULL)
    return;
  g_cancellable_cancel (keystone->cancellable);
  if (keystone->waiting != NULL)
    {
      g_autoptr(GError) error =
        g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                             _("The API is shutting down"));

      fail_waiting (g_steal_pointer (&keystone->waiting), error);
    }
  soup_session_abort (keystone->session);
  g_object_unref (keystone->session);
  g_object_unref (keystone->cancellable);
  g_hash_table_unref (keystone->cache);
  g_free (keystone->v3_url);
  g_free (keystone->username);
  g_free (keystone->password);
  g_free (keystone->project_name);
  g_free (keystone->user_domain_name);
  g_free (keystone->project_domain_name);
  g_free (keystone->service_token);
  g_free (keystone);
}

static SoupMessage *
new_message (NlxApiKeystone *keystone,
             const char *method)
{
  g_autofree char *url = g_strconcat (keystone->v3_url, "/auth/tokens", NULL);
  SoupMessage *msg = soup_message_new (method, url);

  soup_message_headers_replace (soup_message_get_request_headers (msg),
                                "Accept", "application/json");
  return msg;
}

/* Keystone's expires_at, as g_get_real_time(); 0 when unreadable. */
static gint64
read_expiry (JsonObject *token)
{
  const char *text = json_object_get_string_member_with_default (token,
                                                                 "expires_at",
                                                                 NULL);
  g_autoptr(GTimeZone) utc = g_time_zone_new_utc ();
  g_autoptr(GDateTime) time = NULL;

  if (text == NULL ||
      (time = g_date_time_new_from_iso8601 (text, utc)) == NULL)
    return 0;
  return g_date_time_to_unix (time) * G_USEC_PER_SEC +
         g_date_time_get_microsecond (time);
}

static JsonObject *
token_of (GBytes *bytes,
          JsonNode **root)
{
  gsize length;
  const char *data = bytes ? g_bytes_get_data (bytes, &length) : NULL;
  JsonNode *member;

  *root = data ? nlx_json_parse (data, length, NULL) : NULL;
  if (*root == NULL || !JSON_NODE_HOLDS_OBJECT (*root))
    return NULL;
  member = json_object_get_member (json_node_get_object (*root), "token");
  return member && JSON_NODE_HOLDS_OBJECT (member) ? json_node_get_object (member)
                                                  : NULL;
}

static void unavailable (GTask *task,
                         const char *url,
                         const GError *error,
                         guint status);
static void check_token (GTask *task);

/* ---- the daemon's own token ------------------------------------------ */

typedef struct {
  NlxApiKeystone *keystone;
  SoupMessage *msg;
} Fetch;

static void
service_token_fetched (GObject *source,
                       GAsyncResult *result,
                       gpointer data)
{
  Fetch *fetch = data;
  g_autoptr(SoupMessage) msg = fetch->msg;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes =
    soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);
  g_autoptr(JsonNode) root = NULL;
  NlxApiKeystone *keystone = fetch->keystone;
  GPtrArray *waiting;
  JsonObject *token;
  const char *subject;
  guint status;

  g_free (fetch);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  waiting = g_steal_pointer (&keystone->waiting);
  status = soup_message_get_status (msg);
  subject = soup_message_headers_get_one (soup_message_get_response_headers (msg),
                                          "X-Subject-Token");
  token = bytes ? token_of (bytes, &root) : NULL;
  if (error == NULL && status == SOUP_STATUS_CREATED && subject != NULL &&
      token != NULL)
    {
      g_free (keystone->service_token);
      keystone->service_token = g_strdup (subject);
      keystone->service_expires = read_expiry (token);
      for (guint i = 0; i < waiting->len; i++)
        {
          check_token (waiting->pdata[i]);
          g_object_unref (waiting->pdata[i]);
        }
      g_ptr_array_unref (waiting);
      return;
    }
  if (error == NULL)
    g_warning (_("Keystone at %s refused the service credentials of "
                 "[keystone_authtoken] (user %s, project %s): HTTP %u; check "
                 "them"), keystone->v3_url, keystone->username,
               keystone->project_name, status);
  for (guint i = 0; i < waiting->len; i++)
    {
      unavailable (waiting->pdata[i], keystone->v3_url, error, status);
      g_object_unref (waiting->pdata[i]);
    }
  g_ptr_array_unref (waiting);
}

static void
fetch_service_token (NlxApiKeystone *keystone)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *body = NULL;
  g_autoptr(GBytes) bytes = NULL;
  Fetch *fetch = g_new0 (Fetch, 1);
  gsize length;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "auth");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "identity");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "methods");
  json_builder_begin_array (builder);
  json_builder_add_string_value (builder, "password");
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "password");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "user");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, keystone->username);
  json_builder_set_member_name (builder, "password");
  json_builder_add_string_value (builder, keystone->password);
  json_builder_set_member_name (builder, "domain");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, keystone->user_domain_name);
  json_builder_end_object (builder);
  json_builder_end_object (builder);     /* user */
  json_builder_end_object (builder);     /* password */
  json_builder_end_object (builder);     /* identity */
  json_builder_set_member_name (builder, "scope");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "project");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, keystone->project_name);
  json_builder_set_member_name (builder, "domain");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, keystone->project_domain_name);
  json_builder_end_object (builder);
  json_builder_end_object (builder);     /* project */
  json_builder_end_object (builder);     /* scope */
  json_builder_end_object (builder);     /* auth */
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  body = json_to_string (root, FALSE);

  fetch->keystone = keystone;
  fetch->msg = new_message (keystone, "POST");
  length = strlen (body);
  bytes = g_bytes_new_take (g_steal_pointer (&body), length);
  soup_message_set_request_body_from_bytes (fetch->msg, "application/json",
                                            bytes);
  soup_session_send_and_read_async (keystone->session, fetch->msg,
                                    G_PRIORITY_DEFAULT, keystone->cancellable,
                                    service_token_fetched, fetch);
}

/* Runs check_token() for @task once the daemon holds a token. */
static void
with_service_token (GTask *task)
{
  Validation *validation = g_task_get_task_data (task);
  NlxApiKeystone *keystone = validation->keystone;

  if (keystone->service_token != NULL &&
      keystone->service_expires - g_get_real_time () >
        SERVICE_MARGIN_SECONDS * G_USEC_PER_SEC)
    {
      check_token (task);
      return;
    }
  /* One request for every caller that waits. */
  if (keystone->waiting != NULL)
    {
      g_ptr_array_add (keystone->waiting, g_object_ref (task));
      return;
    }
  keystone->waiting = g_ptr_array_new ();
  g_ptr_array_add (keystone->waiting, g_object_ref (task));
  fetch_service_token (keystone);
}

/* ---- the caller's token ---------------------------------------------- */

static void
unavailable (GTask *task,
             const char *url,
             const GError *error,
             guint status)
{
  if (error != NULL)
    g_task_return_new_error (task, NLX_API_KEYSTONE_ERROR,
                             NLX_API_KEYSTONE_ERROR_UNAVAILABLE,
                             _("Keystone at %s cannot be reached to check "
                               "the token: %s; try again later"),
                             url, error->message);
  else
    g_task_return_new_error (task, NLX_API_KEYSTONE_ERROR,
                             NLX_API_KEYSTONE_ERROR_UNAVAILABLE,
                             _("Keystone at %s cannot check the token now "
                               "(HTTP %u); try again later"), url, status);
}

static NlxApiIdentity *
read_identity (JsonObject *token)
{
  g_autoptr(NlxApiIdentity) identity = g_new0 (NlxApiIdentity, 1);
  g_autoptr(GStrvBuilder) roles = g_strv_builder_new ();
  JsonNode *user = json_object_get_member (token, "user");
  JsonNode *project = json_object_get_member (token, "project");
  JsonNode *list = json_object_get_member (token, "roles");

  if (user == NULL || !JSON_NODE_HOLDS_OBJECT (user) || project == NULL ||
      !JSON_NODE_HOLDS_OBJECT (project))
    return NULL;
  identity->user_id =
    g_strdup (json_object_get_string_member_with_default (json_node_get_object (user),
                                                          "id", NULL));
  identity->project_id =
    g_strdup (json_object_get_string_member_with_default (json_node_get_object (project),
                                                          "id", NULL));
  if (identity->user_id == NULL || identity->project_id == NULL)
    return NULL;
  if (list != NULL && JSON_NODE_HOLDS_ARRAY (list))
    {
      JsonArray *array = json_node_get_array (list);

      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          JsonNode *role = json_array_get_element (array, i);
          const char *name;

          if (!JSON_NODE_HOLDS_OBJECT (role))
            continue;
          name = json_object_get_string_member_with_default (json_node_get_object (role),
                                                             "name", NULL);
          if (name != NULL)
            g_strv_builder_add (roles, name);
        }
    }
  identity->roles = g_strv_builder_end (roles);
  identity->expires = read_expiry (token);
  return g_steal_pointer (&identity);
}

static void
remember (NlxApiKeystone *keystone,
          const char *digest,
          const NlxApiIdentity *identity)
{
  NlxApiIdentity *kept = identity_copy (identity);
  gint64 limit = g_get_real_time () + CACHE_SECONDS * G_USEC_PER_SEC;

  if (g_hash_table_size (keystone->cache) >= CACHE_MAX)
    {
      GHashTableIter iter;
      gpointer value;
      gint64 now = g_get_real_time ();

      g_hash_table_iter_init (&iter, keystone->cache);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        if (((NlxApiIdentity *) value)->expires <= now)
          g_hash_table_iter_remove (&iter);
      /* All still valid: start over rather than grow without bound. */
      if (g_hash_table_size (keystone->cache) >= CACHE_MAX)
        g_hash_table_remove_all (keystone->cache);
    }
  kept->expires = MIN (kept->expires, limit);
  g_hash_table_replace (keystone->cache, g_strdup (digest), kept);
}

typedef struct {
  GTask *task;
  SoupMessage *msg;
} Check;

static void
token_checked (GObject *source,
               GAsyncResult *result,
               gpointer data)
{
  Check *check = data;
  g_autoptr(GTask) task = check->task;
  g_autoptr(SoupMessage) msg = check->msg;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes =
    soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(NlxApiIdentity) identity = NULL;
  Validation *validation = g_task_get_task_data (task);
  NlxApiKeystone *keystone;
  JsonObject *token;
  guint status;

  g_free (check);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  keystone = validation->keystone;
  status = soup_message_get_status (msg);
  if (error != NULL)
    unavailable (task, keystone->v3_url, error, 0);
  else if (status == SOUP_STATUS_OK)
    {
      token = token_of (bytes, &root);
      identity = token ? read_identity (token) : NULL;
      if (identity == NULL)
        g_task_return_new_error (task, NLX_API_KEYSTONE_ERROR,
                                 NLX_API_KEYSTONE_ERROR_INVALID_TOKEN,
                                 _("The token is not scoped to a project; "
                                   "get one for the project whose servers "
                                   "you mean"));
      else
        {
          remember (keystone, validation->digest, identity);
          g_task_return_pointer (task, g_steal_pointer (&identity),
                                 (GDestroyNotify) nlx_api_identity_free);
        }
    }
  else if (status == SOUP_STATUS_NOT_FOUND)
    g_task_return_new_error (task, NLX_API_KEYSTONE_ERROR,
                             NLX_API_KEYSTONE_ERROR_INVALID_TOKEN,
                             _("The token in X-Auth-Token is invalid or has "
                               "expired; get a new one from Keystone"));
  else if (status == SOUP_STATUS_UNAUTHORIZED && !validation->retried)
    {
      /* The daemon's own token was revoked or has expired early. */
      validation->retried = TRUE;
      g_clear_pointer (&keystone->service_token, g_free);
      with_service_token (task);
    }
  else
    unavailable (task, keystone->v3_url, NULL, status);
}

static void
check_token (GTask *task)
{
  Validation *validation = g_task_get_task_data (task);
  NlxApiKeystone *keystone = validation->keystone;
  Check *check = g_new0 (Check, 1);
  SoupMessageHeaders *headers;

  check->task = g_object_ref (task);
  check->msg = new_message (keystone, "GET");
  headers = soup_message_get_request_headers (check->msg);
  soup_message_headers_replace (headers, "X-Auth-Token",
                                keystone->service_token);
  soup_message_headers_replace (headers, "X-Subject-Token", validation->token);
  soup_session_send_and_read_async (keystone->session, check->msg,
                                    G_PRIORITY_DEFAULT, keystone->cancellable,
                                    token_checked, check);
}

/**
 * nlx_api_keystone_validate_async:
 * @token: (nullable): the caller's X-Auth-Token
 *
 * Finds who holds @token: from the cache, or by asking Keystone.
 */
void
nlx_api_keystone_validate_async (NlxApiKeystone *keystone,
                                 const char *token,
                                 GAsyncReadyCallback callback,
                                 gpointer data)
{
  g_autoptr(GTask) task = g_task_new (NULL, keystone->cancellable, callback,
                                      data);
  Validation *validation;
  NlxApiIdentity *cached;

  g_task_set_source_tag (task, nlx_api_keystone_validate_async);
  if (token == NULL || *token == '\0' || strlen (token) > 8192 ||
      strpbrk (token, "\r\n") != NULL)
    {
      g_task_return_new_error (task, NLX_API_KEYSTONE_ERROR,
                               NLX_API_KEYSTONE_ERROR_INVALID_TOKEN,
                               _("Authentication required: send a Keystone "
                                 "token in X-Auth-Token"));
      return;
    }
  validation = g_new0 (Validation, 1);
  validation->keystone = keystone;
  validation->token = g_strdup (token);
  /* Only a digest of a bearer token stays in memory for long. */
  validation->digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256,
                                                      token, -1);
  g_task_set_task_data (task, validation, (GDestroyNotify) validation_free);
  cached = g_hash_table_lookup (keystone->cache, validation->digest);
  if (cached != NULL && cached->expires > g_get_real_time ())
    {
      g_task_return_pointer (task, identity_copy (cached),
                             (GDestroyNotify) nlx_api_identity_free);
      return;
    }
  if (cached != NULL)
    g_hash_table_remove (keystone->cache, validation->digest);
  with_service_token (task);
}

NlxApiIdentity *
nlx_api_keystone_validate_finish (GAsyncResult *result,
                                  GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- policy ----------------------------------------------------------- */

/* The message carries the caller: a copy of the request kept for a
 * worker's answer has the same message. */
void
nlx_api_set_caller (NlxApiRequest *request,
                    NlxApiIdentity *identity)
{
  g_object_set_data_full (G_OBJECT (request->msg), CALLER_KEY, identity,
                          (GDestroyNotify) nlx_api_identity_free);
}

const NlxApiIdentity *
nlx_api_get_caller (NlxApiRequest *request)
{
  return g_object_get_data (G_OBJECT (request->msg), CALLER_KEY);
}

/* Nova's default "role:admin". */
gboolean
nlx_api_caller_is_admin (NlxApiRequest *request)
{
  const NlxApiIdentity *caller = nlx_api_get_caller (request);

  return caller == NULL ||
         g_strv_contains ((const char * const *) caller->roles, "admin");
}

/* Answers 403 unless the caller is an admin. */
gboolean
nlx_api_require_admin (NlxApiRequest *request)
{
  if (nlx_api_caller_is_admin (request))
    return TRUE;
  nlx_api_respond_fault (request, 403,
                         _("Policy does not allow this: it needs the admin "
                           "role"));
  return FALSE;
}

/**
 * nlx_api_list_scope:
 * @project_id: (out) (transfer none): the project whose servers a list
 *   shows, or %NULL for every project's
 *
 * As Nova: a list shows the caller's project's servers; all_tenants
 * (any value Nova takes as true, or none) shows every project's, to an
 * admin only.
 *
 * Returns: %FALSE when it has answered (400 or 403)
 */
gboolean
nlx_api_list_scope (NlxApiRequest *request,
                    const char **project_id)
{
  static const char * const yes[] = { "1", "t", "true", "on", "y", "yes", "" };
  static const char * const no[] = { "0", "f", "false", "off", "n", "no" };
  const NlxApiIdentity *caller = nlx_api_get_caller (request);
  const char *query = g_uri_get_query (soup_server_message_get_uri (request->msg));
  g_autoptr(GHashTable) params = NULL;
  const char *value;
  gboolean all = FALSE;

  *project_id = NULL;
  if (caller == NULL)
    return TRUE;
  *project_id = caller->project_id;
  if (query != NULL)
    params = g_uri_parse_params (query, -1, "&", G_URI_PARAMS_NONE, NULL);
  value = params ? g_hash_table_lookup (params, "all_tenants") : NULL;
  if (value == NULL)
    return TRUE;
  for (gsize i = 0; i < G_N_ELEMENTS (yes); i++)
    if (g_ascii_strcasecmp (value, yes[i]) == 0)
      all = TRUE;
  if (!all)
    {
      gboolean known = FALSE;

      for (gsize i = 0; i < G_N_ELEMENTS (no); i++)
        if (g_ascii_strcasecmp (value, no[i]) == 0)
          known = TRUE;
      if (!known)
        {
          g_autofree char *message =
            g_strdup_printf (_("Invalid all_tenants value “%s”: use 1 or 0"),
                             value);

          nlx_api_respond_fault (request, 400, message);
          return FALSE;
        }
    }
  /* Nova asks the policy whenever all_tenants is given. */
  if (!nlx_api_require_admin (request))
    return FALSE;
  if (all)
    *project_id = NULL;
  return TRUE;
}

/* Whether the caller may see server @uuid: an admin any, a member its
 * project's, also when it is deleted and its history kept (its actions,
 * 2.21+: nlx_manager_lookup_deleted()); an unknown @uuid is the
 * handler's to answer. */
gboolean
nlx_api_may_see_server (NlxApiRequest *request,
                        const char *uuid)
{
  const NlxApiIdentity *caller = nlx_api_get_caller (request);
  const NlxRecord *record;
  const NlxDeletedServer *gone;

  if (caller == NULL || nlx_api_caller_is_admin (request))
    return TRUE;
  record = nlx_manager_lookup (request->api->manager, uuid, NULL);
  if (record != NULL)
    return g_strcmp0 (record->instance->project_id, caller->project_id) == 0;
  gone = nlx_manager_lookup_deleted (request->api->manager, uuid);
  return gone == NULL || g_strcmp0 (gone->project_id, caller->project_id) == 0;
}

/* Answers 400 as for an unknown image, as Glance hides another
 * project's private image, unless the caller may boot from @ref. */
gboolean
nlx_api_check_image_ref (NlxApiRequest *request,
                         const char *ref)
{
  NlxImageStore *store = nlx_manager_get_image_store (request->api->manager);
  g_autoptr(NlxStoredImage) stored = NULL;
  g_autofree char *message = NULL;

  if (nlx_api_get_caller (request) == NULL ||
      nlx_config_find_image (request->api->config, ref) != NULL)
    return TRUE;
  stored = nlx_image_store_lookup (store, ref, NULL);
  if (stored == NULL || nlx_api_may_see_image (request, stored->properties))
    return TRUE;
  message = g_strdup_printf (_("Image %s could not be found; see the image "
                               "list for what this host can boot"), ref);
  nlx_api_respond_fault (request, 400, message);
  return FALSE;
}

/* Whether the caller may see (list, show, boot from) a stored image with
 * @properties: an admin any; a member the host's images and its own
 * project's private ones (NLX_IMAGE_PROP_OWNER), as Glance's default
 * policy.  The images of nova-lxc.conf have no properties (%NULL) and
 * are the host's. */
gboolean
nlx_api_may_see_image (NlxApiRequest *request,
                       GHashTable *properties)
{
  const NlxApiIdentity *caller = nlx_api_get_caller (request);
  const char *visibility;

  if (caller == NULL || properties == NULL ||
      nlx_api_caller_is_admin (request))
    return TRUE;
  visibility = g_hash_table_lookup (properties, NLX_IMAGE_PROP_VISIBILITY);
  if (g_strcmp0 (visibility, "private") != 0)
    return TRUE;
  return g_strcmp0 (g_hash_table_lookup (properties, NLX_IMAGE_PROP_OWNER),
                    caller->project_id) == 0;
}

/**
 * nlx_api_may_delete_image:
 * @owner: (nullable): the image's owner project
 *
 * Glance's default policy for delete_image: "role:admin or (role:member
 * and project_id:%(owner)s)".  Without a Keystone identity (the static
 * token, the Unix socket) the caller is the operator.  An image without
 * an owner (imported by the operator) is the admin's alone.
 */
gboolean
nlx_api_may_delete_image (NlxApiRequest *request,
                          const char *owner)
{
  const NlxApiIdentity *caller = nlx_api_get_caller (request);

  if (caller == NULL || nlx_api_caller_is_admin (request))
    return TRUE;
  return owner != NULL && g_strcmp0 (caller->project_id, owner) == 0 &&
         caller->roles != NULL &&
         g_strv_contains ((const char * const *) caller->roles, "member");
}

/**
 * nlx_api_may_see_volume:
 * @owner: (nullable): the volume's owner project (NlxVolumeInfo's)
 *
 * Cinder's default policy: a volume is its project's; a member sees,
 * attaches and deletes its own project's only, an admin any.  A volume
 * without an owner (provisioned by the operator in the volume directory)
 * is the admin's alone.  Without a Keystone identity (the static token,
 * the Unix socket) the caller is the operator.
 */
gboolean
nlx_api_may_see_volume (NlxApiRequest *request,
                        const char *owner)
{
  const NlxApiIdentity *caller = nlx_api_get_caller (request);

  if (caller == NULL || nlx_api_caller_is_admin (request))
    return TRUE;
  return owner != NULL && g_strcmp0 (owner, caller->project_id) == 0;
}

/**
 * nlx_api_check_volume_ref:
 * @id: a volume id from the request
 *
 * Answers 404 with an unknown volume's error, word for word, unless the
 * caller may use volume @id (nlx_api_may_see_volume()).  An unknown @id
 * passes: the handler answers it as before, so both read the same.  A
 * volume that exists but cannot be read has no owner to show: no
 * member's either.
 *
 * Returns: %FALSE when it has answered
 */
gboolean
nlx_api_check_volume_ref (NlxApiRequest *request,
                          const char *id)
{
  NlxManager *manager = request->api->manager;
  g_autoptr(GError) error = NULL;
  g_autoptr(NlxVolumeInfo) info = NULL;

  if (nlx_api_get_caller (request) == NULL ||
      nlx_api_caller_is_admin (request))
    return TRUE;
  info = nlx_manager_get_volume (manager, id, &error);
  /* What cannot be a volume id, or names nothing, is refused as it
   * always was. */
  if (!nlx_volume_id_is_valid (id) ||
      (info == NULL &&
       g_error_matches (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_NOT_FOUND)))
    return TRUE;
  if (info != NULL && nlx_api_may_see_volume (request, info->owner))
    return TRUE;
  g_clear_error (&error);
  nlx_manager_set_volume_not_found (manager, id, &error);
  nlx_api_respond_error (request, error);
  return FALSE;
}
