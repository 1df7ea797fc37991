"""The ``sharedfile`` disk template for corral: disk files on storage every node mounts."""

__version__ = "0.1.0"
