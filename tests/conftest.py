"""Shared fixtures: the local registry and the built images (session-scoped, real).

Other areas may add fixtures at the end of this file.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tripleo_ovn_metadata import artifact, image, kolla_recipe, paths, yamlio
from tripleo_ovn_metadata import registry as registry_lib
from tripleo_ovn_metadata.procs import run

#: The file handed out first: the rehearsal nodes' tests, one after another on one worker,
#: are the suite's longest chain (the 3 + 3 and the broken bundle's rehearsals), so they
#: start at once. The other files follow with the most tests first (collection order
#: among equals), the order xdist's ``--dist loadfile`` would choose; tools/run-tests.sh
#: passes ``--no-loadscope-reorder`` so that xdist keeps this one. That order is kept on
#: purpose: with the end-to-end file handed out second it started beside the 3 + 3
#: rehearsal's deploy, the heaviest minutes of the suite, and its 10 s sidecar-removal
#: row failed under that load; in this order it runs beside lighter work.
FIRST = "test_nodes.py"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """FIRST's tests first, then each file's tests, files with the most tests first."""
    tests_in = Counter(item.path for item in items)
    items.sort(key=lambda item: (item.path.name != FIRST, -tests_in[item.path]))


@pytest.fixture(scope="session")
def registry() -> Iterator[str]:
    """The local registry's address; started if needed, stopped at the end only if we did."""
    started = not registry_lib.status().running
    state = registry_lib.ensure_running()
    yield state.address
    if started:
        registry_lib.stop()


@pytest.fixture(scope="session")
def built_images(registry: str) -> dict[str, str]:
    """Heat image parameter -> ref in the registry; builds and pushes what is missing."""
    return image.ensure_images(registry)


@pytest.fixture(scope="session")
def all_images(registry: str) -> dict[str, str]:
    """Every image parameter ``image build`` writes (agent, config, OVN) -> registry ref."""
    return image.ensure_images(registry, params=image.PARAMS)


@pytest.fixture
def made(registry: str) -> Iterator[list[str]]:
    """Refs a test pushed; deleted from the registry and local storage afterwards."""
    refs: list[str] = []
    yield refs
    for ref in refs:
        address, _, rest = ref.partition("/")
        repository, _, tag = rest.rpartition(":")
        names = [ref, image.local_ref(repository.rsplit("/", 1)[1], tag)]
        if registry_lib.has_tag(address, repository, tag):
            digest = image.remote_digest(ref)
            registry_lib.delete(address, repository, digest)
            # A test that ran it by digest pulled it under that name too.
            names.append(f"{address}/{repository}@{digest}")
        for local in names:
            subprocess.run(["podman", "rmi", local], capture_output=True, check=False)


# --- the deploy artifact on a node (tests/test_puppet_artifact.py, tests/test_config.py) ---

#: The task THT 18's common/deploy-steps.j2 runs in host prep, with the same arguments.
PUSH_ARTIFACTS_PLAYBOOK = """\
- hosts: overcloud
  gather_facts: false
  tasks:
    - name: Deploy Artifacts
      tripleo_push_artifacts:
        artifact_urls: "{{ deploy_artifact_urls | default([]) }}"
        artifact_paths: "{{ deploy_artifact_files | default([]) }}"
      when:
        - ((deploy_artifact_urls | default([]) | length) > 0) or
          ((deploy_artifact_files | default([]) | length) > 0)
"""


def push_artifacts(node: str, env_file: Path, work: Path) -> str:
    """Run THT's Deploy Artifacts task with tripleo-ansible 6.0.0's action plugin against a
    podman container, with the DeployArtifactFILEs of ``env_file``; returns ansible's output."""
    share = paths.bundle_root() / ".venv/share/ansible/plugins"
    files = yamlio.load_mapping(env_file)["parameter_defaults"]["DeployArtifactFILEs"]
    (work / "push.yaml").write_text(PUSH_ARTIFACTS_PLAYBOOK)
    (work / "inventory").write_text(f"[overcloud]\n{node} ansible_connection=podman "
                                    "ansible_python_interpreter=/usr/bin/python3\n")
    env = dict(os.environ, ANSIBLE_ACTION_PLUGINS=str(share / "action"),
               ANSIBLE_LIBRARY=str(share / "modules"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCAL_TEMP=str(work / ".ansible-tmp"), ANSIBLE_RETRY_FILES_ENABLED="0")
    proc = run([str(paths.venv_bin("ansible-playbook")), "-i", str(work / "inventory"),
                str(work / "push.yaml"), "-e", json.dumps({"deploy_artifact_files": files})],
               env=env, check=False, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.fixture(scope="session")
def artifact_node(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A node root after a deploy pushed ``puppet-artifact``'s tarball (by its env file) to
    a node: a container of the debootstrap base image whose /etc/puppet is this root's."""
    work = tmp_path_factory.mktemp("artifact-node")
    built = artifact.build(work / artifact.DEFAULT_OUTPUT.name)
    artifact.write_env_file(work / "puppet-artifact.yaml", built.path)
    root = work / "node-root"
    (root / "etc/puppet").mkdir(parents=True)
    name = f"tom-artifact-node-{uuid.uuid4().hex[:8]}"
    run(["podman", "--runtime", "runc", "run", "-d", "--rm", "--name", name, "--net", "none",
         "-v", f"{root / 'etc/puppet'}:/etc/puppet",
         f"{kolla_recipe.BASE_IMAGE}:{kolla_recipe.BASE_TAG}", "sleep", "600"])
    try:
        assert "changed: [" in push_artifacts(name, work / "puppet-artifact.yaml", work)
    finally:
        subprocess.run(["podman", "rm", "-f", "-t", "0", name], capture_output=True, check=False)
    return root
