"""``tripleo-ovn-metadata puppet-artifact``: our Puppet module as a TripleO deploy artifact."""

from __future__ import annotations

import argparse
from pathlib import Path

from tripleo_ovn_metadata import artifact
from tripleo_ovn_metadata.progress import human_bytes

HELP = (
    "write our Puppet module as a deploy artifact (a tarball unpacked under "
    "/etc/puppet/modules on every node) and, on request, the env file that ships it "
    "(DeployArtifactFILEs)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register puppet-artifact's options."""
    parser.add_argument("--output", type=Path, default=artifact.DEFAULT_OUTPUT, metavar="FILE",
                        help="the tarball to write (default: %(default)s)")
    parser.add_argument("--env-file", type=Path, metavar="FILE",
                        help="write a Heat env file setting DeployArtifactFILEs to the "
                        "tarball's absolute path here")


def run(args: argparse.Namespace) -> int:
    """Write the tarball (and env file), print what they hold."""
    built = artifact.build(args.output)
    print(f"{built.path}: {built.module} ({built.files} files, {human_bytes(built.size)}), "
          f"sha256 {built.sha256}")
    if args.env_file:
        artifact.write_env_file(args.env_file, built.path)
        print(f"wrote {args.env_file} ({artifact.PARAMETER}: [{built.path}])")
    return 0
