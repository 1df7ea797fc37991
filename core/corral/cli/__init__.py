"""The ``gnt-*`` command-line tools."""
