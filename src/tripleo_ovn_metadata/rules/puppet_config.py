"""puppet_config has config_volume, step_config and config_image, plus only puppet_tags/volumes.

PASS::

    puppet_config:
      config_volume: neutron
      step_config: include foo
      config_image: {get_param: ContainerNeutronConfigImage}

FAIL::

    puppet_config:
      config_volume: neutron
      step_config: include foo
      config_image: {get_param: ContainerNeutronConfigImage}
      puppet_tag: neutron_config
"""

from __future__ import annotations

from collections.abc import Iterator

from tripleo_ovn_metadata import hot
from tripleo_ovn_metadata.validate import Context, Doc, Problem

ID = "puppet-config"
TYPE = "template"
LEVEL = "error"
REQUIRED = ("config_volume", "step_config", "config_image")
OPTIONAL = ("puppet_tags", "volumes")


def check(doc: Doc, ctx: Context) -> Iterator[Problem]:
    """Yield unknown and missing puppet_config keys."""
    role_data = hot.role_data(doc.data)
    if role_data is None or "puppet_config" not in role_data:
        return
    config = hot.merged(role_data["puppet_config"])
    if not config:
        return
    where = hot.key_line(role_data, "puppet_config")
    for key in config:
        if key not in REQUIRED and key not in OPTIONAL:
            yield Problem(hot.key_line(config, key, where), f"puppet_config key {key!r} is unknown")
    for key in REQUIRED:
        if key not in config:
            yield Problem(where, f"puppet_config lacks {key}")
