/* nlx-address.c: IPv4 addresses, MAC addresses and bridge names: parse,
 * check, format; no system calls
 *
 * The instance model validates what a caller asks for with these, and
 * the host's networking (src/host/nlx-network.c, nlx-ipam.c, nlx-dhcp.c)
 * does its arithmetic with them; they hold no state. */
#include "config.h"

#include <arpa/inet.h>
#include <string.h>

#include "model/nlx-address.h"

/* ---- IPv4 arithmetic (host byte order) ----------------------------------- */

/**
 * nlx_address_netmask:
 * @prefix: a prefix length, 0 to 32
 *
 * Returns: the netmask of @prefix, host byte order
 */
guint32
nlx_address_netmask (guint prefix)
{
  return prefix == 0 ? 0 : G_MAXUINT32 << (32 - MIN (prefix, 32));
}

/**
 * nlx_address_broadcast_of:
 * @network: a network address, host byte order
 * @prefix: its prefix length, 0 to 32
 *
 * Returns: the broadcast address of @network/@prefix, host byte order
 */
guint32
nlx_address_broadcast_of (guint32 network,
                          guint prefix)
{
  return network | ~nlx_address_netmask (prefix);
}

/**
 * nlx_address_is_host_of:
 * @addr: an address, host byte order
 * @network: a network address, host byte order
 * @prefix: its prefix length, 0 to 32
 *
 * Returns: whether @addr is a host address of @network/@prefix: inside
 *   it, and neither its network nor its broadcast address
 */
gboolean
nlx_address_is_host_of (guint32 addr,
                        guint32 network,
                        guint prefix)
{
  return (addr & nlx_address_netmask (prefix)) == network && addr != network &&
         addr != nlx_address_broadcast_of (network, prefix);
}

/**
 * nlx_address_parse_ipv4:
 * @text: (nullable): a dotted quad
 * @addr: (out): the address, host byte order
 *
 * Strict: inet_pton() refuses short forms, leading zeros and anything
 * after the fourth number.
 */
gboolean
nlx_address_parse_ipv4 (const char *text,
                        guint32 *addr)
{
  struct in_addr in;

  if (text == NULL || inet_pton (AF_INET, text, &in) != 1)
    return FALSE;
  *addr = ntohl (in.s_addr);
  return TRUE;
}

/**
 * nlx_address_are_hosts_of_one_subnet:
 *
 * Returns: whether @a and @b are two different host addresses (neither
 * the network's nor the broadcast address) of one /@prefix subnet
 */
gboolean
nlx_address_are_hosts_of_one_subnet (guint32 a,
                                     guint32 b,
                                     guint prefix)
{
  guint32 network = a & nlx_address_netmask (prefix);

  return a != b && nlx_address_is_host_of (a, network, prefix) &&
         nlx_address_is_host_of (b, network, prefix);
}

/**
 * nlx_address_format_ipv4:
 * @addr: an address, host byte order
 *
 * Returns: (transfer full): @addr as a dotted quad
 */
char *
nlx_address_format_ipv4 (guint32 addr)
{
  return g_strdup_printf ("%u.%u.%u.%u", addr >> 24, (addr >> 16) & 0xff,
                          (addr >> 8) & 0xff, addr & 0xff);
}

/* ---- bridge names --------------------------------------------------------- */

/**
 * nlx_address_bridge_name_is_valid:
 * @name: (nullable): an interface name
 *
 * Returns: whether @name is 1 to %NLX_NETWORK_BRIDGE_NAME_MAX characters
 * of [A-Za-z0-9_.-], does not start with '-' (it would read as an option
 * to ip(8) and brctl(8)) and is neither "." nor ".." (the kernel refuses
 * both)
 */
gboolean
nlx_address_bridge_name_is_valid (const char *name)
{
  gsize len;

  if (name == NULL || name[0] == '-' || g_str_equal (name, ".") ||
      g_str_equal (name, ".."))
    return FALSE;
  len = strlen (name);
  if (len == 0 || len > NLX_NETWORK_BRIDGE_NAME_MAX)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isalnum (name[i]) && name[i] != '_' && name[i] != '.' &&
        name[i] != '-')
      return FALSE;
  return TRUE;
}

/* ---- MAC addresses ------------------------------------------------------- */

/**
 * nlx_address_mac_for:
 * @address: an instance's IPv4 address, dotted
 *
 * The instance's MAC address: Nova's prefix fa:16:3e (locally
 * administered, unicast) and the address's last three bytes.  A subnet
 * has at most 24 host bits (its prefix is at least 8), so two instances
 * on one bridge never share a MAC; and an instance keeps its address
 * from create to delete, so its MAC never changes.
 *
 * Returns: (transfer full): "fa:16:3e:xx:xx:xx", lower case, or %NULL if
 *   @address is not an IPv4 address
 */
char *
nlx_address_mac_for (const char *address)
{
  guint32 addr;

  if (!nlx_address_parse_ipv4 (address, &addr))
    return NULL;
  return g_strdup_printf ("fa:16:3e:%02x:%02x:%02x", (addr >> 16) & 0xff,
                          (addr >> 8) & 0xff, addr & 0xff);
}
