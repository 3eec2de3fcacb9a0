"""mailflow.net against the live rig: TLS modes, logins, and each failure as one mailflow error."""

from __future__ import annotations

from typing import Any

import pytest

from mailflow.config import ImapAccount, SmtpSettings
from mailflow.errors import AuthError, ConfigError, PermanentError, TransientError
from mailflow.net.imap import (
    capabilities_that_matter,
    close_quietly,
    connect_imap,
    find_drafts_folder,
    list_folders,
)
from mailflow.net.smtp import auth_mechanisms, connect_smtp, smtp_endpoint, smtp_errors
from tests.rig.dovecot import ImapUser
from tests.rig.smtp import SmtpServer
from tests.rig.tools import free_port


def _imap(user: ImapUser, **changes: Any) -> ImapAccount:
    values: dict[str, Any] = {
        "host": user.host,
        "port": user.imaps_port,
        "security": "tls",
        "ca_file": user.ca_file,
        "username": user.name,
        "password": user.password,
        "timeout": 5,
    }
    values.update(changes)
    return ImapAccount(**{k: v for k, v in values.items() if v is not None})


def _smtp(server: SmtpServer, **changes: Any) -> SmtpSettings:
    values: dict[str, Any] = {
        "host": server.host,
        "port": server.port,
        "security": server.security,
        "ca_file": server.ca_file,
        "username": "alice",
        "password": "secret1",
        "timeout": 5,
    }
    values.update(changes)
    return SmtpSettings(**{k: v for k, v in values.items() if v is not None})


@pytest.mark.parametrize("security", ["tls", "starttls", "none"])
def test_connect_imap_in_every_security_mode(imap_user: ImapUser, security: str) -> None:
    port = imap_user.imaps_port if security == "tls" else imap_user.imap_port
    client = connect_imap(_imap(imap_user, port=port, security=security), "mailbox")
    try:
        assert all(capabilities_that_matter(client).values())
        drafts = find_drafts_folder(list_folders(client))
        assert drafts is not None and drafts.special_use == "\\Drafts"
    finally:
        close_quietly(client)


def test_password_command_and_tls_verify_off(imap_user: ImapUser) -> None:
    account = _imap(
        imap_user, ca_file=None, tls_verify=False, password=None, password_command="echo test-password"
    )
    close_quietly(connect_imap(account, "drafts"))


def test_plain_imap_is_refused_to_a_remote_host_before_connecting() -> None:
    account = ImapAccount(host="imap.example.org", security="none", username="ana", password="x")
    with pytest.raises(ConfigError, match=r'drafts.security: "none" .* only allowed to a loopback address'):
        connect_imap(account, "drafts")


def test_a_missing_password_is_a_config_error(imap_user: ImapUser) -> None:
    with pytest.raises(ConfigError, match="mailbox: no password is set"):
        connect_imap(_imap(imap_user, password=None), "mailbox")


def test_imap_failures_become_one_mailflow_error_each(imap_user: ImapUser) -> None:
    with pytest.raises(AuthError) as refused:
        connect_imap(_imap(imap_user, password="wrong"), "mailbox")
    assert str(refused.value) == (
        f"the IMAP server at 127.0.0.1:{imap_user.imaps_port} refused the login for user {imap_user.name}"
    )
    closed = free_port()
    with pytest.raises(TransientError, match=rf"^cannot reach 127\.0\.0\.1:{closed} \(connection refused\)$"):
        connect_imap(_imap(imap_user, port=closed), "mailbox")
    with pytest.raises(PermanentError, match="is not trusted") as untrusted:
        connect_imap(_imap(imap_user, ca_file=None), "mailbox")
    assert untrusted.value.hint == "set ca_file or fix the certificate"
    assert untrusted.value.backend == "mailbox"


def test_connect_smtp_starttls_and_implicit_tls(smtp_server: SmtpServer, smtps_server: SmtpServer) -> None:
    for server in (smtp_server, smtps_server):
        smtp = connect_smtp(_smtp(server))
        assert {"LOGIN", "PLAIN"} <= set(auth_mechanisms(smtp))
        smtp.sendmail("alice@example.org", ["bob@example.org"], b"Subject: hi\r\n\r\nhi\r\n")
        smtp.quit()
        assert [m.auth_user for m in server.messages] == ["alice"]


def test_connect_smtp_with_xoauth2(smtp_server: SmtpServer) -> None:
    smtp_server.add_oauth2_token("ana@example.org", "tok-123")
    good = _smtp(smtp_server, username="ana@example.org", password=None, oauth2_token_command="echo tok-123")
    connect_smtp(good).quit()
    bad = _smtp(smtp_server, username="ana@example.org", password=None, oauth2_token_command="echo tok-999")
    with pytest.raises(AuthError, match=r"refused the login for user ana@example\.org"):
        connect_smtp(bad)


def test_smtp_failures_become_one_mailflow_error_each(smtp_server: SmtpServer) -> None:
    with pytest.raises(
        AuthError, match=rf"^the SMTP server at 127\.0\.0\.1:{smtp_server.port} refused the login"
    ):
        connect_smtp(_smtp(smtp_server, password="wrong"))
    with pytest.raises(PermanentError, match="does not offer AUTH on this connection"):
        connect_smtp(_smtp(smtp_server, security="none"))  # AUTH only after STARTTLS
    with pytest.raises(PermanentError, match="is not trusted"):
        connect_smtp(_smtp(smtp_server, ca_file=None))


def test_smtp_replies_map_4xx_to_transient_and_5xx_to_permanent(smtp_server: SmtpServer) -> None:
    settings = _smtp(smtp_server)
    smtp = connect_smtp(settings)
    smtp_server.fail_next(1, code=451)
    smtp_server.fail_next(1, code=550, stage="rcpt")
    with (
        pytest.raises(PermanentError, match=r"refused x@example\.org \(550"),
        smtp_errors(smtp_endpoint(settings)),
    ):
        smtp.sendmail("alice@example.org", ["x@example.org"], b"Subject: a\r\n\r\na\r\n")
    with pytest.raises(TransientError, match="answered 451"), smtp_errors(smtp_endpoint(settings)):
        smtp.sendmail("alice@example.org", ["x@example.org"], b"Subject: b\r\n\r\nb\r\n")
    smtp.quit()
