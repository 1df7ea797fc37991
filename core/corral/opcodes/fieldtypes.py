"""Field types for Ganeti's structured opcode values (disk and NIC specs, ...).

The strict scalar and IP types they build on are shared with the config and
live in :mod:`corral.fieldtypes`; they are re-exported here for the opcode
modules. See :mod:`corral.opcodes.fields` for the strictness rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

from marshmallow import ValidationError
from marshmallow import fields

from corral.fieldtypes import IPAddress as IPAddress
from corral.fieldtypes import IPv4Address as IPv4Address
from corral.fieldtypes import IPv4Network as IPv4Network
from corral.fieldtypes import IPv6Address as IPv6Address
from corral.fieldtypes import IPv6Network as IPv6Network
from corral.fieldtypes import StrictBoolean as StrictBoolean
from corral.fieldtypes import StrictFloat as StrictFloat
from corral.fieldtypes import StrictInteger as StrictInteger
from corral.fieldtypes import as_int
from corral.opcodes.values import DDM_SIMPLE
from corral.opcodes.values import DDM_WITH_MODIFY
from corral.opcodes.values import DISK_ACCESS_MODES
from corral.opcodes.values import DISK_SPEC_KEYS
from corral.opcodes.values import JOB_FINAL_STATUSES
from corral.opcodes.values import NIC_SPEC_KEYS

# ---------------------------------------------------------------------------
# Structured field types
# ---------------------------------------------------------------------------

_NOT_LIST = "Not a valid list."
_NOT_DICT = "Not a valid mapping type."


def _is_sequence(value: Any) -> bool:
    return isinstance(value, list | tuple)


class DiskSpec(fields.Field[dict[str, Any]]):
    """One instance disk, as a dict of disk parameters.

    ``size`` (MiB) and ``spindles`` are non-negative integers, ``mode`` is
    ``ro`` or ``rw``, ``name`` is a string or null, and ``vg``, ``metavg``,
    ``adopt``, ``provider``, ``access`` and ``dev_type`` are non-empty
    strings. Every other key is a parameter for an ExtStorage provider and
    holds a non-empty string or an integer. With ``require_size`` (disk
    creation) the ``size`` key must be present.
    """

    default_error_messages = {"invalid": _NOT_DICT}

    def __init__(self, *, require_size: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.require_size = require_size

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> dict[str, Any]:
        return check_disk_spec(value, require_size=self.require_size)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else dict(value)


def check_disk_spec(value: Any, *, require_size: bool) -> dict[str, Any]:
    """Validate one disk specification; raises ValidationError keyed by parameter."""
    if not isinstance(value, Mapping):
        raise ValidationError(_NOT_DICT)
    errors: dict[str, list[str]] = {}
    out: dict[str, Any] = {}
    for key, item in value.items():
        problem = _disk_param_problem(key, item)
        if problem:
            errors[str(key)] = [problem]
        else:
            out[key] = as_int(item) if key in ("size", "spindles") else item
    if require_size and "size" not in value:
        errors["size"] = ["Missing data for required field."]
    if errors:
        raise ValidationError(errors)
    return out


def _disk_param_problem(key: Any, item: Any) -> str | None:
    if not isinstance(key, str) or not key:
        return "Disk parameter names must be non-empty strings."
    if key in ("size", "spindles"):
        number = as_int(item)
        if number is None:
            return "Not a valid integer."
        if number < 0:
            return "Must be greater than or equal to 0."
        return None
    if key == "mode":
        if item not in DISK_ACCESS_MODES:
            return f"Must be one of: {', '.join(DISK_ACCESS_MODES)}."
        return None
    if key == "name":
        if item is not None and not isinstance(item, str):
            return "Not a valid string."
        return None
    if key in DISK_SPEC_KEYS:
        if not isinstance(item, str) or not item:
            return "Must be a non-empty string."
        return None
    if isinstance(item, str) and item:
        return None
    if as_int(item) is not None and not isinstance(item, float):
        return None
    return "Provider parameters must be non-empty strings or integers."


class NicSpec(fields.Field[dict[str, Any]]):
    """One network interface, as a dict of NIC parameters.

    The keys are ``mac``, ``ip``, ``mode``, ``link``, ``vlan``, ``network``,
    ``name`` and ``bridge``; each value is a string or null. Which modes
    and links exist is the network plugins' business, checked later.
    """

    default_error_messages = {"invalid": _NOT_DICT}

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> dict[str, Any]:
        return check_nic_spec(value)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else dict(value)


def check_nic_spec(value: Any) -> dict[str, Any]:
    """Validate one NIC specification; raises ValidationError keyed by parameter."""
    if not isinstance(value, Mapping):
        raise ValidationError(_NOT_DICT)
    errors: dict[str, list[str]] = {}
    for key, item in value.items():
        if key not in NIC_SPEC_KEYS:
            errors[str(key)] = [f"unknown NIC parameter (known: {', '.join(NIC_SPEC_KEYS)})"]
        elif item is not None and not isinstance(item, str):
            errors[key] = ["Not a valid string."]
    if errors:
        raise ValidationError(errors)
    return dict(value)


class DeviceModifications(fields.Field[list[list[Any]]]):
    """A list of changes to an instance's disks or NICs.

    Each change is ``[action, index, params]`` where ``action`` is one of
    add, attach, detach, modify or remove, ``index`` is an integer (negative
    counts from the end, -1 appends) or a device name or UUID, and ``params``
    is a disk or NIC specification. The older two-item form
    ``[action_or_index, params]`` is accepted as well, where the first item
    is add, attach, detach, remove, or the non-negative index to modify.
    """

    default_error_messages = {"invalid": _NOT_LIST}

    def __init__(self, device: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if device not in ("disk", "nic"):
            raise ValueError(f"unknown device kind {device!r}")
        self.device = device

    def _check_params(self, params: Any, action: str | None) -> dict[str, Any]:
        if self.device == "nic":
            return check_nic_spec(params)
        return check_disk_spec(params, require_size=action == "add")

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> list[list[Any]]:
        if not _is_sequence(value):
            raise self.make_error("invalid")
        out: list[list[Any]] = []
        errors: dict[int, Any] = {}
        for idx, change in enumerate(value):
            try:
                out.append(self._one(change))
            except ValidationError as err:
                errors[idx] = err.messages
        if errors:
            raise ValidationError(errors)
        return out

    def _one(self, change: Any) -> list[Any]:
        if not _is_sequence(change) or len(change) not in (2, 3):
            raise ValidationError(
                "Each change must be [action, index, parameters] or [action_or_index, parameters]."
            )
        errors: dict[int, Any] = {}
        if len(change) == 3:
            action, index, params = change
            if action not in DDM_WITH_MODIFY:
                errors[0] = [f"Must be one of: {', '.join(DDM_WITH_MODIFY)}."]
            if not isinstance(index, str) and as_int(index) is None:
                errors[1] = ["The index must be an integer or a device name or UUID."]
            elif not isinstance(index, str):
                index = as_int(index)
            checked = self._checked(params, action if isinstance(action, str) else None, errors, 2)
            if errors:
                raise ValidationError(errors)
            return [action, index, checked]
        first, params = change
        number = as_int(first)
        if number is not None and number >= 0:
            first = number
            action = "modify"
        elif first in DDM_SIMPLE:
            action = first
        else:
            errors[0] = [f"Must be a non-negative index or one of: {', '.join(DDM_SIMPLE)}."]
            action = None
        checked = self._checked(params, action, errors, 1)
        if errors:
            raise ValidationError(errors)
        return [first, checked]

    def _checked(
        self, params: Any, action: str | None, errors: dict[int, Any], pos: int
    ) -> dict[str, Any]:
        try:
            return self._check_params(params, action)
        except ValidationError as err:
            errors[pos] = err.messages
            return {}

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if value is None:
            return None
        return [[dict(x) if isinstance(x, Mapping) else x for x in change] for change in value]


class RecreateDisks(fields.Field[list[Any]]):
    """Which disks to recreate: a list of disk indices, or a list of
    ``[index, disk parameters]`` pairs to recreate with changed parameters."""

    default_error_messages = {"invalid": _NOT_LIST}

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> list[Any]:
        if not _is_sequence(value):
            raise self.make_error("invalid")
        if all(not _is_sequence(item) for item in value):
            return self._indices(value)
        return self._pairs(value)

    @staticmethod
    def _index_problem(item: Any) -> str | None:
        number = as_int(item)
        if number is None:
            return "Not a valid integer."
        if number < 0:
            return "Must be greater than or equal to 0."
        return None

    def _indices(self, value: Iterable[Any]) -> list[Any]:
        errors: dict[int, Any] = {}
        out: list[Any] = []
        for idx, item in enumerate(value):
            problem = self._index_problem(item)
            if problem:
                errors[idx] = [problem]
            else:
                out.append(as_int(item))
        if errors:
            raise ValidationError(errors)
        return out

    def _pairs(self, value: Iterable[Any]) -> list[Any]:
        errors: dict[int, Any] = {}
        out: list[Any] = []
        for idx, item in enumerate(value):
            if not _is_sequence(item) or len(item) != 2:
                errors[idx] = ["Use either only disk indices or only [index, parameters] pairs."]
                continue
            sub: dict[int, Any] = {}
            problem = self._index_problem(item[0])
            if problem:
                sub[0] = [problem]
            try:
                params = check_disk_spec(item[1], require_size=False)
            except ValidationError as err:
                sub[1] = err.messages
            if sub:
                errors[idx] = sub
            else:
                out.append([as_int(item[0]), params])
        if errors:
            raise ValidationError(errors)
        return out

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if value is None:
            return None
        return [[x[0], dict(x[1])] if _is_sequence(x) else x for x in value]


class JobDependency(fields.Field[list[Any]]):
    """One job dependency: ``[job_id, [status, ...]]``.

    ``job_id`` is a job number (an integer or a string of digits) or, for
    jobs submitted together, a negative number counting back from the
    current job (-1 is the job submitted just before). The statuses are the
    final states (success, error, canceled) that satisfy the dependency.
    """

    default_error_messages = {"invalid": "A dependency must be [job_id, [status, ...]]."}

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> list[Any]:
        if not _is_sequence(value) or len(value) != 2:
            raise self.make_error("invalid")
        job_id, statuses = value
        errors: dict[int, Any] = {}
        if isinstance(job_id, str) and job_id.isascii() and job_id.isdigit():
            job_id = int(job_id)
        elif as_int(job_id) is None or isinstance(job_id, float):
            errors[0] = ["Not a valid job ID (an integer, or a negative relative ID)."]
        if not _is_sequence(statuses):
            errors[1] = [_NOT_LIST]
        else:
            bad = {
                i: [f"Must be one of: {', '.join(JOB_FINAL_STATUSES)}."]
                for i, status in enumerate(statuses)
                if status not in JOB_FINAL_STATUSES
            }
            if bad:
                errors[1] = bad
        if errors:
            raise ValidationError(errors)
        return [job_id, list(statuses)]


class ReasonEntry(fields.Field[list[Any]]):
    """One step of a reason trail: ``[source, reason, timestamp]``.

    ``source`` names who acted (for example ``gnt:client:gnt-instance``),
    ``reason`` is free text, ``timestamp`` is nanoseconds since the epoch.
    """

    default_error_messages = {"invalid": "A reason must be [source, reason, timestamp]."}

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> list[Any]:
        if not _is_sequence(value) or len(value) != 3:
            raise self.make_error("invalid")
        source, text, stamp = value
        errors: dict[int, Any] = {}
        if not isinstance(source, str):
            errors[0] = ["Not a valid string."]
        if not isinstance(text, str):
            errors[1] = ["Not a valid string."]
        number = as_int(stamp)
        if number is None:
            errors[2] = ["Not a valid integer."]
        if errors:
            raise ValidationError(errors)
        return [source, text, number]


class IntPair(fields.Field[list[int]]):
    """A pair of integers ``[first, last]`` (an inclusive range)."""

    default_error_messages = {"invalid": "Must be a list of two integers."}

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> list[int]:
        if not _is_sequence(value) or len(value) != 2:
            raise self.make_error("invalid")
        first, last = (as_int(v) for v in value)
        if first is None or last is None:
            raise self.make_error("invalid")
        return [first, last]


class OsListChange(fields.Field[list[str]]):
    """A change to a list of OS names: ``[action, os_name]``, action add or remove."""

    default_error_messages = {"invalid": "Must be [action, os_name]."}

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> list[str]:
        if not _is_sequence(value) or len(value) != 2:
            raise self.make_error("invalid")
        action, name = value
        errors: dict[int, Any] = {}
        if action not in DDM_SIMPLE:
            errors[0] = [f"Must be one of: {', '.join(DDM_SIMPLE)}."]
        if not isinstance(name, str) or not name:
            errors[1] = ["Must be a non-empty string."]
        if errors:
            raise ValidationError(errors)
        return [action, name]


class ExportTarget(fields.Field[Any]):
    """Where an export goes: a node name (local export) or a list of
    per-disk destinations (remote export)."""

    default_error_messages = {
        "invalid": "Must be a node name or a list of remote destinations.",
    }

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> Any:
        if isinstance(value, str) and value:
            return value
        if _is_sequence(value):
            return list(value)
        raise self.make_error("invalid")
