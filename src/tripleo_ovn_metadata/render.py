"""Render with real Heat, as a deploy would see it: our role_data, and each role's plan.

Parameters come from where a TripleO deploy takes them: tripleo-common's password
generator and default image prepare, then the environment files (merged by heatclient,
in order), then the role's parameters (``RoleParametersDefault`` + ``<Role>Parameters``),
then explicit ``-p`` parameters.

``render_role_data`` evaluates our single template in-process (0.2 s after boot);
``render_plan`` creates the stock role service chains (nested stacks) in a local Heat
engine (heat_engine) for the container plan of every role.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tripleo_ovn_metadata import (  # heat_engine/heat_eval quiet eventlet's banner
    heat_engine,
    heat_eval,
    paths,
    plan,
    progress,
    tht,
    yamlio,
)
from tripleo_ovn_metadata.errors import InputError


def load_roles(roles_path: Path) -> list[dict[str, Any]]:
    """The roles of a roles_data file, each a mapping with at least ``name``."""
    roles = yamlio.load(roles_path)
    if not isinstance(roles, list) or not all(
        isinstance(role, dict) and isinstance(role.get("name"), str) for role in roles
    ):
        raise InputError(roles_path, "expected a list of roles, each a mapping with a name")
    return roles


def find_role(roles: Sequence[Mapping[str, Any]], name: str, roles_path: Path) -> Mapping[str, Any]:
    """The role called ``name``, or an InputError listing the known ones."""
    for role in roles:
        if role["name"] == name:
            return role
    known = ", ".join(role["name"] for role in roles)
    raise InputError(roles_path, f"no role named {name!r} (roles: {known})")


def merged_environment(env_files: Sequence[Path]) -> dict[str, Any]:
    """Merge environment files the way the heat CLI does (heatclient's own code)."""
    return tht.merged_environment(env_files)[1]


def generated_defaults(
    env: Mapping[str, Any], roles: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """Passwords and image parameters as tripleo-common makes them for a new plan."""
    from tripleo_common.image import kolla_builder
    from tripleo_common.utils import passwords

    values: dict[str, Any] = dict(passwords.generate_passwords())
    images = kolla_builder.container_images_prepare_multi(dict(env), list(roles), dry_run=True)
    values.update(images)
    return values


def service_parameters(
    role: Mapping[str, Any], env: Mapping[str, Any], generated: Mapping[str, Any]
) -> dict[str, Any]:
    """parameter_defaults for the service template as seen from ``role``."""
    defaults = dict(generated)
    defaults.update(env.get("parameter_defaults", {}))
    role_params = dict(role.get("RoleParametersDefault") or {})
    role_params.update(defaults.get(f"{role['name']}Parameters") or {})
    defaults["RoleName"] = role["name"]
    defaults["RoleParameters"] = role_params
    return defaults


def render_role_data(
    role: str = "Compute",
    env_files: Sequence[Path] = (),
    parameters: Mapping[str, Any] | None = None,
    roles_data: Path | None = None,
) -> dict[str, Any]:
    """Evaluate the service template's role_data for ``role`` with real Heat."""
    root = paths.bundle_root()
    roles_path = roles_data or root / paths.ROLES_DATA
    roles = load_roles(roles_path)
    env = merged_environment(list(env_files))
    defaults = service_parameters(
        find_role(roles, role, roles_path), env, generated_defaults(env, roles)
    )
    outputs = heat_eval.evaluate_outputs(
        root / paths.SERVICE_TEMPLATE, parameters=parameters, parameter_defaults=defaults
    )
    return outputs["role_data"]


# --- The container plan of every role, from stock THT and real Heat ------------------

#: Role services whose containers the plan evaluates: those whose template (after the
#: environment files) lives in an ``ovn`` directory: ovn-controller, OVN DBs, our agent.
PLAN_SERVICE_DIR = "/deployment/ovn/"
#: ``ServiceData.net_cidr_map`` as overcloud.yaml passes it without network isolation.
PLAN_NET_CIDR_MAP = {"ctlplane": ["192.168.24.0/24"]}


def plan_services(role: Mapping[str, Any], env: Mapping[str, Any]) -> list[str]:
    """The role's services (``<Role>Services`` or ServicesDefault) that the plan covers."""
    services = env.get("parameter_defaults", {}).get(f"{role['name']}Services")
    services = services if services is not None else role.get("ServicesDefault") or []
    registry = env.get("resource_registry", {})
    return [service for service in services if PLAN_SERVICE_DIR in str(registry.get(service, ""))]


def plan_template(roles: Sequence[Mapping[str, Any]], env: Mapping[str, Any]) -> dict[str, Any]:
    """A small HOT wrapper wiring each role's stock service chain as overcloud.yaml does.

    ServiceNetMap and EndpointMap come from the stock templates the registry names; each
    role gets ``OS::TripleO::<Role>Services`` (the processed ``common/services`` chain,
    which deep-merges the services' docker_config) with the role's name and parameters.
    """
    resources: dict[str, Any] = {
        "ServiceNetMap": {"type": "OS::TripleO::ServiceNetMap"},
        "EndpointMap": {
            "type": "OS::TripleO::EndpointMap",
            "properties": {
                "CloudEndpoints": {"ctlplane": "overcloud.ctlplane.localdomain"},
                "NetIpMap": {"ctlplane": "192.168.24.5"},
                "ServiceNetMap": {"get_attr": ["ServiceNetMap", "service_net_map"]},
            },
        },
    }
    outputs: dict[str, Any] = {}
    defaults = env.get("parameter_defaults", {})
    for role in roles:
        name = role["name"]
        role_params = dict(role.get("RoleParametersDefault") or {})
        role_params.update(defaults.get(f"{name}Parameters") or {})
        resources[f"{name}ServiceChain"] = {
            "type": f"OS::TripleO::{name}Services",
            "properties": {
                "Services": plan_services(role, env),
                "ServiceNetMap": {"get_attr": ["ServiceNetMap", "service_net_map"]},
                "ServiceData": {"net_cidr_map": PLAN_NET_CIDR_MAP},
                "EndpointMap": {"get_attr": ["EndpointMap", "endpoint_map"]},
                "RoleName": name,
                "RoleParameters": role_params,
            },
        }
        outputs[name] = {"value": {"get_attr": [f"{name}ServiceChain", "role_data"]}}
    return {
        "heat_template_version": "wallaby",
        "description": "tripleo-ovn-metadata render: the OVN services of each role",
        "resources": resources,
        "outputs": outputs,
    }


def declared_parameters(files: Mapping[str, Any]) -> set[str]:
    """Every parameter name a HOT template among ``files`` declares."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    names: set[str] = set()
    for body in files.values():
        text = body.decode("utf-8") if isinstance(body, bytes) else str(body)
        if "heat_template_version" not in text:
            continue
        try:
            data = yaml.load(text, Loader=loader)
        except yaml.YAMLError:
            continue
        if isinstance(data, dict) and isinstance(data.get("parameters"), dict):
            names.update(data["parameters"])
    return names


def render_plan(
    env_files: Sequence[Path] = (),
    parameters: Mapping[str, Any] | None = None,
    roles_data: Path | None = None,
) -> list[plan.RolePlan]:
    """Create the roles' OVN service chains from stock THT in a local Heat engine.

    ``env_files`` are applied after the stock puppet registry; ``parameters`` override
    parameter_defaults and must be declared by some template in the tree.
    """
    import tempfile

    root = paths.bundle_root()
    roles_path = roles_data or root / paths.ROLES_DATA
    roles = load_roles(roles_path)
    for env_file in env_files:
        yamlio.load_mapping(env_file)
    with tempfile.TemporaryDirectory(prefix="tom-render-") as tmp:
        with progress.step("process stock templates"):
            processed = tht.process_templates(roles_path, Path(tmp) / "tht")
        with progress.step("merge environments and generate parameters"):
            files, env = tht.merged_environment([processed / tht.REGISTRY, *env_files])
            tht.check_parameters(env_files, yamlio.load(processed / "overcloud.yaml"))
            template = plan_template(roles, env)
            if parameters:
                known = declared_parameters(files)
                for name in parameters:
                    if name not in known:
                        raise InputError(
                            f"-p {name}",
                            "unknown parameter: no template of the stock tree or the "
                            "environment files declares it",
                        )
            defaults = dict(generated_defaults(env, roles))
            defaults["RootStackName"] = tht.STACK_NAME
            defaults.update(env.get("parameter_defaults", {}))
            # NOTE: a deploy gives env ``parameters`` to overcloud.yaml, which hands them
            # down; the wrapper declares none, so they act as defaults here.
            defaults.update(env.pop("parameters", None) or {})
            defaults.update(parameters or {})
            env["parameter_defaults"] = defaults
        with progress.step("create the role service chains in a local Heat engine") as stp:
            outputs = heat_engine.run("create", "render", template, env, files, source=roles_path)
            stp.detail = f"{len(roles)} roles"
    plans = []
    for role in roles:
        role_data = outputs.get(role["name"]) or {}
        plans.append(
            plan.RolePlan(
                role=role["name"],
                services=plan_services(role, env),
                containers=plan.containers(role_data.get("docker_config")),
            )
        )
    return plans
