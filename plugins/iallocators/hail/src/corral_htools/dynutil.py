"""Dynamic utilisation files (``-U FILE``): ``instance cpu mem dsk net`` per line.

corral's model keeps one utilisation figure per instance, used for all four
load terms; a file's four figures are averaged into it (Ganeti keeps them
apart). Unknown instances are ignored, as Ganeti does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from corral_htools.state import GroupState


def load_util(path: str) -> dict[str, float]:
    """Parse the file; errors name the offending line or value."""
    out: dict[str, float] = {}
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError as err:
        raise ValueError(f"cannot read {path}: {err.strerror}") from None
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 5:
            raise ValueError(f"Cannot parse line {lineno} of {path}: {line!r}")
        values = []
        for raw in fields[1:]:
            try:
                values.append(float(raw))
            except ValueError:
                raise ValueError(f"cannot parse string '{raw}' as a number") from None
        out[fields[0]] = sum(values) / 4.0
    return out


def apply_util(st: GroupState, util: dict[str, float]) -> None:
    for name, value in util.items():
        i = st.inst_index.get(name)
        if i is not None:
            st.util[i] = value
    st.recompute()
