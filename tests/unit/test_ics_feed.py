"""The subscription feed: upcoming meetings and pending steps in one calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar

from mailflow.compose import FeedMeeting, FeedStep, build_feed
from mailflow.compose.htmltext import html_to_text

BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2024, 5, 14, 10, 0, tzinfo=BERLIN)
NOW = datetime(2024, 5, 1, tzinfo=UTC)


def feed() -> Calendar:
    meetings = [
        FeedMeeting(
            "m1",
            "Coffee: Ana / Ben",
            "Pérez, Ana",
            start=START,
            end=START + timedelta(minutes=45),
            location="Café",
            role="adviser",
        ),
        FeedMeeting("m2", "", "carl@example.com", day=date(2024, 6, 3)),
        FeedMeeting("m3", "No time yet", "dora@example.com"),  # a request without a time: nothing to show
    ]
    steps = [
        FeedStep("m1/thank_you/0", "thank_you", "Pérez, Ana", due=START + timedelta(hours=3), mode="draft"),
        FeedStep("m1/follow_up/0", "follow_up", "Pérez, Ana", due=START + timedelta(days=60), mode="draft"),
    ]
    return Calendar.from_ical(
        build_feed(meetings, steps, zone="Europe/Berlin", domain="example.org", now=NOW)
    )


def test_the_feed_lists_meetings_and_pending_steps() -> None:
    cal = feed()
    events = cal.walk("VEVENT")
    assert [str(e["SUMMARY"]) for e in events] == [
        "Coffee: Ana / Ben",
        "Meeting with carl@example.com",
        "Thank-you to Ana Pérez",
        "Follow-up to Ana Pérez",
    ]
    assert events[0]["DTSTART"].dt == START and str(events[0]["LOCATION"]) == "Café"
    assert "You are the adviser." in str(events[0]["DESCRIPTION"])
    assert events[1]["DTSTART"].dt == date(2024, 6, 3) and events[1]["DTEND"].dt == date(2024, 6, 4)
    assert "saved as a draft (pending)" in str(events[2]["DESCRIPTION"])
    assert all(str(e["TRANSP"]) == "TRANSPARENT" for e in events)  # never makes the owner look busy
    assert str(cal["X-WR-CALNAME"]) == "mailflow" and str(cal["METHOD"]) == "PUBLISH"


def test_feed_uids_are_stable_and_never_the_invites_own() -> None:
    first = [str(e["UID"]) for e in feed().walk("VEVENT")]
    assert first == [str(e["UID"]) for e in feed().walk("VEVENT")]
    assert len(set(first)) == len(first)
    assert all(uid.startswith("mailflow-") and uid.endswith("@example.org") for uid in first)


def test_an_empty_feed_is_still_a_calendar() -> None:
    cal = Calendar.from_ical(build_feed([], [], zone="UTC", domain="example.org", now=NOW))
    assert cal.walk("VEVENT") == [] and str(cal["VERSION"]) == "2.0"


def test_html_to_text_keeps_paragraphs_lists_links_and_preformatted_notes() -> None:
    html = (
        "<html><head><style>p{}</style></head><body><p>Hello,\n  world</p>"
        "<ul>\n<li>one</li>\n<li><a href='https://x.example'>two</a></li>\n</ul>"
        "<blockquote style='white-space: pre-wrap'>line 1\nline 2</blockquote>&amp; done</body></html>"
    )
    assert (
        html_to_text(html) == "Hello, world\n\n- one\n- two <https://x.example>\n\nline 1\nline 2\n& done\n"
    )
