"""No role_data task list may be an empty mapping (ansible rejects it, LP#1768019).

PASS::

    update_tasks: []

FAIL::

    update_tasks: {}
"""

from __future__ import annotations

from collections.abc import Iterator

from tripleo_ovn_metadata import hot
from tripleo_ovn_metadata.validate import Context, Doc, Problem

ID = "empty-task-list"
TYPE = "template"
LEVEL = "error"


def check(doc: Doc, ctx: Context) -> Iterator[Problem]:
    """Yield each ``*_tasks`` section that is ``{}``."""
    role_data = hot.role_data(doc.data)
    if role_data is None:
        return
    for section, value in role_data.items():
        if str(section).endswith("_tasks") and isinstance(value, dict) and not value:
            yield Problem(
                hot.key_line(role_data, section),
                f"{section} is an empty mapping; use [] or drop it",
            )
