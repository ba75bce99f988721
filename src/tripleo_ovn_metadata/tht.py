"""The stock tripleo-heat-templates with our roles and environment, as a deploy feeds Heat.

``process_templates`` runs the sdist's own ``tools/process-templates.py``;
``overcloud_request`` gathers what ``openstack overcloud deploy`` would send to Heat for
``overcloud.yaml``: the puppet resource registry, the user's environment files (merged by
heatclient), tripleo-common's generated passwords and image parameters, and the few
parameters the client derives from the undercloud (node counts, ctlplane ports).
"""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tripleo_ovn_metadata import paths, procs, yamlio
from tripleo_ovn_metadata.errors import InputError

#: The stack name a deploy uses by default (``openstack overcloud deploy --stack``).
STACK_NAME = "overcloud"
#: The ctlplane subnet the undercloud would have created.
CTLPLANE_CIDR = ipaddress.ip_network("192.168.24.0/24")
CTLPLANE_VIP = "192.168.24.5"
FIRST_NODE_IP = 10
REGISTRY = "overcloud-resource-registry-puppet.yaml"


@dataclass(frozen=True)
class HeatRequest:
    """A template with its files and merged environment, ready for the engine."""

    template: dict[str, Any]
    files: dict[str, Any]
    env: dict[str, Any]
    source: Path


def process_templates(roles_data: Path, dest: Path, tht: Path | None = None) -> Path:
    """Render the stock ``*.j2.yaml`` for ``roles_data`` into ``dest``; returns ``dest``."""
    tht = tht or paths.tht_dir()
    script = tht / "tools" / "process-templates.py"
    if not script.is_file():
        raise InputError(tht, "no stock tripleo-heat-templates here (run tools/setup.sh)")
    yamlio.load(roles_data)  # one-line errors for a missing or broken roles file
    procs.run(
        [
            sys.executable,
            str(script),
            "-p",
            str(tht),
            "-r",
            str(roles_data.resolve()),
            "-n",
            str(tht / "network_data_default.yaml"),
            "-o",
            str(dest),
        ],
        cwd=str(tht),
    )
    return dest


def hostname(role: Mapping[str, Any], index: int, stack: str = STACK_NAME) -> str:
    """The node name Heat gives ``role``'s server ``index`` (``HostnameFormatDefault``)."""
    fmt = role.get("HostnameFormatDefault") or f"%stackname%-{role['name'].lower()}-%index%"
    return fmt.replace("%stackname%", stack).replace("%index%", str(index))


def node_counts(roles: Sequence[Mapping[str, Any]], env: Mapping[str, Any]) -> dict[str, int]:
    """``<Role>Count`` per role: the environment's value, else the role's CountDefault."""
    defaults = env.get("parameter_defaults", {})
    return {
        role["name"]: int(defaults.get(f"{role['name']}Count", role.get("CountDefault", 0)))
        for role in roles
    }


def undercloud_parameters(
    roles: Sequence[Mapping[str, Any]], counts: Mapping[str, int]
) -> dict[str, Any]:
    """What tripleoclient derives from the undercloud: ctlplane ports and network."""
    ports: dict[str, Any] = {}
    hosts = CTLPLANE_CIDR.hosts()
    for _ in range(FIRST_NODE_IP - 1):
        next(hosts)
    for role in roles:
        for index in range(counts[role["name"]]):
            address = str(next(hosts))
            ports[hostname(role, index)] = {
                "ctlplane": {
                    "ip_address": address,
                    "ip_address_uri": address,
                    "ip_subnet": f"{address}/{CTLPLANE_CIDR.prefixlen}",
                }
            }
    return {
        "NodePortMap": ports,
        "CtlplaneNetworkAttributes": {
            "network": {"name": "ctlplane", "mtu": 1500, "tags": [str(CTLPLANE_CIDR)]},
            "subnets": {
                "ctlplane-subnet": {
                    "name": "ctlplane-subnet",
                    "cidr": str(CTLPLANE_CIDR),
                    "gateway_ip": str(next(CTLPLANE_CIDR.hosts())),
                    "host_routes": [],
                    "dns_nameservers": [],
                    "ip_version": 4,
                }
            },
        },
        "ControlPlaneVipData": {
            "name": "control_virtual_ip",
            "fixed_ips": [{"ip_address": CTLPLANE_VIP}],
            "network": {"tags": [str(CTLPLANE_CIDR)]},
            "subnets": [{"ip_version": 4}],
        },
    }


def merged_environment(env_files: Sequence[Path]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(files, env)`` merged by heatclient the way the deploy command does it."""
    from heatclient import exc as heat_exc
    from heatclient.common import template_utils

    for env_file in env_files:
        yamlio.load_mapping(env_file)  # one-line errors for missing files and bad YAML
    try:
        files, env = template_utils.process_multiple_environments_and_files(
            env_paths=[str(path) for path in env_files]
        )
    except (heat_exc.CommandError, OSError, ValueError) as exc:
        raise InputError(env_files[-1], f"environment: {exc}") from None
    return dict(files), dict(env)


def merge_onto(
    files: dict[str, Any], env: dict[str, Any], env_files: Sequence[Path]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Continue heatclient's merge of ``(files, env)`` with ``env_files``, in order.

    The same steps as ``process_multiple_environments_and_files`` (each file processed on
    its own, files updated, env deep-merged), so a merge of already merged environments
    (a cached stock registry) with more files equals the merge of all of them at once.
    ``files`` and ``env`` are updated in place and returned.
    """
    from heatclient import exc as heat_exc
    from heatclient.common import template_utils

    for env_file in env_files:
        yamlio.load_mapping(env_file)  # one-line errors for missing files and bad YAML
        try:
            more_files, more_env = template_utils.process_environment_and_files(
                env_path=str(env_file)
            )
        except (heat_exc.CommandError, OSError, ValueError) as exc:
            raise InputError(env_file, f"environment: {exc}") from None
        files.update(more_files)
        env = template_utils.deep_update(env, more_env)
    return files, env


def check_parameters(env_files: Sequence[Path], template: Mapping[str, Any]) -> None:
    """Names under an env file's ``parameters:`` must be declared by the top template.

    Heat rejects them too, but later and without naming the file.
    """
    declared = set(template.get("parameters") or {})
    for env_file in env_files:
        data = yamlio.load_mapping(env_file, with_lines=True)
        section = data.get("parameters") or {}
        if not isinstance(section, dict):
            raise InputError(env_file, "parameters: expected a mapping", data.line_of("parameters"))
        for name in section:
            if name not in declared:
                line = section.line_of(name) if hasattr(section, "line_of") else None
                raise InputError(
                    env_file,
                    f"unknown parameter {name!r} (overcloud.yaml "
                    "does not declare it; use parameter_defaults)",
                    line,
                )


def overcloud_request(
    processed: Path,
    roles: Sequence[Mapping[str, Any]],
    env_files: Sequence[Path],
    generated: Mapping[str, Any],
) -> HeatRequest:
    """The processed ``overcloud.yaml`` with the registry, ``env_files`` and deploy params."""
    from heatclient.common import template_utils

    top = processed / "overcloud.yaml"
    tpl_files, template = template_utils.get_template_contents(template_file=str(top))
    all_env = [processed / REGISTRY, *env_files]
    check_parameters(env_files, template)
    files, env = merged_environment(all_env)
    files.update(tpl_files)
    user_defaults = dict(env.get("parameter_defaults", {}))
    counts = node_counts(roles, env)
    defaults: dict[str, Any] = dict(generated)
    defaults["RootStackName"] = STACK_NAME
    defaults.update({f"{name}Count": count for name, count in counts.items()})
    defaults.update(undercloud_parameters(roles, counts))
    defaults.update(user_defaults)
    env["parameter_defaults"] = defaults
    return HeatRequest(template=template, files=files, env=env, source=top)


def syntax_check(config_dir: Path, playbook: str = "deploy_steps_playbook.yaml") -> None:
    """``ansible-playbook --syntax-check`` of config-download output with tripleo-ansible.

    Uses the venv's ansible 2.9 (tripleo-common's), tripleo-ansible's modules, plugins
    and roles, and the collections (community.general, ...) of ``.venv-ansible``; a
    failure is a ToolError with ansible's last line.
    """
    share = paths.bundle_root() / ".venv" / "share" / "ansible"
    ansible_site = next((paths.bundle_root() / ".venv-ansible" / "lib").glob("python3*"), None)
    plugins = share / "plugins"
    env = dict(os.environ)
    env.update(
        {
            "ANSIBLE_LIBRARY": str(plugins / "modules"),
            "ANSIBLE_ACTION_PLUGINS": str(plugins / "action"),
            "ANSIBLE_FILTER_PLUGINS": str(plugins / "filter"),
            "ANSIBLE_MODULE_UTILS": str(plugins / "module_utils"),
            "ANSIBLE_ROLES_PATH": str(share / "roles"),
            "ANSIBLE_COLLECTIONS_PATHS": str(ansible_site / "site-packages")
            if ansible_site
            else "",
            "ANSIBLE_LOCAL_TEMP": str(config_dir / ".ansible-tmp"),
            "ANSIBLE_NOCOLOR": "1",
        }
    )
    procs.run(
        [str(paths.venv_bin("ansible-playbook")), "--syntax-check", playbook],
        env=env,
        cwd=str(config_dir),
    )
