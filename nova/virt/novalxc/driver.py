"""NovaLxcDriver: Nova's ComputeDriver on top of nova-lxc-compute.

A thin adapter.  The C daemon stays the single owner of the host: the
containers, their roots, images, volumes and the volume whitelist,
addresses and filters, and the reconciliation after a restart.  This
module holds no state of its own that could disagree with the daemon's:
every answer (which servers exist, their power state, the host's size)
is asked of the daemon when Nova asks.  Operations the daemon does not
offer raise NotImplementedError, and `capabilities` says so, so that the
scheduler never sends such work here.
"""

import hashlib
import json
import os
import re
import shutil
import tempfile
import time

import eventlet
import os_resource_classes as orc
from oslo_log import log as logging

from nova.compute import power_state
from nova.compute import task_states
from nova.compute import utils as compute_utils
import nova.conf
from nova import context as nova_context
from nova import exception
from nova.i18n import _
from nova.image import glance
from nova import objects
from nova import utils
from nova.virt import driver
from nova.virt import event as virtevent
from nova.virt import hardware
from nova.virt.novalxc import client as nlx_client
from nova.virt.novalxc import conf as nlx_conf

LOG = logging.getLogger(__name__)
CONF = nova.conf.CONF
nlx_conf.register_opts(CONF)

# The daemon's events (docs/api.md, os-nova-lxc-events) as Nova's.
_EVENTS = {
    'started': virtevent.EVENT_LIFECYCLE_STARTED,
    'stopped': virtevent.EVENT_LIFECYCLE_STOPPED,
    'paused': virtevent.EVENT_LIFECYCLE_PAUSED,
    'resumed': virtevent.EVENT_LIFECYCLE_RESUMED,
}

# What the daemon's power states are to Nova's lifecycle events, for the
# servers whose state changed while the events stream was down.
_STATE_EVENTS = {
    power_state.RUNNING: virtevent.EVENT_LIFECYCLE_STARTED,
    power_state.PAUSED: virtevent.EVENT_LIFECYCLE_PAUSED,
    power_state.SHUTDOWN: virtevent.EVENT_LIFECYCLE_STOPPED,
    power_state.CRASHED: virtevent.EVENT_LIFECYCLE_STOPPED,
    power_state.SUSPENDED: virtevent.EVENT_LIFECYCLE_SUSPENDED,
}

# As Nova's libvirt driver (DISABLE_PREFIX): a compute service disabled
# with a reason that starts so was disabled by the driver, which may
# enable it again; any other disabled service is the operator's and
# stays disabled.
DISABLE_PREFIX = 'AUTO: '
# nova.objects.Service.disabled_reason is a String(255).
_REASON_MAX = 255

# Nova's names for the devices the daemon can give a volume.
_DEVICE_RE = re.compile(r'^/dev/vd[b-z]$')
_VOLUME_ID_RE = re.compile(r'^[A-Za-z0-9._-]{1,64}$')


def _glance_name(image_id):
    """The daemon's image name for a Glance image.

    The daemon finds images by id or name, but refuses a UUID as a new
    image's name (it would read as an id), so a Glance image is stored
    under a name derived from its id.
    """
    return 'glance-%s' % image_id


class NovaLxcDriver(driver.ComputeDriver):

    capabilities = dict(driver.ComputeDriver.capabilities)
    capabilities.update({
        # The daemon keeps one tree per image content itself; Nova's image
        # cache manager has nothing to manage.
        "has_imagecache": False,
        "supports_evacuate": False,
        "supports_migrate_to_same_host": False,
        "supports_attach_interface": False,
        "supports_device_tagging": False,
        "supports_tagged_attach_interface": False,
        "supports_tagged_attach_volume": False,
        "supports_extend_volume": False,
        "supports_multiattach": False,
        "supports_trusted_certs": False,
        "supports_pcpus": False,
        "supports_accelerators": False,
        "supports_bfv_rescue": False,
        "supports_vtpm": False,
        "supports_secure_boot": False,
        "supports_socket_pci_numa_affinity": False,
        "supports_remote_managed_ports": False,
        # What POST /v2.1/images imports: a root tarball, or a raw or
        # qcow2 disk holding one Linux root (read through libguestfs).
        "supports_image_type_raw": True,
        "supports_image_type_qcow2": True,
    })

    # Nova's generic driver tests write into this before calling
    # live_migration_force_complete (libvirt keeps its running migrations
    # here).  nova-lxc has no live migration, so it stays empty.
    active_migrations = {}

    def __init__(self, virtapi, read_only=False):
        super().__init__(virtapi)
        self._image_api = glance.API()
        self._events_thread = None
        self._events_stop = False

    # ----------------------------------------------------------------
    # Talking to the daemon

    @property
    def _client(self):
        # Read at each call: the options may change under a test, and the
        # adapter keeps nothing the daemon could disagree with.
        return nlx_client.Client(CONF.novalxc.socket,
                                 CONF.novalxc.api_timeout)

    def _call(self, method, path, body=None, version=nlx_client.VERSION,
              timeout=None):
        try:
            return self._client.request(method, path, body, version,
                                        timeout=timeout)
        except nlx_client.DaemonUnavailable as e:
            self._daemon_lost(e)
            raise exception.HypervisorUnavailable(host=str(e))

    def _server(self, instance):
        """The daemon's view of an instance, or None if it has none."""
        try:
            _, _, doc = self._call('GET', '/v2.1/servers/%s' % instance.uuid)
        except nlx_client.ApiError as e:
            if e.status == 404:
                return None
            raise
        return doc['server']

    def _server_or_raise(self, instance):
        server = self._server(instance)
        if server is None:
            raise exception.InstanceNotFound(instance_id=instance.uuid)
        return server

    def _action(self, instance, body, version=nlx_client.VERSION):
        try:
            return self._call('POST', '/v2.1/servers/%s/action'
                              % instance.uuid, body, version)
        except nlx_client.ApiError as e:
            if e.status == 404:
                raise exception.InstanceNotFound(instance_id=instance.uuid)
            if e.status == 409:
                raise exception.InstanceInvalidState(
                    attr='status', instance_uuid=instance.uuid,
                    state=e.message, method=next(iter(body)))
            raise exception.NovaException(e.message)

    def _wait(self, instance, statuses, gone_ok=False):
        """Wait until the server is idle in one of `statuses`.

        Returns the server; raises on ERROR (unless asked for) and on
        timeout, with the daemon's fault message.
        """
        deadline = time.monotonic() + CONF.novalxc.build_timeout
        delay = 0.1
        while True:
            server = self._server(instance)
            if server is None:
                if gone_ok:
                    return None
                raise exception.InstanceNotFound(instance_id=instance.uuid)
            status = server.get('status')
            idle = server.get('OS-EXT-STS:task_state') is None
            if idle and status in statuses:
                return server
            if idle and status == 'ERROR':
                fault = (server.get('fault') or {}).get('message', '')
                reason = (_('nova-lxc-compute put instance %(uuid)s in '
                            'ERROR: %(fault)s')
                          % {'uuid': instance.uuid, 'fault': fault})
                if gone_ok:
                    # A delete that failed: the server is still there.
                    raise exception.InstanceTerminationFailure(reason=reason)
                raise exception.InstanceDeployFailure(reason=reason)
            if time.monotonic() > deadline:
                raise exception.NovaException(
                    _('instance %(uuid)s is %(status)s (task %(task)s) '
                      'after %(t)d s; wanted %(want)s')
                    % {'uuid': instance.uuid, 'status': status,
                       'task': server.get('OS-EXT-STS:task_state'),
                       't': CONF.novalxc.build_timeout,
                       'want': '/'.join(statuses)})
            eventlet.sleep(delay)
            delay = min(delay * 1.5, 1.0)

    def _hypervisor(self):
        # 2.1: the resources are still in the detail (gone from 2.88).
        _, _, doc = self._call('GET', '/v2.1/os-hypervisors/detail',
                               version='2.1')
        hypervisors = doc.get('hypervisors') or []
        if not hypervisors:
            raise exception.HypervisorUnavailable(host=CONF.host)
        return hypervisors[0]

    # ----------------------------------------------------------------
    # Host

    def init_host(self, host):
        # The daemon reconciles its own servers with libvirt when it
        # starts; here only check that it answers, and start listening
        # to its events.
        self._call('GET', '/v2.1')
        self._start_events()

    def cleanup_host(self, host):
        self._events_stop = True
        if self._events_thread is not None:
            self._events_thread.kill()
            self._events_thread = None

    def get_host_ip_addr(self):
        return CONF.my_ip

    def get_available_nodes(self, refresh=False):
        # One daemon is one node, named as the nova-compute that drives it
        # (CONF.host), not by the daemon's host name: two nova-compute
        # services on one machine (each with its own daemon) would
        # otherwise both claim one placement provider name.  Asking the
        # daemon still tells whether it is there.
        self._hypervisor()
        return [CONF.host]

    def node_is_available(self, nodename):
        return nodename in self.get_available_nodes()

    def get_available_resource(self, nodename):
        hv = self._hypervisor()
        try:
            arch = json.loads(hv.get('cpu_info') or '{}').get('arch')
        except (TypeError, ValueError):
            arch = None
        arch = arch or os.uname().machine
        return {
            'vcpus': hv['vcpus'],
            'memory_mb': hv['memory_mb'],
            'local_gb': hv['local_gb'],
            'vcpus_used': hv['vcpus_used'],
            'memory_mb_used': hv['memory_mb_used'],
            'local_gb_used': hv['local_gb_used'],
            'hypervisor_type': hv.get('hypervisor_type') or 'lxc',
            'hypervisor_version': int(hv.get('hypervisor_version') or 0),
            'hypervisor_hostname': nodename,
            'cpu_info': hv.get('cpu_info') or '{}',
            'disk_available_least': hv.get('disk_available_least'),
            'supported_instances': [(arch, 'lxc', 'exe')],
            'numa_topology': None,
        }

    def update_provider_tree(self, provider_tree, nodename,
                             allocations=None):
        hv = self._hypervisor()
        inv = provider_tree.data(nodename).inventory
        ratios = self._get_allocation_ratios(inv)
        result = {
            orc.VCPU: {
                'total': hv['vcpus'],
                'min_unit': 1,
                'max_unit': hv['vcpus'],
                'step_size': 1,
                'allocation_ratio': ratios[orc.VCPU],
                'reserved': CONF.reserved_host_cpus,
            },
            orc.MEMORY_MB: {
                'total': hv['memory_mb'],
                'min_unit': 1,
                'max_unit': hv['memory_mb'],
                'step_size': 1,
                'allocation_ratio': ratios[orc.MEMORY_MB],
                'reserved': CONF.reserved_host_memory_mb,
            },
            orc.DISK_GB: {
                'total': hv['local_gb'],
                'min_unit': 1,
                'max_unit': max(hv['local_gb'], 1),
                'step_size': 1,
                'allocation_ratio': ratios[orc.DISK_GB],
                'reserved': compute_utils.convert_mb_to_ceil_gb(
                    CONF.reserved_host_disk_mb),
            },
        }
        provider_tree.update_inventory(nodename, result)

    def get_host_uptime(self):
        hv = self._hypervisor()
        # Until 2.87 the uptime has a path of its own (2.1: numeric ids).
        _, _, doc = self._call('GET', '/v2.1/os-hypervisors/%s/uptime'
                               % hv['id'], version='2.1')
        return doc['hypervisor']['uptime']

    # ----------------------------------------------------------------
    # Instances

    def list_instances(self):
        return [s['name'] for s in self._list_servers()]

    def list_instance_uuids(self):
        return [s['id'] for s in self._list_servers()]

    def _list_servers(self):
        _, _, doc = self._call('GET', '/v2.1/servers?all_tenants=1')
        return doc.get('servers') or []

    def get_info(self, instance, use_cache=True):
        server = self._server_or_raise(instance)
        state = server.get('OS-EXT-STS:power_state', power_state.NOSTATE)
        return hardware.InstanceInfo(state=state)

    def _ensure_image(self, context, image_id):
        """The daemon's image for Glance image `image_id` (item 3).

        Downloaded from Glance to a temporary file and imported by the
        daemon, once: content the store holds already is shared, and a
        taken name means another spawn imported it first.
        """
        name = _glance_name(image_id)
        try:
            # Nova's image proxy: gone from 2.36.
            self._call('GET', '/v2.1/images/%s' % name, version='2.35')
            return name
        except nlx_client.ApiError as e:
            if e.status != 404:
                raise exception.NovaException(e.message)
        # The properties the daemon reads from an image (how to start and
        # stop its init) go with it; Nova's ImageMeta drops unknown ones.
        glance_props = self._image_api.get(context, image_id).get(
            'properties') or {}
        props = {'glance_id': str(image_id)}
        for key in ('os_init_path', 'os_shutdown_signal'):
            if glance_props.get(key):
                props[key] = str(glance_props[key])
        tmpdir = tempfile.mkdtemp(prefix='novalxc-image-',
                                  dir=CONF.novalxc.image_tmp_dir)
        try:
            path = os.path.join(tmpdir, 'image')
            self._image_api.download(context, image_id, dest_path=path)
            if os.path.getsize(path) == 0:
                raise exception.ImageUnacceptable(
                    image_id=image_id, reason=_('Glance gave no data'))
            try:
                self._call('POST', '/v2.1/images',
                           {'image': {'name': name, 'file': path,
                                      'properties': props}},
                           version='2.35')
            except nlx_client.ApiError as e:
                if e.status == 409:
                    return name
                if e.status == 400:
                    raise exception.ImageUnacceptable(image_id=image_id,
                                                      reason=e.message)
                raise exception.NovaException(e.message)
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)
        return name

    def _vif(self, network_info):
        """The driver API's `vif` for Nova's first VIF, or None."""
        if not network_info:
            return None
        if len(network_info) > 1:
            raise exception.InterfaceAttachFailed(
                instance_uuid='', reason=_('nova-lxc gives a server one '
                                           'network interface'))
        vif = network_info[0]
        network = vif.get('network') or {}
        bridge = network.get('bridge')
        bridge = CONF.novalxc.bridge_mappings.get(bridge, bridge)
        if not bridge:
            raise exception.VirtualInterfaceCreateException(
                _('VIF %s names no bridge to plug into') % vif.get('id'))
        address = prefix = gateway = None
        for subnet in network.get('subnets') or []:
            if subnet.get('version') == 4 or (
                    subnet.get('cidr') and ':' not in subnet['cidr']):
                ips = subnet.get('ips') or []
                if not ips:
                    continue
                address = ips[0]['address']
                prefix = int(str(subnet['cidr']).split('/')[1])
                gw = subnet.get('gateway') or {}
                gateway = gw.get('address') if gw else None
                break
        if address is None:
            raise exception.VirtualInterfaceCreateException(
                _('VIF %s has no IPv4 address; nova-lxc plugs IPv4 '
                  'only') % vif.get('id'))
        return {'bridge': bridge, 'mac': vif['address'],
                'address': address, 'prefix': prefix, 'gateway': gateway}

    def spawn(self, context, instance, image_meta, injected_files,
              admin_password, allocations, network_info=None,
              block_device_info=None, power_on=True, accel_info=None):
        image = self._ensure_image(context, image_meta.id)
        flavor = instance.flavor
        vif = self._vif(network_info)
        body = {'server': {
            'name': instance.name,
            'imageRef': image,
            'networks': 'none' if vif is None else [],
            'nova_lxc:driver': {
                'uuid': instance.uuid,
                'flavor': {'name': flavor.name,
                           'vcpus': flavor.vcpus,
                           'ram': flavor.memory_mb,
                           'disk': flavor.root_gb,
                           'extra_specs': dict(flavor.extra_specs or {})},
                'vif': vif,
                'project_id': instance.project_id,
                'user_id': instance.user_id,
            }}}
        if instance.get('user_data'):
            body['server']['user_data'] = instance.user_data
        # The instance's key, as Nova copied it from its key pair (the key
        # pair is Nova's, not the daemon's): the daemon shows it to the
        # instance through its metadata service and config drive.
        if instance.get('key_data') and instance.get('key_name'):
            body['server']['nova_lxc:driver'].update(
                key_name=instance.key_name, key_data=instance.key_data)
        try:
            self._call('POST', '/v2.1/servers', body)
        except nlx_client.ApiError as e:
            if e.status == 409:
                raise exception.InstanceExists(name=instance.uuid)
            raise exception.InstanceDeployFailure(reason=e.message)
        self._wait(instance, ('ACTIVE',))
        for bdm in driver.block_device_info_get_mapping(block_device_info):
            self.attach_volume(context, bdm['connection_info'], instance,
                               bdm.get('mount_device'))
        if not power_on:
            self.power_off(instance)

    def destroy(self, context, instance, network_info, block_device_info=None,
                destroy_disks=True, destroy_secrets=True):
        try:
            self._call('DELETE', '/v2.1/servers/%s' % instance.uuid)
        except nlx_client.ApiError as e:
            if e.status != 404:
                raise exception.NovaException(e.message)
        self._wait(instance, (), gone_ok=True)
        # Deleting the server released its volumes; the entries that
        # named Nova's block devices go too (never the devices).
        for bdm in driver.block_device_info_get_mapping(block_device_info):
            self._forget_volume(bdm['connection_info'])

    def cleanup(self, context, instance, network_info, block_device_info=None,
                destroy_disks=True, migrate_data=None, destroy_vifs=True,
                destroy_secrets=True):
        # What destroy leaves behind is nothing: the daemon removed the
        # container, its root, its port and filter with the server.
        self.destroy(context, instance, network_info, block_device_info,
                     destroy_disks, destroy_secrets)

    def plug_vifs(self, instance, network_info):
        # The daemon plugs the server's port itself whenever it starts it.
        pass

    def unplug_vifs(self, instance, network_info):
        # ... and unplugs it when it stops or deletes it.
        pass

    def reboot(self, context, instance, network_info, reboot_type,
               block_device_info=None, bad_volumes_callback=None,
               accel_info=None):
        server = self._server_or_raise(instance)
        # A soft reboot needs a running init; from any other state do
        # what Nova's libvirt driver does: a hard one.
        if server['status'] != 'ACTIVE':
            reboot_type = 'HARD'
        self._action(instance, {'reboot': {'type': reboot_type}})
        self._wait(instance, ('ACTIVE',))

    def poll_rebooting_instances(self, timeout, instances):
        # The daemon ends every reboot itself (ACTIVE, or ERROR with the
        # reason): no reboot is left for Nova to time out here.
        pass

    def power_off(self, instance, timeout=0, retry_interval=0):
        server = self._server_or_raise(instance)
        if server['status'] == 'SHUTOFF':
            return
        self._action(instance, {'os-stop': None})
        self._wait(instance, ('SHUTOFF',))

    def power_on(self, context, instance, network_info,
                 block_device_info=None, accel_info=None):
        server = self._server_or_raise(instance)
        # Nova asks to power on a running server (and expects nothing to
        # happen); the daemon answers 409 to that, so ask first.
        if server['status'] == 'ACTIVE':
            return
        if server['status'] == 'PAUSED':
            self._action(instance, {'reboot': {'type': 'HARD'}})
        else:
            self._action(instance, {'os-start': None})
        self._wait(instance, ('ACTIVE',))

    def resume_state_on_host_boot(self, context, instance, network_info,
                                  block_device_info=None):
        # After the host booted, Nova wants the instance running again;
        # the daemon's own reconciliation may have done it already.
        self.power_on(context, instance, network_info, block_device_info)

    def pause(self, instance):
        self._action(instance, {'pause': None})
        self._wait(instance, ('PAUSED',))

    def unpause(self, instance):
        server = self._server_or_raise(instance)
        # Unpausing a server that is not paused is a no-op to Nova.
        if server['status'] == 'ACTIVE':
            return
        self._action(instance, {'unpause': None})
        self._wait(instance, ('ACTIVE',))

    def get_console_output(self, context, instance):
        _, _, doc = self._action(instance, {'os-getConsoleOutput': {}})
        return doc.get('output') or ''

    def snapshot(self, context, instance, image_id, update_task_state):
        server = self._server(instance)
        if server is None:
            raise exception.InstanceNotRunning(instance_id=instance.uuid)
        update_task_state(task_state=task_states.IMAGE_PENDING_UPLOAD)
        # A name of the daemon's rules (no UUID) that no other snapshot
        # has: the Glance id's hex digits.
        name = 'nova-snapshot-%s' % str(image_id).replace('-', '')
        _, _, doc = self._action(instance,
                                 {'createImage': {'name': name}},
                                 version='2.45')
        daemon_image = doc['image_id']
        tmpdir = tempfile.mkdtemp(prefix='novalxc-snapshot-',
                                  dir=CONF.novalxc.image_tmp_dir)
        try:
            path = os.path.join(tmpdir, 'root.tar')
            self._export_image(daemon_image, path)
            update_task_state(task_state=task_states.IMAGE_UPLOADING,
                              expected_state=task_states.IMAGE_PENDING_UPLOAD)
            # Glance has no disk format for a root tarball (nova-lxd
            # added its own, root-tar, to Glance's list): it is labelled
            # raw, which the daemon imports either way, and marked as a
            # container's (hypervisor_type lxc, vm_mode exe, as
            # get_available_resource reports), so that Nova's
            # ImagePropertiesFilter sends it only to such hosts.
            metadata = {
                'disk_format': 'raw',
                'container_format': 'bare',
                'properties': {'nova_lxc_format': 'tar',
                               'hypervisor_type': 'lxc',
                               'vm_mode': 'exe'},
            }
            with open(path, 'rb') as f:
                self._image_api.update(context, image_id, metadata, f,
                                       purge_props=False)
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)
            # Glance holds the snapshot now; the daemon's copy would only
            # take room (a spawn from it imports it again by content).
            try:
                self._call('DELETE', '/v2.1/images/%s' % daemon_image,
                           version='2.35')
            except nlx_client.ApiError as e:
                LOG.warning('could not delete the daemon\'s snapshot image '
                            '%s: %s', daemon_image, e.message)

    def _export_image(self, daemon_image, path):
        """Stream the daemon's image file (item 4) into `path`."""
        try:
            conn, resp = self._client.stream(
                'GET', '/image/v2/images/%s/file' % daemon_image)
        except nlx_client.DaemonUnavailable as e:
            self._daemon_lost(e)
            raise exception.HypervisorUnavailable(host=str(e))
        except nlx_client.ApiError as e:
            raise exception.NovaException(
                _('nova-lxc-compute cannot export image %(id)s: %(msg)s')
                % {'id': daemon_image, 'msg': e.message})
        try:
            with open(path, 'wb') as f:
                while True:
                    chunk = resp.read(1 << 16)
                    if not chunk:
                        break
                    f.write(chunk)
        finally:
            conn.close()

    # ----------------------------------------------------------------
    # Volumes (driver API item 2)

    def _connector(self, connection_info):
        from os_brick.initiator import connector
        return connector.InitiatorConnector.factory(
            connection_info['driver_volume_type'], utils.get_root_helper(),
            use_multipath=False)

    @staticmethod
    def _volume_id(connection_info):
        vid = connection_info.get('serial') or (
            connection_info.get('data') or {}).get('volume_id')
        if vid and _VOLUME_ID_RE.match(vid):
            return vid
        # No Cinder id given: a name of the daemon's rules derived from
        # the connection, the same at attach and detach.
        digest = hashlib.sha256(json.dumps(
            connection_info.get('data') or {}, sort_keys=True,
            default=str).encode()).hexdigest()
        return 'nova-vol-%s' % digest[:32]

    def attach_volume(self, context, connection_info, instance, mountpoint,
                      disk_bus=None, device_type=None, encryption=None):
        if encryption:
            raise exception.VolumeEncryptionNotSupported(
                volume_type='nova-lxc', volume_id=self._volume_id(
                    connection_info))
        self._server_or_raise(instance)
        device = self._connector(connection_info).connect_volume(
            connection_info['data'])
        vid = self._volume_id(connection_info)
        made = False
        try:
            try:
                # os-volumes is Nova's proxy: gone from 2.36.
                self._call('POST', '/v2.1/os-volumes',
                           {'volume': {'display_name': vid,
                                       'block_device': device['path']}},
                           version='2.35')
                made = True
            except nlx_client.ApiError as e:
                if e.status != 409:
                    raise exception.VolumeAttachFailed(
                        volume_id=vid, reason=e.message)
            attachment = {'volumeId': vid}
            if mountpoint and _DEVICE_RE.match(mountpoint):
                attachment['device'] = mountpoint
            try:
                self._call('POST', '/v2.1/servers/%s/os-volume_attachments'
                           % instance.uuid, {'volumeAttachment': attachment})
            except nlx_client.ApiError as e:
                raise exception.VolumeAttachFailed(volume_id=vid,
                                                   reason=e.message)
        except Exception:
            if made:
                self._forget_volume(connection_info, disconnect=False)
            self._connector(connection_info).disconnect_volume(
                connection_info['data'], device)
            raise

    def detach_volume(self, context, connection_info, instance, mountpoint,
                      encryption=None):
        vid = self._volume_id(connection_info)
        try:
            self._call('DELETE', '/v2.1/servers/%s/os-volume_attachments/%s'
                       % (instance.uuid, vid))
        except nlx_client.ApiError as e:
            if e.status != 404:
                raise exception.NovaException(e.message)
        self._forget_volume(connection_info)

    def _forget_volume(self, connection_info, disconnect=True):
        vid = self._volume_id(connection_info)
        try:
            self._call('DELETE', '/v2.1/os-volumes/%s' % vid, version='2.35')
        except nlx_client.ApiError as e:
            if e.status != 404:
                raise exception.NovaException(e.message)
        if disconnect:
            self._connector(connection_info).disconnect_volume(
                connection_info['data'], None)

    def get_volume_connector(self, instance):
        from os_brick.initiator import connector
        return connector.get_connector_properties(
            utils.get_root_helper(), CONF.my_block_storage_ip,
            False, False, host=CONF.host)

    # ----------------------------------------------------------------
    # Events (driver API item 5)

    def _start_events(self):
        if self._events_thread is None:
            self._events_stop = False
            self._events_thread = eventlet.spawn(self._events_loop)

    def _events_loop(self):
        # A stream that ends is reconnected (at once if it had lasted: the
        # daemon may only have dropped a slow reader); a reconnect that
        # fails means the daemon is gone: the service is disabled
        # (_daemon_lost) until a stream is open again (_daemon_back).  The
        # retries back off to 10 s: connecting to a Unix socket costs
        # nothing, and Nova should see the daemon back soon after it is.
        backoff = 0
        while not self._events_stop:
            opened = time.monotonic()
            try:
                self._read_events()
                # A stream that lasted is reopened at once; one that ended
                # soon after it opened backs off as an error does (no busy
                # loop on a daemon that closes every stream).
                if time.monotonic() - opened > 10:
                    backoff = 0
                    continue
                LOG.warning('the events stream of nova-lxc-compute ended; '
                            'reconnecting in %d s', max(backoff, 1))
            except nlx_client.DaemonUnavailable as e:
                LOG.warning('%s; asking again in %d s', e, max(backoff, 1))
                self._daemon_lost(e)
            except nlx_client.ApiError as e:
                LOG.warning('nova-lxc-compute gives no events (%s); asking '
                            'again in %d s', e.message, max(backoff, 1))
            except Exception as e:
                LOG.warning('the events stream of nova-lxc-compute ended '
                            '(%s); reconnecting in %d s', e, max(backoff, 1))
            backoff = min(max(backoff * 2, 1), 10)
            eventlet.sleep(backoff)

    def _read_events(self):
        # No read timeout: the stream is quiet while nothing changes.
        client = nlx_client.Client(CONF.novalxc.socket, None)
        conn, resp = client.stream('GET', '/v2.1/os-nova-lxc-events')
        try:
            # Open: the daemon answers again.  What changed while no
            # stream was open is told before what the stream brings.
            self._daemon_back()
            while not self._events_stop:
                line = resp.readline()
                if not line:
                    return
                try:
                    ev = json.loads(line)
                except ValueError:
                    continue
                transition = _EVENTS.get(ev.get('event'))
                if transition is None or not ev.get('uuid'):
                    continue
                self.emit_event(virtevent.LifecycleEvent(ev['uuid'],
                                                         transition))
        finally:
            conn.close()

    # ----------------------------------------------------------------
    # The daemon lost and back: what Nova's libvirt driver does when its
    # libvirt connection is lost (_handle_conn_event, _set_host_enabled)

    def _daemon_lost(self, error):
        # As libvirt's "Connection to libvirt lost", naming the daemon and
        # where nova-compute looked for it.
        reason = (_('Connection to nova-lxc-compute lost: no answer on '
                    '%(socket)s (%(err)s)')
                  % {'socket': error.socket_path, 'err': error.reason})
        self._set_host_enabled(False, reason)

    def _daemon_back(self):
        self._set_host_enabled(True)
        try:
            self._emit_changed_power_states()
        except Exception:
            LOG.warning('could not compare the power states of '
                        'nova-lxc-compute\'s servers with Nova\'s after '
                        'reconnecting; the periodic power state sync '
                        'will', exc_info=True)

    def _emit_changed_power_states(self):
        """A lifecycle event for each server whose power state the daemon
        and Nova's database disagree on (it changed while no events
        stream was open: the daemon was down, or between two streams).

        Both sides are asked now; nothing is remembered here.  Nova's
        handler (_sync_instance_power_state) checks the host and the task
        state as for any event.
        """
        _, _, doc = self._client.request('GET', '/v2.1/servers/detail'
                                         '?all_tenants=1')
        daemon = {s['id']: s.get('OS-EXT-STS:power_state')
                  for s in doc.get('servers') or []}
        if not daemon:
            return
        ctx = nova_context.get_admin_context()
        instances = objects.InstanceList.get_by_filters(
            ctx, {'uuid': list(daemon), 'deleted': False},
            expected_attrs=[])
        for instance in instances:
            state = daemon.get(instance.uuid)
            if state is None or state == instance.power_state:
                continue
            transition = _STATE_EVENTS.get(state)
            if transition == virtevent.EVENT_LIFECYCLE_STARTED and (
                    instance.power_state == power_state.PAUSED):
                transition = virtevent.EVENT_LIFECYCLE_RESUMED
            if transition is None:
                continue
            LOG.info('instance %(uuid)s is %(state)s on nova-lxc-compute '
                     'and %(nova)s to Nova: emitting %(event)s',
                     {'uuid': instance.uuid,
                      'state': power_state.STATE_MAP.get(state, state),
                      'nova': power_state.STATE_MAP.get(
                          instance.power_state, instance.power_state),
                      'event': virtevent.NAMES.get(transition,
                                                   transition)})
            self.emit_event(virtevent.LifecycleEvent(instance.uuid,
                                                     transition))

    def _set_host_enabled(self, enabled, disable_reason=None):
        """Enable or disable this host's compute service, as Nova's libvirt
        driver does on losing and regaining its connection.

        A disabled service shows its servers' host_status as MAINTENANCE
        and the scheduler sends it nothing.  The driver only enables a
        service it disabled itself (reason starting with DISABLE_PREFIX):
        an operator's disable stays.
        """
        disable = not enabled
        ctx = nova_context.get_admin_context()
        try:
            service = objects.Service.get_by_compute_host(ctx, CONF.host)
            if service.disabled == disable:
                return
            if service.disabled and not (
                    service.disabled_reason and
                    service.disabled_reason.startswith(DISABLE_PREFIX)):
                LOG.debug('Not overriding the operator\'s disabling of the '
                          'compute service')
                return
            service.disabled = disable
            service.disabled_reason = (
                (DISABLE_PREFIX + disable_reason)[:_REASON_MAX]
                if disable and disable_reason else None)
            service.save()
            LOG.warning('compute service %(state)s: %(reason)s',
                        {'state': 'disabled' if disable else 'enabled',
                         'reason': service.disabled_reason or
                         _('nova-lxc-compute answers again')})
            self._update_compute_provider_status(ctx, service)
        except exception.ComputeHostNotFound:
            LOG.warning('Cannot update service status on host "%s" '
                        'since it is not registered.', CONF.host)
        except Exception:
            LOG.warning('Cannot update service status on host "%s" '
                        'due to an unexpected exception.', CONF.host,
                        exc_info=True)

    def _update_compute_provider_status(self, ctx, service):
        # The COMPUTE_STATUS_DISABLED trait in placement; best effort, as
        # in Nova's libvirt driver (the periodic task syncs it anyway).
        rp_uuid = None
        try:
            rp_uuid = service.compute_node.uuid
            self.virtapi.update_compute_provider_status(
                ctx, rp_uuid, enabled=not service.disabled)
        except Exception:
            LOG.warning('An error occurred while updating compute node '
                        'resource provider status to "%s" for provider: %s',
                        'disabled' if service.disabled else 'enabled',
                        rp_uuid or service.host, exc_info=True)
