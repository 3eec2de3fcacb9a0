"""Dates and times written by people: "Tuesday at 3pm", "March 5, 10:00", "morgen um 14 Uhr".

Only a day together with a time of day makes a proposed time; a day alone or
an hour alone is never completed by guessing.  Days are resolved against the
date the text was written; a time without a zone is read in the zone given
(the owner's), unless an abbreviation such as "ET" or "CET" follows it.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from mailflow.understand.headers import in_range

MAX_PROPOSALS = 10
MAX_TEXT = 20_000  # proposals are near the top; the request score reads as much
MAX_FOUND = 500  # day or time expressions read from one text

_WEEKDAYS = {
    **dict.fromkeys(("monday", "mon", "montag", "lundi", "lunes", "lunedì", "lunedi", "maandag"), 0),
    **dict.fromkeys(
        ("tuesday", "tue", "tues", "dienstag", "mardi", "martes", "martedì", "martedi", "dinsdag"), 1
    ),
    **dict.fromkeys(
        ("wednesday", "wed", "mittwoch", "mercredi", "miércoles", "miercoles", "mercoledì", "woensdag"), 2
    ),
    **dict.fromkeys(
        ("thursday", "thu", "thur", "thurs", "donnerstag", "jeudi", "jueves", "giovedì", "donderdag"), 3
    ),
    **dict.fromkeys(("friday", "fri", "freitag", "vendredi", "viernes", "venerdì", "venerdi", "vrijdag"), 4),
    **dict.fromkeys(("saturday", "samstag", "samedi", "sábado", "sabado", "sabato", "zaterdag"), 5),
    **dict.fromkeys(("sunday", "sonntag", "dimanche", "domingo", "domenica", "zondag"), 6),
}
_MONTHS = {
    **dict.fromkeys(("january", "jan", "januar", "janvier", "enero", "gennaio", "januari"), 1),
    **dict.fromkeys(
        ("february", "feb", "februar", "février", "fevrier", "febrero", "febbraio", "februari"), 2
    ),
    **dict.fromkeys(("march", "mar", "märz", "maerz", "mars", "marzo", "maart"), 3),
    **dict.fromkeys(("april", "apr", "avril", "abril", "aprile"), 4),
    **dict.fromkeys(("may", "mai", "mayo", "maggio", "mei"), 5),
    **dict.fromkeys(("june", "jun", "juni", "juin", "junio", "giugno"), 6),
    **dict.fromkeys(("july", "jul", "juli", "juillet", "julio", "luglio"), 7),
    **dict.fromkeys(("august", "aug", "août", "aout", "agosto", "augustus"), 8),
    **dict.fromkeys(("september", "sep", "sept", "septembre", "septiembre", "settembre"), 9),
    **dict.fromkeys(("october", "oct", "oktober", "octobre", "octubre", "ottobre"), 10),
    **dict.fromkeys(("november", "nov", "novembre", "noviembre"), 11),
    **dict.fromkeys(("december", "dec", "dezember", "décembre", "decembre", "diciembre", "dicembre"), 12),
}
_RELATIVE = {
    **dict.fromkeys(("today", "heute", "aujourd'hui", "hoy", "oggi", "vandaag"), 0),
    **dict.fromkeys(("tomorrow", "morgen", "demain", "mañana", "domani"), 1),
}
ZONE_ABBREVIATIONS = {
    "UTC": "UTC", "GMT": "UTC", "Z": "UTC",
    "ET": "America/New_York", "EST": "America/New_York", "EDT": "America/New_York",
    "CT": "America/Chicago", "CST": "America/Chicago", "CDT": "America/Chicago",
    "MT": "America/Denver", "MST": "America/Denver", "MDT": "America/Denver",
    "PT": "America/Los_Angeles", "PST": "America/Los_Angeles", "PDT": "America/Los_Angeles",
    "CET": "Europe/Berlin", "CEST": "Europe/Berlin", "MEZ": "Europe/Berlin", "MESZ": "Europe/Berlin",
    "BST": "Europe/London", "WET": "Europe/Lisbon", "EET": "Europe/Helsinki", "EEST": "Europe/Helsinki",
    "JST": "Asia/Tokyo", "SGT": "Asia/Singapore", "AEST": "Australia/Sydney", "AEDT": "Australia/Sydney",
}  # fmt: skip

_WD = "|".join(sorted((re.escape(w) for w in _WEEKDAYS), key=len, reverse=True))
_MO = "|".join(sorted((re.escape(m) for m in _MONTHS), key=len, reverse=True))
_REL = "|".join(sorted((re.escape(r) for r in _RELATIVE), key=len, reverse=True))
_ORD = r"(?:st|nd|rd|th|\.|er|º)?"
_DAY_PATTERNS = [
    ("iso", re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")),
    ("dotted", re.compile(r"\b(\d{1,2})\.(\d{1,2})\.(\d{4}|\d{2})?(?!\d)")),
    ("month_day", re.compile(rf"\b({_MO})\.?\s+(\d{{1,2}}){_ORD}(?:,?\s+(\d{{4}}))?\b", re.IGNORECASE)),
    (
        "day_month",
        re.compile(rf"\b(\d{{1,2}}){_ORD}\s+(?:of\s+|de\s+)?({_MO})\.?(?:,?\s+(\d{{4}}))?\b", re.I),
    ),
    ("next_weekday", re.compile(rf"\b(next|this|coming|nächsten|kommenden|prochain)\s+({_WD})\b\.?", re.I)),
    ("weekday", re.compile(rf"\b({_WD})\b\.?", re.IGNORECASE)),
    # "Guten Morgen" is a greeting and "por la mañana" a part of the day, not tomorrow
    ("relative", re.compile(rf"(?<![\w'])(?<!guten )(?<!am )(?<!la )({_REL})(?![\w'])", re.IGNORECASE)),
]
_ZONE = r"(?:\s*\(?\b(" + "|".join(ZONE_ABBREVIATIONS) + r")\b\)?)?"
_TIME_PATTERNS = [
    # "2-3pm", "between 2 and 4 pm": the meridiem of the end applies to the start
    ("range", re.compile(
        r"\b(\d{1,2})(?::(\d{2}))?\s*(?:-|–|to|and|bis)\s*\d{1,2}(?::\d{2})?\s*(am|pm|a\.m\.|p\.m\.)" + _ZONE,
        re.IGNORECASE)),
    ("meridiem", re.compile(r"\b(\d{1,2})(?::(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)" + _ZONE, re.IGNORECASE)),
    ("clock", re.compile(r"\b([01]?\d|2[0-3])[:h](\d{2})\b" + _ZONE, re.IGNORECASE)),
    ("hour_word", re.compile(r"\b([01]?\d|2[0-3])\s*(?:uhr|h\b|heures?)" + _ZONE, re.IGNORECASE)),
    ("noon", re.compile(r"\b(noon|midday|mittag|midi)\b" + _ZONE, re.IGNORECASE)),
]  # fmt: skip


@dataclass(frozen=True)
class _Found:
    start: int
    end: int
    value: Any


class _Taken:
    """Spans of text already read, kept sorted: an overlap test costs a bisection, not a scan."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []

    def overlaps(self, start: int, end: int) -> bool:
        index = bisect.bisect_left(self.starts, end)  # spans starting before ``end``; they do not overlap
        return index > 0 and self.ends[index - 1] > start  # each other, so the last one ends last

    def add(self, start: int, end: int) -> None:
        index = bisect.bisect_left(self.starts, start)
        self.starts.insert(index, start)
        self.ends.insert(index, end)


def _day_matches(text: str, today: date) -> list[_Found]:
    found: list[_Found] = []
    taken = _Taken()
    for kind, pattern in _DAY_PATTERNS:
        for match in pattern.finditer(text):
            if len(found) >= MAX_FOUND:
                return found
            if taken.overlaps(match.start(), match.end()):
                continue  # part of a longer day expression already read
            day = _resolve_day(kind, match, today)
            if day is not None:
                found.append(_Found(match.start(), match.end(), day))
                taken.add(match.start(), match.end())
    return found


def _resolve_day(kind: str, match: re.Match[str], today: date) -> date | None:
    groups = match.groups()
    try:
        if kind == "iso":
            return _sane(date(int(groups[0]), int(groups[1]), int(groups[2])))
        if kind == "dotted":
            return _upcoming(today, int(groups[1]), int(groups[0]), groups[2])
        if kind == "month_day":
            return _upcoming(today, _MONTHS[groups[0].lower()], int(groups[1]), groups[2])
        if kind == "day_month":
            return _upcoming(today, _MONTHS[groups[1].lower()], int(groups[0]), groups[2])
        if kind == "next_weekday":
            return _next_weekday(today, _WEEKDAYS[groups[1].lower()])
        if kind == "weekday":
            return _next_weekday(today, _WEEKDAYS[groups[0].lower()])
        return today + timedelta(days=_RELATIVE[groups[0].lower()])
    except (ValueError, KeyError, OverflowError):
        return None


def _upcoming(today: date, month: int, day: int, year: str | None) -> date:
    if year:
        number = int(year)
        return _sane(date(number + 2000 if number < 100 else number, month, day))
    candidate = date(today.year, month, day)
    # "January 10" written in December means next year; "March 1" written on 3 March is past, not 2026
    return _sane(date(today.year + 1, month, day) if candidate < today - timedelta(days=60) else candidate)


def _sane(day: date) -> date:
    """``day`` when in the years read (headers.EARLIEST_YEAR..LATEST_YEAR); 9999-12-31 overflows."""
    if not in_range(day):
        raise ValueError(f"year {day.year} is out of range")
    return day


def _next_weekday(today: date, weekday: int) -> date:
    """The first such weekday after today ("Tuesday" written on a Tuesday means next week)."""
    ahead = (weekday - today.weekday()) % 7 or 7
    return today + timedelta(days=ahead)


def _time_matches(text: str) -> list[_Found]:
    found: list[_Found] = []
    taken = _Taken()
    for kind, pattern in _TIME_PATTERNS:
        for match in pattern.finditer(text):
            if len(found) >= MAX_FOUND:
                return found
            if taken.overlaps(match.start(), match.end()):
                continue
            value = _resolve_time(kind, match)
            if value is not None:
                found.append(_Found(match.start(), match.end(), value))
                taken.add(match.start(), match.end())
    return found


def _resolve_time(kind: str, match: re.Match[str]) -> tuple[time, str] | None:
    groups = match.groups()
    zone_name = groups[-1] or ""
    if kind == "noon":
        return time(12, 0), zone_name
    hour, minute = int(groups[0]), int(groups[1] or 0) if kind != "hour_word" else 0
    if kind in {"range", "meridiem"}:
        if not 1 <= hour <= 12:
            return None
        pm = groups[2].lower().startswith("p")
        hour = hour % 12 + (12 if pm else 0)
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute), zone_name


def proposed_times(text: str, written: datetime, zone: ZoneInfo, window: int = 60) -> list[datetime]:
    """Instants proposed in ``text`` (written at ``written``), each a day paired with a time.

    Each time of day is paired with the nearest day expression within
    ``window`` characters; times without a day are dropped, never guessed.
    Only times after ``written`` count: a proposal is for the future.
    """
    text = text[:MAX_TEXT]
    local_written = written.astimezone(zone)
    days = sorted(_day_matches(text, local_written.date()), key=lambda d: d.start)
    ends = [day.end for day in days]
    results: list[datetime] = []
    seen: set[datetime] = set()
    for found in _time_matches(text):
        day = _nearest(days, ends, found, window)
        if day is None:
            continue
        clock, zone_name = found.value
        tz = ZoneInfo(ZONE_ABBREVIATIONS[zone_name.upper()]) if zone_name else zone
        instant = datetime.combine(day, clock, tzinfo=tz)
        if instant > written and instant not in seen:
            seen.add(instant)
            results.append(instant)
    return sorted(results)[:MAX_PROPOSALS]


def _nearest(days: list[_Found], ends: list[int], found: _Found, window: int) -> date | None:
    """The day expression closest to ``found`` within ``window`` characters.

    ``days`` do not overlap and are sorted by start, so by end too (``ends``): a bisection finds
    the first one that can be near, instead of a scan of all of them for each time.
    """
    best: tuple[int, date] | None = None
    for day in days[bisect.bisect_left(ends, found.start - window) :]:
        if day.start > found.end + window:
            break
        gap = found.start - day.end if day.end <= found.start else day.start - found.end
        if 0 <= gap <= window and (best is None or gap < best[0]):
            best = (gap, day.value)
    return best[1] if best else None


def loose_date(text: str, zone: ZoneInfo) -> datetime | None:
    """The date and time in a forwarded header such as "Tue, Mar 4, 2025 at 10:12 AM"."""
    text = text[:MAX_TEXT]
    if not re.search(r"\d{4}", text):
        return None
    today = date(1970, 1, 1)
    days = [d for d in _day_matches(text, today) if d.value.year > 1970]
    if not days:
        return None
    times = _time_matches(text)
    clock = times[0].value[0] if times else time(0, 0)
    return datetime.combine(days[0].value, clock, tzinfo=zone)
