"""corral: a cluster virtualization manager in the spirit of Ganeti.

Plugins import only from :mod:`corral.api`; every other module is private
to the core and may change without notice.
"""

__version__ = "0.1.0"
