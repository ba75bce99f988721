"""yamlio: line numbers and one-line errors naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tripleo_ovn_metadata import yamlio
from tripleo_ovn_metadata.errors import InputError


def test_load_with_lines_records_key_and_item_lines(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("a: 1\nb:\n  - x\n  - y: 2\n")
    data = yamlio.load_with_lines(path)
    assert data.line_of("a") == 1
    assert data.line_of("b") == 2
    assert data["b"].line_of(1) == 4
    assert data["b"][1].line_of("y") == 4


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("a: 1\nb: [unclosed\nc: 3\n")
    with pytest.raises(InputError) as err:
        yamlio.load(path)
    message = str(err.value)
    assert message.startswith(f"{path}:")
    assert "YAML syntax error" in message
    assert "\n" not in message


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.yaml: no such file$"):
        yamlio.load(tmp_path / "nope.yaml")


def test_load_mapping_rejects_a_list(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- a\n")
    with pytest.raises(InputError, match="expected a mapping"):
        yamlio.load_mapping(path)
