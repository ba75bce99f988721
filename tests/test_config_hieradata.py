"""The hieradata levels and checks behind ``config`` (no Puppet, no Heat)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tripleo_ovn_metadata import hieradata
from tripleo_ovn_metadata.cli._options import parse_parameters
from tripleo_ovn_metadata.errors import InputError

SETTINGS = {
    "neutron::agents::ovn_metadata::shared_secret": "unit-secret",
    "neutron::agents::ovn_metadata::metadata_host": "192.0.2.20",
    "ovn::southbound::port": 6642,
}
HOST = {"fqdn_canonical": "c0.example"}


def _build(extra_text: str | None, tmp_path: Path, **settings: object) -> hieradata.Hieradata:
    extra = None
    if extra_text is not None:
        path = tmp_path / "extra.yaml"
        path.write_text(extra_text)
        extra = hieradata.load_extra(path)
    merged = {**SETTINGS, **{k.replace("__", "::"): v for k, v in settings.items()}}
    return hieradata.build(merged, step=4, settings_origin="t.yaml", extra=extra, defaults=HOST)


@pytest.mark.parametrize(
    "vip", ["192.0.2.10", "2001:db8::1", "ovn-dbs.example.com", "[192.0.2.10, ovn-dbs]"]
)
def test_good_vips_pass(tmp_path: Path, vip: str) -> None:
    hiera = _build(f"ovn_dbs_vip: {vip}\n", tmp_path)
    assert hiera.lookup("ovn_dbs_vip")[0] == yaml.safe_load(f"v: {vip}")["v"]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("ovn_dbs_vip: []\n", 1),
        ("ovn_dbs_vip: ''\n", 1),
        ("ovn_dbs_vip: 42\n", 1),
        ("ovn_dbs_vip: bad_host!\n", 1),
        ("a: 1\novn_dbs_vip:\n  - 192.0.2.10\n  - -bad-\n", 4),
        ("ovn_dbs_vip: {a: b}\n", 1),
    ],
)
def test_bad_vips_name_file_and_line(tmp_path: Path, text: str, line: int) -> None:
    with pytest.raises(InputError) as error:
        _build(text, tmp_path)
    assert error.value.path == str(tmp_path / "extra.yaml")
    assert error.value.line == line
    assert "ovn_dbs_vip must be an IP address or host name" in str(error.value)


def test_missing_vip(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="ovn_dbs_vip is missing"):
        _build(None, tmp_path)


def test_missing_secret_names_the_rendered_settings(tmp_path: Path) -> None:
    with pytest.raises(InputError) as error:
        _build(
            "ovn_dbs_vip: 192.0.2.10\n", tmp_path, neutron__agents__ovn_metadata__shared_secret=""
        )
    assert str(error.value).startswith("t.yaml: neutron::agents::ovn_metadata::shared_secret")
    assert "unit-secret" not in str(error.value)


def test_bad_port_and_metadata_host(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="ovn::southbound::port must be a port number"):
        _build("ovn_dbs_vip: 192.0.2.10\n", tmp_path, ovn__southbound__port=70000)
    with pytest.raises(InputError, match="metadata_host must be Nova's metadata address"):
        _build(
            "ovn_dbs_vip: 192.0.2.10\n",
            tmp_path,
            neutron__agents__ovn_metadata__metadata_host="",
        )


def test_extra_hieradata_wins_and_step_wins_over_all(tmp_path: Path) -> None:
    hiera = _build("ovn_dbs_vip: 192.0.2.10\nstep: 1\nfqdn_canonical: x.example\n", tmp_path)
    assert hiera.lookup("step")[0] == 4
    assert hiera.lookup("fqdn_canonical")[0] == "x.example"
    assert [level.name for level in hiera.levels] == [
        "step", "extra", "service_configs", "defaults",
    ]  # fmt: skip
    assert hiera.secrets() == ["unit-secret"]


def test_written_levels_are_private_and_in_order(tmp_path: Path) -> None:
    hiera = _build("ovn_dbs_vip: [192.0.2.10, 192.0.2.11]\n", tmp_path)
    config = hieradata.write(hiera, tmp_path / "data")
    data = yaml.safe_load(config.read_text())
    assert [level["path"] for level in data["hierarchy"]] == [
        "step.yaml", "extra.yaml", "service_configs.yaml", "defaults.yaml",
    ]  # fmt: skip
    for path in (tmp_path / "data").iterdir():
        assert path.stat().st_mode & 0o777 == 0o600, path
    assert yaml.safe_load((tmp_path / "data" / "extra.yaml").read_text())["ovn_dbs_vip"] == [
        "192.0.2.10", "192.0.2.11",
    ]  # fmt: skip


def test_parse_parameters() -> None:
    assert parse_parameters(["A=1", "B=true", "C=x=y", "D=", "E={a: 1}"]) == {
        "A": 1, "B": True, "C": "x=y", "D": "", "E": {"a": 1},
    }  # fmt: skip
    with pytest.raises(InputError, match="expected NAME=VALUE"):
        parse_parameters(["NeutronMetadataProxySharedSecret"])
    with pytest.raises(InputError, match="VALUE is not valid YAML"):
        parse_parameters(["A=[unclosed"])
