"""Parameter definitions of the stock THT tree, indexed by name (for ``param-definitions``).

Building the index parses ~600 parameter blocks; the result is kept as JSON under the
cache directory, keyed by every file's path, size and mtime, so later runs just read it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from functools import lru_cache
from pathlib import Path

import yaml

from tripleo_ovn_metadata import paths

#: Stock directories that hold no deployable templates (as stock's own tox run skips them).
SKIP = frozenset({".tox", "releasenotes", "zuul.d", "doc", "ci"})

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
#: The top-level ``parameters:`` block: that line and the indented/blank lines after it.
_BLOCK = re.compile(r"^parameters:.*\n(?:(?:[ \t#].*|)\n)*", re.MULTILINE)


def _parameters(text: str) -> dict | None:
    """The ``parameters`` of a HOT template, parsing only that block (outputs are big)."""
    if "heat_template_version" not in text:
        return None
    match = _BLOCK.search(text)
    if match is None:
        return None
    try:
        data = yaml.load(match.group(0), _Loader)
    except yaml.YAMLError:
        data = yaml.load(text, _Loader)
    params = data.get("parameters") if isinstance(data, dict) else None
    return params if isinstance(params, dict) else None


def _templates(tht: Path) -> list[Path]:
    found = []
    for root, dirs, files in os.walk(tht):
        if root == str(tht):
            dirs[:] = [d for d in dirs if d not in SKIP]
        found.extend(
            Path(root, name) for name in files
            if name.endswith(".yaml") and not name.endswith(".j2.yaml")
        )  # fmt: skip
    return sorted(found)


def _signature(tht: Path, files: list[Path]) -> str:
    digest = hashlib.sha256(str(tht.resolve()).encode())
    for path in files:
        stat = path.stat()
        digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


@lru_cache(maxsize=2)
def index(tht: Path) -> dict[str, list[tuple[str, dict]]]:
    """name → [(file relative to ``tht``, definition)] over every stock HOT template."""
    files = _templates(tht)
    cache = paths.cache_dir() / "validate" / f"stock-params-{_signature(tht, files)}.json"
    try:
        return {k: [(f, d) for f, d in v] for k, v in json.loads(cache.read_text()).items()}
    except (OSError, ValueError):
        pass
    found = _build(tht, files)
    try:
        text = json.dumps(found)
    except (TypeError, ValueError):
        return found  # a non-JSON default (a date): fine, just not cached
    _write(cache, text)
    return found


def _write(cache: Path, text: str) -> None:
    """Write ``cache`` atomically; a cache we cannot write only costs time."""
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=cache.parent, delete=False) as out:
            out.write(text)
        os.replace(out.name, cache)
        for old in cache.parent.glob("stock-params-*.json"):
            if old != cache:
                old.unlink()
    except OSError:
        with contextlib.suppress(OSError, UnboundLocalError):
            os.unlink(out.name)


def _build(tht: Path, files: list[Path]) -> dict[str, list[tuple[str, dict]]]:
    found: dict[str, list[tuple[str, dict]]] = {}
    for path in files:
        try:
            params = _parameters(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        rel = str(path.relative_to(tht))
        for param, definition in (params or {}).items():
            if isinstance(definition, dict):
                found.setdefault(str(param), []).append((rel, definition))
    return found
