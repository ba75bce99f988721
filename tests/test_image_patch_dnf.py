"""image patch --rpm on an image with dnf, as RDO's EL9 images have: real dnf installs the
RPM and resolves its Requires from the image's repository, a rebuilt RPM of a version the
image has already is reinstalled (its new files win), and a Requires nothing provides is one
line with nothing pushed. The image: fixtures/images/dnf (Debian's dnf 4 and rpm; no EL
image can be pulled here)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from packages import build_rpm

from tripleo_ovn_metadata import cli, image, paths
from tripleo_ovn_metadata import patch as patch_lib
from tripleo_ovn_metadata import registry as registry_lib
from tripleo_ovn_metadata.procs import run

RECIPE = paths.bundle_root() / "fixtures" / "images" / "dnf"
NAME = "tom-dnf-test"
SHARE = "/usr/share/tom-dnf"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (shutil.which("rpmbuild") and shutil.which("createrepo_c")),
                       reason="rpmbuild or createrepo_c is not installed"),
]


def _context(tmp: Path) -> Path:
    """The recipe plus repo/: tom-dnf-lib (a dependency nobody installed yet) and
    tom-dnf-app 1.0-1 (which the image installs)."""
    context = tmp / "context"
    shutil.copytree(RECIPE, context)
    repo = context / "repo"
    repo.mkdir()
    for name, text in (("tom-dnf-lib", "lib from the repository\n"),
                       ("tom-dnf-app", "app as released\n")):
        rpm = build_rpm(tmp / name, name, {f"{SHARE}/{name}.txt": text})
        shutil.copy(rpm, repo)
    run(["createrepo_c", "--quiet", str(repo)])
    return context


@pytest.fixture(scope="module")
def dnf_base(registry: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The dnf image in the registry, tagged by its context's hash; removed afterwards."""
    context = _context(tmp_path_factory.mktemp("dnf-image"))
    digest = hashlib.sha256(b"".join(
        path.relative_to(context).as_posix().encode() + path.read_bytes()
        for path in sorted(context.rglob("*")) if path.is_file())).hexdigest()[:12]
    local = image.local_ref(NAME, digest)
    remote = image.remote_ref(registry, NAME, digest)
    run(["podman", "build", "-q", "-t", local, str(context)], timeout=1200)
    try:
        image.push(local, remote, force=True)
        yield remote
    finally:
        repository = remote.partition("/")[2].rpartition(":")[0]
        if registry_lib.has_tag(registry, repository, digest):
            registry_lib.delete(registry, repository, image.remote_digest(remote))
        for ref in (local, remote):  # buildah from pulled the registry one
            subprocess.run(["podman", "rmi", ref], capture_output=True, check=False)


def in_image(ref: str, script: str) -> str:
    proc = subprocess.run(["podman", "run", "--rm", "--tls-verify=false", ref, "sh", "-c",
                           script], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_dnf_resolves_the_dependency_and_reinstalls_a_rebuilt_version(
    dnf_base: str, registry: str, made: list[str], tmp_path: Path
) -> None:
    nonce = uuid.uuid4().hex
    tool = build_rpm(tmp_path / "tool", "tom-dnf-tool", {f"{SHARE}/tom-dnf-tool.txt": nonce},
                     requires=("tom-dnf-lib >= 1.0",))
    hotfix = build_rpm(tmp_path / "app", "tom-dnf-app",
                       {f"{SHARE}/tom-dnf-app.txt": f"app hotfix {nonce}\n"})
    assert in_image(dnf_base, "rpm -q tom-dnf-app; rpm -q tom-dnf-lib || true") == (
        "tom-dnf-app-1.0-1.noarch\npackage tom-dnf-lib is not installed")

    patched = patch_lib.patch(patch_lib.Inputs(rpms=[tool, hotfix]), base=dnf_base,
                              address=registry)
    made.append(patched.pushed.ref)

    assert in_image(patched.pushed.ref, "rpm -q tom-dnf-tool tom-dnf-lib tom-dnf-app") == (
        "tom-dnf-tool-1.0-1.noarch\ntom-dnf-lib-1.0-1.noarch\ntom-dnf-app-1.0-1.noarch")
    assert in_image(patched.pushed.ref, f"cat {SHARE}/tom-dnf-tool.txt; echo; "
                                        f"cat {SHARE}/tom-dnf-lib.txt {SHARE}/tom-dnf-app.txt"
                    ) == f"{nonce}\nlib from the repository\napp hotfix {nonce}"
    # One thin layer on the base, as for the other package kinds.
    assert 0 < patched.layer_bytes < 1_000_000
    assert len(image.manifest(patched.pushed.ref)["layers"]) == (
        len(image.manifest(dnf_base)["layers"]) + 1)


def test_a_requires_nothing_provides_is_one_line_and_pushes_nothing(
    dnf_base: str, registry: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    orphan = build_rpm(tmp_path, "tom-dnf-orphan", {f"{SHARE}/orphan.txt": uuid.uuid4().hex},
                       requires=("tom-dnf-absent",))
    tag = f"{dnf_base.rpartition(':')[2]}-{patch_lib.Inputs(rpms=[orphan]).digest()}"

    code = cli.main(["--quiet", "image", "patch", "--registry", registry, "--from", dnf_base,
                     "--rpm", str(orphan)])

    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1, err
    assert err.startswith(f"tripleo-ovn-metadata image: error: patching {NAME} failed: "
                          "dnf install failed: "), err
    assert "nothing provides tom-dnf-absent needed by tom-dnf-orphan-1.0-1.noarch" in err, err
    assert not registry_lib.has_tag(registry, f"{registry_lib.NAMESPACE}/{NAME}", tag)
    assert not image.local_exists(image.local_ref(NAME, tag))
