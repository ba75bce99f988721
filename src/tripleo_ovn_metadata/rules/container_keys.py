"""Each docker_config container uses only keys tripleo_container_manage knows, with the right types.

An unknown or misspelt key (``depend_on``, ``restart_policy``) is silently ignored at
deploy time. Values that are HOT functions are not type-checked.

PASS::

    ovn_metadata_agent:
      image: {get_param: ContainerOvnMetadataImage}
      restart: always
      start_order: 2
      depends_on: [tripleo_ovn_controller.service]

FAIL::

    ovn_metadata_agent:
      restart: sometimes
      start_order: "2"
      depend_on: [tripleo_ovn_controller.service]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from tripleo_ovn_metadata import hot
from tripleo_ovn_metadata.validate import Context, Doc, Problem

ID = "container-keys"
TYPE = "template"
LEVEL = "error"

Check = Callable[[Any], str | None]
#: What depends_on may name: the systemd units tripleo_container_manage writes.
UNITS = (".service", ".target")


def _is(*types: type, what: str) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) and bool not in types:
            return f"must be {what}"
        return None if isinstance(value, types) else f"must be {what}"

    return check


def _restart(value: Any) -> str | None:
    if isinstance(value, str) and re.fullmatch(r"always|unless-stopped|no|on-failure(:\d+)?",
                                               value):
        return None
    return "must be always, unless-stopped, no or on-failure[:N]"


def _units(value: Any) -> str | None:
    if not isinstance(value, list):
        return "must be a list of systemd unit names"
    for item in value:
        if not hot.is_intrinsic(item) and not (isinstance(item, str) and item.endswith(UNITS)):
            return f"item {item!r} is not a systemd unit (.service or .target)"
    return None


def _healthcheck(value: Any) -> str | None:
    if not isinstance(value, dict) or set(value) != {"test"}:
        return "must be a mapping with just test"
    test = value["test"]
    if isinstance(test, str) or hot.is_intrinsic(test):
        return None
    return "test must be a string"


def _list_of_str(value: Any) -> str | None:
    if not isinstance(value, list):
        return "must be a list"
    bad = [x for x in value if not isinstance(x, str) and not hot.is_intrinsic(x)]
    return f"items must be strings, got {bad[0]!r}" if bad else None


_STR = _is(str, what="a string")
_BOOL = _is(bool, what="a boolean")
_INT = _is(int, what="an integer")
_LIST = _is(list, what="a list")

#: Keys tripleo_container_manage (and paunch before it) read from a container definition.
KEYS: dict[str, Check] = {
    "action": _is(str, what="a string (exec)"),
    "cap_add": _list_of_str,
    "cap_drop": _list_of_str,
    "cgroupns": _STR,
    "check_interval": _INT,
    "command": _is(str, list, what="a string or a list"),
    "config_volume": _STR,
    "cpu_shares": _INT,
    "cpuset_cpus": _STR,
    "depends_on": _units,
    "detach": _BOOL,
    "devices": _LIST,
    "entrypoint": _STR,
    "env_file": _is(str, list, what="a string or a list"),
    "environment": _is(dict, list, what="a mapping or a list"),
    "healthcheck": _healthcheck,
    "hostname": _STR,
    "image": _STR,
    "interactive": _BOOL,
    "ipc": _STR,
    "log_tag": _STR,
    "mem_limit": _is(str, int, what="a size"),
    "mem_swappiness": _INT,
    "memswap_limit": _is(str, int, what="a size"),
    "net": _STR,
    "pid": _STR,
    "pids_limit": _is(int, str, what="a number"),
    "privileged": _BOOL,
    "read_only": _BOOL,
    "remove": _BOOL,
    "restart": _restart,
    "security_opt": _list_of_str,
    "shm_size": _is(str, int, what="a size"),
    "start_order": _INT,
    "stop_grace_period": _INT,
    "stop_signal": _STR,
    "tty": _BOOL,
    "ulimit": _is(list, str, what="a list"),
    "user": _STR,
    "uts": _STR,
    "volumes": _LIST,
    "volumes_from": _list_of_str,
    "working_dir": _STR,
}


def check(doc: Doc, ctx: Context) -> Iterator[Problem]:
    """Yield unknown keys and values of the wrong type."""
    role_data = hot.role_data(doc.data)
    if role_data is None:
        return
    for _step, _line, name, definition, line in hot.containers(role_data.get("docker_config")):
        if definition is None:
            continue
        for key, value in definition.items():
            key_line = hot.key_line(definition, key, line)
            checker = KEYS.get(str(key))
            if checker is None:
                yield Problem(key_line, f"container {name}: unknown key {key!r}")
            elif not hot.is_intrinsic(value):
                why = checker(value)
                if why:
                    yield Problem(key_line, f"container {name}: {key} {why}")
