"""tools/setup-lib.sh: the machine's venv templates, their checkout copies and pruning."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from tripleo_ovn_metadata import paths

LIB = paths.bundle_root() / "tools" / "setup-lib.sh"


def _bash(script: str, cwd: Path) -> None:
    subprocess.run(["bash", "-euo", "pipefail", "-c", f". {LIB}\n{script}"], cwd=cwd,
                   check=True, capture_output=True, text=True)  # fmt: skip


def _template(root: Path, name: str) -> Path:
    template = root / name
    (template / "bin").mkdir(parents=True)
    (template / "lib").mkdir()
    (template / "bin" / "tool").write_text(f"#!{template}/bin/python3\nprint('hi')\n")
    (template / "pyvenv.cfg").write_text(f"home = /usr/bin\ncommand = python3 -m venv {template}\n")
    (template / "lib" / "module.py").write_text("VALUE = 1\n")
    (template / ".template-complete").touch()
    return template


def test_copy_has_its_own_paths_and_leaves_the_template_as_it_was(tmp_path: Path) -> None:
    template = _template(tmp_path / "templates", "venv-0123456789abcdef")
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    _bash(f"venv_copy {template} .venv", checkout)
    copy = checkout / ".venv"
    assert (copy / "bin" / "tool").read_text().startswith(f"#!{copy}/bin/python3\n")
    assert f"venv {copy}\n" in (copy / "pyvenv.cfg").read_text()
    assert (template / "bin" / "tool").read_text().startswith(f"#!{template}/bin/python3\n")
    assert f"venv {template}\n" in (template / "pyvenv.cfg").read_text()
    # lib/ is shared, not copied; the marker of a complete template is not
    shared = [path / "lib" / "module.py" for path in (copy, template)]
    assert shared[0].stat().st_ino == shared[1].stat().st_ino
    assert not (copy / ".template-complete").exists()
    assert not (checkout / ".venv.partial").exists()


def test_prune_keeps_the_newest_of_one_name_and_no_other_name(tmp_path: Path) -> None:
    root = tmp_path / "templates"
    names = ["venv-" + "a" * 16, "venv-zuul-" + "c" * 16, "venv-ansible-" + "d" * 16,
             "venv-" + "b" * 16]  # fmt: skip
    for name in names:
        _template(root, name)
        time.sleep(0.02)  # the most recently used is the newest marker
    _bash(f"VENV_TEMPLATES={root}; VENV_TEMPLATES_KEEP=1; venv_prune venv", tmp_path)
    assert sorted(path.name for path in root.iterdir() if path.is_dir()) == sorted(names[1:])
