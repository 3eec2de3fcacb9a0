"""Which sink each step goes to, and which account's Sent folder holds copies (no I/O)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mailflow.config import Settings
from mailflow.engine.delivery_rules import backoff
from mailflow.errors import ConfigError
from mailflow.sinks.factory import build_sinks, sent_copy_account
from mailflow.sinks.imap_drafts import ImapDraftsSink
from mailflow.sinks.notify import NotifySink, notice_id
from mailflow.sinks.outbox import OutboxSink
from mailflow.sinks.smtp import SmtpSink

LOGIN = {"host": "mail.example.org", "username": "ana@example.org", "password": "x"}


def _settings(tmp_path: Path, **sections: Any) -> Settings:
    return Settings(owner={"addresses": ["ana@example.org"]}, outbox={"folder": tmp_path / "out"}, **sections)


def test_without_servers_mail_goes_to_the_outbox_and_drafts_are_mailed_to_the_owner(tmp_path: Path) -> None:
    sinks = build_sinks(_settings(tmp_path))
    assert isinstance(sinks.send, OutboxSink) and sinks.send.folder == tmp_path / "out"
    assert (
        isinstance(sinks.draft, NotifySink)
        and sinks.draft is sinks.notify
        and sinks.notify.send is sinks.send
    )
    assert [s.kind for s in sinks.distinct()] == ["outbox", "notify"]
    assert sinks.for_step("thank_you", "draft").kind == "notify"
    assert sinks.for_step("homework_brief", "draft").kind == "outbox"  # owner mail: no notice about a notice
    assert sinks.for_step("summary_prompt", "notify").kind == "outbox"


def test_with_smtp_and_drafts_each_mode_has_its_sink(tmp_path: Path) -> None:
    sinks = build_sinks(_settings(tmp_path, smtp=LOGIN, drafts=LOGIN))
    assert isinstance(sinks.send, SmtpSink) and isinstance(sinks.draft, ImapDraftsSink)
    table = {(step, mode): sinks.for_step(step, mode).kind for step in ("thank_you", "take_action")
             for mode in ("send", "draft", "notify")}  # fmt: skip
    assert table == {
        ("thank_you", "send"): "smtp", ("thank_you", "draft"): "drafts", ("thank_you", "notify"): "notify",
        ("take_action", "send"): "smtp", ("take_action", "draft"): "drafts", ("take_action", "notify"): "smtp",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("sent_copy", "mailbox_user", "drafts_user", "expected"),
    [
        ("auto", "ana@example.org", None, "mailbox"),
        ("auto", "ana@example.org", "ana@example.org", "drafts"),  # the owner's own account first
        ("auto", "mailflow@example.org", "someone@example.org", None),
        ("none", "ana@example.org", "ana@example.org", None),
        ("mailbox", "mailflow@example.org", None, "mailbox"),
        ("drafts", "mailflow@example.org", "other@example.org", "drafts"),
    ],
)
def test_the_sent_copy_account(
    tmp_path: Path, sent_copy: str, mailbox_user: str, drafts_user: str | None, expected: str | None
) -> None:
    sections: dict[str, Any] = {
        "smtp": {**LOGIN, "sent_copy": sent_copy},
        "mailbox": {**LOGIN, "kind": "imap", "username": mailbox_user},
    }
    if drafts_user:
        sections["drafts"] = {**LOGIN, "username": drafts_user}
    found = sent_copy_account(_settings(tmp_path, **sections))
    assert (found[0] if found else None) == expected


def test_a_sent_copy_account_that_is_not_imap_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r'smtp\.sent_copy: "mailbox" names no IMAP account'):
        build_sinks(_settings(tmp_path, smtp={**LOGIN, "sent_copy": "mailbox"}))


def test_gmail_files_its_own_copies_so_mailflow_only_looks(tmp_path: Path) -> None:
    gmail = {**LOGIN, "host": "smtp.gmail.com"}
    own = build_sinks(_settings(tmp_path, smtp=gmail, mailbox={**LOGIN, "kind": "imap"})).send
    assert isinstance(own, SmtpSink) and own.copies is not None and not own.append_copies
    other = build_sinks(_settings(tmp_path, smtp=LOGIN, mailbox={**LOGIN, "kind": "imap"})).send
    assert isinstance(other, SmtpSink) and other.append_copies


def test_plain_smtp_only_to_loopback(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="only allowed to a loopback address"):
        build_sinks(_settings(tmp_path, smtp={**LOGIN, "security": "none"}))
    build_sinks(_settings(tmp_path, smtp={**LOGIN, "host": "127.0.0.1", "security": "none"}))


def test_backoff_doubles_and_is_capped() -> None:
    assert [int(backoff(n).total_seconds() // 60) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert backoff(1000).total_seconds() == 3600


def test_a_notice_id_is_derived_from_the_draft_id() -> None:
    assert notice_id("<mailflow.1.ab@example.org>") == "<notify.mailflow.1.ab@example.org>"
