/* nlx-volume-attachment.c: a volume attached to an instance, and what a
 * volume id may be */
#include "config.h"

#include <string.h>

#include <glib/gi18n-lib.h>

#include "common/nlx-error.h"
#include "model/nlx-volume-attachment.h"

/**
 * nlx_volume_id_is_valid:
 * @id: (nullable): a volume id
 *
 * Returns: whether @id is a plain file name: [A-Za-z0-9][A-Za-z0-9._-]*,
 * at most %NLX_VOLUME_ID_MAX characters (so never "." or "..", a path or
 * an option)
 */
gboolean
nlx_volume_id_is_valid (const char *id)
{
  gsize len;

  if (id == NULL || !g_ascii_isalnum (id[0]))
    return FALSE;
  len = strlen (id);
  if (len > NLX_VOLUME_ID_MAX)
    return FALSE;
  for (gsize i = 1; i < len; i++)
    if (!g_ascii_isalnum (id[i]) && id[i] != '.' && id[i] != '_' &&
        id[i] != '-')
      return FALSE;
  return TRUE;
}

NlxVolumeAttachment *
nlx_volume_attachment_new (const char *volume_id,
                           const char *device,
                           const char *mount_path)
{
  NlxVolumeAttachment *attachment = g_new0 (NlxVolumeAttachment, 1);

  attachment->volume_id = g_strdup (volume_id);
  attachment->device = g_strdup (device);
  attachment->mount_path = g_strdup (mount_path);
  return attachment;
}

void
nlx_volume_attachment_free (NlxVolumeAttachment *attachment)
{
  if (attachment == NULL)
    return;
  g_free (attachment->volume_id);
  g_free (attachment->device);
  g_free (attachment->mount_path);
  g_free (attachment);
}

static gboolean
device_is_valid (const char *device)
{
  return device != NULL && strlen (device) == strlen ("/dev/vdb") &&
         g_str_has_prefix (device, "/dev/vd") &&
         device[7] >= 'b' && device[7] <= 'z';
}

/* An absolute path of plain components, outside the kernel's own trees:
 * the daemon creates it inside the container and mounts over it. */
static gboolean
mount_path_is_valid (const char *path)
{
  static const char * const forbidden[] = { "dev", "proc", "sys", NULL };
  g_auto(GStrv) parts = NULL;

  if (path == NULL || path[0] != '/' || strlen (path) > NLX_MOUNT_PATH_MAX ||
      !g_utf8_validate (path, -1, NULL))
    return FALSE;
  parts = g_strsplit (path + 1, "/", -1);
  if (parts[0] == NULL || g_strv_contains (forbidden, parts[0]))
    return FALSE;
  for (guint i = 0; parts[i] != NULL; i++)
    {
      if (*parts[i] == '\0' || g_str_equal (parts[i], ".") ||
          g_str_equal (parts[i], ".."))
        return FALSE;
      for (const char *p = parts[i]; *p != '\0'; p++)
        if (g_ascii_iscntrl (*p))
          return FALSE;
    }
  return TRUE;
}

/**
 * nlx_volume_attachment_check:
 * @attachment: an attachment
 * @error: return location for a #NLX_MODEL_ERROR
 *
 * Checks the form of each field; whether the volume exists is the
 * volume layer's question.
 */
gboolean
nlx_volume_attachment_check (const NlxVolumeAttachment *attachment,
                             GError **error)
{
  if (!nlx_volume_id_is_valid (attachment->volume_id))
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("Volume id “%s” is not a plain name: use up to %d "
                     "letters, digits, “.”, “_” and “-”"),
                   attachment->volume_id ? attachment->volume_id : "",
                   NLX_VOLUME_ID_MAX);
      return FALSE;
    }
  if (!device_is_valid (attachment->device))
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("Device “%s” is not one nova-lxc gives out: use "
                     "/dev/vdb to /dev/vdz, or leave it out"),
                   attachment->device ? attachment->device : "");
      return FALSE;
    }
  if (attachment->mount_path != NULL &&
      !mount_path_is_valid (attachment->mount_path))
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("Mount path “%s” must be an absolute path of plain "
                     "names (no “.” or “..”), at most %d bytes, and not "
                     "under /dev, /proc or /sys"),
                   attachment->mount_path, NLX_MOUNT_PATH_MAX);
      return FALSE;
    }
  return TRUE;
}
