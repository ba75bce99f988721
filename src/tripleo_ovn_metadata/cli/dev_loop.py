"""``tripleo-ovn-metadata dev-loop``: an unreleased change to the deployed agent, timed."""

from __future__ import annotations

import argparse
from pathlib import Path

from tripleo_ovn_metadata import devloop, patch

HELP = ("patch the agent image with a source tree, wheel, deb or rpm, push it, redeploy the "
        "standalone agent and wait for a VM's 200, printing each phase's time")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the inputs (as ``image patch``'s) and the extra env files."""
    parser.add_argument("--source", nargs="+", type=Path, default=[], metavar="DIR",
                        help="Python source tree(s), e.g. a neutron git checkout")
    parser.add_argument("--sync", action="store_true",
                        help="with --source: copy only the changed package files over the "
                        "installed package (fast; no pip build, the version stays)")
    parser.add_argument("--wheel", nargs="+", type=Path, default=[], metavar="FILE")
    parser.add_argument("--deb", nargs="+", type=Path, default=[], metavar="FILE")
    parser.add_argument("--rpm", nargs="+", type=Path, default=[], metavar="FILE",
                        help="with the image's dnf/microdnf; on a dpkg image only with "
                        f"{patch.UNPACK_FLAG}")
    parser.add_argument(patch.UNPACK_FLAG, dest="rpm_unpack", action="store_true",
                        help="unpack the --rpm files (no dependency checks; see image patch)")
    parser.add_argument("-e", "--environment-file", dest="env_files", action="append",
                        default=[], type=Path, metavar="ENV",
                        help="the extra env files the deploy was made with (repeatable)")
    parser.add_argument("--timeout", type=float, default=120,
                        help="seconds to wait for the VM's 200 (default %(default)s)")


def run(args: argparse.Namespace) -> int:
    """One turn of the loop; the phases, the total and the running agent's version."""
    inputs = patch.Inputs(rpms=args.rpm, debs=args.deb, wheels=args.wheel, sources=args.source,
                          rpm_unpack=args.rpm_unpack, sync=args.sync)
    loop = devloop.run(inputs, env_files=args.env_files, timeout=args.timeout)
    for line in devloop.phase_lines(loop):
        print(line)
    print(f"{'total':22} {loop.total:6.1f} s  change to 200 (wall time)")
    print(f"agent image: {loop.ref}")
    print(f"running agent: {loop.agent_version}")
    print(f"env file: {loop.env_file}")
    return 0
