"""Notify (the draft mailed to the owner) and the file outbox (no server at all)."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailflow.sinks.factory import build_sinks
from mailflow.store import Store
from tests import delivery_helpers as dh
from tests.rig.dovecot import ImapUser
from tests.rig.smtp import SmtpServer


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    yield from dh.open_store(tmp_path)


def _attached_draft(notice: EmailMessage) -> EmailMessage:
    [part] = [p for p in notice.iter_attachments() if p.get_content_type() == "message/rfc822"]
    inner = part.get_content()
    assert isinstance(inner, EmailMessage)
    return inner


def test_without_drafts_the_draft_is_mailed_to_the_owner_attached(
    tmp_path: Path, store: Store, smtp_server: SmtpServer
) -> None:
    config = dh.settings(tmp_path, smtp=dh.smtp_settings(smtp_server))
    _, ids = dh.seed_meeting(store, [("thank_you", "draft")])
    assert dh.dispatcher(store, config).dispatch().counts() == {"sent": 1}
    [received] = smtp_server.messages
    notice = received.message()
    row = dh.step_row(store, ids["thank_you"])
    assert received.rcpt_tos == (dh.OWNER,)
    assert notice["Subject"] == "Ready to send: your thank-you to Ben Li"
    assert notice["Message-ID"] == "<notify." + str(row.message_id)[1:]
    assert notice["Auto-Submitted"] == "auto-generated"
    assert "Here is your thank-you to Ben Li, ready to send." in notice.get_body(("plain",)).get_content()
    draft = _attached_draft(notice)
    assert (draft["Message-ID"], draft["To"].addresses[0].addr_spec) == (row.message_id, dh.CONTACT)
    assert draft["In-Reply-To"] == dh.SOURCE_ID
    assert b"X-Mailflow-Step" not in received.data
    assert row.state == "sent" and f"mailed to {dh.OWNER} to review and send" in row.receipt


def test_notify_mode_goes_to_the_owner_even_with_a_drafts_account(
    tmp_path: Path, store: Store, smtp_server: SmtpServer, imap_user: ImapUser
) -> None:
    config = dh.settings(
        tmp_path, smtp=dh.smtp_settings(smtp_server, imap_user), drafts=dh.drafts_settings(imap_user)
    )
    _, ids = dh.seed_meeting(store, [("follow_up", "notify"), ("thank_you", "draft")])
    assert dh.dispatcher(store, config).dispatch().counts() == {"sent": 2}
    [received] = smtp_server.messages
    assert (
        _attached_draft(received.message())["Message-ID"] == dh.step_row(store, ids["follow_up"]).message_id
    )
    [(in_drafts, _flags)] = dh.folder_messages(imap_user, "Drafts")
    assert in_drafts["Message-ID"] == dh.step_row(store, ids["thank_you"]).message_id
    # the notice's copy in Sent (auto: [drafts] has the SMTP username) is what resolves a crash
    sinks = build_sinks(config)
    try:
        assert sinks.notify.find(str(dh.step_row(store, ids["follow_up"]).message_id)) is True
    finally:
        sinks.close()


def test_without_smtp_everything_goes_to_the_outbox_folder_as_whole_files(
    tmp_path: Path, store: Store
) -> None:
    config = dh.settings(tmp_path)
    _, ids = dh.seed_meeting(
        store, [("prep_request", "send"), ("thank_you", "draft"), ("homework_brief", "send")]
    )
    assert dh.dispatcher(store, config).dispatch().counts() == {"sent": 3}
    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 3 and not list((tmp_path / "outbox").glob(".tmp-*"))
    mails = [email.message_from_bytes(f.read_bytes(), policy=email.policy.default) for f in files]
    by_id = {str(m["Message-ID"]): m for m in mails}
    prep = by_id[str(dh.step_row(store, ids["prep_request"]).message_id)]
    assert prep["To"].addresses[0].addr_spec == dh.CONTACT and prep["In-Reply-To"] == dh.SOURCE_ID
    notice_id = "<notify." + str(dh.step_row(store, ids["thank_you"]).message_id)[1:]
    assert isinstance(by_id[notice_id], EmailMessage)
    assert all(f.read_bytes().count(b"\r\n") > 3 for f in files)


def test_a_crash_is_resolved_from_the_outbox_folder(tmp_path: Path, store: Store) -> None:
    config = dh.settings(tmp_path)
    _, ids = dh.seed_meeting(store, [("prep_request", "send"), ("thank_you", "draft"), ("follow_up", "send")])
    d = dh.dispatcher(store, config)
    written, noticed = "<written@mailflow.test>", "<noticed@mailflow.test>"
    d.sinks.send.deliver(dh.message(written))
    d.sinks.draft.deliver(dh.message(noticed))
    with store.transaction() as tx:
        tx.claim_step(ids["prep_request"], written)
        tx.claim_step(ids["thank_you"], noticed)
        tx.claim_step(ids["follow_up"], "<vanished@mailflow.test>")
    outcomes = {o.step: o for o in d.recover()}
    assert {name: o.result for name, o in outcomes.items()} == {
        "prep_request": "sent", "thank_you": "sent", "follow_up": "uncertain",
    }  # fmt: skip
    assert outcomes["prep_request"].detail == "found after a restart in the outbox folder"
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 2
