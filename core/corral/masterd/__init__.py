"""corral-masterd: the master daemon (LUXI server, job queue, locks, logical units)."""
