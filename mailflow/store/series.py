"""Queries of recurring series: the calendar each one came with, and moving it to its next occurrence.

Part of the query layer (see ``store.py``); a base of
:class:`~mailflow.store.store.StoreTx`, split off only to keep modules short.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, delete, func, select, update

from mailflow import clock
from mailflow.store.records import RecordQueries
from mailflow.store.rows import MeetingRow
from mailflow.store.schema import meeting_series, meetings

#: states in which a series still moves on to its next occurrence
FOLLOWED_STATES = ("pending", "scheduled")


class SeriesQueries(RecordQueries):
    """The ``meeting_series`` table and the occurrence a series' meeting row stands for."""

    def set_series(self, meeting_id: int, calendar: str, occurrence: str = "") -> None:
        """Keep ``calendar`` (the invite's calendar text) as the one this series' occurrences come from;
        ``occurrence``: the RECURRENCE-ID of the occurrence the meeting row stands for."""
        self._require_meeting(meeting_id)
        values = {"calendar": calendar, "occurrence": occurrence, "updated_at": clock.now()}
        if not self._insert_ignore(meeting_series, {"meeting_id": meeting_id, **values}, ["meeting_id"]):
            self.connection.execute(
                update(meeting_series).where(meeting_series.c.meeting_id == meeting_id).values(**values)
            )

    def series_occurrence(self, meeting_id: int) -> str | None:
        """The RECURRENCE-ID of the occurrence a followed series' row stands for ("" when not known)."""
        query = select(meeting_series.c.occurrence).where(
            meeting_series.c.meeting_id == meeting_id, meeting_series.c.meeting_id.in_(self._my_meeting_ids())
        )
        found: str | None = self.connection.scalar(query)
        return found

    def get_series(self, meeting_id: int) -> str | None:
        query = select(meeting_series.c.calendar).where(
            meeting_series.c.meeting_id == meeting_id, meeting_series.c.meeting_id.in_(self._my_meeting_ids())
        )
        found: str | None = self.connection.scalar(query)
        return found

    def overridden_occurrences(self, ical_uid: str) -> frozenset[str]:
        """The RECURRENCE-IDs of the series' occurrences that have a meeting row of their own."""
        c = meetings.c
        query = select(c.recurrence_id).where(
            c.ical_uid == ical_uid, c.recurrence_id != "", self._mine(meetings)
        )
        return frozenset(self.connection.scalars(query))

    def list_meetings_of_uid(self, ical_uid: str) -> list[MeetingRow]:
        """The series' row and its occurrences' own rows."""
        query = (
            select(meetings)
            .where(meetings.c.ical_uid == ical_uid, self._mine(meetings))
            .order_by(meetings.c.id)
        )
        return [MeetingRow(**r._mapping) for r in self.connection.execute(query)]

    def forget_series(self, meeting_id: int, calendar: str | None = None) -> bool:
        """Stop following the series; with ``calendar``, only if that is still the kept one (new mail
        may have extended the series meanwhile).  New mail about it starts following it again."""
        c = meeting_series.c
        where = and_(c.meeting_id == meeting_id, c.meeting_id.in_(self._my_meeting_ids()))
        if calendar is not None:
            where = and_(where, c.calendar == calendar)
        return bool(self.connection.execute(delete(meeting_series).where(where)).rowcount == 1)

    def series_ended_before(self, instant: datetime) -> list[tuple[MeetingRow, str]]:
        """Followed series whose current occurrence ended before ``instant``, with their calendars."""
        c = meetings.c
        query = (
            select(meetings, meeting_series.c.calendar)
            .join(meeting_series, meeting_series.c.meeting_id == c.id)
            .where(c.recurring, c.state.in_(FOLLOWED_STATES), func.coalesce(c.end_at, c.start_at) < instant)
            .where(self._mine(meetings))
            .order_by(c.id)
        )
        found = []
        for row in self.connection.execute(query):
            values = dict(row._mapping)
            calendar = values.pop("calendar")
            found.append((MeetingRow(**values), calendar))
        return found

    def advance_occurrence(
        self, meeting_id: int, was: datetime, start: datetime, end: datetime | None, occurrence: str = ""
    ) -> bool:
        """Make the meeting stand for the occurrence ``start``-``end``, if it still stands for ``was``.

        Not a reschedule: the series did not move, time went on, so ``rescheduled_at``
        and the invite's SEQUENCE stay as they are; ``occurrence`` is the new one's RECURRENCE-ID.
        False when an invite changed it meanwhile.
        """
        c = meetings.c
        stmt = (
            update(meetings)
            .where(and_(c.id == meeting_id, c.start_at == was, self._mine(meetings)))
            .values(start_at=start, end_at=end, updated_at=clock.now())
        )
        if self.connection.execute(stmt).rowcount != 1:
            return False
        self.connection.execute(
            update(meeting_series)
            .where(meeting_series.c.meeting_id == meeting_id)
            .values(occurrence=occurrence, updated_at=clock.now())
        )
        return True
