"""The ``tripleo-ovn-metadata`` command: parses arguments, calls the library, maps errors.

Each subcommand is a module in this package exposing ``HELP``, ``add_arguments(parser)``
and ``run(args) -> int``; ``COMMANDS`` is the one list of them, in help order.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import NoReturn

from tripleo_ovn_metadata import __version__
from tripleo_ovn_metadata.errors import BundleError

COMMANDS: tuple[str, ...] = (
    "validate",
    "render",
    "registry",
    "image",
    "puppet-artifact",
    "overcloud-image",
    "config",
    "nodes",
    "overcloud",
    "rehearse",
    "deploy",
    "dev-loop",
    "verify",
    "destroy",
)


def _command_module(name: str) -> ModuleType:
    return importlib.import_module(f"{__name__}.{name.replace('-', '_')}")


class _Parser(argparse.ArgumentParser):
    """Bad command lines are bad input too: one line on stderr and exit code 1."""

    def error(self, message: str) -> NoReturn:
        self.exit(1, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = _Parser(
        prog="tripleo-ovn-metadata",
        description="Validate, render, configure, build, deploy and verify the OVN metadata "
        "agent bundle for TripleO.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="hide progress lines")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = _command_module(name)
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.set_defaults(_run=module.run)
    return parser


def _setup_logging(quiet: bool) -> None:
    level = logging.WARNING if quiet else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.setLevel(level)  # --quiet holds even where a child logger has its own level
    root = logging.getLogger("tripleo_ovn_metadata")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code (0 ok, 1 error or failed check)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.quiet)
    try:
        return int(args._run(args))
    except BundleError as exc:
        print(f"tripleo-ovn-metadata {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"tripleo-ovn-metadata {args.command}: interrupted", file=sys.stderr)
        return 1
