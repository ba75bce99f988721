"""Benchmark real Heat against stock THT 18: ``render``, the overcloud preview and create.

Run: ``.venv/bin/python benchmarks/bench_render.py [--repeat N] [--create]``.

- render: ``tripleo-ovn-metadata render --format json`` as a fresh CLI process (median of N),
  each figure beside the goal (issue 14: 5 s, Python's start and imports included):
  cold (an empty render cache: process-templates, the engine), warm (the same request
  again: the plan from the cache) and changed (one env file changed since the last run:
  the stock side from the cache, the plan from the engine). CPU is the process tree's
  user + system time, which the other users of a shared machine do not stretch.
- preview (7a): process-templates + the whole overcloud dry run in the in-process engine.
- create (7b, only with ``--create``; about 6 min): heat-all start, ``stack create`` of the
  whole overcloud, and tripleo-common's config-download; prints each phase.
Writes only into temporary directories; stops what it starts.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tripleo_ovn_metadata import heat_all, heat_engine, paths, render, tht

#: Issue 14's goal for one render, including Python's start and imports (seconds).
GOAL_S = 5.0


def _render_once(cache: Path, *extra: str) -> tuple[float, float]:
    """Wall and CPU seconds of one ``render`` CLI process using ``cache``."""
    env = dict(os.environ, TRIPLEO_OVN_METADATA_CACHE=str(cache),
               TRIPLEO_OVN_METADATA_THT=str(paths.tht_dir()))  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    proc = subprocess.run(
        [str(paths.venv_bin("tripleo-ovn-metadata")), "-q", "render", "--format", "json",
         "-e", str(paths.bundle_root() / paths.SERVICE_ENV), *extra],
        capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip
    elapsed = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"render failed: {proc.stderr.strip()}")
    json.loads(proc.stdout)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return elapsed, cpu


def _figure(label: str, runs: list[tuple[float, float]]) -> float:
    wall = statistics.median(run[0] for run in runs)
    cpu = statistics.median(run[1] for run in runs)
    verdict = "ok" if wall <= GOAL_S else "over"
    print(
        f"render {label}: {wall:.1f} s (goal ≤ {GOAL_S:.0f} s, {verdict}); CPU {cpu:.1f} s; "
        f"median of {len(runs)} (min {min(r[0] for r in runs):.1f}, "
        f"max {max(r[0] for r in runs):.1f})"
    )
    return wall


def _render_figures(repeat: int, tmp: Path) -> float:
    """Print cold, warm and changed; return the warm median."""
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    _figure("cold (empty cache)", [_render_once(tmp / f"cold-{i}") for i in range(repeat)])
    cache = tmp / "cache"
    _render_once(cache)
    warm_s = _figure("warm (same request)", [_render_once(cache) for _ in range(repeat)])
    images = tmp / "images.yaml"
    edited = []
    for index in range(repeat):
        images.write_text(f"parameter_defaults:\n  ContainerOvnMetadataImage: b/agent:{index}\n")
        edited.append(_render_once(cache, "-e", str(images)))
    _figure("changed (one env file edited)", edited)
    return warm_s


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

    with tempfile.TemporaryDirectory(prefix="tom-bench-render-") as tmp:
        warm_s = _render_figures(args.repeat, Path(tmp))

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
        print(f"render warm / preview ratio: {warm_s / preview_s:.2f}")

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
