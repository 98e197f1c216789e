/* nlx-lxc-proc.c: what an instance reads of the host in /proc
 *
 * libvirt mounts a procfs of the container's pid namespace at /proc,
 * whose memory, CPU, uptime and load files are the host's (libvirt's own
 * FUSE /proc/meminfo has the limit but cannot seek, so procps 4's `free`
 * fails on it), and whose boot_id is the host's.  As LXC and LXD do, the
 * daemon bind-mounts over those files, from the host, into the
 * container's mount namespace once its init runs (lxcfs's files, which
 * answer each reader from its own cgroups, and a file holding a fresh
 * uuid for boot_id); the container, without sys_admin, cannot unmount
 * them. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <glib/gi18n-lib.h>

#include "common/nlx-error.h"
#include "common/nlx-file.h"
#include "host/nlx-mount.h"
#include "lxc/nlx-lxc-proc.h"

/* What lxcfs 5 serves, each over the same path in the container: its
 * proc/ files over /proc's, and its CPU directory over /sys's, where
 * glibc's get_nprocs() reads `online`.  Only those lxcfs has are
 * mounted, so an older lxcfs serves fewer.  meminfo first: it is the one
 * asked whether lxcfs answers. */
static const struct {
  const char *source;           /* below lxcfs_path */
  const char *target;           /* in the container */
  gboolean file;
} lxcfs_sources[] = {
  { "proc/meminfo", "/proc/meminfo", TRUE },
  { "proc/cpuinfo", "/proc/cpuinfo", TRUE },
  { "proc/diskstats", "/proc/diskstats", TRUE },
  { "proc/loadavg", "/proc/loadavg", TRUE },
  { "proc/slabinfo", "/proc/slabinfo", TRUE },
  { "proc/stat", "/proc/stat", TRUE },
  { "proc/swaps", "/proc/swaps", TRUE },
  { "proc/uptime", "/proc/uptime", TRUE },
  { "sys/devices/system/cpu", "/sys/devices/system/cpu", FALSE },
};

struct _NlxLxcLxcfs
{
  char *path;
  /* Held while the sources are opened or cloned: spawns run at once. */
  GMutex lock;
  /* An O_PATH descriptor of each of lxcfs_sources, -1 where this lxcfs
   * has none or none is open.  Opened once and cloned at every boot:
   * every walk of a path into lxcfs is a round trip to its daemon, and
   * the seventeen of a boot took 5.4 ms of it.  A restarted lxcfs is a
   * new filesystem, where the old descriptors answer ENOTCONN: they are
   * opened again. */
  int sources[G_N_ELEMENTS (lxcfs_sources)];
};

#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"
/* lxcfs's files, its CPU directory and boot_id */
#define MAX_TARGETS (G_N_ELEMENTS (lxcfs_sources) + 1)

/* Writes a new boot_id file in @dir, returns a detached read-only mount
 * of it, or -1.  Replaced by a rename, but not fsync()ed: every boot
 * writes a new one, so a crash that loses it loses nothing, and two
 * fsyncs a boot cost more than the rest of the daemon's part of it.  The
 * file is replaced, never rewritten, so an earlier boot's mount (a
 * container that lives on) keeps its own. */
static int
boot_id_prepare (const char *dir,
                 GError **error)
{
  g_autofree char *path = g_build_filename (dir, NLX_LXC_BOOT_ID_FILE, NULL);
  g_autofree char *uuid = g_uuid_string_random ();
  g_autofree char *text = g_strconcat (uuid, "\n", NULL);
  g_autoptr(GError) local_error = NULL;
  g_autofree char *tmp = NULL;
  int fd;

  fd = nlx_file_write_temporary (path, text, -1, 0444, &tmp, &local_error);
  if (fd < 0 || !nlx_file_sync_temporary (tmp, fd, FALSE, &local_error) ||
      !nlx_file_rename_temporary (tmp, path, &local_error))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot write the boot id of the instance in %s: %s"),
                   dir, local_error->message);
      return -1;
    }
  return nlx_mount_clone (path, TRUE, error);
}

/**
 * nlx_lxc_lxcfs_new:
 * @path: where lxcfs is mounted
 *
 * What instances get of the lxcfs at @path, looked at only when they
 * boot (or nlx_lxc_lxcfs_check() asks).
 */
NlxLxcLxcfs *
nlx_lxc_lxcfs_new (const char *path)
{
  NlxLxcLxcfs *lxcfs = g_new0 (NlxLxcLxcfs, 1);

  lxcfs->path = g_strdup (path);
  g_mutex_init (&lxcfs->lock);
  for (gsize i = 0; i < G_N_ELEMENTS (lxcfs->sources); i++)
    lxcfs->sources[i] = -1;
  return lxcfs;
}

static void
close_sources (NlxLxcLxcfs *lxcfs)
{
  for (gsize i = 0; i < G_N_ELEMENTS (lxcfs->sources); i++)
    if (lxcfs->sources[i] >= 0)
      {
        close (lxcfs->sources[i]);
        lxcfs->sources[i] = -1;
      }
}

void
nlx_lxc_lxcfs_free (NlxLxcLxcfs *lxcfs)
{
  close_sources (lxcfs);
  g_mutex_clear (&lxcfs->lock);
  g_free (lxcfs->path);
  g_free (lxcfs);
}

/* Whether the lxcfs the sources are of answers: a dead one answers
 * ENOTCONN, even for attributes the kernel keeps, with FORCE_SYNC. */
static gboolean
sources_answer (NlxLxcLxcfs *lxcfs)
{
  struct statx stx;

  return lxcfs->sources[0] >= 0 &&
         syscall (SYS_statx, lxcfs->sources[0], "",
                  AT_EMPTY_PATH | AT_STATX_FORCE_SYNC, STATX_TYPE, &stx) == 0;
}

/* Opens the sources, by path, anew.  Whether lxcfs answers is asked of
 * its meminfo; a source missing, or of the wrong kind, is left out. */
static gboolean
open_sources (NlxLxcLxcfs *lxcfs,
              GError **error)
{
  close_sources (lxcfs);
  for (gsize i = 0; i < G_N_ELEMENTS (lxcfs_sources); i++)
    {
      g_autofree char *path = g_build_filename (lxcfs->path,
                                                lxcfs_sources[i].source, NULL);
      int fd = open (path, O_PATH | O_CLOEXEC);
      int saved_errno = errno;
      struct stat st;

      if (fd >= 0 && fstat (fd, &st) != 0)
        {
          saved_errno = errno;
          close (fd);
          fd = -1;
        }
      if (fd >= 0 && (lxcfs_sources[i].file ? !S_ISREG (st.st_mode)
                                            : !S_ISDIR (st.st_mode)))
        {
          saved_errno = lxcfs_sources[i].file ? EISDIR : ENOTDIR;
          close (fd);
          fd = -1;
        }
      if (fd < 0 && i == 0)
        {
          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_UNAVAILABLE,
                       _("lxcfs does not answer at %s (%s), so instances see "
                         "the host's memory, CPUs, uptime and load in /proc: "
                         "install lxcfs and start it (tools/lxcfs-service "
                         "start), or set [lxc] lxcfs_path"), lxcfs->path,
                       saved_errno == ENOENT ? _("nothing is mounted there")
                                             : g_strerror (saved_errno));
          return FALSE;
        }
      lxcfs->sources[i] = fd;
    }
  return TRUE;
}

/* The sources, of an lxcfs that answers: the kept ones, or opened anew.
 * Called with the lock held. */
static gboolean
ready_sources (NlxLxcLxcfs *lxcfs,
               GError **error)
{
  return sources_answer (lxcfs) || open_sources (lxcfs, error);
}

/**
 * nlx_lxc_lxcfs_check:
 * @lxcfs: from nlx_lxc_lxcfs_new()
 * @error: return location for a #NLX_DRIVER_ERROR_UNAVAILABLE
 *
 * Returns: whether an lxcfs answers where @lxcfs looks (a dead one
 *   leaves its mount behind, which answers ENOTCONN)
 */
gboolean
nlx_lxc_lxcfs_check (NlxLxcLxcfs *lxcfs,
                     GError **error)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&lxcfs->lock);

  return ready_sources (lxcfs, error);
}

/* Adds to @targets (from *@n on) a detached mount of each of lxcfs's
 * sources that it has.  Stops at the first failure; what it added stays
 * for the caller to close. */
static gboolean
lxcfs_prepare (NlxLxcLxcfs *lxcfs,
               NlxMountTarget *targets,
               guint *n,
               GError **error)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&lxcfs->lock);

  if (!ready_sources (lxcfs, error))
    return FALSE;
  for (gsize i = 0; i < G_N_ELEMENTS (lxcfs_sources); i++)
    {
      g_autofree char *source = NULL;
      int fd;

      if (lxcfs->sources[i] < 0)
        continue;
      source = g_build_filename (lxcfs->path, lxcfs_sources[i].source, NULL);
      fd = nlx_mount_clone_at (lxcfs->sources[i], source, TRUE, error);
      if (fd < 0)
        return FALSE;
      targets[(*n)++] = (NlxMountTarget) { fd, lxcfs_sources[i].target,
                                           lxcfs_sources[i].file };
    }
  return TRUE;
}

static void
close_targets (NlxMountTarget *targets,
               guint n)
{
  for (guint i = 0; i < n; i++)
    if (targets[i].mount_fd >= 0)
      close (targets[i].mount_fd);
}

/**
 * nlx_lxc_proc_view_mount:
 * @dir: the instance's directory
 * @lxcfs: (nullable): from nlx_lxc_lxcfs_new(), or %NULL for none
 * @init: the pid of the instance's init, just started
 * @uuid: the instance's, for the log
 *
 * Gives the boot @init began its own /proc/sys/kernel/random/boot_id: a
 * new random uuid in @dir/boot_id (0444, root's), bind-mounted read-only
 * over the host's.  When @lxcfs answers, bind-mounts its
 * files over /proc/meminfo, cpuinfo, stat, uptime, loadavg, swaps,
 * diskstats and slabinfo (those it has), and its sys/devices/system/cpu
 * over /sys/devices/system/cpu (where glibc's get_nprocs() reads
 * `online`), as LXC's lxcfs hook does: lxcfs answers each reader from the
 * cgroups of the process reading and the start time of its pid
 * namespace's init.  One process enters the container for all of them
 * (each costs the daemon a child).  Neither is worth refusing a boot
 * for: a failure is logged, and the instance runs on, seeing the host's
 * values there as it would without lxcfs.
 */
void
nlx_lxc_proc_view_mount (const char *dir,
                         NlxLxcLxcfs *lxcfs,
                         pid_t init,
                         const char *uuid)
{
  g_autoptr(GError) error = NULL;
  NlxMountTarget targets[MAX_TARGETS];
  guint n = 0;
  guint first;
  int boot_id;

  boot_id = boot_id_prepare (dir, &error);
  if (boot_id >= 0)
    targets[n++] = (NlxMountTarget) { boot_id, BOOT_ID_PATH, TRUE };
  else
    {
      g_warning ("Instance %s reads the host's boot_id: %s", uuid,
                 error->message);
      g_clear_error (&error);
    }
  first = n;
  if (lxcfs != NULL && !lxcfs_prepare (lxcfs, targets, &n, &error))
    {
      if (g_error_matches (error, NLX_DRIVER_ERROR,
                           NLX_DRIVER_ERROR_UNAVAILABLE))
        g_warning ("Instance %s: %s", uuid, error->message);
      else
        g_warning ("Instance %s sees the host's memory, CPUs, uptime or "
                   "load in /proc: %s", uuid, error->message);
      close_targets (targets + first, n - first);
      n = first;
      g_clear_error (&error);
    }
  /* Every target is checked before any is mounted, so a bad one leaves
   * the boot with the host's view, which the message says. */
  if (n > 0 && !nlx_mount_all_into_namespace (targets, n, init, &error))
    g_warning ("Instance %s reads the host's boot_id%s in /proc: %s", uuid,
               n > 1 ? " and may see its memory, CPUs, uptime or load" : "",
               error->message);
  close_targets (targets, n);
}
