"""Plugin loading policy: stevedore finds drivers, pluggy calls hooks."""
