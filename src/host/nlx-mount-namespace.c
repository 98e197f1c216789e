/* nlx-mount-namespace.c: the child that enters a container's mount
 * namespace to attach or detach a mount there, and reads of its mounts
 *
 * The daemon is multi-threaded and setns (CLONE_NEWNS) needs a task
 * whose filesystem context (root, cwd) is its own, so the work inside a
 * container is done by a child process that only makes system calls:
 * everything it needs (the path cut into components, file descriptors)
 * is prepared before it starts, and it reports which step failed, with
 * errno, through a pipe.
 *
 * The child is not fork()ed: a fork copies the page tables of a daemon
 * holding a thousand instances, and every page its other threads write
 * afterwards takes a copy-on-write fault with a TLB-shootdown IPI to the
 * other CPUs (41% of the worker threads' time at 800 instances,
 * docs/performance.md).  It is made with clone(CLONE_VM | CLONE_VFORK),
 * as posix_spawn() makes its children: it runs in the daemon's memory on
 * a stack of its own, so nothing is copied.  Sharing the memory, it must
 * not run code that takes a lock or allocates (no more than a fork's
 * child could), and it uses the thread-local storage (errno) of the
 * thread that made it: so that thread is a short-lived helper, suspended
 * by CLONE_VFORK until the child has exited, with every signal blocked,
 * while the calling thread talks to the child through the pipes (the
 * mount's check needs the child waiting while the parent reads the
 * container's mount table).  A long-lived thread entering namespaces
 * itself (unshare (CLONE_FS), then setns) would fork nothing at all, but
 * could not be killed when a filesystem in a container hangs, and every
 * library call it made in there would read the container's files. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/nlx-error.h"
#include "common/nlx-file.h"
#include "host/nlx-mount-private.h"
#include "host/nlx-mount.h"

/* A child stuck in a container's filesystem (a hung FUSE server) is
 * killed after this long rather than blocking the daemon's thread. */
#define CHILD_TIMEOUT_MSEC (30 * 1000)

/* ---- mounts inside a container ----------------------------------------- */

/* Cuts an absolute path into its components; "/", "." and ".." are
 * refused so that the result names one place below the root. */
static char **
split_path (const char *path,
            GError **error)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) parts = NULL;
  guint n = 0;

  if (path == NULL || path[0] != '/')
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("The mount path “%s” is not an absolute path"),
                   path ? path : "");
      return NULL;
    }
  parts = g_strsplit (path, "/", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    {
      if (parts[i][0] == '\0')
        continue;
      if (strcmp (parts[i], ".") == 0 || strcmp (parts[i], "..") == 0)
        {
          g_set_error (error, NLX_DRIVER_ERROR,
                       NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                       _("The mount path %s must not contain “.” or “..”"),
                       path);
          return NULL;
        }
      g_strv_builder_add (builder, parts[i]);
      n++;
    }
  if (n == 0)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("The mount path %s is the container's root directory"),
                   path);
      return NULL;
    }
  return g_strv_builder_end (builder);
}

/* "/a/b" from the first @n components */
static char *
join_path (char **components,
           guint n)
{
  g_autoptr(GString) path = g_string_new (NULL);

  for (guint i = 0; i < n && components[i] != NULL; i++)
    g_string_append_printf (path, "/%s", components[i]);
  return g_string_free (g_steal_pointer (&path), FALSE);
}

typedef enum {
  STEP_READY,         /* the target is open; mnt_id is its mount */
  STEP_DONE,
  STEP_SETNS,
  STEP_CHROOT,
  STEP_MKDIR,
  STEP_OPEN,
  STEP_STATX,
  STEP_MOVE,
  STEP_UMOUNT,
} ChildStep;

/* What the child writes, one struct per write (less than PIPE_BUF, so
 * never torn). */
typedef struct {
  gint32 step;
  gint32 err;
  gint32 component;   /* the path component it failed on, or -1 */
  gint32 target;      /* which of the job's targets */
  guint64 mnt_id;
} ChildReport;

/* One place in the namespace: a mount goes there, or is taken away. */
typedef struct {
  const char *path;        /* as given, for messages */
  char **components;
  guint n_components;
  /* An existing regular file (a /proc entry), not a directory made on
   * the way. */
  gboolean file;
  int mount_fd;            /* the caller's; -1 to unmount */
} NsTarget;

typedef struct {
  pid_t pid;
  NsTarget *targets;
  guint n_targets;
  /* Made before the child starts, so that it allocates nothing: its
   * open targets, and the descriptors it keeps. */
  int *dirs;
  int *keep;
  int ns_fd;
  int root_fd;
  int report_r, report_w;  /* child → parent */
  int go_r, go_w;          /* parent → child, for the mount: go on */
  /* The target the child works on, for its reports. */
  gint32 child_target;
  gboolean mount;          /* mount the targets, else unmount the one */
  /* The thread that makes the child and waits for it; the child's
   * pidfd (CLONE_PIDFD, written before the child runs), to kill it. */
  GThread *starter;
  int pidfd;
  int clone_errno;         /* why clone() failed, or 0 */
} NsJob;

static void
ns_job_clear (NsJob *job)
{
  /* The child reading a go sees end of file, one writing gets EPIPE;
   * one stuck in a hung filesystem is killed.  Its thread is joined
   * before anything the child may still use is closed or freed. */
  close_fd (&job->report_r);
  close_fd (&job->go_w);
  if (job->starter != NULL)
    {
      int pidfd = g_atomic_int_get (&job->pidfd);

      if (pidfd >= 0)
        (void) syscall (SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
      g_thread_join (g_steal_pointer (&job->starter));
    }
  close_fd (&job->pidfd);
  for (guint i = 0; i < job->n_targets; i++)
    g_strfreev (job->targets[i].components);
  g_clear_pointer (&job->targets, g_free);
  job->n_targets = 0;
  g_clear_pointer (&job->dirs, g_free);
  g_clear_pointer (&job->keep, g_free);
  close_fd (&job->ns_fd);
  close_fd (&job->root_fd);
  close_fd (&job->report_w);
  close_fd (&job->go_r);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (NsJob, ns_job_clear)

/* Opens what the child needs to enter @pid's namespace and root, for
 * @n targets.  *gone is set when @pid does not exist. */
static gboolean
ns_job_init (NsJob *job,
             pid_t pid,
             const NlxMountTarget *targets,
             guint n,
             gboolean *gone,
             GError **error)
{
  g_autofree char *ns = g_strdup_printf ("/proc/%d/ns/mnt", (int) pid);
  g_autofree char *root = g_strdup_printf ("/proc/%d/root", (int) pid);
  int fds[2];

  *job = (NsJob) { .pid = pid, .ns_fd = -1, .root_fd = -1,
                   .report_r = -1, .report_w = -1, .go_r = -1, .go_w = -1,
                   .pidfd = -1 };
  *gone = FALSE;
  job->targets = g_new0 (NsTarget, n);
  job->dirs = g_new (int, n);
  job->keep = g_new (int, n + 4);
  for (guint i = 0; i < n; i++)
    {
      NsTarget *target = &job->targets[i];

      target->path = targets[i].path;
      target->file = targets[i].file;
      target->mount_fd = targets[i].mount_fd;
      target->components = split_path (targets[i].path, error);
      if (target->components == NULL)
        return FALSE;
      target->n_components = g_strv_length (target->components);
      job->n_targets++;
    }
  if (pid <= 0)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("%d is not a process id"), (int) pid);
      return FALSE;
    }
  job->ns_fd = open (ns, O_RDONLY | O_CLOEXEC);
  if (job->ns_fd >= 0)
    job->root_fd = open (root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (job->ns_fd < 0 || job->root_fd < 0)
    {
      int saved_errno = errno;

      *gone = saved_errno == ENOENT || saved_errno == ESRCH;
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot open the mount namespace and root of process "
                     "%d: %s"), (int) pid, g_strerror (saved_errno));
      return FALSE;
    }
  if (pipe2 (fds, O_CLOEXEC) == 0)
    {
      job->report_r = fds[0];
      job->report_w = fds[1];
      /* A socket, so that saying go to a child killed meanwhile gives
       * EPIPE (MSG_NOSIGNAL) rather than SIGPIPE to the daemon. */
      if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0)
        {
          job->go_r = fds[0];
          job->go_w = fds[1];
          return TRUE;
        }
    }
  {
    int saved_errno = errno;

    g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                 _("Cannot create a pipe: %s"), g_strerror (saved_errno));
  }
  return FALSE;
}

/* ---- in the child: system calls only, no allocation, no locks ----
 *
 * It shares the daemon's memory: it writes only its job's own arrays
 * (dirs, keep, child_target), which the parent does not read while it
 * runs. */

static void G_GNUC_NORETURN
child_exit_job (NsJob *job,
                ChildStep step,
                int err,
                int component)
{
  ChildReport report = { .step = step, .err = err, .component = component,
                         .target = job->child_target };

  (void) !write (job->report_w, &report, sizeof report);
  _exit (0);
}

/* Closes every descriptor above 2 but those in @keep (sorted here), so
 * that the child holds no other thread's pipe or device open. */
static void
child_close_others (int *keep,
                    int n_keep)
{
  unsigned int from = 3;

  for (int i = 1; i < n_keep; i++)
    for (int j = i; j > 0 && keep[j - 1] > keep[j]; j--)
      {
        int tmp = keep[j];

        keep[j] = keep[j - 1];
        keep[j - 1] = tmp;
      }
  for (int i = 0; i < n_keep; i++)
    {
      if (keep[i] < 0 || (unsigned int) keep[i] < from)
        continue;
      if ((unsigned int) keep[i] > from)
        syscall (SYS_close_range, from, (unsigned int) keep[i] - 1, 0);
      from = (unsigned int) keep[i] + 1;
    }
  syscall (SYS_close_range, from, ~0U, 0);
}

/* Enters the namespace and root of the job's process. */
static void
child_enter (NsJob *job)
{
  if (setns (job->ns_fd, CLONE_NEWNS) != 0)
    child_exit_job (job, STEP_SETNS, errno, -1);
  if (fchdir (job->root_fd) != 0 || chroot (".") != 0 || chdir ("/") != 0)
    child_exit_job (job, STEP_CHROOT, errno, -1);
  umask (022);
}

/* Walks from the root entered to the directory of @target's component
 * @n_walk - 1 (the root for 0), creating the missing ones with @create.
 * No symbolic link is followed: O_NOFOLLOW on every component, on top
 * of the chroot.  Returns its descriptor. */
static int
child_walk (NsJob *job,
            const NsTarget *target,
            guint n_walk,
            gboolean create)
{
  int dir;

  dir = open ("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0)
    child_exit_job (job, STEP_OPEN, errno, -1);
  for (guint i = 0; i < n_walk; i++)
    {
      const char *name = target->components[i];
      int next;

      if (create && mkdirat (dir, name, 0755) != 0 && errno != EEXIST)
        child_exit_job (job, STEP_MKDIR, errno, i);
      next = openat (dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                                O_CLOEXEC);
      if (next < 0)
        {
          int err = errno;
          struct stat st;

          /* With O_DIRECTORY a symbolic link gives ENOTDIR. */
          if (err == ENOTDIR &&
              fstatat (dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
              S_ISLNK (st.st_mode))
            err = ELOOP;
          child_exit_job (job, STEP_OPEN, err, i);
        }
      close (dir);
      dir = next;
    }
  return dir;
}

/* Opens where @target's mount goes. */
static int
child_open_target (NsJob *job,
                   const NsTarget *target)
{
  int parent;
  int dir;
  struct stat st;

  if (!target->file)
    return child_walk (job, target, target->n_components, TRUE);
  parent = child_walk (job, target, target->n_components - 1, FALSE);
  /* O_PATH with O_NOFOLLOW opens a symbolic link itself, which the check
   * below refuses, as it refuses a directory or a device. */
  dir = openat (parent, target->components[target->n_components - 1],
                O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (dir < 0 || fstat (dir, &st) != 0)
    child_exit_job (job, STEP_OPEN, errno, target->n_components - 1);
  if (!S_ISREG (st.st_mode))
    child_exit_job (job, STEP_OPEN,
                S_ISLNK (st.st_mode) ? ELOOP : EISDIR,
                target->n_components - 1);
  close (parent);
  return dir;
}

/* Opens every target and reports the mount each would land in; once
 * the parent has checked them all and says go, mounts each. */
static void G_GNUC_NORETURN
child_mount (NsJob *job)
{
  int n_keep = 0;
  char go;

  job->keep[n_keep++] = job->ns_fd;
  job->keep[n_keep++] = job->root_fd;
  job->keep[n_keep++] = job->report_w;
  job->keep[n_keep++] = job->go_r;
  for (guint i = 0; i < job->n_targets; i++)
    job->keep[n_keep++] = job->targets[i].mount_fd;
  child_close_others (job->keep, n_keep);
  child_enter (job);
  for (guint i = 0; i < job->n_targets; i++)
    {
      ChildReport report = { .step = STEP_READY, .component = -1,
                             .target = (gint32) i };
      struct statx stx;

      job->child_target = (gint32) i;
      job->dirs[i] = child_open_target (job, &job->targets[i]);
      if (syscall (SYS_statx, job->dirs[i], "",
                   AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MNT_ID,
                   &stx) != 0)
        child_exit_job (job, STEP_STATX, errno, -1);
      if (!(stx.stx_mask & STATX_MNT_ID))
        child_exit_job (job, STEP_STATX, ENOSYS, -1);
      report.mnt_id = stx.stx_mnt_id;
      if (write (job->report_w, &report, sizeof report) != sizeof report)
        _exit (1);
    }
  /* The parent checks the mounts we would land in, then says go; end
   * of file means no. */
  if (read (job->go_r, &go, 1) != 1)
    _exit (0);
  for (guint i = 0; i < job->n_targets; i++)
    {
      job->child_target = (gint32) i;
      if (sys_move_mount (job->targets[i].mount_fd, "", job->dirs[i], "",
                          MOVE_MOUNT_F_EMPTY_PATH |
                          MOVE_MOUNT_T_EMPTY_PATH) != 0)
        child_exit_job (job, STEP_MOVE, errno, -1);
    }
  child_exit_job (job, STEP_DONE, 0, -1);
}

static void G_GNUC_NORETURN
child_umount (NsJob *job)
{
  int keep[] = { job->ns_fd, job->root_fd, job->report_w };
  const NsTarget *target = &job->targets[0];
  const char *last = target->components[target->n_components - 1];
  int dir;

  child_close_others (keep, G_N_ELEMENTS (keep));
  child_enter (job);
  dir = child_walk (job, target, target->n_components - 1, FALSE);
  if (fchdir (dir) != 0)
    child_exit_job (job, STEP_OPEN, errno, -1);
  if (umount2 (last, MNT_DETACH | UMOUNT_NOFOLLOW) != 0)
    child_exit_job (job, STEP_UMOUNT, errno, target->n_components - 1);
  child_exit_job (job, STEP_DONE, 0, -1);
}

/* ---- back in the parent ---- */

/* Where the child starts, on its own stack, in the daemon's memory. */
static int
child_main (void *data)
{
  NsJob *job = data;

  if (job->mount)
    child_mount (job);
  child_umount (job);
}

/* Room for the child's frames: a few system calls deep, no more. */
#define CHILD_STACK_SIZE (64 * 1024)

/* The starter thread: makes the child with every signal blocked (it
 * inherits the mask, so no handler of the daemon's runs on the daemon's
 * memory in it; SIGKILL still ends it), is suspended until the child has
 * exited, and reaps it.  Its thread-local storage is what the child's
 * errno writes to.  Returns the child's wait status. */
static gpointer
starter_thread (gpointer data)
{
  NsJob *job = data;
  /* The child's stack: this frame stays untouched while CLONE_VFORK
   * holds the thread in clone(). */
  guint64 stack[CHILD_STACK_SIZE / sizeof (guint64)] __attribute__ ((aligned (16)));
  sigset_t all;
  pid_t child;
  int status = 0;

  sigfillset (&all);
  pthread_sigmask (SIG_SETMASK, &all, NULL);
  child = clone (child_main, (char *) stack + sizeof stack,
                 CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, job,
                 &job->pidfd);
  if (child < 0)
    job->clone_errno = errno;
  /* Only the child kept its ends: the parent sees end of file at once
   * now that it has exited, or was never made. */
  close_fd (&job->report_w);
  close_fd (&job->go_r);
  if (child > 0)
    while (waitpid (child, &status, 0) < 0 && errno == EINTR)
      ;
  return GINT_TO_POINTER (status);
}

/* Starts the child: it mounts the job's targets with @mount, else it
 * unmounts its one target. */
static gboolean
ns_job_fork (NsJob *job,
             gboolean mount,
             GError **error)
{
  g_autoptr(GError) local_error = NULL;

  job->mount = mount;
  job->starter = g_thread_try_new ("nlx-mountns", starter_thread, job,
                                   &local_error);
  if (job->starter == NULL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot start a process to enter the mount namespace of "
                     "process %d: %s"), (int) job->pid, local_error->message);
      return FALSE;
    }
  return TRUE;
}

/* Waits for the child to exit, once it has said all it had to. */
static void
ns_job_wait (NsJob *job)
{
  if (job->starter != NULL)
    g_thread_join (g_steal_pointer (&job->starter));
  close_fd (&job->pidfd);
}

static gboolean
ns_job_read (NsJob *job,
             ChildReport *report,
             GError **error)
{
  struct pollfd pfd = { .fd = job->report_r, .events = POLLIN };
  ssize_t n;
  int rc;

  do
    rc = poll (&pfd, 1, CHILD_TIMEOUT_MSEC);
  while (rc < 0 && errno == EINTR);
  if (rc == 0)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("The mount namespace of process %d did not answer in "
                     "%d seconds (is a filesystem in it hung?)"),
                   (int) job->pid, CHILD_TIMEOUT_MSEC / 1000);
      return FALSE;
    }
  do
    n = read (job->report_r, report, sizeof *report);
  while (n < 0 && errno == EINTR);
  if (n != sizeof *report)
    {
      /* End of file: the child is gone, or was never made. */
      ns_job_wait (job);
      if (job->clone_errno != 0)
        g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                     _("Cannot start a process to enter the mount namespace "
                       "of process %d: %s"), (int) job->pid,
                     g_strerror (job->clone_errno));
      else
        g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                     _("The process entering the mount namespace of process "
                       "%d died without a word"), (int) job->pid);
      return FALSE;
    }
  return TRUE;
}

/* Turns the child's report of a failed step into an error. */
static void
set_child_error (GError **error,
                 const NsJob *job,
                 const ChildReport *report)
{
  const NsTarget *target =
    &job->targets[report->target >= 0 &&
                  (guint) report->target < job->n_targets ? report->target : 0];
  const char *path = target->path;
  int err = report->err;
  g_autofree char *where = report->component >= 0
    ? join_path (target->components, report->component + 1)
    : g_strdup (path);

  switch (report->step)
    {
    case STEP_SETNS:
    case STEP_CHROOT:
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot enter the mount namespace and root of process "
                     "%d: %s"), (int) job->pid, g_strerror (err));
      return;
    case STEP_MKDIR:
    case STEP_OPEN:
      if (err == ELOOP)
        g_set_error (error, NLX_DRIVER_ERROR,
                     NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                     _("Cannot use %s in the container of process %d: %s is "
                       "a symbolic link"), path, (int) job->pid, where);
      else if (err == EISDIR)
        g_set_error (error, NLX_DRIVER_ERROR,
                     NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                     _("Cannot use %s in the container of process %d: it is "
                       "not a regular file"), path, (int) job->pid);
      else if (err == ENOTDIR)
        g_set_error (error, NLX_DRIVER_ERROR,
                     NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                     _("Cannot use %s in the container of process %d: %s is "
                       "not a directory"), path, (int) job->pid, where);
      else
        g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                     report->step == STEP_MKDIR
                     ? _("Cannot create directory %s in the container of "
                         "process %d: %s")
                     : _("Cannot open directory %s in the container of "
                         "process %d: %s"),
                     where, (int) job->pid, g_strerror (err));
      return;
    case STEP_UMOUNT:
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot unmount %s in the container of process %d: %s"),
                   path, (int) job->pid, g_strerror (err));
      return;
    default:
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot mount on %s in the container of process %d: %s"),
                   path, (int) job->pid, g_strerror (err));
      return;
    }
}

/* The optional fields ("shared:N", "master:N", ...) of a mountinfo line,
 * if its mount id is @mnt_id (any id for G_MAXUINT64). */
static char **
mountinfo_optional_fields (const char *line,
                           guint64 mnt_id)
{
  g_auto(GStrv) fields = g_strsplit (line, " ", -1);
  g_autoptr(GStrvBuilder) builder = NULL;

  if (g_strv_length (fields) < 7)
    return NULL;
  if (mnt_id != G_MAXUINT64 &&
      g_ascii_strtoull (fields[0], NULL, 10) != mnt_id)
    return NULL;
  builder = g_strv_builder_new ();
  for (guint i = 6; fields[i] != NULL && strcmp (fields[i], "-") != 0; i++)
    g_strv_builder_add (builder, fields[i]);
  return g_strv_builder_end (builder);
}

static char **
read_mountinfo (pid_t pid,
                GError **error)
{
  g_autofree char *file = g_strdup_printf ("/proc/%d/mountinfo", (int) pid);
  g_autofree char *contents = NULL;

  if (!nlx_file_get_contents (file, &contents, NULL, error))
    return NULL;
  return g_strsplit (contents, "\n", -1);
}

/* The mount tables check_propagation() reads, once for all of a job's
 * targets: the child changes no mount before it is told to go. */
typedef struct {
  char **theirs;
  char **ours;
} MountTables;

static void
mount_tables_clear (MountTables *tables)
{
  g_clear_pointer (&tables->theirs, g_strfreev);
  g_clear_pointer (&tables->ours, g_strfreev);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (MountTables, mount_tables_clear)

/* A mount moved into a mount that is shared with a mount of the host
 * (the same peer group, or a host mount that is its slave) would be
 * copied into the host too.  Refuse that rather than leak. */
static gboolean
check_propagation (const NsJob *job,
                   MountTables *tables,
                   guint64 mnt_id,
                   const char *path,
                   GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *group = NULL;
  gboolean found = FALSE;

  if (tables->theirs == NULL &&
      (tables->theirs = read_mountinfo (job->pid, &local_error)) == NULL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot read the mounts of process %d: %s"),
                   (int) job->pid, local_error->message);
      return FALSE;
    }
  for (guint i = 0; tables->theirs[i] != NULL && !found; i++)
    {
      g_auto(GStrv) optional = mountinfo_optional_fields (tables->theirs[i],
                                                          mnt_id);

      if (optional == NULL)
        continue;
      found = TRUE;
      for (guint j = 0; optional[j] != NULL; j++)
        if (g_str_has_prefix (optional[j], "shared:"))
          group = g_strdup (optional[j] + strlen ("shared:"));
    }
  if (!found)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot mount on %s in the container of process %d: the "
                     "mount holding it is not among the container's mounts"),
                   path, (int) job->pid);
      return FALSE;
    }
  if (group == NULL)
    return TRUE;

  if (tables->ours == NULL &&
      (tables->ours = read_mountinfo (getpid (), error)) == NULL)
    return FALSE;
  for (guint i = 0; tables->ours[i] != NULL; i++)
    {
      g_auto(GStrv) optional = mountinfo_optional_fields (tables->ours[i],
                                                          G_MAXUINT64);

      for (guint j = 0; optional != NULL && optional[j] != NULL; j++)
        {
          const char *colon = strchr (optional[j], ':');

          if (colon != NULL && strcmp (colon + 1, group) == 0 &&
              (g_str_has_prefix (optional[j], "shared:") ||
               g_str_has_prefix (optional[j], "master:")))
            {
              g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                           _("Cannot mount on %s in the container of process "
                             "%d: its mount propagates to the host (peer "
                             "group %s), so the volume would appear on the "
                             "host too; the container's mounts must be "
                             "private or slaves of the host's"),
                           path, (int) job->pid, group);
              return FALSE;
            }
        }
    }
  return TRUE;
}

/**
 * nlx_mount_into_namespace:
 * @mount_fd: a detached mount from nlx_mount_prepare()
 * @pid: a process of the container, normally its init
 * @path: an absolute path in the container, without "." or ".."
 *   components, and not "/"
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Attaches @mount_fd at @path inside the mount namespace and root
 * directory of @pid, creating the missing directories of @path there
 * (mode 0755, owned by the host's root).  The mount never appears in the
 * daemon's namespace: a target whose mount would propagate it back to
 * the host's is refused.  Symbolic links anywhere in @path are refused
 * (%NLX_DRIVER_ERROR_INVALID_ARGUMENT), so that the container cannot
 * steer the mount elsewhere; so are a bad @path and a component that is
 * not a directory.  Whatever is mounted at @path already stays, under the
 * new mount.  The caller still closes @mount_fd.
 */
gboolean
nlx_mount_into_namespace (int mount_fd,
                          pid_t pid,
                          const char *path,
                          GError **error)
{
  NlxMountTarget target = { mount_fd, path, FALSE };

  return nlx_mount_all_into_namespace (&target, 1, pid, error);
}

/**
 * nlx_mount_file_into_namespace:
 * @mount_fd: a detached mount of a file, e.g. from nlx_mount_clone()
 * @pid: a process of the container, normally its init
 * @path: an absolute path in the container, without "." or ".."
 *   components: an existing regular file (a /proc entry)
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * As nlx_mount_into_namespace(), for a file: nothing is created (a
 * missing @path fails), and a @path that is a symbolic link, a directory
 * or anything but a regular file is refused
 * (%NLX_DRIVER_ERROR_INVALID_ARGUMENT).
 */
gboolean
nlx_mount_file_into_namespace (int mount_fd,
                               pid_t pid,
                               const char *path,
                               GError **error)
{
  NlxMountTarget target = { mount_fd, path, TRUE };

  return nlx_mount_all_into_namespace (&target, 1, pid, error);
}

/**
 * nlx_mount_all_into_namespace:
 * @targets: (array length=n): detached mounts and where each goes, as
 *   nlx_mount_into_namespace() (a directory, made on the way) or
 *   nlx_mount_file_into_namespace() (@file: an existing regular file)
 *   takes them
 * @n: how many, at least one
 * @pid: a process of the container, normally its init
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Mounts them all with one process entering @pid's namespace, not one
 * each (each costs the daemon a thread and a process).
 * Every target is opened and checked before any is mounted, so a bad
 * one leaves all unmounted; a mount that fails after that leaves those
 * before it in place, as calls one by one would.
 */
gboolean
nlx_mount_all_into_namespace (const NlxMountTarget *targets,
                              guint n,
                              pid_t pid,
                              GError **error)
{
  g_auto(NsJob) job = { .ns_fd = -1, .root_fd = -1, .report_r = -1,
                        .report_w = -1, .go_r = -1, .go_w = -1,
                        .pidfd = -1 };
  g_auto(MountTables) tables = { NULL, NULL };
  ChildReport report;
  gboolean gone;

  g_return_val_if_fail (n > 0, FALSE);
  for (guint i = 0; i < n; i++)
    if (targets[i].mount_fd < 0)
      {
        g_set_error (error, NLX_DRIVER_ERROR,
                     NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                     _("Cannot mount on %s: no mount given"), targets[i].path);
        return FALSE;
      }
  if (!ns_job_init (&job, pid, targets, n, &gone, error) ||
      !ns_job_fork (&job, TRUE, error))
    return FALSE;
  for (guint i = 0; i < n; i++)
    {
      if (!ns_job_read (&job, &report, error))
        return FALSE;
      if (report.step != STEP_READY)
        {
          set_child_error (error, &job, &report);
          return FALSE;
        }
      if (!check_propagation (&job, &tables, report.mnt_id, targets[i].path,
                              error))
        return FALSE;
    }
  if (send (job.go_w, "y", 1, MSG_NOSIGNAL) != 1)
    {
      int saved_errno = errno;

      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot mount on %s in the container of process %d: %s"),
                   targets[0].path, (int) pid, g_strerror (saved_errno));
      return FALSE;
    }
  if (!ns_job_read (&job, &report, error))
    return FALSE;
  if (report.step != STEP_DONE)
    {
      set_child_error (error, &job, &report);
      return FALSE;
    }
  ns_job_wait (&job);
  return TRUE;
}

/**
 * nlx_umount_in_namespace:
 * @pid: a process of the container, normally its init
 * @path: an absolute path in the container, as given to
 *   nlx_mount_into_namespace()
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Detaches the mount at @path inside the mount namespace and root of
 * @pid; the kernel lets it go when the last file open in it is closed.
 * The directory stays.  Nothing mounted there, no @path, a symbolic
 * link or a file on the way to it (nothing can have been mounted through
 * one), or no process @pid any more (a stopped container took its mounts
 * with it) is no error.  Symbolic links in @path are not followed.
 */
gboolean
nlx_umount_in_namespace (pid_t pid,
                         const char *path,
                         GError **error)
{
  g_auto(NsJob) job = { .ns_fd = -1, .root_fd = -1, .report_r = -1,
                        .report_w = -1, .go_r = -1, .go_w = -1,
                        .pidfd = -1 };
  g_autoptr(GError) local_error = NULL;
  NlxMountTarget target = { -1, path, FALSE };
  ChildReport report;
  gboolean gone;

  if (!ns_job_init (&job, pid, &target, 1, &gone, &local_error))
    {
      if (gone)
        return TRUE;
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (!ns_job_fork (&job, FALSE, error) || !ns_job_read (&job, &report, error))
    return FALSE;
  ns_job_wait (&job);
  if (report.step == STEP_DONE)
    return TRUE;
  if ((report.step == STEP_UMOUNT || report.step == STEP_OPEN) &&
      (report.err == EINVAL || report.err == ENOENT))
    return TRUE;
  /* A symbolic link or a file on the way: nlx_mount_into_namespace()
   * never mounts through one, so nothing of ours is there.  Refusing
   * would stop the undo of an attach that such a path made fail. */
  if (report.step == STEP_OPEN &&
      (report.err == ELOOP || report.err == ENOTDIR))
    return TRUE;
  set_child_error (error, &job, &report);
  return FALSE;
}

/* Undoes mountinfo's octal escapes (\040 for a space, \134 for '\'...). */
static char *
mountinfo_unescape (const char *field)
{
  GString *out = g_string_sized_new (strlen (field));

  for (const char *p = field; *p != '\0'; p++)
    {
      if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' &&
          p[2] >= '0' && p[2] <= '7' && p[3] >= '0' && p[3] <= '7')
        {
          g_string_append_c (out, (char) (((p[1] - '0') << 6) |
                                          ((p[2] - '0') << 3) |
                                          (p[3] - '0')));
          p += 3;
        }
      else
        g_string_append_c (out, *p);
    }
  return g_string_free (out, FALSE);
}

/* The mount points of @pid's namespace that are @path itself (@below
 * FALSE) or lie below it (@below TRUE), in mountinfo's order (a mount
 * before what is mounted on it); %NULL if it cannot be read.  At most
 * one with @first. */
static GPtrArray *
find_mount_points (pid_t pid,
                   const char *path,
                   gboolean below,
                   gboolean first)
{
  g_auto(GStrv) components = NULL;
  g_auto(GStrv) lines = NULL;
  g_autofree char *wanted = NULL;
  g_autofree char *prefix = NULL;
  g_autoptr(GPtrArray) found = NULL;

  if (path != NULL && strcmp (path, "/") == 0)
    wanted = g_strdup ("/");
  else if ((components = split_path (path, NULL)) != NULL)
    wanted = join_path (components, G_MAXUINT);
  else
    return NULL;
  prefix = g_str_has_suffix (wanted, "/") ? g_strdup (wanted)
                                          : g_strconcat (wanted, "/", NULL);
  lines = read_mountinfo (pid, NULL);
  if (lines == NULL)
    return NULL;
  found = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; lines[i] != NULL && !(first && found->len > 0); i++)
    {
      g_auto(GStrv) fields = g_strsplit (lines[i], " ", 6);
      g_autofree char *mount_point = NULL;

      if (g_strv_length (fields) < 6)
        continue;
      mount_point = mountinfo_unescape (fields[4]);
      if (below ? g_str_has_prefix (mount_point, prefix)
                : strcmp (mount_point, wanted) == 0)
        g_ptr_array_add (found, g_steal_pointer (&mount_point));
    }
  return g_steal_pointer (&found);
}

/**
 * nlx_mount_is_in_namespace:
 * @pid: a process; its mount namespace and root are looked at
 * @path: an absolute path as @pid sees it
 *
 * Returns: whether something is mounted at @path for @pid (%FALSE also
 *   when @pid does not exist or @path is not a clean absolute path)
 */
gboolean
nlx_mount_is_in_namespace (pid_t pid,
                           const char *path)
{
  g_autoptr(GPtrArray) found = find_mount_points (pid, path, FALSE, TRUE);

  return found != NULL && found->len > 0;
}

/**
 * nlx_mount_list_below:
 * @pid: a process whose mount namespace is read
 * @path: an absolute path, without "." or ".." components
 *
 * Returns: (transfer full): the mount points below @path (not @path
 *   itself) in the mount namespace of @pid, a mount before what is
 *   mounted on it; empty when @pid's cannot be read
 */
GPtrArray *
nlx_mount_list_below (pid_t pid,
                      const char *path)
{
  GPtrArray *found = find_mount_points (pid, path, TRUE, FALSE);

  return found != NULL ? found : g_ptr_array_new_with_free_func (g_free);
}
