"""``config_volume: X`` reads its config image from the parameter ``Container<CamelX>ConfigImage``.

The parameter must be declared, and config_image must use it (directly or through a
yaql/RoleParametersValue lookup).

PASS::

    parameters: {ContainerNeutronConfigImage: {type: string}}
    ... puppet_config: {config_volume: neutron,
                        config_image: {get_param: ContainerNeutronConfigImage}}

FAIL::

    ... puppet_config: {config_volume: neutron,
                        config_image: {get_param: ContainerOvnMetadataImage}}
"""

from __future__ import annotations

from collections.abc import Iterator

from tripleo_ovn_metadata import hot
from tripleo_ovn_metadata.validate import Context, Doc, Problem

ID = "config-image-param"
TYPE = "template"
LEVEL = "error"
#: Volumes whose CamelCase is not plain capitalisation.
CAMEL = {"haproxy": "HAProxy"}


def expected_param(volume: str) -> str:
    """``neutron`` → ``ContainerNeutronConfigImage``, ``ovn_controller`` → ``…OvnController…``."""
    camel = CAMEL.get(volume) or "".join(
        part.capitalize() for part in volume.replace("-", "_").split("_")
    )
    return f"Container{camel}ConfigImage"


def check(doc: Doc, ctx: Context) -> Iterator[Problem]:
    """Yield when the expected parameter is undeclared or config_image reads another one."""
    role_data = hot.role_data(doc.data)
    if role_data is None:
        return
    config = hot.merged(role_data.get("puppet_config"))
    if not config or not isinstance(config.get("config_volume"), str):
        return
    want = expected_param(config["config_volume"])
    line = hot.key_line(config, "config_image", hot.key_line(role_data, "puppet_config"))
    params = doc.data.get("parameters") or {}
    if want not in params:
        yield Problem(line, f"config_volume {config['config_volume']} needs parameter {want}, "
                      "which is not declared")
    if "config_image" not in config:
        return
    used = hot.param_refs(config["config_image"])
    if want not in used:
        others = ", ".join(sorted(p for p in used if p in params)) or "no parameter"
        yield Problem(line, f"config_image should read {want} (config_volume "
                      f"{config['config_volume']}), reads {others}")
