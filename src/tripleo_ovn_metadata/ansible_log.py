"""Read ansible-playbook's default stdout callback output: the last failed task, one line.

Both the deploy steps on the rehearsal nodes (overcloud.run_playbook) and the zuul job's
playbooks (zuul_job) append each run to a log after a ``=== <what>`` line; a failure is
reported from the last run only.
"""

from __future__ import annotations

import json
from pathlib import Path

NONE = "no failed task in the log"


def _reason(line: str) -> str:
    """The last line a failed task printed: its stderr, else its msg, else the line."""
    _, sep, result = line.partition(" => ")
    try:
        parsed = json.loads(result) if sep else {}
    except ValueError:
        parsed = {}
    said = str(parsed.get("stderr") or parsed.get("msg") or "").strip() if isinstance(
        parsed, dict) else ""
    return said.splitlines()[-1] if said else line


def last_failure(log: Path, width: int = 400) -> str:
    """``task: reason`` for the last failure of the log's last run (ignored ones skipped)."""
    text = log.read_text(encoding="utf-8", errors="replace").rsplit("\n=== ", 1)[-1]
    task, failure = "", ""
    for line in text.splitlines():
        if line.startswith("TASK ["):
            task = line[len("TASK ["):].split("]")[0]
        elif line.startswith(("fatal:", "failed:")):
            failure = f"{task}: {_reason(line)}"
        elif line.startswith("...ignoring"):
            failure = ""
        elif line.startswith("ERROR!"):
            failure = f"{task}: {line}"
    return (failure or NONE)[:width]
