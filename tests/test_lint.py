"""The linters the project promises to be clean under: yamllint and ruff.

Each runs with the project's own configuration (.yamllint, pyproject.toml) over the real
tree, and once over a small bad sample to show that configuration does flag problems.
puppet-lint lives with the Puppet module's tests (tests/test_puppet_module.py), ansible-lint
in tests/test_ansible_lint.py.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = REPO / ".venv" / "bin"
RUFF_PATHS = ("src", "tests", "benchmarks", "tools")


def run(cmd: list[str], cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=300,
                          check=False)


def test_yamllint_is_clean() -> None:
    proc = run([str(VENV_BIN / "yamllint"), "--format", "parsable", "."])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_yamllint_config_flags_problems(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("key: value   \nkey: again\n")
    proc = run([str(VENV_BIN / "yamllint"), "-c", str(REPO / ".yamllint"),
                "--format", "parsable", str(bad)])
    assert proc.returncode == 1
    assert "trailing-spaces" in proc.stdout and "key-duplicates" in proc.stdout


def test_ruff_is_clean() -> None:
    paths = [p for p in RUFF_PATHS if (REPO / p).exists()]
    proc = run([str(VENV_BIN / "ruff"), "check", "--no-cache", *paths])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_config_flags_problems(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n")
    proc = run([str(VENV_BIN / "ruff"), "check", "--no-cache", "--config",
                str(REPO / "pyproject.toml"), str(bad)])
    assert proc.returncode == 1
    assert "F401" in proc.stdout
