"""``tripleo-ovn-metadata render``: the per-role container plan, evaluated by real Heat."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tripleo_ovn_metadata import plan, render
from tripleo_ovn_metadata.errors import InputError

HELP = (
    "Evaluate the roles' OVN services (stock THT 18 + our template) in a local Heat engine "
    "and print each role's step-by-step container plan."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register render's options."""
    parser.add_argument(
        "-e", "--environment-file", dest="env_files", action="append", default=[],
        metavar="ENV", type=Path,
        help="environment file applied after the stock puppet registry (repeatable, later "
        "wins); default: environments/services/neutron-ovn-metadata.yaml",
    )  # fmt: skip
    parser.add_argument(
        "-r", "--roles-file", metavar="ROLES", type=Path,
        help="roles file; default: the bundle's roles_data.yaml",
    )  # fmt: skip
    parser.add_argument(
        "-p", "--parameter", dest="parameters", action="append", default=[],
        metavar="NAME=VALUE",
        help="parameter default overriding the environment files (VALUE is YAML; "
        "repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--format", choices=("table", "json"), default="table",
        help="output format (default: table)",
    )  # fmt: skip


def parse_parameters(items: list[str]) -> dict[str, object]:
    """``NAME=VALUE`` pairs; VALUE is parsed as YAML (so numbers and lists work)."""
    import yaml

    values: dict[str, object] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or not name:
            raise InputError("-p", f"expected NAME=VALUE, got {item!r}")
        try:
            values[name] = yaml.safe_load(raw) if raw else ""
        except yaml.YAMLError:
            raise InputError("-p", f"{name}: value is not valid YAML") from None
    return values


def run(args: argparse.Namespace) -> int:
    """Print the plan as a table or JSON."""
    from tripleo_ovn_metadata import paths

    env_files = args.env_files or [paths.bundle_root() / paths.SERVICE_ENV]
    plans = render.render_plan(
        env_files=env_files,
        parameters=parse_parameters(args.parameters),
        roles_data=args.roles_file,
    )
    if args.format == "json":
        print(json.dumps({"roles": [role.as_dict() for role in plans]}, indent=2))
    else:
        print(plan.table(plans), end="")
    return 0
