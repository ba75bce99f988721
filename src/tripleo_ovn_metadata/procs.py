"""Run external commands; a failure becomes one ToolError line, with secrets redacted."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence

from tripleo_ovn_metadata.errors import ToolError

REDACTED = "********"


def redact(text: str, secrets: Sequence[str]) -> str:
    """Replace every non-empty secret in ``text``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def run(
    cmd: Sequence[str],
    *,
    check: bool = True,
    env: Mapping[str, str] | None = None,
    input_text: str | None = None,
    timeout: float | None = None,
    secrets: Sequence[str] = (),
    cwd: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` capturing text output; raise ToolError naming it on failure."""
    try:
        proc = subprocess.run(
            list(cmd),
            capture_output=True,
            text=True,
            env=dict(env) if env is not None else None,
            input=input_text,
            timeout=timeout,
            cwd=cwd,
            check=False,
        )
    except FileNotFoundError:
        raise ToolError(f"{cmd[0]}: command not found (run tools/setup.sh)") from None
    except subprocess.TimeoutExpired:
        raise ToolError(f"{cmd[0]}: timed out after {timeout} s") from None
    if check and proc.returncode != 0:
        why = _last_line(proc.stderr) or _last_line(proc.stdout) or "no output"
        raise ToolError(
            redact(f"{' '.join(cmd[:2])} failed (exit {proc.returncode}): {why}", secrets)
        )
    return proc
