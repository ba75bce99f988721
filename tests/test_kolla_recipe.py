"""The kolla recipe, rendered by the real kolla-build: chain, blocks, package lists, overrides."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tripleo_ovn_metadata import kolla_recipe
from tripleo_ovn_metadata.errors import ToolError
from tripleo_ovn_metadata.procs import run

REPO = Path(__file__).resolve().parent.parent


def _from(dockerfile: Path) -> str:
    return re.search(r"^FROM (\S+)", dockerfile.read_text(), re.M).group(1)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> kolla_recipe.Rendered:
    return kolla_recipe.render("testtag", work_root=tmp_path_factory.mktemp("kolla"))


@pytest.mark.slow
def test_chain_renders_parent_by_parent(rendered: kolla_recipe.Rendered) -> None:
    ns = kolla_recipe.LOCAL_NAMESPACE
    parents = {
        "base": "localhost/debian:bookworm",
        "openstack-base": f"{ns}/base:testtag",
        "neutron-base": f"{ns}/openstack-base:testtag",
        "neutron-metadata-agent-ovn": f"{ns}/neutron-base:testtag",
        "neutron-config": f"{ns}/neutron-base:testtag",
        "ovn-base": f"{ns}/base:testtag",
        "ovn-nb-db-server": f"{ns}/ovn-base:testtag",
        "ovn-sb-db-server": f"{ns}/ovn-base:testtag",
        "ovn-northd": f"{ns}/ovn-base:testtag",
        "ovn-controller": f"{ns}/ovn-base:testtag",
    }
    assert set(parents) == {name for name, _ in kolla_recipe.CHAIN}  # one render, every image
    for image, parent in parents.items():
        assert _from(rendered.context(image) / "Dockerfile") == parent, image
        expected = parent.rsplit("/", 1)[1].split(":")[0] if parent.startswith(ns) else None
        assert rendered.parent(image) == expected, image


@pytest.mark.slow
def test_start_contract_comes_from_the_installed_kolla(rendered: kolla_recipe.Rendered) -> None:
    base = rendered.context("base")
    text = (base / "Dockerfile").read_text()
    assert "COPY set_configs.py /usr/local/bin/kolla_set_configs" in text
    assert 'CMD ["kolla_start"]' in text
    assert (base / "set_configs.py").is_file()  # put there by kolla-build ...
    assert not (REPO / "kolla/docker/base/set_configs.py").exists()  # ... not kept in this repo
    leaf = (rendered.context("neutron-metadata-agent-ovn") / "Dockerfile").read_text()
    assert "COPY healthcheck /openstack/healthcheck" in leaf
    assert leaf.rstrip().endswith("USER neutron")


@pytest.mark.slow
def test_overrides_append_packages_and_fill_the_empty_blocks(tmp_path: Path) -> None:
    override = tmp_path / "override.j2"
    override.write_text(
        "{% extends parent_template %}\n"
        "{% set neutron_metadata_agent_ovn_packages_append = ['tcpdump'] %}\n"
        "{% set neutron_base_packages_remove = ['iptables'] %}\n"
        "{% block neutron_metadata_agent_ovn_footer %}RUN echo tom-footer{% endblock %}\n"
        "{% block neutron_config_header %}RUN echo tom-header{% endblock %}\n"
    )
    run([str(kolla_recipe.kolla_build()), "--engine", "podman", "--template-only",
         "--base", "debian", "--docker-dir", str(kolla_recipe.recipe_dir()),
         "--template-override", str(override), "--work-dir", str(tmp_path / "w"),
         "^(neutron-base|neutron-metadata-agent-ovn|neutron-config)$"])
    docker = tmp_path / "w/docker/neutron"
    leaf = (docker / "neutron-metadata-agent-ovn/Dockerfile").read_text()
    assert re.search(r"apt-get -y install .*neutron-ovn-metadata-agent tcpdump", leaf)
    assert leaf.index("RUN echo tom-footer") < leaf.index("USER neutron")
    assert "iptables" not in (docker / "neutron-base/Dockerfile").read_text()
    assert "RUN echo tom-header" in (docker / "neutron-config/Dockerfile").read_text()


@pytest.mark.slow
def test_template_overrides_installs_additions_in_stock_kolla(tmp_path: Path) -> None:
    docker = kolla_recipe.render_stock(tmp_path, REPO / "kolla/template-overrides.j2",
                                       "^neutron-metadata-agent$")
    text = (docker / "neutron/neutron-metadata-agent/Dockerfile").read_text()
    block = text.index("# tripleo-ovn-metadata: unreleased packages")
    assert "/neutron-base:" in _from(docker / "neutron/neutron-metadata-agent/Dockerfile")
    assert text.index("ADD additions-archive /", block) < text.index("USER neutron", block)
    assert "apt-get -y install --no-install-recommends $debs" in text
    assert "RPMs need an rpm-based image" in text  # Debian base: RPMs are refused
    assert "tripleo-ovn-metadata" not in (docker / "neutron/neutron-base/Dockerfile").read_text()


def test_tree_hash_follows_content_and_mode_but_not_caches(tmp_path: Path) -> None:
    tree = tmp_path / "t"
    shutil.copytree(REPO / "kolla/docker/neutron", tree)
    script = tree / "neutron-metadata-agent-ovn/healthcheck"
    script.chmod(0o755)
    first = kolla_recipe.tree_hash(tree)
    (tree / "__pycache__").mkdir()
    (tree / "__pycache__/x.pyc").write_bytes(b"junk")
    assert kolla_recipe.tree_hash(tree) == first
    script.chmod(0o644)
    assert kolla_recipe.tree_hash(tree) != first
    script.chmod(0o755)
    assert kolla_recipe.tree_hash(tree) == first
    script.write_text(script.read_text() + "\n")
    assert kolla_recipe.tree_hash(tree) != first


@pytest.mark.slow
def test_ovn_images_install_debian_packages_and_tripleo_common_files(
    rendered: kolla_recipe.Rendered,
) -> None:
    packages = {"ovn-base": "gawk openvswitch-common ovn-common",
                "ovn-nb-db-server": "ovn-central", "ovn-sb-db-server": "ovn-central",
                "ovn-northd": "ovn-central", "ovn-controller": "ovn-host"}
    for image, names in packages.items():
        text = (rendered.context(image) / "Dockerfile").read_text()
        assert f"apt-get -y install --no-install-recommends {names} &&" in text, image
        if image != "ovn-base":
            assert text.rstrip().endswith("USER root"), image
    nb = (rendered.context("ovn-nb-db-server") / "Dockerfile").read_text()
    assert "COPY tripleo-common/start_nb_db_server.sh /usr/local/bin/start-nb-db-server" in nb
    northd = (rendered.context("ovn-northd") / "Dockerfile").read_text()
    assert "healthcheck/ovn-dbs /openstack/healthcheck" in northd
    # The files come from the installed tripleo-common at build time, not from the render.
    for image in kolla_recipe.TRIPLEO_COMMON_FILES:
        assert not (rendered.context(image) / "tripleo-common").exists(), image


def test_tripleo_common_files_are_copied_not_committed(tmp_path: Path) -> None:
    installed = {}
    for image, files in kolla_recipe.TRIPLEO_COMMON_FILES.items():
        kolla_recipe.copy_tripleo_common(image, tmp_path / image)
        for share, dest in files:
            source = kolla_recipe.tripleo_common_file(share)
            assert source.is_relative_to(Path(sys.prefix).resolve() / "share/tripleo-common")
            assert (tmp_path / image / dest).read_bytes() == source.read_bytes()
            installed[source.read_bytes()] = share
    tracked = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z"], capture_output=True,
                             check=True).stdout.decode().split("\0")
    for name in filter(None, tracked):
        path = REPO / name
        if path.is_file() and not path.is_symlink():
            assert path.read_bytes() not in installed, f"{name} is a copy of tripleo-common's"


def test_tripleo_common_hash_follows_the_files() -> None:
    hashes = {image: kolla_recipe.tripleo_common_hash(image)
              for image in kolla_recipe.TRIPLEO_COMMON_FILES}
    assert len(set(hashes.values())) == len(hashes)
    assert hashes == {image: kolla_recipe.tripleo_common_hash(image) for image in hashes}


def test_a_missing_tripleo_common_file_is_one_line() -> None:
    with pytest.raises(ToolError) as failure:
        kolla_recipe.tripleo_common_file("healthcheck/tom-no-such-check")
    assert str(failure.value).startswith("tripleo-common 18.0.0: share/tripleo-common/")
    assert "\n" not in str(failure.value)


def test_kolla_version_is_what_kolla_build_prints() -> None:
    printed = run([str(kolla_recipe.kolla_build()), "--version"]).stdout.strip()
    assert kolla_recipe.kolla_version() == printed
