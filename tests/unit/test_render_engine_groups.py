"""How render_plan deals the roles out to its Heat engine processes (one per idle CPU)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tripleo_ovn_metadata import render

ROLES = [{"name": name} for name in ("Controller", "Compute", "Networker", "Storage", "Edge")]


def _names(groups: list[list[dict[str, str]]]) -> list[list[str]]:
    return [[role["name"] for role in group] for group in groups]


@pytest.mark.parametrize(("cpus", "busy", "roles", "expected"), [
    (2, 0, ROLES[:2], [["Controller"], ["Compute"]]),
    (1, 0, ROLES[:2], [["Controller", "Compute"]]),
    (8, 0, ROLES[:1], [["Controller"]]),
    (2, 0, ROLES[:3], [["Controller", "Networker"], ["Compute"]]),
    (16, 0, ROLES, [["Controller", "Edge"], ["Compute"], ["Networker"], ["Storage"]]),
    (2, 1, ROLES[:2], [["Controller", "Compute"]]),  # the other CPU is busy: one engine
    (4, 2, ROLES[:3], [["Controller", "Networker"], ["Compute"]]),
    (2, 6, ROLES[:2], [["Controller", "Compute"]]),
])
def test_one_engine_per_idle_cpu_at_most_max_engines_every_role_once(
        monkeypatch: pytest.MonkeyPatch, cpus: int, busy: int, roles: list[dict[str, str]],
        expected: list[list[str]]) -> None:
    monkeypatch.setattr(render.os, "sched_getaffinity", lambda _pid: set(range(cpus)))
    monkeypatch.setattr(render, "others_running", lambda: busy)
    groups = render.engine_groups(roles)
    assert _names(groups) == expected


def test_others_running_counts_a_busy_process() -> None:
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        assert render.others_running() >= 1
    finally:
        spinner.kill()
        spinner.wait()
