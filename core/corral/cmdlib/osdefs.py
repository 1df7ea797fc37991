"""``gnt-os`` (OP_OS_DIAGNOSE): which OS definitions the nodes have, and whether they are usable.

Every online node is asked at once; an OS is valid for the cluster only
where it is valid on every node that answered, as in Ganeti (an instance
may move to any of them). A node that does not answer is reported, never
taken as agreeing.
"""

from __future__ import annotations

from typing import Any

from corral.api.errors import OpPrereqError
from corral.cmdlib.base import LogicalUnit

#: What OP_OS_DIAGNOSE can report per OS (Ganeti's output fields).
FIELDS = (
    "name",
    "valid",
    "variants",
    "parameters",
    "api_versions",
    "node_status",
    "hidden",
    "blacklisted",
    "os_hvp",
    "osparams",
)


class LUOsDiagnose(LogicalUnit):
    OP_ID = "OP_OS_DIAGNOSE"
    REQ_BGL = False
    IDEMPOTENT = True

    def check_arguments(self) -> None:
        unknown = [f for f in self.op.output_fields if f not in FIELDS]
        if unknown:
            raise OpPrereqError(
                f"Unknown output fields selected: {', '.join(unknown)} (known: {', '.join(FIELDS)})"
            )

    async def execute(self) -> Any:
        cfg = self.master.config
        online = [n for _, n in sorted(cfg.nodes.items()) if not n.offline]
        answers = await self.master.rpc.call_many(
            self.master.targets(online), "os_diagnose", timeout=60
        )
        per_os: dict[str, dict[str, list[dict[str, Any]]]] = {}
        failed = []
        for node in online:
            answer = answers[node.name]
            if not answer.ok:
                failed.append(node.name)
                self.feedback(f"WARNING: node {node.name} did not answer: {answer.error}")
                continue
            for entry in answer.result:
                per_os.setdefault(entry["name"], {}).setdefault(node.name, []).append(entry)
        wanted = set(self.op.names or per_os)
        rows = []
        for name in sorted(wanted):
            by_node = per_os.get(name, {})
            first = {n: entries[0] for n, entries in by_node.items()}  # the one each node uses
            valid = (
                bool(first)
                and not failed
                and len(first) == len(online)
                and all(e["valid"] for e in first.values())
            )
            variants = _common([set(e["variants"]) for e in first.values()])
            params = _common([{p[0] for p in e["parameters"]} for e in first.values()])
            apis = _common([set(e["api_versions"]) for e in first.values()])
            info = {
                "name": name,
                "valid": valid,
                "variants": sorted(variants),
                "parameters": sorted(
                    {tuple(p) for e in first.values() for p in e["parameters"] if p[0] in params}
                ),
                "api_versions": sorted(apis),
                "node_status": {
                    n: [
                        [
                            e["path"],
                            e["valid"],
                            e["diagnose"],
                            e["variants"],
                            e["parameters"],
                            e["api_versions"],
                        ]
                        for e in entries
                    ]
                    for n, entries in sorted(by_node.items())
                },
                "hidden": name in cfg.cluster.hidden_os,
                "blacklisted": name in cfg.cluster.blacklisted_os,
                "os_hvp": cfg.cluster.os_hvp.get(name, {}),
                "osparams": cfg.cluster.osparams.get(name, {}),
            }
            rows.append([info[f] for f in self.op.output_fields])
        return rows


def _common(sets: list[set[Any]]) -> set[Any]:
    return set.intersection(*sets) if sets else set()
