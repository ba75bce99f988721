"""The agent's ``neutron::host`` is the hostname ovn-controller registers its Chassis under.

The agent looks up its own Chassis_Private row by ``neutron::host``; ovn-controller
creates it under ``ovn::controller::hostname`` (stock: ``%{lookup('fqdn_canonical')}``).
If the two differ the agent fails with ``RowNotFound``. Checked per role running both
containers; keys inherited through ``get_attr: [NeutronBase, role_data, config_settings]``
count.

PASS::

    neutron::host: "%{lookup('fqdn_canonical')}"

FAIL::

    neutron::host: "%{lookup('fqdn_internal_api')}"
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from tripleo_ovn_metadata import hot
from tripleo_ovn_metadata.rules._placement import config_settings, role_containers
from tripleo_ovn_metadata.validate import Context, Problem

ID = "agent-hostname"
TYPE = "bundle"
LEVEL = "error"
AGENT_KEY = "neutron::host"
CONTROLLER_KEY = "ovn::controller::hostname"


def check(ctx: Context) -> Iterator[Problem]:
    """Yield a mismatch (or a missing neutron::host), once per template line."""
    grouped: dict[tuple[str, int, str], list[str]] = defaultdict(list)
    for role in ctx.roles:
        placed = role_containers(role, ctx)
        agent, controller = placed.get("ovn_metadata_agent"), placed.get("ovn_controller")
        if agent is None or controller is None:
            continue
        theirs = config_settings(controller.doc, ctx).get(CONTROLLER_KEY)
        if theirs is None:
            continue
        wanted = hot.plain(theirs.value)
        ours = config_settings(agent.doc, ctx).get(AGENT_KEY)
        if ours is None:
            role_data = hot.role_data(agent.doc.data) or {}
            key = (agent.doc.name, hot.key_line(role_data, "config_settings", agent.line),
                   f"config_settings lacks {AGENT_KEY}; {theirs.doc.name} sets "
                   f"{CONTROLLER_KEY} to {wanted!r}")
            grouped[key].append(role.name)
        elif hot.plain(ours.value) != wanted:
            key = (ours.doc.name, ours.line,
                   f"{AGENT_KEY} {hot.plain(ours.value)!r} differs from {CONTROLLER_KEY} "
                   f"{wanted!r} in {theirs.doc.name}")
            grouped[key].append(role.name)
    for (path, line, message), roles in grouped.items():
        yield Problem(line, f"{message} (role {', '.join(roles)})", path=path)
