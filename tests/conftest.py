"""Fixtures shared by corral's own tests."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path

import pytest
from stevedore import ExtensionManager

MakeDist = Callable[..., Path]

#: A minimal, complete hypervisor driver, for tests that install one as a plugin.
MINI_HYPERVISOR = """
from corral.api import Hypervisor, ConsoleInfo, NodeHvInfo

class Mini(Hypervisor):
    name = "mini"
    async def start(self, instance, *, paused=False): pass
    async def stop(self, instance, *, force=False, timeout=120): pass
    async def reboot(self, instance): pass
    async def list_instances(self): return []
    async def instance_info(self, name): return None
    async def node_info(self): return NodeHvInfo(1024, 1024, 0, 1)
    def console(self, instance, node): return ConsoleInfo(instance.name, "message", message="none")
"""


@pytest.fixture
def mini_hypervisor() -> str:
    """Source of a minimal hypervisor module (see MINI_HYPERVISOR)."""
    return MINI_HYPERVISOR


@pytest.fixture
def make_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MakeDist]:
    """Install a tiny distribution the way pip would leave it: modules plus a dist-info.

    ``make_dist("corral-x", {"corral.hypervisors": {"x": "corral_x:X"}}, {"corral_x": "..."})``
    makes its entry points visible to importlib.metadata and stevedore for
    this test only. stevedore remembers each group's entry points for the
    life of the process, so that memory is cleared on every change.
    """
    site = tmp_path / "site-packages"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    made: list[str] = []

    def make(
        name: str,
        entry_points: dict[str, dict[str, str]],
        modules: dict[str, str] | None = None,
        version: str = "1.0",
    ) -> Path:
        for module, source in (modules or {}).items():
            (site / f"{module}.py").write_text(textwrap.dedent(source))
            made.append(module)
        info = site / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        lines = []
        for group, eps in entry_points.items():
            lines.append(f"[{group}]")
            lines += [f"{ep} = {target}" for ep, target in eps.items()]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        ExtensionManager.ENTRY_POINT_CACHE.clear()
        return info

    yield make
    for module in made:
        sys.modules.pop(module, None)
    ExtensionManager.ENTRY_POINT_CACHE.clear()


@pytest.fixture
def sample_config():
    """A small sound cluster: one group, two nodes, a diskless and a file instance."""
    from corral.config import objects as o

    group = o.NodeGroup(uuid="00000000-0000-4000-8000-000000000001", name="default")
    node1 = o.Node(
        uuid="00000000-0000-4000-8000-000000000011",
        name="node1.example.com",
        primary_ip="192.0.2.11",
        group=group.uuid,
        master_candidate=True,
    )
    node2 = o.Node(
        uuid="00000000-0000-4000-8000-000000000012",
        name="node2.example.com",
        primary_ip="192.0.2.12",
        group=group.uuid,
    )
    web = o.Instance(
        uuid="00000000-0000-4000-8000-000000000021",
        name="web1.example.com",
        primary_node=node1.uuid,
        os="noop",
        hypervisor="fake",
        disk_template="diskless",
        beparams={"maxmem": 512, "minmem": 256},
        nics=(o.Nic(uuid="00000000-0000-4000-8000-000000000031", mac="aa:00:00:00:00:01"),),
        admin_state=o.AdminState.UP,
    )
    db = o.Instance(
        uuid="00000000-0000-4000-8000-000000000022",
        name="db1.example.com",
        primary_node=node2.uuid,
        os="debootstrap+default",
        hypervisor="fake",
        disk_template="file",
        disks=(
            o.Disk(
                uuid="00000000-0000-4000-8000-000000000041",
                dev_type="file",
                size=1024,
                iv_name="disk/0",
                nodes=(node2.uuid,),
            ),
        ),
    )
    cluster = o.Cluster(
        uuid="00000000-0000-4000-8000-000000000000",
        cluster_name="cluster.example.com",
        master_node=node1.uuid,
        master_ip="192.0.2.10",
    )
    return o.ConfigData(
        cluster=cluster,
        nodegroups={group.uuid: group},
        nodes={n.uuid: n for n in (node1, node2)},
        instances={i.uuid: i for i in (web, db)},
    )
