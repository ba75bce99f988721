"""Skip what a redeploy would redo with the same inputs: Puppet and the deploy playbook.

A step is skipped only when the digest of everything it reads equals the one recorded
after its last success *and* what it produced is still there unchanged (the
puppet-generated directory's hash; every container with its recorded id, the services
running and the one-shots exited 0). Anything else, including a stopped container, a
hand-edited config file or a changed role file, runs the step again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tripleo_ovn_metadata import procs


def digest(*parts: Any) -> str:
    """sha256 of JSON-serialisable ``parts`` (paths as strings, keys sorted)."""
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def tree_digest(root: Path) -> str:
    """sha256 over every file's relative name and content under ``root``."""
    hashed = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        hashed.update(str(path.relative_to(root)).encode() + b"\0")
        hashed.update(path.read_bytes() + b"\0")
    return hashed.hexdigest()


def image_id(ref: str | None) -> str:
    """The local image id of ``ref`` ("" when absent), so a re-pulled tag counts as new."""
    if not ref:
        return ""
    proc = procs.run(["podman", "image", "inspect", "--format", "{{.Id}}", ref], check=False)
    return proc.stdout.strip() if proc.returncode == 0 else ""


def containers_as_recorded(recorded: Mapping[str, str], one_shots: Sequence[str]) -> bool:
    """True when each recorded container has its id, services run and one-shots exited 0."""
    if not recorded:
        return False
    fmt = "{{.Name}} {{.Id}} {{.State.Status}} {{.State.ExitCode}}"
    proc = procs.run(["podman", "container", "inspect", "--format", fmt, *recorded],
                     check=False)
    if proc.returncode != 0:
        return False
    seen = {}
    for line in proc.stdout.splitlines():
        name, ident, status, code = line.split()
        seen[name.lstrip("/")] = (ident, status, code)
    for name, ident in recorded.items():
        want = ("exited", "0") if name in one_shots else ("running",)
        got = seen.get(name)
        if got is None or got[0] != ident or got[1:1 + len(want)] != want:
            return False
    return True
