"""``mailflow show ID``: one meeting or one contact, as a timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import typer
from rich.markup import escape

from mailflow.cli.app import app, handles_errors, out, print_json
from mailflow.cli.common import contact_by_ref, contact_label, iso, meeting_by_ref, open_store, shown
from mailflow.cli.records import contact_json, meeting_json, step_json
from mailflow.store.rows import ContactRow, MeetingRow
from mailflow.store.store import StoreTx
from mailflow.text import one_line

STATE_STYLE = {
    "sent": "green",
    "pending": "cyan",
    "sending": "yellow",
    "uncertain": "bold yellow",
    "failed": "bold red",
    "skipped": "dim",
    "cancelled": "dim",
}


@app.command()
@handles_errors
def show(
    ref: str = typer.Argument(
        ..., metavar="ID", help="A meeting (12 or m12) or a contact (c3 or an address)."
    ),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """A meeting or a contact: mail in and out, steps done and pending, notes, attachments."""
    with open_store() as store, store.read() as tx:
        is_contact = "@" in ref or ref.strip().lower().startswith("c")
        if is_contact:
            contact = contact_by_ref(tx, ref)
            meetings = tx.list_meetings(contact_id=contact.id)
            data = {
                "contact": contact_json(contact),
                "contact_notes": [
                    {"at": iso(n.created_at), "source": n.source, "text": n.text}
                    for n in tx.list_contact_notes(contact.id)
                ],
                "meetings": [meeting_detail(tx, m) for m in meetings],
            }
        else:
            meeting = meeting_by_ref(tx, ref)
            data = meeting_detail(tx, meeting)
        if json_:
            print_json(data)
            return
        if is_contact:
            _print_contact(tx, contact, meetings)
        else:
            _print_meeting(tx, meeting)


def meeting_detail(tx: StoreTx, meeting: MeetingRow) -> dict[str, Any]:
    return {
        **meeting_json(tx, meeting),
        "timeline": timeline(tx, meeting),
        "doubts": list(tx.doubts_of(meeting.id)),
        "steps": [step_json(s) for s in tx.list_steps(meeting.id)],
        "notes": [
            {"at": iso(n.created_at), "source": n.source, "text": n.text} for n in tx.list_notes(meeting.id)
        ],
        "attachments": [
            {"path": a.path, "filename": a.filename, "content_type": a.content_type, "size": a.size}
            for a in tx.list_attachments(meeting_id=meeting.id)
        ],
    }


def timeline(tx: StoreTx, meeting: MeetingRow) -> list[dict[str, Any]]:
    """Messages in and out, and steps, in time order."""
    events: list[tuple[datetime, dict[str, Any]]] = []
    for message in tx.list_messages(meeting_id=meeting.id):
        at = message.sent_at or message.seen_at
        events.append(
            (
                at,
                {
                    "at": iso(at),
                    "what": "mail out" if message.direction == "out" else "mail in",
                    "kind": message.kind,
                    "from": message.sender,
                    "subject": one_line(message.subject, 120),
                    "error": message.error,
                },
            )
        )
    for step in tx.list_steps(meeting.id):
        at = step.sent_at or step.due_at
        events.append(
            (at, {"at": iso(at), "what": "step", "step": step.step, "state": step.state, "mode": step.mode})
        )
    events.sort(key=lambda e: e[0])
    return [e for _, e in events]


def _print_meeting(tx: StoreTx, meeting: MeetingRow) -> None:
    contact = tx.get_contact(meeting.counterpart_id) if meeting.counterpart_id else None
    out.print(f"[bold]Meeting {meeting.id}[/bold]: {escape(meeting.summary or '(no title)')}")
    out.print(f"  with      {escape(contact_label(contact))}")
    out.print(f"  when      {shown(meeting.start_at)} to {shown(meeting.end_at)}")
    out.print(f"  state     {meeting.state}; you are the {meeting.role}")
    if meeting.location or meeting.meeting_url:
        out.print(f"  where     {escape(meeting.location or meeting.meeting_url)}")
    if not meeting.trusted and not meeting.confirmed:
        out.print(
            f"  [yellow]waits for you[/yellow]: `mailflow confirm {meeting.id}` lets mail go to the contact"
        )
    for doubt in tx.doubts_of(meeting.id):
        out.print(f"  [yellow]not read for sure[/yellow]: {escape(one_line(doubt, 200))}", soft_wrap=True)
    if meeting.needs_counterpart:
        out.print(f"  [yellow]who is it with?[/yellow] `mailflow meeting counterpart {meeting.id} ADDRESS`")
    if meeting.paused:
        out.print("  [yellow]paused[/yellow]: `mailflow resume " + str(meeting.id) + "`")
    out.print("[bold]Timeline[/bold]")
    for message in tx.list_messages(meeting_id=meeting.id):
        arrow = "->" if message.direction == "out" else "<-"
        at = shown(message.sent_at or message.seen_at)
        line = f"{at}  {arrow} {message.kind or 'mail'}: {one_line(message.subject, 80)}"
        out.print("  " + escape(line))
    out.print("[bold]Steps[/bold]")
    for step in tx.list_steps(meeting.id):
        style = STATE_STYLE.get(step.state, "")
        when = shown(step.sent_at or step.due_at)
        detail = step.last_error or step.reason
        out.print(
            f"  {step.id:>4}  {when}  {step.step:<15} {step.mode:<7} [{style}]{step.state}[/{style}]"
            + (f"  {escape(one_line(detail, 100))}" if detail else "")
        )
    notes = tx.list_notes(meeting.id)
    if notes:
        out.print("[bold]Notes[/bold]")
        for note in notes:
            out.print(f"  {shown(note.created_at)} ({note.source}): {escape(note.text)}")
    attachments = tx.list_attachments(meeting_id=meeting.id)
    if attachments:
        out.print("[bold]Attachments[/bold]")
        for a in attachments:
            out.print(f"  {escape(a.filename)} ({a.size} bytes): {escape(a.path)}")


def _print_contact(tx: StoreTx, contact: ContactRow, meetings: list[MeetingRow]) -> None:
    out.print(f"[bold]Contact c{contact.id}[/bold]: {escape(contact_label(contact))}")
    if contact.do_not_contact:
        out.print(f"  [red]do not contact[/red]: {escape(contact.do_not_contact_reason)}")
    notes = tx.list_contact_notes(contact.id)
    if notes:
        out.print(f"[bold]Notes about {escape(one_line(contact.name or contact.address, 80))}[/bold]")
        for note in notes:
            lines = _note_lines(note.text) or [""]
            out.print(f"  {shown(note.created_at)} ({escape(one_line(note.source, 16))}): {escape(lines[0])}")
            for line in lines[1:]:
                out.print(f"      {escape(line)}")
    for meeting in meetings:
        out.print("")
        _print_meeting(tx, meeting)


def _note_lines(text: str) -> list[str]:
    """A note from mail (hostile), as lines to print: control characters made spaces, blank lines dropped."""
    return [line for line in (one_line(raw, 1000) for raw in text.splitlines()) if line]
