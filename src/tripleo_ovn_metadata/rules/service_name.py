"""service_name starts with the file name minus its last two ``-`` parts, ``-`` → ``_``.

PASS (``ovn-metadata-container-puppet.yaml``)::

    service_name: ovn_metadata

FAIL (``ovn-metadata-container-puppet.yaml``)::

    service_name: metadata_agent
"""

from __future__ import annotations

from collections.abc import Iterator

from tripleo_ovn_metadata import hot
from tripleo_ovn_metadata.validate import Context, Doc, Problem

ID = "service-name"
TYPE = "template"
LEVEL = "error"


def check(doc: Doc, ctx: Context) -> Iterator[Problem]:
    """Yield when a service template's service_name does not start with its file prefix."""
    if not hot.SERVICE_TEMPLATE.search(doc.path.name):
        return
    role_data = hot.role_data(doc.data)
    if role_data is None or not isinstance(role_data.get("service_name"), str):
        return
    prefix = hot.service_name_prefix(doc.path)
    name = role_data["service_name"]
    if not name.startswith(prefix):
        yield Problem(hot.key_line(role_data, "service_name"),
                      f"service_name {name!r} should start with {prefix!r} (from the file name)")
