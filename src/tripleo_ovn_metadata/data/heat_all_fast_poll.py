"""heat-all with Heat's fixed one-second waits shortened (run by .venv-heat-all's python).

Usage: heat_all_fast_poll.py SECONDS [heat-all arguments...]

NOTE: two constants no option changes make a local stock THT create mostly sleep:
- the TaskRunner sleeps ``wait_time=1`` between the steps of every task that waits, so
  each resource polls the nested stack it created once a second, at every level;
- the convergence engine's ``Stack.converge_stack`` sleeps a second after triggering
  each leaf resource of a stack (it spreads the work over several engines), so a role's
  service chain of 80 leaves took 80 s to start on this single engine.
Both suit engines talking to remote services; here the nested stacks finish in
milliseconds. Both waits are capped at SECONDS; what Heat evaluates, and in which order,
stays the same. Everything else is heat-all's own ``main``.
"""

from __future__ import annotations

import sys
import types

import eventlet
from heat.cmd import all as heat_all  # before heat.engine: it monkey-patches eventlet
from heat.engine import scheduler
from heat.engine import stack as heat_stack

poll = float(sys.argv.pop(1))
task_sleep = scheduler.TaskRunner._sleep


def _task_sleep(self: scheduler.TaskRunner, wait_time: float | None) -> None:
    task_sleep(self, None if wait_time is None else min(wait_time, poll))


class _PacedEventlet(types.ModuleType):
    """eventlet as heat.engine.stack sees it: the same module, its sleeps capped."""

    def __getattr__(self, name: str) -> object:
        return getattr(eventlet, name)

    @staticmethod
    def sleep(seconds: float = 0) -> None:
        eventlet.sleep(min(seconds, poll))


scheduler.TaskRunner._sleep = _task_sleep
heat_stack.eventlet = _PacedEventlet("eventlet")
sys.argv[0] = "heat-all"
sys.exit(heat_all.main())
