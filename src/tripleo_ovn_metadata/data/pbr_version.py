"""Print the PBR_VERSION for a git checkout installed into this image (run by its python3).

Usage: ``python3 pbr_version.py TREE LABEL``. The version is the release this image has of
the tree's distribution (``[metadata] name`` in setup.cfg) with its patch number bumped,
then ``.LABEL`` (``devN``): ``21.0.0`` -> ``21.0.1.dev3``; ``0.0.1.devN`` when absent.
"""

from __future__ import annotations

import configparser
import importlib.metadata
import sys
from pathlib import Path


def distribution_name(tree: Path) -> str:
    """The ``[metadata] name`` of the tree's setup.cfg ("" without one)."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(tree / "setup.cfg", encoding="utf-8")
    return parser.get("metadata", "name", fallback="").strip()


def installed_release(name: str) -> list[int]:
    """The numeric release of this image's ``name`` ([0, 0, 0] when absent)."""
    try:
        version = importlib.metadata.version(name) if name else "0"
    except importlib.metadata.PackageNotFoundError:
        version = "0"
    numbers = []
    for part in version.split("+", 1)[0].split("."):
        if not part.isdigit():
            break
        numbers.append(int(part))
    return [*numbers, 0, 0, 0][:3]


def main(argv: list[str]) -> int:
    """Print ``<major>.<minor>.<patch + 1>.<label>``."""
    tree, label = Path(argv[1]), argv[2]
    major, minor, patch = installed_release(distribution_name(tree))
    print(f"{major}.{minor}.{patch + 1}.{label}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
