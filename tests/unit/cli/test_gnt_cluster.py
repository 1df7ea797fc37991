"""gnt-cluster plugins and verify-config, run in-process through their real entry point."""

from __future__ import annotations

import json
import re

import pytest

from corral.cli.gnt_cluster import main
from corral.config.store import ConfigStore

STAMP = r"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}"


@pytest.fixture(autouse=True)
def _no_site_hooks(monkeypatch) -> None:
    monkeypatch.setenv("GNT_DISABLE_PLUGIN_AUTOLOAD", "1")


@pytest.fixture
def plugins(make_dist, mini_hypervisor):
    make_dist(
        "corral-hv-mini",
        {"corral.hypervisors": {"mini": "corral_mini:Mini"}},
        {"corral_mini": mini_hypervisor},
        "1.2",
    )
    make_dist(
        "corral-hv-kaput",
        {"corral.hypervisors": {"kaput": "corral_kaput:Kaput"}},
        {"corral_kaput": "raise ImportError('libvirt is missing')\n"},
    )


def test_plugins_table_aligned_with_headers(plugins, capsys) -> None:
    assert main(["plugins", "--kind", "hypervisor", "-o", "name,distribution,version,status"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["Name", "Distribution", "Version", "Status"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert rows["mini"].split() == ["mini", "corral-hv-mini", "1.2", "ok"]
    assert "broken: hypervisor 'kaput' from corral-hv-kaput 1.0 failed to load" in rows["kaput"]
    assert (
        len(
            {
                line.index("Distribution") if i == 0 else line.index("corral-")
                for i, line in enumerate(lines)
            }
        )
        == 1
    )


def test_plugins_separator_and_no_headers(plugins, capsys) -> None:
    assert (
        main(
            [
                "plugins",
                "--no-headers",
                "--separator",
                ":",
                "-o",
                "kind,name,version",
                "--kind",
                "hypervisor",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out.splitlines()
    assert "hypervisor:mini:1.2" in out and "hypervisor:kaput:1.0" in out


def test_plugins_unknown_field(capsys) -> None:
    assert main(["plugins", "-o", "name,colour"]) == 1
    assert "Failure: unknown field(s) colour; known fields: kind, name" in capsys.readouterr().err


@pytest.fixture
def config_file(tmp_path, sample_config):
    store = ConfigStore(tmp_path / "config.data")
    store.save(sample_config)
    return store.path


def test_verify_config_valid(config_file, plugins, capsys, monkeypatch) -> None:
    raw = json.loads(config_file.read_text())
    raw["cluster"]["enabled_hypervisors"] = ["mini"]
    for inst in raw["instances"].values():
        inst["hypervisor"] = "mini"
    raw["cluster"]["enabled_disk_templates"] = ["diskless", "file"]
    config_file.write_text(json.dumps(raw))
    monkeypatch.setattr("corral.config.check._check_plugin_params", lambda cfg, reg: [])
    assert main(["verify-config", str(config_file)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch(rf"{STAMP} \* Verifying configuration file {config_file}", lines[0])
    assert lines[-1].endswith(
        "* Configuration is valid (serial 1): 2 node(s), 1 node group(s), 2 instance(s), 0 network(s)"
    )


def test_verify_config_reports_every_problem(config_file, plugins, capsys) -> None:
    raw = json.loads(config_file.read_text())
    raw["cluster"]["enabled_hypervisors"] = ["mini", "kaput", "nosuch"]
    raw["cluster"]["hvparams"] = {"mini": {"bogus": 1}}
    for inst in raw["instances"].values():
        inst["hypervisor"] = "xen-pvm"
    config_file.write_text(json.dumps(raw))
    assert main(["verify-config", str(config_file)]) == 1
    out = capsys.readouterr().out
    errors = [line.split("ERROR: ", 1)[1] for line in out.splitlines() if "ERROR: " in line]
    assert (
        "instances[web1.example.com].hypervisor: 'xen-pvm' is not an enabled hypervisor" in errors
    )
    assert "cluster.hvparams.mini.bogus: unknown parameter" in errors
    assert any(
        e.startswith("cluster.hvparams.kaput: hypervisor 'kaput' from corral-hv-kaput")
        for e in errors
    )
    assert (
        "cluster.hvparams.nosuch: hypervisor 'nosuch' is not installed: pip install corral-hv-nosuch"
        in errors
    )
    assert out.splitlines()[-1].endswith(f"* Configuration is NOT valid: {len(errors)} error(s)")


def test_verify_config_corrupt_file(config_file, capsys) -> None:
    config_file.write_text('{"version": 1, "cluster": ')
    assert main(["verify-config", str(config_file)]) == 1
    assert "ERROR: config file" in capsys.readouterr().out


def test_verify_config_default_path_follows_rootdir(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("CORRAL_ROOTDIR", str(tmp_path))
    assert main(["verify-config"]) == 1
    assert f"{tmp_path}/var/lib/corral/config.data does not exist" in capsys.readouterr().out


def test_help_lists_commands(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "plugins" in out and "verify-config" in out
