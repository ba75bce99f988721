"""Check a deployed agent end to end: a VM in a netns fetches its metadata through it.

``verify`` writes Neutron-shaped rows into the OVN northbound DB (a network per test VM
with a ``localport`` carrying ``neutron:cidrs`` and ``device_owner network:distributed``,
and a VM port with device and project ids), binds each VM port to an OVS internal port
moved into a network namespace, and fetches http://169.254.169.254/latest/meta-data/
instance-id from there: OVN -> the agent's haproxy in ``ovnmeta-<net>`` -> the agent ->
the stub Nova, which checks the signature. Both test networks use the same subnet, so
answering the wrong VM would show.

Everything it adds (NB rows, OVS ports, namespaces) is recorded and removed again.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tripleo_ovn_metadata import deploy, paths, procs
from tripleo_ovn_metadata.errors import CheckFailed, ToolError
from tripleo_ovn_metadata.progress import step

NB_DB = "tcp:127.0.0.1:6641"
SB_DB = "tcp:127.0.0.1:6642"
METADATA_URL = "http://169.254.169.254/latest/meta-data/instance-id"
CIDR_PREFIX = "10.0.0"
BRIDGE = "br-int"
#: The instance id the first VM got in the last run_checks (for the CLI's last line).
last_instance_id = ""
VM1_CHECK = "VM 1 gets its instance-id through the agent"


@dataclass
class Vm:
    """One test VM: its network, ports, addresses and namespace."""

    index: int
    net: str = field(default_factory=lambda: str(uuid.uuid4()))
    mdport: str = field(default_factory=lambda: str(uuid.uuid4()))
    vmport: str = field(default_factory=lambda: str(uuid.uuid4()))
    instance: str = field(default_factory=lambda: str(uuid.uuid4()))
    project: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def netns(self) -> str:
        return f"tom-vm{self.index}"

    @property
    def ifname(self) -> str:
        return f"tomvm{self.index}p"

    @property
    def mac(self) -> str:
        return f"fa:16:3e:00:{self.index:02x}:0a"

    @property
    def switch(self) -> str:
        return f"neutron-{self.net}"

    ip = f"{CIDR_PREFIX}.10"
    metadata_ip = f"{CIDR_PREFIX}.2"


@dataclass
class Check:
    """One line of the PASS/FAIL table."""

    name: str
    passed: bool
    seconds: float
    detail: str = ""


def state_file() -> Path:
    """What verify added and has not removed yet."""
    return paths.state_dir() / "verify" / "resources.json"


def _run(cmd: list[str], timeout: float = 30) -> str:
    return procs.run(cmd, timeout=timeout).stdout


def nbctl(*args: str) -> str:
    return _run(["ovn-nbctl", f"--db={NB_DB}", "--timeout=20", *args])


def sbctl(*args: str) -> str:
    return _run(["ovn-sbctl", f"--db={SB_DB}", "--timeout=10", *args])


def vsctl(*args: str) -> str:
    return _run(["ovs-vsctl", "--timeout=10", *args])


def _save(vms: list[Vm]) -> None:
    path = state_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_text(json.dumps([vm.__dict__ for vm in vms], indent=1) + "\n")


def add_network(vm: Vm) -> None:
    """The NB rows ML2/OVN would write for a network with one VM port."""
    name = f'external_ids:"neutron:network_name"="{vm.switch}"'
    nbctl(
        "ls-add", vm.switch, "--", "set", "Logical_Switch", vm.switch,
        f'external_ids:"neutron:network_name"="tom-verify-{vm.index}"',
        'external_ids:"neutron:mtu"="1442"',
    )
    nbctl(
        "lsp-add", vm.switch, vm.mdport, "--", "lsp-set-type", vm.mdport, "localport",
        "--", "lsp-set-addresses", vm.mdport, f"fa:16:3e:00:{vm.index:02x}:02 {vm.metadata_ip}",
        "--", "set", "Logical_Switch_Port", vm.mdport,
        f'external_ids:"neutron:cidrs"="{vm.metadata_ip}/24"',
        f'external_ids:"neutron:device_id"="ovnmeta-{vm.net}"',
        'external_ids:"neutron:device_owner"="network:distributed"',
        f'external_ids:"neutron:project_id"="{vm.project}"', name,
    )
    nbctl(
        "lsp-add", vm.switch, vm.vmport, "--", "lsp-set-addresses", vm.vmport,
        f"{vm.mac} {vm.ip}", "--", "lsp-set-port-security", vm.vmport, f"{vm.mac} {vm.ip}",
        "--", "set", "Logical_Switch_Port", vm.vmport,
        f'external_ids:"neutron:cidrs"="{vm.ip}/24"',
        f'external_ids:"neutron:device_id"="{vm.instance}"',
        'external_ids:"neutron:device_owner"="compute:nova"',
        f'external_ids:"neutron:project_id"="{vm.project}"', name,
    )
    nbctl("--wait=sb", "sync")


def plug(vm: Vm) -> None:
    """Bind the VM port on this chassis: an internal port moved into the VM's netns."""
    _run(["ip", "netns", "add", vm.netns])
    _run(["ip", "-n", vm.netns, "link", "set", "lo", "up"])
    vsctl(
        "add-port", BRIDGE, vm.ifname, "--", "set", "Interface", vm.ifname, "type=internal",
        f"external_ids:iface-id={vm.vmport}", f"external_ids:attached-mac={vm.mac}",
        "external_ids:iface-status=active",
    )
    _run(["ip", "link", "set", vm.ifname, "netns", vm.netns])
    _run(["ip", "-n", vm.netns, "link", "set", vm.ifname, "address", vm.mac])
    _run(["ip", "-n", vm.netns, "addr", "add", f"{vm.ip}/24", "dev", vm.ifname])
    _run(["ip", "-n", vm.netns, "link", "set", vm.ifname, "up"])
    _run(["ip", "-n", vm.netns, "route", "add", "169.254.169.254/32", "via", vm.metadata_ip])


def remove(vms: list[Vm]) -> None:
    """Unplug and delete the VMs and their networks (missing parts are fine)."""
    for vm in vms:
        subprocess.run(["ovs-vsctl", "--timeout=10", "--if-exists", "del-port", BRIDGE, vm.ifname],
                       capture_output=True, check=False)
        subprocess.run(["ip", "netns", "delete", vm.netns], capture_output=True, check=False)
        subprocess.run(["ovn-nbctl", f"--db={NB_DB}", "--timeout=10", "--if-exists", "ls-del",
                        vm.switch], capture_output=True, check=False)
    # The agent removes ovnmeta-<net> when the network goes; wait briefly, then make sure.
    deadline = time.monotonic() + 10
    left = [f"ovnmeta-{vm.net}" for vm in vms]
    while time.monotonic() < deadline and any(n in deploy.netns_list() for n in left):
        time.sleep(0.2)
    for name in left:
        if name in deploy.netns_list():
            subprocess.run(["ip", "netns", "delete", name], capture_output=True, check=False)


def cleanup_recorded() -> None:
    """Remove what an interrupted verify left (destroy calls this)."""
    path = state_file()
    if path.is_file():
        try:
            vms = [Vm(**item) for item in json.loads(path.read_text())]
        except (ValueError, TypeError):
            vms = []
        remove(vms)
        shutil.rmtree(path.parent, ignore_errors=True)


def fetch(vm: Vm, url: str = METADATA_URL, source: str | None = None,
          timeout: float = 5) -> tuple[int, str]:
    """HTTP status and body of a GET from inside the VM (status 0: no answer)."""
    cmd = ["ip", "netns", "exec", vm.netns, "curl", "-s", "--max-time", str(timeout),
           "-o", "-", "-w", "\n%{http_code}", url]
    if source:
        cmd[5:5] = ["--interface", source]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 5, check=False)
    body, _, code = proc.stdout.rpartition("\n")
    return (int(code) if code.strip().isdigit() else 0), body


def wait_for(vm: Vm, want: Callable[[int, str], bool], timeout: float) -> tuple[int, str]:
    """Fetch until ``want(status, body)`` or the timeout; the last answer."""
    deadline = time.monotonic() + timeout
    answer = (0, "")
    while time.monotonic() < deadline:
        answer = fetch(vm, timeout=3)
        if want(*answer):
            return answer
        time.sleep(0.3)
    return answer


def chassis_name() -> str:
    """This host's OVN chassis (the OVS system-id)."""
    return vsctl("get", "open_vswitch", ".", "external_ids:system-id").strip().strip('"')


def agent_registered(chassis: str) -> bool:
    """Whether the agent's metadata id is on this chassis' Chassis_Private row."""
    proc = subprocess.run(
        ["ovn-sbctl", f"--db={SB_DB}", "--timeout=5", "--bare", "--columns=external_ids",
         "find", "Chassis_Private", f"name={chassis}"],
        capture_output=True, text=True, check=False,
    )
    return "neutron:ovn-metadata-id" in proc.stdout


def chassis_private_row(chassis: str) -> str:
    """The _uuid of this chassis' Chassis_Private row ('' when there is none)."""
    return sbctl("--bare", "--columns=_uuid", "find", "Chassis_Private", f"name={chassis}").strip()


def _until(probe: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return True
        time.sleep(0.1)
    return False


@contextmanager
def test_vms(count: int = 2) -> Iterator[list[Vm]]:
    """Networks and plugged VMs for the checks; removed again on exit."""
    cleanup_recorded()
    vms = [Vm(index) for index in range(1, count + 1)]
    _save(vms)
    try:
        for vm in vms:
            add_network(vm)
            plug(vm)
        yield vms
    finally:
        remove(vms)
        shutil.rmtree(state_file().parent, ignore_errors=True)


class Runner:
    """Runs the checks in order and keeps the table."""

    def __init__(self) -> None:
        self.checks: list[Check] = []

    def check(self, name: str, body: Callable[[], tuple[bool, str]]) -> bool:
        started = time.monotonic()
        with step(name) as current:
            try:
                passed, detail = body()
            except ToolError as exc:
                passed, detail = False, str(exc)
            current.detail = "PASS" if passed else "FAIL"
        self.checks.append(Check(name, passed, time.monotonic() - started, detail))
        return passed


def _fixture(record: dict) -> Path | None:
    fixture = record.get("fixture")
    return Path(fixture) if fixture else None


def run_checks(timeout: float = 90) -> list[Check]:
    """Every check, positive, negative and lifecycle; never raises for a failed check."""
    deploy._require_root()
    record = deploy.read_record()
    if not record:
        raise ToolError("nothing is deployed (run tripleo-ovn-metadata deploy first)")
    fixture = _fixture(record)
    runner = Runner()
    chassis = chassis_name()
    if not runner.check(
        "agent registered on this chassis (Chassis_Private)",
        lambda: (_until(lambda: agent_registered(chassis), timeout), f"chassis {chassis}"),
    ):
        return runner.checks  # nothing else can pass; the table says why

    def healthcheck() -> tuple[bool, str]:
        # NOTE: without systemd podman cannot schedule the healthcheck timer; run it once.
        proc = procs.run(["podman", "healthcheck", "run", deploy.AGENT], check=False, timeout=60)
        return proc.returncode == 0, f"podman healthcheck run: exit {proc.returncode}"

    runner.check("agent container healthcheck", healthcheck)
    with test_vms(2) as (vm1, vm2):

        def own_id(vm: Vm) -> tuple[bool, str]:
            global last_instance_id
            status, body = wait_for(vm, lambda s, b: s == 200, timeout)
            if vm is vm1 and status == 200:
                last_instance_id = body
            return status == 200 and body == vm.instance, f"HTTP {status}, {body[:40]!r}"

        runner.check(VM1_CHECK, lambda: own_id(vm1))
        runner.check(
            "VM 2 (second network, same subnet) gets its own id, not VM 1's",
            lambda: own_id(vm2),
        )

        def spoofed() -> tuple[bool, str]:
            spoof = f"{CIDR_PREFIX}.11"
            _run(["ip", "-n", vm1.netns, "addr", "add", f"{spoof}/24", "dev", vm1.ifname])
            try:
                status, body = fetch(vm1, source=spoof, timeout=3)
            finally:
                _run(["ip", "-n", vm1.netns, "addr", "del", f"{spoof}/24", "dev", vm1.ifname])
            return status == 0 or (status != 200 and vm1.instance not in body), (
                f"source {spoof}: HTTP {status or 'none'}")

        runner.check("spoofed source address gets nothing", spoofed)

        if fixture is not None:

            def wrong_secret() -> tuple[bool, str]:
                procs.run(deploy.fixture_command(fixture, "nova-secret", "--wrong"))
                try:
                    status, _body = fetch(vm1)
                finally:
                    procs.run(deploy.fixture_command(fixture, "nova-secret"))
                return status == 403, f"HTTP {status}"

            runner.check("wrong shared secret gives 403", wrong_secret)

        def restart_agent() -> tuple[bool, str]:
            procs.run(["podman", "restart", "-t", "10", deploy.AGENT], timeout=120)
            status, body = wait_for(vm1, lambda s, b: s == 200, timeout)
            return status == 200 and body == vm1.instance, f"HTTP {status} after restart"

        runner.check("agent container restart restores service", restart_agent)

        if fixture is not None:

            def restart_controller() -> tuple[bool, str]:
                row = chassis_private_row(chassis)
                procs.run(deploy.fixture_command(fixture, "restart-controller"), timeout=60)
                registered = _until(lambda: agent_registered(chassis), timeout)
                new_row = chassis_private_row(chassis)
                status, body = wait_for(vm1, lambda s, b: s == 200, timeout)
                # A clean exit deletes the chassis rows: the metadata id is on a new row.
                return registered and new_row != row and body == vm1.instance, (
                    f"new Chassis_Private row: {new_row != row}, re-registered: {registered}, "
                    f"HTTP {status}")

            runner.check("ovn-controller restart: agent re-registers", restart_controller)
    return runner.checks


def latencies(count: int, timeout: float = 90) -> list[float]:
    """Seconds per metadata request from one test VM, ``count`` sequential requests."""
    deploy._require_root()
    with test_vms(1) as (vm,):
        status, body = wait_for(vm, lambda s, b: s == 200, timeout)
        if status != 200 or body != vm.instance:
            raise CheckFailed(f"metadata not served to the test VM (HTTP {status})")
        script = (
            "import sys,time,urllib.request\n"
            "out=[]\n"
            f"for _ in range({count}):\n"
            "    t=time.perf_counter()\n"
            f"    urllib.request.urlopen('{METADATA_URL}', timeout=10).read()\n"
            "    out.append(time.perf_counter()-t)\n"
            "print(' '.join(f'{x:.6f}' for x in out))\n"
        )
        out = _run(["ip", "netns", "exec", vm.netns, "python3", "-c", script], timeout=600)
    return [float(x) for x in out.split()]


def percentile(values: list[float], pct: float) -> float:
    """The pct-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))]


__all__ = ["Check", "latencies", "percentile", "run_checks", "statistics"]
