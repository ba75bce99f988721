#!/usr/bin/env python3
"""The README's test command in a fresh clone: setup, then (``--tests``) every test.

Clones this checkout's HEAD into a temporary directory and times ``tools/setup.sh`` there,
each figure beside issue 14's goal (setup ≤ 8 min, the whole command ≤ 20 min):

- setup, the machine's venv templates as they are (what every clone after the first pays);
- with ``--cold-venvs``: setup with an empty template directory of its own (the venvs
  built from pip's cache, as on the machine's first clone; about 3 GB while it runs);
- with ``--tests``: ``tools/run-tests.sh`` (setup again, then pytest), its tests' time
  from pytest's last line, and the whole command (21 to 38 min on 2 CPUs here); and the
  machine's CPU time while it ran (``/proc/stat``): busy and idle CPU-seconds, and the
  busy part spread over every CPU, the least wall time that CPU work allows; and the
  machine's page cache and slab before the tests, which earlier runs leave behind and
  which slow this machine. ``--drop-caches`` (``sync``, then
  ``/proc/sys/vm/drop_caches``) starts the tests from a fresh machine's page cache.

Removes the clone and any template directory it made. Run as root, e.g.
``.venv/bin/python benchmarks/bench_suite.py --cold-venvs --tests``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Issue 14's goals (seconds).
SETUP_GOAL_S = 8 * 60
SUITE_GOAL_S = 20 * 60
PYTEST_END = re.compile(r"=+ (.*) in ([0-9.]+)s")


def _timed(cmd: list[str], cwd: Path, env: dict[str, str], log: Path) -> float:
    """Run ``cmd``, its output into ``log``; exit with the log's tail when it fails."""
    started = time.monotonic()
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                              check=False)  # fmt: skip
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:])
        sys.exit(f"{' '.join(cmd)} failed (exit {proc.returncode}) after {elapsed:.0f} s:\n{tail}")
    return elapsed


def _cpu_seconds() -> tuple[float, float]:
    """The machine's busy and idle CPU-seconds since boot (``/proc/stat``; iowait is idle)."""
    with open("/proc/stat", encoding="ascii") as stat:
        ticks = [int(field) for field in stat.readline().split()[1:]]
    hertz = os.sysconf("SC_CLK_TCK")
    idle = ticks[3] + ticks[4]
    return (sum(ticks) - idle) / hertz, idle / hertz


def _cache_gb() -> tuple[float, float]:
    """The machine's page cache (buffers and cached) and slab, in GB (``/proc/meminfo``)."""
    kib = {}
    with open("/proc/meminfo", encoding="ascii") as meminfo:
        for line in meminfo:
            name, value = line.split(":", 1)
            kib[name] = int(value.split()[0])
    return (kib["Buffers"] + kib["Cached"]) / 2**20, kib["Slab"] / 2**20


def _drop_caches() -> None:
    """Write back dirty pages, then drop the clean page cache, dentries and inodes."""
    subprocess.run(["sync"], check=True)
    Path("/proc/sys/vm/drop_caches").write_text("3\n", encoding="ascii")


def _figure(label: str, seconds: float, goal: float) -> None:
    verdict = "ok" if seconds <= goal else "over"
    print(f"{label}: {seconds / 60:.1f} min ({seconds:.0f} s; goal ≤ {goal / 60:.0f} min, "
          f"{verdict})", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold-venvs", action="store_true",
                        help="also time setup with an empty venv template directory")
    parser.add_argument("--tests", action="store_true",
                        help="also run tools/run-tests.sh in the clone (21 to 38 min here)")
    parser.add_argument("--drop-caches", action="store_true",
                        help="with --tests: drop the page cache before them, as on a fresh "
                             "machine")
    args = parser.parse_args()
    if args.drop_caches and not args.tests:
        parser.error("--drop-caches needs --tests (it drops the page cache before them)")
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; HEAD "
          + subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                           capture_output=True, text=True, check=True).stdout.strip())
    with tempfile.TemporaryDirectory(prefix="tom-bench-suite-", dir=ROOT.parent) as tmp:
        work = Path(tmp)
        env = dict(os.environ)
        if args.cold_venvs:
            clone = work / "cold"
            subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
            cold_env = dict(env, TRIPLEO_OVN_METADATA_VENV_CACHE=str(work / "templates"))
            seconds = _timed(["bash", "tools/setup.sh"], clone, cold_env, work / "cold.log")
            _figure("setup, no venv templates on the machine", seconds, SETUP_GOAL_S)
            shutil.rmtree(clone)
            shutil.rmtree(work / "templates")
        clone = work / "clone"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        seconds = _timed(["bash", "tools/setup.sh"], clone, env, work / "setup.log")
        _figure("setup, the machine's venv templates", seconds, SETUP_GOAL_S)
        if args.tests:
            log = work / "tests.log"
            cache, slab = _cache_gb()
            print(f"before the tests: page cache {cache:.1f} GB, slab {slab:.1f} GB", flush=True)
            if args.drop_caches:
                _drop_caches()
                cache, slab = _cache_gb()
                print(f"dropped: page cache {cache:.1f} GB, slab {slab:.1f} GB", flush=True)
            busy_before, idle_before = _cpu_seconds()
            seconds = _timed(["bash", "tools/run-tests.sh"], clone, env, log)
            busy_after, idle_after = _cpu_seconds()
            ends = PYTEST_END.findall(log.read_text(encoding="utf-8", errors="replace"))
            if ends:
                outcome, tests_s = ends[-1]
                print(f"tests: {outcome}", flush=True)
                _figure("the tests (pytest's own time)", float(tests_s), SUITE_GOAL_S)
            _figure("tools/run-tests.sh, setup included", seconds, SUITE_GOAL_S)
            busy = busy_after - busy_before
            print(f"CPU while it ran: busy {busy:.0f} CPU-s, idle {idle_after - idle_before:.0f} "
                  f"CPU-s", flush=True)  # fmt: skip
            _figure(f"its busy CPU-s spread over {os.cpu_count()} CPUs", busy / os.cpu_count(),
                    SUITE_GOAL_S)


if __name__ == "__main__":
    main()
