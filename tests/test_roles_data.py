"""roles/ and the roles_data.yaml generated from them with the real python-tripleoclient."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tripleo_ovn_metadata import paths, resolve, yamlio

ROOT = paths.bundle_root()
THT = paths.tht_dir()
AGENT = "OS::TripleO::Services::OVNMetadataAgent"
CONTROLLER = "OS::TripleO::Services::OVNController"


def roles(name: str) -> list[dict]:
    data = yamlio.load(ROOT / "roles" / f"{name}.yaml")
    assert isinstance(data, list) and len(data) == 1
    return data


@pytest.mark.skipif(not (ROOT / ".venv/bin/openstack").exists(), reason="needs tools/setup.sh")
def test_roles_data_is_up_to_date(tmp_path: Path) -> None:
    out = tmp_path / "roles_data.yaml"
    subprocess.run([str(ROOT / "tools/generate-roles-data.sh"), str(out)], check=True,
                   capture_output=True, text=True, timeout=120)
    committed = (ROOT / "roles_data.yaml").read_text()
    assert out.read_text() == committed, "stale: run tools/generate-roles-data.sh"


@pytest.mark.parametrize("name", ["Controller", "Compute"])
def test_role_file_format(name: str) -> None:
    (role,) = roles(name)
    text = (ROOT / "roles" / f"{name}.yaml").read_text()
    assert text.startswith("#" * 79 + f"\n# Role: {name}")
    assert role["name"] == name
    assert role["CountDefault"] == 3
    for key in ("description", "tags", "networks", "HostnameFormatDefault", "update_serial"):
        assert key in role, f"{name} lacks {key}"
    assert len(set(role["ServicesDefault"])) == len(role["ServicesDefault"])


def test_agent_runs_on_compute_only() -> None:
    (compute,) = roles("Compute")
    (controller,) = roles("Controller")
    assert {AGENT, CONTROLLER} <= set(compute["ServicesDefault"])
    assert {"OS::TripleO::Services::OVNDBs", CONTROLLER} <= set(controller["ServicesDefault"])
    assert AGENT not in controller["ServicesDefault"]


@pytest.mark.skipif(not (THT / resolve.STOCK_REGISTRY).is_file(), reason="needs stock THT")
@pytest.mark.parametrize("name", ["Controller", "Compute"])
def test_every_alias_is_a_stock_registry_entry(name: str) -> None:
    registry = resolve.stock_registry(THT)
    (role,) = roles(name)
    missing = [alias for alias in role["ServicesDefault"] if alias not in registry]
    assert missing == []
