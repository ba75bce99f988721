"""``tripleo-ovn-metadata rehearse``: the multinode zuul job's own playbooks on 3 + 3 nodes.

Real node containers (systemd, nested podman, OVS userspace datapath), real Heat with
stock THT 18 and this bundle, config-download, tripleo-ansible 6.0.0's roles over SSH;
then verify on every compute and the three faults. Takes 10-15 min here.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tripleo_ovn_metadata import nodes, paths, zuul_job

pytestmark = pytest.mark.slow
TOOL = paths.venv_bin("tripleo-ovn-metadata")
ROW = re.compile(r"^(PASS|FAIL|SKIP)\s{2}(.+?)\s{2,}\s*\d+\.\d+s\s{2}(.*)$")


def _rows(log: str) -> dict[str, str]:
    rows = {}
    for line in log.splitlines():
        text = line.strip().strip('",')
        match = ROW.match(text)
        if match:
            rows[match.group(2).strip()] = match.group(1)
    return rows


def test_rehearse_three_controllers_three_computes(registry: str) -> None:
    assert nodes.load() is None, "rehearsal nodes are already up on this machine"
    proc = subprocess.run([str(TOOL), "rehearse"], capture_output=True, text=True,
                          timeout=1800, check=False)
    log = (nodes.nodes_dir() / "job.log").read_text(encoding="utf-8")
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    played = [line.split()[-1] for line in proc.stdout.splitlines() if line.startswith("ok")]
    wanted = zuul_job.job_playbooks()
    assert played == [*wanted["pre-run"], *wanted["run"], *wanted["post-run"]]
    rows = _rows(log)
    computes = [f"overcloud-novacompute-{i}" for i in range(3)]
    for compute in computes:
        mine = {name: result for name, result in rows.items() if name.startswith(compute)}
        assert len(mine) == 8, (compute, mine)
        assert set(mine.values()) == {"PASS"}, mine
    faults = {name: result for name, result in rows.items()
              if not name.startswith("overcloud-")}
    assert len(faults) == 4, faults
    assert set(faults.values()) == {"PASS"}, faults
    # nodes down left nothing: no node container, network, listener or state.
    assert subprocess.run(["podman", "ps", "-aq", "--filter", f"label={nodes.LABEL}"],
                          capture_output=True, text=True, check=True).stdout == ""
    assert subprocess.run(["podman", "network", "exists", nodes.NETWORK],
                          check=False).returncode == 1
    assert registry.listener_address() is None
    assert nodes.load() is None


#: What tools/setup.d/20-python-venv.sh hashes to decide whether .venv is up to date.
VENV_INPUTS = ("requirements.txt", "test-requirements.txt", "pyproject.toml")


def _bundle_copy(tmp_path: Path) -> Path:
    """The repository's tracked files in ``tmp_path`` with this checkout's venvs and cache."""
    root = paths.bundle_root()
    copy = tmp_path / "bundle"
    files = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True,
                           check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        dest = copy / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        if (root / name).is_symlink():  # e.g. ansible/playbooks/roles -> ../roles
            dest.symlink_to(os.readlink(root / name))
        else:
            shutil.copy2(root / name, dest)
    # The job's pre-run runs tools/setup.sh in the copy: with the venvs shared, it must find
    # them up to date (else it would reinstall this package from the copy into them).
    want = hashlib.sha256(b"".join((root / name).read_bytes() for name in VENV_INPUTS))
    have = (root / ".venv" / ".requirements-hash").read_text().strip()
    assert have == want.hexdigest()[:16], "run tools/setup.sh first: .venv is out of date"
    for venv in root.glob(".venv*"):
        (copy / venv.name).symlink_to(venv)
    (copy / ".cache").symlink_to(root / ".cache")
    return copy


def test_a_broken_bundle_fails_the_rehearsal(registry: str, tmp_path: Path) -> None:
    """The agent without depends_on, and on the Controller role too: rehearse fails, and
    the table says why (1 controller + 1 compute)."""
    assert nodes.load() is None, "rehearsal nodes are already up on this machine"
    copy = _bundle_copy(tmp_path)
    template = copy / paths.SERVICE_TEMPLATE
    text = template.read_text(encoding="utf-8")
    assert "depends_on:\n" in text
    template.write_text(re.sub(r"\n( +)depends_on:\n\1  - tripleo_ovn_controller.service\n",
                               "\n", text), encoding="utf-8")
    assert "tripleo_ovn_controller.service" not in template.read_text(encoding="utf-8")
    roles = copy / paths.ROLES_DATA
    roles_text = roles.read_text(encoding="utf-8")
    marker = "    - OS::TripleO::Services::OVNDBs\n"
    assert marker in roles_text
    roles.write_text(roles_text.replace(
        marker, marker + "    - OS::TripleO::Services::OVNMetadataAgent\n", 1), encoding="utf-8")
    env = {**os.environ, "TRIPLEO_OVN_METADATA_BUNDLE": str(copy)}
    proc = subprocess.run([str(copy / ".venv/bin/tripleo-ovn-metadata"), "rehearse",
                           "--controllers", "1", "--computes", "1"], capture_output=True,
                          text=True, timeout=1500, check=False, env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr[-2000:]
    assert "multinode-verify.yaml failed" in proc.stderr
    rows = _rows((nodes.nodes_dir() / "job.log").read_text(encoding="utf-8"))
    assert rows["no controller runs the agent (roles_data: Compute only)"] == "FAIL"
    restart = next(name for name in rows if name.startswith("compute restarted"))
    assert rows[restart] == "FAIL"
    assert nodes.load() is None
