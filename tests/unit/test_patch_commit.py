"""How image patch commits its layer and counts its bytes, without an image: the buildah
commands it runs (recorded, not run) and the layer size taken from the two manifests."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tripleo_ovn_metadata import image, patch, registry

BASE = "127.0.0.1:8787/tripleo-ovn-metadata/neutron-metadata-agent-ovn:abc"


def descriptor(digest: str, size: int) -> dict:
    return {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": f"sha256:{digest}", "size": size}


def manifest(config: int, *layers: tuple[str, int]) -> dict:
    return {"schemaVersion": 2, "config": {"digest": "sha256:c", "size": config},
            "layers": [descriptor(digest, size) for digest, size in layers]}


def wheel(tmp_path: Path) -> patch.Inputs:
    path = tmp_path / "x-1.0-py3-none-any.whl"
    path.write_bytes(b"wheel")
    return patch.Inputs(wheels=[path])


def test_new_layer_bytes_are_the_layers_the_base_lacks_without_config_or_manifest() -> None:
    base = manifest(8717, ("a", 73960918), ("b", 784))
    # The patched config is smaller than the base's (no history): the layer is still 50029.
    patched = manifest(1863, ("a", 73960918), ("b", 784), ("n", 50029))
    assert image.new_layer_bytes(base, patched) == 50029
    assert image.new_layer_bytes(base, base) == 0


def test_patch_image_reports_the_new_layer_and_the_whole_image(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    dest_manifest = manifest(1863, ("a", 1000), ("n", 50029))
    served = {BASE: manifest(8717, ("a", 1000))}
    monkeypatch.setattr(registry, "has_tag", lambda *args: True)  # built before: no build
    monkeypatch.setattr(image, "push", lambda source, dest: image.Pushed(
        dest, "sha256:d", 55031, 1863 + 1000 + 50029))
    monkeypatch.setattr(image, "manifest", lambda ref: served.get(ref, dest_manifest))
    pushed, layer, size = patch.patch_image(BASE, wheel(tmp_path), "127.0.0.1:8787")
    assert (layer, size, pushed.uploaded) == (50029, 52892, 55031)


def test_the_layer_is_committed_as_oci_without_history_with_our_label(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[list[str]] = []

    def fake_run(cmd: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        calls.append(cmd)
        out = "working-container\n" if cmd[1] == "from" else ""
        return subprocess.CompletedProcess(cmd, 0, out, "")

    monkeypatch.setattr(patch, "run", fake_run)
    patch._build_layer(BASE, "localhost/x:abc-1", wheel(tmp_path), "1234")
    verbs = [cmd[1] for cmd in calls]
    assert verbs == ["from", "run", "config", "commit", "rm"]
    assert calls[2][2:] == ["--label", f"{patch.LABEL}=1234", "working-container"]
    commit = calls[3]
    assert commit[commit.index("--format") + 1] == "oci" and "--omit-history" in commit
    assert commit[-2:] == ["working-container", "localhost/x:abc-1"]


def test_a_changed_commit_is_a_new_tag(monkeypatch: pytest.MonkeyPatch,
                                       tmp_path: Path) -> None:
    inputs = wheel(tmp_path)
    before = inputs.digest()
    monkeypatch.setattr(patch, "COMMIT_FLAGS", ("--format", "docker"))
    assert inputs.digest() != before
