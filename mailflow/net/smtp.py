"""SMTP: log in (``connect_smtp``) with smtplib, errors mapped once in ``smtp_errors``."""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

from mailflow.config import SmtpSettings
from mailflow.errors import (
    AuthError,
    BackendError,
    MailflowError,
    PermanentError,
    TransientError,
)
from mailflow.net.base import (
    Endpoint,
    Secret,
    endpoint_for,
    network_error,
    secret_for,
    tls_context,
    xoauth2_string,
)
from mailflow.text import one_line


def smtp_endpoint(settings: SmtpSettings, section: str = "smtp") -> Endpoint:
    return endpoint_for(settings, section, "SMTP")


def connect_smtp(settings: SmtpSettings, section: str = "smtp") -> smtplib.SMTP:
    """A connected, logged-in ``smtplib.SMTP`` (``SMTP_SSL`` for implicit TLS).

    ``security``: "tls" (implicit, port 465), "starttls" (587), or "none"
    (loopback only).  Without a username no AUTH is done (a local relay).
    XOAUTH2 when ``oauth2_token_command`` is set, else the password.
    """
    endpoint = smtp_endpoint(settings, section)
    context = tls_context(settings, section) if settings.security != "none" else None
    secret = secret_for(settings, section, required=False)
    with smtp_errors(endpoint):
        smtp = _open(endpoint, context)
        try:
            smtp.ehlo()
            if settings.security == "starttls":
                _starttls(smtp, endpoint, context)
            if secret is not None:
                _login(smtp, settings.username, secret)
        except BaseException:
            close_quietly(smtp)
            raise
    return smtp


def _open(endpoint: Endpoint, context: ssl.SSLContext | None) -> smtplib.SMTP:
    # gethostname(), not smtplib's default getfqdn(), which can wait seconds on DNS
    name = socket.gethostname() or "localhost"
    if endpoint.security == "tls":
        return smtplib.SMTP_SSL(
            endpoint.host, endpoint.port, local_hostname=name, timeout=endpoint.timeout, context=context
        )
    return smtplib.SMTP(endpoint.host, endpoint.port, local_hostname=name, timeout=endpoint.timeout)


def _starttls(smtp: smtplib.SMTP, endpoint: Endpoint, context: ssl.SSLContext | None) -> None:
    if not smtp.has_extn("starttls"):
        raise PermanentError(
            f"the SMTP server at {endpoint.address} does not offer STARTTLS",
            hint=f'set {endpoint.section}.security = "tls" and its implicit-TLS port (465)',
            backend=endpoint.section,
        )
    smtp.starttls(context=context)
    smtp.ehlo()


def _login(smtp: smtplib.SMTP, username: str, secret: Secret) -> None:
    if secret.kind == "xoauth2":
        smtp.auth("XOAUTH2", _xoauth2_responder(username, secret.value))
    else:
        smtp.login(username, secret.value)


def _xoauth2_responder(username: str, token: str) -> Callable[..., str]:
    """smtplib's ``authobject``: the initial response, then "" to get the final error reply."""
    answers = iter([xoauth2_string(username, token)])

    def respond(challenge: bytes | None = None) -> str:
        return next(answers, "")

    return respond


def auth_mechanisms(smtp: smtplib.SMTP) -> list[str]:
    """The AUTH mechanisms offered in the last EHLO (after STARTTLS when used)."""
    return sorted(set(smtp.esmtp_features.get("auth", "").upper().split()))


def close_quietly(smtp: smtplib.SMTP) -> None:
    """QUIT if possible, else drop the socket; never raises."""
    try:
        smtp.quit()
    except Exception:
        with suppress(Exception):
            smtp.close()


@contextmanager
def smtp_errors(endpoint: Endpoint) -> Iterator[None]:
    """Translate what smtplib, ssl and socket raise into mailflow errors, once.

    4xx replies become ``TransientError`` (retry later), 5xx ``PermanentError``.
    """
    try:
        yield
    except MailflowError:
        raise
    except smtplib.SMTPException as exc:
        raise _smtp_error(exc, endpoint) from exc
    except (OSError, ValueError) as exc:
        mapped = network_error(exc, endpoint)
        if mapped is None:
            raise
        raise mapped from exc


def _smtp_error(exc: smtplib.SMTPException, endpoint: Endpoint) -> BackendError:
    where, section = endpoint.address, endpoint.section
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return AuthError(
            f"the SMTP server at {where} refused the login for user {endpoint.who}",
            hint=f"check {section}.username and the password (or password_command / oauth2_token_command)",
            backend=section,
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return PermanentError(
            f"the SMTP server at {where} does not offer AUTH on this connection",
            hint=f'set {section}.security = "starttls" or "tls": servers offer AUTH only over TLS',
            backend=section,
        )
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return TransientError(f"the SMTP server at {where} closed the connection", backend=section)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return _refused_recipients(exc, endpoint)
    if isinstance(exc, smtplib.SMTPResponseException):
        return _by_code(exc.smtp_code, f"the SMTP server at {where} answered {_reply(exc)}", section)
    return PermanentError(f"the SMTP server at {where} failed: {one_line(str(exc), 160)}", backend=section)


def _refused_recipients(exc: smtplib.SMTPRecipientsRefused, endpoint: Endpoint) -> BackendError:
    codes = [code for code, _text in exc.recipients.values()]
    shown = ", ".join(one_line(address, 80) for address in list(exc.recipients)[:5])
    first = next(iter(exc.recipients.values()), (550, b""))
    reply = f"{first[0]} {one_line(_decode(first[1]), 120)}"
    code = 400 if codes and all(400 <= c < 500 for c in codes) else 550
    return _by_code(
        code, f"the SMTP server at {endpoint.address} refused {shown} ({reply})", endpoint.section
    )


def _by_code(code: int, message: str, section: str) -> BackendError:
    if 400 <= code < 500:
        return TransientError(message, hint="the server asked to try again later", backend=section)
    return PermanentError(message, backend=section)


def _reply(exc: smtplib.SMTPResponseException) -> str:
    return f"{exc.smtp_code} {one_line(_decode(exc.smtp_error), 160)}"


def _decode(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
