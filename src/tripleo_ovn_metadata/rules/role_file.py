"""Roles are well formed: a name, a ServicesDefault list of aliases; one role per name.

A file under a ``roles/`` directory holds one role named like the file (what
``openstack overcloud roles generate --roles-path`` looks up).

PASS (``roles/Compute.yaml``)::

    - name: Compute
      ServicesDefault: [OS::TripleO::Services::OVNController]

FAIL (``roles/Compute.yaml``)::

    - name: ComputeOvn
      ServicesDefault: OS::TripleO::Services::OVNController
"""

from __future__ import annotations

from collections.abc import Iterator

from tripleo_ovn_metadata.validate import Context, Doc, Problem

ID = "role-file"
TYPE = "roles"
LEVEL = "error"


def check(doc: Doc, ctx: Context) -> Iterator[Problem]:
    """Yield malformed roles."""
    seen: set[str] = set()
    for role in doc.data:
        line = getattr(role, "line", 0)
        name = role.get("name")
        if not isinstance(name, str) or not name:
            yield Problem(line, "role has no name")
            continue
        if name in seen:
            yield Problem(line, f"role {name} is defined twice")
        seen.add(name)
        services = role.get("ServicesDefault", [])
        if not isinstance(services, list) or not all(isinstance(s, str) for s in services):
            yield Problem(role.line_of("ServicesDefault"),
                          f"role {name}: ServicesDefault must be a list of service aliases")
        if doc.path.parent.name == "roles" and name != doc.path.name.split(".")[0]:
            yield Problem(role.line_of("name"),
                          f"role {name} is in {doc.path.name}; the file must be {name}.yaml")
