"""Inline forwards from every client and language, including a property test of the parser."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailflow.model import Person
from mailflow.understand.forwards import find_forward, forward_subject, person_in, strip_subject_prefixes
from tests.unit.understand_support import read

# client templates: marker and header lines the way each client writes them
TEMPLATES = {
    "gmail": "---------- Forwarded message ---------\nFrom: {name} <{address}>\nDate: Wed, Mar 5, 2025 at 4:12 PM\n"
    "Subject: {subject}\nTo: Ana Owner <ana@owner.example>\n\n\n{body}",
    "gmail_de": "---------- Weitergeleitete Nachricht ---------\nVon: {name} <{address}>\n"
    "Date: Mi., 5. März 2025 um 16:12 Uhr\nSubject: {subject}\nTo: <ana@owner.example>\n\n\n{body}",
    "outlook": "________________________________\nFrom: {name} <{address}>\nSent: Wednesday, March 5, 2025 4:12 PM\n"
    "To: Ana Owner <ana@owner.example>\nSubject: {subject}\n\n{body}",
    "outlook_old": "-----Original Message-----\nFrom: {name} [mailto:{address}]\nSent: Wednesday, March 05, 2025 4:12 PM\n"
    "To: Ana Owner\nSubject: {subject}\n\n{body}",
    "outlook_fr": "________________________________\nDe : {name} <{address}>\nEnvoyé : mercredi 5 mars 2025 16:12\n"
    "À : Ana Owner <ana@owner.example>\nObjet : {subject}\n\n{body}",
    "apple": "Begin forwarded message:\n\nFrom: {name} <{address}>\nSubject: {subject}\n"
    "Date: 5 March 2025 at 16:12:33 CET\nTo: Ana Owner <ana@owner.example>\n\n{body}",
    "apple_quoted": "Begin forwarded message:\n\n> From: {name} <{address}>\n> Subject: {subject}\n"
    "> Date: 5 March 2025 at 16:12:33 CET\n> To: ana@owner.example\n> \n> {body}",
    "thunderbird": "-------- Forwarded Message --------\nSubject: \t{subject}\nDate: \tWed, 5 Mar 2025 16:12:33 +0100\n"
    "From: \t{name} <{address}>\nTo: \tana@owner.example\n\n\n\n{body}",
    "thunderbird_fr": "-------- Message transféré --------\nSujet : \t{subject}\nDate : \tWed, 5 Mar 2025 16:12:33 +0100\n"
    "De : \t{name} <{address}>\nPour : \tana@owner.example\n\n{body}",
    "yahoo": "----- Forwarded Message -----\nFrom: {name} <{address}>\nTo: ana@owner.example\n"
    "Sent: Wednesday, March 5, 2025, 04:12:33 PM GMT+1\nSubject: {subject}\n\n{body}",
    "samsung": "-------- Original message --------\nFrom: {name} <{address}> \nDate: 3/5/25 16:12 (GMT+01:00) \n"
    "To: ana@owner.example \nSubject: {subject} \n\n{body}",
    "gmail_es": "---------- Mensaje reenviado ---------\nDe: {name} <{address}>\nDate: mié, 5 mar 2025 a las 16:12\n"
    "Subject: {subject}\nTo: <ana@owner.example>\n\n\n{body}",
    "outlook_nl": "________________________________\nVan: {name} <{address}>\nVerzonden: woensdag 5 maart 2025 16:12\n"
    "Aan: Ana Owner <ana@owner.example>\nOnderwerp: {subject}\n\n{body}",
}


@pytest.mark.parametrize("style", sorted(TEMPLATES))
def test_each_client_style(style: str) -> None:
    text = "Please handle #seeker\n\n" + TEMPLATES[style].format(
        name="Jordan Lee",
        address="jordan.lee@contact.example",
        subject="Coffee?",
        body="Would you have time?",
    )
    forward = find_forward(text)
    assert forward is not None, style
    assert forward.sender == Person("jordan.lee@contact.example", "Jordan Lee")
    assert forward.subject == "Coffee?"
    assert "Would you have time?" in forward.body
    assert forward.preface == "Please handle #seeker"
    assert forward.date_text


names = st.text(alphabet=string.ascii_letters + " .'-", min_size=1, max_size=30).map(str.strip).filter(bool)
locals_ = st.text(alphabet=string.ascii_lowercase + string.digits + "._", min_size=1, max_size=20).filter(
    lambda s: s[0] not in "._" and s[-1] not in "._" and ".." not in s
)
subjects = st.text(alphabet=string.ascii_letters + string.digits + " ?!,'-", min_size=1, max_size=60).map(
    str.strip
)
bodies = st.lists(
    st.text(alphabet=string.ascii_letters + string.digits + " ,.?!'", min_size=1, max_size=60),
    min_size=1,
    max_size=5,
).map(lambda lines: "\n".join(line.strip() or "x" for line in lines))


@settings(max_examples=60, deadline=None)
@given(style=st.sampled_from(sorted(TEMPLATES)), name=names, local=locals_, subject=subjects, body=bodies)
def test_forward_parser_recovers_what_was_forwarded(
    style: str, name: str, local: str, subject: str, body: str
) -> None:
    address = f"{local}@contact.example"
    text = TEMPLATES[style].format(name=name, address=address, subject=subject, body=body)
    forward = find_forward(text)
    assert forward is not None
    assert forward.sender is not None and forward.sender.address == address
    assert forward.subject == subject.strip()
    assert forward.body.split()[: len(body.split())] == body.split()


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=2000))
def test_forward_parser_never_raises(text: str) -> None:
    find_forward(text)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Jane Doe <jane@x.example>", Person("jane@x.example", "Jane Doe")),
        ('"Doe, Jane" <jane@x.example>', Person("jane@x.example", "Doe, Jane")),
        ("Jane Doe [mailto:jane@x.example]", Person("jane@x.example", "Jane Doe")),
        ("Jane Doe <jane@x.example<mailto:jane@x.example>>", Person("jane@x.example", "Jane Doe")),
        ("**Jane Doe** <jane@x.example>", Person("jane@x.example", "Jane Doe")),
        ("jane@x.example", Person("jane@x.example", "")),
        ("Jane Doe", None),
    ],
)
def test_person_in_forwarded_from_lines(value: str, expected: Person | None) -> None:
    assert person_in(value) == expected


def test_no_forward_in_ordinary_text() -> None:
    assert find_forward("Hi Ana,\nFrom: the team\nThanks") is None


@pytest.mark.parametrize("subject", ["Fwd: x", "FW: x", "WG: x", "TR: x", "RV: x", "Doorst: x", "[Fwd: x]"])
def test_forward_subjects(subject: str) -> None:
    assert forward_subject(subject)
    assert not forward_subject("Re: x")


def test_strip_subject_prefixes() -> None:
    assert strip_subject_prefixes("Re: AW: Fwd: WG:  Kaffee?") == "Kaffee?"


@pytest.mark.parametrize(
    ("name", "sender"),
    [
        ("fwd_gmail_request.eml", "jordan.lee@contact.example"),
        ("fwd_outlook_request_de.eml", "lena.mueller@kontakt.example"),
        ("fwd_apple_request_fr.eml", "camille.martin@contact.example"),
        ("fwd_thunderbird_request.eml", "dev.patel@contact.example"),
        ("fwd_iphone_request.eml", "chris.nguyen@outlook.example"),
        ("fwd_gmail_request_es.eml", "lucia.gomez@contact.example"),
        ("fwd_rfc822_request.eml", "tomasz.nowak@contact.example"),
    ],
)
def test_forwarded_requests_name_the_original_writer(name: str, sender: str) -> None:
    result = read(name)
    assert result.kind == "request", result.reasons
    assert result.forwarded and result.from_owner and result.trusted
    assert result.forwarded_from is not None and result.forwarded_from.address == sender
    assert result.counterpart is not None and result.counterpart.address == sender


def test_a_forward_as_attachment_keeps_the_originals_message_id() -> None:
    """Mail to the contact threads onto what they sent, never onto the owner's forward."""
    from datetime import UTC, datetime

    from mailflow.demo import samples
    from mailflow.understand import understand
    from tests.unit.understand_support import CONTEXT

    raw = samples.forwarded_outlook_invite(
        datetime(2031, 5, 6, 9, tzinfo=UTC), datetime(2031, 5, 1, 9, tzinfo=UTC)
    )
    u = understand(raw, CONTEXT)
    assert u.kind == "invite" and u.forwarded
    assert u.message_id == "<fwd-carla-1@mail.example.org>"
    assert u.original_message_id == "<DB9PR04MB8412C0FFEE@DB9PR04MB8412.eurprd04.prod.outlook.com>"
