"""The fake hypervisor passes the suite every hypervisor plugin runs.

It runs twice: once sizing the node from the host (/proc/meminfo), once
from a node.json as the vcluster writes it.
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING

import pytest
from corral_hv_fake.driver import FakeHypervisor

from corral.api import BlockDevice
from corral.api import InstanceSpec
from corral.api import NicSpec
from corral.testing import HypervisorConformance

if TYPE_CHECKING:
    from pathlib import Path

    from corral.api import DriverContext
    from corral.testing.hypervisor import HypervisorFactory
    from corral.testing.hypervisor import InstanceSpecFactory

NODE_JSON = {"memory_total": 4096, "cpu_total": 4, "memory_dom0": 512}


class TestFakeConformance(HypervisorConformance):
    @pytest.fixture(params=["host-memory", "node-json"])
    def hypervisor_factory(self, request: pytest.FixtureRequest) -> HypervisorFactory:
        def build(ctx: DriverContext) -> FakeHypervisor:
            if request.param == "node-json":
                node_file = ctx.driver_dir("hypervisors", "fake") / "node.json"
                node_file.write_text(json.dumps(NODE_JSON))
            return FakeHypervisor(ctx)

        return build

    @pytest.fixture
    def instance_spec(self, tmp_path: Path) -> InstanceSpecFactory:
        disks = tmp_path / "disks"  # seen by both nodes, like shared storage
        disks.mkdir()

        def make(name: str, memory: int = 128, vcpus: int = 1) -> InstanceSpec:
            disk = disks / f"{name}-disk0.img"
            disk.touch()
            inst_uuid = str(uuid.uuid5(uuid.NAMESPACE_DNS, name))
            return InstanceSpec(
                name=name,
                uuid=inst_uuid,
                memory=memory,
                vcpus=vcpus,
                disks=(BlockDevice(uuid=f"{inst_uuid}-d0", path=str(disk)),),
                nics=(NicSpec(uuid=f"{inst_uuid}-n0", mac="aa:00:00:12:34:56"),),
            )

        return make
