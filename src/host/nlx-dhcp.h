/* nlx-dhcp.h: DHCPv4 for the instances on the daemon's bridge, static
 * leases only, served by a dnsmasq the daemon owns */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Neutron's default dhcp_lease_duration */
#define NLX_DHCP_LEASE_SECONDS 86400

typedef struct _NlxDhcp NlxDhcp;

char **nlx_dhcp_argv (const char *dnsmasq,
                      const char *bridge,
                      const char *cidr,
                      const char *gateway,
                      const char *hosts_path,
                      const char *pid_path,
                      GError **error);
char *nlx_dhcp_hosts_data (GHashTable *hosts);

NlxDhcp *nlx_dhcp_start (const char *bridge,
                         const char *cidr,
                         const char *gateway,
                         const char *dir,
                         GHashTable *hosts,
                         GError **error);
gboolean nlx_dhcp_set_host (NlxDhcp *dhcp,
                            const char *uuid,
                            const char *mac,
                            const char *address,
                            GError **error);
gboolean nlx_dhcp_remove_host (NlxDhcp *dhcp,
                               const char *uuid,
                               GError **error);
void nlx_dhcp_stop (NlxDhcp *dhcp);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NlxDhcp, nlx_dhcp_stop)

G_END_DECLS
