"""The local image registry: Debian's docker-registry (distribution) on loopback.

It listens on 127.0.0.1:8787 by default (the undercloud registry's port) and keeps its
blobs under ``state_dir()/registry/data``, so images survive ``stop`` and ``start``. The
tool records the process id it started and stops exactly that process.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tripleo_ovn_metadata import locks, paths
from tripleo_ovn_metadata.errors import BundleError, InputError, ToolError
from tripleo_ovn_metadata.procs import run
from tripleo_ovn_metadata.progress import step

#: The undercloud's registry address; podman and skopeo treat it as insecure (HTTP).
#: ``TRIPLEO_OVN_METADATA_REGISTRY`` moves it (another loopback port, e.g. for a second
#: checkout working on the same machine).
DEFAULT_ADDRESS = os.environ.get("TRIPLEO_OVN_METADATA_REGISTRY", "127.0.0.1:8787")
#: The repository namespace the bundle's images live in.
NAMESPACE = "tripleo-ovn-metadata"
_BINARY = "/usr/bin/docker-registry"
_MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
)


@dataclass(frozen=True)
class Status:
    """What ``registry status`` reports."""

    running: bool
    address: str
    pid: int | None
    storage: Path


def registry_dir() -> Path:
    """Config, pid file, log and blob storage of the registry this tool runs."""
    return paths.state_dir() / "registry"


def storage_dir() -> Path:
    """Where the registry keeps blobs and manifests (persists across restarts)."""
    return registry_dir() / "data"


def _state_file() -> Path:
    return registry_dir() / "registry.json"


def push_lock() -> contextlib.AbstractContextManager[None]:
    """One push (or garbage collection) at a time on this machine's registry, whichever
    checkout asks.

    NOTE: two skopeo copies of one image at once (seen on a fresh machine: a rehearsal's
    ``image build`` beside the tests' own build) can make docker-registry refuse the
    second manifest ("digest invalid", "manifest blob unknown") and leave that
    repository without a tag. Serialized, the second copy finds the tag and skips.
    """
    return locks.file_lock(registry_dir() / "push.lock")


def check_address(address: str) -> str:
    """Return ``address`` if it is host:port on a loopback IP, else raise BundleError."""
    host, sep, port = address.rpartition(":")
    try:
        loopback = bool(sep) and ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback or not port.isdigit() or not 0 < int(port) < 65536:
        raise BundleError(
            f"registry address {address!r}: expected a loopback IP and port, e.g. {DEFAULT_ADDRESS}"
        )
    return address


def _read_state() -> dict:
    try:
        return json.loads(_state_file().read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise InputError(_state_file(), f"unreadable registry state: {exc}") from None


def _alive(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return any(part.endswith(b"docker-registry") for part in cmdline[:1])


def _api(address: str, path: str, timeout: float = 5.0) -> dict:
    with urllib.request.urlopen(f"http://{address}{path}", timeout=timeout) as resp:
        body = resp.read()
    return json.loads(body) if body.strip() else {}


def answers(address: str) -> bool:
    """True if a registry API answers on ``address``."""
    try:
        _api(address, "/v2/", timeout=2.0)
    except (OSError, ValueError):
        return False
    return True


def status() -> Status:
    """Whether the registry this tool started is running, and where."""
    state = _read_state()
    pid = state.get("pid")
    running = isinstance(pid, int) and _alive(pid)
    return Status(
        running=running,
        address=state.get("address", DEFAULT_ADDRESS),
        pid=pid if running else None,
        storage=storage_dir(),
    )


def _config(address: str) -> str:
    return (
        "# Written by tripleo-ovn-metadata registry start.\n"
        "version: 0.1\n"
        "log: {level: info, accesslog: {disabled: true}}\n"
        f"storage: {{filesystem: {{rootdirectory: {storage_dir()}}}, delete: {{enabled: true}}}}\n"
        f"http: {{addr: {address}}}\n"
    )


def start(address: str = DEFAULT_ADDRESS, timeout: float = 20.0) -> Status:
    """Start docker-registry on ``address`` unless it already runs; return its status."""
    check_address(address)
    current = status()
    if current.running:
        if current.address != address:
            raise BundleError(
                f"the registry already runs on {current.address} (pid {current.pid}); "
                "stop it first to move it"
            )
        return current
    _spawn(_state_file(), address, _config(address), timeout)
    return status()


def _spawn(state_file: Path, address: str, config_text: str, timeout: float) -> int:
    """Run docker-registry with ``config_text``; record its pid in ``state_file``."""
    if answers(address):
        raise BundleError(f"{address} is already served by another process; pick another port")
    if not Path(_BINARY).exists():
        raise ToolError(f"{_BINARY}: not installed (run tools/setup.sh)")
    rdir = registry_dir()
    rdir.mkdir(parents=True, exist_ok=True, mode=0o700)
    storage_dir().mkdir(exist_ok=True, mode=0o700)
    config = state_file.with_suffix(".yml")
    config.write_text(config_text, encoding="utf-8")
    log = state_file.with_suffix(".log")
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [_BINARY, "serve", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    tmp = state_file.with_suffix(".tmp")
    tmp.write_text(json.dumps({"pid": proc.pid, "address": address}), encoding="utf-8")
    tmp.replace(state_file)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            state_file.unlink(missing_ok=True)
            raise ToolError(f"docker-registry exited at start (exit {proc.returncode}); see {log}")
        if answers(address):
            return proc.pid
        time.sleep(0.1)
    _kill(state_file)
    raise ToolError(f"docker-registry did not answer on {address} in {timeout:.0f} s; see {log}")


def ensure_running(address: str = DEFAULT_ADDRESS) -> Status:
    """Start the registry if it is not running (what image build and patch call)."""
    return start(address)


def stop(timeout: float = 10.0) -> bool:
    """Stop the registry this tool started (by its pid); False if it was not running."""
    return _kill(_state_file(), timeout)


def _kill(state_file: Path, timeout: float = 10.0) -> bool:
    try:
        pid = json.loads(state_file.read_text(encoding="utf-8")).get("pid")
    except (OSError, ValueError):
        pid = None
    if not isinstance(pid, int) or not _alive(pid):
        state_file.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):  # reap it if this process started it
        os.waitpid(pid, 0)
    state_file.unlink(missing_ok=True)
    return True


# --- The nodes' listener: the same storage, read-only, on a node network's gateway -----


def _listener_file() -> Path:
    return registry_dir() / "node-listener.json"


def _listener_config(address: str) -> str:
    return (
        "# Written by tripleo-ovn-metadata nodes up: read-only, for the rehearsal nodes.\n"
        "version: 0.1\n"
        "log: {level: info, accesslog: {disabled: true}}\n"
        f"storage: {{filesystem: {{rootdirectory: {storage_dir()}}}, "
        "maintenance: {readonly: {enabled: true}}}\n"
        f"http: {{addr: {address}}}\n"
    )


def listener_address() -> str | None:
    """The nodes' pull address if the node listener runs, else None."""
    try:
        state = json.loads(_listener_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    pid = state.get("pid")
    return state.get("address") if isinstance(pid, int) and _alive(pid) else None


def start_listener(address: str, timeout: float = 20.0) -> str:
    """Serve the registry read-only on ``address`` (a node network's gateway) too.

    The address must be one this machine holds on an interface other than the uplink:
    the caller's bridge. Pushes keep going to the loopback address.
    """
    current = listener_address()
    if current == address:
        return address
    if current:
        raise BundleError(f"the nodes' registry listener already runs on {current}")
    ensure_running()
    _spawn(_listener_file(), address, _listener_config(address), timeout)
    return address


def stop_listener() -> bool:
    """Stop the nodes' listener (by pid); False if it was not running."""
    return _kill(_listener_file())


def list_images(address: str | None = None) -> list[str]:
    """Every ``repository:tag`` the registry holds, sorted."""
    address = address or status().address
    try:
        catalog = _api(address, "/v2/_catalog?n=1000").get("repositories") or []
        refs = []
        for repo in catalog:
            refs.extend(f"{repo}:{tag}" for tag in _tags(address, repo))
    except (OSError, ValueError) as exc:
        raise ToolError(f"registry {address} did not answer: {exc}") from None
    return sorted(refs)


def _tags(address: str, repository: str) -> list[str]:
    """The tags of ``repository``; none for a repository the catalog lists only for its
    blobs (a push that failed before its manifest: tags/list answers 404 there)."""
    try:
        return _api(address, f"/v2/{repository}/tags/list").get("tags") or []
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return []
        raise


def has_tag(address: str, repository: str, tag: str) -> bool:
    """True if ``repository:tag`` exists in the registry at ``address``."""
    req = urllib.request.Request(
        f"http://{address}/v2/{repository}/manifests/{tag}",
        method="HEAD",
        headers={"Accept": ", ".join(_MANIFEST_TYPES)},
    )
    try:
        with urllib.request.urlopen(req, timeout=5.0):
            return True
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return False
        raise ToolError(f"registry {address}: HEAD {repository}:{tag} -> HTTP {exc.code}") from None
    except OSError as exc:
        raise ToolError(f"registry {address} did not answer: {exc}") from None


def delete(address: str, repository: str, digest: str) -> None:
    """Delete the manifest ``digest`` (and so every tag on it) from ``repository``."""
    req = urllib.request.Request(
        f"http://{address}/v2/{repository}/manifests/{digest}", method="DELETE")
    try:
        with urllib.request.urlopen(req, timeout=5.0):
            pass
    except urllib.error.HTTPError as exc:
        if exc.code != 404:
            raise ToolError(f"registry {address}: DELETE {repository}@{digest} -> "
                            f"HTTP {exc.code}") from None
    except OSError as exc:
        raise ToolError(f"registry {address} did not answer: {exc}") from None


def blob_sizes() -> dict[str, int]:
    """Digest -> size of every blob in this tool's registry storage (to count pushed bytes)."""
    root = storage_dir() / "docker/registry/v2/blobs"
    sizes: dict[str, int] = {}
    if root.is_dir():
        for data in root.glob("*/*/*/data"):
            sizes[f"{data.parts[-4]}:{data.parts[-2]}"] = data.stat().st_size
    return sizes


# --- Garbage collection: the blobs no manifest references any more ---------------------


@dataclass(frozen=True)
class Collected:
    """What ``registry gc`` found and freed."""

    blobs: int
    before: int
    after: int
    restarted: str | None


def storage_bytes() -> int:
    """Bytes of every file in the registry's storage."""
    root = storage_dir()
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file()) if root.is_dir() else 0


def garbage_collect(*, untagged: bool = False, dry_run: bool = False) -> Collected:
    """docker-registry's ``garbage-collect`` on this tool's storage: deleting a manifest
    (``made``, a forced rebuild's old tag) leaves its blobs on disk until then.

    The registry must not serve while it deletes: a running registry is stopped and
    started again on its address (``dry_run`` only reads, and leaves it serving); pushes
    wait (:func:`push_lock`). ``untagged`` also deletes manifests no tag names. Refused
    while the nodes' listener serves the same storage.
    """
    listener = listener_address()
    if listener:
        raise BundleError(f"the nodes' registry listener serves this storage on {listener}; "
                          "run gc after nodes down")
    if not Path(_BINARY).exists():
        raise ToolError(f"{_BINARY}: not installed (run tools/setup.sh)")
    with push_lock():
        state = status()
        before = storage_bytes()
        if not before:
            return Collected(0, 0, 0, None)
        config = registry_dir() / "gc.yml"
        config.write_text(_config(state.address), encoding="utf-8")
        flags = [*(["--delete-untagged"] if untagged else []), *(["--dry-run"] if dry_run else [])]
        restart = state.running and not dry_run
        if restart:
            stop()
        try:
            with step("registry garbage-collect") as current:
                proc = run([_BINARY, "garbage-collect", *flags, str(config)], timeout=600)
                blobs = (proc.stdout + proc.stderr).count("blob eligible for deletion")
                after = storage_bytes()
                current.nbytes = before - after
        finally:
            config.unlink(missing_ok=True)
            if restart:
                start(state.address)
        return Collected(blobs, before, after, state.address if restart else None)
