"""The acknowledgement of an owner's forward (issue #26 item 4) against real servers.

The owner's forward is APPENDed to a real Dovecot mailbox that mailflow watches over IMAPS;
the acknowledgement goes out through a real aiosmtpd (STARTTLS + AUTH), logged in as the
mailbox's user so its Sent folder holds the copies (``[smtp] sent_copy = "auto"``).  Faults
come from a loopback FaultProxy between mailflow and aiosmtpd, crashes from a real child
process that dies mid-send.  The same scenarios in memory are in test_owner_forward_engine.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from mailflow import clock
from mailflow.config import Settings
from mailflow.engine.cycle import CycleReport, Engine
from mailflow.sinks.factory import Sinks, build_sinks
from mailflow.store import Store
from mailflow.store.rows import OwnerMailRow
from tests import delivery_helpers as dh
from tests.rig.dovecot import ImapUser
from tests.rig.proxy import FaultProxy
from tests.rig.smtp import ReceivedMessage, SmtpServer
from tests.system.delivery_crash_worker import Crashing

ROOT = Path(__file__).resolve().parents[2]
T0 = dh.T0  # a Tuesday, 10:00 UTC
OWNER_NAME, OWNER = "Ana Pérez", dh.OWNER
AUTHSERV = "mx.example.org"
SIGNED = f"{AUTHSERV}; dkim=pass header.d=example.org; spf=pass smtp.mailfrom={OWNER}"
FORGED = f"mx.elsewhere.example; dkim=pass header.d=example.org; spf=pass smtp.mailfrom={OWNER}"
DAN = ("Dan Brooks", "dan@brooks.example")
DAN_TEXT = (
    "Hi Alice, would you have half an hour sometime next week? I'd love to hear how you moved into product."
)
FORWARD_ID = "<fwd-dan-1@mail.example.org>"


# -- mail the owner writes ----------------------------------------------------------------------------


def forward(user: ImapUser, *, message_id: str = FORWARD_ID, results: str = SIGNED) -> bytes:
    """The owner's Gmail-style forward of Dan's plain mail to the mailbox mailflow watches."""
    message = EmailMessage()
    message["Authentication-Results"] = results
    message["From"] = f"{OWNER_NAME} <{OWNER}>"
    message["To"] = user.address
    message["Subject"] = "Fwd: Quick question"
    message["Date"] = format_datetime(T0 - timedelta(minutes=20))
    message["Message-ID"] = message_id
    message.set_content(
        "\n\n---------- Forwarded message ---------\n"
        f"From: {DAN[0]} <{DAN[1]}>\nDate: Mon, 10 Mar 2025 at 18:02\nSubject: Quick question\n"
        f"To: {OWNER_NAME} <{OWNER}>\n\n{DAN_TEXT}\n"
    )
    return message.as_bytes()


def thanks(user: ImapUser, ack: EmailMessage) -> bytes:
    """The owner's authenticated answer to the acknowledgement."""
    message = EmailMessage()
    message["Authentication-Results"] = SIGNED
    message["From"] = f"{OWNER_NAME} <{OWNER}>"
    message["To"] = user.address
    message["Subject"] = "Re: " + str(ack["Subject"])
    message["Date"] = format_datetime(T0 + timedelta(minutes=5))
    message["Message-ID"] = "<thanks-1@mail.example.org>"
    message["In-Reply-To"] = str(ack["Message-ID"])
    message["References"] = f"{FORWARD_ID} {ack['Message-ID']}"
    message.set_content("thanks!\n\n-- \nAna\n")
    return message.as_bytes()


# -- the live setup ---------------------------------------------------------------------------------


def values(
    tmp_path: Path, user: ImapUser, smtp: SmtpServer, *, port: int = 0, timeout: int = 5, **intake: Any
) -> dict[str, Any]:
    """Plain JSON settings: [mailbox] is ``user``'s INBOX over IMAPS, [smtp] the rig server (or
    ``port``, a proxy in front of it) logged in as ``user`` so "auto" files copies in its Sent."""
    imap = {k: str(v) if isinstance(v, Path) else v for k, v in dh.imap_values(user).items()}
    return {
        "owner": {"name": OWNER_NAME, "addresses": [OWNER], "timezone": "UTC"},
        "mailbox": {"kind": "imap", "address": user.address, "idle": False, **imap},
        "smtp": {
            "host": smtp.host, "port": port or smtp.port, "security": smtp.security,
            "ca_file": str(smtp.ca_file), "username": user.name, "password": user.password,
            "from_address": OWNER, "timeout": timeout,
        },
        "trust": {"authserv_id": AUTHSERV},
        "intake": intake,
        "data": {"folder": str(tmp_path / "data")},
        "outbox": {"folder": str(tmp_path / "outbox")},
        "sending": {"message_id_domain": "mailflow.test"},
    }  # fmt: skip


class Live:
    """One configuration, its store (SQLite under ``tmp_path``) and its engine; the clock at T0."""

    def __init__(self, tmp_path: Path, user: ImapUser, smtp: SmtpServer, **options: Any) -> None:
        self.user, self.smtp = user, smtp
        self.values = values(tmp_path, user, smtp, **options)
        self.settings = Settings(**self.values)
        self.settings_file = tmp_path / "settings.json"
        self.settings_file.write_text(json.dumps(self.values), encoding="utf-8")
        self.url = self.settings.database_url()
        clock.set_now(T0)
        self.store = Store.open(self.url)
        self.engine = Engine(self.settings, self.store)

    def cycle(self, at: timedelta = timedelta(0)) -> CycleReport:
        clock.set_now(T0 + at)
        report = self.engine.run_cycle()
        assert report.errors == [], report.errors
        return report

    def mails(self) -> list[OwnerMailRow]:
        with self.store.read() as tx:
            return tx.list_owner_mail()

    def only_mail(self) -> OwnerMailRow:
        (row,) = self.mails()
        return row

    def close(self) -> None:
        self.engine.close()
        self.store.close()


@pytest.fixture
def live(tmp_path: Path, imap_user: ImapUser, smtp_server: SmtpServer) -> Iterator[Live]:
    made = Live(tmp_path, imap_user, smtp_server)
    yield made
    made.close()


def only_meeting(live: Live) -> Any:
    with live.store.read() as tx:
        (meeting,) = tx.list_meetings()
    return meeting


def outcomes(report: CycleReport) -> list[str]:
    return [o.result for o in report.owner_mail or []]


def recipients(messages: list[ReceivedMessage]) -> list[tuple[str, ...]]:
    return [m.rcpt_tos for m in messages]


# -- 1. end to end -----------------------------------------------------------------------------------


def test_dans_forward_becomes_a_request_and_one_acknowledgement_to_the_owner_only(live: Live) -> None:
    live.user.append("INBOX", forward(live.user))
    report = live.cycle()
    assert report.sync is not None and report.sync.requests_created == 1
    meeting = only_meeting(live)
    with live.store.read() as tx:
        dan = tx.find_contact(DAN[1])
    assert dan is not None and meeting.counterpart_id == dan.id
    assert meeting.state == "requested"
    assert outcomes(report) == ["sent"]

    (received,) = live.smtp.messages
    ack = received.message()
    assert (received.mail_from, received.rcpt_tos, received.auth_user, received.tls) == (
        OWNER,
        (OWNER,),
        live.user.name,
        True,
    )
    assert [a.addr_spec for a in ack["To"].addresses] == [OWNER] and ack["Cc"] is None
    assert str(ack["In-Reply-To"]) == FORWARD_ID and FORWARD_ID in str(ack["References"]).split()
    assert ack["Auto-Submitted"] == "auto-generated"
    subject = str(ack["Subject"])
    assert f"meeting {meeting.id}" in subject and "waiting for a time" in subject, subject
    assert "Dan" in subject
    body = ack.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert f"meeting {meeting.id}, waiting for a time" in text and f"mailflow show {meeting.id}" in text
    assert DAN[1] not in " ".join(recipients(live.smtp.messages)[0])

    row = live.only_mail()
    assert (row.kind, row.state, row.meeting_id, row.attempts) == ("acknowledge", "sent", meeting.id, 0)
    assert row.message_id == str(ack["Message-ID"]) and row.in_reply_to == FORWARD_ID
    assert "a copy is in Sent" in row.receipt
    (copy, flags) = next((m, f) for m, f in dh.folder_messages(live.user, "Sent"))
    assert str(copy["Message-ID"]) == row.message_id and b"\\Seen" in flags
    with live.store.read() as tx:
        logged = [m for m in tx.list_messages(meeting_id=meeting.id) if m.direction == "out"]
    assert [(m.message_id, m.kind) for m in logged] == [(row.message_id, "acknowledge")]

    # once per request: later cycles, even a day later, send nothing more
    assert outcomes(live.cycle(timedelta(minutes=5))) == []
    assert outcomes(live.cycle(timedelta(days=1))) == []
    assert len(live.smtp.messages) == 1 and len(live.mails()) == 1


def test_a_forward_the_trusted_server_did_not_authenticate_is_not_acknowledged(live: Live) -> None:
    """The control for the one above: the ack rests on the configured authserv-id, not on From."""
    live.user.append("INBOX", forward(live.user, results=FORGED))
    report = live.cycle()
    assert report.sync is not None and report.sync.seen == 1
    assert live.mails() == [] and live.smtp.messages == []


# -- 2. turned off -----------------------------------------------------------------------------------


def test_acknowledge_false_sends_nothing_for_the_same_forward(
    tmp_path: Path, imap_user: ImapUser, smtp_server: SmtpServer
) -> None:
    live = Live(tmp_path, imap_user, smtp_server, acknowledge=False)
    try:
        assert live.settings.intake.acknowledge is False
        imap_user.append("INBOX", forward(imap_user))
        report = live.cycle()
        assert report.sync is not None and report.sync.requests_created == 1  # the request is still recorded
        assert only_meeting(live).state == "requested"
        assert live.mails() == [] and outcomes(report) == []
        live.cycle(timedelta(hours=1))
        assert smtp_server.messages == []
        assert dh.folder_messages(imap_user, "Sent") == []
    finally:
        live.close()


# -- 3. the owner's answer to it -------------------------------------------------------------------


def test_the_owners_thanks_to_the_acknowledgement_is_not_a_note_and_sends_nothing(live: Live) -> None:
    live.user.append("INBOX", forward(live.user))
    live.cycle()
    (received,) = live.smtp.messages
    ack = received.message()
    live.user.append("INBOX", thanks(live.user, ack))
    report = live.cycle(timedelta(minutes=10))
    assert report.sync is not None and report.sync.seen == 1  # the answer was read...
    meeting = only_meeting(live)
    with live.store.read() as tx:
        logged = {m.message_id: m for m in tx.list_messages()}
        notes = tx.list_notes(meeting.id)
    answer = logged["<thanks-1@mail.example.org>"]
    assert (
        answer.kind == "owner_notes" and answer.meeting_id == meeting.id
    )  # ...as the owner's, on the meeting
    assert notes == []  # ...and is not what was learned in a meeting
    assert outcomes(report) == [] and len(live.smtp.messages) == 1
    assert only_meeting(live).state == "requested"


# -- 4. crash safety: a real process dies mid-send --------------------------------------------------


def crash_child(settings_file: str, url: str, crash: str) -> None:
    """In a child process: one routine whose sinks die (``os._exit(9)``) ``before``/``after`` the Nth delivery.

    Its clock is a minute past the parent's: the clock moves on from T0, so the mail the parent
    queued "now" is due by then."""
    clock.set_now(T0 + timedelta(minutes=1))
    config = Settings(**json.loads(Path(settings_file).read_text(encoding="utf-8")))
    when, _, at = crash.partition(":")
    real = build_sinks(config)
    send, draft, notify = (Crashing(s, when, int(at)) for s in (real.send, real.draft, real.notify))
    sinks = Sinks(send, draft, notify, steps=real.steps)
    store = Store.open(url)
    Engine(config, store, sinks=sinks).routine()
    os._exit(0)  # it did not crash: the parent sees 0, not 9


def die_while_sending(live: Live, crash: str) -> int:
    code = (
        "import sys\nfrom tests.system.test_acknowledge_live import crash_child\n"
        "crash_child(sys.argv[1], sys.argv[2], sys.argv[3])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(live.settings_file), live.url, crash],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode


@pytest.mark.parametrize(
    ("crash", "arrived", "state"),
    [("after:1", 1, "sent"), ("before:1", 0, "uncertain")],
    ids=["delivered-then-killed", "claimed-then-killed"],
)
def test_a_routine_killed_mid_send_is_resolved_from_sent_and_never_sends_twice(
    live: Live, crash: str, arrived: int, state: str
) -> None:
    live.user.append("INBOX", forward(live.user))
    clock.set_now(T0)
    assert live.engine.sync_mail() is not None  # recorded and queued; nothing sent yet
    assert live.only_mail().state == "pending" and live.smtp.messages == []

    assert die_while_sending(live, crash) == 9
    claimed = live.only_mail()
    assert claimed.state == "sending" and claimed.message_id  # the claim was committed before the send
    assert len(live.smtp.messages) == arrived
    sent_copies = [str(m["Message-ID"]) for m, _ in dh.folder_messages(live.user, "Sent")]
    assert sent_copies == [claimed.message_id] * arrived

    clock.set_now(T0 + timedelta(minutes=2))
    report = live.engine.routine()  # the restart
    row = live.only_mail()
    assert outcomes(report) == [state] and row.state == state
    assert row.message_id == claimed.message_id
    if state == "sent":
        assert row.receipt == "found after a restart in the Sent folder"
    else:
        assert claimed.message_id in row.last_error and "check your inbox" in row.last_error
    assert len(live.smtp.messages) == arrived  # never sent again

    clock.set_now(T0 + timedelta(days=1))  # long past any backoff: still nothing more
    assert outcomes(live.engine.routine()) == []
    assert len(live.smtp.messages) == arrived and live.only_mail().state == state


def test_claimed_rows_are_resolved_by_the_sent_folder_through_the_store_api(live: Live) -> None:
    """The same without a child process: two claims a crash left, one of them in Sent."""
    live.user.append("INBOX", forward(live.user))
    live.user.append("INBOX", forward(live.user, message_id="<fwd-eve@mail.example.org>").replace(
        DAN[1].encode(), b"eve@eve.example"
    ))  # fmt: skip
    clock.set_now(T0)
    assert live.engine.sync_mail() is not None
    first, second = live.mails()
    delivered, lost = "<ack-delivered@mailflow.test>", "<ack-lost@mailflow.test>"
    with live.store.transaction() as tx:
        assert tx.claim_owner_mail(first.id, delivered)
        assert tx.claim_owner_mail(second.id, lost)
    live.user.append("Sent", dh.message(delivered, to=OWNER).as_bytes(), flags=["\\Seen"])
    report = live.engine.routine()
    assert sorted(outcomes(report)) == ["sent", "uncertain"]
    by_id = {row.id: row for row in live.mails()}
    assert (by_id[first.id].state, by_id[second.id].state) == ("sent", "uncertain")
    assert live.smtp.messages == []


# -- 5. faults between mailflow and the SMTP server -------------------------------------------------


@pytest.mark.parametrize("fault", ["refuse", "drop", "blackhole"])
def test_an_unreachable_smtp_server_defers_the_acknowledgement_then_it_goes_once(
    tmp_path: Path, imap_user: ImapUser, smtp_server: SmtpServer, fault: str
) -> None:
    with FaultProxy(smtp_server.port) as proxy:
        live = Live(tmp_path, imap_user, smtp_server, port=proxy.port, timeout=2)
        try:
            imap_user.append("INBOX", forward(imap_user))
            proxy.mode = fault  # type: ignore[assignment]
            clock.set_now(T0)
            report = live.engine.run_cycle()
            assert outcomes(report) == ["deferred"]
            row = live.only_mail()
            assert (row.state, row.attempts) == ("pending", 1)
            assert row.due_at > T0 and row.last_error
            assert row.message_id  # kept for the next try
            assert smtp_server.messages == []

            proxy.mode = "pass"
            assert outcomes(live.cycle(timedelta(seconds=10))) == []  # healed, but still backing off
            assert smtp_server.messages == []
            assert live.only_mail().state == "pending"

            report = live.cycle(row.due_at - T0 + timedelta(seconds=1))
            assert outcomes(report) == ["sent"]
            (received,) = smtp_server.messages
            assert received.rcpt_tos == (OWNER,)
            assert str(received.message()["Message-ID"]) == row.message_id == live.only_mail().message_id
            assert live.only_mail().state == "sent"
            assert outcomes(live.cycle(timedelta(hours=2))) == [] and len(smtp_server.messages) == 1
        finally:
            live.close()


def test_a_4xx_from_the_server_defers_and_a_5xx_fails_with_the_servers_words(live: Live) -> None:
    live.smtp.fail_next(1, code=451, stage="data", text="4.3.0 greylisted, come back later")
    live.user.append("INBOX", forward(live.user))
    assert outcomes(live.cycle()) == ["deferred"]
    row = live.only_mail()
    assert (row.state, row.attempts) == ("pending", 1) and "451" in row.last_error and row.due_at > T0

    live.smtp.fail_next(1, code=550, stage="rcpt", text="5.1.1 no such mailbox here")
    report = live.cycle(row.due_at - T0 + timedelta(seconds=1))
    assert outcomes(report) == ["failed"]
    failed = live.only_mail()
    assert failed.state == "failed" and "550 5.1.1 no such mailbox here" in failed.last_error
    assert live.smtp.messages == []
    assert outcomes(live.cycle(timedelta(days=1))) == []  # a failed mail waits for the owner
    assert live.smtp.messages == []
