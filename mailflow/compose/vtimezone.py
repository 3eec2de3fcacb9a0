"""VTIMEZONE blocks Outlook reads correctly.

Outlook honours a VTIMEZONE only in the shape Exchange and Google write:
one STANDARD and at most one DAYLIGHT observance, each with a yearly RRULE
that has BYMONTH and BYDAY ("last Sunday of October").  A list of explicit
transitions (what generic libraries emit) is valid iCalendar, but Outlook
shifts events by an hour with it.  So this module derives the yearly rule
from the zone's real transitions and keeps it only if it reproduces every
transition in the years that matter; when a zone's rules cannot be written
that way (Israel's "Friday before the last Sunday", Morocco's Ramadan
shifts), :func:`vtimezone` returns None and the caller writes UTC instead.
"""

from __future__ import annotations

import calendar as _calendar
import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Timezone, TimezoneDaylight, TimezoneStandard

_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_ANCHOR_YEAR = 1970


@dataclass(frozen=True)
class Transition:
    """An instant at which the zone's offset changes."""

    at: datetime  # UTC
    before: timedelta
    after: timedelta


@dataclass(frozen=True)
class Rule:
    """A yearly onset: the ``nth`` ``weekday`` of ``month`` at local ``clock`` (in the old offset)."""

    month: int
    weekday: int  # 0 = Monday
    nth: int  # 1..4, or -1 for the last
    clock: timedelta  # since local midnight, may be 24:00 and beyond
    before: timedelta
    after: timedelta

    def onset(self, year: int) -> datetime:
        """The local (naive) start of this observance in ``year``."""
        return datetime.combine(self.day(year), datetime.min.time()) + self.clock

    def day(self, year: int) -> date:
        if self.nth > 0:
            first = date(year, self.month, 1)
            shift = (self.weekday - first.weekday()) % 7
            return first + timedelta(days=shift + 7 * (self.nth - 1))
        last = date(year, self.month, _calendar.monthrange(year, self.month)[1])
        return last - timedelta(days=(last.weekday() - self.weekday) % 7)

    def instant(self, year: int) -> datetime:
        return (self.onset(year) - self.before).replace(tzinfo=UTC)

    @property
    def byday(self) -> str:
        return f"{self.nth}{_WEEKDAYS[self.weekday]}"


@functools.lru_cache(maxsize=512)
def transitions(key: str, year: int) -> tuple[Transition, ...]:
    """Every offset change of zone ``key`` during ``year`` (UTC)."""
    zone = ZoneInfo(key)
    step = timedelta(hours=6)
    moment = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    found: list[Transition] = []
    offset = _offset(moment, zone)
    while moment < end:
        following = moment + step
        new = _offset(following, zone)
        if new != offset:
            found.append(_bisect(moment, following, zone))
            offset = new
        moment = following
    return tuple(found)


def _offset(moment: datetime, zone: ZoneInfo) -> timedelta:
    value = moment.astimezone(zone).utcoffset()
    return value if value is not None else timedelta(0)


def _bisect(low: datetime, high: datetime, zone: ZoneInfo) -> Transition:
    before = _offset(low, zone)
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        middle = middle.replace(microsecond=0)
        if middle <= low:
            break
        if _offset(middle, zone) == before:
            low = middle
        else:
            high = middle
    return Transition(at=high, before=before, after=_offset(high, zone))


def _candidates(transition: Transition) -> list[Rule]:
    """The yearly rules that could describe ``transition``."""
    local = transition.at.replace(tzinfo=None) + transition.before
    clock = local - datetime.combine(local.date(), datetime.min.time())
    day = local.date()
    nth = (day.day - 1) // 7 + 1
    rules = []
    if nth <= 4:
        rules.append(Rule(day.month, day.weekday(), nth, clock, transition.before, transition.after))
    if day.day + 7 > _calendar.monthrange(day.year, day.month)[1]:
        rules.append(Rule(day.month, day.weekday(), -1, clock, transition.before, transition.after))
    return rules


def _matches(rule: Rule, transition: Transition) -> bool:
    return (
        rule.instant(transition.at.year) == transition.at
        and rule.before == transition.before
        and rule.after == transition.after
    )


def derive_rules(key: str, first_year: int, last_year: int) -> tuple[Rule, ...] | None:
    """Yearly rules valid for every year from ``first_year`` to ``last_year``; None if none fit.

    An empty tuple means the zone has one fixed offset over those years.
    """
    per_year = [transitions(key, year) for year in range(first_year, last_year + 1)]
    if all(len(found) == 0 for found in per_year):
        offsets = {
            _offset(datetime(y, 1, 1, tzinfo=UTC), ZoneInfo(key)) for y in range(first_year, last_year + 2)
        }
        return () if len(offsets) == 1 else None
    if any(len(found) != 2 for found in per_year):
        return None
    rules: list[Rule] = []
    for index in range(2):
        fitting = [
            rule
            for rule in _candidates(per_year[0][index])
            if all(_matches(rule, found[index]) for found in per_year)
        ]
        if not fitting:
            return None
        rules.append(fitting[0])
    return tuple(rules)


@functools.lru_cache(maxsize=256)
def vtimezone(key: str, first_year: int, last_year: int) -> Timezone | None:
    """An Outlook-proof VTIMEZONE for ``key`` valid from ``first_year`` to ``last_year``, or None."""
    if key in {"UTC", "Etc/UTC", "Etc/GMT", "GMT"}:
        return None  # written as UTC ("Z") anyway
    rules = derive_rules(key, first_year - 1, last_year + 1)
    if rules is None:
        return None
    zone = ZoneInfo(key)
    component = Timezone()
    component.add("tzid", key)
    component.add("x-lic-location", key)
    if not rules:
        offset = _offset(datetime(first_year, 1, 1, tzinfo=UTC), zone)
        standard = TimezoneStandard()
        standard.add("dtstart", datetime(_ANCHOR_YEAR, 1, 1))
        standard.add("tzoffsetfrom", offset)
        standard.add("tzoffsetto", offset)
        standard.add("tzname", datetime(first_year, 1, 1, tzinfo=UTC).astimezone(zone).tzname() or key)
        component.add_component(standard)
        return component
    daylight_offset = max(rule.after for rule in rules)
    for rule in sorted(rules, key=lambda r: r.after != daylight_offset):
        observance = TimezoneDaylight() if rule.after == daylight_offset else TimezoneStandard()
        observance.add("dtstart", rule.onset(_ANCHOR_YEAR))
        observance.add("rrule", {"freq": "yearly", "bymonth": rule.month, "byday": rule.byday})
        observance.add("tzoffsetfrom", rule.before)
        observance.add("tzoffsetto", rule.after)
        observance.add("tzname", rule.instant(first_year).astimezone(zone).tzname() or key)
        component.add_component(observance)
    return component
