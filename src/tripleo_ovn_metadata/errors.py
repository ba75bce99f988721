"""The exceptions the library raises; ``str()`` of each is the one line a user sees."""

from __future__ import annotations

from pathlib import Path


class BundleError(Exception):
    """Base class: anything the CLI reports as one line and exit code 1."""


class InputError(BundleError):
    """A file the user gave (or the bundle ships) is missing, unreadable or malformed."""

    def __init__(self, path: str | Path, message: str, line: int | None = None) -> None:
        self.path = str(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {message}")


class ToolError(BundleError):
    """An external command (podman, puppet, ansible, ...) failed; names it and why."""


class CheckFailed(BundleError):
    """A check ran to completion and found problems (validate, verify)."""
