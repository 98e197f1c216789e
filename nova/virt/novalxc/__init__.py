# nova-lxc as an out-of-tree Nova virt driver: nova.conf
# `compute_driver = novalxc.NovaLxcDriver`.  Nova (since Newton) imports
# only `nova.virt.<name>`, which is why this package lives under
# nova/virt/ (as compute-hyperv and nova-lxd did).
from nova.virt.novalxc import driver

NovaLxcDriver = driver.NovaLxcDriver

__all__ = ['NovaLxcDriver']
