"""The validate rules one by one: their contract, and small cases each rule decides."""

from __future__ import annotations

from pathlib import Path

import pytest

from tripleo_ovn_metadata import hot, paths, resolve, validate, yamlio
from tripleo_ovn_metadata.rules import (
    RULES,
    config_image_param,
    container_keys,
    volume_syntax,
)

THT = paths.tht_dir()
needs_stock = pytest.mark.skipif(
    not (THT / resolve.STOCK_REGISTRY).is_file(), reason="needs stock THT from tools/setup.sh"
)


def test_every_rule_has_the_module_contract() -> None:
    ids = [rule.ID for rule in RULES]
    assert len(ids) == len(set(ids))
    for rule in RULES:
        assert rule.TYPE in ("template", "env", "roles", "bundle"), rule.ID
        assert rule.LEVEL in (validate.ERROR, validate.WARNING), rule.ID
        assert callable(rule.check), rule.ID
        doc = rule.__doc__ or ""
        assert "PASS" in doc and "FAIL" in doc, f"{rule.ID} docstring lacks PASS/FAIL examples"


@pytest.mark.parametrize(
    ("spec", "wrong"),
    [
        ("/var/lib/neutron:/var/lib/neutron:shared,z", None),
        ("/run/netns:/run/netns:shared", None),
        ("mysql_data:/var/lib/mysql", None),
        ("/etc/hosts:/etc/hosts:ro", None),
        ("/var/lib/neutron/:/var/lib/neutron", "source ends in '/'"),
        ("/var/lib/neutron:/var/lib/neutron/:z", "destination ends in '/'"),
        ("/var/lib/neutron", "is not src:dst[:options]"),
        ("/a:/b:ro:z", "is not src:dst[:options]"),
        ("/a:b", "destination is not an absolute path"),
        ("/a:/b:ro,sharedd", "unknown option(s) sharedd"),
    ],
)
def test_volume_spec(spec: str, wrong: str | None) -> None:
    found = volume_syntax.problem(spec)
    assert (found is None) if wrong is None else (found is not None and wrong in found)


@pytest.mark.parametrize(
    ("volume", "param"),
    [
        ("neutron", "ContainerNeutronConfigImage"),
        ("ovn_controller", "ContainerOvnControllerConfigImage"),
        ("haproxy", "ContainerHAProxyConfigImage"),
    ],
)
def test_config_image_parameter_name(volume: str, param: str) -> None:
    assert config_image_param.expected_param(volume) == param


@pytest.mark.parametrize(
    ("key", "value", "ok"),
    [
        ("restart", "always", True),
        ("restart", "on-failure:3", True),
        ("restart", "sometimes", False),
        ("start_order", 2, True),
        ("start_order", "2", False),
        ("start_order", True, False),
        ("privileged", True, True),
        ("privileged", "true", False),
        ("depends_on", ["tripleo_ovn_controller.service"], True),
        ("depends_on", ["tripleo_nova_libvirt.target"], True),
        ("depends_on", ["tripleo_ovn_controller"], False),
        ("depends_on", "tripleo_ovn_controller.service", False),
        ("healthcheck", {"test": "/openstack/healthcheck"}, True),
        ("healthcheck", {"test": "/openstack/healthcheck", "interval": 5}, False),
        ("environment", {"KOLLA_CONFIG_STRATEGY": "COPY_ALWAYS"}, True),
        ("environment", ["KOLLA_CONFIG_STRATEGY=COPY_ALWAYS"], True),
        ("environment", "KOLLA_CONFIG_STRATEGY=COPY_ALWAYS", False),
        ("command", ["/bin/true"], True),
        ("command", 5, False),
    ],
)
def test_container_key_types(key: str, value: object, ok: bool) -> None:
    assert (container_keys.KEYS[key](value) is None) is ok


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


TEMPLATE = """\
heat_template_version: wallaby
parameters: {{ServiceData: {{}}, ServiceNetMap: {{}}, EndpointMap: {{}}, RoleName: {{}},
             RoleParameters: {{}}}}
outputs:
  role_data:
    value:
      service_name: demo
      docker_config:
        {step}:
          demo:
            image: x
      deploy_steps_tasks:
        - name: start {marker}
"""


@pytest.mark.parametrize(
    ("step", "marker", "found"),
    [
        ("step_1", "", False),
        ("step_6", "", False),
        ("step_7", "", True),
        ("step_0", "", True),
        ("step_0", "/var/lib/tripleo-config/container-startup-config/step_0", False),
    ],
)
def test_step_names(tmp_path: Path, step: str, marker: str, found: bool) -> None:
    path = write(tmp_path, "demo.yaml", TEMPLATE.format(step=step, marker=marker))
    report = validate.validate([path], tht=tmp_path / "no-tht")
    rules = {f.rule for f in report.findings}
    assert ("docker-steps" in rules) is found


def test_map_merge_folds_plain_parts_and_keeps_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "m.yaml", "a:\n  map_merge:\n    - {x: 1}\n    - get_attr: [R, v]\n"
                 "    - if: [c, {y: 2}, {}]\n")
    folded = hot.merged(yamlio.load_with_lines(path)["a"])
    assert folded == {"x": 1, "y": 2}
    assert hot.key_line(folded, "y") == 5


def test_registry_aliases_follow_chains_and_later_env_wins(tmp_path: Path) -> None:
    env1 = {"resource_registry": {"OS::A": "OS::B", "OS::B": "one.yaml"}}
    env2 = {"resource_registry": {"OS::B": "two.yaml"}}
    combined = resolve.registry_map([(tmp_path / "e1.yaml", env1), (tmp_path / "e2.yaml", env2)],
                                    None)
    found = resolve.lookup("OS::A", combined)
    assert found is not None and found.path == (tmp_path / "two.yaml").resolve()
    assert resolve.lookup("OS::C", combined) is None


@needs_stock
def test_stock_registry_renders_with_the_ovn_services() -> None:
    registry = resolve.stock_registry(THT)
    assert registry["OS::TripleO::Services::OVNMetadataAgent"] == \
        "deployment/ovn/ovn-metadata-container-puppet.yaml"
    assert registry["OS::TripleO::Services::OVNController"] == \
        "deployment/ovn/ovn-controller-container-puppet.yaml"


@needs_stock
def test_stock_agent_ordering_gap_is_found_and_its_inherited_hostname_is_not() -> None:
    """Stock THT 18 starts its agent with ovn_controller (start_order 1, no depends_on);
    its neutron::host comes from NeutronBase through get_attr and matches."""
    stock_agent = THT / "deployment/ovn/ovn-metadata-container-puppet.yaml"
    report = validate.validate([stock_agent, THT / "roles/Compute.yaml"], tht=THT)
    by_rule = {(f.rule, f.message.split(" (role")[0]) for f in report.findings}
    assert ("agent-ordering", "ovn_metadata_agent start_order 1 must be greater than "
            "ovn_controller's 1 (both in step_4, so they start together)") in by_rule
    assert ("agent-ordering", "ovn_metadata_agent depends_on does not name "
            "tripleo_ovn_controller.service") in by_rule
    assert not [f for f in report.findings if f.rule == "agent-hostname"]


def test_fast_loader_gives_the_same_data_and_lines() -> None:
    template = paths.bundle_root() / paths.SERVICE_TEMPLATE
    slow = yamlio.load_with_lines(template)
    fast = yamlio.load_with_lines(template, fast=True)
    assert fast == slow
    for key in slow["parameters"]:
        assert fast["parameters"].line_of(key) == slow["parameters"].line_of(key)


@needs_stock
def test_whole_stock_tree_is_checked_without_a_rule_crashing() -> None:
    report = validate.validate([THT], tht=THT, skip_dirs=[".tox", "releasenotes", "zuul.d"])
    assert report.files > 500
    assert [f for f in report.findings if "rule crashed" in f.message] == []
    # Stock's own agent template has the ordering gap this project fixes.
    assert any(f.rule == "agent-ordering" and f.path.endswith("ovn-metadata-container-puppet.yaml")
               for f in report.findings)
