"""The tools ``image patch --source`` runs in the image: --sync's copy and pbr's version."""

from __future__ import annotations

import importlib.util
import marshal
import subprocess
import sys
from pathlib import Path

from tripleo_ovn_metadata import patch


def _tool(path: Path, *args: str, cwd: Path | None = None,
          pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": str(pythonpath)} if pythonpath else {}
    return subprocess.run([sys.executable, str(path), *args], capture_output=True, text=True,
                          check=False, cwd=cwd, env={"PATH": "/usr/bin:/bin", **env})


def test_sync_copies_only_changed_files_and_compiles_them_again(tmp_path: Path) -> None:
    installed = tmp_path / "site" / "tompkg"
    (installed / "__pycache__").mkdir(parents=True)
    (installed / "__init__.py").write_text("")
    (installed / "same.py").write_text("A = 1\n")
    (installed / "edited.py").write_text("B = 1\n")
    (installed / "__pycache__/edited.cpython-311.pyc").write_bytes(b"stale")
    (installed / "__pycache__/same.cpython-311.pyc").write_bytes(b"kept")
    tree = tmp_path / "tree"
    (tree / "tompkg").mkdir(parents=True)
    (tree / "tompkg/__init__.py").write_text("")
    (tree / "tompkg/same.py").write_text("A = 1\n")
    (tree / "tompkg/edited.py").write_text("B = 2\n")
    (tree / "tompkg/added.py").write_text("C = 3\n")
    (tree / "doc").mkdir()  # not a package: ignored
    # sync_tree.py imports rpm_unpack.py from its own directory, as staged in the image.
    tools = tmp_path / "tool"
    tools.mkdir()
    for source in (patch.SYNC_TOOL, patch.UNPACKER):
        (tools / source.name).write_text(source.read_text())
    proc = _tool(tools / patch.SYNC_TOOL.name, str(tree), pythonpath=tmp_path / "site")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"tompkg: 2 changed files copied into {tmp_path / 'site'}"
    assert (installed / "edited.py").read_text() == "B = 2\n"
    assert (installed / "added.py").read_text() == "C = 3\n"
    # The copied modules carry bytecode of their new source; the untouched one keeps its own.
    for name in ("edited", "added"):
        cached = Path(importlib.util.cache_from_source(str(installed / f"{name}.py")))
        code = marshal.loads(cached.read_bytes()[16:])
        assert code.co_consts[0] == (2 if name == "edited" else 3)
    assert (installed / "__pycache__/same.cpython-311.pyc").read_bytes() == b"kept"


def test_sync_refuses_a_package_the_image_lacks(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "tom_absent_pkg").mkdir(parents=True)
    (tree / "tom_absent_pkg/__init__.py").write_text("")
    tools = tmp_path / "tool"
    tools.mkdir()
    for source in (patch.SYNC_TOOL, patch.UNPACKER):
        (tools / source.name).write_text(source.read_text())
    proc = _tool(tools / patch.SYNC_TOOL.name, str(tree))
    assert proc.returncode == 1
    assert "tom_absent_pkg: not installed in this image" in proc.stderr


def test_pbr_version_bumps_the_installed_release(tmp_path: Path) -> None:
    (tmp_path / "setup.cfg").write_text("[metadata]\nname = pytest\n")
    proc = _tool(patch.PBR_VERSION_TOOL, str(tmp_path), "dev4")
    import pytest as installed

    major, minor, micro = (int(p) for p in installed.__version__.split(".")[:3])
    assert proc.stdout.strip() == f"{major}.{minor}.{micro + 1}.dev4", proc.stderr
    (tmp_path / "setup.cfg").write_text("[metadata]\nname = tom-not-installed\n")
    assert _tool(patch.PBR_VERSION_TOOL, str(tmp_path), "dev1").stdout.strip() == "0.0.1.dev1"


def test_git_version_label_counts_commits_and_dirt(tmp_path: Path) -> None:
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-C", str(tmp_path)]
    assert patch.git_version_label(tmp_path) == ""
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "a.py").write_text("A = 1\n")
    subprocess.run([*git, "add", "a.py"], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    assert patch.git_version_label(tmp_path) == "dev1"
    (tmp_path / "a.py").write_text("A = 2\n")
    assert patch.git_version_label(tmp_path) == "dev2"
