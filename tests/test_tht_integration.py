"""Real Heat with stock tripleo-heat-templates 18.0.0, our env file and our 3 + 3 roles.

(a) The whole overcloud validates in a dry run (``stack create --dry-run`` / preview) in
    an in-process Heat engine, and a broken copy of our template is caught in it.
(b) The overcloud stack is created in a local heat-all and tripleo-common's
    config-download is generated from it: our containers are in Compute's step 4 startup
    config after ovn_controller, and on no Controller; our Puppet module's deploy artifact
    (``puppet-artifact``'s env file) reaches the host prep step that pushes it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tripleo_ovn_metadata import artifact, heat_all, heat_engine, paths, render, tht
from tripleo_ovn_metadata.errors import InputError, ToolError

ROOT = paths.bundle_root()
ROLES = ROOT / paths.ROLES_DATA
ENV = ROOT / paths.SERVICE_ENV

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (paths.tht_dir() / "tools" / "process-templates.py").is_file(),
        reason="needs stock THT from tools/setup.sh",
    ),
]


def _request(processed: Path, env_files: list[Path]) -> tht.HeatRequest:
    roles = render.load_roles(ROLES)
    _files, env = tht.merged_environment([processed / tht.REGISTRY, *env_files])
    return tht.overcloud_request(processed, roles, env_files, render.generated_defaults(env, roles))


@pytest.fixture(scope="module")
def processed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    out = tht.process_templates(ROLES, tmp_path_factory.mktemp("tht") / "overcloud")
    yield out
    shutil.rmtree(out, ignore_errors=True)


def _flatten(resources: list) -> list[dict]:
    flat: list[dict] = []
    for item in resources:
        flat.extend(_flatten(item) if isinstance(item, list) else [item])
    return flat


def test_overcloud_preview_validates(processed: Path) -> None:
    request = _request(processed, [ENV])
    preview = heat_engine.run(
        "preview", "overcloud", request.template, request.env, request.files,
        source=request.source,
    )  # fmt: skip
    resources = _flatten(preview["resources"])
    servers = sorted(r["stack_name"] for r in resources if r["resource_type"] ==
                     "OS::Heat::DeployedServer")  # fmt: skip
    assert servers == [f"overcloud-{role}-{i}-{role}" for role in ("Compute", "Controller")
                       for i in range(3)]  # fmt: skip
    assert preview["parameters"]["ComputeCount"] == "3"
    assert preview["parameters"]["ControllerCount"] == "3"


def test_overcloud_preview_catches_a_broken_agent_template(processed: Path, tmp_path: Path) -> None:
    """A typo in our template fails the dry run at its place in the Compute chain."""
    bundle = tmp_path / "bundle"
    shutil.copytree(ROOT / "deployment", bundle / "deployment")
    shutil.copytree(ROOT / "environments", bundle / "environments")
    template = bundle / paths.SERVICE_TEMPLATE
    text = template.read_text(encoding="utf-8")
    typo = "if: [internal_tls_enabled, 'https', 'http']"
    assert typo in text
    template.write_text(
        text.replace(typo, "if: [internal_tls_enable, 'https', 'http']"), encoding="utf-8"
    )
    request = _request(processed, [bundle / paths.SERVICE_ENV])
    with pytest.raises(InputError) as caught:
        heat_engine.run(
            "preview", "overcloud", request.template, request.env, request.files,
            source=request.source,
        )  # fmt: skip
    message = str(caught.value)
    assert message.startswith(f"{processed / 'overcloud.yaml'}: Heat: ")
    assert "ComputeServiceChain" in message
    assert "ovn-metadata-container-puppet.yaml" in message
    assert "internal_tls_enable" in message
    assert "\n" not in message


@pytest.fixture(scope="module")
def artifact_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The env file ``puppet-artifact --env-file`` writes (DeployArtifactFILEs)."""
    where = tmp_path_factory.mktemp("artifact")
    built = artifact.build(where / artifact.DEFAULT_OUTPUT.name)
    artifact.write_env_file(where / "puppet-artifact.yaml", built.path)
    return where / "puppet-artifact.yaml"


@pytest.fixture(scope="module")
def config_download(
    processed: Path, artifact_env: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """Create the overcloud in heat-all (~6 min) and config-download it; removed after."""
    request = _request(processed, [ENV, artifact_env])
    out = tmp_path_factory.mktemp("config-download")
    with heat_all.HeatAll() as heat:
        heat.create_stack(tht.STACK_NAME, request)
        heat.download_config(tht.STACK_NAME, out)
    yield out
    shutil.rmtree(out, ignore_errors=True)  # it holds the generated passwords


def _yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def test_compute_step4_starts_agent_after_ovn_controller(config_download: Path) -> None:
    step4 = _yaml(config_download / "Compute" / "docker_config.yaml")["step_4"]
    controller = step4["ovn_controller"]
    agent, manager = step4["ovn_metadata_agent"], step4["setup_ovs_manager"]
    assert manager["start_order"] < controller["start_order"] < agent["start_order"]
    assert agent["depends_on"] == ["tripleo_ovn_controller.service"]
    assert agent["healthcheck"] == {"test": "/openstack/healthcheck"}
    assert "ovn_metadata" in _yaml(config_download / "group_vars" / "Compute")["service_names"]


def test_no_controller_runs_the_agent(config_download: Path) -> None:
    docker_config = _yaml(config_download / "Controller" / "docker_config.yaml")
    names = {name for step in docker_config.values() for name in (step or {})}
    assert "ovn_controller" in names
    assert not names & {"ovn_metadata_agent", "setup_ovs_manager"}
    services = _yaml(config_download / "group_vars" / "Controller")["service_names"]
    assert "ovn_metadata" not in services
    assert "ovn_controller" in services


def _tasks(value: object) -> Iterator[dict]:
    """Every mapping in a loaded playbook (tasks, blocks, plays)."""
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _tasks(item)
    elif isinstance(value, list):
        for item in value:
            yield from _tasks(item)


def test_deploy_artifact_reaches_the_host_prep_push(
    config_download: Path, artifact_env: Path
) -> None:
    """THT 18 hands DeployArtifactFILEs to the host prep task running tripleo_push_artifacts."""
    wanted = yaml.safe_load(artifact_env.read_text())["parameter_defaults"]["DeployArtifactFILEs"]
    assert _yaml(config_download / "global_vars.yaml")["deploy_artifact_files"] == wanted
    pushes = [
        task["tripleo_push_artifacts"]
        for path in sorted(config_download.glob("deploy_steps*.yaml"))
        for task in _tasks(yaml.safe_load(path.read_text(encoding="utf-8")))
        if "tripleo_push_artifacts" in task
    ]
    assert pushes and all("deploy_artifact_files" in push["artifact_paths"] for push in pushes)


def test_render_plan_matches_config_download(config_download: Path) -> None:
    """``render``'s quick plan agrees with the full overcloud on the OVN containers."""
    plans = {item.role: item for item in render.render_plan(env_files=[ENV])}
    for role in ("Compute", "Controller"):
        docker_config = _yaml(config_download / role / "docker_config.yaml")
        for row in plans[role].containers:
            spec = docker_config[f"step_{row.step}"][row.name]
            assert row.start_order == (spec.get("start_order") or 0), row
            assert row.depends_on == (spec.get("depends_on") or []), row
            assert row.image == spec["image"], row


def test_deploy_playbook_runs_host_prep_and_steps(config_download: Path) -> None:
    playbook = yaml.safe_load(
        (config_download / "deploy_steps_playbook.yaml").read_text(encoding="utf-8")
    )
    imported = [item["import_playbook"] for item in playbook]
    assert "deploy_steps_host_prep_playbook.yaml" in imported
    assert all((config_download / name).is_file() for name in imported)


def test_deploy_playbook_passes_ansible_syntax_check(config_download: Path) -> None:
    """The generated playbooks parse with tripleo-ansible's modules and roles."""
    tht.syntax_check(config_download)


def test_syntax_check_catches_an_unknown_module(config_download: Path, tmp_path: Path) -> None:
    copy = tmp_path / "config-download"
    shutil.copytree(config_download, copy)
    (copy / "bad.yaml").write_text(
        "- hosts: localhost\n  tasks:\n    - tripleo_no_such_module: {}\n", encoding="utf-8"
    )
    with (copy / "deploy_steps_playbook.yaml").open("a", encoding="utf-8") as playbook:
        playbook.write("- import_playbook: bad.yaml\n")
    with pytest.raises(ToolError, match="--syntax-check failed"):
        tht.syntax_check(copy)
