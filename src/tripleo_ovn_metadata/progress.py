"""Progress of long work: the step, elapsed time and bytes, logged as each step ends.

The library never prints; it logs to ``tripleo_ovn_metadata.progress`` and the CLI shows
those records on stderr.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

LOG = logging.getLogger("tripleo_ovn_metadata.progress")


def human_bytes(count: int) -> str:
    """Format a byte count as B/kB/MB/GB (powers of 1000, like podman and skopeo)."""
    value = float(count)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


@dataclass
class Step:
    """One step in progress; set ``nbytes`` or ``detail`` to have them reported."""

    name: str
    started: float = field(default_factory=time.monotonic)
    nbytes: int | None = None
    detail: str = ""

    @property
    def elapsed(self) -> float:
        """Seconds since the step started."""
        return time.monotonic() - self.started


@contextmanager
def step(name: str) -> Iterator[Step]:
    """Log the start and end of a step with its elapsed time (and bytes, when set)."""
    current = Step(name)
    LOG.info("%s ...", name)
    try:
        yield current
    except BaseException:
        LOG.info("%s failed after %.1f s", name, current.elapsed)
        raise
    extras = [f"{current.elapsed:.1f} s"]
    if current.nbytes is not None:
        extras.append(human_bytes(current.nbytes))
    if current.detail:
        extras.append(current.detail)
    LOG.info("%s done (%s)", name, ", ".join(extras))
