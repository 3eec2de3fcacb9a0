"""The one outcome a sink cannot turn into "delivered" or "not delivered"."""

from __future__ import annotations

from mailflow.errors import BackendError


class DeliveryUncertain(BackendError):
    """The message may or may not have been accepted: never send it again blindly.

    Raised when the connection broke after the whole message had gone out
    (SMTP: after the final "." of DATA, before the reply; IMAP: during an
    APPEND, when a fresh look cannot tell either).  The dispatcher marks the
    step ``uncertain``; only ``mailflow retry`` sends it again.
    """
