"""heat-all as this tool runs it locally (run by .venv-heat-all's python): Heat's fixed
one-second waits shortened, and its database in memory.

Usage: heat_all_local.py SECONDS [heat-all arguments...]

NOTE: two constants no option changes make a local stock THT create mostly sleep:
- the TaskRunner sleeps ``wait_time=1`` between the steps of every task that waits, so
  each resource polls the nested stack it created once a second, at every level;
- the convergence engine's ``Stack.converge_stack`` sleeps a second after triggering
  each leaf resource of a stack (it spreads the work over several engines), so a role's
  service chain of 80 leaves took 80 s to start on this single engine.
Both suit engines talking to remote services; here the nested stacks finish in
milliseconds. Both waits are capped at SECONDS; what Heat evaluates, and in which order,
stays the same.

NOTE: with ``[database] connection = sqlite://`` (in memory) oslo.db shares one
connection among the green threads (a sqlite call never yields mid-transaction on
eventlet), where a sqlite file costs a new connection for every session (oslo.db's
NullPool): a fifth of heat-all's CPU in the stock THT 3 + 3 create. The API and the
engine run in this one process, so the schema is made here (``db_sync``) before they
start. Everything else is heat-all's own ``main``.
"""

from __future__ import annotations

import sys
import types

import eventlet
from heat.cmd import all as heat_all  # before heat.engine: it monkey-patches eventlet
from heat.db import migration
from heat.engine import scheduler
from heat.engine import stack as heat_stack

poll = float(sys.argv.pop(1))
task_sleep = scheduler.TaskRunner._sleep
start_services = heat_all._start_service_threads


def _task_sleep(self: scheduler.TaskRunner, wait_time: float | None) -> None:
    task_sleep(self, None if wait_time is None else min(wait_time, poll))


class _PacedEventlet(types.ModuleType):
    """eventlet as heat.engine.stack sees it: the same module, its sleeps capped."""

    def __getattr__(self, name: str) -> object:
        return getattr(eventlet, name)

    @staticmethod
    def sleep(seconds: float = 0) -> None:
        eventlet.sleep(min(seconds, poll))


def _start_on_a_fresh_schema(services: set[str]) -> list:
    """The configuration is parsed by now: make the schema, then start the services."""
    migration.db_sync()
    return start_services(services)


scheduler.TaskRunner._sleep = _task_sleep
heat_stack.eventlet = _PacedEventlet("eventlet")
heat_all._start_service_threads = _start_on_a_fresh_schema
sys.argv[0] = "heat-all"
sys.exit(heat_all.main())
