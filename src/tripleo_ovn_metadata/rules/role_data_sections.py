"""Container service templates output role_data with the required and only known sections.

Applies to ``*-container-puppet.yaml`` and ``*-container.yaml``. Required: service_name,
docker_config, puppet_config, config_settings. Others only from the list config-download
consumes (``ALLOWED``).

PASS::

    outputs:
      role_data:
        value: {service_name: x, config_settings: {}, puppet_config: {...}, docker_config: {}}

FAIL::

    outputs:
      role_data:
        value: {service_name: x, config_settings: {}, docker_config: {}, update_task: []}
"""

from __future__ import annotations

from collections.abc import Iterator

from tripleo_ovn_metadata import hot
from tripleo_ovn_metadata.validate import Context, Doc, Problem

ID = "role-data-sections"
TYPE = "template"
LEVEL = "error"
REQUIRED = ("service_name", "docker_config", "puppet_config", "config_settings")
#: Sections config-download reads besides the required ones.
ALLOWED = frozenset(
    {
        "ansible_group_vars", "cellv2_discovery", "container_config_scripts",
        "container_puppet_tasks", "deploy_steps_tasks", "external_deploy_tasks",
        "external_post_deploy_tasks", "external_update_tasks", "external_upgrade_tasks",
        "firewall_edge_frontend_rules", "firewall_edge_ssl_frontend_rules",
        "firewall_frontend_rules", "firewall_rules", "firewall_ssl_frontend_rules",
        "global_config_settings", "host_firewall_tasks", "host_prep_tasks", "keystone_resources",
        "kolla_config", "metadata_settings", "monitoring_subscription", "post_update_tasks",
        "post_upgrade_tasks", "pre_upgrade_rolling_tasks", "scale_tasks",
        "service_config_settings", "step_config", "update_tasks", "upgrade_tasks",
    }
)  # fmt: skip


def check(doc: Doc, ctx: Context) -> Iterator[Problem]:
    """Yield missing required sections and unknown ones."""
    if not hot.CONTAINER_TEMPLATE.search(doc.path.name):
        return
    outputs = doc.data.get("outputs")
    if not isinstance(outputs, dict) or "role_data" not in outputs:
        return
    role_data = hot.role_data(doc.data)
    where = hot.line_of(outputs.get("role_data"), doc.data.line_of("outputs"))
    if role_data is None:
        if not hot.is_intrinsic(outputs["role_data"].get("value")):
            yield Problem(where, "outputs.role_data has no value mapping")
        return
    for section in REQUIRED:
        if section not in role_data:
            yield Problem(hot.line_of(role_data, where), f"role_data lacks required {section}")
    for section in role_data:
        if section not in REQUIRED and section not in ALLOWED:
            yield Problem(
                hot.key_line(role_data, section, where),
                f"role_data section {section!r} is not one config-download reads",
            )
