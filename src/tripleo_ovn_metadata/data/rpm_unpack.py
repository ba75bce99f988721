"""Copy an unpacked RPM's files into this image, its Python files where this python3 reads them.

Run by ``image patch --rpm-unpack-without-deps`` in the build container with the image's own
python3 (any 3.7+; never imported by the library, the unit tests load it by path):

    python3 rpm_unpack.py ROOT

ROOT holds the RPMs' payloads (rpm2cpio | cpio, done on the host). An EL python3 RPM ships
``usr/lib{,64}/python3.X/site-packages/<top>/...``, which another distribution's Python never
reads. Such files go where this python3 imports ``<top>`` from (so they replace the installed
package's files, e.g. Debian's ``/usr/lib/python3/dist-packages/neutron``), or to its purelib
when it has no ``<top>``. Every other file keeps its path. No dependency checks, no scriptlets.
"""

from __future__ import annotations

import functools
import glob
import importlib.util
import os
import re
import shutil
import sys
import sysconfig
from collections.abc import Callable

#: An RPM's Python directory, relative to /.
SITE = re.compile(r"^usr/lib(64)?/python3(\.\d+)?/site-packages/")
#: The directories leading to it, which this image gets none of.
SITE_PARENTS = re.compile(r"^usr/lib(64)?/python3(\.\d+)?(/site-packages)?$")


@functools.lru_cache(maxsize=None)  # noqa: UP033 (functools.cache is 3.9+)
def installed_dir(top: str) -> str | None:
    """The directory this python3 imports the top-level module or package ``top`` from."""
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.has_location or not spec.origin:
        return None  # absent, built-in or a namespace package
    here = os.path.dirname(spec.origin)
    return os.path.dirname(here) if spec.submodule_search_locations else here


def destination(rel: str, purelib: str,
                where: Callable[[str], str | None] = installed_dir) -> str | None:
    """Absolute path for the RPM's file ``rel`` (relative to /), or None to skip it.

    ``where(top)`` names the directory the image imports ``top`` from (None: not installed).
    """
    if SITE_PARENTS.match(rel):
        return None
    match = SITE.match(rel)
    if not match:
        return "/" + rel
    inner = rel[match.end():]
    if "__pycache__" in inner.split("/"):
        return None  # bytecode for the RPM's Python, not this one
    name = inner.split("/", 1)[0].split(".", 1)[0]
    found = where(name) if name.isidentifier() else None
    return os.path.join(found or purelib, inner)


def plan(root: str, purelib: str,
         where: Callable[[str], str | None] = installed_dir) -> list[tuple[str, str]]:
    """(source, destination) of every directory, file and symlink under ``root``, parents
    first; every destination is decided before anything is copied."""
    pairs = []
    for top, dirs, files in os.walk(root):
        dirs.sort()
        for name in dirs + sorted(files):
            source = os.path.join(top, name)
            target = destination(os.path.relpath(source, root), purelib, where)
            if target is not None:
                pairs.append((source, target))
    return pairs


def copy(source: str, target: str) -> None:
    """Put ``source`` (directory, file or symlink) at ``target``, replacing a file there and
    the stale bytecode of a replaced module."""
    if os.path.isdir(source) and not os.path.islink(source):
        os.makedirs(target, exist_ok=True)
        return
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if os.path.lexists(target) and not os.path.isdir(target):
        os.unlink(target)
    if os.path.islink(source):
        os.symlink(os.readlink(source), target)
    else:
        shutil.copy2(source, target)
    if target.endswith(".py"):
        stem = os.path.basename(target)[:-3]
        for stale in glob.glob(os.path.join(os.path.dirname(target), "__pycache__",
                                            glob.escape(stem) + ".*.pyc")):
            os.unlink(stale)


def python_dirs(root: str, pairs: list[tuple[str, str]]) -> list[str]:
    """The directories the RPM's site-packages went to."""
    found = set()
    for source, target in pairs:
        rel = os.path.relpath(source, root)
        match = SITE.match(rel)
        if match:
            found.add(target[: len(target) - len(rel) + match.end()].rstrip("/"))
    return sorted(found)


def main(argv: list[str]) -> int:
    """Copy the tree ``argv[1]`` into / and print where its Python files went."""
    root = argv[1]
    pairs = plan(root, sysconfig.get_paths()["purelib"])
    for source, target in pairs:
        copy(source, target)
    where = ", ".join(python_dirs(root, pairs)) or "none"
    print(f"unpacked {len(pairs)} paths; site-packages went to: {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
