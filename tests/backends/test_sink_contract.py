"""The contract every sink that can look back must keep: deliver once, find it again.

Run against every kind: memory, the file outbox, SMTP (STARTTLS and implicit
TLS, with copies in the Sent folder of a real IMAP server), Drafts, and notify
over the outbox and over SMTP.  Each kind that needs an IMAP server runs on
Dovecot and on Cyrus (``drafts-cyrus``...).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailflow.sinks.base import MailSink
from mailflow.sinks.factory import build_sinks
from mailflow.sinks.memory import MemorySink
from mailflow.sinks.outbox import OutboxSink
from tests import delivery_helpers as dh
from tests.rig.cyrus import IMAP_SERVERS, RigUser
from tests.rig.smtp import SmtpServer


def make_message(message_id: str, subject: str = "Thank you") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "ana@example.org"
    message["To"] = "ben@example.net"
    message["Subject"] = subject
    message["Message-ID"] = message_id
    message.set_content("Thanks for the coffee.\n")
    return message


Maker = Callable[[pytest.FixtureRequest, Path, str], MailSink]


def _user(request: pytest.FixtureRequest, imap: str) -> RigUser:
    user: RigUser = request.getfixturevalue("rig_user")(imap)
    return user


def _smtp(request: pytest.FixtureRequest, tmp_path: Path, imap: str, server_fixture: str) -> MailSink:
    user = _user(request, imap)
    server: SmtpServer = request.getfixturevalue(server_fixture)
    return build_sinks(dh.settings(tmp_path, smtp=dh.smtp_settings(server, user), mailbox=user)).send


def _drafts(request: pytest.FixtureRequest, tmp_path: Path, imap: str) -> MailSink:
    user = _user(request, imap)
    return build_sinks(dh.settings(tmp_path, drafts=dh.drafts_settings(user))).draft


def _notify_smtp(request: pytest.FixtureRequest, tmp_path: Path, imap: str) -> MailSink:
    user = _user(request, imap)
    server: SmtpServer = request.getfixturevalue("smtp_server")
    return build_sinks(dh.settings(tmp_path, smtp=dh.smtp_settings(server, user), mailbox=user)).draft


WITHOUT_IMAP: dict[str, Callable[[pytest.FixtureRequest, Path], MailSink]] = {
    "memory": lambda request, tmp_path: MemorySink(),
    "outbox": lambda request, tmp_path: OutboxSink(tmp_path / "out"),
    "notify-outbox": lambda request, tmp_path: build_sinks(dh.settings(tmp_path)).draft,
}
#: each made once per IMAP server (its Sent or Drafts folder is where ``find`` looks)
WITH_IMAP: dict[str, Maker] = {
    "smtp-starttls": lambda request, tmp_path, imap: _smtp(request, tmp_path, imap, "smtp_server"),
    "smtp-implicit-tls": lambda request, tmp_path, imap: _smtp(request, tmp_path, imap, "smtps_server"),
    "drafts": _drafts,
    "notify-smtp": _notify_smtp,
}


def _params() -> list[object]:
    plain: list[object] = list(WITHOUT_IMAP)
    return plain + [
        pytest.param(f"{kind}-{imap}", marks=getattr(pytest.mark, imap))
        for kind in WITH_IMAP
        for imap in IMAP_SERVERS
    ]


def _make(request: pytest.FixtureRequest, tmp_path: Path, param: str) -> MailSink:
    if param in WITHOUT_IMAP:
        return WITHOUT_IMAP[param](request, tmp_path)
    kind, _, imap = param.rpartition("-")
    return WITH_IMAP[kind](request, tmp_path, imap)


@pytest.fixture(params=_params())
def sink(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MailSink]:
    made = _make(request, tmp_path, request.param)
    yield made
    made.close()


def test_every_kind_is_built_as_asked(sink: MailSink, request: pytest.FixtureRequest) -> None:
    expected = request.node.callspec.params["sink"].split("-")[0]
    assert sink.kind == expected


def test_delivered_message_is_found(sink: MailSink) -> None:
    receipt = sink.deliver(make_message("<a1@mailflow.test>"))
    assert receipt.message_id == "<a1@mailflow.test>"
    assert sink.find("<a1@mailflow.test>") is True
    assert sink.find("<other@mailflow.test>") is False


def test_messages_are_told_apart_and_found_on_a_new_connection(sink: MailSink) -> None:
    sink.deliver(make_message("<d1@mailflow.test>", "first"))
    sink.deliver(make_message("<d2@mailflow.test>", "second"))
    sink.close()  # a crash drops every connection: find must open its own
    assert sink.find("<d1@mailflow.test>") is True
    assert sink.find("<d2@mailflow.test>") is True
    assert sink.find("<d1@mailflow.tes>") is False  # the whole Message-ID, not a part of it


def test_message_without_id_is_refused(sink: MailSink) -> None:
    message = make_message("<x@y>")
    del message["Message-ID"]
    with pytest.raises(ValueError, match="Message-ID"):
        sink.deliver(message)


def test_outbox_writes_whole_files_once(tmp_path: Path) -> None:
    outbox = OutboxSink(tmp_path / "out")
    first = outbox.deliver(make_message("<b2@mailflow.test>"))
    again = outbox.deliver(make_message("<b2@mailflow.test>"))
    files = sorted((tmp_path / "out").iterdir())
    assert [f.suffix for f in files] == [".eml"]
    assert again.where == first.where
    assert b"Message-ID: <b2@mailflow.test>" in files[0].read_bytes()
    assert b"\r\n" in files[0].read_bytes()


def test_outbox_unwritable_folder_is_a_permanent_error(tmp_path: Path) -> None:
    from mailflow.errors import PermanentError

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(PermanentError, match="cannot write to the outbox folder"):
        OutboxSink(blocker / "out").deliver(make_message("<c3@mailflow.test>"))
