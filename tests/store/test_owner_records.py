"""Notes about a contact and mail to the owner: ordering, the once-per-key rule, the outbox's moves."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from mailflow.store import ContactNoteRow, MeetingData, OwnerMailRow, Store, StoreTx
from mailflow.store.schema import contact_notes, owner_mail
from tests.store.conftest import T0

HOUR = timedelta(hours=1)


def _meeting(tx: StoreTx, uid: str = "m@x", contact_id: int | None = None) -> int:
    row, _ = tx.upsert_meeting(MeetingData(ical_uid=uid, start_at=T0, counterpart_id=contact_id))
    return row.id


def _queue(
    tx: StoreTx,
    key: str,
    due: timedelta = timedelta(0),
    *,
    meeting_id: int | None = None,
    contact_id: int | None = None,
    reference_ids: tuple[str, ...] = (),
) -> OwnerMailRow:
    row = tx.queue_owner_mail(
        "acknowledge", key, due_at=T0 + due, meeting_id=meeting_id, contact_id=contact_id,
        reference_ids=reference_ids,
    )  # fmt: skip
    assert row is not None
    return row


def _state(tx: StoreTx, mail_id: int) -> OwnerMailRow:
    row = tx.get_owner_mail(mail_id)
    assert row is not None
    return row


# -- notes about a contact ------------------------------------------------------
def test_contact_notes_are_listed_oldest_first_and_per_contact(store: Store) -> None:
    with store.transaction() as tx:
        ana, bob = tx.upsert_contact("ana@example.org", "Ana"), tx.upsert_contact("bob@example.org")
    with time_machine.travel(T0 + HOUR, tick=False), store.transaction() as tx:
        later = tx.add_contact_note(ana.id, "prefers mornings", source="cli")
    with time_machine.travel(T0, tick=False), store.transaction() as tx:
        first = tx.add_contact_note(ana.id, "met at PyCon", message_id="<fwd@ana>")
        tx.add_contact_note(bob.id, "bob's note")
    assert first == ContactNoteRow(first.id, ana.id, "met at PyCon", "mail", "<fwd@ana>", T0)
    assert later.source == "cli" and later.created_at == T0 + HOUR and later.message_id == ""
    with store.read() as tx:
        assert tx.list_contact_notes(ana.id) == [first, later]
        assert [n.text for n in tx.list_contact_notes(bob.id)] == ["bob's note"]
        assert tx.list_contact_notes(9999) == []


def test_notes_added_at_the_same_instant_keep_their_order(store: Store) -> None:
    with time_machine.travel(T0, tick=False), store.transaction() as tx:
        ana = tx.upsert_contact("ana@example.org")
        ids = [tx.add_contact_note(ana.id, f"note {i}").id for i in range(3)]
        assert [n.id for n in tx.list_contact_notes(ana.id)] == ids


# -- owner mail: queueing and reading -----------------------------------------
def test_queue_owner_mail_stores_every_field(store: Store) -> None:
    with time_machine.travel(T0 - HOUR, tick=False), store.transaction() as tx:
        ana = tx.upsert_contact("ana@example.org")
        meeting_id = _meeting(tx, contact_id=ana.id)
        row = tx.queue_owner_mail(
            "acknowledge",
            "acknowledge:12",
            due_at=T0,
            meeting_id=meeting_id,
            contact_id=ana.id,
            in_reply_to="<fwd@owner>",
            reference_ids=["<a@x>", " <b@x> ", "", "<bad id@x>"],
        )
        assert row is not None
        assert tx.get_owner_mail(row.id) == row
    assert row == OwnerMailRow(
        id=row.id, kind="acknowledge", key="1/acknowledge:12", meeting_id=meeting_id, contact_id=ana.id,
        state="pending", due_at=T0, in_reply_to="<fwd@owner>", reference_ids=("<a@x>", "<b@x>"),
        message_id=None, attempts=0, last_error="", receipt="", sent_at=None,
        created_at=T0 - HOUR, updated_at=T0 - HOUR,
    )  # fmt: skip
    with store.read() as tx:
        assert tx.get_owner_mail(row.id + 1) is None


def test_a_key_is_queued_once_ever_whatever_its_state(store: Store) -> None:
    with store.transaction() as tx:
        first = _queue(tx, "acknowledge:1", reference_ids=("<a@x>",))
        assert tx.queue_owner_mail("other", "acknowledge:1", due_at=T0 + HOUR) is None
        # the refused insert did not abort the transaction: it goes on writing
        second = _queue(tx, "acknowledge:2")
        cancelled = _queue(tx, "acknowledge:3")
        assert tx.claim_owner_mail(first.id, "<m1@mailflow>")
        assert tx.mark_owner_mail_sent(first.id, at=T0)
        assert tx.cancel_owner_mail(cancelled.id, "the forward was withdrawn")
        assert tx.queue_owner_mail("acknowledge", "acknowledge:1", due_at=T0) is None
        assert tx.queue_owner_mail("acknowledge", "acknowledge:3", due_at=T0) is None
        assert _state(tx, first.id).reference_ids == ("<a@x>",)  # the existing row is unchanged
        assert _state(tx, cancelled.id).state == "cancelled"
    with store.read() as tx:
        assert [m.key for m in tx.list_owner_mail()] == [
            "1/acknowledge:1",
            "1/acknowledge:2",
            "1/acknowledge:3",
        ]
        assert tx.connection.scalar(select(func.count()).select_from(owner_mail)) == 3
        assert _state(tx, second.id).state == "pending"


def test_queue_owner_mail_refuses_no_kind_or_key(store: Store) -> None:
    with store.transaction() as tx:
        with pytest.raises(ValueError, match="kind and a key"):
            tx.queue_owner_mail("acknowledge", "", due_at=T0)
        with pytest.raises(ValueError, match="kind and a key"):
            tx.queue_owner_mail("", "k", due_at=T0)


def test_due_owner_mail_is_pending_and_due_earliest_first(store: Store) -> None:
    with store.transaction() as tx:
        late = _queue(tx, "late", 2 * HOUR)
        early = _queue(tx, "early", -HOUR)
        now = _queue(tx, "now")
        also_now = _queue(tx, "also-now")
        claimed = _queue(tx, "claimed", -2 * HOUR)
        tx.claim_owner_mail(claimed.id, "<c@m>")
        assert [m.id for m in tx.due_owner_mail(T0)] == [early.id, now.id, also_now.id]
        assert [m.id for m in tx.due_owner_mail(T0 - 3 * HOUR)] == []
        assert [m.id for m in tx.due_owner_mail(T0 + 3 * HOUR)] == [early.id, now.id, also_now.id, late.id]
        assert [m.id for m in tx.owner_mail_in_state("sending")] == [claimed.id]
        assert [m.id for m in tx.owner_mail_in_state("sending", "pending")] == [
            claimed.id, early.id, now.id, also_now.id, late.id,
        ]  # fmt: skip
        assert tx.owner_mail_in_state("sent") == []
        assert tx.owner_mail_in_state() == []


def test_list_owner_mail_all_or_of_one_meeting_oldest_first(store: Store) -> None:
    with store.transaction() as tx:
        one, two = _meeting(tx, "one@x"), _meeting(tx, "two@x")
    with time_machine.travel(T0 + HOUR, tick=False), store.transaction() as tx:
        newer = _queue(tx, "k-newer", meeting_id=one)
    with time_machine.travel(T0, tick=False), store.transaction() as tx:
        older = _queue(tx, "k-older", HOUR, meeting_id=one)
        other = _queue(tx, "k-other", meeting_id=two)
        loose = _queue(tx, "k-loose")
    with store.read() as tx:
        assert [m.id for m in tx.list_owner_mail(one)] == [older.id, newer.id]
        assert [m.id for m in tx.list_owner_mail(meeting_id=two)] == [other.id]
        assert [m.id for m in tx.list_owner_mail()] == [older.id, other.id, loose.id, newer.id]


@pytest.mark.parametrize("stored", ["<ack1@mailflow>", "ack1@mailflow"])
def test_owner_mail_for_message_id_matches_with_and_without_brackets(store: Store, stored: str) -> None:
    with store.transaction() as tx:
        mail = _queue(tx, "k")
        _queue(tx, "unclaimed")
        tx.claim_owner_mail(mail.id, stored)
    with store.read() as tx:
        for asked in ("<ack1@mailflow>", "ack1@mailflow", " <ack1@mailflow> "):
            found = tx.owner_mail_for_message_id(asked)
            assert found is not None and found.id == mail.id and found.message_id == stored
        assert tx.owner_mail_for_message_id("<ack2@mailflow>") is None
        assert tx.owner_mail_for_message_id("ack1") is None
        assert tx.owner_mail_for_message_id("") is None and tx.owner_mail_for_message_id("<>") is None


# -- owner mail: moves ----------------------------------------------------------
def test_owner_mail_goes_pending_sending_sent(store: Store) -> None:
    with time_machine.travel(T0 - HOUR, tick=False), store.transaction() as tx:
        mail = _queue(tx, "k")
    with time_machine.travel(T0, tick=False), store.transaction() as tx:
        assert tx.claim_owner_mail(mail.id, "<s1@mailflow>")
        assert not tx.claim_owner_mail(mail.id, "<s2@mailflow>")  # no longer pending
        assert tx.mark_owner_mail_sent(mail.id, at=T0, receipt="smtp localhost:25")
        assert not tx.mark_owner_mail_sent(mail.id, at=T0 + HOUR, receipt="again")
        done = _state(tx, mail.id)
    assert (done.state, done.message_id, done.attempts, done.sent_at, done.receipt, done.updated_at) == (
        "sent", "<s1@mailflow>", 0, T0, "smtp localhost:25", T0,
    )  # fmt: skip
    with store.transaction() as tx:  # a sent mail never moves again
        assert not tx.mark_owner_mail_uncertain(mail.id, "?")
        assert not tx.mark_owner_mail_failed(mail.id, "?")
        assert not tx.defer_owner_mail(mail.id, "?", T0)
        assert not tx.cancel_owner_mail(mail.id, "?")
        assert not tx.retry_owner_mail(mail.id)
        assert _state(tx, mail.id) == done


def test_only_a_claimed_mail_is_sent_deferred_or_uncertain(store: Store) -> None:
    with store.transaction() as tx:
        mail = _queue(tx, "k")
        assert not tx.mark_owner_mail_sent(mail.id, at=T0)
        assert not tx.defer_owner_mail(mail.id, "421", T0 + HOUR)
        assert not tx.mark_owner_mail_uncertain(mail.id, "crash")
        assert not tx.retry_owner_mail(mail.id)
        assert _state(tx, mail.id) == mail
        assert not tx.claim_owner_mail(mail.id + 1, "<nobody@m>")


def test_defer_keeps_the_message_id_and_counts_attempts(store: Store) -> None:
    with store.transaction() as tx:
        mail = _queue(tx, "k")
        tx.claim_owner_mail(mail.id, "<d@m>")
        assert tx.defer_owner_mail(mail.id, "421 try later", T0 + HOUR)
        deferred = _state(tx, mail.id)
        assert (deferred.state, deferred.attempts, deferred.last_error, deferred.due_at, deferred.message_id) == (
            "pending", 1, "421 try later", T0 + HOUR, "<d@m>",
        )  # fmt: skip
        assert tx.due_owner_mail(T0) == []
        assert [m.id for m in tx.due_owner_mail(T0 + HOUR)] == [mail.id]
        assert tx.claim_owner_mail(mail.id, "<d2@m>")
        assert tx.defer_owner_mail(mail.id, "451 again", T0 + 2 * HOUR)
        again = _state(tx, mail.id)
    assert (again.attempts, again.last_error, again.message_id) == (2, "451 again", "<d2@m>")


def test_uncertain_and_failed_go_pending_only_on_retry(store: Store) -> None:
    with time_machine.travel(T0, tick=False), store.transaction() as tx:
        unsure, failed, never_sent = _queue(tx, "a", -HOUR), _queue(tx, "b", -HOUR), _queue(tx, "c", 5 * HOUR)
        tx.claim_owner_mail(unsure.id, "<u@m>")
        tx.claim_owner_mail(failed.id, "<f@m>")
        tx.defer_owner_mail(failed.id, "421", T0)
        tx.claim_owner_mail(failed.id, "<f@m>")
        assert tx.mark_owner_mail_uncertain(unsure.id, "found in sending after a restart")
        assert not tx.mark_owner_mail_uncertain(unsure.id, "twice")
        assert tx.mark_owner_mail_failed(failed.id, "550 no such user")
        assert tx.mark_owner_mail_failed(never_sent.id, "no owner address")  # pending -> failed too
        assert not tx.mark_owner_mail_failed(never_sent.id, "twice")
        assert not tx.cancel_owner_mail(unsure.id, "too late")
        assert tx.due_owner_mail(T0 + 10 * HOUR) == []
        assert {m.id: m.last_error for m in tx.owner_mail_in_state("uncertain", "failed")} == {
            unsure.id: "found in sending after a restart",
            failed.id: "550 no such user",
            never_sent.id: "no owner address",
        }
    with time_machine.travel(T0 + 2 * HOUR, tick=False), store.transaction() as tx:
        assert tx.retry_owner_mail(unsure.id) and tx.retry_owner_mail(failed.id)
        assert tx.retry_owner_mail(never_sent.id)
        assert not tx.retry_owner_mail(unsure.id)  # pending now
        due = tx.due_owner_mail(T0 + 2 * HOUR)
    assert [m.id for m in due] == [unsure.id, failed.id, never_sent.id]
    assert [(m.message_id, m.attempts, m.due_at) for m in due] == [
        ("<u@m>", 0, T0 + 2 * HOUR), ("<f@m>", 0, T0 + 2 * HOUR), (None, 0, T0 + 2 * HOUR),
    ]  # fmt: skip
    assert due[1].last_error == "550 no such user"


def test_cancel_only_a_pending_mail(store: Store) -> None:
    with time_machine.travel(T0, tick=False), store.transaction() as tx:
        mail, sending = _queue(tx, "k"), _queue(tx, "s")
        tx.claim_owner_mail(sending.id, "<s@m>")
    with time_machine.travel(T0 + HOUR, tick=False), store.transaction() as tx:
        assert tx.cancel_owner_mail(mail.id, "the meeting was forgotten")
        assert not tx.cancel_owner_mail(mail.id, "twice")
        assert not tx.cancel_owner_mail(sending.id, "already going out")
        assert not tx.claim_owner_mail(mail.id, "<late@m>")
        assert not tx.retry_owner_mail(mail.id)
        cancelled = _state(tx, mail.id)
        assert tx.due_owner_mail(T0 + HOUR) == []
    assert (cancelled.state, cancelled.last_error, cancelled.updated_at, cancelled.message_id) == (
        "cancelled", "the meeting was forgotten", T0 + HOUR, None,
    )  # fmt: skip


# -- forgetting ---------------------------------------------------------------
def test_forget_contact_removes_their_notes_and_owner_mail(store: Store) -> None:
    with store.transaction() as tx:
        ana, bob = tx.upsert_contact("ana@example.org", "Ana"), tx.upsert_contact("bob@example.org")
        ana_meeting, bob_meeting = _meeting(tx, "ana@x", ana.id), _meeting(tx, "bob@x", bob.id)
        tx.add_contact_note(ana.id, "secret about Ana")
        kept_note = tx.add_contact_note(bob.id, "about Bob")
        _queue(tx, "by-contact", contact_id=ana.id)
        _queue(tx, "by-meeting", meeting_id=ana_meeting)
        _queue(tx, "by-both", meeting_id=ana_meeting, contact_id=ana.id)
        kept = [
            _queue(tx, "bob", meeting_id=bob_meeting, contact_id=bob.id),
            _queue(tx, "nobody"),
        ]
        tx.forget_contact(ana.id)
    with store.read() as tx:
        assert tx.list_contact_notes(ana.id) == []
        assert tx.list_contact_notes(bob.id) == [kept_note]
        assert tx.list_owner_mail() == kept
        assert tx.list_owner_mail(ana_meeting) == []
        texts = list(tx.connection.scalars(select(contact_notes.c.text)))
    assert texts == ["about Bob"]


# -- why a meeting waits for the owner's confirm -----------------------------------
def test_doubts_are_kept_replaced_cleared_and_forgotten_with_the_contact(store: Store) -> None:
    with store.transaction() as tx:
        dan = tx.upsert_contact("dan@example.org")
        meeting_id = _meeting(tx, contact_id=dan.id)
        other_id = _meeting(tx, uid="other@x")
        tx.set_doubts(
            meeting_id, ["DTSTART 20270230T100000 is not a date", "", "SEQUENCE\nx is not a number"]
        )
        tx.set_doubts(other_id, ["RRULE cannot be read"])
    with store.read() as tx:
        assert tx.doubts_of(meeting_id) == (
            "DTSTART 20270230T100000 is not a date",
            "SEQUENCE x is not a number",
        )
    with store.transaction() as tx:
        tx.set_doubts(meeting_id, ["STATUS maybe is not a status"], message_id="<m@x>")
        assert tx.doubts_of(meeting_id) == ("STATUS maybe is not a status",)
        tx.clear_doubts(other_id)
        assert tx.doubts_of(other_id) == ()
        tx.forget_contact(dan.id)
    with store.read() as tx:
        assert tx.doubts_of(meeting_id) == ()


# -- owners --------------------------------------------------------------------------
def test_two_owners_may_share_an_address_and_an_invite_and_each_sees_their_own(store: Store) -> None:
    from mailflow.store import OwnerData

    with store.transaction() as tx:
        bea = tx.add_owner(OwnerData(name="Bea", addresses=("Bea@Example.com",), playbook={"x": 1}))
        assert (bea.addresses, bea.playbook) == (("bea@example.com",), {"x": 1})
        ana_ben = tx.upsert_contact("ben@example.net", "Ben")
        ana_meeting = _meeting(tx, "shared@x", ana_ben.id)
    with store.as_owner(bea.id).transaction() as tx:
        bea_ben = tx.upsert_contact("ben@example.net", "Benjamin")
        bea_meeting = _meeting(tx, "shared@x", bea_ben.id)
        assert bea_ben.id != ana_ben.id and bea_meeting != ana_meeting
        assert [c.id for c in tx.list_contacts()] == [bea_ben.id]
        assert tx.find_meeting("shared@x").id == bea_meeting  # type: ignore[union-attr]
        assert tx.get_meeting(ana_meeting) is None and tx.get_contact(ana_ben.id) is None
        assert tx.owner().name == "Bea"
    with store.read() as tx:
        assert tx.find_contact("ben@example.net").name == "Ben"  # type: ignore[union-attr]
        assert [m.id for m in tx.list_meetings()] == [ana_meeting]
        assert [o.id for o in tx.list_owners()] == [1, bea.id]


def test_saving_the_configured_owner_changes_the_row_only_when_something_changed(store: Store) -> None:
    from mailflow.store import OwnerData

    data = OwnerData(
        name="Ana", addresses=("ana@example.org",), timezone="Europe/Berlin", drafts={"host": "h"}
    )
    with store.transaction() as tx:
        assert tx.save_owner(1, data) is True
        assert tx.save_owner(1, data) is False
        assert tx.owner().drafts == {"host": "h"} and tx.owner().timezone == "Europe/Berlin"
