"""The test rig itself: a real Dovecot and a real aiosmtpd behave as the other tests assume."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError
from imapclient.imapclient import DRAFTS, SENT, TRASH

from tests.rig import fixtures
from tests.rig.dovecot import Dovecot, ImapUser
from tests.rig.smtp import SmtpServer


def _mail(subject: str, to: str = "someone@example.org", body: str = "Hello.\n") -> bytes:
    message = EmailMessage()
    message["From"] = "Jane Contact <jane@example.com>"
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = f"<{subject.replace(' ', '-')}@rig.test>"
    message.set_content(body)
    return message.as_bytes()


def _subjects(client: IMAPClient, folder: str) -> list[str]:
    client.select_folder(folder, readonly=True)
    uids = client.search("ALL")
    if not uids:
        return []
    fetched = client.fetch(
        uids, ["BODY.PEEK[HEADER.FIELDS (SUBJECT)]"]
    )  # a UID list: imapclient 4 rejects "1:*"
    headers = [data[b"BODY[HEADER.FIELDS (SUBJECT)]"].decode() for data in fetched.values()]
    return sorted(h.split(":", 1)[1].strip() for h in headers)


# -- Dovecot -------------------------------------------------------------------


def test_imaps_login_verifies_the_rig_certificate(imap_user: ImapUser) -> None:
    client = imap_user.connect("tls")
    assert client.ssl
    client.logout()
    with pytest.raises(ssl.SSLCertVerificationError):
        IMAPClient(imap_user.host, imap_user.imaps_port, ssl=True, ssl_context=ssl.create_default_context())


def test_starttls_login_offers_what_mailflow_uses(imap_user: ImapUser) -> None:
    client = imap_user.connect("starttls")
    offered = set(client.capabilities())
    client.logout()
    assert {b"IDLE", b"CONDSTORE", b"QRESYNC", b"MOVE", b"SPECIAL-USE", b"UIDPLUS"} <= offered


def test_a_wrong_password_is_refused_and_the_next_login_works(imap_user: ImapUser) -> None:
    with pytest.raises(LoginError):
        imap_user.server.connect(imap_user.name, password="not-the-password")
    imap_user.connect("tls").logout()  # no auth penalty left behind


def test_special_use_folders_exist_and_are_subscribed(imap_user: ImapUser) -> None:
    client = imap_user.connect()
    found = [client.find_special_folder(use) for use in (DRAFTS, SENT, TRASH)]
    subscribed = {name for _flags, _sep, name in client.list_sub_folders()}
    client.logout()
    assert found == ["Drafts", "Sent", "Trash"]
    assert {"Drafts", "Sent", "Trash"} <= subscribed


def test_append_returns_the_uid_and_keeps_flags(imap_user: ImapUser) -> None:
    first = imap_user.append("Drafts", _mail("draft one"), flags=[r"\Draft"])
    second = imap_user.append("Drafts", _mail("draft two"))
    client = imap_user.connect()
    client.select_folder("Drafts", readonly=True)
    flags = client.get_flags([first, second])
    client.logout()
    assert second == first + 1
    assert b"\\Draft" in flags[first] and b"\\Seen" not in flags[first]


def test_seed_maildir_fills_dotted_and_utf8_folders(imap_user: ImapUser) -> None:
    assert imap_user.seed("Projects/v1.2", [_mail(f"seeded {i}") for i in range(3)], flags=[r"\Seen"]) == 3
    assert imap_user.seed("Zürich", [_mail("gruezi")]) == 1
    client = imap_user.connect()
    assert _subjects(client, "Projects/v1.2") == ["seeded 0", "seeded 1", "seeded 2"]
    assert _subjects(client, "Zürich") == ["gruezi"]
    client.select_folder("Projects/v1.2", readonly=True)
    uid = client.search("ALL")[0]
    fetched = client.fetch([uid], ["FLAGS", "BODY.PEEK[]"])[uid]
    client.logout()
    assert b"\\Seen" in fetched[b"FLAGS"]
    assert fetched[b"BODY[]"] == _mail("seeded 0").replace(b"\n", b"\r\n")


def test_every_user_starts_with_an_empty_mailbox(dovecot: Dovecot, imap_user: ImapUser) -> None:
    imap_user.deliver(_mail("for the first user only"))
    other = dovecot.new_user("other")
    first, second = imap_user.connect(), other.connect()
    try:
        assert _subjects(first, "INBOX") == ["for the first user only"]
        assert _subjects(second, "INBOX") == []
    finally:
        first.logout()
        second.logout()


def test_idle_wakes_up_when_mail_arrives(imap_user: ImapUser) -> None:
    client = imap_user.connect()
    client.select_folder("INBOX")
    client.idle()
    imap_user.append("INBOX", _mail("wake up"))
    responses = client.idle_check(timeout=5)  # Dovecot notifies after 0.5 s
    client.idle_done()
    client.logout()
    assert (1, b"EXISTS") in responses


def test_restart_keeps_the_ports_and_the_mail(dovecot: Dovecot, imap_user: ImapUser) -> None:
    imap_user.append("INBOX", _mail("survives a restart"))
    ports = (dovecot.imap_port, dovecot.imaps_port)
    dovecot.restart()
    client = imap_user.connect("starttls")
    assert (dovecot.imap_port, dovecot.imaps_port) == ports
    assert _subjects(client, "INBOX") == ["survives a restart"]
    client.logout()


def test_log_errors_reports_what_only_the_server_log_shows(dovecot: Dovecot) -> None:
    user = dovecot.new_user("broken")
    user.seed("INBOX", [_mail("unreadable")])
    mark = dovecot.log_mark()
    cur = user.maildir() / "cur"
    cur.chmod(0)  # the mail session fails behind an OK LOGIN
    try:
        client = user.connect()
        with pytest.raises(Exception):  # noqa: B017 (Dovecot answers with some NO or BAD)
            client.select_folder("INBOX")
            client.fetch(client.search("ALL"), ["BODY.PEEK[]"])
        client.logout()
    finally:
        cur.chmod(0o700)
    assert any(user.name in line for line in dovecot.log_errors(since=mark))


def test_a_login_process_losing_anvil_counts_as_an_error_only_without_a_stop(dovecot: Dovecot) -> None:
    noise = "Nov 26 01:25:08 imap-login: Error: read(anvil) failed: EOF\n"
    before = dovecot.log_mark()
    with dovecot.log_file.open("a") as log:
        log.write(noise)
    assert dovecot.log_errors(since=before) == [noise.strip()]
    dovecot.restart()
    with dovecot.log_file.open("a") as log:
        log.write(noise)
    assert dovecot.log_errors(since=before) == []  # a test that stopped the server expects it
    after = dovecot.log_mark()
    with dovecot.log_file.open("a") as log:
        log.write(noise)
    assert dovecot.log_errors(since=after) == [noise.strip()]  # one that did not, does not


def test_missing_dovecot_skips_on_a_developer_machine_and_fails_under_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        fixtures.missing("`dovecot` is not installed: install it with apt-get")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="apt-get"):
        fixtures.missing("`dovecot` is not installed: install it with apt-get")


# -- SMTP ----------------------------------------------------------------------


def _smtp_starttls(server: SmtpServer, user: str, password: str) -> smtplib.SMTP:
    smtp = smtplib.SMTP(server.host, server.port, timeout=5)
    smtp.starttls(context=server.certificate.client_context())
    smtp.login(user, password)
    return smtp


def test_smtp_with_auth_and_starttls_reaches_a_dovecot_mailbox(
    dovecot: Dovecot, imap_user: ImapUser, smtp_server: SmtpServer
) -> None:
    smtp_server.deliver_to(dovecot)
    smtp = _smtp_starttls(smtp_server, "alice", "secret1")
    smtp.sendmail(
        "alice@example.org", [imap_user.address, "stranger@elsewhere.test"], _mail("send to receive")
    )
    smtp.quit()
    [received] = smtp_server.messages
    assert received.rcpt_tos == (imap_user.address, "stranger@elsewhere.test")
    assert (received.mail_from, received.auth_user, received.tls) == ("alice@example.org", "alice", True)
    assert received.message()["Subject"] == "send to receive"
    client = imap_user.connect()
    client.select_folder("INBOX", readonly=True)
    [uid] = client.search("ALL")
    header = client.fetch([uid], ["BODY.PEEK[HEADER]"])[uid][b"BODY[HEADER]"]
    client.logout()
    assert f"Delivered-To: {imap_user.address}".encode() in header
    assert b"Return-Path: <alice@example.org>" in header


def test_smtp_refuses_a_wrong_password_and_mail_without_auth(smtp_server: SmtpServer) -> None:
    with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
        _smtp_starttls(smtp_server, "alice", "wrong")
    assert refused.value.smtp_code == 535
    smtp = smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=5)
    smtp.starttls(context=smtp_server.certificate.client_context())
    with pytest.raises(smtplib.SMTPSenderRefused) as unauthenticated:
        smtp.sendmail("alice@example.org", ["bob@example.org"], _mail("no auth"))
    smtp.close()
    assert unauthenticated.value.smtp_code == 530
    assert smtp_server.messages == []


def test_smtp_answers_4xx_and_5xx_when_told(smtp_server: SmtpServer) -> None:
    smtp_server.fail_next(1, code=451)
    smtp_server.fail_next(1, code=550, stage="rcpt")
    smtp = _smtp_starttls(smtp_server, "bob", "secret2")
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        smtp.sendmail("bob@example.org", ["x@example.org"], _mail("refused at RCPT"))
    with pytest.raises(smtplib.SMTPDataError) as deferred:
        smtp.sendmail("bob@example.org", ["x@example.org"], _mail("deferred at DATA"))
    smtp.sendmail("bob@example.org", ["x@example.org"], _mail("accepted"))
    smtp.quit()
    assert deferred.value.smtp_code == 451
    assert [m.message()["Subject"] for m in smtp_server.messages] == ["accepted"]


def test_smtps_is_implicit_tls_with_auth(smtps_server: SmtpServer) -> None:
    context = smtps_server.certificate.client_context()
    smtp = smtplib.SMTP_SSL(smtps_server.host, smtps_server.port, context=context, timeout=5)
    smtp.ehlo()
    assert "PLAIN" in smtp.esmtp_features["auth"].split()
    smtp.login("test-smtps", "test-password")
    smtp.sendmail("test-smtps@example.org", ["bob@example.org"], _mail("over smtps"))
    smtp.quit()
    [received] = smtps_server.messages
    assert (received.auth_user, received.tls) == ("test-smtps", True)
