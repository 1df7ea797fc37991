"""The config file: corrupt files are refused with a clear error and the last good file survives."""

from __future__ import annotations

import dataclasses
import json
import os
import stat

import pytest

from corral.api import ConfigError
from corral.config.objects import CONFIG_VERSION
from corral.config.store import ConfigStore
from corral.config.store import serialize


@pytest.fixture
def store(tmp_path, sample_config):
    store = ConfigStore(tmp_path / "config.data")
    store.save(sample_config)
    return store


def test_save_then_load_gives_the_same_config(store, sample_config) -> None:
    assert store.load() == sample_config


def test_file_is_private_and_no_temporary_is_left(store) -> None:
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert os.listdir(store.path.parent) == ["config.data"]


def test_equal_configs_serialise_to_equal_bytes(sample_config) -> None:
    assert serialize(sample_config) == serialize(dataclasses.replace(sample_config))


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (
            lambda data: data[: len(data) // 2],
            r"is corrupt: not valid JSON \(.*: line 1, column \d+\)",
        ),
        (lambda data: b"", "is corrupt: empty"),
        (lambda data: b"\xff\xfe garbage", "is corrupt: not valid JSON"),
        (lambda data: b"[1, 2]", "is not a JSON object"),
        (lambda data: b'{"cluster": {}}', "has no valid format version"),
    ],
    ids=["truncated", "empty", "binary", "not-an-object", "no-version"],
)
def test_corrupt_file_is_refused_and_left_untouched(store, damage, expected) -> None:
    bad = damage(store.path.read_bytes())
    store.path.write_bytes(bad)
    with pytest.raises(ConfigError, match=expected) as err:
        store.load()
    assert str(store.path) in str(err.value)
    assert store.path.read_bytes() == bad  # never "repaired" behind the operator's back


def test_wrong_schema_names_every_bad_field_with_object_names(store) -> None:
    raw = json.loads(store.path.read_bytes())
    web = next(i for i in raw["instances"].values() if i["name"] == "web1.example.com")
    web["beparams"]["maxmem"] = "lots"
    web["nics"][0]["mac"] = "not-a-mac"
    web["colour"] = "blue"
    next(iter(raw["nodes"].values()))["primary_ip"] = "300.1.2.3"
    store.path.write_text(json.dumps(raw))
    with pytest.raises(ConfigError) as err:
        store.load()
    lines = str(err.value).splitlines()
    assert lines[0] == f"config file {store.path} does not match the config schema:"
    assert "  instances[web1.example.com].beparams.maxmem: Not a valid integer." in lines
    assert "  instances[web1.example.com].nics[0].mac: Not a valid MAC." in lines
    assert "  instances[web1.example.com].colour: Unknown field." in lines
    assert "  nodes[node1.example.com].primary_ip: Not a valid IP address." in lines


def test_newer_format_version_is_refused_with_advice(store) -> None:
    raw = json.loads(store.path.read_bytes())
    raw["version"] = CONFIG_VERSION + 1
    store.path.write_text(json.dumps(raw))
    with pytest.raises(ConfigError, match=f"format version {CONFIG_VERSION + 1}, .*upgrade corral"):
        store.load()


def test_inconsistent_file_lists_each_problem(store) -> None:
    raw = json.loads(store.path.read_bytes())
    for inst in raw["instances"].values():
        inst["primary_node"] = "99999999-0000-4000-8000-000000000000"
    store.path.write_text(json.dumps(raw))
    with pytest.raises(ConfigError) as err:
        store.load()
    assert "is inconsistent" in str(err.value)
    assert "instances[web1.example.com].primary_node: unknown node 99999999" in str(err.value)
    assert "instances[db1.example.com].primary_node: unknown node 99999999" in str(err.value)


def test_missing_file_says_so(tmp_path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        ConfigStore(tmp_path / "nope.data").load()


def test_invalid_config_is_never_written(store, sample_config) -> None:
    before = store.path.read_bytes()
    bad = dataclasses.replace(
        sample_config,
        cluster=dataclasses.replace(
            sample_config.cluster, master_node="00000000-0000-4000-8000-00000000dead"
        ),
    )
    with pytest.raises(ConfigError, match="refusing to write an inconsistent config"):
        store.save(bad)
    assert store.path.read_bytes() == before


def test_config_failing_the_schema_is_never_written(store, sample_config) -> None:
    before = store.path.read_bytes()
    node = next(iter(sample_config.nodes.values()))
    bad_node = dataclasses.replace(node, primary_ip="not-an-ip")
    bad = dataclasses.replace(sample_config, nodes={**sample_config.nodes, node.uuid: bad_node})
    with pytest.raises(ConfigError, match="primary_ip: Not a valid IP address"):
        store.save(bad)
    assert store.path.read_bytes() == before


def test_crash_during_write_keeps_the_last_good_file(store, sample_config, monkeypatch) -> None:
    before = store.path.read_bytes()

    def power_cut(src, dst):
        raise OSError("simulated power cut")

    monkeypatch.setattr(os, "replace", power_cut)
    changed = dataclasses.replace(sample_config, serial_no=sample_config.serial_no + 1)
    with pytest.raises(OSError, match="simulated power cut"):
        store.save(changed)
    assert store.path.read_bytes() == before
    assert os.listdir(store.path.parent) == ["config.data"]
