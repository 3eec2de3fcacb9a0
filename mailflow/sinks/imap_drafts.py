"""The Drafts sink: the mail goes into the owner's Drafts folder, ready to read, edit and send.

``[drafts]`` is the owner's own account.  The folder is ``[drafts] folder``
when set, else the one flagged SPECIAL-USE ``\\Drafts``, else a usual name
(Drafts, INBOX.Drafts, [Gmail]/Drafts, Entwürfe, Brouillons...).  The
message is appended with the ``\\Draft`` flag; it already carries
In-Reply-To/References, so the owner's mail program threads it like a reply.
"""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import parsedate_to_datetime

from mailflow.config import DraftsSettings
from mailflow.errors import MailflowError, TransientError
from mailflow.model import Receipt
from mailflow.sinks.base import MailSink, message_id_of
from mailflow.sinks.imap_folder import ImapFolder
from mailflow.sinks.uncertain import DeliveryUncertain

DRAFT_FLAGS = ("\\Draft",)


class ImapDraftsSink(MailSink):
    """APPENDs each message to the Drafts folder of the ``[drafts]`` account."""

    kind = "drafts"

    def __init__(self, settings: DraftsSettings, section: str = "drafts") -> None:
        self.folder = ImapFolder(settings, section, "\\Drafts", settings.folder)

    def deliver(self, message: EmailMessage) -> Receipt:
        message_id = message_id_of(message)
        try:
            self.folder.append(message.as_bytes(policy=SMTP), DRAFT_FLAGS, _date_of(message))
        except DeliveryUncertain as broken:
            return self._after_broken_append(message_id, broken)
        return Receipt(message_id, self.folder.where)

    def _after_broken_append(self, message_id: str, broken: DeliveryUncertain) -> Receipt:
        """Look on a fresh connection: there (delivered), not there (retry later), or cannot tell."""
        try:
            found = self.folder.contains(message_id)
        except MailflowError:  # cannot look (even a password_command that fails now): cannot tell
            raise broken from None
        if found:
            return Receipt(message_id, self.folder.where, "stored although the connection broke")
        if found is None:
            raise broken
        raise TransientError(str(broken), backend=broken.backend, hint="it is tried again later")

    def find(self, message_id: str) -> bool | None:
        return self.folder.contains(message_id)

    def close(self) -> None:
        self.folder.close()


def _date_of(message: EmailMessage) -> datetime | None:
    """The Date header as the APPEND's internal date (None: the server's now)."""
    value = message.get("Date")
    if not value:
        return None
    try:
        return parsedate_to_datetime(str(value))
    except (TypeError, ValueError):
        return None
