"""Rehearsal nodes: real node containers with systemd as PID 1 on their own network.

Boots one controller and one compute (about 10 s once the node image is built), checks
what an overcloud node must give TripleO, and that ``down`` removes everything by id.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tripleo_ovn_metadata import nodes, paths, registry, yamlio
from tripleo_ovn_metadata.errors import BundleError, InputError, ToolError

pytestmark = pytest.mark.slow


def _left() -> dict[str, object]:
    containers = subprocess.run(["podman", "ps", "-aq", "--filter", f"label={nodes.LABEL}"],
                                capture_output=True, text=True, check=True).stdout.split()
    network = subprocess.run(["podman", "network", "exists", nodes.NETWORK],
                             check=False).returncode == 0
    return {"containers": containers, "network": network,
            "listener": registry.listener_address(), "state": nodes.load()}


def test_a_node_name_in_use_is_one_line_and_starts_nothing(registry: str) -> None:
    assert nodes.load() is None, "rehearsal nodes are already up on this machine"
    name = f"{nodes.PREFIX}overcloud-novacompute-0"
    subprocess.run(["podman", "create", "--name", name, "localhost/debian:bookworm", "true"],
                   check=True, capture_output=True)
    try:
        with pytest.raises(BundleError) as caught:
            nodes.up(1, 1)
        assert str(caught.value) == f"node name {name} is in use by another container"
        assert _left() == {"containers": [], "network": False, "listener": None,
                           "state": None}
    finally:
        subprocess.run(["podman", "rm", "-f", name], check=False, capture_output=True)


def test_down_removes_everything_by_id(registry: str) -> None:
    assert nodes.load() is None, "rehearsal nodes are already up on this machine"
    up = nodes.up(1, 1)
    ids = [node.container_id for node in up.nodes]
    removed = nodes.down()
    assert "registry listener" in removed
    assert f"network {nodes.NETWORK}" in removed
    assert all(subprocess.run(["podman", "container", "exists", ident],
                              check=False).returncode == 1 for ident in ids)
    assert _left() == {"containers": [], "network": False, "listener": None, "state": None}
    assert nodes.down() == []


@pytest.fixture(scope="module")
def nodeset(registry: str) -> Iterator[nodes.NodeSet]:
    assert nodes.load() is None, "rehearsal nodes are already up on this machine"
    up = nodes.up(1, 1)
    yield up
    nodes.down()


def test_nodes_boot_systemd_and_match_the_stack(nodeset: nodes.NodeSet) -> None:
    rows = {row.hostname: row for row in nodes.status()}
    assert set(rows) == {"overcloud-controller-0", "overcloud-novacompute-0"}
    assert all(row.state == "running, systemd running" for row in rows.values()), rows
    # Hostnames and IPs are the ones the stack's NodePortMap gives (tht.undercloud_parameters).
    assert [(n.hostname, n.ip) for n in nodeset.nodes] == [
        ("overcloud-controller-0", "192.168.24.10"), ("overcloud-novacompute-0", "192.168.24.11")]
    for node in nodeset.nodes:
        assert nodes.node_exec(node, "hostname").strip() == node.hostname
        assert nodes.node_exec(node, "systemctl", "is-active", "openvswitch.service",
                               "ssh.service").split() == ["active", "active"]


def test_nodes_answer_ssh_with_the_key_and_pull_from_the_registry(
        nodeset: nodes.NodeSet) -> None:
    compute = nodeset.by_role("Compute")[0]
    proc = subprocess.run(
        ["ssh", "-i", nodeset.key, *nodes.ssh_args(nodeset).split(), "-o", "BatchMode=yes",
         f"root@{compute.ip}", "hostname"], capture_output=True, text=True, timeout=60,
        check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == compute.hostname
    nodes.check_registry(compute, nodeset.registry)
    catalog = json.loads(nodes.node_exec(compute, "curl", "-sf",
                                         f"http://{nodeset.registry}/v2/_catalog"))
    assert "repositories" in catalog
    # The listener is read-only: the nodes can pull, never push.
    assert registry.listener_address() == nodeset.registry


def test_unreachable_registry_is_one_line(nodeset: nodes.NodeSet) -> None:
    with pytest.raises(ToolError) as caught:
        nodes.check_registry(nodeset.nodes[0], f"{nodeset.gateway}:9")
    assert str(caught.value) == (f"registry {nodeset.gateway}:9 is unreachable from "
                                 "overcloud-controller-0 (curl exit 7)")


def test_inventory_is_shaped_like_zuuls(nodeset: nodes.NodeSet) -> None:
    inventory = yamlio.load(nodes.nodes_dir() / "zuul-inventory.yaml")["all"]
    assert inventory["children"]["controller"]["hosts"] == {"controller-0": {}}
    assert inventory["children"]["compute"]["hosts"] == {"compute-0": {}}
    assert inventory["children"]["undercloud"]["hosts"] == {"undercloud-0": {}}
    compute = inventory["hosts"]["compute-0"]
    assert compute["ansible_host"] == "192.168.24.11"
    assert compute["nodepool"]["private_ipv4"] == "192.168.24.11"
    assert inventory["hosts"]["undercloud-0"]["nodepool"]["private_ipv4"] == nodeset.gateway


def test_an_image_missing_from_the_registry_is_one_line(nodeset: nodes.NodeSet,
                                                        tmp_path: Path) -> None:
    from tripleo_ovn_metadata import overcloud

    env = tmp_path / "images.yaml"
    ref = f"{nodeset.registry}/{registry.NAMESPACE}/neutron-metadata-agent-ovn:no-such-tag"
    env.write_text(f"parameter_defaults:\n  ContainerOvnMetadataImage: {ref}\n")
    with pytest.raises(InputError) as caught:
        overcloud.create_stack([paths.bundle_root() / paths.SERVICE_ENV, env])
    assert str(caught.value) == (f"{env}: ContainerOvnMetadataImage: {ref} is not in the "
                                 "registry (tripleo-ovn-metadata image build --env-file ...)")
    assert not overcloud.workdir().config.exists()


def test_an_image_the_nodes_cannot_reach_is_one_line(nodeset: nodes.NodeSet,
                                                     tmp_path: Path) -> None:
    from tripleo_ovn_metadata import overcloud

    push = registry.status().address
    env = tmp_path / "images.yaml"
    ref = f"{push}/{registry.NAMESPACE}/neutron-metadata-agent-ovn:any"
    env.write_text(f"parameter_defaults:\n  ContainerOvnMetadataImage: {ref}\n")
    with pytest.raises(InputError) as caught:
        overcloud.create_stack([paths.bundle_root() / paths.SERVICE_ENV, env])
    assert str(caught.value) == (
        f"{env}: ContainerOvnMetadataImage: {ref} names {push}, which the nodes cannot "
        "reach (image build --for-nodes --env-file ...)")
