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

/* Bind-mounts @source over @target, a file or directory in @init's
 * container. */
static gboolean
bind_into (const char *source,
           gboolean is_file,
           gboolean read_only,
           pid_t init,
           const char *target,
           GError **error)
{
  int fd = nlx_mount_clone (source, read_only, error);
  gboolean ok;

  if (fd < 0)
    return FALSE;
  ok = is_file ? nlx_mount_file_into_namespace (fd, init, target, error)
               : nlx_mount_into_namespace (fd, init, target, error);
  close (fd);
  return ok;
}

/**
 * nlx_lxc_boot_id_mount:
 * @dir: the instance's directory
 * @init: the pid of the instance's init, just started
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Gives the boot @init began its own /proc/sys/kernel/random/boot_id:
 * a new random uuid in @dir/boot_id (0444, root's), bind-mounted
 * read-only over the host's.  The file is replaced, never rewritten, so
 * an earlier boot's mount (a container that lives on) keeps its own.
 */
gboolean
nlx_lxc_boot_id_mount (const char *dir,
                       pid_t init,
                       GError **error)
{
  g_autofree char *path = g_build_filename (dir, NLX_LXC_BOOT_ID_FILE, NULL);
  g_autofree char *uuid = g_uuid_string_random ();
  g_autofree char *text = g_strconcat (uuid, "\n", NULL);
  g_autoptr(GError) local_error = NULL;
  g_autofree char *tmp = NULL;
  int fd;

  /* Replaced by a rename, but not fsync()ed: every boot writes a new
   * one, so a crash that loses it loses nothing, and two fsyncs a boot
   * cost more than the rest of the daemon's part of it. */
  fd = nlx_file_write_temporary (path, text, -1, 0444, &tmp, &local_error);
  if (fd < 0 || !nlx_file_sync_temporary (tmp, fd, FALSE, &local_error) ||
      !nlx_file_rename_temporary (tmp, path, &local_error))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot write the boot id of the instance in %s: %s"),
                   dir, local_error->message);
      return FALSE;
    }
  return bind_into (path, TRUE, TRUE, init, "/proc/sys/kernel/random/boot_id",
                    error);
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

/**
 * nlx_lxc_lxcfs_mount:
 * @lxcfs_path: where lxcfs is mounted, as nlx_lxc_lxcfs_check() found it
 * @init: the pid of the instance's init, just started
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Bind-mounts lxcfs's files over /proc/meminfo, cpuinfo, stat, uptime,
 * loadavg, swaps, diskstats and slabinfo in @init's container, and its
 * sys/devices/system/cpu over /sys/devices/system/cpu (where glibc's
 * get_nprocs() reads `online`), as LXC's lxcfs hook does: lxcfs answers
 * each reader from the cgroups of the process reading and the start time
 * of its pid namespace's init.  Stops at the first failure.
 */
gboolean
nlx_lxc_lxcfs_mount (const char *lxcfs_path,
                     pid_t init,
                     GError **error)
{
  g_autofree char *cpu = g_build_filename (lxcfs_path, "sys", "devices",
                                           "system", "cpu", NULL);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  NlxMountTarget targets[G_N_ELEMENTS (proc_files) + 1];
  guint n = 0;
  gboolean ok = TRUE;

  for (gsize i = 0; i < G_N_ELEMENTS (proc_files) && ok; i++)
    {
      g_autofree char *source = g_build_filename (lxcfs_path, "proc",
                                                  proc_files[i], NULL);
      char *target;

      if (!g_file_test (source, G_FILE_TEST_IS_REGULAR))
        continue;
      target = g_strconcat ("/proc/", proc_files[i], NULL);
      g_ptr_array_add (names, target);
      targets[n] = (NlxMountTarget) { nlx_mount_clone (source, TRUE, error),
                                      target, TRUE };
      ok = targets[n++].mount_fd >= 0;
    }
  if (ok && g_file_test (cpu, G_FILE_TEST_IS_DIR))
    {
      targets[n] = (NlxMountTarget) { nlx_mount_clone (cpu, TRUE, error),
                                      "/sys/devices/system/cpu", FALSE };
      ok = targets[n++].mount_fd >= 0;
    }
  /* One process enters the container for all of them. */
  if (ok && n > 0)
    ok = nlx_mount_all_into_namespace (targets, n, init, error);
  for (guint i = 0; i < n; i++)
    if (targets[i].mount_fd >= 0)
      close (targets[i].mount_fd);
  return ok;
}
