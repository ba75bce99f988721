"""Our Puppet module: rspec-puppet suite, puppet-lint, parser validate and metadata.json.

Each runs the real tool from Debian's packages (tools/setup.d/10, bindep profile puppet).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tripleo_ovn_metadata import artifact, config, paths

MODULE = paths.bundle_root() / artifact.MODULE
MANIFESTS = sorted((MODULE / "manifests").rglob("*.pp"))


def _run(cmd: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)


@pytest.mark.slow
def test_rspec_puppet_suite_passes() -> None:
    proc = _run(["rspec"], cwd=MODULE)
    summary = re.search(r"(\d+) examples?, (\d+) failures?", proc.stdout)
    assert summary, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert summary.group(2) == "0"
    # Both platforms of metadata.json, every context: a vanished loop would shrink this.
    assert int(summary.group(1)) >= 100
    assert "debian-12-x86_64" in _run(["rspec", "--dry-run", "-f", "d"], cwd=MODULE).stdout


def test_manifests_are_puppet_lint_clean() -> None:
    proc = _run(["puppet-lint", "--fail-on-warnings", *map(str, MANIFESTS)])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_puppet_lint_fails_on_a_bad_manifest(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pp"
    bad.write_text('class bad { $x = "plain" }\n')
    assert _run(["puppet-lint", "--fail-on-warnings", str(bad)]).returncode != 0


def test_manifests_pass_parser_validate() -> None:
    proc = _run(["puppet", "parser", "validate", *map(str, MANIFESTS)])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_parser_validate_rejects_a_syntax_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pp"
    bad.write_text("class bad {\n")
    assert _run(["puppet", "parser", "validate", str(bad)]).returncode != 0


def test_one_class_per_file_named_for_its_path() -> None:
    assert MANIFESTS, "no manifests"
    for manifest in MANIFESTS:
        classes = re.findall(r"^class\s+([\w:]+)", manifest.read_text(), re.MULTILINE)
        relative = manifest.relative_to(MODULE / "manifests").with_suffix("")
        assert classes == ["tripleo_ovn_metadata::" + "::".join(relative.parts)], manifest


def test_module_shadows_nothing_of_puppet_tripleo() -> None:
    assert MODULE.name != "tripleo"
    for manifest in MANIFESTS:
        assert not re.search(r"^\s*class\s+tripleo::", manifest.read_text(), re.MULTILINE)


def test_every_class_parameter_is_documented() -> None:
    for manifest in MANIFESTS:
        text = manifest.read_text()
        signature = text[text.index("class ") : text.index(") {")]
        params = re.findall(r"\$(\w+)\s*=", signature)
        assert params, manifest
        for param in params:
            assert f"# [*{param}*]" in text, f"{manifest.name}: {param} undocumented"


def test_metadata_json_names_dependencies_and_platforms() -> None:
    metadata = json.loads((MODULE / "metadata.json").read_text())
    deps = {dep["name"].split("/")[1] for dep in metadata["dependencies"]}
    assert deps == set(config.CURATED_MODULES)
    platforms = {
        (entry["operatingsystem"], release)
        for entry in metadata["operatingsystem_support"]
        for release in entry["operatingsystemrelease"]
    }
    assert platforms == {("Debian", "12"), ("RedHat", "9")}
    neutron = json.loads(Path("/usr/share/puppet/modules/neutron/metadata.json").read_text())
    wanted = next(d for d in metadata["dependencies"] if d["name"] == "openstack/neutron")
    assert neutron["version"].startswith("21."), wanted
