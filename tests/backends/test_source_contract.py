"""The contract every ``MailSource`` keeps: new mail in order, once, read without changing it.

Run against the in-memory twin, a Maildir on disk, and over IMAPS a real Dovecot and a real Cyrus.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest

from mailflow.sources import MailSource, UidCursor
from mailflow.sources.imap import ImapSource
from mailflow.sources.maildir import MaildirSource
from mailflow.sources.memory import MemorySource
from tests import intake_support as support
from tests.rig.cyrus import IMAP_SERVERS, RigUser


@dataclass
class Harness:
    source: MailSource
    deliver: Callable[[bytes], None]
    untouched: Callable[[], bool]  # nothing was marked, renamed or moved


def _memory(request: pytest.FixtureRequest, tmp_path: Path) -> Harness:
    source = MemorySource()
    delivered: list[bytes] = []

    def deliver(raw: bytes) -> None:
        delivered.append(raw)
        source.add(raw)

    def untouched() -> bool:
        items, _cursor = source.poll(None, limit=10_000)
        return [source.fetch(i.ref) for i in items] == delivered

    return Harness(source, deliver, untouched)


def _maildir(request: pytest.FixtureRequest, tmp_path: Path) -> Harness:
    directory = tmp_path / "Maildir"
    for name in ("cur", "new", "tmp"):
        (directory / name).mkdir(parents=True)
    delivered: list[Path] = []
    source = MaildirSource(directory, state_dir=tmp_path / "state", poll_every=0.05)
    return Harness(
        source,
        lambda raw: delivered.append(support.write_maildir_message(directory, raw)),
        lambda: all(path.exists() for path in delivered) and not any((directory / "cur").iterdir()),
    )


def _imap(request: pytest.FixtureRequest, tmp_path: Path, server: str) -> Harness:
    user: RigUser = request.getfixturevalue("rig_user")(server)
    support.create_folder(user)
    source = ImapSource(support.imap_mailbox(user), retry_for=5.0)

    def deliver(raw: bytes) -> None:
        user.append(support.FOLDER, raw)

    return Harness(
        source,
        deliver,
        lambda: all(b"\\Seen" not in flags for flags in support.folder_flags(user).values()),
    )


MAKERS: dict[str, Callable[[pytest.FixtureRequest, Path], Harness]] = {
    "memory": _memory,
    "maildir": _maildir,
    **{f"imap-{server}": partial(_imap, server=server) for server in IMAP_SERVERS},
}


def _param(kind: str) -> object:
    server = kind.partition("imap-")[2]
    return pytest.param(kind, marks=getattr(pytest.mark, server)) if server else kind


@pytest.fixture(params=[_param(kind) for kind in MAKERS])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    made = MAKERS[request.param](request, tmp_path)
    yield made
    made.source.close()


def _drain(source: MailSource, cursor: str | None, limit: int = 500) -> tuple[list[int], str]:
    uids: list[int] = []
    while True:
        items, cursor = source.poll(cursor, limit=limit)
        if not items:
            return uids, cursor
        uids += [item.ref.uid for item in items]


def test_an_empty_folder_has_nothing_new(harness: Harness) -> None:
    items, cursor = harness.source.poll(None)
    assert items == []
    assert harness.source.poll(cursor)[0] == []
    assert UidCursor.parse(cursor) is not None


def test_new_mail_comes_in_order_in_pages(harness: Harness) -> None:
    sent = [support.plain(subject=f"note {n}") for n in range(5)]
    for raw in sent:
        harness.deliver(raw)
    first, cursor = harness.source.poll(None, limit=2)
    assert [i.subject for i in first] == ["note 0", "note 1"]
    assert harness.source.backlog() == 3
    second, cursor = harness.source.poll(cursor, limit=2)
    third, cursor = harness.source.poll(cursor, limit=2)
    assert [i.subject for i in second + third] == ["note 2", "note 3", "note 4"]
    assert harness.source.poll(cursor)[0] == []
    uids = [i.ref.uid for i in first + second + third]
    assert uids == sorted(set(uids))
    assert first[0].sender == "someone@news.example"
    assert first[0].message_id.startswith("<plain-") and first[0].message_id.endswith("@test.example>")


def test_only_mail_after_the_cursor_is_new(harness: Harness) -> None:
    harness.deliver(support.plain(subject="old"))
    _uids, cursor = _drain(harness.source, None)
    # IMAP's `UID n:*` always matches the last message: it must not come back
    assert harness.source.poll(cursor)[0] == []
    harness.deliver(support.plain(subject="new"))
    items, cursor = harness.source.poll(cursor)
    assert [i.subject for i in items] == ["new"]
    assert harness.source.poll(cursor)[0] == []


def test_fetch_returns_the_whole_message(harness: Harness) -> None:
    raw = support.fixture("google_invite.eml")
    harness.deliver(support.plain())
    harness.deliver(raw)
    items, _cursor = harness.source.poll(None)
    fetched = dict(harness.source.fetch_many([items[1].ref, items[0].ref]))
    assert _lf(fetched[items[1].ref]) == _lf(raw)
    assert _lf(harness.source.fetch(items[1].ref)) == _lf(raw)
    assert set(fetched) == {items[0].ref, items[1].ref}


def test_the_first_look_names_calendar_data_and_attached_messages(harness: Harness) -> None:
    for raw in (
        support.plain(),
        support.fixture("google_invite.eml"),
        support.with_ics_attachment(),
        support.forwarded_as_attachment(),
    ):
        harness.deliver(raw)
    items, _cursor = harness.source.poll(None)
    assert [(i.calendar, i.attached_message) for i in items] == [
        (False, False),
        (True, False),
        (True, False),
        (False, True),
    ]
    assert items[1].size > 1000


def test_a_cursor_of_another_uidvalidity_reads_everything_again(harness: Harness) -> None:
    for n in range(3):
        harness.deliver(support.plain(subject=f"m{n}"))
    uids, cursor = _drain(harness.source, None)
    parsed = UidCursor.parse(cursor)
    assert parsed is not None
    stale = str(UidCursor(parsed.uidvalidity + 1000, parsed.uid))
    again, _cursor = _drain(harness.source, stale)
    assert again == uids


def test_an_unreadable_cursor_starts_over(harness: Harness) -> None:
    harness.deliver(support.plain())
    items, _cursor = harness.source.poll("not a cursor")
    assert len(items) == 1


def test_wait_returns_false_when_nothing_arrives(harness: Harness) -> None:
    _drain(harness.source, None)
    started = time.monotonic()
    assert harness.source.wait(0.4) is False
    assert time.monotonic() - started >= 0.3


def test_wait_wakes_up_for_new_mail(harness: Harness) -> None:
    _uids, cursor = _drain(harness.source, None)
    timer = threading.Timer(0.3, harness.deliver, [support.plain(subject="late")])
    timer.start()
    try:
        deadline = time.monotonic() + 15
        woke = False
        while not woke and time.monotonic() < deadline:
            woke = harness.source.wait(1.0)
    finally:
        timer.join()
    assert woke
    items, _cursor = harness.source.poll(cursor)
    assert [i.subject for i in items] == ["late"]


def test_reading_changes_nothing_in_the_folder(harness: Harness) -> None:
    harness.deliver(support.fixture("google_invite.eml"))
    harness.deliver(support.plain())
    items, _cursor = harness.source.poll(None)
    list(harness.source.fetch_many([i.ref for i in items]))
    harness.source.mark_done([i.ref for i in items])  # nothing configured: no keyword, no move
    assert harness.untouched()


def _lf(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n")
