"""The dispatcher's rules over a real SQLite store and in-memory sinks: what goes, waits, fails or is refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailflow import clock
from mailflow.engine.dispatch import Dispatcher
from mailflow.errors import TemplateError
from mailflow.sinks.factory import Sinks
from mailflow.sinks.memory import MemorySink
from mailflow.store import MeetingData, StepRow, Store
from tests import delivery_helpers as dh


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    yield from dh.open_store(tmp_path)


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()


def _dispatcher(store: Store, sink: MemorySink, tmp_path: Path, **options: object) -> Dispatcher:
    return Dispatcher(store, Sinks(sink, sink, sink), dh.settings(tmp_path), **options)  # type: ignore[arg-type]


def test_one_bad_template_fails_its_step_and_the_others_go_on(
    tmp_path: Path, store: Store, sink: MemorySink
) -> None:
    _, ids = dh.seed_meeting(store, [("prep_request", "send"), ("thank_you", "send")])
    d = _dispatcher(store, sink, tmp_path)
    real = d.render

    def render(step: StepRow, message_id: str) -> EmailMessage:
        if step.step == "prep_request":
            raise TemplateError("prep_request.seeker.txt, line 3: contact.nmae is not defined", template="x")
        return real(step, message_id)

    d.render = render
    assert d.dispatch().counts() == {"failed": 1, "sent": 1}
    failed = dh.step_row(store, ids["prep_request"])
    assert failed.state == "failed" and "contact.nmae" in failed.last_error
    assert [m["To"].addresses[0].addr_spec for m in sink.delivered] == [dh.CONTACT]


def test_a_mail_to_anyone_but_the_steps_audience_is_never_delivered(
    tmp_path: Path, store: Store, sink: MemorySink
) -> None:
    _, ids = dh.seed_meeting(store, [("thank_you", "send"), ("homework_brief", "send")])
    d = _dispatcher(store, sink, tmp_path)
    real = d.render

    def render(step: StepRow, message_id: str) -> EmailMessage:
        made = real(step, message_id)
        made["Cc"] = "stranger@evil.example"
        return made

    d.render = render
    assert d.dispatch().counts() == {"failed": 2}
    assert sink.delivered == []
    assert "would go to stranger@evil.example" in dh.step_row(store, ids["thank_you"]).last_error


def test_a_sink_that_raises_something_unexpected_leaves_the_step_uncertain(
    tmp_path: Path, store: Store
) -> None:
    def explode(message: EmailMessage) -> None:
        raise RuntimeError("the socket library had a bad day")

    sink = MemorySink(fail=explode)
    _, ids = dh.seed_meeting(store, [("thank_you", "send"), ("follow_up", "send")])
    assert _dispatcher(store, sink, tmp_path).dispatch().counts() == {"uncertain": 2}
    row = dh.step_row(store, ids["thank_you"])
    assert row.state == "uncertain" and "RuntimeError" in row.reason and row.message_id


def test_the_playbook_holds_steps_outside_the_window_and_skips_late_ones(
    tmp_path: Path, store: Store, sink: MemorySink
) -> None:
    _, ids = dh.seed_meeting(store, [("thank_you", "send"), ("homework_brief", "send")])
    clock.set_now(dh.T0.replace(hour=21))  # Tuesday evening: contact mail waits, owner mail does not
    assert _dispatcher(store, sink, tmp_path).dispatch().counts() == {"sent": 1}
    assert dh.step_row(store, ids["thank_you"]).state == "pending"
    clock.set_now(dh.T0 + timedelta(days=13))  # two weeks on: far past max_lateness (2d of open window)
    report = _dispatcher(store, sink, tmp_path).dispatch()
    assert report.counts() == {"skipped": 1}
    assert "max_lateness" in dh.step_row(store, ids["thank_you"]).reason


def test_cancelled_meetings_and_steps_claimed_elsewhere_get_nothing(
    tmp_path: Path, store: Store, sink: MemorySink
) -> None:
    meeting_id, ids = dh.seed_meeting(store, [("thank_you", "send"), ("take_action", "send")])
    with store.transaction() as tx:  # the invite's CANCEL arrived; the planner has not run yet
        cancelled, applied = tx.upsert_meeting(
            MeetingData(ical_uid="meeting-1@example.net", sequence=1, state="cancelled")
        )
    assert applied and cancelled.id == meeting_id
    report = _dispatcher(store, sink, tmp_path).dispatch()
    assert report.counts() == {"cancelled": 2} and sink.delivered == []
    assert dh.step_row(store, ids["take_action"]).reason == "the meeting was cancelled"


def test_should_stop_finishes_the_current_step_and_leaves_the_rest_pending(
    tmp_path: Path, store: Store, sink: MemorySink
) -> None:
    dh.seed_meeting(store, [("thank_you", "send"), ("follow_up", "send"), ("take_action", "send")])
    report = _dispatcher(store, sink, tmp_path).dispatch(should_stop=lambda: len(sink.delivered) >= 1)
    assert report.counts() == {"sent": 1}
    assert sorted(state for state, _ in dh.step_states(store).values()) == ["pending", "pending", "sent"]


def test_dry_run_marks_nothing_even_for_steps_it_would_refuse(
    tmp_path: Path, store: Store, sink: MemorySink
) -> None:
    _, crashed = dh.seed_meeting(store, [("thank_you", "send")])
    dh.seed_meeting(store, [("follow_up", "send")], uid="m2@x", contact="cy@example.com")
    dh.seed_meeting(
        store, [("follow_up", "send")], uid="m3@x", contact="dee@example.com", do_not_contact=True
    )
    with store.transaction() as tx:
        tx.claim_step(crashed["thank_you"], "<crashed@mailflow.test>")  # not resolved in a dry run
    before = dh.step_states(store)
    report = _dispatcher(store, sink, tmp_path, dry_run=True).dispatch()
    assert report.counts() == {"dry_run": 1, "cancelled": 1}  # what would happen...
    assert dh.step_states(store) == before and sink.delivered == []  # ...and nothing happened
