"""Finding OS providers: the OS search path, then corral's OS distributions.

Ganeti looks for ``<dir>/<os name>`` in each directory of its search path
and uses the first it finds, valid or not, so a site folder in
``/srv/ganeti/os`` shadows a packaged one. corral keeps that order and puts
the providers that pip-installed distributions register in the
``corral.osdefs`` entry-point group after the directories: a site can
override a shipped OS by dropping a folder of the same name in the path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from corral.api.errors import PluginError
from corral.api.osdef import OSDefinition
from corral.osapi.provider import InvalidProvider
from corral.osapi.provider import OSProvider
from corral.osapi.provider import OSProviderError
from corral.osapi.provider import inspect_provider
from corral.osapi.provider import split_os_name
from corral.plugins.kinds import DriverKind
from corral.plugins.registry import installed

if TYPE_CHECKING:
    from collections.abc import Iterable

    from corral.plugins.registry import DriverRegistry

#: Ganeti's default ``os_search_path`` (``gnt-cluster init``): site first, packages last.
DEFAULT_OS_SEARCH_PATH: tuple[Path, ...] = (
    Path("/srv/ganeti/os"),
    Path("/usr/local/lib/ganeti/os"),
    Path("/usr/lib/ganeti/os"),
    Path("/usr/share/ganeti/os"),
)

Found = OSProvider | InvalidProvider


@dataclass(frozen=True)
class _Place:
    """One place an OS of a given name may be: a folder, or a distribution's error."""

    name: str
    path: Path | None
    source: str
    problem: str = ""

    def inspect(self) -> Found:
        if self.path is None:
            return InvalidProvider(self.name, Path(), self.problem, self.source)
        return inspect_provider(self.path, self.name, source=self.source)


class OSSearch:
    """The OS providers one node can use, in search order.

    ``search_path`` is the cluster's ``os_search_path`` (tests and
    vclusters pass their own directories). ``registry`` builds the
    ``corral.osdefs`` drivers, each of which points at its folder; without
    one, only the directories are searched. Nothing is cached: a provider
    installed or fixed on the node counts at the next call, as in Ganeti.
    """

    def __init__(
        self,
        search_path: Iterable[Path | str] = DEFAULT_OS_SEARCH_PATH,
        registry: DriverRegistry | None = None,
    ) -> None:
        self.search_path = tuple(Path(p) for p in search_path)
        self._registry = registry

    def _directory_places(self) -> list[_Place]:
        places = []
        for top in self.search_path:
            try:
                names = sorted(n for n in os.listdir(top) if not n.startswith("."))
            except FileNotFoundError:
                continue
            except OSError as err:  # unreadable: say so rather than hide its OSes
                places.append(_Place(top.name, None, str(top), f"cannot list {top}: {err}"))
                continue
            places.extend(_Place(name, top / name, str(top)) for name in names)
        return places

    def _distribution_places(self, only: str | None = None) -> list[_Place]:
        if self._registry is None:
            return []
        places = []
        entry_points = installed(DriverKind.OSDEF.group)
        for name in sorted({p.name for p in entry_points}):
            if only is not None and name != only:
                continue
            info = [p for p in entry_points if p.name == name]
            source = ", ".join(p.dist_label for p in info)
            try:
                driver = self._registry.driver(DriverKind.OSDEF, name)
                if not isinstance(driver, OSDefinition):
                    raise PluginError(f"OS definition {name!r} from {source} is no OSDefinition")
                places.append(_Place(name, Path(driver.path()), source))
            except (PluginError, OSError) as err:
                places.append(_Place(name, None, source, str(err)))
        return places

    def diagnose(self) -> list[Found]:
        """Every candidate in search order, shadowed ones included (``gnt-os diagnose``).

        The first entry of each name is the one :meth:`find` uses.
        """
        places = self._directory_places() + self._distribution_places()
        return [place.inspect() for place in places]

    def usable(self) -> dict[str, Found]:
        """Per OS name, the candidate :meth:`find` would use (``gnt-os list``)."""
        first: dict[str, Found] = {}
        for found in self.diagnose():
            first.setdefault(found.name, found)
        return first

    def find(self, os_name: str) -> OSProvider:
        """The provider of ``os_name`` (a variant, if given, is ignored here).

        The first folder of that name wins even if it is invalid, whose
        diagnosis is then the error: fix or remove it.
        """
        name, _ = split_os_name(os_name)
        for top in self.search_path:
            folder = top / name
            if folder.is_dir():
                return self._valid(inspect_provider(folder, name, source=str(top)))
        for place in self._distribution_places(only=name):
            return self._valid(place.inspect())
        where = ", ".join(str(p) for p in self.search_path) or "no directories"
        raise OSProviderError(
            f"Directory for OS {name} not found in search path ({where}) and no installed"
            f" distribution provides it: install its folder on this node or"
            f" pip install {DriverKind.OSDEF.distribution(name)}"
        )

    @staticmethod
    def _valid(found: Found) -> OSProvider:
        if isinstance(found, InvalidProvider):
            where = f" (from {found.source})" if found.source else ""
            raise OSProviderError(f"OS {found.name!r}{where} is not valid: {found.diagnosis}")
        return found
