"""Copy a source tree's changed package files over the installed package (no build).

Run by ``image patch --source DIR --sync`` in the build container with the image's python3,
next to ``rpm_unpack.py`` (whose ``installed_dir`` and ``copy`` it uses):

    python3 sync_tree.py TREE

Each top-level package of TREE (a directory with ``__init__.py``) that this python3
already imports is updated in place: a file is copied only when its bytes differ (so the
layer holds just the change) and a replaced module is byte-compiled again, as pip and
dpkg compile what they install (the agent's user cannot write ``__pycache__``, so a
module left without bytecode would be compiled in memory at every start). Metadata,
entry points and the version stay the installed ones; files the tree lacks are kept.
"""

from __future__ import annotations

import contextlib
import filecmp
import os
import py_compile
import sys

from rpm_unpack import copy, installed_dir


def packages(tree: str) -> list[str]:
    """The tree's top-level packages (directories holding ``__init__.py``)."""
    return sorted(name for name in os.listdir(tree)
                  if os.path.isfile(os.path.join(tree, name, "__init__.py")))


def changed(tree: str, package: str, into: str) -> list[tuple[str, str]]:
    """(source, target) of each file of ``package`` missing or different under ``into``."""
    pairs = []
    root = os.path.join(tree, package)
    for top, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".pyc"):
                continue
            source = os.path.join(top, name)
            target = os.path.join(into, package, os.path.relpath(source, root))
            if not os.path.isfile(target) or not filecmp.cmp(source, target, shallow=False):
                pairs.append((source, target))
    return pairs


def compile_module(target: str) -> None:
    """Byte-compile ``target`` where its interpreter looks; like pip, a file that does not
    compile (a test fixture, say) is left without bytecode."""
    if target.endswith(".py"):
        with contextlib.suppress(py_compile.PyCompileError):
            py_compile.compile(target, doraise=True)


def main(argv: list[str]) -> int:
    """Sync every installed top-level package of ``argv[1]``; 1 when none is installed."""
    tree = argv[1]
    synced = 0
    for package in packages(tree):
        into = installed_dir(package)
        if into is None:
            print(f"{package}: not installed in this image (sync needs it; use --source "
                  "without --sync)", file=sys.stderr)
            return 1
        pairs = changed(tree, package, into)
        for source, target in pairs:
            copy(source, target)
            compile_module(target)
        synced += 1
        print(f"{package}: {len(pairs)} changed files copied into {into}")
    if not synced:
        print("no top-level package with __init__.py in the tree", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
