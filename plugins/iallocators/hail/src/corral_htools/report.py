"""Node and instance tables (``-p[FIELDS]``, ``--print-instances``)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from corral_htools.table import format_table

if TYPE_CHECKING:
    from corral_htools.state import GroupState

NodeField = Callable[["GroupState", int], str]


def _i(x: float) -> str:
    return str(round(x))


def _whole(x: float) -> str:
    """A float shown with no decimals, halves rounded up (Haskell's ``%.0f``)."""
    return str(math.floor(x + 0.5))


def _flag(st: GroupState, j: int) -> str:
    if st.offline[j]:
        return "-"
    return "*" if bool(st.fail_n1()[j]) else " "


def _imem(st: GroupState, j: int) -> str:
    return _i(st.t_mem[j] - st.n_mem[j] - st.fmem[j] - max(0.0, st.x_mem[j]))


#: Node fields: name -> (header, numeric, getter); the default list follows.
NODE_FIELDS: dict[str, tuple[str, bool, NodeField]] = {
    "status": ("F", False, _flag),
    "name": ("Name", False, lambda st, j: st.nodes[j].shown),
    "fqdn": ("Name", False, lambda st, j: st.nodes[j].name),
    "tmem": ("t_mem", True, lambda st, j: _i(st.t_mem[j])),
    "nmem": ("n_mem", True, lambda st, j: _i(st.n_mem[j])),
    "imem": ("i_mem", True, _imem),
    "xmem": ("x_mem", True, lambda st, j: _i(st.x_mem[j])),
    # f_mem as reported when loaded; moves change u_mem, the unallocated memory the
    # model tracks (st.fmem), and p_fmem, as in Ganeti
    "fmem": ("f_mem", True, lambda st, j: _i(st.f_mem_reported[j])),
    "umem": ("u_mem", True, lambda st, j: _i(st.fmem[j])),
    "amem": ("a_mem", True, lambda st, j: _i(max(0.0, st.fmem[j] - st.rmem[j]))),
    "rmem": ("r_mem", True, lambda st, j: _i(st.rmem[j])),
    "tdsk": ("t_dsk", True, lambda st, j: _whole(st.t_dsk[j] / 1024)),
    "fdsk": ("f_dsk", True, lambda st, j: str(int(st.fdsk[j]) // 1024)),
    "tcpu": ("pcpu", True, lambda st, j: _whole(st.t_cpu[j])),
    "ucpu": ("vcpu", True, lambda st, j: _i(st.ucpu[j])),
    "pcnt": ("pcnt", True, lambda st, j: _i(st.pcnt[j])),
    "scnt": ("scnt", True, lambda st, j: _i(st.scnt[j])),
    "pfmem": ("p_fmem", True, lambda st, j: f"{_ratio(st.fmem[j], st.t_mem[j]):.4f}"),
    "pfdsk": ("p_fdsk", True, lambda st, j: f"{_ratio(st.fdsk[j], st.t_dsk[j]):.4f}"),
    "rcpu": ("r_cpu", True, lambda st, j: f"{_ratio(st.ucpu[j], st.t_cpu[j]):.2f}"),
    "cload": ("lCpu", True, lambda st, j: f"{st.pload[j]:.3f}"),
    "mload": ("lMem", True, lambda st, j: f"{st.pload[j]:.3f}"),
    "dload": ("lDsk", True, lambda st, j: f"{st.dload[j]:.3f}"),
    "nload": ("lNet", True, lambda st, j: f"{st.pload[j]:.3f}"),
    "ptags": ("PrimaryTags", False, lambda st, j: ""),
    "peermap": ("PeerMap", False, lambda st, j: ""),
    "spindle_count": ("NodeSpindles", True, lambda st, j: _i(st.spindles[j])),
    "hi_spindles": ("MaxSpindles", True, lambda st, j: f"{st.hi_spindles[j]:.2f}"),
    "inst_spindles": ("InstSpindles", True, lambda st, j: f"{st.spin[j]:.2f}"),
}
DEFAULT_NODE_FIELDS = (
    "status name tmem nmem imem xmem fmem umem rmem tdsk fdsk tcpu ucpu pcnt scnt "
    "pfmem pfdsk rcpu cload mload dload nload"
).split()
#: Header names also work as field names (``-pname,pcnt``).
_ALIASES = {spec[0]: key for key, spec in NODE_FIELDS.items()}


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b else 0.0


def parse_fields(spec: str | None) -> list[str]:
    """``-p`` argument to field keys; "+a,b" extends the default list."""
    if not spec:
        return list(DEFAULT_NODE_FIELDS)
    extend = spec.startswith("+")
    names = [f for f in spec.lstrip("+").split(",") if f]
    keys = []
    for name in names:
        key = name if name in NODE_FIELDS else _ALIASES.get(name)
        if key is None:
            raise ValueError(f"unknown node field {name!r}")
        keys.append(key)
    return [*DEFAULT_NODE_FIELDS, *keys] if extend else keys


def node_table(st: GroupState, fields: list[str]) -> list[str]:
    specs = [NODE_FIELDS[f] for f in fields]
    rows = [[get(st, j) for _, _, get in specs] for j in range(st.n)]
    return format_table(" ", [h for h, _, _ in specs], rows, [num for _, num, _ in specs])


def instance_table(st: GroupState) -> list[str]:
    header = ["F", "Name", "Pri_node", "Sec_node", "Auto_bal", "vcpu", "mem", "dsk"]
    header += ["lCpu", "lMem", "lDsk", "lNet"]
    rows = []
    for i, inst in enumerate(st.instances):
        p, s = int(st.pnode[i]), int(st.snode[i])
        util = f"{st.util[i]:.3f}"
        rows.append(
            [
                "R" if inst.running else " ",
                inst.name,
                st.nodes[p].name if p >= 0 else "",
                st.nodes[s].name if s >= 0 else "",
                "Y" if inst.auto_balance else "N",
                f"{inst.vcpus:3d}",
                f"{inst.mem:5d}",
                f"{inst.dsk // 1024:5d}",
                util,
                util,
                util,
                util,
            ]
        )
    numeric = [False, False, False, False, False, True, True, True, True, True, True, True]
    return format_table(" ", header, rows, numeric)
