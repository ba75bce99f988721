"""The CLI core: subcommand registry, exit codes, one-line errors."""

from __future__ import annotations

import logging

import pytest

from tripleo_ovn_metadata import cli, progress
from tripleo_ovn_metadata.errors import InputError


def test_every_listed_command_has_the_module_contract() -> None:
    for name in cli.COMMANDS:
        module = cli._command_module(name)
        assert isinstance(module.HELP, str) and module.HELP
        assert callable(module.add_arguments) and callable(module.run)


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for name in cli.COMMANDS:
        assert name in out


def test_bundle_error_becomes_one_line_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    module = cli._command_module(cli.COMMANDS[0])

    def failing_run(args: object) -> int:
        raise InputError("some/file.yaml", "what is wrong", line=7)

    monkeypatch.setattr(module, "run", failing_run)
    assert cli.main([cli.COMMANDS[0]]) == 1
    err = capsys.readouterr().err
    expected = "error: some/file.yaml:7: what is wrong\n"
    assert err == f"tripleo-ovn-metadata {cli.COMMANDS[0]}: {expected}"


def test_quiet_hides_progress_even_when_a_child_logger_says_info(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    module = cli._command_module(cli.COMMANDS[0])

    def run_with_a_step(args: object) -> int:
        with progress.step("some long step"):
            pass
        return 0

    monkeypatch.setattr(module, "run", run_with_a_step)
    child = logging.getLogger("tripleo_ovn_metadata.progress")
    monkeypatch.setattr(child, "level", logging.INFO)
    assert cli.main(["--quiet", cli.COMMANDS[0]]) == 0
    assert capsys.readouterr().err == ""
    assert cli.main([cli.COMMANDS[0]]) == 0
    assert "some long step done" in capsys.readouterr().err
