"""diagnostics.collect on a target whose prefix runs fake chassis commands here."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tripleo_ovn_metadata import cli, diagnostics, secrets, verify

SECRET = "s3cr3t-value-for-the-test"
FAKES = {
    # The agent's log holds the secret by value and credentials as settings.
    "podman": f'echo "podman $*"; echo "proxy secret {SECRET}";'
              ' echo "metadata_proxy_shared_secret = not-the-kept-one";'
              ' echo "transport_url=rabbit://guest:hunter2@ctl:5672/"',
    "tail": 'echo "agent log line: $*"',
    "ovs-ofctl": 'echo "ovs-ofctl: br-int is not a bridge or a socket" >&2; exit 1',
    "ovs-appctl": "exec sleep 5",
    "ovs-vsctl": 'echo "Bridge br-int"',
    "ip": 'echo "ovnmeta-1234 (id: 0)"',
    "ovn-sbctl": 'echo "_uuid : 1 ($*)"',
    "ovn-nbctl": 'echo "switch 1 (neutron-1)"',
}


@pytest.fixture
def target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> verify.Target:
    """A node-like target: ``on-target`` puts the fakes first on PATH, like podman exec."""
    fake = tmp_path / "bin"
    fake.mkdir()
    for name, body in {**FAKES, "on-target": f'PATH={fake}:$PATH exec "$@"'}.items():
        (fake / name).write_text(f"#!/bin/sh\n{body}\n")
        (fake / name).chmod(0o755)
    monkeypatch.setenv("TRIPLEO_OVN_METADATA_STATE", str(tmp_path / "state"))
    # The OVN DB clients run from here, not through the prefix.
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    monkeypatch.setattr(diagnostics, "TIMEOUT", 1)
    secrets.shared_secret(given=SECRET)
    return verify.Target(name="compute-0", prefix=(str(fake / "on-target"),))


def rows(target: verify.Target, status: str = "FAIL") -> list[verify.Check]:
    return [verify.Check(f"{target.name}: agent registered", status, 5.0, "chassis x")]


def test_one_failure_or_timeout_keeps_the_rest(target: verify.Target) -> None:
    bundle = diagnostics.collect(target, rows(target))
    assert bundle.parent == secrets.secret_file().parent.parent / "verify" / "diagnostics"
    assert bundle.name.startswith("compute-0-") and bundle.name.endswith("Z")
    flows = (bundle / "flows.txt").read_text()
    assert "exit 1" in flows and "br-int is not a bridge" in flows
    assert "timed out after 1 s" in (bundle / "datapath-flows.txt").read_text()
    assert "agent log line: -n 10000 " in (bundle / "agent.log").read_text()
    assert "podman logs --tail 10000 ovn_metadata_agent" in (
        bundle / "agent-container.log").read_text()
    assert "list Port_Binding)" in (bundle / "sb-port-binding.txt").read_text()
    assert "FAIL    compute-0: agent registered" in (bundle / "checks.txt").read_text()
    index = (bundle / "index.txt").read_text().splitlines()
    assert len(index) == len(list(bundle.iterdir())) - 2  # all but checks.txt and itself
    assert any(line.startswith("flows.txt\texit 1\t") for line in index)
    assert any(line.startswith("datapath-flows.txt\terror\t") for line in index)


def test_bundle_is_private_and_holds_no_secret(target: verify.Target) -> None:
    bundle = diagnostics.collect(target, rows(target))
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o700
    assert stat.S_IMODE(bundle.parent.stat().st_mode) == 0o700
    for path in bundle.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        text = path.read_text()
        for hidden in (SECRET, "not-the-kept-one", "hunter2"):
            assert hidden not in text, path
    log = (bundle / "agent-container.log").read_text()
    assert "proxy secret ********" in log
    assert "metadata_proxy_shared_secret = ********" in log
    assert "transport_url=********" in log


def test_kept_keeps_each_bundle_and_what_could_not_be_saved(
    target: verify.Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = diagnostics.Kept()
    kept(target, rows(target))
    kept(target, rows(target))  # same second: its own directory
    assert len(set(kept.bundles)) == 2 and not kept.errors
    monkeypatch.setenv("TRIPLEO_OVN_METADATA_STATE", str(tmp_path / "bin" / "tail"))
    kept(target, rows(target))
    assert len(kept.bundles) == 2
    assert kept.errors and kept.errors[0].startswith("compute-0: ")


def test_verify_prints_the_bundle_after_the_table(
    target: verify.Target, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def run_checks(timeout: float, on_fail: verify.OnFail,
                   cloud_init: bool) -> list[verify.Check]:
        assert not cloud_init
        on_fail(target, rows(target))
        return rows(target)

    monkeypatch.setattr(verify, "run_checks", run_checks)
    assert cli.main(["verify"]) == 1
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("diagnostics: ")
    assert (Path(last.split(": ", 1)[1]) / "flows.txt").is_file()
