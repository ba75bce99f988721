"""Fast checks of the deploy area: shared secret, vars file, stub Nova, fixture CLI."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from nova_http import FIXTURE, fixture_module, get, serving, signature

from tripleo_ovn_metadata import deploy, secrets
from tripleo_ovn_metadata.errors import InputError

REPO = Path(__file__).resolve().parent.parent


def test_secret_generated_once_and_root_only(tmp_path: Path) -> None:
    first = secrets.shared_secret(state=tmp_path)
    assert len(first) >= 32
    assert secrets.shared_secret(state=tmp_path) == first
    path = secrets.secret_file(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_given_secret_replaces_the_kept_one(tmp_path: Path) -> None:
    secrets.shared_secret(state=tmp_path)
    assert secrets.shared_secret("given-one", state=tmp_path) == "given-one"
    assert secrets.shared_secret(state=tmp_path) == "given-one"


def test_empty_secret_file_is_one_line(tmp_path: Path) -> None:
    empty = tmp_path / "secret"
    empty.write_text("\n")
    with pytest.raises(InputError, match=r"secret: the shared secret file must hold one"):
        secrets.read_secret_file(empty)


def test_vars_file_carries_no_config_settings(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TRIPLEO_OVN_METADATA_STATE", str(tmp_path))
    role_data = {
        "service_name": "ovn_metadata",
        "config_settings": {"neutron::agents::ovn_metadata::shared_secret": "s3cr3t"},
        "docker_config": {"step_4": {"b": {"start_order": 2}, "a": {"start_order": 0}}},
        "kolla_config": {},
        "host_prep_tasks": [{"name": "x", "ansible.builtin.debug": {"msg": "hi"}}],
        "puppet_config": {"config_volume": "neutron"},
    }
    path = deploy.write_vars(role_data, "abc")
    text = path.read_text()
    assert "s3cr3t" not in text
    assert '"neutron": "abc"' in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert deploy.container_names(role_data) == ["a", "b"]


def _get(port: int, headers: dict[str, str]) -> tuple[int, str]:
    return get(port, "/latest/meta-data/instance-id", headers)


def test_stub_nova_checks_the_signature(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("right\n")
    with serving(fixture_module("stub_nova").make_handler(secret_file)) as port:
        good, bad = signature(b"right", "inst-1"), signature(b"wrong", "inst-1")
        sig = "X-Instance-ID-Signature"
        assert _get(port, {"X-Instance-ID": "inst-1", sig: good}) == (200, "inst-1")
        assert _get(port, {"X-Instance-ID": "inst-1", sig: bad})[0] == 403
        assert _get(port, {})[0] == 403
        secret_file.write_text("wrong\n")  # re-read on every request
        assert _get(port, {"X-Instance-ID": "inst-1", sig: bad}) == (200, "inst-1")


def test_fixture_start_without_secret_is_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(FIXTURE / "cloud.py"), "start", "--state-dir", str(tmp_path / "s"),
         "--secret-file", str(tmp_path / "missing")],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"fixtures/cloud: start: {tmp_path / 'missing'}: shared secret file not found"
    ]
    assert not (tmp_path / "s").exists()


def test_the_tool_runs_the_fixture_by_path_and_never_imports_it() -> None:
    for path in (REPO / "src").rglob("*.py"):
        text = path.read_text()
        assert "stub_nova" not in text, path
        assert not re.search(r"^\s*(from|import)\s+.*\bcloud\b", text, re.MULTILINE), path


TOOL = REPO / ".venv" / "bin" / "tripleo-ovn-metadata"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-e", "{tmp}/missing.yaml"], "{tmp}/missing.yaml: no such file"),
        (["-e", "{tmp}/bad.yaml"], "{tmp}/bad.yaml:2: YAML syntax error"),
        (["--secret-file", "{tmp}/missing"], "{tmp}/missing: cannot read the shared secret"),
    ],
)
def test_deploy_bad_input_is_one_line_and_starts_nothing(
    tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "bad.yaml").write_text("a: [\n")
    before = deploy.read_record()
    result = subprocess.run(
        [str(TOOL), "deploy", *(a.format(tmp=tmp_path) for a in args)],
        capture_output=True, text=True, check=False, timeout=120,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    want = "tripleo-ovn-metadata deploy: error: " + message.format(tmp=tmp_path)
    assert lines[0].startswith(want)
    assert deploy.read_record() == before


def test_restore_dir_puts_back_owners_and_drops_new_entries(tmp_path: Path) -> None:
    shared = tmp_path / "neutron"
    (shared / "dhcp").mkdir(parents=True)
    shared.chmod(0o755)
    before = deploy.snapshot_dir(shared)
    (shared / "ovn-metadata-proxy").mkdir()
    (shared / "metadata_proxy").write_text("")
    os.chown(shared / "dhcp", 4242, 4242)
    shared.chmod(0o700)
    deploy.restore_dir(shared, before)
    assert sorted(p.name for p in shared.iterdir()) == ["dhcp"]
    assert deploy.snapshot_dir(shared) == before
