"""The ``image`` OS definition for corral: installs an instance by writing a disk image.

``gnt-instance add -o image -O image=/srv/images/debian-12.qcow2 ...`` writes
the image (raw or qcow2; a path on the node or a file://, http:// or
https:// URL) onto the instance's first disk, reporting progress.
"""

__version__ = "0.1.0"
