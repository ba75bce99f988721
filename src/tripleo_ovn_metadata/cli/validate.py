"""``tripleo-ovn-metadata validate``: static checks of templates, env files and roles."""

from __future__ import annotations

import argparse

from tripleo_ovn_metadata import validate

HELP = (
    "Check templates, environment files and roles statically (stock yaml-validate rules "
    "plus container keys, step names and the agent's start ordering); no Heat needed."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register validate's options."""
    parser.add_argument(
        "paths", nargs="*", metavar="PATH",
        help="files or directories (walked for *.yaml, skipping *.j2.yaml); default: the "
        "bundle's deployment/, environments/, roles/ and roles_data.yaml",
    )  # fmt: skip
    parser.add_argument(
        "-e", "--environment-file", dest="env_files", action="append", metavar="ENV",
        help="env file whose resource_registry resolves role services (repeatable, later "
        "wins); default: the bundle's env files when no PATH is given, else none",
    )  # fmt: skip
    parser.add_argument(
        "-r", "--roles-file", metavar="ROLES",
        help="roles file for the per-role checks; default: roles_data.yaml when no PATH is "
        "given, else the roles files among PATH",
    )  # fmt: skip
    parser.add_argument(
        "--tht", metavar="DIR",
        help="stock tripleo-heat-templates tree (registry and parameter definitions); "
        "default: the one tools/setup.sh unpacks into .cache/",
    )  # fmt: skip
    parser.add_argument(
        "--module-in-image", dest="image_modules", action="append", default=[],
        metavar="MODULE",
        help="a Puppet module the overcloud image already has beyond stock's, e.g. "
        "tripleo_ovn_metadata after overcloud-image patch --puppet (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--skip-dir", dest="skip_dirs", action="append", default=[], metavar="DIR",
        help="directory name or path (relative to a PATH) not to walk (repeatable)",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Print one line per finding and a summary; 1 when there are errors."""
    report = validate.validate(
        args.paths,
        env_files=args.env_files,
        roles_file=args.roles_file,
        tht=args.tht,
        skip_dirs=args.skip_dirs,
        image_modules=args.image_modules,
    )
    for finding in report.findings:
        print(finding)
    print(report.summary())
    return 1 if report.errors else 0
