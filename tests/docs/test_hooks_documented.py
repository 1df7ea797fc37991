"""Every hook is documented in docs/hooks.md with its exact signature, and has a test."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from corral.hookspecs import spec_modules

ROOT = Path(__file__).resolve().parents[2]


def hook_specs() -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(func)
        for module in spec_modules()
        for name, func in vars(module).items()
        if name.startswith("corral_") and callable(func)
    }


def test_there_are_hooks() -> None:
    assert len(hook_specs()) >= 9


@pytest.mark.parametrize("name", sorted(hook_specs()))
def test_hook_is_documented_with_its_signature(name: str) -> None:
    params = ", ".join(hook_specs()[name].parameters)
    docs = (ROOT / "docs" / "hooks.md").read_text()
    assert f"### `{name}({params})`" in docs


@pytest.mark.parametrize("name", sorted(hook_specs()))
def test_hook_has_a_test(name: str) -> None:
    tests = "\n".join(p.read_text() for p in (ROOT / "tests").rglob("test_*.py"))
    assert re.search(rf"def test_hook_{name}\b", tests), f"write test_hook_{name}"


def test_every_spec_names_start_with_corral() -> None:
    for module in spec_modules():
        for name, func in vars(module).items():
            if callable(func) and hasattr(func, "corral_spec"):
                assert name.startswith("corral_")
