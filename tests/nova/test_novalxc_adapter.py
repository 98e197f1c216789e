"""The adapter's own checks of what Nova's driver suite never calls.

_VirtDriverTestCase tests emit_event with events it makes itself, never
calls update_provider_tree, and throws a snapshot's data away.  These
run on the same glue, daemon and container image as the suite
(tests/nova/run), and are counted apart from it by classify.py.
"""

import io
import os
import signal
import subprocess
import tarfile
import time

import eventlet
import os_resource_classes as orc

from nova.compute import manager
from nova.compute import power_state
from nova import exception
from nova import objects
from nova.compute import provider_tree
from nova import conf
from nova import test
from nova.tests.unit import utils as test_utils
from nova.virt import event as virtevent

import test_novalxc_driver as glue
from test_novalxc_driver import test_virt_drivers

CONF = conf.CONF

# The daemons these checks started (a daemon they killed is replaced):
# kept, so that Python does not warn about a child still running at exit;
# tests/nova/run stops the last one through its pid file.
_STARTED = []


def _alive(pid):
    try:
        with open('/proc/%d/status' % pid) as f:
            return not any(line.startswith('State:') and 'Z' in line
                           for line in f)
    except FileNotFoundError:
        return False


class NovaLxcAdapterTestCase(glue._Glue, test_virt_drivers._VirtDriverTestCase,
                             test.TestCase):

    def _wait_event(self, got, uuid, transition, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(e.get_instance_uuid() == uuid and
                   e.get_transition() == transition for e in got):
                return
            eventlet.sleep(0.2)
        self.fail('no %s event for %s within %d s; got %s'
                  % (transition, uuid, timeout,
                     [(e.get_instance_uuid(), e.get_transition())
                      for e in got]))

    def test_adapter_lifecycle_events_from_the_daemon(self):
        got = []
        self.connection.register_event_listener(got.append)
        self.connection.init_host('myhostname')
        instance, _ = self._get_running_instance()
        self._wait_event(got, instance.uuid, virtevent.EVENT_LIFECYCLE_STARTED)
        self.connection.pause(instance)
        self._wait_event(got, instance.uuid, virtevent.EVENT_LIFECYCLE_PAUSED)
        self.connection.unpause(instance)
        self._wait_event(got, instance.uuid,
                         virtevent.EVENT_LIFECYCLE_RESUMED)
        self.connection.power_off(instance)
        self._wait_event(got, instance.uuid, virtevent.EVENT_LIFECYCLE_STOPPED)

    def test_adapter_loaded_by_compute_manager(self):
        # nova.conf's compute_driver = novalxc.NovaLxcDriver, loaded as
        # nova-compute loads it (nova.virt.<name>).
        self.flags(compute_driver='novalxc.NovaLxcDriver')
        cm = manager.ComputeManager()
        self.assertEqual('NovaLxcDriver', type(cm.driver).__name__)

    def test_adapter_update_provider_tree(self):
        self.flags(cpu_allocation_ratio=3.0, ram_allocation_ratio=1.5,
                   disk_allocation_ratio=2.0, reserved_host_cpus=1,
                   reserved_host_memory_mb=256, reserved_host_disk_mb=1500)
        node = self.connection.get_available_nodes()[0]
        tree = provider_tree.ProviderTree()
        tree.new_root(node, 'fake-uuid')
        self.connection.update_provider_tree(tree, node)
        inv = tree.data(node).inventory
        res = self.connection.get_available_resource(node)
        self.assertEqual(res['vcpus'], inv[orc.VCPU]['total'])
        self.assertEqual(3.0, inv[orc.VCPU]['allocation_ratio'])
        self.assertEqual(1, inv[orc.VCPU]['reserved'])
        self.assertEqual(res['memory_mb'], inv[orc.MEMORY_MB]['total'])
        self.assertEqual(1.5, inv[orc.MEMORY_MB]['allocation_ratio'])
        self.assertEqual(256, inv[orc.MEMORY_MB]['reserved'])
        self.assertEqual(res['local_gb'], inv[orc.DISK_GB]['total'])
        self.assertEqual(2.0, inv[orc.DISK_GB]['allocation_ratio'])
        self.assertEqual(2, inv[orc.DISK_GB]['reserved'])

    def test_adapter_snapshot_boots(self):
        # The snapshot uploaded to Glance is a root the daemon imports
        # back: a second instance boots from it.
        # The Glance fixture's update drops the data it is given: keep
        # it, as Glance would.
        fixture_update = self.image_service.update

        def update(context, image_id, metadata, data=None, **kwargs):
            if data is not None:
                self.image_service._imagedata[image_id] = data.read()
            return fixture_update(context, image_id, metadata, **kwargs)
        self.image_service.update = update

        instance, network_info = self._get_running_instance()
        snap = self.image_service.create(self.ctxt, {'name': 'snap-1'})
        states = []
        self.connection.snapshot(self.ctxt, instance, snap['id'],
                                 lambda **kw: states.append(kw['task_state']))
        self.assertEqual(['image_pending_upload', 'image_uploading'], states)
        data = self.image_service._imagedata[snap['id']]
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            names = tar.getnames()
        self.assertTrue(any(n.lstrip('./') == 'bin/busybox' for n in names),
                        names[:20])
        self.connection.destroy(self.ctxt, instance, network_info)
        second = test_utils.get_test_instance(obj=True)
        second.image_ref = snap['id']
        second.save()
        image_meta = test_utils.get_test_image_object(None, second)
        self.connection.spawn(self.ctxt, second, image_meta, [], None, {},
                              network_info=network_info)
        self.assertEqual(1, self.connection.get_info(second).state)

    def test_adapter_passes_the_instance_key(self):
        # Nova's instance's key (copied from a key pair of Nova's) reaches
        # the daemon, which keeps it for the metadata service and config
        # drive (tests/test-api-driver.c checks what they show).
        key = ('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEOhR3s2cPaL1vcn6LMdlHk'
               'jYQk/O4Zpd6TzNR0Sj0w/ alice@example')
        instance = test_utils.get_test_instance(obj=True)
        instance.key_name = 'nova-key'
        instance.key_data = key
        instance.save()
        network_info = test_utils.get_test_network_info()
        image_meta = test_utils.get_test_image_object(None, instance)
        self.connection.spawn(self.ctxt, instance, image_meta, [], None, {},
                              network_info=network_info)
        client = glue.nlx_client.Client(glue._env('NLX_NOVA_SOCKET'), 60)
        _, _, doc = client.request('GET', '/v2.1/servers/%s' % instance.uuid)
        self.assertEqual('nova-key', doc['server']['key_name'])

    # ---- the daemon lost and back (Nova's libvirt driver's
    # _set_host_enabled on its connection's events)

    def _daemon_pid(self):
        with open(glue._env('NLX_NOVA_DAEMON_PID')) as f:
            return int(f.read().strip())

    def _kill_daemon(self):
        pid = self._daemon_pid()
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while _alive(pid):
            if time.monotonic() > deadline:
                self.fail('the daemon (pid %d) outlived SIGKILL' % pid)
            time.sleep(0.1)
        for p in _STARTED:
            p.poll()

    def _start_daemon(self):
        if _alive(self._daemon_pid()):
            return
        with open(glue._env('NLX_NOVA_DAEMON_LOG'), 'ab') as log:
            p = subprocess.Popen([glue._env('NLX_NOVA_DAEMON'), '--config',
                                  glue._env('NLX_NOVA_CONFIG')],
                                 stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=log)
        _STARTED.append(p)
        with open(glue._env('NLX_NOVA_DAEMON_PID'), 'w') as f:
            f.write('%d\n' % p.pid)
        client = glue.nlx_client.Client(glue._env('NLX_NOVA_SOCKET'), 10)
        deadline = time.monotonic() + 60
        while True:
            try:
                client.request('GET', '/v2.1')
                return
            except glue.nlx_client.DaemonUnavailable:
                if p.poll() is not None or time.monotonic() > deadline:
                    self.fail('the daemon did not start again (see %s)'
                              % glue._env('NLX_NOVA_DAEMON_LOG'))
                time.sleep(0.1)

    def _service(self, **kwargs):
        service = objects.Service(self.ctxt, host=CONF.host,
                                  binary='nova-compute', topic='compute',
                                  **kwargs)
        service.create()
        return service

    def _wait_service(self, disabled, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            service = objects.Service.get_by_compute_host(self.ctxt,
                                                          CONF.host)
            if service.disabled == disabled:
                return service
            if time.monotonic() > deadline:
                self.fail('the compute service is still %s after %d s '
                          '(reason %r)'
                          % ('disabled' if service.disabled else 'enabled',
                             timeout, service.disabled_reason))
            eventlet.sleep(0.2)

    def test_adapter_daemon_lost_disables_the_service(self):
        self._service()
        got = []
        self.connection.register_event_listener(got.append)
        self.connection.init_host('myhostname')
        instance, _ = self._get_running_instance()
        # What Nova's manager records after the spawn.
        instance.power_state = power_state.RUNNING
        instance.save()
        self.addCleanup(self._start_daemon)
        self._kill_daemon()
        service = self._wait_service(disabled=True)
        self.assertEqual('AUTO: Connection to nova-lxc-compute lost: no '
                         'answer on %s' % glue._env('NLX_NOVA_SOCKET'),
                         service.disabled_reason.split(' (')[0])
        # A call while the daemon is away says so too.
        self.assertRaises(exception.HypervisorUnavailable,
                          self.connection.get_info, instance)
        # The server stops while nothing tells Nova: its domain is
        # destroyed behind the daemon's back (the daemon takes the
        # hypervisor's state when it starts again).
        subprocess.run(['virsh', '-q', '-c', 'lxc:///', 'destroy',
                        instance.uuid], check=True,
                       stdout=subprocess.DEVNULL)
        del got[:]
        self._start_daemon()
        service = self._wait_service(disabled=False)
        self.assertIsNone(service.disabled_reason)
        self._wait_event(got, instance.uuid,
                         virtevent.EVENT_LIFECYCLE_STOPPED)
        self.assertEqual(power_state.SHUTDOWN,
                         self.connection.get_info(instance).state)

    def test_adapter_daemon_lost_keeps_the_operators_disable(self):
        reason = 'the operator: disk replacement'
        self._service(disabled=True, disabled_reason=reason)
        reconnects = []
        daemon_back = self.connection._daemon_back

        def counted():
            reconnects.append(time.monotonic())
            return daemon_back()
        self.connection._daemon_back = counted
        self.connection.init_host('myhostname')
        self.addCleanup(self._start_daemon)
        deadline = time.monotonic() + 30
        while not reconnects and time.monotonic() < deadline:
            eventlet.sleep(0.1)
        self.assertEqual(1, len(reconnects), 'the events stream never opened')
        self._kill_daemon()
        # The daemon is seen gone (by a call and by the stream) ...
        self.assertRaises(exception.HypervisorUnavailable,
                          self.connection.get_available_nodes)
        eventlet.sleep(3)
        # ... and back (a second stream opened) ...
        self._start_daemon()
        deadline = time.monotonic() + 60
        while len(reconnects) < 2 and time.monotonic() < deadline:
            eventlet.sleep(0.2)
        self.assertEqual(2, len(reconnects), 'the events stream never '
                         'opened again')
        # ... and through it all the operator's reason stays.
        service = objects.Service.get_by_compute_host(self.ctxt, CONF.host)
        self.assertTrue(service.disabled)
        self.assertEqual(reason, service.disabled_reason)


def load_tests(loader, standard_tests, pattern):
    # Only this class's own tests: the suite's inherited ones run (and are
    # counted) in test_novalxc_driver.
    suite = loader.suiteClass()
    for name in loader.getTestCaseNames(NovaLxcAdapterTestCase):
        if name.startswith('test_adapter_'):
            suite.addTest(NovaLxcAdapterTestCase(name))
    return suite
