"""Which event a message is about, and which occurrence of it.

The main event is the master of the first UID that has a start (or, when a
message carries only overrides of a series, the first of them after the
message date); the rest are kept by name.  A recurring series is expanded
with recurring-ical-events to its first occurrence at or after the message
date, within a bounded horizon, and only when its rule is one dateutil can
expand cheaply: dateutil walks every candidate day until it finds a match, so
a rule that never matches (30 February, ``FREQ=DAILY;BYSETPOS=2``) would walk
to the year 9999 (dateutil checks UNTIL only at a match).  So a rule is
expanded only when ``rules`` shows it keeps matching, and the walk from its
DTSTART past the window examines no more than :data:`MAX_WALK` days.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import icalendar
import recurring_ical_events

from mailflow.understand.calendar import CalendarReading
from mailflow.understand.events import EventReading
from mailflow.understand.headers import in_range
from mailflow.understand.rules import rule_is_cheap, walk_cost
from mailflow.understand.zones import to_utc

__all__ = ["HORIZON", "Chosen", "Occurrence", "choose", "following", "rule_is_cheap"]

HORIZON = timedelta(days=731)  # how far ahead the next occurrence of a series is looked for
#: what walking one series from DTSTART past the window may cost, in days examined (see rules.walk_cost):
#: a daily series may start some 13 years before, a weekly one on weekdays 23, a weekly one 88
MAX_WALK = 400_000
_FAST_FREQ = re.compile(r"FREQ=(?:SECONDLY|MINUTELY|HOURLY)", re.IGNORECASE)


@dataclass
class Chosen:
    """The main event, with the occurrence the message is about."""

    event: EventReading
    start: datetime | date | None
    end: datetime | date | None
    recurring: bool
    others: list[EventReading]
    reasons: list[str]


@dataclass(frozen=True)
class Occurrence:
    """One occurrence of a series: its times and its RECURRENCE-ID (the slot it was planned in)."""

    start: datetime | date
    end: datetime | date | None
    recurrence_id: datetime | date


def following(reading: CalendarReading, ref: datetime) -> list[Occurrence]:
    """The main series' occurrences not over at ``ref``, within :data:`HORIZON`, in order.

    Empty for a single event, a message without its series' master, or a
    rule that is not expanded (see :func:`rule_is_cheap`).  Never raises.
    """
    if not reading.events:
        return []
    group = _main(_groups(reading))
    masters = sorted((e for e in group if e.recurrence_id is None), key=_newest_first)
    if not masters or not masters[0].recurs or masters[0].start is None or _too_costly(masters[0], ref):
        return []
    master = masters[0]
    try:
        found = _expand(master, [e for e in group if e.recurrence_id is not None], ref)
        occurrences = []
        for component in sorted(found, key=lambda c: _sort_key(c["DTSTART"].dt)):
            start, end = _align(master, component)
            slot = component["RECURRENCE-ID"].dt if "RECURRENCE-ID" in component else component["DTSTART"].dt
            occurrences.append(Occurrence(start, end, _align_one(master, slot)))
        return occurrences
    except Exception:  # the invite's own reading said so already; a series that breaks is not followed
        return []


def choose(reading: CalendarReading, ref: datetime | None) -> Chosen | None:
    """The event the message is about, or None when it has no VEVENT."""
    if not reading.events:
        return None
    ordered = _groups(reading)
    main = _main(ordered)
    others = [e for g in ordered if g is not main for e in g]
    chosen = _within(main, ref)
    chosen.others = others + chosen.others
    return chosen


def _groups(reading: CalendarReading) -> list[list[EventReading]]:
    """The events by UID, in the order the UIDs first appear."""
    groups: dict[str, list[EventReading]] = {}
    for event in reading.events:
        groups.setdefault(event.uid or f"#{event.order}", []).append(event)
    return list(groups.values())


def _main(ordered: list[list[EventReading]]) -> list[EventReading]:
    """The events of the first UID that has a start (or of the first UID)."""
    return next((g for g in ordered if any(e.start is not None for e in g)), ordered[0])


def _newest_first(event: EventReading) -> tuple[int, float]:
    return (-event.sequence, -(event.dtstamp or datetime.min.replace(tzinfo=UTC)).timestamp())


def _within(group: list[EventReading], ref: datetime | None) -> Chosen:
    masters = [e for e in group if e.recurrence_id is None]
    overrides = [e for e in group if e.recurrence_id is not None]
    reasons: list[str] = []
    extra: list[EventReading] = []
    if len(masters) > 1:
        masters.sort(key=_newest_first)
        reasons.append(
            f"{len(masters)} events share UID {masters[0].uid!r} without RECURRENCE-ID; used the newest"
        )
        extra = masters[1:]
    if masters:
        master = masters[0]
        if master.recurs:
            return _next_occurrence(master, overrides, ref, reasons, extra)
        return Chosen(master, master.start, master.end, bool(overrides), extra + overrides, reasons)
    reasons.append("one occurrence of a recurring series (the series itself is not in this message)")
    pick = _earliest_after(overrides, ref)
    return Chosen(pick, pick.start, pick.end, True, [e for e in overrides if e is not pick], reasons)


def _sort_key(value: datetime | date | None) -> datetime:
    if value is None:
        return datetime.max.replace(tzinfo=UTC)
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def _earliest_after(events: list[EventReading], ref: datetime | None) -> EventReading:
    ordered = sorted(events, key=lambda e: _sort_key(e.start))
    if ref is not None:
        for event in ordered:
            if _sort_key(event.end or event.start) >= ref:
                return event
    return ordered[0]


def _next_occurrence(
    master: EventReading,
    overrides: list[EventReading],
    ref: datetime | None,
    reasons: list[str],
    extra: list[EventReading],
) -> Chosen:
    others = extra + overrides
    if ref is None or master.start is None:
        return Chosen(master, master.start, master.end, True, others, reasons)
    why = _too_costly(master, ref)
    if why:
        reasons.append(f"the series was not expanded ({why}); its first date is shown")
        return Chosen(master, master.start, master.end, True, others, reasons)
    occurrence = _first_after(master, overrides, ref, reasons)
    if occurrence is None:
        return Chosen(master, master.start, master.end, True, others, reasons)
    start, end = occurrence
    for override in overrides:
        if _key(override.start) == _key(start):
            reasons.append("the next occurrence was moved by an override in the same message")
            return Chosen(master, override.start, override.end, True, others, reasons)
    return Chosen(master, start, end, True, others, reasons)


def _too_costly(master: EventReading, ref: datetime) -> str:
    """Why the series is not expanded from ``ref`` on, or ""."""
    texts = _rule_texts(master)
    start = _sort_key(master.start)
    if not 1900 <= start.year <= 2200:
        return "it starts before 1900 or after 2200"
    if any(_FAST_FREQ.search(text) or not rule_is_cheap(text) for text in texts):
        return "a rule too frequent or too costly to expand"
    first = master.start.date() if isinstance(master.start, datetime) else master.start
    if first is None:
        return "it has no start"
    # dateutil walks from DTSTART to a match past the window: it must keep matching, and not from too far
    costs = [walk_cost(text, first, (ref + HORIZON).date()) for text in texts]
    if any(cost is None for cost in costs):
        return "a rule that may never match again"
    if sum(cost or 0 for cost in costs) > MAX_WALK:
        return "it starts too long before the message date"
    return ""


def _rule_texts(master: EventReading) -> list[str]:
    rule = master.component.get("RRULE")
    rules = rule if isinstance(rule, list) else [rule]
    return [r.to_ical().decode("utf-8", "replace") for r in rules if hasattr(r, "to_ical")]


def _first_after(
    master: EventReading, overrides: list[EventReading], ref: datetime, reasons: list[str]
) -> tuple[datetime | date, datetime | date | None] | None:
    """The first occurrence at or after ``ref`` within :data:`HORIZON`.

    A bounded window, not ``after()``: dateutil walks every candidate day from
    DTSTART, and an impossible rule (30 February) would walk to the year 9999.
    """
    try:
        found = _expand(master, overrides, ref)
    except Exception as exc:
        reasons.append(f"the recurrence cannot be expanded ({type(exc).__name__}); its first date is shown")
        return None
    if not found:
        reasons.append(
            "the series has no occurrence in the two years after the message date; its first date is shown"
        )
        return None
    return _align(master, min(found, key=lambda c: _sort_key(c["DTSTART"].dt)))


def _expand(master: EventReading, overrides: list[EventReading], ref: datetime) -> list[Any]:
    """The occurrence components of ``master`` (with ``overrides``) not over at ``ref``, within HORIZON."""
    calendar = icalendar.Calendar()
    for event in (master, *overrides):
        calendar.add_component(event.component)
    found = recurring_ical_events.of(calendar, skip_bad_series=True).between(ref, ref + HORIZON)
    return [c for c in found if isinstance(c["DTSTART"].dt, date) and in_range(c["DTSTART"].dt)]


def _align_one(master: EventReading, value: datetime | date) -> datetime | date:
    """``value`` as the master's start is: aware in its zone, or a day (PT30M on a day gives times)."""
    if isinstance(master.start, datetime) and isinstance(value, datetime):
        tz = master.start.tzinfo
        return value.replace(tzinfo=tz) if value.tzinfo is None else value.astimezone(tz)
    if isinstance(value, datetime) and not isinstance(master.start, datetime):
        return value.date()
    return value


def _align(master: EventReading, component: Any) -> tuple[datetime | date, datetime | date | None]:
    """An occurrence's start and end in the zone the master's start was resolved to."""
    start = _align_one(master, component["DTSTART"].dt)
    end = _align_one(master, component["DTEND"].dt) if "DTEND" in component else None
    if type(end) is not type(start) or (end is not None and (end < start or not in_range(end))):
        end = None
    return start, end


def _key(value: datetime | date | None) -> str:
    return "" if value is None else to_utc(value)
