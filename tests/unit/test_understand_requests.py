"""Plain meeting requests: confidence with reasons, proposed times resolved, none invented."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailflow.understand import understand
from mailflow.understand.requests import score
from mailflow.understand.when import loose_date, proposed_times
from tests.unit.understand_support import CONTEXT, fixture, read

BERLIN = ZoneInfo("Europe/Berlin")
# Monday 3 March 2025, 09:00 in Berlin
WRITTEN = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)


def at(text: str) -> list[str]:
    return [t.astimezone(UTC).strftime("%Y-%m-%d %H:%M") for t in proposed_times(text, WRITTEN, BERLIN)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Would Tuesday at 3pm work?", ["2025-03-04 14:00"]),
        ("How about Monday at 10:00?", ["2025-03-10 09:00"]),  # Monday written on a Monday: next week
        ("next Friday 9:30am", ["2025-03-07 08:30"]),
        ("tomorrow at noon", ["2025-03-04 11:00"]),
        ("March 12 at 2pm ET", ["2025-03-12 18:00"]),
        ("on the 12th of March, 14:00", ["2025-03-12 13:00"]),
        ("2025-04-01 16:30", ["2025-04-01 14:30"]),
        ("Dienstag um 14 Uhr", ["2025-03-04 13:00"]),
        ("am 4.3. um 10:15", ["2025-03-04 09:15"]),
        ("jeudi 13 mars à 10h30", ["2025-03-13 09:30"]),
        ("Thursday between 2 and 4pm", ["2025-03-06 13:00"]),
        ("Tuesday 2-3pm PT", ["2025-03-04 22:00"]),
        ("Tuesday at 3pm or Thursday at 9am", ["2025-03-04 14:00", "2025-03-06 08:00"]),
        # never invented: a time without a day, a day without a time, a past date, a greeting
        ("Could we talk at 3pm?", []),
        ("Are you free on Tuesday?", []),
        ("We met on March 1 at 10am.", []),
        ("Guten Morgen! Um 14 Uhr habe ich einen Termin.", []),
        ("Version 1.2 costs 30 dollars", []),
    ],
)
def test_proposed_times(text: str, expected: list[str]) -> None:
    assert at(text) == expected


@settings(max_examples=80, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Nd",)), max_size=300))
def test_no_digits_no_days_means_no_times(text: str) -> None:
    """Without a digit there is no clock time (except noon), so no time is ever invented."""
    for found in proposed_times(text, WRITTEN, BERLIN):
        assert found.hour == 12 and found.minute == 0


@settings(max_examples=80, deadline=None)
@given(st.text(max_size=500))
def test_proposed_times_never_raise_and_are_in_the_future(text: str) -> None:
    for found in proposed_times(text, WRITTEN, BERLIN):
        assert found > WRITTEN and found.tzinfo is not None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Wed, Mar 5, 2025 at 4:12 PM", datetime(2025, 3, 5, 16, 12, tzinfo=BERLIN)),
        ("Mittwoch, 5. März 2025 10:02", datetime(2025, 3, 5, 10, 2, tzinfo=BERLIN)),
        ("6 mars 2025 à 11:20:05 UTC+1", datetime(2025, 3, 6, 11, 20, tzinfo=BERLIN)),
        ("yesterday", None),
    ],
)
def test_loose_date(text: str, expected: datetime | None) -> None:
    assert loose_date(text, BERLIN) == expected


def test_score_names_its_reasons() -> None:
    result = score("Would you have 30 minutes for an informational interview about your career?")
    assert result.confidence >= 0.6
    assert any("informational interview" in r for r in result.reasons)


@pytest.mark.parametrize(
    "text",
    [
        "Hi, are you available to speak now?",
        "URGENT: please call me asap about the invoice payment",
        "Would you have 15 minutes for a quick call? Our platform doubles your leads. Book a demo. Unsubscribe here.",
        "Let's grab coffee sometime!",
    ],
)
def test_spam_like_or_contextless_mail_stays_below_threshold(text: str) -> None:
    assert score(text).confidence < CONTEXT.request_threshold


@pytest.mark.parametrize(
    ("name", "times"),
    [
        # written Mon 3 Mar 2025 08:30 -05:00; Tuesday 3pm Berlin; Thursday 6 March 10:00 ET (-05:00)
        ("request_direct.eml", ["2025-03-04T14:00:00+00:00", "2025-03-06T15:00:00+00:00"]),
        # forwarded text written Wed 5 Mar 16:12: "tomorrow at 9:30am", "Monday, March 10 at 2pm"
        ("fwd_gmail_request.eml", ["2025-03-06T08:30:00+00:00", "2025-03-10T13:00:00+00:00"]),
        # written Wed 5 Mar: "Dienstag um 14 Uhr" is Tuesday 11 March
        ("fwd_outlook_request_de.eml", ["2025-03-11T13:00:00+00:00"]),
        ("fwd_apple_request_fr.eml", ["2025-03-13T09:30:00+00:00"]),
        # "Friday, March 14 at 4pm PT": PDT began on 9 March (-07:00)
        ("fwd_iphone_request.eml", ["2025-03-14T23:00:00+00:00"]),
        ("fwd_rfc822_request.eml", ["2025-03-12T10:00:00+00:00", "2025-03-13T14:00:00+00:00"]),
        ("fwd_thunderbird_request.eml", []),
    ],
)
def test_request_fixtures(name: str, times: list[str]) -> None:
    result = read(name)
    assert result.kind == "request", result.reasons
    assert result.confidence >= CONTEXT.request_threshold
    assert [t.astimezone(UTC).isoformat() for t in result.proposed_times] == times


def test_direct_request_from_a_stranger_is_untrusted_with_its_link() -> None:
    result = read("request_direct.eml")
    assert (result.from_owner, result.trusted, result.forwarded) == (False, False, False)
    assert result.counterpart is not None and result.counterpart.name == "Lee, Jordan"
    assert result.meeting_url == "https://us06web.zoom.us/j/81234567890"


@pytest.mark.parametrize("name", ["spam_available_now.eml", "spam_sales_pitch.eml", "newsletter.eml"])
def test_spam_fixtures_are_ignored_with_their_confidence(name: str) -> None:
    result = read(name)
    assert result.kind == "ignored"
    assert result.confidence < CONTEXT.request_threshold
    assert any("not a meeting request" in r for r in result.reasons)


def test_threshold_comes_from_the_context() -> None:
    raw = read("fwd_iphone_request.eml")
    assert raw.kind == "request"
    strict = understand(fixture("fwd_iphone_request.eml"), replace(CONTEXT, request_threshold=0.9))
    assert strict.kind == "ignored"


def test_request_without_any_date_proposes_nothing() -> None:
    mail = b"From: jo@contact.example\nSubject: Coffee?\n\nWould you have 30 minutes for a coffee chat tomorrow at 10am?"
    result = understand(mail, CONTEXT)
    assert result.kind == "request" and result.proposed_times == ()
    assert any("no date" in r for r in result.reasons)
