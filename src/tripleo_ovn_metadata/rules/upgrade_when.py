"""upgrade_tasks: in a list ``when``, the ``step|int == N`` condition comes first.

A string ``when`` joining conditions with `` and `` only warns (a list reads better).

PASS::

    upgrade_tasks:
      - name: stop it
        when: [step|int == 2, enabled|bool]

FAIL::

    upgrade_tasks:
      - name: stop it
        when: [enabled|bool, step|int == 2]
"""

from __future__ import annotations

from collections.abc import Iterator

from tripleo_ovn_metadata import hot
from tripleo_ovn_metadata.validate import WARNING, Context, Doc, Problem

ID = "upgrade-when"
TYPE = "template"
LEVEL = "error"


def check(doc: Doc, ctx: Context) -> Iterator[Problem]:
    """Yield badly ordered step conditions in upgrade_tasks."""
    role_data = hot.role_data(doc.data)
    if role_data is None or "upgrade_tasks" not in role_data:
        return
    for task, line in hot.list_items(role_data["upgrade_tasks"]):
        if not isinstance(task, dict):
            continue
        when = task.get("when")
        when_line = hot.key_line(task, "when", line)
        name = task.get("name", "unnamed task")
        if isinstance(when, list) and when:
            steps = any("step|int" in str(c) for c in when)
            if steps and not str(when[0]).strip().startswith("step|int =="):
                yield Problem(when_line, f"upgrade task {name!r}: put 'step|int == N' first "
                              "in its when list")
        elif isinstance(when, str) and " and " in when and " or " not in when:
            yield Problem(when_line, f"upgrade task {name!r}: write 'and' conditions as a "
                          "when list", level=WARNING)
