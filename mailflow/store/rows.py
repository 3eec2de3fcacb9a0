"""What the store returns and takes: frozen dataclasses, one per table row.

Every datetime here is aware and in UTC.  ``MeetingData`` and ``MessageData``
are inputs (what an invite or a message says); the ``*Row`` classes are
outputs with their database ``id``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from mailflow.model import MessageRef

Direction = Literal["in", "out"]


@dataclass(frozen=True)
class ContactRow:
    id: int
    address: str
    name: str
    names: tuple[str, ...]  # every display name seen
    do_not_contact: bool
    do_not_contact_reason: str
    timezone: str
    last_reply_at: datetime | None
    created_at: datetime
    updated_at: datetime
    owner_id: int = 1  # whose contact: a person is a contact of each owner separately


@dataclass(frozen=True)
class MeetingData:
    """What an invite (or an update or cancellation of one) says about a meeting.

    ``state`` is "scheduled" for a REQUEST, "cancelled" for a CANCEL.  ``role``
    is the inferred role; it never overwrites a role the owner set.
    ``counterpart_id`` fills an empty counterpart, never replaces one.
    """

    ical_uid: str
    recurrence_id: str = ""
    sequence: int = 0
    dtstamp: datetime | None = None
    start_at: datetime | None = None
    end_at: datetime | None = None
    all_day: bool = False
    timezone: str = ""
    contact_timezone: str = ""
    summary: str = ""
    description: str = ""
    location: str = ""
    meeting_url: str = ""
    organizer: str = ""
    state: str = "scheduled"
    role: str = "seeker"
    counterpart_id: int | None = None
    needs_counterpart: bool = False
    trusted: bool = False
    recurring: bool = False
    source_message_id: str = ""


@dataclass(frozen=True)
class MeetingRow:
    id: int
    ical_uid: str | None
    recurrence_id: str
    sequence: int
    dtstamp: datetime | None
    start_at: datetime | None
    end_at: datetime | None
    all_day: bool
    timezone: str
    contact_timezone: str
    summary: str
    description: str
    location: str
    meeting_url: str
    organizer: str
    state: str
    role: str
    role_set_by_owner: bool
    counterpart_id: int | None
    needs_counterpart: bool
    trusted: bool
    confirmed: bool
    paused: bool
    recurring: bool
    source_message_id: str
    last_contact_reply_at: datetime | None
    scheduled_at: datetime | None
    rescheduled_at: datetime | None
    confirmed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    owner_id: int = 1


@dataclass(frozen=True)
class MessageData:
    """One message seen (``ref`` set, direction "in") or sent (``ref`` None, direction "out")."""

    ref: MessageRef | None
    direction: Direction = "in"
    message_id: str = ""
    content_hash: str = ""
    kind: str = ""
    meeting_id: int | None = None
    contact_id: int | None = None
    step_id: int | None = None
    sender: str = ""
    subject: str = ""
    in_reply_to: str = ""
    sent_at: datetime | None = None
    error: str = ""


@dataclass(frozen=True)
class MessageRow:
    id: int
    account: str | None
    folder: str | None
    uidvalidity: int | None
    uid: int | None
    direction: str
    message_id: str
    content_hash: str
    kind: str
    meeting_id: int | None
    contact_id: int | None
    step_id: int | None
    sender: str
    subject: str
    in_reply_to: str
    sent_at: datetime | None
    seen_at: datetime
    error: str
    location: str
    owner_id: int = 1


@dataclass(frozen=True)
class StepRow:
    id: int
    meeting_id: int
    step: str
    occurrence: int
    due_at: datetime
    mode: str
    state: str
    attempts: int
    last_error: str
    reason: str
    message_id: str | None
    next_attempt_at: datetime | None
    sent_at: datetime | None
    receipt: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class NoteRow:
    id: int
    meeting_id: int
    text: str
    source: str
    message_id: str
    created_at: datetime


@dataclass(frozen=True)
class AttachmentRow:
    id: int
    meeting_id: int | None
    contact_id: int | None
    path: str
    filename: str
    content_type: str
    size: int
    sha256: str
    message_id: str
    created_at: datetime


@dataclass(frozen=True)
class ContactNoteRow:
    """What the owner noted about a person (not about one meeting)."""

    id: int
    contact_id: int
    text: str
    source: str
    message_id: str
    created_at: datetime


@dataclass(frozen=True)
class OwnerMailRow:
    """A mail to the owner outside the playbook (an acknowledgement of a forward)."""

    id: int
    kind: str
    key: str
    meeting_id: int | None
    contact_id: int | None
    state: str
    due_at: datetime
    in_reply_to: str
    reference_ids: tuple[str, ...]  # the References, oldest first
    message_id: str | None
    attempts: int
    last_error: str
    receipt: str
    sent_at: datetime | None
    created_at: datetime
    updated_at: datetime
    owner_id: int = 1


@dataclass(frozen=True)
class OwnerData:
    """Who mailflow works for: what ``[owner]`` (and the owner's own drafts, templates and playbook) say.

    Never a secret: passwords stay in the environment or a command.
    """

    name: str = ""
    addresses: tuple[str, ...] = ()
    timezone: str = "UTC"
    story: str = ""
    availability: str = ""
    default_role: str = ""  # "", "seeker" or "adviser"
    drafts: dict[str, Any] = field(default_factory=dict)  # the drafts account, without its secrets
    templates_folder: str = ""
    playbook: dict[str, Any] = field(default_factory=dict)  # the owner's [playbook] overrides


@dataclass(frozen=True)
class OwnerRow(OwnerData):
    id: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None
