"""The agent image's ``/openstack/healthcheck`` in a real container running the real agent
(started by kolla_start from a config.json, as deployed), against private OVS and OVN SB
servers: healthy only while the agent holds a connection to the SB and the SB answers."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tripleo_ovn_metadata import libchecks
from tripleo_ovn_metadata.procs import run

INI = "/etc/neutron/neutron_ovn_metadata_agent.ini"
VSWITCH_SCHEMA = Path("/usr/share/openvswitch/vswitch.ovsschema")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (libchecks.SCHEMAS["sb"].is_file() and VSWITCH_SCHEMA.is_file()),
                       reason="the OVS and OVN schemas are not installed"),
]


@dataclass
class Agent:
    """A running agent container and the SB server it talks to."""

    name: str
    remote: str
    sb_pidfile: Path

    def health(self) -> tuple[int, str]:
        """``podman healthcheck run``: its exit code and the line the script printed."""
        code = subprocess.run(["podman", "healthcheck", "run", self.name], capture_output=True,
                              text=True, timeout=60, check=False).returncode
        state = json.loads(run(["podman", "inspect", "--format", "{{json .State.Health}}",
                                self.name]).stdout)
        last = state["Log"][-1]
        assert (last["ExitCode"] == 0) == (code == 0), (code, last)
        return code, last["Output"].strip()

    def wait_healthy(self, within: float) -> None:
        """Healthy within ``within`` s: a loaded machine can make the agent reconnect (its
        ovsdb-server drops a connection whose inactivity probe went unanswered), and while it
        does the check rightly says no connection is held."""
        deadline = time.monotonic() + within
        while (found := self.health())[0] != 0:
            if time.monotonic() > deadline:
                logs = subprocess.run(["podman", "logs", "--tail", "20", self.name],
                                      capture_output=True, text=True, check=False)
                pytest.fail(f"never healthy: {found[1]}\n{logs.stdout}{logs.stderr}")
            time.sleep(1)

    def wait_started(self, within: float) -> None:
        """The agent's start-up sync has spawned its privsep daemon: the helper has read
        the agent's config files by then. (A test that removes the ini while a loaded
        machine still starts the agent made that helper fail, and the agent with it.)"""
        deadline = time.monotonic() + within
        while True:
            logs = subprocess.run(["podman", "logs", self.name], capture_output=True,
                                  text=True, check=False)
            if "Spawned new privsep daemon" in logs.stdout + logs.stderr:
                return
            if time.monotonic() > deadline:
                pytest.fail(f"no privsep daemon within {within:.0f} s\n"
                            f"{(logs.stdout + logs.stderr)[-3000:]}")
            time.sleep(1)

    def as_root(self, script: str) -> None:
        run(["podman", "exec", "--user", "root", self.name, "sh", "-c", script])

    def sb_pid(self) -> int:
        return int(self.sb_pidfile.read_text().strip())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _certificates(root: Path) -> dict[str, Path]:
    """A throwaway CA and the SB server's and the agent's certificates (openssl)."""
    files = {name: root / name for name in ("ca.key", "ca.crt")}
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=tom-hc-ca", "-keyout", str(files["ca.key"]), "-out", str(files["ca.crt"])])
    for who in ("sb", "agent"):
        key, csr, crt = (root / f"{who}.{ext}" for ext in ("key", "csr", "crt"))
        run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN=tom-hc-{who}",
             "-keyout", str(key), "-out", str(csr)])
        run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(files["ca.crt"]),
             "-CAkey", str(files["ca.key"]), "-CAcreateserial", "-days", "2", "-out", str(crt)])
        key.chmod(0o644)  # test keys; the agent (uid neutron) reads its own through the mount
        files[f"{who}.key"], files[f"{who}.crt"] = key, crt
    return files


def _ini(root: Path, remote: str, tls: dict[str, Path]) -> str:
    ssl_keys = "" if not tls else (
        f"ovn_sb_private_key = {tls['agent.key']}\n"
        f"ovn_sb_certificate = {tls['agent.crt']}\n"
        f"ovn_sb_ca_cert = {tls['ca.crt']}\n")
    return (
        "[DEFAULT]\nstate_path = /var/lib/neutron\nnova_metadata_host = 127.0.0.1\n"
        "nova_metadata_port = 9\nmetadata_proxy_shared_secret = tom-hc-not-a-secret\n"
        "metadata_workers = 1\n"
        "[agent]\nroot_helper = sudo neutron-rootwrap /etc/neutron/rootwrap.conf\n"
        f"[ovs]\novsdb_connection = unix:{root}/ovs.sock\n"
        f"[ovn]\novn_sb_connection = {remote}\n{ssl_keys}")


@pytest.fixture
def agent(request: pytest.FixtureRequest, built_images: dict[str, str]) -> Iterator[Agent]:
    """The agent image's container on a private OVS db and SB (request.param: transport)."""
    transport = request.param
    root = Path(tempfile.mkdtemp(prefix="tom-hc-"))
    root.chmod(0o711)
    name = f"tom-hc-{uuid.uuid4().hex[:8]}"
    started: list[Path] = []
    try:
        started.append(libchecks.start_server(root, "ovs", VSWITCH_SCHEMA,
                                              [f"punix:{root}/ovs.sock"]))
        tls = _certificates(root) if transport == "ssl" else {}
        port = _free_port()
        listen, remote, extra = {
            "tcp": (f"ptcp:{port}:127.0.0.1", f"tcp:127.0.0.1:{port}", []),
            "ssl": (f"pssl:{port}:127.0.0.1", f"ssl:127.0.0.1:{port}",
                    [f"--private-key={tls.get('sb.key')}", f"--certificate={tls.get('sb.crt')}",
                     f"--ca-cert={tls.get('ca.crt')}"]),
            "unix": (f"punix:{root}/sb.sock", f"unix:{root}/sb.sock", []),
        }[transport]
        started.append(libchecks.start_server(root, "sb", libchecks.SCHEMAS["sb"],
                                              [listen, f"punix:{root}/sb-admin.sock"], extra))
        for sock in root.glob("*.sock"):
            sock.chmod(0o666)
        # What ovn-controller would have set and created for this chassis.
        chassis = str(uuid.uuid4())
        vsctl = ["ovs-vsctl", f"--db=unix:{root}/ovs.sock", "--no-wait"]
        run([*vsctl, "init"])
        run([*vsctl, "set", "open_vswitch", ".", f"external_ids:system-id={chassis}",
             "external_ids:hostname=tom-hc", "external_ids:ovn-bridge=br-tomhc"])
        sbctl = ["ovn-sbctl", f"--db=unix:{root}/sb-admin.sock"]
        run([*sbctl, "chassis-add", chassis, "geneve", "127.0.0.1"])
        row = run([*sbctl, "--bare", "--columns=_uuid", "find", "Chassis",
                   f"name={chassis}"]).stdout.strip()
        run([*sbctl, "create", "Chassis_Private", f"name={chassis}", f"chassis={row}"])
        # kolla's start contract, as deployed: config.json copies src/ to / and sets owners.
        src = root / "src" / "etc" / "neutron"
        src.mkdir(parents=True)
        (src / Path(INI).name).write_text(_ini(root, remote, tls))
        (root / "config.json").write_text(json.dumps({
            "command": "/usr/bin/neutron-ovn-metadata-agent --config-file "
                       f"/etc/neutron/neutron.conf --config-file {INI}",
            "config_files": [{"source": "/var/lib/kolla/config_files/src/*", "dest": "/",
                              "merge": True, "preserve_properties": True}],
            "permissions": [{"path": "/etc/neutron", "owner": "neutron:neutron",
                             "recurse": True}],
        }))
        for path in (root / "src", *(root / "src").rglob("*"), root / "config.json"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        run(["podman", "run", "--detach", "--name", name, "--tls-verify=false", "--net", "host",
             "--privileged", "--health-cmd", "/openstack/healthcheck",
             "--env", "KOLLA_CONFIG_STRATEGY=COPY_ALWAYS",
             "-v", f"{root}/config.json:/var/lib/kolla/config_files/config.json:ro",
             "-v", f"{root}/src:/var/lib/kolla/config_files/src:ro",
             "-v", f"{root}:{root}", built_images["ContainerOvnMetadataImage"]], timeout=600)
        found = Agent(name, remote, root / "sb.pid")
        found.wait_healthy(90)
        found.wait_started(90)
        yield found
    finally:
        subprocess.run(["podman", "rm", "--force", "--time", "2", name], capture_output=True,
                       check=False)
        for pidfile in started:
            libchecks.stop_server(pidfile)
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("agent", ["tcp", "ssl", "unix"], indirect=True)
def test_healthy_only_while_the_sb_answers(agent: Agent) -> None:
    code, line = agent.health()
    assert code == 0, line
    assert f"connected to {agent.remote}; {agent.remote} serves OVN_Southbound" in line

    os.kill(agent.sb_pid(), signal.SIGSTOP)  # hung: the connection stays, nothing answers
    try:
        code, line = agent.health()
        assert code == 1 and line.startswith("OVN southbound unreachable: "), line
    finally:
        os.kill(agent.sb_pid(), signal.SIGCONT)
    agent.wait_healthy(30)

    libchecks.stop_server(agent.sb_pidfile)  # stopped: the agent loses its connection
    code, line = agent.health()
    assert code == 1, line
    assert line == f"neutron-ovn-metadata-agent holds no established connection to {agent.remote}"


@pytest.mark.parametrize("agent", ["tcp"], indirect=True)
def test_unhealthy_without_the_ini_or_its_sb_connection(agent: Agent) -> None:
    agent.as_root(f"cp -p {INI} {INI}.orig && sed -i '/^ovn_sb_connection/d' {INI}")
    assert agent.health() == (1, f"{INI}: [ovn] ovn_sb_connection is not set")
    agent.as_root(f"rm {INI}")
    assert agent.health() == (1, f"{INI}: missing")
    agent.as_root(f"cp -p {INI}.orig {INI}")
    agent.wait_healthy(30)
