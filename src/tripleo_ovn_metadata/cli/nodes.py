"""``tripleo-ovn-metadata nodes``: boot, list and remove the rehearsal node containers."""

from __future__ import annotations

import argparse

from tripleo_ovn_metadata import nodes, tht

HELP = "rehearsal nodes: systemd node containers standing in for overcloud nodes"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register ``up|down|status`` and the node counts."""
    parser.add_argument("action", choices=("up", "down", "status"))
    parser.add_argument("--controllers", type=int, default=3, help="default %(default)s")
    parser.add_argument("--computes", type=int, default=3, help="default %(default)s")
    parser.add_argument("--subnet", default=str(tht.CTLPLANE_CIDR),
                        help="the nodes' ctlplane subnet (default %(default)s)")


def run(args: argparse.Namespace) -> int:
    """Do the action; one line per node or per removed thing."""
    if args.action == "up":
        nodeset = nodes.up(args.controllers, args.computes, subnet=args.subnet)
        for node in nodeset.nodes:
            print(f"{node.hostname}\t{node.role}\t{node.ip}\t{node.container_id[:12]}")
        print(f"inventory: {nodes.nodes_dir() / 'zuul-inventory.yaml'}")
        print(f"registry for the nodes: {nodeset.registry}")
    elif args.action == "down":
        removed = nodes.down()
        print("\n".join(f"removed {what}" for what in removed) or "no rehearsal nodes were up")
    else:
        rows = nodes.status()
        if not rows:
            print("no rehearsal nodes are up")
            return 3
        for row in rows:
            print(f"{row.hostname}\t{row.role}\t{row.ip}\t{row.state}")
    return 0
