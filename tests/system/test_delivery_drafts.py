"""Drafts: APPENDed to the owner's Drafts folder in a real Dovecot, flagged \\Draft, threaded as a reply."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mailflow.store import Store
from tests import delivery_helpers as dh
from tests.rig.dovecot import ImapUser


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    yield from dh.open_store(tmp_path)


def test_drafts_land_in_drafts_flagged_and_threaded(
    tmp_path: Path, store: Store, imap_user: ImapUser
) -> None:
    config = dh.settings(tmp_path, drafts=dh.drafts_settings(imap_user))
    _, ids = dh.seed_meeting(
        store, [("thank_you", "draft"), ("follow_up", "draft"), ("take_action", "draft")]
    )
    report = dh.dispatcher(store, config).dispatch()
    assert report.counts() == {"sent": 3}
    drafts = {str(m["Message-ID"]): (m, flags) for m, flags in dh.folder_messages(imap_user, "Drafts")}
    rows = {name: dh.step_row(store, step_id) for name, step_id in ids.items()}
    assert sorted(drafts) == sorted(str(r.message_id) for r in rows.values())
    for name, row in rows.items():
        mail, flags = drafts[str(row.message_id)]
        assert b"\\Draft" in flags
        assert (mail["In-Reply-To"], mail["References"]) == (dh.SOURCE_ID, dh.SOURCE_ID)
        assert mail["To"].addresses[0].addr_spec == (dh.OWNER if name == "take_action" else dh.CONTACT)
        assert row.receipt == f"Drafts on 127.0.0.1:{imap_user.imaps_port}"
    thank_you = drafts[str(rows["thank_you"].message_id)][0]
    assert "Learn SQL" in thank_you.get_body(("plain",)).get_content()  # the owner's notes, used
    assert dh.folder_messages(imap_user, "Sent") == []  # a draft is not mail: nothing sent


def test_a_named_folder_is_used_and_a_missing_one_fails_the_step(
    tmp_path: Path, store: Store, imap_user: ImapUser
) -> None:
    imap_user.append("Entwürfe", dh.message("<seed@x.test>").as_bytes())
    config = dh.settings(tmp_path, drafts=dh.drafts_settings(imap_user, folder="Entwürfe"))
    _, _ids = dh.seed_meeting(store, [("thank_you", "draft")])
    assert dh.dispatcher(store, config).dispatch().counts() == {"sent": 1}
    assert len(dh.folder_messages(imap_user, "Entwürfe")) == 2
    assert dh.folder_messages(imap_user, "Drafts") == []

    missing = dh.settings(tmp_path, drafts=dh.drafts_settings(imap_user, folder="Nowhere"))
    _, more = dh.seed_meeting(store, [("follow_up", "draft")], uid="m2@x", contact="cy@example.com")
    assert dh.dispatcher(store, missing).dispatch().counts() == {"failed": 1}
    row = dh.step_row(store, more["follow_up"])
    assert row.state == "failed" and 'has no folder "Nowhere"' in row.last_error


def test_a_crash_after_the_append_is_found_in_drafts_and_never_appended_twice(
    tmp_path: Path, store: Store, imap_user: ImapUser
) -> None:
    config = dh.settings(tmp_path, drafts=dh.drafts_settings(imap_user))
    _, ids = dh.seed_meeting(store, [("thank_you", "draft"), ("follow_up", "draft")])
    appended, never = "<appended@mailflow.test>", "<never@mailflow.test>"
    with store.transaction() as tx:
        tx.claim_step(ids["thank_you"], appended)
        tx.claim_step(ids["follow_up"], never)
    imap_user.append("Drafts", dh.message(appended).as_bytes(), flags=["\\Draft"])
    outcomes = dh.dispatcher(store, config).recover()
    assert sorted(o.result for o in outcomes) == ["sent", "uncertain"]
    assert dh.step_row(store, ids["thank_you"]).receipt == "found after a restart in the Drafts folder"
    assert dh.step_row(store, ids["follow_up"]).state == "uncertain"
    assert [str(m["Message-ID"]) for m, _ in dh.folder_messages(imap_user, "Drafts")] == [appended]


def test_a_refused_login_defers_the_drafts_and_names_the_account(
    tmp_path: Path, store: Store, imap_user: ImapUser
) -> None:
    config = dh.settings(tmp_path, drafts=dh.drafts_settings(imap_user, password="wrong"))
    _, ids = dh.seed_meeting(store, [("thank_you", "draft"), ("follow_up", "draft")])
    report = dh.dispatcher(store, config).dispatch()
    assert report.counts() == {"deferred": 1}  # the second waits: that account is down this cycle
    row = dh.step_row(store, ids["thank_you"])
    assert row.state == "pending" and "refused the login" in row.last_error
    assert dh.step_row(store, ids["follow_up"]).attempts == 0
