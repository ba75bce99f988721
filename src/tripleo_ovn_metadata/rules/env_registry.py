"""Every file an env file's resource_registry maps to exists (relative to the env file).

A target in a directory of per-role/per-network ``.j2.yaml`` templates only warns: it
exists after process-templates. ``/usr/share/openstack-tripleo-heat-templates/`` names
the stock tree.

PASS (``environments/services/x.yaml``)::

    resource_registry:
      OS::TripleO::Services::OVNMetadataAgent: ../../deployment/ovn/x-container-puppet.yaml

FAIL::

    resource_registry:
      OS::TripleO::Services::OVNMetadataAgent: ../deployment/ovn/x-container-puppet.yaml
"""

from __future__ import annotations

from collections.abc import Iterator

from tripleo_ovn_metadata import resolve
from tripleo_ovn_metadata.validate import WARNING, Context, Doc, Problem

ID = "env-registry"
TYPE = "env"
LEVEL = "error"


def check(doc: Doc, ctx: Context) -> Iterator[Problem]:
    """Yield each registry target that is neither a type name nor an existing file."""
    registry = doc.data.get("resource_registry")
    if not isinstance(registry, dict):
        return
    for alias, target in registry.items():
        if not isinstance(target, str) or resolve.is_type_name(target):
            continue
        exists = resolve.file_exists(resolve.target_path(target, doc.path.parent, ctx.tht))
        if exists is None:
            yield Problem(registry.line_of(alias), f"{alias} maps to {target}, which exists only "
                          "once process-templates renders its directory", level=WARNING)
        elif not exists:
            yield Problem(registry.line_of(alias), f"{alias} maps to {target}, which does not "
                          f"exist (relative to {doc.name})")
