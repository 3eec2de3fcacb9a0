"""The default templates: every one renders, and each says what the routine asks of it."""

from __future__ import annotations

import dataclasses

import pytest

from mailflow.compose import ComposeContext, check_templates, render, sample_context
from mailflow.compose.context import ContactInfo, first_name, reply_subject
from mailflow.compose.htmltext import html_to_text
from mailflow.config import STEPS, Settings
from mailflow.resources import default_templates_dir

ROLES = ("seeker", "adviser")


@pytest.fixture
def settings() -> Settings:
    return Settings(
        owner={"name": "Ben Okafor", "addresses": ["ben@example.org"], "timezone": "Europe/Berlin"}
    )


def ctx_for(settings: Settings, role: str, *, notes: bool, proposal: bool = False) -> ComposeContext:
    return dataclasses.replace(sample_context(settings, notes=notes, proposal=proposal), role=role)  # type: ignore[arg-type]


@pytest.mark.parametrize("notes", [False, True], ids=["no-notes", "notes"])
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("step", STEPS)
def test_every_default_template_renders(settings: Settings, step: str, role: str, notes: bool) -> None:
    rendered = render(step, role, ctx_for(settings, role, notes=notes), settings)
    assert rendered.subject and "\n" not in rendered.subject
    assert rendered.text.endswith("\n") and "\n\n\n" not in rendered.text
    assert "{{" not in rendered.text and "{%" not in rendered.text
    if rendered.html is not None:
        assert "<p>" in rendered.html and "{{" not in rendered.html


def test_check_templates_finds_nothing_wrong_with_the_defaults(settings: Settings) -> None:
    assert check_templates(settings) == []


def test_defaults_exist_for_every_step() -> None:
    names = {p.name for p in default_templates_dir().iterdir()}
    for step in STEPS:
        assert f"{step}.txt" in names or {f"{step}.seeker.txt", f"{step}.adviser.txt"} <= names


def test_adviser_prep_request_asks_for_resume_and_what_they_hope_to_get(settings: Settings) -> None:
    text = render("prep_request", "adviser", ctx_for(settings, "adviser", notes=False), settings).text
    assert "résumé" in text and "samples of your work" in text
    for goal in ("job", "career path", "feedback on an idea", "decision"):
        assert goal in text


def test_seeker_homework_brief_covers_goal_questions_and_story(settings: Settings) -> None:
    settings = settings.model_copy(
        update={"owner": settings.owner.model_copy(update={"story": "I build tools."})}
    )
    rendered = render("homework_brief", "seeker", ctx_for(settings, "seeker", notes=False), settings)
    text = rendered.text
    assert "SAY WHAT YOU ARE LOOKING FOR" in text and "SMART QUESTIONS" in text and "YOUR STORY" in text
    assert "> I build tools." in text
    assert "linkedin.com" in text and "Ana Pérez CV.pdf" in text
    assert "Suggested I talk to Priya." in text  # notes of the earlier meeting
    assert rendered.html is not None and "I build tools." in html_to_text(rendered.html)


def test_seeker_homework_brief_without_a_story_asks_for_one(settings: Settings) -> None:
    text = render("homework_brief", "seeker", ctx_for(settings, "seeker", notes=False), settings).text
    assert "under 250 words" in text


def test_summary_prompt_asks_for_the_most_valuable_insights(settings: Settings) -> None:
    text = render("summary_prompt", "seeker", ctx_for(settings, "seeker", notes=False), settings).text
    assert "most valuable insights" in text and "reply to this mail" in text


@pytest.mark.parametrize("role", ROLES)
def test_thank_you_uses_the_notes_when_there_are_some(settings: Settings, role: str) -> None:
    with_notes = render("thank_you", role, ctx_for(settings, role, notes=True), settings).text
    without = render("thank_you", role, ctx_for(settings, role, notes=False), settings).text
    assert "Talk to the product team before applying" in with_notes
    assert "product team" not in without


def test_take_action_quotes_the_notes_and_asks_for_one_action_within_the_deadline(settings: Settings) -> None:
    rendered = render("take_action", "seeker", ctx_for(settings, "seeker", notes=True), settings)
    assert "> - Talk to the product team before applying" in rendered.text
    assert "Pick one of these and act on it by Friday 17 May 2024" in rendered.text
    assert rendered.html is not None and "&#34;Inspired&#34;" in rendered.html  # escaped in HTML


def test_take_action_without_notes_asks_for_them(settings: Settings) -> None:
    text = render("take_action", "seeker", ctx_for(settings, "seeker", notes=False), settings).text
    assert "have not written down" in text


def test_follow_up_asks_what_resonated_and_proposes_the_next_coffee(settings: Settings) -> None:
    text = render(
        "follow_up", "adviser", ctx_for(settings, "adviser", notes=False, proposal=True), settings
    ).text
    assert "resonated with you" in text
    assert "how about a coffee on Saturday 20 July 2024, 10:00–10:30 CEST (Europe/Berlin)?" in text
    plain = render("follow_up", "adviser", ctx_for(settings, "adviser", notes=False), settings).text
    assert "attached" not in plain


def test_stay_in_touch_has_one_template_for_both_roles(settings: Settings) -> None:
    seeker = render("stay_in_touch", "seeker", ctx_for(settings, "seeker", notes=False), settings)
    adviser = render("stay_in_touch", "adviser", ctx_for(settings, "adviser", notes=False), settings)
    assert seeker.template == adviser.template == "default template stay_in_touch.txt"
    assert seeker.text != adviser.text


def test_dates_are_written_in_the_readers_zone_with_the_zone_named(settings: Settings) -> None:
    ctx = dataclasses.replace(ctx_for(settings, "adviser", notes=False), reader_timezone="America/New_York")
    text = render("prep_request", "adviser", ctx, settings).text
    assert "Tuesday 14 May 2024, 04:00–04:45 EDT (America/New_York)" in text


def test_a_contact_without_a_name_is_greeted_kindly(settings: Settings) -> None:
    ctx = dataclasses.replace(
        ctx_for(settings, "adviser", notes=False), contact=ContactInfo("", "x@example.com")
    )
    text = render("prep_request", "adviser", ctx, settings).text
    assert text.startswith("Hi there,")


def test_reply_subject_threads_requests_but_not_calendar_notifications() -> None:
    assert reply_subject("Fwd: RE: Could we grab coffee?") == "Re: Could we grab coffee?"
    assert reply_subject("Invitation: Coffee @ Tue 14 May 2024 10am (ana@example.com)") == ""
    assert reply_subject("Updated invitation: Coffee") == ""
    assert reply_subject("") == ""


@pytest.mark.parametrize(
    ("name", "first"),
    [
        ("Ana Pérez", "Ana"),
        ("Pérez, Ana", "Ana"),
        ("Ana Pérez, PhD", "Ana"),
        ("ana@example.com", ""),
        ("", ""),
    ],
)
def test_first_name(name: str, first: str) -> None:
    assert first_name(name) == first
