"""Docs stay true: every command has help, and config.example.toml names every setting."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
import typer.main
from pydantic import BaseModel

from mailflow.cli.main import app
from mailflow.config import Settings
from tests.cli_helpers import run_cli

ROOT = Path(__file__).resolve().parents[1]


def _commands() -> list[list[str]]:
    root = typer.main.get_command(app)
    found: list[list[str]] = []

    def walk(command: click.Command, path: list[str]) -> None:
        found.append(path)
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk(sub, [*path, name])

    walk(root, [])
    return found


@pytest.mark.parametrize("path", _commands(), ids=lambda p: " ".join(p) or "mailflow")
def test_every_command_has_help(path: list[str]) -> None:
    result = run_cli([*path, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output
    root = typer.main.get_command(app)
    command: click.Command = root
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    assert (command.help or "").strip(), f"`mailflow {' '.join(path)}` has no help text"


def _settings_keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for name, field in model.model_fields.items():
        annotation = field.annotation
        nested = [a for a in getattr(annotation, "__args__", (annotation,)) if _is_model(a)]
        if nested:
            keys |= _settings_keys(nested[0], f"{prefix}{name}.")
        else:
            keys.add(prefix + name)
    return keys


def _is_model(value: object) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _example_keys() -> set[str]:
    """Keys in config.example.toml, set or shown commented out (``# key = value``)."""
    keys: set[str] = set()
    section = ""
    for line in (ROOT / "config.example.toml").read_text(encoding="utf-8").splitlines():
        header = re.match(r"^#?\s*\[([a-z_.]+)\]\s*$", line)
        if header:
            section = header.group(1)
            continue
        key = re.match(r"^#?\s*([a-z_0-9]+)\s*=", line)
        if key and section:
            keys.add(f"{section}.{key.group(1)}")
    return keys


def test_example_config_names_every_setting_and_nothing_else() -> None:
    expected = _settings_keys(Settings)
    documented = _example_keys()
    assert sorted(expected - documented) == [], "settings missing from config.example.toml"
    assert sorted(documented - expected) == [], "config.example.toml names settings that do not exist"


def test_every_example_key_has_a_comment() -> None:
    lines = (ROOT / "config.example.toml").read_text(encoding="utf-8").splitlines()
    for index, line in enumerate(lines):
        if re.match(r"^[a-z_0-9]+\s*=", line):
            before = lines[index - 1].strip()
            assert before.startswith("#") or re.match(r"^[a-z_0-9]+\s*=", before), (
                f"config.example.toml line {index + 1} ({line}) has no comment above it"
            )


def test_example_config_loads() -> None:
    from mailflow.config import load_settings

    load_settings(ROOT / "config.example.toml")
