"""Master failover, run on the master candidate that takes over (``gnt-cluster master-failover``).

1. Vote: every node is asked who it thinks the master is. Unless
   ``--no-voting``, more than half of all nodes (this one included) must
   answer, and most of those that answer must name the same master as this
   node does; a candidate cut off in a minority partition therefore cannot
   take over, and neither can one whose view of the cluster is odd.
2. The newest config among the reachable candidates is taken (fetched if
   another candidate has a newer one than this node's replica); this
   node's job queue replica, kept in step with every acknowledged job, is
   the queue.
3. The old master is told to stop its master daemon and cluster IP, if it
   can be reached; if not, it steps down when it comes back (its node
   daemon stops a master daemon once ssconf names another master, and a
   master daemon refuses to start where a node names a newer master).
4. The config is changed to name this node as master, written here, and
   the master daemon started here; it brings the cluster IP up and pushes
   the config to every node.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections import Counter
from typing import TYPE_CHECKING
from typing import Any

from corral import daemonctl
from corral import ssconf
from corral.api.errors import CorralError
from corral.api.errors import OpPrereqError
from corral.config.store import ConfigStore
from corral.config.store import parse
from corral.config.store import serialize
from corral.paths import ca_cert_file
from corral.paths import config_file
from corral.paths import node_cert_file
from corral.paths import ssconf_dir
from corral.rpc.blocking import BlockingRpc
from corral.rpc.client import Target
from corral.rpc.protocol import DEFAULT_PORT

if TYPE_CHECKING:
    from collections.abc import Callable

    from corral.config.objects import ConfigData


def _nodes() -> dict[str, str]:
    """Every node of the cluster with its primary address, from this node's ssconf."""
    return ssconf.read_pairs(ssconf_dir(), "node_primary_ips")


def vote(
    rpc: BlockingRpc, me: str, believed: str, nodes: dict[str, str], feedback: Callable[[str], None]
) -> dict[str, dict[str, Any]]:
    """Ask every other node; refuse without a majority agreeing on ``believed``.

    Returns the answers of the nodes that answered, by name.
    """
    others = [Target(name, ip) for name, ip in sorted(nodes.items()) if name != me]
    answers = rpc.call_many(others, "master_info")
    reached = {name: a for name, a in answers.items() if isinstance(a, dict)}
    for name, answer in sorted(answers.items()):
        if not isinstance(answer, dict):
            feedback(f"  node {name} did not answer: {answer}")
    votes = Counter(str(a.get("master")) for a in reached.values())
    votes[believed] += 1  # this node's own vote
    total = len(nodes)
    answered = len(reached) + 1
    if answered * 2 <= total:
        raise OpPrereqError(
            f"only {answered} of {total} nodes answered (this one included): without a"
            " majority this node may be cut off from the rest, so it does not take over."
            " If the others are really down, use --no-voting (and make sure the old master"
            " is down too)"
        )
    top, count = votes.most_common(1)[0]
    if top != believed or count * 2 <= answered:
        shown = ", ".join(f"{m}: {n}" for m, n in votes.most_common())
        raise OpPrereqError(
            f"the nodes do not agree with this node that {believed} is the master (votes:"
            f" {shown}); check the cluster before failing over, or use --no-voting"
        )
    return reached


def master_failover(no_voting: bool, me: str, feedback: Callable[[str], None]) -> ConfigData:
    state = ssconf_dir()
    believed = ssconf.read(state, "master_node")
    if believed is None:
        raise OpPrereqError("this node is not part of a cluster (it has no ssconf files)")
    if believed == me:
        raise OpPrereqError(f"this node ({me}) is already the master")
    candidates = set(ssconf.read_lines(state, "master_candidates"))
    if me not in candidates:
        raise OpPrereqError(
            f"this node ({me}) is not a master candidate and cannot become master: run"
            f" 'gnt-node modify -C yes {me}' on the master first"
        )
    store = ConfigStore(config_file())
    local = store.load()
    nodes = _nodes()
    port = int(ssconf.read(state, "rpc_port") or DEFAULT_PORT)
    rpc = BlockingRpc(ca_cert_file().read_bytes(), node_cert_file().read_bytes(), port)
    if no_voting:
        feedback("Skipping the vote (--no-voting)")
        answers: dict[str, dict[str, Any]] = {}
    else:
        feedback(f"Asking {len(nodes) - 1} node(s) who the master is")
        answers = vote(rpc, me, believed, nodes, feedback)
    cfg = newest_config(rpc, local, answers, nodes, feedback)
    if believed in nodes:
        feedback(f"Stopping the master role on {believed}")
        try:
            stopped = rpc.call(Target(believed, nodes[believed]), "master_stop",
                               {"reason": f"{me} takes over as master"})  # fmt: skip
            feedback(f"  {believed}: master daemon {'stopped' if stopped else 'was not running'}")
        except CorralError as err:
            feedback(
                f"  WARNING: could not reach {believed} ({err}); it steps down when it comes back"
            )
    new = take_over(cfg, me)
    store.write(serialize(new))
    ssconf.write(state, ssconf.values_from_config(new))
    feedback(f"Starting the master daemon on {me}")
    daemonctl.start("corral-masterd")
    return new


def newest_config(
    rpc: BlockingRpc,
    local: ConfigData,
    answers: dict[str, dict[str, Any]],
    nodes: dict[str, str],
    feedback: Callable[[str], None],
) -> ConfigData:
    """This node's config, or a newer one that another reachable candidate holds."""
    best, serial = None, local.serial_no
    for name, answer in answers.items():
        theirs = int(answer.get("config_serial") or 0)
        if theirs > serial:
            best, serial = name, theirs
    if best is None:
        return local
    feedback(f"Node {best} has a newer config (serial {serial} > {local.serial_no}): taking it")
    text = rpc.call(Target(best, nodes[best]), "config_fetch")
    return parse(json.loads(text), f"the config from {best}")


def take_over(cfg: ConfigData, me: str) -> ConfigData:
    """``cfg`` with ``me`` as master (and a candidate), its serial bumped."""
    node = cfg.node_by_name(me)
    if node is None:
        raise OpPrereqError(f"this node ({me}) is not in the cluster's config")
    now = time.time()
    nodes = {
        **cfg.nodes,
        node.uuid: dataclasses.replace(node, master_candidate=True, offline=False, drained=False),
    }
    cluster = dataclasses.replace(cfg.cluster, master_node=node.uuid, mtime=now)
    return dataclasses.replace(cfg, cluster=cluster, nodes=nodes, serial_no=cfg.serial_no + 1,
                               mtime=now)  # fmt: skip
