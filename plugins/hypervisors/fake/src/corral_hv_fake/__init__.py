"""The ``fake`` hypervisor for corral: instances that exist only as state files.

It is the test double of the whole product (unit tests, the vcluster), so it
keeps the contract of a real hypervisor: state on disk per node, memory
limits, migration in Ganeti's order, and knobs to inject slowness and faults.
"""

__version__ = "0.1.0"
