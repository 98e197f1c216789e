/* bench-scale-host.c: what bench-scale asks of the host: whether it
 * fits N servers, the daemon's and libvirtd's figures, the daemon's
 * config and stop, and what of the run is left, found and removed. */
#include "config.h"

#include <glib/gstdio.h>

#include <libvirt/libvirt.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/nlx-file.h"
#include "host/nlx-network-filter.h"

#include "nlx-bench-scale.h"

/* ---- the host --------------------------------------------------------- */

int
proc_status_field (GPid pid,
                   const char *field)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", pid);
  g_autofree char *text = NULL;
  g_autofree char *key = g_strdup_printf ("\n%s:", field);
  const char *line;

  if (pid <= 0 || !g_file_get_contents (path, &text, NULL, NULL) ||
      (line = strstr (text, key)) == NULL)
    return -1;
  return (int) g_ascii_strtoll (line + strlen (key), NULL, 10);
}

static int
count_entries (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  int count = 0;

  if (dir == NULL)
    return -1;
  while (g_dir_read_name (dir) != NULL)
    count++;
  return count;
}

int
process_fds (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/fd", pid);

  return pid > 0 ? count_entries (path) : -1;
}

/* CPU time @pid used so far, in ms, with that of its children it has
 * waited for when @children (a daemon's nft, say); -1 if gone. */
double
process_cpu_ms (GPid pid,
                gboolean children)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", pid);
  g_autofree char *text = NULL;
  g_auto(GStrv) fields = NULL;
  const char *end;
  double ticks;

  if (pid <= 0 || !g_file_get_contents (path, &text, NULL, NULL) ||
      (end = strrchr (text, ')')) == NULL)
    return -1;
  /* After "pid (comm) ": state is field 3, utime 14, stime 15, cutime
   * 16, cstime 17. */
  fields = g_strsplit (end + 2, " ", 16);
  if (g_strv_length (fields) < 15)
    return -1;
  ticks = g_ascii_strtod (fields[11], NULL) + g_ascii_strtod (fields[12], NULL);
  if (children)
    ticks += g_ascii_strtod (fields[13], NULL) +
             g_ascii_strtod (fields[14], NULL);
  return ticks * 1000.0 / sysconf (_SC_CLK_TCK);
}

/* The host's busy CPU time so far (all but idle and iowait), in ms. */
double
host_cpu_ms (void)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) fields = NULL;
  double busy = 0;

  if (!g_file_get_contents ("/proc/stat", &text, NULL, NULL) ||
      !g_str_has_prefix (text, "cpu "))
    return -1;
  fields = g_strsplit_set (text + 4, " \n", 12);
  for (guint i = 0, column = 0; fields[i] != NULL && column < 8; i++)
    {
      if (*fields[i] == '\0')
        continue;
      /* user nice system idle iowait irq softirq steal */
      if (column != 3 && column != 4)
        busy += g_ascii_strtod (fields[i], NULL);
      column++;
    }
  return busy * 1000.0 / sysconf (_SC_CLK_TCK);
}

/* From its pid file: someone may restart it. */
GPid
libvirtd_pid (void)
{
  g_autofree char *text = NULL;

  if (!g_file_get_contents ("/run/libvirtd.pid", &text, NULL, NULL))
    return 0;
  return (GPid) g_ascii_strtoll (text, NULL, 10);
}

static gint64
read_number (const char *path)
{
  g_autofree char *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return -1;
  return g_ascii_strtoll (text, NULL, 10);
}

/* Active objects of the kernel's mount cache, host-wide; -1 when
 * /proc/slabinfo cannot be read. */
gint64
mount_objects (void)
{
  g_autofree char *text = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/slabinfo", &text, NULL, NULL) ||
      (line = strstr (text, "\nmnt_cache ")) == NULL)
    return -1;
  return g_ascii_strtoll (line + strlen ("\nmnt_cache "), NULL, 10);
}

/* Lines of @pid's mountinfo: the mounts its namespace holds; -1 if
 * unknown. */
static int
namespace_mounts (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/mountinfo", (int) pid);
  g_autofree char *text = NULL;
  int n = 0;

  if (pid <= 0 || !g_file_get_contents (path, &text, NULL, NULL))
    return -1;
  for (const char *p = text; *p != '\0'; p++)
    n += *p == '\n';
  return n;
}

/* Mounts in libvirtd's namespace, which every controller copies. */
int
libvirtd_mounts (void)
{
  return namespace_mounts (libvirtd_pid ());
}

/* The mean number of mounts in the namespaces of this run's libvirt_lxc
 * controllers (up to 20 of them): what each instance costs the kernel,
 * independent of other work on the host; -1 if none is found. */
double
controller_mounts (Scale *scale)
{
  virConnectPtr conn = virConnectOpen ("lxc:///");
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter iter;
  gpointer key;
  double total = 0;
  guint n = 0;

  if (conn == NULL)
    return -1;
  g_mutex_lock (&scale->lock);
  g_hash_table_iter_init (&iter, scale->live);
  while (ids->len < 20 && g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (ids, g_strdup (key));
  g_mutex_unlock (&scale->lock);
  for (guint i = 0; i < ids->len; i++)
    {
      virDomainPtr dom = virDomainLookupByUUIDString (conn, ids->pdata[i]);
      int mounts;

      if (dom == NULL)
        continue;
      mounts = namespace_mounts ((GPid) virDomainGetID (dom));
      virDomainFree (dom);
      if (mounts < 0)
        continue;
      total += mounts;
      n++;
    }
  virConnectClose (conn);
  return n > 0 ? total / n : -1;
}

/* "Max open files" soft limit of @pid, -1 if unknown. */
static gint64
process_fd_limit (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/limits", pid);
  g_autofree char *text = NULL;
  const char *line;

  if (pid <= 0 || !g_file_get_contents (path, &text, NULL, NULL) ||
      (line = strstr (text, "Max open files")) == NULL)
    return -1;
  line += strlen ("Max open files");
  while (*line == ' ')
    line++;
  return g_str_has_prefix (line, "unlimited") ? G_MAXINT64
                                              : g_ascii_strtoll (line, NULL, 10);
}

/* Whether the host has what N servers take; says what to raise when it
 * has not.  Raises this process's fd soft limit to its hard one, which
 * the daemon inherits. */
gboolean
host_fits (guint n,
           const char *cidr)
{
  g_autoptr(GInetAddressMask) range = g_inet_address_mask_new_from_string (cidr,
                                                                           NULL);
  g_autofree char *meminfo = NULL;
  g_autofree char *loadavg = NULL;
  g_autofree char *addresses = NULL;
  const char *line;
  struct rlimit limit;
  gint64 need, have, tasks = 0;
  gboolean ok = TRUE;
  GPid libvirtd = libvirtd_pid ();
  const char *ip[] = { "ip", "-4", "-o", "addr", "show", NULL };

  need = (gint64) n * MIB_PER_SERVER + HEADROOM_MIB;
  if (g_file_get_contents ("/proc/meminfo", &meminfo, NULL, NULL) &&
      (line = strstr (meminfo, "MemAvailable:")) != NULL &&
      (have = g_ascii_strtoll (line + strlen ("MemAvailable:"), NULL,
                               10) / 1024) < need)
    {
      g_print ("bench-scale: REFUSED: %u servers need about %" G_GINT64_FORMAT
               " MiB (%d MiB each and %d MiB of headroom) and MemAvailable "
               "is %" G_GINT64_FORMAT " MiB: free memory or lower --count\n",
               n, need, MIB_PER_SERVER, HEADROOM_MIB, have);
      ok = FALSE;
    }
  if (n > BRIDGE_PORTS)
    {
      g_print ("bench-scale: REFUSED: the daemon puts every server on one "
               "bridge, which takes at most %d ports: lower --count\n",
               BRIDGE_PORTS);
      ok = FALSE;
    }
  need = (gint64) n * PTYS_PER_SERVER + 64;
  have = read_number ("/proc/sys/kernel/pty/max") -
         read_number ("/proc/sys/kernel/pty/nr");
  if (have < need)
    {
      g_print ("bench-scale: REFUSED: %u servers take %" G_GINT64_FORMAT
               " ptys and %" G_GINT64_FORMAT " are free: raise "
               "kernel.pty.max (sysctl -w kernel.pty.max=%" G_GINT64_FORMAT
               ")\n", n, need, have,
               read_number ("/proc/sys/kernel/pty/nr") + need);
      ok = FALSE;
    }
  need = (gint64) n * FDS_PER_SERVER + SPARE_FDS;
  if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max)
    {
      limit.rlim_cur = limit.rlim_max;
      setrlimit (RLIMIT_NOFILE, &limit);
    }
  if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY &&
      (gint64) limit.rlim_cur < need)
    {
      g_print ("bench-scale: REFUSED: the daemon, which inherits this "
               "process's fd limit (%" G_GINT64_FORMAT "), may hold %"
               G_GINT64_FORMAT " fds with %u servers: raise it (ulimit -n %"
               G_GINT64_FORMAT ")\n", (gint64) limit.rlim_cur, need, n, need);
      ok = FALSE;
    }
  have = process_fd_limit (libvirtd);
  if (have >= 0 && have < need)
    {
      g_print ("bench-scale: REFUSED: libvirtd (pid %d) may hold %"
               G_GINT64_FORMAT " fds with %u servers and its limit is %"
               G_GINT64_FORMAT ": raise LimitNOFILE in its unit and restart "
               "it\n", libvirtd, need, n, have);
      ok = FALSE;
    }
  /* The 4th field of /proc/loadavg: running/total tasks. */
  if (g_file_get_contents ("/proc/loadavg", &loadavg, NULL, NULL) &&
      (line = strchr (loadavg, '/')) != NULL)
    tasks = g_ascii_strtoll (line + 1, NULL, 10);
  need = (gint64) n * TASKS_PER_SERVER;
  have = MIN (read_number ("/proc/sys/kernel/threads-max"),
              read_number ("/proc/sys/kernel/pid_max")) - tasks;
  if (have < need)
    {
      g_print ("bench-scale: REFUSED: %u servers may run %" G_GINT64_FORMAT
               " tasks and only %" G_GINT64_FORMAT " more fit: raise "
               "kernel.threads-max and kernel.pid_max\n", n, need, have);
      ok = FALSE;
    }
  if (range == NULL ||
      g_inet_address_mask_get_family (range) != G_SOCKET_FAMILY_IPV4)
    {
      g_print ("bench-scale: REFUSED: --cidr %s is no IPv4 network "
               "(A.B.C.D/LENGTH)\n", cidr);
      return FALSE;
    }
  /* Someone else's address in our range would route the servers away. */
  if (g_spawn_sync (NULL, (char **) ip, NULL,
                    G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL, NULL,
                    NULL, &addresses, NULL, NULL, NULL))
    {
      g_auto(GStrv) lines = g_strsplit (addresses, "\n", -1);

      for (guint i = 0; lines[i] != NULL; i++)
        {
          const char *inet = strstr (lines[i], " inet ");
          g_autofree char *text = NULL;
          g_autoptr(GInetAddress) address = NULL;

          if (inet == NULL)
            continue;
          text = g_strndup (inet + 6, strcspn (inet + 6, "/ "));
          address = g_inet_address_new_from_string (text);
          if (address != NULL && g_inet_address_mask_matches (range, address))
            {
              g_print ("bench-scale: REFUSED: an interface already has an "
                       "address in %s, the bench's servers' range (another "
                       "bench-scale's? give this one --cidr):\n  %s\n", cidr,
                       g_strstrip (lines[i]));
              ok = FALSE;
            }
        }
    }
  return ok;
}

/* ---- the daemon ------------------------------------------------------- */

gboolean
write_config (Scale *scale,
              GError **error)
{
  g_autofree char *state = g_build_filename (scale->tmp_dir, "state", NULL);
  g_autoptr(GKeyFile) config = g_key_file_new ();

  g_key_file_set_string (config, "DEFAULT", "compute_driver", "lxc");
  g_key_file_set_string (config, "DEFAULT", "state_path", state);
  g_key_file_set_string (config, "DEFAULT", "instances_path",
                         scale->instances);
  g_key_file_set_string (config, "api", "socket", scale->socket_path);
  g_key_file_set_string (config, "network", "bridge", scale->bridge);
  g_key_file_set_string (config, "network", "cidr", scale->cidr);
  /* N 1-vCPU, 64 MiB servers on one small machine: far beyond Nova's
   * default ratios, on purpose. */
  g_key_file_set_string (config, "compute", "cpu_allocation_ratio", "10000");
  g_key_file_set_string (config, "compute", "ram_allocation_ratio", "100");
  /* The daemon refuses a place past it (default 1000), and warns at
   * start of each host limit that holds fewer. */
  g_key_file_set_integer (config, "filter_scheduler",
                          "max_instances_per_host", (int) scale->count);
  g_key_file_set_string (config, "image " IMAGE, "path", scale->root);
  g_key_file_set_string (config, "image " IMAGE, "os_shutdown_signal",
                         "SIGUSR2");
  return g_key_file_save_to_file (config, scale->config_path, error);
}

gboolean
daemon_alive (Scale *scale)
{
  int status;

  if (scale->daemon == 0)
    return FALSE;
  if (waitpid (scale->daemon, &status, WNOHANG) == 0)
    return TRUE;
  scale->daemon = 0;
  return FALSE;
}

void
daemon_stop (Scale *scale)
{
  gint64 deadline = g_get_monotonic_time () +
                    DAEMON_STOP_TIMEOUT_S * G_USEC_PER_SEC;

  if (!daemon_alive (scale))
    return;
  kill (scale->daemon, SIGTERM);
  while (g_get_monotonic_time () < deadline)
    {
      if (!daemon_alive (scale))
        return;
      g_usleep (20 * 1000);
    }
  g_printerr ("bench-scale: nova-lxc-compute %d did not stop within %d s of "
              "SIGTERM; killing it\n", scale->daemon, DAEMON_STOP_TIMEOUT_S);
  kill (scale->daemon, SIGKILL);
  waitpid (scale->daemon, NULL, 0);
  scale->daemon = 0;
}

void
print_log_tail (Scale *scale,
                guint lines)
{
  g_autofree char *text = NULL;
  gsize length;
  const char *start;

  if (!g_file_get_contents (scale->log_path, &text, &length, NULL) ||
      length == 0)
    return;
  start = text + length - 1;
  while (start > text && lines > 0)
    if (*--start == '\n')
      lines--;
  if (*start == '\n')
    start++;
  g_printerr ("bench-scale: the end of the daemon's log (%s):\n%s",
              scale->log_path, start);
}

/* ---- what is left ----------------------------------------------------- */

gboolean
is_our_id (Scale *scale,
           const char *uuid)
{
  gboolean ours = FALSE;

  g_mutex_lock (&scale->lock);
  for (guint i = 0; i < scale->ids->len && !ours; i++)
    ours = g_ascii_strcasecmp (scale->ids->pdata[i], uuid) == 0;
  g_mutex_unlock (&scale->lock);
  return ours;
}

/* Domains of this run: an id it was given, or a definition naming its
 * directory (a server whose POST answer was lost).  With @remove,
 * destroys and undefines them. */
int
our_domains (Scale *scale,
             gboolean remove)
{
  virConnectPtr conn = virConnectOpen (URI);
  virDomainPtr *all = NULL;
  int n, count = 0;

  if (conn == NULL)
    return -1;
  n = virConnectListAllDomains (conn, &all, 0);
  for (int i = 0; i < n; i++)
    {
      char uuid[VIR_UUID_STRING_BUFLEN];
      gboolean ours = virDomainGetUUIDString (all[i], uuid) == 0 &&
                      is_our_id (scale, uuid);

      if (!ours)
        {
          g_autofree char *xml = virDomainGetXMLDesc (all[i], 0);

          ours = xml != NULL && strstr (xml, scale->tmp_dir) != NULL;
        }
      if (ours)
        {
          count++;
          if (remove)
            {
              if (count <= 5)
                g_printerr ("bench-scale: domain %s (uuid %s) was left; "
                            "removing it%s\n", virDomainGetName (all[i]),
                            uuid, count == 5 ? " (and the others, unnamed)"
                                             : "");
              if (virDomainIsActive (all[i]) == 1)
                virDomainDestroy (all[i]);
              if (virDomainIsPersistent (all[i]) == 1)
                virDomainUndefine (all[i]);
            }
        }
      virDomainFree (all[i]);
    }
  free (all);
  virConnectClose (conn);
  return n < 0 ? -1 : count;
}

/* Mounts at or under the run's directory in @pid's mount namespace,
 * but for instances_path itself: the lxc driver keeps it a private mount
 * point while the daemon runs (src/lxc/nlx-lxc-mounts.c). */
static int
count_mounts_of (const char *tmp_dir,
                 const char *instances,
                 const char *mountinfo)
{
  g_autofree char *text = NULL;
  g_autofree char *prefix = g_strconcat (tmp_dir, "/", NULL);
  g_auto(GStrv) lines = NULL;
  int count = 0;

  if (!g_file_get_contents (mountinfo, &text, NULL, NULL))
    return 0;
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) fields = g_strsplit (lines[i], " ", 6);

      if (g_strv_length (fields) >= 5 &&
          (g_str_has_prefix (fields[4], prefix) ||
           g_str_equal (fields[4], tmp_dir)) &&
          !g_str_equal (fields[4], instances))
        count++;
    }
  return count;
}

/* In the bench's mount namespace, and in libvirtd's when it has one of
 * its own (where the instances' mounts may be kept). */
static int
count_mounts (Scale *scale)
{
  GPid libvirtd = libvirtd_pid ();
  int count = count_mounts_of (scale->tmp_dir, scale->instances,
                               "/proc/self/mountinfo");

  if (libvirtd > 0)
    {
      g_autofree char *ns = g_strdup_printf ("/proc/%d/ns/mnt", libvirtd);
      g_autofree char *theirs = g_file_read_link (ns, NULL);
      g_autofree char *ours = g_file_read_link ("/proc/self/ns/mnt", NULL);

      if (theirs != NULL && g_strcmp0 (theirs, ours) != 0)
        {
          g_autofree char *path = g_strdup_printf ("/proc/%d/mountinfo",
                                                   libvirtd);

          count += count_mounts_of (scale->tmp_dir, scale->instances, path);
        }
    }
  return count;
}

/* Loop devices over a file of the run, or over such a loop device. */
static int
count_loops (Scale *scale)
{
  g_autoptr(GDir) dir = g_dir_open ("/sys/block", 0, NULL);
  g_autofree char *prefix = g_strconcat (scale->tmp_dir, "/", NULL);
  g_autoptr(GHashTable) ours = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                      g_free, NULL);
  g_autoptr(GPtrArray) over_loops = g_ptr_array_new_with_free_func (g_free);
  const char *name;
  int count;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = NULL;
      g_autofree char *backing = NULL;

      if (!g_str_has_prefix (name, "loop"))
        continue;
      path = g_strdup_printf ("/sys/block/%s/loop/backing_file", name);
      if (!g_file_get_contents (path, &backing, NULL, NULL))
        continue;
      g_strchomp (backing);
      if (g_str_has_prefix (backing, prefix))
        g_hash_table_add (ours, g_strconcat ("/dev/", name, NULL));
      else if (g_str_has_prefix (backing, "/dev/loop"))
        g_ptr_array_add (over_loops, g_steal_pointer (&backing));
    }
  count = g_hash_table_size (ours);
  for (guint i = 0; i < over_loops->len; i++)
    if (g_hash_table_contains (ours, over_loops->pdata[i]))
      count++;
  return count;
}

/* Ports on the run's bridge, and veths nlx-<id> of its servers. */
static int
count_veths (Scale *scale)
{
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                      g_free, NULL);
  g_autofree char *brif = g_build_filename ("/sys/class/net", scale->bridge,
                                            "brif", NULL);
  g_autoptr(GDir) dir = g_dir_open (brif, 0, NULL);
  const char *name;

  g_mutex_lock (&scale->lock);
  for (guint i = 0; i < scale->ids->len; i++)
    {
      g_autofree char *veth = g_strdup_printf ("nlx-%.8s",
                                               (char *) scale->ids->pdata[i]);
      g_autofree char *path = g_build_filename ("/sys/class/net", veth, NULL);

      if (g_file_test (path, G_FILE_TEST_EXISTS))
        g_hash_table_add (seen, g_steal_pointer (&veth));
    }
  g_mutex_unlock (&scale->lock);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    g_hash_table_add (seen, g_strdup (name));
  return g_hash_table_size (seen);
}

/* Instance directories (instances_path/UUID); the daemon's lock file
 * there is not one. */
static int
count_instance_dirs (Scale *scale)
{
  g_autoptr(GDir) dir = g_dir_open (scale->instances, 0, NULL);
  const char *name;
  int count = 0;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    if (g_uuid_string_is_valid (name))
      count++;
  return count;
}

/* Files the daemon keeps for the run's bridge in the run directory (its
 * DHCP server's), other than its lock, which it leaves by design. */
static int
count_run_files (Scale *scale)
{
  g_autoptr(GDir) dir = g_dir_open (NLX_RUN_DIR, 0, NULL);
  g_autofree char *lock = g_strdup_printf ("bridge-%s.lock", scale->bridge);
  const char *name;
  int count = 0;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    if (strstr (name, scale->bridge) != NULL && !g_str_equal (name, lock))
      {
        g_printerr ("bench-scale: %s/%s is left\n", NLX_RUN_DIR, name);
        count++;
      }
  return count;
}

/* A daemon that was killed leaves its bridge's DHCP server running (a
 * restarted one takes it over): stops it, when its pid file names a
 * dnsmasq serving the run's bridge, then removes its files. */
static void
remove_dhcp (Scale *scale)
{
  g_autofree char *pid_name = g_strdup_printf ("dhcp-%s.pid", scale->bridge);
  g_autofree char *pid_path = g_build_filename (NLX_RUN_DIR, pid_name, NULL);
  g_autofree char *prefix = g_strdup_printf ("dhcp-%s.", scale->bridge);
  g_autofree char *interface = g_strdup_printf ("--interface=%s",
                                                scale->bridge);
  g_autofree char *text = NULL;
  g_autoptr(GDir) dir = NULL;
  const char *name;
  GPid pid;

  if (g_file_get_contents (pid_path, &text, NULL, NULL) &&
      (pid = (GPid) g_ascii_strtoll (text, NULL, 10)) > 1)
    {
      g_autofree char *cmdline_path = g_strdup_printf ("/proc/%d/cmdline",
                                                       pid);
      g_autofree char *cmdline = NULL;
      gsize length;
      gboolean ours = FALSE;

      if (g_file_get_contents (cmdline_path, &cmdline, &length, NULL))
        for (gsize at = 0; at < length && !ours; at += strlen (cmdline + at) + 1)
          ours = g_str_equal (cmdline + at, interface);
      if (ours)
        {
          g_printerr ("bench-scale: the DHCP server of %s (pid %d) was left; "
                      "stopping it\n", scale->bridge, pid);
          kill (pid, SIGTERM);
          for (guint i = 0; i < 100 && kill (pid, 0) == 0; i++)
            g_usleep (50 * 1000);
        }
    }
  dir = g_dir_open (NLX_RUN_DIR, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_prefix (name, prefix))
      {
        g_autofree char *path = g_build_filename (NLX_RUN_DIR, name, NULL);

        g_unlink (path);
      }
}

void
measure_left (Scale *scale,
              Left *left)
{
  left->domains = our_domains (scale, FALSE);
  left->dirs = count_instance_dirs (scale);
  left->mounts = count_mounts (scale);
  left->loops = count_loops (scale);
  left->veths = count_veths (scale);
}

gboolean
left_nothing (const Left *left)
{
  return left->domains == 0 && left->dirs == 0 && left->mounts == 0 &&
         left->loops == 0 && left->veths == 0;
}


/* Removes what the daemon left of the run, once it has stopped:
 * domains, mounts, loop devices, its bridge and firewall tables, the
 * run's directory.  Returns whether nothing had to be removed by force. */
gboolean
remove_leftovers (Scale *scale)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *bridge_path = g_build_filename ("/sys/class/net",
                                                   scale->bridge, NULL);
  g_autofree char *lock_name = g_strdup_printf ("bridge-%s.lock",
                                                scale->bridge);
  g_autofree char *lock = g_build_filename (NLX_RUN_DIR, lock_name, NULL);
  gboolean clean = TRUE;

  if (our_domains (scale, TRUE) != 0)
    clean = FALSE;
  if (count_mounts (scale) > 0)
    {
      const char *argv[] = { "/bin/sh", "-c",
        "findmnt -rn -o TARGET | grep \"^$0/\" | sort -r | "
        "while read m; do umount -l \"$m\"; done", scale->tmp_dir, NULL };

      g_printerr ("bench-scale: mounts were left under %s; unmounting them\n",
                  scale->tmp_dir);
      g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                    NULL, NULL, NULL, NULL);
      clean = FALSE;
    }
  if (count_loops (scale) > 0)
    {
      const char *argv[] = { "/bin/sh", "-c",
        "for f in /sys/block/loop*/loop/backing_file; do "
        "b=$(cat $f); d=${f%/loop/backing_file}; "
        "case $b in /dev/loop*) "
        "b=$(cat /sys/block/${b#/dev/}/loop/backing_file 2>/dev/null);; esac; "
        "case $b in \"$0\"/*) losetup -d /dev/${d##*/};; esac; done",
        scale->tmp_dir, NULL };

      g_printerr ("bench-scale: loop devices were left on %s; detaching "
                  "them\n", scale->tmp_dir);
      g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                    NULL, NULL, NULL, NULL);
      clean = FALSE;
    }
  /* Its DHCP server's files go when it stops; its lock of the bench's
   * bridge stays, and nothing else removes it. */
  if (count_run_files (scale) > 0)
    {
      remove_dhcp (scale);
      clean = FALSE;
    }
  g_unlink (lock);
  if (g_file_test (bridge_path, G_FILE_TEST_EXISTS) &&
      !g_spawn_sync (NULL, (char **) (const char * const []) {
                       "ip", "link", "del", scale->bridge, NULL },
                     NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL,
                     &error))
    {
      g_printerr ("bench-scale: cannot remove bridge %s: %s; remove it with "
                  "ip link del %s\n", scale->bridge, error->message,
                  scale->bridge);
      g_clear_error (&error);
    }
  if (g_file_test (bridge_path, G_FILE_TEST_EXISTS))
    clean = FALSE;
  /* The daemon leaves its bridge's firewall tables when it stops. */
  if (!nlx_network_filter_delete (scale->bridge, &error))
    {
      g_printerr ("bench-scale: %s\n", error->message);
      g_clear_error (&error);
      clean = FALSE;
    }
  if (!nlx_file_remove_tree (scale->tmp_dir, &error))
    {
      g_printerr ("bench-scale: %s\n", error->message);
      g_clear_error (&error);
      clean = FALSE;
    }
  g_print ("cleanup: bridge %s %s, %s %s\n", scale->bridge,
           g_file_test (bridge_path, G_FILE_TEST_EXISTS) ? "LEFT" : "removed",
           scale->tmp_dir,
           g_file_test (scale->tmp_dir, G_FILE_TEST_EXISTS) ? "LEFT"
                                                            : "removed");
  return clean;
}
