"""The dev loop: rpm, deb, wheel and source go into one layer, tagged by content, pushed
with only the new layer's blobs; the changed code runs in a container from the pushed image.

The agent image is Debian's (dpkg): it refuses --rpm, and --rpm-unpack-without-deps puts an
EL9 python3 RPM's files where its Python reads them. The dnf path: tests/test_image_patch_dnf.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest
from packages import build_el9_hotfix_rpm

from tripleo_ovn_metadata import cli, image, paths, yamlio
from tripleo_ovn_metadata import patch as patch_lib
from tripleo_ovn_metadata import registry as registry_lib
from tripleo_ovn_metadata.procs import run

MARKERS = "/usr/lib/python3/dist-packages/neutron"
AGENT_MODULE = "neutron.agent.ovn.metadata.agent"
NEUTRON_SDIST = "neutron==21.0.0"
#: Reproducible package builds: the same inputs give the same bytes, hence the same tag.
REPRO = {**os.environ, "SOURCE_DATE_EPOCH": "1700000000"}


def build_rpm(tmp: Path, nonce: str = "") -> Path:
    """A noarch RPM (Debian's rpmbuild) placing a marker module in the neutron package."""
    tmp.mkdir(parents=True, exist_ok=True)
    spec = tmp / "tom-marker-rpm.spec"
    spec.write_text(f"""Name: tom-marker-rpm
Version: 1.0
Release: 1
Summary: image patch test marker
License: ASL 2.0
BuildArch: noarch
%description
marker
%install
mkdir -p %{{buildroot}}{MARKERS}
echo 'MARKER = "rpm"{nonce}' > %{{buildroot}}{MARKERS}/tom_marker_rpm.py
%files
{MARKERS}/tom_marker_rpm.py
""")
    run(["rpmbuild", "-bb", "--define", f"_topdir {tmp / 'rpmbuild'}",
         "--define", "use_source_date_epoch_as_buildtime 1", "--define", "_buildhost repro",
         "--define", "clamp_mtime_to_source_date_epoch 1", str(spec)], env=REPRO)
    return tmp / "rpmbuild/RPMS/noarch/tom-marker-rpm-1.0-1.noarch.rpm"


def build_deb(tmp: Path) -> Path:
    """A .deb (dpkg-deb) placing a marker module in the neutron package."""
    root = tmp / "deb"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN/control").write_text(
        "Package: tom-marker-deb\nVersion: 1.0\nArchitecture: all\n"
        "Maintainer: tripleo-ovn-metadata <dev@example.invalid>\nDescription: marker\n")
    (root / MARKERS.lstrip("/")).mkdir(parents=True)
    (root / MARKERS.lstrip("/") / "tom_marker_deb.py").write_text('MARKER = "deb"\n')
    out = tmp / "tom-marker-deb_1.0_all.deb"
    run(["dpkg-deb", "--root-owner-group", "--build", str(root), str(out)], env=REPRO)
    return out


def build_wheel(tmp: Path) -> Path:
    """A wheel (pip wheel) with a top-level marker module."""
    src = tmp / "wheel-src"
    (src / "tom_marker_wheel").mkdir(parents=True)
    (src / "tom_marker_wheel/__init__.py").write_text('MARKER = "wheel"\n')
    (src / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "tom-marker-wheel"\nversion = "1.0"\n')
    run([str(paths.venv_bin("pip")), "wheel", "-q", "--no-deps", "-w", str(tmp / "wheels"),
         str(src)], env=REPRO)
    return tmp / "wheels/tom_marker_wheel-1.0-py3-none-any.whl"


def neutron_checkout(tmp: Path, marker: str) -> Path:
    """neutron 21.0.0's source (the PyPI sdist, cached) with a marker module added."""
    cache = paths.cache_dir() / "sdists"
    sdist = cache / "neutron-21.0.0.tar.gz"
    if not sdist.exists():
        run([str(paths.venv_bin("pip")), "download", "-q", "--no-deps", "--no-binary", ":all:",
             "-d", str(cache), NEUTRON_SDIST])
    run(["tar", "-C", str(tmp), "-xzf", str(sdist)])
    tree = tmp / "neutron-21.0.0"
    (tree / "neutron/tom_marker_source.py").write_text(f"MARKER = {marker!r}\n")
    return tree


def in_container(ref: str, code: str) -> str:
    proc = subprocess.run(["podman", "run", "--rm", "--tls-verify=false", ref, "python3", "-c",
                           code], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def layers(ref: str) -> list[str]:
    return [layer["digest"] for layer in image.manifest(ref)["layers"]]


def assert_thin_push(result: patch_lib.Patched) -> None:
    """What one patch sent: its layer, a config without the base's history (our label kept)
    and an OCI manifest naming the base by digest; the bytes counted are exactly those."""
    ref = result.pushed.ref
    raw = run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{ref}"]).stdout
    manifest = json.loads(raw)
    config = json.loads(run(["skopeo", "inspect", "--config", "--raw", "--tls-verify=false",
                             f"docker://{ref}"]).stdout)
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert manifest["annotations"]["org.opencontainers.image.base.digest"] == (
        image.remote_digest(result.base))
    assert not config.get("history")
    assert config["config"]["Labels"][patch_lib.LABEL] == ref.rsplit("-", 1)[1]
    assert config["config"]["User"] == "neutron"
    base_layers = layers(result.base)
    new = [layer for layer in manifest["layers"] if layer["digest"] not in base_layers]
    assert len(new) == 1 and result.layer_bytes == new[0]["size"]
    assert result.pushed.uploaded == (
        result.layer_bytes + manifest["config"]["size"] + len(raw.encode()))


@pytest.mark.parametrize(("args", "message"), [
    (["--rpm", "/nonexistent/x.rpm"], "/nonexistent/x.rpm: no such file"),
    (["--deb", "pyproject.toml"], "pyproject.toml: expected a .deb file"),
    (["--source", "kolla"], "kolla: not a Python source tree"),
    (["--wheel", "x.whl", "--rpm-unpack-without-deps"],
     "--rpm-unpack-without-deps applies to --rpm"),
    ([], "nothing to patch"),
])
def test_bad_input_is_one_line_and_starts_nothing(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    monkeypatch.chdir(paths.bundle_root())
    monkeypatch.setenv("TRIPLEO_OVN_METADATA_STATE", str(tmp_path / "state"))
    env = tmp_path / "env.yaml"
    assert cli.main(["image", "patch", "--env-file", str(env), *args]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not registry_lib.status().running and not env.exists()


@pytest.mark.slow
def test_rpm_deb_wheel_in_one_layer_on_agent_and_config_image(
    built_images: dict[str, str], registry: str, tmp_path: Path, made: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A fresh RPM each run, so this run's push really uploads; rebuilt, it is the same.
    nonce = f"  # {uuid.uuid4()}"
    rpm, deb, wheel = build_rpm(tmp_path, nonce), build_deb(tmp_path), build_wheel(tmp_path)
    rpm_again = build_rpm(tmp_path / "again", nonce)
    assert rpm_again.read_bytes() == rpm.read_bytes()
    env = tmp_path / "images.yaml"
    argv = ["--quiet", "image", "patch", "--registry", registry, "--config-image",
            "--env-file", str(env), "--rpm", str(rpm), "--rpm-unpack-without-deps",
            "--deb", str(deb), "--wheel", str(wheel)]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    params = yamlio.load(env)["parameter_defaults"]
    agent, config = params["ContainerOvnMetadataImage"], params["ContainerNeutronConfigImage"]
    made.extend([agent, config])
    assert agent.startswith(built_images["ContainerOvnMetadataImage"] + "-")
    assert config.startswith(built_images["ContainerNeutronConfigImage"] + "-")
    assert params["DockerInsecureRegistryAddress"] == [registry]
    assert "uploaded" in out

    base_layers = layers(built_images["ContainerOvnMetadataImage"])
    assert layers(agent)[:-1] == base_layers and len(layers(agent)) == len(base_layers) + 1
    code = ("import neutron.tom_marker_rpm as r, neutron.tom_marker_deb as d, "
            "tom_marker_wheel as w; print(r.MARKER, d.MARKER, w.MARKER)")
    for ref in (agent, config):
        assert in_container(ref, code) == "rpm deb wheel"
    rpmdb = subprocess.run(["podman", "run", "--rm", "--user", "root", agent,
                            "rpm", "--dbpath", "/var/lib/rpm", "-q", "tom-marker-rpm"],
                           capture_output=True, text=True, check=False)
    assert rpmdb.returncode == 1  # unpacked, not installed: no rpm database entry
    user = subprocess.run(["podman", "run", "--rm", agent, "id", "-un"], capture_output=True,
                          text=True, check=False)
    assert user.stdout.strip() == "neutron"  # the image's user is kept

    argv[argv.index(str(rpm))] = str(rpm_again)
    assert cli.main(argv) == 0  # same inputs: same tag, nothing uploaded
    assert "already in the registry" in capsys.readouterr().out
    assert yamlio.load(env)["parameter_defaults"]["ContainerOvnMetadataImage"] == agent


@pytest.mark.slow
def test_source_tree_patch_runs_the_changed_code(
    built_images: dict[str, str], registry: str, tmp_path: Path, made: list[str],
) -> None:
    from tripleo_ovn_metadata import patch

    first, second = f"first {uuid.uuid4()}", f"second {uuid.uuid4()}"
    tree = neutron_checkout(tmp_path, first)
    result = patch.patch(patch.Inputs(sources=[tree]), address=registry)
    ref = result.pushed.ref
    made.append(ref)
    assert not result.pushed.skipped
    assert ref.startswith(built_images["ContainerOvnMetadataImage"] + "-")
    assert result.pushed.uploaded < result.image_bytes / 10
    assert result.layer_bytes > 0
    assert_thin_push(result)
    pinned = result.pushed.by_digest
    code = "import neutron, neutron.tom_marker_source as m; print(neutron.__file__, m.MARKER)"
    assert in_container(pinned, code) == (
        f"/usr/local/lib/python3.11/dist-packages/neutron/__init__.py {first}")
    version = subprocess.run(["podman", "run", "--rm", pinned, "neutron-ovn-metadata-agent",
                              "--version"], capture_output=True, text=True, check=False)
    assert version.stdout.strip().endswith("21.0.0")

    (tree / "neutron/tom_marker_source.py").write_text(f"MARKER = {second!r}\n")
    again = patch.patch(patch.Inputs(sources=[tree]), address=registry)
    made.append(again.pushed.ref)
    assert again.pushed.ref != ref and not again.pushed.skipped
    assert in_container(again.pushed.ref, code).endswith(f" {second}")
    assert image.remote_digest(ref) == result.pushed.digest  # the first tag is untouched


@pytest.mark.slow
def test_failed_install_is_one_line_and_pushes_nothing(
    built_images: dict[str, str], registry: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = tmp_path / "broken"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN/control").write_text(
        "Package: tom-broken\nVersion: 1.0\nArchitecture: all\nDepends: tom-no-such-package\n"
        "Maintainer: tripleo-ovn-metadata <dev@example.invalid>\nDescription: broken\n")
    deb = tmp_path / "tom-broken_1.0_all.deb"
    run(["dpkg-deb", "--root-owner-group", "--build", str(root), str(deb)])
    before = registry_lib.list_images(registry)
    env = tmp_path / "env.yaml"
    assert cli.main(["--quiet", "image", "patch", "--registry", registry, "--deb", str(deb),
                     "--env-file", str(env)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "patching neutron-metadata-agent-ovn failed: dpkg -i failed:" in err
    assert "tom-broken depends on tom-no-such-package" in err
    assert registry_lib.list_images(registry) == before and not env.exists()


@pytest.mark.slow
def test_dpkg_image_refuses_rpm_in_one_line_and_builds_nothing(
    built_images: dict[str, str], registry: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base = built_images["ContainerOvnMetadataImage"]
    rpm = build_rpm(tmp_path, f"  # {uuid.uuid4()}")
    before, base_digest = registry_lib.list_images(registry), image.remote_digest(base)
    env = tmp_path / "env.yaml"
    assert cli.main(["--quiet", "image", "patch", "--registry", registry, "--rpm", str(rpm),
                     "--env-file", str(env)]) == 1
    assert capsys.readouterr().err == (
        f"tripleo-ovn-metadata image: error: {base}: a dpkg image has no dnf/microdnf to "
        f"install {rpm.name} with its dependencies; use --deb, --wheel or --source, or "
        "--rpm-unpack-without-deps to unpack its files\n")
    assert registry_lib.list_images(registry) == before and not env.exists()
    assert image.remote_digest(base) == base_digest
    name, _, tag = base.rsplit("/", 1)[1].partition(":")
    digest = patch_lib.Inputs(rpms=[rpm]).digest()
    assert not image.local_exists(image.local_ref(name, f"{tag}-{digest}"))


@pytest.mark.slow
def test_el9_rpm_unpacked_without_deps_is_what_the_image_python_runs(
    built_images: dict[str, str], registry: str, tmp_path: Path, made: list[str],
) -> None:
    base = built_images["ContainerOvnMetadataImage"]
    installed = in_container(base, f"import {AGENT_MODULE} as a; print(a.__file__)")
    original = subprocess.run(["podman", "run", "--rm", base, "cat", installed],
                              capture_output=True, text=True, check=True).stdout
    marker = f"rpm hotfix {uuid.uuid4()}"
    rpm = build_el9_hotfix_rpm(tmp_path, f"{original}\nTOM_MARKER = {marker!r}\n")
    result = patch_lib.patch(patch_lib.Inputs(rpms=[rpm], rpm_unpack=True), address=registry)
    ref = result.pushed.ref  # by tag, so `made` removes the pulled copy too
    made.append(ref)
    code = (f"import os, {AGENT_MODULE} as a, tom_rpm_hotfix as t; "
            "print(a.__file__, a.TOM_MARKER, t.__file__, os.path.exists('/usr/lib/python3.9'))")
    assert in_container(ref, code) == (
        f"{installed} {marker} /usr/local/lib/python3.11/dist-packages/tom_rpm_hotfix.py False")
    assert in_container(base, f"import {AGENT_MODULE} as a; print(hasattr(a, 'TOM_MARKER'))") \
        == "False"
