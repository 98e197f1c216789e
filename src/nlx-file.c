/* nlx-file.c: file helpers shared by drivers, programs and tests */
#include "config.h"

#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
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
