"""An iallocator plugin that runs an external IAllocator script (Ganeti's protocol)."""

__version__ = "0.1.0"
