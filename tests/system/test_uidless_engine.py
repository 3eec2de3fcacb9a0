"""The whole engine on a real SQLite store: an invite without a UID becomes a meeting, moves and is cancelled."""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from mailflow import clock
from mailflow.config import load_settings
from mailflow.demo import samples
from mailflow.engine.cycle import Engine
from mailflow.sinks.factory import Sinks
from mailflow.sinks.memory import MemorySink
from mailflow.sources.memory import MemorySource
from mailflow.store import Store
from mailflow.store.rows import MeetingRow

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = datetime(2030, 1, 7, 9, 0, tzinfo=BERLIN)
CARLA = samples.CARLA
_numbers = itertools.count(1)


class World:
    def __init__(self, folder: Path) -> None:
        config = folder / "config.toml"
        config.write_text(
            f'[owner]\nname = "Ana"\naddresses = ["{samples.OWNER[1]}"]\ntimezone = "Europe/Berlin"\n'
            f'[mailbox]\naddress = "{samples.MAILFLOW[1]}"\n[data]\nfolder = "{folder / "data"}"\n'
            '[sending]\nwindow = "Mon-Sun 00:00-23:59"\n',
            encoding="utf-8",
        )
        self.store = Store.open(load_settings(config).database_url())
        self.source = MemorySource()
        sink = MemorySink()
        self.engine = Engine(
            load_settings(config), self.store, source=self.source, sinks=Sinks(sink, sink, sink)
        )

    def deliver_at(self, raw: bytes, at: datetime) -> None:
        self.source.add(raw)
        clock.set_now(at)
        self.engine.run_cycle()

    def meetings(self) -> list[MeetingRow]:
        with self.store.read() as tx:
            return tx.list_meetings()


@pytest.fixture
def world() -> Iterator[World]:
    folder = Path(tempfile.mkdtemp(prefix="mailflow-uidless-"))
    made = World(folder)
    yield made
    made.engine.close()
    made.store.close()
    clock.set_now(None)
    shutil.rmtree(folder, ignore_errors=True)


def cdo_invite(start: datetime, sent: datetime, *, sequence: int = 0, cancel: bool = False) -> bytes:
    """Carla's invite as Exchange's CDO writes it: no UID; a cancellation's SUMMARY says so."""
    method = "CANCEL" if cancel else "REQUEST"
    summary = "Canceled: Career chat" if cancel else "Career chat"
    stamp = sent.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    ics = "\r\n".join(
        [
            "BEGIN:VCALENDAR",
            "PRODID:Microsoft CDO for Microsoft Exchange",
            "VERSION:2.0",
            f"METHOD:{method}",
            "BEGIN:VEVENT",
            f"DTSTAMP:{stamp}",
            f"DTSTART:{start.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}",
            f"DTEND:{(start + timedelta(minutes=30)).astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}",
            f"SEQUENCE:{sequence}",
            f"SUMMARY:{summary}",
            f"ORGANIZER;CN={CARLA[0]}:MAILTO:{CARLA[1]}",
            f"ATTENDEE;PARTSTAT=NEEDS-ACTION:MAILTO:{samples.MAILFLOW[1]}",
            *(["STATUS:CANCELLED"] if cancel else []),
            "END:VEVENT",
            "END:VCALENDAR",
            "",
        ]
    )
    return (
        f"From: {CARLA[0]} <{CARLA[1]}>\r\nTo: {samples.MAILFLOW[1]}\r\nSubject: {summary}\r\n"
        f"Date: {sent.strftime('%a, %d %b %Y %H:%M:%S %z')}\r\n"
        f"Message-ID: <cdo-{next(_numbers)}@contoso.com>\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: text/calendar; charset=utf-8; method={method}\r\n\r\n{ics}"
    ).encode()


def test_an_invite_without_uid_becomes_a_meeting_that_its_reschedule_moves_and_its_cancel_cancels(
    world: World,
) -> None:
    first = MONDAY + timedelta(days=3, hours=6)
    world.deliver_at(cdo_invite(first, MONDAY), MONDAY)
    (meeting,) = world.meetings()
    assert meeting.ical_uid.startswith("derived-") and meeting.start_at == first.astimezone(UTC)
    assert meeting.state != "cancelled"

    moved = first + timedelta(days=1)
    world.deliver_at(cdo_invite(moved, MONDAY + timedelta(hours=2), sequence=1), MONDAY + timedelta(hours=2))
    (meeting,) = world.meetings()
    assert meeting.start_at == moved.astimezone(UTC)

    world.deliver_at(
        cdo_invite(moved, MONDAY + timedelta(hours=4), sequence=2, cancel=True), MONDAY + timedelta(hours=4)
    )
    (meeting,) = world.meetings()
    assert meeting.state == "cancelled"


def test_an_invite_without_uid_nor_organizer_is_logged_with_the_reason(world: World) -> None:
    raw = cdo_invite(MONDAY + timedelta(days=3), MONDAY).replace(
        f"ORGANIZER;CN={CARLA[0]}:MAILTO:{CARLA[1]}\r\n".encode(), b""
    )
    world.deliver_at(raw, MONDAY)
    assert world.meetings() == []
    with world.store.read() as tx:
        (logged,) = tx.list_messages(errors_only=True)
    assert "no UID" in logged.error and "organizer" in logged.error
