"""Calendar addresses in every notation, and whom the meeting is with."""

from __future__ import annotations

import pytest
from icalendar import vCalAddress

from mailflow.model import Attendee, Person
from mailflow.understand.links import find_meeting_url, meeting_url
from mailflow.understand.people import attendees_of, calendar_address, choose_counterpart, normalise_address

OURS = frozenset({"ana@owner.example", "mailflow@owner.example"})


def address(value: str, **params: str) -> vCalAddress:
    prop = vCalAddress(value)
    for key, item in params.items():
        prop.params[key] = item
    return prop


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("mailto:Jane.Doe@Example.COM", "jane.doe@example.com"),
        ("MAILTO:jane@example.com", "jane@example.com"),
        ("jane@example.com", "jane@example.com"),
        ("CN=ORGANIZER:mailto:webmaster@trenitalia.example", "webmaster@trenitalia.example"),
        ("mailto: jane@exa mple.com", "jane@example.com"),
        ("mailto:", ""),
        ("not an address", ""),
    ],
)
def test_normalise_address(value: str, expected: str) -> None:
    assert normalise_address(value) == expected


def test_email_parameter_replaces_icloud_relay() -> None:
    prop = address("mailto:2_ABCDEF@imip.me.com", CN="Sam Rivera", EMAIL="Sam.Rivera@icloud.com")
    assert calendar_address(prop) == ("sam.rivera@icloud.com", "Sam Rivera")


def test_email_parameter_does_not_replace_a_real_address() -> None:
    prop = address("mailto:real@example.com", EMAIL="other@example.com")
    assert calendar_address(prop)[0] == "real@example.com"


def test_name_repeating_the_address_is_dropped_and_quotes_removed() -> None:
    assert calendar_address(address("mailto:bob@example.org", CN="bob@example.org"))[1] == ""
    assert calendar_address(address("mailto:bob@example.org", CN="'Bob Smith'"))[1] == "Bob Smith"


def test_attendees_once_each_without_rooms() -> None:
    props = [
        address("mailto:A@x.example", PARTSTAT="accepted"),
        address("mailto:a@x.example"),
        address("mailto:room@x.example", CUTYPE="ROOM"),
        address("mailto:"),
    ]
    assert attendees_of(props) == (Attendee("a@x.example", "", "ACCEPTED", ""),)


def test_counterpart_is_the_organizer_when_not_the_owner() -> None:
    organizer = Person("jo@contact.example", "Jo")
    person, why = choose_counterpart(organizer, [Attendee("ana@owner.example")], OURS)
    assert person == organizer and "organizer" in why


def test_counterpart_is_the_single_other_attendee_when_the_owner_organizes() -> None:
    attendees = [
        Attendee("ana@owner.example"),
        Attendee("jo@contact.example", "Jo"),
        Attendee("mailflow@owner.example"),
    ]
    person, _ = choose_counterpart(Person("ana@owner.example"), attendees, OURS)
    assert person == Person("jo@contact.example", "Jo")


def test_several_others_mean_no_counterpart() -> None:
    attendees = [Attendee("jo@contact.example"), Attendee("kim@contact.example")]
    person, why = choose_counterpart(Person("ana@owner.example"), attendees, OURS)
    assert person is None and "2 attendees" in why


def test_nobody_else_means_no_counterpart() -> None:
    person, why = choose_counterpart(None, [Attendee("ana@owner.example")], OURS)
    assert person is None and "nobody" in why


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Join: https://meet.google.com/abc-defg-hij.", "https://meet.google.com/abc-defg-hij"),
        ("Click <https://teams.microsoft.com/l/meetup-join/19%3ameeting_X%40thread.v2/0?context=%7b%7d>",
         "https://teams.microsoft.com/l/meetup-join/19%3ameeting_X%40thread.v2/0?context=%7b%7d"),
        ("https://us02web.zoom.us/j/123456789?pwd=abc", "https://us02web.zoom.us/j/123456789?pwd=abc"),
        ("https://acme.webex.com/acme/j.php?MTID=m123", "https://acme.webex.com/acme/j.php?MTID=m123"),
        ("https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fmeet.google.com%2Fabc-defg-hij&data=1",
         "https://meet.google.com/abc-defg-hij"),
        ("see https://example.com/page", ""),
    ],
)  # fmt: skip
def test_find_meeting_url(text: str, expected: str) -> None:
    assert find_meeting_url(text) == expected


def test_meeting_url_order_properties_then_location_then_texts() -> None:
    props = (("X-MICROSOFT-SKYPETEAMSMEETINGURL", "https://teams.microsoft.com/l/meetup-join/abc"),)
    assert meeting_url(props, "https://zoom.us/j/1", []) == "https://teams.microsoft.com/l/meetup-join/abc"
    assert meeting_url((), "Room 4", ["Join https://zoom.us/j/77"]) == "https://zoom.us/j/77"
    assert meeting_url((), "https://visio.example.fr/room", []) == "https://visio.example.fr/room"
    assert meeting_url((), "Café Einstein", ["no link"]) == ""
