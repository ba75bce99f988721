"""``tripleo-ovn-metadata destroy``: remove what deploy started, by its recorded ids."""

from __future__ import annotations

import argparse

from tripleo_ovn_metadata import deploy

HELP = (
    "Remove the deployed containers, the agent's namespaces and the fixture's processes, "
    "bridges and files; the kept shared secret stays unless --purge-secret."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register destroy's options."""
    parser.add_argument(
        "--purge-secret", action="store_true", help="also delete the kept shared secret"
    )


def run(args: argparse.Namespace) -> int:
    """Destroy and list what went."""
    removed = deploy.destroy(purge_secret=args.purge_secret)
    if not removed:
        print("nothing deployed")
    for item in removed:
        print(f"removed {item}")
    return 0
