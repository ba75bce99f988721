"""A container whose command runs ``bootstrap_host_exec`` runs as root.

PASS::

    command: [bootstrap_host_exec, ...]
    user: root

FAIL::

    command: [bootstrap_host_exec, ...]
    user: neutron
"""

from __future__ import annotations

from collections.abc import Iterator

from tripleo_ovn_metadata import hot
from tripleo_ovn_metadata.validate import Context, Doc, Problem

ID = "bootstrap-user"
TYPE = "template"
LEVEL = "error"


def check(doc: Doc, ctx: Context) -> Iterator[Problem]:
    """Yield containers running bootstrap_host_exec as another user."""
    role_data = hot.role_data(doc.data)
    if role_data is None:
        return
    for _step, _line, name, definition, line in hot.containers(role_data.get("docker_config")):
        if not definition:
            continue
        command = definition.get("command", "")
        text = " ".join(map(str, command)) if isinstance(command, list) else str(command)
        if "bootstrap_host_exec" in text and definition.get("user") != "root":
            yield Problem(hot.key_line(definition, "command", line),
                          f"container {name}: bootstrap_host_exec needs user: root")
