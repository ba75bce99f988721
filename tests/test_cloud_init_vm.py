"""The cloud-init check's parts without a deploy: the stub Nova's OpenStack tree, the
guest's report and its judgement, the DHCP options, the fixture's instance commands.

The guest booting through the deployed agent is tests/test_e2e.py's
``verify --cloud-init-vm`` row.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from nova_http import FIXTURE, fixture_module, get, serving, signature

from tripleo_ovn_metadata import cloud_init_vm

INSTANCE = "5d1c0d3e-8a54-4a8e-9a59-6f3c2d0b7e11"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ0y1cxuoWq0b7C4c7bl6rZsb9iSGaYkG4bNkqUpFEd7"


@pytest.fixture
def nova(tmp_path: Path) -> Iterator[int]:
    """The stub Nova on a free loopback port, with one instance record."""
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    records = tmp_path / "instances"
    records.mkdir()
    (records / f"{INSTANCE}.json").write_text(json.dumps(
        {"hostname": "tom-guest-5d1c0d3e", "public_keys": {"tom-verify": KEY}}))
    with serving(fixture_module("stub_nova").make_handler(secret, records)) as port:
        yield port


def _get(port: int, path: str, instance: str, secret: bytes = b"s3cret") -> tuple[int, str]:
    return get(port, path, {"X-Instance-ID": instance,
                            "X-Instance-ID-Signature": signature(secret, instance),
                            "X-Tenant-ID": "project-1"})


def test_stub_nova_serves_the_openstack_tree_to_signed_requests(nova: int) -> None:
    assert _get(nova, "/openstack", INSTANCE) == (200, "2018-08-27\nlatest\n")
    status, body = _get(nova, "/openstack/2018-08-27/meta_data.json", INSTANCE)
    assert status == 200
    data = json.loads(body)
    assert (data["uuid"], data["hostname"], data["project_id"]) == (
        INSTANCE, "tom-guest-5d1c0d3e", "project-1")
    assert data["public_keys"] == {"tom-verify": KEY}
    assert data["keys"] == [{"name": "tom-verify", "type": "ssh", "data": KEY}]
    assert _get(nova, "/openstack/latest/meta_data.json", INSTANCE)[0] == 200
    # Optional files of the tree are absent (cloud-init takes a 404 as "none").
    assert _get(nova, "/openstack/latest/user_data", INSTANCE)[0] == 404
    assert _get(nova, "/openstack/latest/network_data.json", INSTANCE)[0] == 404


def test_stub_nova_refuses_a_bad_signature_and_unknown_instances(nova: int) -> None:
    assert _get(nova, "/openstack/latest/meta_data.json", INSTANCE, b"wrong")[0] == 403
    other = "0b0f7e55-4f5c-4f0b-8a34-3f3e6a7e2a10"
    assert _get(nova, "/openstack/latest/meta_data.json", other)[0] == 404
    assert _get(nova, "/openstack/latest/meta_data.json", "../../secret")[0] == 404
    # The EC2 tree the namespace VMs use is unchanged.
    assert _get(nova, "/latest/meta-data/instance-id", other) == (200, other)


REPORT_LINE = (f"[  41.2] TOM-CLOUD-INIT status=done datasource=DataSourceOpenStackLocal "
               f"[net,ver=2] instance-id={INSTANCE} hostname=tom-guest-5d1c0d3e keys={KEY},")


def test_the_report_is_read_off_the_console() -> None:
    console = f"[  40.1] cloud-init[367]: Cloud-init v. 22.4.2 finished\n{REPORT_LINE}\n"
    report = cloud_init_vm.parse_report(console)
    assert report == cloud_init_vm.Report(
        "done", "DataSourceOpenStackLocal [net,ver=2]", INSTANCE, "tom-guest-5d1c0d3e", [KEY])
    assert cloud_init_vm.parse_report("[  3.0] systemd[1]: Started\n") is None


def test_judge_passes_only_what_was_given() -> None:
    report = cloud_init_vm.parse_report(REPORT_LINE)
    assert report is not None
    passed, detail = cloud_init_vm.judge(report, INSTANCE, "tom-guest-5d1c0d3e", KEY)
    assert passed, detail
    other_key = KEY[:-4] + "AAAA"
    passed, detail = cloud_init_vm.judge(report, INSTANCE, "tom-guest-x", other_key)
    assert not passed
    assert "hostname tom-guest-5d1c0d3e" in detail and "keys" in detail
    fallback = cloud_init_vm.parse_report(REPORT_LINE.replace(
        "DataSourceOpenStackLocal [net,ver=2]", "DataSourceNone").replace(INSTANCE, "iid-x"))
    assert fallback is not None
    passed, detail = cloud_init_vm.judge(fallback, INSTANCE, "tom-guest-5d1c0d3e", KEY)
    assert not passed
    assert "instance-id iid-x" in detail and "datasource DataSourceNone" in detail


def test_dhcp_options_route_the_metadata_address_to_the_metadata_port() -> None:
    options = cloud_init_vm.dhcp_options("10.0.0.0/24", "10.0.0.1", "10.0.0.2",
                                         "fa:16:3e:00:04:01", 1442)
    assert "classless_static_route={169.254.169.254/32,10.0.0.2, 0.0.0.0/0,10.0.0.1}" in options
    assert {"router=10.0.0.1", "server_id=10.0.0.1", "mtu=1442"} <= set(options)


def test_wait_for_report_says_why_it_gave_up(tmp_path: Path) -> None:
    console = tmp_path / "console"
    console.write_text("[  1.0] Linux version 6.1\n[  9.9] reboot: Power down\n")
    with pytest.raises(cloud_init_vm.ToolError, match=r"the guest stopped.*Power down"):
        cloud_init_vm.wait_for_report(console, 30, lambda: False)
    console.write_text(f"noise\n{REPORT_LINE}\n")
    assert cloud_init_vm.wait_for_report(console, 0, lambda: False).instance == INSTANCE


def test_recipe_hash_follows_the_recipe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    instance = fixture_module("instance")
    recipe = tmp_path / "guest"
    subprocess.run(["cp", "-r", str(FIXTURE / "guest"), str(recipe)], check=True)
    monkeypatch.setattr(instance, "GUEST_RECIPE", recipe)
    first = instance.recipe_hash()
    assert instance.recipe_hash() == first
    (recipe / "tom-report").write_text((recipe / "tom-report").read_text() + "# changed\n")
    assert instance.recipe_hash() != first


@pytest.mark.parametrize(("action", "extra", "message"), [
    ("boot", ["--cache-dir", "{tmp}/c", "--uuid", INSTANCE], "the fixture is not running"),
    ("boot", [], "boot needs --cache-dir"),
    ("delete", [], "delete needs --uuid"),
])
def test_instance_commands_bad_input_is_one_line(tmp_path: Path, action: str,
                                                 extra: list[str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, str(FIXTURE / "cloud.py"), action, "--state-dir", str(tmp_path / "s"),
         *(arg.format(tmp=tmp_path) for arg in extra)],
        capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"fixtures/cloud: {action}: {message}"]
    assert not (tmp_path / "c").exists() and not (tmp_path / "s").exists()
