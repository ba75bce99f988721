"""Rehearsal nodes: node containers with systemd as PID 1 standing in for overcloud nodes.

``up`` builds the node image (``fixtures/nodes/image``), creates a podman network with the
ctlplane subnet the stack's NodePortMap uses (the undercloud holds the gateway), boots one
privileged container per node with the hostname Heat gives it and the ctlplane IP the
stack assigns, puts an SSH key in, and starts the registry's read-only listener on the
gateway so the nodes pull the bundle's images the way overcloud nodes pull from the
undercloud. Everything is recorded in ``state_dir()/nodes/nodes.json`` and ``down``
removes exactly that, by id: containers, their storage volumes, the network, the listener.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import logging
import shutil
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tripleo_ovn_metadata import image, kolla_recipe, paths, registry, render, tht, yamlio
from tripleo_ovn_metadata.errors import BundleError, InputError, ToolError
from tripleo_ovn_metadata.procs import run
from tripleo_ovn_metadata.progress import step

LOG = logging.getLogger(__name__)

#: The node image recipe (a fixture: the overcloud image's stand-in), its build context
#: and the parts of it that go into the image.
NODES_FIXTURE = Path("fixtures/nodes")
IMAGE_PARTS = ("image", "puppet")
IMAGE_NAME = "localhost/tripleo-ovn-metadata/rehearsal-node"
#: The podman network of the nodes; its subnet is the stack's ctlplane.
NETWORK = "tom-ctlplane"
#: Node containers are named ``<PREFIX><hostname>``.
PREFIX = "tom-"
LABEL = "tripleo-ovn-metadata.node"
BOOT_TIMEOUT = 120.0
REGISTRY_PORT = 8787
#: Open files for a node and its nested containers: this host's hard limit here (haproxy
#: wants 2 per connection for neutron's maxconn 1024).
NOFILE = 20000
#: Zuul's names for the nodes of the multinode nodeset, by role.
ZUUL_GROUPS = {"Controller": "controller", "Compute": "compute"}


#: tmpfs options of podman's ``--systemd=always`` mounts (writable, executable).
SYSTEMD_TMPFS = "rw,rprivate,nosuid,nodev,tmpcopyup"


def systemd_args() -> list[str]:
    """``podman run`` options for systemd as PID 1: what ``--systemd=always`` sets up, except
    its bind of the host's whole ``/sys/fs/cgroup/systemd`` on this cgroup v1 host.

    Through that bind every node's systemd moved itself to the hierarchy's root and shared
    ``/system.slice`` with the others, and a node's shutdown trimmed the other nodes'
    emptied container cgroups: after a ``podman restart`` of one node, ``podman exec`` (and
    ``runc exec``) into every other node failed. With a private cgroup namespace and no
    bind, each node's systemd sees its own container cgroup as the root.
    """
    tmpfs = [arg for path in ("/run", "/run/lock", "/tmp", "/var/log/journal")
             for arg in ("--tmpfs", f"{path}:{SYSTEMD_TMPFS}")]
    return ["--systemd=false", "--cgroupns=private", *tmpfs, "--env", "container=podman",
            "--env", f"container_uuid={uuid.uuid4().hex}", "--stop-signal", "SIGRTMIN+3"]


@dataclass
class Node:
    """One node container."""

    hostname: str
    role: str
    ip: str
    container: str
    container_id: str = ""
    volume: str = ""

    @property
    def zuul_name(self) -> str:
        """The nodeset's name for this node (``controller-0``, ``compute-1``)."""
        return f"{ZUUL_GROUPS[self.role]}-{self.hostname.rsplit('-', 1)[1]}"


@dataclass
class NodeSet:
    """What ``up`` started, as recorded in the state file."""

    network: str
    network_id: str
    subnet: str
    gateway: str
    registry: str
    key: str
    nodes: list[Node] = field(default_factory=list)

    def by_role(self, role: str) -> list[Node]:
        """The nodes of ``role``, in index order."""
        return [node for node in self.nodes if node.role == role]


def nodes_dir() -> Path:
    """The nodes' state: their record, SSH key, inventories and env file."""
    return paths.state_dir() / "nodes"


def _state_file() -> Path:
    return nodes_dir() / "nodes.json"


def load() -> NodeSet | None:
    """The recorded node set, or None when no nodes are up."""
    try:
        data = json.loads(_state_file().read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise InputError(_state_file(), f"unreadable nodes state: {exc}") from None
    nodes = [Node(**node) for node in data.pop("nodes")]
    return NodeSet(nodes=nodes, **data)


def require() -> NodeSet:
    """The recorded node set, or a one-line error saying how to start one."""
    nodeset = load()
    if nodeset is None:
        raise BundleError("no rehearsal nodes are up (tripleo-ovn-metadata nodes up)")
    return nodeset


def _save(nodeset: NodeSet) -> None:
    nodes_dir().mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = _state_file().with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(nodeset), indent=2), encoding="utf-8")
    tmp.replace(_state_file())


def plan(controllers: int, computes: int, roles_data: Path | None = None) -> list[Node]:
    """Hostnames and ctlplane IPs as the stack assigns them (tht.undercloud_parameters)."""
    roles_path = roles_data or paths.bundle_root() / paths.ROLES_DATA
    roles = [r for r in render.load_roles(roles_path) if r["name"] in ZUUL_GROUPS]
    counts = {"Controller": controllers, "Compute": computes}
    ports = tht.undercloud_parameters(roles, counts)["NodePortMap"]
    nodes = []
    for role in roles:
        for index in range(counts[role["name"]]):
            name = tht.hostname(role, index)
            nodes.append(Node(hostname=name, role=role["name"],
                              ip=ports[name]["ctlplane"]["ip_address"],
                              container=f"{PREFIX}{name}"))
    return nodes


def image_tag() -> str:
    """Content tag of the node image: its recipe and the base image."""
    root = paths.bundle_root() / NODES_FIXTURE
    parts = "".join(kolla_recipe.tree_hash(root / part) for part in IMAGE_PARTS)
    return hashlib.sha256(parts.encode()).hexdigest()[:12] + "-" + \
        kolla_recipe.base_image_id()[:8]


def build_image() -> str:
    """Build the node image unless this recipe's tag exists; return its ref."""
    ref = f"{IMAGE_NAME}:{image_tag()}"
    if image.local_exists(ref):
        return ref
    with step(f"build node image {ref}") as current:
        run(["buildah", "bud", "--runtime", "runc", "--layers", "--force-rm",
             "--build-arg", f"BASE={kolla_recipe.BASE_IMAGE}:{kolla_recipe.BASE_TAG}",
             "-f", str(paths.bundle_root() / NODES_FIXTURE / "image" / "Containerfile"),
             "-t", ref,
             str(paths.bundle_root() / NODES_FIXTURE)])
        current.nbytes = image.image_size(ref)
    return ref


def _exists(kind: str, name: str) -> bool:
    return run(["podman", kind, "exists", name], check=False).returncode == 0


def _check_free(nodes: Sequence[Node], subnet: ipaddress.IPv4Network) -> None:
    if load() is not None:
        raise BundleError("rehearsal nodes are already up (tripleo-ovn-metadata nodes down)")
    if _exists("network", NETWORK):
        raise BundleError(f"podman network {NETWORK} exists and is not ours; remove it first")
    for node in nodes:
        if _exists("container", node.container):
            raise BundleError(f"node name {node.container} is in use by another container")
    routes = run(["ip", "-j", "route", "show"]).stdout
    for route in json.loads(routes or "[]"):
        dst = route.get("dst", "")
        if dst and dst != "default":
            with contextlib.suppress(ValueError):
                if ipaddress.ip_network(dst, strict=False).overlaps(subnet):
                    raise BundleError(f"subnet {subnet} overlaps route {dst} on "
                                      f"{route.get('dev')}; this machine already uses it")


def _ssh_key() -> Path:
    key = nodes_dir() / "id_ed25519"
    if not key.exists():
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "tripleo-ovn-metadata-nodes",
             "-f", str(key)])
    return key


#: runc's state directory for root (podman's runtime here: /etc/containers/containers.conf).
RUNC_ROOT = Path("/run/runc")


def exec_prefix(node: Node) -> tuple[str, ...]:
    """The command prefix that runs a command on ``node``, as ``podman exec`` would.

    NOTE: a ``podman exec`` is the podman client, a conmon, ``runc exec`` and podman's
    cleanup of the exec session after it: about 0.16 s and 0.12 CPU-s here, and verify
    makes about a hundred per compute. ``runc exec`` alone is the same exec (the node
    container's process spec: its environment, capabilities and AppArmor profile, in its
    cgroups and namespaces) without podman's session record: 0.02 s and 0.02 CPU-s. It
    needs the container's runc state; without it (another runtime), podman exec.
    """
    if node.container_id and (RUNC_ROOT / node.container_id).is_dir():
        return ("runc", "--root", str(RUNC_ROOT), "exec", node.container_id)
    return ("podman", "exec", "-i", node.container)


def node_exec(node: Node, *cmd: str, check: bool = True, timeout: float | None = 600,
              input_text: str | None = None) -> str:
    """Run ``cmd`` on a node (:func:`exec_prefix`); returns stdout."""
    return run([*exec_prefix(node), *cmd], check=check, timeout=timeout,
               input_text=input_text).stdout


def wait_booted(node: Node) -> None:
    """Wait until the node's systemd is up (running or degraded)."""
    deadline = time.monotonic() + BOOT_TIMEOUT
    state = ""
    while time.monotonic() < deadline:
        proc = run([*exec_prefix(node), "systemctl", "is-system-running"], check=False)
        state = proc.stdout.strip()
        if state in ("running", "degraded"):
            if state == "degraded":
                failed = node_exec(node, "systemctl", "--failed", "--no-legend", "--plain",
                                   check=False)
                LOG.warning("%s: systemd degraded: %s", node.hostname,
                            " ".join(line.split()[0] for line in failed.splitlines() if line))
            return
        time.sleep(0.5)
    raise ToolError(f"{node.hostname}: systemd not running after {BOOT_TIMEOUT:.0f} s "
                    f"(state {state or 'unknown'})")


def _registries_conf(address: str) -> str:
    return ("# Written by tripleo-ovn-metadata nodes up: the undercloud registry (HTTP).\n"
            f'[[registry]]\nlocation = "{address}"\ninsecure = true\n')


def _prepare(node: Node, nodeset: NodeSet, public_key: str) -> None:
    node_exec(node, "sh", "-c", "umask 077; cat > /root/.ssh/authorized_keys",
              input_text=public_key)
    node_exec(node, "sh", "-c",
              "mkdir -p /etc/containers/registries.conf.d && "
              "cat > /etc/containers/registries.conf.d/50-undercloud.conf",
              input_text=_registries_conf(nodeset.registry))
    node_exec(node, "sh", "-c", f"grep -q ' undercloud$' /etc/hosts || "
              f"echo '{nodeset.gateway} undercloud' >> /etc/hosts")


def check_registry(node: Node, address: str) -> None:
    """The registry must answer from ``node``; else one line naming both."""
    proc = run([*exec_prefix(node), "curl", "-sf", "-m", "5",
                f"http://{address}/v2/"], check=False)
    if proc.returncode != 0:
        raise ToolError(f"registry {address} is unreachable from {node.hostname} "
                        f"(curl exit {proc.returncode})")


def up(controllers: int = 3, computes: int = 3, *, subnet: str = str(tht.CTLPLANE_CIDR),
       roles_data: Path | None = None) -> NodeSet:
    """Boot the nodes; on any failure remove what this call started and re-raise."""
    if controllers < 1 or computes < 1:
        raise BundleError("nodes up: at least one controller and one compute")
    net = ipaddress.ip_network(subnet)
    gateway = str(next(net.hosts()))
    nodes = plan(controllers, computes, roles_data)
    for node in nodes:
        if ipaddress.ip_address(node.ip) not in net:
            raise BundleError(f"{node.hostname}: ctlplane IP {node.ip} is outside {net}")
    _check_free(nodes, net)
    image = build_image()
    nodes_dir().mkdir(parents=True, exist_ok=True, mode=0o700)
    key = _ssh_key()
    nodeset = NodeSet(network=NETWORK, network_id="", subnet=str(net), gateway=gateway,
                      registry=f"{gateway}:{REGISTRY_PORT}", key=str(key))
    try:
        with step(f"network {NETWORK} ({net})"):
            run(["podman", "network", "create", "--label", LABEL, "--subnet", str(net),
                 "--gateway", gateway, "--disable-dns", NETWORK])
            nodeset.network_id = run(["podman", "network", "inspect", "--format",
                                      "{{.ID}}", NETWORK]).stdout.strip()
            _save(nodeset)
        for node in nodes:
            with step(f"boot {node.hostname} ({node.ip})"):
                node.volume = f"{node.container}-containers"
                nodeset.nodes.append(node)
                _save(nodeset)
                node.container_id = run([
                    "podman", "run", "-d", "--name", node.container, "--hostname",
                    node.hostname, "--label", LABEL, "--network", NETWORK, "--ip", node.ip,
                    "--privileged", *systemd_args(), "--stop-timeout", "30",
                    "--ulimit", f"nofile={NOFILE}:{NOFILE}", "--ulimit", "nproc=4096:4096",
                    "-v", f"{node.volume}:/var/lib/containers",
                    "--add-host", f"undercloud:{gateway}",
                    image,
                ]).stdout.strip()
                _save(nodeset)
        # The bridge (and so the gateway address) exists once the first node is on it.
        with step(f"registry listener on {nodeset.registry}"):
            registry.start_listener(nodeset.registry)
        public = Path(f"{key}.pub").read_text(encoding="utf-8")
        for node in nodes:
            wait_booted(node)
            _prepare(node, nodeset, public)
        check_registry(nodes[0], nodeset.registry)
        write_inventories(nodeset)
    except BaseException:
        down()
        raise
    return nodeset


def down() -> list[str]:
    """Remove what ``up`` recorded (containers, volumes, network, listener); list it."""
    nodeset = load()
    removed: list[str] = []
    if registry.stop_listener():
        removed.append("registry listener")
    if nodeset is None:
        return removed
    for node in nodeset.nodes:
        ident = node.container_id or node.container
        if node.container_id or _exists("container", node.container):
            with step(f"stop {node.hostname}"):
                run(["podman", "rm", "-f", "-t", "30", ident], check=False)
            removed.append(f"container {node.container}")
        if node.volume and _exists("volume", node.volume):
            run(["podman", "volume", "rm", "-f", node.volume], check=False)
            removed.append(f"volume {node.volume}")
        # What verify recorded on the node went with it.
        (paths.state_dir() / "verify" / f"{node.hostname}.json").unlink(missing_ok=True)
    net = nodeset.network_id or nodeset.network
    if nodeset.network_id and _exists("network", nodeset.network):
        run(["podman", "network", "rm", "-f", net], check=False)
        removed.append(f"network {nodeset.network}")
    # Everything but job.log (the last rehearsal's log, kept for reading).
    for name in ("zuul-inventory.yaml", "environment.yaml", "known_hosts", "id_ed25519",
                 "id_ed25519.pub"):
        (nodes_dir() / name).unlink(missing_ok=True)
    for name in ("overcloud", ".ansible-tmp"):
        shutil.rmtree(nodes_dir() / name, ignore_errors=True)
    _state_file().unlink(missing_ok=True)
    return removed


@dataclass(frozen=True)
class NodeStatus:
    """One row of ``nodes status``."""

    hostname: str
    role: str
    ip: str
    state: str


def status() -> list[NodeStatus]:
    """Each recorded node's container and systemd state."""
    nodeset = load()
    if nodeset is None:
        return []
    rows = []
    for node in nodeset.nodes:
        proc = run(["podman", "inspect", "--format", "{{.State.Status}}",
                    node.container_id or node.container], check=False)
        state = proc.stdout.strip() if proc.returncode == 0 else "missing"
        if state == "running":
            system = run([*exec_prefix(node), "systemctl", "is-system-running"],
                         check=False).stdout.strip()
            state = f"running, systemd {system or 'unknown'}"
        rows.append(NodeStatus(node.hostname, node.role, node.ip, state))
    return rows


# --- Inventories and the node-specific environment ------------------------------------


def ssh_args(nodeset: NodeSet) -> str:
    """ssh options for the nodes: their host keys are new on every boot."""
    known = nodes_dir() / "known_hosts"
    return f"-o StrictHostKeyChecking=no -o UserKnownHostsFile={known} -o ControlMaster=auto " \
        "-o ControlPersist=60s"


def zuul_inventory(nodeset: NodeSet) -> dict[str, Any]:
    """An inventory shaped like the one Zuul writes for the multinode nodeset."""
    hosts: dict[str, Any] = {}
    for node in nodeset.nodes:
        hosts[node.zuul_name] = {
            "ansible_host": node.ip,
            "ansible_user": "root",
            "ansible_ssh_private_key_file": nodeset.key,
            "ansible_ssh_common_args": ssh_args(nodeset),
            "nodepool": {"private_ipv4": node.ip, "public_ipv4": node.ip},
        }
    # The job's primary node is this machine; its address on the nodes' network is the
    # gateway (where the registry listener is).
    hosts["undercloud-0"] = {
        "ansible_connection": "local", "ansible_host": "localhost",
        "ansible_python_interpreter": str(paths.venv_bin("python", ".venv-ansible")),
        "nodepool": {"private_ipv4": nodeset.gateway, "public_ipv4": nodeset.gateway},
    }  # fmt: skip
    children = {group: {"hosts": {n.zuul_name: {} for n in nodeset.by_role(role)}}
                for role, group in ZUUL_GROUPS.items()}
    children["undercloud"] = {"hosts": {"undercloud-0": {}}}
    # No `zuul` variable: the playbooks then use the checkout they are in (vars/common.yaml).
    return {"all": {"hosts": hosts, "children": children}}


#: The services of roles_data.yaml a rehearsal runs: those on the metadata path. Podman
#: (registries.conf, containers.conf, tripleo_container_manage's start script) every
#: containerized role needs; ovn-controller only where the agent runs (on a controller it
#: would only add a gateway chassis).
REHEARSAL_SERVICES = ("OS::TripleO::Services::Podman", "OS::TripleO::Services::OVNDBs",
                      "OS::TripleO::Services::OVNController",
                      "OS::TripleO::Services::OVNMetadataAgent")
AGENT_SERVICE = "OS::TripleO::Services::OVNMetadataAgent"
CONTROLLER_SERVICE = "OS::TripleO::Services::OVNController"


def rehearsal_services(role: dict[str, Any]) -> list[str]:
    """``role``'s services (roles_data order) that a rehearsal runs."""
    services = [s for s in role.get("ServicesDefault") or [] if s in REHEARSAL_SERVICES]
    if AGENT_SERVICE not in services and CONTROLLER_SERVICE in services:
        services.remove(CONTROLLER_SERVICE)
    return services


def node_environment(nodeset: NodeSet, roles_data: Path | None = None) -> dict[str, Any]:
    """Node counts, each role's rehearsal services, and the stub Nova's address
    (controller-0) for the overcloud stack."""
    roles_path = roles_data or paths.bundle_root() / paths.ROLES_DATA
    services = {f"{role['name']}Services": rehearsal_services(role)
                for role in render.load_roles(roles_path) if role["name"] in ZUUL_GROUPS}
    nova = nodeset.by_role("Controller")[0].ip
    endpoint = {"protocol": "http", "host": nova, "host_nobrackets": nova, "port": "8775",
                "uri": f"http://{nova}:8775", "uri_no_suffix": f"http://{nova}:8775"}
    return {"parameter_defaults": {
        **services,
        "ControllerCount": len(nodeset.by_role("Controller")),
        "ComputeCount": len(nodeset.by_role("Compute")),
        "EndpointMapOverride": {"NovaMetadataCellInternal": endpoint},
        "DockerInsecureRegistryAddress": [nodeset.registry],
        # Static bridge MACs: the undercloud's neutron would allocate them otherwise.
        "OVNStaticBridgeMacMappings": {
            node.hostname: {"datacentre": _mac(node.ip)} for node in nodeset.nodes
        },
    }}


def _mac(ip: str) -> str:
    """A locally administered MAC derived from a node's IP."""
    octets = [int(part) for part in ip.split(".")]
    return "fa:16:3e:" + ":".join(f"{octet:02x}" for octet in octets[1:])


def write_inventories(nodeset: NodeSet) -> None:
    """The Zuul-shaped inventory and the node environment file, in the state dir."""
    yamlio.write_atomic(nodes_dir() / "zuul-inventory.yaml",
                        zuul_inventory(nodeset))
    yamlio.write_atomic(nodes_dir() / "environment.yaml", node_environment(nodeset))
