"""The ``diskless`` disk template for corral: instances that have no disks at all."""

__version__ = "0.1.0"
