"""Options several subcommands share (-e, -r, -p), defined and parsed in one place."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml

from tripleo_ovn_metadata.errors import InputError


def add_environment_files(parser: argparse.ArgumentParser, help_text: str) -> None:
    """``-e/--environment-file ENV`` (repeatable, later wins) into ``args.env_files``."""
    parser.add_argument(
        "-e", "--environment-file", dest="env_files", action="append", default=[],
        type=Path, metavar="ENV", help=help_text,
    )  # fmt: skip


def add_roles_file(parser: argparse.ArgumentParser) -> None:
    """``-r/--roles-file ROLES`` into ``args.roles_file``."""
    parser.add_argument(
        "-r", "--roles-file", type=Path, metavar="ROLES",
        help="roles file (default: the bundle's roles_data.yaml)",
    )  # fmt: skip


def add_parameters(parser: argparse.ArgumentParser) -> None:
    """``-p/--parameter NAME=VALUE`` (repeatable) into ``args.parameters``."""
    parser.add_argument(
        "-p", "--parameter", dest="parameters", action="append", default=[],
        metavar="NAME=VALUE", help="template parameter; VALUE is read as YAML (repeatable)",
    )  # fmt: skip


def parse_parameters(items: list[str]) -> dict[str, Any]:
    """``NAME=VALUE`` strings as a parameters dict (values parsed as YAML)."""
    parameters: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise InputError("--parameter", f"expected NAME=VALUE, got {name!r} without a value")
        try:
            parameters[name] = yaml.safe_load(value) if value else ""
        except yaml.YAMLError:
            raise InputError("--parameter", f"{name}: VALUE is not valid YAML") from None
    return parameters
