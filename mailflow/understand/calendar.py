"""Calendar data in, the one event that matters out.

``read_calendars`` repairs what clients commonly get wrong, parses with
icalendar 7, turns X-WR-TIMEZONE calendars into standard ones (x-wr-timezone)
and reads every VEVENT (see ``events``); ``choice.choose`` then picks the one
that matters.  ``kind_of`` maps METHOD and STATUS to the kind of message and
``is_newer`` orders versions of one event.  Nothing here raises on bad data.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import x_wr_timezone

from mailflow.model import Kind
from mailflow.understand.events import EventReading, read_event
from mailflow.understand.zones import ZoneResolver, clean_tzid, iana_for, to_utc, zone

MAX_EVENTS = 200
MAX_TIMEZONES = 20
_DATE_PROPS = "DTSTART|DTEND|DTSTAMP|RECURRENCE-ID|EXDATE|RDATE|DUE|CREATED|LAST-MODIFIED"
_DASHED = re.compile(
    rf"^((?:{_DATE_PROPS})(?:;[^:\n]*)?):(\d{{4}})-(\d{{2}})-(\d{{2}})T(\d{{2}}):?(\d{{2}}):?(\d{{2}})(Z?)\s*$",
    re.MULTILINE | re.IGNORECASE,
)
_EMPTY_DATE = re.compile(rf"^(?:{_DATE_PROPS})(?:;[^:\n]*)?:\s*$\n?", re.MULTILINE | re.IGNORECASE)
_CONTENT_LINE = re.compile(r"^[A-Za-z0-9-]+(?:;[^\n]*)?:", re.MULTILINE)
_UPDATE_SUBJECTS = re.compile(
    r"^\s*(?:updated|update|aktualisiert|mise à jour|actualizad|aggiornat|bijgewerkt|uppdaterad)",
    re.IGNORECASE,
)
_RULE_START = re.compile(r"^(DTSTART[^:]*:)(\d{4})(\d{4}T\d{6})$", re.IGNORECASE)
_DATE_LINE = re.compile(rf"^(?:{_DATE_PROPS})[;:]", re.IGNORECASE)
_YEARS = re.compile(r"(?<![\d])(\d{4})\d{4}(?![\d])")


@dataclass
class CalendarReading:
    """All events of all calendar parts of one message."""

    method: str = ""
    events: list[EventReading] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


def repair(text: str) -> tuple[str, list[str]]:
    """Calendar text with common client mistakes fixed, and what was fixed."""
    reasons: list[str] = []
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"\n[ \t]", "", text)  # unfold here so the fixes below see whole lines
    begin = text.upper().find("BEGIN:VCALENDAR")
    end = text.upper().rfind("END:VCALENDAR")
    if begin > 0 or (end >= 0 and text[end + 13 :].strip()):
        text = text[max(begin, 0) : end + 13 if end >= 0 else len(text)]
    if _DASHED.search(text):
        reasons.append("dates written with dashes (2023-07-01T12:57:00) read as iCalendar dates")
        text = _DASHED.sub(lambda m: f"{m[1]}:{m[2]}{m[3]}{m[4]}T{m[5]}{m[6]}{m[7]}{m[8]}", text)
    text = _EMPTY_DATE.sub("", text)
    text = re.sub(
        r"^(RRULE|EXRULE)([^:\n]*):(.*)$",
        lambda m: m[1] + m[2] + ":" + re.sub(r"[ \t]", "", m[3]),
        text,
        flags=re.MULTILINE,
    )
    lines = [line for line in text.split("\n") if line.strip()]
    junk = [line for line in lines if not _CONTENT_LINE.match(line)]
    if junk:
        reasons.append(f"{len(junk)} line(s) that are not iCalendar content ignored")
        lines = [line for line in lines if _CONTENT_LINE.match(line)]
    return "\r\n".join(_rebase_observances(lines)) + "\r\n", reasons


def _rebase_observances(lines: list[str]) -> list[str]:
    """Start each open-ended VTIMEZONE rule the year before the calendar's first date (or in 1970).

    A yearly rule without UNTIL or COUNT gives the same transitions every year,
    so moving its start changes no offset the calendar uses.  dateutil walks
    every year from a rule's start at each lookup: Outlook's rules start in
    1601, and even from 1970 one lookup costs milliseconds (three per invite).
    """
    start_year = max(_first_year(lines) - 1, 1)
    result: list[str] = []
    block: list[str] | None = None
    for line in lines:
        upper = line.upper()
        if upper in {"BEGIN:STANDARD", "BEGIN:DAYLIGHT"}:
            block = [line]
            continue
        if block is None:
            result.append(line)
            continue
        block.append(line)
        if upper in {"END:STANDARD", "END:DAYLIGHT"}:
            result.extend(_rebased(block, start_year))
            block = None
    return result + (block or [])


def _first_year(lines: list[str]) -> int:
    """The earliest year a date of the calendar (outside its VTIMEZONEs) names; 1971 when one cannot be read.

    A date value never holds a colon, so it is what follows the line's last
    one (a TZID parameter may hold colons: ``"(UTC-05:00) Eastern Time"``).
    """
    years: list[int] = []
    for line in _outside_timezones(lines):
        if _DATE_LINE.match(line):
            found = [int(year) for year in _YEARS.findall(line.rsplit(":", 1)[-1])]
            if not found:
                return 1971
            years.extend(found)
    return min(years, default=1971)


def _outside_timezones(lines: list[str]) -> Iterator[str]:
    inside = False
    for line in lines:
        upper = line.upper()
        inside = (inside or upper == "BEGIN:VTIMEZONE") and upper != "END:VTIMEZONE"
        if not inside:
            yield line


def _rebased(block: list[str], year: int) -> list[str]:
    rules = [line.upper() for line in block if line.upper().startswith("RRULE")]
    if len(rules) != 1 or "UNTIL=" in rules[0] or "COUNT=" in rules[0] or "FREQ=YEARLY" not in rules[0]:
        return block
    if re.search(r"INTERVAL=(?!1(?:;|$))", rules[0]):  # every other year: moving by one would shift it
        return block
    return [_moved_start(line, year) for line in block]


def _moved_start(line: str, year: int) -> str:
    found = _RULE_START.match(line)
    if found is None or int(found[2]) >= year or found[3].startswith("0229"):
        return line  # only ever earlier starts move, and 29 February exists only in some years
    return f"{found[1]}{year:04d}{found[3]}"


def parse_calendars(text: str) -> tuple[list[Any], list[str]]:
    """The VCALENDARs in ``text``; never raises."""
    fixed, reasons = repair(text)
    # icalendar caches VTIMEZONEs by TZID process-wide; two mails that both say
    # "Customized Time Zone" must not share one definition, so start clean each time
    icalendar.use_zoneinfo()  # type: ignore[no-untyped-call]
    try:
        calendars = icalendar.Calendar.from_ical(fixed, multiple=True)
    except Exception as exc:
        reasons.append(f"calendar data cannot be parsed ({type(exc).__name__})")
        return [], reasons
    return [c for c in calendars if getattr(c, "name", "") == "VCALENDAR"], reasons


def _standardised(calendar: Any, reasons: list[str]) -> Any:
    if "X-WR-TIMEZONE" not in calendar:
        return calendar
    try:
        return x_wr_timezone.to_standard(calendar)
    except Exception:
        reasons.append(f'X-WR-TIMEZONE "{calendar.get("X-WR-TIMEZONE")}" cannot be applied')
        return calendar


class _InlineZones(Mapping[str, tzinfo]):
    """The calendar's VTIMEZONEs, each built only when a value needs it."""

    def __init__(self, components: list[Any], reasons: list[str]) -> None:
        self._components = {clean_tzid(str(c.get("TZID", ""))): c for c in components[:MAX_TIMEZONES]}
        self._built: dict[str, tzinfo] = {}
        self._reasons = reasons

    def __getitem__(self, key: str) -> tzinfo:
        if key not in self._built:
            try:
                self._built[key] = self._components[key].to_tz(lookup_tzid=False)
            except KeyError:
                raise
            except Exception:
                self._reasons.append(f'the VTIMEZONE "{key}" cannot be read')
                raise KeyError(key) from None
        return self._built[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._components)

    def __len__(self) -> int:
        return len(self._components)


def _resolver(calendar: Any, owner_zone: ZoneInfo, reasons: list[str]) -> ZoneResolver:
    inline = _InlineZones(calendar.walk("VTIMEZONE"), reasons)
    return ZoneResolver(inline, owner_zone, _calendar_zone(calendar, inline))


def _calendar_zone(calendar: Any, inline: Mapping[str, tzinfo]) -> tuple[tzinfo, str] | None:
    """The zone floating times most likely mean: X-WR-TIMEZONE, else the only VTIMEZONE."""
    wr = clean_tzid(str(calendar.get("X-WR-TIMEZONE", "")))
    names = [wr] if wr else list(inline) if len(inline) == 1 else []
    for name in names:
        iana = iana_for(name)
        found = zone(iana) if iana else None
        if found is not None and iana:
            return found, iana
        if name in inline:
            try:
                return inline[name], name
            except KeyError:
                return None
    return None


def read_calendars(texts: Sequence[tuple[str, str]], owner_zone: ZoneInfo) -> CalendarReading:
    """Read every calendar text; ``texts`` holds (text, MIME method) pairs."""
    reading = CalendarReading()
    seen: set[tuple[Any, ...]] = set()
    for text, mime_method in texts:
        calendars, reasons = parse_calendars(text)
        _add_reasons(reading.reasons, reasons)
        for calendar in calendars:
            _read_one(calendar, mime_method, owner_zone, reading, seen)
    return reading


def _read_one(
    calendar: Any,
    mime_method: str,
    owner_zone: ZoneInfo,
    reading: CalendarReading,
    seen: set[tuple[Any, ...]],
) -> None:
    method = str(calendar.get("METHOD", "")).strip().upper()
    if method and mime_method and method != mime_method:
        _add_reasons(
            reading.reasons, [f"MIME says method={mime_method}, the calendar says {method}; used {method}"]
        )
    if not reading.method:
        reading.method = method or mime_method
    calendar = _standardised(calendar, reading.reasons)
    resolver = _resolver(calendar, owner_zone, reading.reasons)
    for component in calendar.walk("VEVENT"):
        if len(reading.events) >= MAX_EVENTS:
            _add_reasons(reading.reasons, [f"more than {MAX_EVENTS} events; the rest ignored"])
            break
        event = read_event(component, len(reading.events), resolver)
        key = (
            event.uid,
            _key(event.recurrence_id),
            event.sequence,
            event.dtstamp,
            _key(event.start),
            event.summary,
        )
        if key not in seen:
            seen.add(key)
            reading.events.append(event)
    _add_reasons(reading.reasons, resolver.reasons)


def _key(value: datetime | date | None) -> str:
    return "" if value is None else to_utc(value)


def _add_reasons(target: list[str], new: Sequence[str]) -> None:
    target.extend(r for r in new if r not in target)


def is_newer(
    sequence: int, dtstamp: datetime | None, old_sequence: int, old_dtstamp: datetime | None
) -> bool:
    """Whether an event version (SEQUENCE, DTSTAMP) supersedes a stored one.

    A lower SEQUENCE never does; an equal one only with a strictly newer DTSTAMP.
    """
    if sequence != old_sequence:
        return sequence > old_sequence
    if dtstamp is None or old_dtstamp is None:
        return False
    return dtstamp > old_dtstamp


# -- what kind of message it is ----------------------------------------------


def kind_of(method: str, event: EventReading, subject: str) -> tuple[Kind, str]:
    """The kind of a calendar message and the reason for it.

    "update" is a hint from the message alone (SEQUENCE above 0, an override
    of one occurrence, an "Updated" subject); the store decides by UID.
    """
    if method == "CANCEL" or event.status == "CANCELLED":
        return "cancel", f"METHOD:{method or 'none'}" + (
            ", STATUS:CANCELLED" if event.status == "CANCELLED" else ""
        )
    if method in {"REPLY", "DECLINECOUNTER"}:
        return "reply", f"METHOD:{method}: an answer to an invitation"
    if method == "COUNTER":
        return "counter", "METHOD:COUNTER: an attendee proposes another time"
    if method == "REFRESH":
        return "ignored", "METHOD:REFRESH: an attendee asks for the latest version"
    prefix = f"METHOD:{method}" if method else "no METHOD (treated as an invitation)"
    if method == "PUBLISH":
        prefix += " (an announcement; treated as an invitation)"
    if event.sequence > 0 or method == "ADD":
        return "update", f"{prefix}, SEQUENCE:{event.sequence}"
    if event.recurrence_id is not None:
        return "update", f"{prefix} for one occurrence"
    if _UPDATE_SUBJECTS.match(subject):
        return "update", f"{prefix}; the subject says it is an update"
    return "invite", prefix
