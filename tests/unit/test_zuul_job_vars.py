"""rehearse --verify-timeout: the job's setting, overridden on the playbook command line."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tripleo_ovn_metadata import nodes, paths, yamlio, zuul_job

VERIFY_PLAYBOOK = Path("ansible/playbooks/zuul/multinode-verify.yaml")
MULTINODE_VARS = Path("ansible/playbooks/zuul/vars/multinode.yaml")


def test_the_jobs_verify_passes_its_timeout_setting() -> None:
    root = paths.bundle_root()
    (play,) = yamlio.load(root / VERIFY_PLAYBOOK)
    (task,) = [t for t in play["tasks"] if "ansible.builtin.command" in t]
    argv = task["ansible.builtin.command"]["argv"]
    index = argv.index("--timeout")
    assert argv[index + 1] == f"{{{{ {zuul_job.VERIFY_TIMEOUT_VAR} | string }}}}"
    assert yamlio.load(root / MULTINODE_VARS)[zuul_job.VERIFY_TIMEOUT_VAR] == 90


def test_extra_vars_go_to_every_playbook_as_json(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: list[list[str]] = []

    def fake_run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        seen.append(cmd)
        return subprocess.CompletedProcess(cmd, 0)

    exe = tmp_path / "ansible-playbook"
    exe.touch()
    monkeypatch.setattr(paths, "venv_bin", lambda name, venv=".venv": exe)
    monkeypatch.setattr(nodes, "nodes_dir", lambda: tmp_path)
    monkeypatch.setattr(zuul_job.subprocess, "run", fake_run)
    zuul_job._playbook("some.yaml", tmp_path / "inv.yaml", tmp_path / "job.log",
                       {zuul_job.VERIFY_TIMEOUT_VAR: 20.0})
    (cmd,) = seen
    assert cmd[-1] == "some.yaml"
    index = cmd.index("-e")
    assert json.loads(cmd[index + 1]) == {zuul_job.VERIFY_TIMEOUT_VAR: 20.0}
