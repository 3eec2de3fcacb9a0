"""``records``, ``show`` and ``upcoming``: what mailflow knows, for a person or a script."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import typer
from rich.table import Table

from mailflow import clock
from mailflow.cli.app import app, handles_errors, out, print_json
from mailflow.cli.common import (
    contact_by_ref,
    contact_label,
    iso,
    open_store,
    shown,
)
from mailflow.store.rows import ContactRow, MeetingRow, StepRow
from mailflow.store.store import StoreTx


def meeting_json(tx: StoreTx, meeting: MeetingRow) -> dict[str, Any]:
    contact = tx.get_contact(meeting.counterpart_id) if meeting.counterpart_id else None
    return {
        "id": meeting.id,
        "summary": meeting.summary,
        "state": meeting.state,
        "role": meeting.role,
        "start": iso(meeting.start_at),
        "end": iso(meeting.end_at),
        "timezone": meeting.timezone,
        "location": meeting.location,
        "meeting_url": meeting.meeting_url,
        "counterpart": contact.address if contact else None,
        "needs_counterpart": meeting.needs_counterpart,
        "trusted": meeting.trusted,
        "confirmed": meeting.confirmed,
        "paused": meeting.paused,
        "recurring": meeting.recurring,
        "ical_uid": meeting.ical_uid,
    }


def contact_json(contact: ContactRow) -> dict[str, Any]:
    return {
        "id": contact.id,
        "address": contact.address,
        "name": contact.name,
        "names": list(contact.names),
        "do_not_contact": contact.do_not_contact,
        "do_not_contact_reason": contact.do_not_contact_reason,
        "last_reply_at": iso(contact.last_reply_at),
    }


def step_json(step: StepRow) -> dict[str, Any]:
    return {
        "id": step.id,
        "meeting_id": step.meeting_id,
        "step": step.step,
        "occurrence": step.occurrence,
        "due_at": iso(step.due_at),
        "mode": step.mode,
        "state": step.state,
        "attempts": step.attempts,
        "last_error": step.last_error,
        "reason": step.reason,
        "message_id": step.message_id,
        "sent_at": iso(step.sent_at),
        "receipt": step.receipt,
    }


@app.command()
@handles_errors
def records(
    state: list[str] = typer.Option([], "--state", help="Only meetings in this state (repeatable)."),
    contact: str | None = typer.Option(None, "--contact", help="Only this contact (c<id> or address)."),
    search: str = typer.Option("", "--search", help="Only contacts whose address or name contains this."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List contacts and meetings (filterable)."""
    with open_store() as store, store.read() as tx:
        person = contact_by_ref(tx, contact) if contact else None
        contacts = [person] if person else tx.list_contacts(search=search)
        meetings = tx.list_meetings(contact_id=person.id if person else None, states=state or None)
        if json_:
            print_json(
                {
                    "contacts": [contact_json(c) for c in contacts],
                    "meetings": [meeting_json(tx, m) for m in meetings],
                }
            )
            return
        out.print(_contacts_table(contacts))
        out.print(_meetings_table(tx, meetings))


def _contacts_table(contacts: list[ContactRow]) -> Table:
    table = Table(title=f"Contacts ({len(contacts)})", title_justify="left")
    for column in ("id", "address", "name", "do not contact"):
        table.add_column(column)
    for c in contacts:
        table.add_row(
            f"c{c.id}", c.address, c.name, c.do_not_contact_reason or ("yes" if c.do_not_contact else "")
        )
    return table


def _meetings_table(tx: StoreTx, meetings: list[MeetingRow]) -> Table:
    table = Table(title=f"Meetings ({len(meetings)})", title_justify="left")
    for column in ("id", "start", "with", "summary", "state", "role", "flags"):
        table.add_column(column)
    for m in meetings:
        contact = tx.get_contact(m.counterpart_id) if m.counterpart_id else None
        table.add_row(
            str(m.id), shown(m.start_at), contact_label(contact), m.summary, m.state, m.role, _flags(m)
        )
    return table


def _flags(meeting: MeetingRow) -> str:
    flags = []
    if meeting.paused:
        flags.append("paused")
    if not meeting.trusted and not meeting.confirmed:
        flags.append("needs confirm")
    if meeting.needs_counterpart:
        flags.append("needs counterpart")
    if meeting.recurring:
        flags.append("recurring")
    return ", ".join(flags)


@app.command()
@handles_errors
def upcoming(
    days: int = typer.Option(14, "--days", min=1, help="How many days ahead."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Meetings and pending steps of the next days."""
    now = clock.now()
    until = now + timedelta(days=days)
    with open_store() as store, store.read() as tx:
        meetings = tx.upcoming_meetings(now, until)
        steps = [s for s in tx.steps_in_state("pending") if s.due_at <= until]
        steps.sort(key=lambda s: s.due_at)
        if json_:
            print_json(
                {"meetings": [meeting_json(tx, m) for m in meetings], "steps": [step_json(s) for s in steps]}
            )
            return
        out.print(_meetings_table(tx, meetings))
        table = Table(title=f"Pending steps, next {days} days", title_justify="left")
        for column in ("step id", "due", "meeting", "step", "mode"):
            table.add_column(column)
        for s in steps:
            table.add_row(str(s.id), shown(s.due_at), str(s.meeting_id), s.step, s.mode)
        out.print(table)
