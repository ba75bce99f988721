"""``tripleo-ovn-metadata config``: generate the agent's configuration with Puppet."""

from __future__ import annotations

import argparse
from pathlib import Path

from tripleo_ovn_metadata import config
from tripleo_ovn_metadata.cli import _options

HELP = (
    "Generate the agent's configuration as container-puppet does: render the service with "
    "Heat, write hieradata and run puppet apply --tags into a config-data dir; prints the "
    "config hash."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register config's options."""
    _options.add_environment_files(parser, "Heat environment file (repeatable, later wins)")
    _options.add_parameters(parser)
    parser.add_argument(
        "--hieradata", type=Path, metavar="FILE",
        help="extra hieradata (YAML mapping) above the rendered config_settings: "
        "ovn_dbs_vip (required here), fqdn_canonical, overrides",
    )  # fmt: skip
    parser.add_argument("--role", default="Compute", help="role to render (default: %(default)s)")
    _options.add_roles_file(parser)
    parser.add_argument(
        "--output", type=Path, default=config.DEFAULT_OUTPUT, metavar="DIR",
        help="config-data directory to write (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--step", type=int, default=4, help="deployment step given to Puppet (default: 4)"
    )
    parser.add_argument(
        "--node-root", type=Path, default=Path("/"), metavar="DIR",
        help="the node's / whose etc/puppet (with our module from the deploy artifact, see "
        "puppet-artifact) and usr/share/openstack-puppet/modules Puppet uses, as "
        "container-puppet mounts them (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--config-image", metavar="IMAGE",
        help="run Puppet in this image when podman has it (default: the template's "
        "config_image); otherwise in a private mount namespace on the host",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Generate, then print where, whether it changed, and the config hash."""
    result = config.generate(
        role=args.role,
        env_files=args.env_files,
        parameters=_options.parse_parameters(args.parameters),
        roles_data=args.roles_file,
        hieradata_file=args.hieradata,
        output=args.output,
        step_number=args.step,
        config_image=args.config_image,
        node_root=args.node_root,
    )
    state = "changed" if result.changed else "unchanged"
    print(f"{result.output}: {len(result.files)} files, {state} (puppet ran via {result.engine})")
    print(f"config hash: {result.config_hash}")
    return 0
