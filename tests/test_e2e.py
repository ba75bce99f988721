"""End to end on this machine: deploy -> verify -> redeploy (no-op) -> config change -> destroy.

Real everything: the fixture's OVS/OVN daemons and stub Nova, real Heat, Puppet, the
images from the local registry, Ansible with containers.podman, the agent in podman and
a VM in a network namespace. After destroy nothing of it may be left: no containers, no
namespaces, no bridges, no listeners on the fixture's ports.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from packages import build_deb_hotfix, build_el9_hotfix_rpm

from tripleo_ovn_metadata import config, deploy, paths, secrets, verify

REPO = Path(__file__).resolve().parent.parent
TOOL = REPO / ".venv" / "bin" / "tripleo-ovn-metadata"
PORTS = (6640, 6641, 6642, 8775)
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

pytestmark = pytest.mark.slow


def tool(*args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TOOL), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def machine() -> dict[str, object]:
    """What the deploy may touch and must leave as it found it.

    Other areas' tests may run containers and make links meanwhile, so only the kinds this
    deploy makes are compared: its labelled containers, OVS/agent/VM links and netns
    (podman's own ``netns-<uuid>`` namespaces belong to other tests' containers).
    """
    listeners = subprocess.run(["ss", "-Hltn"], capture_output=True, text=True, check=True)
    ports = {int(line.split()[3].rsplit(":", 1)[1]) for line in listeners.stdout.splitlines()}
    ps = subprocess.run(
        ["podman", "ps", "-a", "--filter", "label=managed_by=tripleo_ovn_metadata",
         "--format", "{{.Names}}"], capture_output=True, text=True, check=True,
    )
    sidecars = subprocess.run(
        ["podman", "ps", "-a", "--filter", f"name=^{verify.SIDECAR_PREFIX}",
         "--format", "{{.Names}}"], capture_output=True, text=True, check=True,
    )
    ours = ("br-int", "ovs-netdev", "tap", "tomvm", "genev")
    return {
        "netns": sorted(n for n in deploy.netns_list() if not n.startswith("netns-")),
        "links": sorted(n for n in os.listdir("/sys/class/net") if n.startswith(ours)),
        "listeners": sorted(ports & set(PORTS)),
        "containers": sorted(ps.stdout.split()),
        "sidecars": sorted(sidecars.stdout.split()),
        "ovs_rundir": Path("/run/openvswitch").exists(),
        "pidfiles": sorted(str(p) for p in (paths.state_dir() / "cloud").glob("run/*.pid")),
        "shared_dirs": {
            d: deploy.snapshot_dir(Path(d)) for d in deploy.SHARED_DIRS if Path(d).is_dir()
        },
        "host_paths": [p for p in deploy.HOST_PATHS if Path(p).exists()],
    }


def kept_bundle(stdout: str) -> Path:
    """The diagnostics bundle a failed verify names on its last line, checked."""
    found = re.search(r"\Adiagnostics: (/\S+)\Z", stdout.strip().splitlines()[-1])
    assert found, stdout[-2000:]
    bundle = Path(found[1])
    assert bundle.parent == paths.state_dir() / "verify" / "diagnostics"
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o700
    for path in bundle.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert "ovn-metadata-agent" in (bundle / "agent.log").read_text()
    assert "table=" in (bundle / "flows.txt").read_text()
    # The test VMs' and the metadata namespaces' ports: their ofport and any open error.
    interfaces = (bundle / "ovs-interfaces.txt").read_text()
    assert "ofport" in interfaces and "iface-id" in interfaces, interfaces[:500]
    assert "tom-vm" in (bundle / "netns-addresses.txt").read_text()
    for rows in ("sb-chassis", "sb-chassis-private", "sb-port-binding"):
        assert "_uuid" in (bundle / f"{rows}.txt").read_text(), rows
    # Collected while verify's test networks still existed.
    assert "(neutron-" in (bundle / "nb-show.txt").read_text()
    return bundle


def test_deploy_verify_redeploy_destroy(built_images: dict[str, str]) -> None:
    assert os.geteuid() == 0, "the end-to-end test manages containers and namespaces"
    assert not deploy.read_record(), "something is deployed already; run destroy first"
    before = machine()
    outputs: list[str] = []
    try:
        first = tool("deploy")
        outputs.append(first.stdout + first.stderr)
        assert first.returncode == 0, first.stderr[-2000:]
        assert "ovn_metadata_agent: created" in first.stdout
        assert "setup_ovs_manager: created" in first.stdout

        checked = tool("verify", "--cloud-init-vm")
        outputs.append(checked.stdout + checked.stderr)
        assert checked.returncode == 0, checked.stdout + checked.stderr[-2000:]
        assert "FAIL" not in checked.stdout.replace("0 failed", "")
        # A real client: qemu boots the Debian guest on a tap port of br-int with OVN
        # DHCP, and its cloud-init gets the instance id, hostname and SSH key verify gave
        # the stub Nova, from the OpenStack tree, through the agent.
        assert re.search(rf"^PASS +{re.escape(verify.CLOUD_INIT_CHECK)} .*instance-id, "
                         r"hostname tom-guest-\w{8}, SSH key via DataSourceOpenStack",
                         checked.stdout, re.MULTILINE), checked.stdout
        # Like a cloud image, the guest's disk names no nameserver (the build host's is
        # unreachable from br-int: cloud-init's first lookups waited 18 s on it).
        assert guest_file("/etc/resolv.conf") == ""
        # Sidecars are on by default: one per network, kept across the agent's restart
        # with no failed request, and stopped with their network.
        for row in (verify.SIDECAR_CHECK, verify.RESTART_CHECK, verify.REMOVAL_CHECK):
            assert re.search(rf"^PASS +{re.escape(row)}", checked.stdout, re.MULTILINE), row
        assert re.search(r"0 of \d+ requests failed, outage 0\.0 s, slowest [\d.]+ s; "
                         r"sidecar kept, 1 haproxy for the network", checked.stdout), checked.stdout
        last = checked.stdout.strip().splitlines()[-1]
        assert last.startswith("instance-id fetched through the agent: ")
        assert UUID.fullmatch(last.rsplit(" ", 1)[1])

        # A no-op redeploy skips Puppet and the playbook: their inputs and outputs are
        # as recorded. A hand-edited config file runs Puppet again, which restores it.
        noop = tool("deploy")
        outputs.append(noop.stdout + noop.stderr)
        assert noop.returncode == 0, noop.stderr[-2000:]
        assert "generate config (Puppet) done (0.0 s, inputs and output unchanged, skipped)" \
            in noop.stderr
        assert "containers as recorded, skipped)" in noop.stderr
        assert "ovn_metadata_agent: unchanged" in noop.stdout
        ini = config.DEFAULT_OUTPUT / "etc/neutron/neutron_ovn_metadata_agent.ini"
        pristine = ini.read_text()
        ini.write_text(pristine + "[edited]\nby_hand = true\n")
        edited = tool("deploy")
        outputs.append(edited.stdout + edited.stderr)
        assert edited.returncode == 0, edited.stderr[-2000:]
        assert "inputs and output unchanged, skipped" not in edited.stderr
        assert ini.read_text() == pristine
        assert "ovn_metadata_agent: unchanged" in edited.stdout

        # verify can fail: with the agent stopped it reports FAIL and exits 1.
        subprocess.run(["podman", "stop", "-t", "5", deploy.AGENT], check=True,
                       capture_output=True)
        broken = tool("verify", "--timeout", "5")
        outputs.append(broken.stdout + broken.stderr)
        assert broken.returncode == 1
        assert re.search(r"^FAIL +agent container healthcheck", broken.stdout, re.MULTILINE)
        assert "instance-id fetched through the agent" not in broken.stdout
        bundle = kept_bundle(broken.stdout)

        # Converging again starts what was stopped and recreates nothing.
        again = tool("deploy")
        outputs.append(again.stdout + again.stderr)
        assert again.returncode == 0, again.stderr[-2000:]
        assert "ovn_metadata_agent: unchanged" in again.stdout
        assert "setup_ovs_manager: unchanged" in again.stdout

        # A config change (agent debug on) recreates the agent and nothing else.
        debug_env = paths.state_dir() / "deploy" / "debug-env.yaml"
        debug_env.write_text("parameter_defaults:\n  OvnMetadataAgentDebug: true\n")
        changed = tool("deploy", "-e", str(debug_env))
        outputs.append(changed.stdout + changed.stderr)
        assert changed.returncode == 0, changed.stderr[-2000:]
        assert "ovn_metadata_agent: recreated" in changed.stdout
        assert "setup_ovs_manager: unchanged" in changed.stdout
    finally:
        gone = tool("destroy")
        outputs.append(gone.stdout + gone.stderr)
    assert gone.returncode == 0, gone.stderr[-2000:]
    after = machine()
    assert not after["sidecars"], after["sidecars"]
    assert after == before
    assert not deploy.read_record()
    secret = secrets.secret_file().read_text().strip()
    for text in outputs:
        assert secret not in text
    # The bundle outlives destroy and holds no secret, though the agent's ini it kept did.
    try:
        assert "metadata_proxy_shared_secret=********" in (
            bundle / "agent-config.txt").read_text()
        for path in bundle.iterdir():
            assert secret not in path.read_text(), path
    finally:
        shutil.rmtree(bundle)  # the machine as the test found it


def guest_file(path: str) -> str:
    """A file of the cached cloud-init guest's disk, read with debugfs (not mounted)."""
    (disk,) = verify.guest_cache().glob("*/disk.raw")
    return subprocess.run(["debugfs", "-R", f"cat {path}", str(disk)], capture_output=True,
                          text=True, check=True).stdout


def test_verify_without_deploy_is_one_line() -> None:
    assert not deploy.read_record()
    result = tool("verify")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "tripleo-ovn-metadata verify: error: nothing is deployed (run tripleo-ovn-metadata "
        "deploy first)"
    ]


# --- the dev loop: an unreleased change is what the deployed agent runs ---------------

AGENT_LOG = Path("/var/log/containers/neutron/ovn-metadata-agent.log")
WRAPPER = config.DEFAULT_OUTPUT / "etc/neutron/ovn_metadata_haproxy_wrapper"
AGENT_PY = "neutron/agent/ovn/metadata/agent.py"
GIT = ["git", "-c", "user.name=dev", "-c", "user.email=dev@example.invalid"]


def developer_checkout(tmp: Path) -> Path:
    """neutron 21.0.0 as a developer's git tree: the sdist's files, no PKG-INFO, one commit."""
    sdist = paths.cache_dir() / "sdists" / "neutron-21.0.0.tar.gz"
    if not sdist.exists():
        subprocess.run([str(paths.venv_bin("pip")), "download", "-q", "--no-deps",
                        "--no-binary", ":all:", "-d", str(sdist.parent), "neutron==21.0.0"],
                       check=True, capture_output=True)
    subprocess.run(["tar", "--no-same-owner", "-C", str(tmp), "-xzf", str(sdist)], check=True)
    tree = tmp / "neutron-21.0.0"
    (tree / "PKG-INFO").unlink()
    for info in tree.glob("*.egg-info"):
        subprocess.run(["rm", "-rf", str(info)], check=True)
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "neutron 21.0.0"]):
        subprocess.run([*GIT, "-C", str(tree), *args], check=True, capture_output=True)
    return tree


def add_marker(tree: Path, marker: str) -> None:
    """The visible change: the agent logs ``marker`` when it starts; committed."""
    path = tree / AGENT_PY
    anchor = "        self.ovs_idl = ovsdb.MetadataAgentOvsIdl().start()\n"
    text = path.read_text()
    assert text.count(anchor) == 1
    path.write_text(text.replace(anchor, f"{anchor}        LOG.info('dev-loop marker %s', "
                                         f"{marker!r})\n"))
    subprocess.run([*GIT, "-C", str(tree), "commit", "-qam", "log a marker"], check=True)


def log_size() -> int:
    """The agent log's size now (0 before the agent first wrote it)."""
    return AGENT_LOG.stat().st_size if AGENT_LOG.exists() else 0


def log_since(offset: int) -> str:
    """The agent's log file from byte ``offset`` on."""
    with AGENT_LOG.open("rb") as log:
        log.seek(offset)
        return log.read().decode(errors="replace")


def agent_image() -> str:
    """The image the deployed agent container was created from."""
    return subprocess.run(["podman", "inspect", "--format", "{{.ImageName}}", deploy.AGENT],
                          capture_output=True, text=True, check=True).stdout.strip()


def agent_id() -> str:
    """The deployed agent container's id."""
    return subprocess.run(["podman", "inspect", "--format", "{{.Id}}", deploy.AGENT],
                          capture_output=True, text=True, check=True).stdout.strip()


def cgroups_of(ids: list[str]) -> list[Path]:
    """The cgroup directories podman's cgroupfs manager made for ``ids``, in any hierarchy."""
    return [d for cid in ids for d in Path("/sys/fs/cgroup").glob(f"*/*/libpod-{cid}")]


def test_dev_loop_runs_the_changed_code_then_the_reverted(
        built_images: dict[str, str], tmp_path: Path, made: list[str]) -> None:
    assert not deploy.read_record(), "something is deployed already; run destroy first"
    marker = f"m-{os.getpid()}-{tmp_path.name}"
    tree = developer_checkout(tmp_path)
    add_marker(tree, marker)
    agents: list[str] = []  # every agent container, each replaced with its sidecars adopted
    try:
        first = tool("deploy")
        assert first.returncode == 0, first.stderr[-2000:]
        agents.append(agent_id())
        offset = log_size()
        changed = tool("dev-loop", "--source", str(tree))
        assert changed.returncode == 0, changed.stdout + changed.stderr[-2000:]
        made.append(re.search(r"^agent image: (\S+)$", changed.stdout, re.M)[1])
        agents.append(agent_id())
        assert re.search(r"^recreate containers .*ovn_metadata_agent recreated", changed.stdout,
                         re.M)
        assert re.search(r"^VM's 200, new agent +\d+\.\d s", changed.stdout, re.M)
        # pbr versions the checkout without git in the image: 2 commits past 21.0.0.
        assert "running agent: neutron-ovn-metadata-agent 21.0.1.dev2" in changed.stdout
        assert f"dev-loop marker {marker}" in log_since(offset)

        subprocess.run([*GIT, "-C", str(tree), "revert", "--no-edit", "HEAD"], check=True,
                       capture_output=True)
        offset = log_size()
        reverted = tool("dev-loop", "--source", str(tree))
        assert reverted.returncode == 0, reverted.stdout + reverted.stderr[-2000:]
        made.append(re.search(r"^agent image: (\S+)$", reverted.stdout, re.M)[1])
        agents.append(agent_id())
        assert "running agent: neutron-ovn-metadata-agent 21.0.1.dev3" in reverted.stdout
        since = log_since(offset)
        assert " INFO " in since, since  # the reverted agent started and logged
        assert "dev-loop marker" not in since

        # The same change as a wheel built from the tree.
        add_marker(tree, marker + "-wheel")
        wheels = tmp_path / "wheels"
        subprocess.run([str(paths.venv_bin("pip")), "wheel", "-q", "--no-deps",
                        "-w", str(wheels), str(tree)], check=True,
                       capture_output=True, env={**os.environ, "PBR_VERSION": "21.0.1.dev9"})
        (wheel,) = wheels.glob("neutron-*.whl")
        offset = log_size()
        wheeled = tool("dev-loop", "--wheel", str(wheel))
        assert wheeled.returncode == 0, wheeled.stdout + wheeled.stderr[-2000:]
        made.append(re.search(r"^agent image: (\S+)$", wheeled.stdout, re.M)[1])
        agents.append(agent_id())
        assert "running agent: neutron-ovn-metadata-agent 21.0.1.dev9" in wheeled.stdout
        assert f"dev-loop marker {marker}-wheel" in log_since(offset)

        # And as an EL9 RPM (a real spec, rpmbuild): unpacked where the image's python reads.
        add_marker(tree, marker + "-rpm")
        rpm = build_el9_hotfix_rpm(tmp_path / "rpm", (tree / AGENT_PY).read_text())
        offset = log_size()
        refused = tool("dev-loop", "--rpm", str(rpm))
        assert refused.returncode == 1 and "--rpm-unpack-without-deps" in refused.stderr
        # Render and Puppet ran beside the refused patch; the config names the running image
        # again (the sidecar wrapper would otherwise name one that was never pushed).
        assert agent_image() in WRAPPER.read_text()
        unpacked = tool("dev-loop", "--rpm", str(rpm), "--rpm-unpack-without-deps")
        assert unpacked.returncode == 0, unpacked.stdout + unpacked.stderr[-2000:]
        made.append(re.search(r"^agent image: (\S+)$", unpacked.stdout, re.M)[1])
        agents.append(agent_id())
        assert f"dev-loop marker {marker}-rpm" in log_since(offset)

        # And as a .deb that replaces the agent's file of Debian's python3-neutron.
        add_marker(tree, marker + "-deb")
        deb = build_deb_hotfix(tmp_path / "deb", (tree / AGENT_PY).read_text())
        offset = log_size()
        debbed = tool("dev-loop", "--deb", str(deb))
        assert debbed.returncode == 0, debbed.stdout + debbed.stderr[-2000:]
        made.append(re.search(r"^agent image: (\S+)$", debbed.stdout, re.M)[1])
        agents.append(agent_id())
        assert f"dev-loop marker {marker}-deb" in log_since(offset)

        # --sync: only the changed files over the installed package, no build.
        add_marker(tree, marker + "-sync")
        offset = log_size()
        synced = tool("dev-loop", "--source", str(tree), "--sync")
        assert synced.returncode == 0, synced.stdout + synced.stderr[-2000:]
        made.append(re.search(r"^agent image: (\S+)$", synced.stdout, re.M)[1])
        agents.append(agent_id())
        assert "running agent: neutron-ovn-metadata-agent 21.0.0" in synced.stdout
        assert f"dev-loop marker {marker}-sync" in log_since(offset)
        patched = made[-1]

        # The env file dev-loop wrote points a deploy at the patched agent: it wins over
        # the local registry's refs (an env file, not parameters that override every -e).
        env = re.search(r"^env file: (\S+)$", synced.stdout, re.M)[1]
        kept = tool("deploy", "-e", env)
        assert kept.returncode == 0, kept.stderr[-2000:]
        assert "ovn_metadata_agent: unchanged" in kept.stdout
        assert agent_image() == patched
        plain = tool("deploy")
        assert plain.returncode == 0, plain.stderr[-2000:]
        assert "ovn_metadata_agent: recreated" in plain.stdout
        assert agent_image() != patched
        agents.append(agent_id())
    finally:
        gone = tool("destroy")
    assert gone.returncode == 0, gone.stderr[-2000:]
    assert not deploy.read_record()
    # The replaced agents' cgroups (their adopted sidecars' conmons kept two of them busy)
    # went with destroy too.
    assert len(set(agents)) == len(agents) == 8, agents
    assert cgroups_of(agents) == []


# --- haproxy sidecars: adoption across agent restarts, a network added while the agent is
# down, destroy with sidecars serving, and OVNEnableHaproxyDockerWrapper false.
# (In this file: every host deploy runs on one pytest worker, one after another.)
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


# --- verify.wait_for: the tries until an HTTP 200 run on the target, in one command ----
# A counting prefix stands in for ``podman exec <node>``. Here, not in tests/unit: the
# namespace of the late server's test would show in the deploy tests' host checks.
WAIT_VM_INDEX = 987  # netns tom-vm987: not one a verify run makes


def counting_target(tmp_path: Path) -> tuple[verify.Target, Path]:
    count = tmp_path / "commands"
    wrapper = 'echo run >> "$0"; exec "$@"'
    return verify.Target(name="counted", prefix=("sh", "-c", wrapper, str(count))), count


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_no_answer_is_one_command_until_the_timeout(tmp_path: Path) -> None:
    target, count = counting_target(tmp_path)
    started = time.monotonic()
    assert verify.wait_for(verify.Vm(WAIT_VM_INDEX), lambda s, b: s == 200, 2, target) == (0, "")
    assert 2 <= time.monotonic() - started < 10
    assert count.read_text().splitlines() == ["run"]


@pytest.fixture
def vm_netns(tmp_path: Path) -> Iterator[tuple[verify.Vm, Path]]:
    """A VM's namespace with the metadata address on its loopback, and a web root."""
    vm = verify.Vm(WAIT_VM_INDEX)
    root = tmp_path / "www"
    (root / "latest" / "meta-data").mkdir(parents=True)
    (root / "latest" / "meta-data" / "instance-id").write_text(vm.instance)
    subprocess.run(["ip", "netns", "add", vm.netns], check=True)
    try:
        subprocess.run(["ip", "-n", vm.netns, "link", "set", "lo", "up"], check=True)
        subprocess.run(["ip", "-n", vm.netns, "addr", "add", "169.254.169.254/32", "dev", "lo"],
                       check=True)  # fmt: skip
        yield vm, root
    finally:
        subprocess.run(["ip", "netns", "delete", vm.netns], check=False)


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_a_late_server_is_one_command_and_its_answer(
        tmp_path: Path, vm_netns: tuple[verify.Vm, Path]) -> None:
    vm, root = vm_netns
    target, count = counting_target(tmp_path)
    server = subprocess.Popen(
        ["ip", "netns", "exec", vm.netns, "sh", "-c",
         f"sleep 1.5; exec {sys.executable} -m http.server 80 --bind 169.254.169.254"],
        cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        status, body = verify.wait_for(vm, lambda s, b: s == 200, 20, target)
    finally:
        server.kill()
        server.wait()
    assert (status, body) == (200, vm.instance)
    assert count.read_text().splitlines() == ["run"]
