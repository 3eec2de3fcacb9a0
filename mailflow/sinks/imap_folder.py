"""One IMAP folder (Drafts or Sent) on a connection of its own, opened when first needed.

Used by the Drafts sink (APPEND drafts) and the SMTP sink (file copies in
Sent, and find them again after a crash).  The connection is mailflow's
second one: never the mailbox connection that waits in IDLE.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from imapclient import IMAPClient

from mailflow.config import ImapAccount
from mailflow.errors import PermanentError, TransientError
from mailflow.net.imap import (
    DRAFTS_NAMES,
    SENT_NAMES,
    close_quietly,
    connect_imap,
    find_folder,
    find_special_folder,
    imap_endpoint,
    imap_errors,
    list_folders,
)
from mailflow.sinks.uncertain import DeliveryUncertain
from mailflow.text import one_line

Use = Literal["\\Drafts", "\\Sent"]
_NAMES: dict[str, tuple[str, ...]] = {"\\Drafts": DRAFTS_NAMES, "\\Sent": SENT_NAMES}
#: what a Message-ID may hold to be searched for (ours always match; anything else is not looked up)
_SEARCHABLE = re.compile(r"^<[\x21\x23-\x5b\x5d-\x7e]{1,500}>$")


class ImapFolder:
    """The ``use`` folder (or the folder named ``name``) of ``account``."""

    def __init__(self, account: ImapAccount, section: str, use: Use, name: str = "") -> None:
        self.account = account
        self.section = section
        self.use = use
        self.name = name.strip()
        self.endpoint = imap_endpoint(account, section)  # ConfigError now, not at the first send
        self._client: IMAPClient | None = None
        self._folder = ""

    @property
    def what(self) -> str:
        return "Drafts" if self.use == "\\Drafts" else "Sent"

    @property
    def where(self) -> str:
        """``Drafts on imap.example.org:993`` (the folder's real name once it is known)."""
        return f"{self._folder or self.name or self.what} on {self.endpoint.address}"

    def append(self, data: bytes, flags: Sequence[str], when: datetime | None) -> None:
        """APPEND ``data``.

        TransientError or PermanentError when the server cannot be reached or
        says no; :class:`DeliveryUncertain` when the connection broke during
        the APPEND itself, so the message may be there or not (look with
        :meth:`contains` on a fresh connection before trying again).
        """
        client, folder = self._open()
        try:
            with imap_errors(self.endpoint):
                client.append(folder, data, flags=tuple(flags), msg_time=when)
        except TransientError as exc:
            self._drop()
            raise DeliveryUncertain(
                f"the connection to {self.endpoint.address} broke during the APPEND to {folder} ({exc})",
                backend=self.section,
            ) from exc

    def contains(self, message_id: str) -> bool | None:
        """Whether a message with this Message-ID header is in the folder (UID SEARCH HEADER).

        None when the Message-ID cannot be searched for safely.
        """
        if not _SEARCHABLE.match(message_id):
            return None
        client, folder = self._open()
        try:
            with imap_errors(self.endpoint):
                client.select_folder(folder, readonly=True)
                found = client.search(["HEADER", "Message-ID", message_id])
        except TransientError:
            self._drop()
            raise
        return bool(found)

    def close(self) -> None:
        self._drop()

    def _open(self) -> tuple[IMAPClient, str]:
        if self._client is None:
            client = connect_imap(self.account, self.section)
            try:
                self._folder = self._find(client)
            except BaseException:
                close_quietly(client)
                raise
            self._client = client
        return self._client, self._folder

    def _find(self, client: IMAPClient) -> str:
        with imap_errors(self.endpoint):
            folders = list_folders(client)
        if self.name:
            found = find_folder(folders, self.name)
        else:
            found = find_special_folder(folders, self.use, _NAMES[self.use])
        if found is None:
            wanted = (
                f'"{one_line(self.name, 80)}"' if self.name else f"{self.what} ({self.use} or a usual name)"
            )
            raise PermanentError(
                f"the {self.section} account at {self.endpoint.address} has no folder {wanted}",
                hint=f"set [{self.section}] folder to an existing folder, or create it in your mail program"
                if self.use == "\\Drafts"
                else 'create a Sent folder, or set [smtp] sent_copy = "none"',
                backend=self.section,
            )
        return found.name

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            close_quietly(client)
