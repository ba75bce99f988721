"""End to end on this machine: deploy -> verify -> redeploy (no-op) -> config change -> destroy.

Real everything: the fixture's OVS/OVN daemons and stub Nova, real Heat, Puppet, the
images from the local registry, Ansible with containers.podman, the agent in podman and
a VM in a network namespace. After destroy nothing of it may be left: no containers, no
namespaces, no bridges, no listeners on the fixture's ports.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path

import pytest

from tripleo_ovn_metadata import deploy, paths, secrets, verify

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

        checked = tool("verify")
        outputs.append(checked.stdout + checked.stderr)
        assert checked.returncode == 0, checked.stdout + checked.stderr[-2000:]
        assert "FAIL" not in checked.stdout.replace("0 failed", "")
        # Sidecars are on by default: one per network, kept across the agent's restart
        # with no failed request, and stopped with their network.
        for row in (verify.SIDECAR_CHECK, verify.RESTART_CHECK, verify.REMOVAL_CHECK):
            assert re.search(rf"^PASS +{re.escape(row)}", checked.stdout, re.MULTILINE), row
        assert re.search(r"0 of \d+ requests failed, outage 0\.0 s, slowest [\d.]+ s; "
                         r"sidecar kept, 1 haproxy for the network", checked.stdout), checked.stdout
        last = checked.stdout.strip().splitlines()[-1]
        assert last.startswith("instance-id fetched through the agent: ")
        assert UUID.fullmatch(last.rsplit(" ", 1)[1])

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
    assert "metadata_proxy_shared_secret=********" in (bundle / "agent-config.txt").read_text()
    for path in bundle.iterdir():
        assert secret not in path.read_text(), path


def test_verify_without_deploy_is_one_line() -> None:
    assert not deploy.read_record()
    result = tool("verify")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "tripleo-ovn-metadata verify: error: nothing is deployed (run tripleo-ovn-metadata "
        "deploy first)"
    ]
