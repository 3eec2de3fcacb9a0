"""The Store: the one place in mailflow that queries the database.

Why SQLAlchemy Core and not the ORM: every operation here is a single,
deliberate statement whose atomicity matters (claim a step only if it is
still pending; update a meeting only if the invite is newer), and the rest of
mailflow wants frozen values, not live objects bound to a session.  Core
statements say exactly what runs, on SQLite and PostgreSQL alike, and the
rows become frozen dataclasses (``rows.py``) at this edge.

Use::

    store = Store.open(settings.database_url())   # migrates to the latest version
    with store.transaction() as tx:               # BEGIN IMMEDIATE on SQLite
        contact = tx.upsert_contact("ana@example.org", "Ana")
        tx.set_cursor("mailbox", "7:42")          # commits with the records, or not at all
    with store.read() as tx:                      # a plain (deferred) BEGIN for readers
        meetings = tx.list_meetings()

Every query lives on :class:`StoreTx`: contacts and meetings here, messages,
cursors, daemon state, notes and attachments in its base ``records.py``, steps
in ``queries.py``, notes about a contact and mail to the owner in
``owner_records.py`` (split only to keep modules short; nothing else in mailflow
writes SQL).  Every datetime in and out is aware
UTC; a database error leaves as :class:`~mailflow.errors.StoreError`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, case, delete, func, literal, or_, select, update
from sqlalchemy.exc import DBAPIError, StatementError

from mailflow import clock
from mailflow.errors import StoreError
from mailflow.store import migrations
from mailflow.store.engine import BEGIN_OPTION, make_engine, safe_url
from mailflow.store.owner_records import OwnerRecordQueries
from mailflow.store.queries import normalise_address, one
from mailflow.store.rows import (
    ContactRow,
    MeetingData,
    MeetingRow,
)
from mailflow.store.schema import (
    attachments,
    contact_notes,
    contacts,
    meeting_doubts,
    meeting_series,
    meetings,
    messages,
    owner_mail,
)
from mailflow.store.series import SeriesQueries

#: meeting fields an invite may change (owner decisions are never among them)
_INVITE_FIELDS = [
    "sequence",
    "dtstamp",
    "start_at",
    "end_at",
    "all_day",
    "timezone",
    "summary",
    "description",
    "location",
    "meeting_url",
    "organizer",
    "state",
    "trusted",
    "recurring",
    "source_message_id",
]


class Store:
    """A database by URL.  ``Store(url)`` connects lazily; :meth:`open` also migrates."""

    def __init__(self, url: str, *, busy_timeout: float = 30.0, owner_id: int = 1) -> None:
        self.url = safe_url(url)
        self.engine: Engine = make_engine(url, busy_timeout=busy_timeout)
        #: whose records its transactions read and write (owner 1: the configuration's ``[owner]``)
        self.owner_id = owner_id

    @classmethod
    def open(cls, url: str, *, busy_timeout: float = 30.0, owner_id: int = 1) -> Store:
        """The store at ``url``, upgraded to the latest schema (StoreError if it is newer)."""
        store = cls(url, busy_timeout=busy_timeout, owner_id=owner_id)
        store.upgrade()
        return store

    def upgrade(self) -> list[int]:
        """Apply pending migrations; the versions applied (empty when up to date)."""
        with self._errors("upgrade"):
            return migrations.upgrade(self.engine)

    def schema_status(self) -> migrations.SchemaStatus:
        with self._errors("read the schema version of"):
            return migrations.status(self.engine)

    @contextmanager
    def transaction(self) -> Iterator[StoreTx]:
        """A write transaction: everything in it commits together or not at all."""
        with self._begin("IMMEDIATE") as tx:
            yield tx

    @contextmanager
    def read(self) -> Iterator[StoreTx]:
        """A read transaction (deferred on SQLite, so it never waits for a writer)."""
        with self._begin("DEFERRED") as tx:
            yield tx

    def close(self) -> None:
        self.engine.dispose()

    def as_owner(self, owner_id: int) -> Store:
        """The same database, its transactions scoped to ``owner_id`` (shares the engine; close this one only)."""
        other = object.__new__(Store)
        other.url, other.engine, other.owner_id = self.url, self.engine, owner_id
        return other

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @contextmanager
    def _begin(self, mode: str) -> Iterator[StoreTx]:
        with self._errors("use"), self.engine.connect() as connection:
            connection = connection.execution_options(**{BEGIN_OPTION: mode})
            with connection.begin():
                yield StoreTx(connection, self.owner_id)

    @contextmanager
    def _errors(self, verb: str) -> Iterator[None]:
        try:
            yield
        except DBAPIError as exc:
            reason = " ".join(str(exc.orig).split())[:300]
            raise StoreError(
                f"could not {verb} the database {self.url}: {reason}",
                hint="check that the database is reachable and writable; `mailflow db status` shows its version",
            ) from exc
        except StatementError as exc:  # a bad value (a naive datetime): the caller's bug, not the database's
            raise ValueError(str(exc.orig)) from exc


class StoreTx(SeriesQueries, OwnerRecordQueries):
    """The queries, bound to one open transaction (``.connection``)."""

    # -- contacts ------------------------------------------------------
    def upsert_contact(self, address: str, name: str = "") -> ContactRow:
        """The contact for ``address`` (normalised), created or given ``name`` as another display name."""
        address, name, now = normalise_address(address), name.strip(), clock.now()
        if not address:
            raise ValueError("upsert_contact needs an e-mail address")
        values = {
            "owner_id": self.owner_id, "address": address, "name": name, "names": name, "created_at": now,
            "updated_at": now,
        }  # fmt: skip
        inserted = self._insert_returning(contacts, values, ["owner_id", "address"])
        if inserted is not None:
            return _contact(inserted)
        self._merge_name(address, name, now)
        return one(self.find_contact(address))

    def _merge_name(self, address: str, name: str, now: datetime) -> None:
        current = one(self.find_contact(address))
        if not name or name in current.names:
            return
        self.connection.execute(
            update(contacts)
            .where(contacts.c.address == address, self._mine(contacts))
            .values(name=current.name or name, names="\n".join((*current.names, name)), updated_at=now)
        )

    def find_contact(self, address: str) -> ContactRow | None:
        row = self._first(
            select(contacts).where(contacts.c.address == normalise_address(address), self._mine(contacts))
        )
        return None if row is None else _contact(row)

    def get_contact(self, contact_id: int) -> ContactRow | None:
        row = self._first(select(contacts).where(contacts.c.id == contact_id, self._mine(contacts)))
        return None if row is None else _contact(row)

    def list_contacts(self, *, search: str = "") -> list[ContactRow]:
        query = select(contacts).where(self._mine(contacts)).order_by(contacts.c.address)
        if search:
            pattern = f"%{search.lower()}%"
            query = query.where(
                or_(contacts.c.address.like(pattern), func.lower(contacts.c.names).like(pattern))
            )
        return [_contact(r) for r in self.connection.execute(query)]

    def set_do_not_contact(self, contact_id: int, reason: str, *, flag: bool = True) -> bool:
        return self._set(
            contacts, contact_id, do_not_contact=flag, do_not_contact_reason=reason if flag else ""
        )

    def set_contact_timezone(self, contact_id: int, timezone: str) -> bool:
        return self._set(contacts, contact_id, timezone=timezone)

    def record_contact_reply(self, contact_id: int, at: datetime, *, meeting_id: int | None = None) -> None:
        """The contact answered at ``at``: restarts their stay-in-touch clock (and the meeting's)."""
        self._set(contacts, contact_id, last_reply_at=at)
        if meeting_id is not None:
            self._set(meetings, meeting_id, last_contact_reply_at=at)

    def forget_contact(self, contact_id: int) -> list[str]:
        """Delete the contact, their notes, meetings (steps, notes, attachments), mail to the owner about
        either, and scrub their messages.

        Message rows stay, emptied and marked "forgotten", so that a resync of the
        mailbox does not bring the person back.  Returns the attachment paths
        (relative to the data folder) whose files the caller should delete.
        """
        contact = self.get_contact(contact_id)
        if contact is None:
            return []
        meeting_ids = list(
            self.connection.scalars(
                select(meetings.c.id).where(meetings.c.counterpart_id == contact_id, self._mine(meetings))
            )
        )
        owned = or_(attachments.c.contact_id == contact_id, attachments.c.meeting_id.in_(meeting_ids))
        paths = list(self.connection.scalars(select(attachments.c.path).where(owned)))
        theirs = or_(
            messages.c.contact_id == contact_id,
            messages.c.meeting_id.in_(meeting_ids),
            and_(messages.c.sender == contact.address, self._mine(messages)),
        )
        self.connection.execute(
            update(messages)
            .where(theirs, self._mine(messages))
            .values(
                kind="forgotten",
                sender="",
                subject="",
                in_reply_to="",
                error="",
                meeting_id=None,
                contact_id=None,
                step_id=None,
            )
        )
        self.connection.execute(delete(attachments).where(owned))
        # explicitly, not by ON DELETE CASCADE alone: on SQLite that needs foreign keys on, as
        # mailflow's engine sets them but a connection made some other way may not
        self.connection.execute(delete(contact_notes).where(contact_notes.c.contact_id == contact_id))
        self.connection.execute(
            delete(owner_mail).where(
                or_(owner_mail.c.contact_id == contact_id, owner_mail.c.meeting_id.in_(meeting_ids)),
                self._mine(owner_mail),
            )
        )
        self.connection.execute(delete(meeting_doubts).where(meeting_doubts.c.meeting_id.in_(meeting_ids)))
        self.connection.execute(delete(meetings).where(meetings.c.id.in_(meeting_ids)))
        # other series whose kept calendar names them (an attendee of a group series) are no longer followed
        named = [
            meeting_id
            for meeting_id, calendar in self.connection.execute(
                select(meeting_series.c.meeting_id, meeting_series.c.calendar).where(
                    meeting_series.c.meeting_id.in_(self._my_meeting_ids())
                )
            )
            if contact.address in calendar_addresses(calendar)
        ]
        self.connection.execute(delete(meeting_series).where(meeting_series.c.meeting_id.in_(named)))
        self.connection.execute(delete(contacts).where(contacts.c.id == contact_id))
        # files are stored by content: one another contact also sent must stay on disk
        shared = set(self.connection.scalars(select(attachments.c.path).where(attachments.c.path.in_(paths))))
        return [path for path in paths if path not in shared]

    # -- meetings ------------------------------------------------------
    def upsert_meeting(self, data: MeetingData) -> tuple[MeetingRow, bool]:
        """Insert or update the meeting of (ical_uid, recurrence_id); True when ``data`` was applied.

        An update applies only when it is newer: a higher SEQUENCE, or the same
        SEQUENCE with a later DTSTAMP.  A lower SEQUENCE, or the same one with an
        older, equal or missing DTSTAMP, never overwrites (the row comes back unchanged).
        """
        if not data.ical_uid:
            raise ValueError("upsert_meeting needs an iCal UID; use create_request for a plain request")
        if data.counterpart_id is not None:
            self._require_contact(data.counterpart_id)
        values = {**_invite_values(data), **_new_meeting_values(data), **_timeline_values(data, new=True)}
        values["owner_id"] = self.owner_id
        inserted = self._insert_returning(meetings, values, ["owner_id", "ical_uid", "recurrence_id"])
        if inserted is not None:  # one statement for a new meeting, the common case of a first sync
            return MeetingRow(**inserted._mapping), True
        applied = self._apply_if_newer(data)
        return one(self.find_meeting(data.ical_uid, data.recurrence_id)), applied

    def _apply_if_newer(self, data: MeetingData) -> bool:
        c = meetings.c
        newer = c.sequence < data.sequence
        if data.dtstamp is not None:
            newer = or_(
                newer, and_(c.sequence == data.sequence, or_(c.dtstamp.is_(None), c.dtstamp < data.dtstamp))
            )
        where = and_(
            c.ical_uid == data.ical_uid, c.recurrence_id == data.recurrence_id, newer, self._mine(meetings)
        )
        values = {**_timeline_values(data, new=False), **_invite_values(data), **_owner_safe_values(data)}
        stmt = update(meetings).where(where).values(**values)
        return self.connection.execute(stmt).rowcount == 1

    def create_request(
        self,
        counterpart_id: int | None,
        *,
        summary: str = "",
        role: str = "seeker",
        trusted: bool = False,
        source_message_id: str = "",
        start_at: datetime | None = None,
        end_at: datetime | None = None,
    ) -> MeetingRow:
        """A meeting from a plain request (no invite yet): state "requested", no iCal UID."""
        if counterpart_id is not None:
            self._require_contact(counterpart_id)
        now = clock.now()
        values = {
            "ical_uid": None, "recurrence_id": "", "state": "requested", "summary": summary, "role": role,
            "counterpart_id": counterpart_id, "needs_counterpart": counterpart_id is None, "trusted": trusted,
            "source_message_id": source_message_id, "start_at": start_at, "end_at": end_at,
            "created_at": now, "updated_at": now, "owner_id": self.owner_id,
        }  # fmt: skip
        new_id = self.connection.execute(meetings.insert().values(**values)).inserted_primary_key
        return one(self.get_meeting(int(one(new_id)[0])))

    def find_open_request(self, counterpart_id: int) -> MeetingRow | None:
        """The latest plain request with this contact that no invite has answered yet."""
        c = meetings.c
        query = (
            select(meetings)
            .where(
                c.counterpart_id == counterpart_id,
                c.ical_uid.is_(None),
                c.state == "requested",
                self._mine(meetings),
            )
            .order_by(c.created_at.desc(), c.id.desc())
        )
        return self._meeting(self._first(query))

    def attach_invite(self, meeting_id: int, data: MeetingData) -> MeetingRow:
        """Upgrade a request's meeting with the invite that answers it (call only if the UID is new).

        The invite is trusted on its own (``data.trusted``) or not at all: the request's trust, which may
        rest on a forward alone, never passes to an invite someone else sent.
        """
        values: dict[str, Any] = {
            "ical_uid": data.ical_uid, "recurrence_id": data.recurrence_id, "trusted": data.trusted
        }  # fmt: skip
        if not data.trusted:  # nor its confirmation: the owner confirmed a request, not this invite
            values.update(confirmed=False, confirmed_at=None)
        stmt = update(meetings).where(
            meetings.c.id == meeting_id, meetings.c.ical_uid.is_(None), self._mine(meetings)
        )
        timeline = _timeline_values(data, new=False)
        self.connection.execute(
            stmt.values({**timeline, **_invite_values(data), **_owner_safe_values(data), **values})
        )
        return one(self.get_meeting(meeting_id))

    def find_meeting(self, ical_uid: str, recurrence_id: str = "") -> MeetingRow | None:
        c = meetings.c
        return self._meeting(
            self._first(
                select(meetings).where(
                    c.ical_uid == ical_uid, c.recurrence_id == recurrence_id, self._mine(meetings)
                )
            )
        )

    def get_meeting(self, meeting_id: int) -> MeetingRow | None:
        return self._meeting(
            self._first(select(meetings).where(meetings.c.id == meeting_id, self._mine(meetings)))
        )

    def list_meetings(
        self,
        *,
        contact_id: int | None = None,
        states: Iterable[str] | None = None,
        start_from: datetime | None = None,
        start_until: datetime | None = None,
    ) -> list[MeetingRow]:
        """Meetings by start time (those without one last), filtered."""
        c = meetings.c
        query = select(meetings).where(self._mine(meetings)).order_by(c.start_at.is_(None), c.start_at, c.id)
        if contact_id is not None:
            query = query.where(c.counterpart_id == contact_id)
        if states is not None:
            query = query.where(c.state.in_(list(states)))
        if start_from is not None:
            query = query.where(c.start_at >= start_from)
        if start_until is not None:
            query = query.where(c.start_at < start_until)
        return [MeetingRow(**r._mapping) for r in self.connection.execute(query)]

    def upcoming_meetings(self, now: datetime, until: datetime) -> list[MeetingRow]:
        return self.list_meetings(states=("scheduled",), start_from=now, start_until=until)

    def set_meeting_state(self, meeting_id: int, state: str) -> bool:
        return self._set(meetings, meeting_id, state=state)

    def set_role(self, meeting_id: int, role: str, *, by_owner: bool = True) -> bool:
        """Set the owner's role; once the owner sets it, invites never change it again."""
        return self._set(meetings, meeting_id, role=role, role_set_by_owner=by_owner)

    def set_counterpart(self, meeting_id: int, contact_id: int) -> bool:
        self._require_contact(contact_id)
        return self._set(meetings, meeting_id, counterpart_id=contact_id, needs_counterpart=False)

    def set_confirmed(self, meeting_id: int, confirmed: bool = True) -> bool:
        return self._set(
            meetings, meeting_id, confirmed=confirmed, confirmed_at=clock.now() if confirmed else None
        )

    def schedule_meeting(self, meeting_id: int) -> bool:
        """A pending meeting (an invite that waited for the owner) becomes scheduled, with its anchor."""
        c = meetings.c
        stmt = (
            update(meetings)
            .where(c.id == meeting_id, c.state == "pending", self._mine(meetings))
            .values(
                state="scheduled",
                scheduled_at=func.coalesce(c.scheduled_at, clock.now()),
                updated_at=clock.now(),
            )
        )
        return self.connection.execute(stmt).rowcount == 1

    def hold_for_confirm(self, meeting_id: int) -> bool:
        """Mail to the contact waits until the owner confirms the meeting again (an update that
        could not be read for sure); mail to the owner goes on."""
        return self._set(meetings, meeting_id, trusted=False, confirmed=False, confirmed_at=None)

    def set_trusted(self, meeting_id: int) -> bool:
        """The owner forwarded (or sent) this invite: it may now lead to mail to the contact."""
        return self._set(meetings, meeting_id, trusted=True)

    def set_paused(self, meeting_id: int, paused: bool) -> bool:
        return self._set(meetings, meeting_id, paused=paused)

    def set_contact_timezone_of_meeting(self, meeting_id: int, timezone: str) -> bool:
        return self._set(meetings, meeting_id, contact_timezone=timezone)

    def meeting_for_message_id(self, message_id: str) -> MeetingRow | None:
        """The meeting one of our mails with this Message-ID belongs to (for matching replies)."""
        step = self.find_step_by_message_id(message_id)
        if step is not None:
            return self.get_meeting(step.meeting_id)
        query = select(messages.c.meeting_id).where(
            messages.c.message_id == message_id, messages.c.meeting_id.is_not(None), self._mine(messages)
        )
        meeting_id = self.connection.scalar(query.limit(1))
        return None if meeting_id is None else self.get_meeting(meeting_id)

    # -- helpers ---------------------------------------------------------
    def _meeting(self, row: Any) -> MeetingRow | None:
        return None if row is None else MeetingRow(**row._mapping)


def _contact(row: Any) -> ContactRow:
    values = dict(row._mapping)
    values["names"] = tuple(n for n in values["names"].split("\n") if n)
    return ContactRow(**values)


def _invite_values(data: MeetingData) -> dict[str, Any]:
    values = {name: getattr(data, name) for name in _INVITE_FIELDS}
    values["updated_at"] = clock.now()
    return values


def _timeline_values(data: MeetingData, *, new: bool) -> dict[str, Any]:
    """``scheduled_at`` once, on the first scheduled state; ``rescheduled_at`` when the times move."""
    now = clock.now()
    if new:
        return {"scheduled_at": now if data.state == "scheduled" else None, "rescheduled_at": None}
    c = meetings.c
    moved = or_(c.start_at.is_distinct_from(data.start_at), c.end_at.is_distinct_from(data.end_at))
    values: dict[str, Any] = {"rescheduled_at": case((moved, now), else_=c.rescheduled_at)}
    if data.state == "scheduled":
        values["scheduled_at"] = func.coalesce(c.scheduled_at, now)
    return values


def _new_meeting_values(data: MeetingData) -> dict[str, Any]:
    return {
        "ical_uid": data.ical_uid, "recurrence_id": data.recurrence_id, "role": data.role,
        "counterpart_id": data.counterpart_id, "needs_counterpart": data.needs_counterpart and data.counterpart_id is None,
        "contact_timezone": data.contact_timezone, "created_at": clock.now(),
    }  # fmt: skip


def _owner_safe_values(data: MeetingData) -> dict[str, Any]:
    """Values for an update that keep what the owner decided (role, counterpart, time zone)."""
    c = meetings.c
    values: dict[str, Any] = {
        "role": case((c.role_set_by_owner, c.role), else_=data.role),
        "trusted": or_(
            c.trusted, literal(data.trusted)
        ),  # once the owner vouched for it, a later update keeps that
    }
    if data.counterpart_id is not None:
        values["counterpart_id"] = func.coalesce(c.counterpart_id, data.counterpart_id)
        values["needs_counterpart"] = False
    if data.contact_timezone:
        values["contact_timezone"] = data.contact_timezone
    return values


_FOLD = re.compile(r"\r?\n[ \t]")
_MAILTO = re.compile(r"mailto:([^\s;:,\"<>]+)", re.IGNORECASE)


def calendar_addresses(calendar: str) -> set[str]:
    """The addresses a calendar text names (ORGANIZER, ATTENDEE: ``mailto:``), lines unfolded, normalised."""
    return {normalise_address(found) for found in _MAILTO.findall(_FOLD.sub("", calendar))}
