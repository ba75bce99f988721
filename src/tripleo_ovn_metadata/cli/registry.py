"""``tripleo-ovn-metadata registry``: start, stop, inspect the local image registry."""

from __future__ import annotations

import argparse

from tripleo_ovn_metadata import registry

HELP = "run the local image registry (docker-registry on 127.0.0.1:8787)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register ``start|stop|status|list``."""
    parser.add_argument("action", choices=("start", "stop", "status", "list"))
    parser.add_argument("--address", default=registry.DEFAULT_ADDRESS,
                        help="loopback host:port to listen on (start; default %(default)s)")


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
    else:
        state = registry.status()
        if not state.running:
            print("registry is not running (tripleo-ovn-metadata registry start)")
            return 3
        for ref in registry.list_images(state.address):
            print(f"{state.address}/{ref}")
    return 0
