"""``tripleo-ovn-metadata overcloud deploy``: the overcloud on the rehearsal nodes."""

from __future__ import annotations

import argparse

from tripleo_ovn_metadata import overcloud, rehearsal
from tripleo_ovn_metadata.cli import _options

HELP = ("deploy the overcloud on the rehearsal nodes: real Heat, config-download and "
        "tripleo-ansible's deploy_steps_playbook.yaml over SSH")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register ``deploy`` with -e/-r."""
    parser.add_argument("action", choices=("deploy",))
    _options.add_environment_files(
        parser, "environment file, as for `openstack overcloud deploy -e` (repeatable)")
    _options.add_roles_file(parser)


def run(args: argparse.Namespace) -> int:
    """Create the stack, run the playbook, start the stub Nova; print where things are."""
    work = overcloud.deploy(args.env_files, roles_data=args.roles_file)
    rehearsal.start_nova_stand_in_for(work)
    print(f"config-download: {work.config}")
    print(f"inventory: {work.inventory}")
    print(f"ansible log: {work.log}")
    return 0
