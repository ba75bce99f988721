"""``verify --libraries``: real OVN servers, the agent image's libraries, and the two
upstream bugs brought back by patching the image with the releases that had them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tripleo_ovn_metadata import cli, libchecks, patch, paths
from tripleo_ovn_metadata.errors import InputError
from tripleo_ovn_metadata.procs import run

#: The last release with each bug that PyPI has (libchecks' docstring gives the ranges).
BUGGY = {"ovsdbapp": "0.12.1", "ovs": "2.9.2"}
PREFIX = "tom-test"
TXN_ROWS = tuple(f"ovsdbapp: concurrent transactions ({db})" for db in ("SB", "NB"))

needs_ovn = pytest.mark.skipif(
    not all(schema.is_file() for schema in libchecks.SCHEMAS.values()),
    reason="ovn-central's schemas are not installed",
)


def _insert(found: libchecks.Servers, *names: str) -> None:
    """One OVSDB transaction inserting an SB Address_Set row per name (ovsdb-client)."""
    ops = ["OVN_Southbound", *({"op": "insert", "table": "Address_Set",
                                "row": {"name": name}} for name in names)]
    run(["ovsdb-client", "transact", f"unix:{found.socket('sb')}", json.dumps(ops)])


def _report(*groups: list[str]) -> dict[str, object]:
    meant = [{"thread": index, "txn": 0, "names": names} for index, names in enumerate(groups)]
    return {"library": "test", "threads": len(groups), "txns": 1, "commands": 2,
            "seconds": 0.0, "meant": meant, "errors": []}


@needs_ovn
def test_commits_are_read_back_from_the_servers_log() -> None:
    with libchecks.servers() as found:
        root = found.root
        assert oct(root.stat().st_mode & 0o777) == "0o711"
        _insert(found, f"{PREFIX}-a0", f"{PREFIX}-a1")
        _insert(found, f"{PREFIX}-b0", f"{PREFIX}-b1")
        log = libchecks.read_log(found.db_file("sb"))
        whole = _report([f"{PREFIX}-a0", f"{PREFIX}-a1"], [f"{PREFIX}-b0", f"{PREFIX}-b1"])
        passed, detail = libchecks.judge_transactions(whole, log, PREFIX)
        assert passed, detail
        assert "2/2 transactions committed whole and alone" in detail

        _insert(found, f"{PREFIX}-c0", f"{PREFIX}-d0")  # two callers, one commit
        _insert(found, f"{PREFIX}-c1")
        _insert(found, f"{PREFIX}-d1")
        log = libchecks.read_log(found.db_file("sb"))
        mixed = _report([f"{PREFIX}-c0", f"{PREFIX}-c1"], [f"{PREFIX}-d0", f"{PREFIX}-d1"],
                        [f"{PREFIX}-e0", f"{PREFIX}-e1"])
        passed, detail = libchecks.judge_transactions(mixed, log, PREFIX)
        assert not passed
        assert "2/3 committed together with another thread's" in detail
        assert "2 split over several commits" in detail
        assert "2/6 rows lost" in detail
    assert not root.exists()


def test_a_log_that_is_not_ovsdb_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "sb.db"
    bad.write_text("OVSDB JSON 2 0\n{}\nnot a header\n")
    with pytest.raises(InputError, match=r"sb.db: not a standalone OVSDB log"):
        libchecks.read_log(bad)


@pytest.mark.parametrize(("big", "passed"), [(150.0, True), (151.0, False)])
def test_idl_ratio_goal(big: float, passed: bool) -> None:
    report = {"library": "ovs test", "rounds": 3, "per_update_us": {"100": 100.0, "2000": big}}
    verdict, detail = libchecks.judge_idl(report)
    assert verdict is passed
    assert f"ratio {big / 100:.2f} (goal ≤ 1.5" in detail


def test_image_needs_libraries(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["verify", "--image", "x"]) == 1
    err = capsys.readouterr().err
    assert err == "tripleo-ovn-metadata verify: error: --image only applies to --libraries\n"


def test_an_image_that_cannot_be_pulled_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    before = set(Path("/tmp").glob("tom-libcheck-*"))
    ref = "127.0.0.1:9/tripleo-ovn-metadata/nothing:here"
    assert cli.main(["--quiet", "verify", "--libraries", "--image", ref]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{ref}: cannot pull the image" in err, err
    assert set(Path("/tmp").glob("tom-libcheck-*")) == before


# -- in the image -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def buggy_wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Wheels of the buggy releases, built here from their PyPI sdists (cached).

    python-ovs 2.9.2 has no wheel for Python 3.11; its C JSON parser needs the
    openvswitch headers, so pip's build falls back to the pure-Python parser.
    """
    cache = paths.cache_dir() / "sdists"
    out = tmp_path_factory.mktemp("wheels")
    wheels = {}
    for name, version in BUGGY.items():
        sdist = cache / f"{name}-{version}.tar.gz"
        if not sdist.exists():
            run([str(paths.venv_bin("pip")), "download", "-q", "--no-deps",
                 "--no-binary", ":all:", "-d", str(cache), f"{name}=={version}"], timeout=600)
        run([str(paths.venv_bin("pip")), "wheel", "-q", "--no-deps", "-w", str(out),
             str(sdist)], timeout=600)
        wheels[name] = next(out.glob(f"{name}-{version}-*.whl"))
    return wheels


def _verify(ref: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, str]]:
    """Exit code and check name -> "RESULT detail" of ``verify --libraries --image ref``."""
    before = set(Path("/tmp").glob("tom-libcheck-*"))
    code = cli.main(["--quiet", "verify", "--libraries", "--image", ref])
    out = capsys.readouterr().out
    print(out)
    assert out.startswith(f"image: {ref}\n")
    rows = {check: next(line for line in out.splitlines() if check in line)
            for check in TXN_ROWS}
    rows["idl"] = next(line for line in out.splitlines() if "python-ovs: IDL modify cost" in line)
    # The servers are stopped and their directory is gone; no probe container is left.
    assert set(Path("/tmp").glob("tom-libcheck-*")) == before
    left = run(["podman", "ps", "-a", "--filter", "name=tom-libcheck-", "--format",
                "{{.Names}}"]).stdout.strip()
    assert not left
    return code, rows


@needs_ovn
@pytest.mark.slow
def test_current_image_passes(built_images: dict[str, str],
                              capsys: pytest.CaptureFixture[str]) -> None:
    code, rows = _verify(built_images["ContainerOvnMetadataImage"], capsys)
    assert code == 0, rows
    for row in rows.values():
        assert row.startswith("PASS"), row
    assert "128/128 transactions committed whole and alone" in rows[TXN_ROWS[0]]


@needs_ovn
@pytest.mark.slow
@pytest.mark.parametrize(("library", "fails", "why", "passes"), [
    # ovsdbapp 0.12.1 hands a second thread the first one's open transaction; the image's
    # python-ovs is fine.
    ("ovsdbapp", TXN_ROWS, "committed together with another thread's", ("idl",)),
    # python-ovs 2.9.2 turns the whole ports column into JSON on every modify; the image's
    # ovsdbapp 2.1.0 still commits right on top of it.
    ("ovs", ("idl",), "(goal ≤ 1.5", TXN_ROWS),
])
def test_a_release_with_the_bug_fails_its_check(
    library: str, fails: tuple[str, ...], why: str, passes: tuple[str, ...],
    built_images: dict[str, str], registry: str, buggy_wheels: dict[str, Path],
    made: list[str], capsys: pytest.CaptureFixture[str],
) -> None:
    result = patch.patch(patch.Inputs(wheels=[buggy_wheels[library]]),
                         base=built_images["ContainerOvnMetadataImage"], address=registry)
    made.append(result.pushed.ref)
    code, rows = _verify(result.pushed.ref, capsys)
    assert code == 1
    for check in fails:
        assert rows[check].startswith("FAIL"), rows[check]
        assert f"{library} {BUGGY[library]}:" in rows[check] and why in rows[check], rows[check]
    for check in passes:
        assert rows[check].startswith("PASS"), rows[check]
