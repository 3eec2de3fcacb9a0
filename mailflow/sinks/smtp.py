"""The SMTP sink: mail goes out through the owner's submission server.

The login is ``mailflow.net.smtp.connect_smtp`` (implicit TLS on 465,
STARTTLS on 587, plain only to loopback; password, password_command or
XOAUTH2; certificates verified unless ``tls_verify = false``).  Replies map
to the error tree: 4xx and network trouble -> TransientError (retried), 5xx
-> PermanentError with the server's words.  A connection that breaks after
the whole message went out, before the server's reply, is neither:
:class:`DeliveryUncertain`, so the message is never sent twice blindly.

With a Sent folder (``[smtp] sent_copy``) a copy is filed there after the
server accepted the mail, and :meth:`SmtpSink.find` looks for a Message-ID
there when a crash left a step's fate open.
"""

from __future__ import annotations

import copy
import logging
import re
import smtplib
from contextlib import suppress
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import getaddresses

from mailflow import clock
from mailflow.config import SmtpSettings
from mailflow.errors import BackendError, MailflowError, PermanentError
from mailflow.model import Receipt
from mailflow.net.smtp import close_quietly, connect_smtp, smtp_endpoint, smtp_errors
from mailflow.sinks.base import MailSink, message_id_of
from mailflow.sinks.imap_folder import ImapFolder
from mailflow.sinks.uncertain import DeliveryUncertain
from mailflow.text import one_line

log = logging.getLogger("mailflow.sinks.smtp")

Refused = dict[str, tuple[int, bytes]]
_LINE_START_DOT = re.compile(rb"(?m)^\.")


class SmtpSink(MailSink):
    """Sends through ``[smtp]``; files a copy in ``copies`` when ``append_copies``."""

    kind = "smtp"

    def __init__(
        self,
        settings: SmtpSettings,
        *,
        copies: ImapFolder | None = None,
        append_copies: bool = False,
        section: str = "smtp",
    ) -> None:
        self.settings = settings
        self.endpoint = smtp_endpoint(settings, section)  # ConfigError now, not at the first send
        self.copies = copies
        self.append_copies = append_copies and copies is not None
        self._smtp: smtplib.SMTP | None = None

    @property
    def where(self) -> str:
        return f"smtp {self.endpoint.address}"

    def deliver(self, message: EmailMessage) -> Receipt:
        message_id = message_id_of(message)
        sender, recipients = envelope_of(message, self.settings)
        data = wire_bytes(message)
        refused = self._send(sender, recipients, data)
        notes = [_refused_note(refused)] if refused else []
        if self.append_copies:
            notes.append(self._file_copy(data))
        return Receipt(message_id, self.where, "; ".join(notes))

    def find(self, message_id: str) -> bool | None:
        """True when the Sent folder holds it; None without a Sent folder to look in."""
        return None if self.copies is None else self.copies.contains(message_id)

    def close(self) -> None:
        self._drop()
        if self.copies is not None:
            self.copies.close()

    # -- the conversation ------------------------------------------------
    def _send(self, sender: str, recipients: list[str], data: bytes) -> Refused:
        smtp = self._connection()
        try:
            with smtp_errors(self.endpoint):
                refused = _envelope(smtp, sender, recipients, _mail_options(smtp, data))
                _start_data(smtp)
        except BackendError:
            self._drop()
            raise
        try:
            code, reply = _content(smtp, data)
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            raise DeliveryUncertain(
                f"the connection to the SMTP server at {self.endpoint.address} broke after the message was "
                f"sent and before the server answered ({one_line(str(exc) or type(exc).__name__, 120)})",
                hint="check whether the recipient got it, then `mailflow retry STEP` or `mailflow skip STEP`",
                backend=self.endpoint.section,
            ) from exc
        if code != 250:
            self._drop()
            with smtp_errors(self.endpoint):
                raise smtplib.SMTPDataError(code, reply)
        return refused

    def _connection(self) -> smtplib.SMTP:
        """The open connection when it still answers, else a new one."""
        if self._smtp is not None:
            try:
                if self._smtp.noop()[0] == 250:
                    return self._smtp
            except (smtplib.SMTPException, OSError):
                pass
            self._drop()
        self._smtp = connect_smtp(self.settings, self.endpoint.section)
        return self._smtp

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            close_quietly(smtp)

    def _file_copy(self, data: bytes) -> str:
        """Put a copy in Sent; the mail went out already, so a failure here is only noted."""
        assert self.copies is not None
        try:
            self.copies.append(data, ("\\Seen",), clock.now())
        except MailflowError as exc:
            log.warning("sent, but no copy could be filed in %s: %s", self.copies.where, exc)
            return f"no copy in {self.copies.where}: {one_line(str(exc), 200)}"
        return f"a copy is in {self.copies.where}"


def envelope_of(message: EmailMessage, settings: SmtpSettings) -> tuple[str, list[str]]:
    """(MAIL FROM, RCPT TO list): ``from_address`` (else From), and To, Cc, Bcc."""
    sender = settings.from_address.strip()
    if not sender:
        found = getaddresses([str(v) for v in message.get_all("From", [])])
        sender = found[0][1] if found else ""
    fields = [str(v) for name in ("To", "Cc", "Bcc") for v in message.get_all(name, [])]
    recipients = list(dict.fromkeys(address for _name, address in getaddresses(fields) if address))
    if not sender or not recipients:
        raise PermanentError(
            "the message has no sender or no recipient", backend="smtp", hint="this is a bug in mailflow"
        )
    return sender, recipients


def wire_bytes(message: EmailMessage) -> bytes:
    """The message as sent: CRLF line ends, without Bcc."""
    if "Bcc" in message:
        message = copy.deepcopy(message)
        del message["Bcc"]
    return message.as_bytes(policy=SMTP)


def _mail_options(smtp: smtplib.SMTP, data: bytes) -> list[str]:
    eight_bit = any(byte > 127 for byte in data)
    return ["BODY=8BITMIME"] if eight_bit and smtp.has_extn("8bitmime") else []


def _envelope(smtp: smtplib.SMTP, sender: str, recipients: list[str], options: list[str]) -> Refused:
    """MAIL FROM and RCPT TO, as ``smtplib.sendmail`` does; the refused recipients."""
    code, reply = smtp.mail(sender, options)
    if code != 250:
        _rset(smtp)
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    refused: Refused = {}
    for recipient in recipients:
        code, reply = smtp.rcpt(recipient)
        if code not in (250, 251):
            refused[recipient] = (code, reply)
    if len(refused) == len(recipients):
        _rset(smtp)
        raise smtplib.SMTPRecipientsRefused(refused)
    return refused


def _start_data(smtp: smtplib.SMTP) -> None:
    """DATA, up to the 354: nothing of the message has gone out yet."""
    smtp.putcmd("data")
    code, reply = smtp.getreply()
    if code != 354:
        _rset(smtp)
        raise smtplib.SMTPDataError(code, reply)


def _rset(smtp: smtplib.SMTP) -> None:
    """RSET after a refusal; a failure here must not hide the refusal itself."""
    with suppress(smtplib.SMTPException, OSError):
        smtp.rset()


def _content(smtp: smtplib.SMTP, data: bytes) -> tuple[int, bytes]:
    """The message and the final dot; from here on a broken connection leaves the fate open."""
    stuffed = _LINE_START_DOT.sub(b"..", data)
    if not stuffed.endswith(b"\r\n"):
        stuffed += b"\r\n"
    smtp.send(stuffed + b".\r\n")
    return smtp.getreply()


def _refused_note(refused: Refused) -> str:
    shown = ", ".join(
        f"{one_line(a, 80)} ({code} {one_line(r.decode('utf-8', 'replace'), 80)})"
        for a, (code, r) in refused.items()
    )
    return f"refused for {shown}"
