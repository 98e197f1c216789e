/* nlx-lxc-domain.h: instance -> libvirt LXC domain XML */
#pragma once

#include "nlx-instance.h"

G_BEGIN_DECLS

#define NLX_NOVA_XMLNS "http://openstack.org/xmlns/libvirt/nova/1.1"
#define NLX_NOVA_XMLNS_PREFIX "nova"
/* Our own metadata, for what Nova's namespace has no place for. */
#define NLX_LXC_XMLNS "urn:nova-lxc:libvirt:1.0"
#define NLX_LXC_XMLNS_PREFIX "nlx"

#define NLX_LXC_DEFAULT_INIT "/sbin/init"

/**
 * NlxLxcDomainSpec:
 * @instance: the instance
 * @root_dir: absolute host path of the root filesystem tree
 * @init_path: (nullable): absolute path of init inside the root;
 *   %NULL means %NLX_LXC_DEFAULT_INIT
 * @shutdown_signal: (nullable): signal name init takes as "power off",
 *   kept in the domain's metadata; %NULL lets libvirt choose
 */
typedef struct {
  const NlxInstance *instance;
  const char *root_dir;
  const char *init_path;
  const char *shutdown_signal;
} NlxLxcDomainSpec;

char *nlx_lxc_domain_build (const NlxLxcDomainSpec *spec,
                            GError **error);

G_END_DECLS
