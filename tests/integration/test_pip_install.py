"""Plugins are distributions: pip install makes them appear, pip uninstall makes them go.

These tests build a fresh virtualenv and install from the source tree with real pip
(dependencies come from the package index or pip's cache), so they take a minute.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def run(*argv: object, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("GNT_", "PYTHON", "VIRTUAL_ENV"))
    }
    proc = subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, env=env, timeout=600
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"{argv} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pip") / "venv"
    run(sys.executable, "-m", "venv", path)
    run(path / "bin/python", "-m", "pip", "install", "-q", "-c", ROOT / "constraints.txt", ROOT)
    return path


def hypervisors(venv: Path) -> list[str]:
    out = run(venv / "bin/gnt-cluster", "plugins", "--kind", "hypervisor", "--no-headers",
              "--separator", "|", "-o", "name,distribution,status").stdout  # fmt: skip
    return out.splitlines()


def test_fake_hypervisor_appears_with_its_distribution_and_goes_away(venv: Path) -> None:
    assert hypervisors(venv) == []
    run(venv / "bin/python", "-m", "pip", "install", "-q", ROOT / "plugins/hypervisors/fake")
    assert hypervisors(venv) == ["fake|corral-hv-fake|ok"]
    run(venv / "bin/python", "-m", "pip", "uninstall", "-q", "-y", "corral-hv-fake")
    assert hypervisors(venv) == []


def test_separately_installed_hook_plugin_is_called(
    venv: Path, tmp_path: Path, sample_config, monkeypatch: pytest.MonkeyPatch
) -> None:
    from corral.config.store import ConfigStore

    run(
        venv / "bin/python", "-m", "pip", "install", "-q", ROOT / "tests/fixtures/corral-hello-hook"
    )
    hooks = run(venv / "bin/gnt-cluster", "plugins", "--kind", "hook-plugin", "--no-headers",
                "--separator", "|").stdout  # fmt: skip
    assert hooks.splitlines() == ["hook plugin|hello|corral-hello-hook|0.1.0|loaded"]
    # corral_cli_commands: the plugin's command runs
    assert (
        run(venv / "bin/gnt-cluster", "hello", "admin").stdout
        == "hello from corral-hello-hook, admin\n"
    )
    # corral_config_validate: the plugin's verdict reaches verify-config
    store = ConfigStore(tmp_path / "config.data")
    store.save(sample_config)
    raw = json.loads(store.path.read_text())
    raw["cluster"]["cluster_name"] = "forbidden.example.com"
    store.path.write_text(json.dumps(raw))
    verdict = run(venv / "bin/gnt-cluster", "verify-config", store.path, check=False)
    assert verdict.returncode == 1
    assert (
        "ERROR: cluster: corral-hello-hook refuses the name 'forbidden.example.com'"
        in verdict.stdout
    )
    # and an operator can switch it off
    monkeypatch.setenv("GNT_DISABLE_PLUGIN_AUTOLOAD", "1")
    off = subprocess.run([venv / "bin/gnt-cluster", "hello", "x"], capture_output=True, text=True)
    assert off.returncode != 0 and "invalid choice: 'hello'" in off.stderr
