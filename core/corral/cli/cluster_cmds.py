"""``gnt-cluster`` commands for a running cluster: init, destroy, info, version, queue, ..."""

from __future__ import annotations

import argparse
import time
from typing import Any

from corral import __version__
from corral import bootstrap
from corral import ssconf
from corral.api.cli import Command
from corral.api.errors import CorralError
from corral.api.errors import OpPrereqError
from corral.cli.ipolicy import add_ipolicy_options
from corral.cli.ipolicy import ipolicy_of
from corral.cli.jobs import add_submit_options
from corral.cli.jobs import make_opcode
from corral.cli.jobs import submit
from corral.cli.options import hv_key_values
from corral.cli.options import key_values
from corral.cli.options import name_list
from corral.cli.options import stamp
from corral.cli.options import timespec
from corral.cli.options import yes_no
from corral.cli.tool import ask_user
from corral.config.store import ConfigStore
from corral.failover import master_failover
from corral.hostname import check_name
from corral.hostname import is_ip
from corral.hostname import resolve
from corral.hostname import this_node
from corral.luxi.client import Client
from corral.paths import config_file
from corral.paths import ssconf_dir
from corral.query.cluster import OS_API_VERSION


def add_parameter_options(parser: argparse.ArgumentParser, *, init: bool) -> None:
    """The plugin and parameter options ``init`` and ``modify`` share (Ganeti's names)."""
    add = parser.add_argument
    add(
        "--enabled-hypervisors",
        type=name_list,
        default=("fake",) if init else None,
        metavar="HV[,HV...]",
        help="hypervisors instances may use; the first is the default"
        + (" (default: fake)" if init else ""),
    )
    add(
        "--enabled-disk-templates",
        type=name_list,
        default=("diskless", "file") if init else None,
        metavar="TEMPLATE[,...]",
        help="disk templates instances may use" + (" (default: diskless,file)" if init else ""),
    )
    add(
        "-H",
        "--hypervisor-parameters",
        type=hv_key_values,
        action="append",
        default=[],
        metavar="HV:KEY=VAL[,...]",
        help="cluster-wide parameters of a hypervisor",
    )
    reset = "" if init else "; KEY=default resets one"
    add(
        "-B",
        "--backend-parameters",
        type=key_values,
        default={},
        metavar="KEY=VAL[,...]",
        help=f"cluster-wide backend parameters (maxmem, minmem, vcpus, ...){reset}",
    )
    add(
        "-N",
        "--nic-parameters",
        type=key_values,
        default={},
        metavar="KEY=VAL[,...]",
        help=f"cluster-wide NIC parameters (mode, link){reset}",
    )
    add("--node-parameters", type=key_values, default={}, metavar="KEY=VAL[,...]",
        help=f"cluster-wide node parameters{reset}")  # fmt: skip


# -- init / destroy ------------------------------------------------------------------


def _configure_init(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add(
        "-s",
        "--secondary-ip",
        metavar="ADDRESS",
        help="this node's address on the replication network (makes the cluster dual-homed)",
    )
    add(
        "--primary-ip",
        metavar="ADDRESS",
        help="this node's primary address (corral; default: what this node's name resolves to)",
    )
    add(
        "--master-ip",
        metavar="ADDRESS",
        help="the cluster IP address (corral; default: what the cluster name resolves to)",
    )
    add(
        "--master-netdev",
        default="eth0",
        metavar="INTERFACE",
        help="interface the master activates the cluster IP on (default eth0)",
    )
    add(
        "--master-netmask",
        type=int,
        default=32,
        metavar="BITS",
        help="netmask of the cluster IP, as a prefix length (default 32)",
    )
    add(
        "-m",
        "--mac-prefix",
        default="aa:00:00",
        metavar="PREFIX",
        help="three-byte prefix of generated MAC addresses (default aa:00:00)",
    )
    add(
        "--no-etc-hosts",
        dest="modify_etc_hosts",
        action="store_false",
        help="never modify /etc/hosts",
    )
    add(
        "--file-storage-dir",
        default="/srv/corral/file-storage",
        metavar="DIR",
        help="where 'file' disks live on each node",
    )
    add(
        "--shared-file-storage-dir",
        default="/srv/corral/shared-file-storage",
        metavar="DIR",
        help="where 'sharedfile' disks live (shared by all nodes)",
    )
    add_parameter_options(parser, init=True)
    add("-I", "--default-iallocator", metavar="NAME", help="the default instance allocator")
    add(
        "-C",
        "--candidate-pool-size",
        type=int,
        default=10,
        metavar="N",
        help="how many master candidates the cluster keeps (default 10)",
    )
    add(
        "--maintain-node-health",
        type=yes_no,
        default=False,
        metavar="yes|no",
        help="let the watcher shut down instances that should not run",
    )
    add(
        "--prealloc-wipe-disks",
        type=yes_no,
        default=False,
        metavar="yes|no",
        help="wipe new disks before instances use them",
    )
    add(
        "--rpc-port",
        type=int,
        default=1811,
        metavar="PORT",
        help="TCP port of the node daemons, the same on every node (corral; default 1811)",
    )
    add("cluster_name", metavar="CLUSTER_NAME", help="the cluster's name (a DNS name)")


def _init(args: argparse.Namespace) -> int:
    """Create a cluster with this node as its master."""
    cluster_name = check_name(args.cluster_name, "cluster name")
    node_name = check_name(this_node(), "node name (from the host name or $CORRAL_HOSTNAME)")
    primary_ip = args.primary_ip or resolve(node_name, "this node's name", "--primary-ip")
    master_ip = args.master_ip or resolve(cluster_name, "the cluster name", "--master-ip")
    for value, option in ((primary_ip, "--primary-ip"), (master_ip, "--master-ip"),
                          (args.secondary_ip, "--secondary-ip")):  # fmt: skip
        if value is not None and not is_ip(value):
            raise OpPrereqError(f"{option}: {value!r} is not an IP address")
    if master_ip == primary_ip:
        raise OpPrereqError(
            f"the cluster IP {master_ip} is this node's own address: the cluster name needs an"
            " address of its own, which moves with the master role"
        )
    opts = bootstrap.InitOptions(
        cluster_name=cluster_name,
        node_name=node_name,
        master_ip=master_ip,
        primary_ip=primary_ip,
        secondary_ip=args.secondary_ip,
        master_netdev=args.master_netdev,
        master_netmask=args.master_netmask,
        mac_prefix=args.mac_prefix,
        enabled_hypervisors=args.enabled_hypervisors,
        enabled_disk_templates=args.enabled_disk_templates,
        hvparams=dict(args.hypervisor_parameters),
        beparams=args.backend_parameters,
        nicparams=args.nic_parameters,
        ndparams=args.node_parameters,
        file_storage_dir=args.file_storage_dir,
        shared_file_storage_dir=args.shared_file_storage_dir,
        default_iallocator=args.default_iallocator,
        candidate_pool_size=args.candidate_pool_size,
        maintain_node_health=args.maintain_node_health,
        prealloc_wipe_disks=args.prealloc_wipe_disks,
        modify_etc_hosts=args.modify_etc_hosts,
        rpc_port=args.rpc_port,
    )
    bootstrap.init_cluster(opts, stamp)
    stamp(f"Cluster {cluster_name} is initialised; {node_name} is its master")
    return 0


def _configure_destroy(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--yes-do-it", action="store_true", required=True,
                        help="confirm that the cluster is to be destroyed")  # fmt: skip


def _destroy(args: argparse.Namespace) -> int:
    """Remove the cluster's configuration from this node (its master), so init can run again."""
    cfg = ConfigStore(config_file()).load()
    master = cfg.nodes[cfg.cluster.master_node]
    if master.name != this_node():
        raise OpPrereqError(f"run 'gnt-cluster destroy' on the master node, {master.name}")
    others = sorted(n.name for n in cfg.nodes.values() if n.uuid != master.uuid)
    if others:
        raise OpPrereqError(
            f"the cluster still has other nodes ({', '.join(others)}): remove them with"
            " 'gnt-node remove' first"
        )
    if cfg.instances:
        names = ", ".join(sorted(i.name for i in cfg.instances.values()))
        raise OpPrereqError(f"the cluster still has instances ({names}): remove them first")
    bootstrap.destroy_local(stamp)
    stamp(f"Cluster {cfg.cluster.cluster_name} destroyed")
    return 0


# -- information ---------------------------------------------------------------------


def _nested(value: Any, indent: int) -> list[str]:
    pad = "  " * indent
    if isinstance(value, dict):
        if not value:
            return []
        lines = []
        for key in sorted(value):
            item = value[key]
            if isinstance(item, dict):
                lines.append(f"{pad}{key}:")
                lines += _nested(item, indent + 1)
            else:
                lines.append(f"{pad}{key}: {_scalar(item)}")
        return lines
    return [f"{pad}{_scalar(value)}"]


def _scalar(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) if value else "(none)"
    if value is None or value == "":
        return "(none)" if value is None else ""
    return str(value)


def info_lines(info: dict[str, Any]) -> list[str]:
    """``gnt-cluster info``, laid out as Ganeti lays it out."""

    def when(stamp_: float) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp_))

    lines = [
        f"Cluster name: {info['name']}",
        f"Cluster UUID: {info['uuid']}",
        f"Creation time: {when(info['ctime'])}",
        f"Modification time: {when(info['mtime'])}",
        f"Master node: {info['master']}",
        f"Architecture (this node): {info['architecture'][0]} ({info['architecture'][1]})",
        f"Tags: {_scalar(info['tags'])}",
        f"Default hypervisor: {info['default_hypervisor']}",
        f"Enabled hypervisors: {_scalar(info['enabled_hypervisors'])}",
        "Hypervisor parameters:",
        *_nested(info["hvparams"], 1),
        "OS-specific hypervisor parameters:",
        *_nested(info["os_hvp"], 1),
        "OS parameters:",
        *_nested(info["osparams"], 1),
        f"Hidden OSes: {_scalar(info['hidden_os'])}",
        f"Blacklisted OSes: {_scalar(info['blacklisted_os'])}",
        "Cluster parameters:",
        f"  candidate pool size: {info['candidate_pool_size']}",
        f"  maximal number of jobs running simultaneously: {info['max_running_jobs']}",
        f"  maximal number of jobs simultaneously tracked by the scheduler:"
        f" {info['max_tracked_jobs']}",
        f"  master IP: {info['master_ip']}",
        f"  master netdev: {info['master_netdev']}",
        f"  master netmask: {info['master_netmask']}",
        f"  use external master IP address setup script: {info['use_external_mip_script']}",
        f"  file storage path: {info['file_storage_dir']}",
        f"  shared file storage path: {info['shared_file_storage_dir']}",
        f"  maintenance of node health: {info['maintain_node_health']}",
        f"  default instance allocator: {info['default_iallocator']}",
        f"  primary IP version: {info['primary_ip_version']}",
        f"  preallocation wipe disks: {info['prealloc_wipe_disks']}",
        f"  modify /etc/hosts: {info['modify_etc_hosts']}",
        f"  enabled disk templates: {_scalar(info['enabled_disk_templates'])}",
        f"  node daemon port: {info['rpc_port']}",
        "Default node parameters:",
        *_nested(info["ndparams"], 1),
        "Default instance parameters:",
        *_nested(info["beparams"], 1),
        "Default nic parameters:",
        *_nested(info["nicparams"], 1),
        "Default disk parameters:",
        *_nested(info["diskparams"], 1),
        "Instance policy - limits for instances:",
        *_nested(info["ipolicy"], 1),
    ]
    return lines


def _info(args: argparse.Namespace) -> int:
    """Show the cluster's configuration and parameters."""
    with Client() as client:
        info = client.call("QueryClusterInfo")
    for line in info_lines(info):
        print(line)
    return 0


def _getmaster(args: argparse.Namespace) -> int:
    """Print the master node's name (from this node's ssconf: works on every node)."""
    master = ssconf.read(ssconf_dir(), "master_node")
    if master is None:
        raise OpPrereqError("this node is not part of a cluster (it has no ssconf files)")
    print(master)
    return 0


def _version(args: argparse.Namespace) -> int:
    """Show the software's and protocols' versions."""
    from corral.config.objects import CONFIG_VERSION
    from corral.rpc.protocol import PROTOCOL_VERSION

    print(f"Software version: {__version__}")
    print(f"Internode protocol: {PROTOCOL_VERSION}")
    print(f"Configuration format: {CONFIG_VERSION}")
    print(f"OS api version: {OS_API_VERSION}")
    print("Export interface: 0")
    print(f"VCS version: (corral) version {__version__}")
    return 0


def _master_ping(args: argparse.Namespace) -> int:
    """Exit 0 if the master daemon answers on this node, 1 if not."""
    try:
        with Client(timeout=10) as client:
            client.call("QueryClusterInfo")
    except (CorralError, OSError):
        return 1
    return 0


# -- modify ---------------------------------------------------------------------------


def _configure_modify(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add_parameter_options(parser, init=False)
    add(
        "-C",
        "--candidate-pool-size",
        type=int,
        metavar="N",
        help="how many master candidates the cluster keeps",
    )
    add("--max-running-jobs", type=int, metavar="N", help="jobs that may run at once")
    add(
        "--maintain-node-health",
        type=yes_no,
        metavar="yes|no",
        help="let the watcher shut down instances that should not run",
    )
    add(
        "--prealloc-wipe-disks",
        type=yes_no,
        metavar="yes|no",
        help="wipe new disks before instances use them",
    )
    add("-I", "--default-iallocator", metavar="NAME", help="the default instance allocator")
    add("-m", "--mac-prefix", metavar="PREFIX", help="prefix of generated MAC addresses")
    add("--master-netdev", metavar="INTERFACE", help="interface of the cluster IP")
    add("--master-netmask", type=int, metavar="BITS", help="netmask of the cluster IP")
    add("--modify-etc-hosts", type=yes_no, metavar="yes|no", help="whether to edit /etc/hosts")
    add("--file-storage-dir", metavar="DIR", help="where 'file' disks live on each node")
    add("--shared-file-storage-dir", metavar="DIR", help="where 'sharedfile' disks live")
    add_ipolicy_options(parser)
    add_submit_options(parser)  # fmt: skip


def _modify(args: argparse.Namespace) -> int:
    """Change cluster-wide parameters and settings."""
    ipolicy = ipolicy_of(args)
    op = make_opcode(
        "OP_CLUSTER_SET_PARAMS",
        enabled_hypervisors=list(args.enabled_hypervisors or []) or None,
        enabled_disk_templates=list(args.enabled_disk_templates or []) or None,
        hvparams=dict(args.hypervisor_parameters) or None,
        beparams=args.backend_parameters or None,
        nicparams=args.nic_parameters or None,
        ndparams=args.node_parameters or None,
        ipolicy=ipolicy or None,
        candidate_pool_size=args.candidate_pool_size,
        max_running_jobs=args.max_running_jobs,
        maintain_node_health=args.maintain_node_health,
        prealloc_wipe_disks=args.prealloc_wipe_disks,
        default_iallocator=args.default_iallocator,
        mac_prefix=args.mac_prefix,
        master_netdev=args.master_netdev,
        master_netmask=args.master_netmask,
        modify_etc_hosts=args.modify_etc_hosts,
        file_storage_dir=args.file_storage_dir,
        shared_file_storage_dir=args.shared_file_storage_dir,
    )
    submit(args, op)
    return 0


# -- master role ------------------------------------------------------------------------


def _configure_failover(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-voting",
        action="store_true",
        help="take over without asking the other nodes (only when most nodes are really"
        " down: two masters may result otherwise); needs --yes-do-it",
    )
    parser.add_argument("--yes-do-it", action="store_true", help="confirm --no-voting")


def _failover(args: argparse.Namespace) -> int:
    """Make this master candidate the master (run it on the candidate)."""
    if args.no_voting and not args.yes_do_it:
        raise OpPrereqError(
            "--no-voting skips the check that the other nodes agree, so two masters may run"
            " if the old one is still up: add --yes-do-it once you are sure it is down"
        )
    me = check_name(this_node(), "node name")
    cfg = master_failover(args.no_voting, me, stamp)
    stamp(f"Node {me} is the master of {cfg.cluster.cluster_name} now (config serial"
          f" {cfg.serial_no})")  # fmt: skip
    return 0


def _configure_redist(parser: argparse.ArgumentParser) -> None:
    add_submit_options(parser)


def _redist_conf(args: argparse.Namespace) -> int:
    """Push the config to every master candidate and ssconf to every node again."""
    submit(args, make_opcode("OP_CLUSTER_REDIST_CONF"))
    return 0


# -- verify ---------------------------------------------------------------------------


def _configure_verify(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--error-codes",
        action="store_true",
        help="print problems as ERROR:CODE:KIND:NAME:MESSAGE (for scripts)",
    )
    parser.add_argument(
        "--ignore-errors",
        action="append",
        default=[],
        metavar="CODE",
        help="report problems with this code (e.g. ENODEN1) as warnings; repeat for more",
    )
    parser.add_argument("--verbose", action="store_true", help="show more detail")
    add_submit_options(parser)  # fmt: skip


def _verify(args: argparse.Namespace) -> int:
    """Check the config against every node: reachability, versions, clocks, certificates,
    file consistency, instances, volumes and N+1 memory redundancy; exit 1 on errors."""
    op = make_opcode(
        "OP_CLUSTER_VERIFY",
        error_codes=args.error_codes,
        ignore_errors=args.ignore_errors,
        verbose=args.verbose,
    )
    status, results = submit(args, op)
    if status is None:
        return 0
    return 0 if results and results[0] else 1


# -- renew-crypto -------------------------------------------------------------------

#: Ganeti's renew-crypto options for what corral has no part of (yet), and why.
_NOT_RENEWABLE = {
    "new_confd_hmac_key": "--new-confd-hmac-key: corral has no confd daemon yet",
    "new_rapi_cert": "--new-rapi-certificate: corral has no RAPI daemon yet",
    "rapi_cert": "--rapi-certificate: corral has no RAPI daemon yet",
    "new_spice_cert": "--new-spice-certificate: no hypervisor plugin uses SPICE",
    "spice_cert": "--spice-certificate: no hypervisor plugin uses SPICE",
    "spice_cacert": "--spice-ca-certificate: no hypervisor plugin uses SPICE",
    "new_cluster_domain_secret": "--new-cluster-domain-secret: corral moves no instances"
    " between clusters yet",
    "cluster_domain_secret": "--cluster-domain-secret: corral moves no instances between"
    " clusters yet",
}


def _configure_renew_crypto(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-f", "--force", action="store_true", help="do not ask for confirmation")
    parser.add_argument(
        "--new-cluster-certificate",
        action="store_true",
        help="create a new cluster CA and re-sign every online node's certificate with it"
        " (implies --new-node-certificates)",
    )
    parser.add_argument(
        "--new-node-certificates",
        action="store_true",
        help="give every online node a new key and certificate from the cluster CA",
    )
    parser.add_argument(
        "--new-ssh-keys",
        action="store_true",
        help="not in corral: it keeps no SSH keys between nodes (refused with a reason)",
    )
    parser.add_argument("--no-ssh-key-check", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--ssh-key-type", help=argparse.SUPPRESS)
    parser.add_argument("--ssh-key-bits", type=int, help=argparse.SUPPRESS)
    for flag, dest in (
        ("--new-confd-hmac-key", "new_confd_hmac_key"),
        ("--new-rapi-certificate", "new_rapi_cert"),
        ("--new-spice-certificate", "new_spice_cert"),
        ("--new-cluster-domain-secret", "new_cluster_domain_secret"),
    ):
        parser.add_argument(flag, dest=dest, action="store_true", help=argparse.SUPPRESS)
    for flag, dest in (
        ("--rapi-certificate", "rapi_cert"),
        ("--spice-certificate", "spice_cert"),
        ("--spice-ca-certificate", "spice_cacert"),
        ("--cluster-domain-secret", "cluster_domain_secret"),
    ):
        parser.add_argument(flag, dest=dest, metavar="FILE", help=argparse.SUPPRESS)
    add_submit_options(parser)


def _renew_crypto(args: argparse.Namespace) -> int:
    """Renew the cluster's certificates while it runs: node certificates, or the cluster CA
    and then every node's certificate. Offline nodes keep theirs."""
    refused = [why for dest, why in _NOT_RENEWABLE.items() if getattr(args, dest)]
    if refused:
        raise OpPrereqError("cannot renew " + "; ".join(refused))
    if not (args.new_cluster_certificate or args.new_node_certificates or args.new_ssh_keys):
        raise OpPrereqError(
            "nothing to renew: give --new-cluster-certificate or --new-node-certificates"
        )
    if not args.force and not ask_user(
        'Updating certificates now. Running "gnt-cluster verify" is recommended after this'
        " operation.\nThe node daemons keep running; offline nodes are not updated.\n"
        "Continue?"
    ):
        return 1
    op = make_opcode(
        "OP_CLUSTER_RENEW_CRYPTO",
        node_certificates=args.new_node_certificates or args.new_cluster_certificate,
        cluster_certificate=args.new_cluster_certificate,
        renew_ssh_keys=args.new_ssh_keys,
    )
    submit(args, op)
    return 0


# -- queue and watcher -------------------------------------------------------------


def _configure_queue(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action",
        choices=("drain", "undrain", "info"),
        help="drain: refuse new jobs; undrain: accept them again; info: show",
    )


def _queue(args: argparse.Namespace) -> int:
    """Change or show the job queue's drain flag."""
    with Client() as client:
        if args.action == "info":
            [drained] = client.call("QueryConfigValues", ["drain_flag"])
            print("The drain flag is " + ("set" if drained else "unset"))
        else:
            client.call("SetDrainFlag", args.action == "drain")
    return 0


def _configure_watcher(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    pause = sub.add_parser("pause", help="pause the watcher for a while")
    pause.add_argument("duration", type=timespec, help="how long: seconds, or 30m, 2h, 1d, 1w")
    sub.add_parser("continue", help="let the watcher run again")
    sub.add_parser("info", help="show whether the watcher is paused")


def _watcher(args: argparse.Namespace) -> int:
    """Pause the watcher, let it continue, or show whether it is paused."""
    with Client() as client:
        if args.action == "pause":
            until = client.call("SetWatcherPause", time.time() + args.duration)
            print(f"The watcher is paused until {time.ctime(until)}.")
        elif args.action == "continue":
            client.call("SetWatcherPause", None)
            print("The watcher is no longer paused.")
        else:
            [until] = client.call("QueryConfigValues", ["watcher_pause"])
            if until:
                print(f"The watcher is paused until {time.ctime(until)}.")
            else:
                print("The watcher is not paused.")
    return 0


COMMANDS = [
    Command("init", "Create a cluster with this node as its master", _init, _configure_init),
    Command("destroy", "Remove the cluster's configuration (only the master may be left)",
             _destroy, _configure_destroy),
    Command("info", "Show the cluster's configuration and parameters", _info),
    Command("getmaster", "Print the name of the master node", _getmaster),
    Command("version", "Show the software and protocol versions", _version),
    Command("master-ping", "Exit 0 if the master daemon answers, 1 if not", _master_ping),
    Command("modify", "Change cluster-wide parameters and settings", _modify, _configure_modify),
    Command("master-failover", "Make this master candidate the master", _failover,
            _configure_failover),
    Command("redist-conf", "Push the config and ssconf to every node again", _redist_conf,
            _configure_redist),
    Command("verify", "Check the cluster's config against every node", _verify,
            _configure_verify),
    Command("renew-crypto", "Renew the cluster CA and node certificates", _renew_crypto,
            _configure_renew_crypto),
    Command("queue", "Drain or undrain the job queue, or show its drain flag", _queue,
             _configure_queue),
    Command("watcher", "Pause the watcher, let it continue, or show its state", _watcher,
             _configure_watcher),
]  # fmt: skip
