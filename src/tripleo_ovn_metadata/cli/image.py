"""``tripleo-ovn-metadata image``: build and push the images, or patch the agent image."""

from __future__ import annotations

import argparse
from pathlib import Path

from tripleo_ovn_metadata import image, patch, registry
from tripleo_ovn_metadata.errors import BundleError
from tripleo_ovn_metadata.progress import human_bytes

HELP = "build the kolla image chain and push it, or patch the agent image (dev loop)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register ``build`` and ``patch``."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    build = sub.add_parser("build", help="build what is missing and push it to the registry")
    patcher = sub.add_parser("patch", help="one thin layer of packages or source on the agent")
    for each in (build, patcher):
        each.add_argument("--registry", default=registry.DEFAULT_ADDRESS,
                          help="local registry host:port (default %(default)s)")
        each.add_argument("--env-file", type=Path,
                          help="write a Heat env file with the image parameters here")
        each.add_argument("--for-nodes", action="store_true",
                          help="the env file names the address the rehearsal nodes pull "
                          "from (the registry's listener on their network)")
    build.add_argument("--force", action="store_true", help="rebuild and push even if present")
    patcher.add_argument("--rpm", nargs="+", type=Path, default=[], metavar="FILE",
                         help="installed with the image's dnf or microdnf, dependencies "
                         "resolved; refused on a dpkg image (see --rpm-unpack-without-deps)")
    patcher.add_argument(patch.UNPACK_FLAG, dest="rpm_unpack", action="store_true",
                         help="unpack the --rpm files instead: no dependency checks, no "
                         "scriptlets, no rpm database entry; their site-packages go where the "
                         "image's python3 imports each package from (else its purelib)")
    patcher.add_argument("--deb", nargs="+", type=Path, default=[], metavar="FILE")
    patcher.add_argument("--wheel", nargs="+", type=Path, default=[], metavar="FILE")
    patcher.add_argument("--source", nargs="+", type=Path, default=[], metavar="DIR",
                         help="Python source tree(s), e.g. a neutron checkout")
    patcher.add_argument("--sync", action="store_true",
                         help="with --source: copy only the tree's changed package files over "
                         "the installed package (no pip build; metadata and version stay)")
    patcher.add_argument("--from", dest="base", metavar="REF",
                         help="image to patch (default: the current agent image)")
    patcher.add_argument("--config-image", action="store_true",
                         help="patch the config image too (ContainerNeutronConfigImage)")


def _show(param: str, pushed: image.Pushed) -> None:
    note = ("already in the registry" if pushed.skipped
            else f"uploaded {human_bytes(pushed.uploaded)}")
    print(f"{param}: {pushed.ref}")
    print(f"  digest {pushed.by_digest} ({note}, image {human_bytes(pushed.size)})")


def run(args: argparse.Namespace) -> int:
    """Build or patch, print the refs (and bytes), write the env file when asked."""
    if args.action == "build":
        result = image.build_and_push(args.registry, force=args.force)
        for param, pushed in result.items():
            _show(param, pushed)
        refs = {param: pushed.ref for param, pushed in result.items()}
    else:
        inputs = patch.Inputs(rpms=args.rpm, debs=args.deb, wheels=args.wheel,
                              sources=args.source, rpm_unpack=args.rpm_unpack,
                              sync=args.sync)
        result = patch.patch(inputs, base=args.base, config_image=args.config_image,
                             address=args.registry)
        _show("ContainerOvnMetadataImage", result.pushed)
        for param, pushed in result.extra.items():
            _show(param, pushed)
        print(f"  layer {human_bytes(result.layer_bytes)} of {human_bytes(result.image_bytes)} "
              f"({result.layer_bytes / max(result.image_bytes, 1):.1%})")
        refs = {"ContainerOvnMetadataImage": result.pushed.ref}
        refs.update({param: pushed.ref for param, pushed in result.extra.items()})
    if args.for_nodes and not args.env_file:
        raise BundleError("--for-nodes applies to the env file (--env-file)")
    if args.env_file:
        pull = None
        if args.for_nodes:
            pull = registry.listener_address()
            if pull is None:
                raise BundleError("--for-nodes: no rehearsal nodes are up "
                                  "(tripleo-ovn-metadata nodes up)")
        image.write_env_file(args.env_file, refs, args.registry, pull=pull)
        print(f"wrote {args.env_file}")
    return 0
