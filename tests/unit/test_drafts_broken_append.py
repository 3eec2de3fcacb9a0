"""A Drafts APPEND whose connection broke: look again before anything is retried (no I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pytest

from mailflow.config import DraftsSettings
from mailflow.errors import ConfigError, TransientError
from mailflow.sinks.imap_drafts import ImapDraftsSink
from mailflow.sinks.uncertain import DeliveryUncertain
from tests.delivery_helpers import message


class BrokenFolder:
    """An APPEND that always breaks; ``contains`` answers ``answer`` (or raises it)."""

    where = "Drafts on imap.example.org:993"

    def __init__(self, answer: bool | Exception | None) -> None:
        self.answer = answer

    def append(self, data: bytes, flags: Sequence[str], when: datetime | None) -> None:
        raise DeliveryUncertain("the connection broke during the APPEND", backend="drafts")

    def contains(self, message_id: str) -> bool | None:
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def _sink(answer: bool | Exception | None) -> ImapDraftsSink:
    sink = ImapDraftsSink(DraftsSettings(host="imap.example.org", username="ana", password="x"))
    sink.folder = BrokenFolder(answer)  # type: ignore[assignment]
    return sink


def test_there_after_all_is_delivered() -> None:
    receipt = _sink(True).deliver(message("<m1@mailflow.test>"))
    assert receipt.detail == "stored although the connection broke"


def test_not_there_is_safe_to_try_again() -> None:
    with pytest.raises(TransientError, match="broke during the APPEND"):
        _sink(False).deliver(message("<m2@mailflow.test>"))


@pytest.mark.parametrize(
    "answer",
    [None, TransientError("cannot reach imap.example.org:993"), ConfigError("drafts.password_command")],
)
def test_cannot_tell_is_uncertain(answer: Exception | None) -> None:
    with pytest.raises(DeliveryUncertain):
        _sink(answer).deliver(message("<m3@mailflow.test>"))
