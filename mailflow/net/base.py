"""What IMAP and SMTP connections share: the endpoint, TLS, secrets, socket errors.

Socket and TLS exceptions become mailflow errors here, once (``network_error``);
``imap.py`` and ``smtp.py`` add their protocol's own errors on top.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from typing import Literal

from mailflow.config import ServerSettings, is_loopback
from mailflow.errors import BackendError, ConfigError, PermanentError, TransientError
from mailflow.passwords import oauth2_token_for, password_for
from mailflow.text import one_line

Protocol = Literal["IMAP", "SMTP"]
DEFAULT_PORTS: dict[Protocol, dict[str, int]] = {
    "IMAP": {"tls": 993, "starttls": 143, "none": 143},
    "SMTP": {"tls": 465, "starttls": 587, "none": 25},
}
UNTRUSTED_HINT = "set ca_file or fix the certificate"


@dataclass(frozen=True)
class Endpoint:
    """Where a connection goes, and the words errors use to name it."""

    protocol: Protocol
    section: str
    host: str
    port: int
    security: str
    username: str
    timeout: float

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def who(self) -> str:
        return one_line(self.username, 80)


@dataclass(frozen=True)
class Secret:
    """How to log in: ``kind`` "password" or "xoauth2"; never logged, never shown."""

    kind: Literal["password", "xoauth2"]
    value: str = ""

    def __repr__(self) -> str:
        return f"Secret({self.kind!r}, ***)"


def endpoint_for(server: ServerSettings, section: str, protocol: Protocol) -> Endpoint:
    """Check what can be checked before connecting; one ConfigError line per problem."""
    host = server.host.strip()
    problems = []
    if not host:
        problems.append(f"{section}.host: is empty; set it to the name of your {protocol} server")
    elif server.security == "none" and not is_loopback(host):
        problems.append(
            f'{section}.security: "none" would send the password in clear text, so it is only allowed '
            f'to a loopback address; use "tls" or "starttls"'
        )
    if server.ca_file is not None and not server.ca_file.expanduser().is_file():
        problems.append(f"{section}.ca_file: {server.ca_file} does not exist")
    if problems:
        raise ConfigError(problems)
    port = server.port or DEFAULT_PORTS[protocol][server.security]
    return Endpoint(protocol, section, host, port, server.security, server.username, server.timeout)


def tls_context(server: ServerSettings, section: str) -> ssl.SSLContext:
    """A verifying context (trusting ``ca_file`` when set); ``tls_verify = false`` turns it off."""
    cafile = str(server.ca_file.expanduser()) if server.ca_file is not None else None
    try:
        context = ssl.create_default_context(cafile=cafile)
    except (ssl.SSLError, OSError):
        raise ConfigError(f"{section}.ca_file: {server.ca_file} holds no PEM certificate") from None
    if not server.tls_verify:
        # explicit and only when asked: `mailflow check` warns about it
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def secret_for(server: ServerSettings, section: str, *, required: bool = True) -> Secret | None:
    """The login secret; ``oauth2_token_command`` wins over a password (its command runs now)."""
    token = oauth2_token_for(server, section)
    if token is not None:
        return Secret("xoauth2", token)
    password = password_for(server, section)
    if password is not None:
        return Secret("password", password)
    if required or server.username:
        raise ConfigError(
            f"{section}: no password is set; set {section}.password, password_command or oauth2_token_command"
        )
    return None


def require_username(server: ServerSettings, section: str) -> None:
    if not server.username.strip():
        raise ConfigError(f"{section}.username: is empty; set it to your login name")


def xoauth2_string(username: str, token: str) -> str:
    """The SASL XOAUTH2 initial response (before base64), as Gmail and Outlook expect it."""
    return f"user={username}\x01auth=Bearer {token}\x01\x01"


def network_error(exc: BaseException, endpoint: Endpoint) -> BackendError | None:
    """A socket or TLS exception as a mailflow error; None when ``exc`` is neither."""
    where, section = endpoint.address, endpoint.section
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = one_line(exc.verify_message or str(exc.reason or "verification failed"), 120)
        return PermanentError(
            f"the TLS certificate of {where} is not trusted ({reason})", hint=UNTRUSTED_HINT, backend=section
        )
    if isinstance(exc, ssl.SSLError):
        reason = one_line(str(exc.reason or exc), 120)
        return PermanentError(
            f"the TLS handshake with {where} failed ({reason})",
            hint=f'check that {section}.security matches the port ("tls" for implicit TLS, "starttls" otherwise)',
            backend=section,
        )
    if not isinstance(exc, OSError):
        return None
    return TransientError(
        f"cannot reach {where} ({_why_unreachable(exc, endpoint)})",
        hint=f"check {section}.host and {section}.port, and that the server is up",
        backend=section,
    )


def _why_unreachable(exc: OSError, endpoint: Endpoint) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError):
        return f"no answer within {endpoint.timeout:g} s"
    if isinstance(exc, socket.gaierror):
        return "the host name is not known"
    if isinstance(exc, ConnectionError):
        return "the connection was dropped"
    return one_line(exc.strerror or str(exc) or type(exc).__name__, 120)
