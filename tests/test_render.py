"""``tripleo-ovn-metadata render``: the 3 + 3 plan from real Heat, and bad input.

The plan runs stock THT 18's role service chains and our template in a local Heat engine
(about 6 s per render), so those tests are marked slow; the bad-input ones fail early.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tripleo_ovn_metadata import cli, paths

ROOT = paths.bundle_root()
ENV = ROOT / paths.SERVICE_ENV
AGENT_IMAGE = "127.0.0.1:8787/tripleo-test/agent:42"

pytestmark = pytest.mark.skipif(
    not (paths.tht_dir() / "tools" / "process-templates.py").is_file(),
    reason="needs stock THT from tools/setup.sh",
)


@pytest.fixture(scope="module", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A new render cache, so these plans come from the engine (test_render_cache has
    the cache's own tests)."""
    stock = paths.tht_dir()  # under the default cache directory unless set
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRIPLEO_OVN_METADATA_CACHE", str(tmp_path_factory.mktemp("cache")))
        patch.setenv("TRIPLEO_OVN_METADATA_THT", str(stock))
        yield


def _main(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["-q", "render", *argv])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def plan_json() -> dict:
    code, out, err = _main("--format", "json")
    assert code == 0, err
    return json.loads(out)


@pytest.fixture(scope="module")
def plan_table() -> str:
    code, out, err = _main("-e", str(ENV), "-p", f"ContainerOvnMetadataImage={AGENT_IMAGE}")
    assert code == 0, err
    return out


def _containers(plan: dict, role: str) -> dict[str, dict]:
    (entry,) = [item for item in plan["roles"] if item["role"] == role]
    return {row["name"]: row for row in entry["containers"]}


@pytest.mark.slow
def test_json_lists_both_roles_in_roles_data_order(plan_json: dict) -> None:
    assert [item["role"] for item in plan_json["roles"]] == ["Controller", "Compute"]
    by_role = {item["role"]: item for item in plan_json["roles"]}
    assert by_role["Compute"]["ovn_metadata_agent"] is True
    assert by_role["Controller"]["ovn_metadata_agent"] is False
    assert "OS::TripleO::Services::OVNMetadataAgent" in by_role["Compute"]["services"]
    assert "OS::TripleO::Services::OVNMetadataAgent" not in by_role["Controller"]["services"]


@pytest.mark.slow
def test_compute_starts_the_agent_after_ovn_controller(plan_json: dict) -> None:
    compute = _containers(plan_json, "Compute")
    controller, agent = compute["ovn_controller"], compute["ovn_metadata_agent"]
    assert controller["step"] == agent["step"] == 4
    assert agent["start_order"] > controller["start_order"] == 1
    assert agent["depends_on"] == ["tripleo_ovn_controller.service"]
    assert compute["setup_ovs_manager"]["start_order"] < controller["start_order"]
    # the default image parameters come from tripleo-common's image prepare
    assert "neutron-metadata-agent-ovn" in agent["image"]
    assert "ovn-controller" in controller["image"]


@pytest.mark.slow
def test_controller_has_ovn_controller_but_no_agent(plan_json: dict) -> None:
    controller = _containers(plan_json, "Controller")
    assert "ovn_controller" in controller
    assert "ovn_metadata_agent" not in controller
    assert "setup_ovs_manager" not in controller


@pytest.mark.slow
def test_table_rows_and_parameter_override(plan_table: str) -> None:
    lines = plan_table.splitlines()
    assert lines[0].split() == ["ROLE", "STEP", "ORDER", "CONTAINER", "IMAGE", "DEPENDS", "ON"]
    agent = [line.split() for line in lines if "ovn_metadata_agent " in line + " "]
    assert ["Compute", "4", "2", "ovn_metadata_agent", AGENT_IMAGE,
            "tripleo_ovn_controller.service"] in agent  # fmt: skip
    assert any(line.split()[:4] == ["Controller", "4", "1", "ovn_controller"] for line in lines)
    assert "Controller: no ovn_metadata_agent" in plan_table


def _one_error_line(code: int, out: str, err: str) -> str:
    assert code == 1
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_yaml_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "broken-env.yaml"
    bad.write_text("parameter_defaults:\n  OVNMetadataEnabled: [true\n", encoding="utf-8")
    line = _one_error_line(*_main("-e", str(bad)))
    assert f"{bad}:3: YAML syntax error" in line


def test_missing_env_file_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-env.yaml"
    line = _one_error_line(*_main("-e", str(missing)))
    assert line.endswith(f"{missing}: no such file")


def test_missing_roles_file_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "roles.yaml"
    line = _one_error_line(*_main("-r", str(missing)))
    assert line.endswith(f"{missing}: no such file")


def test_unknown_parameter_option(tmp_path: Path) -> None:
    line = _one_error_line(*_main("-e", str(ENV), "-p", "OvnMetadataAgentDebugg=true"))
    assert line.endswith("error: -p OvnMetadataAgentDebugg: unknown parameter: no template "
                         "of the stock tree or the environment files declares it")  # fmt: skip


def test_unknown_parameter_in_env_file_names_file_and_line(tmp_path: Path) -> None:
    env = tmp_path / "typo-env.yaml"
    env.write_text("parameters:\n  ComputeCount: 3\n  ComputeCuont: 3\n", encoding="utf-8")
    line = _one_error_line(*_main("-e", str(ENV), "-e", str(env)))
    assert f"{env}:3: unknown parameter 'ComputeCuont'" in line
