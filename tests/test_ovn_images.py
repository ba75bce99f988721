"""The OVN images run OVN the way stock THT 18 starts it, on private loopback.

Controllers (deployment/ovn/ovn-dbs-cluster-ansible.yaml): the NB and SB DB servers and
northd start from THT's own kolla_config (the ``bash -c ... start-nb-db-server
${OVN_NB_DB_OPTS}`` commands) with THT's bind mounts (host paths moved under a temp dir)
and the ``/etc/sysconfig/ovn_cluster`` that tripleo-ansible's tripleo_ovn_cluster role's
own template renders for a bootstrap node; then THT's "Set connection" commands. The DBs
bootstrap a raft cluster, northd translates NB into SB, and /openstack/healthcheck passes.

Computes (ovn-controller-container-puppet.yaml): Puppet in the config image
(ContainerOvnControllerConfigImage) writes the external_ids with THT's puppet_tags into a
stand-in host Open vSwitch DB; ovn-controller starts from THT's kolla command, registers
its chassis in SB, and its healthcheck passes while SB runs and fails when SB stops.

Every container shares one network namespace with only loopback (a holder container on
``--network none``), so the ports never meet the host's; all names start ``tomovn-test-``
and are removed at the end.
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import pytest

from tripleo_ovn_metadata import paths, yamlio

pytestmark = pytest.mark.slow
CLUSTER_TEMPLATE = "deployment/ovn/ovn-dbs-cluster-ansible.yaml"
CONTROLLER_TEMPLATE = "deployment/ovn/ovn-controller-container-puppet.yaml"
ROLE = Path(sys.prefix) / "share/ansible/roles/tripleo_ovn_cluster"
NODE_IP = "127.0.0.1"
CHASSIS = "tomovn-compute-0"
KOLLA_DIR = "/var/lib/kolla/config_files"


def podman(*args: str, check: bool = True, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout,
                          check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)}: {proc.stderr.strip()}")
    return proc


def until(check: Callable[[], bool], what: str, timeout: float = 60,
          logs: str | None = None) -> None:
    """Poll ``check`` twice a second until it holds; bounded by ``timeout`` seconds.

    On timeout the message ends with the last lines of container ``logs``.
    """
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            tail = podman("logs", "--tail", "15", logs, check=False) if logs else None
            shown = f"; {logs}: {(tail.stdout + tail.stderr)[-1500:]}" if tail else ""
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{shown}")
        time.sleep(0.5)


# --- What stock THT and tripleo-ansible say ----------------------------------------------

def role_data(template: str) -> dict[str, Any]:
    return yamlio.load(paths.tht_dir() / template)["outputs"]["role_data"]["value"]


def no_tls(value: Any) -> str:
    """A kolla command as Heat renders it with EnableInternalTLS false."""
    if isinstance(value, str):
        return value
    sep, items = value["list_join"]
    return sep.join(item for item in items if isinstance(item, str))


def kolla_config(template: str, name: str) -> dict[str, Any]:
    config = dict(role_data(template)["kolla_config"][f"{KOLLA_DIR}/{name}.json"])
    config["command"] = no_tls(config["command"])
    return config


def cluster_volumes(container: str) -> list[str]:
    spec = role_data(CLUSTER_TEMPLATE)["docker_config"]["step_0"][container]
    return list(spec["volumes"]["list_concat"][1])


def controller_spec() -> dict[str, Any]:
    """ovn_controller's docker_config, its map_merge parts merged (no TLS, no cpuset)."""
    parts = role_data(CONTROLLER_TEMPLATE)["docker_config"]["step_4"]["ovn_controller"]
    spec: dict[str, Any] = {}
    for part in parts["map_merge"]:
        if "if" not in part:
            spec.update(part)
    spec["volumes"] = list(spec["volumes"]["list_concat"][0])
    return spec


def ovn_cluster_sysconfig() -> str:
    """The role's own templates/ovn_cluster.j2 and defaults for a one-node bootstrap cluster.

    Rendered by Jinja with Ansible's template settings; the Ansible filters it uses
    (bool, product, ipwrap) are given their meaning for these plain IPv4 values. The role
    itself cannot run under our Ansible: its ``ansible.netcommon.ipwrap`` moved from
    netcommon to ansible.utils.
    """
    def ipwrap(value: Any) -> Any:
        if isinstance(value, list):
            return [ipwrap(item) for item in value]
        return f"[{value}]" if ":" in str(value) else value

    env = jinja2.Environment(trim_blocks=True, undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True)
    env.filters["ansible.netcommon.ipwrap"] = ipwrap
    env.filters["bool"] = bool
    env.filters["product"] = lambda a, b: [list(x) for x in itertools.product(a, b)]
    values = yamlio.load(ROLE / "defaults/main.yml")
    values.update({key: "tcp" for key in values if key.endswith("_protocol")})  # no TLS
    values.update(ansible_managed="tripleo_ovn_cluster (test)", is_ovn_dbs_bootstrap_node=True,
                  has_ovsdb_tool_election_timer=True, inventory_hostname="controller-0",
                  hostvars={"controller-0": {"ctlplane_ip": NODE_IP}},
                  ovn_dbs_node_ips=[NODE_IP])
    return env.from_string((ROLE / "templates/ovn_cluster.j2").read_text()).render(**values)


# --- Containers in one private network namespace --------------------------------------------

@dataclass
class Netns:
    """A holder container on ``--network none``; every container here joins its netns."""

    prefix: str
    images: dict[str, str]
    root: Path
    started: list[str] = field(default_factory=list)

    def host_path(self, volume: str, hosts: dict[str, Path]) -> str | None:
        """THT's ``src:dst[:opts]`` with src moved under ``hosts``; None to leave it out."""
        src, dst, *opts = volume.split(":")
        for prefix, where in hosts.items():
            if src == prefix or src.startswith(prefix + "/"):
                local = where / src[len(prefix):].lstrip("/")
                if not local.exists():  # kolla json files are written before
                    local.mkdir(parents=True)
                ro = ":ro" if opts and "ro" in opts[0].split(",") else ""
                return f"{local}:{dst}{ro}"
        return None  # /lib/modules: nothing of the host's kernel is needed here

    def _cmd(self, name: str, param: str, volumes: list[str], args: tuple[str, ...],
             options: tuple[str, ...]) -> list[str]:
        full = f"{self.prefix}{name}"
        self.started.append(full)  # removed at the end, even if podman was interrupted
        cmd = ["run", *options, "--name", full, "--network", f"container:{self.prefix}netns",
               "-e", "KOLLA_CONFIG_STRATEGY=COPY_ALWAYS"]
        for volume in volumes:
            cmd += ["-v", volume]
        return [*cmd, self.images[param], *args]

    def run(self, name: str, param: str, volumes: list[str], *args: str,
            user: str | None = None) -> None:
        """Start a container in the background, as the image's user unless ``user``."""
        options = ("-d", "--user", user) if user else ("-d",)
        podman(*self._cmd(name, param, volumes, args, options))

    def once(self, name: str, param: str, volumes: list[str], *args: str
             ) -> subprocess.CompletedProcess[str]:
        """Run a container to its end and return how it went."""
        return podman(*self._cmd(name, param, volumes, args, ("--rm",)), check=False,
                      timeout=300)

    def sh(self, name: str, script: str, *, check: bool = True) -> subprocess.CompletedProcess[str]:
        return podman("exec", f"{self.prefix}{name}", "bash", "-c", script, check=check)


def write_kolla(hosts: dict[str, Path], name: str, config: dict[str, Any]) -> None:
    path = hosts[KOLLA_DIR] / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config))


@pytest.fixture(scope="module")
def netns(all_images: dict[str, str], tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Netns]:
    for ref in set(all_images.values()):
        podman("pull", "--quiet", "--tls-verify=false", ref, timeout=600)
    space = Netns(prefix=f"tomovn-test-{uuid.uuid4().hex[:6]}-", images=all_images,
                  root=tmp_path_factory.mktemp("ovn"))
    space.started.append(f"{space.prefix}netns")
    try:
        # No TIME_WAIT entries in this netns (test_healthchecks_follow_the_db_and_northd).
        podman("run", "-d", "--name", f"{space.prefix}netns", "--network", "none",
               "--sysctl", "net.ipv4.tcp_max_tw_buckets=0",
               all_images["ContainerOvnNbDbImage"], "sleep", "infinity")
        yield space
    finally:
        for name in reversed(space.started):
            podman("rm", "-f", "-t", "2", name, check=False)
        shutil.rmtree(space.root, ignore_errors=True)
    left = podman("ps", "-a", "--filter", f"name={space.prefix}", "--format", "{{.Names}}")
    assert not left.stdout.strip(), f"containers left behind: {left.stdout}"


@pytest.fixture(scope="module")
def controller(netns: Netns) -> dict[str, Path]:
    """NB, SB (raft bootstrap) and northd started as on THT's bootstrap controller."""
    root = netns.root / "controller"
    hosts = {KOLLA_DIR: root / "kolla", "/var/lib/openvswitch/ovn": root / "ovn",
             "/var/log/containers/openvswitch": root / "log",
             "/var/lib/config-data/ansible-generated/ovn": root / "config"}
    sysconfig = hosts["/var/lib/config-data/ansible-generated/ovn"] / "etc/sysconfig"
    sysconfig.mkdir(parents=True)
    (sysconfig / "ovn_cluster").write_text(ovn_cluster_sysconfig())
    for name, param in (("ovn_cluster_north_db_server", "ContainerOvnNbDbImage"),
                        ("ovn_cluster_south_db_server", "ContainerOvnSbDbImage")):
        write_kolla(hosts, name, kolla_config(CLUSTER_TEMPLATE, name))
        mounts = [m for v in cluster_volumes(name) if (m := netns.host_path(v, hosts))]
        netns.run(name, param, mounts)
    for name, db, schema in (("ovn_cluster_north_db_server", "ovnnb_db", "OVN_Northbound"),
                             ("ovn_cluster_south_db_server", "ovnsb_db", "OVN_Southbound")):
        status = f"ovn-appctl -t /run/ovn/{db}.ctl cluster/status {schema}"
        until(lambda name=name, status=status: "Role: leader" in netns.sh(
            name, status, check=False).stdout, f"{name} to lead its raft cluster",
            logs=netns.prefix + name)
    tasks = role_data(CLUSTER_TEMPLATE)["deploy_steps_tasks"]
    start = next(task for task in tasks if task["name"].startswith("Start OVN DBs"))
    set_connection = next(task for task in start["block"] if task["name"] == "Set connection")
    facts = {"tripleo_ovn_cluster_probe_interval": 60000, "tripleo_ovn_cluster_dbs_protocol": "tcp",
             "tripleo_ovn_cluster_nb_db_port": 6641, "tripleo_ovn_cluster_sb_db_port": 6642,
             "tripleo_ovn_cluster_dbs_addr": "0.0.0.0"}
    shell = jinja2.Template(set_connection["shell"]).render(**facts)
    for line in shell.strip().splitlines():
        # podman exec ovn_cluster_north_db_server bash -c "ovn-nbctl ... set-connection ..."
        container, _, script = line.removeprefix("podman exec ").partition(" bash -c ")
        netns.sh(container, script.strip('"'))
    name = "ovn_cluster_northd"
    write_kolla(hosts, name, kolla_config(CLUSTER_TEMPLATE, name))
    netns.run(name, "ContainerOvnNorthdImage",
              [m for v in cluster_volumes(name) if (m := netns.host_path(v, hosts))])
    until(lambda: "Status: active" in netns.sh(
        name, "ovn-appctl -t ovn-northd status", check=False).stdout, "northd to be active",
        logs=netns.prefix + name)
    return hosts


def test_sysconfig_is_what_the_role_writes_for_a_bootstrap_node() -> None:
    text = ovn_cluster_sysconfig()
    assert "--db-nb-cluster-local-addr=127.0.0.1 \\\n--db-nb-cluster-local-port=6643" in text
    assert "--db-nb-election-timer=10000" in text and "--db-sb-election-timer=16000" in text
    assert "--db-nb-create-insecure-remote=no" in text
    assert "cluster-remote" not in text  # the bootstrap node creates the cluster
    assert "--ovnnb-db=tcp:127.0.0.1:6641 \\\n--ovnsb-db=tcp:127.0.0.1:6642" in text


def test_kolla_commands_are_stock_thts() -> None:
    nb = kolla_config(CLUSTER_TEMPLATE, "ovn_cluster_north_db_server")["command"]
    assert nb.endswith("exec /usr/local/bin/start-nb-db-server ${OVN_NB_DB_OPTS}")
    assert kolla_config(CONTROLLER_TEMPLATE, "ovn_controller")["command"] == (
        "/usr/bin/ovn-controller --pidfile --log-file unix:/run/openvswitch/db.sock")


def test_dbs_form_raft_clusters_in_debian_paths(netns: Netns,
                                                controller: dict[str, Path]) -> None:
    for name, db, schema in (("ovn_cluster_north_db_server", "ovnnb_db", "OVN_Northbound"),
                             ("ovn_cluster_south_db_server", "ovnsb_db", "OVN_Southbound")):
        status = netns.sh(name, f"ovn-appctl -t /run/ovn/{db}.ctl cluster/status {schema}")
        assert "Status: cluster member" in status.stdout
        assert "Address: tcp:127.0.0.1:664" in status.stdout
        clustered = netns.sh(name, f"ovsdb-tool db-is-clustered /var/lib/ovn/{db}.db && echo y")
        assert clustered.stdout.strip() == "y"
    # THT's one host dir holds /var/lib/ovn, /run/ovn and /etc/ovn of both DBs.
    shared = {p.name for p in controller["/var/lib/openvswitch/ovn"].iterdir()}
    assert {"ovnnb_db.db", "ovnsb_db.db", "ovnnb_db.sock", "ovnsb_db.sock",
            "ovn-northd.pid"} <= shared
    logs = {p.name for p in controller["/var/log/containers/openvswitch"].iterdir()}
    assert {"ovsdb-server-nb.log", "ovsdb-server-sb.log", "ovn-northd.log"} <= logs
    connection = netns.sh("ovn_cluster_north_db_server", "ovn-nbctl get-connection")
    assert connection.stdout.split() == ["ptcp:6641:0.0.0.0"]


def test_northd_translates_nb_into_sb_over_tcp(netns: Netns, controller: dict[str, Path]) -> None:
    netns.sh("ovn_cluster_north_db_server", "ovn-nbctl ls-add tomovn-ls0")
    until(lambda: "tomovn-ls0" in netns.sh(
        "ovn_cluster_south_db_server",
        "ovn-sbctl --bare --columns external_ids list Datapath_Binding").stdout,
        "northd to write the switch's datapath into SB")
    healthy = netns.sh("ovn_cluster_northd", "/openstack/healthcheck", check=False)
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr


@pytest.fixture(scope="module")
def compute(netns: Netns, controller: dict[str, Path]) -> dict[str, Path]:
    """A stand-in host Open vSwitch DB, Puppet from the config image, ovn-controller."""
    root = netns.root / "compute"
    hosts = {KOLLA_DIR: root / "kolla", "/run": root / "run",
             "/var/lib/openvswitch/ovn": root / "ovn",
             "/var/log/containers/openvswitch": root / "log"}
    (root / "run/openvswitch").mkdir(parents=True)
    (root / "etc").mkdir()
    ovs = [f"{root / 'run/openvswitch'}:/run/openvswitch", f"{root / 'etc'}:/etc/openvswitch"]
    # The host's openvswitch service: ovs-vsctl (so Puppet's vs_config) waits for
    # ovs-vswitchd to take each change; its datapaths fail here, which is fine.
    netns.run("openvswitch", "ContainerOvnControllerImage", ovs, "bash", "-c",
              "ovsdb-tool create /etc/openvswitch/conf.db /usr/share/openvswitch/vswitch.ovsschema"
              " && ovsdb-server /etc/openvswitch/conf.db --remote=punix:/run/openvswitch/db.sock"
              " --pidfile --detach"
              f" && ovs-vsctl --no-wait init -- set open . external_ids:system-id={CHASSIS}"
              " && exec ovs-vswitchd --pidfile")
    until(lambda: (root / "run/openvswitch/ovs-vswitchd.pid").exists(),
          "the stand-in Open vSwitch", logs=netns.prefix + "openvswitch")
    puppet = role_data(CONTROLLER_TEMPLATE)["puppet_config"]
    manifest = ("class { 'ovn::controller': ovn_remote => 'tcp:127.0.0.1:6642',"
                f" ovn_encap_ip => '127.0.0.1', hostname => '{CHASSIS}',"
                " ovn_monitor_all => true }")
    config = netns.once("puppet", "ContainerOvnControllerConfigImage",
                        [f"{root / 'run/openvswitch'}:/run/openvswitch"],
                        "puppet", "apply", "--detailed-exitcodes", "--color", "false",
                        "--modulepath=/etc/puppet/modules:/usr/share/openstack-puppet/modules",
                        "--tags", puppet["puppet_tags"], "-e", manifest)
    assert config.returncode in (0, 2), config.stdout + config.stderr
    write_kolla(hosts, "ovn_controller", kolla_config(CONTROLLER_TEMPLATE, "ovn_controller"))
    spec = controller_spec()
    netns.run("ovn_controller", "ContainerOvnControllerImage",
              [m for v in spec["volumes"] if (m := netns.host_path(v, hosts))], user=spec["user"])
    return hosts


def test_config_image_writes_the_external_ids(netns: Netns, compute: dict[str, Path]) -> None:
    ids = netns.sh("openvswitch", "ovs-vsctl get open . external_ids").stdout
    for item in ('ovn-remote="tcp:127.0.0.1:6642"', "ovn-encap-type=geneve",
                 'ovn-encap-ip="127.0.0.1"', f"hostname={CHASSIS}"):
        assert item in ids, ids


def test_ovn_controller_registers_its_chassis(netns: Netns, compute: dict[str, Path]) -> None:
    until(lambda: CHASSIS in netns.sh(
        "ovn_cluster_south_db_server", "ovn-sbctl --bare --columns name list Chassis").stdout,
        "ovn-controller's chassis in SB")
    assert (compute["/var/lib/openvswitch/ovn"] / "ovn-controller.pid").is_file()
    assert (compute["/var/log/containers/openvswitch"] / "ovn-controller.log").is_file()


def test_healthchecks_follow_the_db_and_northd(netns: Netns, controller: dict[str, Path],
                                               compute: dict[str, Path]) -> None:
    def connected() -> bool:
        status = netns.sh("ovn_controller", "ovn-appctl -t ovn-controller connection-status",
                          check=False)
        return status.stdout.strip() == "connected"

    def healthy() -> bool:
        check = netns.sh("ovn_controller", "/openstack/healthcheck 6642", check=False)
        return check.returncode == 0

    until(connected, "ovn-controller to be connected to SB")
    assert healthy()
    podman("stop", "-t", "2", f"{netns.prefix}ovn_cluster_south_db_server")
    until(lambda: not connected(), "ovn-controller to see SB gone", 30)
    # NOTE: tripleo-common's healthcheck_port takes the TIME_WAIT entries the closed SB
    # connections leave in /proc/net/tcp (inode 0) for a match, so the check would fail
    # only once they expire (60 s on Linux, idle time in the suite). The test's netns
    # keeps none (tcp_max_tw_buckets=0): the check fails as soon as SB is gone.
    assert netns.sh("ovn_controller", "cat /proc/sys/net/ipv4/tcp_max_tw_buckets"
                    ).stdout.strip() == "0"
    until(lambda: not healthy(), "the healthcheck to fail with SB stopped", 90)
    podman("start", f"{netns.prefix}ovn_cluster_south_db_server")
    until(connected, "ovn-controller to reconnect to SB", 90)
    assert healthy()

    podman("stop", "-t", "2", f"{netns.prefix}ovn_cluster_northd")
    mounts = [m for v in cluster_volumes("ovn_cluster_northd")
              if (m := netns.host_path(v, controller))]
    stopped = netns.once("northd_healthcheck", "ContainerOvnNorthdImage", mounts,
                         "/openstack/healthcheck")
    assert stopped.returncode != 0, stopped.stdout
