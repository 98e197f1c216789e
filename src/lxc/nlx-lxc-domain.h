/* nlx-lxc-domain.h: instance -> libvirt LXC domain XML */
#pragma once

#include "model/nlx-instance.h"

G_BEGIN_DECLS

#define NLX_NOVA_XMLNS "http://openstack.org/xmlns/libvirt/nova/1.1"
#define NLX_NOVA_XMLNS_PREFIX "nova"
/* Our own metadata, for what Nova's namespace has no place for. */
#define NLX_LXC_XMLNS "urn:nova-lxc:libvirt:1.0"
#define NLX_LXC_XMLNS_PREFIX "nlx"

#define NLX_LXC_DEFAULT_INIT "/sbin/init"

/* Where the sandbox directory (nova-lxc-init alone) is mounted read-only
 * inside every instance: in the container's own /dev tmpfs, which libvirt
 * sets up before the domain's other mounts, so that nothing is written
 * into the instance's root. */
#define NLX_LXC_SANDBOX_MOUNT "/dev/.nova-lxc"
#define NLX_LXC_SANDBOX_PROGRAM "nova-lxc-init"

/* Where the config drive's tree is mounted read-only inside: the seed
 * directory of cloud-init's ConfigDrive datasource.  A config drive as
 * Nova makes it, an ISO 9660 or vfat filesystem labelled config-2, is
 * useless here: the kernel refuses to mount a block device in a user
 * namespace. */
#define NLX_LXC_CONFIG_DRIVE_MOUNT "/var/lib/cloud/seed/config_drive"
/* What a Nova VM's DMI says (product_name), for cloud-init. */
#define NLX_LXC_PRODUCT_NAME "OpenStack Nova"

/**
 * NlxLxcMetadata:
 * @shutdown_signal: (nullable): signal name init takes as "power off";
 *   %NULL lets libvirt choose
 * @root_volume: (nullable): the volume the root filesystem comes from
 * @root_image: (nullable): the image tree the root is an overlay over
 * @privileged: the instance runs without a user namespace
 * @volumes: (element-type NlxVolumeAttachment): attached volumes
 * @vif: (nullable): the network interface, whose bridge each start makes
 *   sure of
 * @pids: the instance's pids limit, which libvirt has no element for
 *   and the driver applies at each start; 0 for none
 *
 * What the driver keeps in the domain's own metadata element
 * (%NLX_LXC_XMLNS), so that any later operation on the domain knows it.
 */
typedef struct {
  char *shutdown_signal;
  char *root_volume;
  char *root_image;
  gboolean privileged;
  GPtrArray *volumes;
  NlxVif *vif;
  guint pids;
} NlxLxcMetadata;

NlxLxcMetadata *nlx_lxc_metadata_new (void);
void nlx_lxc_metadata_free (NlxLxcMetadata *metadata);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NlxLxcMetadata, nlx_lxc_metadata_free)
NlxLxcMetadata *nlx_lxc_metadata_parse (const char *xml,
                                        GError **error);
char *nlx_lxc_metadata_to_xml (const NlxLxcMetadata *metadata);

char *nlx_lxc_disk_xml (const char *device,
                        const char *source);
char *nlx_lxc_veth_name (const char *uuid);

/**
 * NlxLxcDomainSpec:
 * @instance: the instance
 * @root_dir: absolute host path of the root filesystem tree
 * @init_path: (nullable): absolute path of init inside the root;
 *   %NULL means %NLX_LXC_DEFAULT_INIT
 * @shutdown_signal: (nullable): signal name init takes as "power off",
 *   kept in the domain's metadata; %NULL lets libvirt choose
 * @disk_sources: (nullable): host block device of each of
 *   instance->volumes, in the same order
 * @root_image: (nullable): the image tree @root_dir is an overlay over,
 *   kept in the metadata so that the overlay can be made again
 * @uid_map: (nullable) (element-type NlxIdMapRange): the user namespace's
 *   uid map; %NULL for a privileged instance, which has none
 * @gid_map: (nullable) (element-type NlxIdMapRange): its gid map
 * @pids: the pids limit to keep in the metadata; 0 for none
 * @cpuset: (nullable): the host CPUs the instance may run on, in
 *   libvirt's cpuset syntax ("0-3,^2"); %NULL for all
 * @sandbox_dir: (nullable): absolute host path of the directory holding
 *   %NLX_LXC_SANDBOX_PROGRAM, which then runs first (it waits for the
 *   pids group, gives the container its cgroup namespace, a session
 *   keyring of its own and the seccomp filter, drops CAP_SYS_ADMIN) and
 *   execs init; %NULL runs init directly, with CAP_SYS_ADMIN dropped by
 *   libvirt
 * @seccomp: with @sandbox_dir, load the default seccomp filter
 * @hostname: (nullable): with @sandbox_dir, the host name nova-lxc-init
 *   sets (one DNS label, nlx_hostname_is_valid()); %NULL keeps the
 *   domain's name, as libvirt sets it
 * @config_drive_dir: (nullable): absolute host path of the config
 *   drive's tree, mounted read-only at %NLX_LXC_CONFIG_DRIVE_MOUNT;
 *   %NULL for none
 */
typedef struct {
  const NlxInstance *instance;
  const char *root_dir;
  const char *init_path;
  const char *shutdown_signal;
  const char * const *disk_sources;
  const char *root_image;
  GArray *uid_map;
  GArray *gid_map;
  guint pids;
  const char *cpuset;
  const char *sandbox_dir;
  gboolean seccomp;
  const char *hostname;
  const char *config_drive_dir;
} NlxLxcDomainSpec;

/* The CFS period libvirt and the kernel default to, in microseconds: a
 * quota of one period per vcpu is one CPU's worth of time per vcpu. */
#define NLX_LXC_CPU_PERIOD_US 100000
/* Nova's shares per vcpu before it stopped setting any. */
#define NLX_LXC_CPU_SHARES_PER_VCPU 1024

NlxLxcMetadata nlx_lxc_domain_spec_metadata (const NlxLxcDomainSpec *spec);
char *nlx_lxc_domain_build (const NlxLxcDomainSpec *spec,
                            GError **error);

G_END_DECLS
