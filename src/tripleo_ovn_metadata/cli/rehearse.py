"""``tripleo-ovn-metadata rehearse``: the multinode zuul job on rehearsal nodes, here."""

from __future__ import annotations

import argparse

from tripleo_ovn_metadata import nodes, zuul_job

HELP = ("run the multinode zuul job's own playbooks on rehearsal node containers "
        "(nodes up, pre-run, run, post-run, nodes down)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Node counts and --keep."""
    parser.add_argument("--controllers", type=int, default=3, help="default %(default)s")
    parser.add_argument("--computes", type=int, default=3, help="default %(default)s")
    parser.add_argument("--verify-timeout", type=float, metavar="SECONDS",
                        help="how long each verify check waits for the agent "
                        "(default: the job's, 90)")
    parser.add_argument("--keep", action="store_true",
                        help="leave the nodes up afterwards (tripleo-ovn-metadata nodes down)")


def run(args: argparse.Namespace) -> int:
    """Rehearse and print each playbook's outcome and time."""
    outcome = zuul_job.rehearse(args.controllers, args.computes, keep=args.keep,
                                verify_timeout=args.verify_timeout)
    for playbook, result, seconds in outcome.phases:
        print(f"{result:6}  {seconds:6.1f}s  {playbook}")
    print(f"job log: {nodes.nodes_dir() / 'job.log'}")
    return 1 if outcome.failed else 0
