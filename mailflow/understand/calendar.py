"""Calendar data in, the one event that matters out.

``read_calendars`` repairs what clients commonly get wrong (and drops what
icalendar cannot read, see ``lenient``), parses with icalendar 7, turns
X-WR-TIMEZONE calendars into standard ones (x-wr-timezone) and reads every
VEVENT (see ``events``); ``choice.choose`` then picks the one that matters.
A METHOD that cannot be read or is no iTIP method is a doubt
(``CalendarReading.doubts``), never guessed.  ``kind_of`` maps METHOD and
STATUS to the kind of message and ``is_newer`` orders versions of one event.
Nothing here raises on bad data.
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
from mailflow.text import one_line
from mailflow.understand.events import EventReading, read_event
from mailflow.understand.lenient import (
    decoded_leftover_qp,
    joined_soft_breaks,
    lenient_lines,
    name_of,
    unread,
)
from mailflow.understand.vtimezones import DATE_PROPS, MAX_TIMEZONES, made_safe
from mailflow.understand.zones import ZoneResolver, clean_tzid, iana_for, to_utc, zone

MAX_EVENTS = 200
_DATE_PROPS = DATE_PROPS
_DASHED = re.compile(
    rf"^((?:{_DATE_PROPS})(?:;[^:\n]*)?):(\d{{4}})-(\d{{2}})-(\d{{2}})T(\d{{2}}):?(\d{{2}}):?(\d{{2}})(Z?)\s*$",
    re.MULTILINE | re.IGNORECASE,
)
_EMPTY_DATE = re.compile(rf"^(?:{_DATE_PROPS})(?:;[^:\n]*)?:\s*$\n?", re.MULTILINE | re.IGNORECASE)
_CONTENT_LINE = re.compile(r"^[A-Za-z0-9-]+(?:;[^\n]*)?:", re.MULTILINE)
#: the methods of iTIP (RFC 5546); any other is not guessed at
METHODS = frozenset({"PUBLISH", "REQUEST", "REPLY", "ADD", "CANCEL", "REFRESH", "COUNTER", "DECLINECOUNTER"})
_UPDATE_SUBJECTS = re.compile(
    r"^\s*(?:updated|update|aktualisiert|mise à jour|actualizad|aggiornat|bijgewerkt|uppdaterad)",
    re.IGNORECASE,
)


@dataclass
class CalendarReading:
    """All events of all calendar parts of one message."""

    method: str = ""
    events: list[EventReading] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    #: why the calendar itself cannot be taken as read (a METHOD that is no method): each is also a reason
    doubts: list[str] = field(default_factory=list)


def repair(text: str) -> tuple[str, list[str]]:
    """Calendar text with common client mistakes fixed, and what was fixed."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    text, reasons = decoded_leftover_qp(text)
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
    lines = joined_soft_breaks([line for line in text.split("\n") if line.strip()])
    junk = [line for line in lines if not _CONTENT_LINE.match(line)]
    if junk:
        reasons.append(f"{len(junk)} line(s) that are not iCalendar content ignored")
        lines = [line for line in lines if _CONTENT_LINE.match(line)]
    lines, lenient_reasons = lenient_lines(lines)
    reasons.extend(lenient_reasons)
    lines, zone_reasons = made_safe(lines)
    reasons.extend(zone_reasons)
    return "\r\n".join(lines) + "\r\n", reasons


def parse_calendars(text: str) -> tuple[list[Any], list[str]]:
    """The VCALENDARs in ``text``; never raises."""
    fixed, reasons = repair(text)
    # icalendar caches VTIMEZONEs by TZID process-wide; two mails that both say
    # "Customized Time Zone" must not share one definition, so start clean each time
    icalendar.use_zoneinfo()  # type: ignore[no-untyped-call]
    calendars: list[Any] | None = None
    try:
        calendars = icalendar.Calendar.from_ical(fixed, multiple=True)
    except Exception as exc:
        # a VTIMEZONE icalendar cannot build fails the whole calendar: the events may still be read
        without = _without_timezones(fixed)
        try:
            calendars = icalendar.Calendar.from_ical(without, multiple=True) if without != fixed else None
        except Exception:
            calendars = None
        if calendars is None:
            reasons.append(f"calendar data cannot be parsed ({type(exc).__name__})")
            return [], reasons
        reasons.append(f"the calendar's time zone definitions cannot be read ({type(exc).__name__}); ignored")
    return [c for c in calendars if getattr(c, "name", "") == "VCALENDAR"], reasons


def _without_timezones(text: str) -> str:
    kept: list[str] = []
    inside = False
    for line in text.split("\r\n"):
        upper = line.upper()
        inside = (inside or upper == "BEGIN:VTIMEZONE") and upper != "END:VTIMEZONE"
        if not inside and upper != "END:VTIMEZONE":
            kept.append(line)
    return "\r\n".join(kept)


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
    method, doubts = _method(calendar)
    if method and mime_method and method != mime_method:
        _add_reasons(
            reading.reasons, [f"MIME says method={mime_method}, the calendar says {method}; used {method}"]
        )
    used = method or mime_method
    if used and used not in METHODS:
        doubts.append(
            f"METHOD {one_line(used, 40)!r} is not an iTIP method; the kind of message is not guessed"
        )
    _add_reasons(reading.doubts, doubts)
    _add_reasons(reading.reasons, doubts)
    if not reading.method:
        reading.method = used
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


def _method(calendar: Any) -> tuple[str, list[str]]:
    """The calendar's METHOD (upper case), and the doubts about it."""
    value = calendar.get("METHOD")
    values = value if isinstance(value, list) else [] if value is None else [value]
    methods = [str(v).strip().upper() for v in values]
    doubts = [f"{name_of(raw)} cannot be read ({one_line(raw, 60)!r})" for raw in unread(calendar)]
    if len(set(methods)) > 1:
        doubts.append(f"METHOD appears {len(methods)} times with different values; not guessed")
    return (methods[0] if methods else ""), doubts


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
