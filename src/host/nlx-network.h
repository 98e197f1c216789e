/* nlx-network.h: the host side of instance networking: the bridge, stable
 * MAC addresses and the IPv4 address allocator */
#pragma once

#include <glib.h>

/* The settings' addresses are numbers of nlx-address.h's arithmetic. */
#include "model/nlx-address.h"

G_BEGIN_DECLS

#define NLX_NETWORK_DEFAULT_BRIDGE "nlxbr0"
#define NLX_NETWORK_DEFAULT_CIDR "10.251.0.0/24"
/* Where instances ask for their metadata, as on every cloud (port 80),
 * and the port the daemon serves it on, on the bridge's gateway
 * address: Nova's metadata API port. */
#define NLX_NETWORK_METADATA_ADDRESS "169.254.169.254"
#define NLX_NETWORK_METADATA_PUBLIC_PORT 80
#define NLX_NETWORK_DEFAULT_METADATA_PORT 8775

/**
 * NlxNetworkSettings:
 * @bridge: the Linux bridge every instance's veth joins
 * @cidr: the instances' subnet, normalised ("10.251.0.0/24")
 * @prefix: its prefix length
 * @gateway: the address the bridge holds and instances route through
 * @range_start: the first address that may be handed out
 * @range_end: the last address that may be handed out
 * @network_addr: @cidr's network address, host byte order
 * @gateway_addr: @gateway, host byte order
 * @range_start_addr: @range_start, host byte order
 * @range_end_addr: @range_end, host byte order
 * @addresses_path: where the allocator keeps its state:
 *   `[DEFAULT] state_path` + "/network/addresses.json"
 * @metadata_port: the TCP port on @gateway where the daemon answers
 *   the instances' requests to 169.254.169.254:80; 0 when there is no
 *   metadata service
 * @dhcp: whether the daemon serves DHCP on @bridge ([network] dhcp)
 *
 * The [network] section of nova-lxc.conf(5).  The strings are what a
 * domain's `<interface>` needs; the numbers are for arithmetic.  The
 * gateway is never handed out, even when it lies inside the range.
 */
typedef struct {
  char *bridge;
  char *cidr;
  guint prefix;
  char *gateway;
  char *range_start;
  char *range_end;
  guint32 network_addr;
  guint32 gateway_addr;
  guint32 range_start_addr;
  guint32 range_end_addr;
  char *addresses_path;
  guint metadata_port;
  gboolean dhcp;
} NlxNetworkSettings;

NlxNetworkSettings *nlx_network_settings_new (GKeyFile *keyfile,
                                              GError **error);
void nlx_network_settings_free (NlxNetworkSettings *settings);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NlxNetworkSettings, nlx_network_settings_free)

guint nlx_network_settings_capacity (const NlxNetworkSettings *settings);

gboolean nlx_network_ensure_bridge (const char *bridge,
                                    const char *gateway,
                                    guint prefix,
                                    GError **error);

gboolean nlx_network_check_bridge (const char *bridge,
                                   GError **error);
gboolean nlx_network_protect_bridge (const char *bridge,
                                     GError **error);

typedef struct _NlxIpam NlxIpam;

NlxIpam *nlx_ipam_open (const NlxNetworkSettings *settings,
                        const char *path,
                        GError **error);
void nlx_ipam_free (NlxIpam *ipam);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NlxIpam, nlx_ipam_free)

char *nlx_ipam_allocate (NlxIpam *ipam,
                         const char *uuid,
                         GError **error);
gboolean nlx_ipam_reserve (NlxIpam *ipam,
                           const char *uuid,
                           const char *address,
                           GError **error);
gboolean nlx_ipam_release (NlxIpam *ipam,
                           const char *uuid,
                           GError **error);
const char *nlx_ipam_lookup (NlxIpam *ipam,
                             const char *uuid);
GStrv nlx_ipam_list (NlxIpam *ipam);
char *nlx_ipam_to_data (NlxIpam *ipam);
const char *nlx_ipam_get_path (NlxIpam *ipam);
void nlx_ipam_set_deferred (NlxIpam *ipam,
                            gboolean deferred);

G_END_DECLS
