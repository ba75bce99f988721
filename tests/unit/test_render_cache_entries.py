"""render_cache: content keys, atomic owner-only entries, corrupt entries count as missing."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tripleo_ovn_metadata import render, render_cache, tht


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TRIPLEO_OVN_METADATA_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "render"


def test_store_then_load_is_atomic_and_owner_only(cache_dir: Path) -> None:
    render_cache.store("plan", "k1", [{"role": "Compute"}])
    assert render_cache.load("plan", "k1") == [{"role": "Compute"}]
    (entry,) = cache_dir.iterdir()  # no temporary file left beside it
    assert entry.name == "plan-k1.json"
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "text",
    ["", "{not json", '{"key": "k1", "val', '{"key": "other", "value": 1}', "[1, 2]", "\xff"],
)
def test_corrupt_entry_is_missing_then_rewritten(cache_dir: Path, text: str) -> None:
    cache_dir.mkdir(parents=True)
    (cache_dir / "plan-k1.json").write_text(text, encoding="latin-1")
    assert render_cache.load("plan", "k1") is None
    render_cache.store("plan", "k1", {"ok": True})
    assert render_cache.load("plan", "k1") == {"ok": True}


def test_unwritable_cache_only_costs_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv("TRIPLEO_OVN_METADATA_CACHE", str(blocker))
    render_cache.store("plan", "k1", {"ok": True})
    assert render_cache.load("plan", "k1") is None
    render_cache.store("plan", "k2", {"not json": {1, 2}})  # a set: not cached, no error


def test_prune_keeps_the_most_recent(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(render_cache.KEEP, "plan", 2)
    for index in range(4):
        render_cache.store("plan", f"k{index}", index)
        os.utime(cache_dir / f"plan-k{index}.json", ns=(index * 10**9, index * 10**9))
    render_cache.store("plan", "k4", 4)
    assert sorted(path.name for path in cache_dir.iterdir()) == ["plan-k3.json", "plan-k4.json"]


def test_tree_digest_follows_content_not_mtime(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "deployment" / "__pycache__").mkdir(parents=True)
    template = tree / "deployment" / "a.yaml"
    template.write_text("start_order: 1\n", encoding="utf-8")
    before = render_cache.tree_digest(tree)
    times = template.stat()
    template.write_text("start_order: 2\n", encoding="utf-8")  # same size, same mtime
    os.utime(template, ns=(times.st_atime_ns, times.st_mtime_ns))
    changed = render_cache.tree_digest(tree)
    assert changed != before
    (tree / "deployment" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0")
    assert render_cache.tree_digest(tree) == changed  # byte code is not a template
    (tree / "deployment" / "b.yaml").write_text("", encoding="utf-8")
    assert render_cache.tree_digest(tree) != changed  # a new file, even an empty one


def test_digest_separates_parts() -> None:
    assert render_cache.digest("ab", "c") != render_cache.digest("a", "bc")
    assert render_cache.digest({"a": 1, "b": 2}) == render_cache.digest({"b": 2, "a": 1})
    assert render_cache.digest(b"x") != render_cache.digest("x")


def test_cached_plans_reject_wrong_shapes() -> None:
    good = [
        {
            "role": "Compute",
            "services": ["S"],
            "ovn_metadata_agent": False,
            "containers": [
                {"step": 4, "start_order": 1, "name": "c", "image": "i", "depends_on": []}
            ],
        }
    ]
    plans = render._cached_plans(good)
    assert plans is not None and [p.as_dict() for p in plans] == good
    bad_row = json.loads(json.dumps(good))
    bad_row[0]["containers"][0]["step"] = "4"
    extra = json.loads(json.dumps(good))
    extra[0]["containers"][0]["extra"] = 1
    for value in (None, {}, [{"role": "Compute"}], [1], bad_row, extra):
        assert render._cached_plans(value) is None


ENV_A = """\
resource_registry:
  OS::TripleO::Services::A: a.yaml
  OS::TripleO::Services::B: OS::Heat::None
parameter_defaults:
  Nested: {one: 1, two: {x: 1}}
  Gone: {kept: true}
  Scalar: 1
"""
ENV_B = """\
resource_registry:
  OS::TripleO::Services::B: b.yaml
parameter_defaults:
  Nested: {two: {y: 2}}
  Gone:
  Scalar:
"""
ENV_C = """\
parameter_defaults:
  Nested: {one: 3}
  Scalar: 5
"""
TEMPLATE = "heat_template_version: wallaby\nparameters: {P: {type: string}}\n"


def test_merge_onto_equals_heatclients_merge_of_all_files(tmp_path: Path) -> None:
    files = {}
    for name, text in (("a.env.yaml", ENV_A), ("b.env.yaml", ENV_B), ("c.env.yaml", ENV_C)):
        files[name] = tmp_path / name
        files[name].write_text(text, encoding="utf-8")
    for name in ("a.yaml", "b.yaml"):
        (tmp_path / name).write_text(TEMPLATE, encoding="utf-8")
    envs = list(files.values())
    whole = tht.merged_environment(envs)
    base_files, base_env = tht.merged_environment(envs[:1])
    continued = tht.merge_onto(base_files, json.loads(json.dumps(base_env)), envs[1:])
    assert continued == whole
    assert whole[1]["parameter_defaults"]["Gone"] == {"kept": True}
