"""Keep what a failed verify saw: logs, flows and OVN rows of one target, in one directory.

``collect`` runs each command through the same ``Target`` as the checks (on this host, or
in a node container through its prefix) and writes one file per command. Each piece is
independent: a command that fails or times out leaves its error text in its file and the
rest is still collected. The metadata proxy shared secret and other credentials are
redacted from every file.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tripleo_ovn_metadata import deploy, paths, procs, secrets, verify
from tripleo_ovn_metadata.errors import ToolError

#: Seconds each command may take.
TIMEOUT = 30
#: Lines kept from each log.
LOG_LINES = 10000
CONTROLLER = "ovn_controller"
AGENT_LOG = "/var/log/containers/neutron/ovn-metadata-agent.log"
#: Where the agent keeps each network's haproxy config (neutron's ``state_path``).
PROXY_DIR = "/var/lib/neutron/ovn-metadata-proxy"
#: The agent's configuration as Puppet wrote it on the host (credentials redacted).
CONFIG_DIR = "/var/lib/config-data/puppet-generated/neutron/etc/neutron"
#: A setting whose value is a credential (ini or log), whatever the value: the shared
#: secret, passwords, a ``transport_url`` with its password.
SECRET_SETTING = re.compile(r"(\w*(?:secret|password|transport_url)\w*\s*[=:]\s*)\S+", re.I)

# NOTE: the agent starts haproxy with ``log /dev/log`` inside its container, where no
# syslog listens, so haproxy's own log is lost; its processes, netns and configs are kept.
_HAPROXY_PS = (
    "for d in /proc/[0-9]*; do [ \"$(cat $d/comm 2>/dev/null)\" = haproxy ] || continue; "
    "p=${d#/proc/}; echo \"pid $p netns $(ip netns identify $p) "
    "cmd $(tr '\\0' ' ' < $d/cmdline)\"; done"
)


def _cat(pattern: str) -> tuple[str, ...]:
    """A shell command printing each file ``pattern`` matches under a ``==> name <==`` line."""
    return ("sh", "-c", f"for f in {pattern}; do [ -f \"$f\" ] || continue; "
            "echo \"==> $f <==\"; cat \"$f\"; done")


def _pieces(target: verify.Target) -> dict[str, list[str]]:
    """File name -> the command that fills it on ``target`` (OVN DBs over TCP from here)."""
    tail = ("--tail", str(LOG_LINES))
    return {
        "containers.txt": target.cmd("podman", "ps", "-a"),
        "agent-container.log": target.cmd("podman", "logs", *tail, deploy.AGENT),
        "agent.log": target.cmd("tail", "-n", str(LOG_LINES), AGENT_LOG),
        "ovn-controller-container.log": target.cmd("podman", "logs", *tail, CONTROLLER),
        "ovn-controller.log": target.cmd("tail", "-n", str(LOG_LINES), target.controller_log),
        "haproxy-processes.txt": target.cmd("sh", "-c", _HAPROXY_PS),
        "haproxy-config.txt": target.cmd(*_cat(f"{PROXY_DIR}/*")),
        "agent-config.txt": target.cmd(*_cat(f"{CONFIG_DIR}/*")),
        "netns.txt": target.cmd("ip", "netns", "list"),
        "ovs-vsctl-show.txt": target.vs_cmd("show"),
        "flows.txt": target.cmd("ovs-ofctl", "dump-flows", verify.BRIDGE),
        # A port OVS could not open (ofport -1, error set) drops all of a network's
        # traffic: the VM sees no answer at all (HTTP 0), as in issue 13's flake.
        "ovs-interfaces.txt": target.vs_cmd(
            "--columns=name,ofport,error,link_state,admin_state,external_ids",
            "list", "Interface"),
        "bridge-ports.txt": target.cmd("ovs-ofctl", "show", verify.BRIDGE),
        "netns-addresses.txt": target.cmd("ip", "-all", "netns", "exec", "ip", "-br", "addr"),
        # ovs-dpctl reads kernel datapaths only; the netdev one's flows are in ovs-vswitchd.
        "datapath-flows.txt": target.cmd("ovs-appctl", "-t", target.vswitchd_ctl,
                                         "dpctl/dump-flows", "-m"),
        "sb-chassis.txt": target.sb_cmd("list", "Chassis"),
        "sb-chassis-private.txt": target.sb_cmd("list", "Chassis_Private"),
        "sb-port-binding.txt": target.sb_cmd("list", "Port_Binding"),
        "sb-datapath-binding.txt": target.sb_cmd("list", "Datapath_Binding"),
        "nb-show.txt": target.nb_cmd("show"),
    }


def kept_secrets(extra: Sequence[str] = ()) -> list[str]:
    """``extra`` plus the standalone deploy's kept secret, when there is one."""
    found = list(extra)
    with contextlib.suppress(OSError):
        found.append(secrets.secret_file().read_text().strip())
    return [value for value in found if value]


def redact(text: str, secret_values: Sequence[str]) -> str:
    """``text`` without ``secret_values`` nor the value of any credential setting."""
    return SECRET_SETTING.sub(rf"\g<1>{procs.REDACTED}", procs.redact(text, secret_values))


def _output(cmd: Sequence[str], timeout: float) -> tuple[str, str]:
    """(status, text): ``ok`` and stdout, or the error and whatever the command said."""
    try:
        proc = procs.run(cmd, check=False, timeout=timeout, input_text="")
    except ToolError as exc:
        return "error", f"{' '.join(cmd)}\n{exc}\n"
    if proc.returncode == 0:
        return "ok", proc.stdout
    return f"exit {proc.returncode}", (
        f"{' '.join(cmd)}\nexit {proc.returncode}\n--- stdout\n{proc.stdout}"
        f"--- stderr\n{proc.stderr}")


def _write(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def bundles_dir() -> Path:
    """Where verify keeps its diagnostics bundles, one directory each."""
    return paths.state_dir() / "verify" / "diagnostics"


def _new_dir(target: verify.Target) -> Path:
    parent = bundles_dir()
    parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    for part in (parent, parent.parent):
        part.chmod(0o700)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    base = f"{target.name.replace(' ', '-')}-{stamp}"
    for attempt in range(100):
        path = parent / (base if not attempt else f"{base}.{attempt}")
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            continue
        path.chmod(0o700)
        return path
    raise ToolError(f"{parent}: no free name for a bundle {base}")


def collect(target: verify.Target, checks: Sequence[verify.Check],
            secret_values: Sequence[str] = (), timeout: float | None = None) -> Path:
    """Save ``checks`` and the target's logs, flows and OVN rows; the bundle's directory.

    Each command may take ``timeout`` seconds (default ``TIMEOUT``); ``index.txt`` lists
    each file with its command's status and seconds.
    """
    hidden = kept_secrets(secret_values)
    bundle = _new_dir(target)
    _write(bundle / "checks.txt", redact("\n".join(verify.table_lines(checks)) + "\n", hidden))
    index = []
    for name, cmd in _pieces(target).items():
        started = time.monotonic()
        status, text = _output(cmd, timeout or TIMEOUT)
        _write(bundle / name, redact(text, hidden))
        index.append(f"{name}\t{status}\t{time.monotonic() - started:.1f}s\t{' '.join(cmd)}\n")
    _write(bundle / "index.txt", redact("".join(index), hidden))
    return bundle


@dataclass
class Kept:
    """verify's ``on_fail``: a bundle per failing target, collected before its VMs go.

    A bundle that cannot be written is an entry in ``errors``, not a verify crash.
    """

    secret_values: Sequence[str] = ()
    bundles: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __call__(self, target: verify.Target, checks: list[verify.Check]) -> None:
        try:
            self.bundles.append(collect(target, checks, self.secret_values))
        except (OSError, ToolError) as exc:
            self.errors.append(f"{target.name}: {exc}")
