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

import functools
import json
import math
import statistics
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from tripleo_ovn_metadata import cloud_init_vm, deploy, paths, procs
from tripleo_ovn_metadata.errors import CheckFailed, ToolError
from tripleo_ovn_metadata.progress import step

NB_DB = "tcp:127.0.0.1:6641"
SB_DB = "tcp:127.0.0.1:6642"
METADATA_URL = "http://169.254.169.254/latest/meta-data/instance-id"
CIDR_PREFIX = "10.0.0"
BRIDGE = "br-int"
#: Target name -> the instance id its first VM got when that check passed (for the CLI).
instance_ids: dict[str, str] = {}
VM1_CHECK = "VM 1 gets its instance-id through the agent"
#: Each network's haproxy sidecar is this prefix + its namespace's network id.
SIDECAR_PREFIX = "neutron-haproxy-ovnmeta-"
SIDECAR_LABEL = "tripleo_ovn_metadata_sidecar=haproxy"
#: Where the agent's image looks for haproxy first; the template mounts the wrapper there.
WRAPPER_MOUNT = "/usr/local/bin/haproxy"
SIDECARS_OFF = "sidecars off (OVNEnableHaproxyDockerWrapper: false)"
#: The prober a VM runs: a request every ``interval`` s, each in its own thread with its
#: own timeout, until the stop file exists; prints [[start s, HTTP status or 0, seconds]].
_PROBER = """
import json, os, sys, threading, time, urllib.error, urllib.request
stop, url, interval, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
results, threads, begin = [], [], time.monotonic()
def one(started):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            code = answer.status
    except urllib.error.HTTPError as error:
        code = error.code
    except Exception:
        code = 0
    results.append([round(started - begin, 3), code, round(time.monotonic() - started, 3)])
tick = begin
while not os.path.exists(stop) and time.monotonic() - begin < 600:
    thread = threading.Thread(target=one, args=(time.monotonic(),))
    thread.start()
    threads.append(thread)
    tick += interval
    time.sleep(max(0.0, tick - time.monotonic()))
for thread in threads:
    thread.join()
print(json.dumps(sorted(results)))
"""


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

    #: True when its network has ML2/OVN-style DHCP (the cloud-init guest's).
    dhcp: bool = False

    ip = f"{CIDR_PREFIX}.10"
    metadata_ip = f"{CIDR_PREFIX}.2"
    router_ip = f"{CIDR_PREFIX}.1"


@dataclass
class Check:
    """One row of the table: PASS, FAIL or SKIP (with the reason in ``detail``)."""

    name: str
    status: str
    seconds: float
    detail: str = ""

    @property
    def passed(self) -> bool:
        """True for PASS (a SKIP is not a pass)."""
        return self.status == "PASS"


class Row(Protocol):
    """A table row: verify's Check or a library check's."""

    name: str
    status: str
    seconds: float
    detail: str


def table_lines(checks: Sequence[Row]) -> list[str]:
    """The PASS/FAIL/SKIP table, then the summary line."""
    width = max(len(check.name) for check in checks)
    lines = [f"{'RESULT':6}  {'CHECK':{width}}  {'TIME':>7}  DETAIL"]
    lines += [f"{check.status:6}  {check.name:{width}}  {check.seconds:6.2f}s  {check.detail}"
              for check in checks]
    counts = {status: sum(c.status == status for c in checks)
              for status in ("PASS", "FAIL", "SKIP")}
    lines.append(f"{counts['PASS']} passed, {counts['FAIL']} failed, {counts['SKIP']} skipped")
    return lines


@dataclass(frozen=True)
class Target:
    """Where a deployed agent runs: this host (standalone) or a rehearsal node.

    Commands that act on the chassis (OVS, namespaces, curl, podman) run through
    ``prefix`` (for a node, an exec into its container); the OVN DBs are reached over
    TCP from here. ``wrong_secret``/``restart_controller`` name what the rest of the cloud can do
    for the fault checks, ``instances`` boots the cloud-init guest as Nova would; without
    them those rows SKIP with the reason.
    ``controller_log`` and ``vswitchd_ctl`` (an ``ovs-appctl -t`` target) are where the
    diagnostics find ovn-controller's log and ovs-vswitchd on the target.
    """

    name: str = "this host"
    prefix: tuple[str, ...] = ()
    nb_db: str = NB_DB
    sb_db: str = SB_DB
    controller_log: str = "/var/log/containers/openvswitch/ovn-controller.log"
    vswitchd_ctl: str = "ovs-vswitchd"
    wrong_secret: Callable[[bool], None] | None = None
    restart_controller: Callable[[], None] | None = None
    instances: cloud_init_vm.Instances | None = None

    def cmd(self, *args: str) -> list[str]:
        """``args`` as run on the target."""
        return [*self.prefix, *args]

    def run(self, *args: str, timeout: float = 30) -> str:
        """Run on the target; stdout, or ToolError."""
        return procs.run(self.cmd(*args), timeout=timeout).stdout

    def nb_cmd(self, *args: str) -> list[str]:
        """ovn-nbctl ``args`` against the target's northbound DB (run from here)."""
        return ["ovn-nbctl", f"--db={self.nb_db}", "--timeout=20", *args]

    def sb_cmd(self, *args: str) -> list[str]:
        """ovn-sbctl ``args`` against the target's southbound DB (run from here)."""
        return ["ovn-sbctl", f"--db={self.sb_db}", "--timeout=10", *args]

    def vs_cmd(self, *args: str) -> list[str]:
        """ovs-vsctl ``args`` as run on the target."""
        return self.cmd("ovs-vsctl", "--timeout=10", *args)

    def nbctl(self, *args: str) -> str:
        """ovn-nbctl against the target's northbound DB."""
        return _run(self.nb_cmd(*args))

    def sbctl(self, *args: str) -> str:
        """ovn-sbctl against the target's southbound DB."""
        return _run(self.sb_cmd(*args))

    def vsctl(self, *args: str) -> str:
        """ovs-vsctl on the target."""
        return _run(self.vs_cmd(*args))

    def netns_list(self) -> list[str]:
        """Network namespaces on the target."""
        proc = procs.run(self.cmd("ip", "netns", "list"), check=False)
        return [line.split()[0] for line in proc.stdout.splitlines() if line.strip()]


HOST = Target()


def state_file(target: Target) -> Path:
    """What verify added on ``target`` and has not removed yet."""
    name = target.name.replace(" ", "-")
    return paths.state_dir() / "verify" / f"{name}.json"


def _run(cmd: list[str], timeout: float = 30) -> str:
    return procs.run(cmd, timeout=timeout).stdout


def _save(vms: list[Vm], target: Target) -> None:
    path = state_file(target)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    record = {"vms": [vm.__dict__ for vm in vms]}
    path.write_text(json.dumps(record, indent=1) + "\n")


def add_network(vm: Vm, target: Target = HOST) -> None:
    """The NB rows ML2/OVN would write for a network with one VM port."""
    name = f'external_ids:"neutron:network_name"="{vm.switch}"'
    target.nbctl(
        "ls-add", vm.switch, "--", "set", "Logical_Switch", vm.switch,
        f'external_ids:"neutron:network_name"="tom-verify-{vm.index}"',
        'external_ids:"neutron:mtu"="1442"',
    )
    target.nbctl(
        "lsp-add", vm.switch, vm.mdport, "--", "lsp-set-type", vm.mdport, "localport",
        "--", "lsp-set-addresses", vm.mdport, f"fa:16:3e:00:{vm.index:02x}:02 {vm.metadata_ip}",
        "--", "set", "Logical_Switch_Port", vm.mdport,
        f'external_ids:"neutron:cidrs"="{vm.metadata_ip}/24"',
        f'external_ids:"neutron:device_id"="ovnmeta-{vm.net}"',
        'external_ids:"neutron:device_owner"="network:distributed"',
        f'external_ids:"neutron:project_id"="{vm.project}"', name,
    )
    target.nbctl(
        "lsp-add", vm.switch, vm.vmport, "--", "lsp-set-addresses", vm.vmport,
        f"{vm.mac} {vm.ip}", "--", "lsp-set-port-security", vm.vmport, f"{vm.mac} {vm.ip}",
        "--", "set", "Logical_Switch_Port", vm.vmport,
        f'external_ids:"neutron:cidrs"="{vm.ip}/24"',
        f'external_ids:"neutron:device_id"="{vm.instance}"',
        'external_ids:"neutron:device_owner"="compute:nova"',
        f'external_ids:"neutron:project_id"="{vm.project}"', name,
    )
    target.nbctl("--wait=sb", "sync")


def add_dhcp(vm: Vm, target: Target = HOST) -> None:
    """The DHCP_Options ML2/OVN writes for the VM's subnet, set on its port."""
    vm.dhcp = True
    row = target.nbctl("create", "DHCP_Options", f"cidr={CIDR_PREFIX}.0/24",
                       f'external_ids:"tom_verify_net"="{vm.net}"').strip()
    target.nbctl("dhcp-options-set-options", row, *cloud_init_vm.dhcp_options(
        f"{CIDR_PREFIX}.0/24", vm.router_ip, vm.metadata_ip, f"fa:16:3e:00:{vm.index:02x}:01",
        1442))
    target.nbctl("lsp-set-dhcpv4-options", vm.vmport, row)
    target.nbctl("--wait=sb", "sync")


def remove_dhcp(vm: Vm, target: Target = HOST) -> None:
    """Delete the VM subnet's DHCP_Options (a root table: deleting the switch leaves it)."""
    found = subprocess.run(
        ["ovn-nbctl", f"--db={target.nb_db}", "--timeout=10", "--bare", "--columns=_uuid",
         "find", "DHCP_Options", f'external_ids:"tom_verify_net"="{vm.net}"'],
        capture_output=True, text=True, check=False)
    for row in found.stdout.split():
        subprocess.run(["ovn-nbctl", f"--db={target.nb_db}", "--timeout=10",
                        "dhcp-options-del", row], capture_output=True, check=False)


def plug(vm: Vm, target: Target = HOST) -> None:
    """Bind the VM port on the chassis: an internal port moved into the VM's netns."""
    ip = functools.partial(target.run, "ip")
    ip("netns", "add", vm.netns)
    ip("-n", vm.netns, "link", "set", "lo", "up")
    target.vsctl(
        "add-port", BRIDGE, vm.ifname, "--", "set", "Interface", vm.ifname, "type=internal",
        f"external_ids:iface-id={vm.vmport}", f"external_ids:attached-mac={vm.mac}",
        "external_ids:iface-status=active",
    )
    # NOTE: on the userspace datapath ovs-vswitchd makes the internal port's tap device
    # after add-port returns; under load (or right after a port of that name went away
    # with its netns) it can take seconds.
    if not _until(lambda: _link_exists(vm.ifname, target), 15):
        raise ToolError(f"{target.name}: OVS made no {vm.ifname} device within 15 s")
    ip("link", "set", vm.ifname, "netns", vm.netns)
    ip("-n", vm.netns, "link", "set", vm.ifname, "address", vm.mac)
    ip("-n", vm.netns, "addr", "add", f"{vm.ip}/24", "dev", vm.ifname)
    ip("-n", vm.netns, "link", "set", vm.ifname, "up")
    ip("-n", vm.netns, "route", "add", "169.254.169.254/32", "via", vm.metadata_ip)


def _link_exists(name: str, target: Target = HOST) -> bool:
    """True when the target's root netns has a network device ``name``."""
    return procs.run(target.cmd("ip", "link", "show", "dev", name), check=False).returncode == 0


def remove(vms: list[Vm], target: Target = HOST) -> None:
    """Unplug and delete the VMs and their networks (missing parts are fine)."""
    for vm in vms:
        subprocess.run(target.cmd("ovs-vsctl", "--timeout=10", "--if-exists", "del-port",
                                  BRIDGE, vm.ifname), capture_output=True, check=False)
        subprocess.run(target.cmd("ip", "netns", "delete", vm.netns), capture_output=True,
                       check=False)
        subprocess.run(["ovn-nbctl", f"--db={target.nb_db}", "--timeout=10", "--if-exists",
                        "ls-del", vm.switch], capture_output=True, check=False)
        if vm.dhcp:
            remove_dhcp(vm, target)
    # The agent removes ovnmeta-<net> when the network goes; wait briefly, then make sure.
    deadline = time.monotonic() + 10
    left = [f"ovnmeta-{vm.net}" for vm in vms]
    while time.monotonic() < deadline and any(n in target.netns_list() for n in left):
        time.sleep(0.2)
    for name in left:
        if name in target.netns_list():
            subprocess.run(target.cmd("ip", "netns", "delete", name), capture_output=True,
                           check=False)


def cleanup_recorded(target: Target) -> None:
    """Remove what an interrupted verify left on ``target``, and only there: another
    target's record may belong to a verify running there now."""
    path = state_file(target)
    if path.is_file():
        try:
            vms = [Vm(**item) for item in json.loads(path.read_text())["vms"]]
        except (ValueError, TypeError, KeyError):
            vms = []
        if target.instances is not None:
            for guest in (vm for vm in vms if vm.dhcp):  # an interrupted cloud-init row
                target.instances.delete(guest.instance)
        remove(vms, target)
        path.unlink(missing_ok=True)


def fetch(vm: Vm, url: str = METADATA_URL, source: str | None = None,
          timeout: float = 5, target: Target = HOST,
          connect_timeout: float | None = None) -> tuple[int, str]:
    """HTTP status and body of a GET from inside the VM (status 0: no answer).

    ``connect_timeout`` gives up sooner on a connection nothing accepts (no haproxy in
    the network's namespace yet drops the SYN) while an answer may still take ``timeout``.
    """
    cmd = _curl(vm, url, timeout, source, connect_timeout)
    proc = subprocess.run(target.cmd(*cmd), capture_output=True, text=True,
                          timeout=timeout + 5, check=False)
    return _answer(proc.stdout)


def _curl(vm: Vm, url: str, timeout: float, source: str | None = None,
          connect_timeout: float | None = None) -> list[str]:
    """curl in the VM's namespace printing the body, a newline and the HTTP status."""
    cmd = ["ip", "netns", "exec", vm.netns, "curl", "-s", "--max-time", str(timeout),
           "-o", "-", "-w", "\n%{http_code}", url]
    if connect_timeout is not None:
        cmd[5:5] = ["--connect-timeout", str(connect_timeout)]
    if source:
        cmd[5:5] = ["--interface", source]
    return cmd


def _answer(output: str) -> tuple[int, str]:
    """HTTP status and body from :func:`_curl`'s output (status 0: no answer)."""
    body, _, code = output.rpartition("\n")
    return (int(code) if code.strip().isdigit() else 0), body


#: How long one of wait_for's tries waits for a connection: until the agent has put a
#: haproxy in the VM's network, SYNs are dropped and a 3 s try wasted up to 3 s of it.
WAIT_CONNECT_S = 1


#: Seconds between two tries of a wait for HTTP 200.
WAIT_INTERVAL_S = 0.3

#: The wait for HTTP 200 as it runs on the target, in one command: on a node each command
#: is an exec into the node container (nodes.exec_prefix), which a try every 0.3 s would
#: pay again and again; a try inside is fetch's curl. Prints the last try's output.
#: Arguments: milliseconds to try for, seconds between tries, then the curl command.
_UNTIL_200 = """
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
end=$(( $(now_ms) + $1 )) interval=$2
shift 2
while :; do
    out=$("$@")
    code=$(printf '%s\n' "$out" | tail -n 1)
    if [ "$code" = 200 ] || [ "$(now_ms)" -ge "$end" ]; then
        printf '%s' "$out"
        exit 0
    fi
    sleep "$interval"
done
"""


def _until_200(vm: Vm, timeout: float, target: Target) -> tuple[int, str]:
    """Try ``vm``'s metadata until an HTTP 200 or ``timeout`` in one command on the
    target; the last answer."""
    curl = _curl(vm, METADATA_URL, 3, connect_timeout=WAIT_CONNECT_S)
    cmd = target.cmd("sh", "-c", _UNTIL_200, "until-200", str(math.ceil(timeout * 1000)),
                     str(WAIT_INTERVAL_S), *curl)  # fmt: skip
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 15,
                              check=False)  # fmt: skip
    except subprocess.TimeoutExpired:
        return 0, ""
    return _answer(proc.stdout)


def wait_for(vm: Vm, want: Callable[[int, str], bool], timeout: float,
             target: Target = HOST) -> tuple[int, str]:
    """Fetch until ``want(status, body)`` or the timeout; the last answer.

    The tries until an HTTP 200 run on the target itself (:func:`_until_200`); ``want``
    is asked of each answer that comes back."""
    deadline = time.monotonic() + timeout
    answer = (0, "")
    while (left := deadline - time.monotonic()) > 0:
        answer = _until_200(vm, left, target)
        if want(*answer):
            return answer
        time.sleep(WAIT_INTERVAL_S)
    return answer


@dataclass
class Outage:
    """What a VM saw while requesting metadata at a fixed interval."""

    requests: int
    failed: int
    seconds: float  # first failed request's start to the last one's end; 0 when none
    statuses: dict[int, int] = field(default_factory=dict)  # failed: HTTP status -> count
    slowest: float = 0.0  # the longest a request took (held while the agent was away)

    def __str__(self) -> str:
        why = ", ".join(f"{'no answer' if code == 0 else f'HTTP {code}'} x{count}"
                        for code, count in sorted(self.statuses.items()))
        return (f"{self.failed} of {self.requests} requests failed"
                f"{f' ({why})' if why else ''}, outage {self.seconds:.1f} s, "
                f"slowest {self.slowest:.1f} s")


def outage_of(results: Sequence[Sequence[float]]) -> Outage:
    """The Outage of the prober's [[start, HTTP status or 0, seconds], ...]."""
    failed = [(start, int(code), took) for start, code, took in results if int(code) != 200]
    span = (max(s + d for s, _c, d in failed) - min(s for s, _c, _d in failed)) if failed else 0.0
    statuses: dict[int, int] = {}
    for _start, code, _took in failed:
        statuses[code] = statuses.get(code, 0) + 1
    slowest = max((float(took) for _s, _c, took in results), default=0.0)
    return Outage(len(results), len(failed), span, statuses, slowest)


def probe_during(vm: Vm, action: Callable[[], None], settle: Callable[[], None],
                 target: Target = HOST, interval: float = 0.1,
                 timeout: float = 10) -> Outage:
    """Requests from ``vm`` every ``interval`` s (each failing after ``timeout`` s) from
    1 s before ``action`` until ``settle`` returns."""
    stop = f"/tmp/tom-verify-probe-{uuid.uuid4().hex}.stop"
    cmd = target.cmd("ip", "netns", "exec", vm.netns, "python3", "-c", _PROBER, stop,
                     METADATA_URL, str(interval), str(timeout))
    prober = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)
        action()
        settle()
    finally:
        procs.run(target.cmd("touch", stop), check=False)
        try:
            out, err = prober.communicate(timeout=timeout + 30)
        except subprocess.TimeoutExpired:
            prober.kill()
            out, err = prober.communicate()
        procs.run(target.cmd("rm", "-f", stop), check=False)
    try:
        return outage_of(json.loads(out))
    except ValueError:
        raise ToolError(f"the request prober in {vm.netns} failed: {err.strip()[-200:]}") from None


def sidecar_name(vm: Vm) -> str:
    """The haproxy sidecar container of the VM's network."""
    return SIDECAR_PREFIX + vm.net


def sidecar_id(vm: Vm, target: Target = HOST) -> str:
    """The id of the VM network's running, labelled sidecar ('' when there is none)."""
    proc = procs.run(target.cmd(
        "podman", "ps", "--quiet", "--no-trunc", "--filter", f"label={SIDECAR_LABEL}",
        "--filter", f"name=^{sidecar_name(vm)}$"), check=False)
    ids = proc.stdout.split()
    return ids[0] if len(ids) == 1 else ""


def sidecars_enabled(target: Target = HOST) -> bool:
    """Whether the agent container has the haproxy wrapper mounted."""
    proc = procs.run(target.cmd(
        "podman", "container", "inspect", "--format",
        "{{range .Mounts}}{{.Destination}} {{end}}", deploy.AGENT), check=False)
    return WRAPPER_MOUNT in proc.stdout.split()


def haproxy_masters(vm: Vm, target: Target = HOST) -> int:
    """haproxy processes serving the VM's network, workers not counted."""
    rows = [line.split(None, 2) for line in target.run("ps", "-eww", "-o", "pid=,ppid=,args=")
            .splitlines() if line.strip()]
    haproxy = {pid for pid, _ppid, args in rows if "haproxy" in args.split()[0]}
    return sum(1 for pid, ppid, args in rows
               if pid in haproxy and ppid not in haproxy and vm.net in args)


def chassis_name(target: Target = HOST) -> str:
    """The target's OVN chassis (the OVS system-id)."""
    return target.vsctl("get", "open_vswitch", ".", "external_ids:system-id").strip().strip('"')


def agent_registered(chassis: str, target: Target = HOST) -> bool:
    """Whether the agent's metadata id is on this chassis' Chassis_Private row."""
    proc = subprocess.run(
        ["ovn-sbctl", f"--db={target.sb_db}", "--timeout=5", "--bare", "--columns=external_ids",
         "find", "Chassis_Private", f"name={chassis}"],
        capture_output=True, text=True, check=False,
    )
    return "neutron:ovn-metadata-id" in proc.stdout


def chassis_private_row(chassis: str, target: Target = HOST) -> str:
    """The _uuid of this chassis' Chassis_Private row ('' when there is none)."""
    return target.sbctl("--bare", "--columns=_uuid", "find", "Chassis_Private",
                        f"name={chassis}").strip()


def _until(probe: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return True
        time.sleep(0.1)
    return False


@contextmanager
def test_vms(count: int = 2, target: Target = HOST) -> Iterator[list[Vm]]:
    """Networks and plugged VMs for the checks; removed again on exit."""
    cleanup_recorded(target)
    vms = [Vm(index) for index in range(1, count + 1)]
    _save(vms, target)
    try:
        for vm in vms:
            add_network(vm, target)
            plug(vm, target)
        yield vms
    finally:
        remove(vms, target)
        state_file(target).unlink(missing_ok=True)


class Runner:
    """Runs the checks in order and keeps the table."""

    def __init__(self, target: Target = HOST) -> None:
        self.checks: list[Check] = []
        self.target = target

    def _label(self, name: str) -> str:
        return name if not self.target.prefix else f"{self.target.name}: {name}"

    def check(self, name: str, body: Callable[[], tuple[bool, str]]) -> bool:
        """Run ``body``; a ToolError is a FAIL with its line."""
        started = time.monotonic()
        with step(self._label(name)) as current:
            try:
                passed, detail = body()
            except ToolError as exc:
                passed, detail = False, str(exc)
            current.detail = "PASS" if passed else "FAIL"
        self.checks.append(Check(self._label(name), "PASS" if passed else "FAIL",
                                 time.monotonic() - started, detail))
        return passed

    def skip(self, name: str, reason: str) -> None:
        """A row that could not run here, and why."""
        self.checks.append(Check(self._label(name), "SKIP", 0.0, reason))


def _fixture(record: dict) -> Path | None:
    fixture = record.get("fixture")
    return Path(fixture) if fixture else None


def host_target() -> Target:
    """The standalone deploy on this host, with its rest-of-cloud fixture's faults."""
    deploy._require_root()
    record = deploy.read_record()
    if not record:
        raise ToolError("nothing is deployed (run tripleo-ovn-metadata deploy first)")
    fixture = _fixture(record)
    if fixture is None:
        return HOST
    state = deploy.fixture_state()

    def wrong_secret(wrong: bool) -> None:
        procs.run(deploy.fixture_command(fixture, "nova-secret", *(["--wrong"] if wrong else [])))

    def restart_controller() -> None:
        procs.run(deploy.fixture_command(fixture, "restart-controller"), timeout=60)

    return Target(wrong_secret=wrong_secret, restart_controller=restart_controller,
                  instances=fixture_instances(fixture),
                  controller_log=str(state / "log" / "ovn-controller.log"),
                  vswitchd_ctl=str(state / "run" / "ovs-vswitchd.ctl"))


def guest_cache() -> Path:
    """Where the fixture keeps the cloud-init guest's disk and kernel between deploys."""
    return paths.state_dir() / "guest"


def fixture_instances(fixture: Path) -> cloud_init_vm.Instances:
    """Nova's part, played by the rest-of-cloud fixture (fixtures/cloud/instance.py)."""
    cache = ("--cache-dir", str(guest_cache()))

    def run(action: str, *extra: str, timeout: float = 60) -> dict:
        out = procs.run(deploy.fixture_command(fixture, action, *extra), timeout=timeout)
        return json.loads(out.stdout)

    def boot(uuid: str, hostname: str, key: Path, mac: str, iface_id: str) -> dict:
        return run("boot", *cache, "--uuid", uuid, "--instance-hostname", hostname,
                   "--public-key-file", str(key), "--mac", mac, "--iface-id", iface_id,
                   timeout=1500)

    def delete(uuid: str) -> None:
        run("delete", "--uuid", uuid)

    return cloud_init_vm.Instances(
        guest_image=lambda: run("guest-image", *cache, timeout=1500), boot=boot, delete=delete)


NO_FIXTURE = "the rest of the cloud cannot do this here (no fixture)"
CLOUD_INIT_CHECK = "cloud-init VM (qemu) gets instance-id, hostname, SSH key"
CLOUD_INIT_NOT_ASKED = "not asked (--cloud-init-vm boots a qemu guest)"
SPOOF_CHECK = "spoofed source address gets nothing (control: own address gets 200)"


#: Called with the target and its rows when one FAILed, before the test VMs go.
OnFail = Callable[[Target, list[Check]], None]


def run_checks(timeout: float = 90, target: Target | None = None,
               on_fail: OnFail | None = None, cloud_init: bool = False) -> list[Check]:
    """Every check, positive, negative and lifecycle; never raises for a failed check.

    ``on_fail`` (the diagnostics) runs while the test networks and VMs still exist;
    ``cloud_init`` adds the qemu guest (a minute or more) instead of a SKIP row.
    """
    target = target or host_target()
    runner = Runner(target)

    def failed() -> list[Check]:
        if on_fail and any(check.status == "FAIL" for check in runner.checks):
            on_fail(target, runner.checks)
        return runner.checks

    chassis = chassis_name(target)
    if not runner.check(
        "agent registered on this chassis (Chassis_Private)",
        lambda: (_until(lambda: agent_registered(chassis, target), timeout),
                 f"chassis {chassis}"),
    ):
        return failed()  # nothing else can pass; the table says why

    def healthcheck() -> tuple[bool, str]:
        proc = procs.run(target.cmd("podman", "healthcheck", "run", deploy.AGENT),
                         check=False, timeout=60)
        return proc.returncode == 0, f"podman healthcheck run: exit {proc.returncode}"

    runner.check("agent container healthcheck", healthcheck)
    with test_vms(3, target) as (vm1, vm2, vm3):

        def own_id(vm: Vm) -> tuple[bool, str]:
            status, body = wait_for(vm, lambda s, b: s == 200, timeout, target)
            passed = status == 200 and body == vm.instance
            if vm is vm1 and passed:
                instance_ids[target.name] = body
            return passed, f"HTTP {status}, {body[:40]!r}"

        runner.check(VM1_CHECK, lambda: own_id(vm1))
        runner.check(
            "VM 2 (second network, same subnet) gets its own id, not VM 1's",
            lambda: own_id(vm2),
        )

        def spoofed() -> tuple[bool, str]:
            # The control, in the same window: the VM's own address still gets 200, so
            # "nothing" below is the port security, not a dead datapath.
            spoof = f"{CIDR_PREFIX}.11"
            ip = functools.partial(target.run, "ip", "-n", vm1.netns, "addr")
            ip("add", f"{spoof}/24", "dev", vm1.ifname)
            try:
                control, _ = fetch(vm1, source=vm1.ip, timeout=3, target=target)
                status, body = fetch(vm1, source=spoof, timeout=3, target=target)
            finally:
                ip("del", f"{spoof}/24", "dev", vm1.ifname)
            refused = status == 0 or (status != 200 and vm1.instance not in body)
            return control == 200 and refused, (
                f"own address: HTTP {control or 'none'}; source {spoof}: HTTP {status or 'none'}")

        runner.check(SPOOF_CHECK, spoofed)
        cloud_init_row(runner, [vm1, vm2, vm3], cloud_init)

        if target.wrong_secret is None:
            runner.skip("wrong shared secret gives 403", NO_FIXTURE)
        else:
            set_wrong = target.wrong_secret

            def wrong_secret() -> tuple[bool, str]:
                set_wrong(True)
                try:
                    status, _body = fetch(vm1, target=target)
                finally:
                    set_wrong(False)
                return status == 403, f"HTTP {status}"

            runner.check("wrong shared secret gives 403", wrong_secret)

        def restart_agent() -> tuple[bool, str]:
            target.run("podman", "restart", "-t", "10", deploy.AGENT, timeout=120)
            healthy, (status, body) = wait_settled(vm1, target, timeout)
            return healthy and status == 200 and body == vm1.instance, (
                f"HTTP {status} after restart, healthcheck {'passes' if healthy else 'fails'}")

        runner.check("agent container restart restores service", restart_agent)
        sidecar_rows(runner, vm1, vm3, timeout)

        if target.restart_controller is None:
            runner.skip("ovn-controller restart: agent re-registers", NO_FIXTURE)
        else:
            restart = target.restart_controller

            def restart_controller() -> tuple[bool, str]:
                row = chassis_private_row(chassis, target)
                restart()
                registered = _until(lambda: agent_registered(chassis, target), timeout)
                new_row = chassis_private_row(chassis, target)
                status, body = wait_for(vm1, lambda s, b: s == 200, timeout, target)
                # A clean exit (ovn-appctl exit) deletes the chassis rows and the agent must
                # register on the new one; podman stop (SIGTERM) keeps them.
                return registered and body == vm1.instance, (
                    f"new Chassis_Private row: {new_row != row}, re-registered: {registered}, "
                    f"HTTP {status}")

            runner.check("ovn-controller restart: agent re-registers", restart_controller)
        return failed()


def cloud_init_row(runner: Runner, vms: list[Vm], asked: bool) -> None:
    """The cloud-init guest on a network of its own with DHCP, or a SKIP and why."""
    target = runner.target
    if target.instances is None:
        runner.skip(CLOUD_INIT_CHECK, NO_FIXTURE)
        return
    if not asked:
        runner.skip(CLOUD_INIT_CHECK, CLOUD_INIT_NOT_ASKED)
        return
    instances = target.instances
    guest = Vm(len(vms) + 1, dhcp=True)
    _save([*vms, guest], target)
    try:
        with step("cloud-init guest image"):
            instances.guest_image()

        def body() -> tuple[bool, str]:
            add_network(guest, target)
            add_dhcp(guest, target)
            return cloud_init_vm.guest_check(
                instances, instance=guest.instance, mac=guest.mac, iface_id=guest.vmport,
                hostname=f"tom-guest-{guest.instance[:8]}",
                keep=state_file(target).parent / "consoles")

        runner.check(CLOUD_INIT_CHECK, body)
    finally:
        remove([guest], target)
        _save(vms, target)


RESTART_CHECK = "no failed request across an agent restart (one every 100 ms)"
SIDECAR_CHECK = "VM 1's network is served by its haproxy sidecar"
REMOVAL_CHECK = "a deleted network's sidecar is gone within 10 s"


#: How long a sidecar holds a request while the agent is away (the Puppet class
#: tripleo_ovn_metadata::profile::haproxy_sidecar's hold_seconds default).
SIDECAR_HOLD_S = 20


def restart_outage(vm: Vm, target: Target = HOST, timeout: float = 90,
                   settle: float = 5, request_timeout: float = 10) -> Outage:
    """Requests every 100 ms, each given ``request_timeout`` s, across ``podman restart``
    of the agent, until it is healthy again plus ``settle`` s (its resync)."""

    def restart() -> None:
        target.run("podman", "restart", "-t", "10", deploy.AGENT, timeout=120)

    return probe_during(vm, restart, lambda: wait_settled(vm, target, timeout, settle), target,
                        timeout=request_timeout)


def wait_settled(vm: Vm, target: Target, timeout: float, settle: float = 5
                 ) -> tuple[bool, tuple[int, str]]:
    """After an agent (re)start: its healthcheck passing, the VM served, then ``settle`` s
    for the rest of its start (the sync that provisions each network and starts the
    privsep helper). Whether it got healthy, and the VM's last answer.

    An agent stopped before its start is over can take podman's whole stop timeout to
    go (seen: the privsep helper, SIGTERMed while it started, failed the sync and the
    agent waited for SIGKILL), so a check that restarts the agent starts from a settled
    one.
    """
    healthy = _until(lambda: procs.run(target.cmd("podman", "healthcheck", "run", deploy.AGENT),
                                       check=False, timeout=60).returncode == 0, timeout)
    answer = wait_for(vm, lambda s, b: s == 200, timeout, target)
    time.sleep(settle)
    return healthy, answer


def sidecar_rows(runner: Runner, vm1: Vm, vm3: Vm, timeout: float) -> None:
    """The sidecar rows: VM 1's network has one, an agent restart fails no request and
    keeps (adopts) it, and deleting VM 3's network stops its sidecar."""
    target = runner.target
    if not sidecars_enabled(target):
        outage = restart_outage(vm1, target, timeout)
        runner.skip(SIDECAR_CHECK, SIDECARS_OFF)
        runner.skip(RESTART_CHECK, f"{SIDECARS_OFF}: {outage}")
        runner.skip(REMOVAL_CHECK, SIDECARS_OFF)
        return
    before = {"id": ""}

    def served() -> tuple[bool, str]:
        before["id"] = sidecar_id(vm1, target)
        masters = haproxy_masters(vm1, target)
        return bool(before["id"]) and masters == 1, (
            f"{sidecar_name(vm1)}: {before['id'][:12] or 'not running'}, "
            f"{masters} haproxy for the network")

    if not runner.check(SIDECAR_CHECK, served):
        runner.skip(RESTART_CHECK, "no sidecar to keep serving")
    else:
        def no_outage() -> tuple[bool, str]:
            # A held request is answered once the agent is back: the client waits as long
            # as the sidecar holds (on a loaded machine a restart takes about 10 s, the
            # prober's default), and the detail says how long the slowest one took.
            outage = restart_outage(vm1, target, timeout, request_timeout=SIDECAR_HOLD_S + 5)
            after = sidecar_id(vm1, target)
            masters = haproxy_masters(vm1, target)
            kept = after == before["id"]
            return outage.failed == 0 and kept and masters == 1, (
                f"{outage}; sidecar {'kept' if kept else 'replaced'}, "
                f"{masters} haproxy for the network")

        runner.check(RESTART_CHECK, no_outage)

    def removed() -> tuple[bool, str]:
        status, _ = wait_for(vm3, lambda s, b: s == 200, timeout, target)
        started = sidecar_id(vm3, target)
        if not started:
            return False, f"VM 3 got HTTP {status} but its network has no sidecar"
        subprocess.run(target.vs_cmd("--if-exists", "del-port", BRIDGE, vm3.ifname),
                       capture_output=True, check=False)
        target.nbctl("--if-exists", "ls-del", vm3.switch)
        deleted = time.monotonic()
        gone = _until(lambda: procs.run(target.cmd(
            "podman", "container", "exists", started), check=False).returncode != 0, 10)
        return gone, (f"{sidecar_name(vm3)} gone after {time.monotonic() - deleted:.1f} s"
                      if gone else f"{sidecar_name(vm3)} still there after 10 s")

    runner.check(REMOVAL_CHECK, removed)


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
