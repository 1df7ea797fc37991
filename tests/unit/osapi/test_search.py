"""Finding providers: the search path in order, then the corral.osdefs distributions."""

from __future__ import annotations

import pytest

from corral.api import DriverContext
from corral.osapi import DEFAULT_OS_SEARCH_PATH
from corral.osapi import InvalidProvider
from corral.osapi import OSProvider
from corral.osapi import OSProviderError
from corral.osapi import OSSearch
from corral.plugins.registry import DriverRegistry

SITE_OSDEF = """
from pathlib import Path
from corral.api import OSDefinition

class SiteOS(OSDefinition):
    name = "{name}"

    def path(self):
        return Path({folder!r})
"""


def registry(tmp_path) -> DriverRegistry:
    return DriverRegistry(DriverContext.create(None, tmp_path / "state"))


def test_the_default_search_path_is_ganetis() -> None:
    assert [str(p) for p in DEFAULT_OS_SEARCH_PATH] == [
        "/srv/ganeti/os",
        "/usr/local/lib/ganeti/os",
        "/usr/lib/ganeti/os",
        "/usr/share/ganeti/os",
    ]


def test_the_first_directory_holding_the_os_wins(tmp_path, make_provider) -> None:
    site, packaged = tmp_path / "site", tmp_path / "packaged"
    make_provider("deb", top=packaged, files={"variants.list": "old\n"})
    make_provider("deb", top=site, files={"variants.list": "new\n"})
    search = OSSearch([tmp_path / "missing", site, packaged])
    found = search.find("deb+new")
    assert (found.path, found.variants, found.source) == (site / "deb", ("new",), str(site))


def test_an_invalid_first_folder_is_not_skipped(tmp_path, make_provider) -> None:
    site, packaged = tmp_path / "site", tmp_path / "packaged"
    make_provider("deb", top=packaged)
    make_provider("deb", top=site, drop=["rename"])
    with pytest.raises(OSProviderError, match=rf"OS 'deb' \(from {site}\) is not valid: File 're"):
        OSSearch([site, packaged]).find("deb")


def test_a_missing_os_names_the_search_path_and_the_distribution(tmp_path) -> None:
    with pytest.raises(OSProviderError) as caught:
        OSSearch([tmp_path / "a", tmp_path / "b"]).find("centos+9")
    assert str(caught.value) == (
        f"Directory for OS centos not found in search path ({tmp_path}/a, {tmp_path}/b)"
        " and no installed distribution provides it: install its folder on this node"
        " or pip install corral-os-centos"
    )


def test_diagnose_lists_every_candidate_shadowed_and_broken_ones_too(
    tmp_path, make_provider
) -> None:
    site, packaged = tmp_path / "site", tmp_path / "packaged"
    make_provider("deb", top=site)
    make_provider("deb", top=packaged)
    make_provider("bad", top=packaged, api="3\n")
    (packaged / "README").write_text("stray file")
    (packaged / ".hidden").mkdir()
    search = OSSearch([site, packaged])
    found = [(f.name, f.path, type(f).__name__) for f in search.diagnose()]
    assert found == [
        ("deb", site / "deb", "OSProvider"),
        ("README", packaged / "README", "InvalidProvider"),
        ("bad", packaged / "bad", "InvalidProvider"),
        ("deb", packaged / "deb", "OSProvider"),
    ]
    usable = search.usable()
    assert usable["deb"].path == site / "deb"
    assert isinstance(usable["bad"], InvalidProvider)
    assert "API version mismatch" in usable["bad"].diagnosis


def test_distributions_provide_oses_after_the_directories(
    tmp_path, make_provider, make_dist
) -> None:
    shipped = make_provider("siteos", top=tmp_path / "shipped")
    make_dist(
        "corral-os-siteos",
        {"corral.osdefs": {"siteos": "corral_os_siteos:SiteOS"}},
        {"corral_os_siteos": SITE_OSDEF.format(name="siteos", folder=str(shipped))},
    )
    search = OSSearch([tmp_path / "dir"], registry(tmp_path))
    found = search.find("siteos")
    assert isinstance(found, OSProvider)
    assert (found.path, found.source) == (shipped, "corral-os-siteos 1.0")
    assert [f.name for f in search.diagnose()].count("siteos") == 1
    # A folder of the same name in the search path shadows the distribution.
    make_provider("siteos", top=tmp_path / "dir")
    assert search.find("siteos").path == tmp_path / "dir/siteos"
    assert [f.source for f in search.diagnose() if f.name == "siteos"] == [
        str(tmp_path / "dir"),
        "corral-os-siteos 1.0",
    ]
    # Without a registry, distributions are not searched.
    assert "siteos" not in {f.name for f in OSSearch([]).diagnose()}


def test_a_broken_distribution_is_diagnosed_not_raised(tmp_path, make_dist) -> None:
    make_dist(
        "corral-os-broken",
        {"corral.osdefs": {"broken": "corral_os_broken:Missing"}},
        {"corral_os_broken": "X = 1\n"},
    )
    search = OSSearch([], registry(tmp_path))
    (broken,) = [f for f in search.diagnose() if f.name == "broken"]
    assert isinstance(broken, InvalidProvider)
    assert broken.source == "corral-os-broken 1.0"
    assert "failed to load" in broken.diagnosis and "pip install --force-reinstall" in (
        broken.diagnosis
    )
    with pytest.raises(OSProviderError, match=r"OS 'broken' \(from corral-os-broken 1\.0\) is not"):
        search.find("broken")
