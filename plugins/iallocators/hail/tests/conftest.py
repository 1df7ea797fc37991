"""Small generated clusters in the text format, shared by the property tests."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st

GROUP = "group-01|uuid-1|preferred||"
POLICY = (
    "|128,1,1024,1,1,1|128,1,1024,1,1,1;65536,16,1048576,16,8,12|"
    "diskless,file,sharedfile,plain,blockdev,drbd,rbd,ext|4.0|32.0"
)


@st.composite
def cluster_text(draw: st.DrawFn, max_nodes: int = 6, max_insts: int = 14) -> str:
    """A one-group cluster: nodes of mixed sizes, DRBD/plain/shared instances, some tags."""
    n = draw(st.integers(2, max_nodes))
    nodes = []
    for j in range(n):
        mem = draw(st.sampled_from([4096, 8192, 16384]))
        cpus = draw(st.sampled_from([4, 8, 16]))
        loc = draw(st.sampled_from(["", "power:a", "power:b"]))
        offline = "Y" if j > 1 and draw(st.integers(0, 9)) == 0 else "N"
        nodes.append([f"node-{j}", mem, 512, mem - 512, 409600, 409600, cpus, offline, loc])
    insts = []
    for k in range(draw(st.integers(1, max_insts))):
        template = draw(st.sampled_from(["drbd", "drbd", "plain", "ext", "diskless"]))
        mem = draw(st.sampled_from([256, 512, 1024, 2048]))
        dsk = draw(st.sampled_from([1024, 10240]))
        p = draw(st.integers(0, n - 1))
        s = ""
        if template == "drbd":
            s_idx = draw(st.integers(0, n - 2))
            s_idx = s_idx + 1 if s_idx >= p else s_idx
            s = f"node-{s_idx}"
        status = draw(st.sampled_from(["running", "running", "ADMIN_down"]))
        tags = draw(st.sampled_from(["", "svc:web", "svc:db"]))
        used = template in ("drbd", "plain")
        if status == "running":
            nodes[p][3] -= mem
        if used:
            nodes[p][5] -= dsk
            if s:
                nodes[int(s.split("-")[1])][5] -= dsk
        vcpus = draw(st.integers(1, 4))
        insts.append(
            f"inst-{k}|{mem}|{dsk if used else 0}|{vcpus}|{status}|Y|node-{p}|{s}|{template}|{tags}|1|-|N"
        )
    node_lines = [
        f"{a}|{b}|{c}|{d}|{e}|{f}|{g}|{h}|uuid-1|2|{loc}|N|0|1|1.0"
        for a, b, c, d, e, f, g, h, loc in nodes
    ]
    tags = ["htools:iextags:svc", "htools:nlocation:power"]
    policies = [POLICY, "group-01" + POLICY]
    return "\n".join([GROUP, "", *node_lines, "", *insts, "", *tags, "", *policies]) + "\n"


@pytest.fixture(scope="session")
def clusters() -> st.SearchStrategy[str]:
    """The generated-cluster strategy (tests draw from it with ``st.data()``)."""
    return cluster_text()
