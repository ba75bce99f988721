"""The dev loop in one command: patch the agent image, push, redeploy the agent, wait for 200.

The patched image's ref is known before its layer is built (``patch.patched_ref``), so
three things run side by side: the thin layer and its push; the deploy's render and
Puppet (``deploy`` with ``prepare_only``: the new ref is only a parameter there); and a
VM plugged into a new network, like a developer's running instance, until the current
agent serves it. Then the containers are converged (the agent recreated from the pushed
image; render is in-process and warm, Puppet skipped as its inputs are what was just
prepared) and the VM's next 200 comes through the new agent. Each phase is timed, and
the total is the wall time from the start to that 200. The env file that points a
deployment at the image is written as well.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tripleo_ovn_metadata import deploy, image, libchecks, patch, paths, procs, registry, verify
from tripleo_ovn_metadata.errors import BundleError, ToolError
from tripleo_ovn_metadata.progress import human_bytes

#: How long the current agent may take to serve the new VM before the redeploy goes on
#: (a recreate while it starts the network's haproxy would leave a half-made sidecar).
CURRENT_AGENT_WAIT_S = 10.0
T = TypeVar("T")


@dataclass(frozen=True)
class Phase:
    """One timed phase of the loop; ``alongside``: it ran beside the phase before it."""

    name: str
    seconds: float
    detail: str = ""
    alongside: bool = False


@dataclass
class Loop:
    """What one turn of the loop did."""

    ref: str
    env_file: Path
    containers: dict[str, str]
    agent_version: str
    phases: list[Phase] = field(default_factory=list)
    layer_bytes: int = 0
    pushed_bytes: int = 0
    #: Wall seconds from the start of the patch to the VM's 200 through the new agent.
    total: float = 0.0


def env_file() -> Path:
    """Where the loop writes the env file naming the patched agent image."""
    return paths.state_dir() / "dev-loop" / "images-environment.yaml"


def running_version(attempts: int = 5) -> str:
    """``neutron-ovn-metadata-agent --version`` inside the running agent container.

    Asked again a few times: on this cgroup v1 host a ``podman exec`` into a container
    just (re)created can fail for a moment. When it never answers, says why.
    """
    for attempt in range(attempts):
        proc = procs.run(["podman", "exec", deploy.AGENT, "neutron-ovn-metadata-agent",
                          "--version"], check=False, timeout=60)
        output = (proc.stdout or proc.stderr).strip()
        if proc.returncode == 0 and output:
            return output.splitlines()[-1]
        if attempt < attempts - 1:
            time.sleep(1)
    why = output.splitlines()[-1] if output else "no output"
    return f"unknown (podman exec exit {proc.returncode}: {why})"


def phase_lines(loop: Loop) -> list[str]:
    """One line per phase; a phase that ran beside the one before it is marked ``||``."""
    return [f"{'|| ' if phase.alongside else ''}{phase.name:{19 if phase.alongside else 22}} "
            f"{phase.seconds:6.1f} s  {phase.detail}" for phase in loop.phases]


def _timed(call: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T, float]:
    """``call``'s result and the seconds it took."""
    started = time.monotonic()
    return call(*args, **kwargs), time.monotonic() - started


def _served(vm: verify.Vm) -> Callable[[int, str], bool]:
    return lambda status, body: status == 200 and body == vm.instance


def run(inputs: patch.Inputs, env_files: Sequence[Path] = (), timeout: float = 120) -> Loop:
    """One turn: patch + push beside render + Puppet -> recreate the agent -> a VM's 200."""
    record = deploy.read_record()
    if not record:
        raise ToolError("nothing is deployed: run tripleo-ovn-metadata deploy first")
    inputs.check()
    address = registry.ensure_running().address
    current = image.ensure_images(address)
    running = libchecks.agent_image()  # the deployed agent's, else the current build
    started = time.monotonic()
    base = current["ContainerOvnMetadataImage"]
    digest = inputs.digest()
    ref = patch.patched_ref(base, digest, address)
    fixture = record.get("fixture")
    options = deploy.Options(fixture=Path(fixture) if fixture else None,
                             env_files=list(env_files),
                             images={**current, "ContainerOvnMetadataImage": ref})
    with verify.test_vms(1) as (vm,), ThreadPoolExecutor(max_workers=2) as pool:
        patching = pool.submit(_timed, patch.patch, inputs, base=base, address=address,
                               digest=digest)
        serving = pool.submit(_timed, verify.wait_for, vm, _served(vm), CURRENT_AGENT_WAIT_S)
        # NOTE: in this thread: a worker thread that imports Heat never ends (the pool's
        # shutdown then waits forever).
        prepared, prepare_s = _timed(deploy.deploy,
                                     dataclasses.replace(options, prepare_only=True))
        try:
            result, patch_s = patching.result()
        except Exception:
            # The config now names an image that does not exist: back to the running one's
            # (the patch's own error is what the user sees).
            restore = {**current, "ContainerOvnMetadataImage": running}
            with contextlib.suppress(BundleError):
                deploy.deploy(dataclasses.replace(options, images=restore, prepare_only=True))
            raise
        (status, _body), serve_s = serving.result()
        pushed = result.pushed
        sizes = f"layer {human_bytes(result.layer_bytes)}, pushed {human_bytes(pushed.uploaded)}"
        phases = [
            Phase("render + Puppet", prepare_s, f"config hash {prepared.config_hash[:12]}"),
            Phase("patch + push", patch_s, "already in the registry" if pushed.skipped else sizes,
                  alongside=True),
            Phase("VM on current agent", serve_s,
                  "served" if status == 200 else f"HTTP {status}, went on", alongside=True),
        ]
        out = env_file()
        out.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        image.write_env_file(out, {"ContainerOvnMetadataImage": pushed.ref}, address)
        converged, converge_s = _timed(deploy.deploy, options)
        changed = ", ".join(f"{name} {how}" for name, how in converged.containers.items())
        phases.append(Phase("recreate containers", converge_s, changed))
        (status, body), first_s = _timed(verify.wait_for, vm, _served(vm), timeout)
        if status != 200 or body != vm.instance:
            raise ToolError(f"no metadata through the patched agent within {timeout:.0f} s "
                            f"(HTTP {status})")
        phases.append(Phase("VM's 200, new agent", first_s))
        total = time.monotonic() - started
    return Loop(pushed.ref, out, converged.containers, running_version(), phases,
                layer_bytes=result.layer_bytes, pushed_bytes=pushed.uploaded, total=total)
