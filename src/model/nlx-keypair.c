/* nlx-keypair.c: key pairs, as Nova's os-keypairs keeps them
 *
 * A key pair is a public key a user gave (or had generated) under a name;
 * a server created with it gets a copy of the public key (key_data), which
 * cloud-init puts in authorized_keys.  The checks here are the ones
 * OpenSSH would make of an authorized_keys line, so that a key the API
 * accepts is a key sshd reads: one line, a known type, base64 whose
 * decoded blob names the same type and holds that type's fields.
 *
 * Nova's other type, x509 (2.2+), holds a PEM certificate instead, for
 * Windows guests (cloudbase-init maps it to a WinRM certificate login).
 * Its checks are structural: one PEM block whose DER is an X.509
 * Certificate's SEQUENCE (what Nova's parser would refuse, garbage or
 * a key in place of a certificate, is refused); the signature is not
 * verified, as Nova's self-signed ones need not be trusted by anyone.
 *
 * Every user's key pairs live in one small JSON file beside the instance
 * records; this module keeps them in memory and says what the file
 * should hold, and the manager has the store's writer write it. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <glib/gi18n-lib.h>

#include "common/nlx-error.h"
#include "common/nlx-file.h"
#include "common/nlx-json.h"
#include "model/nlx-instance.h"
#include "model/nlx-keypair.h"

void
nlx_keypair_free (NlxKeypair *keypair)
{
  if (keypair == NULL)
    return;
  g_free (keypair->name);
  g_free (keypair->user_id);
  g_free (keypair->public_key);
  g_free (keypair->fingerprint);
  g_clear_pointer (&keypair->created_at, g_date_time_unref);
  g_free (keypair);
}

/**
 * nlx_keypair_type_to_string:
 *
 * Returns: Nova's name of @type: "ssh" or "x509"
 */
const char *
nlx_keypair_type_to_string (NlxKeypairType type)
{
  return type == NLX_KEYPAIR_TYPE_X509 ? "x509" : "ssh";
}

/**
 * nlx_keypair_type_from_string:
 * @type: (out): the type @text names
 *
 * Returns: whether @text is "ssh" or "x509"
 */
gboolean
nlx_keypair_type_from_string (const char *text,
                              NlxKeypairType *type)
{
  if (g_str_equal (text, "ssh"))
    *type = NLX_KEYPAIR_TYPE_SSH;
  else if (g_str_equal (text, "x509"))
    *type = NLX_KEYPAIR_TYPE_X509;
  else
    return FALSE;
  return TRUE;
}

#define PEM_BEGIN "-----BEGIN CERTIFICATE-----"
#define PEM_END "-----END CERTIFICATE-----"

/**
 * nlx_keypair_type_of_public_key:
 * @public_key: a key pair's public key, or a server's copy of it
 *   (key_data), which does not keep the type
 *
 * No OpenSSH line starts as a PEM block does, so the text says which
 * type it is.
 *
 * Returns: x509 for a PEM certificate, else ssh
 */
NlxKeypairType
nlx_keypair_type_of_public_key (const char *public_key)
{
  return g_str_has_prefix (public_key, PEM_BEGIN) ? NLX_KEYPAIR_TYPE_X509
                                                  : NLX_KEYPAIR_TYPE_SSH;
}

/**
 * nlx_keypair_name_is_valid:
 * @name: a key pair name
 *
 * Nova's rule (2.92): 1 to 255 ASCII letters, digits, spaces, "_", "-",
 * "." and "@".  "." and ".." are refused too: a path cannot name them,
 * so they could be neither shown nor deleted.
 */
gboolean
nlx_keypair_name_is_valid (const char *name)
{
  gsize length = strlen (name);

  if (length == 0 || length > NLX_KEYPAIR_NAME_MAX ||
      g_str_equal (name, ".") || g_str_equal (name, ".."))
    return FALSE;
  for (const char *p = name; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && strchr (" _-.@", *p) == NULL)
      return FALSE;
  return TRUE;
}

/**
 * nlx_keypair_check_name:
 * @error: #NLX_DRIVER_ERROR_INVALID_ARGUMENT saying what a name may be
 *
 * Returns: whether nlx_keypair_name_is_valid() holds for @name
 */
gboolean
nlx_keypair_check_name (const char *name,
                        GError **error)
{
  if (nlx_keypair_name_is_valid (name))
    return TRUE;
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
               _("Keypair data is invalid: a key pair name is 1 to %d "
                 "letters, digits, spaces, “_”, “-”, “.” and “@”, got "
                 "“%s”"), NLX_KEYPAIR_NAME_MAX, name);
  return FALSE;
}

/* One length-prefixed string of an SSH key blob (RFC 4253 6.6). */
static gboolean
read_blob_string (const guint8 **p,
                  gsize *left,
                  const guint8 **value,
                  gsize *length)
{
  guint32 n;

  if (*left < 4)
    return FALSE;
  n = ((guint32) (*p)[0] << 24) | ((guint32) (*p)[1] << 16) |
      ((guint32) (*p)[2] << 8) | (guint32) (*p)[3];
  if (*left - 4 < n)
    return FALSE;
  *value = *p + 4;
  *length = n;
  *p += 4 + n;
  *left -= 4 + n;
  return TRUE;
}

static gboolean
blob_string_is (const guint8 *value,
                gsize length,
                const char *expected)
{
  return length == strlen (expected) && memcmp (value, expected, length) == 0;
}

/* Whether @blob is a public key of @type with that type's fields and
 * nothing after them. */
static gboolean
blob_is_valid (const char *type,
               const guint8 *blob,
               gsize size)
{
  const guint8 *p = blob, *value;
  gsize left = size, length;

  if (!read_blob_string (&p, &left, &value, &length) ||
      !blob_string_is (value, length, type))
    return FALSE;
  if (g_str_equal (type, "ssh-rsa"))
    {
      /* e, then n, both non-empty mpints */
      if (!read_blob_string (&p, &left, &value, &length) || length == 0 ||
          !read_blob_string (&p, &left, &value, &length) || length == 0)
        return FALSE;
    }
  else if (g_str_equal (type, "ssh-ed25519"))
    {
      if (!read_blob_string (&p, &left, &value, &length) || length != 32)
        return FALSE;
    }
  else
    {
      /* ecdsa-sha2-nistpN: the curve's name, then an uncompressed point */
      const char *curve = type + strlen ("ecdsa-sha2-");
      gsize coordinate = g_str_equal (curve, "nistp256") ? 32
                         : g_str_equal (curve, "nistp384") ? 48 : 66;

      if (!read_blob_string (&p, &left, &value, &length) ||
          !blob_string_is (value, length, curve) ||
          !read_blob_string (&p, &left, &value, &length) ||
          length != 1 + 2 * coordinate || value[0] != 0x04)
        return FALSE;
    }
  return left == 0;
}

/* Base64 as OpenSSH writes it: the standard alphabet, "=" padding at the
 * end only, a whole number of quads. */
static gboolean
base64_is_strict (const char *text,
                  gsize length)
{
  gsize padding = 0;

  if (length == 0 || length % 4 != 0)
    return FALSE;
  for (gsize i = 0; i < length; i++)
    {
      char c = text[i];

      if (c == '=')
        padding++;
      else if (padding > 0 ||
               !(g_ascii_isalnum (c) || c == '+' || c == '/'))
        return FALSE;
    }
  return padding <= 2;
}

/* Splits an authorized_keys line into its type and its base64 blob,
 * decoded and checked.  The comment, if any, is whatever follows. */
static guint8 *
parse_public_key (const char *line,
                  gsize *size,
                  GError **error)
{
  static const char * const types[] = {
    "ssh-rsa", "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521", NULL
  };
  const char *space = strchr (line, ' ');
  g_autofree char *type = NULL;
  g_autofree guint8 *blob = NULL;
  g_autofree char *encoded = NULL;
  const char *start, *end;

  if (!nlx_json_text_is_valid (line, NLX_KEYPAIR_PUBLIC_KEY_MAX) ||
      space == NULL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Keypair data is invalid: a public key is one OpenSSH "
                     "line “TYPE BASE64 [COMMENT]” of at most %d characters, "
                     "such as the contents of ~/.ssh/id_ed25519.pub"),
                   NLX_KEYPAIR_PUBLIC_KEY_MAX);
      return NULL;
    }
  type = g_strndup (line, space - line);
  if (!g_strv_contains (types, type))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Keypair data is invalid: key type “%s” is not one of "
                     "ssh-rsa, ssh-ed25519, ecdsa-sha2-nistp256, "
                     "ecdsa-sha2-nistp384 and ecdsa-sha2-nistp521"), type);
      return NULL;
    }
  for (start = space; *start == ' '; start++)
    ;
  end = strchr (start, ' ');
  if (end == NULL)
    end = start + strlen (start);
  encoded = g_strndup (start, end - start);
  if (base64_is_strict (encoded, end - start))
    blob = g_base64_decode (encoded, size);
  if (blob == NULL || !blob_is_valid (type, blob, *size))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Keypair data is invalid: the second field of the "
                     "public key is not the base64 of a %s key; copy the "
                     "whole line of the .pub file"), type);
      return NULL;
    }
  return g_steal_pointer (&blob);
}

/* @data's @type checksum as colon-separated lower-case hex. */
static char *
colon_checksum (GChecksumType type,
                const guint8 *data,
                gsize size)
{
  g_autofree char *hex = g_compute_checksum_for_data (type, data, size);
  GString *fingerprint = g_string_new (NULL);

  for (gsize i = 0; hex[i] != '\0'; i += 2)
    {
      if (i > 0)
        g_string_append_c (fingerprint, ':');
      g_string_append_len (fingerprint, hex + i, 2);
    }
  return g_string_free (fingerprint, FALSE);
}

/* The fingerprint of @public_key (one OpenSSH line, without surrounding
 * blanks) as Nova gives it: the MD5 of the decoded blob, as
 * colon-separated lower-case hex; INVALID_ARGUMENT for no valid key. */
static char *
key_fingerprint (const char *public_key,
                 GError **error)
{
  gsize size;
  g_autofree guint8 *blob = parse_public_key (public_key, &size, error);

  if (blob == NULL)
    return NULL;
  return colon_checksum (G_CHECKSUM_MD5, blob, size);
}

/**
 * nlx_keypair_check_public_key:
 * @public_key: an OpenSSH public key line, without surrounding blanks
 * @error: #NLX_DRIVER_ERROR_INVALID_ARGUMENT saying what is wrong with it,
 *   as a key pair's import says
 *
 * For a public key that comes without a key pair of this daemon's (the
 * driver API's key_data, Nova's copy of the instance's key): the same
 * check as nlx_keypair_new() makes of an ssh key pair's key.
 *
 * Returns: whether @public_key is one an ssh key pair may hold
 */
gboolean
nlx_keypair_check_public_key (const char *public_key,
                              GError **error)
{
  g_autofree char *fingerprint = key_fingerprint (public_key, error);

  return fingerprint != NULL;
}

/* ---- x509 certificates ------------------------------------------------- */

/* One DER element at *@p: its tag, and its contents in @value/@length;
 * *@p moves past it.  Lengths of up to 4 bytes (a certificate is not
 * bigger than NLX_KEYPAIR_PUBLIC_KEY_MAX anyway). */
static gboolean
read_der (const guint8 **p,
          gsize *left,
          guint8 *tag,
          const guint8 **value,
          gsize *length)
{
  gsize n, header = 2;

  if (*left < 2)
    return FALSE;
  *tag = (*p)[0];
  n = (*p)[1];
  if (n & 0x80)
    {
      gsize bytes = n & 0x7f;

      if (bytes == 0 || bytes > 4 || *left < 2 + bytes)
        return FALSE;
      n = 0;
      for (gsize i = 0; i < bytes; i++)
        n = (n << 8) | (*p)[2 + i];
      header += bytes;
    }
  if (*left - header < n)
    return FALSE;
  *value = *p + header;
  *length = n;
  *p += header + n;
  *left -= header + n;
  return TRUE;
}

/* Whether @der is an X.509 Certificate (RFC 5280 4.1): a SEQUENCE of
 * tbsCertificate, signatureAlgorithm and a BIT STRING signature, and
 * nothing after it; tbsCertificate holds [0] version (optional), an
 * INTEGER serial, then the SEQUENCEs signature, issuer, validity,
 * subject and subjectPublicKeyInfo. */
static gboolean
der_is_certificate (const guint8 *der,
                    gsize size)
{
  static const guint8 tbs_tags[] = { 0x02, 0x30, 0x30, 0x30, 0x30, 0x30 };
  const guint8 *p = der, *certificate, *tbs, *value;
  gsize left = size, certificate_left, tbs_left, length;
  guint8 tag;

  if (!read_der (&p, &left, &tag, &certificate, &certificate_left) ||
      tag != 0x30 || left != 0)
    return FALSE;
  p = certificate;
  left = certificate_left;
  if (!read_der (&p, &left, &tag, &tbs, &tbs_left) || tag != 0x30 ||
      !read_der (&p, &left, &tag, &value, &length) || tag != 0x30 ||
      !read_der (&p, &left, &tag, &value, &length) || tag != 0x03 ||
      length == 0 || left != 0)
    return FALSE;
  p = tbs;
  left = tbs_left;
  if (left > 0 && p[0] == 0xa0 &&
      !read_der (&p, &left, &tag, &value, &length))
    return FALSE;
  for (gsize i = 0; i < G_N_ELEMENTS (tbs_tags); i++)
    if (!read_der (&p, &left, &tag, &value, &length) || tag != tbs_tags[i] ||
        length == 0)
      return FALSE;
  return TRUE;
}

/* The DER of @pem: one "CERTIFICATE" PEM block (lines of base64 between
 * its BEGIN and END lines) and nothing else; INVALID_ARGUMENT otherwise. */
static guint8 *
parse_certificate (const char *pem,
                   gsize *size,
                   GError **error)
{
  g_autoptr(GString) encoded = g_string_new (NULL);
  g_autofree guint8 *der = NULL;
  const char *body, *end;

  if (g_utf8_strlen (pem, -1) <= NLX_KEYPAIR_PUBLIC_KEY_MAX &&
      g_str_has_prefix (pem, PEM_BEGIN) && g_str_has_suffix (pem, PEM_END) &&
      strlen (pem) > strlen (PEM_BEGIN) + strlen (PEM_END))
    {
      body = pem + strlen (PEM_BEGIN);
      end = pem + strlen (pem) - strlen (PEM_END);
      for (const char *p = body; p < end; p++)
        if (*p == '\n' || *p == '\r' || *p == ' ' || *p == '\t')
          continue;
        else
          g_string_append_c (encoded, *p);
      if (base64_is_strict (encoded->str, encoded->len))
        der = g_base64_decode (encoded->str, size);
    }
  if (der == NULL || !der_is_certificate (der, *size))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Keypair data is invalid: an x509 key pair's public "
                     "key is one PEM certificate, “%s” … “%s”, of at most "
                     "%d characters, such as the output of “openssl req "
                     "-x509”"), PEM_BEGIN, PEM_END,
                   NLX_KEYPAIR_PUBLIC_KEY_MAX);
      return NULL;
    }
  return g_steal_pointer (&der);
}

/* Nova's x509 fingerprint: the SHA-1 of the certificate's DER (what
 * “openssl x509 -fingerprint -sha1” shows, in lower case). */
static char *
certificate_fingerprint (const char *pem,
                         GError **error)
{
  gsize size;
  g_autofree guint8 *der = parse_certificate (pem, &size, error);

  if (der == NULL)
    return NULL;
  return colon_checksum (G_CHECKSUM_SHA1, der, size);
}

/**
 * nlx_keypair_new:
 * @user_id: the owner
 * @name: its name, see nlx_keypair_name_is_valid()
 * @type: what @public_key is
 * @public_key: ssh: an OpenSSH public key line; x509: a PEM certificate;
 *   blanks around it (the final newline of a .pub file) are dropped
 * @error: #NLX_DRIVER_ERROR_INVALID_ARGUMENT for a bad name or key
 *
 * Returns: (transfer full): the key pair, created now, with no id yet
 */
NlxKeypair *
nlx_keypair_new (const char *user_id,
                 const char *name,
                 NlxKeypairType type,
                 const char *public_key,
                 GError **error)
{
  g_autoptr(NlxKeypair) keypair = g_new0 (NlxKeypair, 1);

  if (!nlx_keypair_check_name (name, error))
    return NULL;
  /* The file keeps it, and a file the loader refuses stops the daemon. */
  if (!nlx_json_text_is_valid (user_id, NLX_KEYPAIR_USER_ID_MAX))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Keypair data is invalid: the user id (X-User-Id) must "
                     "be 1 to %d characters without control characters"),
                   NLX_KEYPAIR_USER_ID_MAX);
      return NULL;
    }
  keypair->public_key = g_strstrip (g_strdup (public_key));
  keypair->type = type;
  keypair->fingerprint =
    type == NLX_KEYPAIR_TYPE_X509
    ? certificate_fingerprint (keypair->public_key, error)
    : key_fingerprint (keypair->public_key, error);
  if (keypair->fingerprint == NULL)
    return NULL;
  keypair->name = g_strdup (name);
  keypair->user_id = g_strdup (user_id);
  keypair->created_at = g_date_time_new_now_utc ();
  return g_steal_pointer (&keypair);
}

NlxKeypair *
nlx_keypair_copy (const NlxKeypair *keypair)
{
  NlxKeypair *copy = g_new0 (NlxKeypair, 1);

  copy->name = g_strdup (keypair->name);
  copy->user_id = g_strdup (keypair->user_id);
  copy->type = keypair->type;
  copy->public_key = g_strdup (keypair->public_key);
  copy->fingerprint = g_strdup (keypair->fingerprint);
  copy->id = keypair->id;
  copy->created_at = g_date_time_ref (keypair->created_at);
  return copy;
}

/* ---- generating -------------------------------------------------------- */

/* The -subj of an x509 key pair's certificate: CN=@user_id, as Nova's,
 * with the characters openssl's -subj syntax gives a meaning escaped. */
static char *
certificate_subject (const char *user_id)
{
  GString *subject = g_string_new ("/CN=");

  for (const char *p = user_id; *p != '\0'; p++)
    {
      if (strchr ("\\/+=,", *p) != NULL)
        g_string_append_c (subject, '\\');
      g_string_append_c (subject, *p);
    }
  return g_string_free (subject, FALSE);
}

/* Makes an RSA 2048 key pair, as Nova generates them, and returns its
 * public half: for ssh with ssh-keygen (PEM private key, public key line
 * with comment "Generated-by-Nova"); for x509 with openssl, a
 * self-signed certificate for @user_id valid for 10 years, for client
 * authentication (WinRM), and its PKCS #8 PEM private key.  FAILED when
 * the tool is missing or fails.  The private key passes through a 0700
 * temporary directory, removed before this returns.  Blocks for the
 * tool: call it in a thread. */
static char *
keygen (NlxKeypairType type,
        const char *user_id,
        char **private_key,
        GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("nlx-keygen-XXXXXX", &local_error);
  g_autofree char *path = NULL;
  g_autofree char *public_path = NULL;
  g_autofree char *subject = NULL;
  g_autofree char *errors = NULL;
  g_autofree char *secret = NULL;
  g_autofree char *public = NULL;
  g_autoptr(GSubprocess) process = NULL;
  const char *tool, *package;
  gboolean ok = FALSE;

  if (dir == NULL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot generate a key pair: %s"), local_error->message);
      return NULL;
    }
  path = g_build_filename (dir, "key", NULL);
  if (type == NLX_KEYPAIR_TYPE_X509)
    {
      tool = "openssl";
      package = "openssl";
      public_path = g_build_filename (dir, "cert.pem", NULL);
      subject = certificate_subject (user_id);
      process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                  G_SUBPROCESS_FLAGS_STDERR_PIPE,
                                  &local_error,
                                  "openssl", "req", "-x509", "-newkey",
                                  "rsa:2048", "-nodes", "-days", "3650",
                                  "-subj", subject,
                                  "-addext", "extendedKeyUsage=clientAuth",
                                  "-keyout", path, "-out", public_path, NULL);
    }
  else
    {
      tool = "ssh-keygen";
      package = "openssh-client";
      public_path = g_strconcat (path, ".pub", NULL);
      process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                  G_SUBPROCESS_FLAGS_STDERR_PIPE,
                                  &local_error,
                                  "ssh-keygen", "-q", "-t", "rsa", "-b", "2048",
                                  "-m", "PEM", "-N", "",
                                  "-C", NLX_KEYPAIR_GENERATED_COMMENT,
                                  "-f", path, NULL);
    }
  if (process == NULL)
    g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                 _("Cannot generate a key pair: %s does not run "
                   "(%s); install %s on the compute host, or "
                   "import a public key with “public_key”"),
                 tool, local_error->message, package);
  else if (!g_subprocess_communicate_utf8 (process, NULL, NULL, NULL, &errors,
                                           &local_error) ||
           !g_subprocess_get_successful (process))
    g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                 _("Cannot generate a key pair: %s failed: %s"), tool,
                 local_error ? local_error->message
                             : g_strstrip (errors ? errors : g_strdup ("")));
  else if (!nlx_file_get_contents (path, &secret, NULL, &local_error) ||
           !nlx_file_get_contents (public_path, &public, NULL, &local_error))
    g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                 _("Cannot generate a key pair: %s"), local_error->message);
  else
    ok = TRUE;
  /* The private key is the caller's alone: nothing of it stays here. */
  if (!nlx_file_remove_tree (dir, &local_error))
    g_warning ("%s", local_error->message);
  if (!ok)
    return NULL;
  *private_key = g_steal_pointer (&secret);
  return g_strstrip (g_steal_pointer (&public));
}

typedef struct {
  NlxKeypairType type;
  char *user_id;
  char *public_key;
  char *private_key;
} Generated;

static void
generated_free (Generated *generated)
{
  g_free (generated->user_id);
  g_free (generated->public_key);
  if (generated->private_key != NULL)
    explicit_bzero (generated->private_key, strlen (generated->private_key));
  g_free (generated->private_key);
  g_free (generated);
}

static void
generate_in_thread (GTask *task,
                    gpointer source G_GNUC_UNUSED,
                    gpointer data,
                    GCancellable *cancellable G_GNUC_UNUSED)
{
  Generated *generated = data;
  GError *error = NULL;

  generated->public_key = keygen (generated->type, generated->user_id,
                                  &generated->private_key, &error);
  if (generated->public_key == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

/**
 * nlx_keypair_generate_async:
 * @type: which kind of key pair
 * @user_id: its owner (an x509 certificate's subject)
 *
 * keygen() in a thread; @callback runs in the caller's
 * thread-default main context.
 */
void
nlx_keypair_generate_async (NlxKeypairType type,
                            const char *user_id,
                            GCancellable *cancellable,
                            GAsyncReadyCallback callback,
                            gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  Generated *generated = g_new0 (Generated, 1);

  generated->type = type;
  generated->user_id = g_strdup (user_id);
  g_task_set_source_tag (task, nlx_keypair_generate_async);
  g_task_set_task_data (task, generated, (GDestroyNotify) generated_free);
  g_task_run_in_thread (task, generate_in_thread);
}

/**
 * nlx_keypair_generate_finish:
 * @private_key: (out) (transfer full): the private key
 *
 * Returns: (transfer full): the public key (a line, or a certificate),
 *   or %NULL
 */
char *
nlx_keypair_generate_finish (GAsyncResult *result,
                             char **private_key,
                             GError **error)
{
  Generated *generated = g_task_get_task_data (G_TASK (result));

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return NULL;
  *private_key = g_steal_pointer (&generated->private_key);
  return g_steal_pointer (&generated->public_key);
}

/* ---- every user's key pairs -------------------------------------------- */

struct _NlxKeypairs {
  char *path;
  GHashTable *table;            /* "USER\nNAME" -> NlxKeypair */
  guint64 next_id;
};

/* A user id comes from an HTTP header, which holds no newline. */
static char *
table_key (const char *user_id,
           const char *name)
{
  return g_strconcat (user_id, "\n", name, NULL);
}

static NlxKeypairs *
keypairs_new (const char *path)
{
  NlxKeypairs *keypairs = g_new0 (NlxKeypairs, 1);

  keypairs->path = g_strdup (path);
  keypairs->table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                           (GDestroyNotify) nlx_keypair_free);
  keypairs->next_id = 1;
  return keypairs;
}

void
nlx_keypairs_free (NlxKeypairs *keypairs)
{
  if (keypairs == NULL)
    return;
  g_free (keypairs->path);
  g_hash_table_unref (keypairs->table);
  g_free (keypairs);
}

const char *
nlx_keypairs_get_path (NlxKeypairs *keypairs)
{
  return keypairs->path;
}

/* One member of the file, read with the checks of an import. */
static NlxKeypair *
read_keypair (JsonNode *node,
              GError **error)
{
  JsonObject *object;
  const char *name, *user_id, *public_key, *created, *type_name;
  NlxKeypairType type = NLX_KEYPAIR_TYPE_SSH;
  g_autoptr(NlxKeypair) keypair = NULL;
  g_autoptr(GDateTime) created_at = NULL;
  JsonNode *id_node;
  gint64 id;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    return NULL;
  object = json_node_get_object (node);
  name = nlx_json_get_string (object, "name");
  user_id = nlx_json_get_string (object, "user_id");
  public_key = nlx_json_get_string (object, "public_key");
  created = nlx_json_get_string (object, "created_at");
  /* Files written before x509 key pairs have no type: all ssh. */
  type_name = nlx_json_get_string (object, "type");
  id_node = json_object_get_member (object, "id");
  id = id_node != NULL && JSON_NODE_HOLDS_VALUE (id_node) &&
       json_node_get_value_type (id_node) == G_TYPE_INT64
       ? json_node_get_int (id_node) : 0;
  if (name == NULL || user_id == NULL || public_key == NULL ||
      created == NULL || id <= 0 ||
      (json_object_has_member (object, "type") &&
       (type_name == NULL || !nlx_keypair_type_from_string (type_name,
                                                            &type))) ||
      !nlx_json_text_is_valid (user_id, NLX_KEYPAIR_USER_ID_MAX) ||
      (created_at = g_date_time_new_from_iso8601 (created, NULL)) == NULL)
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("a key pair needs “name”, “user_id”, “public_key”, "
                     "“created_at” (ISO 8601), a positive “id” and, if "
                     "any, a “type” of “ssh” or “x509”"));
      return NULL;
    }
  keypair = nlx_keypair_new (user_id, name, type, public_key, error);
  if (keypair == NULL)
    return NULL;
  keypair->id = id;
  g_date_time_unref (keypair->created_at);
  keypair->created_at = g_steal_pointer (&created_at);
  return g_steal_pointer (&keypair);
}

/**
 * nlx_keypairs_load:
 * @path: the key pairs' file; missing means none
 * @error: a #G_FILE_ERROR, or #NLX_MODEL_ERROR_INVALID naming @path when
 *   it is not what nlx_keypairs_to_data() writes
 *
 * Returns: (transfer full): the key pairs
 */
NlxKeypairs *
nlx_keypairs_load (const char *path,
                   GError **error)
{
  g_autoptr(NlxKeypairs) keypairs = keypairs_new (path);
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GError) local_error = NULL;
  JsonObject *object;
  JsonArray *array;

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    return g_steal_pointer (&keypairs);
  root = nlx_json_parse_file (path, &local_error);
  if (root != NULL && JSON_NODE_HOLDS_OBJECT (root) &&
      json_object_has_member (object = json_node_get_object (root),
                              "keypairs") &&
      JSON_NODE_HOLDS_ARRAY (json_object_get_member (object, "keypairs")))
    {
      array = json_object_get_array_member (object, "keypairs");
      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          NlxKeypair *keypair = read_keypair (json_array_get_element (array, i),
                                              &local_error);

          if (keypair == NULL)
            {
              if (local_error == NULL)
                g_set_error (&local_error, NLX_MODEL_ERROR,
                             NLX_MODEL_ERROR_INVALID,
                             _("key pair %u is not an object"), i);
              break;
            }
          keypairs->next_id = MAX (keypairs->next_id, keypair->id + 1);
          if (nlx_keypairs_add (keypairs, keypair, &local_error) == NULL)
            break;
        }
    }
  else if (local_error == NULL)
    g_set_error (&local_error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                 _("it is not an object with a “keypairs” list"));
  if (local_error != NULL)
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("Cannot read the key pairs in %s: %s; repair the file, "
                     "or move it aside to start without key pairs"),
                   path, local_error->message);
      return NULL;
    }
  return g_steal_pointer (&keypairs);
}

const NlxKeypair *
nlx_keypairs_lookup (NlxKeypairs *keypairs,
                     const char *user_id,
                     const char *name)
{
  g_autofree char *key = table_key (user_id, name);

  return g_hash_table_lookup (keypairs->table, key);
}

static gint
compare_names (gconstpointer a,
               gconstpointer b)
{
  const NlxKeypair *x = *(const NlxKeypair * const *) a;
  const NlxKeypair *y = *(const NlxKeypair * const *) b;

  return strcmp (x->name, y->name);
}

static gint
compare_ids (gconstpointer a,
             gconstpointer b)
{
  const NlxKeypair *x = *(const NlxKeypair * const *) a;
  const NlxKeypair *y = *(const NlxKeypair * const *) b;

  return x->id < y->id ? -1 : x->id > y->id;
}

/**
 * nlx_keypairs_list:
 * @user_id: whose
 *
 * Returns: (transfer container) (element-type NlxKeypair): @user_id's key
 *   pairs, by name; they belong to @keypairs
 */
GPtrArray *
nlx_keypairs_list (NlxKeypairs *keypairs,
                   const char *user_id)
{
  GPtrArray *list = g_ptr_array_new ();
  GHashTableIter iter;
  NlxKeypair *keypair;

  g_hash_table_iter_init (&iter, keypairs->table);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &keypair))
    if (g_str_equal (keypair->user_id, user_id))
      g_ptr_array_add (list, keypair);
  g_ptr_array_sort (list, compare_names);
  return list;
}

/**
 * nlx_keypairs_add:
 * @keypair: (transfer full): a key pair; given an id if it has none
 * @error: #NLX_DRIVER_ERROR_EXISTS when its user has one of that name
 *
 * Returns: (transfer none): @keypair, now kept, or %NULL
 */
const NlxKeypair *
nlx_keypairs_add (NlxKeypairs *keypairs,
                  NlxKeypair *keypair,
                  GError **error)
{
  g_autoptr(NlxKeypair) owned = keypair;
  char *key = table_key (keypair->user_id, keypair->name);

  if (g_hash_table_contains (keypairs->table, key))
    {
      g_free (key);
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_EXISTS,
                   _("Key pair '%s' already exists."), keypair->name);
      return NULL;
    }
  if (keypair->id == 0)
    keypair->id = keypairs->next_id++;
  g_hash_table_insert (keypairs->table, key, g_steal_pointer (&owned));
  return keypair;
}

/**
 * nlx_keypairs_remove:
 *
 * Returns: (transfer full) (nullable): the key pair taken out, or %NULL
 *   when @user_id has none of that name
 */
NlxKeypair *
nlx_keypairs_remove (NlxKeypairs *keypairs,
                     const char *user_id,
                     const char *name)
{
  g_autofree char *key = table_key (user_id, name);
  gpointer stolen_key = NULL, keypair = NULL;

  if (!g_hash_table_steal_extended (keypairs->table, key, &stolen_key,
                                    &keypair))
    return NULL;
  g_free (stolen_key);
  return keypair;
}

/**
 * nlx_keypairs_to_data:
 *
 * Returns: (transfer full): what the file holds, which
 *   nlx_keypairs_load() reads back
 */
char *
nlx_keypairs_to_data (NlxKeypairs *keypairs)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GPtrArray) all = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, keypairs->table);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (all, value);
  g_ptr_array_sort (all, compare_ids);
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "keypairs");
  json_builder_begin_array (builder);
  for (guint i = 0; i < all->len; i++)
    {
      const NlxKeypair *keypair = all->pdata[i];
      g_autofree char *created = nlx_time_to_string (keypair->created_at);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "id");
      json_builder_add_int_value (builder, keypair->id);
      json_builder_set_member_name (builder, "user_id");
      json_builder_add_string_value (builder, keypair->user_id);
      json_builder_set_member_name (builder, "name");
      json_builder_add_string_value (builder, keypair->name);
      json_builder_set_member_name (builder, "type");
      json_builder_add_string_value (builder,
                                     nlx_keypair_type_to_string (keypair->type));
      json_builder_set_member_name (builder, "public_key");
      json_builder_add_string_value (builder, keypair->public_key);
      json_builder_set_member_name (builder, "created_at");
      json_builder_add_string_value (builder, created);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  return json_to_string (root, TRUE);
}
