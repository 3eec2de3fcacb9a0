"""What only the IMAP source does, against a real Dovecot and a real Cyrus: round trips, reconnects,
IDLE, errors.  Every test that uses a server runs on both (``imap_server``; ids end in the server)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from imapclient import IMAPClient
from pydantic import SecretStr

from mailflow.config import MailboxSettings
from mailflow.errors import AuthError, PermanentError, TransientError
from mailflow.net.imap import connect_imap
from mailflow.sources.imap import ImapSource, backoff
from tests import intake_support as support
from tests.rig.cyrus import Cyrus, RigUser
from tests.rig.dovecot import Dovecot
from tests.rig.tools import free_port


class Counting:
    """A connect function whose clients count the IMAP commands they send."""

    def __init__(self) -> None:
        self.commands: Counter[str] = Counter()
        self.logins = 0

    def __call__(self, account: MailboxSettings, section: str) -> IMAPClient:
        client = connect_imap(account, section)
        self.logins += 1
        imap = client._imap
        send = imap.send

        def counted(data: bytes) -> Any:
            words = bytes(data).split(b"\r\n", 1)[0].split()
            if words[:1] == [b"DONE"]:
                self.commands["DONE"] += 1
            elif len(words) >= 2 and words[0].isalnum():
                name = words[1].upper()
                if name == b"UID" and len(words) > 2:
                    name += b" " + words[2].upper()
                self.commands[name.decode()] += 1
            return send(data)

        imap.send = counted
        return client

    def reset(self) -> None:
        self.commands.clear()


@pytest.fixture
def counting() -> Counting:
    return Counting()


@pytest.fixture
def source(server_user: RigUser, counting: Counting) -> Iterator[ImapSource]:
    support.create_folder(server_user)
    made = ImapSource(support.imap_mailbox(server_user), retry_for=5.0, max_backoff=0.5, connect=counting)
    yield made
    made.close()


def _catch_up(source: ImapSource) -> str:
    cursor: str | None = None
    while True:
        items, cursor = source.poll(cursor)
        if not items:
            return cursor


def test_a_poll_without_new_mail_is_one_noop(
    server_user: RigUser, source: ImapSource, counting: Counting
) -> None:
    for n in range(3):
        server_user.append(support.FOLDER, support.plain(subject=f"m{n}"))
    cursor = _catch_up(source)
    counting.reset()
    for _ in range(5):
        assert source.poll(cursor)[0] == []
    assert counting.commands == Counter({"NOOP": 5})
    server_user.append(support.FOLDER, support.plain(subject="new"))  # the NOOP's EXISTS asks for a search
    items, cursor = source.poll(cursor)
    assert [i.subject for i in items] == ["new"]
    assert counting.commands["UID SEARCH"] == 1


def test_after_a_reconnect_the_select_answer_shows_nothing_is_new(
    server_user: RigUser, source: ImapSource, counting: Counting
) -> None:
    server_user.append(support.FOLDER, support.plain())
    cursor = _catch_up(source)
    assert cursor.count(":") == 2  # UIDVALIDITY:UID:MODSEQ once caught up (CONDSTORE)
    source.close()
    counting.reset()
    assert source.poll(cursor)[0] == []
    assert "UID SEARCH" not in counting.commands and "SEARCH" not in counting.commands
    assert counting.commands["EXAMINE"] == 1  # read-only: the folder is never changed


def test_pages_of_one_search_cost_no_further_searches(
    server_user: RigUser, source: ImapSource, counting: Counting
) -> None:
    server_user.seed(support.FOLDER, [support.plain(subject=f"m{n}") for n in range(7)])
    counting.reset()
    cursor, pages = None, 0
    while pages == 0 or source.backlog():  # what a sync does: stop when nothing is known to wait
        _items, cursor = source.poll(cursor, limit=3)
        pages += 1
    assert pages == 3
    assert counting.commands["UID SEARCH"] == 1  # one search, three pages; then the source knows it is done


def test_a_wrong_password_fails_at_once(server_user: RigUser) -> None:
    account = support.imap_mailbox(server_user).model_copy(update={"password": SecretStr("wrong")})
    started = time.monotonic()
    with pytest.raises(AuthError), ImapSource(account, retry_for=30.0) as source:
        source.poll(None)
    assert time.monotonic() - started < 10  # no reconnect loop for a refused login


def test_a_missing_folder_is_a_permanent_error_that_names_it(server_user: RigUser) -> None:
    with (
        pytest.raises(PermanentError, match='"Nowhere" does not exist') as caught,
        ImapSource(support.imap_mailbox(server_user, folder="Nowhere"), retry_for=5.0) as source,
    ):
        source.poll(None)
    assert "mailbox.folder" in caught.value.hint


def test_an_unreachable_server_is_retried_with_backoff_then_transient(server_user: RigUser) -> None:
    account = support.imap_mailbox(server_user).model_copy(update={"port": free_port()})
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        time.sleep(seconds)

    source = ImapSource(account, retry_for=2.0, max_backoff=0.4, sleep=sleep)
    with pytest.raises(TransientError, match="connection refused"):
        source.poll(None)
    assert len(pauses) >= 3 and max(pauses) <= 0.4


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    for attempt in (*range(12), 5000):
        ceiling = min(30.0, 0.25 * 2 ** min(attempt, 32))
        assert ceiling / 2 <= backoff(attempt) <= ceiling


def test_idle_is_renewed_and_still_wakes_for_new_mail(server_user: RigUser, counting: Counting) -> None:
    support.create_folder(server_user)
    source = ImapSource(support.imap_mailbox(server_user), idle_renew=0.3, retry_for=5.0, connect=counting)
    try:
        cursor = _catch_up(source)
        for _ in range(4):
            assert source.wait(0.2) is False
        assert counting.commands["IDLE"] >= 2  # re-issued after idle_renew
        timer = threading.Timer(0.2, server_user.append, [support.FOLDER, support.plain(subject="late")])
        timer.start()
        deadline = time.monotonic() + 15
        woke = False
        while not woke and time.monotonic() < deadline:
            woke = source.wait(0.5)
        timer.join()
        assert woke
        assert [i.subject for i in source.poll(cursor)[0]] == ["late"]
    finally:
        source.close()


def test_mail_told_in_idle_just_after_the_folder_was_selected_afresh_is_found(
    server_user: RigUser, counting: Counting
) -> None:
    """The SELECT that refreshes the folder is out of date once IDLE says EXISTS after it: the
    next poll must search.  Found on Cyrus, which says EXISTS at once (Dovecot 0.5 s later)."""
    support.create_folder(server_user)
    source = ImapSource(support.imap_mailbox(server_user), refresh_after=1.0, retry_for=5.0, connect=counting)
    try:
        cursor = _catch_up(source)
        time.sleep(1.1)  # so the next wait selects the folder afresh before it idles
        counting.reset()
        timer = threading.Timer(0.2, server_user.append, [support.FOLDER, support.plain(subject="late")])
        timer.start()
        woke = source.wait(5.0)
        timer.join()
        assert woke and counting.commands["EXAMINE"] == 1
        assert [i.subject for i in source.poll(cursor)[0]] == ["late"]
    finally:
        source.close()


def test_without_idle_wait_sleeps_until_the_poll_is_due(server_user: RigUser, counting: Counting) -> None:
    support.create_folder(server_user)
    pauses: list[float] = []
    account = support.imap_mailbox(server_user, idle=False, poll_interval=5)
    source = ImapSource(account, retry_for=5.0, connect=counting, sleep=pauses.append)
    try:
        _catch_up(source)
        assert source.wait(1.0) is False and pauses == [1.0]
        assert "IDLE" not in counting.commands
        source._last_poll -= 10  # as if the poll interval had passed since the last poll
        assert source.wait(1.0) is True
    finally:
        source.close()


def test_the_first_look_reads_encoded_subjects_and_names(server_user: RigUser, source: ImapSource) -> None:
    raw = (
        b"From: =?utf-8?q?J=C3=B6rg_M=C3=BCller?= <JOERG@Example.ORG>\r\n"
        b"Subject: =?utf-8?b?S2FmZmVlIG3DtmdsaWNoPw==?=\r\nMessage-ID: <x1@example.org>\r\n"
        b"In-Reply-To: <a@b.example>\r\nReferences: <r1@b.example>\r\n <a@b.example>\r\n\r\nhi\r\n"
    )
    server_user.append(support.FOLDER, raw)
    (item,), _cursor = source.poll(None)
    assert (item.sender, item.sender_name, item.subject) == (
        "joerg@example.org",
        "Jörg Müller",
        "Kaffee möglich?",
    )
    assert item.in_reply_to == ("<a@b.example>",) and item.references == ("<r1@b.example>", "<a@b.example>")


# -- the look sent ahead ---------------------------------------------------------------------


def _subjects(items: list[Any]) -> list[str]:
    return [i.subject for i in items]


def _looked_ahead(server_user: RigUser, source: ImapSource, count: int, limit: int) -> tuple[list[Any], str]:
    """``count`` messages m0, m1, ...; the first poll of ``limit``, then the next look sent ahead."""
    server_user.seed(support.FOLDER, [support.plain(subject=f"m{n}") for n in range(count)])
    items, cursor = source.poll(None, limit=limit)
    source.prefetch()
    return items, cursor


def test_a_look_sent_ahead_answers_the_next_poll(
    server_user: RigUser, source: ImapSource, counting: Counting
) -> None:
    server_user.seed(support.FOLDER, [support.plain(subject=f"m{n}") for n in range(7)])
    items, cursor = source.poll(None, limit=3)
    assert _subjects(items) == ["m0", "m1", "m2"]
    counting.reset()
    source.prefetch()
    source.prefetch()  # a second hint while one is on its way sends nothing more
    assert counting.commands == Counter({"UID FETCH": 1})
    items, cursor = source.poll(cursor, limit=3)
    assert _subjects(items) == ["m3", "m4", "m5"]
    assert counting.commands == Counter({"UID FETCH": 1})  # the poll itself sent nothing
    source.prefetch()
    items, cursor = source.poll(cursor, limit=3)
    assert _subjects(items) == ["m6"] and source.backlog() == 0
    source.prefetch()  # nothing is left to look at: no command
    assert counting.commands == Counter({"UID FETCH": 2})


def test_commands_after_a_look_sent_ahead_wait_for_its_answer(
    server_user: RigUser, source: ImapSource, counting: Counting
) -> None:
    first, cursor = _looked_ahead(server_user, source, 5, 2)
    bodies = dict(source.fetch_many([i.ref for i in first]))  # a command behind the look
    assert [b"Subject: m0" in bodies[first[0].ref], b"Subject: m1" in bodies[first[1].ref]] == [True, True]
    assert source.wait(0.2) is False  # IDLE, too, comes after the look's answer
    counting.reset()
    items, cursor = source.poll(cursor, limit=2)
    assert _subjects(items) == ["m2", "m3"]
    assert "UID FETCH" not in counting.commands  # the answer read before the FETCH above was kept


def test_a_look_sent_ahead_for_another_batch_is_not_used(server_user: RigUser, source: ImapSource) -> None:
    _items, cursor = _looked_ahead(server_user, source, 6, 2)  # looks at m2, m3 ahead
    items, _ = source.poll(cursor, limit=3)
    assert _subjects(items) == ["m2", "m3", "m4"]


def test_a_look_sent_ahead_is_forgotten_with_its_connection(
    imap_server: Dovecot | Cyrus, server_user: RigUser, source: ImapSource
) -> None:
    _items, cursor = _looked_ahead(server_user, source, 4, 2)
    imap_server.restart()
    items, _ = source.poll(cursor, limit=2)
    assert _subjects(items) == ["m2", "m3"]


def _logged_out(server: Dovecot | Cyrus, user: str, said: str) -> bool:
    """Whether the server's log tells of a LOGOUT (neither logs this for a dropped connection)."""
    if isinstance(server, Cyrus):
        return f"USAGE {user} " in said
    return f"imap({user})" in said and "Logged out" in said


def test_closing_with_a_look_sent_ahead_logs_out_politely(
    imap_server: Dovecot | Cyrus, server_user: RigUser, source: ImapSource
) -> None:
    _looked_ahead(server_user, source, 4, 2)
    mark = imap_server.log_mark()
    source.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # the server writes its log a moment later
        with imap_server.log_file.open("rb") as log:
            log.seek(mark)
            said = log.read().decode("utf-8", "replace")
        if _logged_out(imap_server, server_user.name, said):
            break
        time.sleep(0.05)
    assert _logged_out(imap_server, server_user.name, said)  # LOGOUT, not a dropped connection
