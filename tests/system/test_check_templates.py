"""`mailflow check` renders every template, so a misspelt variable shows before anything is due."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_helpers import run_cli


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for sub in ("cur", "new", "tmp"):
        (tmp_path / "Maildir" / sub).mkdir(parents=True)
    (tmp_path / "templates").mkdir()
    path = tmp_path / "config.toml"
    path.write_text(
        f'[owner]\nname = "Ana"\naddresses = ["ana@example.org"]\n'
        f'[mailbox]\nkind = "maildir"\npath = "{tmp_path / "Maildir"}"\n'
        f'[data]\nfolder = "{tmp_path / "data"}"\n'
        f'[templates]\nfolder = "{tmp_path / "templates"}"\n',
        encoding="utf-8",
    )
    return path


def test_default_templates_pass(config: Path) -> None:
    result = run_cli(["--config", str(config), "check"])
    assert result.exit_code == 0, result.output
    assert "every template renders" in result.output


def test_a_misspelt_variable_fails_check_with_one_sentence(config: Path) -> None:
    broken = config.parent / "templates" / "thank_you.txt"
    broken.write_text("Subject: Thanks\n\nHi {{ contact.frist_name }},\nthank you!\n", encoding="utf-8")
    result = run_cli(["--config", str(config), "check"])
    assert result.exit_code == 1
    assert "thank_you.txt" in result.output
    assert "contact.frist_name" in result.output
    assert "Traceback" not in result.output
