"""Volumes are ``src:dst[:opts]``: an absolute destination, no trailing ``/``, known options.

Checked wherever an output has a ``volumes`` list (containers, puppet_config, logging
templates); items built by functions (``list_join``) are skipped.

PASS::

    volumes:
      - /var/lib/neutron:/var/lib/neutron:shared,z

FAIL::

    volumes:
      - /var/lib/neutron/:/var/lib/neutron:shared,z
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tripleo_ovn_metadata import hot
from tripleo_ovn_metadata.validate import Context, Doc, Problem

ID = "volume-syntax"
TYPE = "template"
LEVEL = "error"
#: Mount options podman accepts in a ``-v`` spec.
OPTIONS = frozenset(
    {
        "ro", "rw", "z", "Z", "shared", "rshared", "slave", "rslave", "private", "rprivate",
        "bind", "rbind", "nodev", "dev", "noexec", "exec", "nosuid", "suid", "O", "U",
        "copy", "nocopy", "idmap", "noatime", "relatime", "delegated", "cached", "consistent",
    }
)  # fmt: skip


def problem(spec: str) -> str | None:
    """What is wrong with one volume spec, or None."""
    parts = spec.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        return f"volume {spec!r} is not src:dst[:options]"
    src, dst = parts[0], parts[1]
    for side, name in ((src, "source"), (dst, "destination")):
        if len(side) > 1 and side.endswith("/"):
            return f"volume {spec!r}: {name} ends in '/'"
    if not dst.startswith("/"):
        return f"volume {spec!r}: destination is not an absolute path"
    if len(parts) == 3:
        unknown = [o for o in parts[2].split(",") if o not in OPTIONS]
        if unknown:
            return f"volume {spec!r}: unknown option(s) {', '.join(unknown)}"
    return None


def _volume_lists(value: Any, line: int = 0) -> Iterator[tuple[Any, int]]:
    if isinstance(value, dict):
        for key, item in value.items():
            if str(key).endswith("_tasks"):
                continue
            item_line = hot.key_line(value, key, line)
            if key == "volumes":
                yield item, item_line
            else:
                yield from _volume_lists(item, item_line)
    elif isinstance(value, list):
        for item in value:
            yield from _volume_lists(item, hot.line_of(item, line))


def check(doc: Doc, ctx: Context) -> Iterator[Problem]:
    """Yield each malformed volume string."""
    for volumes, line in _volume_lists(doc.data.get("outputs")):
        for item, item_line in hot.list_items(volumes):
            if isinstance(item, str):
                why = problem(item)
                if why:
                    yield Problem(item_line or line, why)
