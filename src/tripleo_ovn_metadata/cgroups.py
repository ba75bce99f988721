"""The cgroup directories of the containers a deploy ran, removed once those containers are.

On this hybrid cgroup host podman's cgroupfs manager moves a container's conmon out of the
container's cgroup for the v1 controllers only. In the ``name=systemd`` and unified
hierarchies the conmon of a haproxy sidecar that the agent started stays in the agent's
cgroup, so when a deploy replaces the agent and adopts its sidecars, runc cannot remove that
cgroup with the old agent; once the sidecars are gone it is an empty directory nobody
removes. The deploy record keeps each container's cgroup by id; :func:`prune` removes those
of containers that no longer exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from tripleo_ovn_metadata import procs

#: Where the cgroup hierarchies are mounted.
CGROUP_ROOT = Path("/sys/fs/cgroup")
#: The directory podman's cgroupfs manager gives a container.
PODMAN_PREFIX = "libpod-"


def _podman_cgroup(cid: str, path: str) -> bool:
    return Path(path).name == f"{PODMAN_PREFIX}{cid}"


def cgroup_paths(ids: Mapping[str, str]) -> dict[str, str]:
    """Container id -> its cgroup path (``/libpod_parent/libpod-<id>``), for ``ids``' values."""
    if not ids:
        return {}
    proc = procs.run(["podman", "container", "inspect", "--format",
                      "{{.Id}} {{.State.CgroupPath}}", *ids.values()], check=False)
    pairs = (line.split(" ", 1) for line in proc.stdout.splitlines() if " " in line)
    return {cid: path for cid, path in pairs if _podman_cgroup(cid, path)}


def _remove_tree(directory: Path) -> bool:
    """rmdir ``directory`` and its empty children, deepest first; whether it is gone."""
    for child in sorted((d for d in directory.rglob("*") if d.is_dir()),
                        key=lambda d: len(d.parts), reverse=True):
        try:
            child.rmdir()
        except OSError:
            return False
    try:
        directory.rmdir()
    except OSError:
        return False
    return True


def prune(recorded: Mapping[str, str]) -> dict[str, str]:
    """Remove the cgroup directories of the recorded containers that no longer exist, in
    every hierarchy; returns the entries left (running containers, busy directories)."""
    if not recorded:
        return {}
    listed = procs.run(["podman", "ps", "--all", "--no-trunc", "--format", "{{.ID}}"],
                       check=False)
    if listed.returncode != 0:
        return dict(recorded)  # which containers exist is unknown: touch nothing
    existing = set(listed.stdout.split())
    left = {}
    for cid, path in recorded.items():
        if not _podman_cgroup(cid, path):
            continue  # not a podman container's cgroup: never touched
        if cid in existing:
            left[cid] = path
            continue
        directories = [h / path.lstrip("/") for h in CGROUP_ROOT.iterdir() if h.is_dir()]
        removed = [_remove_tree(d) for d in directories if d.is_dir()]
        if not all(removed):
            left[cid] = path
    return left
