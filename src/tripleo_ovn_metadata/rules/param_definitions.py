"""A parameter stock THT also declares is declared exactly as stock does.

One ``parameter_defaults`` entry feeds every template declaring the name, so a
different type, default or constraint here silently changes stock's behaviour (or
Heat rejects the value in one of them). Compared against every stock definition of the
name in the tree given by ``--tht``; matching any one passes. Without that tree the rule
warns once and checks nothing.

PASS::

    OVNSouthboundServerPort:
      description: Port of the OVN Southbound DB server
      type: number
      default: 6642

FAIL::

    OVNSouthboundServerPort:
      type: string
      default: '6642'
"""

from __future__ import annotations

from collections.abc import Iterator

from tripleo_ovn_metadata import hot
from tripleo_ovn_metadata.validate import WARNING, Context, Doc, Problem

ID = "param-definitions"
TYPE = "template"
LEVEL = "error"


def _differing(ours: dict, stock: dict) -> list[str]:
    return sorted(k for k in set(ours) | set(stock) if ours.get(k) != stock.get(k))


def check(doc: Doc, ctx: Context) -> Iterator[Problem]:
    """Yield each parameter whose definition matches no stock definition of that name."""
    if ctx.tht is None:
        if ctx.once(ID):
            yield Problem(0, "stock tripleo-heat-templates not found; parameter definitions "
                          "not compared (run tools/setup.sh or pass --tht)",
                          level=WARNING, path=str(ctx.tht_path))
        return
    params = doc.data.get("parameters")
    if not isinstance(params, dict):
        return
    index = ctx.stock_params
    for name, definition in params.items():
        stock = index.get(str(name))
        if not stock or not isinstance(definition, dict):
            continue
        ours = hot.plain(definition)
        if any(ours == theirs for _, theirs in stock):
            continue
        where, closest = min(stock, key=lambda s: len(_differing(ours, s[1])))
        fields = ", ".join(_differing(ours, closest))
        yield Problem(params.line_of(name),
                      f"parameter {name} differs from stock {where} in: {fields}")
