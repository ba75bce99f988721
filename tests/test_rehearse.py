"""``tripleo-ovn-metadata rehearse``: the multinode zuul job's own playbooks on 3 + 3 nodes.

Real node containers (systemd, nested podman, OVS userspace datapath), real Heat with
stock THT 18 and this bundle, config-download, tripleo-ansible 6.0.0's roles over SSH;
then verify on every compute and the three faults. Takes 10-15 min here.
"""

from __future__ import annotations

import re
import subprocess

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
