"""Whole-engine scenarios on a real SQLite store: trust upgrades, confirmation, moved series, odd sinks."""

from __future__ import annotations

import email
import email.policy
import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from mailflow import clock
from mailflow.config import load_settings
from mailflow.demo import samples
from mailflow.engine.cycle import Engine
from mailflow.model import Receipt
from mailflow.sinks.factory import Sinks
from mailflow.sinks.memory import MemorySink
from mailflow.sources.memory import MemorySource
from mailflow.store import Store
from tests.cli_helpers import run_cli

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = datetime(2030, 1, 7, 9, 0, tzinfo=BERLIN)
THURSDAY = datetime(2030, 1, 10, 15, 0, tzinfo=BERLIN)


class World:
    def __init__(self, folder: Path, sink: MemorySink | None = None, extra: str = "") -> None:
        self.folder = folder
        self.config = folder / "config.toml"
        self.config.write_text(
            f'[owner]\nname = "Ana"\naddresses = ["{samples.OWNER[1]}"]\ntimezone = "Europe/Berlin"\n'
            f'[mailbox]\naddress = "{samples.MAILFLOW[1]}"\n[data]\nfolder = "{folder / "data"}"\n'
            '[sending]\nwindow = "Mon-Sun 00:00-23:59"\n' + extra,
            encoding="utf-8",
        )
        self.settings = load_settings(self.config)
        self.store = Store.open(self.settings.database_url())
        self.source = MemorySource()
        self.sink = sink or MemorySink()
        self.engine = Engine(
            self.settings, self.store, source=self.source, sinks=Sinks(self.sink, self.sink, self.sink)
        )

    def cycle_at(self, at: datetime) -> None:
        clock.set_now(at)
        self.engine.run_cycle()

    def sent_steps(self) -> list[str]:
        with self.store.read() as tx:
            found = [tx.find_step_by_message_id(str(m["Message-ID"])) for m in self.sink.delivered]
        return [f"{s.step}#{s.occurrence}" for s in found if s is not None]


@pytest.fixture
def world() -> Iterator[World]:
    folder = Path(tempfile.mkdtemp(prefix="mailflow-scn-"))
    made = World(folder)
    yield made
    made.engine.close()
    made.store.close()
    clock.set_now(None)
    shutil.rmtree(folder, ignore_errors=True)


def strangers_invite(sequence: int = 0) -> bytes:
    """Carla's invite sent straight to mailflow's address (not forwarded by the owner)."""
    raw = samples.google_invite(
        THURSDAY, MONDAY, uid="carla-direct@google.com", guest=samples.BEN, sequence=sequence
    )
    return raw.replace(b"From: Ana Lima <ana@example.org>", b"From: Carla Mendes <carla.mendes@contoso.com>")


def test_a_strangers_invite_sends_nothing_until_the_owner_forwards_it(world: World) -> None:
    world.source.add(strangers_invite())
    world.cycle_at(MONDAY)
    assert world.sink.delivered == []
    with world.store.read() as tx:
        assert tx.find_meeting("carla-direct@google.com").state == "pending"  # type: ignore[union-attr]
    forward = EmailMessage()
    forward["From"] = f"{samples.OWNER[0]} <{samples.OWNER[1]}>"
    forward["To"] = samples.MAILFLOW[1]
    forward["Subject"] = "Fwd: Invitation"
    forward["Message-ID"] = "<fwd-direct@mail.example.org>"
    forward["Date"] = "Mon, 07 Jan 2030 10:00:00 +0100"
    forward.set_content("please handle this one")
    from email import message_from_bytes
    from email.policy import default

    forward.add_attachment(message_from_bytes(strangers_invite(), policy=default))  # type: ignore[arg-type]
    world.source.add(forward.as_bytes())
    world.cycle_at(MONDAY + timedelta(hours=1))
    assert world.sent_steps() == ["prep_request#0"]
    with world.store.read() as tx:
        meeting = tx.find_meeting("carla-direct@google.com")
    assert meeting is not None and meeting.state == "scheduled" and meeting.scheduled_at is not None


def test_confirm_lets_a_strangers_invite_through(world: World) -> None:
    world.source.add(strangers_invite())
    world.cycle_at(MONDAY)
    assert world.sink.delivered == []
    clock.set_now(MONDAY + timedelta(minutes=10))
    result = run_cli(
        ["--config", str(world.config), "--now", (MONDAY + timedelta(minutes=10)).isoformat(), "confirm", "1"]
    )
    assert result.exit_code == 0, result.output
    world.cycle_at(MONDAY + timedelta(minutes=20))
    assert world.sent_steps() == ["prep_request#0"]


def weekly(start: datetime, sequence: int, sent: datetime = MONDAY) -> bytes:
    raw = samples.google_invite(start, sent, uid="series@google.com", guest=samples.BEN, sequence=sequence)
    return raw.replace(b"SEQUENCE:", b"RRULE:FREQ=WEEKLY;COUNT=10\r\nSEQUENCE:", 2)


def test_a_moved_series_does_not_send_the_old_occurrences_steps(world: World) -> None:
    world.source.add(weekly(THURSDAY, 0))
    world.cycle_at(MONDAY)
    world.source.add(weekly(THURSDAY + timedelta(days=1), 1))  # the series moves to Fridays
    world.cycle_at(MONDAY + timedelta(hours=1))
    for day in range(1, 8):
        for hour in (8, 12, 16, 20):
            world.cycle_at((MONDAY + timedelta(days=day)).replace(hour=hour))
    steps = world.sent_steps()
    assert len(steps) == len(set(s.split("#")[0] for s in steps)), steps  # each step once, for one occurrence
    assert "thank_you#20300110" not in steps


def test_a_weekly_series_gets_its_steps_every_week_until_its_last_occurrence(world: World) -> None:
    raw = samples.google_invite(THURSDAY, MONDAY, uid="three-weeks@google.com", guest=samples.BEN)
    world.source.add(raw.replace(b"SEQUENCE:", b"RRULE:FREQ=WEEKLY;COUNT=3\r\nSEQUENCE:", 1))
    for day in range(0, 24):  # four cycles a day for three and a half weeks, and no mail after the invite
        for hour in (8, 12, 16, 20):
            world.cycle_at((MONDAY + timedelta(days=day)).replace(hour=hour))
    steps = world.sent_steps()
    thursdays = ["20300110", "20300117", "20300124"]
    for step in ("homework_brief", "summary_prompt", "take_action"):
        assert [s for s in steps if s.startswith(step)] == [f"{step}#{day}" for day in thursdays], steps
    with world.store.read() as tx:
        (meeting,) = tx.list_meetings()
        assert meeting.start_at == THURSDAY + timedelta(days=14)  # the last occurrence; no fourth
        assert tx.get_series(meeting.id) is None  # nothing left to follow
        assert meeting.rescheduled_at is None  # time went on; the series itself never moved


def rebuilt(raw: bytes, edit: Callable[[str], str], *, sender: tuple[str, str], msgid: str) -> bytes:
    """``raw``'s calendar, edited as text, in a new mail from ``sender``."""
    invite = email.message_from_bytes(raw, policy=email.policy.default)
    part = next(p for p in invite.walk() if p.get_content_type() == "text/calendar")
    ics = edit(part.get_content().replace("\r\n", "\n"))
    message = samples._message(sender, [samples.BEN, samples.MAILFLOW], str(invite["Subject"]),
                               invite["Date"].datetime, msgid)  # fmt: skip
    samples._attach_calendar(message, "Invitation", ics, str(part.get_param("method")))
    return message.as_bytes(policy=email.policy.SMTP)


def one_occurrence(
    slot: datetime, moved: datetime, sent: datetime, *, uid: str, method: str = "REQUEST",
    sender: tuple[str, str] = samples.OWNER,
) -> bytes:  # fmt: skip
    """Mail about one occurrence of a series (RECURRENCE-ID ``slot``), moved to ``moved`` or cancelled."""
    slot_id = slot.astimezone(BERLIN).strftime("%Y%m%dT%H%M%S")
    return rebuilt(
        samples.google_invite(moved, sent, uid=uid, guest=samples.BEN, sequence=1, method=method),
        lambda ics: ics.replace("SEQUENCE:", f"RECURRENCE-ID;TZID=Europe/Berlin:{slot_id}\nSEQUENCE:", 1),
        sender=sender,
        msgid=f"<{slot_id}-{method}@x>",
    )


def run_days(world: World, days: int, mail: list[tuple[datetime, bytes]] = ()) -> None:  # type: ignore[assignment]
    """Four cycles a day from MONDAY; each mail arrives at the first cycle at or after its time."""
    waiting = list(mail)
    for day in range(days):
        for hour in (8, 12, 16, 20):
            at = (MONDAY + timedelta(days=day)).replace(hour=hour)
            for when, raw in [m for m in waiting if m[0] <= at]:
                world.source.add(raw)
                waiting.remove((when, raw))
            world.cycle_at(at)


def test_an_occurrence_moved_after_the_series_moved_on_to_it_gets_its_steps_once(world: World) -> None:
    world.source.add(weekly(THURSDAY, 0))
    second = THURSDAY + timedelta(days=7)
    moved = one_occurrence(
        second, second + timedelta(days=1), MONDAY + timedelta(days=7), uid="series@google.com"
    )
    run_days(world, 14, [(MONDAY + timedelta(days=7, hours=1), moved)])
    steps = world.sent_steps()
    for step in ("homework_brief", "summary_prompt", "take_action"):
        assert [s for s in steps if s.startswith(step) and s[-8:] in ("20300117", "20300118")] == [
            f"{step}#20300118"
        ], steps
    assert steps.count("prep_request#0") == 1  # the moved occurrence's own row asks for nothing again


def test_an_occurrence_the_contact_moves_in_a_series_they_organise_keeps_its_steps(world: World) -> None:
    ben_organises = rebuilt(
        weekly(THURSDAY, 0),
        lambda ics: ics.replace(
            "ORGANIZER;CN=Ana Lima:mailto:ana@example.org", "ORGANIZER:mailto:ben.okafor@example.net"
        ),
        sender=samples.OWNER,  # the owner forwards it: trusted
        msgid="<bens-series@x>",
    )
    world.source.add(ben_organises)
    second = THURSDAY + timedelta(days=7)
    sent = MONDAY + timedelta(days=7)
    moved = one_occurrence(
        second, second + timedelta(days=1), sent, uid="series@google.com", sender=samples.BEN
    )
    run_days(world, 14, [(sent + timedelta(hours=1), moved)])
    steps = world.sent_steps()
    assert "homework_brief#20300118" in steps and "homework_brief#20300117" not in steps, steps
    with world.store.read() as tx:
        own = next(m for m in tx.list_meetings() if m.recurrence_id)
    assert own.trusted and own.state == "scheduled"  # the series' trust, not a stranger's pending invite


def test_one_occurrences_mail_read_before_its_series_asks_for_materials_once_in_all(world: World) -> None:
    second = THURSDAY + timedelta(days=7)
    early = one_occurrence(
        second, second + timedelta(days=1), MONDAY - timedelta(days=1), uid="series@google.com"
    )
    run_days(world, 3, [(MONDAY, early), (MONDAY + timedelta(hours=5), weekly(THURSDAY, 0))])
    assert world.sent_steps().count("prep_request#0") == 1, world.sent_steps()


def test_a_strangers_mail_about_one_occurrence_changes_nothing(world: World) -> None:
    world.source.add(weekly(THURSDAY, 0))
    second = THURSDAY + timedelta(days=7)
    mallory = ("Mallory", "mallory@elsewhere.example")
    forged = one_occurrence(
        second, second, MONDAY + timedelta(days=7), uid="series@google.com", method="CANCEL", sender=mallory
    )
    run_days(world, 10, [(MONDAY + timedelta(days=7, hours=1), forged)])
    assert "homework_brief#20300117" in world.sent_steps()
    with world.store.read() as tx:
        assert len(tx.list_meetings()) == 1  # no row of its own for the stranger's "occurrence"


def test_a_step_held_past_its_occurrence_is_written_from_that_occurrences_times(tmp_path: Path) -> None:
    held = World(tmp_path, extra='[playbook.take_action]\nat = "end + 2d"\n')
    try:
        held.source.add(weekly(THURSDAY, 0))
        run_days(held, 7)
        by_step = {}
        with held.store.read() as tx:
            for mail in held.sink.delivered:
                step = tx.find_step_by_message_id(str(mail["Message-ID"]))
                if step is not None:
                    by_step[f"{step.step}#{step.occurrence}"] = str(mail["Subject"])
        assert "13 January" in by_step["take_action#20300110"], by_step  # not the next occurrence's week
    finally:
        held.engine.close()
        held.store.close()
        clock.set_now(None)


def test_an_update_of_the_series_just_after_an_occurrence_keeps_that_occurrences_steps(world: World) -> None:
    world.source.add(weekly(THURSDAY, 0))
    ended = THURSDAY + timedelta(minutes=45)
    update = weekly(THURSDAY, 1, sent=ended + timedelta(hours=2))  # sent after the first occurrence
    run_days(world, 5, [(ended + timedelta(hours=2), update)])
    steps = world.sent_steps()
    assert {"summary_prompt#20300110", "thank_you#20300110", "take_action#20300110"} <= set(steps), steps


class DeliversThenRaises(MemorySink):
    def deliver(self, message: EmailMessage) -> Receipt:
        super().deliver(message)
        raise RuntimeError("the sink broke after the mail went out")


def test_a_sink_that_breaks_after_delivering_is_resolved_as_sent() -> None:
    folder = Path(tempfile.mkdtemp(prefix="mailflow-scn-"))
    try:
        world = World(folder, DeliversThenRaises())
        world.source.add(samples.google_invite(THURSDAY, MONDAY, uid="broken@google.com", guest=samples.BEN))
        world.cycle_at(MONDAY)
        with world.store.read() as tx:
            states = [s.state for s in tx.steps_in_state("sent", "uncertain")]
        assert states == ["sent"]  # found by its Message-ID, so never offered for a second sending
        world.engine.close()
        world.store.close()
    finally:
        clock.set_now(None)
        shutil.rmtree(folder, ignore_errors=True)


def test_a_strangers_update_cannot_move_cancel_or_redirect_a_trusted_meeting(world: World) -> None:
    world.source.add(samples.google_invite(THURSDAY, MONDAY, uid="owned@google.com", guest=samples.BEN))
    world.cycle_at(MONDAY)
    mallory = ("Mallory", "mallory@evil.example")
    for method in ("REQUEST", "CANCEL"):
        forged = samples.google_invite(
            THURSDAY + timedelta(days=1),
            MONDAY,
            uid="owned@google.com",
            guest=mallory,
            sequence=5,
            method=method,
        ).replace(b"From: Ana Lima <ana@example.org>", b"From: Mallory <mallory@evil.example>")
        world.source.add(forged)
    world.cycle_at(MONDAY + timedelta(hours=1))
    with world.store.read() as tx:
        meeting = tx.find_meeting("owned@google.com")
        assert meeting is not None
        counterpart = tx.get_contact(meeting.counterpart_id) if meeting.counterpart_id else None
    assert meeting.state == "scheduled"
    assert meeting.start_at == THURSDAY
    assert counterpart is not None and counterpart.address == samples.BEN[1]
    assert all("mallory" not in str(m["To"]) for m in world.sink.delivered)


def test_a_forged_authentication_results_does_not_make_a_stranger_the_owner() -> None:
    from mailflow.understand import Context, understand

    context = Context(owner_addresses=frozenset({samples.OWNER[1]}), authserv_id="mx.example.org")
    raw = samples.owner_notes_reply(MONDAY, "<x@mailflow.test>", "How was it?")
    real = b"Authentication-Results: mx.example.org; dkim=none; spf=fail; dmarc=none\r\n"
    for forged in (
        b"Authentication-Results: =?us-ascii?q?mx.example.org?=; dkim=pass header.d=example.org\r\n",
        b"Authentication-Results: (ok) mx.example.org; dkim=pass header.d=example.org\r\n",
        b"Authentication-Results: mx.example.org; dkim=pass header.d=example.org\r\n",  # below ours: too late
    ):
        assert not understand(real + forged + raw, context).from_owner
    good = b"Authentication-Results: mx.example.org; dkim=pass header.d=example.org\r\n"
    assert understand(good + raw, context).from_owner
