"""Recurring series move on by themselves: an occurrence over, the meeting stands for the next one.

A series' meeting row stands for one occurrence (its ``start_at``), and the
playbook plans the per-occurrence steps (homework brief, summary prompt,
thank-you, take-action) for that one.  Without this module it would move on
only when new mail about the series came.  So, once an occurrence is over
and every step of it has gone out or been skipped (they are written from
its own times, so the row must not move under them), the calendar kept with
the series (``meeting_series``, from the invite) is read again with the same
code that read the invite, and the row moves to the first occurrence not
over yet.  EXDATEs and overrides in that calendar count as they did for the
invite, and an occurrence that later mail moved or cancelled (a meeting row
of its own, with its RECURRENCE-ID) is passed over.  Occurrences missed
while mailflow was not running, or that begin before the one before them is
done (a daily series: its next-morning reminder comes after the next
meeting), get no steps.  A series with no occurrence left (COUNT or UNTIL
reached) is no longer followed; new mail about it is read as always.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from mailflow.engine.planning import occurrence_of
from mailflow.errors import StoreError
from mailflow.store import Store
from mailflow.store.rows import MeetingRow
from mailflow.understand.calendar import read_calendars
from mailflow.understand.choice import following
from mailflow.understand.zones import to_utc

log = logging.getLogger("mailflow.engine")

#: after an occurrence ends, the planner gets this long to add its after-meeting steps
SETTLE = timedelta(hours=1)
#: steps of a finished occurrence still waiting this long after it (held: a paused meeting, no
#: counterpart chosen) are skipped, with the reason, and the series moves on
STALE_AFTER = timedelta(days=7)
#: a step in these states holds its series on its occurrence (a failed or uncertain one does not: the
#: next occurrence must not wait a week on it, and composing refuses it once the series has moved on)
_UNRESOLVED = ("pending", "sending")


@dataclass
class SeriesSummary:
    advanced: int = 0
    ended: int = 0


def advance_series(store: Store, zone: ZoneInfo, now: datetime) -> SeriesSummary:
    """Move every followed series whose occurrence is over, and whose steps are done, to its next one."""
    summary = SeriesSummary()
    with store.read() as tx:
        due = tx.series_ended_before(now - SETTLE)
    for meeting, calendar in due:
        try:
            _advance(store, zone, now, meeting, calendar, summary)
        except StoreError:
            raise
        except Exception:  # one series' calendar must not stop the others
            log.exception("meeting %d: the series could not be moved on", meeting.id)
    return summary


def _advance(
    store: Store, zone: ZoneInfo, now: datetime, meeting: MeetingRow, calendar: str, summary: SeriesSummary
) -> None:
    occurrence, was = occurrence_of(meeting), meeting.start_at
    with store.read() as tx:
        waiting = [
            s for s in tx.list_steps(meeting.id) if s.occurrence == occurrence and s.state in _UNRESOLVED
        ]
        overridden = tx.overridden_occurrences(meeting.ical_uid or "")
    ended = meeting.end_at or was
    stale = ended is not None and ended < now - STALE_AFTER
    if was is None or any(s.state == "sending" for s in waiting) or (waiting and not stale):
        return  # its own steps first: they are written from this occurrence's times
    found = next_occurrence(calendar, zone, now, skip=overridden)
    with store.transaction() as tx:
        if tx.get_series(meeting.id) != calendar:
            return  # new mail about the series came meanwhile: the next cycle reads its calendar
        if found is None or found[0] <= was:
            if tx.forget_series(meeting.id, calendar):
                summary.ended += 1
                log.info("meeting %d: the series has no occurrence left; no longer followed", meeting.id)
            return
        if not tx.advance_occurrence(meeting.id, was, *found):
            return  # new mail moved it meanwhile
        for step in waiting:
            tx.skip_step(step.id, "the series moved on to its next occurrence before this went out")
        summary.advanced += 1
        log.info("meeting %d: the series moved on to its occurrence at %s", meeting.id, found[0])


def next_occurrence(
    calendar: str, zone: ZoneInfo, now: datetime, *, skip: frozenset[str] = frozenset()
) -> tuple[datetime, datetime, str] | None:
    """(start, end, RECURRENCE-ID key) in UTC of the series' first occurrence not over at ``now``;
    None when none is left.

    ``skip``: the RECURRENCE-IDs (``zones.to_utc`` keys) of occurrences that have
    a meeting of their own, moved or cancelled by later mail: those are passed over.
    """
    for occurrence in following(read_calendars([(calendar, "")], zone), now):
        start = _utc(occurrence.start, zone)
        end = _utc(occurrence.end, zone) if occurrence.end is not None else None
        if end is None or end < start:
            end = start + (timedelta(days=1) if not isinstance(occurrence.start, datetime) else timedelta(0))
        key = to_utc(occurrence.recurrence_id)
        if end > now and key not in skip:
            return start, end, key
    return None


def _utc(value: datetime | date, zone: ZoneInfo) -> datetime:
    """An occurrence's moment in UTC; an all-day one starts at midnight in the owner's zone."""
    if isinstance(value, datetime):
        return (value if value.tzinfo is not None else value.replace(tzinfo=zone)).astimezone(UTC)
    return datetime.combine(value, time(0), tzinfo=zone).astimezone(UTC)
