"""``tripleo-ovn-metadata verify``: fetch a VM's metadata through the deployed agent."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from tripleo_ovn_metadata import diagnostics, libchecks, verify
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
    parser.add_argument("--cloud-init-vm", action="store_true",
                        help="standalone: also boot a qemu guest whose cloud-init reads its "
                        "instance id, hostname and SSH key through the agent (a minute or more)")
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


def print_table(checks: Sequence[verify.Row]) -> int:
    """Print the PASS/FAIL/SKIP table and the summary; return how many failed."""
    for line in verify.table_lines(checks):
        print(line)
    return sum(check.status == "FAIL" for check in checks)


def run(args: argparse.Namespace) -> int:
    """Run the checks, print the table; 1 when any failed."""
    if args.image and not args.libraries:
        raise BundleError("--image only applies to --libraries")
    if args.libraries:
        return _run_libraries(args.image)
    if args.cloud_init_vm and (args.nodes or args.libraries):
        raise BundleError("--cloud-init-vm runs on the standalone deploy only (not --nodes)")
    if args.faults and not args.nodes:
        raise BundleError("--faults needs --nodes (the faults act on the rehearsal nodes)")
    if args.nodes:
        from tripleo_ovn_metadata import rehearsal

        kept = diagnostics.Kept([rehearsal.stack_secret()])
        checks = rehearsal.verify_computes(args.timeout, kept)
        if args.faults:
            rows, figures = rehearsal.run_faults(args.timeout, kept)
            checks += rows
            for name, value in figures.items():
                print(f"{name}: {value:.1f}")
    else:
        kept = diagnostics.Kept()
        checks = verify.run_checks(timeout=args.timeout, on_fail=kept,
                                   cloud_init=args.cloud_init_vm)
    failed = print_table(checks)
    for where, instance in verify.instance_ids.items():
        on = "" if where == verify.HOST.name else f" on {where}"
        print(f"instance-id fetched through the agent{on}: {instance}")
    for bundle in kept.bundles:
        print(f"diagnostics: {bundle}")
    for error in kept.errors:
        print(f"diagnostics not saved: {error}", file=sys.stderr)
    return 1 if failed else 0


def _run_libraries(image: str | None) -> int:
    """``verify --libraries``: the library checks' table; 1 when any failed."""
    ref = image or libchecks.agent_image()
    print(f"image: {ref}")
    return 1 if print_table(libchecks.run_checks(image=ref)) else 0
