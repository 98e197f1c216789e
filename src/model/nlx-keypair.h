/* nlx-keypair.h: SSH key pairs, as Nova's os-keypairs keeps them */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Nova's key pair names: 1 to 255 of these characters. */
#define NLX_KEYPAIR_NAME_MAX 255
/* As an instance's user_id. */
#define NLX_KEYPAIR_USER_ID_MAX 255
/* The longest public key line kept (as NLX_KEY_DATA_MAX). */
#define NLX_KEYPAIR_PUBLIC_KEY_MAX 16384
/* The comment Nova gives the keys it generates. */
#define NLX_KEYPAIR_GENERATED_COMMENT "Generated-by-Nova"

/**
 * NlxKeypairType:
 * @NLX_KEYPAIR_TYPE_SSH: an OpenSSH public key ("ssh")
 * @NLX_KEYPAIR_TYPE_X509: a PEM X.509 certificate ("x509", Nova's key
 *   pairs for Windows guests' WinRM certificate login)
 *
 * Nova's key pair types (shown from microversion 2.2).
 */
typedef enum {
  NLX_KEYPAIR_TYPE_SSH,
  NLX_KEYPAIR_TYPE_X509,
} NlxKeypairType;

/**
 * NlxKeypair:
 * @name: the name, unique per user
 * @user_id: the user who owns it
 * @type: ssh or x509
 * @public_key: ssh: one OpenSSH line, "TYPE BASE64 [COMMENT]", as
 *   imported; x509: one PEM certificate
 * @fingerprint: ssh: MD5 of the key's blob; x509: SHA-1 of the
 *   certificate's DER; colon-separated lower-case hex, as Nova's
 * @id: a number unique on this host, as Nova's database id
 * @created_at: when it was created, UTC
 *
 * A key pair's public half; the private half of a generated key pair is
 * handed to the caller once and never kept.
 */
typedef struct {
  char *name;
  char *user_id;
  NlxKeypairType type;
  char *public_key;
  char *fingerprint;
  guint64 id;
  GDateTime *created_at;
} NlxKeypair;

void nlx_keypair_free (NlxKeypair *keypair);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NlxKeypair, nlx_keypair_free)

const char *nlx_keypair_type_to_string (NlxKeypairType type);
gboolean nlx_keypair_type_from_string (const char *text,
                                       NlxKeypairType *type);
NlxKeypairType nlx_keypair_type_of_public_key (const char *public_key);

gboolean nlx_keypair_name_is_valid (const char *name);
gboolean nlx_keypair_check_public_key (const char *public_key,
                                       GError **error);
gboolean nlx_keypair_check_name (const char *name,
                                 GError **error);
NlxKeypair *nlx_keypair_new (const char *user_id,
                             const char *name,
                             NlxKeypairType type,
                             const char *public_key,
                             GError **error);
NlxKeypair *nlx_keypair_copy (const NlxKeypair *keypair);

void nlx_keypair_generate_async (NlxKeypairType type,
                                 const char *user_id,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data);
char *nlx_keypair_generate_finish (GAsyncResult *result,
                                   char **private_key,
                                   GError **error);

/**
 * NlxKeypairs:
 *
 * Every user's key pairs, kept in memory and written as one JSON file
 * (nlx_keypairs_to_data()) by the caller.
 */
typedef struct _NlxKeypairs NlxKeypairs;

NlxKeypairs *nlx_keypairs_load (const char *path,
                                GError **error);
void nlx_keypairs_free (NlxKeypairs *keypairs);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NlxKeypairs, nlx_keypairs_free)
const char *nlx_keypairs_get_path (NlxKeypairs *keypairs);
const NlxKeypair *nlx_keypairs_lookup (NlxKeypairs *keypairs,
                                       const char *user_id,
                                       const char *name);
GPtrArray *nlx_keypairs_list (NlxKeypairs *keypairs,
                              const char *user_id);
const NlxKeypair *nlx_keypairs_add (NlxKeypairs *keypairs,
                                    NlxKeypair *keypair,
                                    GError **error);
NlxKeypair *nlx_keypairs_remove (NlxKeypairs *keypairs,
                                 const char *user_id,
                                 const char *name);
char *nlx_keypairs_to_data (NlxKeypairs *keypairs);

G_END_DECLS
