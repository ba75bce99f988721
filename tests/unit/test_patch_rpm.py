"""image patch's RPM handling without an image: the dnf/microdnf commands, the refusal on a
dpkg image and the unpacker's relocation of an EL python3 RPM's site-packages.

The commands are checked here against stand-in ``dnf`` and ``rpm`` that record their
arguments; real dnf on an image with a repository: tests/test_image_patch_dnf.py.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tripleo_ovn_metadata import patch
from tripleo_ovn_metadata.errors import BundleError

BASE = "127.0.0.1:8787/tripleo-ovn-metadata/neutron-metadata-agent-ovn:abc"
EL9_SITE = "usr/lib/python3.9/site-packages"


def unpacker() -> ModuleType:
    """data/rpm_unpack.py, loaded by path as the image's python3 runs it."""
    spec = importlib.util.spec_from_file_location("rpm_unpack", patch.UNPACKER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_tools(bin_dir: Path, log: Path, installed: str) -> None:
    """``rpm`` (NVRA from the file name; -q true for ``installed``) and dnf/microdnf that log."""
    bin_dir.mkdir()
    (bin_dir / "rpm").write_text(f"""#!/bin/sh
if [ "$1" = -qp ]; then eval f=\\${{$#}}; basename "$f" .rpm; exit 0; fi
[ "$1" = -q ] && [ "$2" = "{installed}" ]
""")
    for name in patch.RPM_INSTALLERS:
        (bin_dir / name).write_text(f'#!/bin/sh\necho "{name} $*" >> {log}\n')
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)


def run_rpm_step(tmp_path: Path, installer: str, rpms: list[str], installed: str) -> list[str]:
    """rpm_step(installer) after the script's prelude, on staged ``rpms``; the logged calls."""
    (tmp_path / "m/rpm").mkdir(parents=True)
    for name in rpms:
        (tmp_path / "m/rpm" / name).write_bytes(b"")
    log = tmp_path / "calls"
    fake_tools(tmp_path / "bin", log, installed)
    script = patch._prelude(str(tmp_path / "m")) + patch.rpm_step(installer)
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}"}
    subprocess.run(["sh", "-c", script], env=env, check=True, capture_output=True)
    return [line.replace(str(tmp_path / "m/rpm") + "/", "") for line in
            log.read_text().splitlines()]


@pytest.mark.parametrize("installer", patch.RPM_INSTALLERS)
def test_rpms_go_in_with_the_images_installer_a_same_version_one_reinstalled(
    tmp_path: Path, installer: str,
) -> None:
    calls = run_rpm_step(tmp_path, installer, ["a-1-1.noarch.rpm", "b-2-1.noarch.rpm"],
                         installed="b-2-1.noarch")
    assert calls == [f"{installer} install -y a-1-1.noarch.rpm",
                     f"{installer} reinstall -y b-2-1.noarch.rpm",
                     f"{installer} clean all"]


def test_only_new_rpms_are_installed(tmp_path: Path) -> None:
    calls = run_rpm_step(tmp_path, "dnf", ["a-1-1.noarch.rpm"], installed="other")
    assert calls == ["dnf install -y a-1-1.noarch.rpm", "dnf clean all"]


def test_unpacked_rpms_are_copied_by_the_images_python() -> None:
    step = patch.rpm_step(None)
    assert "need python3 --rpm-unpack-without-deps" in step
    assert "python3 $m/tool/rpm_unpack.py $m/rpm-unpack" in step
    assert "dnf" not in step and "rpm -" not in patch._script(None)


def test_an_unknown_installer_is_a_bug() -> None:
    with pytest.raises(ValueError):
        patch.rpm_step("yum")


def _found(monkeypatch: pytest.MonkeyPatch, commands: set[str]) -> list[tuple[str, ...]]:
    asked: list[tuple[str, ...]] = []

    def commands_in(container: str, names: tuple[str, ...]) -> set[str]:
        asked.append(names)
        return commands & set(names)

    monkeypatch.setattr(patch, "_commands", commands_in)
    return asked


@pytest.mark.parametrize(("commands", "expected"), [
    ({"dnf", "microdnf"}, "dnf"), ({"microdnf", "dpkg"}, "microdnf"), ({"dnf"}, "dnf"),
])
def test_the_installer_is_dnf_else_microdnf(
    monkeypatch: pytest.MonkeyPatch, commands: set[str], expected: str,
) -> None:
    _found(monkeypatch, commands)
    inputs = patch.Inputs(rpms=[Path("a.rpm")])
    assert patch.rpm_installer(BASE, "ctr", inputs) == expected


@pytest.mark.parametrize(("rpms", "dpkg", "expected"), [
    (["foo.rpm"], True,
     f"{BASE}: a dpkg image has no dnf/microdnf to install foo.rpm with its dependencies; "
     "use --deb, --wheel or --source, or --rpm-unpack-without-deps to unpack its files"),
    (["a.rpm", "b.rpm"], False,
     f"{BASE}: the image has no dnf/microdnf to install a.rpm, b.rpm with their "
     "dependencies; use --deb, --wheel or --source, or --rpm-unpack-without-deps to unpack "
     "their files"),
])
def test_an_image_without_dnf_refuses_rpms_in_one_line(
    monkeypatch: pytest.MonkeyPatch, rpms: list[str], dpkg: bool, expected: str,
) -> None:
    _found(monkeypatch, {"dpkg"} if dpkg else set())
    with pytest.raises(BundleError) as refused:
        patch.rpm_installer(BASE, "ctr", patch.Inputs(rpms=[Path(name) for name in rpms]))
    assert str(refused.value) == expected


def test_no_probe_without_rpms_or_when_unpacking(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = _found(monkeypatch, set())
    assert patch.rpm_installer(BASE, "ctr", patch.Inputs(debs=[Path("a.deb")])) is None
    unpack = patch.Inputs(rpms=[Path("a.rpm")], rpm_unpack=True)
    assert patch.rpm_installer(BASE, "ctr", unpack) is None
    assert asked == []


def test_unpacking_needs_rpms_and_never_shares_a_tag_with_installing(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match=r"^--rpm-unpack-without-deps applies to --rpm$"):
        patch.Inputs(debs=[tmp_path / "a.deb"], rpm_unpack=True).check()
    rpm = tmp_path / "a.rpm"
    rpm.write_bytes(b"x")
    installed, unpacked = patch.Inputs(rpms=[rpm]), patch.Inputs(rpms=[rpm], rpm_unpack=True)
    assert installed.digest() != unpacked.digest()
    assert unpacked.digest() == patch.Inputs(rpms=[rpm], rpm_unpack=True).digest()


def test_site_packages_go_where_the_image_imports_each_package_from() -> None:
    rpm_unpack = unpacker()
    where = {"neutron": "/usr/lib/python3/dist-packages"}.get
    purelib = "/usr/local/lib/python3.11/dist-packages"
    agent = "neutron/agent/ovn/metadata/agent.py"
    cases = {
        f"{EL9_SITE}/{agent}": f"/usr/lib/python3/dist-packages/{agent}",
        f"usr/lib64/python3.9/site-packages/{agent}": f"/usr/lib/python3/dist-packages/{agent}",
        f"{EL9_SITE}/tom_new.py": f"{purelib}/tom_new.py",
        f"{EL9_SITE}/neutron-21.0.0-py3.9.egg-info/PKG-INFO":
            f"{purelib}/neutron-21.0.0-py3.9.egg-info/PKG-INFO",
        f"{EL9_SITE}/neutron/__pycache__/x.cpython-39.pyc": None,
        EL9_SITE: None,
        "usr/lib/python3.9": None,
        "usr/bin/neutron-ovn-metadata-agent": "/usr/bin/neutron-ovn-metadata-agent",
        "etc/neutron/x.conf": "/etc/neutron/x.conf",
    }
    for rel, expected in cases.items():
        assert rpm_unpack.destination(rel, purelib, where) == expected, rel


def test_installed_dir_is_where_this_python_imports_from() -> None:
    rpm_unpack = unpacker()
    assert rpm_unpack.installed_dir("json") == str(Path(json.__file__).parents[1])
    assert rpm_unpack.installed_dir("textwrap") == os.path.dirname(sys.modules["os"].__file__)
    assert rpm_unpack.installed_dir("tom_no_such_module") is None
    assert rpm_unpack.installed_dir("sys") is None  # built in: nothing to replace


def test_copy_replaces_the_file_and_its_stale_bytecode(tmp_path: Path) -> None:
    rpm_unpack = unpacker()
    root = tmp_path / "root" / EL9_SITE / "pkg"
    root.mkdir(parents=True)
    (root / "mod.py").write_text("NEW = 1\n")
    (root / "link.py").symlink_to("mod.py")
    installed = tmp_path / "dist-packages/pkg"
    (installed / "__pycache__").mkdir(parents=True)
    (installed / "mod.py").write_text("OLD = 1\n")
    (installed / "__pycache__/mod.cpython-311.pyc").write_bytes(b"stale")
    (installed / "__pycache__/other.cpython-311.pyc").write_bytes(b"kept")
    pairs = rpm_unpack.plan(str(tmp_path / "root"), "/unused",
                            {"pkg": str(tmp_path / "dist-packages")}.get)
    for source, target in pairs:
        rpm_unpack.copy(source, target)
    assert (installed / "mod.py").read_text() == "NEW = 1\n"
    assert os.readlink(installed / "link.py") == "mod.py"
    assert sorted(p.name for p in (installed / "__pycache__").iterdir()) == [
        "other.cpython-311.pyc"]
    assert rpm_unpack.python_dirs(str(tmp_path / "root"), pairs) == [
        str(tmp_path / "dist-packages")]
