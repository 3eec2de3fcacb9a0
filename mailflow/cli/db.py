"""``mailflow db upgrade`` and ``mailflow db status``: the schema version of the database."""

from __future__ import annotations

import typer

from mailflow.cli.app import app, handles_errors, out, print_json, settings
from mailflow.store import Store

db_app = typer.Typer(help="The database: its schema version and migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
@handles_errors
def upgrade() -> None:
    """Apply pending migrations (mailflow also does this when it starts)."""
    store = Store(settings().database_url())
    try:
        applied = store.upgrade()
        latest = store.schema_status().latest
    finally:
        store.close()
    if applied:
        out.print(
            f"{store.url}: applied migration(s) {', '.join(map(str, applied))}; now at version {latest}"
        )
    else:
        out.print(f"{store.url}: already at version {latest}, nothing to do")


@db_app.command("status")
@handles_errors
def status(json_: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Show the schema version of the database and the migrations still to apply (changes nothing)."""
    store = Store(settings().database_url())
    try:
        state = store.schema_status()
    finally:
        store.close()
    if json_:
        print_json(
            {
                "database": store.url,
                "current": state.current,
                "latest": state.latest,
                "up_to_date": state.up_to_date,
                "applied": [
                    {"version": a.version, "name": a.name, "applied_at": a.applied_at.isoformat()}
                    for a in state.applied
                ],
                "pending": [{"version": v, "name": n} for v, n in state.pending],
            }
        )
        return
    out.print(f"database: {store.url}")
    out.print(f"schema version: {state.current} (this mailflow knows {state.latest})")
    for version, name in state.pending:
        out.print(f"  pending {version}: {name}")
    if state.current > state.latest:
        out.print("the database is newer than this mailflow: upgrade mailflow")
    elif state.pending:
        out.print("run `mailflow db upgrade` (or just start mailflow) to apply them")
