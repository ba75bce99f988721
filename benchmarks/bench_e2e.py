"""Benchmark the standalone deploy: deploy (warm images) to the first 200, a no-op redeploy,
metadata latency p50/p99 over 500 requests from a VM through the agent, and the outage a VM
sees across an agent restart (a request every 100 ms) with the haproxy sidecars on and off.

Run as root on a machine with nothing deployed and the images already in the local
registry (``tripleo-ovn-metadata image build``), e.g. ``.venv/bin/python
benchmarks/bench_e2e.py``. It destroys what it deployed at the end.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from tripleo_ovn_metadata import deploy, paths, verify

TOOL = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "tripleo-ovn-metadata"


def _tool(*args: str) -> float:
    started = time.monotonic()
    proc = subprocess.run([str(TOOL), "-q", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"bench_e2e: tripleo-ovn-metadata {' '.join(args)} failed: {proc.stderr.strip()}")
    return time.monotonic() - started


def _restart_outage() -> verify.Outage:
    with verify.test_vms(1) as (vm,):
        status, _body = verify.wait_for(vm, lambda s, b: s == 200, 120)
        if status != 200:
            sys.exit(f"bench_e2e: no metadata for the VM (HTTP {status})")
        return verify.restart_outage(vm)


def _outage_sidecars_off() -> verify.Outage:
    off = paths.state_dir() / "bench-sidecars-off.yaml"
    fd = os.open(off, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("parameter_defaults:\n  OVNEnableHaproxyDockerWrapper: false\n")
    try:
        _tool("deploy", "-e", str(off))
        return _restart_outage()
    finally:
        _tool("destroy")
        off.unlink(missing_ok=True)


def main() -> int:
    """Print the figures and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    if deploy.read_record():
        sys.exit("bench_e2e: something is deployed; run tripleo-ovn-metadata destroy first")
    try:
        started = time.monotonic()
        deploy_s = _tool("deploy")
        with verify.test_vms(1) as (vm,):
            status, body = verify.wait_for(vm, lambda s, b: s == 200, 120)
            first_200 = time.monotonic() - started
            if status != 200 or body != vm.instance:
                sys.exit(f"bench_e2e: no metadata for the VM (HTTP {status})")
        noop_s = _tool("deploy")
        values = verify.latencies(args.requests)
        sidecars_on = _restart_outage()
    finally:
        destroy_s = _tool("destroy")
    sidecars_off = _outage_sidecars_off()
    p50, p99 = verify.percentile(values, 50), verify.percentile(values, 99)
    print(f"deploy (warm images)                 {deploy_s:8.1f} s")
    print(f"deploy start -> first HTTP 200 in VM {first_200:8.1f} s")
    print(f"no-op redeploy                       {noop_s:8.1f} s"
          f"   ({noop_s / deploy_s:.2f} x deploy; goal <= 10 s)")
    print(f"metadata latency over {len(values)} requests  p50 {p50 * 1000:6.1f} ms"
          f"   p99 {p99 * 1000:6.1f} ms   (p99/p50 {p99 / p50:.1f})")
    print(f"destroy                              {destroy_s:8.1f} s")
    print("agent restart, a request every 100 ms  (failed = no 200 within 10 s)")
    for label, outage in (("sidecars on ", sidecars_on), ("sidecars off", sidecars_off)):
        print(f"  {label}  {outage.failed:4d} of {outage.requests:4d} failed"
              f"   outage {outage.seconds:5.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
