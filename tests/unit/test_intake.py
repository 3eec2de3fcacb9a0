"""Intake above the seam: the in-memory source, real understanding, a real SQLite file.

What each kind of message writes, what the triage leaves alone, and that one
bad message or a failing fetch never costs the others.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mailflow.config import Settings
from mailflow.engine.intake import Intake, SyncSummary
from mailflow.errors import TransientError
from mailflow.model import MessageRef, Person, SavedAttachment, Understanding
from mailflow.sources.base import Incoming
from mailflow.sources.memory import MemorySource
from mailflow.store import Store
from mailflow.understand import Context, understand
from tests import intake_support as support

JORDAN = "jordan.lee@contact.example"


@pytest.fixture
def config(tmp_path: Path) -> Settings:
    return support.settings(tmp_path, kind="maildir")


@pytest.fixture
def store(config: Settings) -> Iterator[Store]:
    opened = support.open_store(config)
    yield opened
    opened.close()


_validity = itertools.count(1)


def _sync(store: Store, config: Settings, *messages: bytes, **options: object) -> SyncSummary:
    """Sync ``messages`` as a folder of their own (a new UIDVALIDITY: only they are new)."""
    source = MemorySource(messages, uidvalidity=next(_validity))
    return Intake(store, source, config, **options).sync()  # type: ignore[arg-type]


def _our_step(store: Store, meeting_id: int, message_id: str, step: str = "prep_request") -> None:
    """A step mailflow sent with ``message_id`` (what replies answer)."""
    with store.transaction() as tx:
        row, _new = tx.plan_step(meeting_id, step, 0, datetime.now(UTC) - timedelta(days=1), "send")
        assert tx.claim_step(row.id, message_id)


def _only_meeting(store: Store) -> object:
    with store.read() as tx:
        (meeting,) = tx.list_meetings()
    return meeting


def test_only_what_can_matter_is_read_in_full(store: Store, config: Settings) -> None:
    read: list[bytes] = []

    def spy(raw: bytes, context: Context) -> Understanding:
        read.append(raw)
        return understand(raw, context)

    ours = "<step-1.prep_request@mailflow.owner.example>"
    summary = _sync(
        store,
        config,
        support.plain(),  # a stranger, no calendar: passed over
        support.fixture("newsletter.eml"),
        support.plain(sender=support.OWNER, subject="note to self"),  # the owner: read
        support.with_ics_attachment(),  # calendar data: read
        support.forwarded_as_attachment(),  # an attached message: read
        support.plain(
            body="Re: see <step-1.prep_request@mailflow.owner.example>"
        ),  # not a header: passed over
        understand_fn=spy,
        workers=0,  # the spy's list lives in this process
    )
    assert (summary.seen, summary.parsed, summary.skipped) == (6, 3, 3)
    assert len(read) == 3
    with store.read() as tx:
        assert len(tx.list_messages()) == 3
    assert ours not in b"".join(read).decode("utf-8", "replace")


def test_a_reply_to_our_message_id_is_read_even_from_a_stranger(store: Store, config: Settings) -> None:
    _sync(store, config, support.fixture("fwd_gmail_invite.eml"))
    meeting = _only_meeting(store)
    _our_step(store, meeting.id, "<step-12.prep_request@mailflow.owner.example>")  # type: ignore[attr-defined]
    stranger_reply = support.fixture("reply_contact_resume.eml").replace(
        JORDAN.encode(), b"lee@elsewhere.example"
    )
    summary = _sync(store, config, stranger_reply)
    assert (summary.parsed, summary.contact_replies) == (1, 1)


def test_an_invite_from_a_contact_upgrades_the_open_request(store: Store, config: Settings) -> None:
    first = _sync(store, config, support.fixture("fwd_gmail_request.eml"))
    assert first.requests_created == 1
    second = _sync(store, config, support.fixture("google_invite.eml"))
    assert (second.meetings_created, second.meetings_updated) == (0, 1)
    meeting = _only_meeting(store)
    assert meeting.ical_uid  # type: ignore[attr-defined]
    # the request lends its role, never its trust (it may rest on a forward alone): the contact's
    # invite waits for the owner's forward or confirm (issue #26, item 2)
    assert (meeting.state, meeting.trusted) == ("pending", False)  # type: ignore[attr-defined]
    _sync(store, config, support.fixture("fwd_gmail_invite.eml"))
    assert (_only_meeting(store).state, _only_meeting(store).trusted) == ("scheduled", True)  # type: ignore[attr-defined]


def test_the_owners_forward_vouches_for_an_invite_that_came_straight(store: Store, config: Settings) -> None:
    _sync(store, config, support.fixture("google_invite.eml"))
    assert _only_meeting(store).state == "pending"  # type: ignore[attr-defined]
    summary = _sync(store, config, support.fixture("fwd_gmail_invite.eml"))
    assert summary.meetings_created == 0
    meeting = _only_meeting(store)
    assert (meeting.state, meeting.trusted) == ("scheduled", True)  # type: ignore[attr-defined]


def test_a_direct_update_keeps_a_trusted_meeting_trusted(store: Store, config: Settings) -> None:
    _sync(store, config, support.fixture("fwd_gmail_invite.eml"))
    before = _only_meeting(store)
    summary = _sync(store, config, support.fixture("google_update.eml"))
    assert summary.meetings_updated == 1
    after = _only_meeting(store)
    assert (after.state, after.trusted) == ("scheduled", True)  # type: ignore[attr-defined]
    assert after.start_at != before.start_at  # type: ignore[attr-defined]


def test_the_owners_answer_to_a_prompt_becomes_a_note(store: Store, config: Settings) -> None:
    _sync(store, config, support.fixture("fwd_gmail_invite.eml"))
    meeting = _only_meeting(store)
    _our_step(store, meeting.id, "<step-30.summary_prompt@mailflow.owner.example>", "summary_prompt")  # type: ignore[attr-defined]
    summary = _sync(store, config, support.fixture("reply_owner_notes.eml"))
    assert summary.notes_added == 1
    with store.read() as tx:
        (note,) = tx.list_notes(meeting.id)  # type: ignore[attr-defined]
        (logged,) = [m for m in tx.list_messages() if m.kind == "owner_notes"]
    assert note.text.strip() and note.message_id == "<CAHx7notes0030@mail.gmail.com>"
    assert logged.meeting_id == meeting.id  # type: ignore[attr-defined]


def test_a_contact_reply_saves_the_resume_and_restarts_their_clock(
    store: Store, config: Settings, tmp_path: Path
) -> None:
    _sync(store, config, support.fixture("fwd_gmail_invite.eml"))
    meeting = _only_meeting(store)
    _our_step(store, meeting.id, "<step-12.prep_request@mailflow.owner.example>")  # type: ignore[attr-defined]
    summary = _sync(store, config, support.fixture("reply_contact_resume.eml"))
    assert (summary.contact_replies, summary.attachments_saved) == (1, 3)
    with store.read() as tx:
        contact = tx.find_contact(JORDAN)
        saved = tx.list_attachments(contact_id=contact.id if contact else None)
    assert contact is not None and contact.last_reply_at is not None
    assert sorted(a.filename for a in saved) == ["Jordan Lee résumé.pdf", "notes (2).pdf", "notes.pdf"]
    for attachment in saved:
        assert attachment.meeting_id == meeting.id  # type: ignore[attr-defined]
        path = (tmp_path / "data" / attachment.path).resolve()
        assert path.is_relative_to((tmp_path / "data" / "attachments").resolve())
        assert path.is_file() and path.stat().st_size == attachment.size > 0


def test_a_wish_not_to_be_contacted_is_recorded(store: Store, config: Settings) -> None:
    _sync(store, config, support.fixture("outlook_desktop_invite.eml"))
    meeting = _only_meeting(store)
    _our_step(store, meeting.id, "<step-77.stay_in_touch@mailflow.owner.example>", "stay_in_touch")  # type: ignore[attr-defined]
    _sync(store, config, support.fixture("reply_contact_stop.eml"))
    with store.read() as tx:
        contact = tx.find_contact("chris.nguyen@outlook.example")
    assert contact is not None and contact.do_not_contact and contact.do_not_contact_reason


def test_hostile_attachment_names_stay_inside_and_large_files_are_skipped(
    store: Store, config: Settings, tmp_path: Path
) -> None:
    small = SavedAttachment("../../../../etc/cron.d/evil", "application/pdf", b"%PDF-1.4 tiny")
    huge = SavedAttachment("big.pdf", "application/pdf", b"x" * (config.data.max_attachment_bytes + 1))

    def reply(raw: bytes, context: Context) -> Understanding:
        return Understanding(
            kind="contact_reply",
            message_id="<r1@test.example>",
            sender=Person(JORDAN, "Jordan"),
            attachments=(small, huge),
        )

    summary = _sync(store, config, support.plain(sender=support.OWNER), understand_fn=reply)
    assert summary.attachments_saved == 1
    files = [
        p for p in (tmp_path / "data").rglob("*") if p.is_file() and p.suffix != ".db" and "db-" not in p.name
    ]
    assert [p.name.split("-", 1)[1] for p in files] == ["evil"]
    assert all(p.resolve().is_relative_to((tmp_path / "data" / "attachments").resolve()) for p in files)


def test_a_message_that_cannot_be_recorded_is_logged_and_the_batch_goes_on(
    store: Store, config: Settings
) -> None:
    def broken_second(raw: bytes, context: Context) -> Understanding:
        u = understand(raw, context)
        return replace(u, uid="") if b"zoom" in raw.lower() else u  # an invite without a UID

    summary = _sync(
        store,
        config,
        support.fixture("fwd_gmail_invite.eml"),
        support.fixture("zoom_invite.eml"),
        support.fixture("calendly_invite.eml"),
        understand_fn=broken_second,
    )
    assert (summary.meetings_created, summary.errors) == (2, 1)
    with store.read() as tx:
        (error,) = tx.list_messages(errors_only=True)
        assert len(tx.list_messages()) == 3
    assert "could not be recorded" in error.error and "no UID" in error.error


class _FlakySource(MemorySource):
    """Fails the first whole-message fetch, as a server dropping mid-batch would (after retries)."""

    def __init__(self, messages: Sequence[bytes]) -> None:
        super().__init__(messages)
        self.failures = 1

    def fetch_many(self, refs: Sequence[MessageRef]) -> Iterator[tuple[MessageRef, bytes]]:
        if self.failures:
            self.failures -= 1
            raise TransientError("the connection was dropped", backend="mailbox")
        yield from super().fetch_many(refs)


def test_a_failed_fetch_writes_nothing_of_its_batch_and_the_next_sync_repeats_it(
    store: Store, config: Settings
) -> None:
    invite = support.fixture("fwd_gmail_invite.eml")
    source = _FlakySource([invite, support.with_message_id(invite, "<other@x.example>"), support.plain()])
    intake = Intake(store, source, config, batch_size=2)
    with pytest.raises(TransientError):
        intake.sync()
    with store.read() as tx:
        assert tx.get_cursor(source.key) is None and tx.list_messages() == []
    summary = intake.sync()
    assert (summary.seen, summary.meetings_created, summary.batches) == (3, 1, 2)
    with store.read() as tx:
        assert len(tx.list_messages()) == 2


def test_messages_without_message_id_are_deduplicated_by_content(store: Store, config: Settings) -> None:
    note = support.without_message_id(support.fixture("fwd_gmail_request.eml"))
    source = MemorySource([note])
    intake = Intake(store, source, config)
    assert intake.sync().requests_created == 1
    source.recreate()
    again = intake.sync()
    assert (again.seen, again.parsed, again.duplicates, again.requests_created) == (1, 1, 1, 0)


def test_handled_messages_are_marked_and_errors_are_not(store: Store, config: Settings) -> None:
    source = MemorySource(
        [support.fixture("fwd_gmail_invite.eml"), support.corrupt(), support.fixture("newsletter.eml")]
    )
    Intake(store, source, config).sync()
    assert [ref.uid for ref in source.marked] == [1]


def test_two_syncs_of_one_source_at_once_record_everything_once(store: Store, config: Settings) -> None:
    messages = [support.fixture("fwd_gmail_invite.eml"), support.fixture("fwd_gmail_request.eml")]
    other = Intake(store, MemorySource(messages, name="shared"), config)
    interrupted: list[SyncSummary] = []

    def understand_after_the_other_sync(raw: bytes, context: Context) -> Understanding:
        if not interrupted:  # between this sync's poll and its write, the other one runs to the end
            interrupted.append(other.sync())
        return understand(raw, context)

    first = Intake(  # in one process: the other sync runs inside the understand function
        store,
        MemorySource(messages, name="shared"),
        config,
        understand_fn=understand_after_the_other_sync,
        workers=0,
    )
    summary = first.sync()
    assert interrupted[0].meetings_created == 1 and interrupted[0].requests_created == 1
    assert (summary.meetings_created, summary.requests_created, summary.errors) == (0, 0, 0)
    with store.read() as tx:
        assert len(tx.list_meetings()) == 2
        assert len(tx.list_messages()) == 2


def test_a_bad_message_in_the_optimistic_pass_does_not_undo_the_others(
    store: Store, config: Settings
) -> None:
    calls: list[bytes] = []

    def second_breaks(raw: bytes, context: Context) -> Understanding:
        calls.append(raw)
        u = understand(raw, context)
        return replace(u, kind="invite", uid="") if len(calls) == 2 else u

    summary = _sync(
        store,
        config,
        support.fixture("fwd_gmail_invite.eml"),
        support.fixture("fwd_gmail_request.eml"),
        support.fixture("zoom_invite.eml"),
        understand_fn=second_breaks,
    )
    assert (summary.meetings_created, summary.requests_created, summary.errors) == (2, 0, 1)
    with store.read() as tx:
        assert [m.error != "" for m in sorted(tx.list_messages(), key=lambda m: m.uid or 0)] == [
            False,
            True,
            False,
        ]


def test_the_source_is_asked_to_look_ahead_before_each_batch_is_written(
    store: Store, config: Settings
) -> None:
    calls: list[str] = []

    class Spy(MemorySource):
        def poll(self, cursor: str | None, *, limit: int = 500) -> tuple[list[Incoming], str]:
            items, after = super().poll(cursor, limit=limit)
            calls.append(f"poll {len(items)}")
            return items, after

        def prefetch(self) -> None:
            calls.append("prefetch")

    source = Spy([support.plain(subject=f"m{n}") for n in range(5)], uidvalidity=next(_validity))
    intake = Intake(store, source, config, batch_size=2, workers=0)
    write = intake._write

    def spied_write(batch: Any, *, careful: bool) -> Any:
        calls.append("write")
        return write(batch, careful=careful)

    intake._write = spied_write  # type: ignore[method-assign]
    assert intake.sync().seen == 5
    # more to come after a batch: the next is asked for before this one is written; none after the last
    assert calls == ["poll 2", "prefetch", "write", "poll 2", "prefetch", "write", "poll 1", "write"]


def test_each_message_passed_over_is_logged_at_debug_level_on_one_line(
    store: Store, config: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    forged = support.plain(subject="Hello").replace(
        b"Subject: Hello", b"Subject: =?utf-8?q?x=0D=0AFAKE_LINE?="
    )
    with caplog.at_level(logging.DEBUG, logger="mailflow.engine.intake"):
        summary = _sync(store, config, forged, support.fixture("newsletter.eml"))
    passed = [r.getMessage() for r in caplog.records if r.getMessage().startswith("passed over ")]
    assert summary.skipped == 2 and len(passed) == 2
    assert all("\n" not in line and "\r" not in line for line in passed)
    assert "someone@news.example" in passed[0] and "memory:" in passed[0]
