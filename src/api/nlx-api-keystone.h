/* nlx-api-keystone.h: [api] auth_strategy = keystone: who the caller is,
 * from a Keystone v3 token, and Nova's default policy on it */
#pragma once

#include <gio/gio.h>

#include "api/nlx-api-private.h"

G_BEGIN_DECLS

#define NLX_API_KEYSTONE_ERROR (nlx_api_keystone_error_quark ())
GQuark nlx_api_keystone_error_quark (void);

typedef enum {
  /* The caller's token: missing, unknown, expired or not project-scoped
   * (401). */
  NLX_API_KEYSTONE_ERROR_INVALID_TOKEN,
  /* Keystone cannot be reached or refuses the daemon's own credentials
   * (503: the caller may try again; the operator must look). */
  NLX_API_KEYSTONE_ERROR_UNAVAILABLE,
} NlxApiKeystoneError;

/* What a valid token says of its holder. */
typedef struct {
  char *user_id;
  char *project_id;
  GStrv roles;
  gint64 expires;               /* g_get_real_time(): cached until then */
} NlxApiIdentity;

void nlx_api_identity_free (NlxApiIdentity *identity);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NlxApiIdentity, nlx_api_identity_free)

typedef struct _NlxApiKeystone NlxApiKeystone;

NlxApiKeystone *nlx_api_keystone_new (const NlxConfig *config);
void nlx_api_keystone_free (NlxApiKeystone *keystone);
void nlx_api_keystone_validate_async (NlxApiKeystone *keystone,
                                      const char *token,
                                      GAsyncReadyCallback callback,
                                      gpointer data);
NlxApiIdentity *nlx_api_keystone_validate_finish (GAsyncResult *result,
                                                  GError **error);

/* The policy, for handlers.  Without a Keystone identity (token mode,
 * or the Unix socket, whose permissions say who may connect) the caller
 * may do anything, as before. */
void nlx_api_set_caller (NlxApiRequest *request,
                         NlxApiIdentity *identity);
const NlxApiIdentity *nlx_api_get_caller (NlxApiRequest *request);
gboolean nlx_api_caller_is_admin (NlxApiRequest *request);
gboolean nlx_api_require_admin (NlxApiRequest *request);
gboolean nlx_api_list_scope (NlxApiRequest *request,
                             const char **project_id);
gboolean nlx_api_check_image_ref (NlxApiRequest *request,
                                  const char *ref);
gboolean nlx_api_may_delete_image (NlxApiRequest *request,
                                   const char *owner);
gboolean nlx_api_may_see_image (NlxApiRequest *request,
                                GHashTable *properties);
gboolean nlx_api_may_see_volume (NlxApiRequest *request,
                                 const char *owner);
gboolean nlx_api_check_volume_ref (NlxApiRequest *request,
                                   const char *id);
gboolean nlx_api_may_see_server (NlxApiRequest *request,
                                 const char *uuid);

G_END_DECLS
