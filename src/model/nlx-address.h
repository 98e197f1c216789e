/* nlx-address.h: IPv4 addresses, MAC addresses and bridge names: parse,
 * check, format; no system calls */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* IFNAMSIZ - 1: the kernel's limit on an interface name */
#define NLX_NETWORK_BRIDGE_NAME_MAX 15
#define NLX_NETWORK_PREFIX_MIN 8
#define NLX_NETWORK_PREFIX_MAX 30

gboolean nlx_address_bridge_name_is_valid (const char *name);
gboolean nlx_address_parse_ipv4 (const char *text,
                                 guint32 *addr);
char *nlx_address_format_ipv4 (guint32 addr);
guint32 nlx_address_netmask (guint prefix);
guint32 nlx_address_broadcast_of (guint32 network,
                                  guint prefix);
gboolean nlx_address_is_host_of (guint32 addr,
                                 guint32 network,
                                 guint prefix);
gboolean nlx_address_are_hosts_of_one_subnet (guint32 a,
                                              guint32 b,
                                              guint prefix);

char *nlx_address_mac_for (const char *address);

G_END_DECLS
