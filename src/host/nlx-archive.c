/* nlx-archive.c: safe extraction of root filesystem tarballs, and
 * tarballs of directory trees (instance snapshots) */
#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/nlx-autoptr.h"
#include "common/nlx-error.h"
#include "common/nlx-idmap.h"
#include "host/nlx-archive.h"

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

/* The errors that say the host cannot write: full, failing, read-only,
 * out of resources or permissions.  Any other error writing a member is
 * the archive's doing, e.g. ENOTDIR for a member below one that is a
 * regular file ("etc", then "etc/passwd"), which the fuzzer found
 * reported as the host's fault. */
static gboolean
is_host_errno (int errsv)
{
  switch (errsv)
    {
    case ENOSPC:
    case EDQUOT:
    case EIO:
    case EROFS:
    case EFBIG:
    case ENOMEM:
    case EMFILE:
    case ENFILE:
    case EACCES:
    case EPERM:
      return TRUE;
    default:
      return FALSE;
    }
}

/* The disk writer refuses a hostile member (a ".." or a write through a
 * symbolic link) with no errno, and one that cannot exist (below a file)
 * with an errno of its own; a failing disk sets one of is_host_errno(). */
static gboolean
set_write_error (GError **error,
                 const char *archive_path,
                 struct archive *writer)
{
  if (is_host_errno (archive_errno (writer)))
    return set_archive_error (error, archive_path, writer,
                              NLX_DRIVER_ERROR_FAILED);
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
               _("Root tarball %s has a member that cannot be extracted "
                 "safely (%s); refusing to extract it"), archive_path,
               archive_error_string (writer) ? archive_error_string (writer)
                                             : _("unknown reason"));
  return FALSE;
}

/* Whether @link, a member already extracted into @dest_dir, is a
 * directory. */
static gboolean
link_is_directory (const char *dest_dir,
                   const char *link)
{
  g_autofree char *path = g_build_filename (dest_dir, link, NULL);
  struct stat st;

  return lstat (path, &st) == 0 && S_ISDIR (st.st_mode);
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

      if (link != NULL && link_is_directory (dest_dir, link))
        {
          /* link(2) to a directory is EPERM, which would read as the
           * host's fault (is_host_errno()): the fuzzer found "x", a hard
           * link to ".". */
          g_set_error (error, NLX_DRIVER_ERROR,
                       NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                       _("Root tarball %s has a hard link to a directory "
                         "(“%s” to “%s”), which no filesystem holds; "
                         "refusing to extract it"), archive_path, member,
                       link);
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
          return set_write_error (error, archive_path, writer);
      if (rc != ARCHIVE_EOF)
        return set_archive_error (error, archive_path, reader,
                              NLX_DRIVER_ERROR_INVALID_ARGUMENT);
      if (archive_write_finish_entry (writer) < ARCHIVE_WARN)
        return set_write_error (error, archive_path, writer);
    }
  if (rc != ARCHIVE_EOF)
    return set_archive_error (error, archive_path, reader,
                              NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  if (archive_write_close (writer) != ARCHIVE_OK)
    return set_archive_error (error, archive_path, writer,
                              NLX_DRIVER_ERROR_FAILED);
  return TRUE;
}

/* ---- writing a tree ------------------------------------------------------ */

#define READ_BLOCK_SIZE (64 * 1024)

typedef struct {
  const char *dir;
  const char *tar_path;
  struct archive *writer;
  GArray *uid_map;
  GArray *gid_map;
  dev_t top_dev;
  /* The temporary tarball, should it be inside the tree. */
  dev_t tmp_dev;
  ino_t tmp_ino;
  /* "dev:ino" of files with more than one link -> the first member. */
  GHashTable *links;
  char *buffer;
  NlxArchiveWriteFlags flags;
  /* Writing to a socket (nlx_archive_write_tree_to_socket()) rather than
   * a file: send() with MSG_NOSIGNAL, so a reader that goes away is an
   * EPIPE, never a SIGPIPE. */
  int socket;
} TreeWriter;

/* What makes a root one machine rather than an image for many: what
 * virt-sysprep's machine-id and ssh-hostkeys operations reset. */
typedef enum {
  IDENTITY_KEEP,
  IDENTITY_EMPTY,   /* kept, with no content: systemd makes a new id */
  IDENTITY_LEAVE_OUT,
} IdentityAction;

static IdentityAction
identity_action (const TreeWriter *w,
                 const char *member,
                 const struct stat *st)
{
  const char *name;

  if (!(w->flags & NLX_ARCHIVE_WRITE_RESET_IDENTITY) || S_ISDIR (st->st_mode))
    return IDENTITY_KEEP;
  /* A link elsewhere (Debian's var/lib/dbus/machine-id -> /etc/machine-id)
   * holds no identity of its own. */
  if (g_str_equal (member, "etc/machine-id") && S_ISREG (st->st_mode))
    return IDENTITY_EMPTY;
  if (g_str_equal (member, "var/lib/dbus/machine-id") && S_ISREG (st->st_mode))
    return IDENTITY_LEAVE_OUT;
  if (g_str_has_prefix (member, "etc/ssh/"))
    {
      name = member + strlen ("etc/ssh/");
      if (strchr (name, '/') == NULL && strstr (name, "_host_") != NULL)
        return IDENTITY_LEAVE_OUT;
    }
  return IDENTITY_KEEP;
}

static gboolean
set_read_error (GError **error,
                TreeWriter *w,
                const char *member,
                int errsv)
{
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
               _("Cannot archive %s: reading “%s” in it failed: %s; look "
                 "for I/O errors in the host's kernel log"), w->dir, member,
               g_strerror (errsv));
  return FALSE;
}

static gboolean
set_changed_error (GError **error,
                   TreeWriter *w,
                   const char *member)
{
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
               _("Cannot archive %s: “%s” changed while it was being read; "
                 "stop the instance and try again"), w->dir, member);
  return FALSE;
}

static gboolean
set_tarball_error (GError **error,
                   const char *tar_path,
                   const char *problem)
{
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
               _("Cannot write tarball %s: %s; check that its directory "
                 "exists, is writable and has free space"), tar_path,
               problem);
  return FALSE;
}

/* libarchive's message for a failing write is only "Write error"; the
 * errno says why (a full disk). */
static gboolean
set_writer_error (GError **error,
                  TreeWriter *w)
{
  const char *what = archive_error_string (w->writer);
  int errsv = archive_errno (w->writer);
  g_autofree char *problem = NULL;

  if (what != NULL && errsv > 0)
    problem = g_strdup_printf ("%s: %s", what, g_strerror (errsv));
  else
    problem = g_strdup (what ? what : g_strerror (errsv));
  return set_tarball_error (error, w->tar_path, problem);
}

static char *
link_key (const struct stat *st)
{
  return g_strdup_printf ("%ju:%ju", (uintmax_t) st->st_dev,
                          (uintmax_t) st->st_ino);
}

/* Ids the instance cannot name (unmapped on the host) show inside it as
 * the overflow id, so the tarball says the same. */
static guint32
instance_id (GArray *map,
             guint32 host_id)
{
  guint32 id;

  return nlx_idmap_from_host (map, host_id, &id) ? id : NLX_IDMAP_OVERFLOW_ID;
}

/* Writes the header of @member; @symlink and @hardlink are its targets, if
 * it is one. */
/* With NLX_ARCHIVE_WRITE_XATTRS: @name's extended attributes (below
 * @parent, not followed) as the entry's, read through /proc so that the
 * walk stays relative to its directory descriptors.  One that vanishes
 * meanwhile is left out; a filesystem without them has none. */
static gboolean
add_xattrs (TreeWriter *w,
            struct archive_entry *entry,
            int parent,
            const char *name,
            const char *member,
            GError **error)
{
  g_autofree char *path = NULL;
  g_autofree char *names = NULL;
  ssize_t size;

  if (!(w->flags & NLX_ARCHIVE_WRITE_XATTRS) || parent < 0)
    return TRUE;
  path = g_strdup_printf ("/proc/self/fd/%d/%s", parent, name);
  for (;;)
    {
      size = llistxattr (path, NULL, 0);
      if (size < 0 && (errno == ENOTSUP || errno == ENOENT))
        return TRUE;
      if (size < 0)
        return set_read_error (error, w, member, errno);
      if (size == 0)
        return TRUE;
      g_free (names);
      names = g_malloc (size);
      size = llistxattr (path, names, size);
      if (size >= 0)
        break;
      if (errno != ERANGE)
        return set_read_error (error, w, member, errno);
    }
  for (ssize_t at = 0; at < size; at += strlen (names + at) + 1)
    {
      const char *key = names + at;
      g_autofree char *value = NULL;
      ssize_t length;

      for (;;)
        {
          length = lgetxattr (path, key, NULL, 0);
          if (length < 0)
            break;
          g_free (value);
          value = g_malloc (MAX (length, 1));
          length = lgetxattr (path, key, value, length);
          if (length >= 0 || errno != ERANGE)
            break;
        }
      if (length < 0 && (errno == ENODATA || errno == ENOENT))
        continue;
      if (length < 0)
        return set_read_error (error, w, member, errno);
      archive_entry_xattr_add_entry (entry, key, value, (size_t) length);
    }
  return TRUE;
}

/* Writes the header of @member (@name below @parent, for its extended
 * attributes; @parent -1 for none); @symlink and @hardlink are its
 * targets, if it is one. */
static gboolean
write_header (TreeWriter *w,
              int parent,
              const char *name,
              const char *member,
              const struct stat *st,
              const char *symlink,
              const char *hardlink,
              GError **error)
{
  g_autoptr(NlxArchiveEntry) entry = archive_entry_new ();

  archive_entry_set_pathname (entry, member);
  archive_entry_set_mode (entry, st->st_mode);
  archive_entry_set_uid (entry, instance_id (w->uid_map, st->st_uid));
  archive_entry_set_gid (entry, instance_id (w->gid_map, st->st_gid));
  archive_entry_set_mtime (entry, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
  if (S_ISCHR (st->st_mode) || S_ISBLK (st->st_mode))
    archive_entry_set_rdev (entry, st->st_rdev);
  if (S_ISREG (st->st_mode) && hardlink == NULL)
    archive_entry_set_size (entry, st->st_size);
  if (symlink != NULL)
    archive_entry_set_symlink (entry, symlink);
  if (hardlink != NULL)
    {
      archive_entry_set_hardlink (entry, hardlink);
      archive_entry_set_size (entry, 0);
    }
  else if (!add_xattrs (w, entry, parent, name, member, error))
    return FALSE;
  /* ARCHIVE_WARN is a name that is not text in the locale's charset; the
   * pax header then keeps its bytes as they are. */
  if (archive_write_header (w->writer, entry) < ARCHIVE_WARN)
    return set_writer_error (error, w);
  return TRUE;
}

/* Copies @size bytes from @fd.  A file that grows meanwhile is cut at
 * @size, which its header already gave; one that shrinks cannot be. */
static gboolean
write_data (TreeWriter *w,
            int fd,
            const char *member,
            off_t size,
            GError **error)
{
  off_t done = 0;

  while (done < size)
    {
      ssize_t n = read (fd, w->buffer, MIN ((off_t) READ_BLOCK_SIZE,
                                            size - done));

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return set_read_error (error, w, member, errno);
      if (n == 0)
        return set_changed_error (error, w, member);
      if (archive_write_data (w->writer, w->buffer, (size_t) n) != n)
        return set_writer_error (error, w);
      done += n;
    }
  return TRUE;
}

static gboolean
write_file (TreeWriter *w,
            int parent,
            const char *name,
            const char *member,
            const struct stat *lst,
            GError **error)
{
  struct stat st;
  int fd;
  gboolean ok;

  /* O_NONBLOCK: should a fifo have taken the file's place, opening it
   * must not wait for a writer. */
  fd = openat (parent, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK |
               O_CLOEXEC);
  if (fd < 0 && errno == ENOENT)
    return TRUE;
  if (fd < 0 && errno == ELOOP)
    return set_changed_error (error, w, member);
  if (fd < 0)
    return set_read_error (error, w, member, errno);
  if (fstat (fd, &st) != 0)
    {
      int errsv = errno;

      close (fd);
      return set_read_error (error, w, member, errsv);
    }
  if (!S_ISREG (st.st_mode) || st.st_dev != lst->st_dev ||
      st.st_ino != lst->st_ino)
    {
      close (fd);
      return set_changed_error (error, w, member);
    }
  ok = write_header (w, parent, name, member, &st, NULL, NULL, error) &&
       write_data (w, fd, member, st.st_size, error);
  close (fd);
  return ok;
}

static gboolean
write_symlink (TreeWriter *w,
               int parent,
               const char *name,
               const char *member,
               const struct stat *st,
               GError **error)
{
  /* st_size is the target's length, except on a few filesystems (/proc)
   * that give 0; a target that fills the buffer may have been cut. */
  gsize size = MAX ((gsize) st->st_size + 1, 256);

  for (;;)
    {
      g_autofree char *target = g_malloc (size);
      ssize_t len = readlinkat (parent, name, target, size);

      if (len < 0 && errno == ENOENT)
        return TRUE;
      if (len < 0 && errno == EINVAL)
        return set_changed_error (error, w, member);
      if (len < 0)
        return set_read_error (error, w, member, errno);
      if ((gsize) len < size)
        {
          target[len] = '\0';
          return write_header (w, parent, name, member, st, target, NULL,
                               error);
        }
      size *= 2;
    }
}

static gboolean write_dir (TreeWriter *w,
                           int fd,
                           const char *prefix,
                           GError **error);

/* Writes @name, a directory below @parent, and its contents, unless it is
 * the root of another filesystem, whose contents are not the tree's. */
static gboolean
write_subdir (TreeWriter *w,
              int parent,
              const char *name,
              const char *member,
              const struct stat *lst,
              GError **error)
{
  struct stat st;
  int fd;

  if (lst->st_dev != w->top_dev)
    return write_header (w, parent, name, member, lst, NULL, NULL, error);

  fd = openat (parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NOCTTY |
               O_CLOEXEC);
  if (fd < 0 && errno == ENOENT)
    return TRUE;
  if (fd < 0 && (errno == ENOTDIR || errno == ELOOP))
    return set_changed_error (error, w, member);
  if (fd < 0)
    return set_read_error (error, w, member, errno);
  if (fstat (fd, &st) != 0)
    {
      int errsv = errno;

      close (fd);
      return set_read_error (error, w, member, errsv);
    }
  if (st.st_dev != lst->st_dev || st.st_ino != lst->st_ino)
    {
      close (fd);
      return set_changed_error (error, w, member);
    }
  if (!write_header (w, parent, name, member, &st, NULL, NULL, error))
    {
      close (fd);
      return FALSE;
    }
  return write_dir (w, fd, member, error);
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/* Writes what directory @fd (which this takes) holds, as members named
 * @prefix/NAME, or NAME for the top (@prefix %NULL), in name order so
 * that the same tree gives the same tarball.  Every name is looked up
 * relative to its directory's descriptor, so renaming or replacing a
 * directory above cannot lead the walk elsewhere. */
static gboolean
write_dir (TreeWriter *w,
           int fd,
           const char *prefix,
           GError **error)
{
  g_autoptr(NlxDir) dir = fdopendir (fd);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  struct dirent *dirent;

  if (dir == NULL)
    {
      int errsv = errno;

      close (fd);
      return set_read_error (error, w, prefix ? prefix : ".", errsv);
    }
  errno = 0;
  while ((dirent = readdir (dir)) != NULL)
    {
      if (!g_str_equal (dirent->d_name, ".") &&
          !g_str_equal (dirent->d_name, ".."))
        g_ptr_array_add (names, g_strdup (dirent->d_name));
      errno = 0;
    }
  if (errno != 0)
    return set_read_error (error, w, prefix ? prefix : ".", errno);
  g_ptr_array_sort (names, compare_names);

  for (guint i = 0; i < names->len; i++)
    {
      const char *name = names->pdata[i];
      g_autofree char *member = prefix ? g_strconcat (prefix, "/", name, NULL)
                                       : g_strdup (name);
      g_autofree char *key = NULL;
      const char *first;
      struct stat st;
      gboolean ok;

      if (fstatat (dirfd (dir), name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        {
          /* Gone since it was listed: it is not in the tree any more. */
          if (errno == ENOENT)
            continue;
          return set_read_error (error, w, member, errno);
        }
      if (S_ISSOCK (st.st_mode) ||
          (st.st_dev == w->tmp_dev && st.st_ino == w->tmp_ino))
        continue;
      if (S_ISDIR (st.st_mode))
        {
          if (!write_subdir (w, dirfd (dir), name, member, &st, error))
            return FALSE;
          continue;
        }

      switch (identity_action (w, member, &st))
        {
        case IDENTITY_LEAVE_OUT:
          continue;
        case IDENTITY_EMPTY:
          {
            struct stat empty = st;

            empty.st_size = 0;
            if (!write_header (w, dirfd (dir), name, member, &empty, NULL,
                               NULL, error))
              return FALSE;
            continue;
          }
        case IDENTITY_KEEP:
        default:
          break;
        }

      /* Overlayfs gives files of a lower layer on another filesystem that
       * layer's device, not the overlay's, so a file's st_dev cannot tell
       * a mount point: only directories are checked.  Dev and ino still
       * name one file, which is what hard links need. */
      if (st.st_nlink > 1)
        {
          key = link_key (&st);
          first = g_hash_table_lookup (w->links, key);
          if (first != NULL)
            {
              if (!write_header (w, -1, name, member, &st, NULL, first,
                                 error))
                return FALSE;
              continue;
            }
        }

      if (S_ISREG (st.st_mode))
        ok = write_file (w, dirfd (dir), name, member, &st, error);
      else if (S_ISLNK (st.st_mode))
        ok = write_symlink (w, dirfd (dir), name, member, &st, error);
      else if (S_ISCHR (st.st_mode) || S_ISBLK (st.st_mode) ||
               S_ISFIFO (st.st_mode))
        ok = write_header (w, dirfd (dir), name, member, &st, NULL, NULL,
                           error);
      else
        continue;
      if (!ok)
        return FALSE;
      if (key != NULL)
        g_hash_table_insert (w->links, g_steal_pointer (&key),
                             g_steal_pointer (&member));
    }
  return TRUE;
}

/* libarchive's writer callback for a socket: every block whole, or an
 * error (EPIPE once the reader has gone). */
static la_ssize_t
send_block (struct archive *a,
            void *data,
            const void *buffer,
            size_t length)
{
  TreeWriter *w = data;
  size_t done = 0;

  while (done < length)
    {
      ssize_t n = send (w->socket, (const char *) buffer + done,
                        length - done, MSG_NOSIGNAL);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          archive_set_error (a, errno, "%s", g_strerror (errno));
          return -1;
        }
      done += (size_t) n;
    }
  return (la_ssize_t) length;
}

/* Writes the tarball of @w->dir to @fd, an empty file, or to @w->socket. */
static gboolean
write_tarball (TreeWriter *w,
               int fd,
               GError **error)
{
  g_autoptr(NlxArchive) writer = archive_write_new ();
  struct stat st;
  int top;

  if (fstat (fd, &st) != 0)
    return set_tarball_error (error, w->tar_path, g_strerror (errno));
  w->tmp_dev = st.st_dev;
  w->tmp_ino = st.st_ino;

  top = open (w->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NOCTTY |
              O_CLOEXEC);
  if (top < 0 || fstat (top, &st) != 0)
    {
      int errsv = errno;

      if (top >= 0)
        close (top);
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot archive %s: %s; it must be an existing "
                     "directory, not a symbolic link"), w->dir,
                   g_strerror (errsv));
      return FALSE;
    }
  w->top_dev = st.st_dev;

  w->writer = writer;
  if (archive_write_set_format_pax_restricted (writer) != ARCHIVE_OK ||
      (w->socket >= 0
         ? archive_write_open2 (writer, w, NULL, send_block, NULL, NULL)
         : archive_write_open_fd (writer, fd)) != ARCHIVE_OK)
    {
      close (top);
      return set_writer_error (error, w);
    }
  if (!write_dir (w, top, NULL, error))
    return FALSE;
  if (archive_write_close (writer) != ARCHIVE_OK)
    return set_writer_error (error, w);
  return TRUE;
}

static gboolean
sync_parent (const char *path,
             GError **error)
{
  g_autofree char *parent = g_path_get_dirname (path);
  int fd = open (parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int errsv;

  if (fd >= 0 && fsync (fd) == 0)
    {
      close (fd);
      return TRUE;
    }
  errsv = errno;
  if (fd >= 0)
    close (fd);
  return set_tarball_error (error, path, g_strerror (errsv));
}

/**
 * nlx_archive_write_tree:
 * @dir: a directory, e.g. the merged root of an instance as the host
 *   sees it
 * @tar_path: the tarball to write; an existing file is replaced
 * @uid_map: (element-type NlxIdMapRange) (nullable): the instance's uid
 *   map, or %NULL (a privileged instance) to keep the host's ids
 * @gid_map: (element-type NlxIdMapRange) (nullable): the same for gids
 * @error: return location for a #NLX_DRIVER_ERROR_FAILED
 *
 * Writes the tree below @dir as an uncompressed POSIX tarball (ustar,
 * with pax headers where a name or number needs them) that
 * nlx_archive_extract() takes back.  Members are relative ("bin/sh") and
 * come in name order; the top itself is not one, so its own mode and
 * owner are the extractor's to choose.  Regular files, directories,
 * symbolic links (never followed), hard links (a member linking to the
 * first path of the file), devices and fifos keep their mode, set-id
 * bits and mtime (in whole seconds); sockets, extended attributes and
 * ACLs are left out.  Owners are given as the instance sees them,
 * through the maps, and without names; a host id outside a map, which
 * the instance cannot have given a file, becomes %NLX_IDMAP_OVERFLOW_ID
 * (65534, nobody and nogroup), which is how the instance sees it.  Like
 * `tar --one-file-system`, a directory where another filesystem is
 * mounted is a member, but not what it holds.
 *
 * The walk opens every name relative to its directory's descriptor with
 * O_NOFOLLOW, so a tree that changes underneath (a running instance)
 * cannot lead it outside @dir; a file that vanishes is left out, and one
 * replaced or shrunk meanwhile fails the call.  The tarball is written
 * to a temporary file (mode 0600) beside @tar_path and renamed into
 * place once on disk, so @tar_path is whole or not there.  On failure no
 * temporary file is left and an existing @tar_path is kept, unless the
 * failure is flushing the rename itself, after which @tar_path is
 * removed.
 */
gboolean
nlx_archive_write_tree (const char *dir,
                        const char *tar_path,
                        GArray *uid_map,
                        GArray *gid_map,
                        GError **error)
{
  return nlx_archive_write_tree_full (dir, tar_path, uid_map, gid_map,
                                      NLX_ARCHIVE_WRITE_NONE, error);
}

/**
 * nlx_archive_write_tree_full:
 * @dir: as for nlx_archive_write_tree()
 * @tar_path: as for nlx_archive_write_tree()
 * @uid_map: (element-type NlxIdMapRange) (nullable): as for
 *   nlx_archive_write_tree()
 * @gid_map: (element-type NlxIdMapRange) (nullable): as for
 *   nlx_archive_write_tree()
 * @flags: with %NLX_ARCHIVE_WRITE_RESET_IDENTITY, the tarball is an image
 *   for new machines: `etc/machine-id`, a regular file, is a member with
 *   its mode and owner but no content (systemd gives an empty one a new
 *   id at first boot), and a regular `var/lib/dbus/machine-id` and
 *   every non-directory `etc/ssh/NAME` whose NAME contains `_host_`
 *   (host keys, their .pub and certificates) are left out, as
 *   virt-sysprep leaves them.  The tree itself is not changed.
 * @error: return location for a #NLX_DRIVER_ERROR_FAILED
 *
 * As nlx_archive_write_tree(), with @flags.
 */
gboolean
nlx_archive_write_tree_full (const char *dir,
                             const char *tar_path,
                             GArray *uid_map,
                             GArray *gid_map,
                             NlxArchiveWriteFlags flags,
                             GError **error)
{
  g_autoptr(GHashTable) links = g_hash_table_new_full (g_str_hash,
                                                        g_str_equal,
                                                        g_free, g_free);
  g_autofree char *buffer = g_malloc (READ_BLOCK_SIZE);
  g_autofree char *parent = g_path_get_dirname (tar_path);
  g_autofree char *base = g_path_get_basename (tar_path);
  g_autofree char *tmp = NULL;
  TreeWriter w = {
    .dir = dir,
    .tar_path = tar_path,
    .uid_map = uid_map,
    .gid_map = gid_map,
    .links = links,
    .buffer = buffer,
    .flags = flags,
    .socket = -1,
  };
  gboolean ok;
  int fd;

  /* A leading '.' keeps it out of listings of the directory. */
  tmp = g_strdup_printf ("%s/.%s.XXXXXX", parent, base);
  fd = g_mkstemp_full (tmp, O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0)
    return set_tarball_error (error, tar_path, g_strerror (errno));

  ok = write_tarball (&w, fd, error);
  if (ok && fsync (fd) != 0)
    ok = set_tarball_error (error, tar_path, g_strerror (errno));
  if (close (fd) != 0 && ok)
    ok = set_tarball_error (error, tar_path, g_strerror (errno));
  if (ok && rename (tmp, tar_path) != 0)
    {
      int errsv = errno;

      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot put tarball %s in place: %s; remove what is "
                     "at that path, or choose another"), tar_path,
                   g_strerror (errsv));
      ok = FALSE;
    }
  if (!ok)
    {
      g_unlink (tmp);
      return FALSE;
    }
  /* The rename itself must outlive a crash. */
  if (!sync_parent (tar_path, error))
    {
      g_unlink (tar_path);
      return FALSE;
    }
  return TRUE;
}

/**
 * nlx_archive_write_tree_to_socket:
 * @dir: as for nlx_archive_write_tree()
 * @socket: a connected stream socket, blocking, which this does not close
 * @flags: as for nlx_archive_write_tree_full(); with
 *   %NLX_ARCHIVE_WRITE_XATTRS, members keep their extended attributes
 * @error: return location for a #NLX_DRIVER_ERROR_FAILED
 *
 * As nlx_archive_write_tree_full() with no id maps (owners as the tree
 * has them), written to @socket as it is made: a block at a time, so the
 * reader sets the pace and the whole tarball is never held anywhere.  A
 * reader that goes away fails the call (EPIPE, never SIGPIPE).  Whoever
 * reads cannot tell a tarball cut short by an error from a whole one but
 * by its missing end (two zero blocks), which extractors report.
 */
gboolean
nlx_archive_write_tree_to_socket (const char *dir,
                                  int socket,
                                  NlxArchiveWriteFlags flags,
                                  GError **error)
{
  g_autoptr(GHashTable) links = g_hash_table_new_full (g_str_hash,
                                                        g_str_equal,
                                                        g_free, g_free);
  g_autofree char *buffer = g_malloc (READ_BLOCK_SIZE);
  TreeWriter w = {
    .dir = dir,
    .tar_path = _("the image download"),
    .links = links,
    .buffer = buffer,
    .flags = flags,
    .socket = socket,
  };

  return write_tarball (&w, socket, error);
}
