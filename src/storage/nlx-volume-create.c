/* nlx-volume-create.c: volumes made (a file, formatted, optionally filled
 * from a directory) and deleted in the volume directory */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/nlx-error.h"
#include "storage/nlx-volume-private.h"
#include "storage/nlx-volume.h"

#define MIB (G_GUINT64_CONSTANT (1024) * 1024)
#define VOLUME_SIZE_MIN MIB
#define VOLUME_SIZE_MAX (MIB * 1024 * 1024)
/* mkfs.xfs (xfsprogs 5.19 and later) refuses anything smaller. */
#define XFS_SIZE_MIN (300 * MIB)
#define EXT4_LABEL_MAX 16
#define XFS_LABEL_MAX 12

/* ---- create -------------------------------------------------------------- */

static char *
find_program (const char *name)
{
  char *path = g_find_program_in_path (name);

  if (path == NULL)
    path = g_build_filename ("/usr/sbin", name, NULL);
  return path;
}

/* Runs @argv (no shell) in @cwd; on failure the error carries its
 * standard error. */
static gboolean
run (const char * const *argv,
     const char *cwd,
     const char *id,
     GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status;

  if (!g_spawn_sync (cwd, (char **) argv, NULL, G_SPAWN_CLOEXEC_PIPES, NULL,
                     NULL, &out, &err, &status, &local_error))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot run %s to make volume “%s”: %s; is it "
                     "installed?"), argv[0], id, local_error->message);
      return FALSE;
    }
  if (!g_spawn_check_wait_status (status, &local_error))
    {
      g_strstrip (out);
      g_strstrip (err);
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("%s failed to make volume “%s” (%s): %s"), argv[0], id,
                   local_error->message, *err != '\0' ? err : out);
      return FALSE;
    }
  return TRUE;
}

/* A protofile token cannot hold white space, and one that starts with ':'
 * is a comment; "$" ends a directory. */
static gboolean
proto_token_ok (const char *token)
{
  return *token != '\0' && *token != ':' && !g_str_equal (token, "$") &&
         strpbrk (token, " \t\n\r\v\f") == NULL;
}

static void
proto_mode (GString *proto,
            char type,
            mode_t mode,
            const struct stat *st)
{
  g_string_append_printf (proto, "%c%c%c%03o %u %u", type,
                          (mode & S_ISUID) ? 'u' : '-',
                          (mode & S_ISGID) ? 'g' : '-',
                          (unsigned) (mode & 0777), (unsigned) st->st_uid,
                          (unsigned) st->st_gid);
}

/* Appends the entries of directory @rel (relative to the source root,
 * which is mkfs.xfs's working directory) to @proto. */
static gboolean
proto_add_dir (GString *proto,
               const char *root,
               const char *rel,
               const char *id,
               GError **error)
{
  g_autofree char *path = g_build_filename (root, rel, NULL);
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GDir) dir = g_dir_open (path, 0, &local_error);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  if (dir == NULL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot read %s to make volume “%s”: %s"), path, id,
                   local_error->message);
      return FALSE;
    }
  while ((name = g_dir_read_name (dir)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, nlx_volume_compare_strings);

  for (guint i = 0; i < names->len; i++)
    {
      const char *entry = names->pdata[i];
      g_autofree char *entry_rel = g_build_filename (rel, entry, NULL);
      g_autofree char *nlx_volume_entry_path = g_build_filename (root, entry_rel, NULL);
      struct stat st;

      if (lstat (nlx_volume_entry_path, &st) != 0)
        {
          int saved_errno = errno;

          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                       _("Cannot read %s to make volume “%s”: %s"),
                       nlx_volume_entry_path, id, g_strerror (saved_errno));
          return FALSE;
        }
      /* mkfs.ext4 -d skips sockets too: nothing can be listening. */
      if (S_ISSOCK (st.st_mode))
        continue;
      if (!proto_token_ok (entry))
        {
          g_set_error (error, NLX_DRIVER_ERROR,
                       NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                       _("Cannot copy %s into xfs volume “%s”: mkfs.xfs "
                         "cannot express a name with white space, a leading "
                         "':' or the name '$'; rename it, or make an ext4 "
                         "volume"), nlx_volume_entry_path, id);
          return FALSE;
        }
      if (st.st_mode & S_ISVTX)
        {
          g_set_error (error, NLX_DRIVER_ERROR,
                       NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                       _("Cannot copy %s into xfs volume “%s”: mkfs.xfs "
                         "cannot set the sticky bit, and dropping it would "
                         "open the directory to every user; make an ext4 "
                         "volume instead"), nlx_volume_entry_path, id);
          return FALSE;
        }

      g_string_append_printf (proto, "%s ", entry);
      if (S_ISREG (st.st_mode))
        {
          proto_mode (proto, '-', st.st_mode, &st);
          /* "./" keeps a relative path from reading as a comment. */
          g_string_append_printf (proto, " ./%s\n", entry_rel);
        }
      else if (S_ISDIR (st.st_mode))
        {
          proto_mode (proto, 'd', st.st_mode, &st);
          g_string_append_c (proto, '\n');
          if (!proto_add_dir (proto, root, entry_rel, id, error))
            return FALSE;
          g_string_append (proto, "$\n");
        }
      else if (S_ISLNK (st.st_mode))
        {
          g_autofree char *target = g_file_read_link (nlx_volume_entry_path,
                                                      &local_error);

          if (target == NULL)
            {
              g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                           _("Cannot read %s to make volume “%s”: %s"),
                           nlx_volume_entry_path, id, local_error->message);
              return FALSE;
            }
          if (!proto_token_ok (target))
            {
              g_set_error (error, NLX_DRIVER_ERROR,
                           NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                           _("Cannot copy %s into xfs volume “%s”: mkfs.xfs "
                             "cannot express its link target “%s”; make an "
                             "ext4 volume instead"), nlx_volume_entry_path, id, target);
              return FALSE;
            }
          proto_mode (proto, 'l', st.st_mode, &st);
          g_string_append_printf (proto, " %s\n", target);
        }
      else if (S_ISCHR (st.st_mode) || S_ISBLK (st.st_mode))
        {
          proto_mode (proto, S_ISCHR (st.st_mode) ? 'c' : 'b', st.st_mode,
                      &st);
          g_string_append_printf (proto, " %u %u\n", major (st.st_rdev),
                                  minor (st.st_rdev));
        }
      else if (S_ISFIFO (st.st_mode))
        {
          proto_mode (proto, 'p', st.st_mode, &st);
          g_string_append_c (proto, '\n');
        }
    }
  return TRUE;
}

/* An mkfs.xfs(8) prototype file describing the tree at @root.  Hard links
 * become separate copies; mkfs.xfs has no way to say otherwise. */
static char *
make_protofile (const char *root,
                const char *id,
                GError **error)
{
  g_autoptr(GString) proto = g_string_new ("nova-lxc\n0 0\n");
  struct stat st;

  if (stat (root, &st) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot read %s to make volume “%s”: %s"), root, id,
                   g_strerror (saved_errno));
      return NULL;
    }
  /* The root belongs to root, as with mkfs.ext4 -E root_owner=0:0. */
  g_string_append_printf (proto, "d--%03o 0 0\n",
                          (unsigned) (st.st_mode & 0777));
  if (!proto_add_dir (proto, root, ".", id, error))
    return NULL;
  g_string_append (proto, "$\n");
  return g_string_free (g_steal_pointer (&proto), FALSE);
}

/* Writes @text to @fd and closes it; FALSE with errno set if either
 * fails. */
static gboolean
write_and_close (int fd,
                 const char *text)
{
  gsize left = strlen (text);
  int saved_errno;

  while (left > 0)
    {
      ssize_t n = write (fd, text, left);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          saved_errno = errno;
          close (fd);
          errno = saved_errno;
          return FALSE;
        }
      text += n;
      left -= n;
    }
  return close (fd) == 0;
}

static gboolean
make_xfs (const char *image,
          const char *label,
          const char *from_dir,
          const char *id,
          GError **error)
{
  g_autofree char *mkfs = find_program ("mkfs.xfs");
  g_autofree char *proto = NULL;
  g_autofree char *proto_path = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) argv = NULL;
  gboolean ok;
  int fd;

  g_strv_builder_add_many (builder, mkfs, "-q", "-L", label, NULL);
  if (from_dir != NULL)
    {
      proto = make_protofile (from_dir, id, error);
      if (proto == NULL)
        return FALSE;
      proto_path = g_build_filename (g_get_tmp_dir (),
                                     "nova-lxc-proto-XXXXXX", NULL);
      fd = g_mkstemp_full (proto_path, O_RDWR | O_CLOEXEC, 0600);
      if (fd < 0 || !write_and_close (fd, proto))
        {
          int saved_errno = errno;

          if (fd >= 0)
            g_unlink (proto_path);
          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                       _("Cannot write the mkfs.xfs prototype file for "
                         "volume “%s”: %s"), id, g_strerror (saved_errno));
          return FALSE;
        }
      g_strv_builder_add_many (builder, "-p", proto_path, NULL);
    }
  g_strv_builder_add (builder, image);
  argv = g_strv_builder_end (builder);

  /* The prototype names files relative to @from_dir. */
  ok = run ((const char * const *) argv, from_dir, id, error);
  if (proto_path != NULL)
    g_unlink (proto_path);
  return ok;
}

static gboolean
make_ext4 (const char *image,
           const char *label,
           const char *from_dir,
           const char *id,
           GError **error)
{
  g_autofree char *mkfs = find_program ("mkfs.ext4");
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) argv = NULL;

  g_strv_builder_add_many (builder, mkfs, "-q", "-F", "-t", "ext4", "-L",
                           label, "-E", "root_owner=0:0", NULL);
  if (from_dir != NULL)
    g_strv_builder_add_many (builder, "-d", from_dir, NULL);
  g_strv_builder_add (builder, image);
  argv = g_strv_builder_end (builder);
  return run ((const char * const *) argv, NULL, id, error);
}

/* The entry a new volume @id gets, once it is known to be free and its
 * directory exists; %NULL with @error set otherwise. */
static char *
new_entry (const NlxVolumeSettings *settings,
           const char *id,
           GError **error)
{
  g_autofree char *entry = nlx_volume_entry_path (settings, id);
  struct stat st;

  if (lstat (entry, &st) == 0)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_EXISTS,
                   _("Volume “%s” already exists in %s"), id, settings->dir);
      return NULL;
    }
  if (g_mkdir_with_parents (settings->dir, 0700) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot create the volume directory %s: %s"),
                   settings->dir, g_strerror (saved_errno));
      return NULL;
    }
  return g_steal_pointer (&entry);
}

/* Gives the volume made as @tmp its name @entry.  Never replaces an
 * entry made meanwhile, as link(2) would not, and never gives the volume
 * two names, even for a moment: a volume with two is refused. */
static gboolean
put_in_place (const NlxVolumeSettings *settings,
              const char *id,
              const char *tmp,
              const char *entry,
              GError **error)
{
  int saved_errno;

  if (renameat2 (AT_FDCWD, tmp, AT_FDCWD, entry, RENAME_NOREPLACE) == 0)
    return TRUE;
  saved_errno = errno;
  if (saved_errno == EEXIST)
    g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_EXISTS,
                 _("Volume “%s” already exists in %s"), id, settings->dir);
  else
    g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                 _("Cannot put volume “%s” in place as %s: %s"), id,
                 entry, g_strerror (saved_errno));
  return FALSE;
}

static gboolean
check_create_args (const NlxVolumeSettings *settings G_GNUC_UNUSED,
                   const char *id,
                   guint64 size_bytes,
                   const char *fstype,
                   const char *from_dir,
                   GError **error)
{
  guint64 min = g_str_equal (fstype, "xfs") ? XFS_SIZE_MIN : VOLUME_SIZE_MIN;

  if (!nlx_volume_check_id (id, error))
    return FALSE;
  if (!g_str_equal (fstype, "ext4") && !g_str_equal (fstype, "xfs"))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Cannot make volume “%s” with a %s filesystem: nova-lxc "
                     "makes ext4 or xfs"), id, fstype);
      return FALSE;
    }
  if (size_bytes < min || size_bytes > VOLUME_SIZE_MAX)
    {
      g_autofree char *size_text = g_format_size_full (size_bytes,
                                                       G_FORMAT_SIZE_IEC_UNITS);

      if (size_bytes < min && min == XFS_SIZE_MIN)
        g_set_error (error, NLX_DRIVER_ERROR,
                     NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                     _("Cannot make xfs volume “%s” of %s: mkfs.xfs makes "
                       "nothing smaller than 300 MiB; ask for more, or make "
                       "an ext4 volume"), id, size_text);
      else
        g_set_error (error, NLX_DRIVER_ERROR,
                     NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                     _("Cannot make volume “%s” of %s (%llu bytes): a "
                       "volume is from 1 MiB to 1 TiB"), id,
                     size_text, (unsigned long long) size_bytes);
      return FALSE;
    }
  if (from_dir != NULL &&
      (!g_path_is_absolute (from_dir) ||
       !g_file_test (from_dir, G_FILE_TEST_IS_DIR)))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Cannot fill volume “%s” from “%s”: give the absolute "
                     "path of an existing directory"), id, from_dir);
      return FALSE;
    }
  return TRUE;
}

/**
 * nlx_volume_create:
 * @settings: the [volumes] settings
 * @id: the new volume's id
 * @size_bytes: its size, from 1 MiB (300 MiB for xfs) to 1 TiB
 * @fstype: (nullable): "ext4" (the default) or "xfs"
 * @from_dir: (nullable): the absolute path of a directory whose tree the
 *   new filesystem starts with, copied without mounting anything
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Makes a sparse image file in the volume directory (created 0700 if
 * missing) and a filesystem on it with mkfs, labelled with @id (cut to
 * what the filesystem allows).  The image is built under a temporary
 * name and linked into place only when complete, so the volume either
 * appears whole or not at all, and a failure leaves nothing behind.
 *
 * Returns: %TRUE if the volume was made
 */
gboolean
nlx_volume_create (const NlxVolumeSettings *settings,
                   const char *id,
                   guint64 size_bytes,
                   const char *fstype,
                   const char *from_dir,
                   GError **error)
{
  return nlx_volume_create_full (settings, id, size_bytes, fstype, from_dir,
                                 NULL, error);
}

/**
 * nlx_volume_create_full:
 * @owner: (nullable): the project the volume is made for
 *   (nlx_volume_owner_is_valid()), or %NULL for the operator's
 *
 * As nlx_volume_create(), and records @owner on the file
 * (#NLX_VOLUME_OWNER_XATTR) before it is put in place, so the volume
 * never appears without its owner.  A volume directory on a filesystem
 * without user extended attributes cannot hold owned volumes: that is
 * an error, never a volume quietly left unowned.
 *
 * Returns: %TRUE if the volume was made
 */
gboolean
nlx_volume_create_full (const NlxVolumeSettings *settings,
                        const char *id,
                        guint64 size_bytes,
                        const char *fstype,
                        const char *from_dir,
                        const char *owner,
                        GError **error)
{
  g_autofree char *entry = NULL;
  g_autofree char *tmp = NULL;
  g_autofree char *label = NULL;
  gboolean ok;
  int saved_errno;
  int fd;

  if (fstype == NULL)
    fstype = "ext4";
  if (!check_create_args (settings, id, size_bytes, fstype, from_dir, error))
    return FALSE;
  if (owner != NULL && !nlx_volume_owner_is_valid (owner))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("“%s” is not a project id: use 1 to %d letters, digits, "
                     "“-” or “_”"), owner, NLX_VOLUME_OWNER_MAX);
      return FALSE;
    }

  entry = new_entry (settings, id, error);
  if (entry == NULL)
    return FALSE;

  /* A leading '.' makes the name an invalid id: listings skip it. */
  tmp = g_strdup_printf ("%s/.%s.XXXXXX", settings->dir, id);
  fd = g_mkstemp_full (tmp, O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      saved_errno = errno;
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot create a file in the volume directory %s: %s"),
                   settings->dir, g_strerror (saved_errno));
      return FALSE;
    }
  if (ftruncate (fd, (off_t) size_bytes) != 0)
    {
      saved_errno = errno;
      close (fd);
      g_unlink (tmp);
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot size volume “%s” to %llu bytes: %s"), id,
                   (unsigned long long) size_bytes, g_strerror (saved_errno));
      return FALSE;
    }

  if (g_str_equal (fstype, "xfs"))
    {
      label = g_strndup (id, XFS_LABEL_MAX);
      ok = make_xfs (tmp, label, from_dir, id, error);
    }
  else
    {
      label = g_strndup (id, EXT4_LABEL_MAX);
      ok = make_ext4 (tmp, label, from_dir, id, error);
    }
  /* After mkfs, which may rewrite the file, and before it has its name. */
  if (ok && owner != NULL &&
      fsetxattr (fd, NLX_VOLUME_OWNER_XATTR, owner, strlen (owner), 0) != 0)
    {
      saved_errno = errno;
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot record project %s as the owner of volume “%s” "
                     "(%s on its file): %s; the volume directory %s needs a "
                     "filesystem with user extended attributes, such as "
                     "ext4 or xfs"), owner, id, NLX_VOLUME_OWNER_XATTR,
                   g_strerror (saved_errno), settings->dir);
      ok = FALSE;
    }
  if (ok && fsync (fd) != 0)
    {
      saved_errno = errno;
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot write volume “%s” to disk: %s"), id,
                   g_strerror (saved_errno));
      ok = FALSE;
    }
  close (fd);

  if (ok)
    ok = put_in_place (settings, id, tmp, entry, error);
  g_unlink (tmp);
  return ok;
}

/* ---- a host block device as a volume ------------------------------------ */

/**
 * nlx_volume_link_block_device:
 * @settings: the [volumes] settings
 * @id: the new volume's id
 * @device: the absolute path of a block device, as the caller has it
 *   (os-brick's /dev/sdX or /dev/disk/by-path/... for a Nova driver)
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Makes the volume entry @id a symbolic link to @device: the kind of
 * volume an operator makes by hand (“block”), so everything that opens
 * a volume checks it again each time (nlx_volume_open_full()).  Here,
 * before anything is made, @device must resolve to a block device within
 * [volumes] allowed_roots; then the link appears whole under its name
 * (made under a hidden one, renamed without replacing), and it is
 * opened as a volume is, which refuses a device the host uses (mounted,
 * LVM, swap, RAID) or that moved meanwhile: the link is then removed.
 * So a refusal leaves nothing.  Deleting the volume removes the link
 * only (nlx_volume_delete()), never the device.
 *
 * Returns: %TRUE if the volume was made
 */
gboolean
nlx_volume_link_block_device (const NlxVolumeSettings *settings,
                              const char *id,
                              const char *device,
                              GError **error)
{
  g_autofree char *entry = NULL;
  g_autofree char *tmp = NULL;
  g_autofree char *real = NULL;
  char *result;
  struct stat st;
  int saved_errno;
  int fd;

  if (!nlx_volume_check_id (id, error))
    return FALSE;
  if (device == NULL || !g_path_is_absolute (device))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Cannot make volume “%s” of “%s”: give the absolute "
                     "path of a block device"), id, device ? device : "");
      return FALSE;
    }
  result = realpath (device, NULL);
  if (result == NULL)
    {
      saved_errno = errno;
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Cannot make volume “%s” of %s: %s"), id, device,
                   g_strerror (saved_errno));
      return FALSE;
    }
  real = g_strdup (result);
  free (result);
  if (!nlx_volume_check_within_roots (settings, id, real, error))
    return FALSE;
  if (stat (real, &st) != 0 || !S_ISBLK (st.st_mode))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Cannot make volume “%s” of %s (%s): it is not a block "
                     "device"), id, device, real);
      return FALSE;
    }

  entry = new_entry (settings, id, error);
  if (entry == NULL)
    return FALSE;
  /* A leading '.' makes the name an invalid id: listings skip it. */
  tmp = g_strdup_printf ("%s/.%s.%08x", settings->dir, id, g_random_int ());
  if (symlink (device, tmp) != 0)
    {
      saved_errno = errno;
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot make volume “%s” in %s: %s"), id, settings->dir,
                   g_strerror (saved_errno));
      return FALSE;
    }
  if (!put_in_place (settings, id, tmp, entry, error))
    {
      g_unlink (tmp);
      return FALSE;
    }
  /* Every check an attach makes, now: a device the host holds is
   * refused here rather than at the first attach. */
  fd = nlx_volume_open (settings, id, NULL, error);
  if (fd < 0)
    {
      g_unlink (entry);
      return FALSE;
    }
  close (fd);
  return TRUE;
}

/* ---- delete -------------------------------------------------------------- */

/**
 * nlx_volume_delete:
 * @settings: the [volumes] settings
 * @id: the volume's id
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Removes the volume's entry.  An entry that is a symbolic link loses
 * the link only, never what it points to.  Whether a server still uses
 * the volume is the caller's check.
 *
 * Returns: %TRUE if the entry is gone
 */
gboolean
nlx_volume_delete (const NlxVolumeSettings *settings,
                   const char *id,
                   GError **error)
{
  g_autofree char *entry = NULL;
  struct stat st;

  if (!nlx_volume_check_id (id, error))
    return FALSE;
  entry = nlx_volume_entry_path (settings, id);
  if (lstat (entry, &st) != 0)
    {
      int saved_errno = errno;

      if (saved_errno == ENOENT)
        nlx_volume_set_not_found (settings, id, error);
      else
        g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                     _("Cannot look up volume “%s” (%s): %s"), id, entry,
                     g_strerror (saved_errno));
      return FALSE;
    }
  if (S_ISDIR (st.st_mode))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("%s is a directory, not a volume; nova-lxc does not "
                     "delete it"), entry);
      return FALSE;
    }
  if (g_unlink (entry) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot delete volume “%s” (%s): %s"), id, entry,
                   g_strerror (saved_errno));
      return FALSE;
    }
  return TRUE;
}
