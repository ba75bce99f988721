"""What a redeploy may skip: digests that see every change, containers checked with podman."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tripleo_ovn_metadata import converge

BASE = "localhost/debian:bookworm"


def test_tree_digest_sees_names_and_contents(tmp_path: Path) -> None:
    (tmp_path / "roles").mkdir()
    (tmp_path / "roles/main.yml").write_text("- name: a\n")
    first = converge.tree_digest(tmp_path)
    assert converge.tree_digest(tmp_path) == first
    (tmp_path / "roles/main.yml").write_text("- name: b\n")
    second = converge.tree_digest(tmp_path)
    assert second != first
    (tmp_path / "roles/main.yml").rename(tmp_path / "roles/other.yml")
    assert converge.tree_digest(tmp_path) not in (first, second)


def test_digest_is_order_independent_for_keys_only() -> None:
    assert converge.digest({"a": 1, "b": 2}) == converge.digest({"b": 2, "a": 1})
    assert converge.digest([1, 2]) != converge.digest([2, 1])
    assert converge.digest(Path("/x")) == converge.digest("/x")


def _podman(*args: str) -> str:
    return subprocess.run(["podman", *args], capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.fixture()
def pair() -> Iterator[dict[str, str]]:
    """A running service and a one-shot that exited 0, removed at the end."""
    if subprocess.run(["podman", "image", "exists", BASE], check=False).returncode != 0:
        pytest.fail(f"{BASE} is missing (tools/setup.sh builds it)")
    tag = uuid.uuid4().hex[:8]
    names = {"service": f"tom-converge-svc-{tag}", "once": f"tom-converge-once-{tag}"}
    try:
        _podman("run", "-d", "--name", names["service"], BASE, "sleep", "600")
        _podman("run", "--name", names["once"], BASE, "true")
        yield {name: _podman("container", "inspect", "--format", "{{.Id}}", name)
               for name in names.values()}
    finally:
        subprocess.run(["podman", "rm", "-f", "-t", "0", *names.values()],
                       capture_output=True, check=False)


def test_containers_as_recorded_until_one_stops_or_is_replaced(pair: dict[str, str]) -> None:
    service, once = list(pair)
    assert converge.containers_as_recorded(pair, [once])
    # A one-shot must have exited 0, a service must be running.
    assert not converge.containers_as_recorded(pair, [])
    assert not converge.containers_as_recorded({**pair, service: "0" * 64}, [once])
    assert not converge.containers_as_recorded({**pair, "tom-converge-absent": "x"}, [once])
    assert not converge.containers_as_recorded({}, [])
    _podman("stop", "-t", "0", service)
    assert not converge.containers_as_recorded(pair, [once])
