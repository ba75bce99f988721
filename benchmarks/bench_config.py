"""Benchmark ``tripleo-ovn-metadata config``: cold (new output dir) and warm (second run,
nothing to change) config generation, each a fresh CLI process, plus the Heat render alone.

Run: ``.venv/bin/python benchmarks/bench_config.py [--repeat N] [--config-image IMAGE]``.
Prints median wall times of N runs, the warm/cold ratio, and the share of a warm run spent
rendering. With ``--config-image`` (an image podman has) it times the podman path too.
Our module comes from the deploy artifact, unpacked into a node root (``--node-root``).
Writes only into a temporary directory.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tripleo_ovn_metadata import artifact, paths

ENV = """\
parameter_defaults:
  NeutronMetadataProxySharedSecret: bench-secret
  EndpointMap:
    NovaMetadataCellInternal: {host: 192.0.2.20, host_nobrackets: 192.0.2.20}
"""
RENDER_ONLY = (
    "from tripleo_ovn_metadata import render; "
    "render.render_role_data('Compute', env_files=[__import__('pathlib').Path(r'{env}')])"
)


def timed(cmd: list[str]) -> float:
    """Wall time of one run; exits with its stderr if it fails."""
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd[:3])} failed: {proc.stderr.strip().splitlines()[-1:]}")
    return elapsed


def cold_and_warm(base: list[str], work: Path, label: str, repeat: int) -> tuple[float, float]:
    """Median cold (fresh output) and warm (same output again) times."""
    cold, warm = [], []
    for index in range(repeat):
        output = work / f"{label}-{index}" / "neutron"
        cold.append(timed([*base, "--output", str(output)]))
        warm.append(timed([*base, "--output", str(output)]))
    return statistics.median(cold), statistics.median(warm)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--config-image", help="also time Puppet inside this image")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-config.") as tmp:
        work = Path(tmp)
        env = work / "env.yaml"
        env.write_text(ENV)
        hiera = work / "hiera.yaml"
        hiera.write_text("ovn_dbs_vip: [192.0.2.10, 192.0.2.11]\n")
        node = artifact.install(artifact.build(work / "modules.tar.gz").path, work / "node")
        base = [str(paths.venv_bin("tripleo-ovn-metadata")), "-q", "config",
                "-e", str(env), "--hieradata", str(hiera), "--node-root", str(node)]  # fmt: skip
        render = statistics.median(
            timed([str(paths.venv_bin("python")), "-c", RENDER_ONLY.format(env=env)])
            for _ in range(args.repeat)
        )
        cold, warm = cold_and_warm(base, work, "namespace", args.repeat)
        print(f"config generation, median of {args.repeat} (fresh process each):")
        print(f"  render only (Heat, in-process)      {render:6.2f} s")
        print(f"  cold, namespace (new output dir)    {cold:6.2f} s")
        print(f"  warm, namespace (no changes)        {warm:6.2f} s")
        print(f"  warm/cold ratio                     {warm / cold:6.2f}")
        print(f"  render share of a warm run          {render / warm:6.0%}")
        if args.config_image:
            image = ["--config-image", args.config_image]
            p_cold, p_warm = cold_and_warm([*base, *image], work, "podman", args.repeat)
            print(f"  podman path, config image {args.config_image}:")
            print(f"  cold, podman                        {p_cold:6.2f} s")
            print(f"  warm, podman                        {p_warm:6.2f} s")
            print(f"  podman/namespace ratio (cold)       {p_cold / cold:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
