"""corral-noded: the node daemon."""
