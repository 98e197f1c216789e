/* nlx-keypair.c: SSH key pairs, as Nova's os-keypairs keeps them
 *
 * A key pair is a public key a user gave (or had generated) under a name;
 * a server created with it gets a copy of the public key (key_data), which
 * cloud-init puts in authorized_keys.  The checks here are the ones
 * OpenSSH would make of an authorized_keys line, so that a key the API
 * accepts is a key sshd reads: one line, a known type, base64 whose
 * decoded blob names the same type and holds that type's fields.
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

/* The fingerprint of @public_key (one OpenSSH line, without surrounding
 * blanks) as Nova gives it: the MD5 of the decoded blob, as
 * colon-separated lower-case hex; INVALID_ARGUMENT for no valid key. */
static char *
key_fingerprint (const char *public_key,
                 GError **error)
{
  gsize size;
  g_autofree guint8 *blob = parse_public_key (public_key, &size, error);
  g_autofree char *hex = NULL;
  GString *fingerprint;

  if (blob == NULL)
    return NULL;
  hex = g_compute_checksum_for_data (G_CHECKSUM_MD5, blob, size);
  fingerprint = g_string_new (NULL);
  for (gsize i = 0; hex[i] != '\0'; i += 2)
    {
      if (i > 0)
        g_string_append_c (fingerprint, ':');
      g_string_append_len (fingerprint, hex + i, 2);
    }
  return g_string_free (fingerprint, FALSE);
}

/**
 * nlx_keypair_new:
 * @user_id: the owner
 * @name: its name, see nlx_keypair_name_is_valid()
 * @public_key: an OpenSSH public key line; blanks around it (the final
 *   newline of a .pub file) are dropped
 * @error: #NLX_DRIVER_ERROR_INVALID_ARGUMENT for a bad name or key
 *
 * Returns: (transfer full): the key pair, created now, with no id yet
 */
NlxKeypair *
nlx_keypair_new (const char *user_id,
                 const char *name,
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
  keypair->fingerprint = key_fingerprint (keypair->public_key, error);
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
  copy->public_key = g_strdup (keypair->public_key);
  copy->fingerprint = g_strdup (keypair->fingerprint);
  copy->id = keypair->id;
  copy->created_at = g_date_time_ref (keypair->created_at);
  return copy;
}

/* ---- generating -------------------------------------------------------- */

/* Makes an RSA 2048 key pair with ssh-keygen, as Nova generates them
 * (PEM private key in @private_key, comment "Generated-by-Nova"), and
 * returns the public key line; FAILED when ssh-keygen is missing or
 * fails.  The private key passes through a 0700 temporary directory,
 * removed before this returns.  Blocks for ssh-keygen: call it in a
 * thread. */
static char *
keygen (char **private_key,
        GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("nlx-keygen-XXXXXX", &local_error);
  g_autofree char *path = NULL;
  g_autofree char *public_path = NULL;
  g_autofree char *errors = NULL;
  g_autofree char *secret = NULL;
  g_autofree char *public = NULL;
  g_autoptr(GSubprocess) process = NULL;
  gboolean ok = FALSE;

  if (dir == NULL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot generate a key pair: %s"), local_error->message);
      return NULL;
    }
  path = g_build_filename (dir, "key", NULL);
  public_path = g_strconcat (path, ".pub", NULL);
  process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                              G_SUBPROCESS_FLAGS_STDERR_PIPE, &local_error,
                              "ssh-keygen", "-q", "-t", "rsa", "-b", "2048",
                              "-m", "PEM", "-N", "",
                              "-C", NLX_KEYPAIR_GENERATED_COMMENT,
                              "-f", path, NULL);
  if (process == NULL)
    g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                 _("Cannot generate a key pair: ssh-keygen does not run "
                   "(%s); install openssh-client on the compute host, or "
                   "import a public key with “public_key”"),
                 local_error->message);
  else if (!g_subprocess_communicate_utf8 (process, NULL, NULL, NULL, &errors,
                                           &local_error) ||
           !g_subprocess_get_successful (process))
    g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                 _("Cannot generate a key pair: ssh-keygen failed: %s"),
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
  char *public_key;
  char *private_key;
} Generated;

static void
generated_free (Generated *generated)
{
  g_free (generated->public_key);
  if (generated->private_key != NULL)
    explicit_bzero (generated->private_key, strlen (generated->private_key));
  g_free (generated->private_key);
  g_free (generated);
}

static void
generate_in_thread (GTask *task,
                    gpointer source G_GNUC_UNUSED,
                    gpointer data G_GNUC_UNUSED,
                    GCancellable *cancellable G_GNUC_UNUSED)
{
  Generated *generated = g_new0 (Generated, 1);
  GError *error = NULL;

  generated->public_key = keygen (&generated->private_key,
                                                &error);
  if (generated->public_key == NULL)
    {
      generated_free (generated);
      g_task_return_error (task, error);
      return;
    }
  g_task_return_pointer (task, generated, (GDestroyNotify) generated_free);
}

/**
 * nlx_keypair_generate_async:
 *
 * keygen() in a thread; @callback runs in the caller's
 * thread-default main context.
 */
void
nlx_keypair_generate_async (GCancellable *cancellable,
                            GAsyncReadyCallback callback,
                            gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_source_tag (task, nlx_keypair_generate_async);
  g_task_run_in_thread (task, generate_in_thread);
}

/**
 * nlx_keypair_generate_finish:
 * @private_key: (out) (transfer full): the private key
 *
 * Returns: (transfer full): the public key line, or %NULL
 */
char *
nlx_keypair_generate_finish (GAsyncResult *result,
                             char **private_key,
                             GError **error)
{
  Generated *generated = g_task_propagate_pointer (G_TASK (result), error);
  char *public_key;

  if (generated == NULL)
    return NULL;
  public_key = g_steal_pointer (&generated->public_key);
  *private_key = g_steal_pointer (&generated->private_key);
  generated_free (generated);
  return public_key;
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
  const char *name, *user_id, *public_key, *created;
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
  id_node = json_object_get_member (object, "id");
  id = id_node != NULL && JSON_NODE_HOLDS_VALUE (id_node) &&
       json_node_get_value_type (id_node) == G_TYPE_INT64
       ? json_node_get_int (id_node) : 0;
  if (name == NULL || user_id == NULL || public_key == NULL ||
      created == NULL || id <= 0 ||
      !nlx_json_text_is_valid (user_id, NLX_KEYPAIR_USER_ID_MAX) ||
      (created_at = g_date_time_new_from_iso8601 (created, NULL)) == NULL)
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("a key pair needs “name”, “user_id”, “public_key”, "
                     "“created_at” (ISO 8601) and a positive “id”"));
      return NULL;
    }
  keypair = nlx_keypair_new (user_id, name, public_key, error);
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
