"""The ``noop`` OS definition for corral: an OS API 20 folder whose scripts install nothing.

Use it for instances whose disks are filled some other way (a network
boot, an image written by hand, a test): ``gnt-instance add -o noop``.
"""

__version__ = "0.1.0"
