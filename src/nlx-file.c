/* nlx-file.c: file helpers shared by drivers, programs and tests */
#include "config.h"

#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <ftw.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include "nlx-file.h"

static int
remove_entry (const char *path,
              const struct stat *st,
              int type,
              struct FTW *ftw)
{
  int rc = (type == FTW_DP) ? rmdir (path) : unlink (path);

  return (rc == 0 || errno == ENOENT) ? 0 : errno;
}

/**
 * nlx_file_remove_tree:
 * @path: a file or directory
 * @error: return location for a #G_FILE_ERROR
 *
 * Removes @path and everything below it.  It never follows a symbolic
 * link and never crosses into another mounted filesystem: a tree with
 * something mounted inside fails instead of emptying the mount.
 * A missing @path is not an error.
 */
gboolean
nlx_file_remove_tree (const char *path,
                      GError **error)
{
  int rc;

  if (!g_file_test (path, G_FILE_TEST_EXISTS) &&
      !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    return TRUE;

  rc = nftw (path, remove_entry, 64, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
  if (rc != 0)
    {
      int code = rc > 0 ? rc : errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (code),
                   _("Cannot remove %s: %s; remove it by hand (is something "
                     "mounted inside it?)"), path, g_strerror (code));
      return FALSE;
    }
  return TRUE;
}

/* What g_file_set_contents() names its temporary file: the target's name,
 * a dot and six characters of mkstemp(3). */
static gboolean
is_save_temporary (const char *name)
{
  const char *dot = strrchr (name, '.');

  if (dot == NULL || strlen (dot + 1) != 6 || dot - name < 5 ||
      strncmp (dot - 5, ".json", 5) != 0)
    return FALSE;
  for (const char *p = dot + 1; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p))
      return FALSE;
  return TRUE;
}

/**
 * nlx_file_remove_save_temporaries:
 * @dir: a directory of JSON files written by g_file_set_contents()
 *
 * Removes the `NAME.json.XXXXXX` temporary files that a process killed
 * during a save left, with a message for each.  Only for a directory
 * that no other process writes (the daemon holds its lock).  A missing
 * @dir has none.
 */
void
nlx_file_remove_save_temporaries (const char *dir)
{
  g_autoptr(GDir) handle = g_dir_open (dir, 0, NULL);
  const char *name;

  if (handle == NULL)
    return;
  while ((name = g_dir_read_name (handle)) != NULL)
    {
      g_autofree char *path = NULL;

      if (!is_save_temporary (name))
        continue;
      path = g_build_filename (dir, name, NULL);
      if (g_file_test (path, G_FILE_TEST_IS_SYMLINK) ||
          !g_file_test (path, G_FILE_TEST_IS_REGULAR))
        continue;
      if (g_unlink (path) == 0)
        g_message (_("Removed %s, left by a save that was interrupted"), path);
      else
        g_warning (_("Cannot remove %s, left by a save that was "
                     "interrupted: %s"), path, g_strerror (errno));
    }
}
