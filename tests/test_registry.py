"""The local registry: the real docker-registry, started and stopped by pid, on loopback.

Each test runs its own registry on a spare port with a private state dir, so the
session registry on 127.0.0.1:8787 (conftest) is never touched.
"""

from __future__ import annotations

import hashlib
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tripleo_ovn_metadata import cli, image, registry


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A private state dir and address; stops whatever the test left running."""
    monkeypatch.setenv("TRIPLEO_OVN_METADATA_STATE", str(tmp_path / "state"))
    yield f"127.0.0.1:{_free_port()}"
    registry.stop()


def _image_with_file(tmp_path: Path, ref: str, text: str) -> str:
    """A one-layer image in containers-storage whose layer holds ``text``."""
    (tmp_path / "file").write_text(text)
    ctr = subprocess.run(["buildah", "from", "scratch"], check=True, capture_output=True,
                         text=True).stdout.strip()
    try:
        subprocess.run(["buildah", "copy", ctr, str(tmp_path / "file"), "/file"], check=True,
                       capture_output=True)
        subprocess.run(["buildah", "commit", "--quiet", ctr, ref], check=True,
                       capture_output=True)
    finally:
        subprocess.run(["buildah", "rm", ctr], check=False, capture_output=True)
    return ref


@pytest.fixture
def tiny_image(tmp_path: Path) -> Iterator[str]:
    """A one-file image in containers-storage (built with buildah from scratch)."""
    ref = _image_with_file(tmp_path, "localhost/tripleo-ovn-metadata-test/tiny:1", "hello\n")
    yield ref
    subprocess.run(["podman", "rmi", ref], check=False, capture_output=True)


def _push(ref: str, dest: str) -> None:
    subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false",
                    f"containers-storage:{ref}", f"docker://{dest}"], check=True)


def test_start_status_list_stop_and_data_survives_restart(
    private: str, tiny_image: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["registry", "start", "--address", private]) == 0
    pid = registry.status().pid
    assert pid and Path(f"/proc/{pid}").exists()
    assert registry.start(private).pid == pid  # already running: same process
    _push(tiny_image, f"{private}/tripleo-ovn-metadata/tiny:1")
    capsys.readouterr()

    assert cli.main(["registry", "list"]) == 0
    assert capsys.readouterr().out.split() == [f"{private}/tripleo-ovn-metadata/tiny:1"]
    assert cli.main(["registry", "stop"]) == 0
    assert not Path(f"/proc/{pid}").exists()
    assert cli.main(["registry", "status"]) == 3
    assert "stopped" in capsys.readouterr().out

    registry.start(private)
    assert registry.list_images(private) == ["tripleo-ovn-metadata/tiny:1"]
    assert registry.has_tag(private, "tripleo-ovn-metadata/tiny", "1")
    assert not registry.has_tag(private, "tripleo-ovn-metadata/tiny", "2")
    assert registry.blob_sizes(), "blobs live in the state dir"


def test_stop_when_not_running_says_so(private: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["registry", "stop"]) == 0
    assert capsys.readouterr().out.strip() == "registry was not running"


@pytest.mark.parametrize("address", ["0.0.0.0:8787", "192.0.2.1:8787", "localhost", "127.0.0.1:x"])
def test_non_loopback_address_is_one_line_error(
    private: str, address: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["registry", "start", "--address", address]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "loopback" in err and "Traceback" not in err
    assert not registry.status().running


def test_port_taken_by_something_else_is_one_line_error(
    private: str, capsys: pytest.CaptureFixture[str]
) -> None:
    host, port = private.split(":")
    with socket.socket() as sock:
        sock.bind((host, int(port)))
        sock.listen()
        assert cli.main(["registry", "start", "--address", private]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "docker-registry" in err
    assert not registry.status().running


def _upload_blob(address: str, repository: str, data: bytes) -> None:
    """One blob into ``repository`` and no manifest: what a push that failed leaves."""
    start = urllib.request.Request(f"http://{address}/v2/{repository}/blobs/uploads/",
                                   method="POST")
    with urllib.request.urlopen(start, timeout=5) as resp:
        location = resp.headers["Location"]
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    joiner = "&" if "?" in location else "?"
    url = location if location.startswith("http") else f"http://{address}{location}"
    finish = urllib.request.Request(f"{url}{joiner}digest={digest}", data=data, method="PUT",
                                    headers={"Content-Type": "application/octet-stream"})
    with urllib.request.urlopen(finish, timeout=5) as resp:
        assert resp.status == 201


def test_a_repository_with_blobs_and_no_tag_lists_nothing(private: str,
                                                          tiny_image: str) -> None:
    registry.start(private)
    _push(tiny_image, f"{private}/tripleo-ovn-metadata/tiny:1")
    _upload_blob(private, "tripleo-ovn-metadata/half", b"a layer without its manifest\n")
    catalog = registry._api(private, "/v2/_catalog").get("repositories")
    assert "tripleo-ovn-metadata/half" in catalog
    assert registry.list_images(private) == ["tripleo-ovn-metadata/tiny:1"]


def test_pushes_of_one_image_wait_for_each_other(private: str, tiny_image: str) -> None:
    """A push waits while another holds the push lock; two at once push the image once."""
    registry.start(private)
    dest = f"{private}/tripleo-ovn-metadata/tiny:2"
    results: list[image.Pushed] = []

    def push() -> None:
        results.append(image.push(tiny_image, dest))

    with registry.push_lock():
        waiting = threading.Thread(target=push)
        waiting.start()
        time.sleep(1.0)
        assert waiting.is_alive() and not registry.has_tag(
            private, "tripleo-ovn-metadata/tiny", "2")
    waiting.join(timeout=60)
    assert [r.skipped for r in results] == [False]

    dest = f"{private}/tripleo-ovn-metadata/tiny:3"
    both = [threading.Thread(target=push) for _ in range(2)]
    for thread in both:
        thread.start()
    for thread in both:
        thread.join(timeout=60)
    assert sorted(r.skipped for r in results[1:]) == [False, True]
    assert registry.list_images(private) == ["tripleo-ovn-metadata/tiny:2",
                                             "tripleo-ovn-metadata/tiny:3"]


def test_gc_frees_a_deleted_images_blobs_and_keeps_the_tagged(
    private: str, tiny_image: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registry.start(private)
    kept = f"{private}/tripleo-ovn-metadata/tiny:1"
    _push(tiny_image, kept)
    gone = _image_with_file(tmp_path, "localhost/tripleo-ovn-metadata-test/gone:1",
                            "a layer only the deleted image has\n" * 1000)
    try:
        _push(gone, f"{private}/tripleo-ovn-metadata/gone:1")
    finally:
        subprocess.run(["podman", "rmi", gone], check=False, capture_output=True)
    digest = image.remote_digest(f"{private}/tripleo-ovn-metadata/gone:1")
    registry.delete(private, "tripleo-ovn-metadata/gone", digest)
    blobs = registry.blob_sizes()
    pid = registry.status().pid

    assert cli.main(["registry", "gc", "--dry-run"]) == 0
    # Its manifest, config and layer: the registry keeps manifests as blobs too.
    dry = capsys.readouterr().out
    assert "would delete 3 blobs" in dry and "running again" not in dry
    assert registry.blob_sizes() == blobs and registry.status().pid == pid

    assert cli.main(["registry", "gc"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("registry gc: deleted 3 blobs; storage ") and out.count("\n") == 1
    assert f"running again on {private}" in out
    assert len(registry.blob_sizes()) == len(blobs) - 3
    state = registry.status()
    assert state.running and state.address == private and state.pid != pid
    assert registry.list_images(private) == ["tripleo-ovn-metadata/tiny:1"]
    copied = subprocess.run(["skopeo", "copy", "--quiet", "--src-tls-verify=false",
                             f"docker://{kept}", f"dir:{tmp_path / 'kept'}"],
                            capture_output=True, text=True, check=False)
    assert copied.returncode == 0, copied.stderr


def test_gc_is_refused_while_the_nodes_listener_serves_the_storage(
    private: str, tiny_image: str, capsys: pytest.CaptureFixture[str]
) -> None:
    registry.start(private)
    _push(tiny_image, f"{private}/tripleo-ovn-metadata/tiny:1")
    listener = f"127.0.0.1:{_free_port()}"
    registry._spawn(registry._listener_file(), listener, registry._listener_config(listener),
                    20)
    try:
        before = registry.blob_sizes()
        assert cli.main(["registry", "gc"]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and listener in err and "nodes down" in err
        assert registry.status().running and registry.blob_sizes() == before
    finally:
        registry.stop_listener()
