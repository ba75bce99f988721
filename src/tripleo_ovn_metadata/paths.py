"""Where the bundle, the stock templates, the venvs and the tool's state live."""

from __future__ import annotations

import os
from pathlib import Path

#: The service template; its presence marks a bundle root.
SERVICE_TEMPLATE = Path("deployment/ovn/ovn-metadata-container-puppet.yaml")
#: The environment file that enables the service.
SERVICE_ENV = Path("environments/services/neutron-ovn-metadata.yaml")
#: The roles file operators pass with ``-r``.
ROLES_DATA = Path("roles_data.yaml")
#: The ansible.cfg of the tool's own ansible-playbook runs (deploy, the zuul jobs).
ANSIBLE_CFG = Path("ansible/ansible.cfg")
#: The stock tripleo-heat-templates release the bundle is checked against.
THT_VERSION = "18.0.0"


def bundle_root() -> Path:
    """Return the bundle's top directory.

    ``TRIPLEO_OVN_METADATA_BUNDLE`` wins; otherwise the checkout this package runs from.
    """
    env = os.environ.get("TRIPLEO_OVN_METADATA_BUNDLE")
    if env:
        return Path(env).resolve()
    for candidate in (Path(__file__).resolve().parents[2], Path.cwd()):
        if (candidate / SERVICE_TEMPLATE).is_file():
            return candidate
    return Path.cwd()


def cache_dir() -> Path:
    """Downloads and build caches (the THT sdist, bootstrap venvs); safe to delete."""
    return Path(os.environ.get("TRIPLEO_OVN_METADATA_CACHE", bundle_root() / ".cache"))


def tht_dir() -> Path:
    """The unpacked stock tripleo-heat-templates sdist that tools/setup.sh downloads."""
    env = os.environ.get("TRIPLEO_OVN_METADATA_THT")
    if env:
        return Path(env)
    return cache_dir() / f"tripleo-heat-templates-{THT_VERSION}"


def state_dir() -> Path:
    """Root-only state of what the tool started (ids, pidfiles, secrets, registry data)."""
    return Path(os.environ.get("TRIPLEO_OVN_METADATA_STATE", "/var/lib/tripleo-ovn-metadata"))


def venv_bin(name: str, venv: str = ".venv") -> Path:
    """Path of an executable inside one of the project's venvs."""
    return bundle_root() / venv / "bin" / name
