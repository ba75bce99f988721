"""The one error line of rehearse and overcloud deploy: the failed task and what it said last."""

from __future__ import annotations

import json
from pathlib import Path

from tripleo_ovn_metadata import ansible_log


def _fatal(result: dict) -> str:
    return f"fatal: [undercloud-0]: FAILED! => {json.dumps(result)}\n"


def test_a_command_task_gives_its_last_stderr_line(tmp_path: Path) -> None:
    log = tmp_path / "job.log"
    log.write_text(
        "\n=== ansible/playbooks/zuul/multinode-pre.yaml\nTASK [Set up]\nok: [undercloud-0]\n"
        "\n=== ansible/playbooks/zuul/multinode-deploy.yaml\n"
        "TASK [Create the stack and run the deploy steps on the nodes] ****\n"
        + _fatal({"rc": 1, "stderr": "stack create ...\nstack create done (9 s)\n"
                  "tripleo-ovn-metadata overcloud deploy: error: deploy_steps_playbook.yaml "
                  "on the nodes failed (ansible-playbook exit 2): Pre-fetch: timeout\n",
                  "msg": "non-zero return code"}))
    assert ansible_log.last_failure(log) == (
        "Create the stack and run the deploy steps on the nodes: tripleo-ovn-metadata "
        "overcloud deploy: error: deploy_steps_playbook.yaml on the nodes failed "
        "(ansible-playbook exit 2): Pre-fetch: timeout")


def test_a_failed_task_without_stderr_gives_its_msg_and_only_the_last_playbook_counts(
    tmp_path: Path,
) -> None:
    log = tmp_path / "job.log"
    log.write_text("\n=== first.yaml\nTASK [Old]\n" + _fatal({"msg": "an earlier failure"})
                   + "\n=== verify.yaml\nTASK [Fail on a failed check] ***\n"
                   + _fatal({"msg": "verify failed: rows ...\nrow B done (1.0 s, FAIL)"}))
    assert ansible_log.last_failure(log) == "Fail on a failed check: row B done (1.0 s, FAIL)"
    log.write_text("\n=== first.yaml\nTASK [Old]\n" + _fatal({"msg": "an earlier failure"})
                   + "\n=== post.yaml\nTASK [Collect]\nok: [undercloud-0]\n")
    assert ansible_log.last_failure(log) == "no failed task in the log"


def test_an_ignored_failure_is_not_reported_and_a_playbook_error_is(tmp_path: Path) -> None:
    log = tmp_path / "ansible.log"
    log.write_text("\n=== deploy_steps_playbook.yaml\nTASK [Probe]\n"
                   + _fatal({"msg": "probe failed"}) + "...ignoring\n")
    assert ansible_log.last_failure(log) == "no failed task in the log"
    log.write_text("\n=== deploy_steps_playbook.yaml\nTASK [Probe]\n"
                   + _fatal({"msg": "probe failed"}) + "...ignoring\n"
                   + "ERROR! the role 'tripleo_missing' was not found\n")
    assert ansible_log.last_failure(log) == (
        "Probe: ERROR! the role 'tripleo_missing' was not found")
