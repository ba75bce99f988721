"""How render_plan deals the roles out to its Heat engine processes."""

from __future__ import annotations

import pytest

from tripleo_ovn_metadata import render

ROLES = [{"name": name} for name in ("Controller", "Compute", "Networker", "Storage", "Edge")]


def _names(groups: list[list[dict[str, str]]]) -> list[list[str]]:
    return [[role["name"] for role in group] for group in groups]


@pytest.mark.parametrize(("cpus", "roles", "expected"), [
    (2, ROLES[:2], [["Controller"], ["Compute"]]),
    (1, ROLES[:2], [["Controller", "Compute"]]),
    (8, ROLES[:1], [["Controller"]]),
    (2, ROLES[:3], [["Controller", "Networker"], ["Compute"]]),
    (16, ROLES, [["Controller", "Edge"], ["Compute"], ["Networker"], ["Storage"]]),
])
def test_one_engine_per_cpu_at_most_max_engines_every_role_once(
        monkeypatch: pytest.MonkeyPatch, cpus: int, roles: list[dict[str, str]],
        expected: list[list[str]]) -> None:
    monkeypatch.setattr(render.os, "sched_getaffinity", lambda _pid: set(range(cpus)))
    groups = render.engine_groups(roles)
    assert _names(groups) == expected
