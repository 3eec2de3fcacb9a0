"""A golden test of one follow-up proposal, as Outlook, Gmail and Apple Calendar will receive it."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from mailflow.compose import Proposal, build_proposal
from mailflow.model import Person

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"
BERLIN = ZoneInfo("Europe/Berlin")


def test_a_follow_up_proposal_matches_its_golden_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mailflow.compose.ics.PRODID", "-//mailflow//mailflow VERSION//EN")
    proposal = Proposal(
        key="7/follow_up/0",
        start=datetime(2024, 7, 22, 10, 0, tzinfo=BERLIN),
        end=datetime(2024, 7, 22, 10, 30, tzinfo=BERLIN),
        summary="Coffee: Ana / Ben",
        description="Ben Okafor proposes another coffee. Accept if the time suits you, or reply with another.",
        organizer=Person("ben@example.org", "Ben Okafor"),
        attendee=Person("ana.perez@acme.example", "Pérez, Ana"),
        sequence=0,
    )
    data = build_proposal(
        proposal, zone="Europe/Berlin", domain="example.org", now=datetime(2024, 7, 13, 8, 0, tzinfo=UTC)
    )
    path = GOLDEN / "proposal_request.ics"
    if os.environ.get("MAILFLOW_UPDATE_GOLDEN"):
        path.write_bytes(data)
    assert data == path.read_bytes()
    assert data.count(b"\r\n") == data.count(b"\n")  # CRLF line ends, as RFC 5545 requires
    assert all(len(line) <= 75 for line in data.split(b"\r\n"))  # folded
