"""The container start plan of a role: from its merged ``docker_config`` to ordered rows.

TripleO starts the containers of each step in ascending ``start_order`` groups; this
module only sorts and formats what Heat evaluated, it computes no template values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

AGENT = "ovn_metadata_agent"
_STEP = re.compile(r"^step_(\d+)$")


@dataclass(frozen=True)
class Container:
    """One container in the plan of a role."""

    step: int
    start_order: int
    name: str
    image: str
    depends_on: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RolePlan:
    """The plan of one role: the services evaluated and their containers in start order."""

    role: str
    services: list[str]
    containers: list[Container]

    @property
    def has_agent(self) -> bool:
        """Whether the OVN metadata agent runs on this role."""
        return any(container.name == AGENT for container in self.containers)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "role": self.role,
            "services": self.services,
            "ovn_metadata_agent": self.has_agent,
            "containers": [asdict(container) for container in self.containers],
        }


def containers(docker_config: Mapping[str, Any] | None) -> list[Container]:
    """The containers of a merged ``docker_config``, by step, start_order, then name."""
    rows = []
    for step_key, step_containers in (docker_config or {}).items():
        match = _STEP.match(str(step_key))
        if not match or not isinstance(step_containers, Mapping):
            continue
        for name, spec in step_containers.items():
            spec = spec if isinstance(spec, Mapping) else {}
            rows.append(
                Container(
                    step=int(match.group(1)),
                    start_order=int(spec.get("start_order") or 0),
                    name=str(name),
                    image=str(spec.get("image") or ""),
                    depends_on=[str(dep) for dep in spec.get("depends_on") or []],
                )
            )
    return sorted(rows, key=lambda row: (row.step, row.start_order, row.name))


HEADERS = ("ROLE", "STEP", "ORDER", "CONTAINER", "IMAGE", "DEPENDS ON")


def table(plans: list[RolePlan]) -> str:
    """A fixed-width table, one row per container; roles without the agent say so."""
    rows: list[tuple[str, ...]] = []
    notes: list[str] = []
    for plan in plans:
        for row in plan.containers:
            rows.append(
                (
                    plan.role,
                    str(row.step),
                    str(row.start_order),
                    row.name,
                    row.image,
                    ", ".join(row.depends_on) or "-",
                )
            )
        if not plan.containers:
            rows.append((plan.role, "-", "-", "(no containers)", "-", "-"))
        if not plan.has_agent:
            notes.append(f"{plan.role}: no {AGENT} (the role does not list OVNMetadataAgent)")
    widths = [max(len(cells[i]) for cells in (HEADERS, *rows)) for i in range(len(HEADERS))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()
        for cells in (HEADERS, *rows)
    ]
    return "\n".join([*lines, *notes]) + "\n"
