/* nlx-network-filter.h: the host's firewall for instances: port security
 * on the bridge and what instances may reach on the host */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/**
 * NlxNetworkPort:
 * @veth: the host end of the instance's veth pair (nlx_lxc_veth_name())
 * @mac: the instance's MAC address, "fa:16:3e:xx:xx:xx"
 * @address: the instance's IPv4 address, dotted
 *
 * One instance's port on the bridge and what it may send from.
 */
typedef struct {
  const char *veth;
  const char *mac;
  const char *address;
} NlxNetworkPort;

/**
 * NlxNetworkMetadata:
 * @gateway: the bridge's own address, dotted, where the daemon listens
 * @port: the daemon's port there ([network] metadata_port, not 0)
 *
 * Where the daemon serves the metadata service that the bridge's
 * instances reach as http://169.254.169.254/.
 */
typedef struct {
  const char *gateway;
  guint port;
} NlxNetworkMetadata;

char *nlx_network_filter_table_name (const char *bridge);

char *nlx_network_filter_sync_script (const char *bridge,
                                      gboolean host_access,
                                      gboolean dhcp,
                                      const NlxNetworkMetadata *metadata,
                                      const NlxNetworkPort *ports,
                                      guint n_ports,
                                      GError **error);
char *nlx_network_filter_add_script (const char *bridge,
                                     const NlxNetworkPort *port,
                                     GError **error);
char *nlx_network_filter_remove_script (const char *bridge,
                                        const char *veth,
                                        GError **error);

gboolean nlx_network_filter_sync (const char *bridge,
                                  gboolean host_access,
                                  gboolean dhcp,
                                  const NlxNetworkMetadata *metadata,
                                  const NlxNetworkPort *ports,
                                  guint n_ports,
                                  GError **error);
void nlx_network_filter_init (void);
gboolean nlx_network_filter_add_port (const char *bridge,
                                      const NlxNetworkPort *port,
                                      GError **error);
gboolean nlx_network_filter_remove_port (const char *bridge,
                                         const char *veth,
                                         GError **error);
gboolean nlx_network_filter_delete (const char *bridge,
                                    GError **error);

G_END_DECLS
