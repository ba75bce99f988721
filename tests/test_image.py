"""The built images: pulled back by digest, they carry the agent, kolla's start contract
and the healthcheck; the config image carries Puppet and the modules; builds are cached;
failed builds and pushes leave the registry's tags alone."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tripleo_ovn_metadata import cli, image, kolla_recipe
from tripleo_ovn_metadata import registry as registry_lib
from tripleo_ovn_metadata.errors import ToolError

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent
AGENT, CONFIG = "ContainerOvnMetadataImage", "ContainerNeutronConfigImage"


def podman_run(ref: str, *args: str, volumes: tuple[str, ...] = (),
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    cmd = ["podman", "run", "--rm", "--tls-verify=false"]
    for volume in volumes:
        cmd += ["-v", volume]
    for key, value in (env or {}).items():
        cmd += ["-e", f"{key}={value}"]
    return subprocess.run([*cmd, ref, *args], capture_output=True, text=True, timeout=300,
                          check=False)


@pytest.fixture(scope="module")
def by_digest(built_images: dict[str, str]) -> dict[str, str]:
    """The same images, pulled back from the registry by digest."""
    refs = {}
    for param, ref in built_images.items():
        pinned = f"{ref.rsplit(':', 1)[0]}@{image.remote_digest(ref)}"
        subprocess.run(["podman", "pull", "--quiet", "--tls-verify=false", pinned], check=True,
                       capture_output=True)
        refs[param] = pinned
    return refs


def test_refs_are_in_the_registry_namespace(built_images: dict[str, str], registry: str) -> None:
    assert built_images[AGENT].startswith(
        f"{registry}/tripleo-ovn-metadata/neutron-metadata-agent-ovn:")
    assert built_images[CONFIG].startswith(f"{registry}/tripleo-ovn-metadata/neutron-config:")
    tags = registry_lib.list_images(registry)
    for ref in built_images.values():
        assert ref.split("/", 1)[1] in tags


def test_agent_image_has_what_the_template_runs(by_digest: dict[str, str]) -> None:
    tools = ("neutron-ovn-metadata-agent haproxy ip iptables sudo ps ovs-vsctl python3 rpm "
             "kolla_start kolla_set_configs /openstack/healthcheck")
    proc = podman_run(by_digest[AGENT], "bash", "-c",
                      f"id -un; for t in {tools}; do command -v $t >/dev/null || echo missing $t;"
                      " done; dpkg-query -W -f '${Version}' python3-neutron")
    assert proc.returncode == 0, proc.stderr
    user, rest = proc.stdout.split("\n", 1)
    assert user == "neutron"
    assert "missing" not in rest
    assert rest.split(":")[-1].startswith("21.0.0")


def test_kolla_start_copies_config_with_permissions(by_digest: dict[str, str],
                                                    tmp_path: Path) -> None:
    config = tmp_path / "config"
    (config / "src/etc/neutron").mkdir(parents=True)
    (config / "src/etc/neutron/neutron_ovn_metadata_agent.ini").write_text("[DEFAULT]\n")
    (config / "config.json").write_text(json.dumps({
        "command": "stat -c %U:%G:%a /etc/neutron/neutron_ovn_metadata_agent.ini",
        "config_files": [{"source": "/var/lib/kolla/config_files/src/*", "dest": "/",
                          "merge": True, "preserve_properties": True}],
        "permissions": [{"path": "/etc/neutron/neutron_ovn_metadata_agent.ini",
                         "owner": "neutron:neutron", "perm": "0600"}],
    }))
    proc = podman_run(by_digest[AGENT], volumes=(f"{config}:/var/lib/kolla/config_files:ro",),
                      env={"KOLLA_CONFIG_STRATEGY": "COPY_ALWAYS"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "neutron:neutron:600"


def test_healthcheck_fails_without_agent_and_passes_with_it(by_digest: dict[str, str]) -> None:
    down = podman_run(by_digest[AGENT], "/openstack/healthcheck")
    assert down.returncode == 1 and "not running" in down.stdout
    up = podman_run(by_digest[AGENT], "bash", "-c",
                    "(exec -a neutron-ovn-metadata-agent sleep 20) & sleep 1;"
                    " /openstack/healthcheck")
    assert up.returncode == 0, up.stdout + up.stderr


def test_config_image_has_puppet_and_the_modules_but_not_ours(by_digest: dict[str, str]) -> None:
    """Our module reaches the node as a deploy artifact (tests/test_puppet_artifact.py)."""
    proc = podman_run(by_digest[CONFIG], "bash", "-c",
                      "puppet --version; ls /usr/share/openstack-puppet/modules/")
    assert proc.returncode == 0, proc.stderr
    version, *modules = proc.stdout.split()
    assert version.startswith("7.")
    for module in ("neutron", "openstacklib", "oslo", "inifile", "stdlib"):
        assert module in modules
    ours = podman_run(by_digest[CONFIG], "bash", "-c",
                      "find / -xdev -type d -name tripleo_ovn_metadata | wc -l")
    assert ours.stdout.strip() == "0"


def test_second_build_reuses_everything(built_images: dict[str, str], registry: str) -> None:
    started = time.monotonic()
    again = image.build_and_push(registry)
    assert time.monotonic() - started < 60
    assert {param: pushed.ref for param, pushed in again.items()} == built_images
    assert all(pushed.skipped and pushed.uploaded == 0 for pushed in again.values())


def _broken_bundle(tmp_path: Path) -> Path:
    bundle = tmp_path / "bundle"
    shutil.copytree(REPO / "kolla", bundle / "kolla")
    (bundle / ".venv-kolla").symlink_to(REPO / ".venv-kolla")
    leaf = bundle / "kolla/docker/neutron/neutron-metadata-agent-ovn/Dockerfile.j2"
    text = leaf.read_text()
    assert "'neutron-ovn-metadata-agent'," in text
    leaf.write_text(text.replace("'neutron-ovn-metadata-agent',",
                                 "'neutron-ovn-metadata-agent', 'tom-no-such-package',"))
    return bundle


def _working_containers() -> set[str]:
    out = subprocess.run(["buildah", "containers", "--quiet"], capture_output=True, text=True,
                         check=True).stdout
    return set(out.split())


def test_failed_build_is_one_line_and_leaves_tags_alone(
    built_images: dict[str, str], registry: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    before = registry_lib.list_images(registry)
    working = _working_containers()
    monkeypatch.setenv("TRIPLEO_OVN_METADATA_BUNDLE", str(_broken_bundle(tmp_path)))
    monkeypatch.setenv("TRIPLEO_OVN_METADATA_CACHE", str(tmp_path / "cache"))
    tag = kolla_recipe.chain_tag()
    try:
        assert cli.main(["--quiet", "image", "build", "--registry", registry]) == 1
    finally:
        for name, _ in kolla_recipe.CHAIN:
            subprocess.run(["podman", "rmi", image.local_ref(name, tag)], capture_output=True,
                           check=False)
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "building neutron-metadata-agent-ovn failed" in err and "Traceback" not in err
    assert registry_lib.list_images(registry) == before
    assert _working_containers() <= working, "the failed RUN left a working container"


def test_failed_push_is_one_line_and_leaves_tags_alone(
    built_images: dict[str, str], registry: str
) -> None:
    before = registry_lib.list_images(registry)
    dest = image.remote_ref(registry, "neutron-metadata-agent-ovn", "tom-failed-push")
    with pytest.raises(ToolError) as failure:
        image.push("localhost/tripleo-ovn-metadata/no-such-image:1", dest)
    assert str(failure.value).startswith(f"pushing {dest} failed:")
    assert "\n" not in str(failure.value)
    assert registry_lib.list_images(registry) == before


def test_env_file_names_images_and_insecure_registry(built_images: dict[str, str],
                                                     registry: str, tmp_path: Path) -> None:
    env = tmp_path / "images.yaml"
    assert cli.main(["--quiet", "image", "build", "--registry", registry,
                     "--env-file", str(env)]) == 0
    from tripleo_ovn_metadata import yamlio
    params = yamlio.load(env)["parameter_defaults"]
    assert params == {**built_images, "DockerInsecureRegistryAddress": [registry]}
    assert oct(os.stat(env).st_mode & 0o777) == "0o644"
