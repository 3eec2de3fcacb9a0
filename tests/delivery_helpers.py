"""Shared by the delivery tests: settings for the live rig, and a meeting with steps in a store."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from mailflow import clock
from mailflow.config import DraftsSettings, Settings, SmtpSettings
from mailflow.engine.dispatch import Dispatcher
from mailflow.sinks.factory import build_sinks
from mailflow.store import MeetingData, MessageData, StepRow, Store
from tests.rig.dovecot import ImapUser
from tests.rig.smtp import SmtpServer

#: a Tuesday, 10:00 UTC: inside the default send window in the owner's zone (UTC)
T0 = datetime(2025, 3, 11, 10, 0, tzinfo=UTC)
OWNER = "ana@example.org"
CONTACT = "ben@example.net"
SOURCE_ID = "<invite-1@calendar.example.net>"


def message(message_id: str, subject: str = "Thank you", to: str = CONTACT) -> EmailMessage:
    made = EmailMessage()
    made["From"] = f"Ana <{OWNER}>"
    made["To"] = to
    made["Subject"] = subject
    made["Message-ID"] = message_id
    made["In-Reply-To"] = SOURCE_ID
    made["References"] = SOURCE_ID
    made.set_content("Thanks for the coffee.\n")
    return made


def smtp_settings(server: SmtpServer, user: ImapUser | None = None, **changes: Any) -> SmtpSettings:
    """[smtp] for the rig server; logged in as ``user`` (so "auto" finds its Sent) or as alice."""
    values: dict[str, Any] = {
        "host": server.host,
        "port": server.port,
        "security": server.security,
        "ca_file": server.ca_file,
        "username": user.name if user else "alice",
        "password": user.password if user else "secret1",
        "from_address": OWNER,
        "timeout": 5,
    }
    values.update(changes)
    return SmtpSettings(**values)


def imap_values(user: ImapUser) -> dict[str, Any]:
    return {
        "host": user.host,
        "port": user.imaps_port,
        "security": "tls",
        "ca_file": user.ca_file,
        "username": user.name,
        "password": user.password,
        "timeout": 5,
    }


def drafts_settings(user: ImapUser, **changes: Any) -> DraftsSettings:
    return DraftsSettings(**{**imap_values(user), **changes})


def settings(
    tmp_path: Path,
    *,
    smtp: SmtpSettings | None = None,
    drafts: DraftsSettings | None = None,
    mailbox: ImapUser | None = None,
    **sending: Any,
) -> Settings:
    """Settings for the delivery tests; ``mailbox`` makes [mailbox] that user's IMAP account."""
    values: dict[str, Any] = {
        "owner": {"name": "Ana Pérez", "addresses": [OWNER], "timezone": "UTC"},
        "data": {"folder": tmp_path / "data"},
        "outbox": {"folder": tmp_path / "outbox"},
        "sending": {"per_hour": 60, "per_day": 400, **sending},
    }
    if mailbox is not None:
        values["mailbox"] = {"kind": "imap", **imap_values(mailbox)}
    if smtp is not None:
        values["smtp"] = smtp
    if drafts is not None:
        values["drafts"] = drafts
    return Settings(**values)


def seed_meeting(
    store: Store,
    steps: Iterable[tuple[str, str]],
    *,
    uid: str = "meeting-1@example.net",
    contact: str = CONTACT,
    name: str = "Ben Li",
    trusted: bool = True,
    do_not_contact: bool = False,
    due: datetime = T0 - timedelta(minutes=5),
    start: datetime = T0 - timedelta(hours=3),
) -> tuple[int, dict[str, int]]:
    """A meeting with ``contact`` that ended before T0, and ``steps`` [(name, mode)] pending, due at ``due``."""
    with store.transaction() as tx:
        person = tx.upsert_contact(contact, name)
        if do_not_contact:
            tx.set_do_not_contact(person.id, "asked to stop")
        meeting, _ = tx.upsert_meeting(
            MeetingData(
                ical_uid=uid,
                start_at=start,
                end_at=start + timedelta(hours=1),
                summary="Coffee with Ben",
                counterpart_id=person.id,
                trusted=trusted,
                source_message_id=SOURCE_ID,
            )
        )
        tx.record_message(
            MessageData(
                ref=None, direction="in", message_id=SOURCE_ID, subject="Coffee next week?", sender=contact
            )
        )
        tx.add_note(meeting.id, "- Learn SQL before applying\n- Talk to Priya about the data team")
        ids = {}
        for step, mode in steps:
            row, _ = tx.plan_step(meeting.id, step, 0, due, mode)
            ids[step] = row.id
    return meeting.id, ids


def step_states(store: Store) -> dict[int, tuple[str, str | None]]:
    with store.read() as tx:
        rows = [s for state in ("pending", "sending", "sent", "failed", "uncertain", "skipped", "cancelled")
                for s in tx.steps_in_state(state)]  # fmt: skip
    return {row.id: (row.state, row.message_id) for row in rows}


def open_store(tmp_path: Path) -> Iterator[Store]:
    """A migrated SQLite store in ``tmp_path``, with the clock at T0 (both undone afterwards)."""
    clock.set_now(T0)
    store = Store.open(f"sqlite:///{tmp_path / 'mailflow.db'}")
    try:
        yield store
    finally:
        store.close()
        clock.set_now(None)


def dispatcher(store: Store, config: Settings, **options: Any) -> Dispatcher:
    return Dispatcher(store, build_sinks(config), config, **options)


def step_row(store: Store, step_id: int) -> StepRow:
    with store.read() as tx:
        row = tx.get_step(step_id)
    assert row is not None
    return row


def folder_messages(user: ImapUser, folder: str) -> list[tuple[EmailMessage, set[bytes]]]:
    """Every message in ``folder`` with its flags."""
    client = user.connect()
    try:
        client.select_folder(folder, readonly=True)
        uids = client.search("ALL")
        fetched = client.fetch(uids, ["FLAGS", "BODY.PEEK[]"]) if uids else {}
    finally:
        client.logout()
    found = []
    for data in fetched.values():
        parsed = email.message_from_bytes(data[b"BODY[]"], policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        found.append((parsed, set(data[b"FLAGS"])))
    return found
