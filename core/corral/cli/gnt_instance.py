"""``gnt-instance``: the instances of the cluster, with Ganeti's options."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING
from typing import Any

from corral.api.cli import Command
from corral.api.errors import CorralError
from corral.api.errors import OpPrereqError
from corral.cli import tags
from corral.cli.jobs import JobFailure
from corral.cli.jobs import add_submit_options
from corral.cli.jobs import make_opcode
from corral.cli.jobs import poll_job
from corral.cli.jobs import submit
from corral.cli.jobs import submit_and_wait
from corral.cli.options import add_group_move_options
from corral.cli.options import hv_key_values
from corral.cli.options import key_values
from corral.cli.options import parse_size
from corral.cli.query import format_unit
from corral.cli.query import list_commands
from corral.cli.tool import ask_user
from corral.cli.tool import run_tool
from corral.luxi.client import Client

if TYPE_CHECKING:
    from collections.abc import Sequence

#: The columns of a plain ``list``, Ganeti's.
DEFAULT_FIELDS = ["name", "hypervisor", "os", "pnode", "status", "oper_ram"]


def indexed_params(text: str) -> tuple[str, dict[str, Any]]:
    """``--disk 0:size=10g,mode=rw`` / ``--net 0:link=br0`` -> ("0", {...})."""
    index, sep, rest = text.partition(":")
    if not sep and not index.isdigit():
        index, rest = "", text
    return index, key_values(rest) if rest else {}


def _disks(args: argparse.Namespace) -> list[dict[str, Any]]:
    if args.sd_size is not None and args.disks:
        raise OpPrereqError("give either -s SIZE or --disk options, not both")
    if args.sd_size is not None:
        return [{"size": args.sd_size}]
    disks: dict[int, dict[str, Any]] = {}
    for index, params in args.disks:
        try:
            number = int(index)
        except ValueError:
            raise OpPrereqError(f"invalid disk index {index!r} in --disk") from None
        if "size" in params:
            try:
                params["size"] = parse_size(params["size"])
            except argparse.ArgumentTypeError as err:
                raise OpPrereqError(f"disk {number}: {err}") from None
        disks[number] = params
    if disks and sorted(disks) != list(range(len(disks))):
        raise OpPrereqError(f"disk indices must be 0..{len(disks) - 1}, got {sorted(disks)}")
    return [disks[i] for i in sorted(disks)]


def _nics(args: argparse.Namespace) -> list[dict[str, Any]]:
    if args.no_nics:
        return []
    if not args.nics:
        return [{}]  # Ganeti's default: one NIC with the cluster's NIC parameters
    nics: dict[int, dict[str, Any]] = {}
    for index, params in args.nics:
        nics[int(index or len(nics))] = params
    return [nics[i] for i in sorted(nics)]


def _configure_add(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add(
        "-t",
        "--disk-template",
        required=True,
        metavar="TEMPLATE",
        help="disk template: diskless, file, sharedfile, plain, drbd, ... (must be enabled)",
    )
    add("-o", "--os-type", metavar="OS[+VARIANT]", help="the OS definition to install")
    add(
        "-O",
        "--os-parameters",
        type=key_values,
        default={},
        metavar="KEY=VAL[,...]",
        help="OS parameters",
    )
    add(
        "-B",
        "--backend-parameters",
        type=key_values,
        default={},
        metavar="KEY=VAL[,...]",
        help="backend parameters: maxmem, minmem (or memory for both), vcpus, spindle_use, ...",
    )
    add(
        "-H",
        "--hypervisor-parameters",
        type=hv_key_values,
        metavar="HV[:KEY=VAL,...]",
        help="the hypervisor and its parameters (default: the cluster's first)",
    )
    add(
        "--disk",
        dest="disks",
        action="append",
        type=indexed_params,
        default=[],
        metavar="N:size=SIZE[,mode=ro|rw,name=NAME]",
        help="a disk (repeat for more)",
    )
    add(
        "-s",
        "--os-size",
        dest="sd_size",
        type=parse_size,
        metavar="SIZE",
        help="one disk of SIZE (512m, 10g, 1t)",
    )
    add(
        "--net",
        dest="nics",
        action="append",
        type=indexed_params,
        default=[],
        metavar="N:[mac=MAC,ip=IP,mode=MODE,link=LINK,network=NET]",
        help="a network interface (repeat for more; default: one with cluster defaults)",
    )
    add("--no-nics", action="store_true", help="create the instance without NICs")
    add(
        "-n",
        "--node",
        metavar="PNODE[:SNODE]",
        help="the primary (and secondary) node; without it the iallocator chooses",
    )
    add(
        "-I",
        "--iallocator",
        metavar="NAME",
        help="the allocator that chooses the nodes ('.' for the cluster's default)",
    )
    add("-g", "--node-group", metavar="GROUP", help="place the instance in this node group")
    add("--no-start", dest="start", action="store_false", help="do not start the instance")
    add("--no-install", action="store_true", help="do not run the OS create scripts")
    add(
        "--no-name-check",
        dest="name_check",
        action="store_false",
        help="do not resolve the instance name (implies --no-ip-check)",
    )
    add(
        "--no-ip-check",
        dest="ip_check",
        action="store_false",
        help="do not check that the instance's IP is unused",
    )
    add("--force-variant", action="store_true", help="accept an OS variant that is not listed")
    add("--ignore-ipolicy", action="store_true", help="ignore the instance policy")
    add("--tags", default="", metavar="TAG[,...]", help="tags for the new instance")
    add_submit_options(parser)
    add("instance", metavar="INSTANCE", help="the new instance's name")  # fmt: skip


def _add(args: argparse.Namespace) -> int:
    """Create an instance: disks, OS install, start (each can be left out)."""
    hypervisor, hvparams = args.hypervisor_parameters or (None, {})
    pnode, snode = None, None
    if args.node:
        pnode, _, snode_text = args.node.partition(":")
        snode = snode_text or None
    op = make_opcode(
        "OP_INSTANCE_CREATE",
        instance_name=args.instance,
        disk_template=args.disk_template,
        os_type=args.os_type,
        osparams=args.os_parameters,
        beparams=args.backend_parameters,
        hypervisor=hypervisor,
        hvparams=hvparams,
        disks=_disks(args),
        nics=_nics(args),
        pnode=pnode,
        snode=snode,
        iallocator=args.iallocator,
        group_name=args.node_group,
        start=args.start and not args.no_install,  # Ganeti: --no-install disables the start
        no_install=args.no_install,
        name_check=args.name_check,
        ip_check=args.ip_check and args.name_check,
        force_variant=args.force_variant,
        ignore_ipolicy=args.ignore_ipolicy,
        tags=[t for t in args.tags.split(",") if t],
        mode="create",
    )
    submit(args, op)
    return 0


_INFO_FIELDS = [
    "name", "uuid", "serial_no", "ctime", "mtime", "admin_state", "oper_state", "pnode",
    "snodes", "os", "hypervisor", "disk_template", "be/maxmem", "be/minmem", "be/vcpus",
    "be/spindle_use", "be/auto_balance", "be/always_failover", "oper_ram", "disk.sizes",
    "disk.names", "nic.macs", "nic.ips", "nic.modes", "nic.links", "tags", "status",
    "custom_hvparams",
]  # fmt: skip


def _on_primary(disk: dict[str, Any], pnode: str) -> str:
    """Ganeti's "on primary" line of a disk: where the node found it, or why not."""
    status = disk.get("pstatus")
    if status is None:
        return f"unknown (node {pnode} did not answer)"
    if status.get("dev_path") is None:
        return f"missing on {pnode}, status *DEGRADED*"
    return f"{status['dev_path']}, status ok"


def info_lines(
    row: dict[str, Any], data: dict[str, Any] | None = None, static: bool = False
) -> list[str]:
    """``gnt-instance info``, laid out as Ganeti lays it out (the parts corral has).

    ``data`` is the instance's OP_INSTANCE_QUERY_DATA answer (disk details);
    ``static`` (``-s``) leaves out what only the nodes know.
    """
    running = "running" if row["oper_state"] else "not running"
    lines = [
        f"Instance name: {row['name']}",
        f"UUID: {row['uuid']}",
        f"Serial number: {row['serial_no']}",
        f"State: configured to be {row['admin_state']}, actual state is {running}",
        "  Nodes:",
        f"    - primary: {row['pnode']}",
        f"    - secondaries: {', '.join(row['snodes'] or [])}",
        f"  Operating system: {row['os']}",
        f"  Hypervisor: {row['hypervisor']}",
        f"  Disk template: {row['disk_template']}",
        "  Hypervisor parameters:",
        *(f"    {k}: {v}" for k, v in sorted((row["custom_hvparams"] or {}).items())),
        "  Back-end parameters:",
        f"    always_failover: {row['be/always_failover']}",
        f"    auto_balance: {row['be/auto_balance']}",
        f"    maxmem: {row['be/maxmem']}",
        f"    minmem: {row['be/minmem']}",
        f"    spindle_use: {row['be/spindle_use']}",
        f"    vcpus: {row['be/vcpus']}",
        "  NICs:",
    ]
    for index, (mac, ip, mode, link) in enumerate(
        zip(row["nic.macs"], row["nic.ips"], row["nic.modes"], row["nic.links"], strict=True)
    ):
        lines += [f"    - nic/{index}:", f"      MAC: {mac}", f"      IP: {ip}",
                  f"      mode: {mode}", f"      link: {link}"]  # fmt: skip
    lines.append("  Disks:")
    disks = (data or {}).get("disks") or []
    for index, (size, name) in enumerate(zip(row["disk.sizes"], row["disk.names"], strict=True)):
        lines.append(f"    - disk/{index}: {row['disk_template']}, size {format_unit(size, 'h')}")
        disk = disks[index] if index < len(disks) else None
        if disk is not None:
            lines.append(f"      access mode: {disk['mode']}")
            lines.append(f"      logical_id: {disk['logical_id']}")
            if not static:
                lines.append(f"      on primary: {_on_primary(disk, row['pnode'])}")
        lines.append(f"      name: {name}")
        if disk is not None:
            lines.append(f"      UUID: {disk['uuid']}")
    return lines


def _configure_info(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="*", metavar="INSTANCE", help="only these instances")
    parser.add_argument(
        "-s",
        "--static",
        action="store_true",
        help="only the configuration: do not ask the nodes where the disks are",
    )
    parser.add_argument(
        "--all", action="store_true", help="every instance (the default without names)"
    )


def _info(args: argparse.Namespace) -> int:
    """Show the configuration and state of instances."""
    if args.all and args.names:
        raise OpPrereqError("give instance names or --all, not both")
    with Client() as client:
        # The config alone: the job below asks the nodes, running state included.
        rows = client.call("QueryInstances", args.names or [], _INFO_FIELDS, False)
        found = {values[0] for values in rows}
        missing = [n for n in args.names if n not in found]
        if missing:
            raise OpPrereqError(f"Instance {', '.join(missing)} does not exist")
        data: dict[str, Any] = {}
        if found:  # the disks' details, as Ganeti's info gets them: a job
            op = make_opcode("OP_INSTANCE_QUERY_DATA", instances=sorted(found), static=args.static)
            _, results = submit_and_wait(client, [op], args)
            data = results[0] if results else {}
    for values in rows:
        row = dict(zip(_INFO_FIELDS, values, strict=True))
        described = data.get(row["name"])
        row["oper_state"] = described is not None and described.get("run_state") == "up"
        for line in info_lines(row, described, args.static):
            print(line)
    return 0


def _instances_option(parser: argparse.ArgumentParser) -> None:
    add_submit_options(parser)
    parser.add_argument("instances", nargs="+", metavar="INSTANCE", help="the instance(s)")


def _run_each(args: argparse.Namespace, op_id: str, **fields: Any) -> int:
    """One job per instance, one after another (Ganeti's multi-instance commands)."""
    with Client() as client:
        for name in args.instances:
            submit_and_wait(client, [make_opcode(op_id, instance_name=name, **fields)], args)
    return 0


def _configure_remove(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("-f", "--force", action="store_true", help="do not ask for confirmation")
    add(
        "--shutdown-timeout",
        type=int,
        default=120,
        metavar="SECONDS",
        help="how long the instance has to shut down before it is killed",
    )
    add(
        "--ignore-failures",
        action="store_true",
        help="remove the instance from the config even if its disks cannot be removed",
    )
    _instances_option(parser)  # fmt: skip


def _remove(args: argparse.Namespace) -> int:
    """Remove instances and their disks."""
    for name in args.instances:
        if not args.force and not ask_user(
            f"This will remove the volumes of the instance {name} (including mirrors), thus"
            " removing all the data of the instance. Continue?"
        ):
            return 1
    return _run_each(args, "OP_INSTANCE_REMOVE", shutdown_timeout=args.shutdown_timeout,
                     ignore_failures=args.ignore_failures)  # fmt: skip


def _configure_startup(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("-f", "--force", action="store_true", help="start even if secondary disks are failing")
    add(
        "-B",
        "--backend-parameters",
        type=key_values,
        default={},
        metavar="KEY=VAL",
        help="backend parameters for this start only",
    )
    add(
        "-H",
        "--hypervisor-parameters",
        type=key_values,
        default={},
        metavar="KEY=VAL",
        help="hypervisor parameters for this start only",
    )
    add(
        "--no-remember",
        action="store_true",
        help="start without recording that the instance should run",
    )
    add("--paused", action="store_true", help="start with the CPUs paused")
    add("--ignore-offline", action="store_true", help="ignore an offline primary node")
    _instances_option(parser)  # fmt: skip


def _startup(args: argparse.Namespace) -> int:
    """Start instances."""
    return _run_each(
        args, "OP_INSTANCE_STARTUP", force=args.force, beparams=args.backend_parameters,
        hvparams=args.hypervisor_parameters, no_remember=args.no_remember,
        startup_paused=args.paused, ignore_offline_nodes=args.ignore_offline,
    )  # fmt: skip


def _configure_shutdown(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add(
        "--timeout",
        type=int,
        default=120,
        metavar="SECONDS",
        help="how long the guest has to shut down before it is killed (0: at once)",
    )
    add(
        "--no-remember",
        action="store_true",
        help="stop without recording that the instance should stay down",
    )
    add("--ignore-offline", action="store_true", help="mark it down even if its node is offline")
    add("-f", "--force", action="store_true", help="do not ask for confirmation")
    _instances_option(parser)  # fmt: skip


def _shutdown(args: argparse.Namespace) -> int:
    """Stop instances."""
    return _run_each(
        args, "OP_INSTANCE_SHUTDOWN", timeout=args.timeout, no_remember=args.no_remember,
        ignore_offline_nodes=args.ignore_offline,
    )  # fmt: skip


def _configure_reboot(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add(
        "-t",
        "--type",
        dest="reboot_type",
        choices=("soft", "hard", "full"),
        default="soft",
        help="soft (inside the guest), hard (restart the VM) or full (stop, then start)",
    )
    add(
        "--shutdown-timeout",
        type=int,
        default=120,
        metavar="SECONDS",
        help="how long the guest has to shut down before it is killed",
    )
    add("--ignore-secondaries", action="store_true", help="ignore errors on secondary nodes")
    add("-f", "--force", action="store_true", help="do not ask for confirmation")
    _instances_option(parser)  # fmt: skip


def _reboot(args: argparse.Namespace) -> int:
    """Reboot instances."""
    return _run_each(args, "OP_INSTANCE_REBOOT", reboot_type=args.reboot_type,
                     shutdown_timeout=args.shutdown_timeout,
                     ignore_secondaries=args.ignore_secondaries)  # fmt: skip


def _device_change(text: str, what: str, actions: tuple[str, ...]) -> list[Any]:
    """Ganeti's ``[ID:]ACTION[,key=val...]`` (``ACTION:key=val`` too) -> [action, index, params].

    ``ID`` is an index (negative counts from the end) or a name or UUID;
    without one, add appends and remove takes the last device.
    """
    head, sep, rest = text.partition(":")
    index: Any = -1
    first, _, tail = head.partition(",")
    if first in actions:  # no ID: "add:size=1g", "add,size=1g", "remove"
        action, params_text = first, ",".join(x for x in (tail, rest if sep else "") if x)
    else:
        index = int(head) if head.lstrip("-").isdigit() else head
        cut = min((i for i in (rest.find(","), rest.find(":")) if i >= 0), default=len(rest))
        action, params_text = rest[:cut], rest[cut + 1 :]
        if not sep or action not in actions:
            raise argparse.ArgumentTypeError(
                f"invalid {what} change {text!r}: use [N:]add[,key=value...], [N:]remove"
                f" or N:modify,key=value..."
            )
    params = key_values(params_text) if params_text else {}
    if action == "remove" and params:
        raise argparse.ArgumentTypeError(f"a {what} removal takes no parameters: {text!r}")
    if action == "modify" and not params:
        raise argparse.ArgumentTypeError(f"nothing to modify in {text!r}")
    return [action, index, params]


def disk_change(text: str) -> list[Any]:
    """``--disk [N:]add,size=4g``, ``--disk [N:]remove``."""
    change = _device_change(text, "disk", ("add", "remove"))
    params = change[2]
    if "size" in params:
        params["size"] = parse_size(params["size"])
    if change[0] == "add" and "size" not in params:
        raise argparse.ArgumentTypeError(f"a new disk needs a size: {text!r}")
    return change


def nic_change(text: str) -> list[Any]:
    """``--net [N:]add[,link=br0,mac=..,ip=..]``, ``--net [ID:]remove``, ``--net ID:modify,..``."""
    return _device_change(text, "NIC", ("add", "remove", "modify"))


def _configure_modify(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add(
        "-B",
        "--backend-parameters",
        type=key_values,
        default={},
        metavar="KEY=VAL",
        help="backend parameters to change (KEY=default resets one)",
    )
    add(
        "-H",
        "--hypervisor-parameters",
        type=key_values,
        default={},
        metavar="KEY=VAL",
        help="hypervisor parameters to change",
    )
    add(
        "-O",
        "--os-parameters",
        type=key_values,
        default={},
        metavar="KEY=VAL",
        help="OS parameters to change",
    )
    add("-o", "--os-type", metavar="OS", help="record another OS (no reinstall)")
    add("--force-variant", action="store_true", help="accept an unlisted OS variant")
    add(
        "--disk",
        dest="disks",
        action="append",
        type=disk_change,
        default=[],
        metavar="[N:]add,size=SIZE|[N:]remove",
        help="add or remove a disk (repeat for more)",
    )
    add(
        "--net",
        dest="nics",
        action="append",
        type=nic_change,
        default=[],
        metavar="[N:]add[,link=..,mac=..,ip=..,mode=..]|[ID:]remove|ID:modify,KEY=VAL",
        help="add, remove or change a NIC (repeat for more; at the next start)",
    )
    add(
        "--offline",
        dest="offline",
        action="store_const",
        const=True,
        help="mark the (stopped) instance offline",
    )
    add(
        "--online",
        dest="offline",
        action="store_const",
        const=False,
        help="mark an offline instance online (down) again",
    )
    add("--ignore-ipolicy", action="store_true", help="ignore the instance policy")
    add(
        "--hotplug",
        action="store_true",
        help="apply disk and NIC changes to the running instance (refused where the"
        " hypervisor cannot)",
    )
    add(
        "--hotplug-if-possible",
        action="store_true",
        help="hot-plug where the hypervisor can, else apply the changes at the next start",
    )
    add("-f", "--force", action="store_true", help="force the change")
    add_submit_options(parser)
    add("instance", metavar="INSTANCE", help="the instance")  # fmt: skip


def _modify(args: argparse.Namespace) -> int:
    """Change an instance's parameters, disks and NICs (most take effect at the next start)."""
    op = make_opcode(
        "OP_INSTANCE_SET_PARAMS", instance_name=args.instance,
        beparams=args.backend_parameters, hvparams=args.hypervisor_parameters,
        osparams=args.os_parameters, os_name=args.os_type, force_variant=args.force_variant,
        disks=args.disks, nics=args.nics, offline=args.offline,
        ignore_ipolicy=args.ignore_ipolicy, force=args.force, hotplug=args.hotplug,
        hotplug_if_possible=args.hotplug_if_possible,
    )  # fmt: skip
    status, results = submit(args, op)
    if status is None:
        return 0
    changes = results[0] or []
    if changes:
        print(f"Modified instance {args.instance}")
        for name, value in changes:
            print(f" - {name} -> {value}")
        print("Please don't forget that most parameters take effect only at the next (re)start"
              " of the instance initiated by corral; restarting from within the instance will"
              " not be enough.")  # fmt: skip
    return 0


def _configure_grow(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--absolute", action="store_true", help="AMOUNT is the new size, not an increase")
    add("--ignore-ipolicy", action="store_true", help="ignore the instance policy")
    add("--no-wait-for-sync", action="store_true", help="do not wait for mirrors to sync")
    add_submit_options(parser)
    add("instance", metavar="INSTANCE", help="the instance")
    add("disk", type=int, metavar="DISK", help="the disk's index (0 for the first)")
    add("amount", type=parse_size, metavar="AMOUNT", help="how much to add (512m, 2g, ...)")


def _grow(args: argparse.Namespace) -> int:
    """Grow one of an instance's disks."""
    op = make_opcode(
        "OP_INSTANCE_GROW_DISK", instance_name=args.instance, disk=args.disk,
        amount=args.amount, absolute=args.absolute, ignore_ipolicy=args.ignore_ipolicy,
        wait_for_sync=not args.no_wait_for_sync,
    )  # fmt: skip
    submit(args, op)
    return 0


def add_migration_options(parser: argparse.ArgumentParser) -> None:
    """What ``gnt-instance migrate`` and ``gnt-node migrate`` share."""
    add = parser.add_argument
    add("-f", "--force", action="store_true", help="do not ask for confirmation")
    add(
        "--non-live",
        dest="live",
        action="store_const",
        const=False,
        help="pause the instance while it moves",
    )
    add(
        "--migration-mode",
        dest="mode",
        choices=("live", "non-live"),
        help="live or non-live (default: the hypervisor's migration_mode)",
    )
    add("-n", "--target-node", metavar="NODE", help="the node to move to (shared storage)")
    add("-I", "--iallocator", metavar="NAME", help="the allocator that chooses the target")
    add("--ignore-ipolicy", action="store_true", help="ignore the target's instance policy")
    add_submit_options(parser)  # fmt: skip


def _configure_migrate(parser: argparse.ArgumentParser) -> None:
    add_migration_options(parser)
    parser.add_argument(
        "--allow-failover",
        action="store_true",
        help="fail over instead when the instance cannot be migrated",
    )
    parser.add_argument("--cleanup", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("instance", metavar="INSTANCE", help="the instance")  # fmt: skip


def _migrate(args: argparse.Namespace) -> int:
    """Move a running instance to another node without stopping it."""
    if args.cleanup:
        raise OpPrereqError("--cleanup is not needed in corral: a failed migration undoes itself")
    if not args.force and not ask_user(
        f"Instance {args.instance} will be migrated. Note that migration might impact the"
        " instance if anything goes wrong (e.g. due to bugs in the hypervisor). Continue?"
    ):
        return 1
    op = make_opcode(
        "OP_INSTANCE_MIGRATE", instance_name=args.instance, live=args.live, mode=args.mode,
        target_node=args.target_node, iallocator=args.iallocator,
        allow_failover=args.allow_failover, ignore_ipolicy=args.ignore_ipolicy,
    )  # fmt: skip
    submit(args, op)
    return 0


def _add_stop_options(parser: argparse.ArgumentParser, consistency_help: str) -> None:
    """``--ignore-consistency`` and ``--shutdown-timeout``, as failover and move take them."""
    parser.add_argument("--ignore-consistency", action="store_true", help=consistency_help)
    parser.add_argument(
        "--shutdown-timeout",
        type=int,
        default=120,
        metavar="SECONDS",
        help="how long the instance has to shut down before it is killed",
    )


def _configure_failover(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("-f", "--force", action="store_true", help="do not ask for confirmation")
    _add_stop_options(
        parser, "go on even if the instance cannot be stopped on its node (the node is down)"
    )
    add("-n", "--target-node", metavar="NODE", help="the node to fail over to")
    add("-I", "--iallocator", metavar="NAME", help="the allocator that chooses the target")
    add("--ignore-ipolicy", action="store_true", help="ignore the target's instance policy")
    add_submit_options(parser)
    add("instance", metavar="INSTANCE", help="the instance")  # fmt: skip


def _failover(args: argparse.Namespace) -> int:
    """Stop an instance and start it on another node."""
    if not args.force and not ask_user(
        f"Failover will happen to image {args.instance}. This requires a shutdown of the"
        " instance. Continue?"
    ):
        return 1
    op = make_opcode(
        "OP_INSTANCE_FAILOVER", instance_name=args.instance,
        ignore_consistency=args.ignore_consistency, shutdown_timeout=args.shutdown_timeout,
        target_node=args.target_node, iallocator=args.iallocator,
        ignore_ipolicy=args.ignore_ipolicy,
    )  # fmt: skip
    submit(args, op)
    return 0


def _configure_move(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("-f", "--force", action="store_true", help="do not ask for confirmation")
    add("-n", "--target-node", required=True, metavar="NODE", help="the node to move to")
    _add_stop_options(parser, "copy the disks even if the instance cannot be stopped on its node")
    add("--compress", default="none", metavar="TOOL", help="compression for the copy: none")
    add("--ignore-ipolicy", action="store_true", help="ignore the target's instance policy")
    add_submit_options(parser)
    add("instance", metavar="INSTANCE", help="the instance")


def _move(args: argparse.Namespace) -> int:
    """Copy an instance's disks to another node and move it there."""
    if not args.force and not ask_user(
        f"Instance {args.instance} will be moved. This requires a shutdown of the instance."
        " Continue?"
    ):
        return 1
    op = make_opcode(
        "OP_INSTANCE_MOVE", instance_name=args.instance, target_node=args.target_node,
        shutdown_timeout=args.shutdown_timeout, ignore_consistency=args.ignore_consistency,
        compress=args.compress, ignore_ipolicy=args.ignore_ipolicy,
    )  # fmt: skip
    submit(args, op)
    return 0


def _configure_recreate(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add(
        "--disk",
        dest="disks",
        action="append",
        default=[],
        type=indexed_params,
        metavar="N[:size=SIZE,mode=ro|rw,spindles=N]",
        help="recreate only this disk, optionally changed (repeat for more)",
    )
    add("-n", "--node", metavar="PNODE[:SNODE]", help="make the disks on these nodes")
    add("-I", "--iallocator", metavar="NAME", help="let an allocator choose the new nodes")
    add_submit_options(parser)
    add("instance", metavar="INSTANCE", help="the (stopped) instance")


def recreate_disks(entries: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    """``--disk`` options as the opcode's ``disks``: indices, or [index, changes] pairs."""
    out: list[Any] = []
    for index, params in entries:
        if not index.isdigit():
            raise OpPrereqError(f"invalid disk index {index!r} in --disk (N[:size=...])")
        if "size" in params:
            try:
                params["size"] = parse_size(params["size"])
            except argparse.ArgumentTypeError as err:
                raise OpPrereqError(f"disk {index}: {err}") from None
        if "spindles" in params:
            try:
                params["spindles"] = int(params["spindles"])
            except ValueError:
                raise OpPrereqError(f"disk {index}: spindles must be a number") from None
        out.append([int(index), params])
    if out and all(not params for _, params in out):
        return [index for index, _ in out]
    return out


def _recreate(args: argparse.Namespace) -> int:
    """Make an instance's missing disks again (empty)."""
    nodes = args.node.split(":") if args.node else []
    op = make_opcode(
        "OP_INSTANCE_RECREATE_DISKS", instance_name=args.instance,
        disks=recreate_disks(args.disks), nodes=nodes, iallocator=args.iallocator,
    )  # fmt: skip
    submit(args, op)
    return 0


def _configure_change_group(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add_group_move_options(parser)
    add_submit_options(parser)
    add("instance", metavar="INSTANCE", help="the instance")


def _change_group(args: argparse.Namespace) -> int:
    """Move an instance to another node group."""
    op = make_opcode(
        "OP_INSTANCE_CHANGE_GROUP", instance_name=args.instance, iallocator=args.iallocator,
        target_groups=args.to or None,
    )  # fmt: skip
    submit(args, op)
    return 0


def _configure_reinstall(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("-o", "--os-type", metavar="OS[+VARIANT]", help="install this OS instead")
    add(
        "-O",
        "--os-parameters",
        type=key_values,
        metavar="KEY=VAL",
        help="OS parameters for this install",
    )
    add("--force-variant", action="store_true", help="accept an unlisted OS variant")
    add("-f", "--force", action="store_true", help="do not ask for confirmation")
    _instances_option(parser)  # fmt: skip


def _reinstall(args: argparse.Namespace) -> int:
    """Reinstall the OS of stopped instances (their disks are overwritten)."""
    for name in args.instances:
        if not args.force and not ask_user(f"This will reinstall the instance '{name}' and"
                                           " remove all data. Continue?"):  # fmt: skip
            return 1
    return _run_each(args, "OP_INSTANCE_REINSTALL", os_type=args.os_type,
                     osparams=args.os_parameters, force_variant=args.force_variant)  # fmt: skip


def _configure_rename(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add(
        "--no-name-check",
        dest="name_check",
        action="store_false",
        help="do not resolve the new name",
    )
    add("--no-ip-check", dest="ip_check", action="store_false", help="do not check the IP")
    add_submit_options(parser)
    add("instance", metavar="INSTANCE", help="the instance")
    add("new_name", metavar="NEW_NAME", help="its new name")  # fmt: skip


def _rename(args: argparse.Namespace) -> int:
    """Give a stopped instance a new name (its OS's rename script runs)."""
    op = make_opcode(
        "OP_INSTANCE_RENAME",
        instance_name=args.instance,
        new_name=args.new_name,
        name_check=args.name_check,
        ip_check=args.ip_check and args.name_check,
    )
    status, results = submit(args, op)
    if status:
        print(f"Instance '{args.instance}' renamed to '{results[0]}'")
    return 0


def _configure_console(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--show-cmd",
        action="store_true",
        help="print the command that reaches the console instead of running it",
    )
    parser.add_argument("instance", metavar="INSTANCE", help="the instance")  # fmt: skip


def _console(args: argparse.Namespace) -> int:
    """Connect to an instance's console (or say how)."""
    with Client() as client:
        _status, results = submit_and_wait(
            client, [make_opcode("OP_INSTANCE_CONSOLE", instance_name=args.instance)], args
        )
    info = results[0]
    if info["kind"] == "message":
        print(info["message"])
        return 0
    command = list(info.get("command") or [])
    if not command:
        print(
            f"Console of {args.instance}: {info['kind']} at {info.get('host')}:{info.get('port')}"
        )
        return 0
    if args.show_cmd:
        print(" ".join(command))
        return 0
    os.execvp(command[0], command)
    return 1  # not reached: exec replaced this process


def _configure_disks(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-f", "--force", action="store_true", help="(deactivate) even if the instance runs"
    )
    parser.add_argument("--ignore-size", action="store_true", help=argparse.SUPPRESS)
    add_submit_options(parser)
    parser.add_argument("instance", metavar="INSTANCE", help="the instance")  # fmt: skip


def _activate_disks(args: argparse.Namespace) -> int:
    """Make an instance's disks usable on its primary node, and print where they are."""
    op = make_opcode("OP_INSTANCE_ACTIVATE_DISKS", instance_name=args.instance)
    status, results = submit(args, op)
    for node, disk, path in results[0] if status else []:
        print(f"{node}:{disk}:{path}")
    return 0


def _deactivate_disks(args: argparse.Namespace) -> int:
    """Release an instance's disks on its node (it must be stopped unless --force)."""
    op = make_opcode("OP_INSTANCE_DEACTIVATE_DISKS", instance_name=args.instance,
                     force=args.force)  # fmt: skip
    submit(args, op)
    return 0


def _configure_batch(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-I", "--iallocator", metavar="NAME", help="the allocator for every instance of the batch"
    )
    parser.add_argument(
        "--submit",
        dest="submit_only",
        action="store_true",
        help="submit the jobs and print their IDs, but do not wait",
    )
    parser.add_argument("file", metavar="INSTANCES.json",
                        help="a JSON array of OP_INSTANCE_CREATE parameter dicts")  # fmt: skip


def _batch_create(args: argparse.Namespace) -> int:
    """Create many instances from a JSON file: all are checked before any job is sent."""
    try:
        with open(args.file, encoding="utf-8") as source:
            entries = json.load(source)
    except (OSError, ValueError) as err:
        raise OpPrereqError(f"cannot read {args.file}: {err}") from None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise OpPrereqError(f"{args.file} must hold a JSON array of objects (one per instance)")
    jobs = []
    for index, entry in enumerate(entries):
        if "iallocator" in entry:
            raise OpPrereqError(
                f"instance {index} ({entry.get('instance_name')}): the iallocator is set for"
                " the whole batch, with -I"
            )
        fields = {"mode": "create", **entry}
        if args.iallocator:
            fields["iallocator"] = args.iallocator
        try:
            jobs.append([make_opcode("OP_INSTANCE_CREATE", **fields)])
        except CorralError as err:
            raise OpPrereqError(f"instance {index} ({entry.get('instance_name')}): {err}") from None
    failed = 0
    with Client() as client:
        answers = client.submit_many_jobs([[op.to_dict() for op in job] for job in jobs])
        ids = [job_id for ok, job_id in answers if ok]
        for (ok, job_id), job in zip(answers, jobs, strict=True):
            if not ok:
                print(
                    f"Job for instance {job[0].instance_name} was refused: {job_id}",
                    file=sys.stderr,
                )
                failed += 1
        print(f"Submitted jobs {', '.join(str(i) for i in ids)}")
        if args.submit_only:
            return 1 if failed else 0
        for job_id, job in zip(ids, [j for (ok, _), j in zip(answers, jobs, strict=True) if ok],
                               strict=True):  # fmt: skip
            name = job[0].instance_name
            try:
                poll_job(client, job_id, feedback=None)
                print(f"{name}: created (job {job_id})")
            except JobFailure as err:
                print(f"{name}: failed (job {job_id}): {err}", file=sys.stderr)
                failed += 1
    return 1 if failed else 0


COMMANDS = [
    *list_commands("instance", "instance", DEFAULT_FIELDS, "Ganeti's default columns"),
    Command("add", "Create an instance", _add, _configure_add),
    Command("batch-create", "Create many instances from a JSON file", _batch_create,
            _configure_batch),
    Command("remove", "Remove instances and their disks", _remove, _configure_remove),
    Command("info", "Show the configuration and state of instances", _info, _configure_info),
    Command("startup", "Start instances", _startup, _configure_startup),
    Command("shutdown", "Stop instances", _shutdown, _configure_shutdown),
    Command("reboot", "Reboot instances", _reboot, _configure_reboot),
    Command("modify", "Change an instance's parameters and disks", _modify, _configure_modify),
    Command("grow-disk", "Grow one of an instance's disks", _grow, _configure_grow),
    Command("migrate", "Move a running instance to another node", _migrate,
            _configure_migrate),
    Command("failover", "Stop an instance and start it on another node", _failover,
            _configure_failover),
    Command("move", "Copy an instance's disks to another node and move it there", _move,
            _configure_move),
    Command("recreate-disks", "Make a stopped instance's missing disks again", _recreate,
            _configure_recreate),
    Command("change-group", "Move an instance to another node group", _change_group,
            _configure_change_group),
    Command("reinstall", "Reinstall the OS of stopped instances", _reinstall,
            _configure_reinstall),
    Command("rename", "Give a stopped instance a new name", _rename, _configure_rename),
    Command("console", "Connect to an instance's console", _console, _configure_console),
    Command("activate-disks", "Make an instance's disks usable on its node", _activate_disks,
            _configure_disks),
    Command("deactivate-disks", "Release an instance's disks on its node", _deactivate_disks,
            _configure_disks),
]  # fmt: skip


COMMANDS += tags.commands("instance", "instance")


def main(argv: Sequence[str] | None = None) -> int:
    return run_tool("gnt-instance", "Instance administration.", COMMANDS, argv)


if __name__ == "__main__":
    raise SystemExit(main())
