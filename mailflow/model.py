"""The nouns of mailflow, shared by every layer.

Plain frozen dataclasses with no behaviour beyond conversion, so that pure
layers (understand, playbook, compose) and the store can exchange them.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from mailflow.steps import DEFAULT_STEPS, Audience

Kind = Literal[
    "invite",
    "update",
    "cancel",
    "reply",
    "counter",
    "request",
    "contact_reply",
    "owner_notes",
    "contact_note",
    "ignored",
    "unreadable",
]
Role = Literal["seeker", "adviser"]
MeetingState = Literal["requested", "pending", "scheduled", "cancelled", "done"]
StepState = Literal["pending", "sending", "sent", "uncertain", "failed", "skipped", "cancelled"]
#: a step's name: a name in the step table (:mod:`mailflow.steps`)
StepName = str

#: who each step of the default table is written to; fixed, not configurable (a view of the table)
STEP_AUDIENCE: dict[str, Audience] = {spec.name: spec.audience for spec in DEFAULT_STEPS}


@dataclass(frozen=True)
class Person:
    """An e-mail address (normalised: lower case, stripped) and a display name."""

    address: str
    name: str = ""


@dataclass(frozen=True)
class Attendee:
    address: str
    name: str = ""
    partstat: str = ""
    role: str = ""


@dataclass(frozen=True)
class SavedAttachment:
    """An attachment worth keeping (a résumé, work samples)."""

    filename: str  # already sanitised: no directories, no control characters
    content_type: str
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class Understanding:
    """What one message is.  The JSON of ``mailflow inspect`` is :meth:`to_json`."""

    kind: Kind
    method: str = ""
    uid: str = ""
    sequence: int = 0
    dtstamp: datetime | None = None
    recurrence_id: str = ""
    recurring: bool = False
    start: datetime | None = None
    end: datetime | None = None
    date: date | None = None  # all-day events: the day
    end_date: _dt.date | None = None  # all-day events: the day after the last one (DTEND, exclusive)
    timezone: str = ""
    all_day: bool = False
    summary: str = ""
    description: str = ""
    organizer: Person | None = None
    attendees: tuple[Attendee, ...] = ()
    counterpart: Person | None = None
    location: str = ""
    meeting_url: str = ""
    proposed_times: tuple[datetime, ...] = ()
    confidence: float = 0.0
    reasons: tuple[str, ...] = ()
    error: str = ""
    # message facts
    message_id: str = ""
    in_reply_to: str = ""
    references: tuple[str, ...] = ()
    sender: Person | None = None
    subject: str = ""
    sent_at: datetime | None = None
    from_owner: bool = False  # From is an owner address and authentication (if configured) passed
    trusted: bool = False  # may lead to mail to a third party
    forwarded: bool = False
    role_hint: Role | None = None  # "#adviser" / "#seeker" in the owner's text
    notes: str = ""  # the owner's notes, quoted text and signature stripped
    do_not_contact: bool = False  # the contact asked to stop
    replied_to: str = ""  # the Message-ID of ours this message answers
    attachments: tuple[SavedAttachment, ...] = ()
    other_events: tuple[str, ...] = ()  # UIDs/summaries of VEVENTs kept but not chosen
    status: str = ""  # the event's STATUS (CONFIRMED, TENTATIVE, CANCELLED) as written
    forwarded_from: Person | None = None  # who wrote the forwarded message, when it is a forward
    original_message_id: str = ""  # a forward's original Message-ID, when it came whole (message/rfc822)
    series_calendar: str = ""  # a recurring series: the calendar text its later occurrences are read from
    series_occurrence: str = ""  # ...and the RECURRENCE-ID (``zones.to_utc``) of the occurrence ``start`` is
    #: broken calendar properties that decide identity, time, recurrence or status: never guessed, so the
    #: meeting waits for the owner's ``confirm``
    doubts: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The stable, documented JSON schema of ``mailflow inspect``.

        Documented in README ("What mailflow understands"); keys are only ever
        added.  ``description`` and the ``series_*`` fields stay out (they can be
        long and private) and attachments appear as name, type and size, never
        their bytes.
        """
        data = asdict(self)
        data.pop("attachments")
        data.pop("description")
        data.pop("series_calendar")
        data.pop("series_occurrence")
        data["attachments"] = [
            {"filename": a.filename, "content_type": a.content_type, "size": len(a.data)}
            for a in self.attachments
        ]
        result: dict[str, Any] = _jsonable(data)
        return result


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


@dataclass(frozen=True)
class MessageRef:
    """Where a message lives: the source's own coordinates."""

    account: str  # "mailbox" or a path for maildir
    folder: str
    uidvalidity: int
    uid: int
    location: str = ""  # human-readable: "imap://host/INBOX;UIDVALIDITY=1/;UID=42" or a file path


@dataclass(frozen=True)
class Receipt:
    """What a sink did with a message."""

    message_id: str
    where: str  # "smtp host:port", "Drafts on host", a file path
    detail: str = ""
