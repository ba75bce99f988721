"""Benchmark real Heat against stock THT 18: ``render``, the overcloud preview and create.

Run: ``.venv/bin/python benchmarks/bench_render.py [--repeat N] [--create]``.

- render: ``tripleo-ovn-metadata render --format json`` as a fresh CLI process (median of N),
  with the share of it spent creating the role service chains in the local Heat engine.
- preview (7a): process-templates + the whole overcloud dry run in the in-process engine.
- create (7b, only with ``--create``; about 6 min): heat-all start, ``stack create`` of the
  whole overcloud, and tripleo-common's config-download; prints each phase.
Writes only into temporary directories; stops what it starts.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tripleo_ovn_metadata import heat_all, heat_engine, paths, render, tht


def _render_once() -> float:
    start = time.monotonic()
    proc = subprocess.run(
        [str(paths.venv_bin("tripleo-ovn-metadata")), "-q", "render", "--format", "json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"render failed: {proc.stderr.strip()}")
    json.loads(proc.stdout)
    return elapsed


def _request(processed: Path) -> tht.HeatRequest:
    roles = render.load_roles(paths.bundle_root() / paths.ROLES_DATA)
    env_files = [paths.bundle_root() / paths.SERVICE_ENV]
    _files, env = tht.merged_environment([processed / tht.REGISTRY, *env_files])
    return tht.overcloud_request(processed, roles, env_files, render.generated_defaults(env, roles))


def main() -> int:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--create", action="store_true", help="also time 7(b) (~6 min)")
    args = parser.parse_args()

    runs = [_render_once() for _ in range(args.repeat)]
    print(
        f"render (3+3 roles, CLI process): median {statistics.median(runs):.1f} s "
        f"over {len(runs)} runs (min {min(runs):.1f}, max {max(runs):.1f})"
    )

    with tempfile.TemporaryDirectory(prefix="tom-bench-") as tmp:
        start = time.monotonic()
        processed = tht.process_templates(paths.bundle_root() / paths.ROLES_DATA, Path(tmp) / "tht")
        process_s = time.monotonic() - start
        request = _request(processed)
        params_s = time.monotonic() - start - process_s
        start = time.monotonic()
        preview = heat_engine.run(
            "preview", "overcloud", request.template, request.env, request.files,
            source=request.source,
        )  # fmt: skip
        preview_s = time.monotonic() - start
        print(
            f"7(a) process-templates {process_s:.1f} s, parameters {params_s:.1f} s, "
            f"overcloud preview {preview_s:.1f} s "
            f"({len(preview['resources'])} top-level resources)"
        )
        print(f"render / preview ratio: {statistics.median(runs) / preview_s:.2f}")

        if args.create:
            start = time.monotonic()
            with heat_all.HeatAll() as heat:
                up_s = time.monotonic() - start
                heat.create_stack(tht.STACK_NAME, request)
                create_s = time.monotonic() - start - up_s
                out = Path(tmp) / "config-download"
                heat.download_config(tht.STACK_NAME, out)
                download_s = time.monotonic() - start - up_s - create_s
            files = sum(1 for path in out.rglob("*") if path.is_file())
            print(
                f"7(b) heat-all up {up_s:.1f} s, stack create {create_s:.1f} s, "
                f"config-download {download_s:.1f} s ({files} files)"
            )
            print(f"create / preview ratio: {create_s / preview_s:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
