"""One OS provider folder, loaded and checked the way Ganeti's node daemon does.

A provider (``ganeti-os-interface(7)``) is a directory named after the OS
holding ``ganeti_api_version``, the ``create``/``import``/``export``/
``rename`` scripts, for API 20 also ``verify`` and ``parameters.list``, and
optionally ``variants.list``. The rules below are Ganeti 3.0's as its node
daemon applies them, which are looser than the man page's "eight required
files": ``variants.list`` may be missing (Debian's noop ships none), and a
provider declaring only API 10 needs neither ``verify`` nor
``parameters.list``.

An invalid provider is not an exception while listing: :func:`inspect_provider`
returns an :class:`InvalidProvider` whose ``diagnosis`` reads like
``gnt-os diagnose`` and says what to fix. :func:`load_provider` is the same
check for callers that want an error instead (instance create, rename...).
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from dataclasses import field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from corral.api.errors import CorralError

if TYPE_CHECKING:
    from collections.abc import Iterable
    from collections.abc import Mapping

#: OS API versions this node speaks (Ganeti 2.3 and later: 10, 15 and 20).
SUPPORTED_API_VERSIONS = frozenset({10, 15, 20})
#: Separates an OS name from its variant: ``debootstrap+bookworm``.
VARIANT_DELIM = "+"

API_FILE = "ganeti_api_version"
VARIANTS_FILE = "variants.list"
PARAMETERS_FILE = "parameters.list"
#: Ganeti 2.16+: a create script run inside a helper VM (untrusted OS definitions).
CREATE_UNTRUSTED = "create_untrusted"


class OSAction(StrEnum):
    """A script of the OS API; the value is the script's file name."""

    CREATE = "create"
    IMPORT = "import"
    EXPORT = "export"
    RENAME = "rename"
    VERIFY = "verify"


class OSProviderError(CorralError):
    """An OS provider is missing or invalid, or an OS name does not fit it."""


@dataclass(frozen=True)
class OSParameter:
    """One line of ``parameters.list``: a name and its free-text description."""

    name: str
    description: str


@dataclass(frozen=True)
class OSProvider:
    """A valid OS provider: what ``gnt-os info`` shows and where its scripts are.

    ``api_versions`` is the file's content in its order; ``api_version`` is
    the one scripts get (the highest this node also supports). ``scripts``
    holds only the scripts that exist (``create`` may be missing when the
    provider ships ``create_untrusted`` only). ``source`` says where the
    provider was found (a search-path directory or a distribution).
    """

    name: str
    path: Path
    api_versions: tuple[int, ...]
    variants: tuple[str, ...] = ()
    parameters: tuple[OSParameter, ...] = ()
    scripts: Mapping[str, Path] = field(default_factory=dict)
    source: str = ""

    @property
    def api_version(self) -> int:
        return max(SUPPORTED_API_VERSIONS.intersection(self.api_versions))

    @property
    def trusted(self) -> bool:
        """False for a provider with a ``create_untrusted`` script (Ganeti's helper-VM OSes)."""
        return CREATE_UNTRUSTED not in self.scripts

    @property
    def parameter_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters)

    def script(self, action: OSAction) -> Path:
        """The script to run for ``action``; an error if this provider has none."""
        found = self.scripts.get(action.value)
        if found is not None:
            return found
        if action is OSAction.VERIFY:
            raise OSProviderError(
                f"OS {self.name!r} speaks OS API {self.api_version}, which has no verify"
                " script: there is nothing to verify"
            )
        raise OSProviderError(
            f"OS {self.name!r} at {self.path} has no {action.value!r} script"
            " (it ships create_untrusted only, which needs a helper VM corral does not"
            f" provide): add a trusted {action.value!r} script"
        )

    def variant_for(self, os_name: str) -> str:
        """The variant scripts get in ``OS_VARIANT`` for instance OS ``os_name``.

        As Ganeti: empty below API 15 or without ``variants.list``, otherwise
        the variant named, or the first listed when none is named. Use
        :meth:`check_os_name` first to refuse bad names.
        """
        if self.api_version < 15 or not self.variants:
            return ""
        return split_os_name(os_name)[1] or self.variants[0]

    def check_os_name(self, os_name: str, *, force_variant: bool = False) -> None:
        """Refuse an instance OS name this provider does not accept (Ganeti's rules).

        With variants declared, the name must carry one of them
        (``debootstrap+default``); without, it must carry none.
        ``force_variant`` (``gnt-instance add --force-variant``) skips the
        variant check, not the name check.
        """
        name, variant = split_os_name(os_name)
        if name != self.name:
            raise OSProviderError(f"OS name {os_name!r} does not name OS {self.name!r}")
        if force_variant:
            return
        if not self.variants:
            if variant:
                raise OSProviderError(
                    f"OS '{self.name}' does not support variants ('{variant}' passed):"
                    f" use plain '{self.name}'"
                )
            return
        choices = ", ".join(f"{self.name}{VARIANT_DELIM}{v}" for v in self.variants)
        if not variant:
            raise OSProviderError(f"OS name '{os_name}' must include a variant: one of {choices}")
        if variant not in self.variants:
            raise OSProviderError(
                f"OS '{self.name}' does not support variant '{variant}': use one of {choices}"
            )

    def check_parameters(self, names: Iterable[str]) -> None:
        """Refuse OS parameters that ``parameters.list`` does not declare."""
        unknown = sorted(set(names).difference(self.parameter_names))
        if unknown:
            known = ", ".join(self.parameter_names) or "none"
            raise OSProviderError(
                f"The following parameters are not supported by the OS {self.name}:"
                f" {', '.join(unknown)} (it supports: {known})"
            )


@dataclass(frozen=True)
class InvalidProvider:
    """A folder that is not a usable OS provider, and why (``gnt-os diagnose``)."""

    name: str
    path: Path
    diagnosis: str
    source: str = ""


def split_os_name(os_name: str) -> tuple[str, str]:
    """``"debootstrap+default"`` -> ``("debootstrap", "default")``; no variant -> ``""``."""
    name, _, variant = os_name.partition(VARIANT_DELIM)
    return name, variant


def _errno_name(err: OSError) -> str:
    return errno.errorcode.get(err.errno, str(err)) if err.errno else str(err)


class _Invalid(Exception):
    """Internal: carries a diagnosis out of the checks."""


def _read_api_versions(path: Path) -> tuple[int, ...]:
    api_file = path / API_FILE
    try:
        st = os.stat(api_file)
    except OSError as err:
        raise _Invalid(
            f"Required file '{API_FILE}' not found under path {path}: {_errno_name(err)};"
            " it lists the OS API versions the scripts follow, one per line (e.g. 20)"
        ) from None
    if not stat.S_ISREG(st.st_mode):
        raise _Invalid(f"File '{API_FILE}' in {path} is not a regular file")
    try:
        lines = api_file.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise _Invalid(f"Error while reading the API version file at {api_file}: {err}") from None
    try:
        versions = tuple(int(line.strip()) for line in lines)
    except ValueError as err:
        raise _Invalid(
            f"API version(s) can't be converted to integer: {err} (in {api_file}:"
            " write one number per line, e.g. 20)"
        ) from None
    if not SUPPORTED_API_VERSIONS.intersection(versions):
        want = ", ".join(str(v) for v in sorted(SUPPORTED_API_VERSIONS))
        found = ", ".join(str(v) for v in versions) or "none"
        raise _Invalid(f"API version mismatch for path '{path}': found {found}, want one of {want}")
    return versions


def _required_files(api_versions: tuple[int, ...]) -> dict[str, bool]:
    """File name -> required, for a provider declaring ``api_versions``."""
    top = max(api_versions)
    files = {
        OSAction.CREATE.value: False,  # create or create_untrusted: checked afterwards
        CREATE_UNTRUSTED: False,
        OSAction.EXPORT.value: True,
        OSAction.IMPORT.value: True,
        OSAction.RENAME.value: True,
    }
    if top >= 15:
        files[VARIANTS_FILE] = False
    if top >= 20:
        files[OSAction.VERIFY.value] = True
        files[PARAMETERS_FILE] = True
    return files


_SCRIPTS = frozenset({*(a.value for a in OSAction), CREATE_UNTRUSTED})

_MISSING_HINT = {
    OSAction.VERIFY.value: "API 20 needs it (a script that exits 0 will do)",
    PARAMETERS_FILE: "API 20 needs it (an empty file declares no parameters)",
}


def _check_files(path: Path, api_versions: tuple[int, ...]) -> dict[str, Path]:
    present: dict[str, Path] = {}
    for filename, required in _required_files(api_versions).items():
        full = path / filename
        try:
            st = os.stat(full)
        except OSError as err:
            if err.errno == errno.ENOENT and not required:
                continue
            hint = _MISSING_HINT.get(filename, "every OS API version needs it")
            raise _Invalid(
                f"File '{filename}' under path '{path}' is missing ({_errno_name(err)}); {hint}"
            ) from None
        if not stat.S_ISREG(st.st_mode):
            raise _Invalid(f"File '{filename}' under path '{path}' is not a regular file")
        if filename in _SCRIPTS and not st.st_mode & stat.S_IXUSR:
            raise _Invalid(
                f"File '{filename}' under path '{path}' is not executable: chmod u+x {full}"
            )
        present[filename] = full
    if OSAction.CREATE.value not in present and CREATE_UNTRUSTED not in present:
        raise _Invalid(f"A create script (trusted or untrusted) under path '{path}' must exist")
    return present


def _read_variants(file: Path) -> tuple[str, ...]:
    try:
        text = file.read_text()
    except FileNotFoundError:  # a dangling symlink, as Ganeti: no variants
        return ()
    except (OSError, UnicodeDecodeError) as err:
        raise _Invalid(f"Error while reading the OS variants file at {file}: {err}") from None
    lines = (line.strip() for line in text.splitlines())
    return tuple(line for line in lines if line and not line.startswith("#"))


def _read_parameters(file: Path) -> tuple[OSParameter, ...]:
    try:
        text = file.read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise _Invalid(f"Error while reading the OS parameters file at {file}: {err}") from None
    params = []
    for number, line in enumerate(text.splitlines(), 1):
        parts = line.split(None, 1)
        if not parts or parts[0].startswith("#"):
            continue
        name = parts[0]
        if "=" in name:
            raise _Invalid(
                f"Parameter {name!r} in {file} line {number} contains '=', which cannot"
                " be passed in the environment: rename it"
            )
        params.append(OSParameter(name, parts[1].strip() if len(parts) > 1 else ""))
    return tuple(params)


def _check(name: str, path: Path, source: str) -> OSProvider:
    if not path.is_dir():
        raise _Invalid(
            f"Directory for OS {name} not found: {path} is not a directory"
            " (an OS provider is a folder named after its OS)"
        )
    api_versions = _read_api_versions(path)
    files = _check_files(path, api_versions)
    variants = _read_variants(files[VARIANTS_FILE]) if VARIANTS_FILE in files else ()
    parameters = _read_parameters(files[PARAMETERS_FILE]) if PARAMETERS_FILE in files else ()
    scripts = {k: v for k, v in files.items() if k in _SCRIPTS}
    return OSProvider(name, path, api_versions, variants, parameters, scripts, source)


def inspect_provider(
    path: Path | str, name: str | None = None, *, source: str = ""
) -> OSProvider | InvalidProvider:
    """Check the provider folder ``path``; its OS name is ``name`` or the folder's name.

    Never raises for a bad provider: the result says what is wrong.
    """
    folder = Path(path)
    os_name = name if name is not None else folder.name
    if not os_name or VARIANT_DELIM in os_name or "/" in os_name:
        return InvalidProvider(
            os_name,
            folder,
            f"OS name {os_name!r} is not valid: it may not be empty or contain"
            f" '{VARIANT_DELIM}' or '/'",
            source,
        )
    try:
        return _check(os_name, folder, source)
    except _Invalid as err:
        return InvalidProvider(os_name, folder, str(err), source)


def load_provider(path: Path | str, name: str | None = None, *, source: str = "") -> OSProvider:
    """Like :func:`inspect_provider`, but an invalid provider raises :class:`OSProviderError`."""
    found = inspect_provider(path, name, source=source)
    if isinstance(found, InvalidProvider):
        raise OSProviderError(f"OS {found.name!r} is not valid: {found.diagnosis}")
    return found
