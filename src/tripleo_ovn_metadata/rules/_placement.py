"""Where each container of a role runs: the role's merged docker_config step map.

config-download deep-merges every service's docker_config of a role into one map per
step; this rebuilds it statically from the resolved service templates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tripleo_ovn_metadata import hot, resolve
from tripleo_ovn_metadata.validate import Context, Doc

_STEP = re.compile(r"^step_(\d+)$")


@dataclass(frozen=True)
class Placed:
    """One container in a role's merged step map."""

    name: str
    step: str
    number: int
    definition: dict
    line: int
    step_line: int
    doc: Doc
    alias: str


def role_containers(role: resolve.Role, ctx: Context) -> dict[str, Placed]:
    """Container name → where it runs, for one role (later services win, as in the merge)."""
    cache: dict[tuple[str, str], dict[str, Placed]] = ctx.__dict__.setdefault("_placed", {})
    key = (role.path, role.name)
    if key not in cache:
        placed: dict[str, Placed] = {}
        for service in role.services:
            mapping = service.mapping
            if mapping is None or mapping.path is None or not mapping.path.is_file():
                continue
            doc = ctx.load(mapping.path)
            if doc is None or doc.kind != "template":
                continue
            role_data = hot.role_data(doc.data)
            if role_data is None:
                continue
            steps = hot.containers(role_data.get("docker_config"))
            for step, step_line, name, definition, line in steps:
                match = _STEP.match(step)
                if definition is not None and match:
                    placed[name] = Placed(name, step, int(match.group(1)), definition, line,
                                          step_line, doc, service.alias)
        cache[key] = placed
    return cache[key]


def template_of(role: resolve.Role, alias: str, ctx: Context) -> Doc | None:
    """The loaded template a role's alias resolves to, if any."""
    for service in role.services:
        path = service.mapping.path if service.mapping else None
        if service.alias == alias and path is not None and path.is_file():
            return ctx.load(path)
    return None


@dataclass(frozen=True)
class Setting:
    """One hiera key of a template's config_settings and where it is written."""

    value: object
    doc: Doc
    line: int


def config_settings(doc: Doc, ctx: Context, depth: int = 0) -> dict[str, Setting]:
    """A template's config_settings, following ``get_attr: [R, role_data, config_settings]``
    into nested templates (``NeutronBase``) so inherited keys count; own keys win."""
    role_data = hot.role_data(doc.data)
    if role_data is None or "config_settings" not in role_data:
        return {}
    value = role_data["config_settings"]
    parts = value["map_merge"] if hot.is_intrinsic(value) and "map_merge" in value else [value]
    result: dict[str, Setting] = {}
    for part in parts if isinstance(parts, list) else []:
        attr = part.get("get_attr") if isinstance(part, dict) else None
        if isinstance(attr, list) and attr[1:3] == ["role_data", "config_settings"]:
            nested = _nested(doc, attr[0], ctx) if depth < 3 else None
            if nested is not None:
                result.update(config_settings(nested, ctx, depth + 1))
            continue
        folded = hot.merged(part)
        for key, item in (folded or {}).items():
            result[str(key)] = Setting(item, doc, hot.key_line(folded, key))
    return result


def _nested(doc: Doc, resource: object, ctx: Context) -> Doc | None:
    resources = doc.data.get("resources")
    spec = resources.get(resource) if isinstance(resources, dict) else None
    kind = spec.get("type") if isinstance(spec, dict) else None
    if not isinstance(kind, str) or resolve.is_type_name(kind):
        return None
    return ctx.load(resolve.target_path(kind, doc.path.parent, ctx.tht))
