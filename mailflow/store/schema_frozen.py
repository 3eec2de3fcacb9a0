"""Tables as the migration that created them made them, frozen: that migration builds exactly these, forever.

``schema.py`` holds the tables as they are now; when one of these changes there, a later migration
changes existing databases, and this module keeps what the earlier version was
(``tests/store/test_schema_snapshot.py`` pins version 1's DDL).  Never edit a table here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
)

from mailflow.store.schema import NAMING, Clipped, UTCDateTime

metadata = MetaData(naming_convention=NAMING)

MEETING_STATES = ("requested", "pending", "scheduled", "cancelled", "done")
STEP_STATES = ("pending", "sending", "sent", "uncertain", "failed", "skipped", "cancelled")


def _one_of(column: str, values: tuple[str, ...], name: str) -> CheckConstraint:
    listed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({listed})", name=name)


def _stamps() -> list[Column[Any]]:
    return [
        Column("created_at", UTCDateTime, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
    ]


contacts = Table(
    "contacts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("address", Clipped(320), nullable=False, unique=True),
    Column("name", Text, nullable=False, default=""),
    Column("names", Text, nullable=False, default=""),  # every display name seen, one per line
    Column("do_not_contact", Boolean, nullable=False, default=False),
    Column("do_not_contact_reason", Text, nullable=False, default=""),
    Column("timezone", Clipped(64), nullable=False, default=""),
    Column("last_reply_at", UTCDateTime, nullable=True),
    *_stamps(),
)

meetings = Table(
    "meetings",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ical_uid", Clipped(1000), nullable=True),  # None: a plain request without an invite
    Column("recurrence_id", Clipped(64), nullable=False, default=""),  # "" for the series or a single event
    Column("sequence", BigInteger, nullable=False, default=0),
    Column("dtstamp", UTCDateTime, nullable=True),
    Column("start_at", UTCDateTime, nullable=True),
    Column("end_at", UTCDateTime, nullable=True),
    Column("all_day", Boolean, nullable=False, default=False),
    Column("timezone", Clipped(64), nullable=False, default=""),
    Column("contact_timezone", Clipped(64), nullable=False, default=""),
    Column("summary", Text, nullable=False, default=""),
    Column("description", Text, nullable=False, default=""),
    Column("location", Text, nullable=False, default=""),
    Column("meeting_url", Text, nullable=False, default=""),
    Column("organizer", Clipped(320), nullable=False, default=""),
    Column("state", Clipped(16), nullable=False, default="pending"),
    Column("role", Clipped(16), nullable=False, default="seeker"),
    Column("role_set_by_owner", Boolean, nullable=False, default=False),
    Column("counterpart_id", Integer, ForeignKey("contacts.id", ondelete="SET NULL"), nullable=True),
    Column("needs_counterpart", Boolean, nullable=False, default=False),
    Column("trusted", Boolean, nullable=False, default=False),
    Column("confirmed", Boolean, nullable=False, default=False),
    Column("paused", Boolean, nullable=False, default=False),
    Column("recurring", Boolean, nullable=False, default=False),
    Column("source_message_id", Clipped(1000), nullable=False, default=""),
    Column("last_contact_reply_at", UTCDateTime, nullable=True),
    Column("scheduled_at", UTCDateTime, nullable=True),  # first recorded as scheduled (the planner's anchor)
    Column("rescheduled_at", UTCDateTime, nullable=True),  # when its times last changed
    Column("confirmed_at", UTCDateTime, nullable=True),  # when the owner confirmed it
    *_stamps(),
    UniqueConstraint("ical_uid", "recurrence_id"),
    _one_of("state", MEETING_STATES, "state"),
    _one_of("role", ("seeker", "adviser"), "role"),
    Index(None, "counterpart_id"),
    Index(None, "start_at"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", Integer, primary_key=True),
    # where it lives; all NULL for mail we sent (direction "out")
    Column("account", Clipped(1000), nullable=True),
    Column("folder", Clipped(1000), nullable=True),
    Column("uidvalidity", BigInteger, nullable=True),
    Column("uid", BigInteger, nullable=True),
    Column("direction", Clipped(3), nullable=False, default="in"),
    Column("message_id", Clipped(1000), nullable=False, default=""),
    Column("content_hash", Clipped(128), nullable=False, default=""),
    Column("kind", Clipped(32), nullable=False, default=""),  # what it was understood as
    Column("meeting_id", Integer, ForeignKey("meetings.id", ondelete="SET NULL"), nullable=True),
    Column("contact_id", Integer, ForeignKey("contacts.id", ondelete="SET NULL"), nullable=True),
    Column("step_id", Integer, ForeignKey("steps.id", ondelete="SET NULL"), nullable=True),
    Column("sender", Clipped(320), nullable=False, default=""),
    Column("subject", Text, nullable=False, default=""),
    Column("in_reply_to", Clipped(1000), nullable=False, default=""),
    Column("sent_at", UTCDateTime, nullable=True),  # the Date header
    Column("seen_at", UTCDateTime, nullable=False),  # when mailflow recorded it
    Column("error", Text, nullable=False, default=""),
    Column("location", Text, nullable=False, default=""),
    UniqueConstraint("account", "folder", "uidvalidity", "uid"),
    _one_of("direction", ("in", "out"), "direction"),
    Index(None, "message_id"),
    Index(None, "content_hash"),
    Index(None, "meeting_id"),
)

cursors = Table(
    "cursors",
    metadata,
    Column("source", Clipped(1000), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

steps = Table(
    "steps",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("meeting_id", Integer, ForeignKey("meetings.id", ondelete="CASCADE"), nullable=False),
    Column("step", Clipped(32), nullable=False),
    Column("occurrence", Integer, nullable=False, default=0),
    Column("due_at", UTCDateTime, nullable=False),
    Column("mode", Clipped(16), nullable=False),
    Column("state", Clipped(16), nullable=False, default="pending"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=False, default=""),
    Column("reason", Text, nullable=False, default=""),
    Column("message_id", Clipped(1000), nullable=True),
    Column("next_attempt_at", UTCDateTime, nullable=True),
    Column("sent_at", UTCDateTime, nullable=True),
    Column("receipt", Text, nullable=False, default=""),
    *_stamps(),
    UniqueConstraint("meeting_id", "step", "occurrence"),
    _one_of("state", STEP_STATES, "state"),
    _one_of("mode", ("send", "draft", "notify", "off"), "mode"),
    Index(None, "state", "due_at"),
    Index(None, "message_id"),
)

notes = Table(
    "notes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("meeting_id", Integer, ForeignKey("meetings.id", ondelete="CASCADE"), nullable=False),
    Column("text", Text, nullable=False),
    Column("source", Clipped(16), nullable=False, default="mail"),  # mail | cli
    Column("message_id", Clipped(1000), nullable=False, default=""),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "meeting_id"),
)

attachments = Table(
    "attachments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("meeting_id", Integer, ForeignKey("meetings.id", ondelete="CASCADE"), nullable=True),
    Column("contact_id", Integer, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=True),
    Column("path", Text, nullable=False),  # relative to the data folder
    Column("filename", Text, nullable=False, default=""),
    Column("content_type", Clipped(255), nullable=False, default=""),
    Column("size", BigInteger, nullable=False, default=0),
    Column("sha256", Clipped(64), nullable=False, default=""),
    Column("message_id", Clipped(1000), nullable=False, default=""),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "meeting_id"),
    Index(None, "contact_id"),
)

daemon_state = Table(
    "daemon_state",
    metadata,
    Column("key", Clipped(64), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)


#: what migration 1 created
V1_TABLES = (contacts, meetings, messages, cursors, steps, notes, attachments, daemon_state)

#: ``owner_mail`` as migration 4 created it (migration 5 gave it an owner)
owner_mail_v4 = Table(
    "owner_mail",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", Clipped(32), nullable=False),
    Column("key", Clipped(200), nullable=False),
    Column("meeting_id", Integer, ForeignKey("meetings.id", ondelete="CASCADE"), nullable=True),
    Column("contact_id", Integer, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=True),
    Column("state", Clipped(16), nullable=False, default="pending"),
    Column("due_at", UTCDateTime, nullable=False),
    Column("in_reply_to", Clipped(1000), nullable=False, default=""),
    Column("reference_ids", Text, nullable=False, default=""),
    Column("message_id", Clipped(1000), nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=False, default=""),
    Column("receipt", Text, nullable=False, default=""),
    Column("sent_at", UTCDateTime, nullable=True),
    *_stamps(),
    UniqueConstraint("key"),
    _one_of("state", ("pending", "sending", "sent", "uncertain", "failed", "cancelled"), "state"),
    Index(None, "state", "due_at"),
    Index(None, "message_id"),
)
