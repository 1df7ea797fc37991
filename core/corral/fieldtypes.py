"""marshmallow field types shared by the config, opcode and parameter schemas.

marshmallow's own fields are lenient where Ganeti's wire format is not (its
Boolean takes ``"yes"``, its Integer takes ``"5"``), and its IP fields load
``ipaddress`` objects where corral keeps addresses as the text given. The
strict types here refuse what Ganeti refused.
"""

from __future__ import annotations

import ipaddress
import math
from typing import TYPE_CHECKING
from typing import Any

from marshmallow import fields

if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Mapping

__all__ = [
    "IPAddress",
    "IPv4Address",
    "IPv4Network",
    "IPv6Address",
    "IPv6Network",
    "StrictBoolean",
    "StrictFloat",
    "StrictInteger",
    "as_int",
]

# ---------------------------------------------------------------------------
# Strict scalar field types
# ---------------------------------------------------------------------------


class StrictBoolean(fields.Field[bool]):
    """A boolean that must be a real JSON ``true`` or ``false``.

    Strings such as ``"yes"`` and numbers such as ``1`` are refused, as they
    were by Ganeti.
    """

    default_error_messages = {"invalid": "Not a valid boolean (expected true or false)."}

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


def as_int(value: Any) -> int | None:
    """Return ``value`` as an int when it is a JSON integer, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


class StrictInteger(fields.Field[int]):
    """An integer that refuses booleans, strings and floats with a fraction.

    A float without a fractional part (``5.0``) is taken as that integer.
    """

    default_error_messages = {"invalid": "Not a valid integer."}

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> int:
        number = as_int(value)
        if number is None:
            raise self.make_error("invalid")
        return number


class StrictFloat(fields.Field[float]):
    """A finite number (integer or float, never a boolean or string), stored as float."""

    default_error_messages = {"invalid": "Not a valid number."}

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid")
        number = float(value)
        if not math.isfinite(number):
            raise self.make_error("invalid")
        return number


class IPAddress(fields.String):
    """An IPv4 or IPv6 address kept as the text given; subclasses narrow the kind."""

    kind: Callable[[str], object] = ipaddress.ip_address
    default_error_messages = {"invalid_ip": "Not a valid IP address."}

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            type(self).kind(text)
        except ValueError as err:
            raise self.make_error("invalid_ip") from err
        return text


class IPv4Address(IPAddress):
    """A dotted-quad IPv4 address, kept as the string given."""

    kind = ipaddress.IPv4Address
    default_error_messages = {"invalid_ip": "Not a valid IPv4 address."}


class IPv6Address(IPAddress):
    """An IPv6 address, kept as the string given."""

    kind = ipaddress.IPv6Address
    default_error_messages = {"invalid_ip": "Not a valid IPv6 address."}


class IPv4Network(IPAddress):
    """An IPv4 subnet in CIDR notation without host bits, kept as the string given."""

    kind = ipaddress.IPv4Network
    default_error_messages = {"invalid_ip": "Not a valid IPv4 network (CIDR, no host bits)."}


class IPv6Network(IPAddress):
    """An IPv6 subnet in CIDR notation without host bits, kept as the string given."""

    kind = ipaddress.IPv6Network
    default_error_messages = {"invalid_ip": "Not a valid IPv6 network (CIDR, no host bits)."}
