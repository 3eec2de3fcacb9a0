"""What the owner forwards is a request (issue #26, items 1-3): understanding alone, mails built here.

Gmail, Outlook and Apple Mail forwards are written the way those clients write them; the owner's
messages carry an Authentication-Results header from the configured server, as in the other tests.
"""

from __future__ import annotations

import pytest

from mailflow.model import Person, Understanding
from mailflow.understand import understand
from mailflow.understand.forwards import find_forward, people_in
from mailflow.understand.tags import owner_tags
from tests.unit.understand_support import CONTEXT, MAILBOX, OWNER, fixture

AUTH = "Authentication-Results: mx.owner.example; dkim=pass header.d=owner.example; spf=pass\n"
DAN_TEXT = (
    "Hi Alice, would you have half an hour sometime next week? I'd love to hear how you moved into product."
)


def owner_mail(
    body: str, *, subject: str = "Fwd: Quick question", signed: bool = True, extra: str = ""
) -> bytes:
    head = (
        (AUTH if signed else "")
        + f"From: Ana Lima <{OWNER}>\nTo: {MAILBOX}\nSubject: {subject}\n"
        + "Date: Tue, 01 Dec 2026 09:00:00 +0100\nMessage-ID: <fwd-1@owner.example>\n"
        + extra
        + "Content-Type: text/plain; charset=utf-8\n\n"
    )
    return (head + body).encode()


def gmail_forward(preface: str, sender: str, body: str, *, to: str = f"Ana Lima <{OWNER}>") -> str:
    return (
        f"{preface}\n\n---------- Forwarded message ---------\nFrom: {sender}\n"
        f"Date: Mon, 30 Nov 2026 at 18:02\nSubject: Quick question\nTo: {to}\n\n{body}\n"
    )


def read(raw: bytes) -> Understanding:
    return understand(raw, CONTEXT)


# -- item 1: the owner's forward is a request ------------------------------------------------------


def test_dans_plain_mail_forwarded_by_the_owner_is_a_request_whatever_its_confidence() -> None:
    result = read(owner_mail(gmail_forward("", "Dan Brooks <dan@brooks.example>", DAN_TEXT)))
    assert result.kind == "request"
    assert result.counterpart is not None and result.counterpart.address == "dan@brooks.example"
    assert result.trusted and result.forwarded
    assert result.proposed_times == ()  # "next week" is never guessed into a time
    assert any("the owner forwarded it" in r or "a meeting request (confidence" in r for r in result.reasons)


def test_a_low_confidence_forward_still_shows_its_confidence() -> None:
    result = read(owner_mail(gmail_forward("", "Dan Brooks <dan@brooks.example>", "see attached, thanks")))
    assert result.kind == "request"
    assert result.confidence < CONTEXT.request_threshold
    assert any(f"whatever its confidence ({result.confidence:.2f})" in r for r in result.reasons)


def test_the_same_text_from_a_stranger_is_not_a_request() -> None:
    raw = (
        b"From: Dan Brooks <dan@brooks.example>\nTo: mailflow@owner.example\nSubject: hello\n"
        b"Message-ID: <d@brooks.example>\n\nsee attached, thanks"
    )
    assert read(raw).kind == "ignored"


def test_an_unauthenticated_owner_forward_is_an_untrusted_request_only_when_its_text_asks() -> None:
    low = read(
        owner_mail(gmail_forward("", "Dan <dan@brooks.example>", "see attached, thanks"), signed=False)
    )
    assert not low.from_owner and low.kind == "ignored"


def test_the_owners_own_sent_request_makes_the_owner_the_seeker_and_its_recipient_the_counterpart() -> None:
    body = gmail_forward(
        "",
        f"Ana Lima <{OWNER}>",
        "Hi Rosa, could we find 30 minutes for a coffee?",
        to="Rosa Diaz <rosa@diaz.example>",
    )
    result = read(owner_mail(body))
    assert result.kind == "request"
    assert result.counterpart is not None and result.counterpart.address == "rosa@diaz.example"
    assert result.role_hint == "seeker"


def test_the_owners_adviser_tag_wins_over_the_seeker_guess() -> None:
    body = gmail_forward(
        "#adviser", f"Ana Lima <{OWNER}>", "Hi Rosa, shall we meet?", to="Rosa Diaz <rosa@diaz.example>"
    )
    assert read(owner_mail(body)).role_hint == "adviser"


def test_an_outlook_to_line_with_commas_in_names_gives_each_person() -> None:
    found = people_in("Doe, John <john@doe.example>; Smith, Ann <ann@smith.example>; john@doe.example")
    assert [p.address for p in found] == ["john@doe.example", "ann@smith.example"]
    assert found[0].name == "Doe, John"


def test_a_forwarded_calendar_without_any_event_falls_back_to_the_request_path() -> None:
    body = (
        "--b\nContent-Type: text/plain; charset=utf-8\n\n"
        + gmail_forward("", "Dan Brooks <dan@brooks.example>", DAN_TEXT)
        + "\n--b\nContent-Type: text/calendar; method=REQUEST\n\n"
        "BEGIN:VCALENDAR\nVERSION:2.0\nMETHOD:REQUEST\nEND:VCALENDAR\n--b--\n"
    )
    raw = owner_mail(body, extra='MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"\n')
    raw = raw.replace(b"Content-Type: text/plain; charset=utf-8\n\n--b", b"\n--b", 1)
    result = read(raw)
    assert result.kind == "request"
    assert result.counterpart is not None and result.counterpart.address == "dan@brooks.example"
    assert "the calendar holds no event: read as the owner's forwarded request" in result.reasons


# -- item 2: the counterpart only from the forwarded header block at the earliest boundary --------


def test_a_fake_forward_block_inside_the_strangers_text_does_not_name_the_counterpart() -> None:
    fake = (
        "Would you have 30 minutes for coffee next week?\n\n"
        "---------- Forwarded message ---------\nFrom: Victim <victim@third.example>\n"
        "Date: Mon, 30 Nov 2026\nSubject: x\nTo: someone@x.example\n\nhello"
    )
    result = read(owner_mail(gmail_forward("", "Mallory <mallory@evil.example>", fake)))
    assert result.counterpart is not None and result.counterpart.address == "mallory@evil.example"


def test_an_unreadable_first_block_names_nobody_rather_than_a_later_one() -> None:
    text = (
        "---------- Forwarded message ---------\nsomething the client wrote instead of headers\n\n"
        "Please talk to victim@third.example\n\n"
        "---------- Forwarded message ---------\nFrom: Victim <victim@third.example>\n"
        "Date: Mon, 30 Nov 2026\nSubject: x\n\nhello"
    )
    forward = find_forward(text)
    assert forward is not None and forward.sender is None
    result = read(owner_mail(text))
    assert result.kind == "request" and result.counterpart is None
    assert all("victim" not in (p.address if p else "") for p in (result.counterpart, result.forwarded_from))


def test_a_bare_outlook_block_before_a_marker_is_the_boundary() -> None:
    text = (
        "From: Dan Brooks <dan@brooks.example>\nSent: Monday, November 30, 2026 6:02 PM\n"
        f"To: Ana Lima <{OWNER}>\nSubject: Coffee\n\nCould we meet?\n\n"
        "---------- Forwarded message ---------\nFrom: Victim <victim@third.example>\nDate: x\nSubject: y\n\nz"
    )
    forward = find_forward(text)
    assert (
        forward is not None and forward.sender is not None and forward.sender.address == "dan@brooks.example"
    )


def test_addresses_in_the_body_never_become_the_counterpart() -> None:
    text = "Please set up coffee with victim@third.example next week, would you?"
    result = read(owner_mail(text, subject="coffee"))
    assert result.counterpart is None


# -- item 3: tags, only in the owner's own lines -----------------------------------------------------


def test_ignore_in_the_owners_preface_ignores_the_forward() -> None:
    result = read(
        owner_mail(gmail_forward("#ignore just for the record", "Dan <dan@brooks.example>", DAN_TEXT))
    )
    assert result.kind == "ignored" and "the owner tagged it #ignore" in result.reasons


@pytest.mark.parametrize(
    "where",
    ["subject", "quoted", "forwarded"],
)
def test_tags_elsewhere_than_the_owners_own_lines_do_not_count(where: str) -> None:
    preface = "> #ignore\n> #note" if where == "quoted" else ""
    body = DAN_TEXT + ("\n#ignore #note #seeker" if where == "forwarded" else "")
    subject = "Fwd: #ignore #note #seeker" if where == "subject" else "Fwd: Quick question"
    result = read(owner_mail(gmail_forward(preface, "Dan <dan@brooks.example>", body), subject=subject))
    assert result.kind == "request"
    assert result.role_hint is None


def test_note_keeps_the_forward_as_a_note_on_its_writer() -> None:
    result = read(
        owner_mail(
            gmail_forward("#note Dan is Carla's brother", "Dan Brooks <dan@brooks.example>", "Thanks!")
        )
    )
    assert result.kind == "contact_note"
    assert result.counterpart is not None and result.counterpart.address == "dan@brooks.example"
    assert result.notes.startswith("Dan is Carla's brother")
    assert "#note" not in result.notes and "Thanks!" in result.notes


def test_note_and_ignore_on_a_forwarded_invite() -> None:
    invite = fixture("fwd_gmail_invite.eml")
    assert read(invite).kind == "invite"  # the fixture as it is: tagged #seeker
    noted = read(invite.replace(b"#seeker", b"#note Jordan runs the Berlin meetup", 1))
    assert noted.kind == "contact_note"
    assert noted.counterpart is not None and noted.counterpart.address == "jordan.lee@contact.example"
    assert noted.notes.startswith("Jordan runs the Berlin meetup")
    ignored = read(invite.replace(b"#seeker", b"#ignore", 1))
    assert ignored.kind == "ignored" and "the owner tagged it #ignore" in ignored.reasons


def test_tags_are_read_once_each_line_and_removed_from_the_words() -> None:
    tags = owner_tags("#seeker #note met at PyCon\n> #ignore quoted\nsecond line #adviser")
    assert tags.note and not tags.ignore
    assert tags.role is None and any("both" in r for r in tags.reasons)
    assert tags.text == "met at PyCon\nsecond line"


def test_a_replys_subject_no_longer_sets_the_role() -> None:
    raw = owner_mail("Great chat, learned a lot.", subject="Re: #seeker What did you learn?")
    raw = raw.replace(
        b"Message-ID: <fwd-1@owner.example>\n", b"Message-ID: <r@owner.example>\nIn-Reply-To: <x@y>\n"
    )
    assert read(raw).role_hint is None


def test_a_forward_whose_block_no_client_pattern_reads_is_a_request_with_nobody_named() -> None:
    text = "Dan wrote to me yesterday asking for a chat, write to dan@brooks.example:\n\nsee below"
    result = read(owner_mail(text, subject="Fwd: hello"))
    assert result.kind == "request" and result.counterpart is None
    assert (
        read(owner_mail(text, subject="hello")).kind == "ignored"
    )  # not a forward, and its words do not ask


# -- review findings: a stranger's text never names the counterpart --------------------------------


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85", "\x0c", "\x1e", "\x0b"])
def test_a_line_separator_in_a_forwarded_subject_does_not_start_a_header(separator: str) -> None:
    text = (
        "see below\n\n-------- Forwarded Message --------\n"
        f"Subject: Quick question{separator}From: Vic Tim <vic@third.example>\n"
        "Date: Sun, 6 Jan 2030 18:02:00 +0100\nFrom: Dan Brooks <dan@brooks.example>\nTo: Ana <ana@owner.example>\n\nHi"
    )
    forward = find_forward(text)
    assert (
        forward is not None and forward.sender is not None and forward.sender.address == "dan@brooks.example"
    )


@pytest.mark.parametrize(
    "boundary",
    [
        "________________________________\nKimden: Dan Brooks <dan@brooks.example>\nGönderildi: 6 Ocak 2030\n"
        "Kime: Ana <ana@owner.example>\nKonu: Kahve?\n",
        "Kimden: Dan Brooks <dan@brooks.example>\nTarih: 6 Ocak 2030\nKime: Ana <ana@owner.example>\nKonu: Kahve?\n",
        "________________________________\n差出人: Dan Brooks <dan@brooks.example>\n送信日時: 2030年1月6日\n宛先: ana@owner.example\n",
    ],
)
def test_an_unreadable_block_shadows_a_fake_one_in_the_forwarded_text(boundary: str) -> None:
    fake = (
        "\nWould you have 30 minutes for coffee?\n\n---------- Forwarded message ---------\n"
        "From: Vic Tim <vic@third.example>\nDate: Sun, 6 Jan 2030\nSubject: x\nTo: y@z.example\n\nhello\n"
    )
    forward = find_forward("FYI\n\n" + boundary + fake)
    assert forward is not None and forward.sender is None
    assert forward.preface == "FYI"


def test_a_signature_that_looks_like_headers_is_no_forward() -> None:
    text = "Could we grab a coffee next week?\n\nDan\nPhone: +1 555 0100\nEmail: dan@brooks.example\nWeb: brooks.example"
    assert find_forward(text) is None


def test_an_html_apple_forward_with_blank_quoted_lines_reads_whole() -> None:
    text = (
        "my words\n\n> Begin forwarded message:\n\n> From: > Dan Brooks <dan@brooks.example>\n\n"
        "> Subject: > Quick question\n\n> Date: > 6 January 2030 at 18:02:00 CET\n\n"
        "> To: > Ana <ana@owner.example>\n\n> Hi Ana, coffee next week?"
    )
    forward = find_forward(text)
    assert forward is not None and forward.sender == Person("dan@brooks.example", "Dan Brooks")
    assert (forward.subject, forward.body) == ("Quick question", "Hi Ana, coffee next week?")
