"""Finding and loading drivers by their user-visible names (stevedore).

A driver is addressed as (kind, name), e.g. (hypervisors, "kvm"), the name
being the value operators put in the config. Listing reads entry-point
metadata only; loading imports exactly the driver asked for. Every failure
is a :class:`~corral.api.errors.PluginError` whose message is one line that
names the distribution to install, fix or remove.
"""

from __future__ import annotations

import importlib.metadata
import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any
from typing import cast

from stevedore import DriverManager
from stevedore.exception import MultipleMatches
from stevedore.exception import NoMatches

from corral.api.driver import API_VERSION
from corral.api.driver import Driver
from corral.api.errors import PluginError
from corral.plugins.kinds import DriverKind

if TYPE_CHECKING:
    from collections.abc import Iterable
    from collections.abc import Mapping

    from corral.api.context import DriverContext
    from corral.api.hypervisor import Hypervisor
    from corral.api.storage import DiskTemplate


@dataclass(frozen=True)
class PluginInfo:
    """One installed entry point, read from package metadata without importing it."""

    group: str
    name: str
    target: str
    distribution: str | None
    version: str | None

    @property
    def dist_label(self) -> str:
        if self.distribution is None:
            return "an unknown distribution"
        return f"{self.distribution} {self.version}" if self.version else self.distribution


def _info(ep: importlib.metadata.EntryPoint) -> PluginInfo:
    dist = ep.dist
    return PluginInfo(
        group=ep.group,
        name=ep.name,
        target=ep.value,
        distribution=dist.metadata["Name"] if dist is not None else None,
        version=dist.version if dist is not None else None,
    )


def installed(group: str) -> list[PluginInfo]:
    """Every entry point installed in ``group``, sorted by name."""
    eps = importlib.metadata.entry_points(group=group)
    return sorted((_info(ep) for ep in eps), key=lambda p: (p.name, p.distribution or ""))


def _raise_load_failure(kind: DriverKind) -> Any:
    def callback(manager: Any, ep: importlib.metadata.EntryPoint, err: BaseException) -> None:
        # stevedore rebuilds entry points from its cache without their distribution.
        info = next((p for p in installed(kind.group) if p.name == ep.name), _info(ep))
        fix = f"pip install --force-reinstall {info.distribution}" if info.distribution else ""
        raise PluginError(
            f"{kind.label} {ep.name!r} from {info.dist_label} failed to load"
            f" ({type(err).__name__}: {err}); reinstall it: {fix}".rstrip(": ")
        ) from err

    return callback


def load_driver_class(kind: DriverKind, name: str) -> type[Driver]:
    """Import driver ``name`` of ``kind`` and check it honours its contract."""
    matches = [p for p in installed(kind.group) if p.name == name]
    if len(matches) > 1:
        dists = ", ".join(p.dist_label for p in matches)
        raise PluginError(
            f"{kind.label} {name!r} is provided by several distributions ({dists}):"
            " uninstall all but one"
        )
    try:
        manager = DriverManager(
            kind.group,
            name,
            invoke_on_load=False,
            on_load_failure_callback=_raise_load_failure(kind),
            on_missing_entrypoints_callback=None,
        )
    except NoMatches:
        raise PluginError(
            f"{kind.label} {name!r} is not installed: pip install {kind.distribution(name)}"
        ) from None
    except MultipleMatches as err:  # raced with an install; same advice as above
        raise PluginError(f"{kind.label} {name!r}: {err}") from None
    cls: Any = manager.driver
    info = matches[0] if matches else None
    origin = info.dist_label if info else "an unknown distribution"
    _check_contract(kind, name, cls, origin)
    return cast("type[Driver]", cls)


def _check_contract(kind: DriverKind, name: str, cls: Any, origin: str) -> None:
    what = f"{kind.label} {name!r} from {origin}"
    if not (isinstance(cls, type) and issubclass(cls, kind.base)):
        raise PluginError(f"{what} is not a {kind.base.__name__} subclass")
    if cls.name != name:
        raise PluginError(
            f"{what} calls itself {cls.name!r}; its entry point and its name must agree"
        )
    if cls.API_VERSION > API_VERSION:
        raise PluginError(
            f"{what} needs plugin API {cls.API_VERSION}, this corral has {API_VERSION}:"
            " upgrade corral"
        )
    if inspect.isabstract(cls):
        missing = ", ".join(sorted(getattr(cls, "__abstractmethods__", ())))
        raise PluginError(f"{what} does not implement {missing}")


class DriverRegistry:
    """The drivers one process may use, loaded on first use and kept.

    ``enabled`` maps a kind to the names the cluster enables; a kind left
    out allows every installed driver (OS definitions and iallocators are
    chosen per operation, not enabled cluster-wide).
    """

    def __init__(
        self,
        ctx: DriverContext | None = None,
        enabled: Mapping[DriverKind, Iterable[str]] | None = None,
    ) -> None:
        self._ctx = ctx
        self._enabled = {kind: list(names) for kind, names in (enabled or {}).items()}
        self._classes: dict[tuple[DriverKind, str], type[Driver]] = {}
        self._drivers: dict[tuple[DriverKind, str], Driver] = {}

    def set_enabled(self, kind: DriverKind, names: Iterable[str] | None) -> None:
        """Change which drivers of ``kind`` may be used (the cluster's setting changed)."""
        if names is None:
            self._enabled.pop(kind, None)
        else:
            self._enabled[kind] = list(names)

    def enabled(self, kind: DriverKind) -> list[str] | None:
        """Names enabled for ``kind``, or ``None`` when any installed one may be used."""
        return self._enabled.get(kind)

    def driver_class(self, kind: DriverKind, name: str) -> type[Driver]:
        """The class of an enabled driver (imports it on first use)."""
        allowed = self._enabled.get(kind)
        if allowed is not None and name not in allowed:
            shown = ", ".join(allowed) or "none"
            raise PluginError(
                f"{kind.label} {name!r} is not enabled on this cluster (enabled: {shown})"
            )
        key = (kind, name)
        if key not in self._classes:
            self._classes[key] = load_driver_class(kind, name)
        return self._classes[key]

    def driver(self, kind: DriverKind, name: str) -> Driver:
        """The driver object for this node (built with the registry's context)."""
        key = (kind, name)
        if key not in self._drivers:
            if self._ctx is None:
                raise PluginError("this registry has no node context: it cannot build drivers")
            self._drivers[key] = self.driver_class(kind, name)(self._ctx)
        return self._drivers[key]

    def hypervisor(self, name: str) -> Hypervisor:
        """The hypervisor driver ``name`` (its class was checked to be a Hypervisor)."""
        return cast("Hypervisor", self.driver(DriverKind.HYPERVISOR, name))

    def disk_template(self, name: str) -> DiskTemplate:
        """The storage driver for disk template ``name``."""
        return cast("DiskTemplate", self.driver(DriverKind.STORAGE, name))

    def load_enabled(self) -> None:
        """Import every enabled driver now, reporting all failures together.

        Daemons call this at start-up: an enabled driver that cannot load
        must stop the daemon with a clear message, not fail the first job.
        """
        problems = []
        for kind, names in self._enabled.items():
            for name in names:
                try:
                    self.driver_class(kind, name)
                except PluginError as err:
                    problems.append(str(err))
        if problems:
            raise PluginError("\n".join(problems))
