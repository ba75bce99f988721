"""Hieradata for the config step, laid out like container-puppet's, and checked before Puppet.

Levels, highest first (TripleO's order: the step file wins, then per-node data, then the
service's config_settings, then global defaults):

``step.yaml``           ``{step: N}`` (container-puppet's docker_puppet.json)
``extra.yaml``          the operator's ``--hieradata`` file (ovn_dbs_vip, fqdn overrides, ...)
``service_configs.yaml`` the rendered role_data config_settings of the service template
``defaults.yaml``       fqdn_canonical and friends, from this host's name

The checks turn the mistakes Puppet would report as a stack of evaluation errors (or not at
all: an empty shared secret compiles) into one line naming the file that holds the value.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tripleo_ovn_metadata import yamlio
from tripleo_ovn_metadata.errors import InputError

SECRET_KEY = "neutron::agents::ovn_metadata::shared_secret"
VIP_KEY = "ovn_dbs_vip"
PORT_KEY = "ovn::southbound::port"
METADATA_HOST_KEY = "neutron::agents::ovn_metadata::metadata_host"
#: Hiera keys whose values are secrets: never logged, printed or left in a temp file.
SECRET_KEYS = (SECRET_KEY, "oslo_messaging_rpc_password", "oslo_messaging_notify_password")

_HOSTNAME = re.compile(
    r"\A(?=.{1,253}\Z)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)"
    r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?\Z"
)


@dataclass
class Source:
    """One hiera level: its data and where it came from (for error lines)."""

    name: str
    data: Mapping[str, Any]
    origin: str
    lines: Mapping[str, int] = field(default_factory=dict)
    item_lines: Mapping[str, list[int]] = field(default_factory=dict)


@dataclass
class Hieradata:
    """The levels of one config run, highest priority first."""

    levels: list[Source]

    def lookup(self, key: str) -> tuple[Any, Source | None]:
        """The value hiera's first-found lookup returns, and the level holding it."""
        for level in self.levels:
            if key in level.data:
                return level.data[key], level
        return None, None

    def secrets(self) -> list[str]:
        """Every secret value present, for redacting command output."""
        values = []
        for key in SECRET_KEYS:
            value, _ = self.lookup(key)
            if isinstance(value, str) and value:
                values.append(value)
        return values


def host_defaults() -> dict[str, Any]:
    """fqdn_canonical and friends as TripleO's per-node hiera would set them for this host."""
    fqdn = socket.getfqdn()
    return {
        "fqdn_canonical": fqdn,
        "fqdn_ctlplane": fqdn,
        "fqdn_internal_api": fqdn,
    }


def load_extra(path: Path) -> Source:
    """The operator's hieradata file: a YAML mapping of hiera keys."""
    plain = yamlio.load_mapping(path)
    located = yamlio.load_mapping(path, with_lines=True)
    items = {
        key: list(value.item_lines)
        for key, value in located.items()
        if isinstance(value, yamlio.LineList)
    }
    return Source("extra", plain, str(path), dict(located.key_lines), items)


def build(
    config_settings: Mapping[str, Any],
    *,
    step: int,
    settings_origin: str,
    extra: Source | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> Hieradata:
    """Stack the levels for one run and check them; raises InputError on bad data."""
    levels = [Source("step", {"step": step}, "--step")]
    if extra is not None:
        levels.append(extra)
    levels.append(Source("service_configs", dict(config_settings), settings_origin))
    levels.append(
        Source("defaults", dict(host_defaults() if defaults is None else defaults), "host")
    )
    hiera = Hieradata(levels)
    check(hiera)
    return hiera


def _where(source: Source | None, key: str, item: int | None = None) -> tuple[str, int | None]:
    if source is None:
        return "hieradata", None
    item_lines = source.item_lines.get(key, [])
    if item is not None and item < len(item_lines):
        return source.origin, item_lines[item]
    return source.origin, source.lines.get(key)


def _valid_host(value: Any) -> bool:
    if not isinstance(value, str) or not value:
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return bool(_HOSTNAME.match(value))
    return True


def check(hiera: Hieradata) -> None:
    """The checks that give one clear line before Puppet runs."""
    secret, source = hiera.lookup(SECRET_KEY)
    if not isinstance(secret, str) or not secret:
        where, line = _where(source, SECRET_KEY)
        state = "missing" if source is None else "empty or not a string"
        raise InputError(
            where, f"{SECRET_KEY} is {state} (set NeutronMetadataProxySharedSecret)", line
        )

    vip, source = hiera.lookup(VIP_KEY)
    if source is None:
        raise InputError(
            "hieradata", f"{VIP_KEY} is missing: give the OVN DB address in --hieradata"
        )
    vips = vip if isinstance(vip, list) else [vip]
    bad = [index for index, item in enumerate(vips) if not _valid_host(item)]
    if not vips or bad:
        where, line = _where(source, VIP_KEY, bad[0] if bad and isinstance(vip, list) else None)
        raise InputError(
            where,
            f"{VIP_KEY} must be an IP address or host name, or a non-empty list of them; "
            f"got {vip!r}",
            line,
        )

    port, source = hiera.lookup(PORT_KEY)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        where, line = _where(source, PORT_KEY)
        raise InputError(where, f"{PORT_KEY} must be a port number; got {port!r}", line)

    host, source = hiera.lookup(METADATA_HOST_KEY)
    if not _valid_host(host):
        where, line = _where(source, METADATA_HOST_KEY)
        raise InputError(
            where,
            f"{METADATA_HOST_KEY} must be Nova's metadata address; got {host!r} "
            "(set EndpointMap's NovaMetadataCellInternal or the key in --hieradata)",
            line,
        )


def write(hiera: Hieradata, datadir: Path) -> Path:
    """Write the levels and a hiera.yaml (v5) into ``datadir``; returns hiera.yaml's path.

    Files are 0600: the levels hold the shared secret.
    """
    datadir.mkdir(mode=0o700, parents=True, exist_ok=True)
    hierarchy = []
    for level in hiera.levels:
        path = datadir / f"{level.name}.yaml"
        _write_private(path, yamlio.dump(dict(level.data)))
        hierarchy.append({"name": level.name, "path": path.name})
    config = {
        "version": 5,
        "defaults": {"datadir": str(datadir), "data_hash": "yaml_data"},
        "hierarchy": hierarchy,
    }
    hiera_yaml = datadir / "hiera.yaml"
    _write_private(hiera_yaml, yamlio.dump(config))
    return hiera_yaml


def _write_private(path: Path, text: str) -> None:
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(text, encoding="utf-8")
