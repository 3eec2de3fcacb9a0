"""A stale mailbox holds mail to contacts: a cancellation or a "please stop" may be waiting unread.

Once the last successful sync is more than ``[intake] stale_after`` ago, a due
step to a contact stays pending and is reported ``held`` with the reason; mail
to the owner goes on; after the next successful sync the held step goes out,
once.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine

from mailflow import clock
from mailflow.config import load_settings
from mailflow.demo import samples
from mailflow.engine import health
from mailflow.engine.cycle import Engine
from mailflow.engine.dispatch import Dispatcher
from mailflow.errors import TransientError
from mailflow.sinks.factory import Sinks
from mailflow.sinks.memory import MemorySink
from mailflow.sources.base import DEFAULT_BATCH, Incoming
from mailflow.sources.memory import MemorySource
from mailflow.store import Store
from tests import delivery_helpers as dh

HELD = "mail to contacts is held: the mailbox has not been read since"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    yield from dh.open_store(tmp_path)


@pytest.fixture
def moment(store: Store) -> Iterator[time_machine.Traveller]:
    """Time stands still at T0 (so 30 minutes are exactly 30) until moved."""
    clock.set_now(None)
    with time_machine.travel(dh.T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()


def _dispatcher(store: Store, sink: MemorySink, tmp_path: Path, **options: object) -> Dispatcher:
    settings = dh.settings(tmp_path)
    settings.intake.stale_after = str(options.pop("stale_after", settings.intake.stale_after))
    return Dispatcher(store, Sinks(sink, sink, sink), settings, **options)  # type: ignore[arg-type]


def synced_at(store: Store, moment: time_machine.Traveller, at: datetime) -> None:
    """A successful sync at ``at`` (what the engine stamps after one); the clock stays there."""
    moment.move_to(at)
    health.note_success(store, health.LAST_SYNC, health.MAILBOX)


def delivered_to(sink: MemorySink) -> list[str]:
    return [m["To"].addresses[0].addr_spec for m in sink.delivered]


def test_a_contact_step_is_held_while_the_mailbox_is_stale_and_goes_once_after_a_sync(
    tmp_path: Path, store: Store, sink: MemorySink, moment: time_machine.Traveller
) -> None:
    _, ids = dh.seed_meeting(store, [("thank_you", "send"), ("summary_prompt", "send")])
    synced_at(store, moment, dh.T0 - timedelta(minutes=31))  # 09:29; due steps at 09:55
    moment.move_to(dh.T0)
    report = _dispatcher(store, sink, tmp_path).dispatch()
    assert report.counts() == {"held": 1, "sent": 1}
    [held] = report.of("held")
    assert held.step == "thank_you"
    assert held.detail.startswith(f"{HELD} 09:29 UTC (stale_after 30m)")
    assert delivered_to(sink) == [dh.OWNER]  # the summary prompt went to the owner
    thank_you = dh.step_row(store, ids["thank_you"])
    assert (thank_you.state, thank_you.message_id, thank_you.attempts) == ("pending", None, 0)  # untouched

    moment.move_to(dh.T0 + timedelta(minutes=5))  # still unread: still held, still not sent
    assert _dispatcher(store, sink, tmp_path).dispatch().counts() == {"held": 1}
    assert dh.step_row(store, ids["thank_you"]).state == "pending"

    synced_at(store, moment, dh.T0 + timedelta(minutes=6))  # the mailbox is read again
    assert _dispatcher(store, sink, tmp_path).dispatch().counts() == {"sent": 1}
    assert dh.step_row(store, ids["thank_you"]).state == "sent"
    moment.move_to(dh.T0 + timedelta(minutes=7))
    assert _dispatcher(store, sink, tmp_path).dispatch().outcomes == []
    assert delivered_to(sink) == [dh.OWNER, dh.CONTACT]  # the held step went out once


def test_stale_after_is_the_limit_and_is_read_from_intake(
    tmp_path: Path, store: Store, sink: MemorySink, moment: time_machine.Traveller
) -> None:
    dh.seed_meeting(store, [("thank_you", "send")])
    synced_at(store, moment, dh.T0 - timedelta(minutes=30))
    moment.move_to(dh.T0)
    assert _dispatcher(store, sink, tmp_path).dispatch().counts() == {"sent": 1}  # 30 minutes is not stale

    dh.seed_meeting(store, [("thank_you", "send")], uid="m2@x", contact="cy@example.com")
    report = _dispatcher(store, sink, tmp_path, stale_after="10m").dispatch()
    assert report.counts() == {"held": 1} and "(stale_after 10m)" in report.outcomes[0].detail


def test_without_any_sync_recorded_nothing_is_held(
    tmp_path: Path, store: Store, sink: MemorySink, moment: time_machine.Traveller
) -> None:
    dh.seed_meeting(store, [("thank_you", "send")])
    assert health.stale_since(store, timedelta(minutes=30)) is None
    assert _dispatcher(store, sink, tmp_path).dispatch().counts() == {"sent": 1}


def test_stale_since_says_when_the_mailbox_was_last_read(
    store: Store, moment: time_machine.Traveller
) -> None:
    synced_at(store, moment, dh.T0 - timedelta(hours=2))
    moment.move_to(dh.T0)
    assert health.stale_since(store, timedelta(minutes=30)) == dh.T0 - timedelta(hours=2)
    assert health.stale_since(store, timedelta(hours=3)) is None
    since = (dh.T0 - timedelta(days=1)).astimezone(ZoneInfo("Europe/Berlin"))
    assert health.held_reason(since, dh.T0, "30m").startswith(
        f"{HELD} 2025-03-10 11:00 CET (stale_after 30m)"
    )


def test_a_dry_run_reports_the_hold_too(
    tmp_path: Path, store: Store, sink: MemorySink, moment: time_machine.Traveller
) -> None:
    _, ids = dh.seed_meeting(store, [("thank_you", "send")])
    synced_at(store, moment, dh.T0 - timedelta(hours=1))
    moment.move_to(dh.T0)
    report = _dispatcher(store, sink, tmp_path, dry_run=True).dispatch()
    assert report.counts() == {"held": 1} and dh.step_row(store, ids["thank_you"]).state == "pending"


# -- the whole engine: a mailbox that cannot be reached --------------------------------

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = datetime(2030, 1, 7, 9, 0, tzinfo=BERLIN)
THURSDAY = datetime(2030, 1, 10, 15, 0, tzinfo=BERLIN)  # the meeting: 15:00-15:45


class Mailbox(MemorySource):
    """The in-memory mailbox, with a switch for the network."""

    reachable = True

    def poll(self, cursor: str | None, *, limit: int = DEFAULT_BATCH) -> tuple[list[Incoming], str]:
        if not self.reachable:
            raise TransientError("connection refused", backend="imap")
        return super().poll(cursor, limit=limit)


@pytest.fixture
def engine() -> Iterator[tuple[Engine, Mailbox, MemorySink]]:
    with tempfile.TemporaryDirectory(prefix="mailflow-stale-") as folder:
        config = Path(folder) / "config.toml"
        config.write_text(
            f'[owner]\nname = "Ana"\naddresses = ["{samples.OWNER[1]}"]\ntimezone = "Europe/Berlin"\n'
            f'[mailbox]\naddress = "{samples.MAILFLOW[1]}"\n[data]\nfolder = "{Path(folder) / "data"}"\n'
            '[sending]\nwindow = "Mon-Sun 00:00-23:59"\n'
            '[playbook.thank_you]\nmode = "send"\nat = "end + 20m"\n',  # mail to the contact at 16:05
            encoding="utf-8",
        )
        settings = load_settings(config)
        store = Store.open(settings.database_url())
        mailbox, sink = Mailbox(), MemorySink()
        made = Engine(settings, store, source=mailbox, sinks=Sinks(sink, sink, sink))
        try:
            yield made, mailbox, sink
        finally:
            made.close()
            store.close()


def cycle_at(engine: Engine, at: datetime) -> dict[str, int]:
    clock.set_now(at)
    report = engine.run_cycle()
    return report.dispatch.counts() if report.dispatch else {}


def sent(engine: Engine, sink: MemorySink) -> list[str]:
    with engine.store.read() as tx:
        found = [tx.find_step_by_message_id(str(m["Message-ID"])) for m in sink.delivered]
    return [s.step for s in found if s is not None]


def test_an_unreachable_mailbox_holds_the_thank_you_and_lets_the_owners_prompt_go(
    engine: tuple[Engine, Mailbox, MemorySink],
) -> None:
    run, mailbox, sink = engine
    mailbox.add(samples.google_invite(THURSDAY, MONDAY, uid="coffee@google.com", guest=samples.BEN))
    cycle_at(run, MONDAY)
    cycle_at(run, THURSDAY + timedelta(minutes=40))  # 15:40: read, nothing new
    before = sent(run, sink)
    mailbox.reachable = False
    # 16:11: the summary prompt (owner, due 15:45) goes; the thank-you (contact, due 16:05) waits
    cycle_at(run, THURSDAY + timedelta(minutes=71))
    assert sent(run, sink)[len(before) :] == ["summary_prompt"]
    assert run.last_report.dispatch is not None
    [held] = run.last_report.dispatch.of("held")
    assert held.step == "thank_you" and "not been read since 15:40 CET" in held.detail
    assert any(e.startswith("sync:") for e in run.last_report.errors)
    cycle_at(run, THURSDAY + timedelta(minutes=80))
    assert "thank_you" not in sent(run, sink)
    mailbox.reachable = True
    assert cycle_at(run, THURSDAY + timedelta(minutes=90)) == {"sent": 1}  # read again: it goes in this cycle
    assert sent(run, sink)[-1] == "thank_you"
    cycle_at(run, THURSDAY + timedelta(minutes=95))
    assert sent(run, sink).count("thank_you") == 1
