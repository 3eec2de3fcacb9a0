"""Calendar files mailflow writes: owner reminders and follow-up proposals.

Every file is made to survive Outlook and Exchange: a VTIMEZONE (in the
one-rule-per-observance shape Outlook reads, see :mod:`.vtimezone`) for
every TZID used, a stable UID, SEQUENCE, DTSTAMP and
X-MICROSOFT-CDO-APPT-SEQUENCE.  A time whose local reading would be
ambiguous (the repeated hour when clocks go back) or whose zone cannot be
described that way is written in UTC, so every file reads back to exactly
the instants it was given.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from icalendar import Alarm, Calendar, Event, vCalAddress

from mailflow import __version__, clock
from mailflow.compose.message import safe_display_name
from mailflow.compose.vtimezone import vtimezone
from mailflow.config import parse_window
from mailflow.errors import ConfigError
from mailflow.model import Person
from mailflow.text import one_line

PRODID = f"-//mailflow//mailflow {__version__}//EN"


@dataclass(frozen=True)
class Reminder:
    """A moment for the owner's calendar, with an alarm."""

    key: str  # stable per reminder, e.g. "42/take_action/0"; makes the UID
    summary: str
    description: str
    start: datetime  # aware
    minutes: int = 15
    alarm_minutes_before: int = 0


@dataclass(frozen=True)
class Proposal:
    """The next coffee, proposed by the owner to the contact."""

    key: str  # stable per proposal, e.g. "42/follow_up/0"; makes the UID
    start: datetime  # aware
    end: datetime
    summary: str
    description: str
    organizer: Person  # the owner
    attendee: Person  # the contact
    method: Literal["request", "publish"] = "request"
    location: str = ""
    sequence: int = 0


def stable_uid(kind: str, key: str, domain: str) -> str:
    """The same UID for the same ``(kind, key)`` on every run, revealing nothing of the key."""
    digest = hashlib.sha256(f"{kind}\0{key}".encode()).hexdigest()[:24]
    return f"mailflow-{kind}-{digest}@{domain or 'mailflow.invalid'}"


# -- writing times --------------------------------------------------------------


class TimeWriter:
    """Writes instants in ``zone`` when an Outlook-proof VTIMEZONE exists and the reading is unambiguous."""

    def __init__(self, zone: str, instants: Iterable[datetime]) -> None:
        years = [moment.astimezone(UTC).year for moment in instants] or [clock.now().year]
        self.zone = ZoneInfo(zone)
        self.timezone = vtimezone(zone, min(years), max(years))
        self.used = False

    def value(self, moment: datetime) -> datetime:
        """``moment`` as it should be written: local with TZID, or UTC."""
        if moment.tzinfo is None:
            raise ValueError("calendar times must be aware")
        if self.timezone is None:
            return moment.astimezone(UTC)
        local = moment.astimezone(self.zone)
        reread = local.replace(tzinfo=self.zone, fold=0)  # what a reader will take it for
        if reread.astimezone(UTC) != moment.astimezone(UTC):
            return moment.astimezone(UTC)
        self.used = True
        return reread

    def finish(self, cal: Calendar) -> Calendar:
        """Put the VTIMEZONE first in ``cal`` when a time used its TZID."""
        if self.used and self.timezone is not None:
            cal.subcomponents.insert(0, self.timezone)
        return cal


def new_calendar(method: str | None) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if method:
        cal.add("method", method)
    return cal


def stamp_event(event: Event, uid: str, now: datetime, sequence: int) -> None:
    event.add("uid", uid)
    event.add("dtstamp", now.astimezone(UTC).replace(microsecond=0))
    event.add("sequence", sequence)
    event.add("x-microsoft-cdo-appt-sequence", str(sequence))


def ics_text(value: str, limit: int = 2000) -> str:
    """Text for SUMMARY/DESCRIPTION: icalendar escapes it; we bound it and drop odd controls."""
    lines = [one_line(line, limit) for line in value.replace("\r\n", "\n").split("\n")]
    return "\n".join(lines)[:limit]


def _person(person: Person, **params: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{person.address}")
    name = safe_display_name(person.name)
    if name:
        address.params["cn"] = name
    for key, value in params.items():
        address.params[key.replace("_", "-")] = value
    return address


# -- reminders ------------------------------------------------------------------


def build_reminders(
    reminders: Sequence[Reminder], *, zone: str, domain: str, now: datetime | None = None, sequence: int = 0
) -> bytes:
    """A ``METHOD:PUBLISH`` calendar of owner reminders, each a VEVENT with a display VALARM."""
    now = now or clock.now()
    writer = TimeWriter(zone, [r.start for r in reminders])
    cal = new_calendar("PUBLISH")
    for reminder in reminders:
        cal.add_component(_reminder_event(reminder, writer, domain, now, sequence))
    return bytes(writer.finish(cal).to_ical())


def _reminder_event(
    reminder: Reminder, writer: TimeWriter, domain: str, now: datetime, sequence: int
) -> Event:
    event = Event()
    stamp_event(event, stable_uid("reminder", reminder.key, domain), now, sequence)
    event.add("summary", ics_text(reminder.summary, 200))
    event.add("description", ics_text(reminder.description))
    event.add("dtstart", writer.value(reminder.start))
    event.add("dtend", writer.value(reminder.start + timedelta(minutes=reminder.minutes)))
    event.add("transp", "TRANSPARENT")
    event.add("class", "PRIVATE")
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", ics_text(reminder.summary, 200))
    alarm.add("trigger", timedelta(minutes=-reminder.alarm_minutes_before))
    event.add_component(alarm)
    return event


# -- proposals ------------------------------------------------------------------


def build_proposal(proposal: Proposal, *, zone: str, domain: str, now: datetime | None = None) -> bytes:
    """The next coffee as ``METHOD:REQUEST`` (owner organises, contact attends) or ``PUBLISH``."""
    now = now or clock.now()
    method = "REQUEST" if proposal.method == "request" else "PUBLISH"
    writer = TimeWriter(zone, [proposal.start, proposal.end])
    cal = new_calendar(method)
    event = Event()
    stamp_event(event, stable_uid("proposal", proposal.key, domain), now, proposal.sequence)
    event.add("summary", ics_text(proposal.summary, 200))
    event.add("description", ics_text(proposal.description))
    event.add("dtstart", writer.value(proposal.start))
    event.add("dtend", writer.value(proposal.end))
    if proposal.location:
        event.add("location", ics_text(proposal.location, 300))
    event.add("organizer", _person(proposal.organizer))
    if method == "REQUEST":
        event.add(
            "attendee",
            _person(proposal.attendee, role="REQ-PARTICIPANT", partstat="NEEDS-ACTION", rsvp="TRUE"),
        )
        event.add("attendee", _person(proposal.organizer, role="CHAIR", partstat="ACCEPTED", rsvp="FALSE"))
    event.add("status", "CONFIRMED")
    event.add("transp", "OPAQUE")
    event.add("class", "PUBLIC")
    event.add("x-microsoft-cdo-busystatus", "BUSY")
    event.add("x-microsoft-cdo-intendedstatus", "BUSY")
    cal.add_component(event)
    return bytes(writer.finish(cal).to_ical())


def propose_slot(
    not_before: datetime,
    availability: str,
    zone: ZoneInfo,
    length: timedelta,
    preferred: time | None = None,
    search_days: int = 60,
    *,
    length_key: str = "the proposal length",
) -> datetime:
    """The first slot at or after ``not_before`` inside ``availability`` (``"Mon-Fri 09:00-17:00"``).

    ``preferred`` (the time of day of the last meeting) is tried first, then
    the window's start; a local time that does not exist or happens twice on
    a day clocks change is never chosen.
    """
    days, opens, closes = parse_window(availability)
    first_day = not_before.astimezone(zone).date()
    for offset in range(search_days + 1):
        day = first_day + timedelta(days=offset)
        if day.weekday() not in days:
            continue
        for start in _times_to_try(preferred, opens, closes, length):
            candidate = local_instant(day, start, zone)
            if candidate is not None and candidate >= not_before:
                return candidate
    raise ConfigError(
        f"no {int(length.total_seconds() // 60)}-minute slot fits owner.availability = "
        f'"{availability}" (check it and {length_key})'
    )


def _times_to_try(preferred: time | None, opens: time, closes: time, length: timedelta) -> list[time]:
    result: list[time] = []
    for start in (preferred, opens):
        if start is None:
            continue
        start = time(start.hour, start.minute - start.minute % 15)
        end = datetime.combine(date(2000, 1, 1), start) + length
        if opens <= start and end.date() == date(2000, 1, 1) and end.time() <= closes and start not in result:
            result.append(start)
    return result


def local_instant(day: date, at: time, zone: ZoneInfo) -> datetime | None:
    """``day`` at ``at`` in ``zone``; None when that wall time is skipped or repeated."""
    naive = datetime.combine(day, at)
    first = naive.replace(tzinfo=zone, fold=0)
    second = naive.replace(tzinfo=zone, fold=1)
    if first.utcoffset() != second.utcoffset():
        return None  # repeated (clocks went back) or skipped (clocks went forward)
    return first
