"""``render``'s cache with real Heat: identical plans cached or not, and never stale.

A private copy of the stock tree, our templates, env file and roles file; each test
changes one of them (keeping size and mtime where it can, so only the content differs),
renders the new plan through the engine, restores the file and gets the first plan back
from the cache.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tripleo_ovn_metadata import cli, paths, plan, render, render_cache

ROOT = paths.bundle_root()
STOCK_CONTROLLER = Path("deployment/ovn/ovn-controller-container-puppet.yaml")
AGENT_LINE = "    - OS::TripleO::Services::OVNMetadataAgent\n"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (paths.tht_dir() / "tools" / "process-templates.py").is_file(),
        reason="needs stock THT from tools/setup.sh",
    ),
]


@dataclass(frozen=True)
class World:
    """The copies a test may change, and the cache directory."""

    tht: Path
    bundle: Path
    cache: Path

    @property
    def env(self) -> Path:
        return self.bundle / paths.SERVICE_ENV

    @property
    def images(self) -> Path:
        return self.bundle / "images.yaml"

    @property
    def roles(self) -> Path:
        return self.bundle / paths.ROLES_DATA


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    top = tmp_path_factory.mktemp("render-cache")
    made = World(tht=top / "tht", bundle=top / "bundle", cache=top / "cache")
    shutil.copytree(paths.tht_dir(), made.tht)
    for name in ("deployment", "environments"):
        shutil.copytree(ROOT / name, made.bundle / name)
    shutil.copy(ROOT / paths.ROLES_DATA, made.roles)
    made.images.write_text("parameter_defaults:\n  ContainerOvnMetadataImage: r/agent:1\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRIPLEO_OVN_METADATA_CACHE", str(made.cache))
        patch.setenv("TRIPLEO_OVN_METADATA_THT", str(made.tht))
        yield made


class _Steps(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _render(world: World, **kwargs: object) -> tuple[list[dict], list[str]]:
    """The plans as dicts, and the progress lines of the render."""
    steps = _Steps()
    log = logging.getLogger("tripleo_ovn_metadata.progress")
    level = log.level
    log.addHandler(steps)
    log.setLevel(logging.INFO)
    try:
        plans = render.render_plan([world.env, world.images], roles_data=world.roles, **kwargs)
    finally:
        log.removeHandler(steps)
        log.setLevel(level)
    return [item.as_dict() for item in plans], steps.lines


def _from_cache(lines: list[str]) -> bool:
    return any("from the cache done" in line for line in lines)


def _stock_cached(lines: list[str]) -> bool:
    return any(line.startswith("process stock templates done") and "cached)" in line
               for line in lines)  # fmt: skip


def _containers(plans: list[dict], role: str) -> dict[str, dict]:
    (entry,) = [item for item in plans if item["role"] == role]
    return {row["name"]: row for row in entry["containers"]}


@contextlib.contextmanager
def _edited(path: Path, old: str, new: str) -> Iterator[None]:
    """``path`` with ``old`` replaced by ``new``, its mtime kept; restored after."""
    text = path.read_text(encoding="utf-8")
    assert old in text
    times = path.stat()
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    os.utime(path, ns=(times.st_atime_ns, times.st_mtime_ns))
    try:
        yield
    finally:
        path.write_text(text, encoding="utf-8")
        os.utime(path, ns=(times.st_atime_ns, times.st_mtime_ns))


@pytest.fixture(scope="module")
def baseline(world: World) -> list[dict]:
    plans, lines = _render(world)
    assert not _from_cache(lines) and not _stock_cached(lines)
    return plans


def _assert_back_to(world: World, baseline: list[dict]) -> None:
    plans, lines = _render(world)
    assert _from_cache(lines) and _stock_cached(lines)
    assert plans == baseline


def _cli(world: World, *extra: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    argv = ["-q", "render", "-e", str(world.env), "-e", str(world.images),
            "-r", str(world.roles), *extra]  # fmt: skip
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert cli.main(argv) == 0, err.getvalue()
    return out.getvalue()


def test_cached_output_equals_uncached(world: World, baseline: list[dict]) -> None:
    agent = _containers(baseline, "Compute")["ovn_metadata_agent"]
    assert agent["image"] == "r/agent:1" and agent["start_order"] == 2
    uncached = _cli(world, "--format", "json", "--no-cache")
    assert _cli(world, "--format", "json") == uncached
    assert json.loads(uncached)["roles"] == baseline
    uncached_plans = render._cached_plans(json.loads(uncached)["roles"])
    assert uncached_plans is not None
    assert _cli(world) == plan.table(uncached_plans)
    _assert_back_to(world, baseline)
    entries = sorted((world.cache / "render").iterdir())
    assert [path.name.split("-")[0] for path in entries] == ["plan", "stock"]
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in entries)
    plan_entry = json.loads(entries[0].read_text(encoding="utf-8"))
    assert plan_entry["value"] == baseline  # the plan only: no parameters, no passwords


def test_changed_env_file_is_not_served_stale(world: World, baseline: list[dict]) -> None:
    with _edited(world.images, "r/agent:1", "r/agent:2"):
        plans, lines = _render(world)
        assert not _from_cache(lines)
        assert _containers(plans, "Compute")["ovn_metadata_agent"]["image"] == "r/agent:2"
    _assert_back_to(world, baseline)


def test_changed_service_template_is_not_served_stale(
    world: World, baseline: list[dict]
) -> None:
    template = world.bundle / paths.SERVICE_TEMPLATE
    with _edited(template, "start_order: 2", "start_order: 3"):
        plans, lines = _render(world)
        assert not _from_cache(lines) and _stock_cached(lines)
        assert _containers(plans, "Compute")["ovn_metadata_agent"]["start_order"] == 3
    _assert_back_to(world, baseline)


def test_changed_stock_template_is_not_served_stale(world: World, baseline: list[dict]) -> None:
    with _edited(world.tht / STOCK_CONTROLLER, "- start_order: 1", "- start_order: 5"):
        plans, lines = _render(world)
        assert not _from_cache(lines) and not _stock_cached(lines)
        for role in ("Controller", "Compute"):
            assert _containers(plans, role)["ovn_controller"]["start_order"] == 5
    _assert_back_to(world, baseline)


def test_changed_roles_file_is_not_served_stale(world: World, baseline: list[dict]) -> None:
    with _edited(world.roles, AGENT_LINE, ""):
        plans, lines = _render(world)
        assert not _from_cache(lines) and not _stock_cached(lines)
        compute = next(item for item in plans if item["role"] == "Compute")
        assert compute["ovn_metadata_agent"] is False
        assert "ovn_controller" in _containers(plans, "Compute")
    _assert_back_to(world, baseline)


def test_corrupt_entries_are_rebuilt(world: World, baseline: list[dict]) -> None:
    entries = sorted((world.cache / "render").glob("*.json"))
    assert entries
    for index, path in enumerate(entries):
        text = path.read_text(encoding="utf-8")
        path.write_text(text[: len(text) // 2] if index % 2 else "garbage", encoding="utf-8")
    plans, lines = _render(world)
    assert not _from_cache(lines) and not _stock_cached(lines)
    assert plans == baseline
    _assert_back_to(world, baseline)


def _stock_entry(world: World) -> dict:
    entry = render_cache.load("stock", render._stock_key(world.roles))
    assert isinstance(entry, dict)
    return entry


def test_declared_parameters_are_found_once_a_p_asks(world: World, baseline: list[dict]) -> None:
    """A plain render does not read every template for its parameters; the first ``-p``
    does and keeps them in the stock entry, where a later ``-p`` finds them."""
    assert _stock_entry(world)["declared"] is None
    plans, lines = _render(world, parameters={"OVNIntegrationBridge": "br-test"})
    assert _stock_cached(lines) and not _from_cache(lines)
    assert plans == baseline
    declared = _stock_entry(world)["declared"]
    assert "OVNIntegrationBridge" in declared and "NeutronMetadataWorkers" in declared
    with pytest.raises(render.InputError, match="-p OVNIntegrationBrdge: unknown parameter"):
        _render(world, parameters={"OVNIntegrationBrdge": "br-int"})
    _assert_back_to(world, baseline)
