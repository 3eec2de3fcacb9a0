"""The Store's queries on a real database: keys, ordering, rollback, UTC, forgetting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from mailflow.errors import StoreError
from mailflow.model import MessageRef
from mailflow.store import MeetingData, MessageData, Store
from mailflow.store.schema import contacts, meetings, messages, steps
from tests.store.conftest import T0

REF = MessageRef("mailbox", "INBOX", 7, 42, "imap://host/INBOX;UIDVALIDITY=7/;UID=42")


def _meeting(store: Store, uid: str = "uid-1@example.org", **changes: Any) -> int:
    with store.transaction() as tx:
        row, _ = tx.upsert_meeting(
            MeetingData(ical_uid=uid, start_at=T0, end_at=T0 + timedelta(hours=1), **changes)
        )
    return row.id


# -- contacts ---------------------------------------------------------------
def test_upsert_contact_normalises_and_merges_names(store: Store) -> None:
    with store.transaction() as tx:
        first = tx.upsert_contact(" <Ana@Example.ORG> ", "Ana")
        again = tx.upsert_contact("ana@example.org", "Ana Lima")
        same = tx.upsert_contact("ANA@example.org", "")
    assert first.id == again.id == same.id
    assert same.address == "ana@example.org"
    assert same.name == "Ana" and same.names == ("Ana", "Ana Lima")


# -- unique keys --------------------------------------------------------------
@pytest.mark.parametrize(
    ("table", "values"),
    [
        (contacts, {"address": "dup@example.org"}),
        (meetings, {"ical_uid": "dup-uid", "recurrence_id": ""}),
        (messages, {"account": "mailbox", "folder": "INBOX", "uidvalidity": 1, "uid": 1}),
    ],
    ids=["contacts.address", "meetings.uid+recurrence", "messages.ref"],
)
def test_unique_keys_reject_duplicates(store: Store, table: object, values: dict[str, object]) -> None:
    now = {"created_at": T0, "updated_at": T0} if table is not messages else {"seen_at": T0}
    with store.transaction() as tx:
        tx.connection.execute(table.insert().values(**values, **now))  # type: ignore[attr-defined]
    with pytest.raises(StoreError), store.transaction() as tx:
        tx.connection.execute(table.insert().values(**values, **now))  # type: ignore[attr-defined]


def test_a_step_is_unique_per_meeting_step_and_occurrence(store: Store) -> None:
    meeting_id = _meeting(store)
    with store.transaction() as tx:
        first, created = tx.plan_step(meeting_id, "thank_you", 0, T0, "draft")
        again, created_again = tx.plan_step(meeting_id, "thank_you", 0, T0 + timedelta(days=1), "send")
        other, created_other = tx.plan_step(meeting_id, "thank_you", 1, T0, "draft")
    assert created and not created_again and created_other
    assert again == first and other.id != first.id
    with pytest.raises(StoreError), store.transaction() as tx:
        row = {"meeting_id": meeting_id, "step": "thank_you", "occurrence": 0, "due_at": T0, "mode": "draft"}
        tx.connection.execute(steps.insert().values(**row, created_at=T0, updated_at=T0))


def test_requests_without_uid_do_not_collide(store: Store) -> None:
    with store.transaction() as tx:
        ana = tx.upsert_contact("ana@example.org")
        one = tx.create_request(ana.id, summary="coffee?")
        two = tx.create_request(ana.id, summary="coffee again?")
    assert one.id != two.id and one.ical_uid is None and one.state == "requested"


# -- rollback ---------------------------------------------------------------
def test_an_exception_rolls_back_the_whole_batch(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.upsert_contact("ana@example.org", "Ana")
        tx.record_message(MessageData(REF, message_id="<a@x>"))
        tx.set_cursor("mailbox", "7:42")
        raise RuntimeError("crash in the middle of a batch")
    with store.read() as tx:
        assert tx.find_contact("ana@example.org") is None
        assert tx.find_message_by_ref(REF) is None
        assert tx.get_cursor("mailbox") is None


def test_a_database_error_rolls_back_what_came_before(store: Store) -> None:
    with pytest.raises(StoreError), store.transaction() as tx:
        tx.set_cursor("mailbox", "7:42")
        tx.connection.execute(contacts.insert().values(address=None, created_at=T0, updated_at=T0))
    with store.read() as tx:
        assert tx.get_cursor("mailbox") is None


def test_cursor_commits_with_its_records(store: Store) -> None:
    with store.transaction() as tx:
        tx.record_message(MessageData(REF, message_id="<a@x>"))
        tx.set_cursor("mailbox", "7:42")
    with store.transaction() as tx:
        tx.set_cursor("mailbox", "7:43")
    with store.read() as tx:
        assert tx.get_cursor("mailbox") == "7:43"
        assert tx.find_message_by_ref(REF) is not None


# -- SEQUENCE and DTSTAMP ----------------------------------------------------
@pytest.mark.parametrize(
    ("sequence", "dtstamp_delta", "applies"),
    [
        (3, None, True),  # higher SEQUENCE always wins, even without DTSTAMP
        (1, timedelta(days=9), False),  # lower SEQUENCE never overwrites, even if stamped later
        (2, timedelta(minutes=5), True),  # same SEQUENCE, later DTSTAMP
        (2, timedelta(0), False),  # same SEQUENCE, equal DTSTAMP: a duplicate
        (2, -timedelta(minutes=5), False),  # same SEQUENCE, older DTSTAMP
        (2, None, False),  # same SEQUENCE, no DTSTAMP
    ],
)
def test_invite_updates_honour_sequence_then_dtstamp(
    store: Store, sequence: int, dtstamp_delta: timedelta | None, applies: bool
) -> None:
    stamp = T0 - timedelta(days=3)
    with store.transaction() as tx:
        original, created = tx.upsert_meeting(
            MeetingData(ical_uid="u@x", sequence=2, dtstamp=stamp, start_at=T0, summary="old")
        )
        new_stamp = None if dtstamp_delta is None else stamp + dtstamp_delta
        update = MeetingData(
            ical_uid="u@x",
            sequence=sequence,
            dtstamp=new_stamp,
            start_at=T0 + timedelta(days=1),
            summary="new",
        )
        row, applied = tx.upsert_meeting(update)
    assert created and applied is applies
    assert row.id == original.id
    assert row.summary == ("new" if applies else "old")
    assert row.start_at == (T0 + timedelta(days=1) if applies else T0)


def test_a_13_digit_sequence_fits(store: Store) -> None:
    with store.transaction() as tx:
        row, _ = tx.upsert_meeting(MeetingData(ical_uid="teams@x", sequence=1_712_345_678_901))
    assert row.sequence == 1_712_345_678_901


def test_recurrence_ids_are_separate_meetings(store: Store) -> None:
    with store.transaction() as tx:
        series, _ = tx.upsert_meeting(MeetingData(ical_uid="r@x", recurring=True))
        moved, _ = tx.upsert_meeting(MeetingData(ical_uid="r@x", recurrence_id="20250317T140000Z"))
        again, created = tx.upsert_meeting(MeetingData(ical_uid="r@x"))
    assert series.id != moved.id and again.id == series.id and not created


def test_invite_updates_keep_what_the_owner_decided(store: Store) -> None:
    meeting_id = _meeting(store, uid="keep@x", role="seeker")
    with store.transaction() as tx:
        ana = tx.upsert_contact("ana@example.org")
        tx.set_role(meeting_id, "adviser")
        tx.set_counterpart(meeting_id, ana.id)
        tx.set_paused(meeting_id, True)
        tx.set_confirmed(meeting_id)
        bob = tx.upsert_contact("bob@example.org")
        row, applied = tx.upsert_meeting(
            MeetingData(ical_uid="keep@x", sequence=1, role="seeker", counterpart_id=bob.id)
        )
    assert applied
    assert (row.role, row.counterpart_id, row.paused, row.confirmed) == ("adviser", ana.id, True, True)


def test_an_invite_upgrades_the_request_it_answers(store: Store) -> None:
    with store.transaction() as tx:
        ana = tx.upsert_contact("ana@example.org")
        request = tx.create_request(ana.id, summary="coffee?", trusted=True)
        assert tx.find_open_request(ana.id) == request
        upgraded = tx.attach_invite(request.id, MeetingData(ical_uid="inv@x", start_at=T0, summary="Coffee"))
        assert tx.find_open_request(ana.id) is None
        assert tx.find_meeting("inv@x") == upgraded
    assert upgraded.id == request.id and upgraded.state == "scheduled" and upgraded.counterpart_id == ana.id


# -- UTC --------------------------------------------------------------------------
def test_aware_datetimes_round_trip_as_utc(store: Store) -> None:
    tokyo = datetime(2025, 3, 11, 9, 30, 15, 123456, tzinfo=timezone(timedelta(hours=9)))
    meeting_id = _meeting(store, uid="tz@x")
    with store.transaction() as tx:
        tx.plan_step(meeting_id, "homework_brief", 0, tokyo, "send")
    with store.read() as tx:
        (step,) = tx.list_steps(meeting_id)
    assert step.due_at == tokyo and step.due_at.tzinfo is UTC
    assert step.due_at.hour == 0 and step.created_at.tzinfo is UTC


def test_naive_datetimes_are_refused(store: Store) -> None:
    meeting_id = _meeting(store)
    with pytest.raises(ValueError, match="aware datetimes only"), store.transaction() as tx:
        tx.plan_step(meeting_id, "homework_brief", 0, datetime(2025, 3, 11, 9, 30), "send")


# -- messages -------------------------------------------------------------------
def test_record_message_once_per_ref_and_find_it_by_id_and_hash(store: Store) -> None:
    with store.transaction() as tx:
        first, new = tx.record_message(
            MessageData(REF, message_id="<a@x>", content_hash="h1", sender="Ana@Example.org")
        )
        again, new_again = tx.record_message(MessageData(REF, message_id="<other@x>"))
        moved = MessageRef("mailbox", "INBOX", 8, 1)  # the same mail after a UIDVALIDITY change
        copy, new_copy = tx.record_message(MessageData(moved, message_id="<a@x>", content_hash="h1"))
        assert [m.id for m in tx.find_messages_by_message_id("<a@x>")] == [first.id, copy.id]
        assert tx.find_message_by_hash("h1") == first
    assert new and not new_again and new_copy
    assert again == first and first.sender == "ana@example.org" and first.location == REF.location


def test_recorded_message_ids_are_incoming_ones_without_error_in_chunks(store: Store) -> None:
    def ref(uid: int) -> MessageRef:
        return MessageRef("mailbox", "INBOX", 7, uid)

    with store.transaction() as tx:
        for uid in range(1, 1201):  # more than one IN (...) chunk
            tx.record_message(MessageData(ref(uid), message_id=f"<{uid}@x>"))
        tx.record_message(MessageData(ref(2000), message_id="<broken@x>", error="unreadable"))
        tx.record_message(MessageData(None, direction="out", message_id="<sent@x>"))
    asked = [f"<{uid}@x>" for uid in range(0, 1300, 7)] + ["<broken@x>", "<sent@x>", ""]
    with store.read() as tx:
        found = tx.recorded_message_ids(asked)
    assert found == {f"<{uid}@x>" for uid in range(7, 1201, 7)}


def test_unreadable_messages_are_listed_as_errors(store: Store) -> None:
    with store.transaction() as tx:
        tx.record_message(MessageData(REF, kind="invite"))
        tx.record_message(
            MessageData(MessageRef("mailbox", "INBOX", 7, 43, "uid 43"), kind="unreadable", error="bad")
        )
        errors = tx.list_messages(errors_only=True)
    assert [(m.uid, m.error, m.location) for m in errors] == [(43, "bad", "uid 43")]


# -- notes, attachments, kv, forget ----------------------------------------------
def test_forget_contact_deletes_their_records_and_keeps_others(store: Store) -> None:
    ana_meeting, bob_meeting = _meeting(store, uid="ana@x"), _meeting(store, uid="bob@x")
    with store.transaction() as tx:
        ana, bob = tx.upsert_contact("ana@example.org", "Ana"), tx.upsert_contact("bob@example.org")
        tx.set_counterpart(ana_meeting, ana.id)
        tx.set_counterpart(bob_meeting, bob.id)
        tx.add_note(ana_meeting, "she said: ship it")
        tx.add_attachment(
            "attachments/1/cv.pdf", meeting_id=ana_meeting, contact_id=ana.id, filename="cv.pdf"
        )
        tx.add_attachment("attachments/2/cv.pdf", contact_id=bob.id)
        tx.plan_step(ana_meeting, "thank_you", 0, T0, "draft")
        tx.record_message(
            MessageData(
                REF, message_id="<a@x>", sender="ana@example.org", subject="Hi", meeting_id=ana_meeting
            )
        )
        paths = tx.forget_contact(ana.id)
    assert paths == ["attachments/1/cv.pdf"]
    with store.read() as tx:
        assert tx.find_contact("ana@example.org") is None and tx.get_meeting(ana_meeting) is None
        assert tx.list_steps(ana_meeting) == [] and tx.list_notes(ana_meeting) == []
        trace = tx.find_message_by_ref(REF)
        assert trace is not None and (trace.kind, trace.sender, trace.subject, trace.meeting_id) == (
            "forgotten",
            "",
            "",
            None,
        )
        assert tx.get_meeting(bob_meeting) is not None and len(tx.list_attachments(contact_id=bob.id)) == 1


def test_notes_and_kv(store: Store) -> None:
    meeting_id = _meeting(store)
    with store.transaction() as tx:
        note = tx.add_note(meeting_id, "insight", source="cli")
        tx.kv_set("paused", "1")
        tx.kv_set("last_sync", T0.isoformat())
        tx.kv_set("paused", None)
    with store.read() as tx:
        assert tx.list_notes(meeting_id) == [note]
        assert tx.kv_all() == {"last_sync": T0.isoformat()} and tx.kv_get("paused") is None


def test_overlong_identifiers_from_mail_are_clipped_and_still_found(store: Store) -> None:
    huge = "<" + "x" * 5000 + "@spam>"
    with store.transaction() as tx:
        row, _ = tx.record_message(MessageData(REF, message_id=huge, sender="a" * 400 + "@x.org"))
        meeting, _ = tx.upsert_meeting(MeetingData(ical_uid="u" * 3000))
        assert tx.find_messages_by_message_id(huge) == [row]
        assert tx.find_meeting("u" * 3000) == meeting
    assert len(row.message_id) == 1000 and len(row.sender) == 320


def test_an_in_memory_store_works_for_quick_tools() -> None:
    with Store.open("sqlite://") as store, store.transaction() as tx:
        assert tx.upsert_contact("ana@example.org").id == 1
