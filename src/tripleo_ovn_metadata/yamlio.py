"""YAML loading that reports problems as one line naming the file, and keeps line numbers.

``load`` returns plain Python data. ``load_with_lines`` returns :class:`LineDict` and
:class:`LineList` objects that remember where each key and item started, so checks can
report ``file:line``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tripleo_ovn_metadata.errors import InputError


class LineDict(dict):
    """A mapping that knows its own line and the line of each key (1-based)."""

    line: int = 0
    key_lines: dict[Any, int]

    def line_of(self, key: Any) -> int:
        """Line of ``key`` in the file, or of the mapping itself when unknown."""
        return self.key_lines.get(key, self.line)


class LineList(list):
    """A sequence that knows its own line and the line of each item (1-based)."""

    line: int = 0
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        """Line of item ``index``, or of the sequence itself when unknown."""
        return self.item_lines[index] if index < len(self.item_lines) else self.line


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that builds LineDict/LineList."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)

#: The same loader on libyaml's parser when PyYAML has it (about 7x faster on big trees).
_FastLineLoader: type[yaml.SafeLoader] = _LineLoader
if getattr(yaml, "__with_libyaml__", False):

    class _CLineLoader(yaml.CSafeLoader):  # type: ignore[misc, name-defined]
        """CSafeLoader that builds LineDict/LineList."""

    _CLineLoader.add_constructor(
        yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping
    )
    _CLineLoader.add_constructor(
        yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence
    )
    _FastLineLoader = _CLineLoader


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except IsADirectoryError:
        raise InputError(path, "is a directory, expected a YAML file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read: {exc}") from None


def _parse(path: Path, loader: type[yaml.SafeLoader]) -> Any:
    text = _read(path)
    try:
        return yaml.load(text, Loader=loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise InputError(path, f"YAML syntax error: {exc.problem or exc.context}", line) from None
    except yaml.YAMLError as exc:
        raise InputError(path, f"YAML error: {exc}") from None


def load(path: str | Path) -> Any:
    """Parse a YAML file into plain data, or raise InputError naming the file."""
    return _parse(Path(path), yaml.SafeLoader)


def load_with_lines(path: str | Path, *, fast: bool = False) -> Any:
    """Parse a YAML file into LineDict/LineList data, or raise InputError naming the file.

    ``fast`` uses libyaml when available (same data; syntax messages may word things
    slightly differently).
    """
    return _parse(Path(path), _FastLineLoader if fast else _LineLoader)


def load_mapping(path: str | Path, *, with_lines: bool = False) -> dict:
    """Parse a YAML file whose top level must be a mapping."""
    data = load_with_lines(path) if with_lines else load(path)
    if not isinstance(data, dict):
        raise InputError(path, "expected a mapping at the top level")
    return data


def dump(data: Any) -> str:
    """Serialise data the way the project writes YAML (block style, keys in order)."""
    return yaml.safe_dump(data, default_flow_style=False, sort_keys=False)


def write_atomic(path: Path, data: Any, mode: int = 0o600) -> Path:
    """Write ``data`` as YAML to ``path`` via a temporary file and rename (never half)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(dump(data), encoding="utf-8")
    tmp.chmod(mode)
    tmp.replace(path)
    return path
