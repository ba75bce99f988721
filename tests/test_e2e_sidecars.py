"""The haproxy sidecars deployed on this machine: adoption across agent restarts, a
network added while the agent is down, destroy with sidecars still serving, and the
switch (OVNEnableHaproxyDockerWrapper false: the agent runs haproxy itself).

Real deploys like tests/test_e2e.py; each test destroys what it deployed and checks the
machine is as it found it.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_e2e import machine, tool

from tripleo_ovn_metadata import deploy, paths, verify

pytestmark = pytest.mark.slow
VM7, VM8 = 7, 8


@pytest.fixture
def clean_machine(built_images: dict[str, str]) -> Iterator[dict[str, object]]:
    """The machine before the test; after it, destroy must leave exactly that."""
    assert os.geteuid() == 0, "the end-to-end test manages containers and namespaces"
    assert not deploy.read_record(), "something is deployed already; run destroy first"
    before = machine()
    yield before
    gone = tool("destroy")
    assert gone.returncode == 0, gone.stderr[-2000:]
    after = machine()
    assert not after["sidecars"], after["sidecars"]
    assert after == before


def _add_vm(vm: verify.Vm, vms: list[verify.Vm]) -> None:
    vms.append(vm)
    verify._save(vms, verify.HOST)  # so destroy removes it even if the test fails
    verify.add_network(vm)
    verify.plug(vm)


def _served(vm: verify.Vm) -> None:
    status, body = verify.wait_for(vm, lambda s, b: s == 200, 90)
    assert (status, body) == (200, vm.instance)


def test_sidecars_are_adopted_and_removed_by_destroy(clean_machine: dict[str, object]) -> None:
    first = tool("deploy")
    assert first.returncode == 0, first.stderr[-2000:]
    assert verify.sidecars_enabled()
    vms: list[verify.Vm] = []
    vm7, vm8 = verify.Vm(VM7), verify.Vm(VM8)
    _add_vm(vm7, vms)
    _served(vm7)
    sidecar = verify.sidecar_id(vm7)
    assert sidecar, "no sidecar for the network"
    assert verify.haproxy_masters(vm7) == 1

    # The agent is down: VM 7 is still served by its sidecar, and a network added now
    # gets its sidecar when the agent is back, next to the adopted one.
    subprocess.run(["podman", "stop", "-t", "10", deploy.AGENT], check=True,
                   capture_output=True)
    assert verify.sidecar_id(vm7) == sidecar
    _add_vm(vm8, vms)
    subprocess.run(["podman", "start", deploy.AGENT], check=True, capture_output=True)
    _served(vm8)
    _served(vm7)
    assert verify.sidecar_id(vm7) == sidecar, "the restarted agent replaced the sidecar"
    assert verify.sidecar_id(vm8)
    assert verify.haproxy_masters(vm7) == verify.haproxy_masters(vm8) == 1
    # Each network's one haproxy is its sidecar's (a child of the sidecar's init), not
    # the agent's; the agent has pid=host, so podman top would list the whole host.
    for vm in (vm7, vm8):
        init = subprocess.run(
            ["podman", "inspect", "--format", "{{.State.Pid}}", verify.sidecar_name(vm)],
            capture_output=True, text=True, check=True).stdout.strip()
        masters = [line.split()[0] for line in subprocess.run(
            ["ps", "-eww", "-o", "pid=,ppid=,args="], capture_output=True, text=True,
            check=True).stdout.splitlines()
            if line.split()[1] == init and "haproxy" in line and vm.net in line]
        assert len(masters) == 1, (vm.net, init, masters)
    # No Created leftovers either: every labelled container is running.
    def sidecars(*status: str) -> list[str]:
        return sorted(subprocess.run(
            ["podman", "ps", "-a", "--filter", f"label={verify.SIDECAR_LABEL}", *status,
             "--format", "{{.Names}}"], capture_output=True, text=True, check=True,
        ).stdout.split())

    expected = sorted(verify.sidecar_name(vm) for vm in (vm7, vm8))
    assert sidecars() == sidecars("--filter", "status=running") == expected
    # clean_machine's destroy now runs with both sidecars serving.


def test_sidecars_off_the_agent_runs_haproxy(clean_machine: dict[str, object]) -> None:
    off = paths.state_dir() / "sidecars-off.yaml"
    off.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    off.write_text("parameter_defaults:\n  OVNEnableHaproxyDockerWrapper: false\n")
    try:
        first = tool("deploy", "-e", str(off))
        assert first.returncode == 0, first.stderr[-2000:]
        assert not verify.sidecars_enabled()
        checked = tool("verify")
        assert checked.returncode == 0, checked.stdout + checked.stderr[-2000:]
        row = re.search(rf"^SKIP +{re.escape(verify.RESTART_CHECK)} .*", checked.stdout,
                        re.MULTILINE)
        assert row and verify.SIDECARS_OFF in row[0], checked.stdout
        assert re.search(r"\d+ of \d+ requests failed.*, outage \d+\.\d s", row[0])
        assert not machine()["sidecars"]
    finally:
        Path(off).unlink(missing_ok=True)
