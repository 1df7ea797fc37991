"""The cluster score: Ganeti's weighted sum of imbalance and risk metrics.

The terms, weights and order are those ``hbal -v -v`` and ``hinfo`` print
("Cluster coefficients"). Most terms are the population standard deviation
of a per-node ratio over the online nodes; the rest are counts. The std
terms are written as functions of per-node quantities so that hbal and
hail can evaluate thousands of hypothetical node states at once
(:func:`node_metrics`) and combine them with running sums (:class:`Sums`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from corral_htools.table import format_table

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from corral_htools.state import GroupState

    FloatArr = NDArray[np.float64]

#: (name, weight) of every term, in Ganeti's order.
TERMS: tuple[tuple[str, float], ...] = (
    ("free_mem_cv", 0.5),
    ("free_disk_cv", 0.5),
    ("n1_cnt", 1.0),
    ("reserved_mem_cv", 1.0),
    ("offline_all_cnt", 4.0),
    ("offline_pri_cnt", 16.0),
    ("vcpu_ratio_cv", 0.5),
    ("cpu_load_cv", 1.0),
    ("mem_load_cv", 1.0),
    ("disk_load_cv", 1.0),
    ("net_load_cv", 1.0),
    ("pri_tags_score", 2.0),
    ("spindles_cv", 0.5),
    ("free_mem_cv_forth", 0.5),
    ("free_disk_cv_forth", 0.5),
    ("vcpu_ratio_cv_forth", 0.5),
    ("spindles_cv_forth", 0.5),
    ("location_score", 1.0),
    ("location_exclusion_score", 1.0),
    ("reserved_mem_rtotal", 0.25),
)

#: The std-dev terms, as (term name, quantity, static divisor) in evaluation order.
STD_METRICS: tuple[tuple[str, str, str], ...] = (
    ("free_mem_cv", "fmem", "t_mem"),
    ("free_disk_cv", "fdsk", "t_dsk"),
    ("reserved_mem_cv", "rmem", "t_mem"),
    ("vcpu_ratio_cv", "ucpu", "cpu_pool"),
    ("cpu_load_cv", "pload", ""),
    ("mem_load_cv", "pload", ""),
    ("disk_load_cv", "dload", ""),
    ("net_load_cv", "pload", ""),
    ("spindles_cv", "spin", "hi_spindles"),
    ("free_mem_cv_forth", "fmem_f", "t_mem"),
    ("free_disk_cv_forth", "fdsk_f", "t_dsk"),
    ("vcpu_ratio_cv_forth", "ucpu_f", "cpu_pool"),
    ("spindles_cv_forth", "spin_f", "hi_spindles"),
)

WEIGHTS = dict(TERMS)


def _safe_inv(x: FloatArr) -> FloatArr:
    out = np.zeros_like(x)
    np.divide(1.0, x, out=out, where=x != 0)
    return out


@dataclass
class Metric:
    """One std term after merging identical ones: quantity, divisor, weight."""

    quantity: str
    divisor: str
    weight: float
    names: tuple[str, ...]


def merged_metrics(state: GroupState) -> list[Metric]:
    """The std terms, with those that are provably identical merged (weights add).

    The three network/cpu/memory load terms always coincide (one utilisation
    per instance); the forthcoming variants coincide with the plain ones when
    no instance is forthcoming (free memory still differs: down instances).
    """
    no_forth = not bool(state.forth.any())
    alias = {"fdsk_f": "fdsk", "ucpu_f": "ucpu", "spin_f": "spin"} if no_forth else {}
    merged: dict[tuple[str, str], Metric] = {}
    for name, qty, div in STD_METRICS:
        key = (alias.get(qty, qty), div)
        if key in merged:
            old = merged[key]
            merged[key] = Metric(old.quantity, div, old.weight + WEIGHTS[name], (*old.names, name))
        else:
            merged[key] = Metric(key[0], div, WEIGHTS[name], (name,))
    return list(merged.values())


class Statics:
    """Inverse divisors per node, so a ratio is a multiplication."""

    def __init__(self, state: GroupState) -> None:
        self.inv = {
            "t_mem": _safe_inv(state.t_mem),
            "t_dsk": _safe_inv(state.t_dsk),
            "cpu_pool": _safe_inv(state.t_cpu * state.cpu_speed),
            "hi_spindles": _safe_inv(state.hi_spindles),
            "": np.ones(state.n),
        }


def quantities(state: GroupState) -> dict[str, FloatArr]:
    """The per-node quantities the std terms are ratios of."""
    return {
        "fmem": state.fmem,
        "fmem_f": state.fmem_f,
        "fdsk": state.fdsk,
        "fdsk_f": state.fdsk_f,
        "rmem": state.rmem,
        "ucpu": state.ucpu,
        "ucpu_f": state.ucpu_f,
        "pload": state.pload,
        "dload": state.dload,
        "spin": state.spin,
        "spin_f": state.spin_f,
    }


def std(values: FloatArr) -> float:
    if values.size == 0:
        return 0.0
    mean = values.mean()
    return float(np.sqrt(np.mean((values - mean) ** 2)))


def detailed(state: GroupState) -> list[tuple[str, float, float]]:
    """Every term as (name, value, weight), computed from scratch."""
    online = state.online
    statics = Statics(state)
    q = quantities(state)
    values: dict[str, float] = {}
    for name, qty, div in STD_METRICS:
        values[name] = std((q[qty] * statics.inv[div])[online])
    cnt = state.pcnt + state.scnt
    values["n1_cnt"] = float(cnt[state.fail_n1()].sum())
    values["offline_all_cnt"] = float(cnt[state.offline].sum())
    values["offline_pri_cnt"] = float(state.pcnt[state.offline].sum())
    values["pri_tags_score"] = float(state.tag_conflicts()[online].sum())
    values["location_score"] = float(state.location_conflicts().sum())
    values["location_exclusion_score"] = state.location_exclusion()
    values["reserved_mem_rtotal"] = float((state.rmem * statics.inv["t_mem"])[online].sum())
    return [(name, values[name], weight) for name, weight in TERMS]


def score(state: GroupState) -> float:
    """The cluster score of the current placement."""
    return float(sum(v * w for _, v, w in detailed(state)))


def coefficients_table(state: GroupState, title: str) -> list[str]:
    """The coefficients table ``hbal -v -v`` prints."""
    terms = detailed(state)
    total = sum(v * w for _, v, w in terms)
    rows = [(name, f"{value:.8f}", f"x{weight:.2f}") for name, value, weight in terms]
    table = format_table("   ", ("Field", "Value", "Weight"), rows, (False, True, True))
    return [f"{title} {total:.8f}", *table]
