"""In every role running ovn_metadata_agent, it starts after ovn_controller.

The agent needs its Chassis from ovn-controller. tripleo_container_manage starts the
containers of a step in start_order groups (each group concurrently), and the systemd
unit's ``depends_on`` keeps the order on reboot. So per role: the agent's step is the
controller's or later; in the same step its start_order is strictly greater; and its
depends_on names ``tripleo_ovn_controller.service``.

PASS::

    step_4:
      ovn_controller: {start_order: 1}
      ovn_metadata_agent: {start_order: 2, depends_on: [tripleo_ovn_controller.service]}

FAIL::

    step_4:
      ovn_controller: {start_order: 1}
      ovn_metadata_agent: {start_order: 1}
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from tripleo_ovn_metadata import hot
from tripleo_ovn_metadata.rules._placement import Placed, role_containers
from tripleo_ovn_metadata.validate import WARNING, Context, Problem

ID = "agent-ordering"
TYPE = "bundle"
LEVEL = "error"
AGENT = "ovn_metadata_agent"
CONTROLLER = "ovn_controller"
UNIT = "tripleo_ovn_controller.service"


def _problems(
    agent: Placed, controller: Placed | None, ctx: Context
) -> Iterator[tuple[int, str, str | None]]:
    spec = agent.definition
    if controller is None:
        if ctx.tht is not None:  # without stock's registry the controller may be unresolved
            yield agent.line, f"{AGENT} runs without an {CONTROLLER} container in the role", None
        return
    if agent.number < controller.number:
        yield (agent.step_line or agent.line,
               f"{AGENT} starts in {agent.step}, before {CONTROLLER} ({controller.step})", None)
    elif agent.number == controller.number:
        ours = spec.get("start_order", 0)
        theirs = controller.definition.get("start_order", 0)
        line = hot.key_line(spec, "start_order", agent.line)
        if not isinstance(ours, int) or not isinstance(theirs, int):
            message = f"cannot compare start_order {ours!r} with {CONTROLLER}'s {theirs!r}"
            yield line, message, WARNING
        elif ours <= theirs:
            yield (line, f"{AGENT} start_order {ours} must be greater than {CONTROLLER}'s "
                   f"{theirs} (both in {agent.step}, so they start together)", None)
    depends = spec.get("depends_on")
    if not (isinstance(depends, list) and UNIT in depends):
        yield (hot.key_line(spec, "depends_on", agent.line),
               f"{AGENT} depends_on does not name {UNIT}", None)


def check(ctx: Context) -> Iterator[Problem]:
    """Yield ordering problems, once per template line with the roles they affect."""
    grouped: dict[tuple[str, int, str, str | None], list[str]] = defaultdict(list)
    for role in ctx.roles:
        placed = role_containers(role, ctx)
        agent = placed.get(AGENT)
        if agent is None:
            continue
        for line, message, level in _problems(agent, placed.get(CONTROLLER), ctx):
            grouped[(agent.doc.name, line, message, level)].append(role.name)
    for (path, line, message, level), roles in grouped.items():
        yield Problem(line, f"{message} (role {', '.join(roles)})", level=level, path=path)
