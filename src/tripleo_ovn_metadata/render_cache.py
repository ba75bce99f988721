"""Content-keyed JSON entries under ``paths.cache_dir() / "render"`` for ``render``.

A key is the SHA-256 of everything an entry was computed from (file contents, not names
or mtimes, plus the versions of the tools that computed it), so a changed input is a
different key and never a stale hit. Writes are atomic (a temporary file renamed into
place); an entry that cannot be read, parsed or does not carry its own key counts as
missing and is rebuilt. A cache that cannot be written only costs time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from tripleo_ovn_metadata import paths

#: Bump when the layout of an entry changes: old entries are then never read.
FORMAT = 1
#: Entries of each kind kept (least recently used go first).
KEEP = {"stock": 4, "plan": 32}
#: Directories no template lives in (Python byte code written next to THT's tools).
SKIP_DIRS = frozenset({"__pycache__"})


def directory() -> Path:
    """Where render's entries live."""
    return paths.cache_dir() / "render"


def digest(*parts: Any) -> str:
    """SHA-256 of JSON-able ``parts`` (bytes are hashed as they are)."""
    sha = hashlib.sha256(f"tom-render-cache-{FORMAT}".encode())
    for part in parts:
        data = part if isinstance(part, bytes) else _canonical(part)
        sha.update(len(data).to_bytes(8, "little"))
        sha.update(data)
    return sha.hexdigest()


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()


def file_digest(path: Path) -> str:
    """SHA-256 of one file's content."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree_digest(root: Path) -> str:
    """SHA-256 over every file under ``root``: relative path and content, in sorted order."""
    sha = hashlib.sha256()
    root = root.resolve()
    for folder, dirs, files in os.walk(root, followlinks=True):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        for name in sorted(files):
            path = Path(folder, name)
            rel = str(path.relative_to(root)).encode()
            data = path.read_bytes()
            sha.update(len(rel).to_bytes(8, "little") + rel)
            sha.update(len(data).to_bytes(8, "little") + data)
    return sha.hexdigest()


@cache
def installed() -> list[str]:
    """Python's version and every installed distribution with its version.

    The ``*.dist-info``/``*.egg-info`` names on ``sys.path`` carry the versions (Heat,
    yaql, heatclient, tripleo-common, ...) without reading any metadata file.
    """
    found = [sys.version]
    for entry in sys.path:
        if not os.path.isabs(entry):
            continue  # the working directory: not part of what evaluates a plan
        with contextlib.suppress(OSError):
            found += sorted(
                name for name in os.listdir(entry)
                if name.endswith((".dist-info", ".egg-info"))
            )  # fmt: skip
    return found


def sources_digest(modules: Iterable[Any]) -> str:
    """SHA-256 of the source files of our ``modules`` (a code change is a new key)."""
    return digest(*(Path(module.__file__).read_bytes() for module in modules))


def _path(kind: str, key: str) -> Path:
    return directory() / f"{kind}-{key}.json"


def load(kind: str, key: str) -> dict[str, Any] | None:
    """The entry ``kind``/``key``, or None when it is missing, unreadable or corrupt."""
    path = _path(kind, key)
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get("key") != key or "value" not in entry:
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # most recently used
    return entry["value"]


def store(kind: str, key: str, value: Any) -> None:
    """Write the entry atomically (readable by its owner only) and prune old ones."""
    folder = directory()
    try:
        text = json.dumps({"key": key, "value": value}, separators=(",", ":"))
    except (TypeError, ValueError):
        return  # not JSON (a date in a template default): fine, just not cached
    tmp = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=folder, prefix=f".{kind}-", suffix=".tmp", delete=False
        ) as out:
            tmp = out.name
            out.write(text)
        os.replace(tmp, _path(kind, key))
        tmp = None
        _prune(kind)
    except OSError:
        pass
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _prune(kind: str) -> None:
    entries = []
    for path in directory().glob(f"{kind}-*.json"):
        with contextlib.suppress(OSError):
            entries.append((path.stat().st_mtime_ns, path))
    entries.sort(reverse=True)
    for _mtime, path in entries[KEEP[kind] :]:
        with contextlib.suppress(OSError):
            path.unlink()
