"""Understanding in worker processes gives the records the serial path gives.

A large sync (many candidates, or more batches to come) hands the parsing to
forked workers; the same messages synced in one process must yield equal
understandings, the same records, and the same handling of a failing message.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mailflow import clock
from mailflow.engine.intake import Intake, Prepared, SyncSummary
from mailflow.model import Understanding
from mailflow.sources.memory import MemorySource
from mailflow.store import Store
from mailflow.understand import Context, understand
from tests import intake_support as support

OURS = "<step-12.prep_request@mailflow.owner.example>"
STRANGER = b"lee@elsewhere.example"
FIXED = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


class _Capturing(Intake):
    """An intake that keeps what each message was understood as."""

    understood: dict[int, Understanding]

    def _prepared(self, item: object, raw: bytes, u: Understanding) -> Prepared:
        self.understood[item.ref.uid] = u  # type: ignore[attr-defined]
        return super()._prepared(item, raw, u)  # type: ignore[arg-type]


def _messages() -> list[bytes]:
    names = sorted(p.name for p in (Path(support.__file__).parent / "fixtures" / "mail").glob("*.eml"))
    # a stranger's reply to our mail: only the store lookup in the context makes it matter
    reply = support.fixture("reply_contact_resume.eml").replace(b"jordan.lee@contact.example", STRANGER)
    reply = support.with_message_id(reply, "<stranger-reply@elsewhere.example>")
    owner = [
        support.plain(sender=support.OWNER, subject="a note"),
        support.plain(sender=support.OWNER, body="BOOM"),
    ]
    return [support.fixture(n) for n in names] + [support.corrupt(), reply, *owner]


MESSAGES = _messages()  # once: generated messages carry fresh Message-IDs


def _picky(raw: bytes, context: Context) -> Understanding:
    """Real understanding, plus a note of the process, and one message that raises."""
    with Path(os.environ["MAILFLOW_TEST_PIDS"]).open("a") as pids:
        pids.write(f"{os.getpid()}\n")
    if raw.endswith(b"BOOM"):
        raise RuntimeError("a substitute that breaks")
    return understand(raw, context)


def _run(tmp_path: Path, name: str, workers: int) -> tuple[_Capturing, SyncSummary, Store]:
    config = support.settings(tmp_path / name, kind="maildir")
    store = support.open_store(config)
    Intake(store, MemorySource([support.fixture("fwd_gmail_invite.eml")]), config).sync()
    with store.transaction() as tx:  # a step of ours that the stranger's reply answers
        (meeting,) = tx.list_meetings()
        row, _new = tx.plan_step(meeting.id, "prep_request", 0, FIXED - timedelta(days=1), "send")
        assert tx.claim_step(row.id, OURS)
    intake = _Capturing(store, MemorySource(MESSAGES, uidvalidity=7), config, understand_fn=_picky,
                        batch_size=6, workers=workers)  # fmt: skip
    intake.understood = {}
    return intake, intake.sync(), store


@pytest.fixture(autouse=True)
def _frozen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "now", lambda: FIXED + timedelta(0))
    monkeypatch.setenv("MAILFLOW_TEST_PIDS", str(tmp_path / "pids"))


@pytest.mark.parametrize("workers", [1, 2])
def test_workers_understand_exactly_what_one_process_understands(tmp_path: Path, workers: int) -> None:
    serial, serial_summary, serial_store = _run(tmp_path, "serial", workers=0)
    serial_pids = set((tmp_path / "pids").read_text().split())
    (tmp_path / "pids").unlink()
    parallel, parallel_summary, parallel_store = _run(tmp_path, "parallel", workers=workers)
    parallel_pids = set((tmp_path / "pids").read_text().split())

    assert serial_pids == {str(os.getpid())}
    assert len(parallel_pids - serial_pids) == workers, "the workers did the parsing"
    assert parallel.understood == serial.understood
    assert {u: v.to_json() for u, v in parallel.understood.items()} == {
        u: v.to_json() for u, v in serial.understood.items()
    }
    assert any(
        u.kind == "unreadable" and "a substitute that breaks" in u.error for u in parallel.understood.values()
    )
    assert parallel_summary.to_json() == serial_summary.to_json()
    assert serial_summary.meetings_created > 5 and serial_summary.errors >= 1
    assert [
        u.replied_to
        for u in parallel.understood.values()
        if u.sender and u.sender.address == STRANGER.decode()
    ] == [OURS]
    assert _tables(parallel_store) == _tables(serial_store)
    serial_store.close()
    parallel_store.close()


def _tables(store: Store) -> tuple[object, ...]:
    with store.read() as tx:
        meetings = sorted(repr((m.ical_uid, m.state, m.trusted, m.recurrence_id)) for m in tx.list_meetings())
        contacts = sorted(c.address for c in tx.list_contacts())
        log = sorted(repr((m.message_id, m.kind, m.error, m.content_hash)) for m in tx.list_messages())
    return meetings, contacts, log


def test_what_the_batch_before_recorded_is_caught_up_when_batches_overlap(tmp_path: Path) -> None:
    """Batch 2 is triaged while batch 1 is still in the workers: a contact batch 1 creates
    still makes their mail in batch 2 matter, and an invite repeated in batch 2 is still a duplicate."""
    names = [
        *("google_invite", "icloud_invite", "teams_invite", "outlookcom_invite", "calendly_invite"),
        *("reply_contact_resume", "google_invite", "exchange_onprem_invite", "outlook_desktop_invite"),
        *("icloud_allday", "google_recurring"),
    ]
    messages = [support.fixture(f"{name}.eml") for name in names]
    results = []
    for workers in (0, 2):
        config = support.settings(tmp_path / str(workers), kind="maildir")
        store = support.open_store(config)
        intake = _Capturing(store, MemorySource(messages), config, batch_size=5, workers=workers)
        intake.understood = {}
        results.append((intake.understood, intake.sync().to_json(), _tables(store)))
        store.close()
    (serial, serial_summary, serial_tables), (parallel, parallel_summary, parallel_tables) = results
    assert 6 in serial and 6 in parallel, "Jordan's mail is read: a contact since batch 1"
    # the repeated invite was read before batch 1 was written: parsed, then dropped as a duplicate
    assert parallel == {**serial, 7: parallel[7]} and parallel[7] == serial[1]
    assert parallel_summary == {**serial_summary, "parsed": serial_summary["parsed"] + 1}
    assert serial_summary["duplicates"] == 1
    assert parallel_tables == serial_tables
