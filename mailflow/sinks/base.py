"""The ``MailSink`` seam: one method to deliver a finished message.

Scheduling, retries and the outbox guarantee live in the store and the engine,
never in a sink.  A sink only delivers, and, after a crash, says whether a
copy of a message with a given Message-ID can be found where it delivers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from email.message import EmailMessage

from mailflow.model import Receipt


class MailSink(ABC):
    """Delivers finished messages somewhere."""

    #: "smtp", "drafts", "notify", "outbox" or "memory"
    kind: str = ""

    @abstractmethod
    def deliver(self, message: EmailMessage) -> Receipt:
        """Deliver ``message`` (it carries its Message-ID) or raise a BackendError.

        TransientError: worth retrying later.  PermanentError: will not work.
        """

    def find(self, message_id: str) -> bool | None:
        """Whether a copy with ``message_id`` exists where this sink delivers.

        None means this sink cannot tell (the fate stays uncertain).
        """
        return None

    def close(self) -> None:  # noqa: B027  (optional for sinks without resources)
        """Release connections."""


def message_id_of(message: EmailMessage) -> str:
    value = message.get("Message-ID")
    if not value:
        raise ValueError("a message must carry its Message-ID before delivery")
    return str(value).strip()
