"""Rehearsal nodes: real node containers with systemd as PID 1 on their own network.

Boots one controller and one compute (about 10 s once the node image is built), checks
what an overcloud node must give TripleO, and that ``down`` removes everything by id; and
``tripleo-ovn-metadata rehearse``: the multinode zuul job's own playbooks on 3 + 3 nodes
(real Heat, config-download, tripleo-ansible's roles over SSH, verify on every compute and
the faults), and a broken bundle failing it. One file: the tests share the machine's nodes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tripleo_ovn_metadata import diagnostics, nodes, paths, verify, yamlio, zuul_job
from tripleo_ovn_metadata import registry as registry_lib
from tripleo_ovn_metadata.errors import BundleError, InputError, ToolError

pytestmark = pytest.mark.slow


def _left() -> dict[str, object]:
    containers = subprocess.run(["podman", "ps", "-aq", "--filter", f"label={nodes.LABEL}"],
                                capture_output=True, text=True, check=True).stdout.split()
    network = subprocess.run(["podman", "network", "exists", nodes.NETWORK],
                             check=False).returncode == 0
    return {"containers": containers, "network": network,
            "listener": registry_lib.listener_address(), "state": nodes.load()}


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
    inspect = json.loads(subprocess.run(["podman", "container", "inspect", *ids],
                                        capture_output=True, text=True, check=True).stdout)
    netns = [Path(c["NetworkSettings"]["SandboxKey"]) for c in inspect]
    pids = [c["State"]["Pid"] for c in inspect]
    assert all(path.exists() for path in netns) and all(pids), (netns, pids)
    removed = nodes.down()
    assert "registry listener" in removed
    assert f"network {nodes.NETWORK}" in removed
    assert all(subprocess.run(["podman", "container", "exists", ident],
                              check=False).returncode == 1 for ident in ids)
    assert _left() == {"containers": [], "network": False, "listener": None, "state": None}
    # No netns and no process is left: not the nodes' systemd, not their conmon.
    assert not [path for path in netns if path.exists()]
    assert not [pid for pid in pids if Path(f"/proc/{pid}").exists()]
    assert subprocess.run(["pgrep", "-f", nodes.PREFIX + "overcloud-"], capture_output=True,
                          check=False).returncode == 1
    assert nodes.down() == []


# --- rehearse: the multinode zuul job's playbooks (10-15 min for 3 + 3 here) ---------

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
    tmp_before = set(Path("/tmp").glob("ansible-*"))
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
        assert len(mine) == 12, (compute, mine)
        # The qemu guest is the standalone deploy's (verify --cloud-init-vm); here it is a
        # SKIP row, never a silent gap.
        guest = mine.pop(f"{compute}: {verify.CLOUD_INIT_CHECK}")
        assert guest == "SKIP", (compute, guest)
        assert f"{verify.CLOUD_INIT_CHECK}" in log and verify.NO_FIXTURE in log
        assert set(mine.values()) == {"PASS"}, mine
        assert re.search(rf"instance-id fetched through the agent on {compute}: "
                         r"[0-9a-f]{8}-[0-9a-f-]{27}", log), compute
    faults = {name: result for name, result in rows.items()
              if not name.startswith("overcloud-")}
    assert len(faults) == 4, faults
    assert set(faults.values()) == {"PASS"}, faults
    # nodes down left nothing: no node container, network, listener or state.
    assert subprocess.run(["podman", "ps", "-aq", "--filter", f"label={nodes.LABEL}"],
                          capture_output=True, text=True, check=True).stdout == ""
    assert subprocess.run(["podman", "network", "exists", nodes.NETWORK],
                          check=False).returncode == 1
    assert registry_lib.listener_address() is None
    assert nodes.load() is None
    # The undercloud's Ansible temporary files were in the node set's work dir, not in
    # tripleo-common's /tmp/ansible-${USER}.
    assert set(Path("/tmp").glob("ansible-*")) == tmp_before


#: What tools/setup.d/20-python-venv.sh hashes to decide whether .venv is up to date.
VENV_INPUTS = ("requirements.txt", "test-requirements.txt", "pyproject.toml",
               "tripleo-ansible-nodeps.txt")


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
    kept_before = _diagnostics()
    # A short verify timeout: the rows this test asserts fail for what the bundle does
    # wrong, not for a wait; the rows that wait for metadata fail sooner.
    proc = subprocess.run([str(copy / ".venv/bin/tripleo-ovn-metadata"), "rehearse",
                           "--controllers", "1", "--computes", "1", "--verify-timeout", "20"],
                          capture_output=True, text=True, timeout=1500, check=False, env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr[-2000:]
    assert "multinode-verify.yaml failed" in proc.stderr
    log = (nodes.nodes_dir() / "job.log").read_text(encoding="utf-8")
    rows = _rows(log)
    assert rows["no controller runs the agent (roles_data: Compute only)"] == "FAIL"
    restart = next(name for name in rows if name.startswith("compute restarted"))
    assert rows[restart] == "FAIL"
    assert ("journal start order tripleo_ovn_metadata_agent -> tripleo_ovn_controller; "
            "agent unit After= has ovn_controller: False") in log
    assert nodes.load() is None
    # A row that failed beside the asserted ones (a wait cut short by the 20 s timeout)
    # kept a diagnostics bundle: the machine as the test found it.
    for bundle in _diagnostics() - kept_before:
        shutil.rmtree(bundle)


def _diagnostics() -> set[Path]:
    """The diagnostics bundles verify kept on this machine."""
    kept = diagnostics.bundles_dir()
    return set(kept.iterdir()) if kept.is_dir() else set()


# --- one node set for the checks below ------------------------------------------------


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


def test_a_command_on_a_node_runs_as_podman_exec_runs_it(nodeset: nodes.NodeSet) -> None:
    """node_exec (and verify's target) exec through runc: the same container, cgroups,
    environment and exit codes as ``podman exec``; podman exec without runc's state."""
    compute = nodeset.by_role("Compute")[0]
    prefix = nodes.exec_prefix(compute)
    assert prefix[:4] == ("runc", "--root", str(nodes.RUNC_ROOT), "exec")
    probe = "hostname; cat /proc/self/cgroup; echo $PATH; readlink /proc/self/ns/net"
    podman = subprocess.run(["podman", "exec", compute.container, "sh", "-c", probe],
                            capture_output=True, text=True, check=True).stdout
    assert nodes.node_exec(compute, "sh", "-c", probe) == podman
    assert podman.splitlines()[0] == compute.hostname
    assert nodes.node_exec(compute, "cat", input_text="from stdin\n") == "from stdin\n"
    exit7 = subprocess.run([*prefix, "sh", "-c", "exit 7"], capture_output=True, check=False)
    assert exit7.returncode == 7
    other = dataclasses.replace(compute, container_id="0" * 64)  # no runc state for it
    assert nodes.exec_prefix(other) == ("podman", "exec", "-i", compute.container)


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
    assert registry_lib.listener_address() == nodeset.registry


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
    ref = f"{nodeset.registry}/{registry_lib.NAMESPACE}/neutron-metadata-agent-ovn:no-such-tag"
    env.write_text(f"parameter_defaults:\n  ContainerOvnMetadataImage: {ref}\n")
    with pytest.raises(InputError) as caught:
        overcloud.create_stack([paths.bundle_root() / paths.SERVICE_ENV, env])
    assert str(caught.value) == (f"{env}: ContainerOvnMetadataImage: {ref} is not in the "
                                 "registry (tripleo-ovn-metadata image build --env-file ...)")
    assert not overcloud.workdir().config.exists()


def test_an_image_the_nodes_cannot_reach_is_one_line(nodeset: nodes.NodeSet,
                                                     tmp_path: Path) -> None:
    from tripleo_ovn_metadata import overcloud

    push = registry_lib.status().address
    env = tmp_path / "images.yaml"
    ref = f"{push}/{registry_lib.NAMESPACE}/neutron-metadata-agent-ovn:any"
    env.write_text(f"parameter_defaults:\n  ContainerOvnMetadataImage: {ref}\n")
    with pytest.raises(InputError) as caught:
        overcloud.create_stack([paths.bundle_root() / paths.SERVICE_ENV, env])
    assert str(caught.value) == (
        f"{env}: ContainerOvnMetadataImage: {ref} names {push}, which the nodes cannot "
        "reach (image build --for-nodes --env-file ...)")


def test_a_node_restart_leaves_the_other_nodes_reachable(nodeset: nodes.NodeSet) -> None:
    """Each node's systemd keeps to its own container cgroup: a restart of one node (its
    shutdown trims the empty cgroups it sees) leaves ``exec`` into the others working."""
    controller = nodeset.by_role("Controller")[0]
    compute = nodeset.by_role("Compute")[0]
    for node in nodeset.nodes:
        # On the old nodes: ``name=systemd:/../../init.scope``, outside their own cgroup.
        cgroup = nodes.node_exec(node, "cat", "/proc/1/cgroup").splitlines()
        systemd = [line.split(":", 1)[1] for line in cgroup if ":name=systemd:" in line]
        assert systemd == ["name=systemd:/init.scope"], (node.hostname, cgroup)
    subprocess.run(["podman", "restart", "-t", "30", compute.container], check=True,
                   capture_output=True)
    nodes.wait_booted(compute)
    for node in (controller, compute):
        assert nodes.node_exec(node, "hostname").strip() == node.hostname
        assert nodes.node_exec(node, "systemctl", "is-system-running",
                               check=False).strip() in ("running", "degraded")
    assert [row.state for row in nodes.status()] == ["running, systemd running"] * 2
