"""``tripleo-ovn-metadata deploy``: deploy the service from its rendered role_data."""

from __future__ import annotations

import argparse
from pathlib import Path

from tripleo_ovn_metadata import deploy, paths, secrets
from tripleo_ovn_metadata.cli import _options

HELP = (
    "Deploy the OVN metadata agent through Ansible from the role_data real Heat renders; "
    "by default standalone on this machine with the rest-of-cloud fixture."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register deploy's options."""
    parser.add_argument(
        "-i", "--inventory", type=Path, metavar="FILE",
        help="Ansible inventory with group compute (default: this machine only; then the "
        "fixture starts unless --no-fixture)",
    )  # fmt: skip
    parser.add_argument(
        "--fixture", type=Path, metavar="DIR",
        help="rest-of-cloud fixture to start (default: fixtures/cloud when standalone)",
    )  # fmt: skip
    parser.add_argument("--no-fixture", action="store_true", help="start no fixture")
    _options.add_environment_files(parser, "extra Heat environment file (repeatable)")
    parser.add_argument(
        "--secret-file", type=Path, metavar="FILE",
        help="file holding NeutronMetadataProxySharedSecret (default: generated once and "
        "kept root-only in the state directory)",
    )  # fmt: skip
    parser.add_argument("--image", metavar="REF", help="agent image (default: local registry)")
    parser.add_argument("--config-image", metavar="REF", help="config image (default: --image)")
    parser.add_argument("--hostname", help="this host's name in OVN and neutron::host")
    parser.add_argument(
        "--ovn-dbs-vip", default="127.0.0.1", metavar="ADDR[,ADDR...]",
        help="OVN southbound DB address(es) for the ovn_dbs_vip hiera (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--prepare-only", action="store_true",
        help="render, generate the config and write the playbook's vars file; run no playbook "
        "(a multi-node run then calls ansible/playbooks/deploy.yaml itself)",
    )  # fmt: skip
    parser.add_argument(
        "--force", action="store_true",
        help="run Puppet and the deploy playbook even when their inputs are unchanged "
        "(by default each is skipped when its inputs and what it produced are as recorded)",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Deploy and print what happened to each container."""
    fixture = None
    if not args.no_fixture:
        fixture = args.fixture or (None if args.inventory else paths.bundle_root() / deploy.FIXTURE)
    images = None
    if args.image:
        images = {
            "ContainerOvnMetadataImage": args.image,
            "ContainerNeutronConfigImage": args.config_image or args.image,
        }
    options = deploy.Options(
        fixture=fixture,
        inventory=args.inventory,
        env_files=args.env_files,
        images=images,
        secret=secrets.read_secret_file(args.secret_file) if args.secret_file else None,
        prepare_only=args.prepare_only,
        force=args.force,
    )
    vips = [vip.strip() for vip in args.ovn_dbs_vip.split(",") if vip.strip()]
    options.ovn_dbs_vip = vips[0] if len(vips) == 1 else vips
    if args.hostname:
        options.hostname = args.hostname
    result = deploy.deploy(options)
    if options.prepare_only:
        print(f"vars file: {result.vars_file}")
    for name, change in result.containers.items():
        print(f"{name}: {change}")
    print(f"config hash: {result.config_hash}")
    return 0
