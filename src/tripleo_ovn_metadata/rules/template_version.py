"""heat_template_version must be one stock THT 18 accepts.

PASS::

    heat_template_version: wallaby

FAIL::

    heat_template_version: 2016-10-14
"""

from __future__ import annotations

from collections.abc import Iterator

from tripleo_ovn_metadata.validate import Context, Doc, Problem

ID = "template-version"
TYPE = "template"
LEVEL = "error"
#: Versions stock THT 18 (wallaby) allows; the last is the current one.
ALLOWED = ("wallaby",)


def check(doc: Doc, ctx: Context) -> Iterator[Problem]:
    """Yield a problem when the version is not in ``ALLOWED``."""
    version = str(doc.data.get("heat_template_version"))
    if version not in ALLOWED:
        yield Problem(
            doc.data.line_of("heat_template_version"),
            f"heat_template_version {version!r} is not allowed (use {', '.join(ALLOWED)})",
        )
