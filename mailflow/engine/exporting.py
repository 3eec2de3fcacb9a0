"""The owner's records for the owner: one JSON document (``export json``) and two tables (``export csv``).

Pure functions over an open :class:`~mailflow.store.StoreTx`: whatever the
transaction returns is what is exported, so scoping it to one owner is the
store's business.  The JSON document's schema is documented in README ("Your
data") and pinned by ``tests/system/test_your_data.py``: keys are only ever
added, never renamed or removed (``version`` would change if that promise ever
had to be broken).  Attachments are described (name, type, size, SHA-256),
never included.

The CSV tables are for a spreadsheet, and their cells come from strangers: a
cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
is prefixed with ``'`` so no spreadsheet runs it as a formula (CSV injection),
and one-line fields have their control characters made spaces.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from mailflow.config import OwnerSettings
from mailflow.store import (
    AttachmentRow,
    ContactNoteRow,
    ContactRow,
    MeetingRow,
    MessageRow,
    NoteRow,
    StepRow,
    StoreTx,
)
from mailflow.text import one_line

SCHEMA = "mailflow-export"
VERSION = 1

#: message log rows left out: what ``forget`` emptied (kept only so a resync does not bring a person back)
_LEFT_OUT = frozenset({"forgotten"})


def export_document(tx: StoreTx, owner: OwnerSettings, now: datetime) -> dict[str, Any]:
    """Every record: contacts with their notes, meetings with steps, notes, files and mail."""
    messages = [m for m in tx.list_messages() if m.kind not in _LEFT_OUT]
    files = tx.list_attachments()
    meeting_mail, contact_mail = (
        _grouped(messages, lambda m: m.meeting_id),
        _grouped((m for m in messages if m.meeting_id is None), lambda m: m.contact_id),
    )
    meeting_files, contact_files = (
        _grouped(files, lambda a: a.meeting_id),
        _grouped((a for a in files if a.meeting_id is None), lambda a: a.contact_id),
    )
    contacts = sorted(tx.list_contacts(), key=lambda c: c.id)
    addresses = {c.id: c.address for c in contacts}
    return {
        "schema": SCHEMA,
        "version": VERSION,
        "exported_at": _iso(now),
        "owner": {"name": owner.name, "addresses": list(owner.addresses), "timezone": owner.timezone},
        "contacts": [
            {
                **_contact(c),
                "notes": [_note(n) for n in tx.list_contact_notes(c.id)],
                "attachments": [_attachment(a) for a in contact_files.get(c.id, [])],
                "messages": [_message(m) for m in contact_mail.get(c.id, [])],
            }
            for c in contacts
        ],
        "meetings": [
            {
                **_meeting(m, addresses),
                "doubts": list(tx.doubts_of(m.id)),
                "steps": [_step(s) for s in tx.list_steps(m.id)],
                "notes": [_note(n) for n in tx.list_notes(m.id)],
                "attachments": [_attachment(a) for a in meeting_files.get(m.id, [])],
                "messages": [_message(x) for x in meeting_mail.get(m.id, [])],
            }
            for m in sorted(tx.list_meetings(), key=lambda m: m.id)
        ],
        "messages": [_message(m) for m in contact_mail.get(None, [])],
    }


def _grouped(rows: Iterable[Any], key: Any) -> dict[Any, list[Any]]:
    found: dict[Any, list[Any]] = defaultdict(list)
    for row in rows:
        found[key(row)].append(row)
    return found


def _iso(instant: datetime | None) -> str | None:
    return None if instant is None else instant.isoformat()


def _contact(c: ContactRow) -> dict[str, Any]:
    return {
        "id": c.id,
        "address": c.address,
        "name": c.name,
        "names": list(c.names),
        "timezone": c.timezone,
        "do_not_contact": c.do_not_contact,
        "do_not_contact_reason": c.do_not_contact_reason,
        "last_reply_at": _iso(c.last_reply_at),
        "created_at": _iso(c.created_at),
    }


def _meeting(m: MeetingRow, addresses: dict[int, str]) -> dict[str, Any]:
    return {
        "id": m.id,
        "ical_uid": m.ical_uid,
        "recurrence_id": m.recurrence_id,
        "summary": m.summary,
        "description": m.description,
        "state": m.state,
        "role": m.role,
        "start": _iso(m.start_at),
        "end": _iso(m.end_at),
        "all_day": m.all_day,
        "timezone": m.timezone,
        "location": m.location,
        "meeting_url": m.meeting_url,
        "organizer": m.organizer,
        "counterpart_id": m.counterpart_id,
        "counterpart": addresses.get(m.counterpart_id) if m.counterpart_id is not None else None,
        "trusted": m.trusted,
        "confirmed": m.confirmed,
        "paused": m.paused,
        "recurring": m.recurring,
        "created_at": _iso(m.created_at),
    }


def _step(s: StepRow) -> dict[str, Any]:
    return {
        "step": s.step,
        "occurrence": s.occurrence,
        "mode": s.mode,
        "state": s.state,
        "due_at": _iso(s.due_at),
        "sent_at": _iso(s.sent_at),
        "message_id": s.message_id,
        "reason": s.reason,
        "last_error": s.last_error,
    }


def _note(n: NoteRow | ContactNoteRow) -> dict[str, Any]:
    return {"created_at": _iso(n.created_at), "source": n.source, "text": n.text, "message_id": n.message_id}


def _attachment(a: AttachmentRow) -> dict[str, Any]:
    return {
        "filename": a.filename,
        "content_type": a.content_type,
        "size": a.size,
        "sha256": a.sha256,
        "path": a.path or None,  # None: deleted under [owner] keep_files (engine/retention.py)
        "message_id": a.message_id,
        "created_at": _iso(a.created_at),
    }


def _message(m: MessageRow) -> dict[str, Any]:
    return {
        "direction": m.direction,
        "kind": m.kind,
        "message_id": m.message_id,
        "in_reply_to": m.in_reply_to,
        "sender": m.sender,
        "subject": m.subject,
        "sent_at": _iso(m.sent_at),
        "seen_at": _iso(m.seen_at),
        "error": m.error,
    }


# -- CSV ---------------------------------------------------------------------

#: what makes a spreadsheet read a cell as a formula (OWASP "CSV injection")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def spreadsheet_safe(cell: str) -> str:
    """``cell`` as text a spreadsheet shows and never evaluates: a formula-like start gets a ``'``."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def _line(text: str) -> str:
    return spreadsheet_safe(one_line(text, 2000))


def _lines(text: str) -> str:
    """Multi-line text (notes): line breaks kept as LF, other control characters made spaces."""
    kept = [" ".join(_CONTROL.sub(" ", raw).split()) for raw in text.replace("\r\n", "\n").split("\n")]
    return spreadsheet_safe("\n".join(kept).strip())


def _local(instant: datetime | None, zone: ZoneInfo) -> str:
    """A time as spreadsheets read it: ``YYYY-MM-DD HH:MM`` in the owner's zone (named in the header)."""
    return "" if instant is None else instant.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def contacts_table(tx: StoreTx, zone: ZoneInfo) -> tuple[list[str], list[list[str | int]]]:
    """One row per contact: header and rows."""
    header = [
        "id", "address", "name", "names", "do_not_contact", "do_not_contact_reason", "timezone",
        f"last_reply_at ({zone.key})", "meetings", "notes",
    ]  # fmt: skip
    counts: dict[int | None, int] = defaultdict(int)
    for meeting in tx.list_meetings():
        counts[meeting.counterpart_id] += 1
    rows: list[list[str | int]] = []
    for c in sorted(tx.list_contacts(), key=lambda c: c.id):
        notes = "\n\n".join(n.text.strip() for n in tx.list_contact_notes(c.id) if n.text.strip())
        rows.append(
            [
                c.id, _line(c.address), _line(c.name), _line("; ".join(c.names)), _yes(c.do_not_contact),
                _line(c.do_not_contact_reason), _line(c.timezone), _local(c.last_reply_at, zone),
                counts[c.id], _lines(notes),
            ]
        )  # fmt: skip
    return header, rows


def meetings_table(tx: StoreTx, zone: ZoneInfo) -> tuple[list[str], list[list[str | int]]]:
    """One row per meeting: header and rows."""
    header = [
        "id", f"start ({zone.key})", f"end ({zone.key})", "summary", "state", "role", "counterpart",
        "counterpart_name", "location", "meeting_url", "recurring", "paused", "steps_sent", "steps_pending",
        "notes", "attachments",
    ]  # fmt: skip
    contacts = {c.id: c for c in tx.list_contacts()}
    files = _grouped(tx.list_attachments(), lambda a: a.meeting_id)
    rows: list[list[str | int]] = []
    for m in sorted(tx.list_meetings(), key=lambda m: m.id):
        person = contacts.get(m.counterpart_id) if m.counterpart_id is not None else None
        steps = tx.list_steps(m.id)
        notes = "\n\n".join(n.text.strip() for n in tx.list_notes(m.id) if n.text.strip())
        names = "; ".join(
            one_line(a.filename, 200) + ("" if a.path else " (deleted)") for a in files.get(m.id, [])
        )
        rows.append(
            [
                m.id, _local(m.start_at, zone), _local(m.end_at, zone), _line(m.summary), m.state, m.role,
                _line(person.address if person else ""), _line(person.name if person else ""),
                _line(m.location), _line(m.meeting_url), _yes(m.recurring), _yes(m.paused),
                sum(1 for s in steps if s.state == "sent"), sum(1 for s in steps if s.state == "pending"),
                _lines(notes), _line(names),
            ]
        )  # fmt: skip
    return header, rows


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[str | int]]) -> bytes:
    """RFC 4180 CSV (CRLF, quotes where needed) in UTF-8 with a byte order mark.

    With the BOM, because the file is for a spreadsheet: Excel reads a CSV without one in the
    system's legacy code page, turning "résumé" into "rÃ©sumÃ©"; LibreOffice, Numbers and
    Google Sheets read it either way, and Python reads it with ``encoding="utf-8-sig"``.
    """
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8-sig")
