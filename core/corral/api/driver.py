"""The base every driver (hypervisor, storage, network, ...) derives from."""

from __future__ import annotations

from abc import ABC
from typing import TYPE_CHECKING
from typing import Any
from typing import ClassVar

from corral.api.params import ParamsSchema
from corral.api.params import param_defaults
from corral.api.params import validate_params

if TYPE_CHECKING:
    from collections.abc import Mapping

    from corral.api.context import DriverContext

#: Version of the plugin API this core implements. A driver declares the
#: version it was written for; the registry refuses drivers from a newer API.
API_VERSION = 1


class Driver(ABC):  # noqa: B024 - each kind's base class adds the abstract methods
    """Shared shape of every driver.

    Subclasses set ``params_schema`` to declare their parameters and
    ``API_VERSION`` to the API they were written for. The core builds one
    driver object per node and kind, passing a :class:`DriverContext`.
    """

    #: Entry-point group suffix, set by each kind's ABC ("hypervisors", ...).
    kind: ClassVar[str] = ""
    #: Name the driver is selected by; the registry checks it equals the entry point's.
    name: ClassVar[str] = ""
    API_VERSION: ClassVar[int] = API_VERSION
    params_schema: ClassVar[type[ParamsSchema]] = ParamsSchema

    def __init__(self, ctx: DriverContext) -> None:
        self.ctx = ctx

    @classmethod
    def param_defaults(cls) -> dict[str, Any]:
        """Every parameter with its default, as the plugin declares it."""
        return param_defaults(cls.params_schema)

    @classmethod
    def check_params(
        cls, values: Mapping[str, Any], *, where: str = "params", fill: bool = False
    ) -> dict[str, Any]:
        """Validate a parameter dict (see :func:`corral.api.params.validate_params`)."""
        return validate_params(cls.params_schema, values, where=where, fill=fill)
