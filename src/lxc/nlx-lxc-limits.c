/* nlx-lxc-limits.c: whether the host's limits hold the instances the
 * daemon is set up for
 *
 * Every instance takes a few of several things the kernel counts: the
 * daemon's descriptors, PTYs, inotify instances (charged to root, the
 * owner of every instance's user namespace), keys (charged to the host
 * uid an instance's root maps to), tasks, a bridge port and an address.
 * With the kernel's defaults the first to run out is none of memory or
 * CPU: at start the driver compares each with [filter_scheduler]
 * max_instances_per_host and says, once per limit, what to raise and to
 * what.  Apart from init_host so that a test can point the reader at a
 * directory of its own for /proc. */

#include "config.h"

#include <glib/gi18n-lib.h>

#include "common/nlx-error.h"
#include "common/nlx-file.h"
#include "lxc/nlx-lxc-limits.h"

/* What the host keeps for itself, besides the instances. */
#define HOST_FDS 64
#define HOST_PTYS 64
#define HOST_INOTIFY_INSTANCES 32
#define HOST_INOTIFY_WATCHES 8192
/* Half the kernel's default quota, left for what instances' own
 * processes add (with seccomp = unconfined; the default filter denies
 * add_key). */
#define HOST_KEYS 100
#define HOST_KEY_BYTES 10000
#define HOST_TASKS 4096

/* One number, or "unlimited"; a file the kernel does not have (keys
 * built out) limits nothing. */
static gboolean
read_number (const char *proc_dir,
             const char *name,
             guint64 *value,
             GError **error)
{
  g_autofree char *path = g_build_filename (proc_dir, name, NULL);
  g_autofree char *text = NULL;
  g_autoptr(GError) local_error = NULL;
  char *end = NULL;

  *value = G_MAXUINT64;
  if (!nlx_file_get_contents (path, &text, NULL, &local_error))
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return TRUE;
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  g_strstrip (text);
  if (g_str_equal (text, "unlimited"))
    return TRUE;
  *value = g_ascii_strtoull (text, &end, 10);
  if (*text == '\0' || !g_ascii_isdigit (*text) || *end != '\0')
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot read the host's limits: %s holds “%s”, not a "
                     "number"), path, text);
      return FALSE;
    }
  return TRUE;
}

/* The soft limit of "Max open files" in PROC/self/limits. */
static gboolean
read_open_files (const char *proc_dir,
                 guint64 *value,
                 GError **error)
{
  g_autofree char *path = g_build_filename (proc_dir, "self", "limits", NULL);
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;

  if (!nlx_file_get_contents (path, &text, NULL, error))
    return FALSE;
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], "Max open files"))
      {
        g_auto(GStrv) words = NULL;
        char *end = NULL;

        words = g_strsplit_set (lines[i] + strlen ("Max open files"), " \t",
                                -1);
        for (guint w = 0; words[w] != NULL; w++)
          if (*words[w] != '\0')
            {
              if (g_str_equal (words[w], "unlimited"))
                {
                  *value = G_MAXUINT64;
                  return TRUE;
                }
              *value = g_ascii_strtoull (words[w], &end, 10);
              if (g_ascii_isdigit (*words[w]) && *end == '\0')
                return TRUE;
              break;
            }
        break;
      }
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
               _("Cannot read the host's limits: %s has no soft limit of "
                 "“Max open files”"), path);
  return FALSE;
}

/**
 * nlx_lxc_limits_read:
 * @proc_dir: where proc is mounted: "/proc", or a test's directory
 *   laid out as it
 * @limits: (out): the limits found
 *
 * Reads the process's open file limit and the kernel's limits that
 * instances use.
 *
 * Returns: FALSE with @error set when a file cannot be read or parsed
 */
gboolean
nlx_lxc_limits_read (const char *proc_dir,
                     NlxLxcHostLimits *limits,
                     GError **error)
{
  return read_open_files (proc_dir, &limits->open_files, error) &&
         read_number (proc_dir, "sys/kernel/pty/max", &limits->pty_max,
                      error) &&
         read_number (proc_dir, "sys/kernel/pty/reserve",
                      &limits->pty_reserve, error) &&
         read_number (proc_dir, "sys/fs/inotify/max_user_instances",
                      &limits->inotify_instances, error) &&
         read_number (proc_dir, "sys/fs/inotify/max_user_watches",
                      &limits->inotify_watches, error) &&
         read_number (proc_dir, "sys/kernel/keys/maxkeys", &limits->keys_max,
                      error) &&
         read_number (proc_dir, "sys/kernel/keys/maxbytes",
                      &limits->keys_bytes, error) &&
         read_number (proc_dir, "sys/kernel/pid_max", &limits->pid_max,
                      error) &&
         read_number (proc_dir, "sys/kernel/threads-max",
                      &limits->threads_max, error);
}

/* How many instances of @per_instance each @have holds beside
 * @host_share; what @instances of them need. */
static guint64
instances_held (guint64 have,
                guint64 host_share,
                guint64 per_instance)
{
  if (have == G_MAXUINT64)
    return G_MAXUINT64;
  return have > host_share ? (have - host_share) / per_instance : 0;
}

/* One sysctl: a warning when it holds fewer than @wanted->instances. */
static void
check_sysctl (GPtrArray *warnings,
              guint64 *allowed,
              const NlxLxcLimitsWanted *wanted,
              const char *name,
              guint64 have,
              guint64 host_share,
              guint64 per_instance,
              const char *cost)
{
  guint64 held = instances_held (have, host_share, per_instance);
  guint64 need = host_share + per_instance * wanted->instances;

  *allowed = MIN (*allowed, held);
  if (held >= wanted->instances)
    return;
  g_ptr_array_add (warnings,
                   g_strdup_printf (_("%s is %llu, enough for about %llu of "
                                      "the %u instances of [filter_scheduler] "
                                      "max_instances_per_host (%s); raise it "
                                      "to at least %llu with “sysctl -w "
                                      "%s=%llu”, and in /etc/sysctl.d/ to "
                                      "keep it"),
                                    name, (unsigned long long) have,
                                    (unsigned long long) held,
                                    wanted->instances, cost,
                                    (unsigned long long) need, name,
                                    (unsigned long long) need));
}

/**
 * nlx_lxc_limits_check:
 * @limits: the host's, from nlx_lxc_limits_read()
 * @wanted: what the daemon is set up for
 * @allowed: (out) (optional): about how many instances the tightest
 *   limit holds, G_MAXUINT when none binds
 *
 * Compares each limit with what @wanted->instances instances cost
 * (NLX_LXC_*_PER_INSTANCE) besides the host's own share.
 *
 * Returns: (transfer full) (element-type utf8): one message per limit
 *   that holds fewer instances, saying what to raise and to what; empty
 *   when all hold them
 */
GPtrArray *
nlx_lxc_limits_check (const NlxLxcHostLimits *limits,
                      const NlxLxcLimitsWanted *wanted,
                      guint *allowed)
{
  g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  guint64 held_min = G_MAXUINT64;
  guint64 host_fds = HOST_FDS + (guint64) wanted->api_connections;
  guint64 held;
  guint64 pty_share;

  held = instances_held (limits->open_files, host_fds,
                         NLX_LXC_FDS_PER_INSTANCE);
  held_min = MIN (held_min, held);
  if (held < wanted->instances)
    {
      guint64 need = host_fds +
                     (guint64) NLX_LXC_FDS_PER_INSTANCE * wanted->instances;

      g_ptr_array_add (warnings,
                       g_strdup_printf (_("nova-lxc-compute may open %llu "
                                          "files, enough for about %llu of "
                                          "the %u instances of "
                                          "[filter_scheduler] "
                                          "max_instances_per_host (%u "
                                          "each, and %llu for itself and "
                                          "its API connections); raise its "
                                          "hard limit to at least %llu "
                                          "(LimitNOFILE= in "
                                          "nova-lxc-compute.service, or "
                                          "ulimit -Hn)"),
                                        (unsigned long long) limits->open_files,
                                        (unsigned long long) held,
                                        wanted->instances,
                                        NLX_LXC_FDS_PER_INSTANCE,
                                        (unsigned long long) host_fds,
                                        (unsigned long long) need));
    }

  /* The PTY in an instance's own devpts is refused once all PTYs reach
   * kernel.pty.max less kernel.pty.reserve (devpts_new_index()). */
  pty_share = HOST_PTYS +
              (limits->pty_reserve == G_MAXUINT64 ? 0 : limits->pty_reserve);
  {
    g_autofree char *cost =
      g_strdup_printf (_("%u PTYs each, beside kernel.pty.reserve, %llu, "
                         "which instances never get"),
                       NLX_LXC_PTYS_PER_INSTANCE,
                       (unsigned long long) (pty_share - HOST_PTYS));

    check_sysctl (warnings, &held_min, wanted, "kernel.pty.max",
                  limits->pty_max, pty_share, NLX_LXC_PTYS_PER_INSTANCE,
                  cost);
  }
  {
    g_autofree char *cost =
      g_strdup_printf (_("%u each for systemd in an instance, all charged "
                         "to root with root's own"),
                       NLX_LXC_INOTIFY_INSTANCES_PER_INSTANCE);

    check_sysctl (warnings, &held_min, wanted,
                  "fs.inotify.max_user_instances", limits->inotify_instances,
                  HOST_INOTIFY_INSTANCES,
                  NLX_LXC_INOTIFY_INSTANCES_PER_INSTANCE, cost);
  }
  {
    g_autofree char *cost =
      g_strdup_printf (_("%u each for systemd in an instance, all charged "
                         "to root with root's own"),
                       NLX_LXC_INOTIFY_WATCHES_PER_INSTANCE);

    check_sysctl (warnings, &held_min, wanted, "fs.inotify.max_user_watches",
                  limits->inotify_watches, HOST_INOTIFY_WATCHES,
                  NLX_LXC_INOTIFY_WATCHES_PER_INSTANCE, cost);
  }
  /* Not counted in @allowed: a session keyring may overrun the quota
   * (KEY_ALLOC_QUOTA_OVERRUN), so instances start whatever it says;
   * what fails is a key their own processes add. */
  held = MIN (instances_held (limits->keys_max, HOST_KEYS,
                              NLX_LXC_KEYS_PER_INSTANCE),
              instances_held (limits->keys_bytes, HOST_KEY_BYTES,
                              NLX_LXC_KEY_BYTES_PER_INSTANCE));
  if (held < wanted->instances)
    {
      guint64 need_keys = HOST_KEYS +
                          (guint64) NLX_LXC_KEYS_PER_INSTANCE * wanted->instances;
      guint64 need_bytes = HOST_KEY_BYTES +
                           (guint64) NLX_LXC_KEY_BYTES_PER_INSTANCE * wanted->instances;

      /* Never lower the one that holds enough already. */
      need_keys = MAX (need_keys, limits->keys_max);
      need_bytes = MAX (need_bytes, limits->keys_bytes);

      g_ptr_array_add (warnings,
                       g_strdup_printf (_("kernel.keys.maxkeys is %llu and "
                                          "kernel.keys.maxbytes %llu, the key "
                                          "quota of the host uid every "
                                          "instance's root maps to ([lxc] "
                                          "uid_maps), which the session "
                                          "keyrings of about %llu of the %u "
                                          "instances of [filter_scheduler] "
                                          "max_instances_per_host fill (%u "
                                          "key of %u bytes each); past that "
                                          "instances still start, but keys "
                                          "their processes add fail with "
                                          "EDQUOT (with seccomp = unconfined; "
                                          "the default filter denies them "
                                          "anyway); raise them to at least "
                                          "%llu and %llu with “sysctl -w "
                                          "kernel.keys.maxkeys=%llu "
                                          "kernel.keys.maxbytes=%llu”, and in "
                                          "/etc/sysctl.d/ to keep them"),
                                        (unsigned long long) limits->keys_max,
                                        (unsigned long long) limits->keys_bytes,
                                        (unsigned long long) held,
                                        wanted->instances,
                                        NLX_LXC_KEYS_PER_INSTANCE,
                                        NLX_LXC_KEY_BYTES_PER_INSTANCE,
                                        (unsigned long long) need_keys,
                                        (unsigned long long) need_bytes,
                                        (unsigned long long) need_keys,
                                        (unsigned long long) need_bytes));
    }
  {
    g_autofree char *cost =
      g_strdup_printf (_("at least %u tasks each, libvirt_lxc's included"),
                       NLX_LXC_TASKS_PER_INSTANCE);

    check_sysctl (warnings, &held_min, wanted, "kernel.pid_max",
                  limits->pid_max, HOST_TASKS, NLX_LXC_TASKS_PER_INSTANCE,
                  cost);
    check_sysctl (warnings, &held_min, wanted, "kernel.threads-max",
                  limits->threads_max, HOST_TASKS, NLX_LXC_TASKS_PER_INSTANCE,
                  cost);
  }

  /* Neither is a sysctl: the bridge's is built into the kernel, the
   * addresses are the operator's [network] range. */
  held_min = MIN (held_min, NLX_LXC_BRIDGE_PORTS_MAX);
  if (wanted->instances > NLX_LXC_BRIDGE_PORTS_MAX)
    g_ptr_array_add (warnings,
                     g_strdup_printf (_("[filter_scheduler] "
                                        "max_instances_per_host is %u, but "
                                        "a Linux bridge takes at most %u "
                                        "ports, so instances past that many "
                                        "on [network] bridge fail to start; "
                                        "lower it, or run another "
                                        "nova-lxc-compute with a bridge of "
                                        "its own (nova-lxc-compute(8), "
                                        "LIMITS)"),
                                      wanted->instances,
                                      NLX_LXC_BRIDGE_PORTS_MAX));
  held_min = MIN (held_min, wanted->addresses);
  if (wanted->addresses < wanted->instances)
    g_ptr_array_add (warnings,
                     g_strdup_printf (_("[filter_scheduler] "
                                        "max_instances_per_host is %u, but "
                                        "[network] cidr, range_start and "
                                        "range_end leave %u addresses for "
                                        "instances; widen the range (a /22 "
                                        "holds 1021) or lower "
                                        "max_instances_per_host"),
                                      wanted->instances, wanted->addresses));
  if (allowed != NULL)
    *allowed = (guint) MIN (held_min, (guint64) G_MAXUINT);
  return g_steal_pointer (&warnings);
}
