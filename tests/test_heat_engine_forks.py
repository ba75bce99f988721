"""One booted Heat engine process, forked once per template: each answer is its own.

Real Heat in the child process; the templates are small HOT stacks whose outputs come
from ``OS::Heat::Value`` resources, so each fork's answer shows which template it ran.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tripleo_ovn_metadata import heat_engine
from tripleo_ovn_metadata.errors import InputError

SOURCE = Path("forks-test.yaml")
FORK_TIMEOUT_S = 120


def _template(value: str, length: int = 1) -> dict:
    return {
        "heat_template_version": "wallaby",
        "parameters": {"Prefix": {"type": "string"}},
        "resources": {
            "Value": {
                "type": "OS::Heat::Value",
                "properties": {
                    "value": {"str_replace": {"template": "PREFIX-" + value,
                                              "params": {"PREFIX": {"get_param": "Prefix"}}}},
                },
            },
            "Name": {
                "type": "OS::Heat::RandomString",
                "properties": {"length": length},
            },
        },
        "outputs": {"value": {"value": {"get_attr": ["Value", "value"]}}},
    }


def _send(templates: list[dict]) -> list:
    with heat_engine.EngineProcess() as child:
        child.send_each("create", "forks", templates, {"parameter_defaults": {"Prefix": "p"}},
                        {}, source=SOURCE)  # fmt: skip
        return child.answers()


def test_each_template_gets_its_own_answer_in_order() -> None:
    answers = _send([_template("zero"), _template("one"), _template("two")])
    assert answers == [{"value": "p-zero"}, {"value": "p-one"}, {"value": "p-two"}]


def test_a_fork_s_heat_error_names_the_source() -> None:
    """The second template is invalid (a random string of length 0): only a fork sees it."""
    with pytest.raises(InputError) as caught:
        _send([_template("zero"), _template("one", length=0)])
    assert caught.value.path == str(SOURCE)
    assert "length" in caught.value.message


def _group(pgid: int) -> list[str]:
    """The pids of the process group ``pgid`` (pgrep -g)."""
    found = subprocess.run(["pgrep", "-g", str(pgid)], capture_output=True, text=True,
                           check=False)  # fmt: skip
    return found.stdout.split()


def _cmdline(pid: str) -> bytes | None:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # it ended
        return None


def _forks(pgid: int) -> list[str]:
    """The engine's forks: the members of its group with its own command line. Its boot
    runs short-lived helpers in the group too (``file -b`` for platform.architecture),
    which are not forks and end at once."""
    engine = _cmdline(str(pgid))
    return [pid for pid in _group(pgid) if pid != str(pgid) and _cmdline(pid) == engine]


def test_close_ends_the_forks_still_creating() -> None:
    """A fork busy in a create (a TestResource waiting 60 s) ends with close()."""
    slow = _template("slow")
    slow["resources"]["Wait"] = {"type": "OS::Heat::TestResource",
                                 "properties": {"action_wait_secs": {"create": 60}}}
    child = heat_engine.EngineProcess()
    pgid = child._proc.pid
    try:
        child.send_each("create", "forks", [_template("zero"), slow],
                        {"parameter_defaults": {"Prefix": "p"}}, {}, source=SOURCE)  # fmt: skip
        # The engine boots Heat before it forks: seconds alone, longer beside the
        # suite's heaviest minutes. A passing run goes on as soon as the fork shows.
        deadline = time.monotonic() + FORK_TIMEOUT_S
        while not _forks(pgid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _forks(pgid), "the engine never forked"
    finally:
        child.close()
    deadline = time.monotonic() + 10  # the killed fork is reaped by whoever adopted it
    while _group(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _group(pgid) == []
