"""Moving the cluster IP: up on the master, down on a node that stops being it.

A network plugin may do it (the ``corral_master_ip`` hook), else the
site's ``master-ip-setup`` script (Ganeti's interface), else plain
``ip address add|del``. Blocking: daemons call it from a thread.
"""

from __future__ import annotations

import ipaddress
import os
import subprocess
from typing import TYPE_CHECKING

from corral.api.errors import CorralError
from corral.paths import root_dir

if TYPE_CHECKING:
    from pathlib import Path

    import pluggy
    from twisted.logger import Logger


class MasterIPError(CorralError):
    """The cluster IP could not be brought up or down."""


def setup_script() -> Path:
    """The site's own script, Ganeti's ``master-ip-setup`` (used when it exists)."""
    return root_dir() / "etc/corral/master-ip-setup"


def change(action: str, ip: str, netmask: int, netdev: str, pm: pluggy.PluginManager) -> str:
    """Bring the IP up (``start``) or down (``stop``); returns how it was done."""
    if action not in ("start", "stop"):
        raise ValueError(f"master IP action must be start or stop, not {action!r}")
    if pm.hook.corral_master_ip(action=action, ip=ip, netmask=netmask, netdev=netdev):
        return "a network plugin"
    version = ipaddress.ip_address(ip).version
    script = setup_script()
    if script.exists():
        env = {
            **os.environ,
            "MASTER_IP": ip,
            "MASTER_NETMASK": str(netmask),
            "MASTER_NETDEV": netdev,
            "CLUSTER_IP_VERSION": str(version),
        }
        _run([str(script), action], env, f"{script} {action}")
        return str(script)
    verb = "add" if action == "start" else "del"
    command = ["ip", f"-{version}", "address", verb, f"{ip}/{netmask}", "dev", netdev]
    present = _present(ip, netdev)
    if (action == "start") == present:
        return "ip address (already so)"
    _run(command, None, " ".join(command))
    return "ip address"


def change_logged(
    action: str, ip: str, netmask: int, netdev: str, pm: pluggy.PluginManager, log: Logger
) -> None:
    """:func:`change`, for daemons: a failure is a logged warning, not an error.

    The daemon goes on either way (a cluster without a working cluster IP
    still serves through each node's own address); the log says why.
    """
    try:
        how = change(action, ip, netmask, netdev, pm)
    except (CorralError, OSError) as err:
        log.warn("cluster IP {ip} {action}: {err}", ip=ip, action=action, err=err)
    else:
        log.info("cluster IP {ip} {action} (by {how})", ip=ip, action=action, how=how)


def _present(ip: str, netdev: str) -> bool:
    out = subprocess.run(
        ["ip", "-o", "address", "show", "dev", netdev], capture_output=True, text=True, check=False
    )
    return any(word.split("/")[0] == ip for word in out.stdout.split())


def _run(command: list[str], env: dict[str, str] | None, label: str) -> None:
    try:
        proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise MasterIPError(f"{label} failed: {err}") from None
    if proc.returncode != 0:
        output = (proc.stderr or proc.stdout).strip()
        raise MasterIPError(f"{label} exited {proc.returncode}: {output}")
