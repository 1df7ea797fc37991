"""The ``file`` disk template for corral: instance disks as files on the primary node."""

__version__ = "0.1.0"
