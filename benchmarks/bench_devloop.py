#!/usr/bin/env python3
"""Dev loop figures: an unreleased neutron change to the deployed agent's 200, per phase.

Deploys the standalone agent, then runs ``dev-loop --source`` on a neutron git checkout
cold (the first patch of this tree), warm (one more commit: a log line changed) and warm
with ``--sync`` (only the changed files, no pip build), and prints each phase, the total
(goal: warm <= 15 s) and the bytes pushed against the new layer (goal <= 1.1x). Run as
root with nothing deployed and the images in the registry:
``.venv/bin/python benchmarks/bench_devloop.py``. It destroys what it deployed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tripleo_ovn_metadata import deploy, devloop, patch, paths

GOAL_WARM_S = 15.0
GOAL_BYTES_RATIO = 1.1
GIT = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]
AGENT_PY = "neutron/agent/ovn/metadata/agent.py"
ANCHOR = "        self.ovs_idl = ovsdb.MetadataAgentOvsIdl().start()\n"


def checkout(tmp: Path) -> Path:
    """neutron 21.0.0's sdist as a git tree (no PKG-INFO), like a developer's clone."""
    sdist = paths.cache_dir() / "sdists" / "neutron-21.0.0.tar.gz"
    if not sdist.exists():
        subprocess.run([str(paths.venv_bin("pip")), "download", "-q", "--no-deps",
                        "--no-binary", ":all:", "-d", str(sdist.parent), "neutron==21.0.0"],
                       check=True)
    subprocess.run(["tar", "--no-same-owner", "-C", str(tmp), "-xzf", str(sdist)], check=True)
    tree = tmp / "neutron-21.0.0"
    (tree / "PKG-INFO").unlink()
    subprocess.run(["rm", "-rf", *map(str, tree.glob("*.egg-info"))], check=True)
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "neutron 21.0.0"]):
        subprocess.run([*GIT, "-C", str(tree), *args], check=True, capture_output=True)
    return tree


def change(tree: Path, text: str) -> None:
    """Commit one visible change: the agent logs ``text`` at start."""
    path = tree / AGENT_PY
    source = path.read_text()
    marker = "        LOG.info('bench dev-loop %s', "
    lines = [line for line in source.splitlines(keepends=True) if not line.startswith(marker)]
    source = "".join(lines).replace(ANCHOR, f"{ANCHOR}{marker}{text!r})\n")
    path.write_text(source)
    subprocess.run([*GIT, "-C", str(tree), "commit", "-qam", text], check=True)


def breakdown(ref: str, layer: int) -> str:
    """What a push of ``ref`` sends when all of it is new: layer + config + manifest."""
    raw = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{ref}"],
                         check=True, capture_output=True).stdout
    config = int(json.loads(raw)["config"]["size"])
    return (f"layer {layer} + config {config} + manifest {len(raw)} = "
            f"{layer + config + len(raw)} B")


def show(label: str, loop: devloop.Loop, goal: float | None) -> None:
    """Print one turn's phases, total and bytes."""
    print(f"{label}:")
    for line in devloop.phase_lines(loop):
        print(f"  {line}")
    verdict = "" if goal is None else (f"   (goal <= {goal:.0f} s, "
                                       f"{'ok' if loop.total <= goal else 'over'})")
    print(f"  {'total (wall)':22} {loop.total:6.1f} s{verdict}")
    ratio = loop.pushed_bytes / max(loop.layer_bytes, 1)
    print(f"  pushed {loop.pushed_bytes} B for a {loop.layer_bytes} B layer: {ratio:.3f}x "
          f"(goal <= {GOAL_BYTES_RATIO}x, {'ok' if ratio <= GOAL_BYTES_RATIO else 'over'})")
    print(f"  {breakdown(loop.ref, loop.layer_bytes)}")
    print(f"  running agent: {loop.agent_version}")


def main() -> int:
    """Deploy, two turns of the loop, destroy."""
    if deploy.read_record():
        sys.exit("bench_devloop: something is deployed; run tripleo-ovn-metadata destroy first")
    tool = str(paths.venv_bin("tripleo-ovn-metadata"))
    with tempfile.TemporaryDirectory(prefix="bench-devloop.") as tmp:
        tree = checkout(Path(tmp))
        try:
            started = time.monotonic()
            subprocess.run([tool, "-q", "deploy"], check=True, capture_output=True)
            print(f"deploy (standalone): {time.monotonic() - started:6.1f} s")
            for label, text, sync, goal in (
                    ("cold (first patch of the tree)", "first", False, None),
                    ("warm (one more commit, pip install)", "second", False, GOAL_WARM_S),
                    ("warm (one more commit, --sync)", "third", True, GOAL_WARM_S)):
                change(tree, f"{text} {time.time():.0f}")
                show(label, devloop.run(patch.Inputs(sources=[tree], sync=sync)), goal)
        finally:
            subprocess.run([tool, "-q", "destroy"], check=False, capture_output=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
