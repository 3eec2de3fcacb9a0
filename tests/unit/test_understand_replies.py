"""Replies to mailflow's mail: matching, the owner's notes, contacts' answers, and what is not a reply."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailflow.understand import Context, understand
from mailflow.understand.replies import do_not_contact, own_text, reply_target
from mailflow.understand.roles import role_hint
from tests.unit.understand_support import CONTEXT, read

OURS = {"<step-1@m.example>", "<step-2@m.example>"}


def test_in_reply_to_wins_over_references() -> None:
    assert (
        reply_target(["<step-2@m.example>"], ["<step-1@m.example>"], OURS.__contains__)
        == "<step-2@m.example>"
    )


def test_references_newest_first() -> None:
    refs = ["<other@x>", "<step-1@m.example>", "<step-2@m.example>", "<later@x>"]
    assert reply_target(["<unknown@x>"], refs, OURS.__contains__) == "<step-2@m.example>"


def test_a_failing_lookup_does_not_break_matching() -> None:
    def lookup(message_id: str) -> bool:
        if message_id == "<bad@x>":
            raise RuntimeError("database hiccup")
        return message_id == "<step-1@m.example>"

    assert reply_target(["<bad@x>"], ["<step-1@m.example>"], lookup) == "<step-1@m.example>"


def test_context_uses_the_store_callable_else_the_domain() -> None:
    by_domain = Context(message_id_domain="m.example")
    assert by_domain.is_ours("<anything@m.example>") and not by_domain.is_ours("<x@other.example>")
    by_store = Context(message_id_domain="m.example", is_our_message_id=lambda m: m == "<x@other.example>")
    assert by_store.is_ours("<x@other.example>") and not by_store.is_ours("<anything@m.example>")


@pytest.mark.parametrize(
    "quote",
    [
        "On Tue, Mar 11, 2025 at 3:31 PM mailflow <mailflow@owner.example> wrote:\n> question",
        "Am Di., 11. März 2025 um 15:31 Uhr schrieb mailflow <mailflow@owner.example>:\n> Frage",
        "Le mar. 11 mars 2025 à 15:31, mailflow <mailflow@owner.example> a écrit :\n> question",
        "El mar, 11 mar 2025 a las 15:31, mailflow (<mailflow@owner.example>) escribió:\n> pregunta",
        "-----Original Message-----\nFrom: mailflow\nSent: Tuesday\nquestion",
        "________________________________\nFrom: mailflow <mailflow@owner.example>\nSent: Tuesday, March 11\nquestion",
        "From: mailflow <mailflow@owner.example>\nSent: Tuesday, March 11, 2025 3:31 PM\nTo: Ana\nquestion",
        "> question\n> more",
        "-- \nAna Owner\nProduct Lead",
        "Sent from my iPhone",
        "Von meinem iPhone gesendet",
    ],
)
def test_own_text_drops_quotes_and_signatures(quote: str) -> None:
    assert own_text(f"Went well, follow up in May.\n\n{quote}") == "Went well, follow up in May."


lines = st.lists(
    st.text(alphabet=string.ascii_letters + string.digits + " ,.!?'#", min_size=1, max_size=70)
    .map(str.strip)
    .filter(
        lambda s: (
            s and not s.startswith(("--", "__")) and not s.lower().startswith(("on ", "sent ", "am ", "le "))
        )
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=80, deadline=None)
@given(written=lines, quoted=lines)
def test_own_text_keeps_what_was_written_and_drops_the_quote(written: list[str], quoted: list[str]) -> None:
    text = "\n".join(written) + "\n\nOn Mon, 3 Mar 2025 at 09:00, mailflow <m@x.example> wrote:\n"
    text += "\n".join("> " + line for line in quoted)
    assert own_text(text) == "\n".join(written)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=3000))
def test_reply_parsers_never_raise(text: str) -> None:
    own_text(text)
    do_not_contact(text)
    role_hint(text)


@pytest.mark.parametrize(
    ("text", "wish"),
    [
        ("Please stop emailing me.", True),
        ("Don't contact me again.", True),
        ("Unsubscribe", True),
        ("Bitte keine E-Mails mehr.", True),
        ("Merci de ne plus me contacter.", False),  # not a phrase we know; precision over recall
        ("Ne me contactez plus.", True),
        ("Thanks, see you Tuesday!", False),
        ("See you Tuesday.\n\nOn Mon wrote:\n> To stop these emails, reply unsubscribe", False),
    ],
)
def test_do_not_contact(text: str, wish: bool) -> None:
    assert bool(do_not_contact(text)) is wish


@pytest.mark.parametrize(
    ("text", "role"),
    [("#adviser", "adviser"), ("#Advisor please", "adviser"), ("#seeker", "seeker"), ("a#seeker", None),
     ("#adviser #seeker", None), ("no tag", None)],
)  # fmt: skip
def test_role_hint(text: str, role: str | None) -> None:
    assert role_hint(text)[0] == role


def test_contact_reply_keeps_attachments_with_safe_names() -> None:
    result = read("reply_contact_resume.eml")
    assert result.kind == "contact_reply"
    assert result.replied_to == "<step-12.prep_request@mailflow.owner.example>"
    assert [a.filename for a in result.attachments] == ["Jordan Lee résumé.pdf", "notes.pdf", "notes (2).pdf"]
    assert result.attachments[0].data.startswith(b"%PDF")
    assert result.do_not_contact is False  # "unsubscribe" only appears in the quoted text
    assert result.counterpart is not None and result.counterpart.address == "jordan.lee@contact.example"
    assert result.to_json()["attachments"][0] == {
        "filename": "Jordan Lee résumé.pdf",
        "content_type": "application/pdf",
        "size": len(result.attachments[0].data),
    }


def test_contact_asking_to_stop() -> None:
    result = read("reply_contact_stop.eml")
    assert (result.kind, result.do_not_contact) == ("contact_reply", True)


def test_owner_notes_are_stripped_and_tagged() -> None:
    result = read("reply_owner_notes.eml")
    assert result.kind == "owner_notes"
    assert result.from_owner and result.role_hint == "adviser"
    assert result.notes == (
        "Great conversation. Jordan is strong on analytics, weak on stakeholder\n"
        "management. Send him the roadmap article. #adviser"
    )


def test_forged_owner_reply_is_ignored() -> None:
    result = read("reply_owner_forged.eml")
    assert result.kind == "ignored" and not result.from_owner and result.notes == ""


@pytest.mark.parametrize(
    ("name", "why"),
    [("auto_reply_ooo.eml", "automatic reply"), ("own_copy.eml", "copy of mail mailflow sent")],
)
def test_not_replies(name: str, why: str) -> None:
    result = read(name)
    assert result.kind == "ignored"
    assert any(why in r for r in result.reasons)


def test_out_of_office_subject_alone_is_an_auto_reply() -> None:
    mail = (
        b"From: jo@contact.example\nSubject: Out of Office: Re: coffee\n"
        b"In-Reply-To: <step-9@mailflow.owner.example>\n\nI am away."
    )
    assert understand(mail, CONTEXT).kind == "ignored"


def test_mail_from_mailflows_own_address_is_ignored() -> None:
    mail = b"From: mailflow@owner.example\nSubject: x\nMessage-ID: <1@elsewhere.example>\n\nhello"
    assert understand(mail, CONTEXT).kind == "ignored"
