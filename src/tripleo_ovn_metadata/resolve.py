"""Resolve roles' service aliases the way a deploy would: env files over stock THT's registry.

``openstack overcloud deploy --templates -e ENV ...`` maps each ``OS::TripleO::Services::*``
alias a role lists through the env files' ``resource_registry`` (later files win, paths
relative to the env file) on top of stock's rendered ``overcloud-resource-registry-puppet``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from tripleo_ovn_metadata.errors import InputError
from tripleo_ovn_metadata.yamlio import LineList

#: The stock registry template, rendered by process-templates at deploy time.
STOCK_REGISTRY = "overcloud-resource-registry-puppet.j2.yaml"
#: The network list stock renders it with.
STOCK_NETWORKS = "network_data_default.yaml"
#: Registry value that disables a service.
NONE = "OS::Heat::None"
#: Where THT is installed on an undercloud; env files may name templates by it.
INSTALLED = "/usr/share/openstack-tripleo-heat-templates/"


@dataclass(frozen=True)
class Mapping:
    """Where an alias points: a file (absolute), a native type, or nothing."""

    target: str
    path: Path | None
    source: str


@dataclass
class Service:
    """One ``ServicesDefault`` entry of a role and what it resolves to."""

    alias: str
    line: int
    mapping: Mapping | None


@dataclass
class Role:
    """A role from a roles file with its resolved services."""

    name: str
    path: str
    line: int
    services: list[Service] = field(default_factory=list)


@lru_cache(maxsize=4)
def stock_registry(tht: Path) -> dict[str, str]:
    """Stock ``resource_registry``, rendered with jinja2 as process-templates does."""
    import jinja2  # only needed here; Heat's own dependency

    source = tht / STOCK_REGISTRY
    try:
        text = source.read_text(encoding="utf-8")
        networks = yaml.load((tht / STOCK_NETWORKS).read_text(encoding="utf-8"), yaml.CSafeLoader)
    except OSError as exc:
        raise InputError(source, f"cannot read the stock registry: {exc.strerror}") from None
    rendered = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(text)
    data = yaml.load(rendered.render(roles=[], networks=networks or []), yaml.CSafeLoader)
    registry = data.get("resource_registry", {}) if isinstance(data, dict) else {}
    return {str(k): str(v) for k, v in registry.items() if isinstance(v, str)}


def registry_map(
    env_files: list[tuple[Path, dict]], tht: Path | None
) -> dict[str, Mapping]:
    """The combined alias map: stock first, then each env file in order."""
    combined: dict[str, Mapping] = {}
    if tht is not None:
        for alias, target in stock_registry(tht).items():
            combined[alias] = _mapping(target, tht, f"stock {STOCK_REGISTRY}", tht)
    for path, env in env_files:
        registry = env.get("resource_registry")
        if not isinstance(registry, dict):
            continue
        for alias, target in registry.items():
            if isinstance(target, str):
                combined[str(alias)] = _mapping(target, path.parent, str(path), tht)
    return combined


def is_type_name(target: str) -> bool:
    """True for a registry value naming a type or URL rather than a file."""
    return target.startswith(("OS::", "AWS::")) or "://" in target


def target_path(target: str, base: Path, tht: Path | None) -> Path:
    """The file a registry value names: relative to ``base``; the undercloud's installed
    THT path maps onto the stock tree."""
    if tht is not None and target.startswith(INSTALLED):
        return (tht / target[len(INSTALLED):]).resolve()
    return (base / target).resolve()


def _mapping(target: str, base: Path, source: str, tht: Path | None) -> Mapping:
    if is_type_name(target):
        return Mapping(target, None, source)
    return Mapping(target, target_path(target, base, tht), source)


def lookup(alias: str, combined: dict[str, Mapping]) -> Mapping | None:
    """Follow alias → alias chains to a file or native type; None when unmapped."""
    seen: set[str] = set()
    current = combined.get(alias)
    while current is not None and current.path is None and current.target in combined:
        if current.target in seen:
            return None
        seen.add(current.target)
        current = combined[current.target]
    return current


def roles_of(path: str, data: Any, combined: dict[str, Mapping]) -> list[Role]:
    """The roles in a loaded roles file, each service resolved through ``combined``."""
    roles: list[Role] = []
    if not isinstance(data, list):
        return roles
    for entry in data:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            continue
        role = Role(entry["name"], path, getattr(entry, "line", 0))
        services = entry.get("ServicesDefault") or []
        if isinstance(services, list):
            for index, alias in enumerate(services):
                if not isinstance(alias, str):
                    continue
                line = services.line_of(index) if isinstance(services, LineList) else role.line
                role.services.append(Service(alias, line, lookup(alias, combined)))
        roles.append(role)
    return roles


def is_roles_data(data: Any) -> bool:
    """True for a roles file: a list of mappings with ``name``, one with ``ServicesDefault``."""
    return (
        isinstance(data, list)
        and bool(data)
        and all(isinstance(item, dict) and "name" in item for item in data)
        and any("ServicesDefault" in item for item in data)
    )


def file_exists(path: Path) -> bool | None:
    """True when a registry target exists or process-templates renders it from its
    ``.j2.yaml``; None when it may be rendered per role or network; else False."""
    if path.is_file() or path.with_name(path.name.replace(".yaml", ".j2.yaml")).is_file():
        return True
    folder = path.parent
    if any(folder.glob("*.role.j2.yaml")) or any(folder.glob("*.network.j2.yaml")):
        return None
    return False
