"""The RAPI backend (``-m``) and hscan: saved RAPI answers, a real HTTPS server, Ganeti's tools.

``rapi-data/`` holds the four RAPI documents of a small KVM cluster written
for these tests: a master, a drained node, an offline node, a node that is
not ``vm_capable``, two groups, a running DRBD instance whose ``oper_ram``
is below its ``maxmem``, a stopped diskless one. The HTTPS tests serve
those documents from a real TLS server on a local port, with a
certificate made for the test.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import shutil
import ssl
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

import pytest
from corral_htools import cli_hinfo
from corral_htools import cli_hscan
from corral_htools.rapi_backend import RapiBackendError
from corral_htools.rapi_backend import TlsOptions
from corral_htools.rapi_backend import base_url
from corral_htools.rapi_backend import load_rapi
from corral_htools.rapi_backend import parse_cluster
from corral_htools.textformat import load_text

from corral.crypto.ca import ClusterCA

if TYPE_CHECKING:
    from collections.abc import Iterator

HERE = Path(__file__).parent
DATA = HERE / "rapi-data"
URL = f"file://{DATA}"
_REF = Path(os.environ.get("CORRAL_GANETI_REF", "/work/ganeti-ref")) / "root"
_GANETI_BIN = _REF / "usr/lib/ganeti/3.0/usr/bin"
_GANETI_RAPI = _REF / "usr/share/ganeti/testsuite/test/data/htools/rapi"


def _docs() -> dict[str, Any]:
    return {
        n: json.loads((DATA / f"{n}.json").read_text())
        for n in ("groups", "nodes", "instances", "info")
    }


def _run(main: Any, argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except SystemExit as exc:
            rc = int(exc.code or 0)
    return rc, out.getvalue(), err.getvalue()


# ------------------------------------------------------------------ the model


def test_saved_answers_load_as_ganetis_loader_reads_them() -> None:
    cluster = load_rapi(URL, static_kvm_memory=4096)
    nodes = {n.name: n for n in cluster.nodes}
    alpha, charlie = nodes["alpha.lab.example"], nodes["charlie.lab.example"]
    assert alpha.master and not alpha.offline
    assert alpha.n_mem == 4096  # KVM: the static node memory, not mnode (2048)
    assert (alpha.t_mem, alpha.f_mem, alpha.t_cpu, alpha.nos_cpu) == (65536, 46976, 16, 2)
    assert charlie.offline and charlie.drained and charlie.t_mem == 65536  # keeps its figures
    for name in ("delta.lab.example", "echo.lab.example"):  # offline / not vm_capable
        assert nodes[name].offline and nodes[name].t_mem == 0 and nodes[name].n_mem == 0
    insts = {i.name: i for i in cluster.instances}
    assert insts["web1.lab.example"].mem == 6144  # oper_ram, below maxmem 8192
    assert insts["mail.lab.example"].mem == 4096  # stopped: maxmem
    assert insts["db1.lab.example"].disks == [20480, 10240]
    assert insts["web1.lab.example"].snode == "bravo.lab.example"
    assert cluster.tags == ["htools:iextags:svc"] and cluster.has_policies
    assert [g.alloc_policy.value for g in cluster.groups] == ["preferred", "last_resort"]


def test_static_kvm_memory_zero_keeps_what_the_node_reports() -> None:
    cluster = load_rapi(URL, static_kvm_memory=0)
    assert next(n for n in cluster.nodes if n.name == "alpha.lab.example").n_mem == 2048


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["nodes"][0].pop("mtotal"), "Node 'alpha.lab.example': missing field 'mtotal'"),
        (lambda d: d["nodes"][1].update(mfree="lots"), "field 'mfree' should be a number"),
        (lambda d: d["nodes"][0].update({"group.uuid": "nope"}), "unknown group UUID 'nope'"),
        (lambda d: d["instances"][0].update(pnode="zulu"), "unknown node 'zulu'"),
        (lambda d: d["instances"][1]["beparams"].pop("vcpus"), "beparams: missing field 'vcpus'"),
        (lambda d: d["instances"][2].update(status="dancing"), "unknown run status 'dancing'"),
        (lambda d: d["instances"][2].update(disk_template="tape"), "unknown disk template 'tape'"),
        (lambda d: d["groups"][0].update(alloc_policy="maybe"), "unknown allocation policy"),
        (lambda d: d.update(nodes={"a": 1}), "the nodes list: expected a JSON list"),
    ],
)
def test_bad_answers_name_the_object_and_field(edit: Any, message: str) -> None:
    docs = _docs()
    edit(docs)
    with pytest.raises(RapiBackendError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_cluster(docs)


def test_an_offline_node_needs_no_live_figures() -> None:
    docs = _docs()
    assert "mtotal" not in docs["nodes"][3]  # delta: offline, reports nothing
    parse_cluster(docs)


def test_unreadable_saved_answers_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(RapiBackendError, match=r"groups\.json: cannot read: No such file"):
        load_rapi(f"file://{tmp_path}")
    for name in ("groups", "nodes", "instances", "info"):
        shutil.copy(DATA / f"{name}.json", tmp_path)
    (tmp_path / "nodes.json").write_text("[{")
    with pytest.raises(RapiBackendError, match=r"nodes\.json: not JSON"):
        load_rapi(f"file://{tmp_path}")


def test_cluster_names_become_ganetis_urls() -> None:
    assert base_url("cluster1") == "https://cluster1:5080"
    assert base_url("2001:db8::1") == "https://[2001:db8::1]:5080"
    assert base_url("https://cluster1:1234/") == "https://cluster1:1234"


# ------------------------------------------------------------------ tools


def test_tools_report_a_rapi_failure_as_ganeti_does(tmp_path: Path) -> None:
    rc, out, err = _run(cli_hinfo.main, ["-m", f"file://{tmp_path}"])
    assert rc == 1 and out == ""
    assert err.startswith(f"Error: failed to load data, aborting: {tmp_path}/groups.json")


def test_hscan_file_loads_back_to_the_same_report(tmp_path: Path) -> None:
    rc, out, _ = _run(cli_hscan.main, ["-d", str(tmp_path), URL])
    assert rc == 0
    header, line = out.splitlines()
    assert header.split() == ["Name", *cli_hscan.COLUMNS]
    assert line.split()[1:] == [
        "5",
        "4",
        "0",
        "0",
        "196608",
        "169088",
        "3000",
        "2790",
        "0.26474609",
    ]
    saved = tmp_path / (URL.replace("/", "_") + ".data")
    assert load_text(str(saved)).nodes[0].n_mem == 4096
    direct = _run(cli_hinfo.main, ["-p", "--print-instances", "-m", URL])
    from_text = _run(cli_hinfo.main, ["-p", "--print-instances", "-t", str(saved)])
    assert direct == from_text


def test_hscan_goes_on_after_a_failure_and_exits_2(tmp_path: Path) -> None:
    missing = f"file://{tmp_path}/none"
    rc, out, _ = _run(cli_hscan.main, ["-d", str(tmp_path), "--no-headers", missing, URL])
    assert rc == 2
    assert f"\nError for {missing}: failed to load data. Details:\n" in out
    assert out.splitlines()[-1].startswith(URL)
    assert len(list(tmp_path.glob("*.data"))) == 1


# ------------------------------------------------------------------ HTTPS


def _certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A CA (what ``--rapi-ca`` pins) and a server key and certificate it issued.

    The server's name is one the test never connects to: a pinned
    certificate's host name is not compared.
    """
    ca = ClusterCA.create("rapi-test")
    ca_path, server_path = tmp_path / "rapi-ca.pem", tmp_path / "rapi.pem"
    ca_path.write_bytes(ca.cert_pem)
    server_path.write_bytes(ca.issue("ganeti.example.com"))
    return ca_path, server_path


class _Rapi(BaseHTTPRequestHandler):
    """Serves the saved documents at Ganeti's RAPI paths; may demand basic auth."""

    docs: dict[str, bytes] = {}
    password: str | None = None
    seen: list[tuple[str, str | None]] = []

    def do_GET(self) -> None:
        auth = self.headers.get("Authorization")
        self.seen.append((self.path, auth))
        wanted = "Basic " + base64.b64encode(f"ops:{self.password}".encode()).decode()
        if self.password is not None and auth != wanted:
            self.send_response(401, "Unauthorized")
            self.end_headers()
            return
        body = self.docs.get(self.path)
        if body is None:
            self.send_response(404, "Not Found")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def rapi_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    cert, server_pem = _certificate(tmp_path)
    paths = {"groups": "/2/groups?bulk=1", "nodes": "/2/nodes?bulk=1",
             "instances": "/2/instances?bulk=1", "info": "/2/info"}  # fmt: skip
    _Rapi.docs = {paths[n]: (DATA / f"{n}.json").read_bytes() for n in paths}
    _Rapi.password = None
    _Rapi.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Rapi)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(server_pem)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", cert
    finally:
        server.shutdown()
        server.server_close()


def test_https_refuses_an_untrusted_certificate_and_says_what_to_do(
    rapi_server: tuple[str, Path],
) -> None:
    url, _ = rapi_server
    with pytest.raises(RapiBackendError, match=r"not trusted.*--rapi-ca FILE.*--rapi-insecure"):
        load_rapi(url)


def test_https_with_the_pinned_certificate(rapi_server: tuple[str, Path]) -> None:
    url, cert = rapi_server
    over_https = load_rapi(url, TlsOptions(ca_file=str(cert)), 4096)
    assert over_https == load_rapi(URL, static_kvm_memory=4096)
    assert [p for p, _ in _Rapi.seen] == [
        "/2/groups?bulk=1", "/2/nodes?bulk=1", "/2/instances?bulk=1", "/2/info"
    ]  # fmt: skip
    rc, out, _ = _run(cli_hinfo.main, ["-m", url, "--rapi-ca", str(cert)])
    assert rc == 0 and "Loaded 5 nodes, 4 instances, 2 node groups" in out


def test_https_insecure_as_ganeti(rapi_server: tuple[str, Path]) -> None:
    url, _ = rapi_server
    assert len(load_rapi(url, TlsOptions(insecure=True)).nodes) == 5


def test_https_basic_auth_from_the_url(rapi_server: tuple[str, Path]) -> None:
    url, cert = rapi_server
    _Rapi.password = "s3cret"
    tls = TlsOptions(ca_file=str(cert))
    with pytest.raises(RapiBackendError, match=r"answered 401 Unauthorized.*USER:PASSWORD"):
        load_rapi(url, tls)
    authed = url.replace("https://", "https://ops:s3cret@")
    assert len(load_rapi(authed, tls).instances) == 4


def test_https_connection_refused_names_the_url() -> None:
    with pytest.raises(RapiBackendError, match=r"cannot fetch 'https://127\.0\.0\.1:1/2/groups"):
        load_rapi("https://127.0.0.1:1")


# ------------------------------------------------------------------ Ganeti's own tools


@pytest.mark.skipif(
    not (_GANETI_BIN / "hscan").exists() or not _GANETI_RAPI.is_dir(),
    reason="Ganeti's htools and test data are not unpacked",
)
@pytest.mark.parametrize("tool", ["hinfo", "hbal", "hscan"])
def test_same_output_as_ganeti_on_its_rapi_test_data(tool: str, tmp_path: Path) -> None:
    """Ganeti's RAPI test data (Xen): the same report, and hscan writes the same file."""
    url = f"file://{_GANETI_RAPI}"
    ours_dir, theirs_dir = tmp_path / "ours", tmp_path / "theirs"
    ours_dir.mkdir()
    theirs_dir.mkdir()
    args = ["-v", "-v", "-p", "--print-instances", "-m", url]
    if tool == "hscan":
        args = ["-p", url]
    venv_bin = Path(sys.executable).parent
    results = []
    for binary, where in ((venv_bin / tool, ours_dir), (_GANETI_BIN / tool, theirs_dir)):
        extra = ["-d", str(where)] if tool == "hscan" else []
        proc = subprocess.run(
            [str(binary), *extra, *args], capture_output=True, text=True, check=False, timeout=120
        )
        results.append((proc.returncode, proc.stdout, proc.stderr))
    assert results[0] == results[1]
    if tool == "hscan":
        ours = sorted(ours_dir.iterdir())
        theirs = sorted(theirs_dir.iterdir())
        assert [p.name for p in ours] == [p.name for p in theirs]
        assert ours[0].read_text() == theirs[0].read_text()


def test_hscan_shows_no_password(rapi_server: tuple[str, Path], tmp_path: Path) -> None:
    url, cert = rapi_server
    _Rapi.password = "s3cret"
    authed = url.replace("https://", "https://ops:s3cret@")
    rc, out, _ = _run(cli_hscan.main, ["-d", str(tmp_path), "--rapi-ca", str(cert), authed])
    assert rc == 0 and "s3cret" not in out
    assert out.splitlines()[1].startswith(url.replace("https://", "https://ops@"))
    assert [p.name for p in tmp_path.glob("*.data")] == [
        url.replace("https://", "https://ops@").replace("/", "_") + ".data"
    ]
