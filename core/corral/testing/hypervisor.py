"""The conformance suite every hypervisor plugin runs against its own driver.

A plugin proves it honours the :class:`~corral.api.Hypervisor` contract by
subclassing :class:`HypervisorConformance` in its ``tests/test_conformance.py``
and providing two fixtures::

    class TestFakeConformance(HypervisorConformance):
        @pytest.fixture
        def hypervisor_factory(self) -> HypervisorFactory:
            return FakeHypervisor

        @pytest.fixture
        def instance_spec(self) -> InstanceSpecFactory:
            def make(name: str, memory: int = 128, vcpus: int = 1) -> InstanceSpec:
                return InstanceSpec(name=name, uuid=str(uuid4()), memory=memory, vcpus=vcpus)
            return make

``hypervisor_factory`` builds a driver object for one node from a
:class:`~corral.api.DriverContext`; the suite calls it more than once to
play a second node (its own state directory) or a restarted node daemon
(the same state directory). ``instance_spec`` describes an instance the
driver can really start on such a node.

Class attributes tune the suite for what a hypervisor can promise:
``ACCOUNTS_MEMORY`` (node memory_free follows the instances started),
``BAD_PARAM_VALUES`` (wrongly typed values for parameter fields whose type
the suite cannot derive one for), and the migration polling limits.
Capabilities the driver declares (``CAN_MIGRATE``) are checked against what
it does, both ways.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Any
from typing import ClassVar
from typing import Protocol
from typing import TypeAlias
from typing import TypeVar

import pytest
from twisted.internet import task

from corral.api import API_VERSION
from corral.api import ConsoleInfo
from corral.api import DriverContext
from corral.api import Hypervisor
from corral.api import HypervisorError
from corral.api import InstanceState
from corral.api import MigrationStatus
from corral.testing.asyncio import async_test as _async_test
from corral.testing.driver import ANY_VALUE_IS_VALID
from corral.testing.driver import DriverConformance

if TYPE_CHECKING:
    from pathlib import Path

    from corral.api import InstanceSpec

__all__ = [
    "ANY_VALUE_IS_VALID",
    "HypervisorConformance",
    "HypervisorFactory",
    "InstanceSpecFactory",
    "async_test",
]

_F = TypeVar("_F", bound="Callable[..., Any]")

#: pytest-twisted's marker, typed so that decorated tests keep their signatures.
async_test: Callable[[_F], _F] = _async_test

#: Builds one node's driver object from that node's context.
HypervisorFactory: TypeAlias = Callable[[DriverContext], Hypervisor]


class InstanceSpecFactory(Protocol):
    """Describes an instance the driver under test can really start."""

    def __call__(self, name: str, memory: int = 128, vcpus: int = 1) -> InstanceSpec: ...


class HypervisorConformance(DriverConformance):
    """Abstract tests every hypervisor driver must pass (subclass it as ``Test...``).

    The name does not start with ``Test`` so that pytest collects only the
    plugins' subclasses, each with its own fixtures.
    """

    #: Whether node_info().memory_free drops by (at least) a started instance's
    #: memory and comes back when it stops. Hypervisors that report the host's
    #: free memory as the kernel sees it (lazily allocated guests) set False.
    ACCOUNTS_MEMORY: ClassVar[bool] = True
    DRIVER_BASE = Hypervisor
    PARAMS_WHERE = "hvparams"
    #: How long a migration may take before the suite calls it stuck, in seconds.
    MIGRATION_TIMEOUT: ClassVar[float] = 60.0
    MIGRATION_POLL_INTERVAL: ClassVar[float] = 0.1

    # -- fixtures a plugin provides --------------------------------------------------

    @pytest.fixture
    def hypervisor_factory(self) -> HypervisorFactory:
        """Override: return a callable building the driver for a node's context."""
        pytest.fail(f"{type(self).__name__} must provide the hypervisor_factory fixture")

    @pytest.fixture
    def instance_spec(self) -> InstanceSpecFactory:
        """Override: return ``(name, memory=128, vcpus=1) -> InstanceSpec``."""
        pytest.fail(f"{type(self).__name__} must provide the instance_spec fixture")

    # -- fixtures and helpers of the suite -------------------------------------------

    @pytest.fixture
    def hv(
        self,
        hypervisor_factory: HypervisorFactory,
        driver_context: DriverContext,
    ) -> Hypervisor:
        """The driver of the node under test."""
        return hypervisor_factory(driver_context)

    @pytest.fixture
    def driver(self, hv: Hypervisor) -> Hypervisor:
        """The driver the kind-independent tests of DriverConformance check."""
        return hv

    @pytest.fixture
    def other_node_context(self, driver_context: DriverContext, tmp_path: Path) -> DriverContext:
        """A second node on the same reactor, with its own state directory."""
        state = tmp_path / "node2-state"
        state.mkdir()
        return DriverContext.create(driver_context.reactor, state, node_name="node2.example.com")

    def migration_target(self, ctx: DriverContext) -> str:
        """The address :meth:`Hypervisor.migrate` sends an instance to on ``ctx``'s node."""
        return ctx.node_name

    @staticmethod
    async def _stop_quietly(hv: Hypervisor, *specs: InstanceSpec) -> None:
        """Cleanup after a test: leave nothing running, whatever the test did."""
        for spec in specs:
            try:
                await hv.stop(spec, force=True)
            except HypervisorError:
                pass

    async def _wait_for_migration(self, hv: Hypervisor, spec: InstanceSpec, reactor: Any) -> None:
        """Poll migration_status() as Ganeti does, until it reports completed."""
        started = reactor.seconds()
        while True:
            status = await hv.migration_status(spec)
            if status == MigrationStatus.COMPLETED:
                return
            assert status == MigrationStatus.ACTIVE, (
                f"migration of {spec.name} ended as {status} instead of completed"
            )
            waited = reactor.seconds() - started
            if waited >= self.MIGRATION_TIMEOUT:
                pytest.fail(f"migration of {spec.name} still active after {waited:.1f} s")
            await task.deferLater(reactor, self.MIGRATION_POLL_INTERVAL, lambda: None)

    @staticmethod
    async def _assert_running(hv: Hypervisor, spec: InstanceSpec) -> None:
        assert spec.name in await hv.list_instances()
        info = await hv.instance_info(spec.name)
        assert info is not None, f"{spec.name} is listed but instance_info() says it is not there"
        assert info.name == spec.name
        assert info.state == InstanceState.RUNNING
        assert (info.memory, info.vcpus) == (spec.memory, spec.vcpus)

    @staticmethod
    async def _assert_absent(hv: Hypervisor, spec: InstanceSpec) -> None:
        assert spec.name not in await hv.list_instances()
        assert await hv.instance_info(spec.name) is None

    # -- the class and its declarations ----------------------------------------------

    def test_is_a_complete_hypervisor(self, hv: Hypervisor) -> None:
        """The driver is a concrete Hypervisor with a name, for an API this core has."""
        cls = type(hv)
        assert issubclass(cls, Hypervisor)
        assert cls.kind == "hypervisors"
        assert isinstance(cls.name, str) and cls.name, "a hypervisor needs a non-empty name"
        assert cls.API_VERSION <= API_VERSION, (
            f"{cls.__name__} is written for plugin API {cls.API_VERSION}, core has {API_VERSION}"
        )
        missing = sorted(getattr(cls, "__abstractmethods__", ()))
        assert not inspect.isabstract(cls) and not missing, f"not implemented: {missing}"
        assert isinstance(cls.CAN_MIGRATE, bool)

    # -- lifecycle -------------------------------------------------------------------

    @async_test
    async def test_lifecycle(self, hv: Hypervisor, instance_spec: InstanceSpecFactory) -> None:
        """start -> listed and RUNNING with the memory and vcpus asked -> reboot keeps it
        running -> stop -> neither listed nor known to instance_info."""
        spec = instance_spec("conformance-life", memory=160, vcpus=2)
        try:
            await self._assert_absent(hv, spec)
            await hv.start(spec)
            await self._assert_running(hv, spec)
            assert [i.name for i in await hv.all_instances_info()] == [spec.name]
            await hv.reboot(spec)
            await self._assert_running(hv, spec)
            await hv.stop(spec)
            await self._assert_absent(hv, spec)
            assert await hv.all_instances_info() == []
        finally:
            await self._stop_quietly(hv, spec)

    @async_test
    async def test_stop_when_not_running_is_not_an_error(
        self, hv: Hypervisor, instance_spec: InstanceSpecFactory
    ) -> None:
        """Stopping an instance that never ran, or stopping it twice, just returns."""
        spec = instance_spec("conformance-stop")
        await hv.stop(spec)
        await hv.stop(spec, force=True)
        try:
            await hv.start(spec)
            await hv.stop(spec)
            await hv.stop(spec)
            await self._assert_absent(hv, spec)
        finally:
            await self._stop_quietly(hv, spec)

    @async_test
    async def test_reboot_when_not_running_fails(
        self, hv: Hypervisor, instance_spec: InstanceSpecFactory
    ) -> None:
        """Rebooting an instance that is not running is a HypervisorError (and starts nothing)."""
        spec = instance_spec("conformance-reboot")
        with pytest.raises(HypervisorError):
            await hv.reboot(spec)
        await self._assert_absent(hv, spec)

    @async_test
    async def test_start_twice_fails_naming_the_instance(
        self, hv: Hypervisor, instance_spec: InstanceSpecFactory
    ) -> None:
        """Starting a running instance is a HypervisorError naming it; the first copy
        keeps running."""
        spec = instance_spec("conformance-twice")
        try:
            await hv.start(spec)
            with pytest.raises(HypervisorError, match=spec.name):
                await hv.start(spec)
            await self._assert_running(hv, spec)
        finally:
            await self._stop_quietly(hv, spec)

    # -- the node --------------------------------------------------------------------

    @async_test
    async def test_node_info_reports_resources(self, hv: Hypervisor) -> None:
        """node_info() gives a node with memory and CPUs, free memory within bounds."""
        info = await hv.node_info()
        assert info.memory_total > 0
        assert info.cpu_total > 0
        assert 0 <= info.memory_free <= info.memory_total
        assert 0 <= info.memory_dom0 <= info.memory_total

    @async_test
    async def test_instances_use_node_memory(
        self, hv: Hypervisor, instance_spec: InstanceSpecFactory
    ) -> None:
        """A running instance takes at least its memory from memory_free, and gives it
        back when it stops (skipped when ACCOUNTS_MEMORY is False)."""
        if not self.ACCOUNTS_MEMORY:
            pytest.skip("this hypervisor does not account instance memory in node_info")
        spec = instance_spec("conformance-mem")
        before = await hv.node_info()
        assert before.memory_free >= spec.memory, "the test node is too small for the test"
        try:
            await hv.start(spec)
            running = await hv.node_info()
            assert before.memory_free - running.memory_free >= spec.memory
            await hv.stop(spec)
            after = await hv.node_info()
            assert after.memory_free - running.memory_free >= spec.memory
        finally:
            await self._stop_quietly(hv, spec)

    @async_test
    async def test_restarted_daemon_sees_running_instances(
        self,
        hv: Hypervisor,
        hypervisor_factory: HypervisorFactory,
        driver_context: DriverContext,
        instance_spec: InstanceSpecFactory,
    ) -> None:
        """A new driver object on the same state directory (a restarted node daemon)
        sees the instances the old one started, and can stop them."""
        spec = instance_spec("conformance-restart")
        try:
            await hv.start(spec)
            again = DriverContext.create(
                driver_context.reactor, driver_context.state_dir, driver_context.node_name
            )
            fresh = hypervisor_factory(again)
            assert fresh is not hv
            assert await fresh.list_instances() == await hv.list_instances()
            await self._assert_running(fresh, spec)
            await fresh.stop(spec)
            await self._assert_absent(fresh, spec)
            await self._assert_absent(hv, spec)
        finally:
            await self._stop_quietly(hv, spec)

    @async_test
    async def test_console_names_the_instance(
        self, hv: Hypervisor, driver_context: DriverContext, instance_spec: InstanceSpecFactory
    ) -> None:
        """console() says how to reach this instance: a command, an address, or a message."""
        spec = instance_spec("conformance-console")
        try:
            await hv.start(spec)
            console = hv.console(spec, driver_context.node_name)
            assert isinstance(console, ConsoleInfo)
            assert console.instance == spec.name
            assert console.kind in {"ssh", "vnc", "spice", "message"}
            if console.kind == "ssh":
                assert console.command, "an ssh console needs a command"
            elif console.kind == "message":
                assert console.message, "a message console needs a message"
            else:
                assert console.host and console.port, f"a {console.kind} console needs an address"
        finally:
            await self._stop_quietly(hv, spec)

    @async_test
    async def test_verify_returns_messages(self, hv: Hypervisor) -> None:
        """verify() returns a list of problem messages (strings)."""
        problems = await hv.verify()
        assert isinstance(problems, list)
        assert all(isinstance(p, str) and p for p in problems)

    # -- migration -------------------------------------------------------------------

    @async_test
    async def test_no_migration_without_the_capability(
        self, hv: Hypervisor, instance_spec: InstanceSpecFactory
    ) -> None:
        """A driver declaring CAN_MIGRATE = False refuses migration_info and migrate with
        a HypervisorError (skipped for drivers that can migrate)."""
        if hv.CAN_MIGRATE:
            pytest.skip("this hypervisor declares CAN_MIGRATE")
        spec = instance_spec("conformance-nomig")
        try:
            await hv.start(spec)
            with pytest.raises(HypervisorError):
                await hv.migration_info(spec)
            with pytest.raises(HypervisorError):
                await hv.migrate(spec, "node2.example.com", live=True)
            await self._assert_running(hv, spec)
        finally:
            await self._stop_quietly(hv, spec)

    @async_test
    async def test_migration_moves_the_instance(
        self,
        hv: Hypervisor,
        hypervisor_factory: HypervisorFactory,
        other_node_context: DriverContext,
        instance_spec: InstanceSpecFactory,
    ) -> None:
        """Ganeti's order (migration_info on the source, accept_instance on the target,
        migrate, migration_status until completed, finalize on the target then on the
        source, both with success) leaves the instance running on the target only."""
        if not hv.CAN_MIGRATE:
            pytest.skip("this hypervisor does not declare CAN_MIGRATE")
        target = hypervisor_factory(other_node_context)
        spec = instance_spec("conformance-mig")
        address = self.migration_target(other_node_context)
        try:
            await hv.start(spec)
            info = await hv.migration_info(spec)
            await target.accept_instance(spec, info, address)
            await hv.migrate(spec, address, live=True)
            await self._wait_for_migration(hv, spec, other_node_context.reactor)
            await target.finalize_migration_dst(spec, info, success=True)
            await hv.finalize_migration_src(spec, success=True, live=True)
            await self._assert_running(target, spec)
            await self._assert_absent(hv, spec)
            await target.stop(spec)
            await self._assert_absent(target, spec)
        finally:
            await self._stop_quietly(target, spec)
            await self._stop_quietly(hv, spec)

    @pytest.mark.parametrize("transferred", [False, True], ids=["before-migrate", "after-migrate"])
    @async_test
    async def test_aborted_migration_keeps_the_instance_on_the_source(
        self,
        hv: Hypervisor,
        hypervisor_factory: HypervisorFactory,
        other_node_context: DriverContext,
        instance_spec: InstanceSpecFactory,
        transferred: bool,
    ) -> None:
        """Finalizing with success=False on both sides (as Ganeti does when accept,
        migrate or the transfer fails) leaves the instance running on the source only,
        and the target gets back the resources it reserved."""
        if not hv.CAN_MIGRATE:
            pytest.skip("this hypervisor does not declare CAN_MIGRATE")
        target = hypervisor_factory(other_node_context)
        spec = instance_spec("conformance-abort")
        address = self.migration_target(other_node_context)
        try:
            target_before = await target.node_info()
            await hv.start(spec)
            info = await hv.migration_info(spec)
            await target.accept_instance(spec, info, address)
            if transferred:
                await hv.migrate(spec, address, live=True)
                await self._wait_for_migration(hv, spec, other_node_context.reactor)
            await target.finalize_migration_dst(spec, info, success=False)
            await hv.finalize_migration_src(spec, success=False, live=True)
            await self._assert_running(hv, spec)
            await self._assert_absent(target, spec)
            if self.ACCOUNTS_MEMORY:
                assert (await target.node_info()).memory_free >= target_before.memory_free
        finally:
            await self._stop_quietly(target, spec)
            await self._stop_quietly(hv, spec)
