"""`mailflow inspect FILE|-`: JSON out, unreadable input is still JSON, a missing file exits 2."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.cli_helpers import run_cli
from tests.unit.understand_support import MAIL


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in list(os.environ):
        if key.startswith("MAILFLOW_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


def _json(output: str) -> dict[str, object]:
    data = json.loads(output)
    assert isinstance(data, dict)
    return data


def test_inspect_a_file_without_config() -> None:
    result = run_cli(["inspect", str(MAIL / "google_invite.eml")])
    assert result.exit_code == 0, result.output
    data = _json(result.output)
    assert data["kind"] == "invite"
    assert data["start"] == "2025-03-11T14:00:00+00:00"
    assert data["from_owner"] is False


def test_inspect_uses_the_owner_from_the_config(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[owner]\naddresses = ["ana@owner.example"]\ntimezone = "Europe/Berlin"\n'
        '[trust]\nauthserv_id = "mx.owner.example"\n',
        encoding="utf-8",
    )
    result = run_cli(["--config", str(config), "inspect", str(MAIL / "reply_owner_forged.eml")])
    assert result.exit_code == 0, result.output
    assert _json(result.output)["from_owner"] is False
    genuine = run_cli(["--config", str(config), "inspect", str(MAIL / "thunderbird_owner_invite.eml")])
    data = _json(genuine.output)
    assert data["from_owner"] is True and data["role_hint"] == "seeker"


def test_inspect_reads_stdin() -> None:
    result = run_cli(["inspect", "-"], input=(MAIL / "zoom_invite.eml").read_text(encoding="utf-8"))
    assert result.exit_code == 0, result.output
    assert _json(result.output)["meeting_url"].startswith("https://us02web.zoom.us/j/")  # type: ignore[union-attr]


def test_unreadable_input_is_json_and_exit_zero() -> None:
    result = run_cli(["inspect", "-"], input="\x00\x01 not mail")
    assert result.exit_code == 0
    data = _json(result.output)
    assert data["kind"] == "unreadable" and data["error"]


def test_missing_file_exits_2_with_a_sentence(tmp_path: Path) -> None:
    result = run_cli(["inspect", str(tmp_path / "nope.eml")])
    assert result.exit_code == 2
    assert "does not exist" in result.output
    assert "Traceback" not in result.output


def test_a_directory_is_not_a_message(tmp_path: Path) -> None:
    result = run_cli(["inspect", str(tmp_path)])
    assert result.exit_code == 2 and "is not a file" in result.output
