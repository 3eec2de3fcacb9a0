"""Delivery through SMTP: a real aiosmtpd (AUTH over STARTTLS or implicit TLS) and Dovecot's Sent."""

from __future__ import annotations

import socket
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from mailflow import clock
from mailflow.store import Store
from tests import delivery_helpers as dh
from tests.rig.dovecot import ImapUser
from tests.rig.smtp import SmtpServer

CONTACT_STEPS = [("prep_request", "send"), ("follow_up", "send")]
OWNER_STEPS = [("homework_brief", "send"), ("take_action", "send")]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    yield from dh.open_store(tmp_path)


def test_each_step_is_received_once_with_its_headers_and_parts(
    tmp_path: Path, store: Store, smtp_server: SmtpServer, imap_user: ImapUser
) -> None:
    config = dh.settings(tmp_path, smtp=dh.smtp_settings(smtp_server, imap_user), mailbox=imap_user)
    meeting_id, ids = dh.seed_meeting(store, CONTACT_STEPS + OWNER_STEPS)
    report = dh.dispatcher(store, config).dispatch()
    assert report.counts() == {"sent": 4}
    again = dh.dispatcher(store, config).dispatch()
    assert again.outcomes == []

    received = {m.message()["Message-ID"]: m for m in smtp_server.messages}
    rows = {name: dh.step_row(store, step_id) for name, step_id in ids.items()}
    assert sorted(received) == sorted(str(row.message_id) for row in rows.values())
    for name, row in rows.items():
        got = received[str(row.message_id)]
        mail = got.message()
        to = dh.CONTACT if name in {"prep_request", "follow_up"} else dh.OWNER
        assert (got.mail_from, got.rcpt_tos, got.auth_user, got.tls) == (
            dh.OWNER,
            (to,),
            imap_user.name,
            True,
        )
        assert (mail["In-Reply-To"], mail["References"]) == (dh.SOURCE_ID, dh.SOURCE_ID)
        assert mail["From"].addresses[0].addr_spec == dh.OWNER
        assert row.state == "sent" and row.receipt.startswith(f"smtp 127.0.0.1:{smtp_server.port}")
        assert "a copy is in Sent" in row.receipt
    follow_up = received[str(rows["follow_up"].message_id)].message()
    assert [p.get_content_type() for p in follow_up.walk()] == [
        "multipart/mixed", "multipart/alternative", "text/plain", "text/calendar", "application/ics",
    ]  # fmt: skip
    [calendar] = [p for p in follow_up.walk() if p.get_content_type() == "text/calendar"]
    assert calendar.get_param("method") == "REQUEST" and "BEGIN:VEVENT" in calendar.get_content()
    brief = received[str(rows["homework_brief"].message_id)].message()
    assert brief.get_body(("html",)) is not None and brief["Auto-Submitted"] == "auto-generated"
    assert b"X-Mailflow-Step" not in b"".join(m.data for m in smtp_server.messages)

    copies = dh.folder_messages(imap_user, "Sent")
    assert Counter(str(m["Message-ID"]) for m, _flags in copies) == Counter(list(received))
    assert all(b"\\Seen" in flags for _m, flags in copies)
    with store.read() as tx:
        log = [m for m in tx.list_messages(meeting_id=meeting_id) if m.direction == "out"]
    assert {(m.message_id, m.step_id, m.kind) for m in log} == {
        (str(row.message_id), row.id, name) for name, row in rows.items()
    }
    assert all(m.contact_id is not None and m.sent_at is not None for m in log)


def test_implicit_tls_and_a_4xx_then_success_keeps_the_message_id(
    tmp_path: Path, store: Store, smtps_server: SmtpServer
) -> None:
    config = dh.settings(tmp_path, smtp=dh.smtp_settings(smtps_server))
    _, ids = dh.seed_meeting(store, [("prep_request", "send")])
    smtps_server.fail_next(1, code=451)
    first = dh.dispatcher(store, config).dispatch()
    row = dh.step_row(store, ids["prep_request"])
    assert first.counts() == {"deferred": 1}
    assert (row.state, row.attempts) == ("pending", 1) and "451" in row.last_error
    assert row.next_attempt_at is not None and row.next_attempt_at > clock.now()
    assert dh.dispatcher(store, config).dispatch().outcomes == []  # still backing off
    clock.set_now(dh.T0 + timedelta(minutes=2))
    assert dh.dispatcher(store, config).dispatch().counts() == {"sent": 1}
    [received] = smtps_server.messages
    assert received.message()["Message-ID"] == row.message_id == dh.step_row(store, row.id).message_id
    assert received.tls and received.auth_user == "alice"


def test_a_5xx_fails_the_step_with_the_servers_words(
    tmp_path: Path, store: Store, smtp_server: SmtpServer
) -> None:
    config = dh.settings(tmp_path, smtp=dh.smtp_settings(smtp_server))
    _, ids = dh.seed_meeting(store, [("prep_request", "send"), ("homework_brief", "send")])
    smtp_server.fail_next(1, code=550, stage="rcpt", text="5.1.1 no such mailbox here")
    report = dh.dispatcher(store, config).dispatch()
    failed = dh.step_row(store, ids["prep_request"])
    assert report.counts() == {"failed": 1, "sent": 1}
    assert failed.state == "failed"
    assert "550 5.1.1 no such mailbox here" in failed.last_error
    assert dh.CONTACT in failed.last_error
    assert [m.rcpt_tos for m in smtp_server.messages] == [(dh.OWNER,)]
    assert dh.dispatcher(store, config).dispatch().outcomes == []  # failed steps wait for `mailflow retry`


def test_never_a_stranger_never_do_not_contact_and_checked_again_at_the_claim(
    tmp_path: Path, store: Store, smtp_server: SmtpServer
) -> None:
    config = dh.settings(tmp_path, smtp=dh.smtp_settings(smtp_server))
    _, untrusted = dh.seed_meeting(
        store, [("prep_request", "send"), ("homework_brief", "send")], trusted=False
    )
    _, refused = dh.seed_meeting(
        store, [("follow_up", "send")], uid="m2@x", contact="cy@example.com", do_not_contact=True
    )
    report = dh.dispatcher(store, config).dispatch()
    assert report.counts() == {"cancelled": 2, "sent": 1}
    assert [m.rcpt_tos for m in smtp_server.messages] == [(dh.OWNER,)]
    assert "not confirmed" in dh.step_row(store, untrusted["prep_request"]).reason
    assert "asked not to be contacted" in dh.step_row(store, refused["follow_up"]).reason

    # do-not-contact arriving between rendering and the claim still stops the mail
    _, late = dh.seed_meeting(store, [("thank_you", "send")], uid="m3@x", contact="dee@example.com")
    d = dh.dispatcher(store, config)
    render = d.render

    def render_then_stop(step, message_id):  # type: ignore[no-untyped-def]
        made = render(step, message_id)
        with store.transaction() as tx:
            contact = tx.find_contact("dee@example.com")
            assert contact is not None
            tx.set_do_not_contact(contact.id, "unsubscribe")
        return made

    d.render = render_then_stop
    assert d.dispatch().counts() == {"cancelled": 1}
    assert dh.step_row(store, late["thank_you"]).state == "cancelled"
    assert len(smtp_server.messages) == 1


def test_rate_limits_hold_what_is_over_and_count_what_went_out(
    tmp_path: Path, store: Store, smtp_server: SmtpServer
) -> None:
    config = dh.settings(tmp_path, smtp=dh.smtp_settings(smtp_server), per_hour=2, per_day=3)
    for n in range(4):
        dh.seed_meeting(store, [("prep_request", "send")], uid=f"m{n}@x", contact=f"c{n}@example.com")
    first = dh.dispatcher(store, config).dispatch()
    assert first.counts() == {"sent": 2, "held": 2}
    assert "2 per hour" in first.of("held")[0].detail
    clock.set_now(dh.T0 + timedelta(minutes=61))
    assert dh.dispatcher(store, config).dispatch().counts() == {"sent": 1, "held": 1}  # the day's 3 are used
    clock.set_now(dh.T0 + timedelta(days=1, minutes=1))
    assert dh.dispatcher(store, config).dispatch().counts() == {"sent": 1}
    assert len(smtp_server.messages) == 4


def test_dry_run_renders_and_sends_and_marks_nothing(
    tmp_path: Path, store: Store, smtp_server: SmtpServer
) -> None:
    config = dh.settings(tmp_path, smtp=dh.smtp_settings(smtp_server))
    _, _ids = dh.seed_meeting(store, [*CONTACT_STEPS, ("thank_you", "draft")])
    before = dh.step_states(store)
    report = dh.dispatcher(store, config, dry_run=True).dispatch()
    assert report.counts() == {"dry_run": 3}
    assert any(f'to {dh.CONTACT}: "' in o.detail and o.detail.startswith("smtp") for o in report.outcomes)
    assert dh.step_states(store) == before and smtp_server.messages == []
    assert not (tmp_path / "outbox").exists()


def test_a_crash_is_resolved_from_the_sent_folder_else_uncertain_until_retry(
    tmp_path: Path, store: Store, smtp_server: SmtpServer, imap_user: ImapUser
) -> None:
    config = dh.settings(tmp_path, smtp=dh.smtp_settings(smtp_server, imap_user), mailbox=imap_user)
    _, ids = dh.seed_meeting(store, [("prep_request", "send"), ("follow_up", "send")])
    delivered, lost = "<delivered@mailflow.test>", "<lost@mailflow.test>"
    with store.transaction() as tx:  # what a crash leaves behind
        tx.claim_step(ids["prep_request"], delivered)
        tx.claim_step(ids["follow_up"], lost)
    imap_user.append("Sent", dh.message(delivered).as_bytes(), flags=["\\Seen"])
    report = dh.dispatcher(store, config).dispatch()
    assert report.counts() == {"sent": 1, "uncertain": 1}
    assert dh.step_row(store, ids["prep_request"]).receipt == "found after a restart in the Sent folder"
    uncertain = dh.step_row(store, ids["follow_up"])
    assert uncertain.state == "uncertain" and lost in uncertain.reason
    assert f"mailflow retry {uncertain.id}" in uncertain.reason
    assert smtp_server.messages == []  # neither was sent again
    with store.transaction() as tx:
        assert tx.retry_step(uncertain.id, clock.now())
    assert dh.dispatcher(store, config).dispatch().counts() == {"sent": 1}
    assert [m.message()["Message-ID"] for m in smtp_server.messages] == [lost]


class _SilentAfterData:
    """An SMTP server that takes the whole message, then closes without a reply."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.got_dot = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        connection, _ = self.listener.accept()
        with connection, connection.makefile("rwb") as stream:
            stream.write(b"220 silent\r\n")
            stream.flush()
            for line in stream:
                if line == b".\r\n":
                    self.got_dot.set()
                    return  # the message is complete; the reply never comes
                reply = {b"EHLO": b"250 silent\r\n", b"MAIL": b"250 ok\r\n", b"RCPT": b"250 ok\r\n",
                         b"DATA": b"354 go on\r\n", b"NOOP": b"250 ok\r\n"}.get(line[:4].upper())  # fmt: skip
                if reply is not None:
                    stream.write(reply)
                    stream.flush()


def test_a_connection_lost_after_the_final_dot_is_uncertain_not_retried(tmp_path: Path, store: Store) -> None:
    server = _SilentAfterData()
    smtp = {
        "host": "127.0.0.1",
        "port": server.port,
        "security": "none",
        "from_address": dh.OWNER,
        "timeout": 5,
    }
    config = dh.settings(tmp_path, smtp=smtp)  # type: ignore[arg-type]
    _, ids = dh.seed_meeting(store, [("prep_request", "send")])
    report = dh.dispatcher(store, config).dispatch()
    assert server.got_dot.is_set()
    assert report.counts() == {"uncertain": 1}
    row = dh.step_row(store, ids["prep_request"])
    assert row.state == "uncertain" and "broke after the message was sent" in row.reason
    clock.set_now(dh.T0 + timedelta(days=1))
    assert dh.dispatcher(store, config).dispatch().outcomes == []
