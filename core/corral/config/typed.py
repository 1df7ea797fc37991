"""Parameters as the config stores them: typed, as their schemas load them.

The CLI and RAPI hand over ``key=value`` strings (``maxmem=512``); before a
parameter dict goes into the config it is loaded by the schema of its
owner (the core's for backend, NIC and node parameters and the instance
policy, the plugin's for hypervisor and disk parameters), so the config
holds ``512``, and a bad value is refused with its path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

from corral.api.errors import OpPrereqError
from corral.api.errors import ParameterError
from corral.api.params import validate_params
from corral.config.params import BeParams
from corral.config.params import IPolicy
from corral.config.params import NdParams
from corral.config.params import NicParams

if TYPE_CHECKING:
    from collections.abc import Mapping

    from marshmallow import Schema

    from corral.plugins.kinds import DriverKind
    from corral.plugins.registry import DriverRegistry

_CORE: dict[str, type[Schema]] = {
    "beparams": BeParams,
    "nicparams": NicParams,
    "ndparams": NdParams,
    "ipolicy": IPolicy,
}


def _load(what: str, values: Mapping[str, Any], load: Any) -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = load(values)
    except ParameterError as err:
        raise OpPrereqError(f"invalid {what}: {err}") from None
    return loaded


def core(kind: str, values: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A core parameter dict (``beparams``, ``nicparams``, ``ndparams``, ``ipolicy``)."""
    schema = _CORE[kind]
    return _load(where, values, lambda v: validate_params(schema, v, where=where))


def plugin(
    registry: DriverRegistry, kind: DriverKind, name: str, values: Mapping[str, Any], where: str
) -> dict[str, Any]:
    """A plugin's parameter dict (a hypervisor's or a disk template's)."""
    cls = registry.driver_class(kind, name)
    return _load(where, values, lambda v: cls.check_params(v, where=where))
