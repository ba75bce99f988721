"""zuul.d against Zuul's own parser and schemas (tools/zuul-config-check.py in .venv-zuul).

The real zuul.d must pass; each broken variant (a copy of the repository with one change)
must fail with one line naming the file and what is wrong.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
CHECKER = REPO / "tools" / "zuul-config-check.py"
ZUUL_PYTHON = REPO / ".venv-zuul" / "bin" / "python"
PROBLEM_LINE = re.compile(r"^(zuul\.d|ansible)/\S+:\d+: \S")
MULTINODE_JOB = "tripleo-ovn-metadata-multinode-3ctlr-3comp"
MULTINODE_NODESET = "tripleo-ovn-metadata-3ctlr-3comp"


def run_check(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert ZUUL_PYTHON.is_file(), f"{ZUUL_PYTHON} missing: run tools/setup.sh (45-zuul-venv)"
    return subprocess.run(
        [str(ZUUL_PYTHON), str(CHECKER), "--root", str(root), *args],
        capture_output=True, text=True, timeout=120, check=False,
    )


def test_real_zuul_d_passes() -> None:
    proc = run_check(REPO)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert "OK (zuul 14.3.0 parser and schemas" in proc.stdout


def test_zuul_is_pinned_to_the_version_the_checker_knows() -> None:
    pins = (REPO / "zuul-requirements.txt").read_text()
    assert re.search(r"^zuul==14\.3\.0$", pins, re.MULTILINE)


def test_multinode_job_uses_three_controllers_and_three_computes() -> None:
    proc = run_check(REPO, "--json")
    assert proc.returncode == 0, proc.stderr
    jobs = json.loads(proc.stdout)
    job = jobs[MULTINODE_JOB]
    assert len(job["nodes"]) == 7
    assert {g: len(n) for g, n in job["groups"].items()} == {
        "undercloud": 1, "controller": 3, "compute": 3}
    assert set(job["groups"]["controller"]).isdisjoint(job["groups"]["compute"])
    # It deploys the way an operator does: `overcloud deploy` on the undercloud (real Heat,
    # config-download, tripleo-ansible's deploy_steps_playbook.yaml on the nodes).
    deploy = yaml.safe_load((REPO / "ansible/playbooks/zuul/multinode-deploy.yaml").read_text())
    assert deploy[0]["hosts"] == "undercloud"
    argv = deploy[0]["tasks"][0]["ansible.builtin.command"]["argv"]
    assert argv[1:3] == ["overcloud", "deploy"]
    verify = (REPO / "ansible/playbooks/zuul/multinode-verify.yaml").read_text()
    assert "--nodes" in verify and "--faults" in verify
    project = yaml.safe_load((REPO / "zuul.d/project.yaml").read_text())[0]["project"]
    assert any(MULTINODE_JOB in (j if isinstance(j, str) else next(iter(j)))
               for j in project["check"]["jobs"])


def test_ci_jobs_together_run_every_test_file() -> None:
    """Each tests/**/test_*.py is in some job's pytest slice, so CI skips no test; single
    tests named as file::test exist."""
    covered: set[Path] = set()
    for item in yaml.safe_load((REPO / "zuul.d/jobs.yaml").read_text()):
        job_vars = item.get("job", {}).get("vars", {})
        for arg in job_vars.get("tripleo_ovn_metadata_zuul_pytest_args", []):
            if "::" in arg:  # one test: it must exist (its file is covered elsewhere)
                file, test = arg.split("::", 1)
                assert f"def {test}(" in (REPO / file).read_text(), f"no test {arg}"
                continue
            for path in REPO.glob(arg):
                covered.update(path.rglob("test_*.py") if path.is_dir() else [path])
    missing = sorted(str(p.relative_to(REPO)) for p in REPO.glob("tests/**/test_*.py")
                     if p not in covered)
    assert not missing, f"in no zuul job's tripleo_ovn_metadata_zuul_pytest_args: {missing}"


# --- broken variants ---------------------------------------------------------------------

@pytest.fixture
def copy_repo(tmp_path: Path) -> Path:
    """The repository with zuul.d copied (to break) and everything else symlinked."""
    root = tmp_path / "repo"
    root.mkdir()
    for entry in REPO.iterdir():
        if entry.name in {".git", "zuul.d"} or entry.name.startswith((".venv", ".cache")):
            continue
        (root / entry.name).symlink_to(entry)
    shutil.copytree(REPO / "zuul.d", root / "zuul.d")
    return root


def edit_items(root: Path, name: str, change: Callable[[list], None]) -> None:
    path = root / "zuul.d" / name
    items = yaml.safe_load(path.read_text())
    change(items)
    path.write_text(yaml.safe_dump(items, sort_keys=False))


def stanza(items: list, kind: str, name: str | None = None) -> dict:
    for item in items:
        body = item.get(kind)
        if body is not None and (name is None or body.get("name") == name):
            return body
    raise AssertionError(f"no {kind} {name}")


def unknown_job_key(root: Path) -> None:
    edit_items(root, "jobs.yaml",
               lambda i: stanza(i, "job", "tripleo-ovn-metadata-linters").update(parnt="base"))


def missing_playbook(root: Path) -> None:
    edit_items(root, "jobs.yaml", lambda i: stanza(i, "job", "tripleo-ovn-metadata-tests")
               .update(run="ansible/playbooks/zuul/no-such-playbook.yaml"))


def wrong_group(root: Path) -> None:
    def change(items: list) -> None:
        groups = stanza(items, "nodeset", MULTINODE_NODESET)["groups"]
        next(g for g in groups if g["name"] == "compute")["name"] = "computes"
    edit_items(root, "nodesets.yaml", change)


def group_of_unknown_node(root: Path) -> None:
    def change(items: list) -> None:
        groups = stanza(items, "nodeset", MULTINODE_NODESET)["groups"]
        next(g for g in groups if g["name"] == "compute")["nodes"].append("compute-3")
    edit_items(root, "nodesets.yaml", change)


def wrong_type(root: Path) -> None:
    edit_items(root, "jobs.yaml",
               lambda i: stanza(i, "job", "tripleo-ovn-metadata-heat").update(timeout="1h"))


def undefined_parent(root: Path) -> None:
    edit_items(root, "jobs.yaml", lambda i: stanza(i, "job", "tripleo-ovn-metadata-heat")
               .update(parent="tripleo-ovn-metadata-nope"))


def undefined_nodeset(root: Path) -> None:
    edit_items(root, "jobs.yaml", lambda i: stanza(i, "job", MULTINODE_JOB)
               .update(nodeset="six-nodes"))


def other_pipeline(root: Path) -> None:
    edit_items(root, "project.yaml", lambda i: stanza(i, "project")
               .update(post={"jobs": ["tripleo-ovn-metadata-linters"]}))


def gate_only_job(root: Path) -> None:
    edit_items(root, "project.yaml",
               lambda i: stanza(i, "project")["check"]["jobs"].pop(0))


def unknown_item(root: Path) -> None:
    with open(root / "zuul.d" / "jobs.yaml", "a") as stream:
        stream.write("\n- jbo:\n    name: typo\n")


def duplicate_key(root: Path) -> None:
    path = root / "zuul.d" / "nodesets.yaml"
    path.write_text(path.read_text().replace(
        "    name: tripleo-ovn-metadata-standalone\n",
        "    name: tripleo-ovn-metadata-standalone\n    name: again\n"))


def files_match_nothing(root: Path) -> None:
    edit_items(root, "jobs.yaml", lambda i: stanza(i, "job", "tripleo-ovn-metadata-molecule")
               .update(files=["^no-such-dir/.*$"]))


BROKEN = {
    "unknown job key": (unknown_job_key, "extra keys not allowed @ data['parnt']"),
    "missing playbook": (
        missing_playbook,
        "run playbook ansible/playbooks/zuul/no-such-playbook.yaml does not exist"),
    "wrong group": (wrong_group, 'targets hosts "compute", which is no node or group'),
    "group of unknown node": (group_of_unknown_node, 'contains a node named "compute-3"'),
    "wrong type": (wrong_type, "expected int for dictionary value @ data['timeout']"),
    "undefined parent": (undefined_parent, 'parent "tripleo-ovn-metadata-nope" is not defined'),
    "undefined nodeset": (undefined_nodeset, 'nodeset "six-nodes" is not defined'),
    "other pipeline": (other_pipeline, 'pipeline "post" is not used here'),
    "gate job not in check": (gate_only_job, "is not in check"),
    "unknown item": (unknown_item, "not a Zuul configuration item (unknown item type): jbo"),
    "duplicate key": (duplicate_key, "YAML:"),
    "files regex matches nothing": (files_match_nothing, "matches no file in the repository"),
}


def test_the_unbroken_copy_passes(copy_repo: Path) -> None:
    proc = run_check(copy_repo)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_variant_fails_with_one_clear_line(case: str, copy_repo: Path) -> None:
    breaker, expected = BROKEN[case]
    breaker(copy_repo)
    proc = run_check(copy_repo)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[-1].startswith("zuul-config-check: ")
    matching = [line for line in lines if expected in line]
    assert matching, proc.stderr
    assert all(PROBLEM_LINE.match(line) for line in lines[:-1]), proc.stderr


def test_wrong_group_also_reports_the_untargeted_group(copy_repo: Path) -> None:
    wrong_group(copy_repo)
    err = run_check(copy_repo).stderr
    assert f'job "{MULTINODE_JOB}": nodeset group "computes" is targeted by none' in err


def test_playbook_with_a_wrong_group_fails(copy_repo: Path) -> None:
    """The multinode playbooks' hosts: are checked against the job's nodeset."""
    (copy_repo / "ansible").unlink()
    shutil.copytree(REPO / "ansible", copy_repo / "ansible", symlinks=True)
    verify = copy_repo / "ansible/playbooks/zuul/multinode-verify.yaml"
    text = verify.read_text()
    assert "hosts: undercloud\n" in text
    verify.write_text(text.replace("hosts: undercloud\n", "hosts: underclouds\n"))
    proc = run_check(copy_repo)
    assert proc.returncode == 1
    assert (f'job "{MULTINODE_JOB}": ansible/playbooks/zuul/multinode-verify.yaml targets '
            'hosts "underclouds", which is no node or group of its nodeset') in proc.stderr


def test_without_zuul_d_it_says_so(tmp_path: Path) -> None:
    proc = run_check(tmp_path)
    assert proc.returncode == 1
    assert "zuul.d:1: no zuul.d/*.yaml files" in proc.stderr
