"""Hooks about the cluster configuration."""

from __future__ import annotations

from typing import TYPE_CHECKING

from corral.hookspecs import hookspec

if TYPE_CHECKING:
    from corral.config.objects import ConfigData


@hookspec(historic=True)
def corral_configure(config: ConfigData) -> None:
    """The daemon has loaded (or reloaded) the cluster configuration.

    Called on every daemon that reads the config, after it validated it, and
    again on each reload (historic: late registrations get the latest
    call). Use it to read cluster-level settings. Must not block; return
    value ignored.
    """


@hookspec
def corral_config_validate(config: ConfigData) -> list[str] | None:
    """Check a configuration that is about to be accepted.

    Called on the master before a config is written, and by
    ``gnt-cluster verify-config``. Return a list of problems (each a short
    sentence naming the object), or ``None``/``[]`` when satisfied. Every
    implementation's problems are collected and shown together; any problem
    makes the config invalid. Must be synchronous and quick.
    """
