"""nova.conf options of the nova-lxc adapter: [novalxc]."""

from oslo_config import cfg

novalxc_group = cfg.OptGroup(
    'novalxc', title='nova-lxc options',
    help='How nova-compute reaches the host\'s nova-lxc-compute daemon.')

novalxc_opts = [
    cfg.StrOpt('socket', default='/run/nova-lxc/compute.sock',
               help='The Unix socket of nova-lxc-compute ([api] socket in '
                    'nova-lxc.conf).  nova-compute must be able to connect '
                    'to it (it is mode 0660: run nova-compute as root or '
                    'in the socket\'s group).'),
    cfg.IntOpt('api_timeout', default=120, min=1,
               help='Seconds to wait for one answer of the daemon.'),
    cfg.IntOpt('build_timeout', default=300, min=1,
               help='Seconds a server may take to reach the state an '
                    'operation asked for (ACTIVE, SHUTOFF, PAUSED, gone).'),
    cfg.DictOpt('bridge_mappings', default={},
                help='Neutron bridge name -> host Linux bridge the daemon '
                     'plugs the VIF into, e.g. br-int:nlxbr0 when the '
                     'network\'s bridge is not a Linux bridge of this '
                     'host.  A bridge not listed is used by its own name '
                     'and must exist.'),
    cfg.StrOpt('image_tmp_dir',
               help='Where Glance images and snapshots are staged on their '
                    'way to or from the daemon (the system\'s temporary '
                    'directory when unset).  The daemon reads and writes '
                    'them as root on this same host.'),
]


def register_opts(conf):
    conf.register_group(novalxc_group)
    conf.register_opts(novalxc_opts, group=novalxc_group)


def list_opts():
    return {novalxc_group: novalxc_opts}
