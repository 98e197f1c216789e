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
 * VM's kernel first, not the host's (nlx-volume-check.c).  Volumes are
 * made and removed in nlx-volume-create.c. */
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
#include <sys/xattr.h>
#include <unistd.h>

#include "common/nlx-error.h"
#include "model/nlx-config.h"
#include "storage/nlx-volume-private.h"
#include "storage/nlx-volume.h"

#define SECTION "volumes"

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

gboolean
nlx_volume_check_id (const char *id,
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

char *
nlx_volume_entry_path (const NlxVolumeSettings *settings,
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

/* Whether @resolved (a canonical path) lies within the allowed roots;
 * if not, the error names the roots, as nlx_volume_open_full() does. */
gboolean
nlx_volume_check_within_roots (const NlxVolumeSettings *settings,
                               const char *id,
                               const char *resolved,
                               GError **error)
{
  if (within_roots (settings, resolved))
    return TRUE;
  set_outside_roots (settings, id, resolved, error);
  return FALSE;
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

  if (!nlx_volume_check_id (id, error))
    return -1;
  entry = nlx_volume_entry_path (settings, id);
  if (lstat (entry, &st) != 0)
    {
      saved_errno = errno;
      if (saved_errno == ENOENT)
        nlx_volume_set_not_found (settings, id, error);
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
  /* The exclusive claim is the check, not something to keep: it lasts
   * as long as the open file does, and a loop device bound to this
   * descriptor holds the file for as long as it exists, so every later
   * open of the volume (each checks again: the next start, the mount
   * after the attach) would find the device busy.  The same device,
   * opened again through this descriptor, without the claim. */
  if (S_ISBLK (st.st_mode))
    {
      struct stat again;
      int plain = open (proc, flags & ~(O_EXCL | O_NOFOLLOW));

      if (plain < 0 || fstat (plain, &again) != 0)
        {
          saved_errno = errno;
          if (plain >= 0)
            close (plain);
          close (fd);
          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                       _("Cannot open volume “%s” (%s) again without "
                         "claiming it: %s"), id, opened,
                       g_strerror (saved_errno));
          return -1;
        }
      if (!S_ISBLK (again.st_mode) || again.st_rdev != st.st_rdev)
        {
          close (plain);
          close (fd);
          g_set_error (error, NLX_DRIVER_ERROR,
                       NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                       _("Volume “%s” changed while it was being opened (%s "
                         "is no longer what was checked); try again"), id,
                       opened);
          return -1;
        }
      close (fd);
      fd = plain;
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

/* ---- info and list ------------------------------------------------------- */

void
nlx_volume_info_free (NlxVolumeInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->id);
  g_free (info->fstype);
  g_clear_pointer (&info->created_at, g_date_time_unref);
  g_free (info->owner);
  g_free (info);
}

/**
 * nlx_volume_set_not_found:
 *
 * Sets the error of a volume @id that is not there, also for callers
 * that hide one (another project's): both must read the same.
 */
void
nlx_volume_set_not_found (const NlxVolumeSettings *settings,
                          const char *id,
                          GError **error)
{
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_NOT_FOUND,
               _("No volume “%s” in %s; nova-lxc volume-list shows the "
                 "volumes"), id, settings->dir);
}

/* A project id as Keystone makes them, and as an operator may name one:
 * 1 to NLX_VOLUME_OWNER_MAX letters, digits, '-' or '_'. */
gboolean
nlx_volume_owner_is_valid (const char *owner)
{
  gsize length = owner != NULL ? strlen (owner) : 0;

  if (length == 0 || length > NLX_VOLUME_OWNER_MAX)
    return FALSE;
  for (gsize i = 0; i < length; i++)
    if (!g_ascii_isalnum (owner[i]) && owner[i] != '-' && owner[i] != '_')
      return FALSE;
  return TRUE;
}

/* The owner recorded on the opened volume, or NULL: none recorded (an
 * operator's volume, a block device), a filesystem without user xattrs,
 * or a value this daemon did not write.  NULL is the operator's, so
 * every doubt hides the volume from members rather than showing it. */
static char *
read_owner (int fd)
{
  char value[NLX_VOLUME_OWNER_MAX + 1];
  ssize_t length = fgetxattr (fd, NLX_VOLUME_OWNER_XATTR, value,
                              sizeof value - 1);

  if (length <= 0)
    return NULL;
  value[length] = '\0';
  return nlx_volume_owner_is_valid (value) ? g_strdup (value) : NULL;
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
  entry = nlx_volume_entry_path (settings, id);
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
  info->owner = read_owner (fd);
  close (fd);
  return g_steal_pointer (&info);
}

int
nlx_volume_compare_strings (gconstpointer a,
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
  g_ptr_array_sort (ids, nlx_volume_compare_strings);

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
