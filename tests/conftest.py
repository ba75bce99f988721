"""Shared fixtures: the local registry and the built images (session-scoped, real).

Other areas may add fixtures at the end of this file.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from tripleo_ovn_metadata import image
from tripleo_ovn_metadata import registry as registry_lib


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


@pytest.fixture
def made(registry: str) -> Iterator[list[str]]:
    """Refs a test pushed; deleted from the registry and local storage afterwards."""
    refs: list[str] = []
    yield refs
    for ref in refs:
        address, _, rest = ref.partition("/")
        repository, _, tag = rest.rpartition(":")
        if registry_lib.has_tag(address, repository, tag):
            registry_lib.delete(address, repository, image.remote_digest(ref))
        name = repository.rsplit("/", 1)[1]
        for local in (ref, image.local_ref(name, tag)):
            subprocess.run(["podman", "rmi", local], capture_output=True, check=False)
