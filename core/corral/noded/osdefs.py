"""The node daemon's OS procedures: diagnose, validate and install (Ganeti's OS API).

Providers are looked up afresh on every call (see :mod:`corral.osapi.search`):
a provider installed or fixed on a node counts at once. Installing attaches
the instance's disks, runs the OS's ``create`` (or ``rename``) script, and
detaches them again whatever happened.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

from twisted.internet import threads

from corral.api.errors import OpExecError
from corral.api.errors import OpPrereqError
from corral.noded.instances import InstanceProcedures
from corral.osapi import DEFAULT_OS_SEARCH_PATH
from corral.osapi import InvalidProvider
from corral.osapi import OSAction
from corral.osapi import OSDisk
from corral.osapi import OSInstance
from corral.osapi import OSNic
from corral.osapi import OSProviderError
from corral.osapi import OSSearch
from corral.osapi import run_os_script
from corral.osapi import run_os_verify
from corral.paths import log_dir
from corral.paths import root_dir

if TYPE_CHECKING:
    from corral.api.process import ProcessRunner

#: Longest an OS script may run (Ganeti gives create scripts no limit; a day is plenty).
OS_SCRIPT_TIMEOUT = 24 * 3600.0
#: Longest ``verify parameters`` may run.
OS_VERIFY_TIMEOUT = 60.0


def search_path() -> list[Any]:
    """Ganeti's OS search path, below this node's root directory."""
    return [root_dir() / str(p).lstrip("/") for p in DEFAULT_OS_SEARCH_PATH]


class OSProcedures(InstanceProcedures):
    """Mixed into :class:`~corral.noded.methods.NodeMethods` (with the instance procedures)."""

    _runner: ProcessRunner

    def _search(self) -> OSSearch:
        return OSSearch(search_path(), self._registry)

    async def rpc_os_diagnose(self) -> list[dict[str, Any]]:
        """Every OS provider this node has, valid or not (``gnt-os diagnose``)."""

        def gather() -> list[dict[str, Any]]:
            out = []
            for found in self._search().diagnose():
                if isinstance(found, InvalidProvider):
                    out.append(
                        {
                            "name": found.name,
                            "path": str(found.path),
                            "valid": False,
                            "diagnose": found.diagnosis,
                            "source": found.source,
                            "variants": [],
                            "parameters": [],
                            "api_versions": [],
                        }
                    )
                else:
                    out.append(
                        {
                            "name": found.name,
                            "path": str(found.path),
                            "valid": True,
                            "diagnose": "",
                            "source": found.source,
                            "variants": list(found.variants),
                            "parameters": [[p.name, p.description] for p in found.parameters],
                            "api_versions": list(found.api_versions),
                        }
                    )
            return out

        return await threads.deferToThread(gather)

    async def rpc_os_validate(
        self, os_name: str, osparams: dict[str, Any], force_variant: bool = False
    ) -> None:
        """Refuse an OS name (or its parameters) this node cannot install, saying why."""
        if not isinstance(os_name, str) or not isinstance(osparams, dict):
            raise OpPrereqError("os_validate: needs an OS name and a dict of OS parameters")
        try:
            provider = await threads.deferToThread(self._search().find, os_name)
            result = await run_os_verify(
                provider,
                os_name,
                osparams,
                self._runner,
                OS_VERIFY_TIMEOUT,
                force_variant=bool(force_variant),
            )
        except OSProviderError as err:
            raise OpPrereqError(str(err)) from None
        if not result.ok:
            tail = "\n".join(result.tail)
            raise OpPrereqError(f"OS {os_name} refused the parameters: {tail}")

    async def rpc_os_install(
        self,
        instance: dict[str, Any],
        reinstall: bool = False,
        debug: int = 0,
        old_name: str | None = None,
    ) -> str:
        """Run the OS create (or, with ``old_name``, rename) script; returns its log file."""
        _hv, template, spec, disks = self._open(instance)
        try:
            provider = await threads.deferToThread(self._search().find, spec.os)
        except OSProviderError as err:
            raise OpPrereqError(str(err)) from None
        attached = await self._attach_all(template, spec, disks)
        try:
            os_instance = OSInstance(
                name=spec.name,
                os=spec.os,
                hypervisor=str(instance["hypervisor"]),
                uuid=spec.uuid,
                primary_node=str(instance.get("primary_node", "")),
                secondary_nodes=list(instance.get("secondary_nodes", [])),
                hvparams=spec.hvparams,
                beparams=dict(instance.get("beparams", {})),
                osparams=dict(instance.get("osparams", {})),
                disks=[
                    OSDisk(
                        path=dev.path,
                        access=disk.mode,
                        uuid=disk.uuid,
                        size=disk.size,
                        name=disk.name,
                        template=str(instance["disk_template"]),
                    )
                    for dev, disk in zip(attached.disks, disks, strict=True)
                ],
                nics=[
                    OSNic(mac=n.mac, mode=n.mode, link=n.link, uuid=n.uuid, name=n.name, ip=n.ip)
                    for n in spec.nics
                ],
            )
            action = OSAction.RENAME if old_name else OSAction.CREATE
            result = await run_os_script(
                provider,
                action,
                os_instance,
                self._runner,
                log_dir() / "os",
                OS_SCRIPT_TIMEOUT,
                int(debug),
                reinstall=bool(reinstall),
                old_name=old_name,
            )
        finally:
            await self._detach_all(template, disks)
        if not result.ok:
            tail = "\n".join(result.tail)
            raise OpExecError(
                f"OS {action} script of {spec.os} for instance {spec.name} failed"
                f" ({result.status}); last lines of {result.log_path}:\n{tail}"
            )
        return str(result.log_path)
