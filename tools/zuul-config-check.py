#!/usr/bin/env python3
"""Check zuul.d with Zuul's own parser, then check what only a running tenant would catch.

Run it with the Zuul venv: ``.venv-zuul/bin/python tools/zuul-config-check.py [--root DIR]``.

Stage 1 is Zuul itself (the pinned ``zuul`` package): its YAML loader (duplicate keys),
``UnparsedConfig.extend`` (unknown or malformed items) and ``TenantParser.parseConfig``, which
runs every stanza through the real ``*Parser.fromYaml`` and its voluptuous schemas (unknown
keys, wrong types, inline nodesets, groups naming unknown nodes).

Stage 2 is what Zuul checks only with a scheduler: parents, nodesets and project jobs exist,
the playbooks a job names exist, every ``hosts:`` pattern in them names a node or group of
the job's nodeset and every nodeset group is targeted, pipelines are only check and gate
(pipelines themselves belong to the tenant), ``files:`` regexes match a file, and repo paths
in job vars exist.

Each problem is one line ``FILE:LINE: what is wrong``; exit code 1 when there are any.
``--json`` prints each concrete job's resolved playbooks, nodes and groups (for the tests'
``ansible-playbook --syntax-check`` inventories).
"""

from __future__ import annotations

import argparse
import fnmatch
import glob
import json
import os
import re
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

try:
    import yaml
    from zuul import configloader, model
    from zuul.lib.re2util import ZuulRegex
except ImportError:  # pragma: no cover - depends on the venv
    sys.exit("zuul-config-check: error: zuul is not importable; run with .venv-zuul/bin/python "
             "(tools/setup.d/25-zuul-venv.sh creates it)")

# Jobs the tenant provides (zuul-jobs / the deployment's base job); everything else must be
# defined in this repository.
EXTERNAL_JOBS = frozenset({"base"})
PIPELINES = ("check", "gate")
PLAYBOOK_ATTRS = ("pre-run", "run", "post-run", "cleanup-run")
# Strings in job vars that start like this are repository paths (globs allowed).
REPO_PATH_RE = re.compile(r"^(tests|ansible|tools|zuul\.d|fixtures)/")
ITEM_ERRORS = {
    "ConfigItemUnknownError": "unknown item type",
    "ConfigItemMultipleKeysError": "more than one key",
    "ConfigItemNotDictError": "not a mapping",
}
SKIP_DIRS = {".git", ".cache", ".state", "__pycache__", ".ruff_cache", ".pytest_cache"}


@dataclass
class Problem:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass
class Stanza:
    kind: str
    body: dict[str, Any]
    path: str
    line: int
    rejected: bool = False  # Zuul's parser refused it: stage 2 skips it


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)

    def add(self, where: Stanza | tuple[str, int], message: str) -> None:
        path, line = (where.path, where.line) if isinstance(where, Stanza) else where
        self.problems.append(Problem(path, line, " ".join(message.split())))


class _PlaybookLoader(yaml.SafeLoader):
    """SafeLoader that accepts Ansible's custom tags (``!unsafe``, ``!vault``) as plain data."""


_PlaybookLoader.add_multi_constructor(
    "!", lambda loader, suffix, node: loader.construct_scalar(node)
    if isinstance(node, yaml.ScalarNode) else None)


# --- stage 1: Zuul's own loader and parsers -------------------------------------------------

def _item_lines(text: str) -> list[int]:
    """1-based line of each top-level list item (for items Zuul gives no mark)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return []
    if not isinstance(node, yaml.SequenceNode):
        return []
    return [child.start_mark.line + 1 for child in node.value]


def _load_file(path: Path, rel: str, report: Report) -> list[Stanza]:
    """Load one zuul.d file with Zuul's loader; return its stanzas, report what Zuul rejects."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        report.add((rel, 1), f"cannot read: {exc}")
        return []
    context = model.SourceContext("repo/tripleo-ovn-metadata", "tripleo-ovn-metadata",
                                  "repo", "master", rel)
    try:
        data = configloader.safe_load_yaml(text, context)
    except Exception as exc:  # zuul raises YAMLError and YAMLDuplicateKeyError
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        first = str(exc).strip().splitlines()
        report.add((rel, line), f"YAML: {first[0] if first else type(exc).__name__}")
        return []
    if data is None:
        return []
    if not isinstance(data, list):
        report.add((rel, 1), "a zuul.d file must be a list of items (- job: ..., - project: ...)")
        return []
    lines = _item_lines(text)
    stanzas = []
    for index, item in enumerate(data):
        line = lines[index] if index < len(lines) else 1
        try:
            model.UnparsedConfig().extend([item])
        except Exception as exc:
            what = ITEM_ERRORS.get(type(exc).__name__, type(exc).__name__)
            keys = ", ".join(map(str, item)) if isinstance(item, dict) else type(item).__name__
            report.add((rel, line), f"not a Zuul configuration item ({what}): {keys}")
            continue
        kind, body = next(iter(item.items()))
        stanzas.append(Stanza(str(kind), body, rel, line))
    return stanzas


def _zuul_parse(stanzas: list[Stanza], report: Report) -> None:
    """Run every stanza through Zuul's TenantParser.parseConfig and report its errors."""
    unparsed = model.UnparsedConfig()
    for stanza in stanzas:
        if stanza.kind == "pipeline":
            report.add(stanza, "pipeline definitions belong to the tenant's config project, "
                       "not to this untrusted project")
            continue
        unparsed.extend([{stanza.kind: stanza.body}])
    parse_context = configloader.ParseContext(mock.MagicMock(), mock.MagicMock(),
                                              mock.MagicMock(), mock.MagicMock())
    tenant_parser = configloader.TenantParser(*[mock.MagicMock()] * 8)
    parsed = tenant_parser.parseConfig(unparsed, parse_context)
    errors = list(parse_context.error_list)
    for attr in sorted(vars(parsed)):
        if attr.endswith("_errors"):
            errors.extend(getattr(parsed, attr))
    by_place = {(s.path, s.line): s for s in stanzas}
    for error in errors:
        mark = error.key.mark
        rel = error.key.context.path if error.key.context else "zuul.d"
        line = mark.line + 1 if mark else 1
        if (rel, line) in by_place:
            by_place[rel, line].rejected = True
        report.add((rel, line), f"zuul: {error.short_error}")


# --- stage 2: what a scheduler would check ---------------------------------------------------

def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _playbook_names(job: dict[str, Any], attr: str) -> list[str]:
    return [p if isinstance(p, str) else p.get("name", "") for p in _as_list(job.get(attr))]


def _repo_files(root: Path) -> list[str]:
    """Files under ROOT, relative; top-level symlinks followed, nested ones not."""
    found = []
    for top in sorted(root.iterdir()):
        if top.name in SKIP_DIRS or top.name.startswith(".venv"):
            continue
        if not top.is_dir():
            found.append(top.name)
            continue
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = [d for d in dirnames
                           if d not in SKIP_DIRS and not d.endswith(".egg-info")]
            rel = Path(top.name) / Path(dirpath).relative_to(top)
            found.extend(str(rel / name) for name in filenames)
    return sorted(found)


@dataclass
class NodeSet:
    nodes: list[str]
    groups: dict[str, list[str]]


def _nodeset(body: Any) -> NodeSet:
    """Node and group names of a nodeset body (empty if it is malformed: Zuul said why)."""
    try:
        nodes = [str(n) for node in _as_list(body.get("nodes"))
                 for n in _as_list(node.get("name"))]
        groups = {str(g["name"]): [str(n) for n in _as_list(g.get("nodes"))]
                  for g in _as_list(body.get("groups"))}
    except (AttributeError, KeyError, TypeError):
        return NodeSet([], {})
    return NodeSet(nodes, groups)


@dataclass
class Play:
    playbook: str
    hosts: str


def _plays(root: Path, rel: str, report: Report, seen: set[str]) -> list[Play]:
    """The plays of a playbook, following import_playbook; reports missing files."""
    path = root / rel
    if rel in seen:
        return []
    seen.add(rel)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_PlaybookLoader)
    except (OSError, UnicodeDecodeError) as exc:
        report.add((rel, 1), f"cannot read: {exc}")
        return []
    except yaml.YAMLError as exc:
        report.add((rel, getattr(getattr(exc, "problem_mark", None), "line", 0) + 1),
                   f"YAML: {str(exc).splitlines()[0]}")
        return []
    if not isinstance(data, list):
        report.add((rel, 1), "a playbook must be a list of plays")
        return []
    plays = []
    for play in data:
        if not isinstance(play, dict):
            report.add((rel, 1), "a play must be a mapping")
            continue
        target = play.get("ansible.builtin.import_playbook", play.get("import_playbook"))
        if target is not None:
            if "{{" in str(target) or ("/" not in str(target) and str(target).count(".") > 2):
                continue  # templated, or a collection playbook (ns.coll.name)
            imported = os.path.normpath(Path(rel).parent / str(target))
            if not (root / imported).is_file():
                report.add((rel, 1), f"imports playbook {target}, which does not exist")
                continue
            plays.extend(_plays(root, imported, report, seen))
        else:
            hosts = play.get("hosts", "")
            plays.append(Play(rel, ",".join(map(str, hosts)) if isinstance(hosts, list)
                              else str(hosts)))
    return plays


def _host_terms(pattern: str) -> list[str]:
    """The names in an Ansible host pattern (``a:b,!c,&d[0:2]`` → a, b, c, d)."""
    pattern = re.sub(r"\[[^\]]*\]", "", pattern)
    return [t.lstrip("!&").strip() for t in re.split(r"[:,]", pattern) if t.strip("!& ")]


@dataclass
class Resolved:
    stanza: Stanza
    abstract: bool
    nodeset: NodeSet
    playbooks: list[str]


def _resolve(name: str, jobs: dict[str, Stanza], nodesets: dict[str, NodeSet],
             report: Report) -> Resolved | None:
    """Walk a job's parents (in this repo) and collect its nodeset and playbooks in run order."""
    chain: list[Stanza] = []
    current: str | None = name
    while current is not None and current not in EXTERNAL_JOBS:
        if current not in jobs:
            return None  # reported by the parent check
        if jobs[current] in chain:
            report.add(jobs[name], f'job "{name}": parent chain loops at "{current}"')
            return None
        if jobs[current].rejected:
            return None  # Zuul already said what is wrong with it
        chain.append(jobs[current])
        current = jobs[current].body.get("parent", "base")
    nodeset = NodeSet([], {})
    run: list[str] = []
    for stanza in chain:  # nearest definition wins
        value = stanza.body.get("nodeset")
        if value is not None:
            nodeset = nodesets.get(value, NodeSet([], {})) if isinstance(value, str) \
                else _nodeset(value)
            break
    for stanza in chain:
        if stanza.body.get("run"):
            run = _playbook_names(stanza.body, "run")
            break
    pre = [p for s in reversed(chain) for p in _playbook_names(s.body, "pre-run")]
    post = [p for s in chain for p in _playbook_names(s.body, "post-run")
            + _playbook_names(s.body, "cleanup-run")]
    return Resolved(jobs[name], bool(jobs[name].body.get("abstract")), nodeset,
                    pre + run + post)


def _check_semantics(root: Path, stanzas: list[Stanza], report: Report) -> dict[str, Resolved]:
    jobs: dict[str, Stanza] = {}
    nodesets: dict[str, NodeSet] = {}
    projects = [s for s in stanzas if s.kind == "project"]
    for stanza in stanzas:
        name = str(stanza.body.get("name", ""))
        if stanza.kind == "job":
            if name in jobs:
                report.add(stanza, f'job "{name}" is defined twice (first at '
                           f"{jobs[name].path}:{jobs[name].line}); keep one definition")
            jobs.setdefault(name, stanza)
        elif stanza.kind == "nodeset":
            if name in nodesets:
                report.add(stanza, f'nodeset "{name}" is defined twice')
            nodesets.setdefault(name, _nodeset(stanza.body))

    files = _repo_files(root)
    for name, stanza in jobs.items():
        if stanza.rejected:
            continue
        body = stanza.body
        parent = body.get("parent", "base")
        if parent is not None and parent not in jobs and parent not in EXTERNAL_JOBS:
            report.add(stanza, f'job "{name}": parent "{parent}" is not defined')
        ns = body.get("nodeset")
        if isinstance(ns, str) and ns not in nodesets:
            report.add(stanza, f'job "{name}": nodeset "{ns}" is not defined')
        for attr in PLAYBOOK_ATTRS:
            for playbook in _playbook_names(body, attr):
                if not (root / playbook).is_file():
                    report.add(stanza, f'job "{name}": {attr} playbook {playbook} does not exist')
        for attr in ("files", "irrelevant-files"):
            for entry in _as_list(body.get(attr)):
                regex = entry["regex"] if isinstance(entry, dict) else str(entry)
                if not any(ZuulRegex(regex).match(f) for f in files):
                    report.add(stanza, f'job "{name}": {attr} regex {regex!r} matches no file '
                               "in the repository")
        for value in _var_strings(body.get("vars", {})):
            path = value.split("::")[0]  # pytest node ids: file::test
            if REPO_PATH_RE.match(path) and not glob.glob(str(root / path)):
                report.add(stanza, f'job "{name}": vars name {value}, which matches no file')

    resolved = {}
    for name in jobs:
        job = _resolve(name, jobs, nodesets, report)
        if job is None:
            continue
        resolved[name] = job
        if not job.abstract:
            _check_hosts(root, name, job, report)

    for project in projects:
        if not project.rejected:
            _check_project(project, jobs, report)
    if not projects:
        report.add(("zuul.d", 1), "no project stanza: no job would ever run")
    return {n: r for n, r in resolved.items() if not r.abstract}


def _var_strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _var_strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _var_strings(v)]
    return []


def _check_hosts(root: Path, name: str, job: Resolved, report: Report) -> None:
    """Every hosts: term names a node or group of the job's nodeset; every group is used."""
    known = {"all", "localhost", *job.nodeset.nodes, *job.nodeset.groups}
    targeted: set[str] = set()
    for playbook in job.playbooks:
        if not (root / playbook).is_file():
            continue
        for play in _plays(root, playbook, report, set()):
            if "{{" in play.hosts:
                continue
            if not play.hosts:
                report.add((play.playbook, 1), "a play has no hosts:")
            for term in _host_terms(play.hosts):
                matches = fnmatch.filter(sorted(known), term)
                targeted.update(matches)
                if not matches:
                    have = ", ".join(sorted(known - {"all", "localhost"})) or "no nodes"
                    report.add(job.stanza, f'job "{name}": {play.playbook} targets hosts '
                               f'"{term}", which is no node or group of its nodeset ({have})')
    for group in sorted(set(job.nodeset.groups) - targeted):
        report.add(job.stanza, f'job "{name}": nodeset group "{group}" is targeted by none of '
                   "the job's playbooks")


def _check_project(stanza: Stanza, jobs: dict[str, Stanza], report: Report) -> None:
    not_pipelines = {"name", "description", "templates", "merge-mode", "default-branch",
                     "vars", "queue", "branches", "_source_context", "_start_mark"}
    listed: dict[str, list[str]] = {}
    for key, value in stanza.body.items():
        if key in not_pipelines:
            continue
        if key not in PIPELINES:
            report.add(stanza, f'project: pipeline "{key}" is not used here; only '
                       f"{' and '.join(PIPELINES)}")
            continue
        names = []
        for entry in _as_list(value.get("jobs") if isinstance(value, dict) else None):
            names.append(entry if isinstance(entry, str) else next(iter(entry)))
        listed[str(key)] = names
        for job in names:
            if job not in jobs:
                report.add(stanza, f'project {key}: job "{job}" is not defined')
            elif jobs[job].body.get("abstract"):
                report.add(stanza, f'project {key}: job "{job}" is abstract')
    for job in sorted(set(listed.get("gate", [])) - set(listed.get("check", []))):
        report.add(stanza, f'project gate: job "{job}" is not in check')
    for pipeline in PIPELINES:
        if pipeline not in listed:
            report.add(stanza, f"project: no {pipeline} pipeline")


# --- entry point -----------------------------------------------------------------------------

def check(root: Path) -> tuple[list[Problem], dict[str, Resolved], int]:
    """All problems in ROOT/zuul.d, the concrete jobs, and the number of files read."""
    report = Report()
    config_dir = root / "zuul.d"
    paths = sorted(config_dir.glob("*.yaml")) if config_dir.is_dir() else []
    if not paths:
        report.add(("zuul.d", 1), "no zuul.d/*.yaml files")
        return report.problems, {}, 0
    stanzas = [s for p in paths for s in _load_file(p, str(p.relative_to(root)), report)]
    _zuul_parse(stanzas, report)
    resolved = _check_semantics(root, stanzas, report)
    report.problems.sort(key=lambda p: (p.path, p.line, p.message))
    return report.problems, resolved, len(paths)


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` ends quietly
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent,
                        help="repository root holding zuul.d/ (default: this checkout)")
    parser.add_argument("--json", action="store_true",
                        help="print the concrete jobs' playbooks, nodes and groups as JSON")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    problems, resolved, count = check(root)
    for problem in problems:
        print(problem, file=sys.stderr)
    if args.json:
        print(json.dumps({name: {"playbooks": job.playbooks, "nodes": job.nodeset.nodes,
                                 "groups": job.nodeset.groups}
                          for name, job in sorted(resolved.items())}, indent=1))
    if problems:
        print(f"zuul-config-check: {len(problems)} problem(s) in {root / 'zuul.d'}",
              file=sys.stderr)
        return 1
    if not args.json:
        from importlib.metadata import version
        print(f"zuul.d: {count} files, {len(resolved)} concrete jobs: OK "
              f"(zuul {version('zuul')} parser and schemas, playbooks, nodesets, pipelines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
