"""The Ansible content: ansible-lint over ansible/ and --syntax-check of every playbook.

Each playbook a Zuul job names is syntax-checked with an inventory built from that job's
nodeset (tools/zuul-config-check.py --json), so a play whose hosts match no group of the
nodeset warns; every other playbook under ansible/playbooks gets groups controller and
compute on localhost.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
ANSIBLE_BIN = REPO / ".venv-ansible" / "bin"
ZUUL_PYTHON = REPO / ".venv-zuul" / "bin" / "python"
LOCAL_GROUPS = {"controller": ["localhost"], "compute": ["localhost"]}


def ansible_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PATH=f"{ANSIBLE_BIN}:{env.get('PATH', '')}",
        ANSIBLE_ROLES_PATH=str(REPO / "ansible" / "roles"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_LOCALHOST_WARNING="0",
        NO_COLOR="1",
    )
    return env


def syntax_check(playbooks: list[Path], groups: dict[str, list[str]], nodes: list[str],
                 tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """ansible-playbook --syntax-check of PLAYBOOKS with an inventory of these nodes/groups."""
    hosts = {n: {"ansible_connection": "local"} for n in nodes}
    inventory = {"all": {"hosts": hosts, "children": {
        g: {"hosts": {n: {"ansible_connection": "local"} for n in members}}
        for g, members in groups.items()}}}
    inv = tmp_path / f"inventory-{len(list(tmp_path.glob('inventory-*')))}.yaml"
    inv.write_text(yaml.safe_dump(inventory))
    return subprocess.run(
        [str(ANSIBLE_BIN / "ansible-playbook"), "--syntax-check", "-i", str(inv),
         *map(str, playbooks)],
        capture_output=True, text=True, env=ansible_env(), cwd=REPO, timeout=300, check=False,
    )


def zuul_jobs() -> dict[str, dict]:
    proc = subprocess.run(
        [str(ZUUL_PYTHON), str(REPO / "tools" / "zuul-config-check.py"), "--root", str(REPO),
         "--json"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.slow
def test_ansible_lint_production_profile() -> None:
    proc = subprocess.run(
        [str(ANSIBLE_BIN / "ansible-lint"), "--offline", "--profile", "production",
         "--nocolor", "ansible/"],
        capture_output=True, text=True, env=ansible_env(), cwd=REPO, timeout=600, check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]


def test_playbooks_named_by_zuul_jobs_pass_syntax_check_with_the_nodeset(
        tmp_path: Path) -> None:
    by_inventory: dict[str, tuple[dict, list[str], set[str]]] = {}
    for job in zuul_jobs().values():
        key = json.dumps([job["groups"], job["nodes"]], sort_keys=True)
        by_inventory.setdefault(key, (job["groups"], job["nodes"], set()))[2].update(
            job["playbooks"])
    assert by_inventory
    for groups, nodes, playbooks in by_inventory.values():
        proc = syntax_check([REPO / p for p in sorted(playbooks)], groups, nodes, tmp_path)
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0, output
        assert "Could not match supplied host pattern" not in output, (groups, output)


def all_playbooks() -> list[Path]:
    found = []
    for path in sorted((REPO / "ansible" / "playbooks").rglob("*.y*ml")):
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError:
            data = []  # let the syntax check say what is wrong
        if isinstance(data, list):  # vars files are mappings
            found.append(path)
    return found


def test_every_playbook_passes_syntax_check(tmp_path: Path) -> None:
    playbooks = all_playbooks()
    assert REPO / "ansible/playbooks/deploy.yaml" in playbooks
    proc = syntax_check(playbooks, LOCAL_GROUPS, ["localhost"], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_syntax_check_catches_a_broken_play(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("- name: Typo in a play keyword\n  hosts: compute\n  taskz: []\n")
    proc = syntax_check([broken], LOCAL_GROUPS, ["localhost"], tmp_path)
    assert proc.returncode != 0
    assert "taskz" in proc.stdout + proc.stderr


def test_syntax_check_warns_when_hosts_match_no_group(tmp_path: Path) -> None:
    playbook = tmp_path / "computes.yaml"
    playbook.write_text("- name: Wrong group\n  hosts: computes\n  tasks: []\n")
    proc = syntax_check([playbook], LOCAL_GROUPS, ["localhost"], tmp_path)
    assert "Could not match supplied host pattern" in proc.stdout + proc.stderr
