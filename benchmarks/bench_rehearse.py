#!/usr/bin/env python3
"""Rehearsal figures: nodes up, deploy per phase, first 200 per compute, leader-kill recovery.

Runs `nodes up` (3 + 3 by default), `image build`, `puppet-artifact`, `overcloud deploy`
(stack create, config-download, deploy_steps_playbook.yaml) and `verify --nodes --faults` on
this machine, then `nodes down`, and prints each figure with the issue's goal beside it.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / ".venv" / "bin" / "tripleo-ovn-metadata"
PHASES = ("process templates", "heat stack create overcloud", "config-download", "inventory")
STEP = re.compile(r"^(?P<name>.+) done \((?P<secs>[0-9.]+) s")


def _run(*args: str) -> tuple[float, str]:
    started = time.monotonic()
    proc = subprocess.run([str(TOOL), *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        failed = [line for line in proc.stdout.splitlines() if line.startswith("FAIL")]
        why = "\n".join(failed) or (proc.stderr or proc.stdout).strip()[-500:]
        sys.exit(f"{' '.join(args)} failed:\n{why}")
    return time.monotonic() - started, proc.stdout + proc.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--controllers", type=int, default=3)
    parser.add_argument("--computes", type=int, default=3)
    args = parser.parse_args()
    images = ROOT / ".state" / "bench-rehearse-images.yaml"
    artifact = ROOT / ".state" / "bench-rehearse-puppet-modules.yaml"
    images.parent.mkdir(mode=0o700, exist_ok=True)
    total = time.monotonic()
    try:
        up, _ = _run("nodes", "up", "--controllers", str(args.controllers),
                     "--computes", str(args.computes))
        print(f"nodes up ({args.controllers} + {args.computes}): {up:6.1f} s")
        _run("image", "build", "--for-nodes", "--env-file", str(images))
        _run("puppet-artifact", "--output", str(artifact.with_suffix(".tar.gz")),
             "--env-file", str(artifact))
        deploy, out = _run("overcloud", "deploy", "-e",
                           "environments/services/neutron-ovn-metadata.yaml", "-e", str(images),
                           "-e", str(artifact))
        for line in out.splitlines():
            match = STEP.match(line)
            if match and (match.group("name") in PHASES
                          or "deploy_steps_playbook" in match.group("name")):
                print(f"  deploy phase {match.group('name')}: {float(match.group('secs')):6.1f} s")
        print(f"overcloud deploy total: {deploy:6.1f} s")
        _, out = _run("verify", "--nodes", "--faults")
        for line in out.splitlines():
            if "VM 1 gets its instance-id" in line and line.startswith(("PASS", "FAIL")):
                secs = re.search(r"(\d+\.\d+)s", line)
                print(f"  first 200, {line.split()[1].rstrip(':')}: "
                      f"{float(secs.group(1)) if secs else float('nan'):6.2f} s")
            if line.startswith("leader_kill_recovery_s"):
                print(f"recovery after the SB leader kill: {float(line.split()[1]):6.1f} s "
                      "(goal <= 30 s)")
            if line.startswith("compute_restart_to_200_s"):
                print(f"compute restart to 200: {float(line.split()[1]):6.1f} s")
    finally:
        subprocess.run([str(TOOL), "nodes", "down"], capture_output=True, check=False)
    print(f"whole rehearsal: {time.monotonic() - total:6.1f} s (goal <= 900 s)")


if __name__ == "__main__":
    main()
