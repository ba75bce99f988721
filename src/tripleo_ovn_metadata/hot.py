"""Static reading of HOT templates: role_data, docker_config, parameter references.

Nothing here evaluates a template (that is Heat's job, see ``render``). Values that
are intrinsic functions stay as they are; ``merged`` only folds the plain mappings of
a ``map_merge`` (and the true branch of an ``if``) so checks can see the keys most
templates spell out literally.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tripleo_ovn_metadata.yamlio import LineDict, LineList

#: HOT intrinsic functions of the wallaby template version.
INTRINSICS = frozenset(
    {
        "and", "contains", "digest", "equals", "filter", "get_attr", "get_file",
        "get_param", "get_resource", "if", "list_concat", "list_concat_unique",
        "list_join", "make_url", "map_merge", "map_replace", "not", "or", "repeat",
        "resolve", "str_replace", "str_replace_strict", "str_replace_vstrict", "str_split",
        "yaql",
    }
)  # fmt: skip

#: Names of stock-style container service templates (``*-container-puppet.yaml``).
CONTAINER_TEMPLATE = re.compile(r"-container(-puppet)?\.yaml$")
#: Names of service templates whose service_name must prefix the file name.
SERVICE_TEMPLATE = re.compile(r"-((container|baremetal|pacemaker)-puppet|container)\.yaml$")


def is_intrinsic(value: Any) -> bool:
    """True for a one-key mapping naming a HOT function (``{get_param: X}``)."""
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in INTRINSICS


def line_of(value: Any, default: int = 0) -> int:
    """The line a loaded mapping or sequence starts on."""
    return getattr(value, "line", 0) or default


def _new_dict(line: int) -> LineDict:
    result = LineDict()
    result.line = line
    result.key_lines = {}
    return result


def merged(value: Any) -> dict | None:
    """The mapping ``value`` stands for, folding ``map_merge`` parts and ``if`` true branches.

    Returns None when it is another function (``get_attr``, ``yaql``) or not a mapping.
    """
    if not isinstance(value, dict):
        return None
    if not is_intrinsic(value):
        return value
    name, args = next(iter(value.items()))
    if name == "if" and isinstance(args, list) and len(args) > 1:
        return merged(args[1])
    if name != "map_merge" or not isinstance(args, list):
        return None
    result = _new_dict(line_of(value))
    for part in args:
        folded = merged(part)
        if folded is None:
            continue
        for key, item in folded.items():
            result[key] = item
            result.key_lines[key] = folded.line_of(key) if isinstance(folded, LineDict) else 0
    return result


def key_line(mapping: Any, key: Any, default: int = 0) -> int:
    """Line of ``key`` in a loaded mapping; else ``default``; else the mapping's own line."""
    if isinstance(mapping, LineDict):
        return mapping.key_lines.get(key) or default or mapping.line
    return default


def role_data(template: Any) -> dict | None:
    """``outputs.role_data.value`` of a service template, merged; None when absent."""
    if not isinstance(template, dict):
        return None
    outputs = template.get("outputs")
    if not isinstance(outputs, dict):
        return None
    output = outputs.get("role_data")
    if not isinstance(output, dict):
        return None
    return merged(output.get("value"))


def param_refs(value: Any) -> set[str]:
    """Parameter names ``value`` reads with ``get_param`` or via a RoleParametersValue get_attr."""
    found: set[str] = set()
    for item in walk(value):
        if not isinstance(item, dict):
            continue
        ref = item.get("get_param")
        if isinstance(ref, str):
            found.add(ref)
        elif isinstance(ref, list) and ref and isinstance(ref[0], str):
            found.add(ref[0])
        attr = item.get("get_attr")
        if isinstance(attr, list):
            found.update(x for x in attr[1:] if isinstance(x, str))
    return found


def walk(value: Any) -> Iterator[Any]:
    """Every value nested in ``value`` (depth first, ``value`` itself first)."""
    stack = [value]
    while stack:
        item = stack.pop()
        yield item
        if isinstance(item, dict):
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            stack.extend(reversed(item))


def list_items(value: Any) -> Iterator[tuple[Any, int]]:
    """Literal items of a list value with their lines, through ``list_concat`` and ``if``."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            line = value.line_of(index) if isinstance(value, LineList) else 0
            if isinstance(item, list) or (is_intrinsic(item) and _is_list_function(item)):
                yield from list_items(item)
            else:
                yield item, line
    elif is_intrinsic(value) and _is_list_function(value):
        name, args = next(iter(value.items()))
        if not isinstance(args, list):
            return
        parts = args[1:] if name == "if" else args
        for part in parts:
            yield from list_items(part)


def _is_list_function(value: dict) -> bool:
    return next(iter(value)) in ("list_concat", "list_concat_unique", "if")


def containers(docker_config: Any) -> Iterator[tuple[str, int, str, dict | None, int]]:
    """``(step, step_line, name, definition, line)`` for each container of a docker_config.

    ``definition`` is the merged mapping, or None when it is an unevaluated function.
    """
    steps = merged(docker_config)
    if steps is None:
        return
    for step, body in steps.items():
        step_line = key_line(steps, step)
        body_map = merged(body)
        if body_map is None:
            continue
        for name, definition in body_map.items():
            line = key_line(body_map, name, step_line)
            yield step, step_line, str(name), merged(definition), line


def service_name_prefix(path: Path) -> str:
    """The prefix a service_name must have: the basename minus its last two ``-`` parts."""
    return path.name.split(".")[0].rsplit("-", 2)[0].replace("-", "_")


def plain(value: Any) -> Any:
    """``value`` as plain dicts and lists (for comparing and printing)."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value
