"""LUXI: the master daemon's local JSON protocol over a UNIX socket (Ganeti's wire format)."""
