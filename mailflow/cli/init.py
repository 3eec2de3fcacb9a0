"""``mailflow init``: write a commented starter configuration."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from mailflow.cli.app import app, handles_errors, out, state
from mailflow.config import default_config_path
from mailflow.errors import UsageError
from mailflow.resources import example_config_text


@app.command()
@handles_errors
def init(
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Ask nothing; write the example as it is."),
) -> None:
    """Write a commented starter config (to --config PATH, or the default place)."""
    path = state.config_path or default_config_path()
    if path.exists() and not force:
        raise UsageError(
            f"{path} already exists; it was left as it is",
            hint="use --force to overwrite it, or --config PATH to write elsewhere",
        )
    text = example_config_text()
    if not yes:
        text = _fill_in(text)
    _write(path, text)
    out.print(f"wrote {path}")
    out.print("next: edit it, then run `mailflow check` and `mailflow run`")


def _fill_in(text: str) -> str:
    name = typer.prompt("Your name", default="Ana Owner")
    address = typer.prompt("The address you write from", default="ana@example.org")
    zone = typer.prompt("Your time zone", default="Europe/Berlin")
    text = re.sub(r'(?m)^name = ".*"$', f"name = {_toml(name)}", text, count=1)
    text = re.sub(r"(?m)^addresses = \[.*\]$", f"addresses = [{_toml(address)}]", text, count=1)
    return re.sub(r'(?m)^timezone = ".*"$', f"timezone = {_toml(zone)}", text, count=1)


def _toml(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        path.chmod(0o600)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None
