"""cgroups.prune on a directory tree shaped like /sys/fs/cgroup: what it removes and what it
never touches (the real hierarchies are exercised by the dev loop's e2e test)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tripleo_ovn_metadata import cgroups

HIERARCHIES = ("cpu", "memory", "systemd", "unified")


def _gone_id() -> str:
    """An id no podman container has."""
    return uuid.uuid4().hex + uuid.uuid4().hex


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(cgroups, "CGROUP_ROOT", tmp_path)
    for name in HIERARCHIES:
        (tmp_path / name / "libpod_parent").mkdir(parents=True)
    return tmp_path


def _made(root: Path, path: str, hierarchies: tuple[str, ...] = HIERARCHIES) -> list[Path]:
    dirs = [root / name / path.lstrip("/") for name in hierarchies]
    for directory in dirs:
        directory.mkdir(parents=True)
    return dirs


def test_a_gone_containers_cgroup_goes_from_every_hierarchy(root: Path) -> None:
    cid = _gone_id()
    path = f"/libpod_parent/libpod-{cid}"
    dirs = _made(root, path, ("systemd", "unified"))
    (dirs[1] / "init.scope").mkdir()  # an empty child goes first
    assert cgroups.prune({cid: path}) == {}
    assert not any(d.exists() for d in dirs)
    assert (root / "systemd" / "libpod_parent").is_dir()


def test_a_busy_directory_is_kept_and_stays_recorded(root: Path) -> None:
    cid = _gone_id()
    path = f"/libpod_parent/libpod-{cid}"
    dirs = _made(root, path)
    # rmdir fails on a directory that is not empty, as on a cgroup that has processes.
    (dirs[2] / "cgroup.procs").write_text("4242\n")
    assert cgroups.prune({cid: path}) == {cid: path}
    assert dirs[2].is_dir()
    assert not dirs[0].exists()  # the other hierarchies' directories went


def test_what_is_not_that_containers_cgroup_is_never_touched(root: Path) -> None:
    cid = _gone_id()
    other = f"/libpod_parent/libpod-{_gone_id()}"
    dirs = _made(root, other) + _made(root, "/system.slice")
    assert cgroups.prune({cid: other, _gone_id(): "/system.slice"}) == {}
    assert all(d.is_dir() for d in dirs)
