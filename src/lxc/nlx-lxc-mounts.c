/* nlx-lxc-mounts.c: where an instance's mounts live, so that a thousand
 * instances cost a thousand times one, not a million
 *
 * Every libvirt_lxc controller starts in a copy of libvirtd's mount
 * namespace made a recursive slave (virProcessSetupPrivateMountNS()),
 * and keeps it for the container's life.  With instances' mounts made
 * where they propagate (a shared /, libvirtd a slave of it), each new
 * mount was copied into every running controller: with N instances the
 * kernel held N² mounts (1.84 million at 920, 1.7 GiB of slab), a mount
 * took 47 ms and an unmount seconds (docs/performance.md).  So:
 *
 *  - instances_path is a private mount point of the daemon's namespace
 *    (nlx_lxc_mounts_init()): the lower layers, root disks and overlays
 *    mounted below it reach no other namespace;
 *  - libvirtd gets each instance's root alone, one mount, placed straight
 *    into its namespace when that is not the daemon's
 *    (nlx_lxc_mounts_publish_root()), where no running controller
 *    receives it (libvirtd's mounts are slaves, not shared), and only
 *    while libvirt starts the container: every controller started copies
 *    libvirtd's namespace and reads its mount table, so a root left there
 *    cost every later boot.  Once the container runs, the root is
 *    withdrawn (nlx_lxc_mounts_withdraw()) behind the restart gate, which
 *    puts it back before libvirtd can start the container again after a
 *    guest's own reboot (nlx_lxc_gate_restart(), in
 *    nlx-lxc-console-thread.c);
 *  - once the container has its own copy of its root, its controller's
 *    copy of instances_path, with every other instance's root in it, is
 *    detached (nlx_lxc_mounts_trim_controller()).
 *
 * libvirtd is found through its pid file; when it cannot be found the
 * mounts stay where they propagate, as before, which works at any scale
 * but costs N². */

#include "config.h"

#include <errno.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <sys/stat.h>

#include "common/nlx-file.h"
#include "host/nlx-mount.h"
#include "lxc/nlx-lxc-driver-private.h"
#include "lxc/nlx-lxc-volume.h"

/* The monolithic daemon's, then the LXC driver's own daemon's. */
static const struct {
  const char *pid_file;
  const char *comm;
} libvirt_daemons[] = {
  { "/run/libvirtd.pid", "libvirtd" },
  { "/run/virtlxcd.pid", "virtlxcd" },
};

/* The pid of the running libvirt daemon that serves lxc:///, or 0. */
static pid_t
libvirtd_pid (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (libvirt_daemons); i++)
    {
      g_autofree char *contents = NULL;
      g_autofree char *comm_path = NULL;
      g_autofree char *comm = NULL;
      guint64 pid;

      if (!nlx_file_get_contents (libvirt_daemons[i].pid_file, &contents,
                                  NULL, NULL))
        continue;
      pid = g_ascii_strtoull (g_strstrip (contents), NULL, 10);
      if (pid == 0 || pid > G_MAXINT)
        continue;
      comm_path = g_strdup_printf ("/proc/%" G_GUINT64_FORMAT "/comm", pid);
      if (nlx_file_get_contents (comm_path, &comm, NULL, NULL) &&
          g_str_equal (g_strstrip (comm), libvirt_daemons[i].comm))
        return (pid_t) pid;
    }
  return 0;
}

/* Whether @pid lives in another mount namespace than the daemon. */
static gboolean
other_namespace (pid_t pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/ns/mnt", (int) pid);
  struct stat theirs, ours;

  return stat (path, &theirs) == 0 && stat ("/proc/self/ns/mnt", &ours) == 0 &&
         (theirs.st_dev != ours.st_dev || theirs.st_ino != ours.st_ino);
}

/* libvirtd's pid when its namespace needs the roots placed into it, or 0
 * (mounts are private, or libvirtd shares the daemon's namespace). */
static pid_t
libvirtd_elsewhere (NlxDriverState *state)
{
  pid_t pid;

  if (!state->private_mounts)
    return 0;
  pid = libvirtd_pid ();
  return pid > 0 && other_namespace (pid) ? pid : 0;
}

/**
 * nlx_lxc_mounts_separate:
 * @state: the driver's state
 *
 * Returns: whether libvirtd gets each instance's root placed into a
 *   mount namespace of its own (nlx_lxc_mounts_publish_root())
 */
gboolean
nlx_lxc_mounts_separate (NlxDriverState *state)
{
  return libvirtd_elsewhere (state) != 0;
}

/**
 * nlx_lxc_mounts_init:
 * @state: the driver's state
 *
 * Makes instances_path a private mount point when libvirtd can be found;
 * otherwise says why mounts stay where they propagate.  Not fatal: the
 * instances work either way.
 */
void
nlx_lxc_mounts_init (NlxDriverState *state)
{
  g_autoptr(GError) error = NULL;

  if (libvirtd_pid () == 0)
    {
      g_warning ("No libvirt daemon found through /run/libvirtd.pid or "
                 "/run/virtlxcd.pid: instances' mounts under %s propagate "
                 "to every container, which costs time and kernel memory "
                 "that grow with the square of their number",
                 state->instances_path);
      return;
    }
  if (!nlx_mount_make_private (state->instances_path, &error))
    {
      g_warning ("Instances' mounts propagate to every container, which "
                 "costs time and kernel memory that grow with the square "
                 "of their number: %s", error->message);
      return;
    }
  state->private_mounts = TRUE;
}

/**
 * nlx_lxc_mounts_cleanup:
 * @state: the driver's state
 *
 * Undoes nlx_lxc_mounts_init() when no instance has anything mounted
 * below instances_path any more (a daemon stopped with instances running
 * leaves it: their roots are under it).
 */
void
nlx_lxc_mounts_cleanup (NlxDriverState *state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) ours = NULL;
  g_autoptr(GPtrArray) theirs = NULL;
  pid_t libvirtd = libvirtd_elsewhere (state);

  if (!state->private_mounts)
    return;
  ours = nlx_mount_list_below (getpid (), state->instances_path);
  if (ours->len > 0)
    return;
  /* libvirtd's copy of it goes too, unless a root is still there. */
  if (libvirtd > 0)
    theirs = nlx_mount_list_below (libvirtd, state->instances_path);
  if ((theirs != NULL && theirs->len == 0 &&
       !nlx_umount_in_namespace (libvirtd, state->instances_path, &error)) ||
      !nlx_umount (state->instances_path, &error))
    g_warning ("%s", error->message);
  state->private_mounts = FALSE;
}

/* Left in the instance's directory while the restart gate holds its root
 * out of libvirtd's namespace (nlx_lxc_mounts_mark_gated()): it outlives
 * a daemon that is killed. */
#define GATED_MARKER "root-withdrawn"

static char *
gated_marker (NlxDriverState *state,
              const char *uuid)
{
  g_autofree char *dir = nlx_lxc_instance_dir (state, uuid);

  return g_build_filename (dir, GATED_MARKER, NULL);
}

/**
 * nlx_lxc_mounts_mark_gated:
 * @state: the driver's state
 * @uuid: a running instance whose root the restart gate is about to
 *   withdraw from libvirtd's namespace
 *
 * Notes on disk that libvirtd cannot start the instance's container
 * again by itself until the root is published again, which the next
 * publish takes away.  A daemon killed meanwhile leaves it, and the next
 * one knows why a reboot of the guest failed
 * (nlx_lxc_mounts_was_gated()).  Failing costs only that: logged.
 */
void
nlx_lxc_mounts_mark_gated (NlxDriverState *state,
                           const char *uuid)
{
  g_autofree char *path = gated_marker (state, uuid);
  g_autoptr(GError) error = NULL;

  if (!g_file_set_contents_full (path, "", 0, G_FILE_SET_CONTENTS_NONE, 0600,
                                 &error))
    g_warning ("Instance %s: a reboot of its guest while no daemon runs "
               "will leave it shut off: %s", uuid, error->message);
}

/**
 * nlx_lxc_mounts_was_gated:
 * @state: the driver's state
 * @uuid: an instance
 *
 * Returns: whether its root was withdrawn from libvirtd's namespace by
 *   the restart gate and not published since
 */
gboolean
nlx_lxc_mounts_was_gated (NlxDriverState *state,
                          const char *uuid)
{
  g_autofree char *path = gated_marker (state, uuid);

  return g_file_test (path, G_FILE_TEST_EXISTS);
}

/**
 * nlx_lxc_mounts_publish_root:
 * @state: the driver's state
 * @uuid: an instance whose root is mounted at DIR/rootfs
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Gives libvirtd, when it lives in a mount namespace of its own, a copy
 * of the instance's root at the same path, unless it has one.
 */
gboolean
nlx_lxc_mounts_publish_root (NlxDriverState *state,
                             const char *uuid,
                             GError **error)
{
  g_autofree char *dir = nlx_lxc_instance_dir (state, uuid);
  g_autofree char *rootfs = g_build_filename (dir, "rootfs", NULL);
  g_autofree char *theirs = NULL;
  g_autofree char *marker = gated_marker (state, uuid);
  pid_t libvirtd = libvirtd_elsewhere (state);
  gboolean ok;
  int fd;

  /* Whatever follows, the gate's withdrawal is over. */
  g_unlink (marker);
  if (libvirtd == 0)
    return TRUE;
  /* Seen through libvirtd's root: one statx() rather than its mount
   * table, which holds every instance's root.  The path is the daemon's
   * own making, from instances_path down, with no link to follow. */
  theirs = g_strdup_printf ("/proc/%d/root%s", (int) libvirtd, rootfs);
  if (nlx_mount_is_mount_point (theirs))
    return TRUE;
  fd = nlx_mount_clone_as_is (rootfs, error);
  ok = fd >= 0 && nlx_mount_into_namespace (fd, libvirtd, rootfs, error);
  if (fd >= 0)
    close (fd);
  if (!ok)
    g_prefix_error (error, _("Cannot give the root of instance %s to "
                             "libvirtd (process %d): "), uuid, (int) libvirtd);
  return ok;
}

/* How many times withdraw looks again at what it unmounted: a mount
 * on a mount (never made by the daemon; bounded all the same). */
#define WITHDRAW_ROUNDS 4

/* The entries of @dir that are mount points in @pid's mount namespace,
 * seen through its root (/proc/PID/root): a readdir() and one statx()
 * each, where a read of its mount table would take a line per instance
 * (libvirtd holds every instance's root, an overlay with long options:
 * 4-26 ms of every delete at 300 running, on a busy host).  Everything
 * the daemon mounts for an instance is one of its directory's own
 * entries (rootfs, lower, volume, the root disk's directory), and
 * unmounting one detaches what is mounted below it too. */
static GPtrArray *
mounted_entries (pid_t pid,
                 const char *dir)
{
  g_autofree char *theirs = g_strdup_printf ("/proc/%d/root%s", (int) pid,
                                             dir);
  g_autoptr(GDir) entries = g_dir_open (theirs, 0, NULL);
  GPtrArray *found = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  while (entries != NULL && (name = g_dir_read_name (entries)) != NULL)
    {
      g_autofree char *path = g_build_filename (theirs, name, NULL);

      if (nlx_mount_is_mount_point (path))
        g_ptr_array_add (found, g_build_filename (dir, name, NULL));
    }
  return found;
}

/**
 * nlx_lxc_mounts_withdraw:
 * @state: the driver's state
 * @uuid: an instance being destroyed
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Unmounts, in libvirtd's own mount namespace, what of the instance's
 * directory is mounted there: the root copy nlx_lxc_mounts_publish_root()
 * gave, or everything, when libvirtd started after the instance's mounts
 * were made and copied them.  Succeeds when nothing is mounted there.
 */
gboolean
nlx_lxc_mounts_withdraw (NlxDriverState *state,
                         const char *uuid,
                         GError **error)
{
  g_autofree char *dir = nlx_lxc_instance_dir (state, uuid);
  pid_t libvirtd = libvirtd_elsewhere (state);

  if (libvirtd == 0)
    return TRUE;
  /* One child per mount found, none for those that are not there (a
   * published root is the only one, usually). */
  for (guint round = 0; round < WITHDRAW_ROUNDS; round++)
    {
      g_autoptr(GPtrArray) mounted = mounted_entries (libvirtd, dir);

      if (mounted->len == 0)
        break;
      for (guint i = 0; i < mounted->len; i++)
        if (!nlx_umount_in_namespace (libvirtd, mounted->pdata[i], error))
          {
            g_prefix_error (error, _("Cannot unmount the root of instance "
                                     "%s in libvirtd's mount namespace: "),
                            uuid);
            return FALSE;
          }
    }
  return TRUE;
}

/**
 * nlx_lxc_mounts_trim_controller:
 * @state: the driver's state
 * @dom: a running instance whose container has its own mount namespace
 *   (its init exists)
 * @uuid: its uuid, for the log
 *
 * Detaches instances_path in the namespace of the instance's libvirt_lxc
 * controller, which copied it from libvirtd's with every other
 * instance's root in it, and needs none of them: the container has its
 * own copy of its root.  Failing costs memory, not correctness: logged.
 */
void
nlx_lxc_mounts_trim_controller (NlxDriverState *state,
                                virDomainPtr dom,
                                const char *uuid)
{
  g_autoptr(GError) error = NULL;
  guint controller = virDomainGetID (dom);

  if (!state->private_mounts || controller == (guint) -1)
    return;
  /* Not a mount point there (a controller of an older daemon's): the
   * child's umount fails with EINVAL, which is no error. */
  if (!nlx_umount_in_namespace ((pid_t) controller, state->instances_path,
                                &error))
    g_warning ("Instance %s: its libvirt_lxc controller keeps a copy of "
               "every instance's root: %s", uuid, error->message);
}
