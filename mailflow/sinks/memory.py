"""An in-memory sink, shipped so that tests (ours and users') need no server."""

from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage

from mailflow.model import Receipt
from mailflow.sinks.base import MailSink, message_id_of


class MemorySink(MailSink):
    """Keeps every delivered message; ``fail`` may raise to simulate a server."""

    kind = "memory"

    def __init__(self, fail: Callable[[EmailMessage], None] | None = None) -> None:
        self.delivered: list[EmailMessage] = []
        self.fail = fail

    def deliver(self, message: EmailMessage) -> Receipt:
        message_id = message_id_of(message)
        if self.fail is not None:
            self.fail(message)
        self.delivered.append(message)
        return Receipt(message_id, "memory")

    def find(self, message_id: str) -> bool:
        return any(str(m.get("Message-ID", "")).strip() == message_id for m in self.delivered)
