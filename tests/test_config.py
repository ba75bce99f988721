"""``tripleo-ovn-metadata config`` for real: Heat render, hieradata, puppet apply --tags.

Puppet runs in a private mount namespace (and, in one test, inside the config image with
podman); every run writes into tmp_path and the host's /etc must not change. Our module
comes the way TripleO ships it: the deploy artifact, pushed to a node by tripleo-ansible's
tripleo_push_artifacts (``artifact_node`` in conftest.py), and that node's /etc/puppet is
what Puppet gets, as container-puppet mounts it; the config image has no copy of it.
"""

from __future__ import annotations

import configparser
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tripleo_ovn_metadata import cli, config, image, kolla_recipe

pytestmark = pytest.mark.slow

SECRET = "cfg-test-Secret-4f1d9a"
INI = Path("etc/neutron/neutron_ovn_metadata_agent.ini")
WRAPPER = Path("etc/neutron/ovn_metadata_haproxy_wrapper")
KILL = Path("etc/neutron/kill_scripts/haproxy-kill")
CONF = Path("etc/neutron/neutron.conf")
ENDPOINTS = """\
parameter_defaults:
  EndpointMap:
    NovaMetadataCellInternal:
      host: 192.0.2.20
      host_nobrackets: 192.0.2.20
      port: 8775
      protocol: {protocol}
"""


def _etc_snapshot() -> dict[str, tuple[int, int, int]]:
    """(mtime, size, mode) of everything under /etc, symlinks not followed."""
    snap = {}
    for root, dirs, files in os.walk("/etc"):
        if root == "/etc/cni":  # podman's network configs (other tests' node networks)
            dirs[:] = [d for d in dirs if d != "net.d"]
        for name in dirs + files:
            path = os.path.join(root, name)
            info = os.lstat(path)
            snap[path] = (info.st_mtime_ns, info.st_size, info.st_mode)
    return snap


@pytest.fixture(scope="module")
def etc_before() -> dict[str, tuple[int, int, int]]:
    return _etc_snapshot()


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _config(
    capsys: pytest.CaptureFixture[str], node: Path, *args: str | Path
) -> tuple[int, str, str]:
    rc = cli.main(["config", "--node-root", str(node), *map(str, args)])
    out, err = capsys.readouterr()
    return rc, out, err


def _ini(path: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    parser.read_string(path.read_text())
    return parser


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("config")


@pytest.fixture(scope="module")
def node(artifact_node: Path) -> Path:
    """The node root the deploy artifact was pushed to: etc/puppet/modules/tripleo_ovn_metadata."""
    return artifact_node


@pytest.fixture(scope="module")
def tcp_run(
    workdir: Path, etc_before: dict[str, tuple[int, int, int]]
) -> Iterator[tuple[Path, Path, Path]]:
    """Env file, hieradata and output of a plain (vip string, no TLS) configuration."""
    env = _write(workdir / "endpoints.yaml", ENDPOINTS.format(protocol="http"))
    hiera = _write(workdir / "hiera.yaml", "ovn_dbs_vip: 192.0.2.10\nfqdn_canonical: c0.example\n")
    yield env, hiera, workdir / "tcp" / "neutron"


def test_vip_string_writes_the_ini(
    tcp_run: tuple[Path, Path, Path], node: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env, hiera, output = tcp_run
    rc, out, err = _config(
        capsys, node, "-e", env, "-p", f"NeutronMetadataProxySharedSecret={SECRET}",
        "--hieradata", hiera, "--output", output,
    )  # fmt: skip
    assert rc == 0, err
    ini = _ini(output / INI)
    assert ini.get("ovn", "ovn_sb_connection") == "tcp:192.0.2.10:6642"
    assert ini.get("DEFAULT", "nova_metadata_host") == "192.0.2.20"
    assert ini.get("DEFAULT", "nova_metadata_protocol") == "http"
    assert ini.get("DEFAULT", "metadata_proxy_shared_secret") == SECRET
    assert ini.get("ovs", "ovsdb_connection") == "tcp:127.0.0.1:6640"
    assert ini.get("ovs", "ovsdb_connection_timeout") == "180"
    assert ini.get("ovn", "ovsdb_probe_interval") == "60000"
    assert ini.get("DEFAULT", "debug") == "False"
    assert not ini.has_option("DEFAULT", "metadata_workers")  # unset: the agent's default
    assert not ini.has_option("ovn", "ovn_sb_certificate")
    # OVNEnableHaproxyDockerWrapper (default true): the sidecar wrapper and kill script.
    assert ini.get("AGENT", "kill_scripts_path") == "/etc/neutron/kill_scripts"
    assert (output / WRAPPER).read_text().startswith("#!/bin/bash\n")
    assert "podman kill --signal" in (output / KILL).read_text()
    assert _ini(output / CONF).get("DEFAULT", "host") == "c0.example"  # fqdn_canonical
    digest = config.config_hash(output)
    assert f"config hash: {digest}" in out and "changed" in out
    assert (output.parent / "neutron.md5sum").read_text() == digest + "\n"
    assert SECRET not in out + err


def test_files_are_not_world_readable(tcp_run: tuple[Path, Path, Path]) -> None:
    _, _, output = tcp_run
    # output and etc/ stand for / and /etc when kolla merges them (modes preserved)
    assert stat.S_IMODE(output.stat().st_mode) == 0o755
    assert stat.S_IMODE((output / "etc").stat().st_mode) == 0o755
    scripts = {output / WRAPPER, output / KILL}  # root runs them; nobody else reads them
    for path in (output / "etc/neutron", *(output / "etc/neutron").rglob("*")):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o750 if path.is_dir() or path in scripts else 0o640), path
    assert stat.S_IMODE((output.parent / "neutron.md5sum").stat().st_mode) == 0o600


def test_sidecars_off_writes_no_wrapper(
    workdir: Path, node: Path, tcp_run: tuple[Path, Path, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    env, hiera, _ = tcp_run
    output = workdir / "sidecars-off" / "neutron"
    rc, _out, err = _config(
        capsys, node, "-e", env, "-p", f"NeutronMetadataProxySharedSecret={SECRET}",
        "-p", "OVNEnableHaproxyDockerWrapper=false", "--hieradata", hiera, "--output", output,
    )  # fmt: skip
    assert rc == 0, err
    assert not _ini(output / INI).has_option("AGENT", "kill_scripts_path")
    assert not (output / WRAPPER).exists()
    assert not (output / KILL).parent.exists()


def test_second_run_changes_nothing(
    tcp_run: tuple[Path, Path, Path], node: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env, hiera, output = tcp_run
    before = {p: p.stat().st_mtime_ns for p in output.rglob("*")}
    digest = config.config_hash(output)
    result = config.generate(
        env_files=[env], parameters={"NeutronMetadataProxySharedSecret": SECRET},
        hieradata_file=hiera, output=output, node_root=node,
    )  # fmt: skip
    assert not result.changed
    assert result.config_hash == digest
    assert {p: p.stat().st_mtime_ns for p in output.rglob("*")} == before
    assert SECRET not in "".join(capsys.readouterr())


def test_vip_list_with_tls_and_workers(
    workdir: Path, node: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = _write(workdir / "endpoints-tls.yaml", ENDPOINTS.format(protocol="https"))
    hiera = _write(
        workdir / "hiera-list.yaml",
        "ovn_dbs_vip:\n  - 192.0.2.10\n  - 192.0.2.11\n  - 2001:db8::12\n",
    )
    output = workdir / "tls" / "neutron"
    rc, out, err = _config(
        capsys, node, "-e", env, "-p", f"NeutronMetadataProxySharedSecret={SECRET}",
        "-p", "EnableInternalTLS=true", "-p", "NeutronMetadataWorkers=3",
        "--hieradata", hiera, "--output", output,
    )  # fmt: skip
    assert rc == 0, err
    ini = _ini(output / INI)
    assert ini.get("ovn", "ovn_sb_connection") == (
        "ssl:192.0.2.10:6642,ssl:192.0.2.11:6642,ssl:[2001:db8::12]:6642"
    )
    assert ini.get("ovn", "ovn_sb_ca_cert") == "/etc/ipa/ca.crt"
    assert ini.get("ovn", "ovn_sb_certificate") == "/etc/pki/tls/certs/ovn_metadata.crt"
    assert ini.get("ovn", "ovn_sb_private_key") == "/etc/pki/tls/private/ovn_metadata.key"
    assert ini.get("DEFAULT", "nova_metadata_protocol") == "https"
    assert ini.get("DEFAULT", "metadata_workers") == "3"
    assert SECRET not in out + err


def test_rerun_drops_what_is_no_longer_configured(
    workdir: Path, node: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Like container-puppet: a fresh /etc/neutron each run, etc/neutron mirrored."""
    output = workdir / "tls" / "neutron"
    stale = output / "etc/neutron/stale.conf"
    stale.write_text("[DEFAULT]\nold=1\n")
    keep = output / "kept-by-operator.txt"
    keep.write_text("not ours\n")
    rc, out, err = _config(
        capsys, node, "-e", workdir / "endpoints-tls.yaml",
        "--hieradata", workdir / "hiera-list.yaml",
        "-p", f"NeutronMetadataProxySharedSecret={SECRET}", "-p", "EnableInternalTLS=true",
        "--output", output,
    )  # fmt: skip
    assert rc == 0, err
    assert not stale.exists() and keep.exists()
    assert not _ini(output / INI).has_option("DEFAULT", "metadata_workers")
    assert "changed" in out and SECRET not in out + err


def test_puppet_failure_is_one_line_and_writes_nothing(
    workdir: Path, node: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """ssl without certificates passes the Python checks; the profile's fail() stops it."""
    role_data = {
        "config_settings": {
            "neutron::agents::ovn_metadata::shared_secret": SECRET,
            "neutron::agents::ovn_metadata::metadata_host": "192.0.2.20",
            "ovn::southbound::port": 6642,
            "ovn_dbs_vip": "192.0.2.10",
            "tripleo_ovn_metadata::profile::ovn_metadata::protocol": "ssl",
        },
        "puppet_config": {
            "puppet_tags": "neutron_config,ovn_metadata_agent_config",
            "step_config": "include tripleo_ovn_metadata::profile::ovn_metadata\n",
        },
    }
    output = workdir / "failed" / "neutron"
    with pytest.raises(config.ToolError) as error:
        config.apply(role_data, output=output, node_root=node)
    message = str(error.value)
    assert "\n" not in message and SECRET not in message
    assert "protocol ssl needs ovn_sb_ca_cert, ovn_sb_certificate and ovn_sb_private_key" in message
    assert not output.exists()


@pytest.mark.parametrize("engine", ["namespace", "podman"])
def test_without_the_artifact_one_line_names_the_missing_class(
    tcp_run: tuple[Path, Path, Path], workdir: Path, capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest, engine: str,
) -> None:
    """A node root without our module (no deploy artifact pushed): Puppet cannot find it,
    on the host or in the config image."""
    env, hiera, _ = tcp_run
    image_ref = request.getfixturevalue("config_image") if engine == "podman" else "none"
    capsys.readouterr()  # a build just now logged through an earlier test's closed stderr
    bare = workdir / f"bare-node-{engine}"
    (bare / "etc/puppet").mkdir(parents=True)
    output = workdir / f"no-artifact-{engine}" / "neutron"
    rc, out, err = _config(
        capsys, bare, "-e", env, "-p", f"NeutronMetadataProxySharedSecret={SECRET}",
        "--hieradata", hiera, "--output", output, "--config-image", image_ref,
    )  # fmt: skip
    assert rc == 1
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    assert "class tripleo_ovn_metadata::profile::ovn_metadata not found" in lines[0]
    assert f"{bare}/etc/puppet/modules has none" in lines[0]
    assert "puppet-artifact" in lines[0]
    assert "Traceback" not in err and SECRET not in out + err
    assert not output.exists()


@pytest.mark.parametrize(
    ("hiera_text", "params", "expected"),
    [
        (
            "ovn_dbs_vip: 192.0.2.10\n",
            ["NeutronMetadataProxySharedSecret="],
            "ovn-metadata-container-puppet.yaml (rendered config_settings): "
            "neutron::agents::ovn_metadata::shared_secret is empty or not a string",
        ),
        (
            "# vips\novn_dbs_vip:\n  - 192.0.2.10\n  - not a host\n",
            [f"NeutronMetadataProxySharedSecret={SECRET}"],
            "hiera-bad.yaml:4: ovn_dbs_vip must be an IP address or host name, "
            "or a non-empty list of them",
        ),
        (
            "ovn_dbs_vip: []\n",
            [f"NeutronMetadataProxySharedSecret={SECRET}"],
            "hiera-bad.yaml:1: ovn_dbs_vip must be an IP address or host name",
        ),
        (
            "neutron::agents::ovn_metadata::shared_secret: ''\novn_dbs_vip: 192.0.2.10\n",
            [f"NeutronMetadataProxySharedSecret={SECRET}"],
            "hiera-bad.yaml:1: neutron::agents::ovn_metadata::shared_secret is empty",
        ),
    ],
)
def test_bad_hieradata_is_one_clear_line(
    workdir: Path,
    node: Path,
    capsys: pytest.CaptureFixture[str],
    hiera_text: str,
    params: list[str],
    expected: str,
) -> None:
    env = _write(workdir / "endpoints-bad.yaml", ENDPOINTS.format(protocol="http"))
    hiera = _write(workdir / "hiera-bad.yaml", hiera_text)
    output = workdir / "bad" / "neutron"
    args: list[str | Path] = ["-e", env, "--hieradata", hiera, "--output", output]
    for param in params:
        args += ["-p", param]
    rc, out, err = _config(capsys, node, *args)
    assert rc == 1
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1 and expected in lines[0], err
    assert "Traceback" not in err and SECRET not in out + err
    assert not output.exists()


@pytest.fixture(scope="module")
def config_image() -> str:
    """The bundle's config image (kolla/ neutron-config), built if missing: Puppet and
    Debian's modules, and no copy of ours."""
    ref = image.build()[kolla_recipe.CONFIG]
    found = subprocess.run(
        ["podman", "run", "--rm", "--net", "none", "--entrypoint", "sh", ref, "-c",
         "find / -xdev -name tripleo_ovn_metadata"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert found.strip() == "", f"the config image has our module: {found}"
    return ref


def test_config_image_without_our_module_gives_the_same_files(
    tcp_run: tuple[Path, Path, Path], config_image: str, workdir: Path, node: Path
) -> None:
    env, hiera, namespace_output = tcp_run
    output = workdir / "podman" / "neutron"
    result = config.generate(
        env_files=[env], parameters={"NeutronMetadataProxySharedSecret": SECRET},
        hieradata_file=hiera, output=output, config_image=config_image, node_root=node,
    )  # fmt: skip
    assert result.engine == "podman"
    assert result.config_hash == config.config_hash(namespace_output)
    for relative in (INI, CONF):
        assert (output / relative).read_bytes() == (namespace_output / relative).read_bytes()


def test_host_etc_is_untouched(etc_before: dict[str, tuple[int, int, int]]) -> None:
    """Last in this module: compares /etc with the snapshot taken before the first run."""
    after = _etc_snapshot()
    changed = sorted(p for p in set(etc_before) | set(after) if etc_before.get(p) != after.get(p))
    assert changed == []
