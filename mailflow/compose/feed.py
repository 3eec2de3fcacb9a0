"""One calendar to subscribe to: upcoming meetings and the steps still to come.

``mailflow export ics`` writes it; a calendar app that subscribes to the file
(or to wherever it is published) shows what mailflow will do and when.
Events are transparent (they never make the owner look busy: the real
meeting is already in the owner's calendar) and their UIDs are mailflow's
own, so they never collide with the invite's event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from icalendar import Event

from mailflow import clock
from mailflow.compose.context import display_name
from mailflow.compose.ics import TimeWriter, ics_text, new_calendar, stable_uid, stamp_event
from mailflow.steps import DEFAULT_STEPS, StepRegistry


@dataclass(frozen=True)
class FeedMeeting:
    """An upcoming meeting."""

    key: str  # stable per meeting, e.g. the store's id
    summary: str
    contact: str  # display name or address
    start: datetime | None = None  # aware; None with ``day`` for all-day meetings
    end: datetime | None = None
    day: date | None = None
    location: str = ""
    url: str = ""
    role: str = ""


@dataclass(frozen=True)
class FeedStep:
    """A step of the routine that is still to come."""

    key: str  # stable per (meeting, step, occurrence)
    step: str
    contact: str
    due: datetime  # aware
    mode: str = ""  # send | draft | notify
    state: str = "pending"


def build_feed(
    meetings: Sequence[FeedMeeting],
    steps: Sequence[FeedStep],
    *,
    zone: str,
    domain: str,
    now: datetime | None = None,
    name: str = "mailflow",
    table: StepRegistry = DEFAULT_STEPS,
) -> bytes:
    """The feed as iCalendar bytes, times in ``zone`` (the owner's); ``table`` titles the steps."""
    now = now or clock.now()
    instants = [m.start for m in meetings if m.start] + [m.end for m in meetings if m.end]
    instants += [s.due for s in steps]
    writer = TimeWriter(zone, instants)
    cal = new_calendar("PUBLISH")
    cal.add("x-wr-calname", ics_text(name, 100))
    cal.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", "PT1H")
    for meeting in meetings:
        event = _meeting_event(meeting, writer, domain, now)
        if event is not None:
            cal.add_component(event)
    for step in steps:
        cal.add_component(_step_event(step, writer, domain, now, table))
    return bytes(writer.finish(cal).to_ical())


def _meeting_event(meeting: FeedMeeting, writer: TimeWriter, domain: str, now: datetime) -> Event | None:
    event = Event()
    stamp_event(event, stable_uid("meeting", meeting.key, domain), now, 0)
    who = display_name(meeting.contact)
    event.add("summary", ics_text(meeting.summary or f"Meeting with {who}", 200))
    if meeting.start is not None:
        event.add("dtstart", writer.value(meeting.start))
        event.add("dtend", writer.value(meeting.end or meeting.start + timedelta(minutes=30)))
    elif meeting.day is not None:
        event.add("dtstart", meeting.day)
        event.add("dtend", meeting.day + timedelta(days=1))
    else:
        return None
    role = f" You are the {meeting.role}." if meeting.role else ""
    event.add("description", ics_text(f"With {who}.{role}" + (f"\n{meeting.url}" if meeting.url else "")))
    if meeting.location:
        event.add("location", ics_text(meeting.location, 300))
    event.add("transp", "TRANSPARENT")
    event.add("categories", ["mailflow"])
    return event


def _step_event(step: FeedStep, writer: TimeWriter, domain: str, now: datetime, table: StepRegistry) -> Event:
    event = Event()
    stamp_event(event, stable_uid("step", step.key, domain), now, 0)
    who = display_name(step.contact)
    spec = table.get(step.step)
    title = (spec.labels.feed if spec else step.step.replace("_", " ") + " ({who})").format(who=who)
    event.add("summary", ics_text(title, 200))
    event.add("dtstart", writer.value(step.due))
    event.add("dtend", writer.value(step.due + timedelta(minutes=15)))
    how = {"send": "sent", "draft": "saved as a draft", "notify": "mailed to you"}.get(step.mode, "")
    detail = f"mailflow: {step.step.replace('_', ' ')} for {who}" + (f", {how}" if how else "")
    event.add("description", ics_text(f"{detail} ({step.state})."))
    event.add("transp", "TRANSPARENT")
    event.add("categories", ["mailflow"])
    return event
