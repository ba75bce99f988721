"""Every service alias a role lists resolves, with the env files and stock's registry, to a
template that exists (or to a type such as ``OS::Heat::None``).

Heat fails the whole ServiceChain on an unmapped alias, deep inside the deploy.

PASS::

    ServicesDefault: [OS::TripleO::Services::OVNMetadataAgent]

FAIL::

    ServicesDefault: [OS::TripleO::Services::OVNMetadataAgnet]
"""

from __future__ import annotations

from collections.abc import Iterator

from tripleo_ovn_metadata import resolve
from tripleo_ovn_metadata.validate import Context, Problem

ID = "service-alias"
TYPE = "bundle"
LEVEL = "error"


def check(ctx: Context) -> Iterator[Problem]:
    """Yield unmapped aliases and aliases mapped to missing files."""
    for role in ctx.roles:
        for service in role.services:
            mapping = service.mapping
            if mapping is None:
                if ctx.tht is None:
                    continue  # cannot tell without stock's registry (param-definitions warns)
                yield Problem(service.line, f"role {role.name}: {service.alias} has no "
                              "resource_registry entry in the env files or stock's registry",
                              path=role.path)
            elif mapping.path is not None and resolve.file_exists(mapping.path) is False:
                yield Problem(service.line, f"role {role.name}: {service.alias} maps to "
                              f"{mapping.target} (from {mapping.source}), which does not exist",
                              path=role.path)
