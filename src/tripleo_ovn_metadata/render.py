"""Render the service's role_data for a role with real Heat, as a deploy would see it.

Parameters come from where a TripleO deploy takes them: tripleo-common's password
generator and default image prepare, then the environment files (merged by heatclient,
in order), then the role's parameters (``RoleParametersDefault`` + ``<Role>Parameters``),
then explicit ``-p`` parameters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tripleo_ovn_metadata import heat_eval, paths, yamlio  # heat_eval first: quiets eventlet
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
    from heatclient import exc as heat_exc
    from heatclient.common import template_utils

    for env_file in env_files:
        yamlio.load_mapping(env_file)  # one-line errors for missing files and bad YAML
    try:
        _files, env = template_utils.process_multiple_environments_and_files(
            env_paths=[str(path) for path in env_files]
        )
    except (heat_exc.CommandError, OSError, ValueError) as exc:
        raise InputError(env_files[-1], f"environment: {exc}") from None
    return env


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
