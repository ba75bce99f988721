"""``tripleo-ovn-metadata verify``: fetch a VM's metadata through the deployed agent."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Protocol

from tripleo_ovn_metadata import libchecks, verify
from tripleo_ovn_metadata.errors import BundleError

HELP = (
    "Check the deployed agent end to end (VM metadata through the agent, wrong secret, "
    "spoofing, a second network, agent and ovn-controller restarts); PASS/FAIL table."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register verify's options."""
    parser.add_argument(
        "--timeout", type=float, default=90, metavar="SECONDS",
        help="how long each check waits for the agent (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument("--nodes", action="store_true",
                        help="every compute of the rehearsal nodes (tripleo-ovn-metadata nodes up)")
    parser.add_argument("--faults", action="store_true",
                        help="with --nodes: also SB leader kill, compute restart and "
                        "ovn_controller stopped")

    parser.add_argument(
        "--libraries", action="store_true",
        help="instead: check the agent image's ovsdbapp and python-ovs against private OVN "
        "NB/SB servers (concurrent transactions, IDL modify cost)",
    )  # fmt: skip
    parser.add_argument(
        "--image", metavar="REF",
        help="with --libraries: the image to check (default: the deployed agent's image, "
        "else the current build)",
    )  # fmt: skip


class _Row(Protocol):
    name: str
    status: str
    seconds: float
    detail: str


def print_table(checks: Sequence[_Row]) -> int:
    """Print the PASS/FAIL/SKIP table and the summary; return how many failed."""
    width = max(len(check.name) for check in checks)
    print(f"{'RESULT':6}  {'CHECK':{width}}  {'TIME':>7}  DETAIL")
    for check in checks:
        print(f"{check.status:6}  {check.name:{width}}  {check.seconds:6.2f}s  {check.detail}")
    counts = {status: sum(c.status == status for c in checks) for status in ("PASS", "FAIL",
                                                                            "SKIP")}
    print(f"{counts['PASS']} passed, {counts['FAIL']} failed, {counts['SKIP']} skipped")
    return counts["FAIL"]


def run(args: argparse.Namespace) -> int:
    """Run the checks, print the table; 1 when any failed."""
    if args.image and not args.libraries:
        raise BundleError("--image only applies to --libraries")
    if args.libraries:
        return _run_libraries(args.image)
    if args.faults and not args.nodes:
        raise BundleError("--faults needs --nodes (the faults act on the rehearsal nodes)")
    if args.nodes:
        from tripleo_ovn_metadata import rehearsal

        checks = rehearsal.verify_computes(args.timeout)
        if args.faults:
            rows, figures = rehearsal.run_faults(args.timeout)
            checks += rows
            for name, value in figures.items():
                print(f"{name}: {value:.1f}")
    else:
        checks = verify.run_checks(timeout=args.timeout)
    failed = print_table(checks)
    for check in checks:
        if check.passed and check.name.endswith(verify.VM1_CHECK):
            where, _, _ = check.name.rpartition(f": {verify.VM1_CHECK}")
            on = f" on {where}" if where else ""
            print(f"instance-id fetched through the agent{on}: "
                  f"{verify.instance_ids[where or verify.HOST.name]}")
    return 1 if failed else 0


def _run_libraries(image: str | None) -> int:
    """``verify --libraries``: the library checks' table; 1 when any failed."""
    ref = image or libchecks.agent_image()
    print(f"image: {ref}")
    return 1 if print_table(libchecks.run_checks(image=ref)) else 0
