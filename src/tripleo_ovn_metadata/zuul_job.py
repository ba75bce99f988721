"""Run a zuul.d job's own playbooks (pre-run, run, post-run) against a local inventory.

``tripleo-ovn-metadata rehearse`` boots the rehearsal nodes, writes an inventory shaped
like the one Zuul gives the job's nodeset (nodes.zuul_inventory) and runs the playbooks
zuul.d names for the job, unchanged and in Zuul's order: pre-run, run (stopping at the
first failure), post-run always. Then the nodes go again, unless asked to keep them.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tripleo_ovn_metadata import ansible_log, nodes, paths, yamlio
from tripleo_ovn_metadata.errors import BundleError, CheckFailed, InputError, ToolError
from tripleo_ovn_metadata.progress import step

MULTINODE_JOB = "tripleo-ovn-metadata-multinode-3ctlr-3comp"
JOBS = Path("zuul.d/jobs.yaml")
#: The job setting ``rehearse --verify-timeout`` overrides.
VERIFY_TIMEOUT_VAR = "tripleo_ovn_metadata_zuul_verify_timeout"


@dataclass
class JobRun:
    """Each playbook's outcome and time, in run order."""

    phases: list[tuple[str, str, float]] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """True when a playbook failed."""
        return any(result != "ok" for _, result, _ in self.phases)


def _as_list(value: object) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def job_playbooks(job: str = MULTINODE_JOB) -> dict[str, list[str]]:
    """``{"pre-run": [...], "run": [...], "post-run": [...]}`` of ``job`` (its own, not
    its parents': those set up a fresh Zuul node, which ``setup.sh`` here already did)."""
    path = paths.bundle_root() / JOBS
    for item in yamlio.load(path) or []:
        spec = item.get("job", {}) if isinstance(item, dict) else {}
        if spec.get("name") == job:
            return {phase: _as_list(spec.get(phase)) for phase in ("pre-run", "run", "post-run")}
    raise InputError(path, f"no job named {job!r}")


def _playbook(playbook: str, inventory: Path, log: Path,
              extra_vars: Mapping[str, object]) -> float:
    exe = paths.venv_bin("ansible-playbook", ".venv-ansible")
    if not exe.exists():
        raise ToolError(f"{exe}: not installed (run tools/setup.sh)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update({"ANSIBLE_CONFIG": str(paths.bundle_root() / paths.ANSIBLE_CFG),
                "ANSIBLE_NOCOLOR": "1", "ANSIBLE_HOST_KEY_CHECKING": "False",
                "ANSIBLE_RETRY_FILES_ENABLED": "False",
                "ANSIBLE_LOCAL_TEMP": str(nodes.nodes_dir() / ".ansible-tmp")})
    started = time.monotonic()
    with open(log, "a", encoding="utf-8") as out:
        out.write(f"\n=== {playbook}\n")
        out.flush()
        extra = [arg for name, value in extra_vars.items()
                 for arg in ("-e", json.dumps({name: value}))]
        proc = subprocess.run([str(exe), "-i", str(inventory), *extra, playbook],
                              cwd=str(paths.bundle_root()), env=env, stdout=out,
                              stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        raise CheckFailed(f"{playbook} failed (exit {proc.returncode}): "
                          f"{ansible_log.last_failure(log)}; see {log}")
    return time.monotonic() - started


def run_job(job: str = MULTINODE_JOB, extra_vars: Mapping[str, object] | None = None) -> JobRun:
    """The job's playbooks against the node set's Zuul-shaped inventory; ``extra_vars``
    override the job's settings (``ansible-playbook -e``)."""
    nodes.require()
    inventory = nodes.nodes_dir() / "zuul-inventory.yaml"
    log = nodes.nodes_dir() / "job.log"
    log.unlink(missing_ok=True)
    playbooks = job_playbooks(job)
    outcome = JobRun()
    failure: BundleError | None = None
    for phase in ("pre-run", "run"):
        for playbook in playbooks[phase]:
            if failure:
                break
            started = time.monotonic()
            try:
                with step(f"{phase} {playbook}"):
                    _playbook(playbook, inventory, log, extra_vars or {})
                outcome.phases.append((playbook, "ok", time.monotonic() - started))
            except BundleError as exc:
                outcome.phases.append((playbook, "failed", time.monotonic() - started))
                failure = exc
    for playbook in playbooks["post-run"]:
        started = time.monotonic()
        try:
            with step(f"post-run {playbook}"):
                _playbook(playbook, inventory, log, extra_vars or {})
            outcome.phases.append((playbook, "ok", time.monotonic() - started))
        except BundleError:
            outcome.phases.append((playbook, "failed", time.monotonic() - started))
    if failure:
        raise failure
    return outcome


def rehearse(controllers: int = 3, computes: int = 3, *, keep: bool = False,
             verify_timeout: float | None = None) -> JobRun:
    """nodes up, the multinode job's playbooks, nodes down (also on failure);
    ``verify_timeout`` overrides how long each verify check waits (the job's 90 s)."""
    if nodes.load() is not None:
        raise BundleError("rehearsal nodes are already up (tripleo-ovn-metadata nodes down)")
    nodes.up(controllers, computes)
    try:
        extra = {} if verify_timeout is None else {VERIFY_TIMEOUT_VAR: verify_timeout}
        return run_job(extra_vars=extra)
    finally:
        if not keep:
            nodes.down()
