/* nlx-network.c: the host side of instance networking: the [network]
 * settings and the bridge
 *
 * Every instance gets a veth on one Linux bridge, a stable MAC address
 * and an IPv4 address from the configured subnet.  libvirt creates the
 * veth and configures the address inside the container (the domain's
 * `<interface type='bridge'>` with `<ip>` and `<route>`), so this file
 * never touches a container: it owns the bridge; the MAC addresses are
 * derived in src/model/nlx-address.c and the addresses handed out by
 * nlx-ipam.c.
 *
 * The bridge is managed over rtnetlink on a plain socket rather than by
 * running ip(8): the daemon then needs no iproute2 at run time, parses no
 * tool output whose format may change, forks nothing from a threaded
 * process, and gets the kernel's errno (and its extended message) to
 * decide on: ENODEV means "create it", EEXIST means "someone else just
 * did", EPERM means "not root".  The requests are the four ip(8) would
 * send; they are small enough to build by hand. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <glib/gi18n-lib.h>
#include <linux/if_bridge.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/nlx-error.h"
#include "host/nlx-network-private.h"
#include "host/nlx-network.h"
#include "model/nlx-config.h"

/* The kernel answers at once; this only bounds a wedged netlink socket. */
#define NL_TIMEOUT_S 10
#define NL_REQUEST_SIZE 512
/* Enough for one part of a dump of every address on a busy host (the
 * kernel fills at most about 32 KiB per part). */
#define NL_RECEIVE_SIZE (64 * 1024)

/* ---- settings ------------------------------------------------------------ */

void
nlx_network_settings_free (NlxNetworkSettings *settings)
{
  if (settings == NULL)
    return;
  g_free (settings->bridge);
  g_free (settings->cidr);
  g_free (settings->gateway);
  g_free (settings->range_start);
  g_free (settings->range_end);
  g_free (settings->addresses_path);
  g_free (settings);
}

static gboolean
parse_cidr (const char *text,
            guint32 *network,
            guint *prefix,
            GError **error)
{
  const char *slash = strchr (text, '/');
  g_autofree char *address = NULL;
  guint64 length;
  guint32 addr;

  if (slash == NULL ||
      !nlx_address_parse_ipv4 ((address = g_strndup (text, slash - text)),
                               &addr) ||
      !g_ascii_string_to_unsigned (slash + 1, 10, NLX_NETWORK_PREFIX_MIN,
                                   NLX_NETWORK_PREFIX_MAX, &length, NULL))
    {
      g_set_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID,
                   _("Configuration key [%s] cidr must be an IPv4 network "
                     "as ADDRESS/PREFIX with a prefix from %u to %u, e.g. "
                     "%s, got “%s”"), SECTION, NLX_NETWORK_PREFIX_MIN,
                   NLX_NETWORK_PREFIX_MAX, NLX_NETWORK_DEFAULT_CIDR, text);
      return FALSE;
    }
  if ((addr & ~nlx_address_netmask ((guint) length)) != 0)
    {
      g_autofree char *suggested =
        nlx_address_format_ipv4 (addr & nlx_address_netmask ((guint) length));

      g_set_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID,
                   _("Configuration key [%s] cidr must be a network "
                     "address, with the host bits zero: “%s” is not; did "
                     "you mean %s/%u?"), SECTION, text, suggested,
                   (guint) length);
      return FALSE;
    }
  *network = addr;
  *prefix = (guint) length;
  return TRUE;
}

/* Reads @key as a host address of the subnet, or takes @fallback. */
static gboolean
get_host_address (GKeyFile *keyfile,
                  const char *key,
                  guint32 fallback,
                  NlxNetworkSettings *settings,
                  guint32 *addr,
                  char **text,
                  GError **error)
{
  g_autofree char *value = nlx_config_get_string (keyfile, SECTION, key,
                                                  NULL);

  if (value == NULL)
    {
      *addr = fallback;
      *text = nlx_address_format_ipv4 (fallback);
      return TRUE;
    }
  if (!nlx_address_parse_ipv4 (value, addr) ||
      !nlx_address_is_host_of (*addr, settings->network_addr,
                               settings->prefix))
    {
      guint32 broadcast =
        nlx_address_broadcast_of (settings->network_addr, settings->prefix);
      g_autofree char *first =
        nlx_address_format_ipv4 (settings->network_addr + 1);
      g_autofree char *last = nlx_address_format_ipv4 (broadcast - 1);

      g_set_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID,
                   _("Configuration key [%s] %s must be an IPv4 host "
                     "address of [%s] cidr %s, from %s to %s, got “%s”"),
                   SECTION, key, SECTION, settings->cidr, first, last, value);
      return FALSE;
    }
  *text = nlx_address_format_ipv4 (*addr);
  return TRUE;
}

/**
 * nlx_network_settings_new:
 * @keyfile: (nullable): the configuration; %NULL means every default
 * @error: return location for a #NLX_CONFIG_ERROR naming the key
 *
 * Reads the `[network]` section:
 *
 * - `bridge`: the bridge instances join (default `nlxbr0`); see
 *   nlx_address_bridge_name_is_valid() for what a name may be.
 * - `cidr`: the instances' IPv4 subnet (default `10.251.0.0/24`); a
 *   network address with a prefix from 8 to 30.
 * - `gateway`: the bridge's own address, the instances' default route
 *   (default: the subnet's first host address).
 * - `range_start`, `range_end`: the addresses handed out (default: every
 *   host address of the subnet, which with the default gateway means from
 *   the gateway + 1 to the last host address).  The gateway is skipped
 *   even when the range covers it.
 *
 * - `metadata_port`: the TCP port on the gateway address where the
 *   compute daemon serves the metadata service that instances reach as
 *   http://169.254.169.254/ (default 8775, Nova's metadata API port);
 *   0 turns the service off.
 * - `dhcp`: whether the daemon serves DHCPv4 on the bridge, static
 *   leases of each instance's own address (default true; nlx-dhcp.c).
 *
 * The allocator's file is `[DEFAULT] state_path`/network/addresses.json.
 *
 * Returns: (transfer full): the settings, or %NULL
 */
NlxNetworkSettings *
nlx_network_settings_new (GKeyFile *keyfile,
                          GError **error)
{
  g_autofree char *dhcp = NULL;
  g_autoptr(NlxNetworkSettings) settings = g_new0 (NlxNetworkSettings, 1);
  g_autofree char *cidr = nlx_config_get_string (keyfile, SECTION, "cidr",
                                                 NLX_NETWORK_DEFAULT_CIDR);
  g_autofree char *state_path = nlx_config_get_string (keyfile, "DEFAULT",
                                                       "state_path",
                                                       NLX_STATE_DIR);
  g_autofree char *network = NULL;
  guint32 first, last;

  settings->bridge = nlx_config_get_string (keyfile, SECTION, "bridge",
                                            NLX_NETWORK_DEFAULT_BRIDGE);
  if (!nlx_address_bridge_name_is_valid (settings->bridge))
    {
      g_set_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID,
                   _("Configuration key [%s] bridge must be an interface "
                     "name of 1 to %u letters, digits, '_', '.' or '-', not "
                     "starting with '-' and not “.” or “..”, got “%s”"),
                   SECTION, NLX_NETWORK_BRIDGE_NAME_MAX, settings->bridge);
      return NULL;
    }

  if (!parse_cidr (cidr, &settings->network_addr, &settings->prefix, error))
    return NULL;
  network = nlx_address_format_ipv4 (settings->network_addr);
  settings->cidr = g_strdup_printf ("%s/%u", network, settings->prefix);
  first = settings->network_addr + 1;
  last = nlx_address_broadcast_of (settings->network_addr,
                                   settings->prefix) - 1;

  if (!get_host_address (keyfile, "gateway", first, settings,
                         &settings->gateway_addr, &settings->gateway, error) ||
      !get_host_address (keyfile, "range_start", first, settings,
                         &settings->range_start_addr, &settings->range_start,
                         error) ||
      !get_host_address (keyfile, "range_end", last, settings,
                         &settings->range_end_addr, &settings->range_end,
                         error))
    return NULL;
  if (settings->range_start_addr > settings->range_end_addr)
    {
      g_set_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID,
                   _("Configuration keys [%s] range_start (%s) and "
                     "range_end (%s) are the wrong way round: range_start "
                     "must not come after range_end"),
                   SECTION, settings->range_start, settings->range_end);
      return NULL;
    }
  if (nlx_network_settings_capacity (settings) == 0)
    {
      g_set_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID,
                   _("Configuration keys [%s] range_start and range_end "
                     "leave no address to hand out: the only one, %s, is "
                     "the gateway"), SECTION, settings->gateway);
      return NULL;
    }

  if (!g_path_is_absolute (state_path))
    {
      g_set_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID,
                   _("Configuration key [DEFAULT] state_path must be an "
                     "absolute path, got “%s” (the network's address "
                     "allocations are kept in it)"), state_path);
      return NULL;
    }
  settings->addresses_path = g_build_filename (state_path, "network",
                                               "addresses.json", NULL);
  settings->metadata_port = NLX_NETWORK_DEFAULT_METADATA_PORT;
  if (!nlx_config_get_uint (keyfile, SECTION, "metadata_port", 0, 65535,
                            &settings->metadata_port, error))
    return NULL;
  /* nlx_config_get_boolean() reads a missing key as false. */
  dhcp = nlx_config_get_string (keyfile, SECTION, "dhcp", NULL);
  settings->dhcp = TRUE;
  if (dhcp != NULL &&
      !nlx_config_get_boolean (keyfile, SECTION, "dhcp", &settings->dhcp,
                               error))
    return NULL;
  return g_steal_pointer (&settings);
}

/**
 * nlx_network_settings_capacity:
 * @settings: the [network] settings
 *
 * Returns: how many addresses the range holds for instances (the range's
 * size, less the gateway when the range covers it): 1 for a /30 and 253
 * for a /24 with the defaults
 */
guint
nlx_network_settings_capacity (const NlxNetworkSettings *settings)
{
  guint64 count = (guint64) settings->range_end_addr -
                  settings->range_start_addr + 1;

  if (settings->gateway_addr >= settings->range_start_addr &&
      settings->gateway_addr <= settings->range_end_addr)
    count--;
  return (guint) count;
}

/* ---- rtnetlink ----------------------------------------------------------- */

typedef struct {
  int fd;
  guint32 seq;
} NlSocket;

#define NL_SOCKET_INIT { .fd = -1, .seq = 0 }

static void
nl_socket_clear (NlSocket *nl)
{
  if (nl->fd >= 0)
    close (nl->fd);
  nl->fd = -1;
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (NlSocket, nl_socket_clear)

typedef union {
  struct nlmsghdr hdr;
  guint8 bytes[NL_REQUEST_SIZE];
} NlRequest;

typedef void (*NlReplyFunc) (struct nlmsghdr *reply,
                             gpointer user_data);

/* Returns 0 or a negative errno. */
static int
nl_open (NlSocket *nl)
{
  struct sockaddr_nl local = { .nl_family = AF_NETLINK };
  struct timeval timeout = { .tv_sec = NL_TIMEOUT_S };
  int one = 1;

  nl->fd = socket (AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (nl->fd < 0)
    return -errno;
  /* Extended acks carry the kernel's own explanation of a refusal; capped
   * acks leave our request out of them.  Both are optional. */
  (void) setsockopt (nl->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  (void) setsockopt (nl->fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  if (setsockopt (nl->fd, SOL_SOCKET, SO_RCVTIMEO, &timeout,
                  sizeof timeout) != 0 ||
      bind (nl->fd, (struct sockaddr *) &local, sizeof local) != 0)
    return -errno;
  return 0;
}

/* Starts a request; every request asks for an acknowledgement, so that
 * success is known, not assumed. */
static void *
nl_request_init (NlRequest *req,
                 guint16 type,
                 guint16 flags,
                 gsize header_size)
{
  memset (req, 0, sizeof *req);
  req->hdr.nlmsg_len = NLMSG_LENGTH (header_size);
  req->hdr.nlmsg_type = type;
  req->hdr.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
  return NLMSG_DATA (&req->hdr);
}

static struct rtattr *
nl_put (NlRequest *req,
        guint16 type,
        const void *data,
        gsize len)
{
  gsize offset = NLMSG_ALIGN (req->hdr.nlmsg_len);
  struct rtattr *rta = (struct rtattr *) (req->bytes + offset);

  g_assert (offset + RTA_SPACE (len) <= sizeof req->bytes);
  rta->rta_type = type;
  rta->rta_len = RTA_LENGTH (len);
  if (len > 0)
    memcpy (RTA_DATA (rta), data, len);
  req->hdr.nlmsg_len = offset + RTA_SPACE (len);
  return rta;
}

static void
nl_put_string (NlRequest *req,
               guint16 type,
               const char *value)
{
  nl_put (req, type, value, strlen (value) + 1);
}

static void
nl_put_ipv4 (NlRequest *req,
             guint16 type,
             guint32 addr)
{
  guint32 be = htonl (addr);

  nl_put (req, type, &be, sizeof be);
}

static void
nl_nest_end (NlRequest *req,
             struct rtattr *nest)
{
  nest->rta_len = req->bytes + req->hdr.nlmsg_len - (guint8 *) nest;
}

/* The errno of an acknowledgement, and the kernel's message if any. */
static int
nl_parse_ack (struct nlmsghdr *reply,
              char **detail)
{
  struct nlmsgerr *ack = NLMSG_DATA (reply);
  gsize payload = reply->nlmsg_len - NLMSG_HDRLEN;
  gsize offset = sizeof *ack;

  if (reply->nlmsg_len < NLMSG_LENGTH (sizeof *ack))
    return -EBADMSG;
  if (ack->error == 0)
    return 0;
  if (!(reply->nlmsg_flags & NLM_F_CAPPED))
    offset += NLMSG_ALIGN (ack->msg.nlmsg_len) - NLMSG_HDRLEN;
  if ((reply->nlmsg_flags & NLM_F_ACK_TLVS) && offset < payload)
    {
      struct rtattr *rta = (struct rtattr *) ((guint8 *) ack + offset);
      int len = (int) (payload - offset);

      for (; RTA_OK (rta, len); rta = RTA_NEXT (rta, len))
        if ((rta->rta_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG &&
            RTA_PAYLOAD (rta) > 0 && detail != NULL && *detail == NULL)
          *detail = g_strndup (RTA_DATA (rta), RTA_PAYLOAD (rta));
    }
  return ack->error;
}

/* Sends @req and hands each reply to @func until the kernel acknowledges
 * it or ends the dump.  Returns 0 or a negative errno; *@detail gets the
 * kernel's explanation of a refusal, when it gives one. */
static int
nl_transact (NlSocket *nl,
             NlRequest *req,
             NlReplyFunc func,
             gpointer user_data,
             char **detail)
{
  struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
  g_autofree guint8 *buffer = g_malloc (NL_RECEIVE_SIZE);
  guint32 seq = ++nl->seq;

  req->hdr.nlmsg_seq = seq;
  while (sendto (nl->fd, req, req->hdr.nlmsg_len, 0,
                 (struct sockaddr *) &kernel, sizeof kernel) < 0)
    if (errno != EINTR)
      return -errno;

  for (;;)
    {
      struct sockaddr_nl from = { 0 };
      struct iovec iov = { .iov_base = buffer, .iov_len = NL_RECEIVE_SIZE };
      struct msghdr msg = {
        .msg_name = &from, .msg_namelen = sizeof from,
        .msg_iov = &iov, .msg_iovlen = 1,
      };
      ssize_t n = recvmsg (nl->fd, &msg, 0);
      int len;

      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return (errno == EAGAIN || errno == EWOULDBLOCK) ? -ETIMEDOUT
                                                           : -errno;
        }
      if (msg.msg_flags & MSG_TRUNC)
        return -EMSGSIZE;
      if (from.nl_pid != 0)
        continue;  /* only the kernel may answer */
      len = (int) n;
      for (struct nlmsghdr *reply = (struct nlmsghdr *) buffer;
           NLMSG_OK (reply, len); reply = NLMSG_NEXT (reply, len))
        {
          if (reply->nlmsg_seq != seq)
            continue;
          if (reply->nlmsg_type == NLMSG_ERROR)
            return nl_parse_ack (reply, detail);
          if (reply->nlmsg_type == NLMSG_DONE)
            {
              /* A dump that failed half-way says so here. */
              if (reply->nlmsg_len >= NLMSG_LENGTH (sizeof (int)))
                {
                  int status;

                  memcpy (&status, NLMSG_DATA (reply), sizeof status);
                  if (status < 0)
                    return status;
                }
              return 0;
            }
          if (func != NULL)
            func (reply, user_data);
        }
    }
}

/* The kernel's errno, with its own explanation when it gave one and what
 * to do when the daemon lacks the privilege. */
static char *
nl_reason (int rc,
           const char *detail)
{
  if (rc == -EPERM || rc == -EACCES)
    return g_strdup_printf (_("%s; configuring the host network needs "
                              "CAP_NET_ADMIN (run nova-lxc-compute as "
                              "root)"), g_strerror (-rc));
  if (detail != NULL)
    return g_strdup_printf ("%s (%s)", g_strerror (-rc), detail);
  return g_strdup (g_strerror (-rc));
}

typedef struct {
  gboolean found;
  int index;
  guint flags;
  char *kind;
} NlLink;

static void
nl_link_clear (NlLink *link)
{
  g_clear_pointer (&link->kind, g_free);
  link->found = FALSE;
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (NlLink, nl_link_clear)

static void
parse_link (struct nlmsghdr *reply,
            gpointer user_data)
{
  NlLink *link = user_data;
  struct ifinfomsg *ifi = NLMSG_DATA (reply);
  struct rtattr *rta;
  int len;

  if (reply->nlmsg_type != RTM_NEWLINK ||
      reply->nlmsg_len < NLMSG_LENGTH (sizeof *ifi))
    return;
  link->found = TRUE;
  link->index = ifi->ifi_index;
  link->flags = ifi->ifi_flags;
  len = (int) IFLA_PAYLOAD (reply);
  for (rta = IFLA_RTA (ifi); RTA_OK (rta, len); rta = RTA_NEXT (rta, len))
    {
      struct rtattr *info;
      int info_len;

      if ((rta->rta_type & NLA_TYPE_MASK) != IFLA_LINKINFO)
        continue;
      info_len = (int) RTA_PAYLOAD (rta);
      for (info = RTA_DATA (rta); RTA_OK (info, info_len);
           info = RTA_NEXT (info, info_len))
        if ((info->rta_type & NLA_TYPE_MASK) == IFLA_INFO_KIND)
          {
            g_free (link->kind);
            link->kind = g_strndup (RTA_DATA (info), RTA_PAYLOAD (info));
          }
    }
}

/* Looks @name up; -ENODEV when there is no such interface. */
static int
nl_get_link (NlSocket *nl,
             const char *name,
             NlLink *link,
             char **detail)
{
  NlRequest req;
  struct ifinfomsg *ifi = nl_request_init (&req, RTM_GETLINK, 0,
                                           sizeof *ifi);
  int rc;

  ifi->ifi_family = AF_UNSPEC;
  nl_put_string (&req, IFLA_IFNAME, name);
  nl_link_clear (link);
  rc = nl_transact (nl, &req, parse_link, link, detail);
  if (rc == 0 && !link->found)
    return -ENODEV;
  return rc;
}

static int
nl_create_bridge (NlSocket *nl,
                  const char *name,
                  char **detail)
{
  NlRequest req;
  struct ifinfomsg *ifi = nl_request_init (&req, RTM_NEWLINK,
                                           NLM_F_CREATE | NLM_F_EXCL,
                                           sizeof *ifi);
  struct rtattr *linkinfo;

  ifi->ifi_family = AF_UNSPEC;
  nl_put_string (&req, IFLA_IFNAME, name);
  linkinfo = nl_put (&req, IFLA_LINKINFO, NULL, 0);
  nl_put_string (&req, IFLA_INFO_KIND, "bridge");
  nl_nest_end (&req, linkinfo);
  return nl_transact (nl, &req, NULL, NULL, detail);
}

static int
nl_set_up (NlSocket *nl,
           int index,
           char **detail)
{
  NlRequest req;
  struct ifinfomsg *ifi = nl_request_init (&req, RTM_NEWLINK, 0,
                                           sizeof *ifi);

  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = index;
  ifi->ifi_flags = IFF_UP;
  ifi->ifi_change = IFF_UP;
  return nl_transact (nl, &req, NULL, NULL, detail);
}

static int
nl_add_address (NlSocket *nl,
                int index,
                guint32 addr,
                guint prefix,
                char **detail)
{
  NlRequest req;
  struct ifaddrmsg *ifa = nl_request_init (&req, RTM_NEWADDR,
                                           NLM_F_CREATE | NLM_F_EXCL,
                                           sizeof *ifa);

  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = prefix;
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = index;
  nl_put_ipv4 (&req, IFA_LOCAL, addr);
  nl_put_ipv4 (&req, IFA_ADDRESS, addr);
  nl_put_ipv4 (&req, IFA_BROADCAST, addr | ~nlx_address_netmask (prefix));
  return nl_transact (nl, &req, NULL, NULL, detail);
}

/* Stops the bridge learning source addresses from link-local group
 * frames (01:80:c2:00:00:0X): the bridge learns from some of them (LLDP)
 * before any netfilter hook sees them, so a port could otherwise move
 * another instance's MAC to itself past its port rules. */
static int
nl_set_no_linklocal_learn (NlSocket *nl,
                           int index,
                           char **detail)
{
  NlRequest req;
  struct ifinfomsg *ifi = nl_request_init (&req, RTM_NEWLINK, 0,
                                           sizeof *ifi);
  struct br_boolopt_multi option = {
    .optval = 1u << BR_BOOLOPT_NO_LL_LEARN,
    .optmask = 1u << BR_BOOLOPT_NO_LL_LEARN,
  };
  struct rtattr *linkinfo, *data;

  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = index;
  linkinfo = nl_put (&req, IFLA_LINKINFO, NULL, 0);
  nl_put_string (&req, IFLA_INFO_KIND, "bridge");
  data = nl_put (&req, IFLA_INFO_DATA, NULL, 0);
  nl_put (&req, IFLA_BR_MULTI_BOOLOPT, &option, sizeof option);
  nl_nest_end (&req, data);
  nl_nest_end (&req, linkinfo);
  return nl_transact (nl, &req, NULL, NULL, detail);
}

/* What the bridge holds of the gateway address. */
typedef struct {
  int index;
  guint32 addr;
  guint prefix;
  gboolean exact;         /* addr/prefix */
  gboolean other_prefix;  /* addr with another prefix */
  guint found_prefix;
} NlAddressScan;

static void
parse_address (struct nlmsghdr *reply,
               gpointer user_data)
{
  NlAddressScan *scan = user_data;
  struct ifaddrmsg *ifa = NLMSG_DATA (reply);
  struct rtattr *rta;
  gboolean have_local = FALSE;
  guint32 addr = 0;
  int len;

  if (reply->nlmsg_type != RTM_NEWADDR ||
      reply->nlmsg_len < NLMSG_LENGTH (sizeof *ifa) ||
      ifa->ifa_family != AF_INET || (int) ifa->ifa_index != scan->index)
    return;
  len = (int) IFA_PAYLOAD (reply);
  for (rta = IFA_RTA (ifa); RTA_OK (rta, len); rta = RTA_NEXT (rta, len))
    {
      guint16 type = rta->rta_type & NLA_TYPE_MASK;
      guint32 be;

      /* IFA_LOCAL is the interface's own address; IFA_ADDRESS is the
       * same, except on point-to-point links where it is the peer's. */
      if ((type != IFA_LOCAL && (type != IFA_ADDRESS || have_local)) ||
          RTA_PAYLOAD (rta) != sizeof be)
        continue;
      memcpy (&be, RTA_DATA (rta), sizeof be);
      addr = ntohl (be);
      have_local = have_local || type == IFA_LOCAL;
    }
  if (addr != scan->addr)
    return;
  if (ifa->ifa_prefixlen == scan->prefix)
    scan->exact = TRUE;
  else
    {
      scan->other_prefix = TRUE;
      scan->found_prefix = ifa->ifa_prefixlen;
    }
}

static int
nl_scan_addresses (NlSocket *nl,
                   NlAddressScan *scan,
                   char **detail)
{
  NlRequest req;
  struct ifaddrmsg *ifa = nl_request_init (&req, RTM_GETADDR, NLM_F_DUMP,
                                           sizeof *ifa);

  ifa->ifa_family = AF_INET;
  return nl_transact (nl, &req, parse_address, scan, detail);
}

/* ---- the bridge ---------------------------------------------------------- */

/**
 * nlx_network_ensure_bridge:
 * @bridge: the bridge's name ([network] bridge)
 * @gateway: its own address, dotted ([network] gateway)
 * @prefix: the subnet's prefix length
 * @error: return location for a #NLX_DRIVER_ERROR, or a #NLX_CONFIG_ERROR
 *   when the configuration does not fit what the host has
 *
 * Makes sure @bridge exists, holds @gateway with @prefix, and is up: creates it if absent, adds the
 * address if it lacks it, brings it up if it is down.  It also turns the
 * bridge's no_linklocal_learn on, which port security needs (see
 * nl_set_no_linklocal_learn()).  Anything else of an existing bridge
 * (its ports, other addresses, MTU, STP...) is left as the operator set
 * it.  Calling it again changes nothing.
 *
 * It refuses, changing nothing, when the name belongs to an interface
 * that is not a bridge, or when the bridge holds the gateway address with
 * another prefix.  It needs CAP_NET_ADMIN.
 *
 * Returns: %TRUE when the bridge is ready
 */
gboolean
nlx_network_ensure_bridge (const char *bridge,
                           const char *gateway,
                           guint prefix,
                           GError **error)
{
  g_auto(NlSocket) nl = NL_SOCKET_INIT;
  g_auto(NlLink) link = { 0 };
  g_autofree char *detail = NULL;
  g_autofree char *reason = NULL;
  NlAddressScan scan = { .prefix = prefix };
  guint32 gateway_addr;
  int rc;

  if (!nlx_address_bridge_name_is_valid (bridge))
    {
      g_set_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID,
                   _("“%s” is not a usable bridge name; see [%s] bridge in "
                     "nova-lxc.conf(5)"), bridge, SECTION);
      return FALSE;
    }
  if (!nlx_address_parse_ipv4 (gateway, &gateway_addr) ||
      prefix < NLX_NETWORK_PREFIX_MIN || prefix > NLX_NETWORK_PREFIX_MAX)
    {
      g_set_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID,
                   _("“%s/%u” is not a usable gateway address for bridge %s; "
                     "see [%s] gateway and cidr in nova-lxc.conf(5)"),
                   gateway, prefix, bridge, SECTION);
      return FALSE;
    }
  scan.addr = gateway_addr;

  rc = nl_open (&nl);
  if (rc < 0)
    {
      reason = nl_reason (rc, NULL);
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot open a netlink socket to configure bridge %s: "
                     "%s"), bridge, reason);
      return FALSE;
    }

  rc = nl_get_link (&nl, bridge, &link, &detail);
  if (rc == -ENODEV)
    {
      g_clear_pointer (&detail, g_free);
      rc = nl_create_bridge (&nl, bridge, &detail);
      /* EEXIST: another process made it meanwhile; look at what it is. */
      if (rc < 0 && rc != -EEXIST)
        {
          reason = nl_reason (rc, detail);
          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                       _("Cannot create bridge %s ([%s] bridge): %s"),
                       bridge, SECTION, reason);
          return FALSE;
        }
      if (rc == 0)
        g_message (_("Created bridge %s for instance networking"),
                   bridge);
      g_clear_pointer (&detail, g_free);
      rc = nl_get_link (&nl, bridge, &link, &detail);
    }
  if (rc < 0)
    {
      reason = nl_reason (rc, detail);
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot read the state of network interface %s ([%s] "
                     "bridge): %s"), bridge, SECTION, reason);
      return FALSE;
    }

  if (g_strcmp0 (link.kind, "bridge") != 0)
    {
      if (link.kind != NULL)
        g_set_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID,
                     _("Network interface %s exists but is a %s device, not "
                       "a bridge; set [%s] bridge to a bridge or to an "
                       "unused name"), bridge, link.kind,
                     SECTION);
      else
        g_set_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID,
                     _("Network interface %s exists but is not a bridge; "
                       "set [%s] bridge to a bridge or to an unused name"),
                     bridge, SECTION);
      return FALSE;
    }

  scan.index = link.index;
  g_clear_pointer (&detail, g_free);
  rc = nl_scan_addresses (&nl, &scan, &detail);
  if (rc < 0)
    {
      reason = nl_reason (rc, detail);
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot read the addresses of bridge %s: %s"),
                   bridge, reason);
      return FALSE;
    }
  if (!scan.exact && scan.other_prefix)
    {
      g_set_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID,
                   _("Bridge %s holds the gateway address %s with prefix "
                     "/%u, but [%s] cidr has prefix /%u; change the bridge's "
                     "address or the configuration so that they agree"),
                   bridge, gateway, scan.found_prefix, SECTION, prefix);
      return FALSE;
    }
  if (!scan.exact)
    {
      g_clear_pointer (&detail, g_free);
      rc = nl_add_address (&nl, link.index, gateway_addr,
                           prefix, &detail);
      if (rc < 0 && rc != -EEXIST)
        {
          reason = nl_reason (rc, detail);
          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                       _("Cannot give bridge %s the gateway address %s/%u "
                         "([%s] gateway): %s"), bridge,
                       gateway, prefix, SECTION, reason);
          return FALSE;
        }
    }

  g_clear_pointer (&detail, g_free);
  rc = nl_set_no_linklocal_learn (&nl, link.index, &detail);
  if (rc < 0)
    {
      reason = nl_reason (rc, detail);
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot stop bridge %s learning addresses from "
                     "link-local frames (no_linklocal_learn): %s"), bridge,
                   reason);
      return FALSE;
    }

  if (!(link.flags & IFF_UP))
    {
      g_clear_pointer (&detail, g_free);
      rc = nl_set_up (&nl, link.index, &detail);
      if (rc < 0)
        {
          reason = nl_reason (rc, detail);
          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                       _("Cannot bring bridge %s up: %s"), bridge,
                       reason);
          return FALSE;
        }
    }
  return TRUE;
}

/**
 * nlx_network_check_bridge:
 * @bridge: the name of a bridge the daemon does not own (one a Nova
 *   driver names for an instance's interface, docs/api.md "The driver
 *   API")
 * @error: return location for %NLX_DRIVER_ERROR_INVALID_ARGUMENT naming
 *   @bridge when it is missing or not a bridge, or another
 *   #NLX_DRIVER_ERROR
 *
 * Whether @bridge exists and is a bridge.  Unlike
 * nlx_network_ensure_bridge() it makes nothing and changes nothing:
 * such a bridge, its addresses and its state are whoever made it's.
 *
 * Returns: %TRUE when @bridge is a bridge
 */
gboolean
nlx_network_check_bridge (const char *bridge,
                          GError **error)
{
  g_auto(NlSocket) nl = NL_SOCKET_INIT;
  g_auto(NlLink) link = { 0 };
  g_autofree char *detail = NULL;
  g_autofree char *reason = NULL;
  int rc;

  if (!nlx_address_bridge_name_is_valid (bridge))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("“%s” is not a bridge name: 1 to %u letters, digits, "
                     "“_”, “.” or “-”"), bridge ? bridge : "",
                   NLX_NETWORK_BRIDGE_NAME_MAX);
      return FALSE;
    }
  rc = nl_open (&nl);
  if (rc == 0)
    rc = nl_get_link (&nl, bridge, &link, &detail);
  if (rc == -ENODEV)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Bridge %s does not exist on this host; make it (or "
                     "plug the network into it) before giving it to a "
                     "server"), bridge);
      return FALSE;
    }
  if (rc < 0)
    {
      reason = nl_reason (rc, detail);
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot read the state of network interface %s: %s"),
                   bridge, reason);
      return FALSE;
    }
  if (g_strcmp0 (link.kind, "bridge") != 0)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Network interface %s is a %s device, not a bridge; "
                     "give the bridge the server's interface joins"),
                   bridge, link.kind ? link.kind : _("non-bridge"));
      return FALSE;
    }
  return TRUE;
}

/**
 * nlx_network_protect_bridge:
 * @bridge: the bridge's name
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Turns @bridge's no_linklocal_learn on, as nlx_network_ensure_bridge()
 * does, when @bridge exists and is a bridge: for the daemon's start,
 * since the instances running on it may start no more.  A missing bridge
 * (a host reboot) is no error: the next start makes it.
 *
 * Returns: %FALSE when the kernel refuses
 */
gboolean
nlx_network_protect_bridge (const char *bridge,
                            GError **error)
{
  g_auto(NlSocket) nl = NL_SOCKET_INIT;
  g_auto(NlLink) link = { 0 };
  g_autofree char *detail = NULL;
  g_autofree char *reason = NULL;
  int rc;

  g_return_val_if_fail (nlx_address_bridge_name_is_valid (bridge), FALSE);

  rc = nl_open (&nl);
  if (rc == 0)
    rc = nl_get_link (&nl, bridge, &link, &detail);
  if (rc == -ENODEV ||
      (rc == 0 && g_strcmp0 (link.kind, "bridge") != 0))
    return TRUE;
  if (rc == 0)
    rc = nl_set_no_linklocal_learn (&nl, link.index, &detail);
  if (rc == 0)
    return TRUE;
  reason = nl_reason (rc, detail);
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
               _("Cannot stop bridge %s learning addresses from link-local "
                 "frames (no_linklocal_learn): %s"), bridge, reason);
  return FALSE;
}
