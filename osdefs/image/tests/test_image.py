"""The image OS writes raw and qcow2 images onto disk 0, byte for byte, with progress."""

from __future__ import annotations

import os
import re
import shutil

import pytest
from twisted.internet import defer
from twisted.internet import task
from twisted.web import resource
from twisted.web import server

from corral.api import DriverContext
from corral.api import ProcessRunner
from corral.osapi import OSAction
from corral.osapi import OSDisk
from corral.osapi import OSInstance
from corral.osapi import OSScriptResult
from corral.osapi import OSSearch
from corral.osapi import run_os_script
from corral.osapi import run_os_verify
from corral.plugins.registry import DriverRegistry
from corral.testing import async_test

MIB = 1024 * 1024
PROGRESS = re.compile(r"done: (\d+)% ETA (\d+:\d\d:\d\d|unknown)")
needs_qemu_img = pytest.mark.skipif(
    shutil.which("qemu-img") is None, reason="qemu-img is missing: apt-get install qemu-utils"
)


@pytest.fixture
def provider(tmp_path):
    registry = DriverRegistry(DriverContext.create(None, tmp_path / "state"))
    return OSSearch([], registry).find("image")


def image_data(size: int) -> bytes:
    """Random bytes with a run of zeros in the middle (qcow2 leaves zeros unallocated)."""
    third = size // 3
    return os.urandom(third) + bytes(third) + os.urandom(size - 2 * third)


def make_disk(tmp_path, size: int):
    disk = tmp_path / "disk0"
    disk.write_bytes(b"\xff" * size)  # garbage the image must overwrite, zeros included
    return disk


async def create(reactor, provider, tmp_path, disk, **osparams) -> OSScriptResult:
    inst = OSInstance(
        "web1", "image", "fake", disks=[OSDisk(str(disk), template="file")], osparams=osparams
    )
    return await run_os_script(
        provider, OSAction.CREATE, inst, ProcessRunner(reactor), tmp_path / "log", 120
    )


def progress_of(result: OSScriptResult) -> list[int]:
    assert result.log_path is not None
    lines = result.log_path.read_text().splitlines()
    return [int(m.group(1)) for m in map(PROGRESS.fullmatch, lines) if m]


class ImageFile(resource.Resource):
    """Serves one image's bytes at any path, as a plain web server would."""

    isLeaf = True

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self.data = data

    def render_GET(self, request) -> bytes:
        request.setHeader(b"content-type", b"application/octet-stream")
        return self.data


class StalledImage(resource.Resource):
    """Sends the start of an image, then nothing: a download that never ends."""

    isLeaf = True

    def render_GET(self, request) -> int:
        request.setHeader(b"content-length", b"10485760")
        request.write(b"\0" * 65536)
        return server.NOT_DONE_YET


def processes_mentioning(text: str) -> list[int]:
    """PIDs whose command line contains ``text``."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                if text.encode() in cmdline.read():
                    found.append(int(entry))
        except (OSError, ValueError):
            continue
    return found


def test_the_provider_declares_its_parameters(provider) -> None:
    assert provider.api_version == 20 and provider.variants == ()
    assert provider.parameter_names == ("image", "image_format")


@async_test
async def test_a_raw_image_is_copied_with_progress(reactor, tmp_path, provider) -> None:
    data = image_data(3 * MIB + 4321)
    (tmp_path / "img.raw").write_bytes(data)
    disk = make_disk(tmp_path, 5 * MIB)
    result = await create(reactor, provider, tmp_path, disk, image=str(tmp_path / "img.raw"))
    assert result.ok, result.failure_message()
    written = disk.read_bytes()
    assert written[: len(data)] == data
    assert written[len(data) :] == b"\xff" * (5 * MIB - len(data))  # the rest is untouched
    steps = progress_of(result)
    assert steps == sorted(set(steps)) and steps[-1] == 100 and len(steps) == 4  # 4 MiB steps
    assert result.tail[-1] == f"image: web1 installed from {tmp_path}/img.raw"


@needs_qemu_img
@async_test
async def test_a_qcow2_image_is_converted_with_progress(reactor, tmp_path, provider) -> None:
    data = image_data(6 * MIB)
    (tmp_path / "src.raw").write_bytes(data)
    qcow2 = tmp_path / "img.qcow2"
    made = await ProcessRunner(reactor).run(
        ["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(tmp_path / "src.raw"), str(qcow2)]
    )
    made.check()
    assert qcow2.read_bytes()[:4] == b"QFI\xfb" and qcow2.stat().st_size < len(data)
    disk = make_disk(tmp_path, 8 * MIB)
    result = await create(reactor, provider, tmp_path, disk, image=f"file://{qcow2}")
    assert result.ok, result.failure_message()
    assert disk.read_bytes()[: len(data)] == data
    steps = progress_of(result)
    assert steps and steps == sorted(set(steps)) and steps[-1] == 100
    assert f"image: writing qcow2 image file://{qcow2} ({len(data)} bytes)" in (
        result.log_path.read_text()  # type: ignore[union-attr]
    )


@async_test
async def test_an_image_is_downloaded_over_http(reactor, tmp_path, provider) -> None:
    data = image_data(MIB + 17)
    port = reactor.listenTCP(0, server.Site(ImageFile(data)), interface="127.0.0.1")
    try:
        url = f"http://127.0.0.1:{port.getHost().port}/disk.img"
        disk = make_disk(tmp_path, 2 * MIB)
        result = await create(reactor, provider, tmp_path, disk, image=url, image_format="raw")
    finally:
        await defer.maybeDeferred(port.stopListening)
    assert result.ok, result.failure_message()
    assert disk.read_bytes()[: len(data)] == data
    assert f"image: downloading {url}" in result.log_path.read_text()  # type: ignore[union-attr]


@async_test
async def test_a_missing_image_fails_naming_it(reactor, tmp_path, provider) -> None:
    disk = make_disk(tmp_path, MIB)
    result = await create(reactor, provider, tmp_path, disk, image=str(tmp_path / "nope.qcow2"))
    assert not result.ok
    assert result.tail == [
        f"image: image {tmp_path}/nope.qcow2 (OS parameter image) does not exist on node"
        f" {os.uname().nodename}: copy it there or give an http(s):// URL"
    ]
    assert disk.read_bytes() == b"\xff" * MIB


@async_test
async def test_an_image_bigger_than_the_disk_is_refused(reactor, tmp_path, provider) -> None:
    (tmp_path / "big.raw").write_bytes(bytes(2 * MIB))
    disk = make_disk(tmp_path, MIB)
    result = await create(reactor, provider, tmp_path, disk, image=str(tmp_path / "big.raw"))
    assert result.tail == [
        f"image: image {tmp_path}/big.raw needs {2 * MIB} bytes, disk 0 of web1 ({disk}) has"
        f" {MIB}: grow the disk (gnt-instance grow-disk) or use a smaller image"
    ]


@async_test
async def test_a_raw_file_asked_for_as_qcow2_is_refused(reactor, tmp_path, provider) -> None:
    (tmp_path / "x.raw").write_bytes(bytes(1000))
    disk = make_disk(tmp_path, MIB)
    result = await create(
        reactor, provider, tmp_path, disk, image=str(tmp_path / "x.raw"), image_format="qcow2"
    )
    assert result.tail == [
        f"image: image {tmp_path}/x.raw is not a qcow2 file:"
        " set image_format=raw or image_format=auto"
    ]


@pytest.mark.parametrize(
    ("osparams", "message"),
    [
        ({"image": "/srv/images/a.qcow2"}, None),
        ({"image": "https://example.org/a.img", "image_format": "raw"}, None),
        ({"image": "file:///srv/a.img", "image_format": "auto"}, None),
        ({}, "The OS parameter 'image' is required: -O image=/path/to/disk.qcow2"),
        ({"image": "images/a.img"}, "Invalid value 'images/a.img' for the image parameter"),
        ({"image": "ftp://x/a.img"}, "Invalid value 'ftp://x/a.img' for the image parameter"),
        ({"image": "/a", "image_format": "vmdk"}, "Invalid value 'vmdk' for the image_format"),
    ],
)
@async_test
async def test_verify_checks_the_parameters(reactor, provider, osparams, message) -> None:
    result = await run_os_verify(provider, "image", osparams, ProcessRunner(reactor), 30)
    if message is None:
        assert result.ok, result.failure_message()
    else:
        assert not result.ok and message in "\n".join(result.tail)


@async_test
async def test_cancelling_create_stops_the_download_and_cleans_up(
    reactor, tmp_path, provider
) -> None:
    port = reactor.listenTCP(0, server.Site(StalledImage()), interface="127.0.0.1")
    url = f"http://127.0.0.1:{port.getHost().port}/stalled-{os.getpid()}.img"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    inst = OSInstance(
        "web1",
        "image",
        "fake",
        disks=[OSDisk(str(make_disk(tmp_path, MIB)), template="file")],
        osparams={"image": url},
    )
    run = defer.ensureDeferred(
        run_os_script(
            provider,
            OSAction.CREATE,
            inst,
            ProcessRunner(reactor),
            tmp_path / "log",
            None,
            extra_env={"TMPDIR": str(scratch)},
        )
    )
    try:
        for _ in range(200):  # until the download has started
            if processes_mentioning(url) and list(scratch.iterdir()):
                break
            await task.deferLater(reactor, 0.05, lambda: None)
        assert processes_mentioning(url), "the download never started"
        run.cancel()
        with pytest.raises(defer.CancelledError):
            await run
        for _ in range(100):  # the downloader gets the script's TERM a moment later
            if not processes_mentioning(url):
                break
            await task.deferLater(reactor, 0.05, lambda: None)
        assert processes_mentioning(url) == []
        assert list(scratch.iterdir()) == []  # the partial download is gone
    finally:
        await defer.maybeDeferred(port.stopListening)
