from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from mailflow import __version__, clock
from tests.cli_helpers import run_cli


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


def test_version() -> None:
    result = run_cli(["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_init_twice_refuses_then_force(tmp_path: Path) -> None:
    target = tmp_path / "cfg" / "mailflow" / "config.toml"
    first = run_cli(["init", "--yes"])
    assert first.exit_code == 0, first.output
    assert target.is_file()
    tomllib.loads(target.read_text(encoding="utf-8"))
    target.write_text("# mine\n", encoding="utf-8")
    second = run_cli(["init", "--yes"])
    assert second.exit_code == 2
    assert "already exists" in second.output
    assert target.read_text(encoding="utf-8") == "# mine\n"
    third = run_cli(["init", "--yes", "--force"])
    assert third.exit_code == 0
    assert "[playbook.thank_you]" in target.read_text(encoding="utf-8")


def test_init_asks_and_fills_in(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.toml"
    result = run_cli(["--config", str(target), "init"], input="Ana Lima\nana@example.org\nAmerica/Chicago\n")
    assert result.exit_code == 0, result.output
    data = tomllib.loads(target.read_text(encoding="utf-8"))
    assert data["owner"] == {
        **data["owner"],
        "name": "Ana Lima",
        "addresses": ["ana@example.org"],
        "timezone": "America/Chicago",
    }


def test_bad_now_is_a_usage_error() -> None:
    result = run_cli(["--now", "yesterday-ish", "run"])
    assert result.exit_code == 2
    assert "not an ISO 8601" in result.output


def test_now_sets_the_clock() -> None:
    try:
        clock.set_now("2030-01-02T03:04:05+01:00")
        assert abs((clock.now() - clock.parse_instant("2030-01-02T02:04:05Z")).total_seconds()) < 5
    finally:
        clock.set_now(None)


def test_bad_log_level_is_a_usage_error() -> None:
    result = run_cli(["--log-level", "loud", "run"])
    assert result.exit_code == 2
    assert "--log-level" in result.output
