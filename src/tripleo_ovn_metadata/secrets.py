"""The metadata proxy shared secret: given by the user, or generated once and kept root-only.

The secret lives in ``<state>/secrets/metadata_proxy_shared_secret`` (directory 0700, file
0600). It is never printed or logged; callers pass it to ``procs.run(secrets=...)``.
"""

from __future__ import annotations

import os
import secrets as _random
from pathlib import Path

from tripleo_ovn_metadata import paths
from tripleo_ovn_metadata.errors import InputError

NAME = "metadata_proxy_shared_secret"


def secret_file(state: Path | None = None) -> Path:
    """Where the shared secret is kept."""
    return (state or paths.state_dir()) / "secrets" / NAME


def _write_private(path: Path, value: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.parent.chmod(0o700)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    tmp.replace(path)


def read_secret_file(path: Path) -> str:
    """A secret from a file the user gave: one non-empty line."""
    try:
        value = path.read_text().strip()
    except OSError as exc:
        raise InputError(path, f"cannot read the shared secret: {exc.strerror}") from None
    if not value or "\n" in value:
        raise InputError(path, "the shared secret file must hold one non-empty line")
    return value


def shared_secret(given: str | None = None, state: Path | None = None) -> str:
    """The shared secret to deploy with; generated on first use unless ``given``.

    A given secret replaces the kept one, so the fixture and later runs agree with it.
    """
    path = secret_file(state)
    if given is not None:
        if not given.strip():
            raise InputError(path, "the shared secret must not be empty")
        if not path.is_file() or path.read_text().strip() != given.strip():
            _write_private(path, given.strip())
        return given.strip()
    if path.is_file():
        return read_secret_file(path)
    value = _random.token_urlsafe(32)
    _write_private(path, value)
    return value
