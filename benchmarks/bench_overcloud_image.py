"""Benchmark ``tripleo-ovn-metadata overcloud-image patch --puppet``: KVM (when this machine
can boot libguestfs' appliance with it) against TCG, each a fresh CLI process on a fresh
copy of the image, plus the puppet-artifact build beside it.

Run: ``.venv/bin/python benchmarks/bench_overcloud_image.py [--repeat N] [--image F.qcow2]``.
Without ``--image`` it patches the sample Debian image (~100 MB) the tests use. Prints
median wall times and the TCG/KVM ratio, with the goals beside them. Writes only into a
temporary directory (and the accelerator probe's cache file).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tripleo_ovn_metadata import overcloud_image, paths

#: What a patch of our module should take on a ~1 GB overcloud image.
GOAL_KVM, GOAL_TCG = 15.0, 60.0


def timed(cmd: list[str], env: dict[str, str]) -> float:
    """Wall time of one run; exits with its stderr if it fails."""
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd[:3])} failed: {proc.stderr.strip().splitlines()[-1:]}")
    return elapsed


def patch_times(image: Path, work: Path, env: dict[str, str], repeat: int) -> float:
    """Median seconds of ``overcloud-image patch --puppet`` on fresh copies of ``image``."""
    times = []
    for index in range(repeat):
        copy = work / f"patch-{index}.qcow2"
        shutil.copyfile(image, copy)
        times.append(timed([str(paths.venv_bin("tripleo-ovn-metadata")), "-q",
                            "overcloud-image", "patch", "--image", str(copy), "--puppet"], env))
        copy.unlink()
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--image", type=Path, help="qcow2 to patch copies of")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-overcloud-image.", dir="/var/tmp") as tmp:
        work = Path(tmp)
        image = args.image or overcloud_image.image_from_tree(
            overcloud_image.sample_tree(work / "tree"), work / "sample.qcow2")
        shutil.rmtree(work / "tree", ignore_errors=True)
        env = dict(os.environ)
        env.pop("LIBGUESTFS_BACKEND_SETTINGS", None)
        accel = overcloud_image.accelerator()
        artifact_s = timed([str(paths.venv_bin("tripleo-ovn-metadata")), "-q",
                            "puppet-artifact", "--output", str(work / "a.tar.gz")], env)
        tcg = patch_times(image, work, {**env, "LIBGUESTFS_BACKEND_SETTINGS": "force_tcg"},
                          args.repeat)
        size = image.stat().st_size / 1e6
        print(f"overcloud-image patch --puppet on {image.name} ({size:.0f} MB), median of "
              f"{args.repeat}:")
        print(f"  puppet-artifact (tarball)            {artifact_s:6.2f} s")
        print(f"  TCG                                  {tcg:6.2f} s   goal < {GOAL_TCG:.0f} s")
        if accel == "kvm":
            kvm = patch_times(image, work, env, args.repeat)
            print(f"  KVM                                  {kvm:6.2f} s   goal < {GOAL_KVM:.0f} s")
            print(f"  TCG/KVM ratio                        {tcg / kvm:6.2f}")
        else:
            print("  KVM                                   n/a    (cannot boot the appliance "
                  "here: see the probe's warning)")
        print(f"  load average while measuring         {os.getloadavg()[0]:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
