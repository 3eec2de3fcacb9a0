"""A step's mail from the store: rows in, compose's context, the EmailMessage out.

:class:`StepRenderer` is the dispatcher's default ``render``: it reads the
step's meeting, contact, notes, files and earlier meetings in one read
transaction, fills a :class:`~mailflow.compose.context.ComposeContext`, and
lets :func:`~mailflow.compose.outgoing.compose_step` build the message with
the Message-ID the dispatcher chose, threaded onto the meeting's source
message (the invite or request) with In-Reply-To and References.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Literal

from mailflow import clock
from mailflow.compose.context import ComposeContext, ContactInfo, MeetingInfo, OwnerInfo
from mailflow.compose.message import make_message_id, message_id_domain
from mailflow.compose.outgoing import Outgoing, compose_step
from mailflow.config import Settings
from mailflow.engine.planning import occurrence_notes, occurrence_of
from mailflow.errors import PermanentError
from mailflow.owners import CONFIGURED, settings_for
from mailflow.store import ContactRow, MeetingRow, StepRow, Store, StoreTx
from mailflow.store.rows import NoteRow, OwnerRow


def new_message_id(settings: Settings) -> str:
    """A fresh Message-ID on ``[sending] message_id_domain``, else the From address's domain."""
    return make_message_id(message_id_domain(settings))


@dataclass(frozen=True)
class StepInputs:
    """What the store knows that a step's mail may use."""

    step: StepRow
    meeting: MeetingRow
    contact: ContactRow | None
    context: ComposeContext
    in_reply_to: str
    references: tuple[str, ...]


class StepRenderer:
    """``render(step, message_id) -> EmailMessage`` over a store and the settings."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    def __call__(self, step: StepRow, message_id: str) -> EmailMessage:
        return self.compose(step, message_id).message

    def compose(self, step: StepRow, message_id: str) -> Outgoing:
        with self.store.read() as tx:
            inputs = gather(tx, step, self.settings)
            owner = tx.get_owner(inputs.meeting.owner_id)
        # the meeting's owner's settings: their zone, availability, From, templates and playbook
        settings = settings_for(self.settings, owner) if owner is not None else self.settings
        return compose_step(
            step.step,
            inputs.context,
            settings,
            message_id=message_id,
            key=f"{step.meeting_id}/{step.step}/{step.occurrence}",
            in_reply_to=inputs.in_reply_to,
            references=inputs.references,
            now=clock.now(),
        )


def gather(tx: StoreTx, step: StepRow, settings: Settings) -> StepInputs:
    """Everything the step's mail is made of (PermanentError when its meeting is gone)."""
    meeting = tx.get_meeting(step.meeting_id)
    if meeting is None:
        raise PermanentError(
            f"step {step.id}: its meeting {step.meeting_id} no longer exists", backend="compose"
        )
    spec = settings.steps.get(step.step)
    per_occurrence = (
        spec is not None and spec.per == "occurrence"
    )  # written from one occurrence's times and notes
    if per_occurrence and step.occurrence != occurrence_of(meeting):
        raise PermanentError(
            f"step {step.id} ({step.step}) belongs to an occurrence its meeting no longer stands for (a series "
            "that moved on, or one that became a single meeting); it is not sent with other dates",
            backend="compose",
        )
    contact = tx.get_contact(meeting.counterpart_id) if meeting.counterpart_id is not None else None
    source = meeting.source_message_id.strip()
    context = ComposeContext(
        owner=owner_info(settings, tx.get_owner(meeting.owner_id)),
        contact=contact_info(contact, meeting),
        meeting=meeting_info(tx, meeting, with_notes=False),
        role=_role(meeting.role),
        notes=_text_of(occurrence_notes(tx, meeting)),
        earlier_meetings=earlier_meetings(tx, meeting),
        follow_up_at=_proposal_due(tx, settings, meeting.id, step.occurrence),
    )
    return StepInputs(step, meeting, contact, context, source, (source,) if source else ())


def owner_info(settings: Settings, owner: OwnerRow | None = None) -> OwnerInfo:
    """The owner a mail is written for: the meeting's owner's record; owner 1's record is the configuration's
    ``[owner]`` (written at every start), so for owner 1 the settings are read, as before any record existed."""
    if owner is not None and owner.id != CONFIGURED:
        address = owner.addresses[0] if owner.addresses else ""
        return OwnerInfo(name=owner.name, address=address, timezone=owner.timezone, story=owner.story)
    section = settings.owner
    address = section.addresses[0] if section.addresses else ""
    return OwnerInfo(name=section.name, address=address, timezone=section.timezone, story=section.story)


def contact_info(contact: ContactRow | None, meeting: MeetingRow) -> ContactInfo:
    """The counterpart; for a meeting without one (owner mail only), an empty contact."""
    if contact is None:
        return ContactInfo(name="", address="", timezone=meeting.contact_timezone)
    return ContactInfo(
        name=contact.name, address=contact.address, timezone=meeting.contact_timezone or contact.timezone
    )


def meeting_info(tx: StoreTx, meeting: MeetingRow, *, with_notes: bool) -> MeetingInfo:
    files = tuple(a.filename for a in tx.list_attachments(meeting_id=meeting.id) if a.filename)
    return MeetingInfo(
        summary=meeting.summary,
        start=meeting.start_at,
        end=meeting.end_at,
        all_day=meeting.all_day,
        location=meeting.location,
        url=meeting.meeting_url,
        subject=_source_subject(tx, meeting),
        files=files,
        notes=notes_of(tx, meeting.id) if with_notes else "",
    )


def notes_of(tx: StoreTx, meeting_id: int) -> str:
    """The owner's notes of a meeting, oldest first, one paragraph each."""
    return _text_of(tx.list_notes(meeting_id))


def _text_of(notes: list[NoteRow]) -> str:
    return "\n\n".join(note.text.strip() for note in notes if note.text.strip())


def earlier_meetings(tx: StoreTx, meeting: MeetingRow) -> tuple[MeetingInfo, ...]:
    """The contact's other meetings that started before this one, not cancelled, oldest first."""
    if meeting.counterpart_id is None or meeting.start_at is None:
        return ()
    others = tx.list_meetings(contact_id=meeting.counterpart_id, start_until=meeting.start_at)
    return tuple(
        meeting_info(tx, other, with_notes=True)
        for other in others
        if other.id != meeting.id and other.state != "cancelled"
    )


def _source_subject(tx: StoreTx, meeting: MeetingRow) -> str:
    if not meeting.source_message_id:
        return ""
    found = tx.find_messages_by_message_id(meeting.source_message_id)
    return found[0].subject if found else ""


def _proposal_due(tx: StoreTx, settings: Settings, meeting_id: int, occurrence: int) -> datetime | None:
    """When the follow-up (the step that proposes the next coffee) of this occurrence is due."""
    proposing = {spec.name for spec in settings.steps.attaching("proposal")}
    for row in tx.list_steps(meeting_id):
        if row.step in proposing and row.occurrence == occurrence and row.state != "cancelled":
            return row.due_at
    return None


def _role(value: str) -> Literal["seeker", "adviser"]:
    return "adviser" if value == "adviser" else "seeker"
