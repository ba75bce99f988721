"""The project's layout promises: the bundle never leans on the test fixture, CI runs the
README's test command, and every shipped YAML file is valid YAML."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BUNDLE_PARTS = ("deployment", "environments", "roles", "roles_data.yaml", "puppet", "kolla")


def _bundle_files() -> list[Path]:
    files: list[Path] = []
    for part in BUNDLE_PARTS:
        path = ROOT / part
        if path.is_file():
            files.append(path)
        else:
            files.extend(p for p in path.rglob("*") if p.is_file() and "fixtures" not in p.parts)
    return files


def test_bundle_files_never_refer_to_the_cloud_fixture() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in _bundle_files()
        if "fixtures/cloud" in path.read_text(encoding="utf-8", errors="replace")
    ]
    assert offenders == []


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"^(tools/run-\S+\.sh)", readme, flags=re.MULTILINE)
    assert commands == ["tools/run-main.sh", "tools/run-tests.sh"]
    ci = (ROOT / ".ci/run").read_text(encoding="utf-8")
    assert "tools/run-tests.sh" in ci


@pytest.mark.parametrize("part", ["deployment", "environments", "roles", "zuul.d"])
def test_shipped_yaml_parses(part: str) -> None:
    files = sorted((ROOT / part).rglob("*.yaml"))
    assert files, f"no YAML under {part}/"
    for path in files:
        yaml.safe_load(path.read_text(encoding="utf-8"))
