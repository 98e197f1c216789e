/* nlx-volume.c: volumes named by id, resolved under the operator's roots,
 * probed and checked before anything mounts them
 *
 * A volume is an entry of the volume directory: a filesystem image, a
 * block device node, or a symbolic link to either.  Its id is the entry's
 * name, so an id is never a path.  What an entry resolves to must lie
 * under one of [volumes] allowed_roots, checked both before and after it
 * is opened; the descriptor is what callers use from then on, never the
 * path, so a rename cannot swap the file underneath them.
 *
 * Nothing here mounts anything: the filesystem is identified with libblkid
 * (exactly one signature, of a whitelisted type), and the deep check runs
 * fsck inside libguestfs's appliance, so a hostile image meets a throwaway
 * VM's kernel first, not the host's. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/nlx-config.h"
#include "common/nlx-error.h"
#include "host/nlx-blkid.h"
#include "host/nlx-guestfs.h"
#include "storage/nlx-volume.h"

#define SECTION "volumes"

#define MIB (G_GUINT64_CONSTANT (1024) * 1024)
#define VOLUME_SIZE_MIN MIB
#define VOLUME_SIZE_MAX (MIB * 1024 * 1024)
/* mkfs.xfs (xfsprogs 5.19 and later) refuses anything smaller. */
#define XFS_SIZE_MIN (300 * MIB)
#define EXT4_LABEL_MAX 16
#define XFS_LABEL_MAX 12

/* What the appliance calls the one drive it is given. */

static const char * const default_whitelist[] = {
  NLX_VOLUME_DEFAULT_WHITELIST, NULL
};

/* ---- settings ------------------------------------------------------------ */

void
nlx_volume_settings_free (NlxVolumeSettings *settings)
{
  if (settings == NULL)
    return;
  g_free (settings->dir);
  g_strfreev (settings->allowed_roots);
  g_strfreev (settings->whitelist);
  g_free (settings);
}

static gboolean
has_glob (const char *pattern)
{
  return strpbrk (pattern, "*?[") != NULL;
}

/* The canonical form of an absolute @path: symbolic links resolved when
 * it exists, "." and ".." and doubled or trailing slashes gone always. */
static char *
canonical_path (const char *path)
{
  g_autofree char *clean = g_canonicalize_filename (path, "/");
  char *real;
  char *copy;

  if (has_glob (clean))
    return g_steal_pointer (&clean);
  real = realpath (clean, NULL);
  if (real == NULL)
    return g_steal_pointer (&clean);
  /* realpath() memory belongs to libc's allocator, not GLib's. */
  copy = g_strdup (real);
  free (real);
  return copy;
}

/* A list value, separated by commas (as in Nova's configuration) or
 * semicolons (as in GKeyFile's); NULL when unset or empty. */
static char **
get_list (GKeyFile *keyfile,
          const char *key)
{
  g_autofree char *text = nlx_config_get_string (keyfile, SECTION, key, NULL);
  g_auto(GStrv) items = NULL;
  g_autoptr(GPtrArray) list = NULL;

  if (text == NULL)
    return NULL;
  items = g_strsplit_set (text, ",;", -1);
  list = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; items[i] != NULL; i++)
    if (*g_strstrip (items[i]) != '\0')
      g_ptr_array_add (list, g_strdup (items[i]));
  if (list->len == 0)
    return NULL;
  g_ptr_array_add (list, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&list), FALSE);
}

/**
 * nlx_volume_settings_new:
 * @keyfile: (nullable): the configuration; %NULL means every default
 * @error: return location for a #NLX_CONFIG_ERROR naming the key
 *
 * Reads the `[volumes]` section: `path` (default `[DEFAULT] state_path`
 * + "/volumes"), `allowed_roots` (default: `path` alone),
 * `filesystem_whitelist` (default ext4, ext3, ext2, xfs), `verify`
 * (`none`, the default, or `fsck`) and `allow_hard_links` (default
 * false).  Lists are separated by commas or
 * semicolons.  Paths must be absolute; those that exist are resolved
 * with realpath(3), so comparisons are between canonical paths.
 *
 * Returns: (transfer full): the settings, or %NULL
 */
NlxVolumeSettings *
nlx_volume_settings_new (GKeyFile *keyfile,
                         GError **error)
{
  g_autoptr(NlxVolumeSettings) settings = g_new0 (NlxVolumeSettings, 1);
  g_autofree char *state_path = nlx_config_get_string (keyfile, "DEFAULT",
                                                       "state_path",
                                                       NLX_STATE_DIR);
  g_autofree char *dir = nlx_config_get_string (keyfile, SECTION, "path",
                                                NULL);
  g_autofree char *verify = nlx_config_get_string (keyfile, SECTION,
                                                   "verify", "none");
  g_auto(GStrv) roots = get_list (keyfile, "allowed_roots");
  g_auto(GStrv) whitelist = get_list (keyfile, "filesystem_whitelist");
  g_autofree char *hard_links = nlx_config_get_string (keyfile, SECTION,
                                                       "allow_hard_links",
                                                       "false");

  if (dir == NULL)
    {
      if (!g_path_is_absolute (state_path))
        {
          g_set_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID,
                       _("Configuration key [DEFAULT] state_path must be an "
                         "absolute path, got “%s” (the volume directory "
                         "[%s] path defaults to a directory in it)"),
                       state_path, SECTION);
          return NULL;
        }
      dir = g_build_filename (state_path, "volumes", NULL);
    }
  if (!g_path_is_absolute (dir))
    {
      g_set_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID,
                   _("Configuration key [%s] path must be an absolute path, "
                     "got “%s”"), SECTION, dir);
      return NULL;
    }
  settings->dir = canonical_path (dir);

  if (roots == NULL)
    {
      settings->allowed_roots = g_new0 (char *, 2);
      settings->allowed_roots[0] = g_strdup (settings->dir);
    }
  else
    {
      guint n = g_strv_length (roots);

      settings->allowed_roots = g_new0 (char *, n + 1);
      for (guint i = 0; i < n; i++)
        {
          if (!g_path_is_absolute (roots[i]))
            {
              g_set_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID,
                           _("Configuration key [%s] allowed_roots must list "
                             "absolute paths or patterns, got “%s”"),
                           SECTION, roots[i]);
              return NULL;
            }
          settings->allowed_roots[i] = canonical_path (roots[i]);
        }
    }

  settings->whitelist = whitelist != NULL ? g_steal_pointer (&whitelist)
                                          : g_strdupv ((char **) default_whitelist);

  if (g_ascii_strcasecmp (hard_links, "true") == 0 ||
      g_str_equal (hard_links, "1"))
    settings->allow_hard_links = TRUE;
  else if (g_ascii_strcasecmp (hard_links, "false") != 0 &&
           !g_str_equal (hard_links, "0"))
    {
      g_set_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID,
                   _("Configuration key [%s] allow_hard_links must be true "
                     "or false, got “%s”"), SECTION, hard_links);
      return NULL;
    }

  if (g_str_equal (verify, "fsck"))
    settings->verify_fsck = TRUE;
  else if (!g_str_equal (verify, "none"))
    {
      g_set_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID,
                   _("Configuration key [%s] verify must be none or fsck, "
                     "got “%s”"), SECTION, verify);
      return NULL;
    }
  return g_steal_pointer (&settings);
}

/* ---- ids and roots ------------------------------------------------------- */

static gboolean
check_id (const char *id,
          GError **error)
{
  if (nlx_volume_id_is_valid (id))
    return TRUE;
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
               _("Volume id “%s” is not a plain name: use letters, digits, "
                 "'.', '_' and '-'"), id != NULL ? id : "");
  return FALSE;
}

static gboolean
within_roots (const NlxVolumeSettings *settings,
              const char *path)
{
  for (guint i = 0; settings->allowed_roots[i] != NULL; i++)
    {
      const char *root = settings->allowed_roots[i];
      gsize len = strlen (root);

      if (has_glob (root))
        {
          if (fnmatch (root, path, FNM_PATHNAME) == 0)
            return TRUE;
        }
      else if (g_str_equal (path, root) ||
               (strncmp (path, root, len) == 0 &&
                (path[len] == '/' || (len > 0 && root[len - 1] == '/'))))
        return TRUE;
    }
  return FALSE;
}

static char *
entry_path (const NlxVolumeSettings *settings,
            const char *id)
{
  return g_build_filename (settings->dir, id, NULL);
}

static void
set_outside_roots (const NlxVolumeSettings *settings,
                   const char *id,
                   const char *resolved,
                   GError **error)
{
  g_autofree char *roots = g_strjoinv (", ", settings->allowed_roots);

  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
               _("Volume “%s” resolves to %s, outside the allowed roots "
                 "(%s); [volumes] allowed_roots lists where volumes may "
                 "live"), id, resolved, roots);
}

/* ---- open ---------------------------------------------------------------- */

/**
 * nlx_volume_open_full:
 * @settings: the [volumes] settings
 * @id: the volume's id
 * @writable: open it for writing too, for a loop device that must not
 *   carry the loop driver's read-only flag (see nlx-lxc-volume.c); the
 *   caller keeps the volume read-only by other means
 * @resolved: (out) (optional): the canonical path of what was opened
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Opens a volume, read-only unless @writable.  It must resolve, after symbolic links, to a
 * regular file or block device within [volumes] allowed_roots, both
 * before it is opened and (through /proc/self/fd) after.  A block device
 * is opened with O_EXCL, which fails while the host uses it (mounted, an
 * LVM physical volume, swap, a RAID member...), and such a device is
 * refused.  A file or node with more than one hard link is refused
 * unless [volumes] allow_hard_links is set: its other names escape every
 * check of paths.
 *
 * Returns: a file descriptor the caller closes, or -1
 */
int
nlx_volume_open_full (const NlxVolumeSettings *settings,
                      const char *id,
                      gboolean writable,
                      char **resolved,
                      GError **error)
{
  g_autofree char *entry = NULL;
  g_autofree char *real = NULL;
  g_autofree char *proc = NULL;
  g_autofree char *opened = NULL;
  g_autoptr(GError) local_error = NULL;
  struct stat st;
  char *result;
  int saved_errno;
  int flags;
  int fd;

  if (!check_id (id, error))
    return -1;
  entry = entry_path (settings, id);
  if (lstat (entry, &st) != 0)
    {
      saved_errno = errno;
      if (saved_errno == ENOENT)
        g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_NOT_FOUND,
                     _("No volume “%s” in %s; nova-lxc volume-list shows the "
                       "volumes"), id, settings->dir);
      else
        g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                     _("Cannot look up volume “%s” (%s): %s"), id, entry,
                     g_strerror (saved_errno));
      return -1;
    }

  result = realpath (entry, NULL);
  if (result == NULL)
    {
      saved_errno = errno;
      if (saved_errno == ENOENT)
        g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_NOT_FOUND,
                     _("Volume “%s” is a symbolic link to something that "
                       "does not exist; fix or delete %s"), id, entry);
      /* What the entry says is wrong, not the host: the operator's to
       * fix, and no reason for a 500. */
      else if (saved_errno == ELOOP || saved_errno == ENOTDIR ||
               saved_errno == ENAMETOOLONG)
        g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                     _("Volume “%s” cannot be resolved (%s): %s is a loop of "
                       "symbolic links or names no file; fix or delete it"),
                     id, g_strerror (saved_errno), entry);
      else
        g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                     _("Cannot resolve volume “%s” (%s): %s"), id, entry,
                     g_strerror (saved_errno));
      return -1;
    }
  real = g_strdup (result);
  free (result);

  if (!within_roots (settings, real))
    {
      set_outside_roots (settings, id, real, error);
      return -1;
    }
  /* Refuse before open(): opening a FIFO or a character device can block
   * or have side effects. */
  if (stat (real, &st) != 0)
    {
      saved_errno = errno;
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot look up volume “%s” (%s): %s"), id, real,
                   g_strerror (saved_errno));
      return -1;
    }
  if (!S_ISREG (st.st_mode) && !S_ISBLK (st.st_mode))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Volume “%s” resolves to %s, which is neither a regular "
                     "file nor a block device"), id, real);
      return -1;
    }

  /* O_EXCL without O_CREAT means something only for block devices: an
   * exclusive claim, refused while the host holds the device. */
  flags = (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY |
          O_NONBLOCK;
  if (S_ISBLK (st.st_mode))
    flags |= O_EXCL;
  fd = open (real, flags);
  if (fd < 0)
    {
      saved_errno = errno;
      if (saved_errno == EBUSY)
        g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                     _("Volume “%s” is block device %s, which is in use by "
                       "the host (mounted, an LVM physical volume, swap or "
                       "a RAID member); it cannot be given to a server"),
                     id, real);
      /* A host that keeps its own disks from every process (a sandbox,
       * a lockdown) answers EPERM: the operator's allowed_roots named a
       * device no volume can be, not a failure of this host. */
      else if (saved_errno == EPERM && S_ISBLK (st.st_mode))
        g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                     _("Volume “%s” is block device %s, which this host does "
                       "not let the daemon open (%s); it cannot be given to "
                       "a server"),
                     id, real, g_strerror (saved_errno));
      else if (writable && (saved_errno == EROFS || saved_errno == EACCES ||
                            saved_errno == EPERM || saved_errno == ETXTBSY))
        g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                     _("Cannot open volume “%s” (%s) for writing: %s; "
                       "nova-lxc never writes a volume, but attaching one "
                       "needs a writable descriptor so that the server's "
                       "device refuses to be switched to another file; make "
                       "it writable by root"), id, real, g_strerror (saved_errno));
      else
        g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                     _("Cannot open volume “%s” (%s): %s"), id, real,
                     g_strerror (saved_errno));
      return -1;
    }

  /* The path may have been swapped between the checks and open(). */
  if (fstat (fd, &st) != 0 || !(S_ISREG (st.st_mode) || S_ISBLK (st.st_mode)) ||
      (S_ISBLK (st.st_mode) && !(flags & O_EXCL)))
    {
      close (fd);
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Volume “%s” changed while it was being opened (%s is "
                     "no longer what was checked); try again"), id, real);
      return -1;
    }
  /* Another name of the same file may lie anywhere on its filesystem,
   * outside the allowed roots (a file of the host's, or another
   * volume): the path checks above see only this one. */
  if (st.st_nlink > 1 && !settings->allow_hard_links)
    {
      close (fd);
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Volume “%s” (%s) has %llu hard links, "
                     "so it may also be a file outside the allowed roots; "
                     "give the volume a file of its own, or set [volumes] "
                     "allow_hard_links = true"), id, real,
                   (unsigned long long) st.st_nlink);
      return -1;
    }
  proc = g_strdup_printf ("/proc/self/fd/%d", fd);
  opened = g_file_read_link (proc, &local_error);
  if (opened == NULL)
    {
      close (fd);
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot check what volume “%s” opened (is /proc "
                     "mounted?): %s"), id, local_error->message);
      return -1;
    }
  if (!within_roots (settings, opened))
    {
      close (fd);
      set_outside_roots (settings, id, opened, error);
      return -1;
    }
  /* O_NONBLOCK was only for open() itself. */
  if (fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) & ~O_NONBLOCK) != 0)
    {
      saved_errno = errno;
      close (fd);
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot open volume “%s” (%s): %s"), id, opened,
                   g_strerror (saved_errno));
      return -1;
    }
  if (resolved != NULL)
    *resolved = g_steal_pointer (&opened);
  return fd;
}

/**
 * nlx_volume_open:
 * @settings: the [volumes] settings
 * @id: the volume's id
 * @resolved: (out) (optional): the canonical path of what was opened
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Opens a volume read-only, as nlx_volume_open_full() does.
 *
 * Returns: a file descriptor the caller closes, or -1
 */
int
nlx_volume_open (const NlxVolumeSettings *settings,
                 const char *id,
                 char **resolved,
                 GError **error)
{
  return nlx_volume_open_full (settings, id, FALSE, resolved, error);
}

/* ---- probe --------------------------------------------------------------- */

/**
 * nlx_volume_probe:
 * @settings: the [volumes] settings
 * @fd: the volume, opened for reading; it stays open
 * @id: the volume's id, for messages
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Identifies the filesystem on @fd with libblkid, reading superblocks
 * and partition tables without mounting anything.  Refused, with
 * %NLX_DRIVER_ERROR_INVALID_ARGUMENT: no filesystem, several signatures
 * (a kernel could read it as either; counted one by one, at any size,
 * libblkid's safe probe not looking past the first on small devices), a
 * partition table, and a type not in [volumes] filesystem_whitelist.
 *
 * Returns: (transfer full): the filesystem type, e.g. "ext4", or %NULL
 */
char *
nlx_volume_probe (const NlxVolumeSettings *settings,
                  int fd,
                  const char *id,
                  GError **error)
{
  g_autofree char *allowed = g_strjoinv (", ", settings->whitelist);
  g_autoptr(GPtrArray) signatures = NULL;
  g_autofree char *type = NULL;
  g_autofree char *pttype = NULL;
  g_autoptr(GError) local_error = NULL;
  NlxBlkidFound found;

  if (!nlx_blkid_probe (fd, &found, &type, &pttype, &local_error))
    {
      if (g_error_matches (local_error, NLX_BLKID_ERROR, NLX_BLKID_ERROR_OPEN))
        g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                     _("Cannot read volume “%s” to identify its filesystem"),
                     id);
      else
        g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                     _("Cannot read volume “%s” to identify its filesystem "
                       "(libblkid failed)"), id);
      return NULL;
    }
  if (found == NLX_BLKID_FOUND_SEVERAL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Volume “%s” carries several filesystem signatures, so "
                     "a kernel could read it as either; it is refused as "
                     "ambiguous; wipefs(8) shows them"), id);
      return NULL;
    }
  if (type != NULL && pttype != NULL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Volume “%s” carries both a %s filesystem and a %s "
                     "partition table; it is refused as ambiguous; "
                     "wipefs(8) shows the signatures"), id, type, pttype);
      return NULL;
    }
  if (pttype != NULL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Volume “%s” is a partitioned disk (%s partition table), "
                     "not a filesystem; give one partition as the volume "
                     "instead"), id, pttype);
      return NULL;
    }
  if (type == NULL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Volume “%s” has no filesystem libblkid recognises (or "
                     "its superblock is damaged); only a whitelisted "
                     "filesystem can be mounted: %s"), id, allowed);
      return NULL;
    }
  signatures = nlx_blkid_list_filesystems (fd, NULL);
  if (signatures == NULL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot read volume “%s” to identify its filesystem "
                     "(libblkid failed)"), id);
      return NULL;
    }
  if (signatures->len > 1)
    {
      g_autofree char *found_types = NULL;

      g_ptr_array_add (signatures, NULL);
      found_types = g_strjoinv (", ", (char **) signatures->pdata);
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Volume “%s” carries several filesystem signatures (%s), "
                     "so a kernel could read it as either; it is refused as "
                     "ambiguous; wipefs(8) shows them"), id, found_types);
      return NULL;
    }
  if (!g_strv_contains ((const char * const *) settings->whitelist, type))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Volume “%s” holds a %s filesystem, which is not "
                     "whitelisted (%s); [volumes] filesystem_whitelist lists "
                     "what may be mounted"), id, type, allowed);
      return NULL;
    }
  return g_steal_pointer (&type);
}

/* ---- fsck in libguestfs's appliance --------------------------------------- */

/**
 * nlx_volume_fsck:
 * @path: the volume's canonical path, as nlx_volume_open() resolved it
 * @fstype: its filesystem type, as nlx_volume_probe() found it
 * @id: the volume's id, for messages
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Checks the filesystem in full inside libguestfs's appliance, with the
 * volume as a read-only drive: the host's kernel never parses it.  ext2,
 * ext3 and ext4 get a forced e2fsck, xfs gets xfs_repair -n; any error
 * found fails with %NLX_DRIVER_ERROR_INVALID_ARGUMENT.  Without a usable
 * KVM the appliance runs under TCG (direct backend, force_tcg) unless
 * LIBGUESTFS_BACKEND_SETTINGS is set; that takes seconds, so callers
 * check only before a volume's first mount.  libguestfs runs in the
 * nova-lxc-guestfs helper, never in this process (nlx-guestfs.c says
 * why).
 *
 * Returns: %TRUE if the filesystem is clean
 */
gboolean
nlx_volume_fsck (const char *path,
                 const char *fstype,
                 const char *id,
                 GError **error)
{
  return nlx_guestfs_fsck (path, fstype, id, error);
}

/* ---- info and list ------------------------------------------------------- */

void
nlx_volume_info_free (NlxVolumeInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->id);
  g_free (info->fstype);
  g_clear_pointer (&info->created_at, g_date_time_unref);
  g_free (info);
}

/**
 * nlx_volume_info:
 * @settings: the [volumes] settings
 * @id: the volume's id
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Describes a volume that nlx_volume_open() accepts.  @fstype is %NULL
 * when the probe refuses the volume; that is not an error here.
 *
 * Returns: (transfer full): the description, or %NULL
 */
NlxVolumeInfo *
nlx_volume_info (const NlxVolumeSettings *settings,
                 const char *id,
                 GError **error)
{
  g_autoptr(NlxVolumeInfo) info = NULL;
  g_autofree char *entry = NULL;
  struct stat st;
  struct stat est;
  guint64 size = 0;
  int fd;

  fd = nlx_volume_open (settings, id, NULL, error);
  if (fd < 0)
    return NULL;
  entry = entry_path (settings, id);
  if (fstat (fd, &st) != 0 || lstat (entry, &est) != 0 ||
      (S_ISBLK (st.st_mode) && ioctl (fd, BLKGETSIZE64, &size) != 0))
    {
      int saved_errno = errno;

      close (fd);
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot read the size of volume “%s”: %s"), id,
                   g_strerror (saved_errno));
      return NULL;
    }

  info = g_new0 (NlxVolumeInfo, 1);
  info->id = g_strdup (id);
  info->is_block = S_ISBLK (st.st_mode);
  info->size_bytes = info->is_block ? size : (guint64) st.st_size;
  info->fstype = nlx_volume_probe (settings, fd, id, NULL);
  info->created_at = g_date_time_new_from_unix_utc (est.st_ctim.tv_sec);
  close (fd);
  return g_steal_pointer (&info);
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/**
 * nlx_volume_list:
 * @settings: the [volumes] settings
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Lists the volume directory, sorted by id.  Entries whose names are not
 * ids (e.g. the temporary files of a volume being made) are skipped
 * silently; an entry nlx_volume_open() refuses (escaping the roots,
 * dangling, in use by the host...) is skipped with a warning naming it.
 * A volume directory that does not exist yet holds no volumes.
 *
 * Returns: (transfer full) (element-type NlxVolumeInfo): the volumes
 */
GPtrArray *
nlx_volume_list (const NlxVolumeSettings *settings,
                 GError **error)
{
  g_autoptr(GPtrArray) volumes = g_ptr_array_new_with_free_func (
    (GDestroyNotify) nlx_volume_info_free);
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GDir) dir = g_dir_open (settings->dir, 0, &local_error);
  const char *name;

  if (dir == NULL)
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return g_steal_pointer (&volumes);
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot list the volume directory: %s"),
                   local_error->message);
      return NULL;
    }
  while ((name = g_dir_read_name (dir)) != NULL)
    if (nlx_volume_id_is_valid (name))
      g_ptr_array_add (ids, g_strdup (name));
  g_ptr_array_sort (ids, compare_strings);

  for (guint i = 0; i < ids->len; i++)
    {
      NlxVolumeInfo *info = nlx_volume_info (settings, ids->pdata[i],
                                             &local_error);

      if (info == NULL)
        {
          g_warning (_("Ignoring volume %s: %s"), (char *) ids->pdata[i],
                     local_error->message);
          g_clear_error (&local_error);
          continue;
        }
      g_ptr_array_add (volumes, info);
    }
  return g_steal_pointer (&volumes);
}

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
  g_ptr_array_sort (names, compare_strings);

  for (guint i = 0; i < names->len; i++)
    {
      const char *entry = names->pdata[i];
      g_autofree char *entry_rel = g_build_filename (rel, entry, NULL);
      g_autofree char *entry_path = g_build_filename (root, entry_rel, NULL);
      struct stat st;

      if (lstat (entry_path, &st) != 0)
        {
          int saved_errno = errno;

          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                       _("Cannot read %s to make volume “%s”: %s"),
                       entry_path, id, g_strerror (saved_errno));
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
                         "volume"), entry_path, id);
          return FALSE;
        }
      if (st.st_mode & S_ISVTX)
        {
          g_set_error (error, NLX_DRIVER_ERROR,
                       NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                       _("Cannot copy %s into xfs volume “%s”: mkfs.xfs "
                         "cannot set the sticky bit, and dropping it would "
                         "open the directory to every user; make an ext4 "
                         "volume instead"), entry_path, id);
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
          g_autofree char *target = g_file_read_link (entry_path,
                                                      &local_error);

          if (target == NULL)
            {
              g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                           _("Cannot read %s to make volume “%s”: %s"),
                           entry_path, id, local_error->message);
              return FALSE;
            }
          if (!proto_token_ok (target))
            {
              g_set_error (error, NLX_DRIVER_ERROR,
                           NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                           _("Cannot copy %s into xfs volume “%s”: mkfs.xfs "
                             "cannot express its link target “%s”; make an "
                             "ext4 volume instead"), entry_path, id, target);
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

static gboolean
check_create_args (const NlxVolumeSettings *settings,
                   const char *id,
                   guint64 size_bytes,
                   const char *fstype,
                   const char *from_dir,
                   GError **error)
{
  guint64 min = g_str_equal (fstype, "xfs") ? XFS_SIZE_MIN : VOLUME_SIZE_MIN;

  if (!check_id (id, error))
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
  g_autofree char *entry = NULL;
  g_autofree char *tmp = NULL;
  g_autofree char *label = NULL;
  struct stat st;
  gboolean ok;
  int saved_errno;
  int fd;

  if (fstype == NULL)
    fstype = "ext4";
  if (!check_create_args (settings, id, size_bytes, fstype, from_dir, error))
    return FALSE;

  entry = entry_path (settings, id);
  if (lstat (entry, &st) == 0)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_EXISTS,
                   _("Volume “%s” already exists in %s"), id, settings->dir);
      return FALSE;
    }
  if (g_mkdir_with_parents (settings->dir, 0700) != 0)
    {
      saved_errno = errno;
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot create the volume directory %s: %s"),
                   settings->dir, g_strerror (saved_errno));
      return FALSE;
    }

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
  if (ok && fsync (fd) != 0)
    {
      saved_errno = errno;
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot write volume “%s” to disk: %s"), id,
                   g_strerror (saved_errno));
      ok = FALSE;
    }
  close (fd);

  /* Never replaces an entry made meanwhile, as link(2) would not, and
   * never gives the volume two names, even for a moment: a volume with
   * two is refused. */
  if (ok && renameat2 (AT_FDCWD, tmp, AT_FDCWD, entry, RENAME_NOREPLACE) != 0)
    {
      saved_errno = errno;
      if (saved_errno == EEXIST)
        g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_EXISTS,
                     _("Volume “%s” already exists in %s"), id,
                     settings->dir);
      else
        g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                     _("Cannot put volume “%s” in place as %s: %s"), id,
                     entry, g_strerror (saved_errno));
      ok = FALSE;
    }
  g_unlink (tmp);
  return ok;
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

  if (!check_id (id, error))
    return FALSE;
  entry = entry_path (settings, id);
  if (lstat (entry, &st) != 0)
    {
      int saved_errno = errno;

      if (saved_errno == ENOENT)
        g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_NOT_FOUND,
                     _("No volume “%s” in %s; nova-lxc volume-list shows the "
                       "volumes"), id, settings->dir);
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
