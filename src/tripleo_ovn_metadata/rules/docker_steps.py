"""docker_config steps are ``step_1`` … ``step_6``: the only ones the deploy steps start.

Anything else (``step4``, ``step_7``) is written out and never run, without an error.
``step_0`` passes only in a template whose own tasks start
``container-startup-config/step_0`` (as stock's ansible-driven services do).

PASS::

    docker_config:
      step_4: {...}

FAIL::

    docker_config:
      step4: {...}
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from tripleo_ovn_metadata import hot
from tripleo_ovn_metadata.validate import Context, Doc, Problem

ID = "docker-steps"
TYPE = "template"
LEVEL = "error"
STEP = re.compile(r"^step_[1-6]$")


def check(doc: Doc, ctx: Context) -> Iterator[Problem]:
    """Yield each docker_config key that is not a step the deploy runs."""
    role_data = hot.role_data(doc.data)
    if role_data is None:
        return
    steps = hot.merged(role_data.get("docker_config"))
    if not steps:
        return
    for name in steps:
        if STEP.match(str(name)):
            continue
        if name == "step_0" and "container-startup-config/step_0" in doc.text:
            continue
        yield Problem(hot.key_line(steps, name, hot.key_line(role_data, "docker_config")),
                      f"docker_config step {name!r} is never started (use step_1 … step_6)")
