"""What an interrupted verify left is cleaned on its own target only (issue 13's flake:
the host's ``destroy`` swept every target's record, and with it the test VMs of a verify
running on the rehearsal nodes at that moment: HTTP 0 on every VM of that compute)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tripleo_ovn_metadata import deploy, verify

NODE = verify.Target(name="overcloud-novacompute-0",
                     prefix=("podman", "exec", "tom-overcloud-novacompute-0"),
                     nb_db="tcp:192.168.24.10:6641")


@pytest.fixture
def removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list[str]]]:
    """A private state dir; ``verify.remove`` records (target, VM namespaces) instead."""
    monkeypatch.setenv("TRIPLEO_OVN_METADATA_STATE", str(tmp_path))
    calls: list[tuple[str, list[str]]] = []
    monkeypatch.setattr(verify, "remove", lambda vms, target: calls.append(
        (target.name, [vm.switch for vm in vms])))
    return calls


def test_cleanup_leaves_another_targets_record(removed: list[tuple[str, list[str]]]) -> None:
    host_vms, node_vms = [verify.Vm(1), verify.Vm(2)], [verify.Vm(1)]
    verify._save(host_vms, verify.HOST)
    verify._save(node_vms, NODE)
    verify.cleanup_recorded(verify.HOST)
    assert removed == [(verify.HOST.name, [vm.switch for vm in host_vms])]
    assert not verify.state_file(verify.HOST).exists()
    assert verify.state_file(NODE).exists()  # the node's verify may be running now
    verify.cleanup_recorded(NODE)
    assert removed[1] == (NODE.name, [vm.switch for vm in node_vms])
    assert not verify.state_file(NODE).exists()


def test_destroy_cleans_the_hosts_record_only(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[verify.Target] = []

    class Stop(Exception):
        """Ends destroy right after the cleanup (the rest acts on the machine)."""

    def cleanup(target: verify.Target) -> None:
        asked.append(target)
        raise Stop

    monkeypatch.setattr(deploy, "_require_root", lambda: None)
    monkeypatch.setattr(deploy, "read_record", lambda: {"containers": []})
    monkeypatch.setattr(verify, "cleanup_recorded", cleanup)
    with pytest.raises(Stop):
        deploy.destroy()
    assert asked == [verify.HOST]
