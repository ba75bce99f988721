"""``tripleo-ovn-metadata render``: the per-role container plan, evaluated by real Heat."""

from __future__ import annotations

import argparse
import json

from tripleo_ovn_metadata import plan, render
from tripleo_ovn_metadata.cli import _options

HELP = (
    "Evaluate the roles' OVN services (stock THT 18 + our template) in a local Heat engine "
    "and print each role's step-by-step container plan."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register render's options."""
    _options.add_environment_files(
        parser,
        "environment file applied after the stock puppet registry (repeatable, later wins); "
        "default: environments/services/neutron-ovn-metadata.yaml",
    )
    _options.add_roles_file(parser)
    _options.add_parameters(parser)
    parser.add_argument(
        "--format", choices=("table", "json"), default="table",
        help="output format (default: table)",
    )  # fmt: skip
    parser.add_argument(
        "--no-cache", dest="use_cache", action="store_false",
        help="neither read nor write the render cache (processed stock templates, plans)",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Print the plan as a table or JSON."""
    from tripleo_ovn_metadata import paths

    env_files = args.env_files or [paths.bundle_root() / paths.SERVICE_ENV]
    plans = render.render_plan(
        env_files=env_files,
        parameters=_options.parse_parameters(args.parameters),
        roles_data=args.roles_file,
        use_cache=args.use_cache,
    )
    if args.format == "json":
        print(json.dumps({"roles": [role.as_dict() for role in plans]}, indent=2))
    else:
        print(plan.table(plans), end="")
    return 0
