"""Messages: headers, threading, structure, and header injection attempts."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailflow.compose import (
    Attachment,
    CalendarPart,
    Rendered,
    build_message,
    make_message_id,
    message_id_domain,
)
from mailflow.compose.message import checked_references, safe_display_name, safe_header_text
from mailflow.config import Settings
from mailflow.errors import ConfigError, PermanentError
from mailflow.model import Person

OWNER = Person("ben@example.org", "Ben Okafor")
CONTACT = Person("ana@example.com", "Ana Pérez")
MID = "<mailflow.20240514T100000.0123456789abcdef@example.org>"
TEXT = Rendered(subject="Thank you, Ana", text="Hi Ana,\n\nThank you.\n", html=None, template="t")
HTML = Rendered(subject="Homework", text="Read this.\n", html="<p>Read this.</p>\n", template="t")


def reparse(msg: EmailMessage) -> EmailMessage:
    parsed = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_headers_of_a_mail_to_the_contact() -> None:
    msg = reparse(
        build_message(
            TEXT, message_id=MID, from_=OWNER, to=CONTACT, date=datetime(2024, 5, 14, 15, tzinfo=UTC)
        )
    )
    assert msg["Message-ID"] == MID
    assert msg["Date"] == "Tue, 14 May 2024 15:00:00 +0000"
    assert msg["From"] == "Ben Okafor <ben@example.org>"
    assert msg["To"] == "Ana Pérez <ana@example.com>"
    assert msg["Subject"] == "Thank you, Ana"
    assert msg["Auto-Submitted"] is None and msg["Reply-To"] is None
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content().replace("\r\n", "\n") == "Hi Ana,\n\nThank you.\n"


def test_mail_to_the_owner_is_marked_auto_generated() -> None:
    msg = reparse(
        build_message(
            TEXT, message_id=MID, from_=Person("mailflow@example.org", "mailflow"), to=OWNER, to_owner=True
        )
    )
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["X-Auto-Response-Suppress"] == "All"


def test_reply_to_is_set_only_when_it_differs_from_from() -> None:
    same = build_message(TEXT, message_id=MID, from_=OWNER, to=CONTACT, reply_to=Person("BEN@example.org"))
    assert same["Reply-To"] is None
    other = build_message(
        TEXT, message_id=MID, from_=Person("mailflow@example.org"), to=CONTACT, reply_to=OWNER
    )
    assert reparse(other)["Reply-To"] == "Ben Okafor <ben@example.org>"


def test_threading_headers_put_the_parent_last_in_references() -> None:
    msg = reparse(
        build_message(
            TEXT,
            message_id=MID,
            from_=OWNER,
            to=CONTACT,
            in_reply_to="<invite-123@calendar.google.com>",
            references=["<root@example.com>", "<invite-123@calendar.google.com>", "not an id", "<a@b> <c@d>"],
        )
    )
    assert msg["In-Reply-To"] == "<invite-123@calendar.google.com>"
    assert msg["References"].split() == ["<root@example.com>", "<invite-123@calendar.google.com>"]


def test_a_malformed_parent_is_dropped_rather_than_sent() -> None:
    msg = build_message(TEXT, message_id=MID, from_=OWNER, to=CONTACT, in_reply_to="<x@y>\r\nBcc: evil@x.com")
    assert msg["In-Reply-To"] is None and msg["References"] is None and msg["Bcc"] is None


def test_long_reference_chains_keep_the_root_and_the_latest() -> None:
    ids = [f"<m{i}@example.com>" for i in range(50)]
    kept = checked_references(ids)
    assert len(kept) == 20 and kept[0] == ids[0] and kept[-1] == ids[-1]


def test_html_makes_multipart_alternative_text_first() -> None:
    msg = reparse(build_message(HTML, message_id=MID, from_=OWNER, to=CONTACT))
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]


def test_calendar_goes_inline_and_as_invite_ics() -> None:
    ics = b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n"
    raw = build_message(
        HTML, message_id=MID, from_=OWNER, to=CONTACT, calendar=CalendarPart("REQUEST", ics)
    ).as_bytes()
    assert b"Content-Type: text/calendar; charset=utf-8; method=REQUEST\r\n" in raw
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg.get_content_type() == "multipart/mixed"
    alternative, attachment = list(msg.iter_parts())  # type: ignore[attr-defined]
    assert [p.get_content_type() for p in alternative.iter_parts()] == [
        "text/plain",
        "text/html",
        "text/calendar",
    ]
    assert attachment.get_content_type() == "application/ics"
    assert attachment.get_filename() == "invite.ics"
    assert attachment.get_content() == ics
    inline = list(alternative.iter_parts())[-1]
    assert inline.get_payload(decode=True) == ics


def test_a_calendar_without_html_still_makes_an_alternative() -> None:
    msg = build_message(
        TEXT,
        message_id=MID,
        from_=OWNER,
        to=CONTACT,
        calendar=CalendarPart("PUBLISH", "SUMMARY:café\r\n".encode()),
    )
    parsed = reparse(msg)
    alternative = next(parsed.iter_parts())
    parts = list(alternative.iter_parts())  # type: ignore[attr-defined]
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/calendar"]
    assert parts[1].get_payload(decode=True) == "SUMMARY:café\r\n".encode()


def test_attachments_keep_a_safe_name() -> None:
    files = [
        Attachment("../../etc/passwd\r\nX-Evil: 1.pdf", "application/pdf", b"%PDF-1.4"),
        Attachment("a", "bad type!", b"x"),
    ]
    msg = reparse(build_message(TEXT, message_id=MID, from_=OWNER, to=CONTACT, attachments=files))
    parts = list(msg.iter_attachments())
    assert parts[0].get_filename() == "passwd X-Evil_ 1.pdf".replace(" ", "") or "/" not in (
        parts[0].get_filename() or ""
    )
    assert "/" not in (parts[0].get_filename() or "") and "\n" not in (parts[0].get_filename() or "")
    assert parts[1].get_content_type() == "application/octet-stream"
    assert msg["X-Evil"] is None


def test_only_the_top_carries_mime_version() -> None:
    msg = build_message(HTML, message_id=MID, from_=OWNER, to=CONTACT, calendar=CalendarPart("REQUEST", b"X"))
    assert msg.as_bytes().count(b"MIME-Version") == 1


# -- injection ------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "Ana\r\nBcc: evil@attacker.example",
        "Ana\nBcc: evil@attacker.example",
        "Ana\rBcc: evil@attacker.example",
        "Ana\x00\x0bBcc: evil@attacker.example",
        "Ana\u2028Bcc: evil@attacker.example",
        '"Ana" <evil@attacker.example>, x',
        "=?utf-8?q?Ana=0D=0ABcc:_evil@attacker.example?=",
        "=?utf-8?b?QW5hIDxldmlsQGF0dGFja2VyLmV4YW1wbGU+?=",
        "Ana =?iso-8859-1?q?=3Cevil@attacker.example=3E?= Pérez",
    ],
)
def test_display_names_cannot_inject_headers_or_addresses(name: str) -> None:
    msg = reparse(
        build_message(
            TEXT, message_id=MID, from_=Person("ben@example.org", name), to=Person("ana@example.com", name)
        )
    )
    for header in ("From", "To"):
        addresses = msg[header].addresses
        assert len(addresses) == 1
        assert addresses[0].addr_spec in {"ben@example.org", "ana@example.com"}
        assert "attacker" not in addresses[0].addr_spec
        assert "\n" not in addresses[0].display_name and "<" not in addresses[0].display_name
    assert msg["Bcc"] is None
    assert set(msg.keys()) == {
        "Message-ID",
        "Date",
        "From",
        "To",
        "Subject",
        "MIME-Version",
        "Content-Type",
        "Content-Transfer-Encoding",
    }


@pytest.mark.parametrize(
    "subject",
    [
        "Thanks\r\nBcc: evil@attacker.example",
        "Thanks\nContent-Type: text/html",
        "=?utf-8?q?Thanks=0D=0ABcc:_evil@attacker.example?=",
        "=?utf-8?b?VGhhbmtzDQpCY2M6IGV2aWxAYXR0YWNrZXIuZXhhbXBsZQ==?=",
        "Thanks =?utf-8?Q?=0A?= more",
        "x" * 2000,
    ],
)
def test_subjects_cannot_inject_headers(subject: str) -> None:
    rendered = Rendered(subject=subject, text="Hi\n", html=None, template="t")
    msg = reparse(build_message(rendered, message_id=MID, from_=OWNER, to=CONTACT))
    assert msg["Bcc"] is None
    assert msg.get_content_type() == "text/plain"
    decoded = str(msg["Subject"])
    assert "\n" not in decoded and "\r" not in decoded
    assert decoded == safe_header_text(subject)  # in particular, no encoded word was decoded


def test_undecodable_text_from_mail_does_not_break_the_message() -> None:
    rendered = Rendered(subject="Hi \udce9", text="Notes: \udcff\n", html="<p>\ud800</p>", template="t")
    msg = reparse(
        build_message(rendered, message_id=MID, from_=OWNER, to=Person("ana@example.com", "Ana \udce9"))
    )
    assert str(msg["Subject"]) == "Hi \ufffd"
    assert "\ufffd" in msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_safe_display_name_examples() -> None:
    assert safe_display_name('Ana "the boss" <ceo@bank.example>') == "Ana the boss ceo@bank.example"
    assert safe_display_name("=?utf-8?q?x?=") == "= ?utf-8?q?x?="
    assert len(safe_display_name("a" * 500)) <= 80


@pytest.mark.parametrize(
    "address",
    [
        "ana@example.com>, evil@attacker.example",
        "ana@example.com\r\nBcc: x@y.z",
        "no-at-sign",
        "a b@example.com",
        "ana@例え.jp",
        "<ana@example.com>",
        "",
    ],
)
def test_bad_addresses_are_refused(address: str) -> None:
    with pytest.raises(PermanentError, match="is not an e-mail address mailflow can write to"):
        build_message(TEXT, message_id=MID, from_=OWNER, to=Person(address, "Ana"))


_hostile_text = st.lists(
    st.one_of(
        st.characters(),
        st.sampled_from(["\r", "\n", "\r\n", "=?", "?=", "<", ">", '"', ",", ":", "@", "=?utf-8?q?"]),
    ),
    max_size=60,
).map("".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=_hostile_text, subject=_hostile_text)
def test_no_display_name_or_subject_changes_the_headers(name: str, subject: str) -> None:
    rendered = Rendered(subject=subject or "x", text="Hi\n", html=None, template="t")
    msg = reparse(
        build_message(
            rendered,
            message_id=MID,
            from_=Person("ben@example.org", name),
            to=Person("ana@example.com", name),
        )
    )
    assert set(msg.keys()) == {
        "Message-ID",
        "Date",
        "From",
        "To",
        "Subject",
        "MIME-Version",
        "Content-Type",
        "Content-Transfer-Encoding",
    }
    assert [a.addr_spec for a in msg["To"].addresses] == ["ana@example.com"]
    assert [a.addr_spec for a in msg["From"].addresses] == ["ben@example.org"]
    # the email package may put a space between adjacent encoded words when it decodes them
    assert msg["To"].addresses[0].display_name.replace(" ", "") == safe_display_name(name).replace(" ", "")
    assert str(msg["Subject"]).replace(" ", "") == safe_header_text(subject or "x").replace(" ", "")


# -- Message-IDs ----------------------------------------------------------------


def test_make_message_id_is_unique_and_on_our_domain() -> None:
    ids = {make_message_id("Example.ORG") for _ in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(r"<mailflow\.\d{8}T\d{6}\.[0-9a-f]{16}@example\.org>", i) for i in ids)


@pytest.mark.parametrize("domain", ["", "example", "exa mple.org", "example.org>", "a@b.org"])
def test_make_message_id_refuses_odd_domains(domain: str) -> None:
    with pytest.raises(ConfigError, match="message_id_domain"):
        make_message_id(domain)


def test_message_id_domain_comes_from_settings_or_the_sender() -> None:
    assert (
        message_id_domain(Settings(sending={"message_id_domain": "mail.example.net"})) == "mail.example.net"
    )
    assert message_id_domain(Settings(owner={"addresses": ["ben@Example.org"]})) == "example.org"
    assert (
        message_id_domain(
            Settings(smtp={"from_address": "x@relay.example"}, owner={"addresses": ["ben@example.org"]})
        )
        == "relay.example"
    )


def test_a_message_id_must_be_well_formed() -> None:
    with pytest.raises(ValueError, match="not a Message-ID"):
        build_message(TEXT, message_id="abc", from_=OWNER, to=CONTACT)
