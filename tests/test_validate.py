"""``tripleo-ovn-metadata validate`` on the bundle and on broken copies of it.

Each broken variant copies the bundle to a temporary directory, changes one thing and
expects exactly that problem, reported as ``file:line: ERROR rule-id: ...``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tripleo_ovn_metadata import artifact, cli, paths

ROOT = paths.bundle_root()
TEMPLATE = "deployment/ovn/ovn-metadata-container-puppet.yaml"
ENV = "environments/services/neutron-ovn-metadata.yaml"
ROLES = "roles_data.yaml"
THT = paths.tht_dir()

pytestmark = pytest.mark.skipif(
    not (THT / "overcloud-resource-registry-puppet.j2.yaml").is_file(),
    reason="needs stock THT from tools/setup.sh",
)


@pytest.fixture
def bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the bundle as the working directory and bundle root."""
    for name in ("deployment", "environments", "roles"):
        shutil.copytree(ROOT / name, tmp_path / name)
    shutil.copy(ROOT / ROLES, tmp_path / ROLES)
    shutil.copy(ROOT / paths.SERVICE_TEMPLATE, tmp_path / TEMPLATE)
    monkeypatch.setenv("TRIPLEO_OVN_METADATA_BUNDLE", str(tmp_path))
    monkeypatch.setenv("TRIPLEO_OVN_METADATA_THT", str(THT))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def mutate(bundle: Path, rel: str, old: str, new: str) -> int:
    """Replace ``old`` (which must occur once) in a bundle file; return the new text's line."""
    path = bundle / rel
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {rel}"
    path.write_text(text.replace(old, new))
    return text[: text.index(old)].count("\n") + 1 + (len(new) - len(new.lstrip("\n")))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    code = cli.main(["-q", "validate", *argv])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def findings(lines: list[str]) -> list[str]:
    return [line for line in lines if ": ERROR " in line or ": WARNING " in line]


def _step_config_line() -> int:
    text = (ROOT / TEMPLATE).read_text()
    return text[: text.index("        step_config: |\n")].count("\n") + 1


def _not_delivered(line: int) -> str:
    return (f"{TEMPLATE}:{line}: WARNING puppet-module-delivery: step_config class "
            "tripleo_ovn_metadata::profile::ovn_metadata needs Puppet module tripleo_ovn_metadata,"
            " which stock images lack and no env file delivers")


@pytest.fixture(scope="module")
def artifact_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The env file ``puppet-artifact --env-file`` writes, and its tarball."""
    where = tmp_path_factory.mktemp("artifact")
    built = artifact.build(where / "puppet-modules.tar.gz")
    artifact.write_env_file(where / "puppet-artifact.yaml", built.path)
    return where / "puppet-artifact.yaml"


def test_the_bundle_passes_but_its_module_is_not_delivered(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Its env files alone do not ship our Puppet module: that takes the artifact's."""
    code, out, err = run(capsys)
    assert (code, err) == (0, "")
    hits = findings(out)
    assert len(hits) == 1 and hits[0].startswith(_not_delivered(_step_config_line())), hits
    assert "tripleo-ovn-metadata puppet-artifact --env-file" in hits[0]
    assert out[-1].endswith("0 errors, 1 warnings")


def test_the_bundle_passes_when_named_explicitly(
    artifact_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, str(ROOT / TEMPLATE), str(ROOT / ENV), "-e", str(ROOT / ENV),
                       "-e", str(artifact_env), "-r", str(ROOT / ROLES))
    assert (code, findings(out)) == (0, [])
    assert out[-1].startswith("4 files checked")


def test_module_in_image_counts_as_delivered(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--module-in-image", "tripleo_ovn_metadata")
    assert (code, findings(out)) == (0, [])


def test_artifact_without_our_module_and_unreadable_url_still_warn(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other_module"
    (other / "manifests").mkdir(parents=True)
    (other / "manifests/init.pp").write_text("class other_module {}\n")
    built = artifact.build(tmp_path / "other.tar.gz", other)
    env = tmp_path / "artifacts.yaml"
    env.write_text(f"parameter_defaults:\n  DeployArtifactFILEs: [{built.path}]\n"
                   "  DeployArtifactURLs: http://192.0.2.1/a.tar.gz\n")
    code, out, _ = run(capsys, "-e", str(ROOT / ENV), "-e", str(env), "-r", str(ROOT / ROLES))
    hits = findings(out)
    assert code == 0 and len(hits) == 1, hits
    where = f"ovn-metadata-container-puppet.yaml:{_step_config_line()}: WARNING "
    assert f"{where}puppet-module-delivery: " in hits[0]
    assert ("needs Puppet module tripleo_ovn_metadata, which stock images lack and no env file "
            "delivers (http://192.0.2.1/a.tar.gz could not be read here): ") in hits[0]


BROKEN = [
    pytest.param(TEMPLATE, "        step_4:\n", "        step4:\n", "docker-steps", "'step4'",
                 id="wrong-step-name"),
    pytest.param(TEMPLATE, "            start_order: 2\n", "            start_order: 1\n",
                 "agent-ordering", "start_order 1 must be greater than ovn_controller's 1",
                 id="agent-start-order-not-after-controller"),
    pytest.param(TEMPLATE,
                 "            depends_on:\n              - tripleo_ovn_controller.service\n",
                 "            depends_on:\n              - openvswitch.service\n", "agent-ordering",
                 "depends_on does not name tripleo_ovn_controller.service",
                 id="agent-depends-on-lacks-ovn-controller"),
    pytest.param(TEMPLATE, "        step_4:\n", "        step_3:\n", "agent-ordering",
                 "starts in step_3, before ovn_controller (step_4)", id="agent-in-earlier-step"),
    pytest.param(TEMPLATE, "                  - /run/netns:/run/netns:shared\n",
                 "                  - /run/netns/:/run/netns:shared\n", "volume-syntax",
                 "source ends in '/'", id="trailing-slash-in-volume"),
    pytest.param(TEMPLATE, "      update_tasks: []\n", "      update_tasks: {}\n",
                 "empty-task-list", "update_tasks is an empty mapping", id="empty-dict-task-list"),
    pytest.param(TEMPLATE, "            restart: always\n", "            restart_policy: always\n",
                 "container-keys", "unknown key 'restart_policy'", id="unknown-container-key"),
    pytest.param(TEMPLATE, "            privileged: true\n            restart: always\n",
                 "            privileged: 'yes'\n            restart: always\n", "container-keys",
                 "privileged must be a boolean", id="container-key-wrong-type"),
    pytest.param(TEMPLATE, "neutron::host: \"%{lookup('fqdn_canonical')}\"",
                 "neutron::host: \"%{lookup('fqdn_internal_api')}\"",
                 "agent-hostname", "differs from ovn::controller::hostname",
                 id="hostname-mismatch"),
    pytest.param(TEMPLATE, "  OVNSouthboundServerPort:\n    description: Port of the OVN "
                 "Southbound DB server\n    type: number\n    default: 6642\n",
                 "  OVNSouthboundServerPort:\n    description: Port of the OVN "
                 "Southbound DB server\n    type: number\n    default: 6643\n",
                 "param-definitions",
                 "OVNSouthboundServerPort differs from stock", id="param-differs-from-stock"),
    pytest.param(TEMPLATE, "      service_name: ovn_metadata\n", "      service_name: metadata\n",
                 "service-name", "should start with 'ovn_metadata'", id="service-name-prefix"),
    pytest.param(TEMPLATE, "heat_template_version: wallaby\n",
                 "heat_template_version: 2016-10-14\n", "template-version", "not allowed",
                 id="template-version"),
    pytest.param(TEMPLATE, "      update_tasks: []\n", "      update_task: []\n",
                 "role-data-sections", "'update_task' is not one config-download reads",
                 id="unknown-role-data-section"),
    pytest.param(TEMPLATE, "        puppet_tags: neutron_config,",
                 "        puppet_tag: neutron_config,", "puppet-config",
                 "puppet_config key 'puppet_tag' is unknown", id="puppet-config-key"),
    pytest.param(TEMPLATE, "          when:\n            - step|int == 2\n",
                 "          when:\n            - true\n            - step|int == 2\n",
                 "upgrade-when", "put 'step|int == N' first", id="upgrade-when-order"),
    pytest.param(ENV, ": ../../deployment/ovn/", ": ../deployment/ovn/", "env-registry",
                 "which does not exist", id="env-registry-target-missing"),
    pytest.param(ROLES, "    - OS::TripleO::Services::OVNMetadataAgent\n",
                 "    - OS::TripleO::Services::OVNMetadataAgnet\n", "service-alias",
                 "OVNMetadataAgnet has no resource_registry entry", id="roles-alias-unmapped"),
]


@pytest.mark.parametrize(("rel", "old", "new", "rule", "message"), BROKEN)
def test_broken_variant_is_reported_with_file_line_and_rule(
    bundle: Path, capsys: pytest.CaptureFixture[str],
    rel: str, old: str, new: str, rule: str, message: str,
) -> None:  # fmt: skip
    line = mutate(bundle, rel, old, new)
    code, out, err = run(capsys)
    assert code == 1, out
    assert err == ""
    expected = f"{rel}:{line}: ERROR {rule}: "
    hits = [f for f in findings(out) if f.startswith(expected)]
    assert hits, f"no {expected}... in:\n" + "\n".join(out)
    assert message in hits[0]


def test_agent_without_depends_on(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mutate(bundle, TEMPLATE, "            depends_on:\n              - tripleo_ovn_controller"
           ".service\n", "")
    agent = "          ovn_metadata_agent:\n"
    line = mutate(bundle, TEMPLATE, agent, agent)
    code, out, _ = run(capsys)
    assert code == 1
    assert f"{TEMPLATE}:{line}: ERROR agent-ordering: ovn_metadata_agent depends_on does not " \
        "name tripleo_ovn_controller.service (role Compute)" in out


def test_missing_standard_parameter(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mutate(bundle, TEMPLATE, "  RoleName:\n    default: ''\n    description: Role name on which "
           "the service is applied\n    type: string\n", "")
    line = mutate(bundle, TEMPLATE, "\nparameters:\n", "\nparameters:\n")
    code, out, _ = run(capsys)
    assert code == 1
    assert f"{TEMPLATE}:{line}: ERROR standard-params: service template does not declare " \
        "parameter RoleName" in out


def test_wrong_config_image_parameter(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = bundle / TEMPLATE
    text = path.read_text()
    path.write_text(text.replace("ContainerNeutronConfigImage", "ContainerNeutronImage"))
    code, out, _ = run(capsys)
    assert code == 1
    hits = [f for f in findings(out) if " ERROR config-image-param: " in f]
    assert hits and all(f.startswith(f"{TEMPLATE}:") for f in hits)
    assert any("needs parameter ContainerNeutronConfigImage, which is not declared" in f
               for f in hits)
    assert any("config_image should read ContainerNeutronConfigImage" in f for f in hits)


def test_yaml_syntax_error_is_one_line(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with (bundle / TEMPLATE).open("a") as out:
        out.write("broken: [unclosed\n")
    code, out, err = run(capsys)
    assert (code, out) == (1, [])
    assert err.count("\n") == 1
    assert err.startswith(f"tripleo-ovn-metadata validate: error: {bundle / TEMPLATE}:")
    assert "YAML syntax error" in err


def test_missing_file_is_one_line(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "no/such.yaml")
    assert (code, out) == (1, [])
    assert err == "tripleo-ovn-metadata validate: error: no/such.yaml: no such file or directory\n"


def test_missing_env_file_is_one_line(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, TEMPLATE, "-e", "nope.yaml")
    assert (code, out) == (1, [])
    assert err == "tripleo-ovn-metadata validate: error: nope.yaml: no such file\n"


def test_unknown_option_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["validate", "--no-such-option"])
    assert exit_info.value.code == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and "--no-such-option" in err


def test_without_stock_tree_warns_once(
    bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-tht"
    code, out, _ = run(capsys, "--tht", str(missing))
    assert code == 0
    assert [f for f in findings(out) if "param-definitions" in f] == [
        f"{missing}: WARNING param-definitions: stock tripleo-heat-templates "
        "not found; parameter definitions not compared (run tools/setup.sh or pass --tht)"]


def test_directory_walk_skips_j2_templates(
    bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (bundle / "deployment" / "ovn" / "x.j2.yaml").write_text("{% if %}: [\n")
    code, out, _ = run(capsys, "deployment")
    assert code == 0
    assert out[-1].startswith("1 files checked")
