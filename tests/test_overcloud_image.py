"""``overcloud-image patch``: virt-customize puts our module and packages into a qcow2.

The image is built here: the debootstrap base image's tree (tools/setup.d/27-containers.sh)
without docs and Python, plus an older copy of our module with a file since removed, as
ext4 in a qcow2 (~100 MB; no appliance needed). The module is read back with guestfish.
libguestfs runs with KVM when it works here and TCG otherwise; one case forces TCG. Bad
input and a failing install leave the image as it was, byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tripleo_ovn_metadata import artifact, cli, overcloud_image, paths
from tripleo_ovn_metadata.procs import run

pytestmark = pytest.mark.slow

MODULE_IN_IMAGE = "/etc/puppet/modules/tripleo_ovn_metadata"


@pytest.fixture(scope="module")
def base_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample Debian qcow2, with an older copy of our module holding a stale file."""
    where = tmp_path_factory.mktemp("overcloud-image")
    tree = overcloud_image.sample_tree(where / "tree")
    old = tree / MODULE_IN_IMAGE.lstrip("/")
    shutil.copytree(paths.bundle_root() / artifact.MODULE / "manifests", old / "manifests")
    (old / "manifests/stale.pp").write_text("class stale {}\n")
    image = overcloud_image.image_from_tree(tree, where / "base.qcow2")
    shutil.rmtree(tree)
    return image


@pytest.fixture
def disk(base_image: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "overcloud-full.qcow2"
    run(["cp", "--reflink=auto", str(base_image), str(copy)])
    return copy


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _deb(tmp: Path) -> Path:
    """A tiny .deb with one file, as a package fix would come."""
    root = tmp / "deb"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN/control").write_text(
        "Package: tom-image-probe\nVersion: 1.0\nArchitecture: all\n"
        "Maintainer: tests <t@example.invalid>\nDescription: image patch probe\n")
    (root / "usr/share/tom-image-probe").mkdir(parents=True)
    (root / "usr/share/tom-image-probe/marker").write_text("patched\n")
    run(["dpkg-deb", "--root-owner-group", "--build", str(root), str(tmp / "probe_1.0_all.deb")])
    return tmp / "probe_1.0_all.deb"


def _guestfish(disk: Path, script: str) -> str:
    """Run guestfish commands on the image, read-only, with the guest's root mounted."""
    proc = subprocess.run(["guestfish", "--ro", "-a", str(disk), "-i"], input=script,
                          capture_output=True, text=True, env=overcloud_image.guestfs_env(),
                          timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _module_from_image(disk: Path, into: Path, *more: str) -> tuple[dict[str, bytes], str]:
    """The module's files copied out of the image, and the output of ``more`` commands."""
    into.mkdir()
    out = _guestfish(disk, "\n".join([f"copy-out {MODULE_IN_IMAGE} {into}", *more]) + "\n")
    module = into / "tripleo_ovn_metadata"
    files = {str(p.relative_to(module)): p.read_bytes() for p in module.rglob("*") if p.is_file()}
    return files, out


def _shipped() -> dict[str, bytes]:
    module = paths.bundle_root() / artifact.MODULE
    return {str(p.relative_to(module)): p.read_bytes() for p in module.rglob("*")
            if p.is_file() and p.relative_to(module).parts[0] != "spec"
            and not p.name.startswith(".")}


def test_patch_puts_the_module_and_a_deb_into_the_image(
    disk: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exactly the current module ends up there (the old copy's stale.pp goes)."""
    deb = _deb(tmp_path)
    rc = cli.main(["overcloud-image", "patch", "--image", str(disk), "--puppet",
                   "--deb", str(deb)])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert out.startswith(f"{disk}: patched (our Puppet module in /etc/puppet/modules, "
                          f"{deb.name}) in ")
    files, facts = _module_from_image(
        disk, tmp_path / "out",
        f"stat {MODULE_IN_IMAGE}/manifests/profile/ovn_metadata.pp",
        f"is-dir {overcloud_image.UPLOAD_DIR}",
        "exists /.autorelabel",
        f"download /var/lib/dpkg/status {tmp_path / 'status'}",
        f"download /usr/share/tom-image-probe/marker {tmp_path / 'marker'}",
    )  # fmt: skip
    assert files == _shipped()
    assert "uid: 0\n" in facts and "gid: 0\n" in facts
    assert facts.endswith("false\nfalse\n")  # no upload dir left; no SELinux relabel mark
    status = (tmp_path / "status").read_text()
    assert "Package: tom-image-probe\nStatus: install ok installed\n" in status
    assert (tmp_path / "marker").read_text() == "patched\n"
    assert not list(disk.parent.glob(f".{disk.name}.patch-*"))


def test_failed_install_leaves_the_image_untouched_forced_tcg(
    disk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A Debian guest has no rpm: virt-customize fails after copying the module in.
    TCG forced, as on a machine without KVM."""
    monkeypatch.setenv("LIBGUESTFS_BACKEND_SETTINGS", "force_tcg")
    rpm = tmp_path / "tom-probe-1.0-1.noarch.rpm"
    rpm.write_bytes(b"\xed\xab\xee\xdb not really an rpm")
    before = _sha(disk)
    rc = cli.main(["overcloud-image", "patch", "--image", str(disk), "--puppet",
                   "--rpm", str(rpm)])
    out, err = capsys.readouterr()
    assert (rc, out) == (1, "")
    lines = err.splitlines()
    errors = [line for line in lines if "error:" in line]
    assert len(errors) == 1, err
    assert errors[0].startswith(f"tripleo-ovn-metadata overcloud-image: error: virt-customize "
                                f"failed on {disk}: ")
    assert "rpm" in errors[0] and "Traceback" not in err
    assert "virt-customize overcloud-full.qcow2 (tcg) failed after" in err
    assert _sha(disk) == before
    assert not list(disk.parent.glob(f".{disk.name}.patch-*"))


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda d, t: (t / "missing.qcow2", []), "missing.qcow2: no such file"),
        (lambda d, t: (_write(t / "notes.qcow2", b"just text\n"), []),
         "notes.qcow2: not a qcow2 image (no QFI\\xfb magic)"),
        (lambda d, t: (_write(t / "broken.qcow2", b"QFI\xfb" + bytes(508)), []),
         "broken.qcow2: unreadable qcow2 image: "),
        (lambda d, t: (d, [t / "missing.deb"]), "missing.deb: no such file"),
        (lambda d, t: (d, [_write(t / "x.txt", b"x")]), "x.txt: expected a .deb file"),
    ],
    ids=["missing-image", "not-qcow2", "corrupt-qcow2", "missing-deb", "not-a-deb"],
)
def test_bad_input_is_one_line_and_touches_nothing(
    disk: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], make, expected: str
) -> None:
    target, debs = make(disk, tmp_path)
    before = {p: _sha(p) for p in tmp_path.iterdir() if p.is_file()}
    argv = ["overcloud-image", "patch", "--image", str(target), "--puppet"]
    rc = cli.main(argv + (["--deb", *map(str, debs)] if debs else []))
    out, err = capsys.readouterr()
    assert (rc, out) == (1, "")
    assert err.count("\n") == 1 and expected in err, err
    assert err.startswith("tripleo-ovn-metadata overcloud-image: error: ")
    assert {p: _sha(p) for p in tmp_path.iterdir() if p.is_file()} == before


def test_missing_module_dir_and_nothing_to_do_are_one_line(
    disk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = _sha(disk)
    assert cli.main(["overcloud-image", "patch", "--image", str(disk)]) == 1
    assert capsys.readouterr().err == ("tripleo-ovn-metadata overcloud-image: error: nothing to "
                                       "patch: give --puppet, --rpm or --deb\n")
    monkeypatch.setenv("TRIPLEO_OVN_METADATA_BUNDLE", str(tmp_path / "empty-bundle"))
    assert cli.main(["overcloud-image", "patch", "--image", str(disk), "--puppet"]) == 1
    assert capsys.readouterr().err == (
        "tripleo-ovn-metadata overcloud-image: error: "
        f"{tmp_path / 'empty-bundle' / artifact.MODULE}: no such Puppet module "
        "(no manifests/ directory)\n")
    assert _sha(disk) == before


def test_accelerator_is_probed_once_per_machine(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The answer lives in the state directory, so a fresh checkout does not probe again;
    a KVM that hangs costs the kernel probe's seconds, not an appliance's two minutes."""
    monkeypatch.setenv("TRIPLEO_OVN_METADATA_STATE", str(tmp_path / "state"))
    monkeypatch.setenv("TRIPLEO_OVN_METADATA_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("LIBGUESTFS_BACKEND_SETTINGS", raising=False)
    started = time.monotonic()
    chosen = overcloud_image.accelerator()
    took = time.monotonic() - started
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):  # nothing to probe, nothing kept
        assert chosen == "tcg" and not (tmp_path / "state").exists()
        return
    kept = json.loads((tmp_path / "state" / "guestfs-accelerator.json").read_text())
    assert kept["accelerator"] == chosen
    if chosen == "tcg" and "did not boot under KVM" in kept["why"]:
        assert took < overcloud_image.KERNEL_PROBE_TIMEOUT + 10, took
    # Asked again (another checkout: another cache dir), it is not probed again.
    monkeypatch.setenv("TRIPLEO_OVN_METADATA_CACHE", str(tmp_path / "other-cache"))
    monkeypatch.setattr(overcloud_image, "_kernel_panics_under_kvm", _must_not_probe)
    monkeypatch.setattr(overcloud_image, "_appliance_boots_under_kvm", _must_not_probe)
    assert overcloud_image.accelerator() == chosen


def _must_not_probe() -> tuple[bool, str]:
    raise AssertionError("probed again")
