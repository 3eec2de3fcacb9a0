"""The tables of mailflow and the UTC time type.

Names here are the names everywhere: contacts, meetings, messages, cursors,
steps, notes, attachments, daemon_state; ``schema_migrations`` is the
migration runner's bookkeeping.

Strings from mail are :class:`Clipped` to their column's length.  Times are
stored as naive UTC (``timestamp without time zone`` on PostgreSQL,
ISO text on SQLite, which keeps no tzinfo) through :class:`UTCDateTime`, which
accepts only aware datetimes and returns aware UTC ones: the store's API never
sees a naive datetime.

These are the tables as they are now.  Migration 1 creates version 1's tables
from their frozen copy in ``schema_frozen.py`` (pinned by
``tests/store/test_schema_snapshot.py``); a later change is a new table created
by its own migration (``meeting_series``, migration 2), or a change to a table
made by a migration that alters existing databases (``migrations.rebuild`` on
SQLite, where a constraint cannot be altered in place).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out; naive UTC in the database."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"the store takes aware datetimes only, got naive {value.isoformat()}")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Clipped(TypeDecorator[str]):
    """A bounded string that may come from mail (hostile input): a longer value is cut.

    The cut applies to every bound value, lookups included, so a 5,000-character
    Message-ID is stored and found the same way instead of failing a whole
    batch on PostgreSQL (which enforces VARCHAR lengths; SQLite does not).
    """

    impl = String
    cache_ok = True

    def __init__(self, length: int) -> None:
        super().__init__(length)
        self.limit = length

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else value[: self.limit]


NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
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


#: the people mailflow works for; owner 1 is the ``[owner]`` of the configuration (written at every start).
#: Secrets never come here: passwords stay in the environment or a command.
owners = Table(
    "owners",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False, default=""),
    Column("addresses", Text, nullable=False, default="[]"),  # JSON list, lower case
    Column("timezone", Clipped(64), nullable=False, default="UTC"),
    Column("story", Text, nullable=False, default=""),
    Column("availability", Text, nullable=False, default=""),
    Column("default_role", Clipped(16), nullable=False, default=""),  # "", "seeker" or "adviser"
    Column("drafts", Text, nullable=False, default="{}"),  # JSON: the drafts account, without secrets
    Column("templates_folder", Text, nullable=False, default=""),
    Column("playbook", Text, nullable=False, default="{}"),  # JSON: the owner's [playbook] overrides
    *_stamps(),
)

contacts = Table(
    "contacts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("owner_id", Integer, ForeignKey("owners.id"), nullable=False, default=1),
    Column("address", Clipped(320), nullable=False),
    Column("name", Text, nullable=False, default=""),
    Column("names", Text, nullable=False, default=""),  # every display name seen, one per line
    Column("do_not_contact", Boolean, nullable=False, default=False),
    Column("do_not_contact_reason", Text, nullable=False, default=""),
    Column("timezone", Clipped(64), nullable=False, default=""),
    Column("last_reply_at", UTCDateTime, nullable=True),
    *_stamps(),
    UniqueConstraint("owner_id", "address"),  # a person who told Ana to stop has not told Ben
    Index(None, "owner_id"),
)

meetings = Table(
    "meetings",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("owner_id", Integer, ForeignKey("owners.id"), nullable=False, default=1),
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
    UniqueConstraint("owner_id", "ical_uid", "recurrence_id"),  # two owners invited to one event
    _one_of("state", MEETING_STATES, "state"),
    Index(None, "owner_id"),
    _one_of("role", ("seeker", "adviser"), "role"),
    Index(None, "counterpart_id"),
    Index(None, "start_at"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("owner_id", Integer, ForeignKey("owners.id"), nullable=False, default=1),
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
    Index(None, "owner_id"),
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

#: a recurring meeting's calendar text, read again to find its next occurrence as time passes
meeting_series = Table(
    "meeting_series",
    metadata,
    Column("meeting_id", Integer, ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True),
    Column("calendar", Text, nullable=False),
    # the RECURRENCE-ID (``zones.to_utc``) of the occurrence the meeting row stands for
    Column("occurrence", Clipped(64), nullable=False, default=""),
    Column("updated_at", UTCDateTime, nullable=False),
)

#: messages being understood right now, so one that was being read when mailflow died is counted,
#: and after two deaths kept aside (quarantined) instead of read again forever
intake_attempts = Table(
    "intake_attempts",
    metadata,
    Column("source", Clipped(1000), primary_key=True),
    Column("uidvalidity", BigInteger, primary_key=True, autoincrement=False),
    Column("uid", BigInteger, primary_key=True, autoincrement=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("updated_at", UTCDateTime, nullable=False),
)

#: what the owner noted about a person, not about one meeting (an owner forward tagged ``#note``)
contact_notes = Table(
    "contact_notes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("contact_id", Integer, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
    Column("text", Text, nullable=False),
    Column("source", Clipped(16), nullable=False, default="mail"),  # mail | cli
    Column("message_id", Clipped(1000), nullable=False, default=""),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "contact_id"),
)

#: why a meeting waits for the owner's confirm: calendar properties that decide it could not be read
meeting_doubts = Table(
    "meeting_doubts",
    metadata,
    Column("meeting_id", Integer, ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True),
    Column("reasons", Text, nullable=False),  # one per line
    Column("message_id", Clipped(1000), nullable=False, default=""),  # the message that raised them
    Column("created_at", UTCDateTime, nullable=False),
)

OWNER_MAIL_STATES = ("pending", "sending", "sent", "uncertain", "failed", "cancelled")

#: mail to the owner that is not a step of the playbook (an acknowledgement of a forward), under the
#: same outbox rule as steps: pending -> sending (Message-ID stored first) -> sent | uncertain | failed
owner_mail = Table(
    "owner_mail",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("owner_id", Integer, ForeignKey("owners.id"), nullable=False, default=1),
    Column("kind", Clipped(32), nullable=False),  # "acknowledge"
    Column("key", Clipped(200), nullable=False),  # at most one mail per key, ever: "acknowledge:12"
    Column("meeting_id", Integer, ForeignKey("meetings.id", ondelete="CASCADE"), nullable=True),
    Column("contact_id", Integer, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=True),
    Column("state", Clipped(16), nullable=False, default="pending"),
    Column("due_at", UTCDateTime, nullable=False),
    Column("in_reply_to", Clipped(1000), nullable=False, default=""),  # the owner's mail it answers
    Column("reference_ids", Text, nullable=False, default=""),  # space-separated Message-IDs (References)
    Column("message_id", Clipped(1000), nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=False, default=""),
    Column("receipt", Text, nullable=False, default=""),
    Column("sent_at", UTCDateTime, nullable=True),
    *_stamps(),
    UniqueConstraint("key"),
    _one_of("state", OWNER_MAIL_STATES, "state"),
    Index(None, "state", "due_at"),
    Index(None, "message_id"),
    Index(None, "owner_id"),
)

#: the runner's bookkeeping; not part of any migration, so it is defined apart
bookkeeping = MetaData(naming_convention=NAMING)
schema_migrations = Table(
    "schema_migrations",
    bookkeeping,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("name", String(200), nullable=False),
    Column("applied_at", UTCDateTime, nullable=False),
)
