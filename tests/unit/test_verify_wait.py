"""verify.wait_for: the tries until an HTTP 200 run on the target, in one command.

A counting prefix stands in for ``podman exec <node>``; a network namespace of the test's
own, with a web server on the metadata address that starts late, is the VM's network.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tripleo_ovn_metadata import verify

INDEX = 987  # netns tom-vm987: not one a verify run makes


def _counting_target(tmp_path: Path) -> tuple[verify.Target, Path]:
    count = tmp_path / "commands"
    wrapper = 'echo run >> "$0"; exec "$@"'
    return verify.Target(name="counted", prefix=("sh", "-c", wrapper, str(count))), count


@pytest.fixture
def vm_netns(tmp_path: Path) -> Iterator[tuple[verify.Vm, Path]]:
    """A VM's namespace with the metadata address on its loopback, and a web root."""
    vm = verify.Vm(INDEX)
    root = tmp_path / "www"
    (root / "latest" / "meta-data").mkdir(parents=True)
    (root / "latest" / "meta-data" / "instance-id").write_text(vm.instance)
    subprocess.run(["ip", "netns", "add", vm.netns], check=True)
    try:
        subprocess.run(["ip", "-n", vm.netns, "link", "set", "lo", "up"], check=True)
        subprocess.run(["ip", "-n", vm.netns, "addr", "add", "169.254.169.254/32", "dev", "lo"],
                       check=True)  # fmt: skip
        yield vm, root
    finally:
        subprocess.run(["ip", "netns", "delete", vm.netns], check=False)


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_no_answer_is_one_command_until_the_timeout(tmp_path: Path) -> None:
    target, count = _counting_target(tmp_path)
    started = time.monotonic()
    assert verify.wait_for(verify.Vm(INDEX), lambda s, b: s == 200, 2, target) == (0, "")
    assert 2 <= time.monotonic() - started < 10
    assert count.read_text().splitlines() == ["run"]


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_a_late_server_is_one_command_and_its_answer(
        tmp_path: Path, vm_netns: tuple[verify.Vm, Path]) -> None:
    vm, root = vm_netns
    target, count = _counting_target(tmp_path)
    server = subprocess.Popen(
        ["ip", "netns", "exec", vm.netns, "sh", "-c",
         f"sleep 1.5; exec {sys.executable} -m http.server 80 --bind 169.254.169.254"],
        cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        status, body = verify.wait_for(vm, lambda s, b: s == 200, 20, target)
    finally:
        server.kill()
        server.wait()
    assert (status, body) == (200, vm.instance)
    assert count.read_text().splitlines() == ["run"]
