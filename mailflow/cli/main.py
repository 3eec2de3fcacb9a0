"""Entry point: registers every command group, then runs the app."""

from __future__ import annotations

from mailflow.cli import config_cmd, init  # noqa: F401  (registers commands)
from mailflow.cli import run as run_commands  # noqa: F401
from mailflow.cli.app import app


def main() -> None:
    app()
