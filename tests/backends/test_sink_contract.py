"""The contract every sink that can look back must keep: deliver once, find it again."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailflow.sinks.base import MailSink
from mailflow.sinks.memory import MemorySink
from mailflow.sinks.outbox import OutboxSink


def make_message(message_id: str, subject: str = "Thank you") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "ana@example.org"
    message["To"] = "ben@example.net"
    message["Subject"] = subject
    message["Message-ID"] = message_id
    message.set_content("Thanks for the coffee.\n")
    return message


@pytest.fixture(params=["memory", "outbox"])
def sink(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MailSink]:
    made: MailSink = MemorySink() if request.param == "memory" else OutboxSink(tmp_path / "out")
    yield made
    made.close()


def test_delivered_message_is_found(sink: MailSink) -> None:
    receipt = sink.deliver(make_message("<a1@mailflow.test>"))
    assert receipt.message_id == "<a1@mailflow.test>"
    assert sink.find("<a1@mailflow.test>") is True
    assert sink.find("<other@mailflow.test>") is False


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
