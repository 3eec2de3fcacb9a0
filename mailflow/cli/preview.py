"""``mailflow preview STEP MEETING``: exactly what a step would send, before it does."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any

import typer
from icalendar import Calendar

from mailflow import clock
from mailflow.cli.app import app, handles_errors, print_json, settings
from mailflow.cli.common import meeting_by_ref, open_store, shown
from mailflow.compose import html_to_text
from mailflow.compose.outgoing import Outgoing
from mailflow.config import STEPS, Settings
from mailflow.engine.outgoing import StepRenderer, new_message_id
from mailflow.errors import UsageError
from mailflow.steps import DEFAULT_STEPS
from mailflow.store import MeetingRow, StepRow, Store

_OPEN = ("pending", "sending", "uncertain", "failed")
_MODES = {
    "send": "sent",
    "draft": "saved as a draft for you to send",
    "notify": "mailed to you, ready to forward",
    "off": "not sent: the step is off",
}


@dataclass(frozen=True)
class Preview:
    step: StepRow
    planned: bool
    outgoing: Outgoing


def _steps_epilog() -> str:
    """What each step is, for ``--help``: the step table's own words."""
    return "Steps:\n\n" + "\n\n".join(f"{spec.name}: {spec.labels.cli}" for spec in DEFAULT_STEPS)


@app.command(epilog=_steps_epilog())
@handles_errors
def preview(
    step: str = typer.Argument(..., metavar="STEP", help=f"One of: {', '.join(STEPS)}."),
    meeting: str = typer.Argument(
        ..., metavar="MEETING", help="A meeting id (12 or m12), as `mailflow records` shows."
    ),
    raw: bool = typer.Option(False, "--raw", help="Print the whole message as it would be sent (RFC 5322)."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Print exactly what STEP would send for MEETING: headers, text, HTML as text, attachments."""
    if step not in STEPS:
        raise UsageError(f'"{step}" is not a step; the steps are {", ".join(STEPS)}')
    with open_store() as store:
        config = settings()  # after open_store: the chosen owner's (--owner)
        with store.read() as tx:
            row = meeting_by_ref(tx, meeting)
            candidates = [s for s in tx.list_steps(row.id) if s.step == step]
        result = _compose(store, config, row, step, candidates)
    if raw:
        sys.stdout.buffer.write(result.outgoing.message.as_bytes())
        sys.stdout.flush()
    elif json_:
        print_json(preview_json(result, row))
    else:
        typer.echo(preview_text(result, row, config))


def _compose(store: Store, config: Settings, meeting: MeetingRow, step: str, rows: list[StepRow]) -> Preview:
    row = next((s for s in rows if s.state in _OPEN), rows[-1] if rows else None)
    planned = row is not None
    if row is None:
        row = _unplanned(meeting, step, config)
    message_id = row.message_id or new_message_id(config)
    return Preview(row, planned, StepRenderer(store, config).compose(row, message_id))


def _unplanned(meeting: MeetingRow, step: str, config: Settings) -> StepRow:
    """A stand-in for a step the planner has not (yet) planned, due now."""
    now = clock.now()
    mode = config.playbook.table(step).mode
    return StepRow(
        id=0, meeting_id=meeting.id, step=step, occurrence=0, due_at=now, mode=mode, state="not planned",
        attempts=0, last_error="", reason="", message_id=None, next_attempt_at=None, sent_at=None,
        receipt="", created_at=now, updated_at=now,
    )  # fmt: skip


# -- output ---------------------------------------------------------------------


def preview_text(result: Preview, meeting: MeetingRow, config: Settings) -> str:
    step, outgoing = result.step, result.outgoing
    msg = outgoing.message
    due = shown(step.due_at, config.owner_zone()) if result.planned else "not planned yet"
    lines = [
        f"# {step.step} for meeting {meeting.id} ({step.state}, due {due}): {_MODES.get(step.mode, step.mode)}",
        f"# from {outgoing.rendered.template}",
        "",
        *[f"{name}: {value}" for name, value in _headers(msg)],
        "",
        "--- text ---",
        outgoing.rendered.text.rstrip("\n"),
    ]
    if outgoing.rendered.html is not None:
        lines += ["", "--- HTML, as text ---", html_to_text(outgoing.rendered.html).rstrip("\n")]
    for item in _attachments(msg):
        lines += [
            "",
            f"--- attachment: {item['filename']} ({item['content_type']}, {item['size']} bytes) ---",
        ]
        lines += [f"  {event}" for event in item.get("events", [])]
    return "\n".join(lines)


def preview_json(result: Preview, meeting: MeetingRow) -> dict[str, Any]:
    outgoing = result.outgoing
    return {
        "step": result.step.step,
        "meeting": meeting.id,
        "planned": result.planned,
        "state": result.step.state,
        "mode": result.step.mode,
        "due_at": result.step.due_at.isoformat() if result.planned else None,
        "template": outgoing.rendered.template,
        "headers": [[name, value] for name, value in _headers(outgoing.message)],
        "text": outgoing.rendered.text,
        "html": outgoing.rendered.html,
        "html_as_text": html_to_text(outgoing.rendered.html) if outgoing.rendered.html else None,
        "attachments": _attachments(outgoing.message),
    }


def _headers(msg: EmailMessage) -> list[tuple[str, str]]:
    """The top-level headers, decoded, leaving out the MIME plumbing."""
    skip = {"mime-version", "content-type", "content-transfer-encoding"}
    return [(name, str(value)) for name, value in msg.items() if name.lower() not in skip]


def _attachments(msg: EmailMessage) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for part in msg.iter_attachments():
        data = part.get_payload(decode=True)
        assert isinstance(data, bytes)
        item: dict[str, Any] = {
            "filename": part.get_filename() or "",
            "content_type": part.get_content_type(),
            "size": len(data),
        }
        if part.get_content_type() in {"application/ics", "text/calendar"}:
            item["events"] = _events(data)
        found.append(item)
    return found


def _events(data: bytes) -> list[str]:
    """Each VEVENT as one line: what, when, and who is asked."""
    cal = Calendar.from_ical(data)
    method = str(cal.get("METHOD", ""))
    lines = []
    events: list[Any] = cal.walk("VEVENT")  # icalendar's property types are a wide union
    for event in events:
        start = event["DTSTART"].dt
        when = shown(start) if isinstance(start, datetime) else str(start)
        attendees = event.get("ATTENDEE", [])
        attendees = attendees if isinstance(attendees, list) else [attendees]
        asked = [str(a).removeprefix("mailto:") for a in attendees if a.params.get("RSVP") == "TRUE"]
        who = f", asks {', '.join(asked)} to accept" if asked else ""
        lines.append(f"{method} {event.get('SUMMARY', '')}: {when}{who}")
    return lines
