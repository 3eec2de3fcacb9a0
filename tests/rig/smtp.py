"""A real SMTP server for the tests: aiosmtpd on loopback, with AUTH and TLS.

``SmtpServer(certificate)`` offers STARTTLS (AUTH only after it);
``SmtpServer(certificate, implicit_tls=True)`` is SMTPS.  It records every
message it accepts (envelope + bytes), can hand each one to a Dovecot
mailbox (``deliver_to``), and can be told to refuse the next N messages with
a 4xx/5xx reply (``fail_next``) for delivery tests.

The credentials are the Dovecot rig's: any ``test-*`` user with
``test-password``, ``alice``/``secret1``, ``bob``/``secret2``; XOAUTH2 is
accepted with a token registered by ``add_oauth2_token``.
"""

from __future__ import annotations

import base64
import email
import email.policy
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.rig.dovecot import FIXED_USERS, TEST_PASSWORD, Dovecot
from tests.rig.tools import HOST, Certificate, RigError, free_port

Stage = Literal["mail", "rcpt", "data"]
DeliverVia = Literal["lda", "imap"]

warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS", UserWarning)


def rig_credentials(user: str, password: str) -> bool:
    """The rig's users, the same as Dovecot's."""
    if user.startswith("test-"):
        return password == TEST_PASSWORD
    return FIXED_USERS.get(user) == password


@dataclass(frozen=True)
class ReceivedMessage:
    """One accepted message: the envelope as sent, the bytes as received."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    auth_user: str | None
    tls: bool

    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class _Failure:
    remaining: int
    code: int
    text: str
    stage: Stage


@dataclass
class _Handler:
    """aiosmtpd's handler: hooks are looked up by name (``handle_*``, ``auth_*``)."""

    server: SmtpServer
    oauth2_tokens: dict[str, str] = field(default_factory=dict)

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        refusal = self.server._take_failure("mail")
        if refusal:
            return refusal
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        refusal = self.server._take_failure("rcpt")
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        refusal = self.server._take_failure("data")
        if refusal:
            return refusal
        data = envelope.original_content or b""
        received = ReceivedMessage(
            mail_from=envelope.mail_from or "",
            rcpt_tos=tuple(envelope.rcpt_tos),
            data=data,
            auth_user=_auth_user(session),
            tls=self.server.implicit_tls or session.ssl is not None,
        )
        try:
            self.server._deliver(received)
        except Exception:  # any rig failure becomes a reply: an exception here would hang the client
            return "451 4.3.0 delivery into the Dovecot mailbox failed (see the rig's log)"
        self.server._record(received)
        return "250 OK: queued"

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        blob: Any = base64.b64decode(args[1]) if len(args) > 1 else await server.challenge_auth("")
        if not isinstance(blob, bytes):
            return AuthResult(success=False, handled=False)
        fields = dict(
            part.split("=", 1) for part in blob.decode(errors="replace").split("\x01") if "=" in part
        )
        user, token = fields.get("user", ""), fields.get("auth", "").removeprefix("Bearer ")
        if token and self.oauth2_tokens.get(user) == token:
            return AuthResult(success=True, auth_data=user)
        return AuthResult(success=False, handled=False)


def _auth_user(session: Session) -> str | None:
    data = session.auth_data
    if isinstance(data, LoginPassword):
        return data.login.decode("utf-8", "replace")
    return None if data is None else str(data)


class SmtpServer:
    """One aiosmtpd server on 127.0.0.1; ``start()``/``stop()``, ``reset()`` between tests."""

    host = HOST

    def __init__(
        self,
        certificate: Certificate,
        *,
        implicit_tls: bool = False,
        auth_required: bool = True,
        credentials: Callable[[str, str], bool] = rig_credentials,
    ) -> None:
        self.certificate = certificate
        self.implicit_tls = implicit_tls
        self.auth_required = auth_required
        self.credentials = credentials
        self.port = 0
        self._handler = _Handler(self)
        self._lock = threading.Lock()
        self._messages: list[ReceivedMessage] = []
        self._failures: list[_Failure] = []
        self._dovecot: Dovecot | None = None
        self._via: DeliverVia = "lda"
        self._controller: Controller | None = None

    @property
    def ca_file(self) -> Path:
        return self.certificate.ca_file

    @property
    def security(self) -> str:
        """The matching ``[smtp] security`` value."""
        return "tls" if self.implicit_tls else "starttls"

    # -- lifecycle --------------------------------------------------------
    def start(self) -> None:
        """Listen on a free port; retry if another process takes it first."""
        last: Exception | None = None
        for _attempt in range(5):
            self.port = free_port()
            controller = self._controller_for(self.port)
            try:
                controller.start()
            except (OSError, RuntimeError) as exc:
                last = exc
                continue
            self._controller = controller
            return
        raise RigError(f"the SMTP server could not start: {last}")

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def _controller_for(self, port: int) -> Controller:
        context = self.certificate.server_context()
        common: dict[str, Any] = {
            "hostname": self.host,
            "port": port,
            "authenticator": self._authenticate,
            "auth_required": self.auth_required,
            "ready_timeout": 5.0,
        }
        if self.implicit_tls:
            # the whole connection is TLS, but aiosmtpd only counts STARTTLS as TLS for AUTH
            return Controller(self._handler, ssl_context=context, auth_require_tls=False, **common)
        return Controller(self._handler, tls_context=context, auth_require_tls=True, **common)

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            user = auth_data.login.decode("utf-8", "replace")
            if self.credentials(user, auth_data.password.decode("utf-8", "replace")):
                return AuthResult(success=True, auth_data=auth_data)
        # handled=False: with the default (True) aiosmtpd sends no reply and the client hangs
        return AuthResult(success=False, handled=False)

    # -- what tests steer -------------------------------------------------
    def reset(self) -> None:
        """Forget messages, failures, delivery targets and tokens."""
        with self._lock:
            self._messages.clear()
            self._failures.clear()
            self._dovecot = None
            self._handler.oauth2_tokens.clear()

    def fail_next(self, count: int = 1, *, code: int = 451, text: str = "", stage: Stage = "data") -> None:
        """Answer ``code`` at ``stage`` (MAIL, RCPT or end of DATA) for the next ``count`` times."""
        if not 400 <= code <= 599:
            raise ValueError("fail_next() takes a 4xx or 5xx code")
        default = "4.3.0 try again later (rig)" if code < 500 else "5.7.1 refused (rig)"
        with self._lock:
            self._failures.append(_Failure(count, code, text or default, stage))

    def deliver_to(self, dovecot: Dovecot | None, via: DeliverVia = "lda") -> None:
        """Hand each accepted message to the rig user named by each recipient's local part.

        Recipients that are not rig users (``test-*``, alice, bob) are only recorded.
        """
        self._dovecot, self._via = dovecot, via

    def add_oauth2_token(self, user: str, token: str) -> None:
        self._handler.oauth2_tokens[user] = token

    @property
    def messages(self) -> list[ReceivedMessage]:
        with self._lock:
            return list(self._messages)

    def wait_for(self, count: int = 1, timeout: float = 5.0) -> list[ReceivedMessage]:
        """The messages, once at least ``count`` have arrived (else ``RigError``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.messages
            if len(found) >= count:
                return found
            time.sleep(0.01)
        raise RigError(f"expected {count} message(s) at the SMTP server, got {len(self.messages)}")

    # -- called from the server thread --------------------------------------
    def _take_failure(self, stage: Stage) -> str | None:
        with self._lock:
            for failure in self._failures:
                if failure.stage == stage and failure.remaining > 0:
                    failure.remaining -= 1
                    return f"{failure.code} {failure.text}"
        return None

    def _record(self, received: ReceivedMessage) -> None:
        with self._lock:
            self._messages.append(received)

    def _deliver(self, received: ReceivedMessage) -> None:
        dovecot = self._dovecot
        if dovecot is None:
            return
        for recipient in received.rcpt_tos:
            user = dovecot.user_for_address(recipient)
            if user is None:
                continue
            # what an MTA's local delivery adds (dovecot-lda adds neither)
            raw = (
                f"Return-Path: <{received.mail_from}>\r\nDelivered-To: {recipient}\r\n".encode()
                + received.data
            )
            if self._via == "lda":
                dovecot.deliver(user, raw, sender=received.mail_from)
            else:
                dovecot.append(user, "INBOX", raw)
