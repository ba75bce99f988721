"""The built images: pulled back by digest, they carry the agent, kolla's start contract
and the healthcheck; the config image carries Puppet and the modules; the OVN images carry
what THT's OVN templates run; builds are cached; failed builds and pushes leave the
registry's tags alone. (tests/test_ovn_images.py runs OVN from them.)"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tripleo_ovn_metadata import cli, image, kolla_recipe, paths, yamlio
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


def test_agent_and_what_sudo_starts_for_it_skip_setuptools(by_digest: dict[str, str]) -> None:
    """eventlet's `import distutils` stays in the standard library for the agent, and sudo
    keeps the setting for neutron-rootwrap and the privsep helpers it starts."""
    script = ("python3 -c 'import sys, eventlet; print(sorted(m for m in "
              "(\"setuptools\", \"pkg_resources\") if m in sys.modules))'; "
              "env -u SETUPTOOLS_USE_DISTUTILS python3 -c 'import sys, eventlet; "
              "print(\"setuptools\" in sys.modules)'; sudo -n -l")
    proc = podman_run(by_digest[AGENT], "bash", "-c", script)
    assert proc.returncode == 0, proc.stderr
    loaded, shim, sudo = proc.stdout.split("\n", 2)
    assert loaded == "[]"
    assert shim == "True"  # the control: without the setting the shim loads setuptools
    defaults = sudo.split("User neutron may run")[0]
    assert "env_keep+=SETUPTOOLS_USE_DISTUTILS" in defaults.replace(" ", ""), sudo


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


def test_healthcheck_in_the_image_fails_unconfigured(by_digest: dict[str, str]) -> None:
    """Without an SB connection configured it fails with one line saying so (the healthy
    and broken-SB cases run against real servers in tests/test_healthcheck.py)."""
    down = podman_run(by_digest[AGENT], "/openstack/healthcheck")
    assert down.returncode == 1
    assert down.stdout.strip().endswith("[ovn] ovn_sb_connection is not set"), down.stdout


def test_config_image_has_puppet_and_the_modules_but_not_ours(by_digest: dict[str, str]) -> None:
    """Our module reaches the node as a deploy artifact (tests/test_puppet_artifact.py)."""
    proc = podman_run(by_digest[CONFIG], "bash", "-c",
                      "puppet --version; ls /usr/share/openstack-puppet/modules/")
    assert proc.returncode == 0, proc.stderr
    version, *modules = proc.stdout.split()
    assert version.startswith("7.")
    for module in ("neutron", "openstacklib", "oslo", "inifile", "stdlib", "ovn", "vswitch"):
        assert module in modules
    ours = podman_run(by_digest[CONFIG], "bash", "-c",
                      "find / -xdev -type d -name tripleo_ovn_metadata | wc -l")
    assert ours.stdout.strip() == "0"



def test_config_image_facter_skips_augeas_but_resolves_the_rest(
        by_digest: dict[str, str]) -> None:
    """facter.conf blocks the augeas fact (it started augeas in every Puppet run)."""
    proc = podman_run(by_digest[CONFIG], "bash", "-c",
                      "facter --json augeas os.family processors.count")
    assert proc.returncode == 0, proc.stderr
    facts = json.loads(proc.stdout)
    assert facts["augeas"] is None
    assert facts["os.family"] == "Debian" and facts["processors.count"] >= 1


#: What each OVN image must run: THT's kolla commands and healthchecks, and ovn-ctl.
OVN_TOOLS = {
    "ContainerOvnNbDbImage": "start-nb-db-server ovsdb-server ovsdb-tool ovn-nbctl ovn-appctl"
                             " /usr/share/ovn/scripts/ovn-ctl /usr/share/ovn/ovn-nb.ovsschema",
    "ContainerOvnSbDbImage": "start-sb-db-server ovsdb-server ovsdb-tool ovn-sbctl ovn-appctl"
                             " /usr/share/ovn/scripts/ovn-ctl /usr/share/ovn/ovn-sb.ovsschema",
    "ContainerOvnNorthdImage": "/usr/bin/ovn-northd /usr/bin/ovs-appctl /openstack/healthcheck",
    "ContainerOvnControllerImage": "/usr/bin/ovn-controller ovs-vsctl awk /openstack/healthcheck"
                                   " /usr/share/openstack-tripleo-common/healthcheck/common.sh",
}
VERSIONS = {
    "ContainerOvnNbDbImage": "ovsdb-server --version",
    "ContainerOvnSbDbImage": "ovsdb-server --version",
    "ContainerOvnNorthdImage": "ovn-northd --version",
    "ContainerOvnControllerImage": "ovn-controller --version",
}


@pytest.mark.parametrize("param", sorted(OVN_TOOLS))
def test_ovn_images_have_what_thts_templates_run(all_images: dict[str, str], param: str) -> None:
    proc = podman_run(all_images[param], "bash", "-c",
                      f"id -un; {VERSIONS[param]} | head -1; for t in kolla_start kolla_set_configs"
                      f" {OVN_TOOLS[param]}; do command -v $t >/dev/null || test -f $t"
                      " || echo missing $t; done")
    assert proc.returncode == 0, proc.stderr
    user, version, *rest = proc.stdout.splitlines()
    assert user == "root"  # Debian's OVN packages have no users; THT runs these as root
    assert version.endswith("3.1.0" if "ovsdb" in VERSIONS[param] else "23.03.1"), version
    assert not rest, rest


def test_ovn_start_scripts_and_healthchecks_are_tripleo_commons(all_images: dict[str, str]
                                                                ) -> None:
    installed = {
        "ContainerOvnNbDbImage": {"/usr/local/bin/start-nb-db-server":
                                  "container-images/kolla/ovn/ovn-nb-db-server/start_nb_db_server.sh"},
        "ContainerOvnSbDbImage": {"/usr/local/bin/start-sb-db-server":
                                  "container-images/kolla/ovn/ovn-sb-db-server/start_sb_db_server.sh"},
        "ContainerOvnNorthdImage": {"/openstack/healthcheck": "healthcheck/ovn-dbs"},
        "ContainerOvnControllerImage": {
            "/openstack/healthcheck": "healthcheck/ovn-controller",
            "/usr/share/openstack-tripleo-common/healthcheck/common.sh": "healthcheck/common.sh"},
    }
    for param, files in installed.items():
        for path, share in files.items():
            proc = podman_run(all_images[param], "cat", path)
            assert proc.returncode == 0, proc.stderr
            assert proc.stdout == kolla_recipe.tripleo_common_file(share).read_text(), path


def test_ovn_leaves_are_tagged_with_the_tripleo_common_files_they_get(
    all_images: dict[str, str],
) -> None:
    chain = kolla_recipe.chain_tag()
    for param in OVN_TOOLS:
        name = image.PARAMS[param]
        tag = all_images[param].rsplit(":", 1)[1]
        assert tag == f"{chain}-{kolla_recipe.tripleo_common_hash(name)}", param
    assert image.tags()["ovn-base"] == chain  # what the leaves' FROM lines name


def test_ovn_controller_puppet_runs_in_the_config_image(all_images: dict[str, str]) -> None:
    assert all_images["ContainerOvnControllerConfigImage"] == all_images[CONFIG]


def test_second_build_reuses_everything(all_images: dict[str, str], registry: str) -> None:
    started = time.monotonic()
    again = image.build_and_push(registry)
    assert time.monotonic() - started < 60
    assert {param: pushed.ref for param, pushed in again.items()} == all_images
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


def _working_containers(tag: str) -> set[str]:
    """buildah's working containers from an image of the chain tagged ``tag``: those a
    failed build of that chain could leave (the other worker's builds and patches start
    from other images)."""
    out = subprocess.run(["buildah", "containers", "--json"], capture_output=True, text=True,
                         check=True).stdout
    chain = {image.local_ref(name, tag) for name, _ in kolla_recipe.CHAIN}
    listed = json.loads(out) or []  # buildah prints null when there are none
    return {each["id"] for each in listed if each["imagename"] in chain}


def test_failed_build_is_one_line_and_leaves_tags_alone(
    built_images: dict[str, str], registry: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    before = registry_lib.list_images(registry)
    monkeypatch.setenv("TRIPLEO_OVN_METADATA_BUNDLE", str(_broken_bundle(tmp_path)))
    monkeypatch.setenv("TRIPLEO_OVN_METADATA_CACHE", str(tmp_path / "cache"))
    tag = kolla_recipe.chain_tag()
    working = _working_containers(tag)
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
    assert _working_containers(tag) <= working, "the failed RUN left a working container"


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


def test_env_file_names_images_and_insecure_registry(all_images: dict[str, str],
                                                     registry: str, tmp_path: Path) -> None:
    env = tmp_path / "images.yaml"
    assert cli.main(["--quiet", "image", "build", "--registry", registry,
                     "--env-file", str(env)]) == 0
    params = yamlio.load(env)["parameter_defaults"]
    assert params == {**all_images, "DockerInsecureRegistryAddress": [registry]}
    assert set(params) == {*image.PARAMS, "DockerInsecureRegistryAddress"}
    assert oct(os.stat(env).st_mode & 0o777) == "0o644"


def test_an_unknown_image_parameter_is_one_line(registry: str) -> None:
    with pytest.raises(ToolError) as failure:
        image.build_and_push(registry, params=["ContainerTomNoSuchImage"])
    assert str(failure.value) == (
        "ContainerTomNoSuchImage: no image of the kolla recipe for this parameter")


def test_ovn_params_are_stock_thts() -> None:
    """Every image parameter is declared by the stock THT 18 template that uses it."""
    declared: set[str] = set()
    for template in ("deployment/ovn/ovn-dbs-cluster-ansible.yaml",
                     "deployment/ovn/ovn-controller-container-puppet.yaml",
                     "deployment/ovn/ovn-metadata-container-puppet.yaml"):
        declared |= set(yamlio.load(paths.tht_dir() / template)["parameters"])
    assert set(image.PARAMS) <= declared, set(image.PARAMS) - declared
