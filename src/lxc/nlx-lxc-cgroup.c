/* nlx-lxc-cgroup.c: the pids limit libvirt's LXC driver does not set
 *
 * libvirt 9.0 knows no pids controller: its containers stay in the root
 * pids group, where one tenant's fork loop can take every pid of the
 * host.  So the driver gives each running instance a pids group of its
 * own and moves the container's processes into it, the container frozen
 * meanwhile so that nothing forks past the move.  On cgroup v1 the
 * groups live under one parent, NLX_LXC_PIDS_GROUP, whose own pids.max
 * holds all instances together below the host's pid_max; on a pure
 * cgroup v2 host the limit goes on libvirt's own group of the container. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "common/nlx-error.h"
#include "common/nlx-file.h"
#include "lxc/nlx-lxc-cgroup.h"

#define CGROUP_ROOT "/sys/fs/cgroup"
#define PIDS_V1 CGROUP_ROOT "/pids"
#define FREEZE_TIMEOUT_US (5 * G_USEC_PER_SEC)
#define MOVE_ATTEMPTS 20
/* One round to move, one to find all there. */
#define UNFROZEN_MOVE_ATTEMPTS 2
#define REMOVE_TIMEOUT_US (5 * G_USEC_PER_SEC)

static gboolean
is_v1 (void)
{
  return g_file_test (PIDS_V1 "/cgroup.procs", G_FILE_TEST_EXISTS);
}

static gboolean
is_v2 (void)
{
  g_autofree char *controllers = NULL;
  g_auto(GStrv) words = NULL;

  if (!nlx_file_get_contents (CGROUP_ROOT "/cgroup.controllers", &controllers,
                              NULL, NULL))
    return FALSE;
  words = g_strsplit_set (g_strstrip (controllers), " ", -1);
  return g_strv_contains ((const char * const *) words, "pids");
}

static gboolean
no_pids_controller (GError **error)
{
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_NOT_SUPPORTED,
               _("This host has no pids cgroup controller (neither %s nor "
                 "“pids” in %s), so instances cannot be held to a pids "
                 "limit; use a kernel with CONFIG_CGROUP_PIDS and mount "
                 "its controller"), PIDS_V1, CGROUP_ROOT "/cgroup.controllers");
  return FALSE;
}

static gboolean
write_text (const char *path,
            const char *text,
            GError **error)
{
  int fd = open (path, O_WRONLY | O_CLOEXEC);
  ssize_t n;
  int saved_errno;

  if (fd >= 0)
    {
      n = write (fd, text, strlen (text));
      saved_errno = errno;
      close (fd);
      if (n == (ssize_t) strlen (text))
        return TRUE;
    }
  else
    saved_errno = errno;
  {
    g_autofree char *shown = g_strstrip (g_strdup (text));

    g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                 _("Cannot write “%s” to %s: %s"), shown, path,
                 g_strerror (saved_errno));
  }
  return FALSE;
}

static gboolean
write_uint (const char *dir,
            const char *file,
            guint value,
            GError **error)
{
  g_autofree char *path = g_build_filename (dir, file, NULL);
  g_autofree char *text = g_strdup_printf ("%u\n", value);

  return write_text (path, text, error);
}

static gboolean
make_dir (const char *path,
          GError **error)
{
  if (g_mkdir (path, 0755) == 0 || errno == EEXIST)
    return TRUE;
  {
    int saved_errno = errno;

    g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                 _("Cannot create the cgroup %s: %s"), path,
                 g_strerror (saved_errno));
  }
  return FALSE;
}

/**
 * nlx_lxc_cgroup_default_pids_host_max:
 *
 * Returns: three quarters of the kernel's pid_max, leaving the rest to
 *   the host whatever the instances do
 */
guint
nlx_lxc_cgroup_default_pids_host_max (void)
{
  g_autofree char *text = NULL;
  guint64 pid_max = 32768;

  if (nlx_file_get_contents ("/proc/sys/kernel/pid_max", &text, NULL, NULL))
    pid_max = g_ascii_strtoull (text, NULL, 10);
  if (pid_max < 1024)
    pid_max = 32768;
  return (guint) (pid_max / 4 * 3);
}

/**
 * nlx_lxc_cgroup_init_pids:
 * @host_max: the most pids all instances together may hold
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Makes the parent group of every instance's pids group and sets its
 * limit; on cgroup v2 each instance's parent gets it at its start.
 *
 * Returns: %FALSE if the host has no pids controller or the group cannot
 *   be made
 */
gboolean
nlx_lxc_cgroup_init_pids (guint host_max,
                          GError **error)
{
  if (is_v1 ())
    return make_dir (PIDS_V1 "/" NLX_LXC_PIDS_GROUP, error) &&
           write_uint (PIDS_V1 "/" NLX_LXC_PIDS_GROUP, "pids.max", host_max,
                       error);
  if (is_v2 ())
    return TRUE;
  return no_pids_controller (error);
}

/* The path of @pid's group in the hierarchy that has @controller (""
 * for the cgroup v2 one), from /proc/PID/cgroup; %NULL when @pid is gone
 * or not in one. */
static char *
group_of (pid_t pid,
          const char *controller)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/cgroup", (int) pid);
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;

  if (!nlx_file_get_contents (path, &text, NULL, NULL))
    return NULL;
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) fields = g_strsplit (lines[i], ":", 3);
      g_auto(GStrv) names = NULL;

      if (g_strv_length (fields) != 3)
        continue;
      if (*controller == '\0')
        {
          if (g_str_equal (fields[0], "0") && fields[1][0] == '\0')
            return g_strdup (fields[2]);
          continue;
        }
      names = g_strsplit (fields[1], ",", -1);
      if (g_strv_contains ((const char * const *) names, controller))
        return g_strdup (fields[2]);
    }
  return NULL;
}

/**
 * nlx_lxc_cgroup_pids_dir:
 * @pid: a process
 *
 * Returns: (transfer full) (nullable): the host directory of @pid's pids
 *   group, where pids.max and pids.current are
 */
char *
nlx_lxc_cgroup_pids_dir (pid_t pid)
{
  g_autofree char *group = NULL;

  if (is_v1 ())
    {
      group = group_of (pid, "pids");
      return group ? g_build_filename (PIDS_V1, group, NULL) : NULL;
    }
  group = group_of (pid, "");
  return group ? g_build_filename (CGROUP_ROOT, group, NULL) : NULL;
}

static GArray *
read_procs (const char *dir)
{
  g_autofree char *path = g_build_filename (dir, "cgroup.procs", NULL);
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  GArray *pids = g_array_new (FALSE, FALSE, sizeof (pid_t));

  if (!nlx_file_get_contents (path, &text, NULL, NULL))
    return pids;
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      guint64 pid;

      if (g_ascii_string_to_unsigned (lines[i], 10, 1, G_MAXINT, &pid, NULL))
        g_array_append_val (pids, (pid_t) { (pid_t) pid });
    }
  return pids;
}

static char *
freezer_state (const char *dir)
{
  g_autofree char *path = g_build_filename (dir, "freezer.state", NULL);
  char *text = NULL;

  if (!nlx_file_get_contents (path, &text, NULL, NULL))
    return NULL;
  return g_strstrip (text);
}

/* Freezes the container's freezer group unless it is frozen already (a
 * paused instance, which stays so).  Returns whether it froze it. */
static gboolean
freeze (const char *dir)
{
  g_autofree char *state = freezer_state (dir);
  g_autofree char *path = g_build_filename (dir, "freezer.state", NULL);
  gint64 deadline = g_get_monotonic_time () + FREEZE_TIMEOUT_US;

  if (state == NULL || !g_str_equal (state, "THAWED") ||
      !write_text (path, "FROZEN", NULL))
    return FALSE;
  /* FREEZING until every task stopped; the moves below check each
   * process anyway, so a slow freeze only costs another round. */
  while (g_get_monotonic_time () < deadline)
    {
      g_autofree char *now = freezer_state (dir);

      if (now == NULL || g_str_equal (now, "FROZEN"))
        break;
      g_usleep (5000);
    }
  return TRUE;
}

/* Moves every process of the group at @source, but the controller, into
 * @target, in at most @attempts rounds: TRUE once a round finds all
 * there.  A process forked while its parent moves is in the parent's
 * group before or after (the kernel serializes forks with moves): in
 * @target, or still in @source for the next round. */
static gboolean
move_all (const char *source,
          const char *target,
          const char *wanted,
          pid_t controller,
          guint attempts,
          GError **error)
{
  g_autofree char *procs = g_build_filename (target, "cgroup.procs", NULL);

  for (guint attempt = 0; attempt < attempts; attempt++)
    {
      g_autoptr(GArray) pids = read_procs (source);
      gboolean all_there = TRUE;

      for (guint i = 0; i < pids->len; i++)
        {
          pid_t pid = g_array_index (pids, pid_t, i);
          g_autofree char *group = NULL;
          g_autofree char *text = NULL;
          g_autofree char *proc = g_strdup_printf ("/proc/%d", (int) pid);
          g_autoptr(GError) local_error = NULL;

          if (pid == controller)
            continue;
          group = group_of (pid, "pids");
          if (group == NULL || g_str_equal (group, wanted))
            continue;
          all_there = FALSE;
          text = g_strdup_printf ("%d", (int) pid);
          /* ESRCH: it exited meanwhile. */
          if (!write_text (procs, text, &local_error) &&
              g_file_test (proc, G_FILE_TEST_EXISTS))
            {
              g_propagate_error (error, g_steal_pointer (&local_error));
              return FALSE;
            }
        }
      if (all_there)
        return TRUE;
    }
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
               _("The processes of the container in %s kept escaping the "
                 "move into its pids group %s"), source, target);
  return FALSE;
}

static gboolean
limit_pids_v1 (const char *domain,
               pid_t controller,
               pid_t init,
               guint limit,
               GError **error)
{
  g_autofree char *wanted = g_strdup_printf ("/%s/%s", NLX_LXC_PIDS_GROUP,
                                             domain);
  g_autofree char *dir = g_build_filename (PIDS_V1, wanted, NULL);
  g_autofree char *source = NULL;
  g_autofree char *group = NULL;
  gboolean freezer = FALSE;
  gboolean frozen = FALSE;
  gboolean ok;

  if (!make_dir (PIDS_V1 "/" NLX_LXC_PIDS_GROUP, error) ||
      !make_dir (dir, error) ||
      !write_uint (dir, "pids.max", limit, error))
    return FALSE;
  /* libvirt's freezer group holds the container (and its controller);
   * without one, its cpuacct group does, and the moves retry. */
  if ((group = group_of (init, "freezer")) != NULL && !g_str_equal (group, "/"))
    {
      source = g_build_filename (CGROUP_ROOT, "freezer", group, NULL);
      freezer = TRUE;
    }
  else if ((group = group_of (init, "cpuacct")) != NULL &&
           !g_str_equal (group, "/"))
    source = g_build_filename (CGROUP_ROOT, "cpuacct", group, NULL);
  else
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot find the cgroup libvirt made for %s (process "
                     "%d), so its pids limit cannot be applied"), domain,
                   (int) init);
      return FALSE;
    }
  /* At a start the container holds nova-lxc-init alone, which waits
   * for this and forks nothing: moved as it is, in a millisecond.  A
   * freeze (the kernel's freezer takes 10-15 ms) is for a container
   * whose processes fork faster than the moves, which only the image's
   * init could start, should nova-lxc-init have given up waiting. */
  if (move_all (source, dir, wanted, controller, UNFROZEN_MOVE_ATTEMPTS, NULL))
    return TRUE;
  if (freezer)
    frozen = freeze (source);
  ok = move_all (source, dir, wanted, controller, MOVE_ATTEMPTS, error);
  if (frozen)
    {
      g_autofree char *path = g_build_filename (source, "freezer.state", NULL);
      g_autoptr(GError) thaw_error = NULL;

      if (!write_text (path, "THAWED", &thaw_error))
        {
          g_clear_error (error);
          g_propagate_error (error, g_steal_pointer (&thaw_error));
          return FALSE;
        }
    }
  return ok;
}

/* cgroup v2: the limit goes on libvirt's group of the container, once
 * every ancestor hands the pids controller down (libvirt does not). */
static gboolean
limit_pids_v2 (const char *domain,
               pid_t init,
               guint limit,
               GError **error)
{
  g_autofree char *group = group_of (init, "");
  g_auto(GStrv) parts = NULL;
  g_autoptr(GString) dir = g_string_new (CGROUP_ROOT);

  if (group == NULL || g_str_equal (group, "/"))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot find the cgroup libvirt made for %s (process "
                     "%d), so its pids limit cannot be applied"), domain,
                   (int) init);
      return FALSE;
    }
  /* Every ancestor, root to parent, enables pids for its children. */
  parts = g_strsplit (group + 1, "/", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    {
      g_autofree char *control = g_build_filename (dir->str,
                                                   "cgroup.subtree_control",
                                                   NULL);

      if (!write_text (control, "+pids", error))
        return FALSE;
      g_string_append_printf (dir, "/%s", parts[i]);
    }
  return write_uint (dir->str, "pids.max", limit, error);
}

/**
 * nlx_lxc_cgroup_limit_pids:
 * @domain: the domain's name, which names its pids group
 * @controller: the libvirt_lxc controller's pid (the domain id), which
 *   stays outside the limit: the tenant must not starve it of threads
 * @init: the container's init
 * @limit: the most processes and threads the container may hold
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Puts every process of the running container into a pids group of its
 * own with @limit.  Run again after every start, since each start makes
 * new processes in the root group; running it twice is harmless.
 *
 * Returns: %FALSE if the limit could not be set or a process not moved
 */
gboolean
nlx_lxc_cgroup_limit_pids (const char *domain,
                           pid_t controller,
                           pid_t init,
                           guint limit,
                           GError **error)
{
  if (is_v1 ())
    return limit_pids_v1 (domain, controller, init, limit, error);
  if (is_v2 ())
    return limit_pids_v2 (domain, init, limit, error);
  return no_pids_controller (error);
}

/**
 * nlx_lxc_cgroup_remove_pids:
 * @domain: the domain's name
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Removes the domain's pids group once its processes are gone; nothing
 * to remove is no error.
 */
gboolean
nlx_lxc_cgroup_remove_pids (const char *domain,
                            GError **error)
{
  g_autofree char *dir = g_build_filename (PIDS_V1, NLX_LXC_PIDS_GROUP, domain,
                                           NULL);

  gint64 deadline = g_get_monotonic_time () + REMOVE_TIMEOUT_US;
  int rc;

  if (!is_v1 ())
    return TRUE;
  /* A container just destroyed may still have processes exiting. */
  while ((rc = g_rmdir (dir)) != 0 && errno == EBUSY &&
         g_get_monotonic_time () < deadline)
    g_usleep (20 * 1000);
  if (rc == 0 || errno == ENOENT)
    return TRUE;
  {
    int saved_errno = errno;

    g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                 _("Cannot remove the pids cgroup %s: %s"), dir,
                 g_strerror (saved_errno));
  }
  return FALSE;
}

/**
 * nlx_lxc_cgroup_prune_pids:
 * @exists: says whether libvirt knows a domain of that name
 * @user_data: for @exists
 *
 * Removes the empty pids groups of domains libvirt no longer has, which
 * a deletion racing with a start, or a daemon killed at the wrong
 * moment, can leave; whichever daemon they were of.  A group with
 * processes, or of a domain that exists, stays.
 */
void
nlx_lxc_cgroup_prune_pids (NlxLxcDomainExists exists,
                           gpointer user_data)
{
  g_autoptr(GDir) dir = g_dir_open (PIDS_V1 "/" NLX_LXC_PIDS_GROUP, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (PIDS_V1, NLX_LXC_PIDS_GROUP,
                                                name, NULL);
      g_autoptr(GArray) procs = NULL;

      if (!g_str_has_prefix (name, "instance-") ||
          !g_file_test (path, G_FILE_TEST_IS_DIR))
        continue;
      procs = read_procs (path);
      if (procs->len == 0 && !exists (name, user_data) && g_rmdir (path) == 0)
        g_debug ("Removed the pids group %s of a domain that is gone", path);
    }
}
