"""Image figures: cold build of the chain, full push, and the dev loop (changed source →
pushed) with the bytes it pushes next to the full image size.

Run: .venv/bin/python benchmarks/bench_image.py   (root; needs tools/setup.sh done)

The cold build runs on a copy of the recipe with a one-line change, so every image gets
new tags and buildah's layer cache is off (--no-cache): apt downloads and installs are
all measured. It is pushed to a throwaway registry on its own port and state dir, and its
tags are removed afterwards; the bundle's own images and registry are left as they were.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tripleo_ovn_metadata import image, kolla_recipe, patch, paths, registry
from tripleo_ovn_metadata.procs import run
from tripleo_ovn_metadata.progress import human_bytes

REPO = Path(__file__).resolve().parent.parent


def _copy_bundle(into: Path) -> Path:
    bundle = into / "bundle"
    shutil.copytree(REPO / "kolla", bundle / "kolla")
    (bundle / ".venv-kolla").symlink_to(REPO / ".venv-kolla")
    base = bundle / "kolla/docker/base/Dockerfile.j2"
    base.write_text(base.read_text() + f"\n{{# bench {time.time()} #}}\n")
    return bundle


def cold_build(tmp: Path) -> tuple[float, float, int, int]:
    """Seconds to build the chain with no cache; seconds and bytes of the full push."""
    saved = dict(os.environ)
    os.environ.update(TRIPLEO_OVN_METADATA_BUNDLE=str(_copy_bundle(tmp)),
                      TRIPLEO_OVN_METADATA_CACHE=str(tmp / "cache"),
                      TRIPLEO_OVN_METADATA_STATE=str(tmp / "state"))
    tag = kolla_recipe.chain_tag()
    address = "127.0.0.1:18799"
    try:
        started = time.monotonic()
        refs = image.build(force=True, no_cache=True)
        built = time.monotonic() - started
        registry.start(address)
        started = time.monotonic()
        pushed = image.push(refs[kolla_recipe.AGENT],
                            image.remote_ref(address, kolla_recipe.AGENT, tag))
        return built, time.monotonic() - started, pushed.uploaded, pushed.size
    finally:
        registry.stop()
        for name, _ in kolla_recipe.CHAIN:
            subprocess.run(["podman", "rmi", image.local_ref(name, tag)], capture_output=True,
                           check=False)
        os.environ.clear()
        os.environ.update(saved)


def neutron_tree(tmp: Path) -> Path:
    """neutron 21.0.0's sdist unpacked: the "checkout" the dev loop changes."""
    cache = paths.cache_dir() / "sdists"
    sdist = cache / "neutron-21.0.0.tar.gz"
    if not sdist.exists():
        run([str(paths.venv_bin("pip")), "download", "-q", "--no-deps", "--no-binary", ":all:",
             "-d", str(cache), "neutron==21.0.0"])
    run(["tar", "-C", str(tmp), "-xzf", str(sdist)])
    return tmp / "neutron-21.0.0"


def patch_loop(tmp: Path) -> tuple[float, patch.Patched]:
    """Seconds from a changed neutron source file to the patched image in the registry."""
    image.ensure_images()
    tree = neutron_tree(tmp)
    (tree / "neutron/bench_marker.py").write_text(f"STAMP = {time.time()!r}\n")
    started = time.monotonic()
    result = patch.patch(patch.Inputs(sources=[tree]))
    elapsed = time.monotonic() - started
    # The stamp makes every run's tag new; drop it again from the registry and storage.
    pushed = result.pushed
    address, _, rest = pushed.ref.partition("/")
    registry.delete(address, rest.rpartition(":")[0], pushed.digest)
    name, tag = rest.rsplit("/", 1)[1].split(":")
    for ref in (pushed.ref, image.local_ref(name, tag)):
        subprocess.run(["podman", "rmi", ref], capture_output=True, check=False)
    return elapsed, result


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="  %(message)s", stream=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="bench-image-", dir="/var/tmp") as tmp:
        build_s, push_s, push_bytes, full = cold_build(Path(tmp) / "cold")
        loop_s, result = patch_loop(Path(tmp))
    # The dev loop pushes into the registry that already holds the base image.
    up, size = result.pushed.uploaded, result.image_bytes
    print(f"cold build, base -> agent + config, no cache: {build_s:7.1f} s")
    print(f"full push of the agent image:                 {push_s:7.1f} s, "
          f"{human_bytes(push_bytes)} (image {human_bytes(full)} compressed)")
    print(f"patch loop, changed neutron source -> pushed: {loop_s:7.1f} s "
          f"= {loop_s / build_s:.3f} x cold build")
    print(f"patch bytes pushed:                           {human_bytes(up)} of "
          f"{human_bytes(size)} image = {up / size:.3f} x full image "
          f"({up / max(push_bytes, 1):.3f} x full push)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
