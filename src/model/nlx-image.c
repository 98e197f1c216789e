/* nlx-image.c: the image an instance's root filesystem comes from */
#include "config.h"

#include <string.h>

#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "common/nlx-error.h"
#include "model/nlx-image.h"

#define CHECKSUM_LENGTH 64

/**
 * nlx_image_new_from_path:
 * @id: the image reference
 * @path: a directory (used as the root tree) or a regular file (a root
 *   tarball)
 * @error: return location for a #NLX_DRIVER_ERROR_INVALID_ARGUMENT
 *
 * Returns: (transfer full): the image, or %NULL if @path is neither
 */
NlxImage *
nlx_image_new_from_path (const char *id,
                         const char *path,
                         GError **error)
{
  g_autoptr(NlxImage) image = g_new0 (NlxImage, 1);
  GStatBuf st;

  if (g_stat (path, &st) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Image “%s”: cannot use root filesystem “%s”: %s"),
                   id, path, g_strerror (saved_errno));
      return NULL;
    }
  if (S_ISDIR (st.st_mode))
    image->format = NLX_IMAGE_FORMAT_DIRECTORY;
  else if (S_ISREG (st.st_mode))
    image->format = NLX_IMAGE_FORMAT_TARBALL;
  else
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Image “%s”: “%s” is neither a directory nor a root "
                     "tarball"), id, path);
      return NULL;
    }

  image->id = g_strdup (id);
  image->path = g_canonicalize_filename (path, NULL);
  image->properties = g_hash_table_new_full (g_str_hash, g_str_equal,
                                             g_free, g_free);
  return g_steal_pointer (&image);
}

void
nlx_image_free (NlxImage *image)
{
  if (image == NULL)
    return;
  g_free (image->id);
  g_free (image->path);
  g_clear_pointer (&image->properties, g_hash_table_unref);
  g_free (image);
}

void
nlx_image_set_property (NlxImage *image,
                        const char *key,
                        const char *value)
{
  g_hash_table_replace (image->properties, g_strdup (key), g_strdup (value));
}

const char *
nlx_image_get_property (const NlxImage *image,
                        const char *key)
{
  return g_hash_table_lookup (image->properties, key);
}

/* Whether @text is a SHA-256 in hexadecimal: 64 lowercase digits. */
gboolean
nlx_image_checksum_is_valid (const char *text)
{
  gsize i;

  if (text == NULL)
    return FALSE;
  for (i = 0; text[i] != '\0'; i++)
    if (i >= CHECKSUM_LENGTH || !g_ascii_isxdigit (text[i]) ||
        g_ascii_isupper (text[i]))
      return FALSE;
  return i == CHECKSUM_LENGTH;
}

/* The rules names had before ids could be UUIDs: what a record in the
 * image store may hold. */
gboolean
nlx_image_name_is_valid_for_record (const char *name)
{
  gsize len;

  if (name == NULL || !g_ascii_isalnum (name[0]) ||
      nlx_image_checksum_is_valid (name))
    return FALSE;
  len = strlen (name);
  if (len > NLX_IMAGE_NAME_MAX)
    return FALSE;
  for (gsize i = 1; i < len; i++)
    if (!g_ascii_isalnum (name[i]) && name[i] != '.' && name[i] != '_' &&
        name[i] != '-')
      return FALSE;
  return TRUE;
}

/**
 * nlx_image_name_is_valid:
 * @name: (nullable): an image name
 *
 * Returns: whether @name can name a new image: 1 to %NLX_IMAGE_NAME_MAX
 *   of letters, digits, '.', '_' and '-', the first a letter or digit,
 *   and neither 64 lowercase hexadecimal digits nor a UUID, which would
 *   read as an id
 */
gboolean
nlx_image_name_is_valid (const char *name)
{
  return nlx_image_name_is_valid_for_record (name) &&
         !g_uuid_string_is_valid (name);
}
