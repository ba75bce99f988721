"""The rehearsal on the nodes: the rest of the cloud, verify on every compute, faults.

The stub Nova (``fixtures/nodes/stub-nova``: the standalone fixture's signature-checking
server, by a link, and its unit) runs on controller-0 as a systemd unit with the stack's generated
shared secret. Each compute is a :class:`verify.Target`: chassis commands are exec'd into
its node (``nodes.exec_prefix``), the OVN DBs are the controllers' raft cluster over TCP.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path

from tripleo_ovn_metadata import nodes, overcloud, paths, procs, verify
from tripleo_ovn_metadata.errors import ToolError

#: The stub Nova for controller-0: its server (the standalone fixture's, by a link) and unit.
STUB_NOVA = Path("fixtures/nodes/stub-nova")
STUB_SERVER = "tom-stub-nova"
NOVA_UNIT = "tom-stub-nova.service"
NB_PORT, SB_PORT = 6641, 6642
WRONG = "not-the-shared-secret"


def _remotes(nodeset: nodes.NodeSet, port: int) -> str:
    return ",".join(f"tcp:{node.ip}:{port}" for node in nodeset.by_role("Controller"))


def _nova_node(nodeset: nodes.NodeSet) -> nodes.Node:
    return nodeset.by_role("Controller")[0]


def _write_nova_secret(node: nodes.Node, value: str) -> None:
    nodes.node_exec(node, "sh", "-c", "umask 077; mkdir -p /etc/tom-stub-nova && "
                    "cat > /etc/tom-stub-nova/secret.tmp && "
                    "mv /etc/tom-stub-nova/secret.tmp /etc/tom-stub-nova/secret",
                    input_text=value + "\n")


def start_nova_stand_in(nodeset: nodes.NodeSet, secret_file: Path) -> None:
    """Install and start the stub Nova on controller-0 with the stack's secret."""
    node = _nova_node(nodeset)
    root = paths.bundle_root()
    source = (root / STUB_NOVA / STUB_SERVER).read_text(encoding="utf-8")
    nodes.node_exec(node, "sh", "-c", "mkdir -p /usr/local/libexec && "
                    "cat > /usr/local/libexec/tom-stub-nova",
                    input_text=source)
    unit = (root / STUB_NOVA / NOVA_UNIT).read_text(encoding="utf-8")
    nodes.node_exec(node, "sh", "-c", f"cat > /etc/systemd/system/{NOVA_UNIT}",
                    input_text=unit)
    nodes.node_exec(node, "sh", "-c", "mkdir -p /etc/tom-stub-nova && "
                    f"echo 'TOM_NOVA_HOST={node.ip}' > /etc/tom-stub-nova/env")
    _write_nova_secret(node, secret_file.read_text(encoding="utf-8").strip())
    nodes.node_exec(node, "systemctl", "daemon-reload")
    nodes.node_exec(node, "systemctl", "enable", "--now", NOVA_UNIT)
    nodes.node_exec(node, "systemctl", "restart", NOVA_UNIT)


def start_nova_stand_in_for(work: overcloud.Workdir) -> None:
    """The stub Nova on the current node set with ``work``'s stack secret."""
    start_nova_stand_in(nodes.require(), work.secret)


def compute_target(nodeset: nodes.NodeSet, node: nodes.Node, secret_file: Path
                   ) -> verify.Target:
    """A compute node as verify's target, with the cloud's faults wired to the nodes."""
    nova = _nova_node(nodeset)

    def wrong_secret(wrong: bool) -> None:
        value = WRONG if wrong else secret_file.read_text(encoding="utf-8").strip()
        _write_nova_secret(nova, value)

    def restart_controller() -> None:
        nodes.node_exec(node, "systemctl", "restart", "tripleo_ovn_controller.service")

    return verify.Target(
        name=node.hostname, prefix=nodes.exec_prefix(node),
        nb_db=_remotes(nodeset, NB_PORT), sb_db=_remotes(nodeset, SB_PORT),
        wrong_secret=wrong_secret, restart_controller=restart_controller,
    )  # fmt: skip


def _stack_secret_file() -> Path:
    secret = overcloud.workdir().secret
    if not secret.exists():
        raise ToolError("nothing is deployed on the rehearsal nodes (no stack secret)")
    return secret


def stack_secret() -> str:
    """The deployed stack's metadata proxy shared secret (for redaction)."""
    return _stack_secret_file().read_text(encoding="utf-8").strip()


def verify_computes(timeout: float = 90, on_fail: verify.OnFail | None = None
                    ) -> list[verify.Check]:
    """Every verify check on every compute node, in turn (``on_fail`` as in run_checks)."""
    nodeset = nodes.require()
    secret = _stack_secret_file()
    checks: list[verify.Check] = []
    for node in nodeset.by_role("Compute"):
        checks += verify.run_checks(timeout, compute_target(nodeset, node, secret), on_fail)
    runner = verify.Runner()
    runner.check("no controller runs the agent (roles_data: Compute only)",
                 lambda: _no_agent_on(nodeset.by_role("Controller")))
    return checks + runner.checks


def _no_agent_on(controllers: list[nodes.Node]) -> tuple[bool, str]:
    running = [node.hostname for node in controllers
               if "ovn_metadata_agent" in nodes.node_exec(
                   node, "podman", "ps", "-a", "--format", "{{.Names}}").split()]
    return not running, (f"ovn_metadata_agent on {', '.join(running)}" if running
                         else f"none of {len(controllers)} controllers has it")


def _elapsed(probe: Callable[[], bool], timeout: float) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if probe():
            return time.monotonic() - started
        time.sleep(0.3)
    return None


def _served_within(vm: verify.Vm, target: verify.Target, timeout: float) -> float | None:
    """Seconds until ``vm`` got its own instance id, or None after ``timeout`` (the tries
    run on the target: verify.wait_for)."""
    started = time.monotonic()
    status, body = verify.wait_for(vm, lambda s, b: s == 200 and b == vm.instance, timeout,
                                   target)  # fmt: skip
    return time.monotonic() - started if status == 200 and body == vm.instance else None


def sb_leader(nodeset: nodes.NodeSet) -> nodes.Node:
    """The controller whose southbound DB server is the raft leader."""
    for node in nodeset.by_role("Controller"):
        proc = procs.run([*nodes.exec_prefix(node), "podman", "exec",
                          "ovn_cluster_south_db_server", "ovn-appctl", "-t",
                          "/var/run/ovn/ovnsb_db.ctl", "cluster/status", "OVN_Southbound"],
                         check=False, timeout=30)
        if "Role: leader" in proc.stdout:
            return node
    raise ToolError("no southbound raft leader among the controllers")


def _unit_order(node: nodes.Node) -> list[str]:
    """The tripleo_ovn_* units in the order systemd started them this boot."""
    out = nodes.node_exec(node, "journalctl", "-b", "-o", "cat", "--no-pager",
                          "-u", "tripleo_ovn_controller.service",
                          "-u", "tripleo_ovn_metadata_agent.service", check=False)
    order = []
    for line in out.splitlines():
        for unit in ("tripleo_ovn_controller", "tripleo_ovn_metadata_agent"):
            if line.startswith(f"Started {unit}.service") and unit not in order:
                order.append(unit)
    return order


class Faults:
    """The three fault checks across the computes, as PASS/FAIL rows."""

    def __init__(self, nodeset: nodes.NodeSet, secret: Path, timeout: float = 90,
                 on_fail: verify.OnFail | None = None) -> None:
        self.nodeset = nodeset
        self.on_fail = on_fail
        self.computes = nodeset.by_role("Compute")
        self.targets = {n.hostname: compute_target(nodeset, n, secret) for n in self.computes}
        self.runner = verify.Runner()
        self.timeout = timeout
        self.figures: dict[str, float] = {}

    def _vm_per_compute(self, stack: contextlib.ExitStack) -> dict[str, verify.Vm]:
        vms = {}
        for node in self.computes:
            (vm,) = stack.enter_context(verify.test_vms(1, self.targets[node.hostname]))
            vms[node.hostname] = vm
        for name, vm in vms.items():
            if _served_within(vm, self.targets[name], self.timeout) is None:
                raise ToolError(f"{name}: no metadata before the fault")
        return vms

    def run(self) -> list[verify.Check]:
        """Leader kill, compute restart, ovn_controller stopped; the rows."""
        self.runner.check("SB raft leader killed: every compute serves metadata in 30 s",
                          self.leader_kill)
        self.runner.check("ovn_controller stopped on one compute: the agent waits, "
                          "the others serve", self.controller_stopped)
        # Last: the other rows run on the nodes as the deploy left them, not on a
        # compute that came back from a restart.
        self.runner.check("compute restarted: ovn_controller starts before the agent, "
                          "metadata back", self.compute_restart)
        return self.runner.checks

    def _failed(self, node: nodes.Node, name: str, detail: str) -> None:
        """Hand the affected compute to ``on_fail`` while the fault's VMs still exist."""
        if self.on_fail is not None:
            row = verify.Check(name, "FAIL", 0.0, detail)
            self.on_fail(self.targets[node.hostname], [*self.runner.checks, row])

    def leader_kill(self) -> tuple[bool, str]:
        with contextlib.ExitStack() as stack:
            vms = self._vm_per_compute(stack)
            leader = sb_leader(self.nodeset)
            nodes.node_exec(leader, "podman", "kill", "ovn_cluster_south_db_server")
            started = time.monotonic()
            late = []
            for name, vm in vms.items():
                left = max(0.0, 30 - (time.monotonic() - started))
                if _served_within(vm, self.targets[name], left) is None:
                    late.append(name)
            recovery = time.monotonic() - started
            self.figures["leader_kill_recovery_s"] = recovery
            new_leader = _elapsed(lambda: _has_leader(self.nodeset), 60)
            for node in self.computes:
                if node.hostname in late:
                    self._failed(node, "SB raft leader killed", "no metadata within 30 s")
        return not late, (f"killed the SB leader on {leader.hostname}; all computes served "
                          f"within {recovery:.1f} s" if not late else
                          f"no metadata within 30 s on {', '.join(late)}") + (
            "" if new_leader is not None else "; no new leader")

    def compute_restart(self) -> tuple[bool, str]:
        node = self.computes[0]
        target = self.targets[node.hostname]
        verify.cleanup_recorded(target)
        after = nodes.node_exec(node, "systemctl", "show", "-p", "After",
                                "tripleo_ovn_metadata_agent.service").strip()
        started = time.monotonic()
        procs.run(["podman", "restart", "-t", "30", node.container], timeout=180)
        nodes.wait_booted(node)
        order = _unit_order(node)
        with verify.test_vms(1, target) as (vm,):
            back = _served_within(vm, target, self.timeout)
        self.figures["compute_restart_to_200_s"] = time.monotonic() - started
        ordered = order[:2] == ["tripleo_ovn_controller", "tripleo_ovn_metadata_agent"]
        declared = "tripleo_ovn_controller.service" in after
        return ordered and declared and back is not None, (
            f"{node.hostname}: journal start order {' -> '.join(order) or 'none'}; "
            f"agent unit After= has ovn_controller: {declared}; "
            f"metadata {'back' if back is not None else 'NOT back'}")

    def controller_stopped(self) -> tuple[bool, str]:
        node = self.computes[-1]
        others = [n for n in self.computes if n is not node]
        target = self.targets[node.hostname]
        with contextlib.ExitStack() as stack:
            vms = self._vm_per_compute(stack)
            restarts = _restart_count(node)
            nodes.node_exec(node, "systemctl", "stop", "tripleo_ovn_controller.service")
            try:
                time.sleep(10)
                agent_up = nodes.node_exec(node, "podman", "inspect", "--format",
                                           "{{.State.Status}}", "ovn_metadata_agent",
                                           check=False).strip() == "running"
                steady = _restart_count(node) == restarts
                served = [n.hostname for n in others
                          if _served_within(vms[n.hostname], self.targets[n.hostname], 30)
                          is not None]
            finally:
                nodes.node_exec(node, "systemctl", "start", "tripleo_ovn_controller.service")
            back = _served_within(vms[node.hostname], target, self.timeout)
            ok = agent_up and steady and len(served) == len(others) and back is not None
            detail = (f"{node.hostname}: agent running {agent_up}, not restarted {steady}; "
                      f"others serving {len(served)}/{len(others)}; metadata back after "
                      f"start: {back is not None}")
            if not ok:
                for failed in [node, *(n for n in others if n.hostname not in served)]:
                    self._failed(failed, "ovn_controller stopped", detail)
        return ok, detail


def _has_leader(nodeset: nodes.NodeSet) -> bool:
    try:
        sb_leader(nodeset)
    except ToolError:
        return False
    return True


def _restart_count(node: nodes.Node) -> str:
    return nodes.node_exec(node, "podman", "inspect", "--format", "{{.RestartCount}}",
                           "ovn_metadata_agent", check=False).strip()


def run_faults(timeout: float = 90, on_fail: verify.OnFail | None = None
               ) -> tuple[list[verify.Check], dict[str, float]]:
    """The fault rows on the current node set, and the figures they measured
    (``on_fail`` gets each compute a failed fault affected, as in run_checks)."""
    nodeset = nodes.require()
    faults = Faults(nodeset, overcloud.workdir().secret, timeout, on_fail)
    return faults.run(), faults.figures
