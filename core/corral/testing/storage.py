"""The conformance suite every storage (disk template) plugin runs against its driver.

A plugin proves it honours the :class:`~corral.api.DiskTemplate` contract by
subclassing :class:`DiskTemplateConformance` in its ``tests/test_conformance.py``
and providing fixtures::

    class TestFileConformance(DiskTemplateConformance):
        @pytest.fixture
        def template_factory(self) -> DiskTemplateFactory:
            return FileTemplate

        @pytest.fixture
        def disk_spec(self, tmp_path: Path) -> DiskSpecFactory:
            storage = tmp_path / "file-storage"
            storage.mkdir()

            def make(instance: str, index: int, size: int) -> DiskSpec:
                return DiskSpec(uuid=str(uuid4()), instance=instance, index=index,
                                size=size, storage_dir=str(storage))

            return make

        @pytest.fixture
        def failing_disk_spec(self, disk_spec: DiskSpecFactory) -> DiskSpec:
            return replace(disk_spec("conformance-fail", 0, 16), storage_dir="relative/dir")

``template_factory`` builds the driver object for one node from a
:class:`~corral.api.DriverContext`; the suite calls it again on the same
state directory to play a restarted node daemon. ``disk_spec`` describes a
disk the driver can really create on such a node. ``failing_disk_spec`` is a
disk whose creation must fail (a size that cannot be satisfied, an invalid
storage directory...); a parametrized fixture checks several ways of failing.
Templates without disks (``HAS_DISKS = False``) need not provide it.

The suite checks that a failing or refused create leaves nothing behind by
comparing the files and directories under ``storage_roots`` (by default the
test's ``tmp_path``, less the node's state directory) before and after; a
plugin whose volumes live elsewhere overrides that fixture.

Class attributes tune the suite: ``DISK_SIZE`` and ``GROW_BY`` (MiB) and
``ATTACH_PATH_IS_LOCAL`` (whether the suite can read and write the path that
:meth:`~corral.api.DiskTemplate.attach` returns). Capabilities the driver
declares (``HAS_DISKS``, ``CAN_GROW``) are checked against what it does.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any
from typing import ClassVar
from typing import Protocol
from typing import TypeAlias
from typing import TypeVar

import pytest

from corral.api import API_VERSION
from corral.api import DiskSpec
from corral.api import DiskTemplate
from corral.api import DriverContext
from corral.api import StorageError
from corral.testing.asyncio import async_test as _async_test
from corral.testing.driver import DriverConformance

if TYPE_CHECKING:
    from collections.abc import Iterable

    from corral.api import VolumeInfo

__all__ = ["DiskSpecFactory", "DiskTemplateConformance", "DiskTemplateFactory"]

_F = TypeVar("_F", bound="Callable[..., Any]")

#: pytest-twisted's marker, typed so that decorated tests keep their signatures.
async_test: Callable[[_F], _F] = _async_test

#: Builds one node's driver object from that node's context.
DiskTemplateFactory: TypeAlias = Callable[[DriverContext], DiskTemplate]


class DiskSpecFactory(Protocol):
    """Describes a disk the driver under test can really create on the test node."""

    def __call__(self, instance: str, index: int, size: int) -> DiskSpec: ...


#: What the suite writes at the start of a disk to see that its data survives.
_MARKER = b"corral-conformance-marker\n"


def _snapshot(roots: Iterable[Path], exclude: Path) -> set[str]:
    """Every file and directory below ``roots``, except what lies under ``exclude``."""
    found: set[str] = set()
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            here = Path(dirpath)
            dirnames[:] = [d for d in dirnames if here / d != exclude]
            found.update(str(here / name) for name in (*dirnames, *filenames))
    return found


def _volume_set(volumes: list[VolumeInfo]) -> set[tuple[str, int, str | None]]:
    return {(v.logical_id, v.size, v.instance) for v in volumes}


def _names_disk(message: str, disk: DiskSpec) -> bool:
    """Whether an error message names the disk (its logical id or its UUID)."""
    return bool(disk.logical_id and disk.logical_id in message) or disk.uuid in message


class DiskTemplateConformance(DriverConformance):
    """Abstract tests every disk template driver must pass (subclass it as ``Test...``).

    The name does not start with ``Test`` so that pytest collects only the
    plugins' subclasses, each with its own fixtures.
    """

    DRIVER_BASE = DiskTemplate
    PARAMS_WHERE = "diskparams"
    #: Size of the disks the suite creates, in MiB.
    DISK_SIZE: ClassVar[int] = 16
    #: How much the lifecycle test grows a disk by (templates with CAN_GROW), in MiB.
    GROW_BY: ClassVar[int] = 8
    #: Whether the path attach() returns exists in the test's own filesystem (a file or
    #: device node the suite can read and write). Drivers tested against a fake backend
    #: whose paths are not real set False; the suite then only checks the calls.
    ATTACH_PATH_IS_LOCAL: ClassVar[bool] = True

    # -- fixtures a plugin provides --------------------------------------------------

    @pytest.fixture
    def template_factory(self) -> DiskTemplateFactory:
        """Override: return a callable building the driver for a node's context."""
        pytest.fail(f"{type(self).__name__} must provide the template_factory fixture")

    @pytest.fixture
    def disk_spec(self) -> DiskSpecFactory:
        """Override: return ``(instance, index, size) -> DiskSpec`` for a creatable disk."""
        pytest.fail(f"{type(self).__name__} must provide the disk_spec fixture")

    @pytest.fixture
    def failing_disk_spec(self, template: DiskTemplate) -> DiskSpec:
        """Override: return a DiskSpec whose creation must fail (templates with disks)."""
        if not template.HAS_DISKS:
            pytest.skip(f"disk template {template.name!r} declares HAS_DISKS = False")
        pytest.fail(f"{type(self).__name__} must provide the failing_disk_spec fixture")

    @pytest.fixture
    def storage_roots(self, tmp_path: Path) -> list[Path]:
        """Where the driver's files may appear; a failed create must leave them as it
        found them. Override for volumes outside the test's temporary directory."""
        return [tmp_path]

    # -- fixtures and helpers of the suite -------------------------------------------

    @pytest.fixture
    def template(
        self, template_factory: DiskTemplateFactory, driver_context: DriverContext
    ) -> DiskTemplate:
        """The driver of the node under test."""
        return template_factory(driver_context)

    @pytest.fixture
    def driver(self, template: DiskTemplate) -> DiskTemplate:
        """The driver the kind-independent tests of DriverConformance check."""
        return template

    @staticmethod
    def _needs_disks(template: DiskTemplate) -> None:
        if not template.HAS_DISKS:
            pytest.skip(
                f"disk template {template.name!r} declares HAS_DISKS = False: no disk to test"
            )

    @staticmethod
    async def _remove_quietly(template: DiskTemplate, *disks: DiskSpec) -> None:
        """Cleanup after a test: leave no disk behind, whatever the test did."""
        for disk in disks:
            if disk.logical_id is None:
                continue
            for step in (template.detach, template.remove):
                try:
                    await step(disk)
                except StorageError:
                    pass

    async def _create(self, template: DiskTemplate, spec: DiskSpec) -> DiskSpec:
        """Create ``spec`` and return it with its logical id, as the core stores it."""
        logical_id = await template.create(spec)
        assert isinstance(logical_id, str) and logical_id, (
            f"create() must return a non-empty logical id, not {logical_id!r}"
        )
        return dataclasses.replace(spec, logical_id=logical_id)

    def _write_marker(self, path: str) -> None:
        if self.ATTACH_PATH_IS_LOCAL:
            with open(path, "r+b") as disk:
                disk.write(_MARKER)
                disk.flush()
                os.fsync(disk.fileno())

    def _assert_marker(self, path: str) -> None:
        if self.ATTACH_PATH_IS_LOCAL:
            with open(path, "rb") as disk:
                assert disk.read(len(_MARKER)) == _MARKER, f"the data on {path} changed"

    @staticmethod
    async def _volume(template: DiskTemplate, disk: DiskSpec) -> VolumeInfo:
        found = [v for v in await template.list_volumes() if v.logical_id == disk.logical_id]
        assert len(found) == 1, f"list_volumes() shows {disk.logical_id} {len(found)} times"
        return found[0]

    # -- the class and its declarations ----------------------------------------------

    def test_is_a_complete_disk_template(self, template: DiskTemplate) -> None:
        """The driver is a concrete DiskTemplate with a name, for an API this core has,
        and its capability flags are booleans that agree with each other (a template
        without disks can neither grow nor mirror them)."""
        cls = type(template)
        assert issubclass(cls, DiskTemplate)
        assert cls.kind == "storage"
        assert isinstance(cls.name, str) and cls.name, "a disk template needs a non-empty name"
        assert cls.API_VERSION <= API_VERSION, (
            f"{cls.__name__} is written for plugin API {cls.API_VERSION}, core has {API_VERSION}"
        )
        missing_methods = sorted(getattr(cls, "__abstractmethods__", ()))
        assert not inspect.isabstract(cls) and not missing_methods, (
            f"not implemented: {missing_methods}"
        )
        for flag in ("HAS_DISKS", "SHARED", "MIRRORED", "CAN_GROW"):
            assert isinstance(getattr(cls, flag), bool), f"{flag} must be a bool"
        if not cls.HAS_DISKS:
            assert not cls.CAN_GROW, "a template without disks cannot declare CAN_GROW"
            assert not cls.MIRRORED, "a template without disks cannot declare MIRRORED"

    @async_test
    async def test_verify_returns_messages(self, template: DiskTemplate) -> None:
        """verify() returns a list of problem messages (non-empty strings)."""
        problems = await template.verify()
        assert isinstance(problems, list)
        assert all(isinstance(p, str) and p for p in problems)

    # -- templates without disks -----------------------------------------------------

    @async_test
    async def test_template_without_disks_refuses_them(
        self, template: DiskTemplate, disk_spec: DiskSpecFactory
    ) -> None:
        """A template declaring HAS_DISKS = False refuses to create or attach a disk
        with a StorageError saying it has no disks, and lists no volumes (skipped for
        templates with disks)."""
        if template.HAS_DISKS:
            pytest.skip(f"disk template {template.name!r} has disks")
        spec = disk_spec("conformance-nodisks", 0, self.DISK_SIZE)
        with pytest.raises(StorageError, match="has no disks"):
            await template.create(spec)
        with pytest.raises(StorageError, match="has no disks"):
            await template.attach(spec)
        assert await template.list_volumes() == []

    # -- lifecycle -------------------------------------------------------------------

    @async_test
    async def test_lifecycle(self, template: DiskTemplate, disk_spec: DiskSpecFactory) -> None:
        """create returns a logical id -> list_volumes shows it with its size -> attach
        returns a path that exists -> size() is the size asked -> grow by GROW_BY (if
        CAN_GROW) -> size() grew by that much, the data kept -> detach keeps the disk ->
        remove -> list_volumes no longer shows it and the path is gone; removing it again
        is fine; attach and size after remove raise a StorageError naming the disk."""
        self._needs_disks(template)
        spec = disk_spec("conformance-life", 0, self.DISK_SIZE)
        disk = spec
        try:
            disk = await self._create(template, spec)
            volume = await self._volume(template, disk)
            assert volume.size == spec.size
            assert volume.instance in (None, spec.instance)

            path = await template.attach(disk)
            assert isinstance(path, str) and path, f"attach() returned {path!r}, not a path"
            if self.ATTACH_PATH_IS_LOCAL:
                assert os.path.exists(path), f"attach() returned {path}, which does not exist"
            assert await template.size(disk) == spec.size
            self._write_marker(path)

            expected = spec.size
            if template.CAN_GROW:
                await template.grow(disk, self.GROW_BY)
                expected += self.GROW_BY
                assert await template.size(disk) == expected
                assert (await self._volume(template, disk)).size == expected
                self._assert_marker(path)

            await template.detach(disk)
            assert (await self._volume(template, disk)).size == expected

            await template.remove(disk)
            volumes = await template.list_volumes()
            assert disk.logical_id not in {v.logical_id for v in volumes}
            if self.ATTACH_PATH_IS_LOCAL:
                assert not os.path.exists(path), f"{path} is still there after remove()"
            await template.remove(disk)

            with pytest.raises(StorageError) as caught:
                await template.attach(disk)
            assert _names_disk(str(caught.value), disk), (
                f"attach() of a removed disk must name it: {caught.value}"
            )
            with pytest.raises(StorageError) as caught:
                await template.size(disk)
            assert _names_disk(str(caught.value), disk), (
                f"size() of a removed disk must name it: {caught.value}"
            )
        finally:
            await self._remove_quietly(template, disk)

    @async_test
    async def test_find_looks_without_attaching(
        self, template: DiskTemplate, disk_spec: DiskSpecFactory
    ) -> None:
        """find() (if the template offers it) gives the path attach() would, before any
        attach, and None once the disk is removed (what ``gnt-instance info`` shows)."""
        self._needs_disks(template)
        if type(template).find is DiskTemplate.find:
            pytest.skip("this template keeps DiskTemplate.find's default (it cannot tell)")
        spec = disk_spec("conformance-find", 0, self.DISK_SIZE)
        disk = spec
        try:
            disk = await self._create(template, spec)
            found = await template.find(disk)
            assert found is not None, "find() did not find a disk just created"
            assert found == await template.attach(disk)
            await template.detach(disk)
            await template.remove(disk)
            assert await template.find(disk) is None
        finally:
            await self._remove_quietly(template, disk)

    @async_test
    async def test_volumes_of_several_instances(
        self, template: DiskTemplate, disk_spec: DiskSpecFactory
    ) -> None:
        """Disks of two instances get distinct logical ids; list_volumes shows each
        once, with its own size and (where the template knows it) its instance, and
        removing one leaves the others."""
        self._needs_disks(template)
        specs = [
            disk_spec("conformance-one", 0, self.DISK_SIZE),
            disk_spec("conformance-one", 1, self.DISK_SIZE + 1),
            disk_spec("conformance-two", 0, self.DISK_SIZE + 2),
        ]
        disks: list[DiskSpec] = []
        try:
            for spec in specs:
                disks.append(await self._create(template, spec))
            assert len({d.logical_id for d in disks}) == len(disks), "logical ids must differ"
            for disk in disks:
                volume = await self._volume(template, disk)
                assert volume.size == disk.size
                assert volume.instance in (None, disk.instance)
            await template.remove(disks[0])
            remaining = {v.logical_id for v in await template.list_volumes()}
            assert disks[0].logical_id not in remaining
            assert {d.logical_id for d in disks[1:]} <= remaining
            assert await template.size(disks[1]) == disks[1].size
        finally:
            await self._remove_quietly(template, *disks)

    @async_test
    async def test_restarted_daemon_sees_volumes(
        self,
        template: DiskTemplate,
        template_factory: DiskTemplateFactory,
        driver_context: DriverContext,
        disk_spec: DiskSpecFactory,
    ) -> None:
        """A new driver object on the same state directory (a restarted node daemon)
        lists the disks the old one created, and can attach and remove them."""
        self._needs_disks(template)
        disk = disk_spec("conformance-restart", 0, self.DISK_SIZE)
        try:
            disk = await self._create(template, disk)
            again = DriverContext.create(
                driver_context.reactor, driver_context.state_dir, driver_context.node_name
            )
            fresh = template_factory(again)
            assert fresh is not template
            assert _volume_set(await fresh.list_volumes()) == _volume_set(
                await template.list_volumes()
            )
            assert (await self._volume(fresh, disk)).size == disk.size
            await fresh.attach(disk)
            await fresh.detach(disk)
            await fresh.remove(disk)
            assert disk.logical_id not in {v.logical_id for v in await template.list_volumes()}
        finally:
            await self._remove_quietly(template, disk)

    # -- refusals --------------------------------------------------------------------

    @async_test
    async def test_create_existing_disk_is_refused(
        self, template: DiskTemplate, disk_spec: DiskSpecFactory
    ) -> None:
        """Creating a disk that already exists is a StorageError, and the existing disk
        keeps its size and its data."""
        self._needs_disks(template)
        spec = disk_spec("conformance-twice", 0, self.DISK_SIZE)
        disk = spec
        try:
            disk = await self._create(template, spec)
            path = await template.attach(disk)
            self._write_marker(path)
            with pytest.raises(StorageError):
                await template.create(spec)
            assert await template.size(disk) == spec.size
            assert (await self._volume(template, disk)).size == spec.size
            self._assert_marker(path)
        finally:
            await self._remove_quietly(template, disk)

    @async_test
    async def test_failed_create_leaves_nothing(
        self,
        template: DiskTemplate,
        failing_disk_spec: DiskSpec,
        storage_roots: list[Path],
        driver_context: DriverContext,
    ) -> None:
        """A create that cannot succeed (``failing_disk_spec``) raises a StorageError
        and leaves list_volumes and the files under ``storage_roots`` as they were."""
        self._needs_disks(template)
        volumes = _volume_set(await template.list_volumes())
        files = _snapshot(storage_roots, driver_context.state_dir)
        with pytest.raises(StorageError):
            await template.create(failing_disk_spec)
        assert _volume_set(await template.list_volumes()) == volumes
        left = _snapshot(storage_roots, driver_context.state_dir) ^ files
        assert not left, f"a failed create changed: {sorted(left)}"

    @pytest.mark.parametrize("size", [0, -1])
    @async_test
    async def test_bad_size_is_refused(
        self,
        template: DiskTemplate,
        disk_spec: DiskSpecFactory,
        storage_roots: list[Path],
        driver_context: DriverContext,
        size: int,
    ) -> None:
        """Creating a disk of 0 or a negative size is a StorageError naming the size,
        and leaves nothing behind."""
        self._needs_disks(template)
        volumes = _volume_set(await template.list_volumes())
        files = _snapshot(storage_roots, driver_context.state_dir)
        with pytest.raises(StorageError) as caught:
            await template.create(disk_spec("conformance-size", 0, size))
        message = str(caught.value)
        assert str(size) in message and "size" in message.lower(), (
            f"the error must name the size {size}: {message}"
        )
        assert _volume_set(await template.list_volumes()) == volumes
        assert _snapshot(storage_roots, driver_context.state_dir) == files

    @async_test
    async def test_grow_never_shrinks(
        self, template: DiskTemplate, disk_spec: DiskSpecFactory
    ) -> None:
        """A template with CAN_GROW refuses a negative amount with a StorageError; one
        without it refuses any growth. Either way the disk keeps its size."""
        self._needs_disks(template)
        spec = disk_spec("conformance-shrink", 0, self.DISK_SIZE)
        disk = spec
        try:
            disk = await self._create(template, spec)
            with pytest.raises(StorageError):
                await template.grow(disk, -1 if template.CAN_GROW else self.GROW_BY)
            assert await template.size(disk) == spec.size
        finally:
            await self._remove_quietly(template, disk)
