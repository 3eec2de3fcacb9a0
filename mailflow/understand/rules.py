"""Recurrence rules as strangers write them, judged before dateutil walks one.

dateutil expands a rule by walking every period (day, week, month, year) from
DTSTART until a match lies past the window asked for; it checks UNTIL and
COUNT only at a match.  So a rule that never matches again (30 February,
``FREQ=DAILY;BYSETPOS=2``, ``FREQ=WEEKLY;INTERVAL=2;BYMONTH=6`` from the
wrong week, Monday-and-first-Tuesday) walks to the year 9999, ``INTERVAL=0``
never ends, and a VTIMEZONE's rule is walked again from its start at every
offset lookup.  A rule is therefore expanded only when :func:`walk_cost` can
show that it keeps matching, at most a bounded number of periods apart, and
that the walk from DTSTART to the end of the window stays small.  Rules this
cannot show are shown by their first date (never seen in real invites: their
rules are the plain ones of :func:`rule_is_cheap`, with matches every period).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, timedelta

_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_PLAIN_PARTS = {"FREQ", "INTERVAL", "COUNT", "UNTIL", "WKST", "BYDAY", "BYMONTH", "BYMONTHDAY", "BYSETPOS"}
_WEEKDAY = re.compile(r"^([+-]?\d+)?(MO|TU|WE|TH|FR|SA|SU)$")
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
#: the days one period of each frequency spans, which dateutil examines one by one
PERIOD_DAYS = {"DAILY": 1, "WEEKLY": 7, "MONTHLY": 31, "YEARLY": 366}
#: dateutil's own cost per period, in examined days (measured: ~5 µs a period, ~0.25 µs a day)
_PERIOD_COST = 20
#: and per occurrence found, compared in its zone (~15 µs when an inline VTIMEZONE is looked up)
_MATCH_COST = 60
# the longest a date with a weekday waits for its next match: 28 years, 40 across a century
_WEEKDAY_CYCLE_YEARS = 41
_LEAP_CYCLE_YEARS = 8  # 29 February: 2096, then 2104


def rule_parts(text: str) -> dict[str, str]:
    """``FREQ=DAILY;INTERVAL=2`` as ``{"FREQ": "DAILY", "INTERVAL": "2"}`` (upper case)."""
    parts: dict[str, str] = {}
    for item in text.upper().split(";"):
        key, _, value = item.partition("=")
        parts[key.strip()] = value.strip()
    return parts


def rule_is_cheap(text: str) -> bool:
    """Whether the RRULE is one of the plain kinds real invites use (the first check of many).

    Real invites use FREQ with INTERVAL, COUNT, UNTIL, BYDAY, BYMONTH,
    BYMONTHDAY and small BYSETPOS values.  Anything else, or a BYMONTH and
    BYMONTHDAY that never meet, is shown by its first date instead.  A rule
    that passes may still never match (``FREQ=DAILY;BYSETPOS=2``): see
    :func:`walk_cost`.
    """
    parts = rule_parts(text)
    if not set(parts) <= _PLAIN_PARTS:
        return False
    try:
        months = [int(m) for m in parts["BYMONTH"].split(",")] if "BYMONTH" in parts else list(range(1, 13))
        days = [int(d) for d in parts["BYMONTHDAY"].split(",")] if "BYMONTHDAY" in parts else [1]
        positions = [int(p) for p in parts["BYSETPOS"].split(",")] if "BYSETPOS" in parts else [1]
        ordinals = [int(m.group(1) or 1) for m in re.finditer(r"([+-]?\d+)?[A-Z]{2}", parts.get("BYDAY", ""))]
        interval = int(parts.get("INTERVAL", "1") or "1")
    except ValueError:
        return False
    if not 1 <= interval <= 1000:  # INTERVAL=0 makes dateutil loop for ever
        return False
    # as sets of possible values first: a stranger's list may be thousands long, its pairs millions
    months_set = {m for m in months if 1 <= m <= 12}
    days_set = {d for d in days if 1 <= abs(d) <= 31}
    meets = any(abs(d) <= _DAYS_IN_MONTH[m - 1] for m in months_set for d in days_set)
    return meets and all(1 <= abs(p) <= 4 for p in positions) and all(1 <= abs(n) <= 5 for n in ordinals)


def observance_rule_is_sane(text: str, start: date) -> bool:
    """Whether a VTIMEZONE observance's RRULE (from ``start``) is a yearly one that keeps matching.

    Every real time zone changes at most a few times a year, by a yearly rule;
    anything else (monthly, ``INTERVAL=0`` or ``-1``, a zero SECONDLY interval,
    30 February) is walked from its start at every offset lookup, or for ever.
    """
    return rule_parts(text).get("FREQ") == "YEARLY" and max_gap(text, start) is not None


def walk_cost(text: str, start: date, end: date) -> int | None:
    """About how many days dateutil examines walking the rule from ``start`` past ``end``.

    None when the rule may stop matching (then the walk would go on to the year 9999).
    """
    rule = _Rule.of(rule_parts(text), start)
    gap = max_gap(text, start)
    if rule is None or gap is None:
        return None
    period = PERIOD_DAYS[rule.freq]
    periods = max((end - start) // timedelta(days=period * rule.interval), 0) + 1 + gap
    return periods * (period + _PERIOD_COST + _MATCH_COST * _matches_per_period(rule))


def _matches_per_period(rule: _Rule) -> int:
    """At most how many occurrences one period yields (BYSETPOS aside)."""
    if rule.freq == "DAILY":
        return 1
    if rule.freq == "WEEKLY":
        return len(rule.weekdays) if rule.weekdays and rule.monthdays is None else 7
    per_month = len(rule.monthdays) if rule.monthdays else 31
    if rule.monthdays is None:
        per_month = 5 * len(rule.weekdays or ()) + len(rule.nth or ()) or 31
    if rule.freq == "YEARLY" and rule.months is None and rule.nth is not None and rule.monthdays is None:
        return 53 * len(rule.weekdays or ()) + len(rule.nth)  # weekdays of the whole year
    months = len(rule.months) if rule.freq == "YEARLY" and rule.months else 12 if rule.freq == "YEARLY" else 1
    return min(per_month, 31) * months


def max_gap(text: str, start: date) -> int | None:
    """At most how many periods apart the rule's matches lie; None when that cannot be shown."""
    if not rule_is_cheap(text):
        return None
    rule = _Rule.of(rule_parts(text), start)
    if rule is None:
        return None
    if rule.freq == "DAILY":
        return _daily_gap(rule)
    if rule.freq == "WEEKLY":
        return _weekly_gap(rule)
    return _monthly_gap(rule) if rule.freq == "MONTHLY" else _yearly_gap(rule)


@dataclass(frozen=True)
class _Rule:
    """A plain rule with dateutil's defaults filled in from DTSTART."""

    freq: str
    interval: int
    start: date
    months: frozenset[int] | None  # None: every month
    monthdays: frozenset[int] | None  # None: no BYMONTHDAY filter
    weekdays: frozenset[int] | None  # plain weekdays, 0 = Monday
    nth: frozenset[tuple[int, int]] | None  # (weekday, n) of the month, or of the year without BYMONTH
    setpos: tuple[int, ...]

    @classmethod
    def of(cls, parts: dict[str, str], start: date) -> _Rule | None:
        freq = parts.get("FREQ", "")
        if freq not in PERIOD_DAYS:
            return None
        try:
            interval = int(parts.get("INTERVAL", "1") or "1")
            months = _numbers(parts.get("BYMONTH"), range(1, 13))
            monthdays = _numbers(parts.get("BYMONTHDAY"), range(-31, 32))
            setpos = tuple(_numbers(parts.get("BYSETPOS"), range(-366, 367)) or ())
        except ValueError:
            return None
        if months == frozenset() or monthdays == frozenset():
            return None  # only impossible values (BYMONTH=13): nothing ever matches
        weekdays, nth = _weekdays(parts.get("BYDAY"), freq)
        if weekdays is None and nth is None and monthdays is None:  # dateutil's defaults
            if freq == "YEARLY":
                months, monthdays = months or frozenset({start.month}), frozenset({start.day})
            elif freq == "MONTHLY":
                monthdays = frozenset({start.day})
            elif freq == "WEEKLY":
                weekdays = frozenset({start.weekday()})
        return cls(freq, interval, start, months, monthdays, weekdays, nth, setpos)


def _numbers(text: str | None, valid: range) -> frozenset[int] | None:
    """The numbers of a BYxxx list that can match (0 and 13 never do); None without the list."""
    if not text:
        return None
    return frozenset(
        number for item in text.split(",") if item.strip() and (number := int(item)) in valid and number
    )


def _weekdays(text: str | None, freq: str) -> tuple[frozenset[int] | None, frozenset[tuple[int, int]] | None]:
    plain: set[int] = set()
    nth: set[tuple[int, int]] = set()
    for item in (text or "").split(","):
        found = _WEEKDAY.match(item.strip())
        if found is None:
            continue
        day = _WEEKDAYS.index(found[2])
        n = int(found[1] or 0)
        if n and freq in {"MONTHLY", "YEARLY"}:  # dateutil ignores the number for finer frequencies
            nth.add((day, n))
        else:
            plain.add(day)
    return (frozenset(plain) or None), (frozenset(nth) or None)


def _always(rule: _Rule, month: int) -> int:
    """How many days of ``month`` match in every year (BYMONTHDAY and BYDAY filters only)."""
    length = 28 if month == 2 else _DAYS_IN_MONTH[month - 1]
    if rule.nth is not None and rule.weekdays is not None:
        return 0  # dateutil wants both: "Monday and the first Tuesday" is no day at all
    if rule.monthdays is not None:
        return 0 if rule.weekdays or rule.nth else sum(1 for d in rule.monthdays if 1 <= abs(d) <= length)
    if rule.nth is not None:
        return sum(1 for _day, n in rule.nth if 1 <= abs(n) <= 4)
    return 4 * len(rule.weekdays) if rule.weekdays else length


def _sometimes(rule: _Rule, month: int) -> bool:
    """Whether some day of ``month`` matches in some years (29 February, a fifth Friday, Friday 13th)."""
    if rule.nth is not None and rule.weekdays is not None:
        return False
    lengths = (28, 29) if month == 2 else (_DAYS_IN_MONTH[month - 1],)
    days = [d for d in rule.monthdays if 1 <= abs(d) <= lengths[-1]] if rule.monthdays else []
    if rule.nth is None:
        return bool(days) or rule.monthdays is None
    if rule.monthdays is None:
        return any(1 <= abs(n) <= 5 for _day, n in rule.nth)
    # both: the nth weekday must fall on one of the days ("first Monday" and "last day" never meet)
    return any(_nth_holds(n, d, length) for _day, n in rule.nth for d in days for length in lengths)


def _nth_holds(n: int, day: int, length: int) -> bool:
    """Whether the ``n``th weekday of a month of ``length`` days can fall on ``day`` (negative: from the end)."""
    on = day if day > 0 else length + 1 + day
    first = 7 * (n - 1) + 1 if n > 0 else length - 7 * -n + 1
    return 1 <= on <= length and first <= on <= first + 6


def _setpos_fits(rule: _Rule, size: int) -> bool:
    return all(1 <= abs(p) <= size for p in rule.setpos)


def _daily_gap(rule: _Rule) -> int | None:
    if not _setpos_fits(rule, 1):
        return None
    if rule.months is None and rule.monthdays is None:
        if rule.weekdays is None:
            return 1
        if rule.interval % 7:  # every weekday comes round within 7 steps
            return 7
        return 1 if rule.start.weekday() in rule.weekdays else None
    if rule.interval > 1:  # which days of the month a step lands on: not worth proving
        return None
    years = _WEEKDAY_CYCLE_YEARS if rule.weekdays else _LEAP_CYCLE_YEARS
    return 366 * years


def _weekly_gap(rule: _Rule) -> int | None:
    if rule.months is None and rule.monthdays is None:
        return 1 if _setpos_fits(rule, len(rule.weekdays or ())) else None
    if rule.interval > 1 or rule.setpos:
        return None
    years = _WEEKDAY_CYCLE_YEARS if rule.weekdays else _LEAP_CYCLE_YEARS
    return 53 * years


def _visited_months(rule: _Rule) -> set[int]:
    first = rule.start.month - 1
    return {(first + step * rule.interval) % 12 + 1 for step in range(12)} & set(rule.months or range(1, 13))


def _monthly_gap(rule: _Rule) -> int | None:
    months = _visited_months(rule)
    always = max((_always(rule, month) for month in months), default=0)
    if always and (not rule.setpos or _setpos_fits(rule, always)):
        return 12  # a month that always matches comes round within 12 steps
    if rule.setpos:
        return None
    if rule.interval > 12 or not any(_sometimes(rule, month) for month in months):
        return None
    return 12 * _WEEKDAY_CYCLE_YEARS


def _yearly_gap(rule: _Rule) -> int | None:
    months = set(rule.months or range(1, 13))
    if rule.months is None and rule.nth is not None:  # the nth weekday of the year, not of a month
        if rule.weekdays is not None or rule.monthdays is not None:
            return None
        return 1 if _setpos_fits(rule, len(rule.nth)) else None  # every year has it
    always = sum(_always(rule, month) for month in months)
    if rule.setpos and not _setpos_fits(rule, always):
        return None
    if always:
        return 1
    if not any(_sometimes(rule, month) for month in months):
        return None
    # 29 February or a weekday on a date: leap years or the weekday come round only for odd steps
    leap_only = not (rule.weekdays or rule.nth)
    if leap_only and rule.interval % 2 == 0:
        return None
    if not leap_only and rule.interval > 1:
        return None
    cycle = _LEAP_CYCLE_YEARS if leap_only else _WEEKDAY_CYCLE_YEARS
    return math.ceil(cycle * 4 / rule.interval) + 4 if leap_only else cycle
