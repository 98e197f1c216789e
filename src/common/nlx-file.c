/* nlx-file.c: file helpers shared by drivers, programs and tests */
#include "config.h"

#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/nlx-file.h"

static int
remove_entry (const char *path,
              const struct stat *st G_GNUC_UNUSED,
              int type,
              struct FTW *ftw G_GNUC_UNUSED)
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

/* ---- contents, with every descriptor close-on-exec ------------------------ */

/* GLib 2.74's g_file_get_contents() and the temporary file of
 * g_file_set_contents() are opened without O_CLOEXEC: a child another
 * thread starts meanwhile would inherit them.  Same behaviour, same
 * G_FILE_ERROR codes, every descriptor close-on-exec. */

#define SET_FILE_ERROR(error, errsv, format, ...) \
  g_set_error ((error), G_FILE_ERROR, g_file_error_from_errno (errsv), \
               (format), __VA_ARGS__, g_strerror (errsv))

/**
 * nlx_file_get_contents:
 * @path: a file
 * @contents: (out): its contents, NUL-terminated
 * @length: (out) (optional): their length, without the NUL
 * @error: return location for a #G_FILE_ERROR
 *
 * g_file_get_contents() with the file opened close-on-exec.  Reads to the
 * end, so files in /proc, whose size says 0, come whole too.  On failure
 * errno is left saying why, for callers with messages of their own.
 *
 * Returns: %TRUE on success
 */
gboolean
nlx_file_get_contents (const char *path,
                       char **contents,
                       gsize *length,
                       GError **error)
{
  g_autoptr(GByteArray) data = NULL;
  struct stat st;
  int errsv;
  int fd;

  fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    {
      errsv = errno;
      SET_FILE_ERROR (error, errsv, _("Cannot open %s: %s"), path);
      errno = errsv;
      return FALSE;
    }
  /* The size is a hint: files in /proc say 0. */
  if (fstat (fd, &st) == 0 && S_ISREG (st.st_mode) && st.st_size > 0 &&
      st.st_size < G_MAXINT)
    data = g_byte_array_sized_new (st.st_size + 1);
  else
    data = g_byte_array_new ();
  for (;;)
    {
      guint8 buffer[65536];
      ssize_t n = read (fd, buffer, sizeof buffer);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          errsv = errno;
          close (fd);
          SET_FILE_ERROR (error, errsv, _("Cannot read %s: %s"), path);
          errno = errsv;
          return FALSE;
        }
      if (n == 0)
        break;
      g_byte_array_append (data, buffer, n);
    }
  close (fd);
  if (length != NULL)
    *length = data->len;
  g_byte_array_append (data, (const guint8 *) "", 1);
  *contents = (char *) g_byte_array_free (g_steal_pointer (&data), FALSE);
  return TRUE;
}

static gboolean
write_all (int fd,
           const char *contents,
           gsize length)
{
  while (length > 0)
    {
      ssize_t n = write (fd, contents, length);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return FALSE;
      contents += n;
      length -= n;
    }
  return TRUE;
}

/**
 * nlx_file_write_temporary:
 * @path: the file to replace, later
 * @contents: what to write
 * @length: its length, or -1 for a NUL-terminated string
 * @mode: the mode of the new file
 * @tmp: (out): the temporary file's path, @path.XXXXXX
 * @error: return location for a #G_FILE_ERROR
 *
 * The first step of replacing @path: writes @contents to a new
 * temporary file beside it, and leaves it open for
 * nlx_file_sync_temporary().  Writing several first and syncing them
 * after lets the filesystem commit them together (on ext4 the first
 * fsync commits the journal for all of them).  On failure nothing is
 * left behind.
 *
 * Returns: the open descriptor, or -1
 */
int
nlx_file_write_temporary (const char *path,
                          const char *contents,
                          gssize length,
                          int mode,
                          char **tmp,
                          GError **error)
{
  g_autofree char *name = g_strdup_printf ("%s.XXXXXX", path);
  int errsv;
  int fd;

  if (length < 0)
    length = strlen (contents);
  fd = g_mkstemp_full (name, O_RDWR | O_CLOEXEC, mode);
  if (fd < 0)
    {
      errsv = errno;
      SET_FILE_ERROR (error, errsv, _("Cannot create %s: %s"), name);
      return -1;
    }
  if (!write_all (fd, contents, length))
    {
      errsv = errno;
      close (fd);
      g_unlink (name);
      SET_FILE_ERROR (error, errsv, _("Cannot write %s: %s"), name);
      return -1;
    }
  *tmp = g_steal_pointer (&name);
  return fd;
}

/**
 * nlx_file_sync_temporary:
 * @tmp: from nlx_file_write_temporary()
 * @fd: its descriptor, closed here whatever happens
 * @do_fsync: whether to fsync() it before closing
 * @error: return location for a #G_FILE_ERROR
 *
 * The second step: the temporary file's contents on disk.  On failure
 * the temporary file is removed.
 *
 * Returns: %TRUE on success
 */
gboolean
nlx_file_sync_temporary (const char *tmp,
                         int fd,
                         gboolean do_fsync,
                         GError **error)
{
  int errsv;

  if (do_fsync && fsync (fd) != 0)
    {
      errsv = errno;
      close (fd);
      g_unlink (tmp);
      SET_FILE_ERROR (error, errsv, _("Cannot write %s: %s"), tmp);
      return FALSE;
    }
  if (close (fd) != 0)
    {
      errsv = errno;
      g_unlink (tmp);
      SET_FILE_ERROR (error, errsv, _("Cannot write %s: %s"), tmp);
      return FALSE;
    }
  return TRUE;
}

/**
 * nlx_file_rename_temporary:
 * @tmp: from nlx_file_sync_temporary()
 * @path: the file it replaces
 * @error: return location for a #G_FILE_ERROR
 *
 * The third step: renames @tmp over @path.  The rename is durable only
 * once the directory is synced (nlx_file_sync_dir()), once for every
 * rename made in it: until then nothing may be acknowledged.  On
 * failure the temporary file is removed.
 *
 * Returns: %TRUE on success
 */
gboolean
nlx_file_rename_temporary (const char *tmp,
                           const char *path,
                           GError **error)
{
  int errsv;

  if (rename (tmp, path) == 0)
    return TRUE;
  errsv = errno;
  g_unlink (tmp);
  SET_FILE_ERROR (error, errsv, _("Cannot rename %s to %s: %s"), tmp, path);
  return FALSE;
}

/**
 * nlx_file_set_contents_full:
 * @path: a file
 * @contents: what to write
 * @length: its length, or -1 for a NUL-terminated string
 * @flags: as for g_file_set_contents_full()
 * @mode: the mode of a new file
 * @error: return location for a #G_FILE_ERROR
 *
 * g_file_set_contents_full() with every descriptor close-on-exec.  With
 * %G_FILE_SET_CONTENTS_CONSISTENT, writes @path.XXXXXX beside @path,
 * fsync()s it (unless %G_FILE_SET_CONTENTS_ONLY_EXISTING and @path is
 * missing or empty), renames it over @path and, then, fsync()s the
 * directory (nlx_file_sync_dir()), failing if that fails: a rename that
 * is not durable may be gone after a crash, and the caller must not
 * acknowledge it.  Without, GLib's own direct write is already
 * close-on-exec.
 *
 * Returns: %TRUE on success
 */
gboolean
nlx_file_set_contents_full (const char *path,
                            const char *contents,
                            gssize length,
                            GFileSetContentsFlags flags,
                            int mode,
                            GError **error)
{
  g_autofree char *dir = NULL;
  g_autofree char *tmp = NULL;
  gboolean do_fsync;
  struct stat st;
  int fd;

  if (!(flags & G_FILE_SET_CONTENTS_CONSISTENT))
    return g_file_set_contents_full (path, contents, length, flags, mode,
                                     error);
  if (length < 0)
    length = strlen (contents);

  do_fsync = TRUE;
  if (flags & G_FILE_SET_CONTENTS_ONLY_EXISTING)
    {
      errno = 0;
      if (lstat (path, &st) == 0)
        do_fsync = st.st_size > 0;
      else if (errno == ENOENT)
        do_fsync = FALSE;
    }

  fd = nlx_file_write_temporary (path, contents, length, mode, &tmp, error);
  if (fd < 0 || !nlx_file_sync_temporary (tmp, fd, do_fsync, error) ||
      !nlx_file_rename_temporary (tmp, path, error))
    return FALSE;
  /* So that the new contents, not the old, are there after a crash. */
  dir = g_path_get_dirname (path);
  if (do_fsync && !nlx_file_sync_dir (dir, error))
    return FALSE;
  return TRUE;
}

/**
 * nlx_file_sync_dir:
 * @dir: a directory
 * @error: return location for a #G_FILE_ERROR
 *
 * fsync()s @dir, so that a rename, a new name or an unlink in it made
 * before survives a crash: fsync() of a file makes its contents durable,
 * not the directory entry that names it.
 *
 * Returns: %TRUE on success
 */
gboolean
nlx_file_sync_dir (const char *dir,
                   GError **error)
{
  int errsv;
  int fd;

  fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || fsync (fd) != 0)
    {
      errsv = errno;
      if (fd >= 0)
        close (fd);
      SET_FILE_ERROR (error, errsv,
                      _("Cannot make the changes in directory %s durable: %s"),
                      dir);
      return FALSE;
    }
  close (fd);
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
