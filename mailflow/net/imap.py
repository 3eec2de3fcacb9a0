"""IMAP: log in (``connect_imap``), then what a caller needs to know about the account.

Every imapclient, imaplib, socket and TLS exception becomes a mailflow error
inside ``imap_errors``, the one boundary; code above it sees only
``AuthError``, ``TransientError``, ``PermanentError`` and ``ConfigError``.

Two timeouts: ``[section] timeout`` for ordinary commands, and the short
``liveness_seconds`` for what a live server answers at once (connecting, the
TLS handshake and the greeting here; NOOP, DONE and IDLE's go-ahead in
``sources/imap.py``).  A connection that goes silent (a black hole: a
firewall dropping packets, a proxy that accepts and forwards nothing) is
given up after that, whatever the ordinary timeout; TCP keepalive cannot be
relied on for it (a proxy or load balancer on the way answers keepalives
itself).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass

from imapclient import IMAPClient, SocketTimeout
from imapclient.exceptions import (
    CapabilityError,
    IMAPClientAbortError,
    IMAPClientError,
    LoginError,
)

from mailflow.config import ServerSettings
from mailflow.errors import AuthError, MailflowError, PermanentError, TransientError
from mailflow.net.base import (
    Endpoint,
    Secret,
    endpoint_for,
    network_error,
    require_username,
    secret_for,
    tls_context,
)
from mailflow.text import one_line

#: what mailflow uses when offered: IDLE to wait, CONDSTORE/QRESYNC to sync, MOVE/UIDPLUS to file
CAPABILITIES_THAT_MATTER = ("IDLE", "CONDSTORE", "QRESYNC", "MOVE", "SPECIAL-USE", "UIDPLUS")
SPECIAL_USE_FLAGS = ("\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash")
#: seconds a server has to answer what a live one answers at once; silence that long means a dead
#: connection (ordinary commands keep ``[section] timeout``)
LIVENESS_SECONDS = 8.0

DRAFTS_NAMES = (
    "Drafts", "Draft", "INBOX.Drafts", "INBOX/Drafts", "[Gmail]/Drafts", "[Google Mail]/Drafts",
    "Entwürfe", "Brouillons", "Borradores", "Bozze", "Concepten", "Rascunhos", "Kladder", "Utkast",
    "Luonnokset", "Szkice", "Koncepty", "Черновики",
)  # fmt: skip
SENT_NAMES = (
    "Sent", "Sent Items", "Sent Messages", "Sent Mail", "INBOX.Sent", "INBOX/Sent",
    "[Gmail]/Sent Mail", "[Google Mail]/Sent Mail", "Gesendet", "Gesendete Elemente",
    "Gesendete Objekte", "Envoyés", "Éléments envoyés", "Messages envoyés", "Enviados",
    "Elementos enviados", "Inviati", "Posta inviata", "Verzonden", "Verzonden items", "Skickat",
    "Sendt", "Lähetetyt", "Wysłane", "Отправленные",
)  # fmt: skip


@dataclass(frozen=True)
class Folder:
    """One folder as LIST shows it; ``flags`` keep the server's spelling."""

    name: str
    delimiter: str
    flags: frozenset[str]

    @property
    def special_use(self) -> str | None:
        """``\\Drafts``, ``\\Sent``... (RFC 6154), or None."""
        lowered = {flag.lower() for flag in self.flags}
        return next((use for use in SPECIAL_USE_FLAGS if use.lower() in lowered), None)

    @property
    def selectable(self) -> bool:
        lowered = {flag.lower() for flag in self.flags}
        return not lowered & {"\\noselect", "\\nonexistent"}


def imap_endpoint(account: ServerSettings, section: str) -> Endpoint:
    return endpoint_for(account, section, "IMAP")


def liveness_seconds(account: ServerSettings) -> float:
    """The short timeout for ``account``: ``LIVENESS_SECONDS``, or its ``timeout`` when that is shorter."""
    return min(LIVENESS_SECONDS, account.timeout)


def connect_imap(account: ServerSettings, section: str) -> IMAPClient:
    """A logged-in client for ``account``; ``section`` ("mailbox", "drafts") names it in errors.

    ``security``: "tls" (implicit), "starttls", or "none" (loopback only).  The
    certificate is verified (against ``ca_file`` when set) unless
    ``tls_verify = false``.  Login uses XOAUTH2 when ``oauth2_token_command``
    is set, else the password (or ``password_command``).

    Connecting, the TLS handshake, the greeting and STARTTLS must each be
    answered within ``liveness_seconds``; the login keeps ``timeout`` (an
    authentication backend may take a few seconds).
    """
    endpoint = imap_endpoint(account, section)
    require_username(account, section)
    context = tls_context(account, section) if account.security != "none" else None
    secret = secret_for(account, section)
    assert secret is not None  # required=True
    quick = liveness_seconds(account)
    with imap_errors(endpoint):
        with silence_is_dead(endpoint, "the connection with a greeting", quick):
            client = IMAPClient(
                endpoint.host,
                endpoint.port,
                ssl=account.security == "tls",
                ssl_context=context,
                timeout=SocketTimeout(connect=quick, read=account.timeout),
            )
        try:
            if account.security == "starttls":
                with answered_within(client, endpoint, "STARTTLS", quick):
                    client.starttls(context)
            _login(client, account.username, secret)
        except BaseException:
            close_quietly(client)
            raise
    return client


def _login(client: IMAPClient, username: str, secret: Secret) -> None:
    if secret.kind == "xoauth2":
        client.oauth2_login(username, secret.value)
    else:
        client.login(username, secret.value)


@contextmanager
def imap_errors(endpoint: Endpoint) -> Iterator[None]:
    """Translate what imapclient, imaplib, ssl and socket raise into mailflow errors, once."""
    try:
        yield
    except MailflowError:
        raise
    except LoginError:
        raise AuthError(
            f"the IMAP server at {endpoint.address} refused the login for user {endpoint.who}",
            hint=f"check {endpoint.section}.username and the password "
            "(or password_command / oauth2_token_command)",
            backend=endpoint.section,
        ) from None
    except CapabilityError as exc:
        raise PermanentError(
            f"the IMAP server at {endpoint.address} lacks a needed capability ({one_line(str(exc), 120)})",
            hint=f'for a missing STARTTLS, set {endpoint.section}.security = "tls" and the IMAPS port (993)',
            backend=endpoint.section,
        ) from exc
    except IMAPClientAbortError as exc:
        raise TransientError(
            f"the IMAP server at {endpoint.address} dropped the connection ({one_line(str(exc), 120)})",
            hint="this is usually temporary; it is retried",
            backend=endpoint.section,
        ) from exc
    except IMAPClientError as exc:
        raise PermanentError(
            f"the IMAP server at {endpoint.address} answered with an error: {one_line(_text(exc), 160)}",
            backend=endpoint.section,
        ) from exc
    except (OSError, ValueError) as exc:
        mapped = network_error(exc, endpoint)
        if mapped is None:
            raise
        raise mapped from exc


@contextmanager
def silence_is_dead(endpoint: Endpoint, what: str, seconds: float) -> Iterator[None]:
    """A timeout inside becomes a ``TransientError`` caused by it: "did not answer ``what`` within ..."."""
    try:
        yield
    except TimeoutError as exc:
        raise TransientError(
            f"the IMAP server at {endpoint.address} did not answer {what} within {seconds:g} s",
            hint="the connection is taken as dead and opened again with backoff; "
            "if this goes on, the server or the network path to it is down",
            backend=endpoint.section,
        ) from exc


@contextmanager
def answered_within(client: IMAPClient, endpoint: Endpoint, what: str, seconds: float) -> Iterator[None]:
    """An exchange under the socket timeout ``seconds`` (restored after); silence is a dead connection."""
    with silence_is_dead(endpoint, what, seconds):
        before = client.socket().gettimeout()
        client.socket().settimeout(seconds)
        try:
            yield
        finally:
            with suppress(OSError):  # STARTTLS replaced the socket, or it is closed: set what is there now
                client.socket().settimeout(before)


def timed_out(exc: BaseException) -> bool:
    """Whether ``exc`` (a mailflow error) came from silence rather than a refusal or a reset."""
    return isinstance(exc.__cause__, TimeoutError)


def _text(exc: Exception) -> str:
    text = str(exc)
    return text[2:-1] if text.startswith(("b'", 'b"')) else text


def close_quietly(client: IMAPClient) -> None:
    """LOGOUT if possible, else drop the socket; never raises (used on error paths)."""
    try:
        client.logout()
    except Exception:
        with suppress(Exception):
            client.shutdown()


def capabilities_that_matter(client: IMAPClient) -> dict[str, bool]:
    """Which of ``CAPABILITIES_THAT_MATTER`` the server offers (after login)."""
    offered = {bytes(c).decode("ascii", "replace").upper() for c in client.capabilities()}
    return {name: name in offered for name in CAPABILITIES_THAT_MATTER}


def list_folders(client: IMAPClient) -> list[Folder]:
    """Every folder, with its flags (special-use ones included when the server sends them)."""
    folders = []
    for flags, delimiter, name in client.list_folders():
        folders.append(
            Folder(
                name=str(name),
                delimiter=_decode(delimiter) if delimiter else "",
                flags=frozenset(_decode(flag) for flag in flags),
            )
        )
    return folders


def _decode(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def find_special_folder(folders: Sequence[Folder], use: str, names: Sequence[str]) -> Folder | None:
    """The folder flagged ``use``; else the first of ``names`` found, by full name, then by last level."""
    usable = [folder for folder in folders if folder.selectable]
    for folder in usable:
        if folder.special_use == use:
            return folder
    by_name = {_fold(folder.name): folder for folder in usable}
    for name in names:
        if _fold(name) in by_name:
            return by_name[_fold(name)]
    by_leaf = {_fold(_leaf(folder)): folder for folder in reversed(usable)}
    for name in names:
        if _fold(name) in by_leaf:
            return by_leaf[_fold(name)]
    return None


def find_drafts_folder(folders: Sequence[Folder]) -> Folder | None:
    """``\\Drafts``, then Drafts, INBOX.Drafts, [Gmail]/Drafts, Entwürfe, Brouillons..."""
    return find_special_folder(folders, "\\Drafts", DRAFTS_NAMES)


def find_sent_folder(folders: Sequence[Folder]) -> Folder | None:
    """``\\Sent``, then Sent, Sent Items, [Gmail]/Sent Mail, Gesendet, Envoyés..."""
    return find_special_folder(folders, "\\Sent", SENT_NAMES)


def find_folder(folders: Sequence[Folder], name: str) -> Folder | None:
    """``name`` as the server lists it (INBOX in any case, as RFC 3501 says)."""
    for folder in folders:
        if folder.name == name or (name.upper() == "INBOX" and folder.name.upper() == "INBOX"):
            return folder
    return None


def _leaf(folder: Folder) -> str:
    return folder.name.rsplit(folder.delimiter, 1)[-1] if folder.delimiter else folder.name


def _fold(name: str) -> str:
    return unicodedata.normalize("NFC", name).casefold()
