/* nlx-mount.c: mounts made by the host with the new mount API (fsopen,
 * fsmount, open_tree, mount_setattr), user namespaces for idmapped mounts
 *
 * A volume reaches a container as a loop device whose block device is
 * read-only (see nlx-lxc-volume.c for why it carries no loop read-only
 * flag).  When its filesystem is to be mounted, the host mounts a
 * read-only loop device of its own over that one (read-only, without
 * journal replay) with the new mount API, which gives a mount that is
 * attached nowhere, and moves that mount into the container's mount
 * namespace (nlx-mount-namespace.c), so that it never appears in the
 * host's.  The loop devices are in nlx-loop.c. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <glib-unix.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/nlx-error.h"
#include "common/nlx-file.h"
#include "common/nlx-idmap.h"
#include "host/nlx-mount-private.h"
#include "host/nlx-mount.h"

static int
sys_fsopen (const char *fstype,
            unsigned int flags)
{
  return syscall (SYS_fsopen, fstype, flags);
}

static int
sys_fsconfig (int fsfd,
              unsigned int cmd,
              const char *key,
              const void *value,
              int aux)
{
  return syscall (SYS_fsconfig, fsfd, cmd, key, value, aux);
}

static int
sys_fsmount (int fsfd,
             unsigned int flags,
             unsigned int attr_flags)
{
  return syscall (SYS_fsmount, fsfd, flags, attr_flags);
}

/* As <linux/mount.h> has it, which glibc's <sys/mount.h> conflicts with. */
struct nlx_mount_attr {
  guint64 attr_set;
  guint64 attr_clr;
  guint64 propagation;
  guint64 userns_fd;
};

static int
sys_mount_setattr (int dirfd,
                   const char *path,
                   unsigned int flags,
                   struct nlx_mount_attr *attr)
{
  return syscall (SYS_mount_setattr, dirfd, path, flags, attr, sizeof *attr);
}

static int
sys_open_tree (int dirfd,
               const char *path,
               unsigned int flags)
{
  return syscall (SYS_open_tree, dirfd, path, flags);
}

/* ---- mounts made by the host ------------------------------------------- */

/* What the kernel logged into filesystem context @fsfd ("e ext4: ..."
 * lines, see fsopen(2)), without the severity letters, appended to
 * @messages. */
static void
read_fs_context (int fsfd,
                 GString *messages)
{
  char buf[1024];
  ssize_t n;

  while ((n = read (fsfd, buf, sizeof buf - 1)) > 0)
    {
      char *line = buf;

      buf[n] = '\0';
      g_strchomp (buf);
      if (line[0] != '\0' && line[1] == ' ')
        line += 2;
      if (line[0] == '\0')
        continue;
      if (messages->len > 0)
        g_string_append (messages, "; ");
      g_string_append (messages, line);
    }
}

/* Many filesystems (ext4's "Can't find ext4 filesystem", most of
 * overlayfs) print why they refuse to the kernel log rather than into the
 * filesystem context.  A kernel log reader from now on, or -1. */
static int
kmsg_open (void)
{
  int fd = open ("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

  if (fd >= 0 && lseek (fd, 0, SEEK_END) < 0)
    close_fd (&fd);
  return fd;
}

static gboolean
mentions_word (const char *text,
               const char *word)
{
  size_t len = strlen (word);

  for (const char *p = strstr (text, word); p != NULL;
       p = strstr (p + 1, word))
    if ((p == text || !g_ascii_isalnum (p[-1])) && !g_ascii_isalnum (p[len]))
      return TRUE;
  return FALSE;
}

/* Appends the kernel log's records since kmsg_open() that mention @word
 * (the device's kernel name, e.g. "loop3", or "overlayfs"). */
static void
read_kmsg (int kmsg_fd,
           const char *word,
           GString *messages)
{
  char buf[8192];
  ssize_t n;

  if (kmsg_fd < 0 || word == NULL)
    return;
  for (;;)
    {
      char *text;
      char *end;

      n = read (kmsg_fd, buf, sizeof buf - 1);
      if (n < 0 && errno == EPIPE)
        continue;  /* records lost to a full ring; read on */
      if (n <= 0)
        break;
      buf[n] = '\0';
      /* "priority,sequence,time,flags;text\n KEY=value..." */
      text = strchr (buf, ';');
      if (text == NULL)
        continue;
      text++;
      end = strchr (text, '\n');
      if (end != NULL)
        *end = '\0';
      if (text[0] == '\0' || !mentions_word (text, word))
        continue;
      if (messages->len > 0)
        g_string_append (messages, "; ");
      g_string_append (messages, text);
    }
}

/* The kernel's name of block device @device ("loop3" for /dev/loop3). */
static char *
kernel_device_name (const char *device)
{
  g_autofree char *real = realpath (device, NULL);

  return g_path_get_basename (real != NULL ? real : device);
}

/* An error for a failed step of making a filesystem, with the kernel's
 * own words when it left some in @fsfd or in its log about @word; a
 * filesystem the kernel finds bad is the request's fault, not the
 * host's. */
static void
set_fs_error (GError **error,
              int fsfd,
              int kmsg_fd,
              const char *word,
              int saved_errno,
              const char *source,
              const char *fstype)
{
  g_autoptr(GString) messages = g_string_new (NULL);
  g_autofree char *detail = NULL;

  if (fsfd >= 0)
    read_fs_context (fsfd, messages);
  read_kmsg (kmsg_fd, word, messages);
  if (messages->len > 0)
    detail = g_strdup_printf ("%s (%s)", messages->str,
                              g_strerror (saved_errno));
  else
    detail = g_strdup (g_strerror (saved_errno));
  if (saved_errno == EINVAL || saved_errno == ENOTBLK ||
      saved_errno == EUCLEAN || saved_errno == EBADMSG)
    g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                 _("The kernel refused to mount %s as %s: %s"), source,
                 fstype, detail);
  else
    g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                 _("Cannot mount %s as %s: %s"), source, fstype, detail);
}

static int
fs_open (const char *fstype,
         const char *source,
         GError **error)
{
  int fsfd = sys_fsopen (fstype, FSOPEN_CLOEXEC);

  if (fsfd < 0)
    {
      int saved_errno = errno;

      if (saved_errno == ENODEV)
        g_set_error (error, NLX_DRIVER_ERROR,
                     NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                     _("Cannot mount %s: this kernel has no filesystem of "
                       "type %s"), source, fstype);
      else
        set_fs_error (error, -1, -1, NULL, saved_errno, source, fstype);
    }
  return fsfd;
}

/* Whether /proc/filesystems lists @fstype as one kept on a block device
 * (no "nodev" mark); only such types may be mounted from a volume. */
static gboolean
fstype_is_on_block_device (const char *fstype)
{
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;

  if (!nlx_file_get_contents ("/proc/filesystems", &contents, NULL, NULL))
    return FALSE;
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *tab = strchr (lines[i], '\t');

      if (tab != NULL && strcmp (tab + 1, fstype) == 0)
        return tab == lines[i];
    }
  return FALSE;
}

/**
 * nlx_mount_prepare:
 * @device: a block device, normally a read-only loop device
 * @fstype: its filesystem type, as checked by the caller (e.g. "ext4")
 * @for_root: whether it is to be a container's root filesystem
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Mounts @device read-only, attached nowhere yet: place it with
 * nlx_mount_into_namespace() or nlx_mount_at(); closing the descriptor
 * unplaced unmounts it.  The filesystem is asked not to replay its
 * journal (ext3/ext4 "noload", xfs "norecovery"), so a dirty journal is
 * ignored rather than written, and the mount is nodev, and also nosuid
 * and noexec unless @for_root.  ext2, ext3 and ext4 are mounted with
 * errors=remount-ro whatever their superblock asks for (errors=panic
 * would let a corrupt image panic the host).  Only filesystem types that live on a
 * block device are accepted.
 *
 * A filesystem the kernel refuses gives %NLX_DRIVER_ERROR_INVALID_ARGUMENT
 * with the kernel's own message.
 *
 * Returns: a close-on-exec descriptor of the detached mount, or -1
 */
int
nlx_mount_prepare (const char *device,
                   const char *fstype,
                   gboolean for_root,
                   GError **error)
{
  unsigned int attrs = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV;
  g_autofree char *kernel_name = NULL;
  int kmsg_fd = -1;
  int fsfd;
  int mfd;

  if (fstype == NULL || fstype[0] == '\0' || strchr (fstype, '/') != NULL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Cannot mount %s: “%s” is not a filesystem type"),
                   device, fstype ? fstype : "");
      return -1;
    }
  if (!for_root)
    attrs |= MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC;

  fsfd = fs_open (fstype, device, error);
  if (fsfd < 0)
    return -1;
  /* Checked after fsopen(), which loads the filesystem's module. */
  if (!fstype_is_on_block_device (fstype))
    {
      close (fsfd);
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Cannot mount %s: %s is not a filesystem kept on a "
                     "block device"), device, fstype);
      return -1;
    }
  kernel_name = kernel_device_name (device);
  if (sys_fsconfig (fsfd, FSCONFIG_SET_STRING, "source", device, 0) < 0 ||
      sys_fsconfig (fsfd, FSCONFIG_SET_FLAG, "ro", NULL, 0) < 0)
    goto fail;
  /* The image's own error behaviour (tune2fs -e panic, or
   * errors=panic in its mount_opts) would otherwise stay in force, and
   * ext4 panics on an error even when mounted read-only: one bad block
   * the tenant wrote would take the host down.  An option given here
   * wins over both.  xfs has no such option: it shuts the filesystem
   * down, and only the host's own fs.xfs.panic_mask makes that a
   * panic. */
  if ((strcmp (fstype, "ext2") == 0 || strcmp (fstype, "ext3") == 0 ||
       strcmp (fstype, "ext4") == 0) &&
      sys_fsconfig (fsfd, FSCONFIG_SET_STRING, "errors", "remount-ro", 0) < 0)
    goto fail;
  /* ext2 has no journal, and the ext4 driver that serves it accepts
   * "noload" here only to refuse the mount at creation ("Mount
   * option(s) incompatible with ext2"): it gets none. */
  if (strcmp (fstype, "ext3") == 0 || strcmp (fstype, "ext4") == 0)
    {
      if (sys_fsconfig (fsfd, FSCONFIG_SET_FLAG, "noload", NULL, 0) < 0)
        goto fail;
    }
  else if (strcmp (fstype, "xfs") == 0)
    {
      if (sys_fsconfig (fsfd, FSCONFIG_SET_FLAG, "norecovery", NULL, 0) < 0)
        goto fail;
    }
  kmsg_fd = kmsg_open ();
  if (sys_fsconfig (fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
    goto fail;
  mfd = sys_fsmount (fsfd, FSMOUNT_CLOEXEC, attrs);
  if (mfd < 0)
    goto fail;
  close_fd (&kmsg_fd);
  close (fsfd);
  return mfd;

fail:
  {
    int saved_errno = errno;

    set_fs_error (error, fsfd, kmsg_fd, kernel_name, saved_errno, device,
                  fstype);
    close_fd (&kmsg_fd);
    close (fsfd);
  }
  return -1;
}

/* Opens directory @path of this namespace to mount on, refusing a
 * symbolic link in its place. */
static int
open_target (const char *path,
             GError **error)
{
  int fd;

  if (path == NULL || !g_path_is_absolute (path))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Cannot mount on “%s”: not an absolute path"),
                   path ? path : "");
      return -1;
    }
  fd = open (path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    {
      int saved_errno = errno;

      if (saved_errno == ELOOP || saved_errno == ENOTDIR)
        g_set_error (error, NLX_DRIVER_ERROR,
                     NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                     _("Cannot mount on %s: it is a symbolic link or not a "
                       "directory"), path);
      else
        g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                     _("Cannot mount on %s: %s"), path,
                     g_strerror (saved_errno));
    }
  return fd;
}

/**
 * nlx_mount_at:
 * @mount_fd: a detached mount from nlx_mount_prepare()
 * @path: an existing directory of the daemon's own mount namespace; not
 *   a symbolic link
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Attaches @mount_fd at @path, e.g. as the lower layer of a root
 * filesystem.  The caller still closes @mount_fd.
 */
gboolean
nlx_mount_at (int mount_fd,
              const char *path,
              GError **error)
{
  int target = open_target (path, error);

  if (target < 0)
    return FALSE;
  if (sys_move_mount (mount_fd, "", target, "",
                      MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
    {
      int saved_errno = errno;

      close (target);
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot mount on %s: %s"), path,
                   g_strerror (saved_errno));
      return FALSE;
    }
  close (target);
  return TRUE;
}

/**
 * nlx_mount_writable_ext4:
 * @device: a block device holding an ext4 the host made itself (an
 *   instance's writable layer), never one a tenant gave
 * @path: an existing directory of the daemon's own mount namespace; not
 *   a symbolic link
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Mounts @device read-write at @path, nodev and nosuid (the host never
 * runs or opens what is there: the instance sees it through its
 * overlay, whose own flags count), with errors=remount-ro whatever the
 * superblock says (an error must never panic the host), discard (space
 * the instance frees goes back to the host) and noinit_itable (the file
 * underneath is sparse, so its inode tables read as zeroes already and
 * need no background zeroing).
 */
gboolean
nlx_mount_writable_ext4 (const char *device,
                         const char *path,
                         GError **error)
{
  g_autofree char *kernel_name = kernel_device_name (device);
  int kmsg_fd = -1;
  int fsfd;
  int mfd = -1;
  gboolean ok;

  fsfd = fs_open ("ext4", device, error);
  if (fsfd < 0)
    return FALSE;
  kmsg_fd = kmsg_open ();
  if (sys_fsconfig (fsfd, FSCONFIG_SET_STRING, "source", device, 0) < 0 ||
      sys_fsconfig (fsfd, FSCONFIG_SET_STRING, "errors", "remount-ro", 0) < 0 ||
      sys_fsconfig (fsfd, FSCONFIG_SET_FLAG, "discard", NULL, 0) < 0 ||
      sys_fsconfig (fsfd, FSCONFIG_SET_FLAG, "noinit_itable", NULL, 0) < 0 ||
      sys_fsconfig (fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0 ||
      (mfd = sys_fsmount (fsfd, FSMOUNT_CLOEXEC,
                          MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID)) < 0)
    {
      set_fs_error (error, fsfd, kmsg_fd, kernel_name, errno, device, "ext4");
      ok = FALSE;
    }
  else
    ok = nlx_mount_at (mfd, path, error);
  close_fd (&mfd);
  close_fd (&kmsg_fd);
  close (fsfd);
  return ok;
}

static gboolean
overlay_value_is_valid (const char *what,
                        const char *value,
                        GError **error)
{
  /* ':' separates lower layers and '\' escapes it; ',' separates options
   * in every other way of giving them: none may reach the kernel. */
  if (value == NULL || !g_path_is_absolute (value) ||
      strpbrk (value, ",:\\") != NULL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Cannot use “%s” as the overlay's %s: it must be an "
                     "absolute path without “,”, “:” or “\\”"),
                   value ? value : "", what);
      return FALSE;
    }
  return TRUE;
}

/* The overlay's layers, given to the kernel relative to the directory
 * that holds its mount point when they lie below it. */
typedef struct
{
  int fsfd;
  int dirfd;
  const char *values[3];
  int saved_errno;
} OverlayLayers;

static const char *const layer_keys[] = { "lowerdir", "upperdir", "workdir" };

/* overlayfs shows each layer in the mount table as it was given, and
 * every reader of a mount table (libvirtd, and each libvirt_lxc
 * controller and container at every start) escapes those strings again:
 * with a thousand instances, the absolute paths were most of the
 * machine's time spent booting.  A relative path is resolved from the
 * working directory, which threads share; this short-lived thread gets
 * one of its own. */
static gpointer
set_layers (gpointer data)
{
  OverlayLayers *layers = data;

  if (unshare (CLONE_FS) < 0 || fchdir (layers->dirfd) < 0)
    {
      layers->saved_errno = errno;
      return NULL;
    }
  for (guint i = 0; i < G_N_ELEMENTS (layer_keys); i++)
    if (sys_fsconfig (layers->fsfd, FSCONFIG_SET_STRING, layer_keys[i],
                      layers->values[i], 0) < 0)
      {
        layers->saved_errno = errno;
        return NULL;
      }
  return NULL;
}

/* @path relative to @base when below it, else @path. */
static const char *
below (const char *path,
       const char *base)
{
  size_t len = strlen (base);

  if (strncmp (path, base, len) == 0 && path[len] == '/' && path[len + 1] != '\0')
    return path + len + 1;
  return path;
}

/**
 * nlx_mount_overlay:
 * @lower: the read-only lower directory
 * @upper: the directory that receives writes
 * @work: overlayfs's work directory, on the filesystem of @upper
 * @target: the existing directory to mount the overlay on
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Mounts an overlay of @upper over @lower at @target, nodev.  Paths
 * holding ',', ':' or '\' are refused: overlayfs would read them as
 * separators.  The mount table shows the layers below @target's parent
 * relative to it ("lowerdir=lower,upperdir=disk/upper,...").
 */
gboolean
nlx_mount_overlay (const char *lower,
                   const char *upper,
                   const char *work,
                   const char *target,
                   GError **error)
{
  int fsfd = -1;
  int mfd = -1;
  int kmsg_fd = -1;
  int target_fd;
  g_autofree char *base = NULL;
  OverlayLayers layers = { .dirfd = -1 };
  gboolean ok;

  if (!overlay_value_is_valid ("lower directory", lower, error) ||
      !overlay_value_is_valid ("upper directory", upper, error) ||
      !overlay_value_is_valid ("work directory", work, error))
    return FALSE;
  target_fd = open_target (target, error);
  if (target_fd < 0)
    return FALSE;
  fsfd = fs_open ("overlay", target, error);
  if (fsfd < 0)
    {
      close (target_fd);
      return FALSE;
    }
  kmsg_fd = kmsg_open ();
  base = g_path_get_dirname (target);
  layers.fsfd = fsfd;
  layers.dirfd = open (base, O_PATH | O_DIRECTORY | O_CLOEXEC);
  layers.values[0] = below (lower, base);
  layers.values[1] = below (upper, base);
  layers.values[2] = below (work, base);
  if (layers.dirfd < 0)
    layers.saved_errno = errno;
  else
    {
      GThread *thread = g_thread_try_new ("nlx-overlay", set_layers, &layers,
                                          NULL);

      if (thread == NULL)
        layers.saved_errno = EAGAIN;
      else
        g_thread_join (thread);
    }
  close_fd (&layers.dirfd);
  if (layers.saved_errno != 0)
    {
      set_fs_error (error, fsfd, kmsg_fd, "overlayfs", layers.saved_errno,
                    target, "overlay");
      ok = FALSE;
    }
  else if (sys_fsconfig (fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0 ||
           (mfd = sys_fsmount (fsfd, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV)) < 0)
    {
      set_fs_error (error, fsfd, kmsg_fd, "overlayfs", errno, target,
                    "overlay");
      ok = FALSE;
    }
  else if (sys_move_mount (mfd, "", target_fd, "",
                           MOVE_MOUNT_F_EMPTY_PATH |
                           MOVE_MOUNT_T_EMPTY_PATH) < 0)
    {
      int saved_errno = errno;

      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot mount the overlay on %s: %s"), target,
                   g_strerror (saved_errno));
      ok = FALSE;
    }
  else
    ok = TRUE;
  close_fd (&mfd);
  close_fd (&fsfd);
  close_fd (&kmsg_fd);
  close (target_fd);
  return ok;
}

/**
 * nlx_mount_is_mount_point:
 * @path: a path of the daemon's mount namespace, or one through
 *   /proc/PID/root into a namespace whose paths the daemon made itself
 *   (libvirtd's; never a container's, whose links are its tenant's)
 *
 * What nlx_mount_is_in_namespace() says for the daemon's own namespace,
 * from one statx() rather than its whole mount table, which holds three
 * mounts per instance: read at every spawn and destroy, it cost a
 * thousand instances the most of their spawns' time in the kernel.
 * Linux 5.12, which idmapped mounts need, has STATX_ATTR_MOUNT_ROOT.
 *
 * Returns: whether @path, not followed if a symbolic link, is the root
 *   of a mount
 */
gboolean
nlx_mount_is_mount_point (const char *path)
{
  struct statx stx;

  if (syscall (SYS_statx, AT_FDCWD, path,
               AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_BASIC_STATS,
               &stx) != 0)
    return FALSE;
  return (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
         (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

/**
 * nlx_umount:
 * @path: a mount point of the daemon's mount namespace
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Unmounts @path, never following a symbolic link there.  Nothing
 * mounted (or no @path at all) is no error.  A busy mount is detached
 * lazily: it is gone from @path at once and the kernel lets it go when
 * its last user does.
 */
gboolean
nlx_umount (const char *path,
            GError **error)
{
  int rc = umount2 (path, UMOUNT_NOFOLLOW);

  if (rc < 0 && errno == EBUSY)
    rc = umount2 (path, UMOUNT_NOFOLLOW | MNT_DETACH);
  if (rc == 0 || errno == EINVAL || errno == ENOENT)
    return TRUE;
  {
    int saved_errno = errno;

    g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                 _("Cannot unmount %s: %s"), path, g_strerror (saved_errno));
  }
  return FALSE;
}

/* ---- user namespaces and idmapped mounts ---------------------------------- */

static gboolean
write_map (pid_t pid,
           const char *file,
           const char *text,
           GError **error)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/%s", (int) pid, file);
  g_autoptr(GError) local_error = NULL;

  if (g_file_set_contents_full (path, text, -1, G_FILE_SET_CONTENTS_NONE, 0,
                                &local_error))
    return TRUE;
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
               _("Cannot write the user namespace's %s: %s"), file,
               local_error->message);
  return FALSE;
}

/**
 * nlx_userns_open:
 * @uid_map: (element-type NlxIdMapRange): uids inside -> host uids
 * @gid_map: (element-type NlxIdMapRange): gids inside -> host gids
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Makes a user namespace with these maps and nothing in it, as
 * mount_setattr(MOUNT_ATTR_IDMAP) wants one.  A forked child unshares it
 * and is gone before this returns; the namespace lives on through the fd.
 *
 * Returns: an fd of the namespace, or -1
 */
int
nlx_userns_open (GArray *uid_map,
                 GArray *gid_map,
                 GError **error)
{
  g_autofree char *uids = nlx_idmap_to_kernel (uid_map);
  g_autofree char *gids = nlx_idmap_to_kernel (gid_map);
  g_autofree char *ns_path = NULL;
  int ready[2], hold[2];
  gboolean ok = FALSE;
  char byte = 0;
  pid_t pid;
  int fd = -1;

  if (!g_unix_open_pipe (ready, FD_CLOEXEC, error))
    return -1;
  if (!g_unix_open_pipe (hold, FD_CLOEXEC, error))
    {
      close (ready[0]);
      close (ready[1]);
      return -1;
    }
  pid = fork ();
  if (pid == 0)
    {
      /* Only raw system calls here: another thread may hold a lock.
       * Without its copy of the write end, the read below ends when the
       * parent closes its own. */
      close (hold[1]);
      close (ready[0]);
      byte = unshare (CLONE_NEWUSER) == 0 ? 1 : 0;
      if (write (ready[1], &byte, 1) != 1)
        _exit (1);
      /* Until the parent has the namespace's fd. */
      while (read (hold[0], &byte, 1) < 0 && errno == EINTR)
        ;
      _exit (0);
    }
  close (ready[1]);
  close (hold[0]);
  if (pid < 0)
    g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                 _("Cannot fork to make a user namespace: %s"),
                 g_strerror (errno));
  else if (read (ready[0], &byte, 1) != 1 || byte != 1)
    g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                 _("Cannot make a user namespace (is "
                   "kernel.unprivileged_userns_clone or user.max_user_namespaces "
                   "zero?)"));
  else if (write_map (pid, "uid_map", uids, error) &&
           write_map (pid, "setgroups", "deny", error) &&
           write_map (pid, "gid_map", gids, error))
    {
      ns_path = g_strdup_printf ("/proc/%d/ns/user", (int) pid);
      fd = open (ns_path, O_RDONLY | O_CLOEXEC);
      ok = fd >= 0;
      if (!ok)
        g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                     _("Cannot open %s: %s"), ns_path, g_strerror (errno));
    }
  close (ready[0]);
  close (hold[1]);
  if (pid > 0)
    waitpid (pid, NULL, 0);
  return ok ? fd : -1;
}

/**
 * nlx_mount_idmap:
 * @mount_fd: a detached mount (from nlx_mount_prepare() or open_tree)
 * @userns_fd: a user namespace from nlx_userns_open()
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Makes the detached mount idmapped and read-only: a file owned by id N
 * on disk shows as the host id N maps to, so an image owned by root
 * serves an instance whose root is an unprivileged host uid, without
 * changing a byte of the image.
 */
gboolean
nlx_mount_idmap (int mount_fd,
                 int userns_fd,
                 GError **error)
{
  struct nlx_mount_attr attr = {
    .attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_RDONLY,
    .userns_fd = (guint64) userns_fd,
  };

  if (sys_mount_setattr (mount_fd, "", AT_EMPTY_PATH, &attr) == 0)
    return TRUE;
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
               _("Cannot make an idmapped mount: %s (the filesystem must "
                 "support idmapped mounts)"), g_strerror (errno));
  return FALSE;
}

/**
 * nlx_mount_idmapped:
 * @source: a host directory
 * @userns_fd: a user namespace from nlx_userns_open()
 * @target: an existing directory to mount on
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Mounts @source at @target read-only and idmapped (nlx_mount_idmap()),
 * without what is mounted below @source.
 */
gboolean
nlx_mount_idmapped (const char *source,
                    int userns_fd,
                    const char *target,
                    GError **error)
{
  int fd = sys_open_tree (AT_FDCWD, source, OPEN_TREE_CLONE | O_CLOEXEC);
  gboolean ok;

  if (fd < 0)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot open %s to mount it idmapped: %s"), source,
                   g_strerror (errno));
      return FALSE;
    }
  ok = nlx_mount_idmap (fd, userns_fd, error) && nlx_mount_at (fd, target, error);
  close (fd);
  return ok;
}

/* A detached copy of the mount at @source, private (a clone of a shared
 * mount, as the host's / is, would join its peer group: then mounts
 * would propagate between the copy and the host), with @attr_set. */
static int
clone_with (int dirfd,
            const char *source,
            guint64 attr_set,
            GError **error)
{
  struct nlx_mount_attr attr = {
    .attr_set = attr_set,
    .propagation = MS_PRIVATE,
  };
  int fd = sys_open_tree (dirfd, dirfd == AT_FDCWD ? source : "",
                          OPEN_TREE_CLONE | O_CLOEXEC |
                          (dirfd == AT_FDCWD ? 0 : AT_EMPTY_PATH));

  if (fd < 0 || sys_mount_setattr (fd, "", AT_EMPTY_PATH, &attr) != 0)
    {
      int saved_errno = errno;

      if (fd >= 0)
        close (fd);
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot make a copy of the mount at %s: %s"), source,
                   g_strerror (saved_errno));
      return -1;
    }
  return fd;
}

/**
 * nlx_mount_clone_as_is:
 * @source: the root of a mount of the daemon's, e.g. an instance's root
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * A detached copy of the mount at @source with its own options (exec,
 * suid and devices stay as they are), private, for
 * nlx_mount_into_namespace(): the same tree seen by another mount
 * namespace, which receives nothing later mounted on either copy.
 *
 * Returns: the mount's descriptor (close-on-exec), or -1
 */
int
nlx_mount_clone_as_is (const char *source,
                       GError **error)
{
  return clone_with (AT_FDCWD, source, 0, error);
}

/**
 * nlx_mount_make_private:
 * @path: a directory of the daemon's mount namespace
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Makes @path a mount point of its own (a recursive bind mount onto
 * itself, unless it is one already) whose propagation is private, with
 * everything mounted below it: what is mounted there later reaches no
 * other mount namespace, however many copy the daemon's.
 */
gboolean
nlx_mount_make_private (const char *path,
                        GError **error)
{
  if ((!nlx_mount_is_mount_point (path) &&
       mount (path, path, NULL, MS_BIND | MS_REC, NULL) != 0) ||
      mount (NULL, path, NULL, MS_PRIVATE | MS_REC, NULL) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot make %s a private mount point: %s"), path,
                   g_strerror (saved_errno));
      return FALSE;
    }
  return TRUE;
}

/**
 * nlx_mount_clone:
 * @source: a host file or directory, e.g. one of lxcfs's files
 * @read_only: whether the copy is read-only
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * A detached bind mount of @source (without what is mounted below it),
 * private, nosuid, nodev and noexec, for nlx_mount_into_namespace() or
 * nlx_mount_file_into_namespace().
 *
 * Returns: the mount's descriptor (close-on-exec), or -1
 */
int
nlx_mount_clone (const char *source,
                 gboolean read_only,
                 GError **error)
{
  return nlx_mount_clone_at (AT_FDCWD, source, read_only, error);
}

/**
 * nlx_mount_clone_at:
 * @fd: an O_PATH descriptor of @source, or %AT_FDCWD to look @source up
 * @source: what @fd is, for messages (the path to it)
 * @read_only: whether the copy is read-only
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * As nlx_mount_clone(), of what @fd is: no path is walked, which on a
 * FUSE filesystem such as lxcfs is a round trip to its daemon at every
 * component.
 *
 * Returns: the mount's descriptor (close-on-exec), or -1
 */
int
nlx_mount_clone_at (int fd,
                    const char *source,
                    gboolean read_only,
                    GError **error)
{
  return clone_with (fd, source,
                     MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC |
                     (read_only ? MOUNT_ATTR_RDONLY : 0), error);
}
