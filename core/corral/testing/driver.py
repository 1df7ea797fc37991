"""Contract tests shared by every driver kind's conformance suite.

Each kind's suite (:class:`~corral.testing.HypervisorConformance`,
:class:`~corral.testing.DiskTemplateConformance`, ...) derives from
:class:`DriverConformance`, names its base class and parameter dict, and
provides the ``driver`` fixture. What is checked here holds for any driver:
methods keep the interface's signatures, and parameters are declared so the
CLI, RAPI and config can validate them.
"""

from __future__ import annotations

import inspect
import json
from typing import TYPE_CHECKING
from typing import Any
from typing import ClassVar

import pytest
from marshmallow import fields
from marshmallow import missing

from corral.api import ParameterError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from corral.api import Driver

__all__ = ["ANY_VALUE_IS_VALID", "DriverConformance"]

#: Marks a parameter field that accepts any value, so no wrongly typed one exists.
ANY_VALUE_IS_VALID: Any = object()

_WRONG_TYPE_BY_FIELD: tuple[tuple[type[fields.Field[Any]], Any], ...] = (
    (fields.Boolean, "not-a-boolean"),
    (fields.Number, "not-a-number"),
    (fields.Enum, "no-such-choice"),
    (fields.String, 12345),
    (fields.List, 12345),
    (fields.Tuple, 12345),
    (fields.Mapping, 12345),
    (fields.Nested, 12345),
    (fields.DateTime, "not-a-time"),
    (fields.Date, "not-a-date"),
    (fields.Time, "not-a-time"),
    (fields.TimeDelta, "not-a-duration"),
    (fields.IP, "not-an-address"),
    (fields.IPInterface, "not-an-address"),
    (fields.Raw, ANY_VALUE_IS_VALID),
    (fields.Constant, ANY_VALUE_IS_VALID),
)


def _wrong_type_for(field: fields.Field[Any]) -> Any:
    """A value of the wrong type for ``field``, ``ANY_VALUE_IS_VALID``, or ``None`` if unknown."""
    for field_type, value in _WRONG_TYPE_BY_FIELD:
        if isinstance(field, field_type):
            return value
    return None


class DriverConformance:
    """Kind-independent contract tests (a base for the per-kind suites, not collected)."""

    #: The driver interface of the kind under test (set by each kind's suite).
    DRIVER_BASE: ClassVar[type[Driver]]
    #: What the kind's parameters are called in the config, e.g. ``hvparams``.
    PARAMS_WHERE: ClassVar[str]
    #: Wrongly typed values for parameter fields whose type the suite cannot derive
    #: one for (custom fields), by field name; ``ANY_VALUE_IS_VALID`` skips one.
    BAD_PARAM_VALUES: ClassVar[Mapping[str, Any]] = {}

    @pytest.fixture
    def driver(self) -> Driver:
        """The driver under test (each kind's suite provides it)."""
        pytest.fail(f"{type(self).__name__} must provide the driver fixture")

    def test_methods_match_the_interface(self, driver: Driver) -> None:
        """Every method the driver overrides takes the interface's arguments (same names,
        same kinds) and is a coroutine exactly where the interface's is, so the core can
        call any driver the same way."""
        cls = type(driver)
        problems = []
        for name, base in vars(self.DRIVER_BASE).items():
            if name.startswith("_") or not inspect.isfunction(base):
                continue
            impl = inspect.getattr_static(cls, name)
            if impl is base:
                continue
            if not inspect.isfunction(impl):
                problems.append(f"{name} is not a plain method")
                continue
            want = [(p.name, p.kind) for p in inspect.signature(base).parameters.values()]
            have = [(p.name, p.kind) for p in inspect.signature(impl).parameters.values()]
            if want != have:
                problems.append(f"{name}{inspect.signature(impl)} != {inspect.signature(base)}")
            if inspect.iscoroutinefunction(base) != inspect.iscoroutinefunction(impl):
                problems.append(
                    f"{name} must {'' if inspect.iscoroutinefunction(base) else 'not '}be async"
                )
        assert not problems, "; ".join(problems)

    def test_params_have_defaults_and_help(self, driver: Driver) -> None:
        """Every parameter declares a default and a help text (the schema is the one
        place the CLI, RAPI and docs read them from), and the defaults are JSON values
        because they are stored in the cluster configuration."""
        for name, field in driver.params_schema().fields.items():
            assert field.load_default is not missing, f"parameter {name} has no default"
            help_text = field.metadata.get("help")
            assert isinstance(help_text, str) and help_text.strip(), (
                f"parameter {name} has no metadata['help']"
            )
        json.dumps(driver.param_defaults())

    def test_param_defaults_round_trip(self, driver: Driver) -> None:
        """Filling an empty dict gives the defaults, and the defaults validate as they are."""
        where = self.PARAMS_WHERE
        defaults = driver.param_defaults()
        assert set(defaults) == set(driver.params_schema().fields)
        assert driver.check_params({}, where=where, fill=True) == defaults
        assert driver.check_params(defaults, where=where, fill=True) == defaults
        assert driver.check_params(defaults, where=where) == defaults

    @pytest.mark.parametrize("fill", [False, True])
    def test_unknown_param_is_refused(self, driver: Driver, fill: bool) -> None:
        """An unknown key is a ParameterError whose errors name it as ``<params>.<key>``."""
        with pytest.raises(ParameterError) as caught:
            driver.check_params({"no_such_parameter": 1}, where=self.PARAMS_WHERE, fill=fill)
        assert f"{self.PARAMS_WHERE}.no_such_parameter" in caught.value.errors

    def test_wrongly_typed_params_are_refused(self, driver: Driver) -> None:
        """A value of the wrong type for any parameter (derived from its field's type)
        is a ParameterError naming exactly that parameter."""
        unknown = []
        for name, field in driver.params_schema().fields.items():
            key = field.data_key or name
            bad = self.BAD_PARAM_VALUES.get(name, _wrong_type_for(field))
            if bad is ANY_VALUE_IS_VALID:
                continue
            if bad is None:
                unknown.append(f"{name} ({type(field).__name__})")
                continue
            with pytest.raises(ParameterError) as caught:
                driver.check_params({key: bad}, where=self.PARAMS_WHERE, fill=True)
            assert list(caught.value.errors) == [f"{self.PARAMS_WHERE}.{key}"], caught.value.errors
        assert not unknown, (
            f"no wrongly typed value known for {', '.join(unknown)}: set BAD_PARAM_VALUES"
        )
