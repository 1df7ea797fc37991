"""Loading an OS provider folder: Ganeti's validity rules, each with the diagnosis it gives."""

from __future__ import annotations

import pytest

from corral.osapi import InvalidProvider
from corral.osapi import OSAction
from corral.osapi import OSParameter
from corral.osapi import OSProvider
from corral.osapi import OSProviderError
from corral.osapi import inspect_provider
from corral.osapi import load_provider
from corral.osapi import split_os_name


def valid(found: OSProvider | InvalidProvider) -> OSProvider:
    assert isinstance(found, OSProvider), getattr(found, "diagnosis", "")
    return found


def diagnosis(found: OSProvider | InvalidProvider) -> str:
    assert isinstance(found, InvalidProvider), f"{found.name} was accepted"
    return found.diagnosis


def test_a_complete_api20_provider_loads_with_its_variants_and_parameters(make_provider) -> None:
    folder = make_provider(
        "deb",
        files={
            "variants.list": "# comment\nbookworm\n\n  trixie  \n",
            "parameters.list": "dhcp Whether to enable (yes) or disable (no) dhcp\n"
            "root_size\tThe size of the root partition, in GiB\n\nbare\n",
        },
    )
    provider = valid(inspect_provider(folder))
    assert provider.name == "deb"
    assert provider.path == folder
    assert provider.api_versions == (20,)
    assert provider.api_version == 20
    assert provider.variants == ("bookworm", "trixie")
    assert provider.parameters == (
        OSParameter("dhcp", "Whether to enable (yes) or disable (no) dhcp"),
        OSParameter("root_size", "The size of the root partition, in GiB"),
        OSParameter("bare", ""),
    )
    assert set(provider.scripts) == {"create", "import", "export", "rename", "verify"}
    assert provider.script(OSAction.EXPORT) == folder / "export"
    assert provider.trusted


@pytest.mark.parametrize(
    ("api", "used"), [("20\n15\n10\n", 20), ("15\n10\n", 15), ("30\n20\n", 20), ("5\n10\n", 10)]
)
def test_the_highest_version_both_sides_speak_is_used(make_provider, api, used) -> None:
    provider = valid(inspect_provider(make_provider(api=api)))
    assert provider.api_version == used


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        (
            {"drop": ["ganeti_api_version"]},
            "Required file 'ganeti_api_version' not found under path {p}: ENOENT;",
        ),
        ({"api": "twenty\n"}, "API version(s) can't be converted to integer"),
        ({"api": "5\n30\n"}, "API version mismatch for path '{p}': found 5, 30, want one of"),
        ({"api": ""}, "API version mismatch for path '{p}': found none"),
        (
            {"drop": ["export"]},
            "File 'export' under path '{p}' is missing (ENOENT); every OS API version needs it",
        ),
        ({"mode": {"rename": 0o644}}, "File 'rename' under path '{p}' is not executable: chmod"),
        ({"drop": ["verify"]}, "File 'verify' under path '{p}' is missing (ENOENT); API 20"),
        ({"drop": ["parameters.list"]}, "File 'parameters.list' under path '{p}' is missing"),
        ({"drop": ["create"]}, "A create script (trusted or untrusted) under path '{p}' must"),
        ({"files": {"parameters.list": "a=b x\n"}}, "Parameter 'a=b' in {p}/parameters.list"),
    ],
)
def test_each_broken_rule_gives_a_diagnosis_naming_it(make_provider, kwargs, expected) -> None:
    folder = make_provider(**kwargs)
    found = inspect_provider(folder)
    assert expected.format(p=folder) in diagnosis(found)
    assert found.name == "testos" and found.path == folder


def test_a_script_that_is_a_directory_is_not_a_regular_file(make_provider) -> None:
    folder = make_provider(drop=["import"])
    (folder / "import").mkdir()
    assert diagnosis(inspect_provider(folder)) == (
        f"File 'import' under path '{folder}' is not a regular file"
    )


def test_older_api_versions_need_neither_verify_nor_parameters(make_provider) -> None:
    provider = valid(
        inspect_provider(make_provider(api="15\n10\n", drop=["verify", "parameters.list"]))
    )
    assert "verify" not in provider.scripts and provider.parameters == ()
    with pytest.raises(OSProviderError, match="OS API 15, which has no verify script"):
        provider.script(OSAction.VERIFY)


def test_variants_list_is_optional_and_a_dangling_link_means_no_variants(make_provider) -> None:
    folder = make_provider()
    (folder / "variants.list").symlink_to("/nonexistent/variants.list")
    assert valid(inspect_provider(folder)).variants == ()


def test_variants_list_is_ignored_below_api_15(make_provider) -> None:
    provider = valid(inspect_provider(make_provider(api="10\n", files={"variants.list": "a\n"})))
    assert provider.variants == ()


def test_an_untrusted_only_provider_is_valid_but_cannot_create(make_provider) -> None:
    folder = make_provider(drop=["create"])
    (folder / "create_untrusted").write_text("#!/bin/sh\n")
    (folder / "create_untrusted").chmod(0o755)
    provider = valid(inspect_provider(folder))
    assert not provider.trusted
    with pytest.raises(OSProviderError, match="ships create_untrusted only"):
        provider.script(OSAction.CREATE)


def test_a_file_is_not_a_provider(tmp_path) -> None:
    (tmp_path / "README").write_text("not an OS")
    assert "is not a directory" in diagnosis(inspect_provider(tmp_path / "README"))


@pytest.mark.parametrize("name", ["deb+x", "", "a/b"])
def test_a_bad_os_name_is_refused(make_provider, name) -> None:
    assert "is not valid" in diagnosis(inspect_provider(make_provider(), name=name))


def test_load_provider_raises_with_the_diagnosis(make_provider) -> None:
    folder = make_provider(mode={"create": 0o600})
    with pytest.raises(OSProviderError, match=r"OS 'testos' is not valid: File 'create' .* not"):
        load_provider(folder)
    assert load_provider(make_provider("other")).name == "other"


def test_os_names_split_at_the_first_plus() -> None:
    assert split_os_name("debootstrap+default") == ("debootstrap", "default")
    assert split_os_name("noop") == ("noop", "")
    assert split_os_name("a+b+c") == ("a", "b+c")


def test_with_variants_a_name_must_carry_a_listed_one(make_provider) -> None:
    provider = valid(inspect_provider(make_provider("deb", files={"variants.list": "a\nb\n"})))
    provider.check_os_name("deb+b")
    with pytest.raises(OSProviderError, match=r"'deb' must include a variant: one of deb\+a, deb"):
        provider.check_os_name("deb")
    with pytest.raises(OSProviderError, match="does not support variant 'c'"):
        provider.check_os_name("deb+c")
    provider.check_os_name("deb+c", force_variant=True)
    with pytest.raises(OSProviderError, match="does not name OS 'deb'"):
        provider.check_os_name("other+a")
    assert provider.variant_for("deb+b") == "b"
    assert provider.variant_for("deb") == "a"  # Ganeti's default: the first listed


def test_without_variants_a_name_may_carry_none(make_provider) -> None:
    provider = valid(inspect_provider(make_provider("noop")))
    provider.check_os_name("noop")
    with pytest.raises(OSProviderError, match=r"does not support variants \('x' passed\)"):
        provider.check_os_name("noop+x")
    assert provider.variant_for("noop") == ""


def test_only_declared_parameters_are_accepted(make_provider) -> None:
    provider = valid(inspect_provider(make_provider(files={"parameters.list": "dhcp on/off\n"})))
    provider.check_parameters(["dhcp"])
    with pytest.raises(
        OSProviderError,
        match=r"not supported by the OS testos: color, size \(it supports: dhcp\)",
    ):
        provider.check_parameters(["size", "dhcp", "color"])
