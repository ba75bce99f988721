"""The dev loop in one command: patch the agent image, push, redeploy the agent, wait for 200.

Each phase is timed: the thin layer (``patch``, with the bytes pushed), the converge of the
standalone deploy with the new agent image (Puppet is skipped when the config inputs are
unchanged; the agent's container is recreated), and the first HTTP 200 a VM gets through
the new agent. The env file that points a deployment at the image is written as well.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tripleo_ovn_metadata import deploy, image, patch, paths, procs, registry, verify
from tripleo_ovn_metadata.errors import ToolError
from tripleo_ovn_metadata.progress import human_bytes


@dataclass(frozen=True)
class Phase:
    """One timed phase of the loop."""

    name: str
    seconds: float
    detail: str = ""


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

    @property
    def total(self) -> float:
        """Seconds from the start of the patch to the VM's 200."""
        return sum(phase.seconds for phase in self.phases)


def env_file() -> Path:
    """Where the loop writes the env file naming the patched agent image."""
    return paths.state_dir() / "dev-loop" / "images-environment.yaml"


def running_version() -> str:
    """``neutron-ovn-metadata-agent --version`` inside the running agent container."""
    proc = procs.run(["podman", "exec", deploy.AGENT, "neutron-ovn-metadata-agent",
                      "--version"], check=False, timeout=60)
    return (proc.stdout or proc.stderr).strip().splitlines()[-1] if proc.returncode == 0 else ""


def run(inputs: patch.Inputs, env_files: Sequence[Path] = (), timeout: float = 120) -> Loop:
    """One turn: patch -> push -> redeploy the agent -> first 200 in a VM."""
    record = deploy.read_record()
    if not record:
        raise ToolError("nothing is deployed: run tripleo-ovn-metadata deploy first")
    inputs.check()
    address = registry.ensure_running().address
    phases = []
    started = time.monotonic()
    result = patch.patch(inputs, address=address)
    pushed = result.pushed
    sizes = f"layer {human_bytes(result.layer_bytes)}, pushed {human_bytes(pushed.uploaded)}"
    phases.append(Phase("patch + push", time.monotonic() - started,
                        "already in the registry" if pushed.skipped else sizes))
    out = env_file()
    out.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    image.write_env_file(out, {"ContainerOvnMetadataImage": pushed.ref}, address)
    started = time.monotonic()
    images = {**result.current, "ContainerOvnMetadataImage": pushed.ref}
    fixture = record.get("fixture")
    converged = deploy.deploy(deploy.Options(
        fixture=Path(fixture) if fixture else None, env_files=list(env_files), images=images))
    changed = ", ".join(f"{name} {how}" for name, how in converged.containers.items())
    phases.append(Phase("redeploy", time.monotonic() - started, changed))
    started = time.monotonic()
    with verify.test_vms(1) as (vm,):
        status, body = verify.wait_for(vm, lambda s, b: s == 200, timeout)
    if status != 200 or body != vm.instance:
        raise ToolError(f"no metadata through the patched agent within {timeout:.0f} s "
                        f"(HTTP {status})")
    phases.append(Phase("first 200 in a VM", time.monotonic() - started))
    return Loop(pushed.ref, out, converged.containers, running_version(), phases,
                layer_bytes=result.layer_bytes, pushed_bytes=pushed.uploaded)
