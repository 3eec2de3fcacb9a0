"""``mailflow messages [--errors] [--json]``: the message log."""

from __future__ import annotations

from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from mailflow.cli.app import app, handles_errors, out, print_json, settings
from mailflow.cli.common import iso, open_store, shown
from mailflow.engine.intake import Intake
from mailflow.sources import open_source
from mailflow.store import MessageRow, Store
from mailflow.text import one_line


@app.command()
@handles_errors
def messages(
    errors: bool = typer.Option(False, "--errors", help="Only the messages that could not be handled."),
    limit: int = typer.Option(50, "--limit", min=0, help="Show the latest N (0 shows all)."),
    retry: int | None = typer.Option(
        None,
        "--retry",
        metavar="ID",
        help="Read message ID (from --errors) again: after an upgrade, or with a larger [intake] budget.",
    ),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show the message log: mail mailflow read or sent, what it was understood as, and errors.

    A message that could not be handled stays untouched in the mailbox; its row
    says why and where it is (the folder and UID, or the file).  One over the
    time or memory budget, or quarantined after crashes, can be read again with
    ``--retry ID`` (for example with ``--set intake.message_seconds=60``).
    """
    if retry is not None:
        with open_store() as store:
            _retry(store, retry, json_)
        return
    with open_store() as store, store.read() as tx:
        rows = tx.list_messages(errors_only=errors)
    rows = rows[-limit:] if limit else rows
    if json_:
        print_json([message_json(row) for row in rows])
        return
    if not rows:
        out.print("no messages with errors" if errors else "no messages yet: run `mailflow sync`")
        return
    if errors:
        for row in rows:
            _print_error(row)
        return
    out.print(_table(rows))


def _retry(store: Store, row_id: int, json_: bool) -> None:
    current = settings()
    intake = Intake(store, open_source(current), current)
    try:
        row = intake.retry(row_id)
    finally:
        intake.close()
    if json_:
        print_json(message_json(row))
    elif row.error:
        out.print(f"message {row_id} is still not understood (now #{row.id}):", soft_wrap=True)
        out.print(f"  error: {escape(one_line(row.error, 500))}", soft_wrap=True)
    if row.error:
        raise typer.Exit(1)
    else:
        meeting = f", meeting {row.meeting_id}" if row.meeting_id else ""
        out.print(f"message {row_id} is now understood: {row.kind}{meeting} (#{row.id})")


def message_json(row: MessageRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "direction": row.direction,
        "kind": row.kind,
        "message_id": row.message_id,
        "sender": row.sender,
        "subject": row.subject,
        "sent_at": iso(row.sent_at),
        "seen_at": iso(row.seen_at),
        "meeting_id": row.meeting_id,
        "contact_id": row.contact_id,
        "step_id": row.step_id,
        "in_reply_to": row.in_reply_to,
        "error": row.error,
        "location": row.location,
        "folder": row.folder,
        "uidvalidity": row.uidvalidity,
        "uid": row.uid,
    }


def _print_error(row: MessageRow) -> None:
    """Errors need their whole text and where the message is: a block each, not a table cell."""
    sender = f"from {one_line(row.sender, 80)}" if row.sender else "from an unknown sender"
    out.print(
        f"[bold]#{row.id}[/bold] {shown(row.sent_at or row.seen_at)}  {escape(sender)}  {escape(_subject(row))}"
    )
    out.print(f"  error: {escape(one_line(row.error, 500))}", soft_wrap=True)
    out.print(f"  at:    {escape(one_line(row.location, 500) or '-')}", soft_wrap=True)


def _subject(row: MessageRow) -> str:
    return f'"{one_line(row.subject, 80)}"' if row.subject else "(no subject)"


def _table(rows: list[MessageRow]) -> Table:
    table = Table(show_lines=False)
    for column in ("id", "when", "", "kind", "from", "subject", "meeting", "error"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            str(row.id),
            shown(row.sent_at or row.seen_at),
            row.direction,
            row.kind or "-",
            escape(one_line(row.sender, 60)),
            escape(one_line(row.subject, 60)),
            f"m{row.meeting_id}" if row.meeting_id else "-",
            escape(one_line(row.error, 300)),
        )
    return table
