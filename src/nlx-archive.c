/* nlx-archive.c: safe extraction of root filesystem tarballs */
#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <glib/gi18n-lib.h>

#include "nlx-archive.h"
#include "nlx-error.h"

typedef struct archive NlxArchive;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NlxArchive, archive_free)

/* An archive member may only name a place below the destination. */
static gboolean
member_path_is_safe (const char *path)
{
  g_auto(GStrv) parts = NULL;

  if (path == NULL || *path == '\0' || g_path_is_absolute (path))
    return FALSE;
  parts = g_strsplit (path, "/", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    if (g_str_equal (parts[i], ".."))
      return FALSE;
  return TRUE;
}

/* A fault of the archive (unreadable, truncated, hostile) is the caller's
 * to fix; a fault writing to disk (full, I/O error) is the host's. */
static gboolean
set_archive_error (GError **error,
                   const char *archive_path,
                   struct archive *a,
                   NlxDriverError code)
{
  g_set_error (error, NLX_DRIVER_ERROR, code,
               _("Cannot extract root tarball %s: %s"), archive_path,
               archive_error_string (a) ? archive_error_string (a)
                                        : g_strerror (archive_errno (a)));
  return FALSE;
}

/* The disk writer refuses a hostile member (a ".." or a write through a
 * symbolic link) with no errno, where a failing disk sets one. */
static gboolean
set_write_error (GError **error,
                 const char *archive_path,
                 struct archive *writer)
{
  if (archive_errno (writer) > 0)
    return set_archive_error (error, archive_path, writer,
                              NLX_DRIVER_ERROR_FAILED);
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
               _("Root tarball %s has a member that cannot be extracted "
                 "safely (%s); refusing to extract it"), archive_path,
               archive_error_string (writer) ? archive_error_string (writer)
                                             : _("unknown reason"));
  return FALSE;
}

/**
 * nlx_archive_extract:
 * @archive_path: a tar archive, compressed or not
 * @dest_dir: an existing, empty directory whose path has no symbolic links
 * @error: return location for a #NLX_DRIVER_ERROR: INVALID_ARGUMENT for a
 *   bad archive, FAILED when the host cannot write it
 *
 * Extracts with ownership, modes and times kept.  Member paths (and hard
 * link targets) must be relative and free of ".."; they are checked here
 * and prefixed with @dest_dir, so the process's working directory is never
 * changed (the daemon is threaded).  libarchive's secure flags refuse ".."
 * again and any write through a symbolic link, e.g. one the archive made
 * earlier; such a member fails with INVALID_ARGUMENT.  On failure
 * @dest_dir may hold part of the tree; the caller removes it.
 */
gboolean
nlx_archive_extract (const char *archive_path,
                     const char *dest_dir,
                     GError **error)
{
  g_autoptr(NlxArchive) reader = archive_read_new ();
  g_autoptr(NlxArchive) writer = archive_write_disk_new ();
  struct archive_entry *entry;
  int rc;

  archive_read_support_filter_all (reader);
  archive_read_support_format_tar (reader);
  /* Not ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS: every path handed to the
   * writer is absolute once prefixed with @dest_dir, so it would refuse
   * them all; member_path_is_safe() refuses absolute members before that.
   * Not ARCHIVE_EXTRACT_UNLINK either: with it, libarchive deletes a
   * symbolic link met halfway down a path (one planted by the archive, or
   * one in @dest_dir itself) instead of refusing to write through it.
   * Without it, a member that replaces a file still replaces it. */
  archive_write_disk_set_options (writer,
                                  ARCHIVE_EXTRACT_OWNER |
                                  ARCHIVE_EXTRACT_PERM |
                                  ARCHIVE_EXTRACT_TIME |
                                  ARCHIVE_EXTRACT_XATTR |
                                  ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                  ARCHIVE_EXTRACT_SECURE_SYMLINKS);
  archive_write_disk_set_standard_lookup (writer);

  if (archive_read_open_filename (reader, archive_path, 64 * 1024) != ARCHIVE_OK)
    return set_archive_error (error, archive_path, reader,
                              NLX_DRIVER_ERROR_INVALID_ARGUMENT);

  while ((rc = archive_read_next_header (reader, &entry)) == ARCHIVE_OK ||
         rc == ARCHIVE_WARN)
    {
      const char *member = archive_entry_pathname (entry);
      const char *link = archive_entry_hardlink (entry);
      g_autofree char *target = NULL;
      const void *block;
      size_t size;
      la_int64_t offset;

      /* "./etc" and "etc" are the same member; "." is the root itself. */
      while (member != NULL && g_str_has_prefix (member, "./"))
        member += 2;
      if (member != NULL && (*member == '\0' || g_str_equal (member, ".")))
        continue;
      if (!member_path_is_safe (member))
        {
          g_set_error (error, NLX_DRIVER_ERROR,
                       NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                       _("Root tarball %s has a member that points outside "
                         "it (“%s”); refusing to extract it"), archive_path,
                       archive_entry_pathname (entry));
          return FALSE;
        }
      if (link != NULL && !member_path_is_safe (link))
        {
          g_set_error (error, NLX_DRIVER_ERROR,
                       NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                       _("Root tarball %s has a member that points outside "
                         "it (“%s”, a hard link to “%s”); refusing to "
                         "extract it"), archive_path,
                       archive_entry_pathname (entry), link);
          return FALSE;
        }

      target = g_build_filename (dest_dir, member, NULL);
      archive_entry_set_pathname (entry, target);
      if (link != NULL)
        {
          g_autofree char *link_target = g_build_filename (dest_dir, link, NULL);

          archive_entry_set_hardlink (entry, link_target);
        }

      if (archive_write_header (writer, entry) < ARCHIVE_WARN)
        return set_write_error (error, archive_path, writer);
      while ((rc = archive_read_data_block (reader, &block, &size, &offset))
             == ARCHIVE_OK)
        if (archive_write_data_block (writer, block, size, offset) < ARCHIVE_WARN)
          return set_archive_error (error, archive_path, writer,
                              NLX_DRIVER_ERROR_FAILED);
      if (rc != ARCHIVE_EOF)
        return set_archive_error (error, archive_path, reader,
                              NLX_DRIVER_ERROR_INVALID_ARGUMENT);
      if (archive_write_finish_entry (writer) < ARCHIVE_WARN)
        return set_archive_error (error, archive_path, writer,
                              NLX_DRIVER_ERROR_FAILED);
    }
  if (rc != ARCHIVE_EOF)
    return set_archive_error (error, archive_path, reader,
                              NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  if (archive_write_close (writer) != ARCHIVE_OK)
    return set_archive_error (error, archive_path, writer,
                              NLX_DRIVER_ERROR_FAILED);
  return TRUE;
}
