"""Intake against a real Dovecot and a real Cyrus: append -> sync -> records, and what goes
wrong on the way.

Each test runs on both servers (``imap_server``; ids end in the server), with a fresh rig
user and its own SQLite database; the owner is Ana of tests/fixtures/mail.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from imapclient import IMAPClient

from mailflow.config import MailboxSettings, Settings
from mailflow.engine.intake import Intake, SyncSummary, watch
from mailflow.net.imap import connect_imap
from mailflow.sources import UidCursor, imap_wire
from mailflow.sources.imap import ImapSource
from mailflow.store import Store
from tests import intake_support as support
from tests.cli_helpers import run_cli
from tests.rig.cyrus import Cyrus, RigUser
from tests.rig.dovecot import Dovecot


@pytest.fixture
def config(tmp_path: Path, server_user: RigUser) -> Settings:
    support.create_folder(server_user)
    return support.imap_settings(tmp_path, server_user)


@pytest.fixture
def store(config: Settings) -> Iterator[Store]:
    opened = support.open_store(config)
    yield opened
    opened.close()


@pytest.fixture
def source(config: Settings) -> Iterator[ImapSource]:
    made = ImapSource(config.mailbox, retry_for=20.0, max_backoff=1.0)
    yield made
    made.close()


def _append(user: RigUser, *messages: bytes) -> None:
    for raw in messages:
        user.append(support.FOLDER, raw)


def test_appended_mail_becomes_records(
    server_user: RigUser, config: Settings, store: Store, source: ImapSource
) -> None:
    _append(
        server_user,
        support.fixture("fwd_gmail_invite.eml"),  # the owner forwards an invite: trusted
        support.fixture("zoom_invite.eml"),  # an invite sent straight to the mailbox: pending
        support.fixture("newsletter.eml"),  # nothing that can matter: not even parsed
        support.fixture("fwd_gmail_request.eml"),  # the owner forwards a plain request
    )
    summary = Intake(store, source, config).sync()
    assert (summary.seen, summary.parsed, summary.skipped, summary.errors) == (4, 3, 1, 0)
    assert summary.meetings_created == 2 and summary.requests_created == 1
    with store.read() as tx:
        meetings = {m.summary: m for m in tx.list_meetings()}
        logged = tx.list_messages()
        contact = tx.find_contact("jordan.lee@contact.example")
        cursor = tx.get_cursor(source.key)
    forwarded = meetings["Coffee chat: Jordan / Ana"]
    assert (forwarded.state, forwarded.trusted) == ("scheduled", True)
    assert contact is not None and forwarded.counterpart_id == contact.id
    direct = next(m for m in meetings.values() if m.ical_uid and m is not forwarded)
    assert (direct.state, direct.trusted) == ("pending", False)
    assert [m.kind for m in logged if m.kind == "request"] == ["request"]
    assert len(logged) == 3  # the newsletter is passed over, not logged
    assert all(m.location.startswith("imap://") and ";UID=" in m.location for m in logged)
    parsed = UidCursor.parse(cursor)
    assert parsed is not None and parsed.uid == 4
    # BODY.PEEK only: nothing was marked \Seen, nothing moved
    assert len(support.folder_flags(server_user)) == 4
    assert all(b"\\Seen" not in flags for flags in support.folder_flags(server_user).values())


def test_the_same_message_twice_is_recorded_once(
    server_user: RigUser, config: Settings, store: Store, source: ImapSource
) -> None:
    invite = support.fixture("fwd_gmail_invite.eml")
    _append(server_user, invite, invite)
    summary = Intake(store, source, config).sync()
    assert (summary.meetings_created, summary.duplicates) == (1, 1)
    _append(server_user, invite)
    later = Intake(store, source, config).sync()
    assert (later.seen, later.duplicates, later.parsed) == (1, 1, 0)  # known Message-ID: not even fetched
    with store.read() as tx:
        assert len(tx.list_messages()) == 1
        assert len(tx.list_meetings()) == 1


def test_two_forwards_of_one_invite_make_one_meeting(
    server_user: RigUser, config: Settings, store: Store, source: ImapSource
) -> None:
    invite = support.fixture("fwd_gmail_invite.eml")
    _append(server_user, invite, support.with_message_id(invite, "<second-forward@mail.gmail.com>"))
    summary = Intake(store, source, config).sync()
    assert summary.meetings_created == 1
    with store.read() as tx:
        meetings = tx.list_meetings()
        logged = tx.list_messages()
    assert len(meetings) == 1
    assert [m.meeting_id for m in logged] == [meetings[0].id, meetings[0].id]


def _uidvalidity_change(
    user: RigUser, config: Settings, store: Store, source: ImapSource, *, open_session: bool
) -> None:
    owner_note = support.without_message_id(support.fixture("fwd_gmail_request.eml"))  # deduped by content
    _append(user, support.fixture("fwd_gmail_invite.eml"), support.fixture("calendly_invite.eml"), owner_note)
    intake = Intake(store, source, config)
    first = intake.sync()
    assert first.errors == 0 and first.parsed == 3
    with store.read() as tx:
        before = (len(tx.list_meetings()), len(tx.list_contacts()), len(tx.list_messages()))
        old = UidCursor.parse(tx.get_cursor(source.key))
    if not open_session:
        source.close()
    support.recreate_folder(user)  # delete and create the folder: a new UIDVALIDITY
    _append(user, support.fixture("zoom_invite.eml"))
    time.sleep(0.3)
    again = intake.sync()
    assert (again.seen, again.duplicates, again.meetings_created, again.errors) == (4, 3, 1, 0)
    with store.read() as tx:
        after = (len(tx.list_meetings()), len(tx.list_contacts()), len(tx.list_messages()))
        new = UidCursor.parse(tx.get_cursor(source.key))
    assert after[0] == before[0] + 1 and after[2] == before[2] + 1
    assert old is not None and new is not None and new.uidvalidity != old.uidvalidity


def test_a_new_uidvalidity_rereads_without_duplicates(
    server_user: RigUser, config: Settings, store: Store, source: ImapSource
) -> None:
    _uidvalidity_change(server_user, config, store, source, open_session=False)


def test_a_folder_recreated_under_an_open_session_is_reread_without_duplicates(
    tmp_path: Path, imap_server: Dovecot | Cyrus
) -> None:
    # not the server_user fixture: Dovecot rightly logs an error about the index changing
    # under the open session, which this test expects instead of failing on it
    user, mark = imap_server.new_user("recreated"), imap_server.log_mark()
    support.create_folder(user)
    config = support.imap_settings(tmp_path, user)
    # Dovecot may keep showing the deleted folder to the open session: the source selects
    # its folder afresh every `refresh_after` seconds (by default: every idle_renew)
    source = ImapSource(config.mailbox, retry_for=20.0, max_backoff=1.0, refresh_after=0.2)
    with support.open_store(config) as store, source:
        _uidvalidity_change(user, config, store, source, open_session=True)
    expected = ("indexid changed", "duplicate transaction log sequence")
    unexpected = [line for line in imap_server.log_errors(since=mark) if not any(e in line for e in expected)]
    assert unexpected == []


def test_a_server_restart_in_the_middle_of_a_sync_loses_and_repeats_nothing(
    imap_server: Dovecot | Cyrus, server_user: RigUser, config: Settings, store: Store, source: ImapSource
) -> None:
    invites = [
        support.with_message_id(support.fixture("fwd_gmail_invite.eml"), f"<fwd-{n}@mail.gmail.com>")
        for n in range(6)
    ]
    _append(server_user, *(raw for invite in invites for raw in (invite, support.plain())))
    first_batch, server_down = threading.Event(), threading.Event()
    results: list[SyncSummary] = []

    def pause_after_first_batch(done: int, total: int | None) -> None:
        if not first_batch.is_set():
            first_batch.set()
            server_down.wait(10)

    def run() -> None:
        results.append(Intake(store, source, config, batch_size=4).sync(progress=pause_after_first_batch))

    worker = threading.Thread(target=run)
    worker.start()
    try:
        assert first_batch.wait(15)
        imap_server.stop()  # from this thread: the rig's server dies with the thread that started it
        server_down.set()
        time.sleep(0.8)  # the sync meets a dead server and backs off meanwhile
    finally:
        server_down.set()
        imap_server.restart()
        worker.join(30)
    assert not worker.is_alive() and results
    summary = results[0]
    assert (summary.seen, summary.parsed, summary.errors) == (12, 6, 0)
    with store.read() as tx:
        logged = tx.list_messages()
    assert len(logged) == 6 and len({m.uid for m in logged}) == 6
    assert Intake(store, source, config).sync().seen == 0


def test_a_waiting_sync_picks_up_new_mail(
    server_user: RigUser, config: Settings, store: Store, source: ImapSource
) -> None:
    intake = Intake(store, source, config)
    stop, first_done = threading.Event(), threading.Event()
    summaries: list[SyncSummary] = []

    def on_summary(summary: SyncSummary) -> None:
        summaries.append(summary)
        first_done.set()

    worker = threading.Thread(
        target=watch,
        kwargs={
            "intake": intake,
            "stop": stop,
            "slice_seconds": 0.5,
            "on_summary": on_summary,
            "on_error": print,
        },
    )
    worker.start()
    try:
        assert first_done.wait(15)
        time.sleep(0.3)  # let the watcher enter IDLE
        _append(server_user, support.fixture("fwd_gmail_invite.eml"))
        deadline = time.monotonic() + 20  # generous: this checks that it happens, not how fast
        while time.monotonic() < deadline and not _meetings(store):
            time.sleep(0.1)
    finally:
        stop.set()
        worker.join(15)
    assert not worker.is_alive()
    assert len(_meetings(store)) == 1
    assert sum(s.seen for s in summaries) == 1


# Dovecot only: Cyrus refuses to store the corrupt message at all.  APPEND answers "Message
# contains NUL characters", and without the NUL "Message contains invalid header" (the junk first
# line), so a folder on Cyrus cannot hold one and what mailflow does with it is a question for Dovecot.
@pytest.mark.parametrize("imap_server", [pytest.param("dovecot", marks=pytest.mark.dovecot)], indirect=True)
def test_a_corrupt_message_among_good_ones_is_logged_and_left_alone(
    tmp_path: Path, server_user: RigUser, config: Settings, store: Store, source: ImapSource
) -> None:
    _append(
        server_user,
        support.fixture("fwd_gmail_invite.eml"),
        support.corrupt(),
        support.fixture("zoom_invite.eml"),
    )
    summary = Intake(store, source, config).sync()
    assert (summary.seen, summary.meetings_created, summary.errors) == (3, 2, 1)
    with store.read() as tx:
        errors = tx.list_messages(errors_only=True)
    assert len(errors) == 1 and errors[0].uid == 2
    assert "not an e-mail message" in errors[0].error
    assert errors[0].location.endswith(";UID=2")
    assert support.folder_flags(server_user)[2] == ()  # untouched in the mailbox
    config_file = tmp_path / "config.toml"
    config_file.write_text(f'[database]\nurl = "{config.database_url()}"\n')
    listed = run_cli(["--config", str(config_file), "messages", "--errors"])
    assert listed.exit_code == 0
    assert "not an e-mail message" in listed.output and "UID=2" in listed.output


def test_processed_mail_is_tagged_and_moved_when_configured(
    tmp_path: Path, imap_server: Dovecot | Cyrus, server_user: RigUser, store: Store
) -> None:
    support.create_folder(server_user)
    config = support.imap_settings(
        tmp_path, server_user, processed_keyword="mailflow-done", move_processed_to="Processed"
    )
    on_cyrus = isinstance(imap_server, Cyrus)  # which refuses the corrupt one (see above): another ignored
    unreadable = support.plain(subject="also ignored") if on_cyrus else support.corrupt()
    _append(server_user, support.fixture("fwd_gmail_invite.eml"), unreadable, support.plain())
    with ImapSource(config.mailbox, retry_for=5.0) as marking:
        summary = Intake(store, marking, config).sync()
    assert summary.errors == (0 if on_cyrus else 1)
    left = support.folder_flags(server_user)
    assert sorted(left) == [2, 3]  # the corrupt and the ignored message stay, untagged
    assert all(flags == () for flags in left.values())
    moved = support.folder_flags(server_user, "Processed")
    assert list(moved.values()) == [(b"mailflow-done",)]


def _meetings(store: Store) -> list[object]:
    with store.read() as tx:
        return list(tx.list_meetings())


def test_a_sync_in_batches_looks_at_each_message_once(
    server_user: RigUser, config: Settings, store: Store
) -> None:
    """The engine has the source send each next look ahead; none is sent twice or wasted."""
    plain = [support.plain(subject=f"m{n}") for n in range(5)]
    invites = [support.fixture("fwd_gmail_invite.eml"), support.fixture("zoom_invite.eml")]
    _append(server_user, plain[0], invites[0], *plain[1:4], invites[1], plain[4])
    looks: list[bytes] = []

    def connect(account: MailboxSettings, section: str) -> IMAPClient:
        client = connect_imap(account, section)
        send = client._imap.send

        def counted(data: bytes) -> None:
            if b"BODYSTRUCTURE" in data:
                looks.append(bytes(data).split(b" UID FETCH ")[1].split()[0])
            send(data)

        client._imap.send = counted
        return client

    with ImapSource(config.mailbox, connect=connect) as source:
        summary = Intake(store, source, config, batch_size=2).sync()
    assert (summary.seen, summary.batches, summary.meetings_created, summary.errors) == (7, 4, 2, 0)
    assert looks == [b"1:2", b"3:4", b"5:6", b"7"]


def test_a_structure_too_long_to_look_at_is_read_in_full_and_the_folder_goes_on(
    server_user: RigUser, config: Settings, store: Store, source: ImapSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stranger's mail naming hundreds of files makes a BODYSTRUCTURE line longer than the reader
    keeps (1 MB; 8 KB here): it must neither stop the folder nor be passed over unread."""
    monkeypatch.setattr(imap_wire, "MAX_LINE", 8 * 1024)
    parts = "".join(
        f'--BB\r\nContent-Type: application/pdf; name="{n}-{"n" * 60}.pdf"\r\n\r\nA\r\n' for n in range(300)
    )
    hostile = (
        "From: Stranger <s@evil.example>\r\nTo: flow@owner.example\r\nSubject: many files\r\n"
        "Message-ID: <many@evil.example>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=BB\r\n\r\n"
        f"{parts}--BB--\r\n"
    ).encode()
    _append(server_user, support.plain(subject="before"), hostile, support.fixture("fwd_gmail_invite.eml"))
    summary = Intake(store, source, config).sync()
    assert (summary.seen, summary.parsed, summary.meetings_created) == (
        3,
        2,
        1,
    )  # the long one and the invite
    with store.read() as tx:
        logged = {m.message_id: m.kind for m in tx.list_messages()}
    assert logged["<many@evil.example>"] == "ignored"
