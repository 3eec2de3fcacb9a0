"""The understanding layer reads mailflow's own invites correctly (the same instants, the right people)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from mailflow.compose import ComposeContext, ContactInfo, MeetingInfo, OwnerInfo, compose_step
from mailflow.config import Settings
from mailflow.understand import Context, understand

MID = "<mailflow.20240713T080000.00000000000000aa@example.org>"


@pytest.mark.parametrize(
    "zone", ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Santiago"]
)
@pytest.mark.parametrize("propose", ["request", "publish"])
def test_a_follow_up_proposal_is_understood_as_the_invite_it_is(zone: str, propose: str) -> None:
    tz = ZoneInfo(zone)
    start = datetime(2024, 10, 28, 9, 30, tzinfo=tz)
    settings = Settings(
        owner={"name": "Ben Okafor", "addresses": ["ben@example.org"], "timezone": zone},
        playbook={"follow_up": {"propose": propose}},
    )
    ctx = ComposeContext(
        owner=OwnerInfo("Ben Okafor", "ben@example.org", zone),
        contact=ContactInfo("Ana Pérez", "ana@example.com"),
        meeting=MeetingInfo("Coffee: Ana / Ben", start, start + timedelta(minutes=45)),
        role="adviser",
        follow_up_at=start + timedelta(days=60),
    )
    out = compose_step(
        "follow_up", ctx, settings, message_id=MID, key="7/follow_up/0", now=start + timedelta(days=60)
    )
    assert out.proposal is not None
    seen = understand(out.message.as_bytes(), dataclasses.replace(Context.from_settings(settings)))
    assert seen.kind == "invite", seen.reasons
    assert seen.method == ("REQUEST" if propose == "request" else "PUBLISH")
    assert seen.start == out.proposal.start and seen.end == out.proposal.end
    assert seen.uid.startswith("mailflow-proposal-") and seen.sequence == 0
    assert seen.organizer is not None and seen.organizer.address == "ben@example.org"
    assert seen.summary == "Coffee: Ana / Ben"
    if propose == "request":
        assert seen.counterpart is not None and seen.counterpart.address == "ana@example.com"
        assert {a.address for a in seen.attendees} == {"ana@example.com", "ben@example.org"}
