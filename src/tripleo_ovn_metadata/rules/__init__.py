"""The validate rules, one module each (``ID``, ``TYPE``, ``LEVEL``, ``check``).

``TYPE`` says what a rule sees: ``template`` (HOT files), ``env`` (environment files),
``roles`` (roles files) get ``check(doc, ctx)`` per file; ``bundle`` rules get
``check(ctx)`` once, with the roles resolved through the env files and stock's
registry. ``check`` yields :class:`~tripleo_ovn_metadata.validate.Problem`; the core adds
file, rule id and level. To add a rule, write the module and list it here.
"""

from __future__ import annotations

from types import ModuleType

from tripleo_ovn_metadata.rules import (
    agent_hostname,
    agent_ordering,
    bootstrap_user,
    config_image_param,
    container_keys,
    docker_steps,
    empty_task_list,
    env_registry,
    param_definitions,
    puppet_config,
    puppet_delivery,
    role_data_sections,
    role_file,
    service_alias,
    service_name,
    standard_params,
    template_version,
    upgrade_when,
    volume_syntax,
)

#: Every rule, in the order findings are produced (output is sorted by file and line).
RULES: tuple[ModuleType, ...] = (
    template_version,
    role_data_sections,
    empty_task_list,
    puppet_config,
    config_image_param,
    volume_syntax,
    upgrade_when,
    standard_params,
    service_name,
    param_definitions,
    docker_steps,
    container_keys,
    bootstrap_user,
    env_registry,
    role_file,
    service_alias,
    agent_ordering,
    agent_hostname,
    puppet_delivery,
)
