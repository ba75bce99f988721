"""Service templates declare the five parameters every service gets from the role.

ServiceData, ServiceNetMap, EndpointMap, RoleName and RoleParameters are passed to each
service by ``common/services/role.role.j2.yaml``; Heat rejects a template that lacks them.

PASS::

    parameters: {ServiceData: ..., ServiceNetMap: ..., EndpointMap: ..., RoleName: ...,
                 RoleParameters: ...}

FAIL::

    parameters: {ServiceNetMap: ..., EndpointMap: ..., RoleName: ..., RoleParameters: ...}
"""

from __future__ import annotations

from collections.abc import Iterator

from tripleo_ovn_metadata import hot
from tripleo_ovn_metadata.validate import Context, Doc, Problem

ID = "standard-params"
TYPE = "template"
LEVEL = "error"
STANDARD = ("ServiceData", "ServiceNetMap", "EndpointMap", "RoleName", "RoleParameters")


def check(doc: Doc, ctx: Context) -> Iterator[Problem]:
    """Yield each standard parameter a service template does not declare."""
    role_data = hot.role_data(doc.data)
    if role_data is None or "service_name" not in role_data:
        return
    params = doc.data.get("parameters")
    declared = params if isinstance(params, dict) else {}
    line = doc.data.line_of("parameters") or 1
    for name in STANDARD:
        if name not in declared:
            yield Problem(line, f"service template does not declare parameter {name}")
