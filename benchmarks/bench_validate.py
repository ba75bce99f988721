"""Benchmark ``tripleo-ovn-metadata validate``: on the bundle, and on the whole stock THT 18
tree next to stock's own ``tools/yaml-validate.py`` (same arguments, same working directory).

Run: ``.venv/bin/python benchmarks/bench_validate.py [--repeat N]``. Prints wall times
(median of N runs, each a fresh process), their ratio and the finding counts of both.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tripleo_ovn_metadata import paths

SKIPS = ["--skip-dir", ".tox", "--skip-dir", "releasenotes", "--skip-dir", "zuul.d"]


def timed(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, str, int]:
    """Wall time, stdout and exit code of one run."""
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    return time.monotonic() - start, proc.stdout, proc.returncode


def median_run(cmd: list[str], cwd: Path, repeat: int,
               env: dict[str, str] | None = None) -> tuple[float, str, int]:
    """Median wall time over ``repeat`` runs, with the last run's output and exit code."""
    runs = [timed(cmd, cwd, env) for _ in range(repeat)]
    return statistics.median(r[0] for r in runs), runs[-1][1], runs[-1][2]


def our_findings(out: str) -> int:
    return sum(1 for line in out.splitlines() if ": ERROR " in line or ": WARNING " in line)


def stock_findings(out: str) -> int:
    starts = ("ERROR", "Warning", "Mismatched parameter definitions found")
    return sum(1 for line in out.splitlines() if line.startswith(starts))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    root = paths.bundle_root()
    tht = paths.tht_dir()
    ours = [str(paths.venv_bin("tripleo-ovn-metadata")), "-q", "validate"]
    python = str(paths.venv_bin("python"))
    if not (tht / "tools/yaml-validate.py").is_file():
        print(f"stock THT not found at {tht}; run tools/setup.sh", file=sys.stderr)
        return 1

    with tempfile.TemporaryDirectory() as cache:
        cold_env = dict(os.environ, TRIPLEO_OVN_METADATA_CACHE=cache,
                        TRIPLEO_OVN_METADATA_THT=str(tht))
        cold, _, _ = timed(ours, root, cold_env)
    bundle, out, code = median_run(ours, root, args.repeat)
    print(f"validate, bundle (cold stock-parameter cache): {cold:6.2f} s")
    print(f"validate, bundle (warm, median of {args.repeat}):      {bundle:6.2f} s  "
          f"exit {code}, {our_findings(out)} findings")

    ours_t, ours_out, ours_code = median_run([*ours, ".", *SKIPS], tht, args.repeat)
    stock_t, stock_out, stock_code = median_run(
        [python, "tools/yaml-validate.py", ".", *SKIPS], tht, args.repeat
    )
    files = ours_out.strip().splitlines()[-1] if ours_out.strip() else "?"
    print(f"stock THT 18 tree ({files}):")
    print(f"  tripleo-ovn-metadata validate: {ours_t:6.2f} s  exit {ours_code}, "
          f"{our_findings(ours_out)} findings")
    print(f"  stock tools/yaml-validate.py:  {stock_t:6.2f} s  exit {stock_code}, "
          f"{stock_findings(stock_out)} findings (errors and warnings)")
    print(f"  ratio ours/stock: {ours_t / stock_t:.2f} (stock is {stock_t / ours_t:.1f}x our time)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
