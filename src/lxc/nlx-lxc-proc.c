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
#include <unistd.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "common/nlx-error.h"
#include "common/nlx-file.h"
#include "host/nlx-mount.h"
#include "lxc/nlx-lxc-proc.h"

/* What lxcfs 5 serves under proc/, each over the same name in /proc.
 * Only those lxcfs has are mounted, so an older lxcfs serves fewer. */
static const char * const proc_files[] = {
  "cpuinfo", "diskstats", "loadavg", "meminfo", "slabinfo", "stat", "swaps",
  "uptime",
};

#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"
/* lxcfs's files, its CPU directory and boot_id */
#define MAX_TARGETS (G_N_ELEMENTS (proc_files) + 2)

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
 * nlx_lxc_lxcfs_check:
 * @lxcfs_path: where lxcfs is mounted
 * @error: return location for a #NLX_DRIVER_ERROR_UNAVAILABLE
 *
 * Returns: whether an lxcfs answers at @lxcfs_path (a dead one leaves
 *   its mount behind, which answers ENOTCONN)
 */
gboolean
nlx_lxc_lxcfs_check (const char *lxcfs_path,
                     GError **error)
{
  g_autofree char *meminfo = g_build_filename (lxcfs_path, "proc", "meminfo",
                                               NULL);
  GStatBuf st;
  int saved_errno;

  if (g_stat (meminfo, &st) == 0 && S_ISREG (st.st_mode))
    return TRUE;
  saved_errno = errno;
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_UNAVAILABLE,
               _("lxcfs does not answer at %s (%s), so instances see the "
                 "host's memory, CPUs, uptime and load in /proc: install "
                 "lxcfs and start it (tools/lxcfs-service start), or set "
                 "[lxc] lxcfs_path"), lxcfs_path,
               saved_errno == ENOENT ? _("nothing is mounted there")
                                     : g_strerror (saved_errno));
  return FALSE;
}

/* Adds to @targets (from *@n on) a detached mount of each of lxcfs's
 * files and of its CPU directory that this lxcfs has; @names keeps their
 * paths in the container.  Stops at the first failure; what it added
 * stays for the caller to close. */
static gboolean
lxcfs_prepare (const char *lxcfs_path,
               NlxMountTarget *targets,
               guint *n,
               GPtrArray *names,
               GError **error)
{
  g_autofree char *cpu = g_build_filename (lxcfs_path, "sys", "devices",
                                           "system", "cpu", NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (proc_files); i++)
    {
      /* Freed by hand: gcc 12's analyzer reads a g_autofree left by
       * "continue" as an uninitialized value. */
      char *source = g_build_filename (lxcfs_path, "proc", proc_files[i],
                                       NULL);
      gboolean present = g_file_test (source, G_FILE_TEST_IS_REGULAR);
      int fd = present ? nlx_mount_clone (source, TRUE, error) : -1;
      char *target;

      g_free (source);
      if (!present)
        continue;
      if (fd < 0)
        return FALSE;
      target = g_strconcat ("/proc/", proc_files[i], NULL);
      g_ptr_array_add (names, target);
      targets[(*n)++] = (NlxMountTarget) { fd, target, TRUE };
    }
  if (g_file_test (cpu, G_FILE_TEST_IS_DIR))
    {
      int fd = nlx_mount_clone (cpu, TRUE, error);

      if (fd < 0)
        return FALSE;
      targets[(*n)++] = (NlxMountTarget) { fd, "/sys/devices/system/cpu",
                                           FALSE };
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
 * @lxcfs_path: (nullable): where lxcfs is mounted, or %NULL for none
 * @init: the pid of the instance's init, just started
 * @uuid: the instance's, for the log
 *
 * Gives the boot @init began its own /proc/sys/kernel/random/boot_id: a
 * new random uuid in @dir/boot_id (0444, root's), bind-mounted read-only
 * over the host's.  When lxcfs answers at @lxcfs_path, bind-mounts its
 * files over /proc/meminfo, cpuinfo, stat, uptime, loadavg, swaps,
 * diskstats and slabinfo (those it has), and its sys/devices/system/cpu
 * over /sys/devices/system/cpu (where glibc's get_nprocs() reads
 * `online`), as LXC's lxcfs hook does: lxcfs answers each reader from the
 * cgroups of the process reading and the start time of its pid
 * namespace's init.  One process enters the container for all of them
 * (each costs the daemon a child).  Neither is worth refusing a boot for: a failure
 * is logged, and the instance runs on, seeing the host's values there as
 * it would without lxcfs.
 */
void
nlx_lxc_proc_view_mount (const char *dir,
                         const char *lxcfs_path,
                         pid_t init,
                         const char *uuid)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  NlxMountTarget targets[MAX_TARGETS];
  guint n = 0;
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
  if (lxcfs_path != NULL)
    {
      guint first = n;

      if (!nlx_lxc_lxcfs_check (lxcfs_path, &error))
        g_warning ("Instance %s: %s", uuid, error->message);
      else if (!lxcfs_prepare (lxcfs_path, targets, &n, names, &error))
        {
          g_warning ("Instance %s sees the host's memory, CPUs, uptime or "
                     "load in /proc: %s", uuid, error->message);
          close_targets (targets + first, n - first);
          n = first;
        }
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
