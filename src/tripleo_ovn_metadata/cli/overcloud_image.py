"""``tripleo-ovn-metadata overcloud-image patch``: our module and packages into a qcow2."""

from __future__ import annotations

import argparse
from pathlib import Path

from tripleo_ovn_metadata import overcloud_image
from tripleo_ovn_metadata.progress import human_bytes

HELP = (
    "patch an overcloud image (qcow2) with virt-customize: our Puppet module into "
    "/etc/puppet/modules and .rpm/.deb packages installed; the image changes only on success"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register ``patch``."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    patcher = sub.add_parser("patch", help="patch the image in place (a copy, renamed over it)")
    patcher.add_argument("--image", type=Path, required=True, metavar="FILE",
                         help="the qcow2 image, e.g. overcloud-full.qcow2")
    patcher.add_argument("--puppet", action="store_true",
                         help="copy our Puppet module to /etc/puppet/modules/tripleo_ovn_metadata")
    patcher.add_argument("--rpm", nargs="+", type=Path, default=[], metavar="FILE",
                         help="install with rpm -Uvh in the image")
    patcher.add_argument("--deb", nargs="+", type=Path, default=[], metavar="FILE",
                         help="install with dpkg -i in the image")


def run(args: argparse.Namespace) -> int:
    """Patch, then print what went in and how long it took."""
    result = overcloud_image.patch(args.image, puppet=args.puppet, rpms=args.rpm, debs=args.deb)
    parts = (["our Puppet module in /etc/puppet/modules"] if result.puppet else [])
    parts += list(result.packages)
    print(f"{result.image}: patched ({', '.join(parts)}) in {result.seconds:.1f} s "
          f"with {result.accelerator.upper()}; now {human_bytes(result.size)}")
    return 0
