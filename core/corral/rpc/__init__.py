"""Node RPC: JSON over HTTPS with mutual TLS, from the master to the node daemons."""
