/* nlx-dhcp.c: DHCPv4 for the instances on the daemon's bridge
 *
 * Nova's instances get their address from Neutron's dnsmasq, which
 * knows only static leases (MAC -> the port's fixed address); images
 * made for clouds (cloud-init's init-local stage) run a DHCP client on
 * eth0 first and wait a minute when nothing answers.  So the daemon
 * runs one dnsmasq per bridge it owns, as Neutron does per network:
 * DHCP only (--port=0: no DNS, and then dnsmasq offers no DNS server),
 * bound to the bridge alone (with one --interface dnsmasq binds its
 * DHCP socket to that device, so daemons on other bridges run their own
 * beside it; --bind-dynamic rather than --bind-interfaces, which does
 * the same for DHCP but warns "LOUD WARNING ... DNS amplification" at
 * every SIGHUP although there is no DNS), static leases from a hosts
 * file that the
 * daemon rewrites and signals (SIGHUP) as instances come and go, no
 * lease file, no configuration file of the host's.
 *
 * The process is the daemon's child, in the foreground, killed when the
 * daemon stops.  PR_SET_PDEATHSIG cannot help: dnsmasq drops root for
 * "nobody" and the kernel clears the death signal when credentials
 * change.  A dnsmasq left by a daemon that was killed is found by its
 * pid file (and its command line naming the bridge) and replaced at the
 * next start.  Its files live in the run directory, which "nobody" can
 * read: dnsmasq reads the hosts file again, after dropping root, at
 * every SIGHUP. */
#include "config.h"

#include <gio/gio.h>
#include <glib/gi18n-lib.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "common/nlx-error.h"
#include "common/nlx-file.h"
#include "host/nlx-dhcp.h"
#include "model/nlx-address.h"

struct _NlxDhcp {
  char *bridge;
  char *hosts_path;
  char *pid_path;
  GSubprocess *process;
  GMutex lock;
  GHashTable *hosts;            /* uuid -> "mac,address" */
};

/**
 * nlx_dhcp_argv:
 * @dnsmasq: the program
 * @bridge: the bridge to serve
 * @cidr: the instances' subnet, "10.251.0.0/24"
 * @gateway: the bridge's address, offered as the router
 * @hosts_path: the static leases (nlx_dhcp_hosts_data())
 * @pid_path: where dnsmasq writes its pid
 * @error: return location for %NLX_DRIVER_ERROR_INVALID_ARGUMENT
 *
 * dnsmasq's command line.  Pure, for tests.
 *
 * Returns: (transfer full): the argument vector, or %NULL
 */
char **
nlx_dhcp_argv (const char *dnsmasq,
               const char *bridge,
               const char *cidr,
               const char *gateway,
               const char *hosts_path,
               const char *pid_path,
               GError **error)
{
  g_auto(GStrv) parts = cidr ? g_strsplit (cidr, "/", 2) : NULL;
  guint32 network = 0, gw = 0;
  guint64 prefix = 0;
  g_autofree char *net = NULL;
  g_autofree char *mask = NULL;
  GPtrArray *argv;

  if (!nlx_address_bridge_name_is_valid (bridge) || parts == NULL ||
      g_strv_length (parts) != 2 || !nlx_address_parse_ipv4 (parts[0], &network) ||
      !g_ascii_string_to_unsigned (parts[1], 10, NLX_NETWORK_PREFIX_MIN,
                                   NLX_NETWORK_PREFIX_MAX, &prefix, NULL) ||
      !nlx_address_parse_ipv4 (gateway, &gw))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Cannot serve DHCP on bridge “%s” for “%s” through "
                     "“%s”: not a bridge name, a subnet and an address"),
                   bridge ? bridge : "", cidr ? cidr : "",
                   gateway ? gateway : "");
      return NULL;
    }
  net = nlx_address_format_ipv4 (network & nlx_address_netmask (prefix));
  mask = nlx_address_format_ipv4 (nlx_address_netmask (prefix));
  argv = g_ptr_array_new ();
  g_ptr_array_add (argv, g_strdup (dnsmasq));
  g_ptr_array_add (argv, g_strdup ("--keep-in-foreground"));
  g_ptr_array_add (argv, g_strdup ("--conf-file=/dev/null"));
  g_ptr_array_add (argv, g_strdup ("--port=0"));
  g_ptr_array_add (argv, g_strdup ("--bind-dynamic"));
  g_ptr_array_add (argv, g_strdup_printf ("--interface=%s", bridge));
  g_ptr_array_add (argv, g_strdup ("--except-interface=lo"));
  g_ptr_array_add (argv, g_strdup ("--no-resolv"));
  g_ptr_array_add (argv, g_strdup ("--no-hosts"));
  g_ptr_array_add (argv, g_strdup ("--leasefile-ro"));
  g_ptr_array_add (argv, g_strdup ("--dhcp-authoritative"));
  g_ptr_array_add (argv, g_strdup ("--quiet-dhcp"));
  g_ptr_array_add (argv, g_strdup ("--log-facility=-"));
  g_ptr_array_add (argv, g_strdup_printf ("--dhcp-range=%s,static,%s,%u",
                                          net, mask, NLX_DHCP_LEASE_SECONDS));
  g_ptr_array_add (argv, g_strdup_printf ("--dhcp-option=option:router,%s",
                                          gateway));
  g_ptr_array_add (argv, g_strdup_printf ("--dhcp-hostsfile=%s", hosts_path));
  g_ptr_array_add (argv, g_strdup_printf ("--pid-file=%s", pid_path));
  g_ptr_array_add (argv, NULL);
  return (char **) g_ptr_array_free (argv, FALSE);
}

static gint
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/**
 * nlx_dhcp_hosts_data:
 * @hosts: uuid -> "mac,address"
 *
 * The dhcp-hostsfile: one static lease a line, sorted, so that the file
 * says the same for the same instances.  Pure, for tests.
 *
 * Returns: (transfer full): the text
 */
char *
nlx_dhcp_hosts_data (GHashTable *hosts)
{
  g_autoptr(GPtrArray) lines = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer value;
  GString *text = g_string_new (NULL);

  g_hash_table_iter_init (&iter, hosts);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (lines, value);
  g_ptr_array_sort (lines, compare_strings);
  for (guint i = 0; i < lines->len; i++)
    g_string_append_printf (text, "%s\n", (const char *) lines->pdata[i]);
  return g_string_free (text, FALSE);
}

static char *
find_dnsmasq (void)
{
  char *path = g_find_program_in_path ("dnsmasq");

  if (path == NULL && g_file_test ("/usr/sbin/dnsmasq",
                                   G_FILE_TEST_IS_EXECUTABLE))
    path = g_strdup ("/usr/sbin/dnsmasq");
  return path;
}

/* Under dhcp->lock.  Replaced by a rename, so that dnsmasq reads the
 * old list or the new, but not synced to disk: every start of the
 * daemon writes it again from the instances (nlx_dhcp_start()), so a
 * crash cannot leave a stale one in use, and an fsync at each instance
 * start and delete cost 5-15 ms of it. */
static gboolean
write_hosts (NlxDhcp *dhcp,
             GError **error)
{
  g_autofree char *data = nlx_dhcp_hosts_data (dhcp->hosts);
  g_autofree char *tmp = NULL;
  g_autoptr(GError) local_error = NULL;
  int fd = nlx_file_write_temporary (dhcp->hosts_path, data, -1, 0644, &tmp,
                                     &local_error);

  if (fd < 0 ||
      !nlx_file_sync_temporary (tmp, fd, FALSE, &local_error) ||
      !nlx_file_rename_temporary (tmp, dhcp->hosts_path, &local_error))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot write the DHCP leases of bridge %s: %s"),
                   dhcp->bridge, local_error->message);
      return FALSE;
    }
  if (dhcp->process != NULL)
    g_subprocess_send_signal (dhcp->process, SIGHUP);
  return TRUE;
}

/* Whether @pid runs: a zombie (its new parent has not reaped it yet)
 * serves nobody. */
static gboolean
process_runs (guint64 pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%" G_GUINT64_FORMAT "/stat",
                                           pid);
  g_autofree char *stat = NULL;
  const char *end;

  if (!g_file_get_contents (path, &stat, NULL, NULL) ||
      (end = strrchr (stat, ')')) == NULL)
    return FALSE;
  return end[1] == ' ' && end[2] != 'Z' && end[2] != 'X' && end[2] != '\0';
}

/* A dnsmasq a killed daemon left serving @bridge, found by its pid file
 * and checked by its command line so that a recycled pid is left
 * alone; it goes, so that ours can bind. */
static void
kill_stale (const char *pid_path,
            const char *bridge)
{
  g_autofree char *text = NULL;
  g_autofree char *cmdline_path = NULL;
  g_autofree char *cmdline = NULL;
  g_autofree char *want = g_strdup_printf ("--interface=%s", bridge);
  gsize length = 0;
  guint64 pid;
  gboolean ours = FALSE;

  if (!g_file_get_contents (pid_path, &text, NULL, NULL) ||
      !g_ascii_string_to_unsigned (g_strstrip (text), 10, 2, G_MAXINT32,
                                   &pid, NULL))
    return;
  cmdline_path = g_strdup_printf ("/proc/%" G_GUINT64_FORMAT "/cmdline", pid);
  if (!g_file_get_contents (cmdline_path, &cmdline, &length, NULL))
    return;
  if (length > 0 && g_str_has_suffix (cmdline, "dnsmasq"))
    for (gsize off = 0; off < length; off += strlen (cmdline + off) + 1)
      if (strcmp (cmdline + off, want) == 0)
        ours = TRUE;
  if (!ours || kill ((pid_t) pid, SIGTERM) != 0)
    return;
  g_message (_("Stopped dnsmasq %llu that an earlier daemon "
               "left serving DHCP on bridge %s"), (unsigned long long) pid,
             bridge);
  for (int i = 0; i < 100 && process_runs (pid); i++)
    g_usleep (20 * 1000);
}

/**
 * nlx_dhcp_start:
 * @bridge: the daemon's bridge, which must exist
 * @cidr: the instances' subnet
 * @gateway: the bridge's address
 * @dir: the directory for dnsmasq's hosts and pid files
 * @hosts: uuid -> "mac,address": the instances' leases now
 * @error: return location for a #GError
 *
 * Starts serving DHCP on @bridge, replacing a dnsmasq an earlier daemon
 * left there, and waits until dnsmasq has bound its socket (it writes
 * its pid file then) or failed.
 *
 * Returns: (transfer full): the server, or %NULL
 */
NlxDhcp *
nlx_dhcp_start (const char *bridge,
                const char *cidr,
                const char *gateway,
                const char *dir,
                GHashTable *hosts,
                GError **error)
{
  g_autofree char *dnsmasq = find_dnsmasq ();
  g_autofree char *hosts_name = g_strdup_printf ("dhcp-%s.hosts", bridge);
  g_autofree char *pid_name = g_strdup_printf ("dhcp-%s.pid", bridge);
  g_auto(GStrv) argv = NULL;
  g_autoptr(NlxDhcp) dhcp = NULL;
  g_autoptr(GError) local_error = NULL;
  GHashTableIter iter;
  gpointer key, value;

  if (dnsmasq == NULL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot serve DHCP on bridge %s: dnsmasq is not "
                     "installed; apt-get install dnsmasq-base, or set "
                     "[network] dhcp = false"), bridge);
      return NULL;
    }
  dhcp = g_new0 (NlxDhcp, 1);
  g_mutex_init (&dhcp->lock);
  dhcp->bridge = g_strdup (bridge);
  dhcp->hosts_path = g_build_filename (dir, hosts_name, NULL);
  dhcp->pid_path = g_build_filename (dir, pid_name, NULL);
  dhcp->hosts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_hash_table_iter_init (&iter, hosts);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_hash_table_insert (dhcp->hosts, g_strdup (key), g_strdup (value));
  argv = nlx_dhcp_argv (dnsmasq, bridge, cidr, gateway, dhcp->hosts_path,
                        dhcp->pid_path, error);
  if (argv == NULL || !write_hosts (dhcp, error))
    return NULL;
  kill_stale (dhcp->pid_path, bridge);
  unlink (dhcp->pid_path);
  dhcp->process = g_subprocess_newv ((const char * const *) argv,
                                     G_SUBPROCESS_FLAGS_NONE |
                                     G_SUBPROCESS_FLAGS_STDOUT_SILENCE,
                                     &local_error);
  if (dhcp->process == NULL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot start dnsmasq for DHCP on bridge %s: %s"),
                   bridge, local_error->message);
      return NULL;
    }
  /* dnsmasq writes its pid file once its sockets are bound; it exits
   * at once when it cannot bind (e.g. another server on the bridge). */
  for (int i = 0; i < 250; i++)
    {
      if (g_file_test (dhcp->pid_path, G_FILE_TEST_EXISTS))
        return g_steal_pointer (&dhcp);
      if (g_subprocess_get_identifier (dhcp->process) == NULL)
        break;
      g_usleep (20 * 1000);
    }
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
               _("dnsmasq did not start serving DHCP on bridge %s (its "
                 "messages are in the daemon's log); is another DHCP "
                 "server bound there? Or set [network] dhcp = false"),
               bridge);
  return NULL;
}

/**
 * nlx_dhcp_set_host:
 * @dhcp: the server
 * @uuid: the instance
 * @mac: its MAC address
 * @address: its IPv4 address
 * @error: return location for a #GError
 *
 * Gives @uuid's MAC its static lease (again: a start does this each
 * time) and has dnsmasq read the leases again when they changed.
 *
 * Returns: %TRUE when the lease is in the hosts file
 */
gboolean
nlx_dhcp_set_host (NlxDhcp *dhcp,
                   const char *uuid,
                   const char *mac,
                   const char *address,
                   GError **error)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&dhcp->lock);
  g_autofree char *line = g_strdup_printf ("%s,%s", mac, address);
  const char *old = g_hash_table_lookup (dhcp->hosts, uuid);

  if (g_strcmp0 (old, line) == 0)
    return TRUE;
  g_hash_table_insert (dhcp->hosts, g_strdup (uuid), g_steal_pointer (&line));
  return write_hosts (dhcp, error);
}

/**
 * nlx_dhcp_remove_host:
 * @dhcp: the server
 * @uuid: the instance, which may have no lease
 * @error: return location for a #GError
 *
 * Takes @uuid's lease away.
 *
 * Returns: %TRUE when it is out of the hosts file
 */
gboolean
nlx_dhcp_remove_host (NlxDhcp *dhcp,
                      const char *uuid,
                      GError **error)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&dhcp->lock);

  if (!g_hash_table_remove (dhcp->hosts, uuid))
    return TRUE;
  return write_hosts (dhcp, error);
}

/**
 * nlx_dhcp_stop:
 * @dhcp: (nullable): the server
 *
 * Stops dnsmasq, waits for it, and removes its files.
 */
void
nlx_dhcp_stop (NlxDhcp *dhcp)
{
  if (dhcp == NULL)
    return;
  if (dhcp->process != NULL)
    {
      g_subprocess_send_signal (dhcp->process, SIGTERM);
      g_subprocess_wait (dhcp->process, NULL, NULL);
      g_object_unref (dhcp->process);
      unlink (dhcp->pid_path);
    }
  if (dhcp->hosts_path != NULL)
    unlink (dhcp->hosts_path);
  g_free (dhcp->bridge);
  g_free (dhcp->hosts_path);
  g_free (dhcp->pid_path);
  g_clear_pointer (&dhcp->hosts, g_hash_table_unref);
  g_mutex_clear (&dhcp->lock);
  g_free (dhcp);
}
