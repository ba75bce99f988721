"""The image patch role's molecule scenario, run for real (molecule test, default driver)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ROLE = REPO / "ansible/roles/tripleo_ovn_metadata_image_patch"
VENV = REPO / ".venv-ansible"
#: Where molecule keeps a scenario's files unless MOLECULE_EPHEMERAL_DIRECTORY says.
MOLECULE_CACHE = Path.home() / ".ansible" / "tmp"


def _images() -> set[str]:
    """The images the scenario makes and must remove (others may come and go meanwhile:
    ``podman images`` fails when one goes while it lists them, so it is asked again)."""
    for _ in range(5):
        proc = subprocess.run(["podman", "images", "--format", "{{.Repository}}:{{.Tag}}"],
                              capture_output=True, text=True, check=False)
        if proc.returncode == 0:
            return {ref for ref in proc.stdout.split() if "molecule" in ref}
        time.sleep(1)
    raise AssertionError(f"podman images failed 5 times: {proc.stderr.strip()}")


@pytest.mark.slow
def test_molecule_default_scenario_passes_and_cleans_up(tmp_path: Path) -> None:
    before = _images()
    kept = set(MOLECULE_CACHE.glob("molecule.*"))
    # The scenario's state, inventory and ansible.cfg, which molecule keeps after destroy:
    # in the test's directory, not in ~/.ansible/tmp.
    env = dict(os.environ, VIRTUAL_ENV=str(VENV), PATH=f"{VENV}/bin:{os.environ['PATH']}",
               ANSIBLE_NOCOLOR="1", NO_COLOR="1", PY_COLORS="0",
               MOLECULE_EPHEMERAL_DIRECTORY=str(tmp_path / "molecule"))
    env.pop("TRIPLEO_OVN_METADATA_STATE", None)
    proc = subprocess.run([str(VENV / "bin/molecule"), "test", "-s", "default"], cwd=ROLE,
                          env=env, capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert "idempotence" in proc.stdout + proc.stderr
    assert _images() == before
    busy = subprocess.run(["ss", "-ltn", "sport = :18787"], capture_output=True, text=True,
                          check=False).stdout
    assert ":18787" not in busy
    assert (tmp_path / "molecule" / "state.yml").is_file()
    assert set(MOLECULE_CACHE.glob("molecule.*")) == kept
