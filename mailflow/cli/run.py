"""``mailflow run``: the daemon."""

from __future__ import annotations

import typer

from mailflow.cli.app import app, handles_errors, settings
from mailflow.errors import UsageError


@app.command()
@handles_errors
def run(
    once: bool = typer.Option(False, "--once", help="One sync, one plan, one dispatch, then exit."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Sync, plan and render; send and mark nothing."),
) -> None:
    """Watch the mailbox and run the playbook (the daemon)."""
    settings(required=True)
    raise UsageError("the daemon is not built yet")
