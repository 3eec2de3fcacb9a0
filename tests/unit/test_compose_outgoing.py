"""compose_step: one step's whole mail, as the engine and `mailflow preview` get it."""

from __future__ import annotations

import dataclasses
import email
import email.policy
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from mailflow.compose import ComposeContext, ContactInfo, MeetingInfo, OwnerInfo, compose_step
from mailflow.config import Settings

BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2024, 5, 14, 10, 0, tzinfo=BERLIN)
FOLLOW_UP_AT = datetime(2024, 7, 13, 10, 0, tzinfo=BERLIN)
MID = "<mailflow.20240713T080000.00000000000000aa@example.org>"


def make_settings(**overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "owner": {
            "name": "Ben Okafor",
            "addresses": ["ben@example.org"],
            "timezone": "Europe/Berlin",
            "availability": "Mon-Fri 09:00-17:00",
        }
    }
    base.update(overrides)
    return Settings(**base)


def make_ctx(**changes: Any) -> ComposeContext:
    ctx = ComposeContext(
        owner=OwnerInfo("Ben Okafor", "ben@example.org", "Europe/Berlin"),
        contact=ContactInfo("Ana Pérez", "ana@example.com"),
        meeting=MeetingInfo(
            "Coffee: Ana / Ben", START, START + timedelta(minutes=45), subject="Could we grab coffee?"
        ),
        role="adviser",
        notes="Look at the Berlin product scene.",
        follow_up_at=FOLLOW_UP_AT,
    )
    return dataclasses.replace(ctx, **changes)


def reparse(msg: EmailMessage) -> EmailMessage:
    parsed = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def calendar_of(msg: EmailMessage, filename: str = "invite.ics") -> tuple[str, Calendar, Calendar]:
    """(method parameter, inline calendar, attached calendar)."""
    inline = next(p for p in msg.walk() if p.get_content_type() == "text/calendar")
    attached = next(p for p in msg.iter_attachments() if p.get_filename() == filename)
    return (
        str(inline.get_param("method")),
        Calendar.from_ical(inline.get_payload(decode=True)),
        Calendar.from_ical(attached.get_payload(decode=True)),
    )


def test_follow_up_proposes_the_next_coffee_as_a_request() -> None:
    out = compose_step(
        "follow_up", make_ctx(), make_settings(), message_id=MID, key="7/follow_up/0", now=FOLLOW_UP_AT
    )
    msg = reparse(out.message)
    method, inline, attached = calendar_of(msg)
    assert method == "REQUEST" and inline.to_ical() == attached.to_ical()
    event = inline.walk("VEVENT")[0]
    assert str(inline["METHOD"]) == "REQUEST"
    assert event["DTSTART"].dt == datetime(
        2024, 7, 22, 10, 0, tzinfo=BERLIN
    )  # a week on, a Monday, the old hour
    assert event["DTEND"].dt == datetime(2024, 7, 22, 10, 30, tzinfo=BERLIN)
    assert str(event["ORGANIZER"]) == "mailto:ben@example.org"
    attendees = {str(a): a.params for a in event["ATTENDEE"]}
    assert attendees["mailto:ana@example.com"]["RSVP"] == "TRUE"
    assert attendees["mailto:ana@example.com"]["PARTSTAT"] == "NEEDS-ACTION"
    assert "Monday 22 July 2024, 10:00–10:30 CEST (Europe/Berlin)" in out.rendered.text
    assert out.proposal is not None and out.proposal.start == datetime(2024, 7, 22, 10, 0, tzinfo=BERLIN)
    assert msg["To"] == "Ana Pérez <ana@example.com>" and msg["Auto-Submitted"] is None


def test_the_proposal_uid_is_stable_and_the_stamp_moves() -> None:
    first = compose_step(
        "follow_up", make_ctx(), make_settings(), message_id=MID, key="7/follow_up/0", now=FOLLOW_UP_AT
    )
    later = FOLLOW_UP_AT + timedelta(hours=5)
    second = compose_step(
        "follow_up", make_ctx(), make_settings(), message_id=MID, key="7/follow_up/0", now=later
    )
    other = compose_step(
        "follow_up", make_ctx(), make_settings(), message_id=MID, key="8/follow_up/0", now=later
    )
    events = [calendar_of(reparse(o.message))[1].walk("VEVENT")[0] for o in (first, second, other)]
    assert str(events[0]["UID"]) == str(events[1]["UID"]) != str(events[2]["UID"])
    assert events[0]["DTSTAMP"].dt < events[1]["DTSTAMP"].dt


def test_the_contact_reads_the_proposal_in_their_own_zone() -> None:
    ctx = make_ctx(contact=ContactInfo("Ana Pérez", "ana@example.com", timezone="America/New_York"))
    out = compose_step("follow_up", ctx, make_settings(), message_id=MID, key="k", now=FOLLOW_UP_AT)
    assert "Monday 22 July 2024, 04:00–04:30 EDT (America/New_York)" in out.rendered.text


def test_publish_and_none() -> None:
    publish = make_settings(playbook={"follow_up": {"propose": "publish"}})
    out = compose_step("follow_up", make_ctx(), publish, message_id=MID, key="k", now=FOLLOW_UP_AT)
    method, inline, _ = calendar_of(reparse(out.message))
    assert method == "PUBLISH" and "ATTENDEE" not in inline.walk("VEVENT")[0]
    none = make_settings(playbook={"follow_up": {"propose": "none"}})
    out = compose_step("follow_up", make_ctx(), none, message_id=MID, key="k", now=FOLLOW_UP_AT)
    assert out.calendar is None and out.proposal is None
    assert out.message.get_content_type() == "text/plain" and "attached" not in out.rendered.text


def test_proposal_length_comes_from_the_settings() -> None:
    settings = make_settings(playbook={"follow_up": {"proposal_length": "1h"}})
    out = compose_step("follow_up", make_ctx(), settings, message_id=MID, key="k", now=FOLLOW_UP_AT)
    assert out.proposal is not None and out.proposal.end - out.proposal.start == timedelta(hours=1)


def test_take_action_puts_two_reminders_in_the_owners_calendar() -> None:
    end = START + timedelta(minutes=45)
    out = compose_step(
        "take_action",
        make_ctx(role="seeker"),
        make_settings(),
        message_id=MID,
        key="7/take_action/0",
        now=end + timedelta(days=1),
    )
    msg = reparse(out.message)
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["From"] == "mailflow <ben@example.org>" and msg["To"] == "Ben Okafor <ben@example.org>"
    method, inline, _ = calendar_of(msg, "reminders.ics")
    assert method == "PUBLISH"
    events = inline.walk("VEVENT")
    assert [e["DTSTART"].dt for e in events] == [datetime(2024, 5, 17, 9, 0, tzinfo=BERLIN), FOLLOW_UP_AT]
    assert all(e.walk("VALARM") for e in events)
    assert "Friday 17 May 2024: your one action is done" in out.rendered.text
    assert msg.get_body(("html",)) is not None


def test_mail_to_the_contact_is_the_owners_and_threads_onto_the_request() -> None:
    out = compose_step(
        "prep_request",
        make_ctx(),
        make_settings(),
        message_id=MID,
        key="k",
        in_reply_to="<req-1@example.com>",
        references=["<req-1@example.com>"],
        now=START - timedelta(days=3),
    )
    msg = reparse(out.message)
    assert msg["From"] == "Ben Okafor <ben@example.org>" and msg["Reply-To"] is None
    assert msg["Subject"] == "Re: Could we grab coffee?"
    assert msg["In-Reply-To"] == "<req-1@example.com>" and msg["References"] == "<req-1@example.com>"
    assert msg["Date"] == "Sat, 11 May 2024 10:00:00 +0200"  # the owner's offset


def test_a_separate_sending_address_keeps_replies_going_to_the_owner() -> None:
    settings = make_settings(
        smtp={"host": "smtp.example.org", "from_address": "mailflow@example.org"},
        mailbox={"username": "mailflow@example.org"},
    )
    to_contact = reparse(compose_step("thank_you", make_ctx(), settings, message_id=MID, key="k").message)
    assert to_contact["From"] == "Ben Okafor <mailflow@example.org>"
    assert to_contact["Reply-To"] == "Ben Okafor <ben@example.org>"
    settings = make_settings(mailbox={"username": "notes@example.org"})
    to_owner = reparse(compose_step("summary_prompt", make_ctx(), settings, message_id=MID, key="k").message)
    assert to_owner["Reply-To"] == "mailflow <notes@example.org>"


def test_no_owner_address_is_a_configuration_error() -> None:
    from mailflow.errors import ConfigError

    ctx = make_ctx(owner=OwnerInfo("Ben", ""))
    with pytest.raises(ConfigError, match=r"owner\.addresses"):
        compose_step("thank_you", ctx, Settings(), message_id=MID, key="k")


def test_the_date_header_is_now_in_the_owners_offset() -> None:
    out = compose_step(
        "thank_you",
        make_ctx(),
        make_settings(),
        message_id=MID,
        key="k",
        now=datetime(2024, 5, 14, 13, 0, tzinfo=UTC),
    )
    assert out.message["Date"] == "Tue, 14 May 2024 15:00:00 +0200"
