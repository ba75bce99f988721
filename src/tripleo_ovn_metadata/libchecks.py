"""``verify --libraries``: the agent image's ovsdbapp and python-ovs against real OVN DBs.

Two upstream bugs silently come back if an image ships an old library:

- ovsdbapp < 0.13.0 (and 0.10.0-0.10.1, 0.12.0-0.12.1 on the stable branches) gave a second
  thread the first thread's open transaction as a "nested" one (LP#1793499), so two
  callers' commands were committed together, or lost when added after the commit.
- python-ovs < 2.9.3 (2.10.0 on master) turned the whole column into JSON and back on every
  ``modify`` it processed (``Idl.__apply_diff``), so a port create got slower with every
  port already on the switch.

This module starts a private OVN NB and SB ``ovsdb-server`` (the host's, from
ovn-central), runs ``data/libcheck_probe.py`` with the image's python3 in a container
that sees only their unix sockets, and judges the figures: the transaction check reads
the commits back from the server's own database log, which records each committed
transaction as one record.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tripleo_ovn_metadata.errors import InputError, ToolError
from tripleo_ovn_metadata.procs import run
from tripleo_ovn_metadata.progress import step

PROBE = Path(__file__).with_name("data") / "libcheck_probe.py"
SCHEMAS = {"nb": Path("/usr/share/ovn/ovn-nb.ovsschema"),
           "sb": Path("/usr/share/ovn/ovn-sb.ovsschema")}
DATABASES = {"nb": "OVN_Northbound", "sb": "OVN_Southbound"}
#: Where the container sees the sockets and the probe.
MOUNT = "/run/tom-libcheck"
#: Transactions: threads x transactions per thread x commands per transaction.
THREADS, TXNS, COMMANDS = 16, 8, 5
#: IDL cost: the switch sizes compared and the largest per-update time ratio allowed.
SIZES = (100, 2000)
MAX_RATIO = 1.5
#: The running agent container whose image is checked by default.
AGENT_CONTAINER = "ovn_metadata_agent"
PROBE_TIMEOUT = 900


@dataclass(frozen=True)
class Result:
    """One row of the table."""

    name: str
    passed: bool
    seconds: float
    detail: str

    @property
    def status(self) -> str:
        """PASS or FAIL (these checks always run)."""
        return "PASS" if self.passed else "FAIL"


@dataclass(frozen=True)
class Servers:
    """The private NB and SB servers: their directory, sockets and database files."""

    root: Path

    def socket(self, db: str) -> Path:
        """The unix socket of ``db`` ("nb" or "sb") on the host."""
        return self.root / f"{db}.sock"

    def remote(self, db: str) -> str:
        """The socket as the container sees it."""
        return f"unix:{MOUNT}/{db}.sock"

    def db_file(self, db: str) -> Path:
        """The database file (its transaction log)."""
        return self.root / f"{db}.db"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").is_dir() and "zombie" not in _proc_state(pid)


def _proc_state(pid: int) -> str:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return "zombie"
    return next((line for line in status.splitlines() if line.startswith("State:")), "")


def stop_server(pidfile: Path) -> None:
    """Stop the daemon whose pid ``pidfile`` names (one we started), and wait for it."""
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _pid_alive(pid):
                return
            time.sleep(0.05)


def start_server(root: Path, name: str, schema: Path, remotes: Sequence[str],
                 extra: Sequence[str] = ()) -> Path:
    """A detached ovsdb-server on a new ``root/name.db``; returns its pidfile.

    It is listening on ``remotes`` (e.g. ``punix:…``, ``ptcp:PORT:127.0.0.1``) when this
    returns; its log is ``root/name.log``. Stop it with stop_server(pidfile).
    """
    db, pidfile, log = (root / f"{name}.{suffix}" for suffix in ("db", "pid", "log"))
    run(["ovsdb-tool", "create", str(db), str(schema)])
    # NOTE: a --detach'ed daemon keeps inherited pipes open: give it none.
    proc = subprocess.run(
        ["ovsdb-server", str(db), *(f"--remote={remote}" for remote in remotes),
         f"--pidfile={pidfile}", f"--unixctl={root / name}.ctl", f"--log-file={log}",
         *extra, "--no-chdir", "--detach"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        timeout=60, check=False)
    if proc.returncode != 0:
        lines = log.read_text().strip().splitlines() if log.exists() else []
        raise ToolError(f"ovsdb-server for {db} did not start (exit {proc.returncode}): "
                        f"{lines[-1] if lines else 'no log'}")
    return pidfile


@contextmanager
def servers() -> Iterator[Servers]:
    """A private NB and SB ovsdb-server on unix sockets; stopped by pid and removed after."""
    for schema in SCHEMAS.values():
        if not schema.is_file():
            raise ToolError(f"{schema}: missing (install ovn-central; run tools/setup.sh)")
    root = Path(tempfile.mkdtemp(prefix="tom-libcheck-"))
    started: list[Path] = []
    try:
        # The container runs as the image's user: it may enter the directory (not list
        # it) and connect to the sockets; nothing else is in there but the probe.
        root.chmod(0o711)
        shutil.copy2(PROBE, root / PROBE.name)
        (root / PROBE.name).chmod(0o644)
        found = Servers(root)
        for db, schema in SCHEMAS.items():
            started.append(start_server(root, db, schema, [f"punix:{found.socket(db)}"]))
            found.socket(db).chmod(0o666)
        yield found
    finally:
        for pidfile in started:
            stop_server(pidfile)
        shutil.rmtree(root, ignore_errors=True)


def read_log(path: Path) -> list[dict[str, Any]]:
    """The records of a standalone OVSDB file: the schema first, then one per commit.

    Each record is ``OVSDB JSON <length> <sha1>`` on a line, then ``length`` bytes of JSON.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read the database log: {exc.strerror}") from None
    records: list[dict[str, Any]] = []
    pos = 0
    while pos < len(raw):
        end = raw.find(b"\n", pos)
        header = raw[pos:end if end >= 0 else len(raw)].decode(errors="replace").split()
        if end < 0 or len(header) != 4 or header[:2] != ["OVSDB", "JSON"]:
            raise InputError(path, f"not a standalone OVSDB log at byte {pos}")
        length = int(header[2])
        try:
            records.append(json.loads(raw[end + 1:end + 1 + length]))
        except ValueError:
            raise InputError(path, f"record at byte {pos} is not JSON") from None
        pos = end + 1 + length
        while pos < len(raw) and raw[pos:pos + 1] == b"\n":
            pos += 1
    return records


def judge_transactions(report: dict[str, Any], records: Sequence[dict[str, Any]],
                       prefix: str) -> tuple[bool, str]:
    """Every caller's transaction committed whole, alone, exactly once?"""
    group_of = {name: (m["thread"], m["txn"]) for m in report["meant"] for name in m["names"]}
    groups = {(m["thread"], m["txn"]) for m in report["meant"]}
    commit_of: dict[str, int] = {}
    mixed: set[tuple[int, int]] = set()
    for index, record in enumerate(records[1:], start=1):
        names = [row["name"] for row in (record.get("Address_Set") or {}).values()
                 if isinstance(row, dict) and str(row.get("name", "")).startswith(prefix + "-")]
        owners = {group_of[name] for name in names if name in group_of}
        if len(owners) > 1:
            mixed |= owners
        for name in names:
            commit_of.setdefault(name, index)
    lost = [name for name in group_of if name not in commit_of]
    commits: dict[tuple[int, int], set[int]] = {}
    for name, group in group_of.items():
        if name in commit_of:
            commits.setdefault(group, set()).add(commit_of[name])
    split = {group for group, seen in commits.items() if len(seen) > 1}
    errors = report.get("errors") or []
    total = len(groups)
    counts = (f"{report['threads']} threads x {report['txns']} transactions x "
              f"{report['commands']} commands")
    if not (mixed or split or lost or errors) and len(commits) == total:
        return True, (f"{report['library']}: {counts}: {total}/{total} transactions committed "
                      f"whole and alone ({report['seconds']:.2f} s)")
    problems = []
    if mixed:
        problems.append(f"{len(mixed)}/{total} committed together with another thread's")
    if split:
        problems.append(f"{len(split)} split over several commits")
    if lost:
        problems.append(f"{len(lost)}/{len(group_of)} rows lost")
    if errors:
        problems.append(f"{len(errors)} raised ({errors[0]})")
    return False, f"{report['library']}: {counts}: " + ", ".join(problems)


def judge_idl(report: dict[str, Any]) -> tuple[bool, str]:
    """Per-update time at the big switch within MAX_RATIO of the small one's?"""
    per = {int(size): value for size, value in report["per_update_us"].items()}
    small, big = min(per), max(per)
    ratio = per[big] / per[small]
    verdict = ratio <= MAX_RATIO
    return verdict, (f"{report['library']}: {per[small]:.0f} µs per port create at {small} "
                     f"ports, {per[big]:.0f} µs at {big}: ratio {ratio:.2f} "
                     f"(goal ≤ {MAX_RATIO}; fastest of {report['rounds']} rounds)")


def probe(image: str, found: Servers, args: Sequence[str]) -> dict[str, Any]:
    """Run the probe with the image's python3; its JSON report."""
    name = f"tom-libcheck-{uuid.uuid4().hex[:8]}"
    cmd = ["podman", "run", "--rm", "--name", name, "--tls-verify=false", "--network", "none",
           "-v", f"{found.root}:{MOUNT}:ro", image,
           "python3", f"{MOUNT}/{PROBE.name}", *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=PROBE_TIMEOUT,
                              check=False)
    except subprocess.TimeoutExpired:
        subprocess.run(["podman", "rm", "-f", name], capture_output=True, check=False)
        raise ToolError(f"library probe {args[0]} in {image}: timed out after "
                        f"{PROBE_TIMEOUT} s") from None
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        why = [line for line in proc.stderr.strip().splitlines() if line.strip()]
        raise ToolError(f"library probe {args[0]} in {image} failed (exit {proc.returncode}): "
                        f"{why[-1].strip() if why else 'no output'}")
    try:
        return json.loads(lines[-1])
    except ValueError:
        raise ToolError(f"library probe {args[0]} in {image}: no report on stdout") from None


def agent_image() -> str:
    """The image of the deployed agent container, else the current agent build."""
    proc = run(["podman", "container", "inspect", "--format", "{{.ImageName}}",
                AGENT_CONTAINER], check=False)
    if proc.returncode == 0 and proc.stdout.strip():
        return proc.stdout.strip()
    from tripleo_ovn_metadata import image  # builds and pushes only what is missing

    return image.ensure_images()["ContainerOvnMetadataImage"]


def ensure_local(ref: str) -> None:
    """Pull ``ref`` unless containers-storage has it; ToolError naming it if that fails."""
    if run(["podman", "image", "exists", ref], check=False).returncode == 0:
        return
    with step(f"pull {ref}"):
        proc = run(["podman", "pull", "--quiet", "--tls-verify=false", ref], check=False,
                   timeout=900)
    if proc.returncode != 0:
        why = [line for line in proc.stderr.strip().splitlines() if line.strip()]
        raise ToolError(f"{ref}: cannot pull the image ({why[-1] if why else 'no output'})")


def _timed(name: str, body: Any) -> Result:
    began = time.monotonic()
    with step(f"library check: {name}"):
        try:
            passed, detail = body()
        except ToolError as exc:
            passed, detail = False, str(exc)
    return Result(name, passed, time.monotonic() - began, detail)


def run_checks(image: str | None = None) -> list[Result]:
    """Both library checks (transactions on SB and NB, IDL cost on NB) in ``image``."""
    ref = image or agent_image()
    ensure_local(ref)
    results = []
    with servers() as found:
        for db in ("sb", "nb"):
            def transactions(db: str = db) -> tuple[bool, str]:
                prefix = f"tom-{uuid.uuid4().hex[:8]}"
                report = probe(ref, found, [
                    "txn", found.remote(db), DATABASES[db], prefix, "--threads", str(THREADS),
                    "--txns", str(TXNS), "--commands", str(COMMANDS)])
                return judge_transactions(report, read_log(found.db_file(db)), prefix)

            results.append(_timed(f"ovsdbapp: concurrent transactions ({db.upper()})",
                                  transactions))

        def idl_cost() -> tuple[bool, str]:
            report = probe(ref, found, ["idl", found.remote("nb"),
                                        "--sizes", ",".join(map(str, SIZES))])
            return judge_idl(report)

        results.append(_timed(f"python-ovs: IDL modify cost, {SIZES[0]} → {SIZES[1]} rows",
                              idl_cost))
    return results
