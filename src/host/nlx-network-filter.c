/* nlx-network-filter.c: the host's firewall for instances
 *
 * Two nftables tables per bridge, named "nova_lxc_" and the bridge's
 * name, so that daemons on different bridges never touch each other's
 * rules, and nothing here touches any other table:
 *
 * - `table bridge nova_lxc_BRIDGE`: port security as Neutron does it by
 *   default.  A verdict map sends every frame entering the bridge from an
 *   instance's veth (by its name) to that port's chain, which drops what
 *   does not come from the instance's own MAC, ARP whose sender is not
 *   its own MAC and IPv4 address, IPv4 from any other source address, and
 *   every other ethertype (IPv6, VLAN tags: instances have IPv4 only).
 *   The chains hook prerouting, before the bridge learns the frame's
 *   source into its fdb, and input, which link-local group frames take
 *   before they are learned.
 * - `table inet nova_lxc_BRIDGE`: traffic entering the host from the
 *   bridge (input hook) reaches only replies to the host's own
 *   connections, ping (an instance's first check of its gateway, which
 *   a Neutron router answers too), DHCP (udp 67, when [network] dhcp
 *   is on: the daemon's dnsmasq, nlx-dhcp.c) and the metadata service;
 *   the rest is dropped unless [network] host_access = true.
 * - the metadata service: in the same inet table, a nat chain turns
 *   what the bridge's instances send to 169.254.169.254:80 into a
 *   connection to the daemon's [network] metadata_port on the bridge's
 *   gateway address, and the input chain accepts that and drops the
 *   port's traffic arriving on any other interface.  So the service's
 *   callers are exactly the bridge's instances, each with the source
 *   address its port rules pin, which is how the daemon tells them
 *   apart (nlx-metadata-service.c).  Each daemon DNATs to its own
 *   gateway, so an instance reaches only its own daemon's service.
 *
 * The port rules are keyed by the veth's name, which is fixed by the
 * instance's uuid, so they are made before libvirt creates the veth and
 * the instance's first frame already meets them; they hold across
 * libvirt's own restarts of the container (a reboot from inside makes
 * a veth with the same name) and libvirtd restarts.
 *
 * Rules go in as nftables scripts run by libnftables in the daemon
 * (run_script()), one context for the process.  They were `nft -f -`
 * processes, one per instance start and delete: 3-6 ms each under
 * load, most of it nft's own start-up, and at a boot on this project's
 * 2-core machines the process took the CPU the spawn needed (measured:
 * 1.7 ms more from the spawn's start to the domain's, docs/performance.md).
 * libnftables' file descriptors are kept from children (context()).
 * The script is the very text an operator would give `nft -f`, and each
 * run is one nftables transaction: it applies whole or not at all, and
 * packets see the old rules or the new ones, never a half.  A start adds
 * its port's rules alone, without declaring the bridge table's skeleton
 * again, which would cost every start an RCU grace period in the kernel
 * (an existing hook declared again, or a chain with rules flushed); it
 * makes the skeleton again only when the add fails for want of it (a
 * host reboot, `nft flush ruleset`).  What an operator removes of a
 * table that stays, the daemon's next start makes again (sync). */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gi18n-lib.h>
#include <nftables/libnftables.h>
#include <stdlib.h>
#include <string.h>

#include "common/nlx-error.h"
#include "host/nlx-network-filter.h"
#include "host/nlx-network.h"
#include "model/nlx-address.h"

#define TABLE_PREFIX "nova_lxc_"

/* Services the daemon itself offers instances on the host, as nft
 * matches accepted in the inet table's input chain whatever
 * host_access says; DHCP's and the metadata service's are added by
 * append_host_input() when they are on. */
static const char * const host_services[] = { NULL };

/**
 * nlx_network_filter_table_name:
 * @bridge: a valid bridge name
 *
 * Returns: (transfer full): the name of both of @bridge's tables,
 *   "nova_lxc_" and @bridge (an nft identifier: the bridge's characters
 *   are all allowed after the first)
 */
char *
nlx_network_filter_table_name (const char *bridge)
{
  return g_strconcat (TABLE_PREFIX, bridge, NULL);
}

/* Everything put into a script is checked first: it is nft syntax. */
static gboolean
check_bridge (const char *bridge,
              GError **error)
{
  if (nlx_address_bridge_name_is_valid (bridge))
    return TRUE;
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
               _("Cannot filter bridge “%s”: not a valid interface name"),
               bridge ? bridge : "");
  return FALSE;
}

static gboolean
is_veth_name (const char *veth)
{
  if (veth == NULL || !g_ascii_isalpha (veth[0]) ||
      strlen (veth) > NLX_NETWORK_BRIDGE_NAME_MAX)
    return FALSE;
  for (const char *c = veth; *c != '\0'; c++)
    if (!g_ascii_isalnum (*c) && *c != '-' && *c != '_')
      return FALSE;
  return TRUE;
}

static gboolean
check_veth (const char *veth,
            GError **error)
{
  if (is_veth_name (veth))
    return TRUE;
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
               _("Cannot filter port “%s”: a veth name is a letter, then "
                 "up to 14 letters, digits, '-' or '_'"), veth ? veth : "");
  return FALSE;
}

static gboolean
is_mac (const char *mac)
{
  if (mac == NULL || strlen (mac) != 17)
    return FALSE;
  for (int i = 0; i < 17; i++)
    if (i % 3 == 2 ? mac[i] != ':' : !g_ascii_isxdigit (mac[i]))
      return FALSE;
  return TRUE;
}

static gboolean
check_port (const NlxNetworkPort *port,
            GError **error)
{
  guint32 addr;

  if (!check_veth (port->veth, error))
    return FALSE;
  if (!is_mac (port->mac) || !nlx_address_parse_ipv4 (port->address, &addr))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Cannot filter port %s: “%s” is not a MAC address or "
                     "“%s” not an IPv4 address"), port->veth,
                   port->mac ? port->mac : "",
                   port->address ? port->address : "");
      return FALSE;
    }
  return TRUE;
}

/* The port's rules, as commands for @table: what does not come from the
 * instance's own MAC, ARP but from its own MAC and address, and IPv4
 * but from its own address, is dropped, and so is every other
 * ethertype.  The one IPv4 from another source that passes is a DHCP
 * client's broadcast from 0.0.0.0 (DISCOVER, and REQUEST before it has
 * an address), as Neutron's anti-spoofing allows: an instance asking
 * for its address has none yet.  It still carries the port's own MAC,
 * so the daemon's dnsmasq (which knows only static leases keyed by
 * MAC) answers an instance with its own address and nothing else. */
static void
append_port_rules (GString *script,
                   const char *table,
                   const NlxNetworkPort *port)
{
  g_autofree char *mac = g_ascii_strdown (port->mac, -1);

  g_string_append_printf (script,
    "add chain bridge %1$s port_%2$s\n"
    "flush chain bridge %1$s port_%2$s\n"
    "add rule bridge %1$s port_%2$s ether saddr != %3$s drop\n"
    "add rule bridge %1$s port_%2$s arp saddr ether != %3$s drop\n"
    "add rule bridge %1$s port_%2$s arp saddr ip != %4$s drop\n"
    "add rule bridge %1$s port_%2$s ether type arp accept\n"
    "add rule bridge %1$s port_%2$s ip saddr 0.0.0.0 ip daddr "
    "255.255.255.255 udp sport 68 udp dport 67 accept\n"
    "add rule bridge %1$s port_%2$s ip saddr != %4$s drop\n"
    "add rule bridge %1$s port_%2$s ether type ip accept\n"
    "add rule bridge %1$s port_%2$s drop\n",
    table, port->veth, mac, port->address);
}

/* The bridge table's map and hooks, made if missing and their rules made
 * again, without touching any port. */
static void
append_bridge_skeleton (GString *script,
                        const char *table)
{
  static const char * const hooks[] = { "prerouting", "input" };

  g_string_append_printf (script, "add table bridge %s\n"
                          "add map bridge %s ports "
                          "{ type ifname : verdict ; }\n", table, table);
  for (gsize i = 0; i < G_N_ELEMENTS (hooks); i++)
    g_string_append_printf (script,
                            "add chain bridge %s %s { type filter hook %s "
                            "priority filter ; policy accept ; }\n"
                            "flush chain bridge %s %s\n"
                            "add rule bridge %s %s iifname vmap @ports\n",
                            table, hooks[i], hooks[i], table, hooks[i],
                            table, hooks[i]);
}

static gboolean
check_metadata (const NlxNetworkMetadata *metadata,
                GError **error)
{
  guint32 addr;

  if (metadata == NULL ||
      (nlx_address_parse_ipv4 (metadata->gateway, &addr) &&
       metadata->port > 0 && metadata->port <= 65535))
    return TRUE;
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
               _("Cannot route the metadata service to “%s” port %u: not "
                 "an IPv4 address and a port from 1 to 65535"),
               metadata->gateway ? metadata->gateway : "", metadata->port);
  return FALSE;
}

static void
append_host_input (GString *script,
                   const char *table,
                   const char *bridge,
                   gboolean host_access,
                   gboolean dhcp,
                   const NlxNetworkMetadata *metadata)
{
  g_string_append_printf (script,
                          "add table inet %s\n"
                          "add chain inet %s input { type filter hook input "
                          "priority filter ; policy accept ; }\n"
                          "flush chain inet %s input\n",
                          table, table, table);
  if (metadata != NULL)
    /* Before anything accepts what comes from elsewhere: the service
     * tells callers apart by source address, which only the bridge's
     * port rules vouch for (another interface, or lo, may carry any). */
    g_string_append_printf (script,
                            "add rule inet %s input iifname != \"%s\" ip "
                            "daddr %s tcp dport %u drop comment \"metadata "
                            "service: instances of %s only\"\n",
                            table, bridge, metadata->gateway, metadata->port,
                            bridge);
  g_string_append_printf (script,
                          "add rule inet %s input iifname != \"%s\" accept\n"
                          "add rule inet %s input ct state "
                          "established,related accept\n"
                          "add rule inet %s input icmp type echo-request "
                          "accept\n",
                          table, bridge, table, table);
  for (gsize i = 0; host_services[i] != NULL; i++)
    g_string_append_printf (script, "add rule inet %s input %s accept\n",
                            table, host_services[i]);
  if (dhcp)
    g_string_append_printf (script,
                            "add rule inet %s input udp sport 68 udp dport 67 "
                            "accept comment \"DHCP ([network] dhcp)\"\n",
                            table);
  if (metadata != NULL)
    g_string_append_printf (script,
                            "add rule inet %s input ip daddr %s tcp dport %u "
                            "accept comment \"metadata service\"\n"
                            "add chain inet %s metadata { type nat hook "
                            "prerouting priority dstnat ; policy accept ; }\n"
                            "flush chain inet %s metadata\n"
                            "add rule inet %s metadata iifname \"%s\" ip daddr "
                            NLX_NETWORK_METADATA_ADDRESS " tcp dport %u dnat "
                            "ip to %s:%u comment \"metadata service\"\n",
                            table, metadata->gateway, metadata->port,
                            table, table, table, bridge,
                            NLX_NETWORK_METADATA_PUBLIC_PORT,
                            metadata->gateway, metadata->port);
  if (host_access)
    g_string_append_printf (script,
                            "add rule inet %s input accept comment "
                            "\"[network] host_access = true\"\n", table);
  else
    g_string_append_printf (script,
                            "add rule inet %s input drop comment "
                            "\"[network] host_access = false\"\n", table);
}

/**
 * nlx_network_filter_sync_script:
 * @bridge: the daemon's bridge
 * @host_access: whether instances may reach every service of the host
 * @dhcp: whether the daemon serves DHCP on @bridge ([network] dhcp)
 * @metadata: (nullable): where the metadata service is, or %NULL for none
 * @ports: (array length=n_ports): every instance's port on @bridge
 * @n_ports: how many
 * @error: return location for %NLX_DRIVER_ERROR_INVALID_ARGUMENT
 *
 * The transaction that makes @bridge's two tables exactly what @ports
 * and @host_access say: both are deleted and made again in it, so rules
 * of instances that are gone go with them, and packets never see the
 * tables missing.  Pure, for tests.
 *
 * Returns: (transfer full): the script for `nft -f`, or %NULL
 */
char *
nlx_network_filter_sync_script (const char *bridge,
                                gboolean host_access,
                                gboolean dhcp,
                                const NlxNetworkMetadata *metadata,
                                const NlxNetworkPort *ports,
                                guint n_ports,
                                GError **error)
{
  g_autofree char *table = NULL;
  GString *script;

  if (!check_bridge (bridge, error) || !check_metadata (metadata, error))
    return NULL;
  for (guint i = 0; i < n_ports; i++)
    if (!check_port (&ports[i], error))
      return NULL;
  table = nlx_network_filter_table_name (bridge);
  script = g_string_new (NULL);
  /* "add" first, so that deleting a missing table is no error. */
  g_string_append_printf (script, "add table bridge %s\n"
                          "delete table bridge %s\n"
                          "add table inet %s\n"
                          "delete table inet %s\n",
                          table, table, table, table);
  append_bridge_skeleton (script, table);
  for (guint i = 0; i < n_ports; i++)
    {
      append_port_rules (script, table, &ports[i]);
      g_string_append_printf (script, "add element bridge %s ports "
                              "{ \"%s\" : jump port_%s }\n", table,
                              ports[i].veth, ports[i].veth);
    }
  append_host_input (script, table, bridge, host_access, dhcp, metadata);
  return g_string_free (script, FALSE);
}

/* nlx_network_filter_add_script()'s transaction; with @skeleton, the
 * bridge table's skeleton (table, map, hooks and their rules) made again
 * first. */
static char *
port_script (const char *bridge,
             const NlxNetworkPort *port,
             gboolean skeleton,
             GError **error)
{
  g_autofree char *table = NULL;
  GString *script;

  if (!check_bridge (bridge, error) || !check_port (port, error))
    return NULL;
  table = nlx_network_filter_table_name (bridge);
  script = g_string_new (NULL);
  if (skeleton)
    append_bridge_skeleton (script, table);
  append_port_rules (script, table, port);
  g_string_append_printf (script, "add element bridge %s ports "
                          "{ \"%s\" : jump port_%s }\n", table, port->veth,
                          port->veth);
  return g_string_free (script, FALSE);
}

/**
 * nlx_network_filter_add_script:
 * @bridge: the daemon's bridge
 * @port: the instance's port
 * @error: return location for %NLX_DRIVER_ERROR_INVALID_ARGUMENT
 *
 * The transaction that gives @port its rules (again: it may be run any
 * number of times) in the bridge table as it is: it fails when the
 * table or its map is missing, and makes nothing then.
 *
 * Returns: (transfer full): the script, or %NULL
 */
char *
nlx_network_filter_add_script (const char *bridge,
                               const NlxNetworkPort *port,
                               GError **error)
{
  return port_script (bridge, port, FALSE, error);
}

/**
 * nlx_network_filter_remove_script:
 * @bridge: the daemon's bridge
 * @veth: the instance's veth
 * @error: return location for %NLX_DRIVER_ERROR_INVALID_ARGUMENT
 *
 * The transaction that removes @veth's rules; removing a port that has
 * none is no error (each object is added before it is deleted).
 *
 * Returns: (transfer full): the script, or %NULL
 */
char *
nlx_network_filter_remove_script (const char *bridge,
                                  const char *veth,
                                  GError **error)
{
  g_autofree char *table = NULL;

  if (!check_bridge (bridge, error) || !check_veth (veth, error))
    return NULL;
  table = nlx_network_filter_table_name (bridge);
  return g_strdup_printf ("add table bridge %s\n"
                          "add map bridge %s ports "
                          "{ type ifname : verdict ; }\n"
                          "add chain bridge %s port_%s\n"
                          "add element bridge %s ports "
                          "{ \"%s\" : jump port_%s }\n"
                          "delete element bridge %s ports { \"%s\" }\n"
                          "delete chain bridge %s port_%s\n",
                          table, table, table, veth, table, veth, veth,
                          table, veth, table, veth);
}

static void
set_script_error (GError **error,
                  const char *bridge,
                  const char *message)
{
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
               _("Cannot set up the firewall of bridge %s (nftables tables "
                 "%s%s); the daemon needs CAP_NET_ADMIN and a kernel with "
                 "nf_tables for the bridge and inet families: %s"), bridge,
               TABLE_PREFIX, bridge, message);
}

/* libnftables' one context in this process, made by
 * nlx_network_filter_init() or at the first run.  Runs are serialized:
 * libnftables says nothing of threads, and a port's add takes 0.1-1.5
 * ms in the process (with a thousand ports in the table), where
 * `nft -f -` took 3-6 ms under load, most of it its own start-up, on the
 * CPUs the spawn needs. */
static GMutex nft_lock;
static struct nft_ctx *nft;

/* The descriptors open now. */
static GHashTable *
open_fds (void)
{
  GHashTable *fds = g_hash_table_new (NULL, NULL);
  DIR *dir = opendir ("/proc/self/fd");
  struct dirent *entry;

  while (dir != NULL && (entry = readdir (dir)) != NULL)
    if (entry->d_name[0] != '.' && atoi (entry->d_name) != dirfd (dir))
      g_hash_table_add (fds, GINT_TO_POINTER (atoi (entry->d_name)));
  if (dir != NULL)
    closedir (dir);
  return fds;
}

/* The context, made if need be; nft_lock held.  libnftables 1.0.6 opens
 * its netlink socket in nft_ctx_new() without SOCK_CLOEXEC, and
 * /etc/iproute2/rt_realms and friends without O_CLOEXEC (closed again
 * before it returns): the socket, the one descriptor it keeps, is
 * marked close-on-exec here, and the daemon makes the context at its
 * start, before it runs any child (nlx_network_filter_init()), so that
 * no child inherits any of them. */
static struct nft_ctx *
context (const char *bridge,
         GError **error)
{
  g_autoptr(GHashTable) before = NULL;
  g_autoptr(GHashTable) after = NULL;
  GHashTableIter iter;
  gpointer fd;

  if (nft != NULL)
    return nft;
  before = open_fds ();
  nft = nft_ctx_new (NFT_CTX_DEFAULT);
  after = open_fds ();
  g_hash_table_iter_init (&iter, after);
  while (g_hash_table_iter_next (&iter, &fd, NULL))
    if (!g_hash_table_contains (before, fd))
      {
        int flags = fcntl (GPOINTER_TO_INT (fd), F_GETFD);

        if (flags >= 0)
          fcntl (GPOINTER_TO_INT (fd), F_SETFD, flags | FD_CLOEXEC);
      }
  if (nft == NULL)
    {
      set_script_error (error, bridge, _("libnftables cannot make a context"));
      return NULL;
    }
  /* What nft would print goes to buffers, read after each run. */
  nft_ctx_buffer_output (nft);
  nft_ctx_buffer_error (nft);
  return nft;
}

/**
 * nlx_network_filter_init:
 *
 * Makes libnftables' context now, while no thread of the caller can
 * start a child (see context()): at the daemon's start.  A failure is
 * reported by the first run.
 */
void
nlx_network_filter_init (void)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&nft_lock);

  context (NULL, NULL);
}

/* Runs @script as one nftables transaction, as `nft -f -` would. */
static gboolean
run_script (const char *script,
            const char *bridge,
            GError **error)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&nft_lock);
  struct nft_ctx *ctx = context (bridge, error);
  g_autofree char *message = NULL;
  const char *said;
  gboolean ok;

  if (ctx == NULL)
    return FALSE;
  ok = nft_run_cmd_from_buffer (ctx, script) == 0;
  /* Read, each buffer starts again empty. */
  (void) nft_ctx_get_output_buffer (ctx);
  said = nft_ctx_get_error_buffer (ctx);
  if (ok)
    return TRUE;
  message = g_strstrip (g_strdup (said != NULL ? said : ""));
  set_script_error (error, bridge, *message != '\0' ? message
                                                     : _("nft failed"));
  return FALSE;
}

/**
 * nlx_network_filter_sync:
 *
 * Runs nlx_network_filter_sync_script(): at the daemon's start, so that
 * the rules are those of the instances that exist, whatever happened
 * while it was away (a host reboot empties the tables, instances may
 * have been deleted, the operator may have changed host_access).
 */
gboolean
nlx_network_filter_sync (const char *bridge,
                         gboolean host_access,
                         gboolean dhcp,
                         const NlxNetworkMetadata *metadata,
                         const NlxNetworkPort *ports,
                         guint n_ports,
                         GError **error)
{
  g_autofree char *script = nlx_network_filter_sync_script (bridge,
                                                            host_access,
                                                            dhcp, metadata,
                                                            ports, n_ports,
                                                            error);

  return script != NULL && run_script (script, bridge, error);
}

/**
 * nlx_network_filter_add_port:
 *
 * Runs nlx_network_filter_add_script(), and when that fails, the same
 * with the bridge table's skeleton made again first: before every start
 * of the instance, so that its first frame meets its rules.
 */
gboolean
nlx_network_filter_add_port (const char *bridge,
                             const NlxNetworkPort *port,
                             GError **error)
{
  g_autofree char *script = nlx_network_filter_add_script (bridge, port,
                                                           error);
  g_autofree char *repair = NULL;
  g_autoptr(GError) local_error = NULL;

  if (script == NULL)
    return FALSE;
  if (run_script (script, bridge, &local_error))
    return TRUE;
  g_debug ("Bridge %s: its table is made again: %s", bridge,
           local_error->message);
  repair = port_script (bridge, port, TRUE, error);
  return repair != NULL && run_script (repair, bridge, error);
}

/**
 * nlx_network_filter_remove_port:
 *
 * Runs nlx_network_filter_remove_script(): when the instance is
 * deleted (its veth is gone by then).
 */
gboolean
nlx_network_filter_remove_port (const char *bridge,
                                const char *veth,
                                GError **error)
{
  g_autofree char *script = nlx_network_filter_remove_script (bridge, veth,
                                                              error);

  return script != NULL && run_script (script, bridge, error);
}

/**
 * nlx_network_filter_delete:
 * @bridge: a bridge
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Removes both of @bridge's tables, if they exist: for an operator (or
 * a test) retiring a bridge.  The daemon never does this itself: its
 * instances keep running, and so must their rules, while it is stopped.
 */
gboolean
nlx_network_filter_delete (const char *bridge,
                           GError **error)
{
  g_autofree char *table = NULL;
  g_autofree char *script = NULL;

  if (!check_bridge (bridge, error))
    return FALSE;
  table = nlx_network_filter_table_name (bridge);
  script = g_strdup_printf ("add table bridge %s\n"
                            "delete table bridge %s\n"
                            "add table inet %s\n"
                            "delete table inet %s\n",
                            table, table, table, table);
  return run_script (script, bridge, error);
}
