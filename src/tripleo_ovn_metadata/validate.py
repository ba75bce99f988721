"""Static validation of the bundle: runs every rule in ``rules.RULES`` over the YAML files.

Each file is loaded once (with line numbers) and classified: a HOT ``template``, an ``env``
file, a ``roles`` file, or ``other``. Rules of the matching ``TYPE`` see it one at a time;
``bundle`` rules run once with everything (roles resolved through the env files and stock
THT's registry). The core stamps each problem with file, rule id and level. No Heat
import: this must stay a quick static check (``render`` runs the real engine).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from tripleo_ovn_metadata import paths, resolve, yamlio
from tripleo_ovn_metadata.errors import InputError
from tripleo_ovn_metadata.progress import step

#: Top-level keys that make a mapping an environment file.
ENV_KEYS = frozenset(
    {"resource_registry", "parameter_defaults", "parameters", "parameter_merge_strategies",
     "event_sinks", "encrypted_param_names"}
)  # fmt: skip
#: What ``validate`` checks when given no path (relative to the bundle root).
BUNDLE_PATHS = ("deployment", "environments", "roles", "roles_data.yaml")
#: Directories never walked.
SKIP_DIRS = frozenset({".git", ".tox", ".venv", ".venv-ansible", ".cache", "__pycache__"})

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """What a rule yields: a line and a message; ``path``/``level`` override the defaults."""

    line: int
    message: str
    level: str | None = None
    path: str | None = None


@dataclass(frozen=True, order=True)
class Finding:
    """A stamped problem: ``file:line: LEVEL rule-id: message``."""

    path: str
    line: int
    rule: str
    level: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.level.upper()} {self.rule}: {self.message}"


@dataclass
class Doc:
    """One loaded YAML file."""

    path: Path
    name: str
    data: Any
    kind: str

    @cached_property
    def text(self) -> str:
        """The raw file text (for the rare rule that needs it)."""
        return self.path.read_text(encoding="utf-8")


@dataclass
class Report:
    """The outcome of one validate run."""

    findings: list[Finding]
    files: int

    @property
    def errors(self) -> int:
        """Number of error findings."""
        return sum(1 for f in self.findings if f.level == ERROR)

    @property
    def warnings(self) -> int:
        """Number of warning findings."""
        return sum(1 for f in self.findings if f.level == WARNING)

    def summary(self) -> str:
        """One line: files, errors, warnings."""
        return f"{self.files} files checked: {self.errors} errors, {self.warnings} warnings"


def classify(data: Any) -> str:
    """``template``, ``env``, ``roles`` or ``other`` for loaded YAML data."""
    if isinstance(data, dict):
        if "heat_template_version" in data:
            return "template"
        if data and ENV_KEYS.issuperset(data):
            return "env"
    elif resolve.is_roles_data(data):
        return "roles"
    return "other"


def display(path: Path) -> str:
    """``path`` relative to the working directory when below it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def discover(targets: Iterable[Path], skip_dirs: Sequence[str] = ()) -> list[Path]:
    """YAML files under ``targets`` (files as given; directories walked for ``*.yaml``,
    skipping ``*.j2.yaml``, hidden and ``skip_dirs`` directories), sorted per target."""
    found: list[Path] = []
    skip = SKIP_DIRS.union(skip_dirs)
    for target in targets:
        if target.is_dir():
            walked: list[Path] = []
            for root, dirs, files in os.walk(target):
                rel = Path(root).relative_to(target)
                dirs[:] = [
                    d for d in dirs
                    if d not in skip and str(rel / d) not in skip and not d.startswith(".")
                ]  # fmt: skip
                walked.extend(
                    Path(root) / f for f in files
                    if f.endswith(".yaml") and not f.endswith(".j2.yaml")
                )  # fmt: skip
            found.extend(sorted(walked))
        elif target.exists():
            found.append(target)
        else:
            raise InputError(target, "no such file or directory")
    return found


class Context:
    """Everything rules share: the loaded docs, env files, roles, the stock tree and the
    Puppet modules the operator says the overcloud image has."""

    def __init__(
        self,
        docs: list[Doc],
        env_files: list[Doc],
        roles_docs: list[Doc],
        tht: Path,
        image_modules: Sequence[str] = (),
    ) -> None:
        self.docs = docs
        self.image_modules = frozenset(image_modules)
        self.env_files = env_files
        self.roles_docs = roles_docs
        self.tht_path = tht
        self.tht: Path | None = tht if (tht / resolve.STOCK_REGISTRY).is_file() else None
        self._loaded: dict[Path, Doc | None] = {d.path.resolve(): d for d in docs}
        self.reported: set[str] = set()

    def once(self, key: str) -> bool:
        """True the first time ``key`` is seen (for problems reported once per run)."""
        if key in self.reported:
            return False
        self.reported.add(key)
        return True

    def load(self, path: Path) -> Doc | None:
        """A template by absolute path (cached); None when it does not exist."""
        path = path.resolve()
        if path not in self._loaded:
            if path.is_file():
                data = yamlio.load_with_lines(path, fast=True)
                self._loaded[path] = Doc(path, display(path), data, classify(data))
            else:
                self._loaded[path] = None
        return self._loaded[path]

    @cached_property
    def registry(self) -> dict[str, resolve.Mapping]:
        """Alias → target over stock's registry and the env files."""
        envs = [(d.path.resolve(), d.data) for d in self.env_files if isinstance(d.data, dict)]
        return resolve.registry_map(envs, self.tht)

    @cached_property
    def roles(self) -> list[resolve.Role]:
        """Roles of every roles file (first definition of a name wins), resolved."""
        result: list[resolve.Role] = []
        names: set[str] = set()
        for doc in self.roles_docs:
            for role in resolve.roles_of(doc.name, doc.data, self.registry):
                if role.name not in names:
                    names.add(role.name)
                    result.append(role)
        return result

    @cached_property
    def stock_params(self) -> dict[str, list[tuple[str, dict]]]:
        """Every parameter definition in the stock tree: name → [(file, definition)]."""
        from tripleo_ovn_metadata.stockparams import index

        return index(self.tht) if self.tht is not None else {}


def _load_docs(files: list[Path]) -> list[Doc]:
    docs = []
    for path in files:
        data = yamlio.load_with_lines(path, fast=True)
        docs.append(Doc(path, display(path), data, classify(data)))
    return docs


def _add_missing(docs: list[Doc], extra: list[Doc]) -> None:
    """Check -e/-r files too, once, even when they are outside the paths given."""
    known = {d.path.resolve() for d in docs}
    docs.extend(d for d in extra if d.path.resolve() not in known)


def _stamp(rule: Any, doc: Doc | None, problems: Iterable[Problem]) -> Iterator[Finding]:
    for problem in problems:
        path = problem.path or (doc.name if doc else "")
        level = problem.level or getattr(rule, "LEVEL", ERROR)
        yield Finding(path, problem.line, rule.ID, level, problem.message)


def _run_rule(rule: Any, doc: Doc | None, ctx: Context) -> list[Finding]:
    args = (ctx,) if doc is None else (doc, ctx)
    try:
        return list(_stamp(rule, doc, rule.check(*args)))
    except InputError:
        raise
    except Exception as exc:
        where = doc.name if doc else "."
        return [Finding(where, 0, rule.ID, ERROR, f"rule crashed: {type(exc).__name__}: {exc}")]


def validate(
    targets: Sequence[str | Path] = (),
    *,
    env_files: Sequence[str | Path] | None = None,
    roles_file: str | Path | None = None,
    tht: str | Path | None = None,
    skip_dirs: Sequence[str] = (),
    image_modules: Sequence[str] = (),
) -> Report:
    """Validate ``targets`` (default: the bundle) and return every finding, sorted.

    ``env_files`` and ``roles_file`` feed the cross-file rules. When ``targets`` is empty
    they default to the bundle's env files and ``roles_data.yaml``; otherwise to none and
    to the roles files among ``targets``. ``image_modules`` are Puppet modules the
    overcloud image has beyond stock's (e.g. after ``overcloud-image patch --puppet``).
    """
    from tripleo_ovn_metadata.rules import RULES

    root = paths.bundle_root()
    default = not targets
    chosen = [root / p for p in BUNDLE_PATHS] if default else [Path(t) for t in targets]
    # Loading first, outside the progress step: bad input is then exactly one line.
    docs = _load_docs(discover(chosen, skip_dirs))
    if env_files is not None:
        envs = _load_docs([Path(p) for p in env_files])
    else:
        envs = [d for d in docs if d.kind == "env"] if default else []
    for env in envs:
        if env.kind != "env":
            raise InputError(env.path, "not an environment file (no resource_registry "
                             "or parameter_defaults at the top level)")
    _add_missing(docs, envs)
    if roles_file is not None:
        roles_docs = _load_docs([Path(roles_file)])
        if roles_docs[0].kind != "roles":
            raise InputError(roles_file, "not a roles file (a list of roles with name "
                             "and ServicesDefault)")
    elif default:
        roles_docs = [d for d in docs if d.path == root / paths.ROLES_DATA]
    else:
        roles_docs = [d for d in docs if d.kind == "roles"]
    _add_missing(docs, roles_docs)
    ctx = Context(docs, envs, roles_docs, Path(tht) if tht else paths.tht_dir(), image_modules)
    findings: set[Finding] = set()
    with step(f"validate {len(docs)} files") as current:
        for rule in RULES:
            if rule.TYPE == "bundle":
                findings.update(_run_rule(rule, None, ctx))
                continue
            for doc in docs:
                if doc.kind == rule.TYPE:
                    findings.update(_run_rule(rule, doc, ctx))
        current.detail = f"{len(findings)} findings"
    return Report(sorted(findings), len(docs))
