"""One bad step never stops dispatch for the others: it fails (or waits) with the reason, the rest go on."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mailflow.engine.dispatch import Dispatcher
from mailflow.sinks.factory import Sinks
from mailflow.sinks.memory import MemorySink
from mailflow.store import Store
from tests import delivery_helpers as dh


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    yield from dh.open_store(tmp_path)


def _dispatcher(store: Store, sink: MemorySink, tmp_path: Path) -> Dispatcher:
    return Dispatcher(store, Sinks(sink, sink, sink), dh.settings(tmp_path))


def test_a_step_this_version_does_not_know_fails_with_the_reason_and_the_others_go_out(
    tmp_path: Path, store: Store
) -> None:
    sink = MemorySink()
    dh.seed_meeting(store, [("thank_you", "send")])
    _, odd = dh.seed_meeting(
        store,
        [("send_flowers", "send")],
        uid="m2@x",
        contact="cy@example.com",
        due=dh.T0 - timedelta(hours=1),
    )  # written by a newer mailflow, due first
    report = _dispatcher(store, sink, tmp_path).dispatch()
    assert report.counts() == {"failed": 1, "sent": 1}
    failed = dh.step_row(store, odd["send_flowers"])
    assert failed.state == "failed" and "KeyError" in failed.last_error and failed.message_id
    assert [m["To"].addresses[0].addr_spec for m in sink.delivered] == [dh.CONTACT]
    assert _dispatcher(store, sink, tmp_path).dispatch().outcomes == []  # failed waits for `mailflow retry`


@pytest.mark.parametrize(
    "start",
    [datetime(1, 1, 1, 0, 30, tzinfo=UTC), datetime(9999, 12, 31, 22, 0, tzinfo=UTC)],
    ids=["year 1", "year 9999"],
)
def test_a_meeting_at_the_ends_of_the_calendar_does_not_stop_the_others(
    tmp_path: Path, store: Store, start: datetime
) -> None:
    sink = MemorySink()
    _, odd = dh.seed_meeting(
        store,
        [("prep_request", "send"), ("summary_prompt", "send")],
        uid="odd@x",
        contact="cy@example.com",
        start=start,
        due=dh.T0 - timedelta(hours=1),
    )
    _, normal = dh.seed_meeting(store, [("thank_you", "send")])
    report = _dispatcher(store, sink, tmp_path).dispatch()
    assert len(report.outcomes) == 3
    assert dh.step_row(store, normal["thank_you"]).state == "sent"
    for step_id in odd.values():  # composed as any other, or failed with the reason; never left half-done
        assert dh.step_row(store, step_id).state in ("sent", "failed")


class BrokenLookup(MemorySink):
    """A sink whose search for a Message-ID has a bug."""

    def find(self, message_id: str) -> bool:
        raise RuntimeError("the folder listing came back upside down")


def test_a_sink_that_cannot_look_leaves_the_crashed_step_in_sending_and_the_others_go_out(
    tmp_path: Path, store: Store
) -> None:
    sink = BrokenLookup()
    _, crashed = dh.seed_meeting(store, [("thank_you", "send")])
    with store.transaction() as tx:  # mailflow stopped while it was being delivered
        tx.claim_step(crashed["thank_you"], "<crashed@mailflow.test>")
    dh.seed_meeting(store, [("follow_up", "send")], uid="m2@x", contact="cy@example.com")
    report = _dispatcher(store, sink, tmp_path).dispatch()
    assert report.counts() == {"unresolved": 1, "sent": 1}
    assert "RuntimeError" in report.of("unresolved")[0].detail
    assert dh.step_row(store, crashed["thank_you"]).state == "sending"  # never guessed sent or uncertain
