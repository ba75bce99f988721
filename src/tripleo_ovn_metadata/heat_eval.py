"""Evaluate a single HOT template in-process with the real Heat engine (no server, no DB).

Heat's own parser, parameter validation and intrinsic functions do the work: this module
only boots Heat's config once and turns its exceptions into one-line InputErrors.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from tripleo_ovn_metadata.errors import InputError

# NOTE: Heat and tripleo-common import eventlet, which prints a deprecation banner to stderr.
warnings.filterwarnings("ignore", message="\\s*Eventlet is deprecated")


@cache
def _boot_heat() -> None:
    """Load Heat's config and resource plugins once per process."""
    warnings.filterwarnings("ignore", category=DeprecationWarning, module="heat")
    from heat.engine import resources
    from oslo_config import cfg

    for noisy in ("heat", "stevedore", "oslo_config", "keystoneauth"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    if not cfg.CONF._args:
        cfg.CONF([], project="heat", default_config_files=[])
    resources.initialise()


def evaluate_outputs(
    template_path: Path,
    *,
    parameters: Mapping[str, Any] | None = None,
    parameter_defaults: Mapping[str, Any] | None = None,
    files: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Validate ``template_path`` with Heat and return its evaluated outputs.

    ``parameters`` are strict (an undeclared name is an error, like ``-p`` on the heat
    CLI); ``parameter_defaults`` are applied only where the template declares the name,
    like ``parameter_defaults`` in environment files.
    """
    _boot_heat()
    from heat.common import context, exception, template_format
    from heat.engine import environment
    from heat.engine import stack as heat_stack
    from heat.engine import template as heat_template

    try:
        text = template_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(template_path, f"cannot read: {exc.strerror or exc}") from None
    try:
        parsed = template_format.parse(text)
        env = environment.Environment(
            {
                "parameters": dict(parameters or {}),
                "parameter_defaults": dict(parameter_defaults or {}),
            }
        )
        tmpl = heat_template.Template(parsed, files=dict(files or {}), env=env)
        ctx = context.RequestContext(user_id="render", project_id="render", is_admin=True)
        stack = heat_stack.Stack(ctx, template_path.stem[:200], tmpl)
        stack.validate()
        return {name: output.get_value() for name, output in stack.outputs.items()}
    except (exception.HeatException, ValueError, KeyError, TypeError) as exc:
        message = " ".join(str(exc).split())
        raise InputError(template_path, f"Heat: {message}") from None
