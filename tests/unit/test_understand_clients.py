"""Invites from every major calendar client: each start checked against a hand-computed UTC instant."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from tests.unit.understand_support import read


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# file, kind, UTC start (worked out by hand from the TZID/offsets in the file), zone, counterpart
CASES = [
    # Google: DTSTART in UTC (Z)
    ("google_invite.eml", "invite", "2025-03-11T14:00", "UTC", "jordan.lee@contact.example"),
    ("google_update.eml", "update", "2025-03-12T15:30", "UTC", "jordan.lee@contact.example"),
    ("google_cancel.eml", "cancel", "2025-03-12T15:30", "UTC", "jordan.lee@contact.example"),
    # Outlook desktop: W. Europe Standard Time, 2 April is summer time (+02:00) -> 09:30 - 2h
    (
        "outlook_desktop_invite.eml",
        "invite",
        "2025-04-02T07:30",
        "Europe/Berlin",
        "mira.okafor@contact.example",
    ),
    # "Customized Time Zone" with US Eastern rules: 10 March is the day after DST began (-04:00)
    (
        "outlook_customized_zone.eml",
        "invite",
        "2025-03-10T13:00",
        "Customized Time Zone",
        "dev.patel@contact.example",
    ),
    # Outlook.com: Pacific Standard Time, 5 March is before DST (9 March) -> -08:00
    (
        "outlookcom_invite.eml",
        "invite",
        "2025-03-05T16:30",
        "America/Los_Angeles",
        "chris.nguyen@outlook.example",
    ),
    # Exchange on-premises display name; 3 November 2025 is the day after DST ended -> -05:00
    (
        "exchange_onprem_invite.eml",
        "invite",
        "2025-11-03T16:00",
        "America/New_York",
        "rhale@corp.contact.example",
    ),
    # Teams: GMT Standard Time in June is BST (+01:00)
    ("teams_invite.eml", "invite", "2025-06-18T13:00", "Europe/London", "priya.shah@contact.example"),
    # Exchange cancels one occurrence: Romance Standard Time in April is +02:00
    (
        "exchange_cancel_occurrence.eml",
        "cancel",
        "2025-04-16T15:00",
        "Europe/Paris",
        "luc.bernard@contact.example",
    ),
    ("outlook_counter.eml", "counter", "2025-04-03T12:00", "Europe/Berlin", "mira.okafor@contact.example"),
    # iCloud: America/Los_Angeles in April is PDT (-07:00); the organizer is an imip.me.com relay
    ("icloud_invite.eml", "invite", "2025-04-15T17:00", "America/Los_Angeles", "sam.rivera@icloud.com"),
    ("icloud_relay_only.eml", "invite", "2025-04-15T17:00", "America/Los_Angeles", "sam.rivera@icloud.com"),
    # Zoom: America/Chicago in May is CDT (-05:00)
    ("zoom_invite.eml", "invite", "2025-05-20T17:00", "America/Chicago", "marcus.webb@contact.example"),
    ("calendly_invite.eml", "invite", "2025-03-25T16:30", "UTC", "priya.shah@contact.example"),
    # Thunderbird, organized by the owner: Europe/Berlin 27 March is still winter time (+01:00)
    (
        "thunderbird_owner_invite.eml",
        "invite",
        "2025-03-27T17:00",
        "Europe/Berlin",
        "tomasz.nowak@contact.example",
    ),
    # Yahoo: America/New_York in July is EDT (-04:00)
    ("yahoo_invite.eml", "invite", "2025-07-08T12:30", "America/New_York", "dana.kim@yahoo.example"),
    ("yahoo_cancel.eml", "cancel", "2025-07-08T12:30", "America/New_York", "dana.kim@yahoo.example"),
    # weekly from 8 Jan, mailed 20 Feb: 26 Feb is excluded, 5 March is moved to 09:00 (+01:00)
    ("google_recurring.eml", "invite", "2025-03-05T08:00", "Europe/Berlin", "jordan.lee@contact.example"),
    # floating 15:00 read in the owner's zone (Europe/Berlin, June: +02:00)
    ("floating_time.eml", "invite", "2025-06-10T13:00", "Europe/Berlin", "alex.moreau@contact.example"),
    # X-WR-TIMEZONE Asia/Kolkata (+05:30)
    ("xwr_timezone.eml", "invite", "2025-09-10T05:00", "Asia/Kolkata", "rahul.iyer@contact.example"),
    ("google_reply_accepted.eml", "reply", "2025-03-11T14:00", "UTC", "jordan.lee@contact.example"),
    # a mail that is nothing but text/calendar; Europe/Berlin in July (+02:00)
    ("bare_text_calendar.eml", "invite", "2025-07-08T15:00", "Europe/Berlin", "kim.lo@contact.example"),
    # forwarded by the owner: a Gmail forward with invite.ics, an Outlook forward as message/rfc822
    ("fwd_gmail_invite.eml", "invite", "2025-03-20T17:00", "UTC", "jordan.lee@contact.example"),
    (
        "fwd_outlook_rfc822_invite.eml",
        "invite",
        "2025-04-01T08:00",
        "Europe/Berlin",
        "lena.mueller@kontakt.example",
    ),
]


@pytest.mark.parametrize(("name", "kind", "start", "zone", "counterpart"), CASES, ids=[c[0] for c in CASES])
def test_client_invite(name: str, kind: str, start: str, zone: str, counterpart: str) -> None:
    result = read(name)
    assert result.kind == kind, result.reasons
    assert result.start is not None and result.start.utcoffset() is not None
    assert result.start.astimezone(UTC) == utc(start)
    assert result.timezone == zone
    assert result.counterpart is not None and result.counterpart.address == counterpart
    assert result.end is not None and result.end > result.start
    assert result.uid


def test_google_invite_details() -> None:
    result = read("google_invite.eml")
    assert result.method == "REQUEST"
    assert result.meeting_url == "https://meet.google.com/kqz-wdpf-ame"
    assert result.summary == "Coffee chat: Jordan / Ana"
    assert result.organizer is not None and result.organizer.name == "Jordan Lee"
    assert {a.address: a.partstat for a in result.attendees} == {
        "jordan.lee@contact.example": "ACCEPTED",
        "ana@owner.example": "NEEDS-ACTION",
    }
    assert result.other_events == ()  # the same invite as text/calendar and invite.ics counts once
    assert result.sent_at == datetime(2025, 3, 4, 9, 15, 2, tzinfo=UTC)


def test_update_and_cancel_carry_sequence_and_stamp() -> None:
    update, cancel = read("google_update.eml"), read("google_cancel.eml")
    assert update.uid == cancel.uid
    assert (update.sequence, cancel.sequence) == (1, 2)
    assert cancel.status == "CANCELLED"
    assert update.dtstamp is not None and cancel.dtstamp is not None and cancel.dtstamp > update.dtstamp


def test_teams_link_comes_from_the_x_property() -> None:
    result = read("teams_invite.eml")
    assert result.meeting_url.startswith("https://teams.microsoft.com/l/meetup-join/19%3ameeting_")
    assert result.location == "Microsoft Teams Meeting"


def test_zoom_link_and_octet_stream_attachment() -> None:
    result = read("zoom_invite.eml")
    assert result.meeting_url == "https://us02web.zoom.us/j/84512367890?pwd=bFhQa2ZxTXJ3cE9SUm1kZz09"


def test_exchange_single_occurrence_cancel_without_master() -> None:
    result = read("exchange_cancel_occurrence.eml")
    assert result.recurrence_id == "2025-04-16T15:00:00+00:00"
    assert result.recurring is True
    assert result.sequence == 3
    assert any("series itself is not in this message" in r for r in result.reasons)


def test_recurring_series_reports_next_occurrence() -> None:
    result = read("google_recurring.eml")
    assert result.recurring is True
    assert result.recurrence_id == ""  # the message is about the series, not one occurrence
    assert result.summary == "Weekly mentoring"


def test_counter_proposes_the_new_time() -> None:
    result = read("outlook_counter.eml")
    assert result.proposed_times == (result.start,)


def test_all_day_event_has_a_date_not_a_time() -> None:
    result = read("icloud_allday.eml")
    assert result.all_day is True
    assert (result.start, result.date, result.end_date) == (None, date(2025, 5, 2), date(2025, 5, 3))
    assert result.to_json()["date"] == "2025-05-02"


def test_floating_time_says_why() -> None:
    assert any("floating" in r and "owner's zone" in r for r in read("floating_time.eml").reasons)


def test_customized_zone_says_it_used_the_inline_definition() -> None:
    assert any("inline definition" in r for r in read("outlook_customized_zone.eml").reasons)


def test_owner_organized_invite_with_mailflow_attending() -> None:
    result = read("thunderbird_owner_invite.eml")
    assert result.from_owner and result.trusted
    assert result.role_hint == "seeker"
    assert result.meeting_url == "https://meet.jit.si/ana-and-friends-4411"


def test_several_other_attendees_leave_the_counterpart_open() -> None:
    result = read("owner_group_invite.eml")
    assert result.counterpart is None
    assert any("mailflow meeting counterpart" in r for r in result.reasons)


def test_invite_from_a_stranger_is_not_trusted() -> None:
    result = read("calendly_invite.eml")
    assert (result.from_owner, result.trusted) == (False, False)


def test_forwarded_invites_are_marked_and_keep_the_organizer_as_counterpart() -> None:
    cases = (
        ("fwd_gmail_invite.eml", "seeker", "jordan.lee@contact.example"),
        ("fwd_outlook_rfc822_invite.eml", "adviser", "lena.mueller@kontakt.example"),
    )
    for name, role, writer in cases:
        result = read(name)
        assert result.forwarded, name
        assert result.from_owner, name
        assert result.role_hint == role, name
        assert result.forwarded_from is not None and result.forwarded_from.address == writer, name


def test_dsn_wrapping_an_invite_is_not_an_invite() -> None:
    result = read("dsn_wrapping_invite.eml")
    assert result.kind == "ignored"
    assert result.start is None
    assert result.replied_to == "<step-41.follow_up@mailflow.owner.example>"
    assert any("bounce" in r for r in result.reasons)
