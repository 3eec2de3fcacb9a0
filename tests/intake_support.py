"""Shared by the intake tests: settings for the owner of tests/fixtures/mail, and sample mail.

The fixtures under tests/fixtures/mail belong to Ana (ana@owner.example), whose
messages are authenticated by mx.owner.example; the dedicated mailbox is
mailflow@owner.example.  The small messages built here are our own.
"""

from __future__ import annotations

import itertools
import re
import time
from pathlib import Path
from typing import Any

from imapclient import IMAPClient

from mailflow.config import MailboxSettings, Settings
from mailflow.store import Store
from tests.rig.dovecot import ImapUser

MAIL = Path(__file__).resolve().parent / "fixtures" / "mail"
OWNER = "ana@owner.example"
AUTHSERV = "mx.owner.example"
MAILBOX = "mailflow@owner.example"
FOLDER = "Meetings"

_count = itertools.count(1)


def fixture(name: str) -> bytes:
    return (MAIL / name).read_bytes()


def settings(tmp_path: Path, **mailbox: Any) -> Settings:
    """Ana's settings, data and database under ``tmp_path``; ``mailbox`` as given."""
    return Settings(
        owner={"addresses": [OWNER], "timezone": "Europe/Berlin"},
        trust={"authserv_id": AUTHSERV},
        sending={"message_id_domain": "mailflow.owner.example"},
        data={"folder": str(tmp_path / "data")},
        mailbox={"username": MAILBOX, **mailbox},
    )


def imap_mailbox(user: ImapUser, folder: str = FOLDER, **extra: Any) -> MailboxSettings:
    """``[mailbox]`` for a rig user over verified IMAPS."""
    return MailboxSettings(
        kind="imap",
        host=user.host,
        port=user.imaps_port,
        security="tls",
        ca_file=user.ca_file,
        username=user.name,
        password=user.password,
        folder=folder,
        **extra,
    )


def imap_settings(tmp_path: Path, user: ImapUser, folder: str = FOLDER, **extra: Any) -> Settings:
    base = settings(tmp_path)
    return base.model_copy(update={"mailbox": imap_mailbox(user, folder, **extra)})


def open_store(config: Settings) -> Store:
    return Store.open(config.database_url())


def with_message_id(raw: bytes, message_id: str) -> bytes:
    """``raw`` with its Message-ID header replaced (another copy or forward of the same mail)."""
    changed, count = re.subn(
        rb"(?im)^Message-ID:[^\r\n]*", b"Message-ID: " + message_id.encode(), raw, count=1
    )
    assert count == 1, "the message has no Message-ID header to replace"
    return changed


def without_message_id(raw: bytes) -> bytes:
    return re.sub(rb"(?im)^Message-ID:[^\r\n]*\r?\n", b"", raw, count=1)


def plain(
    sender: str = "someone@news.example", subject: str = "Hello", body: str = "Just saying hi.\n"
) -> bytes:
    number = next(_count)
    return (
        f"From: Someone <{sender}>\r\nTo: {MAILBOX}\r\nSubject: {subject}\r\n"
        f"Message-ID: <plain-{number}-{time.time_ns()}@test.example>\r\n"
        f"Date: Mon, 03 Mar 2025 10:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}"
    ).encode()


def with_ics_attachment(message_id: str = "") -> bytes:
    """A stranger's mail carrying an .ics file as application/octet-stream."""
    message_id = message_id or f"<ics-{next(_count)}@test.example>"
    return (
        f"From: Kim <kim@stranger.example>\r\nTo: {MAILBOX}\r\nSubject: see attached\r\nMessage-ID: {message_id}\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n'
        "--b1\r\nContent-Type: text/plain\r\n\r\nhere\r\n"
        '--b1\r\nContent-Type: application/octet-stream; name="meeting.ics"\r\n'
        'Content-Disposition: attachment; filename="meeting.ics"\r\n\r\nBEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n--b1--\r\n'
    ).encode()


def forwarded_as_attachment() -> bytes:
    return (
        f"From: Lee <lee@stranger.example>\r\nTo: {MAILBOX}\r\nSubject: Fwd: hi\r\n"
        f"Message-ID: <fwd-{next(_count)}@test.example>\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b2"\r\n\r\n'
        "--b2\r\nContent-Type: text/plain\r\n\r\nsee below\r\n"
        "--b2\r\nContent-Type: message/rfc822\r\n\r\nFrom: x@y.example\r\nSubject: inner\r\n\r\ninner body\r\n--b2--\r\n"
    ).encode()


def corrupt(number: int = 1) -> bytes:
    """A message whose first header line is binary junk: IMAP servers still find its From
    (the owner's, so it is picked), but no mail parser finds any header after the junk."""
    return (
        b"\x00\x9f corrupted block <<<\r\nFrom: Ana Owner <ana@owner.example>\r\nSubject: notes\r\n"
        + f"Message-ID: <broken-{number}@owner.example>\r\n\r\nbody\r\n".encode()
    )


def folder_flags(user: ImapUser, folder: str = FOLDER) -> dict[int, tuple[bytes, ...]]:
    client: IMAPClient = user.connect()
    try:
        client.select_folder(folder, readonly=True)
        uids = client.search(["ALL"])
        flags = client.get_flags(uids) if uids else {}
        # \Recent belongs to the session, not to the message
        return {uid: tuple(f for f in found if f != b"\\Recent") for uid, found in flags.items()}
    finally:
        client.logout()


def recreate_folder(user: ImapUser, folder: str = FOLDER) -> list[bytes]:
    """Delete ``folder`` and create it again with the same messages (a new UIDVALIDITY)."""
    client: IMAPClient = user.connect()
    try:
        client.select_folder(folder, readonly=True)
        uids = client.search(["ALL"])
        fetched = client.fetch(uids, ["BODY.PEEK[]"]) if uids else {}
        messages = [fetched[uid][b"BODY[]"] for uid in sorted(fetched)]
        client.unselect_folder()
        client.delete_folder(folder)
        client.create_folder(folder)
        for raw in messages:
            client.append(folder, raw)
    finally:
        client.logout()
    return messages


def create_folder(user: ImapUser, folder: str = FOLDER) -> None:
    client: IMAPClient = user.connect()
    try:
        if not client.folder_exists(folder):
            client.create_folder(folder)
    finally:
        client.logout()


def write_maildir_message(directory: Path, raw: bytes, *, sub: str = "new", info: str = "") -> Path:
    """Deliver like an MDA: write in tmp/, then rename into new/ (or cur/ with ``:2,`` info)."""
    for name in ("cur", "new", "tmp"):
        (directory / name).mkdir(parents=True, exist_ok=True)
    unique = f"{time.time_ns()}.M{next(_count)}P1.test"
    temporary = directory / "tmp" / unique
    temporary.write_bytes(raw)
    target = directory / sub / (unique + (f":2,{info}" if sub == "cur" else ""))
    temporary.rename(target)
    return target
