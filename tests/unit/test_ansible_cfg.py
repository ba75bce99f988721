"""The tool's own ansible-playbook runs read ansible/ansible.cfg (ansible-core's own
``ansible-config`` says what it changes)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tripleo_ovn_metadata import deploy, nodes, paths, zuul_job

POLL = "DEFAULT_INTERNAL_POLL_INTERVAL"


def _changed(env: dict[str, str]) -> dict[str, str]:
    """``ansible-config dump --only-changed`` under ``env``: setting name -> value."""
    exe = paths.venv_bin("ansible-config", ".venv-ansible")
    out = subprocess.run([str(exe), "dump", "--only-changed"], env=env, cwd="/",
                         capture_output=True, text=True, check=True).stdout
    changed = {}
    for line in out.splitlines():  # NAME(where it was set) = value
        name, _, rest = line.partition("(")
        if " = " in rest:
            changed[name.strip()] = rest.split(" = ", 1)[1].strip()
    return changed


def _zuul_job_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """The environment the zuul job runner gives ansible-playbook."""
    seen: list[dict[str, str]] = []

    def fake_run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        seen.append(kwargs["env"])  # type: ignore[arg-type]
        return subprocess.CompletedProcess(cmd, 0)

    with monkeypatch.context() as patch:
        patch.setattr(nodes, "nodes_dir", lambda: tmp_path)
        patch.setattr(zuul_job.subprocess, "run", fake_run)
        zuul_job._playbook("some.yaml", tmp_path / "inv.yaml", tmp_path / "job.log", {})
    (env,) = seen
    return env


def test_deploy_and_the_zuul_jobs_poll_their_workers_every_10_ms(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    zuul_env = _zuul_job_env(monkeypatch, tmp_path)
    for env in (deploy._ansible_env(), zuul_env):
        assert Path(env["ANSIBLE_CONFIG"]) == paths.bundle_root() / paths.ANSIBLE_CFG
        assert _changed(env)[POLL] == "0.01"
    # The control: without the file, ansible-core polls at its default.
    bare = {k: v for k, v in zuul_env.items() if k != "ANSIBLE_CONFIG"}
    assert POLL not in _changed(bare)
