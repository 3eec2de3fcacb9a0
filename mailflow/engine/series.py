"""Recurring series move on by themselves: an occurrence over, the meeting stands for the next one.

A series' meeting row stands for one occurrence (its ``start_at``), and the
playbook plans the per-occurrence steps (homework brief, summary prompt,
thank-you, take-action) for that one.  Without this module it would move on
only when new mail about the series came.  So, once an occurrence has been
over for :data:`ADVANCE_AFTER` (long enough for its thank-you and its
next-morning reminder to have gone out), the calendar kept with the series
(``meeting_series``, from the invite) is read again with the same code that
read the invite, and the row moves to the first occurrence from now on:
EXDATEs and overrides in that calendar count as they did for the invite, and
an occurrence that later mail moved or cancelled (a meeting row of its own,
with its RECURRENCE-ID) is passed over.  Occurrences missed while mailflow was not running are not caught up.
A series with no occurrence left (COUNT or UNTIL reached) is no longer
followed; new mail about it is read as always.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from mailflow.store import Store
from mailflow.understand.calendar import read_calendars
from mailflow.understand.choice import choose
from mailflow.understand.zones import to_utc

log = logging.getLogger("mailflow.engine")

#: how long after an occurrence ends its meeting moves to the next one
ADVANCE_AFTER = timedelta(hours=36)
#: occurrences in a row passed over because later mail moved or cancelled each of them
MAX_SKIPPED = 50


@dataclass
class SeriesSummary:
    advanced: int = 0
    ended: int = 0


def advance_series(store: Store, zone: ZoneInfo, now: datetime) -> SeriesSummary:
    """Move every followed series whose occurrence is over to its next occurrence."""
    summary = SeriesSummary()
    with store.read() as tx:
        due = tx.series_ended_before(now - ADVANCE_AFTER)
    for meeting, calendar in due:
        with store.read() as tx:
            overridden = tx.overridden_occurrences(meeting.ical_uid or "")
        found = next_occurrence(calendar, zone, now, skip=overridden)
        with store.transaction() as tx:
            if found is None or meeting.start_at is None or found[0] <= meeting.start_at:
                tx.forget_series(meeting.id)
                summary.ended += 1
                log.info("meeting %d: the series has no occurrence left; no longer followed", meeting.id)
            elif tx.advance_occurrence(meeting.id, meeting.start_at, *found):
                summary.advanced += 1
                log.info("meeting %d: the series moved on to its occurrence at %s", meeting.id, found[0])
    return summary


def next_occurrence(
    calendar: str, zone: ZoneInfo, now: datetime, *, skip: frozenset[str] = frozenset()
) -> tuple[datetime, datetime] | None:
    """(start, end) in UTC of the series' first occurrence not over at ``now``; None when none is left.

    ``skip``: the RECURRENCE-IDs (``zones.to_utc`` keys) of occurrences that have
    a meeting of their own, moved or cancelled by later mail: those are passed over.
    """
    reading = read_calendars([(calendar, "")], zone)
    ref = now
    for _ in range(MAX_SKIPPED + 1):
        chosen = choose(reading, ref)
        if chosen is None or not chosen.recurring or chosen.start is None:
            return None
        start, end = _utc(chosen.start, zone), _utc(chosen.end, zone) if chosen.end is not None else None
        if end is None or end < start:
            end = start + (timedelta(days=1) if not isinstance(chosen.start, datetime) else timedelta(0))
        if end < ref:  # no occurrence left (or the series could not be expanded: its first date came back)
            return None
        if to_utc(chosen.start) not in skip:
            return start, end
        ref = max(end, start + timedelta(seconds=1))
    return None


def _utc(value: datetime | date, zone: ZoneInfo) -> datetime:
    """An occurrence's moment in UTC; an all-day one starts at midnight in the owner's zone."""
    if isinstance(value, datetime):
        return (value if value.tzinfo is not None else value.replace(tzinfo=zone)).astimezone(UTC)
    return datetime.combine(value, time(0), tzinfo=zone).astimezone(UTC)
