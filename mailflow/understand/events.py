"""Reading one VEVENT defensively: a broken property is a reason, not a failure.

A broken property that decides identity, time, recurrence or status (see
``lenient.DECISIVE``) is also a doubt (``EventReading.doubts``): its value is
left unread (None, or 0 for SEQUENCE), never guessed, and the meeting waits.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from mailflow.model import Attendee, Person
from mailflow.text import one_line
from mailflow.understand.headers import EARLIEST_YEAR, LATEST_YEAR, in_range
from mailflow.understand.lenient import DECISIVE, broken_values, dropped_broken, name_of, qp_text, unread
from mailflow.understand.links import LINK_PROPERTIES
from mailflow.understand.people import attendees_of, person_of
from mailflow.understand.zones import ZoneResolver

BIGINT_MAX = 2**63 - 1
#: the values STATUS may take in a VEVENT (RFC 5545); any other is not guessed at
STATUSES = frozenset({"TENTATIVE", "CONFIRMED", "CANCELLED"})
#: what may appear only once; two different values of one of these leave the event in doubt
_ONCE = DECISIVE - {"EXDATE", "RDATE", "RRULE"}
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})?(Z)?)?$")
# what Exchange and others put before the SUMMARY of a cancellation, an update or an answer
_STATUS_PREFIX = re.compile(
    r"^(?:canceled|cancelled|updated|accepted|declined|tentative|abgesagt|aktualisiert|angenommen"
    r"|abgelehnt|mit vorbehalt angenommen|annulé|mis à jour|accepté|refusé|cancelado|actualizado"
    r"|aceptado|rechazado|annullato|aggiornato|geannuleerd|bijgewerkt|geaccepteerd|afgewezen"
    r"|inställt|uppdaterat|avlyst|aflyst)[ \t]*:[ \t]*",
    re.IGNORECASE,
)


@dataclass
class EventReading:
    """The facts of one VEVENT, each read on its own."""

    order: int
    component: Any = field(repr=False)
    uid: str = ""
    sequence: int = 0
    dtstamp: datetime | None = None
    recurrence_id: datetime | date | None = None
    status: str = ""
    summary: str = ""
    description: str = ""
    html_description: str = ""
    location: str = ""
    organizer: Person | None = None
    attendees: tuple[Attendee, ...] = ()
    start: datetime | date | None = None
    end: datetime | date | None = None
    timezone: str = ""
    start_tzid: str = ""
    recurs: bool = False
    link_properties: tuple[tuple[str, str], ...] = ()
    reasons: list[str] = field(default_factory=list)
    #: why a fact that decides identity, time, recurrence or status was not read (and not guessed):
    #: one per broken property; each is also a reason
    doubts: list[str] = field(default_factory=list)

    def label(self) -> str:
        """How this event is named among others: ``UID (summary)``."""
        text = self.uid or f"event {self.order + 1}"
        return f"{text} ({self.summary})" if self.summary else text


def tracking_uid(event: EventReading) -> tuple[str, str]:
    """The UID an event is tracked by, and the reason when it is not its own.

    Exchange (CDO), Meetup and some exports send invites without a UID.  Such an
    event is tracked by its organizer and summary, never its start: a reschedule
    changes the start, and its update or cancellation must still find the meeting.
    """
    if event.uid:
        return event.uid, ""
    summary = summary_key(event.summary)
    if event.organizer is None or not summary:
        return "", "the invite has no UID, and no organizer and summary to track it by"
    digest = hashlib.sha256(f"{event.organizer.address.lower()}\n{summary}".encode()).hexdigest()
    return f"derived-{digest}", "the invite has no UID; tracked by its organizer and summary"


def summary_key(summary: str) -> str:
    """A summary as the same meeting's messages share it: no "Canceled:" prefix, case or spacing."""
    text = " ".join(summary.split())
    for _ in range(3):  # "Updated: Canceled: ..." at worst
        text = _STATUS_PREFIX.sub("", text)
    return text.casefold()


def _first(component: Any, name: str, reasons: list[str]) -> Any:
    value = component.get(name)
    if isinstance(value, list):
        if len(value) > 1 and name not in {"ATTENDEE", "EXDATE", "RDATE", "COMMENT", "CATEGORIES"}:
            reasons.append(f"{name} appears {len(value)} times; used the first")
        value = value[0] if value else None
    return value


def text_of(component: Any, name: str, reasons: list[str], limit: int) -> str:
    """A TEXT property as plain text, with doubly escaped commas undone."""
    value = _first(component, name, reasons)
    if value is None:
        return ""
    text = str(value)
    if _param(value, "ENCODING").upper() == "QUOTED-PRINTABLE":
        text = qp_text(text, _param(value, "CHARSET"))
        reasons.append(f"{name} was written as quoted-printable; decoded")
    text = text.replace("\\,", ",").replace("\\;", ";").replace("\\n", "\n").replace("\\N", "\n")
    return text.strip()[:limit]


def _param(prop: Any, name: str) -> str:
    params = getattr(prop, "params", None) or {}
    value = params.get(name, "")
    return str(value[0] if isinstance(value, list) and value else value)


def _raw(prop: Any) -> str:
    try:
        raw = prop.to_ical()
        return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    except Exception:
        return str(prop)


def _repair(text: str) -> datetime | date | None:
    """A date or date-time written loosely (``2023-07-01T12:57:00``) read strictly."""
    match = _COMPACT.match(re.sub(r"[-:\s]", "", text.strip()))
    if not match:
        return None
    year, month, day, hour, minute, second, zulu = match.groups()
    try:
        if hour is None:
            return date(int(year), int(month), int(day))
        value = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0))
    except ValueError:
        return None
    return value.replace(tzinfo=UTC) if zulu else value


def when(
    component: Any, name: str, resolver: ZoneResolver, reasons: list[str]
) -> tuple[datetime | date | None, str, str]:
    """(value, zone name, TZID as written) of a DATE/DATE-TIME property; aware when a time."""
    prop = _first(component, name, reasons)
    if prop is None:
        return None, "", ""
    value: Any
    try:
        value = prop.dt
    except Exception:
        value = _repair(_raw(prop))
        if value is None:
            reasons.append(f"{name} cannot be read ({one_line(_raw(prop), 60)!r})")
            return None, "", ""
        reasons.append(f"{name} is not in iCalendar form ({one_line(_raw(prop), 40)!r}); read it anyway")
    tzid = _param(prop, "TZID")
    if isinstance(value, date) and not in_range(value):  # year 1 or 9999: offsets and durations overflow
        reasons.append(
            f"{name} is out of range (year {value.year}, not {EARLIEST_YEAR}-{LATEST_YEAR}); ignored"
        )
        return None, "", tzid
    if isinstance(value, datetime):
        if _param(prop, "VALUE").upper() == "DATE":
            reasons.append(f"{name} says VALUE=DATE but holds a time; read as the day")
            return value.date(), "", tzid
        aware, zone_name = resolver.aware(value, tzid or None)
        return aware, zone_name, tzid
    if isinstance(value, date):
        return value, "", tzid
    reasons.append(f"{name} holds no date")
    return None, "", tzid


def _duration(component: Any, reasons: list[str]) -> timedelta | None:
    prop = _first(component, "DURATION", reasons)
    if prop is None:
        return None
    try:
        value = prop.dt
    except Exception:
        reasons.append("DURATION cannot be read")
        return None
    return value if isinstance(value, timedelta) else None


def sequence_of(component: Any, reasons: list[str]) -> int:
    """SEQUENCE as an integer that fits a BIGINT column (Google once sent 1407317367304)."""
    prop = _first(component, "SEQUENCE", reasons)
    if prop is None:
        return 0
    try:
        number = int(str(prop).strip())
    except ValueError:
        reasons.append(f"SEQUENCE is not a number ({one_line(str(prop), 30)!r}); used 0")
        return 0
    if not 0 <= number <= BIGINT_MAX:
        reasons.append("SEQUENCE is out of range; clamped")
        return max(0, min(number, BIGINT_MAX))
    return number


def _stamp(component: Any, resolver: ZoneResolver, reasons: list[str]) -> datetime | None:
    prop = _first(component, "DTSTAMP", reasons)
    if prop is None:
        return None
    try:
        value = prop.dt
    except Exception:
        value = _repair(_raw(prop))
    if not isinstance(value, datetime):
        return None
    if not in_range(value):
        reasons.append(f"DTSTAMP is out of range (year {value.year}); ignored")
        return None
    # DTSTAMP is UTC by definition; a floating one is taken as UTC, not the owner's zone
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


def read_event(component: Any, order: int, resolver: ZoneResolver) -> EventReading:
    """Every fact of one VEVENT that could be read; the rest become reasons, or doubts when they decide."""
    reasons: list[str] = dropped_broken(component, "event")
    doubts: list[str] = []
    event = EventReading(order=order, component=component, reasons=reasons, doubts=doubts)
    event.uid = text_of(component, "UID", reasons, 1000)
    event.sequence = _decisive(
        event, "SEQUENCE", lambda: sequence_of(component, reasons), lambda _v, said: bool(said)
    )
    event.dtstamp = _stamp(component, resolver, reasons)
    event.recurrence_id = _decisive(
        event, "RECURRENCE-ID", lambda: when(component, "RECURRENCE-ID", resolver, reasons)[0], _none
    )
    event.status = text_of(component, "STATUS", reasons, 40).upper()
    event.summary = one_line(text_of(component, "SUMMARY", reasons, 1000), 500)
    event.description = text_of(component, "DESCRIPTION", reasons, 20000)
    event.html_description = text_of(component, "X-ALT-DESC", reasons, 40000)
    event.location = one_line(text_of(component, "LOCATION", reasons, 2000), 1000)
    event.organizer = _safely(lambda: person_of(component.get("ORGANIZER")), None, "ORGANIZER", reasons)
    event.attendees = _safely(lambda: attendees_of(component.get("ATTENDEE")), (), "ATTENDEE", reasons)
    event.start, event.timezone, event.start_tzid = _decisive(
        event, "DTSTART", lambda: when(component, "DTSTART", resolver, reasons), lambda v, _said: v[0] is None
    )
    event.end = _end(event, resolver)
    event.recurs = "RRULE" in component or "RDATE" in component
    event.link_properties = tuple(
        (name, text_of(component, name, reasons, 4000)) for name in LINK_PROPERTIES if name in component
    )
    _doubt_the_rest(event)
    unread_start = any(name_of(raw) == "DTSTART" for raw in unread(component))
    if event.start is None and "DTSTART" not in component and not unread_start:
        reasons.append("the event has no DTSTART")
    return event


def _doubt(event: EventReading, reason: str) -> None:
    if reason not in event.doubts:
        event.doubts.append(reason)
    if reason not in event.reasons:
        event.reasons.append(reason)


def _decisive(
    event: EventReading, name: str, read: Callable[[], Any], unread_if: Callable[[Any, list[str]], bool]
) -> Any:
    """``read()``; when ``name`` is there but ``unread_if(value, what reading said)``, what it said is a doubt."""
    mark = len(event.reasons)
    value = read()
    said = [r for r in event.reasons[mark:] if not r.startswith(f"{name} appears")]  # see _doubt_the_rest
    if name in event.component and unread_if(value, said):
        for reason in said or [f"{name} cannot be read"]:
            _doubt(event, reason)
    return value


def _none(value: Any, _said: list[str]) -> bool:
    return value is None


def _doubt_the_rest(event: EventReading) -> None:
    """Doubts the readers above do not raise: lines not read at all, a broken UID, rule or STATUS, duplicates."""
    component = event.component
    for raw in unread(component):
        _doubt(event, f"{name_of(raw)} cannot be read ({one_line(raw, 60)!r})")
    if "UID" in component and not event.uid:
        _doubt(event, "UID is empty; the meeting it belongs to is not guessed")
    for name in ("RRULE", "EXDATE", "RDATE"):
        for raw in broken_values(component, name)[:1]:
            _doubt(event, f"{name} cannot be read ({one_line(raw, 60)!r}); the series is not guessed")
    if "STATUS" in component and event.status not in STATUSES:
        _doubt(event, f"STATUS {one_line(event.status, 40)!r} is not TENTATIVE, CONFIRMED or CANCELLED")
    for name in sorted(_ONCE):
        value = component.get(name)
        if isinstance(value, list) and len({_raw(v) for v in value}) > 1:
            _doubt(event, f"{name} appears {len(value)} times with different values; not guessed")


def _safely(read: Any, default: Any, name: str, reasons: list[str]) -> Any:
    try:
        return read()
    except Exception:
        reasons.append(f"{name} cannot be read")
        return default


def _end(event: EventReading, resolver: ZoneResolver) -> datetime | date | None:
    component, start, reasons = event.component, event.start, event.reasons
    end: datetime | date | None = _decisive(
        event, "DTEND", lambda: when(component, "DTEND", resolver, reasons)[0], _none
    )
    duration = _decisive(event, "DURATION", lambda: _duration(component, reasons), _none)
    if end is not None and duration is not None:
        reasons.append("both DTEND and DURATION given; used DTEND")
    if end is None and duration is not None and start is not None:
        end = _plus(start, duration)
        if end is None:
            reasons.append("DURATION takes the end out of range; no end")
    if end is None and start is not None and not isinstance(start, datetime):
        end = _plus(start, timedelta(days=1))
    if end is not None and start is not None and type(end) is not type(start):
        reasons.append("DTSTART and DTEND differ in kind (date and date-time); DTEND ignored")
        return None
    if end is not None and start is not None and end < start:
        reasons.append("DTEND is before DTSTART; DTEND ignored")
        return None
    return end


def _plus(start: datetime | date, duration: timedelta) -> datetime | date | None:
    try:
        end = start + duration
    except OverflowError:
        return None
    return end if in_range(end) else None
