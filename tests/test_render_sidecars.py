"""OVNEnableHaproxyDockerWrapper on and off, as real Heat evaluates the service template."""

from __future__ import annotations

from typing import Any

import pytest

from tripleo_ovn_metadata import paths, render

AGENT_IMAGE = "127.0.0.1:8787/tripleo-test/agent:42"
WRAPPER_MOUNT = (
    "/var/lib/config-data/puppet-generated/neutron/etc/neutron/ovn_metadata_haproxy_wrapper"
    ":/usr/local/bin/haproxy:ro"
)
SIDECAR = "tripleo_ovn_metadata::profile::haproxy_sidecar::"

pytestmark = pytest.mark.skipif(
    not (paths.tht_dir() / "tools" / "process-templates.py").is_file(),
    reason="needs stock THT from tools/setup.sh",
)


def _role_data(**parameters: Any) -> dict[str, Any]:
    return render.render_role_data(
        "Compute", env_files=[paths.bundle_root() / paths.SERVICE_ENV],
        parameters={"NeutronMetadataProxySharedSecret": "s", "ContainerOvnMetadataImage":
                    AGENT_IMAGE, "ContainerNeutronConfigImage": AGENT_IMAGE, **parameters},
    )  # fmt: skip


@pytest.fixture(scope="module")
def on() -> dict[str, Any]:
    return _role_data()


@pytest.fixture(scope="module")
def off() -> dict[str, Any]:
    return _role_data(OVNEnableHaproxyDockerWrapper=False)


def test_on_by_default_mounts_the_wrapper_and_sets_the_hiera(on: dict[str, Any]) -> None:
    agent = on["docker_config"]["step_4"]["ovn_metadata_agent"]
    assert WRAPPER_MOUNT in agent["volumes"]
    assert "/run/netns:/run/netns:shared" in agent["volumes"]
    assert agent["pid"] == "host" and agent["privileged"] is True
    settings = on["config_settings"]
    assert settings[SIDECAR + "enable"] is True
    assert settings[SIDECAR + "image"] == AGENT_IMAGE  # the sidecars run the agent's image
    assert settings[SIDECAR + "debug"] is False
    assert "ovn_metadata_haproxy_sidecar" in on["puppet_config"]["puppet_tags"].split(",")
    perms = on["kolla_config"]["/var/lib/kolla/config_files/ovn_metadata_agent.json"]
    paths_ = [p["path"] for p in perms["permissions"]]
    # root owns the kill script privsep runs, after the agent's user got /etc/neutron
    assert paths_.index("/etc/neutron/kill_scripts") > paths_.index("/etc/neutron")
    names = [task["name"] for task in on["host_prep_tasks"]]
    assert "Find haproxy sidecars that were created but never started" in names


def test_off_mounts_nothing_and_disables_the_class(
    on: dict[str, Any], off: dict[str, Any]
) -> None:
    agent = off["docker_config"]["step_4"]["ovn_metadata_agent"]
    assert WRAPPER_MOUNT not in agent["volumes"]
    assert off["config_settings"][SIDECAR + "enable"] is False
    on_volumes = on["docker_config"]["step_4"]["ovn_metadata_agent"]["volumes"]
    assert sorted(on_volumes) == sorted([*agent["volumes"], WRAPPER_MOUNT])


def test_agent_debug_traces_the_scripts() -> None:
    assert _role_data(OvnMetadataAgentDebug=True)["config_settings"][SIDECAR + "debug"] is True
