"""Finding calendar parts and text in any MIME shape, charset and transfer encoding."""

from __future__ import annotations

import base64

import pytest

from mailflow.understand import mime

CAL = "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:x\r\nSUMMARY:Caf\u00e9\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"


def message(content_type: str, payload: str, headers: str = "") -> bytes:
    return (
        "From: a@b.example\nSubject: s\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="b"\n\n--b\n'
        f"Content-Type: {content_type}\n{headers}\n{payload}\n--b--\n"
    ).encode()


@pytest.mark.parametrize(
    ("content_type", "headers"),
    [
        ("text/calendar; method=REQUEST; charset=utf-8", ""),
        ("TeXt/CaLeNdAr; method=REQUEST", ""),
        ("application/ics; name=invite.ics", ""),
        ("text/x-vcalendar", ""),
        ('application/octet-stream; name="Add_to_calendar.ics"', ""),
        ('text/plain; name="BAHN.ics"', ""),
        ("application/octet-stream", 'Content-Disposition: attachment; filename="meeting.ICS"\n'),
    ],
)
def test_calendar_found_in_every_wrapping(content_type: str, headers: str) -> None:
    parts = mime.calendar_parts(mime.parse(message(content_type, CAL, headers)))
    assert len(parts) == 1
    assert "UID:x" in parts[0].text


def test_plain_text_mentioning_a_calendar_is_not_one() -> None:
    assert mime.calendar_parts(mime.parse(message("text/plain", CAL))) == []


@pytest.mark.parametrize("encoding", ["base64", "quoted-printable", "8bit"])
def test_any_transfer_encoding(encoding: str) -> None:
    if encoding == "base64":
        payload = base64.encodebytes(CAL.encode()).decode()
    elif encoding == "quoted-printable":
        payload = CAL.replace("\u00e9", "=C3=A9")
    else:
        payload = CAL
    raw = message("text/calendar; charset=utf-8", payload, f"Content-Transfer-Encoding: {encoding}\n")
    parts = mime.calendar_parts(mime.parse(raw))
    assert "SUMMARY:Caf\u00e9" in parts[0].text


def test_method_parameter_is_upper_cased() -> None:
    parts = mime.calendar_parts(mime.parse(message("text/calendar; method=request", CAL)))
    assert parts[0].mime_method == "REQUEST"


def test_duplicates_across_parts_count_once() -> None:
    raw = (
        'From: a@b.example\nContent-Type: multipart/mixed; boundary="b"\n\n'
        f"--b\nContent-Type: text/calendar\n\n{CAL}\n--b\nContent-Type: application/ics\n"
        f"Content-Transfer-Encoding: base64\n\n{base64.encodebytes(CAL.encode()).decode()}\n--b--\n"
    ).encode()
    assert len(mime.calendar_parts(mime.parse(raw))) == 1


def test_calendar_inside_attached_message_is_marked_forwarded() -> None:
    inner = f"From: c@d.example\nContent-Type: text/calendar\n\n{CAL}"
    raw = message("message/rfc822", inner)
    parts = mime.calendar_parts(mime.parse(raw))
    assert parts and parts[0].forwarded


@pytest.mark.parametrize(
    ("data", "charset", "text", "noted"),
    [
        ("Caf\u00e9".encode(), "utf-8", "Caf\u00e9", False),
        ("Caf\u00e9".encode("latin-1"), "iso-8859-1", "Caf\u00e9", False),
        ("Caf\u00e9".encode(), "iso-8859-1", "Caf\u00e9", False),  # mislabelled UTF-8
        ("Caf\u00e9".encode("cp1252"), "utf-8", "Caf\u00e9", True),
        ("Caf\u00e9".encode(), "x-no-such-charset", "Caf\u00e9", False),
        (b"\xff\xfe!", None, "\u00ff\u00fe!", True),
    ],
)
def test_decode_bytes_falls_back(data: bytes, charset: str | None, text: str, noted: bool) -> None:
    decoded, note = mime.decode_bytes(data, charset)
    assert decoded == text
    assert bool(note) is noted


def test_bare_calendar_detection() -> None:
    assert mime.bare_calendar(b"\xef\xbb\xbf\r\nBEGIN:VCALENDAR\r\nEND:VCALENDAR") is not None
    assert mime.bare_calendar(b"From: a@b\n\nBEGIN:VCALENDAR") is None


def test_body_prefers_plain_text_and_ignores_attachments() -> None:
    raw = (
        b'From: a@b.example\nContent-Type: multipart/mixed; boundary="b"\n\n'
        b'--b\nContent-Type: multipart/alternative; boundary="c"\n\n'
        b"--c\nContent-Type: text/plain\n\nplain words\n--c\nContent-Type: text/html\n\n<p>html words</p>\n--c--\n"
        b'--b\nContent-Type: text/plain; name="notes.txt"\nContent-Disposition: attachment\n\nattached words\n--b--\n'
    )
    assert mime.body_text(mime.parse(raw)).strip() == "plain words"


def test_html_to_text_keeps_structure_and_quotes() -> None:
    text = mime.html_to_text(
        "<html><head><style>p{}</style></head><body><p>Hi&nbsp;Ana,</p><div>Line two<br>three</div>"
        '<blockquote>quoted</blockquote><a href="https://x.example/a">link</a><script>evil()</script></body></html>'
    )
    assert "Hi Ana," in text and "Line two\nthree" in text
    assert "> quoted" in text and "<https://x.example/a>" in text
    assert "evil" not in text and "p{}" not in text


def test_attachments_get_safe_unique_names_and_are_bounded() -> None:
    raw = (
        'From: a@b.example\nContent-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/plain\n\nhi\n'
        '--b\nContent-Type: application/pdf\nContent-Disposition: attachment; filename="../../etc/passwd"\n\nAAAA\n'
        '--b\nContent-Type: application/pdf\nContent-Disposition: attachment; filename="passwd"\n\nBBBB\n'
        '--b\nContent-Type: application/zip\nContent-Disposition: attachment; filename="big.zip"\n\n'
        + "C" * 200
        + "\n--b--\n"
    ).encode()
    kept, skipped = mime.attachments(mime.parse(raw), max_bytes=100)
    assert [a.filename for a in kept] == ["passwd", "passwd (2)"]
    assert len(skipped) == 1 and "big.zip" in skipped[0]


def test_walk_is_bounded() -> None:
    parts = "".join("--b\nContent-Type: text/plain\n\nx\n" for _ in range(mime.MAX_PARTS + 50))
    raw = f'From: a@b.example\nContent-Type: multipart/mixed; boundary="b"\n\n{parts}--b--\n'.encode()
    assert sum(1 for _ in mime.walk(mime.parse(raw))) == mime.MAX_PARTS


def test_looks_like_mail() -> None:
    assert mime.looks_like_mail(mime.parse(b"Subject: hi\n\nbody"))
    assert not mime.looks_like_mail(mime.parse(b"\x00\x01 random bytes \xff"))
