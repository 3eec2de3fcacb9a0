"""Entry point: registers every command group, then runs the app."""

from __future__ import annotations

from mailflow.cli import backup as backup_commands  # noqa: F401
from mailflow.cli import check as check_commands  # noqa: F401
from mailflow.cli import config_cmd, init  # noqa: F401  (registers commands)
from mailflow.cli import db as db_commands  # noqa: F401
from mailflow.cli import demo as demo_commands  # noqa: F401
from mailflow.cli import export as export_commands  # noqa: F401
from mailflow.cli import inspect as inspect_commands  # noqa: F401
from mailflow.cli import messages as messages_commands  # noqa: F401
from mailflow.cli import preview as preview_commands  # noqa: F401
from mailflow.cli import records as records_commands  # noqa: F401
from mailflow.cli import run as run_commands  # noqa: F401
from mailflow.cli import show as show_commands  # noqa: F401
from mailflow.cli import status as status_commands  # noqa: F401
from mailflow.cli import steer as steer_commands  # noqa: F401
from mailflow.cli import sync as sync_commands  # noqa: F401
from mailflow.cli.app import app


def main() -> None:
    app()
