#!/usr/bin/env python3
"""Consecutive fresh-state standalone runs: deploy, verify, destroy, N times in a row.

Each run starts from nothing deployed: no agent, no fixture daemons (OVS, OVN, stub Nova),
no namespaces. It deploys, runs ``verify`` (every row must PASS; a failed run keeps the
diagnostics bundle verify names) and destroys, then checks the machine is as it was.
Prints each run's outcome and times, and the pass count with the goal (#13: 5 of 5).

Run as root with the images in the local registry, e.g.
``.venv/bin/python benchmarks/bench_fresh_runs.py --runs 5``.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tripleo_ovn_metadata import deploy

TOOL = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "tripleo-ovn-metadata"
ROW = re.compile(r"^(PASS|FAIL|SKIP)\s")


@dataclass
class Run:
    """One fresh-state run's outcome."""

    deploy_s: float
    verify_s: float
    destroy_s: float
    rows: dict[str, int]
    failed: list[str]
    diagnostics: str | None
    left: list[str]

    @property
    def passed(self) -> bool:
        """Every step succeeded, no row failed and nothing was left behind."""
        return not self.failed and not self.left and self.rows.get("PASS", 0) > 0


def _tool(*args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.monotonic()
    proc = subprocess.run([str(TOOL), *args], capture_output=True, text=True, check=False)
    return time.monotonic() - started, proc


def _machine() -> list[str]:
    """What a deploy leaves behind: its record, its containers, its namespaces."""
    ps = subprocess.run(["podman", "ps", "-a", "--filter",
                         "label=managed_by=tripleo_ovn_metadata", "--format", "{{.Names}}"],
                        capture_output=True, text=True, check=True).stdout.split()
    netns = [n for n in deploy.netns_list() if not n.startswith("netns-")]
    return [*(["deploy record"] if deploy.read_record() else []), *ps, *netns]


def one_run() -> Run:
    """deploy, verify, destroy; what failed and what was left."""
    failed: list[str] = []
    deploy_s, proc = _tool("-q", "deploy")
    if proc.returncode != 0:
        failed.append(f"deploy: {proc.stderr.strip()[-300:]}")
    verify_s, checked = _tool("verify")
    rows: dict[str, int] = {}
    for line in checked.stdout.splitlines():
        match = ROW.match(line)
        if match:
            rows[match[1]] = rows.get(match[1], 0) + 1
            if match[1] == "FAIL":
                failed.append(line.strip()[:160])
    if checked.returncode != 0 and not rows.get("FAIL"):
        failed.append(f"verify: {checked.stderr.strip()[-300:]}")
    kept = re.search(r"^diagnostics: (\S+)$", checked.stdout, re.M)
    destroy_s, gone = _tool("-q", "destroy")
    if gone.returncode != 0:
        failed.append(f"destroy: {gone.stderr.strip()[-300:]}")
    return Run(deploy_s, verify_s, destroy_s, rows, failed, kept[1] if kept else None,
               _machine())


def main() -> int:
    """Print each run and the pass count against the goal."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    left = _machine()
    if left:
        sys.exit(f"bench_fresh_runs: not a fresh state ({', '.join(left)}); "
                 "run tripleo-ovn-metadata destroy first")
    passed = 0
    for number in range(1, args.runs + 1):
        run = one_run()
        passed += run.passed
        counts = " ".join(f"{status} {run.rows.get(status, 0)}"
                          for status in ("PASS", "FAIL", "SKIP"))
        print(f"run {number}: {'PASS' if run.passed else 'FAIL'}  deploy {run.deploy_s:5.1f} s"
              f"  verify {run.verify_s:5.1f} s  destroy {run.destroy_s:4.1f} s  rows: {counts}",
              flush=True)
        for line in run.failed:
            print(f"    {line}")
        if run.diagnostics:
            print(f"    diagnostics: {run.diagnostics}")
        if run.left:
            print(f"    left after destroy: {', '.join(run.left)}")
            break
    print(f"fresh-state runs passed: {passed} of {args.runs} (goal {args.runs} of {args.runs}, "
          "consecutive)")
    return 0 if passed == args.runs else 1


if __name__ == "__main__":
    sys.exit(main())
