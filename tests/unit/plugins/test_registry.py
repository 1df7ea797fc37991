"""Driver discovery and loading: every failure is one line naming the distribution."""

from __future__ import annotations

import pytest

from corral.api import PluginError
from corral.plugins.kinds import DriverKind
from corral.plugins.registry import DriverRegistry
from corral.plugins.registry import installed
from corral.plugins.registry import load_driver_class


def test_missing_driver_names_the_distribution_to_install() -> None:
    with pytest.raises(PluginError) as err:
        load_driver_class(DriverKind.HYPERVISOR, "nosuchhv")
    assert (
        str(err.value) == "hypervisor 'nosuchhv' is not installed: pip install corral-hv-nosuchhv"
    )


def test_each_kind_suggests_its_own_distribution() -> None:
    with pytest.raises(
        PluginError, match="disk template 'zz' is not installed: pip install corral-storage-zz"
    ):
        load_driver_class(DriverKind.STORAGE, "zz")
    with pytest.raises(PluginError, match="pip install corral-net-zz"):
        load_driver_class(DriverKind.NETWORK, "zz")


def test_installed_driver_is_listed_without_importing_it(make_dist) -> None:
    make_dist("corral-hv-mini", {"corral.hypervisors": {"mini": "corral_mini_unimported:Mini"}})
    infos = [i for i in installed("corral.hypervisors") if i.name == "mini"]
    assert [(i.distribution, i.version, i.target) for i in infos] == [
        ("corral-hv-mini", "1.0", "corral_mini_unimported:Mini")
    ]


def test_good_driver_loads(make_dist, mini_hypervisor) -> None:
    make_dist(
        "corral-hv-mini",
        {"corral.hypervisors": {"mini": "corral_mini:Mini"}},
        {"corral_mini": mini_hypervisor},
    )
    cls = load_driver_class(DriverKind.HYPERVISOR, "mini")
    assert cls.__name__ == "Mini" and cls.name == "mini"


def test_broken_driver_names_distribution_and_cause(make_dist) -> None:
    make_dist(
        "corral-hv-broken",
        {"corral.hypervisors": {"broken": "corral_broken:Broken"}},
        {"corral_broken": "import no_such_module_here\n"},
        version="2.3",
    )
    with pytest.raises(PluginError) as err:
        load_driver_class(DriverKind.HYPERVISOR, "broken")
    msg = str(err.value)
    assert "\n" not in msg
    assert "hypervisor 'broken' from corral-hv-broken 2.3 failed to load" in msg
    assert "No module named 'no_such_module_here'" in msg
    assert "pip install --force-reinstall corral-hv-broken" in msg


def test_two_distributions_claiming_one_name_fail_loudly(make_dist, mini_hypervisor) -> None:
    make_dist(
        "corral-hv-mini",
        {"corral.hypervisors": {"mini": "corral_mini:Mini"}},
        {"corral_mini": mini_hypervisor},
    )
    make_dist("other-mini", {"corral.hypervisors": {"mini": "corral_mini:Mini"}})
    with pytest.raises(PluginError, match="provided by several distributions"):
        load_driver_class(DriverKind.HYPERVISOR, "mini")


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda src: "class Mini:\n    name = 'mini'\n", "is not a Hypervisor subclass"),
        (lambda src: src.replace('name = "mini"', 'name = "other"'), "calls itself 'other'"),
        (
            lambda src: src.replace('name = "mini"', 'name = "mini"\n    API_VERSION = 99'),
            "needs plugin API 99",
        ),
        (
            lambda src: src.replace("    async def reboot(self, instance): pass\n", ""),
            "does not implement reboot",
        ),
    ],
    ids=["not-a-subclass", "other-name", "newer-api", "abstract"],
)
def test_contract_violations_are_refused(make_dist, mini_hypervisor, edit, problem: str) -> None:
    source = edit(mini_hypervisor)
    make_dist(
        "corral-hv-mini",
        {"corral.hypervisors": {"mini": "corral_mini:Mini"}},
        {"corral_mini": source},
    )
    with pytest.raises(PluginError, match=problem):
        load_driver_class(DriverKind.HYPERVISOR, "mini")


def test_registry_refuses_drivers_the_cluster_has_not_enabled(make_dist, mini_hypervisor) -> None:
    make_dist(
        "corral-hv-mini",
        {"corral.hypervisors": {"mini": "corral_mini:Mini"}},
        {"corral_mini": mini_hypervisor},
    )
    registry = DriverRegistry(enabled={DriverKind.HYPERVISOR: ["kvm"]})
    with pytest.raises(
        PluginError, match=r"hypervisor 'mini' is not enabled on this cluster \(enabled: kvm\)"
    ):
        registry.driver_class(DriverKind.HYPERVISOR, "mini")


def test_registry_allows_any_installed_driver_of_a_kind_it_does_not_restrict(
    make_dist, mini_hypervisor
) -> None:
    make_dist(
        "corral-hv-mini",
        {"corral.hypervisors": {"mini": "corral_mini:Mini"}},
        {"corral_mini": mini_hypervisor},
    )
    registry = DriverRegistry(enabled={DriverKind.STORAGE: ["file"]})
    assert registry.driver_class(DriverKind.HYPERVISOR, "mini").name == "mini"


def test_load_enabled_reports_every_failure_at_once() -> None:
    registry = DriverRegistry(
        enabled={DriverKind.HYPERVISOR: ["nohv1", "nohv2"], DriverKind.STORAGE: ["nodisk"]}
    )
    with pytest.raises(PluginError) as err:
        registry.load_enabled()
    assert str(err.value).splitlines() == [
        "hypervisor 'nohv1' is not installed: pip install corral-hv-nohv1",
        "hypervisor 'nohv2' is not installed: pip install corral-hv-nohv2",
        "disk template 'nodisk' is not installed: pip install corral-storage-nodisk",
    ]


def test_driver_objects_are_built_once_with_the_context(
    make_dist, mini_hypervisor, driver_context
) -> None:
    make_dist(
        "corral-hv-mini",
        {"corral.hypervisors": {"mini": "corral_mini:Mini"}},
        {"corral_mini": mini_hypervisor},
    )
    registry = DriverRegistry(driver_context)
    driver = registry.driver(DriverKind.HYPERVISOR, "mini")
    assert driver.ctx is driver_context
    assert registry.driver(DriverKind.HYPERVISOR, "mini") is driver


def test_registry_without_context_cannot_build_drivers(make_dist, mini_hypervisor) -> None:
    make_dist(
        "corral-hv-mini",
        {"corral.hypervisors": {"mini": "corral_mini:Mini"}},
        {"corral_mini": mini_hypervisor},
    )
    with pytest.raises(PluginError, match="no node context"):
        DriverRegistry().driver(DriverKind.HYPERVISOR, "mini")
