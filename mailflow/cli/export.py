"""``mailflow export``: ``ics [PATH]`` (upcoming meetings and pending steps as one calendar), ``json [PATH]``
(every record, schema in README "Your data") and ``csv FOLDER`` (contacts and meetings, for a spreadsheet)."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import typer

from mailflow import clock
from mailflow.cli.app import app, handles_errors, out, settings
from mailflow.cli.common import open_store
from mailflow.compose import FeedMeeting, FeedStep, build_feed, message_id_domain
from mailflow.engine.exporting import contacts_table, csv_bytes, export_document, meetings_table
from mailflow.errors import UsageError
from mailflow.store import ContactRow, MeetingRow, StoreTx

export_app = typer.Typer(help="Write mailflow's records for other programs.", no_args_is_help=True)
app.add_typer(export_app, name="export")

#: exports of personal data are readable by their owner only
PRIVATE = 0o600
#: a meeting that started this long ago still shows (today's coffee stays in the feed all day)
_RECENT = timedelta(hours=12)


@export_app.command("ics")
@handles_errors
def export_ics(
    path: Path | None = typer.Argument(
        None, metavar="[PATH]", help="Where to write the .ics file (default: print it)."
    ),
    days: int = typer.Option(365, "--days", min=1, help="How many days ahead to include."),
) -> None:
    """One calendar of upcoming meetings and pending steps, for a calendar app to subscribe to."""
    now = clock.now()
    with open_store() as store, store.read() as tx:
        meetings, steps = feed_entries(tx, now, now + timedelta(days=days))
    config = settings()  # after open_store: the chosen owner's (--owner)
    name = f"mailflow: {config.owner.name}" if config.owner.name else "mailflow"
    data = build_feed(
        meetings,
        steps,
        zone=config.owner.timezone,
        domain=message_id_domain(config),
        now=now,
        name=name,
        table=config.steps,
    )
    if path is None or str(path) == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    write_atomically(path.expanduser(), data)
    out.print(f"wrote {len(meetings)} meetings and {len(steps)} pending steps to {path}", markup=False)


@export_app.command("json")
@handles_errors
def export_json(
    path: Path | None = typer.Argument(
        None, metavar="[PATH]", help="Where to write the .json file (default: print it)."
    ),
) -> None:
    """Every record of yours as one JSON document: contacts, meetings, steps, notes, files' names, mail."""
    with open_store() as store, store.read() as tx:
        config = settings()  # after open_store: the chosen owner's (--owner)
        document = export_document(tx, config.owner, clock.now())
    data = (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    if path is None or str(path) == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    write_atomically(path.expanduser(), data, mode=PRIVATE)
    out.print(
        f"wrote {len(document['contacts'])} contacts and {len(document['meetings'])} meetings to {path}",
        markup=False,
    )


@export_app.command("csv")
@handles_errors
def export_csv(
    folder: Path = typer.Argument(
        ..., metavar="FOLDER", help="Where to write contacts.csv and meetings.csv (created if missing)."
    ),
) -> None:
    """Contacts and meetings as two CSV files for a spreadsheet (UTF-8, formulas neutralised)."""
    with open_store() as store, store.read() as tx:
        zone = settings().owner_zone()  # after open_store: the chosen owner's (--owner)
        contacts, meetings = contacts_table(tx, zone), meetings_table(tx, zone)
    folder = folder.expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the folder {folder}: {exc.strerror}") from exc
    write_atomically(folder / "contacts.csv", csv_bytes(*contacts), mode=PRIVATE)
    write_atomically(folder / "meetings.csv", csv_bytes(*meetings), mode=PRIVATE)
    out.print(
        f"wrote {len(contacts[1])} contacts to {folder / 'contacts.csv'} "
        f"and {len(meetings[1])} meetings to {folder / 'meetings.csv'}",
        markup=False,
    )


def feed_entries(tx: StoreTx, now: datetime, until: datetime) -> tuple[list[FeedMeeting], list[FeedStep]]:
    """Scheduled meetings from about now until ``until``, and every pending step due before it."""
    contacts: dict[int, ContactRow | None] = {}

    def who(meeting: MeetingRow) -> str:
        if meeting.counterpart_id is None:
            return "someone"
        if meeting.counterpart_id not in contacts:
            contacts[meeting.counterpart_id] = tx.get_contact(meeting.counterpart_id)
        contact = contacts[meeting.counterpart_id]
        return (contact.name or contact.address) if contact else "someone"

    meetings = [
        _feed_meeting(m, who(m))
        for m in tx.list_meetings(states=("scheduled",), start_from=now - _RECENT, start_until=until)
    ]
    steps: list[FeedStep] = []
    for step in tx.steps_in_state("pending"):
        meeting = tx.get_meeting(step.meeting_id)
        if meeting is None or step.due_at >= until or meeting.paused:
            continue
        key = f"{step.meeting_id}/{step.step}/{step.occurrence}"
        steps.append(FeedStep(key, step.step, who(meeting), step.due_at, step.mode, step.state))
    return meetings, sorted(steps, key=lambda s: s.due)


def _feed_meeting(meeting: MeetingRow, contact: str) -> FeedMeeting:
    start, end = meeting.start_at, meeting.end_at
    if meeting.all_day and start is not None:
        return FeedMeeting(str(meeting.id), meeting.summary, contact, day=start.date(), role=meeting.role)
    return FeedMeeting(
        key=str(meeting.id),
        summary=meeting.summary,
        contact=contact,
        start=start,
        end=end,
        location=meeting.location,
        url=meeting.meeting_url,
        role=meeting.role,
    )


def write_atomically(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Replace ``path`` in one step, so a subscriber never reads half a file; ``mode``: its permissions."""
    folder = path.parent
    if not folder.is_dir():
        raise UsageError(f"cannot write {path}: the folder {folder} does not exist")
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise UsageError(f"cannot write {path}: {exc.strerror}") from exc
