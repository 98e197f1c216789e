"""The adapter's own checks of what Nova's driver suite never calls.

_VirtDriverTestCase tests emit_event with events it makes itself, never
calls update_provider_tree, and throws a snapshot's data away.  These
run on the same glue, daemon and container image as the suite
(tests/nova/run), and are counted apart from it by classify.py.
"""

import io
import tarfile
import time

import eventlet
import os_resource_classes as orc

from nova.compute import manager
from nova.compute import provider_tree
from nova import conf
from nova import test
from nova.tests.unit import utils as test_utils
from nova.virt import event as virtevent

import test_novalxc_driver as glue
from test_novalxc_driver import test_virt_drivers

CONF = conf.CONF


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


def load_tests(loader, standard_tests, pattern):
    # Only this class's own tests: the suite's inherited ones run (and are
    # counted) in test_novalxc_driver.
    suite = loader.suiteClass()
    for name in loader.getTestCaseNames(NovaLxcAdapterTestCase):
        if name.startswith('test_adapter_'):
            suite.addTest(NovaLxcAdapterTestCase(name))
    return suite
