"""``tripleo-ovn-metadata verify``: fetch a VM's metadata through the deployed agent."""

from __future__ import annotations

import argparse

from tripleo_ovn_metadata import verify

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


def run(args: argparse.Namespace) -> int:
    """Run the checks, print the table; 1 when any failed."""
    checks = verify.run_checks(timeout=args.timeout)
    width = max(len(check.name) for check in checks)
    print(f"{'RESULT':6}  {'CHECK':{width}}  {'TIME':>7}  DETAIL")
    for check in checks:
        result = "PASS" if check.passed else "FAIL"
        print(f"{result:6}  {check.name:{width}}  {check.seconds:6.2f}s  {check.detail}")
    failed = sum(not check.passed for check in checks)
    print(f"{len(checks) - failed} passed, {failed} failed")
    if any(check.passed and check.name == verify.VM1_CHECK for check in checks):
        print(f"instance-id fetched through the agent: {verify.last_instance_id}")
    return 1 if failed else 0
