"""Wall clocks, time zones and the send window: pure arithmetic on aware datetimes.

Every function returns UTC.  Whole-day offsets ("1d", "60d", "4mo", and so
also "48h") move on the reader's calendar, so "end + 60d" keeps its wall-clock time across a
daylight-saving change; shorter offsets ("3h") are exact durations.  A wall
time that does not exist (02:30 on the spring-forward night) lands an hour
later; an ambiguous one (the autumn repeat) is its first occurrence.

Dates come from mail, so they may be absurd (year 1, year 9999): a moment
that would fall outside the years 1 to 9999 raises :class:`OutOfRange`, a
ValueError with the reason, never an OverflowError from deep in datetime.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import ParamSpec
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mailflow.playbook.rules import SendWindow
from mailflow.steps import Audience

DAY = timedelta(days=1)
_MAX_DAYS_SCANNED = 4000
_P = ParamSpec("_P")


class OutOfRange(ValueError):
    """A moment before 0001-01-01 or after 9999-12-31, where datetime cannot count."""


def _bounded(func: Callable[_P, datetime]) -> Callable[_P, datetime]:
    """``func`` with datetime's OverflowError turned into :class:`OutOfRange`."""

    @functools.wraps(func)
    def bounded(*args: _P.args, **kwargs: _P.kwargs) -> datetime:
        try:
            return func(*args, **kwargs)
        except OverflowError as exc:
            raise OutOfRange("it falls outside the calendar (the years 1 to 9999)") from exc

    return bounded


def zone_named(name: str | None, fallback: ZoneInfo) -> ZoneInfo:
    """The zone called ``name`` (from hostile mail: may be junk), else ``fallback``."""
    if not name:
        return fallback
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return fallback


def reader_zone(audience: Audience, contact_timezone: str | None, owner_zone: ZoneInfo) -> ZoneInfo:
    """Owner mail reads in the owner's zone; contact mail in the contact's when known."""
    if audience == "owner":
        return owner_zone
    return zone_named(contact_timezone, owner_zone)


@_bounded
def local(wall: datetime, zone: ZoneInfo) -> datetime:
    """A naive wall-clock time in ``zone`` -> the UTC instant."""
    return wall.replace(tzinfo=zone).astimezone(UTC)


@_bounded
def shift(anchor: datetime, offset: timedelta, zone: ZoneInfo) -> datetime:
    """``anchor + offset``; whole days are added on ``zone``'s calendar."""
    if offset % DAY == timedelta(0):
        wall = anchor.astimezone(zone).replace(tzinfo=None) + offset
        return local(wall, zone)
    return anchor.astimezone(UTC) + offset


@_bounded
def on_day_at(moment: datetime, clock: time, zone: ZoneInfo) -> datetime:
    """``clock`` o'clock on ``moment``'s day in ``zone``."""
    return local(datetime.combine(moment.astimezone(zone).date(), clock), zone)


def held_by_window(audience: Audience, mode: str) -> bool:
    """Only mail sent to a contact waits for the window; drafts and owner mail do not."""
    return audience == "contact" and mode == "send"


def _hours(day: date, window: SendWindow, zone: ZoneInfo) -> tuple[datetime, datetime]:
    return local(datetime.combine(day, window.opens), zone), local(datetime.combine(day, window.closes), zone)


@_bounded
def next_in_window(instant: datetime, window: SendWindow, zone: ZoneInfo) -> datetime:
    """``instant`` itself when the window is open then, else the next opening."""
    first = instant.astimezone(zone).date()
    for i in range(8):
        day = first + timedelta(days=i)
        if day.weekday() not in window.days:
            continue
        opens, closes = _hours(day, window, zone)
        if instant < closes:
            return max(instant, opens).astimezone(UTC)
    raise ValueError(f"the send window {window.text!r} has no open day")  # parse_window forbids this


def open_time_between(start: datetime, stop: datetime, window: SendWindow, zone: ZoneInfo) -> timedelta:
    """How long the window was open between two instants (the time a held step could have gone out)."""
    if stop - start > _MAX_DAYS_SCANNED * DAY:
        return stop - start  # more than ten years: treat it all as missed time
    total = timedelta(0)
    first, last = start.astimezone(zone).date(), stop.astimezone(zone).date()
    for i in range((last - first).days + 1):  # never a day past ``last``: 9999-12-31 has no next
        day = first + timedelta(days=i)
        if day.weekday() in window.days:
            opens, closes = _hours(day, window, zone)
            total += max(timedelta(0), min(closes, stop) - max(opens, start))
    return total


def lateness(due: datetime, now: datetime, window: tuple[SendWindow, ZoneInfo] | None) -> timedelta:
    """How late a step is at ``now``.

    For a step held by the send window only open-window time counts, so a step
    due on Friday at 17:59 and sent on Monday at 08:00 is two minutes late, not
    two and a half days.
    """
    due, now = due.astimezone(UTC), now.astimezone(UTC)
    if now <= due:
        return timedelta(0)
    if window is None:
        return now - due
    return open_time_between(due, now, *window)
