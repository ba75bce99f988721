"""What ansible-playbook costs while it waits: ansible/ansible.cfg against ansible-core's
default poll interval.

The tool's ansible-playbook runs (the standalone deploy, the zuul jobs that ``rehearse``
runs) spend most of their time waiting on one task: the multinode job's deploy task runs
for about 6 minutes. This runs a one-task playbook (``sleep SECONDS`` on localhost) with
the venv's ansible-playbook, once with the tool's ansible.cfg and once with none, and
prints the CPU-seconds of each (ansible-playbook and its children) and their ratio.

Run: ``.venv/bin/python benchmarks/bench_ansible_poll.py [--seconds 30]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tripleo_ovn_metadata import paths

PLAY = """- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.command: sleep {seconds}
"""


def cpu_seconds(playbook: Path, config: Path | None) -> float:
    """CPU-seconds of one ansible-playbook run of ``playbook`` (in a child, so that
    ``RUSAGE_CHILDREN`` counts only this run)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    if config:
        env["ANSIBLE_CONFIG"] = str(config)
    exe = paths.venv_bin("ansible-playbook", ".venv-ansible")
    measure = (
        "import resource, subprocess, sys\n"
        "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL,"
        " stderr=subprocess.DEVNULL)\n"
        "usage = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(usage.ru_utime + usage.ru_stime)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", measure, str(exe), "-i", "localhost,", "-c", "local",
         "-e", "ansible_python_interpreter=/usr/bin/python3", str(playbook)],
        env=env, cwd=playbook.parent, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return float(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=30, help="how long the task runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        playbook = Path(tmp) / "wait.yaml"
        playbook.write_text(PLAY.format(seconds=args.seconds), encoding="utf-8")
        default = cpu_seconds(playbook, None)
        ours = cpu_seconds(playbook, paths.bundle_root() / paths.ANSIBLE_CFG)
    print(f"one {args.seconds} s task, ansible-playbook and its children:")
    print(f"  ansible-core's default poll (0.001 s): {default:.2f} CPU-s")
    print(f"  {paths.ANSIBLE_CFG}: {ours:.2f} CPU-s")
    print(f"  ratio: {ours / default:.2f} (per second waited: "
          f"{(default - ours) / args.seconds * 1000:.0f} CPU-ms saved)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
