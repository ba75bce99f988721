"""``puppet-artifact``: our module as a TripleO deploy artifact, consumed the way TripleO does.

The layout is checked against tripleo-common's own ``upload-puppet-modules``; the tarball is
pushed to a node (a podman container whose /etc/puppet is a host directory) by
tripleo-ansible's own ``tripleo_push_artifacts``, run as THT 18's deploy steps run it
(``artifact_node`` in conftest.py). tests/test_config.py generates the config from there.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tarfile
from pathlib import Path

import pytest

from tripleo_ovn_metadata import artifact, cli, paths, yamlio
from tripleo_ovn_metadata.procs import run

MODULE_TOP = "etc/puppet/modules/tripleo_ovn_metadata"


def _cli(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    rc = cli.main([*map(str, args)])
    out, err = capsys.readouterr()
    return rc, out, err


def _shipped_files() -> dict[str, bytes]:
    """What the artifact must hold: the module minus spec/ and dotfiles."""
    module = paths.bundle_root() / artifact.MODULE
    found = {}
    for path in module.rglob("*"):
        relative = path.relative_to(module)
        if path.is_file() and relative.parts[0] != "spec" and not path.name.startswith("."):
            found[f"{MODULE_TOP}/{relative}"] = path.read_bytes()
    return found


def test_cli_writes_the_tarball_and_the_env_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output, env = tmp_path / "modules.tar.gz", tmp_path / "puppet-artifact.yaml"
    rc, out, err = _cli(capsys, "puppet-artifact", "--output", output, "--env-file", env)
    assert rc == 0, err
    digest = hashlib.sha256(output.read_bytes()).hexdigest()
    shipped = len(_shipped_files())
    assert f"{output}: tripleo_ovn_metadata ({shipped} files, " in out, out
    assert f"sha256 {digest}" in out
    assert f"wrote {env} (DeployArtifactFILEs: [{output}])" in out
    # tripleo_push_artifacts (and upload-artifacts) take a tarball by what file(1) says
    assert "gzip compressed data" in run(["file", "-b", str(output)]).stdout
    with tarfile.open(output) as tar:
        members = tar.getmembers()
        files = {m.name: tar.extractfile(m).read() for m in members if m.isfile()}  # type: ignore[union-attr]
    assert files == _shipped_files()
    assert members[0].name == MODULE_TOP and all(m.name.startswith(MODULE_TOP) for m in members)
    assert all((m.uid, m.gid, m.uname, m.gname) == (0, 0, "root", "root") for m in members)
    assert {m.mode for m in members} == {0o755, 0o644}
    assert yamlio.load_mapping(env) == {
        "parameter_defaults": {"DeployArtifactFILEs": [str(output)]}}
    assert stat.S_IMODE(env.stat().st_mode) == 0o644 and "Secret" not in env.read_text()


def test_same_module_same_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = artifact.build(tmp_path / "a.tar.gz")
    second = artifact.build(tmp_path / "b.tar.gz")
    assert first.sha256 == second.sha256
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    dated = artifact.build(tmp_path / "c.tar.gz")
    assert dated.sha256 != first.sha256
    with tarfile.open(dated.path) as tar:
        assert {m.mtime for m in tar.getmembers()} == {1700000000}


def test_layout_is_what_upload_puppet_modules_makes(tmp_path: Path) -> None:
    """tripleo-common 18's upload-puppet-modules tars a modules dir as etc/puppet/modules/;
    its upload step (sudo mv into /var/lib/tripleo/artifacts) is replaced by a copy."""
    modules = tmp_path / "puppet-modules"
    shutil.copytree(paths.bundle_root() / artifact.MODULE, modules / "tripleo_ovn_metadata",
                    ignore=shutil.ignore_patterns("spec", ".*"))
    capture, bin_dir = tmp_path / "uploaded", tmp_path / "bin"
    capture.mkdir()
    bin_dir.mkdir()
    (bin_dir / "upload-artifacts").write_text(
        '#!/bin/sh\nwhile [ $# -gt 0 ]; do [ "$1" = -f ] && cp "$2" "$CAPTURE/"; shift; done\n')
    (bin_dir / "upload-artifacts").chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", CAPTURE=str(capture),
               HOME=str(tmp_path))
    run([str(paths.venv_bin("upload-puppet-modules")), "--directory", "puppet-modules"],
        env=env, cwd=str(tmp_path))
    with tarfile.open(capture / "puppet-modules.tar.gz") as tar:
        theirs = {m.name.rstrip("/") for m in tar.getmembers()}
    ours_built = artifact.build(tmp_path / "ours.tar.gz")
    with tarfile.open(ours_built.path) as tar:
        ours = {m.name for m in tar.getmembers()}
    # Theirs also carries etc/puppet/modules itself (unpacking resets its mode and mtime).
    assert theirs - ours == {"etc/puppet/modules"}
    assert ours <= theirs


def test_bad_output_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = _cli(capsys, "puppet-artifact", "--output", tmp_path / "no" / "x.tar.gz")
    assert (rc, out) == (1, "")
    assert err == (f"tripleo-ovn-metadata puppet-artifact: error: {tmp_path / 'no' / 'x.tar.gz'}"
                   ": its directory does not exist\n")
    rc, _, err = _cli(capsys, "puppet-artifact", "--output", tmp_path)
    assert rc == 1 and err.count("\n") == 1 and "is a directory" in err


def test_missing_module_dir_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TRIPLEO_OVN_METADATA_BUNDLE", str(tmp_path))
    rc, out, err = _cli(capsys, "puppet-artifact", "--output", tmp_path / "x.tar.gz")
    assert (rc, out) == (1, "")
    assert err == (f"tripleo-ovn-metadata puppet-artifact: error: {tmp_path / artifact.MODULE}: "
                   "no such Puppet module (no manifests/ directory)\n")
    assert not (tmp_path / "x.tar.gz").exists()


def test_tripleo_push_artifacts_puts_the_module_on_the_modulepath(artifact_node: Path) -> None:
    """What a deploy with the env file leaves on a node (tests/conftest.py runs the plugin);
    tests/test_config.py runs container-puppet's Puppet from that root."""
    on_node = {
        str(p.relative_to(artifact_node)): p.read_bytes()
        for p in (artifact_node / MODULE_TOP).rglob("*") if p.is_file()
    }
    assert on_node == _shipped_files()
    module = artifact_node / MODULE_TOP
    assert all((p.stat().st_uid, p.stat().st_gid) == (0, 0) for p in [module, *module.rglob("*")])
