"""``tripleo-ovn-metadata registry``: start, stop, inspect and garbage-collect the local
image registry."""

from __future__ import annotations

import argparse

from tripleo_ovn_metadata import registry
from tripleo_ovn_metadata.progress import human_bytes

HELP = "run the local image registry (docker-registry on 127.0.0.1:8787)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register ``start|stop|status|list|gc``."""
    parser.add_argument("action", choices=("start", "stop", "status", "list", "gc"))
    parser.add_argument("--address", default=registry.DEFAULT_ADDRESS,
                        help="loopback host:port to listen on (start; default %(default)s)")
    parser.add_argument("--untagged", action="store_true",
                        help="gc: also delete manifests that no tag names")
    parser.add_argument("--dry-run", action="store_true",
                        help="gc: only count the blobs it would delete")


def run(args: argparse.Namespace) -> int:
    """Do the action and print one line per fact."""
    if args.action == "start":
        state = registry.start(args.address)
        print(f"registry running on {state.address} (pid {state.pid}), storage {state.storage}")
    elif args.action == "stop":
        print("registry stopped" if registry.stop() else "registry was not running")
    elif args.action == "status":
        state = registry.status()
        where = f"on {state.address} (pid {state.pid})" if state.running else "stopped"
        print(f"registry {where}, storage {state.storage}")
        return 0 if state.running else 3
    elif args.action == "gc":
        _print_collected(registry.garbage_collect(untagged=args.untagged, dry_run=args.dry_run),
                         args.dry_run)
    else:
        state = registry.status()
        if not state.running:
            print("registry is not running (tripleo-ovn-metadata registry start)")
            return 3
        for ref in registry.list_images(state.address):
            print(f"{state.address}/{ref}")
    return 0


def _print_collected(done: registry.Collected, dry_run: bool) -> None:
    verb = "would delete" if dry_run else "deleted"
    line = (f"registry gc: {verb} {done.blobs} blobs; storage {human_bytes(done.before)} -> "
            f"{human_bytes(done.after)}")
    if done.restarted:
        line += f"; registry running again on {done.restarted}"
    print(line)
